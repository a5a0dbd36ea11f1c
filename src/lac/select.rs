//! LNS selection for the LAC: from the tunnel candidates RADIUS returned
//! (RFC 2868 tag groups, [`TunnelCandidate`]) or a static `[[lac.realm]]`
//! rule, to the ordered list of LNS endpoints a subscriber's session tries.
//!
//! * RFC 2868 §3.8: "If more than one set of tunneling attributes is
//!   returned ... [Tunnel-Preference] SHOULD be included in each set to
//!   indicate the relative preference assigned to each tunnel" — lower is
//!   preferred. A set without a preference ranks after every set that has
//!   one (the server expressed no wish for it).
//! * RFC 2809 §2 (voluntary vs compulsory tunnelling) leaves the choice
//!   among equals to the NAS: equal preferences are balanced by
//!   [`LnsBalancing`] — weighted by free capacity, round-robin, or least
//!   sessions.
//!   With several workers (`[lac] workers`), least sessions and free
//!   capacity count the sessions of the whole box: each worker's selector
//!   publishes its own per-endpoint counts and reads the others' from a
//!   lock-free [`LoadTable`] (see [`load`] for the design), touched only
//!   when a plan is made and when a session starts or ends — never per
//!   packet.
//! * An endpoint that failed (tunnel set-up timeout, StopCCN, a CDN saying
//!   "try another") is denylisted for `denylist_time`; denylisted endpoints
//!   are tried only after every other one, so a subscriber is still served
//!   when they are all that is left.
//! * At most `max_attempts` endpoints per subscriber.
//!
//! Sans-IO: time is an argument, randomness comes from a seeded RNG, the
//! other workers' load comes in as a handle ([`SelectConfig::shared_load`]).
//! Endpoints given as host names are resolved by the driver before it asks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::aaa::attributes::{TunnelCandidate, TunnelEndpoint};

#[path = "select_load.rs"]
pub mod load;

pub use load::{LoadTable, LoadWriter, SharedLoad};

/// The L2TP port an endpoint uses when none is given.
pub const L2TP_PORT: u16 = 1701;

/// How the selector balances among endpoints of equal preference
/// (`[lac] balancing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LnsBalancing {
    /// Weighted by free capacity (the default).
    #[default]
    Weighted,
    /// In turn.
    RoundRobin,
    /// The endpoint with the fewest sessions.
    LeastSessions,
}

/// What RADIUS authorizes (`[lac] authorize`, or a realm rule's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Authorize {
    /// The subscriber's own credentials (the default).
    #[default]
    User,
    /// The domain: the LAC asks with the domain's name and password, the
    /// LNS authenticates the subscriber.
    Domain,
}

/// A static realm rule (`[[lac.realm]]`): the users it covers and their
/// LNS endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmRule {
    /// Matches `user@domain`, case-insensitive.
    pub domain: Option<String>,
    /// Matches names starting with it (when there is no domain).
    pub prefix: Option<String>,
    /// What RADIUS authorizes for these users (`None`: the LAC's setting).
    pub authorize: Option<Authorize>,
    /// The LNS endpoints, in file order.
    pub endpoints: Vec<RealmEndpoint>,
}

/// One LNS endpoint of a realm rule.
#[derive(Clone, PartialEq, Eq)]
pub struct RealmEndpoint {
    /// LNS address and port.
    pub address: SocketAddr,
    /// Tunnel secret (empty: no tunnel authentication).
    pub secret: Vec<u8>,
    /// Tunnel-Preference.
    pub preference: u32,
    /// Tunnel-Assignment-Id.
    pub assignment_id: Option<Vec<u8>>,
}

/// How a tunnel secret shows in debug output: never its value.
const fn redacted(secret: &[u8]) -> &'static str {
    if secret.is_empty() {
        "<none>"
    } else {
        "<redacted>"
    }
}

impl std::fmt::Debug for RealmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealmEndpoint")
            .field("address", &self.address)
            .field("secret", &redacted(&self.secret))
            .field("preference", &self.preference)
            .field("assignment_id", &self.assignment_id)
            .finish()
    }
}

/// Selection parameters (from `[lac]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectConfig {
    /// Balancing among equal preferences.
    pub balancing: LnsBalancing,
    /// Endpoints tried per subscriber.
    pub max_attempts: u8,
    /// How long a failed endpoint is avoided.
    pub denylist_time: Duration,
    /// Sessions an endpoint is assumed to carry at most, for weighting by
    /// free capacity.
    pub capacity: u32,
    /// This worker's place in the box-wide session counts (`None`: one
    /// worker, its own counts are the box's). Set by the driver per worker.
    pub shared_load: Option<SharedLoad>,
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self {
            balancing: LnsBalancing::Weighted,
            max_attempts: 3,
            denylist_time: Duration::from_secs(60),
            capacity: 10_000,
            shared_load: None,
        }
    }
}

