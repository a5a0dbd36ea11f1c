//! Attribute-Value Pairs (RFC 2661 §4.1, §4.4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Attribute Type        |        Attribute Value...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! * [`RawAvp`] / [`AvpIter`]: zero-copy walk over the AVPs of a message,
//!   validating only the AVP header (§4.1).
//! * [`AvpType`]: the IETF attribute types of §4.4, an open enum, with what
//!   the RFC says about each one's size and M/H bits (`types`).
//! * The value types of §4.4.2–§4.4.6 — [`ResultCode`] and its codes,
//!   [`Q931Cause`], the [`Framing`]/[`Bearer`] bit sets, [`ProxyAuthenType`],
//!   [`CallErrors`], [`Accm`] (`value`).
//! * [`Avp`]: a decoded AVP, one variant per IETF AVP with its value
//!   checked against the size §4.4 gives it (errors name the AVP), plus
//!   variants that keep unknown, vendor, reserved-bit and undecryptable
//!   hidden AVPs verbatim so they round-trip.
//!
//! The M and H bits are not part of [`Avp`]: a message keeps them next to
//! each AVP (see [`super::MessageAvp`]), so every AVP — typed or not —
//! round-trips with the bits it was received with.

use crate::wire::{Error, Result, ensure_len, ensure_room};

use super::hidden;
use super::message::MessageType;

mod types;
mod value;

pub use types::AvpType;
pub use value::{
    Accm, Bearer, CallErrors, CdnResult, Framing, GeneralError, MESSAGE_SHOWN, ProtocolVersion,
    ProxyAuthenType, Q931Cause, ResultCode, ResultError, StopCcnResult,
};

/// Length of the AVP header: flags + Length, Vendor ID, Attribute Type.
pub const AVP_HEADER_LEN: usize = 6;
/// Largest AVP the 10-bit Length field can describe.
pub const MAX_AVP_LEN: usize = 0x03FF;
/// Largest attribute value an AVP can carry.
pub const MAX_AVP_VALUE_LEN: usize = MAX_AVP_LEN - AVP_HEADER_LEN;
/// M bit.
pub const AVP_FLAG_MANDATORY: u16 = 0x8000;
/// H bit.
pub const AVP_FLAG_HIDDEN: u16 = 0x4000;
/// The four reserved bits after M and H.
pub const AVP_RESERVED_MASK: u16 = 0x3C00;
/// The 10-bit Length field.
pub const AVP_LENGTH_MASK: u16 = 0x03FF;
/// Vendor ID of the AVPs the IETF defines.
pub const IETF_VENDOR_ID: u16 = 0;

/// One AVP as it sits in the message, borrowed from the packet.
///
/// The header is checked (Length ≥ 6 and within the buffer); the value is
/// not interpreted, and is still encrypted when `hidden` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    /// M bit.
    pub mandatory: bool,
    /// H bit: `value` is a hidden (encrypted) subformat.
    pub hidden: bool,
    /// The four reserved bits (0..=15). "An AVP received with a reserved
    /// bit set to 1 MUST be treated as an unrecognized AVP."
    pub reserved_bits: u8,
    /// Vendor ID (0 for IETF AVPs).
    pub vendor_id: u16,
    /// Attribute Type.
    pub attr_type: u16,
    /// Attribute Value (Length − 6 bytes).
    pub value: &'a [u8],
}

impl<'a> RawAvp<'a> {
    /// Parses the AVP at the start of `buf`; returns it and the bytes it
    /// occupies.
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize)> {
        ensure_len("AVP header", buf, AVP_HEADER_LEN)?;
        let word = u16::from_be_bytes([buf[0], buf[1]]);
        let len = usize::from(word & AVP_LENGTH_MASK);
        if len < AVP_HEADER_LEN {
            return Err(Error::Malformed("AVP Length below 6 (RFC 2661 §4.1)"));
        }
        ensure_len("AVP (Length field)", buf, len)?;
        Ok((
            Self {
                mandatory: word & AVP_FLAG_MANDATORY != 0,
                hidden: word & AVP_FLAG_HIDDEN != 0,
                reserved_bits: ((word & AVP_RESERVED_MASK) >> 10) as u8,
                vendor_id: u16::from_be_bytes([buf[2], buf[3]]),
                attr_type: u16::from_be_bytes([buf[4], buf[5]]),
                value: &buf[AVP_HEADER_LEN..len],
            },
            len,
        ))
    }

    /// The IETF attribute type, if this is an IETF AVP (Vendor ID 0).
    pub fn ietf_type(&self) -> Option<AvpType> {
        (self.vendor_id == IETF_VENDOR_ID).then(|| AvpType::from(self.attr_type))
    }

    /// Bytes the AVP occupies on the wire.
    pub fn wire_len(&self) -> usize {
        AVP_HEADER_LEN + self.value.len()
    }
}

/// Writes an AVP header for a value of `value_len` bytes into `out[..6]`.
pub fn write_avp_header(
    out: &mut [u8],
    mandatory: bool,
    hidden: bool,
    reserved_bits: u8,
    vendor_id: u16,
    attr_type: u16,
    value_len: usize,
) -> Result<()> {
    ensure_room(out, AVP_HEADER_LEN)?;
    if value_len > MAX_AVP_VALUE_LEN {
        return Err(Error::Malformed(
            "AVP value longer than 1017 bytes (10-bit Length field)",
        ));
    }
    let mut word = (AVP_HEADER_LEN + value_len) as u16;
    if mandatory {
        word |= AVP_FLAG_MANDATORY;
    }
    if hidden {
        word |= AVP_FLAG_HIDDEN;
    }
    word |= (u16::from(reserved_bits) << 10) & AVP_RESERVED_MASK;
    out[0..2].copy_from_slice(&word.to_be_bytes());
    out[2..4].copy_from_slice(&vendor_id.to_be_bytes());
    out[4..6].copy_from_slice(&attr_type.to_be_bytes());
    Ok(())
}

