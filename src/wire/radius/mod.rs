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
//!
//! # Layout
//!
//! * [`attr`], [`vendor`] — attribute type numbers and vendor ids;
//! * `packet` — the zero-copy [`Packet`] view, its checked constructor,
//!   attribute iteration and the owned [`PacketRepr`] (RFC 2865 §3, §5);
//! * `builder` — [`PacketBuilder`], the attribute list writer;
//! * `auth` — Request / Response Authenticators, Message-Authenticator and
//!   signing (RFC 2865 §3, RFC 2866 §3, RFC 3579 §3.2, RFC 5176 §2.3 / §3.5);
//! * `hide` — User-Password (RFC 2865 §5.2) and the salted hiding of
//!   Tunnel-Password / MS-MPPE keys (RFC 2868 §3.5, RFC 2548 §2.4.2);
//! * `tunnel` — RFC 2868 tagged tunnel attributes;
//! * `vsa` — Vendor-Specific attributes (RFC 2865 §5.26).
#![allow(clippy::module_name_repetitions)]

mod auth;
mod builder;
mod hide;
mod packet;
mod tunnel;
mod vsa;

pub mod attr;
pub mod vendor;

pub use auth::{AuthError, Verified, hmac_md5};
pub use builder::PacketBuilder;
pub use hide::{
    Plaintext, decrypt_salted, encrypt_salted, hide_user_password, unhide_user_password,
    user_password_hidden_len,
};
pub use packet::{Attribute, AttributeIter, AttributeRepr, Packet, PacketRepr};
pub use tunnel::{
    MAX_TAG, TagLayout, TaggedTunnelAttribute, TunnelMediumType, TunnelType, TunnelValue,
    tag_layout,
};
pub use vsa::VendorSpecific;

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

#[cfg(test)]
mod test_support {
    use proptest::prelude::*;

    use super::*;

    pub(super) const SECRET: &[u8] = b"testing123";
    pub(super) const RA: Authenticator = [
        0xc2, 0x18, 0x75, 0x57, 0xb8, 0xdf, 0x34, 0x26, 0x03, 0xe8, 0x29, 0xdd, 0xbf, 0x81, 0xcd,
        0xfe,
    ];

    pub(super) fn build(code: Code, f: impl FnOnce(&mut PacketBuilder<'_>)) -> Vec<u8> {
        let mut buf = [0u8; MAX_PACKET_LEN];
        let mut b = PacketBuilder::new(&mut buf, code, 7, &RA).unwrap();
        f(&mut b);
        let len = b.finish();
        buf[..len].to_vec()
    }

    pub(super) fn arb_attributes() -> impl Strategy<Value = Vec<AttributeRepr>> {
        prop::collection::vec(
            (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(ty, value)| AttributeRepr { ty, value }),
            0..20,
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::test_support::*;
    use super::*;

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

    proptest! {
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
    }
}
