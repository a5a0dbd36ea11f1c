//! The test LNS (the node core in the LNS role behind its harness)
//! against our L2TP endpoint as a LAC with a PPP client link per call, in
//! virtual time; and [`run_lns`] over UDP on loopback.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::l2tp::{CallInfo, Endpoint, OpenSession, SessionHandle};
use crate::ppp::link::{Link, LinkConfig, LinkEvent};
use crate::ppp::ncp::Ipv4Negotiated;
use crate::wire::l2tp::{CdnResult, HeaderRepr, ResultCode};
use crate::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};

const LAC_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1701);
const LNS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1701);
const LNS_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SECRET: &[u8] = b"tunnel-secret";
const STEP: Duration = Duration::from_millis(5);

fn user(name: &str, password: &str) -> Credentials {
    Credentials {
        user: name.as_bytes().to_vec(),
        password: password.as_bytes().to_vec(),
    }
}

fn lns_config(pool: &str) -> LnsConfig {
    let mut config = LnsConfig::new(
        "192.0.2.0/24".parse().unwrap(),
        SECRET,
        vec![user("alice", "alice-pw"), user("bob", "bob-pw")],
        LNS_IP,
        pool.parse().unwrap(),
    );
    config.dns = vec![Ipv4Addr::new(10, 0, 0, 53)];
    config
}

/// One call of the LAC side: a client link inside the tunnel.
#[derive(Debug, Default)]
struct Call {
    ids: Option<(u16, u16)>,
    link: Option<Link>,
    ipv4: Option<Ipv4Negotiated>,
    down: bool,
    link_down: bool,
    ipv4_received: Vec<Vec<u8>>,
}

/// Our L2TP endpoint as a LAC, with a PPP client link per call.
struct World {
    now: Instant,
    lns: LnsHarness,
    lac: Endpoint,
    calls: BTreeMap<u64, Call>,
    credentials: BTreeMap<u64, (Credentials, Vec<AuthMethod>)>,
    /// Every data message the LNS sent.
    lns_data: Vec<Vec<u8>>,
    /// Every control datagram each side sent, with the time.
    lac_control: Vec<(Instant, Vec<u8>)>,
    lns_control: Vec<(Instant, Vec<u8>)>,
    /// Impairment of the path, both ways: RNG, loss and duplication
    /// probabilities.
    impairment: Option<(StdRng, f64, f64)>,
}

impl World {
    fn new(config: LnsConfig) -> Self {
        Self {
            now: Instant::now(),
            lns: LnsHarness::new(config, [4; 32]),
            lac: Endpoint::new(
                EndpointConfig {
                    accept_calls: false,
                    ..EndpointConfig::default()
                },
                [5; 32],
            ),
            calls: BTreeMap::new(),
            credentials: BTreeMap::new(),
            lns_data: Vec::new(),
            lac_control: Vec::new(),
            lns_control: Vec::new(),
            impairment: None,
        }
    }

    fn dial(&mut self, request_id: u64, credentials: Credentials, methods: &[AuthMethod]) {
        self.lac
            .open_session(
                self.now,
                OpenSession {
                    peer: LNS_ADDR,
                    secret: SECRET.to_vec(),
                    assignment_id: None,
                    client_auth_id: None,
                    call: CallInfo::default(),
                    request_id,
                },
            )
            .unwrap();
        self.credentials
            .insert(request_id, (credentials, methods.to_vec()));
        self.calls.insert(request_id, Call::default());
    }

    /// A data message from the LAC on call `request_id` with `ppp`
    /// (whatever framing the test chose).
    /// How many copies of a datagram the path delivers (0, 1 or 2).
    fn copies(&mut self) -> usize {
        match self.impairment.as_mut() {
            None => 1,
            Some((rng, loss, duplicate)) => {
                if rng.random_bool(*loss) {
                    0
                } else if rng.random_bool(*duplicate) {
                    2
                } else {
                    1
                }
            }
        }
    }

    fn lac_sends(&mut self, request_id: u64, ppp: &[u8]) {
        let (tunnel, session) = self.calls[&request_id].ids.unwrap();
        let mut datagram = vec![0u8; 6 + ppp.len()];
        datagram[6..].copy_from_slice(ppp);
        let start = HeaderRepr::data(tunnel, session)
            .emit_before(&mut datagram, 6, ppp.len())
            .unwrap();
        assert_eq!(start, 0);
        for _ in 0..self.copies() {
            self.lns.handle_datagram(self.now, LAC_ADDR, &datagram);
        }
    }

