//! The access concentrator's side of PPPoE discovery (RFC 2516 §5).
//!
//! One [`Discovery`] serves one access interface. Subscribers are keyed by
//! their VLAN stack and MAC address: the same MAC on two VLANs is two
//! subscribers.
//!
//! * PADI → PADO (§5.1, §5.2) with AC-Name, the Service-Names, Host-Uniq
//!   and Relay-Session-Id echoed, a stateless [`AC-Cookie`](super::cookie)
//!   and, when asked for, RFC 4638 PPP-Max-Payload. **Nothing is stored
//!   for a PADI** (only the per-MAC rate-limit bucket, in a bounded table).
//! * PADR → PADS (§5.3, §5.4) once the cookie proves the PADR answers our
//!   PADO; a retransmitted PADR gets the same PADS again.
//! * PADT (§5.5) in both directions.
//! * RFC 4679 / TR-101: the Agent-Circuit-Id and Agent-Remote-Id an access
//!   node put into the PADR's Broadband Forum Vendor-Specific tag are kept
//!   in the session for AAA.
//! * Limits: sessions per interface and per subscriber, PADI token buckets
//!   (whole interface and per subscriber, in virtual time), a PADO delay
//!   that grows linearly with load so a less loaded concentrator answers
//!   first, and a bounded queue of delayed PADOs. Every refusal is an
//!   [`Event::Refused`] with a [`RefusalReason`].
//! * Per-VLAN rules ([`VlanRule`], `[[pppoe.interface.vlan]]`): the first
//!   rule matching a PADI's or PADR's VLAN tags may offer its own
//!   Service-Names, cap the sessions on its VLANs, or refuse them (no PADO,
//!   RFC 2516 §5.2); the LAC reads its NAS-Port-Id template through
//!   [`Discovery::vlan_rule`]. With no rules the server behaves exactly as
//!   without this feature.

use std::collections::{HashMap, VecDeque};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::cookie::{CookieError, CookieJar};
use super::limits::TokenBucket;
use super::{Direction, MAX_DISCOVERY_LEN, Outgoing, Transmit, parse_frame, write_frame};
use crate::wire::ethernet::{MacAddress, VlanStack};
use crate::wire::pppoe::{Code, DEFAULT_MAX_PAYLOAD, DiscoveryRepr, Tag};

/// Most events kept for the driver; beyond that new events are dropped
/// and counted ([`Discovery::events_dropped`]).
const MAX_QUEUED_EVENTS: usize = 8192;
/// Most frames waiting in the transmit queue.
const MAX_QUEUED_FRAMES: usize = 8192;

/// Configuration of one interface's discovery server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// AC-Name tag value.
    pub ac_name: Vec<u8>,
    /// Service-Names offered; empty accepts any.
    pub service_names: Vec<Vec<u8>>,
    /// Most sessions on this interface (at most 65534, the usable ids).
    pub max_sessions: u32,
    /// Most sessions for one subscriber (VLAN stack + MAC).
    pub max_sessions_per_mac: u32,
    /// PADIs answered per second on this interface (0 = no limit).
    pub padi_rate: u32,
    /// Burst of PADIs answered at once on this interface.
    pub padi_burst: u32,
    /// PADIs answered per second for one subscriber (0 = no limit).
    pub padi_rate_per_mac: u32,
    /// Burst of PADIs answered at once for one subscriber.
    pub padi_burst_per_mac: u32,
    /// PADO delay with no session in use.
    pub pado_delay: Duration,
    /// PADO delay with every session in use; in between the delay grows
    /// linearly with sessions in use / `max_sessions`.
    pub pado_delay_max: Duration,
    /// Length of an AC-Cookie time slot.
    pub cookie_lifetime: Duration,
    /// Largest PPP-Max-Payload granted (RFC 4638); 1492 disables it.
    pub max_payload: u16,
    /// Most delayed PADOs waiting at once; PADIs beyond are refused.
    pub max_pending_pados: usize,
    /// Most subscribers with a per-MAC PADI bucket at once.
    pub max_tracked_macs: usize,
    /// Per-VLAN rules, tried in order; the first that
    /// [matches](VlanRule::matches) a packet's VLAN tags applies. Packets
    /// no rule matches (and every packet when this is empty) get the
    /// settings above.
    pub vlan_rules: Vec<VlanRule>,
    /// The Session IDs this server may hand out: with several workers on
    /// one interface each owns the ids `id % count == index`, so an id is
    /// unique on the interface across them.
    pub session_ids: crate::shard::Shard,
}

/// Settings for the subscribers on some VLANs of an interface (one
/// `[[pppoe.interface.vlan]]`, converted by `node::convert::vlan_rule`).
///
/// # Matching
///
/// The tags are read as NAS-Port-Id reads them: of two tags the outer is
/// the S-VLAN and the inner the C-VLAN; a single tag is the C-VLAN (no
/// S-VLAN); an untagged frame has neither. Each of `svlan` and `cvlan` that
/// is set must be present and within its range; one that is `None` matches
/// anything, absence included. So an untagged frame, or a priority-tagged
/// one (VLAN id 0, which no configurable range holds), matches only a rule
/// with neither set, and `svlan` rules match only QinQ frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VlanRule {
    /// Outer tag (S-VLAN) ids; `None` = any, or no outer tag.
    pub svlan: Option<RangeInclusive<u16>>,
    /// Inner tag (C-VLAN) ids, or those of the only tag; `None` = any, or
    /// untagged.
    pub cvlan: Option<RangeInclusive<u16>>,
    /// Service-Names offered on these VLANs instead of
    /// [`DiscoveryConfig::service_names`]; `Some(empty)` accepts any.
    pub service_names: Option<Vec<Vec<u8>>>,
    /// Most sessions on the VLANs of this rule together; `None` = no limit
    /// of its own (the interface and per-MAC limits still apply).
    pub max_sessions: Option<u32>,
    /// NAS-Port-Id template for sessions on these VLANs (the placeholders
    /// of `[radius] nas_port_id`, which it overrides). Not used by the
    /// discovery server: the LAC reads it through [`Discovery::vlan_rule`].
    pub nas_port_id: Option<String>,
    /// Ignore discovery on these VLANs: no PADO, no PADS, only an
    /// [`Event::Refused`] with [`RefusalReason::VlanRefused`].
    pub refuse: bool,
}

