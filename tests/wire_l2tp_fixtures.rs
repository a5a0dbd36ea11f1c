//! L2TPv2 wire format against captures of independent implementations.
//!
//! * `captures/l2tp-tunnel-call-cdn.pcap`: xl2tpd 1.3.18 (LAC) ↔ BNG
//!   Blaster 0.9.38 (LNS), tunnel secret `secret` (see the README there).
//! * `captures/l2tp-sccrq-retransmit.pcap`: xl2tpd's unanswered SCCRQ.
//! * `l2tp/xl2tpd-lac-hidden-avps.pcap`: xl2tpd 1.3.18 with `hidden bit =
//!   yes` against a minimal LNS built on this crate's emitter, tunnel secret
//!   `hidden-secret` (see `tests/fixtures/l2tp/README.md`; regenerate with
//!   `cargo test --test wire_l2tp_fixtures -- --ignored`).
//!
//! Every L2TP datagram is parsed (header view, owned header, control
//! message), checked against what `tshark -V` shows, and re-emitted
//! byte-identically.

use std::path::{Path, PathBuf};

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use tunnelnas::wire::l2tp::{
    Avp, AvpType, CdnResult, ControlMessage, GeneralError, HeaderRepr, HiddenPadding, Hiding,
    MessageType, Packet, ProtocolVersion, challenge_response, verify_challenge_response,
};

const L2TP_PORT: u16 = 1701;

/// One UDP datagram of a capture.
#[derive(Debug)]
struct Datagram {
    /// Frame number (1-based, as tshark counts).
    frame: usize,
    src_port: u16,
    dst_port: u16,
    payload: Vec<u8>,
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The link-layer frames of a pcap or pcapng file (told apart by their
/// magic number), after checking that every frame is Ethernet and was not
/// cut by the snap length.
fn ethernet_frames(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
        let mut link_types = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(idb) => link_types.push(idb.linktype),
                Block::EnhancedPacket(epb) => {
                    let link_type = link_types.get(epb.interface_id as usize);
                    assert_eq!(
                        link_type,
                        Some(&DataLink::ETHERNET),
                        "{}: link type",
                        path.display()
                    );
                    assert_eq!(
                        epb.data.len() as u32,
                        epb.original_len,
                        "frame cut by the snaplen"
                    );
                    frames.push(epb.data.into_owned());
                }
                Block::SimplePacket(_) | Block::Packet(_) => {
                    panic!("{}: unexpected packet block type", path.display())
                }
                _ => {}
            }
        }
    } else {
        let mut reader = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(
            reader.header().datalink,
            DataLink::ETHERNET,
            "{}: link type",
            path.display()
        );
        while let Some(packet) = reader.next_packet() {
            let packet = packet.unwrap();
            assert_eq!(
                packet.data.len() as u32,
                packet.orig_len,
                "frame cut by the snaplen"
            );
            frames.push(packet.data.into_owned());
        }
    }
    frames
}

