//! [`DialCore`] against our own LNS — the node core in the LNS role behind
//! the load generator's harness ([`LnsHarness`]) — in memory and virtual
//! time: tunnel, call, PPP and IP both ways, teardown; a wrong
//! password; a lost SCCRP; a refused tunnel; several calls on one tunnel;
//! garbage input.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::core::{DialConfig, DialCore, DialEvent, DownCause};
use crate::l2tp::{MAX_CONTROL_LEN, SessionHandle, TunnelDownCause};
use crate::loadgen::icmp;
use crate::loadgen::lns::{LnsConfig, LnsHarness};
use crate::ppp::auth::AuthMethod;
use crate::ppp::link::Credentials;
use crate::wire::l2tp::{ControlMessage, MessageType, StopCcnResult};

const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40_000);
const LNS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1701);
const LNS_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SECRET: &[u8] = b"tunnel-secret";
const STEP: Duration = Duration::from_millis(5);

fn alice(password: &str) -> Credentials {
    Credentials {
        user: b"alice".to_vec(),
        password: password.as_bytes().to_vec(),
    }
}

fn lns(network: &str) -> LnsHarness {
    let mut config = LnsConfig::new(
        network.parse().unwrap(),
        SECRET,
        vec![alice("alice-pw")],
        LNS_IP,
        "10.0.0.0/24".parse().unwrap(),
    );
    config.dns = vec![Ipv4Addr::new(10, 0, 0, 53)];
    LnsHarness::new(config, [7; 32])
}

fn client(password: &str) -> DialCore {
    let mut config = DialConfig::new(LNS, alice(password));
    config.secret = SECRET.to_vec();
    config.echo_interval = None;
    DialCore::new(config, [8; 32])
}

/// Whether the path loses a datagram the LNS sent.
type Loss = Box<dyn FnMut(&[u8]) -> bool>;

/// The client and the LNS wired back to back; `drop` decides, for each
/// datagram the LNS sends, whether the path loses it.
struct World {
    now: Instant,
    dial: DialCore,
    lns: LnsHarness,
    events: Vec<DialEvent>,
    to_tun: Vec<(SessionHandle, Vec<u8>)>,
    /// Control messages each side sent (message type), in order.
    client_sent: Vec<Option<MessageType>>,
    lns_sent: Vec<Option<MessageType>>,
    drop: Loss,
}

fn message_type(datagram: &[u8]) -> Option<MessageType> {
    ControlMessage::from_bytes(datagram, Some(SECRET))
        .ok()
        .and_then(|m| m.message_type)
}

impl World {
    fn new(dial: DialCore, lns: LnsHarness) -> Self {
        Self {
            now: Instant::now(),
            dial,
            lns,
            events: Vec::new(),
            to_tun: Vec::new(),
            client_sent: Vec::new(),
            lns_sent: Vec::new(),
            drop: Box::new(|_| false),
        }
    }

