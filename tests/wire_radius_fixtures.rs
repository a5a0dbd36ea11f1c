//! RADIUS packets written by independent implementations (radclient and
//! FreeRADIUS 3.2.1), parsed and verified with `tunnelnas::wire::radius`.
//!
//! * `tests/fixtures/captures/radius-auth-acct-coa-dm.pcap` (pcapng despite
//!   its name): Access-Request/Accept with two RFC 2868 tag groups,
//!   Access-Reject, Accounting, CoA, Disconnect, unanswered retries.
//! * `tests/fixtures/radius/freeradius-vsa-msgauth.pcap` (pcap): requests and
//!   replies with Message-Authenticator, VSAs (Microsoft, Cisco, Mikrotik,
//!   DSL Forum, tunnelnas), an untagged tunnel string, a 41-octet
//!   Tunnel-Password, CoA-NAK with Error-Cause. See its README.
//!
//! Both captures: link type Ethernet on loopback, IPv4, UDP; shared secret
//! `testing123`. Ethernet, IPv4 and UDP headers are stripped here.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use tunnelnas::wire::radius::{
    Authenticator, Code, Packet, PacketRepr, TunnelMediumType, TunnelType, TunnelValue,
    VendorSpecific, Verified, attr, decrypt_salted, unhide_user_password, vendor,
};

const SECRET: &[u8] = b"testing123";

/// One UDP datagram: source port, destination port, payload.
struct Datagram {
    src_port: u16,
    dst_port: u16,
    payload: Vec<u8>,
}

/// Reads every frame of a pcap or pcapng file; every interface must be
/// Ethernet.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut reader = PcapNgReader::new(File::open(path).unwrap()).unwrap();
        let mut links = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(idb) => links.push(idb.linktype),
                Block::EnhancedPacket(epb) => {
                    let link = links[epb.interface_id as usize];
                    assert_eq!(link, DataLink::ETHERNET, "{}: link type", path.display());
                    out.push(epb.data.into_owned());
                }
                _ => {}
            }
        }
    } else {
        let mut reader = PcapReader::new(File::open(path).unwrap()).unwrap();
        assert_eq!(
            reader.header().datalink,
            DataLink::ETHERNET,
            "{}: link type",
            path.display()
        );
        while let Some(packet) = reader.next_packet() {
            out.push(packet.unwrap().data.into_owned());
        }
    }
    out
}

/// Strips Ethernet (with optional 802.1Q tags), IPv4 and UDP.
fn udp(frame: &[u8]) -> Datagram {
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([frame[offset], frame[offset + 1]]);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        offset += 4;
        ethertype = u16::from_be_bytes([frame[offset], frame[offset + 1]]);
    }
    assert_eq!(ethertype, 0x0800, "IPv4 only in these captures");
    let ip = &frame[offset + 2..];
    assert_eq!(ip[0] >> 4, 4);
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert_eq!(ip[9], 17, "UDP");
    let udp = &ip[ihl..total];
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    Datagram {
        src_port: u16::from_be_bytes([udp[0], udp[1]]),
        dst_port: u16::from_be_bytes([udp[2], udp[3]]),
        payload: udp[8..udp_len].to_vec(),
    }
}

/// A RADIUS packet with the port of its client (the request's source port,
/// the response's destination port).
struct Captured {
    client_port: u16,
    bytes: Vec<u8>,
}

impl Captured {
    fn packet(&self) -> Packet<&[u8]> {
        Packet::new_checked(&self.bytes[..]).unwrap()
    }
}

fn radius_packets(path: &Path, server_ports: &[u16]) -> Vec<Captured> {
    frames(path)
        .iter()
        .map(|f| udp(f))
        .map(|d| {
            let client_port = if server_ports.contains(&d.dst_port) {
                d.src_port
            } else {
                assert!(server_ports.contains(&d.src_port), "unexpected ports");
                d.dst_port
            };
            Captured {
                client_port,
                bytes: d.payload,
            }
        })
        .collect()
}

