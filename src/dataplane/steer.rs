//! Kernel steering of packets to worker shards ([`crate::shard`]), so that
//! each worker reads only its own subscribers' frames and its own tunnels'
//! datagrams, with no hand-off between workers on the per-packet path.
//!
//! * **Access side** — one AF_PACKET socket per worker and interface, joined
//!   in a `PACKET_FANOUT` group (packet(7)) whose classic-BPF program
//!   (`PACKET_FANOUT_CBPF`) picks the worker from a hash of the frame's
//!   source MAC address. Discovery, PPP negotiation and data of one
//!   subscriber therefore always reach the same worker, and the frame a
//!   subscriber sends for a session it no longer has reaches the worker that
//!   knows it does not.
//! * **L2TP side** — one UDP socket per worker, all bound to the same
//!   address with `SO_REUSEPORT` (socket(7)), and a classic-BPF program
//!   (`SO_ATTACH_REUSEPORT_CBPF`) that returns the worker owning the Tunnel
//!   ID of the L2TP header (RFC 2661 §3.1: after the flags word, the
//!   optional Length, then the Tunnel ID). Every message an LNS sends
//!   (control, ZLB, data) carries our Tunnel ID, and worker `i` of `n` only
//!   allocates ids with `id % n == i`, so the id alone names the worker.
//!
//! With a single worker neither is used: one plain socket each.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use super::packet::{PacketSocket, check, setsockopt};

/// `<linux/if_packet.h>`; the libc crate does not define these for Linux.
const PACKET_FANOUT: libc::c_int = 18;
/// `<linux/if_packet.h>`: attaches the fanout group's BPF program.
const PACKET_FANOUT_DATA: libc::c_int = 22;
/// `<linux/if_packet.h>`: the fanout group's classic-BPF demultiplexer.
const PACKET_FANOUT_CBPF: u32 = 6;
/// `<linux/if_packet.h>`: let the kernel pick an unused group id.
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
/// `<linux/if_packet.h>` (Linux 6.x): the group does not see frames sent
/// on the interface. The group's own transmissions are never looped back to
/// it anyway (the kernel matches the sender against the group); this keeps
/// other senders' outgoing frames away too, which a socket's own
/// `PACKET_IGNORE_OUTGOING` no longer does once it is in a group.
const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;
/// `<asm-generic/socket.h>`.
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
const ALU_MUL_K: u16 = 0x24; // BPF_ALU | BPF_MUL | BPF_K
const ALU_RSH_K: u16 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU_MOD_K: u16 = 0x94; // BPF_ALU | BPF_MOD | BPF_K
const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JMP_JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_A: u16 = 0x16; // BPF_RET | BPF_A

const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The fanout program: worker = hash(source MAC bytes 2..6) mod `workers`.
///
/// At fanout time the frame's data starts after the Ethernet header, so
/// the MAC is read relative to the link-layer header (`SKF_LL_OFF`). The
/// hash is a multiplicative (Fibonacci) one so that MACs differing only in
/// their upper bits spread too. A frame too short to read makes the program
/// return 0 (worker 0), which is as good as any.
fn mac_hash_program(workers: u16) -> [libc::sock_filter; 5] {
    // Bytes 8..12 of the Ethernet header: the last four of the source MAC.
    let source_mac_low = (libc::SKF_LL_OFF + 8) as u32;
    [
        op(LD_W_ABS, 0, 0, source_mac_low),
        op(ALU_MUL_K, 0, 0, 0x9E37_79B1),
        op(ALU_RSH_K, 0, 0, 16),
        op(ALU_MOD_K, 0, 0, u32::from(workers)),
        op(RET_A, 0, 0, 0),
    ]
}

/// The reuseport program: worker = our Tunnel ID mod `workers`.
///
/// The kernel runs it with the data starting at the UDP payload, i.e. the
/// L2TP header: flags and version (2 octets), Length when the L bit
/// (0x4000) is set (2 octets), then the Tunnel ID (RFC 2661 §3.1).
fn tunnel_id_program(workers: u16) -> [libc::sock_filter; 7] {
    [
        op(LD_H_ABS, 0, 0, 0),                   // 0: flags and version
        op(JMP_JSET_K, 0, 2, 0x4000),            // 1: L bit → 2, else → 4
        op(LD_H_ABS, 0, 0, 4),                   // 2: Tunnel ID after Length
        op(JMP_JA, 0, 0, 1),                     // 3: → 5
        op(LD_H_ABS, 0, 0, 2),                   // 4: Tunnel ID
        op(ALU_MOD_K, 0, 0, u32::from(workers)), // 5
        op(RET_A, 0, 0, 0),                      // 6: the socket index
    ]
}

fn attach_program(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    program: &[libc::sock_filter],
) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?,
        filter: program.as_ptr().cast_mut(),
    };
    setsockopt(fd, level, name, &fprog)
}

