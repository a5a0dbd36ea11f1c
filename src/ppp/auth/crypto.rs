//! Authentication cryptography: the CHAP-MD5 response (RFC 1994 §4.1) and
//! the MS-CHAPv2 routines of RFC 2759 §8, named after the RFC's
//! pseudo-code:
//!
//! | RFC 2759 §8                     | here                                |
//! |---------------------------------|-------------------------------------|
//! | 8.1 GenerateNTResponse          | [`generate_nt_response`]            |
//! | 8.2 ChallengeHash               | [`challenge_hash`]                  |
//! | 8.3 NtPasswordHash              | [`nt_password_hash`]                |
//! | 8.4 HashNtPasswordHash          | [`hash_nt_password_hash`]           |
//! | 8.5 ChallengeResponse           | [`challenge_response`]              |
//! | 8.6 DesEncrypt                  | [`des_encrypt`]                     |
//! | 8.7 GenerateAuthenticatorResponse | [`generate_authenticator_response`] |
//! | 8.8 CheckAuthenticatorResponse  | [`check_authenticator_response`]    |
//!
//! Verification helpers ([`verify_chap_md5`], [`verify_mschapv2`]) serve a
//! local user database and tests; comparisons run in constant time.

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use md4::Md4;
use md5::Md5;
use sha1::{Digest, Sha1};

/// RFC 2759 §8.7 Magic1: "Magic server to client signing constant".
const MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// RFC 2759 §8.7 Magic2: "Pad to make it do more than one iteration".
const MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";

/// RFC 1994 §4.1: the Response value is MD5(Identifier ‖ secret ‖
/// Challenge Value).
pub fn chap_md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update([id]);
    md5.update(secret);
    md5.update(challenge);
    md5.finalize().into()
}

/// Whether `response` is the CHAP-MD5 answer to `challenge` with
/// `secret` (constant-time over the 16 octets).
pub fn verify_chap_md5(id: u8, secret: &[u8], challenge: &[u8], response: &[u8]) -> bool {
    crate::wire::ct_eq(&chap_md5_response(id, secret, challenge), response)
}

/// The user name that enters ChallengeHash: RFC 2759 §8.2 "Only the user
/// name (as presented by the peer and excluding any prepended domain name)
/// is used", i.e. what follows the last `\`.
pub fn mschap_user_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b'\\') {
        Some(at) => &name[at + 1..],
        None => name,
    }
}

