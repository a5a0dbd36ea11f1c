//! Requests as plain data ([`AuthRequest`], [`AccountingRecord`]) and their
//! encoding into Access-Request / Accounting-Request packets. No I/O: the
//! caller supplies the buffer, identifier, Request Authenticator and secret.
//!
//! Implements:
//!
//! * RFC 2865 §4.1 Access-Request; §5.2 User-Password (PAP); §5.3
//!   CHAP-Password and §5.40 CHAP-Challenge (CHAP-MD5, RFC 1994); NAS-IP-Address,
//!   NAS-Identifier ("An Access-Request MUST contain either a NAS-IP-Address
//!   attribute or a NAS-Identifier attribute (or both)", §4.1), NAS-Port,
//!   NAS-Port-Type (§5.41, RFC 4603 values), Service-Type Framed,
//!   Framed-Protocol PPP, Calling-Station-Id, Called-Station-Id;
//! * RFC 3162 §2.1 NAS-IPv6-Address; RFC 2869 §5.17 NAS-Port-Id;
//! * RFC 2548 §2.3.2 MS-CHAP-Challenge and MS-CHAP2-Response (MS-CHAPv2,
//!   RFC 2759);
//! * RFC 4679 §4 Agent-Circuit-Id / Agent-Remote-Id (DSL Forum VSAs);
//! * RFC 3579 §3.2 Message-Authenticator on **every** request, placed
//!   first (the BlastRADIUS mitigation, draft-ietf-radext-deprecating-radius:
//!   "clients SHOULD include Message-Authenticator as the first attribute");
//! * RFC 2866 §4.1 / §5 Accounting-Request (Acct-Status-Type, Acct-Delay-Time,
//!   octets, packets, Acct-Session-Time, Acct-Terminate-Cause), RFC 2869
//!   §5.1/§5.2 Gigawords, §5.3 Event-Timestamp; RFC 2867 §4 tunnel
//!   accounting (Tunnel-Start … Tunnel-Link-Reject, Acct-Tunnel-Connection,
//!   Acct-Tunnel-Packets-Lost, with the tunnel attributes of RFC 2868).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::attributes::ty;
use crate::wire::radius::{
    self, Authenticator, Code, PacketBuilder, TunnelMediumType, TunnelType, TunnelValue, attr,
    vendor,
};

/// Calling-Station-Id MAC format; defined with the configuration
/// (`[radius] calling_station_id`), re-exported here.
pub use crate::config::MacFormat;

crate::open_enum! {
    /// NAS-Port-Type values (RFC 2865 §5.41, RFC 4603 §2).
    pub enum NasPortType(u32) {
        /// Async.
        Async = 0,
        /// Sync.
        Sync = 1,
        /// ISDN Sync.
        IsdnSync = 2,
        /// Virtual (e.g. an L2TP session on an LNS).
        Virtual = 5,
        /// Ethernet.
        Ethernet = 15,
        /// xDSL.
        Xdsl = 16,
        /// PPP over ATM (RFC 4603).
        PppoA = 30,
        /// PPPoE over ATM (RFC 4603).
        PppoEoA = 31,
        /// PPPoE over Ethernet (RFC 4603).
        PppoEoE = 32,
        /// PPPoE over VLAN (RFC 4603).
        PppoEoVlan = 33,
        /// PPPoE over IEEE 802.1QinQ (RFC 4603).
        PppoEoQinQ = 34,
    }
}

/// Where the subscriber's session physically arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    /// Interface name (e.g. `eth1`).
    pub interface: String,
    /// Outer VLAN (S-tag), if any.
    pub svlan: Option<u16>,
    /// Inner VLAN (C-tag), if any.
    pub cvlan: Option<u16>,
    /// Agent-Circuit-Id from the PPPoE intermediate agent (RFC 4679 §4).
    pub agent_circuit_id: Option<Vec<u8>>,
    /// Agent-Remote-Id (RFC 4679 §4).
    pub agent_remote_id: Option<Vec<u8>>,
    /// NAS-Port-Id template for this session (e.g. from the
    /// `[[pppoe.interface.vlan]]` rule its VLANs matched), rendered with
    /// the placeholders of [`NasPortIdTemplate`] instead of
    /// [`NasIdentity::nas_port_id`]. Absent in records spooled before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_port_id: Option<String>,
}

/// NAS-Port-Id template (RFC 2869 §5.17): `{interface}`, `{svlan}`,
/// `{cvlan}`, `{vlans}` (`S.C`, `C` or empty), `{circuit_id}`,
/// `{remote_id}`; unknown placeholders are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NasPortIdTemplate(pub String);

impl Default for NasPortIdTemplate {
    fn default() -> Self {
        Self("{interface}:{vlans}".into())
    }
}

impl NasPortIdTemplate {
    /// Renders the template for `port`; trailing `:`/`.` left by empty
    /// fields are trimmed. The port's own template
    /// ([`PortInfo::nas_port_id`]) is not consulted: see
    /// [`Self::render_for`].
    #[must_use]
    pub fn render(&self, port: &PortInfo) -> String {
        render_nas_port_id(&self.0, port)
    }

    /// The NAS-Port-Id of `port`: its own template when it has one,
    /// otherwise this one.
    #[must_use]
    pub fn render_for(&self, port: &PortInfo) -> String {
        render_nas_port_id(port.nas_port_id.as_deref().unwrap_or(&self.0), port)
    }
}

