//! The LAC's I/O driver: one tokio task owns the [`LacCore`], the
//! AF_PACKET sockets of the access interfaces and the L2TP UDP socket, and
//! loops over readiness, timers and commands. RADIUS requests run as
//! spawned tasks on the [`AaaHandle`] and come back over a channel;
//! accounting goes to the durable spool of the AAA service; RFC 5176
//! requests and API queries arrive as messages. The per-packet path has no
//! locks and allocates nothing: a batch is received, each frame is
//! rewritten in place by the core and sent at once.
//!
//! One task per LAC keeps the core's tables private; DESIGN.md's scale-out
//! across cores (sharding by subscriber key) comes with the performance
//! work.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::core::{Command, Forward, LacConfig, LacCore, SessionView};
use crate::aaa::attributes::Decision;
use crate::aaa::dynauth::DynAuthCommand;
use crate::aaa::request::AccountingRecord;
use crate::aaa::service::AaaHandle;
use crate::dataplane::packet::{AsyncPacketSocket, PacketSocket, RecvBatch};
use crate::metrics::{LacSnapshot, Metrics};

/// Frames per `recvmmsg(2)`.
const BATCH: usize = 32;
/// Datagrams read per wake-up before the loop looks at other work.
const UDP_BUDGET: usize = 64;
/// Offset at which datagrams are received (room for Ethernet + PPPoE).
const UDP_HEADROOM: usize = 64;
/// Largest datagram accepted.
const UDP_MAX: usize = 2048;
/// How long shutdown waits for CDNs and StopCCNs to be acknowledged.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A tunnel as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TunnelView {
    /// Our Tunnel ID.
    pub tunnel_id: u16,
    /// The LNS's Tunnel ID.
    pub peer_tunnel_id: u16,
    /// The LNS.
    pub peer: String,
    /// Its Host Name.
    pub peer_host_name: String,
    /// Control connection state.
    pub state: String,
    /// Sessions on it.
    pub sessions: usize,
}

/// A denylisted LNS endpoint as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DenylistView {
    /// The endpoint.
    pub endpoint: String,
    /// Seconds until it is tried again first.
    pub remaining_seconds: f64,
}

/// A question from the management API.
#[derive(Debug)]
enum ApiRequest {
    Sessions(oneshot::Sender<Vec<SessionView>>),
    Tunnels(oneshot::Sender<Vec<TunnelView>>),
    Denylist(oneshot::Sender<Vec<DenylistView>>),
    Disconnect(String, oneshot::Sender<bool>),
}

/// The management API's handle on a running LAC.
#[derive(Debug, Clone)]
pub struct LacApi {
    requests: mpsc::Sender<ApiRequest>,
}

impl LacApi {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> ApiRequest) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Every subscriber session.
    pub async fn sessions(&self) -> Option<Vec<SessionView>> {
        self.ask(ApiRequest::Sessions).await
    }

    /// Every tunnel.
    pub async fn tunnels(&self) -> Option<Vec<TunnelView>> {
        self.ask(ApiRequest::Tunnels).await
    }

    /// Denylisted LNS endpoints.
    pub async fn denylist(&self) -> Option<Vec<DenylistView>> {
        self.ask(ApiRequest::Denylist).await
    }

    /// Tears a session down like a Disconnect-Request; whether it existed.
    pub async fn disconnect(&self, acct_session_id: String) -> Option<bool> {
        self.ask(|tx| ApiRequest::Disconnect(acct_session_id, tx))
            .await
    }
}

/// A RADIUS answer for the core.
#[derive(Debug)]
struct AuthDone {
    token: u64,
    decision: Decision,
}

