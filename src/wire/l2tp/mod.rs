//! L2TPv2 wire format (RFC 2661 §3, §4).
//!
//! | module      | what                                                               |
//! |-------------|--------------------------------------------------------------------|
//! | [`header`]  | §3.1 header: [`Packet`] view (in-place Ns/Nr/id patching), [`HeaderRepr`] (data headers written into caller headroom) |
//! | [`avp`]     | §4.1 AVP format, zero-copy [`AvpIter`], §4.4 AVP catalogue: [`AvpType`], typed [`Avp`] |
//! | [`hidden`]  | §4.3 hidden AVP subformat and cipher: [`hide`], [`unhide`]         |
//! | [`message`] | §3.2 / §4.4.1 [`ControlMessage`]: parse (optional tunnel secret) and emit (optional [`Hiding`]), ZLBs |
//! | [`auth`]    | §4.2 / §5.1.1 tunnel authentication: [`challenge_response`]        |
//!
//! Data messages are not decoded beyond the header: their payload is a PPP
//! frame for the `ppp` module. Nothing here keeps state, performs I/O or
//! reads the clock; reliable delivery, tunnel and session state machines
//! live in `crate::l2tp`.
//!
//! What the parser accepts and refuses, in brief:
//!
//! * header: Ver ≠ 2 is [`Unsupported`](crate::wire::Error::Unsupported);
//!   control messages need L and S, and neither O nor P; Length must cover
//!   the header and fit the buffer; reserved bits are ignored.
//! * AVPs: Length ≥ 6 and within the message; reserved bits set make the
//!   AVP unrecognized ([`Avp::Unrecognized`], §4.1), not malformed; every
//!   IETF value is size-checked per §4.4 with an error naming the AVP.
//! * hidden AVPs: need a preceding Random Vector, at least the 2-byte
//!   Original Length, an Original Length within the decrypted data, and a
//!   type that may be hidden; without a secret they stay
//!   [`Avp::Concealed`].

pub mod auth;
pub mod avp;
pub mod header;
pub mod hidden;
pub mod message;

pub use auth::{challenge_response, challenge_response_for, verify_challenge_response};
pub use avp::{
    Accm, Avp, AvpIter, AvpType, Bearer, CallErrors, CdnResult, Framing, GeneralError,
    ProtocolVersion, ProxyAuthenType, Q931Cause, RawAvp, ResultCode, ResultError, StopCcnResult,
};
pub use header::{HeaderRepr, Packet, Sequence, peek_version};
pub use hidden::{hide, unhide};
pub use message::{ControlMessage, HiddenPadding, Hiding, MessageAvp, MessageType};
