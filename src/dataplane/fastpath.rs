//! The forwarding fast path of every role (DESIGN.md, "Three roles, one
//! session model"): one table from a leg's key to its session's entry, and
//! an in-place rewrite of the frame from the leg it arrived on to the
//! session's other leg.
//!
//! A session has two legs. A frame arrives on one, is reduced to its PPP
//! frame (protocol field first) where it lies in the caller's buffer, and
//! is then wrapped, in the headroom in front of it, for the other leg:
//!
//! | leg | arrives as | leaves as |
//! |---|---|---|
//! | [`Egress::Pppoe`] | Ethernet + PPPoE session frame (RFC 2516 §4) | the same, to the subscriber's MAC |
//! | [`Egress::L2tp`] | L2TP data message (RFC 2661 §5.4) with Address/Control `FF 03` (RFC 1662 §3.1) | the same, with the peer's ids and, when the peer sequences, our Ns |
//! | [`Egress::Local`] | an IP packet from TUN (the PPP protocol field is put in front) | IPv4/IPv6 without the PPP protocol field; other PPP protocols go to the session's own PPP link |
//!
//! So PPPoE ⇄ L2TP (LAC), L2TP ⇄ L2TP (LTS) and L2TP or PPPoE ⇄ IP (LNS,
//! PTA) are the same two steps. Each direction costs one hash lookup (the
//! key to a slot; the slot is an index into a vector), nothing is
//! allocated per packet, and the payload is never moved.
//!
//! On the way every forwarded frame is policed (a token bucket per
//! direction, [`super::police`]), has the MSS of TCP SYNs clamped
//! ([`super::mss`]) and is counted; the subscriber's network-layer frames
//! refresh its idle time (RFC 2865 §5.28 Idle-Timeout).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use std::ops::Range;
use std::time::Instant;

use super::mss::clamp_mss;
use super::police::Policer;
use crate::wire::ethernet::{EtherType, EthernetRepr, MacAddress};
use crate::wire::l2tp::{HeaderRepr, Sequence};
use crate::wire::pppoe::encapsulate_session_in_place;

/// RFC 1662 §3.1 Address and Control, in front of PPP frames in L2TP.
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

/// PPP protocol numbers of the network layers the fast path hands to and
/// takes from TUN (RFC 1332 §3, RFC 5072 §3).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// Frames and octets in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    /// Frames.
    pub packets: u64,
    /// PPP octets (protocol field and information).
    pub bytes: u64,
}

impl DirectionCounters {
    const fn count(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }
}

/// What identifies a leg on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegKey {
    /// A PPPoE session on an access interface (index in the node's list).
    Pppoe {
        /// Access interface index.
        interface: u32,
        /// PPPoE SESSION_ID.
        session_id: u16,
    },
    /// An L2TP session on the shared endpoint: our Tunnel ID and Session
    /// ID, unique on the node whichever side opened the tunnel.
    L2tp {
        /// Our Tunnel ID.
        tunnel_id: u16,
        /// Our Session ID.
        session_id: u16,
    },
    /// A subscriber's address, for IP from TUN towards it.
    Ip(IpAddr),
}

/// Where frames that leave on a leg go, and what an arriving frame of that
/// leg must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// To a PPPoE subscriber.
    Pppoe {
        /// Access interface index.
        interface: usize,
        /// Our MAC to the subscriber's, with its VLAN tags (the EtherType
        /// is PPPoE Session). Arriving frames must come from `dst`.
        ethernet: EthernetRepr,
        /// PPPoE SESSION_ID.
        session_id: u16,
    },
    /// To an L2TP peer (an LNS, a LAC or a LAC client).
    L2tp {
        /// The peer's address; arriving messages must come from its IP.
        peer: SocketAddr,
        /// The peer's Tunnel ID.
        peer_tunnel_id: u16,
        /// The peer's Session ID.
        peer_session_id: u16,
        /// RFC 2661 §5.4: Ns of our next data message while the peer
        /// sequences its own ("the LNS controls enabling and disabling of
        /// sequence numbers").
        next_ns: Option<u16>,
    },
    /// PPP terminated here: IP goes to TUN, the rest to the session's PPP
    /// link.
    Local,
}

/// Which of a session's two legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The leg the session arrived on (the subscriber's side).
    First = 0,
    /// The leg its role chose.
    Second = 1,
}

