//! The subscriber farm: N emulated PPPoE subscribers on one Ethernet
//! segment, sans-IO, for the demo and the set-up / forwarding benchmark.
//!
//! Each subscriber has a locally administered MAC (`prefix:index`, see
//! [`subscriber_mac`]), our discovery client ([`crate::pppoe::Client`],
//! RFC 2516 §5) and, once the PADS came, a PPP [`Link`] in the client role
//! that runs LCP (RFC 1661), authenticates with PAP, CHAP-MD5 or MS-CHAPv2
//! (RFC 1334, RFC 1994, RFC 2759; credentials from the farm's list, round
//! robin) and IPCP (RFC 1332) for an address. Once IPCP is Opened it sends
//! an ICMP Echo Request (RFC 792) to the address the far end gave itself
//! in IPCP every `ping_interval`, and counts the replies.
//!
//! LCP over PPPoE, RFC 2516 §7: "An implementation MUST NOT request any
//! of the following options, and MUST reject a request for such an option:
//! ... (ACFC), ... (ACCM)" — the links run with compression refused and
//! take the PADS's PPP-Max-Payload (1492 without RFC 4638) as their MRU
//! and as the lower layer's limit. The segment is untagged: tagged frames
//! are ignored.
//!
//! Subscribers start gradually, `start_rate` per second, so a benchmark
//! measures the set-up rate the device under test sustains; each set-up is
//! timed per phase (discovery: PADI → PADS; LCP: PADS → LCP Opened; auth:
//! LCP Opened → authenticated; IPCP: authenticated → IPCP Opened; total)
//! into [`LatencyHistogram`](super::LatencyHistogram)s. A session that
//! ends (PADT, LCP Terminate-Request, echo loss) is counted by cause, and
//! redials after `redial` when that is set.
//!
//! Inputs: [`SubscriberFarm::handle_frame`] (every Ethernet frame of the
//! segment, discovery and session) and [`SubscriberFarm::handle_timeout`];
//! outputs: [`SubscriberFarm::poll_transmit`] (whole Ethernet frames),
//! [`SubscriberFarm::poll_timeout`] and [`SubscriberFarm::stats`].
//! Timers live in one heap and transmissions in one ready queue, so the
//! work per input does not grow with the number of subscribers, and the
//! ping path writes straight into the caller's buffer (no allocation per
//! packet). [`run_farm`] is a blocking driver over an AF_PACKET socket.
//!
//! This file has the farm itself: its subscribers, inputs, timers and
//! ready queue. The parts around it: `stats` (what the farm reports:
//! [`Stage`], [`FarmStats`], [`SubscriberView`], [`UpSession`]), `attempt`
//! (one dial attempt's discovery and link events, and its end), `pinger`
//! (the Echo Requests of a subscriber that is up) and `driver`
//! ([`run_farm`] over an AF_PACKET socket).

mod attempt;
mod driver;
mod pinger;
mod stats;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

use super::icmp;
use crate::ppp::auth::{AuthConfig, AuthMethod};
use crate::ppp::fsm::FsmConfig;
use crate::ppp::link::{Credentials, DownReason, Link};
use crate::pppoe::{Client, ClientConfig};
use crate::wire::ethernet::{
    self, EtherType, EthernetRepr, Frame as EthernetFrame, MacAddress, VlanStack,
};
use crate::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};
use crate::wire::pppoe::{SessionPacket, encapsulate_session_in_place};

use attempt::Attempt;
pub use driver::{run_farm, run_farm_observed};
use pinger::{Pinger, ping_ident};
pub use stats::{
    FarmStats, PhaseLatencies, SessionEnds, SetupFailures, Stage, SubscriberView, UpSession,
};

/// Room in front of a PPP information field: Ethernet (untagged), PPPoE
/// header, PPP Protocol field.
pub(super) const HEADROOM: usize = ethernet::HEADER_LEN + crate::wire::pppoe::HEADER_LEN + 2;

/// A buffer of this size holds every frame the farm writes.
pub const MAX_FRAME_LEN: usize = crate::pppoe::MAX_FRAME_LEN;

/// Settings of a farm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarmConfig {
    /// Number of subscribers.
    pub subscribers: u32,
    /// First two octets of every subscriber MAC (forced to locally
    /// administered unicast); the other four are the subscriber's index.
    pub mac_prefix: [u8; 2],
    /// Credentials, given to subscribers round robin (subscriber `i` gets
    /// entry `i % len`); empty: the subscribers refuse to authenticate.
    pub credentials: Vec<Credentials>,
    /// Authentication methods the subscribers accept, in order of
    /// preference (they Configure-Nak any other with the first).
    pub auth_methods: Vec<AuthMethod>,
    /// Subscribers started per second; 0 starts them all at once.
    pub start_rate: u32,
    /// At most this many subscribers in set-up (discovery to IPCP) at
    /// once: a first dial waits for room, as a load tester's concurrency
    /// limit does; 0 means no limit. Redials are not held back.
    pub max_in_setup: u32,
    /// Interval of the ICMP Echo Requests of a subscriber that is up;
    /// `None`: no pings.
    pub ping_interval: Option<Duration>,
    /// ICMP data octets per Echo Request (trimmed to the link's MTU).
    pub ping_payload: usize,
    /// Echo Requests per interval, sent back to back (at least 1): raise
    /// it to load the forwarding path.
    pub ping_burst: u16,
    /// Redial this long after a session ends or a set-up fails; `None`:
    /// the subscriber stays down.
    pub redial: Option<Duration>,
    /// The discovery client (Service-Name, retransmissions, RFC 4638
    /// PPP-Max-Payload).
    pub discovery: ClientConfig,
    /// RFC 1661 §4.6 timers and counters of LCP and IPCP.
    pub fsm: FsmConfig,
    /// Timers of the authentication exchange.
    pub auth: AuthConfig,
    /// LCP Echo-Request keepalive of the subscribers; `None`: off.
    pub lcp_echo_interval: Option<Duration>,
}

impl Default for FarmConfig {
    fn default() -> Self {
        Self {
            subscribers: 1,
            mac_prefix: [0x02, 0x1f],
            credentials: vec![Credentials {
                user: b"subscriber".to_vec(),
                password: b"password".to_vec(),
            }],
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            start_rate: 100,
            max_in_setup: 0,
            ping_interval: Some(Duration::from_secs(1)),
            ping_payload: 56,
            ping_burst: 1,
            redial: Some(Duration::from_secs(5)),
            discovery: ClientConfig {
                max_timeout: Duration::from_secs(8),
                max_padi_attempts: 8,
                ..ClientConfig::default()
            },
            fsm: FsmConfig::default(),
            auth: AuthConfig::default(),
            lcp_echo_interval: None,
        }
    }
}

