//! PPP engine: the RFC 1661 option-negotiation automaton shared by LCP,
//! IPCP (RFC 1332, RFC 1877) and IPv6CP (RFC 5072), and authentication
//! (PAP and CHAP per RFC 1334 / RFC 1994, MS-CHAPv2 per RFC 2759).
//!
//! Sans-IO: the wire format lives in [`crate::wire::ppp`].

pub mod auth;
pub mod fsm;
pub mod lcp;
pub mod link;
pub mod ncp;

pub use link::{
    AuthRecord, Credentials, DownReason, Link, LinkConfig, LinkDropReason, LinkEvent, LinkStats,
    NegotiationRecord, Phase, Role,
};
