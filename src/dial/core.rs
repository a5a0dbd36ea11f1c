//! The sans-IO core of `tunnelnas dial`: an L2TP LAC client (RFC 2661 §1.1
//! "LAC Client") that opens a tunnel to an LNS, places its own incoming
//! calls and runs the PPP client over each.
//!
//! * **Tunnel and calls** (RFC 2661 §7): our [`Endpoint`] in the LAC role.
//!   [`DialCore::dial`] opens the control connection on the first call
//!   (SCCRQ / SCCRP / SCCCN, §7.2, with tunnel authentication when a
//!   secret is set, §5.1.1) and places the call as an incoming call
//!   (ICRQ / ICRP / ICCN, §7.4.1) *without* proxy LCP or authentication
//!   AVPs: the client is the PPP endpoint itself, so the LNS negotiates
//!   LCP and authentication with it in band. Further calls share the
//!   tunnel (§1.1: a LAC client may place several calls).
//! * **PPP**: per call a [`Link`] in the client role ([`LinkConfig::client`]):
//!   LCP (RFC 1661), PAP / CHAP-MD5 / MS-CHAPv2 towards the LNS, then
//!   IPCP (RFC 1332) for an address (and DNS, RFC 1877).
//! * **Data** (RFC 2661 §5.4): PPP frames are L2TP data messages, in
//!   HDLC-like framing without flags and FCS (RFC 1662 §3). We send
//!   Address/Control `FF 03` and a two-octet Protocol field; on receipt
//!   both forms are read, and a compressed Protocol field too (RFC 1661
//!   §6.5–§6.6), since the link accepts PFC and ACFC. When the LNS sends
//!   data with sequence numbers we send Ns from then on (§5.4). IPv4
//!   (0x0021) goes to and comes from the driver's TUN device
//!   ([`DialCore::poll_ip`], [`DialCore::handle_ip`]).
//! * **Teardown**: [`DialCore::close`] ends every call with LCP
//!   Terminate-Request (RFC 1661 §5.5), then a CDN (§6.13, result 3,
//!   administrative), then clears the tunnel with StopCCN (§6.4, result 1,
//!   general request) once no call is left. Each call ends with one
//!   [`DialEvent::Down`] saying why ([`DownCause`]): authentication
//!   refused, tunnel refused (with the StopCCN result), call cleared by
//!   the LNS (with the CDN result), PPP ended, or a set-up timeout.
//!
//! The core holds any number of calls, keyed by our L2TP session handle
//! (Tunnel ID, Session ID): the CLI dials one (with a TUN device) or
//! `--count N` on one tunnel (the load-generator path). Timers of calls
//! are found by a scan of the calls, which suits thousands of them.
//!
//! Nothing here panics on input: a datagram or IP packet that cannot be
//! used is dropped and counted in [`DialStats`].
//!
//! Inputs [`DialCore::handle_datagram`], [`DialCore::handle_ip`],
//! [`DialCore::handle_timeout`]; outputs [`DialCore::poll_datagram`],
//! [`DialCore::poll_ip`], [`DialCore::poll_timeout`],
//! [`DialCore::poll_event`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

pub use super::event::{DialEvent, DialStats, DownCause, SetupStage};
use crate::l2tp::{
    CallInfo, Endpoint, EndpointConfig, Event as L2tpEvent, OpenError, OpenSession,
    SessionDownCause, SessionHandle, TunnelState,
};
use crate::ppp::auth::AuthMethod;
use crate::ppp::link::{Credentials, DownReason, Link, LinkConfig, LinkEvent, Phase};
use crate::wire::l2tp::{
    Bearer, CdnResult, Framing, GeneralError, HeaderRepr, Packet as L2tpPacket, ResultCode,
    StopCcnResult,
};
use crate::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};

/// Room in front of a PPP information field in a data message we send:
/// the data header with Ns (10 octets), `FF 03` and the Protocol field.
const HEADROOM: usize = HeaderRepr::data(0, 0).with_ns(0).header_len() + 4;

