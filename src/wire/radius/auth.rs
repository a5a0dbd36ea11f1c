//! Authenticators: the Request / Response Authenticator, the
//! Message-Authenticator and signing / verification in the order the RFCs
//! require.
//!
//! Implements:
//!
//! * RFC 2865 §3 (Request Authenticator of Access-Request, Response
//!   Authenticator of every reply);
//! * RFC 2866 §3 (Accounting-Request authenticator) and RFC 5176 §2.3 (the
//!   same for CoA / Disconnect requests);
//! * RFC 2869 §5.14 and RFC 3579 §3.2 (Message-Authenticator: HMAC-MD5 of
//!   RFC 2104, from the `hmac` crate, computed before the Authenticator
//!   field), RFC 5176 §3.5 (in dynamic authorization packets);
//! * the FreeRADIUS 3.2.1 zero-authenticator form, accepted on verification
//!   of the responses where it was measured (see the parent module).

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};

use super::{
    AUTHENTICATOR_LEN, Authenticator, AuthenticatorKind, Code, HEADER_LEN,
    MESSAGE_AUTHENTICATOR_LEN, Packet, attr,
};
use crate::wire::{Error, ct_eq};

impl<T: AsRef<[u8]>> Packet<T> {
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
        let mut mac = keyed(secret);
        mac.update(&bytes[..4]);
        mac.update(authenticator_field);
        mac.update(&bytes[HEADER_LEN..ma_offset]);
        mac.update(&[0; MESSAGE_AUTHENTICATOR_LEN]);
        mac.update(&bytes[ma_offset + MESSAGE_AUTHENTICATOR_LEN..]);
        mac.finalize().into_bytes().into()
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

pub(super) fn md5_parts(parts: &[&[u8]]) -> Authenticator {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// HMAC-MD5 (RFC 2104), as RFC 3579 §3.2 uses it for the
/// Message-Authenticator.
type HmacMd5 = Hmac<Md5>;

/// A fresh HMAC-MD5 keyed with `key`.
fn keyed(key: &[u8]) -> HmacMd5 {
    // HMAC takes a key of any length (RFC 2104 §2: a longer one is hashed
    // first); `Hmac::new_from_slice` never refuses one — the crate's own
    // `KeyInit::new` makes the same `expect`.
    <HmacMd5 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// HMAC-MD5 of `data` under `key` (exposed for tests and for callers that
/// sign other structures with the RADIUS secret).
#[must_use]
pub fn hmac_md5(key: &[u8], data: &[u8]) -> Authenticator {
    let mut mac = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::radius::test_support::*;
    use crate::wire::radius::{MAX_PACKET_LEN, PacketBuilder, TunnelType, TunnelValue};

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

    proptest! {
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