    fn step(&mut self) {
        let now = self.now;
        if self.lac.poll_timeout().is_some_and(|t| t <= now) {
            self.lac.handle_timeout(now);
        }
        if self.lns.poll_timeout().is_some_and(|t| t <= now) {
            self.lns.handle_timeout(now);
        }
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        while let Some((to, len)) = self.lac.poll_transmit(now, &mut buf) {
            assert_eq!(to, LNS_ADDR);
            if crate::l2tp::is_control(&buf[..len]) {
                self.lac_control.push((now, buf[..len].to_vec()));
            }
            for _ in 0..self.copies() {
                self.lns.handle_datagram(now, LAC_ADDR, &buf[..len]);
            }
        }
        while let Some(event) = self.lac.poll_event() {
            match event {
                L2tpEvent::SessionUp {
                    request_id,
                    peer_tunnel_id,
                    peer_session_id,
                    ..
                } => {
                    let (credentials, methods) = self.credentials[&request_id].clone();
                    let mut config = LinkConfig::client(credentials);
                    config.auth_methods = methods;
                    config.echo_interval = None;
                    config.ipv6 = false;
                    config.accept_compression = true;
                    let mut link = Link::new(config, [request_id as u8; 32]);
                    link.open(now);
                    let call = self.calls.get_mut(&request_id).unwrap();
                    call.ids = Some((peer_tunnel_id, peer_session_id));
                    call.link = Some(link);
                }
                L2tpEvent::SessionDown { request_id, .. } => {
                    let call = self.calls.get_mut(&request_id).unwrap();
                    call.down = true;
                    if let Some(link) = call.link.as_mut() {
                        link.lower_down(now);
                    }
                }
                _ => {}
            }
        }
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        for id in ids {
            let mut frames = Vec::new();
            let call = self.calls.get_mut(&id).unwrap();
            let Some(link) = call.link.as_mut() else {
                continue;
            };
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                match event {
                    LinkEvent::NetworkUp { ipv4, .. } => call.ipv4 = ipv4,
                    LinkEvent::Down { .. } => call.link_down = true,
                    _ => {}
                }
            }
            let mut out = [0u8; 1600];
            while let Some((protocol, len)) = link.poll_transmit(&mut out[4..]) {
                FrameHeader {
                    address_control: true,
                    protocol,
                }
                .emit(&mut out)
                .unwrap();
                frames.push(out[..4 + len].to_vec());
            }
            if call.down {
                continue;
            }
            for frame in frames {
                self.lac_sends(id, &frame);
            }
        }
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        let mut downstream = Vec::new();
        while let Some((to, len)) = self.lns.poll_transmit(now, &mut buf) {
            assert_eq!(to, LAC_ADDR);
            for _ in 0..self.copies() {
                downstream.push(buf[..len].to_vec());
            }
        }
        for datagram in downstream {
            if crate::l2tp::is_control(&datagram) {
                self.lns_control.push((now, datagram.clone()));
                self.lac.handle_datagram(now, LNS_ADDR, &datagram);
                continue;
            }
            let packet = L2tpPacket::new_checked(&datagram[..]).unwrap();
            let ppp = PppFrame::new_checked(packet.payload()).unwrap();
            assert!(ppp.has_address_control(), "the LNS sends FF 03");
            assert!(!ppp.is_protocol_compressed());
            self.lns_data.push(datagram.clone());
            // The LNS's first LCP Configure-Request may beat the LAC's
            // SessionUp (held until the ICCN is acknowledged): dropped
            // here, PPP retransmits it.
            let session = packet.session_id();
            let Some(call) = self
                .calls
                .values_mut()
                .find(|c| c.ids.is_some() && !c.down && self_session(&self.lac, c, session))
            else {
                continue;
            };
            if ppp.protocol() == Protocol::Ipv4 {
                call.ipv4_received.push(ppp.payload().to_vec());
            } else if let Some(link) = call.link.as_mut() {
                link.handle_frame(now, ppp.protocol(), ppp.payload());
            }
        }
        self.now += STEP;
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

