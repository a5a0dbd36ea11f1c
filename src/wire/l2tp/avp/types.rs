//! IETF AVP attribute types and what RFC 2661 §4.4 says about each: the
//! value size (§4.4, Result Code per §4.4.2), whether the H bit is allowed
//! (§4.3) and the M bit prescribed (§4.1).

use crate::open_enum;
use crate::wire::{Error, Result};

use super::MAX_AVP_VALUE_LEN;

/// How long an AVP's value may be (RFC 2661 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Exactly this many bytes.
    Exact(usize),
    /// At least this many bytes.
    AtLeast(usize),
    /// Result Code: 2 (result only), 4 (with error code) or more (with
    /// error message) — never 3.
    ResultCode,
}

impl Size {
    const fn allows(self, len: usize) -> bool {
        match self {
            Self::Exact(n) => len == n,
            Self::AtLeast(n) => len >= n,
            Self::ResultCode => len == 2 || len >= 4,
        }
    }
}

/// What §4.4 says about one IETF AVP.
#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    size: Size,
    /// Error for a value of the wrong size, naming the AVP.
    size_error: &'static str,
    /// Error for an attempt to hide an AVP that MUST NOT be hidden.
    hide_error: &'static str,
    /// Whether the RFC allows the H bit.
    may_hide: bool,
    /// The M bit the RFC prescribes.
    mandatory: bool,
}

macro_rules! size_of_spec {
    (exact $n:literal) => {
        Size::Exact($n)
    };
    (at_least $n:literal) => {
        Size::AtLeast($n)
    };
    (result_code $n:literal) => {
        Size::ResultCode
    };
}

macro_rules! size_error_of_spec {
    ($name:literal, exact $n:literal) => {
        concat!(
            $name,
            " AVP: value must be exactly ",
            $n,
            " bytes (RFC 2661 §4.4)"
        )
    };
    ($name:literal, at_least $n:literal) => {
        concat!(
            $name,
            " AVP: value must be at least ",
            $n,
            " bytes (RFC 2661 §4.4)"
        )
    };
    ($name:literal, result_code $n:literal) => {
        concat!(
            $name,
            " AVP: value must be 2, 4 or more bytes (RFC 2661 §4.4.2)"
        )
    };
}

