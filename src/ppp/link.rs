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

use core::fmt;
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::auth::{
    self, AuthClient, AuthClientEvent, AuthConfig, AuthDecision, AuthMethod, AuthRequest,
    AuthServer, AuthServerEvent,
};
use super::fsm::{self, Automaton, FsmConfig, FsmEvent, NegotiationFailure, Negotiator, State};
use super::lcp::{AuthRole, Lcp, LcpConfig, LcpNegotiated};
use super::ncp::{Ipcp, IpcpConfig, Ipv4Negotiated, Ipv6Negotiated, Ipv6cp, NcpRole};
use super::queue::{PacketQueue, Pushed};
use crate::wire::ppp::Protocol;
use crate::wire::ppp::control::{Code, ControlPacket};

/// Packets and events kept at most before the oldest are dropped.
const MAX_QUEUED: usize = 128;
/// Scratch size for packets of the authentication cores.
const AUTH_BUFFER: usize = 1500;

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

/// A timed step of link set-up ([`LinkEvent::StepCompleted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupStep {
    /// LCP negotiation (Establish phase).
    Lcp,
    /// Authentication phase, AAA decision included.
    Auth,
    /// IPCP to Opened.
    Ipcp,
    /// IPv6CP to Opened.
    Ipv6cp,
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

/// Why a link went down. Maps to what RADIUS accounting, L2TP and PPPoE
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// The peer sent a Terminate-Request.
    PeerTerminated,
    /// LCP Echo-Requests went unanswered.
    EchoTimeout,
    /// Authentication failed (rejected, timed out, refused).
    AuthFailed,
    /// A control protocol could not converge or the peer never answered
    /// (Max-Configure), or refused an option we need.
    NegotiationFailed {
        /// LCP, IPCP or IPv6CP.
        protocol: Protocol,
    },
    /// RFC 1661 §6.4: the link is looped back.
    LoopedBack,
    /// The operator (or RADIUS Disconnect) closed the session.
    AdminClose,
    /// Session-Timeout reached.
    SessionTimeout,
    /// Idle-Timeout reached.
    IdleTimeout,
    /// The lower layer (PPPoE session, L2TP session) went away.
    LowerDown,
}

impl DownReason {
    /// RFC 2866 §5.10 Acct-Terminate-Cause.
    pub const fn acct_terminate_cause(self) -> u32 {
        match self {
            Self::PeerTerminated => 1,            // User Request
            Self::EchoTimeout => 2,               // Lost Carrier
            Self::LowerDown => 2,                 // Lost Carrier
            Self::IdleTimeout => 4,               // Idle Timeout
            Self::SessionTimeout => 5,            // Session Timeout
            Self::AdminClose => 6,                // Admin Reset
            Self::LoopedBack => 8,                // Port Error
            Self::NegotiationFailed { .. } => 15, // Service Unavailable
            Self::AuthFailed => 17,               // User Error
        }
    }

    /// RFC 2661 §4.4.2 CDN Result Code: 1 "Call disconnected due to loss
    /// of carrier", 2 "Call disconnected for the reason indicated in error
    /// code", 3 "Call disconnected for administrative reasons".
    pub const fn l2tp_cdn_result_code(self) -> u16 {
        match self {
            Self::PeerTerminated | Self::EchoTimeout | Self::LowerDown => 1,
            Self::AuthFailed | Self::NegotiationFailed { .. } | Self::LoopedBack => 2,
            Self::AdminClose | Self::SessionTimeout | Self::IdleTimeout => 3,
        }
    }

    /// Text for a PPPoE PADT Generic-Error tag (RFC 2516 §5.5, Appendix A).
    pub const fn pppoe_generic_error(self) -> &'static str {
        match self {
            Self::PeerTerminated => "PPP terminated by peer",
            Self::EchoTimeout => "PPP LCP echo timeout",
            Self::AuthFailed => "PPP authentication failed",
            Self::NegotiationFailed { .. } => "PPP negotiation failed",
            Self::LoopedBack => "PPP link looped back",
            Self::AdminClose => "Administratively closed",
            Self::SessionTimeout => "Session timeout",
            Self::IdleTimeout => "Idle timeout",
            Self::LowerDown => "Lower layer down",
        }
    }
}