impl VlanRule {
    /// Whether a packet with the tags `vlans` falls under this rule.
    pub fn matches(&self, vlans: &VlanStack) -> bool {
        let (svlan, cvlan) = match vlans.as_slice() {
            [outer, inner] => (Some(outer.vid), Some(inner.vid)),
            [only] => (None, Some(only.vid)),
            _ => (None, None),
        };
        let within = |range: &Option<RangeInclusive<u16>>, vid: Option<u16>| match range {
            None => true,
            Some(range) => vid.is_some_and(|vid| range.contains(&vid)),
        };
        within(&self.svlan, svlan) && within(&self.cvlan, cvlan)
    }
}

impl Default for DiscoveryConfig {
    /// The defaults of `[pppoe]` (`node::convert::discovery_config` of an
    /// empty section gives the same).
    fn default() -> Self {
        Self {
            ac_name: b"tunnelnas".to_vec(),
            service_names: Vec::new(),
            max_sessions: 16_000,
            max_sessions_per_mac: 2,
            padi_rate: 500,
            padi_burst: 500,
            padi_rate_per_mac: 2,
            padi_burst_per_mac: 2,
            pado_delay: Duration::ZERO,
            pado_delay_max: Duration::ZERO,
            cookie_lifetime: Duration::from_secs(30),
            max_payload: 1492,
            max_pending_pados: 4096,
            max_tracked_macs: 65_536,
            vlan_rules: Vec::new(),
            session_ids: crate::shard::Shard::WHOLE,
        }
    }
}

impl DiscoveryConfig {
    /// This configuration for worker `shard` of several sharing the
    /// interface: its Session IDs, and its share of the limits that span
    /// subscribers (sessions on the interface and per VLAN rule, the PADI
    /// rate, the tables' bounds). Per-MAC limits stay whole: a subscriber's
    /// frames all reach one worker.
    #[must_use]
    pub fn for_shard(mut self, shard: crate::shard::Shard) -> Self {
        self.session_ids = shard;
        self.max_sessions = shard.share_of(self.max_sessions);
        self.padi_rate = shard.share_of(self.padi_rate);
        self.padi_burst = shard.share_of(self.padi_burst);
        self.max_pending_pados = shard.share_of_usize(self.max_pending_pados);
        self.max_tracked_macs = shard.share_of_usize(self.max_tracked_macs);
        for rule in &mut self.vlan_rules {
            rule.max_sessions = rule.max_sessions.map(|limit| shard.share_of(limit));
        }
        self
    }
}

/// Why the server did not serve a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The Service-Name asked for is not offered.
    ServiceUnavailable,
    /// The interface has `max_sessions` sessions.
    InterfaceFull,
    /// The subscriber has `max_sessions_per_mac` sessions.
    MacLimit,
    /// A PADI over the interface's or the subscriber's rate.
    RateLimited,
    /// The delayed-PADO queue or the transmit queue is full.
    Overloaded,
    /// A PADR without a valid AC-Cookie.
    BadCookie,
    /// A PADR whose AC-Cookie is from a slot that has expired.
    ExpiredCookie,
    /// A packet that breaks RFC 2516 (bad header, tags, SESSION_ID,
    /// missing Service-Name, multicast source …).
    Malformed,
    /// A CODE the server does not accept (PADO, PADS, session stage, unknown).
    UnexpectedCode,
    /// A PADT for a session that does not exist for this subscriber.
    UnknownSession,
    /// No free session id.
    NoSessionId,
    /// The answer would not fit in a 1500-byte Ethernet payload (huge
    /// Host-Uniq or Relay-Session-Id).
    ResponseTooLarge,
    /// The packet's VLAN tags match a [`VlanRule`] with `refuse`: nothing
    /// is answered.
    VlanRefused,
    /// The [`VlanRule`] the packet's VLAN tags match has `max_sessions`
    /// sessions.
    VlanLimit,
}

/// What the discovery server tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A PADS with a session id was queued: the PPP side may start.
    SessionEstablished {
        /// The PPPoE SESSION_ID.
        session_id: u16,
        /// Subscriber MAC.
        mac: MacAddress,
        /// Subscriber VLAN stack.
        vlans: VlanStack,
        /// The Service-Name the PADR asked for.
        service_name: Vec<u8>,
        /// PPP payload granted (RFC 4638), 1492 without the tag: the MRU
        /// the PPP side may offer.
        max_payload: u16,
        /// Agent-Circuit-Id from the access node (RFC 4679).
        circuit_id: Option<Vec<u8>>,
        /// Agent-Remote-Id from the access node (RFC 4679).
        remote_id: Option<Vec<u8>>,
        /// The host's Host-Uniq.
        host_uniq: Option<Vec<u8>>,
        /// From our PADO to this PADS, read from the AC-Cookie (the server
        /// keeps no state between them): the discovery phase's latency.
        discovery_took: Duration,
    },
    /// A session ended (PADT received, or [`Discovery::terminate`]).
    SessionTerminated {
        /// The session.
        session_id: u16,
        /// Whether the subscriber sent the PADT.
        by_peer: bool,
        /// Generic-Error text of the PADT, if any.
        reason: Option<Vec<u8>>,
    },
    /// A packet was not served.
    Refused {
        /// CODE of the packet refused (`Code::Unknown(0xff)` when the
        /// frame could not be parsed far enough to tell).
        code: Code,
        /// Its source MAC ([`MacAddress::ZERO`] if unparseable).
        mac: MacAddress,
        /// Why.
        reason: RefusalReason,
    },
    /// A discovery packet was received or sent (for packet counters).
    PacketCounted {
        /// CODE.
        code: Code,
        /// Received or sent.
        direction: Direction,
    },
}

