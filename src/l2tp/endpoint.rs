//! The L2TP endpoint: every tunnel of one UDP socket, for the LAC role, the
//! LNS role, or both (LTS).
//!
//! * **Demultiplexing** (RFC 2661 §3.1): a control datagram goes to the
//!   tunnel its Tunnel ID names; Tunnel ID 0 is only valid on an SCCRQ,
//!   which opens a tunnel — or, when it is a retransmission, reaches the
//!   tunnel its first copy opened (keyed by source address and Assigned
//!   Tunnel ID). Data messages (T=0) belong to the fast path:
//!   [`is_control`] tells them apart cheaply and [`Endpoint::session`]
//!   answers the driver's lookup by (Tunnel ID, Session ID).
//! * **Ids**: Tunnel and Session IDs are random, non-zero and unique
//!   ([`super::ids`]).
//! * **LNS policy**: an SCCRQ is accepted only from an address a
//!   `[[lns.peer]]` rule admits, with that rule's secret (§5.1.1). Any
//!   other SCCRQ is refused without state: a StopCCN with result 4
//!   ("Requester is not authorized to establish a control channel",
//!   §4.4.2) acknowledging it, addressed to the Assigned Tunnel ID it
//!   carried, at most [`REFUSALS_PER_SECOND`] a second (an SCCRQ flood
//!   from forged sources costs neither memory nor an amplified reply),
//!   and counted ([`DropReason::PeerNotAllowed`]).
//! * **LAC tunnel sharing**: [`Endpoint::open_session`] puts a call on an
//!   established or establishing tunnel of its *LNS group* — the same LNS
//!   address, Tunnel-Assignment-Id, Tunnel-Client-Auth-ID and secret
//!   ([`SharingKey`]; RFC 2868 §3.7: sessions with the same
//!   Tunnel-Assignment-Id share a tunnel) — that has fewer than
//!   `max_sessions_per_tunnel` sessions; when every tunnel of the group is
//!   full, it opens another one. Many tunnels per peer are normal.
//! * **Several tunnels per LNS group**: one tunnel's setup rate is capped
//!   by the LNS's receive window and acknowledgement delay (RFC 2661 §5.8:
//!   at most a window of unacknowledged messages, two per call, §7.4). So
//!   among the group's tunnels with room, a call goes to the one with the
//!   fewest calls waiting (lowest Tunnel ID on a tie, which fills one
//!   tunnel at a time under light load); and when every one of them is
//!   established and has calls waiting behind its window, and there are
//!   fewer than `max_tunnels_per_lns` of them, a further tunnel is opened
//!   (SCCRQ) and the call waits there. None is opened in parallel while a
//!   tunnel of the group is still coming up: a tunnel in wait-ctl-reply
//!   does not prove the LNS is alive, so calls placed before the group's
//!   first tunnel is up all wait on it. Tunnels full of sessions do not
//!   count against `max_tunnels_per_lns`.
//! * **Back-pressure, never self-teardown**: a call the window cannot take
//!   yet waits in its tunnel's outbox (see [`super::tunnel`]), in order,
//!   and is placed as acknowledgements open room; a busy tunnel is never
//!   torn down. The wait is bounded per LNS group: when
//!   `max_queued_calls` calls of the group are waiting (opened, ICRQ not
//!   yet handed to the channel — which includes every call of a tunnel
//!   not up yet), [`Endpoint::open_session`] refuses the next one with
//!   [`OpenError::Busy`] and changes nothing: the caller decides (the LAC
//!   tries its next LNS candidate). Calls already waiting are unaffected;
//!   as they are placed, new ones are accepted again.
//!   [`Endpoint::queued_calls`] and [`Endpoint::queued_calls_by_peer`]
//!   expose the waits for metrics.
//! * **Tie breaker** (§4.4.3): see [`Endpoint::handle_datagram`].
//!
//! Sans-IO: `handle_datagram` / `handle_timeout` in, `poll_transmit` /
//! `poll_timeout` / `poll_event` out, commands as methods.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::wire::l2tp::{
    ControlMessage, MessageType, Packet, Q931Cause, ResultCode, StopCcnResult,
    header::{FLAG_TYPE, VERSION_L2TPV2, VERSION_MASK},
};

use super::channel::{ChannelConfig, ShortBuffer};
use super::event::{DropReason, Event, SessionDownCause, SessionHandle, TunnelDownCause};
use super::ids;
use super::session::{CallInfo, SessionState};
use super::tunnel::{Ctx, Tunnel, TunnelState};

/// Upper bound of the endpoint's own timers (teardown hold, setup).
const MAX_TIMER: Duration = Duration::from_secs(86_400);

/// Whether `datagram` is an L2TPv2 control message (T bit set, Ver 2):
/// two octets read, nothing validated beyond them. For the fast path's
/// first branch.
pub fn is_control(datagram: &[u8]) -> bool {
    match datagram {
        [hi, lo, ..] => {
            let flags = u16::from_be_bytes([*hi, *lo]);
            flags & FLAG_TYPE != 0 && (flags & VERSION_MASK) as u8 == VERSION_L2TPV2
        }
        _ => false,
    }
}

