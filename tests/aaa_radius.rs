//! The AAA layer against real FreeRADIUS 3.2 (tests/common/freeradius.rs):
//! PAP, CHAP-MD5 and MS-CHAPv2 accept/reject, two tagged tunnel groups with
//! Tunnel-Password decoded exactly (also from the shared capture),
//! accounting (Start / Interim / Stop and RFC 2867) in the detail file,
//! failover and fail-back after dead time, spool replay across an AAA
//! restart, Message-Authenticator required by the server, and — the only
//! stand-in — a responder with a wrong authenticator, which is ignored.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use common::freeradius::{FreeRadius, RadiusClient, UserEntry};
use common::{Result, ensure};
use tunnelnas::aaa::attributes::{TunnelEndpoint, TunnelMediumKind};
use tunnelnas::aaa::client::{ClientConfig, ClientEvent, DropReason, GroupConfig, ServerConfig};
use tunnelnas::aaa::request::{
    AcctStatusType, Counters, MacFormat, NasIdentity, NasPortIdTemplate, NasPortType, PortInfo,
    TerminateCause, TunnelAccounting,
};
use tunnelnas::aaa::service::{AaaConfig, AaaEvent, AaaHandle};
use tunnelnas::aaa::{
    AccountingRecord, AuthRequest, Credentials, Decision, RejectCause, SessionInfo,
};
use tunnelnas::config::ServerStrategy;

const SECRET: &str = "testing123";

fn server_of(radius: &FreeRadius, secret: &str) -> ServerConfig {
    ServerConfig {
        address: radius.auth_addr().ip(),
        auth_port: radius.auth_addr().port(),
        acct_port: radius.acct_addr().port(),
        secret: secret.as_bytes().to_vec(),
        weight: 1,
    }
}

fn group(name: &str, servers: Vec<ServerConfig>) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        servers,
        strategy: ServerStrategy::Failover,
        timeout: Duration::from_millis(400),
        retries: 1,
        dead_after: 1,
        dead_time: Duration::from_secs(2),
    }
}

fn config(groups: Vec<GroupConfig>, state_dir: &Path) -> AaaConfig {
    AaaConfig {
        client: ClientConfig {
            probe_interval: Duration::from_millis(500),
            ..ClientConfig::default()
        },
        groups,
        nas: NasIdentity {
            nas_identifier: "tunnelnas-test".into(),
            nas_ip_address: Some(Ipv4Addr::LOCALHOST),
            nas_ipv6_address: None,
            nas_port_id: NasPortIdTemplate("{interface}:{vlans}".into()),
            mac_format: MacFormat::Ietf,
        },
        state_dir: state_dir.to_owned(),
        spool_max_records: 1000,
        acct_window: 8,
        acct_retry_interval: Duration::from_millis(500),
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_users: None,
        local_fallback: false,
        seed: [42; 32],
        auth_cache: Default::default(),
    }
}

fn session(id: &str) -> SessionInfo {
    SessionInfo {
        acct_session_id: id.into(),
        nas_port: Some(7),
        nas_port_type: Some(NasPortType::PppoEoVlan.into()),
        port: PortInfo {
            interface: "eth1".into(),
            svlan: None,
            cvlan: Some(100),
            agent_circuit_id: Some(b"circuit-1".to_vec()),
            agent_remote_id: Some(b"remote-1".to_vec()),
            nas_port_id: None,
        },
        calling_mac: Some([2, 0, 0, 0, 0, 1]),
        calling_station_id: None,
        called_station_id: Some("internet".into()),
    }
}

fn pap(user: &str, password: &str) -> AuthRequest {
    AuthRequest {
        user_name: user.into(),
        credentials: Credentials::Pap {
            password: password.as_bytes().to_vec(),
        },
        session: session("S1"),
        tunnel: None,
    }
}

