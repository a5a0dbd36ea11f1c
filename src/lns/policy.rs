//! The LNS role's policy (DESIGN.md, "Three roles, one session model"):
//! what the node core does with an incoming L2TP call whose PPP ends here.
//! It owns no sockets and no session maps; the node core asks it.
//!
//! - **Admission** of a call (RFC 2661 §7.5, ICRQ): the `[[lns.peer]]` rule
//!   that admitted the tunnel may cap its sessions; a call beyond the cap
//!   is refused with CDN result 4 "temporary lack of resources"
//!   (§4.4.2), counted, and costs nothing else.
//! - **Proxy LCP and authentication** (RFC 2661 §4.4.5, §18): per rule,
//!   `proxy_lcp` is `accept` (adopt the LAC's LCP when it is acceptable to
//!   us, else renegotiate), `renegotiate` (always), or
//!   `reject-if-unacceptable` (refuse the call); `proxy_auth` is `verify`
//!   (check the proxied PAP/CHAP credentials with RADIUS) or `local-chap`
//!   (ignore them and send our own CHAP challenge). MS-CHAPv2 has no proxy
//!   form in RFC 2661 and is always re-challenged.
//! - **Addresses** (RFC 2865 §5.8, RFC 2869 §5.18): Framed-IP-Address,
//!   else the pool Framed-Pool names, else the rule's pool, else
//!   `[lns] default_pool`; every address is leased from [`Pools`] (a
//!   Framed-IP-Address inside a pool is reserved there, so no two sessions
//!   share one) and released at session end.
//! - **DNS** for IPCP (RFC 1877): the Access-Accept's MS-Primary/
//!   Secondary-DNS-Server (RFC 2548 §2.6), else `[lns] dns`.

use std::net::Ipv4Addr;

use crate::aaa::attributes::AcceptAttributes;
use ipnet::Ipv6Net;

use crate::lns::pool::{PoolConfig, PoolError, PoolStats, Pools};
use crate::lns::pool6::{Ipv6PoolConfig, Ipv6PoolStats, Ipv6Pools, Lease6, Pool6Error};
use crate::ppp::auth::AuthMethod;

/// What to do with the LAC's proxy LCP (RFC 2661 §4.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyLcp {
    /// Adopt it when acceptable to us; renegotiate otherwise.
    #[default]
    Accept,
    /// Always renegotiate LCP with the subscriber.
    Renegotiate,
    /// Adopt it when acceptable; refuse the call otherwise.
    RejectIfUnacceptable,
}

impl ProxyLcp {
    /// Label for metrics and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Renegotiate => "renegotiate",
            Self::RejectIfUnacceptable => "reject-if-unacceptable",
        }
    }
}

/// What to do with the LAC's proxy authentication (RFC 2661 §4.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyAuth {
    /// Verify the proxied PAP / CHAP credentials with RADIUS.
    #[default]
    Verify,
    /// Ignore them: challenge the subscriber ourselves (CHAP).
    LocalChap,
}

impl ProxyAuth {
    /// Label for metrics and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::LocalChap => "local-chap",
        }
    }
}

/// One `[[lns.peer]]` rule, as far as sessions are concerned (the
/// endpoint holds its network, host name, secret and tunnel limit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerRule {
    /// A name for logs and metrics (the rule's network or host name).
    pub name: String,
    /// Its users' pool when RADIUS names none.
    pub pool: Option<String>,
    /// Sessions the rule's tunnels may carry at once (`None`: no limit).
    pub max_sessions: Option<u32>,
    /// Proxy LCP policy.
    pub proxy_lcp: ProxyLcp,
    /// Proxy authentication policy.
    pub proxy_auth: ProxyAuth,
    /// Authentication methods offered when we authenticate, in order of
    /// precedence (`None`: the `[ppp]` list).
    pub auth_methods: Option<Vec<AuthMethod>>,
}

