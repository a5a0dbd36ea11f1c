//! The LAC's I/O driver.
//!
//! `[lac] workers` tasks each own a [`NodeCore`] with its share of the
//! subscribers, its own AF_PACKET socket per access interface and its own
//! L2TP UDP socket, and loop over readiness, timers and commands. The kernel
//! steers every packet to the worker that owns it
//! ([`crate::dataplane::steer`]): a subscriber's frames by a hash of its MAC
//! address, an LNS's datagrams by our Tunnel ID, which each worker allocates
//! from its own slice ([`crate::shard`]). So the per-packet path has no
//! locks, no hand-off between tasks and no allocation: a batch is received,
//! each frame is rewritten in place by the core and sent at once
//! (DESIGN.md, "Memory and concurrency budget"). The one thing the workers
//! share is the [`LoadTable`] of sessions per LNS, written when a session
//! starts or ends and read when an LNS is chosen, without locks, so that
//! least-sessions and free-capacity balancing count the whole box
//! ([`crate::lac::select::load`]).
//!
//! RADIUS requests run as spawned tasks on the [`AaaHandle`] and come back
//! over a channel; accounting goes to the durable spool of the AAA service
//! in the order each core produced it. Around the workers, [`Lac::run`]
//! sends Accounting-On before any of them starts and Accounting-Off once
//! all have ended, fans RFC 5176 requests and API questions out to every
//! worker and merges the answers, and sums their gauges into the metrics.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::aaa::attributes::Decision;
use crate::aaa::dynauth::{DynAuthCommand, DynAuthRequest, DynAuthResult, ErrorCause};
use crate::aaa::request::AccountingRecord;
use crate::aaa::service::AaaHandle;
use crate::dataplane::packet::{AsyncPacketSocket, PacketSocket, RecvBatch};
use crate::dataplane::steer;
use crate::dataplane::udp::{DatagramBatch, DatagramSender};
use crate::lac::select::{LoadTable, SelectEvent, load::DEFAULT_ENDPOINTS_PER_WORKER};
use crate::node::tun::{TUN_BUDGET, TUN_HEADROOM, TUN_PACKET_MAX, TunPlane, WorkerTun, recv_tun};
use crate::observe::lac::{LacObserver, LacSnapshot};
use crate::session::{
    Command, Forward, LacEvent, NodeCore, NodeCoreConfig, SessionState, SessionView,
};
use crate::shard::Shard;

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
    /// The worker that owns it (`[lac] workers`).
    pub worker: u16,
}

/// A denylisted LNS endpoint as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DenylistView {
    /// The endpoint.
    pub endpoint: String,
    /// Seconds until it is tried again first.
    pub remaining_seconds: f64,
}

/// A question for one worker.
#[derive(Debug)]
enum WorkerRequest {
    Sessions(oneshot::Sender<Vec<SessionView>>),
    Tunnels(oneshot::Sender<Vec<TunnelView>>),
    Denylist(oneshot::Sender<Vec<DenylistView>>),
    Disconnect(String, oneshot::Sender<bool>),
    DynAuth(Box<DynAuthRequest>, oneshot::Sender<DynAuthResult>),
    Snapshot(oneshot::Sender<WorkerSnapshot>),
    /// Another worker denylisted this LNS until then.
    AdoptDenylisting(SocketAddr, Instant),
}

/// A worker denylisted an LNS: (worker, endpoint, until).
type Denylisting = (u16, SocketAddr, Instant);

/// One worker's gauges, summed by [`Workers::publish_gauges`].
#[derive(Debug)]
struct WorkerSnapshot {
    states: Vec<(SessionState, usize)>,
    per_lns: Vec<((Arc<str>, SocketAddr), usize)>,
    denylisted: Vec<SocketAddr>,
    totals: crate::session::ForwardingTotals,
    /// Calls waiting for room in their LNS's tunnels, per LNS.
    queued_calls: Vec<(SocketAddr, usize)>,
    /// Tunnels per LNS.
    tunnels: Vec<(SocketAddr, usize)>,
    /// The LNS role's figures.
    lns: Option<crate::observe::lns::LnsSnapshot>,
}

/// Every worker's request channel, in worker order.
#[derive(Debug, Clone)]
struct Workers(Arc<[mpsc::Sender<WorkerRequest>]>);

