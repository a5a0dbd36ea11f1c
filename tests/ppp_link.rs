//! `ppp::Link`, server against client, in virtual time over a simulated
//! link with seeded loss, duplication and reordering (RFC 1661, 1332,
//! 1877, 5072; authentication through `ppp::auth`).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tunnelnas::ppp::auth::{self, AuthDecision, AuthMethod, AuthRequest};
use tunnelnas::ppp::fsm::State;
use tunnelnas::ppp::ncp::IpcpConfig;
use tunnelnas::ppp::{
    Credentials, DownReason, Link, LinkConfig, LinkEvent, Phase, Role, SetupStep,
};
use tunnelnas::wire::ppp::control::{ControlMessage, ControlPacket};
use tunnelnas::wire::ppp::{IpcpOption, Ipv6cpOption, LcpOption, LcpRepr, Protocol};

const USER: &[u8] = b"alice@isp.example";
const PASSWORD: &[u8] = b"s3cret";
const ASSIGNED: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 7);
const SERVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const DNS1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
const DNS2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 54);

fn server_config(methods: Vec<AuthMethod>) -> LinkConfig {
    LinkConfig {
        role: Role::Server,
        auth_methods: methods,
        ipcp: IpcpConfig {
            local: Some(SERVER_ADDRESS),
            ..IpcpConfig::default()
        },
        ..LinkConfig::default()
    }
}

fn client_config(methods: Vec<AuthMethod>) -> LinkConfig {
    LinkConfig {
        auth_methods: methods,
        ..LinkConfig::client(Credentials {
            user: USER.to_vec(),
            password: PASSWORD.to_vec(),
        })
    }
}

