//! AVP value types (RFC 2661 §4.4.2–§4.4.6): the Result Code AVP with its
//! StopCCN/CDN results and general error codes (§4.4.2), the protocol
//! version, framing and bearer bit sets and the Q.931 cause (§4.4.3,
//! §4.4.4), the proxy authentication type (§4.4.5), and the call errors and
//! ACCM (§4.4.6).

use crate::open_enum;

open_enum! {
    /// Result Code values of a StopCCN (RFC 2661 §4.4.2).
    pub enum StopCcnResult(u16) {
        /// 0 — Reserved.
        Reserved = 0,
        /// 1 — General request to clear control connection.
        GeneralRequestToClear = 1,
        /// 2 — General error; the Error Code indicates the problem.
        GeneralError = 2,
        /// 3 — Control channel already exists.
        ChannelExists = 3,
        /// 4 — Requester is not authorized to establish a control channel.
        NotAuthorized = 4,
        /// 5 — The protocol version of the requester is not supported; the
        /// Error Code indicates the highest version supported.
        UnsupportedProtocolVersion = 5,
        /// 6 — Requester is being shut down.
        ShuttingDown = 6,
        /// 7 — Finite State Machine error.
        FsmError = 7,
    }
}

open_enum! {
    /// Result Code values of a CDN (RFC 2661 §4.4.2).
    pub enum CdnResult(u16) {
        /// 0 — Reserved.
        Reserved = 0,
        /// 1 — Call disconnected due to loss of carrier.
        LossOfCarrier = 1,
        /// 2 — Call disconnected for the reason indicated in the Error Code.
        ErrorCode = 2,
        /// 3 — Call disconnected for administrative reasons.
        Administrative = 3,
        /// 4 — Call failed: no appropriate facilities available (temporary).
        FacilitiesTemporarilyUnavailable = 4,
        /// 5 — Call failed: no appropriate facilities available (permanent).
        FacilitiesPermanentlyUnavailable = 5,
        /// 6 — Invalid destination.
        InvalidDestination = 6,
        /// 7 — Call failed: no carrier detected.
        NoCarrier = 7,
        /// 8 — Call failed: busy signal.
        Busy = 8,
        /// 9 — Call failed: no dial tone.
        NoDialTone = 9,
        /// 10 — Call was not established within the time allotted by the LAC.
        Timeout = 10,
        /// 11 — Call was connected but no appropriate framing was detected.
        NoFraming = 11,
    }
}

open_enum! {
    /// General error codes of the Result Code AVP (RFC 2661 §4.4.2).
    pub enum GeneralError(u16) {
        /// 0 — No general error.
        NoError = 0,
        /// 1 — No control connection exists yet for this LAC-LNS pair.
        NoControlConnection = 1,
        /// 2 — Length is wrong.
        WrongLength = 2,
        /// 3 — A field value was out of range or a reserved field non-zero.
        OutOfRange = 3,
        /// 4 — Insufficient resources to handle this operation now.
        InsufficientResources = 4,
        /// 5 — The Session ID is invalid in this context.
        InvalidSessionId = 5,
        /// 6 — A generic vendor-specific error occurred in the LAC.
        VendorSpecific = 6,
        /// 7 — Try another LNS.
        TryAnother = 7,
        /// 8 — Shut down because of an unknown AVP with the M bit set.
        UnknownMandatoryAvp = 8,
    }
}

open_enum! {
    /// Proxy Authen Type values (RFC 2661 §4.4.5).
    pub enum ProxyAuthenType(u16) {
        /// 0 — Reserved.
        Reserved = 0,
        /// 1 — Textual username/password exchange.
        Textual = 1,
        /// 2 — PPP CHAP.
        Chap = 2,
        /// 3 — PPP PAP.
        Pap = 3,
        /// 4 — No authentication.
        NoAuthentication = 4,
        /// 5 — Microsoft CHAP Version 1 (MSCHAPv1).
        MsChapV1 = 5,
    }
}

/// The optional error part of a Result Code AVP.
///
/// `Debug` and `Display` show the Error Message as text (see
/// [`ResultCode`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResultError {
    /// Error Code (for StopCCN result 5: the highest protocol version
    /// supported, which shows up as [`GeneralError::Unknown`] or a
    /// coincidental name).
    pub code: GeneralError,
    /// Error Message: optional human-readable text (empty = absent).
    pub message: Vec<u8>,
}

