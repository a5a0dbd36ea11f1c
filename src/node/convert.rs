//! From the serde configuration to the cores' own config structs.
//!
//! The sans-IO cores (`l2tp`, `pppoe`, `ppp`, the node core `session`, `lac::policy`,
//! `lac::select`)
//! take small config structs of their own and know nothing of the file
//! (DESIGN.md, "Three roles, one session model": config is a leaf). The
//! conversions live here, on the driver side; each function says which
//! keys it reads. Defaults and clamping are those the cores documented
//! before the move.

use std::ops::RangeInclusive;

use crate::aaa::request::NasPortIdTemplate;
use crate::config::{self, Config};
use crate::l2tp::channel::ChannelConfig;
use crate::l2tp::{EndpointConfig, PeerPolicy};
use crate::lac::policy::{AuthorizeName, CallingNumber, LacPolicyConfig};
use crate::lac::select::{Authorize, LnsBalancing, RealmEndpoint, RealmRule, SelectConfig};
use crate::lns::policy::{LnsPolicyConfig, PeerRule, ProxyAuth, ProxyLcp};
use crate::lns::pool::PoolConfig;
use crate::ppp::auth::{AuthConfig, AuthMethod};
use crate::ppp::fsm::FsmConfig;
use crate::ppp::link::{LinkConfig, Role};
use crate::ppp::ncp::IpcpConfig;
use crate::pppoe::server::{DiscoveryConfig, VlanRule};
use crate::session::{InterfaceConfig, NodeCoreConfig};
use crate::shard::Shard;

/// The control channel from `[l2tp]`: `receive_window`,
/// `retransmit_initial`, `retransmit_max`, `max_retransmits`, `ack_delay`
/// and `hello_interval` (zero: no HELLOs); the rest keeps the channel's
/// defaults.
pub fn channel_config(l2tp: &config::L2tp) -> ChannelConfig {
    let hello = l2tp.hello_interval.get();
    ChannelConfig {
        receive_window: l2tp.receive_window,
        retransmit_initial: l2tp.retransmit_initial.get(),
        retransmit_max: l2tp.retransmit_max.get(),
        max_retransmits: l2tp.max_retransmits,
        ack_delay: l2tp.ack_delay.get(),
        hello_interval: (!hello.is_zero()).then_some(hello),
        ..ChannelConfig::default()
    }
}