/// Reads an Ethernet capture and returns its IPv4/UDP datagrams (other
/// frames — ARP, ICMP, IPv6 — are skipped). Ethernet, IPv4 and UDP are
/// stripped here, with their own length checks.
fn udp_datagrams(path: &Path) -> Vec<Datagram> {
    let mut out = Vec::new();
    for (index, data) in ethernet_frames(path).iter().enumerate() {
        let frame = index + 1;
        let eth = &data[..];
        if eth.len() < 14 || eth[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &eth[14..];
        assert!(
            ip.len() >= 20 && ip[0] >> 4 == 4,
            "frame {frame}: bad IPv4 header"
        );
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert!(
            ihl >= 20 && total >= ihl && total <= ip.len(),
            "frame {frame}: bad IPv4 lengths"
        );
        let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
        assert_eq!(fragment, 0, "frame {frame}: IPv4 fragment");
        if ip[9] != 17 {
            continue;
        }
        let udp = &ip[ihl..total];
        assert!(udp.len() >= 8, "frame {frame}: short UDP header");
        let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        assert!(
            udp_len >= 8 && udp_len <= udp.len(),
            "frame {frame}: bad UDP length"
        );
        out.push(Datagram {
            frame,
            src_port: u16::from_be_bytes([udp[0], udp[1]]),
            dst_port: u16::from_be_bytes([udp[2], udp[3]]),
            payload: udp[8..udp_len].to_vec(),
        });
    }
    out
}

/// The L2TP datagrams of a capture (UDP with port 1701 on either side).
fn l2tp_datagrams(path: &Path) -> Vec<Datagram> {
    udp_datagrams(path)
        .into_iter()
        .filter(|d| d.src_port == L2TP_PORT || d.dst_port == L2TP_PORT)
        .collect()
}

/// Parses one datagram as a control message and checks every invariant
/// that holds for all of them: the header view agrees with the owned
/// header, Length covers the datagram, and re-emitting (with `hiding` for
/// hidden AVPs) reproduces the bytes exactly.
fn parse_control(d: &Datagram, secret: Option<&[u8]>) -> ControlMessage {
    parse_control_padded(d, secret, HiddenPadding::None)
}

/// [`parse_control`] for captures whose hidden AVPs were padded with
/// `padding` (re-emission must pad the same way to give the same bytes).
fn parse_control_padded(
    d: &Datagram,
    secret: Option<&[u8]>,
    padding: HiddenPadding,
) -> ControlMessage {
    let packet =
        Packet::new_checked(&d.payload[..]).unwrap_or_else(|e| panic!("frame {}: {e}", d.frame));
    assert!(packet.is_control(), "frame {}: data message", d.frame);
    assert_eq!(packet.version(), 2);
    assert_eq!(packet.length(), Some(d.payload.len() as u16));
    let header = HeaderRepr::parse(&packet);
    assert_eq!(header.header_len(), 12);
    let msg =
        ControlMessage::parse(&packet, secret).unwrap_or_else(|e| panic!("frame {}: {e}", d.frame));
    assert_eq!(msg.header(), header);
    let hiding = secret.map(|secret| Hiding {
        secret,
        random_vector: b"",
        hide: &[],
        padding,
    });
    let bytes = msg
        .to_vec(hiding.as_ref())
        .unwrap_or_else(|e| panic!("frame {}: re-emit: {e}", d.frame));
    assert_eq!(
        bytes, d.payload,
        "frame {}: re-emitted bytes differ",
        d.frame
    );
    msg
}

fn avp_types(msg: &ControlMessage) -> Vec<u16> {
    msg.avps.iter().map(|item| item.avp.attr_type()).collect()
}

#[test]
fn xl2tpd_to_bng_blaster_tunnel_call_cdn() {
    let datagrams = l2tp_datagrams(&fixture("captures/l2tp-tunnel-call-cdn.pcap"));
    let frames: Vec<usize> = datagrams.iter().map(|d| d.frame).collect();
    assert_eq!(frames, [3, 4, 5, 6, 7, 8, 9, 10, 11]);
    let msgs: Vec<ControlMessage> = datagrams
        .iter()
        .map(|d| parse_control(d, Some(b"secret")))
        .collect();
    let kinds: Vec<Option<MessageType>> = msgs.iter().map(|m| m.message_type).collect();
    use MessageType::*;
    assert_eq!(
        kinds,
        [
            Some(Sccrq),
            Some(Sccrp),
            Some(Scccn),
            Some(Icrq),
            Some(Icrp),
            Some(Iccn),
            None,
            Some(Cdn),
            None
        ]
    );
    // No AVP in this capture is hidden, so parsing without a secret gives
    // the same messages.
    for (d, msg) in datagrams.iter().zip(&msgs) {
        assert_eq!(&parse_control(d, None), msg);
        assert!(
            msg.avps
                .iter()
                .all(|item| !item.hidden && item.avp.is_recognized())
        );
        assert!(msg.message_type.is_none() || msg.message_type_mandatory);
    }

    // Frame 3, SCCRQ from xl2tpd (tshark -V).
    let sccrq = &msgs[0];
    assert_eq!(
        (sccrq.tunnel_id, sccrq.session_id, sccrq.ns, sccrq.nr),
        (0, 0, 0, 0)
    );
    assert_eq!(sccrq.protocol_version(), Some(ProtocolVersion::RFC2661));
    assert_eq!(sccrq.framing_capabilities().map(|f| f.0), Some(3));
    assert_eq!(sccrq.bearer_capabilities().map(|b| b.0), Some(0));
    assert_eq!(sccrq.firmware_revision(), Some(0x0690));
    assert_eq!(sccrq.host_name(), Some(&b"rig-lac"[..]));
    assert_eq!(sccrq.vendor_name(), Some(&b"xelerance.com"[..]));
    assert_eq!(sccrq.assigned_tunnel_id(), Some(49443));
    assert_eq!(sccrq.receive_window_size(), Some(4));
    let sccrq_challenge = sccrq.challenge().unwrap().to_vec();
    assert_eq!(
        hex::encode(&sccrq_challenge),
        "c66d06dce19ecb9b0faccadf06fb4511"
    );
    // M bits as sent: Firmware Revision and Vendor Name have M=0.
    let m_bits: Vec<bool> = sccrq.avps.iter().map(|i| i.mandatory).collect();
    assert_eq!(
        m_bits,
        [true, true, true, false, true, false, true, true, true]
    );

    // Frame 4, SCCRP from BNG Blaster.
    let sccrp = &msgs[1];
    assert_eq!(
        (sccrp.tunnel_id, sccrp.session_id, sccrp.ns, sccrp.nr),
        (49443, 0, 0, 1)
    );
    assert_eq!(sccrp.host_name(), Some(&b"LNS1"[..]));
    assert_eq!(sccrp.vendor_name(), Some(&b"bngblaster"[..]));
    assert_eq!(sccrp.assigned_tunnel_id(), Some(1));
    assert_eq!(sccrp.receive_window_size(), Some(8));
    assert_eq!(sccrp.firmware_revision(), Some(1));
    let sccrp_challenge = sccrp.challenge().unwrap().to_vec();
    assert_eq!(
        hex::encode(&sccrp_challenge),
        "f5abb1b9430a08a396285536b15d2f01"
    );
    // Tunnel authentication (§5.1.1): BNG Blaster's response to xl2tpd's
    // challenge uses ID 2 (SCCRP) and the secret `secret`.
    let response = sccrp.challenge_response().unwrap();
    assert_eq!(hex::encode(response), "1457c06c60feeb7588807ed98e72af47");
    assert_eq!(challenge_response(2, b"secret", &sccrq_challenge), response);
    assert!(verify_challenge_response(
        2,
        b"secret",
        &sccrq_challenge,
        &response
    ));
    assert!(!verify_challenge_response(
        2,
        b"wrong",
        &sccrq_challenge,
        &response
    ));
    assert!(!verify_challenge_response(
        3,
        b"secret",
        &sccrq_challenge,
        &response
    ));

    // Frame 5, SCCCN: xl2tpd's response to BNG Blaster's challenge, ID 3.
    let scccn = &msgs[2];
    assert_eq!((scccn.tunnel_id, scccn.ns, scccn.nr), (1, 1, 1));
    let response = scccn.challenge_response().unwrap();
    assert_eq!(hex::encode(response), "a42781fdd8c7a37686f5c0a4100f4309");
    assert_eq!(challenge_response(3, b"secret", &sccrp_challenge), response);

    // Frame 6, ICRQ.
    let icrq = &msgs[3];
    assert_eq!(
        (icrq.tunnel_id, icrq.session_id, icrq.ns, icrq.nr),
        (1, 0, 2, 1)
    );
    assert_eq!(icrq.assigned_session_id(), Some(61267));
    assert_eq!(icrq.call_serial_number(), Some(1));
    assert_eq!(icrq.bearer_type().map(|b| b.0), Some(0));

    // Frame 7, ICRP.
    let icrp = &msgs[4];
    assert_eq!(
        (icrp.tunnel_id, icrp.session_id, icrp.ns, icrp.nr),
        (49443, 61267, 1, 3)
    );
    assert_eq!(icrp.assigned_session_id(), Some(1));

    // Frame 8, ICCN: no proxy LCP/authentication AVPs in this capture.
    let iccn = &msgs[5];
    assert_eq!(
        (iccn.tunnel_id, iccn.session_id, iccn.ns, iccn.nr),
        (1, 1, 3, 2)
    );
    assert_eq!(avp_types(iccn), [24, 19, 38]);
    assert_eq!(iccn.tx_connect_speed(), Some(0));
    assert_eq!(iccn.framing_type().map(|f| f.0), Some(1));
    assert_eq!(iccn.rx_connect_speed(), Some(0));
    assert!(!iccn.avps[2].mandatory, "Rx Connect Speed is sent with M=0");
    assert_eq!(iccn.proxy_authen_type(), None);

    // Frames 9 and 11: ZLB acknowledgements.
    for (zlb, nr) in [(&msgs[6], 4), (&msgs[8], 5)] {
        assert!(zlb.is_zlb());
        assert_eq!(
            (zlb.tunnel_id, zlb.session_id, zlb.ns, zlb.nr),
            (49443, 0, 2, nr)
        );
    }

    // Frame 10, CDN: result 1 (loss of carrier), error 0, no message.
    let cdn = &msgs[7];
    assert_eq!(
        (cdn.tunnel_id, cdn.session_id, cdn.ns, cdn.nr),
        (1, 1, 4, 2)
    );
    let result = cdn.result_code().unwrap();
    assert_eq!(result.cdn_result(), CdnResult::LossOfCarrier);
    assert_eq!(result.error_code(), Some(GeneralError::NoError));
    assert!(result.error.as_ref().unwrap().message.is_empty());
    assert_eq!(cdn.assigned_session_id(), Some(61267));
}

#[test]
fn xl2tpd_unanswered_sccrq_retransmissions() {
    let path = fixture("captures/l2tp-sccrq-retransmit.pcap");
    let udp = udp_datagrams(&path);
    // The ICMP port-unreachable frames quote the SCCRQ but are not UDP.
    assert_eq!(
        udp.iter().map(|d| d.frame).collect::<Vec<_>>(),
        [1, 3, 5, 7, 9]
    );
    let datagrams = l2tp_datagrams(&path);
    assert_eq!(datagrams.len(), 5);
    for d in &datagrams {
        // Retransmissions are byte-identical (Ns stays 0).
        assert_eq!(d.payload, datagrams[0].payload);
        let msg = parse_control(d, None);
        assert_eq!(msg.message_type, Some(MessageType::Sccrq));
        assert_eq!(
            (msg.tunnel_id, msg.session_id, msg.ns, msg.nr),
            (0, 0, 0, 0)
        );
        assert_eq!(msg.host_name(), Some(&b"rig-lac"[..]));
        assert_eq!(msg.assigned_tunnel_id(), Some(23044));
        assert_eq!(msg.receive_window_size(), Some(4));
        // This LAC had no secret for the peer: no Challenge.
        assert_eq!(msg.challenge(), None);
        assert_eq!(avp_types(&msg), [2, 3, 4, 6, 7, 8, 9, 10]);
    }
}

/// The control channel refreshes Nr (and a tunnel switch rewrites ids) in
/// place on already-encoded messages: that must equal re-encoding.
#[test]
fn in_place_patching_matches_re_emission() {
    let datagrams = l2tp_datagrams(&fixture("captures/l2tp-tunnel-call-cdn.pcap"));
    for d in &datagrams {
        let mut msg = parse_control(d, Some(b"secret"));
        let mut bytes = d.payload.clone();
        let mut packet = Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_nr(msg.nr.wrapping_add(7)).unwrap();
        packet.set_ns(msg.ns.wrapping_add(1)).unwrap();
        packet.set_tunnel_id(0x1234);
        packet.set_session_id(0x5678);
        msg.nr = msg.nr.wrapping_add(7);
        msg.ns = msg.ns.wrapping_add(1);
        msg.tunnel_id = 0x1234;
        msg.session_id = 0x5678;
        assert_eq!(msg.to_vec(None).unwrap(), bytes, "frame {}", d.frame);
    }
}

/// Truncating or corrupting fixture bytes gives errors, never panics.
#[test]
fn corrupted_fixture_bytes_fail_cleanly() {
    let datagrams = l2tp_datagrams(&fixture("captures/l2tp-tunnel-call-cdn.pcap"));
    for d in &datagrams {
        for cut in 0..d.payload.len() {
            assert!(
                ControlMessage::from_bytes(&d.payload[..cut], Some(b"secret")).is_err(),
                "frame {} cut at {cut}",
                d.frame
            );
        }
        for at in 0..d.payload.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = d.payload.clone();
                bytes[at] ^= flip;
                if let Ok(msg) = ControlMessage::from_bytes(&bytes, Some(b"secret")) {
                    let hiding = Hiding {
                        secret: b"secret",
                        random_vector: b"",
                        hide: &[],
                        padding: HiddenPadding::None,
                    };
                    let again = msg.to_vec(Some(&hiding)).unwrap();
                    assert_eq!(
                        ControlMessage::from_bytes(&again, Some(b"secret")).unwrap(),
                        msg
                    );
                }
            }
        }
    }
}

