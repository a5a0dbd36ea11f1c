//! RADIUS packets: zero-copy view, authenticators, Message-Authenticator,
//! attribute hiding, RFC 2868 tagged tunnel attributes and Vendor-Specific
//! attributes.
//!
//! Implements:
//!
//! * RFC 2865 §3 (packet format, Request / Response Authenticator),
//!   §5 (attribute format), §5.2 (User-Password hiding), §5.26
//!   (Vendor-Specific);
//! * RFC 2866 §3 (Accounting-Request authenticator);
//! * RFC 2868 §3 (tagged tunnel attributes), §3.5 (Tunnel-Password);
//! * RFC 2548 §2.4.2 / §2.4.3 (MS-MPPE-Send-Key / Recv-Key: the same salted
//!   hiding as Tunnel-Password, shared here);
//! * RFC 2869 §5.14 and RFC 3579 §3.2 (Message-Authenticator);
//! * RFC 5176 §2.3 (CoA / Disconnect request authenticator) and §3.5
//!   (Message-Authenticator in dynamic authorization packets);
//! * RFC 5080 §2.2.2 (Message-Authenticator placement) as advice.
//!
//! # Why this module exists beside the `radius` crate
//!
//! The project uses the `radius` crate (0.4) for its packet model and the
//! generated attribute-type constants (the [`attr`] constants below come from
//! it). Measured on this machine, the crate is wrong or silent where a NAS
//! needs it most:
//!
//! * tagged integers are written as tag + **4**-octet value; RFC 2868 §3.1
//!   says tag + 3-octet value, attribute length 6;
//! * Tunnel-Password is written without the Data-Length octet and decrypted
//!   with the *response* authenticator instead of the Request Authenticator
//!   of the Access-Request (RFC 2868 §3.5);
//! * no Message-Authenticator (RFC 3579 §3.2), so it can neither talk to a
//!   server that requires one nor detect a forged Access-Accept;
//! * no Vendor-Specific decoding (RFC 2865 §5.26);
//! * its `Client` accepts a response with an all-zero authenticator (never
//!   verifies the Response Authenticator), and its packet constructor draws
//!   the Request Authenticator from a thread RNG, which a sans-IO core cannot
//!   let it do.
//!
//! Writing into a crate `Packet` does not help either: the crate computes the
//! Response / Request Authenticator inside `encode()`, after which a
//! Message-Authenticator can no longer be inserted (RFC 3579 §3.2 orders MA
//! first, then the authenticator), and every attribute is a heap `Vec`.
//! So this module has its own **attribute list writer**, [`PacketBuilder`],
//! which writes straight into a buffer the caller owns (no allocation on the
//! per-packet path), and [`Packet::sign`], which applies the two
//! authenticators in the order the RFCs require. Packets it writes parse
//! with the crate's `Packet::decode` (tested), so the crate stays usable for
//! whoever prefers its model on the receive side.
//!
//! # Measured interoperability note (FreeRADIUS 3.2.1)
//!
//! The FreeRADIUS 3.2.1 *server* computes the Message-Authenticator of
//! Accounting-Response, CoA-ACK/NAK and Disconnect-ACK/NAK over a zeroed
//! Authenticator field, while its own `radclient` (and RFC 5176 §3.5 /
//! RFC 3579 §3.2 for responses) uses the Request Authenticator of the
//! request. [`Packet::sign`] emits the RFC form; verification of those
//! response codes accepts either form. That acceptance adds no forgery
//! window: the Response Authenticator, checked first, already binds the
//! response to the request. See `tests/fixtures/radius/README.md`.
#![allow(clippy::module_name_repetitions)]

use core::fmt;
use core::net::Ipv4Addr;

use md5::{Digest, Md5};

use super::{Error, Result, ensure_len, ensure_room};

/// Length of the fixed RADIUS header (Code, Identifier, Length,
/// Authenticator).
pub const HEADER_LEN: usize = 20;
/// RFC 2865 §3: "The minimum length is 20 and maximum length is 4096."
pub const MAX_PACKET_LEN: usize = 4096;
/// Length of the Authenticator field and of every MD5 block.
pub const AUTHENTICATOR_LEN: usize = 16;
/// Longest attribute value (attribute length 255 less type and length).
pub const MAX_VALUE_LEN: usize = 253;
/// Longest User-Password plaintext (RFC 2865 §5.2: at most 128 octets).
pub const MAX_USER_PASSWORD_LEN: usize = 128;
/// Longest plaintext the salted hiding of RFC 2868 §3.5 / RFC 2548 §2.4.2
/// can carry in one attribute: tag (or vendor header) + salt + 240 octets of
/// ciphertext, one of which is the Data-Length octet.
pub const MAX_SALTED_PLAINTEXT_LEN: usize = 239;
/// Value length of Message-Authenticator (RFC 3579 §3.2: Length = 18).
pub const MESSAGE_AUTHENTICATOR_LEN: usize = 16;

/// The 16-octet Authenticator field (and Message-Authenticator value).
pub type Authenticator = [u8; AUTHENTICATOR_LEN];

crate::open_enum! {
    /// RADIUS packet type codes (RFC 2865 §3, RFC 2866 §3, RFC 5997,
    /// RFC 5176 §2.3; IANA "RADIUS Packet Type Codes").
    pub enum Code(u8) {
        /// Access-Request (RFC 2865 §4.1).
        AccessRequest = 1,
        /// Access-Accept (RFC 2865 §4.2).
        AccessAccept = 2,
        /// Access-Reject (RFC 2865 §4.3).
        AccessReject = 3,
        /// Accounting-Request (RFC 2866 §4.1).
        AccountingRequest = 4,
        /// Accounting-Response (RFC 2866 §4.2).
        AccountingResponse = 5,
        /// Access-Challenge (RFC 2865 §4.4).
        AccessChallenge = 11,
        /// Status-Server (RFC 5997).
        StatusServer = 12,
        /// Status-Client (RFC 2865 §3, reserved).
        StatusClient = 13,
        /// Disconnect-Request (RFC 5176 §2.1).
        DisconnectRequest = 40,
        /// Disconnect-ACK (RFC 5176 §2.1).
        DisconnectAck = 41,
        /// Disconnect-NAK (RFC 5176 §2.1).
        DisconnectNak = 42,
        /// CoA-Request (RFC 5176 §2.2).
        CoaRequest = 43,
        /// CoA-ACK (RFC 5176 §2.2).
        CoaAck = 44,
        /// CoA-NAK (RFC 5176 §2.2).
        CoaNak = 45,
    }
}

/// How the Authenticator field of a packet is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticatorKind {
    /// Access-Request / Status-Server: an unpredictable value chosen by the
    /// sender (RFC 2865 §3 "Request Authenticator").
    Random,
    /// Accounting-Request, CoA-Request, Disconnect-Request:
    /// `MD5(Code + Identifier + Length + 16 zero octets + Attributes +
    /// Secret)` (RFC 2866 §3, RFC 5176 §2.3).
    RequestHash,
    /// Every reply: `MD5(Code + Identifier + Length + Request Authenticator
    /// + Attributes + Secret)` (RFC 2865 §3 "Response Authenticator").
    Response,
}

impl Code {
    /// How this code's Authenticator field is formed; `None` for codes this
    /// implementation does not know (their authenticator cannot be checked).
    #[must_use]
    pub const fn authenticator_kind(self) -> Option<AuthenticatorKind> {
        match self {
            Self::AccessRequest | Self::StatusServer => Some(AuthenticatorKind::Random),
            Self::AccountingRequest | Self::CoaRequest | Self::DisconnectRequest => {
                Some(AuthenticatorKind::RequestHash)
            }
            Self::AccessAccept
            | Self::AccessReject
            | Self::AccessChallenge
            | Self::AccountingResponse
            | Self::DisconnectAck
            | Self::DisconnectNak
            | Self::CoaAck
            | Self::CoaNak => Some(AuthenticatorKind::Response),
            Self::StatusClient | Self::Unknown(_) => None,
        }
    }

    /// True for the codes a server sends in reply to a request.
    #[must_use]
    pub const fn is_response(self) -> bool {
        matches!(self.authenticator_kind(), Some(AuthenticatorKind::Response))
    }
}

/// Attribute type numbers used by tunnelnas, taken from the `radius` crate's
/// generated constants where it has them.
pub mod attr {
    use radius::core::{rfc2865, rfc2866, rfc2867, rfc2868, rfc2869, rfc3162, rfc3576};

    /// User-Name (RFC 2865 §5.1).
    pub const USER_NAME: u8 = rfc2865::USER_NAME_TYPE;
    /// User-Password (RFC 2865 §5.2).
    pub const USER_PASSWORD: u8 = rfc2865::USER_PASSWORD_TYPE;
    /// CHAP-Password (RFC 2865 §5.3).
    pub const CHAP_PASSWORD: u8 = rfc2865::CHAP_PASSWORD_TYPE;
    /// NAS-IP-Address (RFC 2865 §5.4).
    pub const NAS_IP_ADDRESS: u8 = rfc2865::NAS_IP_ADDRESS_TYPE;
    /// NAS-Port (RFC 2865 §5.5).
    pub const NAS_PORT: u8 = rfc2865::NAS_PORT_TYPE;
    /// Service-Type (RFC 2865 §5.6).
    pub const SERVICE_TYPE: u8 = rfc2865::SERVICE_TYPE_TYPE;
    /// Framed-Protocol (RFC 2865 §5.7).
    pub const FRAMED_PROTOCOL: u8 = rfc2865::FRAMED_PROTOCOL_TYPE;
    /// Framed-IP-Address (RFC 2865 §5.8).
    pub const FRAMED_IP_ADDRESS: u8 = rfc2865::FRAMED_IP_ADDRESS_TYPE;
    /// Reply-Message (RFC 2865 §5.18).
    pub const REPLY_MESSAGE: u8 = rfc2865::REPLY_MESSAGE_TYPE;
    /// State (RFC 2865 §5.24).
    pub const STATE: u8 = rfc2865::STATE_TYPE;
    /// Class (RFC 2865 §5.25).
    pub const CLASS: u8 = rfc2865::CLASS_TYPE;
    /// Vendor-Specific (RFC 2865 §5.26).
    pub const VENDOR_SPECIFIC: u8 = rfc2865::VENDOR_SPECIFIC_TYPE;
    /// Session-Timeout (RFC 2865 §5.27).
    pub const SESSION_TIMEOUT: u8 = rfc2865::SESSION_TIMEOUT_TYPE;
    /// Calling-Station-Id (RFC 2865 §5.31).
    pub const CALLING_STATION_ID: u8 = rfc2865::CALLING_STATION_ID_TYPE;
    /// NAS-Identifier (RFC 2865 §5.32).
    pub const NAS_IDENTIFIER: u8 = rfc2865::NAS_IDENTIFIER_TYPE;
    /// Proxy-State (RFC 2865 §5.33).
    pub const PROXY_STATE: u8 = rfc2865::PROXY_STATE_TYPE;
    /// CHAP-Challenge (RFC 2865 §5.40).
    pub const CHAP_CHALLENGE: u8 = rfc2865::CHAP_CHALLENGE_TYPE;
    /// NAS-Port-Type (RFC 2865 §5.41).
    pub const NAS_PORT_TYPE: u8 = rfc2865::NAS_PORT_TYPE_TYPE;
    /// Acct-Status-Type (RFC 2866 §5.1).
    pub const ACCT_STATUS_TYPE: u8 = rfc2866::ACCT_STATUS_TYPE_TYPE;
    /// Acct-Session-Id (RFC 2866 §5.5).
    pub const ACCT_SESSION_ID: u8 = rfc2866::ACCT_SESSION_ID_TYPE;
    /// Acct-Terminate-Cause (RFC 2866 §5.10).
    pub const ACCT_TERMINATE_CAUSE: u8 = rfc2866::ACCT_TERMINATE_CAUSE_TYPE;
    /// Acct-Tunnel-Connection (RFC 2867 §4.1).
    pub const ACCT_TUNNEL_CONNECTION: u8 = rfc2867::ACCT_TUNNEL_CONNECTION_TYPE;
    /// Tunnel-Type (RFC 2868 §3.1).
    pub const TUNNEL_TYPE: u8 = rfc2868::TUNNEL_TYPE_TYPE;
    /// Tunnel-Medium-Type (RFC 2868 §3.2).
    pub const TUNNEL_MEDIUM_TYPE: u8 = rfc2868::TUNNEL_MEDIUM_TYPE_TYPE;
    /// Tunnel-Client-Endpoint (RFC 2868 §3.3).
    pub const TUNNEL_CLIENT_ENDPOINT: u8 = rfc2868::TUNNEL_CLIENT_ENDPOINT_TYPE;
    /// Tunnel-Server-Endpoint (RFC 2868 §3.4).
    pub const TUNNEL_SERVER_ENDPOINT: u8 = rfc2868::TUNNEL_SERVER_ENDPOINT_TYPE;
    /// Tunnel-Password (RFC 2868 §3.5).
    pub const TUNNEL_PASSWORD: u8 = rfc2868::TUNNEL_PASSWORD_TYPE;
    /// Tunnel-Private-Group-ID (RFC 2868 §3.6).
    pub const TUNNEL_PRIVATE_GROUP_ID: u8 = rfc2868::TUNNEL_PRIVATE_GROUP_ID_TYPE;
    /// Tunnel-Assignment-ID (RFC 2868 §3.7).
    pub const TUNNEL_ASSIGNMENT_ID: u8 = rfc2868::TUNNEL_ASSIGNMENT_ID_TYPE;
    /// Tunnel-Preference (RFC 2868 §3.8).
    pub const TUNNEL_PREFERENCE: u8 = rfc2868::TUNNEL_PREFERENCE_TYPE;
    /// Tunnel-Client-Auth-ID (RFC 2868 §3.9).
    pub const TUNNEL_CLIENT_AUTH_ID: u8 = rfc2868::TUNNEL_CLIENT_AUTH_ID_TYPE;
    /// Tunnel-Server-Auth-ID (RFC 2868 §3.10).
    pub const TUNNEL_SERVER_AUTH_ID: u8 = rfc2868::TUNNEL_SERVER_AUTH_ID_TYPE;
    /// EAP-Message (RFC 3579 §3.1).
    pub const EAP_MESSAGE: u8 = rfc2869::EAP_MESSAGE_TYPE;
    /// Message-Authenticator (RFC 3579 §3.2, RFC 2869 §5.14).
    pub const MESSAGE_AUTHENTICATOR: u8 = rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
    /// NAS-Port-Id (RFC 2869 §5.17).
    pub const NAS_PORT_ID: u8 = rfc2869::NAS_PORT_ID_TYPE;
    /// Framed-Interface-Id (RFC 3162 §2.2).
    pub const FRAMED_INTERFACE_ID: u8 = rfc3162::FRAMED_INTERFACE_ID_TYPE;
    /// Framed-IPv6-Prefix (RFC 3162 §2.3).
    pub const FRAMED_IPV6_PREFIX: u8 = rfc3162::FRAMED_IPV6_PREFIX_TYPE;
    /// Error-Cause (RFC 5176 §3.6).
    pub const ERROR_CAUSE: u8 = rfc3576::ERROR_CAUSE_TYPE;
}

