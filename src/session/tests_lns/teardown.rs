//! The end of a session terminated at the LNS: from the subscriber (PADT
//! at the LAC, CDN to the LNS) and from the LNS (RADIUS Disconnect).

use super::*;

fn with_route() -> (World, usize, Ipv4Addr, ipnet::IpNet) {
    let route = crate::aaa::attributes::parse_framed_route(b"10.99.0.0/24").expect("route");
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_routes: vec![route],
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    (world, alice, address, "10.99.0.0/24".parse().expect("net"))
}

/// Item 9: PADT → the LAC's CDN → the LNS ends the session: Stop with the
/// address and counters, the address back, the route withdrawn.
#[test]
fn padt_at_the_lac_ends_the_lns_session_with_stop_and_releases_everything() {
    let (mut world, alice, address, net) = with_route();
    assert_eq!(world.pool_used(), 1);
    let up = ipv4_packet(address, REMOTE, b"some traffic");
    world.subscriber_sends_ip(alice, &up);
    world.step();
    let down = ipv4_packet(REMOTE, address, b"some traffic back");
    world.kernel_sends(&down);

    world.subs[alice].pppoe.terminate(None);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0),
        "the LNS ended the session: {:?}",
        world.lns.sessions(world.now)
    );
    let stops = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stops.len(), 1, "{:?}", world.lns_acct);
    let stop = stops[0];
    assert_eq!(stop.framed_ip_address, Some(address));
    let counters = stop.counters.expect("counters");
    assert_eq!(counters.input_packets, 1, "{counters:?}");
    assert_eq!(counters.output_packets, 1, "{counters:?}");
    assert!(counters.input_octets >= up.len() as u64, "{counters:?}");
    assert!(counters.output_octets >= down.len() as u64, "{counters:?}");
    assert_eq!(
        stop.terminate_cause,
        Some(TerminateCause::LostCarrier.into()),
        "the LAC's CDN says loss of carrier"
    );
    assert_eq!(world.pool_used(), 0, "the address is back in the pool");
    assert_eq!(
        world.routes,
        vec![RouteChange::Add(net), RouteChange::Remove(net)]
    );
    assert!(
        world.events_show_no_lns_session(),
        "the rule's count is back to 0"
    );
    // Nothing routes to the old address any more.
    assert_eq!(
        world.kernel_sends(&down),
        Forward::Dropped(FastPathDrop::NoRoute)
    );
    assert_eq!(world.lac.session_count(), 0);
}

impl World {
    fn events_show_no_lns_session(&self) -> bool {
        self.lns
            .lns_snapshot()
            .is_some_and(|s| s.peer_sessions == vec![("lacs".to_owned(), 0)])
    }
}

/// Item 9: a RADIUS Disconnect-Request at the LNS (by Acct-Session-Id):
/// LCP Terminate-Request to the subscriber, CDN to the LAC, Stop
/// Admin-Reset, everything released.
#[test]
fn disconnect_request_at_the_lns_terminates_lcp_clears_the_call_and_stops_admin_reset() {
    let (mut world, alice, address, net) = with_route();
    let acct_session_id = world.lns_records(AcctStatusType::Start, "alice@isp.example")[0]
        .session
        .acct_session_id
        .clone();
    assert!(
        acct_session_id.starts_with("0000000B-"),
        "{acct_session_id}"
    );
    let request = DynAuthRequest {
        kind: DynAuthKind::Disconnect,
        selector: crate::aaa::dynauth::SessionSelector {
            acct_session_id: Some(acct_session_id),
            ..Default::default()
        },
        changes: AcceptAttributes::default(),
    };
    let now = world.now;
    assert_eq!(world.lns.dynauth(now, &request), DynAuthResult::Ack);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.subs[alice]
            .terminated_by_peer),
        "the LAC ends the subscriber after the CDN: {:?}",
        world.lac_events
    );
    assert!(
        world.subs[alice].got(Protocol::Lcp, &[5]),
        "an LCP Terminate-Request reached the subscriber"
    );
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    assert_eq!(
        cdns[0].as_ref().map(|r| r.result),
        Some(3),
        "administrative"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::AdminReset.into())
    );
    assert_eq!(stop[0].framed_ip_address, Some(address));
    assert_eq!(world.pool_used(), 0);
    assert_eq!(
        world.routes,
        vec![RouteChange::Add(net), RouteChange::Remove(net)]
    );
    assert_eq!(world.lns.session_count(), 0);
    assert_eq!(
        world.lns.dynauth(world.now, &request),
        DynAuthResult::Nak(crate::aaa::dynauth::ErrorCause::SessionContextNotFound)
    );
    let lac_stop = world
        .lac_acct
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::Stop))
        .expect("the LAC's Stop");
    assert_eq!(
        lac_stop.terminate_cause,
        Some(TerminateCause::HostRequest.into())
    );
}

/// The operator's disconnect (`NodeCore::disconnect`) ends it the same
/// way.
#[test]
fn operator_disconnect_at_the_lns_ends_the_session() {
    let (mut world, alice, _, _) = with_route();
    let id = world.lns.sessions(world.now)[0].acct_session_id.clone();
    let now = world.now;
    assert!(world.lns.disconnect(now, &id));
    assert!(!world.lns.disconnect(now, &id), "gone");
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.subs[alice].terminated_by_peer
    }));
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::AdminReset.into())
    );
    assert_eq!(world.pool_used(), 0);
}

