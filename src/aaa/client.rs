//! Sans-IO RADIUS client core: server groups, identifier allocation,
//! response matching and verification, retransmission, failover, dead-server
//! detection and Status-Server revival, per-server outstanding limits and a
//! bounded queue. The driver ([`super::service`]) owns the sockets and the
//! clock; this core only sees `now` and datagrams.
//!
//! Implements:
//!
//! * RFC 2865 §3: "The Identifier field ... aids in matching requests and
//!   replies"; a response is matched by (socket, Identifier) and must come
//!   from the address the request was sent to; the Response Authenticator is
//!   verified ("a Response Authenticator that does not match MUST be silently
//!   discarded" is the client-side consequence of §3) and so is the
//!   Message-Authenticator (RFC 3579 §3.2, RFC 2869 §5.14: "MUST silently
//!   discard"); bad ones are dropped and reported ([`DropReason`]).
//! * Retransmission: an Access-Request is retransmitted unchanged, same
//!   Identifier and Request Authenticator (RFC 5080 §2.2.1, duplicate
//!   detection on the server relies on it). An Accounting-Request carries a
//!   new Acct-Delay-Time on every retry, so it is re-encoded, re-signed and
//!   given a new Identifier — RFC 2866 §3: "The Identifier field MUST be
//!   changed whenever the content of the Attributes field changes"; §5.2:
//!   "changing the Acct-Delay-Time causes the Identifier to change".
//! * RFC 5997 §4: a server marked dead is probed with Status-Server (with
//!   Message-Authenticator, §3) after its dead time; an answer revives it.
//! * RFC 3539-style back-pressure: at most `max_outstanding_per_server`
//!   requests in flight per server, then a bounded per-group queue; a full
//!   queue refuses new requests instead of causing retransmission storms.
//!
//! Identifiers: each socket of the pool has its own 256 identifiers; a
//! (socket, identifier) pair is in use by at most one request at a time, so
//! the pool holds at most `256 × sockets` requests in flight.
//!
//! This file is the request core (submission, identifiers, dispatch, the
//! queues, matching, retransmission and failover); `api` has the public
//! configuration, job, outcome and event types, `group` the per-server
//! state (dead time, Status-Server revival) and the strategy pick.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::decision_from_response;
use super::request::{NasIdentity, encode_access_request, encode_accounting_request};
use crate::wire::radius::{self, Authenticator, Code, Packet};

mod api;
mod group;

pub use api::{
    ClientConfig, ClientEvent, DropReason, FailCause, GroupConfig, Job, Outcome, RequestId,
    ServerConfig, ServerRef, Service, SubmitError, Transmit,
};
use group::{Endpoint, GroupState, ServerState};

#[derive(Debug)]
enum Purpose {
    Request(RequestId),
    Probe,
}

#[derive(Debug)]
struct Inflight {
    purpose: Purpose,
    group: usize,
    server: usize,
    service: Service,
    authenticator: Authenticator,
    sent_at: Instant,
    deadline: Instant,
    /// Transmissions to this server so far (1 = first send).
    transmissions: u8,
    /// The bytes, for an identical retransmission (Access-Request).
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct RequestState {
    group: usize,
    job: Job,
    submitted: Instant,
    tried: Vec<usize>,
    slot: Option<(usize, u8)>,
}

/// Per-socket identifier bitmap.
#[derive(Debug, Default, Clone)]
struct IdSpace {
    used: [u64; 4],
    next: u8,
}

impl IdSpace {
    fn allocate(&mut self) -> Option<u8> {
        for step in 0..=255u8 {
            let id = self.next.wrapping_add(step);
            let (word, bit) = (usize::from(id / 64), id % 64);
            if self.used[word] & (1 << bit) == 0 {
                self.used[word] |= 1 << bit;
                self.next = id.wrapping_add(1);
                return Some(id);
            }
        }
        None
    }
    fn release(&mut self, id: u8) {
        self.used[usize::from(id / 64)] &= !(1 << (id % 64));
    }
}

/// The RADIUS client core.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    nas: NasIdentity,
    groups: Vec<GroupState>,
    ids: Vec<IdSpace>,
    socket_cursor: usize,
    inflight: HashMap<(usize, u8), Inflight>,
    requests: HashMap<RequestId, RequestState>,
    next_request: u64,
    transmits: VecDeque<(usize, SocketAddr, Vec<u8>)>,
    events: VecDeque<ClientEvent>,
    rng: StdRng,
    /// Drains asked for (by `finish`) while [`Self::drain_queues`] runs.
    drains: Vec<usize>,
    /// Whether [`Self::drain_queues`] is running.
    draining: bool,
}