/// Vendor ids and vendor attribute types used by tunnelnas.
pub mod vendor {
    /// Microsoft (RFC 2548).
    pub const MICROSOFT: u32 = 311;
    /// MS-MPPE-Send-Key (RFC 2548 §2.4.2), salted like Tunnel-Password.
    pub const MS_MPPE_SEND_KEY: u8 = 16;
    /// MS-MPPE-Recv-Key (RFC 2548 §2.4.3), salted like Tunnel-Password.
    pub const MS_MPPE_RECV_KEY: u8 = 17;
    /// MS-CHAP2-Success (RFC 2548 §2.3.3).
    pub const MS_CHAP2_SUCCESS: u8 = 26;
    /// DSL Forum (RFC 4679).
    pub const DSL_FORUM: u32 = 3561;
    /// Agent-Circuit-Id (RFC 4679 §4.1).
    pub const AGENT_CIRCUIT_ID: u8 = 1;
    /// Agent-Remote-Id (RFC 4679 §4.2).
    pub const AGENT_REMOTE_ID: u8 = 2;
    /// Cisco Systems.
    pub const CISCO: u32 = 9;
    /// Cisco-AVPair.
    pub const CISCO_AVPAIR: u8 = 1;
    /// tunnelnas — RFC 5612's documentation number until one is registered.
    pub const TUNNELNAS: u32 = 32473;
}

// ---------------------------------------------------------------------------
// Packet view
// ---------------------------------------------------------------------------

/// A zero-copy view of a RADIUS packet (RFC 2865 §3).
///
/// [`Packet::new_checked`] validates the header and the attribute chain, so
/// afterwards no accessor panics and [`Packet::attributes`] yields no error.
/// Octets past the Length field are ignored (RFC 2865 §3: "Octets outside the
/// range of the Length field MUST be treated as padding and ignored on
/// reception").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic until
    /// [`Packet::check_len`] succeeds.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and validates header, Length and every attribute.
    ///
    /// # Errors
    /// [`Error::Truncated`] when the buffer is shorter than 20 octets or than
    /// the Length field; [`Error::Malformed`] for a Length outside 20..=4096
    /// or an attribute whose length is below 2 or runs past the packet.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validates what [`Packet::new_checked`] validates.
    ///
    /// # Errors
    /// See [`Packet::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        ensure_len("RADIUS header", buf, HEADER_LEN)?;
        let length = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        // RFC 2865 §3: "The minimum length is 20 and maximum length is 4096."
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) {
            return Err(Error::Malformed("RADIUS Length field outside 20..=4096"));
        }
        // RFC 2865 §3: "If the packet is shorter than the Length field
        // indicates, it MUST be silently discarded."
        ensure_len("RADIUS packet (Length field)", buf, length)?;
        for attribute in AttributeIter::new(&buf[HEADER_LEN..length]) {
            attribute?;
        }
        Ok(())
    }

    /// Consumes the view and returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Code field.
    #[must_use]
    pub fn code(&self) -> Code {
        Code::from(self.buffer.as_ref()[0])
    }

    /// The Identifier field.
    #[must_use]
    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The Length field (20..=4096 after a successful check).
    #[must_use]
    pub fn length(&self) -> u16 {
        let buf = self.buffer.as_ref();
        u16::from_be_bytes([buf[2], buf[3]])
    }

    /// The Authenticator field.
    #[must_use]
    pub fn authenticator(&self) -> Authenticator {
        let mut out = [0; AUTHENTICATOR_LEN];
        out.copy_from_slice(&self.buffer.as_ref()[4..HEADER_LEN]);
        out
    }

    /// The packet octets covered by the Length field.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.length())]
    }

    /// The attribute octets (after the header, within Length).
    #[must_use]
    pub fn attribute_bytes(&self) -> &[u8] {
        &self.as_bytes()[HEADER_LEN..]
    }

    /// Iterates the attributes in order. Each item is checked: a length
    /// below 2 or past the packet yields one error and ends the iteration.
    #[must_use]
    pub fn attributes(&self) -> AttributeIter<'_> {
        AttributeIter::new(self.attribute_bytes())
    }

    /// The first attribute of type `ty`, if any (skips nothing: stops at the
    /// first malformed attribute, which a checked packet has not).
    #[must_use]
    pub fn attribute(&self, ty: u8) -> Option<Attribute<'_>> {
        self.attributes()
            .map_while(core::result::Result::ok)
            .find(|a| a.ty() == ty)
    }

    /// Every Vendor-Specific attribute of `vendor_id`, decoded.
    pub fn vendor_attributes(&self, vendor_id: u32) -> impl Iterator<Item = VendorSpecific<'_>> {
        self.attributes()
            .map_while(core::result::Result::ok)
            .filter(|a| a.ty() == attr::VENDOR_SPECIFIC)
            .filter_map(|a| VendorSpecific::parse(a.value()).ok())
            .filter(move |v| v.vendor_id() == vendor_id)
    }

    // -- authenticators ----------------------------------------------------

    /// RFC 2865 §3: `ResponseAuth = MD5(Code + ID + Length + RequestAuth +
    /// Attributes + Secret)`, computed over this packet as it stands.
    #[must_use]
    pub fn compute_response_authenticator(
        &self,
        request_authenticator: &Authenticator,
        secret: &[u8],
    ) -> Authenticator {
        let bytes = self.as_bytes();
        md5_parts(&[
            &bytes[..4],
            request_authenticator,
            &bytes[HEADER_LEN..],
            secret,
        ])
    }

    /// RFC 2866 §3 / RFC 5176 §2.3: `RequestAuth = MD5(Code + Identifier +
    /// Length + 16 zero octets + Attributes + Secret)`.
    #[must_use]
    pub fn compute_request_authenticator(&self, secret: &[u8]) -> Authenticator {
        let bytes = self.as_bytes();
        md5_parts(&[
            &bytes[..4],
            &[0; AUTHENTICATOR_LEN],
            &bytes[HEADER_LEN..],
            secret,
        ])
    }

    /// Constant-time check of a Response Authenticator (RFC 2865 §3).
    #[must_use]
    pub fn verify_response_authenticator(
        &self,
        request_authenticator: &Authenticator,
        secret: &[u8],
    ) -> bool {
        ct_eq(
            &self.compute_response_authenticator(request_authenticator, secret),
            &self.authenticator(),
        )
    }

    /// Constant-time check of an Accounting / CoA / Disconnect Request
    /// Authenticator (RFC 2866 §3, RFC 5176 §2.3).
    #[must_use]
    pub fn verify_request_authenticator(&self, secret: &[u8]) -> bool {
        ct_eq(
            &self.compute_request_authenticator(secret),
            &self.authenticator(),
        )
    }

    /// Offset (from the packet start) of the value of the one
    /// Message-Authenticator attribute, or `None` when there is none.
    ///
    /// # Errors
    /// [`AuthError::MessageAuthenticatorLength`] when its Length is not 18,
    /// [`AuthError::DuplicateMessageAuthenticator`] when there are two,
    /// [`AuthError::Wire`] for a malformed attribute chain.
    pub fn message_authenticator_offset(&self) -> core::result::Result<Option<usize>, AuthError> {
        let mut found = None;
        for attribute in self.attributes() {
            let attribute = attribute?;
            if attribute.ty() != attr::MESSAGE_AUTHENTICATOR {
                continue;
            }
            // RFC 3579 §3.2: "Length 18".
            if attribute.value().len() != MESSAGE_AUTHENTICATOR_LEN {
                return Err(AuthError::MessageAuthenticatorLength(
                    attribute.value().len() + 2,
                ));
            }
            if found.is_some() {
                return Err(AuthError::DuplicateMessageAuthenticator);
            }
            found = Some(HEADER_LEN + attribute.offset() + 2);
        }
        Ok(found)
    }

    /// HMAC-MD5 over this packet with the Message-Authenticator value at
    /// `ma_offset` taken as 16 zero octets and the Authenticator field taken
    /// as `authenticator_field` (RFC 3579 §3.2).
    fn hmac_over(
        &self,
        ma_offset: usize,
        authenticator_field: &Authenticator,
        secret: &[u8],
    ) -> Authenticator {
        let bytes = self.as_bytes();
        let mut mac = HmacMd5::new(secret);
        mac.update(&bytes[..4]);
        mac.update(authenticator_field);
        mac.update(&bytes[HEADER_LEN..ma_offset]);
        mac.update(&[0; MESSAGE_AUTHENTICATOR_LEN]);
        mac.update(&bytes[ma_offset + MESSAGE_AUTHENTICATOR_LEN..]);
        mac.finalize()
    }

    /// Checks a received request: the Request Authenticator for
    /// Accounting / CoA / Disconnect requests, and the Message-Authenticator
    /// whenever one is present.
    ///
    /// Returns whether a Message-Authenticator was present and valid, so the
    /// caller can enforce a "require Message-Authenticator" policy (RFC 5997
    /// §3 for Status-Server, RFC 3579 §3.2 for EAP).
    ///
    /// # Errors
    /// An [`AuthError`] naming the check that failed.
    pub fn verify_request(&self, secret: &[u8]) -> core::result::Result<Verified, AuthError> {
        let code = self.code();
        let ma_offset = self.message_authenticator_offset()?;
        match code.authenticator_kind() {
            Some(AuthenticatorKind::Random) => {
                if let Some(offset) = ma_offset {
                    // RFC 3579 §3.2: "For Access-Request packets, the
                    // Message-Authenticator is calculated using the Request
                    // Authenticator."
                    let mac = self.hmac_over(offset, &self.authenticator(), secret);
                    if !ct_eq(&mac, &self.value_at(offset)) {
                        return Err(AuthError::MessageAuthenticator);
                    }
                }
            }
            Some(AuthenticatorKind::RequestHash) => {
                // RFC 2866 §3 / RFC 5176 §2.3; the MA (when present) is part
                // of the attributes covered by the hash.
                if !self.verify_request_authenticator(secret) {
                    return Err(AuthError::RequestAuthenticator);
                }
                if let Some(offset) = ma_offset {
                    // RFC 5176 §3.5: computed over the packet with the
                    // Request Authenticator field zeroed.
                    let mac = self.hmac_over(offset, &[0; AUTHENTICATOR_LEN], secret);
                    if !ct_eq(&mac, &self.value_at(offset)) {
                        return Err(AuthError::MessageAuthenticator);
                    }
                }
            }
            Some(AuthenticatorKind::Response) | None => {
                return Err(AuthError::NotARequest(code.into()));
            }
        }
        Ok(Verified {
            message_authenticator: ma_offset.is_some(),
        })
    }

    /// Checks a received response against the Request Authenticator of the
    /// request it answers: the Response Authenticator (RFC 2865 §3; RFC 2866
    /// §3; RFC 5176 §2.3) and, when present, the Message-Authenticator
    /// (RFC 3579 §3.2: "computed using the Request Authenticator from the
    /// Access-Request this packet is in reply to").
    ///
    /// RFC 2869 §5.14: a client receiving a response whose
    /// Message-Authenticator does not match "MUST silently discard" it — the
    /// caller drops on any `Err`.
    ///
    /// # Errors
    /// An [`AuthError`] naming the check that failed.
    pub fn verify_response(
        &self,
        request_authenticator: &Authenticator,
        secret: &[u8],
    ) -> core::result::Result<Verified, AuthError> {
        let code = self.code();
        if !code.is_response() {
            return Err(AuthError::NotAResponse(code.into()));
        }
        if !self.verify_response_authenticator(request_authenticator, secret) {
            return Err(AuthError::ResponseAuthenticator);
        }
        let ma_offset = self.message_authenticator_offset()?;
        if let Some(offset) = ma_offset {
            let received = self.value_at(offset);
            let rfc_form = self.hmac_over(offset, request_authenticator, secret);
            let ok = ct_eq(&rfc_form, &received)
                || (matches!(
                    code,
                    Code::AccountingResponse
                        | Code::CoaAck
                        | Code::CoaNak
                        | Code::DisconnectAck
                        | Code::DisconnectNak
                ) && ct_eq(
                    // FreeRADIUS 3.2.1 server form (see module docs).
                    &self.hmac_over(offset, &[0; AUTHENTICATOR_LEN], secret),
                    &received,
                ));
            if !ok {
                return Err(AuthError::MessageAuthenticator);
            }
        }
        Ok(Verified {
            message_authenticator: ma_offset.is_some(),
        })
    }

    fn value_at(&self, offset: usize) -> Authenticator {
        let mut out = [0; AUTHENTICATOR_LEN];
        out.copy_from_slice(&self.as_bytes()[offset..offset + AUTHENTICATOR_LEN]);
        out
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Code field.
    pub fn set_code(&mut self, code: Code) {
        self.buffer.as_mut()[0] = code.into();
    }

    /// Sets the Identifier field.
    pub fn set_identifier(&mut self, identifier: u8) {
        self.buffer.as_mut()[1] = identifier;
    }

    /// Sets the Length field.
    pub fn set_length(&mut self, length: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&length.to_be_bytes());
    }

    /// Sets the Authenticator field.
    pub fn set_authenticator(&mut self, authenticator: &Authenticator) {
        self.buffer.as_mut()[4..HEADER_LEN].copy_from_slice(authenticator);
    }

    /// Signs a packet in place: first the Message-Authenticator, when the
    /// packet carries one (any value; it is recomputed), then the
    /// Authenticator field. RFC 3579 §3.2: "The Message-Authenticator is
    /// calculated and inserted in the packet before the Response
    /// Authenticator is calculated."
    ///
    /// * Access-Request / Status-Server: the Authenticator field must already
    ///   hold the random Request Authenticator; only the MA is computed.
    /// * Accounting / CoA / Disconnect requests: MA over the packet with a
    ///   zeroed Authenticator field (RFC 5176 §3.5), then the Request
    ///   Authenticator (RFC 2866 §3).
    /// * Responses: `request_authenticator` (of the request being answered)
    ///   is required; MA with it in place of the Authenticator field, then
    ///   the Response Authenticator (RFC 2865 §3).
    ///
    /// # Errors
    /// [`AuthError::MissingRequestAuthenticator`] for a response without
    /// `request_authenticator`, [`AuthError::UnknownCode`] for a code whose
    /// authenticator is not defined, and the errors of
    /// [`Packet::message_authenticator_offset`].
    pub fn sign(
        &mut self,
        secret: &[u8],
        request_authenticator: Option<&Authenticator>,
    ) -> core::result::Result<(), AuthError> {
        self.check_len()?;
        let code = self.code();
        let kind = code
            .authenticator_kind()
            .ok_or(AuthError::UnknownCode(code.into()))?;
        let ma_offset = self.message_authenticator_offset()?;
        match kind {
            AuthenticatorKind::Random => {
                if let Some(offset) = ma_offset {
                    let mac = self.hmac_over(offset, &self.authenticator(), secret);
                    self.write_at(offset, &mac);
                }
            }
            AuthenticatorKind::RequestHash => {
                if let Some(offset) = ma_offset {
                    let mac = self.hmac_over(offset, &[0; AUTHENTICATOR_LEN], secret);
                    self.write_at(offset, &mac);
                }
                let auth = self.compute_request_authenticator(secret);
                self.set_authenticator(&auth);
            }
            AuthenticatorKind::Response => {
                let request =
                    request_authenticator.ok_or(AuthError::MissingRequestAuthenticator)?;
                if let Some(offset) = ma_offset {
                    let mac = self.hmac_over(offset, request, secret);
                    self.write_at(offset, &mac);
                }
                let auth = self.compute_response_authenticator(request, secret);
                self.set_authenticator(&auth);
            }
        }
        Ok(())
    }

    fn write_at(&mut self, offset: usize, value: &Authenticator) {
        self.buffer.as_mut()[offset..offset + AUTHENTICATOR_LEN].copy_from_slice(value);
    }
}

