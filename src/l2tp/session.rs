//! L2TP sessions (calls): the incoming-call state machines of RFC 2661
//! §7.4 (LAC) and §7.5 (LNS), the ICRQ / ICRP / ICCN / CDN messages of
//! §6.10–§6.13, and what a call carries (§4.4.4 call management AVPs,
//! §4.4.5 proxy LCP and authentication AVPs).
//!
//! ```text
//! LAC (§7.4)                              LNS (§7.5)
//! wait-tunnel --up, room--> send ICRQ      idle --ICRQ--> wait-accept (driver)
//! wait-reply  --ICRP-->      send ICCN     wait-accept --accept--> ICRP, wait-connect
//!             established                  wait-connect --ICCN--> established
//! any --CDN--> gone        any --close--> CDN, gone
//! ```
//!
//! Outgoing calls (§7.2 OCRQ, §7.6/§7.7) are refused: this node never
//! dials out. See [`outgoing_call_refusal`].

use std::time::Instant;

use crate::wire::l2tp::{
    Avp, Bearer, CdnResult, ControlMessage, Framing, GeneralError, MessageAvp, MessageType,
    ProxyAuthenType, ResultCode,
};

/// Where a session is in its state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// LAC: the call is not placed yet (§7.4 "idle, bearer line ring or
    /// ready to indicate incoming OR"): it waits in its tunnel's outbox
    /// for the control connection to be established and for room in the
    /// peer's receive window (§5.8). The peer has not heard of it.
    WaitTunnel,
    /// LAC: ICRQ sent, waiting for ICRP (§7.4 wait-reply).
    WaitReply,
    /// LNS: ICRQ received, the driver decides (accept or refuse).
    WaitAccept,
    /// LNS: ICRP sent, waiting for ICCN (§7.5 wait-connect).
    WaitConnect,
    /// Both: the call is up (§7.4, §7.5 established).
    Established,
}

/// The proxy LCP and authentication AVPs (RFC 2661 §4.4.5) the LAC hands
/// the LNS in ICCN, so that the LNS can skip or check LCP and
/// authentication. The LAC driver fills it from the PPP negotiation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProxyInfo {
    /// Initial Received LCP CONFREQ: the options of the first CONFREQ the
    /// LAC received from the PPP peer.
    pub initial_received_lcp_confreq: Option<Vec<u8>>,
    /// Last Sent LCP CONFREQ.
    pub last_sent_lcp_confreq: Option<Vec<u8>>,
    /// Last Received LCP CONFREQ.
    pub last_received_lcp_confreq: Option<Vec<u8>>,
    /// Proxy Authen Type.
    pub authen_type: Option<ProxyAuthenType>,
    /// Proxy Authen Name.
    pub authen_name: Option<Vec<u8>>,
    /// Proxy Authen Challenge.
    pub authen_challenge: Option<Vec<u8>>,
    /// Proxy Authen ID (the PPP identifier).
    pub authen_id: Option<u8>,
    /// Proxy Authen Response.
    pub authen_response: Option<Vec<u8>>,
}

impl ProxyInfo {
    /// Whether no proxy AVP is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a call carries: the ICRQ AVPs (§6.10) and the ICCN AVPs (§6.12).
/// The LAC driver fills it in [`crate::l2tp::OpenSession`]; the LNS reads it
/// from the events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CallInfo {
    /// Call Serial Number (ICRQ, mandatory): "an identifier assigned by the
    /// LAC ... to this call" (§4.4.4).
    pub call_serial_number: u32,
    /// Bearer Type (ICRQ).
    pub bearer_type: Option<Bearer>,
    /// Physical Channel ID (ICRQ).
    pub physical_channel_id: Option<u32>,
    /// Calling Number (ICRQ).
    pub calling_number: Option<Vec<u8>>,
    /// Called Number (ICRQ).
    pub called_number: Option<Vec<u8>>,
    /// Sub-Address (ICRQ).
    pub sub_address: Option<Vec<u8>>,
    /// (Tx) Connect Speed in bits per second (ICCN, mandatory).
    pub tx_connect_speed: u32,
    /// Rx Connect Speed (ICCN).
    pub rx_connect_speed: Option<u32>,
    /// Framing Type (ICCN, mandatory).
    pub framing_type: Framing,
    /// Private Group ID (ICCN).
    pub private_group_id: Option<Vec<u8>>,
    /// Sequencing Required (ICCN): data messages of this session carry
    /// Ns/Nr in both directions (§5.4).
    pub sequencing_required: bool,
    /// Proxy LCP and authentication (ICCN).
    pub proxy: ProxyInfo,
}

/// AVP types a LAC hides when hiding is enabled (§4.3): the subscriber's
/// identity and credentials.
pub const SENSITIVE_CALL_AVPS: &[crate::wire::l2tp::AvpType] = {
    use crate::wire::l2tp::AvpType as T;
    &[
        T::CallingNumber,
        T::CalledNumber,
        T::SubAddress,
        T::ProxyAuthenName,
        T::ProxyAuthenChallenge,
        T::ProxyAuthenResponse,
        T::InitialReceivedLcpConfReq,
        T::LastSentLcpConfReq,
        T::LastReceivedLcpConfReq,
        T::PrivateGroupId,
    ]
};