const HIDDEN_FIXTURE: &str = "l2tp/xl2tpd-lac-hidden-avps.pcap";
const HIDDEN_SECRET: &[u8] = b"hidden-secret";

/// xl2tpd 1.3.18 with `hidden bit = yes` against this crate as LNS.
///
/// Debian's xl2tpd only compiles its AVP *hiding* code for testing
/// (`TEST_HIDDEN`): with `hidden bit = yes` it adds a Random Vector AVP to
/// every message but hides nothing. It does *unhide* what it receives, so
/// the independent check runs the other way: the LNS (this crate) hides the
/// ICRP's Assigned Session ID, and xl2tpd addresses its ICCN and CDN to the
/// session id it recovered from that hidden AVP.
#[test]
fn xl2tpd_hidden_avps() {
    use regenerate::{LNS_CHALLENGE, LNS_RANDOM_VECTOR, LNS_SESSION_ID, LNS_TUNNEL_ID};
    let datagrams = l2tp_datagrams(&fixture(HIDDEN_FIXTURE));
    assert_eq!(datagrams.len(), 12);
    let padding = HiddenPadding::ToMultipleOf(16);
    let msgs: Vec<ControlMessage> = datagrams
        .iter()
        .map(|d| parse_control_padded(d, Some(HIDDEN_SECRET), padding))
        .collect();
    use MessageType::*;
    let kinds: Vec<Option<MessageType>> = msgs.iter().map(|m| m.message_type).collect();
    assert_eq!(
        kinds,
        [
            Some(Sccrq),
            Some(Sccrp),
            Some(Scccn),
            Some(Icrq),
            None,
            Some(Icrp),
            Some(Iccn),
            None,
            Some(Cdn),
            None,
            Some(StopCcn),
            None
        ]
    );
    // xl2tpd (UDP port 1702) puts a Random Vector AVP right after the
    // Message Type in every message with a body, and hides nothing.
    for (d, msg) in datagrams.iter().zip(&msgs) {
        if d.src_port == 1702 && !msg.is_zlb() && msg.message_type != Some(StopCcn) {
            assert!(matches!(&msg.avps[0].avp, Avp::RandomVector(rv) if rv.len() == 16));
            assert!(
                msg.avps.iter().all(|item| !item.hidden),
                "frame {}",
                d.frame
            );
        }
    }

    // Frame 1: SCCRQ.
    let sccrq = &msgs[0];
    assert_eq!(sccrq.host_name(), Some(&b"tnfix-lac"[..]));
    assert_eq!(sccrq.vendor_name(), Some(&b"xelerance.com"[..]));
    assert_eq!(sccrq.assigned_tunnel_id(), Some(0xf4d1));
    let lac_challenge = sccrq.challenge().unwrap().to_vec();
    assert_eq!(
        hex::encode(&lac_challenge),
        "c8bfe7e42f3529f20e6d9a800b121385"
    );

    // Frame 2: the LNS's SCCRP, clear (see the README: xl2tpd cannot
    // unhide AVPs in an SCCRP), answering xl2tpd's challenge.
    let sccrp = &msgs[1];
    assert_eq!(sccrp.tunnel_id, 0xf4d1);
    assert_eq!(sccrp.assigned_tunnel_id(), Some(LNS_TUNNEL_ID));
    assert_eq!(sccrp.challenge(), Some(&LNS_CHALLENGE[..]));
    assert_eq!(
        sccrp.challenge_response(),
        Some(challenge_response(2, HIDDEN_SECRET, &lac_challenge))
    );

    // Frame 3: xl2tpd accepted that response (no StopCCN), adopted the
    // LNS's tunnel id, and answered the LNS's challenge with ID 3.
    let scccn = &msgs[2];
    assert_eq!((scccn.tunnel_id, scccn.ns, scccn.nr), (LNS_TUNNEL_ID, 1, 1));
    let response = scccn.challenge_response().unwrap();
    assert!(verify_challenge_response(
        3,
        HIDDEN_SECRET,
        &LNS_CHALLENGE,
        &response
    ));
    assert!(!verify_challenge_response(
        3,
        b"secret",
        &LNS_CHALLENGE,
        &response
    ));

    // Frame 4: ICRQ.
    let icrq = &msgs[3];
    assert_eq!(icrq.assigned_session_id(), Some(0xee97));
    assert_eq!(icrq.call_serial_number(), Some(1));

    // Frame 6: the ICRP with the hidden Assigned Session ID.
    let icrp = &msgs[5];
    assert_eq!((icrp.tunnel_id, icrp.session_id), (0xf4d1, 0xee97));
    assert_eq!(icrp.random_vector(), Some(&LNS_RANDOM_VECTOR[..]));
    assert!(icrp.avps[1].hidden && icrp.avps[1].mandatory);
    assert_eq!(icrp.assigned_session_id(), Some(LNS_SESSION_ID));
    // On the wire: H bit, 16-byte subformat (2 + 2 + 12 padding).
    let icrp_packet = Packet::new_checked(&datagrams[5].payload[..]).unwrap();
    let raw: Vec<_> = tunnelnas::wire::l2tp::AvpIter::new(icrp_packet.payload())
        .map(Result::unwrap)
        .collect();
    assert!(raw[2].hidden && raw[2].attr_type == u16::from(AvpType::AssignedSessionId));
    assert_eq!(raw[2].value.len(), 16);
    assert_eq!(
        tunnelnas::wire::l2tp::unhide(14, HIDDEN_SECRET, &LNS_RANDOM_VECTOR, raw[2].value).unwrap(),
        LNS_SESSION_ID.to_be_bytes()
    );
    // Without the secret the AVP stays concealed and re-emits verbatim.
    let concealed = parse_control(&datagrams[5], None);
    assert!(matches!(
        concealed.avps[1].avp,
        Avp::Concealed {
            vendor_id: 0,
            attr_type: 14,
            ..
        }
    ));
    assert_eq!(concealed.assigned_session_id(), None);
    // A wrong secret does not yield a plausible value.
    assert!(ControlMessage::from_bytes(&datagrams[5].payload, Some(b"secret")).is_err());

    // Frames 7 and 9: xl2tpd addresses the session by the id it unhid.
    let iccn = &msgs[6];
    assert_eq!(
        (iccn.tunnel_id, iccn.session_id),
        (LNS_TUNNEL_ID, LNS_SESSION_ID)
    );
    assert_eq!(iccn.tx_connect_speed(), Some(0));
    assert_eq!(iccn.framing_type().map(|f| f.0), Some(1));
    let cdn = &msgs[8];
    assert_eq!(
        (cdn.tunnel_id, cdn.session_id),
        (LNS_TUNNEL_ID, LNS_SESSION_ID)
    );
    assert_eq!(
        cdn.result_code().unwrap().cdn_result(),
        CdnResult::LossOfCarrier
    );
    assert_eq!(cdn.assigned_session_id(), Some(0xee97));

    // Frames 11 and 12: the LNS's StopCCN, acknowledged by a ZLB.
    let stop = &msgs[10];
    assert_eq!(stop.assigned_tunnel_id(), Some(LNS_TUNNEL_ID));
    assert_eq!(stop.result_code().unwrap().result, 1);
    assert!(msgs[11].is_zlb());
    assert_eq!(
        (msgs[11].tunnel_id, msgs[11].ns, msgs[11].nr),
        (LNS_TUNNEL_ID, 5, 3)
    );
}