/// Why the link dropped a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDropReason {
    /// The control automaton dropped it.
    Fsm(fsm::DropReason),
    /// The authentication core dropped it.
    Auth(auth::DropReason),
    /// Malformed LCP packet (bad Length, short Echo …).
    Malformed,
    /// Not allowed in the current phase (RFC 1661 §3.4–§3.5).
    WrongPhase,
    /// An Echo carrying our own Magic-Number (loop).
    OwnMagic,
    /// Network-layer data; the driver's fast path carries it.
    Data,
    /// A protocol we know but do not run, before LCP is Opened.
    UnknownProtocol,
    /// The link is dead.
    Dead,
}

/// An authentication exchange, as the L2TP proxy AVPs carry it (RFC 2661
/// §4.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    /// The method (Proxy Authen Type).
    pub method: AuthMethod,
    /// Proxy Authen Name.
    pub name: Vec<u8>,
    /// Proxy Authen Challenge (CHAP, MS-CHAPv2: our challenge; PAP: empty).
    pub challenge: Vec<u8>,
    /// Proxy Authen ID.
    pub id: u8,
    /// Proxy Authen Response (PAP: the password; CHAP: the 16-octet value;
    /// MS-CHAPv2: the 49-octet response value, peer challenge, reserved,
    /// NT-Response, flags).
    pub response: Vec<u8>,
}

/// What LCP and authentication exchanged, for the L2TP proxy AVPs (RFC
/// 2661 §4.4.5). Option bytes are as on the wire (the Configure-Request's
/// data, without Code, Identifier and Length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NegotiationRecord {
    /// Initial Received LCP CONFREQ.
    pub initial_received_lcp_request: Option<Vec<u8>>,
    /// Last Sent LCP CONFREQ.
    pub last_sent_lcp_request: Option<Vec<u8>>,
    /// Last Received LCP CONFREQ.
    pub last_received_lcp_request: Option<Vec<u8>>,
    /// The authentication exchange, if any.
    pub auth: Option<AuthRecord>,
}

/// What the link tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A phase change.
    PhaseChanged {
        /// Previous phase.
        from: Phase,
        /// New phase.
        to: Phase,
    },
    /// A step of bringing the link up finished: how long it took (LCP:
    /// from open to the Establish phase's end; authentication; IPCP and
    /// IPv6CP: from the Network phase's start to Opened).
    StepCompleted {
        /// Which step.
        step: SetupStep,
        /// How long.
        took: Duration,
    },
    /// A control protocol changed state.
    StateChanged {
        /// LCP, IPCP or IPv6CP.
        protocol: Protocol,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// LCP reached Opened.
    LcpUp(LcpNegotiated),
    /// The peer presented credentials: answer with [`Link::auth_complete`].
    AuthRequested(AuthRequest),
    /// Authentication succeeded (server: the peer; client: us).
    Authenticated,
    /// One more NCP reached Opened; carries every NCP that is up.
    NetworkUp {
        /// IPCP result, if IPCP is Opened.
        ipv4: Option<Ipv4Negotiated>,
        /// IPv6CP result, if IPv6CP is Opened.
        ipv6: Option<Ipv6Negotiated>,
    },
    /// An NCP left Opened.
    NetworkDown {
        /// IPCP or IPv6CP.
        protocol: Protocol,
    },
    /// LCP left Opened to renegotiate (the session is not over).
    Renegotiating,
    /// The link is down; the driver tears the session down.
    Down {
        /// Why.
        reason: DownReason,
    },
    /// We answered a frame with a Protocol-Reject.
    ProtocolRejectSent {
        /// The rejected protocol.
        protocol: Protocol,
    },
    /// The peer rejected one of our protocols.
    ProtocolRejectReceived {
        /// The rejected protocol.
        protocol: Protocol,
    },
    /// A received frame was dropped.
    Dropped {
        /// Its protocol.
        protocol: Protocol,
        /// Why.
        reason: LinkDropReason,
    },
}

