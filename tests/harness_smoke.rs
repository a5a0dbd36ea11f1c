//! Smoke tests of the integration-test harness (`tests/common`): each real
//! component starts, does the one thing later tests rely on, and is cleaned
//! up. A missing tool fails with the Debian package to install.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::freeradius::{
    AttrMap, DictionaryPolicy, FreeRadius, RadiusClient, UserEntry, parse_detail,
    parse_radclient_output, project_dictionary,
};
use common::linux_peer::{LinuxPeer, TnLine};
use common::netns::{Netns, VethPair};
use common::pcap::{PcapDump, internet_checksum, read_capture, udp_frame, udp_in_ethernet};
use common::tshark::{LiveCapture, Tshark};
use common::xl2tpd::{LacConfig, LnsConfig, Xl2tpd, Xl2tpdConfig};
use common::{Result, ensure, tempdir, unique_ifname};

/// Two namespaces joined by a veth pair reach each other over IPv4 and
/// IPv6, a closure run "inside" one of them sends UDP to a socket made in
/// the other, and dropping the namespaces deletes them and kills what ran
/// in them.
#[test]
fn netns_veth_pair_connects_and_cleans_up() -> Result<()> {
    let a = Netns::new("smoke-a")?;
    let b = Netns::new("smoke-b")?;
    let (name_a, name_b) = (a.name().to_owned(), b.name().to_owned());
    let link = VethPair::builder(&a, &b)
        .addr_a("10.77.0.1/24")
        .addr_b("10.77.0.2/24")
        .addr_a("fd77::1/64")
        .addr_b("fd77::2/64")
        .mtu(1400)
        .create()?;
    assert!(link.a().len() <= common::IFNAME_MAX && link.b().len() <= common::IFNAME_MAX);
    a.ping(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)))?;
    b.ping(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)))?;
    a.ping(IpAddr::V6("fd77::2".parse::<Ipv6Addr>()?))?;
    let shown = String::from_utf8(a.ip(["link", "show", "dev", link.a()])?.stdout)?;
    assert!(shown.contains("mtu 1400"), "{shown}");

    // Sockets made by `run` live in that namespace, wherever they are used.
    let receiver = b.run(|| UdpSocket::bind("10.77.0.2:4000"))??;
    receiver.set_read_timeout(Some(Duration::from_secs(5)))?;
    let sent_from = a.run(|| -> std::io::Result<SocketAddr> {
        let socket = UdpSocket::bind("10.77.0.1:0")?;
        socket.send_to(b"hello from a", "10.77.0.2:4000")?;
        socket.local_addr()
    })??;
    let mut buf = [0u8; 64];
    let (len, from) = receiver.recv_from(&mut buf)?;
    assert_eq!(&buf[..len], b"hello from a");
    assert_eq!(from, sent_from);
    // A long-lived thread in a namespace: a UDP echo server in `b`.
    let echo = b.spawn_thread("echo", || -> std::io::Result<usize> {
        let socket = UdpSocket::bind("10.77.0.2:4001")?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = [0u8; 64];
        let (len, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..len], from)
    })?;
    let echoed = a.run(|| -> std::io::Result<Vec<u8>> {
        let socket = UdpSocket::bind("10.77.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut buf = [0u8; 64];
        // The echo thread may not have bound yet: retry until it answers.
        for _ in 0..25 {
            socket.send_to(b"ping", "10.77.0.2:4001")?;
            if let Ok(len) = socket.recv(&mut buf) {
                return Ok(buf[..len].to_vec());
            }
        }
        Err(std::io::ErrorKind::TimedOut.into())
    })??;
    assert_eq!(echoed, b"ping");
    assert_eq!(echo.join().expect("echo thread panicked")?, 4);
    // The root namespace has no such address.
    assert!(UdpSocket::bind("10.77.0.2:0").is_err());

    // A process left running in a namespace dies with it.
    let mut sleeper = a.command("sleep").arg("300").spawn()?;
    let pid = sleeper.id();
    // `ip netns exec` enters the namespace, then execs `sleep`.
    common::wait_until(
        Duration::from_secs(5),
        || Ok(a.pids().contains(&pid).then_some(())),
        || format!("sleep {pid} not in {:?}", a.pids()),
    )?;

    drop(link);
    drop(a);
    drop(b);
    assert!(!Netns::exists(&name_a), "{name_a} survived its drop");
    assert!(!Netns::exists(&name_b), "{name_b} survived its drop");
    let status = common::wait_until(
        Duration::from_secs(5),
        || Ok(sleeper.try_wait()?),
        || format!("process {pid} survived its namespace"),
    )?;
    assert!(!status.success(), "{status}");
    Ok(())
}