/// Outcome of a successful [`Packet::verify_request`] /
/// [`Packet::verify_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// A Message-Authenticator was present and matched.
    pub message_authenticator: bool,
}

/// Why a packet's authenticators could not be verified or computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The Response Authenticator does not match (wrong secret, or not a
    /// reply to that request).
    #[error("Response Authenticator does not match")]
    ResponseAuthenticator,
    /// The Accounting / CoA / Disconnect Request Authenticator does not
    /// match.
    #[error("Request Authenticator does not match")]
    RequestAuthenticator,
    /// The Message-Authenticator does not match.
    #[error("Message-Authenticator does not match")]
    MessageAuthenticator,
    /// A Message-Authenticator attribute whose Length is not 18.
    #[error("Message-Authenticator attribute length {0}, must be 18")]
    MessageAuthenticatorLength(usize),
    /// More than one Message-Authenticator in one packet.
    #[error("more than one Message-Authenticator attribute")]
    DuplicateMessageAuthenticator,
    /// Signing a response needs the Request Authenticator of the request.
    #[error("signing a response needs the request's authenticator")]
    MissingRequestAuthenticator,
    /// The code's authenticator is not defined.
    #[error("packet code {0} has no defined authenticator")]
    UnknownCode(u8),
    /// [`Packet::verify_request`] was given a response (or unknown code).
    #[error("packet code {0} is not a request")]
    NotARequest(u8),
    /// [`Packet::verify_response`] was given a request (or unknown code).
    #[error("packet code {0} is not a response")]
    NotAResponse(u8),
    /// The packet itself is malformed.
    #[error(transparent)]
    Wire(#[from] Error),
}

// ---------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------

/// One attribute (RFC 2865 §5): type and value octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    ty: u8,
    value: &'a [u8],
    offset: usize,
}

impl<'a> Attribute<'a> {
    /// The Type field.
    #[must_use]
    pub const fn ty(&self) -> u8 {
        self.ty
    }

    /// The value octets (Length − 2 of them).
    #[must_use]
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Offset of the attribute's Type octet from the start of the attribute
    /// area (the octet after the header).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The value as an RFC 2865 §5 "integer" (32-bit big-endian).
    ///
    /// # Errors
    /// [`Error::Malformed`] unless the value is exactly 4 octets.
    pub fn as_u32(&self) -> Result<u32> {
        match *self.value {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(Error::Malformed("RADIUS integer attribute is not 4 octets")),
        }
    }

    /// The value as an RFC 2865 §5 "address" (IPv4).
    ///
    /// # Errors
    /// [`Error::Malformed`] unless the value is exactly 4 octets.
    pub fn as_ipv4(&self) -> Result<Ipv4Addr> {
        self.as_u32().map(Ipv4Addr::from)
    }
}

/// Checked iterator over an attribute area; see [`Packet::attributes`].
#[derive(Debug, Clone)]
pub struct AttributeIter<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> AttributeIter<'a> {
    /// Iterates attributes in `area` (the octets after a RADIUS header, or a
    /// Vendor-Specific body in the standard format).
    #[must_use]
    pub const fn new(area: &'a [u8]) -> Self {
        Self {
            rest: area,
            offset: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Result<Attribute<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = match *self.rest {
            [_] => Err(Error::Truncated {
                what: "RADIUS attribute header",
                need: 2,
                have: 1,
            }),
            [ty, len, ..] => {
                let len = usize::from(len);
                if len < 2 {
                    // RFC 2865 §5: the Length "indicates the length of this
                    // Attribute including the Type, Length and Value fields";
                    // below 2 the walk cannot advance.
                    Err(Error::Malformed("RADIUS attribute length below 2"))
                } else if len > self.rest.len() {
                    Err(Error::Truncated {
                        what: "RADIUS attribute (length runs past the packet)",
                        need: len,
                        have: self.rest.len(),
                    })
                } else {
                    let attribute = Attribute {
                        ty,
                        value: &self.rest[2..len],
                        offset: self.offset,
                    };
                    self.rest = &self.rest[len..];
                    self.offset += len;
                    Ok(attribute)
                }
            }
            [] => return None,
        };
        if item.is_err() {
            self.failed = true;
        }
        Some(item)
    }
}

// ---------------------------------------------------------------------------
// Owned representation
// ---------------------------------------------------------------------------

/// An owned attribute (type + value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeRepr {
    /// The Type field.
    pub ty: u8,
    /// The value octets (at most [`MAX_VALUE_LEN`]).
    pub value: Vec<u8>,
}

/// An owned, validated RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRepr {
    /// The Code field.
    pub code: Code,
    /// The Identifier field.
    pub identifier: u8,
    /// The Authenticator field, as received or to be emitted (see
    /// [`Packet::sign`] to compute it).
    pub authenticator: Authenticator,
    /// Attributes in wire order.
    pub attributes: Vec<AttributeRepr>,
}

impl PacketRepr {
    /// Copies a checked packet.
    ///
    /// # Errors
    /// Any attribute-chain error (none for a packet from `new_checked`).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        let attributes = packet
            .attributes()
            .map(|a| {
                a.map(|a| AttributeRepr {
                    ty: a.ty(),
                    value: a.value().to_vec(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            code: packet.code(),
            identifier: packet.identifier(),
            authenticator: packet.authenticator(),
            attributes,
        })
    }

    /// Octets [`PacketRepr::emit`] writes.
    #[must_use]
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self
                .attributes
                .iter()
                .map(|a| 2 + a.value.len())
                .sum::<usize>()
    }

    /// Writes the packet into `buf`, returning its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`], or [`Error::Malformed`] when a value
    /// exceeds 253 octets or the packet 4096.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut builder = PacketBuilder::new(buf, self.code, self.identifier, &self.authenticator)?;
        for attribute in &self.attributes {
            builder.push(attribute.ty, &attribute.value)?;
        }
        Ok(builder.finish())
    }
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

/// Writes a RADIUS packet attribute by attribute into a caller-owned buffer
/// (no allocation), then [`PacketBuilder::finish`] sets the Length or
/// [`PacketBuilder::finish_signed`] also signs it.
#[derive(Debug)]
pub struct PacketBuilder<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> PacketBuilder<'a> {
    /// Starts a packet. For Access-Request / Status-Server, `authenticator`
    /// is the random Request Authenticator (RFC 2865 §3: "SHOULD exhibit
    /// global and temporal uniqueness"; the caller draws it); for other
    /// codes it is a placeholder that signing overwrites.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `buf` cannot hold a header.
    pub fn new(
        buf: &'a mut [u8],
        code: Code,
        identifier: u8,
        authenticator: &Authenticator,
    ) -> Result<Self> {
        ensure_room(buf, HEADER_LEN)?;
        buf[0] = code.into();
        buf[1] = identifier;
        buf[2..4].copy_from_slice(&(HEADER_LEN as u16).to_be_bytes());
        buf[4..HEADER_LEN].copy_from_slice(authenticator);
        Ok(Self {
            buf,
            len: HEADER_LEN,
        })
    }

