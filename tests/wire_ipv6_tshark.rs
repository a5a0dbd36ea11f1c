//! What the LNS's IPv6 services emit (`lns::ipv6`, built on
//! `wire::ipv6` and `wire::dhcpv6`), dissected by an independent
//! implementation, tshark 4.0.
//!
//! A session's responder runs a whole exchange in virtual time: the first
//! unsolicited Router Advertisement, a Router Solicitation and its
//! answer, then an ISC dhclient-shaped (`dhclient -6 -P`) DHCPv6
//! Solicit / Advertise, Request / Reply, Renew / Reply, Release / Reply,
//! an Information-Request / Reply and a Rapid Commit Solicit / Reply.
//! Every IPv6 packet, the client's (built with the same wire emitters)
//! and ours, goes into one pcap in an Ethernet frame.
//!
//! What is asserted:
//!
//! * no frame is malformed and there is no expert error, with UDP
//!   checksum validation on (`udp.check_checksum:TRUE`); tshark checks
//!   ICMPv6 checksums itself and must find every one good;
//! * the RAs: hop limit 255, source `fe80::1`, Router Lifetime, the
//!   Prefix Information (prefix, length, L and A, both lifetimes), MTU
//!   and RDNSS servers, as tshark reads them;
//! * our DHCPv6 messages: message type and transaction id answering each
//!   client message in order, IA_PD IAID / T1 / T2, IAPREFIX prefix,
//!   length and lifetimes, DNS servers, Status Code on the Release's
//!   Reply, Rapid Commit on the committed Reply, Server and Client
//!   Identifier DUIDs.

mod common;

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pcap::{ETHERTYPE_IPV6, PcapDump, ethernet_header};
use common::tshark::Tshark;
use common::{Result, ensure, tempdir};
use tunnelnas::lns::ipv6::{Delegation, Handled, Ipv6Services, Ipv6ServicesConfig};
use tunnelnas::wire::dhcpv6::{self, MessageBuilder, MessageType, OptionCode, duid};
use tunnelnas::wire::ipv6::{ALL_ROUTERS, Icmpv6Packet, Ipv6Repr, NextHeader, UdpRepr};

const OUR_IID: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const PEER_IID: [u8; 8] = [0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56];
const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
const CLIENT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const IAID: u32 = 0x0012_3456;

fn addr(text: &str) -> Ipv6Addr {
    text.parse().expect("address")
}

/// An Ethernet frame for an IPv6 packet: 33:33 + the last four bytes of
/// a multicast destination (RFC 2464 §7), fixed MACs otherwise.
fn frame(packet: &[u8]) -> Vec<u8> {
    let dst: [u8; 16] = packet[24..40].try_into().expect("destination");
    let from_server = packet[8..24] == addr("fe80::1").octets();
    let dst_mac = if dst[0] == 0xff {
        [0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]
    } else if from_server {
        CLIENT_MAC
    } else {
        SERVER_MAC
    };
    let src_mac = if from_server { SERVER_MAC } else { CLIENT_MAC };
    let mut frame = ethernet_header(dst_mac, src_mac, ETHERTYPE_IPV6).to_vec();
    frame.extend_from_slice(packet);
    frame
}

fn ip_packet(src: Ipv6Addr, dst: Ipv6Addr, next: NextHeader, hop: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0u8; 40];
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: next,
        payload_len: payload.len(),
        hop_limit: hop,
    }
    .emit(&mut packet)
    .expect("IPv6 header");
    packet.extend_from_slice(payload);
    packet
}

fn router_solicitation(src: Ipv6Addr) -> Vec<u8> {
    let mut message = [133, 0, 0, 0, 0, 0, 0, 0];
    Icmpv6Packet::new_checked(&mut message[..])
        .expect("ICMPv6")
        .fill_checksum(&src, &ALL_ROUTERS);
    ip_packet(src, ALL_ROUTERS, NextHeader::Icmpv6, 255, &message)
}

