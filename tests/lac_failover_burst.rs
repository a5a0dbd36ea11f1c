//! Regression test of issue 11: 10,000 calls wait on one tunnel, the LNS
//! clears it (StopCCN, RFC 2661 §5.7), and every call fails over to the
//! second LNS of its RADIUS plan (RFC 2868 preferences).
//!
//! Before the fix the failover recursed once per failed call
//! (`try_next_endpoint` → `drain_endpoint` → `SessionDown` →
//! `l2tp_session_down` → `try_next_endpoint` …) and the LAC died with a
//! stack overflow. The test runs the LAC core in virtual time, sans-IO:
//! the subscriber farm (`loadgen`, our PPPoE and PPP client cores) on one
//! side, two L2TP endpoints in the LNS role on the other. It runs on a
//! thread with an explicit 2 MiB stack (Rust's default for spawned
//! threads) in whatever build `cargo test` makes, the debug one in CI.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tunnelnas::aaa::attributes::{
    AcceptAttributes, Decision, TunnelCandidate, TunnelEndpoint, TunnelMediumKind,
};
use tunnelnas::config;
use tunnelnas::l2tp::{Endpoint, EndpointConfig, Event as L2tpEvent, PeerPolicy};
use tunnelnas::loadgen::subscribers::{FarmConfig, MAX_FRAME_LEN, SubscriberFarm};
use tunnelnas::ppp::auth::AuthMethod;
use tunnelnas::ppp::link::Credentials;
use tunnelnas::session::{
    Command, DOWNSTREAM_HEADROOM, Forward, LacEvent, NodeCore, NodeCoreConfig, SelectionOutcome,
    SessionState,
};
use tunnelnas::wire::ethernet::MacAddress;
use tunnelnas::wire::l2tp::{ResultCode, StopCcnResult};

const SUBSCRIBERS: u32 = 10_000;
const LAC_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0xac]);
const LAC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1701);
const LNS_A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 1701);
const LNS_B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)), 1701);
const SECRET: &[u8] = b"burst-secret";
const STEP: Duration = Duration::from_millis(1);

/// The LAC as its configuration file makes it, with limits that let
/// 10,000 subscribers in at once and set-up timers long enough for all of
/// them to be waiting on LNS A's tunnel when it is cleared.
fn lac_config() -> NodeCoreConfig {
    let file: config::Config = toml::from_str(
        r#"
[pppoe]
padi_rate = 100000
max_sessions_per_interface = 20000
[[pppoe.interface]]
name = "access0"
[lac]
setup_deadline = "120s"
max_sessions_per_tunnel = 20000
max_queued_calls = 20000
max_tunnels_per_lns = 1
"#,
    )
    .expect("config");
    let mut lac = tunnelnas::node::convert::node_config(&file).expect("[lac] present");
    lac.link.auth_methods = vec![AuthMethod::Pap];
    lac.link.echo_interval = None;
    lac.endpoint.accept_calls = false;
    lac.tunnel_accounting = false;
    lac.local_address = Some(LAC_ADDR.ip());
    lac
}

fn candidate(tag: u8, lns: SocketAddr, preference: u32) -> TunnelCandidate {
    TunnelCandidate {
        tag,
        medium: TunnelMediumKind::Ipv4,
        server_endpoint: TunnelEndpoint::Ip(lns.ip()),
        client_endpoint: None,
        password: Some(SECRET.to_vec()),
        preference: Some(preference),
        assignment_id: None,
        client_auth_id: None,
        server_auth_id: None,
        private_group_id: None,
    }
}

/// An LNS: our endpoint core in the LNS role, accepting every call.
fn lns(host: &str, seed: u8) -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            accept_calls: true,
            host_name: host.as_bytes().to_vec(),
            max_sessions_per_tunnel: 20_000,
            peers: vec![PeerPolicy {
                network: "192.0.2.0/24".parse().expect("network"),
                secret: SECRET.to_vec(),
                host_name: None,
                max_tunnels: None,
                hide_avps: None,
            }],
            ..EndpointConfig::default()
        },
        [seed; 32],
    )
}

