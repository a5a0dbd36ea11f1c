//! The client core's vocabulary: services, server/group/client
//! configuration, jobs, outcomes and failure causes, dropped-datagram
//! reasons, and the events and transmits the core hands its driver.

use std::net::SocketAddr;
use std::time::Duration;

use crate::aaa::attributes::{Decision, RejectCause};
use crate::aaa::request::{AccountingRecord, AuthRequest};
use crate::config::ServerStrategy;
use crate::wire::radius::Code;

/// Whether a request goes to the authentication or the accounting port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Authentication port (1812).
    Auth,
    /// Accounting port (1813).
    Acct,
}

impl Service {
    /// Label for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Acct => "acct",
        }
    }
}

/// One server of a group.
#[derive(Clone)]
pub struct ServerConfig {
    /// Server address (the IP).
    pub address: std::net::IpAddr,
    /// Authentication port.
    pub auth_port: u16,
    /// Accounting port.
    pub acct_port: u16,
    /// Shared secret.
    pub secret: Vec<u8>,
    /// Weight for [`ServerStrategy::Weighted`].
    pub weight: u32,
}

impl core::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("address", &self.address)
            .field("auth_port", &self.auth_port)
            .field("acct_port", &self.acct_port)
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

/// A named group of servers (`[radius.group.NAME]`).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Group name.
    pub name: String,
    /// Servers, in configured order.
    pub servers: Vec<ServerConfig>,
    /// How requests are spread.
    pub strategy: ServerStrategy,
    /// First wait for a reply.
    pub timeout: Duration,
    /// Retransmissions to one server before the next is tried.
    pub retries: u8,
    /// Consecutive timeouts that mark a server dead.
    pub dead_after: u8,
    /// How long a dead server is skipped before it is probed.
    pub dead_time: Duration,
}

impl GroupConfig {
    /// From `[radius.group.NAME]`.
    #[must_use]
    pub fn from_config(name: &str, group: &crate::config::RadiusGroup) -> Self {
        Self {
            name: name.to_owned(),
            servers: group
                .servers
                .iter()
                .map(|s| ServerConfig {
                    address: s.address,
                    auth_port: s.auth_port,
                    acct_port: s.acct_port,
                    secret: s.secret.expose().to_vec(),
                    weight: s.weight,
                })
                .collect(),
            strategy: group.strategy,
            timeout: group.timeout.get(),
            retries: group.retries,
            dead_after: group.dead_after.max(1),
            dead_time: group.dead_time.get(),
        }
    }
}

/// Pool-wide limits.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Sockets in the pool (each gives 256 identifiers).
    pub sockets: usize,
    /// Requests in flight per server and service.
    pub max_outstanding_per_server: usize,
    /// Requests waiting per group when every server is at its limit.
    pub queue_limit: usize,
    /// Cap of the exponential retransmission timeout.
    pub max_timeout: Duration,
    /// Interval between Status-Server probes of a dead server.
    pub probe_interval: Duration,
    /// Drop Access-Accept/Reject without a Message-Authenticator
    /// (BlastRADIUS hardening; servers older than FreeRADIUS 3.2.5 do not
    /// send one by default). Default false.
    pub require_response_message_authenticator: bool,
    /// When every server of a group is dead, send to the one whose dead
    /// time ends first instead of failing at once (a burst of slow answers
    /// must not lock every subscriber out for a whole dead time; an answer
    /// revives the server). Off when local users are the fallback.
    pub try_dead_servers: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            sockets: 4,
            max_outstanding_per_server: 256,
            queue_limit: 4096,
            max_timeout: Duration::from_secs(10),
            probe_interval: Duration::from_secs(5),
            require_response_message_authenticator: false,
            try_dead_servers: true,
        }
    }
}

/// What to send.
#[derive(Debug, Clone)]
pub enum Job {
    /// An Access-Request.
    Access(Box<AuthRequest>),
    /// An Accounting-Request; `initial_delay` is the time already spent
    /// before this submission (e.g. in the spool across a restart).
    Accounting {
        /// The record.
        record: Box<AccountingRecord>,
        /// Seconds already waited.
        initial_delay: u32,
    },
}

