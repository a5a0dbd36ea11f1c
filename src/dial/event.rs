//! What [`DialCore`](super::DialCore) reports: [`DialEvent`]s, why a
//! call ended ([`DownCause`], with the RFC 2661 §4.4.2 result codes of a
//! StopCCN or CDN in words) and the counters ([`DialStats`]).

use core::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::l2tp::{SessionHandle, TunnelDownCause};
use crate::ppp::auth::AuthMethod;
use crate::ppp::link::{DownReason, Phase};
use crate::wire::l2tp::{CdnResult, Q931Cause, ResultCode, StopCcnResult};

/// Why a call ended (one [`DialEvent::Down`] per call).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownCause {
    /// The LNS refused our PPP credentials.
    AuthFailed {
        /// The method LCP negotiated.
        method: Option<AuthMethod>,
    },
    /// The tunnel went down: refused or cleared by the LNS (StopCCN), by
    /// us (e.g. tunnel authentication failed), or the LNS stopped
    /// answering.
    TunnelDown {
        /// Why.
        cause: TunnelDownCause,
        /// The StopCCN's Result Code, if any.
        result: Option<ResultCode>,
    },
    /// The LNS cleared the call (CDN).
    CallCleared {
        /// The CDN's Result Code.
        result: Option<ResultCode>,
        /// Its Q.931 cause, if any.
        q931: Option<Q931Cause>,
    },
    /// PPP ended otherwise (Terminate-Request from the LNS, echo timeout,
    /// negotiation failure).
    Ppp(DownReason),
    /// Not up within [`DialConfig::setup_timeout`](super::DialConfig::setup_timeout).
    Timeout {
        /// The step that did not finish.
        stage: SetupStage,
    },
    /// We hung up ([`DialCore::close`](super::DialCore::close), [`DialCore::hang_up`](super::DialCore::hang_up)).
    HungUp,
}

/// Where a call was when its set-up timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupStage {
    /// SCCRQ sent, no SCCRP (the tunnel is not up).
    Tunnel,
    /// ICRQ sent (or waiting to be), no ICRP.
    Call,
    /// PPP: LCP, authentication or IPCP.
    Ppp(Phase),
}

impl fmt::Display for SetupStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tunnel => f.write_str("tunnel set-up (SCCRQ sent, no SCCRP from the LNS)"),
            Self::Call => f.write_str("call set-up (ICRQ sent, no ICRP from the LNS)"),
            Self::Ppp(Phase::Establish | Phase::Dead) => f.write_str("PPP LCP negotiation"),
            Self::Ppp(Phase::Authenticate) => f.write_str("PPP authentication"),
            Self::Ppp(Phase::Network) => f.write_str("PPP IPCP (no address)"),
            Self::Ppp(Phase::Terminate) => f.write_str("PPP termination"),
        }
    }
}

/// RFC 2661 §4.4.2 StopCCN General Result Codes, in words.
fn stop_ccn_text(result: u16) -> &'static str {
    match StopCcnResult::from(result) {
        StopCcnResult::GeneralRequestToClear => "general request to clear control connection",
        StopCcnResult::GeneralError => "general error",
        StopCcnResult::ChannelExists => "control channel already exists",
        StopCcnResult::NotAuthorized => {
            "requester is not authorized to establish a control channel"
        }
        StopCcnResult::UnsupportedProtocolVersion => "protocol version not supported",
        StopCcnResult::ShuttingDown => "requester is being shut down",
        StopCcnResult::FsmError => "finite state machine error",
        _ => "unknown result",
    }
}

/// RFC 2661 §4.4.2 CDN Result Codes, in words.
fn cdn_text(result: u16) -> &'static str {
    match CdnResult::from(result) {
        CdnResult::LossOfCarrier => "call disconnected due to loss of carrier",
        CdnResult::ErrorCode => "call disconnected for the reason in the error code",
        CdnResult::Administrative => "call disconnected for administrative reasons",
        CdnResult::FacilitiesTemporarilyUnavailable => {
            "call failed due to lack of appropriate facilities (temporary)"
        }
        CdnResult::FacilitiesPermanentlyUnavailable => {
            "call failed due to lack of appropriate facilities (permanent)"
        }
        CdnResult::InvalidDestination => "invalid destination",
        CdnResult::NoCarrier => "call failed due to no carrier detected",
        CdnResult::Busy => "call failed due to detection of a busy signal",
        CdnResult::NoDialTone => "call failed due to lack of a dial tone",
        CdnResult::Timeout => "call was not established within the time allotted by LAC",
        CdnResult::NoFraming => "call was connected but no appropriate framing was detected",
        _ => "unknown result",
    }
}

