//! The LNS's IP data plane: one multi-queue TUN device and the routes that
//! send subscriber prefixes into it.
//!
//! * [`TunDevice::create`] makes a layer-3 TUN device (`IFF_TUN |
//!   IFF_NO_PI | IFF_MULTI_QUEUE`) with one [`TunQueue`] per worker, sets
//!   its MTU and brings it up. Multi-queue TUN (Linux
//!   `Documentation/networking/tuntap.rst`, "Multiqueue tuntap interface"):
//!   every `TUNSETIFF` of the same name with `IFF_MULTI_QUEUE` on a fresh
//!   open of `/dev/net/tun` attaches one more queue; the kernel spreads the
//!   packets it routes into the device over the queues by flow hash, and a
//!   packet written into any queue enters the stack as if received by the
//!   device. Without `IFF_NO_PI` each packet carries a 4-byte packet-info
//!   header; here one `read(2)` is one IP packet and one `write(2)` injects
//!   one. The device is not persistent: it goes away when the last queue
//!   is closed.
//! * Each queue is non-blocking and owns its descriptor ([`AsRawFd`],
//!   [`AsFd`]); [`AsyncTunQueue`] registers it with tokio, like
//!   [`super::packet::AsyncPacketSocket`] for AF_PACKET.
//! * [`Rtnetlink`] installs and removes routes (`RTM_NEWROUTE` /
//!   `RTM_DELROUTE`, rtnetlink(7)) of IPv4 and IPv6 prefixes — the address
//!   pools, RADIUS Framed-Route and delegated prefixes — through the device
//!   (by ifindex, no gateway), and sets the device's MTU (`RTM_SETLINK`,
//!   `IFLA_MTU`). Every request asks for an acknowledgement and waits for
//!   it, so a refused change is an error naming the prefix and the errno.
//!   No `ip` subprocess is run.
//!
//! Crates: `tun-rs` (maintained, supports Linux multi-queue: the first
//! queue comes from its builder, the others from `SyncDevice::try_clone`,
//! which repeats `TUNSETIFF` on a new descriptor) for the device, with its
//! default features off (address management is ours, through netlink);
//! `netlink-packet-route` + `netlink-sys` for a small synchronous
//! request/ack, which suits route changes made a few at a time by the
//! control plane (`rtnetlink` would add a connection task for nothing).
//!
//! Everything here acts in the network namespace of the thread that
//! creates the device or the [`Rtnetlink`] socket.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use ipnet::IpNet;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// What a [`TunDevice`] is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name (at most 15 bytes), e.g. `tnlns0`.
    pub name: String,
    /// Interface MTU.
    pub mtu: u16,
    /// Number of queues, one per worker (at least 1).
    pub queues: usize,
}

/// A multi-queue TUN device: its name, its ifindex and its queues.
///
/// The device lives as long as one of its queues is open, so hand the
/// queues to the workers with [`Self::take_queues`] and keep this value
/// for the name and ifindex.
#[derive(Debug)]
pub struct TunDevice {
    name: String,
    ifindex: u32,
    queues: Vec<TunQueue>,
}

