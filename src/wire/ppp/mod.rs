//! PPP frames and the packets of its control and authentication protocols.
//!
//! Implemented:
//!
//! * the PPP encapsulation (RFC 1661 §2): the Protocol field, with
//!   Protocol-Field-Compression accepted on receive, and the optional HDLC
//!   Address and Control bytes `FF 03` that L2TP data messages carry
//!   (RFC 1662 §3.1, RFC 2661 §5.4) — [`Frame`], [`FrameHeader`];
//! * the packet format shared by LCP and the NCPs (RFC 1661 §5) and its
//!   option TLVs (RFC 1661 §6) — [`control`];
//! * typed options for LCP (RFC 1661 §6, RFC 1570, RFC 1994 §3 for the CHAP
//!   algorithm, RFC 2759 §2 for MS-CHAPv2) — [`lcp`]; IPCP (RFC 1332 §3,
//!   RFC 1877 §1) — [`ipcp`]; IPv6CP (RFC 5072 §4) — [`ipv6cp`];
//! * PAP (RFC 1334 §2) — [`pap`]; CHAP (RFC 1994 §4) and the MS-CHAPv2
//!   packet layouts (RFC 2759 §4–§6) — [`chap`].
//!
//! Every packet has a zero-copy view with a checked constructor and an
//! owned representation with `parse`, `buffer_len` and `emit`; `emit`
//! writes into a buffer the caller owns and never allocates.

pub mod chap;
pub mod control;
pub mod ipcp;
pub mod ipv6cp;
pub mod lcp;
pub mod pap;

pub use chap::{
    ChapCode, ChapMessage, ChapRepr, MsChapV2Failure, MsChapV2Response, MsChapV2Success,
};
pub use control::{
    Code, ConfigOption, ControlMessage, ControlPacket, ControlRepr, OptionIter, RawOption,
};
pub use ipcp::{IpcpOption, IpcpRepr};
pub use ipv6cp::{Ipv6cpOption, Ipv6cpRepr};
pub use lcp::{AuthMethod, LcpOption, LcpRepr};
pub use pap::{PapCode, PapMessage, PapRepr};

use super::{Error, Result, ensure_len, ensure_room};

/// The HDLC Address and Control bytes, "all-stations" and "unnumbered
/// information" (RFC 1662 §3.1). PPP over L2TP carries them; PPPoE does
/// not (RFC 2516 §7 forbids negotiating ACFC and the encapsulation has no
/// room for them).
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

crate::open_enum! {
    /// The PPP Protocol field (RFC 1661 §2; IANA "PPP DLL Protocol Numbers").
    pub enum Protocol(u16) {
        /// Internet Protocol version 4.
        Ipv4 = 0x0021,
        /// Van Jacobson compressed TCP/IP (RFC 1332 §4).
        VjCompressedTcp = 0x002d,
        /// Van Jacobson uncompressed TCP/IP.
        VjUncompressedTcp = 0x002f,
        /// Multilink PPP fragment (RFC 1990).
        Multilink = 0x003d,
        /// Internet Protocol version 6.
        Ipv6 = 0x0057,
        /// IPv4 Control Protocol (RFC 1332).
        Ipcp = 0x8021,
        /// IPv6 Control Protocol (RFC 5072).
        Ipv6cp = 0x8057,
        /// Compression Control Protocol (RFC 1962).
        Ccp = 0x80fd,
        /// Link Control Protocol (RFC 1661).
        Lcp = 0xc021,
        /// Password Authentication Protocol (RFC 1334).
        Pap = 0xc023,
        /// Link Quality Report (RFC 1989).
        Lqr = 0xc025,
        /// Challenge Handshake Authentication Protocol (RFC 1994).
        Chap = 0xc223,
        /// Extensible Authentication Protocol (RFC 3748).
        Eap = 0xc227,
    }
}

impl Protocol {
    /// Whether the number follows RFC 1661 §2: "All Protocols MUST be odd;
    /// the least significant bit of the least significant octet MUST equal
    /// "1". Also, all Protocols MUST be assigned such that the least
    /// significant bit of the most significant octet equals "0". Frames
    /// received which don't comply with these rules MUST be treated as
    /// having an unrecognized Protocol."
    pub fn is_well_formed(self) -> bool {
        let value = u16::from(self);
        value & 0x0001 == 0x0001 && value & 0x0100 == 0
    }

