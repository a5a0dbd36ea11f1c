//! Authenticator against peer over a simulated link in virtual time, for
//! PAP, CHAP-MD5 and MS-CHAPv2: accept, reject, MS-CHAPv2 retry,
//! retransmissions under seeded loss / duplication / reordering, every
//! timer, duplicates, re-challenge, malformed input, and a wrong
//! authenticator response at the peer.

mod common;

use std::rc::Rc;
use std::time::{Duration, Instant};

use common::freeradius::{FreeRadius, UserEntry};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tunnelnas::ppp::auth::{
    AuthClient, AuthClientEvent, AuthConfig, AuthDecision, AuthFailure, AuthMethod, AuthRequest,
    AuthServer, AuthServerEvent, DropReason, chap_md5_response, verify_chap_md5, verify_mschapv2,
};
use tunnelnas::wire::ppp::chap::{ChapMessage, ChapRepr, MsChapV2Failure, MsChapV2Success};
use tunnelnas::wire::ppp::pap::{PapMessage, PapRepr};
use tunnelnas::wire::ppp::{LcpOption, Protocol};

const USER: &str = "alice@isp.example";
const PASSWORD: &str = "s3cret-pass";
const METHODS: [AuthMethod; 3] = [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2];

/// A local-users AAA: the decision a RADIUS server would return.
fn local_aaa(request: &AuthRequest) -> AuthDecision {
    let accept = |auth| AuthDecision::Accept {
        message: Some("Welcome".into()),
        mschapv2_authenticator_response: auth,
    };
    let reject = AuthDecision::Reject {
        message: Some("Bad credentials".into()),
    };
    if request.user() != USER.as_bytes() {
        return reject;
    }
    match request {
        AuthRequest::Pap { password, .. } if password.expose() == PASSWORD.as_bytes() => {
            accept(None)
        }
        AuthRequest::Chap {
            id,
            challenge,
            response,
            ..
        } if verify_chap_md5(*id, PASSWORD.as_bytes(), challenge, response) => accept(None),
        AuthRequest::MsChapV2 {
            user,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            ..
        } => match verify_mschapv2(
            user,
            PASSWORD.as_bytes(),
            authenticator_challenge,
            peer_challenge,
            nt_response,
        ) {
            Some(auth) => accept(Some(auth)),
            None => reject,
        },
        _ => reject,
    }
}

type Aaa = Box<dyn FnMut(&AuthRequest) -> AuthDecision>;

/// Direction of a packet in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Server,
    Client,
}

/// A link with seeded loss, duplication and reordering (random latency),
/// an AAA answering after a delay, and both cores.
struct Sim {
    base: Instant,
    now: Instant,
    server: AuthServer,
    client: AuthClient,
    rng: StdRng,
    loss: f64,
    duplication: f64,
    /// Latency is uniform in [min_latency, max_latency].
    min_latency: Duration,
    max_latency: Duration,
    in_flight: Vec<(Instant, To, Vec<u8>)>,
    aaa: Aaa,
    aaa_delay: Duration,
    pending_decisions: Vec<(Instant, AuthDecision)>,
    server_events: Vec<AuthServerEvent>,
    client_events: Vec<AuthClientEvent>,
    requests: Vec<AuthRequest>,
    /// Every packet put on the wire, for inspection.
    wire: Vec<(To, Vec<u8>)>,
    /// When false, the client never sees anything (and sends nothing).
    client_present: bool,
}

impl Sim {
    fn new(method: AuthMethod, config: AuthConfig, seed: u64) -> Self {
        Self::with_client(
            method,
            config.clone(),
            AuthClient::new(method, USER, PASSWORD, config, seed_bytes(seed, 2)),
            seed,
        )
    }

    fn with_client(method: AuthMethod, config: AuthConfig, client: AuthClient, seed: u64) -> Self {
        let base = Instant::now();
        Self {
            base,
            now: base,
            server: AuthServer::new(method, config, seed_bytes(seed, 1)),
            client,
            rng: StdRng::from_seed(seed_bytes(seed, 3)),
            loss: 0.0,
            duplication: 0.0,
            min_latency: Duration::from_millis(10),
            max_latency: Duration::from_millis(10),
            in_flight: Vec::new(),
            aaa: Box::new(local_aaa),
            aaa_delay: Duration::from_millis(50),
            pending_decisions: Vec::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
            requests: Vec::new(),
            wire: Vec::new(),
            client_present: true,
        }
    }

    fn start(&mut self) {
        self.server.start(self.now);
        if self.client_present {
            self.client.start(self.now);
        }
        self.pump();
    }

    fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// Moves packets and events out of the cores.
    fn pump(&mut self) {
        let mut buf = [0u8; 1500];
        while let Some(len) = self.server.poll_transmit(&mut buf) {
            self.put_on_wire(To::Client, buf[..len].to_vec());
        }
        while let Some(len) = self.client.poll_transmit(&mut buf) {
            self.put_on_wire(To::Server, buf[..len].to_vec());
        }
        while let Some(event) = self.server.poll_event() {
            if let AuthServerEvent::Requested(request) = &event {
                self.requests.push(request.clone());
                let decision = (self.aaa)(request);
                self.pending_decisions
                    .push((self.now + self.aaa_delay, decision));
            }
            self.server_events.push(event);
        }
        while let Some(event) = self.client.poll_event() {
            self.client_events.push(event);
        }
    }

