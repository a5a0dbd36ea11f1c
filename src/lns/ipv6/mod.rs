//! The IPv6 services the LNS gives each PPP subscriber once IPv6CP is up,
//! sans-IO: [`Ipv6Services`], one per session.
//!
//! IPv6CP (RFC 5072 §4.1) gives each end an interface identifier; the
//! link-local addresses are `fe80::` + identifier (RFC 5072 §5). Over
//! that link the LNS is the subscriber's router:
//!
//! * **Router Advertisements** (RFC 4861 §4.2, §6.2). Unsolicited ones
//!   go to `ff02::1`: the first at once, [`Ipv6ServicesConfig::initial_ra_count`]
//!   (default 3, RFC 4861 §10 MAX_INITIAL_RTR_ADVERTISEMENTS) at
//!   [`Ipv6ServicesConfig::initial_ra_interval`] (default 4 s, under
//!   MAX_INITIAL_RTR_ADVERT_INTERVAL = 16 s, so a CPE that brings its
//!   interface up late still learns its prefix quickly), then one every
//!   [`Ipv6ServicesConfig::ra_interval`] (default 200 s, inside the
//!   RFC's 4–1800 s range for MaxRtrAdvInterval). The intervals are not
//!   randomised (§6.2.4 randomises to desynchronise routers on a shared
//!   link; a PPP link has one router). A valid Router Solicitation
//!   (§6.1.1: hop limit 255, checksum, Code 0, options well formed) is
//!   answered unicast to the solicitor (§6.2.6 allows it), or to
//!   `ff02::1` when it came from `::`; answers are at least
//!   MIN_DELAY_BETWEEN_RAS (3 s, §10) after the previous RA, and
//!   solicitations that arrive meanwhile share one answer. Each RA
//!   carries the Router Lifetime (default 1800 s, §6.2.1's
//!   AdvDefaultLifetime bound is 9000 s), the subscriber's
//!   Framed-IPv6-Prefix (RFC 3162 §2.3) as a Prefix Information option
//!   with L set and A set when it is a /64 (SLAAC needs 64-bit interface
//!   identifiers, RFC 4862 §5.5.3), the MTU option when configured
//!   (§4.6.4) and RDNSS (RFC 8106 §5.1) when DNS servers are configured.
//!   Source `fe80::<our identifier>`, hop limit 255 (§6.1.2). A prefix
//!   that [`Ipv6Services::set_prefix`] replaces is advertised in the next
//!   RAs with zero lifetimes, so the host deprecates its addresses
//!   (RFC 4862 §5.5.3 e: a host keeps the valid lifetime at 2 hours at
//!   least, but stops preferring the addresses at once).
//! * **DHCPv6** (RFC 8415) for prefix delegation and DNS: Solicit gets
//!   an Advertise with Preference 255 (§18.2.9: the client need not wait
//!   for others), or a Reply when it carries Rapid Commit and a prefix is
//!   there to commit (§18.3.1, §21.14); Request, Renew and Rebind get a
//!   Reply with the IA_PD (§18.3.2, §18.3.4, §18.3.5; a Renew or Rebind
//!   for an IA we hold no binding for creates it, which §18.3.4 allows);
//!   Release a Reply with Status Code Success (§18.3.7) and a
//!   [`Ipv6Event::PrefixReleased`]; Information-Request a Reply with DNS
//!   (§18.3.6). Messages are validated as §16 asks: a Client Identifier
//!   in all but Information-Request, the Server Identifier matching ours
//!   on Request, Renew and Release (and on Information-Request when
//!   present), none on Solicit and Rebind, no IA on Information-Request.
//!   Replies carry our Server Identifier and the client's Client
//!   Identifier, echo the transaction-id, and go to the client's address
//!   and source port. T1 and T2 are 0.5 and 0.8 of the preferred
//!   lifetime (the values §21.21 recommends; never zero, which ISC
//!   dhclient would replace by its own). No prefix to delegate: the
//!   IA_PD comes back with Status Code NoPrefixAvail (§18.3.9). An IA_NA
//!   comes back with NoAddrsAvail: the LNS delegates prefixes and
//!   leaves addresses to SLAAC. Only a message's first IA_PD is
//!   answered. A prefix that [`Ipv6Services::set_delegation`] replaced is
//!   returned in the next Renew/Rebind Reply with zero lifetimes
//!   (§18.3.4). Confirm and Decline (address-only, §18.3.3, §18.3.8) are
//!   dropped.
//! * **Neighbor Discovery**: Neighbor Solicitations and Advertisements,
//!   Redirects and a peer's Router Advertisements are counted and
//!   ignored. Address resolution (RFC 4861 §7.2) maps an address to a
//!   link-layer address, and a PPP link has none: the link-local
//!   addresses come from the interface identifiers IPv6CP negotiated
//!   (RFC 5072 §5), which it already made unique on the link, so there
//!   is nothing for Duplicate Address Detection (RFC 4862 §5.4) to find
//!   either. Answering them would only add traffic.
//!
//! [`Ipv6Services::handle_packet`] takes each IPv6 packet the subscriber
//! sends (the payload of PPP protocol 0x0057) and says whether it was
//! ours: every packet to a link-scoped destination (`fe80::/10` or
//! multicast of interface- or link-local scope) is, because none may be
//! forwarded off the link (RFC 4291 §2.5.6, §2.7); anything else is
//! [`Handled::NotOurs`] and the caller routes it. A packet that is ours
//! but malformed is [`Handled::Dropped`] with a [`DropReason`], counted,
//! and also reported as an [`Ipv6Event::Dropped`]. Answers wait in a
//! short queue (preallocated; [`Ipv6ServicesConfig::max_pending`]) until
//! [`Ipv6Services::poll_transmit`] writes them, as whole IPv6 packets,
//! into the caller's buffer; nothing is allocated per packet.

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::Ipv6Net;

