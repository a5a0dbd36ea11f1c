//! Real peers at both ends of our LAC (issue 6, item 7, last part): the
//! Linux PPP stack dials in, the Linux PPP stack terminates, and the real
//! `tunnelnas` binary sits in between as the LAC.
//!
//! ```text
//!  pppoe-client guest ──tap──┐                       ┌──tap── l2tp-lns guest
//!  (pppd + kernel PPPoE)     │   tunnelnas run (LAC)  │   (xl2tpd + kernel L2TP + pppd)
//!   PAP / CHAP / MS-CHAPv2   └── [[pppoe.interface]]  └── [l2tp] listen 10.91.0.1:1701
//!                                     │
//!                             FreeRADIUS 127.0.0.1 (RFC 2868 Tunnel-* → that LNS guest)
//! ```
//!
//! Everything lives in one namespace: one LAC with four access taps (one
//! subscriber guest each: PAP, CHAP, MS-CHAPv2, and PAP authorized by
//! domain) and four LNS taps (one `l2tp-lns` guest each, with its own
//! tunnel secret). The fourth pair is issue 11's wholesale arrangement:
//! RADIUS knows only the realm `enterprise.example` (the LAC's
//! `[[lac.realm]] authorize = "domain"`), and the subscriber's password
//! only the LNS guest's pppd, which authenticates it. One LNS per method,
//! because the guest's pppd requires exactly one method (`tn.auth=any`
//! means `require-pap` there) and xl2tpd ignores the proxy-authentication
//! AVPs: the LNS renegotiates LCP and authentication with the subscriber's
//! pppd *through* the LAC, which forwards every PPP frame after the ICCN.
//!
//! Asserted, per method: the subscriber guest reports `TN-UP` and
//! `TN-PING ok`, the LNS guest `TN-UP` with the subscriber's address; the
//! LAC's API shows the session up towards that LNS with traffic both ways;
//! FreeRADIUS's detail file holds an Accounting Start (Tunnel-* attributes,
//! Class echoed) and, once the subscriber guest is powered off, a Stop for
//! the same Acct-Session-Id with counters; the capture (every interface of
//! the namespace: PPPoE, L2TP, RADIUS) dissects cleanly and holds an ICCN
//! with proxy LCP AVPs (26–28, plus proxy authentication for PAP and CHAP)
//! and an ICRQ whose Calling Number is the subscriber's MAC.
//!
//! Wall time: eight guests, each ≈ 33 s of one core to boot under software
//! emulation (idle afterwards), so the LNS guests boot first and each
//! subscriber guest as soon as its LNS reports `TN-START`; the last Stop
//! comes ≈ 20 s after the last power-off (the LNS's LCP echoes). Measured:
//! ≈ 340 CPU-seconds in all, 4.3–5.7 min wall on a machine busy with other
//! builds, so ≈ 3–3.5 min on two idle cores.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::freeradius::{DetailRecord, FreeRadius, UserEntry};
use common::linux_peer::{LinuxPeer, TnLine};
use common::netns::Netns;
use common::process::{Process, read_lossy};
use common::tshark::{LiveCapture, Tshark};
use common::{Result, anyhow, bail, ensure, tail};

/// The LAC's L2TP address (on the namespace's loopback; every LNS guest
/// reaches it on-link through its /16).
const LAC_L2TP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 91, 0, 1);
/// FreeRADIUS and the LAC's management HTTP listen here, in the namespace.
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
const MGMT_PORT: u16 = 9180;
/// What the guests' pppd (LNS side) serves: `tn.local` and the pool start.
const LNS_PPP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
const SUBSCRIBER_PPP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
/// The run script gives every guest a MAC under QEMU's prefix.
const GUEST_MAC_PREFIX: &str = "52:54:00:";

