//! The LNS families: proxy LCP and proxy authentication outcomes (RFC 2661
//! §4.4.5), refused calls and sessions, per-phase set-up latency at the
//! LNS, sessions per peer rule, address pools, and the TUN data plane.

use prometheus::core::Collector;
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec};

use super::{SETUP_BUCKETS, counter, gauge_vec, histogram};
use crate::observe::lns::{LnsEvent, LnsPhase, LnsRefusal, ProxyAuthOutcome, ProxyLcpOutcome};
use crate::observe::variant_label;

/// The LNS families.
#[derive(Debug)]
pub(super) struct LnsFamilies {
    proxy_lcp: IntCounterVec,
    proxy_auth: IntCounterVec,
    refused: IntCounterVec,
    setup_phase: HistogramVec,
    pub(super) peer_sessions: IntGaugeVec,
    pub(super) peer_tunnels: IntGaugeVec,
    pub(super) pool_size: IntGaugeVec,
    pub(super) pool_used: IntGaugeVec,
    pub(super) pool_exhausted: IntCounterVec,
    pub(super) tun_packets: IntCounterVec,
    pub(super) tun_bytes: IntCounterVec,
    pub(super) tun_dropped: IntCounterVec,
}

impl LnsFamilies {
    pub(super) fn new() -> Self {
        let this = Self {
            proxy_lcp: counter(
                "tunnelnas_lns_proxy_lcp_total",
                "Incoming calls by what became of the LAC's proxy LCP (accepted, renegotiated, refused).",
                &["outcome"],
            ),
            proxy_auth: counter(
                "tunnelnas_lns_proxy_auth_total",
                "Incoming calls by what became of the LAC's proxy authentication (accepted, rechallenged, failed).",
                &["outcome"],
            ),
            refused: counter(
                "tunnelnas_lns_refused_total",
                "Calls or sessions the LNS refused, by reason (session_limit, no_address, proxy_lcp, proxy_auth).",
                &["reason"],
            ),
            setup_phase: histogram(
                "tunnelnas_lns_setup_phase_seconds",
                "Set-up time at the LNS per phase: link (ICCN to credentials), radius, network (Accept to NCP up), total (ICCN to up).",
                &["phase"],
                SETUP_BUCKETS,
            ),
            peer_sessions: gauge_vec(
                "tunnelnas_lns_peer_sessions",
                "Sessions per [[lns.peer]] rule.",
                &["peer"],
            ),
            peer_tunnels: gauge_vec(
                "tunnelnas_lns_peer_tunnels",
                "Tunnels per [[lns.peer]] rule.",
                &["peer"],
            ),
            pool_size: gauge_vec(
                "tunnelnas_lns_pool_addresses",
                "Addresses an [[lns.pool]] can hand out.",
                &["pool"],
            ),
            pool_used: gauge_vec(
                "tunnelnas_lns_pool_used_addresses",
                "Addresses of an [[lns.pool]] in use.",
                &["pool"],
            ),
            pool_exhausted: counter(
                "tunnelnas_lns_pool_exhausted_total",
                "Allocations an [[lns.pool]] refused because it was full.",
                &["pool"],
            ),
            tun_packets: counter(
                "tunnelnas_lns_tun_packets_total",
                "IP packets through the TUN device, by direction (to_tun = from subscribers).",
                &["direction"],
            ),
            tun_bytes: counter(
                "tunnelnas_lns_tun_bytes_total",
                "Octets through the TUN device, by direction.",
                &["direction"],
            ),
            tun_dropped: counter(
                "tunnelnas_lns_tun_dropped_total",
                "IP packets the LNS dropped, by reason (spoofed source from a subscriber, no_route from TUN).",
                &["reason"],
            ),
        };
        for outcome in [
            ProxyLcpOutcome::Accepted,
            ProxyLcpOutcome::Renegotiated,
            ProxyLcpOutcome::Refused,
        ] {
            this.proxy_lcp
                .with_label_values(&[&variant_label(&outcome)]);
        }
        for outcome in [
            ProxyAuthOutcome::Accepted,
            ProxyAuthOutcome::Rechallenged,
            ProxyAuthOutcome::Failed,
        ] {
            this.proxy_auth
                .with_label_values(&[&variant_label(&outcome)]);
        }
        for reason in [
            LnsRefusal::SessionLimit,
            LnsRefusal::NoAddress,
            LnsRefusal::ProxyLcp,
            LnsRefusal::ProxyAuth,
        ] {
            this.refused.with_label_values(&[&variant_label(&reason)]);
        }
        for phase in [
            LnsPhase::Link,
            LnsPhase::Radius,
            LnsPhase::Network,
            LnsPhase::Total,
        ] {
            this.setup_phase
                .with_label_values(&[&variant_label(&phase)]);
        }
        for direction in ["to_tun", "from_tun"] {
            this.tun_packets.with_label_values(&[direction]);
            this.tun_bytes.with_label_values(&[direction]);
        }
        for reason in ["spoofed", "no_route"] {
            this.tun_dropped.with_label_values(&[reason]);
        }
        this
    }

    pub(super) fn record(&self, event: &LnsEvent) {
        match event {
            LnsEvent::ProxyLcp(outcome) => self
                .proxy_lcp
                .with_label_values(&[&variant_label(outcome)])
                .inc(),
            LnsEvent::ProxyAuth(outcome) => self
                .proxy_auth
                .with_label_values(&[&variant_label(outcome)])
                .inc(),
            LnsEvent::Refused(reason) => self
                .refused
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            LnsEvent::Phase { phase, took } => self
                .setup_phase
                .with_label_values(&[&variant_label(phase)])
                .observe(took.as_secs_f64()),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.proxy_lcp.clone()),
            Box::new(self.proxy_auth.clone()),
            Box::new(self.refused.clone()),
            Box::new(self.setup_phase.clone()),
            Box::new(self.peer_sessions.clone()),
            Box::new(self.peer_tunnels.clone()),
            Box::new(self.pool_size.clone()),
            Box::new(self.pool_used.clone()),
            Box::new(self.pool_exhausted.clone()),
            Box::new(self.tun_packets.clone()),
            Box::new(self.tun_bytes.clone()),
            Box::new(self.tun_dropped.clone()),
        ]
    }
}