/// FreeRADIUS answers an Access-Request with two RFC 2868 tag groups
/// (Tunnel-Password decrypted by radclient), rejects a wrong password and a
/// Reject user, handles CHAP, Status-Server and Disconnect, writes
/// accounting to the detail file, and survives a stop/start.
#[test]
fn freeradius_auth_tunnel_groups_reject_and_accounting() -> Result<()> {
    let mut radius = FreeRadius::builder()
        .user(
            UserEntry::new("l2tpuser")
                .password("test")
                .l2tp_tunnel(1, "10.1.0.2", "secret", 1)
                .l2tp_tunnel(2, "10.1.0.3", "secret2", 2)
                .reply("Reply-Message", "tunnelled"),
        )
        .user(
            UserEntry::new("mallory")
                .reject()
                .reply("Reply-Message", "go away"),
        )
        .start()?;

    let accept = radius.auth(&[("User-Name", "l2tpuser"), ("User-Password", "test")])?;
    accept.expect("Access-Accept")?;
    let groups = accept.attrs.tag_groups();
    assert_eq!(
        groups.keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "{}",
        accept.output
    );
    for (tag, endpoint, password, preference) in [
        (1, "10.1.0.2", "secret", "1"),
        (2, "10.1.0.3", "secret2", "2"),
    ] {
        let group = &groups[&tag];
        assert_eq!(group["Tunnel-Type"], "L2TP", "tag {tag}");
        assert_eq!(group["Tunnel-Medium-Type"], "IPv4", "tag {tag}");
        assert_eq!(group["Tunnel-Server-Endpoint"], endpoint, "tag {tag}");
        assert_eq!(
            group["Tunnel-Password"], password,
            "tag {tag}: decrypted by radclient"
        );
        assert_eq!(group["Tunnel-Preference"], preference, "tag {tag}");
    }
    assert_eq!(accept.attrs.get("Reply-Message"), Some("tunnelled"));

    let chap = radius.auth(&[("User-Name", "l2tpuser"), ("CHAP-Password", "test")])?;
    chap.expect("Access-Accept")?;

    let wrong = radius.auth(&[("User-Name", "l2tpuser"), ("User-Password", "wrong")])?;
    wrong.expect("Access-Reject")?;
    assert!(
        wrong.attrs.tag_groups().is_empty(),
        "a reject carries no tunnel: {}",
        wrong.output
    );

    let rejected = radius.auth(&[("User-Name", "mallory"), ("User-Password", "anything")])?;
    rejected.expect("Access-Reject")?;
    assert_eq!(rejected.attrs.get("Reply-Message"), Some("go away"));

    radius.status()?.expect("Access-Accept")?;

    radius
        .acct(&[
            ("User-Name", "l2tpuser"),
            ("Acct-Status-Type", "Start"),
            ("Acct-Session-Id", "smoke-0001"),
            ("NAS-Port", "7"),
            ("Framed-IP-Address", "10.200.0.9"),
        ])?
        .expect("Accounting-Response")?;
    let records = radius.wait_for_accounting(1, Duration::from_secs(5))?;
    let start = &records[0].attrs;
    assert_eq!(start.get("Acct-Status-Type"), Some("Start"));
    assert_eq!(start.get("Acct-Session-Id"), Some("smoke-0001"));
    assert_eq!(start.get("NAS-Port"), Some("7"));
    assert_eq!(start.get("Framed-IP-Address"), Some("10.200.0.9"));

    radius
        .disconnect(&[("User-Name", "l2tpuser"), ("Acct-Session-Id", "smoke-0001")])?
        .expect("Disconnect-ACK")?;
    let coa = radius.wait_for_coa_records(1, Duration::from_secs(5))?;
    assert_eq!(coa[0].attrs.get("Packet-Type"), Some("Disconnect-Request"));
    assert_eq!(coa[0].attrs.get("Acct-Session-Id"), Some("smoke-0001"));

    // Failover tests stop and restart the same server on the same ports.
    radius.stop()?;
    let silent = radius
        .radclient()
        .timeout(Duration::from_millis(300))
        .retries(1)
        .status()?;
    assert_eq!(
        silent.code(),
        None,
        "a stopped server answered: {}",
        silent.output
    );
    radius.start()?;
    radius
        .auth(&[("User-Name", "l2tpuser"), ("User-Password", "test")])?
        .expect("Access-Accept")?;
    Ok(())
}