    fn ping(&mut self, request_id: u64, seq: u16, pfc: bool) {
        let ipv4 = self.calls[&request_id].ipv4.unwrap();
        let mut packet = [0u8; 128];
        let len =
            icmp::write_echo_request(&mut packet, (ipv4.local, ipv4.peer), 9, seq, 32).unwrap();
        let mut ppp = if pfc {
            vec![0x21]
        } else {
            vec![0xff, 0x03, 0x00, 0x21]
        };
        ppp.extend_from_slice(&packet[..len]);
        self.lac_sends(request_id, &ppp);
    }
}

/// Whether data for our Session ID `session` belongs to `call` (the LAC
/// endpoint knows which of its sessions has those peer ids).
fn self_session(lac: &Endpoint, call: &Call, session: u16) -> bool {
    let Some((peer_tunnel, peer_session)) = call.ids else {
        return false;
    };
    lac.tunnels().iter().any(|t| {
        lac.session(t.tunnel_id, session)
            .is_some_and(|s| s.peer_tunnel_id == peer_tunnel && s.peer_session_id == peer_session)
    })
}

#[test]
fn a_call_gets_an_address_and_its_pings_are_answered_for_each_method() {
    for method in [AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap] {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "alice-pw"), &[method]);
        assert!(
            world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()),
            "{method:?}: {:?}",
            world.lns.stats()
        );
        let ipv4 = world.calls[&1].ipv4.unwrap();
        assert_eq!(ipv4.local, Ipv4Addr::new(10, 0, 0, 2), "first pool address");
        assert_eq!(ipv4.peer, LNS_IP);
        assert_eq!(ipv4.primary_dns, Some(Ipv4Addr::new(10, 0, 0, 53)));
        world.ping(1, 1, false);
        world.ping(1, 2, true);
        world.step();
        let replies = &world.calls[&1].ipv4_received;
        assert_eq!(replies.len(), 2, "{method:?}");
        for (reply, seq) in replies.iter().zip([1, 2]) {
            let echo = icmp::parse_echo(reply).expect("valid checksums");
            assert!(echo.is_reply);
            assert_eq!(
                (echo.src, echo.dst, echo.ident, echo.seq),
                (LNS_IP, ipv4.local, 9, seq)
            );
        }
        let stats = world.lns.stats();
        assert_eq!(stats.auth_accepted, 1);
        assert_eq!(stats.auth_rejected, 0);
        assert_eq!(stats.pings_answered, 2);
        assert_eq!((stats.tunnels, stats.tunnels_total), (1, 1));
        assert_eq!((stats.sessions, stats.sessions_total), (1, 1));
        assert_eq!(stats.sessions_network_up, 1);
        assert_eq!(stats.addresses_in_use, 1);
        assert_eq!(stats.ppp_setup.count(), 1);
        assert_eq!(stats.tx_packets as usize, world.lns_data.len());
        assert!(stats.rx_bytes > 0 && stats.tx_bytes > 0);
        assert_eq!(stats.data_dropped, 0);
        let views = world.lns.core().sessions(world.now);
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].role, "lns");
        assert_eq!(views[0].user_name.as_deref(), Some("alice"));
        assert_eq!(views[0].ipv4_address, Some(ipv4.local.to_string()));
        // Accounting-Start went to the RADIUS stand-in.
        assert_eq!(stats.accounting_records, 1);
    }
}

#[test]
fn calls_come_up_over_a_lossy_duplicating_path() {
    for seed in 0..4u8 {
        let mut world = World::new(lns_config("10.0.0.0/24"));
        // 10 % loss and 5 % duplicates both ways: the control channel
        // (RFC 2661 §5.8) and PPP (RFC 1661 Restart timer) recover.
        world.impairment = Some((StdRng::from_seed([seed; 32]), 0.10, 0.05));
        for id in 1..=5 {
            world.dial(id, user("alice", "alice-pw"), &[AuthMethod::MsChapV2]);
        }
        assert!(
            world.run_until(Duration::from_secs(120), |w| w
                .calls
                .values()
                .all(|c| c.ipv4.is_some())),
            "seed {seed}: {:?}",
            world.lns.stats()
        );
        for seq in 0..40 {
            for id in 1..=5 {
                world.ping(id, seq, false);
            }
            world.step();
        }
        // A duplicated Configure-Request makes PPP renegotiate (RFC 1661
        // §4: Configure-Request in Opened); it settles again.
        assert!(world.run_until(Duration::from_secs(60), |w| {
            w.lns.stats().sessions_network_up == 5
        }));
        let stats = world.lns.stats();
        assert_eq!(stats.sessions, 5, "seed {seed}");
        assert_eq!(stats.addresses_in_use, 5);
        // Every request that arrived was answered (duplicates too).
        assert!(
            stats.pings_answered > 100 && stats.pings_answered < 240,
            "{stats:?}"
        );
        let received: usize = world.calls.values().map(|c| c.ipv4_received.len()).sum();
        assert!(received > 80, "seed {seed}: {received}");
    }
}

