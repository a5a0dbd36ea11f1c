//! The LAC's events (RFC 2661 LAC role, with RFC 2516 discovery and the
//! RFC 1661 link of each subscriber), its gauges, and the observer its
//! driver publishes both to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aaa::request::SessionEnd;
use crate::l2tp::Event as L2tpEvent;
use crate::ppp::link::LinkEvent;
use crate::pppoe::server::Event as PppoeEvent;

/// What a LAC driver publishes: every core event, and its gauges once a
/// second. Implemented by [`crate::metrics::Metrics`].
pub trait LacObserver: std::fmt::Debug + Send + Sync {
    /// One event of a worker's core.
    fn lac_event(&self, event: &LacEvent);
    /// The gauges, summed over the workers.
    fn lac_gauges(&self, snapshot: &LacSnapshot);
}

/// Where a subscriber's session stands (the API's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// LCP, or waiting for the peer's credentials.
    Negotiating,
    /// Waiting for RADIUS.
    Authenticating,
    /// Waiting for the L2TP tunnel and session.
    Tunnelling,
    /// Forwarding.
    Up,
}

impl SessionState {
    /// Every state.
    pub const ALL: [Self; 4] = [
        Self::Negotiating,
        Self::Authenticating,
        Self::Tunnelling,
        Self::Up,
    ];

    /// Label for the API and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Negotiating => "negotiating",
            Self::Authenticating => "authenticating",
            Self::Tunnelling => "tunnelling",
            Self::Up => "up",
        }
    }
}

/// How an LNS was chosen for a session (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectionOutcome {
    /// The first endpoint of the plan worked.
    FirstChoice,
    /// A later endpoint worked after earlier ones failed.
    Failover,
    /// RADIUS gave no usable tunnel and no realm rule matched.
    NoCandidate,
    /// Every attempt failed or the deadline passed.
    Exhausted,
}

impl SelectionOutcome {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstChoice => "first_choice",
            Self::Failover => "failover",
            Self::NoCandidate => "no_candidate",
            Self::Exhausted => "exhausted",
        }
    }
}

/// Why a subscriber never reached the forwarding state (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupFailure {
    /// PPP (LCP or authentication) failed or the peer left.
    Ppp,
    /// RADIUS rejected the user (or no server answered).
    RadiusReject,
    /// No LNS candidate.
    NoCandidate,
    /// Every LNS attempt failed.
    TunnelFailed,
    /// The set-up deadline passed.
    Deadline,
    /// Every LNS of the plan had `[lac] max_queued_calls` calls waiting.
    LnsBusy,
    /// The subscriber left (PADT) while the session was being set up.
    SubscriberLeft,
    /// Administrative action (Disconnect-Request, shutdown, interface down).
    Administrative,
    /// LNS: no address for the subscriber (pool exhausted or none set).
    NoAddress,
}

impl SetupFailure {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ppp => "ppp",
            Self::RadiusReject => "radius_reject",
            Self::NoCandidate => "no_candidate",
            Self::TunnelFailed => "tunnel_failed",
            Self::Deadline => "deadline",
            Self::LnsBusy => "lns_busy",
            Self::SubscriberLeft => "subscriber_left",
            Self::Administrative => "administrative",
            Self::NoAddress => "no_address",
        }
    }
}

/// The LAC's set-up phases that are not PPP's own (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LacPhase {
    /// The RADIUS round trip.
    Radius,
    /// SCCRQ to SCCCN of a tunnel this session opened.
    Tunnel,
    /// `open_session` to the session being established.
    Session,
}

/// What the core tells its driver for metrics and logs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LacEvent {
    /// A discovery event of an interface.
    Pppoe(PppoeEvent),
    /// A PPP link event (before hand-over).
    Ppp(LinkEvent),
    /// An L2TP endpoint event.
    L2tp(L2tpEvent),
    /// A selector event (denylist changes).
    Select(SelectEvent),
    /// A set-up phase of the LAC took `took`.
    Phase {
        /// Which.
        phase: LacPhase,
        /// How long.
        took: Duration,
    },
    /// How the LNS was chosen.
    Selection(SelectionOutcome),
    /// A session never came up.
    SetupFailed(SetupFailure),
    /// A session that was up ended.
    SessionEnded {
        /// Acct-Terminate-Cause.
        end: SessionEnd,
    },
    /// An event of the LNS role.
    Lns(crate::observe::lns::LnsEvent),
}

/// The fast path's counters (`dataplane::fastpath`), as the metrics read
/// them.
pub use crate::dataplane::fastpath::{DirectionCounters, ForwardingTotals};

/// What the selector tells the driver for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectEvent {
    /// An endpoint was denylisted until `until`.
    Denylisted {
        /// The endpoint.
        endpoint: SocketAddr,
        /// Until when.
        until: Instant,
    },
    /// A denylisted endpoint worked again or its time ran out.
    Cleared {
        /// The endpoint.
        endpoint: SocketAddr,
    },
}

/// What the LAC driver reports once a second ([`Metrics::update_lac`]).
#[derive(Debug, Clone, Default)]
pub struct LacSnapshot {
    /// Sessions per state.
    pub states: Vec<(SessionState, usize)>,
    /// Established sessions per (LNS group, endpoint).
    pub per_lns: Vec<((Arc<str>, SocketAddr), usize)>,
    /// Denylisted endpoints.
    pub denylisted: usize,
    /// Fast-path totals since start.
    pub totals: ForwardingTotals,
    /// Calls waiting for room in their LNS's tunnels (`[lac]
    /// max_queued_calls` bounds them), per LNS.
    pub queued_calls: Vec<(SocketAddr, usize)>,
    /// Tunnels per LNS (`[lac] max_tunnels_per_lns` take new calls).
    pub tunnels: Vec<(SocketAddr, usize)>,
    /// The LNS role's figures, when the node has the role.
    pub lns: Option<crate::observe::lns::LnsSnapshot>,
}
