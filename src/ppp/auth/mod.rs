//! PPP authentication cores, authenticator ([`AuthServer`]) and peer
//! ([`AuthClient`]) side:
//!
//! - PAP, RFC 1334 §2 (Authenticate-Request / Ack / Nak);
//! - CHAP with MD5, RFC 1994 §4 (Challenge / Response / Success / Failure,
//!   optional re-challenge while the link is up);
//! - MS-CHAPv2, RFC 2759 §4–§6 (49-octet Response, `S=` Success with the
//!   authenticator response, `E= R= C= V= M=` Failure with retries) and the
//!   §8 cryptography in [`crypto`].
//!
//! The cores are sans-IO (DESIGN.md): time is an argument, packets go out
//! through `poll_transmit` into a caller-owned buffer (one PAP or CHAP
//! packet, starting at the Code octet, for [`AuthMethod::protocol`]), timers
//! through `poll_timeout` / `handle_timeout`, and everything the driver must
//! know through `poll_event`. The authenticator never decides on its own:
//! it hands an [`AuthRequest`] out and waits for [`AuthServer::auth_complete`],
//! so AAA latency never blocks the core.
//!
//! Every packet that is malformed or unexpected in the current state is
//! dropped and reported ([`AuthServerEvent::Dropped`] /
//! [`AuthClientEvent::Dropped`], [`AuthStats`]); no input panics.
//! Passwords never appear in `Debug` output.

mod client;
pub mod crypto;
mod server;

use core::fmt;
use std::collections::VecDeque;
use std::time::Duration;

pub use client::AuthClient;
pub use crypto::{
    chap_md5_response, generate_authenticator_response, generate_nt_response, verify_chap_md5,
    verify_mschapv2,
};
pub use server::AuthServer;

use crate::wire;
use crate::wire::ppp::Protocol;

/// Events kept at most before the oldest are discarded (a driver that
/// stops polling must not make the core grow without bound).
const MAX_QUEUED_EVENTS: usize = 64;
/// Packets kept at most in the transmit queue.
const MAX_QUEUED_PACKETS: usize = 16;

/// An authentication protocol these cores implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// PAP (RFC 1334 §2).
    Pap,
    /// CHAP with MD5 (RFC 1994, algorithm 5).
    ChapMd5,
    /// MS-CHAPv2 (RFC 2759, CHAP algorithm 0x81).
    MsChapV2,
}

impl AuthMethod {
    /// The PPP protocol that carries the method (PAP 0xc023, CHAP 0xc223).
    pub const fn protocol(self) -> Protocol {
        match self {
            Self::Pap => Protocol::Pap,
            Self::ChapMd5 | Self::MsChapV2 => Protocol::Chap,
        }
    }

    /// The LCP Authentication-Protocol option that asks for this method.
    pub fn to_lcp_option(self) -> wire::ppp::LcpOption {
        wire::ppp::LcpOption::auth(self.into())
    }

    /// The method an LCP Authentication-Protocol option asks for, if these
    /// cores implement it.
    pub fn from_lcp_option(option: &wire::ppp::LcpOption) -> Option<Self> {
        option.auth_method().and_then(|m| Self::try_from(m).ok())
    }
}

impl From<AuthMethod> for wire::ppp::AuthMethod {
    fn from(method: AuthMethod) -> Self {
        match method {
            AuthMethod::Pap => Self::Pap,
            AuthMethod::ChapMd5 => Self::ChapMd5,
            AuthMethod::MsChapV2 => Self::MsChapV2,
        }
    }
}

impl TryFrom<wire::ppp::AuthMethod> for AuthMethod {
    /// The method, which these cores do not implement (MS-CHAPv1, EAP).
    type Error = wire::ppp::AuthMethod;

    fn try_from(method: wire::ppp::AuthMethod) -> Result<Self, Self::Error> {
        match method {
            wire::ppp::AuthMethod::Pap => Ok(Self::Pap),
            wire::ppp::AuthMethod::ChapMd5 => Ok(Self::ChapMd5),
            wire::ppp::AuthMethod::MsChapV2 => Ok(Self::MsChapV2),
            other => Err(other),
        }
    }
}