impl Side {
    /// The other leg.
    #[must_use]
    pub const fn other(self) -> Self {
        match self {
            Self::First => Self::Second,
            Self::Second => Self::First,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// A session's place in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot(u32);

/// A leg found by its key: the session's slot and which leg it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegRef {
    /// The session's entry.
    pub slot: Slot,
    /// The leg the key names.
    pub side: Side,
}

/// The fast-path state of one session.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The owner's name for the session (the node core's token).
    pub session: u64,
    /// The two legs' keys (`Ip` keys of a `Local` leg included).
    keys: [Option<LegKey>; 2],
    /// Prefixes routed to a `Local` leg's subscriber (Framed-Route,
    /// Framed-IPv6-Prefix, Delegated-IPv6-Prefix), by longest match.
    routes: Vec<IpNet>,
    /// Anti-spoofing for PPP terminated here: IP from the subscriber must
    /// come from one of these (its address, its prefixes, its routed
    /// networks). Empty: nothing is let through to TUN.
    pub sources: Vec<IpNet>,
    /// Where each leg's frames go.
    pub legs: [Egress; 2],
    /// Frames that arrived on each leg (and left on the other).
    pub counters: [DirectionCounters; 2],
    /// The policer of each arrival direction.
    pub policers: [Option<Policer>; 2],
    /// Clamp the MSS of TCP SYNs to this (0: off).
    pub mss: u16,
    /// When the subscriber (first leg) last sent a network-layer frame.
    pub last_activity: Instant,
}

impl Entry {
    /// An entry for `session` between `first` and `second`, idle since
    /// `now`.
    #[must_use]
    pub const fn new(session: u64, first: Egress, second: Egress, mss: u16, now: Instant) -> Self {
        Self {
            session,
            keys: [None, None],
            routes: Vec::new(),
            sources: Vec::new(),
            legs: [first, second],
            counters: [DirectionCounters {
                packets: 0,
                bytes: 0,
            }; 2],
            policers: [None, None],
            mss,
            last_activity: now,
        }
    }

    /// The leg on `side`.
    #[must_use]
    pub const fn leg(&self, side: Side) -> &Egress {
        &self.legs[side.index()]
    }

    /// The counters of frames that arrived on `side`.
    #[must_use]
    pub const fn arrived(&self, side: Side) -> DirectionCounters {
        self.counters[side.index()]
    }
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
    /// IP from a subscriber whose source address is not its own
    /// (anti-spoofing, PPP terminated here).
    Spoofed,
    /// IP from TUN for an address no session holds.
    NoRoute,
}

impl FastPathDrop {
    /// Label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownSession => "unknown_session",
            Self::Policed => "policed",
            Self::NotUp => "not_up",
            Self::Spoofed => "spoofed",
            Self::NoRoute => "no_route",
        }
    }
}

/// Where a rewritten frame goes: the bytes are `buf[range]` of the
/// caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// One UDP datagram to an L2TP peer.
    Datagram {
        /// The peer.
        to: SocketAddr,
        /// The datagram.
        range: Range<usize>,
    },
    /// One Ethernet frame on an access interface.
    Frame {
        /// Interface index.
        interface: usize,
        /// The frame.
        range: Range<usize>,
    },
    /// One IP packet to TUN (or, link-scoped IPv6, to the session's own
    /// IPv6 services).
    Ip {
        /// The session's slot.
        slot: Slot,
        /// The packet.
        range: Range<usize>,
    },
    /// A PPP frame (protocol field first) for the session's own PPP link:
    /// PPP terminated here and not IP (LCP, NCPs, authentication).
    Link {
        /// The session's slot.
        slot: Slot,
        /// The frame.
        range: Range<usize>,
    },
}

/// Fast-path totals, for metrics: first → second leg is "upstream"
/// (subscriber towards the network), the other way "downstream".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardingTotals {
    /// First leg → second leg.
    pub upstream: DirectionCounters,
    /// Second leg → first leg.
    pub downstream: DirectionCounters,
    /// Dropped by a policer.
    pub policed: u64,
    /// Unknown session, not up yet, or malformed.
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

