//! Worker shards: how the LAC's state is split across cores.
//!
//! DESIGN.md ("Memory and concurrency budget"): sessions are sharded across
//! cores by a hash of the subscriber key so that each core's tables stay
//! private and the per-packet path takes no lock. A [`Shard`] is one
//! worker's slice of the id spaces it allocates from:
//!
//! * PPPoE Session IDs (RFC 2516 §4): a worker hands out only ids with
//!   `id % count == index`, so an id is unique on the interface across all
//!   workers, as operators and access switches expect;
//! * L2TP Tunnel IDs (RFC 2661 §3.1, "local significance only"): the same
//!   rule, which is what lets the kernel steer a datagram from an LNS to the
//!   worker owning the tunnel by looking at the Tunnel ID alone
//!   ([`crate::dataplane::steer`]).
//!
//! Subscribers themselves are steered by a hash of their MAC address, so
//! discovery, negotiation and data of one subscriber all reach one worker.

/// One worker's slice of the shared id spaces: ids `n` with
/// `n % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u16,
    count: u16,
}

impl Default for Shard {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl Shard {
    /// The only worker: owns every id.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Worker `index` of `count`; `None` unless `index < count`.
    pub const fn new(index: u16, count: u16) -> Option<Self> {
        if index < count {
            Some(Self { index, count })
        } else {
            None
        }
    }

    /// This worker's position, from 0.
    pub const fn index(self) -> u16 {
        self.index
    }

    /// How many workers share the id spaces.
    pub const fn count(self) -> u16 {
        self.count
    }

    /// Whether `id` is this worker's to allocate.
    pub const fn owns(self, id: u16) -> bool {
        id % self.count == self.index
    }

    /// This worker's share of a limit that spans all workers, rounded up
    /// so that no worker gets zero of a non-zero limit.
    pub const fn share_of(self, limit: u32) -> u32 {
        limit.div_ceil(self.count as u32)
    }

    /// [`Self::share_of`] for sizes.
    pub const fn share_of_usize(self, limit: usize) -> usize {
        limit.div_ceil(self.count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_exactly_one_owner() {
        for count in 1..=8u16 {
            let shards: Vec<Shard> = (0..count).filter_map(|i| Shard::new(i, count)).collect();
            assert_eq!(shards.len(), usize::from(count));
            for id in 0..=u16::MAX {
                assert_eq!(shards.iter().filter(|s| s.owns(id)).count(), 1, "id {id}");
            }
        }
        assert_eq!(Shard::new(2, 2), None);
        assert!((0..=u16::MAX).all(|id| Shard::WHOLE.owns(id)));
    }

    #[test]
    fn limits_are_split_rounding_up() {
        let shard = Shard::new(1, 3).expect("valid");
        assert_eq!(shard.share_of(10), 4);
        assert_eq!(shard.share_of(1), 1);
        assert_eq!(shard.share_of(0), 0);
        assert_eq!(Shard::WHOLE.share_of_usize(7), 7);
    }
}
