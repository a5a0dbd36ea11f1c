//! Prometheus metric families and the one place core events become metrics.
//!
//! Protocol cores never touch a counter: they emit typed [`Event`]s, and
//! [`Metrics::record`] maps each to the families below (DESIGN.md,
//! "Observability is events"). Labels stay low-cardinality — role, protocol,
//! reason, result code, server — never a user name or a session id.
//!
//! The process owns one [`Metrics`] (its own `prometheus::Registry`, not the
//! global default one), shared by reference with every driver.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::aaa::client::{ClientEvent as RadiusClientEvent, Outcome as RadiusOutcome};
use crate::aaa::dynauth::{DynAuthEvent, DynAuthResult};
use crate::aaa::service::AaaEvent;
use crate::l2tp::Event as L2tpEvent;
use crate::observe::lac::{
    LacEvent, LacObserver, LacPhase, LacSnapshot, SelectEvent, SessionState,
};
use crate::ppp::LinkEvent;
use crate::pppoe::Event as PppoeEvent;
use crate::wire::l2tp::ResultCode;

/// Version of this build, as reported by `tunnelnas_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which parser met a packet it had to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireProtocol {
    /// Ethernet / 802.1Q framing.
    Ethernet,
    /// PPPoE discovery or session header.
    Pppoe,
    /// PPP and its control protocols.
    Ppp,
    /// L2TPv2 header, AVPs or control message.
    L2tp,
    /// RADIUS packet or attribute.
    Radius,
}

impl WireProtocol {
    /// Every protocol, to initialise series at zero.
    pub const ALL: [Self; 5] = [
        Self::Ethernet,
        Self::Pppoe,
        Self::Ppp,
        Self::L2tp,
        Self::Radius,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ethernet => "ethernet",
            Self::Pppoe => "pppoe",
            Self::Ppp => "ppp",
            Self::L2tp => "l2tp",
            Self::Radius => "radius",
        }
    }
}

/// Something a core or driver reports. Each maps to one or more families in
/// [`Metrics::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A received packet was dropped because it did not parse.
    MalformedPacket {
        /// The parser that refused it.
        protocol: WireProtocol,
        /// Why, as a short fixed label (see [`malformed_reason`]).
        reason: &'static str,
    },
}

/// Every value [`malformed_reason`] returns.
pub const MALFORMED_REASONS: [&str; 4] =
    ["truncated", "malformed", "unsupported", "buffer_too_small"];

/// The low-cardinality reason label for a wire error.
pub fn malformed_reason(error: &crate::wire::Error) -> &'static str {
    match error {
        crate::wire::Error::Truncated { .. } => "truncated",
        crate::wire::Error::Malformed(_) => "malformed",
        crate::wire::Error::Unsupported(_) => "unsupported",
        crate::wire::Error::BufferTooSmall { .. } => "buffer_too_small",
    }
}

/// A step of bringing a subscriber up, timed by the role drivers
/// (`tunnelnas_setup_phase_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetupPhase {
    /// PADI to PADS (RFC 2516 §5).
    Discovery,
    /// LCP to Opened (RFC 1661 §3.3).
    Lcp,
    /// Authentication phase, the AAA decision included (RFC 1661 §3.4).
    Auth,
    /// The RADIUS round trip alone.
    Radius,
    /// IPCP to Opened (RFC 1332).
    Ipcp,
    /// IPv6CP to Opened (RFC 5072).
    Ipv6cp,
    /// L2TP tunnel establishment (RFC 2661 §7.2).
    Tunnel,
    /// L2TP incoming call (RFC 2661 §7.4).
    Session,
}

impl SetupPhase {
    /// Every phase.
    pub const ALL: [Self; 8] = [
        Self::Discovery,
        Self::Lcp,
        Self::Auth,
        Self::Radius,
        Self::Ipcp,
        Self::Ipv6cp,
        Self::Tunnel,
        Self::Session,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Lcp => "lcp",
            Self::Auth => "auth",
            Self::Radius => "radius",
            Self::Ipcp => "ipcp",
            Self::Ipv6cp => "ipv6cp",
            Self::Tunnel => "tunnel",
            Self::Session => "session",
        }
    }
}

pub use crate::observe::variant_label;

mod lns;

/// The L2TP Result Code as a label: the RFC 2661 §4.4.2 codes by number,
/// anything else `other` (a peer cannot create unbounded series).
fn result_label(result: &ResultCode) -> &'static str {
    const KNOWN: [&str; 12] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"];
    KNOWN
        .get(usize::from(result.result))
        .copied()
        .unwrap_or("other")
}