    /// 0x0000–0x3fff: a network-layer protocol (datagrams).
    pub fn is_network_layer(self) -> bool {
        u16::from(self) < 0x4000
    }

    /// 0x8000–0xbfff: a Network Control Protocol (IPCP, IPv6CP, CCP …).
    pub fn is_network_control(self) -> bool {
        (0x8000..0xc000).contains(&u16::from(self))
    }

    /// 0xc000–0xffff: a link-layer control protocol (LCP, PAP, CHAP …).
    pub fn is_link_control(self) -> bool {
        u16::from(self) >= 0xc000
    }
}

/// A zero-copy view of a PPP frame: optional Address/Control, the Protocol
/// field (one or two bytes), the information field.
#[derive(Debug, Clone)]
pub struct Frame<T> {
    buffer: T,
    has_address_control: bool,
    protocol_len: u8,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Reads the framing.
    ///
    /// Address/Control: RFC 1661 §6.6 — "on reception, the Address and
    /// Control fields are decompressed by examining the first two octets.
    /// If they contain the values 0xff and 0x03, they are assumed to be the
    /// Address and Control fields."
    ///
    /// Protocol: RFC 1661 §6.5 — a compressed Protocol field is one octet;
    /// the receiver tells it apart because every protocol number's most
    /// significant octet is even and its least significant octet odd.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        let has_address_control = bytes.starts_with(&ADDRESS_CONTROL);
        let offset = if has_address_control { 2 } else { 0 };
        ensure_len("PPP protocol field", bytes, offset + 1)?;
        let protocol_len = if bytes[offset] & 1 == 1 { 1 } else { 2 };
        ensure_len(
            "PPP protocol field",
            bytes,
            offset + usize::from(protocol_len),
        )?;
        Ok(Self {
            buffer,
            has_address_control,
            protocol_len,
        })
    }

    /// Whether the frame starts with `FF 03`.
    pub fn has_address_control(&self) -> bool {
        self.has_address_control
    }

    /// Whether the Protocol field was compressed to one byte.
    pub fn is_protocol_compressed(&self) -> bool {
        self.protocol_len == 1
    }

    /// The Protocol field.
    pub fn protocol(&self) -> Protocol {
        let bytes = self.buffer.as_ref();
        let offset = if self.has_address_control { 2 } else { 0 };
        if self.protocol_len == 1 {
            Protocol::from(u16::from(bytes[offset]))
        } else {
            Protocol::from(u16::from_be_bytes([bytes[offset], bytes[offset + 1]]))
        }
    }

    /// Bytes before the information field.
    pub fn header_len(&self) -> usize {
        usize::from(self.protocol_len) + if self.has_address_control { 2 } else { 0 }
    }

    /// The information field (and any padding, which PPP leaves to the
    /// protocol inside to delimit).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// The information field, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

/// The owned PPP framing: whether to write `FF 03`, and the protocol.
/// The Protocol field is always emitted uncompressed (two bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Write the Address and Control bytes (for L2TP; never for PPPoE).
    pub address_control: bool,
    /// The Protocol field.
    pub protocol: Protocol,
}

impl FrameHeader {
    /// A header without Address/Control, as PPPoE carries it.
    pub const fn new(protocol: Protocol) -> Self {
        Self {
            address_control: false,
            protocol,
        }
    }

    /// Reads the framing of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Self {
        Self {
            address_control: frame.has_address_control(),
            protocol: frame.protocol(),
        }
    }

    /// Header length: 2, or 4 with Address/Control.
    pub const fn buffer_len(&self) -> usize {
        if self.address_control { 4 } else { 2 }
    }

    fn write(&self, out: &mut [u8]) {
        let offset = if self.address_control {
            out[..2].copy_from_slice(&ADDRESS_CONTROL);
            2
        } else {
            0
        };
        out[offset..offset + 2].copy_from_slice(&u16::from(self.protocol).to_be_bytes());
    }

    /// Writes the header at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        ensure_room(buf, len)?;
        self.write(&mut buf[..len]);
        Ok(len)
    }

    /// Writes the header so it ends exactly at `payload_start`; returns the
    /// offset where the frame now starts.
    pub fn emit_in_headroom(&self, buf: &mut [u8], payload_start: usize) -> Result<usize> {
        let len = self.buffer_len();
        if payload_start > buf.len() {
            return Err(Error::BufferTooSmall {
                need: payload_start,
                have: buf.len(),
            });
        }
        let start = payload_start
            .checked_sub(len)
            .ok_or(Error::BufferTooSmall {
                need: len,
                have: payload_start,
            })?;
        self.write(&mut buf[start..payload_start]);
        Ok(start)
    }
}

