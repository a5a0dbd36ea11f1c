//! The LAC benchmark: `cargo bench --bench lac` (as root; it builds
//! network namespaces).
//!
//! # Topology
//!
//! Three network namespaces made for the run and removed after it (also
//! after a failure, a panic or Ctrl-C; leftovers of a killed run are
//! removed by the next): `tnb-sub-PID` (the subscriber farm), `tnb-lac-PID`
//! (the LAC, `tunnelnas run` as a separate process, so its memory and CPU
//! time can be read from `/proc`) and `tnb-lns-PID` (the test LNS).
//! A veth pair without addresses joins subscribers and LAC (the PPPoE
//! access side); a second joins LAC (10.202.0.1, its L2TP source) and LNS
//! (10.202.0.2:1701). Nothing is put in the root namespace.
//!
//! # What is measured
//!
//! 1. **Session setup.** N emulated subscribers
//!    ([`tunnelnas::loadgen::subscribers`], `TN_BENCH_SUBSCRIBERS`, default
//!    1000) dial at `TN_BENCH_START_RATE` per second (default 3000; 0
//!    starts them all at once, which measures how a burst of PADIs is
//!    absorbed rather than a rate): PPPoE discovery, LCP, authentication
//!    at the LAC (local users: no RADIUS round trip), the L2TP tunnel and
//!    call to the test LNS, which renegotiates LCP and authentication
//!    and assigns an address by IPCP. The test LNS advertises an L2TP
//!    receive window of `TN_BENCH_LNS_WINDOW` (default 64; 0 keeps the
//!    RFC 2661 default of 4, with which one tunnel's control channel, not
//!    the LAC, sets the call rate). Reported: sessions/s (sessions up ÷ time from the first PADI to
//!    the last IPCP Opened), failures by phase, p50 / p99 of each phase as
//!    the subscribers saw it, and the LAC's own count of sessions up.
//! 2. **Memory.** The LAC's VmRSS before the first subscriber and with all
//!    sessions up; the difference per established session.
//! 3. **Forwarding.** With every session up, the subscribers send
//!    IPv4/UDP packets upstream as fast as one generator thread can
//!    (prebuilt frames, `sendmmsg(2)` batches of 64, round robin over the
//!    sessions) for `TN_BENCH_SECONDS` (default 10) per packet size
//!    (`TN_BENCH_SIZES`, IP octets, default `64,1400`). The LAC's rate is
//!    the delta of its `tunnelnas_lac_forwarded_packets_total{direction=
//!    "upstream"}` over the window (the counters are read before and after
//!    the window while no traffic flows, so their once-a-second refresh
//!    costs no precision), cross-checked against what the test LNS
//!    received; next to it what was offered, what was lost where, and the
//!    LAC's CPU time (utime + stime) over the window → packets per LAC
//!    CPU-second. Bit rates are IP-level (packets × IP size × 8).
//! 4. **Forwarding downstream.** Then, from the LNS namespace, L2TP data
//!    messages on every session (the LAC's Tunnel and Session IDs from
//!    `/api/v1/sessions`, prebuilt, `sendmmsg(2)` round robin) for the same
//!    sizes and time; the LAC's downstream counter, the PPPoE session
//!    frames counted on the subscribers' veth, and the LAC's CPU time.
//! 5. **Kernel baseline.** With the LAC stopped, the same namespaces are
//!    routed (10.201.0.0/24 on the access veth, forwarding on in the LAC
//!    namespace only) and the same generator sends the same IPv4/UDP
//!    packets, as plain Ethernet frames to the LAC namespace's MAC (one
//!    flow per subscriber), to a `recvmmsg(2)` counter in the LNS
//!    namespace, for the same time. Reported: the
//!    kernel's delivered rate, and tunnelnas ÷ kernel. Downstream, UDP of
//!    the same sizes goes from the LNS namespace to the subscriber
//!    namespace, forwarded by the LAC namespace's kernel (its uplink's
//!    receive processing steered to the LAC's CPU).
//!
//! The figures are printed as a table and written to
//! `target/bench-lac.json`. A phase that fails is reported and the bench
//! exits non-zero after cleaning up.
//!
//! # Scenario `deployed-lns` (issue 11)
//!
//! `TN_BENCH_SCENARIO=deployed-lns` measures session setup only, against
//! the test LNS acting like many deployed LNSs
//! ([`LnsConfig::like_deployed_lns`]): receive window
//! `TN_BENCH_LNS_WINDOW` (default 8), control messages acknowledged only
//! by a ZLB `TN_BENCH_LNS_ACK_DELAY_MS` (default 10) after they arrive,
//! nothing piggybacked. Through one tunnel that allows about a window of
//! control messages per acknowledgement delay, so the LAC's `[lac]
//! max_tunnels_per_lns` matters: the setup phase runs once per value of
//! `TN_BENCH_MAX_TUNNELS_PER_LNS` (default `1,4`), each with a fresh LAC
//! and test LNS, and the figures are put side by side. Defaults: 10,000
//! subscribers offered at 1,000/s, with at most `TN_BENCH_MAX_IN_SETUP`
//! (default 2,000) in set-up at once (the farm holds first dials back
//! meanwhile, as a load tester's concurrency limit does); `[lac]
//! max_sessions_per_tunnel` is the LAC's default unless
//! `TN_BENCH_MAX_SESSIONS_PER_TUNNEL` sets it. Memory, forwarding and the
//! kernel baseline are not run. The report goes to
//! `target/bench-lac-deployed-lns.json`; each LAC's log to
//! `target/bench-lac-deployed-lns-N.log`.
//!
//! `TN_BENCH_LNS_ACK_DELAY_MS` also applies to the standard scenario: the
//! test LNS then acknowledges like that too (without it, it acknowledges
//! like our own channel: piggybacked, a ZLB after 100 ms, or at once at
//! half its window).
//!
//! # CPU placement
//!
//! The machine has two cores. Unless `TN_BENCH_PIN=0`, the LAC process
//! (`taskset`, `[lac] workers` = `TN_BENCH_LAC_WORKERS`, default 1; the
//! binary is `TN_BENCH_LAC_BIN`, default this build's) runs
//! on CPU 1 and the benchmark's threads (generator, farm, test LNS)
//! on CPU 0, where the kernel also delivers the subscribers' frames to
//! the LAC's packet socket (what a NIC's interrupt core would do). For the
//! kernel baseline the access veth's receive processing, which is where
//! the kernel forwards, is steered to CPU 1 (RPS), so each forwarder has
//! one core of its own. Each forwarding row says who limited the rate:
//! the generator (everything offered was forwarded), the forwarder (it
//! used a full core), or CPU contention (machine CPU at 2 cores).

#[path = "lac/probe.rs"]
mod probe;
#[path = "lac/report.rs"]
mod report;
#[path = "lac/topology.rs"]
mod topology;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tunnelnas::dataplane::packet::PacketSocket;
use tunnelnas::loadgen::LatencyHistogram;
use tunnelnas::loadgen::flood::{
    DISCARD_PORT, MIN_IP_LEN, TrafficCount, TrafficCounter, count_session_frames, count_udp,
    flood_datagrams, flood_frames, flood_udp, ipv4_frame, session_frame, set_receive_buffer,
    write_ipv4_udp,
};
use tunnelnas::loadgen::lns::{
    DEPLOYED_LNS_ACK_DELAY, DEPLOYED_LNS_RECEIVE_WINDOW, LnsConfig, LnsHarness, LnsStats, run_lns,
};
use tunnelnas::loadgen::subscribers::{
    FarmConfig, FarmStats, SubscriberFarm, UpSession, run_farm_observed,
};
use tunnelnas::ppp::link::Credentials;

use probe::{LacCounters, proc_sample, scrape};
use report::Report;
use topology::{LNS_ADDRESS, LacProcess, Topology, in_netns};

/// Where the LAC serves `/metrics` (inside its namespace).
const METRICS_ADDRESS: &str = "127.0.0.1:9180";
/// The tunnel secret between LAC and test LNS.
const TUNNEL_SECRET: &str = "bench-tunnel-secret";
/// The realm every subscriber is in.
const REALM: &str = "bench.example";
/// The test LNS's PPP address and pool.
const LNS_PPP_ADDRESS: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const LNS_POOL: &str = "100.64.0.0/10";
/// Receive buffers of the test LNS and of the baseline's counter.
const SINK_BUFFER: usize = 16 << 20;
/// How long counters are left to settle after traffic stops (the LAC
/// refreshes its metrics once a second).
const SETTLE: Duration = Duration::from_millis(1500);

