//! The packet format of LCP and the Network Control Protocols (RFC 1661
//! §5, RFC 1570 §2 for Identification and Time-Remaining), and their
//! Configuration Option TLVs (RFC 1661 §6).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Code      |  Identifier   |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Data ...
//! ```
//!
//! PAP and CHAP packets share this header; their bodies live in
//! [`super::pap`] and [`super::chap`].
//!
//! RFC 1661 §5: "Octets outside the range of the Length field are treated
//! as padding and are ignored on reception. When a packet is received with
//! an invalid Length field, the packet is silently discarded without
//! affecting the automaton." So [`ControlPacket::new_checked`] refuses a
//! Length below 4 or beyond the buffer, and every accessor stops at Length.

use core::fmt;

use super::Protocol;
use crate::wire::{Error, Result, ensure_len, ensure_room};

/// Length of the Code / Identifier / Length header.
pub const HEADER_LEN: usize = 4;
/// Length of an option's Type and Length octets.
pub const OPTION_HEADER_LEN: usize = 2;
/// The largest option data an 8-bit option Length allows.
pub const MAX_OPTION_DATA_LEN: usize = u8::MAX as usize - OPTION_HEADER_LEN;
/// The largest packet a 16-bit Length allows.
pub const MAX_PACKET_LEN: usize = u16::MAX as usize;

#[inline]
pub(super) fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

#[inline]
pub(super) fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

crate::open_enum! {
    /// The Code field of LCP (RFC 1661 §5, RFC 1570 §2) and of the NCPs,
    /// which use only Codes 1 to 7 (RFC 1332 §2, RFC 5072 §3).
    pub enum Code(u8) {
        /// Configure-Request.
        ConfigureRequest = 1,
        /// Configure-Ack.
        ConfigureAck = 2,
        /// Configure-Nak.
        ConfigureNak = 3,
        /// Configure-Reject.
        ConfigureReject = 4,
        /// Terminate-Request.
        TerminateRequest = 5,
        /// Terminate-Ack.
        TerminateAck = 6,
        /// Code-Reject.
        CodeReject = 7,
        /// Protocol-Reject (LCP only).
        ProtocolReject = 8,
        /// Echo-Request (LCP only).
        EchoRequest = 9,
        /// Echo-Reply (LCP only).
        EchoReply = 10,
        /// Discard-Request (LCP only).
        DiscardRequest = 11,
        /// Identification (LCP only, RFC 1570 §2.1).
        Identification = 12,
        /// Time-Remaining (LCP only, RFC 1570 §2.2).
        TimeRemaining = 13,
    }
}

impl Code {
    /// Whether a control protocol defines this code: 1–7 for every one,
    /// 8–13 only for LCP. RFC 1332 §2: "Other Codes should be treated as
    /// unrecognized and should result in Code-Rejects."
    pub fn is_defined(self, link_control: bool) -> bool {
        match u8::from(self) {
            1..=7 => true,
            8..=13 => link_control,
            _ => false,
        }
    }
}

/// Writes a control-packet header (Code, Identifier, Length = 4 +
/// `data_len`) at the start of `buf`, for callers that write the data
/// themselves; returns the header length.
pub fn emit_header(buf: &mut [u8], code: u8, identifier: u8, data_len: usize) -> Result<usize> {
    let length = data_len
        .checked_add(HEADER_LEN)
        .filter(|len| *len <= MAX_PACKET_LEN)
        .ok_or(Error::Malformed(
            "PPP control packet longer than 65535 bytes",
        ))?;
    ensure_room(buf, HEADER_LEN)?;
    buf[0] = code;
    buf[1] = identifier;
    buf[2..4].copy_from_slice(&(length as u16).to_be_bytes());
    Ok(HEADER_LEN)
}

// ---------------------------------------------------------------------------
// Packet view
// ---------------------------------------------------------------------------