/// The frame without a leading `FF 03`, if it has one: what PPPoE carries
/// of a PPP frame received over L2TP.
pub fn strip_address_control(frame: &[u8]) -> &[u8] {
    frame.strip_prefix(&ADDRESS_CONTROL[..]).unwrap_or(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uncompressed_protocol() {
        let bytes = [0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        assert!(!frame.has_address_control());
        assert!(!frame.is_protocol_compressed());
        assert_eq!(frame.protocol(), Protocol::Lcp);
        assert_eq!(frame.header_len(), 2);
        assert_eq!(frame.payload(), &bytes[2..]);
    }

    #[test]
    fn address_control_and_compressed_protocol() {
        let bytes = [0xff, 0x03, 0x21, 0x45, 0x00];
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        assert!(frame.has_address_control());
        assert!(frame.is_protocol_compressed());
        assert_eq!(frame.protocol(), Protocol::Ipv4);
        assert_eq!(frame.payload(), &[0x45, 0x00]);
        // Re-emitted uncompressed.
        let header = FrameHeader::parse(&frame);
        let mut out = [0u8; 4];
        assert_eq!(header.emit(&mut out).unwrap(), 4);
        assert_eq!(out, [0xff, 0x03, 0x00, 0x21]);
    }

    #[test]
    fn truncated_protocol_field_is_an_error() {
        for bytes in [
            &[][..],
            &[0xff, 0x03][..],
            &[0xc0][..],
            &[0xff, 0x03, 0x80][..],
        ] {
            assert!(Frame::new_checked(bytes).is_err(), "{bytes:02x?}");
        }
        // 0xff alone is a (compressed, odd) protocol, not an address field.
        let frame = Frame::new_checked(&[0xff][..]).unwrap();
        assert_eq!(u16::from(frame.protocol()), 0x00ff);
    }

    #[test]
    fn protocol_classes() {
        assert!(Protocol::Lcp.is_link_control() && Protocol::Lcp.is_well_formed());
        assert!(Protocol::Ipcp.is_network_control());
        assert!(Protocol::Ipv6.is_network_layer());
        assert!(!Protocol::from(0x0020).is_well_formed());
        assert!(!Protocol::from(0x0121).is_well_formed());
    }

    #[test]
    fn headroom_and_strip() {
        let mut buf = [0u8; 10];
        buf[6..].copy_from_slice(&[0x45, 0, 0, 0]);
        let header = FrameHeader {
            address_control: true,
            protocol: Protocol::Ipv4,
        };
        assert_eq!(header.emit_in_headroom(&mut buf, 6).unwrap(), 2);
        assert_eq!(&buf[2..6], &[0xff, 0x03, 0x00, 0x21]);
        assert_eq!(strip_address_control(&buf[2..]), &buf[4..]);
        assert_eq!(strip_address_control(&buf[4..]), &buf[4..]);
        assert!(header.emit_in_headroom(&mut buf, 3).is_err());
        assert!(header.emit_in_headroom(&mut buf, 11).is_err());
        assert!(header.emit(&mut [0u8; 3]).is_err());
    }

    proptest! {
        #[test]
        fn frame_header_round_trips(
            address_control: bool,
            // A number whose high octet is odd would read as a compressed
            // field: RFC 1661 §2 makes such numbers invalid, none is sent.
            protocol in any::<u16>().prop_map(|p| (p | 0x0001) & !0x0100),
            payload in proptest::collection::vec(any::<u8>(), 0..8)) {
            prop_assert!(Protocol::from(protocol).is_well_formed());
            let header = FrameHeader { address_control, protocol: Protocol::from(protocol) };
            let mut buf = vec![0u8; header.buffer_len()];
            header.emit(&mut buf).unwrap();
            buf.extend_from_slice(&payload);
            let frame = Frame::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(FrameHeader::parse(&frame), header);
            prop_assert_eq!(frame.payload(), &payload[..]);
        }

        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6)) {
            if let Ok(frame) = Frame::new_checked(&bytes[..]) {
                let header = FrameHeader::parse(&frame);
                prop_assert!(frame.header_len() <= bytes.len());
                let mut out = [0u8; 4];
                header.emit(&mut out).unwrap();
            }
        }
    }
}