/// AAA stub: checks the credentials against USER / PASSWORD.
fn decide(request: &AuthRequest) -> AuthDecision {
    let accept = match request {
        AuthRequest::Pap { user, password } => user == USER && password.expose() == PASSWORD,
        AuthRequest::Chap {
            user,
            id,
            challenge,
            response,
        } => user == USER && auth::verify_chap_md5(*id, PASSWORD, challenge, response),
        AuthRequest::MsChapV2 {
            user,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            ..
        } => {
            if user != USER {
                false
            } else if let Some(ar) = auth::verify_mschapv2(
                user,
                PASSWORD,
                authenticator_challenge,
                peer_challenge,
                nt_response,
            ) {
                return AuthDecision::Accept {
                    message: Some("welcome".into()),
                    mschapv2_authenticator_response: Some(ar),
                };
            } else {
                false
            }
        }
    };
    if accept {
        AuthDecision::Accept {
            message: Some("welcome".into()),
            mschapv2_authenticator_response: None,
        }
    } else {
        AuthDecision::Reject {
            message: Some("denied".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Server,
    Client,
}

struct Flight {
    at: Instant,
    seq: u64,
    to: To,
    protocol: Protocol,
    bytes: Vec<u8>,
}

/// Two links joined by a simulated wire.
struct Pair {
    server: Link,
    client: Link,
    now: Instant,
    rng: StdRng,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    /// When false, nothing is delivered (a dead wire).
    connected: bool,
    flights: Vec<Flight>,
    seq: u64,
    server_events: Vec<LinkEvent>,
    client_events: Vec<LinkEvent>,
    /// Frames each side sent, with their time.
    server_sent: Vec<(Instant, Protocol, Vec<u8>)>,
    client_sent: Vec<(Instant, Protocol, Vec<u8>)>,
    assign_on_auth: bool,
    /// Whether the AAA stub answers AuthRequested.
    answer_auth: bool,
}

impl Pair {
    fn new(server: LinkConfig, client: LinkConfig, seed: u64) -> Self {
        let mut seeds = StdRng::seed_from_u64(seed);
        let mut s1 = [0u8; 32];
        let mut s2 = [0u8; 32];
        seeds.fill_bytes(&mut s1);
        seeds.fill_bytes(&mut s2);
        Self {
            server: Link::new(server, s1),
            client: Link::new(client, s2),
            now: Instant::now(),
            rng: seeds,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            connected: true,
            flights: Vec::new(),
            seq: 0,
            server_events: Vec::new(),
            client_events: Vec::new(),
            server_sent: Vec::new(),
            client_sent: Vec::new(),
            assign_on_auth: true,
            answer_auth: true,
        }
    }

    fn lossy(mut self) -> Self {
        self.loss = 0.2;
        self.duplicate = 0.1;
        self.reorder = 0.2;
        self
    }

    fn open(&mut self) {
        self.server.open(self.now);
        self.client.open(self.now);
        self.pump();
    }

    /// Moves frames and events; no time passes.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 2000];
        loop {
            let mut moved = false;
            while let Some((protocol, len)) = self.server.poll_transmit(&mut buf) {
                moved = true;
                self.server_sent
                    .push((self.now, protocol, buf[..len].to_vec()));
                self.launch(To::Client, protocol, buf[..len].to_vec());
            }
            while let Some((protocol, len)) = self.client.poll_transmit(&mut buf) {
                moved = true;
                self.client_sent
                    .push((self.now, protocol, buf[..len].to_vec()));
                self.launch(To::Server, protocol, buf[..len].to_vec());
            }
            while let Some(event) = self.server.poll_event() {
                moved = true;
                match &event {
                    LinkEvent::AuthRequested(request) if self.answer_auth => {
                        let decision = decide(request);
                        self.server.auth_complete(self.now, decision);
                    }
                    LinkEvent::Authenticated if self.assign_on_auth => {
                        self.server
                            .assign_ipv4(self.now, ASSIGNED, Some((DNS1, Some(DNS2))));
                    }
                    LinkEvent::LcpUp(n) if self.assign_on_auth && n.auth_required.is_none() => {
                        self.server
                            .assign_ipv4(self.now, ASSIGNED, Some((DNS1, Some(DNS2))));
                    }
                    _ => {}
                }
                self.server_events.push(event);
            }
            while let Some(event) = self.client.poll_event() {
                moved = true;
                self.client_events.push(event);
            }
            if !moved {
                break;
            }
        }
    }

    fn launch(&mut self, to: To, protocol: Protocol, bytes: Vec<u8>) {
        if !self.connected || self.rng.random_bool(self.loss) {
            return;
        }
        let copies = if self.rng.random_bool(self.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = Duration::from_millis(5);
            if self.rng.random_bool(self.reorder) {
                delay += Duration::from_millis(self.rng.random_range(1..40));
            }
            self.seq += 1;
            self.flights.push(Flight {
                at: self.now + delay,
                seq: self.seq,
                to,
                protocol,
                bytes: bytes.clone(),
            });
        }
    }

    /// Advances to the next delivery or timer; false when nothing is left.
    fn step(&mut self) -> bool {
        self.pump();
        let next_flight = self.flights.iter().map(|f| (f.at, f.seq)).min();
        let next_timer = [self.server.poll_timeout(), self.client.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let deliver = match (next_flight, next_timer) {
            (None, None) => return false,
            (Some((at, _)), Some(timer)) => at <= timer,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if deliver {
            let Some((at, seq)) = next_flight else {
                return false;
            };
            let index = self
                .flights
                .iter()
                .position(|f| f.seq == seq)
                .expect("flight exists");
            let flight = self.flights.swap_remove(index);
            self.now = self.now.max(at);
            match flight.to {
                To::Server => self
                    .server
                    .handle_frame(self.now, flight.protocol, &flight.bytes),
                To::Client => self
                    .client
                    .handle_frame(self.now, flight.protocol, &flight.bytes),
            }
        } else if let Some(timer) = next_timer {
            self.now = self.now.max(timer);
            self.server.handle_timeout(self.now);
            self.client.handle_timeout(self.now);
        }
        self.pump();
        true
    }

    /// Runs until `done` holds or virtual time passes `limit`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    fn both_network_up(&self, ipv4: bool, ipv6: bool) -> bool {
        let full = |events: &[LinkEvent]| {
            events.iter().any(|e| {
                matches!(e, LinkEvent::NetworkUp { ipv4: a, ipv6: b }
                    if a.is_some() == ipv4 && b.is_some() == ipv6)
            })
        };
        full(&self.server_events) && full(&self.client_events)
    }
}

fn down_reason(events: &[LinkEvent]) -> Option<DownReason> {
    events.iter().find_map(|e| match e {
        LinkEvent::Down { reason } => Some(*reason),
        _ => None,
    })
}

fn last_network(events: &[LinkEvent]) -> Option<&LinkEvent> {
    events
        .iter()
        .rev()
        .find(|e| matches!(e, LinkEvent::NetworkUp { .. }))
}

fn assert_addresses(pair: &Pair) {
    let Some(LinkEvent::NetworkUp {
        ipv4: Some(client4),
        ipv6: Some(client6),
    }) = last_network(&pair.client_events)
    else {
        panic!("client not fully up: {:?}", pair.client_events);
    };
    let Some(LinkEvent::NetworkUp {
        ipv4: Some(server4),
        ipv6: Some(server6),
    }) = last_network(&pair.server_events)
    else {
        panic!("server not fully up");
    };
    assert_eq!(client4.local, ASSIGNED);
    assert_eq!(client4.peer, SERVER_ADDRESS);
    assert_eq!(client4.primary_dns, Some(DNS1));
    assert_eq!(client4.secondary_dns, Some(DNS2));
    assert_eq!(server4.local, SERVER_ADDRESS);
    assert_eq!(server4.peer, ASSIGNED);
    assert_ne!(client6.local_interface_id, [0; 8]);
    assert_ne!(client6.local_interface_id, client6.peer_interface_id);
    assert_eq!(client6.local_interface_id, server6.peer_interface_id);
    assert_eq!(client6.peer_interface_id, server6.local_interface_id);
}

#[test]
fn bring_up_without_authentication_clean_wire() {
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 1);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    assert_addresses(&pair);
    assert_eq!(pair.server.phase(), Phase::Network);
    assert_eq!(pair.client.phase(), Phase::Network);
    // The client sends no MRU (1500 is the default), yet the server never
    // sends more than PPPoE carries.
    assert_eq!(pair.server.lcp_negotiated().peer_mru, 1492);
    // No authentication was negotiated: the record has none.
    let record = pair.server.negotiation_record().expect("record");
    assert!(record.auth.is_none());
}

#[test]
fn bring_up_each_auth_method_over_lossy_wire() {
    for method in [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        for seed in 0..8 {
            let mut pair = Pair::new(
                server_config(vec![method]),
                client_config(vec![method]),
                100 + seed,
            )
            .lossy();
            pair.open();
            let up = pair.run_until(Duration::from_secs(120), |p| p.both_network_up(true, true));
            assert!(
                up,
                "{method:?} seed {seed}: server {:?}\nclient {:?}",
                pair.server_events, pair.client_events
            );
            // Let the retransmissions and duplicates in flight settle.
            pair.run_until(Duration::from_secs(20), |_| false);
            assert!(down_reason(&pair.server_events).is_none());
            assert!(down_reason(&pair.client_events).is_none());
            assert_eq!(pair.server.lcp_negotiated().auth_required, Some(method));
            assert_eq!(pair.client.lcp_negotiated().auth_to_peer, Some(method));
            assert!(pair.server_events.contains(&LinkEvent::Authenticated));
            assert!(pair.client_events.contains(&LinkEvent::Authenticated));
            assert_addresses(&pair);
            let record = pair.server.negotiation_record().expect("record");
            let auth = record.auth.as_ref().expect("auth record");
            assert_eq!(auth.method, method);
            assert_eq!(auth.name, USER);
            match method {
                AuthMethod::Pap => {
                    assert_eq!(auth.response, PASSWORD);
                    assert!(auth.challenge.is_empty());
                }
                AuthMethod::ChapMd5 => {
                    assert_eq!(auth.challenge.len(), 16);
                    assert_eq!(
                        auth.response,
                        auth::chap_md5_response(auth.id, PASSWORD, &auth.challenge)
                    );
                }
                AuthMethod::MsChapV2 => {
                    assert_eq!(auth.challenge.len(), 16);
                    assert_eq!(auth.response.len(), 49);
                }
            }
        }
    }
}

#[test]
fn wrong_password_goes_down_with_auth_failed() {
    for method in [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let mut client = client_config(vec![method]);
        client.credentials = Some(Credentials {
            user: USER.to_vec(),
            password: b"wrong".to_vec(),
        });
        let mut pair = Pair::new(server_config(vec![method]), client, 7);
        pair.open();
        pair.run_until(Duration::from_secs(200), |p| {
            down_reason(&p.server_events).is_some() && down_reason(&p.client_events).is_some()
        });
        assert_eq!(
            down_reason(&pair.server_events),
            Some(DownReason::AuthFailed),
            "{method:?}"
        );
        assert!(!pair.server_events.contains(&LinkEvent::Authenticated));
        assert_eq!(pair.server.phase(), Phase::Dead);
    }
}

#[test]
fn auth_protocol_falls_back_on_configure_nak() {
    // The client only does PAP: the server's CHAP and MS-CHAPv2 are Nak'd
    // with PAP, which the server offers too.
    let mut pair = Pair::new(
        server_config(vec![
            AuthMethod::ChapMd5,
            AuthMethod::MsChapV2,
            AuthMethod::Pap,
        ]),
        client_config(vec![AuthMethod::Pap]),
        3,
    );
    pair.open();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.both_network_up(true, true)));
    assert_eq!(
        pair.server.lcp_negotiated().auth_required,
        Some(AuthMethod::Pap)
    );
    // The client's Nak suggested PAP directly: the server's second request
    // asks for PAP, skipping MS-CHAPv2.
    let requests: Vec<Vec<LcpOption>> = pair
        .server_sent
        .iter()
        .filter(|(_, p, _)| *p == Protocol::Lcp)
        .filter_map(|(_, _, b)| match LcpRepr::parse_bytes(b).ok()?.message {
            ControlMessage::ConfigureRequest(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].contains(&LcpOption::auth(tunnelnas::wire::ppp::AuthMethod::ChapMd5)));
    assert!(requests[1].contains(&LcpOption::auth(tunnelnas::wire::ppp::AuthMethod::Pap)));

    // A client that supports none of them: the server runs out and fails.
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::ChapMd5, AuthMethod::MsChapV2]),
        client_config(vec![AuthMethod::Pap]),
        4,
    );
    pair.open();
    pair.run_until(Duration::from_secs(60), |p| {
        down_reason(&p.server_events).is_some()
    });
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::Lcp
        })
    );
}

