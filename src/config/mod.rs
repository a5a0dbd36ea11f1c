//! Configuration: one TOML file, overridable by `TUNNELNAS_` environment
//! variables, loaded with figment into typed sections.
//!
//! * The file must exist (figment's `Toml::file` silently ignores a missing
//!   one and searches parent directories; we use `Toml::file_exact` and check
//!   first).
//! * `TUNNELNAS_SECTION__KEY=value` overrides `[section] key`; `__` nests
//!   further (`TUNNELNAS_RADIUS__GROUPS__DEFAULT__TIMEOUT=5s`). A value that
//!   looks like a number still works for a string field (see
//!   [`types::Secret`] and [`types::string`]), and a number whose text would
//!   not survive the round trip (`0123`) stays a string.
//! * Every struct denies unknown fields and documents its defaults.
//! * Every error names where the value came from (file or variable), the key
//!   path and what was expected ([`ConfigError`]).
//!
//! Roles follow from the sections present: `[lac]` makes a LAC, `[lns]` an
//! LNS, both make an L2TP tunnel switch (LTS).

pub mod types;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

pub use crate::aaa::request::MacFormat;
pub use types::{Duration, Secret};

/// Prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "TUNNELNAS_";

/// The whole configuration of one tunnelnas process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Identity and local state of this box.
    pub node: Node,
    /// PPPoE access side (needed by the LAC role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pppoe: Option<Pppoe>,
    /// PPP negotiation parameters shared by every role.
    pub ppp: Ppp,
    /// L2TPv2 transport and control-channel parameters.
    pub l2tp: L2tp,
    /// LAC role: present = this box hands PPPoE sessions to LNSs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lac: Option<Lac>,
    /// LNS role: present = this box terminates L2TP sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lns: Option<Lns>,
    /// RADIUS servers, accounting and dynamic authorization.
    pub radius: Radius,
    /// Prometheus endpoint.
    pub metrics: Metrics,
    /// Management HTTP API.
    pub api: Api,
}

/// `[node]`: identity and local state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Node {
    /// NAS-Identifier sent to RADIUS and the default L2TP Host Name.
    /// Default `"tunnelnas"`.
    #[serde(deserialize_with = "types::string")]
    pub nas_identifier: String,
    /// Directory for durable state (accounting spool, session-id epoch).
    /// Default `/var/lib/tunnelnas`.
    pub state_dir: PathBuf,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            nas_identifier: "tunnelnas".into(),
            state_dir: PathBuf::from("/var/lib/tunnelnas"),
        }
    }
}

/// `[pppoe]`: the PPPoE access concentrator (RFC 2516).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pppoe {
    /// Interfaces to serve (`[[pppoe.interface]]`). At least one for a LAC.
    #[serde(rename = "interface")]
    pub interfaces: Vec<PppoeInterface>,
    /// AC-Name tag in PADO/PADS. Default `"tunnelnas"`.
    #[serde(deserialize_with = "types::string")]
    pub ac_name: String,
    /// Service-Names offered; empty (the default) accepts any, including
    /// the empty Service-Name.
    pub service_names: Vec<String>,
    /// Most PPPoE sessions on one interface. Default 16000.
    pub max_sessions_per_interface: u32,
    /// Most PPPoE sessions from one subscriber MAC. Default 2.
    pub max_sessions_per_mac: u32,
    /// PADI accepted per second on each interface (also the burst).
    /// Default 500.
    pub padi_rate: u32,
    /// PADI accepted per second from one subscriber (MAC and VLAN tags;
    /// also the burst). Default 2.
    pub padi_rate_per_mac: u32,
    /// PADO delay when idle. Default `0s`.
    pub pado_delay: Duration,
    /// PADO delay at full load (grows linearly with sessions in use), so
    /// a less loaded concentrator answers first. Default `0s`.
    pub pado_delay_max: Duration,
    /// Lifetime of the AC-Cookie's time slot (the cookie is valid for the
    /// current and the previous slot). Default `30s`.
    pub cookie_lifetime: Duration,
    /// Largest PPP-Max-Payload (RFC 4638) granted. 1492 (the default)
    /// disables RFC 4638; raise it only on interfaces whose MTU is at least
    /// this plus 8.
    pub max_payload: u16,
}

impl Default for Pppoe {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            ac_name: "tunnelnas".into(),
            service_names: Vec::new(),
            max_sessions_per_interface: 16_000,
            max_sessions_per_mac: 2,
            padi_rate: 500,
            padi_rate_per_mac: 2,
            pado_delay: Duration::from_secs(0),
            pado_delay_max: Duration::from_secs(0),
            cookie_lifetime: Duration::from_secs(30),
            max_payload: 1492,
        }
    }
}

/// `[[pppoe.interface]]`: one access interface.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PppoeInterface {
    /// Linux interface name.
    #[serde(deserialize_with = "types::string")]
    pub name: String,
    /// Service-Names for this interface; absent = `[pppoe] service_names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_names: Option<Vec<String>>,
    /// Session limit for this interface; absent = the `[pppoe]` default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// Per-VLAN rules (`[[pppoe.interface.vlan]]`), tried in file order;
    /// the first that matches a frame's VLAN tags applies (see
    /// [`PppoeVlan`]). Frames no rule matches get the interface's settings.
    #[serde(default, rename = "vlan", skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<PppoeVlan>,
}

/// `[[pppoe.interface.vlan]]`: settings for the subscribers on some VLANs
/// of an interface.
///
/// # Matching
///
/// A frame's tags are read the way the NAS-Port-Id placeholders read them:
/// with two tags the outer one is the S-VLAN and the inner one the C-VLAN;
/// a single tag is the **C-VLAN** (there is no S-VLAN); an untagged frame
/// has neither. A rule matches when each of `svlan` and `cvlan` that it
/// sets is present in the frame and within the id or range given; a key
/// left out matches anything, including no tag at all. So:
///
/// * `cvlan = 100` matches single-tagged frames on VLAN 100 and QinQ
///   frames whose inner tag is 100, whatever their outer tag;
/// * `svlan = 10` matches only QinQ frames whose outer tag is 10;
/// * a rule with neither key matches every frame, and is the only kind of
///   rule an untagged frame (or a priority-tagged one, VLAN id 0) matches.
///
/// Rules are tried in file order and **the first match wins**; a rule that
/// an earlier one entirely covers would never apply and is refused at load.
/// A frame that no rule matches gets the interface's own Service-Names and
/// limits: to serve only the VLANs listed, end with a catch-all rule with
/// `refuse = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PppoeVlan {
    /// Outer (S-)VLAN id or range, e.g. `10` or `"10-19"`; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svlan: Option<VlanRange>,
    /// Inner (C-)VLAN id or range, or the only tag of a single-tagged
    /// frame; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvlan: Option<VlanRange>,
    /// Service-Names offered on these VLANs; absent = the interface's (or
    /// `[pppoe] service_names`); empty accepts any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_names: Option<Vec<String>>,
    /// Most sessions on the VLANs of this rule together (the interface's
    /// and the per-MAC limits still apply); absent = no limit of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// NAS-Port-Id template for sessions on these VLANs, overriding
    /// `[radius] nas_port_id` (same placeholders).
    #[serde(
        default,
        deserialize_with = "optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub nas_port_id: Option<String>,
    /// Ignore discovery on these VLANs entirely: no PADO and no PADS is
    /// sent (RFC 2516 §5.2), each PADI or PADR is only counted as refused.
    /// Takes no other setting than `svlan` and `cvlan`. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refuse: bool,
}

