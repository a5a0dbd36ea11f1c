//! The LNS emulator: an L2TPv2 LNS (RFC 2661) that terminates PPP, for the
//! demo and the benchmark, sans-IO.
//!
//! * Tunnels and calls: our [`Endpoint`] in the LNS role, admitting the
//!   configured networks with their secrets ([`PeerPolicy`], §5.1.1 tunnel
//!   authentication) and accepting every incoming call (ICRQ → ICRP,
//!   §7.5) up to a session limit.
//! * PPP: per session a [`Link`] in the server role. Like xl2tpd's pppd, it
//!   ignores the proxy LCP and authentication AVPs (§4.4.5 lets an LNS
//!   renegotiate) and runs LCP and authentication again, verifying PAP
//!   (RFC 1334 §2.2.1), CHAP-MD5 (RFC 1994 §4.1) and MS-CHAPv2 (RFC 2759
//!   §8) against its own user list with [`crate::ppp::auth::crypto`]; then
//!   IPCP (RFC 1332) gives the subscriber an address from the pool.
//! * Data: L2TP data messages carry PPP in HDLC-like framing without
//!   flags and FCS (RFC 2661 §5.4, RFC 1662 §3). Frames we send start with
//!   Address/Control `FF 03` and a two-octet Protocol field. On receipt
//!   both forms are accepted, as RFC 1661 §6.6 reads them: "the Address
//!   and Control fields are decompressed by examining the first two
//!   octets"; a compressed Protocol field (§6.5) is read too, since the
//!   links accept PFC and ACFC. ICMP Echo Requests to the LNS's own
//!   address are answered (RFC 792: "The data received in the echo message
//!   must be returned in the echo reply message"); every other IPv4
//!   packet is counted and dropped.
//!
//! * Acknowledgements: by default the control channel acknowledges as
//!   ours does (piggybacked on every reply, a ZLB after 100 ms, at once
//!   when half its receive window is unacknowledged), which is kinder than
//!   many LNSs in the field. [`LnsConfig::like_deployed_lns`] gives the
//!   realistic profile instead: a small receive window, acknowledgements
//!   only by a ZLB after a fixed delay, nothing piggybacked
//!   ([`DEPLOYED_LNS_RECEIVE_WINDOW`], [`DEPLOYED_LNS_ACK_DELAY`]) — the
//!   LNS of issue 11, and the kind of peer xl2tpd's RFC default window of 4
//!   and many deployed LNSs make. Against it, one tunnel's window and the
//!   acknowledgement delay, not the LAC, cap the call rate.
//!
//! Inputs [`LnsEmulator::handle_datagram`] and
//! [`LnsEmulator::handle_timeout`]; outputs [`LnsEmulator::poll_transmit`]
//! (control and data datagrams), [`LnsEmulator::poll_timeout`],
//! [`LnsEmulator::stats`]. Echo replies reuse a pool of buffers, so the
//! data path allocates nothing once warm. [`run_lns`] is a blocking driver
//! over a UDP socket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

use super::LatencyHistogram;
use super::flood::{BATCH, UdpBatch};
use super::icmp;
use crate::l2tp::{
    Endpoint, EndpointConfig, Event as L2tpEvent, MAX_CONTROL_LEN, PeerPolicy, SessionHandle,
};
use crate::ppp::auth::crypto::{mschap_user_name, verify_chap_md5, verify_mschapv2};
use crate::ppp::auth::{AuthConfig, AuthDecision, AuthMethod, AuthRequest};
use crate::ppp::fsm::FsmConfig;
use crate::ppp::link::{Credentials, DownReason, Link, LinkConfig, LinkEvent, Role};
use crate::ppp::ncp::IpcpConfig;
use crate::wire::l2tp::{
    CdnResult, GeneralError, HeaderRepr, Packet as L2tpPacket, ResultCode, StopCcnResult,
};
use crate::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};

/// Room in front of a PPP information field in a data message we send:
/// the smallest data header (6 octets), `FF 03` and the Protocol field.
const DATA_HEADROOM: usize = HeaderRepr::data(0, 0).header_len() + 4;

/// Echo replies waiting for `poll_transmit` at most (more are dropped and
/// counted).
const MAX_QUEUED_REPLIES: usize = 1024;

/// Largest datagram [`run_lns`] receives.
const RECV_SLOT: usize = 4096;

/// How often [`run_lns`] publishes its statistics.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Receive window of the realistic LNS profile
/// ([`LnsConfig::like_deployed_lns`]): what the LNS of issue 11 advertised.
/// (xl2tpd advertises the RFC 2661 §4.4.3 default of 4.)
pub const DEPLOYED_LNS_RECEIVE_WINDOW: u16 = 8;

/// Acknowledgement delay of the realistic LNS profile
/// ([`LnsConfig::like_deployed_lns`]): the LNS of issue 11 acknowledged
/// control messages about 10 ms after they arrived.
pub const DEPLOYED_LNS_ACK_DELAY: Duration = Duration::from_millis(10);

/// Settings of the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnsConfig {
    /// The L2TP endpoint: Host Name, control channel timers, who may open
    /// tunnels (`peers`) with which secret. `accept_calls` is forced on.
    pub endpoint: EndpointConfig,
    /// Users PPP authentication checks against.
    pub users: Vec<Credentials>,
    /// Authentication methods offered, in order.
    pub auth_methods: Vec<AuthMethod>,
    /// The LNS's own address (IPCP IP-Address; answers pings).
    pub local_address: Ipv4Addr,
    /// Subscriber addresses (the network and broadcast addresses and the
    /// LNS's own are never given out).
    pub pool: Ipv4Net,
    /// DNS servers handed out in IPCP (RFC 1877).
    pub dns: Vec<Ipv4Addr>,
    /// RFC 1661 timers and counters of LCP and IPCP.
    pub fsm: FsmConfig,
    /// Authentication timers.
    pub auth: AuthConfig,
    /// The MRU the LNS asks for.
    pub mru: u16,
    /// LCP Echo-Request keepalive; `None`: off.
    pub lcp_echo_interval: Option<Duration>,
    /// Calls accepted at once; more are refused with CDN result 4.
    pub max_sessions: usize,
}

impl LnsConfig {
    /// An LNS admitting tunnels from `network` with `secret`, checking
    /// PPP credentials against `users`, calling itself `local_address` and
    /// handing out addresses from `pool`.
    pub fn new(
        network: IpNet,
        secret: &[u8],
        users: Vec<Credentials>,
        local_address: Ipv4Addr,
        pool: Ipv4Net,
    ) -> Self {
        Self {
            endpoint: EndpointConfig {
                host_name: b"tunnelnas-lns-emulator".to_vec(),
                accept_calls: true,
                peers: vec![PeerPolicy {
                    network,
                    secret: secret.to_vec(),
                    host_name: None,
                    max_tunnels: None,
                }],
                ..EndpointConfig::default()
            },
            users,
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            local_address,
            pool,
            dns: Vec::new(),
            fsm: FsmConfig::default(),
            auth: AuthConfig::default(),
            mru: 1492,
            lcp_echo_interval: None,
            max_sessions: 100_000,
        }
    }

