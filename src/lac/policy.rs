//! The LAC's policy (NAS-initiated mode, RFC 2661 §1.1): for a PPPoE
//! subscriber the node core ([`crate::session`]) has negotiated, what
//! RADIUS is asked, which second leg the subscriber gets, and what the
//! outgoing call says about it.
//!
//! The policy owns no sockets and no session tables; it holds the LNS
//! selector (RFC 2868 tunnel preferences, balancing, the denylist) and
//! the `[lac]` rules, and answers the core's questions:
//!
//! 1. [`LacPolicy::radius_identity`]: the subscriber's own credentials
//!    (`authorize = "user"`), or its domain with the configured password
//!    (`authorize = "domain"`, the wholesale arrangement: the LNS then
//!    authenticates the subscriber from the RFC 2661 §4.4.5 proxy AVPs).
//! 2. [`LacPolicy::second_leg`]: an Access-Accept's RFC 2868 tunnel groups
//!    (else a `[[lac.realm]]` rule) become an ordered plan of LNS
//!    endpoints for an outgoing L2TP call, tried in turn by the core.
//! 3. [`LacPolicy::call_info`]: the ICRQ/ICCN AVPs that describe the
//!    subscriber (RFC 2661 §4.4.4, §4.4.5): Calling Number, Called Number,
//!    connect speeds from the RADIUS rate, the proxy AVPs.
//! 4. Feedback from the core ([`LacPolicy::attempt_failed`],
//!    [`LacPolicy::session_started`], [`LacPolicy::session_ended`]) keeps
//!    the denylist and the balancing counts true.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::select::{Attempt, Authorize, RealmRule, SelectConfig, SelectEvent, Selector};
use crate::aaa::attributes::AcceptAttributes;
use crate::aaa::request::Credentials;
use crate::l2tp::{CallInfo, ProxyInfo};
use crate::wire::ethernet::MacAddress;
use crate::wire::l2tp::{Bearer, Framing};

/// What the Calling Number AVP carries (`[lac] calling_number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallingNumber {
    /// The subscriber's MAC address (the default).
    #[default]
    Mac,
    /// The PPPoE Agent-Circuit-Id, else the MAC address.
    AgentCircuitId,
}

/// The User-Name of a domain authorization (`[lac] authorize_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthorizeName {
    /// The realm: the part after `@` (the default).
    #[default]
    Realm,
    /// The subscriber's full User-Name.
    User,
}

/// The LAC policy's configuration (from `[lac]`,
/// `node::convert::lac_config`).
#[derive(Debug, Clone)]
pub struct LacPolicyConfig {
    /// LNS selection.
    pub select: SelectConfig,
    /// Static realm rules for users RADIUS gives no tunnel.
    pub realms: Vec<RealmRule>,
    /// From the Access-Accept to an established L2TP session.
    pub setup_deadline: Duration,
    /// How long one LNS attempt waits for its tunnel to come up before the
    /// call moves to the next candidate (`[lac] tunnel_setup_timeout`).
    pub tunnel_setup_timeout: Duration,
    /// What RADIUS authorizes (`[lac] authorize`); a `[[lac.realm]]` rule
    /// may say otherwise for its users.
    pub authorize: Authorize,
    /// The User-Name of a domain authorization.
    pub authorize_name: AuthorizeName,
    /// The User-Password of a domain authorization.
    pub authorize_password: Vec<u8>,
    /// What the Calling Number AVP carries.
    pub calling_number: CallingNumber,
    /// (Tx) Connect Speed for the ICCN when RADIUS gives no rate, bit/s.
    pub connect_speed: u32,
}

/// Who RADIUS is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusIdentity {
    /// The Access-Request's User-Name.
    pub user_name: String,
    /// Its credentials.
    pub credentials: Credentials,
    /// RADIUS authorizes the domain, not the subscriber: the LNS
    /// authenticates and answers.
    pub domain: bool,
}

