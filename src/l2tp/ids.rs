//! Random, non-zero, unique Tunnel and Session IDs (RFC 2661 §3.1, §4.4.3,
//! §4.4.4).
//!
//! "Tunnel ID ... L2TP tunnels are named by identifiers that have local
//! significance only"; "Session ID ... L2TP sessions are named by
//! identifiers that have local significance only" (§3.1). The value 0 is
//! special in both: a Tunnel ID of 0 addresses a peer that has not told us
//! its id yet (SCCRQ), a Session ID of 0 addresses the tunnel itself. So an
//! assigned id is never 0, never one in use, and — so that a stale or forged
//! packet is unlikely to hit a live tunnel or session — drawn at random.

use std::collections::HashMap;
use std::hash::BuildHasher;

use rand::RngExt;
use rand::rngs::StdRng;

/// How many random draws are tried before falling back to a scan.
const RANDOM_ATTEMPTS: usize = 16;

/// Picks a random id in `1..=u16::MAX` that `in_use` does not hold, or
/// `None` when all 65,535 are taken.
///
/// A few random draws find a free id quickly while the space is sparse;
/// when it is dense, a scan from a random starting point still finds one in
/// bounded time (at most 65,535 probes).
pub fn allocate<V, S: BuildHasher>(rng: &mut StdRng, in_use: &HashMap<u16, V, S>) -> Option<u16> {
    allocate_with(rng, |id| in_use.contains_key(&id))
}

/// [`allocate`] with an arbitrary "is this id taken" predicate.
pub fn allocate_with(rng: &mut StdRng, mut taken: impl FnMut(u16) -> bool) -> Option<u16> {
    for _ in 0..RANDOM_ATTEMPTS {
        let id: u16 = rng.random();
        if id != 0 && !taken(id) {
            return Some(id);
        }
    }
    let start: u16 = rng.random();
    (0..=u16::MAX)
        .map(|step| start.wrapping_add(step))
        .find(|&id| id != 0 && !taken(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ids_are_non_zero_and_unique_until_the_space_is_full() {
        let mut rng = StdRng::from_seed([7; 32]);
        let mut in_use = HashMap::new();
        for _ in 0..u16::MAX {
            let id = allocate(&mut rng, &in_use).expect("space left");
            assert_ne!(id, 0);
            assert!(in_use.insert(id, ()).is_none(), "id {id} handed out twice");
        }
        assert_eq!(allocate(&mut rng, &in_use), None);
        in_use.remove(&4242);
        assert_eq!(allocate(&mut rng, &in_use), Some(4242));
    }

    #[test]
    fn the_same_seed_gives_the_same_ids() {
        let draw = |seed| {
            let mut rng = StdRng::from_seed([seed; 32]);
            (0..8)
                .map(|_| allocate_with(&mut rng, |_| false))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