/// The process's metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    malformed_packets: IntCounterVec,
    setup_phase: HistogramVec,
    pppoe_packets: IntCounterVec,
    pppoe_refusals: IntCounterVec,
    pppoe_sessions: IntGauge,
    pppoe_terminations: IntCounterVec,
    ppp_auth: IntCounterVec,
    ppp_down: IntCounterVec,
    ppp_dropped: IntCounterVec,
    l2tp_tunnels: IntGaugeVec,
    l2tp_sessions: IntGauge,
    l2tp_tunnel_down: IntCounterVec,
    l2tp_stopccn: IntCounterVec,
    l2tp_cdn: IntCounterVec,
    l2tp_dropped: IntCounterVec,
    l2tp_setup: HistogramVec,
    l2tp_channel: IntCounterVec,
    radius_requests: IntCounterVec,
    radius_rtt: HistogramVec,
    radius_timeouts: IntCounterVec,
    radius_dropped: IntCounterVec,
    radius_server_up: IntGaugeVec,
    radius_queue: IntGaugeVec,
    radius_auth: IntCounterVec,
    spool_records: IntGauge,
    spool_oldest: Gauge,
    accounting_lost: IntCounterVec,
    accounting_delivered: IntCounterVec,
    dynauth: IntCounterVec,
    dynauth_dropped: IntCounterVec,
    lac: LacFamilies,
    lns: lns::LnsFamilies,
    /// Names of every registered family, empty ones included.
    family_names: Vec<String>,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

fn histogram(name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("static metric definition")
}

