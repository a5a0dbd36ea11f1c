//! Interop with the kernel L2TP LNS (issue 4, item 7, last bullet): xl2tpd
//! with the kernel's L2TP and PPP drivers and pppd, in the linux-peer
//! guest (mode `l2tp-lns`, tunnel secret set). Our LAC endpoint opens a
//! tunnel with the secret (tunnel authentication both ways) and places a
//! call; a small driver here relays PPP frames between that call and our
//! PPP client core, whose LCP, CHAP and IPCP the guest's pppd negotiates to
//! the end. Then we ping the LNS's PPP address through the tunnel.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::icmp;
use common::linux_peer::{LinuxPeer, TnLine};
use common::netns::Netns;
use common::tshark::{LiveCapture, Tshark};
use tunnelnas::l2tp::{CallInfo, Endpoint, EndpointConfig, Event, OpenSession};
use tunnelnas::ppp::link::{Credentials, DownReason, Link, LinkConfig, LinkEvent};
use tunnelnas::ppp::ncp::Ipv4Negotiated;
use tunnelnas::wire::l2tp::{Bearer, Framing, HeaderRepr, Packet};
use tunnelnas::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};

const USER: &str = "bob@enterprise.example";
const PASSWORD: &str = "Tunnel-Pass-1";
const SECRET: &str = "l2tp-s3cret";
const OUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const GUEST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const HEADROOM: usize = 64;

/// Sends the PPP information field at `buf[HEADROOM..HEADROOM + len]` as
/// an L2TP data message with FF 03 (RFC 2661 §5.4 carries HDLC-like
/// framing without flags or FCS).
fn send_ppp(
    socket: &UdpSocket,
    buf: &mut [u8],
    to: SocketAddr,
    ids: (u16, u16),
    protocol: Protocol,
    len: usize,
) {
    let header = FrameHeader {
        address_control: true,
        protocol,
    };
    let ppp_start = header.emit_in_headroom(buf, HEADROOM).unwrap();
    let ppp_len = HEADROOM + len - ppp_start;
    let start = HeaderRepr::data(ids.0, ids.1)
        .emit_before(buf, ppp_start, ppp_len)
        .unwrap();
    socket
        .send_to(&buf[start..ppp_start + ppp_len], to)
        .unwrap();
}

#[derive(Debug, Default)]
struct Outcome {
    tunnel_up: bool,
    session_up: bool,
    address: Option<Ipv4Negotiated>,
    echo_replies: u32,
    failure: Option<String>,
}

