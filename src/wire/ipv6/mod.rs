//! IPv6 (RFC 8200) as a PPP link carries it (PPP protocol 0x0057,
//! RFC 5072 §3), and the upper layers the LNS answers itself.
//!
//! * the fixed header (RFC 8200 §3) — [`Packet`], [`Ipv6Repr`];
//! * the Hop-by-Hop Options header is skipped (RFC 8200 §4.3: it is the
//!   only extension header that may come first and every node examines
//!   it); any other extension header is [`Error::Unsupported`]
//!   ([`upper_layer`]);
//! * the upper-layer checksum over the pseudo-header (RFC 8200 §8.1) —
//!   [`checksum`], [`verify_checksum`];
//! * UDP (RFC 768, checksum mandatory over IPv6) — [`udp`];
//! * ICMPv6 (RFC 4443 §2) with the Router Solicitation and Router
//!   Advertisement messages and options of Neighbor Discovery (RFC 4861
//!   §4.1, §4.2, §4.6) and RDNSS (RFC 8106 §5.1) — [`icmpv6`].
//!
//! Views check every length in `new_checked`; no accessor can panic.

use std::net::Ipv6Addr;

use super::{Error, Result, ensure_len, ensure_room};

pub mod icmpv6;
pub mod udp;

pub use icmpv6::{
    Icmpv6Packet, Icmpv6Type, NdOption, NdOptions, PrefixInformation, RaHeader, Rdnss,
    RouterAdvert, RouterAdvertRepr, RouterSolicit,
};
pub use udp::{UDP_HEADER_LEN, UdpPacket, UdpRepr};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// All-nodes multicast, link-local scope (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers multicast, link-local scope (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

crate::open_enum! {
    /// The Next Header field (IANA "Assigned Internet Protocol Numbers").
    pub enum NextHeader(u8) {
        /// Hop-by-Hop Options (RFC 8200 §4.3).
        HopByHop = 0,
        /// TCP.
        Tcp = 6,
        /// UDP.
        Udp = 17,
        /// Routing header (RFC 8200 §4.4).
        Routing = 43,
        /// Fragment header (RFC 8200 §4.5).
        Fragment = 44,
        /// ICMPv6 (RFC 4443).
        Icmpv6 = 58,
        /// No Next Header (RFC 8200 §4.7).
        NoNextHeader = 59,
        /// Destination Options (RFC 8200 §4.6).
        DestinationOptions = 60,
    }
}

/// Big-endian u16 at `at`, 0 past the end (views check lengths first).
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Big-endian u32 at `at`, 0 past the end.
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// The 16 bytes at `at` as an address, `::` past the end.
pub(crate) fn addr_at(bytes: &[u8], at: usize) -> Ipv6Addr {
    bytes
        .get(at..at + 16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from)
}

/// Writes `bytes` at `at` when they fit (callers checked the room).
pub(crate) fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(out) = buf.get_mut(at..at + bytes.len()) {
        out.copy_from_slice(bytes);
    }
}

/// A zero-copy view of an IPv6 packet: the fixed header and exactly
/// Payload Length bytes after it (bytes beyond are ignored).
#[derive(Debug, Clone)]
pub struct Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the version and that the buffer holds the header and the
    /// Payload Length it declares.
    ///
    /// A Payload Length of zero with a Hop-by-Hop header would announce a
    /// jumbogram (RFC 2675), which a PPP link cannot carry:
    /// [`Error::Unsupported`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("IPv6 header", bytes, HEADER_LEN)?;
        if bytes.first().map(|b| b >> 4) != Some(6) {
            return Err(Error::Malformed("IPv6 version is not 6"));
        }
        let payload_len = usize::from(be16(bytes, 4));
        if payload_len == 0 && bytes.get(6) == Some(&0) {
            return Err(Error::Unsupported("IPv6 jumbogram"));
        }
        ensure_len("IPv6 payload", bytes, HEADER_LEN + payload_len)?;
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Traffic Class.
    pub fn traffic_class(&self) -> u8 {
        (be16(self.bytes(), 0) >> 4) as u8
    }

    /// Flow Label (20 bits).
    pub fn flow_label(&self) -> u32 {
        be32(self.bytes(), 0) & 0x000f_ffff
    }

    /// Payload Length.
    pub fn payload_len(&self) -> u16 {
        be16(self.bytes(), 4)
    }

    /// Next Header.
    pub fn next_header(&self) -> NextHeader {
        NextHeader::from(self.bytes().get(6).copied().unwrap_or(0))
    }

    /// Hop Limit.
    pub fn hop_limit(&self) -> u8 {
        self.bytes().get(7).copied().unwrap_or(0)
    }

    /// Source Address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.bytes(), 8)
    }

    /// Destination Address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.bytes(), 24)
    }

    /// The payload: Payload Length bytes after the header.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.bytes().get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The upper-layer protocol and its bytes, past a Hop-by-Hop Options
