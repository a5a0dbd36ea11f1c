//! The responder in virtual time: RA schedule and solicitations, an ISC
//! dhclient `-6 -P` exchange, validation, malformed input.

use super::*;
use crate::wire::dhcpv6::{IaPd, Options};
use crate::wire::ipv6::{NdOption, RouterAdvert};

const OUR_IID: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const PEER_IID: [u8; 8] = [0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56];
const CLIENT_DUID: [u8; 14] = [
    0x00, 0x01, 0x00, 0x01, 0x2c, 0x8a, 0x1b, 0x3f, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
];
const IAID: u32 = 0x0012_3456;

fn ours() -> Ipv6Addr {
    "fe80::1".parse().unwrap()
}

fn peer() -> Ipv6Addr {
    "fe80::5054:ff:fe12:3456".parse().unwrap()
}

fn dns() -> Ipv6Addr {
    "2001:db8::53".parse().unwrap()
}

fn config() -> Ipv6ServicesConfig {
    Ipv6ServicesConfig {
        mtu: Some(1492),
        dns: vec![dns()],
        ..Ipv6ServicesConfig::default()
    }
}

fn delegation() -> Delegation {
    Delegation::new("2001:db8:100:ab00::/56".parse().unwrap(), 3600, 7200)
}

fn services(now: Instant) -> Ipv6Services {
    let mut services = Ipv6Services::new(Arc::new(config()), OUR_IID, PEER_IID, now);
    services.set_prefix(Some("2001:db8:1:2::/64".parse().unwrap()));
    services.set_delegation(Some(delegation()));
    services
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
    .unwrap();
    packet.extend_from_slice(payload);
    packet
}

fn icmp_packet(src: Ipv6Addr, dst: Ipv6Addr, hop: u8, message: &[u8]) -> Vec<u8> {
    let mut message = message.to_vec();
    Icmpv6Packet::new_checked(&mut message[..])
        .unwrap()
        .fill_checksum(&src, &dst);
    ip_packet(src, dst, NextHeader::Icmpv6, hop, &message)
}

fn router_solicitation(src: Ipv6Addr) -> Vec<u8> {
    icmp_packet(src, ALL_ROUTERS, 255, &[133, 0, 0, 0, 0, 0, 0, 0])
}

fn udp_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut datagram = vec![0u8; 8];
    datagram.extend_from_slice(payload);
    UdpRepr {
        src_port: dhcpv6::CLIENT_PORT,
        dst_port: dhcpv6::SERVER_PORT,
    }
    .emit(&mut datagram, payload.len(), &src, &dst)
    .unwrap();
    ip_packet(src, dst, NextHeader::Udp, 1, &datagram)
}

/// A client message shaped as ISC dhclient 4.4 (`dhclient -6 -P`) sends
/// it: Client Identifier (DUID-LLT), Server Identifier when it has
/// chosen a server, Elapsed Time, ORO (DNS servers, domain list, FQDN,
/// SNTP), IA_PD with T1 = T2 = 0 (and, past the Solicit, the prefix it
/// holds), from its link-local address to ff02::1:2.
fn client_message(
    msg_type: MessageType,
    transaction_id: u32,
    server_id: Option<&[u8]>,
    holding: Option<Ipv6Net>,
    rapid_commit: bool,
) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut message = MessageBuilder::new(&mut buf, msg_type, transaction_id).unwrap();
    message.client_id(&CLIENT_DUID).unwrap();
    if let Some(server) = server_id {
        message.server_id(server).unwrap();
    }
    message.elapsed_time(0).unwrap();
    message
        .oro(&[
            OptionCode::DnsServers,
            OptionCode::DomainList,
            OptionCode::Unknown(39),
            OptionCode::Unknown(31),
        ])
        .unwrap();
    if rapid_commit {
        message.rapid_commit().unwrap();
    }
    let prefixes: Vec<IaPrefix> = holding
        .map(|prefix| IaPrefix {
            preferred_lifetime: 0,
            valid_lifetime: 0,
            prefix,
        })
        .into_iter()
        .collect();
    message.ia_pd(IAID, 0, 0, &prefixes, None).unwrap();
    let len = message.finish();
    udp_packet(
        peer(),
        dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        &buf[..len],
    )
}