/// `[[lns.peer]]`: who may open tunnels to the LNS role and with which
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Source addresses the rule covers.
    pub network: IpNet,
    /// Tunnel secret; empty = no tunnel authentication.
    pub secret: Vec<u8>,
    /// Tunnels the peers of this rule may hold at once (`None`: no
    /// limit); a further SCCRQ is refused without state.
    pub max_tunnels: Option<u32>,
    /// Only an SCCRQ with this Host Name matches, when set.
    pub host_name: Option<Vec<u8>>,
    /// Hide the subscriber AVPs (§4.3) on this rule's tunnels (`None`:
    /// the endpoint's `hide_avps`).
    pub hide_avps: Option<bool>,
}

/// Endpoint parameters. `Default` gives the RFC values, a LAC-and-LNS
/// endpoint that admits no peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The reliable control channel of each tunnel (§5.8, HELLO §6.5).
    pub channel: ChannelConfig,
    /// Host Name AVP (§4.4.3).
    pub host_name: Vec<u8>,
    /// Vendor Name AVP.
    pub vendor_name: Vec<u8>,
    /// Firmware Revision AVP.
    pub firmware_revision: u16,
    /// How long a closed tunnel is kept to acknowledge retransmissions
    /// (§5.7). Default 31 s (a full retransmission cycle).
    pub teardown_hold: Duration,
    /// A tunnel or call not established within this is cleared (StopCCN,
    /// CDN result 10). Default 60 s.
    pub setup_timeout: Duration,
    /// Hide the subscriber AVPs (§4.3) on tunnels with a secret.
    pub hide_avps: bool,
    /// Send a Tie Breaker AVP in SCCRQ (§4.4.3).
    pub send_tie_breaker: bool,
    /// LNS role: accept ICRQs (else refused with CDN).
    pub accept_calls: bool,
    /// LAC: sessions per tunnel before another tunnel is opened.
    pub max_sessions_per_tunnel: u16,
    /// LAC: tunnels of one LNS group ([`SharingKey`]) that take new calls
    /// at once; a further one is opened when all have calls waiting
    /// behind their window (module docs). Tunnels full of sessions do not
    /// count. Default 4; 0 is taken as 1.
    pub max_tunnels_per_lns: u16,
    /// LAC: calls of one LNS group that may wait for room in its tunnels
    /// (not placed yet); beyond it [`Endpoint::open_session`] fails with
    /// [`OpenError::Busy`]. Default 10,000; 0 is taken as 1.
    pub max_queued_calls: usize,
    /// LNS role: who may open tunnels (empty = SCCRQs are dropped).
    pub peers: Vec<PeerPolicy>,
    /// The Tunnel IDs this endpoint may allocate: with several workers
    /// each owns the ids `id % count == index`, which is how the kernel
    /// steers an LNS's datagrams to it ([`crate::dataplane::steer`]).
    pub tunnel_ids: crate::shard::Shard,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            host_name: b"tunnelnas".to_vec(),
            vendor_name: b"tunnelnas".to_vec(),
            firmware_revision: 0x0100,
            teardown_hold: Duration::from_secs(31),
            setup_timeout: Duration::from_secs(60),
            hide_avps: false,
            send_tie_breaker: false,
            accept_calls: true,
            max_sessions_per_tunnel: 1000,
            max_tunnels_per_lns: 4,
            max_queued_calls: 10_000,
            peers: Vec::new(),
            tunnel_ids: crate::shard::Shard::WHOLE,
        }
    }
}

impl EndpointConfig {
    /// The rule for an SCCRQ from `from` with Host Name `host_name`: the
    /// first rule naming that host, else the first rule without a name.
    #[cfg(test)]
    fn policy_for(&self, from: SocketAddr, host_name: Option<&[u8]>) -> Option<&PeerPolicy> {
        self.policy_index(from, host_name)
            .and_then(|index| self.peers.get(index))
    }

    /// The position of the rule that admits `from` with `host_name`: one
    /// naming the host first, else one for any host.
    fn policy_index(&self, from: SocketAddr, host_name: Option<&[u8]>) -> Option<usize> {
        let covering = || {
            self.peers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.network.contains(&from.ip()))
        };
        covering()
            .find(|(_, p)| p.host_name.is_some() && p.host_name.as_deref() == host_name)
            .or_else(|| covering().find(|(_, p)| p.host_name.is_none()))
            .map(|(index, _)| index)
    }
}

/// Which tunnels a LAC session may share (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharingKey {
    /// LNS address.
    pub peer: SocketAddr,
    /// Tunnel-Assignment-Id (RFC 2868 §3.7).
    pub assignment_id: Option<Vec<u8>>,
    /// Tunnel-Client-Auth-ID (RFC 2868 §3.9): our Host Name on the tunnel.
    pub client_auth_id: Option<Vec<u8>>,
    /// Tunnel secret (empty = none).
    pub secret: Vec<u8>,
}

