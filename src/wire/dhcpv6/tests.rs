//! DHCPv6 messages: a Solicit as ISC dhclient sends it, the server's
//! messages built and read back, malformed options.

use proptest::prelude::*;

use super::*;

/// DUID-LLT of the client (Ethernet 52:54:00:12:34:56).
const CLIENT_DUID: [u8; 14] = [
    0x00, 0x01, 0x00, 0x01, 0x32, 0xaa, 0x13, 0xb0, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
];

/// A Solicit from ISC dhclient 4.4.3-P1 (`dhclient -6 -P`, Debian's
/// dhclient.conf), captured by `tests/wire_ipv6_tshark.rs`: Client
/// Identifier (DUID-LLT), Option Request (DNS servers, domain search
/// list, FQDN, SNTP), Elapsed Time 0, IA_PD (IAID from the MAC, T1 3600,
/// T2 5400, no prefix hint).
const DHCLIENT_SOLICIT: &str = "0192a1660001000e0001000132aa13b052540012345600060008001700\
                                180027001f0008000200000019000c0012345600000e1000001518";

/// Its Request after our Advertise: our Server Identifier (DUID-LL
/// 02:00:5e:00:00:01) and the IA_PD with the prefix offered, at
/// dhclient's own lifetimes (7200 / 7500).
const DHCLIENT_REQUEST: &str = "03e188660001000e0001000132aa13b05254001234560002000a00030001\
                                02005e00000100060008001700180027001f000800020000001900290012\
                                345600000e1000001518001a001900001c2000001d4c3820010db80100ab\
                                000000000000000000";

fn bytes(hex_text: &str) -> Vec<u8> {
    let compact: String = hex_text.split_whitespace().collect();
    hex::decode(compact).unwrap()
}

#[test]
fn dhclient_solicit_is_read() {
    let bytes = bytes(DHCLIENT_SOLICIT);
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.msg_type(), MessageType::Solicit);
    assert_eq!(packet.transaction_id(), 0x0092_a166);
    assert_eq!(packet.options().count(), 4);
    let repr = Dhcpv6Repr::parse(&bytes).unwrap();
    assert_eq!(repr.client_id, Some(&CLIENT_DUID[..]));
    assert_eq!(repr.server_id, None);
    assert_eq!(repr.elapsed_time, Some(0));
    assert!(repr.requests(OptionCode::DnsServers));
    assert!(repr.requests(OptionCode::DomainList));
    assert!(!repr.requests(OptionCode::IaPd));
    assert!(!repr.rapid_commit);
    let ia = repr.ia_pd.unwrap();
    assert_eq!((ia.iaid, ia.t1, ia.t2), (0x0012_3456, 3600, 5400));
    assert_eq!(ia.prefixes().count(), 0);
    assert_eq!((repr.ia_pd_count, repr.ia_na, repr.ia_ta), (1, None, false));
}

#[test]
fn dhclient_request_is_read() {
    let bytes = bytes(DHCLIENT_REQUEST);
    let repr = Dhcpv6Repr::parse(&bytes).unwrap();
    assert_eq!(repr.msg_type, MessageType::Request);
    assert_eq!(repr.transaction_id, 0x00e1_8866);
    assert_eq!(repr.client_id, Some(&CLIENT_DUID[..]));
    assert_eq!(
        repr.server_id,
        Some(&duid::ll(duid::HW_ETHERNET, &[2, 0, 0x5e, 0, 0, 1])[..])
    );
    let ia = repr.ia_pd.unwrap();
    assert_eq!(
        ia.prefixes().collect::<Result<Vec<_>>>().unwrap(),
        [IaPrefix {
            preferred_lifetime: 7200,
            valid_lifetime: 7500,
            prefix: "2001:db8:100:ab00::/56".parse().unwrap(),
        }]
    );
    // Truncated anywhere: an error or a shorter message, never a panic.
    for len in 0..bytes.len() {
        let _ = Dhcpv6Repr::parse(&bytes[..len]);
    }
}