/// Renders the NAS-Port-Id `template` for `port`.
fn render_nas_port_id(template: &str, port: &PortInfo) -> String {
    let vlan = |v: Option<u16>| v.map(|v| v.to_string()).unwrap_or_default();
    let vlans = match (port.svlan, port.cvlan) {
        (Some(s), Some(c)) => format!("{s}.{c}"),
        (None, Some(v)) | (Some(v), None) => v.to_string(),
        (None, None) => String::new(),
    };
    let text = |b: &Option<Vec<u8>>| {
        b.as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            out.push_str(after);
            rest = "";
            break;
        };
        let name = &after[1..close];
        match name {
            "interface" => out.push_str(&port.interface),
            "svlan" => out.push_str(&vlan(port.svlan)),
            "cvlan" => out.push_str(&vlan(port.cvlan)),
            "vlans" => out.push_str(&vlans),
            "circuit_id" => out.push_str(&text(&port.agent_circuit_id)),
            "remote_id" => out.push_str(&text(&port.agent_remote_id)),
            _ => out.push_str(&after[..=close]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.trim_end_matches([':', '.', '/', ' ']).to_owned()
}

/// The NAS's own identity, the same for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NasIdentity {
    /// NAS-Identifier (RFC 2865 §5.32).
    pub nas_identifier: String,
    /// NAS-IP-Address (RFC 2865 §5.4).
    pub nas_ip_address: Option<Ipv4Addr>,
    /// NAS-IPv6-Address (RFC 3162 §2.1).
    pub nas_ipv6_address: Option<Ipv6Addr>,
    /// NAS-Port-Id template.
    pub nas_port_id: NasPortIdTemplate,
    /// Calling-Station-Id format.
    pub mac_format: MacFormat,
}

impl Default for NasIdentity {
    fn default() -> Self {
        Self {
            nas_identifier: "tunnelnas".into(),
            nas_ip_address: None,
            nas_ipv6_address: None,
            nas_port_id: NasPortIdTemplate::default(),
            mac_format: MacFormat::default(),
        }
    }
}

impl NasIdentity {
    /// From `[node]` and `[radius]`.
    #[must_use]
    pub fn from_config(node: &crate::config::Node, radius: &crate::config::Radius) -> Self {
        Self {
            nas_identifier: node.nas_identifier.clone(),
            nas_ip_address: radius.nas_ip_address,
            nas_ipv6_address: radius.nas_ipv6_address,
            nas_port_id: NasPortIdTemplate(radius.nas_port_id.clone()),
            mac_format: radius.calling_station_id,
        }
    }
}

/// What the subscriber proved, per authentication protocol.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credentials {
    /// PAP (RFC 1334): the cleartext password.
    Pap {
        /// Password (at most 128 octets, RFC 2865 §5.2).
        password: Vec<u8>,
    },
    /// CHAP with MD5 (RFC 1994).
    Chap {
        /// CHAP Identifier of the Challenge/Response exchange.
        id: u8,
        /// The challenge we sent.
        challenge: Vec<u8>,
        /// The 16-octet MD5 response.
        response: [u8; 16],
    },
    /// MS-CHAPv2 (RFC 2759).
    MsChapV2 {
        /// CHAP Identifier.
        id: u8,
        /// Our 16-octet Authenticator Challenge.
        authenticator_challenge: [u8; 16],
        /// The peer's 16-octet Peer-Challenge.
        peer_challenge: [u8; 16],
        /// The 24-octet NT-Response.
        nt_response: [u8; 24],
        /// Flags octet (0).
        flags: u8,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pap { .. } => "Pap(<redacted>)",
            Self::Chap { .. } => "Chap(<redacted>)",
            Self::MsChapV2 { .. } => "MsChapV2(<redacted>)",
        })
    }
}

/// Per-session attributes common to Access-Request and Accounting-Request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Acct-Session-Id (RFC 2866 §5.5), from [`super::SessionIdAllocator`].
    pub acct_session_id: String,
    /// NAS-Port (RFC 2865 §5.5), e.g. the PPPoE session id.
    pub nas_port: Option<u32>,
    /// NAS-Port-Type.
    pub nas_port_type: Option<u32>,
    /// Where the session arrives (renders NAS-Port-Id, carries RFC 4679).
    pub port: PortInfo,
    /// Subscriber MAC, rendered as Calling-Station-Id.
    pub calling_mac: Option<[u8; 6]>,
    /// Calling-Station-Id given as text (takes precedence over the MAC;
    /// e.g. the L2TP Calling Number on an LNS).
    pub calling_station_id: Option<String>,
    /// Called-Station-Id (RFC 2865 §5.30), e.g. the PPPoE Service-Name.
    pub called_station_id: Option<String>,
}

/// An authentication request from a role driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// User-Name as the subscriber sent it.
    pub user_name: String,
    /// Proof of identity.
    pub credentials: Credentials,
    /// Session attributes.
    pub session: SessionInfo,
    /// The L2TP tunnel the session arrived on (an LNS's incoming call):
    /// RFC 2868 §3 lets an Access-Request carry its attributes, so RADIUS
    /// can authorize per tunnel (Tunnel-Client-Endpoint, -Client-Auth-ID,
    /// Acct-Tunnel-Connection of RFC 2867 §4.1).
    pub tunnel: Option<TunnelAccounting>,
}

/// Why a request could not be encoded.
pub type EncodeError = radius::AuthError;