    fn step(&mut self) {
        let now = self.now;
        if self.dial.poll_timeout().is_some_and(|t| t <= now) {
            self.dial.handle_timeout(now);
        }
        if self.lns.poll_timeout().is_some_and(|t| t <= now) {
            self.lns.handle_timeout(now);
        }
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        while let Some((to, len)) = self.dial.poll_datagram(now, &mut buf) {
            assert_eq!(to, LNS);
            if crate::l2tp::is_control(&buf[..len]) {
                self.client_sent.push(message_type(&buf[..len]));
            }
            self.lns.handle_datagram(now, CLIENT, &buf[..len]);
        }
        let mut downstream = Vec::new();
        while let Some((to, len)) = self.lns.poll_transmit(now, &mut buf) {
            assert_eq!(to, CLIENT);
            downstream.push(buf[..len].to_vec());
        }
        for datagram in downstream {
            if crate::l2tp::is_control(&datagram) {
                self.lns_sent.push(message_type(&datagram));
            }
            if !(self.drop)(&datagram) {
                self.dial.handle_datagram(now, LNS, &datagram);
            }
        }
        while let Some((call, len)) = self.dial.poll_ip(&mut buf) {
            self.to_tun.push((call, buf[..len].to_vec()));
        }
        while let Some(event) = self.dial.poll_event() {
            self.events.push(event);
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

    fn ups(&self) -> Vec<(SessionHandle, Ipv4Addr, Ipv4Addr, u16)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DialEvent::Up {
                    call,
                    local,
                    peer,
                    mru,
                    ..
                } => Some((*call, *local, *peer, *mru)),
                _ => None,
            })
            .collect()
    }

    fn downs(&self) -> Vec<(bool, DownCause)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DialEvent::Down { was_up, reason, .. } => Some((*was_up, reason.clone())),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_call_comes_up_carries_ip_both_ways_and_hangs_up_cleanly() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    world.dial.dial(world.now).unwrap();
    let start = world.now;
    assert!(
        world.run_until(Duration::from_secs(10), |w| !w.ups().is_empty()),
        "{:?} {:?}",
        world.events,
        world.lns.stats()
    );
    let took = world.now - start;
    assert!(
        took < Duration::from_secs(1),
        "up in {took:?} of virtual time"
    );
    assert!(
        matches!(world.events[0], DialEvent::TunnelUp { .. }),
        "{:?}",
        world.events
    );
    let (call, local, peer, mru) = world.ups()[0];
    assert_eq!(
        local,
        Ipv4Addr::new(10, 0, 0, 2),
        "the pool's first address"
    );
    assert_eq!(peer, LNS_IP);
    assert_eq!(mru, 1460);
    // The tunnel authenticated and the call carried no proxy AVPs.
    assert_eq!(
        world.client_sent[..3],
        [
            Some(MessageType::Sccrq),
            Some(MessageType::Scccn),
            Some(MessageType::Icrq)
        ]
    );
    assert!(world.client_sent.contains(&Some(MessageType::Iccn)));
    assert_eq!(world.lns.stats().auth_accepted, 1);

    // TUN → PPP → L2TP: a ping to the LNS; and the reply back to TUN.
    let mut ping = [0u8; 128];
    let len = icmp::write_echo_request(&mut ping, (local, LNS_IP), 77, 1, 56).unwrap();
    world.dial.handle_ip(world.now, &ping[..len]);
    world.step();
    world.step();
    assert_eq!(world.lns.stats().pings_answered, 1);
    assert_eq!(world.to_tun.len(), 1, "{:?}", world.dial.stats());
    let (on, reply) = &world.to_tun[0];
    assert_eq!(*on, call);
    let echo = icmp::parse_echo(reply).expect("a whole IPv4 packet");
    assert!(echo.is_reply);
    assert_eq!(
        (echo.src, echo.dst, echo.ident, echo.seq),
        (LNS_IP, local, 77, 1)
    );
    let stats = world.dial.stats();
    assert_eq!((stats.ip_from_tun, stats.ip_to_tun), (1, 1));

    // Hang up: LCP Terminate, CDN, StopCCN; everything acknowledged.
    world.dial.close(world.now);
    assert!(
        world.run_until(Duration::from_secs(10), |w| w.dial.is_closed()),
        "{:?}",
        world.events
    );
    assert_eq!(world.downs(), vec![(true, DownCause::HungUp)]);
    let cdn = world
        .client_sent
        .iter()
        .position(|m| *m == Some(MessageType::Cdn));
    let stop = world
        .client_sent
        .iter()
        .position(|m| *m == Some(MessageType::StopCcn));
    assert!(cdn.is_some() && stop > cdn, "{:?}", world.client_sent);
    assert!(world.events.iter().any(|e| matches!(
        e,
        DialEvent::TunnelDown { cause: TunnelDownCause::LocalStopCcn, result: Some(r), .. }
            if r.result == u16::from(StopCcnResult::GeneralRequestToClear)
    )));
    // The LNS saw the link terminated (no CDN of its own) and both ends.
    let lns = world.lns.stats();
    assert_eq!((lns.sessions, lns.sessions_down), (0, 1), "{lns:?}");
    assert_eq!((lns.tunnels, lns.tunnels_down), (0, 1), "{lns:?}");
    assert!(!world.lns_sent.contains(&Some(MessageType::Cdn)));
    let stats = world.dial.stats();
    assert_eq!(
        stats.dropped_malformed + stats.dropped_unknown_session + stats.dropped_wrong_source,
        0,
        "{stats:?}"
    );
}

