//! Data plane I/O: AF_PACKET for PPPoE, UDP for L2TP, TUN for IP, and the
//! forwarding fast path (one table lookup and an in-place header rewrite).

pub mod mss;
pub mod packet;
pub mod police;
