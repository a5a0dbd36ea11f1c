//! CHAP packets (RFC 1994 §4) and the MS-CHAPv2 layouts carried in them
//! (RFC 2759 §4–§6).
//!
//! ```text
//! Challenge/Response:  Code=1/2 | Id | Length | Value-Size | Value | Name
//! Success/Failure:     Code=3/4 | Id | Length | Message
//! ```
//!
//! The header is the one LCP uses ([`ControlPacket`]). The Name and the
//! Message run to the end of Length; Value-Size must fit inside it.
//!
//! MS-CHAPv2 (RFC 2759) keeps this framing and fixes the contents:
//!
//! * Challenge Value: 16 octets ([`MSCHAPV2_CHALLENGE_LEN`]);
//! * Response Value: 49 octets, [`MsChapV2Response`] — Peer-Challenge
//!   (16), Reserved (8, zero), NT-Response (24), Flags (1, zero);
//! * Success Message: `S=<40 hex digits> M=<text>`, [`MsChapV2Success`];
//! * Failure Message: `E=<error> R=<0|1> C=<32 hex digits> V=<version>
//!   M=<text>`, [`MsChapV2Failure`].
//!
//! The cryptography (NT-Response, authenticator response) is not here:
//! these are wire formats only.

use super::control::{ControlPacket, HEADER_LEN, emit_header};
use crate::wire::{Error, Result, ensure_len, ensure_room};

/// Length of an MS-CHAPv2 authenticator challenge (RFC 2759 §4).
pub const MSCHAPV2_CHALLENGE_LEN: usize = 16;

crate::open_enum! {
    /// CHAP Codes (MS-CHAP adds Change-Password, 7, which stays Unknown).
    pub enum ChapCode(u8) {
        /// Challenge.
        Challenge = 1,
        /// Response.
        Response = 2,
        /// Success.
        Success = 3,
        /// Failure.
        Failure = 4,
    }
}

/// The body of a CHAP packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChapMessage {
    /// Challenge: the authenticator's challenge value and name.
    Challenge {
        /// Value (RFC 1994: "one or more octets"; 16 for MS-CHAPv2).
        value: Vec<u8>,
        /// The authenticator's name.
        name: Vec<u8>,
    },
    /// Response: the peer's response value and name.
    Response {
        /// Value (MD5: 16 octets; MS-CHAPv2: 49, see [`MsChapV2Response`]).
        value: Vec<u8>,
        /// The peer's name (the user name).
        name: Vec<u8>,
    },
    /// Success, with a message (MS-CHAPv2: see [`MsChapV2Success`]).
    Success {
        /// The message.
        message: Vec<u8>,
    },
    /// Failure, with a message (MS-CHAPv2: see [`MsChapV2Failure`]).
    Failure {
        /// The message.
        message: Vec<u8>,
    },
    /// A Code CHAP does not define, with its data. Never carries 1–4.
    Unknown {
        /// The Code octet.
        code: u8,
        /// The data.
        data: Vec<u8>,
    },
}

impl ChapMessage {
    /// The Code octet.
    pub fn code(&self) -> u8 {
        match self {
            Self::Challenge { .. } => 1,
            Self::Response { .. } => 2,
            Self::Success { .. } => 3,
            Self::Failure { .. } => 4,
            Self::Unknown { code, .. } => *code,
        }
    }
}

/// An owned CHAP packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChapRepr {
    /// Identifier (RFC 1994: a Response, Success or Failure copies the
    /// Challenge's).
    pub identifier: u8,
    /// Code and body.
    pub message: ChapMessage,
}

