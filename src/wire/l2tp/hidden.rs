//! Hiding of AVP attribute values (RFC 2661 §4.3).
//!
//! A hidden AVP's value is the *Hidden AVP Subformat*, encrypted:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Length of Original Value     |   Original Attribute Value ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ...                             |             Padding ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The cipher (adapted from RADIUS User-Password): the first 16-byte block
//! is XORed with `MD5(attribute type (2 octets) + shared secret + random
//! vector)`, every following block with `MD5(shared secret + previous
//! ciphertext block)`; a last block shorter than 16 bytes uses only the
//! leading bytes of its key block. The random vector is the value of the
//! most recent Random Vector AVP preceding the hidden AVP in the message.
//!
//! Padding "does NOT alter the value placed in the Length of Original
//! Attribute Value field". The RFC suggests random padding octets; this
//! module pads with zeros because it has no random source (it is pure).
//! Zero padding leaks nothing the Original Length field (two always-known
//! plaintext octets at the start of the first block) does not already.

use md5::{Digest, Md5};

use crate::wire::{Error, Result, ensure_len, ensure_room};

/// Length of the "Length of Original Value" field.
pub const ORIGINAL_LENGTH_LEN: usize = 2;

const BLOCK: usize = 16;

/// `MD5(attribute type + secret + random vector)`: the key for block one.
fn first_key(attr_type: u16, secret: &[u8], random_vector: &[u8]) -> [u8; BLOCK] {
    let mut md5 = Md5::new();
    md5.update(attr_type.to_be_bytes());
    md5.update(secret);
    md5.update(random_vector);
    md5.finalize().into()
}

/// `MD5(secret + previous ciphertext block)`: the key for the next block.
fn next_key(secret: &[u8], ciphertext_block: &[u8]) -> [u8; BLOCK] {
    let mut md5 = Md5::new();
    md5.update(secret);
    md5.update(ciphertext_block);
    md5.finalize().into()
}

fn xor(block: &mut [u8], key: &[u8; BLOCK]) {
    for (byte, k) in block.iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Encrypts a Hidden AVP Subformat in place.
pub fn encrypt_in_place(attr_type: u16, secret: &[u8], random_vector: &[u8], subformat: &mut [u8]) {
    let mut key = first_key(attr_type, secret, random_vector);
    let mut blocks = subformat.chunks_mut(BLOCK).peekable();
    while let Some(block) = blocks.next() {
        xor(block, &key);
        if blocks.peek().is_some() {
            key = next_key(secret, block);
        }
    }
}

/// Decrypts a hidden AVP value in place, giving back the Hidden AVP
/// Subformat (original length, value, padding).
pub fn decrypt_in_place(attr_type: u16, secret: &[u8], random_vector: &[u8], hidden: &mut [u8]) {
    let mut key = first_key(attr_type, secret, random_vector);
    let mut blocks = hidden.chunks_mut(BLOCK).peekable();
    while let Some(block) = blocks.next() {
        let next = blocks.peek().is_some().then(|| next_key(secret, block));
        xor(block, &key);
        if let Some(next) = next {
            key = next;
        }
    }
}

/// Length of the hidden value for an original value of `value_len` bytes
/// and `padding_len` bytes of padding.
pub const fn hidden_len(value_len: usize, padding_len: usize) -> usize {
    ORIGINAL_LENGTH_LEN + value_len + padding_len
}

/// Hides `value` for an AVP of type `attr_type`: writes the encrypted
/// Hidden AVP Subformat with `padding_len` (zero) padding bytes into
/// `out` and returns its length ([`hidden_len`]).
pub fn hide(
    attr_type: u16,
    secret: &[u8],
    random_vector: &[u8],
    value: &[u8],
    padding_len: usize,
    out: &mut [u8],
) -> Result<usize> {
    let original_len = u16::try_from(value.len())
        .map_err(|_| Error::Malformed("hidden AVP value longer than 65535 bytes"))?;
    let total = ORIGINAL_LENGTH_LEN
        .checked_add(value.len())
        .and_then(|len| len.checked_add(padding_len))
        .ok_or(Error::Malformed("hidden AVP padding too long"))?;
    ensure_room(out, total)?;
    let subformat = &mut out[..total];
    subformat[..ORIGINAL_LENGTH_LEN].copy_from_slice(&original_len.to_be_bytes());
    subformat[ORIGINAL_LENGTH_LEN..ORIGINAL_LENGTH_LEN + value.len()].copy_from_slice(value);
    subformat[ORIGINAL_LENGTH_LEN + value.len()..].fill(0);
    encrypt_in_place(attr_type, secret, random_vector, subformat);
    Ok(total)
}

/// Checks that a hidden value can hold the subformat's length field.
pub(crate) fn check_subformat_len(hidden: &[u8]) -> Result<()> {
    ensure_len(
        "hidden AVP subformat (Original Length)",
        hidden,
        ORIGINAL_LENGTH_LEN,
    )
}

/// Unhides in place: decrypts `hidden` and returns the original value, a
/// sub-slice of it. An Original Length larger than the decrypted data
/// (typically: a wrong secret or random vector) is malformed.
pub fn unhide_in_place<'a>(
    attr_type: u16,
    secret: &[u8],
    random_vector: &[u8],
    hidden: &'a mut [u8],
) -> Result<&'a [u8]> {
    check_subformat_len(hidden)?;
    decrypt_in_place(attr_type, secret, random_vector, hidden);
    let original_len = usize::from(u16::from_be_bytes([hidden[0], hidden[1]]));
    let rest = &hidden[ORIGINAL_LENGTH_LEN..];
    rest.get(..original_len).ok_or(Error::Malformed(
        "hidden AVP Original Length exceeds the decrypted data (wrong secret or random vector?)",
    ))
}