/// Every packet `poll_transmit` has.
fn transmit(services: &mut Ipv6Services, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(len) = services.poll_transmit(now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

fn events(services: &mut Ipv6Services) -> Vec<Ipv6Event> {
    std::iter::from_fn(|| services.poll_event()).collect()
}

/// Checks the IPv6 and ICMPv6 framing of an RA; returns (destination,
/// the ICMPv6 message).
fn read_ra(packet: &[u8]) -> (Ipv6Addr, Vec<u8>) {
    let ip = ipv6::Packet::new_checked(packet).unwrap();
    assert_eq!(ip.next_header(), NextHeader::Icmpv6);
    assert_eq!(ip.hop_limit(), 255);
    assert_eq!(ip.src_addr(), ours());
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
    (ip.dst_addr(), ip.payload().to_vec())
}

/// Checks the IPv6/UDP framing of a DHCPv6 answer; returns its payload.
fn read_dhcp(packet: &[u8]) -> Vec<u8> {
    let ip = ipv6::Packet::new_checked(packet).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (ours(), peer()));
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
    assert_eq!((udp.src_port(), udp.dst_port()), (547, 546));
    udp.payload().to_vec()
}

#[test]
fn unsolicited_ras_start_at_once_then_slow_down() {
    let t0 = Instant::now();
    let mut services = services(t0);
    assert_eq!(services.link_local(), ours());
    assert_eq!(services.peer_link_local(), peer());
    let mut sent_at = Vec::new();
    while let Some(now) = services
        .poll_timeout()
        .filter(|due| *due < t0 + Duration::from_secs(700))
    {
        services.handle_timeout(now);
        for packet in transmit(&mut services, now) {
            assert_eq!(read_ra(&packet).0, ALL_NODES);
            sent_at.push((now - t0).as_secs());
        }
    }
    assert_eq!(sent_at, [0, 4, 8, 208, 408, 608]);
    assert_eq!(services.counters().router_advertisements, 6);
}

#[test]
fn router_advertisement_carries_prefix_mtu_and_rdnss() {
    let t0 = Instant::now();
    let mut services = services(t0);
    services.handle_timeout(t0);
    let packets = transmit(&mut services, t0);
    assert_eq!(packets.len(), 1);
    let (_, message) = read_ra(&packets[0]);
    let ra = RouterAdvert::parse(&message).unwrap();
    assert_eq!(
        ra.header,
        RaHeader {
            cur_hop_limit: 64,
            managed: false,
            other: true,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
        }
    );
    let options: Vec<NdOption<'_>> = ra.options().map(Result::unwrap).collect();
    assert_eq!(
        options[0],
        NdOption::PrefixInformation(PrefixInformation {
            prefix_len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 2_592_000,
            preferred_lifetime: 604_800,
            prefix: "2001:db8:1:2::".parse().unwrap(),
        })
    );
    assert_eq!(options[1], NdOption::Mtu(1492));
    assert_eq!(options[2].rdnss_servers().collect::<Vec<_>>(), [dns()]);
    assert_eq!(options.len(), 3);
}

#[test]
fn a_replaced_prefix_is_deprecated_and_a_new_burst_starts() {
    let t0 = Instant::now();
    let mut services = services(t0);
    services.handle_timeout(t0);
    transmit(&mut services, t0);
    let t1 = t0 + Duration::from_secs(1);
    services.handle_packet(t1, &router_solicitation(peer()));
    services.set_prefix(Some("2001:db8:1:3::/64".parse().unwrap()));
    assert_eq!(services.poll_timeout(), Some(t1));
    let mut deprecating = 0;
    for step in 0..6 {
        let now = services.poll_timeout().unwrap();
        services.handle_timeout(now);
        for packet in transmit(&mut services, now) {
            let (_, message) = read_ra(&packet);
            let ra = RouterAdvert::parse(&message).unwrap();
            let prefixes: Vec<PrefixInformation> = ra
                .options()
                .filter_map(|o| match o.unwrap() {
                    NdOption::PrefixInformation(p) => Some(p),
                    _ => None,
                })
                .collect();
            assert_eq!(
                prefixes[0].prefix,
                "2001:db8:1:3::".parse::<Ipv6Addr>().unwrap()
            );
            if let Some(old) = prefixes.get(1) {
                assert_eq!(old.prefix, "2001:db8:1:2::".parse::<Ipv6Addr>().unwrap());
                assert_eq!((old.valid_lifetime, old.preferred_lifetime), (0, 0));
                deprecating += 1;
            }
        }
        assert!(step < 6);
    }
    assert_eq!(deprecating, 3);
    // No prefix at all: RAs still make us the default router.
    services.set_prefix(None);
    let now = services.poll_timeout().unwrap();
    services.handle_timeout(now);
    let (_, message) = read_ra(&transmit(&mut services, now)[0]);
    let ra = RouterAdvert::parse(&message).unwrap();
    assert_eq!(ra.header.router_lifetime, 1800);
}

#[test]
fn solicitations_are_answered_unicast_and_rate_limited() {
    let t0 = Instant::now();
    let mut services = services(t0);
    services.handle_timeout(t0);
    transmit(&mut services, t0);
    // Within MIN_DELAY_BETWEEN_RAS of the last RA: answered later, once.
    let t1 = t0 + Duration::from_millis(500);
    assert_eq!(
        services.handle_packet(t1, &router_solicitation(peer())),
        Handled::Consumed
    );
    assert_eq!(
        services.handle_packet(t1, &router_solicitation(peer())),
        Handled::Consumed
    );
    assert!(transmit(&mut services, t1).is_empty());
    assert_eq!(services.poll_timeout(), Some(t0 + MIN_DELAY_BETWEEN_RAS));
    services.handle_timeout(t0 + MIN_DELAY_BETWEEN_RAS);
    let packets = transmit(&mut services, t0 + MIN_DELAY_BETWEEN_RAS);
    assert_eq!(packets.len(), 1);
    assert_eq!(read_ra(&packets[0]).0, peer());
    assert_eq!(services.counters().router_solicitations, 2);
    // Long after: at once. From `::`: to all-nodes.
    let t2 = t0 + Duration::from_secs(3) + Duration::from_secs(60);
    services.handle_timeout(t2);
    transmit(&mut services, t2);
    let t3 = t2 + Duration::from_secs(10);
    services.handle_packet(t3, &router_solicitation(Ipv6Addr::UNSPECIFIED));
    let packets = transmit(&mut services, t3);
    assert_eq!(read_ra(&packets[0]).0, ALL_NODES);
    // To our link-local address too.
    let t4 = t3 + Duration::from_secs(10);
    let to_us = icmp_packet(peer(), ours(), 255, &[133, 0, 0, 0, 0, 0, 0, 0]);
    services.handle_packet(t4, &to_us);
    assert_eq!(transmit(&mut services, t4).len(), 1);
}

#[test]
fn invalid_solicitations_are_dropped_with_a_reason() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let hop_64 = icmp_packet(peer(), ALL_ROUTERS, 64, &[133, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        services.handle_packet(t0, &hop_64),
        Handled::Dropped(DropReason::NdHopLimit)
    );
    let mut bad_sum = router_solicitation(peer());
    bad_sum[43] ^= 1;
    assert_eq!(
        services.handle_packet(t0, &bad_sum),
        Handled::Dropped(DropReason::Icmpv6Checksum)
    );
    let code_1 = icmp_packet(peer(), ALL_ROUTERS, 255, &[133, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        services.handle_packet(t0, &code_1),
        Handled::Dropped(DropReason::RouterSolicitationMalformed)
    );
    let slla_from_unspecified = icmp_packet(
        Ipv6Addr::UNSPECIFIED,
        ALL_ROUTERS,
        255,
        &[133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1],
    );
    assert_eq!(
        services.handle_packet(t0, &slla_from_unspecified),
        Handled::Dropped(DropReason::RouterSolicitationMalformed)
    );
    let fragment = ip_packet(peer(), ALL_ROUTERS, NextHeader::Fragment, 255, &[0; 16]);
    assert_eq!(
        services.handle_packet(t0, &fragment),
        Handled::Dropped(DropReason::ExtensionHeader)
    );
    assert_eq!(services.counters().dropped, 5);
    assert_eq!(services.counters().router_solicitations, 0);
    let reasons: Vec<Ipv6Event> = events(&mut services);
    assert_eq!(
        reasons[0],
        Ipv6Event::Dropped {
            reason: DropReason::NdHopLimit
        }
    );
    assert_eq!(reasons.len(), 5);
    assert_eq!(DropReason::NdHopLimit.as_str(), "nd_hop_limit");
}

#[test]
fn neighbor_discovery_and_other_link_traffic_are_ignored_and_the_rest_is_not_ours() {
    let t0 = Instant::now();
    let mut services = services(t0);
    // DAD for the peer's address, and an NS for ours: no link-layer
    // addresses on PPP, nothing to answer.
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&ours().octets());
    let solicited_node: Ipv6Addr = "ff02::1:ff00:1".parse().unwrap();
    for src in [Ipv6Addr::UNSPECIFIED, peer()] {
        let packet = icmp_packet(src, solicited_node, 255, &ns);
        assert_eq!(services.handle_packet(t0, &packet), Handled::Consumed);
    }
    let na = icmp_packet(peer(), ALL_NODES, 255, &[136, 0, 0, 0, 0x20, 0, 0, 0]);
    assert_eq!(services.handle_packet(t0, &na), Handled::Consumed);
    assert_eq!(services.counters().neighbor_discovery_ignored, 3);
    // mDNS, an echo request to our link-local address, MLD behind a
    // Hop-by-Hop header.
    let mdns = ip_packet(
        peer(),
        "ff02::fb".parse().unwrap(),
        NextHeader::Udp,
        255,
        &[0x14, 0xe9, 0x14, 0xe9, 0, 8, 0, 0],
    );
    assert_eq!(services.handle_packet(t0, &mdns), Handled::Consumed);
    let echo = icmp_packet(peer(), ours(), 64, &[128, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(services.handle_packet(t0, &echo), Handled::Consumed);
    let mut mld = vec![58, 0, 5, 2, 0, 0, 1, 0, 143, 0, 0, 0, 0, 0, 0, 0];
    let report_dst: Ipv6Addr = "ff02::16".parse().unwrap();
    let sum = ipv6::checksum(&peer(), &report_dst, NextHeader::Icmpv6, &mld[8..]);
    mld[10..12].copy_from_slice(&sum.to_be_bytes());
    let mld = ip_packet(peer(), report_dst, NextHeader::HopByHop, 1, &mld);
    assert_eq!(services.handle_packet(t0, &mld), Handled::Consumed);
    assert_eq!(services.counters().ignored, 3);
    // Global and site traffic is the caller's to route.
    for dst in ["2001:db8::1", "ff05::1:3", "ff0e::1"] {
        let packet = udp_packet(peer(), dst.parse().unwrap(), b"x");
        assert_eq!(
            services.handle_packet(t0, &packet),
            Handled::NotOurs,
            "{dst}"
        );
    }
    assert!(transmit(&mut services, t0).is_empty());
    assert_eq!(services.counters().dropped, 0);
}

/// Reads an answer: (message, IA_PD's prefixes).
fn answer(packet: &[u8]) -> (Vec<u8>, Vec<IaPrefix>) {
    let payload = read_dhcp(packet);
    let prefixes = Dhcpv6Repr::parse(&payload)
        .unwrap()
        .ia_pd
        .map(|ia| ia.prefixes().map(Result::unwrap).collect())
        .unwrap_or_default();
    (payload, prefixes)
}

#[test]
fn dhclient_solicit_request_renew_release() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let server_duid = config().server_duid;
    // Solicit → Advertise.
    let solicit = client_message(MessageType::Solicit, 0x00ab_cdef, None, None, false);
    assert_eq!(services.handle_packet(t0, &solicit), Handled::Consumed);
    let packets = transmit(&mut services, t0);
    assert_eq!(packets.len(), 1);
    let (payload, prefixes) = answer(&packets[0]);
    let advertise = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(advertise.msg_type, MessageType::Advertise);
    assert_eq!(advertise.transaction_id, 0x00ab_cdef);
    assert_eq!(advertise.server_id, Some(&server_duid[..]));
    assert_eq!(advertise.client_id, Some(&CLIENT_DUID[..]));
    assert_eq!(advertise.preference, Some(255));
    assert!(!advertise.rapid_commit);
    let ia: IaPd<'_> = advertise.ia_pd.unwrap();
    assert_eq!((ia.iaid, ia.t1, ia.t2), (IAID, 1800, 2880));
    assert_eq!(
        prefixes,
        [IaPrefix {
            preferred_lifetime: 3600,
            valid_lifetime: 7200,
            prefix: delegation().prefix,
        }]
    );
    assert_eq!(advertise.dns_servers().collect::<Vec<_>>(), [dns()]);
    assert!(
        events(&mut services).is_empty(),
        "an Advertise binds nothing"
    );
    assert_eq!(services.binding(), None);
    // Request → Reply, bound.
    let request = client_message(
        MessageType::Request,
        0x0011_2233,
        Some(&server_duid),
        Some(delegation().prefix),
        false,
    );
    services.handle_packet(t0, &request);
    let (payload, prefixes) = answer(&transmit(&mut services, t0)[0]);
    let reply = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(reply.msg_type, MessageType::Reply);
    assert_eq!(reply.transaction_id, 0x0011_2233);
    assert_eq!(reply.preference, None);
    assert_eq!(prefixes.len(), 1);
    assert_eq!(
        events(&mut services),
        [Ipv6Event::PrefixDelegated {
            prefix: delegation().prefix,
            iaid: IAID
        }]
    );
    assert_eq!(services.binding(), Some((IAID, delegation().prefix)));
    // Renew and Rebind → Reply, nothing new.
    let renew = client_message(
        MessageType::Renew,
        2,
        Some(&server_duid),
        Some(delegation().prefix),
        false,
    );
    services.handle_packet(t0, &renew);
    let rebind = client_message(
        MessageType::Rebind,
        3,
        None,
        Some(delegation().prefix),
        false,
    );
    services.handle_packet(t0, &rebind);
    let packets = transmit(&mut services, t0);
    assert_eq!(packets.len(), 2);
    for (packet, xid) in packets.iter().zip([2, 3]) {
        let (payload, prefixes) = answer(packet);
        assert_eq!(Dhcpv6Repr::parse(&payload).unwrap().transaction_id, xid);
        assert_eq!(prefixes.len(), 1);
    }
    assert!(events(&mut services).is_empty());
    // Release → Reply Success, released.
    let release = client_message(
        MessageType::Release,
        4,
        Some(&server_duid),
        Some(delegation().prefix),
        false,
    );
    services.handle_packet(t0, &release);
    let (payload, prefixes) = answer(&transmit(&mut services, t0)[0]);
    let reply = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(reply.status.map(|s| s.0), Some(StatusCode::Success));
    assert!(prefixes.is_empty() && reply.ia_pd.is_none());
    assert_eq!(
        events(&mut services),
        [Ipv6Event::PrefixReleased {
            prefix: delegation().prefix
        }]
    );
    assert_eq!(services.binding(), None);
    // Released twice: NoBinding in the IA_PD.
    services.handle_packet(t0, &release);
    let (payload, _) = answer(&transmit(&mut services, t0)[0]);
    let ia = Dhcpv6Repr::parse(&payload).unwrap().ia_pd.unwrap();
    let status = Options::new(ia.options).next().unwrap().unwrap();
    assert_eq!(status.code, OptionCode::StatusCode);
    assert_eq!(&status.data[..2], &[0, 3]);
    let counters = services.counters();
    assert_eq!((counters.dhcp_received, counters.dhcp_sent), (6, 6));
}

#[test]
fn rapid_commit_solicit_gets_a_reply() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let solicit = client_message(MessageType::Solicit, 7, None, None, true);
    services.handle_packet(t0, &solicit);
    let (payload, prefixes) = answer(&transmit(&mut services, t0)[0]);
    let reply = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(reply.msg_type, MessageType::Reply);
    assert!(reply.rapid_commit);
    assert_eq!(prefixes[0].prefix, delegation().prefix);
    assert_eq!(services.binding(), Some((IAID, delegation().prefix)));
    // Without a delegation there is nothing to commit: an Advertise.
    services.set_delegation(None);
    services.handle_packet(t0, &solicit);
    let (payload, _) = answer(&transmit(&mut services, t0)[0]);
    let advertise = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(advertise.msg_type, MessageType::Advertise);
    let ia = advertise.ia_pd.unwrap();
    assert_eq!(ia.prefixes().count(), 0);
    let status = Options::new(ia.options).next().unwrap().unwrap();
    assert_eq!(&status.data[..2], &[0, 6], "NoPrefixAvail");
}

#[test]
fn a_new_delegation_reaches_the_client_at_renew_with_the_old_one_expired() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let server_duid = config().server_duid;
    let request = client_message(MessageType::Request, 1, Some(&server_duid), None, false);
    services.handle_packet(t0, &request);
    transmit(&mut services, t0);
    events(&mut services);
    let next = Delegation::new("2001:db8:100:cd00::/56".parse().unwrap(), 1000, 2000);
    services.set_delegation(Some(next));
    let renew = client_message(
        MessageType::Renew,
        2,
        Some(&server_duid),
        Some(delegation().prefix),
        false,
    );
    services.handle_packet(t0, &renew);
    let (_, prefixes) = answer(&transmit(&mut services, t0)[0]);
    assert_eq!(prefixes.len(), 2);
    assert_eq!(prefixes[0].prefix, next.prefix);
    assert_eq!(
        prefixes[1],
        IaPrefix {
            preferred_lifetime: 0,
            valid_lifetime: 0,
            prefix: delegation().prefix
        }
    );
    assert_eq!(
        events(&mut services),
        [Ipv6Event::PrefixDelegated {
            prefix: next.prefix,
            iaid: IAID
        }]
    );
}