/// A client that requires Message-Authenticator gets its requests dropped
/// unless they carry one (RFC 3579 §3.2 as FreeRADIUS enforces it).
#[test]
fn freeradius_require_message_authenticator() -> Result<()> {
    let radius = FreeRadius::builder()
        .client(RadiusClient::new("127.0.0.0/8", "s3cret").require_message_authenticator(true))
        .threaded()
        .user(UserEntry::new("bob").password("pw"))
        .start()?;
    assert_eq!(radius.secret(), "s3cret");
    let client = radius
        .radclient()
        .timeout(Duration::from_millis(500))
        .retries(1);
    let without = client.auth(&[("User-Name", "bob"), ("User-Password", "pw")])?;
    assert_eq!(
        without.code(),
        None,
        "answered without Message-Authenticator: {}",
        without.output
    );
    client
        .auth(&[
            ("User-Name", "bob"),
            ("User-Password", "pw"),
            ("Message-Authenticator", "0x00"),
        ])?
        .expect("Access-Accept")?;
    Ok(())
}

/// FreeRADIUS starts cleanly with the project's dictionaries included (when
/// `dictionaries/dictionary` exists), and also inside a namespace.
#[test]
fn freeradius_with_project_dictionary_in_namespace() -> Result<()> {
    let present = project_dictionary().is_file();
    let ns = Netns::new("radius")?;
    let client_ns = Netns::new("nas")?;
    let _link = VethPair::builder(&client_ns, &ns)
        .addr_a("10.78.0.1/24")
        .addr_b("10.78.0.2/24")
        .create()?;
    let policy = if present {
        DictionaryPolicy::Require
    } else {
        DictionaryPolicy::IfPresent
    };
    let radius = FreeRadius::builder()
        .in_netns(&ns, IpAddr::V4(Ipv4Addr::new(10, 78, 0, 2)))
        .project_dictionary(policy)
        .user(UserEntry::new("alice").password("pw"))
        .start()?;
    assert_eq!(radius.project_dictionary_included(), present);
    if !present {
        eprintln!(
            "note: {} does not exist yet; started without it",
            project_dictionary().display()
        );
    }
    let log = radius.log();
    assert!(!log.contains("Errors reading dictionary"), "{log}");
    assert_eq!(radius.auth_addr(), "10.78.0.2:1812".parse()?);
    // From the NAS namespace, across the veth.
    common::freeradius::Radclient::new(radius.auth_addr(), radius.secret())
        .in_netns(&client_ns)
        .auth(&[("User-Name", "alice"), ("User-Password", "pw")])?
        .expect("Access-Accept")?;
    Ok(())
}

