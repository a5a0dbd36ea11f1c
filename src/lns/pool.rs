//! IPv4 address pools of the LNS (`[[lns.pool]]`), sans-IO.
//!
//! A subscriber's address comes, in order, from RADIUS's Framed-IP-Address
//! (RFC 2865 §5.8), from the local pool its Framed-Pool names (RFC 2869
//! §5.18), or from its peer's default pool. [`Pools`] tracks every address
//! handed out, whichever source it came from, so that:
//!
//! - an address is never given to two sessions: a Framed-IP-Address that
//!   falls inside a pool is taken from it ([`Pools::reserve`]), and one
//!   already in use is refused;
//! - an address goes back at session end ([`Pools::release`]) and is
//!   handed out again as late as possible (next fit: the cursor moves on
//!   round the pool), so a departed subscriber's address does not reach
//!   the next one while caches elsewhere still point at it;
//! - an exhausted pool refuses with a cause that names it
//!   ([`PoolError::Exhausted`]), counted per pool ([`PoolStats`]);
//! - a reload may grow a pool or add pools ([`Pools::reconfigure`]);
//!   leases survive, and a lease outside a shrunk pool stays valid until
//!   its session ends (the shrink applies to new sessions only).
//!
//! The network and broadcast addresses of a prefix shorter than /31, and
//! the LNS's own address, are never handed out. A pool of /16 is a bitmap
//! of 8 KiB; nothing is allocated per lease.
//!
//! Per-box pools serve one box. A fleet shares addresses through RADIUS
//! (FreeRADIUS `sqlippool` returning Framed-IP-Address): see the README.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// One pool's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The name RADIUS's Framed-Pool and `[[lns.peer]] pool` use.
    pub name: String,
    /// Its prefixes, handed out in order.
    pub networks: Vec<Ipv4Net>,
}

/// Why no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Framed-Pool (or the peer's default) names no `[[lns.pool]]`.
    #[error("no pool named {0:?}")]
    UnknownPool(String),
    /// Every address of the pool is in use.
    #[error("pool {0:?} is exhausted")]
    Exhausted(String),
    /// The Framed-IP-Address RADIUS gave is another session's.
    #[error("address {0} is already in use")]
    InUse(Ipv4Addr),
    /// The Framed-IP-Address RADIUS gave cannot be a subscriber's (the
    /// LNS's own, a network or broadcast address of a pool, multicast, …).
    #[error("address {0} cannot be assigned to a subscriber")]
    Unusable(Ipv4Addr),
}

/// A pool's figures, for metrics and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Its name.
    pub name: String,
    /// Addresses it can hand out.
    pub size: u32,
    /// Addresses in use.
    pub used: u32,
    /// Allocations refused because it was full.
    pub exhausted: u64,
}

/// Where a leased address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// From pool number `pool` (position in the configuration).
    Pool(usize),
    /// RADIUS's Framed-IP-Address, outside every pool.
    Static,
}

#[derive(Debug)]
struct Pool {
    config: PoolConfig,
    /// One bit per address of each network, in order: set = in use or
    /// never handed out.
    used: Vec<u64>,
    /// Offsets of each network's first address in `used`.
    starts: Vec<u32>,
    size: u32,
    in_use: u32,
    /// Where the next search starts (next fit).
    cursor: u32,
    exhausted: u64,
}

