//! The node core (DESIGN.md, "Three roles, one session model"): the
//! sans-IO core of one worker. It owns everything a session touches on its
//! way through the node, whatever its role:
//!
//! - the shared L2TP endpoint (RFC 2661 §5–§7): one UDP socket's state and
//!   one Tunnel-ID space for the tunnels we open and those we accept;
//! - the PPPoE discovery servers (RFC 2516 §5), one per access interface;
//! - the negotiating PPP links (RFC 1661 §3, RFC 1334, RFC 1994,
//!   RFC 2759), dropped once a session is handed over;
//! - the session records, each with its two legs ([`legs`]);
//! - the fast-path table ([`crate::dataplane::fastpath`]);
//! - the timers, and the accounting records it queues
//!   ([`crate::aaa::accounting`]).
//!
//! What a session's second leg is, a role's policy decides; the policies
//! own no sockets and no maps. A PPPoE subscriber is the LAC's
//! ([`crate::lac::policy`]): RADIUS (RFC 2865, RFC 2868 tunnel attributes)
//! or a realm rule names the LNSs, and the core places the outgoing call
//! (RFC 2661 §7.4.1 NAS-initiated, with the §4.4.5 proxy AVPs), fails over
//! between them, and forwards.
//!
//! # Flow of one subscriber
//!
//! 1. PADI … PADS on an access interface ([`Discovery`]); a [`Link`] in the
//!    server role opens LCP with the PPPoE payload as MRU (RFC 4638).
//! 2. The peer's credentials arrive ([`LinkEvent::AuthRequested`]): the core
//!    asks its driver for a RADIUS decision ([`Command::Authenticate`]).
//! 3. Accept: the RFC 2868 tunnel groups (or, without any, a
//!    `[[lac.realm]]` rule) are ordered by the LAC policy's selector; the first endpoint
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
//! 5. Forwarding ([`NodeCore::handle_frame`] upstream,
//!    [`NodeCore::handle_datagram`] downstream) through the fast path: one
//!    hash lookup per frame and a header rewrite in place, PPPoE session ⇄
//!    L2TP data message with
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
//! Time is passed in; the driver ([`crate::node::worker`]) owns the sockets, the
//! RADIUS handle and the clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

use self::incoming::IncomingCall;
use self::legs::{FirstLeg, L2tpLeg, LocalLeg, PppoeLeg, SecondLeg};
use crate::aaa::accounting::CallDirection;
use crate::aaa::attributes::{AcceptAttributes, Decision, RateLimit};
use crate::aaa::dynauth::{DynAuthKind, DynAuthRequest, DynAuthResult, ErrorCause};
use crate::aaa::request::{
    AccountingRecord, AcctStatusType, AuthRequest, Counters, Credentials, NasPortIdTemplate,
    NasPortType, PortInfo, SessionEnd, SessionInfo as AaaSessionInfo,
};
use crate::dataplane::fastpath::{
    ADDRESS_CONTROL, Delivery, Entry as FastPathEntry, FastPath, LegKey, LegRef, Side, Slot, Source,
};
use crate::dataplane::police::Policer;
use crate::l2tp::{
    CallInfo, Endpoint, EndpointConfig, Event as L2tpEvent, OpenError, OpenSession, ProxyInfo,
    SessionDownCause, SessionHandle, TunnelState,
};
use crate::lac::policy::{LacPolicy, LacPolicyConfig, SecondLeg as LacChoice, Subscriber};
use crate::lac::select::{Attempt, SelectEvent};
use crate::lns::policy::LnsPolicy;
use crate::ppp::auth::{AuthDecision, AuthMethod, AuthRequest as PppAuthRequest};
use crate::ppp::link::{DownReason, Link, LinkConfig, LinkEvent, NegotiationRecord};
use crate::pppoe::server::{Discovery, DiscoveryConfig, Event as PppoeEvent};
use crate::shard::Shard;
use crate::wire::ethernet::{
    EtherType, EthernetRepr, Frame as EthernetFrame, MacAddress, VlanStack,
};
use crate::wire::l2tp::{
    CdnResult, Packet as L2tpPacket, ProxyAuthenType, ResultCode, StopCcnResult,
};
use crate::wire::ppp::{FrameHeader, Protocol};
use crate::wire::pppoe::{SessionPacket, encapsulate_session_in_place};

