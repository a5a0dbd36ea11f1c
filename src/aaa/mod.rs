//! Authentication, authorization and accounting over RADIUS (RFC 2865,
//! RFC 2866, RFC 2868, RFC 2867, RFC 2869, RFC 3579, RFC 5176, RFC 5997).
//!
//! Sans-IO (no sockets, no clock):
//!
//! * [`request`]: requests as plain data ([`AuthRequest`],
//!   [`AccountingRecord`]) and their Access-Request / Accounting-Request /
//!   Status-Server encoding, Message-Authenticator first on every request;
//! * [`accounting`]: Start / Interim / Stop and the RFC 2867 tunnel
//!   records, built from a session's usage and its L2TP leg whatever the
//!   role;
//! * [`attributes`]: [`Decision`] and the mapping of Access-Accept /
//!   Access-Reject, including RFC 2868 tag groups → ordered
//!   [`TunnelCandidate`]s;
//! * [`client`]: the RADIUS client core — server groups, identifiers,
//!   response verification, retransmission, failover, dead servers and
//!   Status-Server revival, back-pressure;
//! * [`dynauth`] ([`dynauth::classify`], [`dynauth::encode_reply`]): RFC 5176
//!   request checks and replies.
//!
//! Drivers and storage:
//!
//! * [`service`]: the tokio driver and the [`AaaHandle`] role drivers use;
//! * [`spool`]: the durable accounting spool; [`session_id`]: Acct-Session-Id
//!   unique across restarts;
//! * [`dynauth::DynAuthListener`]: the RFC 5176 listener task;
//! * [`local`]: local-users backend; [`cache`]: opt-in moka caches;
//! * [`dictionary`]: FreeRADIUS-format dictionaries (names for logs and
//!   configuration).
//!
//! Observability: [`client::ClientEvent`], [`service::AaaEvent`] and
//! [`dynauth::DynAuthEvent`] are the events the integrator maps to metrics.

pub mod accounting;
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