impl PppoeVlan {
    /// Whether every frame `self` matches is also matched by `earlier`
    /// (so `self` would never apply after it).
    fn covered_by(&self, earlier: &Self) -> bool {
        let covers = |earlier: Option<VlanRange>, later: Option<VlanRange>| match (earlier, later) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(e), Some(l)) => e.low <= l.low && l.high <= e.high,
        };
        covers(earlier.svlan, self.svlan) && covers(earlier.cvlan, self.cvlan)
    }
}

/// Deserialises an optional string field that may arrive as a number (an
/// environment override), as [`types::string`] does for required ones.
fn optional_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    types::string(deserializer).map(Some)
}

/// A VLAN id or an inclusive range of ids, written `100`, `"100"` or
/// `"100-199"` (serialised back as a number when it is one id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanRange {
    /// First id of the range.
    pub low: u16,
    /// Last id of the range (equal to `low` for a single id).
    pub high: u16,
}

impl VlanRange {
    /// The usable VLAN ids (IEEE 802.1Q: 0 means priority-tagged only,
    /// 4095 is reserved).
    pub const IDS: std::ops::RangeInclusive<u16> = 1..=4094;

    /// One id.
    pub const fn single(id: u16) -> Self {
        Self { low: id, high: id }
    }

    /// Whether `vid` is within the range.
    pub const fn contains(self, vid: u16) -> bool {
        self.low <= vid && vid <= self.high
    }

    /// Parses `"100"` or `"100-199"` (numbers only; see [`Self::check`]
    /// for the ranges allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = |part: &str| {
            part.trim().parse::<u16>().map_err(|_| {
                format!(
                    "expected a VLAN id (1 to 4094) or a range such as \"100-199\", found `{text}`"
                )
            })
        };
        match text.split_once('-') {
            Some((low, high)) => Ok(Self {
                low: number(low)?,
                high: number(high)?,
            }),
            None => number(text).map(Self::single),
        }
    }

    /// Checks the ids are usable VLAN ids and the range is not reversed.
    pub fn check(self) -> Result<(), String> {
        for id in [self.low, self.high] {
            if !Self::IDS.contains(&id) {
                return Err(format!("a VLAN id from 1 to 4094 (found {id})"));
            }
        }
        if self.low > self.high {
            return Err(format!(
                "a range \"low-high\" with low <= high (found \"{self}\")"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for VlanRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

impl Serialize for VlanRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.low == self.high {
            serializer.serialize_u16(self.low)
        } else {
            serializer.collect_str(self)
        }
    }
}

impl<'de> Deserialize<'de> for VlanRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct RangeVisitor;
        impl Visitor<'_> for RangeVisitor {
            type Value = VlanRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VLAN id (1 to 4094) or a range such as \"100-199\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VlanRange, E> {
                VlanRange::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VlanRange, E> {
                u16::try_from(v)
                    .map(VlanRange::single)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VlanRange, E> {
                u16::try_from(v)
                    .map(VlanRange::single)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        deserializer.deserialize_any(RangeVisitor)
    }
}

/// An authentication protocol the PPP server side may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthProtocol {
    /// RFC 1334 PAP.
    Pap,
    /// RFC 1994 CHAP with MD5.
    Chap,
    /// RFC 2759 MS-CHAPv2.
    Mschapv2,
}

/// `[ppp]`: PPP negotiation (RFC 1661 §4.6 counters and timers, keepalive).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ppp {
    /// MRU we ask for. Default 1492 (PPPoE without RFC 4638).
    pub mru: u16,
    /// Authentication protocols in the order offered; the next is offered
    /// when the peer Configure-Naks one. Default `["chap", "mschapv2", "pap"]`.
    pub auth_protocols: Vec<AuthProtocol>,
    /// RFC 1661 Restart timer. Default `3s`.
    pub restart_timer: Duration,
    /// RFC 1661 Max-Configure. Default 10.
    pub max_configure: u8,
    /// RFC 1661 Max-Terminate. Default 2.
    pub max_terminate: u8,
    /// RFC 1661 Max-Failure. Default 5.
    pub max_failure: u8,
    /// Interval between LCP Echo-Requests on an idle link; `0s` disables.
    /// Default `30s`.
    pub lcp_echo_interval: Duration,
    /// Unanswered Echo-Requests before the link is declared dead. Default 3.
    pub lcp_echo_failures: u8,
    /// Time a subscriber has to authenticate after LCP opens. Default `30s`.
    pub auth_timeout: Duration,
}

impl Default for Ppp {
    fn default() -> Self {
        Self {
            mru: 1492,
            auth_protocols: vec![
                AuthProtocol::Chap,
                AuthProtocol::Mschapv2,
                AuthProtocol::Pap,
            ],
            restart_timer: Duration::from_secs(3),
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
            lcp_echo_interval: Duration::from_secs(30),
            lcp_echo_failures: 3,
            auth_timeout: Duration::from_secs(30),
        }
    }
}

/// `[l2tp]`: L2TPv2 transport and reliable control channel (RFC 2661 §5.8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L2tp {
    /// UDP address to bind. Default `0.0.0.0:1701`.
    pub listen: SocketAddr,
    /// Host Name AVP; absent = `[node] nas_identifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// Receive Window Size we advertise. Default 16 (RFC default is 4).
    pub receive_window: u16,
    /// First retransmission timeout. Default `1s` (RFC 2661 §5.8).
    pub retransmit_initial: Duration,
    /// Cap of the exponential backoff. Default `8s`.
    pub retransmit_max: Duration,
    /// Retransmissions before the tunnel is declared down. Default 5.
    pub max_retransmits: u8,
    /// Delay before a ZLB acknowledges a message when nothing else is sent.
    /// Default `100ms`.
    pub ack_delay: Duration,
    /// HELLO after this much silence; `0s` disables. Default `60s`.
    pub hello_interval: Duration,
    /// How long a closed tunnel's state is kept to acknowledge
    /// retransmissions (RFC 2661 §5.7). Default `31s`.
    pub teardown_hold: Duration,
    /// Hide sensitive AVPs (RFC 2661 §4.3) when a tunnel secret is set.
    /// Hidden AVPs are always accepted. Default false.
    pub hide_avps: bool,
    /// Ask for sequence numbers on data messages. Default false.
    pub data_sequencing: bool,
}

