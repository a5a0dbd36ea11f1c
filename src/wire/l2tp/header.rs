//! The L2TPv2 header (RFC 2661 §3.1), for control and data messages.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Tunnel ID           |           Session ID          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Ns (opt)          |             Nr (opt)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`Packet`] is the zero-copy view (with in-place setters for the fast path
//! and for the control channel, which patches Nr on retransmission);
//! [`HeaderRepr`] is the owned form, which also writes data headers into
//! caller-owned headroom without allocating.

use crate::wire::{Error, Result, ensure_len, ensure_room};

/// T bit: 1 = control message, 0 = data message.
pub const FLAG_TYPE: u16 = 0x8000;
/// L bit: the Length field is present.
pub const FLAG_LENGTH: u16 = 0x4000;
/// S bit: the Ns and Nr fields are present.
pub const FLAG_SEQUENCE: u16 = 0x0800;
/// O bit: the Offset Size field (and offset pad) is present.
pub const FLAG_OFFSET: u16 = 0x0200;
/// P bit: the data message should receive preferential treatment.
pub const FLAG_PRIORITY: u16 = 0x0100;
/// The reserved `x` bits of the first 16 bits.
pub const FLAGS_RESERVED: u16 = 0x3000 | 0x0400 | 0x00F0;
/// Mask of the Ver field.
pub const VERSION_MASK: u16 = 0x000F;
/// The only version this module handles: L2TPv2.
pub const VERSION_L2TPV2: u8 = 2;

/// Length of a control message header: flags, Length, Tunnel ID,
/// Session ID, Ns, Nr (control messages always carry L and S, never O).
pub const CONTROL_HEADER_LEN: usize = 12;
/// Length of the shortest header: flags, Tunnel ID, Session ID.
pub const MIN_HEADER_LEN: usize = 6;

/// Returns the Ver field of a datagram that may not be L2TPv2, or `None` if
/// it is too short to hold one. Lets a demultiplexer tell L2F (Ver 1) and
/// L2TPv3 (Ver 3) apart from garbage before deciding what to count.
pub fn peek_version(buf: &[u8]) -> Option<u8> {
    buf.get(1).map(|b| b & (VERSION_MASK as u8))
}

/// Byte offsets of the optional fields, derived from the flags.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Offset of Tunnel ID.
    ids: usize,
    /// Offset of Ns (meaningful only with S).
    sequence: usize,
    /// Offset of Offset Size (meaningful only with O).
    offset_size: usize,
    /// Length of the fixed part, before any offset pad.
    fixed: usize,
}

impl Layout {
    const fn of(flags: u16) -> Self {
        let ids = if flags & FLAG_LENGTH != 0 { 4 } else { 2 };
        let sequence = ids + 4;
        let offset_size = if flags & FLAG_SEQUENCE != 0 {
            sequence + 4
        } else {
            sequence
        };
        let fixed = if flags & FLAG_OFFSET != 0 {
            offset_size + 2
        } else {
            offset_size
        };
        Self {
            ids,
            sequence,
            offset_size,
            fixed,
        }
    }
}

fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