impl ChapRepr {
    /// A packet.
    pub const fn new(identifier: u8, message: ChapMessage) -> Self {
        Self {
            identifier,
            message,
        }
    }

    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &ControlPacket<T>) -> Result<Self> {
        let data = packet.data();
        let code = ChapCode::from(packet.raw_code());
        let message = match code {
            ChapCode::Challenge | ChapCode::Response => {
                ensure_len("CHAP Value-Size", data, 1)?;
                let end = 1 + usize::from(data[0]);
                ensure_len("CHAP Value (Value-Size)", data, end)?;
                let value = data[1..end].to_vec();
                let name = data[end..].to_vec();
                if code == ChapCode::Challenge {
                    ChapMessage::Challenge { value, name }
                } else {
                    ChapMessage::Response { value, name }
                }
            }
            ChapCode::Success => ChapMessage::Success {
                message: data.to_vec(),
            },
            ChapCode::Failure => ChapMessage::Failure {
                message: data.to_vec(),
            },
            ChapCode::Unknown(code) => ChapMessage::Unknown {
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
            ChapMessage::Challenge { value, name } | ChapMessage::Response { value, name } => {
                1 + value.len() + name.len()
            }
            ChapMessage::Success { message } | ChapMessage::Failure { message } => message.len(),
            ChapMessage::Unknown { data, .. } => data.len(),
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
            ChapMessage::Challenge { value, name } | ChapMessage::Response { value, name } => {
                out[0] = u8::try_from(value.len())
                    .map_err(|_| Error::Malformed("CHAP Value longer than 255 bytes"))?;
                out[1..1 + value.len()].copy_from_slice(value);
                out[1 + value.len()..].copy_from_slice(name);
            }
            ChapMessage::Success { message } | ChapMessage::Failure { message } => {
                out.copy_from_slice(message);
            }
            ChapMessage::Unknown { code, data } => {
                if matches!(code, 1..=4) {
                    return Err(Error::Malformed(
                        "Unknown CHAP message carries a defined Code",
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

// ---------------------------------------------------------------------------
// MS-CHAPv2
// ---------------------------------------------------------------------------

/// The 49-octet Value of an MS-CHAPv2 Response (RFC 2759 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsChapV2Response {
    /// Peer-Challenge: 16 random octets from the peer.
    pub peer_challenge: [u8; 16],
    /// Reserved, "MUST be zero"; kept so a received value round-trips.
    pub reserved: [u8; 8],
    /// NT-Response: 24 octets.
    pub nt_response: [u8; 24],
    /// Flags, "reserved for future use and MUST be zero".
    pub flags: u8,
}

impl MsChapV2Response {
    /// Value-Size of an MS-CHAPv2 Response.
    pub const LEN: usize = 49;

    /// A response with zero Reserved and Flags, as RFC 2759 requires.
    pub const fn new(peer_challenge: [u8; 16], nt_response: [u8; 24]) -> Self {
        Self {
            peer_challenge,
            reserved: [0; 8],
            nt_response,
            flags: 0,
        }
    }

    /// Reads a Response Value, which must be exactly 49 octets.
    pub fn parse(value: &[u8]) -> Result<Self> {
        if value.len() != Self::LEN {
            return Err(Error::Malformed("MS-CHAPv2 Response Value is not 49 bytes"));
        }
        let mut response = Self::new([0; 16], [0; 24]);
        response.peer_challenge.copy_from_slice(&value[..16]);
        response.reserved.copy_from_slice(&value[16..24]);
        response.nt_response.copy_from_slice(&value[24..48]);
        response.flags = value[48];
        Ok(response)
    }

    /// Whether Reserved and Flags are zero, as RFC 2759 §4 requires.
    pub fn reserved_fields_are_zero(&self) -> bool {
        self.reserved == [0; 8] && self.flags == 0
    }

    /// Writes the 49 octets at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        ensure_room(buf, Self::LEN)?;
        buf[..16].copy_from_slice(&self.peer_challenge);
        buf[16..24].copy_from_slice(&self.reserved);
        buf[24..48].copy_from_slice(&self.nt_response);
        buf[48] = self.flags;
        Ok(Self::LEN)
    }

    /// The 49 octets.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..16].copy_from_slice(&self.peer_challenge);
        out[16..24].copy_from_slice(&self.reserved);
        out[24..48].copy_from_slice(&self.nt_response);
        out[48] = self.flags;
        out
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn decode_hex<const N: usize>(text: &[u8], what: &'static str) -> Result<[u8; N]> {
    if text.len() != 2 * N {
        return Err(Error::Malformed(what));
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or(Error::Malformed(what))?;
        let low = hex_value(pair[1]).ok_or(Error::Malformed(what))?;
        *byte = (high << 4) | low;
    }
    Ok(out)
}

fn push_hex_upper(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
}

fn parse_decimal(text: &[u8], what: &'static str) -> Result<u32> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return Err(Error::Malformed(what));
    }
    text.iter()
        .try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(Error::Malformed(what))
}

/// The Message of an MS-CHAPv2 Success packet (RFC 2759 §5):
/// `S=<auth_string> M=<message>`, where the authenticator response is 20
/// octets written as 40 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsChapV2Success {
    /// The authenticator response the peer verifies.
    pub authenticator_response: [u8; 20],
    /// The text after ` M=`, if present.
    pub message: Option<Vec<u8>>,
}

impl MsChapV2Success {
    /// Parses a Success Message. Hex digits may be either case.
    pub fn parse(message: &[u8]) -> Result<Self> {
        let rest = message
            .strip_prefix(b"S=")
            .ok_or(Error::Malformed("MS-CHAPv2 Success does not start with S="))?;
        let hex = rest.get(..40).ok_or(Error::Malformed(
            "MS-CHAPv2 Success authenticator response cut short",
        ))?;
        let authenticator_response =
            decode_hex::<20>(hex, "MS-CHAPv2 Success authenticator response is not hex")?;
        let text = match &rest[40..] {
            [] => None,
            tail => Some(
                tail.strip_prefix(b" M=")
                    .ok_or(Error::Malformed("MS-CHAPv2 Success: junk after S="))?
                    .to_vec(),
            ),
        };
        Ok(Self {
            authenticator_response,
            message: text,
        })
    }

    /// The Message, with upper-case hex digits as RFC 2759 §5 shows them.
    pub fn to_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(42 + self.message.as_ref().map_or(0, |m| 3 + m.len()));
        out.extend_from_slice(b"S=");
        push_hex_upper(&mut out, &self.authenticator_response);
        if let Some(text) = &self.message {
            out.extend_from_slice(b" M=");
            out.extend_from_slice(text);
        }
        out
    }
}

/// The Message of an MS-CHAPv2 Failure packet (RFC 2759 §6):
/// `E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv M=<msg>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsChapV2Failure {
    /// Error code: 646 restricted logon hours, 647 account disabled, 648
    /// password expired, 649 no dial-in permission, 691 authentication
    /// failure, 709 error changing password.
    pub error: u32,
    /// `R=1`: the peer may retry.
    pub retry: bool,
    /// `C=`: the authenticator's new challenge (absent in MS-CHAPv1 style
    /// messages).
    pub challenge: Option<[u8; MSCHAPV2_CHALLENGE_LEN]>,
    /// `V=`: the password-change protocol version (3).
    pub version: Option<u32>,
    /// `M=`: free text, to the end of the Message.
    pub message: Option<Vec<u8>>,
}

impl MsChapV2Failure {
    /// RFC 2759 §6: authentication failure.
    pub const ERROR_AUTHENTICATION_FAILURE: u32 = 691;

    /// Parses a Failure Message. The fields must come in the RFC's order;
    /// `C=`, `V=` and `M=` are optional.
    pub fn parse(message: &[u8]) -> Result<Self> {
        /// Splits `rest` at the first space (the field value, then what
        /// follows the space).
        fn field<'a>(rest: &'a [u8], key: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
            let rest = rest.strip_prefix(key)?;
            Some(match rest.iter().position(|b| *b == b' ') {
                Some(space) => (&rest[..space], &rest[space + 1..]),
                None => (rest, &[][..]),
            })
        }
        let (error, rest) =
            field(message, b"E=").ok_or(Error::Malformed("MS-CHAPv2 Failure without E="))?;
        let error = parse_decimal(error, "MS-CHAPv2 Failure E= is not a number")?;
        let (retry, mut rest) =
            field(rest, b"R=").ok_or(Error::Malformed("MS-CHAPv2 Failure without R="))?;
        let retry = match retry {
            b"0" => false,
            b"1" => true,
            _ => return Err(Error::Malformed("MS-CHAPv2 Failure R= is not 0 or 1")),
        };
        let mut challenge = None;
        if let Some((value, tail)) = field(rest, b"C=") {
            challenge = Some(decode_hex::<MSCHAPV2_CHALLENGE_LEN>(
                value,
                "MS-CHAPv2 Failure C= is not 32 hex digits",
            )?);
            rest = tail;
        }
        let mut version = None;
        if let Some((value, tail)) = field(rest, b"V=") {
            version = Some(parse_decimal(
                value,
                "MS-CHAPv2 Failure V= is not a number",
            )?);
            rest = tail;
        }
        let text = if rest.is_empty() {
            None
        } else {
            Some(
                rest.strip_prefix(b"M=")
                    .ok_or(Error::Malformed("MS-CHAPv2 Failure: unexpected field"))?
                    .to_vec(),
            )
        };
        Ok(Self {
            error,
            retry,
            challenge,
            version,
            message: text,
        })
    }

    /// The Message (upper-case hex for the challenge).
    pub fn to_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("E={} R={}", self.error, u8::from(self.retry)).as_bytes());
        if let Some(challenge) = &self.challenge {
            out.extend_from_slice(b" C=");
            push_hex_upper(&mut out, challenge);
        }
        if let Some(version) = self.version {
            out.extend_from_slice(format!(" V={version}").as_bytes());
        }
        if let Some(text) = &self.message {
            out.extend_from_slice(b" M=");
            out.extend_from_slice(text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn md5_challenge_and_response() {
        let challenge = ChapRepr::new(
            0x21,
            ChapMessage::Challenge {
                value: vec![0xaa; 16],
                name: b"lac1".to_vec(),
            },
        );
        let bytes = challenge.to_vec().unwrap();
        assert_eq!(&bytes[..5], &[0x01, 0x21, 0x00, 0x19, 0x10]);
        assert_eq!(&bytes[21..], b"lac1");
        assert_eq!(ChapRepr::parse_bytes(&bytes).unwrap(), challenge);

        let mut response = bytes;
        response[0] = 2;
        match ChapRepr::parse_bytes(&response).unwrap().message {
            ChapMessage::Response { value, name } => {
                assert_eq!(value.len(), 16);
                assert_eq!(name, b"lac1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn value_size_beyond_length_is_an_error() {
        assert!(matches!(
            ChapRepr::parse_bytes(&[0x01, 0x01, 0x00, 0x06, 0x03, 0xaa]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            ChapRepr::parse_bytes(&[0x02, 0x01, 0x00, 0x04]),
            Err(Error::Truncated { .. })
        ));
        // Success/Failure may be empty.
        assert_eq!(
            ChapRepr::parse_bytes(&[0x03, 0x01, 0x00, 0x04])
                .unwrap()
                .message,
            ChapMessage::Success { message: vec![] }
        );
    }

    #[test]
    fn emit_refuses_oversized_value_and_defined_unknown() {
        let repr = ChapRepr::new(
            1,
            ChapMessage::Response {
                value: vec![0; 256],
                name: vec![],
            },
        );
        assert!(repr.to_vec().is_err());
        let repr = ChapRepr::new(
            1,
            ChapMessage::Unknown {
                code: 3,
                data: vec![],
            },
        );
        assert!(repr.to_vec().is_err());
    }

    #[test]
    fn mschapv2_response_layout() {
        let mut value = [0u8; 49];
        for (i, b) in value.iter_mut().enumerate() {
            *b = i as u8;
        }
        value[16..24].fill(0);
        value[48] = 0;
        let response = MsChapV2Response::parse(&value).unwrap();
        assert_eq!(response.peer_challenge[15], 15);
        assert_eq!(response.nt_response[0], 24);
        assert_eq!(response.nt_response[23], 47);
        assert!(response.reserved_fields_are_zero());
        assert_eq!(response.to_bytes(), value);
        let mut out = [0u8; 49];
        response.emit(&mut out).unwrap();
        assert_eq!(out, value);
        assert!(response.emit(&mut [0u8; 48]).is_err());
        assert!(MsChapV2Response::parse(&value[..48]).is_err());
        assert!(MsChapV2Response::parse(&[0u8; 50]).is_err());
        value[48] = 1;
        assert!(
            !MsChapV2Response::parse(&value)
                .unwrap()
                .reserved_fields_are_zero()
        );
    }

    #[test]
    fn mschapv2_success_message() {
        let text = b"S=0123456789ABCDEF0123456789ABCDEF01234567 M=Welcome";
        let success = MsChapV2Success::parse(text).unwrap();
        assert_eq!(success.authenticator_response[0], 0x01);
        assert_eq!(success.authenticator_response[19], 0x67);
        assert_eq!(success.message.as_deref(), Some(&b"Welcome"[..]));
        assert_eq!(success.to_message(), text);
        // Lower-case digits are accepted, no M= is accepted.
        let lower = MsChapV2Success::parse(b"S=0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(lower.authenticator_response, success.authenticator_response);
        assert_eq!(lower.message, None);
        for bad in [
            &b""[..],
            b"S=0123",
            b"X=0123456789ABCDEF0123456789ABCDEF01234567",
            b"S=0123456789ABCDEF0123456789ABCDEF0123456G",
            b"S=0123456789ABCDEF0123456789ABCDEF01234567M=x",
        ] {
            assert!(MsChapV2Success::parse(bad).is_err());
        }
    }

    #[test]
    fn mschapv2_failure_message() {
        let text = b"E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failed";
        let failure = MsChapV2Failure::parse(text).unwrap();
        assert_eq!(failure.error, MsChapV2Failure::ERROR_AUTHENTICATION_FAILURE);
        assert!(failure.retry);
        assert_eq!(failure.challenge.unwrap()[15], 0xff);
        assert_eq!(failure.version, Some(3));
        assert_eq!(
            failure.message.as_deref(),
            Some(&b"Authentication failed"[..])
        );
        assert_eq!(failure.to_message(), text);
        let short = MsChapV2Failure::parse(b"E=649 R=0").unwrap();
        assert_eq!(short.error, 649);
        assert!(!short.retry && short.challenge.is_none() && short.version.is_none());
        for bad in [
            &b""[..],
            b"E= R=0",
            b"E=99999999999 R=0",
            b"E=691",
            b"E=691 R=2",
            b"E=691 R=1 C=0011",
            b"E=691 R=1 X=1",
            b"E=691 R=1 V=x",
        ] {
            assert!(
                MsChapV2Failure::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn chap_repr() -> impl Strategy<Value = ChapRepr> {
        let bytes = |n| proptest::collection::vec(any::<u8>(), 0..n);
        let message = prop_oneof![
            (bytes(64), bytes(16)).prop_map(|(value, name)| ChapMessage::Challenge { value, name }),
            (bytes(64), bytes(16)).prop_map(|(value, name)| ChapMessage::Response { value, name }),
            bytes(32).prop_map(|message| ChapMessage::Success { message }),
            bytes(32).prop_map(|message| ChapMessage::Failure { message }),
            (prop_oneof![Just(0u8), 5u8..=255], bytes(16))
                .prop_map(|(code, data)| ChapMessage::Unknown { code, data }),
        ];
        (any::<u8>(), message).prop_map(|(identifier, message)| ChapRepr::new(identifier, message))
    }

    proptest! {
        #[test]
        fn chap_repr_round_trips(repr in chap_repr()) {
            let bytes = repr.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(ChapRepr::parse_bytes(&bytes).unwrap(), repr);
        }

        #[test]
        fn chap_bytes_round_trip(code in 0u8..6, data in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut bytes = vec![code, 9];
            bytes.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
            bytes.extend_from_slice(&data);
            if let Ok(repr) = ChapRepr::parse_bytes(&bytes) {
                prop_assert_eq!(repr.to_vec().unwrap(), bytes);
            }
        }

        #[test]
        fn mschapv2_response_round_trips(value in proptest::collection::vec(any::<u8>(), 49)) {
            let response = MsChapV2Response::parse(&value).unwrap();
            prop_assert_eq!(&response.to_bytes()[..], &value[..]);
        }

        #[test]
        fn mschapv2_success_round_trips(auth: [u8; 20], message in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))) {
            let success = MsChapV2Success { authenticator_response: auth, message };
            prop_assert_eq!(MsChapV2Success::parse(&success.to_message()).unwrap(), success);
        }

        #[test]
        fn mschapv2_failure_round_trips(
            error: u32,
            retry: bool,
            challenge in proptest::option::of(any::<[u8; 16]>()),
            version in proptest::option::of(any::<u32>()),
            message in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        ) {
            let failure = MsChapV2Failure { error, retry, challenge, version, message };
            prop_assert_eq!(MsChapV2Failure::parse(&failure.to_message()).unwrap(), failure);
        }

        #[test]
        fn mschapv2_text_parsers_never_panic(text in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = MsChapV2Success::parse(&text);
            let _ = MsChapV2Failure::parse(&text);
        }
    }
}