/// Upper bound of one guest's run (the `timeout` of the run script); the
/// test powers the guests off itself long before.
const GUEST_RUN_LIMIT_SECONDS: u64 = 600;
/// How long a guest may take to boot to `TN-START` (≈ 33 s alone; up to
/// four boot at once on two cores).
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// From a subscriber's `TN-START` to its `TN-PING` (discovery, LCP,
/// authentication, RADIUS, tunnel, session, LCP and authentication again
/// with the LNS, IPCP, three pings).
const SESSION_TIMEOUT: Duration = Duration::from_secs(120);
/// From a subscriber's power-off to its Accounting Stop: the LAC sees the
/// access tap lose its carrier, or the LNS's pppd misses three LCP echoes
/// (5 s apart) and xl2tpd sends a CDN.
const STOP_TIMEOUT: Duration = Duration::from_secs(75);

/// Proxy Authen Type values (RFC 2661 §4.4.5).
const PROXY_AUTHEN_CHAP: u16 = 2;
const PROXY_AUTHEN_PAP: u16 = 3;

/// One authentication method under test: a subscriber guest, an LNS guest
/// and the RADIUS user that ties them together.
#[derive(Debug, Clone, Copy)]
struct Method {
    /// `tn.auth` on both guests, and the name in messages.
    auth: &'static str,
    user: &'static str,
    password: &'static str,
    /// The LNS guest's L2TP tunnel secret = the user's Tunnel-Password.
    tunnel_secret: &'static str,
    /// Third octet of the LNS subnet `10.91.N.0/24`.
    subnet: u8,
    /// Proxy Authen Type (RFC 2661 §4.4.5) the ICCN must carry, when the
    /// RFC defines one for the method (MS-CHAPv2 has none).
    proxy_authen_type: Option<u16>,
    /// Domain authorization (`[[lac.realm]] authorize = "domain"`): RADIUS
    /// knows only this realm, with [`DOMAIN_PASSWORD`]; the user is
    /// authenticated by the LNS alone.
    domain: Option<&'static str>,
}

impl Method {
    fn lns_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 91, self.subnet, 2)
    }

    fn lns_endpoint(&self) -> String {
        format!("{}:1701", self.lns_address())
    }

    fn class(&self) -> String {
        format!("lac-linux-peers-{}", self.name())
    }

    /// The name in messages: the method, `domain-…` when the LNS alone
    /// authenticates.
    fn name(&self) -> String {
        match self.domain {
            Some(_) => format!("domain-{}", self.auth),
            None => self.auth.to_owned(),
        }
    }
}

const METHODS: [Method; 4] = [
    Method {
        auth: "pap",
        user: "pap-sub@wholesale.example",
        password: "Pap-Pass-1",
        tunnel_secret: "lns-pap-s3cret",
        subnet: 1,
        proxy_authen_type: Some(PROXY_AUTHEN_PAP),
        domain: None,
    },
    Method {
        auth: "chap",
        user: "chap-sub@wholesale.example",
        password: "Chap-Pass-2",
        tunnel_secret: "lns-chap-s3cret",
        subnet: 2,
        proxy_authen_type: Some(PROXY_AUTHEN_CHAP),
        domain: None,
    },
    Method {
        auth: "mschapv2",
        user: "mschap-sub@wholesale.example",
        password: "MsChap-Pass-3",
        tunnel_secret: "lns-mschap-s3cret",
        subnet: 3,
        proxy_authen_type: None,
        domain: None,
    },
    // Issue 11: the wholesale arrangement. The LAC asks RADIUS about the
    // realm; the subscriber's password is known to the LNS alone.
    Method {
        auth: "pap",
        user: "dom-sub@enterprise.example",
        password: "Dom-Pass-4",
        tunnel_secret: "lns-dom-s3cret",
        subnet: 4,
        proxy_authen_type: Some(PROXY_AUTHEN_PAP),
        domain: Some("enterprise.example"),
    },
];

/// The User-Password of the LAC's domain authorizations.
const DOMAIN_PASSWORD: &str = "lac-domain-pw";

/// Everything the test learned about one method, for assertions and
/// failure messages.
#[derive(Debug)]
struct Pair {
    method: Method,
    access_tap: String,
    lns_tap: String,
    lns: Option<LinuxPeer>,
    subscriber: Option<LinuxPeer>,
    lns_console: Option<PathBuf>,
    subscriber_console: Option<PathBuf>,
    lns_lines: Vec<TnLine>,
    subscriber_lines: Vec<TnLine>,
    subscriber_booted_at: Option<Instant>,
    /// When the test powered the subscriber guest off.
    subscriber_off_at: Option<Instant>,
    /// The LAC's `/api/v1/sessions` entry while the session was up.
    api_session: Option<serde_json::Value>,
    failures: Vec<String>,
}

