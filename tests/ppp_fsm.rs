//! The RFC 1661 automaton driven packet by packet (IPCP as the protocol):
//! Identifier matching, exact Configure-Ack, Configure-Reject subsets,
//! the Closed / Stopped answers, Code-Reject, Terminate and the timers.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tunnelnas::ppp::fsm::{Automaton, DropReason, FsmConfig, FsmEvent, State};
use tunnelnas::ppp::ncp::{Ipcp, IpcpConfig, NcpRole};
use tunnelnas::wire::ppp::control::ControlMessage;
use tunnelnas::wire::ppp::{IpcpOption, IpcpRepr};

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn server(now: Instant) -> Automaton<Ipcp> {
    let mut ipcp = Ipcp::new(
        NcpRole::Server,
        IpcpConfig {
            local: Some(LOCAL),
            ..IpcpConfig::default()
        },
    );
    ipcp.assign(PEER, None);
    let mut fsm = Automaton::new(ipcp, FsmConfig::default(), 10);
    fsm.open(now);
    fsm.up(now);
    fsm
}

fn drain(fsm: &mut Automaton<Ipcp>) -> (Vec<IpcpRepr>, Vec<FsmEvent>) {
    let mut packets = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(len) = fsm.poll_transmit(&mut buf) {
        packets.push(IpcpRepr::parse_bytes(&buf[..len]).expect("we emit valid packets"));
    }
    let mut events = Vec::new();
    while let Some(e) = fsm.poll_event() {
        events.push(e);
    }
    (packets, events)
}

fn bytes(id: u8, message: ControlMessage<IpcpOption>) -> Vec<u8> {
    IpcpRepr::new(id, message).to_vec().unwrap()
}

#[test]
fn replies_must_match_identifier_and_content() {
    let now = Instant::now();
    let mut fsm = server(now);
    let (sent, _) = drain(&mut fsm);
    assert_eq!(fsm.state(), State::ReqSent);
    assert_eq!(sent.len(), 1);
    let id = sent[0].identifier;
    assert_eq!(
        sent[0].message,
        ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(LOCAL)])
    );

    // Wrong Identifier: dropped.
    fsm.handle_packet(
        now,
        &bytes(
            id.wrapping_add(1),
            ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(LOCAL)]),
        ),
    );
    let (_, events) = drain(&mut fsm);
    assert!(events.contains(&FsmEvent::Dropped(DropReason::WrongIdentifier)));
    // Right Identifier, other content: dropped (§5.2 exact match).
    fsm.handle_packet(
        now,
        &bytes(
            id,
            ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(PEER)]),
        ),
    );
    let (_, events) = drain(&mut fsm);
    assert!(events.contains(&FsmEvent::Dropped(DropReason::AckMismatch)));
    // A Reject naming an option we did not send: dropped.
    fsm.handle_packet(
        now,
        &bytes(
            id,
            ControlMessage::ConfigureReject(vec![IpcpOption::PrimaryDns(LOCAL)]),
        ),
    );
    let (_, events) = drain(&mut fsm);
    assert!(events.contains(&FsmEvent::Dropped(DropReason::RejectMismatch)));
    assert_eq!(fsm.state(), State::ReqSent);

    // The exact Ack: Ack-Rcvd; a duplicate of it no longer matches.
    let ack = bytes(
        id,
        ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(LOCAL)]),
    );
    fsm.handle_packet(now, &ack);
    assert_eq!(fsm.state(), State::AckRcvd);
    fsm.handle_packet(now, &ack);
    let (_, events) = drain(&mut fsm);
    assert!(events.contains(&FsmEvent::Dropped(DropReason::WrongIdentifier)));
    assert_eq!(fsm.state(), State::AckRcvd);

    // The peer's good request: Opened.
    fsm.handle_packet(
        now,
        &bytes(
            7,
            ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(PEER)]),
        ),
    );
    let (sent, events) = drain(&mut fsm);
    assert_eq!(fsm.state(), State::Opened);
    assert!(events.contains(&FsmEvent::Up));
    assert_eq!(sent[0].identifier, 7);
    assert_eq!(
        sent[0].message,
        ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(PEER)])
    );
    assert_eq!(fsm.poll_timeout(), None, "no Restart timer in Opened");
    assert_eq!(fsm.negotiator().negotiated().peer, PEER);
    assert_eq!(fsm.negotiator().negotiated().local, LOCAL);
}