    /// The realistic acknowledgement profile: small window, delayed acks.
    /// The emulator advertises `receive_window` (Receive Window Size AVP,
    /// RFC 2661 §4.4.3) and acknowledges the LAC's control messages only
    /// with a ZLB `ack_delay` after the first unacknowledged one arrived
    /// (or with the first message it sends after that): its SCCRP, ICRP
    /// and other messages carry the Nr of its previous acknowledgement,
    /// and a window half full is not acknowledged early. That is how the
    /// LNS of issue 11 behaved (window 8, about 10 ms,
    /// [`DEPLOYED_LNS_RECEIVE_WINDOW`], [`DEPLOYED_LNS_ACK_DELAY`]); with a
    /// window of 4 it is close to xl2tpd's RFC default window and many
    /// deployed LNSs. A LAC then gets at most `receive_window` control
    /// messages per `ack_delay` (plus a round trip) through one tunnel.
    ///
    /// Sets `endpoint.channel.{receive_window, ack_delay, piggyback_acks,
    /// immediate_ack_at_half_window}`; the rest of the configuration is
    /// kept.
    #[must_use]
    pub fn like_deployed_lns(mut self, receive_window: u16, ack_delay: Duration) -> Self {
        let channel = &mut self.endpoint.channel;
        channel.receive_window = receive_window;
        channel.ack_delay = ack_delay;
        channel.piggyback_acks = false;
        channel.immediate_ack_at_half_window = false;
        self
    }

    /// The server link of every session, as `node::convert::lns_link_config`
    /// builds it: PFC and ACFC accepted (RFC 2516 §7 forbids them only over
    /// PPPoE), IPCP with our address and DNS, no IPv6CP.
    fn link(&self) -> LinkConfig {
        LinkConfig {
            role: Role::Server,
            fsm: self.fsm,
            mru: self.mru,
            lower_max_payload: self.mru,
            auth_methods: self.auth_methods.clone(),
            credentials: None,
            auth: self.auth.clone(),
            accept_compression: true,
            echo_interval: self.lcp_echo_interval,
            ipv4: true,
            ipv6: false,
            ipcp: IpcpConfig {
                local: Some(self.local_address),
                primary_dns: self.dns.first().copied(),
                secondary_dns: self.dns.get(1).copied(),
                ..IpcpConfig::default()
            },
            ..LinkConfig::default()
        }
    }
}

/// A snapshot of the emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LnsStats {
    /// Tunnels established now.
    pub tunnels: u32,
    /// Tunnels established so far.
    pub tunnels_total: u64,
    /// Established tunnels that went down (StopCCN either way, or the
    /// control channel gave up), shutdown included.
    pub tunnels_down: u64,
    /// Tunnels that went down before they were established.
    pub tunnels_failed: u64,
    /// Calls established now.
    pub sessions: u32,
    /// Calls established so far.
    pub sessions_total: u64,
    /// Calls refused (session limit, no address left).
    pub sessions_refused: u64,
    /// Established calls that went down (CDN either way, or their tunnel
    /// went down).
    pub sessions_down: u64,
    /// Sessions with IPCP Opened now.
    pub sessions_network_up: u32,
    /// Authentications accepted.
    pub auth_accepted: u64,
    /// Authentications rejected.
    pub auth_rejected: u64,
    /// Pool addresses in use.
    pub addresses_in_use: u32,
    /// Data messages received on a session.
    pub rx_packets: u64,
    /// Their PPP octets (Address/Control, Protocol, information).
    pub rx_bytes: u64,
    /// Data messages sent.
    pub tx_packets: u64,
    /// Their PPP octets.
    pub tx_bytes: u64,
    /// ICMP Echo Requests answered.
    pub pings_answered: u64,
    /// IPv4 packets that were not an Echo Request to us.
    pub ipv4_ignored: u64,
    /// Data messages dropped: malformed, unknown session, wrong source.
    pub data_dropped: u64,
    /// Echo replies dropped because too many were queued.
    pub replies_dropped: u64,
    /// Call established → IPCP Opened.
    pub ppp_setup: LatencyHistogram,
}

/// Subscriber addresses: never-used ones in order, then released ones.
#[derive(Debug)]
struct Pool {
    next: u32,
    last: u32,
    excluded: u32,
    released: Vec<u32>,
}

impl Pool {
    fn new(net: Ipv4Net, excluded: Ipv4Addr) -> Self {
        let (first, last) = if net.prefix_len() >= 31 {
            (u32::from(net.network()), u32::from(net.broadcast()))
        } else {
            (
                u32::from(net.network()).saturating_add(1),
                u32::from(net.broadcast()).saturating_sub(1),
            )
        };
        Self {
            next: first,
            last,
            excluded: u32::from(excluded),
            released: Vec::new(),
        }
    }

    fn allocate(&mut self) -> Option<Ipv4Addr> {
        if let Some(addr) = self.released.pop() {
            return Some(Ipv4Addr::from(addr));
        }
        while self.next <= self.last {
            let addr = self.next;
            // `last` may be u32::MAX: stop instead of wrapping.
            match self.next.checked_add(1) {
                Some(next) => self.next = next,
                None => self.last = 0,
            }
            if addr != self.excluded {
                return Some(Ipv4Addr::from(addr));
            }
        }
        None
    }

    fn release(&mut self, addr: Ipv4Addr) {
        self.released.push(u32::from(addr));
    }
}

#[derive(Debug)]
struct Session {
    peer: SocketAddr,
    peer_ids: (u16, u16),
    link: Link,
    address: Option<Ipv4Addr>,
    up_at: Instant,
    network_up: bool,
    /// The link is down (and why): clear the call once its last frames
    /// are out.
    down: Option<DownReason>,
    armed: Option<Instant>,
    queued: bool,
}

/// The emulator (see the module documentation).
#[derive(Debug)]
pub struct LnsEmulator {
    config: LnsConfig,
    link: LinkConfig,
    endpoint: Endpoint,
    rng: StdRng,
    sessions: HashMap<SessionHandle, Session>,
    pool: Pool,
    timers: BinaryHeap<Reverse<(Instant, SessionHandle)>>,
    ready: VecDeque<SessionHandle>,
    replies: VecDeque<(SessionHandle, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    /// Position of each user name in `config.users` (the first, as a scan
    /// would find it).
    user_index: HashMap<Vec<u8>, usize>,
    stats: LnsStats,
}

impl LnsEmulator {
    /// An emulator for `config`; `seed` seeds tunnel and session ids,
    /// Magic-Numbers and challenges.
    pub fn new(mut config: LnsConfig, seed: [u8; 32]) -> Self {
        config.endpoint.accept_calls = true;
        let mut rng = StdRng::from_seed(seed);
        let endpoint = Endpoint::new(config.endpoint.clone(), rng.random());
        let mut user_index = HashMap::with_capacity(config.users.len());
        for (i, user) in config.users.iter().enumerate() {
            user_index.entry(user.user.clone()).or_insert(i);
        }
        Self {
            user_index,
            link: config.link(),
            pool: Pool::new(config.pool, config.local_address),
            config,
            endpoint,
            rng,
            sessions: HashMap::new(),
            timers: BinaryHeap::new(),
            ready: VecDeque::new(),
            replies: VecDeque::new(),
            spare: Vec::new(),
            stats: LnsStats::default(),
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &LnsConfig {
        &self.config
    }

    /// The L2TP endpoint (tunnels and sessions, for reports).
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LnsStats {
        let mut stats = self.stats.clone();
        stats.sessions = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        stats.sessions_network_up =
            u32::try_from(self.sessions.values().filter(|s| s.network_up).count())
                .unwrap_or(u32::MAX);
        stats.addresses_in_use = u32::try_from(
            self.sessions
                .values()
                .filter(|s| s.address.is_some())
                .count(),
        )
        .unwrap_or(u32::MAX);
        stats
    }

    /// Clears every tunnel with StopCCN result 6, "requester is being
    /// shut down" (RFC 2661 §4.4.2), which clears their calls (§5.7).
    pub fn shutdown(&mut self, now: Instant) {
        self.endpoint
            .close_all_tunnels(now, &ResultCode::stop_ccn(StopCcnResult::ShuttingDown));
        self.endpoint_events(now);
    }

    /// The address given to the subscriber of `handle`, once assigned.
    pub fn session_address(&self, handle: SessionHandle) -> Option<Ipv4Addr> {
        self.sessions.get(&handle)?.address
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// A UDP datagram from `from`: control messages go to the endpoint,
    /// data messages to their session's PPP link or pinger.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if crate::l2tp::is_control(datagram) {
            self.endpoint.handle_datagram(now, from, datagram);
            self.endpoint_events(now);
            return;
        }
        let Ok(packet) = L2tpPacket::new_checked(datagram) else {
            return self.drop_data();
        };
        let handle = SessionHandle {
            tunnel_id: packet.tunnel_id(),
            session_id: packet.session_id(),
        };
        let Some(session) = self
            .sessions
            .get_mut(&handle)
            .filter(|s| s.down.is_none() && s.peer.ip() == from.ip())
        else {
            return self.drop_data();
        };
        // RFC 2661 §5.4 / RFC 1662 §3.1: Address/Control optional on
        // receipt; `PppFrame` also reads a compressed Protocol field.
        let Ok(ppp) = PppFrame::new_checked(packet.payload()) else {
            return self.drop_data();
        };
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += packet.payload().len() as u64;
        if ppp.protocol() == Protocol::Ipv4 {
            let answerable = session.network_up
                && icmp::parse_echo(ppp.payload())
                    .is_some_and(|e| !e.is_reply && e.dst == self.config.local_address);
            if !answerable {
                self.stats.ipv4_ignored += 1;
                return;
            }
            if self.replies.len() >= MAX_QUEUED_REPLIES {
                self.stats.replies_dropped += 1;
                return;
            }
            let mut reply = self.spare.pop().unwrap_or_default();
            reply.clear();
            reply.extend_from_slice(ppp.payload());
            match icmp::answer_echo(&mut reply, self.config.local_address) {
                Some(len) => {
                    reply.truncate(len);
                    self.replies.push_back((handle, reply));
                    self.stats.pings_answered += 1;
                }
                None => self.spare.push(reply),
            }
            return;
        }
        session
            .link
            .handle_frame(now, ppp.protocol(), ppp.payload());
        self.drive(now, handle);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|at| at <= now) {
            self.endpoint.handle_timeout(now);
            self.endpoint_events(now);
        }
        while let Some(&Reverse((at, handle))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(session) = self.sessions.get_mut(&handle) else {
                continue;
            };
            if session.armed != Some(at) {
                continue; // superseded
            }
            session.armed = None;
            if session.link.poll_timeout().is_some_and(|t| t <= now) {
                session.link.handle_timeout(now);
            }
            self.drive(now, handle);
        }
        self.prune_timers();
    }