    fn put_on_wire(&mut self, to: To, packet: Vec<u8>) {
        self.wire.push((to, packet.clone()));
        if to == To::Client && !self.client_present {
            return;
        }
        let copies = if self.rng.random_bool(self.duplication) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.rng.random_bool(self.loss) {
                continue;
            }
            let spread = (self.max_latency - self.min_latency).as_micros() as u64;
            let latency =
                self.min_latency + Duration::from_micros(self.rng.random_range(0..=spread));
            self.in_flight
                .push((self.now + latency, to, packet.clone()));
        }
    }

    fn next_instant(&self) -> Option<Instant> {
        let mut candidates = vec![self.server.poll_timeout(), self.client.poll_timeout()];
        candidates.extend(self.in_flight.iter().map(|(t, ..)| Some(*t)));
        candidates.extend(self.pending_decisions.iter().map(|(t, _)| Some(*t)));
        candidates.into_iter().flatten().min()
    }

    /// Runs one instant; false when nothing is scheduled or past `limit`.
    fn step(&mut self, limit: Duration) -> bool {
        let Some(next) = self.next_instant() else {
            return false;
        };
        if next > self.base + limit {
            return false;
        }
        assert!(next >= self.now, "time never goes back");
        self.now = next;
        let now = self.now;
        // Deliveries in the order they arrive (reordering comes from
        // latency), then decisions, then timers.
        let mut due: Vec<_> = Vec::new();
        self.in_flight.retain(|(t, to, p)| {
            if *t <= now {
                due.push((*t, *to, p.clone()));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(t, ..)| *t);
        for (_, to, packet) in due {
            match to {
                To::Server => self.server.handle_packet(now, &packet),
                To::Client => self.client.handle_packet(now, &packet),
            }
            self.pump();
        }
        let mut decisions = Vec::new();
        self.pending_decisions.retain(|(t, d)| {
            if *t <= now {
                decisions.push(d.clone());
                false
            } else {
                true
            }
        });
        for decision in decisions {
            self.server.auth_complete(now, decision);
            self.pump();
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        self.pump();
        true
    }

    /// Runs until nothing is scheduled or `limit` of virtual time passed.
    fn run(&mut self, limit: Duration) {
        let mut steps = 0;
        while self.step(limit) {
            steps += 1;
            assert!(steps < 100_000, "simulation does not converge");
        }
    }

    /// Runs until `done` holds (or `limit`).
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) {
        while !done(self) && self.step(limit) {}
    }

    fn server_outcomes(&self) -> Vec<&AuthServerEvent> {
        self.server_events
            .iter()
            .filter(|e| {
                !matches!(
                    e,
                    AuthServerEvent::Requested(_) | AuthServerEvent::Dropped { .. }
                )
            })
            .collect()
    }

    fn client_outcomes(&self) -> Vec<&AuthClientEvent> {
        self.client_events
            .iter()
            .filter(|e| !matches!(e, AuthClientEvent::Dropped { .. }))
            .collect()
    }
}

/// Seeds per lossy scenario; `PPP_AUTH_SEEDS` raises it for soak runs.
fn lossy_seeds() -> u64 {
    std::env::var("PPP_AUTH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

fn seed_bytes(seed: u64, salt: u8) -> [u8; 32] {
    let mut out = [salt; 32];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out
}

fn welcome() -> Option<String> {
    Some("Welcome".into())
}

// --- accept / reject for each method -------------------------------------

#[test]
fn each_method_accepts_the_right_password() {
    for method in METHODS {
        let mut sim = Sim::new(method, AuthConfig::default(), 1);
        sim.start();
        sim.run(Duration::from_secs(60));
        assert_eq!(
            sim.server_outcomes(),
            [&AuthServerEvent::Succeeded],
            "{method:?}"
        );
        assert_eq!(
            sim.client_outcomes(),
            [&AuthClientEvent::Succeeded { message: welcome() }],
            "{method:?}"
        );
        assert_eq!(sim.requests.len(), 1, "{method:?}");
        assert!(sim.server.is_authenticated() && sim.client.is_authenticated());
        assert!(sim.server.poll_timeout().is_none() && sim.client.poll_timeout().is_none());
        // Exactly: request (or challenge + response) and the verdict.
        let expected_packets = if method == AuthMethod::Pap { 2 } else { 3 };
        assert_eq!(sim.wire.len(), expected_packets, "{method:?}");
        assert_eq!(sim.server.last_request(), sim.requests.first());
    }
}

#[test]
fn each_method_rejects_a_wrong_password() {
    for method in METHODS {
        let config = AuthConfig {
            max_attempts: 1,
            ..AuthConfig::default()
        };
        let client = AuthClient::new(method, USER, "wrong", config.clone(), seed_bytes(2, 2));
        let mut sim = Sim::with_client(method, config, client, 2);
        sim.start();
        sim.run(Duration::from_secs(60));
        assert_eq!(
            sim.server_outcomes(),
            [&AuthServerEvent::Failed(AuthFailure::Rejected {
                message: Some("Bad credentials".into())
            })],
            "{method:?}"
        );
        assert_eq!(
            sim.client_outcomes(),
            [&AuthClientEvent::Failed(AuthFailure::Rejected {
                message: Some("Bad credentials".into())
            })],
            "{method:?}"
        );
        assert!(sim.server.is_failed() && sim.client.is_failed());
    }
}

#[test]
fn chap_challenges_are_random_16_octets_with_our_name() {
    let config = AuthConfig {
        name: "lns-1".into(),
        ..AuthConfig::default()
    };
    let mut challenges = Vec::new();
    for seed in 0..4 {
        let mut sim = Sim::new(AuthMethod::ChapMd5, config.clone(), seed);
        sim.start();
        let (to, first) = &sim.wire[0];
        assert_eq!(*to, To::Client);
        match ChapRepr::parse_bytes(first).unwrap().message {
            ChapMessage::Challenge { value, name } => {
                assert_eq!(value.len(), 16);
                assert_eq!(name, b"lns-1");
                challenges.push(value);
            }
            other => panic!("{other:?}"),
        }
    }
    challenges.sort();
    challenges.dedup();
    assert_eq!(challenges.len(), 4, "each seed draws its own challenge");
}

#[test]
fn chap_request_carries_what_aaa_needs() {
    let mut sim = Sim::new(AuthMethod::ChapMd5, AuthConfig::default(), 3);
    sim.start();
    sim.run(Duration::from_secs(10));
    let challenge = ChapRepr::parse_bytes(&sim.wire[0].1).unwrap();
    let ChapMessage::Challenge { value, .. } = challenge.message else {
        panic!()
    };
    match &sim.requests[0] {
        AuthRequest::Chap {
            user,
            id,
            challenge: c,
            response,
        } => {
            assert_eq!(user, USER.as_bytes());
            assert_eq!(*id, challenge.identifier);
            assert_eq!(c, &value);
            assert_eq!(
                response[..],
                chap_md5_response(*id, PASSWORD.as_bytes(), &value)
            );
        }
        other => panic!("{other:?}"),
    }
}

// --- MS-CHAPv2 -----------------------------------------------------------

#[test]
fn mschapv2_success_carries_the_authenticator_response() {
    let mut sim = Sim::new(AuthMethod::MsChapV2, AuthConfig::default(), 4);
    sim.start();
    sim.run(Duration::from_secs(10));
    let AuthRequest::MsChapV2 {
        user,
        authenticator_challenge,
        peer_challenge,
        nt_response,
        flags,
        ..
    } = &sim.requests[0]
    else {
        panic!("{:?}", sim.requests)
    };
    assert_eq!(*flags, 0);
    let expected = verify_mschapv2(
        user,
        PASSWORD.as_bytes(),
        authenticator_challenge,
        peer_challenge,
        nt_response,
    )
    .unwrap();
    let (_, success) = sim.wire.last().unwrap();
    let ChapMessage::Success { message } = ChapRepr::parse_bytes(success).unwrap().message else {
        panic!()
    };
    let success = MsChapV2Success::parse(&message).unwrap();
    assert_eq!(success.authenticator_response, expected);
    assert_eq!(success.message.as_deref(), Some(&b"Welcome"[..]));
}

#[test]
fn mschapv2_retry_then_accept() {
    let mut sim = Sim::new(AuthMethod::MsChapV2, AuthConfig::default(), 5);
    let mut calls = 0;
    sim.aaa = Box::new(move |request| {
        calls += 1;
        if calls == 1 {
            AuthDecision::Reject {
                message: Some("try again".into()),
            }
        } else {
            local_aaa(request)
        }
    });
    sim.start();
    sim.run(Duration::from_secs(30));
    assert_eq!(sim.server_outcomes(), [&AuthServerEvent::Succeeded]);
    assert_eq!(
        sim.client_outcomes(),
        [&AuthClientEvent::Succeeded { message: welcome() }]
    );
    assert_eq!(sim.requests.len(), 2);
    // The Failure: E=691 R=1 C=<new challenge> V=3 M=try again.
    let failure = sim
        .wire
        .iter()
        .find_map(|(_, p)| match ChapRepr::parse_bytes(p).unwrap() {
            ChapRepr {
                identifier,
                message: ChapMessage::Failure { message },
            } => Some((identifier, MsChapV2Failure::parse(&message).unwrap())),
            _ => None,
        })
        .unwrap();
    let (failure_id, failure) = failure;
    assert_eq!(failure.error, 691);
    assert!(failure.retry);
    assert_eq!(failure.version, Some(3));
    assert_eq!(failure.message.as_deref(), Some(&b"try again"[..]));
    let (
        AuthRequest::MsChapV2 {
            authenticator_challenge: first,
            id: first_id,
            ..
        },
        AuthRequest::MsChapV2 {
            authenticator_challenge: second,
            id: second_id,
            ..
        },
    ) = (&sim.requests[0], &sim.requests[1])
    else {
        panic!()
    };
    assert_eq!(*first_id, failure_id);
    assert_eq!(*second_id, failure_id.wrapping_add(1));
    assert_ne!(first, second);
    assert_eq!(failure.challenge, Some(*second), "the retry uses C=");
}

#[test]
fn mschapv2_attempts_run_out_with_r0() {
    let config = AuthConfig {
        max_attempts: 3,
        ..AuthConfig::default()
    };
    let client = AuthClient::new(
        AuthMethod::MsChapV2,
        USER,
        "wrong",
        config.clone(),
        seed_bytes(6, 2),
    );
    let mut sim = Sim::with_client(AuthMethod::MsChapV2, config, client, 6);
    sim.start();
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.requests.len(), 3);
    let failures: Vec<_> = sim
        .wire
        .iter()
        .filter_map(|(_, p)| match ChapRepr::parse_bytes(p).unwrap().message {
            ChapMessage::Failure { message } => Some(MsChapV2Failure::parse(&message).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures.iter().map(|f| f.retry).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert!(
        failures
            .iter()
            .all(|f| f.error == 691 && f.challenge.is_some())
    );
    assert!(matches!(
        sim.server_outcomes()[..],
        [AuthServerEvent::Failed(AuthFailure::Rejected { .. })]
    ));
    assert!(matches!(
        sim.client_outcomes()[..],
        [AuthClientEvent::Failed(AuthFailure::Rejected { .. })]
    ));
}

#[test]
fn client_rejects_a_wrong_authenticator_response() {
    let mut sim = Sim::new(AuthMethod::MsChapV2, AuthConfig::default(), 7);
    sim.aaa = Box::new(|_| AuthDecision::Accept {
        message: None,
        mschapv2_authenticator_response: Some([0x42; 20]),
    });
    sim.start();
    sim.run(Duration::from_secs(10));
    assert_eq!(sim.server_outcomes(), [&AuthServerEvent::Succeeded]);
    assert_eq!(
        sim.client_outcomes(),
        [&AuthClientEvent::Failed(AuthFailure::AuthenticatorMismatch)]
    );
}

#[test]
fn client_rejects_a_success_without_s_field() {
    let mut client = AuthClient::new(
        AuthMethod::MsChapV2,
        USER,
        PASSWORD,
        AuthConfig::default(),
        [0; 32],
    );
    let now = Instant::now();
    client.start(now);
    let challenge = ChapRepr::new(
        9,
        ChapMessage::Challenge {
            value: vec![1; 16],
            name: b"x".to_vec(),
        },
    );
    client.handle_packet(now, &challenge.to_vec().unwrap());
    let success = ChapRepr::new(
        9,
        ChapMessage::Success {
            message: b"Welcome".to_vec(),
        },
    );
    client.handle_packet(now, &success.to_vec().unwrap());
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Failed(AuthFailure::AuthenticatorMismatch))
    );
}

#[test]
fn mschapv2_accept_without_authenticator_response_fails() {
    let mut sim = Sim::new(AuthMethod::MsChapV2, AuthConfig::default(), 8);
    sim.aaa = Box::new(|_| AuthDecision::Accept {
        message: None,
        mschapv2_authenticator_response: None,
    });
    sim.start();
    sim.run(Duration::from_secs(10));
    assert_eq!(
        sim.server_outcomes(),
        [&AuthServerEvent::Failed(
            AuthFailure::MissingAuthenticatorResponse
        )]
    );
    assert!(matches!(
        sim.client_outcomes()[..],
        [AuthClientEvent::Failed(AuthFailure::Rejected { .. })]
    ));
}

// --- lossy links -----------------------------------------------------------

#[test]
fn lossy_duplicating_reordering_link_converges_for_every_method() {
    let config = AuthConfig {
        retry_interval: Duration::from_secs(1),
        max_retries: 30,
        timeout: Duration::from_secs(60),
        ..AuthConfig::default()
    };
    for method in METHODS {
        let mut retransmissions = 0;
        for seed in 0..lossy_seeds() {
            let mut sim = Sim::new(method, config.clone(), seed);
            sim.loss = 0.3;
            sim.duplication = 0.2;
            sim.min_latency = Duration::from_millis(5);
            sim.max_latency = Duration::from_millis(1500);
            sim.aaa_delay = Duration::from_millis(700);
            sim.start();
            sim.run_until(Duration::from_secs(120), |s| {
                s.server.is_authenticated() && s.client.is_authenticated()
            });
            assert!(
                sim.server.is_authenticated() && sim.client.is_authenticated(),
                "{method:?} seed {seed}: {:?} / {:?}",
                sim.server_events,
                sim.client_events
            );
            assert_eq!(sim.server_outcomes(), [&AuthServerEvent::Succeeded]);
            assert_eq!(
                sim.client_outcomes(),
                [&AuthClientEvent::Succeeded { message: welcome() }]
            );
            // Duplicates are absorbed: AAA is asked exactly once.
            assert_eq!(sim.requests.len(), 1, "{method:?} seed {seed}");
            retransmissions += sim.server.stats().retransmits + sim.client.stats().retransmits;
        }
        assert!(
            retransmissions > 0,
            "{method:?}: loss exercised retransmission"
        );
    }
}

#[test]
fn lossy_link_mschapv2_retry_converges() {
    // The Failure with R=1 may be lost: the peer re-sends its Response,
    // the authenticator repeats the Failure, the peer retries.
    let config = AuthConfig {
        retry_interval: Duration::from_secs(1),
        max_retries: 30,
        timeout: Duration::from_secs(60),
        ..AuthConfig::default()
    };
    let mut failure_replays = 0;
    for seed in 0..lossy_seeds() {
        let mut sim = Sim::new(AuthMethod::MsChapV2, config.clone(), seed);
        sim.loss = 0.3;
        sim.duplication = 0.2;
        sim.min_latency = Duration::from_millis(5);
        sim.max_latency = Duration::from_millis(1500);
        let mut calls = 0;
        sim.aaa = Box::new(move |request| {
            calls += 1;
            if calls == 1 {
                AuthDecision::Reject { message: None }
            } else {
                local_aaa(request)
            }
        });
        sim.start();
        sim.run_until(Duration::from_secs(120), |s| {
            s.server.is_authenticated() && s.client.is_authenticated()
        });
        assert!(
            sim.server.is_authenticated() && sim.client.is_authenticated(),
            "seed {seed}: {:?} / {:?}",
            sim.server_events,
            sim.client_events
        );
        assert_eq!(sim.requests.len(), 2, "seed {seed}");
        failure_replays += sim.server.stats().replays;
    }
    assert!(
        failure_replays > 0,
        "a lost Failure was repeated at least once"
    );
}

// --- timers ----------------------------------------------------------------

#[test]
fn pap_server_times_out_without_a_request() {
    let config = AuthConfig {
        timeout: Duration::from_secs(20),
        ..AuthConfig::default()
    };
    let mut sim = Sim::new(AuthMethod::Pap, config, 10);
    sim.client_present = false;
    sim.start();
    assert_eq!(
        sim.server.poll_timeout(),
        Some(sim.base + Duration::from_secs(20))
    );
    sim.run(Duration::from_secs(100));
    assert_eq!(sim.elapsed(), Duration::from_secs(20));
    assert_eq!(
        sim.server_outcomes(),
        [&AuthServerEvent::Failed(AuthFailure::Timeout)]
    );
    assert!(
        sim.wire.is_empty(),
        "a PAP authenticator never speaks first"
    );
}

#[test]
fn chap_challenge_is_retransmitted_then_gives_up() {
    let config = AuthConfig {
        retry_interval: Duration::from_secs(3),
        max_retries: 4,
        timeout: Duration::from_secs(100),
        ..AuthConfig::default()
    };
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let mut sim = Sim::new(method, config.clone(), 11);
        sim.client_present = false;
        sim.start();
        sim.run(Duration::from_secs(200));
        // Four transmissions 3 s apart, then the fourth times out.
        assert_eq!(sim.elapsed(), Duration::from_secs(12));
        assert_eq!(sim.wire.len(), 4);
        assert!(
            sim.wire.windows(2).all(|w| w[0].1 == w[1].1),
            "identical copies"
        );
        assert_eq!(sim.server.stats().retransmits, 3);
        assert_eq!(
            sim.server_outcomes(),
            [&AuthServerEvent::Failed(AuthFailure::NoResponse)]
        );
    }
}

#[test]
fn chap_overall_timeout_beats_retries() {
    let config = AuthConfig {
        retry_interval: Duration::from_secs(3),
        max_retries: 100,
        timeout: Duration::from_secs(10),
        ..AuthConfig::default()
    };
    let mut sim = Sim::new(AuthMethod::ChapMd5, config, 12);
    sim.client_present = false;
    sim.start();
    sim.run(Duration::from_secs(200));
    assert_eq!(sim.elapsed(), Duration::from_secs(10));
    assert_eq!(
        sim.server_outcomes(),
        [&AuthServerEvent::Failed(AuthFailure::Timeout)]
    );
}

#[test]
fn pending_decision_times_out_and_a_late_decision_is_ignored() {
    for method in METHODS {
        let config = AuthConfig {
            timeout: Duration::from_secs(5),
            ..AuthConfig::default()
        };
        let mut sim = Sim::new(method, config, 13);
        sim.aaa_delay = Duration::from_secs(8);
        sim.start();
        sim.run(Duration::from_secs(60));
        assert_eq!(
            sim.server_outcomes(),
            [&AuthServerEvent::Failed(AuthFailure::Timeout)],
            "{method:?}"
        );
        // The decision at 8 s changed nothing and sent nothing.
        assert!(sim.server.is_failed());
        assert_eq!(sim.server.stats().ignored_decisions, 1);
        let verdict_codes: &[u8] = if method == AuthMethod::Pap {
            &[2, 3]
        } else {
            &[3, 4]
        };
        assert!(
            !sim.wire
                .iter()
                .any(|(to, p)| *to == To::Client && verdict_codes.contains(&p[0]))
        );
        // The peer gives up on its own.
        assert!(sim.client.is_failed(), "{method:?}");
    }
}

#[test]
fn pap_client_retransmits_then_gives_up() {
    let config = AuthConfig {
        retry_interval: Duration::from_secs(2),
        max_retries: 5,
        timeout: Duration::from_secs(100),
        ..AuthConfig::default()
    };
    let mut client = AuthClient::new(AuthMethod::Pap, USER, PASSWORD, config, [5; 32]);
    let base = Instant::now();
    client.start(base);
    let mut buf = [0u8; 1500];
    let mut sent = Vec::new();
    let mut now = base;
    loop {
        while let Some(len) = client.poll_transmit(&mut buf) {
            sent.push((now - base, buf[..len].to_vec()));
        }
        let Some(next) = client.poll_timeout() else {
            break;
        };
        now = next;
        client.handle_timeout(now);
    }
    assert_eq!(
        sent.iter().map(|(t, _)| t.as_secs()).collect::<Vec<_>>(),
        [0, 2, 4, 6, 8]
    );
    assert_eq!(now - base, Duration::from_secs(10));
    let request = PapRepr::parse_bytes(&sent[0].1).unwrap();
    assert_eq!(
        request.message,
        PapMessage::AuthenticateRequest {
            peer_id: USER.into(),
            password: PASSWORD.into()
        }
    );
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Failed(AuthFailure::NoResponse))
    );
}

