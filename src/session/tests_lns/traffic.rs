//! End to end through the LAC to the LNS: proxy LCP adopted, proxied
//! credentials verified, the address by IPCP, IP both ways through TUN,
//! anti-spoofing, routes.

use super::*;

/// Item 1, for PAP or CHAP: brings one subscriber up and checks what the
/// LNS asked RADIUS, the events, Accounting-Start and IP both ways.
fn end_to_end(method: AuthMethod) {
    let setup = Setup {
        lac_methods: vec![method],
        ..Setup::default()
    };
    let mut world = World::simple(
        &setup,
        AcceptAttributes {
            class: vec![b"lns-class".to_vec()],
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[method]);
    let address = world.bring_up(alice);

    // The LNS verified the proxied credentials: one Access-Request, from
    // the proxy AVPs, without a PPP exchange of its own.
    assert_eq!(world.lns_auth.len(), 1, "{:?}", world.lns_auth);
    let (group, request) = &world.lns_auth[0];
    assert_eq!(group, "lns-auth");
    assert_eq!(request.user_name, "alice@isp.example");
    match (method, &request.credentials, &world.lac_auth[0].credentials) {
        (AuthMethod::Pap, Credentials::Pap { password }, _) => {
            assert_eq!(password, PASSWORD, "the proxied PAP password");
        }
        (
            AuthMethod::ChapMd5,
            Credentials::Chap {
                id,
                challenge,
                response,
            },
            Credentials::Chap {
                id: lac_id,
                challenge: lac_challenge,
                response: lac_response,
            },
        ) => {
            assert_eq!(
                (id, challenge, response),
                (lac_id, lac_challenge, lac_response),
                "the LAC's CHAP exchange, proxied"
            );
            assert!(verify_chap_md5(*id, PASSWORD, challenge, response));
        }
        (_, credentials, _) => panic!("{method:?}: unexpected credentials {credentials:?}"),
    }
    assert_eq!(
        request.session.nas_port_type,
        Some(u32::from(NasPortType::Virtual)),
        "NAS-Port-Type Virtual"
    );
    assert_eq!(
        request.session.calling_station_id.as_deref(),
        Some("02:00:00:00:01:01"),
        "Calling-Station-Id is the LAC's Calling Number (the MAC)"
    );
    let tunnel = request.tunnel.as_ref().expect("RFC 2868 tunnel attributes");
    assert_eq!(tunnel.client_endpoint, Some(LAC_ADDR.ip()), "{tunnel:?}");
    assert_eq!(tunnel.server_endpoint, Some(LNS_ADDR.ip()), "{tunnel:?}");

    // The pool's first address, by IPCP.
    assert_eq!(address, Ipv4Addr::new(10, 64, 0, 1));
    let view = world.lns.sessions(world.now);
    assert_eq!(view.len(), 1);
    assert_eq!(view[0].role, "lns");
    assert_eq!(view[0].ipv4_address.as_deref(), Some("10.64.0.1"));
    assert_eq!(view[0].peer, Some(LAC_ADDR.to_string()));
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted)));
    assert!(world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Accepted)));
    assert!(
        !world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged)),
        "{:?}",
        world.lns_role_events()
    );
    assert_eq!(
        world.subs[alice].authenticated, 1,
        "the subscriber authenticated once, to the LAC"
    );

    let start = world.lns_records(AcctStatusType::Start, "alice@isp.example");
    assert_eq!(start.len(), 1, "{:?}", world.lns_acct);
    assert_eq!(start[0].framed_ip_address, Some(address));
    assert_eq!(start[0].class, vec![b"lns-class".to_vec()]);
    assert_eq!(
        start[0].session.nas_port_type,
        Some(u32::from(NasPortType::Virtual))
    );

    // Subscriber → the kernel, byte-exact.
    let up = ipv4_packet(address, REMOTE, b"hello from alice");
    world.subscriber_sends_ip(alice, &up);
    world.step();
    assert_eq!(world.tun, vec![up.clone()], "the packet reached TUN");
    assert!(world.lns_drops.is_empty(), "{:?}", world.lns_drops);

    // The kernel → subscriber.
    let down = ipv4_packet(REMOTE, address, b"hello, alice");
    assert!(matches!(
        world.kernel_sends(&down),
        Forward::Datagram { to, .. } if to == LAC_ADDR
    ));
    assert!(
        world.subs[alice]
            .received
            .iter()
            .any(|(p, payload)| *p == Protocol::Ipv4 && *payload == down),
        "the packet reached the subscriber"
    );
    let snapshot = world.lns.lns_snapshot().expect("LNS");
    assert_eq!(snapshot.to_tun.packets, 1);
    assert_eq!(snapshot.from_tun.packets, 1);
    assert_eq!(snapshot.peer_sessions, vec![("lacs".to_owned(), 1)]);
}

#[test]
fn pap_subscriber_comes_up_through_the_lac_with_proxy_lcp_and_proxy_auth() {
    end_to_end(AuthMethod::Pap);
}

#[test]
fn chap_subscriber_comes_up_through_the_lac_with_proxy_lcp_and_proxy_auth() {
    end_to_end(AuthMethod::ChapMd5);
}