/// Buckets for protocol steps: 1 ms to 60 s.
const SETUP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets for RADIUS round trips: 0.5 ms to 10 s.
const RTT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Creates the registry with process metrics (resident memory, open file
    /// descriptors, CPU, start time), build information and uptime.
    pub fn new() -> Self {
        let registry = Registry::new();
        let malformed_packets = IntCounterVec::new(
            Opts::new(
                "tunnelnas_malformed_packets_total",
                "Received packets dropped because they did not parse, by protocol and reason.",
            ),
            &["protocol", "reason"],
        )
        .expect("static metric definition");
        let build_info = IntGauge::with_opts(
            Opts::new(
                "tunnelnas_build_info",
                "Always 1; the labels say which tunnelnas build runs.",
            )
            .const_label("version", VERSION),
        )
        .expect("static metric definition");
        build_info.set(1);
        // Series exist at zero from the start, so dashboards and alerts see
        // "no drops" rather than "no data".
        for protocol in WireProtocol::ALL {
            for reason in MALFORMED_REASONS {
                malformed_packets.with_label_values(&[protocol.as_str(), reason]);
            }
        }

        let this = Self {
            malformed_packets,
            setup_phase: histogram(
                "tunnelnas_setup_phase_seconds",
                "Time a subscriber spent in each step of coming up.",
                &["phase"],
                SETUP_BUCKETS,
            ),
            pppoe_packets: counter(
                "tunnelnas_pppoe_discovery_packets_total",
                "PPPoE discovery packets by code and direction.",
                &["code", "direction"],
            ),
            pppoe_refusals: counter(
                "tunnelnas_pppoe_refusals_total",
                "PPPoE discovery packets not served, by reason.",
                &["reason"],
            ),
            pppoe_sessions: IntGauge::new(
                "tunnelnas_pppoe_sessions",
                "PPPoE sessions handed out and not yet terminated.",
            )
            .expect("static metric definition"),
            pppoe_terminations: counter(
                "tunnelnas_pppoe_terminations_total",
                "PPPoE sessions ended, by who sent the PADT.",
                &["by"],
            ),
            ppp_auth: counter(
                "tunnelnas_ppp_auth_total",
                "PPP authentications finished, by result.",
                &["result"],
            ),
            ppp_down: counter(
                "tunnelnas_ppp_link_down_total",
                "PPP links that went down, by reason.",
                &["reason"],
            ),
            ppp_dropped: counter(
                "tunnelnas_ppp_dropped_packets_total",
                "PPP packets dropped by the negotiation cores, by reason.",
                &["reason"],
            ),
            l2tp_tunnels: gauge_vec(
                "tunnelnas_l2tp_tunnels",
                "Established L2TP tunnels by role (lac: we sent the SCCRQ).",
                &["role"],
            ),
            l2tp_sessions: IntGauge::new("tunnelnas_l2tp_sessions", "Established L2TP sessions.")
                .expect("static metric definition"),
            l2tp_tunnel_down: counter(
                "tunnelnas_l2tp_tunnel_down_total",
                "L2TP tunnels that went down, by cause.",
                &["cause"],
            ),
            l2tp_stopccn: counter(
                "tunnelnas_l2tp_stopccn_total",
                "StopCCN messages by direction and Result Code (RFC 2661 §4.4.2).",
                &["direction", "result"],
            ),
            l2tp_cdn: counter(
                "tunnelnas_l2tp_cdn_total",
                "CDN messages by direction and Result Code (RFC 2661 §4.4.2).",
                &["direction", "result"],
            ),
            l2tp_dropped: counter(
                "tunnelnas_l2tp_dropped_datagrams_total",
                "L2TP datagrams dropped before reaching a tunnel, by reason.",
                &["reason"],
            ),
            l2tp_setup: histogram(
                "tunnelnas_l2tp_setup_seconds",
                "L2TP tunnel (SCCRQ to SCCCN) and session (request to ICCN) setup time.",
                &["kind"],
                SETUP_BUCKETS,
            ),
            l2tp_channel: counter(
                "tunnelnas_l2tp_control_channel_total",
                "Control-channel activity (RFC 2661 §5.8): retransmit, window_stall, duplicate, out_of_order, out_of_window, invalid_ack.",
                &["activity"],
            ),
            radius_requests: counter(
                "tunnelnas_radius_requests_total",
                "RADIUS packets sent, by group, server, service and kind (first or retransmit).",
                &["group", "server", "service", "kind"],
            ),
            radius_rtt: histogram(
                "tunnelnas_radius_rtt_seconds",
                "RADIUS round-trip time by server.",
                &["group", "server"],
                RTT_BUCKETS,
            ),
            radius_timeouts: counter(
                "tunnelnas_radius_timeouts_total",
                "RADIUS transmissions that got no answer in time, by server.",
                &["group", "server"],
            ),
            radius_dropped: counter(
                "tunnelnas_radius_dropped_total",
                "RADIUS datagrams dropped, by reason (bad authenticator, unknown id, ...).",
                &["reason"],
            ),
            radius_server_up: gauge_vec(
                "tunnelnas_radius_server_up",
                "1 while a RADIUS server is considered alive, 0 while dead.",
                &["group", "server", "service"],
            ),
            radius_queue: gauge_vec(
                "tunnelnas_radius_queue_depth",
                "RADIUS requests waiting because every server is at its limit.",
                &["group"],
            ),
            radius_auth: counter(
                "tunnelnas_radius_auth_total",
                "Authentications by group and result.",
                &["group", "result"],
            ),
            spool_records: IntGauge::new(
                "tunnelnas_accounting_spool_records",
                "Accounting records persisted and not yet acknowledged.",
            )
            .expect("static metric definition"),
            spool_oldest: Gauge::new(
                "tunnelnas_accounting_spool_oldest_seconds",
                "Age of the oldest unacknowledged accounting record.",
            )
            .expect("static metric definition"),
            accounting_lost: counter(
                "tunnelnas_accounting_records_lost_total",
                "Accounting records that could not be spooled, by reason.",
                &["reason"],
            ),
            accounting_delivered: counter(
                "tunnelnas_accounting_records_delivered_total",
                "Accounting records acknowledged by RADIUS, by group.",
                &["group"],
            ),
            dynauth: counter(
                "tunnelnas_dynauth_requests_total",
                "RFC 5176 requests answered, by kind and result.",
                &["kind", "result"],
            ),
            dynauth_dropped: counter(
                "tunnelnas_dynauth_dropped_total",
                "RFC 5176 requests dropped, by reason (or answered from the duplicate cache).",
                &["reason"],
            ),
            lac: LacFamilies::new(),
            lns: lns::LnsFamilies::new(),
            registry,
            family_names: Vec::new(),
        };
        // Series that dashboards and alerts rely on exist at zero from the
        // start, so they show "none" rather than "no data".
        for phase in SetupPhase::ALL {
            this.setup_phase.with_label_values(&[phase.as_str()]);
        }
        for role in ["lac", "lns"] {
            this.l2tp_tunnels.with_label_values(&[role]);
        }
        for kind in ["tunnel", "session"] {
            this.l2tp_setup.with_label_values(&[kind]);
        }
        for activity in ["retransmit", "window_stall"] {
            this.l2tp_channel.with_label_values(&[activity]);
        }
        for direction in ["sent", "received"] {
            this.l2tp_stopccn.with_label_values(&[direction, "1"]);
            this.l2tp_cdn.with_label_values(&[direction, "1"]);
        }
        for result in ["accept", "reject"] {
            this.ppp_auth.with_label_values(&[result]);
        }
        for (code, direction) in [
            ("padi", "rx"),
            ("pado", "tx"),
            ("padr", "rx"),
            ("pads", "tx"),
        ] {
            this.pppoe_packets.with_label_values(&[code, direction]);
        }
        this.pppoe_refusals.with_label_values(&["rate_limited"]);
        this.ppp_down.with_label_values(&["peer_terminated"]);
        this.ppp_dropped.with_label_values(&["malformed"]);
        this.l2tp_tunnel_down
            .with_label_values(&["peer_unreachable"]);
        this.l2tp_dropped.with_label_values(&["malformed"]);
        this.pppoe_terminations.with_label_values(&["peer"]);
        this.radius_dropped
            .with_label_values(&["bad_authenticator"]);
        this.accounting_lost.with_label_values(&["spool_full"]);
        for kind in ["disconnect", "coa"] {
            for result in ["ack", "nak"] {
                this.dynauth.with_label_values(&[kind, result]);
            }
        }
        this.dynauth_dropped
            .with_label_values(&["bad_authenticator"]);

        let families: Vec<Box<dyn Collector>> = vec![
            Box::new(this.malformed_packets.clone()),
            Box::new(build_info),
            Box::new(Uptime::new()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
            Box::new(this.setup_phase.clone()),
            Box::new(this.pppoe_packets.clone()),
            Box::new(this.pppoe_refusals.clone()),
            Box::new(this.pppoe_sessions.clone()),
            Box::new(this.pppoe_terminations.clone()),
            Box::new(this.ppp_auth.clone()),
            Box::new(this.ppp_down.clone()),
            Box::new(this.ppp_dropped.clone()),
            Box::new(this.l2tp_tunnels.clone()),
            Box::new(this.l2tp_sessions.clone()),
            Box::new(this.l2tp_tunnel_down.clone()),
            Box::new(this.l2tp_stopccn.clone()),
            Box::new(this.l2tp_cdn.clone()),
            Box::new(this.l2tp_dropped.clone()),
            Box::new(this.l2tp_setup.clone()),
            Box::new(this.l2tp_channel.clone()),
            Box::new(this.radius_requests.clone()),
            Box::new(this.radius_rtt.clone()),
            Box::new(this.radius_timeouts.clone()),
            Box::new(this.radius_dropped.clone()),
            Box::new(this.radius_server_up.clone()),
            Box::new(this.radius_queue.clone()),
            Box::new(this.radius_auth.clone()),
            Box::new(this.spool_records.clone()),
            Box::new(this.spool_oldest.clone()),
            Box::new(this.accounting_lost.clone()),
            Box::new(this.accounting_delivered.clone()),
            Box::new(this.dynauth.clone()),
            Box::new(this.dynauth_dropped.clone()),
        ];
        let families: Vec<Box<dyn Collector>> = families
            .into_iter()
            .chain(this.lac.collectors())
            .chain(this.lns.collectors())
            .collect();
        let mut this = this;
        for family in families {
            this.family_names
                .extend(family.desc().iter().map(|d| d.fq_name.clone()));
            this.registry
                .register(family)
                .expect("metric names are unique within tunnelnas");
        }
        this.family_names.sort();
        this
    }

    /// Maps one LAC core event (issue 6) to its families, and the protocol
    /// events it wraps to theirs.
    pub fn record_lac(&self, event: &LacEvent) {
        let lac = &self.lac;
        match event {
            LacEvent::Pppoe(e) => self.record_pppoe(e),
            LacEvent::Ppp(e) => self.record_ppp(e),
            LacEvent::L2tp(e) => self.record_l2tp(e),
            LacEvent::Select(SelectEvent::Denylisted { endpoint, .. }) => lac
                .denylist_total
                .with_label_values(&[&endpoint.to_string()])
                .inc(),
            LacEvent::Select(_) => {}
            LacEvent::Lns(event) => self.record_lns(event),
            LacEvent::Phase { phase, took } => {
                let phase = match phase {
                    LacPhase::Radius => SetupPhase::Radius,
                    LacPhase::Tunnel => SetupPhase::Tunnel,
                    LacPhase::Session => SetupPhase::Session,
                };
                self.observe_setup_phase(phase, *took);
            }
            LacEvent::Selection(outcome) => {
                lac.selection.with_label_values(&[outcome.as_str()]).inc();
            }
            LacEvent::SetupFailed(reason) => lac
                .setup_failures
                .with_label_values(&[reason.as_str()])
                .inc(),
            LacEvent::SessionEnded { end } => lac
                .ended
                .with_label_values(&[&variant_label(&end.terminate_cause())])
                .inc(),
        }
    }

    /// Maps one LNS event to its families.
    pub fn record_lns(&self, event: &crate::observe::lns::LnsEvent) {
        self.lns.record(event);
    }

    /// Sets the LNS gauges: sessions per peer rule, pools, and the TUN
    /// data plane's totals (the core's counters, so gauges that only grow).
    pub fn update_lns(&self, snapshot: &crate::observe::lns::LnsSnapshot) {
        let lns = &self.lns;
        for (peer, count) in &snapshot.peer_sessions {
            lns.peer_sessions
                .with_label_values(&[peer])
                .set(i64::from(*count));
        }
        for (peer, count) in &snapshot.peer_tunnels {
            lns.peer_tunnels
                .with_label_values(&[peer])
                .set(i64::from(*count));
        }
        for pool in &snapshot.pools {
            lns.pool_size
                .with_label_values(&[&pool.name])
                .set(i64::from(pool.size));
            lns.pool_used
                .with_label_values(&[&pool.name])
                .set(i64::from(pool.used));
            let exhausted = lns.pool_exhausted.with_label_values(&[&pool.name]);
            exhausted.inc_by(pool.exhausted.saturating_sub(exhausted.get()));
        }
        // The core keeps totals; the counters follow them.
        let set = |family: &IntCounterVec, label: &str, total: u64| {
            let counter = family.with_label_values(&[label]);
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        set(&lns.tun_packets, "to_tun", snapshot.to_tun.packets);
        set(&lns.tun_bytes, "to_tun", snapshot.to_tun.bytes);
        set(&lns.tun_packets, "from_tun", snapshot.from_tun.packets);
        set(&lns.tun_bytes, "from_tun", snapshot.from_tun.bytes);
        set(&lns.tun_dropped, "spoofed", snapshot.spoofed);
        set(&lns.tun_dropped, "no_route", snapshot.no_route);
    }

    /// Sets the LAC gauges and forwarding counters from a snapshot of the
    /// core (taken by the driver once a second).
    pub fn update_lac(&self, snapshot: &LacSnapshot) {
        let lac = &self.lac;
        for (state, count) in &snapshot.states {
            lac.sessions
                .with_label_values(&[state.as_str()])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        lac.lns_sessions.reset();
        for ((group, lns), count) in &snapshot.per_lns {
            lac.lns_sessions
                .with_label_values(&[group.as_ref(), &lns.to_string()])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        for (family, per_lns) in [
            (&lac.queued_calls, &snapshot.queued_calls),
            (&lac.lns_tunnels, &snapshot.tunnels),
        ] {
            family.reset();
            for (lns, count) in per_lns {
                family
                    .with_label_values(&[&lns.to_string()])
                    .set(i64::try_from(*count).unwrap_or(i64::MAX));
            }
        }
        lac.denylisted
            .set(i64::try_from(snapshot.denylisted).unwrap_or(i64::MAX));
        let bump = |c: &IntCounterVec, label: &str, total: u64| {
            let counter = c.with_label_values(&[label]);
            let delta = total.saturating_sub(counter.get());
            counter.inc_by(delta);
        };
        let t = &snapshot.totals;
        bump(&lac.packets, "upstream", t.upstream.packets);
        bump(&lac.packets, "downstream", t.downstream.packets);
        bump(&lac.bytes, "upstream", t.upstream.bytes);
        bump(&lac.bytes, "downstream", t.downstream.bytes);
        bump(&lac.fastpath_drops, "policed", t.policed);
        bump(&lac.fastpath_drops, "other", t.dropped);
    }

    /// Maps one event to the families it touches.
    pub fn record(&self, event: &Event) {
        match event {
            Event::MalformedPacket { protocol, reason } => self
                .malformed_packets
                .with_label_values(&[protocol.as_str(), reason])
                .inc(),
        }
    }

    /// Times one step of a subscriber's set-up.
    pub fn observe_setup_phase(&self, phase: SetupPhase, took: Duration) {
        self.setup_phase
            .with_label_values(&[phase.as_str()])
            .observe(took.as_secs_f64());
    }

    /// Maps a PPPoE discovery server event (issue 3: packets by code and
    /// direction, refusals by reason, sessions).
    pub fn record_pppoe(&self, event: &PppoeEvent) {
        match event {
            PppoeEvent::PacketCounted { code, direction } => self
                .pppoe_packets
                .with_label_values(&[&variant_label(code), &variant_label(direction)])
                .inc(),
            PppoeEvent::Refused { reason, .. } => self
                .pppoe_refusals
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            PppoeEvent::SessionEstablished { discovery_took, .. } => {
                self.pppoe_sessions.inc();
                self.observe_setup_phase(SetupPhase::Discovery, *discovery_took);
            }
            PppoeEvent::SessionTerminated { by_peer, .. } => {
                self.pppoe_sessions.dec();
                self.pppoe_terminations
                    .with_label_values(&[if *by_peer { "peer" } else { "local" }])
                    .inc();
            }
        }
    }

    /// Maps a PPP link event (authentications, link-down reasons, drops).
    pub fn record_ppp(&self, event: &LinkEvent) {
        match event {
            LinkEvent::Authenticated => self.ppp_auth.with_label_values(&["accept"]).inc(),
            LinkEvent::StepCompleted { step, took } => {
                let phase = match step {
                    crate::ppp::SetupStep::Lcp => SetupPhase::Lcp,
                    crate::ppp::SetupStep::Auth => SetupPhase::Auth,
                    crate::ppp::SetupStep::Ipcp => SetupPhase::Ipcp,
                    crate::ppp::SetupStep::Ipv6cp => SetupPhase::Ipv6cp,
                };
                self.observe_setup_phase(phase, *took);
            }
            LinkEvent::Down { reason } => {
                if matches!(reason, crate::ppp::DownReason::AuthFailed) {
                    self.ppp_auth.with_label_values(&["reject"]).inc();
                }
                self.ppp_down
                    .with_label_values(&[&variant_label(reason)])
                    .inc();
            }
            LinkEvent::Dropped { reason, .. } => self
                .ppp_dropped
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            _ => {}
        }
    }

    /// Maps an L2TP endpoint event (issue 4: tunnels and sessions,
    /// StopCCN / CDN by result code, drops, setup latency).
    pub fn record_l2tp(&self, event: &L2tpEvent) {
        match event {
            L2tpEvent::TunnelUp {
                initiated_locally,
                requested_at,
                at,
                ..
            } => {
                let role = if *initiated_locally { "lac" } else { "lns" };
                self.l2tp_tunnels.with_label_values(&[role]).inc();
                self.l2tp_setup
                    .with_label_values(&["tunnel"])
                    .observe(at.saturating_duration_since(*requested_at).as_secs_f64());
            }
            L2tpEvent::TunnelDown {
                cause,
                was_established,
                initiated_locally,
                ..
            } => {
                if *was_established {
                    let role = if *initiated_locally { "lac" } else { "lns" };
                    self.l2tp_tunnels.with_label_values(&[role]).dec();
                }
                self.l2tp_tunnel_down
                    .with_label_values(&[&variant_label(cause)])
                    .inc();
            }
            L2tpEvent::SessionUp {
                requested_at, at, ..
            } => {
                self.l2tp_sessions.inc();
                self.l2tp_setup
                    .with_label_values(&["session"])
                    .observe(at.saturating_duration_since(*requested_at).as_secs_f64());
            }
            L2tpEvent::SessionDown {
                was_established: true,
                ..
            } => self.l2tp_sessions.dec(),
            L2tpEvent::StopCcn { direction, result } => self
                .l2tp_stopccn
                .with_label_values(&[&variant_label(direction), result_label(result)])
                .inc(),
            L2tpEvent::Cdn { direction, result } => self
                .l2tp_cdn
                .with_label_values(&[&variant_label(direction), result_label(result)])
                .inc(),
            L2tpEvent::Dropped { reason, .. } => self
                .l2tp_dropped
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            L2tpEvent::ControlChannel(activity) => self
                .l2tp_channel
                .with_label_values(&[&variant_label(activity)])
                .inc(),
            _ => {}
        }
    }

    /// Maps an AAA event (issue 5: requests, RTT, timeouts, drops, server
    /// state, spool).
    pub fn record_aaa(&self, event: &AaaEvent) {
        match event {
            AaaEvent::Client(client) => self.record_radius_client(client),
            AaaEvent::AuthResult { group, result } => {
                self.radius_auth
                    .with_label_values(&[group.as_str(), result])
                    .inc();
            }
            AaaEvent::SpoolDepth { depth, oldest_age } => {
                self.spool_records
                    .set(i64::try_from(*depth).unwrap_or(i64::MAX));
                self.spool_oldest.set(oldest_age.as_secs_f64());
            }
            AaaEvent::RecordLost { reason } => {
                self.accounting_lost.with_label_values(&[reason]).inc();
            }
            AaaEvent::RecordDelivered { group } => {
                self.accounting_delivered.with_label_values(&[group]).inc();
            }
            _ => {}
        }
    }

    fn record_radius_client(&self, event: &RadiusClientEvent) {
        match event {
            RadiusClientEvent::Sent { server, retransmit } => {
                let address = server.address.to_string();
                self.radius_requests
                    .with_label_values(&[
                        server.group.as_str(),
                        address.as_str(),
                        variant_label(&server.service).as_str(),
                        if *retransmit { "retransmit" } else { "first" },
                    ])
                    .inc();
            }
            RadiusClientEvent::Response { server, rtt, .. } => self
                .radius_rtt
                .with_label_values(&[&server.group, &server.address.to_string()])
                .observe(rtt.as_secs_f64()),
            RadiusClientEvent::Timeout { server } => self
                .radius_timeouts
                .with_label_values(&[&server.group, &server.address.to_string()])
                .inc(),
            RadiusClientEvent::Dropped { reason, .. } => self
                .radius_dropped
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            RadiusClientEvent::ServerDown { server } | RadiusClientEvent::ServerUp { server } => {
                let up = i64::from(matches!(event, RadiusClientEvent::ServerUp { .. }));
                self.radius_server_up
                    .with_label_values(&[
                        &server.group,
                        &server.address.to_string(),
                        &variant_label(&server.service),
                    ])
                    .set(up);
            }
            RadiusClientEvent::Queued { group, depth } => self
                .radius_queue
                .with_label_values(&[group])
                .set(i64::try_from(*depth).unwrap_or(i64::MAX)),
            RadiusClientEvent::Completed { outcome, .. } => {
                if let RadiusOutcome::Failed(cause) = outcome {
                    self.radius_dropped
                        .with_label_values(&[&format!("failed_{}", variant_label(cause))])
                        .inc();
                }
            }
        }
    }

    /// Maps an RFC 5176 listener event.
    pub fn record_dynauth(&self, event: &DynAuthEvent) {
        match event {
            DynAuthEvent::Answered { kind, result } => {
                let result = match result {
                    DynAuthResult::Ack => "ack",
                    DynAuthResult::Nak(_) => "nak",
                };
                self.dynauth
                    .with_label_values(&[&variant_label(kind), result])
                    .inc();
            }
            DynAuthEvent::Dropped { reason } => self
                .dynauth_dropped
                .with_label_values(&[&variant_label(reason)])
                .inc(),
            DynAuthEvent::Duplicate => self.dynauth_dropped.with_label_values(&["duplicate"]).inc(),
        }
    }

    /// The names of every registered family, including those with no
    /// series yet.
    pub fn family_names(&self) -> &[String] {
        &self.family_names
    }

    /// The registry, for drivers that add their own collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Gathers every family.
    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(8192);
        // Encoding into a Vec cannot fail on I/O; a family with no metric
        // is skipped by the encoder.
        if let Err(err) = TextEncoder::new().encode(&self.gather(), &mut out) {
            tracing::error!(%err, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `tunnelnas_uptime_seconds`, computed when scraped.
#[derive(Debug)]
struct Uptime {
    started: Instant,
    gauge: Gauge,
}

impl Uptime {
    fn new() -> Self {
        let gauge = Gauge::new(
            "tunnelnas_uptime_seconds",
            "Seconds since this tunnelnas process started.",
        )
        .expect("static metric definition");
        Self {
            started: Instant::now(),
            gauge,
        }
    }
}

impl Collector for Uptime {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge.set(self.started.elapsed().as_secs_f64());
        self.gauge.collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use super::*;
    use crate::wire::ethernet::MacAddress;
    use crate::wire::l2tp::{ResultCode, StopCcnResult};

    fn line(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn variant_labels_are_bounded_snake_case() {
        assert_eq!(
            variant_label(&crate::pppoe::RefusalReason::BadCookie),
            "bad_cookie"
        );
        assert_eq!(
            variant_label(&crate::wire::pppoe::Code::Unknown(42)),
            "unknown"
        );
        assert_eq!(
            variant_label(&crate::ppp::DownReason::NegotiationFailed {
                protocol: crate::wire::ppp::Protocol::Ipcp
            }),
            "negotiation_failed"
        );
        assert_eq!(
            result_label(&ResultCode {
                result: 999,
                error: None
            }),
            "other"
        );
    }

    #[test]
    fn core_events_map_to_families() {
        let metrics = Metrics::new();
        let now = Instant::now();
        let later = now + Duration::from_millis(40);
        let peer: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        metrics.record_pppoe(&PppoeEvent::PacketCounted {
            code: crate::wire::pppoe::Code::Padi,
            direction: crate::pppoe::Direction::Rx,
        });
        metrics.record_pppoe(&PppoeEvent::Refused {
            code: crate::wire::pppoe::Code::Padr,
            mac: MacAddress::ZERO,
            reason: crate::pppoe::RefusalReason::BadCookie,
        });
        metrics.record_l2tp(&L2tpEvent::TunnelUp {
            tunnel_id: 1,
            peer_tunnel_id: 2,
            peer,
            initiated_locally: true,
            peer_host_name: b"lns".to_vec(),
            requested_at: now,
            at: later,
        });
        metrics.record_l2tp(&L2tpEvent::StopCcn {
            direction: crate::l2tp::Direction::Received,
            result: ResultCode::stop_ccn(StopCcnResult::from(4)),
        });
        metrics.observe_setup_phase(SetupPhase::Lcp, Duration::from_millis(30));
        metrics.record_ppp(&LinkEvent::Authenticated);
        metrics.record_aaa(&AaaEvent::SpoolDepth {
            depth: 3,
            oldest_age: Duration::from_secs(12),
        });
        let text = metrics.render();
        let value =
            |series: &str| line(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));
        assert_eq!(
            value(r#"tunnelnas_pppoe_discovery_packets_total{code="padi",direction="rx"}"#),
            1.0
        );
        assert_eq!(
            value(r#"tunnelnas_pppoe_refusals_total{reason="bad_cookie"}"#),
            1.0
        );
        assert_eq!(value(r#"tunnelnas_l2tp_tunnels{role="lac"}"#), 1.0);
        assert_eq!(
            value(r#"tunnelnas_l2tp_stopccn_total{direction="received",result="4"}"#),
            1.0
        );
        assert_eq!(
            value(r#"tunnelnas_l2tp_setup_seconds_count{kind="tunnel"}"#),
            1.0
        );
        assert_eq!(
            value(r#"tunnelnas_setup_phase_seconds_count{phase="lcp"}"#),
            1.0
        );
        assert_eq!(value(r#"tunnelnas_ppp_auth_total{result="accept"}"#), 1.0);
        assert_eq!(value("tunnelnas_accounting_spool_records"), 3.0);
        assert_eq!(value("tunnelnas_accounting_spool_oldest_seconds"), 12.0);
    }

    /// Every metric the shipped dashboard and alert rules query is a
    /// family this process registers.
    #[test]
    fn dashboards_and_alerts_query_registered_families() {
        let metrics = Metrics::new();
        let names = metrics.family_names();
        for (file, text) in [
            (
                "grafana/dashboards/tunnelnas-overview.json",
                include_str!("../grafana/dashboards/tunnelnas-overview.json"),
            ),
            (
                "grafana/alerts/tunnelnas-rules.yaml",
                include_str!("../grafana/alerts/tunnelnas-rules.yaml"),
            ),
        ] {
            let mut queried = 0;
            for prefix in ["tunnelnas_", "process_"] {
                for (at, _) in text.match_indices(prefix) {
                    if text[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        continue;
                    }
                    let name: String = text[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let family = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| name.strip_suffix(suffix))
                        .filter(|base| names.iter().any(|n| n == base))
                        .unwrap_or(&name);
                    assert!(
                        names.iter().any(|n| n == family),
                        "{file} queries `{name}`, which is not registered"
                    );
                    queried += 1;
                }
            }
            assert!(queried > 0, "{file} queries nothing");
        }
    }

    #[test]
    fn families_are_exposed() {
        let metrics = Metrics::new();
        metrics.record(&Event::MalformedPacket {
            protocol: WireProtocol::L2tp,
            reason: malformed_reason(&crate::wire::Error::Malformed("avp length")),
        });
        let text = metrics.render();
        assert!(
            text.contains(
                r#"tunnelnas_malformed_packets_total{protocol="l2tp",reason="malformed"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(&format!(r#"tunnelnas_build_info{{version="{VERSION}"}} 1"#)));
        assert!(text.contains("tunnelnas_uptime_seconds "));
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.contains("process_open_fds "));
    }
}

impl LacObserver for Metrics {
    fn lac_event(&self, event: &LacEvent) {
        self.record_lac(event);
    }

    fn lac_gauges(&self, snapshot: &LacSnapshot) {
        self.update_lac(snapshot);
        if let Some(lns) = &snapshot.lns {
            self.update_lns(lns);
        }
    }
}

/// The LAC families (issue 6, item 8).
#[derive(Debug)]
struct LacFamilies {
    sessions: IntGaugeVec,
    lns_sessions: IntGaugeVec,
    queued_calls: IntGaugeVec,
    lns_tunnels: IntGaugeVec,
    selection: IntCounterVec,
    denylisted: IntGauge,
    denylist_total: IntCounterVec,
    packets: IntCounterVec,
    bytes: IntCounterVec,
    fastpath_drops: IntCounterVec,
    ended: IntCounterVec,
    setup_failures: IntCounterVec,
}

impl LacFamilies {
    fn new() -> Self {
        let this = Self {
            sessions: gauge_vec(
                "tunnelnas_lac_sessions",
                "LAC subscriber sessions by state (negotiating, authenticating, tunnelling, up).",
                &["state"],
            ),
            lns_sessions: gauge_vec(
                "tunnelnas_lac_lns_sessions",
                "Established LAC sessions per LNS group (Tunnel-Assignment-Id, else radius or realm:RULE) and endpoint.",
                &["group", "lns"],
            ),
            queued_calls: gauge_vec(
                "tunnelnas_lac_queued_calls",
                "LAC calls waiting for room in the control windows of their LNS's tunnels (bounded by [lac] max_queued_calls), per LNS endpoint.",
                &["lns"],
            ),
            lns_tunnels: gauge_vec(
                "tunnelnas_lac_lns_tunnels",
                "L2TP tunnels per LNS endpoint (up to [lac] max_tunnels_per_lns take new calls per LNS group).",
                &["lns"],
            ),
            selection: counter(
                "tunnelnas_lac_selection_total",
                "LNS selections by outcome (first_choice, failover, no_candidate, exhausted).",
                &["outcome"],
            ),
            denylisted: IntGauge::new(
                "tunnelnas_lac_denylisted_endpoints",
                "LNS endpoints currently denylisted after a failure.",
            )
            .expect("static metric definition"),
            denylist_total: counter(
                "tunnelnas_lac_denylist_total",
                "Times an LNS endpoint was denylisted, by endpoint.",
                &["lns"],
            ),
            packets: counter(
                "tunnelnas_lac_forwarded_packets_total",
                "PPP frames forwarded by the LAC fast path, by direction (upstream = subscriber to LNS).",
                &["direction"],
            ),
            bytes: counter(
                "tunnelnas_lac_forwarded_bytes_total",
                "PPP octets forwarded by the LAC fast path, by direction.",
                &["direction"],
            ),
            fastpath_drops: counter(
                "tunnelnas_lac_fastpath_dropped_total",
                "Frames the LAC fast path dropped, by reason (policed, other).",
                &["reason"],
            ),
            ended: counter(
                "tunnelnas_lac_sessions_ended_total",
                "LAC sessions that ended after coming up, by Acct-Terminate-Cause.",
                &["cause"],
            ),
            setup_failures: counter(
                "tunnelnas_lac_setup_failures_total",
                "Subscribers that never reached forwarding, by reason.",
                &["reason"],
            ),
        };
        for state in SessionState::ALL {
            this.sessions.with_label_values(&[state.as_str()]);
        }
        for outcome in ["first_choice", "failover", "no_candidate", "exhausted"] {
            this.selection.with_label_values(&[outcome]);
        }
        for direction in ["upstream", "downstream"] {
            this.packets.with_label_values(&[direction]);
            this.bytes.with_label_values(&[direction]);
        }
        for reason in ["policed", "other"] {
            this.fastpath_drops.with_label_values(&[reason]);
        }
        this.ended.with_label_values(&["user_request"]);
        this.setup_failures.with_label_values(&["radius_reject"]);
        this
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.sessions.clone()),
            Box::new(self.lns_sessions.clone()),
            Box::new(self.queued_calls.clone()),
            Box::new(self.lns_tunnels.clone()),
            Box::new(self.selection.clone()),
            Box::new(self.denylisted.clone()),
            Box::new(self.denylist_total.clone()),
            Box::new(self.packets.clone()),
            Box::new(self.bytes.clone()),
            Box::new(self.fastpath_drops.clone()),
            Box::new(self.ended.clone()),
            Box::new(self.setup_failures.clone()),
        ]
    }
}
