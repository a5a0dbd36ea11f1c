//! L2TPv2 control plane (RFC 2661): the reliable control channel of §5.8,
//! tunnel and session state machines for the LAC and LNS roles, and the
//! endpoint that demultiplexes by Tunnel ID.
//!
//! | module       | what                                                              |
//! |--------------|-------------------------------------------------------------------|
//! | [`channel`]  | §5.8 reliable delivery, §6.5 HELLO                                |
//! | [`tunnel`]   | §7.2 control connection states, §4.2/§5.1.1 authentication, §5.7 teardown, the outbox (back-pressure above §5.8) |
//! | [`session`]  | §7.4 / §7.5 incoming calls, proxy AVPs (§4.4.5), OCRQ refusal     |
//! | [`endpoint`] | demux by Tunnel ID, LNS peer policy, LAC tunnel sharing and several tunnels per LNS group, the bounded call queue, tie breaker (§4.4.3) |
//! | [`ids`]      | random, non-zero, unique Tunnel / Session IDs                     |
//! | [`event`]    | events for drivers and metrics                                    |
//!
//! Sans-IO: the wire format lives in [`crate::wire::l2tp`]; no sockets, no
//! clock, randomness from a seeded RNG.
//!
//! **Busy is not broken.** The control channel lets at most the peer's
//! Receive Window Size of messages fly unacknowledged (RFC 2661 §5.8), and
//! every call costs the LAC two of them (ICRQ, ICCN: §7.4), so a slow LNS
//! caps one tunnel's call rate. Calls and messages that do not fit wait in
//! their tunnel, in order ([`tunnel`]); a LAC spreads an LNS group's calls
//! over up to `max_tunnels_per_lns` tunnels and bounds the calls waiting
//! per group with `max_queued_calls` ([`OpenError::Busy`], see
//! [`endpoint`]). No tunnel is ever torn down for being busy.
//!
//! A driver feeds datagrams and time in, and sends what comes out. Two
//! endpoints wired back to back, in memory:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use tunnelnas::l2tp::{CallInfo, Endpoint, EndpointConfig, Event, OpenSession, PeerPolicy};
//!
//! let lac_addr: SocketAddr = "192.0.2.1:1701".parse().unwrap();
//! let lns_addr: SocketAddr = "192.0.2.2:1701".parse().unwrap();
//! let mut lac = Endpoint::new(EndpointConfig::default(), [1; 32]);
//! let lns_config = EndpointConfig {
//!     peers: vec![PeerPolicy {
//!         network: "192.0.2.0/24".parse().unwrap(),
//!         secret: b"s3cret".to_vec(),
//!         host_name: None,
//!         max_tunnels: None,
//!         hide_avps: None,
//!     }],
//!     ..EndpointConfig::default()
//! };
//! let mut lns = Endpoint::new(lns_config, [2; 32]);
//! let mut now = Instant::now();
//! let call = OpenSession {
//!     peer: lns_addr,
//!     secret: b"s3cret".to_vec(),
//!     assignment_id: None,
//!     client_auth_id: None,
//!     call: CallInfo::default(),
//!     request_id: 1,
//! };
//! lac.open_session(now, call).unwrap();
//! let mut buf = vec![0; tunnelnas::l2tp::MAX_CONTROL_LEN];
//! let mut up = false;
//! for _ in 0..10 {
//!     // Timers too: the LNS acknowledges the ICCN with a delayed ZLB, and
//!     // the LAC reports the call up only then.
//!     now += Duration::from_millis(50);
//!     lns.handle_timeout(now);
//!     lac.handle_timeout(now);
//!     while let Some((_, len)) = lac.poll_transmit(now, &mut buf) {
//!         lns.handle_datagram(now, lac_addr, &buf[..len]);
//!     }
//!     while let Some(event) = lns.poll_event() {
//!         if let Event::SessionRequest { handle, .. } = event {
//!             lns.accept_session(now, handle); // the LNS driver's decision
//!         }
//!     }
//!     while let Some((_, len)) = lns.poll_transmit(now, &mut buf) {
//!         lac.handle_datagram(now, lns_addr, &buf[..len]);
//!     }
//!     while let Some(event) = lac.poll_event() {
//!         up |= matches!(event, Event::SessionUp { request_id: 1, .. });
//!     }
//! }
//! assert!(up);
//! ```

pub mod channel;
pub mod endpoint;
pub mod event;
pub mod ids;
pub mod session;
pub mod tunnel;

pub use channel::MAX_CONTROL_LEN;
pub use endpoint::{
    Endpoint, EndpointConfig, OpenError, OpenSession, PeerPolicy, REFUSALS_PER_SECOND, SessionInfo,
    SharingKey, TunnelInfo, is_control,
};
pub use event::{
    ChannelActivity, Direction, DropReason, Event, SessionDownCause, SessionHandle, TunnelDownCause,
};
pub use session::{CallInfo, ProxyInfo, SessionState};
pub use tunnel::TunnelState;