impl Workers {
    /// Asks every worker; the answers of those still running.
    async fn ask_all<T>(&self, make: impl Fn(oneshot::Sender<T>) -> WorkerRequest) -> Vec<T> {
        let mut pending = Vec::with_capacity(self.0.len());
        for worker in self.0.iter() {
            let (tx, rx) = oneshot::channel();
            if worker.send(make(tx)).await.is_ok() {
                pending.push(rx);
            }
        }
        let mut answers = Vec::with_capacity(pending.len());
        for rx in pending {
            if let Ok(answer) = rx.await {
                answers.push(answer);
            }
        }
        answers
    }

    /// RFC 5176 across the workers: each acts on the sessions it owns. A
    /// refusal other than "no such session" means the request itself is
    /// wrong (the same for every worker, which therefore acted on nothing);
    /// otherwise one worker that found a session makes an ACK.
    async fn dynauth(&self, request: DynAuthRequest) -> DynAuthResult {
        let results = self
            .ask_all(|tx| WorkerRequest::DynAuth(Box::new(request.clone()), tx))
            .await;
        merge_dynauth(&results)
    }

    /// Tells every worker but `origin` that `endpoint` failed there, so a
    /// dead LNS costs one subscriber's set-up rather than one per worker.
    async fn share_denylisting(&self, (origin, endpoint, until): Denylisting) {
        for (index, worker) in self.0.iter().enumerate() {
            if index != usize::from(origin) {
                let _ = worker
                    .send(WorkerRequest::AdoptDenylisting(endpoint, until))
                    .await;
            }
        }
    }

    /// Sums the workers' gauges into the LAC metric families.
    async fn publish_gauges(&self, observer: &dyn LacObserver) {
        let snapshots = self.ask_all(WorkerRequest::Snapshot).await;
        if snapshots.is_empty() {
            return;
        }
        observer.lac_gauges(&merge_snapshots(snapshots));
    }
}

/// See [`Workers::dynauth`].
fn merge_dynauth(results: &[DynAuthResult]) -> DynAuthResult {
    if let Some(refusal) = results.iter().find(
        |r| matches!(r, DynAuthResult::Nak(cause) if *cause != ErrorCause::SessionContextNotFound),
    ) {
        return *refusal;
    }
    if results.iter().any(|r| matches!(r, DynAuthResult::Ack)) {
        DynAuthResult::Ack
    } else {
        DynAuthResult::Nak(ErrorCause::SessionContextNotFound)
    }
}

/// Sums per-worker gauges; an endpoint denylisted by several workers is
/// counted once.
fn merge_snapshots(snapshots: Vec<WorkerSnapshot>) -> LacSnapshot {
    let mut states: Vec<(SessionState, usize)> =
        SessionState::ALL.iter().map(|s| (*s, 0)).collect();
    let mut per_lns: std::collections::HashMap<(Arc<str>, SocketAddr), usize> =
        std::collections::HashMap::new();
    let mut denylisted: Vec<SocketAddr> = Vec::new();
    let mut totals = crate::session::ForwardingTotals::default();
    let mut queued_calls: std::collections::HashMap<SocketAddr, usize> =
        std::collections::HashMap::new();
    let mut lns: Option<crate::observe::lns::LnsSnapshot> = None;
    let mut tunnels: std::collections::HashMap<SocketAddr, usize> =
        std::collections::HashMap::new();
    for snapshot in snapshots {
        for (lns, count) in snapshot.queued_calls {
            *queued_calls.entry(lns).or_insert(0) += count;
        }
        for (lns, count) in snapshot.tunnels {
            *tunnels.entry(lns).or_insert(0) += count;
        }
        for (state, count) in snapshot.states {
            if let Some(entry) = states.iter_mut().find(|(s, _)| *s == state) {
                entry.1 += count;
            }
        }
        for (key, count) in snapshot.per_lns {
            *per_lns.entry(key).or_insert(0) += count;
        }
        denylisted.extend(snapshot.denylisted);
        totals.add(&snapshot.totals);
        if let Some(theirs) = snapshot.lns {
            match &mut lns {
                None => lns = Some(theirs),
                Some(sum) => {
                    for (peer, count) in theirs.peer_sessions {
                        match sum.peer_sessions.iter_mut().find(|(p, _)| *p == peer) {
                            Some(entry) => entry.1 += count,
                            None => sum.peer_sessions.push((peer, count)),
                        }
                    }
                    for (peer, count) in theirs.peer_tunnels {
                        match sum.peer_tunnels.iter_mut().find(|(p, _)| *p == peer) {
                            Some(entry) => entry.1 += count,
                            None => sum.peer_tunnels.push((peer, count)),
                        }
                    }
                    sum.to_tun.packets += theirs.to_tun.packets;
                    sum.to_tun.bytes += theirs.to_tun.bytes;
                    sum.from_tun.packets += theirs.from_tun.packets;
                    sum.from_tun.bytes += theirs.from_tun.bytes;
                    sum.spoofed += theirs.spoofed;
                    sum.no_route += theirs.no_route;
                }
            }
        }
    }
    denylisted.sort_unstable();
    denylisted.dedup();
    LacSnapshot {
        states,
        per_lns: per_lns.into_iter().collect(),
        denylisted: denylisted.len(),
        totals,
        queued_calls: queued_calls.into_iter().collect(),
        tunnels: tunnels.into_iter().collect(),
        lns,
    }
}