/// IP packets waiting for [`DialCore::poll_ip`], and data messages waiting
/// for [`DialCore::poll_datagram`], at most (more are dropped and
/// counted).
const MAX_QUEUED_PACKETS: usize = 1024;

/// Settings of a [`DialCore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialConfig {
    /// The LNS (UDP port 1701 unless another is given).
    pub lns: SocketAddr,
    /// Tunnel secret (RFC 2661 §5.1.1); empty = no tunnel authentication.
    pub secret: Vec<u8>,
    /// PPP credentials.
    pub credentials: Credentials,
    /// Authentication methods we accept, in order of preference.
    pub auth_methods: Vec<AuthMethod>,
    /// The MRU we ask for (and the largest PPP payload we carry).
    pub mru: u16,
    /// LCP Echo-Request keepalive; `None`: off.
    pub echo_interval: Option<Duration>,
    /// A call not up (IPCP Opened) within this after [`DialCore::dial`]
    /// fails with [`DownCause::Timeout`].
    pub setup_timeout: Duration,
    /// The L2TP endpoint: Host Name (SCCRQ), control channel timers.
    /// `accept_calls` is forced off and no peer may open a tunnel to us.
    pub endpoint: EndpointConfig,
    /// RFC 1661 §4.6 timers and counters of LCP and IPCP.
    pub fsm: crate::ppp::fsm::FsmConfig,
}

impl DialConfig {
    /// Dialling `lns` as `credentials` with the defaults: any
    /// authentication method (MS-CHAPv2, CHAP, PAP), MRU 1460 (a 1500-octet
    /// path less IPv4, UDP, L2TP and PPP headers), echoes every 30 s, 30 s
    /// to come up, Host Name `tunnelnas-dial`, PPP Restart timer 1 s with
    /// Max-Configure 20.
    pub fn new(lns: SocketAddr, credentials: Credentials) -> Self {
        Self {
            lns,
            secret: Vec::new(),
            credentials,
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            mru: 1460,
            echo_interval: Some(Duration::from_secs(30)),
            setup_timeout: Duration::from_secs(30),
            endpoint: EndpointConfig {
                host_name: b"tunnelnas-dial".to_vec(),
                accept_calls: false,
                ..EndpointConfig::default()
            },
            // The LNS starts its PPP only once our ICCN arrives (xl2tpd
            // launches pppd then), so our first LCP Configure-Request
            // often finds nobody, and pppd in passive mode stays silent
            // until we send again: a 1 s Restart timer instead of 3 s
            // (RFC 1661 §4.6 leaves it configurable) brings a call up
            // about 2 s sooner; twice the Max-Configure keeps the patience.
            fsm: crate::ppp::fsm::FsmConfig {
                restart_timer: Duration::from_secs(1),
                max_configure: 20,
                ..crate::ppp::fsm::FsmConfig::default()
            },
        }
    }

    fn link(&self) -> LinkConfig {
        let mut link = LinkConfig::client(self.credentials.clone());
        link.auth_methods = self.auth_methods.clone();
        link.fsm = self.fsm;
        link.mru = self.mru;
        link.lower_max_payload = self.mru;
        // Inside L2TP the LNS may negotiate PFC and ACFC (RFC 2516 §7
        // forbids them only over PPPoE).
        link.accept_compression = true;
        link.echo_interval = self.echo_interval;
        link.ipv6 = false;
        link
    }
}