use crate::wire::dhcpv6::{
    self, Dhcpv6Repr, IaPrefix, MAX_DUID_LEN, MessageBuilder, MessageType, OptionCode, StatusCode,
};
use crate::wire::ipv6::{
    self, ALL_NODES, ALL_ROUTERS, Icmpv6Packet, Icmpv6Type, Ipv6Repr, NextHeader,
    PrefixInformation, RaHeader, Rdnss, RouterAdvertRepr, RouterSolicit, UdpPacket, UdpRepr,
};
use crate::wire::{self as wire_mod, Error};

/// RFC 4861 §10: MIN_DELAY_BETWEEN_RAS.
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
/// RFC 4861 §10: MAX_INITIAL_RTR_ADVERT_INTERVAL.
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// How many RAs carry a replaced prefix with zero lifetimes.
const DEPRECATE_ADVERTS: u8 = 3;
/// Most [`Ipv6Event::Dropped`] events kept unpolled (the counters count
/// every drop regardless).
const MAX_QUEUED_EVENTS: usize = 64;

/// Settings shared by every session's [`Ipv6Services`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6ServicesConfig {
    /// Interval of periodic unsolicited RAs. Default 200 s.
    pub ra_interval: Duration,
    /// Interval of the first unsolicited RAs. Default 4 s (at most
    /// [`MAX_INITIAL_RTR_ADVERT_INTERVAL`]).
    pub initial_ra_interval: Duration,
    /// How many RAs go at `initial_ra_interval`, the first at once.
    /// Default 3.
    pub initial_ra_count: u8,
    /// Router Lifetime, seconds. Default 1800.
    pub router_lifetime: u16,
    /// Cur Hop Limit advertised. Default 64.
    pub cur_hop_limit: u8,
    /// Valid Lifetime of the advertised prefix. Default 2592000 s (30 d,
    /// RFC 4861 §6.2.1's AdvValidLifetime default).
    pub prefix_valid_lifetime: u32,
    /// Preferred Lifetime of the advertised prefix. Default 604800 s
    /// (7 d, AdvPreferredLifetime's default).
    pub prefix_preferred_lifetime: u32,
    /// MTU option, when set.
    pub mtu: Option<u32>,
    /// DNS servers: RDNSS in RAs (then the O flag is set too) and
    /// OPTION_DNS_SERVERS in DHCPv6. At most 3.
    pub dns: Vec<Ipv6Addr>,
    /// RDNSS Lifetime, seconds. Default 600 (RFC 8106 §5.1: at least
    /// 3 × MaxRtrAdvInterval is recommended).
    pub dns_lifetime: u32,
    /// Our DHCPv6 DUID (DUID-LL or DUID-LLT, see
    /// [`crate::wire::dhcpv6::duid`]). 3 to 130 bytes.
    pub server_duid: Vec<u8>,
    /// Answer a Solicit carrying Rapid Commit with a Reply. Default true.
    pub rapid_commit: bool,
    /// Answers waiting for `poll_transmit` at most. Default 4 (an answer
    /// takes 192 bytes; a caller that polls after each packet needs 2).
    pub max_pending: usize,
}

impl Default for Ipv6ServicesConfig {
    fn default() -> Self {
        Self {
            ra_interval: Duration::from_secs(200),
            initial_ra_interval: Duration::from_secs(4),
            initial_ra_count: 3,
            router_lifetime: 1800,
            cur_hop_limit: 64,
            prefix_valid_lifetime: 2_592_000,
            prefix_preferred_lifetime: 604_800,
            mtu: None,
            dns: Vec::new(),
            dns_lifetime: 600,
            server_duid: dhcpv6::duid::ll(dhcpv6::duid::HW_ETHERNET, &[0x02, 0, 0, 0, 0, 1]),
            rapid_commit: true,
            max_pending: 4,
        }
    }
}

