//! Free ports for servers the tests start on loopback.
//!
//! Ports come from below the kernel's ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`), so a client socket that some
//! parallel test binds to port 0 (radclient, our own RADIUS client) can never
//! take a port between the moment we probe it and the moment the server
//! binds it. Within a process, a port is handed out at most once; across
//! processes (other test binaries running at the same time) each candidate
//! is probed by binding UDP and TCP on the requested address, and callers
//! that start servers retry on "Address already in use".

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Mutex;

use super::{Result, bail};

/// Lowest port handed out.
const FIRST_PORT: u16 = 10_000;

/// Next candidate port of this process (starts at a pid-dependent offset so
/// two test processes rarely probe the same ports).
static NEXT_PORT: Mutex<Option<u16>> = Mutex::new(None);

/// A port on 127.0.0.1 that is free for UDP and TCP right now and was never
/// handed out before in this process.
pub fn free_port() -> Result<u16> {
    free_port_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// [`free_port`] for `addr` (must be an address of the current namespace;
/// inside a fresh namespace every port is free and any will do).
pub fn free_port_on(addr: IpAddr) -> Result<u16> {
    let limit = ephemeral_start().saturating_sub(1).max(FIRST_PORT + 1000);
    let span = limit - FIRST_PORT;
    let mut next = NEXT_PORT
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let mut candidate =
        next.unwrap_or_else(|| FIRST_PORT + (std::process::id() % u32::from(span)) as u16);
    for _ in 0..span {
        let port = candidate;
        candidate = if candidate + 1 >= limit {
            FIRST_PORT
        } else {
            candidate + 1
        };
        if is_free(SocketAddr::new(addr, port)) {
            *next = Some(candidate);
            return Ok(port);
        }
    }
    bail!("no free port on {addr} in {FIRST_PORT}..{limit}")
}

/// `count` distinct free ports (see [`free_port_on`]).
pub fn free_ports_on(addr: IpAddr, count: usize) -> Result<Vec<u16>> {
    (0..count).map(|_| free_port_on(addr)).collect()
}

fn is_free(addr: SocketAddr) -> bool {
    UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok()
}

/// First port of the ephemeral range (32768 when unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}
