//! Interop with the real Linux PPP stack (issue 3, item 5): Debian's pppd
//! 2.4.9 with the kernel PPPoE driver, in a qemu guest on a tap, dials our
//! PPPoE discovery server and PPP server cores, driven here by a minimal
//! AF_PACKET loop. pppd must reach `TN-UP` with the address our IPCP
//! assigned and ping our end (`TN-PING ok`) — once each for PAP, CHAP-MD5
//! and MS-CHAPv2. The authentication decision comes from a small in-test
//! check of the credentials (RADIUS is exercised by the AAA suites).
//!
//! And the other way round: our PPPoE client and PPP client cores dial
//! rp-pppoe's `pppoe-server` with pppd as the BRAS, authenticate with
//! MS-CHAPv2 (verifying the server's authenticator response), get an
//! address by IPCP and exchange pings with the BRAS.

mod common;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::icmp;
use common::linux_peer::{LinuxPeer, TnLine};
use common::netns::Netns;
use common::tshark::{LiveCapture, Tshark};
use tunnelnas::dataplane::packet::{PacketSocket, RecvBatch};
use tunnelnas::ppp::auth::crypto::{verify_chap_md5, verify_mschapv2};
use tunnelnas::ppp::auth::{AuthDecision, AuthMethod, AuthRequest};
use tunnelnas::ppp::link::{Credentials, DownReason, Link, LinkConfig, LinkEvent, Role};
use tunnelnas::ppp::ncp::{IpcpConfig, Ipv4Negotiated};
use tunnelnas::pppoe::{
    Client, ClientConfig, ClientEvent, Discovery, DiscoveryConfig, Event as DiscoveryEvent,
};
use tunnelnas::wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddress, VlanStack};
use tunnelnas::wire::ppp::{FrameHeader, Protocol};
use tunnelnas::wire::pppoe::{SessionHeader, SessionPacket};

const USER: &str = "alice@isp.example";
const PASSWORD: &str = "s3cret-Pass";
const OUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const PEER_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 53);

/// What the server loop saw, for the assertions.
#[derive(Debug, Default)]
struct Seen {
    sessions: u32,
    authenticated: u32,
    network_up: Vec<Option<Ipv4Addr>>,
    pings_answered: u32,
    auth_methods: Vec<&'static str>,
}

/// The in-test AAA decision: the one user, checked per method with the
/// crate's RFC 1994 / RFC 2759 verifiers.
fn decide(request: &AuthRequest) -> (AuthDecision, &'static str) {
    let reject = AuthDecision::Reject {
        message: Some("bad credentials".into()),
    };
    match request {
        AuthRequest::Pap { user, password } => {
            let ok = user.as_slice() == USER.as_bytes() && password.expose() == PASSWORD.as_bytes();
            let d = if ok {
                AuthDecision::Accept {
                    message: Some("welcome".into()),
                    mschapv2_authenticator_response: None,
                }
            } else {
                reject
            };
            (d, "pap")
        }
        AuthRequest::Chap {
            user,
            id,
            challenge,
            response,
        } => {
            let ok = user.as_slice() == USER.as_bytes()
                && verify_chap_md5(*id, PASSWORD.as_bytes(), challenge, response);
            let d = if ok {
                AuthDecision::Accept {
                    message: Some("welcome".into()),
                    mschapv2_authenticator_response: None,
                }
            } else {
                reject
            };
            (d, "chap")
        }
        AuthRequest::MsChapV2 {
            user,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            ..
        } => {
            let d = match verify_mschapv2(
                user,
                PASSWORD.as_bytes(),
                authenticator_challenge,
                peer_challenge,
                nt_response,
            ) {
                Some(auth_response) if user.as_slice() == USER.as_bytes() => AuthDecision::Accept {
                    message: Some("welcome".into()),
                    mschapv2_authenticator_response: Some(auth_response),
                },
                _ => reject,
            };
            (d, "mschapv2")
        }
    }
}

