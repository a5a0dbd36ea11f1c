//! Issue 11: the LAC under a burst of subscribers against an LNS that
//! acknowledges like many deployed ones — a receive window of 8, control
//! messages acknowledged only by a ZLB about 10 ms after they arrive,
//! nothing piggybacked ([`LnsConfig::like_deployed_lns`]). Such an LNS
//! lets one tunnel carry at most a window of control messages per
//! acknowledgement delay; the LAC must hold the calls back (or spread them
//! over up to `[lac] max_tunnels_per_lns` tunnels), never tear its tunnel
//! down or fall over.
//!
//! ```text
//!  subs ns                      lac ns                              lns ns
//!  subscriber farm    --veth--  tunnelnas run (LAC, debug build)  --veth--  test LNS
//!  (loadgen: PPPoE,             FreeRADIUS (threaded) 127.0.0.1             10.204.0.2:1701
//!   LCP, CHAP, IPCP)            metrics/API 127.0.0.1:9180                  window 8, acks
//!                               L2TP from 10.204.0.1:1701                   after 10 ms
//! ```
//!
//! The real binary with its default timers (L2TP, PPP, `[lac]`); only the
//! PADI policer is opened so that the burst reaches L2TP as a burst. Two
//! cases: the defaults, where `max_sessions_per_tunnel` (1000) alone keeps
//! each tunnel's queue of control messages under the channel's limit
//! (1024), and `max_sessions_per_tunnel` raised above the burst, as
//! operators do, so that nothing but the LAC's handling of a full window
//! keeps one tunnel from taking every call (before the LAC held calls
//! back, that tunnel overflowed and went down). The tests take turns (a
//! lock): each wants the machine's two cores. The
//! subscribers are the load generator's farm (`loadgen::subscribers`), the
//! LNS is the product's own (the node core in the LNS role, in the load
//! generator's harness `loadgen::lns`), which renegotiates LCP and CHAP
//! and assigns addresses: a subscriber is up when IPCP through the LNS is.
//!
//! Once every subscriber is up, 20,000 SCCRQs flood the LAC's L2TP port
//! from an address no rule admits: each is counted, at most 100 a second
//! get a StopCCN, and no tunnel or session suffers.

mod common;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::freeradius::{FreeRadius, UserEntry};
use common::mgmt;
use common::netns::{Netns, VethPair};
use common::process::Process;
use common::{Context, Result, TempDir, bail, ensure, tail};
use tunnelnas::dataplane::packet::PacketSocket;
use tunnelnas::loadgen::LatencyHistogram;
use tunnelnas::loadgen::flood::set_receive_buffer;
use tunnelnas::loadgen::lns::{
    DEPLOYED_LNS_ACK_DELAY, DEPLOYED_LNS_RECEIVE_WINDOW, LnsConfig, LnsHarness, LnsStats, run_lns,
};
use tunnelnas::loadgen::subscribers::{FarmConfig, FarmStats, SubscriberFarm, run_farm};
use tunnelnas::ppp::auth::AuthMethod;
use tunnelnas::ppp::link::Credentials;

/// Subscribers dialling in one burst.
const SUBSCRIBERS: u32 = 2_000;
/// The LAC's address towards the LNS (L2TP source).
const LAC_CORE: Ipv4Addr = Ipv4Addr::new(10, 204, 0, 1);
/// The test LNS.
const LNS: Ipv4Addr = Ipv4Addr::new(10, 204, 0, 2);
/// Tunnel secret (RADIUS Tunnel-Password, and the test LNS's).
const TUNNEL_SECRET: &str = "l2tp-load-secret";
/// Every subscriber's credentials (at the LAC through FreeRADIUS, and again
/// at the test LNS, which re-authenticates).
const USER: &str = "load@isp.example";
const PASSWORD: &str = "load-Pass-1";
/// The test LNS's own PPP address and its pool.
const LNS_PPP_ADDR: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const LNS_POOL: &str = "100.64.0.0/16";
/// Management HTTP (API and metrics) of the LAC, inside its namespace.
const MGMT: &str = "127.0.0.1:9180";
/// `[lac] max_tunnels_per_lns` left at its default.
const DEFAULT_MAX_TUNNELS_PER_LNS: u32 = 4;
/// `[lac] max_sessions_per_tunnel` when the test leaves it at its default.
const DEFAULT_MAX_SESSIONS_PER_TUNNEL: u32 = 1000;
/// How long all subscribers may take to come up. The whole test must stay
/// well under two minutes on a 2-core machine.
const UP_TIMEOUT: Duration = Duration::from_secs(60);
/// Socket buffers of the farm and the test LNS: test equipment must not be
/// where a burst is lost.
const EQUIPMENT_BUFFER: usize = 16 << 20;