impl Ipv6ServicesConfig {
    /// Checks the settings against the RFCs' bounds; the message names
    /// the field. [`Ipv6Services`] works with any values, but these would
    /// make it send packets peers reject or misread.
    pub fn validate(&self) -> Result<(), &'static str> {
        let interval = self.ra_interval.as_secs();
        if !(4..=1800).contains(&interval) {
            return Err("ra_interval: 4 to 1800 s (RFC 4861 §6.2.1 MaxRtrAdvInterval)");
        }
        if self.initial_ra_interval > MAX_INITIAL_RTR_ADVERT_INTERVAL
            || self.initial_ra_interval < Duration::from_secs(1)
        {
            return Err("initial_ra_interval: 1 to 16 s (RFC 4861 §10)");
        }
        if self.router_lifetime > 9000 {
            return Err("router_lifetime: at most 9000 s (RFC 4861 §6.2.1)");
        }
        if self.prefix_preferred_lifetime > self.prefix_valid_lifetime {
            return Err("prefix_preferred_lifetime: at most the valid lifetime (RFC 4861 §6.2.1)");
        }
        if self.dns.len() > 8 {
            return Err("dns: at most 8 servers");
        }
        if !(3..=MAX_DUID_LEN).contains(&self.server_duid.len()) {
            return Err("server_duid: 3 to 130 bytes (RFC 8415 §11.1)");
        }
        Ok(())
    }
}

/// A prefix delegated with DHCPv6 and its lifetimes (from RADIUS
/// Delegated-IPv6-Prefix, RFC 4818, or a local pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delegation {
    /// The prefix, e.g. a /56.
    pub prefix: Ipv6Net,
    /// preferred-lifetime, seconds ([`dhcpv6::INFINITY`] allowed).
    pub preferred_lifetime: u32,
    /// valid-lifetime, seconds; at least the preferred one.
    pub valid_lifetime: u32,
}

impl Delegation {
    /// A delegation of `prefix` with these lifetimes.
    pub fn new(prefix: Ipv6Net, preferred_lifetime: u32, valid_lifetime: u32) -> Self {
        Self {
            prefix,
            preferred_lifetime,
            valid_lifetime,
        }
    }

    /// T1: half the preferred lifetime (RFC 8415 §21.21), at least 1.
    pub fn t1(&self) -> u32 {
        match self.preferred_lifetime {
            dhcpv6::INFINITY => dhcpv6::INFINITY,
            preferred => (preferred / 2).max(1),
        }
    }

    /// T2: 0.8 of the preferred lifetime, at least T1.
    pub fn t2(&self) -> u32 {
        match self.preferred_lifetime {
            dhcpv6::INFINITY => dhcpv6::INFINITY,
            preferred => ((u64::from(preferred) * 4 / 5) as u32).max(self.t1()),
        }
    }
}

/// What [`Ipv6Services::handle_packet`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// It was ours (answered, or ignored as the module docs say).
    Consumed,
    /// It was ours, or unreadable, and was dropped for this reason.
    Dropped(DropReason),
    /// Not ours: the caller routes it.
    NotOurs,
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The IPv6 header is malformed or truncated.
    Ipv6Header,
    /// An extension header other than a leading Hop-by-Hop header.
    ExtensionHeader,
    /// ICMPv6 shorter than its header.
    Icmpv6Malformed,
    /// ICMPv6 checksum wrong.
    Icmpv6Checksum,
    /// A Router Solicitation with a hop limit other than 255 (RFC 4861
    /// §6.1.1).
    NdHopLimit,
    /// A Router Solicitation that fails RFC 4861 §6.1.1.
    RouterSolicitationMalformed,
    /// UDP header malformed or truncated.
    UdpMalformed,
    /// UDP checksum wrong or zero (RFC 8200 §8.1).
    UdpChecksum,
    /// A DHCPv6 message that does not parse.
    DhcpMalformed,
    /// A DHCPv6 message a server does not take from a client (Advertise,
    /// Reply, Reconfigure, unknown types).
    DhcpNotClientMessage,
    /// Confirm, Decline or a relay message: not served here.
    DhcpUnsupported,
    /// No Client Identifier (RFC 8415 §16).
    DhcpNoClientId,
    /// A Server Identifier where none may be (Solicit, Rebind).
    DhcpUnexpectedServerId,
    /// The Server Identifier is missing or not ours.
    DhcpServerIdMismatch,
    /// An Information-Request with an IA option (RFC 8415 §16.12).
    DhcpUnexpectedIa,
    /// The answer queue was full.
    QueueFull,
    /// The caller's buffer could not hold the answer.
    BufferTooSmall,
}

