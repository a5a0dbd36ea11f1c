//! LCP Configuration Options (RFC 1661 §6; RFC 1994 §3 and RFC 2759 §2
//! for the CHAP algorithm octet of Authentication-Protocol).
//!
//! | Type | Option                          | Data                       |
//! |------|---------------------------------|----------------------------|
//! | 1    | Maximum-Receive-Unit            | u16                        |
//! | 2    | Async-Control-Character-Map     | u32                        |
//! | 3    | Authentication-Protocol         | protocol u16 + data        |
//! | 4    | Quality-Protocol                | protocol u16 + data        |
//! | 5    | Magic-Number                    | u32                        |
//! | 7    | Protocol-Field-Compression      | –                          |
//! | 8    | Address-and-Control-Field-Compr.| –                          |
//!
//! Every other Type (RFC 1570 Callback, RFC 1990 MRRU, …) round-trips as
//! [`LcpOption::Unknown`], for the negotiation automaton to Configure-Reject.
//!
//! Note for PPPoE (RFC 2516 §7): "An implementation MUST NOT request any of
//! the following options, and MUST reject a request for such an option:
//! Field Check Sequence (FCS) Alternatives, Address-and-Control-Field-
//! Compression (ACFC), Asynchronous-Control-Character-Map (ACCM)" — these
//! options are still parsed here; refusing them is the automaton's job.

use super::Protocol;
use super::control::{ConfigOption, ControlRepr, RawOption, read_u16, read_u32};
use crate::wire::{Error, Result};

/// An LCP packet.
pub type LcpRepr = ControlRepr<LcpOption>;

/// CHAP algorithm octet: MD5 (RFC 1994 §3).
pub const CHAP_MD5: u8 = 0x05;
/// CHAP algorithm octet: Microsoft CHAP version 1 (RFC 2433).
pub const CHAP_MSCHAP: u8 = 0x80;
/// CHAP algorithm octet: Microsoft CHAP version 2 (RFC 2759 §2).
pub const CHAP_MSCHAP_V2: u8 = 0x81;

crate::open_enum! {
    /// LCP option Types.
    pub enum LcpOptionType(u8) {
        /// Maximum-Receive-Unit.
        Mru = 1,
        /// Async-Control-Character-Map.
        Accm = 2,
        /// Authentication-Protocol.
        AuthProtocol = 3,
        /// Quality-Protocol.
        QualityProtocol = 4,
        /// Magic-Number.
        MagicNumber = 5,
        /// Protocol-Field-Compression.
        Pfc = 7,
        /// Address-and-Control-Field-Compression.
        Acfc = 8,
        /// FCS-Alternatives (RFC 1570).
        FcsAlternatives = 9,
        /// Callback (RFC 1570).
        Callback = 13,
        /// Multilink MRRU (RFC 1990).
        Mrru = 17,
        /// Multilink Short Sequence Number Header Format (RFC 1990).
        ShortSequence = 18,
        /// Multilink Endpoint Discriminator (RFC 1990).
        EndpointDiscriminator = 19,
    }
}

/// One LCP Configuration Option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LcpOption {
    /// Maximum-Receive-Unit (RFC 1661 §6.1).
    Mru(u16),
    /// Async-Control-Character-Map (RFC 1662 §7.1).
    Accm(u32),
    /// Authentication-Protocol (RFC 1661 §6.2): the protocol and its
    /// protocol-specific data (CHAP: one algorithm octet).
    AuthProtocol {
        /// PAP (0xc023), CHAP (0xc223), EAP (0xc227) …
        protocol: Protocol,
        /// The data after the protocol.
        data: Vec<u8>,
    },
    /// Quality-Protocol (RFC 1661 §6.3).
    QualityProtocol {
        /// Usually LQR (0xc025).
        protocol: Protocol,
        /// The data after the protocol (LQR: the reporting period).
        data: Vec<u8>,
    },
    /// Magic-Number (RFC 1661 §6.4).
    MagicNumber(u32),
    /// Protocol-Field-Compression (RFC 1661 §6.5).
    Pfc,
    /// Address-and-Control-Field-Compression (RFC 1661 §6.6).
    Acfc,
    /// Any other option, verbatim. Never carries one of the Types above.
    Unknown {
        /// Type.
        option_type: u8,
        /// Data.
        data: Vec<u8>,
    },
}

/// The authentication methods an Authentication-Protocol option names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// PAP (RFC 1334).
    Pap,
    /// CHAP with MD5 (RFC 1994).
    ChapMd5,
    /// MS-CHAP version 1 (RFC 2433).
    MsChap,
    /// MS-CHAP version 2 (RFC 2759).
    MsChapV2,
    /// EAP (RFC 3748).
    Eap,
}

