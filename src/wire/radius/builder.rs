//! [`PacketBuilder`]: writes a RADIUS packet attribute by attribute into a
//! caller-owned buffer, then sets the Length and signs it.
//!
//! Implements RFC 2865 §3 (header, Length ≤ 4096) and §5 (attribute format,
//! value ≤ 253 octets), with the typed writers for User-Password (§5.2),
//! RFC 2868 tagged attributes (§3) and Tunnel-Password (§3.5),
//! Vendor-Specific (RFC 2865 §5.26), MS-MPPE keys (RFC 2548 §2.4.2) and the
//! Message-Authenticator placeholder (RFC 3579 §3.2, placed first per
//! RFC 5080 §2.2.2).

use core::net::Ipv4Addr;

use super::tunnel::check_tag;
use super::vsa::write_vendor_header;
use super::{
    AUTHENTICATOR_LEN, AuthError, Authenticator, Code, HEADER_LEN, MAX_PACKET_LEN, MAX_VALUE_LEN,
    MESSAGE_AUTHENTICATOR_LEN, Packet, TunnelValue, attr, encrypt_salted, hide_user_password,
    user_password_hidden_len,
};
use crate::wire::{Error, Result, ensure_room};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::radius::test_support::*;

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
}