impl DropReason {
    /// A short name for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ipv6Header => "ipv6_header",
            Self::ExtensionHeader => "extension_header",
            Self::Icmpv6Malformed => "icmpv6_malformed",
            Self::Icmpv6Checksum => "icmpv6_checksum",
            Self::NdHopLimit => "nd_hop_limit",
            Self::RouterSolicitationMalformed => "rs_malformed",
            Self::UdpMalformed => "udp_malformed",
            Self::UdpChecksum => "udp_checksum",
            Self::DhcpMalformed => "dhcp_malformed",
            Self::DhcpNotClientMessage => "dhcp_not_client_message",
            Self::DhcpUnsupported => "dhcp_unsupported",
            Self::DhcpNoClientId => "dhcp_no_client_id",
            Self::DhcpUnexpectedServerId => "dhcp_unexpected_server_id",
            Self::DhcpServerIdMismatch => "dhcp_server_id_mismatch",
            Self::DhcpUnexpectedIa => "dhcp_unexpected_ia",
            Self::QueueFull => "queue_full",
            Self::BufferTooSmall => "buffer_too_small",
        }
    }
}

/// What happened, for the session and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Event {
    /// The client holds `prefix` now (a new binding or a new prefix).
    PrefixDelegated {
        /// The delegated prefix.
        prefix: Ipv6Net,
        /// The IA_PD's IAID.
        iaid: u32,
    },
    /// The client released `prefix` (DHCPv6 Release).
    PrefixReleased {
        /// The released prefix.
        prefix: Ipv6Net,
    },
    /// A packet was dropped.
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv6Counters {
    /// Valid Router Solicitations.
    pub router_solicitations: u64,
    /// Router Advertisements written by `poll_transmit`.
    pub router_advertisements: u64,
    /// Valid DHCPv6 client messages.
    pub dhcp_received: u64,
    /// DHCPv6 messages written by `poll_transmit`.
    pub dhcp_sent: u64,
    /// NS, NA, Redirects and the peer's RAs, ignored.
    pub neighbor_discovery_ignored: u64,
    /// Other link-scoped packets, ignored.
    pub ignored: u64,
    /// Packets and answers dropped.
    pub dropped: u64,
}

/// A DUID kept without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Duid {
    bytes: [u8; MAX_DUID_LEN],
    len: u8,
}

impl Duid {
    fn new(bytes: &[u8]) -> Self {
        let mut duid = Self {
            bytes: [0; MAX_DUID_LEN],
            len: 0,
        };
        if let Some(out) = duid.bytes.get_mut(..bytes.len()) {
            out.copy_from_slice(bytes);
            duid.len = bytes.len() as u8;
        }
        duid
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Duid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Duid({})", hex::encode(self.as_slice()))
    }
}

/// The client holding the delegation.
#[derive(Debug, Clone, Copy)]
struct Binding {
    client: Duid,
    iaid: u32,
    prefix: Ipv6Net,
}

/// How a DHCPv6 answer treats the client's IA_PD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IaAnswer {
    /// No IA_PD in the message.
    None,
    /// The delegation (with the replaced prefix at zero lifetimes).
    Delegate { iaid: u32, stale: Option<Ipv6Net> },
    /// Nothing to delegate: NoPrefixAvail.
    NoPrefix { iaid: u32 },
    /// Release of an IA we hold no binding for: NoBinding.
    NoBinding { iaid: u32 },
}

/// A DHCPv6 answer waiting for `poll_transmit`.
#[derive(Debug, Clone, Copy)]
struct DhcpAnswer {
    dst: Ipv6Addr,
    dst_port: u16,
    msg_type: MessageType,
    transaction_id: u32,
    client: Option<Duid>,
    ia_pd: IaAnswer,
    ia_na: Option<u32>,
    rapid_commit: bool,
    preference: bool,
    dns: bool,
    success: bool,
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    RouterAdvert { dst: Ipv6Addr },
    Dhcp(DhcpAnswer),
}

/// One subscriber's RA and DHCPv6 responder (see the module docs).
#[derive(Debug)]
pub struct Ipv6Services {
    config: Arc<Ipv6ServicesConfig>,
    link_local: Ipv6Addr,
    peer_link_local: Ipv6Addr,
    prefix: Option<Ipv6Net>,
    /// A replaced prefix and how many more RAs deprecate it.
    deprecated: Option<(Ipv6Net, u8)>,
    delegation: Option<Delegation>,
    binding: Option<Binding>,
    now: Instant,
    next_unsolicited: Instant,
    initial_left: u8,
    /// A solicited RA: when and where.
    solicited: Option<(Instant, Ipv6Addr)>,
    last_ra: Option<Instant>,
    pending: VecDeque<Pending>,
    events: VecDeque<Ipv6Event>,
    counters: Ipv6Counters,
}

/// Whether `addr` may not leave the link: link-local unicast or multicast
/// of interface- or link-local scope (RFC 4291 §2.7).
fn is_link_scoped(addr: &Ipv6Addr) -> bool {
    ipv6::is_link_local(addr) || (addr.is_multicast() && addr.octets()[1] & 0x0f <= 2)
}