/// LAC: a call to place on a tunnel ([`Endpoint::open_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    /// LNS address.
    pub peer: SocketAddr,
    /// Tunnel secret (empty = none).
    pub secret: Vec<u8>,
    /// Tunnel-Assignment-Id.
    pub assignment_id: Option<Vec<u8>>,
    /// Tunnel-Client-Auth-ID (sent as Host Name).
    pub client_auth_id: Option<Vec<u8>>,
    /// The call: ICRQ and ICCN AVPs, proxy LCP and authentication.
    pub call: CallInfo,
    /// Correlation id echoed in SessionUp / SessionDown.
    pub request_id: u64,
}

/// Why [`Endpoint::open_session`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// All 65,535 Tunnel IDs are in use.
    #[error("no free Tunnel ID")]
    NoTunnelId,
    /// No free Session ID in the chosen tunnel.
    #[error("no free Session ID")]
    NoSessionId,
    /// `max_queued_calls` calls of this LNS group already wait for room in
    /// its tunnels: the call was not placed (try another LNS, or later).
    #[error("LNS busy: max_queued_calls calls already wait for its tunnels' windows")]
    Busy,
}

/// What the fast path needs about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The peer's Tunnel ID (to write in data headers).
    pub peer_tunnel_id: u16,
    /// The peer's Session ID (to write in data headers).
    pub peer_session_id: u16,
    /// Whether the session is established.
    pub established: bool,
    /// Whether data messages carry Ns/Nr (§5.4 Sequencing Required).
    pub sequencing_required: bool,
}

/// A tunnel as the management API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Our Tunnel ID.
    pub tunnel_id: u16,
    /// The peer's Tunnel ID (0 until known).
    pub peer_tunnel_id: u16,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The peer's Host Name AVP.
    pub peer_host_name: Vec<u8>,
    /// Whether we sent the SCCRQ.
    pub initiated_locally: bool,
    /// Its state.
    pub state: TunnelState,
    /// Its sessions, in any state.
    pub sessions: usize,
    /// LAC: calls opened on it and not placed yet (waiting for the tunnel
    /// or for room in the window).
    pub queued_calls: usize,
    /// Control messages of calls in progress or of the tunnel waiting in
    /// the tunnel's outbox because the channel's send queue is full.
    pub outbox_messages: usize,
    /// Control messages the channel holds: in flight or waiting for the
    /// window (RFC 2661 §5.8).
    pub unacknowledged: usize,
}

/// All tunnels of one L2TP socket.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    rng: StdRng,
    tunnels: HashMap<u16, Tunnel>,
    /// (peer address, peer's Assigned Tunnel ID) → our tunnel, for SCCRQ
    /// retransmissions (they still carry Tunnel ID 0).
    responders: HashMap<(SocketAddr, u16), u16>,
    events: VecDeque<Event>,
    /// Tunnels that may have something to transmit.
    transmit_queue: VecDeque<u16>,
    transmit_pending: HashSet<u16>,
    /// Stateless StopCCNs to refused peers, sent before the tunnels'
    /// datagrams; at most [`REFUSALS_QUEUED`].
    refusals: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Start of the current second of refusals, and how many it sent.
    refusal_window: Option<(Instant, u32)>,
    /// Tunnels we accepted, by the `[[lns.peer]]` rule that admitted them
    /// (its index), for the rules' `max_tunnels`.
    admitted_by: HashMap<u16, usize>,
    /// Tunnels per rule (same index as `config.peers`).
    tunnels_per_rule: Vec<u32>,
}

/// Stateless StopCCNs sent per second, at most.
pub const REFUSALS_PER_SECOND: u32 = 100;

/// Stateless StopCCNs waiting for `poll_transmit`, at most.
const REFUSALS_QUEUED: usize = 64;