/// The L2TP endpoint from `[l2tp]` (the channel, `host_name` or
/// `[node] nas_identifier`, `teardown_hold`, `hide_avps`), `[lac]`
/// (`max_sessions_per_tunnel`, `max_tunnels_per_lns`, `max_queued_calls`,
/// each at least 1; without `[lac]` 1000, 4 and 10,000) and `[lns]` with
/// its `[[lns.peer]]` rules. The LNS role (accepting tunnels and calls) is
/// on when `[lns]` is present.
pub fn endpoint_config(config: &Config) -> EndpointConfig {
    let lns = config.lns.as_ref();
    EndpointConfig {
        channel: channel_config(&config.l2tp),
        host_name: config.l2tp_host_name().as_bytes().to_vec(),
        teardown_hold: config.l2tp.teardown_hold.get(),
        hide_avps: config.l2tp.hide_avps,
        accept_calls: lns.is_some(),
        max_sessions_per_tunnel: config
            .lac
            .as_ref()
            .map_or(1000, |lac| lac.max_sessions_per_tunnel.max(1)),
        max_tunnels_per_lns: config
            .lac
            .as_ref()
            .map_or(4, |lac| lac.max_tunnels_per_lns.max(1)),
        max_queued_calls: config.lac.as_ref().map_or(10_000, |lac| {
            usize::try_from(lac.max_queued_calls.max(1)).unwrap_or(usize::MAX)
        }),
        peers: lns
            .map(|lns| {
                lns.peers
                    .iter()
                    .map(|peer| PeerPolicy {
                        network: peer.network,
                        secret: peer.secret.expose().to_vec(),
                        host_name: peer.host_name.as_ref().map(|h| h.as_bytes().to_vec()),
                        max_tunnels: peer.max_tunnels,
                        hide_avps: peer.hide_avps,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ..EndpointConfig::default()
    }
}

/// The rule of one `[[pppoe.interface.vlan]]` table: `svlan`, `cvlan`,
/// `service_names`, `max_sessions`, `nas_port_id` and `refuse`.
pub fn vlan_rule(rule: &config::PppoeVlan) -> VlanRule {
    let range =
        |r: Option<config::VlanRange>| -> Option<RangeInclusive<u16>> { r.map(|r| r.low..=r.high) };
    VlanRule {
        svlan: range(rule.svlan),
        cvlan: range(rule.cvlan),
        service_names: rule
            .service_names
            .as_ref()
            .map(|names| names.iter().map(|s| s.as_bytes().to_vec()).collect()),
        max_sessions: rule.max_sessions,
        nas_port_id: rule.nas_port_id.clone(),
        refuse: rule.refuse,
    }
}

/// The discovery server for one `[[pppoe.interface]]` of `[pppoe]`
/// (`None`: the section's defaults): `ac_name`, `service_names` and
/// `max_sessions_per_interface` (the interface's own `service_names` and
/// `max_sessions` override them), `max_sessions_per_mac`, `padi_rate` and
/// `padi_rate_per_mac` (also the bursts; applied per interface),
/// `pado_delay`, `pado_delay_max`, `cookie_lifetime`, `max_payload`, and
/// the interface's `[[pppoe.interface.vlan]]` tables as
/// [`DiscoveryConfig::vlan_rules`], in file order.
pub fn discovery_config(
    pppoe: &config::Pppoe,
    interface: Option<&config::PppoeInterface>,
) -> DiscoveryConfig {
    let services = interface
        .and_then(|i| i.service_names.as_ref())
        .unwrap_or(&pppoe.service_names);
    let max_sessions = interface
        .and_then(|i| i.max_sessions)
        .unwrap_or(pppoe.max_sessions_per_interface);
    DiscoveryConfig {
        ac_name: pppoe.ac_name.as_bytes().to_vec(),
        service_names: services.iter().map(|s| s.as_bytes().to_vec()).collect(),
        max_sessions,
        max_sessions_per_mac: pppoe.max_sessions_per_mac,
        padi_rate: pppoe.padi_rate,
        padi_burst: pppoe.padi_rate,
        padi_rate_per_mac: pppoe.padi_rate_per_mac,
        padi_burst_per_mac: pppoe.padi_rate_per_mac,
        pado_delay: pppoe.pado_delay.0,
        pado_delay_max: pppoe.pado_delay_max.0,
        cookie_lifetime: pppoe.cookie_lifetime.0,
        max_payload: pppoe.max_payload,
        vlan_rules: interface
            .map(|i| i.vlans.iter().map(vlan_rule).collect())
            .unwrap_or_default(),
        ..DiscoveryConfig::default()
    }
}

/// The PPP automaton from `[ppp]`: `restart_timer`, `max_configure` and
/// `max_terminate` (each at least 1), `max_failure`.
pub fn fsm_config(ppp: &config::Ppp) -> FsmConfig {
    FsmConfig {
        restart_timer: ppp.restart_timer.get(),
        max_configure: ppp.max_configure.max(1),
        max_terminate: ppp.max_terminate.max(1),
        max_failure: ppp.max_failure,
    }
}

/// The authentication cores from `[ppp]`: the `restart_timer` and
/// `max_configure` drive retransmissions, `auth_timeout` bounds the
/// exchange. The name and re-challenge interval keep their defaults (the
/// section has no key for them).
pub fn auth_config(ppp: &config::Ppp) -> AuthConfig {
    AuthConfig {
        retry_interval: ppp.restart_timer.get(),
        max_retries: ppp.max_configure,
        timeout: ppp.auth_timeout.get(),
        ..AuthConfig::default()
    }
}

/// One entry of `[ppp] auth_protocols`.
pub const fn auth_method(protocol: config::AuthProtocol) -> AuthMethod {
    match protocol {
        config::AuthProtocol::Pap => AuthMethod::Pap,
        config::AuthProtocol::Chap => AuthMethod::ChapMd5,
        config::AuthProtocol::Mschapv2 => AuthMethod::MsChapV2,
    }
}

/// A server link from `[ppp]`: [`fsm_config`], `mru`, `auth_protocols`,
/// [`auth_config`], `lcp_echo_interval` (zero: no echoes) and
/// `lcp_echo_failures` (at least 1). Our IPCP address and DNS servers are
/// the driver's to fill in.
pub fn server_link_config(ppp: &config::Ppp) -> LinkConfig {
    let echo = ppp.lcp_echo_interval.get();
    LinkConfig {
        role: Role::Server,
        fsm: fsm_config(ppp),
        mru: ppp.mru,
        auth_methods: ppp.auth_protocols.iter().map(|p| auth_method(*p)).collect(),
        auth: auth_config(ppp),
        echo_interval: (!echo.is_zero()).then_some(echo),
        echo_failures: ppp.lcp_echo_failures.max(1),
        ..LinkConfig::default()
    }
}

/// An LNS server link (PPP inside L2TP): [`server_link_config`] plus the
/// `[lns]` `local_address` and the first two `dns` servers for IPCP; PFC
/// and ACFC are accepted (RFC 2516 §7 forbids them only over PPPoE). The
/// driver still sets the path's payload with
/// [`Link::set_lower_max_payload`](crate::ppp::link::Link::set_lower_max_payload).
pub fn lns_link_config(ppp: &config::Ppp, lns: &config::Lns) -> LinkConfig {
    LinkConfig {
        accept_compression: true,
        ipcp: IpcpConfig {
            local: Some(lns.local_address),
            primary_dns: lns.dns.first().copied(),
            secondary_dns: lns.dns.get(1).copied(),
            ..IpcpConfig::default()
        },
        ..server_link_config(ppp)
    }
}

/// `[lac] balancing`.
pub const fn balancing(balancing: config::LnsBalancing) -> LnsBalancing {
    match balancing {
        config::LnsBalancing::Weighted => LnsBalancing::Weighted,
        config::LnsBalancing::RoundRobin => LnsBalancing::RoundRobin,
        config::LnsBalancing::LeastSessions => LnsBalancing::LeastSessions,
    }
}

/// `[lac] authorize` (or a realm rule's `authorize`).
pub const fn authorize(authorize: config::Authorize) -> Authorize {
    match authorize {
        config::Authorize::User => Authorize::User,
        config::Authorize::Domain => Authorize::Domain,
    }
}

/// `[lac] authorize_name`.
pub const fn authorize_name(name: config::AuthorizeName) -> AuthorizeName {
    match name {
        config::AuthorizeName::Realm => AuthorizeName::Realm,
        config::AuthorizeName::User => AuthorizeName::User,
    }
}

/// `[lac] calling_number`.
pub const fn calling_number(calling_number: config::CallingNumber) -> CallingNumber {
    match calling_number {
        config::CallingNumber::Mac => CallingNumber::Mac,
        config::CallingNumber::AgentCircuitId => CallingNumber::AgentCircuitId,
    }
}

/// The LNS role's policy from `[lns]` and its `[[lns.peer]]` rules (in
/// the endpoint's order, so the endpoint's rule index names the same
/// rule), `[[lns.pool]]`, `local_address`, `dns`, and the proxy policies
/// (a rule's own, else `[lns]`'s).
pub fn lns_policy_config(config: &Config, lns: &config::Lns) -> LnsPolicyConfig {
    let _ = config;
    LnsPolicyConfig {
        rules: lns
            .peers
            .iter()
            .map(|peer| PeerRule {
                name: peer
                    .host_name
                    .clone()
                    .unwrap_or_else(|| peer.network.to_string()),
                pool: peer.pool.clone(),
                max_sessions: peer.max_sessions,
                proxy_lcp: proxy_lcp(peer.proxy_lcp.unwrap_or(lns.proxy_lcp)),
                proxy_auth: proxy_auth(peer.proxy_auth.unwrap_or(lns.proxy_auth)),
                auth_methods: peer
                    .auth_protocols
                    .as_ref()
                    .map(|list| list.iter().map(|p| auth_method(*p)).collect()),
            })
            .collect(),
        default_pool: lns.default_pool.clone(),
        local_address: lns.local_address,
        dns: lns.dns.clone(),
        pools: lns_pools(lns),
        ipv6_pools: lns
            .ipv6_pools
            .iter()
            .map(|pool| crate::lns::pool6::Ipv6PoolConfig {
                name: pool.name.clone(),
                prefix: pool.prefix,
                length: pool.length,
            })
            .collect(),
        auth_group: lns.auth_group.clone(),
        acct_group: lns.acct_group.clone(),
    }
}

/// `proxy_lcp`.
pub const fn proxy_lcp(policy: config::ProxyLcpPolicy) -> ProxyLcp {
    match policy {
        config::ProxyLcpPolicy::Accept => ProxyLcp::Accept,
        config::ProxyLcpPolicy::Renegotiate => ProxyLcp::Renegotiate,
        config::ProxyLcpPolicy::RejectIfUnacceptable => ProxyLcp::RejectIfUnacceptable,
    }
}

/// `proxy_auth`.
pub const fn proxy_auth(policy: config::ProxyAuthPolicy) -> ProxyAuth {
    match policy {
        config::ProxyAuthPolicy::Verify => ProxyAuth::Verify,
        config::ProxyAuthPolicy::LocalChap => ProxyAuth::LocalChap,
    }
}

/// `[[lns.pool]]`: the LNS's address pools (`name`, `networks`), in file
/// order.
pub fn lns_pools(lns: &config::Lns) -> Vec<PoolConfig> {
    lns.pools
        .iter()
        .map(|pool| PoolConfig {
            name: pool.name.clone(),
            networks: pool.networks.clone(),
        })
        .collect()
}

/// One `[[lac.realm]]` rule: `domain`, `prefix`, `authorize`, and its
/// `[[lac.realm.lns]]` endpoints (`address`, with port 1701 when none is
/// written; `secret`, `preference`, `assignment_id`).
pub fn realm_rule(realm: &config::Realm) -> RealmRule {
    RealmRule {
        domain: realm.domain.clone(),
        prefix: realm.prefix.clone(),
        authorize: realm.authorize.map(authorize),
        endpoints: realm
            .endpoints
            .iter()
            .map(|lns| RealmEndpoint {
                address: lns.address.0,
                secret: lns.secret.expose().to_vec(),
                preference: lns.preference,
                assignment_id: lns.assignment_id.as_ref().map(|a| a.as_bytes().to_vec()),
            })
            .collect(),
    }
}

/// LNS selection from `[lac]`: `balancing`, `max_attempts` (at least 1),
/// `denylist_time`; the capacity keeps its default of 10,000 and the
/// shared load is the driver's to set per worker.
pub fn select_config(lac: &config::Lac) -> SelectConfig {
    SelectConfig {
        balancing: balancing(lac.balancing),
        max_attempts: lac.max_attempts.max(1),
        denylist_time: lac.denylist_time.get(),
        capacity: 10_000,
        shared_load: None,
    }
}

/// The LAC core from the configuration file; `None` without a `[lac]` or
/// a `[pppoe]` section. Reads `[pppoe]` and its interfaces
/// ([`discovery_config`] each), `[ppp]` ([`server_link_config`]),
/// [`endpoint_config`] with its call setup timeout capped at
/// `[lac] setup_deadline`, [`select_config`], the `[lac]` keys `realm`,
/// `auth_group`, `acct_group`, `setup_deadline`, `tunnel_setup_timeout`,
/// `authorize`, `authorize_name`, `authorize_password`, `calling_number`,
/// `tcp_mss`, `connect_speed` and `workers` (at least 1),
/// `[radius.accounting]` `interim_interval` and `tunnel_accounting`,
/// `[radius] nas_port_id`, and `[l2tp] listen` (its address, unless
/// unspecified, is the Tunnel-Client-Endpoint).
pub fn node_config(config: &Config) -> Option<NodeCoreConfig> {
    if config.lac.is_none() && config.lns.is_none() {
        return None;
    }
    let default_lac = config::Lac::default();
    let lac = config.lac.as_ref().unwrap_or(&default_lac);
    let interfaces = match (&config.lac, &config.pppoe) {
        (Some(_), Some(pppoe)) => pppoe
            .interfaces
            .iter()
            .map(|iface| InterfaceConfig {
                name: iface.name.clone(),
                discovery: discovery_config(pppoe, Some(iface)),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut endpoint = endpoint_config(config);
    if config.lac.is_some() {
        endpoint.setup_timeout = endpoint.setup_timeout.min(lac.setup_deadline.get());
    }
    let local = config.l2tp.listen.ip();
    let lns_link = config.lns.as_ref().map_or_else(
        || server_link_config(&config.ppp),
        |lns| lns_link_config(&config.ppp, lns),
    );
    let (auth_group, acct_group) = match (&config.lac, &config.lns) {
        (None, Some(lns)) => (lns.auth_group.clone(), lns.acct_group.clone()),
        _ => (lac.auth_group.clone(), lac.acct_group.clone()),
    };
    Some(NodeCoreConfig {
        interfaces,
        link: server_link_config(&config.ppp),
        lns: config
            .lns
            .as_ref()
            .map(|lns| lns_policy_config(config, lns)),
        lns_link,
        lns_ipv6: std::sync::Arc::new(crate::lns::ipv6::Ipv6ServicesConfig {
            mtu: Some(u32::from(config.ppp.mru)),
            ..crate::lns::ipv6::Ipv6ServicesConfig::default()
        }),
        endpoint,
        lac: LacPolicyConfig {
            select: select_config(lac),
            realms: lac.realms.iter().map(realm_rule).collect(),
            setup_deadline: lac.setup_deadline.get(),
            tunnel_setup_timeout: lac.tunnel_setup_timeout.get(),
            authorize: authorize(lac.authorize),
            authorize_name: authorize_name(lac.authorize_name),
            authorize_password: lac.authorize_password.expose().to_vec(),
            calling_number: calling_number(lac.calling_number),
            connect_speed: lac.connect_speed,
        },
        auth_group,
        acct_group,
        interim_interval: config.radius.accounting.interim_interval.get(),
        tunnel_accounting: config.radius.accounting.tunnel_accounting,
        tcp_mss: match (&config.lac, &config.lns) {
            (None, Some(lns)) => lns.tcp_mss,
            _ => lac.tcp_mss,
        },
        local_address: (!local.is_unspecified()).then_some(local),
        nas_port_id: NasPortIdTemplate(config.radius.nas_port_id.clone()),
        // The LNS role runs on one worker: its SCCRQs carry Tunnel ID 0
        // (no kernel steering can pick the owner) and TUN spreads packets
        // by flow hash, not by session.
        workers: if config.lns.is_some() {
            1
        } else {
            lac.workers.max(1)
        },
        shard: Shard::WHOLE,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn channel_from_the_l2tp_section() {
        let mut section = config::L2tp::default();
        let channel = channel_config(&section);
        assert_eq!(channel.receive_window, 16);
        assert_eq!(channel.hello_interval, Some(Duration::from_secs(60)));
        assert_eq!(channel.max_retransmits, 5);
        section.hello_interval = config::Duration::from_secs(0);
        assert_eq!(channel_config(&section).hello_interval, None);
    }

    #[test]
    fn endpoint_from_the_file() {
        let mut config = Config::default();
        config.l2tp.hello_interval = config::Duration::from_secs(0);
        config.l2tp.hide_avps = true;
        let lac_only = endpoint_config(&config);
        assert_eq!(lac_only.channel.hello_interval, None);
        assert!(lac_only.hide_avps);
        assert!(lac_only.peers.is_empty());
        assert_eq!(lac_only.teardown_hold, Duration::from_secs(31));
        assert_eq!(lac_only.max_tunnels_per_lns, 4);
        assert_eq!(lac_only.max_queued_calls, 10_000);
        config.lac = Some(config::Lac {
            max_tunnels_per_lns: 2,
            max_queued_calls: 50,
            ..config::Lac::default()
        });
        let lac = endpoint_config(&config);
        assert_eq!(lac.max_tunnels_per_lns, 2);
        assert_eq!(lac.max_queued_calls, 50);
        let file: Config = toml::from_str(
            "[lns]\n[[lns.peer]]\nnetwork = \"198.51.100.0/24\"\nsecret = \"s\"\nmax_tunnels = 8\nhide_avps = true\n\
             [[lns.peer]]\nnetwork = \"0.0.0.0/0\"\nhost_name = \"lac-1\"\n",
        )
        .expect("[lns] with peers");
        let lns = endpoint_config(&file);
        assert!(lns.accept_calls);
        assert_eq!(lns.peers.len(), 2);
        assert_eq!(lns.peers[0].secret, b"s");
        assert_eq!(lns.peers[0].max_tunnels, Some(8));
        assert_eq!(lns.peers[1].max_tunnels, None);
        assert_eq!(lns.peers[0].hide_avps, Some(true));
        assert_eq!(lns.peers[1].hide_avps, None);
        assert_eq!(lns.peers[1].host_name.as_deref(), Some(&b"lac-1"[..]));
    }

    #[test]
    fn discovery_defaults_are_those_of_the_pppoe_section() {
        assert_eq!(
            discovery_config(&config::Pppoe::default(), None),
            DiscoveryConfig::default()
        );
    }

    #[test]
    fn vlan_rules_come_from_the_interface_in_file_order() {
        let rules = vec![
            config::PppoeVlan {
                svlan: Some(config::VlanRange::single(10)),
                cvlan: Some(config::VlanRange {
                    low: 100,
                    high: 199,
                }),
                service_names: Some(vec!["biz".into()]),
                max_sessions: Some(5),
                nas_port_id: Some("{interface}/{cvlan}".into()),
                refuse: false,
            },
            config::PppoeVlan {
                refuse: true,
                ..config::PppoeVlan::default()
            },
        ];
        let iface = config::PppoeInterface {
            name: "eth1".into(),
            service_names: None,
            max_sessions: None,
            vlans: rules,
        };
        let c = discovery_config(&config::Pppoe::default(), Some(&iface));
        assert_eq!(
            c.vlan_rules,
            vec![
                VlanRule {
                    svlan: Some(10..=10),
                    cvlan: Some(100..=199),
                    service_names: Some(vec![b"biz".to_vec()]),
                    max_sessions: Some(5),
                    nas_port_id: Some("{interface}/{cvlan}".into()),
                    refuse: false,
                },
                VlanRule {
                    refuse: true,
                    ..VlanRule::default()
                },
            ]
        );
    }

    #[test]
    fn lac_config_clamps_and_converts_realms() {
        let mut config = Config::default();
        assert!(node_config(&config).is_none(), "no role: no node core");
        config.pppoe = Some(config::Pppoe::default());
        config.lac = Some(config::Lac {
            workers: 0,
            max_attempts: 0,
            balancing: config::LnsBalancing::LeastSessions,
            authorize: config::Authorize::Domain,
            realms: vec![config::Realm {
                domain: Some("corp.example".into()),
                prefix: None,
                authorize: Some(config::Authorize::User),
                endpoints: vec![config::LnsEndpoint {
                    address: config::Endpoint::try_from("192.0.2.1".to_owned()).unwrap(),
                    secret: config::Secret::new("s3"),
                    preference: 7,
                    assignment_id: Some("a".into()),
                }],
            }],
            ..config::Lac::default()
        });
        let lac = node_config(&config).expect("[lac] and [pppoe]");
        // The call setup timeout is capped at the setup deadline (30 s).
        assert_eq!(lac.endpoint.setup_timeout, Duration::from_secs(30));
        assert_eq!(lac.workers, 1);
        assert_eq!(lac.lac.select.max_attempts, 1);
        assert_eq!(lac.lac.select.balancing, LnsBalancing::LeastSessions);
        assert_eq!(lac.lac.authorize, Authorize::Domain);
        assert_eq!(lac.lac.authorize_name, AuthorizeName::Realm);
        assert_eq!(lac.lac.calling_number, CallingNumber::Mac);
        assert_eq!(
            lac.lac.realms,
            vec![RealmRule {
                domain: Some("corp.example".into()),
                prefix: None,
                authorize: Some(Authorize::User),
                endpoints: vec![RealmEndpoint {
                    address: "192.0.2.1:1701".parse().unwrap(),
                    secret: b"s3".to_vec(),
                    preference: 7,
                    assignment_id: Some(b"a".to_vec()),
                }],
            }]
        );
    }
}