#[test]
fn peer_that_never_answers_hits_max_configure() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::Pap]),
        client_config(vec![]),
        5,
    );
    pair.connected = false;
    pair.server.open(pair.now);
    let start = pair.now;
    assert!(pair.run_until(Duration::from_secs(120), |p| {
        down_reason(&p.server_events).is_some()
    }));
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::Lcp
        })
    );
    let requests = pair
        .server_sent
        .iter()
        .filter(|(_, p, b)| *p == Protocol::Lcp && b[0] == 1)
        .count();
    assert_eq!(requests, 10, "Max-Configure transmissions");
    // Ten Restart periods of 3 s.
    assert_eq!(pair.now - start, Duration::from_secs(30));
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn retransmissions_use_the_restart_timer() {
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 6);
    pair.connected = false;
    pair.server.open(pair.now);
    pair.run_until(Duration::from_secs(7), |_| false);
    let times: Vec<Duration> = pair
        .server_sent
        .iter()
        .map(|(t, _, _)| *t - pair.server_sent[0].0)
        .collect();
    assert_eq!(
        times[..3],
        [
            Duration::ZERO,
            Duration::from_secs(3),
            Duration::from_secs(6)
        ]
    );
    // Each retransmission carries a new Identifier (RFC 1661 §5.1 allows).
    let ids: Vec<u8> = pair.server_sent.iter().map(|(_, _, b)| b[1]).collect();
    assert_eq!(ids[1], ids[0].wrapping_add(1));
}

#[test]
fn echo_keepalive_and_echo_failure() {
    let mut server = server_config(vec![]);
    server.echo_interval = Some(Duration::from_secs(10));
    server.echo_failures = 3;
    let mut client = client_config(vec![]);
    client.echo_interval = None;
    let mut pair = Pair::new(server, client, 8);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    // A minute of keepalive: replies arrive, nothing goes down.
    pair.run_until(Duration::from_secs(60), |_| false);
    assert!(down_reason(&pair.server_events).is_none());
    assert!(pair.server.stats().echo_requests_sent >= 5);
    // Every request but possibly the one in flight was answered.
    assert!(
        pair.server.stats().echo_replies_received + 1 >= pair.server.stats().echo_requests_sent
    );
    // The wire dies: three unanswered Echo-Requests, then Terminate.
    pair.connected = false;
    let before = pair.server.stats().echo_requests_sent;
    assert!(pair.run_until(Duration::from_secs(120), |p| {
        down_reason(&p.server_events).is_some()
    }));
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::EchoTimeout)
    );
    // Exactly Echo-Failures requests went unanswered.
    let stats = pair.server.stats();
    assert_eq!(stats.echo_requests_sent - stats.echo_replies_received, 3);
    assert!(stats.echo_requests_sent - before >= 2);
    assert_eq!(DownReason::EchoTimeout.acct_terminate_cause(), 2);
}

