//! L2TPv2 control plane (RFC 2661): the reliable control channel of §5.8,
//! tunnel and session state machines for the LAC and LNS roles, and the
//! endpoint that demultiplexes by Tunnel ID.
//!
//! | module       | what                                                              |
//! |--------------|-------------------------------------------------------------------|
//! | [`channel`]  | §5.8 reliable delivery, §6.5 HELLO                                |
//! | [`tunnel`]   | §7.2 control connection states, §4.2/§5.1.1 authentication, §5.7 teardown |
//! | [`session`]  | §7.4 / §7.5 incoming calls, proxy AVPs (§4.4.5), OCRQ refusal     |
//! | [`endpoint`] | demux by Tunnel ID, LNS peer policy, LAC tunnel sharing, tie breaker (§4.4.3) |
//! | [`ids`]      | random, non-zero, unique Tunnel / Session IDs                     |
//! | [`event`]    | events for drivers and metrics                                    |
//!
//! Sans-IO: the wire format lives in [`crate::wire::l2tp`]; no sockets, no
//! clock, randomness from a seeded RNG.

pub mod channel;
pub mod endpoint;
pub mod event;
pub mod ids;
pub mod session;
pub mod tunnel;

pub use endpoint::{
    Endpoint, EndpointConfig, OpenError, OpenSession, PeerPolicy, SessionInfo, SharingKey,
    is_control,
};
pub use event::{Direction, DropReason, Event, SessionDownCause, SessionHandle, TunnelDownCause};
pub use session::{CallInfo, ProxyInfo, SessionState};
pub use tunnel::TunnelState;