impl Ipv6Services {
    /// The responder of a session whose IPv6CP negotiated these interface
    /// identifiers; the first unsolicited RA is due at `now`.
    pub fn new(
        config: Arc<Ipv6ServicesConfig>,
        our_interface_id: [u8; 8],
        peer_interface_id: [u8; 8],
        now: Instant,
    ) -> Self {
        let max_pending = config.max_pending.max(1);
        Self {
            initial_left: config.initial_ra_count.max(1),
            config,
            link_local: ipv6::link_local(our_interface_id),
            peer_link_local: ipv6::link_local(peer_interface_id),
            prefix: None,
            deprecated: None,
            delegation: None,
            binding: None,
            now,
            next_unsolicited: now,
            solicited: None,
            last_ra: None,
            pending: VecDeque::with_capacity(max_pending),
            events: VecDeque::with_capacity(8),
            counters: Ipv6Counters::default(),
        }
    }

    /// Our link-local address, the source of everything we send.
    pub fn link_local(&self) -> Ipv6Addr {
        self.link_local
    }

    /// The subscriber's link-local address (from its interface identifier).
    pub fn peer_link_local(&self) -> Ipv6Addr {
        self.peer_link_local
    }

    /// Sets the prefix advertised for SLAAC (Framed-IPv6-Prefix). A change
    /// restarts the initial burst of RAs at once; a replaced prefix is
    /// advertised with zero lifetimes in the next RAs.
    pub fn set_prefix(&mut self, prefix: Option<Ipv6Net>) {
        let prefix = prefix.map(|p| p.trunc());
        if prefix == self.prefix {
            return;
        }
        if let Some(old) = self.prefix {
            self.deprecated = Some((old, DEPRECATE_ADVERTS));
        }
        if self.deprecated.is_some_and(|(old, _)| Some(old) == prefix) {
            self.deprecated = None;
        }
        self.prefix = prefix;
        self.next_unsolicited = self.now;
        self.initial_left = self.config.initial_ra_count.max(1);
    }

    /// Sets the prefix delegated with DHCPv6 (Delegated-IPv6-Prefix or a
    /// pool), or none. A client bound to another prefix gets the new one
    /// at its next Renew or Rebind (and the old one with zero lifetimes).
    pub fn set_delegation(&mut self, delegation: Option<Delegation>) {
        self.delegation = delegation.map(|d| Delegation {
            prefix: d.prefix.trunc(),
            ..d
        });
    }

    /// The client bound to the delegation: its IAID and prefix.
    pub fn binding(&self) -> Option<(u32, Ipv6Net)> {
        self.binding.map(|b| (b.iaid, b.prefix))
    }

    /// The counters.
    pub fn counters(&self) -> Ipv6Counters {
        self.counters
    }

    fn drop_packet(&mut self, reason: DropReason) -> Handled {
        self.counters.dropped += 1;
        if self.events.len() < MAX_QUEUED_EVENTS {
            self.events.push_back(Ipv6Event::Dropped { reason });
        }
        Handled::Dropped(reason)
    }

    fn enqueue(&mut self, pending: Pending) -> Handled {
        if self.pending.len() >= self.config.max_pending.max(1) {
            return self.drop_packet(DropReason::QueueFull);
        }
        self.pending.push_back(pending);
        Handled::Consumed
    }

    /// Takes one IPv6 packet from the subscriber (see the module docs for
    /// what is ours).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Handled {
        self.now = now;
        let Ok(ip) = ipv6::Packet::new_checked(packet) else {
            return self.drop_packet(DropReason::Ipv6Header);
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if !is_link_scoped(&dst) {
            return Handled::NotOurs;
        }
        let Ok((next_header, upper)) = ipv6::upper_layer(&ip) else {
            return self.drop_packet(DropReason::ExtensionHeader);
        };
        match next_header {
            NextHeader::Icmpv6 => self.handle_icmpv6(now, ip.hop_limit(), src, dst, upper),
            NextHeader::Udp => self.handle_udp(src, dst, upper),
            _ => {
                self.counters.ignored += 1;
                Handled::Consumed
            }
        }
    }

    fn handle_icmpv6(
        &mut self,
        now: Instant,
        hop_limit: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        message: &[u8],
    ) -> Handled {
        let Ok(icmp) = Icmpv6Packet::new_checked(message) else {
            return self.drop_packet(DropReason::Icmpv6Malformed);
        };
        if !icmp.verify_checksum(&src, &dst) {
            return self.drop_packet(DropReason::Icmpv6Checksum);
        }
        match icmp.msg_type() {
            Icmpv6Type::RouterSolicitation => {
                if hop_limit != 255 {
                    return self.drop_packet(DropReason::NdHopLimit);
                }
                if RouterSolicit::parse(message, &src).is_err() {
                    return self.drop_packet(DropReason::RouterSolicitationMalformed);
                }
                if dst != ALL_ROUTERS && dst != self.link_local {
                    self.counters.ignored += 1;
                    return Handled::Consumed;
                }
                self.counters.router_solicitations += 1;
                self.solicit(now, src)
            }
            Icmpv6Type::NeighborSolicitation
            | Icmpv6Type::NeighborAdvertisement
            | Icmpv6Type::RouterAdvertisement
            | Icmpv6Type::Redirect => {
                // RFC 5072 §5 / RFC 4861 §3: no link-layer addresses on
                // PPP, nothing to resolve; see the module docs.
                self.counters.neighbor_discovery_ignored += 1;
                Handled::Consumed
            }
            _ => {
                self.counters.ignored += 1;
                Handled::Consumed
            }
        }
    }