#[test]
fn magic_number_loopback_is_detected() {
    // The server's own frames come back to it.
    let mut seed = [0u8; 32];
    seed[0] = 9;
    let mut link = Link::new(server_config(vec![]), seed);
    let mut now = Instant::now();
    link.open(now);
    let mut buf = vec![0u8; 2000];
    let mut events = Vec::new();
    for _ in 0..200 {
        while let Some((protocol, len)) = link.poll_transmit(&mut buf) {
            let frame = buf[..len].to_vec();
            link.handle_frame(now, protocol, &frame);
        }
        while let Some(event) = link.poll_event() {
            events.push(event);
        }
        if down_reason(&events).is_some() {
            break;
        }
        if let Some(t) = link.poll_timeout() {
            now = now.max(t);
            link.handle_timeout(now);
        }
    }
    assert_eq!(down_reason(&events), Some(DownReason::LoopedBack));
}

#[test]
fn lcp_renegotiation_restarts_authentication_and_ncps() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::ChapMd5]),
        client_config(vec![AuthMethod::ChapMd5]),
        10,
    );
    pair.open();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.both_network_up(true, true)));
    pair.run_until(Duration::from_secs(2), |_| false);
    let ups_before = pair
        .server_events
        .iter()
        .filter(|e| matches!(e, LinkEvent::LcpUp(_)))
        .count();
    assert_eq!(ups_before, 1);
    pair.server_events.clear();
    pair.client_events.clear();
    // The client's LCP restarts: a new Configure-Request in Opened.
    let request = LcpRepr::new(
        0x42,
        ControlMessage::ConfigureRequest(vec![
            LcpOption::Mru(1492),
            LcpOption::MagicNumber(0x1234_5678),
        ]),
    )
    .to_vec()
    .unwrap();
    pair.server.handle_frame(pair.now, Protocol::Lcp, &request);
    pair.pump();
    assert!(pair.server_events.contains(&LinkEvent::Renegotiating));
    assert!(pair.server_events.contains(&LinkEvent::NetworkDown {
        protocol: Protocol::Ipcp
    }));
    assert!(pair.run_until(Duration::from_secs(30), |p| p.both_network_up(true, true)));
    assert!(pair.server_events.contains(&LinkEvent::Authenticated));
    assert!(down_reason(&pair.server_events).is_none());
    assert_addresses(&pair);
}

#[test]
fn terminate_from_either_side() {
    // Client hangs up.
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 11);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    pair.client.close(pair.now, DownReason::AdminClose);
    assert!(pair.run_until(Duration::from_secs(30), |p| {
        down_reason(&p.server_events).is_some() && down_reason(&p.client_events).is_some()
    }));
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::PeerTerminated)
    );
    assert_eq!(
        down_reason(&pair.client_events),
        Some(DownReason::AdminClose)
    );
    assert_eq!(pair.server.phase(), Phase::Dead);

    // Server closes towards a dead peer: Max-Terminate (2) Terminate-Requests.
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 12);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    pair.connected = false;
    let sent_before = pair.server_sent.len();
    let start = pair.now;
    pair.server.close(pair.now, DownReason::SessionTimeout);
    assert!(pair.run_until(Duration::from_secs(30), |p| {
        down_reason(&p.server_events).is_some()
    }));
    let terminates = pair.server_sent[sent_before..]
        .iter()
        .filter(|(_, p, b)| *p == Protocol::Lcp && b[0] == 5)
        .count();
    assert_eq!(terminates, 2);
    assert_eq!(pair.now - start, Duration::from_secs(6));
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::SessionTimeout)
    );
    assert_eq!(DownReason::SessionTimeout.acct_terminate_cause(), 5);
    assert_eq!(DownReason::SessionTimeout.l2tp_cdn_result_code(), 3);
}

/// Drives one server link by hand, as a scripted peer.
struct Scripted {
    link: Link,
    now: Instant,
    events: Vec<LinkEvent>,
}

impl Scripted {
    fn new(config: LinkConfig) -> Self {
        let mut link = Link::new(config, [3; 32]);
        let now = Instant::now();
        link.open(now);
        Self {
            link,
            now,
            events: Vec::new(),
        }
    }

    fn send(&mut self, protocol: Protocol, bytes: &[u8]) -> Vec<(Protocol, Vec<u8>)> {
        self.link.handle_frame(self.now, protocol, bytes);
        self.drain()
    }

    fn drain(&mut self) -> Vec<(Protocol, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2000];
        while let Some((p, len)) = self.link.poll_transmit(&mut buf) {
            out.push((p, buf[..len].to_vec()));
        }
        while let Some(e) = self.link.poll_event() {
            self.events.push(e);
        }
        out
    }

    /// Acks the link's outstanding LCP Configure-Request.
    fn ack_last_request(&mut self, sent: &[(Protocol, Vec<u8>)]) -> Vec<(Protocol, Vec<u8>)> {
        let request = sent
            .iter()
            .rev()
            .find(|(p, b)| *p == Protocol::Lcp && b[0] == 1)
            .expect("a Configure-Request")
            .1
            .clone();
        let mut ack = request;
        ack[0] = 2;
        self.send(Protocol::Lcp, &ack)
    }
}

fn lcp(message: ControlMessage<LcpOption>, id: u8) -> Vec<u8> {
    LcpRepr::new(id, message).to_vec().unwrap()
}

#[test]
fn configure_nak_loop_ends_in_reject_at_max_failure() {
    let mut peer = Scripted::new(server_config(vec![]));
    peer.drain();
    let greedy = lcp(
        ControlMessage::ConfigureRequest(vec![LcpOption::Mru(9000), LcpOption::MagicNumber(7)]),
        1,
    );
    let mut replies = Vec::new();
    for _ in 0..7 {
        let out = peer.send(Protocol::Lcp, &greedy);
        let reply = out
            .iter()
            .find(|(p, b)| *p == Protocol::Lcp && (b[0] == 3 || b[0] == 4))
            .expect("a Nak or Reject")
            .1
            .clone();
        replies.push(LcpRepr::parse_bytes(&reply).unwrap().message);
    }
    // Max-Failure = 5 Naks, then Rejects (RFC 1661 §4.6).
    for message in &replies[..5] {
        assert_eq!(
            *message,
            ControlMessage::ConfigureNak(vec![LcpOption::Mru(1492)])
        );
    }
    for message in &replies[5..] {
        assert_eq!(
            *message,
            ControlMessage::ConfigureReject(vec![LcpOption::Mru(9000)])
        );
    }
    assert_eq!(peer.link.fsm_stats()[0].naks_converted, 2);
}

