//! IPv6 prefix pools of the LNS (`[[lns.ipv6_pool]]`), sans-IO.
//!
//! A pool is a prefix carved into prefixes of one length: e.g.
//! `2001:db8:100::/40` into /56s for DHCPv6 prefix delegation (named by
//! RADIUS's Delegated-IPv6-Prefix-Pool, RFC 6911 §3.4), or into /64s for
//! the prefix advertised on the PPP link (Framed-IPv6-Pool, RFC 3162
//! §2.6). [`Ipv6Pools`] tracks every prefix handed out, whichever source
//! it came from, as [`crate::lns::pool::Pools`] does for IPv4:
//!
//! - a prefix is never given to two sessions: one RADIUS names
//!   (Framed-IPv6-Prefix, RFC 3162 §2.3; Delegated-IPv6-Prefix, RFC 4818
//!   §3) that falls in a pool is taken from it ([`Ipv6Pools::reserve`]),
//!   and one already in use is refused, as is one outside the pools that
//!   overlaps another session's ([`Pool6Error::Overlaps`]);
//! - a prefix goes back at session end ([`Ipv6Pools::release`]) and is
//!   handed out again as late as possible: never-used prefixes go first,
//!   then released ones oldest first, so a departed subscriber's prefix
//!   does not reach the next one while routes elsewhere still point at it;
//! - an exhausted pool refuses with a cause that names it
//!   ([`Pool6Error::Exhausted`]), counted per pool ([`Ipv6PoolStats`]);
//! - a reload may change pools ([`Ipv6Pools::reconfigure`]); leases
//!   survive.
//!
//! Nothing is allocated up front: a /40 in /64s holds 2^24 prefixes, so a
//! pool is a cursor over the never-used prefixes, a queue of released
//! ones and the set of leased ones; memory grows with the leases, not
//! the pool. A pool holds at most 2^[`MAX_POOL_BITS`] prefixes (the
//! configuration refuses more).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

/// A pool holds at most 2^32 prefixes (`length - prefix length ≤ 32`).
pub const MAX_POOL_BITS: u8 = 32;

/// One pool's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6PoolConfig {
    /// The name RADIUS's Framed-IPv6-Pool or Delegated-IPv6-Prefix-Pool
    /// uses.
    pub name: String,
    /// The prefix carved up, e.g. `2001:db8:100::/40`.
    pub prefix: Ipv6Net,
    /// The length of the prefixes handed out, e.g. 56.
    pub length: u8,
}

/// Why no prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pool6Error {
    /// No `[[lns.ipv6_pool]]` has this name.
    #[error("no IPv6 pool named {0:?}")]
    UnknownPool(String),
    /// Every prefix of the pool is in use.
    #[error("IPv6 pool {0:?} is exhausted")]
    Exhausted(String),
    /// The prefix RADIUS gave is another session's.
    #[error("prefix {0} is already in use")]
    InUse(Ipv6Net),
    /// The prefix RADIUS gave overlaps another session's static prefix.
    #[error("prefix {prefix} overlaps {leased}, already in use")]
    Overlaps {
        /// The prefix asked for.
        prefix: Ipv6Net,
        /// The leased prefix it overlaps.
        leased: Ipv6Net,
    },
    /// The prefix RADIUS gave has host bits set, or lies in a pool whose
    /// prefixes have another length (it would overlap several leases).
    #[error("prefix {0} cannot be assigned to a subscriber")]
    Unusable(Ipv6Net),
}

/// A pool's figures, for metrics and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6PoolStats {
    /// Its name.
    pub name: String,
    /// Prefixes it can hand out.
    pub size: u64,
    /// Prefixes in use.
    pub used: u64,
    /// Allocations refused because it was full.
    pub exhausted: u64,
}

/// Where a leased prefix came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease6 {
    /// From pool number `pool` (position in the configuration).
    Pool(usize),
    /// From RADIUS, outside every pool.
    Static,
}