#[test]
fn ack_rcvd_timeout_resends_and_max_configure_stops() {
    let now = Instant::now();
    let mut fsm = server(now);
    let (sent, _) = drain(&mut fsm);
    fsm.handle_packet(
        now,
        &bytes(
            sent[0].identifier,
            ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(LOCAL)]),
        ),
    );
    assert_eq!(fsm.state(), State::AckRcvd);
    // TO+ in Ack-Rcvd: scr, back to Req-Sent (RFC 1661 §4.1).
    let t = fsm.poll_timeout().unwrap();
    assert_eq!(t - now, Duration::from_secs(3));
    fsm.handle_timeout(t);
    assert_eq!(fsm.state(), State::ReqSent);
    // RCA reset the counter (irc): ten more transmissions, then TO-.
    let mut at = t;
    let mut requests = 1;
    while let Some(next) = fsm.poll_timeout() {
        at = next;
        fsm.handle_timeout(at);
        requests += 1;
    }
    let (_, events) = drain(&mut fsm);
    assert_eq!(fsm.state(), State::Stopped);
    assert!(events.contains(&FsmEvent::Finished));
    assert_eq!(requests, 11);
    assert_eq!(at - now, Duration::from_secs(3 * 11));
}

#[test]
fn closed_and_stopped_answers() {
    let now = Instant::now();
    let mut ipcp = Ipcp::new(NcpRole::Server, IpcpConfig::default());
    ipcp.assign(PEER, None);
    let mut fsm = Automaton::new(ipcp, FsmConfig::default(), 0);
    // Initial: received packets "should not happen".
    fsm.handle_packet(now, &bytes(1, ControlMessage::ConfigureRequest(vec![])));
    let (sent, events) = drain(&mut fsm);
    assert!(sent.is_empty());
    assert!(events.contains(&FsmEvent::Dropped(DropReason::UnexpectedInState)));
    // Closed (Up without Open): a Configure-Request gets a Terminate-Ack.
    fsm.up(now);
    assert_eq!(fsm.state(), State::Closed);
    fsm.handle_packet(
        now,
        &bytes(
            4,
            ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(PEER)]),
        ),
    );
    let (sent, _) = drain(&mut fsm);
    assert_eq!(sent[0].message, ControlMessage::TerminateAck(vec![]));
    assert_eq!(sent[0].identifier, 4);
    // A Terminate-Request in Closed: Terminate-Ack with its Identifier.
    fsm.handle_packet(now, &bytes(9, ControlMessage::TerminateRequest(vec![1])));
    let (sent, _) = drain(&mut fsm);
    assert_eq!(sent[0].identifier, 9);
    assert_eq!(sent[0].message, ControlMessage::TerminateAck(vec![]));
}

#[test]
fn terminate_request_in_opened_waits_one_restart_period() {
    let now = Instant::now();
    let mut fsm = server(now);
    let (sent, _) = drain(&mut fsm);
    fsm.handle_packet(
        now,
        &bytes(
            1,
            ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(PEER)]),
        ),
    );
    fsm.handle_packet(
        now,
        &bytes(
            sent[0].identifier,
            ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(LOCAL)]),
        ),
    );
    assert_eq!(fsm.state(), State::Opened);
    drain(&mut fsm);
    fsm.handle_packet(now, &bytes(33, ControlMessage::TerminateRequest(vec![])));
    let (sent, events) = drain(&mut fsm);
    assert_eq!(fsm.state(), State::Stopping);
    assert!(events.contains(&FsmEvent::Down));
    assert_eq!(sent[0].message, ControlMessage::TerminateAck(vec![]));
    assert_eq!(sent[0].identifier, 33);
    // zrc: the Restart timer runs once, then TO- → tlf.
    let t = fsm.poll_timeout().unwrap();
    assert_eq!(t - now, Duration::from_secs(3));
    fsm.handle_timeout(t);
    let (sent, events) = drain(&mut fsm);
    assert!(sent.is_empty());
    assert!(events.contains(&FsmEvent::Finished));
    assert_eq!(fsm.state(), State::Stopped);
}

