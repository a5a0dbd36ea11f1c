//! `[lns]`, `[[lns.peer]]` and `[[lns.pool]]`: the L2TP network server —
//! RADIUS groups, the LACs allowed to open tunnels, the address pools,
//! IPCP addresses and DNS, the TUN device, and what to do with the LAC's
//! proxy LCP and authentication.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::Secret;

/// What the LNS does with the LAC's proxy LCP AVPs (RFC 2661 §4.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyLcpPolicy {
    /// Adopt them when acceptable to us, renegotiate otherwise.
    Accept,
    /// Always renegotiate LCP with the subscriber.
    Renegotiate,
    /// Adopt them when acceptable, refuse the call otherwise.
    RejectIfUnacceptable,
}

/// What the LNS does with the LAC's proxy authentication AVPs (RFC 2661
/// §4.4.5). MS-CHAPv2 has no proxy form and is always re-challenged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyAuthPolicy {
    /// Verify the proxied PAP / CHAP credentials with RADIUS.
    Verify,
    /// Ignore them and send our own CHAP challenge.
    LocalChap,
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
    /// Address pools (`[[lns.pool]]`), named by RADIUS's Framed-Pool.
    #[serde(rename = "pool")]
    pub pools: Vec<LnsPool>,
    /// IPv6 prefix pools (`[[lns.ipv6_pool]]`), named by RADIUS's
    /// Framed-IPv6-Pool (RFC 3162 §2.6) and Delegated-IPv6-Prefix-Pool
    /// (RFC 6911 §3.4).
    #[serde(rename = "ipv6_pool", skip_serializing_if = "Vec::is_empty")]
    pub ipv6_pools: Vec<LnsIpv6Pool>,
    /// The pool of users RADIUS gives neither Framed-IP-Address nor
    /// Framed-Pool, when their `[[lns.peer]]` names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_pool: Option<String>,
    /// DNS servers offered in IPCP (RFC 1877), at most two.
    pub dns: Vec<Ipv4Addr>,
    /// TUN device name. Default `tnlns0`.
    pub tun_name: String,
    /// Proxy LCP policy: `accept` (default), `renegotiate`,
    /// `reject-if-unacceptable`; a `[[lns.peer]]` may override it.
    pub proxy_lcp: ProxyLcpPolicy,
    /// Proxy authentication policy: `verify` (default) or `local-chap`; a
    /// `[[lns.peer]]` may override it.
    pub proxy_auth: ProxyAuthPolicy,
    /// Clamp the MSS of TCP SYNs both ways to this (0: off).
    pub tcp_mss: u16,
}

impl Default for Lns {
    fn default() -> Self {
        Self {
            auth_group: "default".into(),
            acct_group: "default".into(),
            peers: Vec::new(),
            local_address: Ipv4Addr::new(10, 255, 255, 1),
            pools: Vec::new(),
            ipv6_pools: Vec::new(),
            default_pool: None,
            dns: Vec::new(),
            tun_name: "tnlns0".into(),
            proxy_lcp: ProxyLcpPolicy::Accept,
            proxy_auth: ProxyAuthPolicy::Verify,
            tcp_mss: 0,
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
    /// The pool of this rule's users when RADIUS names none (else
    /// `[lns] default_pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Tunnels the peers of this rule may hold at once; a further SCCRQ is
    /// refused (StopCCN, result 2, error 4 "insufficient resources").
    /// Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tunnels: Option<u32>,
    /// Hide the subscriber AVPs (RFC 2661 §4.3) on this rule's tunnels
    /// (default: `[l2tp] hide_avps`); needs a `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_avps: Option<bool>,
    /// Sessions the rule's tunnels may carry at once; a further ICRQ is
    /// refused (CDN result 4). Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// This rule's proxy LCP policy (default: `[lns] proxy_lcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_lcp: Option<ProxyLcpPolicy>,
    /// This rule's proxy authentication policy (default: `[lns]
    /// proxy_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_auth: Option<ProxyAuthPolicy>,
    /// Authentication methods offered to this rule's subscribers when the
    /// LNS authenticates, in order of precedence (default: `[ppp]
    /// auth_protocols`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_protocols: Option<Vec<super::AuthProtocol>>,
}

/// `[[lns.pool]]`: a named IPv4 address pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnsPool {
    /// Its name (RADIUS Framed-Pool, `default_pool`, `[[lns.peer]] pool`).
    pub name: String,
    /// Its prefixes, e.g. `["10.64.0.0/16"]`; handed out in order. The
    /// network and broadcast addresses of prefixes shorter than /31 and
    /// `lns.local_address` are never handed out.
    pub networks: Vec<Ipv4Net>,
}

/// `[[lns.ipv6_pool]]`: a named IPv6 prefix pool, `prefix` carved into
/// prefixes of `length` bits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnsIpv6Pool {
    /// Its name (RADIUS Framed-IPv6-Pool or Delegated-IPv6-Prefix-Pool).
    pub name: String,
    /// The prefix carved up, e.g. `"2001:db8:100::/40"`.
    pub prefix: Ipv6Net,
    /// Length of the prefixes handed out: e.g. 56 for delegation, 64 for
    /// the prefix advertised on the link. From the prefix's length to 64,
    /// and at most 32 more than it (2^32 prefixes).
    pub length: u8,
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
        validate_pools(lns)?;
        validate_ipv6_pools(lns)?;
        if lns.tun_name.is_empty() || lns.tun_name.len() > 15 {
            return Err(Invalid::new(
                "lns.tun_name",
                "an interface name of 1 to 15 bytes",
            ));
        }
        Ok(())
    }
}