fn put16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// A read-only or read-write view of an L2TPv2 message (header + payload).
///
/// [`Packet::new_checked`] validates the flags, the version, every optional
/// field and the Length field; after that no accessor can panic.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after validating the header (RFC 2661 §3.1):
    ///
    /// * Ver must be 2 — "Packets received with an unknown Ver field MUST be
    ///   discarded." Ver 1 (L2F) and Ver 3 (L2TPv3) give
    ///   [`Error::Unsupported`].
    /// * Control messages (T=1): "This bit \[L\] MUST be set to 1 for control
    ///   messages", "The S bit MUST be set to 1 for control messages", "The
    ///   O bit MUST be set to 0 (zero) for control messages", "The P bit MUST
    ///   be set to 0 (zero) for control messages" — violations are
    ///   [`Error::Malformed`].
    /// * Reserved bits: "ignored on incoming messages".
    /// * Length (when L): not shorter than the header (malformed), not longer
    ///   than the buffer (truncated). Bytes after Length are ignored.
    /// * Offset Size (when O): the offset pad must fit in the message.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let buf = buffer.as_ref();
        ensure_len("L2TP header", buf, 2)?;
        let flags = be16(buf, 0);
        match (flags & VERSION_MASK) as u8 {
            VERSION_L2TPV2 => {}
            1 => return Err(Error::Unsupported("L2TP version 1 (L2F)")),
            3 => return Err(Error::Unsupported("L2TP version 3 (L2TPv3)")),
            _ => return Err(Error::Unsupported("L2TP version other than 2")),
        }
        if flags & FLAG_TYPE != 0 {
            if flags & FLAG_LENGTH == 0 {
                return Err(Error::Malformed(
                    "L2TP control message without the Length (L) bit",
                ));
            }
            if flags & FLAG_SEQUENCE == 0 {
                return Err(Error::Malformed(
                    "L2TP control message without the Sequence (S) bit",
                ));
            }
            if flags & FLAG_OFFSET != 0 {
                return Err(Error::Malformed(
                    "L2TP control message with the Offset (O) bit",
                ));
            }
            if flags & FLAG_PRIORITY != 0 {
                return Err(Error::Malformed(
                    "L2TP control message with the Priority (P) bit",
                ));
            }
        }
        let layout = Layout::of(flags);
        ensure_len("L2TP header", buf, layout.fixed)?;
        let header_len = if flags & FLAG_OFFSET != 0 {
            layout.fixed + usize::from(be16(buf, layout.offset_size))
        } else {
            layout.fixed
        };
        let total = if flags & FLAG_LENGTH != 0 {
            let length = usize::from(be16(buf, 2));
            if length < layout.fixed {
                return Err(Error::Malformed("L2TP Length shorter than the header"));
            }
            ensure_len("L2TP message (Length field)", buf, length)?;
            length
        } else {
            buf.len()
        };
        if header_len > total {
            return Err(if flags & FLAG_LENGTH != 0 && header_len <= buf.len() {
                Error::Malformed("L2TP offset pad extends past Length")
            } else {
                Error::Truncated {
                    what: "L2TP offset pad",
                    need: header_len,
                    have: total,
                }
            });
        }
        Ok(Self { buffer })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn layout(&self) -> Layout {
        Layout::of(self.flags())
    }

    /// The first 16 bits: flags, reserved bits and Ver, as received.
    pub fn flags(&self) -> u16 {
        be16(self.buf(), 0)
    }

    /// T bit: a control message (otherwise a data message).
    pub fn is_control(&self) -> bool {
        self.flags() & FLAG_TYPE != 0
    }

    /// L bit: the Length field is present.
    pub fn has_length(&self) -> bool {
        self.flags() & FLAG_LENGTH != 0
    }

    /// S bit: the Ns and Nr fields are present.
    pub fn has_sequence(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    /// O bit: the Offset Size field is present.
    pub fn has_offset(&self) -> bool {
        self.flags() & FLAG_OFFSET != 0
    }

    /// P bit: the data message asks for preferential treatment.
    pub fn priority(&self) -> bool {
        self.flags() & FLAG_PRIORITY != 0
    }

    /// The reserved bits as received (ignored by this implementation).
    pub fn reserved_bits(&self) -> u16 {
        self.flags() & FLAGS_RESERVED
    }

    /// Ver (always 2 after [`Packet::new_checked`]).
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// The Length field, when present.
    pub fn length(&self) -> Option<u16> {
        self.has_length().then(|| be16(self.buf(), 2))
    }

    /// Tunnel ID — that of the recipient, not the sender (§3.1).
    pub fn tunnel_id(&self) -> u16 {
        be16(self.buf(), self.layout().ids)
    }

    /// Session ID — that of the recipient, not the sender (§3.1).
    pub fn session_id(&self) -> u16 {
        be16(self.buf(), self.layout().ids + 2)
    }

    /// Ns, when the S bit is set.
    pub fn ns(&self) -> Option<u16> {
        self.has_sequence()
            .then(|| be16(self.buf(), self.layout().sequence))
    }

    /// Nr, when the S bit is set. In data messages Nr "is reserved and, if
    /// present (as indicated by the S-bit), MUST be ignored upon receipt".
    pub fn nr(&self) -> Option<u16> {
        self.has_sequence()
            .then(|| be16(self.buf(), self.layout().sequence + 2))
    }

    /// Offset Size, when the O bit is set: bytes of offset pad between the
    /// Offset Size field and the payload.
    pub fn offset_size(&self) -> Option<u16> {
        self.has_offset()
            .then(|| be16(self.buf(), self.layout().offset_size))
    }

    /// Length of the header including any offset pad; the payload starts
    /// here.
    pub fn header_len(&self) -> usize {
        let layout = self.layout();
        layout.fixed + self.offset_size().map_or(0, usize::from)
    }

    /// Length of the message: the Length field when present, else the
    /// whole buffer.
    pub fn total_len(&self) -> usize {
        self.length().map_or(self.buf().len(), usize::from)
    }

    /// The payload: the AVPs of a control message, the PPP frame of a data
    /// message. Ends at Length when the L bit is set.
    pub fn payload(&self) -> &[u8] {
        &self.buf()[self.header_len()..self.total_len()]
    }

    /// The header and payload, without bytes past Length.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf()[..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Rewrites the Tunnel ID in place (tunnel switching, fast path).
    pub fn set_tunnel_id(&mut self, tunnel_id: u16) {
        let at = self.layout().ids;
        put16(self.buffer.as_mut(), at, tunnel_id);
    }

    /// Rewrites the Session ID in place.
    pub fn set_session_id(&mut self, session_id: u16) {
        let at = self.layout().ids + 2;
        put16(self.buffer.as_mut(), at, session_id);
    }

    /// Rewrites Ns in place; an error if the header carries no sequence
    /// numbers (S bit clear).
    pub fn set_ns(&mut self, ns: u16) -> Result<()> {
        if !self.has_sequence() {
            return Err(Error::Malformed("L2TP header has no Ns/Nr fields"));
        }
        let at = self.layout().sequence;
        put16(self.buffer.as_mut(), at, ns);
        Ok(())
    }

    /// Rewrites Nr in place — the control channel refreshes Nr on every
    /// retransmission (RFC 2661 §5.8); an error if S is clear.
    pub fn set_nr(&mut self, nr: u16) -> Result<()> {
        if !self.has_sequence() {
            return Err(Error::Malformed("L2TP header has no Ns/Nr fields"));
        }
        let at = self.layout().sequence + 2;
        put16(self.buffer.as_mut(), at, nr);
        Ok(())
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }
}

