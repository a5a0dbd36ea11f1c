//! The Ethernet, PPPoE and PPP wire formats against captures of independent
//! implementations (`tests/fixtures/captures/README.md`):
//!
//! * `pppoe-lcp-pap-ipcp.pcap` (pcapng): BNG Blaster 0.9.38 as ten PPPoE
//!   clients and as the access concentrator — discovery, LCP, PAP, IPCP,
//!   LCP termination, PADT;
//! * `pppoe-padi-rp-pppoe.pcap` (pcap): rp-pppoe 3.15 PADIs.
//!
//! Every frame is parsed down to the deepest layer modelled (Ethernet →
//! PPPoE discovery tags, or PPPoE session → PPP → LCP / PAP / IPCP
//! options), re-emitted from the parsed representations and compared byte
//! for byte with the capture. The facts asserted were read with
//! `tshark -r FILE -V`. Finally every length field of every frame is
//! corrupted and the parsers must answer with an error, never a panic.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use tunnelnas::wire::Error;
use tunnelnas::wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddress};
use tunnelnas::wire::ppp::control::ControlPacket;
use tunnelnas::wire::ppp::{
    self, AuthMethod, ChapRepr, ControlMessage, FrameHeader, IpcpOption, IpcpRepr, Ipv6cpRepr,
    LcpOption, LcpRepr, PapMessage, PapRepr, Protocol,
};
use tunnelnas::wire::pppoe::{
    Code, DiscoveryRepr, Packet, SessionHeader, SessionPacket, Tag, TagType,
};

fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(name)
}

/// `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u16 = 1;

/// Reads the packets of a pcapng file, checking that every interface's link
/// type is Ethernet.
///
/// pcap-file 2.0.0 cannot read BNG Blaster's pcapng: it insists on an
/// `opt_endofopt` after block options, which the pcapng specification
/// (draft-ietf-opsawg-pcapng §3.5) makes optional and BNG Blaster omits.
/// The block structure is simple enough to walk here: type, total length,
/// body, total length again.
fn read_pcapng(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert!(bytes.len() >= 12, "pcapng too short");
    let little_endian = match &bytes[8..12] {
        [0x4d, 0x3c, 0x2b, 0x1a] => true,
        [0x1a, 0x2b, 0x3c, 0x4d] => false,
        other => panic!("bad pcapng byte-order magic {other:02x?}"),
    };
    let u32_at = |b: &[u8], at: usize| {
        let word = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if little_endian {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        }
    };
    let u16_at = |b: &[u8], at: usize| {
        let half = [b[at], b[at + 1]];
        if little_endian {
            u16::from_le_bytes(half)
        } else {
            u16::from_be_bytes(half)
        }
    };
    let mut frames = Vec::new();
    let mut link_types = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let block_type = u32_at(bytes, offset);
        let len = u32_at(bytes, offset + 4) as usize;
        assert!(
            len >= 12 && len % 4 == 0 && offset + len <= bytes.len(),
            "block length"
        );
        assert_eq!(
            u32_at(bytes, offset + len - 4) as usize,
            len,
            "block trailer"
        );
        let body = &bytes[offset + 8..offset + len - 4];
        match block_type {
            // Section Header Block: interface ids restart.
            0x0a0d_0d0a => link_types.clear(),
            // Interface Description Block.
            0x0000_0001 => link_types.push(u16_at(body, 0)),
            // Enhanced Packet Block.
            0x0000_0006 => {
                let interface = u32_at(body, 0) as usize;
                let captured = u32_at(body, 12) as usize;
                let original = u32_at(body, 16) as usize;
                assert_eq!(link_types.get(interface), Some(&LINKTYPE_ETHERNET));
                assert_eq!(captured, original, "not truncated");
                frames.push(body[20..20 + captured].to_vec());
            }
            0x0000_0002 | 0x0000_0003 => panic!("unexpected obsolete or simple packet block"),
            _ => {}
        }
        offset += len;
    }
    assert!(!link_types.is_empty(), "no interface description");
    frames
}