/// xl2tpd as LAC in one namespace dials xl2tpd as LNS (own port, tunnel
/// secret, hidden AVPs) in another; a live capture in the LNS namespace sees
/// the whole exchange, which tshark dissects as L2TP with nothing malformed:
/// SCCRQ, SCCRP, SCCCN, ICRQ, ICRP, ICCN — then CDN because pppd cannot run
/// without kernel PPP (exit code 4).
#[test]
fn xl2tpd_lac_to_lns_seen_by_tshark() -> Result<()> {
    const LNS_PORT: u16 = 1702;
    let lac_ns = Netns::new("xl2tpd-lac")?;
    let lns_ns = Netns::new("xl2tpd-lns")?;
    let link = VethPair::builder(&lac_ns, &lns_ns)
        .addr_a("10.79.0.1/24")
        .addr_b("10.79.0.2/24")
        .create()?;
    let dir = tempdir("xl2tpd-smoke")?;
    let capture = LiveCapture::start(&lns_ns, link.b(), &dir.path().join("l2tp.pcap"))?;

    let mut lns = Xl2tpd::start(
        &lns_ns,
        Xl2tpdConfig {
            port: LNS_PORT,
            listen_addr: Some(IpAddr::V4(Ipv4Addr::new(10, 79, 0, 2))),
            ..Xl2tpdConfig::default()
        }
        .lns(LnsConfig {
            hidden_bit: true,
            ..LnsConfig::new()
        })
        .with_tunnel_secret("s3cret"),
    )?;
    let mut lac = Xl2tpd::start(
        &lac_ns,
        Xl2tpdConfig::default()
            .lac(LacConfig {
                hidden_bit: true,
                autodial: false,
                ..LacConfig::new("isp", &format!("10.79.0.2:{LNS_PORT}"))
            })
            .with_tunnel_secret("s3cret"),
    )?;
    lac.dial("isp")?; // through the control fifo
    lac.wait_for_log(
        "Connection established to 10.79.0.2",
        Duration::from_secs(15),
    )?;
    lns.wait_for_log("Call established with 10.79.0.1", Duration::from_secs(15))?;
    // Whichever pppd dies first (exit 4), its xl2tpd sends the CDN.
    let cdn_seen =
        |log: String| log.contains("pppd exited for call") || log.contains("Connection closed to");
    common::wait_until(
        Duration::from_secs(15),
        || Ok((cdn_seen(lac.log()) && cdn_seen(lns.log())).then_some(())),
        || {
            format!(
                "no CDN exchange\nLAC log:\n{}\nLNS log:\n{}",
                lac.log(),
                lns.log()
            )
        },
    )?;
    let pcap = capture.stop()?;

    let tshark = Tshark::new()
        .decode_as_udp(LNS_PORT, "l2tp")
        .pref("l2tp.shared_secret", "s3cret");
    tshark.assert_clean(&pcap)?;
    let types: Vec<String> = tshark
        .fields(
            &pcap,
            Some("l2tp.avp.message_type"),
            &["l2tp.avp.message_type"],
        )?
        .into_iter()
        .flatten()
        .collect();
    // RFC 2661 §3.2 message types.
    for (code, name) in [
        (1, "SCCRQ"),
        (2, "SCCRP"),
        (3, "SCCCN"),
        (10, "ICRQ"),
        (11, "ICRP"),
        (12, "ICCN"),
        (14, "CDN"),
    ] {
        assert!(
            types.iter().any(|t| t == &code.to_string()),
            "no {name} in the capture: {types:?}\n{}",
            tshark.summary(&pcap)?
        );
    }
    let sccrq = tshark.fields(
        &pcap,
        Some("l2tp.avp.message_type == 1"),
        &["ip.src", "udp.dstport"],
    )?;
    assert_eq!(sccrq[0], ["10.79.0.1", &LNS_PORT.to_string()]);
    Ok(())
}

/// Payloads wrapped by `pcap::udp_frame` dissect exactly like the original
/// capture: the RADIUS fixture (radclient ↔ FreeRADIUS) re-wrapped on other
/// ports and over IPv6 has the same RADIUS codes, valid IP/UDP checksums and
/// nothing malformed.
#[test]
fn pcap_udp_wrapping_dissects_like_the_original() -> Result<()> {
    let fixture =
        common::manifest_dir().join("tests/fixtures/captures/radius-auth-acct-coa-dm.pcap");
    let packets = read_capture(&fixture)?;
    ensure!(!packets.is_empty(), "{} is empty", fixture.display());
    let dir = tempdir("pcap-smoke")?;
    let mut v4 = PcapDump::create(&dir.path().join("v4.pcap"))?;
    let mut v6 = PcapDump::create(&dir.path().join("v6.pcap"))?;
    let mut payloads = 0;
    for packet in &packets {
        assert_eq!(packet.datalink, pcap_file::DataLink::ETHERNET);
        let Some(udp) = udp_in_ethernet(&packet.data) else {
            continue;
        };
        // Move every server port p to 20000 + p, client ports unchanged.
        let shift = |addr: SocketAddr| {
            if addr.port() < 5000 {
                20_000 + addr.port()
            } else {
                addr.port()
            }
        };
        let (src, dst) = (shift(udp.src), shift(udp.dst));
        v4.write_udp(
            SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), src),
            SocketAddr::new(Ipv4Addr::new(192, 0, 2, 2).into(), dst),
            udp.payload,
        )?;
        v6.write_udp(
            SocketAddr::new("2001:db8::1".parse::<Ipv6Addr>()?.into(), src),
            SocketAddr::new("2001:db8::2".parse::<Ipv6Addr>()?.into(), dst),
            udp.payload,
        )?;
        payloads += 1;
    }
    let (v4, v6) = (v4.finish()?, v6.finish()?);
    assert_eq!(payloads, packets.len());

    let original = Tshark::new().fields(&fixture, Some("radius"), &["radius.code", "radius.id"])?;
    let rewrapped = Tshark::new()
        .decode_as_udp(21812, "radius")
        .decode_as_udp(21813, "radius")
        .decode_as_udp(23799, "radius")
        .pref("ip.check_checksum", "TRUE")
        .pref("udp.check_checksum", "TRUE");
    for pcap in [&v4, &v6] {
        rewrapped.assert_clean(pcap)?;
        assert_eq!(
            rewrapped.fields(pcap, Some("radius"), &["radius.code", "radius.id"])?,
            original
        );
        assert_eq!(
            rewrapped.count(pcap, Some("udp.checksum.status != 1"))?,
            0,
            "bad UDP checksums"
        );
    }
    assert_eq!(
        rewrapped.count(&v4, Some("ip.checksum.status != 1"))?,
        0,
        "bad IPv4 checksums"
    );
    Ok(())
}

