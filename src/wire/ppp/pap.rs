//! Password Authentication Protocol packets (RFC 1334 §2.2).
//!
//! ```text
//! Authenticate-Request:  Code=1 | Id | Length | Peer-ID Length | Peer-ID | Passwd-Length | Password
//! Authenticate-Ack/Nak:  Code=2/3 | Id | Length | Msg-Length | Message
//! ```
//!
//! The header is the one LCP uses ([`ControlPacket`]): Length covers the
//! packet, bytes after it are padding. Inside Length, each 8-bit length
//! field must fit; bytes after the last field are ignored. An Ack or Nak
//! whose data is empty (no Msg-Length octet, as some peers send) parses as
//! an empty message; [`PapRepr::emit`] always writes the Msg-Length octet.

use core::fmt;

use super::control::{ControlPacket, HEADER_LEN, emit_header};
use crate::wire::{Error, Result, ensure_len, ensure_room};

crate::open_enum! {
    /// PAP Codes.
    pub enum PapCode(u8) {
        /// Authenticate-Request.
        AuthenticateRequest = 1,
        /// Authenticate-Ack.
        AuthenticateAck = 2,
        /// Authenticate-Nak.
        AuthenticateNak = 3,
    }
}

/// The body of a PAP packet.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum PapMessage {
    /// Authenticate-Request. `Debug` does not show the password.
    AuthenticateRequest {
        /// Peer-ID (the user name).
        peer_id: Vec<u8>,
        /// Password, in clear.
        password: Vec<u8>,
    },
    /// Authenticate-Ack.
    AuthenticateAck {
        /// Free text.
        message: Vec<u8>,
    },
    /// Authenticate-Nak.
    AuthenticateNak {
        /// Free text.
        message: Vec<u8>,
    },
    /// A Code PAP does not define, with its data. Never carries 1–3.
    Unknown {
        /// The Code octet.
        code: u8,
        /// The data.
        data: Vec<u8>,
    },
}

impl fmt::Debug for PapMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthenticateRequest { peer_id, password } => f
                .debug_struct("AuthenticateRequest")
                .field("peer_id", &String::from_utf8_lossy(peer_id))
                .field("password", &format_args!("<{} bytes>", password.len()))
                .finish(),
            Self::AuthenticateAck { message } => f
                .debug_struct("AuthenticateAck")
                .field("message", &String::from_utf8_lossy(message))
                .finish(),
            Self::AuthenticateNak { message } => f
                .debug_struct("AuthenticateNak")
                .field("message", &String::from_utf8_lossy(message))
                .finish(),
            Self::Unknown { code, data } => f
                .debug_struct("Unknown")
                .field("code", code)
                .field("data", data)
                .finish(),
        }
    }
}

impl PapMessage {
    /// The Code octet.
    pub fn code(&self) -> u8 {
        match self {
            Self::AuthenticateRequest { .. } => 1,
            Self::AuthenticateAck { .. } => 2,
            Self::AuthenticateNak { .. } => 3,
            Self::Unknown { code, .. } => *code,
        }
    }
}

/// An owned PAP packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PapRepr {
    /// Identifier (RFC 1334: the Ack/Nak copies the Request's).
    pub identifier: u8,
    /// Code and body.
    pub message: PapMessage,
}

/// Reads one length-prefixed field at the start of `data`.
fn prefixed<'a>(data: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8])> {
    ensure_len(what, data, 1)?;
    let end = 1 + usize::from(data[0]);
    ensure_len(what, data, end)?;
    Ok((&data[1..end], &data[end..]))
}

fn u8_len(bytes: &[u8], what: &'static str) -> Result<u8> {
    u8::try_from(bytes.len()).map_err(|_| Error::Malformed(what))
}

