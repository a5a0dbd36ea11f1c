//! Batched UDP I/O for L2TP (RFC 2661 §8.1: L2TP over UDP/IP): one
//! `recvmmsg(2)` fills up to a batch of datagrams, each received behind
//! headroom so that the fast path can rewrite an L2TP data message into a
//! PPPoE frame in place (the Ethernet and PPPoE headers are longer than the
//! IP/UDP/L2TP ones the kernel already stripped); one `sendmmsg(2)` sends
//! the datagrams the fast path made out of a batch of subscriber frames.
//! Buffers and message headers are allocated once: nothing per packet.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use socket2::{SockAddr, SockAddrStorage};

fn check(ret: libc::c_int) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// Datagrams received with one `recvmmsg(2)`, each at a fixed headroom in
/// its own buffer.
pub struct DatagramBatch {
    /// `capacity` buffers of `stride` octets, back to back.
    storage: Box<[u8]>,
    stride: usize,
    headroom: usize,
    addresses: Box<[libc::sockaddr_storage]>,
    iov: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    len: usize,
}

// SAFETY: the raw pointers in `iov` and `headers` point only into `storage`
// and `addresses`, which the batch owns and never reallocates; they are
// rewritten before every receive.
unsafe impl Send for DatagramBatch {}

impl std::fmt::Debug for DatagramBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramBatch")
            .field("capacity", &self.headers.len())
            .field("headroom", &self.headroom)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl DatagramBatch {
    /// Room for `capacity` datagrams of up to `max_datagram` octets, each
    /// received `headroom` octets into its buffer.
    pub fn new(capacity: usize, headroom: usize, max_datagram: usize) -> Self {
        let capacity = capacity.max(1);
        let stride = headroom + max_datagram;
        // SAFETY: all-zero is a valid value of these plain C structs.
        let zero_address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_header: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            storage: vec![0u8; stride * capacity].into_boxed_slice(),
            stride,
            headroom,
            addresses: vec![zero_address; capacity].into_boxed_slice(),
            iov: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                capacity
            ]
            .into_boxed_slice(),
            headers: vec![zero_header; capacity].into_boxed_slice(),
            len: 0,
        }
    }

    /// Datagrams held since the last [`Self::recv`].
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the last receive got nothing.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The headroom every datagram starts at.
    pub const fn headroom(&self) -> usize {
        self.headroom
    }

    /// Receives up to the batch's capacity without blocking.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is waiting; other socket errors (ICMP
    /// errors of earlier sends surface here as `ECONNREFUSED`).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.len = 0;
        let base = self.storage.as_mut_ptr();
        for (i, ((iov, header), address)) in self
            .iov
            .iter_mut()
            .zip(self.headers.iter_mut())
            .zip(self.addresses.iter_mut())
            .enumerate()
        {
            // SAFETY: `i * stride + headroom` is inside `storage`, which
            // holds `capacity * stride` octets.
            iov.iov_base = unsafe { base.add(i * self.stride + self.headroom) }.cast();
            iov.iov_len = self.stride - self.headroom;
            header.msg_hdr.msg_name = std::ptr::from_mut(address).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = std::ptr::from_mut(iov);
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_control = std::ptr::null_mut();
            header.msg_hdr.msg_controllen = 0;
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        // SAFETY: every header points at a live iovec and address owned by
        // `self`; vlen is the headers' length.
        let received = check(unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                self.headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        })?;
        self.len = received.min(self.headers.len());
        Ok(self.len)
    }

    /// Datagram `index`: its sender, its whole buffer (headroom first) and
    /// the datagram's length at [`Self::headroom`]. `None` past
    /// [`Self::len`], for a truncated datagram (`MSG_TRUNC`) and for a
    /// sender that is not an IP address.
    pub fn get_mut(&mut self, index: usize) -> Option<(SocketAddr, &mut [u8], usize)> {
        if index >= self.len {
            return None;
        }
        let header = self.headers.get(index)?;
        if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = usize::try_from(header.msg_len).ok()?;
        let from = socket_address(self.addresses.get(index)?, header.msg_hdr.msg_namelen)?;
        let start = index * self.stride;
        let buffer = self.storage.get_mut(start..start + self.stride)?;
        (self.headroom + len <= buffer.len()).then_some((from, buffer, len))
    }

    /// The buffer of datagram `index` (headroom first), as the fast path
    /// left it.
    pub fn buffer(&self, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(self.stride)?;
        self.storage.get(start..start + self.stride)
    }
}

/// The socket address in a `sockaddr_storage` the kernel filled.
fn socket_address(raw: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: SockAddrStorage wraps a sockaddr_storage of the same layout.
    unsafe {
        *storage.view_as::<libc::sockaddr_storage>() = *raw;
    }
    // SAFETY: the kernel initialised `len` octets of the storage.
    unsafe { SockAddr::new(storage, len) }.as_socket()
}

