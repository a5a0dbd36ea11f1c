//! L2TP endpoints (RFC 2661) in virtual time: a LAC endpoint and an LNS
//! endpoint over a simulated link with seeded loss, reordering and
//! duplication; plus a hand-driven raw peer for malformed and unexpected
//! input. No sockets, no sleeps.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tunnelnas::l2tp::channel::ChannelConfig;
use tunnelnas::l2tp::{
    CallInfo, Direction, DropReason, Endpoint, EndpointConfig, Event, OpenSession, PeerPolicy,
    ProxyInfo, SessionDownCause, SessionHandle, TunnelDownCause, TunnelState,
};
use tunnelnas::wire::l2tp::{
    Avp, Bearer, CdnResult, ControlMessage, Framing, GeneralError, MessageAvp, MessageType,
    ProtocolVersion, ProxyAuthenType, Q931Cause, ResultCode, StopCcnResult, challenge_response,
};

fn lac_addr() -> SocketAddr {
    "192.0.2.1:1701".parse().unwrap()
}
fn lns_addr() -> SocketAddr {
    "198.51.100.1:1701".parse().unwrap()
}
/// The port the LNS answers from when the test wants §8.1's port change.
fn lns_alt_addr() -> SocketAddr {
    "198.51.100.1:40001".parse().unwrap()
}

fn channel(max_retransmits: u8) -> ChannelConfig {
    ChannelConfig {
        receive_window: 16,
        max_retransmits,
        ..ChannelConfig::default()
    }
}

fn lac_config() -> EndpointConfig {
    EndpointConfig {
        channel: channel(5),
        host_name: b"lac".to_vec(),
        accept_calls: false,
        max_sessions_per_tunnel: 100,
        ..EndpointConfig::default()
    }
}

fn lns_config(secret: &[u8]) -> EndpointConfig {
    EndpointConfig {
        channel: channel(5),
        host_name: b"lns".to_vec(),
        peers: vec![PeerPolicy {
            network: "192.0.2.0/24".parse().unwrap(),
            secret: secret.to_vec(),
            host_name: None,
            max_tunnels: None,
            hide_avps: None,
        }],
        ..EndpointConfig::default()
    }
}

fn call(serial: u32) -> CallInfo {
    CallInfo {
        call_serial_number: serial,
        bearer_type: Some(Bearer::DIGITAL),
        physical_channel_id: Some(serial),
        calling_number: Some(
            format!("00:00:5e:00:{:02x}:{:02x}", serial >> 8, serial & 0xff).into_bytes(),
        ),
        called_number: Some(b"isp.example".to_vec()),
        sub_address: None,
        tx_connect_speed: 1_000_000_000,
        rx_connect_speed: Some(100_000_000),
        framing_type: Framing::SYNC,
        private_group_id: None,
        sequencing_required: serial % 2 == 0,
        proxy: ProxyInfo {
            initial_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4, 5, 6, 1, 2, 3, 4]),
            last_sent_lcp_confreq: Some(vec![1, 4, 5, 0xd4, 3, 5, 0xc2, 0x23, 5]),
            last_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4, 5, 6, 1, 2, 3, 4]),
            authen_type: Some(ProxyAuthenType::Chap),
            authen_name: Some(format!("user{serial}@isp.example").into_bytes()),
            authen_challenge: Some(vec![0x5a; 16]),
            authen_id: Some((serial & 0xff) as u8),
            authen_response: Some(vec![0xa5; 16]),
        },
    }
}

fn open(serial: u32, secret: &[u8]) -> OpenSession {
    OpenSession {
        peer: lns_addr(),
        secret: secret.to_vec(),
        assignment_id: Some(b"group-a".to_vec()),
        client_auth_id: None,
        call: call(serial),
        request_id: u64::from(serial),
    }
}

