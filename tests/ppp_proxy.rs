//! Proxy LCP and proxy authentication on the LNS side of `ppp::Link` (RFC
//! 2661 §4.4.5, §18; RFC 1661 §4, §6).
//!
//! Every scenario starts as in the field: a subscriber (a client `Link`,
//! configured as Linux pppd over PPPoE: MRU 1492, Magic-Number) negotiates
//! LCP and authentication with a LAC (a server `Link`); the LAC's
//! negotiation record gives the proxy AVPs; the subscriber is then switched
//! over to the LNS (another server `Link`), which adopts the proxied LCP
//! and either adopts the proxied authentication or challenges again.
//! Frames are delivered at once, in order; timers run in virtual time.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tunnelnas::ppp::auth::{self, AuthDecision, AuthMethod, AuthRequest};
use tunnelnas::ppp::fsm::State;
use tunnelnas::ppp::link::{ProxyLcpRefusal, ProxySide};
use tunnelnas::ppp::ncp::IpcpConfig;
use tunnelnas::ppp::{
    Credentials, Link, LinkConfig, LinkEvent, NegotiationRecord, Phase, Role, SetupStep,
};
use tunnelnas::wire::ppp::control::{Code, ControlMessage, ControlPacket};
use tunnelnas::wire::ppp::{LcpOption, LcpRepr, Protocol};

const USER: &[u8] = b"alice@isp.example";
const PASSWORD: &[u8] = b"s3cret";
const ASSIGNED: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 7);
const LNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const DNS1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

const METHODS: [AuthMethod; 3] = [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2];

/// Our LAC towards the subscriber: it authenticates, runs no NCP (the
/// NCPs are the LNS's).
fn lac_config(method: AuthMethod) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: vec![method],
        ipv4: false,
        ipv6: false,
        ..LinkConfig::default()
    }
}

/// The LNS.
fn lns_config(methods: Vec<AuthMethod>) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: methods,
        ipcp: IpcpConfig {
            local: Some(LNS_ADDRESS),
            ..IpcpConfig::default()
        },
        ..LinkConfig::default()
    }
}

/// A pppd subscriber over PPPoE (MRU 1492, Magic-Number, no compression).
fn subscriber_config(method: AuthMethod) -> LinkConfig {
    LinkConfig {
        auth_methods: vec![method],
        ..LinkConfig::client(Credentials {
            user: USER.to_vec(),
            password: PASSWORD.to_vec(),
        })
    }
}

/// AAA stub: checks the credentials against USER / PASSWORD.
fn decide(request: &AuthRequest) -> AuthDecision {
    let reject = AuthDecision::Reject {
        message: Some("denied".into()),
    };
    let accept = AuthDecision::Accept {
        message: Some("welcome".into()),
        mschapv2_authenticator_response: None,
    };
    match request {
        AuthRequest::Pap { user, password } if user == USER && password.expose() == PASSWORD => {
            accept
        }
        AuthRequest::Chap {
            user,
            id,
            challenge,
            response,
        } if user == USER && auth::verify_chap_md5(*id, PASSWORD, challenge, response) => accept,
        AuthRequest::MsChapV2 {
            user,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            ..
        } if user == USER => match auth::verify_mschapv2(
            user,
            PASSWORD,
            authenticator_challenge,
            peer_challenge,
            nt_response,
        ) {
            Some(ar) => AuthDecision::Accept {
                message: Some("welcome".into()),
                mschapv2_authenticator_response: Some(ar),
            },
            None => reject,
        },
        _ => reject,
    }
}

fn seed(n: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[0] = n;
    seed[31] = 0x5a;
    seed
}

/// One end: its link, what it reported and what it sent.
struct End {
    link: Link,
    events: Vec<LinkEvent>,
    sent: Vec<(Protocol, Vec<u8>)>,
}

impl End {
    fn new(link: Link) -> Self {
        Self {
            link,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }
}

/// A server and a client joined by a perfect wire.
struct Net {
    now: Instant,
    server: End,
    client: End,
    /// The AAA stub answers the server's AuthRequested.
    answer_auth: bool,
    /// Stop moving frames once the client reaches this phase (its queued
    /// frames stay queued: the hand-over from the LAC to the LNS).
    client_stop_at: Option<Phase>,
}

impl Net {
    fn new(now: Instant, server: Link, client: End) -> Self {
        Self {
            now,
            server: End::new(server),
            client,
            answer_auth: true,
            client_stop_at: None,
        }
    }

    fn client_stopped(&self) -> bool {
        self.client_stop_at == Some(self.client.link.phase())
    }

