//! LNS role (RFC 2661 §1.1; NAS-initiated and client-initiated calls): it
//! accepts tunnels from LACs and LAC clients, terminates PPP, assigns
//! addresses and routes subscriber IP through TUN. Built as a role policy
//! on the node core ([`crate::session`]).
//!
//! * [`policy`]: the role's policy — call admission, proxy LCP and
//!   authentication, addresses and DNS.
//! * [`pool`]: the IPv4 address pools (`[[lns.pool]]`).
//! * [`ipv6`]: a subscriber's IPv6 services once IPv6CP is up: Router
//!   Advertisements (RFC 4861) and DHCPv6 prefix delegation (RFC 8415), sans-IO.
//! * [`echo`]: ICMPv6 Echo Replies for our link-local address on each
//!   PPP link (RFC 4443 §4.2).
//! * [`pool6`]: the IPv6 prefix pools (`[[lns.ipv6_pool]]`).

pub mod echo;
pub mod ipv6;
pub mod policy;
pub mod pool;
pub mod pool6;
