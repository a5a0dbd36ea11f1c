//! One PPP link (one subscriber session), authenticator or peer side: the
//! phases of RFC 1661 §3.2 driving LCP, authentication, IPCP and IPv6CP.
//!
//! ```text
//! Dead ─open─▶ Establish ─LCP Opened─▶ Authenticate ─success─▶ Network
//!   ▲                                        │ failure            │
//!   └──────────── Terminate ◀────────────────┴────────────────────┘
//! ```
//!
//! - §3.3–§3.5: "Any non-LCP packets received during this phase MUST be
//!   silently discarded" (Establish); network-layer and NCP packets before
//!   the Network phase are discarded; LCP, PAP and CHAP pass.
//! - §5.7: a protocol this link does not run is answered with a
//!   Protocol-Reject, only in the LCP Opened state ("Protocol-Reject
//!   packets can only be sent in the LCP Opened state"), truncated to the
//!   peer's MRU; a received Protocol-Reject for an NCP stops that NCP
//!   ("Upon reception of a Protocol-Reject, the implementation MUST stop
//!   sending packets of the indicated protocol").
//! - §5.8: "Upon reception of an Echo-Request in the LCP Opened state, an
//!   Echo-Reply MUST be transmitted"; Echo-Requests are also our keepalive
//!   (`echo_interval`, `echo_failures` unanswered → Down{EchoTimeout}); an
//!   Echo carrying our own Magic-Number is a loop and dropped.
//! - §5.9, RFC 1570 §2: Discard-Request, Identification and Time-Remaining
//!   are accepted silently.
//! - Terminate both ways (§5.5), the LCP renegotiation of §4 (a
//!   Configure-Request in Opened takes the link back through
//!   authentication and restarts the NCPs, RFC 1661 §3.5).
//!
//! The driver hands in PPP frames without Address/Control and with the
//! Protocol field already separated, and sends what `poll_transmit`
//! returns behind its own framing (PPPoE, L2TP).
//!
//! Parts, in submodules: `authentication` (the Authentication phase, RFC
//! 1661 §3.5 with RFC 1334, RFC 1994 and RFC 2759), `maintenance` (the LCP
//! packets handled around the automaton and the keepalive, RFC 1661 §5.5,
//! §5.7–§5.9, RFC 1570), `record` (what LCP and authentication exchanged,
//! for the L2TP proxy AVPs of RFC 2661 §4.4.5), `proxy` (the LNS side of
//! those AVPs: adopting the LAC's LCP and authentication, RFC 2661 §4.4.5,
//! [`Link::adopt_proxy_lcp`]) and `events` (what the link reports:
//! [`LinkEvent`], [`DownReason`], [`LinkStats`]).

use core::fmt;
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::auth::{AuthConfig, AuthDecision, AuthMethod};
use super::fsm::{self, Automaton, FsmConfig, FsmEvent, NegotiationFailure, Negotiator, State};
use super::lcp::{AuthRole, Lcp, LcpConfig, LcpNegotiated};
use super::ncp::{Ipcp, IpcpConfig, Ipv6cp, NcpRole};
use super::queue::{PacketQueue, Pushed};
use crate::wire::ppp::Protocol;

mod authentication;
mod events;
mod maintenance;
mod proxy;
mod record;

use authentication::AuthCore;
pub use events::{DownReason, LinkDropReason, LinkEvent, LinkStats, SetupStep};
pub use proxy::{ProxyLcpAdopted, ProxyLcpRefusal, ProxySide};
pub use record::{AuthRecord, NegotiationRecord};

/// Packets and events kept at most before the oldest are dropped.
const MAX_QUEUED: usize = 128;

/// Which end of the link we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The access server: authenticates the peer, assigns addresses.
    Server,
    /// The subscriber: authenticates to the server, asks for addresses.
    Client,
}

/// The RFC 1661 §3.2 link phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Link Dead (before `open`, after Down).
    Dead,
    /// Link Establishment (LCP negotiating).
    Establish,
    /// Authentication.
    Authenticate,
    /// Network-Layer Protocol.
    Network,
    /// Link Termination.
    Terminate,
}