    /// Octets written so far.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always false: a packet has at least its header.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The Request Authenticator this packet was started with (for
    /// User-Password / Tunnel-Password hiding in an Access-Request).
    #[must_use]
    pub fn authenticator(&self) -> Authenticator {
        let mut out = [0; AUTHENTICATOR_LEN];
        out.copy_from_slice(&self.buf[4..HEADER_LEN]);
        out
    }

    /// Reserves room for one attribute with a `value_len`-octet value and
    /// returns the value slice to fill.
    fn reserve(&mut self, ty: u8, value_len: usize) -> Result<&mut [u8]> {
        if value_len > MAX_VALUE_LEN {
            return Err(Error::Malformed(
                "RADIUS attribute value longer than 253 octets",
            ));
        }
        let end = self.len + 2 + value_len;
        if end > MAX_PACKET_LEN {
            return Err(Error::Malformed("RADIUS packet longer than 4096 octets"));
        }
        ensure_room(self.buf, end)?;
        self.buf[self.len] = ty;
        self.buf[self.len + 1] = (2 + value_len) as u8;
        let start = self.len + 2;
        self.len = end;
        Ok(&mut self.buf[start..end])
    }

    /// Appends an attribute with raw value octets.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a value over 253 octets or a packet over
    /// 4096; [`Error::BufferTooSmall`] when `buf` is full.
    pub fn push(&mut self, ty: u8, value: &[u8]) -> Result<()> {
        self.reserve(ty, value.len())?.copy_from_slice(value);
        Ok(())
    }

    /// Appends an RFC 2865 "integer" attribute.
    ///
    /// # Errors
    /// As [`PacketBuilder::push`].
    pub fn push_u32(&mut self, ty: u8, value: u32) -> Result<()> {
        self.push(ty, &value.to_be_bytes())
    }

    /// Appends an RFC 2865 "address" attribute.
    ///
    /// # Errors
    /// As [`PacketBuilder::push`].
    pub fn push_ipv4(&mut self, ty: u8, value: Ipv4Addr) -> Result<()> {
        self.push(ty, &value.octets())
    }

    /// Appends a Message-Authenticator placeholder (16 zero octets) that
    /// [`PacketBuilder::finish_signed`] fills. RFC 5080 §2.2.2 and the
    /// BlastRADIUS advisories recommend placing it first.
    ///
    /// # Errors
    /// As [`PacketBuilder::push`].
    pub fn push_message_authenticator(&mut self) -> Result<()> {
        self.push(attr::MESSAGE_AUTHENTICATOR, &[0; MESSAGE_AUTHENTICATOR_LEN])
    }

    /// Appends User-Password hidden per RFC 2865 §5.2 with this packet's
    /// Request Authenticator.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a password over 128 octets, else as
    /// [`PacketBuilder::push`].
    pub fn push_user_password(&mut self, password: &[u8], secret: &[u8]) -> Result<()> {
        let request = self.authenticator();
        let len = user_password_hidden_len(password.len())?;
        let value = self.reserve(attr::USER_PASSWORD, len)?;
        hide_user_password(password, secret, &request, value)?;
        Ok(())
    }

    /// Appends an RFC 2868 tunnel attribute with its tag (see
    /// [`TunnelValue::emit`]).
    ///
    /// # Errors
    /// As [`TunnelValue::emit`] and [`PacketBuilder::push`].
    pub fn push_tunnel(&mut self, tag: u8, value: &TunnelValue<'_>) -> Result<()> {
        let mut scratch = [0; MAX_VALUE_LEN];
        let len = value.emit(tag, &mut scratch)?;
        self.push(value.attribute_type(), &scratch[..len])
    }

    /// Appends Tunnel-Password (RFC 2868 §3.5) hidden with `salt` and the
    /// Request Authenticator of the Access-Request (in a reply) — pass that
    /// request's authenticator as `request_authenticator`.
    ///
    /// # Errors
    /// As [`encrypt_salted`] and [`PacketBuilder::push`].
    pub fn push_tunnel_password(
        &mut self,
        tag: u8,
        password: &[u8],
        salt: [u8; 2],
        secret: &[u8],
        request_authenticator: &Authenticator,
    ) -> Result<()> {
        check_tag(tag)?;
        let mut scratch = [0; MAX_VALUE_LEN];
        scratch[0] = tag;
        let len = encrypt_salted(
            password,
            salt,
            secret,
            request_authenticator,
            &mut scratch[1..],
        )?;
        self.push(attr::TUNNEL_PASSWORD, &scratch[..1 + len])
    }

    /// Appends one Vendor-Specific attribute (RFC 2865 §5.26) holding the
    /// given sub-attributes in the standard 1-octet type / 1-octet length
    /// format.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the sub-attributes do not fit one attribute
    /// or a vendor id is above 2^24 − 1 (RFC 2865 §5.26: "The high-order
    /// octet is 0"), else as [`PacketBuilder::push`].
    pub fn push_vendor_specific(&mut self, vendor_id: u32, subs: &[(u8, &[u8])]) -> Result<()> {
        // Validate everything before reserving, so a failed push leaves the
        // packet as it was.
        if subs.is_empty() {
            return Err(Error::Malformed(
                "Vendor-Specific without data (RFC 2865 §5.26: Length >= 7)",
            ));
        }
        let mut header = [0; 4];
        write_vendor_header(vendor_id, &mut header)?;
        // A total within 253 octets also bounds every sub-attribute (and so
        // its one-octet length field).
        let body_len: usize = subs.iter().map(|(_, v)| 2 + v.len()).sum();
        let value = self.reserve(attr::VENDOR_SPECIFIC, 4 + body_len)?;
        value[..4].copy_from_slice(&header);
        let mut at = 4;
        for (ty, sub) in subs {
            value[at] = *ty;
            value[at + 1] = (2 + sub.len()) as u8;
            value[at + 2..at + 2 + sub.len()].copy_from_slice(sub);
            at += 2 + sub.len();
        }
        Ok(())
    }

    /// Appends one vendor sub-attribute in its own Vendor-Specific attribute
    /// (one sub-attribute per VSA, as RFC 2865 §5.26 recommends writers do).
    ///
    /// # Errors
    /// As [`PacketBuilder::push_vendor_specific`].
    pub fn push_vendor_attribute(
        &mut self,
        vendor_id: u32,
        vendor_type: u8,
        value: &[u8],
    ) -> Result<()> {
        self.push_vendor_specific(vendor_id, &[(vendor_type, value)])
    }

    /// Appends a vendor sub-attribute hidden with the salted scheme of
    /// RFC 2548 §2.4.2 (MS-MPPE-Send-Key / Recv-Key): salt + encrypted
    /// (Key-Length + key + padding).
    ///
    /// # Errors
    /// As [`encrypt_salted`] and [`PacketBuilder::push_vendor_specific`].
    pub fn push_vendor_salted(
        &mut self,
        vendor_id: u32,
        vendor_type: u8,
        plaintext: &[u8],
        salt: [u8; 2],
        secret: &[u8],
        request_authenticator: &Authenticator,
    ) -> Result<()> {
        let mut scratch = [0; MAX_VALUE_LEN];
        let len = encrypt_salted(plaintext, salt, secret, request_authenticator, &mut scratch)?;
        self.push_vendor_specific(vendor_id, &[(vendor_type, &scratch[..len])])
    }