/// Runs until `stop` is set (the test saw the guest report the link), a
/// failure, or `deadline`; keeps pinging once the link is up.
fn run_lac(socket: &UdpSocket, deadline: Instant, stop: &AtomicBool) -> Outcome {
    socket.set_nonblocking(true).unwrap();
    let lns = SocketAddr::from((GUEST_ADDRESS, 1701));
    let start = Instant::now();
    let mut endpoint = Endpoint::new(
        EndpointConfig {
            accept_calls: false,
            ..EndpointConfig::default()
        },
        [9; 32],
    );
    let call = CallInfo {
        call_serial_number: 1,
        bearer_type: Some(Bearer::DIGITAL),
        calling_number: Some(b"02:00:00:00:00:01".to_vec()),
        tx_connect_speed: 100_000_000,
        rx_connect_speed: Some(100_000_000),
        framing_type: Framing::SYNC,
        ..CallInfo::default()
    };
    endpoint
        .open_session(
            start,
            OpenSession {
                peer: lns,
                secret: SECRET.as_bytes().to_vec(),
                assignment_id: None,
                client_auth_id: None,
                call,
                request_id: 1,
            },
        )
        .expect("open a session");
    let mut outcome = Outcome::default();
    let mut session: Option<(SocketAddr, (u16, u16), u16)> = None; // peer, peer ids, our session id
    let mut link: Option<Link> = None;
    let mut recv = vec![0u8; 4096];
    let mut buf = vec![0u8; 4096];
    let mut control = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    let mut next_ping = None;
    let mut seq = 0;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) && outcome.failure.is_none() {
        let now = Instant::now();
        match socket.recv_from(&mut recv) {
            Ok((len, from)) => {
                let datagram = &recv[..len];
                if tunnelnas::l2tp::is_control(datagram) {
                    endpoint.handle_datagram(now, from, datagram);
                } else if let (Ok(packet), Some(l)) = (Packet::new_checked(datagram), link.as_mut())
                {
                    if session.is_some_and(|(_, _, ours)| ours == packet.session_id()) {
                        if let Ok(ppp) = PppFrame::new_checked(packet.payload()) {
                            if ppp.protocol() == Protocol::Ipv4 {
                                if outcome
                                    .address
                                    .is_some_and(|a| icmp::is_echo_reply_to(ppp.payload(), a.local))
                                {
                                    outcome.echo_replies += 1;
                                }
                            } else {
                                l.handle_frame(now, ppp.protocol(), ppp.payload());
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("recv: {e}"),
        }
        let now = Instant::now();
        if endpoint.poll_timeout().is_some_and(|t| t <= now) {
            endpoint.handle_timeout(now);
        }
        while let Some(event) = endpoint.poll_event() {
            match event {
                Event::TunnelUp { .. } => outcome.tunnel_up = true,
                Event::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    ..
                } => {
                    outcome.session_up = true;
                    session = Some((peer, (peer_tunnel_id, peer_session_id), handle.session_id));
                    let mut config = LinkConfig::client(Credentials {
                        user: USER.as_bytes().to_vec(),
                        password: PASSWORD.as_bytes().to_vec(),
                    });
                    // Inside L2TP the LNS may negotiate PFC/ACFC.
                    config.accept_compression = true;
                    config.lower_max_payload = 1460;
                    config.mru = 1460;
                    let mut ppp = Link::new(config, [5; 32]);
                    ppp.open(now);
                    link = Some(ppp);
                }
                Event::SessionDown { cause, result, .. } => {
                    outcome.failure = Some(format!("session down: {cause:?} {result:?}"));
                }
                Event::TunnelDown { cause, result, .. } => {
                    outcome.failure = Some(format!("tunnel down: {cause:?} {result:?}"));
                }
                _ => {}
            }
        }
        while let Some((to, len)) = endpoint.poll_transmit(now, &mut control) {
            socket.send_to(&control[..len], to).unwrap();
        }
        if let (Some(ppp), Some((peer, ids, _))) = (link.as_mut(), session) {
            if ppp.poll_timeout().is_some_and(|t| t <= now) {
                ppp.handle_timeout(now);
            }
            while let Some(event) = ppp.poll_event() {
                match event {
                    LinkEvent::NetworkUp { ipv4: Some(v4), .. } => {
                        outcome.address = Some(v4);
                        next_ping.get_or_insert(now);
                    }
                    LinkEvent::Down { reason } => {
                        outcome.failure = Some(format!("PPP down: {reason:?}"));
                    }
                    _ => {}
                }
            }
            if let (Some(at), Some(v4)) = (next_ping, outcome.address) {
                if at <= now {
                    seq += 1;
                    let packet = icmp::echo_request(v4.local, v4.peer, seq);
                    buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                    send_ppp(socket, &mut buf, peer, ids, Protocol::Ipv4, packet.len());
                    next_ping = Some(now + Duration::from_millis(500));
                }
            }
            while let Some((protocol, len)) = ppp.poll_transmit(&mut buf[HEADROOM..]) {
                send_ppp(socket, &mut buf, peer, ids, protocol, len);
            }
        }
    }
    if let (Some(ppp), Some((peer, ids, _))) = (link.as_mut(), session) {
        ppp.close(Instant::now(), DownReason::AdminClose);
        while let Some((protocol, len)) = ppp.poll_transmit(&mut buf[HEADROOM..]) {
            send_ppp(socket, &mut buf, peer, ids, protocol, len);
        }
    }
    outcome
}

#[test]
fn our_lac_core_carries_pppd_session_to_kernel_l2tp_lns() -> common::Result<()> {
    common::require_root()?;
    LinuxPeer::image()?;
    let ns = Netns::new("l2lns")?;
    let tap = common::unique_ifname("tnl")?;
    ns.add_tap(&tap)?;
    ns.add_addr(&tap, &format!("{OUR_ADDRESS}/24"))?;
    ns.ip(["link", "set", "dev", tap.as_str(), "up"])?;
    let socket = ns.run(|| UdpSocket::bind(SocketAddr::from((OUR_ADDRESS, 1701))))??;
    let dir = common::tempdir("l2lns")?;
    let capture = LiveCapture::start(&ns, &tap, &dir.path().join("l2tp.pcap"))?;
    let mut guest = LinuxPeer::boot(
        &ns,
        &tap,
        150,
        &[
            ("tn.mode", "l2tp-lns"),
            ("tn.ip", &format!("{GUEST_ADDRESS}/24")),
            ("tn.secret", SECRET),
            ("tn.user", USER),
            ("tn.pass", PASSWORD),
            ("tn.auth", "chap"),
            ("tn.runfor", "45"),
        ],
    )?;
    // xl2tpd starts right after TN-START; give it a moment to bind.
    guest.wait_for_line(Duration::from_secs(90), |l| matches!(l, TnLine::Start(_)))?;
    std::thread::sleep(Duration::from_secs(2));
    let stop = Arc::new(AtomicBool::new(false));
    let lac = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            run_lac(&socket, Instant::now() + Duration::from_secs(60), &stop)
        })
    };
    // Keep the session up until the guest has reported its ppp link (it
    // polls once a second), then let the LAC hang up.
    let seen_up = guest.wait_for_line(Duration::from_secs(60), |l| matches!(l, TnLine::Up { .. }));
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let outcome = lac.join().expect("LAC loop");
    let report = guest.wait()?;
    let _ = seen_up;
    // Every datagram both sides sent dissects cleanly, control and data.
    let pcap = capture.stop()?;
    let tshark = Tshark::new();
    tshark.assert_clean(&pcap)?;
    assert!(
        tshark.count(&pcap, Some("l2tp.avp.message_type == 12"))? > 0,
        "the capture holds our ICCN"
    );
    assert!(
        tshark.count(&pcap, Some("l2tp && chap"))? > 0,
        "and CHAP inside the tunnel"
    );
    let console = report.console_tail(80);
    assert!(
        outcome.tunnel_up,
        "tunnel with the secret: {outcome:?}\n{console}"
    );
    assert!(outcome.session_up, "ICRQ/ICRP/ICCN: {outcome:?}\n{console}");
    let address = outcome
        .address
        .unwrap_or_else(|| panic!("IPCP over the tunnel: {outcome:?}\n{console}"));
    // The guest's pppd serves 10.200.0.1 and hands out 10.200.0.2 upwards.
    assert_eq!(address.peer, Ipv4Addr::new(10, 200, 0, 1), "{outcome:?}");
    assert_eq!(address.local, Ipv4Addr::new(10, 200, 0, 2), "{outcome:?}");
    assert!(
        outcome.echo_replies >= 2,
        "pings through the tunnel: {outcome:?}\n{console}"
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| matches!(l, TnLine::Up { peer, .. } if *peer == address.local)),
        "the guest's pppd (LNS side) saw the link up with our address\n{console}"
    );
    Ok(())
}
