//! What an Access-Accept or Access-Reject means for a session: plain data
//! ([`Decision`], [`AcceptAttributes`], [`TunnelCandidate`]) and the mapping
//! from a verified response packet to it. No I/O.
//!
//! Implements:
//!
//! * RFC 2865 §5 reply attributes (Framed-IP-Address, Session-Timeout,
//!   Idle-Timeout, Class, Reply-Message), §5.26 Vendor-Specific;
//! * RFC 2869 §5.16 Acct-Interim-Interval, RFC 2869 Framed-Pool (RFC 2869
//!   §5.18), RFC 3162 §2.3 Framed-IPv6-Prefix, RFC 6911 DNS-Server-IPv6 is
//!   not used; DNS comes from MS-Primary/Secondary-DNS-Server (RFC 2548 §2.6);
//! * RFC 2868 §3 tunnel attributes grouped by tag into an ordered candidate
//!   list (RFC 2809 §2: the LAC tries the tunnels in preference order),
//!   Tunnel-Password decrypted with the Request Authenticator (§3.5);
//! * RFC 2548 §2.3.3 MS-CHAP2-Success, §2.4.2 / §2.4.3 MS-MPPE keys;
//! * rate limits: the tunnelnas VSA (vendor 32473), Cisco-AVPair
//!   `ip:rate-limit`-free form `rate-limit=UP/DOWN` (kbit/s), and
//!   Mikrotik-Rate-Limit `rx/tx` (bit/s, with k/M/G suffixes).
//!
//! # Tag rules (RFC 2868 §3)
//!
//! "The Tag field is one octet in length and is intended to provide a means
//! of grouping attributes in the same packet which refer to the same
//! tunnel." Tags 0x01-0x1F name groups. Attributes with tag 0 (or a string
//! attribute whose first octet is above 0x1F, RFC 2868 §3.3) are untagged:
//!
//! * when the reply has no tagged attribute at all, the untagged ones form
//!   the single group 0;
//! * when it has tagged groups, each untagged attribute supplies a value to
//!   every tagged group that lacks that attribute (a shared default, e.g. one
//!   Tunnel-Type for all groups). It never creates a group of its own.
//!
//! A group is usable only when it has exactly one of each attribute, a
//! Tunnel-Type of L2TP, a Tunnel-Medium-Type of IPv4 or IPv6 (absent means
//! IPv4), a Tunnel-Server-Endpoint that matches the medium, and a
//! Tunnel-Password (when present) that decrypts. Anything else makes the
//! group inconsistent: it is reported with the reason
//! ([`TunnelGroupError`]) and skipped. Candidates are ordered by
//! Tunnel-Preference, lower first ("a tunnel having a lower numerical value
//! in the Value field of this attribute SHOULD be given a higher preference
//! by the tunnel initiator", RFC 2868 §3.8), then by tag; a group without a
//! preference sorts after those with one.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod routes;

pub use routes::{FramedRoute, host_route, parse_framed_route, parse_ipv6_prefix};

use crate::wire::radius::{
    Attribute, Authenticator, Code, Packet, TunnelMediumType, TunnelType, TunnelValue, attr,
    decrypt_salted, vendor,
};

/// Attribute type numbers this layer uses beyond [`attr`].
pub mod ty {
    /// Idle-Timeout (RFC 2865 §5.28).
    pub const IDLE_TIMEOUT: u8 = 28;
    /// Called-Station-Id (RFC 2865 §5.30).
    pub const CALLED_STATION_ID: u8 = 30;
    /// Acct-Delay-Time (RFC 2866 §5.2).
    pub const ACCT_DELAY_TIME: u8 = 41;
    /// Acct-Input-Octets (RFC 2866 §5.3).
    pub const ACCT_INPUT_OCTETS: u8 = 42;
    /// Acct-Output-Octets (RFC 2866 §5.4).
    pub const ACCT_OUTPUT_OCTETS: u8 = 43;
    /// Acct-Authentic (RFC 2866 §5.6).
    pub const ACCT_AUTHENTIC: u8 = 45;
    /// Acct-Session-Time (RFC 2866 §5.7).
    pub const ACCT_SESSION_TIME: u8 = 46;
    /// Acct-Input-Packets (RFC 2866 §5.8).
    pub const ACCT_INPUT_PACKETS: u8 = 47;
    /// Acct-Output-Packets (RFC 2866 §5.9).
    pub const ACCT_OUTPUT_PACKETS: u8 = 48;
    /// Acct-Input-Gigawords (RFC 2869 §5.1).
    pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
    /// Acct-Output-Gigawords (RFC 2869 §5.2).
    pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
    /// Event-Timestamp (RFC 2869 §5.3).
    pub const EVENT_TIMESTAMP: u8 = 55;
    /// MS-CHAP vendor type of MS-CHAP-Error (RFC 2548 §2.1.5).
    pub const MS_CHAP_ERROR: u8 = 2;
    /// MS-CHAP vendor type of MS-CHAP-Challenge (RFC 2548 §2.3.2).
    pub const MS_CHAP_CHALLENGE: u8 = 11;
    /// MS-CHAP vendor type of MS-CHAP2-Response (RFC 2548 §2.3.2).
    pub const MS_CHAP2_RESPONSE: u8 = 25;
    /// MS-Primary-DNS-Server (RFC 2548 §2.6.1).
    pub const MS_PRIMARY_DNS: u8 = 28;
    /// MS-Secondary-DNS-Server (RFC 2548 §2.6.2).
    pub const MS_SECONDARY_DNS: u8 = 29;
    /// Acct-Interim-Interval (RFC 2869 §5.16).
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    /// Acct-Tunnel-Packets-Lost (RFC 2867 §4.2).
    pub const ACCT_TUNNEL_PACKETS_LOST: u8 = 86;
    /// Framed-Pool (RFC 2869 §5.18).
    pub const FRAMED_POOL: u8 = 88;
    /// Framed-Route (RFC 2865 §5.22).
    pub const FRAMED_ROUTE: u8 = 22;
    /// Framed-IPv6-Route (RFC 3162 §2.5).
    pub const FRAMED_IPV6_ROUTE: u8 = 99;
    /// Framed-IPv6-Pool (RFC 3162 §2.6).
    pub const FRAMED_IPV6_POOL: u8 = 100;
    /// Delegated-IPv6-Prefix (RFC 4818 §3).
    pub const DELEGATED_IPV6_PREFIX: u8 = 123;
    /// Delegated-IPv6-Prefix-Pool (RFC 6911 §3.4).
    pub const DELEGATED_IPV6_PREFIX_POOL: u8 = 171;
    /// NAS-IPv6-Address (RFC 3162 §2.1).
    pub const NAS_IPV6_ADDRESS: u8 = 95;
    /// Mikrotik vendor id.
    pub const MIKROTIK: u32 = 14988;
    /// Mikrotik-Rate-Limit vendor type.
    pub const MIKROTIK_RATE_LIMIT: u8 = 8;
    /// Tunnelnas-Rate-Limit-Up (kbit/s).
    pub const TUNNELNAS_RATE_UP: u8 = 1;
    /// Tunnelnas-Rate-Limit-Down (kbit/s).
    pub const TUNNELNAS_RATE_DOWN: u8 = 2;
    /// Tunnelnas-Burst-Up (bytes).
    pub const TUNNELNAS_BURST_UP: u8 = 3;
    /// Tunnelnas-Burst-Down (bytes).
    pub const TUNNELNAS_BURST_DOWN: u8 = 4;
}

