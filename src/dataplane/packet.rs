//! AF_PACKET sockets for the PPPoE access side (RFC 2516 §4: Ethernet
//! frames of type 0x8863 discovery and 0x8864 session).
//!
//! * A classic-BPF filter attached before the socket is bound, so the kernel
//!   hands us PPPoE frames only — untagged, 802.1Q, 802.1ad or QinQ
//!   (`0x8100`, `0x88a8`, `0x9100` outer tags, up to two) — and nothing else
//!   ever reaches user space.
//! * VLAN tags are handled in user space (this kernel has no 802.1Q module).
//!   Where the driver strips the outer tag (VLAN offload, veth included),
//!   the kernel reports it in `PACKET_AUXDATA`; [`ReceivedFrame::stripped_vlan`]
//!   carries it so the caller can rebuild the full tag stack with
//!   [`crate::wire::ethernet::VlanStack::with_stripped_outer`].
//! * Batched I/O: `recvmmsg(2)` into buffers owned by a [`RecvBatch`] (no
//!   allocation per frame) and `sendmmsg(2)`.
//! * Our own transmissions are never read back (`PACKET_IGNORE_OUTGOING`,
//!   and `sll_pkttype` is checked as well for kernels that ignore it).
//!
//! The socket is non-blocking; [`AsyncPacketSocket`] integrates it with
//! tokio.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::wire::ethernet::{MacAddress, VlanTag};

/// `ETH_P_ALL` in network byte order, as `bind(2)` wants it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// Largest frame accepted: a 1500-byte payload with PPP-Max-Payload up to
/// 9000 (RFC 4638) plus Ethernet and two VLAN tags.
pub const MAX_FRAME: usize = 9_000 + 14 + 8 + 8;

/// The classic BPF program: accept Ethernet frames whose (inner) EtherType
/// is PPPoE discovery or session, behind at most two VLAN tags.
fn pppoe_filter() -> [libc::sock_filter; 16] {
    const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    // Jump offsets are relative to the next instruction; ACCEPT is index 15.
    [
        op(LDH_ABS, 0, 0, 12),        // 0: outer EtherType
        op(JEQ_K, 13, 0, 0x8863),     // 1: discovery → accept
        op(JEQ_K, 12, 0, 0x8864),     // 2: session → accept
        op(JEQ_K, 3, 0, 0x8100),      // 3: 802.1Q → look inside
        op(JEQ_K, 2, 0, 0x88a8),      // 4: 802.1ad → look inside
        op(JEQ_K, 1, 0, 0x9100),      // 5: legacy QinQ → look inside
        op(RET_K, 0, 0, 0),           // 6: drop
        op(LDH_ABS, 0, 0, 16),        // 7: EtherType after one tag
        op(JEQ_K, 6, 0, 0x8863),      // 8
        op(JEQ_K, 5, 0, 0x8864),      // 9
        op(JEQ_K, 0, 3, 0x8100),      // 10: a second (inner) tag, else drop
        op(LDH_ABS, 0, 0, 20),        // 11: EtherType after two tags
        op(JEQ_K, 2, 0, 0x8863),      // 12
        op(JEQ_K, 1, 0, 0x8864),      // 13
        op(RET_K, 0, 0, 0),           // 14: drop
        op(RET_K, 0, 0, 0x0004_0000), // 15: accept (whole frame)
    ]
}

/// One AF_PACKET socket bound to one interface, seeing PPPoE frames only.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
    mac: MacAddress,
    name: String,
}

/// A libc return value: negative is `errno`.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `setsockopt(2)` with a value of type `T`.
pub(crate) fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size passed.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::from_ref(value).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    check(ret).map(drop)
}

/// Receive buffer asked for on the data-plane sockets: a burst (thousands
/// of subscribers redialling after an outage, a line-rate burst of data)
/// waits here while the worker is busy instead of being dropped at the
/// 212 KiB default.
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// Sets the socket's receive buffer to `bytes`: `SO_RCVBUFFORCE` (above
/// `net.core.rmem_max`, needs `CAP_NET_ADMIN`), else `SO_RCVBUF` (capped at
/// `rmem_max`). A refusal is logged, not fatal: the default still works.
pub(crate) fn grow_receive_buffer(fd: RawFd, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &value).is_err() {
        if let Err(error) = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &value) {
            tracing::debug!(%error, bytes, "receive buffer left at its default");
        }
    }
}