/// The table: leg key → slot, and the entries by slot.
#[derive(Debug, Default)]
pub struct FastPath {
    index: HashMap<LegKey, LegRef>,
    /// Routed prefixes (masked network, length) → the `Local` leg behind
    /// them; `route_lengths` lists the lengths in use, longest first, so a
    /// destination costs one probe per length in use (none but the host
    /// lookup on a box without routed prefixes).
    routes: HashMap<IpNet, LegRef>,
    route_lengths: [Vec<u8>; 2],
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    totals: ForwardingTotals,
}

impl FastPath {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `entry`, reachable by `first` (its first leg's key) and
    /// `second`. A key already in the table is taken over (the old
    /// session's entry no longer answers to it).
    pub fn insert(&mut self, first: LegKey, second: Option<LegKey>, mut entry: Entry) -> Slot {
        entry.keys = [Some(first), second];
        let slot = match self.free.pop() {
            Some(index) => {
                if let Some(place) = self.entries.get_mut(index as usize) {
                    *place = Some(entry);
                }
                Slot(index)
            }
            None => {
                let index = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
                self.entries.push(Some(entry));
                Slot(index)
            }
        };
        self.index.insert(
            first,
            LegRef {
                slot,
                side: Side::First,
            },
        );
        if let Some(second) = second {
            self.index.insert(
                second,
                LegRef {
                    slot,
                    side: Side::Second,
                },
            );
        }
        slot
    }

    /// Removes the entry in `slot` and its keys; returns it.
    pub fn remove(&mut self, slot: Slot) -> Option<Entry> {
        let entry = self.entries.get_mut(slot.0 as usize)?.take()?;
        for key in entry.keys.iter().flatten() {
            if self.index.get(key).is_some_and(|r| r.slot == slot) {
                self.index.remove(key);
            }
        }
        for net in &entry.routes {
            if self.routes.get(net).is_some_and(|r| r.slot == slot) {
                self.routes.remove(net);
            }
        }
        self.recount_route_lengths();
        self.free.push(slot.0);
        Some(entry)
    }

    /// Routes `net` to leg `side` of the entry in `slot` (a `Local` leg:
    /// IP from TUN towards the subscriber). A prefix already routed to
    /// another session is taken over. Returns false when the slot is empty.
    pub fn add_route(&mut self, slot: Slot, side: Side, net: IpNet) -> bool {
        let net = net.trunc();
        let Some(entry) = self.entry_mut(slot) else {
            return false;
        };
        if !entry.routes.contains(&net) {
            entry.routes.push(net);
        }
        if let Some(old) = self.routes.insert(net, LegRef { slot, side })
            && old.slot != slot
            && let Some(previous) = self.entry_mut(old.slot)
        {
            previous.routes.retain(|n| *n != net);
        }
        self.recount_route_lengths();
        true
    }

    /// Withdraws `net` from the entry in `slot`.
    pub fn remove_route(&mut self, slot: Slot, net: IpNet) {
        let net = net.trunc();
        if let Some(entry) = self.entry_mut(slot) {
            entry.routes.retain(|n| *n != net);
        }
        if self.routes.get(&net).is_some_and(|r| r.slot == slot) {
            self.routes.remove(&net);
        }
        self.recount_route_lengths();
    }

    fn recount_route_lengths(&mut self) {
        let mut lengths: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for net in self.routes.keys() {
            let family = usize::from(matches!(net, IpNet::V6(_)));
            if let Some(list) = lengths.get_mut(family)
                && !list.contains(&net.prefix_len())
            {
                list.push(net.prefix_len());
            }
        }
        for list in &mut lengths {
            list.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.route_lengths = lengths;
    }

    /// The leg IP to `destination` goes to: a subscriber's own address
    /// (one probe), else the longest routed prefix holding it.
    #[must_use]
    pub fn lookup_destination(&self, destination: IpAddr) -> Option<LegRef> {
        if let Some(leg) = self.index.get(&LegKey::Ip(destination)) {
            return Some(*leg);
        }
        let family = usize::from(destination.is_ipv6());
        for len in self.route_lengths.get(family)? {
            let Ok(net) = IpNet::new(destination, *len) else {
                continue;
            };
            if let Some(leg) = self.routes.get(&net.trunc()) {
                return Some(*leg);
            }
        }
        None
    }

    /// Adds `key` to the entry in `slot` as a further key of leg `side`
    /// (a `Local` leg's address, once the NCP assigned it).
    pub fn add_key(&mut self, slot: Slot, side: Side, key: LegKey) -> bool {
        let Some(entry) = self.entry_mut(slot) else {
            return false;
        };
        let place = &mut entry.keys[side.index()];
        if place.is_some() && side == Side::First {
            return false;
        }
        match place {
            // A leg keeps one key in `keys`; a `Local` leg's address is
            // its key (IPv6 prefixes are routes).
            None => *place = Some(key),
            Some(existing) if *existing == key => {}
            Some(_) => return false,
        }
        self.index.insert(key, LegRef { slot, side });
        true
    }

    /// Wraps the PPP frame at `buf[ppp]` (protocol field first) for leg
    /// `side` of the entry in `slot`, as [`Self::forward`] does for the
    /// other leg's frames, without policing or counting: the session's own
    /// control frames (PPP terminated here) leaving on that leg.
    pub fn wrap_for(
        &mut self,
        slot: Slot,
        side: Side,
        buf: &mut [u8],
        ppp: Range<usize>,
    ) -> Option<Delivery> {
        let entry = self.entries.get_mut(slot.0 as usize)?.as_mut()?;
        wrap_for_leg(&mut entry.legs[side.index()], buf, ppp)
    }

    /// The leg a key names.
    #[must_use]
    pub fn lookup(&self, key: &LegKey) -> Option<LegRef> {
        self.index.get(key).copied()
    }

    /// The entry in `slot`.
    #[must_use]
    pub fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(slot.0 as usize)?.as_ref()
    }

    /// The entry in `slot`, to change (policers, sequencing).
    pub fn entry_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        self.entries.get_mut(slot.0 as usize)?.as_mut()
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Totals since start.
    #[must_use]
    pub const fn totals(&self) -> ForwardingTotals {
        self.totals
    }

    /// Counts a frame dropped before it reached the table (or by its
    /// owner), and returns the reason.
    pub const fn drop_frame(&mut self, reason: FastPathDrop) -> FastPathDrop {
        match reason {
            FastPathDrop::Policed => self.totals.policed += 1,
            _ => self.totals.dropped += 1,
        }
        reason
    }

    /// Whether a frame arriving on `leg` may come from Ethernet source
    /// `mac` or UDP source `from`.
    #[must_use]
    pub fn source_matches(&self, leg: LegRef, source: Source) -> bool {
        let Some(entry) = self.entry(leg.slot) else {
            return false;
        };
        match (entry.leg(leg.side), source) {
            (Egress::Pppoe { ethernet, .. }, Source::Mac(mac)) => ethernet.dst == mac,
            (Egress::L2tp { peer, .. }, Source::Udp(from)) => peer.ip() == from.ip(),
            (Egress::Local, Source::Tun) => true,
            _ => false,
        }
    }

    /// RFC 2661 §5.4: the peer of an L2TP leg sent a data message with
    /// (`true`) or without sequence numbers; our messages follow its lead.
    pub fn follow_sequencing(&mut self, leg: LegRef, peer_sequences: bool) {
        if let Some(Egress::L2tp { next_ns, .. }) = self
            .entry_mut(leg.slot)
            .and_then(|e| e.legs.get_mut(leg.side.index()))
        {
            match (peer_sequences, *next_ns) {
                (true, None) => *next_ns = Some(0),
                (false, Some(_)) => *next_ns = None,
                _ => {}
            }
        }
    }

    /// Forwards the PPP frame at `buf[ppp]` (protocol field first), which
    /// arrived on `arrived`, to the session's other leg: policing, MSS
    /// clamping, counting and the rewrite in place. `buf` needs room in
    /// front of `ppp.start` for the other leg's headers
    /// ([`headroom`]).
    pub fn forward(
        &mut self,
        now: Instant,
        arrived: LegRef,
        buf: &mut [u8],
        ppp: Range<usize>,
    ) -> Result<Delivery, FastPathDrop> {
        let ppp_len = ppp.len();
        let Some(entry) = self
            .entries
            .get_mut(arrived.slot.0 as usize)
            .and_then(Option::as_mut)
        else {
            return Err(self.drop_frame(FastPathDrop::UnknownSession));
        };
        let Some(ppp_bytes) = buf.get_mut(ppp.clone()).filter(|b| !b.is_empty()) else {
            return Err(self.drop_frame(FastPathDrop::Malformed));
        };
        let side = arrived.side.index();
        let out_side = arrived.side.other();
        // PPP relayed to another leg passes whatever its protocol ("the LNS
        // owns the link"); PPP terminated here splits IP from the rest,
        // which goes to the session's link, unpoliced.
        let mut ip_offset = 0;
        if matches!(entry.leg(out_side), Egress::Local) {
            match ppp_protocol(ppp_bytes) {
                Some((PPP_IPV4 | PPP_IPV6, len)) => ip_offset = len,
                Some(_) => {
                    return Ok(Delivery::Link {
                        slot: arrived.slot,
                        range: ppp,
                    });
                }
                None => return Err(self.drop_frame(FastPathDrop::Malformed)),
            }
        }
        if let Some(policer) = entry.policers[side].as_mut() {
            if !policer.admit(now, ppp_len) {
                return Err(self.drop_frame(FastPathDrop::Policed));
            }
        }
        if entry.mss != 0 {
            clamp_in_ppp(ppp_bytes, entry.mss);
        }
        // Idle-Timeout (RFC 2865 §5.28) counts the subscriber's data, not
        // LCP echoes or NCP retransmissions: network-layer protocols are
        // 0x0001-0x3fff (RFC 1661 §2), so the first octet is below 0x40.
        if arrived.side == Side::First && ppp_bytes.first().is_some_and(|b| *b < 0x40) {
            entry.last_activity = now;
        }
        if ip_offset != 0 {
            // No source is allowed until the NCP assigned one: the
            // session is not up yet.
            if entry.sources.is_empty() {
                return Err(self.drop_frame(FastPathDrop::NotUp));
            }
            if !source_allowed(&entry.sources, ppp_bytes.get(ip_offset..)) {
                return Err(self.drop_frame(FastPathDrop::Spoofed));
            }
        }
        let delivery = match &mut entry.legs[out_side.index()] {
            Egress::Local => Some(Delivery::Ip {
                slot: arrived.slot,
                range: ppp.start + ip_offset..ppp.end,
            }),
            leg => wrap_for_leg(leg, buf, ppp),
        };
        let Some(delivery) = delivery else {
            return Err(self.drop_frame(FastPathDrop::Malformed));
        };
        entry.counters[side].count(ppp_len);
        match arrived.side {
            Side::First => self.totals.upstream.count(ppp_len),
            Side::Second => self.totals.downstream.count(ppp_len),
        }
        Ok(delivery)
    }

    /// Forwards the IP packet at `buf[ip]`, read from TUN for `arrived` (a
    /// `Local` leg), to the session's other leg: the PPP protocol field is
    /// written in front of it, then as [`Self::forward`].
    pub fn forward_ip(
        &mut self,
        now: Instant,
        arrived: LegRef,
        buf: &mut [u8],
        ip: Range<usize>,
    ) -> Result<Delivery, FastPathDrop> {
        let protocol = match buf.get(ip.start).map(|b| b >> 4) {
            Some(4) => PPP_IPV4,
            Some(6) => PPP_IPV6,
            _ => return Err(self.drop_frame(FastPathDrop::Malformed)),
        };
        let Some(start) = ip.start.checked_sub(2) else {
            return Err(self.drop_frame(FastPathDrop::Malformed));
        };
        let Some(field) = buf.get_mut(start..ip.start) else {
            return Err(self.drop_frame(FastPathDrop::Malformed));
        };
        field.copy_from_slice(&protocol.to_be_bytes());
        self.forward(now, arrived, buf, start..ip.end)
    }
}

/// Wraps the PPP frame at `buf[ppp]` for `leg` in the headroom in front of
/// it (PPPoE session header and Ethernet, or `FF 03` and the L2TP data
/// header with the leg's next Ns). `None` for a `Local` leg or too little
/// headroom.
fn wrap_for_leg(leg: &mut Egress, buf: &mut [u8], ppp: Range<usize>) -> Option<Delivery> {
    match leg {
        Egress::Pppoe {
            interface,
            ethernet,
            session_id,
        } => encapsulate_session_in_place(buf, ppp.start, ppp.len(), ethernet, *session_id)
            .ok()
            .map(|start| Delivery::Frame {
                interface: *interface,
                range: start..ppp.end,
            }),
        Egress::L2tp {
            peer,
            peer_tunnel_id,
            peer_session_id,
            next_ns,
        } => wrap_l2tp(buf, ppp.clone(), *peer_tunnel_id, *peer_session_id, next_ns).map(|start| {
            Delivery::Datagram {
                to: *peer,
                range: start..ppp.end,
            }
        }),
        Egress::Local => None,
    }
}

/// The source address of the IP packet `ip` (IPv4 or IPv6), when one of
/// `sources` holds it (RFC 2827 ingress filtering of a subscriber's
/// traffic).
fn source_allowed(sources: &[IpNet], ip: Option<&[u8]>) -> bool {
    let source = match ip {
        Some([0x40..=0x4f, _, _, _, _, _, _, _, _, _, _, _, a, b, c, d, ..]) => {
            IpAddr::from([*a, *b, *c, *d])
        }
        Some(ip) if ip.first().is_some_and(|b| b >> 4 == 6) => {
            let Some(octets) = ip.get(8..24).and_then(|s| <[u8; 16]>::try_from(s).ok()) else {
                return false;
            };
            IpAddr::from(octets)
        }
        _ => return false,
    };
    sources.iter().any(|net| net.contains(&source))
}

/// Where an arriving frame came from, checked against its leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Ethernet source address (PPPoE).
    Mac(MacAddress),
    /// UDP source (L2TP).
    Udp(SocketAddr),
    /// TUN.
    Tun,
}

