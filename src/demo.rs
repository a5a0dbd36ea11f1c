//! `tunnelnas demo`: the LAC for real, with everything around it emulated
//! on this machine and nothing reaching beyond it.
//!
//! * A network namespace `tn-demo-PID` holds one end of a veth pair; the
//!   other end stays in this namespace **without an address** and is the
//!   LAC's PPPoE access interface. The subscriber farm
//!   ([`crate::loadgen::subscribers`]) dials over AF_PACKET from inside
//!   the namespace: PPPoE discovery, LCP, PAP / CHAP / MS-CHAPv2, IPCP,
//!   then a ping a second.
//! * The LAC is `tunnelnas run` with the built-in `config/demo.toml`: local
//!   users instead of a RADIUS server (accounting to
//!   `state_dir/local-accounting.jsonl`), the realm `demo.example` tunnelled
//!   to an LNS on loopback.
//! * The LNS is the product's too: the node core in the LNS role
//!   ([`crate::loadgen::lns`], with a RADIUS stand-in of the same users and
//!   an in-memory kernel for TUN), on 127.0.0.2:1701. It accepts the tunnel
//!   and the calls (RFC 2661), renegotiates LCP and authentication through
//!   the LAC (as xl2tpd's pppd does), assigns 10.99.0.0/24 and answers the
//!   pings (RFC 792).
//!
//! The namespace and the veth pair are removed on exit.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::aaa::service::AaaConfig;
use crate::config::Config;
use crate::dataplane::packet::PacketSocket;
use crate::loadgen::lns::{LnsConfig, LnsHarness, LnsStats, run_lns};
use crate::loadgen::subscribers::{FarmConfig, FarmStats, SubscriberFarm, run_farm};
use crate::ppp::link::Credentials;
use anyhow::{Context as _, bail};

/// The demo's configuration, the same file as `config/demo.toml`.
const DEMO_CONFIG: &str = include_str!("../config/demo.toml");
/// Where the demo's LNS listens (the realm rule of demo.toml).
const LNS_ADDRESS: &str = "127.0.0.2:1701";
/// Its tunnel secret (the realm rule of demo.toml).
const TUNNEL_SECRET: &[u8] = b"demo-tunnel-secret";
/// Its PPP address and pool.
const LNS_PPP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

/// What `tunnelnas demo` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Emulated subscribers.
    pub subscribers: u32,
    /// Stop after this long (default: at Ctrl-C).
    pub seconds: Option<u64>,
}

/// The namespace and veth pair, removed when dropped.
struct Topology {
    netns: String,
    lac_interface: String,
    subscriber_interface: String,
}

impl Topology {
    fn create() -> anyhow::Result<Self> {
        let id = std::process::id();
        let this = Self {
            netns: format!("tn-demo-{id}"),
            lac_interface: format!("tnd{id}a"),
            subscriber_interface: format!("tnd{id}b"),
        };
        ip(&["netns", "add", &this.netns])?;
        ip(&[
            "link",
            "add",
            &this.lac_interface,
            "type",
            "veth",
            "peer",
            "name",
            &this.subscriber_interface,
            "netns",
            &this.netns,
        ])?;
        ip(&["link", "set", &this.lac_interface, "up"])?;
        ip(&[
            "-n",
            &this.netns,
            "link",
            "set",
            &this.subscriber_interface,
            "up",
        ])?;
        Ok(this)
    }