impl PacketSocket {
    /// Opens a PPPoE socket on interface `name`.
    ///
    /// # Errors
    /// The interface does not exist, or the process lacks `CAP_NET_RAW`.
    pub fn open(name: &str) -> io::Result<Self> {
        let cname = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("interface {name}: {}", io::Error::last_os_error()),
            ));
        }
        let ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "ifindex out of range"))?;
        // Protocol 0: the socket receives nothing until bound below, so no
        // frame slips in before the filter is attached.
        // SAFETY: plain syscall; the returned fd is owned below.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let program = pppoe_filter();
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr().cast_mut(),
        };
        setsockopt(raw, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)?;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, &1_i32)?;
        grow_receive_buffer(raw, RECEIVE_BUFFER);
        // Linux ≥ 4.20; older kernels are covered by the pkttype check.
        let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1_i32);

        // SAFETY: an all-zero sockaddr_ll is a valid value to fill in.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL_BE;
        addr.sll_ifindex = ifindex;
        // SAFETY: `addr` is a valid sockaddr_ll of the length passed.
        check(unsafe {
            libc::bind(
                raw,
                std::ptr::from_ref(&addr).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        let mac = interface_mac(raw, name)?;
        Ok(Self {
            fd,
            ifindex,
            mac,
            name: name.to_owned(),
        })
    }

    /// The interface's hardware address: the source of everything we send.
    pub const fn mac(&self) -> MacAddress {
        self.mac
    }

    /// The interface index.
    pub const fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the interface is up with carrier (`IFF_UP` and
    /// `IFF_RUNNING`, from `SIOCGIFFLAGS` in the socket's own network
    /// namespace). An access port losing carrier (the cable, the DSLAM, a
    /// VM's tap whose other end went away) shows up here, not as a socket
    /// error.
    ///
    /// # Errors
    /// The interface is gone.
    pub fn is_running(&self) -> io::Result<bool> {
        // SAFETY: an all-zero ifreq is a valid value of this plain C struct.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in request.ifr_name.iter_mut().zip(self.name.bytes()) {
            *dst = src as libc::c_char;
        }
        // Keep the terminating NUL: names are at most IFNAMSIZ - 1 bytes.
        if let Some(last) = request.ifr_name.last_mut() {
            *last = 0;
        }
        // SAFETY: `request` is a valid ifreq for SIOCGIFFLAGS, which only
        // writes `ifr_flags` inside it.
        check(unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut request) })?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
        let flags = i32::from(unsafe { request.ifr_ifru.ifru_flags });
        Ok(flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0)
    }

    /// Receives up to `batch.capacity()` frames without blocking.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is waiting; other socket errors.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.prepare();
        // SAFETY: every msghdr points into buffers owned by `batch`, which
        // outlive the call; vlen matches the array length.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                batch.headers.as_mut_ptr(),
                batch.headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(check(n)?).unwrap_or(0);
        batch.finish(n);
        Ok(batch.len())
    }

    /// Sends one complete Ethernet frame.
    ///
    /// # Errors
    /// `WouldBlock` when the socket buffer is full; other socket errors.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid slice for the length passed.
        let sent = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        };
        let sent = usize::try_from(sent).map_err(|_| io::Error::last_os_error())?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short AF_PACKET send",
            ))
        }
    }

    /// Sends several frames with one `sendmmsg(2)`; returns how many left.
    ///
    /// # Errors
    /// When not even the first frame could be sent.
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        const MAX: usize = 64;
        let count = frames.len().min(MAX);
        // SAFETY: zeroed iovec/mmsghdr are valid "empty" values.
        let mut iov: [libc::iovec; MAX] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX] = unsafe { zeroed() };
        for (i, frame) in frames.iter().take(count).enumerate() {
            iov[i] = libc::iovec {
                iov_base: frame.as_ptr().cast_mut().cast(),
                iov_len: frame.len(),
            };
            msgs[i].msg_hdr.msg_iov = &raw mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `count` headers point at live frames.
        let sent = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        usize::try_from(check(sent)?).map_err(|_| io::Error::other("negative sendmmsg result"))
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn interface_mac(fd: RawFd, name: &str) -> io::Result<MacAddress> {
    // SAFETY: an all-zero ifreq is valid; the name fits (checked below).
    let mut req: libc::ifreq = unsafe { zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR fills `req.ifr_ifru.ifru_hwaddr`.
    check(unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &raw mut req) })?;
    // SAFETY: after SIOCGIFHWADDR the union holds a sockaddr.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(data.iter()) {
        *dst = *src as u8;
    }
    Ok(MacAddress::new(mac))
}