/// Where a call is.
#[derive(Debug)]
struct Call {
    /// Correlation id given to the endpoint (the call's serial number).
    index: u64,
    dialled_at: Instant,
    /// The LNS's address and ids of the call, once the session is up.
    peer: Option<(SocketAddr, (u16, u16))>,
    link: Option<Link>,
    /// Next Ns, once the LNS sequences data (§5.4).
    next_ns: Option<u16>,
    /// Our address once IPCP is Opened.
    local: Option<Ipv4Addr>,
    /// The LNS's MRU (largest packet we may send).
    peer_mru: u16,
    /// The authentication method LCP negotiated (for the failure report).
    auth_method: Option<AuthMethod>,
    /// We hang up, and why (reported when the call is gone).
    hang_up: Option<DownCause>,
    /// `Down` was reported.
    down_reported: bool,
    /// The link is down: CDN once its last frames are out.
    cdn: Option<ResultCode>,
    /// The session went down with its tunnel: wait for `TunnelDown`.
    tunnel_lost: bool,
}

impl Call {
    const fn is_up(&self) -> bool {
        self.local.is_some() && self.cdn.is_none() && !self.down_reported
    }
}

/// The core (see the module documentation).
#[derive(Debug)]
pub struct DialCore {
    config: DialConfig,
    link_config: LinkConfig,
    endpoint: Endpoint,
    rng: StdRng,
    calls: BTreeMap<SessionHandle, Call>,
    /// Our IPCP address → call, for IP from TUN.
    by_address: HashMap<Ipv4Addr, SessionHandle>,
    /// Calls whose link may have frames to send.
    ready: VecDeque<SessionHandle>,
    queued: HashSet<SessionHandle>,
    to_tun: VecDeque<(SessionHandle, Vec<u8>)>,
    to_lns: VecDeque<(SocketAddr, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    events: VecDeque<DialEvent>,
    next_index: u64,
    /// [`Self::close`] was called: no new calls, StopCCN once the calls
    /// are gone.
    closing: bool,
    stop_sent: bool,
    stats: DialStats,
}

impl DialCore {
    /// A core for `config`; `seed` seeds every random choice (ids,
    /// challenges, Magic-Numbers).
    pub fn new(mut config: DialConfig, seed: [u8; 32]) -> Self {
        config.endpoint.accept_calls = false;
        config.endpoint.peers.clear();
        let mut rng = StdRng::from_seed(seed);
        let endpoint = Endpoint::new(config.endpoint.clone(), rng.random());
        Self {
            link_config: config.link(),
            config,
            endpoint,
            rng,
            calls: BTreeMap::new(),
            by_address: HashMap::new(),
            ready: VecDeque::new(),
            queued: HashSet::new(),
            to_tun: VecDeque::new(),
            to_lns: VecDeque::new(),
            spare: Vec::new(),
            events: VecDeque::new(),
            next_index: 1,
            closing: false,
            stop_sent: false,
            stats: DialStats::default(),
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &DialConfig {
        &self.config
    }

    /// The L2TP endpoint (tunnels, for reports).
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The counters.
    pub const fn stats(&self) -> DialStats {
        self.stats
    }

    /// Calls not yet ended.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Calls up (IPCP Opened).
    pub fn calls_up(&self) -> usize {
        self.calls.values().filter(|c| c.is_up()).count()
    }

    /// Whether [`Self::close`] was called.
    pub const fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether [`Self::close`] has finished: no call left, the StopCCN sent
    /// and acknowledged (or the tunnel gone). The driver may exit then.
    pub fn is_closed(&self) -> bool {
        self.closing
            && self.calls.is_empty()
            && self.endpoint.tunnels().iter().all(|t| {
                matches!(t.state, TunnelState::Closing { .. } | TunnelState::Gone)
                    && t.unacknowledged == 0
            })
    }

    /// Places a call: opens the tunnel first if there is none to the LNS
    /// (module docs). Its [`DialEvent::Up`] or [`DialEvent::Down`] follows.
    ///
    /// # Errors
    /// The endpoint's refusal (ids exhausted, too many calls waiting), or
    /// [`OpenError::Busy`] after [`Self::close`].
    pub fn dial(&mut self, now: Instant) -> Result<SessionHandle, OpenError> {
        if self.closing {
            return Err(OpenError::Busy);
        }
        let index = self.next_index;
        let call = CallInfo {
            call_serial_number: index as u32,
            bearer_type: Some(Bearer::DIGITAL),
            tx_connect_speed: 100_000_000,
            rx_connect_speed: Some(100_000_000),
            framing_type: Framing::SYNC,
            ..CallInfo::default()
        };
        let handle = self.endpoint.open_session(
            now,
            OpenSession {
                peer: self.config.lns,
                secret: self.config.secret.clone(),
                assignment_id: None,
                client_auth_id: None,
                call,
                request_id: index,
            },
        )?;
        self.next_index += 1;
        self.calls.insert(
            handle,
            Call {
                index,
                dialled_at: now,
                peer: None,
                link: None,
                next_ns: None,
                local: None,
                peer_mru: self.config.mru,
                auth_method: None,
                hang_up: None,
                down_reported: false,
                cdn: None,
                tunnel_lost: false,
            },
        );
        self.drain_endpoint(now);
        Ok(handle)
    }

    /// Ends call `call`: LCP Terminate-Request when PPP runs, then CDN; a
    /// call not placed yet is cleared at once. Its `Down` says `reason`.
    pub fn hang_up(&mut self, now: Instant, call: SessionHandle) {
        self.end_call(now, call, DownCause::HungUp);
    }

    /// Ends every call ([`Self::hang_up`]) and then the tunnel (StopCCN);
    /// see [`Self::is_closed`].
    pub fn close(&mut self, now: Instant) {
        self.closing = true;
        let calls: Vec<SessionHandle> = self.calls.keys().copied().collect();
        for call in calls {
            self.end_call(now, call, DownCause::HungUp);
        }
        self.stop_when_idle(now);
    }

    fn end_call(&mut self, now: Instant, handle: SessionHandle, reason: DownCause) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.hang_up.is_some() || call.down_reported {
            return;
        }
        call.hang_up = Some(reason.clone());
        match call.link.as_mut() {
            Some(link) if link.phase() != Phase::Dead => {
                link.close(now, DownReason::AdminClose);
                self.drive(now, handle);
            }
            _ => {
                // Not placed, or no PPP yet: the CDN alone (none on the
                // wire for a call still waiting for its tunnel).
                self.report_down(handle, reason);
                self.calls.remove(&handle);
                self.endpoint.close_session(
                    now,
                    handle,
                    ResultCode::cdn(CdnResult::Administrative),
                    None,
                );
                self.drain_endpoint(now);
            }
        }
    }

    /// Once closing and no call is left: StopCCN to every tunnel.
    fn stop_when_idle(&mut self, now: Instant) {
        if self.closing && !self.stop_sent && self.calls.is_empty() {
            self.stop_sent = true;
            self.endpoint.close_all_tunnels(
                now,
                &ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
            );
            self.drain_endpoint(now);
        }
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// A UDP datagram from `from`: control messages go to the endpoint,
    /// data messages to their call's link, or IPv4 to the TUN queue.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if crate::l2tp::is_control(datagram) {
            self.stats.control_in += 1;
            self.endpoint.handle_datagram(now, from, datagram);
            self.drain_endpoint(now);
            self.stop_when_idle(now);
            return;
        }
        let Ok(packet) = L2tpPacket::new_checked(datagram) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let handle = SessionHandle {
            tunnel_id: packet.tunnel_id(),
            session_id: packet.session_id(),
        };
        let Some(call) = self.calls.get(&handle) else {
            self.stats.dropped_unknown_session += 1;
            return;
        };
        let lns_ip = call
            .peer
            .map_or(self.config.lns.ip(), |(peer, _)| peer.ip());
        if from.ip() != lns_ip {
            self.stats.dropped_wrong_source += 1;
            return;
        }
        if call.link.is_none() {
            // Data before the ICCN's acknowledgement: the LNS has the
            // ICCN, so the call is up (see Endpoint::confirm_session).
            self.endpoint.confirm_session(now, handle);
            self.drain_endpoint(now);
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            self.stats.dropped_unknown_session += 1;
            return;
        };
        if call.link.is_none() || call.cdn.is_some() {
            self.stats.dropped_not_up += 1;
            return;
        }
        if packet.has_sequence() && call.next_ns.is_none() {
            // RFC 2661 §5.4: the LNS turned sequencing on.
            call.next_ns = Some(0);
        }
        // RFC 1661 §6.5–§6.6: Address/Control optional, Protocol field
        // possibly compressed.
        let Ok(ppp) = PppFrame::new_checked(packet.payload()) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        self.stats.data_in += 1;
        if ppp.protocol() == Protocol::Ipv4 {
            if !call.is_up() {
                self.stats.dropped_not_up += 1;
                return;
            }
            if self.to_tun.len() >= MAX_QUEUED_PACKETS {
                self.stats.dropped_queue += 1;
                return;
            }
            let mut packet = self.spare.pop().unwrap_or_default();
            packet.clear();
            packet.extend_from_slice(ppp.payload());
            self.to_tun.push_back((handle, packet));
            return;
        }
        if let Some(link) = call.link.as_mut() {
            link.handle_frame(now, ppp.protocol(), ppp.payload());
        }
        self.drive(now, handle);
    }