    /// Moves frames and events until nothing moves; no time passes.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 2000];
        loop {
            let mut moved = false;
            while let Some(event) = self.server.link.poll_event() {
                moved = true;
                match &event {
                    LinkEvent::AuthRequested(request) if self.answer_auth => {
                        let decision = decide(request);
                        self.server.link.auth_complete(self.now, decision);
                    }
                    LinkEvent::Authenticated => {
                        self.server
                            .link
                            .assign_ipv4(self.now, ASSIGNED, Some((DNS1, None)));
                    }
                    _ => {}
                }
                self.server.events.push(event);
            }
            while let Some(event) = self.client.link.poll_event() {
                moved = true;
                self.client.events.push(event);
            }
            if self.client_stopped() {
                return;
            }
            while let Some((protocol, len)) = self.server.link.poll_transmit(&mut buf) {
                moved = true;
                let frame = buf[..len].to_vec();
                self.client.link.handle_frame(self.now, protocol, &frame);
                self.server.sent.push((protocol, frame));
                if self.client_stopped() {
                    break;
                }
            }
            if self.client_stopped() {
                continue;
            }
            while let Some((protocol, len)) = self.client.link.poll_transmit(&mut buf) {
                moved = true;
                let frame = buf[..len].to_vec();
                self.server.link.handle_frame(self.now, protocol, &frame);
                self.client.sent.push((protocol, frame));
            }
            if !moved {
                return;
            }
        }
    }

    /// Runs frames and timers for `limit` of virtual time, or until `done`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.pump();
            if done(self) {
                return true;
            }
            let next = [
                self.server.link.poll_timeout(),
                self.client.link.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= end && !self.client_stopped() => {
                    self.now = self.now.max(at);
                    self.server.link.handle_timeout(self.now);
                    self.client.link.handle_timeout(self.now);
                }
                _ => return done(self),
            }
        }
    }
}

/// The subscriber after LCP and authentication with the LAC (its NCP
/// requests queued, not yet sent), and the LAC's negotiation record.
fn subscriber_behind_lac(method: AuthMethod, n: u8) -> (End, NegotiationRecord, Instant) {
    let now = Instant::now();
    let lac = Link::new(lac_config(method), seed(n));
    let subscriber = End::new(Link::new(
        subscriber_config(method),
        seed(n.wrapping_add(100)),
    ));
    let mut net = Net::new(now, lac, subscriber);
    net.client_stop_at = Some(Phase::Network);
    net.server.link.open(now);
    net.client.link.open(now);
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.client_stopped()),
        "{method:?}: subscriber not up with the LAC: {:?}",
        net.client.events
    );
    assert_eq!(net.client.link.lcp_state(), State::Opened);
    assert!(net.client.events.contains(&LinkEvent::Authenticated));
    let record = net
        .server
        .link
        .negotiation_record()
        .expect("the LAC's record")
        .clone();
    (net.client, record, net.now)
}

fn last_sent(record: &NegotiationRecord) -> Vec<u8> {
    record.last_sent_lcp_request.clone().expect("last sent")
}

fn last_received(record: &NegotiationRecord) -> Vec<u8> {
    record
        .last_received_lcp_request
        .clone()
        .expect("last received")
}

fn lcp_sent(end: &End) -> Vec<&Vec<u8>> {
    end.sent
        .iter()
        .filter(|(p, _)| *p == Protocol::Lcp)
        .map(|(_, b)| b)
        .collect()
}

fn network_up_v4(events: &[LinkEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, LinkEvent::NetworkUp { ipv4: Some(_), .. }))
}

fn ipv4_of(events: &[LinkEvent]) -> Option<Ipv4Addr> {
    events.iter().rev().find_map(|e| match e {
        LinkEvent::NetworkUp { ipv4: Some(v4), .. } => Some(v4.local),
        _ => None,
    })
}

/// (a) Adopted LCP, then the proxied authentication: IPCP comes up with
/// the assigned address and the LNS never sent an LCP packet.
#[test]
fn adopted_lcp_and_auth_bring_ipcp_up_without_lcp_packets() {
    for (i, method) in METHODS.into_iter().enumerate() {
        let (subscriber, record, now) = subscriber_behind_lac(method, i as u8 + 1);
        let lns = Link::new(lns_config(vec![method]), seed(i as u8 + 50));
        let mut net = Net::new(now, lns, subscriber);

        let sent = last_sent(&record);
        let received = last_received(&record);
        let checked = net
            .server
            .link
            .proxy_lcp_acceptable(&sent, &received)
            .expect("acceptable");
        let adopted = net
            .server
            .link
            .adopt_proxy_lcp(now, &sent, &received)
            .expect("adopted");
        assert_eq!(checked, adopted);
        assert_eq!(adopted.auth, Some(method));
        assert_eq!((adopted.our_mru(), adopted.peer_mru()), (1492, 1492));
        let lns = &net.server.link;
        assert_eq!(lns.lcp_state(), State::Opened);
        assert_eq!(lns.phase(), Phase::Authenticate);
        assert_eq!(lns.lcp_negotiated(), adopted.negotiated);
        // The LAC's Magic-Number is ours now, the subscriber's is the peer's.
        let client_lcp = net.client.link.lcp_negotiated();
        assert_eq!(lns.lcp_negotiated().our_magic, client_lcp.peer_magic);
        assert_eq!(lns.lcp_negotiated().peer_magic, client_lcp.our_magic);
        assert_ne!(lns.lcp_negotiated().our_magic, 0);
        // The record reflects the adoption.
        let lns_record = lns.pending_negotiation_record().expect("record");
        assert_eq!(lns_record.last_sent_lcp_request, Some(sent.clone()));
        assert_eq!(lns_record.last_received_lcp_request, Some(received.clone()));
        // Nothing sent, nothing timed for LCP.
        let mut buf = [0u8; 1500];
        assert!(net.server.link.poll_transmit(&mut buf).is_none());

        net.server.link.adopt_proxy_auth(now, method, USER);
        assert!(
            net.run_until(Duration::from_secs(10), |n| network_up_v4(&n.server.events)
                && network_up_v4(&n.client.events)),
            "{method:?}: server {:?}\nclient {:?}",
            net.server.events,
            net.client.events
        );
        assert_eq!(ipv4_of(&net.client.events), Some(ASSIGNED));
        assert_eq!(net.server.link.phase(), Phase::Network);
        // The events of a normal successful authentication.
        let events = &net.server.events;
        assert!(events.contains(&LinkEvent::Authenticated));
        assert!(events.contains(&LinkEvent::PhaseChanged {
            from: Phase::Authenticate,
            to: Phase::Network
        }));
        assert!(events.iter().any(|e| matches!(
            e,
            LinkEvent::StepCompleted {
                step: SetupStep::Auth,
                ..
            }
        )));
        assert!(!events.iter().any(|e| matches!(
            e,
            LinkEvent::StepCompleted {
                step: SetupStep::Lcp,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(e, LinkEvent::LcpUp(_))));
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, LinkEvent::AuthRequested(_)))
        );
        // No LCP packet from the LNS before IPCP (none at all here), and no
        // authentication packet either.
        let first_ipcp = net
            .server
            .sent
            .iter()
            .position(|(p, _)| *p == Protocol::Ipcp)
            .expect("IPCP sent");
        assert!(
            !net.server.sent[..first_ipcp]
                .iter()
                .any(|(p, _)| *p == Protocol::Lcp)
        );
        assert!(lcp_sent(&net.server).is_empty());
        assert!(
            !net.server
                .sent
                .iter()
                .any(|(p, _)| matches!(p, Protocol::Pap | Protocol::Chap))
        );
        // The subscriber never renegotiated.
        assert!(!net.client.events.contains(&LinkEvent::Renegotiating));
        let record = net.server.link.negotiation_record().expect("record");
        let auth = record.auth.as_ref().expect("auth record");
        assert_eq!((auth.method, auth.name.as_slice()), (method, USER));
    }
}

