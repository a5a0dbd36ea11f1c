//! The LAC session core (NAS-initiated mode, RFC 2661 §1.1 and §7.4),
//! sans-IO: it joins, per subscriber, the PPPoE discovery server
//! (RFC 2516 §5), a PPP server link for LCP and authentication
//! (RFC 1661 §3, RFC 1334, RFC 1994, RFC 2759), the RADIUS decision
//! (RFC 2865, RFC 2868 tunnel attributes), LNS selection
//! ([`super::select`]) and the L2TP endpoint (RFC 2661 §5–§7), and then
//! forwards PPP frames between the PPPoE session and the L2TP session.
//!
//! # Flow of one subscriber
//!
//! 1. PADI … PADS on an access interface ([`Discovery`]); a [`Link`] in the
//!    server role opens LCP with the PPPoE payload as MRU (RFC 4638).
//! 2. The peer's credentials arrive ([`LinkEvent::AuthRequested`]): the core
//!    asks its driver for a RADIUS decision ([`Command::Authenticate`]).
//! 3. Accept: the RFC 2868 tunnel groups (or, without any, a
//!    `[[lac.realm]]` rule) are ordered by [`Selector`]; the first endpoint
//!    gets a call with the proxy LCP and proxy authentication AVPs of the
//!    negotiation record (RFC 2661 §4.4.5). A failed attempt (tunnel set-up
//!    timeout, StopCCN, CDN) denylists the endpoint and the next one is
//!    tried, within the attempt limit and the set-up deadline.
//! 4. The session is up at the LNS (ICCN sent, §7.4.1): the core answers
//!    the subscriber's authentication (PAP Authenticate-Ack, CHAP / MS-CHAPv2
//!    Success with the RADIUS MS-CHAP2-Success), drops its PPP link — from
//!    here "the LNS owns the link": every PPP frame, LCP included, is
//!    forwarded — and sends Accounting-Start (RFC 2866) with the RFC 2867
//!    tunnel attributes.
//! 5. Forwarding ([`LacCore::handle_frame`] upstream,
//!    [`LacCore::handle_datagram`] downstream): one hash lookup per frame and a
//!    header rewrite in place, PPPoE session ⇄ L2TP data message with
//!    Address/Control `FF 03` (RFC 2661 §5.4 carries HDLC-like framing without
//!    flags and FCS), per-session counters, optional TCP MSS clamping and
//!    policing.
//! 6. Teardown, each path with Accounting-Stop and its Acct-Terminate-Cause
//!    (RFC 2866 §5.10): PADT → CDN (User-Request); CDN → PADT
//!    (Host-Request); StopCCN or tunnel loss → PADT (Lost-Service);
//!    Disconnect-Request → CDN + PADT (Admin-Reset); Session-Timeout and
//!    Idle-Timeout (RFC 2865 §5.27, §5.28); interface down (Lost-Carrier);
//!    shutdown (NAS-Reboot).
//!
//! Time is passed in; the driver ([`super::driver`]) owns the sockets, the
//! RADIUS handle and the clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

use super::select::{Attempt, SelectConfig, SelectError, SelectEvent, Selector};
use crate::aaa::attributes::{AcceptAttributes, Decision, RateLimit};
use crate::aaa::dynauth::{DynAuthKind, DynAuthRequest, DynAuthResult, ErrorCause};
use crate::aaa::request::{
    AccountingRecord, AcctStatusType, AuthRequest, Counters, Credentials, NasPortIdTemplate,
    NasPortType, PortInfo, SessionEnd, SessionInfo as AaaSessionInfo, TunnelAccounting,
};
use crate::config::{self, CallingNumber};
use crate::dataplane::mss::clamp_mss;
use crate::dataplane::police::Policer;
use crate::l2tp::{
    CallInfo, Endpoint, EndpointConfig, Event as L2tpEvent, OpenSession, ProxyInfo,
    SessionDownCause, SessionHandle,
};
use crate::ppp::auth::{AuthDecision, AuthMethod, AuthRequest as PppAuthRequest};
use crate::ppp::link::{DownReason, Link, LinkConfig, LinkEvent, NegotiationRecord};
use crate::pppoe::server::{Discovery, DiscoveryConfig, Event as PppoeEvent};
use crate::shard::Shard;
use crate::wire::ethernet::{
    EtherType, EthernetRepr, Frame as EthernetFrame, MacAddress, VlanStack,
};
use crate::wire::l2tp::{
    Bearer, CdnResult, Framing, HeaderRepr, Packet as L2tpPacket, ProxyAuthenType, ResultCode,
    Sequence, StopCcnResult,
};
use crate::wire::ppp::{FrameHeader, Protocol};
use crate::wire::pppoe::{SessionPacket, encapsulate_session_in_place};

/// Room the core needs in front of a downstream datagram to turn it into
/// an Ethernet + PPPoE frame in place: Ethernet with two VLAN tags (22),
/// PPPoE (6), less the L2TP header and `FF 03` the frame loses.
pub const DOWNSTREAM_HEADROOM: usize = 32;

/// Length of `FF 03` (RFC 1662 §3.1 Address and Control).
const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

/// Size of a scratch buffer for one control frame to a subscriber.
const CONTROL_FRAME_LEN: usize = crate::pppoe::MAX_FRAME_LEN;

/// PADTs per second, at most, for session frames of unknown sessions.
const STALE_PADT_PER_SECOND: u32 = 100;

/// Headroom in front of PPP control frames the link writes.
const CONTROL_HEADROOM: usize = 32;

/// One access interface.
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Linux interface name (for NAS-Port-Id and logs).
    pub name: String,
    /// Its discovery server settings (per-interface Service-Names, limits).
    pub discovery: DiscoveryConfig,
}

/// Everything the LAC core needs, from `[pppoe]`, `[ppp]`, `[l2tp]`,
/// `[lac]` and `[radius.accounting]`.
#[derive(Debug, Clone)]
pub struct LacConfig {
    /// Access interfaces, in the driver's order.
    pub interfaces: Vec<InterfaceConfig>,
    /// The PPP server link (LCP and authentication only).
    pub link: LinkConfig,
    /// The L2TP endpoint (LAC role).
    pub endpoint: EndpointConfig,
    /// LNS selection.
    pub select: SelectConfig,
    /// Static realm rules for users RADIUS gives no tunnel.
    pub realms: Vec<config::Realm>,
    /// RADIUS group for Access-Requests.
    pub auth_group: String,
    /// RADIUS group for accounting.
    pub acct_group: String,
    /// From the Access-Accept to an established L2TP session.
    pub setup_deadline: Duration,
    /// What the Calling Number AVP carries.
    pub calling_number: CallingNumber,
    /// Interim interval when RADIUS sends no Acct-Interim-Interval (zero:
    /// none).
    pub interim_interval: Duration,
    /// Send RFC 2867 tunnel accounting records.
    pub tunnel_accounting: bool,
    /// Clamp the MSS of TCP SYNs in forwarded frames to this (0: off).
    pub tcp_mss: u16,
    /// (Tx) Connect Speed for the ICCN when RADIUS gives no rate, bit/s.
    pub connect_speed: u32,
    /// The LAC's L2TP address (Tunnel-Client-Endpoint in accounting).
    pub local_address: Option<IpAddr>,
    /// `[radius] nas_port_id`: matches the NAS-Port-Id of RFC 5176
    /// requests against the one the session was reported with.
    pub nas_port_id: NasPortIdTemplate,
    /// `[lac] workers`: how many cores share the subscribers.
    pub workers: u16,
    /// Which of them this core is ([`Self::for_worker`]).
    pub shard: Shard,
}

impl LacConfig {
    /// From the configuration file; `None` without a `[lac]` section.
    pub fn from_config(config: &config::Config) -> Option<Self> {
        let lac = config.lac.as_ref()?;
        let pppoe = config.pppoe.as_ref()?;
        let interfaces = pppoe
            .interfaces
            .iter()
            .map(|iface| InterfaceConfig {
                name: iface.name.clone(),
                discovery: DiscoveryConfig::from_config(pppoe, Some(iface)),
            })
            .collect();
        let mut endpoint = EndpointConfig::from_config(config);
        endpoint.setup_timeout = endpoint.setup_timeout.min(lac.setup_deadline.get());
        let local = config.l2tp.listen.ip();
        Some(Self {
            interfaces,
            link: LinkConfig::server_from_config(&config.ppp),
            endpoint,
            select: SelectConfig::from_config(lac),
            realms: lac.realms.clone(),
            auth_group: lac.auth_group.clone(),
            acct_group: lac.acct_group.clone(),
            setup_deadline: lac.setup_deadline.get(),
            calling_number: lac.calling_number,
            interim_interval: config.radius.accounting.interim_interval.get(),
            tunnel_accounting: config.radius.accounting.tunnel_accounting,
            tcp_mss: lac.tcp_mss,
            connect_speed: lac.connect_speed,
            local_address: (!local.is_unspecified()).then_some(local),
            nas_port_id: NasPortIdTemplate(config.radius.nas_port_id.clone()),
            workers: lac.workers.max(1),
            shard: Shard::WHOLE,
        })
    }

    /// The configuration of worker `shard`: its PPPoE Session IDs and L2TP
    /// Tunnel IDs (so the kernel can steer to it), and its share of the
    /// access limits ([`DiscoveryConfig::for_shard`]).
    #[must_use]
    pub fn for_worker(&self, shard: Shard) -> Self {
        let mut config = self.clone();
        config.shard = shard;
        config.endpoint.tunnel_ids = shard;
        for interface in &mut config.interfaces {
            interface.discovery = interface.discovery.clone().for_shard(shard);
        }
        config
    }
}

/// Where a subscriber's session stands (the API's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// LCP, or waiting for the peer's credentials.
    Negotiating,
    /// Waiting for RADIUS.
    Authenticating,
    /// Waiting for the L2TP tunnel and session.
    Tunnelling,
    /// Forwarding.
    Up,
}

impl SessionState {
    /// Every state.
    pub const ALL: [Self; 4] = [
        Self::Negotiating,
        Self::Authenticating,
        Self::Tunnelling,
        Self::Up,
    ];

    /// Label for the API and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Negotiating => "negotiating",
            Self::Authenticating => "authenticating",
            Self::Tunnelling => "tunnelling",
            Self::Up => "up",
        }
    }
}

/// How an LNS was chosen for a session (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectionOutcome {
    /// The first endpoint of the plan worked.
    FirstChoice,
    /// A later endpoint worked after earlier ones failed.
    Failover,
    /// RADIUS gave no usable tunnel and no realm rule matched.
    NoCandidate,
    /// Every attempt failed or the deadline passed.
    Exhausted,
}