impl Endpoint {
    /// A new endpoint; `seed` seeds every random choice (ids, challenges,
    /// tie breakers, random vectors).
    pub fn new(mut config: EndpointConfig, seed: [u8; 32]) -> Self {
        // Timer arithmetic on `Instant` must not overflow whatever the
        // configuration says: a day is far beyond any sensible value.
        config.teardown_hold = config.teardown_hold.min(MAX_TIMER);
        config.setup_timeout = config.setup_timeout.min(MAX_TIMER);
        Self {
            config,
            rng: StdRng::from_seed(seed),
            tunnels: HashMap::new(),
            responders: HashMap::new(),
            events: VecDeque::new(),
            transmit_queue: VecDeque::new(),
            transmit_pending: HashSet::new(),
            refusals: VecDeque::new(),
            refusal_window: None,
            admitted_by: HashMap::new(),
            tunnels_per_rule: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Number of tunnels (closing ones included).
    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// Number of sessions in all tunnels.
    pub fn session_count(&self) -> usize {
        self.tunnels.values().map(Tunnel::session_count).sum()
    }

    /// State of our tunnel `tunnel_id`.
    pub fn tunnel_state(&self, tunnel_id: u16) -> Option<TunnelState> {
        self.tunnels.get(&tunnel_id).map(|t| t.state)
    }

    /// LNS role: tunnels held per `[[lns.peer]]` rule (index in
    /// [`EndpointConfig::peers`]; rules past the end hold none).
    pub fn tunnels_per_rule(&self) -> &[u32] {
        &self.tunnels_per_rule
    }

    /// LNS role: the `[[lns.peer]]` rule (index in
    /// [`EndpointConfig::peers`]) that admitted tunnel `tunnel_id`, and
    /// the peer's Host Name (RFC 2661 §4.4.3; Tunnel-Client-Auth-ID in
    /// RADIUS, RFC 2868 §3.9). `None` for tunnels we opened.
    pub fn admission(&self, tunnel_id: u16) -> Option<(usize, &[u8])> {
        let rule = *self.admitted_by.get(&tunnel_id)?;
        let tunnel = self.tunnels.get(&tunnel_id)?;
        Some((rule, tunnel.peer_host_name.as_slice()))
    }

    /// Every tunnel, ordered by our Tunnel ID (for the management API).
    pub fn tunnels(&self) -> Vec<TunnelInfo> {
        let mut out: Vec<TunnelInfo> = self
            .tunnels
            .values()
            .map(|t| TunnelInfo {
                tunnel_id: t.local_id,
                peer_tunnel_id: t.peer_id,
                peer: t.peer,
                peer_host_name: t.peer_host_name.clone(),
                initiated_locally: t.initiated_locally,
                state: t.state,
                sessions: t.session_count(),
                queued_calls: t.queued_calls(),
                outbox_messages: t.waiting_messages(),
                unacknowledged: t.unacknowledged(),
            })
            .collect();
        out.sort_unstable_by_key(|t| t.tunnel_id);
        out
    }

    /// LAC: calls opened and not placed yet (waiting for their tunnel to
    /// come up or for room in its window), over every tunnel.
    pub fn queued_calls(&self) -> usize {
        self.tunnels.values().map(Tunnel::queued_calls).sum()
    }

    /// LAC: [`Self::queued_calls`] by LNS address (as given to
    /// [`Self::open_session`]), for a gauge per LNS: every LNS we have a
    /// tunnel to (closing ones included) appears, with 0 when nothing
    /// waits; sorted by address.
    pub fn queued_calls_by_peer(&self) -> Vec<(SocketAddr, usize)> {
        self.by_lns(Tunnel::queued_calls)
    }

    /// LAC: tunnels we opened, by LNS address (as given to
    /// [`Self::open_session`]), closing ones included; sorted by address.
    pub fn tunnels_by_peer(&self) -> Vec<(SocketAddr, usize)> {
        self.by_lns(|_| 1)
    }

    fn by_lns(&self, count: impl Fn(&Tunnel) -> usize) -> Vec<(SocketAddr, usize)> {
        let mut out: std::collections::BTreeMap<SocketAddr, usize> = Default::default();
        for tunnel in self.tunnels.values() {
            if let Some(key) = &tunnel.sharing {
                *out.entry(key.peer).or_default() += count(tunnel);
            }
        }
        out.into_iter().collect()
    }

    /// Sessions per tunnel (our Tunnel ID → count), for tests and the API.
    pub fn sessions_per_tunnel(&self) -> Vec<(u16, usize)> {
        let mut out: Vec<_> = self
            .tunnels
            .iter()
            .map(|(id, t)| (*id, t.session_count()))
            .collect();
        out.sort_unstable();
        out
    }

    /// The fast path's lookup: our session (Tunnel ID, Session ID as
    /// received in a data header).
    pub fn session(&self, tunnel_id: u16, session_id: u16) -> Option<SessionInfo> {
        let tunnel = self.tunnels.get(&tunnel_id)?;
        let session = tunnel.session(session_id)?;
        Some(SessionInfo {
            peer: tunnel.peer,
            peer_tunnel_id: tunnel.peer_id,
            peer_session_id: session.peer_session_id,
            established: session.state == SessionState::Established,
            sequencing_required: session.call.sequencing_required,
        })
    }

    fn ctx_and_tunnel(&mut self, tunnel_id: u16, now: Instant) -> Option<(Ctx<'_>, &mut Tunnel)> {
        let tunnel = self.tunnels.get_mut(&tunnel_id)?;
        Some((
            Ctx {
                now,
                rng: &mut self.rng,
                events: &mut self.events,
                config: &self.config,
            },
            tunnel,
        ))
    }

    /// After any input to a tunnel: schedule its transmissions, drop it if
    /// it is gone.
    fn touched(&mut self, now: Instant, tunnel_id: u16) {
        let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(tunnel_id, now) else {
            return;
        };
        // Feed the channel from the outbox: never a reason to drop the
        // tunnel (a full window is back-pressure, not a failure).
        tunnel.settle(&mut ctx);
        let gone = tunnel.is_gone(now);
        if gone {
            self.remove_tunnel(tunnel_id);
        } else if self.transmit_pending.insert(tunnel_id) {
            self.transmit_queue.push_back(tunnel_id);
        }
    }

    fn remove_tunnel(&mut self, tunnel_id: u16) -> Option<Tunnel> {
        let tunnel = self.tunnels.remove(&tunnel_id)?;
        if let Some(rule) = self.admitted_by.remove(&tunnel_id) {
            if let Some(count) = self.tunnels_per_rule.get_mut(rule) {
                *count = count.saturating_sub(1);
            }
        }
        let key = (tunnel.peer, tunnel.peer_id);
        if self.responders.get(&key) == Some(&tunnel_id) {
            self.responders.remove(&key);
        }
        Some(tunnel)
    }

    /// A UDP datagram from `from`.
    ///
    /// Tie breaker (§4.4.3): "The recipient of a SCCRQ must check to see if
    /// a SCCRQ has been sent to the peer, and if so, must compare its Tie
    /// Breaker value with the received one. The lower value 'wins', and the
    /// 'loser' MUST silently discard its tunnel. In the case where a tie
    /// breaker is present on both sides, and the value is equal, both sides
    /// MUST discard their tunnels." So: when we win, the peer's SCCRQ is
    /// refused with StopCCN (result 3, control channel already exists);
    /// when we lose, our tunnel is discarded without a word, its waiting
    /// calls move to the peer's tunnel, and the peer's SCCRQ is answered.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let packet = match Packet::new_checked(datagram) {
            Ok(packet) => packet,
            Err(_) => return self.drop_datagram(from, DropReason::Malformed),
        };
        if !packet.is_control() {
            return self.drop_datagram(from, DropReason::DataMessage);
        }
        let tunnel_id = packet.tunnel_id();
        if tunnel_id != 0 {
            let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(tunnel_id, now) else {
                return self.drop_datagram(from, DropReason::UnknownTunnel);
            };
            if tunnel.peer.ip() != from.ip() {
                return self.drop_datagram(from, DropReason::WrongSource);
            }
            tunnel.handle_datagram(&mut ctx, from, datagram);
            return self.touched(now, tunnel_id);
        }
        self.handle_sccrq(now, from, datagram);
    }

