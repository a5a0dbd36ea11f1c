//! The LNS's proxy LCP and proxy authentication policies (RFC 2661
//! §4.4.5): renegotiation of an unacceptable LCP, refusal under
//! `reject-if-unacceptable`, a wrong proxied password, `local-chap` and
//! MS-CHAPv2's re-challenge.

use super::*;

/// An LNS whose MRU (and path) is 1400: the subscriber's 1492 is not
/// acceptable.
fn small_mru_setup(proxy_lcp: ProxyLcp) -> Setup {
    Setup {
        rule: PeerRule {
            name: "lacs".into(),
            proxy_lcp,
            ..PeerRule::default()
        },
        lns_link: LinkConfig {
            mru: 1400,
            lower_max_payload: 1400,
            ..lns_link()
        },
        ..Setup::default()
    }
}

/// Item 3 (8.6): the LNS renegotiates LCP with the subscriber, which
/// authenticates again (to the LNS this time), and the session comes up.
#[test]
fn unacceptable_proxy_lcp_is_renegotiated_and_the_subscriber_reauthenticates() {
    let mut world = World::simple(
        &small_mru_setup(ProxyLcp::Accept),
        AcceptAttributes::default(),
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    let address = world.bring_up(alice);
    assert!(
        world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated)),
        "{:?}",
        world.lns_role_events()
    );
    assert!(!world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted)));
    // The LNS's own Configure-Request, with its MRU 1400 (type 1, length
    // 4, 0x0578), reached the subscriber through the LAC.
    let requests: Vec<_> = world.subs[alice]
        .received
        .iter()
        .filter(|(p, payload)| *p == Protocol::Lcp && payload.first() == Some(&1))
        .collect();
    assert!(
        requests
            .iter()
            .any(|(_, payload)| payload.windows(4).any(|w| w == [1, 4, 0x05, 0x78])),
        "the LNS's Configure-Request with MRU 1400: {requests:?}"
    );
    assert_eq!(
        world.subs[alice].authenticated, 2,
        "authenticated to the LAC, then again to the LNS"
    );
    // The LNS's Access-Request carries the subscriber's own new PAP
    // request (no proxy to verify).
    assert_eq!(world.lns_auth.len(), 1, "{:?}", world.lns_auth);
    assert!(matches!(
        &world.lns_auth[0].1.credentials,
        Credentials::Pap { password } if password == PASSWORD
    ));
    let negotiated = world.subs[alice]
        .link
        .as_ref()
        .expect("link")
        .lcp_negotiated();
    assert!(
        negotiated.peer_mru <= 1400,
        "the subscriber sends at most the LNS's MRU: {negotiated:?}"
    );
    assert_eq!(
        world.lns_records(AcctStatusType::Start, "alice@isp.example")[0].framed_ip_address,
        Some(address)
    );
    let up = ipv4_packet(address, REMOTE, b"after renegotiation");
    world.subscriber_sends_ip(alice, &up);
    world.step();
    assert_eq!(world.tun, vec![up]);
}

/// Item 3 (8.6) under `reject-if-unacceptable`: the call is refused
/// with a CDN and the LAC ends the subscriber.
#[test]
fn unacceptable_proxy_lcp_refuses_the_call_under_reject_if_unacceptable() {
    let mut world = World::simple(
        &small_mru_setup(ProxyLcp::RejectIfUnacceptable),
        AcceptAttributes::default(),
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert!(
        world.run_until(Duration::from_secs(20), |w| w.subs[alice]
            .terminated_by_peer),
        "the LAC ends the subscriber: LAC events {:?}",
        world.lac_events
    );
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Refused)));
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::ProxyLcp)));
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    let result = cdns[0].as_ref().expect("a Result Code");
    assert_eq!(result.result, 2, "{result}");
    assert!(result.error.is_some(), "an error message: {result}");
    assert!(world.lns_auth.is_empty(), "no RADIUS for a refused call");
    assert_eq!(world.lns.session_count(), 0);
    assert!(
        world.lns_session_records().is_empty(),
        "no session accounting: {:?}",
        world.lns_acct
    );
    assert_eq!(world.subs[alice].address, None);
}