    /// An IP packet from TUN: sent on the call whose address is its
    /// source (or the only call up), as PPP protocol 0x0021.
    pub fn handle_ip(&mut self, _now: Instant, packet: &[u8]) {
        let source = match packet {
            [first, rest @ ..] if first >> 4 == 4 && rest.len() >= 19 => {
                Ipv4Addr::new(rest[11], rest[12], rest[13], rest[14])
            }
            _ => {
                self.stats.dropped_unroutable += 1;
                return;
            }
        };
        let handle = match self.by_address.get(&source) {
            Some(handle) => Some(*handle),
            None if self.by_address.len() == 1 => self.by_address.values().next().copied(),
            None => None,
        };
        let Some(call) = handle.and_then(|h| self.calls.get_mut(&h)) else {
            self.stats.dropped_unroutable += 1;
            return;
        };
        let Some((peer, peer_ids)) = call.peer.filter(|_| call.is_up()) else {
            self.stats.dropped_unroutable += 1;
            return;
        };
        if packet.len() > usize::from(call.peer_mru) {
            self.stats.dropped_unroutable += 1;
            return;
        }
        if self.to_lns.len() >= MAX_QUEUED_PACKETS {
            self.stats.dropped_queue += 1;
            return;
        }
        let mut datagram = self.spare.pop().unwrap_or_default();
        datagram.clear();
        datagram.resize(HEADROOM + packet.len(), 0);
        datagram[HEADROOM..].copy_from_slice(packet);
        let ns = next_ns(&mut call.next_ns);
        match frame_data(&mut datagram, peer_ids, ns, Protocol::Ipv4, packet.len()) {
            Some(len) => {
                datagram.truncate(len);
                self.stats.ip_from_tun += 1;
                self.to_lns.push_back((peer, datagram));
            }
            None => {
                self.stats.dropped_unroutable += 1;
                self.spare.push(datagram);
            }
        }
    }