/// A one-way datagram in flight.
#[derive(Debug)]
struct InFlight {
    deliver_at: Instant,
    order: u64,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// Link impairments.
#[derive(Debug, Clone, Copy)]
struct Impairments {
    loss: f64,
    duplicate: f64,
    /// Extra random delay up to this, which reorders.
    jitter: Duration,
}

impl Impairments {
    const CLEAN: Self = Self {
        loss: 0.0,
        duplicate: 0.0,
        jitter: Duration::ZERO,
    };
}

/// Two endpoints and a link, in virtual time.
struct Sim {
    now: Instant,
    lac: Endpoint,
    lns: Endpoint,
    rng: StdRng,
    link: Impairments,
    base_delay: Duration,
    flight: Vec<InFlight>,
    order: u64,
    lac_events: Vec<Event>,
    lns_events: Vec<Event>,
    /// LNS accepts every SessionRequest.
    auto_accept: bool,
    /// LNS datagrams appear to come from `lns_alt_addr` (§8.1).
    lns_changes_port: bool,
    /// Message types seen on the wire (from, type); ZLBs as None.
    wire_log: Vec<(SocketAddr, Option<MessageType>)>,
    /// Drop everything from the LNS (peer dead).
    lns_mute: bool,
    /// Drop everything from the LAC.
    lac_mute: bool,
}

impl Sim {
    fn new(lac: EndpointConfig, lns: EndpointConfig, link: Impairments, seed: u8) -> Self {
        Self {
            now: Instant::now(),
            lac: Endpoint::new(lac, [seed; 32]),
            lns: Endpoint::new(lns, [seed.wrapping_add(1); 32]),
            rng: StdRng::from_seed([seed.wrapping_add(2); 32]),
            link,
            base_delay: Duration::from_millis(5),
            flight: Vec::new(),
            order: 0,
            lac_events: Vec::new(),
            lns_events: Vec::new(),
            auto_accept: true,
            lns_changes_port: false,
            wire_log: Vec::new(),
            lns_mute: false,
            lac_mute: false,
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let ty = ControlMessage::from_bytes(&bytes, None)
            .ok()
            .and_then(|m| m.message_type);
        self.wire_log.push((from, ty));
        if (from.ip() == lns_addr().ip() && self.lns_mute) || (from == lac_addr() && self.lac_mute)
        {
            return;
        }
        if self.rng.random_bool(self.link.loss) {
            return;
        }
        let copies = if self.rng.random_bool(self.link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.link.jitter.is_zero() {
                Duration::ZERO
            } else {
                self.link.jitter.mul_f64(self.rng.random::<f64>())
            };
            self.order += 1;
            self.flight.push(InFlight {
                deliver_at: self.now + self.base_delay + jitter,
                order: self.order,
                from,
                to,
                bytes: bytes.clone(),
            });
        }
    }

    /// Moves transmissions onto the link and events into the logs.
    fn pump(&mut self) {
        let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
        loop {
            let mut progressed = false;
            while let Some((to, len)) = self.lac.poll_transmit(self.now, &mut buf) {
                assert_eq!(to.ip(), lns_addr().ip());
                self.send(lac_addr(), to, buf[..len].to_vec());
                progressed = true;
            }
            while let Some((to, len)) = self.lns.poll_transmit(self.now, &mut buf) {
                assert_eq!(to, lac_addr());
                let from = if self.lns_changes_port {
                    lns_alt_addr()
                } else {
                    lns_addr()
                };
                self.send(from, to, buf[..len].to_vec());
                progressed = true;
            }
            while let Some(event) = self.lac.poll_event() {
                if let Event::SessionRequest { handle, .. } = &event
                    && self.auto_accept
                {
                    assert!(self.lac.accept_session(self.now, *handle));
                }
                self.lac_events.push(event);
                progressed = true;
            }
            while let Some(event) = self.lns.poll_event() {
                if let Event::SessionRequest { handle, .. } = &event
                    && self.auto_accept
                {
                    assert!(self.lns.accept_session(self.now, *handle));
                }
                self.lns_events.push(event);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    /// Advances to the next thing that happens; false when nothing will.
    fn step(&mut self) -> bool {
        self.pump();
        let next_packet = self.flight.iter().map(|f| f.deliver_at).min();
        let next = [
            next_packet,
            self.lac.poll_timeout(),
            self.lns.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            return false;
        };
        self.now = self.now.max(next);
        let mut due: Vec<InFlight> = Vec::new();
        let mut rest = Vec::new();
        for f in self.flight.drain(..) {
            if f.deliver_at <= self.now {
                due.push(f);
            } else {
                rest.push(f);
            }
        }
        self.flight = rest;
        due.sort_by_key(|f| (f.deliver_at, f.order));
        for f in due {
            if f.to == lac_addr() {
                self.lac.handle_datagram(self.now, f.from, &f.bytes);
            } else {
                self.lns.handle_datagram(self.now, f.from, &f.bytes);
            }
        }
        self.lac.handle_timeout(self.now);
        self.lns.handle_timeout(self.now);
        self.pump();
        true
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(self.now <= end, "condition not reached within {limit:?}");
            if !self.step() {
                assert!(done(self), "simulation went idle before the condition held");
                return;
            }
        }
    }

    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            if !self.step() {
                break;
            }
        }
    }

    fn count(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
        events.iter().filter(|e| pred(e)).count()
    }
}

fn is_session_up(e: &Event) -> bool {
    matches!(e, Event::SessionUp { .. })
}

fn is_tunnel_up(e: &Event) -> bool {
    matches!(e, Event::TunnelUp { .. })
}

fn stop_results(events: &[Event], direction: Direction) -> Vec<ResultCode> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StopCcn {
                direction: d,
                result,
            } if *d == direction => Some(result.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_thousand_sessions_on_few_tunnels_over_a_lossy_reordering_duplicating_link() {
    let secret = b"wholesale";
    let mut lac = lac_config();
    lac.channel = channel(20);
    lac.hide_avps = true;
    // One tunnel of the group takes new calls at a time, so tunnels fill
    // up one after the other: the fewest tunnels max_sessions_per_tunnel
    // allows. (With the default, calls waiting behind a window open
    // parallel tunnels: tests/l2tp_backpressure.rs.)
    lac.max_tunnels_per_lns = 1;
    let mut lns = lns_config(secret);
    lns.channel = channel(20);
    // 20 % loss each way with 100 calls queued per tunnel: setup takes
    // minutes, not the default minute.
    lac.setup_timeout = Duration::from_secs(900);
    lns.setup_timeout = Duration::from_secs(900);
    let link = Impairments {
        loss: 0.2,
        duplicate: 0.05,
        jitter: Duration::from_millis(40),
    };
    let mut sim = Sim::new(lac, lns, link, 11);
    let mut handles = Vec::new();
    for serial in 0..1000 {
        handles.push(sim.lac.open_session(sim.now, open(serial, secret)).unwrap());
        if serial % 50 == 49 {
            sim.run_for(Duration::from_millis(200));
        }
    }
    sim.run_until(Duration::from_secs(600), |s| {
        Sim::count(&s.lac_events, is_session_up) == 1000
            && Sim::count(&s.lns_events, is_session_up) == 1000
    });

    // Max sessions per tunnel respected, on as few tunnels as that allows.
    let per_tunnel = sim.lac.sessions_per_tunnel();
    assert_eq!(per_tunnel.len(), 10, "{per_tunnel:?}");
    assert!(per_tunnel.iter().all(|(_, n)| *n == 100), "{per_tunnel:?}");
    assert_eq!(sim.lns.session_count(), 1000);
    // Retransmitted SCCRQs (Tunnel ID 0) reached their first tunnel instead
    // of opening new ones.
    assert_eq!(sim.lns.tunnel_count(), 10);
    for info in sim.lns.tunnels() {
        assert_eq!(info.state, TunnelState::Established);
        assert_eq!(info.sessions, 100);
        assert_eq!(info.peer_host_name, b"lac");
        assert!(!info.initiated_locally);
    }
    assert_eq!(Sim::count(&sim.lac_events, is_tunnel_up), 10);
    assert_eq!(Sim::count(&sim.lns_events, is_tunnel_up), 10);
    // Unique ids, proxy AVPs and hidden AVPs carried intact.
    let unique: HashSet<SessionHandle> = handles.iter().copied().collect();
    assert_eq!(unique.len(), 1000);
    let lac_calls: BTreeMap<u32, CallInfo> = sim
        .lac_events
        .iter()
        .filter_map(|e| match e {
            Event::SessionUp {
                call, request_id, ..
            } => {
                assert_eq!(u64::from(call.call_serial_number), *request_id);
                Some((call.call_serial_number, (**call).clone()))
            }
            _ => None,
        })
        .collect();
    for event in &sim.lns_events {
        if let Event::SessionUp {
            call,
            handle,
            peer_session_id,
            ..
        } = event
        {
            assert_eq!(**call, lac_calls[&call.call_serial_number]);
            let info = sim
                .lns
                .session(handle.tunnel_id, handle.session_id)
                .unwrap();
            assert!(info.established);
            assert_eq!(info.peer_session_id, *peer_session_id);
            assert_eq!(info.sequencing_required, call.sequencing_required);
            // The LAC's view of the same session points back at us.
            let lac_side = SessionHandle {
                tunnel_id: info.peer_tunnel_id,
                session_id: info.peer_session_id,
            };
            let back = sim
                .lac
                .session(lac_side.tunnel_id, lac_side.session_id)
                .unwrap();
            assert_eq!(
                (back.peer_tunnel_id, back.peer_session_id),
                (handle.tunnel_id, handle.session_id)
            );
        }
    }
    // The channel really had to retransmit.
    let sccrqs = sim
        .wire_log
        .iter()
        .filter(|(_, t)| *t == Some(MessageType::Sccrq))
        .count();
    assert!(sccrqs > 10, "no SCCRQ was retransmitted: {sccrqs}");
    // No error anywhere.
    assert!(stop_results(&sim.lac_events, Direction::Sent).is_empty());
    assert!(stop_results(&sim.lns_events, Direction::Sent).is_empty());
    assert_eq!(
        Sim::count(&sim.lac_events, |e| matches!(e, Event::SessionDown { .. })),
        0
    );
}

fn established_pair(
    lac: EndpointConfig,
    lns: EndpointConfig,
    sessions: u32,
) -> (Sim, Vec<SessionHandle>) {
    let secret = lns
        .peers
        .first()
        .map(|p| p.secret.clone())
        .unwrap_or_default();
    let mut sim = Sim::new(lac, lns, Impairments::CLEAN, 3);
    let handles: Vec<_> = (0..sessions)
        .map(|serial| {
            sim.lac
                .open_session(sim.now, open(serial, &secret))
                .unwrap()
        })
        .collect();
    sim.run_until(Duration::from_secs(30), |s| {
        Sim::count(&s.lns_events, is_session_up) == sessions as usize
            && Sim::count(&s.lac_events, is_tunnel_up) == 1
    });
    (sim, handles)
}

#[test]
fn hello_is_sent_after_silence_and_a_dead_peer_is_detected() {
    let (mut sim, _) = established_pair(lac_config(), lns_config(b""), 1);
    let hellos = |s: &Sim| {
        s.wire_log
            .iter()
            .filter(|(_, t)| *t == Some(MessageType::Hello))
            .count()
    };
    assert_eq!(hellos(&sim), 0);
    sim.run_for(Duration::from_secs(61));
    assert!(hellos(&sim) >= 1, "no HELLO after 60 s of silence");
    assert!(
        sim.lac_events
            .iter()
            .all(|e| !matches!(e, Event::TunnelDown { .. }))
    );

    // The LNS falls silent: the LAC's HELLO goes unacknowledged, the
    // channel retransmits and gives up, every session goes down.
    sim.lns_mute = true;
    sim.run_until(Duration::from_secs(200), |s| {
        s.lac_events.iter().any(|e| {
            matches!(
                e,
                Event::TunnelDown {
                    cause: TunnelDownCause::PeerUnreachable,
                    ..
                }
            )
        })
    });
    assert_eq!(
        Sim::count(&sim.lac_events, |e| matches!(
            e,
            Event::SessionDown {
                cause: SessionDownCause::TunnelDown,
                was_established: true,
                ..
            }
        )),
        1
    );
    assert_eq!(sim.lac.tunnel_count(), 0);
}

#[test]
fn lns_answering_from_another_port_is_followed() {
    let mut sim = Sim::new(lac_config(), lns_config(b""), Impairments::CLEAN, 5);
    sim.lns_changes_port = true;
    sim.lac.open_session(sim.now, open(1, b"")).unwrap();
    sim.run_until(Duration::from_secs(10), |s| {
        Sim::count(&s.lac_events, is_session_up) == 1
    });
    // After the SCCRP, the LAC sends to the port the LNS answered from.
    let event = sim.lac_events.iter().find(|e| is_tunnel_up(e)).unwrap();
    let Event::TunnelUp { peer, .. } = event else {
        unreachable!()
    };
    assert_eq!(*peer, lns_alt_addr());
}

#[test]
fn stopccn_is_held_for_retransmissions_then_removed() {
    let (mut sim, handles) = established_pair(lac_config(), lns_config(b""), 5);
    let lns_tunnel = sim
        .lns_events
        .iter()
        .find_map(|e| match e {
            Event::TunnelUp { tunnel_id, .. } => Some(*tunnel_id),
            _ => None,
        })
        .unwrap();
    let result = ResultCode::stop_ccn(StopCcnResult::ShuttingDown);
    // The LAC's acknowledgement of the first StopCCN is lost: the LNS
    // retransmits, the LAC (in its hold) acknowledges again.
    sim.lac_mute = true;
    assert!(sim.lns.close_tunnel(sim.now, lns_tunnel, result.clone()));
    sim.run_for(Duration::from_millis(500));
    sim.lac_mute = false;
    let stopccn_count = |s: &Sim| {
        s.wire_log
            .iter()
            .filter(|(_, t)| *t == Some(MessageType::StopCcn))
            .count()
    };
    sim.run_until(Duration::from_secs(5), |s| stopccn_count(s) >= 2);
    // Let the acknowledgement of the retransmission arrive.
    sim.step();
    sim.step();
    let stopccns = stopccn_count(&sim);
    assert!(stopccns >= 2, "StopCCN was not retransmitted");
    // Every session of the tunnel is gone on both sides, with the result.
    let lac_down: Vec<_> = sim
        .lac_events
        .iter()
        .filter_map(|e| match e {
            Event::SessionDown {
                handle,
                cause: SessionDownCause::TunnelDown,
                result,
                ..
            } => Some((*handle, result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(lac_down.len(), 5);
    assert!(
        lac_down
            .iter()
            .all(|(h, r)| handles.contains(h) && r.as_ref() == Some(&result))
    );
    assert_eq!(
        stop_results(&sim.lac_events, Direction::Received),
        vec![result]
    );
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::TunnelDown {
            cause: TunnelDownCause::PeerStopCcn,
            was_established: true,
            ..
        }
    )));
    // Held, then removed after the teardown hold.
    assert_eq!(sim.lac.tunnel_count(), 1);
    assert!(
        matches!(
            sim.lns.tunnel_state(lns_tunnel),
            Some(TunnelState::Closing { .. })
        ),
        "{:?} {:?}",
        sim.lns.tunnel_state(lns_tunnel),
        sim.lns_events
    );
    sim.run_for(Duration::from_secs(32));
    assert_eq!(sim.lac.tunnel_count(), 0);
    assert_eq!(sim.lns.tunnel_count(), 0);
    // A new session opens a fresh tunnel.
    sim.lac.open_session(sim.now, open(99, b"")).unwrap();
    sim.run_until(Duration::from_secs(10), |s| {
        Sim::count(&s.lac_events, is_session_up) == 6
    });
}

#[test]
fn cdn_both_ways_with_result_and_q931() {
    let (mut sim, handles) = established_pair(lac_config(), lns_config(b"s3cret"), 2);
    // LAC clears the first.
    let admin = ResultCode::cdn(CdnResult::Administrative);
    assert!(
        sim.lac
            .close_session(sim.now, handles[0], admin.clone(), None)
    );
    // LNS clears the second, with a Q.931 cause.
    let lns_handle = sim
        .lns_events
        .iter()
        .find_map(|e| match e {
            Event::SessionUp { handle, call, .. } if call.call_serial_number == 1 => Some(*handle),
            _ => None,
        })
        .unwrap();
    let q931 = Q931Cause {
        cause_code: 16,
        cause_msg: 0x5a,
        advisory: b"normal clearing".to_vec(),
    };
    let lost = ResultCode::cdn(CdnResult::LossOfCarrier);
    assert!(
        sim.lns
            .close_session(sim.now, lns_handle, lost.clone(), Some(q931.clone()))
    );
    sim.run_for(Duration::from_secs(2));
    assert!(sim.lns_events.iter().any(|e| matches!(
        e,
        Event::SessionDown { cause: SessionDownCause::PeerCdn, result: Some(r), was_established: true, .. } if *r == admin
    )));
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::SessionDown { handle, cause: SessionDownCause::PeerCdn, result: Some(r), q931: Some(q), .. }
            if *handle == handles[1] && *r == lost && *q == q931
    )));
    assert!(sim.lac_events.iter().any(
        |e| matches!(e, Event::Cdn { direction: Direction::Sent, result } if *result == admin)
    ));
    assert!(sim.lac_events.iter().any(
        |e| matches!(e, Event::Cdn { direction: Direction::Received, result } if *result == lost)
    ));
    assert_eq!(sim.lac.session_count(), 0);
    assert_eq!(sim.lns.session_count(), 0);
    // The tunnel stays up.
    assert_eq!(sim.lac.tunnel_count(), 1);
}

#[test]
fn lns_refuses_a_call_and_the_lac_reports_it() {
    let mut sim = Sim::new(lac_config(), lns_config(b""), Impairments::CLEAN, 9);
    sim.auto_accept = false;
    let handle = sim.lac.open_session(sim.now, open(7, b"")).unwrap();
    sim.run_until(Duration::from_secs(10), |s| {
        s.lns_events
            .iter()
            .any(|e| matches!(e, Event::SessionRequest { .. }))
    });
    let request = sim
        .lns_events
        .iter()
        .find_map(|e| match e {
            Event::SessionRequest { handle, call, .. } => Some((*handle, call.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(request.1.call_serial_number, 7);
    assert_eq!(request.1.calling_number, call(7).calling_number);
    let busy = ResultCode::cdn(CdnResult::FacilitiesTemporarilyUnavailable)
        .with_error(GeneralError::InsufficientResources, "pool empty");
    assert!(sim.lns.refuse_session(sim.now, request.0, busy.clone()));
    sim.run_for(Duration::from_secs(2));
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::SessionDown { handle: h, was_established: false, result: Some(r), .. } if *h == handle && *r == busy
    )));
}

fn auth_failure(lac_secret: &[u8], lns_secret: &[u8]) -> Sim {
    let mut sim = Sim::new(lac_config(), lns_config(lns_secret), Impairments::CLEAN, 13);
    sim.lac.open_session(sim.now, open(1, lac_secret)).unwrap();
    sim.run_for(Duration::from_secs(5));
    assert_eq!(Sim::count(&sim.lac_events, is_tunnel_up), 0);
    assert_eq!(Sim::count(&sim.lac_events, is_session_up), 0);
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::SessionDown {
            request_id: 1,
            cause: SessionDownCause::TunnelDown,
            ..
        }
    )));
    sim
}