#[test]
fn information_request_gets_dns() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let mut buf = [0u8; 64];
    let mut message = MessageBuilder::new(&mut buf, MessageType::InformationRequest, 9).unwrap();
    message.client_id(&CLIENT_DUID).unwrap();
    let len = message.finish();
    let packet = udp_packet(
        peer(),
        dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        &buf[..len],
    );
    assert_eq!(services.handle_packet(t0, &packet), Handled::Consumed);
    let (payload, _) = answer(&transmit(&mut services, t0)[0]);
    let reply = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(reply.msg_type, MessageType::Reply);
    assert_eq!(reply.dns_servers().collect::<Vec<_>>(), [dns()]);
    assert!(reply.ia_pd.is_none());
    // Without a Client Identifier, unicast to our link-local address.
    let mut message = MessageBuilder::new(&mut buf, MessageType::InformationRequest, 10).unwrap();
    message.elapsed_time(0).unwrap();
    let len = message.finish();
    let packet = udp_packet(peer(), ours(), &buf[..len]);
    assert_eq!(services.handle_packet(t0, &packet), Handled::Consumed);
    let (payload, _) = answer(&transmit(&mut services, t0)[0]);
    assert_eq!(Dhcpv6Repr::parse(&payload).unwrap().client_id, None);
}