#[test]
fn shutdown_clears_every_tunnel_and_call() {
    let mut world = World::new(lns_config("10.0.0.0/29"));
    world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    world.dial(2, user("bob", "bob-pw"), &[AuthMethod::ChapMd5]);
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.calls.values().all(|c| c.ipv4.is_some())
    }));
    world.lns.shutdown(world.now);
    assert!(world.run_until(Duration::from_secs(5), |w| w.calls.values().all(|c| c.down)));
    let stats = world.lns.stats();
    assert_eq!(
        (stats.tunnels, stats.sessions, stats.addresses_in_use),
        (0, 0, 0)
    );
    assert_eq!(stats.tunnels_total, 1);
    assert_eq!((stats.tunnels_down, stats.tunnels_failed), (1, 0));
    assert_eq!(stats.sessions_down, 2);
}

#[test]
fn the_deployed_lns_profile_acknowledges_only_after_its_delay() {
    use crate::wire::l2tp::{ControlMessage, MessageType};

    let config = lns_config("10.0.0.0/24")
        .like_deployed_lns(DEPLOYED_LNS_RECEIVE_WINDOW, DEPLOYED_LNS_ACK_DELAY);
    let channel = &config.endpoint.channel;
    assert_eq!(
        (
            channel.receive_window,
            channel.ack_delay,
            channel.piggyback_acks,
            channel.immediate_ack_at_half_window
        ),
        (8, Duration::from_millis(10), false, false)
    );
    let mut world = World::new(config);
    const CALLS: u64 = 30;
    for id in 1..=CALLS {
        world.dial(id, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    }
    assert!(
        world.run_until(Duration::from_secs(30), |w| w
            .calls
            .values()
            .all(|c| c.ipv4.is_some())),
        "{:?}",
        world.lns.stats()
    );
    let stats = world.lns.stats();
    assert_eq!((stats.tunnels, stats.sessions_network_up), (1, 30));
    assert_eq!((stats.tunnels_down, stats.tunnels_failed), (0, 0));
    assert_eq!(stats.sessions_down, 0);

    let parse = |bytes: &[u8]| ControlMessage::from_bytes(bytes, None).unwrap();
    // The SCCRP advertises window 8 and does not acknowledge the
    // SCCRQ it answers (Nr 0): that is left to the delayed ZLB.
    let sccrp = world
        .lns_control
        .iter()
        .map(|(_, bytes)| parse(bytes))
        .find(|m| m.message_type == Some(MessageType::Sccrp))
        .expect("SCCRP");
    assert_eq!((sccrp.ns, sccrp.nr), (0, 0));
    assert_eq!(sccrp.receive_window_size(), Some(8));

    // When each LAC message arrived (no loss: sent once each).
    let mut arrived = HashMap::new();
    for (at, bytes) in &world.lac_control {
        let msg = parse(bytes);
        if !msg.is_zlb() {
            assert!(arrived.insert(msg.ns, *at).is_none(), "retransmitted");
        }
    }
    // Every acknowledgement the LNS sent came at least ack_delay after
    // the oldest message it acknowledged, and most were ZLBs.
    let (mut acked, mut acks, mut zlbs) = (0u16, 0, 0);
    for (at, bytes) in &world.lns_control {
        let msg = parse(bytes);
        if msg.nr == acked {
            continue;
        }
        acks += 1;
        zlbs += usize::from(msg.is_zlb());
        let first = arrived[&acked];
        assert!(
            at.saturating_duration_since(first) >= DEPLOYED_LNS_ACK_DELAY,
            "Nr {} ({:?}) acknowledges Ns {acked}, which arrived {:?} before",
            msg.nr,
            msg.message_type,
            at.saturating_duration_since(first)
        );
        acked = msg.nr;
    }
    // SCCRQ, SCCCN, and an ICRQ and an ICCN per call.
    assert_eq!(usize::from(acked), arrived.len());
    assert_eq!(arrived.len(), 2 + 2 * CALLS as usize);
    assert!(acks > 0 && zlbs * 2 > acks, "{zlbs} ZLBs of {acks} acks");
}

#[test]
fn other_ipv4_is_counted_and_not_answered_and_spoofed_ipv4_dropped() {
    let mut world = World::new(lns_config("10.0.0.0/29"));
    world.dial(1, user("bob", "bob-pw"), &[AuthMethod::ChapMd5]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
    let ipv4 = world.calls[&1].ipv4.unwrap();
    // An echo to another host, and a reply (not a request).
    let mut packet = [0u8; 64];
    let len = icmp::write_echo_request(
        &mut packet,
        (ipv4.local, Ipv4Addr::new(8, 8, 8, 8)),
        1,
        1,
        8,
    )
    .unwrap();
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&packet[..len]);
    world.lac_sends(1, &ppp);
    let len = icmp::write_echo_request(&mut packet, (LNS_IP, ipv4.local), 1, 1, 8).unwrap();
    icmp::answer_echo(&mut packet[..len], ipv4.local).unwrap();
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&packet[..len]);
    world.lac_sends(1, &ppp);
    // A request from an address that is not the subscriber's: the core's
    // source filter drops it before TUN.
    let len = icmp::write_echo_request(&mut packet, (Ipv4Addr::new(10, 9, 9, 9), LNS_IP), 1, 1, 8)
        .unwrap();
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&packet[..len]);
    world.lac_sends(1, &ppp);
    world.step();
    assert!(world.calls[&1].ipv4_received.is_empty());
    let stats = world.lns.stats();
    assert_eq!(stats.ipv4_ignored, 2);
    assert_eq!(stats.data_dropped, 1);
    assert_eq!(stats.pings_answered, 0);
    let lns = world.lns.core().lns_snapshot().unwrap();
    assert_eq!((lns.to_tun.packets, lns.spoofed), (2, 1));
}

