//! What a [`Link`](super::Link) reports to its driver: [`LinkEvent`]s
//! (phase changes of RFC 1661 §3.2, automaton states of §4, timed set-up
//! steps, dropped frames), why the link went down ([`DownReason`], with the
//! causes RADIUS accounting, L2TP and PPPoE report: RFC 2866 §5.10, RFC
//! 2661 §4.4.2, RFC 2516 §5.5) and its counters ([`LinkStats`]).

use std::time::Duration;

use super::Phase;
use crate::ppp::auth::{self, AuthRequest};
use crate::ppp::fsm::{self, State};
use crate::ppp::lcp::LcpNegotiated;
use crate::ppp::ncp::{Ipv4Negotiated, Ipv6Negotiated};
use crate::wire::ppp::Protocol;

/// A timed step of link set-up ([`LinkEvent::StepCompleted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupStep {
    /// LCP negotiation (Establish phase).
    Lcp,
    /// Authentication phase, AAA decision included.
    Auth,
    /// IPCP to Opened.
    Ipcp,
    /// IPv6CP to Opened.
    Ipv6cp,
}

/// Why a link went down. Maps to what RADIUS accounting, L2TP and PPPoE
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// The peer sent a Terminate-Request.
    PeerTerminated,
    /// LCP Echo-Requests went unanswered.
    EchoTimeout,
    /// Authentication failed (rejected, timed out, refused).
    AuthFailed,
    /// A control protocol could not converge or the peer never answered
    /// (Max-Configure), or refused an option we need.
    NegotiationFailed {
        /// LCP, IPCP or IPv6CP.
        protocol: Protocol,
    },
    /// RFC 1661 §6.4: the link is looped back.
    LoopedBack,
    /// The operator (or RADIUS Disconnect) closed the session.
    AdminClose,
    /// Session-Timeout reached.
    SessionTimeout,
    /// Idle-Timeout reached.
    IdleTimeout,
    /// The lower layer (PPPoE session, L2TP session) went away.
    LowerDown,
}

impl DownReason {
    /// RFC 2866 §5.10 Acct-Terminate-Cause.
    pub const fn acct_terminate_cause(self) -> u32 {
        match self {
            Self::PeerTerminated => 1,            // User Request
            Self::EchoTimeout => 2,               // Lost Carrier
            Self::LowerDown => 2,                 // Lost Carrier
            Self::IdleTimeout => 4,               // Idle Timeout
            Self::SessionTimeout => 5,            // Session Timeout
            Self::AdminClose => 6,                // Admin Reset
            Self::LoopedBack => 8,                // Port Error
            Self::NegotiationFailed { .. } => 15, // Service Unavailable
            Self::AuthFailed => 17,               // User Error
        }
    }

    /// RFC 2661 §4.4.2 CDN Result Code: 1 "Call disconnected due to loss
    /// of carrier", 2 "Call disconnected for the reason indicated in error
    /// code", 3 "Call disconnected for administrative reasons".
    pub const fn l2tp_cdn_result_code(self) -> u16 {
        match self {
            Self::PeerTerminated | Self::EchoTimeout | Self::LowerDown => 1,
            Self::AuthFailed | Self::NegotiationFailed { .. } | Self::LoopedBack => 2,
            Self::AdminClose | Self::SessionTimeout | Self::IdleTimeout => 3,
        }
    }

    /// Text for a PPPoE PADT Generic-Error tag (RFC 2516 §5.5, Appendix A).
    pub const fn pppoe_generic_error(self) -> &'static str {
        match self {
            Self::PeerTerminated => "PPP terminated by peer",
            Self::EchoTimeout => "PPP LCP echo timeout",
            Self::AuthFailed => "PPP authentication failed",
            Self::NegotiationFailed { .. } => "PPP negotiation failed",
            Self::LoopedBack => "PPP link looped back",
            Self::AdminClose => "Administratively closed",
            Self::SessionTimeout => "Session timeout",
            Self::IdleTimeout => "Idle timeout",
            Self::LowerDown => "Lower layer down",
        }
    }
}

/// Why the link dropped a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDropReason {
    /// The control automaton dropped it.
    Fsm(fsm::DropReason),
    /// The authentication core dropped it.
    Auth(auth::DropReason),
    /// Malformed LCP packet (bad Length, short Echo …).
    Malformed,
    /// Not allowed in the current phase (RFC 1661 §3.4–§3.5).
    WrongPhase,
    /// An Echo carrying our own Magic-Number (loop).
    OwnMagic,
    /// Network-layer data; the driver's fast path carries it.
    Data,
    /// A protocol we know but do not run, before LCP is Opened.
    UnknownProtocol,
    /// The link is dead.
    Dead,
}

/// What the link tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A phase change.
    PhaseChanged {
        /// Previous phase.
        from: Phase,
        /// New phase.
        to: Phase,
    },
    /// A step of bringing the link up finished: how long it took (LCP:
    /// from open to the Establish phase's end; authentication; IPCP and
    /// IPv6CP: from the Network phase's start to Opened).
    StepCompleted {
        /// Which step.
        step: SetupStep,
        /// How long.
        took: Duration,
    },
    /// A control protocol changed state.
    StateChanged {
        /// LCP, IPCP or IPv6CP.
        protocol: Protocol,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// LCP reached Opened.
    LcpUp(LcpNegotiated),
    /// The peer presented credentials: answer with
    /// [`Link::auth_complete`](super::Link::auth_complete).
    AuthRequested(AuthRequest),
    /// Authentication succeeded (server: the peer; client: us).
    Authenticated,
    /// One more NCP reached Opened; carries every NCP that is up.
    NetworkUp {
        /// IPCP result, if IPCP is Opened.
        ipv4: Option<Ipv4Negotiated>,
        /// IPv6CP result, if IPv6CP is Opened.
        ipv6: Option<Ipv6Negotiated>,
    },
    /// An NCP left Opened.
    NetworkDown {
        /// IPCP or IPv6CP.
        protocol: Protocol,
    },
    /// LCP left Opened to renegotiate (the session is not over).
    Renegotiating,
    /// The link is down; the driver tears the session down.
    Down {
        /// Why.
        reason: DownReason,
    },
    /// We answered a frame with a Protocol-Reject.
    ProtocolRejectSent {
        /// The rejected protocol.
        protocol: Protocol,
    },
    /// The peer rejected one of our protocols.
    ProtocolRejectReceived {
        /// The rejected protocol.
        protocol: Protocol,
    },
    /// A received frame was dropped.
    Dropped {
        /// Its protocol.
        protocol: Protocol,
        /// Why.
        reason: LinkDropReason,
    },
}

/// Counters for observability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames dropped.
    pub dropped: u64,
    /// Echo-Requests sent.
    pub echo_requests_sent: u64,
    /// Echo-Replies received.
    pub echo_replies_received: u64,
    /// Protocol-Rejects sent.
    pub protocol_rejects_sent: u64,
    /// Frames or events discarded because the driver did not poll.
    pub queue_overflows: u64,
}
