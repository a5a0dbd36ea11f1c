//! The fast path's rewrites, one per pair of leg kinds, taken apart again
//! with the `wire` views; and the table's bookkeeping.

use super::*;
use crate::wire::ethernet::{Frame as EthernetFrame, VlanStack, VlanTag};
use crate::wire::l2tp::Packet as L2tpPacket;
use crate::wire::pppoe::SessionPacket;

const LOCAL_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 1]);
const SUBSCRIBER: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 2]);
/// Headroom callers keep in front of a received datagram.
const ROOM: usize = 32;

fn lns() -> SocketAddr {
    "192.0.2.10:1701".parse().unwrap()
}

fn other_lns() -> SocketAddr {
    "192.0.2.20:1701".parse().unwrap()
}

/// An IPv4 packet of `len` octets (header fields only as far as the fast
/// path reads them).
fn ipv4(len: usize) -> Vec<u8> {
    let mut ip = vec![0u8; len];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    ip[9] = 17;
    ip
}

fn pppoe_leg_c_vlan() -> Egress {
    let mut vlans = VlanStack::new();
    vlans
        .push_inner(VlanTag::new(EtherType::Vlan, 100).unwrap())
        .unwrap();
    pppoe_leg(0, LOCAL_MAC, SUBSCRIBER, vlans, 0x1234)
}

fn l2tp_leg(peer: SocketAddr, tunnel: u16, session: u16) -> Egress {
    Egress::L2tp {
        peer,
        peer_tunnel_id: tunnel,
        peer_session_id: session,
        next_ns: None,
    }
}

/// A PPPoE session frame from the subscriber carrying `ppp`; returns it
/// and where its PPP frame lies.
fn pppoe_frame(ppp: &[u8]) -> (Vec<u8>, Range<usize>) {
    let Egress::Pppoe {
        mut ethernet,
        session_id,
        ..
    } = pppoe_leg_c_vlan()
    else {
        unreachable!()
    };
    std::mem::swap(&mut ethernet.dst, &mut ethernet.src);
    let mut buf = vec![0u8; ethernet.buffer_len() + 6 + ppp.len()];
    let eth_len = ethernet.emit(&mut buf).unwrap();
    crate::wire::pppoe::SessionHeader::new(session_id, ppp.len())
        .unwrap()
        .emit(&mut buf[eth_len..])
        .unwrap();
    buf[eth_len + 6..].copy_from_slice(ppp);
    let start = eth_len + 6;
    (buf, start..start + ppp.len())
}

/// An L2TP data message for our ids carrying `FF 03` and `ppp`, at
/// [`ROOM`] in the buffer; returns it and where the PPP frame lies.
fn l2tp_message(tunnel: u16, session: u16, ns: Option<u16>, ppp: &[u8]) -> (Vec<u8>, Range<usize>) {
    let mut header = HeaderRepr::data(tunnel, session);
    header.sequence = ns.map(|ns| Sequence { ns, nr: 0 });
    let payload_len = 2 + ppp.len();
    let mut buf = vec![0u8; ROOM + header.header_len() + payload_len];
    let header_len = header.emit(&mut buf[ROOM..], payload_len).unwrap();
    let ac = ROOM + header_len;
    buf[ac..ac + 2].copy_from_slice(&ADDRESS_CONTROL);
    buf[ac + 2..].copy_from_slice(ppp);
    (buf, ac + 2..ac + 2 + ppp.len())
}

/// An IPv4 packet from `source` to `destination`.
fn ipv4_between(source: [u8; 4], destination: [u8; 4], len: usize) -> Vec<u8> {
    let mut ip = ipv4(len);
    ip[12..16].copy_from_slice(&source);
    ip[16..20].copy_from_slice(&destination);
    ip
}

/// An IPv6 packet from `source` (the rest zero).
fn ipv6_from(source: std::net::Ipv6Addr, len: usize) -> Vec<u8> {
    let mut ip = vec![0u8; len.max(40)];
    ip[0] = 0x60;
    ip[8..24].copy_from_slice(&source.octets());
    ip
}

