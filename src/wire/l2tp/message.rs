//! Control messages (RFC 2661 §3.2, §4.4.1): header + Message Type AVP +
//! ordered AVPs, hidden AVPs unhidden on parse and hidden on emit.
//!
//! [`ControlMessage`] is a plain value: no state, no I/O, no clock. The
//! control channel fills in Ns/Nr, the state machines read the typed
//! accessors.

use crate::open_enum;
use crate::wire::{Error, Result, ensure_room};

use super::avp::{
    AVP_HEADER_LEN, Accm, Avp, AvpIter, AvpType, Bearer, CallErrors, Framing, MAX_AVP_VALUE_LEN,
    ProtocolVersion, ProxyAuthenType, Q931Cause, ResultCode, write_avp_header,
};
use super::header::{CONTROL_HEADER_LEN, HeaderRepr, Packet};
use super::hidden;

open_enum! {
    /// Control message types (RFC 2661 §3.2); 0, 5 and 13 are reserved.
    pub enum MessageType(u16) {
        /// 1 — Start-Control-Connection-Request.
        Sccrq = 1,
        /// 2 — Start-Control-Connection-Reply.
        Sccrp = 2,
        /// 3 — Start-Control-Connection-Connected.
        Scccn = 3,
        /// 4 — Stop-Control-Connection-Notification.
        StopCcn = 4,
        /// 6 — Hello.
        Hello = 6,
        /// 7 — Outgoing-Call-Request.
        Ocrq = 7,
        /// 8 — Outgoing-Call-Reply.
        Ocrp = 8,
        /// 9 — Outgoing-Call-Connected.
        Occn = 9,
        /// 10 — Incoming-Call-Request.
        Icrq = 10,
        /// 11 — Incoming-Call-Reply.
        Icrp = 11,
        /// 12 — Incoming-Call-Connected.
        Iccn = 12,
        /// 14 — Call-Disconnect-Notify.
        Cdn = 14,
        /// 15 — WAN-Error-Notify.
        Wen = 15,
        /// 16 — Set-Link-Info.
        Sli = 16,
    }
}

impl MessageType {
    /// Whether the message manages the control connection (SCCRQ, SCCRP,
    /// SCCCN, StopCCN, HELLO) rather than a call. An unrecognized AVP with
    /// the M bit tears down the tunnel in the former and the session in the
    /// latter (§4.1).
    pub const fn is_tunnel_message(self) -> bool {
        matches!(
            self,
            Self::Sccrq | Self::Sccrp | Self::Scccn | Self::StopCcn | Self::Hello
        )
    }
}

/// One AVP of a control message with its header bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageAvp {
    /// M bit.
    pub mandatory: bool,
    /// H bit: received hidden / to be sent hidden.
    pub hidden: bool,
    /// The decoded AVP.
    pub avp: Avp,
}

impl MessageAvp {
    /// The AVP in cleartext, with the M bit RFC 2661 prescribes for it.
    pub fn new(avp: Avp) -> Self {
        Self {
            mandatory: avp.default_mandatory(),
            hidden: false,
            avp,
        }
    }

    /// The AVP hidden, with the M bit RFC 2661 prescribes for it.
    pub fn hidden(avp: Avp) -> Self {
        Self {
            hidden: true,
            ..Self::new(avp)
        }
    }
}

/// How much padding to add to each hidden AVP's subformat (§4.3: "To mask
/// the size of the data being hidden, the resulting subformat MAY be
/// padded"). Padding bytes are zeros (see [`hidden`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HiddenPadding {
    /// No padding.
    #[default]
    None,
    /// This many bytes.
    Fixed(u16),
    /// Round the subformat up to a multiple of this many bytes.
    ToMultipleOf(u16),
}

impl HiddenPadding {
    /// Padding for a value of `value_len` bytes, clamped so the AVP still
    /// fits the 10-bit Length field.
    fn padding_for(self, value_len: usize) -> usize {
        let subformat = hidden::hidden_len(value_len, 0);
        let wanted = match self {
            Self::None => 0,
            Self::Fixed(n) => usize::from(n),
            Self::ToMultipleOf(m) if m > 1 => {
                let m = usize::from(m);
                (m - subformat % m) % m
            }
            Self::ToMultipleOf(_) => 0,
        };
        wanted.min(MAX_AVP_VALUE_LEN.saturating_sub(subformat))
    }
}

/// What [`ControlMessage::emit`] needs to hide AVPs (§4.3).
#[derive(Debug, Clone, Copy)]
pub struct Hiding<'a> {
    /// The tunnel's shared secret.
    pub secret: &'a [u8],
    /// Random vector to send in a Random Vector AVP (inserted just before
    /// the first hidden AVP that no Random Vector AVP of the message
    /// precedes). The RFC recommends at least 16 octets.
    pub random_vector: &'a [u8],
    /// IETF AVP types to hide in addition to AVPs marked
    /// [`MessageAvp::hidden`].
    pub hide: &'a [AvpType],
    /// Padding policy.
    pub padding: HiddenPadding,
}