/// The answer to an [`AuthRequest`](super::request::AuthRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Access-Accept (RFC 2865 §4.2), with what the session must apply.
    Accept(Box<AcceptAttributes>),
    /// Access-Reject, or a failure that must be treated as one.
    Reject(Rejection),
}

/// Why access was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What refused it.
    pub cause: RejectCause,
    /// Reply-Message(s) joined with a newline (RFC 2865 §5.18), if any.
    pub reply_message: Option<String>,
    /// MS-CHAP-Error (RFC 2548 §2.1.5), for the MS-CHAPv2 Failure packet.
    pub ms_chap_error: Option<Vec<u8>>,
}

/// The cause of a [`Rejection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectCause {
    /// The server sent Access-Reject.
    #[error("Access-Reject from the server")]
    AccessReject,
    /// The server sent Access-Challenge, which a PPP NAS cannot relay
    /// (RFC 2865 §4.4: a NAS that does not support challenges "MUST treat an
    /// Access-Challenge as though it had received an Access-Reject").
    #[error("Access-Challenge, treated as Access-Reject")]
    Challenge,
    /// The role needs a tunnel but no tag group of the Access-Accept was
    /// usable; the reasons of every skipped group are listed.
    #[error("no usable tunnel group in the Access-Accept: {0:?}")]
    NoUsableTunnel(Vec<TunnelGroupError>),
    /// No server of the group answered in time.
    #[error("no RADIUS server answered")]
    Timeout,
    /// Every server of the group is dead.
    #[error("every RADIUS server of the group is dead")]
    NoLiveServer,
    /// The request queue of the group is full (back-pressure).
    #[error("RADIUS request queue full")]
    Overloaded,
    /// The group named by the role does not exist.
    #[error("unknown RADIUS group {0:?}")]
    UnknownGroup(String),
    /// The request could not be encoded (e.g. a password over 128 octets).
    #[error("request could not be encoded: {0}")]
    Encoding(String),
    /// The AAA task has stopped.
    #[error("AAA layer stopped")]
    Stopped,
    /// The local-users backend does not know the user or the password is
    /// wrong.
    #[error("local user unknown or wrong password")]
    LocalUsers,
}

impl Rejection {
    /// A rejection with no message.
    #[must_use]
    pub const fn new(cause: RejectCause) -> Self {
        Self {
            cause,
            reply_message: None,
            ms_chap_error: None,
        }
    }
}

/// A tunnel endpoint as sent in Tunnel-Server-Endpoint (RFC 2868 §3.4): an
/// address, or a host name the LAC must resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelEndpoint {
    /// A literal address.
    Ip(IpAddr),
    /// A fully qualified domain name.
    Name(String),
}

/// One usable RFC 2868 tag group: an L2TP tunnel the LAC may try.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelCandidate {
    /// The tag (0 for an untagged single group).
    pub tag: u8,
    /// Tunnel-Medium-Type: IPv4 or IPv6.
    pub medium: TunnelMediumKind,
    /// Tunnel-Server-Endpoint (the LNS).
    pub server_endpoint: TunnelEndpoint,
    /// Tunnel-Client-Endpoint (our side), if given.
    pub client_endpoint: Option<TunnelEndpoint>,
    /// Tunnel-Password, decrypted (RFC 2868 §3.5); the L2TP tunnel secret.
    pub password: Option<Vec<u8>>,
    /// Tunnel-Preference; lower is preferred.
    pub preference: Option<u32>,
    /// Tunnel-Assignment-ID (RFC 2868 §3.7): sessions with the same id share
    /// a tunnel.
    pub assignment_id: Option<Vec<u8>>,
    /// Tunnel-Client-Auth-ID (RFC 2868 §3.9): our L2TP Host Name.
    pub client_auth_id: Option<Vec<u8>>,
    /// Tunnel-Server-Auth-ID (RFC 2868 §3.10): the LNS's expected Host Name.
    pub server_auth_id: Option<Vec<u8>>,
    /// Tunnel-Private-Group-ID (RFC 2868 §3.6).
    pub private_group_id: Option<Vec<u8>>,
}

