//! `[radius]` and its tables: NAS identity attributes (NAS-IP-Address,
//! NAS-Port-Id template, Calling-Station-Id format [`MacFormat`]), local
//! users, the dictionary, server groups (`[radius.group.NAME]` with their
//! servers, strategy, timeouts and dead-server detection), accounting
//! (`[radius.accounting]`) and the RFC 5176 listener (`[radius.dynauth]`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::{Duration, Secret};

/// Formats a MAC address for Calling-Station-Id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacFormat {
    /// `AA-BB-CC-DD-EE-FF` (RFC 3580 §3.21, IEEE 802 canonical).
    #[default]
    Ietf,
    /// `aa:bb:cc:dd:ee:ff`.
    Colon,
    /// `aabb.ccdd.eeff` (Cisco).
    Dotted,
    /// `aabbccddeeff`.
    Bare,
}

impl MacFormat {
    /// Renders `mac` in this format.
    #[must_use]
    pub fn render(self, mac: [u8; 6]) -> String {
        let [a, b, c, d, e, f] = mac;
        match self {
            Self::Ietf => format!("{a:02X}-{b:02X}-{c:02X}-{d:02X}-{e:02X}-{f:02X}"),
            Self::Colon => format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}"),
            Self::Dotted => format!("{a:02x}{b:02x}.{c:02x}{d:02x}.{e:02x}{f:02x}"),
            Self::Bare => format!("{a:02x}{b:02x}{c:02x}{d:02x}{e:02x}{f:02x}"),
        }
    }
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

impl Config {
    pub(super) fn validate_radius(&self) -> Result<(), Invalid> {
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

    pub(super) fn require_group(&self, key: &str, name: &str) -> Result<(), Invalid> {
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
}
