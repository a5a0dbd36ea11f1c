//! What the benchmark reads from the LAC process: its Prometheus text
//! (fetched from inside its namespace) and its resident memory and CPU
//! time from `/proc`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::topology::in_netns;

/// `GET /metrics` from `addr` inside namespace `ns`; the body.
pub(crate) fn scrape(ns: &str, addr: SocketAddr) -> anyhow::Result<String> {
    get(ns, addr, "/metrics")
}

/// `GET path` from `addr` inside namespace `ns`; the body.
pub(crate) fn get(ns: &str, addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = in_netns(ns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    // HTTP/1.0: the server closes after the response and does not chunk.
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: lac\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading {path}"))?;
    let text = String::from_utf8(response).with_context(|| format!("{path} is not UTF-8"))?;
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("malformed HTTP response from {addr}");
    };
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

/// The value of the sample `series` (name with its labels exactly as
/// exposed, e.g. `x_total{direction="upstream"}`) in Prometheus text.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?.split_whitespace().next()?;
        value.parse().ok()
    })
}

/// Sum of the samples of metric `name` whose labels include every pair
/// of `labels` (0 when there is none).
pub(crate) fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            wanted.then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// The samples of metric `name` by the value of its label `label`
/// (samples without it left out), in the order exposed.
pub(crate) fn by_label(text: &str, name: &str, label: &str) -> Vec<(String, f64)> {
    let key = format!("{label}=\"");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = series.split_once('{')?;
            if metric != name {
                return None;
            }
            let (_, rest) = label_text.split_once(&key)?;
            let (label_value, _) = rest.split_once('"')?;
            Some((label_value.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The LAC counters the forwarding phase compares.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LacCounters {
    /// Upstream packets forwarded.
    pub(crate) upstream_packets: f64,
    /// Upstream PPP octets forwarded.
    pub(crate) upstream_bytes: f64,
    /// Downstream packets forwarded.
    pub(crate) downstream_packets: f64,
    /// Fast-path drops, every reason.
    pub(crate) fastpath_dropped: f64,
    /// Sessions up.
    pub(crate) sessions_up: f64,
}

impl LacCounters {
    /// Reads them from Prometheus text.
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let get = |series: &str| {
            sample(text, series).with_context(|| format!("/metrics has no `{series}`"))
        };
        Ok(Self {
            upstream_packets: get("tunnelnas_lac_forwarded_packets_total{direction=\"upstream\"}")?,
            upstream_bytes: get("tunnelnas_lac_forwarded_bytes_total{direction=\"upstream\"}")?,
            downstream_packets: get(
                "tunnelnas_lac_forwarded_packets_total{direction=\"downstream\"}",
            )?,
            fastpath_dropped: get("tunnelnas_lac_fastpath_dropped_total{reason=\"policed\"}")?
                + get("tunnelnas_lac_fastpath_dropped_total{reason=\"other\"}")?,
            sessions_up: get("tunnelnas_lac_sessions{state=\"up\"}")?,
        })
    }
}

/// Resident memory and CPU time of a process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcSample {
    /// VmRSS, KiB.
    pub(crate) rss_kib: u64,
    /// utime + stime, seconds.
    pub(crate) cpu_seconds: f64,
}

/// Reads `/proc/PID/status` (VmRSS) and `/proc/PID/stat` (utime, stime).
pub(crate) fn proc_sample(pid: u32) -> anyhow::Result<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // proc(5): fields after the parenthesised command name; utime and
    // stime are fields 14 and 15, i.e. the 12th and 13th after it.
    let after_comm = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("malformed /proc/PID/stat")
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok(ProcSample {
        rss_kib,
        cpu_seconds: total as f64 / hz,
    })
}