    /// Sets the Length field and returns the packet length (unsigned: the
    /// Authenticator is whatever [`PacketBuilder::new`] was given).
    pub fn finish(self) -> usize {
        self.buf[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
        self.len
    }

    /// Sets the Length field, then signs the packet ([`Packet::sign`]):
    /// Message-Authenticator first (if pushed), then the authenticator.
    ///
    /// # Errors
    /// As [`Packet::sign`].
    pub fn finish_signed(
        self,
        secret: &[u8],
        request_authenticator: Option<&Authenticator>,
    ) -> core::result::Result<usize, AuthError> {
        let len = self.len;
        self.buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let mut packet = Packet::new_unchecked(&mut self.buf[..len]);
        packet.sign(secret, request_authenticator)?;
        Ok(len)
    }
}

fn write_vendor_header(vendor_id: u32, out: &mut [u8]) -> Result<()> {
    if vendor_id > 0x00ff_ffff {
        return Err(Error::Malformed(
            "Vendor-Id above 2^24-1 (RFC 2865 §5.26: high-order octet is 0)",
        ));
    }
    out[..4].copy_from_slice(&vendor_id.to_be_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------
// Hiding: User-Password (RFC 2865 §5.2) and salted (RFC 2868 §3.5)
// ---------------------------------------------------------------------------

/// A decrypted hidden value (password, tunnel secret, MPPE key). Its
/// `Debug` form shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext {
    bytes: [u8; 256],
    len: usize,
}

impl Plaintext {
    /// The decrypted octets.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<{} octets>)", self.len)
    }
}

/// Length of the hidden User-Password value for a `password_len`-octet
/// password (padded to 16, at least 16).
///
/// # Errors
/// [`Error::Malformed`] for a password over 128 octets.
pub fn user_password_hidden_len(password_len: usize) -> Result<usize> {
    if password_len > MAX_USER_PASSWORD_LEN {
        return Err(Error::Malformed("User-Password longer than 128 octets"));
    }
    Ok(password_len.div_ceil(AUTHENTICATOR_LEN).max(1) * AUTHENTICATOR_LEN)
}

/// RFC 2865 §5.2: `b1 = MD5(S + RA), c(1) = p1 xor b1; bi = MD5(S + c(i-1))`,
/// the password "padded at the end with nulls to a 16-octet boundary".
/// Writes the hidden value into `out`, returning its length.
///
/// # Errors
/// [`Error::Malformed`] for a password over 128 octets,
/// [`Error::BufferTooSmall`] when `out` is short.
pub fn hide_user_password(
    password: &[u8],
    secret: &[u8],
    request_authenticator: &Authenticator,
    out: &mut [u8],
) -> Result<usize> {
    let len = user_password_hidden_len(password.len())?;
    ensure_room(out, len)?;
    let mut previous = *request_authenticator;
    for (index, block) in out[..len].chunks_exact_mut(AUTHENTICATOR_LEN).enumerate() {
        let key = md5_parts(&[secret, &previous]);
        for (i, byte) in block.iter_mut().enumerate() {
            let p = password
                .get(index * AUTHENTICATOR_LEN + i)
                .copied()
                .unwrap_or(0);
            *byte = p ^ key[i];
        }
        previous.copy_from_slice(block);
    }
    Ok(len)
}

/// Reverses [`hide_user_password`]; trailing NUL padding is removed.
///
/// # Errors
/// [`Error::Malformed`] unless the value is 16..=128 octets and a multiple
/// of 16 (RFC 2865 §5.2).
pub fn unhide_user_password(
    hidden: &[u8],
    secret: &[u8],
    request_authenticator: &Authenticator,
) -> Result<Plaintext> {
    if hidden.is_empty()
        || hidden.len() > MAX_USER_PASSWORD_LEN
        || hidden.len() % AUTHENTICATOR_LEN != 0
    {
        return Err(Error::Malformed(
            "User-Password value must be 16..=128 octets in 16-octet blocks",
        ));
    }
    let mut out = Plaintext {
        bytes: [0; 256],
        len: hidden.len(),
    };
    let mut previous: &[u8] = request_authenticator;
    for (index, block) in hidden.chunks_exact(AUTHENTICATOR_LEN).enumerate() {
        let key = md5_parts(&[secret, previous]);
        for (i, byte) in block.iter().enumerate() {
            out.bytes[index * AUTHENTICATOR_LEN + i] = byte ^ key[i];
        }
        previous = block;
    }
    while out.len > 0 && out.bytes[out.len - 1] == 0 {
        out.len -= 1;
    }
    Ok(out)
}

/// The salted hiding of RFC 2868 §3.5 (Tunnel-Password) and RFC 2548
/// §2.4.2 (MS-MPPE-Send-Key / Recv-Key). Writes `salt || ciphertext` into
/// `out` and returns its length.
///
/// The plaintext P is `Data-Length || data || zero padding to 16`;
/// `b(1) = MD5(S + R + A)`, `c(1) = p(1) xor b(1)`, `b(i) = MD5(S + c(i-1))`,
/// with S the shared secret, R the Request Authenticator of the
/// Access-Request and A the salt. RFC 2868 §3.5: "The most significant bit
/// (leftmost) of the Salt field MUST be set (1). The contents of each Salt
/// field in a given Access-Accept packet MUST be unique." — the caller draws
/// unique salts (sans-IO); this function enforces the high bit.
///
/// # Errors
/// [`Error::Malformed`] for a salt without its high bit or a plaintext over
/// [`MAX_SALTED_PLAINTEXT_LEN`]; [`Error::BufferTooSmall`].
pub fn encrypt_salted(
    plaintext: &[u8],
    salt: [u8; 2],
    secret: &[u8],
    request_authenticator: &Authenticator,
    out: &mut [u8],
) -> Result<usize> {
    if salt[0] & 0x80 == 0 {
        return Err(Error::Malformed(
            "salt: the most significant bit MUST be set (RFC 2868 §3.5)",
        ));
    }
    if plaintext.len() > MAX_SALTED_PLAINTEXT_LEN {
        return Err(Error::Malformed("salted plaintext longer than 239 octets"));
    }
    let cipher_len = (1 + plaintext.len()).div_ceil(AUTHENTICATOR_LEN) * AUTHENTICATOR_LEN;
    ensure_room(out, 2 + cipher_len)?;
    out[..2].copy_from_slice(&salt);
    let stream = |j: usize| -> u8 {
        match j {
            0 => plaintext.len() as u8,
            _ => plaintext.get(j - 1).copied().unwrap_or(0),
        }
    };
    let mut previous = [0; AUTHENTICATOR_LEN];
    for (index, block) in out[2..2 + cipher_len]
        .chunks_exact_mut(AUTHENTICATOR_LEN)
        .enumerate()
    {
        let key = if index == 0 {
            md5_parts(&[secret, request_authenticator, &salt])
        } else {
            md5_parts(&[secret, &previous])
        };
        for (i, byte) in block.iter_mut().enumerate() {
            *byte = stream(index * AUTHENTICATOR_LEN + i) ^ key[i];
        }
        previous.copy_from_slice(block);
    }
    Ok(2 + cipher_len)
}

/// Reverses [`encrypt_salted`]: `value` is `salt || ciphertext` (the
/// Tunnel-Password value after its tag, or the MS-MPPE key value).
///
/// # Errors
/// [`Error::Malformed`] when the ciphertext is not a non-empty multiple of
/// 16 octets (at most 240) or the decrypted Data-Length exceeds the
/// decrypted data.
pub fn decrypt_salted(
    value: &[u8],
    secret: &[u8],
    request_authenticator: &Authenticator,
) -> Result<Plaintext> {
    ensure_len(
        "salted attribute (salt + ciphertext)",
        value,
        2 + AUTHENTICATOR_LEN,
    )?;
    let (salt, cipher) = value.split_at(2);
    if cipher.len() % AUTHENTICATOR_LEN != 0 || cipher.len() > 240 {
        return Err(Error::Malformed(
            "salted ciphertext is not a multiple of 16 octets (at most 240)",
        ));
    }
    let mut plain = [0; 256];
    let mut previous: &[u8] = &[];
    for (index, block) in cipher.chunks_exact(AUTHENTICATOR_LEN).enumerate() {
        let key = if index == 0 {
            md5_parts(&[secret, request_authenticator, salt])
        } else {
            md5_parts(&[secret, previous])
        };
        for (i, byte) in block.iter().enumerate() {
            plain[index * AUTHENTICATOR_LEN + i] = byte ^ key[i];
        }
        previous = block;
    }
    let data_len = usize::from(plain[0]);
    // RFC 2868 §3.5: Data-Length "indicates the length of the data to be
    // encrypted" — it cannot exceed what was decrypted.
    if data_len > cipher.len() - 1 {
        return Err(Error::Malformed(
            "salted Data-Length exceeds the decrypted data (wrong secret or authenticator?)",
        ));
    }
    let mut out = Plaintext {
        bytes: [0; 256],
        len: data_len,
    };
    out.bytes[..data_len].copy_from_slice(&plain[1..=data_len]);
    Ok(out)
}

// ---------------------------------------------------------------------------
// RFC 2868 tagged tunnel attributes
// ---------------------------------------------------------------------------

crate::open_enum! {
    /// Tunnel-Type values (RFC 2868 §3.1, RFC 3580 §3.31).
    pub enum TunnelType(u32) {
        /// Point-to-Point Tunneling Protocol.
        Pptp = 1,
        /// Layer Two Forwarding.
        L2f = 2,
        /// Layer Two Tunneling Protocol.
        L2tp = 3,
        /// Ascend Tunnel Management Protocol.
        Atmp = 4,
        /// Virtual Tunneling Protocol.
        Vtp = 5,
        /// IP Authentication Header in tunnel mode.
        Ah = 6,
        /// IP-in-IP encapsulation.
        IpIp = 7,
        /// Minimal IP-in-IP encapsulation.
        MinIpIp = 8,
        /// IP Encapsulating Security Payload in tunnel mode.
        Esp = 9,
        /// Generic Route Encapsulation.
        Gre = 10,
        /// Bay Dial Virtual Services.
        Dvs = 11,
        /// IP-in-IP tunneling.
        IpInIp = 12,
        /// VLAN (RFC 3580).
        Vlan = 13,
    }
}

crate::open_enum! {
    /// Tunnel-Medium-Type values (RFC 2868 §3.2, from the IANA address
    /// family numbers).
    pub enum TunnelMediumType(u32) {
        /// IPv4 (IP version 4).
        Ipv4 = 1,
        /// IPv6 (IP version 6).
        Ipv6 = 2,
        /// NSAP.
        Nsap = 3,
        /// HDLC (8-bit multidrop).
        Hdlc = 4,
        /// BBN 1822.
        Bbn1822 = 5,
        /// 802 (includes all 802 media plus Ethernet "canonical format").
        Ieee802 = 6,
        /// E.163 (POTS).
        E163 = 7,
        /// E.164 (SMDS, Frame Relay, ATM).
        E164 = 8,
        /// F.69 (Telex).
        F69 = 9,
        /// X.121 (X.25, Frame Relay).
        X121 = 10,
        /// IPX.
        Ipx = 11,
        /// Appletalk.
        Appletalk = 12,
        /// Decnet IV.
        DecnetIv = 13,
        /// Banyan Vines.
        BanyanVines = 14,
        /// E.164 with NSAP format subaddress.
        E164Nsap = 15,
    }
}

/// Highest valid tag (RFC 2868 §3.1: tags 0x01-0x1F group attributes).
pub const MAX_TAG: u8 = 0x1f;

fn check_tag(tag: u8) -> Result<()> {
    if tag > MAX_TAG {
        Err(Error::Malformed("RFC 2868 tag above 0x1F"))
    } else {
        Ok(())
    }
}

/// How an RFC 2868 attribute carries its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagLayout {
    /// Integer attributes (Tunnel-Type, Tunnel-Medium-Type,
    /// Tunnel-Preference): the first octet is always the tag, the value is
    /// the 3 octets after it (attribute Length 6).
    Integer,
    /// String attributes: a first octet 0x01-0x1F is a tag; any other first
    /// octet belongs to the value and the tag is 0 (RFC 2868 §3.3: "If the
    /// Tag field is greater than 0x1F, it SHOULD be interpreted as indicating
    /// the first byte of the following String field").
    String,
    /// Tunnel-Password: a tag octet is always present, then salt and
    /// ciphertext (RFC 2868 §3.5).
    Password,
}

/// The tag layout of an RFC 2868 attribute type, `None` for other types.
#[must_use]
pub const fn tag_layout(ty: u8) -> Option<TagLayout> {
    match ty {
        attr::TUNNEL_TYPE | attr::TUNNEL_MEDIUM_TYPE | attr::TUNNEL_PREFERENCE => {
            Some(TagLayout::Integer)
        }
        attr::TUNNEL_CLIENT_ENDPOINT
        | attr::TUNNEL_SERVER_ENDPOINT
        | attr::TUNNEL_PRIVATE_GROUP_ID
        | attr::TUNNEL_ASSIGNMENT_ID
        | attr::TUNNEL_CLIENT_AUTH_ID
        | attr::TUNNEL_SERVER_AUTH_ID => Some(TagLayout::String),
        attr::TUNNEL_PASSWORD => Some(TagLayout::Password),
        _ => None,
    }
}

