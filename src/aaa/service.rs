//! The tokio driver of the AAA layer: owns the UDP socket pool, the clock
//! and the durable spool, runs the sans-IO [`Client`] core, and offers role
//! drivers an async [`AaaHandle`].
//!
//! * [`AaaHandle::authenticate`] → [`Decision`];
//! * [`AaaHandle::account`] returns once the record is in the durable spool
//!   ([`super::spool`]); the driver then delivers spooled records in order,
//!   with a window, re-queueing on failure and retrying every
//!   `retry_interval` until a server acknowledges; Acct-Delay-Time counts
//!   from the record's creation, across restarts (RFC 2866 §5.2);
//! * [`AaaHandle::events`] streams [`AaaEvent`]s for metrics.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::attributes::{Decision, RejectCause, Rejection};
use super::cache::{AuthCache, AuthCacheConfig};
use super::client::{Client, ClientConfig, ClientEvent, GroupConfig, Job, Outcome, RequestId};
use super::local::LocalUsers;
use super::request::{AccountingRecord, AuthRequest, NasIdentity};
use super::spool::{Spool, SpoolError, SpoolLevel};

/// Everything the AAA driver needs.
#[derive(Debug, Clone)]
pub struct AaaConfig {
    /// Socket pool, limits, probing.
    pub client: ClientConfig,
    /// Server groups.
    pub groups: Vec<GroupConfig>,
    /// NAS identity attributes.
    pub nas: NasIdentity,
    /// Directory of the spool (and session-id epoch).
    pub state_dir: PathBuf,
    /// Spool bound.
    pub spool_max_records: u64,
    /// Spooled records in flight at once.
    pub acct_window: usize,
    /// Wait before retrying spooled records after a failure.
    pub acct_retry_interval: Duration,
    /// Address the pool sockets bind to (port 0).
    pub bind: IpAddr,
    /// Local users: answer when a group is named `local`, and (when
    /// `local_fallback`) when every server of a group is dead.
    pub local_users: Option<LocalUsers>,
    /// Use [`Self::local_users`] when every server of a group is dead.
    pub local_fallback: bool,
    /// RNG seed for Request Authenticators (from the OS at start).
    pub seed: [u8; 32],
    /// Opt-in authentication caches.
    pub auth_cache: AuthCacheConfig,
}

impl AaaConfig {
    /// From the whole configuration, loading `[radius] local_users`;
    /// `seed` should come from the OS RNG.
    ///
    /// # Errors
    /// The local-users file cannot be read or parsed (the error names it).
    pub fn load(
        config: &crate::config::Config,
        seed: [u8; 32],
    ) -> Result<Self, super::local::LocalUsersError> {
        let mut aaa = Self::from_config(config, seed);
        if let Some(path) = &config.radius.local_users {
            aaa.local_users = Some(LocalUsers::load(path)?);
            aaa.local_fallback = config.radius.local_fallback;
            // With local users as the fallback, "every server dead" must
            // be reported at once so the fallback answers.
            aaa.client.try_dead_servers = !aaa.local_fallback;
        }
        Ok(aaa)
    }

    /// From the whole configuration without reading files (no local
    /// users); `seed` should come from the OS RNG.
    #[must_use]
    pub fn from_config(config: &crate::config::Config, seed: [u8; 32]) -> Self {
        Self {
            client: ClientConfig::default(),
            groups: config
                .radius
                .groups
                .iter()
                .map(|(name, g)| GroupConfig::from_config(name, g))
                .collect(),
            nas: NasIdentity::from_config(&config.node, &config.radius),
            state_dir: config.node.state_dir.clone(),
            spool_max_records: config.radius.accounting.spool_max_records,
            acct_window: 32,
            acct_retry_interval: Duration::from_secs(5),
            // IPv4 sockets unless every server is IPv6 (a pool socket has
            // one address family).
            bind: if config
                .radius
                .groups
                .values()
                .flat_map(|g| &g.servers)
                .all(|s| s.address.is_ipv6())
                && !config.radius.groups.is_empty()
            {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            },
            local_users: None,
            local_fallback: false,
            seed,
            auth_cache: AuthCacheConfig::default(),
        }
    }
}

