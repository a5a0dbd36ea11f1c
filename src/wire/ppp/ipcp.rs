//! IPCP Configuration Options (RFC 1332 §3, RFC 1877 §1).
//!
//! | Type | Option                               | Data            |
//! |------|--------------------------------------|-----------------|
//! | 1    | IP-Addresses (deprecated)            | 2 × IPv4        |
//! | 2    | IP-Compression-Protocol              | u16 + data      |
//! | 3    | IP-Address                           | IPv4            |
//! | 129  | Primary DNS Server Address           | IPv4            |
//! | 130  | Primary NBNS Server Address          | IPv4            |
//! | 131  | Secondary DNS Server Address         | IPv4            |
//! | 132  | Secondary NBNS Server Address        | IPv4            |
//!
//! IPCP uses the LCP packet format with Codes 1–7 only (RFC 1332 §2).

use std::net::Ipv4Addr;

use super::Protocol;
use super::control::{ConfigOption, ControlRepr, RawOption, read_u16, read_u32};
use crate::wire::{Error, Result};

/// An IPCP packet.
pub type IpcpRepr = ControlRepr<IpcpOption>;

crate::open_enum! {
    /// IPCP option Types.
    pub enum IpcpOptionType(u8) {
        /// IP-Addresses (RFC 1172, deprecated by RFC 1332).
        IpAddresses = 1,
        /// IP-Compression-Protocol.
        IpCompression = 2,
        /// IP-Address.
        IpAddress = 3,
        /// Primary DNS Server Address (RFC 1877).
        PrimaryDns = 129,
        /// Primary NBNS Server Address (RFC 1877).
        PrimaryNbns = 130,
        /// Secondary DNS Server Address (RFC 1877).
        SecondaryDns = 131,
        /// Secondary NBNS Server Address (RFC 1877).
        SecondaryNbns = 132,
    }
}

/// One IPCP Configuration Option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpcpOption {
    /// IP-Addresses (deprecated): the sender's and the peer's address.
    IpAddresses {
        /// The sender's address.
        source: Ipv4Addr,
        /// The peer's address.
        destination: Ipv4Addr,
    },
    /// IP-Compression-Protocol (RFC 1332 §3.2): usually Van Jacobson
    /// (0x002d) with Max-Slot-Id and Comp-Slot-Id as data.
    IpCompression {
        /// The compression protocol.
        protocol: Protocol,
        /// The data after the protocol.
        data: Vec<u8>,
    },
    /// IP-Address (RFC 1332 §3.3); 0.0.0.0 asks the peer to assign one.
    IpAddress(Ipv4Addr),
    /// Primary DNS Server Address (RFC 1877 §1.1).
    PrimaryDns(Ipv4Addr),
    /// Primary NBNS Server Address (RFC 1877 §1.2).
    PrimaryNbns(Ipv4Addr),
    /// Secondary DNS Server Address (RFC 1877 §1.3).
    SecondaryDns(Ipv4Addr),
    /// Secondary NBNS Server Address (RFC 1877 §1.4).
    SecondaryNbns(Ipv4Addr),
    /// Any other option, verbatim. Never carries one of the Types above.
    Unknown {
        /// Type.
        option_type: u8,
        /// Data.
        data: Vec<u8>,
    },
}

impl IpcpOption {
    /// The Type, as an open enum.
    pub fn kind(&self) -> IpcpOptionType {
        IpcpOptionType::from(self.option_type())
    }

    /// The address of the single-address options (IP-Address, DNS, NBNS).
    pub fn address(&self) -> Option<Ipv4Addr> {
        match self {
            Self::IpAddress(a)
            | Self::PrimaryDns(a)
            | Self::PrimaryNbns(a)
            | Self::SecondaryDns(a)
            | Self::SecondaryNbns(a) => Some(*a),
            _ => None,
        }
    }
}

fn address(raw: &RawOption<'_>, what: &'static str) -> Result<Ipv4Addr> {
    if raw.data.len() != 4 {
        return Err(Error::Malformed(what));
    }
    Ok(Ipv4Addr::from(read_u32(raw.data, 0)))
}

impl ConfigOption for IpcpOption {
    const PROTOCOL: Protocol = Protocol::Ipcp;
    const LINK_CONTROL: bool = false;