/// Why [`Discovery::terminate`] did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TerminateError {
    /// No session with this id.
    #[error("no PPPoE session {0:#06x} on this interface")]
    UnknownSession(u16),
}

/// A session the server handed out, as the LAC needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// SESSION_ID.
    pub session_id: u16,
    /// Subscriber MAC.
    pub mac: MacAddress,
    /// Subscriber VLAN stack.
    pub vlans: VlanStack,
    /// Service-Name asked for.
    pub service_name: Vec<u8>,
    /// PPP payload granted (RFC 4638).
    pub max_payload: u16,
    /// Agent-Circuit-Id (RFC 4679).
    pub circuit_id: Option<Vec<u8>>,
    /// Agent-Remote-Id (RFC 4679).
    pub remote_id: Option<Vec<u8>>,
    /// Host-Uniq of the PADR.
    pub host_uniq: Option<Vec<u8>>,
    /// Relay-Session-Id of the PADR.
    pub relay_session_id: Option<Vec<u8>>,
    /// AC-Cookie of the PADR (recognises retransmissions).
    cookie: Vec<u8>,
    /// Index of the [`VlanRule`] the session counts against.
    vlan_rule: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Subscriber {
    vlans: VlanStack,
    mac: MacAddress,
}

/// The PPPoE discovery server of one access interface (RFC 2516 §5).
#[derive(Debug)]
pub struct Discovery {
    config: DiscoveryConfig,
    local_mac: MacAddress,
    rng: StdRng,
    cookies: CookieJar,
    sessions: HashMap<u16, SessionInfo>,
    by_subscriber: HashMap<Subscriber, Vec<u16>>,
    /// Sessions per [`DiscoveryConfig::vlan_rules`] index.
    vlan_sessions: Vec<usize>,
    padi_bucket: TokenBucket,
    padi_buckets: HashMap<Subscriber, TokenBucket>,
    /// Delayed PADOs and when they go out.
    pending_pados: Vec<(Instant, Outgoing)>,
    transmit: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    events_dropped: u64,
}

