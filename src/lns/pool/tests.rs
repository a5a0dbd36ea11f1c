//! The pools' bookkeeping: every address once, next fit, exhaustion,
//! static addresses from RADIUS, reloads.

use std::collections::HashSet;

use super::*;

fn pool(name: &str, networks: &[&str]) -> PoolConfig {
    PoolConfig {
        name: name.into(),
        networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
    }
}

fn local() -> Option<Ipv4Addr> {
    Some(Ipv4Addr::new(10, 0, 0, 1))
}

#[test]
fn a_pool_hands_out_every_usable_address_once_then_refuses() {
    // 10.0.0.0/29: 8 addresses less network, broadcast and the LNS's own.
    let mut pools = Pools::new(vec![pool("small", &["10.0.0.0/29"])], local());
    assert_eq!(pools.stats()[0].size, 5);
    let mut seen = HashSet::new();
    for _ in 0..5 {
        let address = pools.allocate("small").unwrap();
        assert!(seen.insert(address), "{address} handed out twice");
    }
    let expected: HashSet<Ipv4Addr> = (2..=6).map(|last| Ipv4Addr::new(10, 0, 0, last)).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        pools.allocate("small"),
        Err(PoolError::Exhausted("small".into()))
    );
    assert_eq!(
        pools.allocate("small").unwrap_err().to_string(),
        "pool \"small\" is exhausted"
    );
    let stats = &pools.stats()[0];
    assert_eq!((stats.used, stats.exhausted), (5, 2));
    assert_eq!(
        pools.allocate("other"),
        Err(PoolError::UnknownPool("other".into()))
    );
}

#[test]
fn a_released_address_comes_back_last() {
    let mut pools = Pools::new(vec![pool("p", &["192.0.2.0/28"])], None);
    let first = pools.allocate("p").unwrap();
    let second = pools.allocate("p").unwrap();
    assert!(pools.release(first));
    assert!(!pools.release(first), "released twice");
    // Next fit: the rest of the pool goes before the released address.
    let mut order = Vec::new();
    while let Ok(address) = pools.allocate("p") {
        order.push(address);
    }
    assert_eq!(order.last(), Some(&first));
    assert!(!order.contains(&second));
    assert_eq!(order.len(), 14 - 1);
}

#[test]
fn several_networks_and_large_pools() {
    let mut pools = Pools::new(
        vec![
            pool("two", &["198.51.100.0/31", "203.0.113.8/30"]),
            pool("big", &["10.64.0.0/16"]),
        ],
        None,
    );
    // A /31 has no network or broadcast address (RFC 3021).
    assert_eq!(pools.stats()[0].size, 2 + 2);
    assert_eq!(pools.stats()[1].size, 65_534);
    let two: Vec<Ipv4Addr> = std::iter::from_fn(|| pools.allocate("two").ok()).collect();
    assert_eq!(
        two,
        [
            Ipv4Addr::new(198, 51, 100, 0),
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(203, 0, 113, 9),
            Ipv4Addr::new(203, 0, 113, 10),
        ]
    );
    let mut seen = HashSet::new();
    for _ in 0..65_534 {
        assert!(seen.insert(pools.allocate("big").unwrap()));
    }
    assert!(pools.allocate("big").is_err());
    assert!(!seen.contains(&Ipv4Addr::new(10, 64, 0, 0)));
    assert!(!seen.contains(&Ipv4Addr::new(10, 64, 255, 255)));
}

#[test]
fn framed_ip_address_is_taken_from_its_pool_or_leased_statically() {
    let mut pools = Pools::new(vec![pool("p", &["10.0.0.0/29"])], local());
    let inside = Ipv4Addr::new(10, 0, 0, 2);
    assert_eq!(pools.reserve(inside), Ok(Lease::Pool(0)));
    assert_eq!(pools.reserve(inside), Err(PoolError::InUse(inside)));
    // The pool never hands it out while leased.
    let handed: Vec<Ipv4Addr> = std::iter::from_fn(|| pools.allocate("p").ok()).collect();
    assert_eq!(handed.len(), 4);
    assert!(!handed.contains(&inside));
    let outside = Ipv4Addr::new(100, 64, 0, 9);
    assert_eq!(pools.reserve(outside), Ok(Lease::Static));
    assert!(pools.is_leased(outside));
    assert!(pools.release(outside));
    for unusable in [
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 0),
        Ipv4Addr::new(10, 0, 0, 7),
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::UNSPECIFIED,
    ] {
        assert_eq!(pools.reserve(unusable), Err(PoolError::Unusable(unusable)));
    }
}

#[test]
fn a_reload_grows_pools_and_keeps_every_lease() {
    let mut pools = Pools::new(vec![pool("p", &["10.0.0.0/30"])], None);
    let a = pools.allocate("p").unwrap();
    let b = pools.allocate("p").unwrap();
    assert!(pools.allocate("p").is_err());
    pools.reconfigure(vec![
        pool("p", &["10.0.0.0/29"]),
        pool("q", &["10.1.0.0/30"]),
    ]);
    let stats = pools.stats();
    assert_eq!(
        (stats[0].size, stats[0].used, stats[0].exhausted),
        (6, 2, 1)
    );
    let more: Vec<Ipv4Addr> = std::iter::from_fn(|| pools.allocate("p").ok()).collect();
    assert_eq!(more.len(), 4);
    assert!(!more.contains(&a) && !more.contains(&b));
    assert!(pools.allocate("q").is_ok());
    // Shrunk below a lease: the lease stays until released, and is not
    // handed out again meanwhile.
    pools.reconfigure(vec![pool("p", &["10.0.0.4/30"])]);
    assert!(pools.is_leased(a));
    assert!(pools.release(a));
    assert!(!pools.is_leased(a));
}