/// Room a frame needs in front of its PPP frame to leave on `leg`: the
/// largest header that leg writes.
#[must_use]
pub const fn headroom(leg: &Egress) -> usize {
    match leg {
        // Ethernet with two VLAN tags (22) and PPPoE (6).
        Egress::Pppoe { .. } => 28,
        // L2TP data header with Length and Ns/Nr (12), then FF 03.
        Egress::L2tp { .. } => 14,
        Egress::Local => 0,
    }
}

/// The PPP protocol number at the start of `ppp` and the length of its
/// field (RFC 1661 §6.5: one octet when compressed, its low bit set).
fn ppp_protocol(ppp: &[u8]) -> Option<(u16, usize)> {
    match ppp {
        [first, ..] if first & 1 == 1 => Some((u16::from(*first), 1)),
        [first, second, ..] if second & 1 == 1 => Some((u16::from_be_bytes([*first, *second]), 2)),
        _ => None,
    }
}

/// Clamps TCP MSS in a PPP frame (protocol field first) carrying IPv4 or
/// IPv6.
fn clamp_in_ppp(ppp: &mut [u8], mss: u16) {
    // IPv4 (0x0021) or IPv6 (0x0057), protocol field compressed or not.
    if let [0x00, 0x21 | 0x57, ip @ ..] | [0x21 | 0x57, ip @ ..] = ppp {
        let _ = clamp_mss(ip, mss);
    }
}