fn ppp_ipv4(len: usize) -> Vec<u8> {
    let mut ppp = vec![0x00, 0x21];
    ppp.extend(ipv4(len));
    ppp
}

fn lac_table(now: Instant) -> (FastPath, Slot) {
    let mut table = FastPath::new();
    let entry = Entry::new(7, pppoe_leg_c_vlan(), l2tp_leg(lns(), 40, 41), 0, now);
    let slot = table.insert(
        LegKey::Pppoe {
            interface: 0,
            session_id: 0x1234,
        },
        Some(LegKey::L2tp {
            tunnel_id: 4,
            session_id: 5,
        }),
        entry,
    );
    (table, slot)
}

#[test]
fn pppoe_to_l2tp_rewrites_in_place_with_the_peer_ids() {
    let now = Instant::now();
    let (mut table, slot) = lac_table(now);
    let ppp = ppp_ipv4(64);
    let (mut frame, range) = pppoe_frame(&ppp);
    let leg = table
        .lookup(&LegKey::Pppoe {
            interface: 0,
            session_id: 0x1234,
        })
        .unwrap();
    assert_eq!(
        leg,
        LegRef {
            slot,
            side: Side::First
        }
    );
    assert!(table.source_matches(leg, Source::Mac(SUBSCRIBER)));
    assert!(!table.source_matches(leg, Source::Mac(LOCAL_MAC)));
    let Delivery::Datagram { to, range } = table.forward(now, leg, &mut frame, range).unwrap()
    else {
        panic!("expected a datagram")
    };
    assert_eq!(to, lns());
    let message = L2tpPacket::new_checked(&frame[range]).unwrap();
    assert!(!message.is_control());
    assert_eq!((message.tunnel_id(), message.session_id()), (40, 41));
    assert_eq!(message.ns(), None);
    assert_eq!(&message.payload()[..2], &ADDRESS_CONTROL);
    assert_eq!(&message.payload()[2..], &ppp[..]);
    let entry = table.entry(slot).unwrap();
    assert_eq!(entry.arrived(Side::First).packets, 1);
    assert_eq!(entry.arrived(Side::First).bytes, ppp.len() as u64);
    assert_eq!(table.totals().upstream.packets, 1);
}

#[test]
fn l2tp_to_pppoe_writes_ethernet_vlan_and_pppoe_in_the_headroom() {
    let now = Instant::now();
    let (mut table, slot) = lac_table(now);
    let ppp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0];
    let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
    let leg = table
        .lookup(&LegKey::L2tp {
            tunnel_id: 4,
            session_id: 5,
        })
        .unwrap();
    assert_eq!(leg.side, Side::Second);
    assert!(table.source_matches(leg, Source::Udp("192.0.2.10:40000".parse().unwrap())));
    assert!(!table.source_matches(leg, Source::Udp(other_lns())));
    let Delivery::Frame { interface, range } = table.forward(now, leg, &mut buf, range).unwrap()
    else {
        panic!("expected a frame")
    };
    assert_eq!(interface, 0);
    let frame = EthernetFrame::new_checked(&buf[range]).unwrap();
    assert_eq!(frame.dst(), SUBSCRIBER);
    assert_eq!(frame.src(), LOCAL_MAC);
    assert_eq!(
        frame.vlans().iter().map(|t| t.vid).collect::<Vec<_>>(),
        [100]
    );
    assert_eq!(frame.ethertype(), EtherType::PppoeSession);
    let session = SessionPacket::new_checked(frame.payload()).unwrap();
    assert_eq!(session.session_id(), 0x1234);
    assert_eq!(session.payload(), &ppp);
    // LCP is not the subscriber's data: the idle clock is not reset by the
    // network side either.
    assert_eq!(table.entry(slot).unwrap().arrived(Side::Second).packets, 1);
    assert_eq!(table.totals().downstream.packets, 1);
}

