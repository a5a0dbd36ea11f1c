//! LAC role (NAS-initiated mode, RFC 2661 §1.1): a subscriber's PPPoE
//! session is authenticated against RADIUS and handed over an L2TP tunnel
//! to the LNS that RADIUS (or a realm rule) names.
//!
//! * [`core`]: the sans-IO session core (discovery → LCP → authentication →
//!   RADIUS → LNS selection → L2TP call → forwarding → teardown, with
//!   accounting).
//! * [`select`]: LNS selection (RFC 2868 preferences, balancing, denylist).
//! * [`driver`]: the tokio driver that owns the sockets and the RADIUS
//!   handle.

pub mod core;
pub mod driver;
pub mod select;