#[test]
fn unknown_and_malformed_options_codes_and_protocols() {
    let mut peer = Scripted::new(server_config(vec![]));
    let sent = peer.drain();

    // Unknown option (Callback, 13) and PFC/ACFC/ACCM: rejected, Reject
    // takes precedence over the MRU Nak.
    let out = peer.send(
        Protocol::Lcp,
        &lcp(
            ControlMessage::ConfigureRequest(vec![
                LcpOption::Mru(9000),
                LcpOption::Unknown {
                    option_type: 13,
                    data: vec![6],
                },
                LcpOption::Pfc,
                LcpOption::Acfc,
                LcpOption::Accm(0),
                LcpOption::MagicNumber(99),
            ]),
            1,
        ),
    );
    let reject = LcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(reject.identifier, 1);
    assert_eq!(
        reject.message,
        ControlMessage::ConfigureReject(vec![
            LcpOption::Unknown {
                option_type: 13,
                data: vec![6]
            },
            LcpOption::Pfc,
            LcpOption::Acfc,
            LcpOption::Accm(0),
        ])
    );

    // A known option with a wrong length (MRU of 3 bytes) is rejected verbatim.
    let out = peer.send(Protocol::Lcp, &[1, 3, 0, 7, 1, 3, 5]);
    assert_eq!(out[0].1, vec![4, 3, 0, 7, 1, 3, 5]);

    // An option list that overruns the packet: dropped, no reply.
    let out = peer.send(Protocol::Lcp, &[1, 4, 0, 8, 5, 9, 0, 0]);
    assert!(out.is_empty());
    assert!(peer.events.iter().any(|e| matches!(
        e,
        LinkEvent::Dropped {
            protocol: Protocol::Lcp,
            ..
        }
    )));

    // Unknown Code: Code-Reject carrying the packet.
    let out = peer.send(Protocol::Lcp, &[0x42, 9, 0, 6, 0xde, 0xad]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1[0], 7);
    assert_eq!(&out[0].1[4..], &[0x42, 9, 0, 6, 0xde, 0xad]);

    // NCP before the Network phase: silently discarded.
    let out = peer.send(Protocol::Ipcp, &[1, 1, 0, 10, 3, 6, 0, 0, 0, 0]);
    assert!(out.is_empty());

    // Unknown protocol before LCP is Opened: discarded, no Protocol-Reject.
    let out = peer.send(Protocol::from(0x1234), &[1, 2, 3]);
    assert!(out.is_empty());

    // Bring LCP up: good request, then Ack ours.
    let out = peer.send(
        Protocol::Lcp,
        &lcp(
            ControlMessage::ConfigureRequest(vec![
                LcpOption::Mru(1492),
                LcpOption::MagicNumber(99),
            ]),
            5,
        ),
    );
    assert_eq!(out[0].1[0], 2);
    peer.ack_last_request(&sent);
    assert_eq!(peer.link.lcp_state(), State::Opened);

    // Now an unknown protocol is Protocol-Rejected.
    let out = peer.send(Protocol::from(0x1234), &[1, 2, 3]);
    let reject = LcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(
        reject.message,
        ControlMessage::ProtocolReject {
            protocol: Protocol::from(0x1234),
            information: vec![1, 2, 3]
        }
    );
    // CCP too (we run no compression).
    let out = peer.send(Protocol::Ccp, &[1, 1, 0, 4]);
    assert_eq!(out[0].1[0], 8);

    // Echo-Request answered with our magic; Discard, Identification and
    // Time-Remaining accepted silently.
    let out = peer.send(Protocol::Lcp, &[9, 7, 0, 10, 0, 0, 0, 99, 0xab, 0xcd]);
    let reply = LcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(reply.identifier, 7);
    assert_eq!(
        reply.message,
        ControlMessage::EchoReply {
            magic_number: peer.link.lcp_negotiated().our_magic,
            data: vec![0xab, 0xcd]
        }
    );
    assert!(
        peer.send(Protocol::Lcp, &[11, 1, 0, 8, 0, 0, 0, 99])
            .is_empty()
    );
    assert!(
        peer.send(Protocol::Lcp, &[12, 1, 0, 9, 0, 0, 0, 99, b'x'])
            .is_empty()
    );
    assert!(
        peer.send(Protocol::Lcp, &[13, 1, 0, 12, 0, 0, 0, 99, 0, 0, 1, 0])
            .is_empty()
    );
    // A short Echo-Request: dropped.
    assert!(peer.send(Protocol::Lcp, &[9, 1, 0, 6, 0, 0]).is_empty());
    assert_eq!(peer.link.lcp_state(), State::Opened);

    // Random garbage on every protocol never panics.
    let mut rng = StdRng::seed_from_u64(99);
    for _ in 0..5000 {
        let len = rng.random_range(0..40);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if rng.random_bool(0.7) && len >= 4 {
            bytes[2] = 0;
            bytes[3] = len as u8;
            bytes[0] = rng.random_range(1..15);
        }
        let protocol = [
            Protocol::Lcp,
            Protocol::Ipcp,
            Protocol::Ipv6cp,
            Protocol::Pap,
            Protocol::Chap,
            Protocol::from(0x8299),
        ][rng.random_range(0..6)];
        peer.send(protocol, &bytes);
    }
}