/// Unhides a hidden AVP value and returns the original value.
pub fn unhide(
    attr_type: u16,
    secret: &[u8],
    random_vector: &[u8],
    hidden: &[u8],
) -> Result<Vec<u8>> {
    let mut scratch = hidden.to_vec();
    let value = unhide_in_place(attr_type, secret, random_vector, &mut scratch)?;
    Ok(value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straight transcription of the RFC's description, block by block with
    /// explicit intermediate values, to cross-check the in-place code.
    fn reference_hide(attr_type: u16, secret: &[u8], rv: &[u8], subformat: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut previous: Option<Vec<u8>> = None;
        for chunk in subformat.chunks(16) {
            let mut md5 = Md5::new();
            match &previous {
                None => {
                    md5.update(attr_type.to_be_bytes());
                    md5.update(secret);
                    md5.update(rv);
                }
                Some(c) => {
                    md5.update(secret);
                    md5.update(c);
                }
            }
            let b: [u8; 16] = md5.finalize().into();
            let c: Vec<u8> = chunk.iter().zip(b).map(|(p, k)| p ^ k).collect();
            out.extend_from_slice(&c);
            previous = Some(c);
        }
        out
    }

    proptest! {
        #[test]
        fn hide_unhide_round_trip(
            attr_type in any::<u16>(),
            secret in proptest::collection::vec(any::<u8>(), 0..40),
            rv in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..100),
            padding in 0usize..40,
        ) {
            let mut out = vec![0u8; hidden_len(value.len(), padding)];
            let n = hide(attr_type, &secret, &rv, &value, padding, &mut out).unwrap();
            prop_assert_eq!(n, out.len());
            let mut subformat = (value.len() as u16).to_be_bytes().to_vec();
            subformat.extend_from_slice(&value);
            subformat.extend(std::iter::repeat_n(0, padding));
            prop_assert_eq!(&out, &reference_hide(attr_type, &secret, &rv, &subformat));
            prop_assert_eq!(unhide(attr_type, &secret, &rv, &out).unwrap(), value);
        }

        #[test]
        fn unhide_arbitrary_never_panics(
            attr_type in any::<u16>(),
            secret in proptest::collection::vec(any::<u8>(), 0..20),
            rv in proptest::collection::vec(any::<u8>(), 0..20),
            hidden in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            if let Ok(value) = unhide(attr_type, &secret, &rv, &hidden) {
                prop_assert!(value.len() + 2 <= hidden.len());
            }
        }
    }

    #[test]
    fn truncated_subformat() {
        for len in 0..2 {
            assert!(matches!(
                unhide(9, b"s", b"rv", &vec![0; len]),
                Err(Error::Truncated { need: 2, .. })
            ));
        }
    }

    #[test]
    fn original_length_beyond_data_is_malformed() {
        // Encrypt a subformat that claims 10 bytes but carries 3.
        let mut subformat = vec![0, 10, 1, 2, 3];
        encrypt_in_place(9, b"secret", b"vector", &mut subformat);
        assert!(matches!(
            unhide(9, b"secret", b"vector", &subformat),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn attribute_type_is_part_of_the_key() {
        let mut out = [0u8; 4];
        hide(9, b"secret", b"vector", &[0x12, 0x34], 0, &mut out).unwrap();
        assert_eq!(unhide(9, b"secret", b"vector", &out).unwrap(), [0x12, 0x34]);
        assert_ne!(
            unhide(14, b"secret", b"vector", &out).ok(),
            Some(vec![0x12, 0x34])
        );
    }

    #[test]
    fn output_buffer_too_small() {
        let mut out = [0u8; 3];
        assert!(matches!(
            hide(1, b"s", b"v", &[1, 2], 0, &mut out),
            Err(Error::BufferTooSmall { need: 4, have: 3 })
        ));
    }
}
