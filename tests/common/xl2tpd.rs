//! xl2tpd 1.3 (Debian `xl2tpd`) as an independent L2TPv2 LAC or LNS.
//!
//! ```ignore
//! let config = Xl2tpdConfig::default()
//!     .lac(LacConfig::new("isp", "10.1.0.2"))
//!     .with_tunnel_secret("secret");
//! let lac = Xl2tpd::start(&lac_ns, config)?;
//! lac.wait_for_log("Connection established", Duration::from_secs(10))?;
//! ```
//!
//! Facts that shape the tests (INTEROP-NOTES): the kernel has no PPP, so for
//! every call xl2tpd starts `pppd`, which exits with code 4 (no /dev/ppp);
//! xl2tpd then sends a CDN and keeps the tunnel. Tunnel and call setup are
//! still observable. SCCRQ is retransmitted at 1, 2, 4, 8 s; `max retries`
//! is valid only in `[global]`. When it runs next to another L2TP endpoint
//! in the same namespace, give it its own `port`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::netns::Netns;
use super::process::Process;
use super::{Context, Result, TempDir, ensure, require_tool, tempdir};

/// How long xl2tpd may take to print that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The `[lns default]` section.
#[derive(Debug, Clone)]
pub struct LnsConfig {
    /// `ip range` for PPP peers, e.g. `"10.200.0.2-10.200.0.20"`.
    pub ip_range: String,
    /// `local ip` of the PPP link.
    pub local_ip: String,
    /// `require authentication` (PPP authentication of the peer by pppd).
    pub require_authentication: bool,
    /// `challenge`: tunnel authentication with the secret from the auth file.
    pub challenge: bool,
    /// `hidden bit`: hide AVPs (RFC 2661 §4.3; needs a tunnel secret).
    pub hidden_bit: bool,
    /// `length bit` on data messages.
    pub length_bit: bool,
    /// `name`: the Host Name the LNS sends.
    pub hostname: String,
    /// Further `key = value` lines, verbatim.
    pub extra: Vec<String>,
}

impl LnsConfig {
    /// An LNS section with the linux-peer defaults: pool
    /// 10.200.0.2-10.200.0.200, local 10.200.0.1, no authentication.
    pub fn new() -> Self {
        Self {
            ip_range: "10.200.0.2-10.200.0.200".to_owned(),
            local_ip: "10.200.0.1".to_owned(),
            require_authentication: false,
            challenge: false,
            hidden_bit: false,
            length_bit: true,
            hostname: "xl2tpd-lns".to_owned(),
            extra: Vec::new(),
        }
    }
}

impl Default for LnsConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A `[lac NAME]` section.
#[derive(Debug, Clone)]
pub struct LacConfig {
    /// Section name (used to dial: [`Xl2tpd::dial`]).
    pub name: String,
    /// `lns`: the LNS address, optionally `:port`.
    pub lns: String,
    /// `autodial`: open the tunnel and a call at start-up.
    pub autodial: bool,
    /// `redial` after disconnection.
    pub redial: bool,
    /// `require authentication` (PPP authentication of the peer by pppd).
    pub require_authentication: bool,
    /// `challenge`: tunnel authentication with the secret from the auth file.
    pub challenge: bool,
    /// `hidden bit`: hide AVPs (needs a tunnel secret).
    pub hidden_bit: bool,
    /// `length bit` on data messages.
    pub length_bit: bool,
    /// `name`: the Host Name the LAC sends.
    pub hostname: String,
    /// Further `key = value` lines, verbatim.
    pub extra: Vec<String>,
}

impl LacConfig {
    /// A LAC section `name` dialling `lns` (`"10.1.0.2"` or
    /// `"10.1.0.2:1702"`) at start-up, without authentication.
    pub fn new(name: &str, lns: &str) -> Self {
        Self {
            name: name.to_owned(),
            lns: lns.to_owned(),
            autodial: true,
            redial: false,
            require_authentication: false,
            challenge: false,
            hidden_bit: false,
            length_bit: true,
            hostname: "xl2tpd-lac".to_owned(),
            extra: Vec::new(),
        }
    }
}