    /// Schedules the answer to a Router Solicitation from `src`.
    fn solicit(&mut self, now: Instant, src: Ipv6Addr) -> Handled {
        if self.solicited.is_some() {
            // One answer serves every solicitation until it goes.
            return Handled::Consumed;
        }
        let dst = if src.is_unspecified() { ALL_NODES } else { src };
        let due = self
            .last_ra
            .map_or(now, |last| (last + MIN_DELAY_BETWEEN_RAS).max(now));
        if due <= now {
            self.last_ra = Some(now);
            return self.enqueue(Pending::RouterAdvert { dst });
        }
        self.solicited = Some((due, dst));
        Handled::Consumed
    }

    fn handle_udp(&mut self, src: Ipv6Addr, dst: Ipv6Addr, datagram: &[u8]) -> Handled {
        let Ok(udp) = UdpPacket::new_checked(datagram) else {
            return self.drop_packet(DropReason::UdpMalformed);
        };
        let for_server = dst == dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS || dst == self.link_local;
        if udp.dst_port() != dhcpv6::SERVER_PORT || !for_server {
            self.counters.ignored += 1;
            return Handled::Consumed;
        }
        if !udp.verify_checksum(&src, &dst) {
            return self.drop_packet(DropReason::UdpChecksum);
        }
        self.handle_dhcp(src, udp.src_port(), udp.payload())
    }

    fn handle_dhcp(&mut self, src: Ipv6Addr, src_port: u16, payload: &[u8]) -> Handled {
        let message = match Dhcpv6Repr::parse(payload) {
            Ok(message) => message,
            Err(Error::Unsupported(_)) => return self.drop_packet(DropReason::DhcpUnsupported),
            Err(_) => return self.drop_packet(DropReason::DhcpMalformed),
        };
        let ours = self.config.server_duid.as_slice();
        let server_id_ok = message.server_id == Some(ours);
        let check = match message.msg_type {
            MessageType::Solicit | MessageType::Rebind => {
                if message.server_id.is_some() {
                    Err(DropReason::DhcpUnexpectedServerId)
                } else {
                    Ok(())
                }
            }
            MessageType::Request | MessageType::Renew | MessageType::Release => {
                if server_id_ok {
                    Ok(())
                } else {
                    Err(DropReason::DhcpServerIdMismatch)
                }
            }
            MessageType::InformationRequest => {
                if message.server_id.is_some() && !server_id_ok {
                    Err(DropReason::DhcpServerIdMismatch)
                } else if message.ia_pd.is_some() || message.ia_na.is_some() || message.ia_ta {
                    Err(DropReason::DhcpUnexpectedIa)
                } else {
                    Ok(())
                }
            }
            MessageType::Confirm | MessageType::Decline => Err(DropReason::DhcpUnsupported),
            _ => Err(DropReason::DhcpNotClientMessage),
        };
        let check = check.and_then(|()| {
            if message.client_id.is_none() && message.msg_type != MessageType::InformationRequest {
                Err(DropReason::DhcpNoClientId)
            } else {
                Ok(())
            }
        });
        if let Err(reason) = check {
            return self.drop_packet(reason);
        }
        self.counters.dhcp_received += 1;
        let client = message.client_id.map(Duid::new);
        let mut answer = DhcpAnswer {
            dst: src,
            dst_port: src_port,
            msg_type: MessageType::Reply,
            transaction_id: message.transaction_id,
            client,
            ia_pd: IaAnswer::None,
            ia_na: message.ia_na,
            rapid_commit: false,
            preference: false,
            // §18.3.7: a Release's Reply confirms; it configures nothing.
            dns: !self.config.dns.is_empty()
                && message.msg_type != MessageType::Release
                && (message.requests(OptionCode::DnsServers)
                    || message.msg_type == MessageType::InformationRequest),
            success: false,
        };
        let iaid = message.ia_pd.map(|ia| ia.iaid);
        match (message.msg_type, iaid, client) {
            (MessageType::Solicit, _, _) => {
                let commit = message.rapid_commit
                    && self.config.rapid_commit
                    && iaid.is_some()
                    && self.delegation.is_some();
                if commit {
                    answer.rapid_commit = true;
                    answer.ia_pd = self.bind(iaid, client);
                } else {
                    answer.msg_type = MessageType::Advertise;
                    answer.preference = true;
                    answer.ia_pd = self.offer(iaid);
                }
            }
            (MessageType::Request | MessageType::Renew | MessageType::Rebind, _, _) => {
                answer.ia_pd = self.bind(iaid, client);
            }
            (MessageType::Release, Some(iaid), Some(client)) => {
                answer.success = true;
                answer.ia_pd = match self.binding {
                    Some(binding) if binding.iaid == iaid && binding.client == client => {
                        self.binding = None;
                        self.push_event(Ipv6Event::PrefixReleased {
                            prefix: binding.prefix,
                        });
                        IaAnswer::None
                    }
                    _ => IaAnswer::NoBinding { iaid },
                };
                answer.ia_na = None;
            }
            _ => {
                // Release without IA_PD, Information-Request.
                answer.success = message.msg_type == MessageType::Release;
                answer.ia_na = None;
            }
        }
        self.enqueue(Pending::Dhcp(answer))
    }