#[test]
fn chap_client_resends_its_response_then_gives_up() {
    let config = AuthConfig {
        retry_interval: Duration::from_secs(1),
        max_retries: 3,
        timeout: Duration::from_secs(100),
        ..AuthConfig::default()
    };
    let mut client = AuthClient::new(AuthMethod::ChapMd5, USER, PASSWORD, config, [6; 32]);
    let base = Instant::now();
    client.start(base);
    let challenge = ChapRepr::new(
        7,
        ChapMessage::Challenge {
            value: vec![0x11; 16],
            name: b"lns".to_vec(),
        },
    );
    client.handle_packet(base, &challenge.to_vec().unwrap());
    let mut buf = [0u8; 1500];
    let mut sent = Vec::new();
    let mut now = base;
    loop {
        while let Some(n) = client.poll_transmit(&mut buf) {
            sent.push((now - base, buf[..n].to_vec()));
        }
        let Some(next) = client.poll_timeout() else {
            break;
        };
        now = next;
        client.handle_timeout(now);
    }
    assert_eq!(
        sent.iter().map(|(t, _)| t.as_secs()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(sent.windows(2).all(|w| w[0].1 == w[1].1));
    assert_eq!(
        ChapRepr::parse_bytes(&sent[0].1).unwrap().message,
        ChapMessage::Response {
            value: chap_md5_response(7, PASSWORD.as_bytes(), &[0x11; 16]).to_vec(),
            name: USER.into()
        }
    );
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Failed(AuthFailure::NoResponse))
    );
    assert_eq!(now - base, Duration::from_secs(3));
}

