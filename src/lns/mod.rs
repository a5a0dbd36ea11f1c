//! LNS role (RFC 2661 §1.1; NAS-initiated and client-initiated calls): it
//! accepts tunnels from LACs and LAC clients, terminates PPP, assigns
//! addresses and routes subscriber IP through TUN. Built as a role policy
//! on the node core ([`crate::session`]).
//!
//! * [`pool`]: the IPv4 address pools (`[[lns.pool]]`).

pub mod pool;