/// header if there is one (RFC 8200 §4.3, its Hdr Ext Len in 8-octet
/// units not counting the first 8). Another extension header (routing,
/// fragment, destination options) is [`Error::Unsupported`]: nothing the
/// LNS answers itself carries one.
pub fn upper_layer<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<(NextHeader, &[u8])> {
    let payload = packet.payload();
    let (next, upper) = match packet.next_header() {
        NextHeader::HopByHop => {
            ensure_len("IPv6 Hop-by-Hop header", payload, 8)?;
            let len = (usize::from(payload.get(1).copied().unwrap_or(0)) + 1) * 8;
            ensure_len("IPv6 Hop-by-Hop header", payload, len)?;
            (
                NextHeader::from(payload.first().copied().unwrap_or(0)),
                payload.get(len..).unwrap_or(&[]),
            )
        }
        other => (other, payload),
    };
    match next {
        NextHeader::HopByHop
        | NextHeader::Routing
        | NextHeader::Fragment
        | NextHeader::DestinationOptions => Err(Error::Unsupported("IPv6 extension header chain")),
        other => Ok((other, upper)),
    }
}

/// The owned fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source Address.
    pub src_addr: Ipv6Addr,
    /// Destination Address.
    pub dst_addr: Ipv6Addr,
    /// Next Header.
    pub next_header: NextHeader,
    /// Payload Length, in bytes.
    pub payload_len: usize,
    /// Hop Limit.
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Reads the fixed header of a checked packet (traffic class and flow
    /// label are not kept).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Self {
        Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
        }
    }

    /// Always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (traffic class 0, flow label 0) at the start of
    /// `buf`; returns [`HEADER_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        ensure_room(buf, HEADER_LEN)?;
        let payload_len = u16::try_from(self.payload_len)
            .map_err(|_| Error::Malformed("IPv6 payload longer than 65535 bytes"))?;
        put(buf, 0, &[0x60, 0, 0, 0]);
        put(buf, 4, &payload_len.to_be_bytes());
        put(buf, 6, &[self.next_header.into(), self.hop_limit]);
        put(buf, 8, &self.src_addr.octets());
        put(buf, 24, &self.dst_addr.octets());
        Ok(HEADER_LEN)
    }
}

/// The link-local address `fe80::/64` + `interface_id` (RFC 4291 §2.5.6;
/// RFC 5072 §5: the identifier IPv6CP negotiated).
pub fn link_local(interface_id: [u8; 8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[0] = 0xfe;
    octets[1] = 0x80;
    octets[8..].copy_from_slice(&interface_id);
    Ipv6Addr::from(octets)
}

/// Whether `addr` is link-local unicast (`fe80::/10`).
pub fn is_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// The one's complement sum of `data` (RFC 1071), folded into 16 bits
/// but not complemented, continuing from `sum`.
fn sum_words(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        if let &[a, b] = pair {
            sum += u32::from(u16::from_be_bytes([a, b]));
        }
    }
    if let &[last] = chunks.remainder() {
        sum += u32::from(last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// The upper-layer checksum of `data` (the whole ICMPv6 message or UDP
/// datagram) over the IPv6 pseudo-header (RFC 8200 §8.1): source,
/// destination, upper-layer packet length, three zero bytes, Next Header.
/// With the checksum field zeroed this is the value to write; over a
/// message that carries its checksum it is 0 when that checksum is right.
pub fn checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: NextHeader, data: &[u8]) -> u16 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum = sum_words(sum, &(data.len() as u32).to_be_bytes());
    sum = sum_words(sum, &[0, 0, 0, next_header.into()]);
    sum = sum_words(sum, data);
    !(sum as u16)
}

/// Whether `data`, which carries its own checksum, sums to zero over the
/// pseudo-header (RFC 8200 §8.1). A zero checksum field is not valid for
/// UDP over IPv6; [`udp::UdpPacket::verify_checksum`] checks that too.
pub fn verify_checksum(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    next_header: NextHeader,
    data: &[u8],
) -> bool {
    checksum(src, dst, next_header, data) == 0
}

#[cfg(test)]
mod tests;
