//! The IPv6 pools' bookkeeping: every prefix once, released ones last,
//! exhaustion, prefixes from RADIUS, reloads, a /40 in /64s lazily.

use std::collections::HashSet;

use super::*;

fn pool(name: &str, prefix: &str, length: u8) -> Ipv6PoolConfig {
    Ipv6PoolConfig {
        name: name.into(),
        prefix: prefix.parse().unwrap(),
        length,
    }
}

fn net(text: &str) -> Ipv6Net {
    text.parse().unwrap()
}

#[test]
fn a_pool_hands_out_every_prefix_once_then_refuses() {
    let mut pools = Ipv6Pools::new(vec![pool("pd", "2001:db8:100::/54", 56)]);
    assert_eq!(pools.stats()[0].size, 4);
    let mut seen = HashSet::new();
    for _ in 0..4 {
        let prefix = pools.allocate("pd").unwrap();
        assert_eq!(prefix.prefix_len(), 56);
        assert!(seen.insert(prefix), "{prefix} handed out twice");
    }
    let expected: HashSet<Ipv6Net> = [
        "2001:db8:100::/56",
        "2001:db8:100:100::/56",
        "2001:db8:100:200::/56",
        "2001:db8:100:300::/56",
    ]
    .into_iter()
    .map(net)
    .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        pools.allocate("pd"),
        Err(Pool6Error::Exhausted("pd".into()))
    );
    assert_eq!(
        pools.allocate("pd").unwrap_err().to_string(),
        "IPv6 pool \"pd\" is exhausted"
    );
    let stats = &pools.stats()[0];
    assert_eq!((stats.used, stats.exhausted), (4, 2));
    assert_eq!(
        pools.allocate("other"),
        Err(Pool6Error::UnknownPool("other".into()))
    );
}

#[test]
fn released_prefixes_come_back_last_oldest_first() {
    let mut pools = Ipv6Pools::new(vec![pool("p", "2001:db8::/60", 64)]);
    let first = pools.allocate("p").unwrap();
    let second = pools.allocate("p").unwrap();
    assert!(pools.release(second));
    assert!(pools.release(first));
    assert!(!pools.release(first), "released twice");
    let mut order = Vec::new();
    while let Ok(prefix) = pools.allocate("p") {
        order.push(prefix);
    }
    assert_eq!(order.len(), 16);
    assert_eq!(&order[14..], &[second, first]);
}

#[test]
fn prefixes_from_radius_are_taken_from_their_pool() {
    let mut pools = Ipv6Pools::new(vec![pool("pd", "2001:db8:100::/54", 56)]);
    let inside = net("2001:db8:100::/56");
    assert_eq!(pools.reserve(inside), Ok(Lease6::Pool(0)));
    assert_eq!(pools.reserve(inside), Err(Pool6Error::InUse(inside)));
    assert!(pools.is_leased(inside));
    // Skipped by allocation.
    assert_ne!(pools.allocate("pd").unwrap(), inside);
    // Outside every pool: static.
    let outside = net("2001:db8:ffff::/48");
    assert_eq!(pools.reserve(outside), Ok(Lease6::Static));
    assert!(pools.release(outside));
    // Host bits set, or another length inside a pool.
    let sloppy = net("2001:db8:ffff::1/48");
    assert_eq!(pools.reserve(sloppy), Err(Pool6Error::Unusable(sloppy)));
    let wrong = net("2001:db8:100:300::/64");
    assert_eq!(pools.reserve(wrong), Err(Pool6Error::Unusable(wrong)));
    let covering = net("2001:db8::/32");
    assert_eq!(pools.reserve(covering), Err(Pool6Error::Unusable(covering)));
    // Released, it goes back to the pool.
    assert!(pools.release(inside));
    let stats = &pools.stats()[0];
    assert_eq!(stats.used, 1);
    let mut rest = Vec::new();
    while let Ok(prefix) = pools.allocate("pd") {
        rest.push(prefix);
    }
    assert_eq!(rest.len(), 3);
    assert_eq!(rest.last(), Some(&inside));
}