/// Reads every packet of a pcap or pcapng file, checking that the link
/// type is Ethernet.
fn read_ethernet_frames(name: &str) -> Vec<Vec<u8>> {
    let path = capture_path(name);
    let bytes = std::fs::read(&path).expect("read capture");
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        return read_pcapng(&bytes);
    }
    let mut reader =
        PcapReader::new(File::open(&path).expect("open capture")).expect("pcap header");
    assert_eq!(reader.header().datalink, DataLink::ETHERNET);
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("pcap packet");
        assert_eq!(packet.data.len(), packet.orig_len as usize, "not truncated");
        frames.push(packet.data.into_owned());
    }
    frames
}

/// What a PPPoE session frame carries.
#[derive(Debug, Clone, PartialEq)]
enum PppPacket {
    Lcp(LcpRepr),
    Pap(PapRepr),
    Chap(ChapRepr),
    Ipcp(IpcpRepr),
    Ipv6cp(Ipv6cpRepr),
}

/// A frame parsed to the deepest layer.
#[derive(Debug, Clone, PartialEq)]
enum Payload {
    Discovery(DiscoveryRepr),
    Session {
        header: SessionHeader,
        ppp: FrameHeader,
        packet: PppPacket,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Dissected {
    ethernet: EthernetRepr,
    payload: Payload,
}

fn dissect(bytes: &[u8]) -> Result<Dissected, Error> {
    let frame = Frame::new_checked(bytes)?;
    let ethernet = EthernetRepr::parse(&frame)?;
    let payload = match ethernet.ethertype {
        EtherType::PppoeDiscovery => Payload::Discovery(DiscoveryRepr::parse(
            &Packet::new_checked(frame.payload())?,
        )?),
        EtherType::PppoeSession => {
            let session = SessionPacket::new_checked(frame.payload())?;
            let ppp_frame = ppp::Frame::new_checked(session.payload())?;
            let control = ControlPacket::new_checked(ppp_frame.payload())?;
            let packet = match ppp_frame.protocol() {
                Protocol::Lcp => PppPacket::Lcp(LcpRepr::parse(&control)?),
                Protocol::Pap => PppPacket::Pap(PapRepr::parse(&control)?),
                Protocol::Chap => PppPacket::Chap(ChapRepr::parse(&control)?),
                Protocol::Ipcp => PppPacket::Ipcp(IpcpRepr::parse(&control)?),
                Protocol::Ipv6cp => PppPacket::Ipv6cp(Ipv6cpRepr::parse(&control)?),
                _ => return Err(Error::Unsupported("PPP protocol not modelled in this test")),
            };
            Payload::Session {
                header: SessionHeader::parse(&session),
                ppp: FrameHeader::parse(&ppp_frame),
                packet,
            }
        }
        _ => return Err(Error::Unsupported("EtherType not modelled in this test")),
    };
    Ok(Dissected { ethernet, payload })
}

/// Rebuilds the whole frame from the parsed representations.
fn reemit(dissected: &Dissected) -> Vec<u8> {
    let mut out = vec![0u8; 1600];
    let mut at = dissected.ethernet.emit(&mut out).expect("emit Ethernet");
    match &dissected.payload {
        Payload::Discovery(repr) => at += repr.emit(&mut out[at..]).expect("emit discovery"),
        Payload::Session {
            header,
            ppp,
            packet,
        } => {
            at += header.emit(&mut out[at..]).expect("emit session header");
            at += ppp.emit(&mut out[at..]).expect("emit PPP header");
            at += match packet {
                PppPacket::Lcp(r) => r.emit(&mut out[at..]),
                PppPacket::Pap(r) => r.emit(&mut out[at..]),
                PppPacket::Chap(r) => r.emit(&mut out[at..]),
                PppPacket::Ipcp(r) => r.emit(&mut out[at..]),
                PppPacket::Ipv6cp(r) => r.emit(&mut out[at..]),
            }
            .expect("emit PPP packet");
        }
    }
    out.truncate(at);
    out
}

/// Parses and re-emits every frame, asserting byte identity.
fn dissect_all(name: &str) -> Vec<Dissected> {
    read_ethernet_frames(name)
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            let number = index + 1;
            let dissected = dissect(bytes).unwrap_or_else(|e| panic!("{name} frame {number}: {e}"));
            if let Payload::Session { ppp, .. } = &dissected.payload {
                // PPPoE carries neither Address/Control nor a compressed
                // protocol in these captures, so the canonical encoding is
                // the captured one.
                assert!(!ppp.address_control, "frame {number}");
            }
            assert_eq!(
                reemit(&dissected),
                *bytes,
                "{name} frame {number} does not re-emit byte-identically"
            );
            dissected
        })
        .collect()
}