#[test]
fn l2tp_to_l2tp_switches_ids_and_peer_and_follows_sequencing() {
    let now = Instant::now();
    let mut table = FastPath::new();
    let entry = Entry::new(
        9,
        l2tp_leg(lns(), 40, 41),
        l2tp_leg(other_lns(), 80, 81),
        0,
        now,
    );
    let incoming = LegKey::L2tp {
        tunnel_id: 4,
        session_id: 5,
    };
    let outgoing = LegKey::L2tp {
        tunnel_id: 8,
        session_id: 9,
    };
    table.insert(incoming, Some(outgoing), entry);
    let ppp = ppp_ipv4(40);
    // The far LNS sequences its data: our messages towards it do too.
    let from_far = table.lookup(&outgoing).unwrap();
    table.follow_sequencing(from_far, true);
    for expected_ns in 0..3u16 {
        let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
        let leg = table.lookup(&incoming).unwrap();
        let Delivery::Datagram { to, range } = table.forward(now, leg, &mut buf, range).unwrap()
        else {
            panic!("expected a datagram")
        };
        assert_eq!(to, other_lns());
        let message = L2tpPacket::new_checked(&buf[range]).unwrap();
        assert_eq!((message.tunnel_id(), message.session_id()), (80, 81));
        assert_eq!(message.ns(), Some(expected_ns));
        assert_eq!(&message.payload()[2..], &ppp[..]);
    }
    // And back, unsequenced, to the first peer's ids.
    let (mut buf, range) = l2tp_message(8, 9, Some(0), &ppp);
    let Delivery::Datagram { to, range } = table.forward(now, from_far, &mut buf, range).unwrap()
    else {
        panic!("expected a datagram")
    };
    assert_eq!(to, lns());
    let message = L2tpPacket::new_checked(&buf[range]).unwrap();
    assert_eq!((message.tunnel_id(), message.session_id()), (40, 41));
    assert_eq!(message.ns(), None);
    // It stops sequencing: so do we.
    table.follow_sequencing(from_far, false);
    let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
    let leg = table.lookup(&incoming).unwrap();
    let Delivery::Datagram { range, .. } = table.forward(now, leg, &mut buf, range).unwrap() else {
        panic!("expected a datagram")
    };
    assert_eq!(L2tpPacket::new_checked(&buf[range]).unwrap().ns(), None);
}

#[test]
fn local_leg_hands_ip_to_tun_and_control_to_the_link() {
    let now = Instant::now();
    let mut table = FastPath::new();
    let address: IpAddr = "198.51.100.7".parse().unwrap();
    let mut entry = Entry::new(3, l2tp_leg(lns(), 40, 41), Egress::Local, 0, now);
    // The test packets' source (0.0.0.0) is the subscriber's here.
    entry.sources.push("0.0.0.0/32".parse().unwrap());
    let slot = table.insert(
        LegKey::L2tp {
            tunnel_id: 4,
            session_id: 5,
        },
        Some(LegKey::Ip(address)),
        entry,
    );
    let from_lac = table
        .lookup(&LegKey::L2tp {
            tunnel_id: 4,
            session_id: 5,
        })
        .unwrap();
    // IPv4 (protocol field compressed or not) leaves without it.
    for ppp in [ppp_ipv4(28), {
        let mut compressed = vec![0x21];
        compressed.extend(ipv4(28));
        compressed
    }] {
        let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
        let Delivery::Ip { range, .. } = table.forward(now, from_lac, &mut buf, range).unwrap()
        else {
            panic!("expected an IP packet")
        };
        assert_eq!(&buf[range], &ipv4(28)[..]);
    }
    // LCP goes to the session's link, uncounted by the data path.
    let lcp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0];
    let (mut buf, range) = l2tp_message(4, 5, None, &lcp);
    let at = range.clone();
    assert_eq!(
        table.forward(now, from_lac, &mut buf, range),
        Ok(Delivery::Link { slot, range: at })
    );
    assert_eq!(table.entry(slot).unwrap().arrived(Side::First).packets, 2);
    // IP from TUN gets its PPP protocol field and leaves by L2TP.
    let to_subscriber = table.lookup(&LegKey::Ip(address)).unwrap();
    assert!(table.source_matches(to_subscriber, Source::Tun));
    let ip = ipv4(60);
    let mut buf = vec![0u8; ROOM + ip.len()];
    buf[ROOM..].copy_from_slice(&ip);
    let Delivery::Datagram { to, range } = table
        .forward_ip(now, to_subscriber, &mut buf, ROOM..ROOM + ip.len())
        .unwrap()
    else {
        panic!("expected a datagram")
    };
    assert_eq!(to, lns());
    let message = L2tpPacket::new_checked(&buf[range]).unwrap();
    assert_eq!(&message.payload()[..4], &[0xff, 0x03, 0x00, 0x21]);
    assert_eq!(&message.payload()[4..], &ip[..]);
    // Not IP at all: refused.
    let mut junk = vec![0u8; ROOM + 20];
    assert_eq!(
        table.forward_ip(now, to_subscriber, &mut junk, ROOM..ROOM + 20),
        Err(FastPathDrop::Malformed)
    );
}