/// Item 4 (8.7): RADIUS rejects the proxied credentials: CDN result 2
/// with an error code and message, ProxyAuth(Failed); the LAC ends the
/// subscriber.
#[test]
fn wrong_proxied_password_refuses_the_call_with_cdn_result_2() {
    // The LAC's RADIUS lets the subscriber in with "wrong"; the LNS's
    // knows the real password.
    let mut world = World::new(
        &Setup::default(),
        radius(b"wrong", to_the_lns()),
        radius(PASSWORD, AcceptAttributes::default()),
    );
    let alice = world.add_subscriber("alice@isp.example", b"wrong", &[AuthMethod::Pap]);
    assert!(
        world.run_until(Duration::from_secs(20), |w| w.subs[alice]
            .terminated_by_peer),
        "the LAC ends the subscriber: LNS {:?}, LAC {:?}",
        world.lns_role_events(),
        world.lac_events
    );
    assert_eq!(world.lns_auth.len(), 1);
    assert!(matches!(
        &world.lns_auth[0].1.credentials,
        Credentials::Pap { password } if password == b"wrong"
    ));
    assert!(world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Failed)));
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::ProxyAuth)));
    assert!(!world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Accepted)));
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    let result = cdns[0].as_ref().expect("a Result Code");
    assert_eq!(result.result, 2, "CDN result 2: {result}");
    let error = result.error.as_ref().expect("error code and message");
    assert!(!error.message.is_empty(), "{result}");
    assert_eq!(world.lns.session_count(), 0);
    assert_eq!(world.pool_used(), 0, "no address leased");
    assert!(
        world.lns_session_records().is_empty(),
        "no session accounting: {:?}",
        world.lns_acct
    );
    // The LAC's session ended (Host-Request: the LNS cleared the call).
    assert_eq!(world.lac.session_count(), 0);
    let stop = world
        .lac_acct
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::Stop))
        .expect("the LAC's Stop");
    assert_eq!(
        stop.terminate_cause,
        Some(TerminateCause::HostRequest.into())
    );
}

/// Item 5 (8.8): `local-chap` ignores the proxied CHAP credentials and
/// challenges the subscriber again through the LAC.
#[test]
fn local_chap_sends_a_new_challenge_through_the_lac() {
    let setup = Setup {
        lac_methods: vec![AuthMethod::ChapMd5],
        rule: PeerRule {
            name: "lacs".into(),
            proxy_auth: ProxyAuth::LocalChap,
            ..PeerRule::default()
        },
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::ChapMd5]);
    let address = world.bring_up(alice);
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted)));
    assert!(world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged)));
    assert!(!world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Accepted)));
    // Two CHAP Challenges reached the subscriber: the LAC's and the LNS's.
    let challenges: Vec<_> = world.subs[alice]
        .received
        .iter()
        .filter(|(p, payload)| *p == Protocol::Chap && payload.first() == Some(&1))
        .collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(
        world.subs[alice].got(Protocol::Chap, &[3]),
        "a CHAP Success from the LNS"
    );
    // The one Access-Request at the LNS carries the new response, not
    // the proxied one.
    assert_eq!(world.lns_auth.len(), 1, "{:?}", world.lns_auth);
    let Credentials::Chap {
        id,
        challenge,
        response,
    } = &world.lns_auth[0].1.credentials
    else {
        panic!("CHAP credentials: {:?}", world.lns_auth[0].1.credentials);
    };
    let Credentials::Chap {
        challenge: proxied, ..
    } = &world.lac_auth[0].credentials
    else {
        panic!("CHAP at the LAC");
    };
    assert_ne!(challenge, proxied, "a new challenge, not the LAC's");
    assert_eq!(
        challenge[..],
        challenges[1].1[4 + 1..4 + 1 + challenge.len()]
    );
    assert!(verify_chap_md5(*id, PASSWORD, challenge, response));
    assert_eq!(
        world.lns_records(AcctStatusType::Start, "alice@isp.example")[0].framed_ip_address,
        Some(address)
    );
}