#[test]
fn chap_client_times_out_without_a_challenge() {
    let config = AuthConfig {
        timeout: Duration::from_secs(7),
        ..AuthConfig::default()
    };
    let mut client = AuthClient::new(AuthMethod::ChapMd5, USER, PASSWORD, config, [5; 32]);
    let base = Instant::now();
    client.start(base);
    assert_eq!(client.poll_transmit(&mut [0; 64]), None);
    assert_eq!(client.poll_timeout(), Some(base + Duration::from_secs(7)));
    client.handle_timeout(base + Duration::from_secs(6));
    assert_eq!(client.poll_event(), None);
    client.handle_timeout(base + Duration::from_secs(7));
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Failed(AuthFailure::Timeout))
    );
    assert_eq!(client.poll_timeout(), None);
}

// --- duplicates and replays ------------------------------------------------

/// Drives a server by hand: start, returns the first packet it sent.
fn started_server(method: AuthMethod, now: Instant) -> (AuthServer, Option<Vec<u8>>) {
    let mut server = AuthServer::new(method, AuthConfig::default(), [3; 32]);
    server.start(now);
    let mut buf = [0u8; 1500];
    let first = server.poll_transmit(&mut buf).map(|n| buf[..n].to_vec());
    (server, first)
}

fn drain_server(server: &mut AuthServer) -> (Vec<Vec<u8>>, Vec<AuthServerEvent>) {
    let mut buf = [0u8; 1500];
    let mut packets = Vec::new();
    while let Some(n) = server.poll_transmit(&mut buf) {
        packets.push(buf[..n].to_vec());
    }
    let mut events = Vec::new();
    while let Some(e) = server.poll_event() {
        events.push(e);
    }
    (packets, events)
}