#[test]
fn ipcp_and_ipv6cp_server_naks() {
    let mut peer = Scripted::new(LinkConfig {
        ipv6: true,
        ..server_config(vec![])
    });
    let sent = peer.drain();
    peer.send(
        Protocol::Lcp,
        &lcp(
            ControlMessage::ConfigureRequest(vec![LcpOption::MagicNumber(99)]),
            1,
        ),
    );
    let mut opened = peer.ack_last_request(&sent);
    peer.link
        .assign_ipv4(peer.now, ASSIGNED, Some((DNS1, None)));
    opened.extend(peer.drain());
    assert!(opened.iter().any(|(p, _)| *p == Protocol::Ipcp));
    let ipv6_request = opened
        .iter()
        .find(|(p, _)| *p == Protocol::Ipv6cp)
        .expect("IPv6CP request")
        .1
        .clone();
    let ours = match tunnelnas::wire::ppp::Ipv6cpRepr::parse_bytes(&ipv6_request)
        .unwrap()
        .message
    {
        ControlMessage::ConfigureRequest(o) => match o[0] {
            Ipv6cpOption::InterfaceIdentifier(id) => id,
            _ => panic!(),
        },
        _ => panic!(),
    };

    // 0.0.0.0 + DNS 0 + NBNS + VJ: NBNS and compression rejected first.
    let out = peer.send(
        Protocol::Ipcp,
        &tunnelnas::wire::ppp::IpcpRepr::new(
            1,
            ControlMessage::ConfigureRequest(vec![
                IpcpOption::IpAddress(Ipv4Addr::UNSPECIFIED),
                IpcpOption::PrimaryDns(Ipv4Addr::UNSPECIFIED),
                IpcpOption::PrimaryNbns(Ipv4Addr::UNSPECIFIED),
                IpcpOption::SecondaryDns(Ipv4Addr::UNSPECIFIED),
            ]),
        )
        .to_vec()
        .unwrap(),
    );
    let reply = tunnelnas::wire::ppp::IpcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(
        reply.message,
        ControlMessage::ConfigureReject(vec![
            IpcpOption::PrimaryNbns(Ipv4Addr::UNSPECIFIED),
            IpcpOption::SecondaryDns(Ipv4Addr::UNSPECIFIED),
        ])
    );
    let out = peer.send(
        Protocol::Ipcp,
        &tunnelnas::wire::ppp::IpcpRepr::new(
            2,
            ControlMessage::ConfigureRequest(vec![
                IpcpOption::IpAddress(Ipv4Addr::new(10, 0, 0, 1)),
                IpcpOption::PrimaryDns(Ipv4Addr::UNSPECIFIED),
            ]),
        )
        .to_vec()
        .unwrap(),
    );
    let reply = tunnelnas::wire::ppp::IpcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(
        reply.message,
        ControlMessage::ConfigureNak(vec![
            IpcpOption::IpAddress(ASSIGNED),
            IpcpOption::PrimaryDns(DNS1),
        ])
    );
    // No IP-Address at all: prompted with a Nak.
    let out = peer.send(
        Protocol::Ipcp,
        &tunnelnas::wire::ppp::IpcpRepr::new(3, ControlMessage::ConfigureRequest(vec![]))
            .to_vec()
            .unwrap(),
    );
    let reply = tunnelnas::wire::ppp::IpcpRepr::parse_bytes(&out[0].1).unwrap();
    assert_eq!(
        reply.message,
        ControlMessage::ConfigureNak(vec![IpcpOption::IpAddress(ASSIGNED)])
    );

    // IPv6CP: our own identifier, or zero, is Nak'd with a fresh one.
    for (id, theirs) in [(1u8, ours), (2, [0; 8])] {
        let out = peer.send(
            Protocol::Ipv6cp,
            &tunnelnas::wire::ppp::Ipv6cpRepr::new(
                id,
                ControlMessage::ConfigureRequest(vec![Ipv6cpOption::InterfaceIdentifier(theirs)]),
            )
            .to_vec()
            .unwrap(),
        );
        let reply = tunnelnas::wire::ppp::Ipv6cpRepr::parse_bytes(&out[0].1).unwrap();
        let ControlMessage::ConfigureNak(options) = reply.message else {
            panic!("expected a Nak, got {:?}", reply.message);
        };
        let Ipv6cpOption::InterfaceIdentifier(suggested) = options[0] else {
            panic!();
        };
        assert_ne!(suggested, [0; 8]);
        assert_ne!(suggested, ours);
    }
    // Unknown IPCP code (8 is LCP-only): Code-Reject.
    let out = peer.send(Protocol::Ipcp, &[8, 1, 0, 4]);
    assert_eq!(out[0].1[0], 7);
    let _ = ControlPacket::new_checked(&out[0].1[..]).unwrap();
}

#[test]
fn server_waits_for_the_address_before_ipcp() {
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 13);
    pair.assign_on_auth = false;
    pair.open();
    pair.run_until(Duration::from_secs(10), |_| false);
    // IPv6 came up alone; IPCP waits for the assignment.
    assert!(pair.both_network_up(false, true));
    assert_eq!(pair.server.ipcp_state(), State::Initial);
    pair.server
        .assign_ipv4(pair.now, ASSIGNED, Some((DNS1, Some(DNS2))));
    assert!(pair.run_until(Duration::from_secs(60), |p| p.both_network_up(true, true)));
    assert_addresses(&pair);
}

#[test]
fn lower_down_reports_at_once() {
    let mut pair = Pair::new(server_config(vec![]), client_config(vec![]), 14);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    pair.server.lower_down(pair.now);
    pair.pump();
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::LowerDown)
    );
    assert_eq!(pair.server.poll_timeout(), None);
    assert_eq!(
        pair.server_events
            .iter()
            .filter(|e| matches!(e, LinkEvent::Down { .. }))
            .count(),
        1
    );
}