    /// Drops superseded entries from the top of the timer heap, so that
    /// [`Self::poll_timeout`] names a live timer.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((at, handle))) = self.timers.peek() {
            if self
                .sessions
                .get(&handle)
                .is_some_and(|s| s.armed == Some(at))
            {
                return;
            }
            self.timers.pop();
        }
    }

    /// The earliest instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = self.timers.peek().map(|Reverse((at, _))| *at);
        self.endpoint
            .poll_timeout()
            .into_iter()
            .chain(session)
            .min()
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// The next datagram to send, written at the start of `buf`: its
    /// destination and length. Control messages first, then echo replies,
    /// then the links' PPP control frames.
    ///
    /// `buf` should hold [`MAX_CONTROL_LEN`] bytes, which every datagram
    /// fits. With a shorter one, a control message or echo reply that does
    /// not fit stays queued (the endpoint counts and logs control
    /// messages), and a PPP frame that does not fit is dropped and counted
    /// by its link, as [`Link::poll_transmit`] does.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        if let Some(out) = self.endpoint.poll_transmit(now, buf) {
            self.endpoint_events(now);
            return Some(out);
        }
        while let Some((handle, reply)) = self.replies.pop_front() {
            let Some(session) = self.sessions.get(&handle) else {
                self.spare.push(reply);
                continue;
            };
            let Some(end) = DATA_HEADROOM
                .checked_add(reply.len())
                .filter(|end| *end <= buf.len())
            else {
                // Too long for this buffer: it waits for a longer one.
                self.replies.push_front((handle, reply));
                break;
            };
            let peer = session.peer;
            let peer_ids = session.peer_ids;
            let out = match buf.get_mut(DATA_HEADROOM..end) {
                Some(room) => {
                    room.copy_from_slice(&reply);
                    frame_data(buf, peer_ids, Protocol::Ipv4, reply.len())
                }
                None => None,
            };
            self.spare.push(reply);
            if let Some(len) = out {
                self.count_tx(len);
                return Some((peer, len));
            }
        }
        while let Some(&handle) = self.ready.front() {
            if let Some(out) = self.transmit_link(now, handle, buf) {
                self.count_tx(out.1);
                return Some(out);
            }
            self.ready.pop_front();
            if let Some(session) = self.sessions.get_mut(&handle) {
                session.queued = false;
            }
        }
        // Clearing calls may have queued CDNs.
        let out = self.endpoint.poll_transmit(now, buf);
        self.endpoint_events(now);
        out
    }

    fn count_tx(&mut self, datagram_len: usize) {
        self.stats.tx_packets += 1;
        self.stats.tx_bytes +=
            datagram_len.saturating_sub(HeaderRepr::data(0, 0).header_len()) as u64;
    }

    /// The next PPP control frame of session `handle`, framed as a data
    /// message; a closing session whose link has nothing left is cleared.
    fn transmit_link(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        buf: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        let session = self.sessions.get_mut(&handle)?;
        let room = buf.get_mut(DATA_HEADROOM..)?;
        if let Some((protocol, len)) = session.link.poll_transmit(room) {
            let len = frame_data(buf, session.peer_ids, protocol, len)?;
            return Some((session.peer, len));
        }
        if let Some(reason) = session.down {
            // RFC 2661 §4.4.2: the CDN's Result Code says why the call
            // was cleared.
            let code = CdnResult::from(reason.l2tp_cdn_result_code());
            let result = if code == CdnResult::ErrorCode {
                ResultCode::cdn(code)
                    .with_error(GeneralError::VendorSpecific, reason.pppoe_generic_error())
            } else {
                ResultCode::cdn(code)
            };
            self.remove(handle);
            self.endpoint.close_session(now, handle, result, None);
        }
        None
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn drop_data(&mut self) {
        self.stats.data_dropped += 1;
    }

    /// Forgets session `handle` and frees its address.
    fn remove(&mut self, handle: SessionHandle) {
        if let Some(session) = self.sessions.remove(&handle)
            && let Some(addr) = session.address
        {
            self.pool.release(addr);
        }
        self.prune_timers();
    }

    fn endpoint_events(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                L2tpEvent::TunnelUp { .. } => {
                    self.stats.tunnels += 1;
                    self.stats.tunnels_total += 1;
                }
                L2tpEvent::TunnelDown {
                    was_established, ..
                } => {
                    if was_established {
                        self.stats.tunnels = self.stats.tunnels.saturating_sub(1);
                        self.stats.tunnels_down += 1;
                    } else {
                        self.stats.tunnels_failed += 1;
                    }
                }
                L2tpEvent::SessionRequest { handle, .. } => {
                    if self.sessions.len() >= self.config.max_sessions {
                        self.stats.sessions_refused += 1;
                        let result = ResultCode::cdn(CdnResult::FacilitiesTemporarilyUnavailable)
                            .with_error(GeneralError::InsufficientResources, "session limit");
                        self.endpoint.refuse_session(now, handle, result);
                    } else {
                        self.endpoint.accept_session(now, handle);
                    }
                }
                L2tpEvent::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    ..
                } => self.session_up(now, handle, peer, (peer_tunnel_id, peer_session_id)),
                L2tpEvent::SessionDown {
                    handle,
                    was_established,
                    ..
                } => {
                    if was_established {
                        self.stats.sessions_down += 1;
                    }
                    if let Some(session) = self.sessions.get_mut(&handle) {
                        session.link.lower_down(now);
                    }
                    self.remove(handle);
                }
                _ => {}
            }
        }
    }

    fn session_up(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        peer: SocketAddr,
        peer_ids: (u16, u16),
    ) {
        let Some(address) = self.pool.allocate() else {
            self.stats.sessions_refused += 1;
            let result = ResultCode::cdn(CdnResult::FacilitiesTemporarilyUnavailable).with_error(
                GeneralError::InsufficientResources,
                "address pool exhausted",
            );
            self.endpoint.close_session(now, handle, result, None);
            return;
        };
        self.stats.sessions_total += 1;
        let mut link = Link::new(self.link.clone(), self.rng.random());
        link.open(now);
        let dns = self
            .config
            .dns
            .first()
            .map(|primary| (*primary, self.config.dns.get(1).copied()));
        link.assign_ipv4(now, address, dns);
        if let Some(old) = self.sessions.insert(
            handle,
            Session {
                peer,
                peer_ids,
                link,
                address: Some(address),
                up_at: now,
                network_up: false,
                down: None,
                armed: None,
                queued: false,
            },
        ) && let Some(addr) = old.address
        {
            self.pool.release(addr);
        }
        self.drive(now, handle);
    }

    /// After any input to session `handle`: its link's events, then its
    /// timer and its place in the ready queue.
    fn drive(&mut self, now: Instant, handle: SessionHandle) {
        while let Some(event) = self
            .sessions
            .get_mut(&handle)
            .and_then(|s| s.link.poll_event())
        {
            let Some(session) = self.sessions.get_mut(&handle) else {
                break;
            };
            match event {
                LinkEvent::AuthRequested(request) => {
                    let (users, index) = (&self.config.users, &self.user_index);
                    let decision =
                        verify_with(|name| index.get(name).and_then(|&i| users.get(i)), &request);
                    match decision {
                        AuthDecision::Accept { .. } => self.stats.auth_accepted += 1,
                        AuthDecision::Reject { .. } => self.stats.auth_rejected += 1,
                    }
                    session.link.auth_complete(now, decision);
                }
                LinkEvent::NetworkUp { ipv4: Some(_), .. } => {
                    if !session.network_up {
                        self.stats
                            .ppp_setup
                            .record(now.saturating_duration_since(session.up_at));
                    }
                    session.network_up = true;
                }
                LinkEvent::NetworkDown {
                    protocol: Protocol::Ipcp,
                }
                | LinkEvent::Renegotiating => session.network_up = false,
                LinkEvent::Down { reason } => {
                    session.network_up = false;
                    session.down = Some(reason);
                }
                _ => {}
            }
        }
        let Some(session) = self.sessions.get_mut(&handle) else {
            return;
        };
        let next = session
            .link
            .poll_timeout()
            .filter(|_| session.down.is_none());
        if next != session.armed {
            session.armed = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, handle)));
            }
        }
        if !session.queued {
            session.queued = true;
            self.ready.push_back(handle);
        }
        if self.timers.len() > 2 * self.sessions.len() + 64 {
            self.timers = self
                .sessions
                .iter()
                .filter_map(|(h, s)| Some(Reverse((s.armed?, *h))))
                .collect();
        }
        self.prune_timers();
    }
}

