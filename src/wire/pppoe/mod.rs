//! PPP over Ethernet (PPPoE) packets.
//!
//! Implemented:
//!
//! * the PPPoE header shared by both stages (RFC 2516 §4): VER, TYPE, CODE,
//!   SESSION_ID, LENGTH;
//! * Discovery-stage tags (RFC 2516 §5 and Appendix A), the RFC 5578
//!   credit-flow and metrics tags, PPP-Max-Payload (RFC 4638 §4), and the
//!   Broadband Forum (DSL Forum) Vendor-Specific tag that intermediate
//!   agents insert (TR-101 §3.9.3, RFC 4679 §3), with its Agent-Circuit-Id
//!   and Agent-Remote-Id sub-options typed and every other sub-option kept
//!   verbatim;
//! * the Session stage (RFC 2516 §6): a view giving the PPP frame and
//!   helpers that write the 6-byte header in front of a PPP frame already in
//!   the buffer, for the forwarding fast path.
//!
//! This file has the constants and the header view shared by both stages;
//! `discovery` has the tags and discovery packets, `session` the Session
//! stage.
//!
//! ## LENGTH and padding
//!
//! Ethernet pads short frames to 60 bytes, so a PPPoE packet is often
//! followed by padding. Every view here trusts LENGTH, never the buffer
//! length: bytes after `6 + LENGTH` are ignored. A LENGTH that points past
//! the end of the buffer is an error ([`Error::Truncated`]); tshark does not
//! flag that case, this module does.
//!
//! ## Tags
//!
//! [`TagIter`] walks the tags of a payload without copying and stops with an
//! error at a tag that overruns the payload. [`Tag`] is the owned, typed
//! form; [`DiscoveryRepr`] an owned discovery packet with accessors for the
//! tags the discovery core needs. Unknown tag types round-trip as
//! [`Tag::Unknown`] (RFC 2516 §5: "If a discovery packet is received with a
//! TAG of unknown TAG_TYPE, the TAG MUST be ignored unless otherwise
//! specified in this document" — ignoring is the core's choice, keeping it
//! lets a relay forward it unmodified).

use super::{Error, Result, ensure_len, ensure_room};

mod discovery;
mod session;

pub use discovery::{
    BbfSubOption, BbfSubOptionType, DiscoveryRepr, IpRoute, Metrics, RawTag, Tag, TagIter, TagType,
    VendorSpecific,
};
pub use session::{SessionHeader, SessionPacket, encapsulate_session_in_place};

/// Length of the PPPoE header.
pub const HEADER_LEN: usize = 6;
/// Length of a tag header (TAG_TYPE + TAG_LENGTH).
pub const TAG_HEADER_LEN: usize = 4;
/// The VER and TYPE nibbles this implementation speaks: both 1.
pub const VERSION_AND_TYPE: u8 = 0x11;
/// The largest LENGTH the 16-bit field holds.
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;
/// The MRU a PPPoE session uses unless RFC 4638 PPP-Max-Payload raises it
/// (RFC 2516 §7: "The Maximum-Receive-Unit (MRU) option MUST NOT be
/// negotiated to a larger size than 1492").
pub const DEFAULT_MAX_PAYLOAD: u16 = 1492;
/// IANA Private Enterprise Number of the Broadband Forum (formerly DSL
/// Forum), used by the Vendor-Specific tag of RFC 4679 / TR-101.
pub const BROADBAND_FORUM_VENDOR_ID: u32 = 3561;

#[inline]
fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

#[inline]
fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

#[inline]
fn write_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
}

/// Converts a length to a 16-bit field, or names the field that overflows.
fn len_u16(len: usize, what: &'static str) -> Result<u16> {
    u16::try_from(len).map_err(|_| Error::Malformed(what))
}

crate::open_enum! {
    /// The CODE field (RFC 2516 §5, §6).
    pub enum Code(u8) {
        /// Session-stage data (RFC 2516 §6: "The PPPoE CODE MUST be set to
        /// 0x00").
        Session = 0x00,
        /// PPPoE Active Discovery Offer.
        Pado = 0x07,
        /// PPPoE Active Discovery Initiation.
        Padi = 0x09,
        /// PPPoE Active Discovery Request.
        Padr = 0x19,
        /// PPPoE Active Discovery Session-confirmation.
        Pads = 0x65,
        /// PPPoE Active Discovery Terminate.
        Padt = 0xa7,
    }
}

// ---------------------------------------------------------------------------
// Header view
// ---------------------------------------------------------------------------

/// A zero-copy view of a PPPoE packet (either stage), starting at the
/// PPPoE header.
#[derive(Debug, Clone)]
pub struct Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header and that LENGTH fits in the buffer.
    ///
    /// RFC 2516 §4: "The VER field is four bits and MUST be set to 0x1 for
    /// this version of the PPPoE specification. The TYPE field is four bits
    /// and MUST be set to 0x1 for this version of the PPPoE specification."
    /// Any other value is [`Error::Unsupported`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("PPPoE header", bytes, HEADER_LEN)?;
        if bytes[0] != VERSION_AND_TYPE {
            return Err(Error::Unsupported("PPPoE VER/TYPE other than 1/1"));
        }
        let total = HEADER_LEN + usize::from(read_u16(bytes, 4));
        ensure_len("PPPoE payload (LENGTH)", bytes, total)?;
        Ok(Self { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The VER nibble (always 1 after the check).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The TYPE nibble (always 1 after the check).
    pub fn pppoe_type(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x0f
    }

    /// CODE.
    pub fn code(&self) -> Code {
        Code::from(self.buffer.as_ref()[1])
    }

    /// SESSION_ID.
    pub fn session_id(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// LENGTH: the payload length, excluding the header.
    pub fn payload_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 4)
    }

    /// Header plus LENGTH.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }

    /// Exactly LENGTH bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.total_len()]
    }

    /// The bytes after the payload (Ethernet padding), ignored.
    pub fn padding(&self) -> &[u8] {
        &self.buffer.as_ref()[self.total_len()..]
    }

    /// The payload's tags (meaningful for Discovery packets).
    pub fn tags(&self) -> TagIter<'_> {
        TagIter::new(self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets CODE.
    pub fn set_code(&mut self, code: Code) {
        self.buffer.as_mut()[1] = code.into();
    }

    /// Sets SESSION_ID.
    pub fn set_session_id(&mut self, session_id: u16) {
        write_u16(self.buffer.as_mut(), 2, session_id);
    }

    /// Sets LENGTH; it must still fit in the buffer.
    pub fn set_payload_len(&mut self, len: u16) -> Result<()> {
        ensure_room(self.buffer.as_ref(), HEADER_LEN + usize::from(len))?;
        write_u16(self.buffer.as_mut(), 4, len);
        Ok(())
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}
