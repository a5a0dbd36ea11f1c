//! Attribute hiding.
//!
//! Implements:
//!
//! * RFC 2865 §5.2 (User-Password: MD5 chained over the shared secret and
//!   the Request Authenticator, padded to 16-octet blocks);
//! * RFC 2868 §3.5 (Tunnel-Password: salt + encrypted Data-Length, data and
//!   padding) and RFC 2548 §2.4.2 / §2.4.3 (MS-MPPE-Send-Key / Recv-Key, the
//!   same salted scheme).

use core::fmt;

use super::auth::md5_parts;
use super::{AUTHENTICATOR_LEN, Authenticator, MAX_SALTED_PLAINTEXT_LEN, MAX_USER_PASSWORD_LEN};
use crate::wire::{Error, Result, ensure_len, ensure_room};

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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::radius::attr;
    use crate::wire::radius::test_support::*;

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

    proptest! {
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
    }
}