#[test]
fn a_reserved_prefix_released_and_reserved_again_is_never_handed_out_twice() {
    let mut pools = Ipv6Pools::new(vec![pool("p", "2001:db8::/63", 64)]);
    let a = pools.allocate("p").unwrap();
    assert!(pools.release(a));
    assert_eq!(pools.reserve(a), Ok(Lease6::Pool(0)));
    assert!(pools.release(a));
    assert_eq!(pools.reserve(a), Ok(Lease6::Pool(0)));
    let b = pools.allocate("p").unwrap();
    assert_ne!(a, b);
    assert!(pools.allocate("p").is_err());
    assert!(pools.release(a));
    assert_eq!(pools.allocate("p"), Ok(a));
    assert!(pools.allocate("p").is_err());
}

#[test]
fn a_big_pool_costs_nothing_until_used() {
    // 2001:db8:100::/40 in /64s: 2^24 prefixes.
    let mut pools = Ipv6Pools::new(vec![pool("slaac", "2001:db8:100::/40", 64)]);
    assert_eq!(pools.stats()[0].size, 1 << 24);
    let first = pools.allocate("slaac").unwrap();
    assert_eq!(first, net("2001:db8:100::/64"));
    assert_eq!(pools.allocate("slaac").unwrap(), net("2001:db8:100:1::/64"));
    let last = net("2001:db8:1ff:ffff::/64");
    assert_eq!(pools.reserve(last), Ok(Lease6::Pool(0)));
    assert_eq!(pools.stats()[0].used, 3);
    // Wider than 2^32 is capped (the configuration refuses it).
    let huge = Ipv6Pools::new(vec![pool("huge", "2001:db8::/16", 64)]);
    assert_eq!(huge.stats()[0].size, 1 << 32);
}

#[test]
fn reloads_keep_leases() {
    let mut pools = Ipv6Pools::new(vec![pool("a", "2001:db8:1::/62", 64)]);
    let leased = pools.allocate("a").unwrap();
    let _ = pools.allocate("a");
    let _ = pools.allocate("a");
    let _ = pools.allocate("a");
    assert!(pools.allocate("a").is_err());
    // Grown: the lease is still in the pool, the new room is used.
    pools.reconfigure(vec![pool("a", "2001:db8:1::/61", 64)]);
    assert_eq!(pools.stats()[0].exhausted, 1);
    assert_eq!(pools.stats()[0].used, 4);
    for _ in 0..4 {
        assert_ne!(pools.allocate("a").unwrap(), leased);
    }
    // Moved elsewhere: the lease becomes static and still releases.
    pools.reconfigure(vec![pool("b", "2001:db8:2::/62", 64)]);
    assert!(pools.is_leased(leased));
    assert_eq!(pools.reserve(leased), Err(Pool6Error::InUse(leased)));
    assert!(pools.release(leased));
    assert_eq!(pools.stats()[0].used, 0);
}

#[test]
fn static_prefixes_may_not_overlap() {
    let mut pools = Ipv6Pools::new(vec![pool("pd", "2001:db8:100::/54", 56)]);
    let wide = net("2001:db8:ff00::/48");
    assert_eq!(pools.reserve(wide), Ok(Lease6::Static));
    let inside = net("2001:db8:ff00:1200::/56");
    assert_eq!(
        pools.reserve(inside),
        Err(Pool6Error::Overlaps {
            prefix: inside,
            leased: wide
        })
    );
    let around = net("2001:db8:fe00::/39");
    assert_eq!(
        pools.reserve(around),
        Err(Pool6Error::Overlaps {
            prefix: around,
            leased: wide
        })
    );
    assert_eq!(
        pools.reserve(inside).unwrap_err().to_string(),
        "prefix 2001:db8:ff00:1200::/56 overlaps 2001:db8:ff00::/48, already in use"
    );
    // Beside it: fine. Released: the inner one fits.
    assert_eq!(pools.reserve(net("2001:db8:ff01::/48")), Ok(Lease6::Static));
    assert!(pools.release(wide));
    assert_eq!(pools.reserve(inside), Ok(Lease6::Static));
    // A reload keeps the static leases' overlap checks.
    pools.reconfigure(vec![pool("pd", "2001:db8:100::/54", 56)]);
    assert!(matches!(
        pools.reserve(wide),
        Err(Pool6Error::Overlaps { .. })
    ));
}
