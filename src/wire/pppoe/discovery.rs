//! The Discovery stage (RFC 2516 §5 and Appendix A): tags — the RFC 5578
//! credit-flow and metrics tags, PPP-Max-Payload (RFC 4638 §4), the
//! Broadband Forum Vendor-Specific tag with its RFC 4679 §3 sub-options —
//! and owned discovery packets (PADI, PADO, PADR, PADS, PADT).

use core::fmt;
use std::net::Ipv4Addr;

use crate::wire::{Error, Result, ensure_len, ensure_room};

use super::{
    BROADBAND_FORUM_VENDOR_ID, Code, HEADER_LEN, Packet, TAG_HEADER_LEN, VERSION_AND_TYPE, len_u16,
    read_u16, read_u32, write_u16,
};

// ---------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------

crate::open_enum! {
    /// TAG_TYPE values (RFC 2516 Appendix A, RFC 5578 §4, RFC 4638 §4).
    pub enum TagType(u16) {
        /// End-Of-List.
        EndOfList = 0x0000,
        /// Service-Name.
        ServiceName = 0x0101,
        /// AC-Name.
        AcName = 0x0102,
        /// Host-Uniq.
        HostUniq = 0x0103,
        /// AC-Cookie.
        AcCookie = 0x0104,
        /// Vendor-Specific.
        VendorSpecific = 0x0105,
        /// Credits (RFC 5578).
        Credits = 0x0106,
        /// Metrics (RFC 5578).
        Metrics = 0x0107,
        /// Sequence Number (RFC 5578).
        SequenceNumber = 0x0108,
        /// Credit Scale Factor (RFC 5578).
        CreditScaleFactor = 0x0109,
        /// Relay-Session-Id.
        RelaySessionId = 0x0110,
        /// HURL: a URL the host may display.
        Hurl = 0x0111,
        /// MOTM: message of the minute.
        Motm = 0x0112,
        /// PPP-Max-Payload (RFC 4638).
        PppMaxPayload = 0x0120,
        /// IP_Route_Add.
        IpRouteAdd = 0x0121,
        /// Service-Name-Error.
        ServiceNameError = 0x0201,
        /// AC-System-Error.
        AcSystemError = 0x0202,
        /// Generic-Error.
        GenericError = 0x0203,
    }
}

/// A tag as it appears in the packet, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTag<'a> {
    /// TAG_TYPE.
    pub tag_type: TagType,
    /// TAG_VALUE (TAG_LENGTH bytes).
    pub value: &'a [u8],
}

impl RawTag<'_> {
    /// Converts to the owned, typed form.
    pub fn to_tag(&self) -> Result<Tag> {
        Tag::parse(*self)
    }
}

/// Iterates the tags of a Discovery payload without copying.
///
/// Yields `Err` once, and then stops, at a tag whose header or value
/// overruns the payload. Stops after End-Of-List (RFC 2516 Appendix A: "This
/// TAG indicates that there are no further TAGs in the list"); bytes after
/// it are ignored.
#[derive(Debug, Clone)]
pub struct TagIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> TagIter<'a> {
    /// Iterates the tags in `payload` (a Discovery packet's payload).
    pub const fn new(payload: &'a [u8]) -> Self {
        Self {
            rest: payload,
            done: false,
        }
    }
}

impl<'a> Iterator for TagIter<'a> {
    type Item = Result<RawTag<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        if let Err(e) = ensure_len("PPPoE tag header", rest, TAG_HEADER_LEN) {
            self.done = true;
            return Some(Err(e));
        }
        let tag_type = TagType::from(read_u16(rest, 0));
        let end = TAG_HEADER_LEN + usize::from(read_u16(rest, 2));
        if let Err(e) = ensure_len("PPPoE tag value (TAG_LENGTH)", rest, end) {
            self.done = true;
            return Some(Err(e));
        }
        self.rest = &rest[end..];
        if tag_type == TagType::EndOfList {
            self.done = true;
        }
        Some(Ok(RawTag {
            tag_type,
            value: &rest[TAG_HEADER_LEN..end],
        }))
    }
}

impl core::iter::FusedIterator for TagIter<'_> {}

/// RFC 5578 §4.3 Metrics tag (10 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Metrics {
    /// The first 16 bits: reserved bits, MDR and CDR scale, Receive-Only
    /// flag. Kept whole so reserved bits round-trip; see the accessors.
    pub flags: u16,
    /// Relative link quality, percent.
    pub relative_link_quality: u8,
    /// Resources (buffers) available, percent.
    pub resource: u8,
    /// Latency, milliseconds.
    pub latency: u16,
    /// Current data rate, in units of [`Metrics::current_data_rate_scale`].
    pub current_data_rate: u16,
    /// Maximum data rate, in units of [`Metrics::max_data_rate_scale`].
    pub max_data_rate: u16,
}

impl Metrics {
    /// Value length.
    pub const LEN: usize = 10;

    /// The Receive-Only bit.
    pub const fn receive_only(&self) -> bool {
        self.flags & 0x0001 != 0
    }

    /// Current-data-rate scale: 0 kbps, 1 Mbps, 2 Gbps, 3 Tbps.
    pub const fn current_data_rate_scale(&self) -> u8 {
        ((self.flags >> 1) & 0x3) as u8
    }

    /// Maximum-data-rate scale: 0 kbps, 1 Mbps, 2 Gbps, 3 Tbps.
    pub const fn max_data_rate_scale(&self) -> u8 {
        ((self.flags >> 3) & 0x3) as u8
    }

    fn parse(value: &[u8]) -> Result<Self> {
        if value.len() != Self::LEN {
            return Err(Error::Malformed("PPPoE Metrics tag is not 10 bytes"));
        }
        Ok(Self {
            flags: read_u16(value, 0),
            relative_link_quality: value[2],
            resource: value[3],
            latency: read_u16(value, 4),
            current_data_rate: read_u16(value, 6),
            max_data_rate: read_u16(value, 8),
        })
    }