/// Item 7 (8.10): a subscriber's packet with another source is dropped
/// and counted; a packet from TUN for no session is `NoRoute`, counted.
#[test]
fn spoofed_sources_and_unrouted_destinations_are_dropped_and_counted() {
    let mut world = World::simple(&Setup::default(), AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);

    let spoofed = ipv4_packet(Ipv4Addr::new(10, 64, 0, 99), REMOTE, b"not mine");
    world.subscriber_sends_ip(alice, &spoofed);
    world.step();
    assert!(world.tun.is_empty(), "a spoofed packet reached TUN");
    assert_eq!(world.lns_drops, vec![FastPathDrop::Spoofed]);
    assert_eq!(world.lns.lns_snapshot().expect("LNS").spoofed, 1);

    // Its own source still passes.
    let fine = ipv4_packet(address, REMOTE, b"mine");
    world.subscriber_sends_ip(alice, &fine);
    world.step();
    assert_eq!(world.tun, vec![fine]);

    let nowhere = ipv4_packet(REMOTE, Ipv4Addr::new(10, 64, 0, 200), b"for nobody");
    assert_eq!(
        world.kernel_sends(&nowhere),
        Forward::Dropped(FastPathDrop::NoRoute)
    );
    let snapshot = world.lns.lns_snapshot().expect("LNS");
    assert_eq!(snapshot.no_route, 1);
    assert_eq!(snapshot.spoofed, 1);
    assert_eq!(snapshot.to_tun.packets, 1);
}

/// Item 10: a Framed-Route is installed and routed to the subscriber.
#[test]
fn framed_route_is_installed_and_routes_to_the_subscriber() {
    let route = crate::aaa::attributes::parse_framed_route(b"10.99.0.0/24 0.0.0.0 1")
        .expect("Framed-Route");
    let mut world = World::simple(
        &Setup::default(),
        AcceptAttributes {
            framed_routes: vec![route],
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    let net: ipnet::IpNet = "10.99.0.0/24".parse().expect("net");
    assert_eq!(world.routes, vec![RouteChange::Add(net)]);
    let view = &world.lns.sessions(world.now)[0];
    assert_eq!(view.framed_routes, vec!["10.99.0.0/24".to_owned()]);

    let down = ipv4_packet(REMOTE, Ipv4Addr::new(10, 99, 0, 5), b"behind alice");
    assert!(matches!(
        world.kernel_sends(&down),
        Forward::Datagram { .. }
    ));
    assert!(
        world.subs[alice]
            .received
            .iter()
            .any(|(p, payload)| *p == Protocol::Ipv4 && *payload == down),
        "the routed packet reached the subscriber"
    );
    // The routed prefix may source packets too.
    let up = ipv4_packet(Ipv4Addr::new(10, 99, 0, 5), REMOTE, b"from behind alice");
    world.subscriber_sends_ip(alice, &up);
    world.step();
    assert_eq!(world.tun, vec![up]);
    let _ = address;
}

/// RFC 2867 §4.1 at the LNS: the tunnel the LAC opened is recorded with
/// the LAC as Tunnel-Client-Endpoint (the initiator, RFC 2868 §3.3) and
/// the LNS as Tunnel-Server-Endpoint, as the session's own records are.
#[test]
fn lns_tunnel_records_name_the_lac_as_tunnel_client() {
    let mut world = World::simple(&Setup::default(), AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    let link = world
        .lns_records(AcctStatusType::TunnelLinkStart, "alice@isp.example")
        .first()
        .and_then(|r| r.tunnel.clone())
        .expect("Tunnel-Link-Start");
    assert_eq!(link.client_endpoint, Some(LAC_ADDR.ip()), "{link:?}");
    assert_eq!(link.server_endpoint, Some(LNS_ADDR.ip()), "{link:?}");
    let start = world
        .lns_acct
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::TunnelStart))
        .and_then(|r| r.tunnel.clone())
        .expect("Tunnel-Start at the LNS");
    assert_eq!(
        start.client_endpoint,
        Some(LAC_ADDR.ip()),
        "Tunnel-Client-Endpoint is the LAC: {start:?}"
    );
    assert_eq!(
        start.server_endpoint,
        Some(LNS_ADDR.ip()),
        "Tunnel-Server-Endpoint is the LNS: {start:?}"
    );
    assert_eq!(
        start.client_auth_id.as_deref(),
        Some("tunnelnas"),
        "Tunnel-Client-Auth-ID is the LAC's Host Name: {start:?}"
    );
}

/// Two subscribers on one tunnel: each gets its own address, packets
/// from the kernel reach the right one, and one cannot use the other's
/// address.
#[test]
fn two_subscribers_are_kept_apart() {
    let mut world = World::simple(&Setup::default(), AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let a = world.bring_up(alice);
    let bob = world.add_subscriber("bob@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let b = world.bring_up(bob);
    assert_ne!(a, b);
    assert_eq!(world.endpoint_tunnels(), 1, "one tunnel carries both calls");
    let to_bob = ipv4_packet(REMOTE, b, b"for bob");
    world.kernel_sends(&to_bob);
    let got = |w: &World, i: usize, p: &[u8]| {
        w.subs[i]
            .received
            .iter()
            .any(|(proto, payload)| *proto == Protocol::Ipv4 && payload == p)
    };
    assert!(got(&world, bob, &to_bob));
    assert!(!got(&world, alice, &to_bob));
    let as_bob = ipv4_packet(b, REMOTE, b"alice pretending");
    world.subscriber_sends_ip(alice, &as_bob);
    world.step();
    assert!(world.tun.is_empty(), "{:?}", world.tun);
    assert_eq!(world.lns_drops, vec![FastPathDrop::Spoofed]);
    assert_eq!(
        world
            .lns_records(AcctStatusType::Start, "bob@isp.example")
            .len(),
        1
    );
}

impl World {
    fn endpoint_tunnels(&self) -> usize {
        self.lns.endpoint().tunnel_count()
    }
}