/// A client message as ISC dhclient 4.4 sends it: Client Identifier
/// (DUID-LLT), Server Identifier once it chose one, Elapsed Time, ORO
/// (DNS servers, domain list), IA_PD with T1 = T2 = 0.
fn client_message(
    msg_type: MessageType,
    transaction_id: u32,
    server_id: Option<&[u8]>,
    with_ia_pd: bool,
    rapid_commit: bool,
) -> Vec<u8> {
    let client_duid = duid::llt(duid::HW_ETHERNET, 0x2c8a_1b3f, &CLIENT_MAC);
    let mut buf = [0u8; 512];
    let mut message = MessageBuilder::new(&mut buf, msg_type, transaction_id).expect("message");
    message.client_id(&client_duid).expect("client id");
    if let Some(server) = server_id {
        message.server_id(server).expect("server id");
    }
    message.elapsed_time(0).expect("elapsed time");
    message
        .oro(&[OptionCode::DnsServers, OptionCode::DomainList])
        .expect("ORO");
    if rapid_commit {
        message.rapid_commit().expect("rapid commit");
    }
    if with_ia_pd {
        message.ia_pd(IAID, 0, 0, &[], None).expect("IA_PD");
    }
    let len = message.finish();
    let payload = &buf[..len];
    let src = addr("fe80::5054:ff:fe12:3456");
    let dst = dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS;
    let mut datagram = vec![0u8; 8];
    datagram.extend_from_slice(payload);
    UdpRepr {
        src_port: dhcpv6::CLIENT_PORT,
        dst_port: dhcpv6::SERVER_PORT,
    }
    .emit(&mut datagram, payload.len(), &src, &dst)
    .expect("UDP");
    ip_packet(src, dst, NextHeader::Udp, 1, &datagram)
}

/// One expected DHCPv6 answer: msg-type, transaction-id, the IA_PD
/// fields, DNS servers, Status Code, top-level option types.
type Answer<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, &'a str, &'a str);

/// Hands `packet` to the responder; returns it and every answer.
fn exchange(services: &mut Ipv6Services, now: Instant, packet: Vec<u8>) -> Result<Vec<Vec<u8>>> {
    let handled = services.handle_packet(now, &packet);
    ensure!(
        handled == Handled::Consumed,
        "the responder did not take the packet: {handled:?}"
    );
    let mut out = vec![packet];
    out.extend(answers(services, now));
    Ok(out)
}