    fn parse(raw: RawOption<'_>) -> Result<Self> {
        Ok(match IpcpOptionType::from(raw.option_type) {
            IpcpOptionType::IpAddresses => {
                if raw.data.len() != 8 {
                    return Err(Error::Malformed("IPCP IP-Addresses option is not 10 bytes"));
                }
                Self::IpAddresses {
                    source: Ipv4Addr::from(read_u32(raw.data, 0)),
                    destination: Ipv4Addr::from(read_u32(raw.data, 4)),
                }
            }
            IpcpOptionType::IpCompression => {
                if raw.data.len() < 2 {
                    return Err(Error::Malformed(
                        "IPCP IP-Compression-Protocol option shorter than 4 bytes",
                    ));
                }
                Self::IpCompression {
                    protocol: Protocol::from(read_u16(raw.data, 0)),
                    data: raw.data[2..].to_vec(),
                }
            }
            IpcpOptionType::IpAddress => {
                Self::IpAddress(address(&raw, "IPCP IP-Address option is not 6 bytes")?)
            }
            IpcpOptionType::PrimaryDns => {
                Self::PrimaryDns(address(&raw, "IPCP Primary-DNS option is not 6 bytes")?)
            }
            IpcpOptionType::PrimaryNbns => {
                Self::PrimaryNbns(address(&raw, "IPCP Primary-NBNS option is not 6 bytes")?)
            }
            IpcpOptionType::SecondaryDns => {
                Self::SecondaryDns(address(&raw, "IPCP Secondary-DNS option is not 6 bytes")?)
            }
            IpcpOptionType::SecondaryNbns => {
                Self::SecondaryNbns(address(&raw, "IPCP Secondary-NBNS option is not 6 bytes")?)
            }
            IpcpOptionType::Unknown(option_type) => Self::Unknown {
                option_type,
                data: raw.data.to_vec(),
            },
        })
    }

    fn option_type(&self) -> u8 {
        match self {
            Self::IpAddresses { .. } => 1,
            Self::IpCompression { .. } => 2,
            Self::IpAddress(_) => 3,
            Self::PrimaryDns(_) => 129,
            Self::PrimaryNbns(_) => 130,
            Self::SecondaryDns(_) => 131,
            Self::SecondaryNbns(_) => 132,
            Self::Unknown { option_type, .. } => *option_type,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Self::IpAddresses { .. } => 8,
            Self::IpCompression { data, .. } => 2 + data.len(),
            Self::Unknown { data, .. } => data.len(),
            _ => 4,
        }
    }