impl Client {
    /// A client for `groups`, seeded for its Request Authenticators.
    #[must_use]
    pub fn new(
        config: ClientConfig,
        nas: NasIdentity,
        groups: Vec<GroupConfig>,
        seed: [u8; 32],
    ) -> Self {
        let sockets = config.sockets.max(1);
        let groups = groups
            .into_iter()
            .map(|g| GroupState {
                servers: g
                    .servers
                    .iter()
                    .map(|s| ServerState {
                        config: s.clone(),
                        auth: Endpoint::new(SocketAddr::new(s.address, s.auth_port)),
                        acct: Endpoint::new(SocketAddr::new(s.address, s.acct_port)),
                        current_weight: 0,
                    })
                    .collect(),
                config: g,
                cursor: 0,
                queue: VecDeque::new(),
            })
            .collect();
        Self {
            config,
            nas,
            groups,
            ids: vec![IdSpace::default(); sockets],
            socket_cursor: 0,
            inflight: HashMap::new(),
            requests: HashMap::new(),
            next_request: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            rng: StdRng::from_seed(seed),
            drains: Vec::new(),
            draining: false,
        }
    }

    /// Number of sockets the driver must open.
    #[must_use]
    pub fn socket_count(&self) -> usize {
        self.ids.len()
    }