/// Checks credentials against the user list the way an AAA server would:
/// PAP compares the password, CHAP-MD5 checks MD5(Identifier ‖ secret ‖
/// challenge) (RFC 1994 §4.1), MS-CHAPv2 checks the NT-Response and returns
/// the authenticator response (RFC 2759 §8.7).
#[cfg(test)]
pub(super) fn verify(users: &[Credentials], request: &AuthRequest) -> AuthDecision {
    verify_with(|name| users.iter().find(|u| u.user == name), request)
}

/// `verify` with the user looked up by `find` (the emulator keeps an
/// index, so that authentication does not cost a scan of every user).
fn verify_with<'a>(
    find: impl Fn(&[u8]) -> Option<&'a Credentials>,
    request: &AuthRequest,
) -> AuthDecision {
    let reject = AuthDecision::Reject {
        message: Some("authentication failed".to_owned()),
    };
    let name = request.user();
    // MS-CHAPv2 names may carry a Windows domain (RFC 2759 §4).
    let user = find(name).or_else(|| find(mschap_user_name(name)));
    let Some(user) = user else {
        return reject;
    };
    let accept = |mschapv2_authenticator_response| AuthDecision::Accept {
        message: None,
        mschapv2_authenticator_response,
    };
    match request {
        AuthRequest::Pap { password, .. } => {
            if crate::wire::ct_eq(password.expose(), &user.password) {
                accept(None)
            } else {
                reject
            }
        }
        AuthRequest::Chap {
            id,
            challenge,
            response,
            ..
        } => {
            if verify_chap_md5(*id, &user.password, challenge, response) {
                accept(None)
            } else {
                reject
            }
        }
        AuthRequest::MsChapV2 {
            user: name,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            ..
        } => match verify_mschapv2(
            mschap_user_name(name),
            &user.password,
            authenticator_challenge,
            peer_challenge,
            nt_response,
        ) {
            Some(response) => accept(Some(response)),
            None => reject,
        },
    }
}

/// Frames the PPP information field at `buf[DATA_HEADROOM..DATA_HEADROOM +
/// len]` as an L2TP data message to `(tunnel, session)`: `FF 03`, the
/// Protocol field (RFC 2661 §5.4, RFC 1662 §3.1) and the smallest data
/// header. Returns the datagram's length; it starts at `buf[0]`.
fn frame_data(
    buf: &mut [u8],
    (tunnel, session): (u16, u16),
    protocol: Protocol,
    len: usize,
) -> Option<usize> {
    let header = FrameHeader {
        address_control: true,
        protocol,
    };
    let ppp_start = header.emit_in_headroom(buf, DATA_HEADROOM).ok()?;
    let ppp_len = DATA_HEADROOM.checked_add(len)?.checked_sub(ppp_start)?;
    let start = HeaderRepr::data(tunnel, session)
        .emit_before(buf, ppp_start, ppp_len)
        .ok()?;
    let end = ppp_start + ppp_len;
    if start != 0 {
        buf.copy_within(start..end, 0);
    }
    Some(end - start)
}

