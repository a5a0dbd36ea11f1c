//! Constant-time equality for secrets, authenticators and MACs (the
//! `subtle` crate), so that a comparison leaks no more than the lengths.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` hold the same octets, in time that depends only on
/// their lengths: slices of different lengths are unequal without a look at
/// their contents, equal lengths are compared in full.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn equal_unequal_and_length_mismatch() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(&[7; 16], &[7; 16]));
        let mut last = [7; 16];
        last[15] = 8;
        assert!(!ct_eq(&[7; 16], &last));
        assert!(!ct_eq(&[0x80; 16], &[0; 16]));
        assert!(!ct_eq(b"secret", b"secret!"));
        assert!(!ct_eq(b"secret!", b"secret"));
        assert!(!ct_eq(b"", b"x"));
    }
}