/// One line of the l2tp-secrets (`auth file`): `them us secret`, where
/// `them`/`us` are host names or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2tpSecret {
    /// Peer host name or `*`.
    pub them: String,
    /// Our host name or `*`.
    pub us: String,
    /// The tunnel secret.
    pub secret: String,
}

/// A whole xl2tpd configuration.
#[derive(Debug, Clone)]
pub struct Xl2tpdConfig {
    /// `port` (UDP) xl2tpd binds.
    pub port: u16,
    /// `listen-addr` (default: any).
    pub listen_addr: Option<IpAddr>,
    /// `max retries` of control messages before a tunnel is given up.
    pub max_retries: Option<u32>,
    /// `debug avp/network/state/tunnel = yes` in the log.
    pub debug: bool,
    /// `[lns default]`, if it should accept tunnels.
    pub lns: Option<LnsConfig>,
    /// `[lac NAME]` sections.
    pub lacs: Vec<LacConfig>,
    /// Lines of the auth file.
    pub secrets: Vec<L2tpSecret>,
    /// Contents of the pppd options file (`pppoptfile`) of every section.
    pub ppp_options: String,
}

impl Default for Xl2tpdConfig {
    fn default() -> Self {
        Self {
            port: 1701,
            listen_addr: None,
            max_retries: None,
            debug: false,
            lns: None,
            lacs: Vec::new(),
            secrets: Vec::new(),
            ppp_options: "noauth\nnodefaultroute\n".to_owned(),
        }
    }
}

impl Xl2tpdConfig {
    /// Sets the `[lns default]` section.
    pub fn lns(mut self, lns: LnsConfig) -> Self {
        self.lns = Some(lns);
        self
    }

    /// Adds a `[lac NAME]` section.
    pub fn lac(mut self, lac: LacConfig) -> Self {
        self.lacs.push(lac);
        self
    }

    /// Adds `* * secret` to the auth file and turns `challenge` on in every
    /// section, so tunnels authenticate with `secret` (RFC 2661 §5.1.1).
    pub fn with_tunnel_secret(mut self, secret: &str) -> Self {
        self.secrets.push(L2tpSecret {
            them: "*".to_owned(),
            us: "*".to_owned(),
            secret: secret.to_owned(),
        });
        if let Some(lns) = self.lns.as_mut() {
            lns.challenge = true;
        }
        for lac in &mut self.lacs {
            lac.challenge = true;
        }
        self
    }