    /// Answers an SCCRQ we refuse (no `[[lns.peer]]` rule admits it, or
    /// its rule's `max_tunnels` is reached) with a StopCCN carrying
    /// `result` (§4.4.2) that acknowledges it (Nr = its Ns + 1), without
    /// creating any state for the peer. Its Assigned Tunnel ID is the
    /// recipient's Tunnel ID when it is readable (a hidden one is not: we
    /// have no secret for this peer, and 0 goes out instead). Rate-limited
    /// to [`REFUSALS_PER_SECOND`].
    fn refuse_statelessly(
        &mut self,
        now: Instant,
        to: SocketAddr,
        sccrq: &ControlMessage,
        result: ResultCode,
    ) {
        let sent = match self.refusal_window {
            Some((start, sent))
                if now.saturating_duration_since(start) < Duration::from_secs(1) =>
            {
                sent
            }
            _ => {
                self.refusal_window = Some((now, 0));
                0
            }
        };
        if sent >= REFUSALS_PER_SECOND || self.refusals.len() >= REFUSALS_QUEUED {
            return;
        }
        let mut stop = ControlMessage::stop_ccn(0, result)
            .with_ids(sccrq.assigned_tunnel_id().unwrap_or(0), 0);
        stop.ns = 0;
        stop.nr = sccrq.ns.wrapping_add(1);
        if let Ok(bytes) = stop.to_vec(None) {
            self.refusals.push_back((to, bytes));
            self.refusal_window = self.refusal_window.map(|(start, n)| (start, n + 1));
        }
    }

    fn drop_datagram(&mut self, peer: SocketAddr, reason: DropReason) {
        self.events.push_back(Event::Dropped { peer, reason });
    }

