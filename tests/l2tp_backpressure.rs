//! Back-pressure in the L2TP endpoint (issue 11): a LAC placing calls
//! faster than a slow LNS acknowledges them waits, never tears its own
//! tunnel down; several tunnels per LNS group multiply the setup rate; the
//! wait per LNS group is bounded (`OpenError::Busy`); a tunnel that dies
//! ends every call, those still waiting included.
//!
//! Two endpoints over an in-memory link in virtual time: the LNS advertises
//! a receive window of 8 (RFC 2661 §5.8) and everything it sends reaches
//! the LAC 10 ms late, which makes it a slow acknowledger without changing
//! the control channel. No sockets, no sleeps, deterministic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tunnelnas::l2tp::channel::ChannelConfig;
use tunnelnas::l2tp::{
    CallInfo, Endpoint, EndpointConfig, Event, OpenError, OpenSession, PeerPolicy,
    SessionDownCause, SessionHandle, TunnelDownCause,
};
use tunnelnas::wire::l2tp::{Bearer, CdnResult, Framing, GeneralError, ResultCode};

const SECRET: &[u8] = b"backpressure";

fn lac_addr() -> SocketAddr {
    "192.0.2.1:1701".parse().unwrap()
}

fn lns_addr() -> SocketAddr {
    "198.51.100.1:1701".parse().unwrap()
}

fn lac_config(max_tunnels_per_lns: u16) -> EndpointConfig {
    EndpointConfig {
        channel: ChannelConfig {
            receive_window: 16,
            ..ChannelConfig::default()
        },
        host_name: b"lac".to_vec(),
        accept_calls: false,
        max_sessions_per_tunnel: 65535,
        max_tunnels_per_lns,
        ..EndpointConfig::default()
    }
}