    fn write(&self, out: &mut [u8]) {
        write_u16(out, 0, self.flags);
        out[2] = self.relative_link_quality;
        out[3] = self.resource;
        write_u16(out, 4, self.latency);
        write_u16(out, 6, self.current_data_rate);
        write_u16(out, 8, self.max_data_rate);
    }
}

/// One route of an IP_Route_Add tag: destination network, mask, gateway
/// and metric, 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRoute {
    /// Destination network.
    pub destination: Ipv4Addr,
    /// Destination mask.
    pub mask: Ipv4Addr,
    /// Gateway.
    pub gateway: Ipv4Addr,
    /// Metric.
    pub metric: u32,
}

impl IpRoute {
    /// Encoded length.
    pub const LEN: usize = 16;
}

crate::open_enum! {
    /// Sub-option types of the Broadband Forum Vendor-Specific tag (TR-101
    /// §3.9.3; the same numbers as the RFC 4679 RADIUS attributes).
    pub enum BbfSubOptionType(u8) {
        /// Agent-Circuit-Id: the access loop the PADI came in on.
        AgentCircuitId = 0x01,
        /// Agent-Remote-Id: the subscriber, as the access node knows it.
        AgentRemoteId = 0x02,
        /// Actual-Data-Rate-Upstream (kbit/s, u32).
        ActualDataRateUpstream = 0x81,
        /// Actual-Data-Rate-Downstream (kbit/s, u32).
        ActualDataRateDownstream = 0x82,
        /// Minimum-Data-Rate-Upstream.
        MinimumDataRateUpstream = 0x83,
        /// Minimum-Data-Rate-Downstream.
        MinimumDataRateDownstream = 0x84,
        /// Attainable-Data-Rate-Upstream.
        AttainableDataRateUpstream = 0x85,
        /// Attainable-Data-Rate-Downstream.
        AttainableDataRateDownstream = 0x86,
        /// Maximum-Data-Rate-Upstream.
        MaximumDataRateUpstream = 0x87,
        /// Maximum-Data-Rate-Downstream.
        MaximumDataRateDownstream = 0x88,
        /// Minimum-Data-Rate-Upstream-Low-Power.
        MinimumDataRateUpstreamLowPower = 0x89,
        /// Minimum-Data-Rate-Downstream-Low-Power.
        MinimumDataRateDownstreamLowPower = 0x8a,
        /// Maximum-Interleaving-Delay-Upstream.
        MaximumInterleavingDelayUpstream = 0x8b,
        /// Actual-Interleaving-Delay-Upstream.
        ActualInterleavingDelayUpstream = 0x8c,
        /// Maximum-Interleaving-Delay-Downstream.
        MaximumInterleavingDelayDownstream = 0x8d,
        /// Actual-Interleaving-Delay-Downstream.
        ActualInterleavingDelayDownstream = 0x8e,
        /// Access-Loop-Encapsulation (3 bytes).
        AccessLoopEncapsulation = 0x90,
    }
}

/// One sub-option of the Broadband Forum Vendor-Specific tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BbfSubOption {
    /// Agent-Circuit-Id (0x01).
    AgentCircuitId(Vec<u8>),
    /// Agent-Remote-Id (0x02).
    AgentRemoteId(Vec<u8>),
    /// Any other sub-option, verbatim. Never carries type 0x01 or 0x02.
    Other {
        /// Sub-option type.
        sub_type: u8,
        /// Sub-option value.
        value: Vec<u8>,
    },
}

impl BbfSubOption {
    /// The sub-option type.
    pub fn sub_type(&self) -> BbfSubOptionType {
        match self {
            Self::AgentCircuitId(_) => BbfSubOptionType::AgentCircuitId,
            Self::AgentRemoteId(_) => BbfSubOptionType::AgentRemoteId,
            Self::Other { sub_type, .. } => BbfSubOptionType::from(*sub_type),
        }
    }

    /// The sub-option value.
    pub fn value(&self) -> &[u8] {
        match self {
            Self::AgentCircuitId(v) | Self::AgentRemoteId(v) | Self::Other { value: v, .. } => v,
        }
    }

    /// The value as a 32-bit integer, for the rate and delay sub-options
    /// (0x81..=0x8e) that carry one.
    pub fn as_u32(&self) -> Option<u32> {
        let value = self.value();
        (value.len() == 4).then(|| read_u32(value, 0))
    }

    fn from_parts(sub_type: u8, value: &[u8]) -> Self {
        match BbfSubOptionType::from(sub_type) {
            BbfSubOptionType::AgentCircuitId => Self::AgentCircuitId(value.to_vec()),
            BbfSubOptionType::AgentRemoteId => Self::AgentRemoteId(value.to_vec()),
            _ => Self::Other {
                sub_type,
                value: value.to_vec(),
            },
        }
    }
}

/// The value of a Vendor-Specific tag (RFC 2516 Appendix A: "The first four
/// octets of the TAG_VALUE contain the vendor id and the remaining octets
/// are unspecified").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VendorSpecific {
    /// Vendor id 3561: a sequence of (type, length, value) sub-options.
    BroadbandForum(Vec<BbfSubOption>),
    /// Any other vendor, verbatim. Never carries vendor id 3561.
    Other {
        /// The vendor id (high octet 0, then the SMI enterprise code).
        vendor_id: u32,
        /// The bytes after the vendor id.
        data: Vec<u8>,
    },
}

impl VendorSpecific {
    /// The vendor id.
    pub fn vendor_id(&self) -> u32 {
        match self {
            Self::BroadbandForum(_) => BROADBAND_FORUM_VENDOR_ID,
            Self::Other { vendor_id, .. } => *vendor_id,
        }
    }

