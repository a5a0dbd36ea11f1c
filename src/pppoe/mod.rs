//! PPPoE discovery server and client cores (RFC 2516 §5, RFC 4638, RFC 4679).
//!
//! Sans-IO: frames and time go in, frames and events come out. The wire
//! format lives in [`crate::wire::pppoe`].