    /// Names of the configured groups.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.config.name.as_str())
    }

    /// Requests submitted and not finished.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.requests.len()
    }

    /// Whether `group`'s server at `address` is currently live for `service`.
    #[must_use]
    pub fn is_live(&self, group: &str, address: SocketAddr, service: Service) -> Option<bool> {
        let g = self.groups.iter().find(|g| g.config.name == group)?;
        g.servers
            .iter()
            .map(|s| s.endpoint(service))
            .find(|e| e.address == address)
            .map(|e| e.dead_until.is_none())
    }

    /// Submits a request to `group`.
    ///
    /// # Errors
    /// [`SubmitError`] for an unknown group or a full queue (back-pressure).
    pub fn submit(
        &mut self,
        now: Instant,
        group: &str,
        job: Job,
    ) -> Result<RequestId, SubmitError> {
        let index = self
            .groups
            .iter()
            .position(|g| g.config.name == group)
            .ok_or_else(|| SubmitError::UnknownGroup(group.to_owned()))?;
        if self.groups[index].queue.len() >= self.config.queue_limit {
            return Err(SubmitError::QueueFull(group.to_owned()));
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(
            id,
            RequestState {
                group: index,
                job,
                submitted: now,
                tried: Vec::new(),
                slot: None,
            },
        );
        self.dispatch(now, id);
        Ok(id)
    }

    /// Cancels a request (its answer, if any, is then dropped as unknown).
    pub fn cancel(&mut self, id: RequestId) {
        if let Some(state) = self.requests.remove(&id) {
            if let Some(slot) = state.slot {
                self.free_slot(slot);
            }
            self.groups[state.group].queue.retain(|q| *q != id);
        }
    }

    fn free_slot(&mut self, slot: (usize, u8)) {
        if let Some(inflight) = self.inflight.remove(&slot) {
            let endpoint =
                self.groups[inflight.group].servers[inflight.server].endpoint_mut(inflight.service);
            endpoint.outstanding = endpoint.outstanding.saturating_sub(1);
        }
        if let Some(space) = self.ids.get_mut(slot.0) {
            space.release(slot.1);
        }
    }

    fn allocate_slot(&mut self) -> Option<(usize, u8)> {
        let n = self.ids.len();
        for step in 0..n {
            let socket = (self.socket_cursor + step) % n;
            if let Some(id) = self.ids[socket].allocate() {
                self.socket_cursor = (socket + 1) % n;
                return Some((socket, id));
            }
        }
        None
    }

    fn dispatch(&mut self, now: Instant, id: RequestId) {
        let Some(state) = self.requests.get(&id) else {
            return;
        };
        let group = state.group;
        let service = state.job.service();
        let tried = state.tried.clone();
        match self.pick(group, service, &tried) {
            Ok(server) => {
                let Some(slot) = self.allocate_slot() else {
                    self.enqueue(group, id);
                    return;
                };
                if let Err(cause) = self.send_new(now, id, group, server, slot) {
                    self.ids[slot.0].release(slot.1);
                    self.finish(now, id, Outcome::Failed(cause));
                }
            }
            Err(true) => self.enqueue(group, id),
            Err(false) => {
                let all_dead = self.groups[group]
                    .servers
                    .iter()
                    .all(|s| s.endpoint(service).dead_until.is_some());
                let cause = if all_dead && tried.is_empty() {
                    FailCause::NoLiveServer
                } else {
                    FailCause::Timeout
                };
                self.finish(now, id, Outcome::Failed(cause));
            }
        }
    }

    fn enqueue(&mut self, group: usize, id: RequestId) {
        let queue = &mut self.groups[group].queue;
        if !queue.contains(&id) {
            queue.push_back(id);
        }
        let depth = queue.len();
        self.events.push_back(ClientEvent::Queued {
            group: self.groups[group].config.name.clone(),
            depth,
        });
    }

    fn server_ref(&self, group: usize, server: usize, service: Service) -> ServerRef {
        let g = &self.groups[group];
        ServerRef {
            group: g.config.name.clone(),
            address: g.servers[server].endpoint(service).address,
            service,
        }
    }

    fn encode(
        &mut self,
        now: Instant,
        id: RequestId,
        server: &ServerConfig,
        slot: (usize, u8),
    ) -> Result<(Vec<u8>, Authenticator), FailCause> {
        let state = self.requests.get(&id).ok_or(FailCause::Cancelled)?;
        let mut buf = vec![0u8; radius::MAX_PACKET_LEN];
        let (len, authenticator) = match &state.job {
            Job::Access(request) => {
                let mut authenticator = [0u8; 16];
                self.rng.fill_bytes(&mut authenticator);
                let len = encode_access_request(
                    &mut buf,
                    slot.1,
                    &authenticator,
                    &server.secret,
                    &self.nas,
                    request,
                )
                .map_err(|_| FailCause::Encoding)?;
                (len, authenticator)
            }
            Job::Accounting {
                record,
                initial_delay,
            } => {
                let waited =
                    u32::try_from(now.saturating_duration_since(state.submitted).as_secs())
                        .unwrap_or(u32::MAX);
                let len = encode_accounting_request(
                    &mut buf,
                    slot.1,
                    &server.secret,
                    &self.nas,
                    record,
                    initial_delay.saturating_add(waited),
                )
                .map_err(|_| FailCause::Encoding)?;
                let packet = Packet::new_unchecked(&buf[..len]);
                (len, packet.authenticator())
            }
        };
        buf.truncate(len);
        Ok((buf, authenticator))
    }

    fn send_new(
        &mut self,
        now: Instant,
        id: RequestId,
        group: usize,
        server: usize,
        slot: (usize, u8),
    ) -> Result<(), FailCause> {
        let service = self
            .requests
            .get(&id)
            .map(|s| s.job.service())
            .ok_or(FailCause::Cancelled)?;
        let config = self.groups[group].servers[server].config.clone();
        let (bytes, authenticator) = self.encode(now, id, &config, slot)?;
        let timeout = self.groups[group].config.timeout;
        let endpoint = self.groups[group].servers[server].endpoint_mut(service);
        endpoint.outstanding += 1;
        let address = endpoint.address;
        self.transmits.push_back((slot.0, address, bytes.clone()));
        self.inflight.insert(
            slot,
            Inflight {
                purpose: Purpose::Request(id),
                group,
                server,
                service,
                authenticator,
                sent_at: now,
                deadline: now + timeout,
                transmissions: 1,
                bytes,
            },
        );
        if let Some(state) = self.requests.get_mut(&id) {
            state.slot = Some(slot);
        }
        let server_ref = self.server_ref(group, server, service);
        self.events.push_back(ClientEvent::Sent {
            server: server_ref,
            retransmit: false,
        });
        Ok(())
    }

    fn finish(&mut self, now: Instant, id: RequestId, outcome: Outcome) {
        if let Some(state) = self.requests.remove(&id) {
            if let Some(slot) = state.slot {
                self.free_slot(slot);
            }
            self.events
                .push_back(ClientEvent::Completed { id, outcome });
            self.drain_queues(now, state.group);
        }
    }

    /// Dispatches the queued requests of `group` now that one may have
    /// room (a request finished, a server came back).
    ///
    /// A queued request that fails at once (every server dead, an encoding
    /// error) finishes, and its `finish` asks for another drain of its
    /// group. That drain used to run inside `finish`, nested, once per
    /// queued request: 10,000 queued requests failing together overflowed
    /// the stack. Now the drain is a loop over a stack of passes kept on
    /// the heap: a drain asked for while one runs is noted in
    /// `self.drains` and becomes a pass of its own, run to its end before
    /// the pass that asked for it goes on, exactly the order the nested
    /// calls had.
    fn drain_queues(&mut self, now: Instant, group: usize) {
        if self.draining {
            self.drains.push(group);
            return;
        }
        self.draining = true;
        // (group, remaining budget: `None` until the pass starts, when it
        // is the queue's length then, as the nested call measured it).
        let mut passes: Vec<(usize, Option<usize>)> = vec![(group, None)];
        while let Some((group, budget)) = passes.last_mut() {
            let group = *group;
            let budget = budget.get_or_insert(self.groups[group].queue.len());
            // Dispatch queued requests while there is room; a request that
            // goes back into the queue stops the pass (no room yet).
            if *budget == 0 {
                passes.pop();
                continue;
            }
            *budget -= 1;
            let Some(next) = self.groups[group].queue.pop_front() else {
                passes.pop();
                continue;
            };
            self.dispatch(now, next);
            if !self.drains.is_empty() {
                // `next` finished and asked for drains: they run first, in
                // the order they were asked for; this pass resumes after.
                passes.extend(self.drains.drain(..).rev().map(|g| (g, None)));
                continue;
            }
            if self.groups[group].queue.front() == Some(&next)
                || self.groups[group].queue.back() == Some(&next)
            {
                passes.pop();
            }
        }
        self.draining = false;
    }

    /// Handles a datagram received on pool socket `socket` from `from`.
    pub fn handle_datagram(&mut self, now: Instant, socket: usize, from: SocketAddr, bytes: &[u8]) {
        // A dual-stack socket reports IPv4 peers as v4-mapped IPv6.
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        let Ok(packet) = Packet::new_checked(bytes) else {
            self.drop_datagram(from, DropReason::Malformed);
            return;
        };
        let slot = (socket, packet.identifier());
        let Some(inflight) = self.inflight.get(&slot) else {
            self.drop_datagram(from, DropReason::UnknownIdentifier);
            return;
        };
        let (group, server, service) = (inflight.group, inflight.server, inflight.service);
        let endpoint_address = self.groups[group].servers[server].endpoint(service).address;
        // RFC 2865 §3 (client side): only the server we asked may answer.
        if from != endpoint_address {
            self.drop_datagram(from, DropReason::UnknownSource);
            return;
        }
        let expected = match (&inflight.purpose, service) {
            (Purpose::Probe, Service::Acct) | (Purpose::Request(_), Service::Acct) => {
                matches!(packet.code(), Code::AccountingResponse)
            }
            (_, Service::Auth) => matches!(
                packet.code(),
                Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
            ),
        };
        if !expected {
            self.drop_datagram(from, DropReason::UnexpectedCode);
            return;
        }
        let secret = self.groups[group].servers[server].config.secret.clone();
        match packet.verify_response(&inflight.authenticator, &secret) {
            Ok(verified) => {
                if service == Service::Auth
                    && self.config.require_response_message_authenticator
                    && !verified.message_authenticator
                {
                    self.drop_datagram(from, DropReason::BadMessageAuthenticator);
                    return;
                }
            }
            Err(radius::AuthError::ResponseAuthenticator) => {
                self.drop_datagram(from, DropReason::BadAuthenticator);
                return;
            }
            Err(_) => {
                self.drop_datagram(from, DropReason::BadMessageAuthenticator);
                return;
            }
        }
        let Some(inflight) = self.inflight.remove(&slot) else {
            return;
        };
        self.ids[socket].release(slot.1);
        let server_ref = self.server_ref(group, server, service);
        self.events.push_back(ClientEvent::Response {
            server: server_ref.clone(),
            code: packet.code(),
            rtt: now.saturating_duration_since(inflight.sent_at),
        });
        let endpoint = self.groups[group].servers[server].endpoint_mut(service);
        endpoint.outstanding = endpoint.outstanding.saturating_sub(1);
        endpoint.consecutive_timeouts = 0;
        let was_dead = endpoint.dead_until.take().is_some();
        endpoint.probing = false;
        if was_dead {
            self.events
                .push_back(ClientEvent::ServerUp { server: server_ref });
        }
        match inflight.purpose {
            Purpose::Probe => {
                // Queued requests may now have a server.
                self.drain_queues(now, group);
            }
            Purpose::Request(id) => {
                if let Some(state) = self.requests.get_mut(&id) {
                    state.slot = None;
                }
                let outcome = match service {
                    Service::Auth => Outcome::Access(decision_from_response(
                        &packet,
                        &inflight.authenticator,
                        &secret,
                    )),
                    Service::Acct => Outcome::AccountingAck,
                };
                self.finish(now, id, outcome);
            }
        }
    }

    fn drop_datagram(&mut self, from: SocketAddr, reason: DropReason) {
        tracing::warn!(%from, reason = reason.as_str(), "dropped RADIUS datagram");
        self.events.push_back(ClientEvent::Dropped { from, reason });
    }

    /// Advances timers: retransmissions, failover, dead servers, probes.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<(usize, u8)> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for slot in expired {
            self.expire(now, slot);
        }
        // Probe dead servers whose dead time is over.
        for group in 0..self.groups.len() {
            for server in 0..self.groups[group].servers.len() {
                for service in [Service::Auth, Service::Acct] {
                    let e = self.groups[group].servers[server].endpoint(service);
                    if !e.probing && e.dead_until.is_some_and(|t| t <= now) {
                        self.probe(now, group, server, service);
                    }
                }
            }
        }
    }

    fn expire(&mut self, now: Instant, slot: (usize, u8)) {
        let Some(inflight) = self.inflight.get_mut(&slot) else {
            return;
        };
        let (group, server, service) = (inflight.group, inflight.server, inflight.service);
        let server_ref = self.server_ref(group, server, service);
        self.events.push_back(ClientEvent::Timeout {
            server: server_ref.clone(),
        });
        let config = &self.groups[group].config;
        let (retries, dead_after, dead_time) =
            (config.retries, config.dead_after, config.dead_time);
        let probe_interval = self.config.probe_interval;
        let endpoint = self.groups[group].servers[server].endpoint_mut(service);
        if matches!(
            self.inflight.get(&slot).map(|f| &f.purpose),
            Some(Purpose::Probe)
        ) {
            endpoint.probing = false;
            endpoint.dead_until = Some(now + probe_interval);
            self.free_slot(slot);
            return;
        }
        endpoint.consecutive_timeouts = endpoint.consecutive_timeouts.saturating_add(1);
        let mut dead = endpoint.dead_until.is_some();
        if !dead && endpoint.consecutive_timeouts >= dead_after {
            endpoint.dead_until = Some(now + dead_time);
            dead = true;
            tracing::warn!(server = %server_ref.address, group = %server_ref.group,
                service = service.as_str(), "RADIUS server marked dead");
            self.events.push_back(ClientEvent::ServerDown {
                server: server_ref.clone(),
            });
        }
        let Some(inflight) = self.inflight.get_mut(&slot) else {
            return;
        };
        let Purpose::Request(id) = inflight.purpose else {
            return;
        };
        if !dead && inflight.transmissions <= retries {
            // Retransmit to the same server with exponential backoff.
            let base = self.groups[group].config.timeout;
            let factor = 1u32 << inflight.transmissions.min(6);
            let wait = base
                .saturating_mul(factor)
                .min(self.config.max_timeout.max(base));
            match service {
                Service::Auth => {
                    // RFC 5080 §2.2.1: unchanged packet, same Identifier.
                    inflight.transmissions += 1;
                    inflight.sent_at = now;
                    inflight.deadline = now + wait;
                    self.transmits
                        .push_back((slot.0, server_ref.address, inflight.bytes.clone()));
                }
                Service::Acct => {
                    // New Acct-Delay-Time => new packet, new Identifier.
                    let transmissions = inflight.transmissions + 1;
                    self.free_slot(slot);
                    let Some(new_slot) = self.allocate_slot() else {
                        self.finish(now, id, Outcome::Failed(FailCause::Timeout));
                        return;
                    };
                    if let Err(cause) = self.send_new(now, id, group, server, new_slot) {
                        self.ids[new_slot.0].release(new_slot.1);
                        self.finish(now, id, Outcome::Failed(cause));
                        return;
                    }
                    if let Some(f) = self.inflight.get_mut(&new_slot) {
                        f.transmissions = transmissions;
                        f.deadline = now + wait;
                    }
                    // send_new reported a first send; make it a retransmit.
                    if let Some(ClientEvent::Sent { retransmit, .. }) = self.events.back_mut() {
                        *retransmit = true;
                    }
                    return;
                }
            }
            self.events.push_back(ClientEvent::Sent {
                server: server_ref,
                retransmit: true,
            });
            return;
        }
        // Fail over: next server.
        self.free_slot(slot);
        if let Some(state) = self.requests.get_mut(&id) {
            state.slot = None;
            state.tried.push(server);
        }
        self.dispatch(now, id);
    }

    /// The earliest instant [`Self::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inflight = self.inflight.values().map(|f| f.deadline).min();
        let probes = self
            .groups
            .iter()
            .flat_map(|g| g.servers.iter())
            .flat_map(|s| [&s.auth, &s.acct])
            .filter(|e| !e.probing)
            .filter_map(|e| e.dead_until)
            .min();
        match (inflight, probes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Writes the next datagram to send into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            let (socket, destination, bytes) = self.transmits.pop_front()?;
            if let Some(out) = buf.get_mut(..bytes.len()) {
                out.copy_from_slice(&bytes);
                return Some(Transmit {
                    socket,
                    destination,
                    len: bytes.len(),
                });
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aaa::attributes::Decision;
    use crate::aaa::request::{
        AccountingRecord, AcctStatusType, AuthRequest, Credentials, SessionInfo,
    };
    use crate::config::ServerStrategy;
    use crate::wire::radius::{PacketBuilder, attr};
    use std::time::Duration;

    const SECRET: &[u8] = b"testing123";

    fn server(port: u16) -> ServerConfig {
        ServerConfig {
            address: "127.0.0.1".parse().unwrap(),
            auth_port: port,
            acct_port: port + 1,
            secret: SECRET.to_vec(),
            weight: 1,
        }
    }

    fn group(strategy: ServerStrategy, ports: &[u16]) -> GroupConfig {
        GroupConfig {
            name: "g".into(),
            servers: ports.iter().map(|p| server(*p)).collect(),
            strategy,
            timeout: Duration::from_secs(1),
            retries: 1,
            dead_after: 2,
            dead_time: Duration::from_secs(10),
        }
    }

    fn client(config: ClientConfig, g: GroupConfig) -> Client {
        Client::new(config, NasIdentity::default(), vec![g], [1; 32])
    }

    fn pap() -> Job {
        Job::Access(Box::new(AuthRequest {
            user_name: "u".into(),
            credentials: Credentials::Pap {
                password: b"p".to_vec(),
            },
            session: SessionInfo::default(),
            tunnel: None,
        }))
    }

    fn acct() -> Job {
        Job::Accounting {
            record: Box::new(AccountingRecord::new(
                AcctStatusType::Start,
                Some("u".into()),
                SessionInfo::default(),
            )),
            initial_delay: 5,
        }
    }

    fn transmits(c: &mut Client) -> Vec<(Transmit, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Some(t) = c.poll_transmit(&mut buf) {
            out.push((t, buf[..t.len].to_vec()));
        }
        out
    }

    fn events(c: &mut Client) -> Vec<ClientEvent> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    /// A server's answer to `request`, signed with `secret`.
    fn answer(request: &[u8], code: Code, secret: &[u8]) -> Vec<u8> {
        let req = Packet::new_checked(request).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut b = PacketBuilder::new(&mut buf, code, req.identifier(), &[0; 16]).unwrap();
        b.push_message_authenticator().unwrap();
        if code == Code::AccessAccept {
            b.push_u32(attr::SESSION_TIMEOUT, 60).unwrap();
        }
        let len = b.finish_signed(secret, Some(&req.authenticator())).unwrap();
        buf.truncate(len);
        buf
    }

    fn completed(evs: &[ClientEvent]) -> Vec<(RequestId, Outcome)> {
        evs.iter()
            .filter_map(|e| match e {
                ClientEvent::Completed { id, outcome } => Some((*id, outcome.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn accept_is_matched_verified_and_mapped() {
        let t0 = Instant::now();
        let mut c = client(
            ClientConfig::default(),
            group(ServerStrategy::Failover, &[1812]),
        );
        let id = c.submit(t0, "g", pap()).unwrap();
        let tx = transmits(&mut c);
        assert_eq!(tx.len(), 1);
        let (t, bytes) = &tx[0];
        assert_eq!(t.destination.port(), 1812);
        // Forged answer (wrong secret), then one from another port: dropped.
        let forged = answer(bytes, Code::AccessAccept, b"wrong");
        c.handle_datagram(t0, t.socket, t.destination, &forged);
        let good = answer(bytes, Code::AccessAccept, SECRET);
        c.handle_datagram(t0, t.socket, "127.0.0.1:9".parse().unwrap(), &good);
        c.handle_datagram(t0, t.socket, t.destination, &[1, 2, 3]);
        let evs = events(&mut c);
        let drops: Vec<DropReason> = evs
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Dropped { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect();
        assert_eq!(
            drops,
            [
                DropReason::BadAuthenticator,
                DropReason::UnknownSource,
                DropReason::Malformed
            ]
        );
        c.handle_datagram(
            t0 + Duration::from_millis(3),
            t.socket,
            t.destination,
            &good,
        );
        let done = completed(&events(&mut c));
        let [(got, Outcome::Access(Decision::Accept(a)))] = done.as_slice() else {
            panic!("{done:?}");
        };
        assert_eq!(*got, id);
        assert_eq!(a.session_timeout, Some(60));
        // A duplicate answer is now unknown.
        c.handle_datagram(t0, t.socket, t.destination, &good);
        assert!(matches!(
            events(&mut c).as_slice(),
            [ClientEvent::Dropped {
                reason: DropReason::UnknownIdentifier,
                ..
            }]
        ));
        assert_eq!(c.pending(), 0);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn v4_mapped_source_of_a_dual_stack_socket_is_accepted() {
        let t0 = Instant::now();
        let mut c = client(
            ClientConfig::default(),
            group(ServerStrategy::Failover, &[1812]),
        );
        c.submit(t0, "g", pap()).unwrap();
        let tx = transmits(&mut c);
        let good = answer(&tx[0].1, Code::AccessAccept, SECRET);
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1812".parse().unwrap();
        c.handle_datagram(t0, tx[0].0.socket, mapped, &good);
        assert!(matches!(
            completed(&events(&mut c)).as_slice(),
            [(_, Outcome::Access(Decision::Accept(_)))]
        ));
    }

    #[test]
    fn access_retransmits_identically_then_fails_over_and_marks_dead() {
        let t0 = Instant::now();
        let mut c = client(
            ClientConfig::default(),
            group(ServerStrategy::Failover, &[1812, 2812]),
        );
        c.submit(t0, "g", pap()).unwrap();
        let first = transmits(&mut c);
        let deadline = c.poll_timeout().unwrap();
        assert_eq!(deadline, t0 + Duration::from_secs(1));
        c.handle_timeout(deadline);
        let retry = transmits(&mut c);
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].1, first[0].1, "RFC 5080: identical retransmission");
        // Backoff doubles the wait.
        let deadline2 = c.poll_timeout().unwrap();
        assert_eq!(deadline2, deadline + Duration::from_secs(2));
        c.handle_timeout(deadline2);
        let evs = events(&mut c);
        assert!(
            evs.iter()
                .any(|e| matches!(e, ClientEvent::ServerDown { .. }))
        );
        let next = transmits(&mut c);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].0.destination.port(), 2812);
        let reply = answer(&next[0].1, Code::AccessReject, SECRET);
        c.handle_datagram(deadline2, next[0].0.socket, next[0].0.destination, &reply);
        let done = completed(&events(&mut c));
        assert!(matches!(
            done.as_slice(),
            [(_, Outcome::Access(Decision::Reject(_)))]
        ));
        // The dead server is skipped by the next request.
        c.submit(deadline2, "g", pap()).unwrap();
        let tx = transmits(&mut c);
        assert_eq!(tx[0].0.destination.port(), 2812);
        let reply = answer(&tx[0].1, Code::AccessAccept, SECRET);
        c.handle_datagram(deadline2, tx[0].0.socket, tx[0].0.destination, &reply);
        events(&mut c);
        // After the dead time: a Status-Server probe; its answer revives.
        let probe_at = c.poll_timeout().unwrap();
        assert_eq!(probe_at, deadline2 + Duration::from_secs(10));
        c.handle_timeout(probe_at);
        let probe = transmits(&mut c);
        assert_eq!(probe.len(), 1);
        let p = Packet::new_checked(&probe[0].1[..]).unwrap();
        assert_eq!(p.code(), Code::StatusServer);
        assert!(p.verify_request(SECRET).unwrap().message_authenticator);
        assert_eq!(probe[0].0.destination.port(), 1812);
        let reply = answer(&probe[0].1, Code::AccessAccept, SECRET);
        c.handle_datagram(probe_at, probe[0].0.socket, probe[0].0.destination, &reply);
        assert!(
            events(&mut c)
                .iter()
                .any(|e| matches!(e, ClientEvent::ServerUp { .. }))
        );
        // Failover goes back to the first server.
        c.submit(probe_at, "g", pap()).unwrap();
        assert_eq!(transmits(&mut c)[0].0.destination.port(), 1812);
    }

    #[test]
    fn every_server_dead_still_tries_the_one_whose_dead_time_ends_first() {
        let t0 = Instant::now();
        let mut g = group(ServerStrategy::Failover, &[1812, 1813]);
        g.dead_after = 1;
        g.retries = 0;
        let mut c = client(ClientConfig::default(), g);
        // Both time out once and are marked dead, the first one first.
        c.submit(t0, "g", pap()).unwrap();
        assert_eq!(transmits(&mut c)[0].0.destination.port(), 1812);
        let t1 = c.poll_timeout().unwrap();
        c.handle_timeout(t1);
        assert_eq!(transmits(&mut c)[0].0.destination.port(), 1813);
        let t2 = c.poll_timeout().unwrap();
        c.handle_timeout(t2);
        events(&mut c);
        // A new request is sent anyway, to the server dead the longest.
        c.submit(t2, "g", pap()).unwrap();
        let sent = transmits(&mut c);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0.destination.port(), 1812);
        // Its answer revives the server.
        let reply = answer(&sent[0].1, Code::AccessAccept, SECRET);
        c.handle_datagram(t2, sent[0].0.socket, sent[0].0.destination, &reply);
        let evs = events(&mut c);
        assert!(
            evs.iter()
                .any(|e| matches!(e, ClientEvent::ServerUp { .. })),
            "{evs:?}"
        );
        assert!(
            matches!(
                completed(&evs).as_slice(),
                [(_, Outcome::Access(Decision::Accept(_)))]
            ),
            "{evs:?}"
        );
    }

    #[test]
    fn unanswered_probe_is_repeated() {
        let t0 = Instant::now();
        let mut g = group(ServerStrategy::Failover, &[1812]);
        g.dead_after = 1;
        g.retries = 0;
        let mut c = client(
            ClientConfig {
                try_dead_servers: false,
                ..ClientConfig::default()
            },
            g,
        );
        c.submit(t0, "g", pap()).unwrap();
        transmits(&mut c);
        let t1 = c.poll_timeout().unwrap();
        c.handle_timeout(t1);
        let evs = events(&mut c);
        assert!(matches!(
            completed(&evs).as_slice(),
            [(_, Outcome::Failed(FailCause::Timeout))]
        ));
        // Every server dead (and trying dead servers off): refused at once.
        c.submit(t1, "g", pap()).unwrap();
        assert!(matches!(
            completed(&events(&mut c)).as_slice(),
            [(_, Outcome::Failed(FailCause::NoLiveServer))]
        ));
        let t2 = c.poll_timeout().unwrap();
        c.handle_timeout(t2);
        assert_eq!(transmits(&mut c).len(), 1);
        let t3 = c.poll_timeout().unwrap();
        c.handle_timeout(t3);
        let t4 = c.poll_timeout().unwrap();
        assert_eq!(t4, t3 + ClientConfig::default().probe_interval);
        c.handle_timeout(t4);
        assert_eq!(transmits(&mut c).len(), 1);
    }

    #[test]
    fn accounting_retransmission_gets_new_id_and_delay() {
        let t0 = Instant::now();
        let mut c = client(
            ClientConfig::default(),
            group(ServerStrategy::Failover, &[1812]),
        );
        c.submit(t0, "g", acct()).unwrap();
        let first = transmits(&mut c);
        assert_eq!(first[0].0.destination.port(), 1813);
        let p = Packet::new_checked(&first[0].1[..]).unwrap();
        assert_eq!(p.attribute(41).unwrap().as_u32().unwrap(), 5);
        c.handle_timeout(t0 + Duration::from_secs(1));
        let second = transmits(&mut c);
        let q = Packet::new_checked(&second[0].1[..]).unwrap();
        assert_ne!(
            (first[0].0.socket, p.identifier()),
            (second[0].0.socket, q.identifier())
        );
        assert_eq!(q.attribute(41).unwrap().as_u32().unwrap(), 6);
        assert!(q.verify_request(SECRET).is_ok());
        let reply = answer(&second[0].1, Code::AccountingResponse, SECRET);
        // The answer to the first transmission's id is unknown now.
        let stale = answer(&first[0].1, Code::AccountingResponse, SECRET);
        c.handle_datagram(t0, first[0].0.socket, first[0].0.destination, &stale);
        c.handle_datagram(t0, second[0].0.socket, second[0].0.destination, &reply);
        let evs = events(&mut c);
        assert!(evs.iter().any(|e| matches!(
            e,
            ClientEvent::Sent {
                retransmit: true,
                ..
            }
        )));
        assert!(matches!(
            completed(&evs).as_slice(),
            [(_, Outcome::AccountingAck)]
        ));
    }

    #[test]
    fn outstanding_limit_queues_and_queue_limit_refuses() {
        let t0 = Instant::now();
        let config = ClientConfig {
            max_outstanding_per_server: 2,
            queue_limit: 1,
            ..ClientConfig::default()
        };
        let mut c = client(config, group(ServerStrategy::Failover, &[1812]));
        c.submit(t0, "g", pap()).unwrap();
        c.submit(t0, "g", pap()).unwrap();
        c.submit(t0, "g", pap()).unwrap();
        assert!(matches!(
            c.submit(t0, "g", pap()),
            Err(SubmitError::QueueFull(_))
        ));
        assert!(matches!(
            c.submit(t0, "nope", pap()),
            Err(SubmitError::UnknownGroup(_))
        ));
        let tx = transmits(&mut c);
        assert_eq!(tx.len(), 2);
        let reply = answer(&tx[0].1, Code::AccessAccept, SECRET);
        c.handle_datagram(t0, tx[0].0.socket, tx[0].0.destination, &reply);
        // The queued one goes out now.
        assert_eq!(transmits(&mut c).len(), 1);
    }

    #[test]
    fn identifiers_run_out_per_socket_then_queue() {
        let t0 = Instant::now();
        let config = ClientConfig {
            sockets: 1,
            max_outstanding_per_server: 1000,
            ..ClientConfig::default()
        };
        let mut c = client(config, group(ServerStrategy::Failover, &[1812]));
        for _ in 0..257 {
            c.submit(t0, "g", pap()).unwrap();
        }
        let tx = transmits(&mut c);
        assert_eq!(tx.len(), 256);
        let mut ids: Vec<u8> = tx.iter().map(|(_, b)| b[1]).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 256);
    }

    #[test]
    fn round_robin_and_weighted_spread() {
        let t0 = Instant::now();
        let mut c = client(
            ClientConfig::default(),
            group(ServerStrategy::RoundRobin, &[1000, 2000, 3000]),
        );
        for _ in 0..6 {
            c.submit(t0, "g", pap()).unwrap();
        }
        let ports: Vec<u16> = transmits(&mut c)
            .iter()
            .map(|(t, _)| t.destination.port())
            .collect();
        assert_eq!(ports, [1000, 2000, 3000, 1000, 2000, 3000]);

        let mut g = group(ServerStrategy::Weighted, &[1000, 2000]);
        g.servers[0].weight = 3;
        let mut c = client(ClientConfig::default(), g);
        for _ in 0..8 {
            c.submit(t0, "g", pap()).unwrap();
        }
        let heavy = transmits(&mut c)
            .iter()
            .filter(|(t, _)| t.destination.port() == 1000)
            .count();
        assert_eq!(heavy, 6);
    }

    /// A lossy simulated link: a seeded RNG drops, duplicates and delays
    /// datagrams both ways; every request still completes exactly once and
    /// nothing panics.
    #[test]
    fn lossy_link_every_request_completes_once() {
        let t0 = Instant::now();
        let mut g = group(ServerStrategy::Failover, &[1812]);
        g.retries = 14;
        g.dead_after = 255;
        let mut c = client(ClientConfig::default(), g);
        let mut rng = StdRng::from_seed([9; 32]);
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(
                c.submit(t0, "g", if i % 2 == 0 { pap() } else { acct() })
                    .unwrap(),
            );
        }
        let mut now = t0;
        let mut done = Vec::new();
        for _ in 0..200 {
            for (t, bytes) in transmits(&mut c) {
                let roll = rng.next_u32() % 10;
                if roll < 3 {
                    continue; // lost request
                }
                let code = if bytes[0] == 1 {
                    Code::AccessAccept
                } else {
                    Code::AccountingResponse
                };
                let reply = answer(&bytes, code, SECRET);
                if roll < 5 {
                    continue; // lost reply
                }
                c.handle_datagram(now, t.socket, t.destination, &reply);
                if roll == 9 {
                    c.handle_datagram(now, t.socket, t.destination, &reply);
                }
            }
            done.extend(completed(&events(&mut c)));
            match c.poll_timeout() {
                Some(at) => {
                    now = at;
                    c.handle_timeout(now);
                }
                None => break,
            }
        }
        done.sort_by_key(|(id, _)| *id);
        let got: Vec<RequestId> = done.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, ids);
        assert!(done.iter().all(|(_, o)| !matches!(o, Outcome::Failed(_))));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), socket in 0usize..6) {
            let t0 = Instant::now();
            let mut c = client(ClientConfig::default(), group(ServerStrategy::Failover, &[1812]));
            c.submit(t0, "g", pap()).unwrap();
            let tx = transmits(&mut c);
            let mut d = data.clone();
            if d.len() > 1 { d[1] = tx[0].1[1]; }
            c.handle_datagram(t0, socket, tx[0].0.destination, &d);
            c.handle_datagram(t0, socket, tx[0].0.destination, &data);
        }
    }
}