/// The subscriber closes PPP (LCP Terminate-Request through the LAC):
/// the LNS acknowledges, clears the call, and stops with User-Request;
/// the LAC, cleared by the LNS, sends PADT.
#[test]
fn lcp_terminate_from_the_subscriber_ends_the_session_with_user_request() {
    let (mut world, alice, _, net) = with_route();
    let now = world.now;
    world.subs[alice]
        .link
        .as_mut()
        .expect("link")
        .close(now, DownReason::AdminClose);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0
            && w.subs[alice].terminated_by_peer),
        "the LNS ended it and the LAC sent PADT: {:?}",
        world.lac_events
    );
    assert!(
        world.subs[alice].got(Protocol::Lcp, &[6]),
        "the LNS's Terminate-Ack reached the subscriber"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::UserRequest.into())
    );
    assert_eq!(world.cdns_at_lac().len(), 1);
    assert_eq!(world.pool_used(), 0);
    assert_eq!(world.routes.last(), Some(&RouteChange::Remove(net)));
}

/// Session-Timeout (RFC 2865 §5.27) at the LNS: LCP Terminate-Request,
/// CDN, Stop Session-Timeout.
#[test]
fn session_timeout_at_the_lns_terminates_and_stops() {
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            session_timeout: Some(5),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    assert!(
        world.run_until(Duration::from_secs(8), |w| w.subs[alice].terminated_by_peer),
        "ended within the timeout"
    );
    assert!(
        world.subs[alice].got(Protocol::Lcp, &[5]),
        "Terminate-Request"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::SessionTimeout.into())
    );
    assert!(
        stop[0].session_time.is_some_and(|t| (4..=6).contains(&t)),
        "{:?}",
        stop[0].session_time
    );
    assert_eq!(world.pool_used(), 0);
}

/// The LAC shuts down (StopCCN): the LNS ends its sessions with
/// Lost-Service and gives the addresses back.
#[test]
fn stopccn_from_the_lac_ends_lns_sessions_with_lost_service() {
    let (mut world, _, _, net) = with_route();
    let now = world.now;
    world.lac.shutdown(now);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0),
        "the LNS ended the session"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1, "{:?}", world.lns_acct);
    assert!(
        matches!(
            stop[0].terminate_cause.map(TerminateCause::from),
            Some(TerminateCause::LostService | TerminateCause::LostCarrier)
        ),
        "{:?}",
        stop[0].terminate_cause
    );
    assert_eq!(world.pool_used(), 0);
    assert_eq!(world.routes.last(), Some(&RouteChange::Remove(net)));
    assert!(world.run_until(Duration::from_secs(40), |w| w.lns.is_idle()));
}

/// RFC 5176 §3: Framed-IP-Address identifies a session; the LNS assigned
/// it, so a Disconnect-Request naming it selects the session.
#[test]
fn disconnect_request_by_framed_ip_address_at_the_lns() {
    let (mut world, alice, address, _) = with_route();
    let request = DynAuthRequest {
        kind: DynAuthKind::Disconnect,
        selector: crate::aaa::dynauth::SessionSelector {
            framed_ip_address: Some(address),
            ..Default::default()
        },
        changes: AcceptAttributes::default(),
    };
    let now = world.now;
    assert_eq!(world.lns.dynauth(now, &request), DynAuthResult::Ack);
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.subs[alice].terminated_by_peer
    }));
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::AdminReset.into())
    );
    // Another address selects nothing.
    let other = DynAuthRequest {
        selector: crate::aaa::dynauth::SessionSelector {
            framed_ip_address: Some(Ipv4Addr::new(10, 64, 0, 200)),
            ..Default::default()
        },
        ..request
    };
    assert_eq!(
        world.lns.dynauth(world.now, &other),
        DynAuthResult::Nak(crate::aaa::dynauth::ErrorCause::SessionContextNotFound)
    );
}

/// LCP echoes of the LNS (RFC 1661 §5.8) through the LAC: answered, the
/// session stays; once the subscriber is silent, echo loss ends it
/// (Lost-Carrier), the call is cleared and the LAC sends PADT.
#[test]
fn lcp_echo_loss_at_the_lns_ends_the_session() {
    let setup = Setup {
        lns_link: LinkConfig {
            echo_interval: Some(Duration::from_secs(1)),
            echo_failures: 3,
            ..lns_link()
        },
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    world.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(world.lns_up(), 1, "echoes answered: still up");
    assert!(
        world.subs[alice].got(Protocol::Lcp, &[9]),
        "Echo-Requests arrived"
    );
    // The subscriber's PPP goes silent (its PPPoE session stays).
    world.subs[alice].link = None;
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.lns.session_count() == 0),
        "echo loss ended the session"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::LostCarrier.into())
    );
    assert!(world.run_until(Duration::from_secs(5), |w| w.subs[alice].terminated_by_peer));
    assert_eq!(world.pool_used(), 0);
}

/// The LNS shuts down: LCP Terminate-Request to the subscriber, Stop
/// NAS-Reboot, the tunnel cleared; the LAC ends its subscriber.
#[test]
fn lns_shutdown_ends_sessions_with_nas_reboot_and_clears_the_tunnel() {
    let (mut world, alice, _, net) = with_route();
    let now = world.now;
    world.lns.shutdown(now);
    world.lns.account_nas(false);
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.subs[alice].terminated_by_peer
    }));
    assert!(
        world.subs[alice].got(Protocol::Lcp, &[5]),
        "Terminate-Request"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::NasReboot.into())
    );
    assert_eq!(world.routes.last(), Some(&RouteChange::Remove(net)));
    assert_eq!(world.pool_used(), 0);
    assert!(world.run_until(Duration::from_secs(40), |w| w.lns.is_idle()
        && w.lac.is_idle()));
}