/// The client's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (PAP Peer-ID, CHAP Name).
    pub user: Vec<u8>,
    /// Password / CHAP secret.
    pub password: Vec<u8>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Settings of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// Server or client.
    pub role: Role,
    /// RFC 1661 §4.6 timers and counters (LCP and NCPs).
    pub fsm: FsmConfig,
    /// The MRU we ask for.
    pub mru: u16,
    /// The largest PPP payload the lower layer carries (PPPoE 1492 or the
    /// RFC 4638 PPP-Max-Payload; the L2TP path).
    pub lower_max_payload: u16,
    /// Server: methods offered, in order; client: methods supported, in
    /// order of preference. Empty: no authentication.
    pub auth_methods: Vec<AuthMethod>,
    /// Client: the credentials to authenticate with.
    pub credentials: Option<Credentials>,
    /// Timers of the authentication cores.
    pub auth: AuthConfig,
    /// Accept PFC / ACFC / ACCM (never over PPPoE).
    pub accept_compression: bool,
    /// Interval between LCP Echo-Requests; `None` disables the keepalive.
    pub echo_interval: Option<Duration>,
    /// Unanswered Echo-Requests before the link is declared dead.
    pub echo_failures: u8,
    /// Run IPCP.
    pub ipv4: bool,
    /// Run IPv6CP.
    pub ipv6: bool,
    /// IPCP settings (our address, DNS, NBNS).
    pub ipcp: IpcpConfig,
    /// Magic-Number coincidences before the link counts as looped back.
    pub max_loopback: u8,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            role: Role::Server,
            fsm: FsmConfig::default(),
            mru: 1492,
            lower_max_payload: 1492,
            auth_methods: Vec::new(),
            credentials: None,
            auth: AuthConfig::default(),
            accept_compression: false,
            echo_interval: Some(Duration::from_secs(30)),
            echo_failures: 3,
            ipv4: true,
            ipv6: true,
            ipcp: IpcpConfig::default(),
            max_loopback: 5,
        }
    }
}

impl LinkConfig {
    /// A client link that authenticates with `credentials` by any of the
    /// three methods and asks for an IPv4 address, DNS and IPv6.
    pub fn client(credentials: Credentials) -> Self {
        Self {
            role: Role::Client,
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            credentials: Some(credentials),
            ipcp: IpcpConfig {
                request_dns: true,
                ..IpcpConfig::default()
            },
            ..Self::default()
        }
    }
}

/// One PPP link (see the module documentation).
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    phase: Phase,
    rng: StdRng,
    lcp: Automaton<Lcp>,
    ipcp: Automaton<Ipcp>,
    ipv6cp: Automaton<Ipv6cp>,
    auth: AuthCore,
    auth_method: Option<AuthMethod>,
    authenticated: bool,
    last_pap_id: u8,
    lcp_identifier: u8,
    echo_next: Option<Instant>,
    echo_outstanding: u8,
    ipv4_up: bool,
    ipv6_up: bool,
    down_reason: Option<DownReason>,
    down_reported: bool,
    record: NegotiationRecord,
    transmit: PacketQueue<Protocol>,
    events: VecDeque<LinkEvent>,
    stats: LinkStats,
    /// The phase being timed and when it began (for `StepCompleted`).
    timed_phase: Phase,
    timed_since: Option<Instant>,
}