impl core::fmt::Debug for TunnelCandidate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TunnelCandidate")
            .field("tag", &self.tag)
            .field("medium", &self.medium)
            .field("server_endpoint", &self.server_endpoint)
            .field("client_endpoint", &self.client_endpoint)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("preference", &self.preference)
            .field("assignment_id", &self.assignment_id)
            .field("client_auth_id", &self.client_auth_id)
            .field("server_auth_id", &self.server_auth_id)
            .field("private_group_id", &self.private_group_id)
            .finish()
    }
}

/// The tunnel medium of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelMediumKind {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Why a tag group was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TunnelGroupError {
    /// The group has no Tunnel-Type.
    #[error("tag {tag}: no Tunnel-Type")]
    MissingType {
        /// The tag.
        tag: u8,
    },
    /// Tunnel-Type is not L2TP.
    #[error("tag {tag}: Tunnel-Type {found} is not L2TP (3)")]
    NotL2tp {
        /// The tag.
        tag: u8,
        /// The type received.
        found: u32,
    },
    /// Tunnel-Medium-Type is neither IPv4 nor IPv6.
    #[error("tag {tag}: Tunnel-Medium-Type {found} is neither IPv4 nor IPv6")]
    UnsupportedMedium {
        /// The tag.
        tag: u8,
        /// The medium received.
        found: u32,
    },
    /// No Tunnel-Server-Endpoint.
    #[error("tag {tag}: no Tunnel-Server-Endpoint")]
    MissingServerEndpoint {
        /// The tag.
        tag: u8,
    },
    /// The endpoint is not valid text, or its address family contradicts
    /// the medium.
    #[error("tag {tag}: bad Tunnel-Server-Endpoint: {reason}")]
    BadServerEndpoint {
        /// The tag.
        tag: u8,
        /// Why.
        reason: &'static str,
    },
    /// An attribute appears twice in the group.
    #[error("tag {tag}: attribute {attribute} appears more than once")]
    Duplicate {
        /// The tag.
        tag: u8,
        /// Attribute type.
        attribute: u8,
    },
    /// Tunnel-Password did not decrypt.
    #[error("tag {tag}: Tunnel-Password does not decrypt")]
    BadPassword {
        /// The tag.
        tag: u8,
    },
    /// A tunnel attribute is malformed (wrong length, tag above 0x1F).
    #[error("malformed tunnel attribute {attribute}: {reason}")]
    Malformed {
        /// Attribute type.
        attribute: u8,
        /// Why.
        reason: String,
    },
}

/// Rate limits applied to the subscriber (bit/s; bursts in bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Subscriber → network, bit/s.
    pub up_bps: Option<u64>,
    /// Network → subscriber, bit/s.
    pub down_bps: Option<u64>,
    /// Upstream burst, bytes.
    pub burst_up_bytes: Option<u32>,
    /// Downstream burst, bytes.
    pub burst_down_bytes: Option<u32>,
}

impl RateLimit {
    /// Whether any limit is set.
    #[must_use]
    pub const fn is_set(&self) -> bool {
        self.up_bps.is_some()
            || self.down_bps.is_some()
            || self.burst_up_bytes.is_some()
            || self.burst_down_bytes.is_some()
    }
}

/// Everything an Access-Accept tells the session to apply.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AcceptAttributes {
    /// Usable tunnel groups, most preferred first (empty: no tunnel asked).
    pub tunnels: Vec<TunnelCandidate>,
    /// Tag groups that were present but skipped, with the reason.
    pub skipped_tunnels: Vec<TunnelGroupError>,
    /// Framed-IP-Address (RFC 2865 §5.8). 255.255.255.254 ("NAS should
    /// select") and 255.255.255.255 ("user may select") are kept verbatim.
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Framed-Pool (RFC 2869 §5.18).
    pub framed_pool: Option<String>,
    /// Framed-IPv6-Prefix (RFC 3162 §2.3): prefix and length.
    pub framed_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// Framed-IPv6-Pool (RFC 3162 §2.6).
    pub framed_ipv6_pool: Option<String>,
    /// Delegated-IPv6-Prefix (RFC 4818 §3): prefix and length, for DHCPv6
    /// prefix delegation.
    pub delegated_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// Delegated-IPv6-Prefix-Pool (RFC 6911 §3.4).
    pub delegated_ipv6_prefix_pool: Option<String>,
    /// Framed-Route (RFC 2865 §5.22) and Framed-IPv6-Route (RFC 3162
    /// §2.5), in order; values that do not parse are skipped.
    pub framed_routes: Vec<FramedRoute>,
    /// DNS servers (MS-Primary-DNS-Server, MS-Secondary-DNS-Server).
    pub dns: Vec<Ipv4Addr>,
    /// Session-Timeout in seconds (RFC 2865 §5.27).
    pub session_timeout: Option<u32>,
    /// Idle-Timeout in seconds (RFC 2865 §5.28).
    pub idle_timeout: Option<u32>,
    /// Acct-Interim-Interval in seconds (RFC 2869 §5.16).
    pub acct_interim_interval: Option<u32>,
    /// Class attributes, to echo unmodified in accounting (RFC 2865 §5.25:
    /// "SHOULD be sent unmodified by the client to the accounting server").
    pub class: Vec<Vec<u8>>,
    /// Rate limits, from whichever attribute carried them.
    pub rate_limit: RateLimit,
    /// MS-CHAP2-Success (RFC 2548 §2.3.3): Ident + `"S=<auth string>"`, to be
    /// relayed in the MS-CHAPv2 Success packet.
    pub ms_chap2_success: Option<Vec<u8>>,
    /// MS-MPPE-Send-Key, decrypted.
    pub mppe_send_key: Option<Vec<u8>>,
    /// MS-MPPE-Recv-Key, decrypted.
    pub mppe_recv_key: Option<Vec<u8>>,
    /// Reply-Message(s) joined with a newline.
    pub reply_message: Option<String>,
}