/// Joins one AF_PACKET socket per worker (all bound to the same interface,
/// in worker order) into a fanout group that steers each frame to the
/// worker of its source MAC. Nothing to do for fewer than two sockets.
///
/// # Errors
/// The kernel refuses the group or the program (named in the error).
pub fn fan_out_by_mac(sockets: &[PacketSocket]) -> io::Result<()> {
    let Some((first, rest)) = sockets.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        return Ok(());
    }
    let workers = u16::try_from(sockets.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many workers"))?;
    let interface = first.name().to_owned();
    let context = |what: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("interface {interface}: {what}: {e}"))
    };
    // The first socket creates the group with an id the kernel picks (no
    // clash with another process's group on this interface); the others
    // join it by that id.
    // Where the kernel knows IGNORE_OUTGOING, frames other programs send
    // on the interface are not copied to a worker (which would drop them
    // by packet type, at the cost of a receive each).
    let create = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
    let ignoring = create | PACKET_FANOUT_FLAG_IGNORE_OUTGOING << 16;
    if let Err(error) = setsockopt(
        first.as_raw_fd(),
        libc::SOL_PACKET,
        PACKET_FANOUT,
        &ignoring,
    ) {
        tracing::debug!(%error, interface, "PACKET_FANOUT_FLAG_IGNORE_OUTGOING refused; sent frames are filtered by packet type");
        setsockopt(first.as_raw_fd(), libc::SOL_PACKET, PACKET_FANOUT, &create)
            .map_err(|e| context("cannot create the PACKET_FANOUT group", e))?;
    }
    let mut value: u32 = 0;
    let mut len = size_of::<u32>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live and describe a u32.
    check(unsafe {
        libc::getsockopt(
            first.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_FANOUT,
            std::ptr::from_mut(&mut value).cast(),
            &raw mut len,
        )
    })
    .map_err(|e| context("cannot read the PACKET_FANOUT group id", e))?;
    // The group's id, type and flags as the kernel keeps them (the
    // UNIQUEID flag is gone): what every other member must ask for.
    let join = value;
    attach_program(
        first.as_raw_fd(),
        libc::SOL_PACKET,
        PACKET_FANOUT_DATA,
        &mac_hash_program(workers),
    )
    .map_err(|e| context("cannot attach the fanout program", e))?;
    for socket in rest {
        setsockopt(socket.as_raw_fd(), libc::SOL_PACKET, PACKET_FANOUT, &join)
            .map_err(|e| context("cannot join the PACKET_FANOUT group", e))?;
    }
    Ok(())
}

/// Binds one non-blocking UDP socket per worker to `address` (the first
/// one picks the port when it is 0), steering each datagram to the worker
/// that owns its Tunnel ID. One worker: one plain socket.
///
/// # Errors
/// The address cannot be bound, or the kernel refuses the program.
pub fn bind_l2tp_workers(
    address: SocketAddr,
    workers: u16,
) -> io::Result<Vec<std::net::UdpSocket>> {
    let workers = workers.max(1);
    let mut sockets = Vec::with_capacity(usize::from(workers));
    let mut address = address;
    for _ in 0..workers {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(address),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if workers > 1 {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        super::packet::grow_receive_buffer(socket.as_raw_fd(), super::packet::RECEIVE_BUFFER);
        socket.bind(&address.into())?;
        if let Some(bound) = socket.local_addr()?.as_socket() {
            address = bound;
        }
        sockets.push(std::net::UdpSocket::from(socket));
    }
    if let Some(first) = sockets.first().filter(|_| workers > 1) {
        attach_program(
            first.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            &tunnel_id_program(workers),
        )
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot attach the SO_REUSEPORT program to {address}: {e}"),
            )
        })?;
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shard;
    use std::time::Duration;

    /// Each datagram lands on the socket of the worker owning its Tunnel
    /// ID, with and without the Length field.
    #[test]
    fn datagrams_reach_the_worker_owning_the_tunnel_id() {
        const WORKERS: u16 = 3;
        let sockets =
            bind_l2tp_workers("127.0.0.1:0".parse().expect("address"), WORKERS).expect("bind");
        let to = sockets[0].local_addr().expect("addr");
        assert!(sockets.iter().all(|s| s.local_addr().ok() == Some(to)));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("sender");
        let mut sent = Vec::new();
        for tunnel_id in [1u16, 2, 3, 4, 5, 6, 0x1234, 0xfffe] {
            for with_length in [false, true] {
                let id = tunnel_id.to_be_bytes();
                let datagram: Vec<u8> = if with_length {
                    vec![0xc8, 0x02, 0, 12, id[0], id[1], 0, 0, 0, 0, 0, 0]
                } else {
                    vec![0x00, 0x02, id[0], id[1], 0, 7, 0xff, 0x03]
                };
                sender.send_to(&datagram, to).expect("send");
                sent.push((tunnel_id, datagram));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut received = 0;
        for (index, socket) in sockets.iter().enumerate() {
            let shard = Shard::new(index as u16, WORKERS).expect("shard");
            let mut buf = [0u8; 64];
            while let Ok(len) = socket.recv(&mut buf) {
                let datagram = &buf[..len];
                let (tunnel_id, _) = sent
                    .iter()
                    .find(|(_, d)| d.as_slice() == datagram)
                    .expect("a datagram we sent");
                assert!(
                    shard.owns(*tunnel_id),
                    "tunnel {tunnel_id} reached worker {index}"
                );
                received += 1;
            }
        }
        assert_eq!(received, sent.len());
    }

    #[test]
    fn one_worker_is_one_plain_socket() {
        let sockets = bind_l2tp_workers("127.0.0.1:0".parse().expect("address"), 1).expect("bind");
        assert_eq!(sockets.len(), 1);
        let port = sockets[0].local_addr().expect("addr");
        // A burst waits in a large receive buffer (we run as root here:
        // SO_RCVBUFFORCE; the kernel reports twice what was set).
        let buffer = socket2::SockRef::from(&sockets[0])
            .recv_buffer_size()
            .expect("SO_RCVBUF");
        assert!(buffer >= super::super::packet::RECEIVE_BUFFER, "{buffer}");
        // Not SO_REUSEPORT: a second bind to the same port fails.
        assert!(std::net::UdpSocket::bind(port).is_err());
    }
}