/// One endpoint to try, with what the L2TP tunnel needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Attempt {
    /// LNS address and port.
    pub endpoint: SocketAddr,
    /// Tunnel secret (empty: no tunnel authentication).
    pub secret: Vec<u8>,
    /// Tunnel-Preference (`None`: not given).
    pub preference: Option<u32>,
    /// Tunnel-Assignment-Id (tunnel sharing key).
    pub assignment_id: Option<Vec<u8>>,
    /// Tunnel-Client-Auth-ID (our Host Name on the tunnel).
    pub client_auth_id: Option<Vec<u8>>,
    /// Whether the endpoint is denylisted (tried only as a last resort).
    pub denylisted: bool,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("endpoint", &self.endpoint)
            .field("secret", &redacted(&self.secret))
            .field("preference", &self.preference)
            .field("denylisted", &self.denylisted)
            .finish_non_exhaustive()
    }
}

/// Why no endpoint could be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// Neither RADIUS nor a realm rule named an LNS.
    #[error("no LNS candidate: RADIUS returned no usable tunnel group and no realm rule matched")]
    NoCandidate,
    /// Candidates named only host names the driver did not resolve.
    #[error("no LNS candidate with an address")]
    NoAddress,
}

#[derive(Debug, Default, Clone, Copy)]
struct EndpointState {
    sessions: u32,
    denylisted_until: Option<Instant>,
}

pub use crate::observe::lac::SelectEvent;

/// The LAC's memory of LNS endpoints: sessions per endpoint, denylist.
#[derive(Debug)]
pub struct Selector {
    config: SelectConfig,
    endpoints: HashMap<SocketAddr, EndpointState>,
    /// Publishes this worker's counts ([`SelectConfig::shared_load`]).
    load: Option<LoadWriter>,
    round_robin: u64,
    rng: StdRng,
    events: Vec<SelectEvent>,
}

impl Selector {
    /// A selector; `seed` drives the weighted draw. With
    /// [`SelectConfig::shared_load`] it becomes the only writer of its
    /// worker's row (a second selector on the same row balances on its own
    /// counts plus the others', and publishes nothing; logged).
    pub fn new(config: SelectConfig, seed: [u8; 32]) -> Self {
        let load = config.shared_load.as_ref().and_then(|shared| {
            let writer = shared.claim();
            if writer.is_none() {
                tracing::warn!(
                    worker = shared.worker(),
                    "another LNS selector publishes this worker's sessions: this one does not"
                );
            }
            writer
        });
        Self {
            config,
            endpoints: HashMap::new(),
            load,
            round_robin: 0,
            rng: StdRng::from_seed(seed),
            events: Vec::new(),
        }
    }

    /// The endpoints to try, in order, at most `max_attempts`.
    ///
    /// # Errors
    /// [`SelectError`] when nothing can be tried.
    pub fn plan(
        &mut self,
        now: Instant,
        candidates: &[TunnelCandidate],
    ) -> Result<Vec<Attempt>, SelectError> {
        if candidates.is_empty() {
            return Err(SelectError::NoCandidate);
        }
        let addressed: Vec<(SocketAddr, TunnelCandidate)> = candidates
            .iter()
            .filter_map(|c| match c.server_endpoint {
                TunnelEndpoint::Ip(ip) => Some((SocketAddr::new(ip, L2TP_PORT), c.clone())),
                TunnelEndpoint::Name(_) => None,
            })
            .collect();
        if addressed.is_empty() {
            return Err(SelectError::NoAddress);
        }
        self.plan_endpoints(now, &addressed)
    }