/// Regenerates the hidden-AVP fixture: xl2tpd (LAC, `hidden bit = yes`,
/// tunnel secret) in a private network namespace dials a minimal LNS that
/// this test plays with the crate's own parser and emitter, while tshark
/// records the loopback. Needs root, iproute2, xl2tpd and tshark.
#[test]
#[ignore = "regenerates tests/fixtures/l2tp/xl2tpd-lac-hidden-avps.pcap (root, xl2tpd, tshark)"]
fn regenerate_xl2tpd_hidden_fixture() {
    regenerate::run();
}

mod regenerate {
    use std::fs;
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use tunnelnas::wire::l2tp::{
        Avp, AvpType, Bearer, ControlMessage, Framing, HiddenPadding, Hiding, MessageType, Packet,
        ProtocolVersion, ResultCode, StopCcnResult, challenge_response, verify_challenge_response,
    };

    use super::{HIDDEN_FIXTURE, HIDDEN_SECRET, fixture};

    /// Tunnel and session ids the LNS assigns.
    pub(super) const LNS_TUNNEL_ID: u16 = 0x4c4e;
    pub(super) const LNS_SESSION_ID: u16 = 0x0501;
    /// The LNS's challenge and random vector (fixed so the fixture's
    /// expectations can name them).
    pub(super) const LNS_CHALLENGE: [u8; 16] = *b"tunnelnas-chal-1";
    pub(super) const LNS_RANDOM_VECTOR: [u8; 16] = *b"tunnelnas-rv-001";