#[test]
fn wrong_secret_is_refused_with_result_4() {
    let sim = auth_failure(b"alpha", b"bravo");
    // The LNS answered the LAC's challenge with the wrong secret: the LAC
    // refuses the SCCRP.
    let sent = stop_results(&sim.lac_events, Direction::Sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].stop_ccn_result(), StopCcnResult::NotAuthorized);
    assert_eq!(stop_results(&sim.lns_events, Direction::Received), sent);
}

#[test]
fn missing_challenge_is_refused_with_result_4() {
    let sim = auth_failure(b"", b"bravo");
    let sent = stop_results(&sim.lns_events, Direction::Sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].stop_ccn_result(), StopCcnResult::NotAuthorized);
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::TunnelDown {
            cause: TunnelDownCause::PeerStopCcn,
            was_established: false,
            result: Some(r),
            ..
        } if r.stop_ccn_result() == StopCcnResult::NotAuthorized
    )));
}

#[test]
fn unwanted_challenge_is_refused_with_result_4() {
    let sim = auth_failure(b"alpha", b"");
    let sent = stop_results(&sim.lns_events, Direction::Sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].stop_ccn_result(), StopCcnResult::NotAuthorized);
}

#[test]
fn sccrq_from_an_unknown_peer_gets_a_stateless_stopccn() {
    let mut lns = Endpoint::new(lns_config(b""), [1; 32]);
    let now = Instant::now();
    let stranger: SocketAddr = "203.0.113.9:1701".parse().unwrap();
    let mut peer = RawPeer::new(stranger, None);
    lns.handle_datagram(now, stranger, &peer.sccrq(&[]));
    // No state: no tunnel, nothing to retransmit, no timer.
    assert_eq!(lns.tunnel_count(), 0);
    assert_eq!(lns.poll_timeout(), None);
    assert_eq!(
        lns.poll_event(),
        Some(Event::Dropped {
            peer: stranger,
            reason: DropReason::PeerNotAllowed
        })
    );
    // RFC 2661 §4.4.2 result 4, to the Tunnel ID the SCCRQ assigned,
    // acknowledging it.
    let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    let (to, len) = lns.poll_transmit(now, &mut buf).expect("a StopCCN");
    assert_eq!(to, stranger);
    let stop = ControlMessage::from_bytes(&buf[..len], None).unwrap();
    assert_eq!(stop.message_type, Some(MessageType::StopCcn));
    assert_eq!(stop.tunnel_id, 4242);
    assert_eq!((stop.ns, stop.nr), (0, 1));
    assert_eq!(
        stop.result_code().map(|r| r.stop_ccn_result()),
        Some(StopCcnResult::NotAuthorized)
    );
    assert!(lns.poll_transmit(now, &mut buf).is_none());
    assert_eq!(lns.tunnel_count(), 0);
}