/// Counters for observability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames dropped.
    pub dropped: u64,
    /// Echo-Requests sent.
    pub echo_requests_sent: u64,
    /// Echo-Replies received.
    pub echo_replies_received: u64,
    /// Protocol-Rejects sent.
    pub protocol_rejects_sent: u64,
    /// Frames or events discarded because the driver did not poll.
    pub queue_overflows: u64,
}

enum AuthCore {
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
    // Input
    // -----------------------------------------------------------------

    fn handle_lcp(&mut self, now: Instant, payload: &[u8]) {
        let Ok(packet) = ControlPacket::new_checked(payload) else {
            self.dropped(
                Protocol::Lcp,
                LinkDropReason::Fsm(fsm::DropReason::BadLength),
            );
            return;
        };
        let data = packet.data();
        let magic = data
            .get(..4)
            .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        let our_magic = self.lcp.negotiator().negotiated().our_magic;
        let opened = self.lcp.is_opened();
        match packet.code() {
            Code::TerminateRequest => {
                if opened {
                    self.down_reason.get_or_insert(DownReason::PeerTerminated);
                }
                self.lcp.handle_packet(now, packet.packet());
            }
            Code::ProtocolReject => {
                let Some(rejected) = data
                    .get(..2)
                    .map(|p| Protocol::from(u16::from_be_bytes([p[0], p[1]])))
                else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if !opened {
                    // §5.7: only meaningful in Opened.
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                    return;
                }
                self.push_event(LinkEvent::ProtocolRejectReceived { protocol: rejected });
                match rejected {
                    Protocol::Lcp => self.lcp.reject_received(now, true),
                    Protocol::Ipcp => {
                        self.ipcp.reject_received(now, true);
                        self.lcp.reject_received(now, false);
                    }
                    Protocol::Ipv6cp => {
                        self.ipv6cp.reject_received(now, true);
                        self.lcp.reject_received(now, false);
                    }
                    Protocol::Pap | Protocol::Chap if self.auth_method.is_some() => {
                        self.down_reason.get_or_insert(DownReason::AuthFailed);
                        self.lcp.close(now);
                    }
                    _ => self.lcp.reject_received(now, false),
                }
            }
            Code::EchoRequest => {
                let Some(magic) = magic else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if our_magic != 0 && magic == our_magic {
                    self.dropped(Protocol::Lcp, LinkDropReason::OwnMagic);
                    return;
                }
                let mut reply = packet.packet().to_vec();
                let Ok(mut reply_packet) = ControlPacket::new_checked(&mut reply[..]) else {
                    return;
                };
                if reply_packet.echo_request_into_reply(our_magic).is_err() {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                }
                // §5.8: only in Opened (the table's `ser`).
                if !self.lcp.echo_request_received(now, &reply) {
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                }
            }
            Code::EchoReply => {
                let Some(magic) = magic else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if !opened {
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                    return;
                }
                if our_magic != 0 && magic == our_magic {
                    self.dropped(Protocol::Lcp, LinkDropReason::OwnMagic);
                    return;
                }
                self.stats.echo_replies_received += 1;
                self.echo_outstanding = 0;
                self.lcp.other_rxr(now);
            }
            Code::DiscardRequest => {
                if magic.is_none() {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                }
                self.lcp.other_rxr(now);
            }
            // RFC 1570 §2.1, §2.2: informational; accepted silently.
            Code::Identification | Code::TimeRemaining => {}
            _ => self.lcp.handle_packet(now, packet.packet()),
        }
    }