    fn parse(value: &[u8]) -> Result<Self> {
        ensure_len("PPPoE Vendor-Specific vendor id", value, 4)?;
        let vendor_id = read_u32(value, 0);
        let data = &value[4..];
        if vendor_id != BROADBAND_FORUM_VENDOR_ID {
            return Ok(Self::Other {
                vendor_id,
                data: data.to_vec(),
            });
        }
        let mut sub_options = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            ensure_len("Broadband Forum sub-option header", rest, 2)?;
            let end = 2 + usize::from(rest[1]);
            ensure_len("Broadband Forum sub-option value", rest, end)?;
            sub_options.push(BbfSubOption::from_parts(rest[0], &rest[2..end]));
            rest = &rest[end..];
        }
        Ok(Self::BroadbandForum(sub_options))
    }

    fn value_len(&self) -> usize {
        4 + match self {
            Self::BroadbandForum(subs) => subs.iter().map(|s| 2 + s.value().len()).sum(),
            Self::Other { data, .. } => data.len(),
        }
    }

    fn check(&self) -> Result<()> {
        if let Self::BroadbandForum(subs) = self {
            for sub in subs {
                if sub.value().len() > usize::from(u8::MAX) {
                    return Err(Error::Malformed(
                        "Broadband Forum sub-option longer than 255 bytes",
                    ));
                }
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.vendor_id().to_be_bytes());
        match self {
            Self::BroadbandForum(subs) => {
                let mut offset = 4;
                for sub in subs {
                    let value = sub.value();
                    out[offset] = sub.sub_type().into();
                    out[offset + 1] = value.len() as u8;
                    out[offset + 2..offset + 2 + value.len()].copy_from_slice(value);
                    offset += 2 + value.len();
                }
            }
            Self::Other { data, .. } => out[4..4 + data.len()].copy_from_slice(data),
        }
    }
}

/// An owned, typed PPPoE Discovery tag.
///
/// Opaque tags (Host-Uniq, AC-Cookie, Relay-Session-Id …) and the UTF-8
/// strings (Service-Name, AC-Name, error tags) are kept as bytes: RFC 2516
/// does not let a receiver reject a tag for its content, and the values are
/// echoed back unmodified.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Tag {
    /// End-Of-List (RFC 2516: "The TAG_LENGTH of this TAG MUST always be
    /// zero").
    EndOfList,
    /// Service-Name, UTF-8, not NUL-terminated; empty means "any service".
    ServiceName(Vec<u8>),
    /// AC-Name, UTF-8.
    AcName(Vec<u8>),
    /// Host-Uniq, opaque; the AC "MUST include the TAG unmodified in the
    /// associated PADO or PADS response".
    HostUniq(Vec<u8>),
    /// AC-Cookie, opaque; the host "MUST return the TAG unmodified in the
    /// following PADR".
    AcCookie(Vec<u8>),
    /// Vendor-Specific.
    VendorSpecific(VendorSpecific),
    /// Credits (RFC 5578): forward and backward credit numbers.
    Credits {
        /// Forward credit number.
        fcn: u16,
        /// Backward credit number.
        bcn: u16,
    },
    /// Metrics (RFC 5578).
    Metrics(Metrics),
    /// Sequence Number (RFC 5578).
    SequenceNumber(u16),
    /// Credit Scale Factor (RFC 5578).
    CreditScaleFactor(u16),
    /// Relay-Session-Id, opaque; "MUST include it unmodified in any
    /// discovery packet they send as a response".
    RelaySessionId(Vec<u8>),
    /// HURL.
    Hurl(Vec<u8>),
    /// MOTM.
    Motm(Vec<u8>),
    /// PPP-Max-Payload (RFC 4638 §4): the largest PPP payload the sender
    /// can handle, in a two-byte value.
    PppMaxPayload(u16),
    /// IP_Route_Add: routes, 16 bytes each.
    IpRouteAdd(Vec<IpRoute>),
    /// Service-Name-Error, UTF-8 reason (may be empty).
    ServiceNameError(Vec<u8>),
    /// AC-System-Error, UTF-8 reason (may be empty).
    AcSystemError(Vec<u8>),
    /// Generic-Error, UTF-8 reason (may be empty).
    GenericError(Vec<u8>),
    /// A tag this implementation has no type for, verbatim. Never carries a
    /// known TAG_TYPE.
    Unknown {
        /// TAG_TYPE.
        tag_type: u16,
        /// TAG_VALUE.
        value: Vec<u8>,
    },
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Shows UTF-8 text as text and anything else as hex bytes.
        struct Text<'a>(&'a [u8]);
        impl fmt::Debug for Text<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match core::str::from_utf8(self.0) {
                    Ok(s) => fmt::Debug::fmt(s, f),
                    Err(_) => write!(f, "{:02x?}", self.0),
                }
            }
        }
        match self {
            Self::EndOfList => f.write_str("EndOfList"),
            Self::ServiceName(v) => f.debug_tuple("ServiceName").field(&Text(v)).finish(),
            Self::AcName(v) => f.debug_tuple("AcName").field(&Text(v)).finish(),
            Self::HostUniq(v) => f.debug_tuple("HostUniq").field(v).finish(),
            Self::AcCookie(v) => f.debug_tuple("AcCookie").field(v).finish(),
            Self::VendorSpecific(v) => f.debug_tuple("VendorSpecific").field(v).finish(),
            Self::Credits { fcn, bcn } => f
                .debug_struct("Credits")
                .field("fcn", fcn)
                .field("bcn", bcn)
                .finish(),
            Self::Metrics(m) => f.debug_tuple("Metrics").field(m).finish(),
            Self::SequenceNumber(n) => f.debug_tuple("SequenceNumber").field(n).finish(),
            Self::CreditScaleFactor(n) => f.debug_tuple("CreditScaleFactor").field(n).finish(),
            Self::RelaySessionId(v) => f.debug_tuple("RelaySessionId").field(v).finish(),
            Self::Hurl(v) => f.debug_tuple("Hurl").field(&Text(v)).finish(),
            Self::Motm(v) => f.debug_tuple("Motm").field(&Text(v)).finish(),
            Self::PppMaxPayload(n) => f.debug_tuple("PppMaxPayload").field(n).finish(),
            Self::IpRouteAdd(r) => f.debug_tuple("IpRouteAdd").field(r).finish(),
            Self::ServiceNameError(v) => f.debug_tuple("ServiceNameError").field(&Text(v)).finish(),
            Self::AcSystemError(v) => f.debug_tuple("AcSystemError").field(&Text(v)).finish(),
            Self::GenericError(v) => f.debug_tuple("GenericError").field(&Text(v)).finish(),
            Self::Unknown { tag_type, value } => f
                .debug_struct("Unknown")
                .field("tag_type", &format_args!("{tag_type:#06x}"))
                .field("value", value)
                .finish(),
        }
    }
}