impl SelectionOutcome {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstChoice => "first_choice",
            Self::Failover => "failover",
            Self::NoCandidate => "no_candidate",
            Self::Exhausted => "exhausted",
        }
    }
}

/// Why a subscriber never reached the forwarding state (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupFailure {
    /// PPP (LCP or authentication) failed or the peer left.
    Ppp,
    /// RADIUS rejected the user (or no server answered).
    RadiusReject,
    /// No LNS candidate.
    NoCandidate,
    /// Every LNS attempt failed.
    TunnelFailed,
    /// The set-up deadline passed.
    Deadline,
    /// The subscriber left (PADT) while the session was being set up.
    SubscriberLeft,
    /// Administrative action (Disconnect-Request, shutdown, interface down).
    Administrative,
}

impl SetupFailure {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ppp => "ppp",
            Self::RadiusReject => "radius_reject",
            Self::NoCandidate => "no_candidate",
            Self::TunnelFailed => "tunnel_failed",
            Self::Deadline => "deadline",
            Self::SubscriberLeft => "subscriber_left",
            Self::Administrative => "administrative",
        }
    }
}

/// The LAC's set-up phases that are not PPP's own (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LacPhase {
    /// The RADIUS round trip.
    Radius,
    /// SCCRQ to SCCCN of a tunnel this session opened.
    Tunnel,
    /// `open_session` to the session being established.
    Session,
}

/// What the core tells its driver for metrics and logs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LacEvent {
    /// A discovery event of an interface.
    Pppoe(PppoeEvent),
    /// A PPP link event (before hand-over).
    Ppp(LinkEvent),
    /// An L2TP endpoint event.
    L2tp(L2tpEvent),
    /// A selector event (denylist changes).
    Select(SelectEvent),
    /// A set-up phase of the LAC took `took`.
    Phase {
        /// Which.
        phase: LacPhase,
        /// How long.
        took: Duration,
    },
    /// How the LNS was chosen.
    Selection(SelectionOutcome),
    /// A session never came up.
    SetupFailed(SetupFailure),
    /// A session that was up ended.
    SessionEnded {
        /// Acct-Terminate-Cause.
        end: SessionEnd,
    },
}

/// What the driver must do for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ask RADIUS; answer with [`LacCore::auth_result`].
    Authenticate {
        /// The session's token.
        token: u64,
        /// RADIUS group.
        group: String,
        /// The request.
        request: Box<AuthRequest>,
    },
    /// Send an accounting record (the driver spools it durably).
    Account {
        /// RADIUS group.
        group: String,
        /// The record (Event-Timestamp is the driver's to fill).
        record: Box<AccountingRecord>,
    },
}

/// A frame the fast path produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Send `buf[range]` as one UDP datagram to `to`.
    Datagram {
        /// The LNS.
        to: SocketAddr,
        /// Where the datagram sits in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Send `buf[range]` as one Ethernet frame on interface `interface`.
    Frame {
        /// Index of the access interface.
        interface: usize,
        /// Where the frame sits in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Not a fast-path frame: the caller hands it to the control path
    /// (already done by the core for PPPoE).
    Control,
    /// Dropped (counted).
    Dropped(FastPathDrop),
}

/// Why the fast path dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FastPathDrop {
    /// Malformed Ethernet, PPPoE, L2TP or PPP framing.
    Malformed,
    /// No session with those identifiers (or wrong source).
    UnknownSession,
    /// Over the session's rate limit.
    Policed,
    /// The session is not forwarding yet.
    NotUp,
}

impl FastPathDrop {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownSession => "unknown_session",
            Self::Policed => "policed",
            Self::NotUp => "not_up",
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    /// Frames.
    pub packets: u64,
    /// PPP octets (protocol field and information).
    pub bytes: u64,
}

/// Totals of the fast path, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardingTotals {
    /// Subscriber → LNS.
    pub upstream: DirectionCounters,
    /// LNS → subscriber.
    pub downstream: DirectionCounters,
    /// Dropped by the policer.
    pub policed: u64,
    /// Unknown session or malformed.
    pub dropped: u64,
}