#[test]
fn a_wrong_password_is_a_clear_authentication_failure() {
    let mut world = World::new(client("wrong"), lns("192.0.2.0/24"));
    world.dial.dial(world.now).unwrap();
    assert!(
        world.run_until(Duration::from_secs(20), |w| !w.downs().is_empty()),
        "{:?}",
        world.events
    );
    let (was_up, reason) = world.downs()[0].clone();
    assert!(!was_up);
    assert_eq!(
        reason,
        DownCause::AuthFailed {
            method: Some(AuthMethod::MsChapV2)
        }
    );
    assert!(
        reason.to_string().contains("authentication failed"),
        "{reason}"
    );
    assert!(world.lns.stats().auth_rejected >= 1);
    assert!(world.ups().is_empty());
    world.dial.close(world.now);
    assert!(world.run_until(Duration::from_secs(10), |w| w.dial.is_closed()));
    assert_eq!(world.downs().len(), 1, "one Down per call");
}

#[test]
fn a_lost_sccrp_is_recovered_by_retransmission() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    let mut dropped = false;
    world.drop = Box::new(move |datagram| {
        if !dropped && message_type(datagram) == Some(MessageType::Sccrp) {
            dropped = true;
            return true;
        }
        false
    });
    world.dial.dial(world.now).unwrap();
    let start = world.now;
    assert!(
        world.run_until(Duration::from_secs(20), |w| !w.ups().is_empty()),
        "{:?}",
        world.events
    );
    let sccrqs = world
        .client_sent
        .iter()
        .filter(|m| **m == Some(MessageType::Sccrq))
        .count();
    assert_eq!(sccrqs, 2, "the SCCRQ went again: {:?}", world.client_sent);
    let took = world.now - start;
    // RFC 2661 §5.8: the first retransmission after about a second.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn a_refused_tunnel_reports_the_stopccn_result() {
    // The LNS admits another network only: StopCCN result 4.
    let mut world = World::new(client("alice-pw"), lns("198.51.100.0/24"));
    world.dial.dial(world.now).unwrap();
    assert!(world.run_until(Duration::from_secs(10), |w| !w.downs().is_empty()));
    let (_, reason) = world.downs()[0].clone();
    let DownCause::TunnelDown {
        cause: TunnelDownCause::PeerStopCcn,
        result: Some(result),
    } = &reason
    else {
        panic!("{reason:?}");
    };
    assert_eq!(result.result, u16::from(StopCcnResult::NotAuthorized));
    let text = reason.to_string();
    assert!(text.contains("StopCCN result 4"), "{text}");
    assert!(text.contains("not authorized"), "{text}");
    world.dial.close(world.now);
    assert!(world.run_until(Duration::from_secs(5), |w| w.dial.is_closed()));
}

