//! LAC role (NAS-initiated mode, RFC 2661 §1.1): a subscriber's PPPoE
//! session is authenticated against RADIUS and handed over an L2TP tunnel
//! to the LNS that RADIUS (or a realm rule) names.
//!
//! This module is the LAC's policy only (DESIGN.md, "Three roles, one
//! session model"): the node core ([`crate::session`]) owns the sockets'
//! state, the sessions and the fast path, and asks the policy what to do
//! with a PPPoE subscriber once it has authenticated.
//!
//! * [`policy`]: what RADIUS is asked (the subscriber, or its domain) and
//!   which second leg an accepted subscriber gets (an outgoing L2TP call
//!   to the LNSs of its plan), with what the call says about it.
//! * [`select`]: LNS selection (RFC 2868 preferences, balancing, denylist,
//!   the `[[lac.realm]]` rules).

pub mod policy;
pub mod select;
