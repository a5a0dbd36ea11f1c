//! The LAC core's own types: its configuration (built by the driver side,
//! `node::convert::lac_config`) and what it shows its driver (commands,
//! fast-path results, the API's view of a session).

use super::*;

/// One access interface.
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Linux interface name (for NAS-Port-Id and logs).
    pub name: String,
    /// Its discovery server settings (per-interface Service-Names, limits).
    pub discovery: DiscoveryConfig,
}

/// Everything the LAC core needs, from `[pppoe]`, `[ppp]`, `[l2tp]`,
/// `[lac]` and `[radius.accounting]` (`node::convert::lac_config`).
#[derive(Debug, Clone)]
pub struct NodeCoreConfig {
    /// Access interfaces, in the driver's order.
    pub interfaces: Vec<InterfaceConfig>,
    /// The PPP server link (LCP and authentication only).
    pub link: LinkConfig,
    /// The L2TP endpoint shared by every role.
    pub endpoint: EndpointConfig,
    /// The LAC role's policy for PPPoE subscribers.
    pub lac: LacPolicyConfig,
    /// The LNS role's policy for incoming calls (`None`: calls are
    /// refused by the endpoint, `accept_calls` off).
    pub lns: Option<crate::lns::policy::LnsPolicyConfig>,
    /// The PPP server link of sessions terminated here (IPCP address and
    /// DNS, compression accepted: RFC 2516 §7's limits are PPPoE's).
    pub lns_link: LinkConfig,
    /// The IPv6 services of sessions terminated here (RA and DHCPv6
    /// settings).
    pub lns_ipv6: Arc<crate::lns::ipv6::Ipv6ServicesConfig>,
    /// RADIUS group for Access-Requests.
    pub auth_group: String,
    /// RADIUS group for accounting.
    pub acct_group: String,
    /// Interim interval when RADIUS sends no Acct-Interim-Interval (zero:
    /// none).
    pub interim_interval: Duration,
    /// Send RFC 2867 tunnel accounting records.
    pub tunnel_accounting: bool,
    /// Clamp the MSS of TCP SYNs in forwarded frames to this (0: off).
    pub tcp_mss: u16,
    /// The LAC's L2TP address (Tunnel-Client-Endpoint in accounting).
    pub local_address: Option<IpAddr>,
    /// `[radius] nas_port_id`: matches the NAS-Port-Id of RFC 5176
    /// requests against the one the session was reported with.
    pub nas_port_id: NasPortIdTemplate,
    /// `[lac] workers`: how many cores share the subscribers.
    pub workers: u16,
    /// Which of them this core is ([`Self::for_worker`]).
    pub shard: Shard,
}

impl NodeCoreConfig {
    /// The configuration of worker `shard`: its PPPoE Session IDs and L2TP
    /// Tunnel IDs (so the kernel can steer to it), and its share of the
    /// access limits ([`DiscoveryConfig::for_shard`]).
    #[must_use]
    pub fn for_worker(&self, shard: Shard) -> Self {
        let mut config = self.clone();
        config.shard = shard;
        config.endpoint.tunnel_ids = shard;
        for interface in &mut config.interfaces {
            interface.discovery = interface.discovery.clone().for_shard(shard);
        }
        config
    }
}

/// What the driver must do for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ask RADIUS; answer with [`NodeCore::auth_result`].
    Authenticate {
        /// The session's token.
        token: u64,
        /// RADIUS group.
        group: String,
        /// The request.
        request: Box<AuthRequest>,
    },
    /// Send an accounting record (the driver spools it durably).
    Account {
        /// RADIUS group.
        group: String,
        /// The record (Event-Timestamp is the driver's to fill).
        record: Box<AccountingRecord>,
    },
    /// Route `net` into the TUN device (a Framed-Route, RFC 2865 §5.22,
    /// or an address outside every pool).
    AddRoute {
        /// The prefix.
        net: ipnet::IpNet,
    },
    /// Withdraw a route [`Command::AddRoute`] installed.
    RemoveRoute {
        /// The prefix.
        net: ipnet::IpNet,
    },
}

/// A frame the fast path produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Send `buf[range]` as one UDP datagram to `to`.
    Datagram {
        /// The LNS.
        to: SocketAddr,
        /// Where the datagram sits in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Send `buf[range]` as one Ethernet frame on interface `interface`.
    Frame {
        /// Index of the access interface.
        interface: usize,
        /// Where the frame sits in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Write `buf[range]`, one IP packet, to the TUN device (PPP
    /// terminated here).
    Tun {
        /// Where the packet sits in the caller's buffer.
        range: std::ops::Range<usize>,
    },
    /// Not a fast-path frame: the caller hands it to the control path
    /// (already done by the core for PPPoE).
    Control,
    /// Dropped (counted).
    Dropped(FastPathDrop),
}

/// Why the fast path dropped a frame.
pub use crate::dataplane::fastpath::FastPathDrop;

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionView {
    /// Acct-Session-Id.
    pub acct_session_id: String,
    /// User-Name, once known.
    pub user_name: Option<String>,
    /// `lac` (arrived by PPPoE, relayed) or `lns` (arrived by L2TP, PPP
    /// terminated here).
    pub role: &'static str,
    /// Access interface.
    pub interface: String,
    /// Subscriber MAC.
    pub mac: String,
    /// VLAN ids, outermost first.
    pub vlans: Vec<u16>,
    /// PPPoE SESSION_ID.
    pub pppoe_session_id: u16,
    /// State.
    pub state: &'static str,
    /// The LNS endpoint, once chosen.
    pub lns: Option<String>,
    /// LNS: the LAC or LAC client the call came from.
    pub peer: Option<String>,
    /// LNS: the call's Calling Number (RFC 2661 §4.4.5).
    pub calling_number: Option<String>,
    /// LNS: the subscriber's IPv4 address.
    pub ipv4_address: Option<String>,
    /// LNS: where that address came from.
    pub address_source: Option<String>,
    /// LNS: Framed-Routes towards the subscriber.
    pub framed_routes: Vec<String>,
    /// LNS: the prefix advertised for SLAAC (Framed-IPv6-Prefix or from
    /// Framed-IPv6-Pool).
    pub ipv6_prefix: Option<String>,
    /// LNS: the prefix delegated by DHCPv6 (Delegated-IPv6-Prefix or from
    /// Delegated-IPv6-Prefix-Pool).
    pub delegated_prefix: Option<String>,
    /// Our Tunnel ID.
    pub tunnel_id: Option<u16>,
    /// Our Session ID.
    pub session_id: Option<u16>,
    /// The LNS's Tunnel ID.
    pub peer_tunnel_id: Option<u16>,
    /// The LNS's Session ID.
    pub peer_session_id: Option<u16>,
    /// Frames subscriber → LNS.
    pub packets_up: u64,
    /// Octets subscriber → LNS.
    pub bytes_up: u64,
    /// Frames LNS → subscriber.
    pub packets_down: u64,
    /// Octets LNS → subscriber.
    pub bytes_down: u64,
    /// Seconds since the session came up.
    pub up_seconds: Option<u64>,
    /// The worker that owns the session (`[lac] workers`).
    pub worker: u16,
}
