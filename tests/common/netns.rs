//! Network namespaces, veth pairs and taps — one namespace per emulated host.
//!
//! ```ignore
//! let lac = Netns::new("lac")?;
//! let lns = Netns::new("lns")?;
//! let link = VethPair::builder(&lac, &lns)
//!     .addr_a("10.1.0.1/24")
//!     .addr_b("10.1.0.2/24")
//!     .mtu(1500)
//!     .create()?;
//! lac.ping(Ipv4Addr::new(10, 1, 0, 2).into())?;
//! let sock = lac.run(|| std::net::UdpSocket::bind("10.1.0.1:1701"))??; // lives in `lac`
//! ```
//!
//! Names: a namespace is `tn-<pid>-<n>-<tag>`, so tests on parallel threads
//! and test processes running side by side never collide, and a crashed
//! run's leftovers are recognisable: the first [`Netns::new`] of a process
//! deletes every `tn-<pid>-…` namespace whose process is gone. Interface
//! names are checked against IFNAMSIZ (15 bytes); default veth names are
//! unique per machine (see [`super::unique_ifname`]).
//!
//! Nothing here touches the root namespace's interfaces: veth ends are
//! created directly inside the test namespaces.

use std::ffi::OsStr;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::process::{Process, pid_alive, run_checked, run_unchecked, send_signal};
use super::{Context, Result, bail, check_ifname, ensure, next_id, require_tool, unique_ifname};

/// Prefix of every namespace this harness creates.
pub const NETNS_PREFIX: &str = "tn-";

