//! The real Linux PPP stack as a test peer: a qemu guest (`shared/linux-peer`)
//! running Debian's pppd 2.4.9, rp-pppoe and xl2tpd with the kernel's PPP,
//! PPPoE and L2TP drivers, on a tap device in a test namespace.
//!
//! ```ignore
//! let ns = Netns::new("sub")?;
//! let tap = unique_ifname("tap")?;
//! ns.add_tap(&tap)?;                      // optional: lets a capture start first
//! let peer = LinuxPeer::boot(&ns, &tap, 90, &[
//!     ("tn.mode", "pppoe-client"), ("tn.user", "alice"), ("tn.pass", "pw"), ("tn.runfor", "20"),
//! ])?;
//! let report = peer.wait()?;
//! assert!(report.up().is_some(), "{}", report.console_tail(40));
//! ```
//!
//! Modes and keys (`tn.mode` = `pppoe-client`, `pppoe-server`, `l2tp-lns`,
//! `l2tp-lac`; `tn.user`, `tn.pass`, `tn.auth`, `tn.ip`, `tn.lns`,
//! `tn.secret`, `tn.local`, `tn.pool`, `tn.runfor`) are documented in
//! `shared/linux-peer/README.md`. A guest boots in ≈ 15 s under software
//! emulation and costs about one core while it runs (the machine has two):
//! keep `tn.runfor` short and boot few guests at once.
//!
//! The scripts are found as `$TN_TEST_SHARED/linux-peer` or
//! `$CARGO_MANIFEST_DIR/../shared/linux-peer` (CI clones the repository with
//! `shared/` beside it).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use super::netns::Netns;
use super::process::{Process, read_lossy, run_checked};
use super::{
    Result, TempDir, anyhow, bail, check_ifname, ensure, manifest_dir, require_tool, tail, tempdir,
};

/// Kernel parameter added to every guest: reboot (= qemu exits) 1 s after
/// a panic, instead of hanging until the run's time limit.
pub const GUEST_PANIC_REBOOT: &str = "panic=1";

/// The `shared/` directory beside the repository.
pub fn shared_dir() -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("TN_TEST_SHARED")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(manifest_dir().join("..").join("shared")))
        .collect();
    candidates
        .iter()
        .find(|dir| dir.join("linux-peer").join("run").is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "linux-peer scripts not found: looked for linux-peer/run in {}; \
                 set TN_TEST_SHARED to the shared/ directory (CI clones it beside the repository)",
                candidates
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        })
}

/// One `TN-*` line printed by the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TnLine {
    /// `TN-START mode=… auth=… user=… runfor=…`, as key → value.
    Start(BTreeMap<String, String>),
    /// `TN-UP IFACE local=A peer=B`: a PPP link got IPv4 addresses.
    Up {
        /// Guest interface, e.g. `ppp0`.
        iface: String,
        /// The guest's address on the link.
        local: Ipv4Addr,
        /// The peer's address on the link.
        peer: Ipv4Addr,
    },
    /// `TN-PING IFACE ok|fail`: client modes ping the peer address.
    Ping {
        /// Guest interface.
        iface: String,
        /// Whether the ping got answers.
        ok: bool,
    },
    /// `TN-END up=N`: N links came up; the guest powers off next.
    End {
        /// Number of PPP links that came up.
        up: u32,
    },
    /// `TN-ERROR …` (e.g. unknown mode).
    Error(String),
    /// A `TN-` line this harness does not know (the whole line).
    Other(String),
}