    fn handle_auth(&mut self, now: Instant, protocol: Protocol, payload: &[u8]) {
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

    fn protocol_reject(&mut self, protocol: Protocol, payload: &[u8]) {
        if !self.lcp.is_opened() {
            self.dropped(protocol, LinkDropReason::UnknownProtocol);
            return;
        }
        // §5.7: "the Rejected-Information MUST be truncated to comply with
        // the peer's established MRU."
        let peer_mru = usize::from(self.lcp.negotiator().negotiated().peer_mru);
        let room = peer_mru.saturating_sub(4 + 2);
        let keep = payload.len().min(room);
        let rejected = u16::from(protocol).to_be_bytes();
        let id = self.next_lcp_identifier();
        self.send_lcp(Code::ProtocolReject, id, &[&rejected, &payload[..keep]]);
        self.stats.protocol_rejects_sent += 1;
        self.push_event(LinkEvent::ProtocolRejectSent { protocol });
    }

    // -----------------------------------------------------------------
    // Keepalive
    // -----------------------------------------------------------------

    fn echo_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.echo_interval else {
            self.echo_next = None;
            return;
        };
        if !self.lcp.is_opened() {
            self.echo_next = None;
            return;
        }
        if self.echo_outstanding >= self.config.echo_failures {
            self.echo_next = None;
            self.down_reason.get_or_insert(DownReason::EchoTimeout);
            self.lcp.close(now);
            return;
        }
        let magic = self.lcp.negotiator().negotiated().our_magic;
        let id = self.next_lcp_identifier();
        self.send_lcp(Code::EchoRequest, id, &[&magic.to_be_bytes()]);
        self.stats.echo_requests_sent += 1;
        self.echo_outstanding = self.echo_outstanding.saturating_add(1);
        self.echo_next = Some(now + interval);
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

    fn pump_auth(&mut self, now: Instant) -> bool {
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
        self.record.initial_received_lcp_request =
            self.lcp.first_received_request().map(<[u8]>::to_vec);
        self.record.last_sent_lcp_request = self.lcp.last_sent_request().map(<[u8]>::to_vec);
        self.record.last_received_lcp_request =
            self.lcp.last_received_request().map(<[u8]>::to_vec);
        self.push_event(LinkEvent::LcpUp(negotiated));
        self.echo_outstanding = 0;
        self.echo_next = self.config.echo_interval.map(|i| now + i);
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

    fn record_auth(&mut self, request: &AuthRequest) {
        let Some(method) = self.auth_method else {
            return;
        };
        let record = match request {
            AuthRequest::Pap { user, password } => AuthRecord {
                method,
                name: user.clone(),
                challenge: Vec::new(),
                id: self.last_pap_id,
                response: password.expose().to_vec(),
            },
            AuthRequest::Chap {
                user,
                id,
                challenge,
                response,
            } => AuthRecord {
                method,
                name: user.clone(),
                challenge: challenge.clone(),
                id: *id,
                response: response.clone(),
            },
            AuthRequest::MsChapV2 {
                user,
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                flags,
            } => {
                // RFC 2759 §4 Response-Value layout: Peer-Challenge (16),
                // Reserved (8, zero), NT-Response (24), Flags (1).
                let mut response = Vec::with_capacity(49);
                response.extend_from_slice(peer_challenge);
                response.extend_from_slice(&[0; 8]);
                response.extend_from_slice(nt_response);
                response.push(*flags);
                AuthRecord {
                    method,
                    name: user.clone(),
                    challenge: authenticator_challenge.to_vec(),
                    id: *id,
                    response,
                }
            }
        };
        self.record.auth = Some(record);
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

    fn next_lcp_identifier(&mut self) -> u8 {
        let id = self.lcp_identifier;
        self.lcp_identifier = self.lcp_identifier.wrapping_add(1);
        id
    }

    /// Queues an LCP packet of the link's own (Protocol-Reject,
    /// Echo-Request), written straight into the queue.
    fn send_lcp(&mut self, code: Code, identifier: u8, data: &[&[u8]]) {
        if self
            .transmit
            .push_control(Protocol::Lcp, code, identifier, data)
            .dropped_oldest()
        {
            self.stats.queue_overflows += 1;
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