impl TunDevice {
    /// Creates the device with `config.queues` queues (each non-blocking),
    /// sets its MTU and brings it up.
    ///
    /// # Errors
    /// An invalid name or queue count, no `/dev/net/tun`, no permission
    /// (`CAP_NET_ADMIN`), an existing device of that name that is not a
    /// multi-queue TUN device; every error names the device.
    pub fn create(config: &TunConfig) -> io::Result<Self> {
        let name = config.name.as_str();
        let fail = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("TUN device {name}: {what}: {e}"))
        };
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['\0', '/', ' ']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TUN device {name:?}: not a valid interface name (1 to 15 bytes)"),
            ));
        }
        if config.queues == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TUN device {name}: needs at least one queue"),
            ));
        }
        let first = tun_rs::DeviceBuilder::new()
            .name(name)
            .with(|builder| {
                builder.multi_queue(true).packet_information(false);
            })
            .build_sync()
            .map_err(|e| fail("creating (TUNSETIFF IFF_TUN|IFF_NO_PI|IFF_MULTI_QUEUE)", e))?;
        let mut devices = Vec::with_capacity(config.queues);
        for queue in 1..config.queues {
            let more = first
                .try_clone()
                .map_err(|e| fail(&format!("attaching queue {queue}"), e))?;
            devices.push(more);
        }
        devices.insert(0, first);
        let mut queues = Vec::with_capacity(devices.len());
        for (index, device) in devices.into_iter().enumerate() {
            device
                .set_nonblocking(true)
                .map_err(|e| fail(&format!("making queue {index} non-blocking"), e))?;
            queues.push(TunQueue { device, index });
        }
        let ifindex = queues[0]
            .device
            .if_index()
            .map_err(|e| fail("reading its ifindex", e))?;
        let tun = Self {
            name: name.to_owned(),
            ifindex,
            queues,
        };
        tun.set_mtu(config.mtu)?;
        tun.queues[0]
            .device
            .enabled(true)
            .map_err(|e| fail("bringing it up", e))?;
        Ok(tun)
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index, for routes.
    pub const fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The queues not yet taken.
    pub fn queues(&self) -> &[TunQueue] {
        &self.queues
    }

    /// Takes the queues (queue `i` for worker `i`).
    pub fn take_queues(&mut self) -> Vec<TunQueue> {
        std::mem::take(&mut self.queues)
    }

    /// Sets the device's MTU (through rtnetlink).
    ///
    /// # Errors
    /// The kernel's refusal (e.g. `EINVAL` below the minimum), naming the
    /// device.
    pub fn set_mtu(&self, mtu: u16) -> io::Result<()> {
        Rtnetlink::new()?
            .set_mtu(self.ifindex, u32::from(mtu))
            .map_err(|e| io::Error::new(e.kind(), format!("TUN device {}: {e}", self.name)))
    }

    /// Routes `prefix` (IPv4 or IPv6) into the device; see
    /// [`Rtnetlink::add_route`].
    ///
    /// # Errors
    /// As [`Rtnetlink::add_route`], also naming the device.
    pub fn add_route(&self, prefix: IpNet) -> io::Result<()> {
        Rtnetlink::new()?
            .add_route(prefix, self.ifindex)
            .map_err(|e| io::Error::new(e.kind(), format!("TUN device {}: {e}", self.name)))
    }

    /// Gives the device the address `local`/`prefix_len`, with `peer` as
    /// the point-to-point destination when given (the kernel then routes
    /// `peer` into the device); see [`Rtnetlink::add_address`].
    ///
    /// # Errors
    /// As [`Rtnetlink::add_address`], also naming the device.
    pub fn add_address(
        &self,
        local: IpAddr,
        peer: Option<IpAddr>,
        prefix_len: u8,
    ) -> io::Result<()> {
        Rtnetlink::new()?
            .add_address(self.ifindex, local, peer, prefix_len)
            .map_err(|e| io::Error::new(e.kind(), format!("TUN device {}: {e}", self.name)))
    }

    /// Removes the route of `prefix` through the device; see
    /// [`Rtnetlink::remove_route`].
    ///
    /// # Errors
    /// As [`Rtnetlink::remove_route`], also naming the device.
    pub fn remove_route(&self, prefix: IpNet) -> io::Result<()> {
        Rtnetlink::new()?
            .remove_route(prefix, self.ifindex)
            .map_err(|e| io::Error::new(e.kind(), format!("TUN device {}: {e}", self.name)))
    }
}

/// One queue of a [`TunDevice`]: non-blocking, one IP packet per
/// [`Self::recv`] or [`Self::send`].
pub struct TunQueue {
    device: tun_rs::SyncDevice,
    index: usize,
}

impl std::fmt::Debug for TunQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunQueue")
            .field("index", &self.index)
            .field("fd", &self.device.as_raw_fd())
            .finish()
    }
}

impl TunQueue {
    /// The queue's number (0 is the first).
    pub const fn index(&self) -> usize {
        self.index
    }

    /// Reads one IP packet (IPv4 or IPv6, no packet-info header) into
    /// `buf`; a packet longer than `buf` is truncated.
    ///
    /// # Errors
    /// `WouldBlock` when no packet is waiting; other device errors.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.device.recv(buf)
    }

    /// Writes one complete IP packet; the kernel takes it as received by
    /// the device.
    ///
    /// # Errors
    /// `WouldBlock` when the queue is full; `EINVAL` for a packet that is
    /// not IP; other device errors.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        self.device.send(packet)
    }
}

impl AsRawFd for TunQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }
}

impl AsFd for TunQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.device.as_fd()
    }
}

