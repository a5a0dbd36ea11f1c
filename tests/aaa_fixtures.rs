//! The AAA attribute mapping on real captured traffic: the Access-Accept of
//! `tests/fixtures/captures/radius-auth-acct-coa-dm.pcap` (radclient ↔
//! FreeRADIUS 3.2.1, secret `testing123`, see the README beside it) maps to
//! two L2TP tunnel candidates with Tunnel-Password `secret` and `secret2`.

use std::fs::File;
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcapng::{Block, PcapNgReader};
use tunnelnas::aaa::attributes::{Decision, TunnelEndpoint, decision_from_response};
use tunnelnas::wire::radius::{Code, Packet};

const SECRET: &[u8] = b"testing123";

/// UDP payloads of every frame (Ethernet, IPv4, UDP) of a pcapng file.
fn udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = PcapNgReader::new(File::open(path).unwrap()).unwrap();
    let mut links = Vec::new();
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(idb) => links.push(idb.linktype),
            Block::EnhancedPacket(epb) => {
                assert_eq!(links[epb.interface_id as usize], DataLink::ETHERNET);
                let frame = epb.data;
                assert_eq!(&frame[12..14], &[0x08, 0x00], "IPv4 without VLAN tags");
                let ip = &frame[14..];
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let udp = &ip[ihl..];
                let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
                out.push(udp[8..len].to_vec());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn captured_access_accept_gives_two_candidates_with_exact_passwords() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures/radius-auth-acct-coa-dm.pcap");
    let payloads = udp_payloads(&path);
    let request = Packet::new_checked(&payloads[0][..]).unwrap();
    let accept = Packet::new_checked(&payloads[1][..]).unwrap();
    assert_eq!(request.code(), Code::AccessRequest);
    assert_eq!(accept.code(), Code::AccessAccept);
    accept
        .verify_response(&request.authenticator(), SECRET)
        .unwrap();
    let Decision::Accept(a) = decision_from_response(&accept, &request.authenticator(), SECRET)
    else {
        panic!("not an accept");
    };
    assert!(a.skipped_tunnels.is_empty(), "{:?}", a.skipped_tunnels);
    assert_eq!(a.tunnels.len(), 2);
    let first = &a.tunnels[0];
    assert_eq!(first.tag, 1);
    assert_eq!(first.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!(first.preference, Some(1));
    assert_eq!(
        first.server_endpoint,
        TunnelEndpoint::Ip("127.0.0.2".parse().unwrap())
    );
    assert_eq!(first.assignment_id.as_deref(), Some(&b"lns1"[..]));
    assert_eq!(first.client_auth_id.as_deref(), Some(&b"lac1"[..]));
    assert_eq!(first.server_auth_id.as_deref(), Some(&b"LNS1"[..]));
    let second = &a.tunnels[1];
    assert_eq!(second.tag, 2);
    assert_eq!(second.password.as_deref(), Some(&b"secret2"[..]));
    assert_eq!(second.preference, Some(2));
    assert_eq!(second.assignment_id.as_deref(), Some(&b"lns2"[..]));
    // With the wrong secret the passwords never come out right.
    if let Decision::Accept(wrong) =
        decision_from_response(&accept, &request.authenticator(), b"wrong")
    {
        assert!(
            wrong
                .tunnels
                .iter()
                .all(|t| t.password.as_deref() != Some(&b"secret"[..]))
        );
    }
}