/// Pool names unique and known wherever they are named; prefixes that
/// overlap nowhere (an address belongs to one pool only).
fn validate_pools(lns: &Lns) -> Result<(), Invalid> {
    let mut seen: Vec<(&str, Ipv4Net)> = Vec::new();
    for (index, pool) in lns.pools.iter().enumerate() {
        let key = format!("lns.pool[{index}]");
        if pool.name.is_empty() {
            return Err(Invalid::new(format!("{key}.name"), "a non-empty name"));
        }
        if lns.pools[..index].iter().any(|p| p.name == pool.name) {
            return Err(Invalid::new(
                format!("{key}.name"),
                format!("a name no other pool has ({:?} is taken)", pool.name),
            ));
        }
        if pool.networks.is_empty() {
            return Err(Invalid::new(
                format!("{key}.networks"),
                "at least one IPv4 prefix",
            ));
        }
        for network in &pool.networks {
            if let Some((other, _)) = seen
                .iter()
                .find(|(_, n)| n.contains(network) || network.contains(n))
            {
                return Err(Invalid::new(
                    format!("{key}.networks"),
                    format!(
                        "prefixes that overlap no other pool's ({network} overlaps pool {other:?})"
                    ),
                ));
            }
            seen.push((&pool.name, *network));
        }
    }
    let known = |name: &str| lns.pools.iter().any(|p| p.name == name);
    if let Some(name) = lns.default_pool.as_deref().filter(|n| !known(n)) {
        return Err(Invalid::new(
            "lns.default_pool",
            format!("the name of a [[lns.pool]] ({name:?} is none)"),
        ));
    }
    for (index, peer) in lns.peers.iter().enumerate() {
        if let Some(name) = peer.pool.as_deref().filter(|n| !known(n)) {
            return Err(Invalid::new(
                format!("lns.peer[{index}].pool"),
                format!("the name of a [[lns.pool]] ({name:?} is none)"),
            ));
        }
    }
    Ok(())
}

/// A pool holds at most 2^32 prefixes (`lns::pool6::MAX_POOL_BITS`; the
/// configuration is a leaf module and repeats the figure).
const IPV6_POOL_MAX_BITS: u8 = 32;

/// IPv6 pool names unique; prefixes without host bits that overlap no
/// other IPv6 pool's; lengths a delegated or SLAAC prefix can have.
fn validate_ipv6_pools(lns: &Lns) -> Result<(), Invalid> {
    for (index, pool) in lns.ipv6_pools.iter().enumerate() {
        let key = format!("lns.ipv6_pool[{index}]");
        if pool.name.is_empty() {
            return Err(Invalid::new(format!("{key}.name"), "a non-empty name"));
        }
        if lns.ipv6_pools[..index].iter().any(|p| p.name == pool.name) {
            return Err(Invalid::new(
                format!("{key}.name"),
                format!("a name no other IPv6 pool has ({:?} is taken)", pool.name),
            ));
        }
        if pool.prefix != pool.prefix.trunc() {
            return Err(Invalid::new(
                format!("{key}.prefix"),
                format!(
                    "a prefix without host bits ({} has some; {} has none)",
                    pool.prefix,
                    pool.prefix.trunc()
                ),
            ));
        }
        let prefix_len = pool.prefix.prefix_len();
        if pool.length < prefix_len {
            return Err(Invalid::new(
                format!("{key}.length"),
                format!("a length of at least the prefix's ({prefix_len})"),
            ));
        }
        if pool.length > 64 {
            return Err(Invalid::new(
                format!("{key}.length"),
                "at most 64 (delegated and SLAAC prefixes are /64 or shorter)",
            ));
        }
        if pool.length - prefix_len > IPV6_POOL_MAX_BITS {
            return Err(Invalid::new(
                format!("{key}.length"),
                format!(
                    "at most {IPV6_POOL_MAX_BITS} more than the prefix's length \
                     (2^{IPV6_POOL_MAX_BITS} prefixes per pool)"
                ),
            ));
        }
        if let Some(other) = lns.ipv6_pools[..index]
            .iter()
            .find(|p| p.prefix.contains(&pool.prefix) || pool.prefix.contains(&p.prefix))
        {
            return Err(Invalid::new(
                format!("{key}.prefix"),
                format!(
                    "a prefix that overlaps no other IPv6 pool's ({} overlaps pool {:?})",
                    pool.prefix, other.name
                ),
            ));
        }
    }
    Ok(())
}
