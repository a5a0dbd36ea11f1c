//! PPP engine: the RFC 1661 option-negotiation automaton shared by LCP,
//! IPCP (RFC 1332, RFC 1877) and IPv6CP (RFC 5072), and authentication
//! (PAP and CHAP per RFC 1334 / RFC 1994, MS-CHAPv2 per RFC 2759).
//!
//! Sans-IO: the wire format lives in [`crate::wire::ppp`].
//!
//! - [`fsm`]: the RFC 1661 §4 automaton, declared as a transition table
//!   ([`fsm::TRANSITIONS`], rendered by [`fsm::render_dot`] and kept under
//!   test in `tests/snapshots/ppp-fsm.dot`), generic over a
//!   [`fsm::Negotiator`] that judges options;
//! - [`lcp`]: LCP options (RFC 1661 §6, RFC 2516 §7 restrictions);
//! - [`ncp`]: IPCP (RFC 1332, RFC 1877) and IPv6CP (RFC 5072);
//! - [`auth`]: PAP, CHAP-MD5 and MS-CHAPv2 cores;
//! - [`link`]: one [`Link`] per session, server or client, tying the
//!   phases of RFC 1661 §3 together and reporting [`LinkEvent`]s;
//! - `queue`: the bounded packet queue behind the automatons' and the
//!   link's `poll_transmit` (one reused buffer, no allocation per packet).

pub mod auth;
pub mod fsm;
pub mod lcp;
pub mod link;
pub mod ncp;
mod queue;

pub use link::{
    AuthRecord, Credentials, DownReason, Link, LinkConfig, LinkDropReason, LinkEvent, LinkStats,
    NegotiationRecord, Phase, Role, SetupStep,
};