/// The LAC in the management API: its views as JSON, its denylist as
/// `/api/v1/lac/denylist`.
impl crate::mgmt::RoleApi for LacApi {
    fn name(&self) -> &'static str {
        "lac"
    }

    fn sessions(&self) -> crate::mgmt::ApiFuture<'_, Option<serde_json::Value>> {
        Box::pin(async move { serde_json::to_value(Self::sessions(self).await?).ok() })
    }

    fn tunnels(&self) -> crate::mgmt::ApiFuture<'_, Option<serde_json::Value>> {
        Box::pin(async move { serde_json::to_value(Self::tunnels(self).await?).ok() })
    }

    fn disconnect(&self, acct_session_id: String) -> crate::mgmt::ApiFuture<'_, Option<bool>> {
        Box::pin(Self::disconnect(self, acct_session_id))
    }

    fn resource(
        &self,
        resource: String,
    ) -> crate::mgmt::ApiFuture<'_, Option<Option<serde_json::Value>>> {
        Box::pin(async move {
            match resource.as_str() {
                "denylist" => Some(serde_json::to_value(self.denylist().await?).ok()),
                _ => Some(None),
            }
        })
    }
}

/// The management API's handle on a running LAC: questions go to every
/// worker and the answers are merged.
#[derive(Debug, Clone)]
pub struct LacApi {
    workers: Workers,
}

impl LacApi {
    /// Every subscriber session, by Acct-Session-Id; `None` when the LAC
    /// has stopped.
    pub async fn sessions(&self) -> Option<Vec<SessionView>> {
        let answers = self.workers.ask_all(WorkerRequest::Sessions).await;
        if answers.is_empty() {
            return None;
        }
        let mut sessions: Vec<SessionView> = answers.into_iter().flatten().collect();
        sessions.sort_by(|a, b| a.acct_session_id.cmp(&b.acct_session_id));
        Some(sessions)
    }

    /// Every tunnel, by worker and Tunnel ID.
    pub async fn tunnels(&self) -> Option<Vec<TunnelView>> {
        let answers = self.workers.ask_all(WorkerRequest::Tunnels).await;
        if answers.is_empty() {
            return None;
        }
        let mut tunnels: Vec<TunnelView> = answers.into_iter().flatten().collect();
        tunnels.sort_by_key(|t| (t.worker, t.tunnel_id));
        Some(tunnels)
    }

    /// Denylisted LNS endpoints (an endpoint several workers avoid is
    /// listed once, with the longest time left).
    pub async fn denylist(&self) -> Option<Vec<DenylistView>> {
        let answers = self.workers.ask_all(WorkerRequest::Denylist).await;
        if answers.is_empty() {
            return None;
        }
        let mut merged: Vec<DenylistView> = Vec::new();
        for entry in answers.into_iter().flatten() {
            match merged.iter_mut().find(|m| m.endpoint == entry.endpoint) {
                Some(known) => {
                    known.remaining_seconds = known.remaining_seconds.max(entry.remaining_seconds);
                }
                None => merged.push(entry),
            }
        }
        merged.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        Some(merged)
    }