    fn push_event(&mut self, event: Ipv6Event) {
        self.events.push_back(event);
    }

    /// The IA_PD of an Advertise.
    fn offer(&self, iaid: Option<u32>) -> IaAnswer {
        match (iaid, self.delegation) {
            (None, _) => IaAnswer::None,
            (Some(iaid), Some(_)) => IaAnswer::Delegate { iaid, stale: None },
            (Some(iaid), None) => IaAnswer::NoPrefix { iaid },
        }
    }

    /// Commits the delegation to the client's IA (Request, Renew, Rebind,
    /// Solicit with Rapid Commit).
    fn bind(&mut self, iaid: Option<u32>, client: Option<Duid>) -> IaAnswer {
        let (Some(iaid), Some(client)) = (iaid, client) else {
            return IaAnswer::None;
        };
        let Some(delegation) = self.delegation else {
            return IaAnswer::NoPrefix { iaid };
        };
        let previous = self.binding.replace(Binding {
            client,
            iaid,
            prefix: delegation.prefix,
        });
        let same = previous
            .is_some_and(|p| p.prefix == delegation.prefix && p.iaid == iaid && p.client == client);
        if !same {
            self.push_event(Ipv6Event::PrefixDelegated {
                prefix: delegation.prefix,
                iaid,
            });
        }
        let stale = previous
            .map(|p| p.prefix)
            .filter(|prefix| *prefix != delegation.prefix);
        IaAnswer::Delegate { iaid, stale }
    }

