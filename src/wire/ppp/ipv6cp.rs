//! IPv6CP Configuration Options (RFC 5072 §4).
//!
//! | Type | Option                     | Data        |
//! |------|----------------------------|-------------|
//! | 1    | Interface-Identifier       | 8 bytes     |
//! | 2    | IPv6-Compression-Protocol  | u16 + data  |
//!
//! IPv6CP uses the LCP packet format with Codes 1–7 only (RFC 5072 §3).

use super::Protocol;
use super::control::{ConfigOption, ControlRepr, RawOption, read_u16};
use crate::wire::{Error, Result};

/// An IPv6CP packet.
pub type Ipv6cpRepr = ControlRepr<Ipv6cpOption>;

/// Length of an Interface-Identifier.
pub const INTERFACE_IDENTIFIER_LEN: usize = 8;

/// One IPv6CP Configuration Option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ipv6cpOption {
    /// Interface-Identifier (RFC 5072 §4.1). RFC 5072: the all-zero
    /// identifier means the sender asks the peer to suggest one.
    InterfaceIdentifier([u8; INTERFACE_IDENTIFIER_LEN]),
    /// IPv6-Compression-Protocol (RFC 5072 §4.2).
    Compression {
        /// The compression protocol.
        protocol: Protocol,
        /// The data after the protocol.
        data: Vec<u8>,
    },
    /// Any other option, verbatim. Never carries Type 1 or 2.
    Unknown {
        /// Type.
        option_type: u8,
        /// Data.
        data: Vec<u8>,
    },
}

impl ConfigOption for Ipv6cpOption {
    const PROTOCOL: Protocol = Protocol::Ipv6cp;
    const LINK_CONTROL: bool = false;

    fn parse(raw: RawOption<'_>) -> Result<Self> {
        Ok(match raw.option_type {
            1 => Self::InterfaceIdentifier(
                <[u8; INTERFACE_IDENTIFIER_LEN]>::try_from(raw.data).map_err(|_| {
                    Error::Malformed("IPv6CP Interface-Identifier option is not 10 bytes")
                })?,
            ),
            2 => {
                if raw.data.len() < 2 {
                    return Err(Error::Malformed(
                        "IPv6CP IPv6-Compression-Protocol option shorter than 4 bytes",
                    ));
                }
                Self::Compression {
                    protocol: Protocol::from(read_u16(raw.data, 0)),
                    data: raw.data[2..].to_vec(),
                }
            }
            option_type => Self::Unknown {
                option_type,
                data: raw.data.to_vec(),
            },
        })
    }

    fn option_type(&self) -> u8 {
        match self {
            Self::InterfaceIdentifier(_) => 1,
            Self::Compression { .. } => 2,
            Self::Unknown { option_type, .. } => *option_type,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Self::InterfaceIdentifier(_) => INTERFACE_IDENTIFIER_LEN,
            Self::Compression { data, .. } => 2 + data.len(),
            Self::Unknown { data, .. } => data.len(),
        }
    }

    fn write_data(&self, out: &mut [u8]) {
        match self {
            Self::InterfaceIdentifier(id) => out.copy_from_slice(id),
            Self::Compression { protocol, data } => {
                out[..2].copy_from_slice(&u16::from(*protocol).to_be_bytes());
                out[2..].copy_from_slice(data);
            }
            Self::Unknown { data, .. } => out.copy_from_slice(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ppp::control::{ControlMessage, parse_options};
    use proptest::prelude::*;

    #[test]
    fn configure_request_with_interface_identifier() {
        let bytes = [
            0x01, 0x05, 0x00, 0x0e, 0x01, 0x0a, 0x02, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01,
        ];
        let repr = Ipv6cpRepr::parse_bytes(&bytes).unwrap();
        assert_eq!(
            repr.message,
            ControlMessage::ConfigureRequest(vec![Ipv6cpOption::InterfaceIdentifier([
                0x02, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01
            ])])
        );
        assert_eq!(repr.to_vec().unwrap(), bytes);
    }

    #[test]
    fn wrong_option_lengths_are_malformed() {
        for data in [
            &[0x01, 0x09, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x01, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x02, 0x03, 0][..],
        ] {
            assert!(
                matches!(
                    parse_options::<Ipv6cpOption>(data),
                    Err(Error::Malformed(_))
                ),
                "{data:02x?}"
            );
        }
    }

    fn ipv6cp_repr() -> impl Strategy<Value = Ipv6cpRepr> {
        let data = || proptest::collection::vec(any::<u8>(), 0..6);
        let option = prop_oneof![
            any::<[u8; 8]>().prop_map(Ipv6cpOption::InterfaceIdentifier),
            (any::<u16>(), data()).prop_map(|(p, data)| Ipv6cpOption::Compression {
                protocol: p.into(),
                data
            }),
            (prop_oneof![Just(0u8), 3u8..=255], data())
                .prop_map(|(option_type, data)| Ipv6cpOption::Unknown { option_type, data }),
        ];
        let options = proptest::collection::vec(option, 0..4);
        let message = prop_oneof![
            options.clone().prop_map(ControlMessage::ConfigureRequest),
            options.clone().prop_map(ControlMessage::ConfigureAck),
            options.clone().prop_map(ControlMessage::ConfigureNak),
            options.prop_map(ControlMessage::ConfigureReject),
            data().prop_map(ControlMessage::TerminateRequest),
            data().prop_map(ControlMessage::CodeReject),
        ];
        (any::<u8>(), message)
            .prop_map(|(identifier, message)| Ipv6cpRepr::new(identifier, message))
    }

    proptest! {
        #[test]
        fn ipv6cp_repr_round_trips(repr in ipv6cp_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(Ipv6cpRepr::parse_bytes(&bytes).unwrap(), repr);
        }
    }
}