    /// Tears a session down like a Disconnect-Request; whether it existed.
    pub async fn disconnect(&self, acct_session_id: String) -> Option<bool> {
        let answers = self
            .workers
            .ask_all(|tx| WorkerRequest::Disconnect(acct_session_id.clone(), tx))
            .await;
        if answers.is_empty() {
            return None;
        }
        Some(answers.into_iter().any(|found| found))
    }
}

/// A RADIUS answer for the core.
#[derive(Debug)]
struct AuthDone {
    token: u64,
    decision: Decision,
}

/// A LAC ready to run: sockets open, one core per worker.
#[derive(Debug)]
pub struct Lac {
    workers: Vec<Worker>,
    senders: Workers,
    aaa: AaaHandle,
    observer: Arc<dyn LacObserver>,
    dynauth_rx: Option<mpsc::Receiver<DynAuthCommand>>,
    denylisted_rx: mpsc::UnboundedReceiver<Denylisting>,
    acct_group: String,
    acct_session_prefix: String,
    l2tp_addr: SocketAddr,
}

impl Lac {
    /// Opens the access interfaces and the L2TP sockets (one of each per
    /// worker, steered by the kernel) and builds the cores. Returns the
    /// LAC and the API handle.
    ///
    /// # Errors
    /// An interface that cannot be opened or an L2TP address that cannot
    /// be bound, named in the error.
    pub async fn open(
        config: NodeCoreConfig,
        l2tp_listen: SocketAddr,
        acct_session_prefix: String,
        aaa: AaaHandle,
        observer: Arc<dyn LacObserver>,
        dynauth: Option<mpsc::Receiver<DynAuthCommand>>,
        tun: Option<TunPlane>,
    ) -> anyhow::Result<(Self, LacApi)> {
        let count = config.workers.max(1);
        let (tun_device, mut tun_queues) = match tun {
            Some(plane) => (Some(plane.device), plane.queues.into_iter()),
            None => (None, Vec::new().into_iter()),
        };
        // Per interface, one socket per worker, joined into one fanout
        // group before any frame is read.
        let mut per_worker: Vec<Vec<PacketSocket>> = (0..count).map(|_| Vec::new()).collect();
        for iface in &config.interfaces {
            let mut sockets = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                sockets.push(PacketSocket::open(&iface.name).with_context(|| {
                    format!(
                        "cannot open PPPoE interface `{}` (pppoe.interface)",
                        iface.name
                    )
                })?);
            }
            steer::fan_out_by_mac(&sockets).with_context(|| {
                format!(
                    "cannot share interface `{}` between {count} workers (lac.workers)",
                    iface.name
                )
            })?;
            for (worker, socket) in per_worker.iter_mut().zip(sockets) {
                worker.push(socket);
            }
        }
        let udp_sockets = steer::bind_l2tp_workers(l2tp_listen, count).with_context(|| {
            format!("cannot bind the L2TP socket to {l2tp_listen} (l2tp.listen)")
        })?;
        let l2tp_addr = udp_sockets
            .first()
            .map(std::net::UdpSocket::local_addr)
            .transpose()?
            .unwrap_or(l2tp_listen);
        let mut workers = Vec::with_capacity(usize::from(count));
        let mut senders = Vec::with_capacity(usize::from(count));
        let (denylisted_tx, denylisted_rx) = mpsc::unbounded_channel();
        // Box-wide sessions per LNS for least-sessions and free-capacity
        // balancing: each worker publishes its counts, reads the others'
        // (lock-free, never on the per-packet path: `lac::select::load`).
        let load =
            (count > 1).then(|| LoadTable::new(usize::from(count), DEFAULT_ENDPOINTS_PER_WORKER));
        for (index, (interfaces, udp)) in (0..count).zip(per_worker.into_iter().zip(udp_sockets)) {
            let shard = Shard::new(index, count).context("worker index")?;
            // One worker keeps the plain prefix (Acct-Session-Ids as
            // before); several each add their index so ids stay unique.
            let prefix = if count > 1 {
                format!("{acct_session_prefix}{index:02X}")
            } else {
                acct_session_prefix.clone()
            };
            let mut worker_config = config.for_worker(shard);
            worker_config.lac.select.shared_load =
                load.as_ref().and_then(|l| l.handle(usize::from(index)));
            let tun = match (&tun_device, tun_queues.next()) {
                (Some(device), Some(queue)) => Some(
                    WorkerTun::new(queue, device.clone())
                        .context("cannot register the TUN queue")?,
                ),
                _ => None,
            };
            let (worker, api_tx) = Worker::open(
                worker_config,
                interfaces,
                tun,
                UdpSocket::from_std(udp).context("cannot register the L2TP socket")?,
                prefix,
                aaa.clone(),
                observer.clone(),
                denylisted_tx.clone(),
            )?;
            workers.push(worker);
            senders.push(api_tx);
        }
        let senders = Workers(senders.into());
        Ok((
            Self {
                workers,
                senders: senders.clone(),
                aaa,
                observer,
                dynauth_rx: dynauth,
                denylisted_rx,
                acct_group: config.acct_group,
                acct_session_prefix,
                l2tp_addr,
            },
            LacApi { workers: senders },
        ))
    }

    /// The bound L2TP address.
    pub const fn l2tp_addr(&self) -> SocketAddr {
        self.l2tp_addr
    }

    /// Runs until `shutdown` resolves, then ends every session (CDN, PADT,
    /// Stop with NAS-Reboot), closes the tunnels and flushes accounting.
    /// Accounting-On goes out before the first session, Accounting-Off
    /// after every worker's last Stop (RFC 2866 §5.1).
    ///
    /// # Errors
    /// A worker's L2TP socket failed for good (the others are stopped).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            workers,
            senders,
            aaa,
            observer,
            mut dynauth_rx,
            mut denylisted_rx,
            acct_group,
            acct_session_prefix,
            l2tp_addr,
        } = self;
        account_nas(&aaa, &acct_group, &acct_session_prefix, true).await;
        tracing::info!(workers = workers.len(), l2tp = %l2tp_addr, "LAC running");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut running = tokio::task::JoinSet::new();
        for worker in workers {
            let mut stop = stop_rx.clone();
            running.spawn(worker.run(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            }));
        }
        let mut gauges = tokio::time::interval(Duration::from_secs(1));
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let mut failure = None;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(ended) = running.join_next() => {
                    failure = Some(match ended {
                        Ok(Ok(())) => anyhow::anyhow!("a LAC worker stopped on its own"),
                        Ok(Err(error)) => error,
                        Err(error) => anyhow::anyhow!("a LAC worker panicked: {error}"),
                    });
                    tracing::error!(error = ?failure, "LAC worker ended: stopping the others");
                    break;
                }
                Some(command) = recv_dynauth(&mut dynauth_rx) => {
                    let senders = senders.clone();
                    tokio::spawn(async move {
                        let result = senders.dynauth(command.request.clone()).await;
                        tracing::info!(kind = ?command.request.kind, selector = ?command.request.selector, ?result, "dynamic authorization");
                        let _ = command.reply.send(result);
                    });
                }
                Some(denylisting) = denylisted_rx.recv() => {
                    senders.share_denylisting(denylisting).await;
                }
                _ = gauges.tick() => senders.publish_gauges(observer.as_ref()).await,
            }
        }
        let _ = stop_tx.send(true);
        while let Some(ended) = running.join_next().await {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(%error, "LAC worker failed");
                    failure.get_or_insert(error);
                }
                Err(error) => {
                    tracing::error!(%error, "LAC worker panicked");
                }
            }
        }
        account_nas(&aaa, &acct_group, &acct_session_prefix, false).await;
        let pending = aaa.flush(Duration::from_secs(5)).await;
        if pending > 0 {
            tracing::warn!(
                pending,
                "accounting records still unacknowledged at exit; they stay in the spool and are sent at the next start"
            );
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Spools Accounting-On or -Off for the whole LAC
/// ([`crate::aaa::accounting::nas_record`]).
async fn account_nas(aaa: &AaaHandle, group: &str, prefix: &str, on: bool) {
    let mut record = crate::aaa::accounting::nas_record(prefix, on);
    stamp(&mut record);
    if let Err(error) = aaa.account(group, record).await {
        tracing::error!(%error, group, on, "Accounting-On/Off not spooled");
    }
}

/// Event-Timestamp (RFC 2869 §5.3) when the core left it unset.
fn stamp(record: &mut AccountingRecord) {
    if record.event_timestamp.is_none() {
        record.event_timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u32::try_from(d.as_secs()).ok());
    }
}