/// [`TunQueue`] registered with tokio.
#[derive(Debug)]
pub struct AsyncTunQueue {
    inner: tokio::io::unix::AsyncFd<TunQueue>,
}

impl AsyncTunQueue {
    /// Registers `queue` with the current tokio runtime.
    ///
    /// # Errors
    /// Outside a runtime, or if registration fails.
    pub fn new(queue: TunQueue) -> io::Result<Self> {
        // SAFETY: a `TunQueue` owns its descriptor, which stays open and
        // unchanged until the queue, and so the AsyncFd, is dropped.
        let inner =
            unsafe { tokio::io::unix::AsyncFd::register(queue) }.map_err(io::Error::from)?;
        Ok(Self { inner })
    }

    /// The queue.
    pub fn get_ref(&self) -> &TunQueue {
        self.inner.get_ref()
    }

    /// Deregisters the queue from tokio and gives it back.
    pub fn into_inner(self) -> TunQueue {
        self.inner.into_inner()
    }

    /// Waits for a packet and reads it.
    ///
    /// # Errors
    /// Device errors other than `WouldBlock`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            if let Ok(result) = guard.try_io(|inner| inner.get_ref().recv(buf)) {
                return result;
            }
        }
    }

    /// Writes one packet, waiting while the queue is full.
    ///
    /// # Errors
    /// Device errors other than `WouldBlock`.
    pub async fn send(&self, packet: &[u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.writable().await?;
            if let Ok(result) = guard.try_io(|inner| inner.get_ref().send(packet)) {
                return result;
            }
        }
    }
}

/// A route netlink socket for synchronous requests, each acknowledged
/// (rtnetlink(7), netlink(7) `NLM_F_ACK`). It belongs to the network
/// namespace it was opened in.
///
/// The kernel handles a route request inside `sendmsg(2)`, so a call
/// blocks only for that; the control plane may call it from a task.
#[derive(Debug)]
pub struct Rtnetlink {
    socket: Socket,
    sequence: u32,
    buffer: Vec<u8>,
}

impl Rtnetlink {
    /// Opens and connects the socket.
    ///
    /// # Errors
    /// Socket errors.
    pub fn new() -> io::Result<Self> {
        let opened = || -> io::Result<Socket> {
            let mut socket = Socket::new(NETLINK_ROUTE)?;
            socket.bind_auto()?;
            socket.connect(&SocketAddr::new(0, 0))?;
            Ok(socket)
        };
        let socket = opened().map_err(|e| {
            io::Error::new(e.kind(), format!("opening a route netlink socket: {e}"))
        })?;
        Ok(Self {
            socket,
            sequence: 0,
            buffer: Vec::with_capacity(8192),
        })
    }

    /// Routes `prefix` (its host bits are ignored) to interface `ifindex`,
    /// in the main table, as a static device route without gateway.
    ///
    /// # Errors
    /// The kernel's refusal, naming the prefix and the errno (`EEXIST` when
    /// the route exists, `ENODEV` for a wrong ifindex, `ENETDOWN` when the
    /// device is down).
    pub fn add_route(&mut self, prefix: IpNet, ifindex: u32) -> io::Result<()> {
        let message = RouteNetlinkMessage::NewRoute(route_message(prefix, ifindex, RouteOp::Add));
        self.request(message, NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| {
                named(
                    e,
                    &format!("adding the route {} dev #{ifindex}", prefix.trunc()),
                )
            })
    }

    /// Removes the route of `prefix` through interface `ifindex`.
    ///
    /// # Errors
    /// The kernel's refusal, naming the prefix and the errno (`ESRCH` when
    /// there is no such route).
    pub fn remove_route(&mut self, prefix: IpNet, ifindex: u32) -> io::Result<()> {
        let message =
            RouteNetlinkMessage::DelRoute(route_message(prefix, ifindex, RouteOp::Remove));
        self.request(message, 0).map_err(|e| {
            named(
                e,
                &format!("removing the route {} dev #{ifindex}", prefix.trunc()),
            )
        })
    }