fn push_session(
    b: &mut PacketBuilder<'_>,
    nas: &NasIdentity,
    session: &SessionInfo,
) -> crate::wire::Result<()> {
    if let Some(ip) = nas.nas_ip_address {
        b.push_ipv4(attr::NAS_IP_ADDRESS, ip)?;
    }
    if let Some(ip) = nas.nas_ipv6_address {
        b.push(ty::NAS_IPV6_ADDRESS, &ip.octets())?;
    }
    // RFC 2865 §4.1: NAS-IP-Address or NAS-Identifier MUST be present; we
    // always send NAS-Identifier (falling back to "tunnelnas").
    let id = if nas.nas_identifier.is_empty() {
        "tunnelnas"
    } else {
        nas.nas_identifier.as_str()
    };
    b.push(attr::NAS_IDENTIFIER, clip(id.as_bytes()))?;
    if let Some(port) = session.nas_port {
        b.push_u32(attr::NAS_PORT, port)?;
    }
    if let Some(port_type) = session.nas_port_type {
        b.push_u32(attr::NAS_PORT_TYPE, port_type)?;
    }
    // RFC 2869 §5.17: NAS-Port-Id "contains a text string which identifies
    // the port of the NAS which is authenticating the user"; the session's
    // own template (its VLAN rule's) takes precedence over the NAS's.
    let port_id = nas.nas_port_id.render_for(&session.port);
    if !port_id.is_empty() {
        b.push(attr::NAS_PORT_ID, clip(port_id.as_bytes()))?;
    }
    let calling = session
        .calling_station_id
        .clone()
        .or_else(|| session.calling_mac.map(|m| nas.mac_format.render(m)));
    if let Some(calling) = calling.filter(|c| !c.is_empty()) {
        b.push(attr::CALLING_STATION_ID, clip(calling.as_bytes()))?;
    }
    if let Some(called) = session
        .called_station_id
        .as_deref()
        .filter(|c| !c.is_empty())
    {
        b.push(ty::CALLED_STATION_ID, clip(called.as_bytes()))?;
    }
    if !session.acct_session_id.is_empty() {
        b.push(
            attr::ACCT_SESSION_ID,
            clip(session.acct_session_id.as_bytes()),
        )?;
    }
    // RFC 4679 §4: each sub-attribute in its own Vendor-Specific.
    if let Some(cid) = session
        .port
        .agent_circuit_id
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        b.push_vendor_attribute(vendor::DSL_FORUM, vendor::AGENT_CIRCUIT_ID, clip_vsa(cid))?;
    }
    if let Some(rid) = session
        .port
        .agent_remote_id
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        b.push_vendor_attribute(vendor::DSL_FORUM, vendor::AGENT_REMOTE_ID, clip_vsa(rid))?;
    }
    Ok(())
}

/// Truncates to the 253-octet attribute value limit (RFC 2865 §5).
fn clip(v: &[u8]) -> &[u8] {
    &v[..v.len().min(radius::MAX_VALUE_LEN)]
}

/// Truncates to what one sub-attribute of a VSA can hold (253 − 6).
fn clip_vsa(v: &[u8]) -> &[u8] {
    &v[..v.len().min(radius::MAX_VALUE_LEN - 6)]
}

/// Service-Type Framed (RFC 2865 §5.6).
const SERVICE_TYPE_FRAMED: u32 = 2;
/// Framed-Protocol PPP (RFC 2865 §5.7).
const FRAMED_PROTOCOL_PPP: u32 = 1;

/// Encodes an Access-Request into `buf`, signed (Message-Authenticator
/// first), and returns its length.
///
/// # Errors
/// A wire error when a value does not fit (e.g. a PAP password over 128
/// octets) or the buffer is too small.
pub fn encode_access_request(
    buf: &mut [u8],
    identifier: u8,
    authenticator: &Authenticator,
    secret: &[u8],
    nas: &NasIdentity,
    request: &AuthRequest,
) -> Result<usize, EncodeError> {
    let mut b = PacketBuilder::new(buf, Code::AccessRequest, identifier, authenticator)?;
    // RFC 3579 §3.2 + BlastRADIUS: Message-Authenticator, first.
    b.push_message_authenticator()?;
    b.push(attr::USER_NAME, clip(request.user_name.as_bytes()))?;
    match &request.credentials {
        Credentials::Pap { password } => b.push_user_password(password, secret)?,
        Credentials::Chap {
            id,
            challenge,
            response,
        } => {
            // RFC 2865 §5.3: CHAP Ident (1) + String (16).
            let mut value = [0u8; 17];
            value[0] = *id;
            value[1..].copy_from_slice(response);
            b.push(attr::CHAP_PASSWORD, &value)?;
            // RFC 2865 §5.40: always sent as an attribute, whatever its length.
            b.push(attr::CHAP_CHALLENGE, clip(challenge))?;
        }
        Credentials::MsChapV2 {
            id,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            flags,
        } => {
            b.push_vendor_attribute(
                vendor::MICROSOFT,
                ty::MS_CHAP_CHALLENGE,
                authenticator_challenge,
            )?;
            // RFC 2548 §2.3.2: Ident, Flags, Peer-Challenge(16), Reserved(8),
            // Response(24).
            let mut value = [0u8; 50];
            value[0] = *id;
            value[1] = *flags;
            value[2..18].copy_from_slice(peer_challenge);
            value[26..50].copy_from_slice(nt_response);
            b.push_vendor_attribute(vendor::MICROSOFT, ty::MS_CHAP2_RESPONSE, &value)?;
        }
    }
    b.push_u32(attr::SERVICE_TYPE, SERVICE_TYPE_FRAMED)?;
    b.push_u32(attr::FRAMED_PROTOCOL, FRAMED_PROTOCOL_PPP)?;
    push_session(&mut b, nas, &request.session)?;
    if let Some(tunnel) = &request.tunnel {
        push_tunnel_accounting(&mut b, tunnel)?;
    }
    b.finish_signed(secret, None)
}

/// Encodes a Status-Server (RFC 5997 §3: "Status-Server packets MUST
/// contain a Message-Authenticator") with NAS-Identifier.
///
/// # Errors
/// A wire error when the buffer is too small.
pub fn encode_status_server(
    buf: &mut [u8],
    identifier: u8,
    authenticator: &Authenticator,
    secret: &[u8],
    nas: &NasIdentity,
) -> Result<usize, EncodeError> {
    let mut b = PacketBuilder::new(buf, Code::StatusServer, identifier, authenticator)?;
    b.push_message_authenticator()?;
    b.push(attr::NAS_IDENTIFIER, clip(nas.nas_identifier.as_bytes()))?;
    b.finish_signed(secret, None)
}