    /// Deletes the namespace and stops the children on every exit path.
    struct Namespace {
        name: String,
        children: Vec<Child>,
    }

    impl Namespace {
        fn create() -> Self {
            let name = format!("tnfix-{}", std::process::id());
            check_status(Command::new("ip").args(["netns", "add", &name]));
            let ns = Self {
                name,
                children: Vec::new(),
            };
            check_status(&mut ns.exec(&["ip", "link", "set", "lo", "up"]));
            ns
        }

        fn exec(&self, args: &[&str]) -> Command {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &self.name]).args(args);
            cmd
        }
    }

    impl Drop for Namespace {
        fn drop(&mut self) {
            for child in &mut self.children {
                // SIGINT lets tshark/dumpcap close the pcap file properly.
                // SAFETY: plain kill(2) on the pid of a child we spawned.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
        }
    }

    fn check_status(cmd: &mut Command) {
        let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(status.success(), "{cmd:?}: {status}");
    }

    pub(super) fn run() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        fs::write(path("l2tp-secrets"), b"* * hidden-secret\n").unwrap();
        fs::write(path("options"), b"").unwrap();
        fs::write(
            path("xl2tpd.conf"),
            format!(
                "[global]\nport = 1702\nauth file = {}\naccess control = no\n\n\
                 [lac fixture]\nlns = 127.0.0.1\nhidden bit = yes\nchallenge = yes\n\
                 autodial = yes\nredial = no\nhostname = tnfix-lac\npppoptfile = {}\n",
                path("l2tp-secrets"),
                path("options")
            ),
        )
        .unwrap();
        assert_eq!(HIDDEN_SECRET, b"hidden-secret");

        let mut ns = Namespace::create();
        let pcap = path("capture.pcap");
        let tshark_log = path("tshark.log");
        let tshark = ns
            .exec(&[
                "tshark",
                "-i",
                "lo",
                "-f",
                "udp",
                "-w",
                &pcap,
                "-a",
                "duration:14",
            ])
            .stdout(Stdio::null())
            .stderr(fs::File::create(&tshark_log).unwrap())
            .spawn()
            .unwrap();
        ns.children.push(tshark);
        let started = Instant::now();
        while !fs::read_to_string(&tshark_log)
            .unwrap_or_default()
            .contains("Capturing on")
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tshark did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        let ns_name = ns.name.clone();
        let lns = std::thread::spawn(move || {
            enter_namespace(&ns_name);
            let socket = UdpSocket::bind("127.0.0.1:1701").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            play_lns(&socket)
        });
        std::thread::sleep(Duration::from_millis(300));
        let xl2tpd = ns
            .exec(&[
                "xl2tpd",
                "-D",
                "-c",
                &path("xl2tpd.conf"),
                "-p",
                &path("xl2tpd.pid"),
                "-C",
                &path("l2tp-control"),
            ])
            .stdout(Stdio::null())
            .stderr(fs::File::create(path("xl2tpd.log")).unwrap())
            .spawn()
            .unwrap();
        ns.children.insert(0, xl2tpd);
        let transcript = lns.join().unwrap();
        let xl2tpd_log = fs::read_to_string(path("xl2tpd.log")).unwrap_or_default();
        eprintln!(
            "LNS transcript:\n{}\nxl2tpd log:\n{xl2tpd_log}",
            transcript.join("\n")
        );
        // Let dumpcap write the last frames before it is interrupted.
        std::thread::sleep(Duration::from_secs(2));
        drop(ns);
        let captured = super::l2tp_datagrams(std::path::Path::new(&pcap));
        assert!(
            captured.len() >= 12,
            "capture holds {} L2TP datagrams; not replacing the fixture",
            captured.len()
        );
        let target = fixture(HIDDEN_FIXTURE);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&pcap, &target).unwrap();
        fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        eprintln!(
            "wrote {} ({} L2TP datagrams)",
            target.display(),
            captured.len()
        );
    }

    fn enter_namespace(name: &str) {
        let file = fs::File::open(format!("/var/run/netns/{name}")).unwrap();
        // SAFETY: setns(2) on a valid fd; moves only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }

    /// The LNS side: answers SCCRQ, SCCCN, ICRQ, ICCN and CDN, then closes
    /// the tunnel with a StopCCN. Returns a transcript.
    fn play_lns(socket: &UdpSocket) -> Vec<String> {
        let hiding = Hiding {
            secret: HIDDEN_SECRET,
            random_vector: &LNS_RANDOM_VECTOR,
            // xl2tpd cannot unhide AVPs in the SCCRP it receives ("Invalid
            // Hidden AVP": it has not looked up the tunnel secret yet), so
            // the LNS hides only in later messages: the ICRP's session id.
            hide: &[AvpType::AssignedSessionId],
            // Pad like xl2tpd's own (test-only) hiding code: a subformat of
            // a multiple of 16 bytes.
            padding: HiddenPadding::ToMultipleOf(16),
        };
        let mut transcript = Vec::new();
        let mut peer: Option<SocketAddr> = None;
        let mut lac_tunnel = 0u16;
        let mut ns = 0u16;
        let mut nr = 0u16;
        let mut stop_sent = false;
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(11);
        while Instant::now() < deadline {
            let (len, from) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(_) => continue,
            };
            peer = Some(from);
            let packet = match Packet::new_checked(&buf[..len]) {
                Ok(packet) if packet.is_control() => packet,
                other => {
                    transcript.push(format!("ignored datagram: {other:?}"));
                    continue;
                }
            };
            let msg = match ControlMessage::parse(&packet, Some(HIDDEN_SECRET)) {
                Ok(msg) => msg,
                Err(e) => {
                    transcript.push(format!("parse error: {e}"));
                    continue;
                }
            };
            let hidden: Vec<u16> = msg
                .avps
                .iter()
                .filter(|i| i.hidden)
                .map(|i| i.avp.attr_type())
                .collect();
            transcript.push(format!(
                "<- {:?} ns={} nr={} hidden AVP types {hidden:?}",
                msg.message_type, msg.ns, msg.nr
            ));
            let Some(message_type) = msg.message_type else {
                if stop_sent {
                    break;
                }
                continue;
            };
            if msg.ns == nr {
                nr = nr.wrapping_add(1);
            }
            let reply = match message_type {
                MessageType::Sccrq => {
                    lac_tunnel = msg.assigned_tunnel_id().unwrap_or(0);
                    let mut sccrp = ControlMessage::new(MessageType::Sccrp)
                        .with_avp(Avp::ProtocolVersion(ProtocolVersion::RFC2661))
                        .with_avp(Avp::FramingCapabilities(Framing::SYNC | Framing::ASYNC))
                        .with_avp(Avp::BearerCapabilities(Bearer(0)))
                        .with_avp(Avp::FirmwareRevision(1))
                        .with_avp(Avp::HostName(b"tunnelnas-lns".to_vec()))
                        .with_avp(Avp::VendorName(b"tunnelnas".to_vec()))
                        .with_avp(Avp::ReceiveWindowSize(4))
                        .with_avp(Avp::Challenge(LNS_CHALLENGE.to_vec()))
                        .with_avp(Avp::AssignedTunnelId(LNS_TUNNEL_ID));
                    if let Some(challenge) = msg.challenge() {
                        let response = challenge_response(2, HIDDEN_SECRET, challenge);
                        sccrp = sccrp.with_avp(Avp::ChallengeResponse(response));
                    }
                    Some(sccrp.with_ids(lac_tunnel, 0))
                }
                MessageType::Scccn => {
                    let ok = msg.challenge_response().is_some_and(|r| {
                        verify_challenge_response(3, HIDDEN_SECRET, &LNS_CHALLENGE, &r)
                    });
                    transcript.push(format!("   SCCCN challenge response valid: {ok}"));
                    None
                }
                MessageType::Icrq => {
                    let lac_session = msg.assigned_session_id().unwrap_or(0);
                    Some(
                        ControlMessage::new(MessageType::Icrp)
                            .with_avp(Avp::AssignedSessionId(LNS_SESSION_ID))
                            .with_ids(lac_tunnel, lac_session),
                    )
                }
                MessageType::Cdn => {
                    // Acknowledge, then close the tunnel.
                    send(
                        socket,
                        from,
                        &ControlMessage::zlb(lac_tunnel, ns, nr),
                        None,
                        &mut transcript,
                    );
                    stop_sent = true;
                    Some(
                        ControlMessage::stop_ccn(
                            LNS_TUNNEL_ID,
                            ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
                        )
                        .with_ids(lac_tunnel, 0),
                    )
                }
                _ => None,
            };
            match reply {
                Some(mut reply) => {
                    reply.ns = ns;
                    reply.nr = nr;
                    ns = ns.wrapping_add(1);
                    send(socket, from, &reply, Some(&hiding), &mut transcript);
                }
                None => {
                    send(
                        socket,
                        from,
                        &ControlMessage::zlb(lac_tunnel, ns, nr),
                        None,
                        &mut transcript,
                    );
                }
            }
        }
        if peer.is_none() {
            transcript.push("no SCCRQ arrived".to_owned());
        }
        transcript
    }

    fn send(
        socket: &UdpSocket,
        to: SocketAddr,
        msg: &ControlMessage,
        hiding: Option<&Hiding<'_>>,
        transcript: &mut Vec<String>,
    ) {
        let bytes = msg.to_vec(hiding).unwrap();
        socket.send_to(&bytes, to).unwrap();
        transcript.push(format!(
            "-> {:?} ns={} nr={} ({} bytes)",
            msg.message_type,
            msg.ns,
            msg.nr,
            bytes.len()
        ));
    }
}