/// Zero-copy iterator over the AVPs of a control message body.
///
/// Yields `Err` once for the first malformed AVP and then stops: after a
/// bad Length nothing that follows can be located.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    rest: &'a [u8],
}

impl<'a> AvpIter<'a> {
    /// Iterates over the AVPs in `body`.
    pub const fn new(body: &'a [u8]) -> Self {
        Self { rest: body }
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<RawAvp<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match RawAvp::parse(self.rest) {
            Ok((avp, len)) => {
                self.rest = &self.rest[len..];
                Some(Ok(avp))
            }
            Err(error) => {
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for AvpIter<'_> {}

/// A decoded AVP (its M and H bits live beside it, in
/// [`super::MessageAvp`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Avp {
    /// 0 — Message Type (normally carried as
    /// [`super::ControlMessage::message_type`]; a second one lands here).
    MessageType(MessageType),
    /// 1 — Result Code.
    ResultCode(ResultCode),
    /// 2 — Protocol Version.
    ProtocolVersion(ProtocolVersion),
    /// 3 — Framing Capabilities.
    FramingCapabilities(Framing),
    /// 4 — Bearer Capabilities.
    BearerCapabilities(Bearer),
    /// 5 — Tie Breaker (8 octets).
    TieBreaker([u8; 8]),
    /// 6 — Firmware Revision.
    FirmwareRevision(u16),
    /// 7 — Host Name (at least one octet).
    HostName(Vec<u8>),
    /// 8 — Vendor Name.
    VendorName(Vec<u8>),
    /// 9 — Assigned Tunnel ID.
    AssignedTunnelId(u16),
    /// 10 — Receive Window Size.
    ReceiveWindowSize(u16),
    /// 11 — Challenge (at least one octet).
    Challenge(Vec<u8>),
    /// 12 — Q.931 Cause Code.
    Q931CauseCode(Q931Cause),
    /// 13 — Challenge Response (16 octets).
    ChallengeResponse([u8; 16]),
    /// 14 — Assigned Session ID.
    AssignedSessionId(u16),
    /// 15 — Call Serial Number.
    CallSerialNumber(u32),
    /// 16 — Minimum BPS.
    MinimumBps(u32),
    /// 17 — Maximum BPS.
    MaximumBps(u32),
    /// 18 — Bearer Type.
    BearerType(Bearer),
    /// 19 — Framing Type.
    FramingType(Framing),
    /// 21 — Called Number.
    CalledNumber(Vec<u8>),
    /// 22 — Calling Number.
    CallingNumber(Vec<u8>),
    /// 23 — Sub-Address.
    SubAddress(Vec<u8>),
    /// 24 — (Tx) Connect Speed, bits per second.
    TxConnectSpeed(u32),
    /// 25 — Physical Channel ID.
    PhysicalChannelId(u32),
    /// 26 — Initial Received LCP CONFREQ (the options, from the first).
    InitialReceivedLcpConfReq(Vec<u8>),
    /// 27 — Last Sent LCP CONFREQ.
    LastSentLcpConfReq(Vec<u8>),
    /// 28 — Last Received LCP CONFREQ.
    LastReceivedLcpConfReq(Vec<u8>),
    /// 29 — Proxy Authen Type.
    ProxyAuthenType(ProxyAuthenType),
    /// 30 — Proxy Authen Name.
    ProxyAuthenName(Vec<u8>),
    /// 31 — Proxy Authen Challenge.
    ProxyAuthenChallenge(Vec<u8>),
    /// 32 — Proxy Authen ID: the PPP authentication identifier (low octet)
    /// after a reserved octet, kept as received.
    ProxyAuthenId {
        /// The reserved first octet.
        reserved: u8,
        /// The CHAP/PAP identifier.
        id: u8,
    },
    /// 33 — Proxy Authen Response.
    ProxyAuthenResponse(Vec<u8>),
    /// 34 — Call Errors.
    CallErrors(CallErrors),
    /// 35 — ACCM.
    Accm(Accm),
    /// 36 — Random Vector.
    RandomVector(Vec<u8>),
    /// 37 — Private Group ID.
    PrivateGroupId(Vec<u8>),
    /// 38 — Rx Connect Speed, bits per second.
    RxConnectSpeed(u32),
    /// 39 — Sequencing Required (no value).
    SequencingRequired,
    /// An IETF AVP (Vendor ID 0) of a type RFC 2661 does not define.
    Unknown {
        /// Attribute Type (never one [`AvpType`] names).
        attr_type: u16,
        /// Attribute Value (cleartext).
        value: Vec<u8>,
    },
    /// A vendor-specific AVP (Vendor ID ≠ 0).
    Vendor {
        /// Vendor ID (SMI Network Management Private Enterprise Code).
        vendor_id: u16,
        /// Vendor's attribute type.
        attr_type: u16,
        /// Attribute Value (cleartext).
        value: Vec<u8>,
    },
    /// An AVP with reserved header bits set, which "MUST be treated as an
    /// unrecognized AVP" (§4.1). Kept verbatim (even if hidden: not
    /// unhidden).
    Unrecognized {
        /// The reserved bits (1..=15).
        reserved_bits: u8,
        /// Vendor ID.
        vendor_id: u16,
        /// Attribute Type.
        attr_type: u16,
        /// Attribute Value, exactly as received.
        value: Vec<u8>,
    },
    /// A hidden AVP that was not unhidden because no tunnel secret was
    /// given: its value is still the encrypted subformat. It is re-sent
    /// verbatim (H set), which is only meaningful after the same Random
    /// Vector.
    Concealed {
        /// Vendor ID.
        vendor_id: u16,
        /// Attribute Type.
        attr_type: u16,
        /// The encrypted Hidden AVP Subformat.
        ciphertext: Vec<u8>,
    },
}

fn be16(v: &[u8]) -> u16 {
    u16::from_be_bytes([v[0], v[1]])
}

fn be32(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

impl Avp {
    /// Vendor ID of the AVP.
    pub fn vendor_id(&self) -> u16 {
        match self {
            Self::Vendor { vendor_id, .. }
            | Self::Unrecognized { vendor_id, .. }
            | Self::Concealed { vendor_id, .. } => *vendor_id,
            _ => IETF_VENDOR_ID,
        }
    }

    /// Attribute Type on the wire.
    pub fn attr_type(&self) -> u16 {
        match self {
            Self::Unknown { attr_type, .. }
            | Self::Vendor { attr_type, .. }
            | Self::Unrecognized { attr_type, .. }
            | Self::Concealed { attr_type, .. } => *attr_type,
            other => u16::from(other.typed_ietf_type()),
        }
    }

    /// The IETF type of an IETF AVP (Vendor ID 0), known or not.
    pub fn ietf_type(&self) -> Option<AvpType> {
        (self.vendor_id() == IETF_VENDOR_ID).then(|| AvpType::from(self.attr_type()))
    }

    /// Type of a variant that decodes an IETF AVP.
    fn typed_ietf_type(&self) -> AvpType {
        match self {
            Self::MessageType(_) => AvpType::MessageType,
            Self::ResultCode(_) => AvpType::ResultCode,
            Self::ProtocolVersion(_) => AvpType::ProtocolVersion,
            Self::FramingCapabilities(_) => AvpType::FramingCapabilities,
            Self::BearerCapabilities(_) => AvpType::BearerCapabilities,
            Self::TieBreaker(_) => AvpType::TieBreaker,
            Self::FirmwareRevision(_) => AvpType::FirmwareRevision,
            Self::HostName(_) => AvpType::HostName,
            Self::VendorName(_) => AvpType::VendorName,
            Self::AssignedTunnelId(_) => AvpType::AssignedTunnelId,
            Self::ReceiveWindowSize(_) => AvpType::ReceiveWindowSize,
            Self::Challenge(_) => AvpType::Challenge,
            Self::Q931CauseCode(_) => AvpType::Q931CauseCode,
            Self::ChallengeResponse(_) => AvpType::ChallengeResponse,
            Self::AssignedSessionId(_) => AvpType::AssignedSessionId,
            Self::CallSerialNumber(_) => AvpType::CallSerialNumber,
            Self::MinimumBps(_) => AvpType::MinimumBps,
            Self::MaximumBps(_) => AvpType::MaximumBps,
            Self::BearerType(_) => AvpType::BearerType,
            Self::FramingType(_) => AvpType::FramingType,
            Self::CalledNumber(_) => AvpType::CalledNumber,
            Self::CallingNumber(_) => AvpType::CallingNumber,
            Self::SubAddress(_) => AvpType::SubAddress,
            Self::TxConnectSpeed(_) => AvpType::TxConnectSpeed,
            Self::PhysicalChannelId(_) => AvpType::PhysicalChannelId,
            Self::InitialReceivedLcpConfReq(_) => AvpType::InitialReceivedLcpConfReq,
            Self::LastSentLcpConfReq(_) => AvpType::LastSentLcpConfReq,
            Self::LastReceivedLcpConfReq(_) => AvpType::LastReceivedLcpConfReq,
            Self::ProxyAuthenType(_) => AvpType::ProxyAuthenType,
            Self::ProxyAuthenName(_) => AvpType::ProxyAuthenName,
            Self::ProxyAuthenChallenge(_) => AvpType::ProxyAuthenChallenge,
            Self::ProxyAuthenId { .. } => AvpType::ProxyAuthenId,
            Self::ProxyAuthenResponse(_) => AvpType::ProxyAuthenResponse,
            Self::CallErrors(_) => AvpType::CallErrors,
            Self::Accm(_) => AvpType::Accm,
            Self::RandomVector(_) => AvpType::RandomVector,
            Self::PrivateGroupId(_) => AvpType::PrivateGroupId,
            Self::RxConnectSpeed(_) => AvpType::RxConnectSpeed,
            Self::SequencingRequired => AvpType::SequencingRequired,
            Self::Unknown { attr_type, .. }
            | Self::Vendor { attr_type, .. }
            | Self::Unrecognized { attr_type, .. }
            | Self::Concealed { attr_type, .. } => AvpType::Unknown(*attr_type),
        }
    }

    /// Whether this implementation understood the AVP. `false` for
    /// unknown and vendor types, reserved-bit AVPs, and hidden AVPs left
    /// encrypted; with the M bit set such an AVP obliges the receiver to
    /// tear down the session or tunnel (§4.1) — the control plane decides.
    pub fn is_recognized(&self) -> bool {
        !matches!(
            self,
            Self::Unknown { .. }
                | Self::Vendor { .. }
                | Self::Unrecognized { .. }
                | Self::Concealed { .. }
        )
    }

    /// The M bit to send this AVP with when the RFC prescribes one (else
    /// `false`).
    pub fn default_mandatory(&self) -> bool {
        if self.is_recognized() {
            self.typed_ietf_type().rfc_mandatory().unwrap_or(false)
        } else {
            false
        }
    }

    /// Decodes the cleartext value of a non-reserved AVP, validating its
    /// size against RFC 2661 §4.4 (errors name the AVP).
    pub fn decode(vendor_id: u16, attr_type: u16, value: &[u8]) -> Result<Self> {
        if vendor_id != IETF_VENDOR_ID {
            return Ok(Self::Vendor {
                vendor_id,
                attr_type,
                value: value.to_vec(),
            });
        }
        let ty = AvpType::from(attr_type);
        ty.check_value_len(value.len())?;
        let v = value;
        Ok(match ty {
            AvpType::MessageType => Self::MessageType(be16(v).into()),
            AvpType::ResultCode => Self::ResultCode(ResultCode {
                result: be16(v),
                error: (v.len() >= 4).then(|| ResultError {
                    code: be16(&v[2..]).into(),
                    message: v[4..].to_vec(),
                }),
            }),
            AvpType::ProtocolVersion => Self::ProtocolVersion(ProtocolVersion {
                version: v[0],
                revision: v[1],
            }),
            AvpType::FramingCapabilities => Self::FramingCapabilities(Framing(be32(v))),
            AvpType::BearerCapabilities => Self::BearerCapabilities(Bearer(be32(v))),
            AvpType::TieBreaker => {
                let mut tie = [0u8; 8];
                tie.copy_from_slice(v);
                Self::TieBreaker(tie)
            }
            AvpType::FirmwareRevision => Self::FirmwareRevision(be16(v)),
            AvpType::HostName => Self::HostName(v.to_vec()),
            AvpType::VendorName => Self::VendorName(v.to_vec()),
            AvpType::AssignedTunnelId => Self::AssignedTunnelId(be16(v)),
            AvpType::ReceiveWindowSize => Self::ReceiveWindowSize(be16(v)),
            AvpType::Challenge => Self::Challenge(v.to_vec()),
            AvpType::Q931CauseCode => Self::Q931CauseCode(Q931Cause {
                cause_code: be16(v),
                cause_msg: v[2],
                advisory: v[3..].to_vec(),
            }),
            AvpType::ChallengeResponse => {
                let mut response = [0u8; 16];
                response.copy_from_slice(v);
                Self::ChallengeResponse(response)
            }
            AvpType::AssignedSessionId => Self::AssignedSessionId(be16(v)),
            AvpType::CallSerialNumber => Self::CallSerialNumber(be32(v)),
            AvpType::MinimumBps => Self::MinimumBps(be32(v)),
            AvpType::MaximumBps => Self::MaximumBps(be32(v)),
            AvpType::BearerType => Self::BearerType(Bearer(be32(v))),
            AvpType::FramingType => Self::FramingType(Framing(be32(v))),
            AvpType::CalledNumber => Self::CalledNumber(v.to_vec()),
            AvpType::CallingNumber => Self::CallingNumber(v.to_vec()),
            AvpType::SubAddress => Self::SubAddress(v.to_vec()),
            AvpType::TxConnectSpeed => Self::TxConnectSpeed(be32(v)),
            AvpType::PhysicalChannelId => Self::PhysicalChannelId(be32(v)),
            AvpType::InitialReceivedLcpConfReq => Self::InitialReceivedLcpConfReq(v.to_vec()),
            AvpType::LastSentLcpConfReq => Self::LastSentLcpConfReq(v.to_vec()),
            AvpType::LastReceivedLcpConfReq => Self::LastReceivedLcpConfReq(v.to_vec()),
            AvpType::ProxyAuthenType => Self::ProxyAuthenType(be16(v).into()),
            AvpType::ProxyAuthenName => Self::ProxyAuthenName(v.to_vec()),
            AvpType::ProxyAuthenChallenge => Self::ProxyAuthenChallenge(v.to_vec()),
            AvpType::ProxyAuthenId => Self::ProxyAuthenId {
                reserved: v[0],
                id: v[1],
            },
            AvpType::ProxyAuthenResponse => Self::ProxyAuthenResponse(v.to_vec()),
            AvpType::CallErrors => Self::CallErrors(CallErrors {
                reserved: be16(v),
                crc_errors: be32(&v[2..]),
                framing_errors: be32(&v[6..]),
                hardware_overruns: be32(&v[10..]),
                buffer_overruns: be32(&v[14..]),
                timeout_errors: be32(&v[18..]),
                alignment_errors: be32(&v[22..]),
            }),
            AvpType::Accm => Self::Accm(Accm {
                reserved: be16(v),
                send: be32(&v[2..]),
                receive: be32(&v[6..]),
            }),
            AvpType::RandomVector => Self::RandomVector(v.to_vec()),
            AvpType::PrivateGroupId => Self::PrivateGroupId(v.to_vec()),
            AvpType::RxConnectSpeed => Self::RxConnectSpeed(be32(v)),
            AvpType::SequencingRequired => Self::SequencingRequired,
            AvpType::Unknown(attr_type) => Self::Unknown {
                attr_type,
                value: v.to_vec(),
            },
        })
    }

    /// Decodes a raw AVP without unhiding: reserved bits give
    /// [`Avp::Unrecognized`], a hidden value gives [`Avp::Concealed`]
    /// (after checking it can hold the subformat's length field).
    pub fn from_raw_concealed(raw: &RawAvp<'_>) -> Result<Self> {
        if raw.reserved_bits != 0 {
            return Ok(Self::Unrecognized {
                reserved_bits: raw.reserved_bits,
                vendor_id: raw.vendor_id,
                attr_type: raw.attr_type,
                value: raw.value.to_vec(),
            });
        }
        if raw.hidden {
            hidden::check_subformat_len(raw.value)?;
            return Ok(Self::Concealed {
                vendor_id: raw.vendor_id,
                attr_type: raw.attr_type,
                ciphertext: raw.value.to_vec(),
            });
        }
        Self::decode(raw.vendor_id, raw.attr_type, raw.value)
    }

    /// Decodes a raw AVP, unhiding it with `secret` and `random_vector` if
    /// its H bit is set (see [`hidden::unhide`]).
    pub fn from_raw(raw: &RawAvp<'_>, secret: &[u8], random_vector: &[u8]) -> Result<Self> {
        if !raw.hidden || raw.reserved_bits != 0 {
            return Self::from_raw_concealed(raw);
        }
        let mut scratch = [0u8; MAX_AVP_VALUE_LEN];
        let hidden_value = scratch
            .get_mut(..raw.value.len())
            .ok_or(Error::Malformed("AVP value longer than 1017 bytes"))?;
        hidden_value.copy_from_slice(raw.value);
        let value = hidden::unhide_in_place(raw.attr_type, secret, random_vector, hidden_value)?;
        Self::decode(raw.vendor_id, raw.attr_type, value)
    }

    /// Length of the cleartext value (the ciphertext for
    /// [`Avp::Concealed`], the raw value for [`Avp::Unrecognized`]).
    pub fn value_len(&self) -> usize {
        match self {
            Self::MessageType(_)
            | Self::ProtocolVersion(_)
            | Self::FirmwareRevision(_)
            | Self::AssignedTunnelId(_)
            | Self::ReceiveWindowSize(_)
            | Self::AssignedSessionId(_)
            | Self::ProxyAuthenType(_)
            | Self::ProxyAuthenId { .. } => 2,
            Self::FramingCapabilities(_)
            | Self::BearerCapabilities(_)
            | Self::CallSerialNumber(_)
            | Self::MinimumBps(_)
            | Self::MaximumBps(_)
            | Self::BearerType(_)
            | Self::FramingType(_)
            | Self::TxConnectSpeed(_)
            | Self::PhysicalChannelId(_)
            | Self::RxConnectSpeed(_) => 4,
            Self::ResultCode(rc) => match &rc.error {
                None => 2,
                Some(e) => 4 + e.message.len(),
            },
            Self::TieBreaker(_) => 8,
            Self::Q931CauseCode(q) => 3 + q.advisory.len(),
            Self::ChallengeResponse(_) => 16,
            Self::CallErrors(_) => 26,
            Self::Accm(_) => 10,
            Self::SequencingRequired => 0,
            Self::HostName(v)
            | Self::VendorName(v)
            | Self::Challenge(v)
            | Self::CalledNumber(v)
            | Self::CallingNumber(v)
            | Self::SubAddress(v)
            | Self::InitialReceivedLcpConfReq(v)
            | Self::LastSentLcpConfReq(v)
            | Self::LastReceivedLcpConfReq(v)
            | Self::ProxyAuthenName(v)
            | Self::ProxyAuthenChallenge(v)
            | Self::ProxyAuthenResponse(v)
            | Self::RandomVector(v)
            | Self::PrivateGroupId(v)
            | Self::Unknown { value: v, .. }
            | Self::Vendor { value: v, .. }
            | Self::Unrecognized { value: v, .. }
            | Self::Concealed { ciphertext: v, .. } => v.len(),
        }
    }

    /// Checks that the AVP can be emitted and parsed back to itself: value
    /// size per §4.4 and the 10-bit Length; `Unknown` must not name a known
    /// type, `Vendor` must not use Vendor ID 0, `Unrecognized` must have a
    /// reserved bit set, `Concealed` must hold a subformat length field.
    pub fn validate(&self) -> Result<()> {
        let len = self.value_len();
        match self {
            Self::Unknown { attr_type, .. } => {
                if !matches!(AvpType::from(*attr_type), AvpType::Unknown(_)) {
                    return Err(Error::Malformed(
                        "Unknown AVP uses an attribute type RFC 2661 defines",
                    ));
                }
            }
            Self::Vendor { vendor_id, .. } => {
                if *vendor_id == IETF_VENDOR_ID {
                    return Err(Error::Malformed("Vendor AVP with Vendor ID 0"));
                }
            }
            Self::Unrecognized { reserved_bits, .. } => {
                if *reserved_bits == 0 || *reserved_bits > 0x0F {
                    return Err(Error::Malformed(
                        "Unrecognized AVP needs reserved bits in 1..=15",
                    ));
                }
            }
            Self::Concealed { ciphertext, .. } => hidden::check_subformat_len(ciphertext)?,
            _ => return self.typed_ietf_type().check_value_len(len),
        }
        if len > MAX_AVP_VALUE_LEN {
            return Err(Error::Malformed(
                "AVP value longer than 1017 bytes (10-bit Length field)",
            ));
        }
        Ok(())
    }

    /// Writes the value (see [`Avp::value_len`]) into the start of `out`.
    pub fn encode_value(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.value_len();
        ensure_room(out, len)?;
        let out = &mut out[..len];
        match self {
            Self::MessageType(t) => out.copy_from_slice(&u16::from(*t).to_be_bytes()),
            Self::ResultCode(rc) => {
                out[..2].copy_from_slice(&rc.result.to_be_bytes());
                if let Some(e) = &rc.error {
                    out[2..4].copy_from_slice(&u16::from(e.code).to_be_bytes());
                    out[4..].copy_from_slice(&e.message);
                }
            }
            Self::ProtocolVersion(pv) => out.copy_from_slice(&[pv.version, pv.revision]),
            Self::FramingCapabilities(Framing(bits)) | Self::FramingType(Framing(bits)) => {
                out.copy_from_slice(&bits.to_be_bytes());
            }
            Self::BearerCapabilities(Bearer(bits)) | Self::BearerType(Bearer(bits)) => {
                out.copy_from_slice(&bits.to_be_bytes());
            }
            Self::TieBreaker(tie) => out.copy_from_slice(tie),
            Self::FirmwareRevision(v)
            | Self::AssignedTunnelId(v)
            | Self::ReceiveWindowSize(v)
            | Self::AssignedSessionId(v) => out.copy_from_slice(&v.to_be_bytes()),
            Self::CallSerialNumber(v)
            | Self::MinimumBps(v)
            | Self::MaximumBps(v)
            | Self::TxConnectSpeed(v)
            | Self::PhysicalChannelId(v)
            | Self::RxConnectSpeed(v) => out.copy_from_slice(&v.to_be_bytes()),
            Self::Q931CauseCode(q) => {
                out[..2].copy_from_slice(&q.cause_code.to_be_bytes());
                out[2] = q.cause_msg;
                out[3..].copy_from_slice(&q.advisory);
            }
            Self::ChallengeResponse(r) => out.copy_from_slice(r),
            Self::ProxyAuthenType(t) => out.copy_from_slice(&u16::from(*t).to_be_bytes()),
            Self::ProxyAuthenId { reserved, id } => out.copy_from_slice(&[*reserved, *id]),
            Self::CallErrors(ce) => {
                out[..2].copy_from_slice(&ce.reserved.to_be_bytes());
                for (slot, counter) in out[2..].chunks_exact_mut(4).zip([
                    ce.crc_errors,
                    ce.framing_errors,
                    ce.hardware_overruns,
                    ce.buffer_overruns,
                    ce.timeout_errors,
                    ce.alignment_errors,
                ]) {
                    slot.copy_from_slice(&counter.to_be_bytes());
                }
            }
            Self::Accm(accm) => {
                out[..2].copy_from_slice(&accm.reserved.to_be_bytes());
                out[2..6].copy_from_slice(&accm.send.to_be_bytes());
                out[6..10].copy_from_slice(&accm.receive.to_be_bytes());
            }
            Self::SequencingRequired => {}
            Self::HostName(v)
            | Self::VendorName(v)
            | Self::Challenge(v)
            | Self::CalledNumber(v)
            | Self::CallingNumber(v)
            | Self::SubAddress(v)
            | Self::InitialReceivedLcpConfReq(v)
            | Self::LastSentLcpConfReq(v)
            | Self::LastReceivedLcpConfReq(v)
            | Self::ProxyAuthenName(v)
            | Self::ProxyAuthenChallenge(v)
            | Self::ProxyAuthenResponse(v)
            | Self::RandomVector(v)
            | Self::PrivateGroupId(v)
            | Self::Unknown { value: v, .. }
            | Self::Vendor { value: v, .. }
            | Self::Unrecognized { value: v, .. }
            | Self::Concealed { ciphertext: v, .. } => out.copy_from_slice(v),
        }
        Ok(len)
    }

    /// Bytes the AVP occupies when sent in cleartext.
    pub fn buffer_len(&self) -> usize {
        AVP_HEADER_LEN + self.value_len()
    }

    /// Writes the AVP in cleartext with the given M bit ([`Avp::Concealed`]
    /// keeps its H bit, [`Avp::Unrecognized`] its reserved bits); returns
    /// the bytes written. Hidden AVPs are written by
    /// [`super::ControlMessage::emit`].
    pub fn emit(&self, mandatory: bool, out: &mut [u8]) -> Result<usize> {
        self.validate()?;
        let total = self.buffer_len();
        ensure_room(out, total)?;
        let (hidden, reserved_bits) = match self {
            Self::Concealed { .. } => (true, 0),
            Self::Unrecognized { reserved_bits, .. } => (false, *reserved_bits),
            _ => (false, 0),
        };
        write_avp_header(
            out,
            mandatory,
            hidden,
            reserved_bits,
            self.vendor_id(),
            self.attr_type(),
            self.value_len(),
        )?;
        self.encode_value(&mut out[AVP_HEADER_LEN..total])?;
        Ok(total)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(range: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> + Clone {
        proptest::collection::vec(any::<u8>(), range)
    }

    /// Every typed IETF AVP variant with values of valid sizes.
    pub(crate) fn typed_avp() -> impl Strategy<Value = Avp> {
        let result_code = (
            any::<u16>(),
            proptest::option::of((any::<u16>(), bytes(0..20))),
        )
            .prop_map(|(result, error)| {
                Avp::ResultCode(ResultCode {
                    result,
                    error: error.map(|(code, message)| ResultError {
                        code: code.into(),
                        message,
                    }),
                })
            });
        let group_a = prop_oneof![
            any::<u16>().prop_map(|v| Avp::MessageType(v.into())),
            result_code,
            (any::<u8>(), any::<u8>()).prop_map(|(version, revision)| Avp::ProtocolVersion(
                ProtocolVersion { version, revision }
            )),
            any::<u32>().prop_map(|v| Avp::FramingCapabilities(Framing(v))),
            any::<u32>().prop_map(|v| Avp::BearerCapabilities(Bearer(v))),
            any::<[u8; 8]>().prop_map(Avp::TieBreaker),
            any::<u16>().prop_map(Avp::FirmwareRevision),
            bytes(1..40).prop_map(Avp::HostName),
            bytes(0..40).prop_map(Avp::VendorName),
            any::<u16>().prop_map(Avp::AssignedTunnelId),
            any::<u16>().prop_map(Avp::ReceiveWindowSize),
            bytes(1..40).prop_map(Avp::Challenge),
            (any::<u16>(), any::<u8>(), bytes(0..20)).prop_map(
                |(cause_code, cause_msg, advisory)| {
                    Avp::Q931CauseCode(Q931Cause {
                        cause_code,
                        cause_msg,
                        advisory,
                    })
                }
            ),
            any::<[u8; 16]>().prop_map(Avp::ChallengeResponse),
        ];
        let group_b = prop_oneof![
            any::<u16>().prop_map(Avp::AssignedSessionId),
            any::<u32>().prop_map(Avp::CallSerialNumber),
            any::<u32>().prop_map(Avp::MinimumBps),
            any::<u32>().prop_map(Avp::MaximumBps),
            any::<u32>().prop_map(|v| Avp::BearerType(Bearer(v))),
            any::<u32>().prop_map(|v| Avp::FramingType(Framing(v))),
            bytes(0..20).prop_map(Avp::CalledNumber),
            bytes(0..20).prop_map(Avp::CallingNumber),
            bytes(0..20).prop_map(Avp::SubAddress),
            any::<u32>().prop_map(Avp::TxConnectSpeed),
            any::<u32>().prop_map(Avp::PhysicalChannelId),
            bytes(0..30).prop_map(Avp::InitialReceivedLcpConfReq),
            bytes(0..30).prop_map(Avp::LastSentLcpConfReq),
            bytes(0..30).prop_map(Avp::LastReceivedLcpConfReq),
        ];
        let group_c = prop_oneof![
            any::<u16>().prop_map(|v| Avp::ProxyAuthenType(v.into())),
            bytes(0..20).prop_map(Avp::ProxyAuthenName),
            bytes(0..20).prop_map(Avp::ProxyAuthenChallenge),
            (any::<u8>(), any::<u8>())
                .prop_map(|(reserved, id)| Avp::ProxyAuthenId { reserved, id }),
            bytes(0..20).prop_map(Avp::ProxyAuthenResponse),
            any::<[u32; 6]>().prop_flat_map(|c| any::<u16>().prop_map(move |reserved| {
                Avp::CallErrors(CallErrors {
                    reserved,
                    crc_errors: c[0],
                    framing_errors: c[1],
                    hardware_overruns: c[2],
                    buffer_overruns: c[3],
                    timeout_errors: c[4],
                    alignment_errors: c[5],
                })
            })),
            (any::<u16>(), any::<u32>(), any::<u32>()).prop_map(|(reserved, send, receive)| {
                Avp::Accm(Accm {
                    reserved,
                    send,
                    receive,
                })
            }),
            bytes(0..32).prop_map(Avp::RandomVector),
            bytes(0..20).prop_map(Avp::PrivateGroupId),
            any::<u32>().prop_map(Avp::RxConnectSpeed),
            Just(Avp::SequencingRequired),
        ];
        prop_oneof![group_a, group_b, group_c]
    }

    /// Unknown IETF and vendor AVPs.
    pub(crate) fn opaque_avp() -> impl Strategy<Value = Avp> {
        prop_oneof![
            (40u16.., bytes(0..30))
                .prop_map(|(attr_type, value)| Avp::Unknown { attr_type, value }),
            Just(20u16)
                .prop_flat_map(|attr_type| bytes(0..5)
                    .prop_map(move |value| Avp::Unknown { attr_type, value })),
            (1u16.., any::<u16>(), bytes(0..30)).prop_map(|(vendor_id, attr_type, value)| {
                Avp::Vendor {
                    vendor_id,
                    attr_type,
                    value,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_avp_round_trips(avp in prop_oneof![typed_avp(), opaque_avp()], mandatory in any::<bool>()) {
            let mut out = vec![0u8; avp.buffer_len()];
            let n = avp.emit(mandatory, &mut out).unwrap();
            prop_assert_eq!(n, out.len());
            let (raw, used) = RawAvp::parse(&out).unwrap();
            prop_assert_eq!(used, n);
            prop_assert_eq!(raw.mandatory, mandatory);
            prop_assert!(!raw.hidden);
            let back = Avp::from_raw_concealed(&raw).unwrap();
            prop_assert_eq!(&back, &avp);
            // Canonical: emit(parse(bytes)) == bytes.
            let mut again = vec![0u8; n];
            back.emit(raw.mandatory, &mut again).unwrap();
            prop_assert_eq!(again, out);
        }

        #[test]
        fn hidden_avps_round_trip(
            avp in prop_oneof![typed_avp(), opaque_avp()],
            secret in bytes(0..32),
            rv in bytes(0..32),
            padding in 0usize..20,
        ) {
            let mut value = vec![0u8; avp.value_len()];
            avp.encode_value(&mut value).unwrap();
            let mut hidden_value = vec![0u8; hidden::hidden_len(value.len(), padding)];
            hidden::hide(avp.attr_type(), &secret, &rv, &value, padding, &mut hidden_value).unwrap();
            let mut wire = vec![0u8; AVP_HEADER_LEN + hidden_value.len()];
            write_avp_header(&mut wire, true, true, 0, avp.vendor_id(), avp.attr_type(), hidden_value.len()).unwrap();
            wire[AVP_HEADER_LEN..].copy_from_slice(&hidden_value);
            let (raw, _) = RawAvp::parse(&wire).unwrap();
            prop_assert!(raw.hidden);
            prop_assert_eq!(&Avp::from_raw(&raw, &secret, &rv).unwrap(), &avp);
            let concealed = Avp::from_raw_concealed(&raw).unwrap();
            prop_assert!(!concealed.is_recognized());
            prop_assert_eq!(concealed.attr_type(), avp.attr_type());
        }

        #[test]
        fn arbitrary_avp_bytes_never_panic(body in bytes(0..200), secret in bytes(0..8), rv in bytes(0..8)) {
            for raw in AvpIter::new(&body) {
                let Ok(raw) = raw else { break };
                let _ = Avp::from_raw(&raw, &secret, &rv);
                if let Ok(avp) = Avp::from_raw_concealed(&raw) {
                    let mut out = vec![0u8; avp.buffer_len()];
                    avp.emit(raw.mandatory, &mut out).unwrap();
                    // Every decoding is lossless, so the bytes come back
                    // unchanged (hidden ones as Concealed, H bit kept; a
                    // standalone Unrecognized AVP is written with H clear —
                    // in a message its H bit comes from MessageAvp).
                    let hidden = raw.hidden && raw.reserved_bits == 0;
                    let mut expect = vec![0u8; raw.wire_len()];
                    write_avp_header(&mut expect, raw.mandatory, hidden, raw.reserved_bits,
                        raw.vendor_id, raw.attr_type, raw.value.len()).unwrap();
                    expect[AVP_HEADER_LEN..].copy_from_slice(raw.value);
                    prop_assert_eq!(out, expect);
                }
            }
        }
    }

    #[test]
    fn header_length_errors() {
        // Fewer than six bytes of header.
        for cut in 0..6 {
            let buf = [0x80, 0x08, 0, 0, 0, 0];
            assert!(matches!(
                RawAvp::parse(&buf[..cut]),
                Err(Error::Truncated { need: 6, .. })
            ));
        }
        // Length below 6.
        for len in 0..6u8 {
            let buf = [0x80, len, 0, 0, 0, 0, 0, 0];
            assert!(
                matches!(RawAvp::parse(&buf), Err(Error::Malformed(_))),
                "len {len}"
            );
        }
        // Length overruns the buffer.
        let buf = [0x80, 0x09, 0, 0, 0, 0, 0, 1];
        assert!(matches!(
            RawAvp::parse(&buf),
            Err(Error::Truncated {
                need: 9,
                have: 8,
                ..
            })
        ));
        // The iterator reports the error once and stops.
        let body = [0x80, 0x08, 0, 0, 0, 0, 0, 1, 0x80, 0x20, 0, 0];
        let items: Vec<_> = AvpIter::new(&body).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok() && items[1].is_err());
    }

    #[test]
    fn reserved_bits_make_an_avp_unrecognized() {
        // Assigned Tunnel ID with a reserved bit: not decoded, kept verbatim.
        let buf = [0x84, 0x08, 0, 0, 0, 9, 0x12, 0x34];
        let (raw, _) = RawAvp::parse(&buf).unwrap();
        assert_eq!(raw.reserved_bits, 1);
        let avp = Avp::from_raw(&raw, b"secret", b"rv").unwrap();
        assert_eq!(
            avp,
            Avp::Unrecognized {
                reserved_bits: 1,
                vendor_id: 0,
                attr_type: 9,
                value: vec![0x12, 0x34]
            }
        );
        assert!(!avp.is_recognized());
        let mut out = [0u8; 8];
        avp.emit(true, &mut out).unwrap();
        assert_eq!(out, buf);
    }

    #[test]
    fn value_sizes_are_checked_and_named() {
        let cases: &[(AvpType, usize, &str)] = &[
            (AvpType::AssignedTunnelId, 3, "Assigned Tunnel ID"),
            (AvpType::AssignedTunnelId, 1, "Assigned Tunnel ID"),
            (AvpType::AssignedSessionId, 0, "Assigned Session ID"),
            (AvpType::ResultCode, 3, "Result Code"),
            (AvpType::ResultCode, 1, "Result Code"),
            (AvpType::ProtocolVersion, 3, "Protocol Version"),
            (AvpType::HostName, 0, "Host Name"),
            (AvpType::Challenge, 0, "Challenge"),
            (AvpType::ChallengeResponse, 15, "Challenge Response"),
            (AvpType::TieBreaker, 7, "Tie Breaker"),
            (AvpType::Q931CauseCode, 2, "Q.931 Cause Code"),
            (AvpType::CallErrors, 25, "Call Errors"),
            (AvpType::Accm, 11, "ACCM"),
            (AvpType::SequencingRequired, 1, "Sequencing Required"),
            (AvpType::FramingCapabilities, 2, "Framing Capabilities"),
            (AvpType::ProxyAuthenId, 1, "Proxy Authen ID"),
            (AvpType::RxConnectSpeed, 8, "Rx Connect Speed"),
        ];
        for &(ty, len, name) in cases {
            match Avp::decode(0, ty.into(), &vec![0u8; len]) {
                Err(Error::Malformed(what)) => {
                    assert!(what.starts_with(name), "{what}");
                }
                other => panic!("{ty:?} with {len} bytes: {other:?}"),
            }
        }
        // Result Code: 2, 4 and 4+ bytes are fine.
        for len in [2usize, 4, 5, 30] {
            Avp::decode(0, 1, &vec![0u8; len]).unwrap();
        }
    }

    #[test]
    fn typed_values_decode() {
        let rc = Avp::decode(0, 1, &[0, 2, 0, 6, b'o', b'k']).unwrap();
        let Avp::ResultCode(rc) = rc else { panic!() };
        assert_eq!(rc.cdn_result(), CdnResult::ErrorCode);
        assert_eq!(rc.stop_ccn_result(), StopCcnResult::GeneralError);
        assert_eq!(rc.error_code(), Some(GeneralError::VendorSpecific));
        assert_eq!(rc.error.unwrap().message, b"ok");
        let q = Avp::decode(0, 12, &[0, 16, 0x45, b'h', b'i']).unwrap();
        assert_eq!(
            q,
            Avp::Q931CauseCode(Q931Cause {
                cause_code: 16,
                cause_msg: 0x45,
                advisory: b"hi".to_vec()
            })
        );
        let accm = Avp::decode(0, 35, &[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(
            accm,
            Avp::Accm(Accm {
                reserved: 0,
                send: 0,
                receive: u32::MAX
            })
        );
        assert_eq!(
            Avp::decode(0, 29, &[0, 2]).unwrap(),
            Avp::ProxyAuthenType(ProxyAuthenType::Chap)
        );
        assert_eq!(
            Avp::decode(0, 3, &[0, 0, 0, 3]).unwrap(),
            Avp::FramingCapabilities(Framing::SYNC | Framing::ASYNC)
        );
        assert!(Framing(3).contains(Framing::ASYNC));
        assert!(!Bearer(1).contains(Bearer::ANALOG));
        assert_eq!(AvpType::from(20), AvpType::Unknown(20));
        assert_eq!(AvpType::HostName.name(), "Host Name");
        assert!(!AvpType::HostName.may_be_hidden());
        assert!(AvpType::ProxyAuthenResponse.may_be_hidden());
        assert_eq!(AvpType::RxConnectSpeed.rfc_mandatory(), Some(false));
    }

    #[test]
    fn non_canonical_reprs_are_refused() {
        let mut out = [0u8; 64];
        assert!(
            Avp::Unknown {
                attr_type: 9,
                value: vec![0, 1]
            }
            .emit(true, &mut out)
            .is_err()
        );
        assert!(
            Avp::Vendor {
                vendor_id: 0,
                attr_type: 1,
                value: vec![]
            }
            .emit(true, &mut out)
            .is_err()
        );
        assert!(
            Avp::Unrecognized {
                reserved_bits: 0,
                vendor_id: 0,
                attr_type: 1,
                value: vec![]
            }
            .emit(true, &mut out)
            .is_err()
        );
        assert!(Avp::HostName(vec![]).emit(true, &mut out).is_err());
        assert!(
            Avp::Challenge(vec![0; 1018])
                .emit(true, &mut [0u8; 2048])
                .is_err()
        );
        assert!(matches!(
            Avp::AssignedTunnelId(1).emit(true, &mut out[..7]),
            Err(Error::BufferTooSmall { need: 8, have: 7 })
        ));
    }
}
