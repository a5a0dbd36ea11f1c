//! RFC 2868 tagged tunnel attributes.
//!
//! Implements RFC 2868 §3.1–§3.10 (Tunnel-Type, Tunnel-Medium-Type, the
//! endpoint, group, assignment, preference and auth-id attributes, and the
//! tag octet of each), with Tunnel-Type values from RFC 3580 §3.31; the
//! Tunnel-Password value (§3.5) is kept hidden here and decrypted by
//! [`decrypt_salted`](super::decrypt_salted).

use super::{AUTHENTICATOR_LEN, Attribute, MAX_VALUE_LEN, attr};
use crate::wire::{Error, Result, ensure_len, ensure_room};

crate::open_enum! {
    /// Tunnel-Type values (RFC 2868 §3.1, RFC 3580 §3.31).
    pub enum TunnelType(u32) {
        /// Point-to-Point Tunneling Protocol.
        Pptp = 1,
        /// Layer Two Forwarding.
        L2f = 2,
        /// Layer Two Tunneling Protocol.
        L2tp = 3,
        /// Ascend Tunnel Management Protocol.
        Atmp = 4,
        /// Virtual Tunneling Protocol.
        Vtp = 5,
        /// IP Authentication Header in tunnel mode.
        Ah = 6,
        /// IP-in-IP encapsulation.
        IpIp = 7,
        /// Minimal IP-in-IP encapsulation.
        MinIpIp = 8,
        /// IP Encapsulating Security Payload in tunnel mode.
        Esp = 9,
        /// Generic Route Encapsulation.
        Gre = 10,
        /// Bay Dial Virtual Services.
        Dvs = 11,
        /// IP-in-IP tunneling.
        IpInIp = 12,
        /// VLAN (RFC 3580).
        Vlan = 13,
    }
}

crate::open_enum! {
    /// Tunnel-Medium-Type values (RFC 2868 §3.2, from the IANA address
    /// family numbers).
    pub enum TunnelMediumType(u32) {
        /// IPv4 (IP version 4).
        Ipv4 = 1,
        /// IPv6 (IP version 6).
        Ipv6 = 2,
        /// NSAP.
        Nsap = 3,
        /// HDLC (8-bit multidrop).
        Hdlc = 4,
        /// BBN 1822.
        Bbn1822 = 5,
        /// 802 (includes all 802 media plus Ethernet "canonical format").
        Ieee802 = 6,
        /// E.163 (POTS).
        E163 = 7,
        /// E.164 (SMDS, Frame Relay, ATM).
        E164 = 8,
        /// F.69 (Telex).
        F69 = 9,
        /// X.121 (X.25, Frame Relay).
        X121 = 10,
        /// IPX.
        Ipx = 11,
        /// Appletalk.
        Appletalk = 12,
        /// Decnet IV.
        DecnetIv = 13,
        /// Banyan Vines.
        BanyanVines = 14,
        /// E.164 with NSAP format subaddress.
        E164Nsap = 15,
    }
}

/// Highest valid tag (RFC 2868 §3.1: tags 0x01-0x1F group attributes).
pub const MAX_TAG: u8 = 0x1f;

pub(super) fn check_tag(tag: u8) -> Result<()> {
    if tag > MAX_TAG {
        Err(Error::Malformed("RFC 2868 tag above 0x1F"))
    } else {
        Ok(())
    }
}

/// How an RFC 2868 attribute carries its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagLayout {
    /// Integer attributes (Tunnel-Type, Tunnel-Medium-Type,
    /// Tunnel-Preference): the first octet is always the tag, the value is
    /// the 3 octets after it (attribute Length 6).
    Integer,
    /// String attributes: a first octet 0x01-0x1F is a tag; any other first
    /// octet belongs to the value and the tag is 0 (RFC 2868 §3.3: "If the
    /// Tag field is greater than 0x1F, it SHOULD be interpreted as indicating
    /// the first byte of the following String field").
    String,
    /// Tunnel-Password: a tag octet is always present, then salt and
    /// ciphertext (RFC 2868 §3.5).
    Password,
}