/// The MAC of subscriber `index`: `prefix` (made locally administered and
/// unicast, IEEE 802 U/L and I/G bits) followed by the index, big endian.
pub fn subscriber_mac(prefix: [u8; 2], index: u32) -> MacAddress {
    let [a, b, c, d] = index.to_be_bytes();
    MacAddress::new([(prefix[0] & 0xfc) | 0x02, prefix[1], a, b, c, d])
}

/// A PPPoE session and its PPP link.
#[derive(Debug)]
struct Session {
    id: u16,
    ac: MacAddress,
    link: Link,
    /// Our and the far end's IPCP addresses, while IPCP is Opened.
    addresses: Option<(Ipv4Addr, Ipv4Addr)>,
    /// The largest PPP information field we may send (peer's MRU).
    peer_mru: u16,
    /// The link is down: drop the session once its last frames are out.
    closing: bool,
}

#[derive(Debug)]
struct Subscriber {
    discovery: Client,
    session: Option<Session>,
    stage: Stage,
    attempt: Option<Attempt>,
    dial_at: Option<Instant>,
    pinger: Option<Pinger>,
    dials: u32,
    /// The deadline this subscriber has in the timer heap.
    armed: Option<Instant>,
    /// In the ready queue.
    queued: bool,
}

/// The farm (see the module documentation).
#[derive(Debug)]
pub struct SubscriberFarm {
    config: FarmConfig,
    rng: StdRng,
    subscribers: Vec<Subscriber>,
    /// When the farm was made: subscriber `i` starts at
    /// `epoch + i / start_rate`.
    epoch: Instant,
    /// The next subscriber to start for the first time.
    next_start: u32,
    timers: BinaryHeap<Reverse<(Instant, u32)>>,
    ready: VecDeque<u32>,
    stats: FarmStats,
    shutting_down: bool,
}

impl SubscriberFarm {
    /// A farm of `config.subscribers` subscribers, none dialled yet: the
    /// first starts at the first [`Self::handle_timeout`] at or after
    /// `now`. `seed` seeds every random choice (Host-Uniq, Magic-Numbers,
    /// challenges).
    pub fn new(config: FarmConfig, seed: [u8; 32], now: Instant) -> Self {
        let mut rng = StdRng::from_seed(seed);
        let subscribers = (0..config.subscribers)
            .map(|index| Subscriber {
                discovery: Client::new(
                    config.discovery.clone(),
                    subscriber_mac(config.mac_prefix, index),
                    VlanStack::new(),
                    rng.random(),
                ),
                session: None,
                stage: Stage::Idle,
                attempt: None,
                dial_at: None,
                pinger: None,
                dials: 0,
                armed: None,
                queued: false,
            })
            .collect();
        let stats = FarmStats {
            subscribers: config.subscribers,
            idle: config.subscribers,
            ..FarmStats::default()
        };
        Self {
            config,
            rng,
            subscribers,
            epoch: now,
            next_start: 0,
            timers: BinaryHeap::new(),
            ready: VecDeque::new(),
            stats,
            shutting_down: false,
        }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &FarmConfig {
        &self.config
    }

    /// A snapshot of the counters and latency histograms.
    pub fn stats(&self) -> FarmStats {
        self.stats.clone()
    }

    /// Subscriber `index`, if it exists.
    pub fn subscriber(&self, index: u32) -> Option<SubscriberView> {
        let sub = self.subscribers.get(index as usize)?;
        let session = sub.session.as_ref().filter(|s| !s.closing);
        let addresses = session.and_then(|s| s.addresses);
        Some(SubscriberView {
            mac: subscriber_mac(self.config.mac_prefix, index),
            stage: sub.stage,
            session_id: session.map(|s| s.id),
            address: addresses.map(|a| a.0),
            peer_address: addresses.map(|a| a.1),
            dials: sub.dials,
        })
    }

    /// Every session that is up now, in subscriber order.
    pub fn up_sessions(&self) -> Vec<UpSession> {
        let mac_prefix = self.config.mac_prefix;
        (0u32..)
            .zip(&self.subscribers)
            .filter(|(_, sub)| sub.stage == Stage::Up)
            .filter_map(|(index, sub)| {
                let session = sub.session.as_ref().filter(|s| !s.closing)?;
                let (address, peer_address) = session.addresses?;
                Some(UpSession {
                    index,
                    mac: subscriber_mac(mac_prefix, index),
                    ac_mac: session.ac,
                    session_id: session.id,
                    address,
                    peer_address,
                    peer_mru: session.peer_mru,
                })
            })
            .collect()
    }

    /// The driver could not send `frames` frames (socket buffer full):
    /// counted in [`FarmStats::frames_send_failed`].
    pub const fn note_send_failures(&mut self, frames: u64) {
        self.stats.frames_send_failed = self.stats.frames_send_failed.saturating_add(frames);
    }

    /// Hangs every subscriber up: LCP Terminate-Request and PADT for every
    /// session, no more dials or redials.
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        self.next_start = self.config.subscribers;
        for index in 0..self.config.subscribers {
            let Some(sub) = self.subscribers.get_mut(index as usize) else {
                continue;
            };
            sub.dial_at = None;
            if let Some(session) = sub.session.as_mut().filter(|s| !s.closing) {
                session.link.close(now, DownReason::AdminClose);
                session.closing = true;
            }
            sub.discovery.terminate(Some("subscriber farm shut down"));
            if let Some(attempt) = sub.attempt.as_mut() {
                attempt.active = false;
            }
            sub.pinger = None;
            self.set_stage(index, Stage::Ended);
            self.touch(index);
        }
    }

    // ------------------------------------------------------------------
    // Inputs
    // ------------------------------------------------------------------