#[test]
fn a_wrong_password_is_rejected_and_the_call_cleared() {
    let mut world = World::new(lns_config("10.0.0.0/29"));
    world.dial(1, user("alice", "wrong"), &[AuthMethod::Pap]);
    assert!(
        world.run_until(Duration::from_secs(30), |w| w.calls[&1].down),
        "{:?}",
        world.lns.stats()
    );
    let stats = world.lns.stats();
    assert!(stats.auth_rejected >= 1);
    assert_eq!(stats.auth_accepted, 0);
    assert_eq!(stats.sessions, 0);
    assert_eq!(stats.addresses_in_use, 0);
    assert!(world.calls[&1].ipv4.is_none());
    // An unknown user too.
    world.dial(2, user("mallory", "x"), &[AuthMethod::MsChapV2]);
    assert!(
        world.run_until(Duration::from_secs(30), |w| w.calls[&2].down),
        "{:?} {:?} {:?} {:?}",
        world.lns.stats(),
        world.lns.core().sessions(world.now),
        world.lac.tunnels(),
        world.calls[&2]
    );
    assert_eq!(world.lns.stats().auth_accepted, 0);
}

#[test]
fn a_call_cleared_by_the_lac_frees_its_address() {
    let mut world = World::new(lns_config("10.0.0.0/29"));
    world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.calls.values().all(|c| c.ipv4.is_some())
    }));
    assert_eq!(world.lns.stats().addresses_in_use, 2);
    let first = world.calls[&1].ipv4.unwrap().local;
    let handle = world
        .lac
        .tunnels()
        .iter()
        .find_map(|t| {
            (1..=u16::MAX).find_map(|s| {
                let info = world.lac.session(t.tunnel_id, s)?;
                (Some((info.peer_tunnel_id, info.peer_session_id)) == world.calls[&1].ids)
                    .then_some(SessionHandle {
                        tunnel_id: t.tunnel_id,
                        session_id: s,
                    })
            })
        })
        .unwrap();
    world.lac.close_session(
        world.now,
        handle,
        ResultCode::cdn(CdnResult::Administrative),
        None,
    );
    world.calls.get_mut(&1).unwrap().down = true;
    assert!(world.run_until(Duration::from_secs(5), |w| w.lns.stats().sessions == 1));
    assert_eq!(world.lns.stats().addresses_in_use, 1);
    // The next call gets an address; the pool hands a freed one out as
    // late as it can (next fit, `lns::pool`), so not the first one.
    world.dial(3, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&3].ipv4.is_some()));
    assert_ne!(world.calls[&3].ipv4.unwrap().local, first);
    assert_eq!(world.lns.stats().addresses_in_use, 2);
}