    /// When [`Self::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let solicited = self.solicited.map(|(due, _)| due);
        Some(solicited.map_or(self.next_unsolicited, |s| s.min(self.next_unsolicited)))
    }

    /// Queues the RAs that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some((due, dst)) = self.solicited
            && due <= now
        {
            self.solicited = None;
            self.last_ra = Some(now);
            self.enqueue(Pending::RouterAdvert { dst });
        }
        if self.next_unsolicited <= now {
            self.initial_left = self.initial_left.saturating_sub(1);
            let interval = if self.initial_left > 0 {
                self.config
                    .initial_ra_interval
                    .min(MAX_INITIAL_RTR_ADVERT_INTERVAL)
            } else {
                self.config.ra_interval
            };
            self.next_unsolicited = now + interval.max(Duration::from_secs(1));
            self.last_ra = Some(now);
            self.enqueue(Pending::RouterAdvert { dst: ALL_NODES });
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Ipv6Event> {
        self.events.pop_front()
    }

    /// Writes the next answer, a whole IPv6 packet, into `buf`; returns
    /// its length. An answer `buf` cannot hold is dropped
    /// ([`DropReason::BufferTooSmall`]) and the next one is tried.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.now = now;
        while let Some(pending) = self.pending.pop_front() {
            let written = match pending {
                Pending::RouterAdvert { dst } => self.emit_router_advert(dst, buf),
                Pending::Dhcp(answer) => self.emit_dhcp(&answer, buf),
            };
            match written {
                Ok(len) => {
                    match pending {
                        Pending::RouterAdvert { .. } => {
                            self.counters.router_advertisements += 1;
                            if let Some((prefix, left)) = self.deprecated {
                                self.deprecated = (left > 1).then_some((prefix, left - 1));
                            }
                        }
                        Pending::Dhcp(_) => self.counters.dhcp_sent += 1,
                    }
                    return Some(len);
                }
                Err(_) => {
                    self.drop_packet(DropReason::BufferTooSmall);
                }
            }
        }
        None
    }

    fn emit_router_advert(&self, dst: Ipv6Addr, buf: &mut [u8]) -> wire_mod::Result<usize> {
        let config = &self.config;
        let mut prefixes = [PrefixInformation {
            prefix_len: 0,
            on_link: false,
            autonomous: false,
            valid_lifetime: 0,
            preferred_lifetime: 0,
            prefix: Ipv6Addr::UNSPECIFIED,
        }; 2];
        let mut count = 0;
        for (prefix, current) in [(self.prefix, true), (self.deprecated.map(|d| d.0), false)] {
            if let (Some(prefix), Some(slot)) = (prefix, prefixes.get_mut(count)) {
                *slot = PrefixInformation {
                    prefix_len: prefix.prefix_len(),
                    on_link: true,
                    autonomous: prefix.prefix_len() == 64,
                    valid_lifetime: if current {
                        config.prefix_valid_lifetime
                    } else {
                        0
                    },
                    preferred_lifetime: if current {
                        config.prefix_preferred_lifetime
                    } else {
                        0
                    },
                    prefix: prefix.network(),
                };
                count += 1;
            }
        }
        let repr = RouterAdvertRepr {
            header: RaHeader {
                cur_hop_limit: config.cur_hop_limit,
                managed: false,
                other: !config.dns.is_empty(),
                router_lifetime: config.router_lifetime,
                reachable_time: 0,
                retrans_timer: 0,
            },
            prefixes: prefixes.get(..count).unwrap_or(&[]),
            mtu: config.mtu,
            rdnss: Some(Rdnss {
                lifetime: config.dns_lifetime,
                servers: &config.dns,
            }),
        };
        let (header, rest) = split(buf, ipv6::HEADER_LEN)?;
        let len = repr.emit(rest, &self.link_local, &dst)?;
        Ipv6Repr {
            src_addr: self.link_local,
            dst_addr: dst,
            next_header: NextHeader::Icmpv6,
            payload_len: len,
            hop_limit: 255,
        }
        .emit(header)?;
        Ok(ipv6::HEADER_LEN + len)
    }

    fn emit_dhcp(&self, answer: &DhcpAnswer, buf: &mut [u8]) -> wire_mod::Result<usize> {
        let (header, rest) = split(buf, ipv6::HEADER_LEN)?;
        let (_, payload) = split(rest, ipv6::UDP_HEADER_LEN)?;
        let mut message = MessageBuilder::new(payload, answer.msg_type, answer.transaction_id)?;
        message.server_id(&self.config.server_duid)?;
        if let Some(client) = &answer.client {
            message.client_id(client.as_slice())?;
        }
        if answer.preference {
            message.preference(255)?;
        }
        if answer.rapid_commit {
            message.rapid_commit()?;
        }
        if answer.success {
            message.status(StatusCode::Success, "")?;
        }
        match answer.ia_pd {
            IaAnswer::None => {}
            IaAnswer::Delegate { iaid, stale } => {
                if let Some(d) = self.delegation {
                    let mut prefixes = [IaPrefix {
                        preferred_lifetime: d.preferred_lifetime,
                        valid_lifetime: d.valid_lifetime,
                        prefix: d.prefix,
                    }; 2];
                    let mut count = 1;
                    if let (Some(old), Some(slot)) = (stale, prefixes.get_mut(1)) {
                        *slot = IaPrefix {
                            preferred_lifetime: 0,
                            valid_lifetime: 0,
                            prefix: old,
                        };
                        count = 2;
                    }
                    let prefixes = prefixes.get(..count).unwrap_or(&[]);
                    message.ia_pd(iaid, d.t1(), d.t2(), prefixes, None)?;
                } else {
                    // The delegation went away after the answer was queued.
                    message.ia_pd(iaid, 0, 0, &[], Some((StatusCode::NoPrefixAvail, "")))?;
                }
            }
            IaAnswer::NoPrefix { iaid } => {
                message.ia_pd(
                    iaid,
                    0,
                    0,
                    &[],
                    Some((StatusCode::NoPrefixAvail, "no prefix available")),
                )?;
            }
            IaAnswer::NoBinding { iaid } => {
                message.ia_pd(iaid, 0, 0, &[], Some((StatusCode::NoBinding, "no binding")))?;
            }
        }
        if let Some(iaid) = answer.ia_na {
            message.ia_na_status(iaid, StatusCode::NoAddrsAvail, "no addresses: use SLAAC")?;
        }
        if answer.dns {
            message.dns_servers(&self.config.dns)?;
        }
        let dhcp_len = message.finish();
        let udp_len = UdpRepr {
            src_port: dhcpv6::SERVER_PORT,
            dst_port: answer.dst_port,
        }
        .emit(rest, dhcp_len, &self.link_local, &answer.dst)?;
        Ipv6Repr {
            src_addr: self.link_local,
            dst_addr: answer.dst,
            next_header: NextHeader::Udp,
            payload_len: udp_len,
            hop_limit: 255,
        }
        .emit(header)?;
        Ok(ipv6::HEADER_LEN + udp_len)
    }
}

/// `buf` split at `at`, or [`Error::BufferTooSmall`].
fn split(buf: &mut [u8], at: usize) -> wire_mod::Result<(&mut [u8], &mut [u8])> {
    let have = buf.len();
    buf.split_at_mut_checked(at)
        .ok_or(Error::BufferTooSmall { need: at, have })
}

#[cfg(test)]
mod tests;