/// An owned L2TP control message.
///
/// `message_type == None` is a ZLB (zero-length body): a control header
/// without AVPs, which only acknowledges (§5.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ControlMessage {
    /// Tunnel ID of the recipient.
    pub tunnel_id: u16,
    /// Session ID of the recipient (0 for tunnel messages).
    pub session_id: u16,
    /// Ns.
    pub ns: u16,
    /// Nr.
    pub nr: u16,
    /// The Message Type AVP's value; `None` for a ZLB.
    pub message_type: Option<MessageType>,
    /// M bit of the Message Type AVP: if set and the type is unknown, "the
    /// tunnel MUST be cleared"; "The M-bit MUST be set to 1 for all message
    /// types defined in this document" (§4.4.1).
    pub message_type_mandatory: bool,
    /// AVPs after the Message Type AVP, in order.
    pub avps: Vec<MessageAvp>,
}

/// One step of laying out a message body.
#[derive(Debug, Clone, Copy)]
enum Step<'s> {
    /// A Random Vector AVP emit inserts.
    InsertRandomVector(&'s [u8]),
    /// An AVP in cleartext.
    Clear(&'s MessageAvp),
    /// An AVP written verbatim with its own flags (Concealed,
    /// Unrecognized).
    Verbatim(&'s MessageAvp, bool),
    /// An AVP to hide with this random vector and padding.
    Hide(&'s MessageAvp, &'s [u8], usize),
}

impl Step<'_> {
    fn len(&self) -> usize {
        match self {
            Self::InsertRandomVector(rv) => AVP_HEADER_LEN + rv.len(),
            Self::Clear(item) | Self::Verbatim(item, _) => AVP_HEADER_LEN + item.avp.value_len(),
            Self::Hide(item, _, padding) => {
                AVP_HEADER_LEN + hidden::hidden_len(item.avp.value_len(), *padding)
            }
        }
    }
}

/// Length of the Message Type AVP.
const MESSAGE_TYPE_AVP_LEN: usize = AVP_HEADER_LEN + 2;

impl ControlMessage {
    /// A message of `message_type` with no AVPs yet, ids and sequence
    /// numbers zero (the control channel sets them).
    pub fn new(message_type: MessageType) -> Self {
        Self {
            tunnel_id: 0,
            session_id: 0,
            ns: 0,
            nr: 0,
            message_type: Some(message_type),
            message_type_mandatory: true,
            avps: Vec::new(),
        }
    }

    /// A ZLB acknowledgement.
    pub fn zlb(tunnel_id: u16, ns: u16, nr: u16) -> Self {
        Self {
            tunnel_id,
            session_id: 0,
            ns,
            nr,
            message_type: None,
            message_type_mandatory: false,
            avps: Vec::new(),
        }
    }

    /// Sets the recipient's tunnel and session ids.
    #[must_use]
    pub fn with_ids(mut self, tunnel_id: u16, session_id: u16) -> Self {
        self.tunnel_id = tunnel_id;
        self.session_id = session_id;
        self
    }

    /// Appends an AVP in cleartext with its RFC M bit.
    #[must_use]
    pub fn with_avp(mut self, avp: Avp) -> Self {
        self.avps.push(MessageAvp::new(avp));
        self
    }

    /// Appends an AVP to be hidden on emit, with its RFC M bit.
    #[must_use]
    pub fn with_hidden_avp(mut self, avp: Avp) -> Self {
        self.avps.push(MessageAvp::hidden(avp));
        self
    }

    /// A HELLO (keepalive, §6.5).
    pub fn hello() -> Self {
        Self::new(MessageType::Hello)
    }

    /// A StopCCN (§6.4): Assigned Tunnel ID of the sender and Result Code.
    pub fn stop_ccn(assigned_tunnel_id: u16, result: ResultCode) -> Self {
        Self::new(MessageType::StopCcn)
            .with_avp(Avp::AssignedTunnelId(assigned_tunnel_id))
            .with_avp(Avp::ResultCode(result))
    }

    /// A CDN (§6.13): Result Code and Assigned Session ID of the sender.
    pub fn cdn(assigned_session_id: u16, result: ResultCode) -> Self {
        Self::new(MessageType::Cdn)
            .with_avp(Avp::ResultCode(result))
            .with_avp(Avp::AssignedSessionId(assigned_session_id))
    }

    /// Whether this is a ZLB (acknowledgement only).
    pub fn is_zlb(&self) -> bool {
        self.message_type.is_none()
    }

    /// The header this message is sent with.
    pub fn header(&self) -> HeaderRepr {
        HeaderRepr::control(self.tunnel_id, self.session_id, self.ns, self.nr)
    }

    /// Parses a control message; see [`ControlMessage::parse`].
    pub fn from_bytes(bytes: &[u8], secret: Option<&[u8]>) -> Result<Self> {
        Self::parse(&Packet::new_checked(bytes)?, secret)
    }

    /// Parses the control message in `packet`.
    ///
    /// * An empty body is a ZLB.
    /// * "The Message Type AVP MUST be the first AVP in a message" and "may
    ///   not be hidden (the H bit MUST be 0)" (§4.4.1) — else malformed.
    /// * Hidden AVPs use "the last Random Vector AVP encountered in the
    ///   message prior to the AVP to be unhidden" (§4.3); a hidden AVP with
    ///   none before it is malformed, and so is a hidden AVP of a type
    ///   that "MUST NOT be hidden" (§4.4), the Random Vector among them.
    /// * With `secret`, hidden AVPs are unhidden and decoded (a wrong
    ///   secret is usually caught as a malformed subformat or value size);
    ///   without, they stay [`Avp::Concealed`] — the control plane decides
    ///   (e.g. refuse the tunnel, or relay it verbatim).
    /// * AVPs with reserved bits set are kept as [`Avp::Unrecognized`].
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, secret: Option<&[u8]>) -> Result<Self> {
        if !packet.is_control() {
            return Err(Error::Malformed(
                "L2TP data message where a control message was expected",
            ));
        }
        let (ns, nr) = packet
            .ns()
            .zip(packet.nr())
            .ok_or(Error::Malformed("L2TP control message without Ns/Nr"))?;
        let mut message = Self {
            tunnel_id: packet.tunnel_id(),
            session_id: packet.session_id(),
            ns,
            nr,
            message_type: None,
            message_type_mandatory: false,
            avps: Vec::new(),
        };
        let mut raws = AvpIter::new(packet.payload());
        let Some(first) = raws.next() else {
            return Ok(message);
        };
        let first = first?;
        if first.ietf_type() != Some(AvpType::MessageType) || first.reserved_bits != 0 {
            return Err(Error::Malformed(
                "first AVP is not Message Type (RFC 2661 §4.4.1)",
            ));
        }
        if first.hidden {
            return Err(Error::Malformed(
                "Message Type AVP MUST NOT be hidden (RFC 2661 §4.4.1)",
            ));
        }
        AvpType::MessageType.check_value_len(first.value.len())?;
        message.message_type = Some(u16::from_be_bytes([first.value[0], first.value[1]]).into());
        message.message_type_mandatory = first.mandatory;

        let mut random_vector: Option<&[u8]> = None;
        for raw in raws {
            let raw = raw?;
            let avp = if raw.hidden && raw.reserved_bits == 0 {
                // §4.4 marks some AVPs "MUST NOT be hidden (the H bit MUST
                // be 0)" — among them the Random Vector itself.
                if let Some(ty) = raw.ietf_type() {
                    ty.check_may_be_hidden()?;
                }
                let rv = random_vector.ok_or(Error::Malformed(
                    "hidden AVP without a preceding Random Vector AVP (RFC 2661 §4.3)",
                ))?;
                match secret {
                    Some(secret) => Avp::from_raw(&raw, secret, rv)?,
                    None => Avp::from_raw_concealed(&raw)?,
                }
            } else {
                Avp::from_raw_concealed(&raw)?
            };
            if matches!(avp, Avp::RandomVector(_)) {
                random_vector = Some(raw.value);
            }
            message.avps.push(MessageAvp {
                mandatory: raw.mandatory,
                hidden: raw.hidden,
                avp,
            });
        }
        Ok(message)
    }

    /// Walks the body layout emit will produce, validating as it goes.
    fn layout<'s>(
        &'s self,
        hiding: Option<&Hiding<'s>>,
        mut visit: impl FnMut(Step<'s>) -> Result<()>,
    ) -> Result<()> {
        if self.message_type.is_none() {
            if self.avps.is_empty() {
                return Ok(());
            }
            return Err(Error::Malformed("ZLB (no Message Type) with AVPs"));
        }
        let mut random_vector: Option<&'s [u8]> = None;
        for item in &self.avps {
            item.avp.validate()?;
            match &item.avp {
                Avp::Concealed { .. } => {
                    if random_vector.is_none() {
                        return Err(Error::Malformed(
                            "concealed hidden AVP without a preceding Random Vector AVP",
                        ));
                    }
                    visit(Step::Verbatim(item, true))?;
                }
                Avp::Unrecognized { .. } => visit(Step::Verbatim(item, item.hidden))?,
                avp => {
                    let ty = avp.ietf_type();
                    let listed = hiding
                        .zip(ty)
                        .is_some_and(|(hiding, ty)| hiding.hide.contains(&ty));
                    if item.hidden || listed {
                        if let Some(ty) = ty {
                            ty.check_may_be_hidden()?;
                        }
                        let hiding = hiding.ok_or(Error::Malformed(
                            "AVP to be hidden but no tunnel secret (Hiding) given",
                        ))?;
                        let rv = match random_vector {
                            Some(rv) => rv,
                            None => {
                                visit(Step::InsertRandomVector(hiding.random_vector))?;
                                random_vector = Some(hiding.random_vector);
                                hiding.random_vector
                            }
                        };
                        let padding = hiding.padding.padding_for(avp.value_len());
                        if hidden::hidden_len(avp.value_len(), padding) > MAX_AVP_VALUE_LEN {
                            return Err(Error::Malformed(
                                "hidden AVP value longer than 1015 bytes (10-bit Length field)",
                            ));
                        }
                        visit(Step::Hide(item, rv, padding))?;
                    } else {
                        if let Avp::RandomVector(rv) = avp {
                            random_vector = Some(rv);
                        }
                        visit(Step::Clear(item))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes [`ControlMessage::emit`] writes with this `hiding`.
    pub fn buffer_len(&self, hiding: Option<&Hiding<'_>>) -> Result<usize> {
        let mut len = CONTROL_HEADER_LEN;
        if self.message_type.is_some() {
            len += MESSAGE_TYPE_AVP_LEN;
        }
        self.layout(hiding, |step| {
            len += step.len();
            Ok(())
        })?;
        if len > usize::from(u16::MAX) {
            return Err(Error::Malformed("L2TP message longer than 65535 bytes"));
        }
        Ok(len)
    }

    /// Writes the message into `out` and returns its length.
    ///
    /// AVPs marked [`MessageAvp::hidden`], and IETF AVPs whose type is in
    /// `hiding.hide`, are hidden (§4.3) with the most recent Random Vector
    /// AVP before them in [`ControlMessage::avps`]; where there is none, a
    /// Random Vector AVP carrying `hiding.random_vector` is inserted before
    /// the first of them ("MUST precede the first AVP having an H bit of
    /// 1"). Hiding an AVP the RFC says MUST NOT be hidden, or hiding
    /// without `hiding`, is an error. [`Avp::Concealed`] and
    /// [`Avp::Unrecognized`] are written verbatim.
    pub fn emit(&self, hiding: Option<&Hiding<'_>>, out: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len(hiding)?;
        ensure_room(out, total)?;
        let out = &mut out[..total];
        self.header().emit(out, total - CONTROL_HEADER_LEN)?;
        let mut at = CONTROL_HEADER_LEN;
        if let Some(message_type) = self.message_type {
            write_avp_header(
                &mut out[at..],
                self.message_type_mandatory,
                false,
                0,
                0,
                AvpType::MessageType.into(),
                2,
            )?;
            out[at + AVP_HEADER_LEN..at + MESSAGE_TYPE_AVP_LEN]
                .copy_from_slice(&u16::from(message_type).to_be_bytes());
            at += MESSAGE_TYPE_AVP_LEN;
        }
        self.layout(hiding, |step| {
            let len = step.len();
            let avp_out = &mut out[at..at + len];
            let value_out = &mut avp_out[AVP_HEADER_LEN..];
            match step {
                Step::InsertRandomVector(rv) => {
                    write_avp_header(
                        avp_out,
                        true,
                        false,
                        0,
                        0,
                        AvpType::RandomVector.into(),
                        rv.len(),
                    )?;
                    avp_out[AVP_HEADER_LEN..].copy_from_slice(rv);
                }
                Step::Clear(item) => {
                    item.avp.encode_value(value_out)?;
                    write_avp_header(
                        avp_out,
                        item.mandatory,
                        false,
                        0,
                        item.avp.vendor_id(),
                        item.avp.attr_type(),
                        len - AVP_HEADER_LEN,
                    )?;
                }
                Step::Verbatim(item, hidden_bit) => {
                    let reserved_bits = match &item.avp {
                        Avp::Unrecognized { reserved_bits, .. } => *reserved_bits,
                        _ => 0,
                    };
                    item.avp.encode_value(value_out)?;
                    write_avp_header(
                        avp_out,
                        item.mandatory,
                        hidden_bit,
                        reserved_bits,
                        item.avp.vendor_id(),
                        item.avp.attr_type(),
                        len - AVP_HEADER_LEN,
                    )?;
                }
                Step::Hide(item, rv, padding) => {
                    // Lay the subformat out in place, then encrypt it.
                    let value_len = item.avp.value_len();
                    let attr_type = item.avp.attr_type();
                    let original_len = u16::try_from(value_len)
                        .map_err(|_| Error::Malformed("hidden AVP value too long"))?;
                    value_out[..2].copy_from_slice(&original_len.to_be_bytes());
                    item.avp.encode_value(&mut value_out[2..2 + value_len])?;
                    value_out[2 + value_len..].fill(0);
                    debug_assert_eq!(value_out.len(), hidden::hidden_len(value_len, padding));
                    hidden::encrypt_in_place(
                        attr_type,
                        hiding.map_or(&[][..], |h| h.secret),
                        rv,
                        value_out,
                    );
                    write_avp_header(
                        avp_out,
                        item.mandatory,
                        true,
                        0,
                        item.avp.vendor_id(),
                        attr_type,
                        len - AVP_HEADER_LEN,
                    )?;
                }
            }
            at += len;
            Ok(())
        })?;
        Ok(total)
    }

    /// Emits into a new vector.
    pub fn to_vec(&self, hiding: Option<&Hiding<'_>>) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.buffer_len(hiding)?];
        self.emit(hiding, &mut out)?;
        Ok(out)
    }

    /// The first AVP of IETF type `ty`.
    pub fn avp(&self, ty: AvpType) -> Option<&MessageAvp> {
        self.avps
            .iter()
            .find(|item| item.avp.ietf_type() == Some(ty))
    }

    /// AVPs that carry the M bit but were not understood (unknown, vendor,
    /// reserved-bit, or hidden without a secret). RFC 2661 §4.1: the
    /// session (or, for a tunnel message, the tunnel) "MUST be terminated".
    pub fn unrecognized_mandatory(&self) -> impl Iterator<Item = &MessageAvp> {
        self.avps
            .iter()
            .filter(|item| item.mandatory && !item.avp.is_recognized())
    }

    /// Whether a Sequencing Required AVP is present.
    pub fn sequencing_required(&self) -> bool {
        self.avps
            .iter()
            .any(|item| matches!(item.avp, Avp::SequencingRequired))
    }

    /// Proxy Authen ID: the PPP identifier (the reserved octet dropped).
    pub fn proxy_authen_id(&self) -> Option<u8> {
        self.avps.iter().find_map(|item| match item.avp {
            Avp::ProxyAuthenId { id, .. } => Some(id),
            _ => None,
        })
    }
}

macro_rules! accessors {
    ($( $(#[$doc:meta])* $name:ident -> $ty:ty = $variant:ident($bind:ident) => $value:expr; )+) => {
        impl ControlMessage {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Option<$ty> {
                    self.avps.iter().find_map(|item| match &item.avp {
                        Avp::$variant($bind) => Some($value),
                        _ => None,
                    })
                }
            )+
        }
    };
}

accessors! {
    /// Result Code (StopCCN, CDN).
    result_code -> &ResultCode = ResultCode(v) => v;
    /// Protocol Version.
    protocol_version -> ProtocolVersion = ProtocolVersion(v) => *v;
    /// Framing Capabilities.
    framing_capabilities -> Framing = FramingCapabilities(v) => *v;
    /// Bearer Capabilities.
    bearer_capabilities -> Bearer = BearerCapabilities(v) => *v;
    /// Tie Breaker.
    tie_breaker -> [u8; 8] = TieBreaker(v) => *v;
    /// Firmware Revision.
    firmware_revision -> u16 = FirmwareRevision(v) => *v;
    /// Host Name.
    host_name -> &[u8] = HostName(v) => v.as_slice();
    /// Vendor Name.
    vendor_name -> &[u8] = VendorName(v) => v.as_slice();
    /// Assigned Tunnel ID.
    assigned_tunnel_id -> u16 = AssignedTunnelId(v) => *v;
    /// Receive Window Size.
    receive_window_size -> u16 = ReceiveWindowSize(v) => *v;
    /// Challenge.
    challenge -> &[u8] = Challenge(v) => v.as_slice();
    /// Q.931 Cause Code.
    q931_cause -> &Q931Cause = Q931CauseCode(v) => v;
    /// Challenge Response.
    challenge_response -> [u8; 16] = ChallengeResponse(v) => *v;
    /// Assigned Session ID.
    assigned_session_id -> u16 = AssignedSessionId(v) => *v;
    /// Call Serial Number.
    call_serial_number -> u32 = CallSerialNumber(v) => *v;
    /// Minimum BPS.
    minimum_bps -> u32 = MinimumBps(v) => *v;
    /// Maximum BPS.
    maximum_bps -> u32 = MaximumBps(v) => *v;
    /// Bearer Type.
    bearer_type -> Bearer = BearerType(v) => *v;
    /// Framing Type.
    framing_type -> Framing = FramingType(v) => *v;
    /// Called Number.
    called_number -> &[u8] = CalledNumber(v) => v.as_slice();
    /// Calling Number.
    calling_number -> &[u8] = CallingNumber(v) => v.as_slice();
    /// Sub-Address.
    sub_address -> &[u8] = SubAddress(v) => v.as_slice();
    /// (Tx) Connect Speed.
    tx_connect_speed -> u32 = TxConnectSpeed(v) => *v;
    /// Physical Channel ID.
    physical_channel_id -> u32 = PhysicalChannelId(v) => *v;
    /// Initial Received LCP CONFREQ.
    initial_received_lcp_confreq -> &[u8] = InitialReceivedLcpConfReq(v) => v.as_slice();
    /// Last Sent LCP CONFREQ.
    last_sent_lcp_confreq -> &[u8] = LastSentLcpConfReq(v) => v.as_slice();
    /// Last Received LCP CONFREQ.
    last_received_lcp_confreq -> &[u8] = LastReceivedLcpConfReq(v) => v.as_slice();
    /// Proxy Authen Type.
    proxy_authen_type -> ProxyAuthenType = ProxyAuthenType(v) => *v;
    /// Proxy Authen Name.
    proxy_authen_name -> &[u8] = ProxyAuthenName(v) => v.as_slice();
    /// Proxy Authen Challenge.
    proxy_authen_challenge -> &[u8] = ProxyAuthenChallenge(v) => v.as_slice();
    /// Proxy Authen Response.
    proxy_authen_response -> &[u8] = ProxyAuthenResponse(v) => v.as_slice();
    /// Call Errors.
    call_errors -> CallErrors = CallErrors(v) => *v;
    /// ACCM.
    accm -> Accm = Accm(v) => *v;
    /// The first Random Vector.
    random_vector -> &[u8] = RandomVector(v) => v.as_slice();
    /// Private Group ID.
    private_group_id -> &[u8] = PrivateGroupId(v) => v.as_slice();
    /// Rx Connect Speed.
    rx_connect_speed -> u32 = RxConnectSpeed(v) => *v;
}

#[cfg(test)]
mod tests {
    use super::super::avp::tests::{opaque_avp, typed_avp};
    use super::super::avp::{CdnResult, GeneralError, StopCcnResult};
    use super::*;
    use proptest::prelude::*;

    fn item() -> impl Strategy<Value = MessageAvp> {
        prop_oneof![typed_avp(), opaque_avp()].prop_flat_map(|avp| {
            let may_hide = avp.ietf_type().is_none_or(|t| t.may_be_hidden());
            let hidden = if may_hide {
                any::<bool>().boxed()
            } else {
                Just(false).boxed()
            };
            (any::<bool>(), hidden).prop_map(move |(mandatory, hidden)| MessageAvp {
                mandatory,
                hidden,
                avp: avp.clone(),
            })
        })
    }

    fn message() -> impl Strategy<Value = ControlMessage> {
        let zlb = (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>()).prop_map(
            |(tunnel_id, session_id, ns, nr)| ControlMessage {
                session_id,
                ..ControlMessage::zlb(tunnel_id, ns, nr)
            },
        );
        let full = (
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>()),
            any::<u16>(),
            any::<bool>(),
            proptest::collection::vec(item(), 0..8),
        )
            .prop_map(
                |((tunnel_id, session_id, ns, nr), mt, message_type_mandatory, avps)| {
                    ControlMessage {
                        tunnel_id,
                        session_id,
                        ns,
                        nr,
                        message_type: Some(mt.into()),
                        message_type_mandatory,
                        avps,
                    }
                },
            );
        prop_oneof![zlb, full]
    }

    /// What parsing an emitted message gives back: a Random Vector AVP
    /// appears before the first hidden AVP if none preceded it.
    fn with_inserted_rv(mut msg: ControlMessage, rv: &[u8]) -> ControlMessage {
        let mut seen_rv = false;
        for i in 0..msg.avps.len() {
            if matches!(msg.avps[i].avp, Avp::RandomVector(_)) {
                seen_rv = true;
            }
            if msg.avps[i].hidden && !seen_rv {
                msg.avps
                    .insert(i, MessageAvp::new(Avp::RandomVector(rv.to_vec())));
                break;
            }
        }
        msg
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            msg in message(),
            secret in proptest::collection::vec(any::<u8>(), 1..20),
            rv in proptest::collection::vec(any::<u8>(), 0..20),
            padding in prop_oneof![
                Just(HiddenPadding::None),
                (0u16..40).prop_map(HiddenPadding::Fixed),
                (0u16..40).prop_map(HiddenPadding::ToMultipleOf),
            ],
        ) {
            let hiding = Hiding { secret: &secret, random_vector: &rv, hide: &[], padding };
            let bytes = msg.to_vec(Some(&hiding)).unwrap();
            prop_assert_eq!(bytes.len(), msg.buffer_len(Some(&hiding)).unwrap());
            let parsed = ControlMessage::from_bytes(&bytes, Some(&secret)).unwrap();
            let expected = with_inserted_rv(msg, &rv);
            prop_assert_eq!(&parsed, &expected);
            // Re-emitting the parsed message reproduces the bytes (the
            // Random Vector is now in the list, padding is deterministic).
            prop_assert_eq!(&parsed.to_vec(Some(&hiding)).unwrap(), &bytes);
            // Without the secret, hidden AVPs stay concealed and re-emit
            // byte-identically without any Hiding.
            let concealed = ControlMessage::from_bytes(&bytes, None).unwrap();
            prop_assert_eq!(concealed.to_vec(None).unwrap(), bytes);
        }

        #[test]
        fn arbitrary_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            secret in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut bytes = vec![0u8; CONTROL_HEADER_LEN + body.len()];
            HeaderRepr::control(1, 2, 3, 4).emit(&mut bytes, body.len()).unwrap();
            bytes[CONTROL_HEADER_LEN..].copy_from_slice(&body);
            for secret in [None, Some(&secret[..])] {
                if let Ok(msg) = ControlMessage::from_bytes(&bytes, secret) {
                    // Everything that parses re-emits and re-parses equal.
                    let hiding = Hiding {
                        secret: secret.unwrap_or_default(),
                        random_vector: b"",
                        hide: &[],
                        padding: HiddenPadding::None,
                    };
                    let out = msg.to_vec(Some(&hiding)).unwrap();
                    prop_assert_eq!(ControlMessage::from_bytes(&out, secret).unwrap(), msg);
                }
            }
        }
    }

    fn sccrq_bytes() -> Vec<u8> {
        ControlMessage::new(MessageType::Sccrq)
            .with_avp(Avp::ProtocolVersion(ProtocolVersion::RFC2661))
            .with_avp(Avp::HostName(b"lac".to_vec()))
            .with_avp(Avp::AssignedTunnelId(7))
            .to_vec(None)
            .unwrap()
    }

    #[test]
    fn zlb_is_acknowledgement_only() {
        let bytes = ControlMessage::zlb(0xc123, 2, 4).to_vec(None).unwrap();
        assert_eq!(
            bytes,
            [0xc8, 0x02, 0x00, 0x0c, 0xc1, 0x23, 0, 0, 0, 2, 0, 4]
        );
        let msg = ControlMessage::from_bytes(&bytes, None).unwrap();
        assert!(msg.is_zlb());
        assert_eq!((msg.ns, msg.nr), (2, 4));
        let mut bad = ControlMessage::zlb(1, 0, 0);
        bad.avps.push(MessageAvp::new(Avp::AssignedTunnelId(1)));
        assert!(bad.to_vec(None).is_err());
    }

    #[test]
    fn first_avp_must_be_message_type() {
        let mut bytes = sccrq_bytes();
        // Swap the Message Type AVP's attribute type for Host Name.
        bytes[CONTROL_HEADER_LEN + 5] = 7;
        assert!(matches!(
            ControlMessage::from_bytes(&bytes, None),
            Err(Error::Malformed(what)) if what.contains("first AVP")
        ));
        // Hidden Message Type.
        let mut bytes = sccrq_bytes();
        bytes[CONTROL_HEADER_LEN] |= 0x40;
        assert!(matches!(
            ControlMessage::from_bytes(&bytes, None),
            Err(Error::Malformed(what)) if what.contains("MUST NOT be hidden")
        ));
        // Message Type AVP with a 3-byte value.
        let body = [0x80, 0x09, 0, 0, 0, 0, 0, 1, 0];
        let mut bytes = vec![0u8; CONTROL_HEADER_LEN + body.len()];
        HeaderRepr::control(0, 0, 0, 0)
            .emit(&mut bytes, body.len())
            .unwrap();
        bytes[CONTROL_HEADER_LEN..].copy_from_slice(&body);
        assert!(matches!(
            ControlMessage::from_bytes(&bytes, None),
            Err(Error::Malformed(what)) if what.starts_with("Message Type AVP")
        ));
        // A data message is not a control message.
        assert!(ControlMessage::from_bytes(&[0x00, 0x02, 0, 1, 0, 1], None).is_err());
    }

    #[test]
    fn truncations_never_panic_and_fail() {
        let bytes = sccrq_bytes();
        // Cuts at AVP boundaries leave a shorter but valid message.
        let mut boundaries = vec![CONTROL_HEADER_LEN];
        for raw in AvpIter::new(&bytes[CONTROL_HEADER_LEN..]) {
            let end = boundaries[boundaries.len() - 1] + raw.unwrap().wire_len();
            boundaries.push(end);
        }
        assert_eq!(boundaries, [12, 20, 28, 37, 45]);
        for cut in 0..bytes.len() {
            let mut truncated = bytes[..cut].to_vec();
            if truncated.len() >= 4 {
                // Keep Length consistent with the buffer, so the AVP
                // parser (not the header) sees the truncation.
                let len = truncated.len() as u16;
                truncated[2..4].copy_from_slice(&len.to_be_bytes());
            }
            // And with Length pointing past the end of the buffer.
            assert!(ControlMessage::from_bytes(&bytes[..cut], None).is_err());
            let result = ControlMessage::from_bytes(&truncated, None);
            if boundaries.contains(&cut) {
                let msg = result.unwrap();
                assert_eq!(msg.is_zlb(), cut == CONTROL_HEADER_LEN);
            } else {
                assert!(result.is_err(), "cut at {cut} parsed");
            }
        }
    }

    #[test]
    fn hidden_avp_without_random_vector_is_malformed() {
        let msg = ControlMessage::new(MessageType::Iccn)
            .with_hidden_avp(Avp::ProxyAuthenName(b"user".to_vec()));
        let hiding = Hiding {
            secret: b"secret",
            random_vector: b"0123456789abcdef",
            hide: &[],
            padding: HiddenPadding::None,
        };
        let mut bytes = msg.to_vec(Some(&hiding)).unwrap();
        // Body: Message Type (8) + Random Vector (6+16) + hidden AVP.
        // Turn the Random Vector into an unknown clear AVP (type 36 -> 99).
        let rv_at = CONTROL_HEADER_LEN + 8;
        assert_eq!(&bytes[rv_at + 4..rv_at + 6], &[0, 36]);
        bytes[rv_at + 5] = 99;
        for secret in [None, Some(&b"secret"[..])] {
            assert!(matches!(
                ControlMessage::from_bytes(&bytes, secret),
                Err(Error::Malformed(what)) if what.contains("Random Vector")
            ));
        }
    }

    #[test]
    fn hidden_random_vector_is_malformed() {
        let mut bytes = ControlMessage::new(MessageType::Hello)
            .with_avp(Avp::RandomVector(vec![1; 16]))
            .to_vec(None)
            .unwrap();
        bytes[CONTROL_HEADER_LEN + 8] |= 0x40;
        assert!(ControlMessage::from_bytes(&bytes, Some(b"s")).is_err());
        assert!(ControlMessage::from_bytes(&bytes, None).is_err());
    }

    #[test]
    fn truncated_hidden_avps() {
        // A hidden AVP with 0 or 1 bytes of value cannot hold the
        // subformat's Original Length.
        for value_len in 0..2usize {
            let mut body = vec![0x80, 0x08, 0, 0, 0, 0, 0, 12];
            body.extend_from_slice(&[0x80, 0x0a, 0, 0, 0, 36, 1, 2, 3, 4]);
            body.extend_from_slice(&[0xc0, (6 + value_len) as u8, 0, 0, 0, 30]);
            body.extend(std::iter::repeat_n(0x55, value_len));
            let mut bytes = vec![0u8; CONTROL_HEADER_LEN + body.len()];
            HeaderRepr::control(1, 1, 0, 0)
                .emit(&mut bytes, body.len())
                .unwrap();
            bytes[CONTROL_HEADER_LEN..].copy_from_slice(&body);
            for secret in [None, Some(&b"secret"[..])] {
                assert!(matches!(
                    ControlMessage::from_bytes(&bytes, secret),
                    Err(Error::Truncated { .. })
                ));
            }
        }
        // Original Length larger than what was hidden: encrypt a subformat
        // that claims 200 bytes and carries 4.
        let mut subformat = vec![0, 200, b'u', b's', b'e', b'r'];
        hidden::encrypt_in_place(30, b"secret", &[1, 2, 3, 4], &mut subformat);
        let mut body = vec![0x80, 0x08, 0, 0, 0, 0, 0, 12];
        body.extend_from_slice(&[0x80, 0x0a, 0, 0, 0, 36, 1, 2, 3, 4]);
        body.extend_from_slice(&[0x40, 6 + subformat.len() as u8, 0, 0, 0, 30]);
        body.extend_from_slice(&subformat);
        let mut bytes = vec![0u8; CONTROL_HEADER_LEN + body.len()];
        HeaderRepr::control(1, 1, 0, 0)
            .emit(&mut bytes, body.len())
            .unwrap();
        bytes[CONTROL_HEADER_LEN..].copy_from_slice(&body);
        assert!(matches!(
            ControlMessage::from_bytes(&bytes, Some(b"secret")),
            Err(Error::Malformed(what)) if what.contains("Original Length")
        ));
        // Without the secret it is merely concealed.
        let msg = ControlMessage::from_bytes(&bytes, None).unwrap();
        assert!(matches!(
            msg.avps[1].avp,
            Avp::Concealed { attr_type: 30, .. }
        ));
        assert_eq!(msg.unrecognized_mandatory().count(), 0);
    }

    #[test]
    fn hiding_rules_on_emit() {
        let hiding = Hiding {
            secret: b"secret",
            random_vector: b"rv",
            hide: &[AvpType::AssignedTunnelId, AvpType::HostName],
            padding: HiddenPadding::ToMultipleOf(16),
        };
        // Host Name MUST NOT be hidden.
        let msg = ControlMessage::new(MessageType::Sccrq).with_avp(Avp::HostName(b"x".to_vec()));
        assert!(matches!(
            msg.to_vec(Some(&hiding)),
            Err(Error::Malformed(what)) if what.starts_with("Host Name")
        ));
        // Hidden without a secret.
        let msg = ControlMessage::new(MessageType::Sccrq).with_hidden_avp(Avp::AssignedTunnelId(5));
        assert!(msg.to_vec(None).is_err());
        // The hide list hides, inserting one Random Vector, padded to 16.
        let msg = ControlMessage::new(MessageType::Sccrq)
            .with_avp(Avp::AssignedTunnelId(5))
            .with_avp(Avp::FirmwareRevision(1))
            .with_hidden_avp(Avp::VendorName(b"tunnelnas".to_vec()));
        let bytes = msg.to_vec(Some(&hiding)).unwrap();
        let parsed = ControlMessage::from_bytes(&bytes, Some(b"secret")).unwrap();
        assert_eq!(parsed.random_vector(), Some(&b"rv"[..]));
        assert_eq!(parsed.assigned_tunnel_id(), Some(5));
        assert_eq!(parsed.vendor_name(), Some(&b"tunnelnas"[..]));
        let kinds: Vec<_> = parsed
            .avps
            .iter()
            .map(|i| (i.avp.attr_type(), i.hidden))
            .collect();
        assert_eq!(kinds, [(36, false), (9, true), (6, false), (8, true)]);
        // Hidden values are padded to a multiple of 16.
        let raws: Vec<_> = AvpIter::new(Packet::new_checked(&bytes[..]).unwrap().payload())
            .map(|r| r.unwrap().value.len())
            .collect();
        assert_eq!(raws, [2, 2, 16, 2, 16]);
        // A wrong secret is caught (bad length or size), not silently wrong.
        assert!(ControlMessage::from_bytes(&bytes, Some(b"wrong")).is_err());
    }

    #[test]
    fn accessors_and_builders() {
        let msg = ControlMessage::stop_ccn(
            9,
            ResultCode::stop_ccn(StopCcnResult::GeneralError)
                .with_error(GeneralError::TryAnother, "busy"),
        )
        .with_ids(40, 0);
        let bytes = msg.to_vec(None).unwrap();
        let back = ControlMessage::from_bytes(&bytes, None).unwrap();
        assert_eq!(back, msg);
        assert_eq!(back.message_type, Some(MessageType::StopCcn));
        assert!(MessageType::StopCcn.is_tunnel_message());
        assert_eq!(back.assigned_tunnel_id(), Some(9));
        let rc = back.result_code().unwrap();
        assert_eq!(rc.stop_ccn_result(), StopCcnResult::GeneralError);
        assert_eq!(rc.error_code(), Some(GeneralError::TryAnother));
        let cdn = ControlMessage::cdn(3, ResultCode::cdn(CdnResult::Administrative));
        assert_eq!(cdn.assigned_session_id(), Some(3));
        assert!(!MessageType::Cdn.is_tunnel_message());
        // M bits follow the RFC by default.
        let iccn = ControlMessage::new(MessageType::Iccn)
            .with_avp(Avp::TxConnectSpeed(1))
            .with_avp(Avp::RxConnectSpeed(1))
            .with_avp(Avp::ProxyAuthenId { reserved: 0, id: 7 })
            .with_avp(Avp::SequencingRequired)
            .with_avp(Avp::Vendor {
                vendor_id: 9,
                attr_type: 1,
                value: vec![],
            });
        let bits: Vec<_> = iccn.avps.iter().map(|i| i.mandatory).collect();
        assert_eq!(bits, [true, false, false, true, false]);
        assert_eq!(iccn.proxy_authen_id(), Some(7));
        assert!(iccn.sequencing_required());
        let mut iccn = iccn;
        iccn.avps[4].mandatory = true;
        assert_eq!(iccn.unrecognized_mandatory().count(), 1);
        assert_eq!(
            iccn.avp(AvpType::RxConnectSpeed).map(|i| &i.avp),
            Some(&Avp::RxConnectSpeed(1))
        );
    }

    #[test]
    fn message_too_long_is_refused() {
        let mut msg = ControlMessage::new(MessageType::Sli);
        for _ in 0..70 {
            msg.avps
                .push(MessageAvp::new(Avp::PrivateGroupId(vec![0; 1000])));
        }
        assert!(msg.to_vec(None).is_err());
    }
}