fn fixture(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Verifies every packet: requests on their own, responses against the
/// request with the same client port and identifier. Returns, per packet,
/// what the verification found, and the request authenticator of each
/// (client port, identifier).
fn verify_all(packets: &[Captured]) -> (Vec<Verified>, HashMap<(u16, u8), Authenticator>) {
    let mut requests = HashMap::new();
    let mut verdicts = Vec::new();
    for captured in packets {
        let packet = captured.packet();
        // Canonical re-emit: every packet round-trips byte for byte.
        let repr = PacketRepr::parse(&packet).unwrap();
        let mut again = vec![0; repr.buffer_len()];
        repr.emit(&mut again).unwrap();
        assert_eq!(again, packet.as_bytes());

        let key = (captured.client_port, packet.identifier());
        let verdict = if packet.code().is_response() {
            let request: &Authenticator = requests
                .get(&key)
                .unwrap_or_else(|| panic!("response {key:?} without request"));
            packet
                .verify_response(request, SECRET)
                .unwrap_or_else(|e| panic!("{:?} id {}: {e}", packet.code(), packet.identifier()))
        } else {
            requests.insert(key, packet.authenticator());
            packet
                .verify_request(SECRET)
                .unwrap_or_else(|e| panic!("{:?} id {}: {e}", packet.code(), packet.identifier()))
        };
        verdicts.push(verdict);
    }
    (verdicts, requests)
}

/// (tag, attribute type) → decoded value text, for easy assertions.
fn tunnel_groups(
    packet: &Packet<&[u8]>,
    request: &Authenticator,
) -> std::collections::BTreeMap<u8, Vec<String>> {
    let mut groups = std::collections::BTreeMap::<u8, Vec<String>>::new();
    for attribute in packet.attributes() {
        let attribute = attribute.unwrap();
        let Some(tagged) = TunnelValue::parse(&attribute).unwrap() else {
            continue;
        };
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let entry = match tagged.value {
            TunnelValue::Type(t) => format!("type={t:?}"),
            TunnelValue::MediumType(m) => format!("medium={m:?}"),
            TunnelValue::ClientEndpoint(b) => format!("client={}", text(b)),
            TunnelValue::ServerEndpoint(b) => format!("server={}", text(b)),
            TunnelValue::Password(hidden) => {
                // RFC 2868 §3.5: hidden with the Access-Request's authenticator.
                let plain = decrypt_salted(hidden, SECRET, request).unwrap();
                format!("password={}", text(plain.as_bytes()))
            }
            TunnelValue::PrivateGroupId(b) => format!("group={}", text(b)),
            TunnelValue::AssignmentId(b) => format!("assignment={}", text(b)),
            TunnelValue::Preference(p) => format!("preference={p}"),
            TunnelValue::ClientAuthId(b) => format!("client-auth={}", text(b)),
            TunnelValue::ServerAuthId(b) => format!("server-auth={}", text(b)),
        };
        groups.entry(tagged.tag).or_default().push(entry);
    }
    groups
}

#[test]
fn shared_capture_auth_acct_coa_disconnect() {
    let packets = radius_packets(
        &fixture("tests/fixtures/captures/radius-auth-acct-coa-dm.pcap"),
        &[1812, 1813, 3799, 3800],
    );
    let codes: Vec<Code> = packets.iter().map(|c| c.packet().code()).collect();
    use Code::*;
    assert_eq!(
        codes,
        vec![
            AccessRequest,
            AccessAccept,
            AccessRequest,
            AccessAccept,
            AccessRequest,
            AccessReject,
            DisconnectRequest,
            DisconnectAck,
            CoaRequest,
            CoaAck,
            DisconnectRequest,
            DisconnectRequest,
            AccountingRequest,
            AccountingResponse,
        ]
    );
    let (verdicts, requests) = verify_all(&packets);
    // This capture carries no Message-Authenticator (the other fixture does).
    assert!(verdicts.iter().all(|v| !v.message_authenticator));

    // Access-Request id 204: User-Password "test" (RFC 2865 §5.2).
    let request = packets[0].packet();
    let hidden = request.attribute(attr::USER_PASSWORD).unwrap().value();
    assert_eq!(
        unhide_user_password(hidden, SECRET, &request.authenticator())
            .unwrap()
            .as_bytes(),
        b"test"
    );
    let bad = packets[4].packet();
    assert_eq!(
        unhide_user_password(
            bad.attribute(attr::USER_PASSWORD).unwrap().value(),
            SECRET,
            &bad.authenticator()
        )
        .unwrap()
        .as_bytes(),
        b"bad"
    );

    // Access-Accept id 204: two tag groups, Tunnel-Password decrypted with
    // the matching Access-Request's authenticator.
    let accept = packets[1].packet();
    let request_auth = requests[&(packets[1].client_port, accept.identifier())];
    assert_eq!(request_auth, request.authenticator());
    let groups = tunnel_groups(&accept, &request_auth);
    let expect = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        groups[&1],
        expect(&[
            "type=L2tp",
            "medium=Ipv4",
            "server=127.0.0.2",
            "password=secret",
            "preference=1",
            "assignment=lns1",
            "client-auth=lac1",
            "server-auth=LNS1",
        ])
    );
    assert_eq!(
        groups[&2],
        expect(&[
            "type=L2tp",
            "medium=Ipv4",
            "server=127.0.0.3",
            "password=secret2",
            "preference=2",
            "assignment=lns2",
        ])
    );
    assert_eq!(groups.len(), 2);
    // Integer tunnel attributes are tag + 3 octets (attribute length 6).
    let tunnel_type = accept.attribute(attr::TUNNEL_TYPE).unwrap();
    assert_eq!(tunnel_type.value(), &[1, 0, 0, 3]);
    let parsed = TunnelValue::parse(&tunnel_type).unwrap().unwrap();
    assert_eq!(parsed.value, TunnelValue::Type(TunnelType::L2tp));
    // A Tunnel-Password decrypted with the wrong (response) authenticator,
    // as the radius crate does, does not give the password back.
    let hidden = accept.attribute(attr::TUNNEL_PASSWORD).unwrap().value();
    let wrong = decrypt_salted(&hidden[1..], SECRET, &accept.authenticator());
    assert!(wrong.map_or(true, |p| p.as_bytes() != b"secret"));

    // CoA-Request id 168 carries Session-Timeout 600.
    let coa = packets[8].packet();
    assert_eq!(
        coa.attribute(attr::SESSION_TIMEOUT)
            .unwrap()
            .as_u32()
            .unwrap(),
        600
    );
    // The unanswered Disconnect-Request retries are identical.
    assert_eq!(packets[10].bytes, packets[11].bytes);
}