impl TnLine {
    /// Parses one console line; `None` if it is not a `TN-` line.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim_end_matches('\r').trim();
        let rest = line.get(line.find("TN-")?..)?;
        let (tag, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let words: Vec<&str> = args.split_whitespace().collect();
        let keyed = |key: &str| {
            words
                .iter()
                .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        };
        let parsed = match tag {
            "TN-START" => Some(Self::Start(
                words
                    .iter()
                    .filter_map(|word| word.split_once('='))
                    .map(|(key, value)| (key.to_owned(), value.to_owned()))
                    .collect(),
            )),
            "TN-UP" => match (words.first(), keyed("local"), keyed("peer")) {
                (Some(iface), Some(local), Some(peer)) => match (local.parse(), peer.parse()) {
                    (Ok(local), Ok(peer)) => Some(Self::Up {
                        iface: (*iface).to_owned(),
                        local,
                        peer,
                    }),
                    _ => None,
                },
                _ => None,
            },
            "TN-PING" => match words.as_slice() {
                [iface, verdict] => Some(Self::Ping {
                    iface: (*iface).to_owned(),
                    ok: *verdict == "ok",
                }),
                _ => None,
            },
            "TN-END" => keyed("up")
                .and_then(|up| up.parse().ok())
                .map(|up| Self::End { up }),
            "TN-ERROR" => Some(Self::Error(args.to_owned())),
            _ => None,
        };
        Some(parsed.unwrap_or_else(|| Self::Other(rest.to_owned())))
    }
}

/// A booted guest; see [`LinuxPeer::boot`]. Dropping it powers the guest
/// off (qemu is terminated).
#[derive(Debug)]
pub struct LinuxPeer {
    process: Process,
    console_log: PathBuf,
    tap: String,
    _out_dir: TempDir,
}

/// What a guest reported when it ended.
#[derive(Debug, Clone)]
pub struct PeerReport {
    /// Its `TN-*` lines, in order.
    pub lines: Vec<TnLine>,
    /// Exit status of the `run` script (0: the guest powered off by itself).
    pub status: ExitStatus,
    /// The whole serial console (`DIR/console-TAP.log`).
    pub console_log: PathBuf,
}

impl PeerReport {
    /// Whether the guest got to `TN-END` (it ran its scenario to the end).
    pub fn ended(&self) -> bool {
        self.lines
            .iter()
            .any(|line| matches!(line, TnLine::End { .. }))
    }

    /// The first `TN-UP`: `(iface, local, peer)`.
    pub fn up(&self) -> Option<(&str, Ipv4Addr, Ipv4Addr)> {
        self.lines.iter().find_map(|line| match line {
            TnLine::Up { iface, local, peer } => Some((iface.as_str(), *local, *peer)),
            _ => None,
        })
    }

    /// The result of the first `TN-PING`.
    pub fn ping_ok(&self) -> Option<bool> {
        self.lines.iter().find_map(|line| match line {
            TnLine::Ping { ok, .. } => Some(*ok),
            _ => None,
        })
    }

    /// The last `lines` lines of the console, for failure messages.
    pub fn console_tail(&self, lines: usize) -> String {
        format!(
            "console {}:\n{}",
            self.console_log.display(),
            tail(&read_lossy(&self.console_log).replace('\r', ""), lines)
        )
    }
}

impl LinuxPeer {
    /// Builds the guest image once per process (`linux-peer/build`, itself
    /// idempotent and cached in `~/.cache/linux-peer`; ≈ 3 min the first
    /// time) and returns its directory.
    pub fn image() -> Result<PathBuf> {
        static IMAGE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
        IMAGE
            .get_or_init(|| build_image().map_err(|error| format!("{error:#}")))
            .clone()
            .map_err(|error| anyhow!("building the linux-peer image failed: {error}"))
    }