fn client_mac(n: u8) -> MacAddress {
    MacAddress([0x02, 0, 0, 0, 0, n])
}

const BNG_BLASTER_AC: &str = "f6:d1:68:8c:eb:17";

fn control_code(packet: &PppPacket) -> (&'static str, u8) {
    match packet {
        PppPacket::Lcp(r) => ("LCP", r.code()),
        PppPacket::Pap(r) => ("PAP", r.message.code()),
        PppPacket::Chap(r) => ("CHAP", r.message.code()),
        PppPacket::Ipcp(r) => ("IPCP", r.code()),
        PppPacket::Ipv6cp(r) => ("IPv6CP", r.code()),
    }
}

#[test]
fn bng_blaster_session_setup_parses_and_reemits_byte_identically() {
    let frames = dissect_all("pppoe-lcp-pap-ipcp.pcap");
    assert_eq!(frames.len(), 410);
    let ac: MacAddress = BNG_BLASTER_AC.parse().expect("AC MAC");

    // The packet mix tshark shows.
    let mut census: BTreeMap<(&str, u8), usize> = BTreeMap::new();
    for frame in &frames {
        let key = match &frame.payload {
            Payload::Discovery(repr) => ("PPPoED", u8::from(repr.code)),
            Payload::Session { packet, .. } => control_code(packet),
        };
        *census.entry(key).or_default() += 1;
    }
    let expected: BTreeMap<(&str, u8), usize> = [
        (("PPPoED", 0x09), 20),
        (("PPPoED", 0x07), 20),
        (("PPPoED", 0x19), 20),
        (("PPPoED", 0x65), 20),
        (("PPPoED", 0xa7), 10),
        (("LCP", 1), 40),
        (("LCP", 2), 40),
        (("LCP", 5), 20),
        (("LCP", 6), 20),
        (("PAP", 1), 20),
        (("PAP", 2), 20),
        (("IPCP", 1), 80),
        (("IPCP", 2), 60),
        (("IPCP", 3), 20),
    ]
    .into_iter()
    .collect();
    assert_eq!(census, expected);

    // Frame 1: PADI from client 1 to broadcast, one empty Service-Name.
    let padi = &frames[0];
    assert_eq!(padi.ethernet.dst, MacAddress::BROADCAST);
    assert_eq!(padi.ethernet.src, client_mac(1));
    assert!(padi.ethernet.vlans.is_empty());
    let Payload::Discovery(padi_repr) = &padi.payload else {
        panic!("frame 1 is not discovery")
    };
    assert_eq!(padi_repr.code, Code::Padi);
    assert_eq!(padi_repr.session_id, 0);
    assert_eq!(padi_repr.tags, vec![Tag::ServiceName(Vec::new())]);
    assert_eq!(padi_repr.host_uniq(), None);

    // Frame 21: PADO to client 1: Service-Name "access" and a 16-byte cookie.
    let pado = &frames[20];
    assert_eq!((pado.ethernet.src, pado.ethernet.dst), (ac, client_mac(1)));
    let Payload::Discovery(pado_repr) = &pado.payload else {
        panic!("frame 21 is not discovery")
    };
    assert_eq!(pado_repr.code, Code::Pado);
    assert_eq!(pado_repr.service_name(), Some(&b"access"[..]));
    let cookie = pado_repr.ac_cookie().expect("AC-Cookie");
    assert_eq!(
        cookie,
        [
            0xb8, 0x73, 0x6f, 0x9f, 0x9c, 0x86, 0xd5, 0x64, 0x8e, 0xef, 0xeb, 0x8f, 0xd8, 0x9f,
            0xaf, 0x3b
        ]
    );
    assert_eq!(pado_repr.ac_name(), None);
    assert_eq!(pado_repr.max_payload(), None);

    // Frame 41: the PADR returns the cookie unmodified (RFC 2516 §5.3).
    let Payload::Discovery(padr_repr) = &frames[40].payload else {
        panic!("frame 41 is not discovery")
    };
    assert_eq!(padr_repr.code, Code::Padr);
    assert_eq!(padr_repr.ac_cookie(), Some(cookie));

    for n in 1..=10u8 {
        let to_client = |f: &&Dissected| f.ethernet.dst == client_mac(n);
        let from_client = |f: &&Dissected| f.ethernet.src == client_mac(n);

        // PADS gives client n session n.
        let pads = frames
            .iter()
            .filter(to_client)
            .find_map(|f| match &f.payload {
                Payload::Discovery(r) if r.code == Code::Pads => Some(r),
                _ => None,
            })
            .expect("PADS");
        assert_eq!(pads.session_id, u16::from(n));
        assert_eq!(pads.service_name(), Some(&b"access"[..]));

        // Every session frame of client n, both directions, uses session n.
        for frame in frames.iter().filter(|f| to_client(f) || from_client(f)) {
            if let Payload::Session { header, .. } = &frame.payload {
                assert_eq!(header.session_id, u16::from(n));
            }
        }

        let lcp_requests = |from_client_side: bool| {
            frames
                .iter()
                .filter(move |f| {
                    if from_client_side {
                        from_client(f)
                    } else {
                        to_client(f)
                    }
                })
                .filter_map(|f| match &f.payload {
                    Payload::Session {
                        packet: PppPacket::Lcp(r),
                        ..
                    } => match &r.message {
                        ControlMessage::ConfigureRequest(options) => Some(options.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        // Client: MRU 1492, Magic-Number n.
        let client_request = lcp_requests(true);
        assert_eq!(client_request.len(), 2);
        assert_eq!(
            client_request[0],
            vec![LcpOption::Mru(1492), LcpOption::MagicNumber(u32::from(n))]
        );
        // AC: MRU 1492, PAP, Magic-Number 0x0100000n.
        let ac_request = lcp_requests(false);
        assert_eq!(ac_request.len(), 2);
        assert_eq!(ac_request[0][0], LcpOption::Mru(1492));
        assert_eq!(ac_request[0][1].auth_method(), Some(AuthMethod::Pap));
        assert_eq!(
            ac_request[0][2],
            LcpOption::MagicNumber(0x0100_0000 | u32::from(n))
        );

        // PAP: user n authenticates with password "test"; the AC acks.
        let pap: Vec<&PapMessage> = frames
            .iter()
            .filter(|f| to_client(f) || from_client(f))
            .filter_map(|f| match &f.payload {
                Payload::Session {
                    packet: PppPacket::Pap(r),
                    ..
                } => Some(&r.message),
                _ => None,
            })
            .collect();
        assert_eq!(pap.len(), 4);
        assert!(pap.contains(&&PapMessage::AuthenticateRequest {
            peer_id: format!("user{n}@test").into_bytes(),
            password: b"test".to_vec(),
        }));
        assert!(pap.contains(&&PapMessage::AuthenticateAck {
            message: b"BNG-Blaster-A10NSP".to_vec(),
        }));

        // IPCP: the client asks for 0.0.0.0 and DNS, the AC naks with
        // 10.0.0.(10 + n), 8.8.8.8 and 1.1.1.1, and requests 10.0.0.10.
        let ipcp: Vec<(bool, &ControlMessage<IpcpOption>)> = frames
            .iter()
            .filter(|f| to_client(f) || from_client(f))
            .filter_map(|f| match &f.payload {
                Payload::Session {
                    packet: PppPacket::Ipcp(r),
                    ..
                } => Some((from_client(&f), &r.message)),
                _ => None,
            })
            .collect();
        let assigned = Ipv4Addr::new(10, 0, 0, 10 + n);
        let nak = ControlMessage::ConfigureNak(vec![
            IpcpOption::IpAddress(assigned),
            IpcpOption::PrimaryDns(Ipv4Addr::new(8, 8, 8, 8)),
            IpcpOption::SecondaryDns(Ipv4Addr::new(1, 1, 1, 1)),
        ]);
        assert!(ipcp.contains(&(false, &nak)));
        assert!(ipcp.contains(&(
            true,
            &ControlMessage::ConfigureRequest(vec![
                IpcpOption::IpAddress(Ipv4Addr::UNSPECIFIED),
                IpcpOption::PrimaryDns(Ipv4Addr::UNSPECIFIED),
                IpcpOption::SecondaryDns(Ipv4Addr::UNSPECIFIED),
            ])
        )));
        assert!(ipcp.contains(&(
            false,
            &ControlMessage::ConfigureRequest(vec![IpcpOption::IpAddress(Ipv4Addr::new(
                10, 0, 0, 10
            ))])
        )));

        // Teardown: PADT from the client for session n, no tags.
        let padt = frames
            .iter()
            .filter(from_client)
            .find_map(|f| match &f.payload {
                Payload::Discovery(r) if r.code == Code::Padt => Some(r),
                _ => None,
            })
            .expect("PADT");
        assert_eq!(padt.session_id, u16::from(n));
        assert!(padt.tags.is_empty());
    }

    // Frame 361: Terminate-Request, identifier 2, no data.
    match &frames[360].payload {
        Payload::Session {
            packet: PppPacket::Lcp(r),
            ..
        } => {
            assert_eq!(r.identifier, 2);
            assert_eq!(r.message, ControlMessage::TerminateRequest(Vec::new()));
        }
        other => panic!("frame 361: {other:?}"),
    }
}

#[test]
fn rp_pppoe_padis_parse_and_reemit_byte_identically() {
    let frames = dissect_all("pppoe-padi-rp-pppoe.pcap");
    assert_eq!(frames.len(), 6);
    let host: MacAddress = "be:75:15:20:0d:47".parse().expect("MAC");
    for (index, frame) in frames.iter().enumerate() {
        assert_eq!(frame.ethernet.dst, MacAddress::BROADCAST);
        assert_eq!(frame.ethernet.src, host);
        let Payload::Discovery(repr) = &frame.payload else {
            panic!("frame {} is not discovery", index + 1)
        };
        assert_eq!(repr.code, Code::Padi);
        assert_eq!(repr.session_id, 0);
        // `pppoe -A` asks for any service, `pppoe -d -S isp` for "isp".
        let service: &[u8] = if index < 3 { b"" } else { b"isp" };
        assert_eq!(repr.tags, vec![Tag::ServiceName(service.to_vec())]);
        assert_eq!(repr.find(TagType::HostUniq), None);
    }
}

// ---------------------------------------------------------------------------
// Malformed inputs built from the real frames
// ---------------------------------------------------------------------------

fn all_frames() -> Vec<Vec<u8>> {
    let mut frames = read_ethernet_frames("pppoe-lcp-pap-ipcp.pcap");
    frames.extend(read_ethernet_frames("pppoe-padi-rp-pppoe.pcap"));
    frames
}

/// Adds `delta` to the big-endian u16 at `offset`.
fn bump_u16(bytes: &mut [u8], offset: usize, delta: u16) {
    let value = u16::from_be_bytes([bytes[offset], bytes[offset + 1]]).wrapping_add(delta);
    bytes[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
}

fn expect_error(bytes: &[u8], what: &str) {
    assert!(dissect(bytes).is_err(), "{what}: {bytes:02x?} parsed");
}

#[test]
fn every_truncation_is_an_error() {
    // The captured frames carry no Ethernet padding, so PPPoE LENGTH reaches
    // the last byte: any shorter buffer breaks a length field.
    for frame in all_frames() {
        for len in 0..frame.len() {
            expect_error(&frame[..len], &format!("truncated to {len}"));
        }
    }
}

#[test]
fn padding_after_pppoe_length_is_ignored() {
    for frame in all_frames() {
        let mut padded = frame.clone();
        padded.resize(frame.len().max(60) + 4, 0);
        let original = dissect(&frame).expect("original");
        assert_eq!(dissect(&padded).expect("padded"), original);
        assert_eq!(reemit(&original), frame);
    }
}

#[test]
fn every_length_field_overrun_is_an_error() {
    const ETH: usize = 14;
    const PPPOE: usize = ETH;
    const CONTROL: usize = PPPOE + 6 + 2;
    for frame in all_frames() {
        // PPPoE LENGTH one past the buffer.
        let mut bad = frame.clone();
        bump_u16(&mut bad, PPPOE + 4, 1);
        assert!(
            matches!(dissect(&bad), Err(Error::Truncated { .. })),
            "PPPoE LENGTH"
        );

        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == 0x8863 {
            // The last tag's TAG_LENGTH one past the payload.
            let tags = &frame[PPPOE + 6..];
            let mut offset = 0;
            let mut last = None;
            while offset + 4 <= tags.len() {
                last = Some(offset);
                offset += 4 + usize::from(u16::from_be_bytes([tags[offset + 2], tags[offset + 3]]));
            }
            if let Some(last) = last {
                let mut bad = frame.clone();
                bump_u16(&mut bad, PPPOE + 6 + last + 2, 1);
                expect_error(&bad, "TAG_LENGTH");
            }
            continue;
        }

        // Session: the PPP control packet's Length, too long and too short.
        let mut bad = frame.clone();
        bump_u16(&mut bad, CONTROL + 2, 1);
        assert!(
            matches!(dissect(&bad), Err(Error::Truncated { .. })),
            "control Length"
        );
        for short in 0..4u8 {
            let mut bad = frame.clone();
            bad[CONTROL + 2..CONTROL + 4].copy_from_slice(&[0, short]);
            assert!(
                matches!(dissect(&bad), Err(Error::Malformed(_))),
                "control Length {short}"
            );
        }

        let protocol = u16::from_be_bytes([frame[PPPOE + 6], frame[PPPOE + 7]]);
        let code = frame[CONTROL];
        let data = CONTROL + 4;
        match (protocol, code) {
            // LCP / IPCP Configure-*: each option's Length below 2 and the
            // last one's past the data.
            (0xc021 | 0x8021, 1..=4) => {
                let mut offset = data;
                let mut last = None;
                while offset + 2 <= frame.len() {
                    for short in 0..2 {
                        let mut bad = frame.clone();
                        bad[offset + 1] = short;
                        assert!(
                            matches!(dissect(&bad), Err(Error::Malformed(_))),
                            "option Length {short}"
                        );
                    }
                    last = Some(offset);
                    offset += usize::from(frame[offset + 1]);
                }
                if let Some(last) = last {
                    let mut bad = frame.clone();
                    bad[last + 1] += 1;
                    expect_error(&bad, "option Length");
                }
            }
            // PAP Authenticate-Request: Peer-ID Length and Passwd-Length.
            (0xc023, 1) => {
                let mut bad = frame.clone();
                bad[data] = 0xff;
                expect_error(&bad, "Peer-ID Length");
                let passwd = data + 1 + usize::from(frame[data]);
                let mut bad = frame.clone();
                bad[passwd] += 1;
                expect_error(&bad, "Passwd-Length");
            }
            // PAP Authenticate-Ack: Msg-Length.
            (0xc023, 2) => {
                let mut bad = frame.clone();
                bad[data] += 1;
                expect_error(&bad, "Msg-Length");
            }
            _ => {}
        }
    }
}