fn write_result(
    f: &mut fmt::Formatter<'_>,
    message: &str,
    result: Option<&ResultCode>,
    text: fn(u16) -> &'static str,
) -> fmt::Result {
    match result {
        Some(result) => write!(f, "{message} {result} ({})", text(result.result)),
        None => f.write_str(message),
    }
}

impl fmt::Display for DownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthFailed {
                method: Some(method),
            } => write!(
                f,
                "authentication failed: the LNS refused our credentials ({method:?})"
            ),
            Self::AuthFailed { method: None } => {
                f.write_str("authentication failed: the LNS refused our credentials")
            }
            Self::TunnelDown { cause, result } => {
                let message = match cause {
                    TunnelDownCause::PeerStopCcn => {
                        "the LNS refused or cleared the tunnel: StopCCN"
                    }
                    TunnelDownCause::LocalStopCcn => {
                        "we cleared the tunnel (tunnel authentication or protocol error): StopCCN"
                    }
                    TunnelDownCause::PeerUnreachable => {
                        "the LNS stopped answering: control messages went unacknowledged"
                    }
                    TunnelDownCause::TieBreakerLost => "the tunnel lost the tie breaker",
                };
                write_result(f, message, result.as_ref(), stop_ccn_text)
            }
            Self::CallCleared { result, q931 } => {
                write_result(
                    f,
                    "the LNS cleared the call: CDN",
                    result.as_ref(),
                    cdn_text,
                )?;
                if let Some(q931) = q931 {
                    write!(f, ", Q.931 cause {q931:?}")?;
                }
                Ok(())
            }
            Self::Ppp(reason) => write!(f, "PPP ended: {}", reason.pppoe_generic_error()),
            Self::Timeout { stage } => write!(f, "timed out during {stage}"),
            Self::HungUp => f.write_str("hung up"),
        }
    }
}

/// What the core tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialEvent {
    /// The control connection is established (§7.2).
    TunnelUp {
        /// Our Tunnel ID.
        tunnel_id: u16,
        /// The LNS's Tunnel ID.
        peer_tunnel_id: u16,
        /// The LNS's address (port as learnt from its SCCRP, §8.1).
        peer: SocketAddr,
        /// SCCRQ to established.
        took: Duration,
    },
    /// A call is up: IPCP is Opened (RFC 1332).
    Up {
        /// The call (our Tunnel ID and Session ID).
        call: SessionHandle,
        /// The LNS's Tunnel ID and Session ID of the call.
        peer_ids: (u16, u16),
        /// Our IPv4 address.
        local: Ipv4Addr,
        /// The LNS's IPv4 address.
        peer: Ipv4Addr,
        /// Primary DNS server, if the LNS gave one (RFC 1877).
        dns: Option<Ipv4Addr>,
        /// The largest IP packet we may send: the LNS's MRU.
        mru: u16,
        /// [`DialCore::dial`](super::DialCore::dial) to IPCP Opened.
        took: Duration,
    },
    /// A call ended (once per call, whether it was up or not).
    Down {
        /// The call.
        call: SessionHandle,
        /// Whether it had been up.
        was_up: bool,
        /// Why.
        reason: DownCause,
    },
    /// A tunnel is gone (after its calls' `Down`).
    TunnelDown {
        /// Our Tunnel ID.
        tunnel_id: u16,
        /// Why.
        cause: TunnelDownCause,
        /// The StopCCN's Result Code, if any.
        result: Option<ResultCode>,
    },
}

/// Counters of the core; every dropped input is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialStats {
    /// Control messages received.
    pub control_in: u64,
    /// Data messages received on a call.
    pub data_in: u64,
    /// Data messages sent (PPP control frames and IP).
    pub data_out: u64,
    /// IP packets handed to the driver (to TUN).
    pub ip_to_tun: u64,
    /// IP packets taken from the driver (from TUN) and sent.
    pub ip_from_tun: u64,
    /// Data messages too short or malformed (L2TP or PPP framing).
    pub dropped_malformed: u64,
    /// Data messages for no call of ours.
    pub dropped_unknown_session: u64,
    /// Data messages from another address than the call's LNS.
    pub dropped_wrong_source: u64,
    /// IPv4 received on a call whose IPCP is not Opened.
    pub dropped_not_up: u64,
    /// IP packets from TUN that are not IPv4, or from an address no call
    /// has, or longer than the LNS's MRU.
    pub dropped_unroutable: u64,
    /// Packets dropped because the driver did not poll (queues full) or
    /// its buffer was too short.
    pub dropped_queue: u64,
}