    /// [`Self::plan`] for candidates whose endpoint (with port) is already
    /// known, e.g. from [`realm_candidates`].
    ///
    /// # Errors
    /// [`SelectError::NoCandidate`] when `candidates` is empty.
    pub fn plan_endpoints(
        &mut self,
        now: Instant,
        candidates: &[(SocketAddr, TunnelCandidate)],
    ) -> Result<Vec<Attempt>, SelectError> {
        if candidates.is_empty() {
            return Err(SelectError::NoCandidate);
        }
        self.expire(now);
        let mut attempts: Vec<Attempt> = candidates
            .iter()
            .map(|(endpoint, c)| Attempt {
                endpoint: *endpoint,
                secret: c.password.clone().unwrap_or_default(),
                preference: c.preference,
                assignment_id: c.assignment_id.clone(),
                client_auth_id: c.client_auth_id.clone(),
                denylisted: self.is_denylisted(*endpoint, now),
            })
            .collect();
        // The same endpoint twice (two tag groups naming one LNS) is one try.
        let mut seen = Vec::new();
        attempts.retain(|a| {
            let fresh = !seen.contains(&a.endpoint);
            seen.push(a.endpoint);
            fresh
        });
        // Not denylisted first, then by preference (absent last); the
        // sort is stable, so the balancing below decides among equals.
        attempts.sort_by_key(|a| (a.denylisted, a.preference.is_none(), a.preference));
        let mut ordered = Vec::with_capacity(attempts.len());
        let mut rest = attempts.as_slice();
        while let Some(first) = rest.first() {
            let key = (first.denylisted, first.preference);
            let len = rest
                .iter()
                .take_while(|a| (a.denylisted, a.preference) == key)
                .count();
            let (group, tail) = rest.split_at(len);
            ordered.extend(self.balance(group));
            rest = tail;
        }
        ordered.truncate(usize::from(self.config.max_attempts.max(1)));
        Ok(ordered)
    }

    /// Orders one group of equal preference.
    fn balance(&mut self, group: &[Attempt]) -> Vec<Attempt> {
        let mut group = group.to_vec();
        if group.len() < 2 {
            return group;
        }
        let mut load = if self.config.balancing == LnsBalancing::RoundRobin {
            Vec::new()
        } else {
            let endpoints: Vec<SocketAddr> = group.iter().map(|a| a.endpoint).collect();
            self.box_sessions(&endpoints)
        };
        match self.config.balancing {
            LnsBalancing::RoundRobin => {
                let shift = (self.round_robin % group.len() as u64) as usize;
                self.round_robin = self.round_robin.wrapping_add(1);
                group.rotate_left(shift);
            }
            LnsBalancing::LeastSessions => {
                let mut ranked: Vec<(u32, Attempt)> = load.into_iter().zip(group).collect();
                ranked.sort_by_key(|(sessions, _)| *sessions);
                group = ranked.into_iter().map(|(_, attempt)| attempt).collect();
            }
            LnsBalancing::Weighted => {
                // Draw without replacement, each endpoint weighted by its
                // free capacity (at least 1, so a full one is not starved
                // of its failover role).
                let mut out = Vec::with_capacity(group.len());
                while !group.is_empty() {
                    let weights: Vec<u64> = load
                        .iter()
                        .map(|sessions| {
                            u64::from(self.config.capacity.saturating_sub(*sessions)).max(1)
                        })
                        .collect();
                    let total: u64 = weights.iter().sum();
                    let mut draw = self.rng.random_range(0..total);
                    let mut index = 0;
                    for (i, w) in weights.iter().enumerate() {
                        if draw < *w {
                            index = i;
                            break;
                        }
                        draw -= w;
                    }
                    out.push(group.remove(index));
                    load.remove(index);
                }
                group = out;
            }
        }
        group
    }

    /// This worker's sessions on `endpoint`.
    pub fn sessions(&self, endpoint: SocketAddr) -> u32 {
        self.endpoints.get(&endpoint).map_or(0, |e| e.sessions)
    }

    /// The box's sessions on each of `endpoints`: this worker's, plus what
    /// the other workers published ([`SelectConfig::shared_load`]).
    pub fn box_sessions(&self, endpoints: &[SocketAddr]) -> Vec<u32> {
        let mut totals: Vec<u32> = endpoints.iter().map(|e| self.sessions(*e)).collect();
        if let Some(shared) = &self.config.shared_load {
            shared.add_others(endpoints, &mut totals);
        }
        totals
    }

    /// Whether `endpoint` is denylisted at `now`.
    pub fn is_denylisted(&self, endpoint: SocketAddr, now: Instant) -> bool {
        self.endpoints
            .get(&endpoint)
            .and_then(|e| e.denylisted_until)
            .is_some_and(|until| now < until)
    }

    /// The endpoint failed (set-up timeout, StopCCN, CDN meaning "try
    /// another"): avoid it for `denylist_time`.
    pub fn report_failure(&mut self, now: Instant, endpoint: SocketAddr) {
        let until = now + self.config.denylist_time;
        self.endpoints.entry(endpoint).or_default().denylisted_until = Some(until);
        self.events
            .push(SelectEvent::Denylisted { endpoint, until });
    }