impl Discovery {
    /// A server for one interface whose MAC is `local_mac`, with its RNG
    /// (cookie secrets, session ids) seeded by `seed`.
    pub fn new(
        config: DiscoveryConfig,
        local_mac: MacAddress,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        let mut rng = StdRng::from_seed(seed);
        let cookies = CookieJar::new(config.cookie_lifetime, now, &mut rng);
        let padi_bucket = TokenBucket::new(config.padi_rate, config.padi_burst, now);
        let vlan_sessions = vec![0; config.vlan_rules.len()];
        Self {
            config,
            vlan_sessions,
            local_mac,
            rng,
            cookies,
            sessions: HashMap::new(),
            by_subscriber: HashMap::new(),
            padi_bucket,
            padi_buckets: HashMap::new(),
            pending_pados: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            events_dropped: 0,
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &DiscoveryConfig {
        &self.config
    }

    /// The interface's MAC address (source of every frame).
    pub const fn local_mac(&self) -> MacAddress {
        self.local_mac
    }

    /// Sessions in use.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// A session by id.
    pub fn session(&self, session_id: u16) -> Option<&SessionInfo> {
        self.sessions.get(&session_id)
    }

    /// Every session.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionInfo> {
        self.sessions.values()
    }

    /// The [`VlanRule`] that applies to subscribers with the tags `vlans`
    /// (the first that matches), if any. The LAC takes the session's
    /// NAS-Port-Id template from it.
    pub fn vlan_rule(&self, vlans: &VlanStack) -> Option<&VlanRule> {
        self.vlan_rule_index(vlans)
            .and_then(|i| self.config.vlan_rules.get(i))
    }

    /// Sessions in use under the rule `config().vlan_rules[index]` (0 for
    /// an index without a rule).
    pub fn vlan_rule_sessions(&self, index: usize) -> usize {
        self.vlan_sessions.get(index).copied().unwrap_or(0)
    }

    fn vlan_rule_index(&self, vlans: &VlanStack) -> Option<usize> {
        self.config.vlan_rules.iter().position(|r| r.matches(vlans))
    }

    /// Events dropped because the driver did not drain [`Self::poll_event`].
    pub const fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// PADOs waiting for their delay to pass.
    pub fn pending_pado_count(&self) -> usize {
        self.pending_pados.len()
    }

    fn event(&mut self, event: Event) {
        if self.events.len() < MAX_QUEUED_EVENTS {
            self.events.push_back(event);
        } else {
            self.events_dropped = self.events_dropped.saturating_add(1);
        }
    }

    fn refuse(&mut self, code: Code, mac: MacAddress, reason: RefusalReason) {
        self.event(Event::Refused { code, mac, reason });
    }

    fn queue(&mut self, out: Outgoing) -> bool {
        if self.transmit.len() >= MAX_QUEUED_FRAMES {
            let mac = out.dst;
            self.refuse(out.repr.code, mac, RefusalReason::Overloaded);
            return false;
        }
        self.transmit.push_back(out);
        true
    }

    /// Handles a received Ethernet frame (EtherType 0x8863, VLAN tags
    /// still in the frame). Frames sent by this interface and frames for
    /// another unicast address are ignored without an event.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        match parse_frame(frame) {
            Ok(parsed) => {
                if parsed.src == self.local_mac
                    || (!parsed.dst.is_broadcast() && parsed.dst != self.local_mac)
                {
                    return;
                }
                self.handle_repr(now, parsed.vlans, parsed.src, parsed.repr);
            }
            Err(_) => {
                let src = frame
                    .get(6..12)
                    .and_then(|b| MacAddress::from_bytes(b).ok())
                    .unwrap_or(MacAddress::ZERO);
                self.malformed(src);
            }
        }
    }

    /// Handles a PPPoE Discovery packet (starting at the PPPoE header)
    /// that arrived from `src` with the VLAN tags `vlans` (for drivers
    /// that strip the Ethernet header, e.g. with PACKET_AUXDATA).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        vlans: VlanStack,
        src: MacAddress,
        packet: &[u8],
    ) {
        match DiscoveryRepr::parse_bytes(packet) {
            Ok(repr) => self.handle_repr(now, vlans, src, repr),
            Err(_) => self.malformed(src),
        }
    }

    fn malformed(&mut self, src: MacAddress) {
        self.event(Event::PacketCounted {
            code: Code::Unknown(0xff),
            direction: Direction::Rx,
        });
        self.refuse(Code::Unknown(0xff), src, RefusalReason::Malformed);
    }

    fn handle_repr(
        &mut self,
        now: Instant,
        vlans: VlanStack,
        src: MacAddress,
        repr: DiscoveryRepr,
    ) {
        self.event(Event::PacketCounted {
            code: repr.code,
            direction: Direction::Rx,
        });
        // RFC 2516 §5.1–5.3: packets from hosts come from a unicast address.
        if !src.is_unicast() || src == MacAddress::ZERO {
            self.refuse(repr.code, src, RefusalReason::Malformed);
            return;
        }
        self.cookies.rotate(now, &mut self.rng);
        let who = Subscriber { vlans, mac: src };
        match repr.code {
            Code::Padi => self.on_padi(now, who, &repr),
            Code::Padr => self.on_padr(now, who, &repr),
            Code::Padt => self.on_padt(who, &repr),
            other => self.refuse(other, src, RefusalReason::UnexpectedCode),
        }
    }

    /// The Service-Names offered under the rule `rule` (an index into
    /// [`DiscoveryConfig::vlan_rules`]): its own, or the interface's.
    fn service_names(&self, rule: Option<usize>) -> &[Vec<u8>] {
        rule.and_then(|i| self.config.vlan_rules.get(i))
            .and_then(|r| r.service_names.as_deref())
            .unwrap_or(&self.config.service_names)
    }

    fn offers(&self, service: &[u8], rule: Option<usize>) -> bool {
        // RFC 2516 Appendix A: "A Service-Name TAG with a zero length
        // indicates that any service is acceptable."
        let offered = self.service_names(rule);
        service.is_empty() || offered.is_empty() || offered.iter().any(|s| s == service)
    }

    /// Whether the rule `rule` refuses discovery.
    fn refused(&self, rule: Option<usize>) -> bool {
        rule.and_then(|i| self.config.vlan_rules.get(i))
            .is_some_and(|r| r.refuse)
    }

    fn subscriber_sessions(&self, who: &Subscriber) -> usize {
        self.by_subscriber.get(who).map_or(0, Vec::len)
    }

    /// Whether a new session under the rule `rule` would break a limit.
    fn limit_reached(&self, who: &Subscriber, rule: Option<usize>) -> Option<RefusalReason> {
        let max = usize::try_from(self.config.max_sessions.min(0xfffe)).unwrap_or(0xfffe);
        let vlan_full = rule.is_some_and(|i| {
            self.config
                .vlan_rules
                .get(i)
                .and_then(|r| r.max_sessions)
                .is_some_and(|max| {
                    self.vlan_rule_sessions(i) >= usize::try_from(max).unwrap_or(usize::MAX)
                })
        });
        if self.sessions.len() >= max {
            Some(RefusalReason::InterfaceFull)
        } else if vlan_full {
            Some(RefusalReason::VlanLimit)
        } else if self.subscriber_sessions(who)
            >= usize::try_from(self.config.max_sessions_per_mac).unwrap_or(usize::MAX)
        {
            Some(RefusalReason::MacLimit)
        } else {
            None
        }
    }

    /// RFC 4638 §4: the payload granted for a PPP-Max-Payload request.
    fn grant_max_payload(&self, requested: Option<u16>) -> Option<u16> {
        let requested = requested?;
        // A value of 1492 or less asks for nothing beyond RFC 2516; a
        // server configured at 1492 does not implement RFC 4638 and
        // ignores the tag.
        (requested > DEFAULT_MAX_PAYLOAD && self.config.max_payload > DEFAULT_MAX_PAYLOAD)
            .then(|| requested.min(self.config.max_payload))
    }

    /// Takes a PADI token for the subscriber and then for the interface.
    fn padi_allowed(&mut self, now: Instant, who: Subscriber) -> bool {
        if self.config.padi_rate_per_mac != 0 {
            if !self.padi_buckets.contains_key(&who)
                && self.padi_buckets.len() >= self.config.max_tracked_macs
            {
                // Forget subscribers whose bucket refilled: they carry no
                // information.
                self.padi_buckets.retain(|_, b| !b.is_full_at(now));
            }
            if !self.padi_buckets.contains_key(&who)
                && self.padi_buckets.len() >= self.config.max_tracked_macs
            {
                return false;
            }
            let (rate, burst) = (
                self.config.padi_rate_per_mac,
                self.config.padi_burst_per_mac,
            );
            let bucket = self
                .padi_buckets
                .entry(who)
                .or_insert_with(|| TokenBucket::new(rate, burst, now));
            if !bucket.try_take(now) {
                return false;
            }
        }
        self.padi_bucket.try_take(now)
    }

    /// The PADO delay at the current load.
    fn pado_delay(&self) -> Duration {
        let min = self.config.pado_delay;
        let max = self.config.pado_delay_max.max(min);
        let capacity = u128::from(self.config.max_sessions.max(1));
        let in_use = (self.sessions.len() as u128).min(capacity);
        let extra = (max - min).as_nanos() * in_use / capacity;
        min + Duration::from_nanos(u64::try_from(extra).unwrap_or(u64::MAX))
    }

    /// Tags every answer echoes: RFC 2516 Appendix A, Host-Uniq: "the
    /// Access Concentrator MUST include the TAG unmodified in associated
    /// PADO or PADS response"; Relay-Session-Id: "the Access Concentrator
    /// MUST include it unmodified in any discovery packet they send as a
    /// response".
    fn echoed(request: &DiscoveryRepr) -> impl Iterator<Item = Tag> + '_ {
        let host_uniq = request.host_uniq().map(|v| Tag::HostUniq(v.to_vec()));
        let relay = request
            .relay_session_id()
            .map(|v| Tag::RelaySessionId(v.to_vec()));
        host_uniq.into_iter().chain(relay)
    }

    fn on_padi(&mut self, now: Instant, who: Subscriber, padi: &DiscoveryRepr) {
        // RFC 2516 §5.1: "The SESSION_ID MUST be set to 0x0000." and "The
        // PADI packet MUST contain exactly one TAG of TAG_TYPE
        // Service-Name"; we serve the first and accept extras.
        let Some(service) = padi.service_name().filter(|_| padi.session_id == 0) else {
            self.refuse(Code::Padi, who.mac, RefusalReason::Malformed);
            return;
        };
        let rule = self.vlan_rule_index(&who.vlans);
        // RFC 2516 §5.2: "If the Access Concentrator can not serve the PADI
        // it MUST NOT respond with a PADO." A refused VLAN is checked
        // before the rate limits, so a PADI storm on it takes no token
        // from the subscribers on the VLANs that are served.
        if self.refused(rule) {
            self.refuse(Code::Padi, who.mac, RefusalReason::VlanRefused);
            return;
        }
        if !self.padi_allowed(now, who) {
            self.refuse(Code::Padi, who.mac, RefusalReason::RateLimited);
            return;
        }
        // RFC 2516 §5.2: "If the Access Concentrator can not serve the PADI
        // it MUST NOT respond with a PADO."
        if !self.offers(service, rule) {
            self.refuse(Code::Padi, who.mac, RefusalReason::ServiceUnavailable);
            return;
        }
        if let Some(reason) = self.limit_reached(&who, rule) {
            self.refuse(Code::Padi, who.mac, reason);
            return;
        }
        let Some(cookie) = self.cookies.issue(who.mac, &who.vlans, now) else {
            self.refuse(Code::Padi, who.mac, RefusalReason::Overloaded);
            return;
        };
        // RFC 2516 §5.2: "The PADO packet MUST contain one AC-Name TAG
        // containing the Access Concentrator's name, a Service-Name TAG
        // identical to the one in the PADI, and any number of other
        // Service-Name TAGs indicating other services that the Access
        // Concentrator offers."
        let mut pado = DiscoveryRepr::new(Code::Pado, 0);
        pado.tags.push(Tag::AcName(self.config.ac_name.clone()));
        pado.tags.push(Tag::ServiceName(service.to_vec()));
        for other in self.service_names(rule) {
            if other.as_slice() != service {
                pado.tags.push(Tag::ServiceName(other.clone()));
            }
        }
        pado.tags.push(Tag::AcCookie(cookie.to_vec()));
        pado.tags.extend(Self::echoed(padi));
        if let Some(granted) = self.grant_max_payload(padi.max_payload()) {
            pado.tags.push(Tag::PppMaxPayload(granted));
        }
        if pado.buffer_len() > MAX_DISCOVERY_LEN {
            self.refuse(Code::Padi, who.mac, RefusalReason::ResponseTooLarge);
            return;
        }
        let out = Outgoing {
            dst: who.mac,
            vlans: who.vlans,
            repr: pado,
        };
        let delay = self.pado_delay();
        if delay.is_zero() {
            self.queue(out);
        } else if self.pending_pados.len() >= self.config.max_pending_pados {
            self.refuse(Code::Padi, who.mac, RefusalReason::Overloaded);
        } else {
            self.pending_pados.push((now + delay, out));
        }
    }

    /// An answer to `padr` refusing it, SESSION_ID 0 and an error tag.
    fn refuse_padr(
        &mut self,
        who: Subscriber,
        padr: &DiscoveryRepr,
        reason: RefusalReason,
        error: Tag,
    ) {
        self.refuse(Code::Padr, who.mac, reason);
        let mut pads = DiscoveryRepr::new(Code::Pads, 0);
        if let Some(service) = padr.service_name() {
            pads.tags.push(Tag::ServiceName(service.to_vec()));
        }
        pads.tags.push(Tag::AcName(self.config.ac_name.clone()));
        pads.tags.extend(Self::echoed(padr));
        pads.tags.push(error);
        if pads.buffer_len() <= MAX_DISCOVERY_LEN {
            self.queue(Outgoing {
                dst: who.mac,
                vlans: who.vlans,
                repr: pads,
            });
        }
    }

    fn pads_for(&self, session: &SessionInfo) -> DiscoveryRepr {
        // RFC 2516 §5.4: "the PADS packet … MUST contain exactly one TAG
        // of TAG_TYPE Service-Name".
        let mut pads = DiscoveryRepr::new(Code::Pads, session.session_id);
        pads.tags
            .push(Tag::ServiceName(session.service_name.clone()));
        pads.tags.push(Tag::AcName(self.config.ac_name.clone()));
        if let Some(v) = &session.host_uniq {
            pads.tags.push(Tag::HostUniq(v.clone()));
        }
        if let Some(v) = &session.relay_session_id {
            pads.tags.push(Tag::RelaySessionId(v.clone()));
        }
        if session.max_payload > DEFAULT_MAX_PAYLOAD {
            pads.tags.push(Tag::PppMaxPayload(session.max_payload));
        }
        pads
    }

    /// The session a PADR repeats: same subscriber, same Host-Uniq (or
    /// none in both), and the same AC-Cookie — or any cookie when the
    /// Host-Uniq is non-empty, so a retransmission whose cookie expired
    /// meanwhile is still recognised. Two sessions of one MAC in one
    /// cookie slot share the cookie: only the Host-Uniq tells them apart.
    fn retransmitted(&self, who: &Subscriber, padr: &DiscoveryRepr) -> Option<u16> {
        let ids = self.by_subscriber.get(who)?;
        let host_uniq = padr.host_uniq();
        ids.iter().copied().find(|id| {
            self.sessions.get(id).is_some_and(|s| {
                s.host_uniq.as_deref() == host_uniq
                    && (host_uniq.is_some_and(|h| !h.is_empty())
                        || padr.ac_cookie() == Some(s.cookie.as_slice()))
            })
        })
    }

    fn allocate_session_id(&mut self) -> Option<u16> {
        // Ids 0x0000 and 0xFFFF are reserved (RFC 2516 §4: "the value
        // 0xffff is reserved for future use and MUST NOT be used").
        let shard = self.config.session_ids;
        for _ in 0..32 {
            let id = self.rng.random_range(1..=0xfffe_u16);
            if shard.owns(id) && !self.sessions.contains_key(&id) {
                return Some(id);
            }
        }
        let start = self.rng.random_range(1..=0xfffe_u16);
        (start..=0xfffe)
            .chain(1..start)
            .find(|id| shard.owns(*id) && !self.sessions.contains_key(id))
    }

    fn on_padr(&mut self, now: Instant, who: Subscriber, padr: &DiscoveryRepr) {
        // RFC 2516 §5.3: "The SESSION_ID MUST be set to 0x0000." and the
        // PADR "MUST contain exactly one TAG of TAG_TYPE Service-Name".
        let Some(service) = padr.service_name().filter(|_| padr.session_id == 0) else {
            self.refuse(Code::Padr, who.mac, RefusalReason::Malformed);
            return;
        };
        let rule = self.vlan_rule_index(&who.vlans);
        // A refused VLAN gets no answer at all, not even a PADS with an
        // error: for its hosts this concentrator does not exist (no PADO
        // was sent, so a PADR here is forged or misdirected).
        if self.refused(rule) {
            self.refuse(Code::Padr, who.mac, RefusalReason::VlanRefused);
            return;
        }
        if let Some(id) = self.retransmitted(&who, padr) {
            // The PADS was lost: the same answer again.
            if let Some(session) = self.sessions.get(&id) {
                let pads = self.pads_for(session);
                self.queue(Outgoing {
                    dst: who.mac,
                    vlans: who.vlans,
                    repr: pads,
                });
            }
            return;
        }
        let discovery_took = match self
            .cookies
            .verify(padr.ac_cookie(), who.mac, &who.vlans, now)
        {
            Ok(took) => took,
            // Silently dropped: answering forged PADRs would make the
            // server a reflector, and a real host retransmits and then
            // starts over with a PADI.
            Err(CookieError::Expired) => {
                self.refuse(Code::Padr, who.mac, RefusalReason::ExpiredCookie);
                return;
            }
            Err(_) => {
                self.refuse(Code::Padr, who.mac, RefusalReason::BadCookie);
                return;
            }
        };
        // RFC 2516 §5.4: "If the Access Concentrator does not like the
        // Service-Name in the PADR, then it MUST reply with a PADS
        // containing a TAG of TAG_TYPE Service-Name-Error (and any number
        // of other TAG types). In this case the SESSION_ID MUST be set to
        // 0x0000."
        if !self.offers(service, rule) {
            self.refuse_padr(
                who,
                padr,
                RefusalReason::ServiceUnavailable,
                Tag::ServiceNameError(b"service not offered".to_vec()),
            );
            return;
        }
        // AC-System-Error: "the AC experienced some error in performing the
        // Host request. (For example insufficient resources to create a
        // virtual circuit.)"
        if let Some(reason) = self.limit_reached(&who, rule) {
            let text: &[u8] = match reason {
                RefusalReason::MacLimit => b"too many sessions for this subscriber",
                RefusalReason::VlanLimit => b"session limit reached on this VLAN",
                _ => b"session limit reached",
            };
            self.refuse_padr(who, padr, reason, Tag::AcSystemError(text.to_vec()));
            return;
        }
        let Some(session_id) = self.allocate_session_id() else {
            self.refuse_padr(
                who,
                padr,
                RefusalReason::NoSessionId,
                Tag::AcSystemError(b"no session id free".to_vec()),
            );
            return;
        };
        let session = SessionInfo {
            session_id,
            mac: who.mac,
            vlans: who.vlans,
            service_name: service.to_vec(),
            max_payload: self
                .grant_max_payload(padr.max_payload())
                .unwrap_or(DEFAULT_MAX_PAYLOAD),
            circuit_id: padr.agent_circuit_id().map(<[u8]>::to_vec),
            remote_id: padr.agent_remote_id().map(<[u8]>::to_vec),
            host_uniq: padr.host_uniq().map(<[u8]>::to_vec),
            relay_session_id: padr.relay_session_id().map(<[u8]>::to_vec),
            cookie: padr.ac_cookie().map(<[u8]>::to_vec).unwrap_or_default(),
            vlan_rule: rule,
        };
        let pads = self.pads_for(&session);
        if pads.buffer_len() > MAX_DISCOVERY_LEN {
            self.refuse(Code::Padr, who.mac, RefusalReason::ResponseTooLarge);
            return;
        }
        if !self.queue(Outgoing {
            dst: who.mac,
            vlans: who.vlans,
            repr: pads,
        }) {
            return;
        }
        self.event(Event::SessionEstablished {
            session_id,
            mac: who.mac,
            vlans: who.vlans,
            service_name: session.service_name.clone(),
            max_payload: session.max_payload,
            circuit_id: session.circuit_id.clone(),
            remote_id: session.remote_id.clone(),
            host_uniq: session.host_uniq.clone(),
            discovery_took,
        });
        self.by_subscriber.entry(who).or_default().push(session_id);
        if let Some(count) = rule.and_then(|i| self.vlan_sessions.get_mut(i)) {
            *count += 1;
        }
        self.sessions.insert(session_id, session);
    }

    fn remove(&mut self, session_id: u16) -> Option<SessionInfo> {
        let session = self.sessions.remove(&session_id)?;
        if let Some(count) = session
            .vlan_rule
            .and_then(|i| self.vlan_sessions.get_mut(i))
        {
            *count = count.saturating_sub(1);
        }
        let who = Subscriber {
            vlans: session.vlans,
            mac: session.mac,
        };
        if let Some(ids) = self.by_subscriber.get_mut(&who) {
            ids.retain(|&id| id != session_id);
            if ids.is_empty() {
                self.by_subscriber.remove(&who);
            }
        }
        Some(session)
    }

    fn on_padt(&mut self, who: Subscriber, padt: &DiscoveryRepr) {
        // RFC 2516 §5.5: "The SESSION_ID MUST be set to indicate which
        // session is to be terminated." Only the subscriber that owns the
        // session may end it.
        let owned = self
            .sessions
            .get(&padt.session_id)
            .is_some_and(|s| s.mac == who.mac && s.vlans == who.vlans);
        if !owned {
            self.refuse(Code::Padt, who.mac, RefusalReason::UnknownSession);
            return;
        }
        self.remove(padt.session_id);
        let reason = padt.error().map(|(_, text)| text.to_vec());
        self.event(Event::SessionTerminated {
            session_id: padt.session_id,
            by_peer: true,
            reason,
        });
    }

    /// Ends a session from this side: queues a PADT (with a Generic-Error
    /// carrying `reason`, if given) and forgets the session.
    pub fn terminate(
        &mut self,
        session_id: u16,
        reason: Option<&str>,
    ) -> Result<SessionInfo, TerminateError> {
        let session = self
            .remove(session_id)
            .ok_or(TerminateError::UnknownSession(session_id))?;
        // RFC 2516 §5.5: "This packet may be sent anytime after a session
        // is established … No TAGS are required."
        let mut padt = DiscoveryRepr::new(Code::Padt, session_id);
        padt.tags.push(Tag::AcName(self.config.ac_name.clone()));
        if let Some(v) = &session.relay_session_id {
            padt.tags.push(Tag::RelaySessionId(v.clone()));
        }
        if let Some(text) = reason {
            let mut text = text.as_bytes().to_vec();
            text.truncate(255);
            padt.tags.push(Tag::GenericError(text));
        }
        self.queue(Outgoing {
            dst: session.mac,
            vlans: session.vlans,
            repr: padt,
        });
        self.event(Event::SessionTerminated {
            session_id,
            by_peer: false,
            reason: reason.map(|r| r.as_bytes().to_vec()),
        });
        Ok(session)
    }

    /// When [`Self::handle_timeout`] next has work (a delayed PADO).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending_pados.iter().map(|(at, _)| *at).min()
    }

    /// Releases the delayed PADOs that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.cookies.rotate(now, &mut self.rng);
        let mut due: Vec<(Instant, Outgoing)> = Vec::new();
        let mut i = 0;
        while i < self.pending_pados.len() {
            if self.pending_pados.get(i).is_some_and(|(at, _)| *at <= now) {
                due.push(self.pending_pados.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|(at, _)| *at);
        for (_, out) in due {
            self.queue(out);
        }
    }

    /// Writes the next frame into `buf` (at least [`super::MAX_FRAME_LEN`]
    /// bytes). A frame that does not fit a too-small buffer is dropped with
    /// an [`RefusalReason::Overloaded`] event.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            let out = self.transmit.pop_front()?;
            match write_frame(buf, self.local_mac, &out) {
                Ok(transmit) => {
                    self.event(Event::PacketCounted {
                        code: transmit.code,
                        direction: Direction::Tx,
                    });
                    return Some(transmit);
                }
                Err(_) => self.refuse(out.repr.code, out.dst, RefusalReason::Overloaded),
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(config: DiscoveryConfig) -> Discovery {
        Discovery::new(
            config,
            MacAddress::new([2, 0, 0, 0, 0, 1]),
            [1; 32],
            Instant::now(),
        )
    }

    /// A plain untagged session `id` of `mac`, as a PADR would leave it.
    fn session(id: u16, mac: MacAddress) -> SessionInfo {
        SessionInfo {
            session_id: id,
            mac,
            vlans: VlanStack::new(),
            service_name: Vec::new(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            circuit_id: None,
            remote_id: None,
            host_uniq: None,
            relay_session_id: None,
            cookie: Vec::new(),
            vlan_rule: None,
        }
    }

    #[test]
    fn a_shard_allocates_only_its_own_session_ids_and_shares_the_limits() {
        let shard = crate::shard::Shard::new(1, 3).expect("valid shard");
        let config = DiscoveryConfig {
            max_sessions: 10,
            padi_rate: 100,
            ..DiscoveryConfig::default()
        }
        .for_shard(shard);
        assert_eq!((config.max_sessions, config.padi_rate), (4, 34));
        let mut d = core(config);
        for _ in 0..2000 {
            let id = d.allocate_session_id().expect("ids left");
            assert!(shard.owns(id) && id != 0 && id != 0xffff, "id {id}");
            d.sessions
                .insert(id, session(id, MacAddress::new([2, 0, 0, 0, 0, 2])));
        }
    }

    #[test]
    fn pado_delay_is_linear_and_tolerates_odd_configs() {
        let mut config = DiscoveryConfig {
            max_sessions: 4,
            pado_delay: Duration::from_millis(200),
            pado_delay_max: Duration::from_millis(100),
            ..DiscoveryConfig::default()
        };
        // Max below min: the delay stays at min.
        assert_eq!(
            core(config.clone()).pado_delay(),
            Duration::from_millis(200)
        );
        config.pado_delay_max = Duration::from_millis(600);
        let mut d = core(config.clone());
        assert_eq!(d.pado_delay(), Duration::from_millis(200));
        for id in 1..=2 {
            d.sessions
                .insert(id, session(id, MacAddress::new([2, 0, 0, 0, 1, id as u8])));
        }
        assert_eq!(d.pado_delay(), Duration::from_millis(400));
        // max_sessions 0 does not divide by zero.
        config.max_sessions = 0;
        assert_eq!(core(config).pado_delay(), Duration::from_millis(200));
    }

    fn c_tag(vid: u16) -> VlanStack {
        VlanStack::single(crate::wire::ethernet::VlanTag::customer(vid).unwrap())
    }

    fn qinq(svid: u16, cvid: u16) -> VlanStack {
        use crate::wire::ethernet::VlanTag;
        VlanStack::double(
            VlanTag::service(svid).unwrap(),
            VlanTag::customer(cvid).unwrap(),
        )
    }

    #[test]
    fn vlan_rule_matching_table() {
        let untagged = VlanStack::new();
        let any = VlanRule::default();
        let c100 = VlanRule {
            cvlan: Some(100..=100),
            ..VlanRule::default()
        };
        let s10 = VlanRule {
            svlan: Some(10..=19),
            ..VlanRule::default()
        };
        let s10_c100 = VlanRule {
            svlan: Some(10..=10),
            cvlan: Some(100..=199),
            ..VlanRule::default()
        };
        // (rule, frame, matches)
        let table: [(&VlanRule, VlanStack, bool); 17] = [
            // A rule with neither key matches everything.
            (&any, untagged, true),
            (&any, c_tag(0), true),
            (&any, c_tag(100), true),
            (&any, qinq(10, 100), true),
            // cvlan: the only tag, or the inner one of two.
            (&c100, untagged, false),
            (&c100, c_tag(100), true),
            (&c100, c_tag(101), false),
            (&c100, qinq(7, 100), true),
            (&c100, qinq(100, 7), false),
            // svlan: only the outer of two tags; a single tag is a C-tag.
            (&s10, c_tag(10), false),
            (&s10, qinq(10, 5), true),
            (&s10, qinq(19, 5), true),
            (&s10, qinq(20, 5), false),
            // Both keys: both must hold.
            (&s10_c100, qinq(10, 150), true),
            (&s10_c100, qinq(11, 150), false),
            (&s10_c100, qinq(10, 200), false),
            (&s10_c100, c_tag(150), false),
        ];
        for (i, (rule, frame, expected)) in table.iter().enumerate() {
            assert_eq!(
                rule.matches(frame),
                *expected,
                "row {i}: {rule:?} {frame:?}"
            );
        }
        // A priority-tagged frame (VLAN id 0) matches no id range.
        let all_ids = VlanRule {
            cvlan: Some(1..=4094),
            ..VlanRule::default()
        };
        assert!(!all_ids.matches(&c_tag(0)));
        assert!(!all_ids.matches(&untagged));
        assert!(all_ids.matches(&c_tag(4094)));
    }

    #[test]
    fn vlan_rules_apply_in_order() {
        let c = DiscoveryConfig {
            vlan_rules: vec![
                VlanRule {
                    svlan: Some(10..=10),
                    cvlan: Some(100..=199),
                    service_names: Some(vec![b"biz".to_vec()]),
                    max_sessions: Some(5),
                    nas_port_id: Some("{interface}/{cvlan}".into()),
                    refuse: false,
                },
                VlanRule {
                    refuse: true,
                    ..VlanRule::default()
                },
            ],
            ..DiscoveryConfig::default()
        };
        // No interface, no rules: the defaults have none.
        assert!(DiscoveryConfig::default().vlan_rules.is_empty());
        let d = core(c);
        assert_eq!(
            d.vlan_rule(&qinq(10, 150)).and_then(|r| r.max_sessions),
            Some(5)
        );
        assert!(d.vlan_rule(&c_tag(150)).is_some_and(|r| r.refuse));
        assert_eq!(d.vlan_rule_sessions(0), 0);
        assert_eq!(d.vlan_rule_sessions(99), 0);
    }

    #[test]
    fn max_payload_grant_table() {
        let mut config = DiscoveryConfig {
            max_payload: 1500,
            ..DiscoveryConfig::default()
        };
        let d = core(config.clone());
        assert_eq!(d.grant_max_payload(None), None);
        assert_eq!(d.grant_max_payload(Some(1492)), None);
        assert_eq!(d.grant_max_payload(Some(1493)), Some(1493));
        assert_eq!(d.grant_max_payload(Some(u16::MAX)), Some(1500));
        config.max_payload = 1400;
        assert_eq!(core(config).grant_max_payload(Some(1500)), None);
    }
}