/// A `pppoe-client` guest (real pppd with the kernel PPPoE plugin) booted on
/// a tap in a namespace sends PADI frames that a capture on the tap sees.
#[test]
fn linux_peer_pppoe_client_sends_padi() -> Result<()> {
    let started = Instant::now();
    let ns = Netns::new("guest")?;
    let tap = unique_ifname("tap")?;
    ns.add_tap(&tap)?;
    let dir = tempdir("linux-peer-smoke")?;
    let capture = LiveCapture::start(&ns, &tap, &dir.path().join("padi.pcap"))?;
    let peer = LinuxPeer::boot(
        &ns,
        &tap,
        120,
        &[
            ("tn.mode", "pppoe-client"),
            ("tn.user", "smoke"),
            ("tn.pass", "pw"),
            ("tn.runfor", "6"),
        ],
    )?;
    let report = peer.wait()?;
    let pcap = capture.stop()?;
    eprintln!("guest ran {:?}: {:?}", started.elapsed(), report.lines);

    let Some(TnLine::Start(start)) = report.lines.first() else {
        panic!(
            "no TN-START first: {:?}\n{}",
            report.lines,
            report.console_tail(40)
        );
    };
    assert_eq!(start.get("mode").map(String::as_str), Some("pppoe-client"));
    assert_eq!(start.get("user").map(String::as_str), Some("smoke"));
    assert!(report.ended(), "no TN-END: {}", report.console_tail(40));
    assert!(
        report.status.success(),
        "the guest did not power off by itself ({}); {}",
        report.status,
        report.console_tail(30)
    );
    assert_eq!(
        report.up(),
        None,
        "nobody answered the PADI, so no link can be up"
    );

    let tshark = Tshark::new();
    let padis = tshark.count(&pcap, Some("pppoe.code == 0x09"))?;
    assert!(padis >= 1, "no PADI on {tap}:\n{}", tshark.summary(&pcap)?);
    tshark.assert_clean(&pcap)?;
    let padi = &tshark.fields(&pcap, Some("pppoe.code == 0x09"), &["eth.dst", "eth.type"])?[0];
    assert_eq!(
        padi,
        &["ff:ff:ff:ff:ff:ff", "0x8863"],
        "RFC 2516 §5.1: PADI is broadcast discovery"
    );
    Ok(())
}

// Pure parsers and helpers of the harness (no tools needed).

#[test]
fn unique_ifnames_fit_ifnamsiz_and_differ() -> Result<()> {
    let a = unique_ifname("abcdefg")?;
    let b = unique_ifname("abcdefg")?;
    assert!(a.len() <= common::IFNAME_MAX, "{a}");
    assert_ne!(a, b);
    assert!(unique_ifname("abcdefgh").is_err());
    assert!(common::check_ifname("sixteen-bytes-xx").is_err());
    assert!(common::check_ifname("a/b").is_err());
    assert!(common::check_ifname("eth0").is_ok());
    Ok(())
}

