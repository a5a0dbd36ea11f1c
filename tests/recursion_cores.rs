//! Issue 11, item 1: no recursion on any event path. Each test drives a
//! sans-IO core with input that, handled by nested calls, would recurse as
//! deep as the input is long (requests failing over, queued requests
//! failing, frames that each change state), on a thread with an explicit
//! 2 MiB stack in the debug build: a core that recursed per request or per
//! frame overflows the stack and aborts the test binary.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tunnelnas::aaa::client::{
    Client, ClientConfig, ClientEvent, FailCause, GroupConfig, Job, Outcome, ServerConfig, Transmit,
};
use tunnelnas::aaa::request::NasIdentity;
use tunnelnas::aaa::{AuthRequest, Credentials, Decision, SessionInfo};
use tunnelnas::config::ServerStrategy;
use tunnelnas::ppp::fsm::State;
use tunnelnas::ppp::{Link, LinkConfig, LinkEvent, Phase, Role};
use tunnelnas::pppoe::{
    Client as PppoeClient, ClientConfig as PppoeClientConfig, ClientState, Discovery,
    DiscoveryConfig, Event, MAX_FRAME_LEN,
};
use tunnelnas::wire::ethernet::{MacAddress, VlanStack};
use tunnelnas::wire::ppp::Protocol;
use tunnelnas::wire::radius::{Code, Packet, PacketBuilder};

/// The stack every test runs on.
const STACK: usize = 2 << 20;

/// Runs `f` on a thread with a 2 MiB stack and propagates its panic.
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    let handle = std::thread::Builder::new()
        .name("recursion-2MiB".into())
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

// ---------------------------------------------------------------------------
// RADIUS client core
// ---------------------------------------------------------------------------

const SECRET: &[u8] = b"testing123";
const REQUESTS: usize = 10_000;

fn radius_server(port: u16) -> ServerConfig {
    ServerConfig {
        address: "127.0.0.1".parse().unwrap(),
        auth_port: port,
        acct_port: port + 1,
        secret: SECRET.to_vec(),
        weight: 1,
    }
}

/// Two servers, failover; one timeout marks a server dead, no retry.
fn radius_group() -> GroupConfig {
    GroupConfig {
        name: "g".into(),
        servers: vec![radius_server(1812), radius_server(2812)],
        strategy: ServerStrategy::Failover,
        timeout: Duration::from_secs(1),
        retries: 0,
        dead_after: 1,
        dead_time: Duration::from_secs(30),
    }
}

fn radius_client(config: ClientConfig) -> Client {
    Client::new(
        config,
        NasIdentity::default(),
        vec![radius_group()],
        [7; 32],
    )
}

fn pap(n: usize) -> Job {
    Job::Access(Box::new(AuthRequest {
        user_name: format!("user{n}"),
        credentials: Credentials::Pap {
            password: b"secret".to_vec(),
        },
        session: SessionInfo::default(),
        tunnel: None,
    }))
}

fn radius_transmits(c: &mut Client) -> Vec<(Transmit, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(t) = c.poll_transmit(&mut buf) {
        out.push((t, buf[..t.len].to_vec()));
    }
    out
}

