//! What runs on a session that is up at the LNS: Idle-Timeout, interim
//! accounting, a CoA's rate limit, IPv6 (RFC 3162 prefixes, RAs).

use std::net::Ipv6Addr;

use super::*;

/// An IPv6 packet (UDP next header) from `src` to `dst`.
fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0u8; 40 + payload.len()];
    packet[0] = 0x60;
    packet[4..6].copy_from_slice(&u16::try_from(payload.len()).expect("short").to_be_bytes());
    packet[6] = 17;
    packet[7] = 64;
    packet[8..24].copy_from_slice(&src.octets());
    packet[24..40].copy_from_slice(&dst.octets());
    packet[40..].copy_from_slice(payload);
    packet
}

/// Idle-Timeout (RFC 2865 §5.28) counts the subscriber's traffic.
#[test]
fn idle_timeout_at_the_lns_counts_subscriber_traffic() {
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            idle_timeout: Some(10),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    for _ in 0..5 {
        world.subscriber_sends_ip(alice, &ipv4_packet(address, REMOTE, b"keepalive"));
        world.run_until(Duration::from_secs(4), |_| false);
        assert_eq!(world.lns_up(), 1, "still up while the subscriber sends");
    }
    assert!(
        world.run_until(Duration::from_secs(12), |w| w.subs[alice]
            .terminated_by_peer),
        "idle for 10 s: ended"
    );
    let stop = world.lns_records(AcctStatusType::Stop, "alice@isp.example");
    assert_eq!(stop.len(), 1);
    assert_eq!(
        stop[0].terminate_cause,
        Some(TerminateCause::IdleTimeout.into())
    );
    assert_eq!(stop[0].counters.map(|c| c.input_packets), Some(5));
}

/// Acct-Interim-Interval (RFC 2869 §5.16): Interim-Updates with the
/// address and the counters.
#[test]
fn interim_updates_at_the_lns_carry_the_address_and_counters() {
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            acct_interim_interval: Some(60),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    world.subscriber_sends_ip(alice, &ipv4_packet(address, REMOTE, b"counted"));
    assert!(world.run_until(Duration::from_secs(125), |w| {
        w.lns_records(AcctStatusType::InterimUpdate, "alice@isp.example")
            .len()
            == 2
    }));
    let interims = world.lns_records(AcctStatusType::InterimUpdate, "alice@isp.example");
    assert_eq!(interims[0].framed_ip_address, Some(address));
    assert_eq!(interims[0].counters.map(|c| c.input_packets), Some(1));
    assert!(
        interims[0]
            .session_time
            .is_some_and(|t| (59..=61).contains(&t))
    );
}

/// A CoA-Request's rate limit polices the traffic from TUN.
#[test]
fn coa_rate_limit_at_the_lns_polices_traffic_to_the_subscriber() {
    let mut world = World::simple(&Setup::default(), AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    let request = DynAuthRequest {
        kind: DynAuthKind::Coa,
        selector: crate::aaa::dynauth::SessionSelector {
            framed_ip_address: Some(address),
            ..Default::default()
        },
        changes: AcceptAttributes {
            rate_limit: RateLimit {
                up_bps: Some(8_000),
                down_bps: Some(8_000),
                burst_up_bytes: Some(1_000),
                burst_down_bytes: Some(1_000),
            },
            ..AcceptAttributes::default()
        },
    };
    let now = world.now;
    assert_eq!(world.lns.dynauth(now, &request), DynAuthResult::Ack);
    let packet = ipv4_packet(REMOTE, address, &[0u8; 480]);
    let mut passed = 0;
    let mut policed = 0;
    for _ in 0..10 {
        match world.kernel_sends(&packet) {
            Forward::Datagram { .. } => passed += 1,
            Forward::Dropped(FastPathDrop::Policed) => policed += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!((1..=2).contains(&passed), "passed {passed}");
    assert_eq!(passed + policed, 10);
    assert_eq!(world.lns_up(), 1, "policing drops packets, not the session");
}

/// Framed-IPv6-Prefix and Delegated-IPv6-Prefix: the prefixes are routed
/// to the subscriber and allowed as its sources, RAs reach it, and
/// Start carries both.
#[test]
fn ipv6_prefixes_are_routed_both_ways_and_accounted() {
    let prefix: Ipv6Addr = "2001:db8:1:1::".parse().expect("prefix");
    let delegated: Ipv6Addr = "2001:db8:2::".parse().expect("delegated");
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_ipv6_prefix: Some((prefix, 64)),
            delegated_ipv6_prefix: Some((delegated, 56)),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.subs[alice]
            .link_events
            .iter()
            .any(|e| matches!(e, LinkEvent::NetworkUp { ipv6: Some(_), .. }))),
        "IPv6CP up: {:?}",
        world.subs[alice].link_events
    );
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.subs[alice]
            .received
            .iter()
            .any(|(p, payload)| *p == Protocol::Ipv6
                && payload.get(6) == Some(&58)
                && payload.get(40) == Some(&134))),
        "a Router Advertisement reached the subscriber"
    );
    let start = world.lns_records(AcctStatusType::Start, "alice@isp.example");
    assert_eq!(start[0].framed_ipv6_prefix, Some((prefix, 64)));
    assert_eq!(start[0].delegated_ipv6_prefix, Some((delegated, 56)));

    let remote: Ipv6Addr = "2001:db8:ffff::9".parse().expect("remote");
    let host: Ipv6Addr = "2001:db8:2:5::1".parse().expect("host");
    let down = ipv6_packet(remote, host, b"to the delegated prefix");
    assert!(matches!(
        world.kernel_sends(&down),
        Forward::Datagram { .. }
    ));
    assert!(
        world.subs[alice]
            .received
            .iter()
            .any(|(p, payload)| *p == Protocol::Ipv6 && *payload == down),
        "reached the subscriber"
    );
    let slaac: Ipv6Addr = "2001:db8:1:1::5".parse().expect("slaac");
    let up = ipv6_packet(slaac, remote, b"from the link prefix");
    let mut ppp = vec![0x00, 0x57];
    ppp.extend_from_slice(&up);
    world.subscriber_sends(alice, &ppp);
    world.step();
    assert_eq!(world.tun, vec![up]);
    let spoofed = ipv6_packet("2001:db8:3::1".parse().expect("other"), remote, b"no");
    let mut ppp = vec![0x00, 0x57];
    ppp.extend_from_slice(&spoofed);
    world.subscriber_sends(alice, &ppp);
    world.step();
    assert_eq!(world.tun.len(), 1);
    assert_eq!(world.lns_drops.last(), Some(&FastPathDrop::Spoofed));
}