fn pap_request(id: u8, password: &str) -> Vec<u8> {
    PapRepr::new(
        id,
        PapMessage::AuthenticateRequest {
            peer_id: USER.into(),
            password: password.into(),
        },
    )
    .to_vec()
    .unwrap()
}

#[test]
fn pap_duplicates_are_absorbed_and_answers_replayed() {
    let now = Instant::now();
    let (mut server, first) = started_server(AuthMethod::Pap, now);
    assert_eq!(first, None);
    server.handle_packet(now, &pap_request(7, PASSWORD));
    server.handle_packet(now, &pap_request(7, PASSWORD));
    // pppd changes the Identifier on each retransmission.
    server.handle_packet(now, &pap_request(8, PASSWORD));
    let (packets, events) = drain_server(&mut server);
    assert!(packets.is_empty());
    assert_eq!(events.len(), 3);
    assert!(matches!(
        events[0],
        AuthServerEvent::Requested(AuthRequest::Pap { .. })
    ));
    assert_eq!(
        events[1..],
        [
            AuthServerEvent::Dropped {
                reason: DropReason::Duplicate
            },
            AuthServerEvent::Dropped {
                reason: DropReason::Duplicate
            }
        ]
    );
    server.auth_complete(
        now,
        AuthDecision::Accept {
            message: Some("ok".into()),
            mschapv2_authenticator_response: None,
        },
    );
    let (packets, events) = drain_server(&mut server);
    assert_eq!(events, [AuthServerEvent::Succeeded]);
    let ack = PapRepr::parse_bytes(&packets[0]).unwrap();
    assert_eq!(ack.identifier, 8, "answers the latest request");
    assert_eq!(
        ack.message,
        PapMessage::AuthenticateAck {
            message: b"ok".to_vec()
        }
    );
    // The Ack was lost: the same answer again, for each retransmission.
    server.handle_packet(now, &pap_request(8, PASSWORD));
    server.handle_packet(now, &pap_request(9, PASSWORD));
    let (packets, events) = drain_server(&mut server);
    assert!(events.is_empty());
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[0], ack.to_vec().unwrap());
    assert_eq!(PapRepr::parse_bytes(&packets[1]).unwrap().identifier, 9);
    assert_eq!(server.stats().replays, 2);
    // A second decision changes nothing.
    server.auth_complete(now, AuthDecision::Reject { message: None });
    assert_eq!(drain_server(&mut server), (vec![], vec![]));
    assert_eq!(server.stats().ignored_decisions, 1);
    assert!(server.is_authenticated());
}

#[test]
fn chap_response_after_success_gets_success_again() {
    let now = Instant::now();
    let (mut server, challenge) = started_server(AuthMethod::ChapMd5, now);
    let challenge = ChapRepr::parse_bytes(&challenge.unwrap()).unwrap();
    let ChapMessage::Challenge { value, .. } = &challenge.message else {
        panic!()
    };
    let id = challenge.identifier;
    let response = ChapRepr::new(
        id,
        ChapMessage::Response {
            value: chap_md5_response(id, PASSWORD.as_bytes(), value).to_vec(),
            name: USER.into(),
        },
    )
    .to_vec()
    .unwrap();
    server.handle_packet(now, &response);
    server.handle_packet(now, &response);
    let (_, events) = drain_server(&mut server);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        AuthServerEvent::Dropped {
            reason: DropReason::Duplicate
        }
    );
    server.auth_complete(
        now,
        AuthDecision::Accept {
            message: None,
            mschapv2_authenticator_response: None,
        },
    );
    let (first, _) = drain_server(&mut server);
    server.handle_packet(now, &response);
    let (again, events) = drain_server(&mut server);
    assert!(events.is_empty());
    assert_eq!(first, again);
    assert_eq!(ChapRepr::parse_bytes(&again[0]).unwrap().identifier, id);
    // A Response with another Identifier is dropped.
    let mut stale = response.clone();
    stale[1] = id.wrapping_add(5);
    server.handle_packet(now, &stale);
    let (packets, events) = drain_server(&mut server);
    assert!(packets.is_empty());
    assert_eq!(
        events,
        [AuthServerEvent::Dropped {
            reason: DropReason::WrongIdentifier {
                received: id.wrapping_add(5),
                expected: id
            }
        }]
    );
}

#[test]
fn chap_client_answers_a_retransmitted_challenge_identically() {
    let now = Instant::now();
    let mut client = AuthClient::new(
        AuthMethod::MsChapV2,
        USER,
        PASSWORD,
        AuthConfig::default(),
        [1; 32],
    );
    client.start(now);
    let challenge = ChapRepr::new(
        3,
        ChapMessage::Challenge {
            value: vec![9; 16],
            name: b"lns".to_vec(),
        },
    )
    .to_vec()
    .unwrap();
    let next = |client: &mut AuthClient| {
        let mut buf = [0u8; 1500];
        let len = client.poll_transmit(&mut buf).unwrap();
        buf[..len].to_vec()
    };
    client.handle_packet(now, &challenge);
    let first = next(&mut client);
    client.handle_packet(now, &challenge);
    let second = next(&mut client);
    assert_eq!(first, second, "same peer challenge, same NT-Response");
    // The response timer re-sends it too.
    let at = client.poll_timeout().unwrap();
    assert_eq!(at, now + AuthConfig::default().retry_interval);
    client.handle_timeout(at);
    assert_eq!(next(&mut client), first);
}

#[test]
fn stale_challenge_after_mschapv2_retry_is_ignored() {
    let now = Instant::now();
    let mut client = AuthClient::new(
        AuthMethod::MsChapV2,
        USER,
        PASSWORD,
        AuthConfig::default(),
        [4; 32],
    );
    client.start(now);
    let challenge = ChapRepr::new(
        1,
        ChapMessage::Challenge {
            value: vec![0xa1; 16],
            name: b"lns".to_vec(),
        },
    )
    .to_vec()
    .unwrap();
    client.handle_packet(now, &challenge);
    let failure = MsChapV2Failure {
        error: 691,
        retry: true,
        challenge: Some([0xb2; 16]),
        version: Some(3),
        message: None,
    };
    let failure = ChapRepr::new(
        1,
        ChapMessage::Failure {
            message: failure.to_message(),
        },
    );
    client.handle_packet(now, &failure.to_vec().unwrap());
    let mut buf = [0u8; 1500];
    let mut sent = Vec::new();
    while let Some(n) = client.poll_transmit(&mut buf) {
        sent.push(ChapRepr::parse_bytes(&buf[..n]).unwrap().identifier);
    }
    assert_eq!(
        sent,
        [1, 2],
        "the retry's Identifier is the Failure's plus one"
    );
    // A late copy of the first Challenge must not restart the exchange.
    client.handle_packet(now, &challenge);
    assert_eq!(client.poll_transmit(&mut buf), None);
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Dropped {
            reason: DropReason::Duplicate
        })
    );
}

