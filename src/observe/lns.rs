//! What the LNS role reports (issue: LNS metrics): proxy LCP and proxy
//! authentication outcomes (RFC 2661 §4.4.5), refused calls, address
//! refusals, and the set-up phases that happen at the LNS.

use std::time::Duration;

/// What became of a call's proxy LCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyLcpOutcome {
    /// Adopted: LCP Opened without an exchange with the subscriber.
    Accepted,
    /// Renegotiated (policy, no proxy AVPs, or not acceptable).
    Renegotiated,
    /// Not acceptable, and the policy refuses such calls.
    Refused,
}

/// What became of a call's proxy authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyAuthOutcome {
    /// The proxied credentials were verified with RADIUS and accepted.
    Accepted,
    /// We challenged the subscriber ourselves (local-chap, MS-CHAPv2, no
    /// proxy authentication).
    Rechallenged,
    /// RADIUS rejected the proxied credentials: the call was refused.
    Failed,
}

/// A set-up phase at the LNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LnsPhase {
    /// ICCN to the RADIUS request (LCP and the subscriber's credentials).
    Link,
    /// The RADIUS round trip.
    Radius,
    /// Access-Accept to the first NCP Opened.
    Network,
    /// ICCN to the session up, in all.
    Total,
}

/// Why a call was refused or a session could not come up at the LNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LnsRefusal {
    /// The peer rule's `max_sessions` is reached.
    SessionLimit,
    /// No address: pool exhausted, unknown pool, address in use.
    NoAddress,
    /// The proxy LCP was unacceptable under `reject-if-unacceptable`.
    ProxyLcp,
    /// RADIUS rejected the proxied credentials.
    ProxyAuth,
}

/// An LNS event for the observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LnsEvent {
    /// A call's proxy LCP.
    ProxyLcp(ProxyLcpOutcome),
    /// A call's proxy authentication.
    ProxyAuth(ProxyAuthOutcome),
    /// A refusal.
    Refused(LnsRefusal),
    /// A phase took `took`.
    Phase {
        /// Which.
        phase: LnsPhase,
        /// How long.
        took: Duration,
    },
}

/// One address pool's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolFigures {
    /// Its name.
    pub name: String,
    /// Addresses it can hand out.
    pub size: u32,
    /// Addresses in use.
    pub used: u32,
    /// Allocations refused because it was full, since start.
    pub exhausted: u64,
}

/// What the LNS driver reports once a second
/// ([`crate::metrics::Metrics::update_lns`]).
#[derive(Debug, Clone, Default)]
pub struct LnsSnapshot {
    /// Sessions per `[[lns.peer]]` rule.
    pub peer_sessions: Vec<(String, u32)>,
    /// Tunnels per `[[lns.peer]]` rule.
    pub peer_tunnels: Vec<(String, u32)>,
    /// Every pool's figures.
    pub pools: Vec<PoolFigures>,
    /// IP to TUN (from subscribers).
    pub to_tun: crate::dataplane::fastpath::DirectionCounters,
    /// IP from TUN (to subscribers).
    pub from_tun: crate::dataplane::fastpath::DirectionCounters,
    /// Spoofed packets dropped.
    pub spoofed: u64,
    /// Packets from TUN for no session.
    pub no_route: u64,
}