crate::open_enum! {
    /// Acct-Status-Type (RFC 2866 §5.1, RFC 2867 §4.1).
    pub enum AcctStatusType(u32) {
        /// Start.
        Start = 1,
        /// Stop.
        Stop = 2,
        /// Interim-Update.
        InterimUpdate = 3,
        /// Accounting-On.
        AccountingOn = 7,
        /// Accounting-Off.
        AccountingOff = 8,
        /// Tunnel-Start (RFC 2867 §4.1).
        TunnelStart = 9,
        /// Tunnel-Stop.
        TunnelStop = 10,
        /// Tunnel-Reject.
        TunnelReject = 11,
        /// Tunnel-Link-Start.
        TunnelLinkStart = 12,
        /// Tunnel-Link-Stop.
        TunnelLinkStop = 13,
        /// Tunnel-Link-Reject.
        TunnelLinkReject = 14,
    }
}

crate::open_enum! {
    /// Acct-Terminate-Cause (RFC 2866 §5.10).
    pub enum TerminateCause(u32) {
        /// User-Request (LCP Terminate / PADT from the subscriber).
        UserRequest = 1,
        /// Lost-Carrier (echo loss, link down).
        LostCarrier = 2,
        /// Lost-Service (the tunnel / LNS went away).
        LostService = 3,
        /// Idle-Timeout.
        IdleTimeout = 4,
        /// Session-Timeout.
        SessionTimeout = 5,
        /// Admin-Reset (Disconnect-Request, operator).
        AdminReset = 6,
        /// Admin-Reboot.
        AdminReboot = 7,
        /// Port-Error.
        PortError = 8,
        /// NAS-Error.
        NasError = 9,
        /// NAS-Request.
        NasRequest = 10,
        /// NAS-Reboot.
        NasReboot = 11,
        /// Port-Unneeded.
        PortUnneeded = 12,
        /// Port-Preempted.
        PortPreempted = 13,
        /// Port-Suspended.
        PortSuspended = 14,
        /// Service-Unavailable.
        ServiceUnavailable = 15,
        /// Callback.
        Callback = 16,
        /// User-Error (authentication failure etc.).
        UserError = 17,
        /// Host-Request.
        HostRequest = 18,
    }
}

/// Why a session ended, as the role drivers know it; mapped to
/// Acct-Terminate-Cause by [`SessionEnd::terminate_cause`] (RFC 2866 §5.10,
/// with the PPP/L2TP reading of RFC 3580 §3.32 for the causes it names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The subscriber sent PADT or LCP Terminate-Request.
    SubscriberRequest,
    /// LCP echo loss or the access link went down.
    LinkLost,
    /// The L2TP tunnel or session to the LNS was torn down (StopCCN, CDN,
    /// tunnel timeout).
    TunnelLost,
    /// Idle-Timeout expired.
    IdleTimeout,
    /// Session-Timeout expired.
    SessionTimeout,
    /// Disconnect-Request or operator action.
    AdminDisconnect,
    /// The NAS is shutting down.
    NasShutdown,
    /// The NAS failed (internal error, resources).
    NasError,
    /// Authentication or negotiation failed on the subscriber's side.
    UserError,
    /// The LNS / remote host ended the session.
    HostRequest,
}

impl SessionEnd {
    /// The Acct-Terminate-Cause for this end.
    #[must_use]
    pub const fn terminate_cause(self) -> TerminateCause {
        match self {
            Self::SubscriberRequest => TerminateCause::UserRequest,
            Self::LinkLost => TerminateCause::LostCarrier,
            Self::TunnelLost => TerminateCause::LostService,
            Self::IdleTimeout => TerminateCause::IdleTimeout,
            Self::SessionTimeout => TerminateCause::SessionTimeout,
            Self::AdminDisconnect => TerminateCause::AdminReset,
            Self::NasShutdown => TerminateCause::NasReboot,
            Self::NasError => TerminateCause::NasError,
            Self::UserError => TerminateCause::UserError,
            Self::HostRequest => TerminateCause::HostRequest,
        }
    }
}

/// Traffic counters of a session (64-bit; split into octets + gigawords on
/// the wire, RFC 2869 §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Octets received from the subscriber.
    pub input_octets: u64,
    /// Octets sent to the subscriber.
    pub output_octets: u64,
    /// Packets received from the subscriber.
    pub input_packets: u32,
    /// Packets sent to the subscriber.
    pub output_packets: u32,
}

/// RFC 2867 tunnel attributes of a tunnel accounting record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelAccounting {
    /// Tunnel-Client-Endpoint (the LAC address).
    pub client_endpoint: Option<IpAddr>,
    /// Tunnel-Server-Endpoint (the LNS address).
    pub server_endpoint: Option<IpAddr>,
    /// Tunnel-Assignment-ID.
    pub assignment_id: Option<String>,
    /// Acct-Tunnel-Connection (RFC 2867 §4.1): identifies the tunnel and,
    /// for link records, the session (e.g. "tunnel-id/session-id").
    pub connection_id: Option<String>,
    /// Tunnel-Client-Auth-ID / Server-Auth-ID.
    pub client_auth_id: Option<String>,
    /// Tunnel-Server-Auth-ID.
    pub server_auth_id: Option<String>,
    /// Acct-Tunnel-Packets-Lost (RFC 2867 §4.2, Stop records).
    pub packets_lost: Option<u32>,
}

/// One accounting record, persisted in the spool until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingRecord {
    /// Acct-Status-Type.
    pub status: u32,
    /// User-Name (absent for Accounting-On/Off and some tunnel records).
    pub user_name: Option<String>,
    /// Session attributes (Acct-Session-Id, NAS-Port, …).
    pub session: SessionInfo,
    /// Framed-IP-Address assigned.
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Framed-IPv6-Prefix assigned (RFC 3162 §2.3): prefix and length.
    /// (Spooled records from before this field read as `None`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framed_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// Delegated-IPv6-Prefix assigned (RFC 4818 §3: it "MAY appear in an
    /// Accounting-Request packet").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// Counters (Interim-Update, Stop).
    pub counters: Option<Counters>,
    /// Acct-Session-Time in seconds (Interim-Update, Stop).
    pub session_time: Option<u32>,
    /// Acct-Terminate-Cause (Stop).
    pub terminate_cause: Option<u32>,
    /// Class attributes from the Access-Accept, echoed unmodified.
    pub class: Vec<Vec<u8>>,
    /// Event-Timestamp (RFC 2869 §5.3), seconds since the epoch.
    pub event_timestamp: Option<u32>,
    /// RFC 2867 tunnel attributes (tunnel records, and L2TP sessions).
    pub tunnel: Option<TunnelAccounting>,
}