impl PapRepr {
    /// A packet.
    pub const fn new(identifier: u8, message: PapMessage) -> Self {
        Self {
            identifier,
            message,
        }
    }

    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &ControlPacket<T>) -> Result<Self> {
        let data = packet.data();
        let message = match PapCode::from(packet.raw_code()) {
            PapCode::AuthenticateRequest => {
                let (peer_id, rest) = prefixed(data, "PAP Peer-ID")?;
                let (password, _) = prefixed(rest, "PAP Password")?;
                PapMessage::AuthenticateRequest {
                    peer_id: peer_id.to_vec(),
                    password: password.to_vec(),
                }
            }
            PapCode::AuthenticateAck | PapCode::AuthenticateNak => {
                let message = if data.is_empty() {
                    Vec::new()
                } else {
                    prefixed(data, "PAP Message")?.0.to_vec()
                };
                if packet.raw_code() == 2 {
                    PapMessage::AuthenticateAck { message }
                } else {
                    PapMessage::AuthenticateNak { message }
                }
            }
            PapCode::Unknown(code) => PapMessage::Unknown {
                code,
                data: data.to_vec(),
            },
        };
        Ok(Self {
            identifier: packet.identifier(),
            message,
        })
    }

    /// Parses a packet from raw bytes (Code first).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(&ControlPacket::new_checked(bytes)?)
    }

    fn data_len(&self) -> usize {
        match &self.message {
            PapMessage::AuthenticateRequest { peer_id, password } => {
                2 + peer_id.len() + password.len()
            }
            PapMessage::AuthenticateAck { message } | PapMessage::AuthenticateNak { message } => {
                1 + message.len()
            }
            PapMessage::Unknown { data, .. } => data.len(),
        }
    }

    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        emit_header(buf, self.message.code(), self.identifier, self.data_len())?;
        ensure_room(buf, len)?;
        let out = &mut buf[HEADER_LEN..len];
        match &self.message {
            PapMessage::AuthenticateRequest { peer_id, password } => {
                let id_len = u8_len(peer_id, "PAP Peer-ID longer than 255 bytes")?;
                let pw_len = u8_len(password, "PAP Password longer than 255 bytes")?;
                out[0] = id_len;
                out[1..1 + peer_id.len()].copy_from_slice(peer_id);
                let at = 1 + peer_id.len();
                out[at] = pw_len;
                out[at + 1..].copy_from_slice(password);
            }
            PapMessage::AuthenticateAck { message } | PapMessage::AuthenticateNak { message } => {
                out[0] = u8_len(message, "PAP Message longer than 255 bytes")?;
                out[1..].copy_from_slice(message);
            }
            PapMessage::Unknown { code, data } => {
                if matches!(code, 1..=3) {
                    return Err(Error::Malformed(
                        "Unknown PAP message carries a defined Code",
                    ));
                }
                out.copy_from_slice(data);
            }
        }
        Ok(len)
    }

    /// The packet as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// From the BNG Blaster capture (frames 151 and 181).
    const REQUEST: [u8; 20] = [
        0x01, 0x01, 0x00, 0x14, 0x0a, b'u', b's', b'e', b'r', b'1', b'@', b't', b'e', b's', b't',
        0x04, b't', b'e', b's', b't',
    ];
    const ACK: [u8; 23] = [
        0x02, 0x01, 0x00, 0x17, 0x12, b'B', b'N', b'G', b'-', b'B', b'l', b'a', b's', b't', b'e',
        b'r', b'-', b'A', b'1', b'0', b'N', b'S', b'P',
    ];

    #[test]
    fn deconstruct_request_and_ack() {
        let request = PapRepr::parse_bytes(&REQUEST).unwrap();
        assert_eq!(
            request.message,
            PapMessage::AuthenticateRequest {
                peer_id: b"user1@test".to_vec(),
                password: b"test".to_vec()
            }
        );
        assert_eq!(request.to_vec().unwrap(), REQUEST);
        let debug = format!("{request:?}");
        assert!(
            debug.contains("user1@test") && !debug.contains("\"test\""),
            "{debug}"
        );
        let ack = PapRepr::parse_bytes(&ACK).unwrap();
        assert_eq!(
            ack.message,
            PapMessage::AuthenticateAck {
                message: b"BNG-Blaster-A10NSP".to_vec()
            }
        );
        assert_eq!(ack.to_vec().unwrap(), ACK);
    }

    #[test]
    fn length_fields_are_checked() {
        // Peer-ID Length beyond Length.
        let mut bad = REQUEST;
        bad[4] = 0x10;
        assert!(matches!(
            PapRepr::parse_bytes(&bad),
            Err(Error::Truncated { .. })
        ));
        // Passwd-Length beyond Length.
        let mut bad = REQUEST;
        bad[15] = 0x05;
        assert!(matches!(
            PapRepr::parse_bytes(&bad),
            Err(Error::Truncated { .. })
        ));
        // No Passwd-Length at all.
        assert!(PapRepr::parse_bytes(&[0x01, 0x01, 0x00, 0x05, 0x00]).is_err());
        assert!(PapRepr::parse_bytes(&[0x01, 0x01, 0x00, 0x04]).is_err());
        // Msg-Length beyond Length.
        let mut bad = ACK;
        bad[4] = 0x13;
        assert!(matches!(
            PapRepr::parse_bytes(&bad),
            Err(Error::Truncated { .. })
        ));
        // Packet Length beyond the buffer.
        assert!(PapRepr::parse_bytes(&REQUEST[..19]).is_err());
    }

    #[test]
    fn ack_without_message_length() {
        let repr = PapRepr::parse_bytes(&[0x02, 0x07, 0x00, 0x04]).unwrap();
        assert_eq!(
            repr.message,
            PapMessage::AuthenticateAck { message: vec![] }
        );
        assert_eq!(repr.to_vec().unwrap(), [0x02, 0x07, 0x00, 0x05, 0x00]);
    }

    #[test]
    fn emit_refuses_oversized_fields() {
        let repr = PapRepr::new(
            1,
            PapMessage::AuthenticateRequest {
                peer_id: vec![b'a'; 256],
                password: vec![],
            },
        );
        assert!(repr.to_vec().is_err());
        let repr = PapRepr::new(
            1,
            PapMessage::Unknown {
                code: 2,
                data: vec![],
            },
        );
        assert!(repr.to_vec().is_err());
        let ok = PapRepr::parse_bytes(&REQUEST).unwrap();
        assert!(ok.emit(&mut [0u8; 19]).is_err());
    }

    fn pap_repr() -> impl Strategy<Value = PapRepr> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
        let message = prop_oneof![
            (bytes(), bytes()).prop_map(|(peer_id, password)| PapMessage::AuthenticateRequest {
                peer_id,
                password
            }),
            bytes().prop_map(|message| PapMessage::AuthenticateAck { message }),
            bytes().prop_map(|message| PapMessage::AuthenticateNak { message }),
            (prop_oneof![Just(0u8), 4u8..=255], bytes())
                .prop_map(|(code, data)| PapMessage::Unknown { code, data }),
        ];
        (any::<u8>(), message).prop_map(|(identifier, message)| PapRepr::new(identifier, message))
    }

    proptest! {
        #[test]
        fn pap_repr_round_trips(repr in pap_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(PapRepr::parse_bytes(&bytes).unwrap(), repr);
        }

        #[test]
        fn arbitrary_pap_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            if let Ok(repr) = PapRepr::parse_bytes(&bytes) {
                let again = PapRepr::parse_bytes(&repr.to_vec().unwrap()).unwrap();
                prop_assert_eq!(again, repr);
            }
        }
    }
}
