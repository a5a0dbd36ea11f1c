//! Real-component integration test harness for tunnelnas.
//!
//! Every integration test includes this module with `mod common;` and builds
//! its world out of real parts — never stand-ins:
//!
//! | module          | what it starts                                                  |
//! |-----------------|-----------------------------------------------------------------|
//! | [`netns`]       | network namespaces, veth pairs, taps; commands, children and Rust closures inside a namespace |
//! | [`freeradius`]  | FreeRADIUS 3.2 with a private generated config; `radclient`     |
//! | [`xl2tpd`]      | xl2tpd (LAC or LNS) with a generated config                     |
//! | [`linux_peer`]  | the real Linux PPP stack (pppd, rp-pppoe, xl2tpd) in a qemu guest |
//! | [`tshark`]      | dissect pcaps (malformed / expert checks, fields); live captures |
//! | [`pcap`]        | write and read pcap files; wrap UDP payloads in Ethernet/IPv4/UDP |
//! | [`process`]     | child processes with a log file that die with their handle      |
//! | [`ports`]       | free UDP/TCP ports outside the ephemeral range                  |
//!
//! Conventions shared by all helpers:
//!
//! * Fallible operations return [`Result`] (`anyhow`), so a test can return
//!   `common::Result<()>` and use `?`; errors carry the command line, the
//!   exit status and the tail of the relevant log.
//! * Every resource is released in `Drop` (also when a test panics):
//!   namespaces are deleted, processes killed, temp dirs removed.
//! * Names (namespaces, interfaces) and loopback ports are unique per process
//!   *and* per test, because `cargo test` runs tests on parallel threads and
//!   other test binaries may run at the same time on the same machine.
//! * A missing tool is an error naming the Debian package to install
//!   ([`require_tool`]) — never a silent skip.
//! * Tests run as root. Addresses live only inside namespaces the test made,
//!   or on loopback: nothing here touches the root namespace's interfaces.

// Each integration test crate includes this module privately (`mod common;`),
// so nothing in it is reachable from outside that crate (`unreachable_pub`)
// and every test uses a different subset of it (`dead_code`).
#![allow(unreachable_pub, dead_code)]

pub mod freeradius;
pub mod icmp;
pub mod linux_peer;
pub mod lns_peer;
pub mod mgmt;
pub mod netns;
pub mod pcap;
pub mod ports;
pub mod process;
pub mod subscribers;
pub mod tshark;
pub mod xl2tpd;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use anyhow::{Context, Result, anyhow, bail, ensure};

/// Looks `binary` up on `PATH` (plus the sbin directories, which a non-login
/// root shell may lack) and returns its full path, or an error that names the
/// Debian `package` providing it.
pub fn require_tool(binary: &str, package: &str) -> Result<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    std::env::split_paths(&path_var)
        .chain(extra)
        .map(|dir| dir.join(binary))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            anyhow!(
                "`{binary}` not found: install the Debian package `{package}` \
                 (apt-get install {package}); .ci/run installs everything the tests use"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Fails unless the test runs as root (namespaces, veth, taps and raw
/// captures all need it).
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    ensure!(
        euid == 0,
        "integration tests must run as root (euid is {euid})"
    );
    Ok(())
}

/// A number unique within this process, for names and ports.
pub fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Maximum length of a Linux interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// An interface name unique on this machine among names made by this helper
/// — `prefix` (at most 7 bytes) + the process id (5 base-36 digits) + a
/// per-process counter (base 36) — at most [`IFNAME_MAX`] bytes.
///
/// Use it for taps and veth ends whenever the name is shared state, e.g. the
/// linux-peer console log `console-TAP.log` lives in a directory shared by
/// every test process.
pub fn unique_ifname(prefix: &str) -> Result<String> {
    ensure!(
        prefix.len() <= 7 && prefix.bytes().all(|b| b.is_ascii_alphanumeric()),
        "interface name prefix {prefix:?} must be at most 7 ASCII letters or digits"
    );
    let name = format!(
        "{prefix}{}{}",
        base36(std::process::id(), 5),
        base36(next_id(), 1)
    );
    check_ifname(&name)?;
    Ok(name)
}

/// Checks that `name` is a valid Linux interface name: 1..=15 bytes, no `/`,
/// no whitespace, not `.` or `..`.
pub fn check_ifname(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && name.len() <= IFNAME_MAX
            && name != "."
            && name != ".."
            && !name
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace()),
        "invalid interface name {name:?}: 1 to {IFNAME_MAX} bytes (IFNAMSIZ), no '/', ':' or spaces"
    );
    Ok(())
}

/// `n` in base 36, left-padded with zeros to at least `width` digits.
fn base36(mut n: u32, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// A fresh temporary directory, removed on drop (set `TN_TEST_KEEP_TMP=1`
/// to keep it for a post-mortem; its path is printed then).
pub fn tempdir(tag: &str) -> Result<TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("tn-{tag}-"))
        .tempdir()
        .context("creating a temporary directory")?;
    Ok(TempDir(Some(dir)))
}

/// A temporary directory that can be kept for a post-mortem; see [`tempdir`].
#[derive(Debug)]
pub struct TempDir(Option<tempfile::TempDir>);

impl TempDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map_or(Path::new("/nonexistent"), |dir| dir.path())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TN_TEST_KEEP_TMP").is_some()
            && let Some(dir) = self.0.take()
        {
            eprintln!("keeping {}", dir.keep().display());
        }
    }
}

/// Polls `condition` every 50 ms until it returns `Some`, or fails after
/// `timeout` with an error built by `describe` (called once, on failure).
pub fn wait_until<T>(
    timeout: Duration,
    mut condition: impl FnMut() -> Result<Option<T>>,
    describe: impl FnOnce() -> String,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition()? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?}: {}", describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of `text`, for failure messages.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The crate root (`CARGO_MANIFEST_DIR`).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