impl ForwardingTotals {
    /// Adds another worker's totals.
    pub const fn add(&mut self, other: &Self) {
        self.upstream.packets += other.upstream.packets;
        self.upstream.bytes += other.upstream.bytes;
        self.downstream.packets += other.downstream.packets;
        self.downstream.bytes += other.downstream.bytes;
        self.policed += other.policed;
        self.dropped += other.dropped;
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionView {
    /// Acct-Session-Id.
    pub acct_session_id: String,
    /// User-Name, once known.
    pub user_name: Option<String>,
    /// Access interface.
    pub interface: String,
    /// Subscriber MAC.
    pub mac: String,
    /// VLAN ids, outermost first.
    pub vlans: Vec<u16>,
    /// PPPoE SESSION_ID.
    pub pppoe_session_id: u16,
    /// State.
    pub state: &'static str,
    /// The LNS endpoint, once chosen.
    pub lns: Option<String>,
    /// Our Tunnel ID.
    pub tunnel_id: Option<u16>,
    /// Our Session ID.
    pub session_id: Option<u16>,
    /// The LNS's Tunnel ID.
    pub peer_tunnel_id: Option<u16>,
    /// The LNS's Session ID.
    pub peer_session_id: Option<u16>,
    /// Frames subscriber → LNS.
    pub packets_up: u64,
    /// Octets subscriber → LNS.
    pub bytes_up: u64,
    /// Frames LNS → subscriber.
    pub packets_down: u64,
    /// Octets LNS → subscriber.
    pub bytes_down: u64,
    /// Seconds since the session came up.
    pub up_seconds: Option<u64>,
    /// The worker that owns the session (`[lac] workers`).
    pub worker: u16,
}

/// The forwarding state of a session that is up.
#[derive(Debug, Clone)]
struct Forwarding {
    peer: SocketAddr,
    handle: SessionHandle,
    peer_tunnel_id: u16,
    peer_session_id: u16,
    /// RFC 2661 §5.4: Ns of the next data message when the LNS asked for
    /// sequencing.
    next_ns: Option<u16>,
    /// The L2TP session is already gone (CDN or StopCCN from the LNS): no
    /// CDN to send, the ids stay for the Stop record.
    l2tp_closed: bool,
}

/// A selected endpoint being tried.
#[derive(Debug)]
struct Tunnelling {
    plan: Vec<Attempt>,
    next: usize,
    current: Option<(Attempt, SessionHandle, Instant)>,
    deadline: Instant,
    failed: u32,
}

#[derive(Debug)]
enum Stage {
    Negotiating,
    Authenticating { since: Instant },
    Tunnelling(Box<Tunnelling>),
    Up(Forwarding),
}

#[derive(Debug)]
struct Session {
    interface: usize,
    mac: MacAddress,
    vlans: VlanStack,
    pppoe_session_id: u16,
    service_name: Vec<u8>,
    circuit_id: Option<Vec<u8>>,
    remote_id: Option<Vec<u8>>,
    acct_session_id: String,
    user_name: Option<String>,
    /// The PPP link while negotiating; dropped at hand-over.
    link: Option<Box<Link>>,
    /// Credentials sent to RADIUS (kept for the proxy AVPs).
    auth_method: Option<AuthMethod>,
    /// RFC 2661 §4.4.5 proxy AVPs, taken when the credentials arrived.
    proxy: Option<ProxyInfo>,
    accept: Option<Box<AcceptAttributes>>,
    stage: Stage,
    lns: Option<Attempt>,
    /// Where the LNS plan came from: `radius` or the realm rule
    /// (`realm:@domain`, `realm:prefix`).
    lns_group: Option<Arc<str>>,
    up_at: Option<Instant>,
    up: DirectionCounters,
    down: DirectionCounters,
    last_activity: Instant,
    session_timeout_at: Option<Instant>,
    idle_timeout: Option<Duration>,
    interim: Option<Duration>,
    next_interim: Option<Instant>,
    police_up: Option<Policer>,
    police_down: Option<Policer>,
}

impl Session {
    fn state(&self) -> SessionState {
        match self.stage {
            Stage::Negotiating => SessionState::Negotiating,
            Stage::Authenticating { .. } => SessionState::Authenticating,
            Stage::Tunnelling(_) => SessionState::Tunnelling,
            Stage::Up(_) => SessionState::Up,
        }
    }

    fn counters(&self) -> Counters {
        Counters {
            input_octets: self.up.bytes,
            output_octets: self.down.bytes,
            input_packets: u32::try_from(self.up.packets).unwrap_or(u32::MAX),
            output_packets: u32::try_from(self.down.packets).unwrap_or(u32::MAX),
        }
    }
}

/// What a timer entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Link,
    Deadline,
    SessionTimeout,
    IdleCheck,
    Interim,
}

/// Tunnel bookkeeping for RFC 2867 records.
#[derive(Debug, Clone)]
struct TunnelRecord {
    peer: SocketAddr,
    connection_id: String,
    assignment_id: Option<Vec<u8>>,
    opened_at: Option<Instant>,
}

/// Outgoing frame to a subscriber (control path).
#[derive(Debug)]
struct OutFrame {
    interface: usize,
    bytes: Vec<u8>,
}

/// The LNS group of a `[[lac.realm]]` plan: `realm:` and the rule's domain
/// or prefix.
fn realm_group(realm: &crate::config::Realm) -> Arc<str> {
    let name = realm
        .domain
        .as_deref()
        .map(|d| format!("realm:@{d}"))
        .or_else(|| realm.prefix.as_deref().map(|p| format!("realm:{p}")))
        .unwrap_or_else(|| "realm".to_owned());
    Arc::from(name)
}

/// Returns a session's key in the PPPoE index.
const fn pppoe_key(interface: usize, session_id: u16) -> (usize, u16) {
    (interface, session_id)
}

/// The LAC core: every access interface, session and tunnel of one LAC.
#[derive(Debug)]
pub struct LacCore {
    config: LacConfig,
    discovery: Vec<Discovery>,
    interface_macs: Vec<MacAddress>,
    endpoint: Endpoint,
    selector: Selector,
    rng: StdRng,
    sessions: HashMap<u64, Session>,
    by_pppoe: HashMap<(usize, u16), u64>,
    by_l2tp: HashMap<(u16, u16), u64>,
    by_acct_id: HashMap<String, u64>,
    next_token: u64,
    next_call_serial: u32,
    acct_session_prefix: String,
    next_acct_session: u64,
    timers: BinaryHeap<Reverse<(Instant, u64, TimerKind)>>,
    tunnels: HashMap<u16, TunnelRecord>,
    commands: VecDeque<Command>,
    events: VecDeque<LacEvent>,
    frames: VecDeque<OutFrame>,
    totals: ForwardingTotals,
    scratch: Vec<u8>,
    /// Rate limit of PADTs for unknown sessions: window start, count.
    stale_padts: (Instant, u32),
}

impl LacCore {
    /// A core for `config`, whose interfaces have the MACs
    /// `interface_macs` (same order). Acct-Session-Ids are
    /// `acct_session_prefix` followed by a counter, so the driver makes
    /// them unique across restarts.
    pub fn new(
        config: LacConfig,
        interface_macs: Vec<MacAddress>,
        acct_session_prefix: String,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        let mut rng = StdRng::from_seed(seed);
        let discovery = config
            .interfaces
            .iter()
            .zip(&interface_macs)
            .map(|(iface, mac)| Discovery::new(iface.discovery.clone(), *mac, rng.random(), now))
            .collect();
        let endpoint = Endpoint::new(config.endpoint.clone(), rng.random());
        let selector = Selector::new(config.select.clone(), rng.random());
        Self {
            config,
            discovery,
            interface_macs,
            endpoint,
            selector,
            rng,
            sessions: HashMap::new(),
            by_pppoe: HashMap::new(),
            by_l2tp: HashMap::new(),
            by_acct_id: HashMap::new(),
            next_token: 1,
            next_call_serial: 1,
            acct_session_prefix,
            next_acct_session: 1,
            timers: BinaryHeap::new(),
            tunnels: HashMap::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            frames: VecDeque::new(),
            totals: ForwardingTotals::default(),
            scratch: vec![0; CONTROL_FRAME_LEN],
            stale_padts: (now, 0),
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &LacConfig {
        &self.config
    }

    /// The L2TP endpoint (tunnels for the API).
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Fast-path totals.
    pub const fn totals(&self) -> ForwardingTotals {
        self.totals
    }

    /// Sessions per state.
    pub fn state_counts(&self) -> [(SessionState, usize); 4] {
        let mut counts = SessionState::ALL.map(|s| (s, 0));
        for session in self.sessions.values() {
            let state = session.state();
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += 1;
            }
        }
        counts
    }

    /// Established sessions per LNS group (Tunnel-Assignment-Id, else
    /// `radius` or the realm rule) and endpoint.
    pub fn sessions_per_lns(&self) -> HashMap<(Arc<str>, SocketAddr), usize> {
        let mut out = HashMap::new();
        for session in self.sessions.values() {
            if let Stage::Up(f) = &session.stage {
                // The operator's name for the tunnel (RFC 2868 §3.7
                // Tunnel-Assignment-Id) when there is one, else the plan's
                // source.
                let group = match session
                    .lns
                    .as_ref()
                    .and_then(|a| a.assignment_id.as_deref())
                {
                    Some(id) => Arc::from(String::from_utf8_lossy(id)),
                    None => session
                        .lns_group
                        .clone()
                        .unwrap_or_else(|| Arc::from("radius")),
                };
                *out.entry((group, f.peer)).or_insert(0) += 1;
            }
        }
        out
    }

    /// Denylisted endpoints and how long they stay so.
    pub fn denylist(&self, now: Instant) -> Vec<(SocketAddr, Duration)> {
        self.selector
            .denylisted(now)
            .into_iter()
            .map(|(endpoint, until)| (endpoint, until.saturating_duration_since(now)))
            .collect()
    }

    /// Another worker denylisted `endpoint` until `until` (its
    /// [`LacEvent::Select`]): this core avoids it too, so a dead LNS costs
    /// one subscriber's set-up, not one per worker.
    pub fn adopt_denylisting(&mut self, endpoint: SocketAddr, until: Instant) {
        self.selector.adopt_denylisting(endpoint, until);
    }

    /// Number of sessions in any state.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether every session and tunnel is gone (after [`Self::shutdown`]).
    pub fn is_idle(&self) -> bool {
        self.sessions.is_empty() && self.endpoint.tunnel_count() == 0
    }

    /// Every session, for the API.
    pub fn sessions(&self, now: Instant) -> Vec<SessionView> {
        let mut out: Vec<SessionView> = self
            .sessions
            .values()
            .map(|s| {
                let forwarding = match &s.stage {
                    Stage::Up(f) => Some(f),
                    _ => None,
                };
                SessionView {
                    acct_session_id: s.acct_session_id.clone(),
                    user_name: s.user_name.clone(),
                    interface: self
                        .config
                        .interfaces
                        .get(s.interface)
                        .map(|i| i.name.clone())
                        .unwrap_or_default(),
                    mac: s.mac.to_string(),
                    vlans: s.vlans.iter().map(|t| t.vid).collect(),
                    pppoe_session_id: s.pppoe_session_id,
                    state: s.state().as_str(),
                    lns: s.lns.as_ref().map(|a| a.endpoint.to_string()),
                    tunnel_id: forwarding.map(|f| f.handle.tunnel_id),
                    session_id: forwarding.map(|f| f.handle.session_id),
                    peer_tunnel_id: forwarding.map(|f| f.peer_tunnel_id),
                    peer_session_id: forwarding.map(|f| f.peer_session_id),
                    packets_up: s.up.packets,
                    bytes_up: s.up.bytes,
                    packets_down: s.down.packets,
                    bytes_down: s.down.bytes,
                    up_seconds: s.up_at.map(|t| now.saturating_duration_since(t).as_secs()),
                    worker: self.config.shard.index(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.acct_session_id.cmp(&b.acct_session_id));
        out
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// Handles a frame received on access interface `interface` (VLAN tags
    /// in the frame; a tag the kernel stripped already put back by the
    /// caller or given in `stripped`). Session data of a forwarding session
    /// is rewritten in place into an L2TP data message: the caller sends
    /// `frame[range]` to `to` ([`Forward::Datagram`]).
    pub fn handle_frame(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &mut [u8],
        stripped: Option<crate::wire::ethernet::VlanTag>,
    ) -> Forward {
        let (ethertype, header_len) = match EthernetFrame::new_checked(&*frame) {
            Ok(eth) => (eth.ethertype(), frame.len() - eth.payload().len()),
            Err(_) => return self.drop_frame(FastPathDrop::Malformed),
        };
        match ethertype {
            EtherType::PppoeDiscovery => {
                if let Some(discovery) = self.discovery.get_mut(interface) {
                    match stripped {
                        None => discovery.handle_frame(now, frame),
                        Some(tag) => {
                            if let Ok(eth) = EthernetFrame::new_checked(&*frame) {
                                let vlans = eth
                                    .vlans_with_stripped(Some(tag))
                                    .unwrap_or_else(|_| eth.vlans());
                                let src = eth.src();
                                let payload = eth.payload();
                                let dst = eth.dst();
                                if dst.is_broadcast() || dst == discovery.local_mac() {
                                    discovery.handle_packet(now, vlans, src, payload);
                                }
                            }
                        }
                    }
                }
                self.drain_discovery(now, interface);
                Forward::Control
            }
            EtherType::PppoeSession => {
                self.handle_session_frame(now, interface, frame, header_len, stripped)
            }
            _ => self.drop_frame(FastPathDrop::Malformed),
        }
    }

    /// A session frame addressed to us for a session we do not know (the
    /// LAC restarted, or the PADT was lost): answer with a PADT so the host
    /// redials at once instead of waiting for its LCP echoes to fail
    /// (RFC 2516 §5.5: "a PADT MAY be sent anytime after a session is
    /// established"). At most [`STALE_PADT_PER_SECOND`] per second.
    fn padt_for_stale_session(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &[u8],
        stripped: Option<crate::wire::ethernet::VlanTag>,
        session_id: u16,
    ) {
        let Some(&local) = self.interface_macs.get(interface) else {
            return;
        };
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return;
        };
        if eth.dst() != local || !eth.src().is_unicast() {
            return;
        }
        let (window, sent) = &mut self.stale_padts;
        if now.saturating_duration_since(*window) >= Duration::from_secs(1) {
            *window = now;
            *sent = 0;
        }
        if *sent >= STALE_PADT_PER_SECOND {
            return;
        }
        *sent += 1;
        let vlans = eth
            .vlans_with_stripped(stripped)
            .unwrap_or_else(|_| eth.vlans());
        let mut padt =
            crate::wire::pppoe::DiscoveryRepr::new(crate::wire::pppoe::Code::Padt, session_id);
        padt.tags.push(crate::wire::pppoe::Tag::GenericError(
            b"session unknown".to_vec(),
        ));
        let mut header = EthernetRepr::new(eth.src(), local, EtherType::PppoeDiscovery);
        header.vlans = vlans;
        let mut bytes = vec![0u8; header.buffer_len() + padt.buffer_len()];
        let Ok(len) = header.emit(&mut bytes) else {
            return;
        };
        let Some(body) = bytes.get_mut(len..) else {
            return;
        };
        if padt.emit(body).is_ok() {
            self.frames.push_back(OutFrame { interface, bytes });
        }
    }

    fn drop_frame(&mut self, reason: FastPathDrop) -> Forward {
        if reason == FastPathDrop::Policed {
            self.totals.policed += 1;
        } else {
            self.totals.dropped += 1;
        }
        Forward::Dropped(reason)
    }

    /// Upstream: PPPoE session frame → L2TP data message, in place.
    fn handle_session_frame(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &mut [u8],
        header_len: usize,
        stripped: Option<crate::wire::ethernet::VlanTag>,
    ) -> Forward {
        let Some(pppoe) = frame.get(header_len..) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let Ok(packet) = SessionPacket::new_checked(pppoe) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let session_id = packet.session_id();
        let ppp_len = packet.payload().len();
        let src = frame
            .get(6..12)
            .and_then(|b| MacAddress::from_bytes(b).ok())
            .unwrap_or(MacAddress::ZERO);
        let Some(&token) = self.by_pppoe.get(&pppoe_key(interface, session_id)) else {
            self.padt_for_stale_session(now, interface, frame, stripped, session_id);
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        if session.mac != src {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
        let ppp_start = header_len + crate::wire::pppoe::HEADER_LEN;
        let ppp_end = ppp_start + ppp_len;
        let Stage::Up(forwarding) = &mut session.stage else {
            // Control path: the PPP link of a session being set up.
            let Some(ppp) = frame.get(ppp_start..ppp_end) else {
                return self.drop_frame(FastPathDrop::Malformed);
            };
            let Ok(ppp) = crate::wire::ppp::Frame::new_checked(ppp) else {
                return self.drop_frame(FastPathDrop::Malformed);
            };
            if let Some(link) = session.link.as_mut() {
                link.handle_frame(now, ppp.protocol(), ppp.payload());
            }
            self.drain_link(now, token);
            return Forward::Control;
        };
        if let Some(policer) = session.police_up.as_mut() {
            if !policer.admit(now, ppp_len) {
                return self.drop_frame(FastPathDrop::Policed);
            }
        }
        if self.config.tcp_mss != 0 {
            clamp_in_ppp(frame.get_mut(ppp_start..ppp_end), self.config.tcp_mss);
        }
        // FF 03 in front of the PPP protocol field, then the L2TP header.
        let Some(ac_start) = ppp_start.checked_sub(ADDRESS_CONTROL.len()) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        if let Some(ac) = frame.get_mut(ac_start..ppp_start) {
            ac.copy_from_slice(&ADDRESS_CONTROL);
        }
        let mut header = HeaderRepr::data(forwarding.peer_tunnel_id, forwarding.peer_session_id);
        if let Some(ns) = forwarding.next_ns.as_mut() {
            header.sequence = Some(Sequence { ns: *ns, nr: 0 });
            *ns = ns.wrapping_add(1);
        }
        let Ok(start) = header.emit_before(frame, ac_start, ppp_end - ac_start) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        session.up.packets += 1;
        session.up.bytes += ppp_len as u64;
        // Idle-Timeout (RFC 2865 §5.28) counts the subscriber's data, not
        // LCP echoes or NCP retransmissions: network-layer protocols are
        // 0x0001-0x3fff (RFC 1661 §2), so the first octet is below 0x40.
        if frame.get(ppp_start).is_some_and(|first| *first < 0x40) {
            session.last_activity = now;
        }
        self.totals.upstream.packets += 1;
        self.totals.upstream.bytes += ppp_len as u64;
        Forward::Datagram {
            to: forwarding.peer,
            range: start..ppp_end,
        }
    }

    /// Handles a UDP datagram from an LNS that sits at
    /// `buf[start..start + len]`, with at least [`DOWNSTREAM_HEADROOM`]
    /// bytes free before `start`. Control messages go to the L2TP endpoint
    /// ([`Forward::Control`]); data of a forwarding session is rewritten in
    /// place into an Ethernet + PPPoE frame: the caller sends `buf[range]`
    /// on the interface ([`Forward::Frame`]).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
    ) -> Forward {
        let Some(datagram) = start.checked_add(len).and_then(|end| buf.get(start..end)) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        if crate::l2tp::is_control(datagram) {
            self.endpoint.handle_datagram(now, from, datagram);
            self.drain_endpoint(now);
            return Forward::Control;
        }
        let Ok(packet) = L2tpPacket::new_checked(datagram) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let key = (packet.tunnel_id(), packet.session_id());
        let peer_sequences = packet.has_sequence();
        let payload_offset = start + packet.header_len();
        let mut ppp_len = packet.payload().len();
        let mut ppp_start = payload_offset;
        if packet.payload().starts_with(&ADDRESS_CONTROL) {
            ppp_start += ADDRESS_CONTROL.len();
            ppp_len -= ADDRESS_CONTROL.len();
        }
        let Some(&token) = self.by_l2tp.get(&key) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        if let Stage::Tunnelling(tunnelling) = &session.stage {
            // The LNS sends on a call only once it has our ICCN: data ahead
            // of the ICCN's acknowledgement confirms the call. The session
            // comes up (the subscriber's authentication answer is queued)
            // and this frame is queued behind that answer, in order.
            let Some((attempt, handle, _)) = &tunnelling.current else {
                return self.drop_frame(FastPathDrop::NotUp);
            };
            if *handle
                != (SessionHandle {
                    tunnel_id: key.0,
                    session_id: key.1,
                })
                || attempt.endpoint.ip() != from.ip()
            {
                return self.drop_frame(FastPathDrop::NotUp);
            }
            let handle = *handle;
            self.endpoint.confirm_session(now, handle);
            self.drain_endpoint(now);
            let up = self
                .sessions
                .get(&token)
                .is_some_and(|s| matches!(s.stage, Stage::Up(_)));
            if !up {
                return self.drop_frame(FastPathDrop::NotUp);
            }
            return match self.handle_datagram(now, from, buf, start, len) {
                Forward::Frame { interface, range } => {
                    if let Some(bytes) = buf.get(range) {
                        self.frames.push_back(OutFrame {
                            interface,
                            bytes: bytes.to_vec(),
                        });
                    }
                    Forward::Control
                }
                other => other,
            };
        }
        let Stage::Up(forwarding) = &mut session.stage else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        if forwarding.peer.ip() != from.ip() {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
        // RFC 2661 §5.4: "The LNS controls enabling and disabling of
        // sequence numbers by sending a data message with or without
        // sequence numbers present at any time during the life of a
        // session." Our data messages follow its lead.
        match (peer_sequences, forwarding.next_ns) {
            (true, None) => forwarding.next_ns = Some(0),
            (false, Some(_)) => forwarding.next_ns = None,
            _ => {}
        }
        if ppp_len == 0 {
            return self.drop_frame(FastPathDrop::Malformed);
        }
        if let Some(policer) = session.police_down.as_mut() {
            if !policer.admit(now, ppp_len) {
                return self.drop_frame(FastPathDrop::Policed);
            }
        }
        if self.config.tcp_mss != 0 {
            clamp_in_ppp(
                buf.get_mut(ppp_start..ppp_start + ppp_len),
                self.config.tcp_mss,
            );
        }
        let Some(&local_mac) = self.interface_macs.get(session.interface) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let ethernet = EthernetRepr {
            dst: session.mac,
            src: local_mac,
            vlans: session.vlans,
            ethertype: EtherType::PppoeSession,
        };
        let Ok(frame_start) = encapsulate_session_in_place(
            buf,
            ppp_start,
            ppp_len,
            &ethernet,
            session.pppoe_session_id,
        ) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        session.down.packets += 1;
        session.down.bytes += ppp_len as u64;
        self.totals.downstream.packets += 1;
        self.totals.downstream.bytes += ppp_len as u64;
        Forward::Frame {
            interface: session.interface,
            range: frame_start..ppp_start + ppp_len,
        }
    }

    /// The RADIUS decision for session `token`.
    pub fn auth_result(&mut self, now: Instant, token: u64, decision: Decision) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let Stage::Authenticating { since } = session.stage else {
            return;
        };
        self.events.push_back(LacEvent::Phase {
            phase: LacPhase::Radius,
            took: now.saturating_duration_since(since),
        });
        match decision {
            Decision::Reject(rejection) => {
                tracing::info!(
                    acct_session_id = %session.acct_session_id,
                    user = session.user_name.as_deref().unwrap_or(""),
                    cause = %rejection.cause,
                    "access rejected"
                );
                let message = rejection.reply_message;
                self.fail_setup(now, token, SetupFailure::RadiusReject, message);
            }
            Decision::Accept(attributes) => {
                let user = session.user_name.clone().unwrap_or_default();
                let (plan, group) = if attributes.tunnels.is_empty() {
                    match super::select::match_realm(&self.config.realms, &user) {
                        Some(realm) => {
                            let candidates = super::select::realm_candidates(realm);
                            (
                                self.selector.plan_endpoints(now, &candidates),
                                realm_group(realm),
                            )
                        }
                        None => (Err(SelectError::NoCandidate), Arc::from("none")),
                    }
                } else {
                    (
                        self.selector.plan(now, &attributes.tunnels),
                        Arc::from("radius"),
                    )
                };
                self.drain_selector();
                let Some(session) = self.sessions.get_mut(&token) else {
                    return;
                };
                session.accept = Some(attributes);
                session.lns_group = Some(group);
                match plan {
                    Ok(plan) if !plan.is_empty() => {
                        session.stage = Stage::Tunnelling(Box::new(Tunnelling {
                            plan,
                            next: 0,
                            current: None,
                            deadline: now + self.config.setup_deadline,
                            failed: 0,
                        }));
                        let deadline = now + self.config.setup_deadline;
                        self.arm(deadline, token, TimerKind::Deadline);
                        self.try_next_endpoint(now, token);
                    }
                    _ => {
                        tracing::warn!(
                            acct_session_id = %session.acct_session_id,
                            user = %user,
                            "no LNS for this user: RADIUS returned no usable tunnel and no realm rule matches"
                        );
                        self.events
                            .push_back(LacEvent::Selection(SelectionOutcome::NoCandidate));
                        self.fail_setup(
                            now,
                            token,
                            SetupFailure::NoCandidate,
                            Some("no tunnel for this user".into()),
                        );
                    }
                }
            }
        }
    }

    /// A Disconnect-Request or CoA-Request (RFC 5176) for the sessions its
    /// identification attributes select.
    pub fn dynauth(&mut self, now: Instant, request: &DynAuthRequest) -> DynAuthResult {
        let selector = &request.selector;
        if selector.is_empty() {
            return DynAuthResult::Nak(ErrorCause::MissingAttribute);
        }
        let matching: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(token, s)| {
                selector
                    .acct_session_id
                    .as_ref()
                    .is_none_or(|id| *id == s.acct_session_id)
                    && selector
                        .user_name
                        .as_ref()
                        .is_none_or(|u| Some(u) == s.user_name.as_ref())
                    // The LAC assigns no addresses: a request naming one
                    // selects nothing here.
                    && selector.framed_ip_address.is_none()
                    && selector.nas_port_id.as_ref().is_none_or(|p| {
                        *p == self
                            .config
                            .nas_port_id
                            .render_for(&self.aaa_session_info(**token).port)
                    })
            })
            .map(|(t, _)| *t)
            .collect();
        if matching.is_empty() {
            return DynAuthResult::Nak(ErrorCause::SessionContextNotFound);
        }
        match request.kind {
            DynAuthKind::Disconnect => {
                for token in matching {
                    self.end_session(now, token, SessionEnd::AdminDisconnect);
                }
            }
            DynAuthKind::Coa => {
                for token in matching {
                    self.apply_authorization(now, token, &request.changes, true);
                }
            }
        }
        DynAuthResult::Ack
    }

    /// Ends the session with this Acct-Session-Id (operator action).
    /// Returns whether it existed.
    pub fn disconnect(&mut self, now: Instant, acct_session_id: &str) -> bool {
        let Some(&token) = self.by_acct_id.get(acct_session_id) else {
            return false;
        };
        self.end_session(now, token, SessionEnd::AdminDisconnect);
        true
    }

    /// The access interface went down: every session on it ends
    /// (Lost-Carrier) without PADT, which could not be delivered.
    pub fn interface_down(&mut self, now: Instant, interface: usize) {
        let tokens: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.interface == interface)
            .map(|(t, _)| *t)
            .collect();
        for token in tokens {
            self.end_session(now, token, SessionEnd::LinkLost);
        }
        // Nothing queued for that interface can be delivered.
        self.frames.retain(|f| f.interface != interface);
    }

    /// Queues Accounting-On (`on`, at start) or Accounting-Off (after
    /// [`Self::shutdown`]), RFC 2866 §5.1: they tell the accounting server
    /// that every session this NAS had open has ended — the Stop records a
    /// crash could not send.
    pub fn account_nas(&mut self, on: bool) {
        let record = Self::nas_record(&self.acct_session_prefix, on);
        self.account(record);
    }

    /// The Accounting-On (`on`) or Accounting-Off record of a LAC whose
    /// Acct-Session-Ids start with `acct_session_prefix` (RFC 2866 §5.1).
    pub fn nas_record(acct_session_prefix: &str, on: bool) -> AccountingRecord {
        let status = if on {
            AcctStatusType::AccountingOn
        } else {
            AcctStatusType::AccountingOff
        };
        AccountingRecord::new(
            status,
            None,
            AaaSessionInfo {
                acct_session_id: format!("{acct_session_prefix}00000000"),
                ..AaaSessionInfo::default()
            },
        )
    }

    /// Ends every session (NAS-Reboot) and closes every tunnel.
    pub fn shutdown(&mut self, now: Instant) {
        let tokens: Vec<u64> = self.sessions.keys().copied().collect();
        for token in tokens {
            self.end_session(now, token, SessionEnd::NasShutdown);
        }
        let tunnels: Vec<u16> = self
            .endpoint
            .tunnels()
            .iter()
            .map(|t| t.tunnel_id)
            .collect();
        for tunnel in tunnels {
            self.endpoint.close_tunnel(
                now,
                tunnel,
                ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
            );
        }
        self.drain_endpoint(now);
    }

    /// When [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let discovery = self
            .discovery
            .iter()
            .filter_map(Discovery::poll_timeout)
            .min();
        [
            timers,
            discovery,
            self.endpoint.poll_timeout(),
            self.selector.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for interface in 0..self.discovery.len() {
            if let Some(d) = self.discovery.get_mut(interface) {
                if d.poll_timeout().is_some_and(|t| t <= now) {
                    d.handle_timeout(now);
                }
            }
            self.drain_discovery(now, interface);
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
            self.drain_endpoint(now);
        }
        while let Some(Reverse((at, token, kind))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.run_timer(now, token, kind);
        }
        // Denylistings that ran out (logged, counted).
        self.selector.expire(now);
        self.drain_selector();
    }

    // ------------------------------------------------------------------
    // Outputs
    // ------------------------------------------------------------------

    /// The next control frame for a subscriber: writes it into `buf`
    /// (at least [`crate::pppoe::MAX_FRAME_LEN`] bytes) and returns the
    /// interface and length.
    pub fn poll_frame(&mut self, buf: &mut [u8]) -> Option<(usize, usize)> {
        let frame = self.frames.pop_front()?;
        let len = frame.bytes.len().min(buf.len());
        buf.get_mut(..len)?.copy_from_slice(frame.bytes.get(..len)?);
        Some((frame.interface, len))
    }

    /// The next L2TP control datagram (written into `buf`).
    pub fn poll_datagram(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> Option<(SocketAddr, usize)> {
        let out = self.endpoint.poll_transmit(now, buf);
        // Transmitting may have produced events (e.g. a retransmission
        // count).
        self.drain_endpoint(now);
        out
    }

    /// The next command for the driver.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<LacEvent> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn arm(&mut self, at: Instant, token: u64, kind: TimerKind) {
        self.timers.push(Reverse((at, token, kind)));
    }

    fn run_timer(&mut self, now: Instant, token: u64, kind: TimerKind) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        match kind {
            TimerKind::Link => {
                if let Some(link) = session.link.as_mut() {
                    if link.poll_timeout().is_some_and(|t| t <= now) {
                        link.handle_timeout(now);
                    }
                }
                self.drain_link(now, token);
            }
            TimerKind::Deadline => {
                if let Stage::Tunnelling(t) = &session.stage {
                    if t.deadline <= now {
                        tracing::warn!(
                            acct_session_id = %session.acct_session_id,
                            "no LNS session within the set-up deadline"
                        );
                        self.events
                            .push_back(LacEvent::Selection(SelectionOutcome::Exhausted));
                        self.fail_setup(
                            now,
                            token,
                            SetupFailure::Deadline,
                            Some("tunnel set-up timed out".into()),
                        );
                    }
                }
            }
            TimerKind::SessionTimeout => {
                if session.session_timeout_at.is_some_and(|t| t <= now) {
                    self.end_session(now, token, SessionEnd::SessionTimeout);
                }
            }
            TimerKind::IdleCheck => {
                let Some(idle) = session.idle_timeout else {
                    return;
                };
                let expires = session.last_activity + idle;
                if expires <= now {
                    self.end_session(now, token, SessionEnd::IdleTimeout);
                } else {
                    self.arm(expires, token, TimerKind::IdleCheck);
                }
            }
            TimerKind::Interim => {
                let (Some(at), Some(interval)) = (session.next_interim, session.interim) else {
                    return;
                };
                if at > now || !matches!(session.stage, Stage::Up(_)) {
                    return;
                }
                let next = now + interval;
                session.next_interim = Some(next);
                let record = self.session_record(now, token, AcctStatusType::InterimUpdate);
                if let Some(record) = record {
                    self.account(record);
                }
                self.arm(next, token, TimerKind::Interim);
            }
        }
    }

    fn account(&mut self, record: AccountingRecord) {
        self.commands.push_back(Command::Account {
            group: self.config.acct_group.clone(),
            record: Box::new(record),
        });
    }

    fn drain_selector(&mut self) {
        while let Some(event) = self.selector.poll_event() {
            match &event {
                SelectEvent::Denylisted { endpoint, until } => {
                    tracing::warn!(lns = %endpoint, until = ?until, "LNS endpoint denylisted");
                }
                SelectEvent::Cleared { endpoint } => {
                    tracing::info!(lns = %endpoint, "LNS endpoint no longer denylisted");
                }
            }
            self.events.push_back(LacEvent::Select(event));
        }
    }

    fn drain_discovery(&mut self, now: Instant, interface: usize) {
        let Some(discovery) = self.discovery.get_mut(interface) else {
            return;
        };
        while let Some(tx) = discovery.poll_transmit(&mut self.scratch) {
            if let Some(bytes) = self.scratch.get(..tx.len) {
                self.frames.push_back(OutFrame {
                    interface,
                    bytes: bytes.to_vec(),
                });
            }
        }
        let mut events = Vec::new();
        while let Some(event) = discovery.poll_event() {
            events.push(event);
        }
        for event in events {
            match &event {
                PppoeEvent::SessionEstablished {
                    session_id,
                    mac,
                    vlans,
                    service_name,
                    max_payload,
                    circuit_id,
                    remote_id,
                    ..
                } => self.new_session(
                    now,
                    interface,
                    *session_id,
                    *mac,
                    *vlans,
                    service_name.clone(),
                    *max_payload,
                    circuit_id.clone(),
                    remote_id.clone(),
                ),
                PppoeEvent::SessionTerminated {
                    session_id,
                    by_peer: true,
                    ..
                } => {
                    if let Some(&token) = self.by_pppoe.get(&pppoe_key(interface, *session_id)) {
                        self.subscriber_left(now, token);
                    }
                }
                _ => {}
            }
            self.events.push_back(LacEvent::Pppoe(event));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_session(
        &mut self,
        now: Instant,
        interface: usize,
        pppoe_session_id: u16,
        mac: MacAddress,
        vlans: VlanStack,
        service_name: Vec<u8>,
        max_payload: u16,
        circuit_id: Option<Vec<u8>>,
        remote_id: Option<Vec<u8>>,
    ) {
        if let Some(&old) = self.by_pppoe.get(&pppoe_key(interface, pppoe_session_id)) {
            // A PADS for an id still in our table: the old one is stale.
            self.forget(old);
        }
        let token = self.next_token;
        self.next_token += 1;
        let mut config = self.config.link.clone();
        config.mru = config.mru.min(max_payload);
        config.lower_max_payload = max_payload;
        let mut link = Link::new(config, self.rng.random());
        link.open(now);
        let acct_session_id = format!("{}{:08X}", self.acct_session_prefix, self.next_acct_session);
        self.next_acct_session += 1;
        let session = Session {
            interface,
            mac,
            vlans,
            pppoe_session_id,
            service_name,
            circuit_id,
            remote_id,
            acct_session_id: acct_session_id.clone(),
            user_name: None,
            link: Some(Box::new(link)),
            auth_method: None,
            proxy: None,
            accept: None,
            stage: Stage::Negotiating,
            lns: None,
            lns_group: None,
            up_at: None,
            up: DirectionCounters::default(),
            down: DirectionCounters::default(),
            last_activity: now,
            session_timeout_at: None,
            idle_timeout: None,
            interim: None,
            next_interim: None,
            police_up: None,
            police_down: None,
        };
        self.sessions.insert(token, session);
        self.by_pppoe
            .insert(pppoe_key(interface, pppoe_session_id), token);
        self.by_acct_id.insert(acct_session_id, token);
        self.drain_link(now, token);
    }

    /// Sends what the link queued and handles its events.
    fn drain_link(&mut self, now: Instant, token: u64) {
        let mut events = Vec::new();
        {
            let Some(session) = self.sessions.get_mut(&token) else {
                return;
            };
            let to = SubscriberAddress::of(session, &self.interface_macs);
            let Some(link) = session.link.as_mut() else {
                return;
            };
            queue_link_frames(&mut self.frames, &mut self.scratch, link, &to, |_| true);
            while let Some(event) = link.poll_event() {
                events.push(event);
            }
            if let Some(at) = link.poll_timeout() {
                self.timers.push(Reverse((at, token, TimerKind::Link)));
            }
        }
        for event in events {
            match &event {
                LinkEvent::AuthRequested(request) => self.authenticate(now, token, request),
                LinkEvent::Down { reason } => {
                    self.link_down(now, token, *reason);
                }
                _ => {}
            }
            self.events.push_back(LacEvent::Ppp(event));
        }
    }

    fn authenticate(&mut self, now: Instant, token: u64, request: &PppAuthRequest) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if !matches!(session.stage, Stage::Negotiating) {
            // A retransmitted request while RADIUS or the LNS is busy.
            return;
        }
        let (user, method, credentials) = match request {
            PppAuthRequest::Pap { user, password } => (
                user,
                AuthMethod::Pap,
                Credentials::Pap {
                    password: password.expose().to_vec(),
                },
            ),
            PppAuthRequest::Chap {
                user,
                id,
                challenge,
                response,
            } => {
                let Ok(response) = <[u8; 16]>::try_from(response.as_slice()) else {
                    self.fail_setup(now, token, SetupFailure::Ppp, None);
                    return;
                };
                (
                    user,
                    AuthMethod::ChapMd5,
                    Credentials::Chap {
                        id: *id,
                        challenge: challenge.clone(),
                        response,
                    },
                )
            }
            PppAuthRequest::MsChapV2 {
                user,
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                flags,
            } => (
                user,
                AuthMethod::MsChapV2,
                Credentials::MsChapV2 {
                    id: *id,
                    authenticator_challenge: *authenticator_challenge,
                    peer_challenge: *peer_challenge,
                    nt_response: *nt_response,
                    flags: *flags,
                },
            ),
        };
        let user_name = String::from_utf8_lossy(user).into_owned();
        session.user_name = Some(user_name.clone());
        session.auth_method = Some(method);
        // The proxy AVPs as they stand now: LCP is Opened and the
        // credentials are recorded. A peer that renegotiates LCP while
        // RADIUS or the LNS is busy must not empty them.
        session.proxy = session
            .link
            .as_ref()
            .and_then(|l| l.pending_negotiation_record())
            .map(proxy_info);
        session.stage = Stage::Authenticating { since: now };
        let info = self.aaa_session_info(token);
        self.commands.push_back(Command::Authenticate {
            token,
            group: self.config.auth_group.clone(),
            request: Box::new(AuthRequest {
                user_name,
                credentials,
                session: info,
            }),
        });
    }

    fn aaa_session_info(&self, token: u64) -> AaaSessionInfo {
        let Some(session) = self.sessions.get(&token) else {
            return AaaSessionInfo::default();
        };
        let (svlan, cvlan) = match session.vlans.as_slice() {
            [outer, inner] => (Some(outer.vid), Some(inner.vid)),
            [only] => (None, Some(only.vid)),
            _ => (None, None),
        };
        let port_type = match session.vlans.len() {
            0 => NasPortType::PppoEoE,
            1 => NasPortType::PppoEoVlan,
            _ => NasPortType::PppoEoQinQ,
        };
        AaaSessionInfo {
            acct_session_id: session.acct_session_id.clone(),
            nas_port: Some(u32::from(session.pppoe_session_id)),
            nas_port_type: Some(port_type.into()),
            port: PortInfo {
                interface: self
                    .config
                    .interfaces
                    .get(session.interface)
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                svlan,
                cvlan,
                agent_circuit_id: session.circuit_id.clone(),
                agent_remote_id: session.remote_id.clone(),
                nas_port_id: self
                    .discovery
                    .get(session.interface)
                    .and_then(|d| d.vlan_rule(&session.vlans))
                    .and_then(|rule| rule.nas_port_id.clone()),
            },
            calling_mac: Some(session.mac.octets()),
            calling_station_id: None,
            called_station_id: (!session.service_name.is_empty())
                .then(|| String::from_utf8_lossy(&session.service_name).into_owned()),
        }
    }

    /// Places the call on the next endpoint of the plan.
    fn try_next_endpoint(&mut self, now: Instant, token: u64) {
        loop {
            let Some(session) = self.sessions.get_mut(&token) else {
                return;
            };
            let Stage::Tunnelling(tunnelling) = &mut session.stage else {
                return;
            };
            if tunnelling.deadline <= now {
                self.events
                    .push_back(LacEvent::Selection(SelectionOutcome::Exhausted));
                self.fail_setup(
                    now,
                    token,
                    SetupFailure::Deadline,
                    Some("tunnel set-up timed out".into()),
                );
                return;
            }
            let Some(attempt) = tunnelling.plan.get(tunnelling.next).cloned() else {
                self.events
                    .push_back(LacEvent::Selection(SelectionOutcome::Exhausted));
                self.fail_setup(
                    now,
                    token,
                    SetupFailure::TunnelFailed,
                    Some("no LNS available".into()),
                );
                return;
            };
            tunnelling.next += 1;
            let call = self.call_info(token);
            let Some(session) = self.sessions.get_mut(&token) else {
                return;
            };
            tracing::info!(
                acct_session_id = %session.acct_session_id,
                user = session.user_name.as_deref().unwrap_or(""),
                lns = %attempt.endpoint,
                preference = ?attempt.preference,
                denylisted = attempt.denylisted,
                "placing the call with the LNS"
            );
            let opened = self.endpoint.open_session(
                now,
                OpenSession {
                    peer: attempt.endpoint,
                    secret: attempt.secret.clone(),
                    assignment_id: attempt.assignment_id.clone(),
                    client_auth_id: attempt.client_auth_id.clone(),
                    call,
                    request_id: token,
                },
            );
            match opened {
                Ok(handle) => {
                    if let Some(session) = self.sessions.get_mut(&token) {
                        if let Stage::Tunnelling(t) = &mut session.stage {
                            t.current = Some((attempt.clone(), handle, now));
                        }
                        session.lns = Some(attempt.clone());
                    }
                    // Data of this call may come before the ICCN's
                    // acknowledgement (see handle_datagram).
                    self.by_l2tp
                        .insert((handle.tunnel_id, handle.session_id), token);
                    let record =
                        self.tunnels
                            .entry(handle.tunnel_id)
                            .or_insert_with(|| TunnelRecord {
                                peer: attempt.endpoint,
                                connection_id: String::new(),
                                assignment_id: attempt.assignment_id.clone(),
                                opened_at: None,
                            });
                    record.peer = attempt.endpoint;
                    self.drain_endpoint(now);
                    return;
                }
                Err(error) => {
                    tracing::warn!(lns = %attempt.endpoint, %error, "cannot place the call");
                    if let Some(Stage::Tunnelling(t)) =
                        self.sessions.get_mut(&token).map(|s| &mut s.stage)
                    {
                        t.failed += 1;
                    }
                }
            }
        }
    }

    fn call_info(&mut self, token: u64) -> CallInfo {
        let serial = self.next_call_serial;
        self.next_call_serial = self.next_call_serial.wrapping_add(1).max(1);
        let Some(session) = self.sessions.get(&token) else {
            return CallInfo::default();
        };
        let mac_text = session.mac.to_string().into_bytes();
        let calling_number = match self.config.calling_number {
            CallingNumber::Mac => mac_text,
            CallingNumber::AgentCircuitId => session.circuit_id.clone().unwrap_or(mac_text),
        };
        let rate = session
            .accept
            .as_ref()
            .map(|a| a.rate_limit)
            .unwrap_or_default();
        let clamp = |bps: Option<u64>| {
            bps.map_or(self.config.connect_speed, |b| {
                u32::try_from(b).unwrap_or(u32::MAX)
            })
        };
        let proxy = session.proxy.clone().unwrap_or_default();
        CallInfo {
            call_serial_number: serial,
            bearer_type: Some(Bearer::DIGITAL),
            physical_channel_id: None,
            calling_number: Some(calling_number),
            called_number: (!session.service_name.is_empty()).then(|| session.service_name.clone()),
            sub_address: None,
            tx_connect_speed: clamp(rate.down_bps),
            rx_connect_speed: Some(clamp(rate.up_bps)),
            framing_type: Framing::SYNC,
            private_group_id: None,
            sequencing_required: false,
            proxy,
        }
    }

    fn drain_endpoint(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match &event {
                L2tpEvent::TunnelUp {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    requested_at,
                    at,
                    ..
                } => {
                    self.events.push_back(LacEvent::Phase {
                        phase: LacPhase::Tunnel,
                        took: at.saturating_duration_since(*requested_at),
                    });
                    let record = self.tunnels.entry(*tunnel_id).or_insert(TunnelRecord {
                        peer: *peer,
                        connection_id: String::new(),
                        assignment_id: None,
                        opened_at: None,
                    });
                    record.connection_id = format!("{tunnel_id}/{peer_tunnel_id}");
                    record.opened_at = Some(*at);
                    tracing::info!(tunnel_id, peer_tunnel_id, lns = %peer, "tunnel up");
                    if self.config.tunnel_accounting {
                        let record =
                            self.tunnel_record(*tunnel_id, AcctStatusType::TunnelStart, None);
                        self.account(record);
                    }
                }
                L2tpEvent::TunnelDown {
                    tunnel_id,
                    was_established,
                    peer,
                    cause,
                    result,
                    ..
                } => {
                    tracing::info!(tunnel_id, lns = %peer, ?cause, ?result, "tunnel down");
                    if *was_established && self.config.tunnel_accounting {
                        let record =
                            self.tunnel_record(*tunnel_id, AcctStatusType::TunnelStop, None);
                        self.account(record);
                    }
                    if !*was_established && self.config.tunnel_accounting {
                        let record =
                            self.tunnel_record(*tunnel_id, AcctStatusType::TunnelReject, None);
                        self.account(record);
                    }
                    self.tunnels.remove(tunnel_id);
                }
                L2tpEvent::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    request_id,
                    call,
                    requested_at,
                    at,
                } => {
                    self.events.push_back(LacEvent::Phase {
                        phase: LacPhase::Session,
                        took: at.saturating_duration_since(*requested_at),
                    });
                    self.session_up(
                        now,
                        *request_id,
                        Forwarding {
                            peer: *peer,
                            handle: *handle,
                            peer_tunnel_id: *peer_tunnel_id,
                            peer_session_id: *peer_session_id,
                            next_ns: call.sequencing_required.then_some(0),
                            l2tp_closed: false,
                        },
                    );
                }
                L2tpEvent::SessionDown {
                    handle,
                    request_id,
                    cause,
                    result,
                    ..
                } => self.l2tp_session_down(now, *request_id, *handle, *cause, result.clone()),
                _ => {}
            }
            self.events.push_back(LacEvent::L2tp(event));
        }
    }

    /// ICCN sent: answer the subscriber, drop the link, forward.
    fn session_up(&mut self, now: Instant, token: u64, forwarding: Forwarding) {
        let Some(session) = self.sessions.get_mut(&token) else {
            // The subscriber left meanwhile: clear the call.
            self.endpoint.close_session(
                now,
                forwarding.handle,
                ResultCode::cdn(CdnResult::LossOfCarrier),
                None,
            );
            return;
        };
        let Stage::Tunnelling(tunnelling) = &session.stage else {
            return;
        };
        let outcome = if tunnelling.failed == 0 && tunnelling.next <= 1 {
            SelectionOutcome::FirstChoice
        } else {
            SelectionOutcome::Failover
        };
        let accept = session.accept.clone().unwrap_or_default();
        let authenticator_response = accept
            .ms_chap2_success
            .as_deref()
            .and_then(parse_ms_chap2_success);
        if let Some(link) = session.link.as_mut() {
            link.auth_complete(
                now,
                AuthDecision::Accept {
                    message: accept.reply_message.clone(),
                    mschapv2_authenticator_response: authenticator_response,
                },
            );
        }
        // Send only the authentication answer; the NCPs are the LNS's.
        if let Some(mut link) = session.link.take() {
            let to = SubscriberAddress::of(session, &self.interface_macs);
            queue_link_frames(&mut self.frames, &mut self.scratch, &mut link, &to, |p| {
                matches!(p, Protocol::Pap | Protocol::Chap)
            });
            while let Some(event) = link.poll_event() {
                if let LinkEvent::StepCompleted { .. } = event {
                    self.events.push_back(LacEvent::Ppp(event));
                }
            }
        }
        let peer = forwarding.peer;
        let handle = forwarding.handle;
        session.stage = Stage::Up(forwarding);
        session.up_at = Some(now);
        session.last_activity = now;
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            lns = %peer,
            tunnel_id = handle.tunnel_id,
            session_id = handle.session_id,
            "session up"
        );
        self.by_l2tp
            .insert((handle.tunnel_id, handle.session_id), token);
        self.selector.session_started(peer);
        self.drain_selector();
        self.events.push_back(LacEvent::Selection(outcome));
        self.apply_authorization(now, token, &accept, false);
        // From here on a session needs only what forwarding, accounting
        // and teardown read (DESIGN.md, memory budget): the proxy AVPs and
        // the rest of the Access-Accept served the set-up; Class is echoed
        // in every accounting record (RFC 2865 §5.25).
        if let Some(session) = self.sessions.get_mut(&token) {
            session.proxy = None;
            session.accept = Some(Box::new(AcceptAttributes {
                class: accept.class,
                ..AcceptAttributes::default()
            }));
        }
        if let Some(record) = self.session_record(now, token, AcctStatusType::Start) {
            self.account(record);
        }
        if self.config.tunnel_accounting {
            let record = self.tunnel_record(
                handle.tunnel_id,
                AcctStatusType::TunnelLinkStart,
                Some(token),
            );
            self.account(record);
        }
    }