macro_rules! avp_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $code:literal, $name:literal, $size:ident $n:literal,
        hide: $hide:literal, mandatory: $m:literal;
    )+) => {
        open_enum! {
            /// IETF AVP attribute types (RFC 2661 §4.4; 20 is unassigned).
            pub enum AvpType(u16) {
                $( $(#[$doc])* $variant = $code, )+
            }
        }

        impl AvpType {
            const fn spec(self) -> Option<Spec> {
                match self {
                    $( Self::$variant => Some(Spec {
                        name: $name,
                        size: size_of_spec!($size $n),
                        size_error: size_error_of_spec!($name, $size $n),
                        hide_error: concat!($name, " AVP MUST NOT be hidden (RFC 2661 §4.4)"),
                        may_hide: $hide,
                        mandatory: $m,
                    }), )+
                    Self::Unknown(_) => None,
                }
            }
        }
    };
}

avp_types! {
    /// Message Type (§4.4.1), all messages.
    MessageType = 0, "Message Type", exact 2, hide: false, mandatory: true;
    /// Result Code (§4.4.2), StopCCN and CDN.
    ResultCode = 1, "Result Code", result_code 2, hide: false, mandatory: true;
    /// Protocol Version (§4.4.3), SCCRP and SCCRQ.
    ProtocolVersion = 2, "Protocol Version", exact 2, hide: false, mandatory: true;
    /// Framing Capabilities (§4.4.3), SCCRP and SCCRQ.
    FramingCapabilities = 3, "Framing Capabilities", exact 4, hide: true, mandatory: true;
    /// Bearer Capabilities (§4.4.3), SCCRP and SCCRQ.
    BearerCapabilities = 4, "Bearer Capabilities", exact 4, hide: true, mandatory: true;
    /// Tie Breaker (§4.4.3), SCCRQ.
    TieBreaker = 5, "Tie Breaker", exact 8, hide: false, mandatory: false;
    /// Firmware Revision (§4.4.3), SCCRP and SCCRQ.
    FirmwareRevision = 6, "Firmware Revision", exact 2, hide: true, mandatory: false;
    /// Host Name (§4.4.3), SCCRP and SCCRQ.
    HostName = 7, "Host Name", at_least 1, hide: false, mandatory: true;
    /// Vendor Name (§4.4.3), SCCRP and SCCRQ.
    VendorName = 8, "Vendor Name", at_least 0, hide: true, mandatory: false;
    /// Assigned Tunnel ID (§4.4.3), SCCRP, SCCRQ and StopCCN.
    AssignedTunnelId = 9, "Assigned Tunnel ID", exact 2, hide: true, mandatory: true;
    /// Receive Window Size (§4.4.3), SCCRQ and SCCRP.
    ReceiveWindowSize = 10, "Receive Window Size", exact 2, hide: false, mandatory: true;
    /// Challenge (§4.4.3), SCCRP and SCCRQ.
    Challenge = 11, "Challenge", at_least 1, hide: true, mandatory: true;
    /// Q.931 Cause Code (§4.4.3), CDN.
    Q931CauseCode = 12, "Q.931 Cause Code", at_least 3, hide: false, mandatory: true;
    /// Challenge Response (§4.4.3), SCCCN and SCCRP.
    ChallengeResponse = 13, "Challenge Response", exact 16, hide: true, mandatory: true;
    /// Assigned Session ID (§4.4.4), CDN, ICRP, ICRQ, OCRP, OCRQ.
    AssignedSessionId = 14, "Assigned Session ID", exact 2, hide: true, mandatory: true;
    /// Call Serial Number (§4.4.4), ICRQ and OCRQ.
    CallSerialNumber = 15, "Call Serial Number", exact 4, hide: true, mandatory: true;
    /// Minimum BPS (§4.4.4), OCRQ.
    MinimumBps = 16, "Minimum BPS", exact 4, hide: true, mandatory: true;
    /// Maximum BPS (§4.4.4), OCRQ.
    MaximumBps = 17, "Maximum BPS", exact 4, hide: true, mandatory: true;
    /// Bearer Type (§4.4.4), ICRQ and OCRQ.
    BearerType = 18, "Bearer Type", exact 4, hide: true, mandatory: true;
    /// Framing Type (§4.4.4), ICCN, OCCN and OCRQ.
    FramingType = 19, "Framing Type", exact 4, hide: true, mandatory: true;
    /// Called Number (§4.4.4), ICRQ and OCRQ.
    CalledNumber = 21, "Called Number", at_least 0, hide: true, mandatory: true;
    /// Calling Number (§4.4.4), ICRQ.
    CallingNumber = 22, "Calling Number", at_least 0, hide: true, mandatory: true;
    /// Sub-Address (§4.4.4), ICRQ and OCRQ.
    SubAddress = 23, "Sub-Address", at_least 0, hide: true, mandatory: true;
    /// (Tx) Connect Speed (§4.4.4), ICCN and OCCN.
    TxConnectSpeed = 24, "Tx Connect Speed", exact 4, hide: true, mandatory: true;
    /// Physical Channel ID (§4.4.4), ICRQ and OCRP.
    PhysicalChannelId = 25, "Physical Channel ID", exact 4, hide: true, mandatory: false;
    /// Initial Received LCP CONFREQ (§4.4.5), ICCN.
    InitialReceivedLcpConfReq = 26, "Initial Received LCP CONFREQ", at_least 0, hide: true, mandatory: false;
    /// Last Sent LCP CONFREQ (§4.4.5), ICCN.
    LastSentLcpConfReq = 27, "Last Sent LCP CONFREQ", at_least 0, hide: true, mandatory: false;
    /// Last Received LCP CONFREQ (§4.4.5), ICCN.
    LastReceivedLcpConfReq = 28, "Last Received LCP CONFREQ", at_least 0, hide: true, mandatory: false;
    /// Proxy Authen Type (§4.4.5), ICCN.
    ProxyAuthenType = 29, "Proxy Authen Type", exact 2, hide: true, mandatory: false;
    /// Proxy Authen Name (§4.4.5), ICCN.
    ProxyAuthenName = 30, "Proxy Authen Name", at_least 0, hide: true, mandatory: false;
    /// Proxy Authen Challenge (§4.4.5), ICCN.
    ProxyAuthenChallenge = 31, "Proxy Authen Challenge", at_least 0, hide: true, mandatory: false;
    /// Proxy Authen ID (§4.4.5), ICCN.
    ProxyAuthenId = 32, "Proxy Authen ID", exact 2, hide: true, mandatory: false;
    /// Proxy Authen Response (§4.4.5), ICCN.
    ProxyAuthenResponse = 33, "Proxy Authen Response", at_least 0, hide: true, mandatory: false;
    /// Call Errors (§4.4.6), WEN.
    CallErrors = 34, "Call Errors", exact 26, hide: true, mandatory: true;
    /// ACCM (§4.4.6), SLI.
    Accm = 35, "ACCM", exact 10, hide: true, mandatory: true;
    /// Random Vector (§4.4.1), any message with hidden AVPs.
    RandomVector = 36, "Random Vector", at_least 0, hide: false, mandatory: true;
    /// Private Group ID (§4.4.4), ICCN.
    PrivateGroupId = 37, "Private Group ID", at_least 0, hide: true, mandatory: false;
    /// Rx Connect Speed (§4.4.4), ICCN and OCCN.
    RxConnectSpeed = 38, "Rx Connect Speed", exact 4, hide: true, mandatory: false;
    /// Sequencing Required (§4.4.4), ICCN and OCCN.
    SequencingRequired = 39, "Sequencing Required", exact 0, hide: false, mandatory: true;
}

impl AvpType {
    /// The AVP's name in RFC 2661, or `"unknown"`.
    pub const fn name(self) -> &'static str {
        match self.spec() {
            Some(spec) => spec.name,
            None => "unknown",
        }
    }

    /// Whether the RFC allows this AVP to be hidden (unknown types: yes).
    pub const fn may_be_hidden(self) -> bool {
        match self.spec() {
            Some(spec) => spec.may_hide,
            None => true,
        }
    }

    /// The M bit RFC 2661 prescribes for this AVP (`None` for unknown
    /// types). The Message Type AVP's M bit has its own meaning (§4.4.1).
    pub const fn rfc_mandatory(self) -> Option<bool> {
        match self.spec() {
            Some(spec) => Some(spec.mandatory),
            None => None,
        }
    }

    /// Checks that `len` is a valid value length for this AVP type.
    pub fn check_value_len(self, len: usize) -> Result<()> {
        match self.spec() {
            Some(spec) if !spec.size.allows(len) => Err(Error::Malformed(spec.size_error)),
            _ if len > MAX_AVP_VALUE_LEN => Err(Error::Malformed(
                "AVP value longer than 1017 bytes (10-bit Length field)",
            )),
            _ => Ok(()),
        }
    }

    /// `Err` naming the AVP if the RFC forbids hiding it.
    pub fn check_may_be_hidden(self) -> Result<()> {
        match self.spec() {
            Some(spec) if !spec.may_hide => Err(Error::Malformed(spec.hide_error)),
            _ => Ok(()),
        }
    }
}
