//! Tunnel authentication (RFC 2661 §4.2 Challenge / Challenge Response
//! AVPs, §5.1.1).
//!
//! A CHAP-like exchange (RFC 1994): the response is
//! `MD5(ID + shared secret + challenge)`, where the one-octet ID is "the
//! value of the Message Type AVP of the message carrying the response" —
//! 2 (SCCRP) for the response to the SCCRQ's Challenge, 3 (SCCCN) for the
//! response to the SCCRP's Challenge.

use md5::{Digest, Md5};

use super::message::MessageType;

/// Computes the Challenge Response to `challenge` for a response carried in
/// a message of type `message_type_id` (2 = SCCRP, 3 = SCCCN).
pub fn challenge_response(message_type_id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update([message_type_id]);
    md5.update(secret);
    md5.update(challenge);
    md5.finalize().into()
}

/// [`challenge_response`] for a response carried in `carrier` (SCCRP or
/// SCCCN); `None` for a message type that does not fit in the ID octet.
pub fn challenge_response_for(
    carrier: MessageType,
    secret: &[u8],
    challenge: &[u8],
) -> Option<[u8; 16]> {
    let id = u8::try_from(u16::from(carrier)).ok()?;
    Some(challenge_response(id, secret, challenge))
}

/// Checks a received Challenge Response in constant time.
pub fn verify_challenge_response(
    message_type_id: u8,
    secret: &[u8],
    challenge: &[u8],
    response: &[u8],
) -> bool {
    let expected = challenge_response(message_type_id, secret, challenge);
    crate::wire::ct_eq(&expected, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_chap_construction() {
        // MD5(0x02 || "secret" || challenge) computed independently:
        // python3 -c 'import hashlib;print(hashlib.md5(b"\x02secret"+bytes.fromhex("00112233")).hexdigest())'
        let response = challenge_response(2, b"secret", &[0x00, 0x11, 0x22, 0x33]);
        assert_eq!(hex::encode(response), "902f53cd00e4f90c90d2be69b9d84b71");
        assert!(verify_challenge_response(
            2,
            b"secret",
            &[0x00, 0x11, 0x22, 0x33],
            &response
        ));
        assert!(!verify_challenge_response(
            3,
            b"secret",
            &[0x00, 0x11, 0x22, 0x33],
            &response
        ));
        assert!(!verify_challenge_response(
            2,
            b"secret",
            &[0x00, 0x11, 0x22, 0x33],
            &response[..15]
        ));
        assert_eq!(
            challenge_response_for(MessageType::Sccrp, b"secret", &[0x00, 0x11, 0x22, 0x33]),
            Some(response)
        );
        assert_eq!(
            challenge_response_for(MessageType::Unknown(300), b"", b""),
            None
        );
    }
}