impl AccountingRecord {
    /// A record of `status` for `session`.
    #[must_use]
    pub fn new(status: AcctStatusType, user_name: Option<String>, session: SessionInfo) -> Self {
        Self {
            status: status.into(),
            user_name,
            session,
            framed_ip_address: None,
            framed_ipv6_prefix: None,
            delegated_ipv6_prefix: None,
            counters: None,
            session_time: None,
            terminate_cause: None,
            class: Vec::new(),
            event_timestamp: None,
            tunnel: None,
        }
    }
}

/// Writes a Framed-IPv6-Prefix / Delegated-IPv6-Prefix value (RFC 3162
/// §2.3: Reserved, Prefix-Length, then the octets the length covers) into
/// `out`; returns its length.
fn ipv6_prefix_value((prefix, len): (Ipv6Addr, u8), out: &mut [u8; 18]) -> usize {
    let len = len.min(128);
    let octets = usize::from(len).div_ceil(8);
    out[0] = 0;
    out[1] = len;
    out[2..2 + octets].copy_from_slice(&prefix.octets()[..octets]);
    2 + octets
}

/// Acct-Authentic RADIUS (RFC 2866 §5.6).
const ACCT_AUTHENTIC_RADIUS: u32 = 1;

/// Encodes an Accounting-Request with `delay_seconds` as Acct-Delay-Time
/// (RFC 2866 §5.2: "how many seconds the client has been trying to send
/// this record"), signed, and returns its length.
///
/// # Errors
/// A wire error when a value does not fit.
pub fn encode_accounting_request(
    buf: &mut [u8],
    identifier: u8,
    secret: &[u8],
    nas: &NasIdentity,
    record: &AccountingRecord,
    delay_seconds: u32,
) -> Result<usize, EncodeError> {
    let mut b = PacketBuilder::new(buf, Code::AccountingRequest, identifier, &[0; 16])?;
    b.push_message_authenticator()?;
    b.push_u32(attr::ACCT_STATUS_TYPE, record.status)?;
    b.push_u32(ty::ACCT_DELAY_TIME, delay_seconds)?;
    if let Some(user) = &record.user_name {
        b.push(attr::USER_NAME, clip(user.as_bytes()))?;
    }
    let status = AcctStatusType::from(record.status);
    let session_record = matches!(
        status,
        AcctStatusType::Start | AcctStatusType::Stop | AcctStatusType::InterimUpdate
    );
    if session_record {
        b.push_u32(attr::SERVICE_TYPE, SERVICE_TYPE_FRAMED)?;
        b.push_u32(attr::FRAMED_PROTOCOL, FRAMED_PROTOCOL_PPP)?;
        b.push_u32(ty::ACCT_AUTHENTIC, ACCT_AUTHENTIC_RADIUS)?;
    }
    push_session(&mut b, nas, &record.session)?;
    if let Some(ip) = record.framed_ip_address {
        b.push_ipv4(attr::FRAMED_IP_ADDRESS, ip)?;
    }
    let mut prefix_value = [0u8; 18];
    if let Some(prefix) = record.framed_ipv6_prefix {
        let len = ipv6_prefix_value(prefix, &mut prefix_value);
        b.push(attr::FRAMED_IPV6_PREFIX, &prefix_value[..len])?;
    }
    if let Some(prefix) = record.delegated_ipv6_prefix {
        let len = ipv6_prefix_value(prefix, &mut prefix_value);
        b.push(ty::DELEGATED_IPV6_PREFIX, &prefix_value[..len])?;
    }
    if let Some(c) = record.counters {
        // RFC 2869 §5.1: Gigawords counts how many times the 32-bit
        // counter wrapped.
        b.push_u32(ty::ACCT_INPUT_OCTETS, c.input_octets as u32)?;
        b.push_u32(ty::ACCT_INPUT_GIGAWORDS, (c.input_octets >> 32) as u32)?;
        b.push_u32(ty::ACCT_OUTPUT_OCTETS, c.output_octets as u32)?;
        b.push_u32(ty::ACCT_OUTPUT_GIGAWORDS, (c.output_octets >> 32) as u32)?;
        b.push_u32(ty::ACCT_INPUT_PACKETS, c.input_packets)?;
        b.push_u32(ty::ACCT_OUTPUT_PACKETS, c.output_packets)?;
    }
    if let Some(t) = record.session_time {
        b.push_u32(ty::ACCT_SESSION_TIME, t)?;
    }
    if let Some(cause) = record.terminate_cause {
        b.push_u32(attr::ACCT_TERMINATE_CAUSE, cause)?;
    }
    for class in &record.class {
        b.push(attr::CLASS, clip(class))?;
    }
    if let Some(ts) = record.event_timestamp {
        b.push_u32(ty::EVENT_TIMESTAMP, ts)?;
    }
    if let Some(t) = &record.tunnel {
        push_tunnel_accounting(&mut b, t)?;
    }
    b.finish_signed(secret, None)
}