/// The value of one RFC 2868 tunnel attribute, tag removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelValue<'a> {
    /// Tunnel-Type (64).
    Type(TunnelType),
    /// Tunnel-Medium-Type (65).
    MediumType(TunnelMediumType),
    /// Tunnel-Client-Endpoint (66): address or FQDN text.
    ClientEndpoint(&'a [u8]),
    /// Tunnel-Server-Endpoint (67): address or FQDN text.
    ServerEndpoint(&'a [u8]),
    /// Tunnel-Password (69): still hidden, `salt || ciphertext`; decrypt
    /// with [`decrypt_salted`] and the Access-Request's authenticator.
    Password(&'a [u8]),
    /// Tunnel-Private-Group-ID (81).
    PrivateGroupId(&'a [u8]),
    /// Tunnel-Assignment-ID (82).
    AssignmentId(&'a [u8]),
    /// Tunnel-Preference (83).
    Preference(u32),
    /// Tunnel-Client-Auth-ID (90).
    ClientAuthId(&'a [u8]),
    /// Tunnel-Server-Auth-ID (91).
    ServerAuthId(&'a [u8]),
}

/// An RFC 2868 attribute decoded: its tag (0 = none) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaggedTunnelAttribute<'a> {
    /// Tag 0x00-0x1F; 0 when the attribute carries none.
    pub tag: u8,
    /// The value.
    pub value: TunnelValue<'a>,
}

impl<'a> TunnelValue<'a> {
    /// The attribute type this value is carried in.
    #[must_use]
    pub const fn attribute_type(&self) -> u8 {
        match self {
            Self::Type(_) => attr::TUNNEL_TYPE,
            Self::MediumType(_) => attr::TUNNEL_MEDIUM_TYPE,
            Self::ClientEndpoint(_) => attr::TUNNEL_CLIENT_ENDPOINT,
            Self::ServerEndpoint(_) => attr::TUNNEL_SERVER_ENDPOINT,
            Self::Password(_) => attr::TUNNEL_PASSWORD,
            Self::PrivateGroupId(_) => attr::TUNNEL_PRIVATE_GROUP_ID,
            Self::AssignmentId(_) => attr::TUNNEL_ASSIGNMENT_ID,
            Self::Preference(_) => attr::TUNNEL_PREFERENCE,
            Self::ClientAuthId(_) => attr::TUNNEL_CLIENT_AUTH_ID,
            Self::ServerAuthId(_) => attr::TUNNEL_SERVER_AUTH_ID,
        }
    }

    /// Decodes an attribute; `Ok(None)` when it is not an RFC 2868 one.
    ///
    /// # Errors
    /// [`Error::Malformed`] for an integer attribute whose value is not a
    /// tag plus 3 octets or whose tag is above 0x1F, an empty string value, or a
    /// Tunnel-Password shorter than tag + salt + one block.
    pub fn parse(attribute: &Attribute<'a>) -> Result<Option<TaggedTunnelAttribute<'a>>> {
        let value = attribute.value();
        let Some(layout) = tag_layout(attribute.ty()) else {
            return Ok(None);
        };
        let (tag, rest) = match layout {
            TagLayout::Integer => match *value {
                // RFC 2868 §3.1: Length 6; Tag one octet; Value three octets.
                [tag, a, b, c] => {
                    check_tag(tag)?;
                    (tag, Rest::Int(u32::from_be_bytes([0, a, b, c])))
                }
                _ => {
                    return Err(Error::Malformed(
                        "RFC 2868 integer attribute must be tag + 3 octets (Length 6)",
                    ));
                }
            },
            TagLayout::String => {
                let Some(&first) = value.first() else {
                    return Err(Error::Malformed("RFC 2868 string attribute is empty"));
                };
                if (1..=MAX_TAG).contains(&first) {
                    (first, Rest::Bytes(&value[1..]))
                } else {
                    (0, Rest::Bytes(value))
                }
            }
            TagLayout::Password => {
                ensure_len(
                    "Tunnel-Password (tag + salt + 16)",
                    value,
                    3 + AUTHENTICATOR_LEN,
                )?;
                let tag = value[0];
                check_tag(tag)?;
                (tag, Rest::Bytes(&value[1..]))
            }
        };
        let value = match (attribute.ty(), rest) {
            (attr::TUNNEL_TYPE, Rest::Int(v)) => Self::Type(TunnelType::from(v)),
            (attr::TUNNEL_MEDIUM_TYPE, Rest::Int(v)) => Self::MediumType(TunnelMediumType::from(v)),
            (attr::TUNNEL_PREFERENCE, Rest::Int(v)) => Self::Preference(v),
            (attr::TUNNEL_CLIENT_ENDPOINT, Rest::Bytes(b)) => Self::ClientEndpoint(b),
            (attr::TUNNEL_SERVER_ENDPOINT, Rest::Bytes(b)) => Self::ServerEndpoint(b),
            (attr::TUNNEL_PASSWORD, Rest::Bytes(b)) => Self::Password(b),
            (attr::TUNNEL_PRIVATE_GROUP_ID, Rest::Bytes(b)) => Self::PrivateGroupId(b),
            (attr::TUNNEL_ASSIGNMENT_ID, Rest::Bytes(b)) => Self::AssignmentId(b),
            (attr::TUNNEL_CLIENT_AUTH_ID, Rest::Bytes(b)) => Self::ClientAuthId(b),
            (attr::TUNNEL_SERVER_AUTH_ID, Rest::Bytes(b)) => Self::ServerAuthId(b),
            _ => return Ok(None),
        };
        Ok(Some(TaggedTunnelAttribute { tag, value }))
    }

    /// Writes the attribute value (tag included) into `out`, returning its
    /// length.
    ///
    /// * integers: tag (0 when unused — RFC 2868 §3.1 "If the Tag field is
    ///   unused, it MUST be zero (0x00)") + 3-octet value;
    /// * strings: the tag octet when `tag` is 1..=0x1F; with tag 0 the value
    ///   is written bare, which requires its first octet to be above 0x1F
    ///   (else a reader would take it for a tag);
    /// * Password: tag + the already-hidden `salt || ciphertext` (see
    ///   [`PacketBuilder::push_tunnel_password`]).
    ///
    /// # Errors
    /// [`Error::Malformed`] for a tag above 0x1F, an integer above 2^24 − 1,
    /// an empty string, an untagged string starting with 0x00-0x1F, or a
    /// value too long; [`Error::BufferTooSmall`].
    pub fn emit(&self, tag: u8, out: &mut [u8]) -> Result<usize> {
        check_tag(tag)?;
        let integer = match *self {
            Self::Type(t) => Some(u32::from(t)),
            Self::MediumType(m) => Some(u32::from(m)),
            Self::Preference(p) => Some(p),
            _ => None,
        };
        if let Some(v) = integer {
            if v > 0x00ff_ffff {
                return Err(Error::Malformed("RFC 2868 integer value above 2^24-1"));
            }
            ensure_room(out, 4)?;
            out[0] = tag;
            out[1..4].copy_from_slice(&v.to_be_bytes()[1..]);
            return Ok(4);
        }
        let bytes = match *self {
            Self::ClientEndpoint(b)
            | Self::ServerEndpoint(b)
            | Self::PrivateGroupId(b)
            | Self::AssignmentId(b)
            | Self::ClientAuthId(b)
            | Self::ServerAuthId(b) => b,
            Self::Password(hidden) => {
                let len = 1 + hidden.len();
                if len > MAX_VALUE_LEN {
                    return Err(Error::Malformed("Tunnel-Password value too long"));
                }
                ensure_room(out, len)?;
                out[0] = tag;
                out[1..len].copy_from_slice(hidden);
                return Ok(len);
            }
            Self::Type(_) | Self::MediumType(_) | Self::Preference(_) => &[],
        };
        let Some(&first) = bytes.first() else {
            return Err(Error::Malformed("RFC 2868 string attribute is empty"));
        };
        if tag == 0 {
            if first <= MAX_TAG {
                return Err(Error::Malformed(
                    "untagged RFC 2868 string must not start with an octet 0x00-0x1F",
                ));
            }
            if bytes.len() > MAX_VALUE_LEN {
                return Err(Error::Malformed("RFC 2868 string value too long"));
            }
            ensure_room(out, bytes.len())?;
            out[..bytes.len()].copy_from_slice(bytes);
            return Ok(bytes.len());
        }
        let len = 1 + bytes.len();
        if len > MAX_VALUE_LEN {
            return Err(Error::Malformed("RFC 2868 string value too long"));
        }
        ensure_room(out, len)?;
        out[0] = tag;
        out[1..len].copy_from_slice(bytes);
        Ok(len)
    }
}

#[derive(Clone, Copy)]
enum Rest<'a> {
    Int(u32),
    Bytes(&'a [u8]),
}

// ---------------------------------------------------------------------------
// Vendor-Specific (RFC 2865 §5.26)
// ---------------------------------------------------------------------------

/// A Vendor-Specific attribute value: Vendor-Id and body. The body is
/// checked against the standard "1-octet type, 1-octet length" sub-attribute
/// format; a body that does not follow it is kept raw with
/// [`VendorSpecific::is_well_formed`] false, so one odd VSA never costs the
/// whole packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorSpecific<'a> {
    vendor_id: u32,
    body: &'a [u8],
    well_formed: bool,
}

impl<'a> VendorSpecific<'a> {
    /// Decodes a Vendor-Specific value.
    ///
    /// # Errors
    /// [`Error::Truncated`] when the value is shorter than the 4-octet
    /// Vendor-Id (RFC 2865 §5.26: Length ≥ 7).
    pub fn parse(value: &'a [u8]) -> Result<Self> {
        ensure_len("Vendor-Specific (Vendor-Id + data)", value, 5)?;
        let vendor_id = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
        let body = &value[4..];
        let well_formed = AttributeIter::new(body).all(|a| a.is_ok());
        Ok(Self {
            vendor_id,
            body,
            well_formed,
        })
    }

    /// The Vendor-Id (the vendor's SMI Network Management Private
    /// Enterprise Code).
    #[must_use]
    pub const fn vendor_id(&self) -> u32 {
        self.vendor_id
    }

    /// The octets after the Vendor-Id.
    #[must_use]
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }

    /// True when the body parses as standard-format sub-attributes.
    #[must_use]
    pub const fn is_well_formed(&self) -> bool {
        self.well_formed
    }

    /// The sub-attributes (vendor type + value); empty for a malformed body.
    pub fn sub_attributes(&self) -> impl Iterator<Item = Attribute<'a>> + use<'a> {
        let body = if self.well_formed { self.body } else { &[] };
        AttributeIter::new(body).map_while(core::result::Result::ok)
    }

    /// The first sub-attribute of `vendor_type`.
    #[must_use]
    pub fn sub_attribute(&self, vendor_type: u8) -> Option<Attribute<'a>> {
        self.sub_attributes().find(|a| a.ty() == vendor_type)
    }
}

// ---------------------------------------------------------------------------
// Crypto helpers
// ---------------------------------------------------------------------------

fn md5_parts(parts: &[&[u8]]) -> Authenticator {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Constant-time equality of two 16-octet values.
#[must_use]
pub fn ct_eq(a: &Authenticator, b: &Authenticator) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// HMAC-MD5 (RFC 2104), streaming and infallible for any key length.
struct HmacMd5 {
    inner: Md5,
    outer_key: [u8; 64],
}

impl HmacMd5 {
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block[..AUTHENTICATOR_LEN].copy_from_slice(&md5_parts(&[key]));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner_key = [0u8; 64];
        let mut outer_key = [0u8; 64];
        for ((i, o), k) in inner_key.iter_mut().zip(outer_key.iter_mut()).zip(block) {
            *i = k ^ 0x36;
            *o = k ^ 0x5c;
        }
        let mut inner = Md5::new();
        inner.update(inner_key);
        Self { inner, outer_key }
    }

    fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    fn finalize(self) -> Authenticator {
        let inner: Authenticator = self.inner.finalize().into();
        md5_parts(&[&self.outer_key, &inner])
    }
}

/// HMAC-MD5 of `data` under `key` (exposed for tests and for callers that
/// sign other structures with the RADIUS secret).
#[must_use]
pub fn hmac_md5(key: &[u8], data: &[u8]) -> Authenticator {
    let mut mac = HmacMd5::new(key);
    mac.update(data);
    mac.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"testing123";
    const RA: Authenticator = [
        0xc2, 0x18, 0x75, 0x57, 0xb8, 0xdf, 0x34, 0x26, 0x03, 0xe8, 0x29, 0xdd, 0xbf, 0x81, 0xcd,
        0xfe,
    ];

    fn build(code: Code, f: impl FnOnce(&mut PacketBuilder<'_>)) -> Vec<u8> {
        let mut buf = [0u8; MAX_PACKET_LEN];
        let mut b = PacketBuilder::new(&mut buf, code, 7, &RA).unwrap();
        f(&mut b);
        let len = b.finish();
        buf[..len].to_vec()
    }

    #[test]
    fn codes_round_trip_and_classify() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(Code::from(n)), n);
        }
        assert_eq!(Code::from(43), Code::CoaRequest);
        assert_eq!(
            Code::AccessRequest.authenticator_kind(),
            Some(AuthenticatorKind::Random)
        );
        assert_eq!(
            Code::DisconnectRequest.authenticator_kind(),
            Some(AuthenticatorKind::RequestHash)
        );
        assert!(Code::CoaNak.is_response());
        assert!(!Code::StatusServer.is_response());
        assert_eq!(Code::Unknown(99).authenticator_kind(), None);
    }

    #[test]
    fn header_checks() {
        assert!(matches!(
            Packet::new_checked(&[1u8; 19][..]),
            Err(Error::Truncated {
                need: 20,
                have: 19,
                ..
            })
        ));
        let mut p = build(Code::AccessRequest, |b| {
            b.push(attr::USER_NAME, b"bob").unwrap();
        });
        p[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(
            Packet::new_checked(&p[..]),
            Err(Error::Malformed(_))
        ));
        p[2..4].copy_from_slice(&4097u16.to_be_bytes());
        assert!(matches!(
            Packet::new_checked(&p[..]),
            Err(Error::Malformed(_))
        ));
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert!(matches!(
            Packet::new_checked(&p[..]),
            Err(Error::Truncated {
                need: 30,
                have: 25,
                ..
            })
        ));
        // Trailing octets beyond Length are padding (RFC 2865 §3).
        let mut padded = build(Code::AccessRequest, |b| {
            b.push(attr::USER_NAME, b"bob").unwrap();
        });
        padded.extend_from_slice(&[0xff; 7]);
        let packet = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.as_bytes().len(), 25);
        assert_eq!(packet.attributes().count(), 1);
    }

    #[test]
    fn attribute_chain_errors() {
        let base = build(Code::AccessRequest, |_| {});
        for (tail, expect_malformed) in [
            (&[1u8, 0][..], true),
            (&[1u8, 1][..], true),
            (&[1u8, 5, b'a'][..], false),
            (&[1u8][..], false),
        ] {
            let mut p = base.clone();
            p.extend_from_slice(tail);
            let len = p.len() as u16;
            p[2..4].copy_from_slice(&len.to_be_bytes());
            let err = Packet::new_checked(&p[..]).unwrap_err();
            assert_eq!(
                matches!(err, Error::Malformed(_)),
                expect_malformed,
                "{err}"
            );
            let unchecked = Packet::new_unchecked(&p[..]);
            let items: Vec<_> = unchecked.attributes().collect();
            assert_eq!(items.len(), 1);
            assert!(items[0].is_err());
        }
    }

    #[test]
    fn user_password_matches_the_radius_crate() {
        use radius::core::avp::AVP;
        for password in [
            &b""[..],
            b"test",
            b"exactly-16-bytes",
            b"a-password-of-more-than-16-bytes",
        ] {
            let mut out = [0u8; 128];
            let len = hide_user_password(password, SECRET, &RA, &mut out).unwrap();
            let theirs =
                AVP::from_user_password(attr::USER_PASSWORD, password, SECRET, &RA).unwrap();
            assert_eq!(&out[..len], theirs.encode_bytes().as_slice());
            let back = unhide_user_password(&out[..len], SECRET, &RA).unwrap();
            assert_eq!(back.as_bytes(), password);
            assert_eq!(
                theirs.encode_user_password(SECRET, &RA).unwrap(),
                password.to_vec()
            );
        }
        assert!(hide_user_password(&[b'x'; 129], SECRET, &RA, &mut [0; 256]).is_err());
        assert!(unhide_user_password(&[0; 15], SECRET, &RA).is_err());
        assert!(unhide_user_password(&[0; 144], SECRET, &RA).is_err());
        assert!(unhide_user_password(&[], SECRET, &RA).is_err());
        assert!(
            format!("{:?}", unhide_user_password(&[0; 16], SECRET, &RA).unwrap())
                .contains("octets")
        );
    }

    #[test]
    fn salted_hiding_rules() {
        let mut out = [0u8; 256];
        // RFC 2868 §3.5: the salt's high bit MUST be set.
        assert!(encrypt_salted(b"x", [0x7f, 0], SECRET, &RA, &mut out).is_err());
        assert!(encrypt_salted(&[0; 240], [0x80, 0], SECRET, &RA, &mut out).is_err());
        let len = encrypt_salted(b"secret", [0x80, 1], SECRET, &RA, &mut out).unwrap();
        assert_eq!(len, 2 + 16);
        let len15 = encrypt_salted(&[7; 15], [0x80, 1], SECRET, &RA, &mut out).unwrap();
        assert_eq!(len15, 2 + 16, "Data-Length + 15 octets fit one block");
        let len16 = encrypt_salted(&[7; 16], [0x80, 1], SECRET, &RA, &mut out).unwrap();
        assert_eq!(len16, 2 + 32);
        let len = encrypt_salted(b"secret", [0x80, 1], SECRET, &RA, &mut out).unwrap();
        // Force the decrypted Data-Length to 0xff: must be refused.
        let mut tampered = out[..len].to_vec();
        tampered[2] ^= 6 ^ 0xff;
        assert!(matches!(
            decrypt_salted(&tampered, SECRET, &RA),
            Err(Error::Malformed(_))
        ));
        assert!(decrypt_salted(&out[..len - 1], SECRET, &RA).is_err());
        assert!(decrypt_salted(&out[..17], SECRET, &RA).is_err());
        assert_eq!(
            decrypt_salted(&out[..len], SECRET, &RA).unwrap().as_bytes(),
            b"secret"
        );
    }

    #[test]
    fn the_radius_crate_gets_rfc_2868_wrong() {
        use radius::core::{avp::AVP, tag::Tag};
        // RFC 2868 §3.1: tag + 3-octet value. The crate writes 5 octets.
        let theirs = AVP::from_tagged_u32(attr::TUNNEL_TYPE, Some(&Tag::new(1)), 3);
        assert_eq!(theirs.encode_bytes().len(), 5);
        let mut out = [0u8; 8];
        let n = TunnelValue::Type(TunnelType::L2tp)
            .emit(1, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &[1, 0, 0, 3]);
    }

    #[test]
    fn hmac_matches_the_hmac_crate() {
        use hmac::{KeyInit, Mac};
        for key in [&b""[..], b"testing123", &[0x5a; 64], &[0xa5; 100]] {
            for data in [&b""[..], b"abc", &[1; 200]] {
                let mut theirs = hmac::Hmac::<Md5>::new_from_slice(key).unwrap();
                theirs.update(data);
                let theirs: Authenticator = theirs.finalize().into_bytes().into();
                assert_eq!(hmac_md5(key, data), theirs);
            }
        }
    }

    fn accept_for(request: &Authenticator, with_ma: bool, code: Code) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut b = PacketBuilder::new(&mut buf, code, 9, &[0; 16]).unwrap();
        if with_ma {
            b.push_message_authenticator().unwrap();
        }
        b.push_u32(attr::SESSION_TIMEOUT, 3600).unwrap();
        b.push_tunnel(1, &TunnelValue::Type(TunnelType::L2tp))
            .unwrap();
        let len = b.finish_signed(SECRET, Some(request)).unwrap();
        buf[..len].to_vec()
    }

    #[test]
    fn access_request_message_authenticator() {
        let mut buf = [0u8; 512];
        let mut b = PacketBuilder::new(&mut buf, Code::AccessRequest, 1, &RA).unwrap();
        b.push_message_authenticator().unwrap();
        b.push(attr::USER_NAME, b"l2tpuser").unwrap();
        b.push_user_password(b"test", SECRET).unwrap();
        let len = b.finish_signed(SECRET, None).unwrap();
        let packet = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(
            packet.authenticator(),
            RA,
            "Access-Request keeps its random authenticator"
        );
        assert_eq!(
            packet.verify_request(SECRET),
            Ok(Verified {
                message_authenticator: true
            })
        );
        assert_eq!(
            packet.verify_request(b"wrong"),
            Err(AuthError::MessageAuthenticator)
        );
        let mut tampered = buf[..len].to_vec();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            Packet::new_checked(&tampered[..])
                .unwrap()
                .verify_request(SECRET),
            Err(AuthError::MessageAuthenticator)
        );
        // The radius crate decodes what we write.
        let theirs = radius::core::packet::Packet::decode(&buf[..len], SECRET).unwrap();
        assert_eq!(
            theirs.lookup(attr::USER_NAME).unwrap().encode_bytes(),
            b"l2tpuser"
        );
        assert_eq!(
            theirs
                .lookup(attr::USER_PASSWORD)
                .unwrap()
                .encode_user_password(SECRET, &RA)
                .unwrap(),
            b"test"
        );
    }

    #[test]
    fn response_signing_order_and_verification() {
        for code in [
            Code::AccessAccept,
            Code::AccessReject,
            Code::AccessChallenge,
            Code::CoaAck,
        ] {
            let bytes = accept_for(&RA, true, code);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(
                packet.verify_response(&RA, SECRET),
                Ok(Verified {
                    message_authenticator: true
                })
            );
            assert!(radius::core::packet::Packet::is_authentic_response(
                &bytes,
                &[&[1, 9, 0, 20][..], &RA[..]].concat(),
                SECRET
            ));
            // MA computed with the Request Authenticator in the header
            // position, before the Response Authenticator (RFC 3579 §3.2).
            let offset = packet.message_authenticator_offset().unwrap().unwrap();
            let mut copy = bytes.clone();
            copy[4..20].copy_from_slice(&RA);
            copy[offset..offset + 16].fill(0);
            assert_eq!(&bytes[offset..offset + 16], &hmac_md5(SECRET, &copy));
            let other = [9u8; 16];
            assert_eq!(
                packet.verify_response(&other, SECRET),
                Err(AuthError::ResponseAuthenticator)
            );
        }
        // Without MA: only the Response Authenticator.
        let bytes = accept_for(&RA, false, Code::AccessAccept);
        assert_eq!(
            Packet::new_checked(&bytes[..])
                .unwrap()
                .verify_response(&RA, SECRET),
            Ok(Verified {
                message_authenticator: false
            })
        );
        // A response needs the request's authenticator to be signed.
        let mut buf = [0u8; 64];
        let b = PacketBuilder::new(&mut buf, Code::AccessAccept, 1, &[0; 16]).unwrap();
        assert_eq!(
            b.finish_signed(SECRET, None),
            Err(AuthError::MissingRequestAuthenticator)
        );
    }

    /// Signs a response's MA over a zeroed authenticator (FreeRADIUS 3.2.1
    /// server form), then the Response Authenticator.
    fn zero_form(code: Code) -> Vec<u8> {
        let mut bytes = accept_for(&RA, true, code);
        let offset = 20 + 2;
        let mut copy = bytes.clone();
        copy[4..20].fill(0);
        copy[offset..offset + 16].fill(0);
        let mac = hmac_md5(SECRET, &copy);
        bytes[offset..offset + 16].copy_from_slice(&mac);
        let auth = Packet::new_checked(&bytes[..])
            .unwrap()
            .compute_response_authenticator(&RA, SECRET);
        bytes[4..20].copy_from_slice(&auth);
        bytes
    }

    #[test]
    fn freeradius_zero_form_accepted_only_where_measured() {
        for code in [
            Code::AccountingResponse,
            Code::CoaAck,
            Code::CoaNak,
            Code::DisconnectAck,
        ] {
            let bytes = zero_form(code);
            assert!(
                Packet::new_checked(&bytes[..])
                    .unwrap()
                    .verify_response(&RA, SECRET)
                    .is_ok()
            );
        }
        let bytes = zero_form(Code::AccessAccept);
        assert_eq!(
            Packet::new_checked(&bytes[..])
                .unwrap()
                .verify_response(&RA, SECRET),
            Err(AuthError::MessageAuthenticator)
        );
    }

    #[test]
    fn accounting_and_coa_request_authenticators() {
        for code in [
            Code::AccountingRequest,
            Code::CoaRequest,
            Code::DisconnectRequest,
        ] {
            for with_ma in [false, true] {
                let mut buf = [0u8; 256];
                let mut b = PacketBuilder::new(&mut buf, code, 3, &[0; 16]).unwrap();
                if with_ma {
                    b.push_message_authenticator().unwrap();
                }
                b.push(attr::ACCT_SESSION_ID, b"00000042").unwrap();
                let len = b.finish_signed(SECRET, None).unwrap();
                let packet = Packet::new_checked(&buf[..len]).unwrap();
                assert_eq!(
                    packet.verify_request(SECRET),
                    Ok(Verified {
                        message_authenticator: with_ma
                    })
                );
                assert!(radius::core::packet::Packet::is_authentic_request(
                    &buf[..len],
                    SECRET
                ));
                assert_eq!(
                    packet.verify_request(b"other"),
                    Err(AuthError::RequestAuthenticator)
                );
                assert_eq!(
                    packet.verify_response(&RA, SECRET),
                    Err(AuthError::NotAResponse(code.into()))
                );
            }
        }
    }

    #[test]
    fn message_authenticator_shape_errors() {
        let two = build(Code::AccessRequest, |b| {
            b.push_message_authenticator().unwrap();
            b.push_message_authenticator().unwrap();
        });
        let p = Packet::new_checked(&two[..]).unwrap();
        assert_eq!(
            p.verify_request(SECRET),
            Err(AuthError::DuplicateMessageAuthenticator)
        );
        let short = build(Code::AccessRequest, |b| {
            b.push(attr::MESSAGE_AUTHENTICATOR, &[0; 15]).unwrap();
        });
        let p = Packet::new_checked(&short[..]).unwrap();
        assert_eq!(
            p.verify_request(SECRET),
            Err(AuthError::MessageAuthenticatorLength(17))
        );
        let unknown = build(Code::Unknown(99), |_| {});
        let mut unknown = unknown;
        let mut p = Packet::new_unchecked(&mut unknown[..]);
        assert_eq!(p.sign(SECRET, None), Err(AuthError::UnknownCode(99)));
        // Signing an inconsistent buffer is an error, not a panic.
        let mut lying = build(Code::AccessAccept, |_| {});
        lying[3] = 200;
        let mut p = Packet::new_unchecked(&mut lying[..]);
        assert!(matches!(
            p.sign(SECRET, Some(&RA)),
            Err(AuthError::Wire(Error::Truncated { .. }))
        ));
    }

    #[test]
    fn tagged_attribute_rules() {
        let bytes = build(Code::AccessAccept, |b| {
            b.push_tunnel(1, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(1, &TunnelValue::MediumType(TunnelMediumType::Ipv4))
                .unwrap();
            b.push_tunnel(2, &TunnelValue::Preference(0x00ab_cdef))
                .unwrap();
            b.push_tunnel(0, &TunnelValue::ServerEndpoint(b"192.0.2.1"))
                .unwrap();
            b.push_tunnel(31, &TunnelValue::AssignmentId(b"lns1"))
                .unwrap();
            // A string starting with 0x00 is value, not tag.
            b.push(attr::TUNNEL_CLIENT_AUTH_ID, b"\0lac").unwrap();
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let decoded: Vec<_> = packet
            .attributes()
            .map(|a| TunnelValue::parse(&a.unwrap()).unwrap().unwrap())
            .collect();
        assert_eq!(
            packet.attribute(attr::TUNNEL_TYPE).unwrap().value().len() + 2,
            6
        );
        assert_eq!(
            decoded[0],
            TaggedTunnelAttribute {
                tag: 1,
                value: TunnelValue::Type(TunnelType::L2tp)
            }
        );
        assert_eq!(
            decoded[1].value,
            TunnelValue::MediumType(TunnelMediumType::Ipv4)
        );
        assert_eq!(
            decoded[2],
            TaggedTunnelAttribute {
                tag: 2,
                value: TunnelValue::Preference(0x00ab_cdef)
            }
        );
        assert_eq!(
            decoded[3],
            TaggedTunnelAttribute {
                tag: 0,
                value: TunnelValue::ServerEndpoint(b"192.0.2.1")
            }
        );
        assert_eq!(
            decoded[4],
            TaggedTunnelAttribute {
                tag: 31,
                value: TunnelValue::AssignmentId(b"lns1")
            }
        );
        assert_eq!(
            decoded[5],
            TaggedTunnelAttribute {
                tag: 0,
                value: TunnelValue::ClientAuthId(b"\0lac")
            }
        );

        let mut out = [0u8; 300];
        assert!(
            TunnelValue::Type(TunnelType::L2tp)
                .emit(0x20, &mut out)
                .is_err()
        );
        assert!(TunnelValue::Preference(1 << 24).emit(1, &mut out).is_err());
        assert!(
            TunnelValue::AssignmentId(b"\x05x")
                .emit(0, &mut out)
                .is_err()
        );
        assert!(TunnelValue::AssignmentId(b"").emit(1, &mut out).is_err());
        assert!(
            TunnelValue::AssignmentId(&[b'a'; 253])
                .emit(1, &mut out)
                .is_err()
        );
        let bad = |ty: u8, v: &'static [u8]| Attribute {
            ty,
            value: v,
            offset: 0,
        };
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_TYPE, &[1, 0, 0, 0, 3])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_TYPE, &[0x20, 0, 0, 3])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_SERVER_ENDPOINT, &[])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_PASSWORD, &[1, 0x80, 0])).is_err());
        assert_eq!(TunnelValue::parse(&bad(attr::USER_NAME, b"x")), Ok(None));
        assert_eq!(TunnelType::from(3), TunnelType::L2tp);
        assert_eq!(TunnelMediumType::from(2), TunnelMediumType::Ipv6);
    }

    #[test]
    fn tunnel_password_round_trip_in_a_packet() {
        let bytes = build(Code::AccessAccept, |b| {
            b.push_tunnel_password(1, b"secret", [0x80, 0x01], SECRET, &RA)
                .unwrap();
            b.push_tunnel_password(
                2,
                b"a-tunnel-secret-longer-than-sixteen-bytes",
                [0x80, 0x02],
                SECRET,
                &RA,
            )
            .unwrap();
            assert!(
                b.push_tunnel_password(0x20, b"x", [0x80, 3], SECRET, &RA)
                    .is_err()
            );
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let mut got = Vec::new();
        for a in packet.attributes() {
            let t = TunnelValue::parse(&a.unwrap()).unwrap().unwrap();
            let TunnelValue::Password(hidden) = t.value else {
                panic!()
            };
            got.push((
                t.tag,
                decrypt_salted(hidden, SECRET, &RA)
                    .unwrap()
                    .as_bytes()
                    .to_vec(),
            ));
        }
        assert_eq!(
            got,
            vec![
                (1, b"secret".to_vec()),
                (2, b"a-tunnel-secret-longer-than-sixteen-bytes".to_vec())
            ]
        );
    }

    #[test]
    fn vendor_specific_decoding() {
        let bytes = build(Code::AccessAccept, |b| {
            b.push_vendor_attribute(vendor::CISCO, vendor::CISCO_AVPAIR, b"ip:addr-pool=x")
                .unwrap();
            b.push_vendor_specific(vendor::DSL_FORUM, &[(1, b"circuit"), (2, b"remote")])
                .unwrap();
            b.push_vendor_salted(
                vendor::MICROSOFT,
                vendor::MS_MPPE_SEND_KEY,
                &[0xab; 16],
                [0x81, 0x23],
                SECRET,
                &RA,
            )
            .unwrap();
            // Malformed body: sub-attribute length 9 overruns.
            b.push(attr::VENDOR_SPECIFIC, &[0, 0, 0x7e, 0x59, 1, 9, b'x'])
                .unwrap();
            let before = b.len();
            assert!(b.push_vendor_attribute(0x0100_0000, 1, b"x").is_err());
            assert!(b.push_vendor_specific(9, &[]).is_err());
            assert!(b.push_vendor_attribute(9, 1, &[0; 248]).is_err());
            assert_eq!(b.len(), before, "a failed push writes nothing");
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let cisco: Vec<_> = packet.vendor_attributes(vendor::CISCO).collect();
        assert_eq!(cisco.len(), 1);
        assert_eq!(
            cisco[0].sub_attribute(1).unwrap().value(),
            b"ip:addr-pool=x"
        );
        let dsl = packet.vendor_attributes(vendor::DSL_FORUM).next().unwrap();
        let subs: Vec<_> = dsl.sub_attributes().map(|a| (a.ty(), a.value())).collect();
        assert_eq!(subs, vec![(1, &b"circuit"[..]), (2, &b"remote"[..])]);
        let ms = packet.vendor_attributes(vendor::MICROSOFT).next().unwrap();
        let key = ms.sub_attribute(vendor::MS_MPPE_SEND_KEY).unwrap().value();
        assert_eq!(
            decrypt_salted(key, SECRET, &RA).unwrap().as_bytes(),
            &[0xab; 16]
        );
        let odd = packet.vendor_attributes(32345).next().unwrap();
        assert!(!odd.is_well_formed());
        assert_eq!(odd.body(), &[1, 9, b'x']);
        assert_eq!(odd.sub_attributes().count(), 0);
        assert!(VendorSpecific::parse(&[0, 0, 0, 9]).is_err());
    }

    #[test]
    fn builder_limits() {
        let mut small = [0u8; 24];
        let mut b = PacketBuilder::new(&mut small, Code::AccessRequest, 1, &RA).unwrap();
        assert!(matches!(
            b.push(1, b"abc"),
            Err(Error::BufferTooSmall { .. })
        ));
        assert!(matches!(b.push(1, &[0; 254]), Err(Error::Malformed(_))));
        let mut big = [0u8; 5000];
        let mut b = PacketBuilder::new(&mut big, Code::AccessRequest, 1, &RA).unwrap();
        for _ in 0..15 {
            b.push(1, &[b'a'; 253]).unwrap();
        }
        assert!(matches!(b.push(1, &[b'a'; 253]), Err(Error::Malformed(_))));
        assert!(b.len() <= MAX_PACKET_LEN);
        assert!(PacketBuilder::new(&mut [0u8; 19], Code::AccessRequest, 1, &RA).is_err());
    }

    fn arb_attributes() -> impl Strategy<Value = Vec<AttributeRepr>> {
        prop::collection::vec(
            (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(ty, value)| AttributeRepr { ty, value }),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn repr_round_trip(code in any::<u8>(), id in any::<u8>(), auth in any::<[u8; 16]>(),
                           attributes in arb_attributes()) {
            let repr = PacketRepr { code: Code::from(code), identifier: id, authenticator: auth, attributes };
            let mut buf = vec![0u8; repr.buffer_len()];
            let len = repr.emit(&mut buf).unwrap();
            prop_assert_eq!(len, repr.buffer_len());
            let packet = Packet::new_checked(&buf[..]).unwrap();
            let parsed = PacketRepr::parse(&packet).unwrap();
            prop_assert_eq!(&parsed, &repr);
            let mut again = vec![0u8; len];
            parsed.emit(&mut again).unwrap();
            prop_assert_eq!(again, buf);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let packet = Packet::new_unchecked(&bytes[..]);
            if packet.check_len().is_ok() {
                let _ = PacketRepr::parse(&packet).unwrap();
                let _ = packet.verify_request(SECRET);
                let _ = packet.verify_response(&RA, SECRET);
                for a in packet.attributes() {
                    let a = a.unwrap();
                    let _ = TunnelValue::parse(&a);
                    if let Ok(v) = VendorSpecific::parse(a.value()) {
                        let _ = v.sub_attributes().count();
                    }
                    let _ = decrypt_salted(a.value(), SECRET, &RA);
                    let _ = unhide_user_password(a.value(), SECRET, &RA);
                }
            }
        }

        #[test]
        fn user_password_round_trip(password in prop::collection::vec(1u8..=255, 0..=128)) {
            let mut out = [0u8; 128];
            let len = hide_user_password(&password, SECRET, &RA, &mut out).unwrap();
            prop_assert_eq!(len % 16, 0);
            let back = unhide_user_password(&out[..len], SECRET, &RA).unwrap();
            prop_assert_eq!(back.as_bytes(), &password[..]);
        }

        #[test]
        fn salted_round_trip(plain in prop::collection::vec(any::<u8>(), 0..=MAX_SALTED_PLAINTEXT_LEN),
                             salt in any::<[u8; 2]>(), auth in any::<[u8; 16]>()) {
            let salt = [salt[0] | 0x80, salt[1]];
            let mut out = [0u8; 256];
            let len = encrypt_salted(&plain, salt, SECRET, &auth, &mut out).unwrap();
            prop_assert_eq!(&out[..2], &salt[..]);
            let back = decrypt_salted(&out[..len], SECRET, &auth).unwrap();
            prop_assert_eq!(back.as_bytes(), &plain[..]);
        }

        #[test]
        fn tunnel_values_round_trip(tag in 0u8..=MAX_TAG, n in 0u32..=0x00ff_ffff,
                                    s in prop::collection::vec(0x20u8..=0xff, 1..200)) {
            let values = [
                TunnelValue::Type(TunnelType::from(n)),
                TunnelValue::MediumType(TunnelMediumType::from(n)),
                TunnelValue::Preference(n),
                TunnelValue::ClientEndpoint(&s),
                TunnelValue::ServerEndpoint(&s),
                TunnelValue::PrivateGroupId(&s),
                TunnelValue::AssignmentId(&s),
                TunnelValue::ClientAuthId(&s),
                TunnelValue::ServerAuthId(&s),
            ];
            for value in values {
                let mut out = [0u8; 253];
                let len = value.emit(tag, &mut out).unwrap();
                let attribute = Attribute { ty: value.attribute_type(), value: &out[..len], offset: 0 };
                let parsed = TunnelValue::parse(&attribute).unwrap().unwrap();
                prop_assert_eq!(parsed, TaggedTunnelAttribute { tag, value });
            }
        }

        #[test]
        fn signed_packets_verify(attributes in arb_attributes(), secret in prop::collection::vec(any::<u8>(), 1..80),
                                 request in any::<[u8; 16]>()) {
            for code in [Code::AccessRequest, Code::AccountingRequest, Code::AccessAccept, Code::DisconnectNak] {
                let mut buf = [0u8; MAX_PACKET_LEN];
                let mut b = PacketBuilder::new(&mut buf, code, 1, &request).unwrap();
                b.push_message_authenticator().unwrap();
                for a in attributes.iter().filter(|a| a.ty != attr::MESSAGE_AUTHENTICATOR) {
                    b.push(a.ty, &a.value).unwrap();
                }
                let len = b.finish_signed(&secret, Some(&request)).unwrap();
                let packet = Packet::new_checked(&buf[..len]).unwrap();
                let verdict = if code.is_response() {
                    packet.verify_response(&request, &secret)
                } else {
                    packet.verify_request(&secret)
                };
                prop_assert_eq!(verdict, Ok(Verified { message_authenticator: true }));
            }
        }
    }
}
