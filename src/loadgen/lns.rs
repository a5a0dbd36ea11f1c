//! The test LNS of the demo, the benchmark and the load tests: the real
//! LNS — the node core [`NodeCore`] in the LNS role (DESIGN.md, "Three
//! roles, one session model") — in a thin harness that stands in for what
//! a deployed LNS has around it. Nothing here speaks L2TP or PPP itself;
//! the product keeps one LNS implementation.
//!
//! * **The core** accepts tunnels from the configured networks with their
//!   secrets (RFC 2661 §5.1.1 tunnel authentication, one `[[lns.peer]]`
//!   rule per [`PeerPolicy`] of [`LnsConfig::endpoint`]), admits calls up
//!   to [`LnsConfig::max_sessions`] (ICRQ → ICRP, §7.5; beyond it CDN
//!   result 4), runs PPP on each call (RFC 1661 LCP; PAP RFC 1334, CHAP
//!   RFC 1994, MS-CHAPv2 RFC 2759; IPCP RFC 1332 with DNS RFC 1877),
//!   leases the subscriber's address from [`LnsConfig::pool`] and forwards
//!   IP, as a `[lns]` node does (`node::convert::node_config` builds the
//!   same [`NodeCoreConfig`] from a file). By default the LAC's proxy LCP
//!   and authentication (§4.4.5) are ignored and PPP is negotiated again
//!   from scratch, as xl2tpd's pppd does ([`LnsConfig::proxy_lcp`],
//!   [`LnsConfig::proxy_auth`] choose the product's other policies).
//! * **A RADIUS stand-in** answers the core's [`Command::Authenticate`]
//!   from the configured users with [`LocalUsers`], the local-users backend
//!   of the product: PAP compares the password, CHAP-MD5 checks the
//!   response (RFC 1994 §4.1), MS-CHAPv2 checks the NT-Response and
//!   returns MS-CHAP2-Success (RFC 2759 §8, RFC 2548 §2.3.3). Accounting
//!   records are counted and dropped; routes are ignored.
//! * **An in-memory kernel** stands in for TUN: of the IP the core
//!   delivers ([`Forward::Tun`]), an ICMP Echo Request to the LNS's own
//!   address is answered in place (RFC 792: "The data received in the echo
//!   message must be returned in the echo reply message") and handed back
//!   to the core ([`NodeCore::handle_ip`]), which sends it down the call;
//!   every other packet is counted and dropped.
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
//! Inputs [`LnsHarness::handle_datagram`] and
//! [`LnsHarness::handle_timeout`]; outputs [`LnsHarness::poll_transmit`]
//! (control and data datagrams), [`LnsHarness::poll_timeout`],
//! [`LnsHarness::stats`]. Datagrams are handed to the core in one
//! receive buffer and echo replies reuse a pool of buffers, so the data
//! path allocates nothing once warm. [`run_lns`] is a blocking driver
//! over a UDP socket.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};

use super::LatencyHistogram;
use super::flood::{BATCH, UdpBatch};
use super::icmp;
use crate::aaa::attributes::Decision;
use crate::aaa::local::LocalUsers;
use crate::aaa::request::AuthRequest as RadiusRequest;
use crate::l2tp::{EndpointConfig, Event as L2tpEvent, MAX_CONTROL_LEN, PeerPolicy};
use crate::lns::policy::{LnsPolicyConfig, PeerRule, ProxyAuth, ProxyLcp};
use crate::lns::pool::PoolConfig;
use crate::observe::lns::{LnsEvent, LnsPhase};
use crate::ppp::auth::crypto::mschap_user_name;
use crate::ppp::auth::{AuthConfig, AuthMethod};
use crate::ppp::fsm::FsmConfig;
use crate::ppp::link::Credentials;
use crate::session::{
    Command, DOWNSTREAM_HEADROOM, Forward, LacEvent, NodeCore, NodeCoreConfig, SessionState,
};
use crate::wire::l2tp::Packet as L2tpPacket;

/// Echo replies waiting for `poll_transmit` at most (more are dropped and
/// counted).
const MAX_QUEUED_REPLIES: usize = 1024;

/// Largest datagram [`run_lns`] receives.
const RECV_SLOT: usize = 4096;

/// Room in front of a datagram handed to the core (what
/// [`NodeCore::handle_datagram`] asks of its callers).
const RX_HEADROOM: usize = DOWNSTREAM_HEADROOM;

/// How often [`run_lns`] publishes its statistics.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// The name of the one address pool.
const POOL_NAME: &str = "loadgen";