/// RFC 2867 §3: tunnel records carry Tunnel-Type, Tunnel-Medium-Type,
/// the endpoints, Tunnel-Assignment-ID, Acct-Tunnel-Connection and the auth
/// ids; untagged (tag 0) since a record describes one tunnel.
fn push_tunnel_accounting(
    b: &mut PacketBuilder<'_>,
    t: &TunnelAccounting,
) -> crate::wire::Result<()> {
    b.push_tunnel(0, &TunnelValue::Type(TunnelType::L2tp))?;
    let medium = match t.server_endpoint.or(t.client_endpoint) {
        Some(IpAddr::V6(_)) => TunnelMediumType::Ipv6,
        _ => TunnelMediumType::Ipv4,
    };
    b.push_tunnel(0, &TunnelValue::MediumType(medium))?;
    if let Some(ip) = t.client_endpoint {
        let text = ip.to_string();
        b.push_tunnel(0, &TunnelValue::ClientEndpoint(text.as_bytes()))?;
    }
    if let Some(ip) = t.server_endpoint {
        let text = ip.to_string();
        b.push_tunnel(0, &TunnelValue::ServerEndpoint(text.as_bytes()))?;
    }
    if let Some(id) = t.assignment_id.as_deref().filter(|s| !s.is_empty()) {
        b.push_tunnel(0, &TunnelValue::AssignmentId(clip_tunnel(id)))?;
    }
    if let Some(id) = t.client_auth_id.as_deref().filter(|s| !s.is_empty()) {
        b.push_tunnel(0, &TunnelValue::ClientAuthId(clip_tunnel(id)))?;
    }
    if let Some(id) = t.server_auth_id.as_deref().filter(|s| !s.is_empty()) {
        b.push_tunnel(0, &TunnelValue::ServerAuthId(clip_tunnel(id)))?;
    }
    if let Some(conn) = t.connection_id.as_deref().filter(|s| !s.is_empty()) {
        b.push(attr::ACCT_TUNNEL_CONNECTION, clip(conn.as_bytes()))?;
    }
    if let Some(lost) = t.packets_lost {
        b.push_u32(ty::ACCT_TUNNEL_PACKETS_LOST, lost)?;
    }
    Ok(())
}