    fn handle_sccrq(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        // Read without the secret first: the policy (and so the secret)
        // depends on the Host Name. Hidden AVPs stay concealed here; the
        // tunnel's channel parses again with the secret.
        let Ok(msg) = ControlMessage::from_bytes(datagram, None) else {
            return self.drop_datagram(from, DropReason::Malformed);
        };
        if msg.message_type != Some(MessageType::Sccrq) {
            return self.drop_datagram(from, DropReason::NotSccrq);
        }
        let Some(rule) = self.config.policy_index(from, msg.host_name()) else {
            let result = ResultCode::stop_ccn(StopCcnResult::NotAuthorized).with_error(
                crate::wire::l2tp::GeneralError::NoError,
                "no peer rule admits this address and host name",
            );
            self.refuse_statelessly(now, from, &msg, result);
            return self.drop_datagram(from, DropReason::PeerNotAllowed);
        };
        let Some(policy) = self.config.peers.get(rule) else {
            return self.drop_datagram(from, DropReason::PeerNotAllowed);
        };
        let secret = policy.secret.clone();
        let max_tunnels = policy.max_tunnels;
        let hide_avps = policy.hide_avps;
        // The Assigned Tunnel ID may be hidden (§4.3): read it with the
        // peer's secret.
        let peer_assigned = match msg.assigned_tunnel_id() {
            Some(id) => id,
            None if !secret.is_empty() => ControlMessage::from_bytes(datagram, Some(&secret))
                .ok()
                .and_then(|m| m.assigned_tunnel_id())
                .unwrap_or(0),
            None => 0,
        };
        if let Some(&existing) = self.responders.get(&(from, peer_assigned)) {
            // A retransmitted SCCRQ: its tunnel acknowledges it again —
            // unless that tunnel is already established, in which case the
            // peer restarted and reused its Tunnel ID: this is a new
            // tunnel (the old one dies by its HELLO going unanswered).
            let restarted = self
                .tunnels
                .get(&existing)
                .is_some_and(|t| t.state == TunnelState::Established);
            if !restarted {
                if let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(existing, now) {
                    tunnel.handle_datagram(&mut ctx, from, datagram);
                }
                return self.touched(now, existing);
            }
        }
        let held = self.tunnels_per_rule.get(rule).copied().unwrap_or(0);
        if max_tunnels.is_some_and(|max| held >= max) {
            let result = ResultCode::stop_ccn(StopCcnResult::GeneralError).with_error(
                crate::wire::l2tp::GeneralError::InsufficientResources,
                "the peer rule's max_tunnels is reached",
            );
            self.refuse_statelessly(now, from, &msg, result);
            return self.drop_datagram(from, DropReason::PeerTunnelLimit);
        }

        let mut refusal = None;
        let mut adopt_from = None;
        if let Some(theirs) = msg.tie_breaker() {
            let ours = self
                .tunnels
                .values()
                .find(|t| {
                    t.state == TunnelState::WaitCtlReply
                        && t.peer.ip() == from.ip()
                        && t.tie_breaker.is_some()
                })
                .and_then(|t| t.tie_breaker.map(|value| (t.local_id, value)));
            if let Some((our_tunnel, ours)) = ours {
                match ours.cmp(&theirs) {
                    std::cmp::Ordering::Less => {
                        refusal = Some(
                            ResultCode::stop_ccn(StopCcnResult::ChannelExists).with_error(
                                crate::wire::l2tp::GeneralError::NoError,
                                "tie breaker: our SCCRQ wins",
                            ),
                        );
                    }
                    std::cmp::Ordering::Greater => adopt_from = Some(our_tunnel),
                    std::cmp::Ordering::Equal => {
                        if let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(our_tunnel, now) {
                            tunnel.lost(&mut ctx, TunnelDownCause::TieBreakerLost);
                        }
                        self.remove_tunnel(our_tunnel);
                        return self.drop_datagram(from, DropReason::TieBreakerEqual);
                    }
                }
            }
        }

        let Some(local_id) = ids::allocate_with(&mut self.rng, |id| {
            self.tunnels.contains_key(&id) || !self.config.tunnel_ids.owns(id)
        }) else {
            return self.drop_datagram(from, DropReason::NoTunnelId);
        };
        let host_name = self.config.host_name.clone();
        let mut ctx = Ctx {
            now,
            rng: &mut self.rng,
            events: &mut self.events,
            config: &self.config,
        };
        let mut tunnel = Tunnel::accept(&mut ctx, local_id, from, Some(secret), host_name);
        tunnel.hide_avps = hide_avps;
        tunnel.refuse_with = refusal;
        if let Some(loser) = adopt_from.and_then(|id| self.tunnels.remove(&id)) {
            let mut loser = loser;
            tunnel.adopt_waiting_sessions(&mut ctx, &mut loser);
            loser.lost(&mut ctx, TunnelDownCause::TieBreakerLost);
            self.responders.retain(|_, id| *id != loser.local_id);
        }
        tunnel.handle_datagram(&mut ctx, from, datagram);
        if peer_assigned != 0 {
            self.responders.insert((from, peer_assigned), local_id);
        }
        self.tunnels.insert(local_id, tunnel);
        self.admitted_by.insert(local_id, rule);
        if self.tunnels_per_rule.len() <= rule {
            self.tunnels_per_rule.resize(rule + 1, 0);
        }
        if let Some(count) = self.tunnels_per_rule.get_mut(rule) {
            *count += 1;
        }
        self.touched(now, local_id);
    }

    /// LAC: places a call on a tunnel of its LNS group, or on a new one
    /// (SCCRQ), per the module docs. The call waits in that tunnel until
    /// the tunnel is up and its window has room, then its ICRQ goes out;
    /// [`Event::SessionUp`] or [`Event::SessionDown`] follows (a call
    /// cleared while still waiting — tunnel lost, StopCCN, setup timeout,
    /// [`Self::close_session`] — gets its `SessionDown` too, with no CDN on
    /// the wire).
    ///
    /// Fails, changing nothing, with [`OpenError::Busy`] when
    /// `max_queued_calls` calls of the group already wait, and with
    /// [`OpenError::NoTunnelId`] / [`OpenError::NoSessionId`] when ids run
    /// out.
    pub fn open_session(
        &mut self,
        now: Instant,
        request: OpenSession,
    ) -> Result<SessionHandle, OpenError> {
        let key = SharingKey {
            peer: request.peer,
            assignment_id: request.assignment_id.clone(),
            client_auth_id: request.client_auth_id.clone(),
            secret: request.secret.clone(),
        };
        let tunnel_id = match self.choose_tunnel(&key)? {
            Some(id) => id,
            None => {
                let local_id = ids::allocate_with(&mut self.rng, |id| {
                    self.tunnels.contains_key(&id) || !self.config.tunnel_ids.owns(id)
                })
                .ok_or(OpenError::NoTunnelId)?;
                let host_name = request
                    .client_auth_id
                    .clone()
                    .unwrap_or_else(|| self.config.host_name.clone());
                let mut ctx = Ctx {
                    now,
                    rng: &mut self.rng,
                    events: &mut self.events,
                    config: &self.config,
                };
                let tunnel = Tunnel::open(
                    &mut ctx,
                    local_id,
                    request.peer,
                    Some(request.secret.clone()),
                    host_name,
                    Some(key),
                );
                self.tunnels.insert(local_id, tunnel);
                local_id
            }
        };
        let (mut ctx, tunnel) = self
            .ctx_and_tunnel(tunnel_id, now)
            .ok_or(OpenError::NoTunnelId)?;
        let added = tunnel.add_lac_session(&mut ctx, request.call, request.request_id);
        self.touched(now, tunnel_id);
        let session_id = added.ok_or(OpenError::NoSessionId)?;
        Ok(SessionHandle {
            tunnel_id,
            session_id,
        })
    }

