//! `tunnelnas dial`: an L2TP LAC client (RFC 2661 §1.1 "LAC Client") that
//! dials an LNS itself, like xl2tpd's LAC with pppd, without kernel L2TP
//! or PPP.
//!
//! * [`core`]: the sans-IO [`DialCore`] (tunnel, calls, PPP client links,
//!   data framing; RFC 2661 §5.4, §7, RFC 1661, RFC 1332), and [`event`],
//!   what it reports;
//! * this module: its driver on tokio (one current-thread runtime): a UDP
//!   socket on an ephemeral port towards the LNS, and for a single call a
//!   TUN device ([`crate::dataplane::tun`]) with the IPCP address as a
//!   /32 whose point-to-point peer is the LNS's address (the kernel then
//!   routes the peer into the device), MTU the LNS's MRU; IP is forwarded
//!   both ways. It prints
//!   `dial: up user=U local=A peer=B tunnel=T session=S tun=NAME` when the
//!   call is up, and runs until SIGINT or SIGTERM, then hangs up (LCP
//!   Terminate, CDN, StopCCN) and returns. A call that fails
//!   (authentication refused, tunnel refused with its StopCCN result,
//!   timeout) returns the reason as an error.
//! * `--count N` (N > 1) is the load-generator path: N calls on one
//!   tunnel, no TUN; each call's address is printed as it comes up, then
//!   `dial: K of N sessions up in S s`, and the calls are held until a
//!   signal.
//!
//! The socket is not connected: an LNS may answer the SCCRQ from another
//! UDP port than 1701 (RFC 2661 §8.1), and the endpoint checks the source
//! address of every control message itself.

pub mod core;
pub mod event;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use tokio::net::UdpSocket;

pub use self::core::{DialConfig, DialCore, DialEvent, DialStats, DownCause, SetupStage};
use crate::dataplane::tun::{AsyncTunQueue, TunConfig, TunDevice};
use crate::l2tp::MAX_CONTROL_LEN;
use crate::ppp::auth::AuthMethod;
use crate::ppp::link::Credentials;

/// How long a hang-up may take (LCP Terminate, CDN, StopCCN acknowledged)
/// before the process leaves anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Largest IP packet read from TUN.
const TUN_BUFFER: usize = 65_536;

/// Which authentication methods the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthChoice {
    /// PAP only.
    Pap,
    /// CHAP-MD5 only.
    Chap,
    /// MS-CHAPv2 only.
    MsChapV2,
    /// Whatever the LNS asks for (MS-CHAPv2, CHAP, PAP).
    Any,
}

impl AuthChoice {
    /// The methods, in order of preference.
    pub fn methods(self) -> Vec<AuthMethod> {
        match self {
            Self::Pap => vec![AuthMethod::Pap],
            Self::Chap => vec![AuthMethod::ChapMd5],
            Self::MsChapV2 => vec![AuthMethod::MsChapV2],
            Self::Any => vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
        }
    }
}

/// The command line of `tunnelnas dial`.
#[derive(Debug, Clone)]
pub struct DialOptions {
    /// `ADDR[:PORT]` or `HOST[:PORT]` of the LNS (port 1701 by default).
    pub lns: String,
    /// PPP user name.
    pub user: String,
    /// PPP password.
    pub password: String,
    /// Tunnel secret; `None`: no tunnel authentication.
    pub secret: Option<String>,
    /// Host Name AVP in the SCCRQ (default `tunnelnas-dial`).
    pub host_name: Option<String>,
    /// TUN device name (one call only).
    pub tun: String,
    /// Authentication methods accepted.
    pub auth: AuthChoice,
    /// Give the TUN device only our /32, without the LNS as point-to-point
    /// peer (so no route through it).
    pub no_route: bool,
    /// Calls to place on the tunnel; more than one: no TUN.
    pub count: u32,
}

/// `ADDR[:PORT]` (an IPv6 address with a port in brackets) or a host name,
/// port 1701 by default.
///
/// # Errors
/// Neither an address nor a name that resolves.
pub fn parse_lns(text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 1701));
    }
    let with_port = if text.contains(':') {
        text.to_owned()
    } else {
        format!("{text}:1701")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("--lns {text}: not an address, and the name does not resolve"))?
        .next()
        .ok_or_else(|| anyhow!("--lns {text}: the name has no address"))
}