/// The subscriber's NCP requests that reach the LNS while it waits for
/// RADIUS are dropped (not Network yet); its retransmissions bring IPCP up
/// once the proxied authentication is adopted.
#[test]
fn ncp_requests_before_the_radius_answer_are_retransmitted() {
    let (subscriber, record, now) = subscriber_behind_lac(AuthMethod::ChapMd5, 7);
    let lns = Link::new(lns_config(vec![AuthMethod::ChapMd5]), seed(70));
    let mut net = Net::new(now, lns, subscriber);
    net.server
        .link
        .adopt_proxy_lcp(now, &last_sent(&record), &last_received(&record))
        .expect("adopted");
    net.pump();
    assert!(net.server.events.iter().any(|e| matches!(
        e,
        LinkEvent::Dropped {
            protocol: Protocol::Ipcp,
            ..
        }
    )));
    // RADIUS answers a second later.
    net.run_until(Duration::from_secs(1), |_| false);
    let now = net.now;
    net.server
        .link
        .adopt_proxy_auth(now, AuthMethod::ChapMd5, USER);
    assert!(
        net.run_until(Duration::from_secs(10), |n| network_up_v4(&n.server.events)
            && network_up_v4(&n.client.events))
    );
    assert!(lcp_sent(&net.server).is_empty());
}

/// (b) Adopted LCP, then our own challenge: a new CHAP (or MS-CHAPv2)
/// Challenge goes out, the subscriber answers, AuthRequested arrives and
/// the link comes up.
#[test]
fn adopted_lcp_then_challenge() {
    for (i, method) in [AuthMethod::ChapMd5, AuthMethod::MsChapV2]
        .into_iter()
        .enumerate()
    {
        let (subscriber, record, now) = subscriber_behind_lac(method, i as u8 + 10);
        let lns = Link::new(lns_config(vec![method]), seed(i as u8 + 60));
        let mut net = Net::new(now, lns, subscriber);
        net.answer_auth = false;
        let adopted = net
            .server
            .link
            .adopt_proxy_lcp(now, &last_sent(&record), &last_received(&record))
            .expect("adopted");
        assert_eq!(adopted.auth, Some(method));
        net.server.link.challenge(now);
        net.pump();
        let challenge = net
            .server
            .sent
            .iter()
            .find(|(p, b)| *p == Protocol::Chap && b.first() == Some(&1))
            .expect("a Challenge");
        let lac_challenge = record.auth.as_ref().expect("LAC auth").challenge.clone();
        let value = &challenge.1[5..5 + usize::from(challenge.1[4])];
        assert_ne!(value, lac_challenge.as_slice(), "a new challenge");
        let request = net
            .server
            .events
            .iter()
            .find_map(|e| match e {
                LinkEvent::AuthRequested(r) => Some(r.clone()),
                _ => None,
            })
            .expect("AuthRequested");
        match (&request, method) {
            (AuthRequest::Chap { user, .. }, AuthMethod::ChapMd5)
            | (AuthRequest::MsChapV2 { user, .. }, AuthMethod::MsChapV2) => {
                assert_eq!(user, USER);
            }
            other => panic!("unexpected request {other:?}"),
        }
        net.server.link.auth_complete(net.now, decide(&request));
        assert!(
            net.run_until(Duration::from_secs(10), |n| network_up_v4(&n.server.events)
                && network_up_v4(&n.client.events)),
            "{method:?}: server {:?}\nclient {:?}",
            net.server.events,
            net.client.events
        );
        assert!(net.server.events.contains(&LinkEvent::Authenticated));
        assert!(lcp_sent(&net.server).is_empty());
        assert!(
            !net.client
                .events
                .iter()
                .any(|e| matches!(e, LinkEvent::Down { .. }))
        );
    }
}