/// Item 6: MS-CHAPv2 has no proxy form: the LNS always challenges again
/// (with MS-CHAP2-Success from its RADIUS), and the subscriber accepts.
#[test]
fn ms_chap_v2_is_always_rechallenged() {
    let setup = Setup {
        lac_methods: vec![AuthMethod::MsChapV2],
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::MsChapV2]);
    world.bring_up(alice);
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted)));
    assert!(world.lns_has(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged)));
    assert_eq!(world.lns_auth.len(), 1, "{:?}", world.lns_auth);
    let Credentials::MsChapV2 {
        authenticator_challenge,
        ..
    } = &world.lns_auth[0].1.credentials
    else {
        panic!("MS-CHAPv2 credentials");
    };
    let Credentials::MsChapV2 {
        authenticator_challenge: lac_challenge,
        ..
    } = &world.lac_auth[0].credentials
    else {
        panic!("MS-CHAPv2 at the LAC");
    };
    assert_ne!(
        authenticator_challenge, lac_challenge,
        "the LNS's own challenge"
    );
    // The LNS's Success (with its authenticator response) reached the
    // subscriber, which verified it: no link failure.
    let successes = world.subs[alice]
        .received
        .iter()
        .filter(|(p, payload)| *p == Protocol::Chap && payload.first() == Some(&3))
        .count();
    assert_eq!(successes, 2, "the LAC's Success, then the LNS's");
    assert!(
        !world.subs[alice]
            .link_events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. })),
        "{:?}",
        world.subs[alice].link_events
    );
}

/// `proxy_lcp = "renegotiate"`: the LNS ignores an acceptable proxy LCP
/// and negotiates LCP and authentication itself.
#[test]
fn renegotiate_policy_always_renegotiates() {
    let setup = Setup {
        rule: PeerRule {
            name: "lacs".into(),
            proxy_lcp: ProxyLcp::Renegotiate,
            ..PeerRule::default()
        },
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    world.bring_up(alice);
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated)));
    assert!(!world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted)));
    assert_eq!(world.subs[alice].authenticated, 2, "again, to the LNS");
    assert_eq!(world.lns_auth.len(), 1);
}

/// The rule's `auth_protocols` lack the method the LAC negotiated (PAP):
/// the proxy LCP is not acceptable, LCP is renegotiated and the
/// subscriber authenticates with CHAP to the LNS.
#[test]
fn a_method_the_rule_does_not_offer_makes_the_lns_renegotiate() {
    let setup = Setup {
        rule: PeerRule {
            name: "lacs".into(),
            auth_methods: Some(vec![AuthMethod::ChapMd5]),
            ..PeerRule::default()
        },
        ..Setup::default()
    };
    let mut world = World::simple(&setup, AcceptAttributes::default());
    let alice = world.add_subscriber(
        "alice@isp.example",
        PASSWORD,
        &[AuthMethod::Pap, AuthMethod::ChapMd5],
    );
    world.bring_up(alice);
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated)));
    assert!(matches!(
        world.lac_auth[0].credentials,
        Credentials::Pap { .. }
    ));
    assert_eq!(world.lns_auth.len(), 1, "{:?}", world.lns_auth);
    assert!(
        matches!(world.lns_auth[0].1.credentials, Credentials::Chap { .. }),
        "CHAP to the LNS: {:?}",
        world.lns_auth[0].1.credentials
    );
}

/// MS-CHAPv2 re-challenged by the LNS with a password its RADIUS
/// rejects: every Response the subscriber sends reaches RADIUS (the
/// Failure's `R=1` retry included), and the call is refused promptly:
/// Failure to the subscriber, CDN result 2, the LAC ends it.
#[test]
fn ms_chap_v2_rechallenge_rejected_by_the_lns_refuses_the_call() {
    let setup = Setup {
        lac_methods: vec![AuthMethod::MsChapV2],
        ..Setup::default()
    };
    let mut world = World::new(
        &setup,
        radius(b"wrong", to_the_lns()),
        radius(PASSWORD, AcceptAttributes::default()),
    );
    let alice = world.add_subscriber("alice@isp.example", b"wrong", &[AuthMethod::MsChapV2]);
    let ended = world.run_until(Duration::from_secs(10), |w| {
        w.subs[alice].terminated_by_peer
    });
    let responses = world
        .lns_events
        .iter()
        .filter(|e| matches!(e, LacEvent::Ppp(LinkEvent::AuthRequested(_))))
        .count();
    assert!(
        world.subs[alice].got(Protocol::Chap, &[4]),
        "a CHAP Failure"
    );
    assert_eq!(
        world.lns_auth.len(),
        responses,
        "every MS-CHAPv2 Response the LNS's link took went to RADIUS"
    );
    assert!(
        ended,
        "the call is refused promptly, not after the authentication timeout: LNS sessions {:?}",
        world.lns.sessions(world.now)
    );
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    assert_eq!(cdns[0].as_ref().map(|r| r.result), Some(2));
    assert!(
        world
            .lns_events
            .contains(&LacEvent::SetupFailed(SetupFailure::RadiusReject))
    );
    assert!(world.lns_session_records().is_empty());
    assert_eq!(world.pool_used(), 0);
    assert_eq!(world.lns.session_count(), 0);
}