#[test]
fn an_sccrq_flood_from_unknown_peers_gets_bounded_refusals_and_no_state() {
    let mut lns = Endpoint::new(lns_config(b""), [1; 32]);
    let start = Instant::now();
    let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    let mut answered = 0;
    for i in 0..5_000u32 {
        let octets = i.to_be_bytes();
        let from = SocketAddr::from(([198, 18, octets[2], octets[3]], 1701));
        let mut peer = RawPeer::new(from, None);
        lns.handle_datagram(start, from, &peer.sccrq(&[]));
        while lns.poll_transmit(start, &mut buf).is_some() {
            answered += 1;
        }
    }
    assert_eq!(answered, tunnelnas::l2tp::REFUSALS_PER_SECOND);
    assert_eq!(lns.tunnel_count(), 0);
    assert_eq!(drain(&mut lns).len(), 5_000, "every SCCRQ is counted");
    // The next second answers again.
    let later = start + Duration::from_secs(1);
    let from: SocketAddr = "198.18.255.255:1701".parse().unwrap();
    lns.handle_datagram(later, from, &RawPeer::new(from, None).sccrq(&[]));
    assert!(lns.poll_transmit(later, &mut buf).is_some());
}

#[test]
fn a_peer_rule_s_max_tunnels_refuses_the_next_sccrq_without_state() {
    let mut config = lns_config(b"");
    config.peers = vec![
        PeerPolicy {
            network: "198.51.100.0/24".parse().unwrap(),
            secret: Vec::new(),
            host_name: None,
            max_tunnels: Some(2),
            hide_avps: None,
        },
        PeerPolicy {
            network: "203.0.113.0/24".parse().unwrap(),
            secret: Vec::new(),
            host_name: None,
            max_tunnels: None,
            hide_avps: None,
        },
    ];
    let mut lns = Endpoint::new(config, [3; 32]);
    let now = Instant::now();
    let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    let sccrq_from = |lns: &mut Endpoint, last: u8| {
        let from = SocketAddr::from(([198, 51, 100, last], 1701));
        let mut peer = RawPeer::new(from, None);
        let sccrq = peer.sccrq(&[]);
        lns.handle_datagram(now, from, &sccrq);
        (from, sccrq)
    };
    let (first, first_sccrq) = sccrq_from(&mut lns, 1);
    sccrq_from(&mut lns, 2);
    assert_eq!(lns.tunnel_count(), 2);
    while lns.poll_transmit(now, &mut buf).is_some() {}
    drain(&mut lns);
    // The third peer of the rule is refused: result 2, error 4.
    let (third, _) = sccrq_from(&mut lns, 3);
    assert_eq!(lns.tunnel_count(), 2);
    assert_eq!(
        drain(&mut lns),
        [Event::Dropped {
            peer: third,
            reason: DropReason::PeerTunnelLimit
        }]
    );
    let (to, len) = lns.poll_transmit(now, &mut buf).expect("a StopCCN");
    assert_eq!(to, third);
    let stop = ControlMessage::from_bytes(&buf[..len], None).unwrap();
    assert_eq!(stop.message_type, Some(MessageType::StopCcn));
    let result = stop.result_code().unwrap();
    assert_eq!(result.stop_ccn_result(), StopCcnResult::GeneralError);
    assert_eq!(
        result.error_code(),
        Some(GeneralError::InsufficientResources)
    );
    // A retransmitted SCCRQ of an admitted tunnel is still answered by it.
    lns.handle_datagram(now, first, &first_sccrq);
    assert_eq!(lns.tunnel_count(), 2);
    assert!(
        !drain(&mut lns)
            .iter()
            .any(|e| matches!(e, Event::Dropped { .. }))
    );
    // Another rule's peers are not limited by it.
    let other: SocketAddr = "203.0.113.7:1701".parse().unwrap();
    lns.handle_datagram(now, other, &RawPeer::new(other, None).sccrq(&[]));
    assert_eq!(lns.tunnel_count(), 3);
}