struct World {
    now: Instant,
    farm: SubscriberFarm,
    lac: NodeCore,
    lnss: Vec<(SocketAddr, Endpoint)>,
    authentications: usize,
    lac_events: Vec<LacEvent>,
    calls_at: HashMap<SocketAddr, usize>,
}

impl World {
    fn new() -> Self {
        let now = Instant::now();
        let farm = SubscriberFarm::new(
            FarmConfig {
                subscribers: SUBSCRIBERS,
                credentials: vec![Credentials {
                    user: b"burst@isp.example".to_vec(),
                    password: b"pw".to_vec(),
                }],
                auth_methods: vec![AuthMethod::Pap],
                start_rate: 0,
                ping_interval: None,
                redial: None,
                ..FarmConfig::default()
            },
            [1; 32],
            now,
        );
        let lac = NodeCore::new(
            lac_config(),
            vec![LAC_MAC],
            "0000000B-".into(),
            [2; 32],
            now,
        );
        Self {
            now,
            farm,
            lac,
            lnss: vec![(LNS_A, lns("lns-a", 3)), (LNS_B, lns("lns-b", 4))],
            authentications: 0,
            lac_events: Vec::new(),
            calls_at: HashMap::new(),
        }
    }

    fn lns(&mut self, addr: SocketAddr) -> &mut Endpoint {
        &mut self
            .lnss
            .iter_mut()
            .find(|(a, _)| *a == addr)
            .expect("known LNS")
            .1
    }

    fn step(&mut self) {
        let now = self.now;
        if self.farm.poll_timeout().is_some_and(|t| t <= now) {
            self.farm.handle_timeout(now);
        }
        if self.lac.poll_timeout().is_some_and(|t| t <= now) {
            self.lac.handle_timeout(now);
        }
        let mut buf = vec![0u8; MAX_FRAME_LEN];
        let mut datagrams: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        while let Some(len) = self.farm.poll_transmit(&mut buf) {
            let mut frame = buf[..len].to_vec();
            if let Forward::Datagram { to, range } = self.lac.handle_frame(now, 0, &mut frame, None)
            {
                datagrams.push((to, frame[range].to_vec()));
            }
        }
        // RADIUS, answered at once: LNS A first, LNS B second.
        while let Some(command) = self.lac.poll_command() {
            if let Command::Authenticate { token, .. } = command {
                self.authentications += 1;
                let decision = Decision::Accept(Box::new(AcceptAttributes {
                    tunnels: vec![candidate(1, LNS_A, 1), candidate(2, LNS_B, 2)],
                    ..AcceptAttributes::default()
                }));
                self.lac.auth_result(now, token, decision);
            }
        }
        while let Some(event) = self.lac.poll_event() {
            if matches!(
                event,
                LacEvent::Selection(_) | LacEvent::Select(_) | LacEvent::SetupFailed(_)
            ) {
                self.lac_events.push(event);
            }
        }
        while let Some((interface, len)) = self.lac.poll_frame(&mut buf) {
            assert_eq!(interface, 0);
            let frame = buf[..len].to_vec();
            self.farm.handle_frame(now, &frame);
        }
        let mut control = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
        while let Some((to, len)) = self.lac.poll_datagram(now, &mut control) {
            datagrams.push((to, control[..len].to_vec()));
        }
        for (to, datagram) in datagrams {
            // Data messages of sessions that are up are not looked at: the
            // LNSs here terminate no PPP.
            if tunnelnas::l2tp::is_control(&datagram) {
                self.lns(to).handle_datagram(now, LAC_ADDR, &datagram);
            }
        }
        let mut replies = Vec::new();
        for (addr, lns) in &mut self.lnss {
            if lns.poll_timeout().is_some_and(|t| t <= now) {
                lns.handle_timeout(now);
            }
            while let Some(event) = lns.poll_event() {
                match event {
                    // LNS A acknowledges every ICRQ and answers none.
                    L2tpEvent::SessionRequest { handle, .. } if *addr == LNS_B => {
                        lns.accept_session(now, handle);
                    }
                    L2tpEvent::SessionUp { .. } => {
                        *self.calls_at.entry(*addr).or_default() += 1;
                    }
                    _ => {}
                }
            }
            while let Some((to, len)) = lns.poll_transmit(now, &mut control) {
                assert_eq!(to.ip(), LAC_ADDR.ip());
                replies.push((*addr, control[..len].to_vec()));
            }
        }
        for (from, datagram) in replies {
            let start = DOWNSTREAM_HEADROOM + 64;
            let mut buf = vec![0u8; start + datagram.len()];
            buf[start..].copy_from_slice(&datagram);
            if let Forward::Frame { range, .. } =
                self.lac
                    .handle_datagram(now, from, &mut buf, start, datagram.len())
            {
                self.farm.handle_frame(now, &buf[range]);
            }
        }
        self.now += STEP;
    }