// --- re-challenge ----------------------------------------------------------

#[test]
fn rechallenge_succeeds_then_fails() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let config = AuthConfig {
            rechallenge_interval: Some(Duration::from_secs(60)),
            ..AuthConfig::default()
        };
        let mut sim = Sim::new(method, config, 20);
        let mut calls = 0;
        sim.aaa = Box::new(move |request| {
            calls += 1;
            if calls <= 2 {
                local_aaa(request)
            } else {
                AuthDecision::Reject {
                    message: Some("account disabled".into()),
                }
            }
        });
        sim.start();
        sim.run_until(Duration::from_secs(30), |s| s.server.is_authenticated());
        let up_at = sim.now;
        assert_eq!(
            sim.server.poll_timeout(),
            Some(up_at + Duration::from_secs(60))
        );
        // The re-challenge goes out at exactly +60 s; the link stays
        // authenticated while it is outstanding.
        sim.run_until(Duration::from_secs(500), |s| s.requests.len() == 2);
        assert!(sim.now - up_at >= Duration::from_secs(60));
        assert!(sim.now - up_at < Duration::from_secs(61));
        assert!(sim.server.is_authenticated() && sim.client.is_authenticated());
        sim.run(Duration::from_secs(500));
        assert_eq!(sim.requests.len(), 3, "{method:?}");
        let ids: Vec<u8> = sim
            .requests
            .iter()
            .map(|r| match r {
                AuthRequest::Chap { id, .. } | AuthRequest::MsChapV2 { id, .. } => *id,
                AuthRequest::Pap { .. } => unreachable!(),
            })
            .collect();
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2],
            "a new Identifier per challenge"
        );
        assert_eq!(
            sim.server_outcomes(),
            [
                &AuthServerEvent::Succeeded,
                &AuthServerEvent::Reauthenticated,
                &AuthServerEvent::Failed(AuthFailure::RechallengeFailed)
            ],
            "{method:?}"
        );
        assert_eq!(
            sim.client_outcomes(),
            [
                &AuthClientEvent::Succeeded { message: welcome() },
                &AuthClientEvent::Reauthenticated,
                &AuthClientEvent::Failed(AuthFailure::RechallengeFailed)
            ],
            "{method:?}"
        );
    }
}

#[test]
fn pap_never_rechallenges() {
    let config = AuthConfig {
        rechallenge_interval: Some(Duration::from_secs(60)),
        ..AuthConfig::default()
    };
    let mut sim = Sim::new(AuthMethod::Pap, config, 21);
    sim.start();
    sim.run(Duration::from_secs(500));
    assert_eq!(sim.server.poll_timeout(), None);
    assert_eq!(sim.requests.len(), 1);
}

// --- malformed and unexpected input ----------------------------------------

#[test]
fn malformed_and_unexpected_packets_are_dropped_with_a_reason() {
    let now = Instant::now();
    for method in METHODS {
        let (mut server, _) = started_server(method, now);
        let mut client = AuthClient::new(method, USER, PASSWORD, AuthConfig::default(), [2; 32]);
        client.start(now);
        let _ = drain_server(&mut server);
        while client.poll_transmit(&mut [0; 1500]).is_some() {}
        let inputs: [&[u8]; 6] = [
            &[],
            &[1, 2, 0],
            &[1, 2, 0, 200, 0],
            &[2, 2, 0, 3],
            &[0x7f, 1, 0, 4],
            &[2, 1, 0, 6, 5, 5],
        ];
        for input in inputs {
            server.handle_packet(now, input);
            client.handle_packet(now, input);
        }
        let (packets, events) = drain_server(&mut server);
        assert!(packets.is_empty(), "{method:?}");
        assert_eq!(events.len(), inputs.len(), "{method:?}: {events:?}");
        assert!(
            events
                .iter()
                .all(|e| matches!(e, AuthServerEvent::Dropped { .. }))
        );
        assert_eq!(server.stats().dropped, inputs.len() as u64);
        let mut client_events = Vec::new();
        while let Some(e) = client.poll_event() {
            client_events.push(e);
        }
        assert_eq!(
            client_events.len(),
            inputs.len(),
            "{method:?}: {client_events:?}"
        );
        assert!(
            client_events
                .iter()
                .all(|e| matches!(e, AuthClientEvent::Dropped { .. }))
        );
        assert!(!server.is_failed() && !client.is_failed());
    }
}

#[test]
fn wrong_sizes_and_codes_have_precise_reasons() {
    let now = Instant::now();
    let (mut server, challenge) = started_server(AuthMethod::MsChapV2, now);
    let id = challenge.unwrap()[1];
    // A 16-octet MD5-style Response to an MS-CHAPv2 Challenge.
    let short = ChapRepr::new(
        id,
        ChapMessage::Response {
            value: vec![0; 16],
            name: USER.into(),
        },
    );
    server.handle_packet(now, &short.to_vec().unwrap());
    // A Challenge sent to the authenticator.
    let challenge = ChapRepr::new(
        id,
        ChapMessage::Challenge {
            value: vec![0; 16],
            name: vec![],
        },
    );
    server.handle_packet(now, &challenge.to_vec().unwrap());
    let (_, events) = drain_server(&mut server);
    assert_eq!(
        events,
        [
            AuthServerEvent::Dropped {
                reason: DropReason::BadValueSize(16)
            },
            AuthServerEvent::Dropped {
                reason: DropReason::UnexpectedCode(1)
            }
        ]
    );

    let mut client = AuthClient::new(
        AuthMethod::MsChapV2,
        USER,
        PASSWORD,
        AuthConfig::default(),
        [0; 32],
    );
    client.start(now);
    let bad_challenge = ChapRepr::new(
        1,
        ChapMessage::Challenge {
            value: vec![0; 8],
            name: vec![],
        },
    );
    client.handle_packet(now, &bad_challenge.to_vec().unwrap());
    let success = ChapRepr::new(1, ChapMessage::Success { message: vec![] });
    client.handle_packet(now, &success.to_vec().unwrap());
    assert_eq!(
        client.poll_event(),
        Some(AuthClientEvent::Dropped {
            reason: DropReason::BadValueSize(8)
        })
    );
    assert!(matches!(
        client.poll_event(),
        Some(AuthClientEvent::Dropped {
            reason: DropReason::WrongIdentifier { received: 1, .. }
        })
    ));
}