/// Events of the AAA layer, for metrics and logs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AaaEvent {
    /// From the RADIUS client core (requests, RTT, timeouts, drops, server
    /// up/down, queueing).
    Client(ClientEvent),
    /// An authentication finished: group, and whether it was accepted.
    AuthResult {
        /// Group.
        group: String,
        /// Accept / reject / error label.
        result: &'static str,
    },
    /// Spool depth and the age of its oldest record, after every change.
    SpoolDepth {
        /// Pending records.
        depth: usize,
        /// Age of the oldest record.
        oldest_age: Duration,
    },
    /// The spool passed 90 % of its bound.
    SpoolNearFull {
        /// Pending records.
        depth: usize,
    },
    /// A record was lost: the spool was full or could not be written.
    RecordLost {
        /// Why.
        reason: &'static str,
    },
    /// A spooled record was acknowledged.
    RecordDelivered {
        /// Group.
        group: String,
    },
}

/// Why [`AaaHandle::account`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The spool refused the record (full or I/O error); it is lost.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The AAA task has stopped.
    #[error("AAA layer stopped")]
    Stopped,
    /// The local accounting file could not be written.
    #[error("local accounting file: {0}")]
    Local(std::io::Error),
}

enum Command {
    Authenticate {
        group: String,
        request: Box<AuthRequest>,
        reply: oneshot::Sender<Decision>,
    },
    Account {
        group: String,
        record: Box<AccountingRecord>,
        reply: oneshot::Sender<Result<(), AccountError>>,
    },
    Flush {
        reply: oneshot::Sender<usize>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Async handle used by the role drivers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AaaHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<AaaEvent>,
    local: Option<Arc<LocalUsers>>,
    local_accounting: Arc<LocalAccounting>,
    cache: Arc<AuthCache>,
    /// Records in the spool, as the AAA task left it after its last change
    /// (so still right once the task has stopped).
    spool_depth: Arc<AtomicUsize>,
}

/// Accounting for the group [`LOCAL_GROUP`]: one JSON object per record,
/// appended to `state_dir/local-accounting.jsonl` and synced before
/// `account` returns (the local counterpart of a RADIUS server's detail
/// file, for the demo and for boxes without an accounting server).
#[derive(Debug)]
struct LocalAccounting {
    path: PathBuf,
    file: tokio::sync::Mutex<Option<std::fs::File>>,
}

impl LocalAccounting {
    /// File name under the state directory.
    const FILE: &str = "local-accounting.jsonl";

    async fn append(&self, record: &AccountingRecord) -> Result<(), AccountError> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| AccountError::Local(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = self.file.lock().await;
        if file.is_none() {
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(AccountError::Local)?,
            );
        }
        let Some(handle) = file.as_mut() else {
            return Err(AccountError::Local(std::io::Error::other("no file")));
        };
        std::io::Write::write_all(handle, &line).map_err(AccountError::Local)?;
        handle.sync_data().map_err(AccountError::Local)
    }
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Authenticate { .. } => "Authenticate",
            Self::Account { .. } => "Account",
            Self::Flush { .. } => "Flush",
            Self::Shutdown { .. } => "Shutdown",
        })
    }
}

/// Name of the pseudo-group answered by the local-users backend.
pub const LOCAL_GROUP: &str = "local";

