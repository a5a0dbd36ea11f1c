//! The Session stage (RFC 2516 §4, §6): a view of a session packet giving
//! its PPP frame, the 6-byte session header, and the fast-path helpers that
//! write the PPPoE and Ethernet headers in the headroom in front of a PPP
//! frame already in the buffer.

use crate::wire::ethernet::{EtherType, EthernetRepr};
use crate::wire::{Error, Result, ensure_room};

use super::{Code, HEADER_LEN, Packet, VERSION_AND_TYPE, len_u16, write_u16};

/// A zero-copy view of a Session-stage packet (EtherType 0x8864): CODE is
/// 0x00 and the payload is one PPP frame, protocol field first.
#[derive(Debug, Clone)]
pub struct SessionPacket<T> {
    packet: Packet<T>,
}

impl<T: AsRef<[u8]>> SessionPacket<T> {
    /// Checks the header (see [`Packet::new_checked`]) and CODE.
    ///
    /// RFC 2516 §6: "The PPPoE CODE MUST be set to 0x00."
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Packet::new_checked(buffer)?;
        if packet.code() != Code::Session {
            return Err(Error::Malformed("PPPoE session packet with non-zero CODE"));
        }
        Ok(Self { packet })
    }

    /// SESSION_ID.
    pub fn session_id(&self) -> u16 {
        self.packet.session_id()
    }

    /// The PPP frame: exactly LENGTH bytes, padding excluded.
    pub fn payload(&self) -> &[u8] {
        self.packet.payload()
    }

    /// Offset of the PPP frame in the buffer.
    pub const fn payload_offset(&self) -> usize {
        HEADER_LEN
    }

    /// The underlying header view.
    pub fn as_packet(&self) -> &Packet<T> {
        &self.packet
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.packet.into_inner()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SessionPacket<T> {
    /// The PPP frame, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.packet.payload_mut()
    }

    /// Sets SESSION_ID.
    pub fn set_session_id(&mut self, session_id: u16) {
        self.packet.set_session_id(session_id);
    }
}

/// The owned Session-stage header: SESSION_ID and LENGTH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHeader {
    /// SESSION_ID (RFC 2516 §6: "The SESSION_ID MUST NOT change for that
    /// PPPoE session and MUST be the value assigned in the Discovery
    /// stage").
    pub session_id: u16,
    /// LENGTH: the PPP frame's length.
    pub payload_len: u16,
}

impl SessionHeader {
    /// A header for a PPP frame of `payload_len` bytes.
    pub fn new(session_id: u16, payload_len: usize) -> Result<Self> {
        Ok(Self {
            session_id,
            payload_len: len_u16(payload_len, "PPPoE payload longer than 65535 bytes")?,
        })
    }

    /// Reads the header of a checked session packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &SessionPacket<T>) -> Self {
        Self {
            session_id: packet.session_id(),
            payload_len: packet.packet.payload_len(),
        }
    }

    /// Always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    fn write(&self, out: &mut [u8]) {
        out[0] = VERSION_AND_TYPE;
        out[1] = Code::Session.into();
        write_u16(out, 2, self.session_id);
        write_u16(out, 4, self.payload_len);
    }

    /// Writes the header at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        ensure_room(buf, HEADER_LEN)?;
        self.write(buf);
        Ok(HEADER_LEN)
    }

    /// Writes the header so it ends exactly at `payload_start` (where the
    /// PPP frame already is); returns the offset of the header.
    pub fn emit_in_headroom(&self, buf: &mut [u8], payload_start: usize) -> Result<usize> {
        if payload_start > buf.len() {
            return Err(Error::BufferTooSmall {
                need: payload_start,
                have: buf.len(),
            });
        }
        let start = payload_start
            .checked_sub(HEADER_LEN)
            .ok_or(Error::BufferTooSmall {
                need: HEADER_LEN,
                have: payload_start,
            })?;
        self.write(&mut buf[start..payload_start]);
        Ok(start)
    }
}