/// PAP: `challenge` can only wait for an Authenticate-Request, which the
/// subscriber (already authenticated by the LAC) never sends: nothing goes
/// out, and the authentication timeout closes the link.
#[test]
fn challenge_with_pap_waits_and_times_out() {
    let (subscriber, record, now) = subscriber_behind_lac(AuthMethod::Pap, 20);
    let lns = Link::new(lns_config(vec![AuthMethod::Pap]), seed(80));
    let mut net = Net::new(now, lns, subscriber);
    net.server
        .link
        .adopt_proxy_lcp(now, &last_sent(&record), &last_received(&record))
        .expect("adopted");
    net.server.link.challenge(now);
    net.pump();
    assert!(
        !net.server
            .sent
            .iter()
            .any(|(p, _)| matches!(p, Protocol::Pap | Protocol::Chap))
    );
    assert!(net.run_until(Duration::from_secs(60), |n| {
        n.server
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. }))
    }));
}

/// Calls out of place do nothing: `challenge` or `adopt_proxy_auth` on a
/// link that adopted nothing, a second adoption, adoption after `open`.
#[test]
fn out_of_place_calls_are_ignored_or_refused() {
    let (_, record, now) = subscriber_behind_lac(AuthMethod::ChapMd5, 30);
    let sent = last_sent(&record);
    let received = last_received(&record);
    let mut dead = Link::new(lns_config(vec![AuthMethod::ChapMd5]), seed(90));
    dead.challenge(now);
    dead.adopt_proxy_auth(now, AuthMethod::ChapMd5, USER);
    assert_eq!(dead.phase(), Phase::Dead);
    let mut buf = [0u8; 1500];
    assert!(dead.poll_transmit(&mut buf).is_none());

    let mut adopted = Link::new(lns_config(vec![AuthMethod::ChapMd5]), seed(91));
    adopted
        .adopt_proxy_lcp(now, &sent, &received)
        .expect("adopted");
    assert_eq!(
        adopted.adopt_proxy_lcp(now, &sent, &received),
        Err(ProxyLcpRefusal::NotDead {
            phase: Phase::Authenticate
        })
    );

    let mut opened = Link::new(lns_config(vec![AuthMethod::ChapMd5]), seed(92));
    opened.renegotiate(now);
    assert_eq!(opened.phase(), Phase::Establish);
    let refusal = opened.adopt_proxy_lcp(now, &sent, &received).unwrap_err();
    assert_eq!(refusal.as_str(), "link_not_dead");

    let client = Link::new(subscriber_config(AuthMethod::ChapMd5), seed(93));
    assert_eq!(
        client.proxy_lcp_acceptable(&sent, &received),
        Err(ProxyLcpRefusal::NotServer)
    );
}

/// Option lists as the wire carries them.
const MRU_1492: [u8; 4] = [1, 4, 0x05, 0xd4];
const CHAP_MD5: [u8; 5] = [3, 5, 0xc2, 0x23, 0x05];
const MSCHAP_V2: [u8; 5] = [3, 5, 0xc2, 0x23, 0x81];
const PAP: [u8; 4] = [3, 4, 0xc0, 0x23];

fn magic(m: u32) -> Vec<u8> {
    let mut option = vec![5, 6];
    option.extend_from_slice(&m.to_be_bytes());
    option
}