/// An LNS with a receive window of 8.
fn lns_config() -> EndpointConfig {
    EndpointConfig {
        channel: ChannelConfig {
            receive_window: 8,
            ..ChannelConfig::default()
        },
        host_name: b"lns".to_vec(),
        peers: vec![PeerPolicy {
            network: "192.0.2.0/24".parse().unwrap(),
            secret: SECRET.to_vec(),
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
        calling_number: Some(format!("subscriber-{serial}").into_bytes()),
        tx_connect_speed: 1_000_000_000,
        framing_type: Framing::SYNC,
        ..CallInfo::default()
    }
}

fn open(serial: u32, assignment_id: &[u8]) -> OpenSession {
    OpenSession {
        peer: lns_addr(),
        secret: SECRET.to_vec(),
        assignment_id: Some(assignment_id.to_vec()),
        client_auth_id: None,
        call: call(serial),
        request_id: u64::from(serial),
    }
}

/// What the LAC reported, by request id.
#[derive(Default)]
struct LacLog {
    up: HashSet<u64>,
    down: HashMap<u64, SessionDownCause>,
    tunnels_up: usize,
    tunnels_down: Vec<TunnelDownCause>,
}

/// A datagram on the link: (deliver at, order, towards the LAC, bytes).
type Datagram = Reverse<(Instant, u64, bool, Vec<u8>)>;

/// A LAC endpoint, an LNS endpoint and the link between them, in virtual
/// time.
struct Sim {
    start: Instant,
    now: Instant,
    lac: Endpoint,
    lns: Endpoint,
    link: BinaryHeap<Datagram>,
    order: u64,
    to_lns_delay: Duration,
    /// The slow acknowledger: everything from the LNS is this late.
    to_lac_delay: Duration,
    /// Black hole: everything from the LNS is lost.
    lns_mute: bool,
    lac_log: LacLog,
    lns_sessions_up: usize,
    /// Largest send queue (in flight + waiting for the window) any LAC
    /// tunnel's channel held, and most messages waiting in an outbox.
    max_unacknowledged: usize,
    max_outbox_messages: usize,
}

impl Sim {
    fn new(lac: EndpointConfig, lns: EndpointConfig) -> Self {
        let now = Instant::now();
        Self {
            start: now,
            now,
            lac: Endpoint::new(lac, [7; 32]),
            lns: Endpoint::new(lns, [8; 32]),
            link: BinaryHeap::new(),
            order: 0,
            to_lns_delay: Duration::from_millis(1),
            to_lac_delay: Duration::from_millis(10),
            lns_mute: false,
            lac_log: LacLog::default(),
            lns_sessions_up: 0,
            max_unacknowledged: 0,
            max_outbox_messages: 0,
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves transmissions onto the link and drains both endpoints'
    /// events (the LNS accepts every call).
    fn pump(&mut self) {
        let mut buf = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
        loop {
            let mut progressed = false;
            while let Some((to, len)) = self.lac.poll_transmit(self.now, &mut buf) {
                assert_eq!(to, lns_addr());
                self.order += 1;
                let at = self.now + self.to_lns_delay;
                self.link
                    .push(Reverse((at, self.order, false, buf[..len].to_vec())));
                progressed = true;
            }
            while let Some((to, len)) = self.lns.poll_transmit(self.now, &mut buf) {
                assert_eq!(to, lac_addr());
                if !self.lns_mute {
                    self.order += 1;
                    let at = self.now + self.to_lac_delay;
                    self.link
                        .push(Reverse((at, self.order, true, buf[..len].to_vec())));
                }
                progressed = true;
            }
            while let Some(event) = self.lns.poll_event() {
                match event {
                    Event::SessionRequest { handle, .. } => {
                        assert!(self.lns.accept_session(self.now, handle));
                    }
                    Event::SessionUp { .. } => self.lns_sessions_up += 1,
                    _ => {}
                }
                progressed = true;
            }
            while let Some(event) = self.lac.poll_event() {
                let log = &mut self.lac_log;
                match event {
                    Event::SessionUp { request_id, .. } => {
                        assert!(log.up.insert(request_id), "SessionUp twice: {request_id}");
                    }
                    Event::SessionDown {
                        request_id, cause, ..
                    } => {
                        assert!(
                            log.down.insert(request_id, cause).is_none(),
                            "SessionDown twice: {request_id}"
                        );
                    }
                    Event::TunnelUp { .. } => log.tunnels_up += 1,
                    Event::TunnelDown { cause, .. } => log.tunnels_down.push(cause),
                    _ => {}
                }
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        for tunnel in self.lac.tunnels() {
            self.max_unacknowledged = self.max_unacknowledged.max(tunnel.unacknowledged);
            self.max_outbox_messages = self.max_outbox_messages.max(tunnel.outbox_messages);
        }
    }

    /// Advances to the next thing that happens, but not beyond `limit`;
    /// false when nothing will happen before it.
    fn step(&mut self, limit: Instant) -> bool {
        self.pump();
        let next = [
            self.link.peek().map(|Reverse((at, ..))| *at),
            self.lac.poll_timeout(),
            self.lns.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next.filter(|next| *next <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.now = self.now.max(next);
        while let Some(Reverse((at, ..))) = self.link.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, to_lac, bytes))) = self.link.pop() else {
                break;
            };
            if to_lac {
                self.lac.handle_datagram(self.now, lns_addr(), &bytes);
            } else {
                self.lns.handle_datagram(self.now, lac_addr(), &bytes);
            }
        }
        self.lac.handle_timeout(self.now);
        self.lns.handle_timeout(self.now);
        self.pump();
        true
    }

    /// Runs until `done` holds; panics after `limit` of virtual time.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(
                self.step(end) || done(self),
                "condition not reached within {limit:?}"
            );
        }
    }

    /// Runs for `span` of virtual time.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.step(end) {}
    }

    /// Opens `count` calls, `per_ms` of them every millisecond of virtual
    /// time (all at once when `per_ms` is `count`).
    fn open_burst(&mut self, count: u32, per_ms: u32) -> Vec<SessionHandle> {
        let mut handles = Vec::new();
        for serial in 0..count {
            if serial > 0 && serial % per_ms == 0 {
                self.run_for(Duration::from_millis(1));
            }
            handles.push(
                self.lac
                    .open_session(self.now, open(serial, b"group-a"))
                    .unwrap(),
            );
        }
        handles
    }
}