    /// Session-Timeout, Idle-Timeout, interim interval and rate limits from
    /// an Access-Accept or a CoA-Request.
    fn apply_authorization(
        &mut self,
        now: Instant,
        token: u64,
        attributes: &AcceptAttributes,
        is_coa: bool,
    ) {
        let default_interim = self.config.interim_interval;
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let mut timers = Vec::new();
        if let Some(seconds) = attributes.session_timeout.filter(|s| *s > 0) {
            // RFC 2865 §5.27: the maximum number of seconds of service; a
            // CoA restarts the count from now.
            let base = if is_coa {
                now
            } else {
                session.up_at.unwrap_or(now)
            };
            let at = base + Duration::from_secs(u64::from(seconds));
            session.session_timeout_at = Some(at);
            timers.push((at, TimerKind::SessionTimeout));
        }
        if let Some(seconds) = attributes.idle_timeout.filter(|s| *s > 0) {
            let idle = Duration::from_secs(u64::from(seconds));
            session.idle_timeout = Some(idle);
            timers.push((now + idle, TimerKind::IdleCheck));
        }
        let interim = attributes
            .acct_interim_interval
            .map(|s| Duration::from_secs(u64::from(s.max(60))))
            .or_else(|| (!is_coa && !default_interim.is_zero()).then_some(default_interim));
        if let Some(interval) = interim {
            session.interim = Some(interval);
            let at = now + interval;
            session.next_interim = Some(at);
            timers.push((at, TimerKind::Interim));
        }
        apply_rate_limit(session, now, &attributes.rate_limit);
        for (at, kind) in timers {
            self.arm(at, token, kind);
        }
    }

