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
//!
//! A second test puts the responder in front of real clients (root,
//! `isc-dhcp-client`, `dhcpcd-base`): a veth pair in a network namespace
//! stands for the PPP link (ISC dhclient refuses TUN devices:
//! "Unsupported device type 65534"); the test reads the IPv6 packets off
//! one end with an AF_PACKET socket, hands them to the responder without
//! their Ethernet header, and writes the answers back in Ethernet
//! frames. ISC dhclient 4.4 (`dhclient -6 -P`, Debian's dhclient.conf)
//! must bind the delegated prefix with our lifetimes, T1, T2 and DNS
//! server, renew it at T1 (short lifetimes here) and release it
//! (`dhclient -r`; the responder reports the release), and the Linux
//! kernel must take the RA: a SLAAC address from the /64 and a default
//! route via `fe80::1`. A third test does the same with dhcpcd 9.4
//! (`ia_pd` in its configuration; it runs router solicitation and SLAAC
//! itself): its log must show the delegated prefix and the SLAAC
//! address. Each exchange is written to a pcap and must be clean under
//! tshark, with the client's Solicit, our Advertise, its Request and our
//! Reply first. The veth offloads the client's UDP checksums, which the
//! test completes as a NIC would (see `complete_udp_checksum`).

mod common;

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::pcap::{ETHERTYPE_IPV6, PcapDump, ethernet_header};
use common::process::Process;
use common::tshark::Tshark;
use common::{Context, Result, bail, ensure, tempdir};
use tunnelnas::lns::ipv6::{Delegation, Handled, Ipv6Event, Ipv6Services, Ipv6ServicesConfig};
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

/// The client's end of the veth pair (dhclient and the kernel).
const CLIENT_IF: &str = "v6c";
/// Our end, read and written with an AF_PACKET socket.
const SERVER_IF: &str = "v6s";

/// An AF_PACKET socket bound to one interface, seeing IPv6 frames.
#[derive(Debug)]
struct RawLink {
    fd: std::os::fd::OwnedFd,
}

impl RawLink {
    /// Opens it on `name` (call inside the namespace).
    fn open(name: &str) -> std::io::Result<Self> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let protocol = (libc::ETH_P_IPV6 as u16).to_be();
        let cname = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: `cname` is a NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: plain socket(2); the descriptor is owned right away.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        // SAFETY: an all-zero sockaddr_ll is valid; the fields are set below.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = protocol;
        address.sll_ifindex = ifindex as i32;
        // SAFETY: `address` is a live sockaddr_ll of the size passed.
        let ret = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&address).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if ret < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { fd })
    }

    /// One frame, or `None` when none is waiting.
    fn recv(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        use std::os::fd::AsRawFd;
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let error = std::io::Error::last_os_error();
            return if error.kind() == std::io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(error)
            };
        }
        Ok(Some(n as usize))
    }

    fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Finishes the UDP checksum of an IPv6 packet the kernel sent over the
/// veth: veth offloads it (CHECKSUM_PARTIAL, only the pseudo-header sum
/// is in the field, as a NIC would complete it) and there is no ethtool
/// here to turn that off. Computed with the test harness's own RFC 1071
/// code, not the wire module's.
fn complete_udp_checksum(packet: &mut [u8]) {
    if packet.len() < 48 || packet[6] != 17 {
        return;
    }
    let udp_len = usize::from(u16::from_be_bytes([packet[44], packet[45]]));
    if udp_len < 8 || 40 + udp_len > packet.len() {
        return;
    }
    packet[46..48].copy_from_slice(&[0, 0]);
    let mut pseudo = packet[8..40].to_vec();
    pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    let sum = match common::pcap::internet_checksum(&[&pseudo, &packet[40..40 + udp_len]]) {
        0 => 0xffff,
        sum => sum,
    };
    packet[46..48].copy_from_slice(&sum.to_be_bytes());
}