#[test]
fn down_reason_mappings() {
    let all = [
        DownReason::PeerTerminated,
        DownReason::EchoTimeout,
        DownReason::AuthFailed,
        DownReason::NegotiationFailed {
            protocol: Protocol::Ipcp,
        },
        DownReason::LoopedBack,
        DownReason::AdminClose,
        DownReason::SessionTimeout,
        DownReason::IdleTimeout,
        DownReason::LowerDown,
    ];
    for reason in all {
        assert!((1..=18).contains(&reason.acct_terminate_cause()));
        assert!((1..=3).contains(&reason.l2tp_cdn_result_code()));
        assert!(!reason.pppoe_generic_error().is_empty());
    }
    assert_eq!(DownReason::PeerTerminated.acct_terminate_cause(), 1);
    assert_eq!(DownReason::IdleTimeout.acct_terminate_cause(), 4);
    assert_eq!(DownReason::AdminClose.acct_terminate_cause(), 6);
    assert_eq!(DownReason::AuthFailed.acct_terminate_cause(), 17);
}

#[test]
fn protocol_reject_of_ipv6cp_keeps_ipv4() {
    // A client without IPv6 Protocol-Rejects IPv6CP; IPv4 alone comes up.
    let mut client = client_config(vec![]);
    client.ipv6 = false;
    let mut pair = Pair::new(server_config(vec![]), client, 15);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(30), |p| {
        p.both_network_up(true, false)
    }));
    pair.run_until(Duration::from_secs(30), |_| false);
    assert!(pair.client_events.contains(&LinkEvent::ProtocolRejectSent {
        protocol: Protocol::Ipv6cp
    }));
    assert!(
        pair.server_events
            .contains(&LinkEvent::ProtocolRejectReceived {
                protocol: Protocol::Ipv6cp
            })
    );
    assert_eq!(pair.server.ipv6cp_state(), State::Stopped);
    assert_eq!(pair.server.ipcp_state(), State::Opened);
    assert!(down_reason(&pair.server_events).is_none());
}

#[test]
fn aaa_that_never_answers_times_out() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::Pap]),
        client_config(vec![AuthMethod::Pap]),
        16,
    );
    pair.open();
    pair.answer_auth = false;
    pair.run_until(Duration::from_secs(120), |p| {
        down_reason(&p.server_events).is_some()
    });
    let requested = pair
        .server_events
        .iter()
        .any(|e| matches!(e, LinkEvent::AuthRequested(_)));
    assert!(requested);
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::AuthFailed)
    );
}

#[test]
fn client_without_credentials_refuses_authentication() {
    let mut client = client_config(vec![AuthMethod::Pap]);
    client.credentials = None;
    let mut pair = Pair::new(server_config(vec![AuthMethod::Pap]), client, 17);
    pair.open();
    pair.run_until(Duration::from_secs(60), |p| {
        down_reason(&p.server_events).is_some()
    });
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::Lcp
        })
    );
}

#[test]
fn rfc4638_payload_allows_mru_1500() {
    let mut server = server_config(vec![]);
    server.mru = 1500;
    server.lower_max_payload = 1500;
    let mut client = client_config(vec![]);
    client.mru = 1500;
    client.lower_max_payload = 1500;
    let mut pair = Pair::new(server, client, 18);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    assert_eq!(pair.server.lcp_negotiated().peer_mru, 1500);
    // 1500 is the default: no MRU option on the wire.
    let record = pair.server.negotiation_record().unwrap();
    let sent = record.last_sent_lcp_request.as_ref().unwrap();
    assert!(
        tunnelnas::wire::ppp::control::OptionIter::new(sent).all(|o| o.unwrap().option_type != 1)
    );

    // A PPPoE server without RFC 4638 Naks a client asking for 1500.
    let mut client = client_config(vec![]);
    client.mru = 1500;
    client.lower_max_payload = 1500;
    let mut pair = Pair::new(server_config(vec![]), client, 19);
    pair.open();
    assert!(pair.run_until(Duration::from_secs(5), |p| p.both_network_up(true, true)));
    // The client sends no MRU (1500 is the default), yet the server never
    // sends more than PPPoE carries.
    assert_eq!(pair.server.lcp_negotiated().peer_mru, 1492);
}

#[test]
fn negotiation_record_holds_wire_bytes() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::ChapMd5]),
        client_config(vec![AuthMethod::ChapMd5]),
        20,
    );
    pair.open();
    assert!(pair.server.negotiation_record().is_none());
    assert!(pair.run_until(Duration::from_secs(10), |p| p.both_network_up(true, true)));
    let record = pair.server.negotiation_record().unwrap().clone();
    let client_requests: Vec<Vec<u8>> = pair
        .client_sent
        .iter()
        .filter(|(_, p, b)| *p == Protocol::Lcp && b[0] == 1)
        .map(|(_, _, b)| b[4..].to_vec())
        .collect();
    let server_requests: Vec<Vec<u8>> = pair
        .server_sent
        .iter()
        .filter(|(_, p, b)| *p == Protocol::Lcp && b[0] == 1)
        .map(|(_, _, b)| b[4..].to_vec())
        .collect();
    assert_eq!(
        record.initial_received_lcp_request.as_ref(),
        client_requests.first()
    );
    assert_eq!(
        record.last_received_lcp_request.as_ref(),
        client_requests.last()
    );
    assert_eq!(
        record.last_sent_lcp_request.as_ref(),
        server_requests.last()
    );
    let auth = record.auth.unwrap();
    assert_eq!(auth.method, AuthMethod::ChapMd5);
    assert_eq!(auth.name, USER);
    // The challenge and id are those of the CHAP Challenge on the wire.
    let challenge = pair
        .server_sent
        .iter()
        .find(|(_, p, b)| *p == Protocol::Chap && b[0] == 1)
        .unwrap()
        .2
        .clone();
    assert_eq!(auth.id, challenge[1]);
    assert_eq!(auth.challenge, challenge[5..5 + usize::from(challenge[4])]);
}

