//! Authentication, authorization and accounting over RADIUS (RFC 2865,
//! RFC 2866, RFC 2868, RFC 2867, RFC 2869, RFC 3579, RFC 5176).
//!
//! * [`request`] and [`attributes`]: requests and decisions as plain data,
//!   and their packet encoding / decoding (no I/O).

pub mod attributes;
pub mod cache;
pub mod client;
pub mod dictionary;
pub mod dynauth;
pub mod local;
pub mod request;
pub mod service;
pub mod session_id;
pub mod spool;

pub use attributes::{AcceptAttributes, Decision, RejectCause, Rejection, TunnelCandidate};
pub use request::{AccountingRecord, AuthRequest, Credentials, SessionInfo};
pub use service::{AaaConfig, AaaEvent, AaaHandle};
pub use session_id::SessionIdAllocator;