pub use crate::observe::lac::{
    DirectionCounters, ForwardingTotals, LacEvent, LacPhase, SelectionOutcome, SessionState,
    SetupFailure,
};

/// Room the core needs in front of a downstream datagram to turn it into
/// an Ethernet + PPPoE frame in place: Ethernet with two VLAN tags (22),
/// PPPoE (6), less the L2TP header and `FF 03` the frame loses.
pub const DOWNSTREAM_HEADROOM: usize = 32;

/// Size of a scratch buffer for one control frame to a subscriber.
const CONTROL_FRAME_LEN: usize = crate::pppoe::MAX_FRAME_LEN;

/// PADTs per second, at most, for session frames of unknown sessions.
const STALE_PADT_PER_SECOND: u32 = 100;

/// Headroom in front of PPP control frames the link writes.
const CONTROL_HEADROOM: usize = 32;

/// A selected endpoint being tried.
#[derive(Debug)]
struct Tunnelling {
    plan: Vec<Attempt>,
    next: usize,
    current: Option<(Attempt, SessionHandle, Instant)>,
    deadline: Instant,
    failed: u32,
    /// One attempt's wait for its tunnel.
    attempt_timeout: Duration,
    /// Attempts skipped because the LNS group's call queue was full.
    busy: u32,
}

#[derive(Debug)]
enum Stage {
    Negotiating,
    Authenticating {
        since: Instant,
    },
    Tunnelling(Box<Tunnelling>),
    /// PPP terminated here (LNS): authenticated, the address assigned,
    /// the NCPs negotiating.
    Addressing {
        since: Instant,
        local: Box<LocalLeg>,
    },
    /// Up: its second leg (the session's fast-path entry holds both legs'
    /// addressing, the counters, policers and the idle clock).
    Up(SecondLeg),
}

#[derive(Debug)]
struct Session {
    /// Where the subscriber arrived.
    first: FirstLeg,
    /// The session's fast-path entry: from hand-over for a relayed
    /// session, from the incoming call's ICCN for PPP terminated here.
    slot: Option<Slot>,
    /// LNS: the `[[lns.peer]]` rule that admitted the call's tunnel, and
    /// the call's ICRQ/ICCN parameters (Calling Number, proxy AVPs) until
    /// set-up is done.
    incoming: Option<Box<IncomingCall>>,
    service_name: Vec<u8>,
    circuit_id: Option<Vec<u8>>,
    remote_id: Option<Vec<u8>>,
    acct_session_id: String,
    user_name: Option<String>,
    /// The PPP link while negotiating; dropped at hand-over (LAC), kept
    /// for PPP terminated here.
    link: Option<Box<Link>>,
    /// PPP terminated here, IPv6CP up: the subscriber's RAs and DHCPv6.
    ipv6: Option<Box<crate::lns::ipv6::Ipv6Services>>,
    /// Credentials sent to RADIUS (kept for the proxy AVPs).
    auth_method: Option<AuthMethod>,
    /// RADIUS authorized the subscriber's domain, not the subscriber: the
    /// LNS authenticates and answers ([`Authorize::Domain`]).
    domain_authorized: bool,
    /// The subscriber's last PAP Authenticate-Request or CHAP Response
    /// (PPP Protocol field and information), replayed in band to the LNS
    /// of a domain-authorized session at hand-over.
    auth_frame: Option<Vec<u8>>,
    /// RFC 2661 §4.4.5 proxy AVPs, taken when the credentials arrived.
    proxy: Option<ProxyInfo>,
    accept: Option<Box<AcceptAttributes>>,
    stage: Stage,
    lns: Option<Attempt>,
    /// Where the LNS plan came from: `radius` or the realm rule
    /// (`realm:@domain`, `realm:prefix`).
    lns_group: Option<Arc<str>>,
    up_at: Option<Instant>,
    session_timeout_at: Option<Instant>,
    idle_timeout: Option<Duration>,
    interim: Option<Duration>,
    next_interim: Option<Instant>,
}

impl Session {
    fn state(&self) -> SessionState {
        match self.stage {
            Stage::Negotiating | Stage::Addressing { .. } => SessionState::Negotiating,
            Stage::Authenticating { .. } => SessionState::Authenticating,
            Stage::Tunnelling(_) => SessionState::Tunnelling,
            Stage::Up(_) => SessionState::Up,
        }
    }

