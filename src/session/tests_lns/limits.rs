//! What the LNS refuses: an exhausted pool (the session never comes up,
//! the call is cleared) and calls beyond a rule's `max_sessions`.

use super::*;

/// Item 2 (8.5): a pool of one address. The second subscriber is refused
/// (no address), its call cleared and the LAC ends it; once the first
/// leaves, a third gets the address.
#[test]
fn exhausted_pool_refuses_the_second_subscriber_and_a_release_makes_room() {
    let setup = Setup {
        pools: vec![pool("10.64.0.7/32")],
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert_eq!(world.bring_up(alice), Ipv4Addr::new(10, 64, 0, 7));
    assert_eq!(world.pool_used(), 1);

    let bob = world.add_subscriber("bob@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let refused = world.run_until(Duration::from_secs(30), |w| w.subs[bob].terminated_by_peer);
    assert!(
        world
            .lns_events
            .contains(&LacEvent::SetupFailed(SetupFailure::NoAddress)),
        "SetupFailed(NoAddress): {:?}",
        world.lns_events
    );
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::NoAddress)));
    assert_eq!(world.subs[bob].address, None, "bob never got an address");
    assert!(
        world
            .lns_records(AcctStatusType::Start, "bob@isp.example")
            .is_empty(),
        "no Start for bob"
    );
    assert!(
        refused,
        "the LNS cleared bob's call and the LAC ended bob: CDNs at the LAC {:?}, LNS sessions {:?}",
        world.cdns_at_lac(),
        world.lns.sessions(world.now)
    );
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "one CDN, bob's: {cdns:?}");
    let result = cdns[0].as_ref().expect("a Result Code");
    assert_eq!(result.result, 2, "{result}");
    assert!(
        result.error.as_ref().is_some_and(|e| !e.message.is_empty()),
        "{result}"
    );
    assert_eq!(world.lns.session_count(), 1, "alice only");
    assert_eq!(world.lns_up(), 1);

    // Alice leaves; carol gets 10.64.0.7.
    world.subs[alice].pppoe.terminate(None);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0),
        "alice's session ended at the LNS"
    );
    assert_eq!(world.pool_used(), 0);
    let carol = world.add_subscriber("carol@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert_eq!(world.bring_up(carol), Ipv4Addr::new(10, 64, 0, 7));
    let exhausted = world.lns.lns_snapshot().expect("LNS").pools[0].exhausted;
    assert_eq!(exhausted, 1, "one refusal counted");
}

/// Item 8: a rule with `max_sessions = 1` refuses the second call with
/// CDN result 4 at ICRQ.
#[test]
fn max_sessions_refuses_the_second_call_with_cdn_result_4() {
    let setup = Setup {
        rule: PeerRule {
            name: "lacs".into(),
            max_sessions: Some(1),
            ..PeerRule::default()
        },
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    let bob = world.add_subscriber("bob@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert!(
        world.run_until(Duration::from_secs(40), |w| w.subs[bob].terminated_by_peer),
        "the LAC refuses bob: {:?}",
        world.lac_events
    );
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::SessionLimit)));
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    let result = cdns[0].as_ref().expect("a Result Code");
    assert_eq!(result.result, 4, "CDN result 4: {result}");
    assert_eq!(world.subs[bob].address, None);
    assert_eq!(world.lns_auth.len(), 1, "RADIUS for alice only");
    assert_eq!(world.lns.session_count(), 1);
    assert_eq!(
        world.lns.lns_snapshot().expect("LNS").peer_sessions,
        vec![("lacs".to_owned(), 1)]
    );
    assert_eq!(world.lns_up(), 1, "alice is still up");

    // Alice leaves: the rule has room again for carol (the LAC tries its
    // only LNS even though bob's refusal denylisted it).
    world.subs[alice].pppoe.terminate(None);
    assert!(world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0));
    assert_eq!(
        world.lns.lns_snapshot().expect("LNS").peer_sessions,
        vec![("lacs".to_owned(), 0)]
    );
    let carol = world.add_subscriber("carol@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(carol);
}

/// Framed-IP-Address outside every pool: the subscriber gets it, a host
/// route is installed for it and withdrawn at the end.
#[test]
fn framed_ip_address_outside_the_pools_gets_a_host_route() {
    let address = Ipv4Addr::new(100, 64, 9, 9);
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_ip_address: Some(address),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert_eq!(world.bring_up(alice), address);
    let host: ipnet::IpNet = "100.64.9.9/32".parse().expect("net");
    assert_eq!(world.routes, vec![RouteChange::Add(host)]);
    assert_eq!(world.pool_used(), 0, "no pool address");
    let view = &world.lns.sessions(world.now)[0];
    assert_eq!(
        view.address_source.as_deref(),
        Some("radius:Framed-IP-Address")
    );
    world.subs[alice].pppoe.terminate(None);
    assert!(world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0));
    assert_eq!(
        world.routes,
        vec![RouteChange::Add(host), RouteChange::Remove(host)]
    );
}

/// Framed-IP-Address inside the pool is reserved there: a second
/// session with the same address is refused.
#[test]
fn framed_ip_address_inside_the_pool_is_reserved_once() {
    let address = Ipv4Addr::new(10, 64, 0, 50);
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_ip_address: Some(address),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert_eq!(world.bring_up(alice), address);
    assert_eq!(world.pool_used(), 1);
    assert!(world.routes.is_empty(), "the pool is routed as a whole");
    let bob = world.add_subscriber("bob@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(20), |w| w.subs[bob].terminated_by_peer));
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::NoAddress)));
    assert_eq!(world.lns_up(), 1);
}

/// A Framed-Pool that names no pool: no address, the session refused.
#[test]
fn unknown_framed_pool_refuses_the_session() {
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_pool: Some("nowhere".into()),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(20), |w| {
        w.subs[alice].terminated_by_peer
    }));
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::NoAddress)));
    assert_eq!(world.subs[alice].address, None);
    assert_eq!(world.lns.session_count(), 0);
}