#[test]
fn an_exhausted_pool_or_session_limit_refuses_the_call() {
    // 10.0.0.0/30: .1 is the LNS, .2 the only subscriber address.
    let mut world = World::new(lns_config("10.0.0.0/30"));
    world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
    world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&2].down));
    assert_eq!(world.lns.stats().sessions_refused, 1);
    assert_eq!(world.lns.stats().sessions, 1);
    // A session limit of one.
    let mut world = World::new(LnsConfig {
        max_sessions: 1,
        ..lns_config("10.0.0.0/24")
    });
    world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
    world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&2].down));
    assert_eq!(world.lns.stats().sessions_refused, 1);
}

#[test]
fn data_for_unknown_sessions_or_from_elsewhere_is_dropped() {
    let mut world = World::new(lns_config("10.0.0.0/29"));
    world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
    assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
    let now = world.now;
    let view = world.lns.core().sessions(now).remove(0);
    let (tunnel, session) = (view.tunnel_id.unwrap(), view.session_id.unwrap());
    let mut datagram = vec![0u8; 6 + 4];
    datagram[6..].copy_from_slice(&[0xff, 0x03, 0xc0, 0x21]);
    HeaderRepr::data(tunnel, session.wrapping_add(1))
        .emit_before(&mut datagram, 6, 4)
        .unwrap();
    world.lns.handle_datagram(now, LAC_ADDR, &datagram);
    HeaderRepr::data(tunnel, session)
        .emit_before(&mut datagram, 6, 4)
        .unwrap();
    world
        .lns
        .handle_datagram(now, "198.51.100.1:1701".parse().unwrap(), &datagram);
    // Empty PPP frame.
    world.lns.handle_datagram(now, LAC_ADDR, &datagram[..6]);
    assert_eq!(world.lns.stats().data_dropped, 3);
    assert_eq!(world.lns.stats().sessions, 1);
}

#[test]
fn the_radius_stand_in_checks_each_method_against_the_user_list() {
    use crate::aaa::request::{Credentials as Proof, SessionInfo};
    use crate::ppp::auth::crypto::{chap_md5_response, generate_nt_response};
    let radius = LocalRadius::new(&[user("alice", "alice-pw")]);
    let request = |name: &str, credentials: Proof| RadiusRequest {
        user_name: name.to_owned(),
        credentials,
        session: SessionInfo::default(),
        tunnel: None,
    };
    let accepted = |d: &Decision| matches!(d, Decision::Accept(_));
    let pap = |password: &str| {
        request(
            "alice",
            Proof::Pap {
                password: password.as_bytes().to_vec(),
            },
        )
    };
    assert!(accepted(&radius.decide(&pap("alice-pw"))));
    assert!(!accepted(&radius.decide(&pap("alice-pw "))));
    let challenge = vec![7u8; 16];
    let chap = |password: &[u8]| {
        request(
            "alice",
            Proof::Chap {
                id: 3,
                challenge: challenge.clone(),
                response: chap_md5_response(3, password, &challenge),
            },
        )
    };
    assert!(accepted(&radius.decide(&chap(b"alice-pw"))));
    assert!(!accepted(&radius.decide(&chap(b"nope"))));
    let (auth, peer) = ([1u8; 16], [2u8; 16]);
    let mschap = |name: &str, password: &[u8]| {
        request(
            name,
            Proof::MsChapV2 {
                id: 1,
                authenticator_challenge: auth,
                peer_challenge: peer,
                nt_response: generate_nt_response(
                    &auth,
                    &peer,
                    mschap_user_name(name.as_bytes()),
                    password,
                ),
                flags: 0,
            },
        )
    };
    // With a Windows domain too; the answer carries MS-CHAP2-Success.
    let Decision::Accept(attributes) = radius.decide(&mschap("DOMAIN\\alice", b"alice-pw")) else {
        panic!("MS-CHAPv2 with a domain accepted");
    };
    let success = attributes.ms_chap2_success.expect("MS-CHAP2-Success");
    assert_eq!((success[0], &success[1..3]), (1, &b"S="[..]));
    assert!(!accepted(&radius.decide(&mschap("alice", b"bad"))));
    assert!(!accepted(&radius.decide(&mschap("bob", b"alice-pw"))));
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(
        datagram in proptest::collection::vec(any::<u8>(), 0..128),
        control in any::<bool>(),
    ) {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        for _ in 0..400 {
            world.step();
        }
        let mut datagram = datagram;
        if control && datagram.len() >= 2 {
            datagram[0] = 0xc8;
            datagram[1] = 0x02;
        }
        world.lns.handle_datagram(world.now, LAC_ADDR, &datagram);
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        while world.lns.poll_transmit(world.now, &mut buf).is_some() {}
        prop_assert!(world.lns.stats().sessions <= 1);
    }
}

