//! L2TPv2 control plane (RFC 2661): the reliable control channel of §5.8,
//! tunnel and session state machines for the LAC and LNS roles, and the
//! endpoint that demultiplexes by Tunnel ID.
//!
//! Sans-IO: the wire format lives in [`crate::wire::l2tp`].

pub mod channel;
