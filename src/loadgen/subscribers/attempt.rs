//! One dial attempt of a subscriber, from its first PADI to its end: the
//! discovery client's events (RFC 2516 §5: the PADS starts a PPP link in
//! the client role, a PADT ends the session, §5.5), the link's events
//! through the phases of RFC 1661 §3.2 (LCP Opened, §3.4; authenticated,
//! §3.5; IPCP Opened in the Network phase, §3.6 and RFC 1332; Terminate,
//! §3.7) with the set-up latency of each phase, and how an attempt that
//! ended is counted — a set-up failure by stage, or a session end by cause —
//! and redialled.

use std::time::{Duration, Instant};

use rand::RngExt as _;

use super::{Pinger, Session, Stage, SubscriberFarm};
use crate::ppp::link::{DownReason, Link, LinkConfig, LinkEvent};
use crate::pppoe::ClientEvent;
use crate::wire::ppp::Protocol;

/// Timestamps of one dial attempt.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub(super) started: Instant,
    pub(super) established: Option<Instant>,
    pub(super) lcp_up: Option<Instant>,
    pub(super) authenticated: Option<Instant>,
    pub(super) up: bool,
    pub(super) active: bool,
    /// The peer sent an LCP Terminate-Request (a PADT may follow before
    /// the link reports Down; the session still ended by LCP).
    pub(super) peer_terminated: bool,
}

impl Attempt {
    pub(super) const fn new(now: Instant) -> Self {
        Self {
            started: now,
            established: None,
            lcp_up: None,
            authenticated: None,
            up: false,
            active: true,
            peer_terminated: false,
        }
    }
}

/// Why an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndCause {
    Padt,
    LcpTerminate,
    EchoTimeout,
    Other,
}

impl SubscriberFarm {
    /// An event of subscriber `index`'s discovery client: the PADS starts
    /// the PPP link (RFC 2516 §5.4), a failure or a PADT (§5.5) ends the
    /// attempt.
    pub(super) fn discovery_event(&mut self, now: Instant, index: u32, event: ClientEvent) {
        match event {
            ClientEvent::Established {
                session_id,
                ac_mac,
                max_payload,
                ..
            } => {
                let seed = self.rng.random();
                let credentials = self
                    .config
                    .credentials
                    .get(index as usize % self.config.credentials.len().max(1))
                    .cloned();
                let Some(sub) = self.subscribers.get_mut(index as usize) else {
                    return;
                };
                let Some(attempt) = sub.attempt.as_mut().filter(|a| a.active) else {
                    return;
                };
                attempt.established = Some(now);
                self.stats
                    .setup
                    .discovery
                    .record(now.saturating_duration_since(attempt.started));
                let mut config = match credentials {
                    Some(credentials) => LinkConfig::client(credentials),
                    None => LinkConfig {
                        role: crate::ppp::link::Role::Client,
                        ..LinkConfig::default()
                    },
                };
                config.auth_methods.clone_from(&self.config.auth_methods);
                config.fsm = self.config.fsm;
                config.auth = self.config.auth.clone();
                config.echo_interval = self.config.lcp_echo_interval;
                config.accept_compression = false;
                config.ipv4 = true;
                config.ipv6 = false;
                config.mru = max_payload;
                config.lower_max_payload = max_payload;
                let mut link = Link::new(config, seed);
                link.open(now);
                sub.session = Some(Session {
                    id: session_id,
                    ac: ac_mac,
                    link,
                    addresses: None,
                    peer_mru: max_payload,
                    closing: false,
                });
                self.set_stage(index, Stage::Lcp);
            }
            ClientEvent::Failed(_) => self.end_attempt(now, index, EndCause::Other),
            ClientEvent::Terminated { by_peer: true, .. } => {
                self.end_attempt(now, index, EndCause::Padt);
                if let Some(session) = self
                    .subscribers
                    .get_mut(index as usize)
                    .and_then(|s| s.session.as_mut())
                {
                    // The session is gone: nothing more to say on it.
                    session.link.lower_down(now);
                    while session.link.poll_event().is_some() {}
                    while session.link.poll_transmit(&mut [0u8; 0]).is_some() {}
                    session.closing = true;
                }
            }
            _ => {}
        }
    }