/// Receive window of the realistic LNS profile
/// ([`LnsConfig::like_deployed_lns`]): what the LNS of issue 11 advertised.
/// (xl2tpd advertises the RFC 2661 §4.4.3 default of 4.)
pub const DEPLOYED_LNS_RECEIVE_WINDOW: u16 = 8;

/// Acknowledgement delay of the realistic LNS profile
/// ([`LnsConfig::like_deployed_lns`]): the LNS of issue 11 acknowledged
/// control messages about 10 ms after they arrived.
pub const DEPLOYED_LNS_ACK_DELAY: Duration = Duration::from_millis(10);

/// Settings of the test LNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnsConfig {
    /// The L2TP endpoint: Host Name, control channel timers, who may open
    /// tunnels (`peers`, one `[[lns.peer]]` rule each) with which secret.
    /// `accept_calls` is forced on.
    pub endpoint: EndpointConfig,
    /// The users the RADIUS stand-in knows.
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
    /// Calls each peer rule's tunnels carry at once; more are refused with
    /// CDN result 4.
    pub max_sessions: usize,
    /// What to do with the LAC's proxy LCP (RFC 2661 §4.4.5). Default:
    /// renegotiate, as xl2tpd's pppd does.
    pub proxy_lcp: ProxyLcp,
    /// What to do with the LAC's proxy authentication. Default: challenge
    /// the subscriber again.
    pub proxy_auth: ProxyAuth,
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
                host_name: b"tunnelnas-test-lns".to_vec(),
                accept_calls: true,
                peers: vec![PeerPolicy {
                    network,
                    secret: secret.to_vec(),
                    host_name: None,
                    max_tunnels: None,
                    hide_avps: None,
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
            proxy_lcp: ProxyLcp::Renegotiate,
            proxy_auth: ProxyAuth::LocalChap,
        }
    }

    /// The realistic acknowledgement profile: small window, delayed acks.
    /// The LNS advertises `receive_window` (Receive Window Size AVP,
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

    /// The node core's configuration: what `node::convert::node_config`
    /// makes of an `[lns]` section with one `[[lns.peer]]` per endpoint
    /// peer (each with `max_sessions`), one `[[lns.pool]]` as the default
    /// pool, `local_address` and `dns`; the server link of
    /// `node::convert::lns_link_config` (compression accepted, IPCP with
    /// our address and DNS) with this configuration's methods, timers,
    /// MRU and echoes, and no IPv6CP; no access interfaces.
    #[must_use]
    pub fn node_config(&self) -> NodeCoreConfig {
        let file = crate::config::Config {
            lns: Some(crate::config::Lns {
                local_address: self.local_address,
                dns: self.dns.clone(),
                ..crate::config::Lns::default()
            }),
            ..crate::config::Config::default()
        };
        let mut config = crate::node::convert::node_config(&file)
            .unwrap_or_else(|| unreachable!("an [lns] section makes a node core"));
        let max_sessions = u32::try_from(self.max_sessions).ok();
        config.lns = Some(LnsPolicyConfig {
            rules: self
                .endpoint
                .peers
                .iter()
                .map(|peer| PeerRule {
                    name: peer.host_name.as_ref().map_or_else(
                        || peer.network.to_string(),
                        |name| String::from_utf8_lossy(name).into_owned(),
                    ),
                    pool: None,
                    max_sessions,
                    proxy_lcp: self.proxy_lcp,
                    proxy_auth: self.proxy_auth,
                    auth_methods: None,
                })
                .collect(),
            default_pool: Some(POOL_NAME.to_owned()),
            local_address: self.local_address,
            dns: self.dns.clone(),
            pools: vec![PoolConfig {
                name: POOL_NAME.to_owned(),
                networks: vec![self.pool],
            }],
            ipv6_pools: Vec::new(),
            auth_group: "default".to_owned(),
            acct_group: "default".to_owned(),
        });
        config.endpoint = EndpointConfig {
            accept_calls: true,
            ..self.endpoint.clone()
        };
        let link = &mut config.lns_link;
        link.fsm = self.fsm;
        link.auth = self.auth.clone();
        link.auth_methods = self.auth_methods.clone();
        link.mru = self.mru;
        link.lower_max_payload = self.mru;
        link.echo_interval = self.lcp_echo_interval;
        link.ipv6 = false;
        config.tunnel_accounting = false;
        config.tcp_mss = 0;
        config
    }
}