#[test]
fn client_messages_are_validated() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let ours_duid = config().server_duid;
    let theirs: &[u8] = &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9];
    let with_iaid =
        |msg_type, server: Option<&[u8]>| client_message(msg_type, 1, server, None, false);
    let cases: Vec<(Vec<u8>, DropReason)> = vec![
        (
            with_iaid(MessageType::Solicit, Some(&ours_duid)),
            DropReason::DhcpUnexpectedServerId,
        ),
        (
            with_iaid(MessageType::Rebind, Some(&ours_duid)),
            DropReason::DhcpUnexpectedServerId,
        ),
        (
            with_iaid(MessageType::Request, Some(theirs)),
            DropReason::DhcpServerIdMismatch,
        ),
        (
            with_iaid(MessageType::Request, None),
            DropReason::DhcpServerIdMismatch,
        ),
        (
            with_iaid(MessageType::Renew, Some(theirs)),
            DropReason::DhcpServerIdMismatch,
        ),
        (
            with_iaid(MessageType::Release, None),
            DropReason::DhcpServerIdMismatch,
        ),
        (
            with_iaid(MessageType::InformationRequest, None),
            DropReason::DhcpUnexpectedIa,
        ),
        (
            with_iaid(MessageType::Advertise, None),
            DropReason::DhcpNotClientMessage,
        ),
        (
            with_iaid(MessageType::Confirm, None),
            DropReason::DhcpUnsupported,
        ),
        (
            udp_packet(
                peer(),
                dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                &[12, 0, 0, 0],
            ),
            DropReason::DhcpUnsupported,
        ),
        (
            udp_packet(
                peer(),
                dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                &[1, 0, 0, 1, 0, 8, 0, 2, 0, 0],
            ),
            DropReason::DhcpNoClientId,
        ),
        (
            udp_packet(
                peer(),
                dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                &[1, 0, 0, 1, 0, 1, 0, 9],
            ),
            DropReason::DhcpMalformed,
        ),
    ];
    for (index, (packet, reason)) in cases.iter().enumerate() {
        assert_eq!(
            services.handle_packet(t0, packet),
            Handled::Dropped(*reason),
            "case {index}"
        );
    }
    let mut bad_sum = client_message(MessageType::Solicit, 1, None, None, false);
    bad_sum[46] ^= 0xff;
    assert_eq!(
        services.handle_packet(t0, &bad_sum),
        Handled::Dropped(DropReason::UdpChecksum)
    );
    let mut zero_sum = client_message(MessageType::Solicit, 1, None, None, false);
    zero_sum[46..48].copy_from_slice(&[0, 0]);
    assert_eq!(
        services.handle_packet(t0, &zero_sum),
        Handled::Dropped(DropReason::UdpChecksum)
    );
    assert!(transmit(&mut services, t0).is_empty());
    assert_eq!(services.counters().dhcp_received, 0);
    assert_eq!(services.counters().dropped, cases.len() as u64 + 2);
}