fn push_opt(msg: &mut ControlMessage, value: Option<Avp>) {
    if let Some(avp) = value {
        msg.avps.push(MessageAvp::new(avp));
    }
}

impl CallInfo {
    /// The ICRQ (§6.10) for a call whose local Session ID is
    /// `local_session_id`.
    pub fn icrq(&self, local_session_id: u16) -> ControlMessage {
        let mut msg = ControlMessage::new(MessageType::Icrq)
            .with_avp(Avp::AssignedSessionId(local_session_id))
            .with_avp(Avp::CallSerialNumber(self.call_serial_number));
        push_opt(&mut msg, self.bearer_type.map(Avp::BearerType));
        push_opt(
            &mut msg,
            self.physical_channel_id.map(Avp::PhysicalChannelId),
        );
        push_opt(
            &mut msg,
            self.calling_number.clone().map(Avp::CallingNumber),
        );
        push_opt(&mut msg, self.called_number.clone().map(Avp::CalledNumber));
        push_opt(&mut msg, self.sub_address.clone().map(Avp::SubAddress));
        msg
    }

    /// The ICCN (§6.12), proxy AVPs included.
    pub fn iccn(&self) -> ControlMessage {
        let mut msg = ControlMessage::new(MessageType::Iccn)
            .with_avp(Avp::TxConnectSpeed(self.tx_connect_speed))
            .with_avp(Avp::FramingType(self.framing_type));
        let p = &self.proxy;
        push_opt(
            &mut msg,
            p.initial_received_lcp_confreq
                .clone()
                .map(Avp::InitialReceivedLcpConfReq),
        );
        push_opt(
            &mut msg,
            p.last_sent_lcp_confreq.clone().map(Avp::LastSentLcpConfReq),
        );
        push_opt(
            &mut msg,
            p.last_received_lcp_confreq
                .clone()
                .map(Avp::LastReceivedLcpConfReq),
        );
        push_opt(&mut msg, p.authen_type.map(Avp::ProxyAuthenType));
        push_opt(&mut msg, p.authen_name.clone().map(Avp::ProxyAuthenName));
        push_opt(
            &mut msg,
            p.authen_challenge.clone().map(Avp::ProxyAuthenChallenge),
        );
        push_opt(
            &mut msg,
            p.authen_id.map(|id| Avp::ProxyAuthenId { reserved: 0, id }),
        );
        push_opt(
            &mut msg,
            p.authen_response.clone().map(Avp::ProxyAuthenResponse),
        );
        push_opt(
            &mut msg,
            self.private_group_id.clone().map(Avp::PrivateGroupId),
        );
        push_opt(&mut msg, self.rx_connect_speed.map(Avp::RxConnectSpeed));
        if self.sequencing_required {
            msg.avps.push(MessageAvp::new(Avp::SequencingRequired));
        }
        msg
    }

    /// Reads the ICRQ part of a call (§6.10). Call Serial Number is
    /// mandatory in ICRQ; its absence is a [`CallError`].
    pub fn from_icrq(msg: &ControlMessage) -> Result<Self, CallError> {
        let call_serial_number = msg
            .call_serial_number()
            .ok_or(CallError::Missing("Call Serial Number"))?;
        Ok(Self {
            call_serial_number,
            bearer_type: msg.bearer_type(),
            physical_channel_id: msg.physical_channel_id(),
            calling_number: msg.calling_number().map(<[u8]>::to_vec),
            called_number: msg.called_number().map(<[u8]>::to_vec),
            sub_address: msg.sub_address().map(<[u8]>::to_vec),
            ..Self::default()
        })
    }

    /// Adds the ICCN part of a call (§6.12). (Tx) Connect Speed and Framing
    /// Type are mandatory in ICCN.
    pub fn apply_iccn(&mut self, msg: &ControlMessage) -> Result<(), CallError> {
        self.tx_connect_speed = msg
            .tx_connect_speed()
            .ok_or(CallError::Missing("(Tx) Connect Speed"))?;
        self.framing_type = msg
            .framing_type()
            .ok_or(CallError::Missing("Framing Type"))?;
        self.rx_connect_speed = msg.rx_connect_speed();
        self.private_group_id = msg.private_group_id().map(<[u8]>::to_vec);
        self.sequencing_required = msg.sequencing_required();
        self.proxy = ProxyInfo {
            initial_received_lcp_confreq: msg.initial_received_lcp_confreq().map(<[u8]>::to_vec),
            last_sent_lcp_confreq: msg.last_sent_lcp_confreq().map(<[u8]>::to_vec),
            last_received_lcp_confreq: msg.last_received_lcp_confreq().map(<[u8]>::to_vec),
            authen_type: msg.proxy_authen_type(),
            authen_name: msg.proxy_authen_name().map(<[u8]>::to_vec),
            authen_challenge: msg.proxy_authen_challenge().map(<[u8]>::to_vec),
            authen_id: msg.proxy_authen_id(),
            authen_response: msg.proxy_authen_response().map(<[u8]>::to_vec),
        };
        Ok(())
    }
}