/// Where a subscriber's address came from (stated in the session view and
/// in logs; RFC 2865 §5.8 Framed-IP-Address, RFC 2869 §5.18 Framed-Pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressSource {
    /// RADIUS's Framed-IP-Address.
    Radius,
    /// The local pool RADIUS's Framed-Pool names.
    FramedPool(String),
    /// The peer's (or the LNS's) default pool.
    DefaultPool(String),
}

impl AddressSource {
    /// Short text for the API and logs.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Radius => "radius:Framed-IP-Address".into(),
            Self::FramedPool(name) => format!("pool:{name} (Framed-Pool)"),
            Self::DefaultPool(name) => format!("pool:{name} (default)"),
        }
    }
}

/// The LNS policy's configuration (`node::convert::lns_policy_config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnsPolicyConfig {
    /// `[[lns.peer]]` rules, in the endpoint's order.
    pub rules: Vec<PeerRule>,
    /// `[lns] default_pool`.
    pub default_pool: Option<String>,
    /// `[lns] local_address`: ours on every PPP link.
    pub local_address: Ipv4Addr,
    /// `[lns] dns`: at most two.
    pub dns: Vec<Ipv4Addr>,
    /// `[[lns.pool]]`.
    pub pools: Vec<PoolConfig>,
    /// `[[lns.ipv6_pool]]`.
    pub ipv6_pools: Vec<Ipv6PoolConfig>,
    /// RADIUS group for Access-Requests.
    pub auth_group: String,
    /// RADIUS group for accounting.
    pub acct_group: String,
}

/// Why a call was refused at admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallRefusal {
    /// The rule's `max_sessions` is reached.
    #[error("the peer rule's max_sessions is reached")]
    SessionLimit,
}

/// An IPv4 address leased for a session, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Lease {
    /// The subscriber's address.
    pub address: Ipv4Addr,
    /// Its source.
    pub source: AddressSource,
    /// The address is in no pool: the TUN device needs a host route for
    /// it (pools are routed as a whole at start).
    pub needs_route: bool,
}

/// Why a subscriber got no IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No Framed-IP-Address, no Framed-Pool, and no default pool.
    #[error("RADIUS gave no Framed-IP-Address or Framed-Pool and no default pool is set")]
    NoSource,
    /// The pool refused.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// A subscriber's IPv6 prefixes (RFC 3162 §2.3 Framed-IPv6-Prefix or
/// RFC 3162 §2.6 Framed-IPv6-Pool; RFC 4818 Delegated-IPv6-Prefix or RFC
/// 6911 §3.4 Delegated-IPv6-Prefix-Pool), leased until released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv6Lease {
    /// The prefix advertised on the link for SLAAC.
    pub prefix: Option<Ipv6Net>,
    /// The prefix delegated with DHCPv6.
    pub delegated: Option<Ipv6Net>,
}

/// The LNS policy: admission, proxy decisions, addresses.
#[derive(Debug)]
pub struct LnsPolicy {
    config: LnsPolicyConfig,
    pools: Pools,
    ipv6_pools: Ipv6Pools,
    sessions_per_rule: Vec<u32>,
}

/// RFC 2865 §5.8: 255.255.255.254 asks the NAS to choose the address
/// (from a pool); 255.255.255.255 lets the user choose, which an LNS
/// cannot honour safely — both are taken as "no Framed-IP-Address".
const NAS_SELECTS: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 254);

