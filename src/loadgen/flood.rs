//! Traffic for the forwarding benchmark: IPv4/UDP packets written once and
//! sent as fast as a socket takes them, and batched UDP reception.
//!
//! * [`write_ipv4_udp`] builds an IPv4 datagram (RFC 791 §3.1, no options)
//!   carrying UDP (RFC 768) to the discard port, of an exact total length,
//!   with both checksums (RFC 1071).
//! * [`session_frame`] wraps one in PPP (Protocol 0x0021, RFC 1332 §2) and
//!   a PPPoE session header (RFC 2516 §4, CODE 0x00, the session's
//!   SESSION_ID) on an untagged Ethernet frame from a subscriber to its
//!   access concentrator — the frame a CPE sends upstream — for a session
//!   the farm reports up ([`super::subscribers::UpSession`]).
//! * [`flood_frames`] (AF_PACKET) and [`flood_udp`] (a connected UDP
//!   socket) send prebuilt packets in batches of 64 with one `sendmmsg(2)`
//!   each, round robin over the sessions, until told to stop: the
//!   generator's cost per packet is one slot of a system call, so that the
//!   device under test, not the generator, sets the rate.
//! * [`UdpBatch`] receives up to its capacity of datagrams with one
//!   `recvmmsg(2)` (the test LNS's receive path), and [`count_udp`]
//!   counts what a socket receives (the kernel-forwarding baseline's sink).
//!
//! Counters are [`TrafficCounter`]s (atomics), so another thread reads
//! them at the edges of its measurement window while traffic flows.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::icmp;
use super::subscribers::{HEADROOM, UpSession, encapsulate};
use crate::dataplane::packet::{PacketSocket, RecvBatch};
use crate::wire::ethernet::{self, EtherType, EthernetRepr, MacAddress};
use crate::wire::ppp::Protocol;

/// The UDP discard port (RFC 863): where flood packets go.
pub const DISCARD_PORT: u16 = 9;

/// The smallest datagram [`write_ipv4_udp`] writes: IPv4 and UDP headers.
pub const MIN_IP_LEN: usize = icmp::IPV4_HEADER_LEN + UDP_HEADER_LEN;

/// UDP header: source port, destination port, length, checksum.
const UDP_HEADER_LEN: usize = 8;
const PROTOCOL_UDP: u8 = 17;
const TTL: u8 = 64;

/// Packets per `sendmmsg(2)` / `recvmmsg(2)`.
pub const BATCH: usize = 64;