fn chap(user: &str, password: &str) -> AuthRequest {
    use md5::{Digest, Md5};
    let challenge: Vec<u8> = (0u8..16).map(|i| i.wrapping_mul(37)).collect();
    let mut h = Md5::new();
    h.update([9u8]);
    h.update(password.as_bytes());
    h.update(&challenge);
    AuthRequest {
        user_name: user.into(),
        credentials: Credentials::Chap {
            id: 9,
            challenge,
            response: h.finalize().into(),
        },
        session: session("S2"),
        tunnel: None,
    }
}

/// RFC 2759 §8: NT-Response for `password`.
fn mschapv2(user: &str, password: &str) -> AuthRequest {
    use des::cipher::{BlockCipherEncrypt, KeyInit};
    use md4::Md4;
    use sha1::{Digest, Sha1};
    let auth_challenge = [0x5a; 16];
    let peer_challenge = [0x21; 16];
    let mut h = Sha1::new();
    h.update(peer_challenge);
    h.update(auth_challenge);
    h.update(user.as_bytes());
    let challenge_hash = h.finalize();
    let unicode: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut nt_hash = [0u8; 21];
    nt_hash[..16].copy_from_slice(&Md4::digest(&unicode));
    let mut nt_response = [0u8; 24];
    for (i, chunk) in nt_hash.chunks(7).enumerate() {
        // 7 key octets spread over 8 (parity bits ignored by DES).
        let mut key = [0u8; 8];
        let bits = u64::from_be_bytes([
            0, chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6],
        ]);
        for (j, k) in key.iter_mut().enumerate() {
            *k = (((bits >> (49 - 7 * j)) & 0x7f) as u8) << 1;
        }
        let cipher = des::Des::new_from_slice(&key).unwrap();
        let mut block = des::cipher::Block::<des::Des>::try_from(&challenge_hash[..8]).unwrap();
        cipher.encrypt_block(&mut block);
        nt_response[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    AuthRequest {
        user_name: user.into(),
        credentials: Credentials::MsChapV2 {
            id: 3,
            authenticator_challenge: auth_challenge,
            peer_challenge,
            nt_response,
            flags: 0,
        },
        session: session("S3"),
        tunnel: None,
    }
}

fn accepted(decision: &Decision) -> &tunnelnas::aaa::AcceptAttributes {
    match decision {
        Decision::Accept(a) => a,
        Decision::Reject(r) => panic!("expected Access-Accept, got {r:?}"),
    }
}

fn rejected(decision: &Decision) -> &tunnelnas::aaa::Rejection {
    match decision {
        Decision::Reject(r) => r,
        Decision::Accept(a) => panic!("expected a reject, got {a:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pap_chap_mschapv2_accept_and_reject_with_message_authenticator_required() -> Result<()> {
    let radius = FreeRadius::builder()
        .client(RadiusClient::new("127.0.0.1", SECRET).require_message_authenticator(true))
        .user(
            UserEntry::new("alice")
                .password("correct horse")
                .reply("Session-Timeout", "3600")
                .reply("Framed-IP-Address", "100.64.0.7")
                .reply("Framed-Pool", "business")
                .reply("Framed-Route", "192.0.2.0/24 0.0.0.0 1")
                .reply("Framed-IPv6-Prefix", "2001:db8:1:2::/64")
                .reply("Delegated-IPv6-Prefix", "2001:db8:ff00::/56")
                .reply("Class", "0x636c617373"),
        )
        .user(
            UserEntry::new("mallory")
                .reject()
                .reply("Reply-Message", "go away"),
        )
        // An LNS's Access-Request names the tunnel the call came on: this
        // user is accepted from lac1's tunnel only.
        .user(
            UserEntry::new("carol")
                .password("via lac1")
                .check("Tunnel-Client-Auth-Id:0", "==", "lac1")
                .check("Tunnel-Client-Endpoint:0", "==", "10.1.0.1")
                .check("Acct-Tunnel-Connection", "==", "4711/12"),
        )
        .start()?;
    let state = tempfile::tempdir()?;
    let aaa = AaaHandle::start(config(
        vec![group("isp", vec![server_of(&radius, SECRET)])],
        state.path(),
    ))
    .await?;

    let a = aaa.authenticate("isp", pap("alice", "correct horse")).await;
    let a = accepted(&a);
    assert_eq!(a.session_timeout, Some(3600));
    assert_eq!(a.framed_ip_address, Some(Ipv4Addr::new(100, 64, 0, 7)));
    assert_eq!(a.framed_pool.as_deref(), Some("business"));
    assert_eq!(a.framed_routes.len(), 1);
    assert_eq!(a.framed_routes[0].prefix.to_string(), "192.0.2.0/24");
    assert_eq!(a.framed_routes[0].metric, Some(1));
    assert_eq!(a.framed_ipv6_prefix, Some(("2001:db8:1:2::".parse()?, 64)));
    assert_eq!(
        a.delegated_ipv6_prefix,
        Some(("2001:db8:ff00::".parse()?, 56))
    );
    assert_eq!(a.class, vec![b"class".to_vec()]);
    let r = aaa.authenticate("isp", pap("alice", "wrong")).await;
    assert_eq!(rejected(&r).cause, RejectCause::AccessReject);
    let r = aaa.authenticate("isp", pap("mallory", "x")).await;
    assert_eq!(rejected(&r).reply_message.as_deref(), Some("go away"));
    let mut via_tunnel = pap("carol", "via lac1");
    via_tunnel.tunnel = Some(TunnelAccounting {
        client_endpoint: Some("10.1.0.1".parse()?),
        server_endpoint: Some("10.1.0.2".parse()?),
        connection_id: Some("4711/12".into()),
        client_auth_id: Some("lac1".into()),
        ..TunnelAccounting::default()
    });
    accepted(&aaa.authenticate("isp", via_tunnel.clone()).await);
    let mut other_lac = via_tunnel;
    if let Some(t) = other_lac.tunnel.as_mut() {
        t.client_auth_id = Some("lac2".into());
    }
    assert_eq!(
        rejected(&aaa.authenticate("isp", other_lac).await).cause,
        RejectCause::AccessReject
    );
    assert_eq!(
        rejected(&aaa.authenticate("isp", pap("carol", "via lac1")).await).cause,
        RejectCause::AccessReject
    );

    accepted(
        &aaa.authenticate("isp", chap("alice", "correct horse"))
            .await,
    );
    assert_eq!(
        rejected(&aaa.authenticate("isp", chap("alice", "nope")).await).cause,
        RejectCause::AccessReject
    );

    let ms = aaa
        .authenticate("isp", mschapv2("alice", "correct horse"))
        .await;
    let success = accepted(&ms)
        .ms_chap2_success
        .clone()
        .expect("MS-CHAP2-Success in the Access-Accept");
    assert_eq!(success[0], 3, "MS-CHAP2-Success starts with the CHAP ident");
    assert!(success[1..].starts_with(b"S="), "{success:?}");
    assert_eq!(success.len(), 43);
    let bad = aaa.authenticate("isp", mschapv2("alice", "nope")).await;
    let bad = rejected(&bad);
    assert_eq!(bad.cause, RejectCause::AccessReject);
    assert!(
        bad.ms_chap_error
            .as_deref()
            .is_some_and(|e| e.windows(5).any(|w| w == b"E=691")),
        "{bad:?}"
    );
    // FreeRADIUS saw our NAS attributes.
    let log = radius.log();
    ensure!(
        log.contains("NAS-Port-Id = \"eth1:100\""),
        "NAS-Port-Id missing"
    );
    ensure!(
        log.contains("Calling-Station-Id = \"02-00-00-00-00-01\""),
        "Calling-Station-Id"
    );
    ensure!(
        log.contains("Message-Authenticator"),
        "no Message-Authenticator logged"
    );
    aaa.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tagged_tunnel_groups_decode_exactly() -> Result<()> {
    let radius = FreeRadius::builder()
        .user(
            UserEntry::new("l2tpuser")
                .password("test")
                .l2tp_tunnel(1, "10.1.0.2", "secret", 2)
                .l2tp_tunnel(2, "10.1.0.3", "a-much-longer-tunnel-secret-2", 1),
        )
        .start()?;
    let state = tempfile::tempdir()?;
    let aaa = AaaHandle::start(config(
        vec![group("lac", vec![server_of(&radius, SECRET)])],
        state.path(),
    ))
    .await?;
    let d = aaa.authenticate("lac", pap("l2tpuser", "test")).await;
    let a = accepted(&d);
    assert!(a.skipped_tunnels.is_empty(), "{:?}", a.skipped_tunnels);
    assert_eq!(a.tunnels.len(), 2);
    // Preference 1 (tag 2) first.
    assert_eq!(a.tunnels[0].tag, 2);
    assert_eq!(
        a.tunnels[0].server_endpoint,
        TunnelEndpoint::Ip("10.1.0.3".parse()?)
    );
    assert_eq!(
        a.tunnels[0].password.as_deref(),
        Some(&b"a-much-longer-tunnel-secret-2"[..])
    );
    assert_eq!(a.tunnels[0].medium, TunnelMediumKind::Ipv4);
    assert_eq!(a.tunnels[1].tag, 1);
    assert_eq!(a.tunnels[1].password.as_deref(), Some(&b"secret"[..]));
    assert_eq!(a.tunnels[1].preference, Some(2));
    aaa.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_and_rfc2867_records_reach_the_detail_file() -> Result<()> {
    let radius = FreeRadius::builder().start()?;
    let state = tempfile::tempdir()?;
    let aaa = AaaHandle::start(config(
        vec![group("acct", vec![server_of(&radius, SECRET)])],
        state.path(),
    ))
    .await?;
    let user = Some("alice".to_owned());
    let mut start = AccountingRecord::new(AcctStatusType::Start, user.clone(), session("SESS-1"));
    start.framed_ip_address = Some(Ipv4Addr::new(100, 64, 0, 7));
    start.framed_ipv6_prefix = Some(("2001:db8:1:2::".parse()?, 64));
    start.delegated_ipv6_prefix = Some(("2001:db8:ff00::".parse()?, 56));
    start.class = vec![b"class-1".to_vec()];
    aaa.account("acct", start.clone()).await?;
    let mut interim = start.clone();
    interim.status = AcctStatusType::InterimUpdate.into();
    interim.counters = Some(Counters {
        input_octets: (2u64 << 32) + 1000,
        output_octets: 5000,
        input_packets: 10,
        output_packets: 20,
    });
    interim.session_time = Some(60);
    aaa.account("acct", interim.clone()).await?;
    let mut stop = interim.clone();
    stop.status = AcctStatusType::Stop.into();
    stop.session_time = Some(120);
    stop.terminate_cause = Some(TerminateCause::UserRequest.into());
    aaa.account("acct", stop).await?;
    let tunnel = TunnelAccounting {
        client_endpoint: Some("10.1.0.1".parse()?),
        server_endpoint: Some("10.1.0.2".parse()?),
        assignment_id: Some("lns-a".into()),
        connection_id: Some("4711".into()),
        client_auth_id: Some("lac1".into()),
        server_auth_id: Some("lns1".into()),
        packets_lost: None,
    };
    let mut tstart = AccountingRecord::new(AcctStatusType::TunnelStart, None, session("T-1"));
    tstart.tunnel = Some(tunnel.clone());
    aaa.account("acct", tstart).await?;
    let mut link = AccountingRecord::new(AcctStatusType::TunnelLinkStop, user, session("SESS-1"));
    link.tunnel = Some(TunnelAccounting {
        connection_id: Some("4711/12".into()),
        packets_lost: Some(3),
        ..tunnel
    });
    aaa.account("acct", link).await?;
    assert_eq!(aaa.flush(Duration::from_secs(10)).await, 0);

    let records = radius.wait_for_accounting(5, Duration::from_secs(10))?;
    let status: Vec<&str> = records
        .iter()
        .map(|r| r.attrs.get("Acct-Status-Type").unwrap_or("?"))
        .collect();
    assert_eq!(
        status,
        [
            "Start",
            "Interim-Update",
            "Stop",
            "Tunnel-Start",
            "Tunnel-Link-Stop"
        ]
    );
    let interim = &records[1].attrs;
    assert_eq!(interim.get("Acct-Input-Gigawords"), Some("2"));
    assert_eq!(interim.get("Acct-Input-Octets"), Some("1000"));
    assert_eq!(interim.get("Acct-Output-Octets"), Some("5000"));
    assert_eq!(interim.get("Acct-Session-Time"), Some("60"));
    assert_eq!(interim.get("Acct-Session-Id"), Some("SESS-1"));
    assert_eq!(interim.get("Class"), Some("0x636c6173732d31"));
    assert_eq!(
        records[2].attrs.get("Acct-Terminate-Cause"),
        Some("User-Request")
    );
    assert_eq!(
        records[0].attrs.get("Framed-IP-Address"),
        Some("100.64.0.7")
    );
    assert_eq!(
        records[0].attrs.get("Framed-IPv6-Prefix"),
        Some("2001:db8:1:2::/64")
    );
    assert_eq!(
        records[0].attrs.get("Delegated-IPv6-Prefix"),
        Some("2001:db8:ff00::/56")
    );
    assert_eq!(records[3].attrs.get("Acct-Tunnel-Connection"), Some("4711"));
    // Untagged (tag 0): FreeRADIUS names them with ":0".
    let t = &records[3].attrs;
    assert_eq!(t.get("Tunnel-Type:0"), Some("L2TP"));
    assert_eq!(t.get("Tunnel-Medium-Type:0"), Some("IPv4"));
    assert_eq!(t.get("Tunnel-Server-Endpoint:0"), Some("10.1.0.2"));
    assert_eq!(t.get("Tunnel-Client-Endpoint:0"), Some("10.1.0.1"));
    assert_eq!(t.get("Tunnel-Assignment-Id:0"), Some("lns-a"));
    assert_eq!(t.get("Tunnel-Client-Auth-Id:0"), Some("lac1"));
    assert_eq!(
        records[4].attrs.get("Acct-Tunnel-Connection"),
        Some("4711/12")
    );
    assert_eq!(records[4].attrs.get("Acct-Tunnel-Packets-Lost"), Some("3"));
    assert_eq!(records[0].attrs.get("Acct-Delay-Time"), Some("0"));
    aaa.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_second_server_and_back_after_dead_time() -> Result<()> {
    let mut first = FreeRadius::builder()
        .user(
            UserEntry::new("alice")
                .password("pw")
                .reply("Reply-Message", "first"),
        )
        .start()?;
    let second = FreeRadius::builder()
        .user(
            UserEntry::new("alice")
                .password("pw")
                .reply("Reply-Message", "second"),
        )
        .start()?;
    let state = tempfile::tempdir()?;
    let aaa = AaaHandle::start(config(
        vec![group(
            "isp",
            vec![server_of(&first, SECRET), server_of(&second, SECRET)],
        )],
        state.path(),
    ))
    .await?;
    let mut events = aaa.events();
    let who = |d: &Decision| accepted(d).reply_message.clone().unwrap_or_default();
    assert_eq!(
        who(&aaa.authenticate("isp", pap("alice", "pw")).await),
        "first"
    );
    first.stop()?;
    assert_eq!(
        who(&aaa.authenticate("isp", pap("alice", "pw")).await),
        "second"
    );
    // Marked dead: the next request goes straight to the second server.
    let t = std::time::Instant::now();
    assert_eq!(
        who(&aaa.authenticate("isp", pap("alice", "pw")).await),
        "second"
    );
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    first.start()?;
    // After the dead time a Status-Server probe revives the first server.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut saw_down = false;
    loop {
        let event = tokio::time::timeout_at(deadline.into(), events.recv()).await??;
        match event {
            AaaEvent::Client(ClientEvent::ServerDown { server }) => {
                assert_eq!(server.address, first.auth_addr());
                saw_down = true;
            }
            AaaEvent::Client(ClientEvent::ServerUp { server }) => {
                assert_eq!(server.address, first.auth_addr());
                break;
            }
            _ => {}
        }
    }
    assert!(saw_down);
    assert_eq!(
        who(&aaa.authenticate("isp", pap("alice", "pw")).await),
        "first"
    );
    aaa.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_replays_after_outage_and_restart_every_record_once() -> Result<()> {
    let mut radius = FreeRadius::builder().start()?;
    radius.stop()?;
    let state = tempfile::tempdir()?;
    let groups = vec![group("acct", vec![server_of(&radius, SECRET)])];
    let aaa = AaaHandle::start(config(groups.clone(), state.path())).await?;
    for n in 0..6 {
        let record = AccountingRecord::new(
            AcctStatusType::Start,
            Some(format!("user{n}")),
            session(&format!("SPOOL-{n}")),
        );
        aaa.account("acct", record).await?;
    }
    // Nothing answers; the six records stay spooled, and flush says so.
    assert_eq!(aaa.flush(Duration::from_millis(1500)).await, 6);
    aaa.shutdown().await;
    drop(aaa);

    radius.start()?;
    let aaa = AaaHandle::start(config(groups, state.path())).await?;
    assert_eq!(aaa.flush(Duration::from_secs(20)).await, 0);
    let records = radius.wait_for_accounting(6, Duration::from_secs(5))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let records_after = radius.accounting_records();
    assert_eq!(records_after.len(), records.len(), "a record arrived twice");
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r.attrs.get("Acct-Session-Id").unwrap_or("?"))
        .collect();
    assert_eq!(
        ids,
        [
            "SPOOL-0", "SPOOL-1", "SPOOL-2", "SPOOL-3", "SPOOL-4", "SPOOL-5"
        ]
    );
    for r in &records {
        let delay: u32 = r.attrs.get("Acct-Delay-Time").unwrap_or("0").parse()?;
        assert!(delay >= 1, "Acct-Delay-Time counts the outage: {delay}");
    }
    aaa.shutdown().await;
    Ok(())
}

/// The one stand-in: a UDP responder that answers every request with an
/// Access-Accept whose Response Authenticator is wrong. It is dropped,
/// counted, and the request times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responder_with_wrong_authenticator_is_ignored() -> Result<()> {
    let responder = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let addr = responder.local_addr()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((len, from)) = responder.recv_from(&mut buf) {
            if len < 20 {
                continue;
            }
            let mut reply = [0u8; 20];
            reply[0] = 2; // Access-Accept
            reply[1] = buf[1];
            reply[3] = 20;
            reply[4..20].copy_from_slice(&[0xee; 16]);
            let _ = responder.send_to(&reply, from);
        }
    });
    let state = tempfile::tempdir()?;
    let server = ServerConfig {
        address: addr.ip(),
        auth_port: addr.port(),
        acct_port: addr.port(),
        secret: SECRET.as_bytes().to_vec(),
        weight: 1,
    };
    let mut bad_group = group("bad", vec![server]);
    bad_group.dead_after = 3;
    let aaa = AaaHandle::start(config(vec![bad_group], state.path())).await?;
    let mut events = aaa.events();
    let d = aaa.authenticate("bad", pap("alice", "pw")).await;
    assert_eq!(rejected(&d).cause, RejectCause::Timeout);
    let mut bad = 0;
    while let Ok(event) = events.try_recv() {
        if let AaaEvent::Client(ClientEvent::Dropped { from, reason }) = event {
            assert_eq!(from, addr);
            assert_eq!(reason, DropReason::BadAuthenticator);
            bad += 1;
        }
    }
    assert_eq!(
        bad, 2,
        "first send and one retransmission, both answered badly"
    );
    aaa.shutdown().await;
    Ok(())
}