/// Reusable message headers for [`DatagramSender::send`]: allocated once,
/// filled per batch.
#[derive(Default)]
pub struct DatagramSender {
    addresses: Vec<SockAddr>,
    iov: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers are only valid during `send`, which rewrites
// them from its arguments before use.
unsafe impl Send for DatagramSender {}

impl std::fmt::Debug for DatagramSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramSender")
            .field("capacity", &self.headers.capacity())
            .finish()
    }
}

impl DatagramSender {
    /// Headers for batches of up to `capacity` datagrams (larger batches
    /// grow them once).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            addresses: Vec::with_capacity(capacity),
            iov: Vec::with_capacity(capacity),
            headers: Vec::with_capacity(capacity),
        }
    }

    /// Sends every datagram with as few `sendmmsg(2)` calls as the kernel
    /// allows, without blocking; returns how many were sent. What the
    /// socket buffer cannot take is dropped (UDP: the peers' protocols
    /// recover), and counted by the caller from the return value.
    ///
    /// # Errors
    /// A socket error other than `WouldBlock` before anything was sent.
    pub fn send<'a>(
        &mut self,
        fd: RawFd,
        datagrams: impl IntoIterator<Item = (SocketAddr, &'a [u8])>,
    ) -> io::Result<usize> {
        self.addresses.clear();
        self.iov.clear();
        self.headers.clear();
        for (to, datagram) in datagrams {
            self.addresses.push(SockAddr::from(to));
            self.iov.push(libc::iovec {
                iov_base: datagram.as_ptr().cast_mut().cast(),
                iov_len: datagram.len(),
            });
        }
        for (address, iov) in self.addresses.iter().zip(self.iov.iter_mut()) {
            // SAFETY: all-zero is a valid mmsghdr.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_name = address.as_ptr().cast_mut().cast();
            header.msg_hdr.msg_namelen = address.len();
            header.msg_hdr.msg_iov = std::ptr::from_mut(iov);
            header.msg_hdr.msg_iovlen = 1;
            self.headers.push(header);
        }
        let mut sent = 0;
        while sent < self.headers.len() {
            let rest = self.headers.get_mut(sent..).unwrap_or_default();
            // SAFETY: each header points at an address and an iovec held
            // above, and each iovec at a datagram borrowed for this call.
            let result = check(unsafe {
                libc::sendmmsg(
                    fd,
                    rest.as_mut_ptr(),
                    rest.len().min(1024) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            });
            match result {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if sent == 0 => {
                    self.iov.clear();
                    self.headers.clear();
                    return Err(e);
                }
                // An error after some were sent (e.g. an ICMP error queued
                // for one destination): skip that datagram, go on.
                Err(_) => sent += 1,
            }
        }
        // Drop the borrowed pointers.
        self.iov.clear();
        self.headers.clear();
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn a_batch_goes_out_with_sendmmsg_and_comes_back_with_recvmmsg_behind_headroom() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let other = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = receiver.local_addr().expect("addr");
        let to_other = other.local_addr().expect("addr");
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) + 1]).collect();
        let mut out = DatagramSender::with_capacity(8);
        let sent = out
            .send(
                sender.as_raw_fd(),
                payloads
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (if i == 3 { to_other } else { to }, p.as_slice())),
            )
            .expect("send");
        assert_eq!(sent, 40);
        std::thread::sleep(Duration::from_millis(50));
        let mut batch = DatagramBatch::new(16, 64, 2048);
        let mut got = Vec::new();
        loop {
            match batch.recv(receiver.as_raw_fd()) {
                Ok(n) => {
                    for i in 0..n {
                        let (from, buffer, len) = batch.get_mut(i).expect("datagram");
                        assert_eq!(from, sender.local_addr().expect("addr"));
                        got.push(buffer[64..64 + len].to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let expected: Vec<Vec<u8>> = payloads
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, p)| p.clone())
            .collect();
        assert_eq!(got, expected);
        assert!(batch.get_mut(16).is_none());
        let mut one = [0u8; 8];
        assert_eq!(other.recv(&mut one).expect("recv"), 4);
    }

    #[test]
    fn a_datagram_larger_than_the_buffer_is_not_handed_out() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        sender
            .send_to(&[7u8; 300], receiver.local_addr().expect("addr"))
            .expect("send");
        sender
            .send_to(&[8u8; 10], receiver.local_addr().expect("addr"))
            .expect("send");
        std::thread::sleep(Duration::from_millis(50));
        let mut batch = DatagramBatch::new(4, 16, 100);
        assert_eq!(batch.recv(receiver.as_raw_fd()).expect("recv"), 2);
        assert!(batch.get_mut(0).is_none(), "truncated");
        let (_, buffer, len) = batch.get_mut(1).expect("second");
        assert_eq!(&buffer[16..16 + len], &[8u8; 10]);
    }
}