/// Set by SIGINT / SIGTERM: every wait gives up and cleanup runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; anything else (`cargo test
    // --all-targets`) only checks that the bench builds.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("lac bench: run it with `cargo bench --bench lac` (as root)");
        return ExitCode::SUCCESS;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "lac bench: refusing to run: it creates network namespaces and veth pairs and needs root \
             (run `sudo -E cargo bench --bench lac`)"
        );
        return ExitCode::from(2);
    }
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    let mut report = Report::default();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("lac bench: {err:#}");
            return ExitCode::from(2);
        }
    };
    settings.describe(&mut report);
    if settings.pin
        && let Err(err) = pin_this_thread(BENCH_CPU)
    {
        eprintln!("lac bench: cannot pin to CPU {BENCH_CPU}: {err}");
        return ExitCode::from(2);
    }
    if let Err(err) = run(&settings, &mut report) {
        report.fail("bench", &err);
    }
    if INTERRUPTED.load(Ordering::Relaxed) {
        report.fail("bench", &anyhow::anyhow!("interrupted"));
    }
    report.print();
    let json = target_dir().join(match settings.scenario {
        Scenario::Standard => "bench-lac.json",
        Scenario::DeployedLns => "bench-lac-deployed-lns.json",
    });
    match report.write_json(&json) {
        Ok(()) => println!("\nJSON: {}", json.display()),
        Err(err) => report.fail("report", &err),
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Which measurements to run (`TN_BENCH_SCENARIO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `standard` (default): setup, memory, forwarding both ways, kernel
    /// baseline.
    Standard,
    /// `deployed-lns`: setup only, against an LNS with a small window and
    /// delayed acknowledgements, once per `max_tunnels_per_lns` value.
    DeployedLns,
}

/// What the environment asked for.
#[derive(Debug, Clone)]
struct Settings {
    scenario: Scenario,
    subscribers: u32,
    start_rate: u32,
    seconds: u64,
    sizes: Vec<usize>,
    /// The test LNS's L2TP receive window (None: the channel default).
    lns_window: Option<u16>,
    /// Acknowledge only by a ZLB this long after a message arrives, nothing
    /// piggybacked ([`LnsConfig::like_deployed_lns`]); None: the test LNS
    /// acknowledges like our channel does.
    lns_ack_delay: Option<Duration>,
    /// `deployed-lns`: `[lac] max_tunnels_per_lns` of each run.
    max_tunnels_per_lns: Vec<u16>,
    /// `[lac] max_sessions_per_tunnel` (None: the LAC's default).
    max_sessions_per_tunnel: Option<u16>,
    /// Subscribers in set-up at once at most (None: no limit): the farm
    /// holds first dials back while that many are in set-up.
    max_in_setup: Option<u32>,
    /// `[lac] workers`.
    lac_workers: u16,
    /// The LAC binary (`TN_BENCH_LAC_BIN`, e.g. an earlier build for a
    /// before/after ratio; default: this build's `tunnelnas`).
    lac_binary: PathBuf,
    /// Pin the LAC (and the kernel's receive work for it) to CPU 1 and the
    /// benchmark's own threads to CPU 0.
    pin: bool,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={text:?} is not a valid value")),
                Err(_) => Ok(default),
            }
        }
        let sizes = match std::env::var("TN_BENCH_SIZES") {
            Ok(text) => text
                .split(',')
                .map(|s| s.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| anyhow::anyhow!("TN_BENCH_SIZES={text:?}: comma-separated sizes"))?,
            Err(_) => vec![64, 1400],
        };
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let scenario = match std::env::var("TN_BENCH_SCENARIO").as_deref().map(str::trim) {
            Err(_) | Ok("" | "standard") => Scenario::Standard,
            Ok("deployed-lns") => Scenario::DeployedLns,
            Ok(other) => bail!("TN_BENCH_SCENARIO={other:?}: `standard` or `deployed-lns`"),
        };
        let deployed = scenario == Scenario::DeployedLns;
        let max_tunnels_per_lns = match std::env::var("TN_BENCH_MAX_TUNNELS_PER_LNS") {
            Ok(text) => text
                .split(',')
                .map(|s| s.trim().parse::<u16>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    anyhow::anyhow!("TN_BENCH_MAX_TUNNELS_PER_LNS={text:?}: comma-separated counts")
                })?,
            Err(_) => vec![1, 4],
        };
        let optional = |value: u32| (value != 0).then_some(value);
        let this = Self {
            scenario,
            subscribers: var("TN_BENCH_SUBSCRIBERS", if deployed { 10_000 } else { 1000 })?,
            start_rate: var("TN_BENCH_START_RATE", if deployed { 1000 } else { 3000 })?,
            seconds: var("TN_BENCH_SECONDS", 10)?,
            sizes,
            lns_window: match var(
                "TN_BENCH_LNS_WINDOW",
                if deployed {
                    DEPLOYED_LNS_RECEIVE_WINDOW
                } else {
                    64u16
                },
            )? {
                0 => None,
                window => Some(window),
            },
            lns_ack_delay: match std::env::var("TN_BENCH_LNS_ACK_DELAY_MS") {
                Ok(text) => Some(Duration::from_millis(text.trim().parse().map_err(
                    |_| anyhow::anyhow!("TN_BENCH_LNS_ACK_DELAY_MS={text:?} is not a number"),
                )?)),
                Err(_) => deployed.then_some(DEPLOYED_LNS_ACK_DELAY),
            },
            max_tunnels_per_lns,
            max_sessions_per_tunnel: optional(var("TN_BENCH_MAX_SESSIONS_PER_TUNNEL", 0u32)?)
                .map(|n| u16::try_from(n).unwrap_or(u16::MAX)),
            max_in_setup: optional(var(
                "TN_BENCH_MAX_IN_SETUP",
                if deployed { 2000 } else { 0 },
            )?),
            lac_workers: var("TN_BENCH_LAC_WORKERS", 1)?,
            lac_binary: std::env::var_os("TN_BENCH_LAC_BIN").map_or_else(
                || PathBuf::from(env!("CARGO_BIN_EXE_tunnelnas")),
                PathBuf::from,
            ),
            pin: var("TN_BENCH_PIN", 1u8)? != 0 && cpus >= 2,
        };
        ensure!(
            (1..=60_000).contains(&this.subscribers),
            "TN_BENCH_SUBSCRIBERS must be 1 to 60000"
        );
        ensure!(
            (1..=3600).contains(&this.seconds),
            "TN_BENCH_SECONDS must be 1 to 3600"
        );
        ensure!(
            !this.max_tunnels_per_lns.is_empty()
                && this
                    .max_tunnels_per_lns
                    .iter()
                    .all(|n| (1..=64).contains(n)),
            "TN_BENCH_MAX_TUNNELS_PER_LNS: each from 1 to 64"
        );
        ensure!(
            this.sizes
                .iter()
                .all(|s| (MIN_IP_LEN.max(64)..=1400).contains(s)),
            "TN_BENCH_SIZES: each from 64 to 1400 IP octets"
        );
        Ok(this)
    }

    fn describe(&self, report: &mut Report) {
        report.condition(
            "scenario",
            match self.scenario {
                Scenario::Standard => "standard (TN_BENCH_SCENARIO=deployed-lns: issue 11's LNS)",
                Scenario::DeployedLns => {
                    "deployed-lns: setup only, LNS with a small window and delayed \
                     acknowledgements, once per max_tunnels_per_lns"
                }
            },
        );
        report.condition("subscribers", self.subscribers);
        report.condition(
            "start rate",
            match self.start_rate {
                0 => "all at once".to_owned(),
                rate => format!("{rate}/s"),
            },
        );
        report.condition("forwarding window", format!("{} s per size", self.seconds));
        report.condition(
            "authentication",
            "local users file at the LAC (no RADIUS round trip); the test LNS re-authenticates",
        );
        report.condition(
            "cpus",
            std::thread::available_parallelism().map_or(0, usize::from),
        );
        report.condition(
            "cpu placement",
            if self.pin {
                "CPU 1: the LAC process; for the baseline, the kernel's forwarding (RPS on the access \
                 veth). CPU 0: generator, farm, test LNS, baseline sockets, and the kernel's \
                 delivery of subscriber frames to the LAC's packet socket (the NIC interrupt \
                 core, in hardware terms). TN_BENCH_PIN=0 lets everything float"
            } else {
                "not pinned"
            },
        );
        report.condition("LAC workers", self.lac_workers);
        report.condition("LAC binary", self.lac_binary.display());
        report.condition(
            "test LNS L2TP receive window",
            self.lns_window.map_or_else(
                || "4 (the channel default, RFC 2661 §4.4.3)".to_owned(),
                |w| format!("{w} (TN_BENCH_LNS_WINDOW=0: the channel default 4)"),
            ),
        );
        report.condition(
            "test LNS acknowledgements",
            self.lns_ack_delay.map_or_else(
                || {
                    "like our channel: piggybacked, else a ZLB after 100 ms or at once at half \
                     its window (TN_BENCH_LNS_ACK_DELAY_MS: like a deployed LNS)"
                        .to_owned()
                },
                |d| {
                    format!(
                        "only by a ZLB {} ms after a message arrives (or the first message sent \
                         after that), nothing piggybacked, no early ack at half the window",
                        d.as_millis()
                    )
                },
            ),
        );
        report.condition(
            "LAC max_sessions_per_tunnel",
            self.max_sessions_per_tunnel
                .map_or_else(|| "the LAC's default (1000)".to_owned(), |n| n.to_string()),
        );
        if self.scenario == Scenario::DeployedLns {
            report.condition(
                "LAC max_tunnels_per_lns",
                format!("{:?}, one run each", self.max_tunnels_per_lns),
            );
        }
        report.condition(
            "max in set-up",
            self.max_in_setup.map_or_else(
                || "no limit".to_owned(),
                |n| {
                    format!(
                        "{n} (TN_BENCH_MAX_IN_SETUP; a first dial waits for room, so set-up \
                         latency counts from the PADI actually sent)"
                    )
                },
            ),
        );
        let first_line = |path: &str, key: &str| {
            std::fs::read_to_string(path).ok().and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with(key))
                    .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_owned())
            })
        };
        if let Some(model) = first_line("/proc/cpuinfo", "model name") {
            report.condition("cpu model", model);
        }
        if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            report.condition("kernel", release.trim());
        }
        if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
            report.condition("load average at start", load.trim());
        }
        report.condition(
            "profile",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        );
    }
}

/// The CPU of the benchmark's own threads when pinned (they inherit it).
const BENCH_CPU: usize = 0;
/// The CPU of the LAC process when pinned.
const LAC_CPU: usize = 1;

/// Restricts the calling thread (and threads it starts later) to `cpu`.
fn pin_this_thread(cpu: usize) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes a bit
    // inside it; sched_setaffinity(0, ..) applies to the calling thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Busy and total jiffies of the whole machine (`/proc/stat`, first line).
fn machine_cpu() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total.saturating_sub(idle), total))
}

/// Cores busy machine-wide between two [`machine_cpu`] readings taken
/// `seconds` apart.
fn busy_cores(before: Option<(u64, u64)>, after: Option<(u64, u64)>, seconds: f64) -> Option<f64> {
    let ((busy0, _), (busy1, _)) = (before?, after?);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0 && seconds > 0.0).then(|| busy1.saturating_sub(busy0) as f64 / hz as f64 / seconds)
}

/// Where the kernel dropped packets for lack of room: UDP receive buffers
/// in the LAC and LNS namespaces (`/proc/net/snmp` `Udp: RcvbufErrors`)
/// and the per-CPU input backlog (`/proc/net/softnet_stat`, machine-wide).
/// A packet socket's own drops are visible only to its owner.
#[derive(Debug, Clone, Copy, Default)]
struct Drops {
    lac_udp: Option<u64>,
    lns_udp: Option<u64>,
    backlog: Option<u64>,
}

impl Drops {
    fn read(topo: &Topology) -> Self {
        Self {
            lac_udp: udp_rcvbuf_errors(&topo.lac),
            lns_udp: udp_rcvbuf_errors(&topo.lns),
            backlog: softnet_drops(),
        }
    }

    fn since(self, earlier: Self) -> Self {
        let delta = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
        Self {
            lac_udp: delta(self.lac_udp, earlier.lac_udp),
            lns_udp: delta(self.lns_udp, earlier.lns_udp),
            backlog: delta(self.backlog, earlier.backlog),
        }
    }

    fn report(self, report: &mut Report, section: &str) {
        let value = |v: Option<u64>| v.map(|v| v as f64);
        report.maybe_row(
            section,
            "UDP drops at the LAC",
            value(self.lac_udp),
            "packets",
            "full receive buffer of the LAC's L2TP socket (Udp RcvbufErrors, LAC namespace)",
        );
        report.maybe_row(
            section,
            "UDP drops at the LNS",
            value(self.lns_udp),
            "packets",
            "full receive buffer of the test LNS (Udp RcvbufErrors, LNS namespace)",
        );
        report.maybe_row(
            section,
            "input backlog drops",
            value(self.backlog),
            "packets",
            "netdev_max_backlog exceeded (softnet_stat, whole machine)",
        );
    }
}

/// `Udp: RcvbufErrors` of namespace `ns`.
fn udp_rcvbuf_errors(ns: &str) -> Option<u64> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let column = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

/// Packets dropped at the input backlog, every CPU (second column of
/// `/proc/net/softnet_stat`, hexadecimal).
fn softnet_drops() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    text.lines()
        .map(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|d| u64::from_str_radix(d, 16).ok())
        })
        .sum()
}

/// `target/` of this workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}

/// Sleeps `duration`, giving up early (with an error) on Ctrl-C.
fn pause(duration: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + duration;
    loop {
        if INTERRUPTED.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn lock<T: Clone>(mutex: &Mutex<T>) -> T {
    mutex.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// A thread told to stop (and joined) when dropped.
#[derive(Debug)]
struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(name: &str, body: impl FnOnce(&AtomicBool) + Send + 'static) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || body(&stop))
                .with_context(|| format!("cannot start thread {name}"))?
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            eprintln!("lac bench: a worker thread panicked");
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The test LNS, running in the LNS namespace.
struct Lns {
    stats: Arc<Mutex<LnsStats>>,
    /// Stopped (StopCCN to the LAC) and joined when dropped.
    _worker: Worker,
}

impl Lns {
    fn start(
        topo: &Topology,
        users: Vec<Credentials>,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let address: SocketAddr = format!("{LNS_ADDRESS}:1701").parse()?;
        let socket = in_netns(&topo.lns, move || {
            let socket = UdpSocket::bind(address)?;
            set_receive_buffer(&socket, SINK_BUFFER)?;
            Ok(socket)
        })
        .context("test LNS socket")?;
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let mut config = LnsConfig::new(
            "10.202.0.0/24".parse()?,
            TUNNEL_SECRET.as_bytes(),
            users,
            LNS_PPP_ADDRESS,
            LNS_POOL.parse()?,
        );
        let window = settings
            .lns_window
            .unwrap_or(config.endpoint.channel.receive_window);
        config.endpoint.channel.receive_window = window;
        if let Some(delay) = settings.lns_ack_delay {
            config = config.like_deployed_lns(window, delay);
        }
        let lns = LnsHarness::new(config, seed);
        let stats = Arc::new(Mutex::new(LnsStats::default()));
        let worker = {
            let stats = Arc::clone(&stats);
            Worker::spawn("bench-lns", move |stop| {
                run_lns(socket, lns, stop, &stats);
            })?
        };
        Ok(Self {
            stats,
            _worker: worker,
        })
    }

    fn stats(&self) -> LnsStats {
        lock(&self.stats)
    }
}

/// The subscriber farm, running in the subscriber namespace.
struct Farm {
    stats: Arc<Mutex<FarmStats>>,
    /// Set to ask the farm thread for its up sessions ...
    want_sessions: Arc<AtomicBool>,
    /// ... which it puts here.
    sessions: Arc<Mutex<Option<Vec<UpSession>>>>,
    /// Stopped (every subscriber hangs up) and joined when dropped.
    _worker: Worker,
}

impl Farm {
    fn start(
        topo: &Topology,
        settings: &Settings,
        users: Vec<Credentials>,
    ) -> anyhow::Result<Self> {
        let name = topo.sub_if.clone();
        let socket = in_netns(&topo.sub, move || {
            let socket = PacketSocket::open(&name)?;
            // Test equipment: the LAC's replies to thousands of subscribers
            // must not be lost at the farm.
            set_receive_buffer(&socket, SINK_BUFFER)?;
            Ok(socket)
        })
        .context("subscriber farm socket")?;
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let farm = SubscriberFarm::new(
            FarmConfig {
                subscribers: settings.subscribers,
                credentials: users,
                start_rate: settings.start_rate,
                max_in_setup: settings.max_in_setup.unwrap_or(0),
                // The forwarding phase brings its own traffic; a set-up
                // that fails stays failed (counted, not redialled).
                ping_interval: None,
                redial: None,
                ..FarmConfig::default()
            },
            seed,
            Instant::now(),
        );
        let stats = Arc::new(Mutex::new(FarmStats::default()));
        let want_sessions = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Mutex::new(None));
        let worker = {
            let (stats, want, slot) = (
                Arc::clone(&stats),
                Arc::clone(&want_sessions),
                Arc::clone(&sessions),
            );
            Worker::spawn("bench-farm", move |stop| {
                run_farm_observed(socket, farm, stop, &stats, |farm| {
                    if want.swap(false, Ordering::Relaxed) {
                        *slot.lock().unwrap_or_else(PoisonError::into_inner) =
                            Some(farm.up_sessions());
                    }
                });
            })?
        };
        Ok(Self {
            stats,
            want_sessions,
            sessions,
            _worker: worker,
        })
    }

    fn stats(&self) -> FarmStats {
        lock(&self.stats)
    }

    /// The sessions up now, from the running farm.
    fn up_sessions(&self) -> anyhow::Result<Vec<UpSession>> {
        *self.sessions.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.want_sessions.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Some(sessions) = self
                .sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return Ok(sessions);
            }
            pause(Duration::from_millis(20))?;
        }
        bail!("the subscriber farm did not list its sessions")
    }
}

/// `user1@bench.example` … with password `bench-N`.
fn users(count: u32) -> Vec<Credentials> {
    (1..=count)
        .map(|i| Credentials {
            user: format!("user{i}@{REALM}").into_bytes(),
            password: format!("bench-{i}").into_bytes(),
        })
        .collect()
}

/// The `[radius] local_users` file (format of `aaa::local`).
fn write_users_file(path: &Path, users: &[Credentials]) -> anyhow::Result<()> {
    let mut text = String::from("# Written by the LAC benchmark.\n");
    for user in users {
        text.push_str(&format!(
            "\n[[user]]\nname = \"{}\"\npassword = \"{}\"\n",
            String::from_utf8_lossy(&user.user),
            String::from_utf8_lossy(&user.password)
        ));
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The LAC's configuration: the demo's shape (local users, a realm rule
/// to the LNS), with the PADI policer opened up so that it does not set
/// the setup rate; `[lac] max_tunnels_per_lns` when given.
fn lac_config(
    topo: &Topology,
    settings: &Settings,
    dir: &Path,
    users: &Path,
    max_tunnels_per_lns: Option<u16>,
) -> String {
    let state = dir.join("state");
    format!(
        r#"# Written by the LAC benchmark.
[node]
nas_identifier = "tunnelnas-bench"
state_dir = "{state}"

[pppoe]
ac_name = "tunnelnas-bench"
padi_rate = 1000000
max_sessions_per_interface = {max_sessions}

[[pppoe.interface]]
name = "{access}"

[l2tp]
listen = "{lac}:1701"

[lac]
auth_group = "local"
acct_group = "local"
{workers}
{per_tunnel}
{tunnels}

[[lac.realm]]
domain = "{REALM}"

[[lac.realm.lns]]
address = "{LNS_ADDRESS}:1701"
secret = "{TUNNEL_SECRET}"

[radius]
local_users = "{users}"

[radius.group.local]

[[radius.group.local.server]]
address = "127.0.0.1"
secret = "unused"

[metrics]
listen = "{METRICS_ADDRESS}"

[api]
listen = "{METRICS_ADDRESS}"
"#,
        state = state.display(),
        max_sessions = settings.subscribers.max(16_000),
        // Left out at its default, so a build from before the key can be
        // measured too (TN_BENCH_LAC_BIN).
        workers = if settings.lac_workers == 1 {
            String::new()
        } else {
            format!("workers = {}", settings.lac_workers)
        },
        // Only when asked for, like `workers`.
        per_tunnel = settings
            .max_sessions_per_tunnel
            .map(|n| format!("max_sessions_per_tunnel = {n}"))
            .unwrap_or_default(),
        tunnels = max_tunnels_per_lns
            .map(|n| format!("max_tunnels_per_lns = {n}"))
            .unwrap_or_default(),
        access = topo.lac_access_if,
        lac = topology::LAC_UPLINK_ADDRESS,
        users = users.display(),
    )
}

fn run(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    match settings.scenario {
        Scenario::Standard => run_standard(settings, report),
        Scenario::DeployedLns => run_deployed_lns(settings, report),
    }
}

fn run_standard(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    topology::remove_stale_namespaces();
    let topo = Topology::create().context("building the namespaces")?;
    let dir = tempfile::Builder::new()
        .prefix("tunnelnas-bench-")
        .tempdir()
        .context("temporary directory")?;
    let users = users(settings.subscribers);
    let users_path = dir.path().join("users.toml");
    write_users_file(&users_path, &users)?;
    let config_path = dir.path().join("lac.toml");
    std::fs::write(
        &config_path,
        lac_config(&topo, settings, dir.path(), &users_path, None),
    )
    .context("writing the LAC configuration")?;
    let log_path = target_dir().join("bench-lac.log");

    let lns = Lns::start(&topo, users.clone(), settings)?;
    let mut lac = LacProcess::start(
        &topo.lac,
        &settings.lac_binary,
        &config_path,
        &log_path,
        settings.pin.then_some(LAC_CPU),
    )?;
    report.condition("LAC log", log_path.display());
    wait_for_lac(&topo, &mut lac, &log_path)?;
    pause(Duration::from_secs(1))?;
    let idle = proc_sample(lac.pid())?;

    let farm = Farm::start(&topo, settings, users)?;
    let setup = measure_setup("setup", &topo, &mut lac, settings, &farm, idle, report);
    let up = match setup {
        Ok(up) => up,
        Err(err) => {
            report.fail("setup", &err);
            0
        }
    };
    if up > 0 {
        if let Err(err) = measure_memory(&lac, idle, up, report) {
            report.fail("memory", &err);
        }
        for &size in &settings.sizes {
            if let Err(err) = measure_forwarding(&topo, &lac, &lns, &farm, settings, size, report) {
                report.fail(&format!("forwarding {size} B"), &err);
            }
            if INTERRUPTED.load(Ordering::Relaxed) {
                break;
            }
        }
        for &size in &settings.sizes {
            if INTERRUPTED.load(Ordering::Relaxed) {
                break;
            }
            if let Err(err) = measure_downstream(&topo, &lac, &farm, settings, size, report) {
                report.fail(&format!("downstream {size} B"), &err);
            }
        }
    }

    // Hang up (Terminate-Request, PADT), then stop the LAC (CDN, StopCCN,
    // accounting Stop) and the test LNS.
    drop(farm);
    if !INTERRUPTED.load(Ordering::Relaxed) {
        let _ = pause(Duration::from_millis(500));
    }
    match lac.stop(Duration::from_secs(20)) {
        Ok(status) if status.success() => {}
        Ok(status) => report.fail(
            "LAC",
            &anyhow::anyhow!("exited with {status} (log: {})", log_path.display()),
        ),
        Err(err) => report.fail("LAC", &err),
    }
    drop(lns);
    if INTERRUPTED.load(Ordering::Relaxed) {
        return Ok(());
    }

    // The kernel forwards in softirq context: steered to the LAC's CPU, it
    // gets the core the LAC had.
    let routed = topo.route_for_kernel_baseline().and_then(|()| {
        if settings.pin {
            topo.steer_access_receive(LAC_CPU)
        } else {
            Ok(())
        }
    });
    if let Err(err) = routed {
        report.fail("kernel baseline", &err);
        return Ok(());
    }
    for &size in &settings.sizes {
        match measure_kernel(&topo, settings, size, report) {
            Ok(kernel_pps) => {
                let ours = report
                    .rows
                    .iter()
                    .find(|r| {
                        r.section == format!("forwarding {size} B")
                            && r.measurement == "received by the LNS"
                    })
                    .and_then(|r| r.value);
                report.maybe_row(
                    "ratio",
                    &format!("tunnelnas / kernel, {size} B"),
                    ours.map(|ours| ours / kernel_pps),
                    "x",
                    "packets/s delivered to the LNS namespace through the LAC vs through kernel \
             forwarding (an upper bound when the kernel row says the sender set its rate)",
                );
            }
            Err(err) => report.fail(&format!("kernel baseline {size} B"), &err),
        }
        if INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
    }
    if settings.pin {
        if let Err(err) = topo.steer_uplink_receive(LAC_CPU) {
            report.fail("kernel baseline downstream", &err);
            return Ok(());
        }
    }
    for &size in &settings.sizes {
        if INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
        match measure_kernel_downstream(&topo, settings, size, report) {
            Ok(kernel_pps) => {
                let ours = report
                    .rows
                    .iter()
                    .find(|r| {
                        r.section == format!("downstream {size} B")
                            && r.measurement == "received by the subscribers"
                    })
                    .and_then(|r| r.value);
                report.maybe_row(
                    "ratio",
                    &format!("tunnelnas / kernel, downstream {size} B"),
                    ours.map(|ours| ours / kernel_pps),
                    "x",
                    "packets/s delivered to the subscriber namespace through the LAC vs through \
                     kernel forwarding (a lower bound when the downstream rows say the generator \
                     set the LAC's rate)",
                );
            }
            Err(err) => report.fail(&format!("kernel downstream {size} B"), &err),
        }
    }
    drop(topo);
    Ok(())
}

/// `deployed-lns`: the setup phase once per `max_tunnels_per_lns`, each
/// with a fresh test LNS and LAC in the same namespaces, then the runs
/// side by side.
fn run_deployed_lns(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    topology::remove_stale_namespaces();
    let topo = Topology::create().context("building the namespaces")?;
    let dir = tempfile::Builder::new()
        .prefix("tunnelnas-bench-")
        .tempdir()
        .context("temporary directory")?;
    let users = users(settings.subscribers);
    let users_path = dir.path().join("users.toml");
    write_users_file(&users_path, &users)?;
    let mut runs = Vec::new();
    for &tunnels in &settings.max_tunnels_per_lns {
        if INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
        let section = format!("setup, max_tunnels_per_lns = {tunnels}");
        match deployed_lns_run(
            &topo,
            settings,
            dir.path(),
            (&users, &users_path),
            tunnels,
            &section,
            report,
        ) {
            Ok(run) => runs.push(run),
            Err(err) => report.fail(&section, &err),
        }
    }
    compare_runs(&runs, settings, report);
    drop(topo);
    Ok(())
}

/// What one `deployed-lns` run gives the side-by-side table.
#[derive(Debug, Clone)]
struct DeployedRun {
    max_tunnels_per_lns: u16,
    farm: FarmStats,
    /// The LAC's L2TP counters at the end of the setup phase (None: no
    /// answer, e.g. it exited).
    lac: Option<L2tpCounters>,
    lns: LnsStats,
    /// How the LAC ended when it had exited by itself during the run.
    lac_exit: Option<String>,
    /// The setup phase's error, if it failed.
    error: Option<String>,
}

impl DeployedRun {
    /// Sessions up / (last IPCP Opened - first PADI), as the setup rows.
    fn rate(&self) -> Option<f64> {
        let (first, last) = (self.farm.first_dial_at?, self.farm.last_up_at?);
        let span = last.saturating_sub(first);
        (!span.is_zero()).then(|| self.farm.sessions_up as f64 / span.as_secs_f64())
    }
}

/// The LAC's L2TP figures the `deployed-lns` rows report.
#[derive(Debug, Clone)]
struct L2tpCounters {
    /// Tunnels set up (SCCRQ to SCCCN) since the LAC started.
    tunnels_set_up: f64,
    /// Tunnels established now.
    tunnels_now: f64,
    /// Tunnels to the LNS now, by the LAC's per-LNS gauge.
    lns_tunnels: f64,
    /// Tunnels that went down, every cause.
    tunnels_down: f64,
    /// The causes with a count, e.g. `overloaded 3`.
    down_causes: String,
    /// Messages that waited for the LNS's window.
    window_stalls: f64,
    /// Control messages retransmitted.
    retransmits: f64,
}

impl L2tpCounters {
    fn parse(text: &str) -> Self {
        let total = |name: &str, labels: &[(&str, &str)]| probe::total(text, name, labels);
        Self {
            tunnels_set_up: total("tunnelnas_l2tp_setup_seconds_count", &[("kind", "tunnel")]),
            tunnels_now: total("tunnelnas_l2tp_tunnels", &[("role", "lac")]),
            lns_tunnels: total(
                "tunnelnas_lac_lns_tunnels",
                &[("lns", &format!("{LNS_ADDRESS}:1701"))],
            ),
            tunnels_down: total("tunnelnas_l2tp_tunnel_down_total", &[]),
            down_causes: probe::by_label(text, "tunnelnas_l2tp_tunnel_down_total", "cause")
                .into_iter()
                .filter(|(_, n)| *n > 0.0)
                .map(|(cause, n)| format!("{cause} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            window_stalls: total(
                "tunnelnas_l2tp_control_channel_total",
                &[("activity", "window_stall")],
            ),
            retransmits: total(
                "tunnelnas_l2tp_control_channel_total",
                &[("activity", "retransmit")],
            ),
        }
    }
}

/// One `deployed-lns` run: test LNS, LAC with `max_tunnels_per_lns =
/// tunnels`, farm; the setup phase; everything stopped again.
fn deployed_lns_run(
    topo: &Topology,
    settings: &Settings,
    dir: &Path,
    (users, users_path): (&[Credentials], &Path),
    tunnels: u16,
    section: &str,
    report: &mut Report,
) -> anyhow::Result<DeployedRun> {
    let run_dir = dir.join(format!("run-{tunnels}"));
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let config_path = run_dir.join("lac.toml");
    std::fs::write(
        &config_path,
        lac_config(topo, settings, &run_dir, users_path, Some(tunnels)),
    )
    .context("writing the LAC configuration")?;
    let log_path = target_dir().join(format!("bench-lac-deployed-lns-{tunnels}.log"));
    report.condition(
        &format!("LAC log, max_tunnels_per_lns = {tunnels}"),
        log_path.display(),
    );

    let lns = Lns::start(topo, users.to_vec(), settings)?;
    let mut lac = LacProcess::start(
        &topo.lac,
        &settings.lac_binary,
        &config_path,
        &log_path,
        settings.pin.then_some(LAC_CPU),
    )?;
    wait_for_lac(topo, &mut lac, &log_path)?;
    pause(Duration::from_secs(1))?;
    let idle = proc_sample(lac.pid())?;
    let farm = Farm::start(topo, settings, users.to_vec())?;
    let setup = measure_setup(section, topo, &mut lac, settings, &farm, idle, report);
    let counters = scrape(&topo.lac, METRICS_ADDRESS.parse()?)
        .ok()
        .map(|text| L2tpCounters::parse(&text));
    let lac_exit = lac.exited().map(|status| status.to_string());
    let lns_stats = lns.stats();
    if let Some(c) = &counters {
        report.row(
            section,
            "tunnels set up",
            c.tunnels_set_up,
            "tunnels",
            format!(
                "to the test LNS (SCCRQ to SCCCN); {} established at the end, {} by \
                 tunnelnas_lac_lns_tunnels",
                c.tunnels_now, c.lns_tunnels
            ),
        );
        report.row(
            section,
            "tunnels torn down",
            c.tunnels_down,
            "tunnels",
            format!(
                "tunnelnas_l2tp_tunnel_down_total by cause: {}",
                if c.down_causes.is_empty() {
                    "none"
                } else {
                    &c.down_causes
                }
            ),
        );
        report.row(
            section,
            "window stalls",
            c.window_stalls,
            "messages",
            "control messages that waited for the LNS's receive window",
        );
        report.row(
            section,
            "retransmissions",
            c.retransmits,
            "messages",
            "control messages the LAC retransmitted",
        );
    }
    report.row(
        section,
        "test LNS tunnels",
        lns_stats.tunnels_total as f64,
        "tunnels",
        format!(
            "established so far; {} up at the end, {} went down, {} failed before \
             establishment",
            lns_stats.tunnels, lns_stats.tunnels_down, lns_stats.tunnels_failed
        ),
    );
    let farm_stats = farm.stats();

    // Hang up, stop the LAC (CDNs, StopCCN) while the test LNS still
    // acknowledges, then the test LNS.
    drop(farm);
    if !INTERRUPTED.load(Ordering::Relaxed) {
        let _ = pause(Duration::from_millis(500));
    }
    // Ending 10,000 calls (a CDN each through the LNS's window, an
    // accounting Stop each) takes a while: 20 s plus 5 ms per subscriber.
    let grace = Duration::from_secs(20) + Duration::from_millis(5) * settings.subscribers;
    let stopping = Instant::now();
    let stopped = lac.stop(grace);
    report.row(
        section,
        "LAC stop",
        stopping.elapsed().as_secs_f64(),
        "s",
        format!("SIGTERM to exit, every call ended (killed after {grace:.0?})"),
    );
    drop(lns);
    match stopped {
        Ok(status) if status.success() || lac_exit.is_some() => {}
        Ok(status) => report.fail(
            &format!("LAC, max_tunnels_per_lns = {tunnels}"),
            &anyhow::anyhow!("exited with {status} (log: {})", log_path.display()),
        ),
        Err(err) => report.fail(&format!("LAC, max_tunnels_per_lns = {tunnels}"), &err),
    }
    let error = match setup {
        Ok(_) => None,
        Err(err) => {
            report.fail(section, &err);
            Some(format!("{err:#}"))
        }
    };
    Ok(DeployedRun {
        max_tunnels_per_lns: tunnels,
        farm: farm_stats,
        lac: counters,
        lns: lns_stats,
        lac_exit,
        error,
    })
}

/// The `deployed-lns` runs side by side, and the setup-rate ratio of the
/// last run to the first.
fn compare_runs(runs: &[DeployedRun], settings: &Settings, report: &mut Report) {
    let number = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"));
    let rows = runs
        .iter()
        .map(|run| {
            let phases = &run.farm.setup;
            let failures = &run.farm.setup_failures;
            vec![
                run.max_tunnels_per_lns.to_string(),
                format!("{} / {}", run.farm.up, settings.subscribers),
                number(run.rate()),
                number(millis(phases.total.p50())),
                number(millis(phases.total.p99())),
                format!(
                    "{} / {}",
                    number(millis(phases.auth.p50())),
                    number(millis(phases.auth.p99()))
                ),
                (failures.discovery + failures.lcp + failures.auth + failures.ipcp).to_string(),
                run.lac
                    .as_ref()
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{}", c.tunnels_set_up)),
                format!(
                    "{} / {}",
                    run.lac
                        .as_ref()
                        .map_or_else(|| "n/a".to_owned(), |c| format!("{}", c.tunnels_down)),
                    run.lns.tunnels_down + run.lns.tunnels_failed
                ),
                run.lac
                    .as_ref()
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{}", c.window_stalls)),
                match (&run.lac_exit, &run.error) {
                    (Some(exit), _) => format!("LAC exited: {exit}"),
                    (None, Some(_)) => "setup incomplete (see failures)".to_owned(),
                    (None, None) => "ok".to_owned(),
                },
            ]
        })
        .collect();
    report.table(
        &format!(
            "deployed LNS (window {}, acks after {} ms, none piggybacked): {} subscribers at {}/s",
            settings
                .lns_window
                .map_or_else(|| "4".to_owned(), |w| w.to_string()),
            settings.lns_ack_delay.map_or(0, |d| d.as_millis()),
            settings.subscribers,
            settings.start_rate,
        ),
        &[
            "max_tunnels_per_lns",
            "up",
            "sessions/s",
            "p50 ms",
            "p99 ms",
            "auth+L2TP p50 / p99 ms",
            "failures",
            "tunnels set up",
            "torn down (LAC / LNS)",
            "window stalls",
            "outcome",
        ],
        rows,
    );
    if let (Some(first), Some(last)) = (runs.first(), runs.last())
        && runs.len() > 1
    {
        report.maybe_row(
            "side by side",
            &format!(
                "setup rate, max_tunnels_per_lns {} / {}",
                last.max_tunnels_per_lns, first.max_tunnels_per_lns
            ),
            last.rate().zip(first.rate()).map(|(l, f)| l / f),
            "x",
            "sessions/s of the last run over the first",
        );
    }
}

/// Waits until the LAC answers `/metrics`.
fn wait_for_lac(topo: &Topology, lac: &mut LacProcess, log: &Path) -> anyhow::Result<()> {
    let addr: SocketAddr = METRICS_ADDRESS.parse()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = lac.exited() {
            bail!(
                "the LAC exited at start with {status}; see {}",
                log.display()
            );
        }
        if scrape(&topo.lac, addr).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the LAC did not serve /metrics within 20 s; see {}",
                log.display()
            );
        }
        pause(Duration::from_millis(100))?;
    }
}