/// A zero-copy view of an LCP, NCP, PAP or CHAP packet (the information
/// field of a PPP frame).
#[derive(Debug, Clone)]
pub struct ControlPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ControlPacket<T> {
    /// Checks that Length is at least 4 and fits in the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("PPP control header", bytes, HEADER_LEN)?;
        let length = usize::from(read_u16(bytes, 2));
        if length < HEADER_LEN {
            return Err(Error::Malformed("PPP control packet Length below 4"));
        }
        ensure_len("PPP control packet (Length)", bytes, length)?;
        Ok(Self { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Code octet.
    pub fn raw_code(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The Code, as an LCP/NCP code.
    pub fn code(&self) -> Code {
        Code::from(self.raw_code())
    }

    /// Identifier.
    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Length: header plus data.
    pub fn length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// Exactly Length − 4 bytes after the header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.length())]
    }

    /// The packet up to Length (header and data, no padding).
    pub fn packet(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.length())]
    }

    /// Bytes after Length, ignored.
    pub fn padding(&self) -> &[u8] {
        &self.buffer.as_ref()[usize::from(self.length())..]
    }

    /// The data as Configuration Options (for the Configure-* codes). These
    /// are the raw bytes L2TP proxy-LCP AVPs carry (RFC 2661 §4.4.5).
    pub fn options(&self) -> OptionIter<'_> {
        OptionIter::new(self.data())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ControlPacket<T> {
    /// Sets the Code octet.
    pub fn set_raw_code(&mut self, code: u8) {
        self.buffer.as_mut()[0] = code;
    }

    /// Sets the Code.
    pub fn set_code(&mut self, code: Code) {
        self.set_raw_code(code.into());
    }

    /// Sets the Identifier.
    pub fn set_identifier(&mut self, identifier: u8) {
        self.buffer.as_mut()[1] = identifier;
    }

    /// Sets Length; it must stay at least 4 and fit in the buffer.
    pub fn set_length(&mut self, length: u16) -> Result<()> {
        if usize::from(length) < HEADER_LEN {
            return Err(Error::Malformed("PPP control packet Length below 4"));
        }
        ensure_room(self.buffer.as_ref(), usize::from(length))?;
        self.buffer.as_mut()[2..4].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// The data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Turns a received LCP Echo-Request into its Echo-Reply, in place:
    /// Code 10, same Identifier and data, our Magic-Number.
    ///
    /// RFC 1661 §5.8: "Upon reception of an Echo-Request in the
    /// LCP Opened state, an Echo-Reply MUST be transmitted."
    pub fn echo_request_into_reply(&mut self, local_magic: u32) -> Result<()> {
        if self.code() != Code::EchoRequest {
            return Err(Error::Malformed("not an LCP Echo-Request"));
        }
        ensure_len("LCP Echo-Request Magic-Number", self.data(), 4)?;
        self.set_code(Code::EchoReply);
        self.data_mut()[..4].copy_from_slice(&local_magic.to_be_bytes());
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// One Configuration Option as it appears in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Type.
    pub option_type: u8,
    /// The bytes after Type and Length.
    pub data: &'a [u8],
    /// The whole option, Type and Length included (what a Configure-Reject
    /// or Configure-Nak copies).
    pub bytes: &'a [u8],
}

/// Iterates Configuration Options without copying. Yields `Err` once, and
/// then stops, at an option whose Length is below 2 or overruns the data.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> OptionIter<'a> {
    /// Iterates the options in `data` (a Configure-* packet's data).
    pub const fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            done: false,
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        let result = (|| {
            ensure_len("PPP option header", rest, OPTION_HEADER_LEN)?;
            let length = usize::from(rest[1]);
            if length < OPTION_HEADER_LEN {
                return Err(Error::Malformed("PPP option Length below 2"));
            }
            ensure_len("PPP option (Length)", rest, length)?;
            Ok(length)
        })();
        match result {
            Ok(length) => {
                self.rest = &rest[length..];
                Some(Ok(RawOption {
                    option_type: rest[0],
                    data: &rest[OPTION_HEADER_LEN..length],
                    bytes: &rest[..length],
                }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for OptionIter<'_> {}

/// A typed Configuration Option of one control protocol.
pub trait ConfigOption: Sized {
    /// The protocol these options belong to.
    const PROTOCOL: Protocol;
    /// Whether the protocol is LCP, which alone defines Codes 8–13.
    const LINK_CONTROL: bool;

    /// Parses one option. A known Type whose data has the wrong length is
    /// [`Error::Malformed`]; an unknown Type is kept verbatim.
    fn parse(raw: RawOption<'_>) -> Result<Self>;

    /// The Type octet.
    fn option_type(&self) -> u8;

    /// Length of the data after Type and Length.
    fn data_len(&self) -> usize;

    /// Writes the data into `out`, which is exactly
    /// [`data_len`](Self::data_len) bytes long.
    fn write_data(&self, out: &mut [u8]);

    /// Encoded length, Type and Length included.
    fn buffer_len(&self) -> usize {
        OPTION_HEADER_LEN + self.data_len()
    }

    /// Writes the option at the start of `buf`; returns its length.
    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let data_len = self.data_len();
        if data_len > MAX_OPTION_DATA_LEN {
            return Err(Error::Malformed("PPP option longer than 255 bytes"));
        }
        let len = OPTION_HEADER_LEN + data_len;
        ensure_room(buf, len)?;
        buf[0] = self.option_type();
        buf[1] = len as u8;
        self.write_data(&mut buf[OPTION_HEADER_LEN..len]);
        Ok(len)
    }
}

/// Parses every option in `data`, in order.
pub fn parse_options<O: ConfigOption>(data: &[u8]) -> Result<Vec<O>> {
    OptionIter::new(data)
        .map(|raw| raw.and_then(O::parse))
        .collect()
}

/// Encoded length of a list of options.
pub fn options_len<O: ConfigOption>(options: &[O]) -> usize {
    options.iter().map(ConfigOption::buffer_len).sum()
}

/// Writes a list of options at the start of `buf`; returns their length.
/// These bytes are what the L2TP proxy-LCP AVPs carry.
pub fn emit_options<O: ConfigOption>(options: &[O], buf: &mut [u8]) -> Result<usize> {
    let len = options_len(options);
    ensure_room(buf, len)?;
    let mut offset = 0;
    for option in options {
        offset += option.emit(&mut buf[offset..len])?;
    }
    Ok(offset)
}

// ---------------------------------------------------------------------------
// Owned packets
// ---------------------------------------------------------------------------

/// The body of an LCP or NCP packet, by Code.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ControlMessage<O> {
    /// Configure-Request: the options the sender wants, in order.
    ConfigureRequest(Vec<O>),
    /// Configure-Ack: the request's options, unchanged.
    ConfigureAck(Vec<O>),
    /// Configure-Nak: acceptable values for options the sender disliked.
    ConfigureNak(Vec<O>),
    /// Configure-Reject: the options the sender does not accept at all.
    ConfigureReject(Vec<O>),
    /// Terminate-Request, with opaque data.
    TerminateRequest(Vec<u8>),
    /// Terminate-Ack, with opaque data.
    TerminateAck(Vec<u8>),
    /// Code-Reject: the rejected packet, starting at its Code.
    CodeReject(Vec<u8>),
    /// Protocol-Reject (LCP only).
    ProtocolReject {
        /// The protocol the peer does not run.
        protocol: Protocol,
        /// The start of the rejected packet's information field.
        information: Vec<u8>,
    },
    /// Echo-Request (LCP only).
    EchoRequest {
        /// The sender's Magic-Number (0 when it has none).
        magic_number: u32,
        /// Opaque data.
        data: Vec<u8>,
    },
    /// Echo-Reply (LCP only).
    EchoReply {
        /// The sender's Magic-Number.
        magic_number: u32,
        /// The request's data.
        data: Vec<u8>,
    },
    /// Discard-Request (LCP only).
    DiscardRequest {
        /// The sender's Magic-Number.
        magic_number: u32,
        /// Opaque data.
        data: Vec<u8>,
    },
    /// Identification (LCP only, RFC 1570 §2.1).
    Identification {
        /// The sender's Magic-Number.
        magic_number: u32,
        /// Free text.
        message: Vec<u8>,
    },
    /// Time-Remaining (LCP only, RFC 1570 §2.2).
    TimeRemaining {
        /// The sender's Magic-Number.
        magic_number: u32,
        /// Seconds left in the session (0xffffffff: no limit).
        seconds_remaining: u32,
        /// Free text.
        message: Vec<u8>,
    },
    /// A Code this protocol does not define (to be Code-Rejected), with
    /// its data. Never carries a defined Code.
    Unknown {
        /// The Code octet.
        code: u8,
        /// The data.
        data: Vec<u8>,
    },
}

impl<O: fmt::Debug> fmt::Debug for ControlMessage<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConfigureRequest(o) => f.debug_tuple("ConfigureRequest").field(o).finish(),
            Self::ConfigureAck(o) => f.debug_tuple("ConfigureAck").field(o).finish(),
            Self::ConfigureNak(o) => f.debug_tuple("ConfigureNak").field(o).finish(),
            Self::ConfigureReject(o) => f.debug_tuple("ConfigureReject").field(o).finish(),
            Self::TerminateRequest(d) => f.debug_tuple("TerminateRequest").field(d).finish(),
            Self::TerminateAck(d) => f.debug_tuple("TerminateAck").field(d).finish(),
            Self::CodeReject(d) => f.debug_tuple("CodeReject").field(d).finish(),
            Self::ProtocolReject {
                protocol,
                information,
            } => f
                .debug_struct("ProtocolReject")
                .field("protocol", protocol)
                .field("information", information)
                .finish(),
            Self::EchoRequest { magic_number, data } => f
                .debug_struct("EchoRequest")
                .field("magic_number", &format_args!("{magic_number:#010x}"))
                .field("data", data)
                .finish(),
            Self::EchoReply { magic_number, data } => f
                .debug_struct("EchoReply")
                .field("magic_number", &format_args!("{magic_number:#010x}"))
                .field("data", data)
                .finish(),
            Self::DiscardRequest { magic_number, data } => f
                .debug_struct("DiscardRequest")
                .field("magic_number", &format_args!("{magic_number:#010x}"))
                .field("data", data)
                .finish(),
            Self::Identification {
                magic_number,
                message,
            } => f
                .debug_struct("Identification")
                .field("magic_number", &format_args!("{magic_number:#010x}"))
                .field("message", &String::from_utf8_lossy(message))
                .finish(),
            Self::TimeRemaining {
                magic_number,
                seconds_remaining,
                message,
            } => f
                .debug_struct("TimeRemaining")
                .field("magic_number", &format_args!("{magic_number:#010x}"))
                .field("seconds_remaining", seconds_remaining)
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

impl<O> ControlMessage<O> {
    /// The Code octet this message is sent with.
    pub fn code(&self) -> u8 {
        match self {
            Self::ConfigureRequest(_) => 1,
            Self::ConfigureAck(_) => 2,
            Self::ConfigureNak(_) => 3,
            Self::ConfigureReject(_) => 4,
            Self::TerminateRequest(_) => 5,
            Self::TerminateAck(_) => 6,
            Self::CodeReject(_) => 7,
            Self::ProtocolReject { .. } => 8,
            Self::EchoRequest { .. } => 9,
            Self::EchoReply { .. } => 10,
            Self::DiscardRequest { .. } => 11,
            Self::Identification { .. } => 12,
            Self::TimeRemaining { .. } => 13,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// The options of a Configure-Request, -Ack, -Nak or -Reject.
    pub fn options(&self) -> Option<&[O]> {
        match self {
            Self::ConfigureRequest(o)
            | Self::ConfigureAck(o)
            | Self::ConfigureNak(o)
            | Self::ConfigureReject(o) => Some(o),
            _ => None,
        }
    }
}

/// An owned LCP or NCP packet; `O` is the protocol's option type
/// ([`super::LcpOption`], [`super::IpcpOption`], [`super::Ipv6cpOption`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ControlRepr<O> {
    /// Identifier.
    pub identifier: u8,
    /// Code and body.
    pub message: ControlMessage<O>,
}

fn magic_and_rest<'a>(data: &'a [u8], what: &'static str) -> Result<(u32, &'a [u8])> {
    ensure_len(what, data, 4)?;
    Ok((read_u32(data, 0), &data[4..]))
}

impl<O: ConfigOption> ControlRepr<O> {
    /// A packet.
    pub const fn new(identifier: u8, message: ControlMessage<O>) -> Self {
        Self {
            identifier,
            message,
        }
    }

    /// Parses a checked packet. Codes 8–13 are typed only for LCP; for an
    /// NCP they are [`ControlMessage::Unknown`], as RFC 1332 §2 requires.
    pub fn parse<T: AsRef<[u8]>>(packet: &ControlPacket<T>) -> Result<Self> {
        let data = packet.data();
        let code = packet.code();
        let message = if !code.is_defined(O::LINK_CONTROL) {
            ControlMessage::Unknown {
                code: packet.raw_code(),
                data: data.to_vec(),
            }
        } else {
            match code {
                Code::ConfigureRequest => ControlMessage::ConfigureRequest(parse_options(data)?),
                Code::ConfigureAck => ControlMessage::ConfigureAck(parse_options(data)?),
                Code::ConfigureNak => ControlMessage::ConfigureNak(parse_options(data)?),
                Code::ConfigureReject => ControlMessage::ConfigureReject(parse_options(data)?),
                Code::TerminateRequest => ControlMessage::TerminateRequest(data.to_vec()),
                Code::TerminateAck => ControlMessage::TerminateAck(data.to_vec()),
                Code::CodeReject => ControlMessage::CodeReject(data.to_vec()),
                Code::ProtocolReject => {
                    ensure_len("LCP Protocol-Reject Rejected-Protocol", data, 2)?;
                    ControlMessage::ProtocolReject {
                        protocol: Protocol::from(read_u16(data, 0)),
                        information: data[2..].to_vec(),
                    }
                }
                Code::EchoRequest => {
                    let (magic_number, rest) =
                        magic_and_rest(data, "LCP Echo-Request Magic-Number")?;
                    ControlMessage::EchoRequest {
                        magic_number,
                        data: rest.to_vec(),
                    }
                }
                Code::EchoReply => {
                    let (magic_number, rest) = magic_and_rest(data, "LCP Echo-Reply Magic-Number")?;
                    ControlMessage::EchoReply {
                        magic_number,
                        data: rest.to_vec(),
                    }
                }
                Code::DiscardRequest => {
                    let (magic_number, rest) =
                        magic_and_rest(data, "LCP Discard-Request Magic-Number")?;
                    ControlMessage::DiscardRequest {
                        magic_number,
                        data: rest.to_vec(),
                    }
                }
                Code::Identification => {
                    let (magic_number, rest) =
                        magic_and_rest(data, "LCP Identification Magic-Number")?;
                    ControlMessage::Identification {
                        magic_number,
                        message: rest.to_vec(),
                    }
                }
                Code::TimeRemaining => {
                    ensure_len("LCP Time-Remaining", data, 8)?;
                    ControlMessage::TimeRemaining {
                        magic_number: read_u32(data, 0),
                        seconds_remaining: read_u32(data, 4),
                        message: data[8..].to_vec(),
                    }
                }
                Code::Unknown(code) => ControlMessage::Unknown {
                    code,
                    data: data.to_vec(),
                },
            }
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

    /// The Code octet.
    pub fn code(&self) -> u8 {
        self.message.code()
    }

    /// Length of the data after the header.
    pub fn data_len(&self) -> usize {
        match &self.message {
            ControlMessage::ConfigureRequest(o)
            | ControlMessage::ConfigureAck(o)
            | ControlMessage::ConfigureNak(o)
            | ControlMessage::ConfigureReject(o) => options_len(o),
            ControlMessage::TerminateRequest(d)
            | ControlMessage::TerminateAck(d)
            | ControlMessage::CodeReject(d)
            | ControlMessage::Unknown { data: d, .. } => d.len(),
            ControlMessage::ProtocolReject { information, .. } => 2 + information.len(),
            ControlMessage::EchoRequest { data, .. }
            | ControlMessage::EchoReply { data, .. }
            | ControlMessage::DiscardRequest { data, .. } => 4 + data.len(),
            ControlMessage::Identification { message, .. } => 4 + message.len(),
            ControlMessage::TimeRemaining { message, .. } => 8 + message.len(),
        }
    }

    /// Encoded length (the Length field).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data_len()
    }

    /// Writes the packet at the start of `buf`; returns its length. Refuses
    /// a Code the protocol does not define (e.g. Echo-Request for IPCP) and
    /// an `Unknown` message that carries a defined Code, so that what is
    /// emitted parses back to the same value.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let code = Code::from(self.code());
        let defined = code.is_defined(O::LINK_CONTROL);
        match (&self.message, defined) {
            (ControlMessage::Unknown { .. }, true) => {
                return Err(Error::Malformed(
                    "Unknown control message carries a defined Code",
                ));
            }
            (ControlMessage::Unknown { .. }, false) | (_, true) => {}
            (_, false) => {
                return Err(Error::Malformed(
                    "Code not defined for this control protocol",
                ));
            }
        }
        let len = self.buffer_len();
        emit_header(buf, self.code(), self.identifier, self.data_len())?;
        ensure_room(buf, len)?;
        let out = &mut buf[HEADER_LEN..len];
        let put = |out: &mut [u8], at: usize, bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
        };
        match &self.message {
            ControlMessage::ConfigureRequest(o)
            | ControlMessage::ConfigureAck(o)
            | ControlMessage::ConfigureNak(o)
            | ControlMessage::ConfigureReject(o) => {
                emit_options(o, out)?;
            }
            ControlMessage::TerminateRequest(d)
            | ControlMessage::TerminateAck(d)
            | ControlMessage::CodeReject(d)
            | ControlMessage::Unknown { data: d, .. } => put(out, 0, d),
            ControlMessage::ProtocolReject {
                protocol,
                information,
            } => {
                put(out, 0, &u16::from(*protocol).to_be_bytes());
                put(out, 2, information);
            }
            ControlMessage::EchoRequest { magic_number, data }
            | ControlMessage::EchoReply { magic_number, data }
            | ControlMessage::DiscardRequest { magic_number, data }
            | ControlMessage::Identification {
                magic_number,
                message: data,
            } => {
                put(out, 0, &magic_number.to_be_bytes());
                put(out, 4, data);
            }
            ControlMessage::TimeRemaining {
                magic_number,
                seconds_remaining,
                message,
            } => {
                put(out, 0, &magic_number.to_be_bytes());
                put(out, 4, &seconds_remaining.to_be_bytes());
                put(out, 8, message);
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
    use crate::wire::ppp::lcp::LcpOption;
    use crate::wire::ppp::{IpcpOption, LcpRepr};

    #[test]
    fn header_and_padding() {
        // Terminate-Request id 2, Length 4, then Ethernet padding.
        let bytes = [0x05, 0x02, 0x00, 0x04, 0xaa, 0xbb];
        let packet = ControlPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.code(), Code::TerminateRequest);
        assert_eq!(packet.identifier(), 2);
        assert_eq!(packet.length(), 4);
        assert!(packet.data().is_empty());
        assert_eq!(packet.padding(), &[0xaa, 0xbb]);
        let repr = LcpRepr::parse(&packet).unwrap();
        assert_eq!(repr.message, ControlMessage::TerminateRequest(vec![]));
        assert_eq!(repr.to_vec().unwrap(), bytes[..4]);
    }

    #[test]
    fn length_field_errors() {
        assert!(matches!(
            ControlPacket::new_checked(&[0x01, 0x01, 0x00][..]),
            Err(Error::Truncated { .. })
        ));
        for length in 0..4u8 {
            assert!(matches!(
                ControlPacket::new_checked(&[0x01, 0x01, 0x00, length][..]),
                Err(Error::Malformed(_))
            ));
        }
        assert!(matches!(
            ControlPacket::new_checked(&[0x01, 0x01, 0x00, 0x05][..]),
            Err(Error::Truncated {
                need: 5,
                have: 4,
                ..
            })
        ));
    }

    #[test]
    fn option_length_errors() {
        let cases: [(&[u8], bool); 5] = [
            (&[0x01], false),                   // header cut short
            (&[0x01, 0x00], false),             // Length 0
            (&[0x01, 0x01], false),             // Length 1
            (&[0x01, 0x05, 0x05, 0xd4], false), // overruns
            (&[0x07, 0x02], true),              // PFC, fine
        ];
        for (data, ok) in cases {
            let result: Result<Vec<RawOption<'_>>> = OptionIter::new(data).collect();
            assert_eq!(result.is_ok(), ok, "{data:02x?}");
        }
        let mut iter = OptionIter::new(&[0x07, 0x02, 0x01, 0x00, 0x07, 0x02]);
        assert!(iter.next().unwrap().is_ok());
        assert!(iter.next().unwrap().is_err());
        assert!(iter.next().is_none());
    }

    #[test]
    fn lcp_only_codes() {
        // Echo-Request parses for LCP, is Unknown (to Code-Reject) for IPCP.
        let bytes = [0x09, 0x07, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04];
        let lcp = LcpRepr::parse_bytes(&bytes).unwrap();
        assert_eq!(
            lcp.message,
            ControlMessage::EchoRequest {
                magic_number: 0x0102_0304,
                data: vec![]
            }
        );
        let ipcp = ControlRepr::<IpcpOption>::parse_bytes(&bytes).unwrap();
        assert_eq!(
            ipcp.message,
            ControlMessage::Unknown {
                code: 9,
                data: vec![1, 2, 3, 4]
            }
        );
        assert_eq!(ipcp.to_vec().unwrap(), bytes);
        // IPCP cannot emit an Echo-Request.
        let bad = ControlRepr::<IpcpOption>::new(
            1,
            ControlMessage::EchoRequest {
                magic_number: 1,
                data: vec![],
            },
        );
        assert!(bad.to_vec().is_err());
        // Unknown must not carry a defined code.
        let bad = LcpRepr::new(
            1,
            ControlMessage::Unknown {
                code: 1,
                data: vec![],
            },
        );
        assert!(bad.to_vec().is_err());
    }

    #[test]
    fn short_bodies_are_errors() {
        for bytes in [
            &[0x08, 1, 0, 5, 0xc0][..],                 // Protocol-Reject, 1 byte
            &[0x09, 1, 0, 7, 0, 0, 0][..],              // Echo-Request, 3 bytes
            &[0x0a, 1, 0, 4][..],                       // Echo-Reply, no magic
            &[0x0b, 1, 0, 6, 0, 0][..],                 // Discard-Request
            &[0x0c, 1, 0, 7, 0, 0, 0][..],              // Identification
            &[0x0d, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0][..], // Time-Remaining
        ] {
            assert!(
                matches!(LcpRepr::parse_bytes(bytes), Err(Error::Truncated { .. })),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn echo_request_into_reply_in_place() {
        let mut bytes = [0x09, 0x2a, 0x00, 0x0a, 0, 0, 0, 1, 0xde, 0xad, 0xff];
        let mut packet = ControlPacket::new_checked(&mut bytes[..]).unwrap();
        packet.echo_request_into_reply(0x1122_3344).unwrap();
        assert_eq!(
            bytes,
            [
                0x0a, 0x2a, 0x00, 0x0a, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xff
            ]
        );
        let mut packet = ControlPacket::new_checked(&mut bytes[..]).unwrap();
        assert!(packet.echo_request_into_reply(1).is_err());
        let mut short = [0x09, 0x2a, 0x00, 0x04];
        let mut packet = ControlPacket::new_checked(&mut short[..]).unwrap();
        assert!(packet.echo_request_into_reply(1).is_err());
    }

    #[test]
    fn setters_and_header_helper() {
        let mut bytes = [0x01, 0x01, 0x00, 0x08, 0x07, 0x02, 0x08, 0x02, 0x00];
        let mut packet = ControlPacket::new_checked(&mut bytes[..]).unwrap();
        packet.set_code(Code::ConfigureAck);
        packet.set_identifier(9);
        assert!(packet.set_length(3).is_err());
        assert!(packet.set_length(10).is_err());
        packet.set_length(6).unwrap();
        assert_eq!(packet.data_mut().len(), 2);
        let packet = ControlPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            LcpRepr::parse(&packet).unwrap(),
            LcpRepr::new(9, ControlMessage::ConfigureAck(vec![LcpOption::Pfc]))
        );
        let mut out = [0u8; 4];
        emit_header(&mut out, 9, 3, 6).unwrap();
        assert_eq!(out, [9, 3, 0, 10]);
        assert!(emit_header(&mut out, 9, 3, 65_532).is_err());
        assert!(emit_header(&mut out[..3], 9, 3, 0).is_err());
    }

    #[test]
    fn options_helpers_give_the_raw_bytes() {
        let data = [0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x00, 0x00, 0x00, 0x01];
        let options: Vec<LcpOption> = parse_options(&data).unwrap();
        assert_eq!(options_len(&options), data.len());
        let mut out = [0u8; 10];
        assert_eq!(emit_options(&options, &mut out).unwrap(), 10);
        assert_eq!(out, data);
        assert!(emit_options(&options, &mut out[..9]).is_err());
    }
}