    fn write_data(&self, out: &mut [u8]) {
        match self {
            Self::IpAddresses {
                source,
                destination,
            } => {
                out[..4].copy_from_slice(&source.octets());
                out[4..].copy_from_slice(&destination.octets());
            }
            Self::IpCompression { protocol, data } => {
                out[..2].copy_from_slice(&u16::from(*protocol).to_be_bytes());
                out[2..].copy_from_slice(data);
            }
            Self::Unknown { data, .. } => out.copy_from_slice(data),
            other => {
                if let Some(a) = other.address() {
                    out.copy_from_slice(&a.octets());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ppp::control::{ControlMessage, parse_options};
    use proptest::prelude::*;

    /// IPCP Configure-Nak from the BNG Blaster server (capture frame 221).
    const CONF_NAK: [u8; 22] = [
        0x03, 0x01, 0x00, 0x16, 0x03, 0x06, 0x0a, 0x00, 0x00, 0x0b, 0x81, 0x06, 0x08, 0x08, 0x08,
        0x08, 0x83, 0x06, 0x01, 0x01, 0x01, 0x01,
    ];

    #[test]
    fn deconstruct_configure_nak() {
        let repr = IpcpRepr::parse_bytes(&CONF_NAK).unwrap();
        assert_eq!(
            repr.message,
            ControlMessage::ConfigureNak(vec![
                IpcpOption::IpAddress(Ipv4Addr::new(10, 0, 0, 11)),
                IpcpOption::PrimaryDns(Ipv4Addr::new(8, 8, 8, 8)),
                IpcpOption::SecondaryDns(Ipv4Addr::new(1, 1, 1, 1)),
            ])
        );
        assert_eq!(repr.to_vec().unwrap(), CONF_NAK);
    }

    #[test]
    fn wrong_option_lengths_are_malformed() {
        for data in [
            &[0x01, 0x06, 0, 0, 0, 0][..],
            &[0x02, 0x03, 0x00][..],
            &[0x03, 0x05, 10, 0, 0][..],
            &[0x03, 0x07, 10, 0, 0, 1, 0][..],
            &[0x81, 0x02][..],
            &[0x82, 0x03, 0][..],
            &[0x83, 0x05, 0, 0, 0][..],
            &[0x84, 0x08, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert!(
                matches!(parse_options::<IpcpOption>(data), Err(Error::Malformed(_))),
                "{data:02x?}"
            );
        }
    }

    #[test]
    fn vj_and_deprecated_addresses() {
        let data = [
            0x02, 0x06, 0x00, 0x2d, 0x0f, 0x01, 0x01, 0x0a, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let options: Vec<IpcpOption> = parse_options(&data).unwrap();
        assert_eq!(
            options,
            vec![
                IpcpOption::IpCompression {
                    protocol: Protocol::VjCompressedTcp,
                    data: vec![0x0f, 0x01]
                },
                IpcpOption::IpAddresses {
                    source: Ipv4Addr::new(10, 0, 0, 1),
                    destination: Ipv4Addr::new(10, 0, 0, 2)
                },
            ]
        );
        assert_eq!(options[1].kind(), IpcpOptionType::IpAddresses);
        assert_eq!(options[1].address(), None);
    }

    fn ipcp_option() -> impl Strategy<Value = IpcpOption> {
        let addr = || any::<u32>().prop_map(Ipv4Addr::from);
        prop_oneof![
            (addr(), addr()).prop_map(|(source, destination)| IpcpOption::IpAddresses {
                source,
                destination
            }),
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..6)).prop_map(|(p, data)| {
                IpcpOption::IpCompression {
                    protocol: p.into(),
                    data,
                }
            }),
            addr().prop_map(IpcpOption::IpAddress),
            addr().prop_map(IpcpOption::PrimaryDns),
            addr().prop_map(IpcpOption::PrimaryNbns),
            addr().prop_map(IpcpOption::SecondaryDns),
            addr().prop_map(IpcpOption::SecondaryNbns),
            (
                prop_oneof![Just(0u8), 4u8..=128, 133u8..=255],
                proptest::collection::vec(any::<u8>(), 0..6)
            )
                .prop_map(|(option_type, data)| IpcpOption::Unknown { option_type, data }),
        ]
    }

    fn ipcp_repr() -> impl Strategy<Value = IpcpRepr> {
        let options = || proptest::collection::vec(ipcp_option(), 0..5);
        let data = || proptest::collection::vec(any::<u8>(), 0..8);
        let message = prop_oneof![
            options().prop_map(ControlMessage::ConfigureRequest),
            options().prop_map(ControlMessage::ConfigureAck),
            options().prop_map(ControlMessage::ConfigureNak),
            options().prop_map(ControlMessage::ConfigureReject),
            data().prop_map(ControlMessage::TerminateRequest),
            data().prop_map(ControlMessage::TerminateAck),
            data().prop_map(ControlMessage::CodeReject),
            (prop_oneof![Just(0u8), 8u8..=255], data())
                .prop_map(|(code, data)| ControlMessage::Unknown { code, data }),
        ];
        (any::<u8>(), message).prop_map(|(identifier, message)| IpcpRepr::new(identifier, message))
    }

    proptest! {
        #[test]
        fn ipcp_repr_round_trips(repr in ipcp_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(IpcpRepr::parse_bytes(&bytes).unwrap(), repr);
        }

        #[test]
        fn ipcp_bytes_round_trip(code in 0u8..10, data in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut bytes = vec![code, 1];
            bytes.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
            bytes.extend_from_slice(&data);
            if let Ok(repr) = IpcpRepr::parse_bytes(&bytes) {
                prop_assert_eq!(repr.to_vec().unwrap(), bytes);
            }
        }
    }
}