#[test]
fn a_lac_refused_by_an_lns_that_does_not_know_it_hears_result_4_at_once() {
    let lns = EndpointConfig {
        peers: Vec::new(),
        ..lns_config(b"")
    };
    let mut sim = Sim::new(lac_config(), lns, Impairments::CLEAN, 21);
    sim.lac.open_session(sim.now, open(1, b"")).unwrap();
    sim.run_for(Duration::from_millis(500));
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::TunnelDown {
            cause: TunnelDownCause::PeerStopCcn,
            was_established: false,
            result: Some(r),
            ..
        } if r.stop_ccn_result() == StopCcnResult::NotAuthorized
    )));
    assert_eq!(sim.lns.tunnel_count(), 0);
}

// ---- a hand-driven peer ---------------------------------------------------

/// A minimal peer that writes control messages itself (no loss, so no
/// retransmission), to send what a correct implementation never would.
struct RawPeer {
    addr: SocketAddr,
    secret: Option<Vec<u8>>,
    our_tunnel: u16,
    their_tunnel: u16,
    ns: u16,
    nr: u16,
}

impl RawPeer {
    fn new(addr: SocketAddr, secret: Option<&[u8]>) -> Self {
        Self {
            addr,
            secret: secret.map(<[u8]>::to_vec),
            our_tunnel: 4242,
            their_tunnel: 0,
            ns: 0,
            nr: 0,
        }
    }

    fn bytes(&mut self, mut msg: ControlMessage) -> Vec<u8> {
        msg.tunnel_id = self.their_tunnel;
        msg.ns = self.ns;
        msg.nr = self.nr;
        self.ns = self.ns.wrapping_add(1);
        msg.to_vec(None).unwrap()
    }

    fn sccrq(&mut self, extra: &[MessageAvp]) -> Vec<u8> {
        let mut msg = ControlMessage::new(MessageType::Sccrq)
            .with_avp(Avp::ProtocolVersion(ProtocolVersion::RFC2661))
            .with_avp(Avp::HostName(b"raw".to_vec()))
            .with_avp(Avp::FramingCapabilities(Framing::SYNC))
            .with_avp(Avp::AssignedTunnelId(self.our_tunnel));
        if self.secret.is_some() {
            msg = msg.with_avp(Avp::Challenge(vec![1, 2, 3, 4]));
        }
        msg.avps.extend_from_slice(extra);
        self.bytes(msg)
    }

    /// Takes every datagram the endpoint sends, returns the non-ZLB
    /// messages in order.
    fn receive(&mut self, endpoint: &mut Endpoint, now: Instant) -> Vec<ControlMessage> {
        let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
        let mut out = Vec::new();
        while let Some((to, len)) = endpoint.poll_transmit(now, &mut buf) {
            assert_eq!(to, self.addr);
            let msg = ControlMessage::from_bytes(&buf[..len], self.secret.as_deref()).unwrap();
            if msg.is_zlb() {
                continue;
            }
            if msg.ns == self.nr {
                self.nr = self.nr.wrapping_add(1);
            }
            if let Some(id) = msg.assigned_tunnel_id()
                && msg.message_type == Some(MessageType::Sccrp)
            {
                self.their_tunnel = id;
            }
            out.push(msg);
        }
        out
    }