/// A network namespace with loopback up, deleted on drop together with every
/// process still running in it.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `tn-<pid>-<n>-<tag>` with `lo` up. `tag` (letters, digits,
    /// `-`, `_`; truncated to 20 bytes) only helps a human reading `ip netns`.
    pub fn new(tag: &str) -> Result<Self> {
        super::require_root()?;
        require_tool("ip", "iproute2")?;
        remove_stale_namespaces();
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(20)
            .collect();
        let name = format!("{NETNS_PREFIX}{}-{}-{tag}", std::process::id(), next_id());
        run_checked(ip(["netns", "add", name.as_str()]))?;
        let ns = Self { name };
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace name (as `ip netns` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`, the bind mount that keeps the namespace alive.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// A `Command` that runs `program` inside the namespace
    /// (`ip netns exec NAME program`); add arguments and run or spawn it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", self.name.as_str()])
            .arg(program);
        command
    }

    /// Runs `argv` in the namespace; fails (showing stdout/stderr) unless it
    /// exits 0.
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Output> {
        run_checked(self.argv_command(argv)?)
    }

    /// Runs `argv` in the namespace and returns its output whatever the
    /// exit status.
    pub fn exec_unchecked<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Output> {
        run_unchecked(self.argv_command(argv)?)
    }

    fn argv_command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Command> {
        let Some((program, args)) = argv.split_first() else {
            bail!("empty command line for namespace {}", self.name);
        };
        let mut command = self.command(program);
        command.args(args);
        Ok(command)
    }

    /// `ip -n NAME ARGS…` (checked), e.g. `ns.ip(["route", "add", …])`.
    pub fn ip<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = ip(["-n", self.name.as_str()]);
        command.args(args);
        run_checked(command)
    }

    /// Spawns a long-running `command` (build it with [`Self::command`]) with
    /// its output in `log`; it is stopped when the returned handle drops.
    pub fn spawn(&self, name: &str, command: Command, log: &Path) -> Result<Process> {
        Process::spawn(&format!("{name} in {}", self.name), command, log)
    }

    /// Runs `f` on a new thread whose network namespace is this one and
    /// returns its result (a panic in `f` is resumed on the caller).
    /// Sockets created in `f` belong to this namespace for their whole
    /// life, wherever they are used afterwards — that is how tests drive
    /// AF_PACKET / UDP code "inside" an emulated host.
    ///
    /// Note: a multi-threaded tokio runtime built in `f` would start its
    /// workers in the root namespace; build a current-thread runtime in `f`,
    /// or create the sockets in `f` and hand them out.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let handle = File::open(self.path())
            .with_context(|| format!("opening {}", self.path().display()))?;
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || -> Result<T> {
                enter(&handle)?;
                Ok(f())
            });
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
        .with_context(|| format!("running a closure in namespace {}", self.name))
    }

    /// Spawns a named thread that lives in this namespace and runs `f`
    /// (e.g. a server loop); join it to get `f`'s result. Fails if the
    /// namespace cannot be entered.
    pub fn spawn_thread<T, F>(&self, name: &str, f: F) -> Result<std::thread::JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = File::open(self.path())
            .with_context(|| format!("opening {}", self.path().display()))?;
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let entered = enter(&handle);
                drop(handle);
                let failed = entered.is_err();
                let _ = entered_tx.send(entered);
                if failed {
                    // The caller got the error; end this thread without running `f`.
                    std::panic::resume_unwind(Box::new("could not enter the namespace"));
                }
                f()
            })
            .context("spawning a thread")?;
        entered_rx
            .recv()
            .context("namespace thread vanished")?
            .with_context(|| format!("entering namespace {}", self.name))?;
        Ok(thread)
    }

    /// Adds a tap device `name` (up, no address) for a qemu guest or a test
    /// that opens it; removed with the namespace.
    pub fn add_tap(&self, name: &str) -> Result<()> {
        check_ifname(name)?;
        self.ip(["tuntap", "add", "dev", name, "mode", "tap"])?;
        self.ip(["link", "set", "dev", name, "up"])?;
        Ok(())
    }

    /// Adds `addr` (CIDR, IPv4 or IPv6) to interface `dev`; IPv6 addresses
    /// skip duplicate address detection so they are usable at once.
    pub fn add_addr(&self, dev: &str, addr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            args.push("nodad");
        }
        self.ip(args)?;
        Ok(())
    }

    /// Pings `addr` from the namespace (3 tries, 1 s each); fails with
    /// ping's output when no reply comes.
    pub fn ping(&self, addr: IpAddr) -> Result<()> {
        require_tool("ping", "iputils-ping")?;
        let target = addr.to_string();
        let out =
            self.exec_unchecked(&["ping", "-c", "1", "-W", "1", "-w", "3", target.as_str()])?;
        ensure!(
            out.status.success(),
            "ping {target} from {} failed:\n{}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Pids of the processes running in the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<u32> {
        pids_in(&self.name)
    }

    /// Whether a namespace called `name` exists.
    pub fn exists(name: &str) -> bool {
        Path::new("/run/netns").join(name).exists()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_namespace(&self.name);
    }
}

/// A veth pair with one end in each of two namespaces.
#[derive(Debug)]
pub struct VethPair {
    name_a: String,
    name_b: String,
    netns_a: String,
}

impl VethPair {
    /// Starts a veth pair between `a` and `b` (the same namespace twice is
    /// allowed); configure it and call [`VethBuilder::create`].
    pub fn builder<'a>(a: &'a Netns, b: &'a Netns) -> VethBuilder<'a> {
        VethBuilder {
            a,
            b,
            name_a: None,
            name_b: None,
            addrs_a: Vec::new(),
            addrs_b: Vec::new(),
            mtu: None,
        }
    }

    /// A pair with default names, no addresses, default MTU, both ends up.
    pub fn new(a: &Netns, b: &Netns) -> Result<Self> {
        Self::builder(a, b).create()
    }

    /// Interface name of the end in namespace `a`.
    pub fn a(&self) -> &str {
        &self.name_a
    }

    /// Interface name of the end in namespace `b`.
    pub fn b(&self) -> &str {
        &self.name_b
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes both; gone already if the namespace is.
        if Netns::exists(&self.netns_a) {
            let _ = run_unchecked(ip([
                "-n",
                self.netns_a.as_str(),
                "link",
                "del",
                self.name_a.as_str(),
            ]));
        }
    }
}

/// Configures a [`VethPair`]; see [`VethPair::builder`].
#[derive(Debug)]
pub struct VethBuilder<'a> {
    a: &'a Netns,
    b: &'a Netns,
    name_a: Option<String>,
    name_b: Option<String>,
    addrs_a: Vec<String>,
    addrs_b: Vec<String>,
    mtu: Option<u32>,
}

impl VethBuilder<'_> {
    /// Interface names of the two ends (each ≤ 15 bytes). Default: unique
    /// `vethXXXXXXn` names.
    pub fn names(mut self, a: &str, b: &str) -> Self {
        self.name_a = Some(a.to_owned());
        self.name_b = Some(b.to_owned());
        self
    }

    /// Adds an address (CIDR, IPv4 or IPv6, e.g. `"10.1.0.1/24"`,
    /// `"fd00::1/64"`) to end `a`; may be called several times.
    pub fn addr_a(mut self, cidr: &str) -> Self {
        self.addrs_a.push(cidr.to_owned());
        self
    }

    /// Adds an address to end `b`; see [`Self::addr_a`].
    pub fn addr_b(mut self, cidr: &str) -> Self {
        self.addrs_b.push(cidr.to_owned());
        self
    }

    /// MTU of both ends.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Creates the pair inside the namespaces, sets MTU and addresses, and
    /// brings both ends up.
    pub fn create(self) -> Result<VethPair> {
        let name_a = match self.name_a {
            Some(name) => name,
            None => unique_ifname("veth")?,
        };
        let name_b = match self.name_b {
            Some(name) => name,
            None => unique_ifname("veth")?,
        };
        check_ifname(&name_a)?;
        check_ifname(&name_b)?;
        ensure!(name_a != name_b, "both veth ends are called {name_a}");
        self.a.ip([
            "link",
            "add",
            name_a.as_str(),
            "type",
            "veth",
            "peer",
            "name",
            name_b.as_str(),
            "netns",
            self.b.name(),
        ])?;
        let pair = VethPair {
            name_a,
            name_b,
            netns_a: self.a.name().to_owned(),
        };
        for (ns, dev, addrs) in [
            (self.a, pair.a(), &self.addrs_a),
            (self.b, pair.b(), &self.addrs_b),
        ] {
            if let Some(mtu) = self.mtu {
                ns.ip(["link", "set", "dev", dev, "mtu", &mtu.to_string()])?;
            }
            for addr in addrs {
                ns.add_addr(dev, addr)?;
            }
            ns.ip(["link", "set", "dev", dev, "up"])?;
        }
        Ok(pair)
    }
}

/// `ip ARGS…`.
fn ip<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new("ip");
    command.args(args);
    command
}

/// Moves the calling thread into the namespace open as `handle`.
fn enter(handle: &File) -> Result<()> {
    // SAFETY: setns takes a valid open descriptor, which `handle` is for the
    // whole call; CLONE_NEWNET affects only the calling thread.
    let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

fn pids_in(name: &str) -> Vec<u32> {
    run_unchecked(ip(["netns", "pids", name]))
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills every process in namespace `name`, then deletes it.
fn delete_namespace(name: &str) {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let pids = pids_in(name);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            send_signal(*pid as i32, signal);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while pids.iter().any(|pid| pid_alive(*pid)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if let Ok(out) = run_unchecked(ip(["netns", "del", name]))
        && !out.status.success()
        && Netns::exists(name)
    {
        eprintln!(
            "deleting namespace {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Deletes namespaces of crashed earlier runs (once per process):
/// `tn-<pid>-…` where no process `<pid>` exists, or where the process that
/// has that pid now started after the namespace was made (pid reused).
fn remove_stale_namespaces() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir("/run/netns") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(NETNS_PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let created = entry.metadata().and_then(|meta| meta.modified()).ok();
            let owner_alive = match (process_start_time(pid), created, boot_time()) {
                // nsfs keeps the creation time; trust it only if it is sane.
                (Some(started), Some(created), Some(boot)) if created >= boot => {
                    started <= created + Duration::from_secs(2)
                }
                _ => pid_alive(pid),
            };
            if !owner_alive {
                eprintln!("removing leftover namespace {name} (its process {pid} is gone)");
                delete_namespace(&name);
            }
        }
    });
}

/// When process `pid` started (from `/proc/PID/stat` and the boot time).
fn process_start_time(pid: u32) -> Option<SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 22 (starttime) is the 20th after the name: state is the 1st.
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()?
        .max(1);
    Some(boot_time()? + Duration::from_millis(ticks.saturating_mul(1000) / hz))
}

/// When the machine booted (`btime` of `/proc/stat`).
fn boot_time() -> Option<SystemTime> {
    let seconds: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}