    fn l2tp_session_down(
        &mut self,
        now: Instant,
        token: u64,
        handle: SessionHandle,
        cause: SessionDownCause,
        result: Option<ResultCode>,
    ) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        match &mut session.stage {
            Stage::Tunnelling(tunnelling) => {
                let Some((attempt, current, _)) = tunnelling.current.take() else {
                    return;
                };
                if current != handle {
                    tunnelling.current = Some((attempt, current, now));
                    return;
                }
                tunnelling.failed += 1;
                self.by_l2tp
                    .remove(&(current.tunnel_id, current.session_id));
                tracing::warn!(
                    acct_session_id = %session.acct_session_id,
                    lns = %attempt.endpoint,
                    ?cause,
                    ?result,
                    "LNS attempt failed; trying the next candidate"
                );
                session.lns = None;
                self.selector.report_failure(now, attempt.endpoint);
                self.drain_selector();
                self.try_next_endpoint(now, token);
            }
            Stage::Up(forwarding) if forwarding.handle == handle => {
                let end = match cause {
                    SessionDownCause::PeerCdn => SessionEnd::HostRequest,
                    SessionDownCause::LocalCdn => return,
                    _ => SessionEnd::TunnelLost,
                };
                // The L2TP side is gone already: no CDN, only the PADT.
                self.by_l2tp.remove(&(handle.tunnel_id, handle.session_id));
                if let Stage::Up(f) = &mut session.stage {
                    f.l2tp_closed = true;
                }
                self.end_session(now, token, end);
            }
            _ => {}
        }
    }