#[test]
fn code_reject_of_a_configure_code_is_catastrophic_and_unknown_codes_are_rejected() {
    let now = Instant::now();
    let mut fsm = server(now);
    drain(&mut fsm);
    // Code 9 is LCP-only: IPCP Code-Rejects it (RFC 1332 §2).
    fsm.handle_packet(now, &[9, 5, 0, 8, 1, 2, 3, 4]);
    let (sent, _) = drain(&mut fsm);
    assert_eq!(
        sent[0].message,
        ControlMessage::CodeReject(vec![9, 5, 0, 8, 1, 2, 3, 4])
    );
    assert_eq!(fsm.state(), State::ReqSent);
    // The peer Code-Rejects our Configure-Request: RXJ-, tlf, Stopped.
    fsm.handle_packet(now, &[7, 1, 0, 8, 1, 0, 0, 4]);
    let (_, events) = drain(&mut fsm);
    assert_eq!(fsm.state(), State::Stopped);
    assert!(events.contains(&FsmEvent::Finished));
    // Short or lying Length: dropped without effect.
    for bad in [&[1u8, 1, 0][..], &[1, 1, 0, 3], &[1, 1, 0, 9, 3, 6]] {
        fsm.handle_packet(now, bad);
        let (sent, events) = drain(&mut fsm);
        assert!(sent.is_empty());
        assert!(events.contains(&FsmEvent::Dropped(DropReason::BadLength)));
    }
}

#[test]
fn close_sends_max_terminate_requests() {
    let now = Instant::now();
    let mut fsm = server(now);
    drain(&mut fsm);
    fsm.close(now);
    assert_eq!(fsm.state(), State::Closing);
    let mut terminates = 0;
    let mut at = now;
    loop {
        let (sent, events) = drain(&mut fsm);
        terminates += sent
            .iter()
            .filter(|p| matches!(p.message, ControlMessage::TerminateRequest(_)))
            .count();
        if events.contains(&FsmEvent::Finished) {
            break;
        }
        at = fsm.poll_timeout().expect("timer runs in Closing");
        fsm.handle_timeout(at);
    }
    assert_eq!(terminates, 2);
    assert_eq!(at - now, Duration::from_secs(6));
    assert_eq!(fsm.state(), State::Closed);
    assert_eq!(fsm.stats().terminate_requests_sent, 2);
}

mod lcp_negotiator {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tunnelnas::ppp::auth::AuthMethod;
    use tunnelnas::ppp::fsm::{NegotiationFailure, Negotiator, Verdict};
    use tunnelnas::ppp::lcp::{AuthRole, Lcp, LcpConfig};
    use tunnelnas::wire::ppp::{AuthMethod as WireAuth, LcpOption};

    fn authenticator(methods: Vec<AuthMethod>) -> Lcp {
        Lcp::new(
            LcpConfig {
                auth: AuthRole::Authenticator(methods),
                ..LcpConfig::default()
            },
            StdRng::seed_from_u64(1),
        )
    }

    fn auth_in(request: &[LcpOption]) -> Option<AuthMethod> {
        request.iter().find_map(AuthMethod::from_lcp_option)
    }

    #[test]
    fn nak_suggesting_an_unoffered_method_moves_to_our_next() {
        let mut lcp = authenticator(vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5]);
        assert_eq!(auth_in(&lcp.request()), Some(AuthMethod::MsChapV2));
        // The peer suggests EAP, which we do not offer: next in our order.
        lcp.nak_received(&[LcpOption::auth(WireAuth::Eap)]).unwrap();
        assert_eq!(auth_in(&lcp.request()), Some(AuthMethod::ChapMd5));
        // Nak'd again: nothing left.
        assert_eq!(
            lcp.nak_received(&[LcpOption::auth(WireAuth::Eap)]),
            Err(NegotiationFailure::NoCommonAuthProtocol)
        );
    }

    #[test]
    fn authenticator_rejects_being_asked_to_authenticate_and_peer_naks_unsupported() {
        let mut lcp = authenticator(vec![AuthMethod::Pap]);
        assert_eq!(lcp.judge(&LcpOption::auth(WireAuth::Pap)), Verdict::Reject);
        let mut peer = Lcp::new(
            LcpConfig {
                auth: AuthRole::Peer(vec![AuthMethod::ChapMd5]),
                ..LcpConfig::default()
            },
            StdRng::seed_from_u64(2),
        );
        assert_eq!(
            peer.judge(&LcpOption::auth(WireAuth::ChapMd5)),
            Verdict::Ack
        );
        assert_eq!(
            peer.judge(&LcpOption::auth(WireAuth::MsChap)),
            Verdict::Nak(LcpOption::auth(WireAuth::ChapMd5))
        );
        // Magic-Number zero is always Nak'd (RFC 1661 §6.4).
        assert!(matches!(
            peer.judge(&LcpOption::MagicNumber(0)),
            Verdict::Nak(LcpOption::MagicNumber(m)) if m != 0
        ));
        // MRU below 128 or above the lower layer: Nak with what it carries.
        assert_eq!(
            peer.judge(&LcpOption::Mru(64)),
            Verdict::Nak(LcpOption::Mru(1492))
        );
        assert_eq!(peer.judge(&LcpOption::Mru(1400)), Verdict::Ack);
        // The authenticator cannot go on when the peer rejects auth.
        assert_eq!(
            lcp.reject_received(&[LcpOption::auth(WireAuth::Pap)]),
            Err(NegotiationFailure::RequiredOptionRefused(3))
        );
    }

    #[test]
    fn lower_layer_of_tiny_payload_never_panics() {
        let mut lcp = Lcp::new(
            LcpConfig {
                mru: 64,
                lower_max_payload: 40,
                ..LcpConfig::default()
            },
            StdRng::seed_from_u64(3),
        );
        lcp.nak_received(&[LcpOption::Mru(9000)]).unwrap();
        lcp.nak_received(&[LcpOption::Mru(0)]).unwrap();
        let _ = lcp.request();
        let _ = lcp.judge(&LcpOption::Mru(0));
    }
}