/// Runs `lns` on `socket` until `stop` is set, then clears every tunnel
/// (StopCCN) and returns. `report` gets a fresh [`LnsStats`] every
/// ~100 ms and at the end. Datagrams are received up to 64 at a time
/// with one `recvmmsg(2)` ([`UdpBatch`]), so the emulator keeps up with a
/// LAC forwarding at full rate.
pub fn run_lns(
    socket: UdpSocket,
    mut lns: LnsEmulator,
    stop: &AtomicBool,
    report: &Mutex<LnsStats>,
) {
    if let Err(err) = socket.set_nonblocking(true) {
        tracing::error!(%err, "LNS emulator: cannot make its socket non-blocking");
        return;
    }
    // One recvmmsg(2) per loop; datagrams longer than a slot (no LAC
    // sends any) are skipped.
    let mut batch = UdpBatch::new(BATCH, RECV_SLOT);
    let mut send = vec![0u8; MAX_CONTROL_LEN];
    let mut last_report: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut busy = false;
        if batch.recv(&socket, false).is_ok() {
            busy = !batch.is_empty();
            let now = Instant::now();
            for (from, datagram) in batch.iter() {
                if let Some(from) = from {
                    lns.handle_datagram(now, from, datagram);
                }
            }
        }
        let now = Instant::now();
        if lns.poll_timeout().is_some_and(|at| at <= now) {
            lns.handle_timeout(now);
        }
        while let Some((to, len)) = lns.poll_transmit(now, &mut send) {
            busy = true;
            if let Some(datagram) = send.get(..len) {
                // A full socket buffer loses the datagram, like a network
                // would; the control channel retransmits.
                let _ = socket.send_to(datagram, to);
            }
        }
        if last_report.is_none_or(|at| now.saturating_duration_since(at) >= REPORT_INTERVAL) {
            *report
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = lns.stats();
            last_report = Some(now);
        }
        if !busy {
            let wait = lns
                .poll_timeout()
                .map_or(Duration::from_millis(1), |at| {
                    at.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_millis(1));
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
    // StopCCN to every LAC, sent once (no one waits for the
    // acknowledgements).
    let now = Instant::now();
    lns.shutdown(now);
    while let Some((to, len)) = lns.poll_transmit(now, &mut send) {
        if let Some(datagram) = send.get(..len) {
            let _ = socket.send_to(datagram, to);
        }
    }
    *report
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = lns.stats();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::l2tp::{CallInfo, OpenSession};
    use crate::ppp::ncp::Ipv4Negotiated;

    const LAC_ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1701);
    const LNS_ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1701);
    const LNS_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const SECRET: &[u8] = b"tunnel-secret";
    const STEP: Duration = Duration::from_millis(5);

    fn user(name: &str, password: &str) -> Credentials {
        Credentials {
            user: name.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        }
    }

    fn lns_config(pool: &str) -> LnsConfig {
        let mut config = LnsConfig::new(
            "192.0.2.0/24".parse().unwrap(),
            SECRET,
            vec![user("alice", "alice-pw"), user("bob", "bob-pw")],
            LNS_IP,
            pool.parse().unwrap(),
        );
        config.dns = vec![Ipv4Addr::new(10, 0, 0, 53)];
        config
    }

    /// One call of the LAC side: a client link inside the tunnel.
    #[derive(Debug, Default)]
    struct Call {
        ids: Option<(u16, u16)>,
        link: Option<Link>,
        ipv4: Option<Ipv4Negotiated>,
        down: bool,
        link_down: bool,
        ipv4_received: Vec<Vec<u8>>,
    }

    /// Our L2TP endpoint as a LAC, with a PPP client link per call.
    struct World {
        now: Instant,
        lns: LnsEmulator,
        lac: Endpoint,
        calls: BTreeMap<u64, Call>,
        credentials: BTreeMap<u64, (Credentials, Vec<AuthMethod>)>,
        /// Every data message the LNS sent.
        lns_data: Vec<Vec<u8>>,
        /// Every control datagram each side sent, with the time.
        lac_control: Vec<(Instant, Vec<u8>)>,
        lns_control: Vec<(Instant, Vec<u8>)>,
        /// Impairment of the path, both ways: RNG, loss and duplication
        /// probabilities.
        impairment: Option<(StdRng, f64, f64)>,
    }

    impl World {
        fn new(config: LnsConfig) -> Self {
            Self {
                now: Instant::now(),
                lns: LnsEmulator::new(config, [4; 32]),
                lac: Endpoint::new(
                    EndpointConfig {
                        accept_calls: false,
                        ..EndpointConfig::default()
                    },
                    [5; 32],
                ),
                calls: BTreeMap::new(),
                credentials: BTreeMap::new(),
                lns_data: Vec::new(),
                lac_control: Vec::new(),
                lns_control: Vec::new(),
                impairment: None,
            }
        }

        fn dial(&mut self, request_id: u64, credentials: Credentials, methods: &[AuthMethod]) {
            self.lac
                .open_session(
                    self.now,
                    OpenSession {
                        peer: LNS_ADDR,
                        secret: SECRET.to_vec(),
                        assignment_id: None,
                        client_auth_id: None,
                        call: CallInfo::default(),
                        request_id,
                    },
                )
                .unwrap();
            self.credentials
                .insert(request_id, (credentials, methods.to_vec()));
            self.calls.insert(request_id, Call::default());
        }

        /// A data message from the LAC on call `request_id` with `ppp`
        /// (whatever framing the test chose).
        /// How many copies of a datagram the path delivers (0, 1 or 2).
        fn copies(&mut self) -> usize {
            match self.impairment.as_mut() {
                None => 1,
                Some((rng, loss, duplicate)) => {
                    if rng.random_bool(*loss) {
                        0
                    } else if rng.random_bool(*duplicate) {
                        2
                    } else {
                        1
                    }
                }
            }
        }

        fn lac_sends(&mut self, request_id: u64, ppp: &[u8]) {
            let (tunnel, session) = self.calls[&request_id].ids.unwrap();
            let mut datagram = vec![0u8; 6 + ppp.len()];
            datagram[6..].copy_from_slice(ppp);
            let start = HeaderRepr::data(tunnel, session)
                .emit_before(&mut datagram, 6, ppp.len())
                .unwrap();
            assert_eq!(start, 0);
            for _ in 0..self.copies() {
                self.lns.handle_datagram(self.now, LAC_ADDR, &datagram);
            }
        }

        fn step(&mut self) {
            let now = self.now;
            if self.lac.poll_timeout().is_some_and(|t| t <= now) {
                self.lac.handle_timeout(now);
            }
            if self.lns.poll_timeout().is_some_and(|t| t <= now) {
                self.lns.handle_timeout(now);
            }
            let mut buf = vec![0u8; MAX_CONTROL_LEN];
            while let Some((to, len)) = self.lac.poll_transmit(now, &mut buf) {
                assert_eq!(to, LNS_ADDR);
                if crate::l2tp::is_control(&buf[..len]) {
                    self.lac_control.push((now, buf[..len].to_vec()));
                }
                for _ in 0..self.copies() {
                    self.lns.handle_datagram(now, LAC_ADDR, &buf[..len]);
                }
            }
            while let Some(event) = self.lac.poll_event() {
                match event {
                    L2tpEvent::SessionUp {
                        request_id,
                        peer_tunnel_id,
                        peer_session_id,
                        ..
                    } => {
                        let (credentials, methods) = self.credentials[&request_id].clone();
                        let mut config = LinkConfig::client(credentials);
                        config.auth_methods = methods;
                        config.echo_interval = None;
                        config.ipv6 = false;
                        config.accept_compression = true;
                        let mut link = Link::new(config, [request_id as u8; 32]);
                        link.open(now);
                        let call = self.calls.get_mut(&request_id).unwrap();
                        call.ids = Some((peer_tunnel_id, peer_session_id));
                        call.link = Some(link);
                    }
                    L2tpEvent::SessionDown { request_id, .. } => {
                        let call = self.calls.get_mut(&request_id).unwrap();
                        call.down = true;
                        if let Some(link) = call.link.as_mut() {
                            link.lower_down(now);
                        }
                    }
                    _ => {}
                }
            }
            let ids: Vec<u64> = self.calls.keys().copied().collect();
            for id in ids {
                let mut frames = Vec::new();
                let call = self.calls.get_mut(&id).unwrap();
                let Some(link) = call.link.as_mut() else {
                    continue;
                };
                if link.poll_timeout().is_some_and(|t| t <= now) {
                    link.handle_timeout(now);
                }
                while let Some(event) = link.poll_event() {
                    match event {
                        LinkEvent::NetworkUp { ipv4, .. } => call.ipv4 = ipv4,
                        LinkEvent::Down { .. } => call.link_down = true,
                        _ => {}
                    }
                }
                let mut out = [0u8; 1600];
                while let Some((protocol, len)) = link.poll_transmit(&mut out[4..]) {
                    FrameHeader {
                        address_control: true,
                        protocol,
                    }
                    .emit(&mut out)
                    .unwrap();
                    frames.push(out[..4 + len].to_vec());
                }
                if call.down {
                    continue;
                }
                for frame in frames {
                    self.lac_sends(id, &frame);
                }
            }
            let mut buf = vec![0u8; MAX_CONTROL_LEN];
            let mut downstream = Vec::new();
            while let Some((to, len)) = self.lns.poll_transmit(now, &mut buf) {
                assert_eq!(to, LAC_ADDR);
                for _ in 0..self.copies() {
                    downstream.push(buf[..len].to_vec());
                }
            }
            for datagram in downstream {
                if crate::l2tp::is_control(&datagram) {
                    self.lns_control.push((now, datagram.clone()));
                    self.lac.handle_datagram(now, LNS_ADDR, &datagram);
                    continue;
                }
                let packet = L2tpPacket::new_checked(&datagram[..]).unwrap();
                let ppp = PppFrame::new_checked(packet.payload()).unwrap();
                assert!(ppp.has_address_control(), "the LNS sends FF 03");
                assert!(!ppp.is_protocol_compressed());
                self.lns_data.push(datagram.clone());
                // The LNS's first LCP Configure-Request may beat the LAC's
                // SessionUp (held until the ICCN is acknowledged): dropped
                // here, PPP retransmits it.
                let session = packet.session_id();
                let Some(call) = self
                    .calls
                    .values_mut()
                    .find(|c| c.ids.is_some() && !c.down && self_session(&self.lac, c, session))
                else {
                    continue;
                };
                if ppp.protocol() == Protocol::Ipv4 {
                    call.ipv4_received.push(ppp.payload().to_vec());
                } else if let Some(link) = call.link.as_mut() {
                    link.handle_frame(now, ppp.protocol(), ppp.payload());
                }
            }
            self.now += STEP;
        }

        fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
            let end = self.now + limit;
            while self.now < end {
                self.step();
                if done(self) {
                    return true;
                }
            }
            false
        }

        fn ping(&mut self, request_id: u64, seq: u16, pfc: bool) {
            let ipv4 = self.calls[&request_id].ipv4.unwrap();
            let mut packet = [0u8; 128];
            let len =
                icmp::write_echo_request(&mut packet, (ipv4.local, ipv4.peer), 9, seq, 32).unwrap();
            let mut ppp = if pfc {
                vec![0x21]
            } else {
                vec![0xff, 0x03, 0x00, 0x21]
            };
            ppp.extend_from_slice(&packet[..len]);
            self.lac_sends(request_id, &ppp);
        }
    }

    /// Whether data for our Session ID `session` belongs to `call` (the LAC
    /// endpoint knows which of its sessions has those peer ids).
    fn self_session(lac: &Endpoint, call: &Call, session: u16) -> bool {
        let Some((peer_tunnel, peer_session)) = call.ids else {
            return false;
        };
        lac.tunnels().iter().any(|t| {
            lac.session(t.tunnel_id, session).is_some_and(|s| {
                s.peer_tunnel_id == peer_tunnel && s.peer_session_id == peer_session
            })
        })
    }

    #[test]
    fn a_call_gets_an_address_and_its_pings_are_answered_for_each_method() {
        for method in [AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap] {
            let mut world = World::new(lns_config("10.0.0.0/29"));
            world.dial(1, user("alice", "alice-pw"), &[method]);
            assert!(
                world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()),
                "{method:?}: {:?}",
                world.lns.stats()
            );
            let ipv4 = world.calls[&1].ipv4.unwrap();
            assert_eq!(ipv4.local, Ipv4Addr::new(10, 0, 0, 2), "first pool address");
            assert_eq!(ipv4.peer, LNS_IP);
            assert_eq!(ipv4.primary_dns, Some(Ipv4Addr::new(10, 0, 0, 53)));
            world.ping(1, 1, false);
            world.ping(1, 2, true);
            world.step();
            let replies = &world.calls[&1].ipv4_received;
            assert_eq!(replies.len(), 2, "{method:?}");
            for (reply, seq) in replies.iter().zip([1, 2]) {
                let echo = icmp::parse_echo(reply).expect("valid checksums");
                assert!(echo.is_reply);
                assert_eq!(
                    (echo.src, echo.dst, echo.ident, echo.seq),
                    (LNS_IP, ipv4.local, 9, seq)
                );
            }
            let stats = world.lns.stats();
            assert_eq!(stats.auth_accepted, 1);
            assert_eq!(stats.auth_rejected, 0);
            assert_eq!(stats.pings_answered, 2);
            assert_eq!((stats.tunnels, stats.tunnels_total), (1, 1));
            assert_eq!((stats.sessions, stats.sessions_total), (1, 1));
            assert_eq!(stats.sessions_network_up, 1);
            assert_eq!(stats.addresses_in_use, 1);
            assert_eq!(stats.ppp_setup.count(), 1);
            assert_eq!(stats.tx_packets as usize, world.lns_data.len());
            assert!(stats.rx_bytes > 0 && stats.tx_bytes > 0);
            assert_eq!(stats.data_dropped, 0);
            assert_eq!(
                world
                    .lns
                    .session_address(world.lns.sessions.keys().copied().next().unwrap()),
                Some(ipv4.local)
            );
        }
    }

    #[test]
    fn calls_come_up_over_a_lossy_duplicating_path() {
        for seed in 0..4u8 {
            let mut world = World::new(lns_config("10.0.0.0/24"));
            // 10 % loss and 5 % duplicates both ways: the control channel
            // (RFC 2661 §5.8) and PPP (RFC 1661 Restart timer) recover.
            world.impairment = Some((StdRng::from_seed([seed; 32]), 0.10, 0.05));
            for id in 1..=5 {
                world.dial(id, user("alice", "alice-pw"), &[AuthMethod::MsChapV2]);
            }
            assert!(
                world.run_until(Duration::from_secs(120), |w| w
                    .calls
                    .values()
                    .all(|c| c.ipv4.is_some())),
                "seed {seed}: {:?}",
                world.lns.stats()
            );
            for seq in 0..40 {
                for id in 1..=5 {
                    world.ping(id, seq, false);
                }
                world.step();
            }
            // A duplicated Configure-Request makes PPP renegotiate (RFC 1661
            // §4: Configure-Request in Opened); it settles again.
            assert!(world.run_until(Duration::from_secs(60), |w| {
                w.lns.stats().sessions_network_up == 5
            }));
            let stats = world.lns.stats();
            assert_eq!(stats.sessions, 5, "seed {seed}");
            assert_eq!(stats.addresses_in_use, 5);
            // Every request that arrived was answered (duplicates too).
            assert!(
                stats.pings_answered > 100 && stats.pings_answered < 240,
                "{stats:?}"
            );
            let received: usize = world.calls.values().map(|c| c.ipv4_received.len()).sum();
            assert!(received > 80, "seed {seed}: {received}");
        }
    }

    #[test]
    fn shutdown_clears_every_tunnel_and_call() {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        world.dial(2, user("bob", "bob-pw"), &[AuthMethod::ChapMd5]);
        assert!(world.run_until(Duration::from_secs(10), |w| {
            w.calls.values().all(|c| c.ipv4.is_some())
        }));
        world.lns.shutdown(world.now);
        assert!(world.run_until(Duration::from_secs(5), |w| w.calls.values().all(|c| c.down)));
        let stats = world.lns.stats();
        assert_eq!(
            (stats.tunnels, stats.sessions, stats.addresses_in_use),
            (0, 0, 0)
        );
        assert_eq!(stats.tunnels_total, 1);
        assert_eq!((stats.tunnels_down, stats.tunnels_failed), (1, 0));
        assert_eq!(stats.sessions_down, 2);
    }

    #[test]
    fn the_deployed_lns_profile_acknowledges_only_after_its_delay() {
        use crate::wire::l2tp::{ControlMessage, MessageType};

        let config = lns_config("10.0.0.0/24")
            .like_deployed_lns(DEPLOYED_LNS_RECEIVE_WINDOW, DEPLOYED_LNS_ACK_DELAY);
        let channel = &config.endpoint.channel;
        assert_eq!(
            (
                channel.receive_window,
                channel.ack_delay,
                channel.piggyback_acks,
                channel.immediate_ack_at_half_window
            ),
            (8, Duration::from_millis(10), false, false)
        );
        let mut world = World::new(config);
        const CALLS: u64 = 30;
        for id in 1..=CALLS {
            world.dial(id, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        }
        assert!(
            world.run_until(Duration::from_secs(30), |w| w
                .calls
                .values()
                .all(|c| c.ipv4.is_some())),
            "{:?}",
            world.lns.stats()
        );
        let stats = world.lns.stats();
        assert_eq!((stats.tunnels, stats.sessions_network_up), (1, 30));
        assert_eq!((stats.tunnels_down, stats.tunnels_failed), (0, 0));
        assert_eq!(stats.sessions_down, 0);

        let parse = |bytes: &[u8]| ControlMessage::from_bytes(bytes, None).unwrap();
        // The SCCRP advertises window 8 and does not acknowledge the
        // SCCRQ it answers (Nr 0): that is left to the delayed ZLB.
        let sccrp = world
            .lns_control
            .iter()
            .map(|(_, bytes)| parse(bytes))
            .find(|m| m.message_type == Some(MessageType::Sccrp))
            .expect("SCCRP");
        assert_eq!((sccrp.ns, sccrp.nr), (0, 0));
        assert_eq!(sccrp.receive_window_size(), Some(8));

        // When each LAC message arrived (no loss: sent once each).
        let mut arrived = HashMap::new();
        for (at, bytes) in &world.lac_control {
            let msg = parse(bytes);
            if !msg.is_zlb() {
                assert!(arrived.insert(msg.ns, *at).is_none(), "retransmitted");
            }
        }
        // Every acknowledgement the LNS sent came at least ack_delay after
        // the oldest message it acknowledged, and most were ZLBs.
        let (mut acked, mut acks, mut zlbs) = (0u16, 0, 0);
        for (at, bytes) in &world.lns_control {
            let msg = parse(bytes);
            if msg.nr == acked {
                continue;
            }
            acks += 1;
            zlbs += usize::from(msg.is_zlb());
            let first = arrived[&acked];
            assert!(
                at.saturating_duration_since(first) >= DEPLOYED_LNS_ACK_DELAY,
                "Nr {} ({:?}) acknowledges Ns {acked}, which arrived {:?} before",
                msg.nr,
                msg.message_type,
                at.saturating_duration_since(first)
            );
            acked = msg.nr;
        }
        // SCCRQ, SCCCN, and an ICRQ and an ICCN per call.
        assert_eq!(usize::from(acked), arrived.len());
        assert_eq!(arrived.len(), 2 + 2 * CALLS as usize);
        assert!(acks > 0 && zlbs * 2 > acks, "{zlbs} ZLBs of {acks} acks");
    }

    #[test]
    fn other_ipv4_is_counted_and_not_answered() {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("bob", "bob-pw"), &[AuthMethod::ChapMd5]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
        let ipv4 = world.calls[&1].ipv4.unwrap();
        // An echo to another host, and a reply (not a request).
        let mut packet = [0u8; 64];
        let len = icmp::write_echo_request(
            &mut packet,
            (ipv4.local, Ipv4Addr::new(8, 8, 8, 8)),
            1,
            1,
            8,
        )
        .unwrap();
        let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
        ppp.extend_from_slice(&packet[..len]);
        world.lac_sends(1, &ppp);
        let len = icmp::write_echo_request(&mut packet, (ipv4.local, LNS_IP), 1, 1, 8).unwrap();
        icmp::answer_echo(&mut packet[..len], LNS_IP).unwrap();
        let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
        ppp.extend_from_slice(&packet[..len]);
        world.lac_sends(1, &ppp);
        world.step();
        assert!(world.calls[&1].ipv4_received.is_empty());
        let stats = world.lns.stats();
        assert_eq!(stats.ipv4_ignored, 2);
        assert_eq!(stats.pings_answered, 0);
    }

    #[test]
    fn a_wrong_password_is_rejected_and_the_call_cleared() {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "wrong"), &[AuthMethod::Pap]);
        assert!(
            world.run_until(Duration::from_secs(30), |w| w.calls[&1].down),
            "{:?}",
            world.lns.stats()
        );
        let stats = world.lns.stats();
        assert!(stats.auth_rejected >= 1);
        assert_eq!(stats.auth_accepted, 0);
        assert_eq!(stats.sessions, 0);
        assert_eq!(stats.addresses_in_use, 0);
        assert!(world.calls[&1].ipv4.is_none());
        // An unknown user too.
        world.dial(2, user("mallory", "x"), &[AuthMethod::MsChapV2]);
        assert!(world.run_until(Duration::from_secs(30), |w| w.calls[&2].down));
        assert_eq!(world.lns.stats().auth_accepted, 0);
    }

    #[test]
    fn a_call_cleared_by_the_lac_frees_its_address() {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| {
            w.calls.values().all(|c| c.ipv4.is_some())
        }));
        assert_eq!(world.lns.stats().addresses_in_use, 2);
        let first = world.calls[&1].ipv4.unwrap().local;
        let handle = world
            .lac
            .tunnels()
            .iter()
            .find_map(|t| {
                (1..=u16::MAX).find_map(|s| {
                    let info = world.lac.session(t.tunnel_id, s)?;
                    (Some((info.peer_tunnel_id, info.peer_session_id)) == world.calls[&1].ids)
                        .then_some(SessionHandle {
                            tunnel_id: t.tunnel_id,
                            session_id: s,
                        })
                })
            })
            .unwrap();
        world.lac.close_session(
            world.now,
            handle,
            ResultCode::cdn(CdnResult::Administrative),
            None,
        );
        world.calls.get_mut(&1).unwrap().down = true;
        assert!(world.run_until(Duration::from_secs(5), |w| w.lns.stats().sessions == 1));
        assert_eq!(world.lns.stats().addresses_in_use, 1);
        // The next call gets the freed address.
        world.dial(3, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&3].ipv4.is_some()));
        assert_eq!(world.calls[&3].ipv4.unwrap().local, first);
    }

    #[test]
    fn an_exhausted_pool_or_session_limit_refuses_the_call() {
        // 10.0.0.0/30: .1 is the LNS, .2 the only subscriber address.
        let mut world = World::new(lns_config("10.0.0.0/30"));
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
        world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&2].down));
        assert_eq!(world.lns.stats().sessions_refused, 1);
        assert_eq!(world.lns.stats().sessions, 1);
        // A session limit of one.
        let mut world = World::new(LnsConfig {
            max_sessions: 1,
            ..lns_config("10.0.0.0/24")
        });
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
        world.dial(2, user("bob", "bob-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&2].down));
        assert_eq!(world.lns.stats().sessions_refused, 1);
    }

    #[test]
    fn data_for_unknown_sessions_or_from_elsewhere_is_dropped() {
        let mut world = World::new(lns_config("10.0.0.0/29"));
        world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
        assert!(world.run_until(Duration::from_secs(10), |w| w.calls[&1].ipv4.is_some()));
        let now = world.now;
        let (tunnel, session) = world
            .lns
            .sessions
            .keys()
            .map(|h| (h.tunnel_id, h.session_id))
            .next()
            .unwrap();
        let mut datagram = vec![0u8; 6 + 4];
        datagram[6..].copy_from_slice(&[0xff, 0x03, 0xc0, 0x21]);
        HeaderRepr::data(tunnel, session.wrapping_add(1))
            .emit_before(&mut datagram, 6, 4)
            .unwrap();
        world.lns.handle_datagram(now, LAC_ADDR, &datagram);
        HeaderRepr::data(tunnel, session)
            .emit_before(&mut datagram, 6, 4)
            .unwrap();
        world
            .lns
            .handle_datagram(now, "198.51.100.1:1701".parse().unwrap(), &datagram);
        // Empty PPP frame.
        world.lns.handle_datagram(now, LAC_ADDR, &datagram[..6]);
        assert_eq!(world.lns.stats().data_dropped, 3);
        assert_eq!(world.lns.stats().sessions, 1);
    }

    #[test]
    fn the_pool_skips_network_broadcast_and_our_own_address() {
        let mut pool = Pool::new("10.0.0.0/29".parse().unwrap(), Ipv4Addr::new(10, 0, 0, 3));
        let got: Vec<Ipv4Addr> = std::iter::from_fn(|| pool.allocate()).collect();
        let want: Vec<Ipv4Addr> = [1, 2, 4, 5, 6].map(|h| Ipv4Addr::new(10, 0, 0, h)).to_vec();
        assert_eq!(got, want);
        pool.release(Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 0, 4)));
        assert_eq!(pool.allocate(), None);
        // /31 and /32 have no network or broadcast address to skip.
        let mut pool = Pool::new("10.0.0.8/31".parse().unwrap(), LNS_IP);
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 0, 8)));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(pool.allocate(), None);
        let mut pool = Pool::new("255.255.255.255/32".parse().unwrap(), LNS_IP);
        assert_eq!(pool.allocate(), Some(Ipv4Addr::BROADCAST));
        assert_eq!(pool.allocate(), None);
    }

    #[test]
    fn verify_checks_each_method_against_the_user_list() {
        use crate::ppp::auth::Secret;
        use crate::ppp::auth::crypto::{chap_md5_response, generate_nt_response};
        let users = vec![user("alice", "alice-pw")];
        let accepted = |d: &AuthDecision| matches!(d, AuthDecision::Accept { .. });
        let pap = |password: &str| AuthRequest::Pap {
            user: b"alice".to_vec(),
            password: Secret::new(password.as_bytes().to_vec()),
        };
        assert!(accepted(&verify(&users, &pap("alice-pw"))));
        assert!(!accepted(&verify(&users, &pap("alice-pw "))));
        let challenge = vec![7u8; 16];
        let chap = |password: &[u8]| AuthRequest::Chap {
            user: b"alice".to_vec(),
            id: 3,
            challenge: challenge.clone(),
            response: chap_md5_response(3, password, &challenge).to_vec(),
        };
        assert!(accepted(&verify(&users, &chap(b"alice-pw"))));
        assert!(!accepted(&verify(&users, &chap(b"nope"))));
        let (auth, peer) = ([1u8; 16], [2u8; 16]);
        let mschap = |name: &[u8], password: &[u8]| AuthRequest::MsChapV2 {
            user: name.to_vec(),
            id: 1,
            authenticator_challenge: auth,
            peer_challenge: peer,
            nt_response: generate_nt_response(&auth, &peer, mschap_user_name(name), password),
            flags: 0,
        };
        let AuthDecision::Accept {
            mschapv2_authenticator_response: Some(_),
            ..
        } = verify(&users, &mschap(b"DOMAIN\\alice", b"alice-pw"))
        else {
            panic!("MS-CHAPv2 with a domain accepted, with an authenticator response");
        };
        assert!(!accepted(&verify(&users, &mschap(b"alice", b"bad"))));
        assert!(!accepted(&verify(&users, &mschap(b"bob", b"alice-pw"))));
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            datagram in proptest::collection::vec(any::<u8>(), 0..128),
            control in any::<bool>(),
        ) {
            let mut world = World::new(lns_config("10.0.0.0/29"));
            world.dial(1, user("alice", "alice-pw"), &[AuthMethod::Pap]);
            for _ in 0..400 {
                world.step();
            }
            let mut datagram = datagram;
            if control && datagram.len() >= 2 {
                datagram[0] = 0xc8;
                datagram[1] = 0x02;
            }
            world.lns.handle_datagram(world.now, LAC_ADDR, &datagram);
            let mut buf = vec![0u8; MAX_CONTROL_LEN];
            while world.lns.poll_transmit(world.now, &mut buf).is_some() {}
            prop_assert!(world.lns.stats().sessions <= 1);
        }
    }
}