impl core::fmt::Debug for AcceptAttributes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AcceptAttributes")
            .field("tunnels", &self.tunnels)
            .field("skipped_tunnels", &self.skipped_tunnels)
            .field("framed_ip_address", &self.framed_ip_address)
            .field("framed_pool", &self.framed_pool)
            .field("framed_ipv6_prefix", &self.framed_ipv6_prefix)
            .field("framed_ipv6_pool", &self.framed_ipv6_pool)
            .field("delegated_ipv6_prefix", &self.delegated_ipv6_prefix)
            .field(
                "delegated_ipv6_prefix_pool",
                &self.delegated_ipv6_prefix_pool,
            )
            .field("framed_routes", &self.framed_routes)
            .field("dns", &self.dns)
            .field("session_timeout", &self.session_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("acct_interim_interval", &self.acct_interim_interval)
            .field("class", &self.class)
            .field("rate_limit", &self.rate_limit)
            .field("ms_chap2_success", &self.ms_chap2_success)
            .field(
                "mppe_keys",
                &self.mppe_send_key.as_ref().map(|_| "<redacted>"),
            )
            .field("reply_message", &self.reply_message)
            .finish()
    }
}

/// Maps a *verified* Access-Accept / Access-Reject / Access-Challenge to a
/// [`Decision`]. `request_authenticator` and `secret` decrypt
/// Tunnel-Password and MPPE keys (RFC 2868 §3.5: the salted hiding uses the
/// Request Authenticator of the Access-Request).
///
/// Malformed optional attributes are ignored (RFC 2865 §5: "A RADIUS client
/// MAY ... silently discard"), except tunnel attributes, which make their
/// group unusable.
#[must_use]
pub fn decision_from_response<T: AsRef<[u8]>>(
    packet: &Packet<T>,
    request_authenticator: &Authenticator,
    secret: &[u8],
) -> Decision {
    let reply_message = reply_message(packet);
    match packet.code() {
        Code::AccessAccept => {
            let mut accept = accept_attributes(packet, request_authenticator, secret);
            accept.reply_message = reply_message;
            Decision::Accept(Box::new(accept))
        }
        Code::AccessChallenge => Decision::Reject(Rejection {
            cause: RejectCause::Challenge,
            reply_message,
            ms_chap_error: None,
        }),
        _ => Decision::Reject(Rejection {
            cause: RejectCause::AccessReject,
            reply_message,
            ms_chap_error: packet
                .vendor_attributes(vendor::MICROSOFT)
                .find_map(|vsa| vsa.sub_attribute(ty::MS_CHAP_ERROR))
                .map(|a| a.value().to_vec()),
        }),
    }
}