/// Result Code AVP value (RFC 2661 §4.4.2). The meaning of `result`
/// depends on the message: see [`ResultCode::stop_ccn_result`] and
/// [`ResultCode::cdn_result`].
///
/// `Debug` and `Display` are for logs: the Error Message is shown as text
/// (invalid UTF-8 as `\xNN`, control characters escaped, quoted, cut after
/// [`MESSAGE_SHOWN`] characters), the Error Code by number and name:
/// `ResultCode { result: 2, error: 0 (NoError), message: "control
/// connection setup timed out" }`, or with `{}` `result 2, error 0
/// (NoError): "control connection setup timed out"`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResultCode {
    /// Result Code field.
    pub result: u16,
    /// Error Code and Error Message, when present.
    pub error: Option<ResultError>,
}

impl ResultCode {
    /// A StopCCN result without error code.
    pub fn stop_ccn(result: StopCcnResult) -> Self {
        Self {
            result: result.into(),
            error: None,
        }
    }

    /// A CDN result without error code.
    pub fn cdn(result: CdnResult) -> Self {
        Self {
            result: result.into(),
            error: None,
        }
    }

    /// Adds an error code and (possibly empty) error message.
    #[must_use]
    pub fn with_error(mut self, code: GeneralError, message: impl Into<Vec<u8>>) -> Self {
        self.error = Some(ResultError {
            code,
            message: message.into(),
        });
        self
    }

    /// The result read as a StopCCN result.
    pub fn stop_ccn_result(&self) -> StopCcnResult {
        self.result.into()
    }

    /// The result read as a CDN result.
    pub fn cdn_result(&self) -> CdnResult {
        self.result.into()
    }

    /// The error code, if present.
    pub fn error_code(&self) -> Option<GeneralError> {
        self.error.as_ref().map(|e| e.code)
    }
}

/// Characters of an Error Message that `Debug` and `Display` of
/// [`ResultCode`] and [`ResultError`] show; the rest is cut (a peer
/// controls the message and logs must stay bounded).
pub const MESSAGE_SHOWN: usize = 160;

/// An Error Code as `7 (TryAnother)`, or `9` when it has no name.
struct ErrorCodeText(GeneralError);

impl core::fmt::Debug for ErrorCodeText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            GeneralError::Unknown(code) => write!(f, "{code}"),
            named => write!(f, "{} ({named:?})", u16::from(named)),
        }
    }
}

/// An Error Message as quoted, escaped, bounded text.
struct MessageText<'a>(&'a [u8]);

impl core::fmt::Debug for MessageText<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write as _;
        f.write_char('"')?;
        let mut shown = 0;
        let mut cut = false;
        'chunks: for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if shown == MESSAGE_SHOWN {
                    cut = true;
                    break 'chunks;
                }
                shown += 1;
                if c == '\'' {
                    f.write_char(c)?;
                } else {
                    write!(f, "{}", c.escape_debug())?;
                }
            }
            for byte in chunk.invalid() {
                if shown == MESSAGE_SHOWN {
                    cut = true;
                    break 'chunks;
                }
                shown += 1;
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_char('"')?;
        if cut {
            write!(f, "… ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for ResultError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResultError")
            .field("code", &ErrorCodeText(self.code))
            .field("message", &MessageText(&self.message))
            .finish()
    }
}

/// `error 7 (TryAnother): "message"` (the message only when present).
impl core::fmt::Display for ResultError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "error {:?}", ErrorCodeText(self.code))?;
        if !self.message.is_empty() {
            write!(f, ": {:?}", MessageText(&self.message))?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for ResultCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut out = f.debug_struct("ResultCode");
        out.field("result", &self.result);
        if let Some(error) = &self.error {
            out.field("error", &ErrorCodeText(error.code));
            if !error.message.is_empty() {
                out.field("message", &MessageText(&error.message));
            }
        }
        out.finish()
    }
}

/// `result 2, error 0 (NoError): "message"` (error and message only when
/// present).
impl core::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "result {}", self.result)?;
        if let Some(error) = &self.error {
            write!(f, ", {error}")?;
        }
        Ok(())
    }
}

/// Protocol Version AVP value: Ver 1, Rev 0 for RFC 2661.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolVersion {
    /// Ver.
    pub version: u8,
    /// Rev.
    pub revision: u8,
}