#[derive(Debug)]
struct Pool6 {
    config: Ipv6PoolConfig,
    size: u64,
    /// Prefixes below this index have been handed out at least once.
    fresh: u64,
    /// Released indices, oldest first (may hold indices leased again by
    /// a reservation since: skipped when popped).
    free: VecDeque<u64>,
    leased: HashSet<u64>,
    exhausted: u64,
}

impl Pool6 {
    fn new(config: Ipv6PoolConfig) -> Self {
        let bits = config
            .length
            .saturating_sub(config.prefix.prefix_len())
            .min(MAX_POOL_BITS);
        let size = if config.length < config.prefix.prefix_len() || config.length > 128 {
            0
        } else {
            1u64 << bits
        };
        Self {
            config,
            size,
            fresh: 0,
            free: VecDeque::new(),
            leased: HashSet::new(),
            exhausted: 0,
        }
    }

    fn shift(&self) -> u32 {
        128 - u32::from(self.config.length.min(128))
    }

    /// The index of `prefix` when it is one of this pool's prefixes.
    fn index_of(&self, prefix: &Ipv6Net) -> Option<u64> {
        if prefix.prefix_len() != self.config.length || !self.config.prefix.contains(prefix) {
            return None;
        }
        let offset = u128::from(prefix.network()) - u128::from(self.config.prefix.network());
        let index = u64::try_from(offset.checked_shr(self.shift()).unwrap_or(0)).ok()?;
        (index < self.size).then_some(index)
    }

    fn prefix_of(&self, index: u64) -> Option<Ipv6Net> {
        let offset = u128::from(index).checked_shl(self.shift())?;
        let network = u128::from(self.config.prefix.network()).checked_add(offset)?;
        Ipv6Net::new(Ipv6Addr::from(network), self.config.length).ok()
    }

    /// Whether `prefix` overlaps this pool at all.
    fn overlaps(&self, prefix: &Ipv6Net) -> bool {
        self.config.prefix.contains(prefix) || prefix.contains(&self.config.prefix)
    }

    fn allocate(&mut self) -> Option<Ipv6Net> {
        while self.fresh < self.size {
            let index = self.fresh;
            self.fresh += 1;
            if self.leased.insert(index) {
                return self.prefix_of(index);
            }
        }
        while let Some(index) = self.free.pop_front() {
            if self.leased.insert(index) {
                return self.prefix_of(index);
            }
        }
        None
    }

    fn release(&mut self, index: u64) {
        if self.leased.remove(&index) && index < self.fresh {
            self.free.push_back(index);
        }
    }
}

/// Every IPv6 pool of the LNS and every prefix leased.
#[derive(Debug, Default)]
pub struct Ipv6Pools {
    pools: Vec<Pool6>,
    by_name: HashMap<String, usize>,
    leases: HashMap<Ipv6Net, Lease6>,
    /// The static leases, ordered, to find overlaps.
    statics: BTreeSet<Ipv6Net>,
}

impl Ipv6Pools {
    /// Pools from `configs` (validated by the configuration: lengths
    /// within range, names unique, no overlap).
    pub fn new(configs: Vec<Ipv6PoolConfig>) -> Self {
        let mut pools = Self::default();
        pools.reconfigure(configs);
        pools
    }

    /// Applies a new configuration (a reload); every lease stays valid
    /// until released. A lease the new configuration no longer covers
    /// is kept as a static lease.
    pub fn reconfigure(&mut self, configs: Vec<Ipv6PoolConfig>) {
        let exhausted: HashMap<String, u64> = self
            .pools
            .iter()
            .map(|p| (p.config.name.clone(), p.exhausted))
            .collect();
        self.pools = configs.into_iter().map(Pool6::new).collect();
        self.by_name = self
            .pools
            .iter()
            .enumerate()
            .map(|(index, pool)| (pool.config.name.clone(), index))
            .collect();
        for pool in &mut self.pools {
            pool.exhausted = exhausted.get(&pool.config.name).copied().unwrap_or(0);
        }
        let leased: Vec<Ipv6Net> = self.leases.keys().copied().collect();
        self.statics.clear();
        for prefix in leased {
            let lease = self.mark(&prefix).unwrap_or(Lease6::Static);
            if lease == Lease6::Static {
                self.statics.insert(prefix);
            }
            self.leases.insert(prefix, lease);
        }
    }