/// Timers and counters of the authentication cores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Interval between retransmissions of a Challenge (authenticator) or
    /// an Authenticate-Request (PAP peer). Default 3 s (RFC 1661 §4.6
    /// Restart timer).
    pub retry_interval: Duration,
    /// Transmissions of one Challenge / Authenticate-Request before giving
    /// up. Default 10 (RFC 1661 §4.6 Max-Configure).
    pub max_retries: u8,
    /// Time the whole exchange may take, from `start` to success, including
    /// the AAA decision. Default 30 s.
    pub timeout: Duration,
    /// CHAP (RFC 1994 §4): interval between re-challenges while the link is
    /// up; `None` (the default) disables them.
    pub rechallenge_interval: Option<Duration>,
    /// MS-CHAPv2 (RFC 2759 §6): authentication attempts allowed, the first
    /// included; a Failure carries `R=1` while attempts remain. Default 3.
    pub max_attempts: u8,
    /// Our name, sent in the CHAP Challenge's Name field. Default
    /// `"tunnelnas"`.
    pub name: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            retry_interval: Duration::from_secs(3),
            max_retries: 10,
            timeout: Duration::from_secs(30),
            rechallenge_interval: None,
            max_attempts: 3,
            name: "tunnelnas".to_owned(),
        }
    }
}

/// A secret (password) whose `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret, {} bytes>", self.0.len())
    }
}

/// What the authenticator asks AAA to decide. `Debug` shows the user
/// name as text and never the PAP password.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthRequest {
    /// PAP (RFC 1334 §2.2.1): the Peer-ID and Password in clear.
    Pap {
        /// Peer-ID.
        user: Vec<u8>,
        /// Password (redacted in `Debug`).
        password: Secret,
    },
    /// CHAP-MD5 (RFC 1994 §4.1): the peer must have answered
    /// MD5(id ‖ secret ‖ challenge).
    Chap {
        /// The Response's Name.
        user: Vec<u8>,
        /// The Identifier of the Challenge / Response.
        id: u8,
        /// The challenge value we sent.
        challenge: Vec<u8>,
        /// The Response's value (16 octets).
        response: Vec<u8>,
    },
    /// MS-CHAPv2 (RFC 2759 §4): the fields RADIUS carries in
    /// MS-CHAP-Challenge and MS-CHAP2-Response (RFC 2548 §2.3.2).
    MsChapV2 {
        /// The Response's Name (the user name, possibly `DOMAIN\user`).
        user: Vec<u8>,
        /// The Identifier of the Response.
        id: u8,
        /// Our 16-octet challenge.
        authenticator_challenge: [u8; 16],
        /// The peer's 16-octet challenge.
        peer_challenge: [u8; 16],
        /// The 24-octet NT-Response.
        nt_response: [u8; 24],
        /// The Flags octet (RFC 2759 §4: zero).
        flags: u8,
    },
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match self {
            Self::Pap { user, password } => f
                .debug_struct("Pap")
                .field("user", &text(user))
                .field("password", password)
                .finish(),
            Self::Chap {
                user,
                id,
                challenge,
                response,
            } => f
                .debug_struct("Chap")
                .field("user", &text(user))
                .field("id", id)
                .field("challenge", &HexBytes(challenge))
                .field("response", &HexBytes(response))
                .finish(),
            Self::MsChapV2 {
                user,
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                flags,
            } => f
                .debug_struct("MsChapV2")
                .field("user", &text(user))
                .field("id", id)
                .field(
                    "authenticator_challenge",
                    &HexBytes(authenticator_challenge),
                )
                .field("peer_challenge", &HexBytes(peer_challenge))
                .field("nt_response", &HexBytes(nt_response))
                .field("flags", flags)
                .finish(),
        }
    }
}

/// Bytes shown as hex in `Debug`.
struct HexBytes<'a>(&'a [u8]);

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl AuthRequest {
    /// The user name the peer presented.
    pub fn user(&self) -> &[u8] {
        match self {
            Self::Pap { user, .. } | Self::Chap { user, .. } | Self::MsChapV2 { user, .. } => user,
        }
    }
}

/// AAA's answer to an [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Let the peer in.
    Accept {
        /// Text for the Ack / Success message (`M=` for MS-CHAPv2).
        message: Option<String>,
        /// MS-CHAPv2: the authenticator response (RFC 2759 §8.7) that AAA
        /// returned (RADIUS MS-CHAP2-Success). Required for MS-CHAPv2: an
        /// Accept without it is turned into a Failure, since the peer would
        /// reject the Success anyway.
        mschapv2_authenticator_response: Option<[u8; 20]>,
    },
    /// Keep the peer out.
    Reject {
        /// Text for the Nak / Failure message (`M=` for MS-CHAPv2).
        message: Option<String>,
    },
}