#[test]
fn several_calls_share_one_tunnel() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    for _ in 0..5 {
        world.dial.dial(world.now).unwrap();
    }
    assert!(
        world.run_until(Duration::from_secs(20), |w| w.ups().len() == 5),
        "{:?}",
        world.events
    );
    assert_eq!(world.dial.endpoint().tunnel_count(), 1);
    assert_eq!(world.dial.calls_up(), 5);
    let mut addresses: Vec<Ipv4Addr> = world.ups().iter().map(|u| u.1).collect();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 5, "one address each");
    // IP from TUN goes on the call whose address is its source.
    let (call, local, ..) = world.ups()[3];
    let mut ping = [0u8; 64];
    let len = icmp::write_echo_request(&mut ping, (local, LNS_IP), 1, 9, 8).unwrap();
    world.dial.handle_ip(world.now, &ping[..len]);
    world.step();
    world.step();
    assert_eq!(world.to_tun.len(), 1);
    assert_eq!(world.to_tun[0].0, call);
    world.dial.close(world.now);
    assert!(world.run_until(Duration::from_secs(10), |w| w.dial.is_closed()));
    assert_eq!(world.downs().len(), 5);
    assert_eq!(world.lns.stats().sessions, 0);
}

#[test]
fn garbage_is_counted_never_fatal() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    world.dial.dial(world.now).unwrap();
    assert!(world.run_until(Duration::from_secs(10), |w| !w.ups().is_empty()));
    let (call, ..) = world.ups()[0];
    let now = world.now;
    // Data: too short, an unknown session, a wrong source, a bad PPP frame.
    world.dial.handle_datagram(now, LNS, &[0x00]);
    world
        .dial
        .handle_datagram(now, LNS, &[0x00, 0x02, 0x12, 0x34, 0x56, 0x78, 0xff, 0x03]);
    let mut ours = vec![0x00, 0x02];
    ours.extend(call.tunnel_id.to_be_bytes());
    ours.extend(call.session_id.to_be_bytes());
    let mut from_elsewhere = ours.clone();
    from_elsewhere.extend([0xff, 0x03, 0x00, 0x21, 0x45]);
    world
        .dial
        .handle_datagram(now, "203.0.113.9:1701".parse().unwrap(), &from_elsewhere);
    // No PPP frame at all.
    world.dial.handle_datagram(now, LNS, &ours);
    // IP: empty, IPv6, a source no call has and a single call takes.
    world.dial.handle_ip(now, &[]);
    world.dial.handle_ip(now, &[0x60; 40]);
    let stats = world.dial.stats();
    assert_eq!(stats.dropped_malformed, 2, "{stats:?}");
    assert_eq!(stats.dropped_unknown_session, 1, "{stats:?}");
    assert_eq!(stats.dropped_wrong_source, 1, "{stats:?}");
    assert_eq!(stats.dropped_unroutable, 2, "{stats:?}");
    // Still up.
    assert!(world.run_until(Duration::from_secs(1), |w| w.dial.calls_up() == 1));
}

/// A data message from the LNS on `call` carrying `ppp` as given (any
/// framing), with Ns when `ns` is set.
fn from_lns(world: &mut World, call: SessionHandle, ns: Option<u16>, ppp: &[u8]) {
    use crate::wire::l2tp::HeaderRepr;
    let mut header = HeaderRepr::data(call.tunnel_id, call.session_id);
    if let Some(ns) = ns {
        header = header.with_ns(ns);
    }
    let room = header.header_len();
    let mut datagram = vec![0u8; room + ppp.len()];
    datagram[room..].copy_from_slice(ppp);
    let start = header.emit_before(&mut datagram, room, ppp.len()).unwrap();
    assert_eq!(start, 0);
    world.dial.handle_datagram(world.now, LNS, &datagram);
}