/// `ip -6 addr show dev CLIENT_IF` in `ns`.
fn client_addresses(ns: &Netns) -> Result<String> {
    let out = ns.ip(["-6", "addr", "show", "dev", CLIENT_IF])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A namespace with a veth pair, the client's end up with IPv6 and
/// router advertisements accepted, ours silent and read by a [`RawLink`].
fn veth_link(tag: &str) -> Result<(Netns, RawLink)> {
    let ns = Netns::new(tag)?;
    ns.ip([
        "link",
        "add",
        CLIENT_IF,
        "address",
        "52:54:00:12:34:56",
        "type",
        "veth",
        "peer",
        "name",
        SERVER_IF,
        "address",
        "02:00:5e:00:00:01",
    ])?;
    // Our end stays silent: the responder speaks for it.
    let silent = format!("net.ipv6.conf.{SERVER_IF}.disable_ipv6=1");
    ns.exec(&["sysctl", "-qw", silent.as_str()])?;
    let accept_ra = format!("net.ipv6.conf.{CLIENT_IF}.accept_ra=1");
    ns.exec(&["sysctl", "-qw", accept_ra.as_str()])?;
    ns.ip(["link", "set", SERVER_IF, "up"])?;
    ns.ip(["link", "set", CLIENT_IF, "up"])?;
    let link = ns
        .run(|| RawLink::open(SERVER_IF))?
        .context("AF_PACKET socket on the server end")?;
    Ok((ns, link))
}

/// The delegated prefix of the real-client tests.
const DELEGATED: &str = "2001:db8:100:ab00::/56";

/// A responder with the real-client tests' settings, delegating with
/// these lifetimes.
fn real_client_responder(now: Instant, preferred: u32, valid: u32) -> Result<Ipv6Services> {
    let config = Ipv6ServicesConfig {
        dns: vec![addr("2001:db8::53")],
        server_duid: duid::ll(duid::HW_ETHERNET, &SERVER_MAC),
        ..Ipv6ServicesConfig::default()
    };
    let mut services = Ipv6Services::new(Arc::new(config), OUR_IID, PEER_IID, now);
    services.set_prefix(Some("2001:db8:1:2::/64".parse()?));
    services.set_delegation(Some(Delegation::new(DELEGATED.parse()?, preferred, valid)));
    Ok(services)
}

/// What a real-client test has seen so far.
#[derive(Debug, Default)]
struct Progress {
    /// The responder's events (a drop fails the test at once).
    events: Vec<Ipv6Event>,
    /// `ip -6 addr show` of the client's end.
    addrs: String,
    /// DHCPv6 client messages the responder took.
    dhcp_received: u64,
}

impl Progress {
    fn delegated(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Ipv6Event::PrefixDelegated { .. }))
    }

    fn released(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Ipv6Event::PrefixReleased { .. }))
    }
}