/// A call message that cannot be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// A mandatory AVP of the message is absent.
    #[error("missing {0} AVP")]
    Missing(&'static str),
}

/// The CDN result for a call message that lacks a mandatory AVP:
/// result 2 (error code), error 3 ("A field value was out of range or a
/// reserved field was non-zero" is the closest RFC 2661 §4.4.2 has for a
/// malformed message) with the missing AVP named in the Error Message.
pub fn malformed_call_result(error: CallError) -> ResultCode {
    ResultCode::cdn(CdnResult::ErrorCode)
        .with_error(GeneralError::OutOfRange, error.to_string().into_bytes())
}

/// The CDN that refuses an Outgoing-Call-Request.
///
/// This node never places outgoing calls (it is a LAC for PPPoE
/// subscribers, not a dial-out server). RFC 2661 §4.4.2 offers for CDN:
/// 4 "Call failed due to lack of appropriate facilities being available
/// (temporary condition)" and 5 "... (permanent condition)". The condition
/// is permanent — retrying the same OCRQ will never succeed — so the answer
/// is **5**, which tells a well-behaved LNS not to retry here, rather than
/// 4 (which invites retries) or 2/6 (a protocol error, which this is not).
pub fn outgoing_call_refusal() -> ResultCode {
    ResultCode::cdn(CdnResult::FacilitiesPermanentlyUnavailable).with_error(
        GeneralError::NoError,
        b"outgoing calls not supported".to_vec(),
    )
}

/// Bookkeeping of one session inside its tunnel.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) state: SessionState,
    /// The peer's Session ID (0 until known).
    pub(crate) peer_session_id: u16,
    /// The call (ICRQ part first, ICCN part once known).
    pub(crate) call: Box<CallInfo>,
    /// When the session was requested (LAC: open_session, LNS: ICRQ).
    pub(crate) requested_at: Instant,
    /// Caller's correlation id (LAC).
    pub(crate) request_id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::l2tp::Avp;

    fn full_call() -> CallInfo {
        CallInfo {
            call_serial_number: 77,
            bearer_type: Some(Bearer::DIGITAL),
            physical_channel_id: Some(9),
            calling_number: Some(b"00:11:22:33:44:55".to_vec()),
            called_number: Some(b"isp.example".to_vec()),
            sub_address: Some(b"sub".to_vec()),
            tx_connect_speed: 100_000_000,
            rx_connect_speed: Some(50_000_000),
            framing_type: Framing::SYNC,
            private_group_id: Some(b"grp".to_vec()),
            sequencing_required: true,
            proxy: ProxyInfo {
                initial_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4]),
                last_sent_lcp_confreq: Some(vec![3, 4, 0xc0, 0x23]),
                last_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4]),
                authen_type: Some(ProxyAuthenType::Chap),
                authen_name: Some(b"alice@isp".to_vec()),
                authen_challenge: Some(vec![9; 16]),
                authen_id: Some(42),
                authen_response: Some(vec![8; 16]),
            },
        }
    }

    #[test]
    fn call_info_survives_icrq_and_iccn_on_the_wire() {
        let call = full_call();
        let icrq = ControlMessage::from_bytes(&call.icrq(5).to_vec(None).unwrap(), None).unwrap();
        assert_eq!(icrq.assigned_session_id(), Some(5));
        let mut back = CallInfo::from_icrq(&icrq).unwrap();
        let iccn = ControlMessage::from_bytes(&call.iccn().to_vec(None).unwrap(), None).unwrap();
        back.apply_iccn(&iccn).unwrap();
        assert_eq!(back, call);
    }

    #[test]
    fn missing_mandatory_call_avps_are_errors() {
        let icrq = ControlMessage::new(MessageType::Icrq).with_avp(Avp::AssignedSessionId(1));
        assert_eq!(
            CallInfo::from_icrq(&icrq),
            Err(CallError::Missing("Call Serial Number"))
        );
        let iccn = ControlMessage::new(MessageType::Iccn).with_avp(Avp::TxConnectSpeed(1));
        assert_eq!(
            CallInfo::default().apply_iccn(&iccn),
            Err(CallError::Missing("Framing Type"))
        );
        let result = malformed_call_result(CallError::Missing("Framing Type"));
        assert_eq!(result.cdn_result(), CdnResult::ErrorCode);
    }

    #[test]
    fn ocrq_is_refused_as_permanently_unavailable() {
        assert_eq!(
            outgoing_call_refusal().cdn_result(),
            CdnResult::FacilitiesPermanentlyUnavailable
        );
    }
}