fn reply_message<T: AsRef<[u8]>>(packet: &Packet<T>) -> Option<String> {
    let parts: Vec<String> = packet
        .attributes()
        .filter_map(core::result::Result::ok)
        .filter(|a| a.ty() == attr::REPLY_MESSAGE)
        .map(|a| String::from_utf8_lossy(a.value()).into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn u32_of(a: &Attribute<'_>) -> Option<u32> {
    a.as_u32().ok()
}

/// Reads every reply attribute of an Access-Accept (see module docs).
#[must_use]
pub fn accept_attributes<T: AsRef<[u8]>>(
    packet: &Packet<T>,
    request_authenticator: &Authenticator,
    secret: &[u8],
) -> AcceptAttributes {
    let mut out = AcceptAttributes::default();
    for attribute in packet.attributes().filter_map(core::result::Result::ok) {
        match attribute.ty() {
            attr::FRAMED_IP_ADDRESS => out.framed_ip_address = attribute.as_ipv4().ok(),
            ty::FRAMED_POOL => {
                out.framed_pool = Some(String::from_utf8_lossy(attribute.value()).into_owned());
            }
            attr::FRAMED_IPV6_PREFIX => {
                out.framed_ipv6_prefix = parse_ipv6_prefix(attribute.value());
            }
            ty::DELEGATED_IPV6_PREFIX => {
                out.delegated_ipv6_prefix = parse_ipv6_prefix(attribute.value());
            }
            ty::FRAMED_IPV6_POOL => {
                out.framed_ipv6_pool =
                    Some(String::from_utf8_lossy(attribute.value()).into_owned());
            }
            ty::DELEGATED_IPV6_PREFIX_POOL => {
                out.delegated_ipv6_prefix_pool =
                    Some(String::from_utf8_lossy(attribute.value()).into_owned());
            }
            ty::FRAMED_ROUTE | ty::FRAMED_IPV6_ROUTE => {
                if let Some(route) = routes::parse_framed_route(attribute.value()) {
                    out.framed_routes.push(route);
                } else {
                    tracing::warn!(
                        value = %String::from_utf8_lossy(attribute.value()),
                        "Framed-Route that does not parse: skipped"
                    );
                }
            }
            attr::SESSION_TIMEOUT => out.session_timeout = u32_of(&attribute),
            ty::IDLE_TIMEOUT => out.idle_timeout = u32_of(&attribute),
            ty::ACCT_INTERIM_INTERVAL => out.acct_interim_interval = u32_of(&attribute),
            attr::CLASS => out.class.push(attribute.value().to_vec()),
            _ => {}
        }
    }
    for vsa in packet.attributes().filter_map(core::result::Result::ok) {
        if vsa.ty() != attr::VENDOR_SPECIFIC {
            continue;
        }
        let Ok(vsa) = crate::wire::radius::VendorSpecific::parse(vsa.value()) else {
            continue;
        };
        if !vsa.is_well_formed() {
            continue;
        }
        for sub in vsa.sub_attributes() {
            apply_vendor(
                &mut out,
                vsa.vendor_id(),
                &sub,
                request_authenticator,
                secret,
            );
        }
    }
    let (tunnels, skipped) = tunnel_candidates(packet, request_authenticator, secret);
    out.tunnels = tunnels;
    out.skipped_tunnels = skipped;
    out
}

fn apply_vendor(
    out: &mut AcceptAttributes,
    vendor_id: u32,
    sub: &Attribute<'_>,
    request_authenticator: &Authenticator,
    secret: &[u8],
) {
    match (vendor_id, sub.ty()) {
        (vendor::MICROSOFT, vendor::MS_CHAP2_SUCCESS) => {
            out.ms_chap2_success = Some(sub.value().to_vec());
        }
        (vendor::MICROSOFT, vendor::MS_MPPE_SEND_KEY) => {
            out.mppe_send_key = decrypt_salted(sub.value(), secret, request_authenticator)
                .ok()
                .map(|p| p.as_bytes().to_vec());
        }
        (vendor::MICROSOFT, vendor::MS_MPPE_RECV_KEY) => {
            out.mppe_recv_key = decrypt_salted(sub.value(), secret, request_authenticator)
                .ok()
                .map(|p| p.as_bytes().to_vec());
        }
        (vendor::MICROSOFT, ty::MS_PRIMARY_DNS | ty::MS_SECONDARY_DNS) => {
            if let Ok(ip) = sub.as_ipv4() {
                // Primary first whatever the order in the packet.
                if sub.ty() == ty::MS_PRIMARY_DNS {
                    out.dns.insert(0, ip);
                } else {
                    out.dns.push(ip);
                }
            }
        }
        (vendor::TUNNELNAS, t) => {
            let Some(v) = u32_of(sub) else { return };
            match t {
                ty::TUNNELNAS_RATE_UP => out.rate_limit.up_bps = Some(u64::from(v) * 1000),
                ty::TUNNELNAS_RATE_DOWN => out.rate_limit.down_bps = Some(u64::from(v) * 1000),
                ty::TUNNELNAS_BURST_UP => out.rate_limit.burst_up_bytes = Some(v),
                ty::TUNNELNAS_BURST_DOWN => out.rate_limit.burst_down_bytes = Some(v),
                _ => {}
            }
        }
        (vendor::CISCO, vendor::CISCO_AVPAIR) => {
            if let Some(limit) = core::str::from_utf8(sub.value())
                .ok()
                .and_then(parse_cisco_rate_limit)
            {
                merge_rate(&mut out.rate_limit, limit);
            }
        }
        (ty::MIKROTIK, ty::MIKROTIK_RATE_LIMIT) => {
            if let Some(limit) = core::str::from_utf8(sub.value())
                .ok()
                .and_then(parse_mikrotik_rate_limit)
            {
                merge_rate(&mut out.rate_limit, limit);
            }
        }
        _ => {}
    }
}

fn merge_rate(into: &mut RateLimit, from: RateLimit) {
    into.up_bps = into.up_bps.or(from.up_bps);
    into.down_bps = into.down_bps.or(from.down_bps);
    into.burst_up_bytes = into.burst_up_bytes.or(from.burst_up_bytes);
    into.burst_down_bytes = into.burst_down_bytes.or(from.burst_down_bytes);
}

/// Cisco-AVPair `rate-limit=UP/DOWN` (optionally prefixed `subscriber:` or
/// `ip:`), values in kbit/s.
#[must_use]
pub fn parse_cisco_rate_limit(pair: &str) -> Option<RateLimit> {
    let (key, value) = pair.split_once('=')?;
    let key = key.rsplit(':').next().unwrap_or(key);
    if key.trim() != "rate-limit" {
        return None;
    }
    let (up, down) = value.split_once('/')?;
    Some(RateLimit {
        up_bps: up.trim().parse::<u64>().ok()?.checked_mul(1000),
        down_bps: down.trim().parse::<u64>().ok()?.checked_mul(1000),
        ..RateLimit::default()
    })
}

/// Mikrotik-Rate-Limit `rx-rate[/tx-rate] [...]`: the first pair, rx = from
/// the subscriber (upload), tx = to the subscriber; suffixes k, M, G.
#[must_use]
pub fn parse_mikrotik_rate_limit(text: &str) -> Option<RateLimit> {
    let first = text.split_whitespace().next()?;
    let (rx, tx) = first.split_once('/').unwrap_or((first, first));
    Some(RateLimit {
        up_bps: Some(parse_rate(rx)?),
        down_bps: Some(parse_rate(tx)?),
        ..RateLimit::default()
    })
}

fn parse_rate(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, mult) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1_000),
        b'M' | b'm' => (&text[..text.len() - 1], 1_000_000),
        b'G' | b'g' => (&text[..text.len() - 1], 1_000_000_000),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// One tag group being collected.
#[derive(Default)]
struct RawGroup<'a> {
    values: BTreeMap<u8, Vec<TunnelValue<'a>>>,
}

impl<'a> RawGroup<'a> {
    fn add(&mut self, value: TunnelValue<'a>) {
        self.values
            .entry(value.attribute_type())
            .or_default()
            .push(value);
    }
}