fn exact_u16(value: &[u8], what: &'static str) -> Result<u16> {
    if value.len() != 2 {
        return Err(Error::Malformed(what));
    }
    Ok(read_u16(value, 0))
}

impl Tag {
    /// Parses a borrowed tag. Fixed-size tags with the wrong TAG_LENGTH,
    /// a non-empty End-Of-List and a Vendor-Specific tag shorter than its
    /// vendor id are [`Error::Malformed`] or [`Error::Truncated`].
    pub fn parse(raw: RawTag<'_>) -> Result<Self> {
        let v = raw.value;
        Ok(match raw.tag_type {
            TagType::EndOfList => {
                // RFC 2516 Appendix A: "The TAG_LENGTH of this TAG MUST
                // always be zero."
                if !v.is_empty() {
                    return Err(Error::Malformed(
                        "PPPoE End-Of-List tag with non-zero length",
                    ));
                }
                Self::EndOfList
            }
            TagType::ServiceName => Self::ServiceName(v.to_vec()),
            TagType::AcName => Self::AcName(v.to_vec()),
            TagType::HostUniq => Self::HostUniq(v.to_vec()),
            TagType::AcCookie => Self::AcCookie(v.to_vec()),
            TagType::VendorSpecific => Self::VendorSpecific(VendorSpecific::parse(v)?),
            TagType::Credits => {
                if v.len() != 4 {
                    return Err(Error::Malformed("PPPoE Credits tag is not 4 bytes"));
                }
                Self::Credits {
                    fcn: read_u16(v, 0),
                    bcn: read_u16(v, 2),
                }
            }
            TagType::Metrics => Self::Metrics(Metrics::parse(v)?),
            TagType::SequenceNumber => {
                Self::SequenceNumber(exact_u16(v, "PPPoE Sequence-Number tag is not 2 bytes")?)
            }
            TagType::CreditScaleFactor => Self::CreditScaleFactor(exact_u16(
                v,
                "PPPoE Credit-Scale-Factor tag is not 2 bytes",
            )?),
            TagType::RelaySessionId => Self::RelaySessionId(v.to_vec()),
            TagType::Hurl => Self::Hurl(v.to_vec()),
            TagType::Motm => Self::Motm(v.to_vec()),
            TagType::PppMaxPayload => {
                Self::PppMaxPayload(exact_u16(v, "PPPoE PPP-Max-Payload tag is not 2 bytes")?)
            }
            TagType::IpRouteAdd => {
                if v.len() % IpRoute::LEN != 0 {
                    return Err(Error::Malformed(
                        "PPPoE IP_Route_Add tag is not a multiple of 16 bytes",
                    ));
                }
                Self::IpRouteAdd(
                    v.chunks_exact(IpRoute::LEN)
                        .map(|r| IpRoute {
                            destination: Ipv4Addr::from(read_u32(r, 0)),
                            mask: Ipv4Addr::from(read_u32(r, 4)),
                            gateway: Ipv4Addr::from(read_u32(r, 8)),
                            metric: read_u32(r, 12),
                        })
                        .collect(),
                )
            }
            TagType::ServiceNameError => Self::ServiceNameError(v.to_vec()),
            TagType::AcSystemError => Self::AcSystemError(v.to_vec()),
            TagType::GenericError => Self::GenericError(v.to_vec()),
            TagType::Unknown(tag_type) => Self::Unknown {
                tag_type,
                value: v.to_vec(),
            },
        })
    }

    /// TAG_TYPE.
    pub fn tag_type(&self) -> TagType {
        match self {
            Self::EndOfList => TagType::EndOfList,
            Self::ServiceName(_) => TagType::ServiceName,
            Self::AcName(_) => TagType::AcName,
            Self::HostUniq(_) => TagType::HostUniq,
            Self::AcCookie(_) => TagType::AcCookie,
            Self::VendorSpecific(_) => TagType::VendorSpecific,
            Self::Credits { .. } => TagType::Credits,
            Self::Metrics(_) => TagType::Metrics,
            Self::SequenceNumber(_) => TagType::SequenceNumber,
            Self::CreditScaleFactor(_) => TagType::CreditScaleFactor,
            Self::RelaySessionId(_) => TagType::RelaySessionId,
            Self::Hurl(_) => TagType::Hurl,
            Self::Motm(_) => TagType::Motm,
            Self::PppMaxPayload(_) => TagType::PppMaxPayload,
            Self::IpRouteAdd(_) => TagType::IpRouteAdd,
            Self::ServiceNameError(_) => TagType::ServiceNameError,
            Self::AcSystemError(_) => TagType::AcSystemError,
            Self::GenericError(_) => TagType::GenericError,
            Self::Unknown { tag_type, .. } => TagType::from(*tag_type),
        }
    }