fn millis(value: Option<Duration>) -> Option<f64> {
    value.map(|d| d.as_secs_f64() * 1000.0)
}

/// Phase 1: every subscriber dials; returns the sessions up. Rows go to
/// `section`; a LAC that exits ends the wait at once.
fn measure_setup(
    section: &str,
    topo: &Topology,
    lac: &mut LacProcess,
    settings: &Settings,
    farm: &Farm,
    idle: probe::ProcSample,
    report: &mut Report,
) -> anyhow::Result<u32> {
    let n = settings.subscribers;
    let start = Instant::now();
    let machine_before = machine_cpu();
    let drops_before = Drops::read(topo);
    // A rate-limited start takes n / rate seconds by design.
    let limit = Duration::from_secs(120)
        + match settings.start_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(f64::from(n) / f64::from(rate)),
        };
    let mut last_progress = (Instant::now(), (0u32, 0u32));
    let stats = loop {
        pause(Duration::from_millis(100))?;
        let stats = farm.stats();
        let settled = stats.up + stats.ended;
        if settled >= n {
            break stats;
        }
        let progress = (stats.up, stats.ended);
        if progress != last_progress.1 {
            last_progress = (Instant::now(), progress);
        }
        if let Some(status) = lac.exited() {
            report.row(
                section,
                "sessions up",
                f64::from(stats.up),
                "sessions",
                format!("of {n}: the LAC exited"),
            );
            bail!(
                "the LAC exited with {status} after {:.1?}, {} of {n} subscribers up",
                start.elapsed(),
                stats.up
            );
        }
        if start.elapsed() > limit || last_progress.0.elapsed() > Duration::from_secs(40) {
            report.row(
                section,
                "sessions up",
                f64::from(stats.up),
                "sessions",
                format!("of {n}: gave up waiting"),
            );
            bail!(
                "{} of {n} subscribers up after {:.0?}; stages: discovering {}, lcp {}, authenticating {}, network {}",
                stats.up,
                start.elapsed(),
                stats.discovering,
                stats.lcp,
                stats.authenticating,
                stats.network
            );
        }
    };
    let elapsed = start.elapsed().as_secs_f64();
    let machine = busy_cores(machine_before, machine_cpu(), elapsed);
    let drops = Drops::read(topo).since(drops_before);
    let lac_cpu = proc_sample(lac.pid())?.cpu_seconds - idle.cpu_seconds;
    let up = stats.up;
    report.row(
        section,
        "sessions up",
        f64::from(up),
        "sessions",
        format!("of {n} subscribers"),
    );
    let span = match (stats.first_dial_at, stats.last_up_at) {
        (Some(first), Some(last)) => Some(last.saturating_sub(first)),
        _ => None,
    };
    report.maybe_row(
        section,
        "setup rate",
        span.filter(|s| !s.is_zero())
            .map(|s| stats.sessions_up as f64 / s.as_secs_f64()),
        "sessions/s",
        format!(
            "sessions up / (last IPCP Opened - first PADI) = {} / {:.3} s",
            stats.sessions_up,
            span.unwrap_or_default().as_secs_f64()
        ),
    );
    let failures = stats.setup_failures;
    report.row(
        section,
        "setup failures",
        (failures.discovery + failures.lcp + failures.auth + failures.ipcp) as f64,
        "sessions",
        format!(
            "discovery {}, lcp {}, auth {}, ipcp {}",
            failures.discovery, failures.lcp, failures.auth, failures.ipcp
        ),
    );
    let phases: [(&str, &LatencyHistogram, &str); 5] = [
        ("discovery", &stats.setup.discovery, "PADI -> PADS"),
        ("lcp", &stats.setup.lcp, "PADS -> LCP Opened"),
        (
            "auth",
            &stats.setup.auth,
            "LCP Opened -> authenticated (local users, L2TP tunnel and call)",
        ),
        (
            "ipcp",
            &stats.setup.ipcp,
            "authenticated -> IPCP Opened (LNS renegotiates LCP + auth, then IPCP)",
        ),
        ("total", &stats.setup.total, "first PADI -> IPCP Opened"),
    ];
    for (name, histogram, note) in phases {
        report.maybe_row(
            section,
            &format!("{name} p50"),
            millis(histogram.p50()),
            "ms",
            note,
        );
        report.maybe_row(
            section,
            &format!("{name} p99"),
            millis(histogram.p99()),
            "ms",
            format!("{} samples", histogram.count()),
        );
    }
    report.row(
        section,
        "LAC CPU during setup",
        lac_cpu / elapsed,
        "cores",
        format!(
            "{lac_cpu:.2} s over {elapsed:.1} s (from the start until every subscriber settled)"
        ),
    );
    report.maybe_row(
        section,
        "machine CPU during setup",
        machine,
        "cores",
        "LAC, farm, test LNS, softirq (/proc/stat)",
    );
    drops.report(report, section);
    // The LAC's own view, once its gauges refreshed (every second).
    pause(Duration::from_millis(1200))?;
    let text = scrape(&topo.lac, METRICS_ADDRESS.parse()?)?;
    let lac = LacCounters::parse(&text)?;
    report.row(
        section,
        "sessions up at the LAC",
        lac.sessions_up,
        "sessions",
        "tunnelnas_lac_sessions{state=\"up\"}",
    );
    ensure!(up > 0, "no subscriber came up");
    Ok(up)
}