#[test]
fn freeradius_message_authenticator_and_vsas() {
    let packets = radius_packets(
        &fixture("tests/fixtures/radius/freeradius-vsa-msgauth.pcap"),
        &[21812, 21813, 23799],
    );
    let codes: Vec<Code> = packets.iter().map(|c| c.packet().code()).collect();
    use Code::*;
    assert_eq!(
        codes,
        vec![
            AccessRequest,
            AccessAccept,
            AccessRequest,
            AccessReject,
            StatusServer,
            AccessAccept,
            AccountingRequest,
            AccountingResponse,
            CoaRequest,
            CoaAck,
            CoaRequest,
            CoaNak,
            DisconnectRequest,
            DisconnectAck,
        ]
    );
    let (verdicts, requests) = verify_all(&packets);
    let with_ma: Vec<bool> = verdicts.iter().map(|v| v.message_authenticator).collect();
    // Every packet carries a verified Message-Authenticator except
    // FreeRADIUS's reply to Status-Server.
    let mut expected = vec![true; 14];
    expected[5] = false;
    assert_eq!(with_ma, expected);

    // Access-Request: 32-octet User-Password (two blocks) and DSL Forum
    // VSAs (RFC 4679).
    let request = packets[0].packet();
    assert_eq!(
        unhide_user_password(
            request.attribute(attr::USER_PASSWORD).unwrap().value(),
            SECRET,
            &request.authenticator()
        )
        .unwrap()
        .as_bytes(),
        b"a-password-of-more-than-16-bytes"
    );
    let dsl: Vec<(u8, Vec<u8>)> = request
        .vendor_attributes(vendor::DSL_FORUM)
        .flat_map(|v| {
            assert!(v.is_well_formed());
            v.sub_attributes()
                .map(|a| (a.ty(), a.value().to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        dsl,
        vec![
            (vendor::AGENT_CIRCUIT_ID, b"dslam-7 eth 1/1/1:100".to_vec()),
            (vendor::AGENT_REMOTE_ID, b"cpe-000102".to_vec()),
            (129, 1024u32.to_be_bytes().to_vec()),
            (130, 16384u32.to_be_bytes().to_vec()),
            (144, vec![1, 0, 0]),
        ]
    );
    assert_eq!(
        request
            .attribute(attr::NAS_PORT_TYPE)
            .unwrap()
            .as_u32()
            .unwrap(),
        32,
        "PPPoEoE (RFC 4603) by name from tunnelnas's dictionary"
    );

    // Access-Accept: VSAs of four vendors, MPPE keys (RFC 2548 salted
    // hiding, shared with Tunnel-Password), one tagged and one untagged
    // tunnel attribute.
    let accept = packets[1].packet();
    let request_auth = requests[&(packets[1].client_port, accept.identifier())];
    let cisco: Vec<String> = accept
        .vendor_attributes(vendor::CISCO)
        .flat_map(|v| {
            v.sub_attributes()
                .map(|a| String::from_utf8(a.value().to_vec()).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        cisco,
        vec!["ip:addr-pool=wholesale", "subscriber:service-name=internet"]
    );
    let mikrotik: Vec<VendorSpecific<'_>> = accept.vendor_attributes(14988).collect();
    assert_eq!(mikrotik[0].sub_attribute(8).unwrap().value(), b"10M/20M");
    let tunnelnas: Vec<(u8, u32)> = accept
        .vendor_attributes(vendor::TUNNELNAS)
        .flat_map(|v| {
            v.sub_attributes()
                .map(|a| (a.ty(), a.as_u32().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        tunnelnas,
        vec![(1, 10_000), (2, 50_000), (3, 125_000), (4, 625_000)]
    );
    let ms = |ty: u8| -> Vec<u8> {
        accept
            .vendor_attributes(vendor::MICROSOFT)
            .find_map(|v| v.sub_attribute(ty).map(|a| a.value().to_vec()))
            .unwrap()
    };
    let success = ms(vendor::MS_CHAP2_SUCCESS);
    assert_eq!(success[0], 1, "MS-CHAP2-Success starts with the CHAP Ident");
    assert_eq!(&success[1..3], b"S=");
    assert_eq!(success.len(), 43);
    let send_key = ms(vendor::MS_MPPE_SEND_KEY);
    assert_ne!(send_key[0] & 0x80, 0, "salt high bit (RFC 2548 §2.4.2)");
    assert_eq!(
        decrypt_salted(&send_key, SECRET, &request_auth)
            .unwrap()
            .as_bytes(),
        hex::decode("00112233445566778899aabbccddeeff").unwrap()
    );
    assert_eq!(
        decrypt_salted(&ms(vendor::MS_MPPE_RECV_KEY), SECRET, &request_auth)
            .unwrap()
            .as_bytes(),
        hex::decode("ffeeddccbbaa9988776655443322110000112233445566778899aabbccddeeff").unwrap()
    );
    assert_eq!(ms(7), 2u32.to_be_bytes(), "MS-MPPE-Encryption-Policy");
    assert_eq!(ms(28), [192, 0, 2, 53], "MS-Primary-DNS-Server");

    let groups = tunnel_groups(&accept, &request_auth);
    let expect = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        groups[&3],
        expect(&[
            "type=L2tp",
            "medium=Ipv4",
            "server=192.0.2.10",
            "password=a-tunnel-secret-longer-than-sixteen-bytes",
            "group=wholesale-grp",
            "preference=10",
        ])
    );
    // Untagged string attribute: FreeRADIUS writes no tag octet.
    assert_eq!(groups[&0], expect(&["client=198.51.100.1"]));
    assert_eq!(
        TunnelMediumType::from(1),
        TunnelMediumType::Ipv4,
        "Tunnel-Medium-Type IPv4 = 1"
    );

    // CoA-NAK: Error-Cause Session-Context-Not-Found (RFC 5176 §3.6).
    let nak = packets[11].packet();
    assert_eq!(
        nak.attribute(attr::ERROR_CAUSE).unwrap().as_u32().unwrap(),
        503
    );
    // The Access-Reject carries the Reply-Message.
    assert_eq!(
        packets[3]
            .packet()
            .attribute(attr::REPLY_MESSAGE)
            .unwrap()
            .value(),
        b"rejected by fixture"
    );
}

#[test]
fn the_radius_crate_decodes_every_captured_packet() {
    for (path, ports) in [
        (
            "tests/fixtures/captures/radius-auth-acct-coa-dm.pcap",
            &[1812u16, 1813, 3799, 3800][..],
        ),
        (
            "tests/fixtures/radius/freeradius-vsa-msgauth.pcap",
            &[21812, 21813, 23799][..],
        ),
    ] {
        for captured in radius_packets(&fixture(path), ports) {
            let theirs = radius::core::packet::Packet::decode(&captured.bytes, SECRET).unwrap();
            let ours = captured.packet();
            assert_eq!(u8::from(ours.code()), theirs.get_code() as u8);
            assert_eq!(ours.identifier(), theirs.get_identifier());
        }
    }
}