/// Runs `tunnelnas dial` (module docs) until a signal, or until the call
/// fails.
///
/// # Errors
/// The call's failure (authentication, tunnel refusal, timeout), a TUN
/// device that cannot be made, socket errors.
pub fn dial(options: &DialOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(options))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// The TUN device of a single call, once it is up.
struct Tun {
    /// Keeps the device's name and index; the queue keeps it alive.
    device: TunDevice,
    queue: AsyncTunQueue,
}

impl Tun {
    fn create(
        name: &str,
        local: Ipv4Addr,
        peer: Ipv4Addr,
        mtu: u16,
        no_route: bool,
    ) -> anyhow::Result<Self> {
        let mut device = TunDevice::create(&TunConfig {
            name: name.to_owned(),
            mtu,
            queues: 1,
        })?;
        let peer = (!no_route).then_some(IpAddr::V4(peer));
        device.add_address(IpAddr::V4(local), peer, 32)?;
        let queue = device
            .take_queues()
            .pop()
            .ok_or_else(|| anyhow!("TUN device {name}: no queue"))?;
        let queue = AsyncTunQueue::new(queue).with_context(|| format!("TUN device {name}"))?;
        Ok(Self { device, queue })
    }
}

async fn tun_recv(tun: Option<&Tun>, buf: &mut [u8]) -> std::io::Result<usize> {
    match tun {
        Some(tun) => tun.queue.recv(buf).await,
        None => std::future::pending().await,
    }
}

/// What the run has seen, for the final verdict.
#[derive(Debug, Default)]
struct Outcome {
    up: u32,
    /// Calls that ended before they were up.
    failed_setup: u32,
    failures: Vec<DownCause>,
    /// The reason to leave with an error, when it is not a call's.
    error: Option<anyhow::Error>,
    summary_printed: bool,
}