impl Pool {
    fn new(config: PoolConfig, local: Option<Ipv4Addr>) -> Self {
        let mut starts = Vec::with_capacity(config.networks.len());
        let mut total: u32 = 0;
        for network in &config.networks {
            starts.push(total);
            total = total.saturating_add(span(network));
        }
        let mut pool = Self {
            used: vec![0; (total as usize).div_ceil(64)],
            starts,
            size: 0,
            in_use: 0,
            cursor: 0,
            exhausted: 0,
            config,
        };
        // Bits past the end, network/broadcast addresses and the LNS's
        // own address are marked used for good.
        for bit in total..u32::try_from(pool.used.len() * 64).unwrap_or(u32::MAX) {
            pool.set(bit, true);
        }
        let mut reserved = 0;
        for index in 0..pool.config.networks.len() {
            let network = pool.config.networks[index];
            let start = pool.starts[index];
            if network.prefix_len() < 31 {
                pool.set(start, true);
                pool.set(start + span(&network) - 1, true);
                reserved += 2;
            }
            if let Some(local) = local.filter(|l| network.contains(l)) {
                let bit = start + (u32::from(local) - u32::from(network.network()));
                if !pool.get(bit) {
                    pool.set(bit, true);
                    reserved += 1;
                }
            }
        }
        pool.size = total.saturating_sub(reserved);
        pool
    }

