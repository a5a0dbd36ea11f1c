//! The Authentication phase of a [`Link`] (RFC 1661 §3.5).
//!
//! Once LCP is Opened with an Authentication-Protocol, the link runs the
//! core of its side, authenticator on the server and peer on the client:
//! PAP (RFC 1334 §2), CHAP with MD5 (RFC 1994) or MS-CHAPv2 (RFC 2759), all
//! in [`crate::ppp::auth`]. Success enters the Network phase; failure
//! closes the link ("If authentication fails, the authenticator SHOULD
//! proceed instead to the Link Termination phase"). PAP and CHAP packets
//! of a method LCP did not negotiate are dropped.
//!
//! The server's AAA decision comes in through [`Link::auth_complete`];
//! what the peer presented is kept in the negotiation record
//! ([`super::record`]).

use core::fmt;
use std::time::Instant;

use rand::Rng;

use super::{DownReason, Link, LinkDropReason, LinkEvent, Phase, Role};
use crate::ppp::auth::{AuthClient, AuthClientEvent, AuthMethod, AuthServer, AuthServerEvent};
use crate::ppp::lcp::LcpNegotiated;
use crate::wire::ppp::Protocol;

/// Scratch size for packets of the authentication cores.
const AUTH_BUFFER: usize = 1500;

/// The authentication core of the link's side, while one runs.
pub(super) enum AuthCore {
    None,
    Server(Box<AuthServer>),
    Client(Box<AuthClient>),
}

impl fmt::Debug for AuthCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Server(s) => write!(f, "Server({:?})", s.method()),
            Self::Client(c) => write!(f, "Client({:?})", c.method()),
        }
    }
}

impl Link {
    /// RFC 1661 §3.5: once LCP is Opened, authenticate by the method it
    /// negotiated, or go straight to the Network phase.
    pub(super) fn start_authentication(&mut self, now: Instant, negotiated: LcpNegotiated) {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        self.authenticated = false;
        match self.config.role {
            Role::Server => {
                self.auth_method = negotiated.auth_required;
                self.auth = match negotiated.auth_required {
                    Some(method) => AuthCore::Server(Box::new(AuthServer::new(
                        method,
                        self.config.auth.clone(),
                        seed,
                    ))),
                    None => AuthCore::None,
                };
            }
            Role::Client => {
                self.auth_method = negotiated.auth_to_peer;
                self.auth = match (negotiated.auth_to_peer, &self.config.credentials) {
                    (Some(method), Some(credentials)) => {
                        AuthCore::Client(Box::new(AuthClient::new(
                            method,
                            credentials.user.clone(),
                            credentials.password.clone(),
                            self.config.auth.clone(),
                            seed,
                        )))
                    }
                    _ => AuthCore::None,
                };
            }
        }
        if matches!(self.auth, AuthCore::None) {
            self.enter_network(now);
            return;
        }
        self.set_phase(Phase::Authenticate);
        match &mut self.auth {
            AuthCore::Server(server) => server.start(now),
            AuthCore::Client(client) => client.start(now),
            AuthCore::None => {}
        }
    }

    pub(super) fn handle_auth(&mut self, now: Instant, protocol: Protocol, payload: &[u8]) {
        let in_use = self.auth_method.map(AuthMethod::protocol) == Some(protocol);
        if !in_use {
            // Authentication packets for a method not negotiated.
            let reason = if self.lcp.is_opened() {
                LinkDropReason::UnknownProtocol
            } else {
                LinkDropReason::WrongPhase
            };
            self.dropped(protocol, reason);
            return;
        }
        if protocol == Protocol::Pap && payload.first() == Some(&1) {
            self.last_pap_id = payload.get(1).copied().unwrap_or(0);
        }
        match &mut self.auth {
            AuthCore::Server(server) => server.handle_packet(now, payload),
            AuthCore::Client(client) => client.handle_packet(now, payload),
            AuthCore::None => self.dropped(protocol, LinkDropReason::WrongPhase),
        }
    }

    pub(super) fn pump_auth(&mut self, now: Instant) -> bool {
        let mut progress = false;
        let mut buf = [0u8; AUTH_BUFFER];
        let protocol = self.auth_method.map(AuthMethod::protocol);
        let mut server_events = Vec::new();
        let mut client_events = Vec::new();
        // Packets go straight into the link's queue (without a method
        // protocol, nowhere), events are handled once the core is let go.
        let mut forward = |packet: &[u8]| {
            if let Some(protocol) = protocol {
                progress = true;
                if self.transmit.push(protocol, packet).dropped_oldest() {
                    self.stats.queue_overflows += 1;
                }
            }
        };
        match &mut self.auth {
            AuthCore::Server(server) => {
                while let Some(len) = server.poll_transmit(&mut buf) {
                    forward(&buf[..len]);
                }
                while let Some(event) = server.poll_event() {
                    server_events.push(event);
                }
            }
            AuthCore::Client(client) => {
                while let Some(len) = client.poll_transmit(&mut buf) {
                    forward(&buf[..len]);
                }
                while let Some(event) = client.poll_event() {
                    client_events.push(event);
                }
            }
            AuthCore::None => {}
        }
        for event in server_events {
            progress = true;
            self.on_auth_server_event(now, event);
        }
        for event in client_events {
            progress = true;
            self.on_auth_client_event(now, event);
        }
        progress
    }

    fn on_auth_server_event(&mut self, now: Instant, event: AuthServerEvent) {
        match event {
            AuthServerEvent::Requested(request) => {
                self.record_auth(&request);
                self.push_event(LinkEvent::AuthRequested(request));
            }
            AuthServerEvent::Succeeded => self.auth_succeeded(now),
            AuthServerEvent::Reauthenticated => {}
            AuthServerEvent::Failed(_) => self.auth_failed(now),
            AuthServerEvent::Dropped { reason } => {
                let protocol = self
                    .auth_method
                    .map_or(Protocol::Chap, AuthMethod::protocol);
                self.dropped(protocol, LinkDropReason::Auth(reason));
            }
        }
    }

    fn on_auth_client_event(&mut self, now: Instant, event: AuthClientEvent) {
        match event {
            AuthClientEvent::Succeeded { .. } => self.auth_succeeded(now),
            AuthClientEvent::Reauthenticated => {}
            AuthClientEvent::Failed(_) => self.auth_failed(now),
            AuthClientEvent::Dropped { reason } => {
                let protocol = self
                    .auth_method
                    .map_or(Protocol::Chap, AuthMethod::protocol);
                self.dropped(protocol, LinkDropReason::Auth(reason));
            }
        }
    }

    fn auth_succeeded(&mut self, now: Instant) {
        if self.authenticated || self.phase != Phase::Authenticate {
            return;
        }
        self.authenticated = true;
        self.push_event(LinkEvent::Authenticated);
        self.enter_network(now);
    }

    fn auth_failed(&mut self, now: Instant) {
        self.down_reason.get_or_insert(DownReason::AuthFailed);
        self.lcp.close(now);
    }
}