fn radius_events(c: &mut Client) -> Vec<ClientEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn completed(events: &[ClientEvent]) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Completed { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

/// An Access-Accept to `request`, signed with the shared secret.
fn accept(request: &[u8]) -> Vec<u8> {
    let req = Packet::new_checked(request).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut b =
        PacketBuilder::new(&mut buf, Code::AccessAccept, req.identifier(), &[0; 16]).unwrap();
    b.push_message_authenticator().unwrap();
    let len = b.finish_signed(SECRET, Some(&req.authenticator())).unwrap();
    buf.truncate(len);
    buf
}

fn port(address: SocketAddr) -> u16 {
    address.port()
}

/// 10,000 Access-Requests in flight on the first server; it stops
/// answering, is declared dead at the first timeout, and every request
/// moves to the second server, which answers them all.
#[test]
fn radius_10000_requests_fail_over_from_a_dead_server_to_the_second() {
    on_small_stack(|| {
        let t0 = Instant::now();
        let mut c = radius_client(ClientConfig {
            sockets: REQUESTS.div_ceil(256) + 1,
            max_outstanding_per_server: REQUESTS,
            queue_limit: REQUESTS,
            ..ClientConfig::default()
        });
        for n in 0..REQUESTS {
            c.submit(t0, "g", pap(n)).unwrap();
        }
        let first = radius_transmits(&mut c);
        assert_eq!(first.len(), REQUESTS);
        assert!(first.iter().all(|(t, _)| port(t.destination) == 1812));
        radius_events(&mut c);

        // The first server never answers: one timeout kills it and every
        // request fails over, in one call.
        let deadline = c.poll_timeout().unwrap();
        c.handle_timeout(deadline);
        let events = radius_events(&mut c);
        let downs = events
            .iter()
            .filter(|e| matches!(e, ClientEvent::ServerDown { .. }))
            .count();
        assert_eq!(downs, 1, "the first server is declared dead once");
        assert!(completed(&events).is_empty(), "nothing fails: B is live");
        let moved = radius_transmits(&mut c);
        assert_eq!(moved.len(), REQUESTS);
        assert!(moved.iter().all(|(t, _)| port(t.destination) == 2812));

        // The second server answers every one.
        for (t, bytes) in &moved {
            c.handle_datagram(deadline, t.socket, t.destination, &accept(bytes));
        }
        let outcomes = completed(&radius_events(&mut c));
        assert_eq!(outcomes.len(), REQUESTS);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Access(Decision::Accept(_))))
        );
        assert_eq!(c.pending(), 0);
    });
}