/// Fast-path encapsulation: turns the PPP frame at
/// `buf[ppp_start..ppp_start + ppp_len]` into a complete Ethernet + PPPoE
/// session frame by writing both headers in the headroom in front of it.
/// Returns the offset where the Ethernet frame starts; the frame ends at
/// `ppp_start + ppp_len`. The payload is not moved.
///
/// `ethernet.ethertype` must be [`EtherType::PppoeSession`].
pub fn encapsulate_session_in_place(
    buf: &mut [u8],
    ppp_start: usize,
    ppp_len: usize,
    ethernet: &EthernetRepr,
    session_id: u16,
) -> Result<usize> {
    if ethernet.ethertype != EtherType::PppoeSession {
        return Err(Error::Malformed(
            "PPPoE session frame needs EtherType 0x8864",
        ));
    }
    let end = ppp_start
        .checked_add(ppp_len)
        .ok_or(Error::BufferTooSmall {
            need: usize::MAX,
            have: buf.len(),
        })?;
    ensure_room(buf, end)?;
    let pppoe_start = SessionHeader::new(session_id, ppp_len)?.emit_in_headroom(buf, ppp_start)?;
    ethernet.emit_in_headroom(buf, pppoe_start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{Frame, MacAddress, VlanStack, VlanTag};
    use proptest::prelude::*;

    #[test]
    fn session_packet() {
        // LCP Configure-Request from the capture, then 4 bytes of padding.
        let bytes = [
            0x11, 0x00, 0x00, 0x01, 0x00, 0x10, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0e, 0x01, 0x04,
            0x05, 0xd4, 0x05, 0x06, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0,
        ];
        let session = SessionPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(session.session_id(), 1);
        assert_eq!(session.payload(), &bytes[6..22]);
        let header = SessionHeader::parse(&session);
        assert_eq!(
            header,
            SessionHeader {
                session_id: 1,
                payload_len: 16
            }
        );
        let mut out = [0u8; 6];
        header.emit(&mut out).unwrap();
        assert_eq!(out, bytes[..6]);
        // Non-zero CODE on the session EtherType.
        let mut bad = bytes;
        bad[1] = 0x09;
        assert!(SessionPacket::new_checked(&bad[..]).is_err());
        // LENGTH beyond the buffer.
        let mut bad = bytes;
        bad[5] = 0x15;
        assert!(SessionPacket::new_checked(&bad[..]).is_err());
        assert!(SessionHeader::new(1, 65_536).is_err());
    }

    #[test]
    fn session_encapsulation_in_headroom() {
        let ppp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 1];
        let mut buf = [0u8; 64];
        buf[40..50].copy_from_slice(&ppp);
        let eth = EthernetRepr {
            dst: MacAddress([2, 0, 0, 0, 0, 1]),
            src: MacAddress([2, 0, 0, 0, 0, 2]),
            vlans: VlanStack::double(
                VlanTag::service(10).unwrap(),
                VlanTag::customer(20).unwrap(),
            ),
            ethertype: EtherType::PppoeSession,
        };
        let start = encapsulate_session_in_place(&mut buf, 40, ppp.len(), &eth, 0x0042).unwrap();
        assert_eq!(start, 40 - 6 - 22);
        let frame = Frame::new_checked(&buf[start..50]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), eth);
        let session = SessionPacket::new_checked(frame.payload()).unwrap();
        assert_eq!(session.session_id(), 0x42);
        assert_eq!(session.payload(), &ppp);
        // Not enough headroom, payload past the end, wrong EtherType.
        assert!(encapsulate_session_in_place(&mut buf, 27, 10, &eth, 1).is_err());
        assert!(encapsulate_session_in_place(&mut buf, 60, 10, &eth, 1).is_err());
        assert!(encapsulate_session_in_place(&mut buf, 40, usize::MAX, &eth, 1).is_err());
        let mut wrong = eth;
        wrong.ethertype = EtherType::PppoeDiscovery;
        assert!(encapsulate_session_in_place(&mut buf, 40, 10, &wrong, 1).is_err());
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    proptest! {
        #[test]
        fn session_header_round_trips(session_id: u16, ppp in bytes(32), padding in bytes(8)) {
            let mut buf = vec![0u8; 6 + ppp.len()];
            buf[6..].copy_from_slice(&ppp);
            let header = SessionHeader::new(session_id, ppp.len()).unwrap();
            prop_assert_eq!(header.emit_in_headroom(&mut buf, 6).unwrap(), 0);
            buf.extend_from_slice(&padding);
            let session = SessionPacket::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(SessionHeader::parse(&session), header);
            prop_assert_eq!(session.payload(), &ppp[..]);
        }
    }
}
