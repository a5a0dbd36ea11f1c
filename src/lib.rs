//! tunnelnas — a RADIUS-driven network access server for wholesale broadband.
//!
//! One library, three roles chosen by configuration:
//!
//! * **LAC** (NAS-initiated mode, RFC 2661 §1): terminates PPPoE (RFC 2516),
//!   negotiates LCP and authenticates the subscriber against RADIUS, then
//!   hands the PPP session to the LNS that RADIUS names (RFC 2868 tunnel
//!   attributes) over an L2TPv2 tunnel, with proxy LCP / authentication AVPs.
//! * **LNS**: terminates L2TP tunnels from LACs and LAC clients, terminates
//!   PPP, assigns addresses and routes subscriber IP through TUN.
//! * **LTS**: both at once, switching sessions between tunnels.
//!
//! The crate is organised around sans-IO protocol cores (see `DESIGN.md`):
//!
//! | module        | what it holds                                                     |
//! |---------------|-------------------------------------------------------------------|
//! | [`wire`]      | zero-copy packet views and owned representations, no state, no I/O |
//! | [`pppoe`]     | PPPoE discovery (RFC 2516 §5)                                      |
//! | [`ppp`]       | PPP option negotiation (RFC 1661) and authentication              |
//! | [`l2tp`]      | L2TPv2 control channel, tunnels and sessions (RFC 2661)           |
//! | [`aaa`]       | RADIUS dictionaries, client, accounting, dynamic authorization    |
//! | [`lac`], [`lns`] | role drivers                                                   |
//! | [`dataplane`] | AF_PACKET, UDP and TUN I/O and the forwarding fast path           |
//! | [`mgmt`]      | HTTP management: `/metrics` and the API                           |
//! | [`config`]    | configuration model and loading                                   |
//! | [`metrics`]   | Prometheus metric families and the mapping from core events       |
//! | [`shard`]     | how a role's state is split across worker cores                   |
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod aaa;
pub mod config;
pub mod dataplane;
pub mod demo;
pub mod dial;
pub mod l2tp;
pub mod lac;
pub mod lns;
pub mod loadgen;
pub mod metrics;
pub mod mgmt;
pub mod node;
pub mod observe;
pub mod ppp;
pub mod pppoe;
pub mod session;
pub mod shard;
pub mod wire;