    /// The tunnel of `key`'s group a new call goes to, `None` for a new
    /// tunnel, or [`OpenError::Busy`] (module docs).
    fn choose_tunnel(&self, key: &SharingKey) -> Result<Option<u16>, OpenError> {
        let max_sessions = usize::from(self.config.max_sessions_per_tunnel.max(1));
        let max_tunnels = usize::from(self.config.max_tunnels_per_lns.max(1));
        let mut queued = 0;
        let mut with_room = 0;
        // Every tunnel with room is established and has calls waiting.
        let mut saturated = true;
        // (calls waiting, Tunnel ID) of the best tunnel with room.
        let mut best: Option<(usize, u16)> = None;
        for tunnel in self.tunnels.values() {
            if !tunnel.is_usable() || tunnel.sharing.as_ref() != Some(key) {
                continue;
            }
            let waiting = tunnel.queued_calls();
            queued += waiting;
            if tunnel.session_count() >= max_sessions {
                continue;
            }
            with_room += 1;
            saturated &= tunnel.state == TunnelState::Established && waiting > 0;
            let candidate = (waiting, tunnel.local_id);
            if best.is_none_or(|b| candidate < b) {
                best = Some(candidate);
            }
        }
        if queued >= self.config.max_queued_calls.max(1) {
            return Err(OpenError::Busy);
        }
        Ok(match best {
            Some((_, id)) if !saturated || with_room >= max_tunnels => Some(id),
            _ => None,
        })
    }

    /// LAC: a data message of this call arrived from the LNS, which proves
    /// it has the ICCN even though its acknowledgement has not come yet:
    /// releases the call's [`Event::SessionUp`] now. Returns whether one
    /// was waiting.
    pub fn confirm_session(&mut self, now: Instant, handle: SessionHandle) -> bool {
        let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(handle.tunnel_id, now) else {
            return false;
        };
        let done = tunnel.confirm_session_up(&mut ctx, handle.session_id);
        self.touched(now, handle.tunnel_id);
        done
    }

    /// LNS: accepts the call of an [`Event::SessionRequest`] (ICRP).
    pub fn accept_session(&mut self, now: Instant, handle: SessionHandle) -> bool {
        let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(handle.tunnel_id, now) else {
            return false;
        };
        let done = tunnel.accept_session(&mut ctx, handle.session_id);
        self.touched(now, handle.tunnel_id);
        done
    }

    /// LNS: refuses the call of an [`Event::SessionRequest`] with CDN
    /// `result` (e.g. result 4/5 with a message).
    pub fn refuse_session(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        result: ResultCode,
    ) -> bool {
        self.close_session(now, handle, result, None)
    }

    /// Clears a session with CDN (§6.13): result code and optional Q.931
    /// cause.
    pub fn close_session(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        result: ResultCode,
        q931: Option<Q931Cause>,
    ) -> bool {
        let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(handle.tunnel_id, now) else {
            return false;
        };
        let done = tunnel.close_session(
            &mut ctx,
            handle.session_id,
            result,
            q931,
            SessionDownCause::LocalCdn,
        );
        self.touched(now, handle.tunnel_id);
        done
    }

    /// Clears a tunnel and all its sessions with StopCCN (§6.4).
    pub fn close_tunnel(&mut self, now: Instant, tunnel_id: u16, result: ResultCode) -> bool {
        let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(tunnel_id, now) else {
            return false;
        };
        tunnel.stop(&mut ctx, result);
        self.touched(now, tunnel_id);
        true
    }

    /// Clears every tunnel (and so every session) with StopCCN carrying
    /// `result` (§6.4): a node shutting down.
    pub fn close_all_tunnels(&mut self, now: Instant, result: &ResultCode) {
        let mut tunnels: Vec<u16> = self.tunnels.keys().copied().collect();
        tunnels.sort_unstable();
        for tunnel_id in tunnels {
            self.close_tunnel(now, tunnel_id, result.clone());
        }
    }