/// A thread running a loadgen driver until told to stop (joined on drop).
struct Runner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Runner {
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Everything the test runs; torn down in field order (farm and LNS
/// threads first, the namespaces last).
struct World {
    farm: Runner,
    farm_stats: Arc<Mutex<FarmStats>>,
    lns: Runner,
    lns_stats: Arc<Mutex<LnsStats>>,
    lac: Process,
    radius: FreeRadius,
    dir: TempDir,
    _access: VethPair,
    _core: VethPair,
    _subs_ns: Netns,
    lac_ns: Netns,
    lns_ns: Netns,
}

impl World {
    fn start(max_sessions_per_tunnel: Option<u16>) -> Result<Self> {
        common::require_root()?;
        let subs_ns = Netns::new("load-subs")?;
        let lac_ns = Netns::new("load-lac")?;
        let lns_ns = Netns::new("load-lns")?;
        let access = VethPair::builder(&subs_ns, &lac_ns).create()?;
        // The farm sends from many MACs and must see frames to all of them.
        subs_ns.ip(["link", "set", "dev", access.a(), "promisc", "on"])?;
        let core = VethPair::builder(&lac_ns, &lns_ns)
            .addr_a(&format!("{LAC_CORE}/24"))
            .addr_b(&format!("{LNS}/24"))
            .create()?;
        let dir = common::tempdir("lac-load")?;

        let radius = FreeRadius::builder()
            .in_netns(&lac_ns, Ipv4Addr::LOCALHOST.into())
            .user(UserEntry::new(USER).password(PASSWORD).l2tp_tunnel(
                1,
                &LNS.to_string(),
                TUNNEL_SECRET,
                1,
            ))
            // Thousands of requests: multi-threaded, short log.
            .threaded()
            .start()?;

        let credentials = vec![Credentials {
            user: USER.as_bytes().to_vec(),
            password: PASSWORD.as_bytes().to_vec(),
        }];

        // The test LNS: window 8, acknowledgements only after 10 ms.
        let mut config = LnsConfig::new(
            "10.204.0.0/24".parse()?,
            TUNNEL_SECRET.as_bytes(),
            credentials.clone(),
            LNS_PPP_ADDR,
            LNS_POOL.parse()?,
        )
        .like_deployed_lns(DEPLOYED_LNS_RECEIVE_WINDOW, DEPLOYED_LNS_ACK_DELAY);
        config.auth_methods = vec![AuthMethod::ChapMd5];
        let socket = lns_ns.run(|| -> std::io::Result<UdpSocket> {
            let socket = UdpSocket::bind(SocketAddr::from((LNS, 1701)))?;
            set_receive_buffer(&socket, EQUIPMENT_BUFFER)?;
            Ok(socket)
        })??;
        let lns_stats = Arc::new(Mutex::new(LnsStats::default()));
        let lns = {
            let stop = Arc::new(AtomicBool::new(false));
            let lns = LnsHarness::new(config, [11; 32]);
            let (flag, report) = (Arc::clone(&stop), Arc::clone(&lns_stats));
            let thread = std::thread::Builder::new()
                .name("test-lns".to_owned())
                .spawn(move || run_lns(socket, lns, &flag, &report))?;
            Runner {
                stop,
                thread: Some(thread),
            }
        };

        let config_path = dir.path().join("lac.toml");
        std::fs::write(
            &config_path,
            lac_config(&access, &dir, &radius, max_sessions_per_tunnel)?,
        )
        .context("writing the LAC config")?;
        let lac = mgmt::start_lac(&lac_ns, MGMT, &config_path, &dir.path().join("lac.log"))?;

        // The farm last: every subscriber dials at once.
        let ifname = access.a().to_owned();
        let socket = subs_ns.run(move || -> std::io::Result<PacketSocket> {
            let socket = PacketSocket::open(&ifname)?;
            set_receive_buffer(&socket, EQUIPMENT_BUFFER)?;
            Ok(socket)
        })??;
        let farm = SubscriberFarm::new(
            FarmConfig {
                subscribers: SUBSCRIBERS,
                credentials,
                auth_methods: vec![AuthMethod::ChapMd5],
                start_rate: 0,
                ping_interval: None,
                // A set-up that fails stays failed: counted, not hidden by
                // a redial.
                redial: None,
                ..FarmConfig::default()
            },
            [12; 32],
            Instant::now(),
        );
        let farm_stats = Arc::new(Mutex::new(FarmStats::default()));
        let farm = {
            let stop = Arc::new(AtomicBool::new(false));
            let (flag, report) = (Arc::clone(&stop), Arc::clone(&farm_stats));
            let thread = std::thread::Builder::new()
                .name("subscriber-farm".to_owned())
                .spawn(move || run_farm(socket, farm, &flag, &report))?;
            Runner {
                stop,
                thread: Some(thread),
            }
        };

        Ok(Self {
            farm,
            farm_stats,
            lns,
            lns_stats,
            lac,
            radius,
            dir,
            _access: access,
            _core: core,
            _subs_ns: subs_ns,
            lac_ns,
            lns_ns,
        })
    }

    fn farm(&self) -> FarmStats {
        self.farm_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lns(&self) -> LnsStats {
        self.lns_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// GET `path` on the LAC's management server; fails unless 200.
    fn get(&self, path: &str) -> Result<String> {
        let (code, body) = mgmt::http(&self.lac_ns, MGMT, "GET", path)?;
        ensure!(code == 200, "GET {path}: HTTP {code}: {body}");
        Ok(body)
    }

    /// Everything a failure needs: farm, test LNS, the LAC's metrics and
    /// the tails of its log and FreeRADIUS'.
    fn diag(&mut self) -> String {
        let mut out = String::new();
        let alive = match self.lac.try_wait() {
            Ok(None) => "running".to_owned(),
            Ok(Some(status)) => format!("EXITED with {status}"),
            Err(err) => format!("unknown ({err:#})"),
        };
        let _ = writeln!(out, "\n===== LAC process: {alive}");
        let _ = writeln!(
            out,
            "===== subscriber farm =====\n{}",
            farm_summary(&self.farm())
        );
        let _ = writeln!(out, "===== test LNS =====\n{}", lns_summary(&self.lns()));
        if let Ok(metrics) = self.get("/metrics") {
            let _ = writeln!(
                out,
                "===== LAC metrics (L2TP, LAC) =====\n{}",
                metric_lines(&metrics, &["tunnelnas_l2tp_", "tunnelnas_lac_"])
            );
        }
        let _ = writeln!(
            out,
            "===== LAC log ({}) =====\n{}",
            self.lac.log_path().display(),
            tail(&self.lac.log(), 120)
        );
        let _ = writeln!(
            out,
            "===== FreeRADIUS log tail =====\n{}",
            tail(&self.radius.log(), 20)
        );
        let _ = self.dir.path();
        out
    }
}

/// The LAC's configuration: default timers everywhere; the PADI policer
/// opened so that the burst reaches L2TP as a burst; `[lac]
/// max_sessions_per_tunnel` when given.
fn lac_config(
    access: &VethPair,
    dir: &TempDir,
    radius: &FreeRadius,
    max_sessions_per_tunnel: Option<u16>,
) -> Result<String> {
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir)?;
    Ok(format!(
        r#"# Generated by tests/lac_load.rs
[node]
nas_identifier = "lac-load"
state_dir = "{state_dir}"

[pppoe]
ac_name = "tn-load-lac"
padi_rate = 100000

[[pppoe.interface]]
name = "{access}"

[ppp]
auth_protocols = ["chap"]

[l2tp]
listen = "{LAC_CORE}:1701"

[lac]
auth_group = "load"
acct_group = "load"
{per_tunnel}

[radius]
nas_ip_address = "{LAC_CORE}"

[radius.group.load]

[[radius.group.load.server]]
address = "{radius_addr}"
auth_port = {auth_port}
acct_port = {acct_port}
secret = "{radius_secret}"

[metrics]
listen = "{MGMT}"

[api]
listen = "{MGMT}"
"#,
        state_dir = state_dir.display(),
        access = access.b(),
        radius_addr = radius.auth_addr().ip(),
        auth_port = radius.auth_addr().port(),
        acct_port = radius.acct_addr().port(),
        radius_secret = radius.secret(),
        per_tunnel = max_sessions_per_tunnel
            .map(|n| format!("max_sessions_per_tunnel = {n}"))
            .unwrap_or_default(),
    ))
}

/// The sample lines of a Prometheus exposition whose metric starts with
/// one of `prefixes` (histogram buckets left out).
fn metric_lines(text: &str, prefixes: &[&str]) -> String {
    text.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)) && !l.contains("_bucket{"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// "p50 / p99 / max" of a latency histogram.
fn quantiles(histogram: &LatencyHistogram) -> String {
    let ms = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{d:.0?}"));
    format!(
        "{} / {} / {}",
        ms(histogram.p50()),
        ms(histogram.p99()),
        ms(histogram.max())
    )
}

fn farm_summary(stats: &FarmStats) -> String {
    let failures = &stats.setup_failures;
    let phases = &stats.setup;
    format!(
        "up {} of {}; discovering {}, lcp {}, authenticating {}, network {}, ended {}; \
         failures: discovery {}, lcp {}, auth {}, ipcp {}; p50 / p99 / max: discovery {}, \
         lcp {}, auth (RADIUS, L2TP tunnel and call) {}, ipcp (through the LNS) {}, \
         PADI to IPCP {}",
        stats.up,
        stats.subscribers,
        stats.discovering,
        stats.lcp,
        stats.authenticating,
        stats.network,
        stats.ended,
        failures.discovery,
        failures.lcp,
        failures.auth,
        failures.ipcp,
        quantiles(&phases.discovery),
        quantiles(&phases.lcp),
        quantiles(&phases.auth),
        quantiles(&phases.ipcp),
        quantiles(&phases.total),
    )
}

fn lns_summary(stats: &LnsStats) -> String {
    format!(
        "tunnels {} (established so far {}, went down {}, failed {}); calls {} (so far {}, \
         refused {}, went down {}), IPCP up {}; PPP set-up p50 / p99 / max {}",
        stats.tunnels,
        stats.tunnels_total,
        stats.tunnels_down,
        stats.tunnels_failed,
        stats.sessions,
        stats.sessions_total,
        stats.sessions_refused,
        stats.sessions_down,
        stats.sessions_network_up,
        quantiles(&stats.ppp_setup),
    )
}

/// The LAC with its defaults: 2,000 subscribers at once against an LNS
/// with window 8 and 10 ms delayed acknowledgements.
#[test]
fn a_burst_of_2000_against_a_small_window_delayed_ack_lns_comes_up_without_teardown() -> Result<()>
{
    burst(None)
}

/// The same with `max_sessions_per_tunnel` above the burst: one tunnel
/// could take all 2,000 calls, and only the LAC holding calls back
/// behind the LNS's window (or opening more tunnels, up to
/// `max_tunnels_per_lns`) keeps that tunnel up.
#[test]
fn a_burst_of_2000_that_one_tunnel_may_carry_comes_up_without_teardown() -> Result<()> {
    burst(Some(4000))
}

/// Serialises the tests of this file: each loads both cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// 2,000 subscribers at once against an LNS with window 8 and 10 ms
/// delayed acknowledgements: every one comes up, no tunnel goes down, the
/// LAC lives, and it used at most `max_tunnels_per_lns` tunnels.
fn burst(max_sessions_per_tunnel: Option<u16>) -> Result<()> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let mut world = World::start(max_sessions_per_tunnel)?;
    let setup_started = Instant::now();

    // Wait for every subscriber to settle (up, or failed for good), for
    // the LAC to exit, or for the time limit.
    let mut outcome = None;
    while setup_started.elapsed() < UP_TIMEOUT {
        std::thread::sleep(Duration::from_millis(250));
        if let Some(status) = world.lac.try_wait()? {
            outcome = Some(format!("the LAC exited with {status}"));
            break;
        }
        let farm = world.farm();
        if farm.up + farm.ended >= SUBSCRIBERS {
            break;
        }
    }
    let setup_time = setup_started.elapsed();
    let farm = world.farm();
    eprintln!(
        "after {setup_time:.1?}: {}\ntest LNS: {}",
        farm_summary(&farm),
        lns_summary(&world.lns())
    );
    if let Some(outcome) = outcome {
        bail!("{outcome}{}", world.diag());
    }
    ensure!(
        farm.up == SUBSCRIBERS,
        "{} of {SUBSCRIBERS} subscribers up after {setup_time:.1?}{}",
        farm.up,
        world.diag()
    );

    // The LAC's gauges refresh once a second.
    std::thread::sleep(Duration::from_millis(1500));
    ensure!(
        world.lac.try_wait()?.is_none(),
        "the LAC exited after the set-up{}",
        world.diag()
    );
    let metrics = world.get("/metrics")?;
    let tunnels_down = mgmt::metric_sum(&metrics, "tunnelnas_l2tp_tunnel_down_total", &[]);
    let tunnels_up = mgmt::metric_sum(&metrics, "tunnelnas_l2tp_tunnels", &[("role", "lac")]);
    // The per-LNS gauge: tunnels to this LNS.
    let lns_tunnels = mgmt::metric_sum(
        &metrics,
        "tunnelnas_lac_lns_tunnels",
        &[("lns", &format!("{LNS}:1701"))],
    );
    let sessions_up = mgmt::metric_sum(&metrics, "tunnelnas_lac_sessions", &[("state", "up")]);
    let api: serde_json::Value = serde_json::from_str(&world.get("/api/v1/tunnels")?)
        .context("/api/v1/tunnels is not JSON")?;
    let api_tunnels: Vec<&serde_json::Value> = api
        .as_array()
        .map(|tunnels| {
            tunnels
                .iter()
                .filter(|t| {
                    t["peer"]
                        .as_str()
                        .is_some_and(|p| p.starts_with(&format!("{LNS}:")))
                })
                .collect()
        })
        .unwrap_or_default();
    let lns = world.lns();
    eprintln!(
        "LAC metrics:\n{}",
        metric_lines(
            &metrics,
            &[
                "tunnelnas_l2tp_tunnel",
                "tunnelnas_l2tp_control_channel",
                "tunnelnas_l2tp_setup_seconds_count",
                "tunnelnas_l2tp_setup_seconds_sum",
                "tunnelnas_lac_sessions",
                "tunnelnas_lac_setup_failures",
                "tunnelnas_lac_lns_tunnels",
                "tunnelnas_lac_queued_calls",
            ]
        )
    );
    eprintln!(
        "LAC: {lns_tunnels} tunnels to the LNS (tunnelnas_lac_lns_tunnels), {tunnels_up} \
         established as LAC (tunnelnas_l2tp_tunnels), {} in /api/v1/tunnels, \
         {tunnels_down} went down; {sessions_up} sessions up; test LNS: {} tunnels, {} went \
         down, {} failed, {} calls went down; whole test so far {:.1?}",
        api_tunnels.len(),
        lns.tunnels,
        lns.tunnels_down,
        lns.tunnels_failed,
        lns.sessions_down,
        started.elapsed()
    );
    ensure!(
        tunnels_down == 0.0 && lns.tunnels_down == 0 && lns.tunnels_failed == 0,
        "tunnels went down: LAC tunnelnas_l2tp_tunnel_down_total {tunnels_down}, test LNS \
         {} established and {} unestablished{}",
        lns.tunnels_down,
        lns.tunnels_failed,
        world.diag()
    );
    ensure!(
        lns.sessions_down == 0,
        "{} calls went down at the test LNS{}",
        lns.sessions_down,
        world.diag()
    );
    ensure!(
        sessions_up == f64::from(SUBSCRIBERS) && lns.sessions_network_up == SUBSCRIBERS,
        "LAC sessions up {sessions_up}, test LNS sessions with IPCP up {}, expected \
         {SUBSCRIBERS}{}",
        lns.sessions_network_up,
        world.diag()
    );
    // At most max_tunnels_per_lns tunnels take calls at once; tunnels full
    // of sessions (max_sessions_per_tunnel) do not count towards it.
    let full =
        SUBSCRIBERS / max_sessions_per_tunnel.map_or(DEFAULT_MAX_SESSIONS_PER_TUNNEL, u32::from);
    let most = f64::from(DEFAULT_MAX_TUNNELS_PER_LNS + full);
    ensure!(
        (1.0..=most).contains(&lns_tunnels)
            && tunnels_up == lns_tunnels
            && api_tunnels.len() as f64 == lns_tunnels
            && f64::from(lns.tunnels) == lns_tunnels,
        "tunnels to the LNS: {lns_tunnels} by tunnelnas_lac_lns_tunnels, {tunnels_up} by \
         tunnelnas_l2tp_tunnels, {} in /api/v1/tunnels, {} at the test LNS; expected the same \
         number, 1 to {most} ([lac] max_tunnels_per_lns default {DEFAULT_MAX_TUNNELS_PER_LNS}, \
         plus {full} that {SUBSCRIBERS} calls can fill){}",
        api_tunnels.len(),
        lns.tunnels,
        world.diag()
    );

    sccrq_flood(&mut world, sessions_up)?;

    // Orderly end: subscribers hang up, then the LAC stops cleanly (CDNs
    // and StopCCN to the test LNS, which is still there to acknowledge).
    world.farm.finish();
    world.lac.signal(libc::SIGTERM);
    let status = world.lac.wait_timeout(Duration::from_secs(20))?;
    world.lns.finish();
    ensure!(
        status.is_some_and(|s| s.success()),
        "the LAC did not stop cleanly: {status:?}{}",
        world.diag()
    );
    eprintln!("whole test {:.1?}", started.elapsed());
    Ok(())
}

/// SCCRQs in one flood at the LAC's L2TP port from an address no rule
/// admits (the LAC has no `[lns]`).
const FLOOD_SCCRQS: u32 = 20_000;

/// An SCCRQ flood on the established LAC (issue 13: refused without
/// state, answered at most `REFUSALS_PER_SECOND` times a second,
/// counted): no tunnel or session may suffer, and the LAC stays up.
fn sccrq_flood(world: &mut World, sessions_before: f64) -> Result<()> {
    use tunnelnas::wire::l2tp::{Avp, ControlMessage, Framing, MessageType, ProtocolVersion};
    let before = mgmt::metric_sum(
        &world.get("/metrics")?,
        "tunnelnas_l2tp_dropped_datagrams_total",
        &[("reason", "peer_not_allowed")],
    );
    let flood_started = Instant::now();
    let (sent, answers, flood_time) =
        world.lns_ns.run(move || -> Result<(u32, u32, Duration)> {
            let socket = UdpSocket::bind(SocketAddr::from((LNS, 0)))?;
            socket.set_read_timeout(Some(Duration::from_millis(200)))?;
            let mut sent = 0;
            let started = Instant::now();
            for i in 0..FLOOD_SCCRQS {
                let mut sccrq = ControlMessage::new(MessageType::Sccrq)
                    .with_avp(Avp::ProtocolVersion(ProtocolVersion::RFC2661))
                    .with_avp(Avp::HostName(b"flood".to_vec()))
                    .with_avp(Avp::FramingCapabilities(Framing::SYNC))
                    .with_avp(Avp::AssignedTunnelId(u16::try_from(i % 65_535 + 1)?));
                sccrq.ns = 0;
                let bytes = sccrq.to_vec(None)?;
                if socket.send_to(&bytes, (LAC_CORE, 1701)).is_ok() {
                    sent += 1;
                }
            }
            let flood_time = started.elapsed();
            let mut answers = 0;
            let mut buf = [0u8; 2048];
            while socket.recv_from(&mut buf).is_ok() {
                answers += 1;
            }
            Ok((sent, answers, flood_time))
        })??;
    // The LAC's gauges refresh once a second.
    std::thread::sleep(Duration::from_millis(1500));
    ensure!(
        world.lac.try_wait()?.is_none(),
        "the LAC exited under the SCCRQ flood{}",
        world.diag()
    );
    let metrics = world.get("/metrics")?;
    let refused = mgmt::metric_sum(
        &metrics,
        "tunnelnas_l2tp_dropped_datagrams_total",
        &[("reason", "peer_not_allowed")],
    ) - before;
    let tunnels_down = mgmt::metric_sum(&metrics, "tunnelnas_l2tp_tunnel_down_total", &[]);
    let sessions_up = mgmt::metric_sum(&metrics, "tunnelnas_lac_sessions", &[("state", "up")]);
    let seconds = flood_started.elapsed().as_secs() + 1;
    eprintln!(
        "SCCRQ flood: {sent} sent in {flood_time:.2?}, {refused} counted as peer_not_allowed, \
         {answers} StopCCNs back; sessions up {sessions_up}"
    );
    ensure!(
        refused > 0.0 && refused <= f64::from(sent),
        "the flood's SCCRQs were not counted: {refused} of {sent}"
    );
    let most = u64::from(tunnelnas::l2tp::REFUSALS_PER_SECOND) * (seconds + 1);
    ensure!(
        answers >= 1 && u64::from(answers) <= most,
        "{answers} StopCCNs for {sent} SCCRQs in about {seconds} s: expected 1 to {most}"
    );
    ensure!(
        tunnels_down == 0.0 && sessions_up == sessions_before,
        "the flood cost tunnels ({tunnels_down} down) or sessions ({sessions_up} up, \
         {sessions_before} before){}",
        world.diag()
    );
    Ok(())
}