    /// The subscriber sent PADT.
    fn subscriber_left(&mut self, now: Instant, token: u64) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        if matches!(session.stage, Stage::Up(_)) {
            self.end_session(now, token, SessionEnd::SubscriberRequest);
        } else {
            self.abort_setup(now, token, SetupFailure::SubscriberLeft, false);
        }
    }

    /// The PPP link went down before hand-over.
    fn link_down(&mut self, now: Instant, token: u64, reason: DownReason) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            ?reason,
            "PPP link down before hand-over"
        );
        let failure = if reason == DownReason::AuthFailed {
            SetupFailure::RadiusReject
        } else {
            SetupFailure::Ppp
        };
        // fail_setup already counted auth rejections it caused.
        let counted = matches!(session.stage, Stage::Authenticating { .. })
            && failure == SetupFailure::RadiusReject;
        self.abort_setup_inner(now, token, failure, true, !counted);
    }

    /// Refuses the subscriber: authentication failure to the peer, then
    /// LCP Terminate and PADT follow from the link going down.
    fn fail_setup(
        &mut self,
        now: Instant,
        token: u64,
        failure: SetupFailure,
        message: Option<String>,
    ) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        self.events.push_back(LacEvent::SetupFailed(failure));
        if let Stage::Tunnelling(t) = &mut session.stage {
            if let Some((_, handle, _)) = t.current.take() {
                self.by_l2tp.remove(&(handle.tunnel_id, handle.session_id));
                self.endpoint.close_session(
                    now,
                    handle,
                    ResultCode::cdn(CdnResult::Administrative),
                    None,
                );
            }
        }
        // Back to Authenticating so the link's Down is not counted twice.
        session.stage = Stage::Authenticating { since: now };
        if let Some(link) = session.link.as_mut() {
            link.auth_complete(now, AuthDecision::Reject { message });
        }
        self.drain_link(now, token);
        self.drain_endpoint(now);
    }

    fn abort_setup(&mut self, now: Instant, token: u64, failure: SetupFailure, send_padt: bool) {
        self.abort_setup_inner(now, token, failure, send_padt, true);
    }

    fn abort_setup_inner(
        &mut self,
        now: Instant,
        token: u64,
        failure: SetupFailure,
        send_padt: bool,
        count: bool,
    ) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if count {
            self.events.push_back(LacEvent::SetupFailed(failure));
        }
        if let Stage::Tunnelling(t) = &mut session.stage {
            if let Some((_, handle, _)) = t.current.take() {
                self.by_l2tp.remove(&(handle.tunnel_id, handle.session_id));
                self.endpoint.close_session(
                    now,
                    handle,
                    ResultCode::cdn(CdnResult::LossOfCarrier),
                    None,
                );
            }
        }
        if let Some(link) = session.link.as_mut() {
            // Let an LCP Terminate-Request out when the link still can.
            if link.phase() != crate::ppp::link::Phase::Dead && send_padt {
                link.close(now, DownReason::AdminClose);
                if let Some(link) = session.link.take() {
                    let mut link = link;
                    self.flush_link_frames(&mut link, token);
                }
            }
        }
        if send_padt {
            self.send_padt(token, None);
        }
        self.forget(token);
        self.drain_endpoint(now);
    }

    fn flush_link_frames(&mut self, link: &mut Link, token: u64) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        let to = SubscriberAddress::of(session, &self.interface_macs);
        queue_link_frames(&mut self.frames, &mut self.scratch, link, &to, |_| true);
    }

    fn send_padt(&mut self, token: u64, reason: Option<&str>) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        let interface = session.interface;
        let pppoe_session_id = session.pppoe_session_id;
        if let Some(discovery) = self.discovery.get_mut(interface) {
            let _ = discovery.terminate(pppoe_session_id, reason);
            while let Some(tx) = discovery.poll_transmit(&mut self.scratch) {
                if let Some(bytes) = self.scratch.get(..tx.len) {
                    self.frames.push_back(OutFrame {
                        interface,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            while let Some(event) = discovery.poll_event() {
                self.events.push_back(LacEvent::Pppoe(event));
            }
        }
    }

    /// Ends a session in any state, with everything its end requires.
    fn end_session(&mut self, now: Instant, token: u64, end: SessionEnd) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        let Stage::Up(forwarding) = &session.stage else {
            let failure = match end {
                SessionEnd::SubscriberRequest => SetupFailure::SubscriberLeft,
                _ => SetupFailure::Administrative,
            };
            let padt = !matches!(end, SessionEnd::LinkLost | SessionEnd::SubscriberRequest);
            self.abort_setup(now, token, failure, padt);
            return;
        };
        let handle = forwarding.handle;
        let peer = forwarding.peer;
        let l2tp_open = !forwarding.l2tp_closed;
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            lns = %peer,
            cause = ?end.terminate_cause(),
            up = session.up.packets,
            down = session.down.packets,
            "session down"
        );
        // CDN towards the LNS unless the L2TP side ended it.
        if l2tp_open {
            let result = match end {
                SessionEnd::SubscriberRequest | SessionEnd::LinkLost => {
                    ResultCode::cdn(CdnResult::LossOfCarrier)
                }
                _ => ResultCode::cdn(CdnResult::Administrative),
            };
            self.endpoint.close_session(now, handle, result, None);
            self.by_l2tp.remove(&(handle.tunnel_id, handle.session_id));
        }
        // PADT towards the subscriber unless it sent one or the port is gone.
        if !matches!(end, SessionEnd::SubscriberRequest | SessionEnd::LinkLost) {
            let reason = match end {
                SessionEnd::AdminDisconnect => "disconnected by the operator",
                SessionEnd::SessionTimeout => "session timeout",
                SessionEnd::IdleTimeout => "idle timeout",
                SessionEnd::NasShutdown => "access server shutting down",
                SessionEnd::HostRequest => "the LNS ended the session",
                SessionEnd::TunnelLost => "tunnel to the LNS lost",
                _ => "session ended",
            };
            self.send_padt(token, Some(reason));
        } else if let Some(discovery) = self.discovery.get_mut(session.interface) {
            // Forget the id without a PADT (the peer's PADT was consumed).
            let _ = discovery.terminate(session.pppoe_session_id, None);
            while discovery.poll_transmit(&mut self.scratch).is_some() {}
            while let Some(event) = discovery.poll_event() {
                self.events.push_back(LacEvent::Pppoe(event));
            }
        }
        if let Some(mut record) = self.session_record(now, token, AcctStatusType::Stop) {
            record.terminate_cause = Some(end.terminate_cause().into());
            self.account(record);
        }
        if self.config.tunnel_accounting {
            let record = self.tunnel_record(
                handle.tunnel_id,
                AcctStatusType::TunnelLinkStop,
                Some(token),
            );
            self.account(record);
        }
        self.selector.session_ended(peer);
        self.drain_selector();
        self.events.push_back(LacEvent::SessionEnded { end });
        self.forget(token);
        self.drain_endpoint(now);
    }

    /// Removes a session from every table.
    fn forget(&mut self, token: u64) {
        if let Some(session) = self.sessions.remove(&token) {
            if self
                .by_pppoe
                .get(&pppoe_key(session.interface, session.pppoe_session_id))
                == Some(&token)
            {
                self.by_pppoe
                    .remove(&pppoe_key(session.interface, session.pppoe_session_id));
            }
            self.by_acct_id.remove(&session.acct_session_id);
            let handle = match &session.stage {
                Stage::Up(f) => Some(f.handle),
                Stage::Tunnelling(t) => t.current.as_ref().map(|(_, h, _)| *h),
                _ => None,
            };
            if let Some(h) = handle {
                if self.by_l2tp.get(&(h.tunnel_id, h.session_id)) == Some(&token) {
                    self.by_l2tp.remove(&(h.tunnel_id, h.session_id));
                }
            }
        }
    }

    /// An accounting record of `status` for a session.
    fn session_record(
        &self,
        now: Instant,
        token: u64,
        status: AcctStatusType,
    ) -> Option<AccountingRecord> {
        let session = self.sessions.get(&token)?;
        let mut record = AccountingRecord::new(
            status,
            session.user_name.clone(),
            self.aaa_session_info(token),
        );
        if let Some(accept) = &session.accept {
            record.class.clone_from(&accept.class);
        }
        if status != AcctStatusType::Start {
            record.counters = Some(session.counters());
            record.session_time = session.up_at.map(|t| {
                u32::try_from(now.saturating_duration_since(t).as_secs()).unwrap_or(u32::MAX)
            });
        }
        record.tunnel = self.tunnel_attributes(session);
        Some(record)
    }

    fn tunnel_attributes(&self, session: &Session) -> Option<TunnelAccounting> {
        let Stage::Up(f) = &session.stage else {
            return None;
        };
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let attempt = session.lns.as_ref();
        Some(TunnelAccounting {
            client_endpoint: self.config.local_address,
            server_endpoint: Some(f.peer.ip()),
            assignment_id: attempt.and_then(|a| text(&a.assignment_id)),
            connection_id: Some(format!("{}/{}", f.handle.tunnel_id, f.handle.session_id)),
            client_auth_id: attempt.and_then(|a| text(&a.client_auth_id)),
            server_auth_id: None,
            packets_lost: None,
        })
    }

    /// An RFC 2867 tunnel record (Tunnel-Start/Stop/Reject, Link-Start/Stop).
    fn tunnel_record(
        &self,
        tunnel_id: u16,
        status: AcctStatusType,
        token: Option<u64>,
    ) -> AccountingRecord {
        let tunnel = self.tunnels.get(&tunnel_id);
        let session = token.and_then(|t| self.sessions.get(&t));
        let info = token
            .map(|t| self.aaa_session_info(t))
            .unwrap_or_else(|| AaaSessionInfo {
                acct_session_id: format!("{}T{tunnel_id:04X}", self.acct_session_prefix),
                ..AaaSessionInfo::default()
            });
        let mut record =
            AccountingRecord::new(status, session.and_then(|s| s.user_name.clone()), info);
        let connection_id = match session.map(|s| &s.stage) {
            Some(Stage::Up(f)) => format!("{tunnel_id}/{}", f.handle.session_id),
            _ => tunnel.map_or_else(|| tunnel_id.to_string(), |t| t.connection_id.clone()),
        };
        record.tunnel = Some(TunnelAccounting {
            client_endpoint: self.config.local_address,
            server_endpoint: tunnel.map(|t| t.peer.ip()),
            assignment_id: tunnel
                .and_then(|t| t.assignment_id.as_deref())
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            connection_id: Some(connection_id),
            client_auth_id: None,
            server_auth_id: None,
            packets_lost: None,
        });
        record
    }
}