/// Writes `FF 03` and an L2TP data header (RFC 2661 §5.4; with Ns when
/// `next_ns` holds one, which then advances) in front of `buf[ppp]`.
/// Returns where the message starts.
fn wrap_l2tp(
    buf: &mut [u8],
    ppp: Range<usize>,
    peer_tunnel_id: u16,
    peer_session_id: u16,
    next_ns: &mut Option<u16>,
) -> Option<usize> {
    let ac_start = ppp.start.checked_sub(ADDRESS_CONTROL.len())?;
    buf.get_mut(ac_start..ppp.start)?
        .copy_from_slice(&ADDRESS_CONTROL);
    let mut header = HeaderRepr::data(peer_tunnel_id, peer_session_id);
    if let Some(ns) = next_ns.as_mut() {
        header.sequence = Some(Sequence { ns: *ns, nr: 0 });
        *ns = ns.wrapping_add(1);
    }
    header.emit_before(buf, ac_start, ppp.end - ac_start).ok()
}

/// A PPPoE leg towards subscriber `mac` behind `vlans` on `interface`,
/// from our `local` MAC.
#[must_use]
pub const fn pppoe_leg(
    interface: usize,
    local: MacAddress,
    mac: MacAddress,
    vlans: crate::wire::ethernet::VlanStack,
    session_id: u16,
) -> Egress {
    Egress::Pppoe {
        interface,
        ethernet: EthernetRepr {
            dst: mac,
            src: local,
            vlans,
            ethertype: EtherType::PppoeSession,
        },
        session_id,
    }
}

#[cfg(test)]
mod tests;