/// Why an authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// AAA rejected the credentials (authenticator), or the authenticator
    /// sent a Nak / Failure (peer). Carries the message, if any.
    Rejected {
        /// The Nak / Failure text.
        message: Option<String>,
    },
    /// The exchange did not finish within [`AuthConfig::timeout`].
    Timeout,
    /// A Challenge or Authenticate-Request went unanswered
    /// [`AuthConfig::max_retries`] times.
    NoResponse,
    /// MS-CHAPv2: the authenticator response in the Success packet does not
    /// prove knowledge of the password (RFC 2759 §8.8); the peer hangs up.
    AuthenticatorMismatch,
    /// MS-CHAPv2: AAA accepted without an authenticator response.
    MissingAuthenticatorResponse,
    /// A re-challenge (RFC 1994 §4) failed while the link was up.
    RechallengeFailed,
}

/// Why a received packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The packet does not parse.
    Malformed(wire::Error),
    /// The Code is unknown, or not one this side receives.
    UnexpectedCode(u8),
    /// The Code is valid but not in the current state.
    UnexpectedInState(u8),
    /// The Identifier matches no outstanding packet.
    WrongIdentifier {
        /// The Identifier received.
        received: u8,
        /// The Identifier expected.
        expected: u8,
    },
    /// A CHAP value of the wrong size for the method.
    BadValueSize(usize),
    /// An MS-CHAPv2 Success or Failure message that does not parse.
    BadMessage,
    /// A retransmission of a request already being decided (absorbed).
    Duplicate,
}

/// What the authenticator tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthServerEvent {
    /// The peer presented credentials: call [`AuthServer::auth_complete`].
    Requested(AuthRequest),
    /// The peer is authenticated (first time).
    Succeeded,
    /// A re-challenge succeeded; the link stays up.
    Reauthenticated,
    /// Authentication failed; the link must be terminated (RFC 1994 §4.1:
    /// "the authenticator SHOULD take action to terminate the link").
    Failed(AuthFailure),
    /// A packet was dropped.
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

/// What the peer side tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthClientEvent {
    /// The authenticator accepted us (the Ack / Success message text).
    Succeeded {
        /// The message.
        message: Option<String>,
    },
    /// We answered a re-challenge and got Success again.
    Reauthenticated,
    /// Authentication failed; the link must be terminated.
    Failed(AuthFailure),
    /// A packet was dropped.
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

/// Counters for observability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Packets sent, retransmissions included.
    pub sent: u64,
    /// Retransmissions on timeout.
    pub retransmits: u64,
    /// Replays of an earlier answer to a retransmitted request.
    pub replays: u64,
    /// Received packets dropped.
    pub dropped: u64,
    /// Events discarded because the driver did not poll them.
    pub events_lost: u64,
    /// Packets discarded because the transmit queue or buffer was too small.
    pub transmit_lost: u64,
    /// Decisions given when none was pending (authenticator only).
    pub ignored_decisions: u64,
}

/// Outgoing packets and events, bounded, shared by both cores.
#[derive(Debug)]
struct Outbox<E> {
    packets: VecDeque<Vec<u8>>,
    events: VecDeque<E>,
    stats: AuthStats,
}

impl<E> Outbox<E> {
    fn new() -> Self {
        Self {
            packets: VecDeque::new(),
            events: VecDeque::new(),
            stats: AuthStats::default(),
        }
    }

    fn send(&mut self, packet: Vec<u8>) {
        if self.packets.len() >= MAX_QUEUED_PACKETS {
            self.packets.pop_front();
            self.stats.transmit_lost += 1;
        }
        self.stats.sent += 1;
        self.packets.push_back(packet);
    }

    fn event(&mut self, event: E) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.stats.events_lost += 1;
        }
        self.events.push_back(event);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let packet = self.packets.pop_front()?;
            if let Some(out) = buf.get_mut(..packet.len()) {
                out.copy_from_slice(&packet);
                return Some(packet.len());
            }
            self.stats.transmit_lost += 1;
        }
    }
}

/// Emits a representation into a fresh vector. Our own packets always fit
/// (names and messages are truncated to 255 octets before this), so an
/// error here is a bug; it is reported as `None` rather than a panic.
fn emit_pap(repr: &wire::ppp::PapRepr) -> Option<Vec<u8>> {
    repr.to_vec().ok()
}

fn emit_chap(repr: &wire::ppp::ChapRepr) -> Option<Vec<u8>> {
    repr.to_vec().ok()
}

/// Truncates a field to the 255 octets a one-octet length can describe.
fn clamp_255(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(255)].to_vec()
}

/// A message for the wire from optional text.
fn message_bytes(message: Option<&str>) -> Vec<u8> {
    message.map(|m| clamp_255(m.as_bytes())).unwrap_or_default()
}

/// Text from a message on the wire; `None` when empty.
fn message_text(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
}