/// Policers from RADIUS rate limits (absent limits remove the policer).
fn apply_rate_limit(session: &mut Session, now: Instant, rate: &RateLimit) {
    let set = |slot: &mut Option<Policer>, bps: Option<u64>, burst: Option<u32>| match bps {
        Some(bps) => {
            let burst = burst.map(u64::from);
            match slot {
                Some(p) => p.set_rate(now, bps, burst),
                None => *slot = Some(Policer::new(now, bps, burst)),
            }
        }
        None => *slot = None,
    };
    if rate.is_set() {
        set(&mut session.police_up, rate.up_bps, rate.burst_up_bytes);
        set(
            &mut session.police_down,
            rate.down_bps,
            rate.burst_down_bytes,
        );
    }
}

/// Clamps TCP MSS in a PPP frame (protocol field first) carrying IPv4 or
/// IPv6.
fn clamp_in_ppp(ppp: Option<&mut [u8]>, mss: u16) {
    let Some(ppp) = ppp else {
        return;
    };
    // IPv4 (0x0021) or IPv6 (0x0057), protocol field compressed or not.
    if let [0x00, 0x21 | 0x57, ip @ ..] | [0x21 | 0x57, ip @ ..] = ppp {
        let _ = clamp_mss(ip, mss);
    }
}