    /// The session's fast-path entry.
    const fn slot(&self) -> Option<Slot> {
        self.slot
    }

    /// The outgoing call of a session that is up.
    const fn call(&self) -> Option<&L2tpLeg> {
        match &self.stage {
            Stage::Up(second) => second.call(),
            _ => None,
        }
    }

    /// The PPPoE leg of a subscriber that arrived by PPPoE.
    const fn pppoe(&self) -> Option<&PppoeLeg> {
        self.first.pppoe()
    }
}

/// What a timer entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Link,
    Deadline,
    /// An LNS attempt's timeout (its plan's `attempt_timeout`).
    Attempt,
    SessionTimeout,
    IdleCheck,
    Interim,
    /// The session's IPv6 services (RAs, DHCPv6 answers).
    Ipv6,
}

/// Tunnel bookkeeping for RFC 2867 records.
#[derive(Debug, Clone)]
struct TunnelRecord {
    peer: SocketAddr,
    connection_id: String,
    assignment_id: Option<Vec<u8>>,
    opened_at: Option<Instant>,
    /// Who opened it: we (a LAC's tunnel) or the peer (an LNS's).
    direction: CallDirection,
    /// The peer's Host Name (RFC 2661 §4.4.3).
    peer_host_name: Vec<u8>,
}

/// Outgoing frame to a subscriber (control path).
#[derive(Debug)]
struct OutFrame {
    interface: usize,
    bytes: Vec<u8>,
}

/// Returns a session's key in the PPPoE index.
const fn pppoe_key(interface: usize, session_id: u16) -> (usize, u16) {
    (interface, session_id)
}

/// A PPPoE leg's key in the fast path.
fn pppoe_leg_key(interface: usize, session_id: u16) -> LegKey {
    LegKey::Pppoe {
        interface: u32::try_from(interface).unwrap_or(u32::MAX),
        session_id,
    }
}

/// The LAC core: every access interface, session and tunnel of one LAC.
#[derive(Debug)]
pub struct NodeCore {
    config: NodeCoreConfig,
    discovery: Vec<Discovery>,
    interface_macs: Vec<MacAddress>,
    endpoint: Endpoint,
    /// The LAC role: what PPPoE subscribers' second leg is.
    lac: LacPolicy,
    rng: StdRng,
    sessions: HashMap<u64, Session>,
    /// Sessions being set up, by PPPoE leg (a session that is up is found
    /// through the fast path).
    by_pppoe: HashMap<(usize, u16), u64>,
    /// Calls being placed, by our (Tunnel ID, Session ID).
    calls: HashMap<(u16, u16), u64>,
    /// Every session that is up: leg key → both legs, counters, policers.
    fastpath: FastPath,
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
    /// L2TP data messages the core itself sends (a domain-authorized
    /// subscriber's authentication request, replayed to its LNS).
    data_out: VecDeque<(SocketAddr, Vec<u8>)>,
    scratch: Vec<u8>,
    /// Rate limit of PADTs for unknown sessions: window start, count.
    stale_padts: (Instant, u32),
    /// The LNS role's policy (`None`: incoming calls are refused).
    lns: Option<LnsPolicy>,
    /// Incoming calls admitted (ICRP sent), not up yet: their rule.
    admitted: HashMap<SessionHandle, Option<usize>>,
    /// IP to TUN from subscribers whose PPP ends here.
    to_tun: DirectionCounters,
    /// IP from TUN to them.
    from_tun: DirectionCounters,
    /// IP from them with a source address not theirs.
    spoofed: u64,
    /// IP from TUN for no session.
    no_route: u64,
    /// [`Self::drain_endpoint`]'s loop is running: a handler that gives
    /// the endpoint more input leaves the events it causes to that loop
    /// instead of starting another (no recursion, however many calls a
    /// tunnel takes down with it).
    draining_endpoint: bool,
}