    /// SCCRQ → SCCRP → SCCCN with `endpoint` (an LNS admitting us).
    fn establish(&mut self, endpoint: &mut Endpoint, now: Instant) {
        let sccrq = self.sccrq(&[]);
        endpoint.handle_datagram(now, self.addr, &sccrq);
        let reply = self.receive(endpoint, now);
        assert_eq!(reply[0].message_type, Some(MessageType::Sccrp));
        let mut scccn = ControlMessage::new(MessageType::Scccn);
        if let (Some(secret), Some(challenge)) = (&self.secret, reply[0].challenge()) {
            scccn = scccn.with_avp(Avp::ChallengeResponse(challenge_response(
                3, secret, challenge,
            )));
        }
        let bytes = self.bytes(scccn);
        endpoint.handle_datagram(now, self.addr, &bytes);
        assert!(matches!(
            drain(endpoint).first(),
            Some(Event::TunnelUp { .. })
        ));
    }
}

fn drain(endpoint: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| endpoint.poll_event()).collect()
}

fn unknown_mandatory() -> MessageAvp {
    MessageAvp {
        mandatory: true,
        hidden: false,
        avp: Avp::Unknown {
            attr_type: 250,
            value: vec![1, 2, 3],
        },
    }
}

#[test]
fn unknown_mandatory_avp_in_sccrq_clears_the_tunnel() {
    let mut lns = Endpoint::new(lns_config(b""), [2; 32]);
    let now = Instant::now();
    let mut peer = RawPeer::new(lac_addr(), None);
    let sccrq = peer.sccrq(&[unknown_mandatory()]);
    lns.handle_datagram(now, lac_addr(), &sccrq);
    let sent = peer.receive(&mut lns, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_type, Some(MessageType::StopCcn));
    assert_eq!(sent[0].tunnel_id, 4242);
    let result = sent[0].result_code().unwrap();
    assert_eq!(result.stop_ccn_result(), StopCcnResult::GeneralError);
    assert_eq!(result.error_code(), Some(GeneralError::UnknownMandatoryAvp));

    // The same AVP without the M bit is ignored (§4.1).
    let mut lns = Endpoint::new(lns_config(b""), [2; 32]);
    let mut peer = RawPeer::new(lac_addr(), None);
    let mut optional = unknown_mandatory();
    optional.mandatory = false;
    lns.handle_datagram(now, lac_addr(), &peer.sccrq(&[optional]));
    let sent = peer.receive(&mut lns, now);
    assert_eq!(sent[0].message_type, Some(MessageType::Sccrp));
}

#[test]
fn unknown_mandatory_avp_in_a_call_message_clears_only_the_call() {
    let mut lns = Endpoint::new(lns_config(b"k"), [3; 32]);
    let now = Instant::now();
    let mut peer = RawPeer::new(lac_addr(), Some(b"k"));
    peer.establish(&mut lns, now);
    let mut icrq = call(1).icrq(77);
    icrq.avps.push(unknown_mandatory());
    let bytes = peer.bytes(icrq);
    lns.handle_datagram(now, lac_addr(), &bytes);
    let sent = peer.receive(&mut lns, now);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].message_type, Some(MessageType::Cdn));
    assert_eq!(sent[0].session_id, 77);
    assert_eq!(
        sent[0].result_code().unwrap().error_code(),
        Some(GeneralError::UnknownMandatoryAvp)
    );
    assert_eq!(lns.session_count(), 0);
    assert_eq!(lns.tunnel_count(), 1);
}

#[test]
fn ocrq_is_refused_with_cdn_result_5() {
    let mut lns = Endpoint::new(lns_config(b""), [4; 32]);
    let now = Instant::now();
    let mut peer = RawPeer::new(lac_addr(), None);
    peer.establish(&mut lns, now);
    let ocrq = ControlMessage::new(MessageType::Ocrq)
        .with_avp(Avp::AssignedSessionId(555))
        .with_avp(Avp::CallSerialNumber(1))
        .with_avp(Avp::MinimumBps(0))
        .with_avp(Avp::MaximumBps(64_000))
        .with_avp(Avp::BearerType(Bearer::DIGITAL))
        .with_avp(Avp::FramingType(Framing::SYNC))
        .with_avp(Avp::CalledNumber(b"12345".to_vec()));
    let bytes = peer.bytes(ocrq);
    lns.handle_datagram(now, lac_addr(), &bytes);
    let sent = peer.receive(&mut lns, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_type, Some(MessageType::Cdn));
    assert_eq!(sent[0].session_id, 555);
    assert_eq!(
        sent[0].result_code().unwrap().cdn_result(),
        CdnResult::FacilitiesPermanentlyUnavailable
    );
    assert_ne!(sent[0].assigned_session_id(), Some(0));
    assert!(drain(&mut lns).iter().any(|e| matches!(
        e,
        Event::Cdn {
            direction: Direction::Sent,
            ..
        }
    )));
}

/// Rewrites the Length field of the AVP at `offset` (after the 12-byte
/// header) and the message's Length, inserting or removing bytes at the
/// AVP's end so the message stays self-consistent.
fn resize_avp(bytes: &[u8], avp_offset: usize, new_value_len: usize) -> Vec<u8> {
    let word = u16::from_be_bytes([bytes[avp_offset], bytes[avp_offset + 1]]);
    let old_len = usize::from(word & 0x03ff);
    let new_len = 6 + new_value_len;
    let mut out = bytes[..avp_offset].to_vec();
    out.extend_from_slice(&(((word & !0x03ff) | new_len as u16).to_be_bytes()));
    let value = &bytes[avp_offset + 2..avp_offset + old_len];
    let mut value = value.to_vec();
    value.resize(new_len - 2, 0);
    out.extend_from_slice(&value);
    out.extend_from_slice(&bytes[avp_offset + old_len..]);
    let total = out.len() as u16;
    out[2..4].copy_from_slice(&total.to_be_bytes());
    out
}

#[test]
fn undersized_and_oversized_avps_never_panic() {
    let now = Instant::now();
    // In an SCCRQ (tunnel id 0): dropped as malformed, no state.
    for value_len in [0usize, 1, 3, 64] {
        let mut lns = Endpoint::new(lns_config(b""), [5; 32]);
        let mut peer = RawPeer::new(lac_addr(), None);
        let sccrq = peer.sccrq(&[]);
        // AVPs: Message Type at 12, Protocol Version at 20 (2-byte value).
        let bad = resize_avp(&sccrq, 20, value_len);
        lns.handle_datagram(now, lac_addr(), &bad);
        assert_eq!(lns.tunnel_count(), 0);
        assert_eq!(
            lns.poll_event(),
            Some(Event::Dropped {
                peer: lac_addr(),
                reason: DropReason::Malformed
            })
        );
    }
    // In an established tunnel: an ICRQ whose Assigned Session ID AVP is 1
    // or 3 bytes long is undecodable; the tunnel is cleared with a length
    // error.
    for value_len in [1usize, 3] {
        let mut lns = Endpoint::new(lns_config(b""), [6; 32]);
        let mut peer = RawPeer::new(lac_addr(), None);
        peer.establish(&mut lns, now);
        let icrq = peer.bytes(call(1).icrq(9));
        let bad = resize_avp(&icrq, 20, value_len);
        lns.handle_datagram(now, lac_addr(), &bad);
        let sent = peer.receive(&mut lns, now);
        let stop = sent
            .iter()
            .find(|m| m.message_type == Some(MessageType::StopCcn))
            .expect("StopCCN");
        assert_eq!(
            stop.result_code().unwrap().stop_ccn_result(),
            StopCcnResult::GeneralError
        );
        assert_eq!(lns.session_count(), 0);
    }
    // Random garbage and truncations of a valid SCCRQ.
    let mut lns = Endpoint::new(lns_config(b""), [7; 32]);
    let mut peer = RawPeer::new(lac_addr(), None);
    let sccrq = peer.sccrq(&[]);
    for cut in 0..sccrq.len() {
        lns.handle_datagram(now, lac_addr(), &sccrq[..cut]);
    }
    let mut rng = StdRng::from_seed([8; 32]);
    for _ in 0..2000 {
        let len = rng.random_range(0..80);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if junk.len() >= 2 && rng.random_bool(0.5) {
            junk[0] = 0xc8;
            junk[1] = 0x02;
        }
        lns.handle_datagram(now, lac_addr(), &junk);
    }
    let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    while lns.poll_transmit(now, &mut buf).is_some() {}
    assert!(lns.tunnel_count() <= 1);
}