    /// An Ethernet frame from the segment (discovery or session). Frames
    /// for other stations, tagged frames and malformed ones are counted and
    /// ignored.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return self.ignore();
        };
        let Some(index) = self.index_of(eth.dst()) else {
            return self.ignore();
        };
        if eth.vlan_count() != 0 {
            return self.ignore();
        }
        self.stats.frames_received += 1;
        match eth.ethertype() {
            EtherType::PppoeDiscovery => {
                if let Some(sub) = self.subscribers.get_mut(index as usize) {
                    sub.discovery.handle_frame(now, frame);
                }
                self.drive(now, index);
            }
            EtherType::PppoeSession => self.session_frame(now, index, eth.src(), eth.payload()),
            _ => self.ignore(),
        }
    }

    fn session_frame(&mut self, now: Instant, index: u32, src: MacAddress, pppoe: &[u8]) {
        let Ok(packet) = SessionPacket::new_checked(pppoe) else {
            return self.ignore();
        };
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return self.ignore();
        };
        let Some(session) = sub
            .session
            .as_mut()
            .filter(|s| !s.closing && s.id == packet.session_id() && s.ac == src)
        else {
            return self.ignore();
        };
        let Ok(ppp) = PppFrame::new_checked(packet.payload()) else {
            return self.ignore();
        };
        if ppp.protocol() == Protocol::Ipv4 {
            // Data: the farm's own pinger, never the link.
            let ours = session.addresses;
            let Some(echo) = icmp::parse_echo(ppp.payload()).filter(|e| e.is_reply) else {
                return self.ignore();
            };
            let expected = ours.is_some_and(|(local, peer)| echo.dst == local && echo.src == peer)
                && echo.ident == ping_ident(index);
            let answer = sub
                .pinger
                .as_mut()
                .filter(|_| expected)
                .and_then(|pinger| pinger.answer(echo.seq, now));
            match answer {
                Some(rtt) => {
                    if let Some(rtt) = rtt {
                        self.stats.ping_rtt.record(rtt);
                    }
                    self.stats.pings_answered += 1;
                }
                None => self.stats.pings_unmatched += 1,
            }
            return;
        }
        // RFC 1661 §5.5 Terminate-Request (code 5): remembered so that the
        // session's end is put down to LCP even if a PADT overtakes the
        // link's Down.
        if ppp.protocol() == Protocol::Lcp
            && ppp.payload().first() == Some(&5)
            && let Some(attempt) = sub.attempt.as_mut()
        {
            attempt.peer_terminated = true;
        }
        session
            .link
            .handle_frame(now, ppp.protocol(), ppp.payload());
        self.drive(now, index);
    }

    /// Runs every timer due at `now`: starts subscribers on schedule,
    /// retransmissions, redials, pings.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.shutting_down {
            while self.next_start < self.config.subscribers
                && self.start_time(self.next_start) <= now
                && self.has_setup_room()
            {
                let index = self.next_start;
                self.next_start += 1;
                self.dial(now, index);
            }
        }
        while let Some(&Reverse((at, index))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(sub) = self.subscribers.get_mut(index as usize) else {
                continue;
            };
            if sub.armed != Some(at) {
                continue; // superseded
            }
            sub.armed = None;
            self.service(now, index);
        }
        self.prune_timers();
    }

    /// Drops superseded entries from the top of the timer heap, so that
    /// [`Self::poll_timeout`] names a live timer.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((at, index))) = self.timers.peek() {
            if self
                .subscribers
                .get(index as usize)
                .is_some_and(|s| s.armed == Some(at))
            {
                return;
            }
            self.timers.pop();
        }
    }

    /// The earliest instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let start = (!self.shutting_down
            && self.next_start < self.config.subscribers
            && self.has_setup_room())
        .then(|| self.start_time(self.next_start));
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        start.into_iter().chain(timer).min()
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// The next frame to send: writes a complete Ethernet frame into `buf`
    /// (at least [`MAX_FRAME_LEN`] bytes) and returns its length.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        while let Some(&index) = self.ready.front() {
            if let Some(len) = self.transmit_one(index, buf) {
                self.stats.frames_sent += 1;
                return Some(len);
            }
            self.ready.pop_front();
            if let Some(sub) = self.subscribers.get_mut(index as usize) {
                sub.queued = false;
            }
        }
        None
    }

    /// The next frame of subscriber `index`: its link's control frames
    /// first, then discovery (a PADT goes after the link's last words),
    /// then a due ping.
    fn transmit_one(&mut self, index: u32, buf: &mut [u8]) -> Option<usize> {
        let mac = subscriber_mac(self.config.mac_prefix, index);
        let ping_payload = self.config.ping_payload;
        let sub = self.subscribers.get_mut(index as usize)?;
        if let Some(session) = sub.session.as_mut() {
            let room = buf.get_mut(HEADROOM..)?;
            if let Some((protocol, len)) = session.link.poll_transmit(room) {
                if let Some(len) = encapsulate(buf, (mac, session.ac), session.id, protocol, len) {
                    return Some(len);
                }
            } else if session.closing {
                sub.session = None;
            }
        }
        if let Some(tx) = sub.discovery.poll_transmit(buf) {
            return Some(tx.len);
        }
        let session = sub.session.as_ref().filter(|s| !s.closing)?;
        let pinger = sub.pinger.as_mut().filter(|p| p.due > 0)?;
        let (local, peer) = session.addresses?;
        let max_payload = usize::from(session.peer_mru)
            .saturating_sub(icmp::IPV4_HEADER_LEN + icmp::ECHO_HEADER_LEN);
        let room = buf.get_mut(HEADROOM..)?;
        let seq = pinger.seq;
        let len = icmp::write_echo_request(
            room,
            (local, peer),
            ping_ident(index),
            seq,
            ping_payload.min(max_payload),
        )?;
        let frame = encapsulate(buf, (mac, session.ac), session.id, Protocol::Ipv4, len)?;
        pinger.sent();
        self.stats.pings_sent += 1;
        Some(frame)
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn ignore(&mut self) {
        self.stats.frames_ignored += 1;
    }

    /// The subscriber a unicast MAC belongs to.
    fn index_of(&self, mac: MacAddress) -> Option<u32> {
        let [a, b, c, d, e, f] = mac.octets();
        let first = subscriber_mac(self.config.mac_prefix, 0).octets();
        if [a, b] != [first[0], first[1]] {
            return None;
        }
        let index = u32::from_be_bytes([c, d, e, f]);
        (index < self.config.subscribers).then_some(index)
    }

    /// Whether [`FarmConfig::max_in_setup`] lets one more subscriber
    /// start.
    fn has_setup_room(&self) -> bool {
        let limit = self.config.max_in_setup;
        let stats = &self.stats;
        let in_setup = stats.discovering + stats.lcp + stats.authenticating + stats.network;
        limit == 0 || in_setup < limit
    }

    /// When subscriber `index` first dials.
    fn start_time(&self, index: u32) -> Instant {
        match self.config.start_rate {
            0 => self.epoch,
            rate => {
                let nanos = u128::from(index) * 1_000_000_000 / u128::from(rate);
                self.epoch + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
        }
    }

    fn set_stage(&mut self, index: u32, stage: Stage) {
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        let old = std::mem::replace(&mut sub.stage, stage);
        if old != stage {
            let from = self.stats.stage_mut(old);
            *from = from.saturating_sub(1);
            *self.stats.stage_mut(stage) += 1;
        }
    }

    /// Starts (or restarts) discovery for subscriber `index`.
    fn dial(&mut self, now: Instant, index: u32) {
        let mac = subscriber_mac(self.config.mac_prefix, index);
        let seed = self.rng.random();
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        sub.discovery = Client::new(self.config.discovery.clone(), mac, VlanStack::new(), seed);
        sub.discovery.start(now);
        sub.session = None;
        sub.pinger = None;
        sub.dial_at = None;
        sub.attempt = Some(Attempt::new(now));
        sub.dials = sub.dials.saturating_add(1);
        self.stats.dials += 1;
        self.stats
            .first_dial_at
            .get_or_insert(now.saturating_duration_since(self.epoch));
        self.set_stage(index, Stage::Discovering);
        self.touch(index);
    }

    /// Timers of subscriber `index` (its heap entry fired).
    fn service(&mut self, now: Instant, index: u32) {
        let interval = self.config.ping_interval;
        let burst = self.config.ping_burst.max(1);
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        if sub.dial_at.is_some_and(|at| at <= now) {
            self.dial(now, index);
            return;
        }
        if sub.discovery.poll_timeout().is_some_and(|at| at <= now) {
            sub.discovery.handle_timeout(now);
        }
        if let Some(session) = sub.session.as_mut()
            && session.link.poll_timeout().is_some_and(|at| at <= now)
        {
            session.link.handle_timeout(now);
        }
        if sub.stage == Stage::Up
            && let (Some(pinger), Some(interval)) = (sub.pinger.as_mut(), interval)
            && pinger.next <= now
        {
            // A burst not sent yet is replaced, not added to.
            pinger.due = burst;
            pinger.burst = Some((pinger.seq, now));
            // Keep the cadence, but never send a burst to catch up.
            pinger.next += interval;
            if pinger.next <= now {
                pinger.next = now + interval;
            }
        }
        self.drive(now, index);
    }

    /// After any input to subscriber `index`: its events, then its timer
    /// and its place in the ready queue.
    fn drive(&mut self, now: Instant, index: u32) {
        while let Some(event) = self
            .subscribers
            .get_mut(index as usize)
            .and_then(|s| s.discovery.poll_event())
        {
            self.discovery_event(now, index, event);
        }
        while let Some(event) = self
            .subscribers
            .get_mut(index as usize)
            .and_then(|s| s.session.as_mut())
            .and_then(|s| s.link.poll_event())
        {
            self.link_event(now, index, event);
        }
        self.touch(index);
    }

    /// Re-arms subscriber `index`'s timer and queues it for transmission.
    fn touch(&mut self, index: u32) {
        let Some(sub) = self.subscribers.get_mut(index as usize) else {
            return;
        };
        let link = sub
            .session
            .as_ref()
            .filter(|s| !s.closing)
            .and_then(|s| s.link.poll_timeout());
        let ping = sub
            .pinger
            .as_ref()
            .filter(|_| sub.stage == Stage::Up)
            .map(|p| p.next);
        let next = [sub.dial_at, sub.discovery.poll_timeout(), link, ping]
            .into_iter()
            .flatten()
            .min();
        if next != sub.armed {
            sub.armed = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, index)));
            }
        }
        if !sub.queued {
            sub.queued = true;
            self.ready.push_back(index);
        }
        // Superseded entries are dropped lazily; rebuild the heap before
        // they could outnumber the live ones.
        if self.timers.len() > 2 * self.subscribers.len() + 64 {
            self.timers = self
                .subscribers
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some(Reverse((s.armed?, u32::try_from(i).ok()?))))
                .collect();
        }
        self.prune_timers();
    }
}