#[test]
fn an_ia_na_is_refused_and_solicit_without_ia_gets_dns_only() {
    let t0 = Instant::now();
    let mut services = services(t0);
    let mut buf = [0u8; 128];
    let mut message = MessageBuilder::new(&mut buf, MessageType::Solicit, 5).unwrap();
    message.client_id(&CLIENT_DUID).unwrap();
    message.oro(&[OptionCode::DnsServers]).unwrap();
    message
        .option(OptionCode::IaNa, &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    let len = message.finish();
    let packet = udp_packet(
        peer(),
        dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        &buf[..len],
    );
    services.handle_packet(t0, &packet);
    let (payload, _) = answer(&transmit(&mut services, t0)[0]);
    let advertise = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(advertise.ia_na, Some(1));
    assert!(advertise.ia_pd.is_none());
    assert_eq!(advertise.dns_servers().count(), 1);
}

#[test]
fn a_full_queue_and_a_small_buffer_are_counted_drops() {
    let t0 = Instant::now();
    let mut services = Ipv6Services::new(
        Arc::new(Ipv6ServicesConfig {
            max_pending: 2,
            ..config()
        }),
        OUR_IID,
        PEER_IID,
        t0,
    );
    let solicit = client_message(MessageType::Solicit, 1, None, None, false);
    assert_eq!(services.handle_packet(t0, &solicit), Handled::Consumed);
    assert_eq!(services.handle_packet(t0, &solicit), Handled::Consumed);
    assert_eq!(
        services.handle_packet(t0, &solicit),
        Handled::Dropped(DropReason::QueueFull)
    );
    let mut small = [0u8; 60];
    assert_eq!(services.poll_transmit(t0, &mut small), None);
    assert_eq!(services.counters().dropped, 3);
    let reasons = events(&mut services);
    assert_eq!(
        reasons.last(),
        Some(&Ipv6Event::Dropped {
            reason: DropReason::BufferTooSmall
        })
    );
}

#[test]
fn truncated_and_corrupted_packets_never_panic() {
    let t0 = Instant::now();
    let server_duid = config().server_duid;
    let packets = [
        router_solicitation(peer()),
        client_message(MessageType::Solicit, 1, None, None, true),
        client_message(
            MessageType::Request,
            2,
            Some(&server_duid),
            Some(delegation().prefix),
            false,
        ),
    ];
    for packet in &packets {
        let mut services = services(t0);
        for len in 0..packet.len() {
            let handled = services.handle_packet(t0, &packet[..len]);
            assert!(matches!(handled, Handled::Dropped(_)), "{len}: {handled:?}");
        }
        assert_eq!(services.counters().dropped, packet.len() as u64);
        for index in 0..packet.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut corrupted = packet.clone();
                corrupted[index] ^= flip;
                let _ = services.handle_packet(t0, &corrupted);
                transmit(&mut services, t0);
            }
        }
        events(&mut services);
    }
}