#[test]
fn sli_and_wen_are_forwarded_as_events() {
    let mut lns = Endpoint::new(lns_config(b""), [9; 32]);
    let now = Instant::now();
    let mut peer = RawPeer::new(lac_addr(), None);
    peer.establish(&mut lns, now);
    let bytes = peer.bytes(call(1).icrq(9));
    lns.handle_datagram(now, lac_addr(), &bytes);
    let handle = drain(&mut lns)
        .into_iter()
        .find_map(|e| match e {
            Event::SessionRequest { handle, .. } => Some(handle),
            _ => None,
        })
        .unwrap();
    assert!(lns.accept_session(now, handle));
    let icrp = peer.receive(&mut lns, now);
    assert_eq!(icrp[0].message_type, Some(MessageType::Icrp));
    assert_eq!(icrp[0].session_id, 9);
    let bytes = peer.bytes(call(1).iccn().with_ids(0, handle.session_id));
    lns.handle_datagram(now, lac_addr(), &bytes);
    assert!(
        drain(&mut lns)
            .iter()
            .any(|e| matches!(e, Event::SessionUp { .. }))
    );
    let accm = tunnelnas::wire::l2tp::Accm {
        reserved: 0,
        send: 0,
        receive: 0xffff_ffff,
    };
    let mut sli = ControlMessage::new(MessageType::Sli).with_avp(Avp::Accm(accm));
    sli.session_id = handle.session_id;
    let bytes = peer.bytes(sli);
    lns.handle_datagram(now, lac_addr(), &bytes);
    let errors = tunnelnas::wire::l2tp::CallErrors {
        crc_errors: 3,
        ..Default::default()
    };
    let mut wen = ControlMessage::new(MessageType::Wen).with_avp(Avp::CallErrors(errors));
    wen.session_id = handle.session_id;
    let bytes = peer.bytes(wen);
    lns.handle_datagram(now, lac_addr(), &bytes);
    let events = drain(&mut lns);
    assert!(events.contains(&Event::LinkInfo { handle, accm }));
    assert!(events.contains(&Event::WanError { handle, errors }));
}

#[test]
fn tie_breaker_race_leaves_one_tunnel() {
    // Two LTS nodes open a tunnel to each other at the same instant.
    let node = |name: &[u8], other: &str| EndpointConfig {
        channel: channel(5),
        host_name: name.to_vec(),
        send_tie_breaker: true,
        peers: vec![PeerPolicy {
            network: other.parse().unwrap(),
            secret: Vec::new(),
            host_name: None,
            max_tunnels: None,
            hide_avps: None,
        }],
        ..EndpointConfig::default()
    };
    let mut sim = Sim::new(
        node(b"a", "198.51.100.0/24"),
        node(b"b", "192.0.2.0/24"),
        Impairments::CLEAN,
        21,
    );
    sim.lac.open_session(sim.now, open(1, b"")).unwrap();
    let mut to_a = open(2, b"");
    to_a.peer = lac_addr();
    sim.lns.open_session(sim.now, to_a).unwrap();
    sim.run_until(Duration::from_secs(20), |s| {
        Sim::count(&s.lac_events, is_session_up) + Sim::count(&s.lns_events, is_session_up) == 4
    });
    assert_eq!(
        Sim::count(&sim.lac_events, is_tunnel_up),
        1,
        "{:?}",
        sim.lac_events
    );
    assert_eq!(Sim::count(&sim.lns_events, is_tunnel_up), 1);
    // The refused SCCRQ's tunnel lingers until its StopCCN gives up.
    sim.run_for(Duration::from_secs(45));
    assert_eq!(
        sim.lac.tunnel_count(),
        1,
        "{:?}",
        sim.lac.sessions_per_tunnel()
    );
    assert_eq!(sim.lns.tunnel_count(), 1);
    assert_eq!(sim.lac.session_count(), 2);
    let lost = |events: &[Event]| {
        Sim::count(events, |e| {
            matches!(
                e,
                Event::TunnelDown {
                    cause: TunnelDownCause::TieBreakerLost,
                    ..
                }
            )
        })
    };
    assert_eq!(lost(&sim.lac_events) + lost(&sim.lns_events), 1);
    let refused: Vec<_> = stop_results(&sim.lac_events, Direction::Sent)
        .into_iter()
        .chain(stop_results(&sim.lns_events, Direction::Sent))
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].stop_ccn_result(), StopCcnResult::ChannelExists);
}

#[test]
fn the_same_seeds_replay_the_same_run() {
    let run = |seed: u8| {
        let link = Impairments {
            loss: 0.2,
            duplicate: 0.1,
            jitter: Duration::from_millis(30),
        };
        let mut sim = Sim::new(lac_config(), lns_config(b"x"), link, seed);
        for serial in 0..50 {
            sim.lac.open_session(sim.now, open(serial, b"x")).unwrap();
        }
        sim.run_until(Duration::from_secs(300), |s| {
            Sim::count(&s.lns_events, is_session_up) == 50
        });
        sim.wire_log
    };
    assert_eq!(run(31), run(31));
    assert_ne!(run(31), run(32));
}