impl Default for L2tp {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 1701)),
            host_name: None,
            receive_window: 16,
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
            ack_delay: Duration::from_millis(100),
            hello_interval: Duration::from_secs(60),
            teardown_hold: Duration::from_secs(31),
            hide_avps: false,
            data_sequencing: false,
        }
    }
}

/// How the LAC spreads sessions over LNSs of equal preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LnsBalancing {
    /// Weighted by free capacity (max sessions minus sessions in use).
    Weighted,
    /// In turn.
    RoundRobin,
    /// The endpoint with the fewest sessions.
    LeastSessions,
}

/// What the LAC sends as the L2TP Calling Number AVP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallingNumber {
    /// The subscriber's MAC address.
    Mac,
    /// The RFC 4679 Agent-Circuit-Id, falling back to the MAC.
    AgentCircuitId,
}

/// `[lac]`: NAS-initiated L2TP access concentrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lac {
    /// RADIUS group that authenticates subscribers. Default `"default"`.
    pub auth_group: String,
    /// RADIUS group that receives accounting. Default `"default"`.
    pub acct_group: String,
    /// Balancing among LNSs of equal preference. Default `weighted`.
    pub balancing: LnsBalancing,
    /// LNS candidates tried for one subscriber before giving up. Default 3.
    pub max_attempts: u8,
    /// Overall time from authentication to an established L2TP session.
    /// Default `30s`.
    pub setup_deadline: Duration,
    /// How long a failed LNS endpoint is avoided. Default `60s`.
    pub denylist_time: Duration,
    /// Sessions per tunnel before another tunnel is opened to the same LNS.
    /// Default 1000.
    pub max_sessions_per_tunnel: u16,
    /// Tunnels of one LNS group (LNS address, Tunnel-Assignment-Id,
    /// Tunnel-Client-Auth-Id) that take new calls at once. When every one
    /// of them has calls waiting behind the LNS's receive window, a
    /// further tunnel is opened, up to this many, so one tunnel's window
    /// and acknowledgement delay do not cap the setup rate. Tunnels full
    /// of sessions (`max_sessions_per_tunnel`) do not count. Default 4,
    /// at most 64.
    pub max_tunnels_per_lns: u16,
    /// Calls to one LNS group that may wait for room in its tunnels'
    /// windows. A call beyond it is not placed there: the subscriber's
    /// set-up moves to the next LNS candidate, or fails with the reason
    /// `lns_busy`. Default 10000.
    pub max_queued_calls: u32,
    /// How long one LNS attempt may wait for its tunnel to come up
    /// (SCCRQ to SCCCN). Past it the call moves to the next candidate and
    /// the LNS is denylisted, well before the control channel's own
    /// retransmission schedule (31 s with the RFC 2661 defaults) gives up.
    /// Default `5s`.
    pub tunnel_setup_timeout: Duration,
    /// What RADIUS authorizes: `user` (the subscriber's credentials,
    /// checked by RADIUS) or `domain` (the realm, with
    /// `authorize_password`; the LNS authenticates the user from the proxy
    /// authentication AVPs and answers the subscriber itself). Default
    /// `user`.
    pub authorize: Authorize,
    /// With `authorize = "domain"`: the User-Name of the Access-Request,
    /// `realm` (the part after `@`) or `user` (the whole name). Default
    /// `realm`.
    pub authorize_name: AuthorizeName,
    /// With `authorize = "domain"`: the User-Password of the
    /// Access-Request. No default: required whenever a
    /// domain is authorized (here or in a `[[lac.realm]]`).
    pub authorize_password: Secret,
    /// What goes in the Calling Number AVP. Default `mac`.
    pub calling_number: CallingNumber,
    /// Clamp the MSS option of TCP SYNs forwarded either way to this many
    /// octets; 0 turns clamping off. Default 0. With PPPoE's 1492 and the
    /// L2TP/UDP/IP overhead towards the LNS, 1420 avoids fragmentation on a
    /// 1500-byte LAC–LNS path.
    pub tcp_mss: u16,
    /// Tx/Rx Connect Speed in the ICCN (bit/s) when RADIUS gives the
    /// subscriber no rate limit. Default 1000000000.
    pub connect_speed: u32,
    /// Worker tasks the LAC's subscribers are sharded across, each with
    /// its own sessions, tunnels and sockets (the kernel steers frames by
    /// source MAC and L2TP datagrams by Tunnel ID). One per core is the
    /// usual choice; each worker opens its own tunnels, so an LNS sees up
    /// to this many tunnels from this LAC. Limits that span subscribers
    /// (`pppoe` session limits, the PADI rate) are split evenly between
    /// workers. Default 1, at most 64.
    pub workers: u16,
    /// Static realm rules used when RADIUS returns no tunnel attributes.
    #[serde(rename = "realm")]
    pub realms: Vec<Realm>,
}

impl Default for Lac {
    fn default() -> Self {
        Self {
            auth_group: "default".into(),
            acct_group: "default".into(),
            balancing: LnsBalancing::Weighted,
            max_attempts: 3,
            setup_deadline: Duration::from_secs(30),
            denylist_time: Duration::from_secs(60),
            max_sessions_per_tunnel: 1000,
            calling_number: CallingNumber::Mac,
            tcp_mss: 0,
            connect_speed: 1_000_000_000,
            workers: 1,
            max_tunnels_per_lns: 4,
            max_queued_calls: 10_000,
            tunnel_setup_timeout: Duration::from_secs(5),
            authorize: Authorize::User,
            authorize_name: AuthorizeName::Realm,
            authorize_password: Secret::default(),
            realms: Vec::new(),
        }
    }
}

/// `[lac] authorize`: what the LAC's Access-Request asks RADIUS about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Authorize {
    /// The subscriber: RADIUS checks the credentials and names the LNS.
    User,
    /// The subscriber's domain (wholesale): RADIUS names the LNS, the LNS
    /// authenticates the user.
    Domain,
}

/// `[lac] authorize_name`: the User-Name of a domain authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorizeName {
    /// The realm: what follows the last `@` (the whole name without one).
    Realm,
    /// The whole user name as the subscriber sent it.
    User,
}