#[test]
fn policer_drops_and_counts_and_idle_time_follows_subscriber_data() {
    let start = Instant::now();
    let (mut table, slot) = lac_table(start);
    // 12 kbit/s with a 1,500-octet bucket: one big frame fits, the next
    // does not.
    table.entry_mut(slot).unwrap().policers[0] = Some(Policer::new(start, 12_000, Some(1500)));
    let leg = table
        .lookup(&LegKey::Pppoe {
            interface: 0,
            session_id: 0x1234,
        })
        .unwrap();
    let later = start + std::time::Duration::from_millis(5);
    let ppp = ppp_ipv4(1400);
    let (mut frame, range) = pppoe_frame(&ppp);
    assert!(table.forward(later, leg, &mut frame, range).is_ok());
    assert_eq!(table.entry(slot).unwrap().last_activity, later);
    let (mut frame, range) = pppoe_frame(&ppp);
    assert_eq!(
        table.forward(later, leg, &mut frame, range),
        Err(FastPathDrop::Policed)
    );
    assert_eq!(table.totals().policed, 1);
    assert_eq!(table.entry(slot).unwrap().arrived(Side::First).packets, 1);
    // An LCP echo from the subscriber passes but is not activity.
    let even_later = later + std::time::Duration::from_secs(1);
    let (mut frame, range) = pppoe_frame(&[0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0]);
    assert!(table.forward(even_later, leg, &mut frame, range).is_ok());
    assert_eq!(table.entry(slot).unwrap().last_activity, later);
}

#[test]
fn removal_frees_keys_and_slots_are_reused() {
    let now = Instant::now();
    let (mut table, slot) = lac_table(now);
    assert_eq!(table.len(), 1);
    let removed = table.remove(slot).unwrap();
    assert_eq!(removed.session, 7);
    assert!(table.is_empty());
    assert!(
        table
            .lookup(&LegKey::L2tp {
                tunnel_id: 4,
                session_id: 5
            })
            .is_none()
    );
    assert!(table.remove(slot).is_none());
    let again = table.insert(
        LegKey::Pppoe {
            interface: 1,
            session_id: 1,
        },
        None,
        Entry::new(8, pppoe_leg_c_vlan(), l2tp_leg(lns(), 1, 1), 0, now),
    );
    assert_eq!(again, slot);
    // A stale slot forwards nothing.
    table.remove(again);
    let (mut frame, range) = pppoe_frame(&ppp_ipv4(20));
    assert_eq!(
        table.forward(
            now,
            LegRef {
                slot,
                side: Side::First
            },
            &mut frame,
            range
        ),
        Err(FastPathDrop::UnknownSession)
    );
}

