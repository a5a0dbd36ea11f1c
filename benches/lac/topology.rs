//! The benchmark's three network namespaces and two veth pairs, a helper
//! that runs code inside a namespace, and the LAC as a child process.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Prefix of every namespace the benchmark makes (`tnb-ROLE-PID`).
const PREFIX: &str = "tnb-";

/// The LAC's L2TP address (uplink, in the LAC namespace).
pub(crate) const LAC_UPLINK_ADDRESS: &str = "10.202.0.1";
/// The LNS harness's address (in the LNS namespace).
pub(crate) const LNS_ADDRESS: &str = "10.202.0.2";
/// The kernel baseline's subscriber-side addresses.
const BASELINE_SUB_ADDRESS: &str = "10.201.0.2";
const BASELINE_LAC_ADDRESS: &str = "10.201.0.1";

/// Three namespaces, subscribers ⇄ LAC ⇄ LNS, removed when dropped
/// (deleting a namespace destroys its veth ends, and so both pairs).
#[derive(Debug)]
pub(crate) struct Topology {
    /// Subscriber namespace.
    pub(crate) sub: String,
    /// LAC namespace.
    pub(crate) lac: String,
    /// LNS namespace.
    pub(crate) lns: String,
    /// Subscriber end of the access veth (in `sub`).
    pub(crate) sub_if: String,
    /// LAC end of the access veth (in `lac`): the PPPoE interface.
    pub(crate) lac_access_if: String,
    /// LAC end of the uplink veth (in `lac`).
    pub(crate) lac_uplink_if: String,
    /// LNS end of the uplink veth (in `lns`).
    pub(crate) lns_if: String,
    /// Namespaces made so far (the ones Drop removes).
    made: Vec<String>,
}

impl Topology {
    /// Builds the topology; on failure whatever was made is removed.
    pub(crate) fn create() -> anyhow::Result<Self> {
        let pid = std::process::id();
        let mut this = Self {
            sub: format!("{PREFIX}sub-{pid}"),
            lac: format!("{PREFIX}lac-{pid}"),
            lns: format!("{PREFIX}lns-{pid}"),
            // IFNAMSIZ: at most 15 bytes ("tnb" + 7 digits + 2).
            sub_if: format!("tnb{pid}sa"),
            lac_access_if: format!("tnb{pid}la"),
            lac_uplink_if: format!("tnb{pid}lb"),
            lns_if: format!("tnb{pid}nb"),
            made: Vec::new(),
        };
        for ns in [this.sub.clone(), this.lac.clone(), this.lns.clone()] {
            ip(&["netns", "add", &ns])?;
            this.made.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        // Both pairs are made inside the namespaces: nothing ever appears
        // in the root namespace.
        ip(&[
            "-n",
            &this.sub,
            "link",
            "add",
            &this.sub_if,
            "type",
            "veth",
            "peer",
            "name",
            &this.lac_access_if,
            "netns",
            &this.lac,
        ])?;
        ip(&[
            "-n",
            &this.lac,
            "link",
            "add",
            &this.lac_uplink_if,
            "type",
            "veth",
            "peer",
            "name",
            &this.lns_if,
            "netns",
            &this.lns,
        ])?;
        ip(&[
            "-n",
            &this.lac,
            "addr",
            "add",
            &format!("{LAC_UPLINK_ADDRESS}/24"),
            "dev",
            &this.lac_uplink_if,
        ])?;
        ip(&[
            "-n",
            &this.lns,
            "addr",
            "add",
            &format!("{LNS_ADDRESS}/24"),
            "dev",
            &this.lns_if,
        ])?;
        for (ns, dev) in [
            (&this.sub, &this.sub_if),
            (&this.lac, &this.lac_access_if),
            (&this.lac, &this.lac_uplink_if),
            (&this.lns, &this.lns_if),
        ] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(this)
    }

    /// Turns the topology into a routed path for the kernel baseline:
    /// addresses on the access veth, forwarding on in the LAC namespace
    /// only, routes between the two subnets.
    pub(crate) fn route_for_kernel_baseline(&self) -> anyhow::Result<()> {
        ip(&[
            "-n",
            &self.sub,
            "addr",
            "add",
            &format!("{BASELINE_SUB_ADDRESS}/24"),
            "dev",
            &self.sub_if,
        ])?;
        ip(&[
            "-n",
            &self.lac,
            "addr",
            "add",
            &format!("{BASELINE_LAC_ADDRESS}/24"),
            "dev",
            &self.lac_access_if,
        ])?;
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.lac,
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.ip_forward=1",
            ],
        )?;
        ip(&[
            "-n",
            &self.sub,
            "route",
            "add",
            "10.202.0.0/24",
            "via",
            BASELINE_LAC_ADDRESS,
        ])?;
        ip(&[
            "-n",
            &self.lns,
            "route",
            "add",
            "10.201.0.0/24",
            "via",
            LAC_UPLINK_ADDRESS,
        ])?;
        Ok(())
    }

    /// Steers the receive processing of the LAC's access veth to `cpu`
    /// (RPS, `rps_cpus`): the kernel work of taking subscriber frames in
    /// (and, for the baseline, of forwarding them) runs on the LAC's core,
    /// as it would on the core a NIC queue interrupts, instead of on the
    /// generator's.
    pub(crate) fn steer_access_receive(&self, cpu: usize) -> anyhow::Result<()> {
        self.steer_receive(&self.lac_access_if, cpu)
    }

    /// Steers the receive processing of the LAC namespace's uplink veth
    /// (traffic from the LNS) to `cpu`: where the kernel forwards the
    /// downstream baseline.
    pub(crate) fn steer_uplink_receive(&self, cpu: usize) -> anyhow::Result<()> {
        self.steer_receive(&self.lac_uplink_if, cpu)
    }

    /// RPS for `interface` of the LAC namespace: its receive work on `cpu`.
    fn steer_receive(&self, interface: &str, cpu: usize) -> anyhow::Result<()> {
        let mask = format!("{:x}", 1u64 << cpu.min(63));
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.lac,
                "sh",
                "-c",
                &format!("echo {mask} > /sys/class/net/{interface}/queues/rx-0/rps_cpus"),
            ],
        )
    }

    /// The subscriber-side address of the kernel baseline.
    pub(crate) fn baseline_sender_address() -> &'static str {
        BASELINE_SUB_ADDRESS
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.made.drain(..).rev() {
            if let Err(err) = ip(&["netns", "del", &ns]) {
                eprintln!("lac bench: cleanup: {err:#}");
            }
        }
    }
}