/// A frame [`PacketSocket::recv_batch`] delivered.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedFrame<'a> {
    /// The frame as the kernel delivered it (outer tag possibly stripped).
    pub data: &'a [u8],
    /// The outer VLAN tag the kernel stripped, from `PACKET_AUXDATA`.
    pub stripped_vlan: Option<VlanTag>,
}

/// Per-batch receive buffers, reused for every call: no allocation per frame.
#[derive(Debug)]
pub struct RecvBatch {
    frames: Vec<u8>,
    frame_size: usize,
    control: Vec<u8>,
    control_size: usize,
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_ll>,
    headers: Vec<libc::mmsghdr>,
    received: Vec<(usize, Option<VlanTag>)>,
    /// Frames dropped because they were larger than the buffer.
    pub truncated: u64,
    /// Frames dropped because the kernel reported an invalid VLAN tag.
    pub bad_vlan: u64,
}

// The raw pointers inside point only into the struct's own heap buffers.
// SAFETY: nothing is shared; moving the batch between threads is sound.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// Buffers for `capacity` frames of up to [`MAX_FRAME`] bytes.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // SAFETY: CMSG_SPACE is a pure size computation.
        let control_size =
            unsafe { libc::CMSG_SPACE(size_of::<libc::tpacket_auxdata>() as u32) } as usize;
        Self {
            frames: vec![0; capacity * MAX_FRAME],
            frame_size: MAX_FRAME,
            control: vec![0; capacity * control_size],
            control_size,
            // SAFETY: zeroed iovec, sockaddr_ll and mmsghdr are valid values.
            iovecs: vec![unsafe { zeroed() }; capacity],
            // SAFETY: as above.
            addrs: vec![unsafe { zeroed() }; capacity],
            // SAFETY: as above.
            headers: vec![unsafe { zeroed() }; capacity],
            received: Vec::with_capacity(capacity),
            truncated: 0,
            bad_vlan: 0,
        }
    }

    /// How many frames one call can take.
    pub fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Frames delivered by the last call.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    /// Whether the last call delivered nothing.
    pub fn is_empty(&self) -> bool {
        self.received.is_empty()
    }

    /// The frames of the last call.
    pub fn iter(&self) -> impl Iterator<Item = ReceivedFrame<'_>> {
        self.received
            .iter()
            .enumerate()
            .filter_map(|(i, &(len, stripped_vlan))| {
                let start = i * self.frame_size;
                self.frames
                    .get(start..start + len)
                    .map(|data| ReceivedFrame {
                        data,
                        stripped_vlan,
                    })
            })
    }

    /// The `index`-th frame of the last call.
    pub fn frame(&self, index: usize) -> Option<&[u8]> {
        let &(len, _) = self.received.get(index)?;
        let start = index.checked_mul(self.frame_size)?;
        self.frames.get(start..start.checked_add(len)?)
    }

    /// The `index`-th frame of the last call, writable, so the fast path
    /// can rewrite its headers in place (RFC 2661 §5.4 encapsulation needs
    /// fewer octets than Ethernet + PPPoE, so it fits where they were).
    pub fn frame_mut(&mut self, index: usize) -> Option<(&mut [u8], Option<VlanTag>)> {
        let &(len, stripped_vlan) = self.received.get(index)?;
        let start = index.checked_mul(self.frame_size)?;
        self.frames
            .get_mut(start..start.checked_add(len)?)
            .map(|data| (data, stripped_vlan))
    }

    fn prepare(&mut self) {
        self.received.clear();
        let frames = self.frames.as_mut_ptr();
        let control = self.control.as_mut_ptr();
        for i in 0..self.headers.len() {
            self.iovecs[i] = libc::iovec {
                // SAFETY: i * frame_size is within `frames` (capacity * size).
                iov_base: unsafe { frames.add(i * self.frame_size) }.cast(),
                iov_len: self.frame_size,
            };
            let header = &mut self.headers[i].msg_hdr;
            header.msg_name = (&raw mut self.addrs[i]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            header.msg_iov = &raw mut self.iovecs[i];
            header.msg_iovlen = 1;
            // SAFETY: i * control_size is within `control`.
            header.msg_control = unsafe { control.add(i * self.control_size) }.cast();
            header.msg_controllen = self.control_size;
            header.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
    }

    fn finish(&mut self, n: usize) {
        for i in 0..n.min(self.headers.len()) {
            let msg = &self.headers[i];
            if msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.truncated += 1;
                continue;
            }
            if self.addrs[i].sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let len = (msg.msg_len as usize).min(self.frame_size);
            match auxdata_vlan(&msg.msg_hdr) {
                Ok(vlan) => self.received.push((len, vlan)),
                Err(()) => self.bad_vlan += 1,
            }
        }
    }
}