async fn run(options: &DialOptions) -> anyhow::Result<()> {
    let lns = parse_lns(&options.lns)?;
    let count = options.count.max(1);
    let bind: SocketAddr = if lns.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .context("binding the L2TP socket")?;
    let mut config = DialConfig::new(
        lns,
        Credentials {
            user: options.user.as_bytes().to_vec(),
            password: options.password.as_bytes().to_vec(),
        },
    );
    config.secret = options.secret.clone().unwrap_or_default().into_bytes();
    config.auth_methods = options.auth.methods();
    if let Some(name) = &options.host_name {
        config.endpoint.host_name = name.as_bytes().to_vec();
    }
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let mut core = DialCore::new(config, seed);
    let started = Instant::now();
    tracing::info!(%lns, user = %options.user, count, "dialling");
    for _ in 0..count {
        core.dial(started)
            .map_err(|e| anyhow!("dial: cannot place a call: {e}"))?;
    }

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut closing: Option<Instant> = None;
    let mut tun: Option<Tun> = None;
    let mut outcome = Outcome::default();
    let mut recv = vec![0u8; TUN_BUFFER];
    let mut send = vec![0u8; MAX_CONTROL_LEN.max(TUN_BUFFER)];
    let mut from_tun = vec![0u8; TUN_BUFFER];
    loop {
        let now = Instant::now();
        while let Some((to, len)) = core.poll_datagram(now, &mut send) {
            // A datagram the kernel refuses is lost like on a network:
            // the control channel and PPP retransmit.
            if let Err(err) = socket.send_to(&send[..len], to).await {
                tracing::debug!(%err, %to, "send failed");
            }
        }
        while let Some((_, len)) = core.poll_ip(&mut send) {
            if let Some(tun) = &tun
                && let Err(err) = tun.queue.send(&send[..len]).await
            {
                tracing::debug!(%err, "TUN write failed");
            }
        }
        while let Some(event) = core.poll_event() {
            on_event(
                &mut core,
                event,
                options,
                count,
                started,
                closing.is_some(),
                &mut tun,
                &mut outcome,
            );
        }
        if closing.is_none() && (outcome.error.is_some() || core.is_closing()) {
            closing = Some(Instant::now());
            core.close(Instant::now());
            continue;
        }
        if core.is_closed() {
            break;
        }
        if closing.is_some_and(|at| at.elapsed() >= CLOSE_GRACE) {
            tracing::warn!("the LNS did not complete the hang-up in time; leaving");
            break;
        }
        let mut wake = core
            .poll_timeout()
            .unwrap_or_else(|| now + Duration::from_secs(3600));
        if let Some(at) = closing {
            wake = wake.min(at + CLOSE_GRACE);
        }
        tokio::select! {
            received = socket.recv_from(&mut recv) => {
                let (len, from) = received.context("receiving on the L2TP socket")?;
                let now = Instant::now();
                core.handle_datagram(now, from, &recv[..len]);
                // Whatever else is already queued, without waiting.
                for _ in 0..64 {
                    match socket.try_recv_from(&mut recv) {
                        Ok((len, from)) => core.handle_datagram(now, from, &recv[..len]),
                        Err(_) => break,
                    }
                }
            }
            read = tun_recv(tun.as_ref(), &mut from_tun) => {
                match read {
                    Ok(len) => core.handle_ip(Instant::now(), &from_tun[..len]),
                    Err(err) => tracing::debug!(%err, "TUN read failed"),
                }
            }
            () = tokio::time::sleep_until(wake.into()) => core.handle_timeout(Instant::now()),
            signal = &mut shutdown, if closing.is_none() => {
                signal?;
                tracing::info!("hanging up");
                closing = Some(Instant::now());
                core.close(Instant::now());
            }
        }
    }
    let stats = core.stats();
    tracing::info!(?stats, "dial: done");
    drop(tun);
    if let Some(error) = outcome.error {
        return Err(error);
    }
    if !outcome.failures.is_empty() {
        let first = &outcome.failures[0];
        if count == 1 {
            bail!("dial: {first}");
        }
        bail!(
            "dial: {} of {count} calls failed; the first: {first}",
            outcome.failures.len()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn on_event(
    core: &mut DialCore,
    event: DialEvent,
    options: &DialOptions,
    count: u32,
    started: Instant,
    closing: bool,
    tun: &mut Option<Tun>,
    outcome: &mut Outcome,
) {
    match event {
        DialEvent::TunnelUp {
            tunnel_id,
            peer_tunnel_id,
            peer,
            took,
        } => tracing::info!(tunnel_id, peer_tunnel_id, %peer, ?took, "tunnel up"),
        DialEvent::Up {
            call,
            local,
            peer,
            dns,
            mru,
            took,
            ..
        } => {
            outcome.up += 1;
            tracing::info!(%local, %peer, ?dns, mru, ?took, "call up");
            if count == 1 {
                if tun.is_none() {
                    match Tun::create(&options.tun, local, peer, mru, options.no_route) {
                        Ok(device) => *tun = Some(device),
                        Err(error) => {
                            outcome.error = Some(error.context("dial: the call is up but"));
                            return;
                        }
                    }
                }
                let name = tun.as_ref().map_or("", |t| t.device.name());
                println!(
                    "dial: up user={} local={local} peer={peer} tunnel={} session={} tun={name}",
                    options.user, call.tunnel_id, call.session_id
                );
            } else {
                println!(
                    "dial: up user={} local={local} peer={peer} tunnel={} session={}",
                    options.user, call.tunnel_id, call.session_id
                );
            }
        }
        DialEvent::Down {
            call,
            was_up,
            reason,
        } => {
            if !was_up {
                outcome.failed_setup += 1;
            }
            if reason == DownCause::HungUp && closing {
                tracing::info!(
                    tunnel_id = call.tunnel_id,
                    session_id = call.session_id,
                    "call hung up"
                );
            } else {
                tracing::warn!(
                    tunnel_id = call.tunnel_id,
                    session_id = call.session_id,
                    was_up,
                    %reason,
                    "call down"
                );
                outcome.failures.push(reason);
            }
            if count == 1 && !closing {
                // The only call is gone: hang up the tunnel and leave.
                core.close(Instant::now());
            }
        }
        DialEvent::TunnelDown {
            tunnel_id,
            cause,
            result,
        } => tracing::info!(tunnel_id, ?cause, ?result, "tunnel down"),
    }
    if count > 1 && !outcome.summary_printed && outcome.up + outcome.failed_setup >= count {
        outcome.summary_printed = true;
        println!(
            "dial: {} of {count} sessions up in {:.3} s",
            outcome.up,
            started.elapsed().as_secs_f64()
        );
        if outcome.up == 0 {
            core.close(Instant::now());
        }
    }
}