impl NodeCore {
    /// A core for `config`, whose interfaces have the MACs
    /// `interface_macs` (same order). Acct-Session-Ids are
    /// `acct_session_prefix` followed by a counter, so the driver makes
    /// them unique across restarts.
    pub fn new(
        config: NodeCoreConfig,
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
        let lac = LacPolicy::new(config.lac.clone(), rng.random());
        let lns = config.lns.clone().map(LnsPolicy::new);
        Self {
            lns,
            admitted: HashMap::new(),
            to_tun: DirectionCounters::default(),
            from_tun: DirectionCounters::default(),
            spoofed: 0,
            no_route: 0,
            config,
            discovery,
            interface_macs,
            endpoint,
            lac,
            rng,
            sessions: HashMap::new(),
            by_pppoe: HashMap::new(),
            calls: HashMap::new(),
            fastpath: FastPath::new(),
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
            data_out: VecDeque::new(),
            scratch: vec![0; CONTROL_FRAME_LEN],
            stale_padts: (now, 0),
            draining_endpoint: false,
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &NodeCoreConfig {
        &self.config
    }

    /// The L2TP endpoint (tunnels for the API).
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Fast-path totals.
    pub const fn totals(&self) -> ForwardingTotals {
        self.fastpath.totals()
    }

    /// The counters of session `session` ([`Side::First`]: from the
    /// subscriber).
    fn direction_counters(&self, session: &Session) -> [DirectionCounters; 2] {
        session
            .slot()
            .and_then(|slot| self.fastpath.entry(slot))
            .map_or([DirectionCounters::default(); 2], |e| {
                [e.arrived(Side::First), e.arrived(Side::Second)]
            })
    }

    /// A session's counters for accounting (RFC 2866 §5.3–§5.8).
    fn counters(&self, session: &Session) -> Counters {
        let [up, down] = self.direction_counters(session);
        Counters {
            input_octets: up.bytes,
            output_octets: down.bytes,
            input_packets: u32::try_from(up.packets).unwrap_or(u32::MAX),
            output_packets: u32::try_from(down.packets).unwrap_or(u32::MAX),
        }
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
            if let Some(call) = session.call() {
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
                *out.entry((group, call.peer)).or_insert(0) += 1;
            }
        }
        out
    }

    /// Denylisted endpoints and how long they stay so.
    pub fn denylist(&self, now: Instant) -> Vec<(SocketAddr, Duration)> {
        self.lac
            .denylisted(now)
            .into_iter()
            .map(|(endpoint, until)| (endpoint, until.saturating_duration_since(now)))
            .collect()
    }

    /// Another worker denylisted `endpoint` until `until` (its
    /// [`LacEvent::Select`]): this core avoids it too, so a dead LNS costs
    /// one subscriber's set-up, not one per worker.
    pub fn adopt_denylisting(&mut self, endpoint: SocketAddr, until: Instant) {
        self.lac.adopt_denylisting(endpoint, until);
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
                // The L2TP leg shown: the outgoing call of a relayed
                // session, the incoming one of PPP terminated here.
                let call = s.call().or_else(|| s.first.l2tp());
                let pppoe = s.pppoe();
                let local = match &s.stage {
                    Stage::Up(SecondLeg::Local(local)) => Some(local),
                    _ => None,
                };
                let [up, down] = self.direction_counters(s);
                SessionView {
                    acct_session_id: s.acct_session_id.clone(),
                    user_name: s.user_name.clone(),
                    role: if pppoe.is_some() { "lac" } else { "lns" },
                    interface: pppoe
                        .and_then(|p| self.config.interfaces.get(p.interface))
                        .map(|i| i.name.clone())
                        .unwrap_or_default(),
                    mac: pppoe.map(|p| p.mac.to_string()).unwrap_or_default(),
                    vlans: pppoe
                        .map(|p| p.vlans.iter().map(|t| t.vid).collect())
                        .unwrap_or_default(),
                    pppoe_session_id: pppoe.map_or(0, |p| p.session_id),
                    state: s.state().as_str(),
                    lns: s.lns.as_ref().map(|a| a.endpoint.to_string()),
                    peer: s.first.l2tp().map(|c| c.peer.to_string()),
                    calling_number: s.incoming.as_ref().and_then(|i| i.calling_number.clone()),
                    ipv4_address: local
                        .and_then(|l| l.ipv4.as_ref())
                        .map(|(a, _)| a.to_string()),
                    address_source: local
                        .and_then(|l| l.ipv4.as_ref())
                        .map(|(_, source)| source.describe()),
                    framed_routes: local
                        .map(|l| l.routes.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    ipv6_prefix: local.and_then(|l| l.ipv6_prefix).map(|p| p.to_string()),
                    delegated_prefix: local
                        .and_then(|l| l.delegated_prefix)
                        .map(|p| p.to_string()),
                    tunnel_id: call.map(|c| c.handle.tunnel_id),
                    session_id: call.map(|c| c.handle.session_id),
                    peer_tunnel_id: call.map(|c| c.peer_tunnel_id),
                    peer_session_id: call.map(|c| c.peer_session_id),
                    packets_up: up.packets,
                    bytes_up: up.bytes,
                    packets_down: down.packets,
                    bytes_down: down.bytes,
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
                    // Only sessions terminated here have an address (the
                    // LAC assigns none): a request naming one selects them.
                    && selector.framed_ip_address.is_none_or(|address| {
                        matches!(
                            &s.stage,
                            Stage::Up(SecondLeg::Local(local))
                                if local.ipv4.as_ref().is_some_and(|(a, _)| *a == address)
                        )
                    })
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
            .filter(|(_, s)| s.pppoe().is_some_and(|p| p.interface == interface))
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
        let record = crate::aaa::accounting::nas_record(&self.acct_session_prefix, on);
        self.account(record);
    }

    /// Ends every session (NAS-Reboot) and closes every tunnel.
    pub fn shutdown(&mut self, now: Instant) {
        let tokens: Vec<u64> = self.sessions.keys().copied().collect();
        for token in tokens {
            self.end_session(now, token, SessionEnd::NasShutdown);
        }
        self.endpoint.close_all_tunnels(
            now,
            &ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
        );
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
            self.lac.poll_timeout(),
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
        self.lac.handle_timeout(now);
        self.drain_policy();
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

    /// The next L2TP datagram the core sends itself, written at the start
    /// of `buf` (at least [`crate::l2tp::MAX_CONTROL_LEN`] bytes; what does
    /// not fit a shorter one stays queued): control messages, and the rare
    /// data message of the control path.
    pub fn poll_datagram(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        if let Some((to, bytes)) = self.data_out.front()
            && let Some(slot) = buf.get_mut(..bytes.len())
        {
            slot.copy_from_slice(bytes);
            let out = (*to, bytes.len());
            self.data_out.pop_front();
            return Some(out);
        }
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

    /// The session on PPPoE leg (`interface`, `session_id`): being set
    /// up, or in the fast path.
    fn token_by_pppoe(&self, interface: usize, session_id: u16) -> Option<u64> {
        self.by_pppoe
            .get(&pppoe_key(interface, session_id))
            .copied()
            .or_else(|| {
                let leg = self
                    .fastpath
                    .lookup(&pppoe_leg_key(interface, session_id))?;
                self.fastpath.entry(leg.slot).map(|e| e.session)
            })
    }

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
                        self.setup_deadline_passed(now, token);
                    }
                }
            }
            TimerKind::Attempt => self.attempt_timed_out(now, token),
            TimerKind::SessionTimeout => {
                if session.session_timeout_at.is_some_and(|t| t <= now) {
                    self.end_session(now, token, SessionEnd::SessionTimeout);
                }
            }
            TimerKind::IdleCheck => {
                let Some(idle) = session.idle_timeout else {
                    return;
                };
                let last_activity = session
                    .slot()
                    .and_then(|slot| self.fastpath.entry(slot))
                    .map_or(now, |e| e.last_activity);
                let expires = last_activity + idle;
                if expires <= now {
                    self.end_session(now, token, SessionEnd::IdleTimeout);
                } else {
                    self.arm(expires, token, TimerKind::IdleCheck);
                }
            }
            TimerKind::Ipv6 => {
                if let Some(services) = session.ipv6.as_mut()
                    && services.poll_timeout().is_some_and(|t| t <= now)
                {
                    services.handle_timeout(now);
                }
                self.drain_ipv6(now, token);
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
                self.account_session(now, token, AcctStatusType::InterimUpdate, None);
                self.arm(next, token, TimerKind::Interim);
            }
        }
    }