    /// Marks `prefix` leased in the pool that holds it.
    fn mark(&mut self, prefix: &Ipv6Net) -> Option<Lease6> {
        self.pools.iter_mut().enumerate().find_map(|(index, pool)| {
            let bit = pool.index_of(prefix)?;
            pool.leased.insert(bit);
            Some(Lease6::Pool(index))
        })
    }

    /// A prefix from the pool named `name`.
    pub fn allocate(&mut self, name: &str) -> Result<Ipv6Net, Pool6Error> {
        let index = *self
            .by_name
            .get(name)
            .ok_or_else(|| Pool6Error::UnknownPool(name.to_owned()))?;
        let Some(pool) = self.pools.get_mut(index) else {
            return Err(Pool6Error::UnknownPool(name.to_owned()));
        };
        match pool.allocate() {
            Some(prefix) => {
                self.leases.insert(prefix, Lease6::Pool(index));
                Ok(prefix)
            }
            None => {
                pool.exhausted += 1;
                Err(Pool6Error::Exhausted(name.to_owned()))
            }
        }
    }

    /// Leases the prefix RADIUS named: taken from its pool when one
    /// holds it, a static lease otherwise.
    pub fn reserve(&mut self, prefix: Ipv6Net) -> Result<Lease6, Pool6Error> {
        if prefix != prefix.trunc() {
            return Err(Pool6Error::Unusable(prefix));
        }
        if self.leases.contains_key(&prefix) {
            return Err(Pool6Error::InUse(prefix));
        }
        let lease = match self
            .pools
            .iter()
            .enumerate()
            .find(|(_, pool)| pool.overlaps(&prefix))
        {
            Some((index, pool)) => {
                if pool.index_of(&prefix).is_none() {
                    return Err(Pool6Error::Unusable(prefix));
                }
                self.mark(&prefix);
                Lease6::Pool(index)
            }
            None => {
                if let Some(leased) = self.static_overlap(&prefix) {
                    return Err(Pool6Error::Overlaps { prefix, leased });
                }
                self.statics.insert(prefix);
                Lease6::Static
            }
        };
        self.leases.insert(prefix, lease);
        Ok(lease)
    }

    /// A static lease that overlaps `prefix`: one inside it (its network
    /// falls in `prefix`'s range) or one holding it (a shorter prefix of
    /// the same network).
    fn static_overlap(&self, prefix: &Ipv6Net) -> Option<Ipv6Net> {
        let low = Ipv6Net::new(prefix.network(), 0).ok()?;
        let high = Ipv6Net::new(prefix.broadcast(), 128).ok()?;
        if let Some(inside) = self.statics.range(low..=high).next() {
            return Some(*inside);
        }
        (0..prefix.prefix_len())
            .filter_map(|len| Ipv6Net::new(prefix.network(), len).ok())
            .map(|net| net.trunc())
            .find(|net| self.statics.contains(net))
    }

    /// Gives `prefix` back (session end). Returns whether it was leased.
    pub fn release(&mut self, prefix: Ipv6Net) -> bool {
        let Some(lease) = self.leases.remove(&prefix) else {
            return false;
        };
        self.statics.remove(&prefix);
        if let Lease6::Pool(index) = lease
            && let Some(pool) = self.pools.get_mut(index)
            && let Some(bit) = pool.index_of(&prefix)
        {
            pool.release(bit);
        }
        true
    }

    /// Whether `prefix` is leased.
    pub fn is_leased(&self, prefix: Ipv6Net) -> bool {
        self.leases.contains_key(&prefix)
    }

    /// Every pool's figures, in configuration order.
    pub fn stats(&self) -> Vec<Ipv6PoolStats> {
        self.pools
            .iter()
            .map(|pool| Ipv6PoolStats {
                name: pool.config.name.clone(),
                size: pool.size,
                used: pool.leased.len() as u64,
                exhausted: pool.exhausted,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
