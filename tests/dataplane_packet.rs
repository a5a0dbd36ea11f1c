//! AF_PACKET sockets on a real veth pair between two namespaces: the BPF
//! filter passes PPPoE (untagged, 802.1Q, 802.1ad, QinQ) and nothing else,
//! VLAN tags survive (from the frame or from PACKET_AUXDATA when the kernel
//! strips them), batches work both ways and our own sends are not read back.

mod common;

use std::time::{Duration, Instant};

use common::netns::{Netns, VethPair};
use tunnelnas::dataplane::packet::{PacketSocket, RecvBatch};
use tunnelnas::wire::ethernet::{EtherType, Frame, MacAddress};

const BROADCAST: [u8; 6] = [0xff; 6];

/// An Ethernet frame: dst, src, VLAN tags (tpid, vid), ethertype, payload
/// padded to the 60-byte minimum.
fn frame(src: MacAddress, tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&BROADCAST);
    out.extend_from_slice(src.as_bytes());
    for (tpid, vid) in tags {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&vid.to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(payload);
    while out.len() < 60 {
        out.push(0);
    }
    out
}

/// A PADI carrying a Host-Uniq that tells the frames apart.
fn padi(marker: u8) -> Vec<u8> {
    vec![
        0x11, 0x09, 0x00, 0x00, 0x00, 0x0c, // ver/type, PADI, session 0, length 12
        0x01, 0x01, 0x00, 0x00, // Service-Name (empty)
        0x01, 0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, marker, // Host-Uniq
    ]
}

/// Receives until `want` frames arrived or `timeout` passed; returns each
/// frame's (VLAN ids outer→inner, ethertype, Host-Uniq marker or session id).
fn receive(socket: &PacketSocket, want: usize, timeout: Duration) -> Vec<(Vec<u16>, u16, u8)> {
    let mut batch = RecvBatch::new(8);
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    while seen.len() < want && Instant::now() < deadline {
        match socket.recv_batch(&mut batch) {
            Ok(_) => {
                for received in batch.iter() {
                    let frame = Frame::new_checked(received.data).expect("valid Ethernet");
                    let vlans = frame
                        .vlans_with_stripped(received.stripped_vlan)
                        .expect("valid tags");
                    let payload = frame.payload();
                    // Discovery: the Host-Uniq's last byte; session: the
                    // session id's low byte.
                    let marker = if frame.ethertype() == EtherType::PppoeDiscovery {
                        payload[17]
                    } else {
                        payload[3]
                    };
                    seen.push((
                        vlans.iter().map(|t| t.vid).collect(),
                        u16::from(frame.ethertype()),
                        marker,
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("recv_batch: {e}"),
        }
    }
    seen
}

#[test]
fn filter_passes_pppoe_only_and_keeps_vlan_tags() -> common::Result<()> {
    common::require_root()?;
    let access = Netns::new("pkt-acc")?;
    let subscriber = Netns::new("pkt-sub")?;
    let veth = VethPair::new(&access, &subscriber)?;
    let (lac_if, sub_if) = (veth.a().to_owned(), veth.b().to_owned());

    let lac = access.run(move || PacketSocket::open(&lac_if))??;
    let sub = subscriber.run(move || PacketSocket::open(&sub_if))??;
    assert_ne!(lac.mac(), sub.mac());
    let src = sub.mac();

    let frames = [
        frame(src, &[], 0x8863, &padi(1)),              // PPPoE, untagged
        frame(src, &[], 0x0800, &[0x45; 40]),           // IPv4: filtered
        frame(src, &[], 0x0806, &[0; 28]),              // ARP: filtered
        frame(src, &[(0x8100, 100)], 0x8863, &padi(2)), // 802.1Q
        frame(src, &[(0x88a8, 10), (0x8100, 20)], 0x8863, &padi(3)), // QinQ
        frame(src, &[(0x9100, 11), (0x8100, 21)], 0x8863, &padi(4)), // legacy QinQ
        frame(src, &[(0x8100, 100)], 0x0800, &[0x45; 40]), // tagged IPv4: filtered
        frame(src, &[(0x88a8, 1), (0x8100, 2)], 0x86dd, &[0x60; 40]), // QinQ IPv6: filtered
        frame(
            src,
            &[],
            0x8864,
            &[0x11, 0x00, 0x12, 0x34, 0x00, 0x02, 0xc0, 0x21],
        ), // session
    ];
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let sent = sub.send_batch(&refs)?;
    assert_eq!(sent, frames.len(), "sendmmsg sent every frame");

    let got = receive(&lac, 5, Duration::from_secs(3));
    let (pppoe_d, pppoe_s) = (
        u16::from(EtherType::PppoeDiscovery),
        u16::from(EtherType::PppoeSession),
    );
    assert_eq!(
        got,
        vec![
            (vec![], pppoe_d, 1),
            (vec![100], pppoe_d, 2),
            (vec![10, 20], pppoe_d, 3),
            (vec![11, 21], pppoe_d, 4),
            (vec![], pppoe_s, 0x34),
        ],
        "exactly the PPPoE frames, in order, with their VLAN stacks"
    );
    // Nothing else trickles in after the filtered frames.
    assert!(receive(&lac, 1, Duration::from_millis(300)).is_empty());
    // The sender does not read back its own transmissions.
    assert!(receive(&sub, 1, Duration::from_millis(300)).is_empty());

    // And the other direction, one frame at a time.
    lac.send(&frame(lac.mac(), &[(0x8100, 7)], 0x8863, &padi(9)))?;
    assert_eq!(
        receive(&sub, 1, Duration::from_secs(3)),
        vec![(vec![7], pppoe_d, 9)]
    );
    Ok(())
}

#[test]
fn opening_a_missing_interface_names_it() {
    let err = PacketSocket::open("tn-nosuchif").unwrap_err();
    assert!(err.to_string().contains("tn-nosuchif"), "{err}");
}