    fn drain_policy(&mut self) {
        while let Some(event) = self.lac.poll_event() {
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
                    if let Some(token) = self.token_by_pppoe(interface, *session_id) {
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
        if let Some(old) = self.token_by_pppoe(interface, pppoe_session_id) {
            // A PADS for an id still in our table: the old one is stale.
            self.forget(now, old);
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
            first: FirstLeg::Pppoe(PppoeLeg {
                interface,
                mac,
                vlans,
                session_id: pppoe_session_id,
            }),
            slot: None,
            incoming: None,
            service_name,
            circuit_id,
            remote_id,
            acct_session_id: acct_session_id.clone(),
            user_name: None,
            link: Some(Box::new(link)),
            ipv6: None,
            auth_method: None,
            domain_authorized: false,
            auth_frame: None,
            proxy: None,
            accept: None,
            stage: Stage::Negotiating,
            lns: None,
            lns_group: None,
            up_at: None,
            session_timeout_at: None,
            idle_timeout: None,
            interim: None,
            next_interim: None,
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
            let Some(link) = session.link.as_mut() else {
                return;
            };
            match SubscriberAddress::of(&session.first, &self.interface_macs) {
                Some(to) => {
                    queue_link_frames(&mut self.frames, &mut self.scratch, link, &to, |_| true);
                }
                None => queue_link_datagrams(
                    &mut self.data_out,
                    &mut self.fastpath,
                    &mut self.scratch,
                    link,
                    session.slot,
                ),
            }
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
                LinkEvent::NetworkUp { .. } | LinkEvent::NetworkDown { .. } => {
                    self.network_event(now, token, &event);
                }
                _ => {}
            }
            self.events.push_back(LacEvent::Ppp(event));
        }
    }
}

/// Policers from RADIUS rate limits (absent limits remove the policer):
/// on frames from the subscriber (`up`) and towards it.
fn apply_rate_limit(entry: &mut FastPathEntry, now: Instant, rate: &RateLimit) {
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
        let [up, down] = &mut entry.policers;
        set(up, rate.up_bps, rate.burst_up_bytes);
        set(down, rate.down_bps, rate.burst_down_bytes);
    }
}

