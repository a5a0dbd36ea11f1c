//! `[lns]` and `[[lns.peer]]`: the L2TP network server — RADIUS groups,
//! the LACs allowed to open tunnels, IPCP addresses and DNS, the TUN
//! device, and what to do with the LAC's proxy LCP and authentication.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::Secret;

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
    /// Tunnels the peers of this rule may hold at once; a further SCCRQ is
    /// refused (StopCCN, result 2, error 4 "insufficient resources").
    /// Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tunnels: Option<u32>,
}

impl Config {
    pub(super) fn validate_lns(&self, lns: &Lns) -> Result<(), Invalid> {
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
