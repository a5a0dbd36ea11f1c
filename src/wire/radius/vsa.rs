//! Vendor-Specific attributes (RFC 2865 §5.26): Vendor-Id (high-order
//! octet 0) and sub-attributes in the recommended 1-octet type, 1-octet
//! length format.

use super::{Attribute, AttributeIter};
use crate::wire::{Error, Result, ensure_len};

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

pub(super) fn write_vendor_header(vendor_id: u32, out: &mut [u8]) -> Result<()> {
    if vendor_id > 0x00ff_ffff {
        return Err(Error::Malformed(
            "Vendor-Id above 2^24-1 (RFC 2865 §5.26: high-order octet is 0)",
        ));
    }
    out[..4].copy_from_slice(&vendor_id.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::radius::test_support::*;
    use crate::wire::radius::{Code, Packet, attr, decrypt_salted, vendor};

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
}