/// An outgoing L2TP call's plan: the LNS endpoints in order, and how long
/// the core may spend on them.
#[derive(Debug, Clone)]
pub struct OutgoingPlan {
    /// The endpoints, best first.
    pub attempts: Vec<Attempt>,
    /// Where the plan came from: `radius`, or the realm rule
    /// (`realm:@domain`, `realm:prefix`).
    pub group: Arc<str>,
    /// From now to an established session, over every attempt.
    pub deadline: Duration,
    /// One attempt's wait for its tunnel.
    pub attempt_timeout: Duration,
}

/// The second leg the policy gives an accepted subscriber.
#[derive(Debug, Clone)]
pub enum SecondLeg {
    /// An outgoing L2TP call (the LAC's only answer today).
    L2tpOut(OutgoingPlan),
    /// No LNS: neither RADIUS nor a realm rule gives a usable tunnel.
    NoCandidate,
}

/// What the outgoing call says about the subscriber.
#[derive(Debug, Clone, Copy)]
pub struct Subscriber<'a> {
    /// Its MAC address.
    pub mac: MacAddress,
    /// The PPPoE Agent-Circuit-Id (RFC 4679 §3.3.1), if any.
    pub circuit_id: Option<&'a [u8]>,
    /// The Service-Name it asked for (empty: any).
    pub service_name: &'a [u8],
}

/// The LAC role's policy.
#[derive(Debug)]
pub struct LacPolicy {
    config: LacPolicyConfig,
    selector: Selector,
}

impl LacPolicy {
    /// A policy with its selector seeded by `seed`.
    pub fn new(config: LacPolicyConfig, seed: [u8; 32]) -> Self {
        let selector = Selector::new(config.select.clone(), seed);
        Self { config, selector }
    }

    /// The configuration in use.
    pub const fn config(&self) -> &LacPolicyConfig {
        &self.config
    }

    /// Who RADIUS is asked about for subscriber `user_name` with
    /// `credentials`: the subscriber, or its domain (a `[[lac.realm]]`
    /// rule's `authorize`, else `[lac] authorize`).
    pub fn radius_identity(&self, user_name: &str, credentials: Credentials) -> RadiusIdentity {
        let authorize = super::select::match_realm(&self.config.realms, user_name)
            .and_then(|realm| realm.authorize)
            .unwrap_or(self.config.authorize);
        match authorize {
            Authorize::User => RadiusIdentity {
                user_name: user_name.to_owned(),
                credentials,
                domain: false,
            },
            // Domain authorization (the wholesale arrangement): RADIUS
            // knows the enterprise's realm, not its users. The
            // Access-Request names the realm with the configured password;
            // the subscriber's own credentials go to the LNS in the proxy
            // authentication AVPs (RFC 2661 §4.4.5) and in band, and the
            // LNS answers.
            Authorize::Domain => RadiusIdentity {
                user_name: domain_user_name(user_name, self.config.authorize_name),
                credentials: Credentials::Pap {
                    password: self.config.authorize_password.clone(),
                },
                domain: true,
            },
        }
    }

    /// The second leg of subscriber `user`, accepted with `accept`: the
    /// RFC 2868 tunnel groups ordered by the selector, or without any a
    /// `[[lac.realm]]` rule's endpoints.
    pub fn second_leg(&mut self, now: Instant, user: &str, accept: &AcceptAttributes) -> SecondLeg {
        let (plan, group) = if accept.tunnels.is_empty() {
            match super::select::match_realm(&self.config.realms, user) {
                Some(realm) => {
                    let candidates = super::select::realm_candidates(realm);
                    (
                        self.selector.plan_endpoints(now, &candidates),
                        realm_group(realm),
                    )
                }
                None => return SecondLeg::NoCandidate,
            }
        } else {
            (
                self.selector.plan(now, &accept.tunnels),
                Arc::from("radius"),
            )
        };
        match plan {
            Ok(attempts) if !attempts.is_empty() => SecondLeg::L2tpOut(OutgoingPlan {
                attempts,
                group,
                deadline: self.config.setup_deadline,
                attempt_timeout: self.config.tunnel_setup_timeout,
            }),
            _ => SecondLeg::NoCandidate,
        }
    }