/// Writes the PPP Protocol field, PPPoE session header and Ethernet header
/// in front of the information field at `buf[HEADROOM..HEADROOM + len]`;
/// moves the frame to the start of `buf` and returns its length.
pub(super) fn encapsulate(
    buf: &mut [u8],
    (src, dst): (MacAddress, MacAddress),
    session_id: u16,
    protocol: Protocol,
    len: usize,
) -> Option<usize> {
    let ppp_start = FrameHeader::new(protocol)
        .emit_in_headroom(buf, HEADROOM)
        .ok()?;
    let ppp_len = HEADROOM.checked_add(len)?.checked_sub(ppp_start)?;
    let eth = EthernetRepr::new(dst, src, EtherType::PppoeSession);
    let start = encapsulate_session_in_place(buf, ppp_start, ppp_len, &eth, session_id).ok()?;
    let end = ppp_start + ppp_len;
    // The untagged headers fill the headroom exactly.
    if start != 0 {
        buf.copy_within(start..end, 0);
    }
    Some(end - start)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use proptest::prelude::*;

    use super::*;
    use crate::dataplane::packet::{PacketSocket, RecvBatch};
    use crate::ppp::auth::AuthDecision;
    use crate::ppp::link::{LinkConfig, LinkEvent, Role};
    use crate::ppp::ncp::IpcpConfig;
    use crate::pppoe::{Discovery, DiscoveryConfig, Event as DiscoveryEvent};

    const BRAS_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0xb5]);
    const BRAS_ADDR: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
    const STEP: Duration = Duration::from_millis(5);

    fn user(name: &str, password: &str) -> Credentials {
        Credentials {
            user: name.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        }
    }

    /// A BRAS stand-in: our discovery server and one server link per
    /// session, checking credentials like the test LNS, addresses
    /// from 100.64.0.2 up, answering pings to its own address.
    struct Bras {
        discovery: Discovery,
        links: BTreeMap<u16, (MacAddress, Link)>,
        users: Vec<Credentials>,
        methods: Vec<AuthMethod>,
        next_host: u8,
        out: VecDeque<Vec<u8>>,
        pings_answered: u64,
        /// Drop everything (the BRAS is down).
        dead: bool,
        /// Stop answering pings.
        mute: bool,
    }

    impl Bras {
        fn new(now: Instant, users: Vec<Credentials>) -> Self {
            Self {
                discovery: Discovery::new(DiscoveryConfig::default(), BRAS_MAC, [9; 32], now),
                links: BTreeMap::new(),
                users,
                methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
                next_host: 2,
                out: VecDeque::new(),
                pings_answered: 0,
                dead: false,
                mute: false,
            }
        }

        fn handle(&mut self, now: Instant, frame: &[u8]) {
            if self.dead {
                return;
            }
            let eth = EthernetFrame::new_checked(frame).expect("farm frames are well formed");
            assert!(eth.src().is_locally_administered(), "farm MACs are local");
            match eth.ethertype() {
                EtherType::PppoeDiscovery => self.discovery.handle_frame(now, frame),
                EtherType::PppoeSession => {
                    let session = SessionPacket::new_checked(eth.payload()).expect("session");
                    let ppp = PppFrame::new_checked(session.payload()).expect("ppp");
                    assert!(!ppp.has_address_control(), "no FF 03 over PPPoE");
                    let Some((mac, link)) = self.links.get_mut(&session.session_id()) else {
                        return;
                    };
                    assert_eq!(*mac, eth.src());
                    if ppp.protocol() == Protocol::Ipv4 {
                        let mut packet = ppp.payload().to_vec();
                        let len = icmp::answer_echo(&mut packet, BRAS_ADDR)
                            .expect("the farm sends only well-formed echo requests");
                        if !self.mute {
                            self.pings_answered += 1;
                            let mac = *mac;
                            self.send(mac, session.session_id(), Protocol::Ipv4, &packet[..len]);
                        }
                    } else {
                        link.handle_frame(now, ppp.protocol(), ppp.payload());
                    }
                }
                other => panic!("unexpected EtherType {other:?}"),
            }
        }

        fn send(&mut self, mac: MacAddress, session_id: u16, protocol: Protocol, payload: &[u8]) {
            let mut buf = vec![0u8; HEADROOM + payload.len()];
            buf[HEADROOM..].copy_from_slice(payload);
            let len = encapsulate(
                &mut buf,
                (BRAS_MAC, mac),
                session_id,
                protocol,
                payload.len(),
            )
            .expect("frame");
            buf.truncate(len);
            self.out.push_back(buf);
        }

        fn pump(&mut self, now: Instant) {
            if self.discovery.poll_timeout().is_some_and(|t| t <= now) {
                self.discovery.handle_timeout(now);
            }
            while let Some(event) = self.discovery.poll_event() {
                match event {
                    DiscoveryEvent::SessionEstablished {
                        session_id,
                        mac,
                        max_payload,
                        ..
                    } => {
                        let mut config = LinkConfig {
                            role: Role::Server,
                            auth_methods: self.methods.clone(),
                            echo_interval: None,
                            ipv6: false,
                            mru: max_payload,
                            lower_max_payload: max_payload,
                            ipcp: IpcpConfig {
                                local: Some(BRAS_ADDR),
                                ..IpcpConfig::default()
                            },
                            ..LinkConfig::default()
                        };
                        config.fsm.restart_timer = Duration::from_secs(1);
                        let mut link = Link::new(config, [session_id as u8; 32]);
                        link.open(now);
                        link.assign_ipv4(now, Ipv4Addr::new(100, 64, 0, self.next_host), None);
                        self.next_host += 1;
                        self.links.insert(session_id, (mac, link));
                    }
                    DiscoveryEvent::SessionTerminated { session_id, .. } => {
                        self.links.remove(&session_id);
                    }
                    _ => {}
                }
            }
            let mut buf = vec![0u8; MAX_FRAME_LEN];
            while let Some(tx) = self.discovery.poll_transmit(&mut buf) {
                self.out.push_back(buf[..tx.len].to_vec());
            }
            let ids: Vec<u16> = self.links.keys().copied().collect();
            for id in ids {
                let mut frames = Vec::new();
                let mut down = false;
                {
                    let (mac, link) = self.links.get_mut(&id).expect("link");
                    if link.poll_timeout().is_some_and(|t| t <= now) {
                        link.handle_timeout(now);
                    }
                    while let Some(event) = link.poll_event() {
                        match event {
                            LinkEvent::AuthRequested(request) => {
                                let decision = super::super::lns::verify(&self.users, &request);
                                link.auth_complete(now, decision);
                            }
                            LinkEvent::Down { .. } => down = true,
                            _ => {}
                        }
                    }
                    while let Some((protocol, len)) = link.poll_transmit(&mut buf) {
                        frames.push((*mac, protocol, buf[..len].to_vec()));
                    }
                }
                for (mac, protocol, payload) in frames {
                    self.send(mac, id, protocol, &payload);
                }
                if down {
                    let _ = self.discovery.terminate(id, Some("PPP down"));
                    self.links.remove(&id);
                }
            }
            while let Some(tx) = self.discovery.poll_transmit(&mut buf) {
                self.out.push_back(buf[..tx.len].to_vec());
            }
        }
    }

    struct World {
        now: Instant,
        farm: SubscriberFarm,
        bras: Bras,
        /// Every frame the farm sent, for inspection.
        sent: Vec<Vec<u8>>,
        /// Impairment of the segment, both ways: RNG, loss, duplication
        /// and swap-with-next probabilities.
        impairment: Option<(StdRng, f64, f64, f64)>,
    }

    impl World {
        fn new(config: FarmConfig, users: Vec<Credentials>) -> Self {
            let now = Instant::now();
            Self {
                now,
                farm: SubscriberFarm::new(config, [7; 32], now),
                bras: Bras::new(now, users),
                sent: Vec::new(),
                impairment: None,
            }
        }

        /// Drops, duplicates and reorders `frames` as the impairment says.
        fn impair(&mut self, frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
            let Some((rng, loss, duplicate, swap)) = self.impairment.as_mut() else {
                return frames;
            };
            let mut out = Vec::with_capacity(frames.len());
            for frame in frames {
                if rng.random_bool(*loss) {
                    continue;
                }
                if rng.random_bool(*duplicate) {
                    out.push(frame.clone());
                }
                out.push(frame);
                let n = out.len();
                if n >= 2 && rng.random_bool(*swap) {
                    out.swap(n - 1, n - 2);
                }
            }
            out
        }

        fn step(&mut self) {
            let now = self.now;
            if self.farm.poll_timeout().is_some_and(|t| t <= now) {
                self.farm.handle_timeout(now);
            }
            let mut buf = vec![0u8; MAX_FRAME_LEN];
            let mut upstream = Vec::new();
            while let Some(len) = self.farm.poll_transmit(&mut buf) {
                upstream.push(buf[..len].to_vec());
            }
            self.sent.extend(upstream.iter().cloned());
            for frame in self.impair(upstream) {
                self.bras.handle(now, &frame);
            }
            self.bras.pump(now);
            let downstream: Vec<Vec<u8>> = self.bras.out.drain(..).collect();
            for frame in self.impair(downstream) {
                self.farm.handle_frame(now, &frame);
            }
            self.now += STEP;
        }

        fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&FarmStats) -> bool) -> bool {
            let end = self.now + limit;
            while self.now < end {
                self.step();
                if done(&self.farm.stats()) {
                    return true;
                }
            }
            false
        }

        fn run_for(&mut self, time: Duration) {
            let end = self.now + time;
            while self.now < end {
                self.step();
            }
        }
    }

    fn config(subscribers: u32) -> FarmConfig {
        FarmConfig {
            subscribers,
            credentials: vec![user("alice", "alice-pw"), user("bob", "bob-pw")],
            start_rate: 50,
            ping_interval: Some(Duration::from_millis(500)),
            redial: Some(Duration::from_secs(1)),
            discovery: ClientConfig {
                max_padi_attempts: 3,
                ..ClientConfig::default()
            },
            ..FarmConfig::default()
        }
    }

    fn users() -> Vec<Credentials> {
        vec![user("alice", "alice-pw"), user("bob", "bob-pw")]
    }

    fn stage_sum(stats: &FarmStats) -> u32 {
        Stage::ALL.iter().map(|s| stats.in_stage(*s)).sum()
    }

    #[test]
    fn subscribers_come_up_and_their_pings_are_answered() {
        for methods in [
            vec![AuthMethod::MsChapV2],
            vec![AuthMethod::ChapMd5],
            vec![AuthMethod::Pap],
        ] {
            let mut world = World::new(
                FarmConfig {
                    auth_methods: methods.clone(),
                    ..config(5)
                },
                users(),
            );
            assert!(
                world.run_until(Duration::from_secs(10), |s| s.up == 5),
                "{methods:?}: {:?}",
                world.farm.stats()
            );
            world.run_for(Duration::from_secs(3));
            let stats = world.farm.stats();
            assert_eq!(stats.up, 5);
            assert_eq!(stage_sum(&stats), 5);
            assert_eq!(stats.dials, 5);
            assert_eq!(stats.sessions_up, 5);
            assert_eq!(stats.setup_failures, SetupFailures::default());
            // Every phase timed once per subscriber, in order of size.
            for h in [
                &stats.setup.discovery,
                &stats.setup.lcp,
                &stats.setup.auth,
                &stats.setup.ipcp,
                &stats.setup.total,
            ] {
                assert_eq!(h.count(), 5);
            }
            assert!(stats.setup.total.min() >= stats.setup.discovery.max());
            // 3 s at 500 ms: at least 5 pings each, all answered but the
            // ones still in flight.
            assert!(stats.pings_sent >= 25, "{stats:?}");
            assert!(stats.pings_answered + 5 >= stats.pings_sent);
            assert_eq!(stats.pings_answered, world.bras.pings_answered);
            assert_eq!(stats.pings_unmatched, 0);
            assert_eq!(stats.ping_rtt.count(), stats.pings_answered);
            let mut addresses: Vec<Ipv4Addr> = (0..5)
                .map(|i| {
                    let view = world.farm.subscriber(i).unwrap();
                    assert_eq!(view.stage, Stage::Up);
                    assert_eq!(view.peer_address, Some(BRAS_ADDR));
                    assert_eq!(view.mac, subscriber_mac([0x02, 0x1f], i));
                    view.address.unwrap()
                })
                .collect();
            addresses.sort_unstable();
            addresses.dedup();
            assert_eq!(addresses.len(), 5, "every subscriber its own address");
        }
    }

    #[test]
    fn ping_bursts_are_sent_back_to_back_and_each_reply_matched_once() {
        let mut world = World::new(
            FarmConfig {
                ping_burst: 8,
                ..config(3)
            },
            users(),
        );
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 3));
        world.run_for(Duration::from_secs(3));
        let stats = world.farm.stats();
        // 3 s at 500 ms, 8 a time: at least 5 bursts each.
        assert!(stats.pings_sent >= 3 * 8 * 5, "{stats:?}");
        assert_eq!(stats.pings_sent % 8, 0, "whole bursts");
        assert!(stats.pings_answered + 3 * 8 >= stats.pings_sent);
        assert_eq!(stats.pings_answered, world.bras.pings_answered);
        assert_eq!(stats.pings_unmatched, 0);
        assert_eq!(stats.ping_rtt.count(), stats.pings_answered);
    }

    #[test]
    fn the_pinger_matches_late_replies_once_and_forgets_old_ones() {
        let start = Instant::now();
        let mut pinger = Pinger {
            next: start,
            seq: 65_530,
            due: 0,
            burst: None,
            outstanding: 0,
        };
        // Nothing sent: nothing matches.
        assert_eq!(pinger.answer(65_529, start), None);
        // Two bursts of 4 across the Sequence Number wrap.
        for burst in 0..2u16 {
            pinger.due = 4;
            pinger.burst = Some((pinger.seq, start + Duration::from_secs(u64::from(burst))));
            for _ in 0..4 {
                pinger.sent();
            }
        }
        assert_eq!(pinger.due, 0);
        assert_eq!(pinger.seq, 2);
        let now = start + Duration::from_millis(1500);
        // A reply of the current burst: with its round-trip time.
        assert_eq!(
            pinger.answer(0, now),
            Some(Some(Duration::from_millis(500)))
        );
        assert_eq!(pinger.answer(0, now), None, "duplicate");
        // A late reply of the previous burst: matched, no RTT.
        assert_eq!(pinger.answer(65_531, now), Some(None));
        // Never sent, or not yet.
        assert_eq!(pinger.answer(65_529, now), None);
        assert_eq!(pinger.answer(2, now), None);
        // After 64 more requests the old ones are forgotten.
        for _ in 0..64 {
            pinger.sent();
        }
        assert_eq!(pinger.answer(65_532, now), None);
    }

    #[test]
    fn at_most_max_in_setup_subscribers_set_up_at_once() {
        let mut world = World::new(
            FarmConfig {
                start_rate: 0,
                max_in_setup: 5,
                ..config(20)
            },
            users(),
        );
        let mut most = 0;
        let all_up = world.run_until(Duration::from_secs(10), |s| {
            most = most.max(s.discovering + s.lcp + s.authenticating + s.network);
            s.up == 20
        });
        assert!(all_up, "{:?}", world.farm.stats());
        assert_eq!(most, 5, "the limit was reached and held");
        assert_eq!(world.farm.stats().dials, 20);
    }

    #[test]
    fn subscribers_start_at_the_configured_rate() {
        let mut world = World::new(
            FarmConfig {
                start_rate: 10,
                ..config(20)
            },
            users(),
        );
        // Subscriber i dials at i × 100 ms.
        world.run_for(Duration::from_millis(1001));
        assert_eq!(world.farm.stats().dials, 11);
        world.run_for(Duration::from_millis(500));
        assert_eq!(world.farm.stats().dials, 16);
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 20));
        // All at once.
        let mut world = World::new(
            FarmConfig {
                start_rate: 0,
                ..config(20)
            },
            users(),
        );
        world.step();
        assert_eq!(world.farm.stats().dials, 20);
    }

    #[test]
    fn padt_ends_the_session_and_the_subscriber_redials() {
        let mut world = World::new(config(2), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 2));
        let id = world.farm.subscriber(0).unwrap().session_id.unwrap();
        world.bras.discovery.terminate(id, Some("admin")).unwrap();
        world.bras.links.remove(&id);
        world.step();
        world.step();
        let stats = world.farm.stats();
        assert_eq!(stats.session_ends.padt, 1);
        assert_eq!(stats.up, 1);
        assert_eq!(stats.idle, 1);
        assert_eq!(world.farm.subscriber(0).unwrap().session_id, None);
        // Redial after 1 s.
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 2));
        assert_eq!(world.farm.subscriber(0).unwrap().dials, 2);
        assert_eq!(world.farm.stats().sessions_up, 3);
        assert_eq!(world.farm.stats().setup.total.count(), 3);
    }

    #[test]
    fn lcp_terminate_ends_the_session_with_a_padt_and_a_redial() {
        let mut world = World::new(config(1), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 1));
        let id = world.farm.subscriber(0).unwrap().session_id.unwrap();
        let (_, link) = world.bras.links.get_mut(&id).unwrap();
        link.close(world.now, DownReason::AdminClose);
        let sent_before = world.sent.len();
        assert!(
            world.run_until(Duration::from_secs(5), |s| s.session_ends.lcp_terminate
                == 1)
        );
        // The farm acknowledged the Terminate-Request (the BRAS then
        // cleared the session with its PADT, which ended it here).
        let acked = world.sent[sent_before..].iter().any(|f| {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            eth.ethertype() == EtherType::PppoeSession && {
                let session = SessionPacket::new_checked(eth.payload()).unwrap();
                let ppp = PppFrame::new_checked(session.payload()).unwrap();
                ppp.protocol() == Protocol::Lcp && ppp.payload()[0] == 6
            }
        });
        assert!(acked, "Terminate-Ack sent");
        assert_eq!(world.farm.stats().session_ends.padt, 0);
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 1 && s.dials == 2));
    }

    #[test]
    fn a_wrong_password_is_an_auth_failure_and_without_redial_the_subscriber_ends() {
        let mut world = World::new(
            FarmConfig {
                credentials: vec![user("alice", "wrong")],
                redial: None,
                ..config(1)
            },
            users(),
        );
        assert!(
            world.run_until(Duration::from_secs(30), |s| s.ended == 1),
            "{:?}",
            world.farm.stats()
        );
        let stats = world.farm.stats();
        assert_eq!(stats.setup_failures.auth, 1);
        assert_eq!(stats.sessions_up, 0);
        assert_eq!(stats.setup.auth.count(), 0);
        assert_eq!(stats.setup.lcp.count(), 1);
        // Nothing more happens.
        world.run_for(Duration::from_secs(5));
        assert_eq!(world.farm.stats().dials, 1);
        assert_eq!(world.farm.poll_timeout(), None);
    }

    #[test]
    fn no_access_concentrator_is_a_discovery_failure_then_a_redial() {
        let mut world = World::new(config(1), users());
        world.bras.dead = true;
        // PADIs at 0, 1, 3 s; given up at 7 s; redial 1 s later.
        assert!(world.run_until(Duration::from_secs(10), |s| s.setup_failures.discovery == 1));
        assert_eq!(world.farm.stats().idle, 1);
        assert!(world.run_until(Duration::from_secs(2), |s| s.dials == 2));
        world.bras.dead = false;
        assert!(world.run_until(Duration::from_secs(10), |s| s.up == 1));
    }

    #[test]
    fn lost_replies_are_counted_as_unanswered() {
        let mut world = World::new(config(1), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 1));
        world.run_for(Duration::from_secs(2));
        let before = world.farm.stats();
        world.bras.mute = true;
        world.run_for(Duration::from_secs(2));
        let after = world.farm.stats();
        assert!(after.pings_sent >= before.pings_sent + 3);
        assert_eq!(after.pings_answered, before.pings_answered);
    }

    #[test]
    fn shutdown_terminates_every_session_and_stops() {
        let mut world = World::new(config(3), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 3));
        let sent_before = world.sent.len();
        world.farm.shutdown(world.now);
        world.step();
        let stats = world.farm.stats();
        assert_eq!(stats.ended, 3);
        assert_eq!(stage_sum(&stats), 3);
        let (mut terminates, mut padts) = (0, 0);
        for frame in &world.sent[sent_before..] {
            let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
            match eth.ethertype() {
                EtherType::PppoeDiscovery if eth.payload()[1] == 0xa7 => padts += 1,
                EtherType::PppoeSession => {
                    let session = SessionPacket::new_checked(eth.payload()).unwrap();
                    let ppp = PppFrame::new_checked(session.payload()).unwrap();
                    if ppp.protocol() == Protocol::Lcp && ppp.payload()[0] == 5 {
                        terminates += 1;
                    }
                }
                _ => {}
            }
        }
        assert_eq!((terminates, padts), (3, 3));
        world.run_for(Duration::from_secs(5));
        assert_eq!(world.farm.stats().dials, 3);
        assert!(world.bras.links.is_empty());
    }

    #[test]
    fn up_sessions_name_what_a_generator_needs() {
        let mut world = World::new(config(3), users());
        assert!(world.farm.up_sessions().is_empty());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 3));
        let id = world.farm.subscriber(1).unwrap().session_id.unwrap();
        world.bras.discovery.terminate(id, Some("admin")).unwrap();
        world.bras.links.remove(&id);
        world.step();
        let up = world.farm.up_sessions();
        assert_eq!(up.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 2]);
        for session in up {
            let view = world.farm.subscriber(session.index).unwrap();
            assert_eq!(session.mac, view.mac);
            assert_eq!(Some(session.session_id), view.session_id);
            assert_eq!(Some(session.address), view.address);
            assert_eq!(Some(session.peer_address), view.peer_address);
            assert_eq!(session.ac_mac, BRAS_MAC);
            assert_eq!(session.peer_address, BRAS_ADDR);
            assert!(session.peer_mru >= 1400);
        }
    }

    #[test]
    fn timers_stay_bounded_over_a_long_run() {
        let mut world = World::new(config(10), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 10));
        world.run_for(Duration::from_secs(60));
        assert!(world.farm.timers.len() <= 2 * 10 + 64);
        assert!(world.farm.ready.len() <= 10);
        let stats = world.farm.stats();
        assert!(stats.pings_answered >= 10 * 100);
    }

    #[test]
    fn frames_for_others_or_malformed_are_ignored() {
        let mut world = World::new(config(2), users());
        assert!(world.run_until(Duration::from_secs(5), |s| s.up == 2));
        let view = world.farm.subscriber(1).unwrap();
        // A well-formed session frame to subscriber 1, then damaged forms.
        let mut buf = vec![0u8; HEADROOM + 8];
        let len = encapsulate(
            &mut buf,
            (BRAS_MAC, view.mac),
            view.session_id.unwrap(),
            Protocol::Lcp,
            8,
        )
        .unwrap();
        let good = buf[..len].to_vec();
        let before = world.farm.stats().frames_ignored;
        let now = world.now;
        for cut in 0..good.len() {
            world.farm.handle_frame(now, &good[..cut]);
        }
        // Wrong session id, wrong source, other MAC, broadcast.
        let mut wrong = good.clone();
        wrong[17] ^= 1;
        world.farm.handle_frame(now, &wrong);
        let mut wrong = good.clone();
        wrong[11] ^= 1;
        world.farm.handle_frame(now, &wrong);
        let mut wrong = good.clone();
        wrong[5] = 0xee;
        world.farm.handle_frame(now, &wrong);
        wrong[..6].copy_from_slice(&[0xff; 6]);
        world.farm.handle_frame(now, &wrong);
        assert!(world.farm.stats().frames_ignored >= before + 4);
        // The sessions survive it.
        assert!(world.run_until(Duration::from_secs(2), |s| s.pings_answered > 0));
        assert_eq!(world.farm.stats().up, 2);
    }

    #[test]
    fn subscriber_macs_are_local_unicast_and_map_back() {
        let farm = SubscriberFarm::new(
            FarmConfig {
                mac_prefix: [0xff, 0x12],
                subscribers: 300,
                ..FarmConfig::default()
            },
            [0; 32],
            Instant::now(),
        );
        for index in [0, 1, 255, 256, 299] {
            let mac = subscriber_mac([0xff, 0x12], index);
            assert!(mac.is_unicast() && mac.is_locally_administered());
            assert_eq!(farm.index_of(mac), Some(index));
        }
        assert_eq!(farm.index_of(subscriber_mac([0xff, 0x12], 300)), None);
        assert_eq!(farm.index_of(MacAddress::BROADCAST), None);
        let _ = AuthDecision::Reject { message: None };
    }

    #[test]
    fn subscribers_come_up_over_a_lossy_reordering_duplicating_segment() {
        for seed in 0..4u8 {
            let mut world = World::new(
                FarmConfig {
                    ping_interval: Some(Duration::from_millis(200)),
                    ..config(10)
                },
                users(),
            );
            // 10 % loss, 5 % duplicates, 10 % swapped with the next frame.
            world.impairment = Some((StdRng::from_seed([seed; 32]), 0.10, 0.05, 0.10));
            assert!(
                world.run_until(Duration::from_secs(120), |s| s.up == 10),
                "seed {seed}: {:?}",
                world.farm.stats()
            );
            world.run_for(Duration::from_secs(5));
            let stats = world.farm.stats();
            assert_eq!(stage_sum(&stats), 10, "seed {seed}");
            // Every set-up that failed was redialled; the ones that made
            // it were timed once each.
            let failures = stats.setup_failures;
            let failed = failures.discovery + failures.lcp + failures.auth + failures.ipcp;
            let ended = stats.session_ends.padt
                + stats.session_ends.lcp_terminate
                + stats.session_ends.echo_timeout
                + stats.session_ends.other;
            let in_progress =
                u64::from(stats.discovering + stats.lcp + stats.authenticating + stats.network);
            assert_eq!(
                stats.dials,
                stats.sessions_up + failed + in_progress,
                "seed {seed}: {stats:?}"
            );
            assert_eq!(
                stats.sessions_up,
                u64::from(stats.up) + ended,
                "seed {seed}: {stats:?}"
            );
            assert_eq!(stats.setup.total.count(), stats.sessions_up);
            // About a fifth of the pings or replies are lost or doubled;
            // most get through, duplicates and reorderings are unmatched.
            assert!(
                stats.pings_answered < stats.pings_sent,
                "seed {seed}: losses"
            );
            assert!(stats.pings_unmatched > 0, "seed {seed}: duplicates");
            assert!(
                stats.pings_answered * 2 > stats.pings_sent,
                "seed {seed}: {stats:?}"
            );
        }
    }

    /// The blocking driver on a real AF_PACKET socket: loopback (the only
    /// interface a unit test may use), with the BRAS stand-in on a second
    /// socket. Frames sent on `lo` come back to every socket bound to it,
    /// so each side skips what is not from the other.
    #[test]
    fn run_farm_dials_over_af_packet_and_hangs_up_on_stop() {
        use std::sync::Arc;

        let Ok(farm_socket) = PacketSocket::open("lo") else {
            eprintln!("skipped: AF_PACKET needs CAP_NET_RAW");
            return;
        };
        let bras_socket = PacketSocket::open("lo").expect("second socket on lo");
        let prefix = [0x02, 0x7d];
        let farm = SubscriberFarm::new(
            FarmConfig {
                mac_prefix: prefix,
                ping_interval: Some(Duration::from_millis(100)),
                ..config(3)
            },
            [3; 32],
            Instant::now(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(FarmStats::default()));
        let thread = {
            let (stop, report) = (Arc::clone(&stop), Arc::clone(&report));
            std::thread::spawn(move || run_farm(farm_socket, farm, &stop, &report))
        };
        let mut bras = Bras::new(Instant::now(), users());
        let mut batch = RecvBatch::new(64);
        let from_farm = |frame: &[u8]| {
            EthernetFrame::new_checked(frame)
                .is_ok_and(|eth| eth.src().octets()[..2] == subscriber_mac(prefix, 0).octets()[..2])
        };
        let mut pump = |bras: &mut Bras| {
            let now = Instant::now();
            if bras_socket.recv_batch(&mut batch).is_ok() {
                for frame in batch.iter().filter(|f| from_farm(f.data)) {
                    bras.handle(now, frame.data);
                }
            }
            bras.pump(now);
            while let Some(frame) = bras.out.pop_front() {
                bras_socket.send(&frame).expect("send on lo");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let done = |r: &FarmStats| r.up == 3 && r.pings_answered >= 6;
        while !done(&report.lock().unwrap()) && Instant::now() < deadline {
            pump(&mut bras);
        }
        assert!(
            done(&report.lock().unwrap()),
            "{:?}",
            report.lock().unwrap()
        );
        assert_eq!(bras.links.len(), 3);
        stop.store(true, Ordering::Relaxed);
        thread.join().expect("run_farm returns");
        // Its last words: Terminate-Requests and PADTs.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !bras.links.is_empty() && Instant::now() < deadline {
            pump(&mut bras);
        }
        assert!(bras.links.is_empty(), "every session ended by PADT");
        let stats = report.lock().unwrap().clone();
        assert_eq!(stats.ended, 3);
        assert_eq!(stats.frames_send_failed, 0);
        assert_eq!(stats.setup.total.count(), 3);
    }

    proptest! {
        #[test]
        fn arbitrary_frames_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..200),
            ethertype in prop_oneof![Just(0x8863u16), Just(0x8864u16), any::<u16>()],
            index in 0u32..3,
        ) {
            let now = Instant::now();
            let mut farm = SubscriberFarm::new(config(2), [1; 32], now);
            farm.handle_timeout(now);
            let mut frame = Vec::new();
            frame.extend_from_slice(&subscriber_mac([0x02, 0x1f], index).octets());
            frame.extend_from_slice(&BRAS_MAC.octets());
            frame.extend_from_slice(&ethertype.to_be_bytes());
            frame.extend_from_slice(&body);
            farm.handle_frame(now, &frame);
            let mut buf = vec![0u8; MAX_FRAME_LEN];
            while farm.poll_transmit(&mut buf).is_some() {}
            prop_assert_eq!(stage_sum(&farm.stats()), 2);
        }
    }
}