/// `[[lac.realm]]`: a static rule mapping user names to an LNS group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Realm {
    /// Matches user names ending in `@domain` (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Matches user names starting with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// What RADIUS authorizes for users of this realm; absent = `[lac]
    /// authorize`. Lets `user` and `domain` authorization live in one box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize: Option<Authorize>,
    /// LNS endpoints of this realm (`[[lac.realm.lns]]`). May be empty
    /// when the rule only sets `authorize` (RADIUS then names the LNS).
    #[serde(rename = "lns", default)]
    pub endpoints: Vec<LnsEndpoint>,
}

/// One LNS a realm rule may pick.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnsEndpoint {
    /// LNS address; port 1701 unless given (`"192.0.2.1"` or `"192.0.2.1:1702"`).
    pub address: Endpoint,
    /// Tunnel secret; empty = no tunnel authentication.
    #[serde(default)]
    pub secret: Secret,
    /// Lower is preferred (as Tunnel-Preference). Default 0.
    #[serde(default)]
    pub preference: u32,
    /// Tunnel-Assignment-Id: sessions with the same one share a tunnel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<String>,
}

/// A UDP endpoint written as an address with an optional port (default 1701).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Endpoint(pub SocketAddr);

impl TryFrom<String> for Endpoint {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Self(addr));
        }
        text.parse::<IpAddr>()
            .map(|ip| Self(SocketAddr::new(ip, 1701)))
            .map_err(|_| format!("`{text}` is not an IP address with an optional :port"))
    }
}

impl From<Endpoint> for String {
    fn from(endpoint: Endpoint) -> Self {
        endpoint.0.to_string()
    }
}

/// What the LNS does with the LAC's proxy LCP and authentication AVPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyPolicy {
    /// Use them when consistent (RFC 2661 §4.4.5), renegotiate otherwise.
    Accept,
    /// Ignore them and renegotiate LCP and authentication.
    Renegotiate,
}

/// `[lns]`: L2TP network server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lns {
    /// RADIUS group that authenticates users. Default `"default"`.
    pub auth_group: String,
    /// RADIUS group that receives accounting. Default `"default"`.
    pub acct_group: String,
    /// LACs allowed to open tunnels (`[[lns.peer]]`); empty = nobody.
    #[serde(rename = "peer")]
    pub peers: Vec<LnsPeer>,
    /// Our address on every PPP link (IPCP). Default `10.255.255.1`.
    pub local_address: Ipv4Addr,
    /// Pool for users RADIUS gives no Framed-IP-Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_pool: Option<Ipv4Net>,
    /// DNS servers offered in IPCP (RFC 1877), at most two.
    pub dns: Vec<Ipv4Addr>,
    /// TUN device name. Default `tnlns0`.
    pub tun_name: String,
    /// Proxy LCP / authentication policy. Default `accept`.
    pub proxy: ProxyPolicy,
}

impl Default for Lns {
    fn default() -> Self {
        Self {
            auth_group: "default".into(),
            acct_group: "default".into(),
            peers: Vec::new(),
            local_address: Ipv4Addr::new(10, 255, 255, 1),
            address_pool: None,
            dns: Vec::new(),
            tun_name: "tnlns0".into(),
            proxy: ProxyPolicy::Accept,
        }
    }
}

/// `[[lns.peer]]`: LACs allowed to open tunnels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnsPeer {
    /// Source addresses this rule covers, e.g. `"192.0.2.0/24"`.
    pub network: IpNet,
    /// Tunnel secret; empty = no tunnel authentication.
    #[serde(default)]
    pub secret: Secret,
    /// Only this Host Name AVP matches the rule, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
}

/// How a group spreads requests over its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerStrategy {
    /// The first live server in list order.
    Failover,
    /// Live servers in turn.
    RoundRobin,
    /// Live servers in proportion to their weight.
    Weighted,
}

/// `[radius]`: RADIUS client, accounting and dynamic authorization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Radius {
    /// NAS-IP-Address sent in requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_ip_address: Option<Ipv4Addr>,
    /// NAS-IPv6-Address sent in requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_ipv6_address: Option<Ipv6Addr>,
    /// NAS-Port-Id template: placeholders `{interface}`, `{svlan}`,
    /// `{cvlan}`, `{vlans}` (`S.C`, `C` or empty), `{circuit_id}`,
    /// `{remote_id}`. Default `"{interface}:{vlans}"`.
    #[serde(default = "Radius::default_nas_port_id")]
    pub nas_port_id: String,
    /// Calling-Station-Id format of the subscriber MAC. Default `ietf`
    /// (`AA-BB-CC-DD-EE-FF`, RFC 3580 §3.21).
    #[serde(default)]
    pub calling_station_id: MacFormat,
    /// Local users (TOML, see `aaa::local`): answer for the group named
    /// `local`, and with `local_fallback` when every server of a group is
    /// dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_users: Option<PathBuf>,
    /// Use `local_users` when every server of a group is dead. Default false.
    #[serde(default)]
    pub local_fallback: bool,
    /// A FreeRADIUS-format dictionary to load instead of the built-in copy
    /// of `dictionaries/` (names attributes in logs and in configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<PathBuf>,
    /// Server groups by name (`[radius.group.NAME]`).
    #[serde(rename = "group")]
    pub groups: BTreeMap<String, RadiusGroup>,
    /// Accounting behaviour.
    pub accounting: Accounting,
    /// RFC 5176 listener; absent = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynauth: Option<DynAuth>,
}

impl Radius {
    fn default_nas_port_id() -> String {
        "{interface}:{vlans}".into()
    }
}

impl Default for Radius {
    fn default() -> Self {
        Self {
            nas_ip_address: None,
            nas_ipv6_address: None,
            nas_port_id: Self::default_nas_port_id(),
            calling_station_id: MacFormat::default(),
            local_users: None,
            local_fallback: false,
            dictionary: None,
            groups: BTreeMap::new(),
            accounting: Accounting::default(),
            dynauth: None,
        }
    }
}

/// `[radius.group.NAME]`: servers asked together.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusGroup {
    /// Servers (`[[radius.group.NAME.server]]`), at least one.
    #[serde(rename = "server")]
    pub servers: Vec<RadiusServer>,
    /// Default `failover`.
    #[serde(default = "RadiusGroup::default_strategy")]
    pub strategy: ServerStrategy,
    /// Wait for a reply before retransmitting. Default `3s`.
    #[serde(default = "RadiusGroup::default_timeout")]
    pub timeout: Duration,
    /// Retransmissions to one server before trying the next. Default 2.
    #[serde(default = "RadiusGroup::default_retries")]
    pub retries: u8,
    /// Consecutive timeouts after which a server is marked dead. Default 3.
    #[serde(default = "RadiusGroup::default_dead_after")]
    pub dead_after: u8,
    /// How long a dead server is skipped before Status-Server probes it.
    /// Default `60s`.
    #[serde(default = "RadiusGroup::default_dead_time")]
    pub dead_time: Duration,
}