/// The same rejection at the LAC (its own RADIUS rejects an MS-CHAPv2
/// subscriber): the retried Response reaches RADIUS and the subscriber
/// is refused promptly.
#[test]
fn ms_chap_v2_rejected_at_the_lac_is_refused_promptly() {
    let setup = Setup {
        lac_methods: vec![AuthMethod::MsChapV2],
        ..Setup::default()
    };
    let mut world = World::new(
        &setup,
        radius(PASSWORD, to_the_lns()),
        radius(PASSWORD, AcceptAttributes::default()),
    );
    let alice = world.add_subscriber("alice@isp.example", b"wrong", &[AuthMethod::MsChapV2]);
    let ended = world.run_until(Duration::from_secs(10), |w| {
        w.subs[alice].terminated_by_peer
    });
    let responses = world
        .lac_events
        .iter()
        .filter(|e| matches!(e, LacEvent::Ppp(LinkEvent::AuthRequested(_))))
        .count();
    assert_eq!(
        world.lac_auth.len(),
        responses,
        "every MS-CHAPv2 Response went to RADIUS"
    );
    assert!(
        ended,
        "refused promptly: LAC sessions {:?}",
        world.lac.sessions(world.now)
    );
    assert!(world.lns_auth.is_empty());
}

/// `local-chap` with a password the LNS's RADIUS rejects: CHAP Failure
/// to the subscriber, CDN result 2 ("PPP authentication failed").
#[test]
fn local_chap_rejected_by_the_lns_refuses_the_call() {
    let setup = Setup {
        lac_methods: vec![AuthMethod::ChapMd5],
        rule: PeerRule {
            name: "lacs".into(),
            proxy_auth: ProxyAuth::LocalChap,
            ..PeerRule::default()
        },
        ..Setup::default()
    };
    let mut world = World::new(
        &setup,
        radius(b"wrong", to_the_lns()),
        radius(PASSWORD, AcceptAttributes::default()),
    );
    let alice = world.add_subscriber("alice@isp.example", b"wrong", &[AuthMethod::ChapMd5]);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.subs[alice]
            .terminated_by_peer),
        "refused promptly: {:?}",
        world.lns.sessions(world.now)
    );
    assert!(
        world.subs[alice].got(Protocol::Chap, &[4]),
        "a CHAP Failure"
    );
    assert_eq!(world.lns_auth.len(), 1);
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    assert_eq!(cdns[0].as_ref().map(|r| r.result), Some(2));
    assert!(world.lns_session_records().is_empty());
    assert_eq!(world.lns.session_count(), 0);
}

/// Renegotiated LCP (the LNS authenticates with PAP itself) and no
/// address: PAP Nak, CDN result 2, nothing leased.
#[test]
fn no_address_after_renegotiation_refuses_the_call() {
    let mut setup = small_mru_setup(ProxyLcp::Accept);
    setup.pools = vec![pool("10.64.0.7/32")];
    let mut world = World::simple(
        &setup,
        AcceptAttributes {
            framed_pool: Some("nowhere".into()),
            ..AcceptAttributes::default()
        },
    );
    let alice = world.add_subscriber("alice@isp.example", PASSWORD, &[AuthMethod::Pap]);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.subs[alice]
            .terminated_by_peer),
        "refused promptly: {:?}",
        world.lns.sessions(world.now)
    );
    assert!(world.lns_has(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated)));
    assert!(world.lns_has(LnsEvent::Refused(LnsRefusal::NoAddress)));
    assert!(
        world.subs[alice].got(Protocol::Pap, &[3]),
        "a PAP Nak from the LNS"
    );
    let cdns = world.cdns_at_lac();
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    assert_eq!(cdns[0].as_ref().map(|r| r.result), Some(2));
    assert_eq!(world.pool_used(), 0);
    assert_eq!(world.lns.session_count(), 0);
}