    /// Adds the address `local`/`prefix_len` to interface `ifindex`
    /// (`RTM_NEWADDR`, rtnetlink(7)): `IFA_LOCAL` is `local` and
    /// `IFA_ADDRESS` is `peer` when given — a point-to-point link, as
    /// `ip addr add LOCAL peer PEER/LEN` makes, for which the kernel routes
    /// the peer's prefix into the interface — else `local` again.
    ///
    /// # Errors
    /// The kernel's refusal, naming the address and the errno (`EEXIST`
    /// when the interface has it, `EINVAL` for mixed families or a bad
    /// prefix length).
    pub fn add_address(
        &mut self,
        ifindex: u32,
        local: IpAddr,
        peer: Option<IpAddr>,
        prefix_len: u8,
    ) -> io::Result<()> {
        let what = match peer {
            Some(peer) => format!(
                "adding the address {local} peer {peer}/{prefix_len} to interface #{ifindex}"
            ),
            None => format!("adding the address {local}/{prefix_len} to interface #{ifindex}"),
        };
        let message =
            address_message(ifindex, local, peer, prefix_len).map_err(|e| named(e, &what))?;
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map_err(|e| named(e, &what))
    }

    /// Sets the MTU of interface `ifindex`.
    ///
    /// # Errors
    /// The kernel's refusal, naming the interface and the errno.
    pub fn set_mtu(&mut self, ifindex: u32, mtu: u32) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = ifindex;
        link.attributes.push(LinkAttribute::Mtu(mtu));
        self.request(RouteNetlinkMessage::SetLink(link), 0)
            .map_err(|e| named(e, &format!("setting MTU {mtu} on interface #{ifindex}")))
    }

    /// Sends `message` with `NLM_F_REQUEST | NLM_F_ACK | flags` and waits
    /// for its acknowledgement.
    fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.sequence = self.sequence.wrapping_add(1);
        let sequence = self.sequence;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        loop {
            self.buffer.clear();
            self.socket.recv(&mut self.buffer, 0)?;
            if let Some(result) = find_ack(&self.buffer, sequence) {
                return result;
            }
        }
    }
}

/// `e` with `what` in front, keeping its kind; the text keeps the errno
/// (`… (os error 17)`).
fn named(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Whether a route message adds or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteOp {
    Add,
    Remove,
}

/// The `rtmsg` of a device route of `prefix` (host bits cleared: the
/// kernel refuses an IPv4 prefix with host bits) through `ifindex`, in the
/// main table. A removal leaves the scope a wildcard (`RT_SCOPE_NOWHERE`)
/// and the protocol unset, as `ip route del` does, so it matches however
/// the route was added.
fn route_message(prefix: IpNet, ifindex: u32, op: RouteOp) -> RouteMessage {
    let prefix = prefix.trunc();
    let mut message = RouteMessage::default();
    message.header.address_family = match prefix {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    };
    message.header.destination_prefix_length = prefix.prefix_len();
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.kind = RouteType::Unicast;
    match op {
        RouteOp::Add => {
            message.header.protocol = RouteProtocol::Static;
            message.header.scope = RouteScope::Link;
        }
        RouteOp::Remove => {
            message.header.protocol = RouteProtocol::Unspec;
            message.header.scope = RouteScope::NoWhere;
        }
    }
    let destination = match prefix.network() {
        IpAddr::V4(address) => RouteAddress::Inet(address),
        IpAddr::V6(address) => RouteAddress::Inet6(address),
    };
    message
        .attributes
        .push(RouteAttribute::Destination(destination));
    message.attributes.push(RouteAttribute::Oif(ifindex));
    message
}

/// The `ifaddrmsg` of `local`/`prefix_len` on `ifindex`, with `peer` as
/// `IFA_ADDRESS` when given (point-to-point), in the global scope.
fn address_message(
    ifindex: u32,
    local: IpAddr,
    peer: Option<IpAddr>,
    prefix_len: u8,
) -> io::Result<AddressMessage> {
    let (family, max) = match local {
        IpAddr::V4(_) => (AddressFamily::Inet, 32),
        IpAddr::V6(_) => (AddressFamily::Inet6, 128),
    };
    if prefix_len > max || peer.is_some_and(|p| p.is_ipv4() != local.is_ipv4()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "prefix length too long, or local and peer of different families",
        ));
    }
    let mut message = AddressMessage::default();
    message.header.family = family;
    message.header.prefix_len = prefix_len;
    message.header.scope = AddressScope::Universe;
    message.header.index = ifindex;
    message.attributes.push(AddressAttribute::Local(local));
    message
        .attributes
        .push(AddressAttribute::Address(peer.unwrap_or(local)));
    Ok(message)
}

