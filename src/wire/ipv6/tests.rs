//! IPv6 header, Hop-by-Hop skipping, checksums, UDP, RS and RA.

use proptest::prelude::*;

use super::*;

const HOST: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0211, 0x22ff, 0xfe33, 0x4455);
const ROUTER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// A Router Solicitation as Linux sends it on a PPP link: from its
/// link-local address to all-routers, hop limit 255, no options (no
/// link-layer address on PPP).
fn router_solicitation() -> Vec<u8> {
    let mut icmp = vec![133, 0, 0, 0, 0, 0, 0, 0];
    Icmpv6Packet::new_checked(&mut icmp[..])
        .unwrap()
        .fill_checksum(&HOST, &ALL_ROUTERS);
    let mut packet = vec![0u8; HEADER_LEN];
    Ipv6Repr {
        src_addr: HOST,
        dst_addr: ALL_ROUTERS,
        next_header: NextHeader::Icmpv6,
        payload_len: icmp.len(),
        hop_limit: 255,
    }
    .emit(&mut packet)
    .unwrap();
    packet.extend_from_slice(&icmp);
    packet
}

#[test]
fn header_round_trips() {
    let bytes = router_solicitation();
    assert_eq!(&bytes[..8], &[0x60, 0, 0, 0, 0, 8, 58, 255]);
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    let repr = Ipv6Repr::parse(&packet);
    assert_eq!(repr.src_addr, HOST);
    assert_eq!(repr.dst_addr, ALL_ROUTERS);
    assert_eq!(repr.next_header, NextHeader::Icmpv6);
    assert_eq!((repr.payload_len, repr.hop_limit), (8, 255));
    assert_eq!((packet.traffic_class(), packet.flow_label()), (0, 0));
    let mut out = [0u8; 40];
    repr.emit(&mut out).unwrap();
    assert_eq!(out, bytes[..40]);
    let (next, upper) = upper_layer(&packet).unwrap();
    assert_eq!((next, upper), (NextHeader::Icmpv6, &bytes[40..]));
    // Trailing bytes past Payload Length are not part of the packet.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0xee; 4]);
    assert_eq!(Packet::new_checked(&padded[..]).unwrap().payload().len(), 8);
}

#[test]
fn bad_headers_are_errors() {
    let bytes = router_solicitation();
    let mut v4 = bytes.clone();
    v4[0] = 0x45;
    assert_eq!(
        Packet::new_checked(&v4[..]).unwrap_err(),
        Error::Malformed("IPv6 version is not 6")
    );
    let mut jumbo = bytes.clone();
    jumbo[4..7].copy_from_slice(&[0, 0, 0]);
    assert_eq!(
        Packet::new_checked(&jumbo[..]).unwrap_err(),
        Error::Unsupported("IPv6 jumbogram")
    );
    for len in 0..bytes.len() {
        assert!(
            matches!(
                Packet::new_checked(&bytes[..len]),
                Err(Error::Truncated { .. })
            ),
            "{len}"
        );
    }
    let mut out = [0u8; 39];
    assert!(
        Ipv6Repr::parse(&Packet::new_checked(&bytes[..]).unwrap())
            .emit(&mut out)
            .is_err()
    );
}

#[test]
fn hop_by_hop_is_skipped_and_other_extension_headers_refused() {
    // An MLDv2 report's shape: Hop-by-Hop with Router Alert, then ICMPv6.
    let hbh = [58, 0, 5, 2, 0, 0, 1, 0];
    let icmp = [143, 0, 0, 0, 0, 0, 0, 0];
    let mut bytes = vec![0u8; 40];
    Ipv6Repr {
        src_addr: HOST,
        dst_addr: "ff02::16".parse().unwrap(),
        next_header: NextHeader::HopByHop,
        payload_len: 16,
        hop_limit: 1,
    }
    .emit(&mut bytes)
    .unwrap();
    bytes.extend_from_slice(&hbh);
    bytes.extend_from_slice(&icmp);
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        upper_layer(&packet).unwrap(),
        (NextHeader::Icmpv6, &icmp[..])
    );
    // Hdr Ext Len beyond the payload.
    let mut long = bytes.clone();
    long[41] = 2;
    let packet = Packet::new_checked(&long[..]).unwrap();
    assert!(matches!(upper_layer(&packet), Err(Error::Truncated { .. })));
    // Hop-by-Hop followed by a fragment header.
    let mut fragment = bytes.clone();
    fragment[40] = 44;
    let packet = Packet::new_checked(&fragment[..]).unwrap();
    assert_eq!(
        upper_layer(&packet).unwrap_err(),
        Error::Unsupported("IPv6 extension header chain")
    );
    let mut routing = bytes;
    routing[6] = 43;
    let packet = Packet::new_checked(&routing[..]).unwrap();
    assert!(upper_layer(&packet).is_err());
}

