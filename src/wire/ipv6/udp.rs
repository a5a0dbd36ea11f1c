//! UDP (RFC 768) over IPv6: the checksum is mandatory (RFC 8200 §8.1: "a
//! UDP checksum of zero … MUST be discarded"), and a computed zero is
//! sent as 0xffff.

use std::net::Ipv6Addr;

use super::{NextHeader, be16, checksum, put};
use crate::wire::{Error, Result, ensure_len, ensure_room};

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP datagram: the header and exactly Length
/// bytes (bytes beyond are ignored).
#[derive(Debug, Clone)]
pub struct UdpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Checks that the header is there and that Length covers the header
    /// and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("UDP header", bytes, UDP_HEADER_LEN)?;
        let len = usize::from(be16(bytes, 4));
        if len < UDP_HEADER_LEN {
            return Err(Error::Malformed("UDP length shorter than its header"));
        }
        ensure_len("UDP datagram", bytes, len)?;
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source Port.
    pub fn src_port(&self) -> u16 {
        be16(self.bytes(), 0)
    }

    /// Destination Port.
    pub fn dst_port(&self) -> u16 {
        be16(self.bytes(), 2)
    }

    /// Length: header and data.
    pub fn len(&self) -> u16 {
        be16(self.bytes(), 4)
    }

    /// Whether Length is exactly the header (no data).
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) == UDP_HEADER_LEN
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.bytes(), 6)
    }

    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        self.bytes()
            .get(UDP_HEADER_LEN..usize::from(self.len()))
            .unwrap_or(&[])
    }

    /// Whether the checksum is present (non-zero) and right for a
    /// datagram from `src` to `dst`.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let datagram = self.bytes().get(..usize::from(self.len())).unwrap_or(&[]);
        self.checksum() != 0 && checksum(src, dst, NextHeader::Udp, datagram) == 0
    }
}

/// The owned UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source Port.
    pub src_port: u16,
    /// Destination Port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Reads the ports of a checked datagram.
    pub fn parse<T: AsRef<[u8]>>(packet: &UdpPacket<T>) -> Self {
        Self {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        }
    }

    /// Writes the header in front of the `payload_len` bytes of data that
    /// are already at `buf[8..]`, with Length and the checksum for a
    /// datagram from `src` to `dst`. Returns the datagram's length.
    pub fn emit(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<usize> {
        let len = UDP_HEADER_LEN + payload_len;
        ensure_room(buf, len)?;
        let len16 =
            u16::try_from(len).map_err(|_| Error::Malformed("UDP datagram over 65535 bytes"))?;
        put(buf, 0, &self.src_port.to_be_bytes());
        put(buf, 2, &self.dst_port.to_be_bytes());
        put(buf, 4, &len16.to_be_bytes());
        put(buf, 6, &[0, 0]);
        let sum = match checksum(src, dst, NextHeader::Udp, buf.get(..len).unwrap_or(&[])) {
            0 => 0xffff,
            sum => sum,
        };
        put(buf, 6, &sum.to_be_bytes());
        Ok(len)
    }
}