/// Groups the RFC 2868 attributes of `packet` by tag and turns each group
/// into a [`TunnelCandidate`] (see the module docs for the rules). Returns
/// the usable candidates, most preferred first, and the skipped groups.
#[must_use]
pub fn tunnel_candidates<T: AsRef<[u8]>>(
    packet: &Packet<T>,
    request_authenticator: &Authenticator,
    secret: &[u8],
) -> (Vec<TunnelCandidate>, Vec<TunnelGroupError>) {
    let mut skipped = Vec::new();
    let mut groups: BTreeMap<u8, RawGroup<'_>> = BTreeMap::new();
    let mut untagged = RawGroup::default();
    for attribute in packet.attributes().filter_map(core::result::Result::ok) {
        match TunnelValue::parse(&attribute) {
            Ok(None) => {}
            Ok(Some(tagged)) if tagged.tag == 0 => untagged.add(tagged.value),
            Ok(Some(tagged)) => groups.entry(tagged.tag).or_default().add(tagged.value),
            Err(error) => skipped.push(TunnelGroupError::Malformed {
                attribute: attribute.ty(),
                reason: error.to_string(),
            }),
        }
    }
    if groups.is_empty() {
        if !untagged.values.is_empty() {
            groups.insert(0, untagged);
        }
    } else {
        // Untagged attributes are defaults shared by every tagged group.
        for group in groups.values_mut() {
            for (ty, values) in &untagged.values {
                group.values.entry(*ty).or_insert_with(|| values.clone());
            }
        }
    }
    let mut candidates = Vec::new();
    for (tag, group) in &groups {
        match candidate(*tag, group, request_authenticator, secret) {
            Ok(c) => candidates.push(c),
            Err(error) => {
                tracing::warn!(%error, "skipping inconsistent RFC 2868 tunnel group");
                skipped.push(error);
            }
        }
    }
    // Stable: equal preferences keep tag order.
    candidates.sort_by_key(|c| (c.preference.is_none(), c.preference, c.tag));
    (candidates, skipped)
}

fn candidate(
    tag: u8,
    group: &RawGroup<'_>,
    request_authenticator: &Authenticator,
    secret: &[u8],
) -> Result<TunnelCandidate, TunnelGroupError> {
    let one = |ty: u8| -> Result<Option<&TunnelValue<'_>>, TunnelGroupError> {
        match group.values.get(&ty).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([v]) => Ok(Some(v)),
            Some(_) => Err(TunnelGroupError::Duplicate { tag, attribute: ty }),
        }
    };
    let bytes = |ty: u8| -> Result<Option<Vec<u8>>, TunnelGroupError> {
        Ok(one(ty)?.and_then(|v| match v {
            TunnelValue::ClientEndpoint(b)
            | TunnelValue::ServerEndpoint(b)
            | TunnelValue::PrivateGroupId(b)
            | TunnelValue::AssignmentId(b)
            | TunnelValue::ClientAuthId(b)
            | TunnelValue::ServerAuthId(b) => Some(b.to_vec()),
            _ => None,
        }))
    };
    match one(attr::TUNNEL_TYPE)? {
        Some(TunnelValue::Type(TunnelType::L2tp)) => {}
        Some(TunnelValue::Type(other)) => {
            return Err(TunnelGroupError::NotL2tp {
                tag,
                found: u32::from(*other),
            });
        }
        _ => return Err(TunnelGroupError::MissingType { tag }),
    }
    let medium = match one(attr::TUNNEL_MEDIUM_TYPE)? {
        None | Some(TunnelValue::MediumType(TunnelMediumType::Ipv4)) => TunnelMediumKind::Ipv4,
        Some(TunnelValue::MediumType(TunnelMediumType::Ipv6)) => TunnelMediumKind::Ipv6,
        Some(TunnelValue::MediumType(other)) => {
            return Err(TunnelGroupError::UnsupportedMedium {
                tag,
                found: u32::from(*other),
            });
        }
        Some(_) => return Err(TunnelGroupError::MissingType { tag }),
    };
    let server = bytes(attr::TUNNEL_SERVER_ENDPOINT)?
        .ok_or(TunnelGroupError::MissingServerEndpoint { tag })?;
    let server_endpoint = parse_endpoint(&server, medium)
        .map_err(|reason| TunnelGroupError::BadServerEndpoint { tag, reason })?;
    let client_endpoint =
        bytes(attr::TUNNEL_CLIENT_ENDPOINT)?.and_then(|b| parse_endpoint(&b, medium).ok());
    let password = match one(attr::TUNNEL_PASSWORD)? {
        Some(TunnelValue::Password(hidden)) => Some(
            decrypt_salted(hidden, secret, request_authenticator)
                .map_err(|_| TunnelGroupError::BadPassword { tag })?
                .as_bytes()
                .to_vec(),
        ),
        _ => None,
    };
    let preference = match one(attr::TUNNEL_PREFERENCE)? {
        Some(TunnelValue::Preference(p)) => Some(*p),
        _ => None,
    };
    Ok(TunnelCandidate {
        tag,
        medium,
        server_endpoint,
        client_endpoint,
        password,
        preference,
        assignment_id: bytes(attr::TUNNEL_ASSIGNMENT_ID)?,
        client_auth_id: bytes(attr::TUNNEL_CLIENT_AUTH_ID)?,
        server_auth_id: bytes(attr::TUNNEL_SERVER_AUTH_ID)?,
        private_group_id: bytes(attr::TUNNEL_PRIVATE_GROUP_ID)?,
    })
}