impl RadiusGroup {
    fn default_strategy() -> ServerStrategy {
        ServerStrategy::Failover
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(3)
    }
    fn default_retries() -> u8 {
        2
    }
    fn default_dead_after() -> u8 {
        3
    }
    fn default_dead_time() -> Duration {
        Duration::from_secs(60)
    }
}

/// `[[radius.group.NAME.server]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusServer {
    /// Server address.
    pub address: IpAddr,
    /// Shared secret (required).
    pub secret: Secret,
    /// Authentication port. Default 1812.
    #[serde(default = "RadiusServer::default_auth_port")]
    pub auth_port: u16,
    /// Accounting port. Default 1813.
    #[serde(default = "RadiusServer::default_acct_port")]
    pub acct_port: u16,
    /// Relative weight for the `weighted` strategy. Default 1.
    #[serde(default = "RadiusServer::default_weight")]
    pub weight: u32,
}

impl RadiusServer {
    fn default_auth_port() -> u16 {
        1812
    }
    fn default_acct_port() -> u16 {
        1813
    }
    fn default_weight() -> u32 {
        1
    }
}

/// `[radius.accounting]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounting {
    /// Interim-Update interval when RADIUS sends no Acct-Interim-Interval;
    /// `0s` = none. Default `0s`.
    pub interim_interval: Duration,
    /// Send RFC 2867 tunnel accounting records. Default false.
    pub tunnel_accounting: bool,
    /// Most records kept in the durable spool. Default 1000000.
    pub spool_max_records: u64,
}

impl Default for Accounting {
    fn default() -> Self {
        Self {
            interim_interval: Duration::from_secs(0),
            tunnel_accounting: false,
            spool_max_records: 1_000_000,
        }
    }
}

/// `[radius.dynauth]`: RFC 5176 Disconnect and CoA listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynAuth {
    /// Address to bind. Default `0.0.0.0:3799`.
    #[serde(default = "DynAuth::default_listen")]
    pub listen: SocketAddr,
    /// Who may send requests (`[[radius.dynauth.client]]`).
    #[serde(rename = "client")]
    pub clients: Vec<DynAuthClient>,
    /// Drop requests without a valid Message-Authenticator. Default true.
    #[serde(default = "DynAuth::default_require_ma")]
    pub require_message_authenticator: bool,
    /// Accepted Event-Timestamp skew (replay window). Default `300s`.
    #[serde(default = "DynAuth::default_window")]
    pub replay_window: Duration,
}

impl DynAuth {
    fn default_listen() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 3799))
    }
    fn default_require_ma() -> bool {
        true
    }
    fn default_window() -> Duration {
        Duration::from_secs(300)
    }
}

/// `[[radius.dynauth.client]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynAuthClient {
    /// Source address of the CoA/Disconnect client.
    pub address: IpAddr,
    /// Shared secret (required).
    pub secret: Secret,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Address serving `/metrics`. Default `127.0.0.1:9180`.
    pub listen: SocketAddr,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9180)),
        }
    }
}

/// `[api]`: the management HTTP API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Address serving `/api/v1/…`; may equal `[metrics] listen`, then one
    /// server answers both. Default `127.0.0.1:9180`.
    pub listen: SocketAddr,
}

impl Default for Api {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9180)),
        }
    }
}

/// The roles a configuration enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[lac]` only.
    Lac,
    /// `[lns]` only.
    Lns,
    /// Both: an L2TP tunnel switch.
    Lts,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lac => "lac",
            Self::Lns => "lns",
            Self::Lts => "lts",
        })
    }
}

impl Config {
    /// The role this configuration enables (validation guarantees one).
    pub fn role(&self) -> Option<Role> {
        match (self.lac.is_some(), self.lns.is_some()) {
            (true, false) => Some(Role::Lac),
            (false, true) => Some(Role::Lns),
            (true, true) => Some(Role::Lts),
            (false, false) => None,
        }
    }

    /// L2TP Host Name: `[l2tp] host_name` or `[node] nas_identifier`.
    pub fn l2tp_host_name(&self) -> &str {
        self.l2tp
            .host_name
            .as_deref()
            .unwrap_or(&self.node.nas_identifier)
    }