#[test]
fn packets_before_start_are_dropped() {
    let now = Instant::now();
    let mut server = AuthServer::new(AuthMethod::Pap, AuthConfig::default(), [0; 32]);
    server.handle_packet(now, &pap_request(1, PASSWORD));
    assert_eq!(
        server.poll_event(),
        Some(AuthServerEvent::Dropped {
            reason: DropReason::UnexpectedInState(1)
        })
    );
    assert_eq!(server.poll_timeout(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Safety over random links and AAA answers: the peer never believes
    /// it is in when the authenticator did not let it in, the authenticator
    /// never lets in a peer it rejected, and each side ends at most once.
    #[test]
    fn peers_never_disagree_on_the_verdict(
        method_index in 0usize..3,
        seed: u64,
        loss in 0.0f64..0.6,
        duplication in 0.0f64..0.5,
        max_latency_ms in 1u64..3000,
        accepts in proptest::collection::vec(any::<bool>(), 1..4),
    ) {
        let method = METHODS[method_index];
        let config = AuthConfig {
            retry_interval: Duration::from_secs(1),
            max_retries: 8,
            timeout: Duration::from_secs(20),
            ..AuthConfig::default()
        };
        let mut sim = Sim::new(method, config, seed);
        sim.loss = loss;
        sim.duplication = duplication;
        sim.min_latency = Duration::from_millis(1);
        sim.max_latency = Duration::from_millis(max_latency_ms);
        let mut calls = 0;
        sim.aaa = Box::new(move |request| {
            let accept = accepts[calls % accepts.len()];
            calls += 1;
            if accept {
                local_aaa(request)
            } else {
                AuthDecision::Reject { message: None }
            }
        });
        sim.start();
        sim.run(Duration::from_secs(120));
        let server = sim.server_outcomes();
        let client = sim.client_outcomes();
        prop_assert!(server.len() <= 1 && client.len() <= 1, "{server:?} {client:?}");
        let server_in = server.first() == Some(&&AuthServerEvent::Succeeded);
        let client_in = matches!(client.first(), Some(AuthClientEvent::Succeeded { .. }));
        prop_assert!(!client_in || server_in, "{server:?} {client:?}");
        prop_assert_eq!(sim.server.is_authenticated(), server_in);
        prop_assert_eq!(sim.client.is_authenticated(), client_in);
        // Everything ends: no timer left once both sides are terminal or up.
        prop_assert!(sim.server.poll_timeout().is_none());
        prop_assert!(sim.client.poll_timeout().is_none());
    }

    /// Arbitrary bytes in every phase never panic, and each packet that
    /// is not a valid step yields at most one event.
    #[test]
    fn arbitrary_input_never_panics(
        method_index in 0usize..3,
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20),
        decide_at in 0usize..20,
    ) {
        let method = METHODS[method_index];
        let now = Instant::now();
        let mut server = AuthServer::new(method, AuthConfig::default(), [1; 32]);
        let mut client = AuthClient::new(method, USER, PASSWORD, AuthConfig::default(), [2; 32]);
        server.start(now);
        client.start(now);
        let mut buf = [0u8; 1500];
        for (i, packet) in packets.iter().enumerate() {
            server.handle_packet(now, packet);
            client.handle_packet(now, packet);
            if i == decide_at {
                server.auth_complete(now, AuthDecision::Reject { message: None });
            }
            while server.poll_transmit(&mut buf).is_some() {}
            while client.poll_transmit(&mut buf).is_some() {}
            while server.poll_event().is_some() {}
            while client.poll_event().is_some() {}
            server.handle_timeout(now + Duration::from_secs(i as u64));
            client.handle_timeout(now + Duration::from_secs(i as u64));
        }
    }

    /// Packets with the right shape but random content: still no panic.
    #[test]
    fn structured_noise_never_panics(code in 0u8..6, id: u8, body in proptest::collection::vec(any::<u8>(), 0..60)) {
        let mut packet = vec![code, id];
        packet.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        packet.extend_from_slice(&body);
        for method in METHODS {
            let now = Instant::now();
            let mut server = AuthServer::new(method, AuthConfig::default(), [1; 32]);
            let mut client = AuthClient::new(method, USER, PASSWORD, AuthConfig::default(), [2; 32]);
            server.start(now);
            client.start(now);
            server.handle_packet(now, &packet);
            client.handle_packet(now, &packet);
            prop_assert!(server.stats().dropped <= 1);
        }
    }
}

// --- against FreeRADIUS as the AAA ----------------------------------------

/// What FreeRADIUS 3.2 decides for `request` (PAP: User-Password;
/// MS-CHAPv2: MS-CHAP-Challenge + MS-CHAP2-Response, RFC 2548 §2.3.2),
/// with the authenticator response taken from its MS-CHAP2-Success.
fn freeradius_decision(radius: &FreeRadius, request: &AuthRequest) -> AuthDecision {
    let user = String::from_utf8_lossy(request.user()).into_owned();
    let reply = match request {
        AuthRequest::Pap { password, .. } => {
            let password = String::from_utf8_lossy(password.expose()).into_owned();
            radius.auth(&[("User-Name", &user), ("User-Password", &password)])
        }
        AuthRequest::MsChapV2 {
            id,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            flags,
            ..
        } => {
            // Ident, Flags, Peer-Challenge, 8 reserved, NT-Response.
            let mut value = vec![*id, *flags];
            value.extend_from_slice(peer_challenge);
            value.extend_from_slice(&[0; 8]);
            value.extend_from_slice(nt_response);
            radius.auth(&[
                ("User-Name", &user),
                (
                    "MS-CHAP-Challenge",
                    &format!("0x{}", hex::encode(authenticator_challenge)),
                ),
                ("MS-CHAP2-Response", &format!("0x{}", hex::encode(value))),
            ])
        }
        AuthRequest::Chap { .. } => panic!("radclient re-encodes CHAP-Password"),
    }
    .expect("radclient runs");
    if reply.code() != Some("Access-Accept") {
        return AuthDecision::Reject { message: None };
    }
    let authenticator_response = reply.attrs.get("MS-CHAP2-Success").map(|value| {
        let bytes = hex::decode(value.trim_start_matches("0x")).expect("hex MS-CHAP2-Success");
        // The CHAP Ident, then the Success Message "S=<40 hex> …".
        MsChapV2Success::parse(&bytes[1..])
            .expect("S= in MS-CHAP2-Success")
            .authenticator_response
    });
    AuthDecision::Accept {
        message: None,
        mschapv2_authenticator_response: authenticator_response,
    }
}

#[test]
fn pap_and_mschapv2_against_freeradius() -> common::Result<()> {
    let radius = Rc::new(
        FreeRadius::builder()
            .user(UserEntry::new(USER).password(PASSWORD))
            .start()?,
    );
    for (method, password, accepted) in [
        (AuthMethod::Pap, PASSWORD, true),
        (AuthMethod::Pap, "wrong", false),
        (AuthMethod::MsChapV2, PASSWORD, true),
        (AuthMethod::MsChapV2, "wrong", false),
    ] {
        let config = AuthConfig {
            max_attempts: 1,
            ..AuthConfig::default()
        };
        let client = AuthClient::new(method, USER, password, config.clone(), seed_bytes(30, 2));
        let mut sim = Sim::with_client(method, config, client, 30);
        let aaa = Rc::clone(&radius);
        sim.aaa = Box::new(move |request| freeradius_decision(&aaa, request));
        sim.start();
        sim.run(Duration::from_secs(60));
        // Our NT-Response convinces FreeRADIUS, and its authenticator
        // response convinces our peer (RFC 2759 §8.8).
        assert_eq!(
            sim.server.is_authenticated(),
            accepted,
            "{method:?}: {:?}",
            sim.server_events
        );
        assert_eq!(
            sim.client.is_authenticated(),
            accepted,
            "{method:?}: {:?}",
            sim.client_events
        );
        assert_eq!(sim.requests.len(), 1);
    }
    Ok(())
}

// --- fixtures from an independent implementation ----------------------------

/// The PAP packets (PPP payload, Code first) of a PPPoE Ethernet capture,
/// with the subscriber's MAC (source for requests, destination for
/// answers).
fn pap_packets_in(path: &str) -> Vec<([u8; 6], Vec<u8>)> {
    let bytes = std::fs::read(common::manifest_dir().join(path)).unwrap();
    let mut out = Vec::new();
    for frame in pcapng_ethernet_frames(&bytes) {
        let frame = &frame;
        let mut at = 12;
        while matches!(frame.get(at..at + 2), Some([0x81, 0x00] | [0x88, 0xa8])) {
            at += 4;
        }
        if frame.get(at..at + 2) != Some(&[0x88, 0x64][..]) {
            continue;
        }
        let pppoe = &frame[at + 2..];
        let len = usize::from(u16::from_be_bytes([pppoe[4], pppoe[5]]));
        let ppp = &pppoe[6..6 + len];
        if ppp[..2] != [0xc0, 0x23] {
            continue;
        }
        let mut subscriber = [0u8; 6];
        let request = ppp[2] == 1;
        subscriber.copy_from_slice(if request { &frame[6..12] } else { &frame[..6] });
        out.push((subscriber, ppp[2..].to_vec()));
    }
    out
}

/// The frames of a little-endian pcapng file whose interfaces are all
/// Ethernet. BNG Blaster omits `opt_endofopt`, which the pcap-file crate
/// requires, so the blocks are walked here (draft-ietf-opsawg-pcapng §4:
/// Section Header 0x0A0D0D0A, Interface Description 1, Enhanced Packet 6).
fn pcapng_ethernet_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(
        &bytes[8..12],
        &[0x4d, 0x3c, 0x2b, 0x1a],
        "little-endian pcapng"
    );
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let (kind, len) = (u32_at(at), u32_at(at + 4));
        assert!(len >= 12 && at + len <= bytes.len(), "block length");
        match kind {
            1 => assert_eq!(
                u16::from_le_bytes([bytes[at + 8], bytes[at + 9]]),
                1,
                "Ethernet"
            ),
            6 => {
                let captured = u32_at(at + 20);
                frames.push(bytes[at + 28..at + 28 + captured].to_vec());
            }
            _ => {}
        }
        at += len;
    }
    frames
}