/// The Solicit and Request ISC dhclient 4.4.3-P1 sent to the responder
/// over a veth in `tests/wire_ipv6_tshark.rs` (UDP payloads), answered
/// again here with the server DUID that run used.
#[test]
fn captured_dhclient_messages_are_answered() {
    let solicit = hex::decode(
        "0192a1660001000e0001000132aa13b052540012345600060008001700180027001f000800020000\
         0019000c0012345600000e1000001518",
    )
    .unwrap();
    let request = hex::decode(
        "03e188660001000e0001000132aa13b05254001234560002000a0003000102005e000001000600080017\
         00180027001f000800020000001900290012345600000e1000001518001a001900001c2000001d4c3820\
         010db80100ab000000000000000000",
    )
    .unwrap();
    let t0 = Instant::now();
    let config = Ipv6ServicesConfig {
        server_duid: dhcpv6::duid::ll(dhcpv6::duid::HW_ETHERNET, &[2, 0, 0x5e, 0, 0, 1]),
        ..config()
    };
    let mut services = Ipv6Services::new(Arc::new(config), OUR_IID, PEER_IID, t0);
    services.set_delegation(Some(delegation()));
    let all_servers = dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS;
    services.handle_packet(t0, &udp_packet(peer(), all_servers, &solicit));
    let (payload, prefixes) = answer(&transmit(&mut services, t0)[0]);
    let advertise = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(advertise.msg_type, MessageType::Advertise);
    assert_eq!(advertise.transaction_id, 0x0092_a166);
    assert_eq!(advertise.client_id, Some(&solicit[8..22]));
    assert_eq!(prefixes[0].prefix, delegation().prefix);
    services.handle_packet(t0, &udp_packet(peer(), all_servers, &request));
    let (payload, prefixes) = answer(&transmit(&mut services, t0)[0]);
    let reply = Dhcpv6Repr::parse(&payload).unwrap();
    assert_eq!(reply.msg_type, MessageType::Reply);
    assert_eq!(reply.transaction_id, 0x00e1_8866);
    // Our lifetimes, not the client's hints.
    assert_eq!(
        (prefixes[0].preferred_lifetime, prefixes[0].valid_lifetime),
        (3600, 7200)
    );
    assert_eq!(services.binding(), Some((IAID, delegation().prefix)));
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any upper-layer bytes, as ICMPv6, UDP or anything else, to a
        /// link-scoped destination: handled or dropped, never a panic,
        /// and whatever is queued fits a 1280-byte buffer.
        #[test]
        fn arbitrary_link_local_packets_never_panic(
            next in prop_oneof![Just(58u8), Just(17u8), Just(0u8), any::<u8>()],
            to_servers in any::<bool>(),
            hop in prop_oneof![Just(255u8), any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let t0 = Instant::now();
            let mut services = services(t0);
            let dst = if to_servers { dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS } else { ALL_ROUTERS };
            let packet = ip_packet(peer(), dst, NextHeader::from(next), hop, &body);
            let handled = services.handle_packet(t0, &packet);
            prop_assert_ne!(handled, Handled::NotOurs);
            let mut buf = [0u8; 1280];
            while services.poll_transmit(t0, &mut buf).is_some() {}
            while services.poll_event().is_some() {}
        }
    }
}