fn list(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// What pppd over PPPoE sends (MRU 1492, Magic) and what a LAC asking for
/// CHAP-MD5, MS-CHAPv2 or PAP sends: accepted, with the method recognised.
#[test]
fn pppd_and_lac_option_lists_are_accepted() {
    let lns = Link::new(
        lns_config(vec![
            AuthMethod::MsChapV2,
            AuthMethod::ChapMd5,
            AuthMethod::Pap,
        ]),
        seed(1),
    );
    let subscriber = list(&[&MRU_1492, &magic(0x6b8b_4567)]);
    for (auth, method) in [
        (&CHAP_MD5[..], AuthMethod::ChapMd5),
        (&MSCHAP_V2[..], AuthMethod::MsChapV2),
        (&PAP[..], AuthMethod::Pap),
    ] {
        let lac = list(&[&MRU_1492, auth, &magic(0x327b_23c6)]);
        let adopted = lns.proxy_lcp_acceptable(&lac, &subscriber).expect("ok");
        assert_eq!(adopted.auth, Some(method));
        assert_eq!(adopted.negotiated.auth_required, Some(method));
        assert_eq!((adopted.our_mru(), adopted.peer_mru()), (1492, 1492));
        assert_eq!(adopted.negotiated.our_magic, 0x327b_23c6);
        assert_eq!(adopted.negotiated.peer_magic, 0x6b8b_4567);
    }
    // No authentication on either end when none is configured; a subscriber
    // without MRU option gets 1500, bounded by what the path carries.
    let open = Link::new(lns_config(vec![]), seed(2));
    let adopted = open
        .proxy_lcp_acceptable(&list(&[&MRU_1492, &magic(7)]), &magic(9))
        .expect("ok");
    assert_eq!(adopted.auth, None);
    assert_eq!(adopted.peer_mru(), 1492);
}

/// (c) Each unacceptable case refused with its reason.
#[test]
fn unacceptable_proxy_lcp_is_refused_with_the_reason() {
    let chap = lns_config(vec![AuthMethod::ChapMd5]);
    let lac = list(&[&MRU_1492, &CHAP_MD5, &magic(0x1111_1111)]);
    let subscriber = list(&[&MRU_1492, &magic(0x2222_2222)]);

    // MRU too big for the L2TP path.
    let mut config = chap.clone();
    config.lower_max_payload = 1460;
    config.mru = 1460;
    let lns = Link::new(config, seed(1));
    let refusal = lns.proxy_lcp_acceptable(&lac, &subscriber).unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::SubscriberMruTooLarge {
            mru: 1492,
            limit: 1460
        }
    );
    assert_eq!(
        refusal.to_string(),
        "the subscriber's MRU 1492 exceeds the L2TP path's 1460"
    );
    assert_eq!(refusal.as_str(), "subscriber_mru_too_large");
    // ... and the LAC's MRU, when the subscriber's fits.
    let small = list(&[&[1, 4, 0x05, 0xb4], &magic(0x2222_2222)]);
    let refusal = lns.proxy_lcp_acceptable(&lac, &small).unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::LacMruTooLarge {
            mru: 1492,
            limit: 1460
        }
    );
    assert_eq!(refusal.as_str(), "lac_mru_too_large");
    // A LAC without MRU option asked for 1500.
    let refusal = lns
        .proxy_lcp_acceptable(&list(&[&CHAP_MD5, &magic(1)]), &small)
        .unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::LacMruTooLarge {
            mru: 1500,
            limit: 1460
        }
    );

    let lns = Link::new(chap.clone(), seed(2));
    // Authentication method not configured.
    let pap_only = Link::new(lns_config(vec![AuthMethod::Pap]), seed(3));
    let refusal = pap_only
        .proxy_lcp_acceptable(&lac, &subscriber)
        .unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::AuthNotConfigured {
            protocol: 0xc223,
            algorithm: Some(5)
        }
    );
    assert_eq!(refusal.as_str(), "auth_not_configured");
    assert!(refusal.to_string().contains("CHAP-MD5"), "{refusal}");
    // MS-CHAP v1 is not ours at all.
    let v1 = list(&[&MRU_1492, &[3, 5, 0xc2, 0x23, 0x80], &magic(1)]);
    assert!(matches!(
        lns.proxy_lcp_acceptable(&v1, &subscriber),
        Err(ProxyLcpRefusal::AuthNotConfigured {
            algorithm: Some(0x80),
            ..
        })
    ));
    // Authentication required, the LAC negotiated none.
    let refusal = lns
        .proxy_lcp_acceptable(&list(&[&MRU_1492, &magic(1)]), &subscriber)
        .unwrap_err();
    assert_eq!(refusal, ProxyLcpRefusal::AuthMissing);
    assert_eq!(refusal.as_str(), "auth_missing");
    // No authentication configured, the LAC negotiated some.
    let open = Link::new(lns_config(vec![]), seed(4));
    assert!(matches!(
        open.proxy_lcp_acceptable(&lac, &subscriber),
        Err(ProxyLcpRefusal::AuthNotConfigured { .. })
    ));

    // Unknown option (Callback, RFC 1570) from the subscriber, and
    // Quality-Protocol from the LAC.
    let callback = list(&[&MRU_1492, &magic(2), &[13, 3, 6]]);
    let refusal = lns.proxy_lcp_acceptable(&lac, &callback).unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::UnknownOption {
            side: ProxySide::Subscriber,
            option_type: 13
        }
    );
    assert_eq!(refusal.as_str(), "unknown_option");
    let lqr = list(&[&lac, &[4, 8, 0xc0, 0x25, 0, 0, 0, 10]]);
    assert_eq!(
        lns.proxy_lcp_acceptable(&lqr, &subscriber),
        Err(ProxyLcpRefusal::UnknownOption {
            side: ProxySide::Lac,
            option_type: 4
        })
    );

    // ACFC (and PFC, ACCM) without accept_compression; accepted with it.
    let acfc = list(&[&MRU_1492, &magic(2), &[8, 2], &[7, 2]]);
    let refusal = lns.proxy_lcp_acceptable(&lac, &acfc).unwrap_err();
    assert_eq!(
        refusal,
        ProxyLcpRefusal::Compression {
            side: ProxySide::Subscriber,
            option: "ACFC"
        }
    );
    assert_eq!(refusal.as_str(), "compression");
    assert_eq!(
        refusal.to_string(),
        "the subscriber's ACFC is not accepted (accept_compression is off)"
    );
    let accm = list(&[&[2, 6, 0, 0, 0, 0], &MRU_1492, &magic(2)]);
    assert!(matches!(
        lns.proxy_lcp_acceptable(&lac, &accm),
        Err(ProxyLcpRefusal::Compression { option: "ACCM", .. })
    ));
    let mut config = chap.clone();
    config.accept_compression = true;
    let compressing = Link::new(config, seed(5));
    let adopted = compressing
        .proxy_lcp_acceptable(&lac, &acfc)
        .expect("accepted");
    assert!(adopted.negotiated.peer_acfc && adopted.negotiated.peer_pfc);

    // Magic-Numbers: zero on either side, equal on both.
    assert_eq!(
        lns.proxy_lcp_acceptable(&lac, &list(&[&MRU_1492, &magic(0)])),
        Err(ProxyLcpRefusal::ZeroMagic {
            side: ProxySide::Subscriber
        })
    );
    assert_eq!(
        lns.proxy_lcp_acceptable(&list(&[&CHAP_MD5, &magic(0)]), &subscriber),
        Err(ProxyLcpRefusal::ZeroMagic {
            side: ProxySide::Lac
        })
    );
    let refusal = lns
        .proxy_lcp_acceptable(&lac, &list(&[&MRU_1492, &magic(0x1111_1111)]))
        .unwrap_err();
    assert_eq!(refusal, ProxyLcpRefusal::MagicLoop { magic: 0x1111_1111 });
    // The subscriber asking us to authenticate.
    assert_eq!(
        lns.proxy_lcp_acceptable(&lac, &list(&[&subscriber, &PAP])),
        Err(ProxyLcpRefusal::SubscriberRequestsAuth)
    );
    // An MRU below 128.
    assert_eq!(
        lns.proxy_lcp_acceptable(&lac, &list(&[&[1, 4, 0, 64], &magic(3)])),
        Err(ProxyLcpRefusal::MruTooSmall {
            side: ProxySide::Subscriber,
            mru: 64
        })
    );

    // Malformed lists: truncated, an option Length below 2, a known option
    // with a bad length.
    for bad in [
        &[1, 4, 5][..],
        &[5, 1, 0, 0, 0, 0][..],
        &[5, 0][..],
        &[1, 3, 5][..],
        &[1][..],
        &[3, 9, 0xc2, 0x23, 5][..],
    ] {
        let bad_subscriber = list(&[&MRU_1492, bad]);
        let refusal = lns.proxy_lcp_acceptable(&lac, &bad_subscriber).unwrap_err();
        assert_eq!(
            refusal,
            ProxyLcpRefusal::Malformed {
                side: ProxySide::Subscriber
            },
            "{bad:?}"
        );
        assert_eq!(refusal.as_str(), "malformed");
        let bad_lac = list(&[&lac, bad]);
        assert_eq!(
            lns.proxy_lcp_acceptable(&bad_lac, &subscriber),
            Err(ProxyLcpRefusal::Malformed {
                side: ProxySide::Lac
            })
        );
    }

    // A refused adoption leaves the link Dead and silent; it can still
    // renegotiate.
    let mut link = Link::new(chap, seed(6));
    let now = Instant::now();
    assert!(link.adopt_proxy_lcp(now, &lac, &acfc).is_err());
    assert_eq!(link.phase(), Phase::Dead);
    assert_eq!(link.lcp_state(), State::Initial);
    let mut buf = [0u8; 1500];
    assert!(link.poll_transmit(&mut buf).is_none());
    link.renegotiate(now);
    assert_eq!(link.phase(), Phase::Establish);
    assert_eq!(
        link.poll_transmit(&mut buf)
            .map(|(p, len)| (p, buf[..len][0])),
        Some((Protocol::Lcp, 1))
    );
}