    /// An event of subscriber `index`'s PPP link: the phases of RFC 1661
    /// §3.2 as stages, with the set-up latency of each.
    pub(super) fn link_event(&mut self, now: Instant, index: u32, event: LinkEvent) {
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        let active = sub.attempt.is_some_and(|a| a.active);
        match event {
            LinkEvent::LcpUp(negotiated) if active => {
                if let Some(session) = sub.session.as_mut() {
                    session.peer_mru = negotiated.peer_mru;
                }
                if let Some(attempt) = sub.attempt.as_mut()
                    && attempt.lcp_up.is_none()
                {
                    attempt.lcp_up = Some(now);
                    let since = attempt.established.unwrap_or(attempt.started);
                    self.stats
                        .setup
                        .lcp
                        .record(now.saturating_duration_since(since));
                }
                let next = if negotiated.auth_to_peer.is_some() {
                    Stage::Authenticating
                } else {
                    Stage::Network
                };
                self.set_stage(index, next);
            }
            LinkEvent::Authenticated if active => {
                if let Some(attempt) = sub.attempt.as_mut()
                    && attempt.authenticated.is_none()
                {
                    attempt.authenticated = Some(now);
                    let since = attempt.lcp_up.unwrap_or(attempt.started);
                    self.stats
                        .setup
                        .auth
                        .record(now.saturating_duration_since(since));
                }
                self.set_stage(index, Stage::Network);
            }
            LinkEvent::NetworkUp {
                ipv4: Some(ipv4), ..
            } if active => {
                if let Some(session) = sub.session.as_mut() {
                    session.addresses = Some((ipv4.local, ipv4.peer));
                }
                if let Some(attempt) = sub.attempt.as_mut()
                    && !attempt.up
                {
                    attempt.up = true;
                    let since = attempt
                        .authenticated
                        .or(attempt.lcp_up)
                        .unwrap_or(attempt.started);
                    self.stats
                        .setup
                        .ipcp
                        .record(now.saturating_duration_since(since));
                    self.stats
                        .setup
                        .total
                        .record(now.saturating_duration_since(attempt.started));
                    self.stats.sessions_up += 1;
                    self.stats.last_up_at = Some(now.saturating_duration_since(self.epoch));
                }
                if sub.pinger.is_none()
                    && let Some(interval) = self.config.ping_interval
                {
                    // Spread the first pings over one interval, so a
                    // thousand sessions that came up together do not ping
                    // in lockstep.
                    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
                    let offset = Duration::from_nanos(self.rng.random_range(0..nanos.max(1)));
                    sub.pinger = Some(Pinger {
                        next: now + offset,
                        seq: 0,
                        due: 0,
                        burst: None,
                        outstanding: 0,
                    });
                }
                self.set_stage(index, Stage::Up);
            }
            LinkEvent::NetworkDown {
                protocol: Protocol::Ipcp,
            } if active => {
                if let Some(session) = sub.session.as_mut() {
                    session.addresses = None;
                }
                self.set_stage(index, Stage::Network);
            }
            LinkEvent::Renegotiating if active => {
                if let Some(session) = sub.session.as_mut() {
                    session.addresses = None;
                }
                self.set_stage(index, Stage::Lcp);
            }
            LinkEvent::Down { reason } => {
                if let Some(session) = sub.session.as_mut() {
                    session.closing = true;
                    session.addresses = None;
                }
                if reason != DownReason::LowerDown {
                    // RFC 2516 §5.5: a PADT ends the session.
                    sub.discovery.terminate(Some(reason.pppoe_generic_error()));
                }
                let cause = match reason {
                    DownReason::PeerTerminated => EndCause::LcpTerminate,
                    DownReason::EchoTimeout => EndCause::EchoTimeout,
                    DownReason::LowerDown => EndCause::Padt,
                    _ => EndCause::Other,
                };
                self.end_attempt(now, index, cause);
            }
            _ => {}
        }
    }

    /// The current attempt of subscriber `index` is over: count it, and
    /// schedule the redial.
    pub(super) fn end_attempt(&mut self, now: Instant, index: u32, cause: EndCause) {
        let redial = self.config.redial.filter(|_| !self.shutting_down);
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        let Some(attempt) = sub.attempt.as_mut().filter(|a| a.active) else {
            return;
        };
        attempt.active = false;
        let cause = if attempt.peer_terminated && cause == EndCause::Padt {
            EndCause::LcpTerminate
        } else {
            cause
        };
        if attempt.up {
            let ends = &mut self.stats.session_ends;
            match cause {
                EndCause::Padt => ends.padt += 1,
                EndCause::LcpTerminate => ends.lcp_terminate += 1,
                EndCause::EchoTimeout => ends.echo_timeout += 1,
                EndCause::Other => ends.other += 1,
            }
        } else {
            let failures = &mut self.stats.setup_failures;
            match sub.stage {
                Stage::Discovering | Stage::Idle | Stage::Ended => failures.discovery += 1,
                Stage::Lcp => failures.lcp += 1,
                Stage::Authenticating => failures.auth += 1,
                Stage::Network | Stage::Up => failures.ipcp += 1,
            }
        }
        sub.pinger = None;
        sub.dial_at = redial.map(|delay| now + delay);
        let stage = if redial.is_some() {
            Stage::Idle
        } else {
            Stage::Ended
        };
        self.set_stage(index, stage);
    }
}