impl AuthMethod {
    /// The PPP protocol that carries the method.
    pub const fn protocol(self) -> Protocol {
        match self {
            Self::Pap => Protocol::Pap,
            Self::ChapMd5 | Self::MsChap | Self::MsChapV2 => Protocol::Chap,
            Self::Eap => Protocol::Eap,
        }
    }

    /// The CHAP algorithm octet, for the CHAP variants.
    pub const fn chap_algorithm(self) -> Option<u8> {
        match self {
            Self::ChapMd5 => Some(CHAP_MD5),
            Self::MsChap => Some(CHAP_MSCHAP),
            Self::MsChapV2 => Some(CHAP_MSCHAP_V2),
            Self::Pap | Self::Eap => None,
        }
    }

    /// Recognises the method from an Authentication-Protocol option's
    /// protocol and data.
    pub fn from_option(protocol: Protocol, data: &[u8]) -> Option<Self> {
        match (protocol, data) {
            (Protocol::Pap, []) => Some(Self::Pap),
            (Protocol::Chap, [CHAP_MD5]) => Some(Self::ChapMd5),
            (Protocol::Chap, [CHAP_MSCHAP]) => Some(Self::MsChap),
            (Protocol::Chap, [CHAP_MSCHAP_V2]) => Some(Self::MsChapV2),
            (Protocol::Eap, []) => Some(Self::Eap),
            _ => None,
        }
    }
}

impl LcpOption {
    /// The Authentication-Protocol option that asks for `method`.
    pub fn auth(method: AuthMethod) -> Self {
        Self::AuthProtocol {
            protocol: method.protocol(),
            data: method.chap_algorithm().map(|a| vec![a]).unwrap_or_default(),
        }
    }

    /// The method an Authentication-Protocol option asks for, if this
    /// implementation knows it.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        match self {
            Self::AuthProtocol { protocol, data } => AuthMethod::from_option(*protocol, data),
            _ => None,
        }
    }

    /// The Type, as an open enum.
    pub fn kind(&self) -> LcpOptionType {
        LcpOptionType::from(self.option_type())
    }
}

fn exact<'a>(raw: &RawOption<'a>, len: usize, what: &'static str) -> Result<&'a [u8]> {
    if raw.data.len() != len {
        return Err(Error::Malformed(what));
    }
    Ok(raw.data)
}

fn protocol_and_data(raw: &RawOption<'_>, what: &'static str) -> Result<(Protocol, Vec<u8>)> {
    if raw.data.len() < 2 {
        return Err(Error::Malformed(what));
    }
    Ok((
        Protocol::from(read_u16(raw.data, 0)),
        raw.data[2..].to_vec(),
    ))
}

impl ConfigOption for LcpOption {
    const PROTOCOL: Protocol = Protocol::Lcp;
    const LINK_CONTROL: bool = true;

    fn parse(raw: RawOption<'_>) -> Result<Self> {
        Ok(match LcpOptionType::from(raw.option_type) {
            LcpOptionType::Mru => Self::Mru(read_u16(
                exact(&raw, 2, "LCP Maximum-Receive-Unit option is not 4 bytes")?,
                0,
            )),
            LcpOptionType::Accm => Self::Accm(read_u32(
                exact(
                    &raw,
                    4,
                    "LCP Async-Control-Character-Map option is not 6 bytes",
                )?,
                0,
            )),
            LcpOptionType::AuthProtocol => {
                let (protocol, data) = protocol_and_data(
                    &raw,
                    "LCP Authentication-Protocol option shorter than 4 bytes",
                )?;
                Self::AuthProtocol { protocol, data }
            }
            LcpOptionType::QualityProtocol => {
                let (protocol, data) =
                    protocol_and_data(&raw, "LCP Quality-Protocol option shorter than 4 bytes")?;
                Self::QualityProtocol { protocol, data }
            }
            LcpOptionType::MagicNumber => Self::MagicNumber(read_u32(
                exact(&raw, 4, "LCP Magic-Number option is not 6 bytes")?,
                0,
            )),
            LcpOptionType::Pfc => {
                exact(
                    &raw,
                    0,
                    "LCP Protocol-Field-Compression option is not 2 bytes",
                )?;
                Self::Pfc
            }
            LcpOptionType::Acfc => {
                exact(
                    &raw,
                    0,
                    "LCP Address-and-Control-Field-Compression option is not 2 bytes",
                )?;
                Self::Acfc
            }
            _ => Self::Unknown {
                option_type: raw.option_type,
                data: raw.data.to_vec(),
            },
        })
    }