#[test]
fn settings_are_checked_against_the_rfc_bounds() {
    assert_eq!(Ipv6ServicesConfig::default().validate(), Ok(()));
    assert_eq!(config().validate(), Ok(()));
    let cases = [
        (
            Ipv6ServicesConfig {
                ra_interval: Duration::from_secs(3),
                ..config()
            },
            "ra_interval",
        ),
        (
            Ipv6ServicesConfig {
                initial_ra_interval: Duration::from_secs(17),
                ..config()
            },
            "initial_ra_interval",
        ),
        (
            Ipv6ServicesConfig {
                router_lifetime: 9001,
                ..config()
            },
            "router_lifetime",
        ),
        (
            Ipv6ServicesConfig {
                prefix_preferred_lifetime: 10,
                prefix_valid_lifetime: 9,
                ..config()
            },
            "prefix_preferred_lifetime",
        ),
        (
            Ipv6ServicesConfig {
                dns: vec![dns(); 9],
                ..config()
            },
            "dns",
        ),
        (
            Ipv6ServicesConfig {
                server_duid: vec![0, 3],
                ..config()
            },
            "server_duid",
        ),
    ];
    for (config, field) in cases {
        let error = config.validate().unwrap_err();
        assert!(error.starts_with(field), "{field}: {error}");
    }
}