    /// Loads `path`, applies `TUNNELNAS_*` variables from the process
    /// environment, and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    problem: "is not a regular file".into(),
                });
            }
            Err(err) => {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    problem: err.to_string(),
                });
            }
        }
        let file = Toml::file_exact(path);
        let base = file
            .data()
            .map_err(|err| ConfigError::from_figment(path, err))?
            .remove(&Profile::Default)
            .unwrap_or_default();
        let overrides = EnvOverrides::collect(env, base);
        let env_names: Vec<String> = overrides.vars.iter().map(|(n, _)| n.clone()).collect();
        let figment = Figment::new().merge(file).merge(overrides);
        let config: Self = figment
            .extract()
            .map_err(|err| ConfigError::from_figment_with(path, err, &env_names))?;
        config.validate().map_err(|invalid| {
            let source = describe_source(
                path,
                find_metadata(&figment, &invalid.key),
                &invalid.key,
                &env_names,
            );
            ConfigError::Invalid {
                origin: source,
                key: invalid.key,
                expected: invalid.expected,
            }
        })?;
        Ok(config)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|err| format!("# cannot render: {err}\n"))
    }

    /// Checks what types alone cannot: cross-references, ranges, roles.
    fn validate(&self) -> Result<(), Invalid> {
        if self.role().is_none() {
            return Err(Invalid::new(
                "lac",
                "a [lac] or [lns] section (or both, for a tunnel switch)",
            ));
        }
        self.validate_ppp()?;
        self.validate_l2tp()?;
        self.validate_radius()?;
        if let Some(lac) = &self.lac {
            self.validate_lac(lac)?;
        }
        if let Some(lns) = &self.lns {
            self.validate_lns(lns)?;
        }
        Ok(())
    }

    fn validate_ppp(&self) -> Result<(), Invalid> {
        let ppp = &self.ppp;
        if !(128..=9000).contains(&ppp.mru) {
            return Err(Invalid::new("ppp.mru", "an MRU between 128 and 9000"));
        }
        if ppp.auth_protocols.is_empty() {
            return Err(Invalid::new(
                "ppp.auth_protocols",
                "at least one of \"pap\", \"chap\", \"mschapv2\"",
            ));
        }
        for (i, p) in ppp.auth_protocols.iter().enumerate() {
            if ppp.auth_protocols[..i].contains(p) {
                return Err(Invalid::new(
                    "ppp.auth_protocols",
                    "each protocol at most once",
                ));
            }
        }
        for (key, value) in [
            ("ppp.max_configure", ppp.max_configure),
            ("ppp.max_terminate", ppp.max_terminate),
            ("ppp.max_failure", ppp.max_failure),
        ] {
            if value == 0 {
                return Err(Invalid::new(key, "a count of at least 1"));
            }
        }
        if ppp.restart_timer.get().is_zero() {
            return Err(Invalid::new("ppp.restart_timer", "a duration above 0s"));
        }
        Ok(())
    }

    fn validate_l2tp(&self) -> Result<(), Invalid> {
        let l2tp = &self.l2tp;
        if l2tp.receive_window == 0 {
            return Err(Invalid::new(
                "l2tp.receive_window",
                "a window of at least 1",
            ));
        }
        if l2tp.max_retransmits == 0 {
            return Err(Invalid::new("l2tp.max_retransmits", "at least 1"));
        }
        if l2tp.retransmit_initial.get().is_zero() {
            return Err(Invalid::new(
                "l2tp.retransmit_initial",
                "a duration above 0s",
            ));
        }
        if l2tp.retransmit_max < l2tp.retransmit_initial {
            return Err(Invalid::new(
                "l2tp.retransmit_max",
                "a duration at least l2tp.retransmit_initial",
            ));
        }
        if let Some(name) = &l2tp.host_name {
            if name.is_empty() {
                return Err(Invalid::new("l2tp.host_name", "a non-empty host name"));
            }
        }
        Ok(())
    }

    fn validate_radius(&self) -> Result<(), Invalid> {
        for (name, group) in &self.radius.groups {
            if group.servers.is_empty() {
                return Err(Invalid::new(
                    format!("radius.group.{name}.server"),
                    "at least one [[radius.group.NAME.server]]",
                ));
            }
            for (i, server) in group.servers.iter().enumerate() {
                if server.secret.is_empty() {
                    return Err(Invalid::new(
                        format!("radius.group.{name}.server.{i}.secret"),
                        "a non-empty shared secret",
                    ));
                }
                if server.weight == 0 {
                    return Err(Invalid::new(
                        format!("radius.group.{name}.server.{i}.weight"),
                        "a weight of at least 1",
                    ));
                }
            }
            if group.timeout.get().is_zero() {
                return Err(Invalid::new(
                    format!("radius.group.{name}.timeout"),
                    "a duration above 0s",
                ));
            }
            if group.dead_after == 0 {
                return Err(Invalid::new(
                    format!("radius.group.{name}.dead_after"),
                    "at least 1",
                ));
            }
        }
        if self.radius.local_fallback && self.radius.local_users.is_none() {
            return Err(Invalid::new(
                "radius.local_fallback",
                "radius.local_users to be set (there is nothing to fall back to)",
            ));
        }
        if self.radius.nas_port_id.is_empty() {
            return Err(Invalid::new(
                "radius.nas_port_id",
                "a template such as \"{interface}:{vlans}\"",
            ));
        }
        if let Some(dynauth) = &self.radius.dynauth {
            for (i, client) in dynauth.clients.iter().enumerate() {
                if client.secret.is_empty() {
                    return Err(Invalid::new(
                        format!("radius.dynauth.client.{i}.secret"),
                        "a non-empty shared secret",
                    ));
                }
            }
        }
        Ok(())
    }

    fn require_group(&self, key: &str, name: &str) -> Result<(), Invalid> {
        if name == "local" && self.radius.local_users.is_some() {
            return Ok(());
        }
        if self.radius.groups.contains_key(name) {
            Ok(())
        } else {
            let known: Vec<&str> = self.radius.groups.keys().map(String::as_str).collect();
            Err(Invalid::new(
                key,
                format!(
                    "the name of a [radius.group.NAME] section (`{name}` is not one; defined: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ))
        }
    }

    fn validate_lac(&self, lac: &Lac) -> Result<(), Invalid> {
        let Some(pppoe) = &self.pppoe else {
            return Err(Invalid::new(
                "pppoe",
                "a [pppoe] section with at least one [[pppoe.interface]] (the LAC's access side)",
            ));
        };
        if pppoe.interfaces.is_empty() {
            return Err(Invalid::new(
                "pppoe.interface",
                "at least one [[pppoe.interface]]",
            ));
        }
        for (i, interface) in pppoe.interfaces.iter().enumerate() {
            if interface.name.is_empty() || interface.name.len() > 15 {
                return Err(Invalid::new(
                    format!("pppoe.interface.{i}.name"),
                    "an interface name of 1 to 15 bytes",
                ));
            }
            if pppoe.interfaces[..i]
                .iter()
                .any(|o| o.name == interface.name)
            {
                return Err(Invalid::new(
                    format!("pppoe.interface.{i}.name"),
                    "each interface at most once",
                ));
            }
            Self::validate_vlan_rules(i, &interface.vlans)?;
        }
        if !(1492..=9000).contains(&pppoe.max_payload) {
            return Err(Invalid::new(
                "pppoe.max_payload",
                "a PPP-Max-Payload between 1492 and 9000",
            ));
        }
        if pppoe.pado_delay_max < pppoe.pado_delay {
            return Err(Invalid::new(
                "pppoe.pado_delay_max",
                "a duration at least pppoe.pado_delay",
            ));
        }
        if pppoe.cookie_lifetime.get().is_zero() {
            return Err(Invalid::new("pppoe.cookie_lifetime", "a duration above 0s"));
        }
        self.require_group("lac.auth_group", &lac.auth_group)?;
        self.require_group("lac.acct_group", &lac.acct_group)?;
        if lac.max_attempts == 0 {
            return Err(Invalid::new("lac.max_attempts", "at least 1"));
        }
        if lac.max_sessions_per_tunnel == 0 {
            return Err(Invalid::new("lac.max_sessions_per_tunnel", "at least 1"));
        }
        if !(1..=64).contains(&lac.workers) {
            return Err(Invalid::new(
                "lac.workers",
                "a number of workers from 1 to 64",
            ));
        }
        if !(1..=64).contains(&lac.max_tunnels_per_lns) {
            return Err(Invalid::new(
                "lac.max_tunnels_per_lns",
                "a number of tunnels from 1 to 64",
            ));
        }
        if lac.max_queued_calls == 0 {
            return Err(Invalid::new("lac.max_queued_calls", "at least 1"));
        }
        if lac.tunnel_setup_timeout.get().is_zero() {
            return Err(Invalid::new(
                "lac.tunnel_setup_timeout",
                "a duration above 0s",
            ));
        }
        let authorizes_domains = lac.authorize == Authorize::Domain
            || lac
                .realms
                .iter()
                .any(|r| r.authorize == Some(Authorize::Domain));
        if authorizes_domains && lac.authorize_password.expose().is_empty() {
            return Err(Invalid::new(
                "lac.authorize_password",
                "a non-empty password for domain authorization (lac.authorize or a \
                 [[lac.realm]] authorize is \"domain\")",
            ));
        }
        for (i, realm) in lac.realms.iter().enumerate() {
            match (&realm.domain, &realm.prefix) {
                (Some(d), None) if !d.is_empty() => {}
                (None, Some(p)) if !p.is_empty() => {}
                _ => {
                    return Err(Invalid::new(
                        format!("lac.realm.{i}"),
                        "exactly one of `domain` or `prefix`, non-empty",
                    ));
                }
            }
            if realm.endpoints.is_empty() && realm.authorize.is_none() {
                return Err(Invalid::new(
                    format!("lac.realm.{i}.lns"),
                    "at least one [[lac.realm.lns]] endpoint (or an `authorize` mode)",
                ));
            }
        }
        Ok(())
    }

    /// `[[pppoe.interface.vlan]]` rules of interface `i`.
    fn validate_vlan_rules(i: usize, rules: &[PppoeVlan]) -> Result<(), Invalid> {
        for (j, rule) in rules.iter().enumerate() {
            let key = format!("pppoe.interface.{i}.vlan.{j}");
            for (name, range) in [("svlan", rule.svlan), ("cvlan", rule.cvlan)] {
                if let Some(range) = range {
                    range
                        .check()
                        .map_err(|expected| Invalid::new(format!("{key}.{name}"), expected))?;
                }
            }
            if rule.refuse
                && (rule.service_names.is_some()
                    || rule.max_sessions.is_some()
                    || rule.nas_port_id.is_some())
            {
                return Err(Invalid::new(
                    format!("{key}.refuse"),
                    "no service_names, max_sessions or nas_port_id beside `refuse = true` \
                     (a refused VLAN gets no PADO, so they would never apply)",
                ));
            }
            if rule.max_sessions == Some(0) {
                return Err(Invalid::new(
                    format!("{key}.max_sessions"),
                    "at least 1 (to turn these VLANs away, use `refuse = true`)",
                ));
            }
            if rule.nas_port_id.as_deref() == Some("") {
                return Err(Invalid::new(
                    format!("{key}.nas_port_id"),
                    "a template such as \"{interface}:{svlan}.{cvlan}\"",
                ));
            }
            if let Some(k) = rules[..j]
                .iter()
                .position(|earlier| rule.covered_by(earlier))
            {
                return Err(Invalid::new(
                    key,
                    format!(
                        "a rule that can apply (pppoe.interface.{i}.vlan.{k} before it matches \
                         every frame this one matches, and the first match wins)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_lns(&self, lns: &Lns) -> Result<(), Invalid> {
        self.require_group("lns.auth_group", &lns.auth_group)?;
        self.require_group("lns.acct_group", &lns.acct_group)?;
        if lns.dns.len() > 2 {
            return Err(Invalid::new(
                "lns.dns",
                "at most two DNS servers (RFC 1877)",
            ));
        }
        if let Some(pool) = lns.address_pool {
            if pool.contains(&lns.local_address) {
                return Err(Invalid::new(
                    "lns.address_pool",
                    "a pool that does not contain lns.local_address",
                ));
            }
        }
        if lns.tun_name.is_empty() || lns.tun_name.len() > 15 {
            return Err(Invalid::new(
                "lns.tun_name",
                "an interface name of 1 to 15 bytes",
            ));
        }
        Ok(())
    }
}

/// A validation failure before it is given a source.
#[derive(Debug)]
struct Invalid {
    key: String,
    expected: String,
}

impl Invalid {
    fn new(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            expected: expected.into(),
        }
    }
}

/// Why a configuration could not be loaded. Every variant names where the
/// problem is (file or environment variable), the key and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be used at all.
    #[error("config file {}: {problem}", path.display())]
    File {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The TOML does not parse.
    #[error("config file {}: {message}", path.display())]
    Syntax {
        /// The path given.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value has the wrong type or form, or a key is unknown or missing.
    #[error("{origin}: key `{key}`: {problem}")]
    Value {
        /// `config file PATH` or `environment variable NAME`.
        origin: String,
        /// Dotted key path.
        key: String,
        /// What was found and what was expected.
        problem: String,
    },
    /// Values parse but do not make a usable configuration.
    #[error("{origin}: key `{key}`: expected {expected}")]
    Invalid {
        /// `config file PATH` or `environment variable NAME`.
        origin: String,
        /// Dotted key path.
        key: String,
        /// What was expected.
        expected: String,
    },
    /// Several problems at once.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Self>),
}

impl ConfigError {
    fn from_figment(path: &Path, err: figment::Error) -> Self {
        Self::from_figment_with(path, err, &[])
    }

    /// `env_names`: the `TUNNELNAS_` variables in use, without the prefix.
    fn from_figment_with(path: &Path, err: figment::Error, env_names: &[String]) -> Self {
        let mut all: Vec<Self> = err
            .into_iter()
            .map(|e| Self::from_one(path, e, env_names))
            .collect();
        if all.len() == 1 {
            all.remove(0)
        } else {
            Self::Many(all)
        }
    }

    fn from_one(path: &Path, err: figment::Error, env_names: &[String]) -> Self {
        use figment::error::Kind;
        let mut key_path = err.path.clone();
        let problem = match &err.kind {
            Kind::Message(msg) if err.metadata.is_none() && err.path.is_empty() => {
                // Provider failures (TOML syntax) carry no key.
                return Self::Syntax {
                    path: path.to_owned(),
                    message: msg.clone(),
                };
            }
            Kind::Message(msg) => msg.clone(),
            Kind::InvalidType(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidValue(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidLength(len, expected) => {
                format!("expected {expected}, found {len} elements")
            }
            Kind::UnknownVariant(found, allowed) => {
                format!("expected one of {}, found `{found}`", quote_list(allowed))
            }
            Kind::UnknownField(field, allowed) => {
                push_unless_last(&mut key_path, field);
                format!("unknown key; expected one of {}", quote_list(allowed))
            }
            Kind::MissingField(field) => {
                push_unless_last(&mut key_path, field);
                "missing; this key is required".to_owned()
            }
            Kind::DuplicateField(field) => {
                push_unless_last(&mut key_path, field);
                "given twice".to_owned()
            }
            other => format!("{other}"),
        };
        let key = key_path.join(".");
        let source = describe_source(path, err.metadata.as_ref(), &key, env_names);
        Self::Value {
            origin: source,
            key,
            problem,
        }
    }
}

/// figment sometimes includes the offending field in the path, sometimes not.
fn push_unless_last(path: &mut Vec<String>, field: &str) {
    if path.last().map(String::as_str) != Some(field) {
        path.push(field.to_owned());
    }
}

fn quote_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "nothing (no keys allowed here)".into();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `config file PATH` or `environment variable NAME` for an error at `key`.
///
/// figment tags a value with the provider that gave it; an array the
/// environment patches (`…__SERVER__0__SECRET`) is copied from the file
/// whole, so its other elements carry the environment's tag too. The
/// environment is named only when one of the variables in use (`env_names`,
/// without the prefix) is for `key` itself; figment's own errors name keys
/// without array indices, so a variable also matches with its indices left
/// out.
fn describe_source(
    path: &Path,
    metadata: Option<&Metadata>,
    key: &str,
    env_names: &[String],
) -> String {
    let from_env = metadata.is_some_and(|meta| meta.name == EnvOverrides::NAME);
    let key_parts: Vec<&str> = key.split('.').filter(|k| !k.is_empty()).collect();
    let matching: Vec<String> = env_names
        .iter()
        .filter(|name| {
            let parts: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            let same = |parts: &mut dyn Iterator<Item = &String>| {
                parts.map(String::as_str).eq(key_parts.iter().copied())
            };
            same(&mut parts.iter())
                || same(&mut parts.iter().filter(|p| p.parse::<usize>().is_err()))
        })
        .map(|name| format!("{ENV_PREFIX}{name}"))
        .collect();
    if from_env && !matching.is_empty() {
        format!("environment variable {}", matching.join(" or "))
    } else {
        format!("config file {}", path.display())
    }
}

/// Like [`Figment::find_metadata`], but `key` may index into arrays
/// (`pppoe.interface.0.vlan.1.cvlan`), as validation names keys.
fn find_metadata<'a>(figment: &'a Figment, key: &str) -> Option<&'a Metadata> {
    let mut keys = key.split('.');
    let mut value = figment.find_value(keys.next()?).ok()?;
    for k in keys {
        value = match value {
            Value::Dict(_, mut dict) => dict.remove(k)?,
            Value::Array(_, mut items) => {
                let index = k.parse::<usize>().ok().filter(|&i| i < items.len())?;
                items.swap_remove(index)
            }
            _ => return None,
        };
    }
    figment.get_metadata(value.tag())
}

/// The `TUNNELNAS_` environment as a figment provider.
///
/// figment's own `Env` parses `0123` as the integer 123, which would
/// silently change a secret; this provider keeps a value as a string unless
/// its typed form prints back to exactly the same text.
#[derive(Debug, Clone)]
struct EnvOverrides {
    vars: Vec<(String, String)>,
    /// The file's data, to address array elements by index.
    base: Dict,
}

impl EnvOverrides {
    const NAME: &'static str = "environment variable";

    fn collect(env: impl IntoIterator<Item = (String, String)>, base: Dict) -> Self {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(ENV_PREFIX)?;
                (!rest.is_empty()).then(|| (rest.to_owned(), value))
            })
            .collect();
        vars.sort();
        Self { vars, base }
    }

    fn typed(raw: &str) -> Value {
        let parsed: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.to_owned()));
        let round_trips = match &parsed {
            Value::Num(_, num) => {
                let printed = if let Some(u) = num.to_u128() {
                    u.to_string()
                } else if let Some(i) = num.to_i128() {
                    i.to_string()
                } else {
                    num.to_f64().map(|f| f.to_string()).unwrap_or_default()
                };
                printed == raw
            }
            Value::Bool(_, b) => b.to_string() == raw,
            Value::String(..) | Value::Char(..) => true,
            // Arrays and tables written inline (`[1, 2]`, `{a = 1}`).
            Value::Array(..) | Value::Dict(..) => true,
            Value::Empty(..) => false,
        };
        if round_trips {
            parsed
        } else {
            Value::from(raw.to_owned())
        }
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(Self::NAME).interpolater(|_profile, keys| {
            let joined: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("{ENV_PREFIX}{}", joined.join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (name, raw) in &self.vars {
            let keys: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            if keys.iter().any(String::is_empty) {
                return Err(figment::Error::from(format!(
                    "environment variable {ENV_PREFIX}{name}: empty key segment (use `__` between keys)"
                )));
            }
            insert_nested(&mut root, Some(&self.base), &keys, Self::typed(raw));
        }
        Ok(Profile::Default.collect(root))
    }
}

/// Inserts `value` at `keys`, creating tables on the way. A numeric key
/// addresses an element of an array the file defines (`…__SERVER__0__SECRET`):
/// the file's array is copied into the override once and the element patched.
fn insert_nested(dict: &mut Dict, base: Option<&Dict>, keys: &[String], value: Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let base_here = base.and_then(|b| b.get(first));
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| match base_here {
            Some(array @ Value::Array(..)) => array.clone(),
            _ => Value::from(Dict::new()),
        });
    match entry {
        Value::Array(_, items) => {
            let index = rest[0].parse::<usize>().ok().filter(|&i| i < items.len());
            match (index, &rest[1..]) {
                (Some(i), []) => items[i] = value,
                (Some(i), deeper) => {
                    if let Value::Dict(_, element) = &mut items[i] {
                        let base_element = match base_here {
                            Some(Value::Array(_, base_items)) => match base_items.get(i) {
                                Some(Value::Dict(_, d)) => Some(d.clone()),
                                _ => None,
                            },
                            _ => None,
                        };
                        insert_nested(element, base_element.as_ref(), deeper, value);
                    }
                }
                // Not an index into the file's array: replace it, and let
                // deserialisation report the type mismatch with this source.
                (None, _) => {
                    let mut fresh = Dict::new();
                    insert_nested(&mut fresh, None, rest, value);
                    *entry = Value::from(fresh);
                }
            }
        }
        Value::Dict(_, inner) => {
            let base_inner = match base_here {
                Some(Value::Dict(_, d)) => Some(d),
                _ => None,
            };
            insert_nested(inner, base_inner, rest, value);
        }
        other => {
            let mut fresh = Dict::new();
            insert_nested(&mut fresh, None, rest, value);
            *other = Value::from(fresh);
        }
    }
}

#[cfg(test)]
mod tests;