    /// Boots a guest on tap `tap` in `netns` (the tap is created if missing;
    /// its name must be unique on the machine — see
    /// [`super::unique_ifname`] — because the console log is
    /// `IMAGE_DIR/console-TAP.log`). `seconds` bounds the whole run; the
    /// `params` are `tn.*` kernel-command-line words. Returns at once; the
    /// guest boots in the background.
    pub fn boot(netns: &Netns, tap: &str, seconds: u64, params: &[(&str, &str)]) -> Result<Self> {
        check_ifname(tap)?;
        for (key, value) in params {
            ensure!(
                key.starts_with("tn.") && !value.contains(char::is_whitespace) && !value.is_empty(),
                "guest parameter {key}={value:?}: keys are tn.*, values non-empty without spaces"
            );
        }
        require_tool("qemu-system-x86_64", "qemu-system-x86")?;
        require_tool("qemu-img", "qemu-utils")?;
        let image = Self::image()?;
        let run = shared_dir()?.join("linux-peer").join("run");
        let out_dir = tempdir("linux-peer")?;
        let mut command = Command::new(&run);
        command
            .arg(&image)
            .arg(netns.name())
            .arg(tap)
            .arg(seconds.to_string())
            .arg("--")
            .args(params.iter().map(|(key, value)| format!("{key}={value}")))
            // guest-init exits right after asking for a power-off, and
            // init exiting panics the kernel, which then hangs unless told
            // to reboot — and qemu's -no-reboot turns a reboot into exit.
            .arg(GUEST_PANIC_REBOOT);
        let log = out_dir.path().join("run.log");
        let process = Process::spawn(&format!("linux-peer on {tap}"), command, &log)?;
        Ok(Self {
            process,
            console_log: image.join(format!("console-{tap}.log")),
            tap: tap.to_owned(),
            _out_dir: out_dir,
        })
    }

    /// The guest's serial console log (written while it runs).
    pub fn console_log(&self) -> &Path {
        &self.console_log
    }

    /// The tap the guest is attached to.
    pub fn tap(&self) -> &str {
        &self.tap
    }

    /// `TN-*` lines the guest printed so far.
    pub fn lines_so_far(&self) -> Vec<TnLine> {
        parse_console(&read_lossy(&self.console_log))
    }

    /// Waits until the guest printed a line for which `matches` is true
    /// (e.g. `|l| matches!(l, TnLine::Up { .. })`), at most `timeout`.
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        matches: impl Fn(&TnLine) -> bool,
    ) -> Result<TnLine> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines_so_far().into_iter().find(&matches) {
                return Ok(line);
            }
            if !self.process.is_running() || std::time::Instant::now() >= deadline {
                bail!(
                    "the guest on {} did not print the expected TN- line (lines: {:?})\n{}",
                    self.tap,
                    self.lines_so_far(),
                    tail(&read_lossy(&self.console_log).replace('\r', ""), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the guest to power off (or the `seconds` limit of
    /// [`Self::boot`] to kill it) and returns its report. Fails if the run
    /// script could not start the guest at all.
    pub fn wait(mut self) -> Result<PeerReport> {
        // The run script's own `timeout` bounds the guest; this is a safety net.
        let status = match self.process.wait_timeout(Duration::from_secs(3600))? {
            Some(status) => status,
            None => self.process.stop()?,
        };
        let console = read_lossy(&self.console_log);
        let lines = parse_console(&console);
        ensure!(
            !lines.is_empty(),
            "the guest on {} printed no TN- line (run exited {status})\nrun output:\n{}\nconsole {}:\n{}",
            self.tap,
            self.process.log_tail(20),
            self.console_log.display(),
            tail(&console.replace('\r', ""), 40)
        );
        Ok(PeerReport {
            lines,
            status,
            console_log: self.console_log.clone(),
        })
    }
}

/// All `TN-*` lines of a console log.
pub fn parse_console(console: &str) -> Vec<TnLine> {
    console
        .lines()
        .filter(|line| line.trim_start().starts_with("TN-"))
        .filter_map(TnLine::parse)
        .collect()
}

fn build_image() -> Result<PathBuf> {
    require_tool("qemu-system-x86_64", "qemu-system-x86")?;
    let build = shared_dir()?.join("linux-peer").join("build");
    let output = run_checked(Command::new(&build))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    ensure!(
        dir.join("image.ext4").is_file(),
        "{} printed {stdout:?}, which holds no image.ext4",
        build.display()
    );
    Ok(dir)
}