impl Link {
    /// A link in the Dead phase; `rng_seed` seeds every random choice
    /// (Magic-Numbers, Identifiers, challenges, interface identifiers).
    pub fn new(config: LinkConfig, rng_seed: [u8; 32]) -> Self {
        let mut rng = StdRng::from_seed(rng_seed);
        let auth_role = match config.role {
            Role::Server => AuthRole::Authenticator(config.auth_methods.clone()),
            Role::Client if config.credentials.is_some() => {
                AuthRole::Peer(config.auth_methods.clone())
            }
            Role::Client => AuthRole::Peer(Vec::new()),
        };
        let lcp = Lcp::new(
            LcpConfig {
                mru: config.mru,
                lower_max_payload: config.lower_max_payload,
                auth: auth_role,
                accept_compression: config.accept_compression,
                magic_number: true,
                max_loopback: config.max_loopback.max(1),
            },
            StdRng::from_rng(&mut rng),
        );
        let ncp_role = match config.role {
            Role::Server => NcpRole::Server,
            Role::Client => NcpRole::Client,
        };
        let ipcp = Ipcp::new(ncp_role, config.ipcp.clone());
        let ipv6cp = Ipv6cp::new(StdRng::from_rng(&mut rng));
        let mut ids = [0u8; 4];
        rng.fill_bytes(&mut ids);
        Self {
            lcp: Automaton::new(lcp, config.fsm, ids[0]),
            ipcp: Automaton::new(ipcp, config.fsm, ids[1]),
            ipv6cp: Automaton::new(ipv6cp, config.fsm, ids[2]),
            lcp_identifier: ids[3],
            config,
            phase: Phase::Dead,
            rng,
            auth: AuthCore::None,
            auth_method: None,
            authenticated: false,
            last_pap_id: 0,
            echo_next: None,
            echo_outstanding: 0,
            ipv4_up: false,
            ipv6_up: false,
            down_reason: None,
            down_reported: false,
            record: NegotiationRecord::default(),
            transmit: PacketQueue::new(MAX_QUEUED),
            events: VecDeque::new(),
            stats: LinkStats::default(),
            timed_phase: Phase::Dead,
            timed_since: None,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The LCP state.
    pub fn lcp_state(&self) -> State {
        self.lcp.state()
    }

    /// The IPCP state.
    pub fn ipcp_state(&self) -> State {
        self.ipcp.state()
    }

    /// The IPv6CP state.
    pub fn ipv6cp_state(&self) -> State {
        self.ipv6cp.state()
    }

    /// What LCP agreed on (complete once LCP is Opened).
    pub fn lcp_negotiated(&self) -> LcpNegotiated {
        self.lcp.negotiator().negotiated()
    }

    /// Counters of the link and its automatons.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Counters of LCP, IPCP and IPv6CP.
    pub fn fsm_stats(&self) -> [fsm::FsmStats; 3] {
        [self.lcp.stats(), self.ipcp.stats(), self.ipv6cp.stats()]
    }

    /// The negotiation record for the L2TP proxy AVPs, once LCP is Opened
    /// and authentication (if negotiated) has succeeded.
    pub fn negotiation_record(&self) -> Option<&NegotiationRecord> {
        let lcp_done = self.lcp.is_opened();
        let auth_done = self.auth_method.is_none() || self.authenticated;
        (lcp_done && auth_done).then_some(&self.record)
    }

    /// The negotiation record as it stands once LCP is Opened, with the
    /// peer's credentials recorded even though the decision is still out:
    /// a LAC hands them to the LNS (RFC 2661 §4.4.5) before it answers the
    /// subscriber, so that the answer can wait for the LNS.
    pub fn pending_negotiation_record(&self) -> Option<&NegotiationRecord> {
        self.lcp.is_opened().then_some(&self.record)
    }

    /// The lower layer is up: start LCP (RFC 1661 §3.2 Dead → Establish).
    pub fn open(&mut self, now: Instant) {
        if self.phase != Phase::Dead || self.down_reported {
            return;
        }
        self.set_phase(Phase::Establish);
        self.lcp.open(now);
        self.lcp.up(now);
        self.pump(now);
    }

    /// Closes the link gracefully (Terminate-Request, RFC 1661 §5.5);
    /// `Down { reason }` follows when the peer acknowledges or
    /// Max-Terminate runs out.
    pub fn close(&mut self, now: Instant, reason: DownReason) {
        if self.down_reported {
            return;
        }
        self.down_reason.get_or_insert(reason);
        self.lcp.close(now);
        self.pump(now);
        if self.lcp.state() == State::Initial {
            // Closed before it was ever opened: nothing to terminate.
            self.report_down();
        }
    }

    /// The lower layer went away (PADT, L2TP CDN): Down at once.
    pub fn lower_down(&mut self, now: Instant) {
        if self.down_reported {
            return;
        }
        self.down_reason.get_or_insert(DownReason::LowerDown);
        self.lcp.down(now);
        self.lcp.close(now);
        self.pump(now);
        self.report_down();
    }

    /// The largest PPP payload the lower layer carries (PPPoE
    /// PPP-Max-Payload, L2TP path MTU); applies to the next LCP
    /// negotiation.
    pub fn set_lower_max_payload(&mut self, max_payload: u16) {
        self.config.lower_max_payload = max_payload;
        self.lcp.negotiator_mut().set_lower_max_payload(max_payload);
    }

    /// Server: AAA's decision on the last [`LinkEvent::AuthRequested`].
    pub fn auth_complete(&mut self, now: Instant, decision: AuthDecision) {
        if let AuthCore::Server(server) = &mut self.auth {
            server.auth_complete(now, decision);
        }
        self.pump(now);
    }

    /// Server: the peer's IPv4 address (and DNS servers) from AAA or a
    /// pool. IPCP starts once the Network phase is reached and this is
    /// known.
    pub fn assign_ipv4(
        &mut self,
        now: Instant,
        peer: Ipv4Addr,
        dns: Option<(Ipv4Addr, Option<Ipv4Addr>)>,
    ) {
        self.ipcp.negotiator_mut().assign(peer, dns);
        if self.phase == Phase::Network {
            self.start_ipcp(now);
        }
        self.pump(now);
    }

    /// A received frame: `protocol` and the information field (the
    /// driver has removed PPPoE / L2TP framing and Address/Control).
    pub fn handle_frame(&mut self, now: Instant, protocol: Protocol, payload: &[u8]) {
        if self.down_reported || self.phase == Phase::Dead {
            self.dropped(protocol, LinkDropReason::Dead);
            return;
        }
        match protocol {
            Protocol::Lcp => self.handle_lcp(now, payload),
            Protocol::Pap | Protocol::Chap => self.handle_auth(now, protocol, payload),
            Protocol::Ipcp if self.config.ipv4 => {
                if self.phase == Phase::Network {
                    self.ipcp.handle_packet(now, payload);
                } else {
                    self.dropped(protocol, LinkDropReason::WrongPhase);
                }
            }
            Protocol::Ipv6cp if self.config.ipv6 => {
                if self.phase == Phase::Network {
                    self.ipv6cp.handle_packet(now, payload);
                } else {
                    self.dropped(protocol, LinkDropReason::WrongPhase);
                }
            }
            Protocol::Ipv4 if self.config.ipv4 => self.dropped(protocol, LinkDropReason::Data),
            Protocol::Ipv6 if self.config.ipv6 => self.dropped(protocol, LinkDropReason::Data),
            _ => self.protocol_reject(protocol, payload),
        }
        self.pump(now);
    }

    /// Runs expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.down_reported {
            return;
        }
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        self.ipv6cp.handle_timeout(now);
        match &mut self.auth {
            AuthCore::Server(server) => server.handle_timeout(now),
            AuthCore::Client(client) => client.handle_timeout(now),
            AuthCore::None => {}
        }
        if let Some(at) = self.echo_next
            && now >= at
        {
            self.echo_tick(now);
        }
        self.pump(now);
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.down_reported {
            return None;
        }
        let auth = match &self.auth {
            AuthCore::Server(server) => server.poll_timeout(),
            AuthCore::Client(client) => client.poll_timeout(),
            AuthCore::None => None,
        };
        [
            self.lcp.poll_timeout(),
            self.ipcp.poll_timeout(),
            self.ipv6cp.poll_timeout(),
            auth,
            self.echo_next,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next frame to send: writes the information field into `buf`,
    /// returns the protocol and length. A packet larger than `buf` is
    /// dropped and counted ([`LinkStats::queue_overflows`]); drivers
    /// discard a dead link's frames by polling with an empty buffer. The
    /// link's own packets fit 1,500 octets; a reply that repeats a peer's
    /// packet (Echo-Reply, Configure-Ack or -Reject) is as long as that
    /// packet, so a buffer as long as the longest frame handed to
    /// [`handle_frame`](Self::handle_frame), and 1,500 octets at least,
    /// always suffices.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<(Protocol, usize)> {
        loop {
            let (protocol, packet) = self.transmit.front()?;
            if let Some(out) = buf.get_mut(..packet.len()) {
                out.copy_from_slice(packet);
                let len = out.len();
                self.transmit.pop_front();
                return Some((protocol, len));
            }
            self.transmit.pop_front();
            self.stats.queue_overflows += 1;
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    // -----------------------------------------------------------------
    // Plumbing between the cores
    // -----------------------------------------------------------------

    /// Moves packets and events out of the sub-cores until nothing moves.
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut progress = false;
            progress |= forward_transmit(&mut self.lcp, &mut self.transmit, &mut self.stats);
            while let Some(event) = self.lcp.poll_event() {
                self.on_lcp_event(now, event);
                progress = true;
            }
            progress |= forward_transmit(&mut self.ipcp, &mut self.transmit, &mut self.stats);
            while let Some(event) = self.ipcp.poll_event() {
                self.on_ncp_event(now, Protocol::Ipcp, event);
                progress = true;
            }
            progress |= forward_transmit(&mut self.ipv6cp, &mut self.transmit, &mut self.stats);
            while let Some(event) = self.ipv6cp.poll_event() {
                self.on_ncp_event(now, Protocol::Ipv6cp, event);
                progress = true;
            }
            progress |= self.pump_auth(now);
            if !progress {
                break;
            }
        }
        self.time_phases(now);
    }

    /// Reports how long LCP negotiation (Establish) and authentication
    /// took, when the link moves forward out of them.
    fn time_phases(&mut self, now: Instant) {
        if self.phase == self.timed_phase {
            return;
        }
        let forward = matches!(
            (self.timed_phase, self.phase),
            (Phase::Establish, Phase::Authenticate | Phase::Network)
                | (Phase::Authenticate, Phase::Network)
        );
        if let (true, Some(since)) = (forward, self.timed_since) {
            let step = if self.timed_phase == Phase::Establish {
                SetupStep::Lcp
            } else {
                SetupStep::Auth
            };
            self.push_event(LinkEvent::StepCompleted {
                step,
                took: now.saturating_duration_since(since),
            });
        }
        self.timed_phase = self.phase;
        self.timed_since = Some(now);
    }

    fn on_lcp_event(&mut self, now: Instant, event: FsmEvent) {
        match event {
            FsmEvent::Up => self.lcp_up(now),
            FsmEvent::Down => self.lcp_down(now),
            FsmEvent::Started => {}
            FsmEvent::Finished => self.report_down(),
            FsmEvent::Failed(failure) => {
                let reason = match failure {
                    NegotiationFailure::LoopedBack => DownReason::LoopedBack,
                    _ => DownReason::NegotiationFailed {
                        protocol: Protocol::Lcp,
                    },
                };
                self.down_reason.get_or_insert(reason);
                self.lcp.close(now);
            }
            FsmEvent::Dropped(reason) => self.dropped(Protocol::Lcp, LinkDropReason::Fsm(reason)),
            FsmEvent::StateChanged { from, to } => {
                self.push_event(LinkEvent::StateChanged {
                    protocol: Protocol::Lcp,
                    from,
                    to,
                });
                if matches!(to, State::Closing | State::Stopping) {
                    self.set_phase(Phase::Terminate);
                }
            }
        }
    }

    fn lcp_up(&mut self, now: Instant) {
        let negotiated = self.lcp.negotiator().negotiated();
        self.record_lcp_requests();
        self.push_event(LinkEvent::LcpUp(negotiated));
        self.echo_outstanding = 0;
        self.echo_next = self.config.echo_interval.map(|i| now + i);
        self.start_authentication(now, negotiated);
    }

    fn lcp_down(&mut self, now: Instant) {
        // §3.5 / §4: NCPs go down with LCP; authentication starts over.
        self.ipcp.down(now);
        self.ipv6cp.down(now);
        self.auth = AuthCore::None;
        self.echo_next = None;
        let was_up = matches!(self.phase, Phase::Authenticate | Phase::Network);
        if self.down_reason.is_none() && was_up {
            self.push_event(LinkEvent::Renegotiating);
            self.set_phase(Phase::Establish);
        }
    }

    fn enter_network(&mut self, now: Instant) {
        self.set_phase(Phase::Network);
        if self.config.ipv6 {
            if self.ipv6cp.state() == State::Initial {
                self.ipv6cp.open(now);
            }
            self.ipv6cp.up(now);
        }
        if self.config.ipv4 {
            self.start_ipcp(now);
        }
        if !self.config.ipv4 && !self.config.ipv6 {
            self.push_event(LinkEvent::NetworkUp {
                ipv4: None,
                ipv6: None,
            });
        }
    }

    fn start_ipcp(&mut self, now: Instant) {
        if !self.config.ipv4 {
            return;
        }
        let ready = self.config.role == Role::Client || self.ipcp.negotiator().has_assignment();
        if !ready {
            return;
        }
        if self.ipcp.state() == State::Initial {
            self.ipcp.open(now);
        }
        if self.ipcp.state() == State::Starting {
            self.ipcp.up(now);
        }
    }

    fn on_ncp_event(&mut self, now: Instant, protocol: Protocol, event: FsmEvent) {
        match event {
            FsmEvent::Up => {
                match protocol {
                    Protocol::Ipcp => self.ipv4_up = true,
                    _ => self.ipv6_up = true,
                }
                if self.phase == Phase::Network {
                    // The Network phase is timed from its start; pump has
                    // not run yet when entering it in this same step.
                    let since = if self.timed_phase == Phase::Network {
                        self.timed_since
                    } else {
                        None
                    };
                    if let Some(since) = since {
                        self.push_event(LinkEvent::StepCompleted {
                            step: if protocol == Protocol::Ipcp {
                                SetupStep::Ipcp
                            } else {
                                SetupStep::Ipv6cp
                            },
                            took: now.saturating_duration_since(since),
                        });
                    }
                }
                self.push_event(LinkEvent::NetworkUp {
                    ipv4: self.ipv4_up.then(|| self.ipcp.negotiator().negotiated()),
                    ipv6: self.ipv6_up.then(|| self.ipv6cp.negotiator().negotiated()),
                });
            }
            FsmEvent::Down => {
                match protocol {
                    Protocol::Ipcp => self.ipv4_up = false,
                    _ => self.ipv6_up = false,
                }
                self.push_event(LinkEvent::NetworkDown { protocol });
            }
            FsmEvent::Started => {}
            FsmEvent::Finished => self.ncp_finished(now, protocol),
            FsmEvent::Failed(_) => match protocol {
                Protocol::Ipcp => self.ipcp.close(now),
                _ => self.ipv6cp.close(now),
            },
            FsmEvent::Dropped(reason) => self.dropped(protocol, LinkDropReason::Fsm(reason)),
            FsmEvent::StateChanged { from, to } => {
                self.push_event(LinkEvent::StateChanged { protocol, from, to });
            }
        }
    }

    /// An NCP gave up. When no NCP is left running, the link has no
    /// purpose: close it (RFC 1661 §3.5 leaves this to the
    /// implementation; pppd does the same).
    fn ncp_finished(&mut self, now: Instant, protocol: Protocol) {
        let alive = |state: State| {
            !matches!(
                state,
                State::Closed | State::Stopped | State::Closing | State::Stopping
            )
        };
        let ipv4_alive = self.config.ipv4 && alive(self.ipcp.state());
        let ipv6_alive = self.config.ipv6 && alive(self.ipv6cp.state());
        if !ipv4_alive && !ipv6_alive && self.phase == Phase::Network {
            self.down_reason
                .get_or_insert(DownReason::NegotiationFailed { protocol });
            self.lcp.close(now);
        }
    }

    fn report_down(&mut self) {
        if self.down_reported {
            return;
        }
        self.down_reported = true;
        self.echo_next = None;
        self.auth = AuthCore::None;
        self.set_phase(Phase::Dead);
        let reason = self.down_reason.unwrap_or(DownReason::NegotiationFailed {
            protocol: Protocol::Lcp,
        });
        self.down_reason = Some(reason);
        self.push_event(LinkEvent::Down { reason });
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            let from = self.phase;
            self.phase = phase;
            self.push_event(LinkEvent::PhaseChanged { from, to: phase });
        }
    }

    fn dropped(&mut self, protocol: Protocol, reason: LinkDropReason) {
        self.stats.dropped += 1;
        self.push_event(LinkEvent::Dropped { protocol, reason });
    }

    fn push_event(&mut self, event: LinkEvent) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
            self.stats.queue_overflows += 1;
        }
        self.events.push_back(event);
    }
}

/// Moves every packet `fsm` has queued into the link's `queue`, each
/// written by [`Automaton::poll_transmit`] straight into its place there
/// (no buffer in between, no allocation); returns whether any moved.
fn forward_transmit<N: Negotiator>(
    fsm: &mut Automaton<N>,
    queue: &mut PacketQueue<Protocol>,
    stats: &mut LinkStats,
) -> bool {
    let protocol = fsm.protocol();
    let mut moved = false;
    while let Some(len) = fsm.next_transmit_len() {
        let pushed = queue.push_with(protocol, len, |slot| fsm.poll_transmit(slot) == Some(len));
        if pushed == Pushed::NotWritten {
            // Cannot happen (the place is exactly as long); never spin.
            break;
        }
        if pushed.dropped_oldest() {
            stats.queue_overflows += 1;
        }
        moved = true;
    }
    moved
}

#[cfg(test)]
mod tests;