    /// The earliest instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let setup = self.config.setup_timeout;
        self.tunnels
            .values()
            .filter_map(|t| t.poll_timeout(setup))
            .min()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<u16> = self
            .tunnels
            .iter()
            .filter(|(_, t)| {
                t.poll_timeout(self.config.setup_timeout)
                    .is_some_and(|at| at <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        due.sort_unstable();
        for id in due {
            if let Some((mut ctx, tunnel)) = self.ctx_and_tunnel(id, now) {
                tunnel.handle_timeout(&mut ctx);
            }
            self.touched(now, id);
        }
    }

    /// The next datagram to send, written at the start of `buf`: its
    /// destination and length.
    ///
    /// `buf` should hold [`MAX_CONTROL_LEN`](super::MAX_CONTROL_LEN) bytes:
    /// then every datagram fits. A datagram longer than a shorter `buf` is
    /// neither written nor lost: it stays queued in its tunnel (counted in
    /// that tunnel's channel statistics and logged), the other tunnels'
    /// datagrams are still returned, and once none fits this returns
    /// `None`; a later call with a long enough buffer sends it.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        if let Some((to, bytes)) = self.refusals.front() {
            if let Some(out) = buf.get_mut(..bytes.len()) {
                out.copy_from_slice(bytes);
                let sent = (*to, bytes.len());
                self.refusals.pop_front();
                return Some(sent);
            }
        }
        // Each tunnel queued at entry is tried once: one whose datagram
        // does not fit goes to the back, still queued.
        let mut left = self.transmit_queue.len();
        while left > 0 {
            left -= 1;
            let Some(&id) = self.transmit_queue.front() else {
                break;
            };
            if let Some(tunnel) = self.tunnels.get_mut(&id) {
                match tunnel.poll_transmit(now, buf) {
                    Ok(Some(len)) => return Some((tunnel.peer, len)),
                    Ok(None) => {}
                    Err(ShortBuffer) => {
                        self.transmit_queue.rotate_left(1);
                        continue;
                    }
                }
            }
            self.transmit_queue.pop_front();
            self.transmit_pending.remove(&id);
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_reads_t_bit_and_version() {
        assert!(is_control(&[0xc8, 0x02, 0, 12]));
        assert!(!is_control(&[0x40, 0x02]));
        assert!(!is_control(&[0xc8, 0x03]));
        assert!(!is_control(&[0xc8]));
        assert!(!is_control(&[]));
    }

    #[test]
    fn policy_prefers_a_rule_naming_the_host() {
        let config = EndpointConfig {
            peers: vec![
                PeerPolicy {
                    network: "192.0.2.0/24".parse().unwrap(),
                    secret: b"any".to_vec(),
                    host_name: None,
                    max_tunnels: None,
                    hide_avps: None,
                },
                PeerPolicy {
                    network: "192.0.2.0/24".parse().unwrap(),
                    secret: b"named".to_vec(),
                    host_name: Some(b"lac1".to_vec()),
                    max_tunnels: None,
                    hide_avps: None,
                },
            ],
            ..EndpointConfig::default()
        };
        let from: SocketAddr = "192.0.2.7:1701".parse().unwrap();
        assert_eq!(
            config.policy_for(from, Some(b"lac1")).unwrap().secret,
            b"named"
        );
        assert_eq!(
            config.policy_for(from, Some(b"other")).unwrap().secret,
            b"any"
        );
        assert!(
            config
                .policy_for("198.51.100.1:1701".parse().unwrap(), None)
                .is_none()
        );
    }

    #[test]
    fn a_datagram_longer_than_the_buffer_stays_queued() {
        let now = Instant::now();
        let mut lac = Endpoint::new(EndpointConfig::default(), [1; 32]);
        let open = |peer: &str, client_auth_id: Option<Vec<u8>>| OpenSession {
            peer: peer.parse().unwrap(),
            secret: b"s3cret".to_vec(),
            assignment_id: None,
            client_auth_id,
            call: CallInfo::default(),
            request_id: 1,
        };
        // Two tunnels; the first one's SCCRQ is the longer (its Host Name).
        let long_name = Some(vec![b'x'; 200]);
        lac.open_session(now, open("192.0.2.1:1701", long_name))
            .unwrap();
        lac.open_session(now, open("192.0.2.2:1701", None)).unwrap();
        let mut buf = vec![0u8; super::super::MAX_CONTROL_LEN];
        let mut probe = Endpoint::new(EndpointConfig::default(), [1; 32]);
        probe
            .open_session(now, open("192.0.2.2:1701", None))
            .unwrap();
        let (_, short_len) = probe.poll_transmit(now, &mut buf).unwrap();

        // A buffer only the second SCCRQ fits: that one goes, the first
        // stays queued, and the call ends (no endless retry).
        let mut short = vec![0u8; short_len];
        let (to, len) = lac.poll_transmit(now, &mut short).unwrap();
        assert_eq!(to, "192.0.2.2:1701".parse().unwrap());
        assert_eq!(len, short_len);
        assert_eq!(lac.poll_transmit(now, &mut short), None);
        assert_eq!(lac.poll_transmit(now, &mut [0u8; 4]), None);

        // A long enough buffer sends it.
        let (to, len) = lac.poll_transmit(now, &mut buf).expect("still queued");
        assert_eq!(to, "192.0.2.1:1701".parse().unwrap());
        let msg = ControlMessage::from_bytes(&buf[..len], None).unwrap();
        assert_eq!(msg.message_type, Some(MessageType::Sccrq));
        assert!(len > short_len);
        assert_eq!(lac.poll_transmit(now, &mut buf), None);
    }
}