/// Random option lists never panic, and whatever is accepted can be
/// adopted with the same result.
#[test]
fn random_option_lists_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x9e37);
    let mut config = lns_config(vec![AuthMethod::ChapMd5, AuthMethod::Pap]);
    config.accept_compression = true;
    let now = Instant::now();
    let mut accepted = 0;
    for _ in 0..5000 {
        let mut lists = [Vec::new(), Vec::new()];
        for bytes in &mut lists {
            let options = rng.random_range(0..5);
            for _ in 0..options {
                let mru: u16 = rng.random_range(0..2000);
                let option: Vec<u8> = match rng.random_range(0..10) {
                    0 => list(&[&[1, 4], &mru.to_be_bytes()]),
                    1 => CHAP_MD5.to_vec(),
                    2 => PAP.to_vec(),
                    3 | 4 => magic(rng.random_range(0..3)),
                    5 => vec![7, 2],
                    6 => vec![8, 2],
                    7 => vec![13, 3, 6],
                    _ => {
                        let len = rng.random_range(0..8u8);
                        let mut raw = vec![rng.random_range(0..10), len];
                        raw.extend((2..len).map(|_| rng.random::<u8>()));
                        raw
                    }
                };
                bytes.extend_from_slice(&option);
            }
            if rng.random_bool(0.2) && !bytes.is_empty() {
                bytes.truncate(rng.random_range(0..bytes.len()));
            }
        }
        let mut link = Link::new(config.clone(), seed(7));
        let checked = link.proxy_lcp_acceptable(&lists[0], &lists[1]);
        let adopted = link.adopt_proxy_lcp(now, &lists[0], &lists[1]);
        assert_eq!(checked, adopted);
        if let Ok(adopted) = adopted {
            accepted += 1;
            assert_eq!(link.lcp_negotiated(), adopted.negotiated);
            assert_eq!(link.lcp_state(), State::Opened);
        }
    }
    assert!(accepted > 10, "{accepted} accepted");
}