/// Where a subscriber's control frames go.
struct SubscriberAddress {
    interface: usize,
    ethernet: EthernetRepr,
    pppoe_session_id: u16,
}

impl SubscriberAddress {
    /// The PPPoE subscriber of first leg `first`, reached from its
    /// interface's MAC (`interface_macs`, by interface index); `None` for
    /// a session that arrived by L2TP.
    fn of(first: &FirstLeg, interface_macs: &[MacAddress]) -> Option<Self> {
        let leg = first.pppoe()?;
        let src = interface_macs
            .get(leg.interface)
            .copied()
            .unwrap_or(MacAddress::ZERO);
        Some(Self {
            interface: leg.interface,
            ethernet: EthernetRepr {
                dst: leg.mac,
                src,
                vlans: leg.vlans,
                ethertype: EtherType::PppoeSession,
            },
            pppoe_session_id: leg.session_id,
        })
    }
}

/// Queues, as L2TP data messages on the session's incoming call (its
/// fast-path entry `slot`, first leg), what `link` has to send (PPP
/// terminated here, RFC 2661 §5.4).
fn queue_link_datagrams(
    out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    fastpath: &mut FastPath,
    scratch: &mut [u8],
    link: &mut Link,
    slot: Option<Slot>,
) {
    while let Some((protocol, len)) = scratch
        .get_mut(CONTROL_HEADROOM..)
        .and_then(|room| link.poll_transmit(room))
    {
        let Some(slot) = slot else {
            continue;
        };
        let Ok(start) = FrameHeader::new(protocol).emit_in_headroom(scratch, CONTROL_HEADROOM)
        else {
            continue;
        };
        let end = CONTROL_HEADROOM + len;
        if let Some(Delivery::Datagram { to, range }) =
            fastpath.wrap_for(slot, Side::First, scratch, start..end)
            && let Some(bytes) = scratch.get(range)
        {
            out.push_back((to, bytes.to_vec()));
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

mod accounting;
mod authorization;
mod forwarding;
mod incoming;
pub mod legs;
mod outgoing;
mod teardown;
mod types;

pub use incoming::TUN_HEADROOM;
pub use types::{Command, FastPathDrop, Forward, InterfaceConfig, NodeCoreConfig, SessionView};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lns;