#[test]
fn checksum_matches_a_hand_computed_sum() {
    // RFC 1071 by hand over the pseudo-header of the RS above.
    let bytes = router_solicitation();
    let mut sum: u32 = 0;
    let mut words = Vec::new();
    words.extend_from_slice(&bytes[8..40]);
    words.extend_from_slice(&8u32.to_be_bytes());
    words.extend_from_slice(&[0, 0, 0, 58]);
    words.extend_from_slice(&[133, 0, 0, 0, 0, 0, 0, 0]);
    for pair in words.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(u16::from_be_bytes([bytes[42], bytes[43]]), !(sum as u16));
    let icmp = Icmpv6Packet::new_checked(&bytes[40..]).unwrap();
    assert!(icmp.verify_checksum(&HOST, &ALL_ROUTERS));
    assert!(!icmp.verify_checksum(&ROUTER, &ALL_ROUTERS));
    // An odd length is padded with a zero byte (only the length in the
    // pseudo-header differs, by one).
    assert_eq!(
        checksum(&HOST, &ROUTER, NextHeader::Udp, &[1]),
        checksum(&HOST, &ROUTER, NextHeader::Udp, &[1, 0]).wrapping_add(1)
    );
}

#[test]
fn router_solicitation_is_validated() {
    let bytes = router_solicitation();
    let rs = RouterSolicit::parse(&bytes[40..], &HOST).unwrap();
    assert_eq!(rs.options().count(), 0);
    // With a Source Link-Layer Address (an Ethernet host would send one).
    let with_slla = [133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1];
    let rs = RouterSolicit::parse(&with_slla, &HOST).unwrap();
    assert_eq!(
        rs.options().next().unwrap().unwrap(),
        NdOption::SourceLinkLayer(&[2, 0, 0, 0, 0, 1])
    );
    // RFC 4861 §6.1.1: not from the unspecified address.
    assert!(RouterSolicit::parse(&with_slla, &Ipv6Addr::UNSPECIFIED).is_err());
    assert!(RouterSolicit::parse(&bytes[40..], &Ipv6Addr::UNSPECIFIED).is_ok());
    // Zero-length option, non-zero code, wrong type, too short.
    let zero = [133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    assert!(RouterSolicit::parse(&zero, &HOST).is_err());
    assert!(RouterSolicit::parse(&[133, 1, 0, 0, 0, 0, 0, 0], &HOST).is_err());
    assert!(RouterSolicit::parse(&[134, 0, 0, 0, 0, 0, 0, 0], &HOST).is_err());
    assert!(RouterSolicit::parse(&[133, 0, 0, 0, 0, 0, 0], &HOST).is_err());
}

fn advert_prefixes() -> [PrefixInformation; 2] {
    [
        PrefixInformation {
            prefix_len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 2_592_000,
            preferred_lifetime: 604_800,
            prefix: "2001:db8:1:2::".parse().unwrap(),
        },
        PrefixInformation {
            prefix_len: 64,
            on_link: false,
            autonomous: true,
            valid_lifetime: 0,
            preferred_lifetime: 0,
            prefix: "2001:db8:9::".parse().unwrap(),
        },
    ]
}

#[test]
fn router_advertisement_round_trips() {
    let prefixes = advert_prefixes();
    let dns: [Ipv6Addr; 2] = [
        "2001:db8::53".parse().unwrap(),
        "2001:db8::54".parse().unwrap(),
    ];
    let repr = RouterAdvertRepr {
        header: RaHeader {
            cur_hop_limit: 64,
            managed: false,
            other: true,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
        },
        prefixes: &prefixes,
        mtu: Some(1492),
        rdnss: Some(Rdnss {
            lifetime: 600,
            servers: &dns,
        }),
    };
    assert_eq!(repr.buffer_len(), 16 + 64 + 8 + 40);
    let mut buf = [0u8; 200];
    let len = repr.emit(&mut buf, &ROUTER, &ALL_NODES).unwrap();
    let bytes = &buf[..len];
    assert_eq!(
        &bytes[..8],
        &[134, 0, bytes[2], bytes[3], 64, 0x40, 0x07, 0x08]
    );
    assert!(
        Icmpv6Packet::new_checked(bytes)
            .unwrap()
            .verify_checksum(&ROUTER, &ALL_NODES)
    );
    let ra = RouterAdvert::parse(bytes).unwrap();
    assert_eq!(ra.header, repr.header);
    let options: Vec<NdOption<'_>> = ra.options().map(Result::unwrap).collect();
    assert_eq!(options.len(), 4);
    assert_eq!(options[0], NdOption::PrefixInformation(prefixes[0]));
    assert_eq!(options[1], NdOption::PrefixInformation(prefixes[1]));
    assert_eq!(options[2], NdOption::Mtu(1492));
    assert!(matches!(options[3], NdOption::Rdnss { lifetime: 600, .. }));
    assert_eq!(options[3].rdnss_servers().collect::<Vec<_>>(), dns);
    // Too small a buffer; an RDNSS option without servers is left out.
    assert!(repr.emit(&mut buf[..100], &ROUTER, &ALL_NODES).is_err());
    let bare = RouterAdvertRepr {
        prefixes: &[],
        mtu: None,
        rdnss: Some(Rdnss {
            lifetime: 1,
            servers: &[],
        }),
        ..repr
    };
    assert_eq!(bare.emit(&mut buf, &ROUTER, &ALL_NODES).unwrap(), 16);
}

#[test]
fn malformed_nd_options_are_errors() {
    for (bytes, what) in [
        (&[3u8, 3, 64][..], "short prefix information"),
        (
            &[5, 2, 0, 0, 0, 0, 5, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0][..],
            "16-byte MTU",
        ),
        (&[25, 1, 0, 0, 0, 0, 0, 0][..], "RDNSS without address"),
        (&[1][..], "one byte"),
        (&[9, 2, 0, 0][..], "length past the end"),
    ] {
        let mut options = NdOptions::new(bytes);
        assert!(options.next().unwrap().is_err(), "{what}");
        assert!(options.next().is_none(), "{what}: stops after an error");
    }
    let unknown = [200, 1, 1, 2, 3, 4, 5, 6];
    assert_eq!(
        NdOptions::new(&unknown).next().unwrap().unwrap(),
        NdOption::Unknown {
            option_type: 200,
            data: &unknown[2..]
        }
    );
}

#[test]
fn udp_checksum_is_mandatory() {
    let mut buf = [0u8; 13];
    buf[8..].copy_from_slice(b"hello");
    let repr = UdpRepr {
        src_port: 547,
        dst_port: 546,
    };
    assert_eq!(repr.emit(&mut buf, 5, &ROUTER, &HOST).unwrap(), 13);
    let udp = UdpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(UdpRepr::parse(&udp), repr);
    assert_eq!(
        (udp.len(), udp.payload(), udp.is_empty()),
        (13, &b"hello"[..], false)
    );
    assert!(udp.verify_checksum(&ROUTER, &HOST));
    assert!(!udp.verify_checksum(&ROUTER, &ALL_NODES));
    let mut zero = buf;
    zero[6..8].copy_from_slice(&[0, 0]);
    assert!(
        !UdpPacket::new_checked(&zero[..])
            .unwrap()
            .verify_checksum(&ROUTER, &HOST)
    );
    let mut short = buf;
    short[5] = 7;
    assert!(UdpPacket::new_checked(&short[..]).is_err());
    let mut long = buf;
    long[5] = 14;
    assert!(UdpPacket::new_checked(&long[..]).is_err());
    assert!(repr.emit(&mut buf[..12], 5, &ROUTER, &HOST).is_err());
}

#[test]
fn link_local_addresses() {
    let ll = link_local([0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]);
    assert_eq!(ll, "fe80::211:22ff:fe33:4455".parse::<Ipv6Addr>().unwrap());
    assert!(is_link_local(&ll));
    assert!(!is_link_local(&ALL_NODES));
    assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
}

proptest! {
    #[test]
    fn no_parser_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(packet) = Packet::new_checked(&bytes[..]) {
            let _ = Ipv6Repr::parse(&packet);
            let _ = upper_layer(&packet);
        }
        let _ = RouterSolicit::parse(&bytes, &HOST).map(|rs| rs.options().count());
        let _ = RouterAdvert::parse(&bytes).map(|ra| ra.options().count());
        for option in NdOptions::new(&bytes) {
            let _ = option.map(|o| o.rdnss_servers().count());
        }
        if let Ok(udp) = UdpPacket::new_checked(&bytes[..]) {
            let _ = (udp.payload(), udp.verify_checksum(&HOST, &ROUTER));
        }
        if let Ok(icmp) = Icmpv6Packet::new_checked(&bytes[..]) {
            let _ = (icmp.msg_type(), icmp.code(), icmp.body(), icmp.verify_checksum(&HOST, &ROUTER));
        }
    }
}