/// RFC 2759 §8.2 ChallengeHash: the first 8 octets of
/// SHA-1(PeerChallenge ‖ AuthenticatorChallenge ‖ UserName). `user_name`
/// is used as given; see [`mschap_user_name`].
pub fn challenge_hash(
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 8] {
    let mut sha = Sha1::new();
    sha.update(peer_challenge);
    sha.update(authenticator_challenge);
    sha.update(user_name);
    let digest: [u8; 20] = sha.finalize().into();
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE
/// ("Unicode"). The password is taken as UTF-8 (invalid sequences become
/// U+FFFD, as they would in any other Unicode conversion).
pub fn nt_password_hash(password: &[u8]) -> [u8; 16] {
    let mut md4 = Md4::new();
    for unit in String::from_utf8_lossy(password).encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    md4.finalize().into()
}

/// RFC 2759 §8.4 HashNtPasswordHash: MD4 of the password hash.
pub fn hash_nt_password_hash(password_hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(password_hash).into()
}

/// RFC 2759 §8.6 DesEncrypt: DES-encrypts one block with a 7-octet key,
/// spread over the 8 key octets DES expects (seven bits each, the parity
/// bit — which DES ignores — left zero).
pub fn des_encrypt(clear: &[u8; 8], key7: &[u8; 7]) -> [u8; 8] {
    let bits = key7.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut key = [0u8; 8];
    for (i, k) in key.iter_mut().enumerate() {
        // Bits 55-7i .. 49-7i of the 56-bit key, shifted above the parity bit.
        *k = (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1;
    }
    let cipher = Des::new(&key.into());
    let mut block = (*clear).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// RFC 2759 §8.5 ChallengeResponse: the 16-octet hash zero-padded to 21
/// octets, cut in three 7-octet DES keys, each encrypting the challenge.
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut padded = [0u8; 21];
    padded[..16].copy_from_slice(password_hash);
    let mut out = [0u8; 24];
    for (key, chunk) in padded.chunks_exact(7).zip(out.chunks_exact_mut(8)) {
        let mut key7 = [0u8; 7];
        key7.copy_from_slice(key);
        chunk.copy_from_slice(&des_encrypt(challenge, &key7));
    }
    out
}

/// RFC 2759 §8.1 GenerateNTResponse. `user_name` is the name as the peer
/// presents it; the domain part is stripped here ([`mschap_user_name`]).
pub fn generate_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    password: &[u8],
) -> [u8; 24] {
    let challenge = challenge_hash(
        peer_challenge,
        authenticator_challenge,
        mschap_user_name(user_name),
    );
    challenge_response(&challenge, &nt_password_hash(password))
}

/// RFC 2759 §8.7 GenerateAuthenticatorResponse from the password (the
/// 20 octets that go, as 40 upper-case hex digits, after `S=`).
pub fn generate_authenticator_response(
    password: &[u8],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 20] {
    let hash_hash = hash_nt_password_hash(&nt_password_hash(password));
    authenticator_response_from_hash_hash(
        &hash_hash,
        nt_response,
        peer_challenge,
        authenticator_challenge,
        user_name,
    )
}

/// RFC 2759 §8.7 from HashNtPasswordHash (what an AAA server that stores
/// NT hashes holds). `user_name`'s domain part is stripped here.
pub fn authenticator_response_from_hash_hash(
    password_hash_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 20] {
    let mut sha = Sha1::new();
    sha.update(password_hash_hash);
    sha.update(nt_response);
    sha.update(MAGIC1);
    let digest: [u8; 20] = sha.finalize().into();
    let challenge = challenge_hash(
        peer_challenge,
        authenticator_challenge,
        mschap_user_name(user_name),
    );
    let mut sha = Sha1::new();
    sha.update(digest);
    sha.update(challenge);
    sha.update(MAGIC2);
    sha.finalize().into()
}

/// RFC 2759 §8.8 CheckAuthenticatorResponse: whether the authenticator
/// response received proves the authenticator knows the password
/// (constant-time).
pub fn check_authenticator_response(
    password: &[u8],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
    received: &[u8; 20],
) -> bool {
    let expected = generate_authenticator_response(
        password,
        nt_response,
        peer_challenge,
        authenticator_challenge,
        user_name,
    );
    crate::wire::ct_eq(&expected, received)
}

/// Verifies an MS-CHAPv2 NT-Response against a known password; on success
/// returns the authenticator response for the Success packet.
pub fn verify_mschapv2(
    user_name: &[u8],
    password: &[u8],
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    nt_response: &[u8; 24],
) -> Option<[u8; 20]> {
    let expected =
        generate_nt_response(authenticator_challenge, peer_challenge, user_name, password);
    crate::wire::ct_eq(&expected, nt_response).then(|| {
        generate_authenticator_response(
            password,
            nt_response,
            peer_challenge,
            authenticator_challenge,
            user_name,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let bytes = hex::decode(text.replace(' ', "")).unwrap();
        bytes.try_into().unwrap()
    }

    // RFC 2759 §9.2 sample data.
    const USER: &[u8] = b"User";
    const PASSWORD: &[u8] = b"clientPass";

    fn auth_challenge() -> [u8; 16] {
        hex("5B5D7C7D7B3F2F3E3C2C602132262628")
    }
    fn peer_challenge() -> [u8; 16] {
        hex("21402324255E262A28295F2B3A337C7E")
    }

    #[test]
    fn rfc2759_section_9_2_vectors() {
        assert_eq!(
            challenge_hash(&peer_challenge(), &auth_challenge(), USER),
            hex::<8>("D02E4386BCE91226")
        );
        let hash = nt_password_hash(PASSWORD);
        assert_eq!(hash, hex::<16>("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(
            hash_nt_password_hash(&hash),
            hex::<16>("41C00C584BD2D91C4017A2A12FA59F3F")
        );
        let nt_response =
            generate_nt_response(&auth_challenge(), &peer_challenge(), USER, PASSWORD);
        assert_eq!(
            nt_response,
            hex::<24>("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
        );
        let auth = generate_authenticator_response(
            PASSWORD,
            &nt_response,
            &peer_challenge(),
            &auth_challenge(),
            USER,
        );
        assert_eq!(auth, hex::<20>("407A5589115FD0D6209F510FE9C04566932CDA56"));
        assert!(check_authenticator_response(
            PASSWORD,
            &nt_response,
            &peer_challenge(),
            &auth_challenge(),
            USER,
            &auth
        ));
        let mut wrong = auth;
        wrong[19] ^= 1;
        assert!(!check_authenticator_response(
            PASSWORD,
            &nt_response,
            &peer_challenge(),
            &auth_challenge(),
            USER,
            &wrong
        ));
        assert_eq!(
            verify_mschapv2(
                USER,
                PASSWORD,
                &auth_challenge(),
                &peer_challenge(),
                &nt_response
            ),
            Some(auth)
        );
        assert_eq!(
            verify_mschapv2(
                USER,
                b"wrong",
                &auth_challenge(),
                &peer_challenge(),
                &nt_response
            ),
            None
        );
    }

    #[test]
    fn domain_is_stripped_from_the_user_name() {
        assert_eq!(mschap_user_name(b"CORP\\User"), b"User");
        assert_eq!(mschap_user_name(b"User"), b"User");
        assert_eq!(mschap_user_name(b"a\\b\\"), b"");
        assert_eq!(
            generate_nt_response(
                &auth_challenge(),
                &peer_challenge(),
                b"CORP\\User",
                PASSWORD
            ),
            generate_nt_response(&auth_challenge(), &peer_challenge(), USER, PASSWORD),
        );
    }

    #[test]
    fn des_key_expansion_matches_the_classic_example() {
        // The classic DES example: key 0123456789ABCDEF encrypts "Now is t"
        // to 3FA40E8A984D4815. Its 56 key bits (parity bits dropped) are
        // packed into 7 octets, which des_encrypt must spread back out.
        let key8: [u8; 8] = hex("0123456789ABCDEF");
        let bits = key8
            .iter()
            .fold(0u64, |acc, b| (acc << 7) | u64::from(b >> 1));
        let key7: [u8; 7] = bits.to_be_bytes()[1..].try_into().unwrap();
        assert_eq!(
            des_encrypt(b"Now is t", &key7),
            hex::<8>("3FA40E8A984D4815")
        );
    }

    proptest::proptest! {
        /// Generation and verification agree for any user and password, and
        /// a different password never verifies.
        #[test]
        fn mschapv2_generate_and_verify_agree(
            user in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            password in ".{0,20}",
            auth in proptest::prelude::any::<[u8; 16]>(),
            peer in proptest::prelude::any::<[u8; 16]>(),
        ) {
            let nt = generate_nt_response(&auth, &peer, &user, password.as_bytes());
            let expected =
                generate_authenticator_response(password.as_bytes(), &nt, &peer, &auth, &user);
            proptest::prop_assert_eq!(
                verify_mschapv2(&user, password.as_bytes(), &auth, &peer, &nt),
                Some(expected)
            );
            let mut other = password;
            other.push('x');
            proptest::prop_assert_eq!(
                verify_mschapv2(&user, other.as_bytes(), &auth, &peer, &nt),
                None
            );
        }
    }

    #[test]
    fn chap_md5_known_answer() {
        // MD5(0x01 ‖ "secret" ‖ 16×0xaa), computed independently with
        // Python's hashlib.
        let response = chap_md5_response(1, b"secret", &[0xaa; 16]);
        assert_eq!(response, hex::<16>("ff7d4622a5e64f5f5874b1c5b5f43422"));
        assert!(verify_chap_md5(1, b"secret", &[0xaa; 16], &response));
        assert!(!verify_chap_md5(2, b"secret", &[0xaa; 16], &response));
        assert!(!verify_chap_md5(1, b"secret", &[0xaa; 16], &response[..15]));
    }
}