/// The blocking driver on a real loopback socket, against our L2TP LAC
/// endpoint over UDP.
mod driver_tests {
    use std::sync::Arc;

    use super::*;
    use crate::l2tp::{CallInfo, Endpoint, OpenSession};

    #[test]
    fn run_lns_answers_a_lac_over_udp_and_reports() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let lns_addr = socket.local_addr().unwrap();
        let lns = LnsHarness::new(
            LnsConfig::new(
                "127.0.0.0/8".parse().unwrap(),
                b"secret",
                Vec::new(),
                Ipv4Addr::new(10, 9, 0, 1),
                "10.9.0.0/24".parse().unwrap(),
            ),
            [1; 32],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(LnsStats::default()));
        let thread = {
            let (stop, report) = (Arc::clone(&stop), Arc::clone(&report));
            std::thread::spawn(move || run_lns(socket, lns, &stop, &report))
        };
        let lac_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        lac_socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut lac = Endpoint::new(
            EndpointConfig {
                accept_calls: false,
                ..EndpointConfig::default()
            },
            [2; 32],
        );
        lac.open_session(
            Instant::now(),
            OpenSession {
                peer: lns_addr,
                secret: b"secret".to_vec(),
                assignment_id: None,
                client_auth_id: None,
                call: CallInfo::default(),
                request_id: 7,
            },
        )
        .unwrap();
        // Drive the LAC until the LNS's report shows the call (the ICCN
        // goes out after the LAC's SessionUp; the report follows within
        // ~100 ms).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut up = false;
        let (mut buf, mut recv) = (vec![0u8; MAX_CONTROL_LEN], vec![0u8; 4096]);
        while Instant::now() < deadline {
            let now = Instant::now();
            while let Some((to, len)) = lac.poll_transmit(now, &mut buf) {
                lac_socket.send_to(&buf[..len], to).unwrap();
            }
            if let Ok((len, from)) = lac_socket.recv_from(&mut recv) {
                lac.handle_datagram(Instant::now(), from, &recv[..len]);
            }
            if lac.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                lac.handle_timeout(Instant::now());
            }
            while let Some(event) = lac.poll_event() {
                up |= matches!(event, L2tpEvent::SessionUp { request_id: 7, .. });
            }
            if up && report.lock().unwrap().sessions == 1 {
                break;
            }
        }
        assert!(up, "the call came up through run_lns");
        let stats = report.lock().unwrap().clone();
        assert_eq!(
            (stats.tunnels, stats.sessions, stats.sessions_total),
            (1, 1, 1)
        );
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        // Its last word: StopCCN "being shut down".
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut stopped = false;
        while !stopped && Instant::now() < deadline {
            if let Ok((len, from)) = lac_socket.recv_from(&mut recv) {
                lac.handle_datagram(Instant::now(), from, &recv[..len]);
            }
            while let Some(event) = lac.poll_event() {
                stopped |= matches!(
                    event,
                    L2tpEvent::TunnelDown {
                        cause: crate::l2tp::TunnelDownCause::PeerStopCcn,
                        ..
                    }
                );
            }
        }
        assert!(stopped, "StopCCN received");
    }
}