    /// The byte-string value of the tags that carry one (names, opaque
    /// tags, error reasons, unknown tags).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::ServiceName(v)
            | Self::AcName(v)
            | Self::HostUniq(v)
            | Self::AcCookie(v)
            | Self::RelaySessionId(v)
            | Self::Hurl(v)
            | Self::Motm(v)
            | Self::ServiceNameError(v)
            | Self::AcSystemError(v)
            | Self::GenericError(v)
            | Self::Unknown { value: v, .. } => Some(v),
            _ => None,
        }
    }

    /// TAG_LENGTH.
    pub fn value_len(&self) -> usize {
        match self {
            Self::EndOfList => 0,
            Self::VendorSpecific(vs) => vs.value_len(),
            Self::Credits { .. } => 4,
            Self::Metrics(_) => Metrics::LEN,
            Self::SequenceNumber(_) | Self::CreditScaleFactor(_) | Self::PppMaxPayload(_) => 2,
            Self::IpRouteAdd(routes) => routes.len() * IpRoute::LEN,
            other => other.bytes().map_or(0, <[u8]>::len),
        }
    }

    /// Encoded length: header plus value.
    pub fn buffer_len(&self) -> usize {
        TAG_HEADER_LEN + self.value_len()
    }

    /// Writes the tag at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if let Self::VendorSpecific(vs) = self {
            vs.check()?;
        }
        let value_len = len_u16(self.value_len(), "PPPoE tag value longer than 65535 bytes")?;
        let len = self.buffer_len();
        ensure_room(buf, len)?;
        write_u16(buf, 0, self.tag_type().into());
        write_u16(buf, 2, value_len);
        let out = &mut buf[TAG_HEADER_LEN..len];
        match self {
            Self::EndOfList => {}
            Self::VendorSpecific(vs) => vs.write(out),
            Self::Credits { fcn, bcn } => {
                write_u16(out, 0, *fcn);
                write_u16(out, 2, *bcn);
            }
            Self::Metrics(m) => m.write(out),
            Self::SequenceNumber(n) | Self::CreditScaleFactor(n) | Self::PppMaxPayload(n) => {
                write_u16(out, 0, *n);
            }
            Self::IpRouteAdd(routes) => {
                for (route, chunk) in routes.iter().zip(out.chunks_exact_mut(IpRoute::LEN)) {
                    chunk[0..4].copy_from_slice(&route.destination.octets());
                    chunk[4..8].copy_from_slice(&route.mask.octets());
                    chunk[8..12].copy_from_slice(&route.gateway.octets());
                    chunk[12..16].copy_from_slice(&route.metric.to_be_bytes());
                }
            }
            other => {
                if let Some(v) = other.bytes() {
                    out.copy_from_slice(v);
                }
            }
        }
        Ok(len)
    }
}

// ---------------------------------------------------------------------------
// Discovery packets
// ---------------------------------------------------------------------------

/// An owned Discovery-stage packet (EtherType 0x8863): PADI, PADO, PADR,
/// PADS, PADT or an unknown CODE, with its tags in order.
///
/// The RFC 2516 §5 rules about which tags a packet must carry and which
/// SESSION_ID it must use are the discovery core's to enforce; this type
/// represents whatever arrived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoveryRepr {
    /// CODE.
    pub code: Code,
    /// SESSION_ID (RFC 2516 §5.1–§5.3: 0x0000 in PADI, PADO and PADR).
    pub session_id: u16,
    /// Tags, in packet order. End-Of-List, when present, is last.
    pub tags: Vec<Tag>,
}

impl DiscoveryRepr {
    /// A packet without tags.
    pub const fn new(code: Code, session_id: u16) -> Self {
        Self {
            code,
            session_id,
            tags: Vec::new(),
        }
    }