/// Our own emitted packet, parsed back.
fn parse_ipcp(packet: &[u8]) -> IpcpRepr {
    IpcpRepr::parse_bytes(packet).expect("we emit valid packets")
}

// ---- poll_transmit into a caller-owned buffer ------------------------------

#[test]
fn a_short_buffer_leaves_the_packet_queued() {
    let now = Instant::now();
    let mut fsm = server(now);
    assert_eq!(fsm.next_transmit_len(), Some(10));

    let mut short = [0xee; 9];
    assert_eq!(fsm.poll_transmit(&mut short), None);
    assert_eq!(short, [0xee; 9], "nothing is written");
    assert_eq!(fsm.poll_transmit(&mut []), None);
    assert_eq!(fsm.stats().transmit_deferred, 2);
    assert_eq!(fsm.next_transmit_len(), Some(10));

    let mut exact = [0; 10];
    assert_eq!(fsm.poll_transmit(&mut exact), Some(10));
    let sent = parse_ipcp(&exact);
    assert_eq!(sent.identifier, 10);
    assert_eq!(
        sent.message,
        ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(LOCAL)])
    );

    // An empty queue is not a short buffer.
    assert_eq!(fsm.next_transmit_len(), None);
    assert_eq!(fsm.poll_transmit(&mut exact), None);
    assert_eq!(fsm.stats().transmit_deferred, 2);
}

#[test]
fn deferred_packets_keep_their_order() {
    let now = Instant::now();
    let mut fsm = server(now);
    // The peer's good request: Configure-Ack queued behind ours.
    let request = IpcpRepr::new(
        7,
        ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(PEER)]),
    )
    .to_vec()
    .unwrap();
    fsm.handle_packet(now, &request);
    assert_eq!(fsm.state(), State::AckSent);
    assert_eq!(fsm.poll_transmit(&mut [0; 4]), None);

    let mut buf = [0; 1500];
    let len = fsm.poll_transmit(&mut buf).unwrap();
    assert_eq!(parse_ipcp(&buf[..len]).identifier, 10);
    let len = fsm.poll_transmit(&mut buf).unwrap();
    assert_eq!(
        parse_ipcp(&buf[..len]),
        IpcpRepr::new(
            7,
            ControlMessage::ConfigureAck(vec![IpcpOption::IpAddress(PEER)])
        )
    );
    assert_eq!(fsm.poll_transmit(&mut buf), None);
}

#[test]
fn a_reply_longer_than_a_frame_is_handed_out_whole() {
    let now = Instant::now();
    let mut fsm = server(now);
    let mut buf = vec![0; 1500];
    assert_eq!(fsm.poll_transmit(&mut buf), Some(10));
    // 40 unknown options of 255 octets: a Configure-Reject of 10,204.
    let mut options = Vec::new();
    for kind in 100..140u8 {
        options.push(kind);
        options.push(255);
        options.extend_from_slice(&[kind; 253]);
    }
    let mut request = vec![1, 3, 0, 0];
    request.extend_from_slice(&options);
    let length = u16::try_from(request.len()).unwrap();
    request[2..4].copy_from_slice(&length.to_be_bytes());
    fsm.handle_packet(now, &request);

    assert_eq!(fsm.next_transmit_len(), Some(4 + 40 * 255));
    assert_eq!(fsm.poll_transmit(&mut buf), None);
    buf.resize(fsm.next_transmit_len().unwrap(), 0);
    assert_eq!(fsm.poll_transmit(&mut buf), Some(buf.len()));
    assert_eq!(&buf[..2], &[4, 3], "Configure-Reject, Identifier 3");
    assert_eq!(&buf[4..], &options[..]);
}