/// A snapshot of the test LNS.
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
    /// Sessions (calls established, in any PPP state) now.
    pub sessions: u32,
    /// Calls established so far.
    pub sessions_total: u64,
    /// Calls or sessions refused (session limit, no address left).
    pub sessions_refused: u64,
    /// Established calls that went down (CDN either way, or their tunnel
    /// went down).
    pub sessions_down: u64,
    /// Sessions up (IPCP Opened, the address routed) now.
    pub sessions_network_up: u32,
    /// Authentications the RADIUS stand-in accepted.
    pub auth_accepted: u64,
    /// Authentications it rejected.
    pub auth_rejected: u64,
    /// Accounting records the core sent (counted, dropped).
    pub accounting_records: u64,
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
    /// IP packets to TUN that were not an Echo Request to us.
    pub ipv4_ignored: u64,
    /// Data messages the core dropped: malformed, unknown session, wrong
    /// source, spoofed.
    pub data_dropped: u64,
    /// Echo replies dropped because too many were queued.
    pub replies_dropped: u64,
    /// Call established (ICCN) → session up.
    pub ppp_setup: LatencyHistogram,
}

/// The RADIUS stand-in: the configured users as the product's local-users
/// backend.
#[derive(Debug, Clone, Default)]
pub struct LocalRadius {
    users: LocalUsers,
}

impl LocalRadius {
    /// A backend knowing `users` (names and passwords as text; the last of
    /// two users of one name wins).
    #[must_use]
    pub fn new(users: &[Credentials]) -> Self {
        let text = |bytes: &[u8]| toml::Value::String(String::from_utf8_lossy(bytes).into_owned());
        let list = users
            .iter()
            .map(|user| {
                let mut entry = toml::Table::new();
                entry.insert("name".to_owned(), text(&user.user));
                entry.insert("password".to_owned(), text(&user.password));
                toml::Value::Table(entry)
            })
            .collect();
        let mut file = toml::Table::new();
        file.insert("user".to_owned(), toml::Value::Array(list));
        let users = toml::to_string(&file)
            .ok()
            .and_then(|text| LocalUsers::from_toml(&text).ok())
            .unwrap_or_default();
        Self { users }
    }

    /// The decision for `request`, as a RADIUS server with these users
    /// would answer it. A name with a Windows domain (`DOMAIN\user`,
    /// RFC 2759 §4) is tried without it too.
    #[must_use]
    pub fn decide(&self, request: &RadiusRequest) -> Decision {
        let decision = self.users.authenticate(request);
        let bare = mschap_user_name(request.user_name.as_bytes());
        if matches!(decision, Decision::Reject(_)) && bare.len() < request.user_name.len() {
            let mut request = request.clone();
            request.user_name = String::from_utf8_lossy(bare).into_owned();
            return self.users.authenticate(&request);
        }
        decision
    }
}

/// What a PPP server link answers `request` with when it asks the RADIUS
/// stand-in of `users` (the subscriber farm's tests play a BRAS with it):
/// the credentials as the node core sends them, the decision back as the
/// core gives it to its link (MS-CHAP2-Success read as RFC 2548 §2.3.3
/// writes it).
#[cfg(test)]
pub(super) fn verify(
    users: &[Credentials],
    request: &crate::ppp::auth::AuthRequest,
) -> crate::ppp::auth::AuthDecision {
    use crate::aaa::request::Credentials as Proof;
    use crate::ppp::auth::{AuthDecision, AuthRequest};
    let credentials = match request {
        AuthRequest::Pap { password, .. } => Proof::Pap {
            password: password.expose().to_vec(),
        },
        AuthRequest::Chap {
            id,
            challenge,
            response,
            ..
        } => Proof::Chap {
            id: *id,
            challenge: challenge.clone(),
            response: <[u8; 16]>::try_from(response.as_slice()).unwrap_or_default(),
        },
        AuthRequest::MsChapV2 {
            id,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            flags,
            ..
        } => Proof::MsChapV2 {
            id: *id,
            authenticator_challenge: *authenticator_challenge,
            peer_challenge: *peer_challenge,
            nt_response: *nt_response,
            flags: *flags,
        },
    };
    let request = RadiusRequest {
        user_name: String::from_utf8_lossy(request.user()).into_owned(),
        credentials,
        session: crate::aaa::request::SessionInfo::default(),
        tunnel: None,
    };
    match LocalRadius::new(users).decide(&request) {
        Decision::Accept(attributes) => AuthDecision::Accept {
            message: None,
            mschapv2_authenticator_response: attributes.ms_chap2_success.as_deref().and_then(
                |value| {
                    let mut out = [0u8; 20];
                    let digits = value.get(1..)?.strip_prefix(b"S=")?.get(..40)?;
                    hex::decode_to_slice(digits, &mut out).ok()?;
                    Some(out)
                },
            ),
        },
        Decision::Reject(_) => AuthDecision::Reject {
            message: Some("authentication failed".to_owned()),
        },
    }
}