#[test]
fn frames_without_address_control_or_with_a_compressed_protocol_are_read() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    world.dial.dial(world.now).unwrap();
    assert!(world.run_until(Duration::from_secs(10), |w| !w.ups().is_empty()));
    let (call, local, ..) = world.ups()[0];
    let mut packet = [0u8; 64];
    let len = icmp::write_echo_request(&mut packet, (LNS_IP, local), 3, 1, 8).unwrap();
    let packet = &packet[..len];
    // RFC 1661 §6.5–§6.6: FF 03 omitted, the Protocol field compressed,
    // or both, as well as the full form.
    for prefix in [
        &[0xff, 0x03, 0x00, 0x21][..],
        &[0x00, 0x21],
        &[0xff, 0x03, 0x21],
        &[0x21],
    ] {
        let mut ppp = prefix.to_vec();
        ppp.extend_from_slice(packet);
        from_lns(&mut world, call, None, &ppp);
    }
    let mut buf = [0u8; 256];
    let mut delivered = 0;
    while let Some((on, n)) = world.dial.poll_ip(&mut buf) {
        assert_eq!((on, &buf[..n]), (call, packet));
        delivered += 1;
    }
    assert_eq!(delivered, 4, "{:?}", world.dial.stats());
}

#[test]
fn sequenced_data_from_the_lns_turns_our_ns_on() {
    use crate::wire::l2tp::Packet;
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    world.dial.dial(world.now).unwrap();
    assert!(world.run_until(Duration::from_secs(10), |w| !w.ups().is_empty()));
    let (call, local, ..) = world.ups()[0];
    let mut ping = [0u8; 64];
    let len = icmp::write_echo_request(&mut ping, (local, LNS_IP), 4, 1, 8).unwrap();
    let sent = |world: &mut World| {
        world.dial.handle_ip(world.now, &ping[..len]);
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        let (_, n) = world.dial.poll_datagram(world.now, &mut buf).unwrap();
        let packet = Packet::new_checked(&buf[..n]).unwrap();
        packet.ns()
    };
    assert_eq!(sent(&mut world), None, "no sequencing asked for");
    // RFC 2661 §5.4: the LNS sends Ns; from then on so do we.
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&ping[..len]);
    from_lns(&mut world, call, Some(0), &ppp);
    assert_eq!(sent(&mut world), Some(0));
    assert_eq!(sent(&mut world), Some(1));
}

proptest::proptest! {
    #[test]
    fn arbitrary_datagrams_and_packets_never_panic(
        datagrams in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..40),
        packets in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..10),
    ) {
        let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
        world.dial.dial(world.now).unwrap();
        proptest::prop_assert!(world.run_until(Duration::from_secs(10), |w| !w.ups().is_empty()));
        let (call, ..) = world.ups()[0];
        for mut datagram in datagrams {
            // Half of them aimed at our call, to reach the PPP parser.
            if datagram.len() >= 6 && datagram[0] & 1 == 1 {
                datagram[0] &= 0x3c;
                datagram[1] = 0x02;
                datagram[2..4].copy_from_slice(&call.tunnel_id.to_be_bytes());
                datagram[4..6].copy_from_slice(&call.session_id.to_be_bytes());
            }
            world.dial.handle_datagram(world.now, LNS, &datagram);
        }
        for packet in packets {
            world.dial.handle_ip(world.now, &packet);
        }
        world.step();
        world.dial.close(world.now);
        proptest::prop_assert!(world.run_until(Duration::from_secs(10), |w| w.dial.is_closed()));
    }
}

#[test]
fn a_silent_lns_is_a_set_up_timeout_naming_the_step() {
    let mut world = World::new(client("alice-pw"), lns("192.0.2.0/24"));
    world.drop = Box::new(|_| true);
    world.dial.dial(world.now).unwrap();
    let start = world.now;
    assert!(world.run_until(Duration::from_secs(40), |w| !w.downs().is_empty()));
    let took = world.now - start;
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(31),
        "{took:?}"
    );
    let (_, reason) = world.downs()[0].clone();
    assert_eq!(
        reason,
        DownCause::Timeout {
            stage: super::SetupStage::Tunnel
        }
    );
    assert!(reason.to_string().contains("no SCCRP"), "{reason}");
    world.dial.close(world.now);
    assert!(world.run_until(Duration::from_secs(1), |w| w.dial.is_closed()));
}