/// A LAC ready to run: sockets open, core built.
#[derive(Debug)]
pub struct Lac {
    core: LacCore,
    interfaces: Vec<AsyncPacketSocket>,
    udp: UdpSocket,
    aaa: AaaHandle,
    metrics: Arc<Metrics>,
    api_rx: mpsc::Receiver<ApiRequest>,
    dynauth_rx: Option<mpsc::Receiver<DynAuthCommand>>,
    auth_tx: mpsc::Sender<AuthDone>,
    auth_rx: mpsc::Receiver<AuthDone>,
    acct_tx: mpsc::UnboundedSender<(String, Box<AccountingRecord>)>,
    acct_task: tokio::task::JoinHandle<()>,
    interface_down: Vec<bool>,
}

impl Lac {
    /// Opens the access interfaces and the L2TP socket and builds the core.
    /// Returns the LAC and the API handle.
    ///
    /// # Errors
    /// An interface that cannot be opened or an L2TP address that cannot
    /// be bound, named in the error.
    pub async fn open(
        config: LacConfig,
        l2tp_listen: SocketAddr,
        acct_session_prefix: String,
        aaa: AaaHandle,
        metrics: Arc<Metrics>,
        dynauth: Option<mpsc::Receiver<DynAuthCommand>>,
    ) -> anyhow::Result<(Self, LacApi)> {
        let mut interfaces = Vec::new();
        let mut macs = Vec::new();
        for iface in &config.interfaces {
            let socket = PacketSocket::open(&iface.name).with_context(|| {
                format!(
                    "cannot open PPPoE interface `{}` (pppoe.interface)",
                    iface.name
                )
            })?;
            macs.push(socket.mac());
            interfaces.push(
                AsyncPacketSocket::new(socket)
                    .with_context(|| format!("cannot register interface `{}`", iface.name))?,
            );
        }
        let udp = UdpSocket::bind(l2tp_listen).await.with_context(|| {
            format!("cannot bind the L2TP socket to {l2tp_listen} (l2tp.listen)")
        })?;
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let core = LacCore::new(config, macs, acct_session_prefix, seed, Instant::now());
        let (api_tx, api_rx) = mpsc::channel(64);
        let (auth_tx, auth_rx) = mpsc::channel(4096);
        let interface_down: Vec<bool> = interfaces
            .iter()
            .map(|socket| {
                let running = socket.get_ref().is_running().unwrap_or(false);
                if !running {
                    tracing::warn!(
                        interface = socket.get_ref().name(),
                        "access interface has no carrier yet"
                    );
                }
                !running
            })
            .collect();
        // Records are spooled in the order the core produced them (a Stop
        // never overtakes its Start, Accounting-Off comes last); the spool
        // bounds what waits on disk, this queue only what waits for fsync.
        let (acct_tx, mut acct_rx) = mpsc::unbounded_channel::<(String, Box<AccountingRecord>)>();
        let acct_aaa = aaa.clone();
        let acct_task = tokio::spawn(async move {
            while let Some((group, record)) = acct_rx.recv().await {
                if let Err(error) = acct_aaa.account(&group, *record).await {
                    tracing::error!(%error, group, "accounting record not spooled");
                }
            }
        });
        Ok((
            Self {
                core,
                interfaces,
                udp,
                aaa,
                metrics,
                api_rx,
                dynauth_rx: dynauth,
                auth_tx,
                auth_rx,
                acct_tx,
                acct_task,
                interface_down,
            },
            LacApi { requests: api_tx },
        ))
    }