    fn option_type(&self) -> u8 {
        match self {
            Self::Mru(_) => 1,
            Self::Accm(_) => 2,
            Self::AuthProtocol { .. } => 3,
            Self::QualityProtocol { .. } => 4,
            Self::MagicNumber(_) => 5,
            Self::Pfc => 7,
            Self::Acfc => 8,
            Self::Unknown { option_type, .. } => *option_type,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Self::Mru(_) => 2,
            Self::Accm(_) | Self::MagicNumber(_) => 4,
            Self::AuthProtocol { data, .. } | Self::QualityProtocol { data, .. } => 2 + data.len(),
            Self::Pfc | Self::Acfc => 0,
            Self::Unknown { data, .. } => data.len(),
        }
    }

    fn write_data(&self, out: &mut [u8]) {
        match self {
            Self::Mru(mru) => out.copy_from_slice(&mru.to_be_bytes()),
            Self::Accm(value) | Self::MagicNumber(value) => {
                out.copy_from_slice(&value.to_be_bytes());
            }
            Self::AuthProtocol { protocol, data } | Self::QualityProtocol { protocol, data } => {
                out[..2].copy_from_slice(&u16::from(*protocol).to_be_bytes());
                out[2..].copy_from_slice(data);
            }
            Self::Pfc | Self::Acfc => {}
            Self::Unknown { data, .. } => out.copy_from_slice(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ppp::control::{ControlMessage, ControlPacket, HEADER_LEN};
    use proptest::prelude::*;

    /// LCP Configure-Request from the BNG Blaster server (capture frame 102).
    const CONF_REQ: [u8; 18] = [
        0x01, 0x01, 0x00, 0x12, 0x01, 0x04, 0x05, 0xd4, 0x03, 0x04, 0xc0, 0x23, 0x05, 0x06, 0x01,
        0x00, 0x00, 0x01,
    ];

    #[test]
    fn deconstruct_configure_request() {
        let packet = ControlPacket::new_checked(&CONF_REQ[..]).unwrap();
        let repr = LcpRepr::parse(&packet).unwrap();
        assert_eq!(repr.identifier, 1);
        let options = repr.message.options().unwrap();
        assert_eq!(options[0], LcpOption::Mru(1492));
        assert_eq!(options[1].auth_method(), Some(AuthMethod::Pap));
        assert_eq!(options[2], LcpOption::MagicNumber(0x0100_0001));
        assert_eq!(repr.to_vec().unwrap(), CONF_REQ);
        // The raw option bytes for proxy LCP.
        assert_eq!(packet.data(), &CONF_REQ[HEADER_LEN..]);
    }

    #[test]
    fn construct_configure_request_with_mschapv2() {
        let repr = LcpRepr::new(
            7,
            ControlMessage::ConfigureRequest(vec![
                LcpOption::Mru(1492),
                LcpOption::auth(AuthMethod::MsChapV2),
                LcpOption::MagicNumber(0xdead_beef),
            ]),
        );
        let bytes = repr.to_vec().unwrap();
        assert_eq!(
            bytes,
            [
                0x01, 0x07, 0x00, 0x13, 0x01, 0x04, 0x05, 0xd4, 0x03, 0x05, 0xc2, 0x23, 0x81, 0x05,
                0x06, 0xde, 0xad, 0xbe, 0xef
            ]
        );
        assert_eq!(LcpRepr::parse_bytes(&bytes).unwrap(), repr);
        assert_eq!(
            LcpOption::auth(AuthMethod::ChapMd5),
            LcpOption::AuthProtocol {
                protocol: Protocol::Chap,
                data: vec![5]
            }
        );
        assert_eq!(
            LcpOption::auth(AuthMethod::Eap).auth_method(),
            Some(AuthMethod::Eap)
        );
        assert_eq!(
            LcpOption::auth(AuthMethod::MsChap).auth_method(),
            Some(AuthMethod::MsChap)
        );
        assert_eq!(
            AuthMethod::from_option(Protocol::Chap, &[0x06]),
            None,
            "unknown CHAP algorithm"
        );
    }

    #[test]
    fn wrong_option_lengths_are_malformed() {
        for data in [
            &[0x01, 0x03, 0x05][..],             // MRU, 1 byte
            &[0x01, 0x05, 0x05, 0xd4, 0x00][..], // MRU, 3 bytes
            &[0x02, 0x05, 0, 0, 0][..],          // ACCM, 3 bytes
            &[0x03, 0x03, 0xc0][..],             // Auth, 1 byte
            &[0x04, 0x02][..],                   // Quality, empty
            &[0x05, 0x05, 0, 0, 0][..],          // Magic, 3 bytes
            &[0x05, 0x07, 0, 0, 0, 0, 0][..],    // Magic, 5 bytes
            &[0x07, 0x03, 0][..],                // PFC with data
            &[0x08, 0x03, 0][..],                // ACFC with data
        ] {
            let result = crate::wire::ppp::control::parse_options::<LcpOption>(data);
            assert!(matches!(result, Err(Error::Malformed(_))), "{data:02x?}");
        }
    }

    #[test]
    fn unknown_options_round_trip() {
        let bytes = [
            0x01, 0x03, 0x00, 0x0b, 0x0d, 0x03, 0x06, 0x11, 0x04, 0x05, 0xdc,
        ];
        let repr = LcpRepr::parse_bytes(&bytes).unwrap();
        let options = repr.message.options().unwrap();
        assert_eq!(options[0].kind(), LcpOptionType::Callback);
        assert_eq!(options[1].kind(), LcpOptionType::Mrru);
        assert_eq!(repr.to_vec().unwrap(), bytes);
    }

    #[test]
    fn option_longer_than_255_cannot_be_emitted() {
        let repr = LcpRepr::new(
            1,
            ControlMessage::ConfigureRequest(vec![LcpOption::Unknown {
                option_type: 99,
                data: vec![0; 254],
            }]),
        );
        assert!(matches!(repr.to_vec(), Err(Error::Malformed(_))));
    }

    fn lcp_option() -> impl Strategy<Value = LcpOption> {
        let data = || proptest::collection::vec(any::<u8>(), 0..8);
        prop_oneof![
            any::<u16>().prop_map(LcpOption::Mru),
            any::<u32>().prop_map(LcpOption::Accm),
            (any::<u16>(), data()).prop_map(|(p, data)| LcpOption::AuthProtocol {
                protocol: p.into(),
                data
            }),
            (any::<u16>(), data()).prop_map(|(p, data)| LcpOption::QualityProtocol {
                protocol: p.into(),
                data
            }),
            any::<u32>().prop_map(LcpOption::MagicNumber),
            Just(LcpOption::Pfc),
            Just(LcpOption::Acfc),
            (prop_oneof![Just(0u8), 6u8..=6, 9u8..=255], data())
                .prop_map(|(option_type, data)| LcpOption::Unknown { option_type, data }),
        ]
    }

    fn lcp_repr() -> impl Strategy<Value = LcpRepr> {
        let options = || proptest::collection::vec(lcp_option(), 0..6);
        let data = || proptest::collection::vec(any::<u8>(), 0..12);
        let message = prop_oneof![
            options().prop_map(ControlMessage::ConfigureRequest),
            options().prop_map(ControlMessage::ConfigureAck),
            options().prop_map(ControlMessage::ConfigureNak),
            options().prop_map(ControlMessage::ConfigureReject),
            data().prop_map(ControlMessage::TerminateRequest),
            data().prop_map(ControlMessage::TerminateAck),
            data().prop_map(ControlMessage::CodeReject),
            (any::<u16>(), data()).prop_map(|(p, information)| ControlMessage::ProtocolReject {
                protocol: p.into(),
                information
            }),
            (any::<u32>(), data()).prop_map(|(magic_number, data)| ControlMessage::EchoRequest {
                magic_number,
                data
            }),
            (any::<u32>(), data())
                .prop_map(|(magic_number, data)| ControlMessage::EchoReply { magic_number, data }),
            (any::<u32>(), data()).prop_map(|(magic_number, data)| {
                ControlMessage::DiscardRequest { magic_number, data }
            }),
            (any::<u32>(), data()).prop_map(|(magic_number, message)| {
                ControlMessage::Identification {
                    magic_number,
                    message,
                }
            }),
            (any::<u32>(), any::<u32>(), data()).prop_map(
                |(magic_number, seconds_remaining, message)| ControlMessage::TimeRemaining {
                    magic_number,
                    seconds_remaining,
                    message
                }
            ),
            (prop_oneof![Just(0u8), 14u8..=255], data())
                .prop_map(|(code, data)| ControlMessage::Unknown { code, data }),
        ];
        (any::<u8>(), message).prop_map(|(identifier, message)| LcpRepr::new(identifier, message))
    }

    proptest! {
        #[test]
        fn lcp_repr_round_trips(repr in lcp_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            let back = LcpRepr::parse_bytes(&bytes).unwrap();
            prop_assert_eq!(&back, &repr);
        }

        #[test]
        fn lcp_bytes_round_trip(code in 0u8..16, identifier: u8, data in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut bytes = vec![code, identifier];
            bytes.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
            bytes.extend_from_slice(&data);
            if let Ok(repr) = LcpRepr::parse_bytes(&bytes) {
                prop_assert_eq!(repr.to_vec().unwrap(), bytes);
            }
        }
    }
}