impl Pair {
    fn new(method: Method) -> Result<Self> {
        Ok(Self {
            method,
            access_tap: common::unique_ifname("tnsub")?,
            lns_tap: common::unique_ifname("tnlns")?,
            lns: None,
            subscriber: None,
            lns_console: None,
            subscriber_console: None,
            lns_lines: Vec::new(),
            subscriber_lines: Vec::new(),
            subscriber_booted_at: None,
            subscriber_off_at: None,
            api_session: None,
            failures: Vec::new(),
        })
    }

    fn fail(&mut self, what: String) {
        self.failures
            .push(format!("[{}] {what}", self.method.name()));
    }

    /// Powers the subscriber guest off (qemu ends: the access tap loses its
    /// carrier, nothing more reaches the LAC from it).
    fn power_off_subscriber(&mut self) {
        if let Some(guest) = self.subscriber.take() {
            self.subscriber_lines = guest.lines_so_far();
            drop(guest);
            self.subscriber_off_at = Some(Instant::now());
        }
    }

    fn power_off_lns(&mut self) {
        if let Some(guest) = self.lns.take() {
            self.lns_lines = guest.lines_so_far();
        }
    }

    fn subscriber_lines(&self) -> Vec<TnLine> {
        self.subscriber
            .as_ref()
            .map_or_else(|| self.subscriber_lines.clone(), LinuxPeer::lines_so_far)
    }

    fn lns_lines(&self) -> Vec<TnLine> {
        self.lns
            .as_ref()
            .map_or_else(|| self.lns_lines.clone(), LinuxPeer::lines_so_far)
    }

    fn consoles(&self) -> String {
        let mut out = String::new();
        for (who, path) in [
            ("subscriber", &self.subscriber_console),
            ("LNS", &self.lns_console),
        ] {
            match path {
                Some(path) => out.push_str(&format!(
                    "--- {} {who} guest console {} (tail):\n{}\n",
                    self.method.name(),
                    path.display(),
                    tail(&read_lossy(path).replace('\r', ""), 30)
                )),
                None => out.push_str(&format!(
                    "--- {} {who} guest: not booted\n",
                    self.method.name()
                )),
            }
        }
        out
    }
}

/// The LAC's configuration: one access interface per pair, a realm rule
/// for each domain-authorized pair, L2TP on the namespace's 10.91.0.1,
/// RADIUS at FreeRADIUS, management HTTP on loopback.
fn lac_config(pairs: &[Pair], state_dir: &Path, radius_secret: &str) -> String {
    let mut config = format!(
        r#"# Generated by tests/lac_linux_peers.rs
[node]
nas_identifier = "lac-linux-peers"
state_dir = "{state_dir}"

[pppoe]
ac_name = "tn-lac"
"#,
        state_dir = state_dir.display()
    );
    for pair in pairs {
        config.push_str(&format!(
            "\n[[pppoe.interface]]\nname = \"{}\"\n",
            pair.access_tap
        ));
    }
    let realms: String = pairs
        .iter()
        .filter_map(|pair| pair.method.domain)
        .map(|domain| format!("\n[[lac.realm]]\ndomain = \"{domain}\"\nauthorize = \"domain\"\n"))
        .collect();
    config.push_str(&format!(
        r#"
[ppp]
auth_protocols = ["chap", "mschapv2", "pap"]

[l2tp]
listen = "{LAC_L2TP_ADDRESS}:1701"
hide_avps = false

[lac]
auth_group = "aaa"
acct_group = "aaa"
calling_number = "mac"
setup_deadline = "40s"
authorize_password = "{DOMAIN_PASSWORD}"
{realms}

[radius.group.aaa]
timeout = "3s"
retries = 3

[[radius.group.aaa.server]]
address = "{LOOPBACK}"
secret = "{radius_secret}"

[metrics]
listen = "{LOOPBACK}:{MGMT_PORT}"

[api]
listen = "{LOOPBACK}:{MGMT_PORT}"
"#
    ));
    config
}