/// Removes namespaces left by an earlier run that died without cleaning
/// up (its PID no longer exists).
pub(crate) fn remove_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.rsplit('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("lac bench: removing namespace {name} left by an earlier run");
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Runs `f` on a thread that entered network namespace `ns`; sockets it
/// opens stay in that namespace whichever thread uses them later.
pub(crate) fn in_netns<T: Send>(
    ns: &str,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> anyhow::Result<T> {
    let path = Path::new("/run/netns").join(ns);
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> anyhow::Result<T> {
                let file =
                    File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
                // SAFETY: setns(2) on a valid namespace descriptor; it
                // changes only this short-lived thread's network namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error())
                        .with_context(|| format!("cannot enter namespace {}", path.display()));
                }
                f().with_context(|| format!("in namespace {}", path.display()))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    })
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run `{program}`"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `tunnelnas run` inside a namespace, as a child process (killed when
/// dropped if still running).
#[derive(Debug)]
pub(crate) struct LacProcess {
    child: Child,
}

impl LacProcess {
    /// Starts `binary run -c config` in namespace `ns` with warnings and
    /// errors logged to `log`. `taskset` and `ip netns exec` exec what
    /// follows them, so the child's PID is the LAC's.
    /// With `cpu`, the process (every thread) runs on that CPU only
    /// (`taskset`, util-linux).
    pub(crate) fn start(
        ns: &str,
        binary: &Path,
        config: &Path,
        log: &Path,
        cpu: Option<usize>,
    ) -> anyhow::Result<Self> {
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.args(["-c", &cpu.to_string(), "ip"]);
                command
            }
            None => Command::new("ip"),
        };
        let child = command
            .args(["netns", "exec", ns])
            .arg(binary)
            .args(["--log-level", "warn", "run", "-c"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("log file")?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Self { child })
    }

    /// The LAC's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (and how).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (the LAC ends its sessions and flushes accounting), then
    /// SIGKILL after `grace`.
    pub(crate) fn stop(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.exited() {
            return Ok(status);
        }
        let pid = libc::pid_t::try_from(self.pid()).context("PID out of range")?;
        // SAFETY: kill(2) on our own child, which has not been reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let status = self.child.wait().context("waiting for the LAC")?;
        bail!("the LAC did not stop within {grace:?} of SIGTERM (killed: {status})")
    }
}

impl Drop for LacProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