fn echo_request(id: u8, magic: u32) -> Vec<u8> {
    let mut packet = vec![9, id, 0, 12];
    packet.extend_from_slice(&magic.to_be_bytes());
    packet.extend_from_slice(b"ping");
    packet
}

/// (d) After adoption the LNS is an Opened LCP: an Echo-Request from the
/// peer is answered with the adopted Magic-Number, the keepalive runs, a
/// Configure-Request renegotiates (authentication and the NCPs start
/// over) and a Terminate-Request is acknowledged.
#[test]
fn adopted_lcp_answers_echo_and_renegotiates() {
    let (subscriber, record, now) = subscriber_behind_lac(AuthMethod::ChapMd5, 40);
    let mut config = lns_config(vec![AuthMethod::ChapMd5]);
    config.echo_interval = Some(Duration::from_secs(10));
    let lns = Link::new(config, seed(41));
    let mut net = Net::new(now, lns, subscriber);
    let adopted = net
        .server
        .link
        .adopt_proxy_lcp(now, &last_sent(&record), &last_received(&record))
        .expect("adopted");
    let our_magic = adopted.negotiated.our_magic;
    let peer_magic = adopted.negotiated.peer_magic;

    // An Echo-Request straight away (Authentication phase).
    net.server
        .link
        .handle_frame(now, Protocol::Lcp, &echo_request(0x31, peer_magic));
    let mut buf = [0u8; 1500];
    let (protocol, len) = net.server.link.poll_transmit(&mut buf).expect("reply");
    assert_eq!(protocol, Protocol::Lcp);
    let reply = ControlPacket::new_checked(&buf[..len]).expect("LCP");
    assert_eq!((reply.code(), reply.identifier()), (Code::EchoReply, 0x31));
    assert_eq!(reply.data()[..4], our_magic.to_be_bytes());
    assert_eq!(&reply.data()[4..], b"ping");

    net.server
        .link
        .adopt_proxy_auth(now, AuthMethod::ChapMd5, USER);
    assert!(
        net.run_until(Duration::from_secs(10), |n| network_up_v4(&n.server.events)
            && network_up_v4(&n.client.events))
    );
    // A minute of keepalive both ways: every request answered, each end
    // recognising the other's Magic-Number.
    net.run_until(Duration::from_secs(60), |_| false);
    let lns_stats = net.server.link.stats();
    let client_stats = net.client.link.stats();
    assert!(lns_stats.echo_requests_sent >= 5, "{lns_stats:?}");
    assert_eq!(
        lns_stats.echo_replies_received,
        lns_stats.echo_requests_sent
    );
    assert!(client_stats.echo_requests_sent >= 1);
    assert_eq!(
        client_stats.echo_replies_received,
        client_stats.echo_requests_sent
    );
    for frame in lcp_sent(&net.server) {
        let packet = ControlPacket::new_checked(&frame[..]).expect("LCP");
        assert!(matches!(packet.code(), Code::EchoRequest | Code::EchoReply));
        assert_eq!(packet.data()[..4], our_magic.to_be_bytes());
    }
    assert!(
        !net.server
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. }))
    );

    // The subscriber's LCP restarts: a Configure-Request in Opened.
    net.server.events.clear();
    net.client.events.clear();
    let request = LcpRepr::new(
        0x77,
        ControlMessage::ConfigureRequest(vec![
            LcpOption::Mru(1492),
            LcpOption::MagicNumber(peer_magic),
        ]),
    )
    .to_vec()
    .expect("encode");
    let at = net.now;
    net.server.link.handle_frame(at, Protocol::Lcp, &request);
    net.pump();
    assert!(net.server.events.contains(&LinkEvent::Renegotiating));
    assert!(net.server.events.contains(&LinkEvent::NetworkDown {
        protocol: Protocol::Ipcp
    }));
    assert!(
        net.run_until(Duration::from_secs(30), |n| network_up_v4(&n.server.events)
            && network_up_v4(&n.client.events))
    );
    // This time LCP and CHAP ran on the wire, with fresh values.
    assert!(
        net.server
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::AuthRequested(_)))
    );
    assert!(net.server.events.contains(&LinkEvent::Authenticated));
    assert_eq!(ipv4_of(&net.client.events), Some(ASSIGNED));
    assert_eq!(net.server.link.lcp_state(), State::Opened);
    assert_ne!(net.server.link.lcp_negotiated().our_magic, our_magic);
    assert!(
        !net.server
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. }))
    );
    assert!(
        !net.client
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. }))
    );

    // The subscriber hangs up.
    let at = net.now;
    net.client
        .link
        .close(at, tunnelnas::ppp::DownReason::AdminClose);
    assert!(net.run_until(Duration::from_secs(30), |n| {
        n.server
            .events
            .iter()
            .any(|e| matches!(e, LinkEvent::Down { .. }))
    }));
    assert!(net.server.events.contains(&LinkEvent::Down {
        reason: tunnelnas::ppp::DownReason::PeerTerminated
    }));
}