    /// Parses a checked packet and all its tags. The first malformed tag
    /// fails the whole packet. Bytes after End-Of-List are ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        let tags = packet
            .tags()
            .map(|raw| raw.and_then(Tag::parse))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            code: packet.code(),
            session_id: packet.session_id(),
            tags,
        })
    }

    /// Parses a PPPoE packet from raw bytes (header first).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// LENGTH: the sum of the tags' lengths.
    pub fn payload_len(&self) -> usize {
        self.tags.iter().map(Tag::buffer_len).sum()
    }

    /// Header plus tags.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if let Some(pos) = self.tags.iter().position(|t| *t == Tag::EndOfList) {
            if pos + 1 != self.tags.len() {
                return Err(Error::Malformed(
                    "PPPoE End-Of-List tag is not the last tag",
                ));
            }
        }
        let payload_len = len_u16(self.payload_len(), "PPPoE payload longer than 65535 bytes")?;
        let len = self.buffer_len();
        ensure_room(buf, len)?;
        buf[0] = VERSION_AND_TYPE;
        buf[1] = self.code.into();
        write_u16(buf, 2, self.session_id);
        write_u16(buf, 4, payload_len);
        let mut offset = HEADER_LEN;
        for tag in &self.tags {
            offset += tag.emit(&mut buf[offset..len])?;
        }
        Ok(len)
    }

    /// The packet as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }

    /// The first tag of this type.
    pub fn find(&self, tag_type: TagType) -> Option<&Tag> {
        self.tags.iter().find(|t| t.tag_type() == tag_type)
    }

    fn find_bytes(&self, tag_type: TagType) -> Option<&[u8]> {
        self.find(tag_type).and_then(Tag::bytes)
    }

    /// Every Service-Name tag (a PADO lists the services the AC offers).
    pub fn service_names(&self) -> impl Iterator<Item = &[u8]> {
        self.tags.iter().filter_map(|t| match t {
            Tag::ServiceName(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The first Service-Name.
    pub fn service_name(&self) -> Option<&[u8]> {
        self.find_bytes(TagType::ServiceName)
    }

    /// The AC-Name.
    pub fn ac_name(&self) -> Option<&[u8]> {
        self.find_bytes(TagType::AcName)
    }

    /// The Host-Uniq.
    pub fn host_uniq(&self) -> Option<&[u8]> {
        self.find_bytes(TagType::HostUniq)
    }

    /// The AC-Cookie.
    pub fn ac_cookie(&self) -> Option<&[u8]> {
        self.find_bytes(TagType::AcCookie)
    }

    /// The Relay-Session-Id.
    pub fn relay_session_id(&self) -> Option<&[u8]> {
        self.find_bytes(TagType::RelaySessionId)
    }

    /// PPP-Max-Payload (RFC 4638).
    pub fn max_payload(&self) -> Option<u16> {
        self.tags.iter().find_map(|t| match t {
            Tag::PppMaxPayload(n) => Some(*n),
            _ => None,
        })
    }

    /// The first error tag (Service-Name-Error, AC-System-Error or
    /// Generic-Error) with its reason.
    pub fn error(&self) -> Option<(TagType, &[u8])> {
        self.tags.iter().find_map(|t| match t {
            Tag::ServiceNameError(v) | Tag::AcSystemError(v) | Tag::GenericError(v) => {
                Some((t.tag_type(), v.as_slice()))
            }
            _ => None,
        })
    }

    /// The sub-options of every Broadband Forum Vendor-Specific tag.
    pub fn bbf_sub_options(&self) -> impl Iterator<Item = &BbfSubOption> {
        self.tags
            .iter()
            .filter_map(|t| match t {
                Tag::VendorSpecific(VendorSpecific::BroadbandForum(subs)) => Some(subs.iter()),
                _ => None,
            })
            .flatten()
    }

    /// The Agent-Circuit-Id an access node inserted (RFC 4679 / TR-101).
    pub fn agent_circuit_id(&self) -> Option<&[u8]> {
        self.bbf_sub_options().find_map(|s| match s {
            BbfSubOption::AgentCircuitId(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The Agent-Remote-Id an access node inserted.
    pub fn agent_remote_id(&self) -> Option<&[u8]> {
        self.bbf_sub_options().find_map(|s| match s {
            BbfSubOption::AgentRemoteId(v) => Some(v.as_slice()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pppoe::SessionPacket;
    use proptest::prelude::*;

    /// PADO from the BNG Blaster capture (frame 21), PPPoE part.
    const PADO: [u8; 36] = [
        0x11, 0x07, 0x00, 0x00, 0x00, 0x1e, 0x01, 0x01, 0x00, 0x06, b'a', b'c', b'c', b'e', b's',
        b's', 0x01, 0x04, 0x00, 0x10, 0xb8, 0x73, 0x6f, 0x9f, 0x9c, 0x86, 0xd5, 0x64, 0x8e, 0xef,
        0xeb, 0x8f, 0xd8, 0x9f, 0xaf, 0x3b,
    ];

    /// A PADI as a DSLAM relays it: Service-Name "", Host-Uniq, PPP-Max-Payload
    /// and a Broadband Forum tag with circuit id, remote id, an upstream rate
    /// and an access-loop encapsulation.
    fn padi_with_line_id() -> Vec<u8> {
        let mut p = vec![0x11, 0x09, 0x00, 0x00, 0x00, 0x00];
        p.extend_from_slice(&[0x01, 0x01, 0x00, 0x00]);
        p.extend_from_slice(&[0x01, 0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&[0x01, 0x20, 0x00, 0x02, 0x05, 0xdc]);
        let mut vendor = vec![0x00, 0x00, 0x0d, 0xe9];
        vendor.extend_from_slice(&[0x01, 0x0b]);
        vendor.extend_from_slice(b"dslam1 1/27");
        vendor.extend_from_slice(&[0x02, 0x05]);
        vendor.extend_from_slice(b"cust1");
        vendor.extend_from_slice(&[0x81, 0x04, 0x00, 0x00, 0x27, 0x10]);
        vendor.extend_from_slice(&[0x90, 0x03, 0x02, 0x00, 0x00]);
        p.extend_from_slice(&[0x01, 0x05, 0x00, vendor.len() as u8]);
        p.extend_from_slice(&vendor);
        let len = (p.len() - 6) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
        p
    }

    #[test]
    fn deconstruct_pado() {
        let packet = Packet::new_checked(&PADO[..]).unwrap();
        assert_eq!(packet.version(), 1);
        assert_eq!(packet.pppoe_type(), 1);
        assert_eq!(packet.code(), Code::Pado);
        assert_eq!(packet.session_id(), 0);
        assert_eq!(packet.payload_len(), 30);
        let repr = DiscoveryRepr::parse(&packet).unwrap();
        assert_eq!(repr.service_name(), Some(&b"access"[..]));
        assert_eq!(repr.ac_cookie().map(<[u8]>::len), Some(16));
        assert_eq!(repr.ac_name(), None);
        assert_eq!(repr.to_vec().unwrap(), PADO);
    }

    #[test]
    fn deconstruct_padi_with_line_id() {
        let bytes = padi_with_line_id();
        let repr = DiscoveryRepr::parse_bytes(&bytes).unwrap();
        assert_eq!(repr.code, Code::Padi);
        assert_eq!(repr.service_name(), Some(&b""[..]));
        assert_eq!(repr.host_uniq(), Some(&[0xde, 0xad, 0xbe, 0xef][..]));
        assert_eq!(repr.max_payload(), Some(1500));
        assert_eq!(repr.agent_circuit_id(), Some(&b"dslam1 1/27"[..]));
        assert_eq!(repr.agent_remote_id(), Some(&b"cust1"[..]));
        let subs: Vec<_> = repr.bbf_sub_options().collect();
        assert_eq!(subs.len(), 4);
        assert_eq!(subs[2].sub_type(), BbfSubOptionType::ActualDataRateUpstream);
        assert_eq!(subs[2].as_u32(), Some(10_000));
        assert_eq!(
            subs[3].sub_type(),
            BbfSubOptionType::AccessLoopEncapsulation
        );
        assert_eq!(subs[3].value(), &[0x02, 0x00, 0x00]);
        assert_eq!(subs[3].as_u32(), None);
        assert_eq!(repr.to_vec().unwrap(), bytes);
    }

    #[test]
    fn construct_padt_with_error() {
        let mut repr = DiscoveryRepr::new(Code::Padt, 0x1234);
        repr.tags
            .push(Tag::GenericError(b"session closed".to_vec()));
        let bytes = repr.to_vec().unwrap();
        assert_eq!(&bytes[..6], &[0x11, 0xa7, 0x12, 0x34, 0x00, 0x12]);
        assert_eq!(&bytes[6..10], &[0x02, 0x03, 0x00, 0x0e]);
        let back = DiscoveryRepr::parse_bytes(&bytes).unwrap();
        assert_eq!(
            back.error(),
            Some((TagType::GenericError, &b"session closed"[..]))
        );
        assert_eq!(back, repr);
    }

    #[test]
    fn padding_after_length_is_ignored() {
        let mut bytes = PADO.to_vec();
        bytes.extend_from_slice(&[0u8; 10]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload().len(), 30);
        assert_eq!(packet.padding().len(), 10);
        assert_eq!(
            DiscoveryRepr::parse(&packet).unwrap().to_vec().unwrap(),
            PADO
        );
    }

    #[test]
    fn length_beyond_buffer_is_an_error() {
        let mut bytes = PADO;
        bytes[5] = 31;
        assert!(matches!(
            Packet::new_checked(&bytes[..]),
            Err(Error::Truncated {
                need: 37,
                have: 36,
                ..
            })
        ));
        for len in 0..PADO.len() {
            assert!(Packet::new_checked(&PADO[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn version_and_type_are_checked() {
        for first in [0x01, 0x10, 0x21, 0x12, 0x00, 0xff] {
            let mut bytes = PADO;
            bytes[0] = first;
            assert!(matches!(
                Packet::new_checked(&bytes[..]),
                Err(Error::Unsupported(_))
            ));
        }
    }

    #[test]
    fn overrunning_tag_is_an_error() {
        // Tag claims 7 bytes, payload has 6 after its header.
        let bytes = [
            0x11, 0x09, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x01, 0x00, 0x07, 1, 2, 3, 4, 5, 6,
        ];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let mut tags = packet.tags();
        assert!(matches!(tags.next(), Some(Err(Error::Truncated { .. }))));
        assert!(tags.next().is_none());
        assert!(DiscoveryRepr::parse(&packet).is_err());
        // A dangling partial tag header.
        let bytes = [0x11, 0x09, 0x00, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00];
        assert!(DiscoveryRepr::parse_bytes(&bytes).is_err());
    }

    #[test]
    fn end_of_list_stops_iteration_and_must_be_empty() {
        let bytes = [
            0x11, 0x09, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xff, 0xff,
        ];
        let repr = DiscoveryRepr::parse_bytes(&bytes).unwrap();
        assert_eq!(repr.tags, vec![Tag::ServiceName(vec![]), Tag::EndOfList]);
        let bad = [
            0x11, 0x09, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00,
        ];
        assert!(matches!(
            DiscoveryRepr::parse_bytes(&bad),
            Err(Error::Malformed(_))
        ));
        let mut misplaced = DiscoveryRepr::new(Code::Padi, 0);
        misplaced.tags = vec![Tag::EndOfList, Tag::ServiceName(vec![])];
        assert!(misplaced.to_vec().is_err());
    }

    #[test]
    fn fixed_size_tags_with_wrong_length_are_malformed() {
        for (tag_type, len) in [
            (0x0106u16, 3usize),
            (0x0107, 9),
            (0x0108, 1),
            (0x0109, 3),
            (0x0120, 1),
            (0x0120, 4),
            (0x0121, 15),
        ] {
            let value = vec![0u8; len];
            let raw = RawTag {
                tag_type: TagType::from(tag_type),
                value: &value,
            };
            assert!(Tag::parse(raw).is_err(), "{tag_type:#x}/{len}");
        }
    }

    #[test]
    fn vendor_specific_length_fields() {
        let parse = |value: &[u8]| {
            Tag::parse(RawTag {
                tag_type: TagType::VendorSpecific,
                value,
            })
        };
        // Shorter than the vendor id.
        assert!(parse(&[0, 0, 0x0d]).is_err());
        // BBF sub-option header cut short.
        assert!(parse(&[0, 0, 0x0d, 0xe9, 0x01]).is_err());
        // BBF sub-option overruns.
        assert!(parse(&[0, 0, 0x0d, 0xe9, 0x01, 0x03, b'a', b'b']).is_err());
        // Empty BBF tag and other vendors are fine, other vendors verbatim.
        assert_eq!(
            parse(&[0, 0, 0x0d, 0xe9]).unwrap(),
            Tag::VendorSpecific(VendorSpecific::BroadbandForum(vec![]))
        );
        assert_eq!(
            parse(&[0, 0, 0, 9, 0x01, 0xff]).unwrap(),
            Tag::VendorSpecific(VendorSpecific::Other {
                vendor_id: 9,
                data: vec![0x01, 0xff]
            })
        );
        // A 256-byte sub-option cannot be emitted.
        let tag = Tag::VendorSpecific(VendorSpecific::BroadbandForum(vec![
            BbfSubOption::AgentCircuitId(vec![0; 256]),
        ]));
        assert!(tag.emit(&mut [0u8; 300]).is_err());
    }

    #[test]
    fn rfc5578_and_route_tags() {
        let metrics = Metrics {
            flags: 0b1_0101,
            relative_link_quality: 90,
            resource: 50,
            latency: 20,
            current_data_rate: 54,
            max_data_rate: 100,
        };
        assert!(metrics.receive_only());
        assert_eq!(metrics.current_data_rate_scale(), 2);
        assert_eq!(metrics.max_data_rate_scale(), 2);
        let mut repr = DiscoveryRepr::new(Code::Pads, 7);
        repr.tags = vec![
            Tag::Credits { fcn: 1, bcn: 2 },
            Tag::Metrics(metrics),
            Tag::SequenceNumber(3),
            Tag::CreditScaleFactor(64),
            Tag::IpRouteAdd(vec![IpRoute {
                destination: Ipv4Addr::new(10, 0, 0, 0),
                mask: Ipv4Addr::new(255, 0, 0, 0),
                gateway: Ipv4Addr::new(10, 0, 0, 1),
                metric: 5,
            }]),
            Tag::Hurl(b"http://x".to_vec()),
            Tag::Motm(b"hi".to_vec()),
            Tag::Unknown {
                tag_type: 0x0f0f,
                value: vec![1],
            },
        ];
        let bytes = repr.to_vec().unwrap();
        assert_eq!(DiscoveryRepr::parse_bytes(&bytes).unwrap(), repr);
    }

    #[test]
    fn emit_checks_room() {
        let repr = DiscoveryRepr::parse_bytes(&PADO).unwrap();
        for len in 0..PADO.len() {
            assert!(matches!(
                repr.emit(&mut vec![0; len]),
                Err(Error::BufferTooSmall { .. })
            ));
        }
        let huge = DiscoveryRepr {
            code: Code::Padi,
            session_id: 0,
            tags: vec![Tag::HostUniq(vec![0; 65_536])],
        };
        assert!(matches!(
            huge.emit(&mut vec![0; 70_000]),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn setters() {
        let mut bytes = PADO;
        let mut packet = Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_code(Code::Padr);
        packet.set_session_id(9);
        assert!(packet.set_payload_len(31).is_err());
        packet.set_payload_len(10).unwrap();
        packet.payload_mut()[0] = 0x02;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.code(), Code::Padr);
        assert_eq!(packet.session_id(), 9);
        assert_eq!(packet.payload().len(), 10);
        assert_eq!(packet.payload()[0], 0x02);
    }

    // ---- property tests ----

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn bbf_sub_option() -> impl Strategy<Value = BbfSubOption> {
        prop_oneof![
            bytes(64).prop_map(BbfSubOption::AgentCircuitId),
            bytes(64).prop_map(BbfSubOption::AgentRemoteId),
            (3u8..=255, bytes(8))
                .prop_map(|(sub_type, value)| BbfSubOption::Other { sub_type, value }),
        ]
    }

    fn tag() -> impl Strategy<Value = Tag> {
        let known: Vec<u16> = (0u16..0x0300)
            .filter(|t| !matches!(TagType::from(*t), TagType::Unknown(_)))
            .collect();
        prop_oneof![
            bytes(16).prop_map(Tag::ServiceName),
            bytes(16).prop_map(Tag::AcName),
            bytes(16).prop_map(Tag::HostUniq),
            bytes(24).prop_map(Tag::AcCookie),
            proptest::collection::vec(bbf_sub_option(), 0..4)
                .prop_map(|s| Tag::VendorSpecific(VendorSpecific::BroadbandForum(s))),
            (
                any::<u32>().prop_filter("not BBF", |v| *v != BROADBAND_FORUM_VENDOR_ID),
                bytes(8)
            )
                .prop_map(|(vendor_id, data)| Tag::VendorSpecific(
                    VendorSpecific::Other { vendor_id, data }
                )),
            (any::<u16>(), any::<u16>()).prop_map(|(fcn, bcn)| Tag::Credits { fcn, bcn }),
            any::<[u8; 10]>().prop_map(|b| Tag::Metrics(Metrics::parse(&b).unwrap())),
            any::<u16>().prop_map(Tag::SequenceNumber),
            any::<u16>().prop_map(Tag::CreditScaleFactor),
            bytes(12).prop_map(Tag::RelaySessionId),
            bytes(12).prop_map(Tag::Hurl),
            bytes(12).prop_map(Tag::Motm),
            any::<u16>().prop_map(Tag::PppMaxPayload),
            proptest::collection::vec(any::<[u32; 4]>(), 0..3).prop_map(|rs| Tag::IpRouteAdd(
                rs.into_iter()
                    .map(|[d, m, g, metric]| IpRoute {
                        destination: d.into(),
                        mask: m.into(),
                        gateway: g.into(),
                        metric
                    })
                    .collect()
            )),
            bytes(12).prop_map(Tag::ServiceNameError),
            bytes(12).prop_map(Tag::AcSystemError),
            bytes(12).prop_map(Tag::GenericError),
            (
                any::<u16>().prop_filter("unknown", move |t| !known.contains(t)),
                bytes(8)
            )
                .prop_map(|(tag_type, value)| Tag::Unknown { tag_type, value }),
        ]
    }

    fn discovery_repr() -> impl Strategy<Value = DiscoveryRepr> {
        (
            any::<u8>(),
            any::<u16>(),
            proptest::collection::vec(tag(), 0..8),
            any::<bool>(),
        )
            .prop_map(|(code, session_id, mut tags, end_of_list)| {
                if end_of_list {
                    tags.push(Tag::EndOfList);
                }
                DiscoveryRepr {
                    code: Code::from(code),
                    session_id,
                    tags,
                }
            })
    }

    proptest! {
        #[test]
        fn discovery_repr_round_trips(repr in discovery_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            let back = DiscoveryRepr::parse_bytes(&bytes).unwrap();
            prop_assert_eq!(&back, &repr);
            prop_assert_eq!(back.to_vec().unwrap(), bytes);
        }

        #[test]
        fn discovery_bytes_round_trip(body in bytes(64), code: u8, session_id: u16) {
            let mut packet = vec![0x11, code, (session_id >> 8) as u8, session_id as u8];
            packet.extend_from_slice(&(body.len() as u16).to_be_bytes());
            packet.extend_from_slice(&body);
            if let Ok(repr) = DiscoveryRepr::parse_bytes(&packet) {
                // Only bytes after End-Of-List are ever dropped.
                if repr.buffer_len() == packet.len() {
                    prop_assert_eq!(repr.to_vec().unwrap(), packet);
                } else {
                    prop_assert_eq!(repr.tags.last(), Some(&Tag::EndOfList));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in bytes(80)) {
            if let Ok(packet) = Packet::new_checked(&data[..]) {
                let _ = DiscoveryRepr::parse(&packet);
                for tag in packet.tags().flatten() {
                    let _ = tag.to_tag();
                }
            }
            let _ = SessionPacket::new_checked(&data[..]);
        }
    }
}
