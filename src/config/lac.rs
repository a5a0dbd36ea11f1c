//! `[lac]` and `[[lac.realm]]`: the NAS-initiated L2TP access
//! concentrator — RADIUS groups, what RADIUS authorizes (user or domain),
//! LNS selection and balancing, tunnel and call limits, set-up deadlines,
//! the Calling Number, MSS clamping, workers, and static realm rules with
//! their LNS endpoints ([`Endpoint`]).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::{Duration, Secret};

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

impl Config {
    pub(super) fn validate_lac(&self, lac: &Lac) -> Result<(), Invalid> {
        self.validate_pppoe()?;
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
}