/// Ns and Nr of a header with the S bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequence {
    /// Ns: sequence number of this message.
    pub ns: u16,
    /// Nr: next sequence number expected (reserved, sent as 0, in data
    /// messages).
    pub nr: u16,
}

/// An owned L2TPv2 header.
///
/// Reserved bits are dropped on parse and sent as zero ("All reserved bits
/// MUST be set to 0 on outgoing messages"); the offset pad, whose content
/// "is undefined", is sent as zeros. The Length field is computed on emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// T bit: control message.
    pub control: bool,
    /// L bit: carry the Length field.
    pub with_length: bool,
    /// P bit (data messages only).
    pub priority: bool,
    /// Tunnel ID of the recipient.
    pub tunnel_id: u16,
    /// Session ID of the recipient.
    pub session_id: u16,
    /// Ns/Nr, present when the S bit is set.
    pub sequence: Option<Sequence>,
    /// Offset Size, present when the O bit is set.
    pub offset_size: Option<u16>,
}

impl HeaderRepr {
    /// A control message header (L and S set, no offset, no priority).
    pub const fn control(tunnel_id: u16, session_id: u16, ns: u16, nr: u16) -> Self {
        Self {
            control: true,
            with_length: true,
            priority: false,
            tunnel_id,
            session_id,
            sequence: Some(Sequence { ns, nr }),
            offset_size: None,
        }
    }

    /// The smallest data message header: no Length, no sequence, no offset.
    pub const fn data(tunnel_id: u16, session_id: u16) -> Self {
        Self {
            control: false,
            with_length: false,
            priority: false,
            tunnel_id,
            session_id,
            sequence: None,
            offset_size: None,
        }
    }

    /// Adds the Length field.
    #[must_use]
    pub const fn with_length(mut self) -> Self {
        self.with_length = true;
        self
    }

    /// Adds Ns (data messages send Nr as 0: it is reserved).
    #[must_use]
    pub const fn with_ns(mut self, ns: u16) -> Self {
        self.sequence = Some(Sequence { ns, nr: 0 });
        self
    }

    /// Adds an Offset Size field and that many bytes of (zero) pad.
    #[must_use]
    pub const fn with_offset(mut self, offset_size: u16) -> Self {
        self.offset_size = Some(offset_size);
        self
    }

    /// Sets the P bit.
    #[must_use]
    pub const fn with_priority(mut self) -> Self {
        self.priority = true;
        self
    }

    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Self {
        Self {
            control: packet.is_control(),
            with_length: packet.has_length(),
            priority: packet.priority(),
            tunnel_id: packet.tunnel_id(),
            session_id: packet.session_id(),
            sequence: packet
                .ns()
                .zip(packet.nr())
                .map(|(ns, nr)| Sequence { ns, nr }),
            offset_size: packet.offset_size(),
        }
    }