    /// Runs every timer due at `now`: the endpoint's, the links', and the
    /// calls' set-up deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|at| at <= now) {
            self.endpoint.handle_timeout(now);
            self.drain_endpoint(now);
        }
        let handles: Vec<SessionHandle> = self.calls.keys().copied().collect();
        for handle in handles {
            let Some(call) = self.calls.get_mut(&handle) else {
                continue;
            };
            if let Some(link) = call.link.as_mut()
                && link.poll_timeout().is_some_and(|at| at <= now)
            {
                link.handle_timeout(now);
                self.drive(now, handle);
            }
            let Some(call) = self.calls.get(&handle) else {
                continue;
            };
            let late = call.local.is_none()
                && call.hang_up.is_none()
                && !call.down_reported
                && call.dialled_at + self.config.setup_timeout <= now;
            if late {
                let stage = match &call.link {
                    Some(link) => SetupStage::Ppp(link.phase()),
                    None if self.endpoint.tunnel_state(handle.tunnel_id)
                        == Some(TunnelState::Established) =>
                    {
                        SetupStage::Call
                    }
                    None => SetupStage::Tunnel,
                };
                self.end_call(now, handle, DownCause::Timeout { stage });
            }
        }
        self.stop_when_idle(now);
    }

    // ------------------------------------------------------------------
    // Outputs
    // ------------------------------------------------------------------

    /// The next datagram to send, written at the start of `buf` (which
    /// should hold [`crate::l2tp::MAX_CONTROL_LEN`] octets): its
    /// destination and length. Control messages first, then the links'
    /// PPP frames, then IP from TUN. A datagram longer than `buf` is
    /// dropped and counted (control messages stay queued in the endpoint).
    pub fn poll_datagram(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        loop {
            self.stop_when_idle(now);
            if let Some(out) = self.endpoint.poll_transmit(now, buf) {
                self.drain_endpoint(now);
                return Some(out);
            }
            let mut progress = false;
            while let Some(&handle) = self.ready.front() {
                match self.transmit_link(now, handle, buf) {
                    Transmit::Datagram(to, len) => {
                        self.stats.data_out += 1;
                        return Some((to, len));
                    }
                    Transmit::Cleared => {
                        progress = true;
                        break;
                    }
                    Transmit::Nothing => {
                        self.ready.pop_front();
                        self.queued.remove(&handle);
                    }
                }
            }
            if progress {
                continue;
            }
            while let Some((to, datagram)) = self.to_lns.pop_front() {
                let out = buf.get_mut(..datagram.len()).map(|out| {
                    out.copy_from_slice(&datagram);
                    datagram.len()
                });
                self.spare.push(datagram);
                match out {
                    Some(len) => {
                        self.stats.data_out += 1;
                        return Some((to, len));
                    }
                    None => self.stats.dropped_queue += 1,
                }
            }
            return None;
        }
    }

    /// The next IP packet for TUN, written at the start of `buf`: the call
    /// it came on and its length. A packet longer than `buf` is dropped
    /// and counted.
    pub fn poll_ip(&mut self, buf: &mut [u8]) -> Option<(SessionHandle, usize)> {
        while let Some((handle, packet)) = self.to_tun.pop_front() {
            let out = buf.get_mut(..packet.len()).map(|out| {
                out.copy_from_slice(&packet);
                packet.len()
            });
            self.spare.push(packet);
            match out {
                Some(len) => {
                    self.stats.ip_to_tun += 1;
                    return Some((handle, len));
                }
                None => self.stats.dropped_queue += 1,
            }
        }
        None
    }

    /// The earliest instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().flat_map(|call| {
            let deadline = (call.local.is_none() && call.hang_up.is_none() && !call.down_reported)
                .then(|| call.dialled_at + self.config.setup_timeout);
            let link = call.link.as_ref().and_then(Link::poll_timeout);
            deadline.into_iter().chain(link)
        });
        self.endpoint.poll_timeout().into_iter().chain(calls).min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DialEvent> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    /// The next PPP frame of call `handle` as a data message; a call whose
    /// link is down and has sent everything gets its CDN.
    fn transmit_link(&mut self, now: Instant, handle: SessionHandle, buf: &mut [u8]) -> Transmit {
        let Some(call) = self.calls.get_mut(&handle) else {
            return Transmit::Nothing;
        };
        if let (Some(link), Some((peer, peer_ids))) = (call.link.as_mut(), call.peer) {
            let Some(room) = buf.get_mut(HEADROOM..) else {
                return Transmit::Nothing;
            };
            if let Some((protocol, len)) = link.poll_transmit(room) {
                let ns = next_ns(&mut call.next_ns);
                if let Some(len) = frame_data(buf, peer_ids, ns, protocol, len) {
                    return Transmit::Datagram(peer, len);
                }
                self.stats.dropped_queue += 1;
                return Transmit::Nothing;
            }
        }
        let Some(result) = call.cdn.take() else {
            return Transmit::Nothing;
        };
        self.calls.remove(&handle);
        self.endpoint.close_session(now, handle, result, None);
        self.drain_endpoint(now);
        Transmit::Cleared
    }

    /// After any input to call `handle`'s link: its events, and its place
    /// in the ready queue.
    fn drive(&mut self, now: Instant, handle: SessionHandle) {
        loop {
            let Some(call) = self.calls.get_mut(&handle) else {
                return;
            };
            let Some(link) = call.link.as_mut() else {
                return;
            };
            let Some(event) = link.poll_event() else {
                break;
            };
            match event {
                LinkEvent::LcpUp(negotiated) => call.auth_method = negotiated.auth_to_peer,
                LinkEvent::NetworkUp { ipv4: Some(v4), .. } => {
                    if call.local.is_some() || call.hang_up.is_some() {
                        continue;
                    }
                    let negotiated = link.lcp_negotiated();
                    call.peer_mru = negotiated.peer_mru.min(self.config.mru);
                    call.local = Some(v4.local);
                    self.by_address.insert(v4.local, handle);
                    let peer_ids = call.peer.map_or((0, 0), |(_, ids)| ids);
                    self.events.push_back(DialEvent::Up {
                        call: handle,
                        peer_ids,
                        local: v4.local,
                        peer: v4.peer,
                        dns: v4.primary_dns,
                        mru: call.peer_mru,
                        took: now.saturating_duration_since(call.dialled_at),
                    });
                }
                LinkEvent::Down { reason } => {
                    let cause = match (&call.hang_up, reason) {
                        (Some(ours), _) => ours.clone(),
                        (None, DownReason::AuthFailed) => DownCause::AuthFailed {
                            method: call.auth_method,
                        },
                        (None, other) => DownCause::Ppp(other),
                    };
                    // RFC 2661 §4.4.2: the CDN's Result Code says why.
                    let code = CdnResult::from(reason.l2tp_cdn_result_code());
                    let result = if call.hang_up.is_some() {
                        ResultCode::cdn(CdnResult::Administrative)
                    } else if code == CdnResult::ErrorCode {
                        ResultCode::cdn(code)
                            .with_error(GeneralError::VendorSpecific, reason.pppoe_generic_error())
                    } else {
                        ResultCode::cdn(code)
                    };
                    call.cdn = Some(result);
                    self.report_down(handle, cause);
                }
                _ => {}
            }
        }
        if self.queued.insert(handle) {
            self.ready.push_back(handle);
        }
    }

    /// Reports call `handle` down once, and forgets its address.
    fn report_down(&mut self, handle: SessionHandle, reason: DownCause) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.down_reported {
            return;
        }
        call.down_reported = true;
        let was_up = call.local.is_some();
        if let Some(local) = call.local
            && self.by_address.get(&local) == Some(&handle)
        {
            self.by_address.remove(&local);
        }
        self.events.push_back(DialEvent::Down {
            call: handle,
            was_up,
            reason,
        });
    }

    /// Call `handle` is gone on the L2TP side: reported (if not yet) and
    /// forgotten.
    fn forget(&mut self, handle: SessionHandle, reason: DownCause) {
        let reason = self
            .calls
            .get(&handle)
            .and_then(|c| c.hang_up.clone())
            .unwrap_or(reason);
        self.report_down(handle, reason);
        self.calls.remove(&handle);
    }

    fn drain_endpoint(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                L2tpEvent::TunnelUp {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    requested_at,
                    at,
                    ..
                } => self.events.push_back(DialEvent::TunnelUp {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    took: at.saturating_duration_since(requested_at),
                }),
                L2tpEvent::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    ..
                } => {
                    let Some(call) = self.calls.get_mut(&handle) else {
                        // Hung up meanwhile.
                        self.endpoint.close_session(
                            now,
                            handle,
                            ResultCode::cdn(CdnResult::Administrative),
                            None,
                        );
                        continue;
                    };
                    call.peer = Some((peer, (peer_tunnel_id, peer_session_id)));
                    if call.link.is_none() {
                        let mut link = Link::new(self.link_config.clone(), self.rng.random());
                        link.open(now);
                        call.link = Some(link);
                    }
                    tracing::debug!(
                        tunnel_id = handle.tunnel_id,
                        session_id = handle.session_id,
                        index = call.index,
                        "call up, PPP starts"
                    );
                    self.drive(now, handle);
                }
                L2tpEvent::SessionDown {
                    handle,
                    cause,
                    result,
                    q931,
                    ..
                } => {
                    let Some(call) = self.calls.get_mut(&handle) else {
                        continue;
                    };
                    if let Some(link) = call.link.as_mut() {
                        link.lower_down(now);
                    }
                    match cause {
                        // StopCCN or a dead peer: the tunnel's event
                        // follows and says why.
                        SessionDownCause::TunnelDown => call.tunnel_lost = true,
                        SessionDownCause::PeerCdn => {
                            self.forget(handle, DownCause::CallCleared { result, q931 });
                        }
                        _ => self.forget(handle, DownCause::HungUp),
                    }
                }
                L2tpEvent::TunnelDown {
                    tunnel_id,
                    cause,
                    result,
                    ..
                } => {
                    let lost: Vec<SessionHandle> = self
                        .calls
                        .iter()
                        .filter(|(h, c)| h.tunnel_id == tunnel_id || c.tunnel_lost)
                        .map(|(h, _)| *h)
                        .collect();
                    for handle in lost {
                        self.forget(
                            handle,
                            DownCause::TunnelDown {
                                cause,
                                result: result.clone(),
                            },
                        );
                    }
                    self.events.push_back(DialEvent::TunnelDown {
                        tunnel_id,
                        cause,
                        result,
                    });
                }
                _ => {}
            }
        }
    }
}