/// The acknowledgement of request `sequence` among the netlink messages in
/// `datagram`: `Ok` for an ack, the errno for a refusal, `None` when the
/// datagram does not answer that request.
fn find_ack(datagram: &[u8], sequence: u32) -> Option<io::Result<()>> {
    let mut rest = datagram;
    while !rest.is_empty() {
        let Ok(buffer) = NetlinkBuffer::new_checked(rest) else {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed netlink reply",
            )));
        };
        let length = (buffer.length() as usize).max(16);
        let length = (length + 3) & !3;
        let message = &rest[..length.min(rest.len())];
        rest = &rest[length.min(rest.len())..];
        let Ok(parsed) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(message) else {
            continue;
        };
        if parsed.header.sequence_number != sequence {
            continue;
        }
        if let NetlinkPayload::Error(error) = parsed.payload {
            return Some(match error.code {
                None => Ok(()),
                Some(_) => Err(error.to_io()),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::ErrorMessage;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::num::NonZeroI32;

    #[test]
    fn route_message_clears_host_bits_and_names_the_device() {
        let message = route_message("10.77.0.9/24".parse().unwrap(), 7, RouteOp::Add);
        assert_eq!(message.header.address_family, AddressFamily::Inet);
        assert_eq!(message.header.destination_prefix_length, 24);
        assert_eq!(message.header.table, RouteHeader::RT_TABLE_MAIN);
        assert_eq!(message.header.scope, RouteScope::Link);
        assert_eq!(message.header.protocol, RouteProtocol::Static);
        assert_eq!(
            message.attributes,
            vec![
                RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(10, 77, 0, 0))),
                RouteAttribute::Oif(7),
            ]
        );

        let message = route_message("2001:db8:1:2::1/56".parse().unwrap(), 3, RouteOp::Remove);
        assert_eq!(message.header.address_family, AddressFamily::Inet6);
        assert_eq!(message.header.destination_prefix_length, 56);
        assert_eq!(message.header.scope, RouteScope::NoWhere);
        assert_eq!(message.header.protocol, RouteProtocol::Unspec);
        assert_eq!(
            message.attributes[0],
            RouteAttribute::Destination(RouteAddress::Inet6(Ipv6Addr::new(
                0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0
            )))
        );
    }

    #[test]
    fn address_message_is_point_to_point_when_a_peer_is_given() {
        let local = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 2));
        let peer = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1));
        let message = address_message(9, local, Some(peer), 32).unwrap();
        assert_eq!(message.header.family, AddressFamily::Inet);
        assert_eq!(message.header.prefix_len, 32);
        assert_eq!(message.header.index, 9);
        assert_eq!(
            message.attributes,
            vec![
                AddressAttribute::Local(local),
                AddressAttribute::Address(peer)
            ]
        );
        let alone = address_message(9, local, None, 32).unwrap();
        assert_eq!(alone.attributes[1], AddressAttribute::Address(local));
        assert!(address_message(9, local, None, 33).is_err());
        assert!(address_message(9, local, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), 32).is_err());
    }

    fn ack(sequence: u32, code: i32) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.sequence_number = sequence;
        let mut error = ErrorMessage::default();
        error.code = NonZeroI32::new(code);
        error.header = vec![0; 16];
        let mut message: NetlinkMessage<RouteNetlinkMessage> =
            NetlinkMessage::new(header, NetlinkPayload::Error(error));
        message.finalize();
        let mut out = vec![0; message.buffer_len()];
        message.serialize(&mut out);
        out
    }

    #[test]
    fn find_ack_matches_the_sequence_and_reports_the_errno() {
        assert!(matches!(find_ack(&ack(5, 0), 5), Some(Ok(()))));
        assert!(find_ack(&ack(4, 0), 5).is_none());
        let refused = find_ack(&ack(5, -libc::EEXIST), 5).unwrap().unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EEXIST));
        // Two messages in one datagram: the second answers.
        let mut both = ack(4, -libc::ENODEV);
        both.extend(ack(5, -libc::ESRCH));
        let refused = find_ack(&both, 5).unwrap().unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::ESRCH));
    }

    #[test]
    fn named_keeps_the_errno() {
        let e = named(
            io::Error::from_raw_os_error(libc::EEXIST),
            "adding the route 10.0.0.0/8 dev #3",
        );
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let text = e.to_string();
        assert!(text.contains("10.0.0.0/8"), "{text}");
        assert!(text.contains("os error 17"), "{text}");
    }
}