/// Writes Ethernet + PPPoE session + PPP protocol in front of the PPP
/// information field at `buf[HEADROOM..HEADROOM + len]` and sends it.
const HEADROOM: usize = 64;

fn send_ppp(
    socket: &PacketSocket,
    buf: &mut [u8],
    dst: MacAddress,
    session_id: u16,
    protocol: Protocol,
    len: usize,
) {
    let ppp_start = FrameHeader::new(protocol)
        .emit_in_headroom(buf, HEADROOM)
        .expect("room for the protocol field");
    let ppp_len = HEADROOM + len - ppp_start;
    let eth = EthernetRepr::new(dst, socket.mac(), EtherType::PppoeSession);
    let pppoe_start = SessionHeader::new(session_id, ppp_len)
        .unwrap()
        .emit_in_headroom(buf, ppp_start)
        .unwrap();
    let start = eth.emit_in_headroom(buf, pppoe_start).unwrap();
    socket
        .send(&buf[start..HEADROOM + len])
        .expect("send PPPoE session frame");
}

/// The minimal server loop: discovery core + one PPP server link per
/// session, until `stop` is set.
fn serve(socket: &PacketSocket, method: AuthMethod, stop: &AtomicBool) -> Seen {
    let start = Instant::now();
    let mut discovery = Discovery::new(
        DiscoveryConfig {
            ac_name: b"tunnelnas-interop".to_vec(),
            ..DiscoveryConfig::default()
        },
        socket.mac(),
        [7; 32],
        start,
    );
    let mut links: HashMap<u16, (MacAddress, Link)> = HashMap::new();
    let mut seen = Seen::default();
    let mut batch = RecvBatch::new(16);
    let mut buf = vec![0u8; 4096];
    let mut frame_buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        match socket.recv_batch(&mut batch) {
            Ok(_) => {
                for received in batch.iter() {
                    let Ok(frame) = Frame::new_checked(received.data) else {
                        continue;
                    };
                    match frame.ethertype() {
                        EtherType::PppoeDiscovery => discovery.handle_frame(now, received.data),
                        EtherType::PppoeSession => {
                            let Ok(session) = SessionPacket::new_checked(frame.payload()) else {
                                continue;
                            };
                            let Some((mac, link)) = links.get_mut(&session.session_id()) else {
                                continue;
                            };
                            if *mac != frame.src() {
                                continue;
                            }
                            let Ok(ppp) =
                                tunnelnas::wire::ppp::Frame::new_checked(session.payload())
                            else {
                                continue;
                            };
                            if ppp.protocol() == Protocol::Ipv4 {
                                let data = ppp.payload();
                                let copy = &mut buf[HEADROOM..HEADROOM + data.len()];
                                copy.copy_from_slice(data);
                                if icmp::answer_echo(copy, OUR_ADDRESS) {
                                    seen.pings_answered += 1;
                                    let dst = *mac;
                                    let len = data.len();
                                    send_ppp(
                                        socket,
                                        &mut buf,
                                        dst,
                                        session.session_id(),
                                        Protocol::Ipv4,
                                        len,
                                    );
                                }
                            } else {
                                link.handle_frame(now, ppp.protocol(), ppp.payload());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("recv: {e}"),
        }

        let now = Instant::now();
        if discovery.poll_timeout().is_some_and(|t| t <= now) {
            discovery.handle_timeout(now);
        }
        while let Some(event) = discovery.poll_event() {
            if let DiscoveryEvent::SessionEstablished {
                session_id,
                mac,
                max_payload,
                ..
            } = event
            {
                seen.sessions += 1;
                let config = LinkConfig {
                    role: Role::Server,
                    auth_methods: vec![method],
                    lower_max_payload: max_payload,
                    mru: max_payload,
                    ipcp: IpcpConfig {
                        local: Some(OUR_ADDRESS),
                        primary_dns: Some(DNS),
                        ..IpcpConfig::default()
                    },
                    ..LinkConfig::default()
                };
                let mut link = Link::new(config, [session_id as u8; 32]);
                link.open(now);
                links.insert(session_id, (mac, link));
            }
        }
        while let Some(tx) = discovery.poll_transmit(&mut frame_buf) {
            socket
                .send(&frame_buf[..tx.len])
                .expect("send discovery frame");
        }

        let mut ended = Vec::new();
        for (&session_id, (mac, link)) in &mut links {
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                match event {
                    LinkEvent::AuthRequested(request) => {
                        let (decision, method) = decide(&request);
                        seen.auth_methods.push(method);
                        link.auth_complete(now, decision);
                    }
                    LinkEvent::Authenticated => {
                        seen.authenticated += 1;
                        link.assign_ipv4(now, PEER_ADDRESS, Some((DNS, None)));
                    }
                    LinkEvent::NetworkUp { ipv4, .. } => {
                        seen.network_up.push(ipv4.map(|v| v.peer));
                    }
                    LinkEvent::Down { .. } => ended.push(session_id),
                    _ => {}
                }
            }
            let dst = *mac;
            while let Some((protocol, len)) = link.poll_transmit(&mut buf[HEADROOM..]) {
                send_ppp(socket, &mut buf, dst, session_id, protocol, len);
            }
        }
        for session_id in ended {
            links.remove(&session_id);
            let _ = discovery.terminate(session_id, None);
        }
    }
    seen
}

fn interop(auth: &str, method: AuthMethod) -> common::Result<()> {
    common::require_root()?;
    LinuxPeer::image()?;
    let ns = Netns::new(&format!("lp-{auth}"))?;
    let tap = common::unique_ifname("tnp")?;
    ns.add_tap(&tap)?;
    ns.ip(["link", "set", "dev", tap.as_str(), "up"])?;
    let tap_name = tap.clone();
    let socket = Arc::new(ns.run(move || PacketSocket::open(&tap_name))??);
    let dir = common::tempdir(&format!("lp-{auth}"))?;
    let capture = LiveCapture::start(&ns, &tap, &dir.path().join("pppoe.pcap"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (socket, stop) = (Arc::clone(&socket), stop.clone());
        std::thread::spawn(move || serve(&socket, method, &stop))
    };
    let guest = LinuxPeer::boot(
        &ns,
        &tap,
        150,
        &[
            ("tn.mode", "pppoe-client"),
            ("tn.user", USER),
            ("tn.pass", PASSWORD),
            ("tn.auth", auth),
            ("tn.runfor", "25"),
        ],
    )?;
    let report = guest.wait();
    stop.store(true, Ordering::Relaxed);
    let seen = server.join().expect("server loop");
    let report = report?;
    // Every frame both sides sent dissects cleanly.
    let pcap = capture.stop()?;
    let tshark = Tshark::new();
    tshark.assert_clean(&pcap)?;
    assert!(
        tshark.count(&pcap, Some("pppoes && lcp"))? > 0 && tshark.count(&pcap, Some("ipcp"))? > 0,
        "the capture holds the PPP negotiation"
    );
    let console = report.console_tail(60);
    let up: Vec<_> = report
        .lines
        .iter()
        .filter_map(|l| match l {
            TnLine::Up { local, peer, .. } => Some((*local, *peer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        up,
        vec![(PEER_ADDRESS, OUR_ADDRESS)],
        "pppd's ppp0 has the address our IPCP assigned; server saw {seen:?}\n{console}"
    );
    assert_eq!(
        report.ping_ok(),
        Some(true),
        "TN-PING ok; server saw {seen:?}\n{console}"
    );
    assert_eq!(seen.sessions, 1, "{seen:?}");
    assert_eq!(seen.authenticated, 1, "{seen:?}");
    assert_eq!(seen.auth_methods, vec![auth], "{seen:?}");
    // NetworkUp is reported per NCP (pppd also opens IPv6CP); the IPCP one
    // carries the address we assigned.
    assert!(seen.network_up.contains(&Some(PEER_ADDRESS)), "{seen:?}");
    assert!(seen.pings_answered >= 1, "{seen:?}");
    Ok(())
}

#[test]
fn linux_pppd_over_pppoe_with_pap() -> common::Result<()> {
    interop("pap", AuthMethod::Pap)
}

#[test]
fn linux_pppd_over_pppoe_with_chap() -> common::Result<()> {
    interop("chap", AuthMethod::ChapMd5)
}

#[test]
fn linux_pppd_over_pppoe_with_mschapv2() -> common::Result<()> {
    interop("mschapv2", AuthMethod::MsChapV2)
}

/// What our client cores achieved against the real BRAS.
#[derive(Debug, Default)]
struct ClientOutcome {
    session_id: Option<u16>,
    address: Option<Ipv4Negotiated>,
    echo_replies: u32,
    down: Option<String>,
}

/// Our PPPoE client and PPP client cores over AF_PACKET, pinging the
/// server's address once up, until `stop` is set (the test saw the guest
/// report the link), a failure, or `deadline`.
fn dial(socket: &PacketSocket, deadline: Instant, stop: &AtomicBool) -> ClientOutcome {
    let start = Instant::now();
    let mut discovery = Client::new(
        ClientConfig {
            initial_timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(4),
            max_padi_attempts: 60,
            ..ClientConfig::default()
        },
        socket.mac(),
        VlanStack::new(),
        [3; 32],
    );
    discovery.start(start);
    let mut link: Option<(u16, MacAddress, Link)> = None;
    let mut outcome = ClientOutcome::default();
    let mut batch = RecvBatch::new(16);
    let mut buf = vec![0u8; 4096];
    let mut frame_buf = vec![0u8; 2048];
    let mut next_ping = None;
    let mut seq = 0;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) && outcome.down.is_none() {
        let now = Instant::now();
        match socket.recv_batch(&mut batch) {
            Ok(_) => {
                for received in batch.iter() {
                    let Ok(frame) = Frame::new_checked(received.data) else {
                        continue;
                    };
                    match frame.ethertype() {
                        EtherType::PppoeDiscovery => discovery.handle_frame(now, received.data),
                        EtherType::PppoeSession => {
                            let Some((session_id, _, link)) = link.as_mut() else {
                                continue;
                            };
                            let Ok(session) = SessionPacket::new_checked(frame.payload()) else {
                                continue;
                            };
                            if session.session_id() != *session_id {
                                continue;
                            }
                            let Ok(ppp) =
                                tunnelnas::wire::ppp::Frame::new_checked(session.payload())
                            else {
                                continue;
                            };
                            if ppp.protocol() == Protocol::Ipv4 {
                                if outcome
                                    .address
                                    .is_some_and(|a| icmp::is_echo_reply_to(ppp.payload(), a.local))
                                {
                                    outcome.echo_replies += 1;
                                }
                            } else {
                                link.handle_frame(now, ppp.protocol(), ppp.payload());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("recv: {e}"),
        }
        let now = Instant::now();
        if discovery.poll_timeout().is_some_and(|t| t <= now) {
            discovery.handle_timeout(now);
        }
        while let Some(event) = discovery.poll_event() {
            match event {
                ClientEvent::Established {
                    session_id,
                    ac_mac,
                    max_payload,
                    ..
                } => {
                    outcome.session_id = Some(session_id);
                    let mut config = LinkConfig::client(Credentials {
                        user: USER.as_bytes().to_vec(),
                        password: PASSWORD.as_bytes().to_vec(),
                    });
                    config.lower_max_payload = max_payload;
                    config.mru = max_payload;
                    let mut ppp = Link::new(config, [4; 32]);
                    ppp.open(now);
                    link = Some((session_id, ac_mac, ppp));
                }
                ClientEvent::Failed(failure) => outcome.down = Some(format!("{failure:?}")),
                _ => {}
            }
        }
        while let Some(tx) = discovery.poll_transmit(&mut frame_buf) {
            socket
                .send(&frame_buf[..tx.len])
                .expect("send discovery frame");
        }
        if let Some((session_id, ac_mac, ppp)) = link.as_mut() {
            if ppp.poll_timeout().is_some_and(|t| t <= now) {
                ppp.handle_timeout(now);
            }
            while let Some(event) = ppp.poll_event() {
                match event {
                    LinkEvent::NetworkUp { ipv4: Some(v4), .. } => {
                        outcome.address = Some(v4);
                        next_ping.get_or_insert(now);
                    }
                    LinkEvent::Down { reason } => outcome.down = Some(format!("{reason:?}")),
                    _ => {}
                }
            }
            if let (Some(at), Some(v4)) = (next_ping, outcome.address) {
                if at <= now {
                    seq += 1;
                    let packet = icmp::echo_request(v4.local, v4.peer, seq);
                    buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                    send_ppp(
                        socket,
                        &mut buf,
                        *ac_mac,
                        *session_id,
                        Protocol::Ipv4,
                        packet.len(),
                    );
                    next_ping = Some(now + Duration::from_millis(500));
                }
            }
            while let Some((protocol, len)) = ppp.poll_transmit(&mut buf[HEADROOM..]) {
                send_ppp(socket, &mut buf, *ac_mac, *session_id, protocol, len);
            }
        }
    }
    // Leave cleanly: LCP Terminate, then PADT.
    if let Some((session_id, ac_mac, ppp)) = link.as_mut() {
        ppp.close(Instant::now(), DownReason::AdminClose);
        while let Some((protocol, len)) = ppp.poll_transmit(&mut buf[HEADROOM..]) {
            send_ppp(socket, &mut buf, *ac_mac, *session_id, protocol, len);
        }
        discovery.terminate(None);
        while let Some(tx) = discovery.poll_transmit(&mut frame_buf) {
            let _ = socket.send(&frame_buf[..tx.len]);
        }
    }
    outcome
}

#[test]
fn our_client_cores_against_rp_pppoe_server_with_mschapv2() -> common::Result<()> {
    common::require_root()?;
    LinuxPeer::image()?;
    let ns = Netns::new("lp-bras")?;
    let tap = common::unique_ifname("tnb")?;
    ns.add_tap(&tap)?;
    ns.ip(["link", "set", "dev", tap.as_str(), "up"])?;
    let tap_name = tap.clone();
    let socket = ns.run(move || PacketSocket::open(&tap_name))??;
    let mut guest = LinuxPeer::boot(
        &ns,
        &tap,
        150,
        &[
            ("tn.mode", "pppoe-server"),
            ("tn.user", USER),
            ("tn.pass", PASSWORD),
            ("tn.auth", "mschapv2"),
            ("tn.runfor", "40"),
        ],
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || dial(&socket, Instant::now() + Duration::from_secs(100), &stop))
    };
    // Stay up until the guest has reported its ppp link (it polls once a
    // second), then hang up.
    let seen_up = guest.wait_for_line(Duration::from_secs(100), |l| matches!(l, TnLine::Up { .. }));
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let outcome = client.join().expect("client loop");
    let report = guest.wait()?;
    let _ = seen_up;
    let console = report.console_tail(60);
    let address = outcome
        .address
        .unwrap_or_else(|| panic!("no IPCP address: {outcome:?}\n{console}"));
    // rp-pppoe's pppd serves 10.200.0.1 and hands out 10.200.0.2 upwards.
    assert_eq!(address.peer, Ipv4Addr::new(10, 200, 0, 1), "{outcome:?}");
    assert_eq!(address.local, Ipv4Addr::new(10, 200, 0, 2), "{outcome:?}");
    assert_eq!(
        address.primary_dns,
        Some(Ipv4Addr::new(10, 200, 0, 53)),
        "{outcome:?}"
    );
    assert!(
        outcome.echo_replies >= 2,
        "the BRAS answered our pings: {outcome:?}\n{console}"
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| matches!(l, TnLine::Up { peer, .. } if *peer == address.local)),
        "the guest's pppd saw the link up with our address\n{console}"
    );
    Ok(())
}