    fn count(&self, state: SessionState) -> usize {
        self.lac
            .state_counts()
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }
}

fn ten_thousand_calls_fail_over_when_their_tunnel_dies() {
    let mut world = World::new();
    let started = world.now;
    // LNS A holds its tunnel but answers no call: every subscriber ends
    // up waiting on that one tunnel.
    let waiting = world.run_until(Duration::from_secs(60), |w| {
        w.count(SessionState::Tunnelling) == SUBSCRIBERS as usize
    });
    assert!(
        waiting,
        "not every subscriber reached LNS A's tunnel: {:?}, {} authenticated, farm {:?}",
        world.lac.state_counts(),
        world.authentications,
        world.farm.stats()
    );
    assert_eq!(world.lac.endpoint().tunnel_count(), 1);
    assert_eq!(world.calls_at.get(&LNS_B), None);
    // LNS A clears the tunnel with every call on it.
    let tunnels: Vec<u16> = world
        .lns(LNS_A)
        .tunnels()
        .iter()
        .map(|t| t.tunnel_id)
        .collect();
    assert_eq!(tunnels.len(), 1);
    let now = world.now;
    world.lns(LNS_A).close_tunnel(
        now,
        tunnels[0],
        ResultCode::stop_ccn(StopCcnResult::ShuttingDown),
    );
    let all_up = world.run_until(Duration::from_secs(60), |w| {
        w.count(SessionState::Up) == SUBSCRIBERS as usize
    });
    assert!(
        all_up,
        "not every call failed over: {:?}, LNS B took {:?}, events {:?}",
        world.lac.state_counts(),
        world.calls_at.get(&LNS_B),
        &world.lac_events[..world.lac_events.len().min(8)]
    );
    // The events of the last step's datagrams.
    world.step();
    assert_eq!(
        world.authentications, SUBSCRIBERS as usize,
        "one Access-Request each"
    );
    assert_eq!(world.calls_at.get(&LNS_B), Some(&(SUBSCRIBERS as usize)));
    let failovers = world
        .lac_events
        .iter()
        .filter(|e| **e == LacEvent::Selection(SelectionOutcome::Failover))
        .count();
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for event in &world.lac_events {
        *outcomes
            .entry(format!("{event:?}").chars().take(40).collect())
            .or_default() += 1;
    }
    assert_eq!(failovers, SUBSCRIBERS as usize, "{outcomes:?}");
    // One denylisting of LNS A for the whole burst, not one per call.
    let denylistings = world
        .lac_events
        .iter()
        .filter(|e| matches!(e, LacEvent::Select(s) if format!("{s:?}").starts_with("Denylisted")))
        .count();
    assert_eq!(denylistings, 1, "{:?}", world.lac.denylist(world.now));
    assert_eq!(world.lac.denylist(world.now)[0].0, LNS_A);
    eprintln!(
        "{SUBSCRIBERS} calls failed over in {:?} of virtual time",
        world.now.saturating_duration_since(started)
    );
}

#[test]
fn ten_thousand_calls_fail_over_on_a_two_mib_stack() {
    std::thread::Builder::new()
        .name("burst".into())
        .stack_size(2 << 20)
        .spawn(ten_thousand_calls_fail_over_when_their_tunnel_dies)
        .expect("thread")
        .join()
        .expect("the failover burst completes on a 2 MiB stack");
}
