//! Prometheus metric families and the one place core events become metrics.
//!
//! Protocol cores never touch a counter: they emit typed [`Event`]s, and
//! [`Metrics::record`] maps each to the families below (DESIGN.md,
//! "Observability is events"). Labels stay low-cardinality — role, protocol,
//! reason, result code, server — never a user name or a session id.
//!
//! The process owns one [`Metrics`] (its own `prometheus::Registry`, not the
//! global default one), shared by reference with every driver.

use std::time::Instant;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Gauge, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

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

/// The process's metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    malformed_packets: IntCounterVec,
}

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

        let families: [Box<dyn Collector>; 4] = [
            Box::new(malformed_packets.clone()),
            Box::new(build_info),
            Box::new(Uptime::new()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for family in families {
            registry
                .register(family)
                .expect("metric names are unique within tunnelnas");
        }
        Self {
            registry,
            malformed_packets,
        }
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
    use super::*;

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