    /// The first 16 bits this header is sent with.
    pub const fn flags(&self) -> u16 {
        let mut flags = VERSION_L2TPV2 as u16;
        if self.control {
            flags |= FLAG_TYPE;
        }
        if self.with_length {
            flags |= FLAG_LENGTH;
        }
        if self.sequence.is_some() {
            flags |= FLAG_SEQUENCE;
        }
        if self.offset_size.is_some() {
            flags |= FLAG_OFFSET;
        }
        if self.priority {
            flags |= FLAG_PRIORITY;
        }
        flags
    }

    /// Bytes the header occupies, offset pad included. Constant for given
    /// options, so the fast path can reserve exactly this much headroom.
    pub const fn header_len(&self) -> usize {
        let mut len = MIN_HEADER_LEN;
        if self.with_length {
            len += 2;
        }
        if self.sequence.is_some() {
            len += 4;
        }
        if let Some(offset) = self.offset_size {
            len += 2 + offset as usize;
        }
        len
    }

    fn validate(&self) -> Result<()> {
        if self.control
            && (!self.with_length
                || self.sequence.is_none()
                || self.offset_size.is_some()
                || self.priority)
        {
            return Err(Error::Malformed(
                "L2TP control header needs L and S set, O and P clear (RFC 2661 §3.1)",
            ));
        }
        Ok(())
    }

    /// Writes the header into `out[..header_len()]` for a payload of
    /// `payload_len` bytes that follows it; returns the header length.
    pub fn emit(&self, out: &mut [u8], payload_len: usize) -> Result<usize> {
        self.validate()?;
        let header_len = self.header_len();
        ensure_room(out, header_len)?;
        let total = header_len
            .checked_add(payload_len)
            .filter(|total| *total <= usize::from(u16::MAX));
        let length = match (self.with_length, total) {
            (false, _) => 0,
            (true, Some(total)) => total as u16,
            (true, None) => return Err(Error::Malformed("L2TP message longer than 65535 bytes")),
        };
        let flags = self.flags();
        let layout = Layout::of(flags);
        let out = &mut out[..header_len];
        put16(out, 0, flags);
        if self.with_length {
            put16(out, 2, length);
        }
        put16(out, layout.ids, self.tunnel_id);
        put16(out, layout.ids + 2, self.session_id);
        if let Some(sequence) = self.sequence {
            put16(out, layout.sequence, sequence.ns);
            put16(out, layout.sequence + 2, sequence.nr);
        }
        if let Some(offset) = self.offset_size {
            put16(out, layout.offset_size, offset);
            out[layout.fixed..].fill(0);
        }
        Ok(header_len)
    }

    /// Writes the header into the headroom just before a payload that
    /// already sits at `buf[payload_start..payload_start + payload_len]`,
    /// in place and without allocating. Returns the offset where the
    /// message now starts.
    pub fn emit_before(
        &self,
        buf: &mut [u8],
        payload_start: usize,
        payload_len: usize,
    ) -> Result<usize> {
        let header_len = self.header_len();
        let start = payload_start
            .checked_sub(header_len)
            .ok_or(Error::BufferTooSmall {
                need: header_len,
                have: payload_start,
            })?;
        let end = payload_start
            .checked_add(payload_len)
            .filter(|end| *end <= buf.len())
            .ok_or(Error::BufferTooSmall {
                need: payload_start.saturating_add(payload_len),
                have: buf.len(),
            })?;
        self.emit(&mut buf[start..end], payload_len)?;
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header_strategy() -> impl Strategy<Value = HeaderRepr> {
        let control = (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>())
            .prop_map(|(t, s, ns, nr)| HeaderRepr::control(t, s, ns, nr));
        let data = (
            any::<bool>(),
            any::<bool>(),
            any::<u16>(),
            any::<u16>(),
            proptest::option::of((any::<u16>(), any::<u16>())),
            proptest::option::of(0u16..64),
        )
            .prop_map(
                |(with_length, priority, tunnel_id, session_id, seq, offset_size)| HeaderRepr {
                    control: false,
                    with_length,
                    priority,
                    tunnel_id,
                    session_id,
                    sequence: seq.map(|(ns, nr)| Sequence { ns, nr }),
                    offset_size,
                },
            );
        prop_oneof![control, data]
    }

    proptest! {
        #[test]
        fn header_round_trips(repr in header_strategy(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = vec![0xAA; repr.header_len() + payload.len()];
            let hl = repr.emit(&mut buf, payload.len()).unwrap();
            prop_assert_eq!(hl, repr.header_len());
            buf[hl..].copy_from_slice(&payload);
            let packet = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(HeaderRepr::parse(&packet), repr);
            prop_assert_eq!(packet.header_len(), hl);
            prop_assert_eq!(packet.payload(), &payload[..]);
            // Canonical bytes: emit(parse(bytes)) == bytes.
            let mut again = buf.clone();
            HeaderRepr::parse(&packet).emit(&mut again, payload.len()).unwrap();
            prop_assert_eq!(again, buf);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.tunnel_id(), packet.session_id(), packet.ns(), packet.nr(), packet.payload());
                let repr = HeaderRepr::parse(&packet);
                let mut out = vec![0; repr.header_len() + packet.payload().len()];
                let hl = repr.emit(&mut out, packet.payload().len()).unwrap();
                out[hl..].copy_from_slice(packet.payload());
                let again = Packet::new_checked(&out[..]).unwrap();
                prop_assert_eq!(HeaderRepr::parse(&again), repr);
                prop_assert_eq!(again.payload(), packet.payload());
            }
        }
    }