/// The stripped VLAN tag from a received message's `PACKET_AUXDATA`.
fn auxdata_vlan(header: &libc::msghdr) -> Result<Option<VlanTag>, ()> {
    // SAFETY: the header's control buffer was filled by the kernel and its
    // length set accordingly; the CMSG macros stay within it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_PACKET && (*cmsg).cmsg_type == libc::PACKET_AUXDATA {
                let aux: libc::tpacket_auxdata =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return VlanTag::from_packet_auxdata(
                    aux.tp_status,
                    aux.tp_vlan_tci,
                    aux.tp_vlan_tpid,
                )
                .map_err(|_| ());
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    Ok(None)
}

/// [`PacketSocket`] registered with tokio.
#[derive(Debug)]
pub struct AsyncPacketSocket {
    inner: tokio::io::unix::AsyncFd<PacketSocket>,
}

impl AsyncPacketSocket {
    /// Registers `socket` with the current tokio runtime.
    ///
    /// # Errors
    /// Outside a runtime, or if registration fails.
    pub fn new(socket: PacketSocket) -> io::Result<Self> {
        // SAFETY: `PacketSocket` owns its descriptor (`OwnedFd`), which stays
        // open and unchanged until the socket, and so the AsyncFd, is dropped.
        let inner =
            unsafe { tokio::io::unix::AsyncFd::register(socket) }.map_err(io::Error::from)?;
        Ok(Self { inner })
    }

    /// The socket.
    pub fn get_ref(&self) -> &PacketSocket {
        self.inner.get_ref()
    }

    /// Waits for frames and receives a batch.
    ///
    /// # Errors
    /// Socket errors other than `WouldBlock`.
    pub async fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match guard.try_io(|inner| inner.get_ref().recv_batch(batch)) {
                Ok(result) => return result,
                Err(_would_block) => {}
            }
        }
    }

    /// Polls for a batch: `Ready` with the result of one `recvmmsg(2)` that
    /// delivered frames (or failed), `Pending` after registering `cx`.
    ///
    /// # Errors
    /// Socket errors other than `WouldBlock` (e.g. `ENETDOWN` when the
    /// interface went down).
    pub fn poll_recv_batch(
        &self,
        cx: &mut std::task::Context<'_>,
        batch: &mut RecvBatch,
    ) -> std::task::Poll<io::Result<usize>> {
        loop {
            let mut guard = match self.inner.poll_read_ready(cx) {
                std::task::Poll::Ready(Ok(guard)) => guard,
                std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            };
            match guard.try_io(|inner| inner.get_ref().recv_batch(batch)) {
                Ok(result) => return std::task::Poll::Ready(result),
                Err(_would_block) => {}
            }
        }
    }

    /// Sends one frame, waiting while the socket buffer is full.
    ///
    /// # Errors
    /// Socket errors other than `WouldBlock`.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.inner.writable().await?;
            match guard.try_io(|inner| inner.get_ref().send(frame)) {
                Ok(result) => return result,
                Err(_would_block) => {}
            }
        }
    }
}
