//! The zero-copy packet view ([`Packet`]) with its checked constructor,
//! attribute iteration and the owned [`PacketRepr`].
//!
//! Implements RFC 2865 §3 (packet format: Code, Identifier, Length 20..=4096,
//! Authenticator; padding past Length ignored) and §5 (attribute format).

use core::net::Ipv4Addr;

use super::{
    AUTHENTICATOR_LEN, Authenticator, Code, HEADER_LEN, MAX_PACKET_LEN, PacketBuilder,
    VendorSpecific, attr,
};
use crate::wire::{Error, Result, ensure_len};

/// A zero-copy view of a RADIUS packet (RFC 2865 §3).
///
/// [`Packet::new_checked`] validates the header and the attribute chain, so
/// afterwards no accessor panics and [`Packet::attributes`] yields no error.
/// Octets past the Length field are ignored (RFC 2865 §3: "Octets outside the
/// range of the Length field MUST be treated as padding and ignored on
/// reception").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    pub(super) buffer: T,
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
}

/// One attribute (RFC 2865 §5): type and value octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub(super) ty: u8,
    pub(super) value: &'a [u8],
    pub(super) offset: usize,
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

/// An owned attribute (type + value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeRepr {
    /// The Type field.
    pub ty: u8,
    /// The value octets (at most [`MAX_VALUE_LEN`](super::MAX_VALUE_LEN)).
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::radius::test_support::*;

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
    }
}
