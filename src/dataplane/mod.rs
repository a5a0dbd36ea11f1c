//! Data plane I/O: AF_PACKET for PPPoE, UDP for L2TP, TUN for IP, and the
//! forwarding fast path (one table lookup and an in-place header rewrite),
//! and the kernel steering of packets to worker shards.

pub mod fastpath;
pub mod mss;
pub mod packet;
pub mod police;
pub mod steer;
pub mod tun;
pub mod udp;