fn clip_tunnel(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(radius::MAX_VALUE_LEN - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::radius::{Packet, VendorSpecific, unhide_user_password};

    const SECRET: &[u8] = b"testing123";

    fn nas() -> NasIdentity {
        NasIdentity {
            nas_identifier: "lac1".into(),
            nas_ip_address: Some(Ipv4Addr::new(192, 0, 2, 1)),
            nas_ipv6_address: Some("2001:db8::1".parse().unwrap()),
            nas_port_id: NasPortIdTemplate("{interface}:{vlans} {circuit_id}".into()),
            mac_format: MacFormat::Ietf,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            acct_session_id: "0000abcd-00000001".into(),
            nas_port: Some(17),
            nas_port_type: Some(NasPortType::PppoEoQinQ.into()),
            port: PortInfo {
                interface: "eth1".into(),
                svlan: Some(100),
                cvlan: Some(200),
                agent_circuit_id: Some(b"dslam1 atm 1/1:0.35".to_vec()),
                agent_remote_id: Some(b"cust-42".to_vec()),
                nas_port_id: None,
            },
            calling_mac: Some([0x02, 0, 0, 0, 0xab, 0xcd]),
            calling_station_id: None,
            called_station_id: Some("internet".into()),
        }
    }

    fn string(p: &Packet<&[u8]>, ty: u8) -> Option<String> {
        p.attribute(ty)
            .map(|a| String::from_utf8_lossy(a.value()).into_owned())
    }

    #[test]
    fn pap_request_carries_everything_and_verifies() {
        let req = AuthRequest {
            user_name: "alice@isp".into(),
            credentials: Credentials::Pap {
                password: b"pw".to_vec(),
            },
            session: session(),
            tunnel: None,
        };
        let auth = [9u8; 16];
        let mut buf = [0u8; 4096];
        let len = encode_access_request(&mut buf, 42, &auth, SECRET, &nas(), &req).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(p.code(), Code::AccessRequest);
        assert_eq!(p.identifier(), 42);
        // Message-Authenticator first and valid.
        let first = p.attributes().next().unwrap().unwrap();
        assert_eq!(first.ty(), attr::MESSAGE_AUTHENTICATOR);
        assert!(p.verify_request(SECRET).unwrap().message_authenticator);
        let hidden = p.attribute(attr::USER_PASSWORD).unwrap().value();
        let plain = unhide_user_password(hidden, SECRET, &auth).unwrap();
        assert_eq!(plain.as_bytes(), b"pw");
        assert_eq!(string(&p, attr::USER_NAME).as_deref(), Some("alice@isp"));
        assert_eq!(string(&p, attr::NAS_IDENTIFIER).as_deref(), Some("lac1"));
        assert_eq!(
            p.attribute(attr::NAS_IP_ADDRESS)
                .unwrap()
                .as_ipv4()
                .unwrap(),
            Ipv4Addr::new(192, 0, 2, 1)
        );
        assert_eq!(p.attribute(ty::NAS_IPV6_ADDRESS).unwrap().value().len(), 16);
        assert_eq!(p.attribute(attr::NAS_PORT).unwrap().as_u32().unwrap(), 17);
        assert_eq!(
            p.attribute(attr::NAS_PORT_TYPE).unwrap().as_u32().unwrap(),
            34
        );
        assert_eq!(
            string(&p, attr::NAS_PORT_ID).as_deref(),
            Some("eth1:100.200 dslam1 atm 1/1:0.35")
        );
        assert_eq!(
            string(&p, attr::CALLING_STATION_ID).as_deref(),
            Some("02-00-00-00-AB-CD")
        );
        assert_eq!(
            string(&p, ty::CALLED_STATION_ID).as_deref(),
            Some("internet")
        );
        assert_eq!(
            p.attribute(attr::SERVICE_TYPE).unwrap().as_u32().unwrap(),
            2
        );
        assert_eq!(
            p.attribute(attr::FRAMED_PROTOCOL)
                .unwrap()
                .as_u32()
                .unwrap(),
            1
        );
        let dsl: Vec<VendorSpecific<'_>> = p.vendor_attributes(vendor::DSL_FORUM).collect();
        assert_eq!(dsl.len(), 2);
        assert_eq!(
            dsl[0]
                .sub_attribute(vendor::AGENT_CIRCUIT_ID)
                .unwrap()
                .value(),
            b"dslam1 atm 1/1:0.35"
        );
        assert_eq!(
            dsl[1]
                .sub_attribute(vendor::AGENT_REMOTE_ID)
                .unwrap()
                .value(),
            b"cust-42"
        );
        // The radius crate agrees the packet is well formed.
        assert!(::radius::core::packet::Packet::decode(&buf[..len], SECRET).is_ok());
    }

    #[test]
    fn chap_and_mschapv2_layouts() {
        let mut buf = [0u8; 4096];
        let chap = AuthRequest {
            user_name: "bob".into(),
            credentials: Credentials::Chap {
                id: 5,
                challenge: vec![1; 20],
                response: [2; 16],
            },
            session: SessionInfo::default(),
            tunnel: None,
        };
        let len = encode_access_request(&mut buf, 1, &[3; 16], SECRET, &nas(), &chap).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        let cp = p.attribute(attr::CHAP_PASSWORD).unwrap().value();
        assert_eq!(cp[0], 5);
        assert_eq!(&cp[1..], &[2; 16]);
        assert_eq!(p.attribute(attr::CHAP_CHALLENGE).unwrap().value(), &[1; 20]);
        assert!(p.attribute(attr::USER_PASSWORD).is_none());

        let ms = AuthRequest {
            user_name: "carol".into(),
            credentials: Credentials::MsChapV2 {
                id: 9,
                authenticator_challenge: [4; 16],
                peer_challenge: [5; 16],
                nt_response: [6; 24],
                flags: 0,
            },
            session: SessionInfo::default(),
            tunnel: None,
        };
        let len = encode_access_request(&mut buf, 2, &[3; 16], SECRET, &nas(), &ms).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        let vsas: Vec<_> = p.vendor_attributes(vendor::MICROSOFT).collect();
        assert_eq!(
            vsas[0]
                .sub_attribute(ty::MS_CHAP_CHALLENGE)
                .unwrap()
                .value(),
            &[4; 16]
        );
        let resp = vsas[1]
            .sub_attribute(ty::MS_CHAP2_RESPONSE)
            .unwrap()
            .value();
        assert_eq!(resp.len(), 50);
        assert_eq!(resp[0], 9);
        assert_eq!(&resp[2..18], &[5; 16]);
        assert_eq!(&resp[18..26], &[0; 8]);
        assert_eq!(&resp[26..], &[6; 24]);
    }

    #[test]
    fn oversized_pap_password_is_an_error_not_a_panic() {
        let req = AuthRequest {
            user_name: "x".repeat(400),
            credentials: Credentials::Pap {
                password: vec![b'a'; 200],
            },
            session: SessionInfo::default(),
            tunnel: None,
        };
        let mut buf = [0u8; 4096];
        assert!(encode_access_request(&mut buf, 1, &[0; 16], SECRET, &nas(), &req).is_err());
        let mut tiny = [0u8; 30];
        let ok = AuthRequest {
            user_name: "x".into(),
            credentials: Credentials::Pap {
                password: b"p".to_vec(),
            },
            session: SessionInfo::default(),
            tunnel: None,
        };
        assert!(encode_access_request(&mut tiny, 1, &[0; 16], SECRET, &nas(), &ok).is_err());
    }

    #[test]
    fn accounting_record_with_gigawords_and_tunnel() {
        let mut rec = AccountingRecord::new(AcctStatusType::Stop, Some("alice".into()), session());
        rec.counters = Some(Counters {
            input_octets: (3u64 << 32) + 5,
            output_octets: 7,
            input_packets: 11,
            output_packets: 13,
        });
        rec.session_time = Some(99);
        rec.terminate_cause = Some(TerminateCause::LostCarrier.into());
        rec.class = vec![b"cls".to_vec()];
        rec.tunnel = Some(TunnelAccounting {
            server_endpoint: Some("10.0.0.2".parse().unwrap()),
            connection_id: Some("5/9".into()),
            packets_lost: Some(3),
            ..TunnelAccounting::default()
        });
        let mut buf = [0u8; 4096];
        let len = encode_accounting_request(&mut buf, 8, SECRET, &nas(), &rec, 12).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        assert!(p.verify_request(SECRET).unwrap().message_authenticator);
        let u = |t| p.attribute(t).unwrap().as_u32().unwrap();
        assert_eq!(u(attr::ACCT_STATUS_TYPE), 2);
        assert_eq!(u(ty::ACCT_DELAY_TIME), 12);
        assert_eq!(u(ty::ACCT_INPUT_OCTETS), 5);
        assert_eq!(u(ty::ACCT_INPUT_GIGAWORDS), 3);
        assert_eq!(u(ty::ACCT_OUTPUT_OCTETS), 7);
        assert_eq!(u(ty::ACCT_INPUT_PACKETS), 11);
        assert_eq!(u(ty::ACCT_SESSION_TIME), 99);
        assert_eq!(u(attr::ACCT_TERMINATE_CAUSE), 2);
        assert_eq!(u(ty::ACCT_TUNNEL_PACKETS_LOST), 3);
        assert_eq!(p.attribute(attr::CLASS).unwrap().value(), b"cls");
        assert_eq!(
            p.attribute(attr::ACCT_TUNNEL_CONNECTION).unwrap().value(),
            b"5/9"
        );
        assert_eq!(
            p.attribute(attr::TUNNEL_TYPE).unwrap().value(),
            &[0, 0, 0, 3]
        );
    }

    #[test]
    fn accounting_record_with_addresses_reads_back_and_old_spool_records_load() {
        let mut rec = AccountingRecord::new(AcctStatusType::Start, Some("bob".into()), session());
        rec.framed_ip_address = Some(Ipv4Addr::new(10, 64, 0, 9));
        rec.framed_ipv6_prefix = Some(("2001:db8:1:2::".parse().unwrap(), 64));
        rec.delegated_ipv6_prefix = Some(("2001:db8:ff00::".parse().unwrap(), 56));
        let mut buf = [0u8; 4096];
        let len = encode_accounting_request(&mut buf, 9, SECRET, &nas(), &rec, 0).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(
            p.attribute(attr::FRAMED_IP_ADDRESS).unwrap().value(),
            &[10, 64, 0, 9]
        );
        let framed = p.attribute(attr::FRAMED_IPV6_PREFIX).unwrap();
        assert_eq!(
            crate::aaa::attributes::parse_ipv6_prefix(framed.value()),
            rec.framed_ipv6_prefix
        );
        assert_eq!(framed.value().len(), 2 + 8);
        let delegated = p.attribute(ty::DELEGATED_IPV6_PREFIX).unwrap();
        assert_eq!(
            delegated.value(),
            &[0, 56, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0x00, 0]
        );
        // A record spooled before these fields existed still loads.
        let mut json =
            serde_json::to_value(AccountingRecord::new(AcctStatusType::Stop, None, session()))
                .unwrap();
        json.as_object_mut().unwrap().remove("framed_ipv6_prefix");
        let old: AccountingRecord = serde_json::from_value(json).unwrap();
        assert_eq!(old.delegated_ipv6_prefix, None);
    }

    #[test]
    fn session_end_maps_to_rfc2866_causes() {
        assert_eq!(
            u32::from(SessionEnd::SubscriberRequest.terminate_cause()),
            1
        );
        assert_eq!(u32::from(SessionEnd::LinkLost.terminate_cause()), 2);
        assert_eq!(u32::from(SessionEnd::TunnelLost.terminate_cause()), 3);
        assert_eq!(u32::from(SessionEnd::AdminDisconnect.terminate_cause()), 6);
        assert_eq!(u32::from(SessionEnd::NasShutdown.terminate_cause()), 11);
    }

    #[test]
    fn templates_and_mac_formats() {
        let mac = [0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03];
        assert_eq!(MacFormat::Colon.render(mac), "aa:bb:cc:01:02:03");
        assert_eq!(MacFormat::Dotted.render(mac), "aabb.cc01.0203");
        assert_eq!(MacFormat::Bare.render(mac), "aabbcc010203");
        let port = PortInfo {
            interface: "eth0".into(),
            ..PortInfo::default()
        };
        assert_eq!(NasPortIdTemplate::default().render(&port), "eth0");
        assert_eq!(
            NasPortIdTemplate("{interface}/{nope}/{svlan".into()).render(&port),
            "eth0/{nope}/{svlan"
        );
    }

    #[test]
    fn session_template_overrides_the_nas_template() {
        let auth = [3u8; 16];
        let mut buf = [0u8; 4096];
        let mut session = session();
        let encode = |session: &SessionInfo, buf: &mut [u8]| {
            let req = AuthRequest {
                user_name: "bob".into(),
                credentials: Credentials::Pap {
                    password: b"pw".to_vec(),
                },
                session: session.clone(),
                tunnel: None,
            };
            let len = encode_access_request(buf, 1, &auth, SECRET, &nas(), &req).unwrap();
            let p = Packet::new_checked(&buf[..len]).unwrap();
            let ids: Vec<String> = p
                .attributes()
                .map(Result::unwrap)
                .filter(|a| a.ty() == attr::NAS_PORT_ID)
                .map(|a| String::from_utf8_lossy(a.value()).into_owned())
                .collect();
            ids
        };
        // Without its own template the NAS's applies.
        assert_eq!(
            encode(&session, &mut buf),
            ["eth1:100.200 dslam1 atm 1/1:0.35"]
        );
        // With one, it replaces the NAS's, same placeholders, still once.
        session.port.nas_port_id = Some("{interface}/{svlan}/{cvlan}/{remote_id}".into());
        assert_eq!(encode(&session, &mut buf), ["eth1/100/200/cust-42"]);
        // Accounting renders it the same way.
        let record =
            AccountingRecord::new(AcctStatusType::Start, Some("bob".into()), session.clone());
        let len = encode_accounting_request(&mut buf, 2, SECRET, &nas(), &record, 0).unwrap();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(
            string(&p, attr::NAS_PORT_ID).as_deref(),
            Some("eth1/100/200/cust-42")
        );
        // A template that renders empty sends no NAS-Port-Id at all.
        session.port.nas_port_id = Some("{svlan}".into());
        session.port.svlan = None;
        assert!(encode(&session, &mut buf).is_empty());
        // render_for and render.
        let template = NasPortIdTemplate("{interface}".into());
        let port = PortInfo {
            interface: "eth9".into(),
            cvlan: Some(7),
            nas_port_id: Some("{interface}.{cvlan}".into()),
            ..PortInfo::default()
        };
        assert_eq!(template.render_for(&port), "eth9.7");
        assert_eq!(template.render(&port), "eth9");
    }

    #[test]
    fn records_spooled_before_the_port_template_still_load() {
        let mut record = AccountingRecord::new(AcctStatusType::Stop, None, session());
        let old = serde_json::to_value(&record).unwrap();
        // What an older build wrote: no `nas_port_id` key at all.
        assert!(old["session"]["port"].get("nas_port_id").is_none());
        let back: AccountingRecord = serde_json::from_value(old).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.session.port.nas_port_id, None);
        // A template round-trips.
        record.session.port.nas_port_id = Some("{interface}:{cvlan}".into());
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.contains("\"nas_port_id\":\"{interface}:{cvlan}\""),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<AccountingRecord>(&text).unwrap(),
            record
        );
    }

    proptest::proptest! {
        #[test]
        fn template_never_panics(t in ".{0,64}", iface in ".{0,16}") {
            let port = PortInfo { interface: iface, svlan: Some(1), ..PortInfo::default() };
            let _ = NasPortIdTemplate(t).render(&port);
        }
    }
}