#[test]
fn a_key_taken_over_by_a_new_session_survives_the_old_one_s_removal() {
    let now = Instant::now();
    let (mut table, old) = lac_table(now);
    let key = LegKey::Pppoe {
        interface: 0,
        session_id: 0x1234,
    };
    let new = table.insert(
        key,
        None,
        Entry::new(8, pppoe_leg_c_vlan(), l2tp_leg(lns(), 1, 1), 0, now),
    );
    table.remove(old);
    assert_eq!(table.lookup(&key).map(|r| r.slot), Some(new));
}

#[test]
fn empty_and_truncated_frames_are_counted_drops() {
    let now = Instant::now();
    let (mut table, slot) = lac_table(now);
    let leg = LegRef {
        slot,
        side: Side::First,
    };
    let mut buf = vec![0u8; 40];
    assert_eq!(
        table.forward(now, leg, &mut buf, 30..30),
        Err(FastPathDrop::Malformed)
    );
    assert_eq!(
        table.forward(now, leg, &mut buf, 30..60),
        Err(FastPathDrop::Malformed)
    );
    // Too little headroom for the L2TP header.
    assert_eq!(
        table.forward(now, leg, &mut buf, 4..20),
        Err(FastPathDrop::Malformed)
    );
    assert_eq!(table.totals().dropped, 3);
}

/// An LNS session: the incoming call (tunnel 4, session 5) and `Local`,
/// with the subscriber's address as its key and source.
fn lns_table(now: Instant, address: [u8; 4]) -> (FastPath, Slot) {
    let mut table = FastPath::new();
    let mut entry = Entry::new(9, l2tp_leg(lns(), 40, 41), Egress::Local, 0, now);
    entry.sources.push(IpNet::from(IpAddr::from(address)));
    let call = LegKey::L2tp {
        tunnel_id: 4,
        session_id: 5,
    };
    let slot = table.insert(call, Some(LegKey::Ip(IpAddr::from(address))), entry);
    (table, slot)
}

#[test]
fn ip_from_a_subscriber_with_a_source_not_its_own_is_dropped_as_spoofed() {
    let now = Instant::now();
    let (mut table, _) = lns_table(now, [10, 64, 0, 2]);
    let leg = table
        .lookup(&LegKey::L2tp {
            tunnel_id: 4,
            session_id: 5,
        })
        .unwrap();
    let mut ppp = vec![0x00, 0x21];
    ppp.extend(ipv4_between([10, 64, 0, 2], [192, 0, 2, 1], 40));
    let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
    assert!(matches!(
        table.forward(now, leg, &mut buf, range),
        Ok(Delivery::Ip { .. })
    ));
    let mut spoofed = vec![0x00, 0x21];
    spoofed.extend(ipv4_between([10, 64, 0, 3], [192, 0, 2, 1], 40));
    let (mut buf, range) = l2tp_message(4, 5, None, &spoofed);
    assert_eq!(
        table.forward(now, leg, &mut buf, range),
        Err(FastPathDrop::Spoofed)
    );
    // An IPv6 source outside the session's prefixes, too.
    let mut six = vec![0x00, 0x57];
    six.extend(ipv6_from("2001:db8::1".parse().unwrap(), 48));
    let (mut buf, range) = l2tp_message(4, 5, None, &six);
    assert_eq!(
        table.forward(now, leg, &mut buf, range),
        Err(FastPathDrop::Spoofed)
    );
    // A routed prefix is a source too once it is allowed.
    table
        .entry_mut(Slot(0))
        .unwrap()
        .sources
        .push("2001:db8::/56".parse().unwrap());
    let (mut buf, range) = l2tp_message(4, 5, None, &six);
    assert!(matches!(
        table.forward(now, leg, &mut buf, range),
        Ok(Delivery::Ip { .. })
    ));
    assert_eq!(table.totals().dropped, 2);
}

#[test]
fn a_session_without_sources_is_not_up_for_ip() {
    let now = Instant::now();
    let mut table = FastPath::new();
    let call = LegKey::L2tp {
        tunnel_id: 4,
        session_id: 5,
    };
    table.insert(
        call,
        None,
        Entry::new(9, l2tp_leg(lns(), 40, 41), Egress::Local, 0, now),
    );
    let leg = table.lookup(&call).unwrap();
    let mut ppp = vec![0x00, 0x21];
    ppp.extend(ipv4_between([10, 64, 0, 2], [192, 0, 2, 1], 40));
    let (mut buf, range) = l2tp_message(4, 5, None, &ppp);
    assert_eq!(
        table.forward(now, leg, &mut buf, range),
        Err(FastPathDrop::NotUp)
    );
}

