//! What the L2TP endpoint tells its driver and the metrics layer.

use std::net::SocketAddr;
use std::time::Instant;

use crate::wire::l2tp::{Accm, CallErrors, Q931Cause, ResultCode};

use super::session::CallInfo;

/// A session as the driver names it: our Tunnel ID and our Session ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle {
    /// Our (local) Tunnel ID.
    pub tunnel_id: u16,
    /// Our (local) Session ID.
    pub session_id: u16,
}

/// Whether we sent or received a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// The peer sent it.
    Received,
}

/// Why a tunnel went down.
///
/// Being busy is not among the causes: a full window or send queue is
/// back-pressure (messages and calls wait in the tunnel's outbox, and
/// [`super::OpenError::Busy`] bounds the wait), never a reason for a
/// tunnel to tear itself down (the `Overloaded` cause that did is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TunnelDownCause {
    /// The peer sent StopCCN.
    PeerStopCcn,
    /// We sent StopCCN (driver command, authentication failure, protocol
    /// error, unknown mandatory AVP, …): see the result code.
    LocalStopCcn,
    /// The control channel gave up retransmitting (§5.8): the peer is
    /// unreachable or dead.
    PeerUnreachable,
    /// Tie breaker lost (§4.4.3): our tunnel was silently discarded in
    /// favour of the peer's.
    TieBreakerLost,
}

/// Why a session went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionDownCause {
    /// The peer sent CDN.
    PeerCdn,
    /// We sent CDN.
    LocalCdn,
    /// Its tunnel went down (no CDN on the wire: §5.7 StopCCN clears every
    /// session).
    TunnelDown,
}

/// What a tunnel's reliable control channel (RFC 2661 §5.8) did that
/// operators watch: retransmissions, window stalls and odd sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelActivity {
    /// A control message was retransmitted.
    Retransmit,
    /// A message waited because the peer's receive window was full.
    WindowStall,
    /// A duplicate arrived (our acknowledgement was lost); re-acknowledged.
    Duplicate,
    /// A message arrived ahead of a gap and was queued.
    OutOfOrder,
    /// A message beyond our receive window was dropped.
    OutOfWindow,
    /// An Nr acknowledging something never sent.
    InvalidAck,
}

/// Why a received datagram was dropped without reaching a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a well-formed L2TPv2 control message.
    Malformed,
    /// A data message (T=0): the fast path's business.
    DataMessage,
    /// Tunnel ID unknown (or the tunnel is gone).
    UnknownTunnel,
    /// Tunnel ID 0 but not an SCCRQ.
    NotSccrq,
    /// SCCRQ from an address no `[[lns.peer]]` rule admits, or the LNS role
    /// is off (answered with a stateless StopCCN, result 4).
    PeerNotAllowed,
    /// SCCRQ from a peer whose `[[lns.peer]]` rule has its `max_tunnels`
    /// (answered with a stateless StopCCN, result 2, error 4).
    PeerTunnelLimit,
    /// The datagram came from another IP address than the tunnel's peer.
    WrongSource,
    /// Every Tunnel ID is in use.
    NoTunnelId,
    /// The control channel refused it (see its own events).
    Channel,
    /// An SCCRQ whose Tie Breaker equals ours: both tunnels are discarded
    /// (§4.4.3).
    TieBreakerEqual,
}

/// Events of [`super::Endpoint`], for the role drivers and the metrics
/// layer. Timestamps are the `now` the endpoint was given, so setup latency
/// is `at - requested_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A control connection reached the established state (§7.2).
    TunnelUp {
        /// Our Tunnel ID.
        tunnel_id: u16,
        /// The peer's Tunnel ID.
        peer_tunnel_id: u16,
        /// The peer's address (port as learnt from SCCRP, §8.1).
        peer: SocketAddr,
        /// Whether we sent the SCCRQ.
        initiated_locally: bool,
        /// The peer's Host Name AVP.
        peer_host_name: Vec<u8>,
        /// SCCRQ sent or received.
        requested_at: Instant,
        /// SCCCN sent or received.
        at: Instant,
    },
    /// A control connection is gone (its sessions are reported down first).
    TunnelDown {
        /// Our Tunnel ID.
        tunnel_id: u16,
        /// Whether we sent the SCCRQ (LAC side of the tunnel).
        initiated_locally: bool,
        /// Whether it had been established (false: a setup failure).
        was_established: bool,
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        cause: TunnelDownCause,
        /// The StopCCN result code sent or received, if any.
        result: Option<ResultCode>,
        /// When.
        at: Instant,
    },
    /// LNS role: an ICRQ arrived; answer with
    /// [`super::Endpoint::accept_session`] or
    /// [`super::Endpoint::refuse_session`].
    SessionRequest {
        /// The new session.
        handle: SessionHandle,
        /// The peer's address.
        peer: SocketAddr,
        /// The ICRQ's call parameters.
        call: Box<CallInfo>,
        /// When the ICRQ arrived.
        at: Instant,
    },
    /// A session is established. LAC: the peer acknowledged our ICCN
    /// (§7.4.1), or sent data on the call ([`super::Endpoint::confirm_session`]),
    /// so no data message can overtake the ICCN; LNS: ICCN received
    /// (§7.5).
    SessionUp {
        /// The session.
        handle: SessionHandle,
        /// The peer's Tunnel ID.
        peer_tunnel_id: u16,
        /// The peer's Session ID.
        peer_session_id: u16,
        /// The peer's address.
        peer: SocketAddr,
        /// The driver's correlation id from `open_session` (LAC), 0 on the
        /// LNS.
        request_id: u64,
        /// The whole call, proxy AVPs included.
        call: Box<CallInfo>,
        /// `open_session` (LAC) or ICRQ received (LNS).
        requested_at: Instant,
        /// When it came up.
        at: Instant,
    },
    /// A session is gone.
    SessionDown {
        /// The session.
        handle: SessionHandle,
        /// The driver's correlation id (LAC), 0 on the LNS.
        request_id: u64,
        /// Whether it had been established.
        was_established: bool,
        /// Why.
        cause: SessionDownCause,
        /// The CDN (or StopCCN) result code.
        result: Option<ResultCode>,
        /// The Q.931 cause of the CDN, if any.
        q931: Option<Q931Cause>,
        /// When.
        at: Instant,
    },
    /// Set-Link-Info (§6.15): the PPP peer's negotiated ACCM.
    LinkInfo {
        /// The session.
        handle: SessionHandle,
        /// The ACCM AVP.
        accm: Accm,
    },
    /// WAN-Error-Notify (§6.14).
    WanError {
        /// The session.
        handle: SessionHandle,
        /// The Call Errors AVP.
        errors: CallErrors,
    },
    /// A StopCCN was sent or received (for counters by result code).
    StopCcn {
        /// Sent or received.
        direction: Direction,
        /// Its result code.
        result: ResultCode,
    },
    /// A CDN was sent or received (for counters by result code).
    Cdn {
        /// Sent or received.
        direction: Direction,
        /// Its result code.
        result: ResultCode,
    },
    /// Control-channel activity of some tunnel (for counters).
    ControlChannel(ChannelActivity),
    /// A datagram was dropped before reaching a tunnel.
    Dropped {
        /// Its source.
        peer: SocketAddr,
        /// Why.
        reason: DropReason,
    },
}