impl LnsPolicy {
    /// A policy for `config`, with empty pools.
    #[must_use]
    pub fn new(config: LnsPolicyConfig) -> Self {
        let pools = Pools::new(config.pools.clone(), Some(config.local_address));
        let ipv6_pools = Ipv6Pools::new(config.ipv6_pools.clone());
        Self {
            ipv6_pools,
            sessions_per_rule: vec![0; config.rules.len()],
            pools,
            config,
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &LnsPolicyConfig {
        &self.config
    }

    /// Rule `index` (a default rule when the index is unknown).
    #[must_use]
    pub fn rule(&self, index: Option<usize>) -> PeerRule {
        index
            .and_then(|i| self.config.rules.get(i))
            .cloned()
            .unwrap_or_default()
    }

    /// An incoming call on a tunnel of rule `rule`: admitted (and counted
    /// until [`Self::call_ended`]) or refused.
    pub fn admit_call(&mut self, rule: Option<usize>) -> Result<(), CallRefusal> {
        let Some(index) = rule else {
            return Ok(());
        };
        let limit = self.config.rules.get(index).and_then(|r| r.max_sessions);
        let Some(count) = self.sessions_per_rule.get_mut(index) else {
            return Ok(());
        };
        if limit.is_some_and(|max| *count >= max) {
            return Err(CallRefusal::SessionLimit);
        }
        *count += 1;
        Ok(())
    }

    /// A call admitted by [`Self::admit_call`] ended.
    pub fn call_ended(&mut self, rule: Option<usize>) {
        if let Some(count) = rule.and_then(|i| self.sessions_per_rule.get_mut(i)) {
            *count = count.saturating_sub(1);
        }
    }

    /// Sessions per rule (name, count), for metrics.
    #[must_use]
    pub fn sessions_per_rule(&self) -> Vec<(String, u32)> {
        self.config
            .rules
            .iter()
            .zip(&self.sessions_per_rule)
            .map(|(rule, count)| (rule.name.clone(), *count))
            .collect()
    }

    /// Leases the subscriber's IPv4 address for `accept`, on a tunnel of
    /// rule `rule` (module docs for the order).
    pub fn lease_ipv4(
        &mut self,
        rule: Option<usize>,
        accept: &AcceptAttributes,
    ) -> Result<Ipv4Lease, AddressError> {
        if let Some(address) = accept
            .framed_ip_address
            .filter(|a| *a != NAS_SELECTS && !a.is_broadcast())
        {
            let lease = self.pools.reserve(address)?;
            return Ok(Ipv4Lease {
                address,
                source: AddressSource::Radius,
                needs_route: lease == crate::lns::pool::Lease::Static,
            });
        }
        if let Some(name) = &accept.framed_pool {
            let address = self.pools.allocate(name)?;
            return Ok(Ipv4Lease {
                address,
                source: AddressSource::FramedPool(name.clone()),
                needs_route: false,
            });
        }
        let name = rule
            .and_then(|i| self.config.rules.get(i))
            .and_then(|r| r.pool.clone())
            .or_else(|| self.config.default_pool.clone())
            .ok_or(AddressError::NoSource)?;
        let address = self.pools.allocate(&name)?;
        Ok(Ipv4Lease {
            address,
            source: AddressSource::DefaultPool(name),
            needs_route: false,
        })
    }

    /// Gives a leased address back.
    pub fn release_ipv4(&mut self, address: Ipv4Addr) {
        self.pools.release(address);
    }

    /// Leases the subscriber's IPv6 prefixes for `accept`: each from
    /// RADIUS (reserved in its pool when it falls in one) or from the pool
    /// RADIUS names. A prefix that cannot be had is left out, with its
    /// error: the session keeps its IPv4 service (and the other prefix).
    pub fn lease_ipv6(&mut self, accept: &AcceptAttributes) -> (Ipv6Lease, Vec<Pool6Error>) {
        let mut errors = Vec::new();
        let mut lease = Ipv6Lease::default();
        let mut one = |pools: &mut Ipv6Pools,
                       fixed: Option<(std::net::Ipv6Addr, u8)>,
                       pool: Option<&String>|
         -> Option<Ipv6Net> {
            let result = match (fixed, pool) {
                (Some((address, len)), _) => Ipv6Net::new(address, len)
                    .map_err(|_| {
                        Pool6Error::Unusable(Ipv6Net::new(address, 128).unwrap_or_default())
                    })
                    .and_then(|net| pools.reserve(net).map(|_: Lease6| net)),
                (None, Some(name)) => pools.allocate(name),
                (None, None) => return None,
            };
            result.map_err(|error| errors.push(error)).ok()
        };
        lease.prefix = one(
            &mut self.ipv6_pools,
            accept.framed_ipv6_prefix,
            accept.framed_ipv6_pool.as_ref(),
        );
        lease.delegated = one(
            &mut self.ipv6_pools,
            accept.delegated_ipv6_prefix,
            accept.delegated_ipv6_prefix_pool.as_ref(),
        );
        (lease, errors)
    }

    /// Gives a leased IPv6 prefix back.
    pub fn release_ipv6(&mut self, prefix: Ipv6Net) {
        self.ipv6_pools.release(prefix);
    }

    /// Every IPv6 pool's figures.
    #[must_use]
    pub fn ipv6_pool_stats(&self) -> Vec<Ipv6PoolStats> {
        self.ipv6_pools.stats()
    }

    /// DNS servers for IPCP (RFC 1877): RADIUS's, else the configured.
    #[must_use]
    pub fn dns(&self, accept: &AcceptAttributes) -> Option<(Ipv4Addr, Option<Ipv4Addr>)> {
        let list = if accept.dns.is_empty() {
            &self.config.dns
        } else {
            &accept.dns
        };
        list.first().map(|first| (*first, list.get(1).copied()))
    }

    /// Every pool's figures.
    #[must_use]
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.pools.stats()
    }

    /// A reload: pools may grow or be added; leases survive.
    pub fn reconfigure_pools(&mut self, pools: Vec<PoolConfig>) {
        self.pools.reconfigure(pools.clone());
        self.config.pools = pools;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LnsPolicy {
        LnsPolicy::new(LnsPolicyConfig {
            rules: vec![
                PeerRule {
                    name: "lacs".into(),
                    pool: Some("business".into()),
                    max_sessions: Some(2),
                    ..PeerRule::default()
                },
                PeerRule {
                    name: "anyone".into(),
                    ..PeerRule::default()
                },
            ],
            default_pool: Some("residential".into()),
            local_address: Ipv4Addr::new(10, 255, 255, 1),
            dns: vec![Ipv4Addr::new(10, 0, 0, 53)],
            pools: vec![
                PoolConfig {
                    name: "residential".into(),
                    networks: vec!["10.64.0.0/30".parse().expect("net")],
                },
                PoolConfig {
                    name: "business".into(),
                    networks: vec!["10.65.0.0/24".parse().expect("net")],
                },
            ],
            ipv6_pools: vec![Ipv6PoolConfig {
                name: "pd".into(),
                prefix: "2001:db8:100::/48".parse().expect("net"),
                length: 56,
            }],
            auth_group: "default".into(),
            acct_group: "default".into(),
        })
    }

    #[test]
    fn ipv6_prefixes_come_from_radius_or_the_named_pool_and_go_back() {
        let mut policy = policy();
        let accept = AcceptAttributes {
            framed_ipv6_prefix: Some(("2001:db8:1:1::".parse().expect("addr"), 64)),
            delegated_ipv6_prefix_pool: Some("pd".into()),
            ..AcceptAttributes::default()
        };
        let (lease, errors) = policy.lease_ipv6(&accept);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            lease.prefix,
            Some("2001:db8:1:1::/64".parse().expect("net"))
        );
        let delegated = lease.delegated.expect("a /56 from the pool");
        assert_eq!(delegated.prefix_len(), 56);
        // The same static prefix twice is refused, the pool gives another.
        let (again, errors) = policy.lease_ipv6(&accept);
        assert_eq!(again.prefix, None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_ne!(again.delegated, Some(delegated));
        // An unknown pool is an error, not a refused session.
        let unknown = AcceptAttributes {
            framed_ipv6_pool: Some("nowhere".into()),
            ..AcceptAttributes::default()
        };
        let (lease, errors) = policy.lease_ipv6(&unknown);
        assert_eq!(lease, Ipv6Lease::default());
        assert_eq!(errors, vec![Pool6Error::UnknownPool("nowhere".into())]);
        policy.release_ipv6(delegated);
        assert_eq!(policy.ipv6_pool_stats()[0].used, 1);
    }

    #[test]
    fn addresses_come_from_radius_then_framed_pool_then_the_rule_then_the_default() {
        let mut policy = policy();
        let radius = AcceptAttributes {
            framed_ip_address: Some(Ipv4Addr::new(192, 0, 2, 7)),
            framed_pool: Some("business".into()),
            ..AcceptAttributes::default()
        };
        let lease = policy.lease_ipv4(Some(1), &radius).expect("static");
        assert_eq!(lease.address, Ipv4Addr::new(192, 0, 2, 7));
        assert_eq!(lease.source, AddressSource::Radius);
        assert!(lease.needs_route, "192.0.2.7 is in no pool");
        // The same static address twice is refused.
        assert!(matches!(
            policy.lease_ipv4(Some(1), &radius),
            Err(AddressError::Pool(PoolError::InUse(_)))
        ));
        let pool = AcceptAttributes {
            framed_pool: Some("business".into()),
            ..AcceptAttributes::default()
        };
        let lease = policy.lease_ipv4(Some(1), &pool).expect("framed pool");
        assert_eq!(lease.source, AddressSource::FramedPool("business".into()));
        let nothing = AcceptAttributes::default();
        let lease = policy.lease_ipv4(Some(0), &nothing).expect("rule pool");
        assert_eq!(lease.source, AddressSource::DefaultPool("business".into()));
        let lease = policy.lease_ipv4(Some(1), &nothing).expect("default pool");
        assert_eq!(
            lease.source,
            AddressSource::DefaultPool("residential".into())
        );
        // NAS-selects is no address of its own.
        let nas_selects = AcceptAttributes {
            framed_ip_address: Some(NAS_SELECTS),
            ..AcceptAttributes::default()
        };
        let lease = policy.lease_ipv4(None, &nas_selects).expect("default");
        assert_eq!(
            lease.source,
            AddressSource::DefaultPool("residential".into())
        );
    }

    #[test]
    fn an_exhausted_pool_refuses_with_its_name_and_a_release_makes_room() {
        let mut policy = policy();
        let nothing = AcceptAttributes::default();
        // 10.64.0.0/30 has two usable addresses.
        let first = policy.lease_ipv4(None, &nothing).expect("one");
        policy.lease_ipv4(None, &nothing).expect("two");
        let error = policy.lease_ipv4(None, &nothing).expect_err("full");
        assert_eq!(error.to_string(), "pool \"residential\" is exhausted");
        policy.release_ipv4(first.address);
        assert!(policy.lease_ipv4(None, &nothing).is_ok());
    }

    #[test]
    fn calls_beyond_a_rule_s_session_limit_are_refused_until_one_ends() {
        let mut policy = policy();
        assert!(policy.admit_call(Some(0)).is_ok());
        assert!(policy.admit_call(Some(0)).is_ok());
        assert_eq!(policy.admit_call(Some(0)), Err(CallRefusal::SessionLimit));
        assert!(policy.admit_call(Some(1)).is_ok());
        policy.call_ended(Some(0));
        assert!(policy.admit_call(Some(0)).is_ok());
        assert_eq!(
            policy.sessions_per_rule(),
            vec![("lacs".into(), 2), ("anyone".into(), 1)]
        );
    }

    #[test]
    fn dns_from_radius_before_the_configuration() {
        let policy = policy();
        assert_eq!(
            policy.dns(&AcceptAttributes::default()),
            Some((Ipv4Addr::new(10, 0, 0, 53), None))
        );
        let radius = AcceptAttributes {
            dns: vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(8, 8, 8, 8)],
            ..AcceptAttributes::default()
        };
        assert_eq!(
            policy.dns(&radius),
            Some((Ipv4Addr::new(1, 1, 1, 1), Some(Ipv4Addr::new(8, 8, 8, 8))))
        );
    }
}