/// RFC 2868 §3.4: "dotted-decimal IP address" for IPv4, the text form for
/// IPv6, or "a fully qualified domain name".
fn parse_endpoint(bytes: &[u8], medium: TunnelMediumKind) -> Result<TunnelEndpoint, &'static str> {
    let text = core::str::from_utf8(bytes).map_err(|_| "not UTF-8 text")?;
    let text = text.trim_end_matches('\0').trim();
    if text.is_empty() {
        return Err("empty");
    }
    match (text.parse::<IpAddr>(), medium) {
        (Ok(ip @ IpAddr::V4(_)), TunnelMediumKind::Ipv4)
        | (Ok(ip @ IpAddr::V6(_)), TunnelMediumKind::Ipv6) => Ok(TunnelEndpoint::Ip(ip)),
        (Ok(_), _) => Err("address family contradicts Tunnel-Medium-Type"),
        (Err(_), _) => {
            let valid = text.len() <= 253
                && text.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if valid {
                Ok(TunnelEndpoint::Name(text.to_owned()))
            } else {
                Err("neither an address nor a host name")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::radius::PacketBuilder;

    const SECRET: &[u8] = b"s3cret";
    const REQ: Authenticator = [7; 16];

    fn accept(build: impl FnOnce(&mut PacketBuilder<'_>)) -> Vec<u8> {
        let mut buf = vec![0; 4096];
        let mut b = PacketBuilder::new(&mut buf, Code::AccessAccept, 1, &[0; 16]).unwrap();
        build(&mut b);
        let len = b.finish_signed(SECRET, Some(&REQ)).unwrap();
        buf.truncate(len);
        buf
    }

    fn l2tp_group(b: &mut PacketBuilder<'_>, tag: u8, ep: &str, pw: &str, pref: Option<u32>) {
        b.push_tunnel(tag, &TunnelValue::Type(TunnelType::L2tp))
            .unwrap();
        b.push_tunnel(tag, &TunnelValue::MediumType(TunnelMediumType::Ipv4))
            .unwrap();
        b.push_tunnel(tag, &TunnelValue::ServerEndpoint(ep.as_bytes()))
            .unwrap();
        b.push_tunnel_password(tag, pw.as_bytes(), [0x80 | tag, 1], SECRET, &REQ)
            .unwrap();
        if let Some(p) = pref {
            b.push_tunnel(tag, &TunnelValue::Preference(p)).unwrap();
        }
    }

    fn candidates(bytes: &[u8]) -> (Vec<TunnelCandidate>, Vec<TunnelGroupError>) {
        tunnel_candidates(&Packet::new_checked(bytes).unwrap(), &REQ, SECRET)
    }

    #[test]
    fn groups_are_ordered_by_preference_and_passwords_decrypt() {
        let bytes = accept(|b| {
            l2tp_group(b, 1, "10.0.0.1", "one", Some(20));
            l2tp_group(b, 2, "10.0.0.2", "two-two", Some(10));
            l2tp_group(b, 3, "lns.example.net", "three", None);
        });
        let (c, skipped) = candidates(&bytes);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(c.iter().map(|c| c.tag).collect::<Vec<_>>(), [2, 1, 3]);
        assert_eq!(c[0].password.as_deref(), Some(&b"two-two"[..]));
        assert_eq!(
            c[0].server_endpoint,
            TunnelEndpoint::Ip("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            c[2].server_endpoint,
            TunnelEndpoint::Name("lns.example.net".into())
        );
    }

    #[test]
    fn untagged_attributes_form_one_group_or_defaults() {
        let single = accept(|b| l2tp_group(b, 0, "192.0.2.1", "pw", None));
        let (c, _) = candidates(&single);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].tag, 0);
        // Untagged Tunnel-Type as default for two tagged groups.
        let shared = accept(|b| {
            b.push_tunnel(0, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(1, &TunnelValue::ServerEndpoint(b"192.0.2.1"))
                .unwrap();
            b.push_tunnel(2, &TunnelValue::ServerEndpoint(b"192.0.2.2"))
                .unwrap();
        });
        let (c, skipped) = candidates(&shared);
        assert_eq!(c.len(), 2, "{skipped:?}");
    }

    #[test]
    fn inconsistent_groups_are_skipped_with_reasons() {
        let bytes = accept(|b| {
            // Not L2TP.
            b.push_tunnel(1, &TunnelValue::Type(TunnelType::Pptp))
                .unwrap();
            b.push_tunnel(1, &TunnelValue::ServerEndpoint(b"10.0.0.1"))
                .unwrap();
            // IPv6 medium with an IPv4 endpoint.
            b.push_tunnel(2, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(2, &TunnelValue::MediumType(TunnelMediumType::Ipv6))
                .unwrap();
            b.push_tunnel(2, &TunnelValue::ServerEndpoint(b"10.0.0.2"))
                .unwrap();
            // No endpoint.
            b.push_tunnel(3, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            // Two endpoints.
            b.push_tunnel(4, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(4, &TunnelValue::ServerEndpoint(b"10.0.0.4"))
                .unwrap();
            b.push_tunnel(4, &TunnelValue::ServerEndpoint(b"10.0.0.5"))
                .unwrap();
            // Medium not IP.
            b.push_tunnel(5, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(5, &TunnelValue::MediumType(TunnelMediumType::X121))
                .unwrap();
            b.push_tunnel(5, &TunnelValue::ServerEndpoint(b"10.0.0.6"))
                .unwrap();
        });
        let (c, skipped) = candidates(&bytes);
        assert!(c.is_empty());
        assert_eq!(
            skipped,
            vec![
                TunnelGroupError::NotL2tp { tag: 1, found: 1 },
                TunnelGroupError::BadServerEndpoint {
                    tag: 2,
                    reason: "address family contradicts Tunnel-Medium-Type"
                },
                TunnelGroupError::MissingServerEndpoint { tag: 3 },
                TunnelGroupError::Duplicate {
                    tag: 4,
                    attribute: attr::TUNNEL_SERVER_ENDPOINT
                },
                TunnelGroupError::UnsupportedMedium { tag: 5, found: 10 },
            ]
        );
    }

    #[test]
    fn wrong_secret_makes_password_group_unusable() {
        let bytes = accept(|b| l2tp_group(b, 1, "10.0.0.1", "pw", None));
        let (c, skipped) =
            tunnel_candidates(&Packet::new_checked(&bytes[..]).unwrap(), &REQ, b"other");
        // A wrong key yields garbage or a bad length; either way never the
        // password.
        assert!(
            c.first()
                .is_none_or(|c| c.password.as_deref() != Some(&b"pw"[..]))
                || !skipped.is_empty()
        );
    }

    #[test]
    fn reply_attributes_are_mapped() {
        let bytes = accept(|b| {
            b.push_ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(100, 64, 0, 9))
                .unwrap();
            b.push(ty::FRAMED_POOL, b"pool-a").unwrap();
            b.push(
                attr::FRAMED_IPV6_PREFIX,
                &[0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 2],
            )
            .unwrap();
            b.push(
                ty::DELEGATED_IPV6_PREFIX,
                &[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 9],
            )
            .unwrap();
            b.push(ty::FRAMED_IPV6_POOL, b"v6-a").unwrap();
            b.push(ty::DELEGATED_IPV6_PREFIX_POOL, b"pd-a").unwrap();
            b.push(ty::FRAMED_ROUTE, b"192.0.2.0/24 0.0.0.0 1").unwrap();
            b.push(ty::FRAMED_ROUTE, b"garbage").unwrap();
            b.push(ty::FRAMED_IPV6_ROUTE, b"2001:db8:5::/48 :: 2")
                .unwrap();
            b.push_u32(attr::SESSION_TIMEOUT, 3600).unwrap();
            b.push_u32(ty::IDLE_TIMEOUT, 600).unwrap();
            b.push_u32(ty::ACCT_INTERIM_INTERVAL, 300).unwrap();
            b.push(attr::CLASS, b"c1").unwrap();
            b.push(attr::CLASS, b"c2").unwrap();
            b.push_vendor_attribute(vendor::MICROSOFT, ty::MS_SECONDARY_DNS, &[9, 9, 9, 9])
                .unwrap();
            b.push_vendor_attribute(vendor::MICROSOFT, ty::MS_PRIMARY_DNS, &[1, 1, 1, 1])
                .unwrap();
            b.push_vendor_attribute(
                vendor::TUNNELNAS,
                ty::TUNNELNAS_RATE_DOWN,
                &[0, 0, 0x27, 0x10],
            )
            .unwrap();
            b.push_vendor_attribute(
                vendor::CISCO,
                vendor::CISCO_AVPAIR,
                b"subscriber:rate-limit=512/2048",
            )
            .unwrap();
            b.push_vendor_attribute(vendor::MICROSOFT, vendor::MS_CHAP2_SUCCESS, b"\x07S=ABC")
                .unwrap();
            b.push(attr::REPLY_MESSAGE, b"hello").unwrap();
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let Decision::Accept(a) = decision_from_response(&packet, &REQ, SECRET) else {
            panic!("not an accept");
        };
        assert_eq!(a.framed_ip_address, Some(Ipv4Addr::new(100, 64, 0, 9)));
        assert_eq!(a.framed_pool.as_deref(), Some("pool-a"));
        assert_eq!(
            a.framed_ipv6_prefix,
            Some(("2001:db8:1:200::".parse().unwrap(), 56))
        );
        assert_eq!(
            a.delegated_ipv6_prefix,
            Some(("2001:db8:9::".parse().unwrap(), 48))
        );
        assert_eq!(a.framed_ipv6_pool.as_deref(), Some("v6-a"));
        assert_eq!(a.delegated_ipv6_prefix_pool.as_deref(), Some("pd-a"));
        let routes: Vec<String> = a
            .framed_routes
            .iter()
            .map(|r| r.prefix.to_string())
            .collect();
        assert_eq!(routes, ["192.0.2.0/24", "2001:db8:5::/48"]);
        assert_eq!(a.framed_routes[1].metric, Some(2));
        assert_eq!(a.session_timeout, Some(3600));
        assert_eq!(a.idle_timeout, Some(600));
        assert_eq!(a.acct_interim_interval, Some(300));
        assert_eq!(a.class, vec![b"c1".to_vec(), b"c2".to_vec()]);
        assert_eq!(
            a.dns,
            vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(9, 9, 9, 9)]
        );
        assert_eq!(a.rate_limit.down_bps, Some(10_000_000));
        assert_eq!(a.rate_limit.up_bps, Some(512_000));
        assert_eq!(a.ms_chap2_success.as_deref(), Some(&b"\x07S=ABC"[..]));
        assert_eq!(a.reply_message.as_deref(), Some("hello"));
        assert!(a.tunnels.is_empty());
    }

    #[test]
    fn rate_limit_text_forms() {
        assert_eq!(
            parse_mikrotik_rate_limit("2M/10M 4M/20M"),
            Some(RateLimit {
                up_bps: Some(2_000_000),
                down_bps: Some(10_000_000),
                ..RateLimit::default()
            })
        );
        assert_eq!(
            parse_mikrotik_rate_limit("512k").unwrap().down_bps,
            Some(512_000)
        );
        assert_eq!(parse_mikrotik_rate_limit("x/y"), None);
        assert_eq!(parse_cisco_rate_limit("ip:addr-pool=x"), None);
        assert_eq!(parse_rate("99999999999999999999G"), None);
    }

    #[test]
    fn reject_keeps_reply_message_and_mschap_error() {
        let mut buf = vec![0; 4096];
        let mut b = PacketBuilder::new(&mut buf, Code::AccessReject, 1, &[0; 16]).unwrap();
        b.push(attr::REPLY_MESSAGE, b"nope").unwrap();
        b.push_vendor_attribute(vendor::MICROSOFT, ty::MS_CHAP_ERROR, b"\x01E=691 R=0")
            .unwrap();
        let len = b.finish_signed(SECRET, Some(&REQ)).unwrap();
        let packet = Packet::new_checked(&buf[..len]).unwrap();
        let Decision::Reject(r) = decision_from_response(&packet, &REQ, SECRET) else {
            panic!()
        };
        assert_eq!(r.cause, RejectCause::AccessReject);
        assert_eq!(r.reply_message.as_deref(), Some("nope"));
        assert_eq!(r.ms_chap_error.as_deref(), Some(&b"\x01E=691 R=0"[..]));
    }

    proptest::proptest! {
        /// Arbitrary attribute areas never panic the mapping.
        #[test]
        fn arbitrary_attributes_never_panic(area in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut bytes = vec![2, 1, 0, 0];
            bytes.extend_from_slice(&[0; 16]);
            bytes.extend_from_slice(&area);
            let len = u16::try_from(bytes.len()).unwrap();
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = decision_from_response(&packet, &REQ, SECRET);
            }
        }
    }
}