#[test]
fn a_call_the_lns_never_decides_times_out_with_cdn_result_10() {
    // The LAC would give up after the same minute; let the LNS act first.
    let lac = EndpointConfig {
        setup_timeout: Duration::from_secs(120),
        ..lac_config()
    };
    let mut sim = Sim::new(lac, lns_config(b""), Impairments::CLEAN, 17);
    sim.auto_accept = false;
    let handle = sim.lac.open_session(sim.now, open(3, b"")).unwrap();
    sim.run_until(Duration::from_secs(70), |s| {
        s.lac_events
            .iter()
            .any(|e| matches!(e, Event::SessionDown { .. }))
    });
    let timeout = ResultCode::cdn(CdnResult::Timeout);
    assert!(sim.lac_events.iter().any(|e| matches!(
        e,
        Event::SessionDown { handle: h, cause: SessionDownCause::PeerCdn, result: Some(r), .. }
            if *h == handle && r.result == timeout.result
    )));
    assert!(sim.lns_events.iter().any(|e| matches!(
        e,
        Event::SessionDown {
            cause: SessionDownCause::LocalCdn,
            was_established: false,
            ..
        }
    )));
    // The tunnel itself stays.
    assert_eq!(sim.lac.tunnel_count(), 1);
    assert_eq!(sim.lns.session_count(), 0);
}

#[test]
fn a_peer_that_never_sends_scccn_times_out() {
    let mut lns = Endpoint::new(lns_config(b""), [10; 32]);
    let start = Instant::now();
    let mut peer = RawPeer::new(lac_addr(), None);
    let sccrq = peer.sccrq(&[]);
    lns.handle_datagram(start, lac_addr(), &sccrq);
    let sent = peer.receive(&mut lns, start);
    assert_eq!(sent[0].message_type, Some(MessageType::Sccrp));
    // Acknowledge the SCCRP with a ZLB, then stay silent.
    let zlb = ControlMessage::zlb(peer.their_tunnel, peer.ns, peer.nr)
        .to_vec(None)
        .unwrap();
    lns.handle_datagram(start, lac_addr(), &zlb);
    let mut now = start;
    let mut stop = None;
    while now < start + Duration::from_secs(120) && stop.is_none() {
        now = lns.poll_timeout().expect("a timer runs").max(now);
        lns.handle_timeout(now);
        stop = peer
            .receive(&mut lns, now)
            .into_iter()
            .find(|m| m.message_type == Some(MessageType::StopCcn));
    }
    let stop = stop.expect("StopCCN");
    assert_eq!(now.duration_since(start), Duration::from_secs(60));
    assert_eq!(
        stop.result_code().unwrap().stop_ccn_result(),
        StopCcnResult::GeneralError
    );
}

mod random_input {
    //! Whatever an authenticated peer sends in sequence, in whatever state,
    //! the endpoint neither panics nor leaks: every session it reports up
    //! is reported down at most once, and counts stay bounded.

    use super::*;
    use proptest::prelude::*;

    fn avp() -> impl Strategy<Value = Avp> {
        prop_oneof![
            (0u16..4).prop_map(Avp::AssignedSessionId),
            any::<u16>().prop_map(Avp::AssignedSessionId),
            any::<u16>().prop_map(Avp::AssignedTunnelId),
            any::<u32>().prop_map(Avp::CallSerialNumber),
            any::<u32>().prop_map(Avp::TxConnectSpeed),
            any::<u32>().prop_map(|f| Avp::FramingType(Framing(f))),
            (0u16..12).prop_map(|r| Avp::ResultCode(ResultCode {
                result: r,
                error: None
            })),
            proptest::collection::vec(any::<u8>(), 1..20).prop_map(Avp::Challenge),
            any::<[u8; 16]>().prop_map(Avp::ChallengeResponse),
            any::<[u8; 8]>().prop_map(Avp::TieBreaker),
            Just(Avp::ProtocolVersion(ProtocolVersion::RFC2661)),
            Just(Avp::SequencingRequired),
            any::<u16>().prop_map(Avp::ReceiveWindowSize),
        ]
    }

    fn message() -> impl Strategy<Value = (u16, bool, u16, Vec<Avp>)> {
        (
            0u16..18,
            any::<bool>(),
            prop_oneof![Just(0u16), any::<u16>()],
            proptest::collection::vec(avp(), 0..6),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_messages_after_setup_never_panic(
            messages in proptest::collection::vec(message(), 1..40),
            use_real_session in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let mut lns = Endpoint::new(lns_config(b""), [12; 32]);
            let mut now = Instant::now();
            let mut peer = RawPeer::new(lac_addr(), None);
            peer.establish(&mut lns, now);
            let mut live: Vec<u16> = Vec::new();
            let mut up = HashSet::new();
            let mut down = HashSet::new();
            for (i, (ty, mandatory, session_id, avps)) in messages.into_iter().enumerate() {
                let mut msg = ControlMessage::new(MessageType::from(ty));
                msg.message_type_mandatory = mandatory;
                msg.session_id = match live.first() {
                    Some(real) if use_real_session[i % 40] => *real,
                    _ => session_id,
                };
                for avp in avps {
                    msg = msg.with_avp(avp);
                }
                let bytes = peer.bytes(msg);
                lns.handle_datagram(now, lac_addr(), &bytes);
                now += Duration::from_millis(300);
                lns.handle_timeout(now);
                let _ = peer.receive(&mut lns, now);
                for event in drain(&mut lns) {
                    match event {
                        Event::SessionRequest { handle, .. } => {
                            live.push(handle.session_id);
                            lns.accept_session(now, handle);
                        }
                        Event::SessionUp { handle, .. } => {
                            prop_assert!(up.insert(handle));
                        }
                        Event::SessionDown { handle, .. } => {
                            prop_assert!(down.insert(handle));
                            live.retain(|id| *id != handle.session_id);
                        }
                        _ => {}
                    }
                }
                prop_assert!(lns.session_count() <= 40);
                prop_assert!(lns.tunnel_count() <= 1);
            }
            prop_assert!(up.iter().all(|h| down.contains(h) || lns.session(h.tunnel_id, h.session_id).is_some()));
        }
    }
}

#[test]
fn a_restarted_lac_reusing_its_tunnel_id_gets_a_new_tunnel() {
    let mut lns = Endpoint::new(lns_config(b""), [14; 32]);
    let now = Instant::now();
    let mut first = RawPeer::new(lac_addr(), None);
    first.establish(&mut lns, now);
    // Same address, same Assigned Tunnel ID, sequence numbers from zero.
    let mut second = RawPeer::new(lac_addr(), None);
    second.establish(&mut lns, now + Duration::from_secs(1));
    assert_eq!(lns.tunnel_count(), 2);
    assert_ne!(first.their_tunnel, second.their_tunnel);
    // A retransmission of the second SCCRQ before SCCCN would still have
    // reached the second tunnel: check the first keeps its own traffic.
    let hello = first.bytes(ControlMessage::hello());
    lns.handle_datagram(now + Duration::from_secs(2), lac_addr(), &hello);
    assert!(
        drain(&mut lns)
            .iter()
            .all(|e| !matches!(e, Event::Dropped { .. }))
    );
}