#[test]
fn server_messages_round_trip() {
    let server = duid::ll(duid::HW_ETHERNET, &[2, 0, 0, 0, 0, 1]);
    assert_eq!(server, [0, 3, 0, 1, 2, 0, 0, 0, 0, 1]);
    assert_eq!(
        duid::llt(duid::HW_ETHERNET, 0x0102_0304, &[2, 0, 0, 0, 0, 1]),
        [0, 1, 0, 1, 1, 2, 3, 4, 2, 0, 0, 0, 0, 1]
    );
    let delegated = IaPrefix {
        preferred_lifetime: 3600,
        valid_lifetime: 7200,
        prefix: "2001:db8:100:ab00::/56".parse().unwrap(),
    };
    let dns: [Ipv6Addr; 1] = ["2001:db8::53".parse().unwrap()];
    let mut buf = [0u8; 512];
    let mut message = MessageBuilder::new(&mut buf, MessageType::Advertise, 0x00ab_cdef).unwrap();
    assert!(message.is_empty());
    message
        .server_id(&server)
        .unwrap()
        .client_id(&CLIENT_DUID)
        .unwrap()
        .preference(255)
        .unwrap()
        .ia_pd(0x0012_3456, 1800, 2880, &[delegated], None)
        .unwrap()
        .ia_na_status(7, StatusCode::NoAddrsAvail, "no addresses")
        .unwrap()
        .dns_servers(&dns)
        .unwrap()
        .rapid_commit()
        .unwrap()
        .elapsed_time(5)
        .unwrap()
        .oro(&[OptionCode::DnsServers])
        .unwrap()
        .status(StatusCode::Success, "ok")
        .unwrap();
    let len = message.finish();
    let bytes = &buf[..len];
    assert_eq!(&bytes[..4], &[2, 0xab, 0xcd, 0xef]);
    let repr = Dhcpv6Repr::parse(bytes).unwrap();
    assert_eq!(repr.msg_type, MessageType::Advertise);
    assert_eq!(repr.transaction_id, 0x00ab_cdef);
    assert_eq!(repr.server_id, Some(&server[..]));
    assert_eq!(repr.client_id, Some(&CLIENT_DUID[..]));
    assert_eq!(repr.preference, Some(255));
    let ia = repr.ia_pd.unwrap();
    assert_eq!((ia.iaid, ia.t1, ia.t2), (0x0012_3456, 1800, 2880));
    assert_eq!(
        ia.prefixes().collect::<Result<Vec<_>>>().unwrap(),
        [delegated]
    );
    assert_eq!(repr.ia_na, Some(7));
    assert_eq!(repr.dns_servers().collect::<Vec<_>>(), dns);
    assert!(repr.rapid_commit);
    assert_eq!(repr.elapsed_time, Some(5));
    assert!(repr.requests(OptionCode::DnsServers));
    assert_eq!(repr.status, Some((StatusCode::Success, &b"ok"[..])));
    // The IA_NA carries its status inside.
    let ia_na = Options::new(&bytes[4..])
        .map(Result::unwrap)
        .find(|o| o.code == OptionCode::IaNa)
        .unwrap();
    assert_eq!(&ia_na.data[12..18], &[0, 13, 0, 14, 0, 2]);
    assert_eq!(&ia_na.data[18..], b"no addresses");
    // An IA_PD with a status and no prefix.
    let mut message = MessageBuilder::new(&mut buf, MessageType::Reply, 1).unwrap();
    message
        .ia_pd(9, 0, 0, &[], Some((StatusCode::NoPrefixAvail, "")))
        .unwrap();
    let len = message.len();
    assert_eq!(
        &buf[4..len],
        &[
            0, 25, 0, 18, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 0, 2, 0, 6
        ]
    );
}

#[test]
fn builder_refuses_a_small_buffer() {
    let mut buf = [0u8; 3];
    assert!(MessageBuilder::new(&mut buf, MessageType::Reply, 1).is_err());
    let mut buf = [0u8; 20];
    let mut message = MessageBuilder::new(&mut buf, MessageType::Reply, 1).unwrap();
    assert!(message.client_id(&CLIENT_DUID).is_err());
    assert_eq!(message.len(), 4, "a refused option leaves nothing behind");
    assert!(message.server_id(&[0, 3, 0, 1, 1, 2]).is_ok());
}

#[test]
fn malformed_messages_are_errors() {
    let base = bytes(DHCLIENT_SOLICIT);
    let with = |extra: &[u8]| {
        let mut bytes = base.clone();
        bytes.extend_from_slice(extra);
        bytes
    };
    for (bytes, what) in [
        (with(&[0, 1, 0, 3, 0, 1, 0]), "second Client Identifier"),
        (with(&[0, 2, 0, 2, 0, 1]), "short Server Identifier"),
        (with(&[0, 14, 0, 1, 0]), "Rapid Commit with data"),
        (with(&[0, 8, 0, 1, 0]), "short Elapsed Time"),
        (with(&[0, 6, 0, 1, 0]), "odd ORO"),
        (with(&[0, 7, 0, 2, 0, 0]), "long Preference"),
        (with(&[0, 13, 0, 1, 0]), "short Status Code"),
        (with(&[0, 23, 0, 4, 0, 0, 0, 0]), "short DNS server"),
        (with(&[0, 25, 0, 4, 0, 0, 0, 0]), "short IA_PD"),
        (with(&[0, 3, 0, 4, 0, 0, 0, 0]), "short IA_NA"),
        (with(&[0, 4, 0, 2, 0, 0]), "short IA_TA"),
        (with(&[0, 99, 0, 9]), "option past the end"),
        (with(&[0, 99, 0]), "option header cut"),
        (
            with(&[
                0, 25, 0, 18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 26, 0, 2, 0, 0,
            ]),
            "short IAPREFIX",
        ),
    ] {
        assert!(Dhcpv6Repr::parse(&bytes).is_err(), "{what}");
    }
    // An IAPREFIX with prefix-length over 128.
    let mut prefix = [0u8; 25];
    prefix[8] = 129;
    assert!(IaPrefix::parse(&prefix).is_err());
    // Relay messages and short headers.
    assert_eq!(
        Packet::new_checked(&[12u8, 0, 0, 0][..]).unwrap_err(),
        Error::Unsupported("DHCPv6 relay message")
    );
    for len in 0..base.len() {
        let _ = Dhcpv6Repr::parse(&base[..len]);
        if len < 4 {
            assert!(Dhcpv6Repr::parse(&base[..len]).is_err());
        }
    }
    // Unknown options are skipped.
    assert!(Dhcpv6Repr::parse(&with(&[0xff, 0xff, 0, 1, 7])).is_ok());
}

proptest! {
    #[test]
    fn no_parser_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(repr) = Dhcpv6Repr::parse(&bytes) {
            let _ = repr.dns_servers().count();
            let _ = repr.requests(OptionCode::DnsServers);
            if let Some(ia) = repr.ia_pd {
                let _ = ia.prefixes().count();
            }
        }
        let _ = Options::new(&bytes).count();
        let _ = IaPd::parse(&bytes);
    }
}
