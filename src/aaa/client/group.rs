//! Server-group state: each server's auth and accounting endpoints (consecutive
//! timeouts, dead time, Status-Server probing per RFC 5997 §4, outstanding
//! requests) and the group's pick of a server by its strategy (failover,
//! round-robin, smooth weighted round-robin).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::{Client, GroupConfig, Inflight, Purpose, RequestId, ServerConfig, Service};
use rand::Rng;

use crate::aaa::request::encode_status_server;
use crate::config::ServerStrategy;

#[derive(Debug)]
pub(super) struct Endpoint {
    pub(super) address: SocketAddr,
    pub(super) consecutive_timeouts: u8,
    /// `Some` while dead: when to probe next.
    pub(super) dead_until: Option<Instant>,
    pub(super) probing: bool,
    pub(super) outstanding: usize,
}

#[derive(Debug)]
pub(super) struct ServerState {
    pub(super) config: ServerConfig,
    pub(super) auth: Endpoint,
    pub(super) acct: Endpoint,
    /// Smooth weighted round-robin current weight.
    pub(super) current_weight: i64,
}

impl ServerState {
    pub(super) const fn endpoint(&self, service: Service) -> &Endpoint {
        match service {
            Service::Auth => &self.auth,
            Service::Acct => &self.acct,
        }
    }
    pub(super) const fn endpoint_mut(&mut self, service: Service) -> &mut Endpoint {
        match service {
            Service::Auth => &mut self.auth,
            Service::Acct => &mut self.acct,
        }
    }
}

#[derive(Debug)]
pub(super) struct GroupState {
    pub(super) config: GroupConfig,
    pub(super) servers: Vec<ServerState>,
    pub(super) cursor: usize,
    pub(super) queue: VecDeque<RequestId>,
}

impl Endpoint {
    pub(super) const fn new(address: SocketAddr) -> Self {
        Self {
            address,
            consecutive_timeouts: 0,
            dead_until: None,
            probing: false,
            outstanding: 0,
        }
    }
}

impl Client {
    /// Picks a live, untried server with room, by the group's strategy.
    /// `Err(true)` = some live server exists but is busy (queue);
    /// `Err(false)` = no live untried server.
    pub(super) fn pick(
        &mut self,
        group: usize,
        service: Service,
        tried: &[usize],
    ) -> Result<usize, bool> {
        let limit = self.config.max_outstanding_per_server;
        let g = &mut self.groups[group];
        let candidates: Vec<usize> = (0..g.servers.len())
            .filter(|i| !tried.contains(i) && g.servers[*i].endpoint(service).dead_until.is_none())
            .collect();
        if candidates.is_empty() {
            if tried.is_empty() && self.config.try_dead_servers {
                let soonest = (0..g.servers.len())
                    .filter(|i| g.servers[*i].endpoint(service).outstanding < limit)
                    .min_by_key(|i| g.servers[*i].endpoint(service).dead_until);
                if let Some(server) = soonest {
                    return Ok(server);
                }
            }
            return Err(false);
        }
        let free: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|i| g.servers[*i].endpoint(service).outstanding < limit)
            .collect();
        let Some(&first) = free.first() else {
            return Err(true);
        };
        Ok(match g.config.strategy {
            ServerStrategy::Failover => first,
            ServerStrategy::RoundRobin => {
                let pick = free
                    .iter()
                    .copied()
                    .find(|i| *i >= g.cursor)
                    .unwrap_or(first);
                g.cursor = pick + 1;
                pick
            }
            ServerStrategy::Weighted => {
                // Smooth weighted round-robin (as in nginx).
                let total: i64 = free
                    .iter()
                    .map(|i| i64::from(g.servers[*i].config.weight.max(1)))
                    .sum();
                let mut best = first;
                for &i in &free {
                    let s = &mut g.servers[i];
                    s.current_weight += i64::from(s.config.weight.max(1));
                }
                for &i in &free {
                    if g.servers[i].current_weight > g.servers[best].current_weight {
                        best = i;
                    }
                }
                g.servers[best].current_weight -= total;
                best
            }
        })
    }

    pub(super) fn probe(&mut self, now: Instant, group: usize, server: usize, service: Service) {
        let Some(slot) = self.allocate_slot() else {
            return;
        };
        let mut authenticator = [0u8; 16];
        self.rng.fill_bytes(&mut authenticator);
        let mut buf = vec![0u8; 256];
        let secret = self.groups[group].servers[server].config.secret.clone();
        let Ok(len) = encode_status_server(&mut buf, slot.1, &authenticator, &secret, &self.nas)
        else {
            self.ids[slot.0].release(slot.1);
            return;
        };
        buf.truncate(len);
        let timeout = self.groups[group].config.timeout;
        let endpoint = self.groups[group].servers[server].endpoint_mut(service);
        endpoint.probing = true;
        endpoint.outstanding += 1;
        let address = endpoint.address;
        tracing::debug!(%address, "Status-Server probe of a dead RADIUS server");
        self.transmits.push_back((slot.0, address, buf.clone()));
        self.inflight.insert(
            slot,
            Inflight {
                purpose: Purpose::Probe,
                group,
                server,
                service,
                authenticator,
                sent_at: now,
                deadline: now + timeout,
                transmissions: 1,
                bytes: buf,
            },
        );
    }
}