    #[test]
    fn control_header_bytes() {
        // SCCRP header from the xl2tpd <-> BNG Blaster fixture.
        let bytes = [
            0xc8, 0x02, 0x00, 0x0c, 0xc1, 0x23, 0x00, 0x00, 0x00, 0x02, 0x00, 0x04,
        ];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.is_control());
        assert_eq!(packet.length(), Some(12));
        assert_eq!(packet.tunnel_id(), 0xc123);
        assert_eq!(packet.session_id(), 0);
        assert_eq!((packet.ns(), packet.nr()), (Some(2), Some(4)));
        assert!(packet.payload().is_empty());
        let mut out = [0u8; 12];
        HeaderRepr::control(0xc123, 0, 2, 4)
            .emit(&mut out, 0)
            .unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn version_checks() {
        assert_eq!(
            Packet::new_checked(&[0x00, 0x03, 0, 0, 0, 0][..]).unwrap_err(),
            Error::Unsupported("L2TP version 3 (L2TPv3)")
        );
        assert_eq!(
            Packet::new_checked(&[0x00, 0x01, 0, 0, 0, 0][..]).unwrap_err(),
            Error::Unsupported("L2TP version 1 (L2F)")
        );
        assert!(matches!(
            Packet::new_checked(&[0x00, 0x0f, 0, 0, 0, 0][..]),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(peek_version(&[0xc8, 0x03]), Some(3));
        assert_eq!(peek_version(&[0xc8]), None);
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let bytes = [0x34, 0xF2, 0, 1, 0, 2, 0xde, 0xad];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.is_control());
        assert_eq!(packet.reserved_bits(), FLAGS_RESERVED);
        assert_eq!(packet.tunnel_id(), 1);
        assert_eq!(packet.session_id(), 2);
        assert_eq!(packet.payload(), &[0xde, 0xad]);
    }

    #[test]
    fn control_flag_rules() {
        // T without L, T without S, T with O, T with P.
        for (flags, needle) in [
            (0x8802u16, "Length"),
            (0xC002, "Sequence"),
            (0xCA02, "Offset"),
            (0xC902, "Priority"),
        ] {
            let mut bytes = [0u8; 16];
            bytes[..2].copy_from_slice(&flags.to_be_bytes());
            bytes[2..4].copy_from_slice(&16u16.to_be_bytes());
            match Packet::new_checked(&bytes[..]) {
                Err(Error::Malformed(what)) => assert!(what.contains(needle), "{what}"),
                other => panic!("{flags:#x}: {other:?}"),
            }
        }
    }

    #[test]
    fn length_field_checks() {
        // Length below the header.
        let short = [0xc8, 0x02, 0x00, 0x0b, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            Packet::new_checked(&short[..]),
            Err(Error::Malformed(_))
        ));
        // Length beyond the buffer.
        let long = [0xc8, 0x02, 0x00, 0x0d, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            Packet::new_checked(&long[..]),
            Err(Error::Truncated {
                need: 13,
                have: 12,
                ..
            })
        ));
        // Trailing bytes after Length are not part of the payload.
        let trailing = [0x40, 0x02, 0x00, 0x08, 0, 1, 0, 2, 0xff, 0xff];
        let packet = Packet::new_checked(&trailing[..]).unwrap();
        assert!(packet.payload().is_empty());
        assert_eq!(packet.as_bytes().len(), 8);
        // Every truncation of a full control header fails cleanly.
        let full = [0xc8, 0x02, 0x00, 0x0c, 0, 1, 0, 0, 0, 0, 0, 0];
        for cut in 0..full.len() {
            assert!(Packet::new_checked(&full[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn offset_checks() {
        // O bit, Offset Size 4, pad present, then payload.
        let bytes = [0x02, 0x02, 0, 1, 0, 2, 0, 4, 9, 9, 9, 9, 0xff, 0x03];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.offset_size(), Some(4));
        assert_eq!(packet.header_len(), 12);
        assert_eq!(packet.payload(), &[0xff, 0x03]);
        // Offset pad past the end of the buffer.
        let bytes = [0x02, 0x02, 0, 1, 0, 2, 0, 9, 9, 9];
        assert!(matches!(
            Packet::new_checked(&bytes[..]),
            Err(Error::Truncated { .. })
        ));
        // Offset pad past Length but inside the buffer.
        let bytes = [0x42, 0x02, 0, 10, 0, 1, 0, 2, 0, 4, 9, 9, 9, 9];
        assert!(matches!(
            Packet::new_checked(&bytes[..]),
            Err(Error::Malformed(_))
        ));
        // Offset Size field itself missing.
        let bytes = [0x02, 0x02, 0, 1, 0, 2, 0];
        assert!(matches!(
            Packet::new_checked(&bytes[..]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn in_place_data_header_and_patching() {
        let payload = [0xff, 0x03, 0xc0, 0x21, 1, 2, 0, 4];
        for repr in [
            HeaderRepr::data(7, 9),
            HeaderRepr::data(7, 9).with_length(),
            HeaderRepr::data(7, 9).with_ns(3),
            HeaderRepr::data(7, 9)
                .with_length()
                .with_ns(3)
                .with_offset(2)
                .with_priority(),
        ] {
            let headroom = 16;
            let mut frame = vec![0x55u8; headroom + payload.len() + 4];
            frame[headroom..headroom + payload.len()].copy_from_slice(&payload);
            let start = repr
                .emit_before(&mut frame, headroom, payload.len())
                .unwrap();
            assert_eq!(start, headroom - repr.header_len());
            let end = headroom + payload.len();
            let packet = Packet::new_checked(&frame[start..end]).unwrap();
            assert_eq!(HeaderRepr::parse(&packet), repr);
            assert_eq!(packet.payload(), &payload);
            if repr.with_length {
                assert_eq!(packet.length(), Some((end - start) as u16));
            }
        }
        // Not enough headroom.
        let mut frame = [0u8; 10];
        assert!(matches!(
            HeaderRepr::data(1, 1)
                .with_length()
                .with_ns(0)
                .emit_before(&mut frame, 4, 2),
            Err(Error::BufferTooSmall { .. })
        ));
        // Payload beyond the buffer.
        assert!(
            HeaderRepr::data(1, 1)
                .emit_before(&mut frame, 6, 5)
                .is_err()
        );

        // Patch Ns/Nr and ids on a control header in place.
        let mut bytes = [0u8; 12];
        HeaderRepr::control(1, 2, 3, 4).emit(&mut bytes, 0).unwrap();
        let mut packet = Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_nr(77).unwrap();
        packet.set_ns(66).unwrap();
        packet.set_tunnel_id(11);
        packet.set_session_id(22);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            HeaderRepr::parse(&packet),
            HeaderRepr::control(11, 22, 66, 77)
        );
        // No sequence numbers to patch on a minimal data header.
        let mut data = [0x00, 0x02, 0, 1, 0, 2];
        let mut packet = Packet::new_checked(&mut data[..]).unwrap();
        assert!(packet.set_nr(1).is_err());
    }

    #[test]
    fn invalid_control_repr_is_refused() {
        let mut out = [0u8; 32];
        let mut repr = HeaderRepr::control(1, 2, 3, 4);
        repr.offset_size = Some(0);
        assert!(matches!(repr.emit(&mut out, 0), Err(Error::Malformed(_))));
        let repr = HeaderRepr::data(1, 1).with_length();
        assert!(repr.emit(&mut out, 70_000).is_err());
    }
}