    fn get(&self, bit: u32) -> bool {
        self.used
            .get(bit as usize / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    fn set(&mut self, bit: u32, value: bool) {
        if let Some(word) = self.used.get_mut(bit as usize / 64) {
            if value {
                *word |= 1 << (bit % 64);
            } else {
                *word &= !(1 << (bit % 64));
            }
        }
    }

    /// The bit of `address`, if the pool holds it.
    fn bit_of(&self, address: Ipv4Addr) -> Option<u32> {
        self.config
            .networks
            .iter()
            .zip(&self.starts)
            .find(|(network, _)| network.contains(&address))
            .map(|(network, start)| start + (u32::from(address) - u32::from(network.network())))
    }

    fn address_of(&self, bit: u32) -> Option<Ipv4Addr> {
        let index = self
            .starts
            .partition_point(|start| *start <= bit)
            .checked_sub(1)?;
        let network = self.config.networks.get(index)?;
        let offset = bit - self.starts.get(index)?;
        (offset < span(network)).then(|| Ipv4Addr::from(u32::from(network.network()) + offset))
    }

    /// The next free address at or after the cursor, round the pool.
    fn allocate(&mut self) -> Option<Ipv4Addr> {
        if self.in_use >= self.size {
            return None;
        }
        let words = self.used.len();
        let first = self.cursor as usize / 64;
        // The cursor's word comes first (from the cursor on) and last
        // (the bits below it): step `words` is that word again, whole.
        for step in 0..=words {
            let index = (first + step) % words;
            let mut word = self.used[index];
            if step == 0 {
                // Bits below the cursor in its own word are looked at last.
                word |= (1u64 << (self.cursor % 64)) - 1;
            }
            if word != u64::MAX {
                let bit = u32::try_from(index * 64).ok()? + (!word).trailing_zeros();
                self.set(bit, true);
                self.in_use += 1;
                self.cursor = bit + 1;
                return self.address_of(bit);
            }
        }
        None
    }
}

/// Addresses in a network.
fn span(network: &Ipv4Net) -> u32 {
    1u32.checked_shl(32 - u32::from(network.prefix_len()))
        .unwrap_or(u32::MAX)
}

/// Every pool of the LNS and every address leased.
#[derive(Debug, Default)]
pub struct Pools {
    pools: Vec<Pool>,
    by_name: HashMap<String, usize>,
    leases: HashMap<Ipv4Addr, Lease>,
    local: Option<Ipv4Addr>,
}

impl Pools {
    /// Pools from `configs`; `local` (the LNS's own PPP address) is never
    /// handed out.
    pub fn new(configs: Vec<PoolConfig>, local: Option<Ipv4Addr>) -> Self {
        let mut pools = Self {
            local,
            ..Self::default()
        };
        pools.reconfigure(configs);
        pools
    }

    /// Applies a new configuration (a reload): pools may grow or appear;
    /// every lease stays valid until released. A leased address that the
    /// new configuration no longer covers is kept as a static lease.
    pub fn reconfigure(&mut self, configs: Vec<PoolConfig>) {
        let exhausted: HashMap<String, u64> = self
            .pools
            .iter()
            .map(|p| (p.config.name.clone(), p.exhausted))
            .collect();
        self.pools = configs
            .into_iter()
            .map(|config| Pool::new(config, self.local))
            .collect();
        self.by_name = self
            .pools
            .iter()
            .enumerate()
            .map(|(index, pool)| (pool.config.name.clone(), index))
            .collect();
        for pool in &mut self.pools {
            pool.exhausted = exhausted.get(&pool.config.name).copied().unwrap_or(0);
        }
        let leased: Vec<Ipv4Addr> = self.leases.keys().copied().collect();
        for address in leased {
            let lease = self.mark(address).unwrap_or(Lease::Static);
            self.leases.insert(address, lease);
        }
    }

    /// Marks `address` used in the pool that holds it.
    fn mark(&mut self, address: Ipv4Addr) -> Option<Lease> {
        self.pools.iter_mut().enumerate().find_map(|(index, pool)| {
            let bit = pool.bit_of(address)?;
            if pool.get(bit) {
                // Reserved in the new configuration (a network or
                // broadcast address, the LNS's own): the session keeps it
                // and it never returns to the pool.
                return Some(Lease::Static);
            }
            pool.set(bit, true);
            pool.in_use += 1;
            Some(Lease::Pool(index))
        })
    }

    /// An address from the pool named `name`.
    pub fn allocate(&mut self, name: &str) -> Result<Ipv4Addr, PoolError> {
        let index = *self
            .by_name
            .get(name)
            .ok_or_else(|| PoolError::UnknownPool(name.to_owned()))?;
        let pool = &mut self.pools[index];
        match pool.allocate() {
            Some(address) => {
                self.leases.insert(address, Lease::Pool(index));
                Ok(address)
            }
            None => {
                pool.exhausted += 1;
                Err(PoolError::Exhausted(name.to_owned()))
            }
        }
    }

    /// Leases RADIUS's Framed-IP-Address `address`: taken from its pool
    /// when one holds it, a static lease otherwise.
    pub fn reserve(&mut self, address: Ipv4Addr) -> Result<Lease, PoolError> {
        if self.leases.contains_key(&address) {
            return Err(PoolError::InUse(address));
        }
        let unusable = Some(address) == self.local
            || address.is_unspecified()
            || address.is_broadcast()
            || address.is_multicast()
            || address.is_loopback();
        if unusable {
            return Err(PoolError::Unusable(address));
        }
        let lease = match self
            .pools
            .iter()
            .enumerate()
            .find_map(|(index, pool)| pool.bit_of(address).map(|bit| (index, bit)))
        {
            Some((index, bit)) => {
                let pool = &mut self.pools[index];
                if pool.get(bit) {
                    // Marked without a lease: a network or broadcast
                    // address.
                    return Err(PoolError::Unusable(address));
                }
                pool.set(bit, true);
                pool.in_use += 1;
                Lease::Pool(index)
            }
            None => Lease::Static,
        };
        self.leases.insert(address, lease);
        Ok(lease)
    }

    /// Gives `address` back (session end). Returns whether it was leased.
    pub fn release(&mut self, address: Ipv4Addr) -> bool {
        let Some(lease) = self.leases.remove(&address) else {
            return false;
        };
        if let Lease::Pool(index) = lease {
            if let Some(pool) = self.pools.get_mut(index) {
                if let Some(bit) = pool.bit_of(address) {
                    pool.set(bit, false);
                    pool.in_use = pool.in_use.saturating_sub(1);
                }
            }
        }
        true
    }

    /// Whether `address` is leased.
    pub fn is_leased(&self, address: Ipv4Addr) -> bool {
        self.leases.contains_key(&address)
    }

    /// Every pool's figures, in configuration order.
    pub fn stats(&self) -> Vec<PoolStats> {
        self.pools
            .iter()
            .map(|pool| PoolStats {
                name: pool.config.name.clone(),
                size: pool.size,
                used: pool.in_use,
                exhausted: pool.exhausted,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