/// One worker: a core and the sockets the kernel steers its subscribers'
/// frames and its tunnels' datagrams to.
#[derive(Debug)]
struct Worker {
    core: NodeCore,
    interfaces: Vec<AsyncPacketSocket>,
    /// The LNS role's TUN queue.
    tun: Option<WorkerTun>,
    udp: UdpSocket,
    aaa: AaaHandle,
    observer: Arc<dyn LacObserver>,
    api_rx: mpsc::Receiver<WorkerRequest>,
    auth_tx: mpsc::Sender<AuthDone>,
    auth_rx: mpsc::Receiver<AuthDone>,
    acct_tx: mpsc::UnboundedSender<(String, Box<AccountingRecord>)>,
    acct_task: tokio::task::JoinHandle<()>,
    interface_down: Vec<bool>,
    /// Datagrams the fast path made of the last batch of frames: (frame,
    /// LNS, range in the frame's buffer). Reused: no allocation per batch.
    upstream: Vec<(usize, SocketAddr, std::ops::Range<usize>)>,
    /// Frames the fast path made of the last batch of datagrams:
    /// (datagram, interface, range in the datagram's buffer).
    downstream: Vec<(usize, usize, std::ops::Range<usize>)>,
    sender: DatagramSender,
    /// Denylistings for the other workers ([`Workers::share_denylisting`]).
    denylisted_tx: mpsc::UnboundedSender<Denylisting>,
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    fn open(
        config: NodeCoreConfig,
        sockets: Vec<PacketSocket>,
        tun: Option<WorkerTun>,
        udp: UdpSocket,
        acct_session_prefix: String,
        aaa: AaaHandle,
        observer: Arc<dyn LacObserver>,
        denylisted_tx: mpsc::UnboundedSender<Denylisting>,
    ) -> anyhow::Result<(Self, mpsc::Sender<WorkerRequest>)> {
        let mut interfaces = Vec::with_capacity(sockets.len());
        let mut macs = Vec::with_capacity(sockets.len());
        for socket in sockets {
            macs.push(socket.mac());
            let name = socket.name().to_owned();
            interfaces.push(
                AsyncPacketSocket::new(socket)
                    .with_context(|| format!("cannot register interface `{name}`"))?,
            );
        }
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let core = NodeCore::new(config, macs, acct_session_prefix, seed, Instant::now());
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
        // never overtakes its Start); the spool bounds what waits on disk,
        // this queue only what waits for fsync.
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
                tun,
                udp,
                aaa,
                observer,
                api_rx,
                auth_tx,
                auth_rx,
                acct_tx,
                acct_task,
                interface_down,
                upstream: Vec::with_capacity(BATCH),
                downstream: Vec::with_capacity(BATCH),
                sender: DatagramSender::with_capacity(BATCH),
                denylisted_tx,
            },
            api_tx,
        ))
    }

    /// Runs until `shutdown` resolves, then ends every session and closes
    /// every tunnel, and returns once its accounting records are spooled.
    async fn run(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut batches: Vec<RecvBatch> = self
            .interfaces
            .iter()
            .map(|_| RecvBatch::new(BATCH))
            .collect();
        let mut udp_batch = DatagramBatch::new(BATCH, UDP_HEADROOM, UDP_MAX);
        let mut frame_buf = vec![0u8; crate::pppoe::MAX_FRAME_LEN];
        let mut control_buf = vec![0u8; crate::l2tp::MAX_CONTROL_LEN];
        let mut tun_buf = vec![0u8; TUN_HEADROOM + TUN_PACKET_MAX];
        let mut carrier = tokio::time::interval(Duration::from_secs(1));
        carrier.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_interface = 0usize;
        tokio::pin!(shutdown);
        tracing::debug!(
            worker = self.core.config().shard.index(),
            interfaces = ?self.core.config().interfaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            "LAC worker running"
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
                Some(request) = self.api_rx.recv() => self.answer(request),
                ready = self.udp.readable() => {
                    ready.context("L2TP socket failed")?;
                    self.read_udp(&mut udp_batch);
                }
                (index, result) = poll_fn(|cx| poll_interfaces(&self.interfaces, &mut batches, &mut next_interface, cx)) => {
                    self.read_interface(index, result, &mut batches);
                }
                result = recv_tun(&self.tun, &mut tun_buf[TUN_HEADROOM..]) => {
                    self.read_tun(result, &mut tun_buf);
                }
                () = sleep => self.core.handle_timeout(Instant::now()),
                _ = carrier.tick() => self.check_links(),
            }
        }
        tracing::info!(
            worker = self.core.config().shard.index(),
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
                        self.read_udp(&mut udp_batch);
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => self.core.handle_timeout(Instant::now()),
            }
        }
        self.flush(&mut frame_buf, &mut control_buf);
        // Every record into the spool before the LAC sends Accounting-Off.
        let Self {
            acct_tx, acct_task, ..
        } = self;
        drop(acct_tx);
        if let Err(error) = acct_task.await {
            tracing::error!(%error, "accounting queue task failed");
        }
        Ok(())
    }

    /// Reads L2TP datagrams in batches ([`UDP_BUDGET`] at most), hands
    /// each to the core and sends the PPPoE frames the fast path made of
    /// them with one `sendmmsg(2)` per interface and batch.
    fn read_udp(&mut self, batch: &mut DatagramBatch) {
        let mut budget = UDP_BUDGET;
        while budget > 0 {
            let fd = self.udp.as_raw_fd();
            let received = match self
                .udp
                .try_io(tokio::io::Interest::READABLE, || batch.recv(fd))
            {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface here (ECONNREFUSED); the control
                    // channel's retransmissions handle a dead peer.
                    tracing::debug!(error = %e, "L2TP socket receive error");
                    return;
                }
            };
            if received == 0 {
                return;
            }
            budget = budget.saturating_sub(received);
            let now = Instant::now();
            self.downstream.clear();
            for index in 0..received {
                let Some((from, buffer, len)) = batch.get_mut(index) else {
                    continue;
                };
                match self
                    .core
                    .handle_datagram(now, from, buffer, UDP_HEADROOM, len)
                {
                    Forward::Frame { interface, range } => {
                        self.downstream.push((index, interface, range));
                    }
                    Forward::Tun { range } => {
                        if let (Some(tun), Some(packet)) = (self.tun.as_mut(), buffer.get(range)) {
                            tun.send(packet);
                        }
                    }
                    Forward::Datagram { to, range } => {
                        if let Some(datagram) = buffer.get(range) {
                            let _ = self.udp.try_send_to(datagram, to);
                        }
                    }
                    Forward::Control | Forward::Dropped(_) => {}
                }
            }
            self.send_downstream(batch);
        }
    }

    /// Sends the frames of [`Self::downstream`], batched per interface.
    fn send_downstream(&mut self, batch: &DatagramBatch) {
        let mut pending = std::mem::take(&mut self.downstream);
        while let Some(&(_, interface, _)) = pending.first() {
            let mut frames: [&[u8]; BATCH] = [&[]; BATCH];
            let mut count = 0;
            pending.retain(|(index, frame_interface, range)| {
                if *frame_interface != interface || count == BATCH {
                    return true;
                }
                if let Some(frame) = batch.buffer(*index).and_then(|b| b.get(range.clone())) {
                    frames[count] = frame;
                    count += 1;
                }
                false
            });
            if self.interface_down.get(interface).copied().unwrap_or(false) {
                continue;
            }
            let Some(socket) = self.interfaces.get(interface) else {
                continue;
            };
            let mut sent = 0;
            while sent < count {
                match socket.get_ref().send_batch(&frames[sent..count]) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) => {
                        self.send_failed(interface, &e);
                        break;
                    }
                }
            }
        }
        self.downstream = pending;
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
                let now = Instant::now();
                self.upstream.clear();
                for i in 0..count {
                    let Some((frame, stripped)) = batch.frame_mut(i) else {
                        continue;
                    };
                    if let Forward::Datagram { to, range } =
                        self.core.handle_frame(now, index, frame, stripped)
                    {
                        self.upstream.push((i, to, range));
                    }
                }
                if !self.upstream.is_empty() {
                    let batch = &*batch;
                    let datagrams = self.upstream.iter().filter_map(|(i, to, range)| {
                        batch
                            .frame(*i)
                            .and_then(|f| f.get(range.clone()))
                            .map(|d| (*to, d))
                    });
                    if let Err(e) = self.sender.send(self.udp.as_raw_fd(), datagrams) {
                        tracing::debug!(error = %e, "L2TP data send failed");
                    }
                }
            }
            Err(e) => self.receive_failed(index, &e),
        }
    }

    /// IP from TUN: the first packet (`first`, read into `buf` at
    /// [`TUN_HEADROOM`]) and those that follow it without waiting, up to
    /// [`TUN_BUDGET`], each out on its session's call.
    fn read_tun(&mut self, first: io::Result<usize>, buf: &mut [u8]) {
        let mut len = match first {
            Ok(len) => len,
            Err(error) => {
                tracing::warn!(%error, "TUN receive error");
                return;
            }
        };
        for _ in 0..TUN_BUDGET {
            let now = Instant::now();
            if let Forward::Datagram { to, range } =
                self.core.handle_ip(now, buf, TUN_HEADROOM, len)
            {
                if let Some(datagram) = buf.get(range) {
                    if let Err(error) = self.udp.try_send_to(datagram, to) {
                        tracing::debug!(%to, %error, "L2TP data send failed");
                    }
                }
            }
            let Some(tun) = self.tun.as_ref() else {
                return;
            };
            match buf.get_mut(TUN_HEADROOM..).map(|room| tun.try_recv(room)) {
                Some(Ok(next)) => len = next,
                _ => return,
            }
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
    fn flush(&mut self, frame_buf: &mut [u8], control_buf: &mut [u8]) {
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
                self.observer.lac_event(&event);
                if let LacEvent::Select(SelectEvent::Denylisted { endpoint, until }) = event {
                    let worker = self.core.config().shard.index();
                    let _ = self.denylisted_tx.send((worker, endpoint, until));
                }
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
                stamp(&mut record);
                if self.acct_tx.send((group, record)).is_err() {
                    tracing::error!("accounting queue closed; record not spooled");
                }
            }
            Command::AddRoute { net } => {
                if let Some(tun) = &self.tun {
                    tun.add_route(net);
                }
            }
            Command::RemoveRoute { net } => {
                if let Some(tun) = &self.tun {
                    tun.remove_route(net);
                }
            }
        }
    }

    fn answer(&mut self, request: WorkerRequest) {
        let now = Instant::now();
        let worker = self.core.config().shard.index();
        match request {
            WorkerRequest::Sessions(tx) => {
                let _ = tx.send(self.core.sessions(now));
            }
            WorkerRequest::Tunnels(tx) => {
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
                        state: crate::observe::variant_label(&t.state),
                        sessions: t.sessions,
                        worker,
                    })
                    .collect();
                let _ = tx.send(tunnels);
            }
            WorkerRequest::Denylist(tx) => {
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
            WorkerRequest::Disconnect(id, tx) => {
                let found = self.core.disconnect(now, &id);
                if found {
                    tracing::info!(acct_session_id = %id, "session disconnected through the API");
                }
                let _ = tx.send(found);
            }
            WorkerRequest::DynAuth(request, tx) => {
                let _ = tx.send(self.core.dynauth(now, &request));
            }
            WorkerRequest::AdoptDenylisting(endpoint, until) => {
                self.core.adopt_denylisting(endpoint, until);
            }
            WorkerRequest::Snapshot(tx) => {
                let _ = tx.send(WorkerSnapshot {
                    states: self.core.state_counts().to_vec(),
                    per_lns: self.core.sessions_per_lns().into_iter().collect(),
                    denylisted: self
                        .core
                        .denylist(now)
                        .into_iter()
                        .map(|(endpoint, _)| endpoint)
                        .collect(),
                    totals: self.core.totals(),
                    queued_calls: self.core.endpoint().queued_calls_by_peer(),
                    tunnels: self.core.endpoint().tunnels_by_peer(),
                    lns: self.core.lns_snapshot(),
                });
            }
        }
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