impl ProtocolVersion {
    /// The version this document defines: Ver 1, Rev 0.
    pub const RFC2661: Self = Self {
        version: 1,
        revision: 0,
    };
}

/// Framing bits, used by Framing Capabilities and Framing Type
/// (RFC 2661 §4.4.3, §4.4.4). Unknown bits are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Framing(pub u32);

impl Framing {
    /// S bit: synchronous framing.
    pub const SYNC: Self = Self(0x0000_0001);
    /// A bit: asynchronous framing.
    pub const ASYNC: Self = Self(0x0000_0002);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Framing {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Bearer bits, used by Bearer Capabilities and Bearer Type
/// (RFC 2661 §4.4.3, §4.4.4). Unknown bits are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Bearer(pub u32);

impl Bearer {
    /// D bit: digital access.
    pub const DIGITAL: Self = Self(0x0000_0001);
    /// A bit: analog access.
    pub const ANALOG: Self = Self(0x0000_0002);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Bearer {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Q.931 Cause Code AVP value (RFC 2661 §4.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Q931Cause {
    /// Cause Code, as returned by Q.931.
    pub cause_code: u16,
    /// Cause Msg: the Q.931 message type that carried the cause.
    pub cause_msg: u8,
    /// Advisory Msg: optional text (empty = absent).
    pub advisory: Vec<u8>,
}

/// Call Errors AVP value (RFC 2661 §4.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CallErrors {
    /// Reserved field, kept as received.
    pub reserved: u16,
    /// CRC errors.
    pub crc_errors: u32,
    /// Framing errors.
    pub framing_errors: u32,
    /// Hardware overruns.
    pub hardware_overruns: u32,
    /// Buffer overruns.
    pub buffer_overruns: u32,
    /// Time-out errors.
    pub timeout_errors: u32,
    /// Alignment errors.
    pub alignment_errors: u32,
}

/// ACCM AVP value (RFC 2661 §4.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Accm {
    /// Reserved field, kept as received.
    pub reserved: u16,
    /// Send ACCM: the map the LAC uses toward the PPP peer.
    pub send: u32,
    /// Receive ACCM.
    pub receive: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_show_their_message_as_bounded_escaped_text() {
        let rc = ResultCode::stop_ccn(StopCcnResult::GeneralError)
            .with_error(GeneralError::NoError, "control connection setup timed out");
        assert_eq!(
            format!("{rc:?}"),
            r#"ResultCode { result: 2, error: 0 (NoError), message: "control connection setup timed out" }"#
        );
        assert_eq!(
            rc.to_string(),
            r#"result 2, error 0 (NoError): "control connection setup timed out""#
        );
        assert_eq!(
            format!("{:?}", Some(rc.clone())),
            format!("Some({rc:?})"),
            "as a log field shows it"
        );
        // No error part; an unnamed code; no message.
        let bare = ResultCode::cdn(CdnResult::Administrative);
        assert_eq!(format!("{bare:?}"), "ResultCode { result: 3 }");
        assert_eq!(bare.to_string(), "result 3");
        let unnamed = bare.with_error(GeneralError::Unknown(42), Vec::new());
        assert_eq!(
            format!("{unnamed:?}"),
            "ResultCode { result: 3, error: 42 }"
        );
        assert_eq!(unnamed.to_string(), "result 3, error 42");
        // Invalid UTF-8, quotes, control characters: escaped, never raw.
        let error = ResultError {
            code: GeneralError::TryAnother,
            message: b"it's \"full\"\n\xff\xfe\x07caf\xc3\xa9".to_vec(),
        };
        assert_eq!(
            format!("{error:?}"),
            r#"ResultError { code: 7 (TryAnother), message: "it's \"full\"\n\xff\xfe\u{7}café" }"#
        );
        assert_eq!(
            error.to_string(),
            r#"error 7 (TryAnother): "it's \"full\"\n\xff\xfe\u{7}café""#
        );
        // A peer cannot flood the log: the message is cut.
        let long = ResultError {
            code: GeneralError::NoError,
            message: vec![b'a'; 1000],
        };
        let shown = long.to_string();
        assert!(
            shown.ends_with(&format!("{}\"… (1000 bytes)", "a".repeat(MESSAGE_SHOWN))),
            "{shown}"
        );
        assert!(shown.len() < MESSAGE_SHOWN + 40, "{shown}");
        // The derives the protocol code relies on stay.
        assert_eq!(error.clone(), error);
    }
}