#[test]
fn server_config_from_ppp_section() {
    let ppp = tunnelnas::config::Ppp::default();
    let config = tunnelnas::node::convert::server_link_config(&ppp);
    assert_eq!(config.role, Role::Server);
    assert_eq!(config.mru, 1492);
    assert_eq!(
        config.auth_methods,
        vec![AuthMethod::ChapMd5, AuthMethod::MsChapV2, AuthMethod::Pap]
    );
    assert_eq!(config.fsm.max_configure, 10);
    assert_eq!(config.fsm.max_terminate, 2);
    assert_eq!(config.fsm.max_failure, 5);
    assert_eq!(config.echo_interval, Some(Duration::from_secs(30)));
    assert_eq!(config.echo_failures, 3);
}

#[test]
fn server_close_with_live_peer_is_acknowledged() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::Pap]),
        client_config(vec![AuthMethod::Pap]),
        21,
    )
    .lossy();
    pair.open();
    assert!(pair.run_until(Duration::from_secs(120), |p| {
        p.both_network_up(true, true)
    }));
    pair.server.close(pair.now, DownReason::AdminClose);
    assert!(pair.run_until(Duration::from_secs(60), |p| {
        down_reason(&p.server_events).is_some() && down_reason(&p.client_events).is_some()
    }));
    assert_eq!(
        down_reason(&pair.server_events),
        Some(DownReason::AdminClose)
    );
    assert_eq!(
        down_reason(&pair.client_events),
        Some(DownReason::PeerTerminated)
    );
    assert_eq!(pair.client.phase(), Phase::Dead);
    // Frames after Down are dropped, never answered.
    let sent = pair.server_sent.len();
    pair.server
        .handle_frame(pair.now, Protocol::Lcp, &[1, 1, 0, 4]);
    pair.pump();
    assert_eq!(pair.server_sent.len(), sent);
}

/// Whole lifecycles over the lossy wire, many seeds: bring-up, an LCP
/// renegotiation started by the client's side, then a hang-up.
#[test]
fn lossy_lifecycle_soak() {
    for method in [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        for seed in 0..30 {
            let mut pair = Pair::new(
                server_config(vec![method]),
                client_config(vec![method]),
                1000 + seed,
            )
            .lossy();
            pair.open();
            assert!(
                pair.run_until(Duration::from_secs(300), |p| p.both_network_up(true, true)),
                "{method:?} seed {seed}: bring-up"
            );
            pair.run_until(Duration::from_secs(20), |_| false);
            pair.server_events.clear();
            pair.client_events.clear();
            let request = LcpRepr::new(
                0x99,
                ControlMessage::ConfigureRequest(vec![
                    LcpOption::Mru(1492),
                    LcpOption::MagicNumber(0x0bad_cafe),
                ]),
            )
            .to_vec()
            .unwrap();
            pair.server.handle_frame(pair.now, Protocol::Lcp, &request);
            assert!(
                pair.run_until(Duration::from_secs(300), |p| p.both_network_up(true, true)),
                "{method:?} seed {seed}: renegotiation\n{:?}",
                pair.server_events
            );
            pair.client.close(pair.now, DownReason::AdminClose);
            assert!(
                pair.run_until(Duration::from_secs(120), |p| {
                    down_reason(&p.server_events).is_some()
                        && down_reason(&p.client_events).is_some()
                }),
                "{method:?} seed {seed}: hang-up"
            );
            assert_eq!(
                down_reason(&pair.client_events),
                Some(DownReason::AdminClose)
            );
            // The server either saw the Terminate-Request or, if every one
            // was lost, noticed through its keepalive.
            assert!(matches!(
                down_reason(&pair.server_events),
                Some(DownReason::PeerTerminated | DownReason::EchoTimeout)
            ));
        }
    }
}

#[test]
fn close_before_open_reports_down() {
    let mut link = Link::new(server_config(vec![]), [5; 32]);
    let now = Instant::now();
    link.close(now, DownReason::AdminClose);
    let mut events = Vec::new();
    while let Some(e) = link.poll_event() {
        events.push(e);
    }
    assert_eq!(down_reason(&events), Some(DownReason::AdminClose));
    assert_eq!(link.poll_timeout(), None);
    let mut buf = [0u8; 64];
    assert!(link.poll_transmit(&mut buf).is_none());
}

#[test]
fn lns_config_takes_address_and_dns() {
    let ppp = tunnelnas::config::Ppp::default();
    let lns = tunnelnas::config::Lns {
        dns: vec![DNS1, DNS2],
        ..tunnelnas::config::Lns::default()
    };
    let config = tunnelnas::node::convert::lns_link_config(&ppp, &lns);
    assert!(config.accept_compression);
    assert_eq!(config.ipcp.local, Some(Ipv4Addr::new(10, 255, 255, 1)));
    assert_eq!(config.ipcp.primary_dns, Some(DNS1));
    assert_eq!(config.ipcp.secondary_dns, Some(DNS2));
}

#[test]
fn setup_steps_are_timed_in_order() {
    let mut pair = Pair::new(
        server_config(vec![AuthMethod::ChapMd5]),
        client_config(vec![AuthMethod::ChapMd5]),
        7,
    );
    pair.open();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.both_network_up(true, true)));
    let steps: Vec<(SetupStep, Duration)> = pair
        .server_events
        .iter()
        .filter_map(|e| match e {
            LinkEvent::StepCompleted { step, took } => Some((*step, *took)),
            _ => None,
        })
        .collect();
    let order: Vec<SetupStep> = steps.iter().map(|(s, _)| *s).collect();
    assert_eq!(&order[..2], &[SetupStep::Lcp, SetupStep::Auth], "{steps:?}");
    assert!(
        order.contains(&SetupStep::Ipcp) && order.contains(&SetupStep::Ipv6cp),
        "{steps:?}"
    );
    // LCP and CHAP each take at least one round trip on the simulated wire.
    for (step, took) in &steps {
        assert!(*took < Duration::from_secs(10), "{step:?} took {took:?}");
    }
    assert!(
        steps[0].1 > Duration::ZERO && steps[1].1 > Duration::ZERO,
        "{steps:?}"
    );
}