/// Where a subscriber's control frames go.
struct SubscriberAddress {
    interface: usize,
    ethernet: EthernetRepr,
    pppoe_session_id: u16,
}

impl SubscriberAddress {
    /// The subscriber of `session`, reached from its interface's MAC
    /// (`interface_macs`, by interface index).
    fn of(session: &Session, interface_macs: &[MacAddress]) -> Self {
        let src = interface_macs
            .get(session.interface)
            .copied()
            .unwrap_or(MacAddress::ZERO);
        Self {
            interface: session.interface,
            ethernet: EthernetRepr {
                dst: session.mac,
                src,
                vlans: session.vlans,
                ethertype: EtherType::PppoeSession,
            },
            pppoe_session_id: session.pppoe_session_id,
        }
    }
}

/// Queues, as PPPoE session frames to `to`, what `link` has to send and
/// `keep` lets through.
fn queue_link_frames(
    frames: &mut VecDeque<OutFrame>,
    scratch: &mut [u8],
    link: &mut Link,
    to: &SubscriberAddress,
    keep: impl Fn(Protocol) -> bool,
) {
    while let Some((protocol, len)) = scratch
        .get_mut(CONTROL_HEADROOM..)
        .and_then(|room| link.poll_transmit(room))
    {
        if !keep(protocol) {
            continue;
        }
        if let Some(bytes) =
            encapsulate_control(scratch, protocol, len, &to.ethernet, to.pppoe_session_id)
        {
            frames.push_back(OutFrame {
                interface: to.interface,
                bytes,
            });
        }
    }
}

/// Wraps the PPP information field at `buf[CONTROL_HEADROOM..][..len]`
/// into Ethernet + PPPoE (no Address/Control over PPPoE, RFC 2516 §7).
fn encapsulate_control(
    buf: &mut [u8],
    protocol: Protocol,
    len: usize,
    ethernet: &EthernetRepr,
    session_id: u16,
) -> Option<Vec<u8>> {
    let ppp_start = FrameHeader::new(protocol)
        .emit_in_headroom(buf, CONTROL_HEADROOM)
        .ok()?;
    let ppp_len = CONTROL_HEADROOM + len - ppp_start;
    let start = encapsulate_session_in_place(buf, ppp_start, ppp_len, ethernet, session_id).ok()?;
    buf.get(start..ppp_start + ppp_len).map(<[u8]>::to_vec)
}

/// RFC 2661 §4.4.5 proxy AVPs from the link's negotiation record.
fn proxy_info(record: &NegotiationRecord) -> ProxyInfo {
    let mut proxy = ProxyInfo {
        initial_received_lcp_confreq: record.initial_received_lcp_request.clone(),
        last_sent_lcp_confreq: record.last_sent_lcp_request.clone(),
        last_received_lcp_confreq: record.last_received_lcp_request.clone(),
        ..ProxyInfo::default()
    };
    if let Some(auth) = &record.auth {
        // MS-CHAPv2 has no Proxy Authen Type in RFC 2661; the LNS then
        // authenticates the subscriber itself.
        let kind = match auth.method {
            AuthMethod::Pap => Some(ProxyAuthenType::Pap),
            AuthMethod::ChapMd5 => Some(ProxyAuthenType::Chap),
            _ => None,
        };
        if let Some(kind) = kind {
            proxy.authen_type = Some(kind);
            proxy.authen_name = Some(auth.name.clone());
            proxy.authen_id = Some(auth.id);
            proxy.authen_response = Some(auth.response.clone());
            if auth.method == AuthMethod::ChapMd5 {
                proxy.authen_challenge = Some(auth.challenge.clone());
            }
        }
    }
    proxy
}

/// The 20-octet authenticator response from MS-CHAP2-Success (RFC 2548
/// §2.3.3: Ident, then `S=` and 40 hexadecimal digits).
fn parse_ms_chap2_success(value: &[u8]) -> Option<[u8; 20]> {
    let text = value.get(1..)?.strip_prefix(b"S=")?;
    let hex_digits = text.get(..40)?;
    let mut out = [0u8; 20];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests;