fn answers(services: &mut Ipv6Services, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(len) = services.poll_transmit(now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

#[test]
fn ras_and_dhcpv6_answers_are_clean_under_tshark() -> Result<()> {
    let server_duid = duid::llt(duid::HW_ETHERNET, 0x2c8a_1b40, &SERVER_MAC);
    let config = Ipv6ServicesConfig {
        mtu: Some(1492),
        dns: vec![addr("2001:db8::53"), addr("2001:db8::54")],
        server_duid: server_duid.clone(),
        ..Ipv6ServicesConfig::default()
    };
    let t0 = Instant::now();
    let mut services = Ipv6Services::new(Arc::new(config), OUR_IID, PEER_IID, t0);
    services.set_prefix(Some("2001:db8:1:2::/64".parse()?));
    services.set_delegation(Some(Delegation::new(
        "2001:db8:100:ab00::/56".parse()?,
        3600,
        7200,
    )));
    let mut packets = Vec::new();
    services.handle_timeout(t0);
    packets.extend(answers(&mut services, t0));
    let t1 = t0 + Duration::from_secs(10);
    let peer = addr("fe80::5054:ff:fe12:3456");
    packets.extend(exchange(&mut services, t1, router_solicitation(peer))?);
    let s = Some(&server_duid[..]);
    for (msg_type, xid, server, ia_pd, rapid) in [
        (MessageType::Solicit, 0x00ab_cdef, None, true, false),
        (MessageType::Request, 0x0011_2233, s, true, false),
        (MessageType::Renew, 0x0022_3344, s, true, false),
        (MessageType::Release, 0x0033_4455, s, true, false),
        (
            MessageType::InformationRequest,
            0x0044_5566,
            None,
            false,
            false,
        ),
        (MessageType::Solicit, 0x0055_6677, None, true, true),
    ] {
        let message = client_message(msg_type, xid, server, ia_pd, rapid);
        let got = exchange(&mut services, t1, message)?;
        ensure!(got.len() == 2, "{msg_type:?}: {} answers", got.len() - 1);
        packets.extend(got);
    }

    let dir = tempdir("wire-ipv6-tshark")?;
    let mut dump = PcapDump::create(&dir.path().join("ipv6.pcap"))?;
    for packet in &packets {
        dump.write_frame(&frame(packet))?;
    }
    let path = dump.finish()?;
    let tshark = Tshark::new().pref("udp.check_checksum", "TRUE");
    tshark.assert_clean(&path)?;
    ensure!(
        tshark.count(&path, None)? == packets.len(),
        "tshark saw a different number of frames"
    );

    // Router Advertisements.
    let ras = tshark.fields(
        &path,
        Some("icmpv6.type == 134"),
        &[
            "ipv6.hlim",
            "ipv6.src",
            "ipv6.dst",
            "icmpv6.checksum.status",
            "icmpv6.nd.ra.cur_hop_limit",
            "icmpv6.nd.ra.router_lifetime",
            "icmpv6.opt.prefix",
            "icmpv6.opt.prefix.length",
            "icmpv6.opt.prefix.flag.l",
            "icmpv6.opt.prefix.flag.a",
            "icmpv6.opt.prefix.valid_lifetime",
            "icmpv6.opt.prefix.preferred_lifetime",
            "icmpv6.opt.mtu",
            "icmpv6.opt.rdnss",
            "icmpv6.nd.ra.flag.o",
        ],
    )?;
    ensure!(ras.len() == 2, "RAs: {ras:?}");
    for (ra, dst) in ras.iter().zip(["ff02::1", "fe80::5054:ff:fe12:3456"]) {
        let expected = [
            "255",
            "fe80::1",
            dst,
            "1",
            "64",
            "1800",
            "2001:db8:1:2::",
            "64",
            "1",
            "1",
            "2592000",
            "604800",
            "1492",
            "2001:db8::53,2001:db8::54",
            "1",
        ];
        ensure!(
            ra.iter().map(String::as_str).eq(expected),
            "RA dissected as {ra:?}, expected {expected:?}"
        );
    }
    // The Router Solicitation is good too.
    let rs = tshark.fields(
        &path,
        Some("icmpv6.type == 133"),
        &["icmpv6.checksum.status"],
    )?;
    ensure!(rs == [vec!["1".to_owned()]], "RS: {rs:?}");

    // Our DHCPv6 messages, in order.
    let ours = tshark.fields(
        &path,
        Some("dhcpv6 && ipv6.src == fe80::1"),
        &[
            "udp.srcport",
            "udp.dstport",
            "udp.checksum.status",
            "dhcpv6.msgtype",
            "dhcpv6.xid",
            "dhcpv6.iaid",
            "dhcpv6.iaid.t1",
            "dhcpv6.iaid.t2",
            "dhcpv6.iaprefix.pref_addr",
            "dhcpv6.iaprefix.pref_len",
            "dhcpv6.iaprefix.pref_lifetime",
            "dhcpv6.iaprefix.valid_lifetime",
            "dhcpv6.dns_server",
            "dhcpv6.status_code",
            "dhcpv6.option.type",
            "dhcpv6.duid.type",
        ],
    )?;
    let delegated = [
        "00123456",
        "1800",
        "2880",
        "2001:db8:100:ab00::",
        "56",
        "3600",
        "7200",
    ];
    let dns = "2001:db8::53,2001:db8::54";
    let expected: [Answer<'_>; 6] = [
        ("2", "0xabcdef", &delegated, dns, "", "2,1,7,25,23"),
        ("7", "0x112233", &delegated, dns, "", "2,1,25,23"),
        ("7", "0x223344", &delegated, dns, "", "2,1,25,23"),
        ("7", "0x334455", &[""; 7], "", "0", "2,1,13"),
        ("7", "0x445566", &[""; 7], dns, "", "2,1,23"),
        ("7", "0x556677", &delegated, dns, "", "2,1,14,25,23"),
    ];
    ensure!(ours.len() == expected.len(), "DHCPv6 answers: {ours:?}");
    for (row, (msgtype, xid, ia, dns, status, options)) in ours.iter().zip(expected) {
        let mut want = vec!["547", "546", "1", msgtype, xid];
        want.extend_from_slice(ia);
        want.extend([dns, status]);
        let got_options = &row[14];
        // IA_PD carries its own IAPREFIX (26) inside: tshark lists
        // nested option types too, so only the top-level order is
        // compared, by dropping 26.
        let top: Vec<&str> = got_options.split(',').filter(|t| *t != "26").collect();
        ensure!(
            row[..14]
                .iter()
                .map(String::as_str)
                .eq(want.iter().copied())
                && top.join(",") == options
                && row[15] == "1,1",
            "DHCPv6 answer {xid} dissected as {row:?}; expected {want:?}, options {options}, DUID types 1,1"
        );
    }
    Ok(())
}