/// BNG Blaster's PAP client against its own server: each subscriber sends
/// an Authenticate-Request, retransmits it with the same Identifier, and
/// gets an Ack with a message. Our authenticator absorbs the retransmission
/// while deciding and answers with the same bytes BNG Blaster's server did.
#[test]
fn pap_exchanges_from_bng_blaster_capture() {
    let packets = pap_packets_in("tests/fixtures/captures/pppoe-lcp-pap-ipcp.pcap");
    let mut subscribers: Vec<[u8; 6]> = packets.iter().map(|(mac, _)| *mac).collect();
    subscribers.sort_unstable();
    subscribers.dedup();
    assert_eq!(subscribers.len(), 10);
    let now = Instant::now();
    for mac in subscribers {
        let mine: Vec<&Vec<u8>> = packets
            .iter()
            .filter(|(m, _)| *m == mac)
            .map(|(_, p)| p)
            .collect();
        let requests: Vec<_> = mine.iter().filter(|p| p[0] == 1).collect();
        let ack = mine
            .iter()
            .find(|p| p[0] == 2)
            .expect("an Ack per subscriber");
        assert!(requests.len() >= 2, "the capture has retransmissions");
        let (mut server, _) = started_server(AuthMethod::Pap, now);
        for request in &requests {
            server.handle_packet(now, request);
        }
        let (packets, events) = drain_server(&mut server);
        assert!(packets.is_empty());
        let AuthServerEvent::Requested(AuthRequest::Pap { user, password }) = &events[0] else {
            panic!("{events:?}")
        };
        assert!(user.starts_with(b"user") && user.ends_with(b"@test"));
        assert_eq!(password.expose(), b"test");
        assert!(events[1..].iter().all(|e| *e
            == AuthServerEvent::Dropped {
                reason: DropReason::Duplicate
            }));
        let PapMessage::AuthenticateAck { message } = PapRepr::parse_bytes(ack).unwrap().message
        else {
            panic!()
        };
        server.auth_complete(
            now,
            AuthDecision::Accept {
                message: Some(String::from_utf8(message).unwrap()),
                mschapv2_authenticator_response: None,
            },
        );
        let (answer, _) = drain_server(&mut server);
        assert_eq!(&answer[0], *ack, "byte for byte the Ack BNG Blaster sent");
    }
}

// --- misc ------------------------------------------------------------------

#[test]
fn passwords_never_show_in_debug() {
    let now = Instant::now();
    let mut client = AuthClient::new(
        AuthMethod::Pap,
        USER,
        PASSWORD,
        AuthConfig::default(),
        [0; 32],
    );
    client.start(now);
    let (mut server, _) = started_server(AuthMethod::Pap, now);
    server.handle_packet(now, &pap_request(1, PASSWORD));
    let event = server.poll_event().unwrap();
    let text = format!("{event:?} {server:?} {:?}", server.last_request());
    assert!(text.contains(USER), "{text}");
    assert_password_absent(&text);
    assert_password_absent(&format!("{client:?}"));
}

/// Neither the text nor its bytes as a Debug list of numbers.
fn assert_password_absent(text: &str) {
    assert!(!text.contains(PASSWORD), "{text}");
    let as_numbers = format!("{:?}", PASSWORD.as_bytes());
    let inner = &as_numbers[1..as_numbers.len() - 1];
    assert!(!text.contains(inner), "{text}");
}

#[test]
fn small_transmit_buffer_loses_the_packet_visibly() {
    let now = Instant::now();
    let mut server = AuthServer::new(AuthMethod::ChapMd5, AuthConfig::default(), [0; 32]);
    server.start(now);
    assert_eq!(server.poll_transmit(&mut [0u8; 8]), None);
    assert_eq!(server.stats().transmit_lost, 1);
}

#[test]
fn method_conversions() {
    for method in METHODS {
        let option = method.to_lcp_option();
        assert_eq!(AuthMethod::from_lcp_option(&option), Some(method));
        let wire: tunnelnas::wire::ppp::AuthMethod = method.into();
        assert_eq!(AuthMethod::try_from(wire), Ok(method));
        assert_eq!(method.protocol(), wire.protocol());
    }
    assert_eq!(AuthMethod::Pap.protocol(), Protocol::Pap);
    assert_eq!(AuthMethod::MsChapV2.protocol(), Protocol::Chap);
    assert!(AuthMethod::try_from(tunnelnas::wire::ppp::AuthMethod::Eap).is_err());
    assert_eq!(
        AuthMethod::from_lcp_option(&LcpOption::auth(tunnelnas::wire::ppp::AuthMethod::MsChap)),
        None
    );
    assert_eq!(
        tunnelnas::node::convert::auth_method(tunnelnas::config::AuthProtocol::Chap),
        AuthMethod::ChapMd5
    );
    let ppp = tunnelnas::config::Ppp::default();
    let config = tunnelnas::node::convert::auth_config(&ppp);
    assert_eq!(config.retry_interval, ppp.restart_timer.get());
    assert_eq!(config.max_retries, ppp.max_configure);
    assert_eq!(config.timeout, ppp.auth_timeout.get());
}