/// The blocking driver on a real loopback socket, against our L2TP LAC
/// endpoint over UDP.
#[cfg(test)]
mod driver_tests {
    use std::sync::Arc;

    use super::*;
    use crate::l2tp::{CallInfo, OpenSession};

    #[test]
    fn run_lns_answers_a_lac_over_udp_and_reports() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let lns_addr = socket.local_addr().unwrap();
        let lns = LnsEmulator::new(
            LnsConfig::new(
                "127.0.0.0/8".parse().unwrap(),
                b"secret",
                Vec::new(),
                Ipv4Addr::new(10, 9, 0, 1),
                "10.9.0.0/24".parse().unwrap(),
            ),
            [1; 32],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(LnsStats::default()));
        let thread = {
            let (stop, report) = (Arc::clone(&stop), Arc::clone(&report));
            std::thread::spawn(move || run_lns(socket, lns, &stop, &report))
        };
        let lac_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        lac_socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut lac = Endpoint::new(
            EndpointConfig {
                accept_calls: false,
                ..EndpointConfig::default()
            },
            [2; 32],
        );
        lac.open_session(
            Instant::now(),
            OpenSession {
                peer: lns_addr,
                secret: b"secret".to_vec(),
                assignment_id: None,
                client_auth_id: None,
                call: CallInfo::default(),
                request_id: 7,
            },
        )
        .unwrap();
        // Drive the LAC until the LNS's report shows the call (the ICCN
        // goes out after the LAC's SessionUp; the report follows within
        // ~100 ms).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut up = false;
        let (mut buf, mut recv) = (vec![0u8; MAX_CONTROL_LEN], vec![0u8; 4096]);
        while Instant::now() < deadline {
            let now = Instant::now();
            while let Some((to, len)) = lac.poll_transmit(now, &mut buf) {
                lac_socket.send_to(&buf[..len], to).unwrap();
            }
            if let Ok((len, from)) = lac_socket.recv_from(&mut recv) {
                lac.handle_datagram(Instant::now(), from, &recv[..len]);
            }
            if lac.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                lac.handle_timeout(Instant::now());
            }
            while let Some(event) = lac.poll_event() {
                up |= matches!(event, L2tpEvent::SessionUp { request_id: 7, .. });
            }
            if up && report.lock().unwrap().sessions == 1 {
                break;
            }
        }
        assert!(up, "the call came up through run_lns");
        let stats = report.lock().unwrap().clone();
        assert_eq!(
            (stats.tunnels, stats.sessions, stats.sessions_total),
            (1, 1, 1)
        );
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        // Its last word: StopCCN "being shut down".
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut stopped = false;
        while !stopped && Instant::now() < deadline {
            if let Ok((len, from)) = lac_socket.recv_from(&mut recv) {
                lac.handle_datagram(Instant::now(), from, &recv[..len]);
            }
            while let Some(event) = lac.poll_event() {
                stopped |= matches!(
                    event,
                    L2tpEvent::TunnelDown {
                        cause: crate::l2tp::TunnelDownCause::PeerStopCcn,
                        ..
                    }
                );
            }
        }
        assert!(stopped, "StopCCN received");
    }
}