/// The tag layout of an RFC 2868 attribute type, `None` for other types.
#[must_use]
pub const fn tag_layout(ty: u8) -> Option<TagLayout> {
    match ty {
        attr::TUNNEL_TYPE | attr::TUNNEL_MEDIUM_TYPE | attr::TUNNEL_PREFERENCE => {
            Some(TagLayout::Integer)
        }
        attr::TUNNEL_CLIENT_ENDPOINT
        | attr::TUNNEL_SERVER_ENDPOINT
        | attr::TUNNEL_PRIVATE_GROUP_ID
        | attr::TUNNEL_ASSIGNMENT_ID
        | attr::TUNNEL_CLIENT_AUTH_ID
        | attr::TUNNEL_SERVER_AUTH_ID => Some(TagLayout::String),
        attr::TUNNEL_PASSWORD => Some(TagLayout::Password),
        _ => None,
    }
}

/// The value of one RFC 2868 tunnel attribute, tag removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelValue<'a> {
    /// Tunnel-Type (64).
    Type(TunnelType),
    /// Tunnel-Medium-Type (65).
    MediumType(TunnelMediumType),
    /// Tunnel-Client-Endpoint (66): address or FQDN text.
    ClientEndpoint(&'a [u8]),
    /// Tunnel-Server-Endpoint (67): address or FQDN text.
    ServerEndpoint(&'a [u8]),
    /// Tunnel-Password (69): still hidden, `salt || ciphertext`; decrypt
    /// with [`decrypt_salted`](super::decrypt_salted) and the
    /// Access-Request's authenticator.
    Password(&'a [u8]),
    /// Tunnel-Private-Group-ID (81).
    PrivateGroupId(&'a [u8]),
    /// Tunnel-Assignment-ID (82).
    AssignmentId(&'a [u8]),
    /// Tunnel-Preference (83).
    Preference(u32),
    /// Tunnel-Client-Auth-ID (90).
    ClientAuthId(&'a [u8]),
    /// Tunnel-Server-Auth-ID (91).
    ServerAuthId(&'a [u8]),
}

/// An RFC 2868 attribute decoded: its tag (0 = none) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaggedTunnelAttribute<'a> {
    /// Tag 0x00-0x1F; 0 when the attribute carries none.
    pub tag: u8,
    /// The value.
    pub value: TunnelValue<'a>,
}

impl<'a> TunnelValue<'a> {
    /// The attribute type this value is carried in.
    #[must_use]
    pub const fn attribute_type(&self) -> u8 {
        match self {
            Self::Type(_) => attr::TUNNEL_TYPE,
            Self::MediumType(_) => attr::TUNNEL_MEDIUM_TYPE,
            Self::ClientEndpoint(_) => attr::TUNNEL_CLIENT_ENDPOINT,
            Self::ServerEndpoint(_) => attr::TUNNEL_SERVER_ENDPOINT,
            Self::Password(_) => attr::TUNNEL_PASSWORD,
            Self::PrivateGroupId(_) => attr::TUNNEL_PRIVATE_GROUP_ID,
            Self::AssignmentId(_) => attr::TUNNEL_ASSIGNMENT_ID,
            Self::Preference(_) => attr::TUNNEL_PREFERENCE,
            Self::ClientAuthId(_) => attr::TUNNEL_CLIENT_AUTH_ID,
            Self::ServerAuthId(_) => attr::TUNNEL_SERVER_AUTH_ID,
        }
    }

    /// Decodes an attribute; `Ok(None)` when it is not an RFC 2868 one.
    ///
    /// # Errors
    /// [`Error::Malformed`] for an integer attribute whose value is not a
    /// tag plus 3 octets or whose tag is above 0x1F, an empty string value, or a
    /// Tunnel-Password shorter than tag + salt + one block.
    pub fn parse(attribute: &Attribute<'a>) -> Result<Option<TaggedTunnelAttribute<'a>>> {
        let value = attribute.value();
        let Some(layout) = tag_layout(attribute.ty()) else {
            return Ok(None);
        };
        let (tag, rest) = match layout {
            TagLayout::Integer => match *value {
                // RFC 2868 §3.1: Length 6; Tag one octet; Value three octets.
                [tag, a, b, c] => {
                    check_tag(tag)?;
                    (tag, Rest::Int(u32::from_be_bytes([0, a, b, c])))
                }
                _ => {
                    return Err(Error::Malformed(
                        "RFC 2868 integer attribute must be tag + 3 octets (Length 6)",
                    ));
                }
            },
            TagLayout::String => {
                let Some(&first) = value.first() else {
                    return Err(Error::Malformed("RFC 2868 string attribute is empty"));
                };
                if (1..=MAX_TAG).contains(&first) {
                    (first, Rest::Bytes(&value[1..]))
                } else {
                    (0, Rest::Bytes(value))
                }
            }
            TagLayout::Password => {
                ensure_len(
                    "Tunnel-Password (tag + salt + 16)",
                    value,
                    3 + AUTHENTICATOR_LEN,
                )?;
                let tag = value[0];
                check_tag(tag)?;
                (tag, Rest::Bytes(&value[1..]))
            }
        };
        let value = match (attribute.ty(), rest) {
            (attr::TUNNEL_TYPE, Rest::Int(v)) => Self::Type(TunnelType::from(v)),
            (attr::TUNNEL_MEDIUM_TYPE, Rest::Int(v)) => Self::MediumType(TunnelMediumType::from(v)),
            (attr::TUNNEL_PREFERENCE, Rest::Int(v)) => Self::Preference(v),
            (attr::TUNNEL_CLIENT_ENDPOINT, Rest::Bytes(b)) => Self::ClientEndpoint(b),
            (attr::TUNNEL_SERVER_ENDPOINT, Rest::Bytes(b)) => Self::ServerEndpoint(b),
            (attr::TUNNEL_PASSWORD, Rest::Bytes(b)) => Self::Password(b),
            (attr::TUNNEL_PRIVATE_GROUP_ID, Rest::Bytes(b)) => Self::PrivateGroupId(b),
            (attr::TUNNEL_ASSIGNMENT_ID, Rest::Bytes(b)) => Self::AssignmentId(b),
            (attr::TUNNEL_CLIENT_AUTH_ID, Rest::Bytes(b)) => Self::ClientAuthId(b),
            (attr::TUNNEL_SERVER_AUTH_ID, Rest::Bytes(b)) => Self::ServerAuthId(b),
            _ => return Ok(None),
        };
        Ok(Some(TaggedTunnelAttribute { tag, value }))
    }

    /// Writes the attribute value (tag included) into `out`, returning its
    /// length.
    ///
    /// * integers: tag (0 when unused — RFC 2868 §3.1 "If the Tag field is
    ///   unused, it MUST be zero (0x00)") + 3-octet value;
    /// * strings: the tag octet when `tag` is 1..=0x1F; with tag 0 the value
    ///   is written bare, which requires its first octet to be above 0x1F
    ///   (else a reader would take it for a tag);
    /// * Password: tag + the already-hidden `salt || ciphertext` (see
    ///   [`PacketBuilder::push_tunnel_password`](
    ///   super::PacketBuilder::push_tunnel_password)).
    ///
    /// # Errors
    /// [`Error::Malformed`] for a tag above 0x1F, an integer above 2^24 − 1,
    /// an empty string, an untagged string starting with 0x00-0x1F, or a
    /// value too long; [`Error::BufferTooSmall`].
    pub fn emit(&self, tag: u8, out: &mut [u8]) -> Result<usize> {
        check_tag(tag)?;
        let integer = match *self {
            Self::Type(t) => Some(u32::from(t)),
            Self::MediumType(m) => Some(u32::from(m)),
            Self::Preference(p) => Some(p),
            _ => None,
        };
        if let Some(v) = integer {
            if v > 0x00ff_ffff {
                return Err(Error::Malformed("RFC 2868 integer value above 2^24-1"));
            }
            ensure_room(out, 4)?;
            out[0] = tag;
            out[1..4].copy_from_slice(&v.to_be_bytes()[1..]);
            return Ok(4);
        }
        let bytes = match *self {
            Self::ClientEndpoint(b)
            | Self::ServerEndpoint(b)
            | Self::PrivateGroupId(b)
            | Self::AssignmentId(b)
            | Self::ClientAuthId(b)
            | Self::ServerAuthId(b) => b,
            Self::Password(hidden) => {
                let len = 1 + hidden.len();
                if len > MAX_VALUE_LEN {
                    return Err(Error::Malformed("Tunnel-Password value too long"));
                }
                ensure_room(out, len)?;
                out[0] = tag;
                out[1..len].copy_from_slice(hidden);
                return Ok(len);
            }
            Self::Type(_) | Self::MediumType(_) | Self::Preference(_) => &[],
        };
        let Some(&first) = bytes.first() else {
            return Err(Error::Malformed("RFC 2868 string attribute is empty"));
        };
        if tag == 0 {
            if first <= MAX_TAG {
                return Err(Error::Malformed(
                    "untagged RFC 2868 string must not start with an octet 0x00-0x1F",
                ));
            }
            if bytes.len() > MAX_VALUE_LEN {
                return Err(Error::Malformed("RFC 2868 string value too long"));
            }
            ensure_room(out, bytes.len())?;
            out[..bytes.len()].copy_from_slice(bytes);
            return Ok(bytes.len());
        }
        let len = 1 + bytes.len();
        if len > MAX_VALUE_LEN {
            return Err(Error::Malformed("RFC 2868 string value too long"));
        }
        ensure_room(out, len)?;
        out[0] = tag;
        out[1..len].copy_from_slice(bytes);
        Ok(len)
    }
}

#[derive(Clone, Copy)]
enum Rest<'a> {
    Int(u32),
    Bytes(&'a [u8]),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::radius::test_support::*;
    use crate::wire::radius::{Code, Packet, decrypt_salted};

    #[test]
    fn the_radius_crate_gets_rfc_2868_wrong() {
        use radius::core::{avp::AVP, tag::Tag};
        // RFC 2868 §3.1: tag + 3-octet value. The crate writes 5 octets.
        let theirs = AVP::from_tagged_u32(attr::TUNNEL_TYPE, Some(&Tag::new(1)), 3);
        assert_eq!(theirs.encode_bytes().len(), 5);
        let mut out = [0u8; 8];
        let n = TunnelValue::Type(TunnelType::L2tp)
            .emit(1, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &[1, 0, 0, 3]);
    }

    #[test]
    fn tagged_attribute_rules() {
        let bytes = build(Code::AccessAccept, |b| {
            b.push_tunnel(1, &TunnelValue::Type(TunnelType::L2tp))
                .unwrap();
            b.push_tunnel(1, &TunnelValue::MediumType(TunnelMediumType::Ipv4))
                .unwrap();
            b.push_tunnel(2, &TunnelValue::Preference(0x00ab_cdef))
                .unwrap();
            b.push_tunnel(0, &TunnelValue::ServerEndpoint(b"192.0.2.1"))
                .unwrap();
            b.push_tunnel(31, &TunnelValue::AssignmentId(b"lns1"))
                .unwrap();
            // A string starting with 0x00 is value, not tag.
            b.push(attr::TUNNEL_CLIENT_AUTH_ID, b"\0lac").unwrap();
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let decoded: Vec<_> = packet
            .attributes()
            .map(|a| TunnelValue::parse(&a.unwrap()).unwrap().unwrap())
            .collect();
        assert_eq!(
            packet.attribute(attr::TUNNEL_TYPE).unwrap().value().len() + 2,
            6
        );
        assert_eq!(
            decoded[0],
            TaggedTunnelAttribute {
                tag: 1,
                value: TunnelValue::Type(TunnelType::L2tp)
            }
        );
        assert_eq!(
            decoded[1].value,
            TunnelValue::MediumType(TunnelMediumType::Ipv4)
        );
        assert_eq!(
            decoded[2],
            TaggedTunnelAttribute {
                tag: 2,
                value: TunnelValue::Preference(0x00ab_cdef)
            }
        );
        assert_eq!(
            decoded[3],
            TaggedTunnelAttribute {
                tag: 0,
                value: TunnelValue::ServerEndpoint(b"192.0.2.1")
            }
        );
        assert_eq!(
            decoded[4],
            TaggedTunnelAttribute {
                tag: 31,
                value: TunnelValue::AssignmentId(b"lns1")
            }
        );
        assert_eq!(
            decoded[5],
            TaggedTunnelAttribute {
                tag: 0,
                value: TunnelValue::ClientAuthId(b"\0lac")
            }
        );

        let mut out = [0u8; 300];
        assert!(
            TunnelValue::Type(TunnelType::L2tp)
                .emit(0x20, &mut out)
                .is_err()
        );
        assert!(TunnelValue::Preference(1 << 24).emit(1, &mut out).is_err());
        assert!(
            TunnelValue::AssignmentId(b"\x05x")
                .emit(0, &mut out)
                .is_err()
        );
        assert!(TunnelValue::AssignmentId(b"").emit(1, &mut out).is_err());
        assert!(
            TunnelValue::AssignmentId(&[b'a'; 253])
                .emit(1, &mut out)
                .is_err()
        );
        let bad = |ty: u8, v: &'static [u8]| Attribute {
            ty,
            value: v,
            offset: 0,
        };
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_TYPE, &[1, 0, 0, 0, 3])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_TYPE, &[0x20, 0, 0, 3])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_SERVER_ENDPOINT, &[])).is_err());
        assert!(TunnelValue::parse(&bad(attr::TUNNEL_PASSWORD, &[1, 0x80, 0])).is_err());
        assert_eq!(TunnelValue::parse(&bad(attr::USER_NAME, b"x")), Ok(None));
        assert_eq!(TunnelType::from(3), TunnelType::L2tp);
        assert_eq!(TunnelMediumType::from(2), TunnelMediumType::Ipv6);
    }

    #[test]
    fn tunnel_password_round_trip_in_a_packet() {
        let bytes = build(Code::AccessAccept, |b| {
            b.push_tunnel_password(1, b"secret", [0x80, 0x01], SECRET, &RA)
                .unwrap();
            b.push_tunnel_password(
                2,
                b"a-tunnel-secret-longer-than-sixteen-bytes",
                [0x80, 0x02],
                SECRET,
                &RA,
            )
            .unwrap();
            assert!(
                b.push_tunnel_password(0x20, b"x", [0x80, 3], SECRET, &RA)
                    .is_err()
            );
        });
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let mut got = Vec::new();
        for a in packet.attributes() {
            let t = TunnelValue::parse(&a.unwrap()).unwrap().unwrap();
            let TunnelValue::Password(hidden) = t.value else {
                panic!()
            };
            got.push((
                t.tag,
                decrypt_salted(hidden, SECRET, &RA)
                    .unwrap()
                    .as_bytes()
                    .to_vec(),
            ));
        }
        assert_eq!(
            got,
            vec![
                (1, b"secret".to_vec()),
                (2, b"a-tunnel-secret-longer-than-sixteen-bytes".to_vec())
            ]
        );
    }

    proptest! {
        #[test]
        fn tunnel_values_round_trip(tag in 0u8..=MAX_TAG, n in 0u32..=0x00ff_ffff,
                                    s in prop::collection::vec(0x20u8..=0xff, 1..200)) {
            let values = [
                TunnelValue::Type(TunnelType::from(n)),
                TunnelValue::MediumType(TunnelMediumType::from(n)),
                TunnelValue::Preference(n),
                TunnelValue::ClientEndpoint(&s),
                TunnelValue::ServerEndpoint(&s),
                TunnelValue::PrivateGroupId(&s),
                TunnelValue::AssignmentId(&s),
                TunnelValue::ClientAuthId(&s),
                TunnelValue::ServerAuthId(&s),
            ];
            for value in values {
                let mut out = [0u8; 253];
                let len = value.emit(tag, &mut out).unwrap();
                let attribute = Attribute { ty: value.attribute_type(), value: &out[..len], offset: 0 };
                let parsed = TunnelValue::parse(&attribute).unwrap().unwrap();
                prop_assert_eq!(parsed, TaggedTunnelAttribute { tag, value });
            }
        }
    }
}