/// Serves the link until `check` (called every 200 ms) says done, for
/// at most 40 s. Every IPv6 packet both ways lands in `captured`.
fn serve_until(
    ns: &Netns,
    link: &RawLink,
    services: &mut Ipv6Services,
    captured: &mut Vec<Vec<u8>>,
    progress: &mut Progress,
    mut check: impl FnMut(&Progress) -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(40);
    let mut buf = [0u8; 2048];
    let mut next_check = start;
    loop {
        let now = Instant::now();
        ensure!(
            now < deadline,
            "not done within 40 s; events {:?}; addresses:\n{}",
            progress.events,
            client_addresses(ns).unwrap_or_default()
        );
        while let Some(len) = link.recv(&mut buf).context("reading the veth")? {
            let Some(packet) = buf.get(14..len) else {
                continue;
            };
            if buf[12..14] == ETHERTYPE_IPV6.to_be_bytes() {
                let mut packet = packet.to_vec();
                complete_udp_checksum(&mut packet);
                services.handle_packet(Instant::now(), &packet);
                captured.push(packet);
            }
        }
        if services.poll_timeout().is_some_and(|due| due <= now) {
            services.handle_timeout(now);
        }
        let mut out = [0u8; 1500];
        while let Some(len) = services.poll_transmit(now, &mut out) {
            let packet = &out[..len];
            link.send(&frame(packet)).context("writing to the veth")?;
            captured.push(packet.to_vec());
        }
        while let Some(event) = services.poll_event() {
            if let Ipv6Event::Dropped { reason } = event {
                bail!("the responder dropped {reason:?}");
            }
            progress.events.push(event);
        }
        if now >= next_check {
            next_check = now + Duration::from_millis(200);
            progress.addrs = client_addresses(ns)?;
            progress.dhcp_received = services.counters().dhcp_received;
            if check(progress)? {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the client end's link-local address is usable (DAD done).
fn link_local_ready(addrs: &str) -> bool {
    addrs.contains("scope link") && !addrs.contains("tentative")
}

/// Writes `captured` to `name` in `dir`, checks it is clean under
/// tshark, and returns the DHCPv6 message types in order.
fn dissect(dir: &std::path::Path, name: &str, captured: &[Vec<u8>]) -> Result<Vec<String>> {
    let mut dump = PcapDump::create(&dir.join(name))?;
    for packet in captured {
        dump.write_frame(&frame(packet))?;
    }
    let path = dump.finish()?;
    let tshark = Tshark::new().pref("udp.check_checksum", "TRUE");
    tshark.assert_clean(&path)?;
    Ok(tshark
        .fields(&path, Some("dhcpv6"), &["dhcpv6.msgtype"])?
        .into_iter()
        .flatten()
        .collect())
}

#[test]
fn isc_dhclient_and_the_linux_kernel_take_what_the_responder_gives() -> Result<()> {
    common::require_root()?;
    common::require_tool("dhclient", "isc-dhcp-client")?;
    let dir = tempdir("ipv6-dhclient")?;
    let (ns, link) = veth_link("v6dhclient")?;
    // Short lifetimes (T1 3 s, T2 4 s) so that dhclient renews within
    // the test.
    let mut services = real_client_responder(Instant::now(), 6, 12)?;
    let leases = dir.path().join("dhclient6.leases");
    let pid = dir.path().join("dhclient6.pid");
    let dhclient_command = |extra: &[&str]| {
        let mut command = ns.command("dhclient");
        command
            .args(["-6", "-P", "-d", "-v", "-sf", "/bin/true", "-lf"])
            .arg(&leases)
            .arg("-pf")
            .arg(&pid)
            .args(extra)
            .arg(CLIENT_IF);
        command
    };
    let mut dhclient: Option<Process> = None;
    let mut captured = Vec::new();
    let mut progress = Progress::default();
    // Solicit, Request, then a Renew at T1.
    let served = serve_until(
        &ns,
        &link,
        &mut services,
        &mut captured,
        &mut progress,
        |p| {
            if dhclient.is_none() && link_local_ready(&p.addrs) {
                let log = dir.path().join("dhclient.log");
                dhclient = Some(ns.spawn("dhclient -6 -P", dhclient_command(&[]), &log)?);
            }
            let lease = std::fs::read_to_string(&leases).unwrap_or_default();
            Ok(p.delegated()
                && p.dhcp_received >= 3
                && lease.contains("iaprefix")
                && p.addrs.contains("2001:db8:1:2:"))
        },
    );
    if let Err(error) = served {
        let log = dhclient
            .as_ref()
            .map(|d| d.log_tail(30))
            .unwrap_or_default();
        bail!("{error:#}\ndhclient log:\n{log}");
    }
    // dhclient bound our prefix with our lifetimes, T1, T2 and DNS.
    let lease = std::fs::read_to_string(&leases)?;
    for needle in [
        &format!("iaprefix {DELEGATED}") as &str,
        "preferred-life 6;",
        "max-life 12;",
        "renew 3;",
        "rebind 4;",
        "dhcp6.name-servers 2001:db8::53",
    ] {
        ensure!(
            lease.contains(needle),
            "{needle:?} not in dhclient's lease:\n{lease}"
        );
    }
    // The kernel: a SLAAC address from the /64 and us as default router.
    let routes =
        String::from_utf8_lossy(&ns.ip(["-6", "route", "show", "default"])?.stdout).into_owned();
    ensure!(
        routes.contains(&format!("via fe80::1 dev {CLIENT_IF}")),
        "no default route via fe80::1: {routes}\naddresses: {}",
        progress.addrs
    );
    // `dhclient -r` stops the running one and releases the prefix.
    let release_log = dir.path().join("dhclient-release.log");
    let mut release: Option<Process> = None;
    let served = serve_until(
        &ns,
        &link,
        &mut services,
        &mut captured,
        &mut progress,
        |p| {
            if release.is_none() {
                let command = dhclient_command(&["-r"]);
                release = Some(ns.spawn("dhclient -6 -P -r", command, &release_log)?);
            }
            Ok(p.released())
        },
    );
    if let Err(error) = served {
        let log = std::fs::read_to_string(&release_log).unwrap_or_default();
        bail!("{error:#}\ndhclient -r log:\n{}", common::tail(&log, 30));
    }
    ensure!(
        services.binding().is_none(),
        "still bound after the Release"
    );
    drop(release);
    drop(dhclient);
    let types = dissect(dir.path(), "dhclient.pcap", &captured)?;
    ensure!(
        types.starts_with(&["1", "2", "3", "7", "5", "7"].map(String::from))
            && types.ends_with(&["8", "7"].map(String::from)),
        "DHCPv6 exchange: {types:?}"
    );
    Ok(())
}

#[test]
fn dhcpcd_takes_the_delegated_prefix_and_the_router_advertisement() -> Result<()> {
    common::require_root()?;
    common::require_tool("dhcpcd", "dhcpcd-base")?;
    let dir = tempdir("ipv6-dhcpcd")?;
    let (ns, link) = veth_link("v6dhcpcd")?;
    let mut services = real_client_responder(Instant::now(), 3600, 7200)?;
    // dhcpcd asks for a prefix only when told to, and then must not run
    // router solicitation on other interfaces (dhcpcd.conf(5), ia_pd).
    let conf = dir.path().join("dhcpcd.conf");
    std::fs::write(
        &conf,
        format!(
            "ipv6only\nnoipv6rs\noption dhcp6_name_servers\ninterface {CLIENT_IF}\n\
             ipv6rs\nia_pd 1 -\n"
        ),
    )?;
    // dhcpcd keeps its lease in a fixed place; without a stale one it
    // starts from Solicit.
    let stale = std::path::Path::new("/var/lib/dhcpcd").join(format!("{CLIENT_IF}.lease6"));
    let _ = std::fs::remove_file(&stale);
    let mut dhcpcd: Option<Process> = None;
    let mut captured = Vec::new();
    let log = dir.path().join("dhcpcd.log");
    let mut progress = Progress::default();
    let served = serve_until(
        &ns,
        &link,
        &mut services,
        &mut captured,
        &mut progress,
        |p| {
            if dhcpcd.is_none() && link_local_ready(&p.addrs) {
                let mut command = ns.command("dhcpcd");
                command
                    .args(["-B", "-d", "-6", "-f"])
                    .arg(&conf)
                    .arg(CLIENT_IF);
                dhcpcd = Some(ns.spawn("dhcpcd -6", command, &log)?);
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Ok(p.delegated() && text.contains(DELEGATED) && text.contains("2001:db8:1:2:"))
        },
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if let Err(error) = served {
        bail!("{error:#}\ndhcpcd log:\n{}", common::tail(&text, 40));
    }
    drop(dhcpcd);
    let _ = std::fs::remove_file(&stale);
    let types = dissect(dir.path(), "dhcpcd.pcap", &captured)?;
    ensure!(
        types.starts_with(&["1", "2", "3", "7"].map(String::from)),
        "DHCPv6 exchange: {types:?}\ndhcpcd log:\n{}",
        common::tail(&text, 40)
    );
    Ok(())
}