impl Job {
    pub(super) const fn service(&self) -> Service {
        match self {
            Self::Access(_) => Service::Auth,
            Self::Accounting { .. } => Service::Acct,
        }
    }
}

/// Handle of a submitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Why a request failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailCause {
    /// Every live server was tried and none answered.
    #[error("no server answered")]
    Timeout,
    /// Every server of the group is dead.
    #[error("every server of the group is dead")]
    NoLiveServer,
    /// The request could not be encoded.
    #[error("request could not be encoded")]
    Encoding,
    /// Cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

impl From<FailCause> for RejectCause {
    fn from(cause: FailCause) -> Self {
        match cause {
            FailCause::Timeout | FailCause::Cancelled => Self::Timeout,
            FailCause::NoLiveServer => Self::NoLiveServer,
            FailCause::Encoding => Self::Encoding("attribute does not fit".into()),
        }
    }
}

/// Why [`Client::submit`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// No such group.
    #[error("unknown RADIUS group {0:?}")]
    UnknownGroup(String),
    /// The group's queue is full.
    #[error("RADIUS group {0:?} queue full")]
    QueueFull(String),
}

/// Result of a finished request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The Access-Request was answered.
    Access(Decision),
    /// The Accounting-Request was acknowledged.
    AccountingAck,
    /// No answer.
    Failed(FailCause),
}

/// Why a received datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a RADIUS packet (length, header).
    Malformed,
    /// No request in flight with that identifier on that socket.
    UnknownIdentifier,
    /// From an address the request was not sent to.
    UnknownSource,
    /// Response Authenticator does not match.
    BadAuthenticator,
    /// Message-Authenticator missing (when required) or wrong.
    BadMessageAuthenticator,
    /// A code that does not answer the request (e.g. Accounting-Response to
    /// an Access-Request).
    UnexpectedCode,
}

impl DropReason {
    /// Label for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownIdentifier => "unknown_id",
            Self::UnknownSource => "unknown_source",
            Self::BadAuthenticator => "bad_authenticator",
            Self::BadMessageAuthenticator => "bad_message_authenticator",
            Self::UnexpectedCode => "unexpected_code",
        }
    }
}

/// Identifies a server endpoint in events: group, server address, service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRef {
    /// Group name.
    pub group: String,
    /// Destination address.
    pub address: SocketAddr,
    /// Service.
    pub service: Service,
}

/// Observability events (mapped to metrics by the integrator).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A request finished.
    Completed {
        /// Which.
        id: RequestId,
        /// How.
        outcome: Outcome,
    },
    /// A request packet was sent (first time or retransmission).
    Sent {
        /// Where.
        server: ServerRef,
        /// Retransmission (same server) rather than a first send.
        retransmit: bool,
    },
    /// A verified response arrived.
    Response {
        /// From.
        server: ServerRef,
        /// Response code.
        code: Code,
        /// Time since this transmission.
        rtt: Duration,
    },
    /// A transmission got no answer in time.
    Timeout {
        /// Which server.
        server: ServerRef,
    },
    /// A datagram was dropped.
    Dropped {
        /// Source address.
        from: SocketAddr,
        /// Why.
        reason: DropReason,
    },
    /// A server was marked dead.
    ServerDown {
        /// Which.
        server: ServerRef,
    },
    /// A dead server answered Status-Server and is live again.
    ServerUp {
        /// Which.
        server: ServerRef,
    },
    /// A request was queued because every server is at its limit.
    Queued {
        /// Group.
        group: String,
        /// Queue depth after queueing.
        depth: usize,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Index of the pool socket to send from.
    pub socket: usize,
    /// Destination.
    pub destination: SocketAddr,
    /// Bytes written into the caller's buffer.
    pub len: usize,
}