    /// Opens the subscriber end's AF_PACKET socket from inside the
    /// namespace (the socket keeps working from any thread).
    fn open_subscriber_socket(&self) -> anyhow::Result<PacketSocket> {
        let path = PathBuf::from("/run/netns").join(&self.netns);
        let name = self.subscriber_interface.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(move || -> anyhow::Result<PacketSocket> {
                    let ns = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    // SAFETY: setns on a valid namespace descriptor; it
                    // changes only this short-lived thread's namespace.
                    let rc = unsafe {
                        libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET)
                    };
                    if rc != 0 {
                        return Err(std::io::Error::last_os_error())
                            .context("cannot enter the demo namespace");
                    }
                    PacketSocket::open(&name)
                        .with_context(|| format!("cannot open a packet socket on {name}"))
                })
                .join()
                .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
        })
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting the namespace destroys its veth end and so the pair.
        let _ = ip(&["netns", "del", &self.netns]);
        let _ = ip(&["link", "del", &self.lac_interface]);
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Process::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (Debian package iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The demo users: `user1@demo.example` … with password `demo`.
fn users(count: u32) -> Vec<Credentials> {
    (1..=count.max(1))
        .map(|i| Credentials {
            user: format!("user{i}@demo.example").into_bytes(),
            password: b"demo".to_vec(),
        })
        .collect()
}

fn write_users_file(path: &Path, users: &[Credentials]) -> anyhow::Result<()> {
    let mut text = String::from("# Written by `tunnelnas demo`.\n");
    for user in users {
        text.push_str(&format!(
            "\n[[user]]\nname = \"{}\"\npassword = \"{}\"\n",
            String::from_utf8_lossy(&user.user),
            String::from_utf8_lossy(&user.password)
        ));
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the demo.
pub fn demo(options: DemoOptions) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the demo creates a network namespace and a veth pair for its emulated subscribers: run it as root"
        );
    }
    let topology = Topology::create()?;
    let state_dir = PathBuf::from("/tmp/tunnelnas-demo");
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let config_path = state_dir.join("demo.toml");
    std::fs::write(&config_path, DEMO_CONFIG)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let users_path = state_dir.join("demo-users.toml");
    let users = users(options.subscribers);
    write_users_file(&users_path, &users)?;
    let overrides = [
        (
            "TUNNELNAS_PPPOE__INTERFACE__0__NAME".to_owned(),
            topology.lac_interface.clone(),
        ),
        (
            "TUNNELNAS_RADIUS__LOCAL_USERS".to_owned(),
            users_path.display().to_string(),
        ),
    ];
    let config = Config::load_with_env(
        &config_path,
        std::env::vars()
            .filter(|(k, _)| !k.starts_with("TUNNELNAS_"))
            .chain(overrides),
    )?;
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let aaa = AaaConfig::load(&config, seed).context("the demo's local users")?;
    let role = config
        .role()
        .context("the demo configuration enables no role")?;

    let stop = Arc::new(AtomicBool::new(false));
    let lns_report = Arc::new(Mutex::new(LnsStats::default()));
    let farm_report = Arc::new(Mutex::new(FarmStats::default()));

    let lns_address: SocketAddr = LNS_ADDRESS.parse().context("LNS address")?;
    let lns_socket = UdpSocket::bind(lns_address)
        .with_context(|| format!("cannot bind the demo LNS to {lns_address}"))?;
    let lns = LnsHarness::new(
        LnsConfig::new(
            "127.0.0.0/8".parse().context("loopback network")?,
            TUNNEL_SECRET,
            users.clone(),
            LNS_PPP_ADDRESS,
            "10.99.0.0/24".parse().context("pool")?,
        ),
        seed,
    );
    let lns_thread = {
        let stop = Arc::clone(&stop);
        let report = Arc::clone(&lns_report);
        std::thread::Builder::new()
            .name("demo-lns".into())
            .spawn(move || run_lns(lns_socket, lns, &stop, &report))
            .context("cannot start the LNS")?
    };

    let farm_socket = topology.open_subscriber_socket()?;
    let farm = SubscriberFarm::new(
        FarmConfig {
            subscribers: options.subscribers.max(1),
            credentials: users,
            start_rate: 5,
            ..FarmConfig::default()
        },
        seed,
        Instant::now(),
    );
    let farm_thread = {
        let stop = Arc::clone(&stop);
        let report = Arc::clone(&farm_report);
        std::thread::Builder::new()
            .name("demo-subscribers".into())
            .spawn(move || run_farm(farm_socket, farm, &stop, &report))
            .context("cannot start the subscriber farm")?
    };

    println!(
        "tunnelnas demo: {} subscribers dial over {} into the LAC; LNS (node core, LNS role) on {LNS_ADDRESS}",
        options.subscribers.max(1),
        topology.lac_interface
    );
    println!(
        "  metrics  http://{}/metrics\n  sessions http://{}/api/v1/sessions\n  accounting {}",
        config.metrics.listen,
        config.api.listen,
        state_dir.join("local-accounting.jsonl").display()
    );
    println!("  Ctrl-C stops it (sessions end with CDN, PADT and accounting Stop).");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tunnelnas")
        .build()
        .context("cannot start the async runtime")?;
    let seconds = options.seconds;
    let status = {
        let farm_report = Arc::clone(&farm_report);
        let lns_report = Arc::clone(&lns_report);
        move || {
            let farm = farm_report.lock().map(|f| f.clone()).unwrap_or_default();
            let lns = lns_report.lock().map(|l| l.clone()).unwrap_or_default();
            (farm, lns)
        }
    };
    let printer_status = status.clone();
    let result = runtime.block_on(async move {
        let printer = tokio::spawn({
            let status = printer_status;
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(2));
                loop {
                    tick.tick().await;
                    let (farm, lns) = status();
                    println!(
                        "  subscribers up {}/{}   pings answered {}/{}   LNS sessions {}   forwarded by the LNS {} packets",
                        farm.up,
                        farm.subscribers,
                        farm.pings_answered,
                        farm.pings_sent,
                        lns.sessions,
                        lns.rx_packets + lns.tx_packets
                    );
                }
            }
        });
        let shutdown = async move {
            match seconds {
                Some(seconds) => {
                    tokio::select! {
                        signal = crate::node::shutdown_signal() => signal,
                        () = tokio::time::sleep(Duration::from_secs(seconds)) => Ok(()),
                    }
                }
                None => crate::node::shutdown_signal().await,
            }
        };
        let result = crate::node::serve(config, config_path, aaa, role, shutdown).await;
        printer.abort();
        result
    });
    stop.store(true, Ordering::Relaxed);
    let _ = farm_thread.join();
    let _ = lns_thread.join();
    let (farm, lns) = status();
    println!(
        "tunnelnas demo: {} of {} subscribers came up, {} of {} pings answered, the LNS saw {} sessions",
        farm.sessions_up,
        farm.subscribers,
        farm.pings_answered,
        farm.pings_sent,
        lns.sessions_total
    );
    drop(topology);
    result
}