/// 10,000 calls, `per_ms` a millisecond, against the slow LNS: every call
/// comes up, nothing is torn down. Returns the virtual time taken and the
/// simulation.
fn burst_of_ten_thousand(max_tunnels_per_lns: u16, per_ms: u32) -> (Duration, Sim) {
    const CALLS: u32 = 10_000;
    let mut sim = Sim::new(lac_config(max_tunnels_per_lns), lns_config());
    let handles = sim.open_burst(CALLS, per_ms);
    sim.run_until(Duration::from_secs(120), |s| {
        s.lac_log.up.len() == CALLS as usize && s.lns_sessions_up == CALLS as usize
    });
    let took = sim.elapsed();
    let log = &sim.lac_log;
    assert!(log.tunnels_down.is_empty(), "{:?}", log.tunnels_down);
    assert!(log.down.is_empty(), "{} calls went down", log.down.len());
    assert_eq!(sim.lac.queued_calls(), 0);
    assert_eq!(sim.lac.session_count(), CALLS as usize);
    assert_eq!(handles.iter().collect::<HashSet<_>>().len(), CALLS as usize);
    // The channel's own queue stayed short: the calls waited in the
    // tunnels' outboxes, never in (or beyond) the channel's send queue.
    assert!(
        sim.max_unacknowledged <= 3 * 16,
        "channel queue grew to {}",
        sim.max_unacknowledged
    );
    assert_eq!(sim.max_outbox_messages, 0);
    (took, sim)
}

#[test]
fn ten_thousand_calls_behind_a_window_of_8_on_one_tunnel_all_come_up() {
    // All at once: 9,999 calls wait for the first tunnel (and then for
    // its window) — before the fix, the 1,025th overflowed the channel's
    // send queue and the tunnel tore itself down.
    let (took, sim) = burst_of_ten_thousand(1, 10_000);
    eprintln!("1 tunnel, all at once: 10,000 calls up after {took:?} of virtual time");
    assert_eq!(sim.lac.tunnel_count(), 1);
    assert_eq!(sim.lac_log.tunnels_up, 1);
    assert_eq!(sim.lac.tunnels_by_peer(), vec![(lns_addr(), 1)]);
}

#[test]
fn four_tunnels_per_lns_group_set_ten_thousand_calls_up_much_faster() {
    // 10 calls a millisecond: further tunnels open only once the first is
    // up and every open one has calls waiting behind its window (calls
    // placed before the first tunnel is up all wait on it).
    let (one, _) = burst_of_ten_thousand(1, 10);
    let (four, sim) = burst_of_ten_thousand(4, 10);
    eprintln!("10,000 calls, 10/ms: 1 tunnel {one:?}, 4 tunnels {four:?} of virtual time");
    assert_eq!(sim.lac.tunnel_count(), 4);
    assert_eq!(sim.lac_log.tunnels_up, 4);
    assert_eq!(sim.lac.tunnels_by_peer(), vec![(lns_addr(), 4)]);
    // Every tunnel carried a fair share.
    for (tunnel, sessions) in sim.lac.sessions_per_tunnel() {
        assert!(sessions > 1_000, "tunnel {tunnel}: {sessions} sessions");
    }
    // Measured: 27.5 s and 7.0 s (0.26).
    assert!(
        four.as_secs_f64() < 0.35 * one.as_secs_f64(),
        "4 tunnels {four:?} vs 1 tunnel {one:?}"
    );
}

