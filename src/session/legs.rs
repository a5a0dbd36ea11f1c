//! A session's two legs (DESIGN.md, "Three roles, one session model"). A
//! leg is where a session's PPP frames enter or leave the node:
//!
//! - [`PppoeLeg`]: a PPPoE session on an access interface (RFC 2516 §4),
//!   from the discovery server;
//! - [`L2tpLeg`]: an L2TP session on the shared endpoint (RFC 2661 §5.4),
//!   [`CallDirection::Outgoing`] when we placed the call (the LAC side),
//!   `Incoming` when the peer did (the LNS side);
//! - [`LocalLeg`]: PPP terminated here ([`Egress::Local`] in the fast
//!   path): the session's own PPP link, its addresses, IP through TUN.
//!
//! The first leg is where the session arrived; its role's policy picks the
//! second. A LAC session is PPPoE → outgoing L2TP; the LNS adds incoming
//! L2TP → Local, the LTS incoming → outgoing L2TP. Each leg knows its key
//! in the fast path, the [`Egress`] frames leaving on it take, and (for
//! L2TP) its RFC 2867 accounting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;

use crate::aaa::accounting::{CallDirection, TunnelLeg};
use crate::dataplane::fastpath::{Egress, LegKey, pppoe_leg};
use crate::l2tp::SessionHandle;
pub use crate::lns::policy::AddressSource;
use crate::wire::ethernet::{MacAddress, VlanStack};

/// Where a session arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstLeg {
    /// A PPPoE subscriber (LAC).
    Pppoe(PppoeLeg),
    /// An incoming L2TP call (LNS, LTS): a LAC's or a LAC client's.
    L2tp(L2tpLeg),
}

impl FirstLeg {
    /// Its key in the fast path.
    #[must_use]
    pub fn key(&self) -> LegKey {
        match self {
            Self::Pppoe(leg) => leg.key(),
            Self::L2tp(leg) => leg.key(),
        }
    }

    /// Where frames leaving on it go: from our MAC `local` (PPPoE), with
    /// sequence numbers when the call asked for them (L2TP).
    #[must_use]
    pub const fn egress(&self, local: MacAddress, sequencing: bool) -> Egress {
        match self {
            Self::Pppoe(leg) => leg.egress(local),
            Self::L2tp(leg) => leg.egress(sequencing),
        }
    }

    /// The PPPoE leg, for a subscriber that arrived by PPPoE.
    #[must_use]
    pub const fn pppoe(&self) -> Option<&PppoeLeg> {
        match self {
            Self::Pppoe(leg) => Some(leg),
            Self::L2tp(_) => None,
        }
    }

    /// The incoming call, for a session that arrived by L2TP.
    #[must_use]
    pub const fn l2tp(&self) -> Option<&L2tpLeg> {
        match self {
            Self::L2tp(leg) => Some(leg),
            Self::Pppoe(_) => None,
        }
    }

    /// The incoming call, to change (the peer closed it).
    pub const fn l2tp_mut(&mut self) -> Option<&mut L2tpLeg> {
        match self {
            Self::L2tp(leg) => Some(leg),
            Self::Pppoe(_) => None,
        }
    }
}

/// Where a session that is up leaves the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondLeg {
    /// An outgoing L2TP call (LAC, and the LTS's far side).
    L2tp(L2tpLeg),
    /// PPP terminated here (LNS).
    Local(LocalLeg),
}

impl SecondLeg {
    /// The outgoing call, when the second leg is one.
    #[must_use]
    pub const fn call(&self) -> Option<&L2tpLeg> {
        match self {
            Self::L2tp(leg) => Some(leg),
            Self::Local(_) => None,
        }
    }
}

/// PPP terminated here: the subscriber's addresses and the prefixes
/// routed to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalLeg {
    /// IPv4 address (IPCP), and where it came from.
    pub ipv4: Option<(Ipv4Addr, AddressSource)>,
    /// Framed-Routes installed towards the subscriber (RFC 2865 §5.22).
    pub routes: Vec<IpNet>,
    /// Framed-IPv6-Prefix (RFC 3162 §2.3), advertised for SLAAC.
    pub ipv6_prefix: Option<IpNet>,
    /// Delegated-IPv6-Prefix (RFC 4818), served by DHCPv6 IA_PD.
    pub delegated_prefix: Option<IpNet>,
}

/// A PPPoE session leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PppoeLeg {
    /// Access interface index.
    pub interface: usize,
    /// The subscriber's MAC address.
    pub mac: MacAddress,
    /// Its VLAN tags, outermost first.
    pub vlans: VlanStack,
    /// PPPoE SESSION_ID.
    pub session_id: u16,
}

impl PppoeLeg {
    /// Its key in the fast path.
    #[must_use]
    pub fn key(&self) -> LegKey {
        LegKey::Pppoe {
            interface: u32::try_from(self.interface).unwrap_or(u32::MAX),
            session_id: self.session_id,
        }
    }

    /// Where frames leaving on it go, from our MAC `local`.
    #[must_use]
    pub const fn egress(&self, local: MacAddress) -> Egress {
        pppoe_leg(self.interface, local, self.mac, self.vlans, self.session_id)
    }
}

/// An L2TP session leg on the shared endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2tpLeg {
    /// Who placed the call.
    pub direction: CallDirection,
    /// The peer.
    pub peer: SocketAddr,
    /// Our Tunnel ID and Session ID.
    pub handle: SessionHandle,
    /// The peer's Tunnel ID.
    pub peer_tunnel_id: u16,
    /// The peer's Session ID.
    pub peer_session_id: u16,
    /// The L2TP session is gone already (CDN or StopCCN from the peer):
    /// no CDN to send; the ids stay for the Stop record.
    pub closed: bool,
}

impl L2tpLeg {
    /// Its key in the fast path.
    #[must_use]
    pub const fn key(&self) -> LegKey {
        LegKey::L2tp {
            tunnel_id: self.handle.tunnel_id,
            session_id: self.handle.session_id,
        }
    }

    /// Where frames leaving on it go; `sequencing` when the call asked for
    /// sequence numbers (RFC 2661 §5.4).
    #[must_use]
    pub const fn egress(&self, sequencing: bool) -> Egress {
        Egress::L2tp {
            peer: self.peer,
            peer_tunnel_id: self.peer_tunnel_id,
            peer_session_id: self.peer_session_id,
            next_ns: if sequencing { Some(0) } else { None },
        }
    }

    /// Its RFC 2867 attributes, with our address `local`, the
    /// Tunnel-Assignment-ID and the initiator's name.
    #[must_use]
    pub fn accounting(
        &self,
        local: Option<IpAddr>,
        assignment_id: Option<Vec<u8>>,
        client_auth_id: Option<Vec<u8>>,
    ) -> TunnelLeg {
        TunnelLeg {
            direction: self.direction,
            local,
            peer: Some(self.peer.ip()),
            connection_id: format!("{}/{}", self.handle.tunnel_id, self.handle.session_id),
            assignment_id,
            client_auth_id,
            server_auth_id: None,
        }
    }
}