#[test]
fn destinations_resolve_to_the_address_then_the_longest_routed_prefix() {
    let now = Instant::now();
    let (mut table, slot) = lns_table(now, [10, 64, 0, 2]);
    assert_eq!(
        table
            .lookup_destination("10.64.0.2".parse().unwrap())
            .map(|l| (l.slot, l.side)),
        Some((slot, Side::Second))
    );
    assert!(
        table
            .lookup_destination("10.64.0.3".parse().unwrap())
            .is_none()
    );
    // A Framed-Route and a delegated IPv6 prefix behind the subscriber.
    assert!(table.add_route(slot, Side::Second, "192.0.2.0/24".parse().unwrap()));
    assert!(table.add_route(slot, Side::Second, "2001:db8:100::/56".parse().unwrap()));
    // A second session owns a longer prefix inside the first's route.
    let second = table.insert(
        LegKey::L2tp {
            tunnel_id: 4,
            session_id: 6,
        },
        None,
        Entry::new(10, l2tp_leg(lns(), 40, 42), Egress::Local, 0, now),
    );
    assert!(table.add_route(second, Side::Second, "192.0.2.128/25".parse().unwrap()));
    let at = |table: &FastPath, ip: &str| {
        table
            .lookup_destination(ip.parse().unwrap())
            .map(|l| l.slot)
    };
    assert_eq!(at(&table, "192.0.2.1"), Some(slot));
    assert_eq!(at(&table, "192.0.2.200"), Some(second));
    assert_eq!(at(&table, "2001:db8:100:ff::1"), Some(slot));
    assert_eq!(at(&table, "2001:db8:101::1"), None);
    // Routes go with their session.
    table.remove(second);
    assert_eq!(at(&table, "192.0.2.200"), Some(slot));
    table.remove_route(slot, "192.0.2.0/24".parse().unwrap());
    assert_eq!(at(&table, "192.0.2.1"), None);
    table.remove(slot);
    assert_eq!(at(&table, "2001:db8:100::1"), None);
    assert_eq!(at(&table, "10.64.0.2"), None);
}

#[test]
fn control_frames_of_a_local_session_are_wrapped_for_its_call_with_its_sequence() {
    let now = Instant::now();
    let (mut table, slot) = lns_table(now, [10, 64, 0, 2]);
    if let Some(Egress::L2tp { next_ns, .. }) = table.entry_mut(slot).map(|e| &mut e.legs[0]) {
        *next_ns = Some(7);
    }
    let lcp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0];
    let mut buf = vec![0u8; ROOM + lcp.len()];
    buf[ROOM..].copy_from_slice(&lcp);
    let Some(Delivery::Datagram { to, range }) =
        table.wrap_for(slot, Side::First, &mut buf, ROOM..ROOM + lcp.len())
    else {
        panic!("expected a datagram");
    };
    assert_eq!(to, lns());
    let message = L2tpPacket::new_checked(&buf[range]).unwrap();
    assert_eq!(message.tunnel_id(), 40);
    assert_eq!(message.session_id(), 41);
    assert_eq!(&message.payload()[..2], &ADDRESS_CONTROL);
    assert_eq!(&message.payload()[2..], &lcp);
    assert!(message.has_sequence());
    // The next one carries Ns 8; a Local leg has nothing to wrap for.
    if let Some(Egress::L2tp { next_ns, .. }) = table.entry(slot).map(|e| &e.legs[0]) {
        assert_eq!(*next_ns, Some(8));
    }
    assert_eq!(
        table.wrap_for(slot, Side::Second, &mut buf, ROOM..ROOM + lcp.len()),
        None
    );
}