    /// The `xl2tpd.conf` text, with files under `dir`.
    pub fn render(&self, dir: &Path) -> String {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        let mut out = String::from("[global]\n");
        let _ = writeln!(out, "port = {}", self.port);
        if let Some(addr) = self.listen_addr {
            let _ = writeln!(out, "listen-addr = {addr}");
        }
        let _ = writeln!(out, "auth file = {}", dir.join("l2tp-secrets").display());
        if let Some(retries) = self.max_retries {
            let _ = writeln!(out, "max retries = {retries}");
        }
        if self.debug {
            out.push_str(
                "debug avp = yes\ndebug network = yes\ndebug state = yes\ndebug tunnel = yes\n",
            );
        }
        let pppoptfile = dir.join("options.xl2tpd");
        if let Some(lns) = &self.lns {
            out.push_str("\n[lns default]\n");
            let _ = writeln!(out, "ip range = {}", lns.ip_range);
            let _ = writeln!(out, "local ip = {}", lns.local_ip);
            let _ = writeln!(
                out,
                "require authentication = {}",
                yes_no(lns.require_authentication)
            );
            let _ = writeln!(out, "challenge = {}", yes_no(lns.challenge));
            let _ = writeln!(out, "hidden bit = {}", yes_no(lns.hidden_bit));
            let _ = writeln!(out, "length bit = {}", yes_no(lns.length_bit));
            let _ = writeln!(out, "name = {}", lns.hostname);
            let _ = writeln!(out, "pppoptfile = {}", pppoptfile.display());
            for line in &lns.extra {
                let _ = writeln!(out, "{line}");
            }
        }
        for lac in &self.lacs {
            let _ = writeln!(out, "\n[lac {}]", lac.name);
            let _ = writeln!(out, "lns = {}", lac.lns);
            let _ = writeln!(out, "autodial = {}", yes_no(lac.autodial));
            let _ = writeln!(out, "redial = {}", yes_no(lac.redial));
            let _ = writeln!(
                out,
                "require authentication = {}",
                yes_no(lac.require_authentication)
            );
            let _ = writeln!(out, "challenge = {}", yes_no(lac.challenge));
            let _ = writeln!(out, "hidden bit = {}", yes_no(lac.hidden_bit));
            let _ = writeln!(out, "length bit = {}", yes_no(lac.length_bit));
            let _ = writeln!(out, "name = {}", lac.hostname);
            let _ = writeln!(out, "pppoptfile = {}", pppoptfile.display());
            for line in &lac.extra {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

/// A running xl2tpd in a namespace; stopped on drop.
#[derive(Debug)]
pub struct Xl2tpd {
    // Field order matters: the process stops before its files go.
    process: Process,
    config: Xl2tpdConfig,
    dir: TempDir,
}

impl Xl2tpd {
    /// Writes the config files and starts `xl2tpd -D` in `netns`; returns
    /// once it listens on its port (or fails with its log).
    pub fn start(netns: &Netns, config: Xl2tpdConfig) -> Result<Self> {
        require_tool("xl2tpd", "xl2tpd")?;
        require_tool("pppd", "ppp")?;
        ensure!(
            config.lns.is_some() || !config.lacs.is_empty(),
            "an xl2tpd config needs an [lns default] or a [lac NAME] section"
        );
        let dir = tempdir("xl2tpd")?;
        let conf = dir.path().join("xl2tpd.conf");
        write(&conf, &config.render(dir.path()))?;
        let secrets: String = config
            .secrets
            .iter()
            .map(|line| format!("{} {} {}\n", line.them, line.us, line.secret))
            .collect();
        write(&dir.path().join("l2tp-secrets"), &secrets)?;
        write(&dir.path().join("options.xl2tpd"), &config.ppp_options)?;
        let mut command = netns.command("xl2tpd");
        command
            .arg("-D")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path().join("xl2tpd.pid"))
            .arg("-C")
            .arg(dir.path().join("l2tp-control"));
        let log = dir.path().join("xl2tpd.log");
        let mut process = netns.spawn("xl2tpd", command, &log)?;
        process
            .wait_for_log("Listening on IP address", START_TIMEOUT)
            .context("xl2tpd did not start")?;
        Ok(Self {
            process,
            config,
            dir,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Xl2tpdConfig {
        &self.config
    }

    /// Its private directory (config, secrets, pppd options, control fifo).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of its log (stdout + stderr).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Waits until the log contains `needle` (e.g. `"Connection established"`,
    /// `"Call established"`, `"pppd exited for call"`); fails with the log.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        self.process.wait_for_log(needle, timeout).map(|_| ())
    }

    /// The control fifo (`-C`).
    pub fn control_path(&self) -> PathBuf {
        self.dir().join("l2tp-control")
    }

    /// Writes one command to the control fifo, e.g. `"c isp"` (dial LAC
    /// `isp`) or `"d isp"` (hang up).
    pub fn control(&self, command: &str) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.control_path())
            .with_context(|| format!("opening {}", self.control_path().display()))?;
        fifo.write_all(format!("{command}\n").as_bytes())
            .context("writing to the xl2tpd control fifo")
    }

    /// Dials LAC section `name` (for `autodial = no`).
    pub fn dial(&self, name: &str) -> Result<()> {
        self.control(&format!("c {name}"))
    }

    /// Hangs up LAC section `name`.
    pub fn hangup(&self, name: &str) -> Result<()> {
        self.control(&format!("d {name}"))
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Stops it now (also done on drop).
    pub fn stop(&mut self) -> Result<()> {
        self.process.stop().map(|_| ())
    }
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