    /// The bound L2TP address.
    ///
    /// # Errors
    /// Socket errors.
    pub fn l2tp_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Runs until `shutdown` resolves, then ends every session (CDN, PADT,
    /// Stop with NAS-Reboot), closes the tunnels and flushes accounting.
    ///
    /// # Errors
    /// Only when the L2TP socket fails for good.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut batches: Vec<RecvBatch> = self
            .interfaces
            .iter()
            .map(|_| RecvBatch::new(BATCH))
            .collect();
        let mut udp_buf = vec![0u8; UDP_HEADROOM + UDP_MAX];
        let mut frame_buf = vec![0u8; crate::pppoe::MAX_FRAME_LEN];
        let mut control_buf = Vec::with_capacity(2048);
        let mut gauges = tokio::time::interval(Duration::from_secs(1));
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_interface = 0usize;
        tokio::pin!(shutdown);
        self.core.account_nas(true);
        tracing::info!(
            interfaces = ?self.core.config().interfaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            l2tp = %self.l2tp_addr().map_or_else(|e| e.to_string(), |a| a.to_string()),
            "LAC running"
        );
        loop {
            self.flush(&mut frame_buf, &mut control_buf);
            let timeout = self.core.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = self.auth_rx.recv() => {
                    self.core.auth_result(Instant::now(), done.token, done.decision);
                }
                Some(command) = recv_dynauth(&mut self.dynauth_rx) => {
                    let result = self.core.dynauth(Instant::now(), &command.request);
                    tracing::info!(kind = ?command.request.kind, selector = ?command.request.selector, ?result, "dynamic authorization");
                    let _ = command.reply.send(result);
                }
                Some(request) = self.api_rx.recv() => self.answer(request),
                ready = self.udp.readable() => {
                    ready.context("L2TP socket failed")?;
                    self.read_udp(&mut udp_buf);
                }
                (index, result) = poll_fn(|cx| poll_interfaces(&self.interfaces, &mut batches, &mut next_interface, cx)) => {
                    self.read_interface(index, result, &mut batches);
                }
                () = sleep => self.core.handle_timeout(Instant::now()),
                _ = gauges.tick() => {
                    self.check_links();
                    self.update_metrics();
                }
            }
        }
        tracing::info!(
            sessions = self.core.session_count(),
            "LAC shutting down: ending every session"
        );
        self.core.shutdown(Instant::now());
        let grace = Instant::now() + SHUTDOWN_GRACE;
        while !self.core.is_idle() && Instant::now() < grace {
            self.flush(&mut frame_buf, &mut control_buf);
            let wake = self.core.poll_timeout().map_or(grace, |t| t.min(grace));
            tokio::select! {
                ready = self.udp.readable() => {
                    if ready.is_ok() {
                        self.read_udp(&mut udp_buf);
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => self.core.handle_timeout(Instant::now()),
            }
        }
        self.core.account_nas(false);
        self.flush(&mut frame_buf, &mut control_buf);
        self.update_metrics();
        // Every record into the spool, then give delivery a moment.
        let Self {
            acct_tx,
            acct_task,
            aaa,
            ..
        } = self;
        drop(acct_tx);
        if let Err(error) = acct_task.await {
            tracing::error!(%error, "accounting queue task failed");
        }
        let pending = aaa.flush(Duration::from_secs(5)).await;
        if pending > 0 {
            tracing::warn!(
                pending,
                "accounting records still unacknowledged at exit; they stay in the spool and are sent at the next start"
            );
        }
        Ok(())
    }

    fn read_udp(&mut self, buf: &mut [u8]) {
        for _ in 0..UDP_BUDGET {
            let Some(space) = buf.get_mut(UDP_HEADROOM..) else {
                return;
            };
            let (len, from) = match self.udp.try_recv_from(space) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface here (ECONNREFUSED); the control
                    // channel's retransmissions handle a dead peer.
                    tracing::debug!(error = %e, "L2TP socket receive error");
                    return;
                }
            };
            match self
                .core
                .handle_datagram(Instant::now(), from, buf, UDP_HEADROOM, len)
            {
                Forward::Frame { interface, range } => {
                    if let (Some(socket), Some(frame)) =
                        (self.interfaces.get(interface), buf.get(range))
                    {
                        if let Err(e) = socket.get_ref().send(frame) {
                            self.send_failed(interface, &e);
                        }
                    }
                }
                Forward::Datagram { .. } | Forward::Control | Forward::Dropped(_) => {}
            }
        }
    }

    fn read_interface(
        &mut self,
        index: usize,
        result: io::Result<usize>,
        batches: &mut [RecvBatch],
    ) {
        match result {
            Ok(count) => {
                if self.interface_down.get(index).copied().unwrap_or(false) {
                    if let Some(flag) = self.interface_down.get_mut(index) {
                        *flag = false;
                    }
                    tracing::info!(
                        interface = self.interface_name(index),
                        "access interface up again"
                    );
                }
                let Some(batch) = batches.get_mut(index) else {
                    return;
                };
                for i in 0..count {
                    let Some((frame, stripped)) = batch.frame_mut(i) else {
                        continue;
                    };
                    let now = Instant::now();
                    if let Forward::Datagram { to, range } =
                        self.core.handle_frame(now, index, frame, stripped)
                    {
                        if let Some(datagram) = frame.get(range) {
                            if let Err(e) = self.udp.try_send_to(datagram, to) {
                                tracing::debug!(lns = %to, error = %e, "L2TP data send failed");
                            }
                        }
                    }
                }
            }
            Err(e) => self.receive_failed(index, &e),
        }
    }

    fn interface_name(&self, index: usize) -> &str {
        self.core
            .config()
            .interfaces
            .get(index)
            .map_or("?", |i| i.name.as_str())
    }

    fn receive_failed(&mut self, index: usize, error: &io::Error) {
        if error.raw_os_error() == Some(libc::ENETDOWN) {
            if !self.interface_down.get(index).copied().unwrap_or(true) {
                tracing::warn!(
                    interface = self.interface_name(index),
                    "access interface down: ending its sessions (Lost-Carrier)"
                );
                if let Some(flag) = self.interface_down.get_mut(index) {
                    *flag = true;
                }
                self.core.interface_down(Instant::now(), index);
            }
        } else {
            tracing::warn!(interface = self.interface_name(index), %error, "PPPoE receive error");
        }
    }

    /// Once a second: an access interface that lost carrier (or was set
    /// down) ends its sessions with Lost-Carrier; one that came back is
    /// logged.
    fn check_links(&mut self) {
        for index in 0..self.interfaces.len() {
            let Some(socket) = self.interfaces.get(index) else {
                continue;
            };
            let running = socket.get_ref().is_running().unwrap_or(false);
            let was_down = self.interface_down.get(index).copied().unwrap_or(false);
            if !running && !was_down {
                tracing::warn!(
                    interface = self.interface_name(index),
                    "access interface lost carrier: ending its sessions (Lost-Carrier)"
                );
                if let Some(flag) = self.interface_down.get_mut(index) {
                    *flag = true;
                }
                self.core.interface_down(Instant::now(), index);
            } else if running && was_down {
                tracing::info!(
                    interface = self.interface_name(index),
                    "access interface up again"
                );
                if let Some(flag) = self.interface_down.get_mut(index) {
                    *flag = false;
                }
            }
        }
    }

    fn send_failed(&mut self, index: usize, error: &io::Error) {
        if error.raw_os_error() == Some(libc::ENETDOWN) {
            self.receive_failed(index, error);
        } else {
            tracing::debug!(interface = self.interface_name(index), %error, "PPPoE send failed");
        }
    }

    /// Sends what the core queued, starts RADIUS work, maps events.
    fn flush(&mut self, frame_buf: &mut [u8], control_buf: &mut Vec<u8>) {
        loop {
            let mut progressed = false;
            while let Some((interface, len)) = self.core.poll_frame(frame_buf) {
                progressed = true;
                if self.interface_down.get(interface).copied().unwrap_or(false) {
                    continue;
                }
                if let (Some(socket), Some(frame)) =
                    (self.interfaces.get(interface), frame_buf.get(..len))
                {
                    if let Err(e) = socket.get_ref().send(frame) {
                        self.send_failed(interface, &e);
                    }
                }
            }
            let now = Instant::now();
            while let Some((to, len)) = self.core.poll_datagram(now, control_buf) {
                progressed = true;
                if let Some(datagram) = control_buf.get(..len) {
                    if let Err(e) = self.udp.try_send_to(datagram, to) {
                        tracing::debug!(lns = %to, error = %e, "L2TP control send failed");
                    }
                }
            }
            while let Some(command) = self.core.poll_command() {
                progressed = true;
                self.execute(command);
            }
            while let Some(event) = self.core.poll_event() {
                progressed = true;
                self.metrics.record_lac(&event);
            }
            if !progressed {
                break;
            }
        }
    }

    fn execute(&self, command: Command) {
        match command {
            Command::Authenticate {
                token,
                group,
                request,
            } => {
                let aaa = self.aaa.clone();
                let done = self.auth_tx.clone();
                tokio::spawn(async move {
                    let decision = aaa.authenticate(&group, *request).await;
                    let _ = done.send(AuthDone { token, decision }).await;
                });
            }
            Command::Account { group, mut record } => {
                if record.event_timestamp.is_none() {
                    record.event_timestamp = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .ok()
                        .and_then(|d| u32::try_from(d.as_secs()).ok());
                }
                if self.acct_tx.send((group, record)).is_err() {
                    tracing::error!("accounting queue closed; record not spooled");
                }
            }
        }
    }

    fn answer(&mut self, request: ApiRequest) {
        let now = Instant::now();
        match request {
            ApiRequest::Sessions(tx) => {
                let _ = tx.send(self.core.sessions(now));
            }
            ApiRequest::Tunnels(tx) => {
                let tunnels = self
                    .core
                    .endpoint()
                    .tunnels()
                    .into_iter()
                    .map(|t| TunnelView {
                        tunnel_id: t.tunnel_id,
                        peer_tunnel_id: t.peer_tunnel_id,
                        peer: t.peer.to_string(),
                        peer_host_name: String::from_utf8_lossy(&t.peer_host_name).into_owned(),
                        state: crate::metrics::variant_label(&t.state),
                        sessions: t.sessions,
                    })
                    .collect();
                let _ = tx.send(tunnels);
            }
            ApiRequest::Denylist(tx) => {
                let list = self
                    .core
                    .denylist(now)
                    .into_iter()
                    .map(|(endpoint, remaining)| DenylistView {
                        endpoint: endpoint.to_string(),
                        remaining_seconds: remaining.as_secs_f64(),
                    })
                    .collect();
                let _ = tx.send(list);
            }
            ApiRequest::Disconnect(id, tx) => {
                let found = self.core.disconnect(now, &id);
                if found {
                    tracing::info!(acct_session_id = %id, "session disconnected through the API");
                }
                let _ = tx.send(found);
            }
        }
    }

    fn update_metrics(&self) {
        let now = Instant::now();
        let snapshot = LacSnapshot {
            states: self.core.state_counts().to_vec(),
            per_lns: self.core.sessions_per_lns().into_iter().collect(),
            denylisted: self.core.denylist(now).len(),
            totals: self.core.totals(),
        };
        self.metrics.update_lac(&snapshot);
    }
}

async fn recv_dynauth(rx: &mut Option<mpsc::Receiver<DynAuthCommand>>) -> Option<DynAuthCommand> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Polls every interface for a batch, starting after the one served last
/// so a busy interface cannot starve the others.
fn poll_interfaces(
    interfaces: &[AsyncPacketSocket],
    batches: &mut [RecvBatch],
    next: &mut usize,
    cx: &mut std::task::Context<'_>,
) -> Poll<(usize, io::Result<usize>)> {
    let count = interfaces.len();
    for offset in 0..count {
        let index = (*next + offset) % count;
        let (Some(socket), Some(batch)) = (interfaces.get(index), batches.get_mut(index)) else {
            continue;
        };
        if let Poll::Ready(result) = socket.poll_recv_batch(cx, batch) {
            *next = (index + 1) % count;
            return Poll::Ready((index, result));
        }
    }
    Poll::Pending
}