    /// The call's description of the subscriber (RFC 2661 §4.4.4 and the
    /// §4.4.5 proxy AVPs), for call number `serial`: connect speeds from
    /// the RADIUS rate limit `down_bps` / `up_bps`, else `[lac]
    /// connect_speed`.
    pub fn call_info(
        &self,
        serial: u32,
        subscriber: Subscriber<'_>,
        rate: (Option<u64>, Option<u64>),
        proxy: ProxyInfo,
    ) -> CallInfo {
        let mac_text = subscriber.mac.to_string().into_bytes();
        let calling_number = match self.config.calling_number {
            CallingNumber::Mac => mac_text,
            CallingNumber::AgentCircuitId => subscriber.circuit_id.map_or(mac_text, <[u8]>::to_vec),
        };
        let clamp = |bps: Option<u64>| {
            bps.map_or(self.config.connect_speed, |b| {
                u32::try_from(b).unwrap_or(u32::MAX)
            })
        };
        let (down_bps, up_bps) = rate;
        CallInfo {
            call_serial_number: serial,
            bearer_type: Some(Bearer::DIGITAL),
            physical_channel_id: None,
            calling_number: Some(calling_number),
            called_number: (!subscriber.service_name.is_empty())
                .then(|| subscriber.service_name.to_vec()),
            sub_address: None,
            tx_connect_speed: clamp(down_bps),
            rx_connect_speed: Some(clamp(up_bps)),
            framing_type: Framing::SYNC,
            private_group_id: None,
            sequencing_required: false,
            proxy,
        }
    }

    /// An attempt on `endpoint` failed (its tunnel did not come up, a
    /// StopCCN or CDN): it is denylisted, once per failure of the LNS and
    /// not once per call it took down with it.
    pub fn attempt_failed(&mut self, now: Instant, endpoint: SocketAddr) {
        if !self.selector.is_denylisted(endpoint, now) {
            self.selector.report_failure(now, endpoint);
        }
    }

    /// A session is up on `endpoint` (balancing counts it).
    pub fn session_started(&mut self, endpoint: SocketAddr) {
        self.selector.session_started(endpoint);
    }

    /// A session on `endpoint` ended.
    pub fn session_ended(&mut self, endpoint: SocketAddr) {
        self.selector.session_ended(endpoint);
    }

    /// Denylistings and their ends, for logs and metrics.
    pub fn poll_event(&mut self) -> Option<SelectEvent> {
        self.selector.poll_event()
    }

    /// When a denylisting runs out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.selector.next_expiry()
    }

    /// Ends the denylistings that ran out.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.selector.expire(now);
    }

    /// Denylisted endpoints and until when.
    pub fn denylisted(&self, now: Instant) -> Vec<(SocketAddr, Instant)> {
        self.selector.denylisted(now)
    }

    /// Another worker denylisted `endpoint` until `until`.
    pub fn adopt_denylisting(&mut self, endpoint: SocketAddr, until: Instant) {
        self.selector.adopt_denylisting(endpoint, until);
    }
}

/// The LNS group of a `[[lac.realm]]` plan: `realm:` and the rule's domain
/// or prefix.
fn realm_group(realm: &RealmRule) -> Arc<str> {
    let name = realm
        .domain
        .as_deref()
        .map(|d| format!("realm:@{d}"))
        .or_else(|| realm.prefix.as_deref().map(|p| format!("realm:{p}")))
        .unwrap_or_else(|| "realm".to_owned());
    Arc::from(name)
}

/// The User-Name of a domain authorization for subscriber `user`: the
/// realm after its last `@` (the whole name without one), or the whole
/// name.
fn domain_user_name(user: &str, name: AuthorizeName) -> String {
    match name {
        AuthorizeName::User => user.to_owned(),
        AuthorizeName::Realm => user
            .rsplit_once('@')
            .map_or(user, |(_, realm)| realm)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_user_name_is_the_realm_or_the_whole_name() {
        let realm = AuthorizeName::Realm;
        assert_eq!(
            domain_user_name("alice@corp.example", realm),
            "corp.example"
        );
        assert_eq!(domain_user_name("a@b@corp.example", realm), "corp.example");
        assert_eq!(domain_user_name("alice", realm), "alice");
        assert_eq!(
            domain_user_name("alice@corp.example", AuthorizeName::User),
            "alice@corp.example"
        );
    }
}