#[test]
fn a_black_holed_lns_ends_ten_thousand_waiting_calls_without_recursion() {
    // A 2 MiB stack, as a driver task might have, in the debug build: the
    // teardown of 10,000 calls must be iterative.
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            const CALLS: u32 = 10_000;
            let mut sim = Sim::new(lac_config(1), lns_config());
            sim.open_burst(CALLS, CALLS);
            assert_eq!(sim.lac.queued_calls(), CALLS as usize);
            assert_eq!(
                sim.lac.queued_calls_by_peer(),
                vec![(lns_addr(), CALLS as usize)]
            );
            sim.run_until(Duration::from_secs(5), |s| s.lac_log.tunnels_up == 1);
            // The LNS goes silent once the tunnel is up.
            sim.lns_mute = true;
            sim.run_until(Duration::from_secs(120), |s| {
                !s.lac_log.tunnels_down.is_empty()
            });
            let log = &sim.lac_log;
            assert_eq!(log.tunnels_down, vec![TunnelDownCause::PeerUnreachable]);
            assert!(log.up.is_empty());
            assert_eq!(log.down.len(), CALLS as usize);
            assert!(
                log.down
                    .values()
                    .all(|cause| *cause == SessionDownCause::TunnelDown)
            );
            assert_eq!(sim.lac.tunnel_count(), 0);
            assert_eq!(sim.lac.session_count(), 0);
            assert_eq!(sim.lac.queued_calls(), 0);
            assert!(sim.lac.queued_calls_by_peer().is_empty());
            sim.elapsed()
        })
        .unwrap();
    let took = worker.join().unwrap();
    eprintln!("black hole: 10,000 calls down after {took:?} of virtual time");
}

#[test]
fn calls_beyond_max_queued_calls_are_refused_busy_until_the_queue_drains() {
    let mut lac = lac_config(1);
    lac.max_queued_calls = 100;
    let mut sim = Sim::new(lac, lns_config());
    let mut handles = sim.open_burst(100, 100);
    assert_eq!(sim.lac.queued_calls(), 100);
    let refused = sim.lac.open_session(sim.now, open(100, b"group-a"));
    assert_eq!(refused, Err(OpenError::Busy));
    assert!(
        OpenError::Busy.to_string().contains("busy"),
        "{}",
        OpenError::Busy
    );
    // Refusing changed nothing; another LNS group has its own bound.
    assert_eq!(sim.lac.queued_calls(), 100);
    assert_eq!(sim.lac.session_count(), 100);
    let other = sim.lac.open_session(sim.now, open(1_000, b"group-b"));
    assert!(other.is_ok());
    assert_eq!(sim.lac.tunnel_count(), 2);

    sim.run_until(Duration::from_secs(30), |s| s.lac_log.up.len() == 101);
    assert_eq!(sim.lac.queued_calls(), 0);
    handles.push(
        sim.lac
            .open_session(sim.now, open(101, b"group-a"))
            .expect("accepted again once the queue drained"),
    );
    sim.run_until(Duration::from_secs(5), |s| s.lac_log.up.len() == 102);
    assert!(sim.lac_log.down.is_empty());
    assert!(sim.lac_log.tunnels_down.is_empty());
    assert!(!sim.lac_log.up.contains(&100));
}

#[test]
fn a_full_channel_send_queue_makes_messages_wait_not_the_tunnel_die() {
    // A send queue of 2: ICRQs, ICCNs and CDNs all wait in the outbox in
    // turn; the held SessionUp follows its ICCN out of it.
    let mut lac = lac_config(1);
    lac.channel.max_send_queue = 2;
    let mut sim = Sim::new(lac, lns_config());
    let handles = sim.open_burst(200, 200);
    sim.run_until(Duration::from_secs(60), |s| {
        s.lac_log.up.len() == 200 && s.lns_sessions_up == 200
    });
    assert!(sim.max_unacknowledged <= 2);
    // Clear every call at once: 200 CDNs for a queue of 2.
    let result = ResultCode::cdn(CdnResult::Administrative)
        .with_error(GeneralError::NoError, "subscriber left");
    for handle in &handles {
        assert!(
            sim.lac
                .close_session(sim.now, *handle, result.clone(), None)
        );
    }
    sim.run_until(Duration::from_secs(60), |s| s.lns.session_count() == 0);
    assert!(sim.max_outbox_messages > 0, "the outbox was never used");
    assert_eq!(sim.lac.tunnel_count(), 1);
    assert_eq!(sim.lns.tunnel_count(), 1);
    assert!(sim.lac_log.tunnels_down.is_empty());
    assert_eq!(sim.lac_log.down.len(), 200);
}