/// The test LNS: the node core in the LNS role, its RADIUS stand-in and
/// its in-memory kernel (see the module documentation).
#[derive(Debug)]
pub struct LnsHarness {
    config: LnsConfig,
    core: NodeCore,
    radius: LocalRadius,
    /// A datagram handed to the core, behind [`RX_HEADROOM`].
    rx: Vec<u8>,
    /// Echo replies, as the core framed them, waiting to be sent.
    replies: VecDeque<(SocketAddr, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    stats: LnsStats,
}

impl LnsHarness {
    /// A test LNS for `config`; `seed` seeds tunnel and session ids,
    /// Magic-Numbers and challenges. (The core reads the clock it is given
    /// with each input; the instant of its creation only matters to PPPoE
    /// discovery, which it has none of.)
    pub fn new(config: LnsConfig, seed: [u8; 32]) -> Self {
        let core = NodeCore::new(
            config.node_config(),
            Vec::new(),
            "LNS-".into(),
            seed,
            Instant::now(),
        );
        Self {
            radius: LocalRadius::new(&config.users),
            config,
            core,
            rx: vec![0; RX_HEADROOM + MAX_CONTROL_LEN],
            replies: VecDeque::new(),
            spare: Vec::new(),
            stats: LnsStats::default(),
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &LnsConfig {
        &self.config
    }

    /// The node core (sessions, tunnels, the LNS snapshot, for reports).
    pub const fn core(&self) -> &NodeCore {
        &self.core
    }

    /// The L2TP endpoint (tunnels and sessions, for reports).
    pub const fn endpoint(&self) -> &crate::l2tp::Endpoint {
        self.core.endpoint()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LnsStats {
        let mut stats = self.stats.clone();
        stats.sessions = u32::try_from(self.core.session_count()).unwrap_or(u32::MAX);
        let up = self
            .core
            .state_counts()
            .iter()
            .find(|(state, _)| *state == SessionState::Up)
            .map_or(0, |(_, count)| *count);
        stats.sessions_network_up = u32::try_from(up).unwrap_or(u32::MAX);
        stats.addresses_in_use = self
            .core
            .lns_snapshot()
            .map_or(0, |lns| lns.pools.iter().map(|pool| pool.used).sum());
        stats
    }

    /// Ends every session and clears every tunnel (CDN, then StopCCN,
    /// RFC 2661 §5.7), as a node shutting down does.
    pub fn shutdown(&mut self, now: Instant) {
        self.core.shutdown(now);
        self.drive(now);
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// A UDP datagram from `from`: to the core (control messages to its
    /// endpoint, data through its fast path); IP it delivers goes to the
    /// in-memory kernel.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let control = crate::l2tp::is_control(datagram);
        let len = datagram.len();
        let Some(room) = self.rx.get_mut(RX_HEADROOM..RX_HEADROOM + len) else {
            self.stats.data_dropped += u64::from(!control);
            return;
        };
        room.copy_from_slice(datagram);
        let ppp_len = if control {
            0
        } else {
            L2tpPacket::new_checked(datagram).map_or(0, |p| p.payload().len())
        };
        let forward = self
            .core
            .handle_datagram(now, from, &mut self.rx, RX_HEADROOM, len);
        match forward {
            Forward::Tun { range } => {
                self.count_rx(ppp_len);
                self.kernel(now, range);
            }
            Forward::Control if !control => self.count_rx(ppp_len),
            Forward::Dropped(_) => self.stats.data_dropped += 1,
            Forward::Datagram { to, range } => {
                self.queue(to, range);
            }
            _ => {}
        }
        self.drive(now);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.core.poll_timeout().is_some_and(|at| at <= now) {
            self.core.handle_timeout(now);
        }
        self.drive(now);
    }

    /// The earliest instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// The next datagram to send, written at the start of `buf`: its
    /// destination and length. The core's first (PPP control frames and
    /// L2TP control messages), then echo replies.
    ///
    /// `buf` should hold [`MAX_CONTROL_LEN`] bytes, which every datagram
    /// fits; what does not fit a shorter one stays queued.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        if let Some((to, len)) = self.core.poll_datagram(now, buf) {
            if let Some(datagram) = buf.get(..len)
                && !crate::l2tp::is_control(datagram)
            {
                self.count_tx(datagram);
            }
            self.drive(now);
            return Some((to, len));
        }
        let (to, reply) = self.replies.pop_front()?;
        let Some(slot) = buf.get_mut(..reply.len()) else {
            // Too long for this buffer: it waits for a longer one.
            self.replies.push_front((to, reply));
            return None;
        };
        slot.copy_from_slice(&reply);
        let len = reply.len();
        self.count_tx(&reply);
        self.spare.push(reply);
        Some((to, len))
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn count_rx(&mut self, ppp_len: usize) {
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += ppp_len as u64;
    }

    fn count_tx(&mut self, datagram: &[u8]) {
        self.stats.tx_packets += 1;
        self.stats.tx_bytes +=
            L2tpPacket::new_checked(datagram).map_or(0, |p| p.payload().len()) as u64;
    }

    /// The in-memory kernel: the IP packet at `rx[range]`, which the core
    /// wrote to TUN. An Echo Request to our address is answered in place
    /// and the reply goes back through the core; the rest is dropped.
    fn kernel(&mut self, now: Instant, range: std::ops::Range<usize>) {
        let start = range.start;
        let Some(len) = self
            .rx
            .get_mut(range)
            .and_then(|packet| icmp::answer_echo(packet, self.config.local_address))
        else {
            self.stats.ipv4_ignored += 1;
            return;
        };
        match self.core.handle_ip(now, &mut self.rx, start, len) {
            Forward::Datagram { to, range } => {
                if self.queue(to, range) {
                    self.stats.pings_answered += 1;
                }
            }
            _ => self.stats.replies_dropped += 1,
        }
    }

    /// Queues `rx[range]` for `to`, in a spare buffer; false when too
    /// many are queued (counted).
    fn queue(&mut self, to: SocketAddr, range: std::ops::Range<usize>) -> bool {
        if self.replies.len() >= MAX_QUEUED_REPLIES {
            self.stats.replies_dropped += 1;
            return false;
        }
        let Some(bytes) = self.rx.get(range) else {
            return false;
        };
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(bytes);
        self.replies.push_back((to, buffer));
        true
    }

    /// After any input to the core: its commands (the RADIUS stand-in
    /// answers, accounting is counted) and its events (the counters),
    /// until it has none left.
    fn drive(&mut self, now: Instant) {
        loop {
            let mut idle = true;
            while let Some(command) = self.core.poll_command() {
                idle = false;
                match command {
                    Command::Authenticate { token, request, .. } => {
                        let decision = self.radius.decide(&request);
                        match decision {
                            Decision::Accept(_) => self.stats.auth_accepted += 1,
                            Decision::Reject(_) => self.stats.auth_rejected += 1,
                        }
                        self.core.auth_result(now, token, decision);
                    }
                    Command::Account { .. } => self.stats.accounting_records += 1,
                    Command::AddRoute { .. } | Command::RemoveRoute { .. } => {}
                }
            }
            while let Some(event) = self.core.poll_event() {
                idle = false;
                self.count_event(&event);
            }
            if idle {
                return;
            }
        }
    }

    fn count_event(&mut self, event: &LacEvent) {
        let stats = &mut self.stats;
        match event {
            LacEvent::L2tp(L2tpEvent::TunnelUp { .. }) => {
                stats.tunnels += 1;
                stats.tunnels_total += 1;
            }
            LacEvent::L2tp(L2tpEvent::TunnelDown {
                was_established, ..
            }) => {
                if *was_established {
                    stats.tunnels = stats.tunnels.saturating_sub(1);
                    stats.tunnels_down += 1;
                } else {
                    stats.tunnels_failed += 1;
                }
            }
            LacEvent::L2tp(L2tpEvent::SessionUp { .. }) => stats.sessions_total += 1,
            LacEvent::L2tp(L2tpEvent::SessionDown {
                was_established: true,
                ..
            }) => stats.sessions_down += 1,
            LacEvent::Lns(LnsEvent::Refused(_)) => stats.sessions_refused += 1,
            LacEvent::Lns(LnsEvent::Phase {
                phase: LnsPhase::Total,
                took,
            }) => stats.ppp_setup.record(*took),
            _ => {}
        }
    }
}

/// Runs `lns` on `socket` until `stop` is set, then ends every session
/// and clears every tunnel (CDN, StopCCN) and returns. `report` gets a
/// fresh [`LnsStats`] every ~100 ms and at the end. Datagrams are
/// received up to 64 at a time with one `recvmmsg(2)` ([`UdpBatch`]), so
/// the LNS keeps up with a LAC forwarding at full rate.
pub fn run_lns(
    socket: UdpSocket,
    mut lns: LnsHarness,
    stop: &AtomicBool,
    report: &Mutex<LnsStats>,
) {
    if let Err(err) = socket.set_nonblocking(true) {
        tracing::error!(%err, "test LNS: cannot make its socket non-blocking");
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
    // CDNs and StopCCN to every LAC, sent once (no one waits for the
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
mod tests;