/// Phase 2: resident memory per established session.
fn measure_memory(
    lac: &LacProcess,
    idle: probe::ProcSample,
    up: u32,
    report: &mut Report,
) -> anyhow::Result<()> {
    const SECTION: &str = "memory";
    let loaded = proc_sample(lac.pid())?;
    report.row(
        SECTION,
        "LAC RSS before the first subscriber",
        idle.rss_kib as f64 / 1024.0,
        "MiB",
        "VmRSS",
    );
    report.row(
        SECTION,
        "LAC RSS with all sessions up",
        loaded.rss_kib as f64 / 1024.0,
        "MiB",
        format!("{up} sessions"),
    );
    report.row(
        SECTION,
        "RSS per established session",
        (loaded.rss_kib as f64 - idle.rss_kib as f64) / f64::from(up),
        "KiB",
        "(loaded - idle) / sessions; DESIGN.md budget: well under 4 KiB",
    );
    Ok(())
}

/// Phase 3: the upstream flood through the LAC for one packet size.
fn measure_forwarding(
    topo: &Topology,
    lac: &LacProcess,
    lns: &Lns,
    farm: &Farm,
    settings: &Settings,
    size: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let section = format!("forwarding {size} B");
    let sessions = farm.up_sessions()?;
    let frames: Vec<Vec<u8>> = sessions
        .iter()
        .filter_map(|s| session_frame(s, size))
        .collect();
    ensure!(!frames.is_empty(), "no session to send on");
    let name = topo.sub_if.clone();
    let socket = in_netns(&topo.sub, move || PacketSocket::open(&name)).context("flood socket")?;
    let metrics_addr: SocketAddr = METRICS_ADDRESS.parse()?;

    let before = LacCounters::parse(&scrape(&topo.lac, metrics_addr)?)?;
    let lns_before = lns.stats();
    let cpu_before = proc_sample(lac.pid())?;
    let machine_before = machine_cpu();
    let drops_before = Drops::read(topo);
    let offered = Arc::new(TrafficCounter::new());
    let failure = Arc::new(Mutex::new(None::<String>));
    let start = Instant::now();
    let mut flood = {
        let (offered, failure) = (Arc::clone(&offered), Arc::clone(&failure));
        Worker::spawn("bench-flood", move |stop| {
            if let Err(err) = flood_frames(&socket, &frames, size, stop, &offered) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let waited = pause(Duration::from_secs(settings.seconds));
    flood.finish();
    let window = start.elapsed().as_secs_f64();
    let machine_after = machine_cpu();
    waited?;
    if let Some(err) = lock(&failure) {
        bail!("the generator failed: {err}");
    }
    let offered: TrafficCount = offered.read();
    // The LAC drains what it has queued, then its CPU time is read; the
    // counters once they refreshed.
    pause(Duration::from_millis(100))?;
    let cpu_after = proc_sample(lac.pid())?;
    pause(SETTLE)?;
    let after = LacCounters::parse(&scrape(&topo.lac, metrics_addr)?)?;
    let lns_after = lns.stats();
    let drops = Drops::read(topo).since(drops_before);

    let forwarded = after.upstream_packets - before.upstream_packets;
    let received = lns_after.rx_packets.saturating_sub(lns_before.rx_packets) as f64;
    let cpu = cpu_after.cpu_seconds - cpu_before.cpu_seconds;
    let offered_packets = offered.packets as f64;
    let bits = |pps: f64| pps * size as f64 * 8.0 / 1e6;
    report.row(
        &section,
        "offered",
        offered_packets / window,
        "packets/s",
        format!(
            "{} sessions, {:.1} s, {} send stalls; {:.0} Mbit/s",
            sessions.len(),
            window,
            offered.errors,
            bits(offered_packets / window)
        ),
    );
    report.row(
        &section,
        "forwarded by the LAC",
        forwarded / window,
        "packets/s",
        "tunnelnas_lac_forwarded_packets_total{direction=\"upstream\"} delta",
    );
    report.row(
        &section,
        "forwarded by the LAC",
        bits(forwarded / window),
        "Mbit/s",
        format!(
            "IP level ({size} B packets); the LAC counted {:.1} PPP octets per packet",
            (after.upstream_bytes - before.upstream_bytes) / forwarded.max(1.0)
        ),
    );
    report.row(
        &section,
        "received by the LNS",
        received / window,
        "packets/s",
        "test LNS's count of L2TP data messages",
    );
    report.row(
        &section,
        "lost before or in the LAC",
        percent(offered_packets - forwarded, offered_packets),
        "%",
        format!(
            "{:.0} of {:.0} offered (veth backlog, LAC socket buffer, fast path); fast-path drops {:.0}",
            offered_packets - forwarded,
            offered_packets,
            after.fastpath_dropped - before.fastpath_dropped
        ),
    );
    report.row(
        &section,
        "lost between LAC and LNS",
        percent(forwarded - received, forwarded),
        "%",
        format!("{:.0} of {forwarded:.0} forwarded", forwarded - received),
    );
    report.row(
        &section,
        "LAC CPU",
        cpu / window,
        "cores",
        format!("utime + stime over the window: {cpu:.2} s"),
    );
    let machine = busy_cores(machine_before, machine_after, window);
    report.maybe_row(
        &section,
        "machine CPU",
        machine,
        "cores",
        "busy over the window, every process and softirq (/proc/stat)",
    );
    let verdict = if forwarded >= 0.98 * offered_packets {
        "the LAC forwarded all it was offered: the generator set the rate"
    } else if cpu / window >= 0.9 {
        "the LAC was saturated (about one core busy): its own limit"
    } else {
        "the LAC dropped traffic without using a full core: it lost CPU time to the \
         generator, the test LNS or softirq work (see machine CPU)"
    };
    report.maybe_row(
        &section,
        "packets per LAC CPU-second",
        (cpu > 0.0).then(|| forwarded / cpu),
        "packets",
        verdict,
    );
    drops.report(report, &section);
    let still_up = farm.stats().up;
    report.row(
        &section,
        "sessions up after the flood",
        f64::from(still_up),
        "sessions",
        format!("LAC says {:.0}", after.sessions_up),
    );
    ensure!(forwarded > 0.0, "the LAC forwarded nothing");
    Ok(())
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// Phase 4: the kernel forwards the same packets between the same
/// namespaces; returns its delivered packets/s.
fn measure_kernel(
    topo: &Topology,
    settings: &Settings,
    size: usize,
    report: &mut Report,
) -> anyhow::Result<f64> {
    let section = format!("kernel {size} B");
    let sink_addr: SocketAddr = format!("{LNS_ADDRESS}:{DISCARD_PORT}").parse()?;
    let sink = in_netns(&topo.lns, move || {
        let socket = UdpSocket::bind(sink_addr)?;
        set_receive_buffer(&socket, SINK_BUFFER)?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(socket)
    })
    .context("baseline receiver socket")?;
    // The same generator as through the LAC: prebuilt frames on the
    // subscriber veth, now plain IPv4 to the LAC namespace's MAC.
    let sub_if = topo.sub_if.clone();
    let socket =
        in_netns(&topo.sub, move || PacketSocket::open(&sub_if)).context("baseline sender")?;
    let lac_if = topo.lac_access_if.clone();
    let lac_mac = in_netns(&topo.lac, move || {
        PacketSocket::open(&lac_if).map(|s| s.mac())
    })
    .context("the LAC namespace's MAC")?;
    let (src, dst): (Ipv4Addr, Ipv4Addr) = (
        Topology::baseline_sender_address().parse()?,
        LNS_ADDRESS.parse()?,
    );
    let frames: Vec<Vec<u8>> = (0..settings.subscribers)
        .filter_map(|i| {
            ipv4_frame(
                (socket.mac(), lac_mac),
                (src, dst),
                1024 + (i % 60_000) as u16,
                size,
            )
        })
        .collect();
    let flows = frames.len();
    let received = Arc::new(TrafficCounter::new());
    let offered = Arc::new(TrafficCounter::new());
    let failure = Arc::new(Mutex::new(None::<String>));
    let mut receiver = {
        let (received, failure) = (Arc::clone(&received), Arc::clone(&failure));
        Worker::spawn("bench-sink", move |stop| {
            if let Err(err) = count_udp(&sink, stop, &received) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let machine_before = machine_cpu();
    let start = Instant::now();
    let mut sender = {
        let (offered, failure) = (Arc::clone(&offered), Arc::clone(&failure));
        Worker::spawn("bench-udp-flood", move |stop| {
            if let Err(err) = flood_frames(&socket, &frames, size, stop, &offered) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let waited = pause(Duration::from_secs(settings.seconds));
    sender.finish();
    let window = start.elapsed().as_secs_f64();
    let machine = busy_cores(machine_before, machine_cpu(), window);
    let _ = pause(Duration::from_millis(300));
    receiver.finish();
    waited?;
    if let Some(err) = lock(&failure) {
        bail!("baseline traffic failed: {err}");
    }
    let (offered, received) = (offered.read(), received.read());
    let delivered = received.packets as f64 / window;
    report.row(
        &section,
        "offered",
        offered.packets as f64 / window,
        "packets/s",
        format!(
            "one sendmmsg thread of prebuilt frames (as through the LAC), {} flows, {} send stalls",
            flows, offered.errors
        ),
    );
    report.row(
        &section,
        "delivered",
        delivered,
        "packets/s",
        if (received.packets as f64) < 0.98 * offered.packets as f64 {
            "UDP received in the LNS namespace; less than offered: the kernel's forwarding limit"
        } else if offered.errors > 0 {
            "UDP received in the LNS namespace; the sender was held back (send stalls: the \
             forwarding core's backlog was full): the kernel's forwarding limit"
        } else {
            "UDP received in the LNS namespace; all that was offered, without back-pressure: \
             the sender set the rate, the kernel can forward at least this"
        },
    );
    report.row(
        &section,
        "delivered",
        delivered * size as f64 * 8.0 / 1e6,
        "Mbit/s",
        format!("IP level ({size} B packets)"),
    );
    report.row(
        &section,
        "lost",
        percent(
            offered.packets.saturating_sub(received.packets) as f64,
            offered.packets as f64,
        ),
        "%",
        "",
    );
    report.maybe_row(
        &section,
        "machine CPU",
        machine,
        "cores",
        "busy over the window, every process and softirq (/proc/stat)",
    );
    ensure!(received.packets > 0, "nothing arrived");
    Ok(delivered)
}

/// Forwarding downstream: from the LNS namespace, L2TP data messages on
/// every session (prebuilt, round robin, `sendmmsg(2)` batches of 64) to
/// the LAC, which makes PPPoE frames of them for the subscribers. The LAC's
/// rate is the delta of its downstream counter; the subscribers' side
/// counts the session frames that arrive.
fn measure_downstream(
    topo: &Topology,
    lac: &LacProcess,
    farm: &Farm,
    settings: &Settings,
    size: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let section = format!("downstream {size} B");
    let metrics_addr: SocketAddr = METRICS_ADDRESS.parse()?;
    let api: serde_json::Value =
        serde_json::from_str(&probe::get(&topo.lac, metrics_addr, "/api/v1/sessions")?)
            .context("/api/v1/sessions")?;
    let addresses: std::collections::HashMap<String, Ipv4Addr> = farm
        .up_sessions()?
        .iter()
        .map(|s| (s.mac.to_string(), s.address))
        .collect();
    let datagrams: Vec<Vec<u8>> = api
        .as_array()
        .context("/api/v1/sessions is not a list")?
        .iter()
        .filter_map(|s| {
            let tunnel_id = u16::try_from(s["tunnel_id"].as_u64()?).ok()?;
            let session_id = u16::try_from(s["session_id"].as_u64()?).ok()?;
            let to = *addresses.get(s["mac"].as_str()?)?;
            // RFC 2661 §3.1 data message: no L, S or O bit, version 2.
            let mut datagram = vec![0x00, 0x02];
            datagram.extend_from_slice(&tunnel_id.to_be_bytes());
            datagram.extend_from_slice(&session_id.to_be_bytes());
            datagram.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
            let start = datagram.len();
            datagram.resize(start + size, 0);
            write_ipv4_udp(
                datagram.get_mut(start..)?,
                (LNS_PPP_ADDRESS, to),
                (DISCARD_PORT, DISCARD_PORT),
                size,
            )?;
            Some(datagram)
        })
        .collect();
    ensure!(!datagrams.is_empty(), "no session to send on");
    let flows = datagrams.len();
    let lac_address: SocketAddr = format!("{}:1701", topology::LAC_UPLINK_ADDRESS).parse()?;
    let sender = in_netns(&topo.lns, move || {
        let socket = UdpSocket::bind(format!("{LNS_ADDRESS}:0"))?;
        socket.connect(lac_address)?;
        Ok(socket)
    })
    .context("downstream sender")?;
    let sub_if = topo.sub_if.clone();
    let sink = in_netns(&topo.sub, move || {
        let socket = PacketSocket::open(&sub_if)?;
        set_receive_buffer(&socket, SINK_BUFFER)?;
        Ok(socket)
    })
    .context("downstream counter")?;

    let before = LacCounters::parse(&scrape(&topo.lac, metrics_addr)?)?;
    let cpu_before = proc_sample(lac.pid())?;
    let offered = Arc::new(TrafficCounter::new());
    let received = Arc::new(TrafficCounter::new());
    let failure = Arc::new(Mutex::new(None::<String>));
    let mut counter = {
        let (received, failure) = (Arc::clone(&received), Arc::clone(&failure));
        Worker::spawn("bench-down-sink", move |stop| {
            if let Err(err) = count_session_frames(&sink, stop, &received) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let start = Instant::now();
    let mut flood = {
        let (offered, failure) = (Arc::clone(&offered), Arc::clone(&failure));
        Worker::spawn("bench-down-flood", move |stop| {
            if let Err(err) = flood_datagrams(&sender, &datagrams, size, stop, &offered) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let waited = pause(Duration::from_secs(settings.seconds));
    flood.finish();
    let window = start.elapsed().as_secs_f64();
    let cpu_after = proc_sample(lac.pid())?;
    let _ = pause(Duration::from_millis(300));
    counter.finish();
    waited?;
    if let Some(err) = lock(&failure) {
        bail!("downstream traffic failed: {err}");
    }
    pause(SETTLE)?;
    let after = LacCounters::parse(&scrape(&topo.lac, metrics_addr)?)?;
    let (offered, received) = (offered.read(), received.read());
    let forwarded = (after.downstream_packets - before.downstream_packets) / window;
    let lac_cores = (cpu_after.cpu_seconds - cpu_before.cpu_seconds) / window;
    report.row(
        &section,
        "offered",
        offered.packets as f64 / window,
        "packets/s",
        format!(
            "L2TP data from the LNS namespace, one sendmmsg thread, {flows} sessions, {} send stalls",
            offered.errors
        ),
    );
    report.row(
        &section,
        "forwarded by the LAC",
        forwarded,
        "packets/s",
        "tunnelnas_lac_forwarded_packets_total{direction=\"downstream\"} delta",
    );
    report.row(
        &section,
        "forwarded by the LAC",
        forwarded * size as f64 * 8.0 / 1e6,
        "Mbit/s",
        format!("IP level ({size} B packets)"),
    );
    report.row(
        &section,
        "received by the subscribers",
        received.packets as f64 / window,
        "packets/s",
        "PPPoE session frames counted on the subscribers' veth",
    );
    report.row(
        &section,
        "LAC CPU",
        lac_cores,
        "cores",
        "utime + stime over the window",
    );
    if lac_cores > 0.0 {
        report.row(
            &section,
            "packets per LAC CPU-second",
            forwarded / lac_cores,
            "packets",
            if lac_cores > 0.9 {
                "the LAC was saturated (about one core busy): its own limit"
            } else {
                "the LAC had CPU to spare: the generator set the rate"
            },
        );
    }
    Ok(())
}

/// The kernel baseline downstream: the same IP packet sizes as UDP from
/// the LNS namespace to the subscriber namespace, forwarded by the LAC
/// namespace's kernel; returns what was delivered, packets/s.
fn measure_kernel_downstream(
    topo: &Topology,
    settings: &Settings,
    size: usize,
    report: &mut Report,
) -> anyhow::Result<f64> {
    let section = format!("kernel downstream {size} B");
    let sink_addr: SocketAddr =
        format!("{}:{DISCARD_PORT}", Topology::baseline_sender_address()).parse()?;
    let sink = in_netns(&topo.sub, move || {
        let socket = UdpSocket::bind(sink_addr)?;
        set_receive_buffer(&socket, SINK_BUFFER)?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(socket)
    })
    .context("baseline receiver socket")?;
    let sender = in_netns(&topo.lns, move || {
        let socket = UdpSocket::bind(format!("{LNS_ADDRESS}:0"))?;
        socket.connect(sink_addr)?;
        Ok(socket)
    })
    .context("baseline sender")?;
    let payload = vec![0x5au8; size.saturating_sub(MIN_IP_LEN)];
    let received = Arc::new(TrafficCounter::new());
    let offered = Arc::new(TrafficCounter::new());
    let failure = Arc::new(Mutex::new(None::<String>));
    let mut receiver = {
        let (received, failure) = (Arc::clone(&received), Arc::clone(&failure));
        Worker::spawn("bench-down-sink", move |stop| {
            if let Err(err) = count_udp(&sink, stop, &received) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let start = Instant::now();
    let mut flood = {
        let (offered, failure) = (Arc::clone(&offered), Arc::clone(&failure));
        Worker::spawn("bench-down-flood", move |stop| {
            if let Err(err) = flood_udp(&sender, &payload, stop, &offered) {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        })?
    };
    let waited = pause(Duration::from_secs(settings.seconds));
    flood.finish();
    let window = start.elapsed().as_secs_f64();
    let _ = pause(Duration::from_millis(300));
    receiver.finish();
    waited?;
    if let Some(err) = lock(&failure) {
        bail!("baseline traffic failed: {err}");
    }
    let (offered, received) = (offered.read(), received.read());
    let delivered = received.packets as f64 / window;
    report.row(
        &section,
        "offered",
        offered.packets as f64 / window,
        "packets/s",
        format!("UDP from the LNS namespace, {} send stalls", offered.errors),
    );
    report.row(
        &section,
        "delivered",
        delivered,
        "packets/s",
        "UDP received in the subscriber namespace (forwarding steered to the LAC's CPU)",
    );
    Ok(delivered)
}