/// One request in flight per server, 9,998 queued behind them. Both
/// servers die at the same timeout: the request of the first one to die
/// is queued again (the other is live but busy), the second death fails
/// its request, and the queue drain that follows fails every queued
/// request (no live server, dead servers not tried). The drain used to
/// nest `finish → drain_queue → dispatch → finish` once per queued
/// request.
#[test]
fn radius_10000_queued_requests_fail_when_every_server_dies() {
    on_small_stack(|| {
        let t0 = Instant::now();
        let mut c = radius_client(ClientConfig {
            max_outstanding_per_server: 1,
            queue_limit: REQUESTS,
            try_dead_servers: false,
            ..ClientConfig::default()
        });
        let ids: Vec<_> = (0..REQUESTS)
            .map(|n| c.submit(t0, "g", pap(n)).unwrap())
            .collect();
        let sent = radius_transmits(&mut c);
        assert_eq!(sent.len(), 2, "one per server, the rest queued");
        radius_events(&mut c);

        let deadline = c.poll_timeout().unwrap();
        c.handle_timeout(deadline);
        let events = radius_events(&mut c);
        let downs = events
            .iter()
            .filter(|e| matches!(e, ClientEvent::ServerDown { .. }))
            .count();
        assert_eq!(downs, 2);
        let done: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Completed { id, outcome } => Some((*id, outcome.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(done.len(), REQUESTS, "every request finished");
        let unique: HashSet<_> = done.iter().map(|(id, _)| *id).collect();
        assert_eq!(unique.len(), REQUESTS, "each exactly once");
        assert!(ids.iter().all(|id| unique.contains(id)));
        // The two that were sent timed out (the first one after going back
        // to the queue); the queued ones found no live server.
        let timeouts = done
            .iter()
            .filter(|(_, o)| *o == Outcome::Failed(FailCause::Timeout))
            .count();
        let no_live = done
            .iter()
            .filter(|(_, o)| *o == Outcome::Failed(FailCause::NoLiveServer))
            .count();
        assert_eq!((timeouts, no_live), (2, REQUESTS - 2));
        assert!(radius_transmits(&mut c).is_empty());
        assert_eq!(c.pending(), 0);
    });
}

// ---------------------------------------------------------------------------
// PPP link (LCP, IPv6CP and the RFC 1661 automaton)
// ---------------------------------------------------------------------------

const FRAMES: usize = 100_000;

/// A server link without authentication, IPv6CP only, no keepalive: every
/// frame below is answered by the automatons alone.
fn ppp_server() -> Link {
    Link::new(
        LinkConfig {
            role: Role::Server,
            ipv4: false,
            ipv6: true,
            echo_interval: None,
            ..LinkConfig::default()
        },
        [5; 32],
    )
}

/// A control packet: Code, Identifier, Length, data.
fn control(code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + data.len()).unwrap();
    let mut out = vec![code, id];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The peer's LCP Configure-Request: MRU 1492, Magic-Number.
fn lcp_request(id: u8) -> Vec<u8> {
    control(1, id, &[1, 4, 0x05, 0xd4, 5, 6, 0x12, 0x34, 0x56, 0x78])
}

/// The peer's IPv6CP Configure-Request: an Interface-Identifier.
fn ipv6cp_request(id: u8) -> Vec<u8> {
    control(1, id, &[1, 10, 0x02, 0, 0, 0xff, 0xfe, 0, 0, 0x01])
}

/// The Configure-Ack to a Configure-Request we sent.
fn ack_of(request: &[u8]) -> Vec<u8> {
    let mut ack = request.to_vec();
    ack[0] = 2;
    ack
}

/// Drains the link: the last Configure-Request it sent per protocol, and
/// its events.
fn ppp_drain(
    link: &mut Link,
    lcp: &mut Option<Vec<u8>>,
    ipv6cp: &mut Option<Vec<u8>>,
    events: &mut Vec<LinkEvent>,
) {
    let mut buf = [0u8; 2048];
    while let Some((protocol, len)) = link.poll_transmit(&mut buf) {
        let packet = buf[..len].to_vec();
        if packet[0] != 1 {
            continue;
        }
        match protocol {
            Protocol::Lcp => *lcp = Some(packet),
            Protocol::Ipv6cp => *ipv6cp = Some(packet),
            _ => {}
        }
    }
    events.extend(std::iter::from_fn(|| link.poll_event()));
}

/// How many of the frames fall on step `step` of a cycle of `cycle`.
fn on_step(step: usize, cycle: usize) -> usize {
    (0..FRAMES).filter(|i| i % cycle == step).count()
}

/// 100,000 frames in a cycle of eight that renegotiates the whole link:
/// peer Configure-Request (LCP Req-Sent → Ack-Sent), Configure-Ack of ours
/// (→ Opened: LCP up, Network phase, IPv6CP starts), IPv6CP
/// Configure-Request and Configure-Ack (→ Opened: network up), a
/// Protocol-Reject (of IPv4: RXJ+) and a Code-Reject (of Echo-Request:
/// RXJ+), a new LCP Configure-Request in Opened (This-Layer-Down:
/// renegotiation, IPv6CP taken down with LCP), a Terminate-Request in
/// Ack-Sent (→ Req-Sent). The driver polls after every frame, as the
/// PPPoE and L2TP drivers do.
#[test]
fn ppp_link_100000_frames_renegotiating_the_link_every_eight() {
    on_small_stack(|| {
        let now = Instant::now();
        let mut link = ppp_server();
        let (mut lcp, mut ipv6cp, mut events) = (None, None, Vec::new());
        link.open(now);
        ppp_drain(&mut link, &mut lcp, &mut ipv6cp, &mut events);
        let (mut lcp_ups, mut network_ups, mut network_downs) = (0, 0, 0);
        let (mut renegotiations, mut rejects) = (0, 0);
        for i in 0..FRAMES {
            let id = i as u8;
            let (protocol, frame, expect) = match i % 8 {
                0 => (Protocol::Lcp, lcp_request(id), State::AckSent),
                1 => (
                    Protocol::Lcp,
                    ack_of(lcp.as_deref().expect("our LCP request")),
                    State::Opened,
                ),
                2 => (Protocol::Ipv6cp, ipv6cp_request(id), State::Opened),
                3 => (
                    Protocol::Ipv6cp,
                    ack_of(ipv6cp.as_deref().expect("our IPv6CP request")),
                    State::Opened,
                ),
                4 => (
                    Protocol::Lcp,
                    control(8, id, &[0x00, 0x21, 0x45, 0, 0, 20]),
                    State::Opened,
                ),
                5 => (
                    Protocol::Lcp,
                    control(7, id, &control(9, id, &[0, 0, 0, 0])),
                    State::Opened,
                ),
                6 => (Protocol::Lcp, lcp_request(id), State::AckSent),
                _ => (Protocol::Lcp, control(5, id, &[]), State::ReqSent),
            };
            link.handle_frame(now, protocol, &frame);
            ppp_drain(&mut link, &mut lcp, &mut ipv6cp, &mut events);
            assert_eq!(link.lcp_state(), expect, "frame {i}");
            if (3..=5).contains(&(i % 8)) {
                assert_eq!(link.ipv6cp_state(), State::Opened, "frame {i}");
            }
            for event in events.drain(..) {
                match event {
                    LinkEvent::LcpUp(_) => lcp_ups += 1,
                    LinkEvent::NetworkUp { .. } => network_ups += 1,
                    LinkEvent::NetworkDown { .. } => network_downs += 1,
                    LinkEvent::Renegotiating => renegotiations += 1,
                    LinkEvent::ProtocolRejectReceived { .. } => rejects += 1,
                    LinkEvent::Down { reason } => panic!("frame {i}: down ({reason:?})"),
                    _ => {}
                }
            }
        }
        assert_eq!(lcp_ups, on_step(1, 8));
        assert_eq!(network_ups, on_step(3, 8));
        assert_eq!(rejects, on_step(4, 8));
        assert_eq!(renegotiations, on_step(6, 8));
        assert_eq!(network_downs, on_step(6, 8));
        // The last frame's place in the cycle: LCP Opened after 1 to 5.
        let phase = if (1..=5).contains(&((FRAMES - 1) % 8)) {
            Phase::Network
        } else {
            Phase::Establish
        };
        assert_eq!(link.phase(), phase);
    });
}

/// 100,000 Configure-Requests and Terminate-Requests alternating, fed
/// without polling in between (a burst the driver reads in one go): LCP
/// goes Req-Sent → Ack-Sent → Req-Sent … on every frame; the queues are
/// bounded and the link stays alive.
#[test]
fn ppp_link_100000_alternating_configure_and_terminate_requests_unpolled() {
    on_small_stack(|| {
        let now = Instant::now();
        let mut link = ppp_server();
        link.open(now);
        for i in 0..FRAMES {
            let id = i as u8;
            let frame = if i % 2 == 0 {
                lcp_request(id)
            } else {
                control(5, id, &[])
            };
            link.handle_frame(now, Protocol::Lcp, &frame);
            let expect = if i % 2 == 0 {
                State::AckSent
            } else {
                State::ReqSent
            };
            assert_eq!(link.lcp_state(), expect, "frame {i}");
        }
        assert_eq!(link.phase(), Phase::Establish);
        let events: Vec<_> = std::iter::from_fn(|| link.poll_event()).collect();
        assert!(!events.iter().any(|e| matches!(e, LinkEvent::Down { .. })));
        assert!(
            link.stats().queue_overflows > 0,
            "the burst overflowed the bounded queues"
        );
    });
}

// ---------------------------------------------------------------------------
// PPPoE discovery (server and client)
// ---------------------------------------------------------------------------

const AC_MAC: MacAddress = MacAddress::new([0x02, 0xac, 0, 0, 0, 1]);
const SUBSCRIBERS: u32 = 10_000;

fn pppoe_frames<F: FnMut(&mut [u8]) -> Option<usize>>(mut poll: F) -> Vec<Vec<u8>> {
    let mut buf = vec![0; MAX_FRAME_LEN];
    let mut out = Vec::new();
    while let Some(len) = poll(&mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

/// 10,000 subscribers, one after the other, each through PADI, PADO,
/// PADR, PADS and a PADT (every other one from the access concentrator),
/// then a burst of 100,000 PADIs read without polling.
#[test]
fn pppoe_10000_sessions_up_and_down_then_a_padi_burst() {
    on_small_stack(|| {
        let t0 = Instant::now();
        let mut server = Discovery::new(
            DiscoveryConfig {
                ac_name: b"tn-recursion".to_vec(),
                max_sessions: 100,
                padi_rate: 0,
                padi_burst: 0,
                padi_rate_per_mac: 0,
                padi_burst_per_mac: 0,
                pado_delay: Duration::ZERO,
                pado_delay_max: Duration::ZERO,
                ..DiscoveryConfig::default()
            },
            AC_MAC,
            [9; 32],
            t0,
        );
        let mut established = 0u32;
        let mut terminated = 0u32;
        for n in 0..SUBSCRIBERS {
            let b = n.to_be_bytes();
            let mac = MacAddress::new([0x02, 0x11, b[0], b[1], b[2], b[3]]);
            let mut seed = [0; 32];
            seed[..4].copy_from_slice(&b);
            let mut client =
                PppoeClient::new(PppoeClientConfig::default(), mac, VlanStack::new(), seed);
            client.start(t0);
            // PADI → PADO → PADR → PADS.
            for _ in 0..2 {
                for frame in pppoe_frames(|buf| client.poll_transmit(buf).map(|t| t.len)) {
                    server.handle_frame(t0, &frame);
                }
                for frame in pppoe_frames(|buf| server.poll_transmit(buf).map(|t| t.len)) {
                    client.handle_frame(t0, &frame);
                }
            }
            let ClientState::Established { session_id, .. } = *client.state() else {
                panic!("subscriber {n}: {:?}", client.state());
            };
            if n % 2 == 0 {
                assert!(client.terminate(Some("bye")));
                for frame in pppoe_frames(|buf| client.poll_transmit(buf).map(|t| t.len)) {
                    server.handle_frame(t0, &frame);
                }
            } else {
                server.terminate(session_id, Some("admin")).unwrap();
                for frame in pppoe_frames(|buf| server.poll_transmit(buf).map(|t| t.len)) {
                    client.handle_frame(t0, &frame);
                }
                assert_eq!(*client.state(), ClientState::Terminated);
            }
            for event in std::iter::from_fn(|| server.poll_event()) {
                match event {
                    Event::SessionEstablished { .. } => established += 1,
                    Event::SessionTerminated { .. } => terminated += 1,
                    _ => {}
                }
            }
        }
        assert_eq!((established, terminated), (SUBSCRIBERS, SUBSCRIBERS));
        assert_eq!(server.session_count(), 0);

        // A PADI burst, not polled: the queues are bounded.
        let mut client = PppoeClient::new(
            PppoeClientConfig::default(),
            AC_MAC,
            VlanStack::new(),
            [1; 32],
        );
        client.start(t0);
        let padi = pppoe_frames(|buf| client.poll_transmit(buf).map(|t| t.len));
        for n in 0..FRAMES as u32 {
            let mut frame = padi[0].clone();
            // A distinct source MAC per PADI (bytes 6..12).
            frame[8..12].copy_from_slice(&n.to_be_bytes());
            frame[6] = 0x02;
            server.handle_frame(t0, &frame);
        }
        assert!(pppoe_frames(|buf| server.poll_transmit(buf).map(|t| t.len)).len() <= FRAMES);
        assert_eq!(server.session_count(), 0);
    });
}