/// A Terminate-Request right after adoption is acknowledged and the link
/// goes down with PeerTerminated (RFC 1661 §5.5).
#[test]
fn terminate_request_after_adoption() {
    let (_, record, now) = subscriber_behind_lac(AuthMethod::MsChapV2, 50);
    let mut lns = Link::new(lns_config(vec![AuthMethod::MsChapV2]), seed(51));
    lns.adopt_proxy_lcp(now, &last_sent(&record), &last_received(&record))
        .expect("adopted");
    lns.handle_frame(now, Protocol::Lcp, &[5, 0x12, 0, 4]);
    let mut buf = [0u8; 1500];
    let (protocol, len) = lns.poll_transmit(&mut buf).expect("Terminate-Ack");
    assert_eq!(
        (protocol, &buf[..len]),
        (Protocol::Lcp, &[6u8, 0x12, 0, 4][..])
    );
    let mut events = Vec::new();
    let mut at = now;
    for _ in 0..10 {
        while let Some(event) = lns.poll_event() {
            events.push(event);
        }
        match lns.poll_timeout() {
            Some(t) => {
                at = at.max(t);
                lns.handle_timeout(at);
            }
            None => break,
        }
    }
    while let Some(event) = lns.poll_event() {
        events.push(event);
    }
    assert!(events.contains(&LinkEvent::Down {
        reason: tunnelnas::ppp::DownReason::PeerTerminated
    }));
}

/// `Automaton::adopt_opened` directly: Opened without a packet, only a
/// StateChanged event (This-Layer-Up is the owner's), refused while
/// negotiating or for a malformed list; afterwards the table runs from
/// Opened (an Echo-Request is answered, a Configure-Request renegotiates).
#[test]
fn automaton_adopt_opened() {
    use tunnelnas::ppp::fsm::{AdoptRefused, Automaton, FsmConfig, FsmEvent};
    use tunnelnas::ppp::lcp::{AuthRole, Lcp, LcpConfig};

    let lcp = |n: u8| {
        Lcp::new(
            LcpConfig {
                auth: AuthRole::Authenticator(vec![AuthMethod::ChapMd5]),
                ..LcpConfig::default()
            },
            StdRng::from_seed(seed(n)),
        )
    };
    let now = Instant::now();
    let ours = list(&[&MRU_1492, &CHAP_MD5, &magic(0xaaaa_0001)]);
    let peer = list(&[&MRU_1492, &magic(0xbbbb_0002)]);
    let mut buf = [0u8; 1500];

    let mut fsm = Automaton::new(lcp(1), FsmConfig::default(), 1);
    fsm.adopt_opened(&ours, &peer).expect("adopted");
    assert_eq!(fsm.state(), State::Opened);
    assert_eq!(fsm.poll_transmit(&mut buf), None);
    assert_eq!(fsm.poll_timeout(), None);
    assert_eq!(
        fsm.poll_event(),
        Some(FsmEvent::StateChanged {
            from: State::Initial,
            to: State::Opened
        })
    );
    assert_eq!(fsm.poll_event(), None);
    assert_eq!(fsm.last_sent_request(), Some(&ours[..]));
    assert_eq!(fsm.last_received_request(), Some(&peer[..]));
    let negotiated = fsm.negotiator().negotiated();
    assert_eq!(
        (negotiated.our_magic, negotiated.peer_magic),
        (0xaaaa_0001, 0xbbbb_0002)
    );
    assert_eq!(negotiated.auth_required, Some(AuthMethod::ChapMd5));
    // Echo-Request answered (ser in Opened).
    assert!(fsm.echo_request_received(now, &[10, 1, 0, 8, 0xaa, 0xaa, 0, 1]));
    assert_eq!(fsm.poll_transmit(&mut buf), Some(8));
    // A second adoption is refused: the layer is up.
    assert_eq!(
        fsm.adopt_opened(&ours, &peer),
        Err(AdoptRefused::State(State::Opened))
    );
    // A Configure-Request renegotiates: tld, scr, sca.
    let request = [&[1u8, 9, 0, 14][..], &MRU_1492, &magic(0xbbbb_0003)].concat();
    fsm.handle_packet(now, &request);
    assert_eq!(fsm.state(), State::AckSent);
    let events: Vec<FsmEvent> = std::iter::from_fn(|| fsm.poll_event()).collect();
    assert!(events.contains(&FsmEvent::Down));
    let codes: Vec<u8> =
        std::iter::from_fn(|| fsm.poll_transmit(&mut buf).map(|_| buf[0])).collect();
    assert_eq!(codes, [1, 2], "our Configure-Request, then the Ack");

    // Refused while negotiating, or with a malformed list.
    let mut negotiating = Automaton::new(lcp(2), FsmConfig::default(), 1);
    negotiating.open(now);
    negotiating.up(now);
    assert_eq!(
        negotiating.adopt_opened(&ours, &peer),
        Err(AdoptRefused::State(State::ReqSent))
    );
    let mut fresh = Automaton::new(lcp(3), FsmConfig::default(), 1);
    assert_eq!(
        fresh.adopt_opened(&ours, &[1, 4, 5]),
        Err(AdoptRefused::MalformedOptions)
    );
    assert_eq!(fresh.state(), State::Initial);
    assert_eq!(fresh.poll_event(), None);
}