enum Transmit {
    Datagram(SocketAddr, usize),
    /// A call was cleared (CDN queued in the endpoint).
    Cleared,
    Nothing,
}

/// The Ns for the next data message, when sequencing is on.
fn next_ns(next: &mut Option<u16>) -> Option<u16> {
    let ns = (*next)?;
    *next = Some(ns.wrapping_add(1));
    Some(ns)
}

/// Frames the PPP information field at `buf[HEADROOM..HEADROOM + len]` as
/// an L2TP data message to `(tunnel, session)` of the LNS: `FF 03`, the
/// two-octet Protocol field (RFC 2661 §5.4, RFC 1662 §3.1) and a data
/// header, with Ns when sequencing is on. The datagram is moved to the
/// start of `buf`; returns its length.
fn frame_data(
    buf: &mut [u8],
    (tunnel, session): (u16, u16),
    ns: Option<u16>,
    protocol: Protocol,
    len: usize,
) -> Option<usize> {
    let header = FrameHeader {
        address_control: true,
        protocol,
    };
    let ppp_start = header.emit_in_headroom(buf, HEADROOM).ok()?;
    let ppp_len = HEADROOM.checked_add(len)?.checked_sub(ppp_start)?;
    let mut data = HeaderRepr::data(tunnel, session);
    if let Some(ns) = ns {
        data = data.with_ns(ns);
    }
    let start = data.emit_before(buf, ppp_start, ppp_len).ok()?;
    let end = ppp_start + ppp_len;
    if start != 0 {
        buf.copy_within(start..end, 0);
    }
    Some(end - start)
}