/// Writes an IPv4 datagram of exactly `total_len` octets carrying UDP from
/// `src:sport` to `dst:dport` into the start of `buf`; the UDP data is a
/// counting pattern. Returns `total_len`, or `None` when `total_len` is
/// below [`MIN_IP_LEN`], above 65535, or larger than `buf`.
pub fn write_ipv4_udp(
    buf: &mut [u8],
    (src, dst): (Ipv4Addr, Ipv4Addr),
    (sport, dport): (u16, u16),
    total_len: usize,
) -> Option<usize> {
    if total_len < MIN_IP_LEN {
        return None;
    }
    let total_u16 = u16::try_from(total_len).ok()?;
    let udp_len = total_u16.checked_sub(icmp::IPV4_HEADER_LEN as u16)?;
    let packet = buf.get_mut(..total_len)?;
    let (ip, udp) = packet.split_at_mut(icmp::IPV4_HEADER_LEN);
    // RFC 791 §3.1: version 4, IHL 5, no options, DF clear, not a fragment.
    ip.fill(0);
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total_u16.to_be_bytes());
    ip[8] = TTL;
    ip[9] = PROTOCOL_UDP;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let sum = icmp::checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    // RFC 768: source port, destination port, length (header and data),
    // checksum over the pseudo header, the header and the data.
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&dport.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    udp[6..8].fill(0);
    for (i, b) in udp[UDP_HEADER_LEN..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut pseudo = Vec::with_capacity(12 + udp.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, PROTOCOL_UDP]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(udp);
    // "If the computed checksum is zero, it is transmitted as all ones."
    let sum = match icmp::checksum(&pseudo) {
        0 => 0xffff,
        sum => sum,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    Some(total_len)
}

/// The Ethernet frame a subscriber of `session` sends upstream carrying an
/// IPv4/UDP datagram of `ip_len` octets from its address to the far end's
/// discard port (source port from the subscriber's index, so flows differ).
/// `None` when `ip_len` is below [`MIN_IP_LEN`] or above the far end's MRU.
pub fn session_frame(session: &UpSession, ip_len: usize) -> Option<Vec<u8>> {
    if ip_len > usize::from(session.peer_mru) {
        return None;
    }
    let mut buf = vec![0u8; HEADROOM.checked_add(ip_len)?];
    let sport = 1024 + (session.index % 60_000) as u16;
    let len = write_ipv4_udp(
        buf.get_mut(HEADROOM..)?,
        (session.address, session.peer_address),
        (sport, DISCARD_PORT),
        ip_len,
    )?;
    let frame_len = encapsulate(
        &mut buf,
        (session.mac, session.ac_mac),
        session.session_id,
        Protocol::Ipv4,
        len,
    )?;
    buf.truncate(frame_len);
    Some(buf)
}

/// An untagged Ethernet frame (EtherType IPv4) from `src_mac` to
/// `dst_mac` carrying an IPv4/UDP datagram of `ip_len` octets from
/// `src:sport` to `dst`'s discard port: the same packet as
/// [`session_frame`] without PPPoE and PPP, for a routed path (the kernel
/// forwarding baseline). `None` for a length [`write_ipv4_udp`] refuses.
pub fn ipv4_frame(
    (src_mac, dst_mac): (MacAddress, MacAddress),
    (src, dst): (Ipv4Addr, Ipv4Addr),
    sport: u16,
    ip_len: usize,
) -> Option<Vec<u8>> {
    let mut frame = vec![0u8; ethernet::HEADER_LEN.checked_add(ip_len)?];
    EthernetRepr::new(dst_mac, src_mac, EtherType::Ipv4)
        .emit(&mut frame)
        .ok()?;
    write_ipv4_udp(
        frame.get_mut(ethernet::HEADER_LEN..)?,
        (src, dst),
        (sport, DISCARD_PORT),
        ip_len,
    )?;
    Some(frame)
}

/// Packets, octets and send or receive errors, counted by one thread and
/// read by others.
#[derive(Debug, Default)]
pub struct TrafficCounter {
    packets: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

/// A reading of a [`TrafficCounter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrafficCount {
    /// Packets.
    pub packets: u64,
    /// Octets (what each user counts: IP octets for the flood helpers).
    pub bytes: u64,
    /// Calls that failed (buffer full, no buffer space).
    pub errors: u64,
}

impl TrafficCount {
    /// What was counted between `earlier` and this reading.
    #[must_use]
    pub const fn since(self, earlier: Self) -> Self {
        Self {
            packets: self.packets.saturating_sub(earlier.packets),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }
}

impl TrafficCounter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Counts `packets` packets of `bytes` octets in all.
    pub fn add(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts a failed call.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn read(&self) -> TrafficCount {
        TrafficCount {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// Whether a send or receive error only means "not now".
fn transient(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
        || error.kind() == io::ErrorKind::Interrupted
        || error.raw_os_error() == Some(libc::ENOBUFS)
}

/// Sends `frames` round robin over `socket`, [`BATCH`] per `sendmmsg(2)`,
/// until `stop` is set; counts every frame the socket took as one packet
/// of `counted_len` octets (a full socket buffer is counted as an error
/// and retried after yielding the CPU).
///
/// # Errors
/// A socket error other than a full buffer; nothing to send (`frames`
/// empty) is `InvalidInput`.
pub fn flood_frames(
    socket: &PacketSocket,
    frames: &[Vec<u8>],
    counted_len: usize,
    stop: &AtomicBool,
    counter: &TrafficCounter,
) -> io::Result<()> {
    if frames.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no frames to send",
        ));
    }
    let mut batch: [&[u8]; BATCH] = [&[]; BATCH];
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for slot in &mut batch {
            *slot = frames.get(next).map_or(&[], Vec::as_slice);
            next = (next + 1) % frames.len();
        }
        match socket.send_batch(&batch) {
            Ok(sent) => counter.add(sent as u64, (sent * counted_len) as u64),
            Err(error) if transient(&error) => {
                counter.error();
                std::thread::yield_now();
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Sends `payload` as UDP datagrams on the connected `socket`, [`BATCH`]
/// per `sendmmsg(2)`, until `stop` is set; counts each datagram sent with
/// its IP length (`payload` + 28 octets of IPv4 and UDP headers).
///
/// # Errors
/// A socket error other than a full buffer.
pub fn flood_udp(
    socket: &UdpSocket,
    payload: &[u8],
    stop: &AtomicBool,
    counter: &TrafficCounter,
) -> io::Result<()> {
    flood_datagrams(
        socket,
        &[payload.to_vec()],
        payload.len() + MIN_IP_LEN,
        stop,
        counter,
    )
}

/// Sends `datagrams` round robin on the connected UDP `socket`, [`BATCH`]
/// per `sendmmsg(2)`, until `stop` is set; counts each with `counted_len`
/// octets (what the caller measures, e.g. the IP packet inside).
///
/// # Errors
/// A socket error other than a full buffer; nothing to send is
/// `InvalidInput`.
pub fn flood_datagrams(
    socket: &UdpSocket,
    datagrams: &[Vec<u8>],
    counted_len: usize,
    stop: &AtomicBool,
    counter: &TrafficCounter,
) -> io::Result<()> {
    if datagrams.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no datagrams to send",
        ));
    }
    // SAFETY: all-zero iovec and mmsghdr values are valid "empty" values.
    let mut iov: [libc::iovec; BATCH] = unsafe { zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for (msg, io) in msgs.iter_mut().zip(iov.iter_mut()) {
            let datagram = datagrams.get(next).map_or(&[][..], Vec::as_slice);
            next = (next + 1) % datagrams.len();
            *io = libc::iovec {
                iov_base: datagram.as_ptr().cast_mut().cast(),
                iov_len: datagram.len(),
            };
            msg.msg_hdr.msg_iov = io;
            msg.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a datagram of `datagrams`, alive
        // for the call; vlen is the array length.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                0,
            )
        };
        match u64::try_from(sent) {
            Ok(sent) => counter.add(sent, sent * counted_len as u64),
            Err(_) => {
                let error = io::Error::last_os_error();
                if !transient(&error) {
                    return Err(error);
                }
                counter.error();
                std::thread::yield_now();
            }
        }
    }
    Ok(())
}

/// Counts the PPPoE session frames arriving on `socket` until `stop` is
/// set (waiting at most 100 ms at a time, so `stop` is seen).
///
/// # Errors
/// A socket error.
pub fn count_session_frames(
    socket: &PacketSocket,
    stop: &AtomicBool,
    counter: &TrafficCounter,
) -> io::Result<()> {
    let mut batch = RecvBatch::new(BATCH);
    while !stop.load(Ordering::Relaxed) {
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        if unsafe { libc::poll(&raw mut poll, 1, 100) } <= 0 {
            continue;
        }
        loop {
            match socket.recv_batch(&mut batch) {
                Ok(0) => break,
                Ok(_) => {
                    let (mut packets, mut bytes) = (0u64, 0u64);
                    for frame in batch.iter() {
                        // EtherType at 12 (untagged: the farm's frames).
                        if frame.data.get(12..14) == Some(&[0x88, 0x64][..]) {
                            packets += 1;
                            bytes += frame.data.len() as u64;
                        }
                    }
                    counter.add(packets, bytes);
                }
                Err(error) if transient(&error) => break,
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

/// Receives datagrams on `socket` until `stop` is set, counting each with
/// its IP length (UDP data + 28 octets). The socket should have a read
/// timeout, so that `stop` is seen while nothing arrives.
///
/// # Errors
/// A socket error other than a timeout.
pub fn count_udp(
    socket: &UdpSocket,
    stop: &AtomicBool,
    counter: &TrafficCounter,
) -> io::Result<()> {
    let mut batch = UdpBatch::new(BATCH, 2048);
    while !stop.load(Ordering::Relaxed) {
        match batch.recv(socket, true) {
            Ok(_) => {
                let bytes: usize = batch.iter().map(|(_, data)| data.len() + MIN_IP_LEN).sum();
                counter.add(batch.len() as u64, bytes as u64);
            }
            Err(error) if transient(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Buffers for receiving up to `capacity` UDP datagrams and their sources
/// with one `recvmmsg(2)`.
pub struct UdpBatch {
    buffers: Vec<u8>,
    slot_len: usize,
    sources: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    truncated: Vec<bool>,
    len: usize,
}

impl std::fmt::Debug for UdpBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpBatch")
            .field("capacity", &self.lens.len())
            .field("slot_len", &self.slot_len)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl UdpBatch {
    /// Room for `capacity` datagrams (1 to [`BATCH`]) of up to `slot_len`
    /// octets (longer ones are received truncated and skipped).
    pub fn new(capacity: usize, slot_len: usize) -> Self {
        let capacity = capacity.clamp(1, BATCH);
        let slot_len = slot_len.max(1);
        Self {
            buffers: vec![0; capacity * slot_len],
            slot_len,
            // SAFETY: an all-zero sockaddr_storage is a valid value.
            sources: vec![unsafe { zeroed() }; capacity],
            lens: vec![0; capacity],
            truncated: vec![false; capacity],
            len: 0,
        }
    }

    /// Datagrams received by the last [`Self::recv`] (truncated ones
    /// included).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the last [`Self::recv`] received nothing.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Receives what is waiting, up to the capacity. Without `wait` it
    /// never blocks (`WouldBlock` when nothing is there); with `wait` it
    /// blocks for the first datagram (up to the socket's read timeout)
    /// and takes whatever else is already queued.
    ///
    /// # Errors
    /// Socket errors; `WouldBlock` when nothing arrived.
    pub fn recv(&mut self, socket: &impl AsRawFd, wait: bool) -> io::Result<usize> {
        self.len = 0;
        let count = self.lens.len();
        let fd: RawFd = socket.as_raw_fd();
        // SAFETY: all-zero iovec and mmsghdr values are valid to fill in.
        let mut iov: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (((slot, io), msg), source) in self
            .buffers
            .chunks_exact_mut(self.slot_len)
            .zip(iov.iter_mut())
            .zip(msgs.iter_mut())
            .zip(self.sources.iter_mut())
        {
            *io = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            msg.msg_hdr.msg_name = std::ptr::from_mut(source).cast();
            msg.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_hdr.msg_iov = io;
            msg.msg_hdr.msg_iovlen = 1;
        }
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        // SAFETY: the first `count` headers point into buffers and
        // addresses owned by `self` (and into `iov`), alive and unaliased
        // for the call; `count` is at most the arrays' length.
        let received = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                count as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        let received = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
        let received = received.min(count);
        for ((msg, len), truncated) in msgs
            .iter()
            .zip(self.lens.iter_mut())
            .zip(self.truncated.iter_mut())
            .take(received)
        {
            *len = (msg.msg_len as usize).min(self.slot_len);
            *truncated = msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        }
        self.len = received;
        Ok(received)
    }

    /// The datagrams of the last [`Self::recv`] that fitted their slot,
    /// with their sources (`None` for an address family other than IP).
    pub fn iter(&self) -> impl Iterator<Item = (Option<SocketAddr>, &[u8])> {
        self.buffers
            .chunks_exact(self.slot_len)
            .zip(&self.lens)
            .zip(&self.sources)
            .zip(&self.truncated)
            .take(self.len)
            .filter(|(_, truncated)| !**truncated)
            .map(|(((slot, len), source), _)| {
                (socket_addr(source), slot.get(..*len).unwrap_or_default())
            })
    }
}

/// The IP address and port in a `sockaddr_storage` the kernel filled.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // and sockaddr_storage is large and aligned enough for it.
            let v4: &libc::sockaddr_in = unsafe { &*std::ptr::from_ref(storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*std::ptr::from_ref(storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                v6.sin6_addr.s6_addr.into(),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Sets a socket's receive buffer to `bytes`, beyond `net.core.rmem_max`
/// when the process may (`SO_RCVBUFFORCE`, CAP_NET_ADMIN), else as far as
/// the limit allows.
///
/// # Errors
/// Neither option could be set.
pub fn set_receive_buffer(socket: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let set = |option: libc::c_int| {
        // SAFETY: `value` is a live c_int of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(&value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    set(libc::SO_RCVBUFFORCE).or_else(|_| set(libc::SO_RCVBUF))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::wire::ethernet::Frame as EthernetFrame;
    use crate::wire::ppp::Frame as PppFrame;
    use crate::wire::pppoe::SessionPacket;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn session() -> UpSession {
        UpSession {
            index: 7,
            mac: MacAddress::new([0x02, 0x1f, 0, 0, 0, 7]),
            ac_mac: MacAddress::new([0x02, 0, 0, 0, 0, 0xac]),
            session_id: 0x1234,
            address: A,
            peer_address: B,
            peer_mru: 1492,
        }
    }

    /// The UDP checksum over the pseudo header verifies to zero.
    fn udp_checksum_ok(packet: &[u8]) -> bool {
        let udp = &packet[20..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&packet[12..20]);
        pseudo.extend_from_slice(&[0, PROTOCOL_UDP]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(udp);
        icmp::checksum(&pseudo) == 0
    }

    #[test]
    fn a_datagram_has_the_length_and_checksums_asked_for() {
        for len in [MIN_IP_LEN, 29, 64, 1400, 1492] {
            let mut buf = vec![0xee; 1600];
            assert_eq!(
                write_ipv4_udp(&mut buf, (A, B), (1000, DISCARD_PORT), len),
                Some(len)
            );
            let packet = &buf[..len];
            assert_eq!(packet[0], 0x45);
            assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), len);
            assert_eq!(packet[9], PROTOCOL_UDP);
            assert_eq!(icmp::checksum(&packet[..20]), 0, "IPv4 header checksum");
            assert_eq!(&packet[12..16], &A.octets());
            assert_eq!(&packet[16..20], &B.octets());
            assert_eq!(u16::from_be_bytes([packet[22], packet[23]]), DISCARD_PORT);
            assert_eq!(
                usize::from(u16::from_be_bytes([packet[24], packet[25]])),
                len - 20
            );
            assert!(udp_checksum_ok(packet), "UDP checksum at {len}");
            // Nothing written past the datagram.
            assert!(buf[len..].iter().all(|&b| b == 0xee));
        }
    }

    #[test]
    fn impossible_lengths_are_refused() {
        let mut buf = vec![0; 70_000];
        assert_eq!(
            write_ipv4_udp(&mut buf, (A, B), (1, 2), MIN_IP_LEN - 1),
            None
        );
        assert_eq!(write_ipv4_udp(&mut buf, (A, B), (1, 2), 65_536), None);
        assert_eq!(write_ipv4_udp(&mut buf[..100], (A, B), (1, 2), 101), None);
        assert_eq!(session_frame(&session(), 1493), None);
        assert_eq!(session_frame(&session(), 27), None);
    }

    #[test]
    fn a_session_frame_is_what_a_cpe_sends_upstream() {
        let s = session();
        let frame = session_frame(&s, 64).expect("frame");
        assert_eq!(frame.len(), 14 + 6 + 2 + 64);
        let eth = EthernetFrame::new_checked(&frame[..]).expect("ethernet");
        assert_eq!(eth.dst(), s.ac_mac);
        assert_eq!(eth.src(), s.mac);
        assert_eq!(eth.ethertype(), EtherType::PppoeSession);
        let pppoe = SessionPacket::new_checked(eth.payload()).expect("pppoe");
        assert_eq!(pppoe.session_id(), 0x1234);
        let ppp = PppFrame::new_checked(pppoe.payload()).expect("ppp");
        assert!(
            !ppp.has_address_control(),
            "RFC 2516 §7: no ACFC over PPPoE"
        );
        assert_eq!(ppp.protocol(), Protocol::Ipv4);
        let ip = ppp.payload();
        assert_eq!(ip.len(), 64);
        assert_eq!(&ip[12..16], &A.octets());
        assert_eq!(&ip[16..20], &B.octets());
        assert_eq!(u16::from_be_bytes([ip[20], ip[21]]), 1024 + 7);
        assert!(udp_checksum_ok(ip));
    }

    #[test]
    fn an_ipv4_frame_is_the_session_frame_without_pppoe() {
        let s = session();
        let frame = ipv4_frame((s.mac, s.ac_mac), (A, B), 1024 + 7, 64).expect("frame");
        assert_eq!(frame.len(), 14 + 64);
        let eth = EthernetFrame::new_checked(&frame[..]).expect("ethernet");
        assert_eq!((eth.src(), eth.dst()), (s.mac, s.ac_mac));
        assert_eq!(eth.ethertype(), EtherType::Ipv4);
        let pppoe = session_frame(&s, 64).expect("session frame");
        assert_eq!(eth.payload(), &pppoe[22..], "the same IPv4 datagram");
        assert_eq!(ipv4_frame((s.mac, s.ac_mac), (A, B), 1, 27), None);
    }

    #[test]
    fn counts_subtract_without_underflow() {
        let counter = TrafficCounter::new();
        counter.add(3, 300);
        let first = counter.read();
        counter.add(2, 200);
        counter.error();
        let second = counter.read();
        assert_eq!(
            second.since(first),
            TrafficCount {
                packets: 2,
                bytes: 200,
                errors: 1
            }
        );
        assert_eq!(first.since(second), TrafficCount::default());
    }

    /// The UDP helpers over loopback: a flood from one socket is counted
    /// by another, in batches, with sources.
    #[test]
    fn udp_flood_is_received_and_counted_over_loopback() {
        let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sink.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        set_receive_buffer(&sink, 1 << 20).expect("rcvbuf");
        let source = UdpSocket::bind("127.0.0.1:0").expect("bind");
        source
            .connect(sink.local_addr().expect("addr"))
            .expect("connect");
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, received) = (
            Arc::new(TrafficCounter::new()),
            Arc::new(TrafficCounter::new()),
        );
        let receiver = {
            let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
            std::thread::spawn(move || count_udp(&sink, &stop, &received))
        };
        let sender = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || flood_udp(&source, &[7u8; 36], &stop, &sent))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while received.read().packets < 1000 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("sender").expect("flood");
        receiver.join().expect("receiver").expect("count");
        let (sent, received) = (sent.read(), received.read());
        assert!(received.packets >= 1000, "{received:?}");
        assert!(received.packets <= sent.packets);
        assert_eq!(received.bytes, received.packets * 64, "IP length 36 + 28");
        assert_eq!(sent.bytes, sent.packets * 64);
    }

    #[test]
    fn datagrams_go_round_robin_and_are_counted_with_the_length_asked_for() {
        let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sink.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        set_receive_buffer(&sink, 1 << 20).expect("rcvbuf");
        let source = UdpSocket::bind("127.0.0.1:0").expect("bind");
        source
            .connect(sink.local_addr().expect("addr"))
            .expect("connect");
        let datagrams: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; usize::from(i) * 10]).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(TrafficCounter::new());
        let sender = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || flood_datagrams(&source, &datagrams, 100, &stop, &sent))
        };
        let mut batch = UdpBatch::new(BATCH, 2048);
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.len() < 6 && std::time::Instant::now() < deadline {
            if batch.recv(&sink, true).is_ok() {
                seen.extend(batch.iter().map(|(_, data)| data.to_vec()));
            }
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("sender").expect("flood");
        assert!(seen.len() >= 6, "{} datagrams received", seen.len());
        // Round robin from the first datagram.
        assert_eq!(seen[0], vec![1u8; 10]);
        assert_eq!(seen[1], vec![2u8; 20]);
        assert_eq!(seen[2], vec![3u8; 30]);
        assert_eq!(seen[3], vec![1u8; 10]);
        let sent = sent.read();
        assert_eq!(sent.bytes, sent.packets * 100);
        let empty = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let error = flood_datagrams(
            &empty,
            &[],
            1,
            &AtomicBool::new(false),
            &TrafficCounter::new(),
        )
        .expect_err("nothing to send");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_batch_reports_sources_and_skips_truncated_datagrams() {
        let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let source = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = sink.local_addr().expect("addr");
        let mut batch = UdpBatch::new(4, 16);
        assert_eq!(
            batch.recv(&sink, false).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        source.send_to(b"short", to).expect("send");
        source.send_to(&[1u8; 40], to).expect("send");
        source.send_to(b"last", to).expect("send");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(batch.recv(&sink, false).expect("recv"), 3);
        let got: Vec<_> = batch.iter().collect();
        let from = Some(source.local_addr().expect("addr"));
        assert_eq!(got, vec![(from, &b"short"[..]), (from, &b"last"[..])]);
    }

    proptest! {
        #[test]
        fn every_length_in_range_verifies(len in MIN_IP_LEN..2000usize, sport: u16, dport: u16) {
            let mut buf = vec![0; 2000];
            prop_assert_eq!(write_ipv4_udp(&mut buf, (A, B), (sport, dport), len), Some(len));
            prop_assert_eq!(icmp::checksum(&buf[..20]), 0);
            prop_assert!(udp_checksum_ok(&buf[..len]));
        }
    }
}