    /// Another worker found `endpoint` failing and avoids it until
    /// `until`: avoid it here too. No event: the failure is counted and
    /// logged where it happened.
    pub fn adopt_denylisting(&mut self, endpoint: SocketAddr, until: Instant) {
        let state = self.endpoints.entry(endpoint).or_default();
        state.denylisted_until = Some(state.denylisted_until.map_or(until, |u| u.max(until)));
    }

    /// A session came up on `endpoint`: it works, and carries one more.
    pub fn session_started(&mut self, endpoint: SocketAddr) {
        let state = self.endpoints.entry(endpoint).or_default();
        state.sessions = state.sessions.saturating_add(1);
        let sessions = state.sessions;
        if state.denylisted_until.take().is_some() {
            self.events.push(SelectEvent::Cleared { endpoint });
        }
        if let Some(load) = &mut self.load {
            load.publish(endpoint, sessions);
        }
    }

    /// A session on `endpoint` ended.
    pub fn session_ended(&mut self, endpoint: SocketAddr) {
        if let Some(state) = self.endpoints.get_mut(&endpoint) {
            state.sessions = state.sessions.saturating_sub(1);
            if let Some(load) = &mut self.load {
                load.publish(endpoint, state.sessions);
            }
        }
        self.forget_idle(endpoint);
    }

    /// Endpoints denylisted at `now`, with their deadline.
    pub fn denylisted(&self, now: Instant) -> Vec<(SocketAddr, Instant)> {
        let mut list: Vec<(SocketAddr, Instant)> = self
            .endpoints
            .iter()
            .filter_map(|(e, s)| s.denylisted_until.filter(|u| now < *u).map(|u| (*e, u)))
            .collect();
        list.sort();
        list
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SelectEvent> {
        if self.events.is_empty() {
            None
        } else {
            Some(self.events.remove(0))
        }
    }

    /// When the next denylisting runs out ([`Self::expire`] has work).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.endpoints
            .values()
            .filter_map(|s| s.denylisted_until)
            .min()
    }

    /// Clears the denylistings that ran out by `now` (a
    /// [`SelectEvent::Cleared`] each).
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<SocketAddr> = self
            .endpoints
            .iter()
            .filter(|(_, s)| s.denylisted_until.is_some_and(|u| now >= u))
            .map(|(e, _)| *e)
            .collect();
        for endpoint in expired {
            if let Some(state) = self.endpoints.get_mut(&endpoint) {
                state.denylisted_until = None;
            }
            self.events.push(SelectEvent::Cleared { endpoint });
            self.forget_idle(endpoint);
        }
    }

    /// Keeps the table bounded by what is in use or denylisted.
    fn forget_idle(&mut self, endpoint: SocketAddr) {
        if self
            .endpoints
            .get(&endpoint)
            .is_some_and(|s| s.sessions == 0 && s.denylisted_until.is_none())
        {
            self.endpoints.remove(&endpoint);
        }
    }
}

/// The static realm rule for `user_name`: `domain` matches `user@domain`
/// (case-insensitive), `prefix` matches the start of the name. The first
/// matching rule wins.
pub fn match_realm<'a>(realms: &'a [RealmRule], user_name: &str) -> Option<&'a RealmRule> {
    realms.iter().find(|realm| {
        if let Some(domain) = &realm.domain {
            user_name
                .rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
        } else if let Some(prefix) = &realm.prefix {
            user_name.starts_with(prefix.as_str())
        } else {
            false
        }
    })
}

/// A realm rule's LNS endpoints as candidates, as if RADIUS had returned
/// them (one untagged group each, RFC 2868 §3).
pub fn realm_candidates(realm: &RealmRule) -> Vec<(SocketAddr, TunnelCandidate)> {
    realm
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, lns)| {
            let address = lns.address;
            (
                address,
                TunnelCandidate {
                    tag: u8::try_from(i + 1).unwrap_or(u8::MAX),
                    medium: if address.is_ipv4() {
                        crate::aaa::attributes::TunnelMediumKind::Ipv4
                    } else {
                        crate::aaa::attributes::TunnelMediumKind::Ipv6
                    },
                    server_endpoint: TunnelEndpoint::Ip(address.ip()),
                    client_endpoint: None,
                    password: (!lns.secret.is_empty()).then(|| lns.secret.clone()),
                    preference: Some(lns.preference),
                    assignment_id: lns.assignment_id.clone(),
                    client_auth_id: None,
                    server_auth_id: None,
                    private_group_id: None,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