impl AaaHandle {
    /// Binds the socket pool, opens the spool (replaying what it holds) and
    /// spawns the driver task.
    ///
    /// # Errors
    /// Socket or spool I/O errors.
    pub async fn start(config: AaaConfig) -> std::io::Result<Self> {
        let spool = Spool::open(&config.state_dir, config.spool_max_records)?;
        let spool_depth = Arc::new(AtomicUsize::new(spool.depth()));
        let client = Client::new(
            config.client.clone(),
            config.nas.clone(),
            config.groups.clone(),
            config.seed,
        );
        let mut sockets = Vec::new();
        let mut receivers = Vec::new();
        let (datagrams_tx, datagrams) = mpsc::channel(1024);
        for index in 0..client.socket_count() {
            let socket = Arc::new(UdpSocket::bind(SocketAddr::new(config.bind, 0)).await?);
            let rx = Arc::clone(&socket);
            let tx = datagrams_tx.clone();
            receivers.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match rx.recv_from(&mut buf).await {
                        Ok((len, from)) => {
                            let data = buf.get(..len).unwrap_or_default().to_vec();
                            if tx.send((index, from, data)).await.is_err() {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::debug!(%error, "RADIUS socket receive error");
                        }
                    }
                }
            }));
            sockets.push(socket);
        }
        let (commands, commands_rx) = mpsc::channel(1024);
        let (events, _) = broadcast::channel(4096);
        let local = config.local_users.clone().map(Arc::new);
        let driver = Driver {
            client,
            sockets,
            spool,
            spool_depth: Arc::clone(&spool_depth),
            events: events.clone(),
            waiting_auth: HashMap::new(),
            acct_in_flight: HashMap::new(),
            unsent: BTreeSet::new(),
            retry_at: None,
            window: config.acct_window.max(1),
            retry_interval: config.acct_retry_interval,
            local: local.clone(),
            local_fallback: config.local_fallback,
            flush_waiters: Vec::new(),
            receivers,
            shutdown: None,
        };
        tokio::spawn(driver.run(commands_rx, datagrams));
        let mut cache_key = [0u8; 16];
        cache_key.copy_from_slice(&config.seed[16..]);
        let local_accounting = Arc::new(LocalAccounting {
            path: config.state_dir.join(LocalAccounting::FILE),
            file: tokio::sync::Mutex::new(None),
        });
        Ok(Self {
            commands,
            events,
            local,
            local_accounting,
            cache: Arc::new(AuthCache::new(&config.auth_cache, cache_key)),
            spool_depth,
        })
    }

    /// Authenticates `request` against `group` (or the local users for the
    /// group [`LOCAL_GROUP`]). Never fails: errors become a [`Rejection`]
    /// with the cause.
    pub async fn authenticate(&self, group: &str, request: AuthRequest) -> Decision {
        if group == LOCAL_GROUP {
            return match &self.local {
                Some(local) => local.authenticate(&request),
                None => Decision::Reject(Rejection::new(RejectCause::UnknownGroup(group.into()))),
            };
        }
        if let Some(decision) = self.cache.before(&request).await {
            return decision;
        }
        let (reply, rx) = oneshot::channel();
        let command = Command::Authenticate {
            group: group.to_owned(),
            request: Box::new(request.clone()),
            reply,
        };
        if self.commands.send(command).await.is_err() {
            return Decision::Reject(Rejection::new(RejectCause::Stopped));
        }
        let decision = rx
            .await
            .unwrap_or_else(|_| Decision::Reject(Rejection::new(RejectCause::Stopped)));
        self.cache.after(&request, decision).await
    }

    /// Persists `record` for `group` and returns; delivery follows.
    ///
    /// # Errors
    /// [`AccountError`] when the record could not be spooled.
    pub async fn account(&self, group: &str, record: AccountingRecord) -> Result<(), AccountError> {
        if group == LOCAL_GROUP {
            return self.local_accounting.append(&record).await;
        }
        let (reply, rx) = oneshot::channel();
        let command = Command::Account {
            group: group.to_owned(),
            record: Box::new(record),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| AccountError::Stopped)?;
        rx.await.map_err(|_| AccountError::Stopped)?
    }

    /// Waits until the spool is empty (every record acknowledged) or
    /// `timeout` passes; returns the records still in the spool: 0 when
    /// all were delivered, else what the next start replays (also when the
    /// AAA task has already stopped).
    pub async fn flush(&self, timeout: Duration) -> usize {
        let emptied = tokio::time::timeout(timeout, async {
            let (reply, rx) = oneshot::channel();
            self.commands.send(Command::Flush { reply }).await.ok()?;
            rx.await.ok()
        })
        .await;
        match emptied {
            Ok(Some(pending)) => pending,
            // Timed out, or the task is gone: what the spool holds.
            Ok(None) | Err(_) => self.spool_depth(),
        }
    }

    /// Records in the durable spool (written, not yet acknowledged), as of
    /// the AAA task's last change.
    #[must_use]
    pub fn spool_depth(&self) -> usize {
        self.spool_depth.load(Ordering::Acquire)
    }

    /// Stops the driver (pending requests are answered with
    /// [`RejectCause::Stopped`]; spooled records stay in the spool) and waits
    /// until its sockets are closed and the spool file is released.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Subscribes to [`AaaEvent`]s (a slow subscriber loses the oldest).
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<AaaEvent> {
        self.events.subscribe()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct Driver {
    client: Client,
    sockets: Vec<Arc<UdpSocket>>,
    spool: Spool,
    /// [`AaaHandle::spool_depth`], kept by [`Self::report_spool`].
    spool_depth: Arc<AtomicUsize>,
    events: broadcast::Sender<AaaEvent>,
    waiting_auth: HashMap<RequestId, (String, Box<AuthRequest>, oneshot::Sender<Decision>)>,
    acct_in_flight: HashMap<RequestId, u64>,
    /// Spooled records not in flight, by sequence number.
    unsent: BTreeSet<u64>,
    retry_at: Option<Instant>,
    window: usize,
    retry_interval: Duration,
    local: Option<Arc<LocalUsers>>,
    local_fallback: bool,
    flush_waiters: Vec<oneshot::Sender<usize>>,
    receivers: Vec<tokio::task::JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut datagrams: mpsc::Receiver<(usize, SocketAddr, Vec<u8>)>,
    ) {
        self.unsent = self.spool.pending_seqs().collect();
        if !self.unsent.is_empty() {
            tracing::info!(
                records = self.unsent.len(),
                "replaying the accounting spool"
            );
        }
        self.report_spool();
        let mut buf = vec![0u8; 4096];
        loop {
            self.pump_spool(Instant::now());
            self.flush_transmits(&mut buf).await;
            self.drain_events();
            let deadline = [self.client.poll_timeout(), self.retry_at]
                .into_iter()
                .flatten()
                .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        self.shutdown = Some(reply);
                        break;
                    }
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                Some((socket, from, data)) = datagrams.recv() => {
                    self.client.handle_datagram(Instant::now(), socket, from, &data);
                }
                () = sleep => {
                    let now = Instant::now();
                    if self.retry_at.is_some_and(|t| t <= now) {
                        self.retry_at = None;
                    }
                    self.client.handle_timeout(now);
                }
            }
        }
        for receiver in &self.receivers {
            receiver.abort();
        }
        for receiver in self.receivers.drain(..) {
            let _ = receiver.await;
        }
        for (_, (_, _, reply)) in self.waiting_auth.drain() {
            let _ = reply.send(Decision::Reject(Rejection::new(RejectCause::Stopped)));
        }
        let sockets = std::mem::take(&mut self.sockets);
        drop(sockets);
        if let Some(reply) = self.shutdown.take() {
            // Drop the spool (closing its file) before answering.
            drop(self);
            let _ = reply.send(());
        }
    }

    fn emit(&self, event: AaaEvent) {
        let _ = self.events.send(event);
    }

    /// Publishes the spool's depth; called after every change of it.
    fn report_spool(&mut self) {
        let depth = self.spool.depth();
        self.spool_depth.store(depth, Ordering::Release);
        let oldest_age = self.spool.oldest_created_ms().map_or(Duration::ZERO, |t| {
            Duration::from_millis(unix_ms().saturating_sub(t))
        });
        self.emit(AaaEvent::SpoolDepth { depth, oldest_age });
        if depth == 0 {
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(0);
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Authenticate {
                group,
                request,
                reply,
            } => match self
                .client
                .submit(now, &group, Job::Access(request.clone()))
            {
                Ok(id) => {
                    self.waiting_auth.insert(id, (group, request, reply));
                }
                Err(error) => {
                    let cause = match error {
                        super::client::SubmitError::UnknownGroup(g) => RejectCause::UnknownGroup(g),
                        _ => RejectCause::Overloaded,
                    };
                    let _ = reply.send(Decision::Reject(Rejection::new(cause)));
                }
            },
            Command::Account {
                group,
                record,
                reply,
            } => {
                let result = match self.spool.append(&group, *record, unix_ms()) {
                    Ok((seq, level)) => {
                        if level == SpoolLevel::NearFull {
                            tracing::error!(
                                depth = self.spool.depth(),
                                "accounting spool above 90% of its bound: RADIUS accounting is not keeping up"
                            );
                            self.emit(AaaEvent::SpoolNearFull {
                                depth: self.spool.depth(),
                            });
                        }
                        self.unsent.insert(seq);
                        Ok(())
                    }
                    Err(error) => {
                        tracing::error!(%error, "accounting record LOST");
                        self.emit(AaaEvent::RecordLost {
                            reason: match error {
                                SpoolError::Full(_) => "spool_full",
                                SpoolError::Io(_) => "spool_io",
                            },
                        });
                        Err(error.into())
                    }
                };
                self.report_spool();
                let _ = reply.send(result);
            }
            Command::Shutdown { reply } => {
                self.shutdown = Some(reply);
            }
            Command::Flush { reply } => {
                if self.spool.depth() == 0 {
                    let _ = reply.send(0);
                } else {
                    // Callers that gave up waiting are forgotten.
                    self.flush_waiters.retain(|waiter| !waiter.is_closed());
                    self.flush_waiters.push(reply);
                }
            }
        }
    }

    /// Submits spooled records in order while the window has room.
    fn pump_spool(&mut self, now: Instant) {
        if self.retry_at.is_some() {
            return;
        }
        while self.acct_in_flight.len() < self.window {
            let Some(seq) = self.unsent.pop_first() else {
                break;
            };
            let Some(spooled) = self.spool.get(seq) else {
                continue;
            };
            let delay_ms = unix_ms().saturating_sub(spooled.created_ms);
            let job = Job::Accounting {
                record: Box::new(spooled.record.clone()),
                initial_delay: u32::try_from(delay_ms / 1000).unwrap_or(u32::MAX),
            };
            let group = spooled.group.clone();
            match self.client.submit(now, &group, job) {
                Ok(id) => {
                    self.acct_in_flight.insert(id, seq);
                }
                Err(super::client::SubmitError::UnknownGroup(g)) => {
                    // Kept in the spool: a configuration fix delivers it.
                    tracing::error!(group = %g, seq, "accounting record for an unknown group stays spooled");
                    self.retry_at = Some(now + self.retry_interval);
                    self.unsent.insert(seq);
                    break;
                }
                Err(_) => {
                    self.unsent.insert(seq);
                    break;
                }
            }
        }
    }

    async fn flush_transmits(&mut self, buf: &mut [u8]) {
        while let Some(t) = self.client.poll_transmit(buf) {
            let Some(socket) = self.sockets.get(t.socket) else {
                continue;
            };
            let Some(bytes) = buf.get(..t.len) else {
                continue;
            };
            if let Err(error) = socket.send_to(bytes, t.destination).await {
                tracing::warn!(%error, destination = %t.destination, "RADIUS send failed");
            }
        }
    }

    fn drain_events(&mut self) {
        let now = Instant::now();
        while let Some(event) = self.client.poll_event() {
            if let ClientEvent::Completed { id, outcome } = &event {
                if let Some((group, request, reply)) = self.waiting_auth.remove(id) {
                    let decision = match outcome {
                        Outcome::Access(decision) => decision.clone(),
                        Outcome::Failed(cause) => self.fallback(&group, &request, (*cause).into()),
                        Outcome::AccountingAck => {
                            Decision::Reject(Rejection::new(RejectCause::Timeout))
                        }
                    };
                    let result = match &decision {
                        Decision::Accept(_) => "accept",
                        Decision::Reject(r) if r.cause == RejectCause::AccessReject => "reject",
                        Decision::Reject(_) => "error",
                    };
                    self.emit(AaaEvent::AuthResult { group, result });
                    let _ = reply.send(decision);
                } else if let Some(seq) = self.acct_in_flight.remove(id) {
                    match outcome {
                        Outcome::AccountingAck => {
                            let group = self
                                .spool
                                .get(seq)
                                .map(|r| r.group.clone())
                                .unwrap_or_default();
                            if let Err(error) = self.spool.ack(seq) {
                                tracing::error!(%error, "could not record an accounting ack");
                            }
                            self.emit(AaaEvent::RecordDelivered { group });
                            self.report_spool();
                        }
                        _ => {
                            // Back in line; retry later, in order.
                            self.unsent.insert(seq);
                            self.retry_at = Some(now + self.retry_interval);
                        }
                    }
                }
            }
            if let ClientEvent::ServerUp { .. } = &event {
                // A server is back: deliver the spool now.
                self.retry_at = None;
            }
            self.emit(AaaEvent::Client(event));
        }
    }

    fn fallback(&self, group: &str, request: &AuthRequest, cause: RejectCause) -> Decision {
        if self.local_fallback
            && cause == RejectCause::NoLiveServer
            && let Some(local) = &self.local
        {
            tracing::warn!(
                group,
                "every RADIUS server dead: answering from local users"
            );
            return local.authenticate(request);
        }
        Decision::Reject(Rejection::new(cause))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::aaa::client::ServerConfig;
    use crate::aaa::request::{AcctStatusType, SessionInfo};
    use crate::config::ServerStrategy;
    use crate::wire::radius::{Code, Packet, PacketBuilder};

    const SECRET: &[u8] = b"spool-test";

    /// An accounting port that answers every request with a signed
    /// Accounting-Response while `answering` is set, and is silent (a
    /// server that is down) otherwise. Counts the Accounting-Requests it
    /// acknowledged.
    struct Responder {
        port: u16,
        answering: Arc<AtomicBool>,
        acked: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Responder {
        async fn start(answering: bool) -> Self {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let port = socket.local_addr().unwrap().port();
            let answering = Arc::new(AtomicBool::new(answering));
            let acked = Arc::new(AtomicUsize::new(0));
            let (on, count) = (Arc::clone(&answering), Arc::clone(&acked));
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                    if !on.load(Ordering::Relaxed) {
                        continue;
                    }
                    let Ok(request) = Packet::new_checked(&buf[..len]) else {
                        continue;
                    };
                    if request.code() == Code::AccountingRequest {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut out = vec![0u8; 4096];
                    let mut reply = PacketBuilder::new(
                        &mut out,
                        Code::AccountingResponse,
                        request.identifier(),
                        &[0; 16],
                    )
                    .unwrap();
                    reply.push_message_authenticator().unwrap();
                    let len = reply
                        .finish_signed(SECRET, Some(&request.authenticator()))
                        .unwrap();
                    let _ = socket.send_to(&out[..len], from).await;
                }
            });
            Self {
                port,
                answering,
                acked,
                task,
            }
        }

        fn answer(&self, on: bool) {
            self.answering.store(on, Ordering::Relaxed);
        }
    }

    fn config(state_dir: &std::path::Path, acct_port: u16) -> AaaConfig {
        AaaConfig {
            client: ClientConfig {
                sockets: 1,
                probe_interval: Duration::from_millis(100),
                max_timeout: Duration::from_millis(200),
                ..ClientConfig::default()
            },
            groups: vec![GroupConfig {
                name: "acct".into(),
                servers: vec![ServerConfig {
                    address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    auth_port: acct_port,
                    acct_port,
                    secret: SECRET.to_vec(),
                    weight: 1,
                }],
                strategy: ServerStrategy::Failover,
                timeout: Duration::from_millis(100),
                retries: 1,
                dead_after: 1,
                dead_time: Duration::from_millis(200),
            }],
            nas: NasIdentity::default(),
            state_dir: state_dir.to_owned(),
            spool_max_records: 100,
            acct_window: 4,
            acct_retry_interval: Duration::from_millis(100),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_users: None,
            local_fallback: false,
            seed: [9; 32],
            auth_cache: AuthCacheConfig::default(),
        }
    }

    async fn account(aaa: &AaaHandle, n: usize) {
        let record = AccountingRecord::new(
            AcctStatusType::Start,
            Some(format!("user{n}")),
            SessionInfo {
                acct_session_id: format!("SPOOL-{n}"),
                ..SessionInfo::default()
            },
        );
        aaa.account("acct", record).await.unwrap();
    }

    /// What a fresh start would replay.
    fn left_in_spool(dir: &std::path::Path) -> usize {
        Spool::open(dir, 100).unwrap().depth()
    }

    /// The count the LAC logs at exit ("accounting records still
    /// unacknowledged") is [`AaaHandle::flush`]'s: it must be the number
    /// of records left in the spool, through enqueue, ack, a server
    /// outage, shutdown and replay — never a sentinel (it was `usize::MAX`
    /// whenever the flush timed out, logged as 18446744073709551615).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flush_reports_the_records_left_in_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let server = Responder::start(true).await;
        let aaa = AaaHandle::start(config(dir.path(), server.port))
            .await
            .unwrap();
        // Enqueue, acknowledged: nothing left.
        for n in 0..3 {
            account(&aaa, n).await;
        }
        assert_eq!(aaa.flush(Duration::from_secs(10)).await, 0);
        assert_eq!(aaa.spool_depth(), 0);
        assert!(server.acked.load(Ordering::Relaxed) >= 3);

        // The server goes silent: the flush times out with the real count.
        server.answer(false);
        for n in 3..5 {
            account(&aaa, n).await;
        }
        assert_eq!(aaa.flush(Duration::from_millis(400)).await, 2);
        assert_eq!(aaa.spool_depth(), 2);
        // Retries while it is down (timeouts, dead server, re-queueing)
        // neither lose nor double-count a record.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(aaa.flush(Duration::from_millis(100)).await, 2);

        // Shutdown: a flush after it still reports what the spool keeps,
        // and the spool on disk agrees.
        aaa.shutdown().await;
        assert_eq!(aaa.flush(Duration::from_millis(100)).await, 2);
        drop(aaa);
        assert_eq!(left_in_spool(dir.path()), 2);

        // Restart with the server still down: the replay counts the same
        // records again (not twice, not minus the acknowledged ones).
        let aaa = AaaHandle::start(config(dir.path(), server.port))
            .await
            .unwrap();
        assert_eq!(aaa.spool_depth(), 2);
        account(&aaa, 5).await;
        assert_eq!(aaa.flush(Duration::from_millis(400)).await, 3);
        aaa.shutdown().await;
        drop(aaa);
        assert_eq!(left_in_spool(dir.path()), 3);

        // Restart with the server back: the replay is delivered.
        server.answer(true);
        let aaa = AaaHandle::start(config(dir.path(), server.port))
            .await
            .unwrap();
        assert_eq!(aaa.flush(Duration::from_secs(10)).await, 0);
        aaa.shutdown().await;
        drop(aaa);
        assert_eq!(left_in_spool(dir.path()), 0);
        assert!(server.acked.load(Ordering::Relaxed) >= 6);
        server.task.abort();
    }

    /// A handle whose task is gone answers from the count it left, not a
    /// sentinel.
    #[tokio::test]
    async fn flush_on_a_stopped_aaa_task_reports_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing answers on.
        let closed = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let aaa = AaaHandle::start(config(dir.path(), port)).await.unwrap();
        account(&aaa, 0).await;
        aaa.shutdown().await;
        assert_eq!(aaa.flush(Duration::from_secs(1)).await, 1);
        assert_eq!(left_in_spool(dir.path()), 1);
    }
}
