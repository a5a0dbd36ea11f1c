//! RFC 5176 listener against radclient (freeradius-utils): Disconnect and
//! CoA with Message-Authenticator are ACKed, an unknown session NAKed with
//! Error-Cause 503, an unsigned request dropped (or ACKed when the listener
//! does not require Message-Authenticator), and a duplicate answered from
//! the reply cache without reaching the session twice.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::Result;
use common::freeradius::Radclient;
use tokio::sync::mpsc;
use tunnelnas::aaa::dynauth::{
    DynAuthCommand, DynAuthEvent, DynAuthKind, DynAuthListener, DynAuthPolicy, DynAuthResult,
    ErrorCause,
};
use tunnelnas::aaa::request::NasIdentity;
use tunnelnas::wire::radius::{Code, Packet, PacketBuilder, attr};

const SECRET: &str = "coa-secret";

async fn listener(require_ma: bool) -> Result<(DynAuthListener, mpsc::Receiver<DynAuthCommand>)> {
    let (tx, rx) = mpsc::channel(16);
    let policy = DynAuthPolicy {
        clients: vec![("127.0.0.1".parse()?, SECRET.as_bytes().to_vec())],
        require_message_authenticator: require_ma,
        replay_window: Duration::from_secs(300),
        nas: NasIdentity::default(),
    };
    let l =
        DynAuthListener::start("127.0.0.1:0".parse()?, policy, tx, Duration::from_secs(2)).await?;
    Ok((l, rx))
}

/// The "session owner": ACK for session S1 / user alice, else NAK 503.
fn serve(mut rx: mpsc::Receiver<DynAuthCommand>) -> mpsc::Receiver<(DynAuthKind, Option<u32>)> {
    let (seen_tx, seen) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let s = &cmd.request.selector;
            let known = s.acct_session_id.as_deref() == Some("S1")
                || s.user_name.as_deref() == Some("alice");
            let _ = seen_tx
                .send((cmd.request.kind, cmd.request.changes.session_timeout))
                .await;
            let _ = cmd.reply.send(if known {
                DynAuthResult::Ack
            } else {
                DynAuthResult::Nak(ErrorCause::SessionContextNotFound)
            });
        }
    });
    seen
}

async fn radclient(
    addr: SocketAddr,
    coa: bool,
    attrs: &'static [(&'static str, &'static str)],
) -> Result<common::freeradius::RadReply> {
    tokio::task::spawn_blocking(move || {
        let client = Radclient::new(addr, SECRET)
            .timeout(Duration::from_millis(700))
            .retries(1);
        if coa {
            client.coa(attrs)
        } else {
            client.disconnect(attrs)
        }
    })
    .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radclient_disconnect_and_coa() -> Result<()> {
    let (l, rx) = listener(true).await?;
    let mut events = l.events();
    let mut seen = serve(rx);
    let addr = l.local_addr();

    let r = radclient(
        addr,
        false,
        &[("Acct-Session-Id", "S1"), ("Message-Authenticator", "0x00")],
    )
    .await?;
    assert_eq!(r.code(), Some("Disconnect-ACK"), "{}", r.output);
    assert_eq!(seen.recv().await, Some((DynAuthKind::Disconnect, None)));

    let r = radclient(
        addr,
        true,
        &[
            ("User-Name", "alice"),
            ("Session-Timeout", "600"),
            ("Message-Authenticator", "0x00"),
        ],
    )
    .await?;
    assert_eq!(r.code(), Some("CoA-ACK"), "{}", r.output);
    assert_eq!(seen.recv().await, Some((DynAuthKind::Coa, Some(600))));

    let r = radclient(
        addr,
        false,
        &[
            ("Acct-Session-Id", "nope"),
            ("Message-Authenticator", "0x00"),
        ],
    )
    .await?;
    assert_eq!(r.code(), Some("Disconnect-NAK"), "{}", r.output);
    assert_eq!(
        r.attrs.get("Error-Cause"),
        Some("Session-Context-Not-Found")
    );
    seen.recv().await;

    // Unsigned: dropped, never reaches the session.
    let r = radclient(addr, false, &[("Acct-Session-Id", "S1")]).await?;
    assert_eq!(r.code(), None, "{}", r.output);
    assert!(seen.try_recv().is_err());
    let mut dropped = false;
    while let Ok(e) = events.try_recv() {
        dropped |= matches!(e, DynAuthEvent::Dropped { .. });
    }
    assert!(dropped);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_accepted_when_not_required_and_duplicates_answered_from_cache() -> Result<()> {
    let (l, rx) = listener(false).await?;
    let mut seen = serve(rx);
    let addr = l.local_addr();
    let r = radclient(addr, false, &[("Acct-Session-Id", "S1")]).await?;
    assert_eq!(r.code(), Some("Disconnect-ACK"), "{}", r.output);
    seen.recv().await;

    // The same signed request twice: identical answers, one command.
    let mut buf = [0u8; 256];
    let mut b = PacketBuilder::new(&mut buf, Code::DisconnectRequest, 77, &[0; 16])?;
    b.push_message_authenticator()?;
    b.push(attr::ACCT_SESSION_ID, b"S1")?;
    let len = b.finish_signed(SECRET.as_bytes(), None)?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut replies = Vec::new();
    for _ in 0..2 {
        socket.send_to(&buf[..len], addr)?;
        let mut reply = [0u8; 256];
        let n = socket.recv(&mut reply)?;
        replies.push(reply[..n].to_vec());
    }
    assert_eq!(replies[0], replies[1]);
    let request = Packet::new_checked(&buf[..len])?;
    let reply = Packet::new_checked(&replies[0][..])?;
    assert_eq!(reply.code(), Code::DisconnectAck);
    reply.verify_response(&request.authenticator(), SECRET.as_bytes())?;
    assert!(seen.recv().await.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        seen.try_recv().is_err(),
        "the duplicate reached the session"
    );
    Ok(())
}