#[test]
fn tn_lines_parse() {
    let lines = common::linux_peer::parse_console(
        "[    1.0] boot\r\nTN-START mode=pppoe-client auth=any user=u runfor=5\r\n\
         TN-UP ppp0 local=10.200.0.2 peer=10.200.0.1\nTN-PING ppp0 ok\nTN-END up=1\nTN-FOO bar\n",
    );
    assert_eq!(lines.len(), 5);
    assert!(matches!(&lines[0], TnLine::Start(map) if map["runfor"] == "5"));
    assert_eq!(
        lines[1],
        TnLine::Up {
            iface: "ppp0".into(),
            local: Ipv4Addr::new(10, 200, 0, 2),
            peer: Ipv4Addr::new(10, 200, 0, 1)
        }
    );
    assert_eq!(
        lines[2],
        TnLine::Ping {
            iface: "ppp0".into(),
            ok: true
        }
    );
    assert_eq!(lines[3], TnLine::End { up: 1 });
    assert_eq!(lines[4], TnLine::Other("TN-FOO bar".into()));
    assert_eq!(
        TnLine::parse("TN-UP ppp0 local=x peer=y"),
        Some(TnLine::Other("TN-UP ppp0 local=x peer=y".into()))
    );
}

#[test]
fn detail_and_radclient_output_parse() {
    let detail = "Mon Nov 23 21:34:36 2026\n\tUser-Name = \"a \\\"b\\\"\"\n\tNAS-Port = 5\n\n\
                  Mon Nov 23 21:34:37 2026\n\tUser-Name = \"partial\"\n";
    let records = parse_detail(detail);
    assert_eq!(records.len(), 1, "the unfinished record is left out");
    assert_eq!(records[0].header, "Mon Nov 23 21:34:36 2026");
    assert_eq!(records[0].attrs.get("User-Name"), Some("a \"b\""));
    assert_eq!(records[0].attrs.get("NAS-Port"), Some("5"));

    let reply = parse_radclient_output(
        "Sent Access-Request Id 1 from 0.0.0.0:1 to 127.0.0.1:2 length 48\n\tUser-Name = \"x\"\n\
         Received Access-Accept Id 1 from 127.0.0.1:2 to 127.0.0.1:1 length 30\n\
         \tTunnel-Type:1 = L2TP\n\tTunnel-Password:1 = \"secret\"\n\tClass = 0x6869\n",
    );
    assert_eq!(reply.code(), Some("Access-Accept"));
    assert_eq!(
        reply.attrs,
        AttrMap(vec![
            ("Tunnel-Type:1".into(), "L2TP".into()),
            ("Tunnel-Password:1".into(), "secret".into()),
            ("Class".into(), "0x6869".into()),
        ])
    );
    assert_eq!(reply.attrs.tagged("Tunnel-Password", 1), Some("secret"));
    assert_eq!(
        parse_radclient_output("(0) No reply from server for ID 3").code(),
        None
    );
}

#[test]
fn users_file_entries_render() {
    let entry = UserEntry::new("alice")
        .password("p\"w")
        .l2tp_tunnel(1, "fd00::2", "", 5)
        .reply_raw("Class", "=", "0x0102");
    assert_eq!(
        entry.render(),
        "\"alice\" Cleartext-Password := \"p\\\"w\"\n\
         \tTunnel-Type:1 = \"L2TP\",\n\tTunnel-Medium-Type:1 = \"IPv6\",\n\
         \tTunnel-Server-Endpoint:1 = \"fd00::2\",\n\tTunnel-Preference:1 = \"5\",\n\tClass = 0x0102\n"
    );
}

#[test]
fn udp_frames_have_valid_checksums_and_parse_back() -> Result<()> {
    let src: SocketAddr = "10.0.0.1:1701".parse()?;
    let dst: SocketAddr = "10.0.0.2:1702".parse()?;
    let frame = udp_frame(src, dst, b"odd")?;
    assert_eq!(frame.len(), 14 + 20 + 8 + 3);
    assert_eq!(
        internet_checksum(&[&frame[14..34]]),
        0,
        "IPv4 header checksum"
    );
    let parsed = udp_in_ethernet(&frame).expect("UDP in the frame");
    assert_eq!(
        (parsed.src, parsed.dst, parsed.payload),
        (src, dst, &b"odd"[..])
    );
    // Verifying over the pseudo-header yields zero.
    let udp = &frame[34..];
    let pseudo = [&frame[26..34], &[0, 17], &udp[4..6]].concat();
    assert_eq!(internet_checksum(&[&pseudo, udp]), 0, "UDP checksum");
    assert!(udp_frame(src, "[::1]:1".parse()?, b"").is_err());
    assert!(udp_frame(src, dst, &vec![0; 65_508]).is_err());
    for len in 0..16 {
        assert!(udp_in_ethernet(&frame[..len]).is_none());
    }
    Ok(())
}