/// `GET path` on the LAC's management HTTP server (inside `ns`); the body.
fn http_get(ns: &Netns, path: &str) -> Result<String> {
    let path = path.to_owned();
    ns.run(move || -> Result<String> {
        let mut stream = TcpStream::connect((LOOPBACK, MGMT_PORT))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{MGMT_PORT}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow!("no HTTP header in {response:?}"))?;
        ensure!(head.contains(" 200 "), "GET {path}: {head}");
        Ok(body.to_owned())
    })?
}

/// The LAC's sessions as its API lists them (empty on any error).
fn api_sessions(ns: &Netns) -> Vec<serde_json::Value> {
    http_get(ns, "/api/v1/sessions")
        .ok()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
        .and_then(|json| json.as_array().cloned())
        .unwrap_or_default()
}

/// Starts the LAC binary in `ns` with `config` and waits for `/healthz`.
fn start_lac(ns: &Netns, config: &Path, log: &Path) -> Result<Process> {
    let mut command = ns.command(env!("CARGO_BIN_EXE_tunnelnas"));
    // Hermetic: no TUNNELNAS_* override or RUST_LOG from the caller.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TUNNELNAS_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("RUST_LOG")
        .args(["run", "-c"])
        .arg(config)
        .args(["--log-format", "text", "--log-level", "info"]);
    let mut lac = ns.spawn("tunnelnas LAC", command, log)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if http_get(ns, "/healthz").is_ok_and(|body| body.trim() == "ok") {
            return Ok(lac);
        }
        if let Some(status) = lac.try_wait()? {
            bail!(
                "the LAC exited ({status}) before /healthz answered; log:\n{}",
                lac.log_tail(60)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "the LAC's /healthz did not answer \"ok\" within 20 s; log:\n{}",
                lac.log_tail(60)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_start(line: &TnLine) -> bool {
    matches!(line, TnLine::Start(_))
}

fn ping_result(lines: &[TnLine]) -> Option<bool> {
    lines.iter().find_map(|line| match line {
        TnLine::Ping { ok, .. } => Some(*ok),
        _ => None,
    })
}

fn up_line(lines: &[TnLine]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    lines.iter().find_map(|line| match line {
        TnLine::Up { local, peer, .. } => Some((*local, *peer)),
        _ => None,
    })
}

fn attr<'a>(record: &'a DetailRecord, name: &str) -> Option<&'a str> {
    record.attrs.get(name)
}

/// Whether `record` has an attribute called `name` (any tag) with `value`.
fn has_tagged(record: &DetailRecord, name: &str, value: &str) -> bool {
    record.attrs.iter().any(|(key, found)| {
        (key == name || key.strip_prefix(name).is_some_and(|t| t.starts_with(':')))
            && found == value
    })
}

fn counter(record: &DetailRecord, name: &str) -> u64 {
    attr(record, name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[test]
fn linux_pppd_subscribers_reach_xl2tpd_lns_through_our_lac() -> Result<()> {
    common::require_root()?;
    LinuxPeer::image()?;
    let started = Instant::now();
    let mut pairs = METHODS
        .iter()
        .map(|method| Pair::new(*method))
        .collect::<Result<Vec<_>>>()?;

    let ns = Netns::new("lacpeers")?;
    ns.add_addr("lo", &format!("{LAC_L2TP_ADDRESS}/32"))?;
    for pair in &pairs {
        ns.add_tap(&pair.access_tap)?;
        ns.add_tap(&pair.lns_tap)?;
        ns.add_addr(&pair.lns_tap, &format!("10.91.{}.1/24", pair.method.subnet))?;
    }
    let dir = common::tempdir("lacpeers")?;
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir)?;
    // One capture of every interface of the namespace: PPPoE on the access
    // taps, L2TP on the LNS taps, RADIUS on loopback.
    let capture = LiveCapture::start(&ns, "any", &dir.path().join("lac.pcap"))?;

    let mut radius = FreeRadius::builder().in_netns(&ns, LOOPBACK.into());
    for method in &METHODS {
        let (name, password) = method
            .domain
            .map_or((method.user, method.password), |realm| {
                (realm, DOMAIN_PASSWORD)
            });
        radius = radius.user(
            UserEntry::new(name)
                .password(password)
                .l2tp_tunnel(
                    1,
                    &method.lns_address().to_string(),
                    method.tunnel_secret,
                    1,
                )
                .reply("Class", &method.class()),
        );
    }
    let radius = radius.start()?;

    let config_path = dir.path().join("lac.toml");
    std::fs::write(
        &config_path,
        lac_config(&pairs, &state_dir, radius.secret()),
    )?;
    let lac_log = dir.path().join("lac.log");
    let mut lac = start_lac(&ns, &config_path, &lac_log)?;
    let diagnostics = |pairs: &[Pair]| -> String {
        let mut out = format!(
            "--- LAC log {} (tail):\n{}\n--- LAC config:\n{}\n",
            lac_log.display(),
            tail(&read_lossy(&lac_log), 120),
            read_lossy(&config_path)
        );
        for pair in pairs {
            out.push_str(&pair.consoles());
        }
        out.push_str(&format!(
            "--- FreeRADIUS detail:\n{}\n--- FreeRADIUS log (tail):\n{}\n",
            read_lossy(&radius.detail_path()),
            tail(&radius.log(), 40)
        ));
        out
    };

    // The LNS guests first: a subscriber dials as soon as it boots, and
    // its LNS should be listening by then.
    for pair in &mut pairs {
        let method = pair.method;
        let guest = LinuxPeer::boot(
            &ns,
            &pair.lns_tap,
            GUEST_RUN_LIMIT_SECONDS,
            &[
                ("tn.mode", "l2tp-lns"),
                ("tn.ip", &format!("{}/16", method.lns_address())),
                ("tn.secret", method.tunnel_secret),
                ("tn.user", method.user),
                ("tn.pass", method.password),
                ("tn.auth", method.auth),
                ("tn.runfor", &GUEST_RUN_LIMIT_SECONDS.to_string()),
            ],
        )?;
        pair.lns_console = Some(guest.console_log().to_owned());
        pair.lns = Some(guest);
    }

    // Each subscriber guest boots when its LNS has started xl2tpd; each is
    // powered off once it has reported its ping.
    let deadline = Instant::now() + BOOT_TIMEOUT + SESSION_TIMEOUT + Duration::from_secs(60);
    loop {
        let mut pending = false;
        for pair in &mut pairs {
            if pair.subscriber_off_at.is_some() || !pair.failures.is_empty() {
                continue;
            }
            pending = true;
            let method = pair.method;
            if pair.subscriber.is_none() {
                let lns_started = pair.lns_lines().iter().any(is_start);
                if lns_started {
                    eprintln!(
                        "[{}] LNS guest started after {:?}",
                        method.name(),
                        started.elapsed()
                    );
                    let guest = LinuxPeer::boot(
                        &ns,
                        &pair.access_tap,
                        GUEST_RUN_LIMIT_SECONDS,
                        &[
                            ("tn.mode", "pppoe-client"),
                            ("tn.user", method.user),
                            ("tn.pass", method.password),
                            ("tn.auth", method.auth),
                            ("tn.runfor", &GUEST_RUN_LIMIT_SECONDS.to_string()),
                        ],
                    )?;
                    pair.subscriber_console = Some(guest.console_log().to_owned());
                    pair.subscriber = Some(guest);
                    pair.subscriber_booted_at = Some(Instant::now());
                } else if started.elapsed() > BOOT_TIMEOUT {
                    pair.fail(format!(
                        "the LNS guest did not boot within {BOOT_TIMEOUT:?}"
                    ));
                }
                continue;
            }
            let lines = pair.subscriber_lines();
            if ping_result(&lines).is_some() {
                // Give the LNS guest's once-a-second report a moment, and
                // look at the session in the LAC while it is up.
                let lns_up_by = Instant::now() + Duration::from_secs(5);
                while up_line(&pair.lns_lines()).is_none() && Instant::now() < lns_up_by {
                    std::thread::sleep(Duration::from_millis(200));
                }
                pair.api_session = api_sessions(&ns)
                    .into_iter()
                    .find(|session| session["user_name"] == method.user);
                eprintln!(
                    "[{}] subscriber reported its ping after {:?}; powering it off",
                    method.name(),
                    started.elapsed()
                );
                pair.power_off_subscriber();
            } else if pair
                .subscriber_booted_at
                .is_some_and(|at| at.elapsed() > BOOT_TIMEOUT + SESSION_TIMEOUT)
            {
                pair.fail(format!(
                    "the subscriber guest reported no TN-PING within {:?} of its boot (lines: {lines:?})",
                    BOOT_TIMEOUT + SESSION_TIMEOUT
                ));
                pair.power_off_subscriber();
            }
        }
        if !pending || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }

    // Guests' reports and the LAC's view of each session.
    for pair in &mut pairs {
        let method = pair.method;
        if pair.subscriber_off_at.is_none() && pair.failures.is_empty() {
            pair.fail("the test ran out of time before the subscriber reported".to_owned());
        }
        pair.power_off_subscriber();
        let subscriber = pair.subscriber_lines();
        let lns = pair.lns_lines();
        match up_line(&subscriber) {
            Some((local, peer)) => {
                if (local, peer) != (SUBSCRIBER_PPP_ADDRESS, LNS_PPP_ADDRESS) {
                    pair.fail(format!(
                        "subscriber TN-UP local={local} peer={peer}, expected the LNS pool's \
                         {SUBSCRIBER_PPP_ADDRESS} and the LNS's {LNS_PPP_ADDRESS}"
                    ));
                }
            }
            None => pair.fail(format!(
                "no TN-UP from the subscriber guest (lines: {subscriber:?})"
            )),
        }
        if ping_result(&subscriber) != Some(true) {
            pair.fail(format!(
                "no TN-PING ok from the subscriber guest (lines: {subscriber:?})"
            ));
        }
        match up_line(&lns) {
            Some((local, peer)) => {
                if (local, peer) != (LNS_PPP_ADDRESS, SUBSCRIBER_PPP_ADDRESS) {
                    pair.fail(format!("LNS TN-UP local={local} peer={peer}"));
                }
            }
            None => pair.fail(format!("no TN-UP from the LNS guest (lines: {lns:?})")),
        }
        if pair.subscriber_off_at.is_some() && pair.failures.is_empty() {
            match pair.api_session.clone() {
                Some(session) => {
                    let mut problems = Vec::new();
                    if session["state"] != "up" {
                        problems.push("state is not \"up\"");
                    }
                    if session["lns"] != method.lns_endpoint().as_str() {
                        problems.push("lns is not the RADIUS-named endpoint");
                    }
                    if session["interface"] != pair.access_tap.as_str() {
                        problems.push("interface is not the subscriber's tap");
                    }
                    if !session["mac"]
                        .as_str()
                        .is_some_and(|mac| mac.starts_with(GUEST_MAC_PREFIX) && mac.len() == 17)
                    {
                        problems.push("mac is not the guest's aa:bb:cc:dd:ee:ff");
                    }
                    for counter in ["packets_up", "packets_down", "bytes_up", "bytes_down"] {
                        if session[counter].as_u64().unwrap_or(0) == 0 {
                            problems.push("a traffic counter is zero");
                        }
                    }
                    if !problems.is_empty() {
                        pair.fail(format!("API session {session}: {problems:?}"));
                    }
                }
                None => pair.fail(format!(
                    "the LAC's /api/v1/sessions had no session for {} while it was up",
                    method.user
                )),
            }
        }
    }

    // Accounting: a Start while up, a Stop after the subscriber went away
    // (carrier loss on its tap, or the LNS's CDN after its LCP echoes fail).
    let stop_deadline = Instant::now() + STOP_TIMEOUT;
    let stops_expected = pairs
        .iter()
        .filter(|pair| pair.subscriber_off_at.is_some())
        .count();
    let records = loop {
        let records = radius.accounting_records();
        let stops = records
            .iter()
            .filter(|r| attr(r, "Acct-Status-Type") == Some("Stop"))
            .count();
        if stops >= stops_expected || Instant::now() >= stop_deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    for pair in &mut pairs {
        let method = pair.method;
        let of_user: Vec<&DetailRecord> = records
            .iter()
            .filter(|r| attr(r, "User-Name") == Some(method.user))
            .collect();
        let start = of_user
            .iter()
            .find(|r| attr(r, "Acct-Status-Type") == Some("Start"));
        let Some(start) = start else {
            pair.fail(format!(
                "no Accounting Start for {} in the detail file",
                method.user
            ));
            continue;
        };
        let session_id = attr(start, "Acct-Session-Id")
            .unwrap_or_default()
            .to_owned();
        if session_id.is_empty() {
            pair.fail("the Accounting Start has no Acct-Session-Id".to_owned());
        }
        if let Some(api) = &pair.api_session
            && api["acct_session_id"] != session_id.as_str()
        {
            pair.fail(format!(
                "Acct-Session-Id {session_id:?} differs from the API's {}",
                api["acct_session_id"]
            ));
        }
        let endpoint = method.lns_address().to_string();
        if !has_tagged(start, "Tunnel-Server-Endpoint", &endpoint) {
            pair.fail(format!(
                "the Accounting Start lacks Tunnel-Server-Endpoint {endpoint} (RFC 2867): {:?}",
                start.attrs
            ));
        }
        if !has_tagged(start, "Tunnel-Type", "L2TP") {
            pair.fail(format!(
                "the Accounting Start lacks Tunnel-Type L2TP: {:?}",
                start.attrs
            ));
        }
        if attr(start, "Class") != Some(&format!("0x{}", hex::encode(method.class()))) {
            pair.fail(format!(
                "the Accounting Start does not echo Class {:?}: {:?}",
                method.class(),
                attr(start, "Class")
            ));
        }
        let stop = of_user.iter().find(|r| {
            attr(r, "Acct-Status-Type") == Some("Stop")
                && attr(r, "Acct-Session-Id") == Some(session_id.as_str())
        });
        let Some(stop) = stop else {
            pair.fail(format!(
                "no Accounting Stop for {} (Acct-Session-Id {session_id:?}) within {STOP_TIMEOUT:?} \
                 of the subscriber's power-off",
                method.user
            ));
            continue;
        };
        // RFC 2867 §4.1: Acct-Tunnel-Connection identifies the L2TP
        // session — ours, as the API shows it — in Start and Stop alike.
        let connection = attr(start, "Acct-Tunnel-Connection").unwrap_or_default();
        if let Some(api) = &pair.api_session {
            let expected = format!("{}/{}", api["tunnel_id"], api["session_id"]);
            if connection != expected {
                pair.fail(format!(
                    "the Start's Acct-Tunnel-Connection {connection:?} is not the API's \
                     tunnel_id/session_id {expected:?}"
                ));
            }
        }
        if attr(stop, "Acct-Tunnel-Connection") != Some(connection) {
            pair.fail(format!(
                "the Stop's Acct-Tunnel-Connection {:?} differs from the Start's {connection:?}",
                attr(stop, "Acct-Tunnel-Connection")
            ));
        }
        let cause = attr(stop, "Acct-Terminate-Cause").unwrap_or_default();
        eprintln!(
            "[{}] Accounting Stop, Acct-Terminate-Cause {cause:?}",
            method.name()
        );
        // The subscriber vanished without a word (qemu ended): the LAC either
        // saw its access tap lose the carrier, or the LNS hung up.
        if !["Lost-Carrier", "Host-Request", "User-Request"].contains(&cause) {
            pair.fail(format!(
                "Acct-Terminate-Cause {cause:?} for a subscriber that powered off"
            ));
        }
        for name in ["Acct-Input-Packets", "Acct-Output-Packets"] {
            if counter(stop, name) == 0 {
                pair.fail(format!("the Stop's {name} is 0: {:?}", stop.attrs));
            }
        }
        if counter(stop, "Acct-Session-Time") > started.elapsed().as_secs() {
            pair.fail(format!(
                "Acct-Session-Time {} exceeds the test's run time",
                counter(stop, "Acct-Session-Time")
            ));
        }
    }

    // Done with the guests; SIGTERM stops the LAC gracefully.
    for pair in &mut pairs {
        pair.power_off_lns();
    }
    lac.signal(libc::SIGTERM);
    let lac_exit: Option<ExitStatus> = lac.wait_timeout(Duration::from_secs(15))?;

    // Every frame dissects cleanly; the hand-over carried proxy AVPs.
    let pcap = capture.stop()?;
    let tshark = Tshark::new();
    let mut capture_failures = Vec::new();
    if let Err(error) = tshark.assert_clean(&pcap) {
        capture_failures.push(format!("{error:#}"));
    }
    for pair in &mut pairs {
        let method = pair.method;
        let to_lns = format!("ip.dst == {}", method.lns_address());
        let iccn_avps = tshark.fields(
            &pcap,
            Some(&format!("{to_lns} && l2tp.avp.message_type == 12")),
            &[
                "l2tp.avp.type",
                "l2tp.avp.proxy_authen_type",
                "l2tp.avp.proxy_authen_name",
            ],
        )?;
        let Some(iccn) = iccn_avps.first() else {
            pair.fail(format!(
                "no ICCN to {} in the capture",
                method.lns_address()
            ));
            continue;
        };
        let types: Vec<u16> = iccn
            .first()
            .map(|list| list.split(',').filter_map(|t| t.parse().ok()).collect())
            .unwrap_or_default();
        eprintln!("[{}] ICCN AVP types {types:?}", method.name());
        // Proxy LCP always; proxy authentication where RFC 2661 §4.4.5
        // defines the method (PAP: name and password in the response;
        // CHAP: name, challenge, id and response).
        let mut wanted = vec![26, 27, 28];
        match method.proxy_authen_type {
            Some(PROXY_AUTHEN_PAP) => wanted.extend([29, 30, 33]),
            Some(_) => wanted.extend([29, 30, 31, 32, 33]),
            None => {}
        }
        if let Some(authen_type) = method.proxy_authen_type {
            let found = iccn.get(1).and_then(|value| value.parse::<u16>().ok());
            if found != Some(authen_type) {
                pair.fail(format!(
                    "ICCN Proxy Authen Type {found:?}, expected {authen_type}"
                ));
            }
            let name = iccn.get(2).map(String::as_str).unwrap_or_default();
            if name != method.user {
                pair.fail(format!(
                    "ICCN Proxy Authen Name {name:?}, expected {:?}",
                    method.user
                ));
            }
        }
        let missing: Vec<u16> = wanted
            .into_iter()
            .filter(|avp| !types.contains(avp))
            .collect();
        if !missing.is_empty() {
            pair.fail(format!(
                "the ICCN lacks proxy AVP types {missing:?} (has {types:?})"
            ));
        }
        let calling = tshark.fields(
            &pcap,
            Some(&format!("{to_lns} && l2tp.avp.message_type == 10")),
            &["l2tp.avp.calling_number"],
        )?;
        let calling = calling
            .first()
            .and_then(|fields| fields.first())
            .cloned()
            .unwrap_or_default();
        let api_mac = pair
            .api_session
            .as_ref()
            .and_then(|session| session["mac"].as_str().map(str::to_owned));
        if !calling.starts_with(GUEST_MAC_PREFIX)
            || calling.len() != 17
            || api_mac.is_some_and(|mac| mac != calling)
        {
            pair.fail(format!(
                "ICRQ Calling Number {calling:?} is not the subscriber's MAC ({:?})",
                pair.api_session.as_ref().map(|session| &session["mac"])
            ));
        }
    }

    eprintln!("wall time {:?}", started.elapsed());
    let mut failures: Vec<String> = pairs
        .iter()
        .flat_map(|pair| pair.failures.iter().cloned())
        .collect();
    failures.extend(capture_failures);
    match lac_exit {
        Some(status) if status.success() => {}
        Some(status) => failures.push(format!("the LAC exited {status} on SIGTERM")),
        None => failures.push("the LAC did not exit within 15 s of SIGTERM".to_owned()),
    }
    if !failures.is_empty() {
        bail!(
            "{} failure(s):\n{}\n{}",
            failures.len(),
            failures.join("\n"),
            diagnostics(&pairs)
        );
    }
    Ok(())
}
