//! The LAC end to end in network namespaces (issue 6, item 7), against the
//! real `tunnelnas` binary:
//!
//! ```text
//!  subs ns                      lac ns                              lns ns
//!  subscriber emulator  --veth--  tunnelnas run (LAC)  --veth--  test LNS threads
//!  (PPPoE + PPP client           FreeRADIUS on 127.0.0.1           10.203.0.2:1701
//!   cores, AF_PACKET)            API/metrics 127.0.0.1:9180        10.203.0.3:1701
//!                                dynauth 127.0.0.1:3800
//!                                L2TP from 10.203.0.1:1701
//! ```
//!
//! FreeRADIUS returns RFC 2868 tunnel groups pointing at the test LNSs (our
//! L2TP endpoint core in the LNS role, `common::lns_peer`), which record
//! what the LAC hands over (ICCN proxy AVPs, Calling Number, PPP frames).
//! Every test builds its own world (namespaces, FreeRADIUS, LAC, LNSs,
//! subscribers), so tests run in parallel; every failure message carries
//! the LAC's log.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::freeradius::{DetailRecord, FreeRadius, Radclient, UserEntry};
use common::icmp;
use common::lns_peer::{LnsConfig, LnsMode, LnsPeer, LnsSession};
use common::mgmt;
use common::netns::{Netns, VethPair};
use common::process::Process;
use common::subscribers::{SubscriberSpec, SubscriberStatus, Subscribers};
use common::tshark::{LiveCapture, Tshark};
use common::{Context, Result, TempDir, bail, ensure, tail, wait_until};
use tunnelnas::l2tp::SessionDownCause;
use tunnelnas::ppp::auth::AuthMethod;
use tunnelnas::wire::l2tp::{CdnResult, ProxyAuthenType, ResultCode, StopCcnResult};
use tunnelnas::wire::ppp::Protocol;

/// The LAC's address towards the LNSs (L2TP source).
const LAC_CORE: Ipv4Addr = Ipv4Addr::new(10, 203, 0, 1);
/// The first test LNS.
const LNS_A: Ipv4Addr = Ipv4Addr::new(10, 203, 0, 2);
/// The second test LNS.
const LNS_B: Ipv4Addr = Ipv4Addr::new(10, 203, 0, 3);
/// Tunnel secret of both LNSs (RADIUS Tunnel-Password).
const TUNNEL_SECRET: &str = "l2tp-test-secret";
/// The "LNS side" IPv4 address inside every PPP session (answers pings).
const LNS_PPP_ADDR: Ipv4Addr = Ipv4Addr::new(100, 64, 255, 254);
/// Management HTTP (API and metrics) of the LAC, inside the lac namespace.
const MGMT: &str = "127.0.0.1:9180";
/// The LAC's RFC 5176 listener, inside the lac namespace (FreeRADIUS' own
/// CoA listener has 3799).
const DYNAUTH: &str = "127.0.0.1:3800";
/// Secret of the dynauth client (radclient in the lac namespace).
const DYNAUTH_SECRET: &str = "dynauth-test-secret";
/// Password of every test user.
const PASSWORD: &str = "sub-Pass-1";
/// How long a subscriber may take to come up through the LAC.
const UP_TIMEOUT: Duration = Duration::from_secs(25);

/// An address of subscriber `index` inside its PPP session.
fn subscriber_addr(index: u32) -> Ipv4Addr {
    let [_, _, hi, lo] = index.to_be_bytes();
    Ipv4Addr::new(100, 65, hi, lo)
}

/// What to build.
#[derive(Debug, Clone)]
struct WorldSpec {
    tag: &'static str,
    /// Test LNSs to start (each on its own address in the lns namespace).
    lns: Vec<Ipv4Addr>,
    users: Vec<UserEntry>,
    subscribers: Vec<SubscriberSpec>,
    auth_protocols: &'static str,
    balancing: &'static str,
    max_sessions_per_tunnel: u16,
    denylist_time: &'static str,
    hide_avps: bool,
    tunnel_accounting: bool,
    /// `[radius.accounting] interim_interval`.
    interim_interval: &'static str,
    threaded_radius: bool,
    /// Capture the LAC–LNS link with tshark (also with `TN_TEST_CAPTURE=1`).
    capture: bool,
    /// Receive Window Size the test LNSs advertise.
    lns_receive_window: u16,
    /// `[lac] workers`.
    workers: u16,
    /// The LAC with the L2TP timers and set-up deadline a user gets by
    /// default, instead of the suite's shortened ones.
    default_timers: bool,
    /// Lines added to `[lac]` (keys, then `[[lac.realm]]` tables).
    lac_extra: String,
}

impl WorldSpec {
    fn new(tag: &'static str) -> Self {
        Self {
            tag,
            lns: vec![LNS_A],
            users: Vec::new(),
            subscribers: Vec::new(),
            auth_protocols: r#"["chap", "mschapv2", "pap"]"#,
            balancing: "weighted",
            max_sessions_per_tunnel: 1000,
            denylist_time: "60s",
            hide_avps: false,
            tunnel_accounting: false,
            interim_interval: "0s",
            threaded_radius: false,
            capture: std::env::var_os("TN_TEST_CAPTURE").is_some(),
            lns_receive_window: 4,
            workers: 1,
            default_timers: false,
            lac_extra: String::new(),
        }
    }

    fn lns(mut self, lns: &[Ipv4Addr]) -> Self {
        self.lns = lns.to_vec();
        self
    }

    fn user(mut self, user: UserEntry) -> Self {
        self.users.push(user);
        self
    }

    fn subscriber(mut self, spec: SubscriberSpec) -> Self {
        self.subscribers.push(spec);
        self
    }

    /// Subscribers `0..count`, all dialling as `user` with [`PASSWORD`].
    fn subscribers(mut self, count: u32, user: &str) -> Self {
        for i in 0..count {
            self = self.subscriber(SubscriberSpec::new(i, user, PASSWORD));
        }
        self
    }
}

/// A users-file entry for `name` tunnelled to `lns` (preference 1).
fn tunnelled_user(name: &str, lns: Ipv4Addr) -> UserEntry {
    UserEntry::new(name)
        .password(PASSWORD)
        .l2tp_tunnel(1, &lns.to_string(), TUNNEL_SECRET, 1)
}

/// Everything one test runs; torn down in field order (subscribers and
/// LNS threads first, the namespaces last).
struct World {
    capture: Option<LiveCapture>,
    subs: Subscribers,
    lns: Vec<LnsPeer>,
    lac: Process,
    radius: FreeRadius,
    dir: TempDir,
    _access: VethPair,
    _core: VethPair,
    subs_ns: Netns,
    lac_ns: Netns,
    lns_ns: Netns,
}

impl World {
    fn start(spec: WorldSpec) -> Result<Self> {
        common::require_root()?;
        let subs_ns = Netns::new(&format!("{}-subs", spec.tag))?;
        let lac_ns = Netns::new(&format!("{}-lac", spec.tag))?;
        let lns_ns = Netns::new(&format!("{}-lns", spec.tag))?;
        let access = VethPair::builder(&subs_ns, &lac_ns).create()?;
        // The emulator sends from many MACs and must see frames to all of
        // them: promiscuous (a veth delivers them anyway; be explicit).
        subs_ns.ip(["link", "set", "dev", access.a(), "promisc", "on"])?;
        let mut core = VethPair::builder(&lac_ns, &lns_ns).addr_a(&format!("{LAC_CORE}/24"));
        for lns in &spec.lns {
            core = core.addr_b(&format!("{lns}/24"));
        }
        let core = core.create()?;
        let dir = common::tempdir(&format!("lac-{}", spec.tag))?;
        let capture = if spec.capture {
            Some(LiveCapture::start(
                &lac_ns,
                core.a(),
                &dir.path().join("core.pcap"),
            )?)
        } else {
            None
        };

        let mut radius = FreeRadius::builder().in_netns(&lac_ns, Ipv4Addr::LOCALHOST.into());
        for user in &spec.users {
            radius = radius.user(user.clone());
        }
        if spec.threaded_radius {
            radius = radius.threaded();
        }
        let radius = radius.start()?;

        let mut lns = Vec::new();
        for addr in &spec.lns {
            let config = LnsConfig::new(SocketAddr::from((*addr, 1701)), TUNNEL_SECRET.as_bytes())
                .answer_echo(LNS_PPP_ADDR)
                .receive_window(spec.lns_receive_window);
            lns.push(lns_ns.run(move || LnsPeer::start(config))??);
        }

        let config_path = dir.path().join("lac.toml");
        std::fs::write(&config_path, lac_config(&spec, &access, &dir, &radius)?)
            .context("writing the LAC config")?;
        let lac = mgmt::start_lac(&lac_ns, MGMT, &config_path, &dir.path().join("lac.log"))?;

        let subs = Subscribers::start(&subs_ns, access.a(), spec.subscribers)?;
        Ok(Self {
            capture,
            subs,
            lns,
            lac,
            radius,
            dir,
            _access: access,
            _core: core,
            subs_ns,
            lac_ns,
            lns_ns,
        })
    }

    /// The LAC's log, FreeRADIUS' log tail and the LNSs' and subscribers'
    /// state: appended to every failure.
    fn diag(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n===== LAC log ({}) =====",
            self.lac.log_path().display()
        );
        out.push_str(&strip_ansi(&tail(&self.lac.log(), 200)));
        let _ = writeln!(out, "\n===== subscribers =====\n{}", self.subs.summary());
        for lns in &self.lns {
            let _ = writeln!(
                out,
                "===== test LNS {} =====\n{}",
                lns.addr(),
                lns.state().summary()
            );
        }
        let _ = writeln!(
            out,
            "===== FreeRADIUS log tail =====\n{}",
            tail(&self.radius.log(), 40)
        );
        let _ = self.dir.path();
        let _ = (&self.subs_ns, &self.lns_ns);
        out
    }

    fn lns(&self, addr: Ipv4Addr) -> &LnsPeer {
        self.lns
            .iter()
            .find(|l| l.addr().ip() == std::net::IpAddr::V4(addr))
            .unwrap_or_else(|| panic!("no test LNS on {addr}"))
    }

    /// Stops the capture of the LAC–LNS link (if any) and returns the file.
    fn stop_capture(&mut self) -> Result<Option<std::path::PathBuf>> {
        self.capture.take().map(LiveCapture::stop).transpose()
    }

    /// GET `path` on the management server; fails unless 200.
    fn get(&self, path: &str) -> Result<String> {
        let (code, body) = mgmt::http(&self.lac_ns, MGMT, "GET", path)?;
        ensure!(
            code == 200,
            "GET {path}: HTTP {code}: {body}{}",
            self.diag()
        );
        Ok(body)
    }

    /// GET a JSON document.
    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let body = self.get(path)?;
        serde_json::from_str(&body)
            .with_context(|| format!("GET {path} is not JSON: {body}{}", self.diag()))
    }

    /// `/api/v1/sessions`.
    fn api_sessions(&self) -> Result<Vec<serde_json::Value>> {
        match self.get_json("/api/v1/sessions")? {
            serde_json::Value::Array(sessions) => Ok(sessions),
            other => bail!("/api/v1/sessions is not an array: {other}{}", self.diag()),
        }
    }

    /// The API's session for MAC `mac`.
    fn api_session(&self, mac: &str) -> Result<Option<serde_json::Value>> {
        Ok(self
            .api_sessions()?
            .into_iter()
            .find(|s| s["mac"].as_str() == Some(mac)))
    }

    /// Sum of the samples of metric `name` whose labels contain every
    /// `label="value"` in `labels`.
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        let text = self.get("/metrics")?;
        Ok(mgmt::metric_sum(&text, name, labels))
    }

    /// Polls metric `name` (summed over `labels`) until `accept` holds —
    /// the LAC refreshes its gauges and forwarding counters once a second.
    fn wait_metric(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        what: &str,
        accept: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let mut last = f64::NAN;
        let found = wait_until(
            Duration::from_secs(5),
            || {
                last = self.metric(name, labels)?;
                Ok(accept(last).then_some(last))
            },
            String::new,
        );
        found.map_err(|_| {
            common::anyhow!(
                "metric {name}{labels:?} = {last}, expected {what}\n{}{}",
                metric_lines(&self.get("/metrics").unwrap_or_default(), "tunnelnas_lac_"),
                self.diag()
            )
        })
    }

    /// Dials subscriber `index` and waits for it to authenticate (which
    /// the LAC only confirms once the L2TP session is up).
    fn bring_up(&self, index: usize) -> Result<SubscriberStatus> {
        self.subs.dial(index)?;
        self.subs
            .wait_authenticated(index, UP_TIMEOUT, &|| self.diag())
    }

    /// Waits for the test LNS at `lns` to hold an established session
    /// for subscriber `status`.
    fn lns_session(&self, lns: Ipv4Addr, status: &SubscriberStatus) -> Result<LnsSession> {
        self.lns(lns)
            .wait_for_session_up(&status.mac_string(), Duration::from_secs(10), &|| {
                self.diag()
            })
    }

    /// Waits for accounting records matching `filter`, at least `count`.
    fn wait_records(
        &self,
        count: usize,
        what: &str,
        filter: impl Fn(&DetailRecord) -> bool,
    ) -> Result<Vec<DetailRecord>> {
        wait_until(
            Duration::from_secs(15),
            || {
                let records: Vec<DetailRecord> = self
                    .radius
                    .accounting_records()
                    .into_iter()
                    .filter(&filter)
                    .collect();
                Ok((records.len() >= count).then_some(records))
            },
            || {
                format!(
                    "expected {count} accounting records: {what}; detail file:\n{}{}",
                    std::fs::read_to_string(self.radius.detail_path()).unwrap_or_default(),
                    self.diag()
                )
            },
        )
    }

    /// Waits for the Stop record of `user` and checks its
    /// Acct-Terminate-Cause.
    fn expect_stop(&self, user: &str, cause: &str) -> Result<DetailRecord> {
        let stops = self.wait_records(1, &format!("Stop for {user}"), |r| {
            r.attrs.get("Acct-Status-Type") == Some("Stop")
                && r.attrs.get("User-Name") == Some(user)
        })?;
        let stop = stops[0].clone();
        ensure!(
            stop.attrs.get("Acct-Terminate-Cause") == Some(cause),
            "Stop of {user} has Acct-Terminate-Cause {:?}, expected {cause}: {:?}{}",
            stop.attrs.get("Acct-Terminate-Cause"),
            stop.attrs,
            self.diag()
        );
        // The Stop closes the session the Start opened.
        let starts = self.wait_records(1, &format!("Start for {user}"), |r| {
            r.attrs.get("Acct-Status-Type") == Some("Start")
                && r.attrs.get("User-Name") == Some(user)
        })?;
        ensure!(
            starts[0].attrs.get("Acct-Session-Id").is_some()
                && starts[0].attrs.get("Acct-Session-Id") == stop.attrs.get("Acct-Session-Id"),
            "Start and Stop of {user} differ in Acct-Session-Id: {:?} / {:?}{}",
            starts[0].attrs,
            stop.attrs,
            self.diag()
        );
        Ok(stop)
    }

    /// Waits until the LNS session of MAC `mac` at `lns` is down; returns it.
    fn wait_lns_session_down(&self, lns: Ipv4Addr, mac: &str) -> Result<LnsSession> {
        self.lns(lns)
            .wait_for(Duration::from_secs(10), &|| self.diag(), |state| {
                state
                    .session_by_calling_number(mac)
                    .filter(|s| s.down.is_some())
                    .cloned()
            })
    }

    /// Waits until subscriber `index` received a PADT.
    fn wait_padt(&self, index: usize) -> Result<SubscriberStatus> {
        self.subs
            .wait_for(index, Duration::from_secs(10), &|| self.diag(), |s| {
                s.padt_received.then(|| s.clone())
            })
    }

    /// Waits until the API lists no session any more.
    fn wait_api_empty(&self) -> Result<()> {
        wait_until(
            Duration::from_secs(10),
            || Ok(self.api_sessions()?.is_empty().then_some(())),
            || format!("/api/v1/sessions still lists sessions{}", self.diag()),
        )
    }
}

/// The LAC's configuration for `spec`.
fn lac_config(
    spec: &WorldSpec,
    access: &VethPair,
    dir: &TempDir,
    radius: &FreeRadius,
) -> Result<String> {
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir)?;
    Ok(format!(
        r#"# Generated by tests/lac_namespaces.rs
[node]
nas_identifier = "lac-test"
state_dir = "{state_dir}"

[pppoe]
ac_name = "tn-test-lac"
padi_rate = 10000
padi_rate_per_mac = 50
max_sessions_per_mac = 4
pado_delay = "0s"
pado_delay_max = "0s"

[[pppoe.interface]]
name = "{access}"

[ppp]
auth_protocols = {auth}
lcp_echo_interval = "0s"
restart_timer = "1s"

[l2tp]
listen = "{LAC_CORE}:1701"
hide_avps = {hide}
{l2tp_timers}

[lac]
auth_group = "test"
acct_group = "test"
balancing = "{balancing}"
max_attempts = 3
{setup_deadline}
denylist_time = "{denylist}"
max_sessions_per_tunnel = {per_tunnel}
calling_number = "mac"
workers = {workers}
{lac_extra}

[radius]
nas_ip_address = "{LAC_CORE}"

[radius.group.test]
timeout = "5s"
retries = 2
# One server: a burst of slow answers must not bury it.
dead_after = 50

[[radius.group.test.server]]
address = "{radius_addr}"
auth_port = {auth_port}
acct_port = {acct_port}
secret = "{radius_secret}"

[radius.accounting]
interim_interval = "{interim}"
tunnel_accounting = {tunnel_accounting}

[radius.dynauth]
listen = "{DYNAUTH}"
require_message_authenticator = true

[[radius.dynauth.client]]
address = "127.0.0.1"
secret = "{DYNAUTH_SECRET}"

[metrics]
listen = "{MGMT}"

[api]
listen = "{MGMT}"
"#,
        state_dir = state_dir.display(),
        access = access.b(),
        auth = spec.auth_protocols,
        hide = spec.hide_avps,
        balancing = spec.balancing,
        denylist = spec.denylist_time,
        per_tunnel = spec.max_sessions_per_tunnel,
        workers = spec.workers,
        radius_addr = radius.auth_addr().ip(),
        auth_port = radius.auth_addr().port(),
        acct_port = radius.acct_addr().port(),
        radius_secret = radius.secret(),
        tunnel_accounting = spec.tunnel_accounting,
        interim = spec.interim_interval,
        lac_extra = spec.lac_extra,
        l2tp_timers = if spec.default_timers {
            "# L2TP timers: the defaults"
        } else {
            "hello_interval = \"60s\"\nretransmit_initial = \"200ms\"\nretransmit_max = \"400ms\"\nmax_retransmits = 3"
        },
        setup_deadline = if spec.default_timers {
            "# setup_deadline and tunnel_setup_timeout: the defaults"
        } else {
            "setup_deadline = \"20s\""
        },
    ))
}

/// `text` without ANSI escape sequences (colours in the LAC's log).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (0x40..=0x7e).
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The lines of a Prometheus exposition whose metric starts with `prefix`.
fn metric_lines(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of attribute `name` (any tag) of `record`.
fn attr_any_tag<'a>(record: &'a DetailRecord, name: &str) -> Option<&'a str> {
    record.attrs.iter().find_map(|(key, value)| {
        (key == name
            || key
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(':')))
        .then_some(value)
    })
}

/// A well-formed IPv6 datagram (Next Header 59, "no next header") with
/// `len` patterned payload bytes: arbitrary data that Wireshark still
/// dissects cleanly.
fn ipv6_no_next_header(tag: u8, len: u8) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0, 0, len, 59, 64];
    packet.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, tag]);
    packet.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    packet.extend((0..len).map(|b| b.wrapping_mul(7) ^ tag));
    packet
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends an echo request from subscriber `index` to the LNS's PPP address
/// and checks it arrives byte-exact at `lns`, and the reply byte-exact at
/// the subscriber. Returns the request.
fn ping_through(world: &World, index: usize, lns: Ipv4Addr, seq: u16) -> Result<Vec<u8>> {
    let status = world.subs.status(index)?;
    let mac = status.mac_string();
    let src = subscriber_addr(index as u32);
    let request = icmp::echo_request(src, LNS_PPP_ADDR, seq);
    let mut reply = request.clone();
    ensure!(
        icmp::answer_echo(&mut reply, LNS_PPP_ADDR),
        "test bug: not an echo request"
    );
    world.subs.send_ppp(index, Protocol::Ipv4, &request)?;
    let at_lns = world
        .lns(lns)
        .wait_for(Duration::from_secs(10), &|| world.diag(), |state| {
            state.session_by_calling_number(&mac).and_then(|s| {
                s.frames
                    .iter()
                    .find(|f| f.protocol == Protocol::Ipv4 && f.payload == request)
                    .cloned()
            })
        })?;
    ensure!(
        at_lns.address_control,
        "the LAC must put FF 03 in front of PPP frames to the LNS{}",
        world.diag()
    );
    world
        .subs
        .wait_for(index, Duration::from_secs(10), &|| world.diag(), |s| {
            s.frames
                .iter()
                .any(|(p, payload)| *p == Protocol::Ipv4 && *payload == reply)
                .then_some(())
        })?;
    Ok(request)
}

// ---------------------------------------------------------------------------
// 1. Sessions come up with PAP, CHAP and MS-CHAPv2
// ---------------------------------------------------------------------------

#[test]
fn pap_chap_mschapv2_subscribers_reach_the_lns_with_proxy_avps_and_frames_byte_exact() -> Result<()>
{
    let methods = [
        ("pap-user", AuthMethod::Pap),
        ("chap-user", AuthMethod::ChapMd5),
        ("mschap-user", AuthMethod::MsChapV2),
    ];
    let mut spec = WorldSpec::new("auth");
    spec.hide_avps = true;
    spec.capture = true;
    spec.tunnel_accounting = true;
    for (i, (user, method)) in methods.iter().enumerate() {
        spec = spec
            .user(tunnelled_user(user, LNS_A).reply("Class", &format!("class-{user}")))
            .subscriber(SubscriberSpec::new(i as u32, user, PASSWORD).methods(&[*method]));
    }
    let mut world = World::start(spec)?;
    for i in 0..methods.len() {
        world.subs.dial(i)?;
    }
    for (i, (user, method)) in methods.iter().enumerate() {
        let status = world
            .subs
            .wait_authenticated(i, UP_TIMEOUT, &|| world.diag())?;
        ensure!(
            status.auth_method == Some(*method),
            "{user} authenticated with {:?}, expected {method:?}{}",
            status.auth_method,
            world.diag()
        );
        let session = world.lns_session(LNS_A, &status)?;
        let call = session
            .call
            .clone()
            .context("an up session has its ICCN call info")?;
        let proxy = &call.proxy;
        ensure!(
            proxy.initial_received_lcp_confreq.is_some()
                && proxy.last_sent_lcp_confreq.is_some()
                && proxy.last_received_lcp_confreq.is_some(),
            "{user}: ICCN lacks proxy LCP AVPs: {proxy:?}{}",
            world.diag()
        );
        ensure!(
            *method == AuthMethod::MsChapV2
                || proxy.authen_name.as_deref() == Some(user.as_bytes()),
            "{user}: Proxy Authen Name {:?}{}",
            proxy
                .authen_name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned()),
            world.diag()
        );
        match method {
            AuthMethod::Pap => ensure!(
                proxy.authen_type == Some(ProxyAuthenType::Pap)
                    && proxy.authen_response.as_deref() == Some(PASSWORD.as_bytes()),
                "{user}: PAP proxy authentication {proxy:?}{}",
                world.diag()
            ),
            AuthMethod::ChapMd5 => ensure!(
                proxy.authen_type == Some(ProxyAuthenType::Chap)
                    && proxy
                        .authen_challenge
                        .as_ref()
                        .is_some_and(|c| !c.is_empty())
                    && proxy
                        .authen_response
                        .as_ref()
                        .is_some_and(|r| r.len() == 16)
                    && proxy.authen_id.is_some(),
                "{user}: CHAP proxy authentication {proxy:?}{}",
                world.diag()
            ),
            // RFC 2661 §4.4.5 defines no Proxy Authen Type for
            // MS-CHAPv2: the LAC sends none and the LNS authenticates
            // again. If it ever sends one, the name must be right.
            AuthMethod::MsChapV2 => ensure!(
                proxy.authen_type.is_none()
                    || proxy.authen_name.as_deref() == Some(user.as_bytes()),
                "{user}: MS-CHAPv2 proxy authentication {proxy:?}{}",
                world.diag()
            ),
        }
        ensure!(
            session.calling_number().as_deref() == Some(status.mac_string().as_str()),
            "{user}: Calling Number {:?}, expected the MAC {}{}",
            session.calling_number(),
            status.mac_string(),
            world.diag()
        );

        // Upstream and downstream, byte-exact.
        ping_through(&world, i, LNS_A, 1)?;
        let odd = ipv6_no_next_header(i as u8, 57);
        world.subs.send_ppp(i, Protocol::Ipv6, &odd)?;
        world
            .lns(LNS_A)
            .wait_for(Duration::from_secs(10), &|| world.diag(), |state| {
                state
                    .session_by_calling_number(&status.mac_string())
                    .and_then(|s| {
                        s.payloads(Protocol::Ipv6)
                            .contains(&odd.as_slice())
                            .then_some(())
                    })
            })?;
        let down = ipv6_no_next_header(0x80 | i as u8, 21);
        world
            .lns(LNS_A)
            .send_ppp(session.handle, Protocol::Ipv6, &down)?;
        world
            .subs
            .wait_for(i, Duration::from_secs(10), &|| world.diag(), |s| {
                s.payloads(Protocol::Ipv6)
                    .contains(&down.as_slice())
                    .then_some(())
            })?;
    }

    // Accounting Start per subscriber, with the tunnel and the Class.
    for (user, _) in &methods {
        let starts = world.wait_records(1, &format!("Start for {user}"), |r| {
            r.attrs.get("Acct-Status-Type") == Some("Start")
                && r.attrs.get("User-Name") == Some(user)
        })?;
        let start = &starts[0];
        ensure!(
            start
                .attrs
                .get("Acct-Session-Id")
                .is_some_and(|id| !id.is_empty()),
            "{user}: Start without Acct-Session-Id: {:?}{}",
            start.attrs,
            world.diag()
        );
        ensure!(
            attr_any_tag(start, "Tunnel-Server-Endpoint")
                .is_some_and(|e| e.contains(&LNS_A.to_string()))
                && attr_any_tag(start, "Tunnel-Type") == Some("L2TP"),
            "{user}: Start lacks the RFC 2867 tunnel attributes: {:?}{}",
            start.attrs,
            world.diag()
        );
        let class = format!("0x{}", hex(format!("class-{user}").as_bytes()));
        ensure!(
            start.attrs.get("Class") == Some(class.as_str()),
            "{user}: Start does not echo Class {class}: {:?}{}",
            start.attrs,
            world.diag()
        );
    }
    world.wait_records(1, "a Tunnel-Start (tunnel_accounting = true)", |r| {
        r.attrs.get("Acct-Status-Type") == Some("Tunnel-Start")
    })?;

    // The API and the metrics agree.
    let sessions = world.api_sessions()?;
    ensure!(
        sessions.len() == methods.len(),
        "API sessions: {sessions:?}{}",
        world.diag()
    );
    for status in world.subs.statuses() {
        let session = world
            .api_session(&status.mac_string())?
            .with_context(|| format!("no API session for {}{}", status.mac, world.diag()))?;
        ensure!(
            session["state"] == "up"
                && session["lns"] == format!("{LNS_A}:1701")
                && session["user_name"] == status.user.as_str()
                && session["pppoe_session_id"].as_u64() == status.session_id.map(u64::from)
                && session["packets_up"].as_u64().is_some_and(|n| n >= 2)
                && session["packets_down"].as_u64().is_some_and(|n| n >= 2),
            "API session of {}: {session}{}",
            status.mac,
            world.diag()
        );
    }
    // Per subscriber: an echo request, an IPv6-protocol frame up; the
    // echo reply and one frame down.
    for direction in ["upstream", "downstream"] {
        world.wait_metric(
            "tunnelnas_lac_forwarded_packets_total",
            &[("direction", direction)],
            ">= 6",
            |n| n >= 6.0,
        )?;
    }
    world.wait_metric("tunnelnas_lac_sessions", &[("state", "up")], "3", |n| {
        n == 3.0
    })?;

    // Every L2TP datagram the LAC and the LNS exchanged dissects cleanly
    // in Wireshark, and the three calls' ICCNs are there.
    if let Some(pcap) = world.stop_capture()? {
        let tshark = Tshark::new();
        tshark.assert_clean(&pcap).with_context(|| world.diag())?;
        let iccns = tshark.count(&pcap, Some("l2tp.avp.message_type == 12"))?;
        ensure!(
            iccns >= 3,
            "{iccns} ICCNs in {}{}",
            pcap.display(),
            world.diag()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 2. Failover to the second preference, denylist, expiry
// ---------------------------------------------------------------------------

#[test]
fn preferred_lns_down_fails_over_to_second_and_is_denylisted_until_dead_time_expires() -> Result<()>
{
    let mut spec = WorldSpec::new("failover")
        .lns(&[LNS_A, LNS_B])
        .user(
            UserEntry::new("fo-user")
                .password(PASSWORD)
                .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1)
                .l2tp_tunnel(2, &LNS_B.to_string(), TUNNEL_SECRET, 2),
        )
        .subscriber(SubscriberSpec::new(0, "fo-user", PASSWORD))
        .subscriber(SubscriberSpec::new(1, "fo-user", PASSWORD));
    spec.denylist_time = "4s";
    let world = World::start(spec)?;
    world.lns(LNS_A).set_mode(LnsMode::Silent);

    let first = world.bring_up(0)?;
    world.lns_session(LNS_B, &first)?;
    let tried = world.lns(LNS_A).state();
    ensure!(
        tried.sccrqs >= 1 && tried.sessions.is_empty(),
        "the LAC must try the preferred LNS first (SCCRQs seen by it: {}){}",
        tried.sccrqs,
        world.diag()
    );
    ping_through(&world, 0, LNS_B, 1)?;
    let denylist = world.get_json("/api/v1/lac/denylist")?;
    let a = format!("{LNS_A}:1701");
    let entry = denylist
        .as_array()
        .and_then(|list| list.iter().find(|e| e["endpoint"] == a.as_str()))
        .cloned()
        .with_context(|| format!("{a} is not denylisted: {denylist}{}", world.diag()))?;
    let remaining = entry["remaining_seconds"].as_f64().unwrap_or(-1.0);
    ensure!(
        remaining > 0.0 && remaining <= 4.0,
        "remaining_seconds {remaining} not in (0, 4]: {denylist}{}",
        world.diag()
    );
    ensure!(
        !denylist.to_string().contains(&format!("{LNS_B}:1701")),
        "the working LNS is denylisted too: {denylist}{}",
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_selection_total",
        &[("outcome", "failover")],
        ">= 1",
        |n| n >= 1.0,
    )?;
    world.wait_metric("tunnelnas_lac_denylisted_endpoints", &[], "1", |n| n == 1.0)?;
    world.wait_metric(
        "tunnelnas_lac_denylist_total",
        &[("lns", &format!("{LNS_A}:1701"))],
        ">= 1",
        |n| n >= 1.0,
    )?;

    // The first LNS comes back; once the dead time is over it is preferred again.
    world.lns(LNS_A).set_mode(LnsMode::Answer);
    wait_until(
        Duration::from_secs(10),
        || {
            let list = world.get_json("/api/v1/lac/denylist")?;
            Ok(list.as_array().is_some_and(Vec::is_empty).then_some(()))
        },
        || {
            format!(
                "the denylist did not empty after its 4 s dead time{}",
                world.diag()
            )
        },
    )?;
    let second = world.bring_up(1)?;
    world.lns_session(LNS_A, &second)?;
    ping_through(&world, 1, LNS_A, 2)?;
    ensure!(
        world
            .lns(LNS_B)
            .state()
            .session_by_calling_number(&second.mac_string())
            .is_none(),
        "the second subscriber should not touch the second-preference LNS{}",
        world.diag()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. Equal preference: sessions split across LNSs
// ---------------------------------------------------------------------------

#[test]
fn equal_preference_balances_sessions_across_both_lns() -> Result<()> {
    const N: u32 = 20;
    let mut spec = WorldSpec::new("balance").lns(&[LNS_A, LNS_B]).user(
        UserEntry::new("bal-user")
            .password(PASSWORD)
            .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1)
            .l2tp_tunnel(2, &LNS_B.to_string(), TUNNEL_SECRET, 1)
            // RFC 2868 §3.7: the operator's name for the tunnel, the
            // `group` label of tunnelnas_lac_lns_sessions.
            .reply("Tunnel-Assignment-Id:1", "corp-bal")
            .reply("Tunnel-Assignment-Id:2", "corp-bal"),
    );
    spec = spec.subscribers(N, "bal-user");
    let world = World::start(spec)?;
    world.subs.dial_all(Duration::from_millis(20))?;
    world
        .subs
        .wait_all_authenticated(Duration::from_secs(60), &|| world.diag())?;
    let on_a = world.lns(LNS_A).state().live_sessions().len();
    let on_b = world.lns(LNS_B).state().live_sessions().len();
    ensure!(
        on_a + on_b == N as usize && on_a > 0 && on_b > 0,
        "{N} sessions split {on_a} / {on_b}{}",
        world.diag()
    );
    for (lns, count) in [(LNS_A, on_a), (LNS_B, on_b)] {
        world.wait_metric(
            "tunnelnas_lac_lns_sessions",
            &[("group", "corp-bal"), ("lns", &format!("{lns}:1701"))],
            &format!("{count} (the test LNS's count)"),
            |n| n == count as f64,
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. max_sessions_per_tunnel opens more tunnels
// ---------------------------------------------------------------------------

#[test]
fn max_sessions_per_tunnel_opens_further_tunnels() -> Result<()> {
    const N: u32 = 5;
    let mut spec = WorldSpec::new("pertun").user(tunnelled_user("pt-user", LNS_A));
    spec.max_sessions_per_tunnel = 2;
    spec = spec.subscribers(N, "pt-user");
    let world = World::start(spec)?;
    world.subs.dial_all(Duration::from_millis(50))?;
    world
        .subs
        .wait_all_authenticated(Duration::from_secs(40), &|| world.diag())?;
    let state = world.lns(LNS_A).state();
    let live = state.live_sessions();
    ensure!(
        live.len() == N as usize,
        "{} sessions at the LNS{}",
        live.len(),
        world.diag()
    );
    let tunnels = state.live_tunnels();
    ensure!(
        tunnels.len() >= 3,
        "5 sessions at 2 per tunnel need 3 tunnels, the LNS has {}{}",
        tunnels.len(),
        world.diag()
    );
    for tunnel in &tunnels {
        let count = live
            .iter()
            .filter(|s| s.handle.tunnel_id == tunnel.tunnel_id)
            .count();
        ensure!(
            count <= 2,
            "tunnel {} carries {count} sessions (max 2){}",
            tunnel.tunnel_id,
            world.diag()
        );
    }
    let api = world.get_json("/api/v1/tunnels")?;
    ensure!(
        api.as_array().is_some_and(|t| t.len() == tunnels.len()),
        "/api/v1/tunnels: {api}{}",
        world.diag()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 5. Teardown paths and their Acct-Terminate-Cause
// ---------------------------------------------------------------------------

/// A world with one LNS and `users` (one subscriber each, user `name-i`).
fn teardown_world(tag: &'static str, users: &[&str], extra: &[(&str, &str)]) -> Result<World> {
    let mut spec = WorldSpec::new(tag);
    for (i, user) in users.iter().enumerate() {
        let mut entry = tunnelled_user(user, LNS_A);
        for (attr, value) in extra {
            entry = entry.reply(attr, value);
        }
        spec = spec
            .user(entry)
            .subscriber(SubscriberSpec::new(i as u32, user, PASSWORD));
    }
    World::start(spec)
}

#[test]
fn padt_from_subscriber_sends_cdn_and_stop_with_user_request() -> Result<()> {
    let world = teardown_world("padt", &["padt-user"], &[])?;
    let status = world.bring_up(0)?;
    world.lns_session(LNS_A, &status)?;
    world.subs.send_padt(0)?;
    let session = world.wait_lns_session_down(LNS_A, &status.mac_string())?;
    ensure!(
        matches!(session.down, Some((SessionDownCause::PeerCdn, _))),
        "the LNS should get a CDN, got {:?}{}",
        session.down,
        world.diag()
    );
    world.expect_stop("padt-user", "User-Request")?;
    world.wait_api_empty()?;
    Ok(())
}

#[test]
fn cdn_from_lns_sends_padt_and_stop_with_host_request() -> Result<()> {
    let world = teardown_world("cdn", &["cdn-user"], &[])?;
    let status = world.bring_up(0)?;
    let session = world.lns_session(LNS_A, &status)?;
    world
        .lns(LNS_A)
        .close_session(session.handle, ResultCode::cdn(CdnResult::Administrative))?;
    world.wait_padt(0)?;
    world.expect_stop("cdn-user", "Host-Request")?;
    world.wait_api_empty()?;
    Ok(())
}

#[test]
fn stopccn_from_lns_sends_padt_to_every_session_and_stops_with_lost_service() -> Result<()> {
    let world = teardown_world("stopccn", &["sccn-user-0", "sccn-user-1"], &[])?;
    let first = world.bring_up(0)?;
    let second = world.bring_up(1)?;
    let a = world.lns_session(LNS_A, &first)?;
    let b = world.lns_session(LNS_A, &second)?;
    ensure!(
        a.handle.tunnel_id == b.handle.tunnel_id,
        "both sessions should share one tunnel: {a:?} / {b:?}{}",
        world.diag()
    );
    world.lns(LNS_A).close_tunnel(
        a.handle.tunnel_id,
        ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
    )?;
    world.wait_padt(0)?;
    world.wait_padt(1)?;
    world.expect_stop("sccn-user-0", "Lost-Service")?;
    world.expect_stop("sccn-user-1", "Lost-Service")?;
    world.wait_api_empty()?;
    Ok(())
}

#[test]
fn disconnect_request_sends_cdn_and_padt_and_stop_with_admin_reset() -> Result<()> {
    let world = teardown_world("dm", &["dm-user"], &[])?;
    let status = world.bring_up(0)?;
    world.lns_session(LNS_A, &status)?;
    let api = world
        .api_session(&status.mac_string())?
        .with_context(|| format!("no API session{}", world.diag()))?;
    let acct_session_id = api["acct_session_id"]
        .as_str()
        .with_context(|| format!("acct_session_id in {api}"))?
        .to_owned();
    let reply = Radclient::new(DYNAUTH.parse()?, DYNAUTH_SECRET)
        .in_netns(&world.lac_ns)
        .disconnect(&[
            ("Acct-Session-Id", acct_session_id.as_str()),
            ("User-Name", "dm-user"),
            ("Message-Authenticator", "0x00"),
        ])?;
    ensure!(
        reply.code() == Some("Disconnect-ACK"),
        "Disconnect-Request answered {:?}:\n{}{}",
        reply.code(),
        reply.output,
        world.diag()
    );
    let session = world.wait_lns_session_down(LNS_A, &status.mac_string())?;
    ensure!(
        matches!(session.down, Some((SessionDownCause::PeerCdn, _))),
        "the LNS should get a CDN, got {:?}{}",
        session.down,
        world.diag()
    );
    world.wait_padt(0)?;
    let stop = world.expect_stop("dm-user", "Admin-Reset")?;
    ensure!(
        stop.attrs.get("Acct-Session-Id") == Some(acct_session_id.as_str()),
        "Stop {:?} is not for {acct_session_id}{}",
        stop.attrs,
        world.diag()
    );
    Ok(())
}

#[test]
fn api_delete_tears_the_session_down_like_a_disconnect() -> Result<()> {
    let world = teardown_world("apidel", &["del-user"], &[])?;
    let status = world.bring_up(0)?;
    world.lns_session(LNS_A, &status)?;
    let api = world
        .api_session(&status.mac_string())?
        .with_context(|| format!("no API session{}", world.diag()))?;
    let id = api["acct_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (code, body) = mgmt::http(
        &world.lac_ns,
        MGMT,
        "DELETE",
        &format!("/api/v1/sessions/{id}"),
    )?;
    ensure!(
        code == 204,
        "DELETE answered {code}: {body}{}",
        world.diag()
    );
    world.wait_lns_session_down(LNS_A, &status.mac_string())?;
    world.wait_padt(0)?;
    world.expect_stop("del-user", "Admin-Reset")?;
    Ok(())
}

#[test]
fn session_timeout_sends_cdn_and_padt_and_stop_with_session_timeout() -> Result<()> {
    let world = teardown_world("sto", &["sto-user"], &[("Session-Timeout", "3")])?;
    let status = world.bring_up(0)?;
    let up_at = Instant::now();
    world.lns_session(LNS_A, &status)?;
    let session = world.wait_lns_session_down(LNS_A, &status.mac_string())?;
    let lasted = up_at.elapsed();
    ensure!(
        matches!(session.down, Some((SessionDownCause::PeerCdn, _))),
        "the LNS should get a CDN, got {:?}{}",
        session.down,
        world.diag()
    );
    ensure!(
        lasted >= Duration::from_millis(2000) && lasted <= Duration::from_secs(8),
        "Session-Timeout 3 s ended the session after {lasted:?}{}",
        world.diag()
    );
    world.wait_padt(0)?;
    world.expect_stop("sto-user", "Session-Timeout")?;
    Ok(())
}

#[test]
fn sigterm_ends_every_session_with_cdn_padt_and_nas_reboot() -> Result<()> {
    let mut world = teardown_world("term", &["term-user-0", "term-user-1"], &[])?;
    let first = world.bring_up(0)?;
    let second = world.bring_up(1)?;
    world.lns_session(LNS_A, &first)?;
    world.lns_session(LNS_A, &second)?;
    world.lac.signal(libc::SIGTERM);
    let status = world.lac.wait_timeout(Duration::from_secs(15))?;
    let diag = world.diag();
    ensure!(
        status.is_some_and(|s| s.success()),
        "the LAC should exit 0 on SIGTERM, got {status:?}{diag}"
    );
    for (index, sub) in [(0, &first), (1, &second)] {
        let session = world
            .lns(LNS_A)
            .state()
            .session_by_calling_number(&sub.mac_string())
            .cloned();
        ensure!(
            session.as_ref().is_some_and(|s| s.down.is_some()),
            "the LNS should have seen the call of {} cleared: {session:?}{diag}",
            sub.mac
        );
        world.wait_padt(index)?;
    }
    world.expect_stop("term-user-0", "NAS-Reboot")?;
    world.expect_stop("term-user-1", "NAS-Reboot")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

#[test]
fn access_reject_fails_authentication_and_opens_no_tunnel() -> Result<()> {
    let spec = WorldSpec::new("reject")
        .user(
            UserEntry::new("bad-user")
                .reject()
                .reply("Reply-Message", "go away"),
        )
        .subscriber(SubscriberSpec::new(0, "bad-user", PASSWORD).methods(&[AuthMethod::Pap]));
    let world = World::start(spec)?;
    world.subs.dial(0)?;
    world.wait_padt(0)?;
    let status = world.subs.status(0)?;
    ensure!(
        !status.authenticated,
        "a rejected user authenticated{}",
        world.diag()
    );
    let lns = world.lns(LNS_A).state();
    ensure!(
        lns.sccrqs == 0 && lns.sessions.is_empty(),
        "no tunnel for a rejected user{}",
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_setup_failures_total",
        &[("reason", "radius_reject")],
        ">= 1",
        |n| n >= 1.0,
    )?;
    Ok(())
}

#[test]
fn accept_without_tunnel_attributes_or_realm_is_refused_with_padt() -> Result<()> {
    let spec = WorldSpec::new("nocand")
        .user(UserEntry::new("plain-user").password(PASSWORD))
        .subscriber(SubscriberSpec::new(0, "plain-user", PASSWORD));
    let world = World::start(spec)?;
    world.subs.dial(0)?;
    world.wait_padt(0)?;
    ensure!(
        !world.subs.status(0)?.authenticated,
        "no LNS, yet the subscriber was told it authenticated{}",
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_setup_failures_total",
        &[("reason", "no_candidate")],
        ">= 1",
        |n| n >= 1.0,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 6. A hundred subscribers
// ---------------------------------------------------------------------------

#[test]
fn a_hundred_subscribers_come_up_and_exchange_traffic() -> Result<()> {
    const N: u32 = 100;
    let mut spec = WorldSpec::new("hundred").user(tunnelled_user("many-user", LNS_A));
    spec.threaded_radius = true;
    spec = spec.subscribers(N, "many-user");
    let world = World::start(spec)?;
    let setup = come_up_and_exchange_traffic(&world, N)?;
    eprintln!("{N} subscribers up in {setup:?}");
    Ok(())
}

/// `[lac] workers = 2`: the kernel spreads the subscribers over both
/// workers by MAC, each worker opens its own tunnel and allocates PPPoE
/// Session IDs and Tunnel IDs from its own slice (odd or even), every
/// session forwards both ways, and at SIGTERM every Stop reaches RADIUS
/// before the one Accounting-Off.
#[test]
fn two_workers_share_the_subscribers_each_with_its_own_tunnel() -> Result<()> {
    const N: u32 = 40;
    let mut spec = WorldSpec::new("workers").user(tunnelled_user("shard-user", LNS_A));
    spec.threaded_radius = true;
    spec.workers = 2;
    spec = spec.subscribers(N, "shard-user");
    let mut world = World::start(spec)?;
    come_up_and_exchange_traffic(&world, N)?;

    let sessions = world.api_sessions()?;
    let mut per_worker = [0usize; 2];
    for session in &sessions {
        let worker = session["worker"].as_u64().context("worker")?;
        let pppoe_id = session["pppoe_session_id"].as_u64().context("pppoe id")?;
        let tunnel_id = session["tunnel_id"].as_u64().context("tunnel id")?;
        ensure!(
            worker < 2 && pppoe_id % 2 == worker && tunnel_id % 2 == worker,
            "worker {worker} owns PPPoE Session ID {pppoe_id} and Tunnel ID {tunnel_id}: \
             each worker allocates only from its own slice{}",
            world.diag()
        );
        per_worker[worker as usize] += 1;
    }
    ensure!(
        per_worker[0] > 0 && per_worker[1] > 0 && per_worker[0] + per_worker[1] == N as usize,
        "{N} subscribers spread {per_worker:?} over the two workers{}",
        world.diag()
    );
    let tunnels = match world.get_json("/api/v1/tunnels")? {
        serde_json::Value::Array(tunnels) => tunnels,
        other => bail!("/api/v1/tunnels is not an array: {other}"),
    };
    let mut workers: Vec<u64> = tunnels
        .iter()
        .filter_map(|t| t["worker"].as_u64())
        .collect();
    workers.sort_unstable();
    ensure!(
        workers == [0, 1],
        "one tunnel per worker expected, the API lists {tunnels:?}{}",
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_sessions",
        &[("state", "up")],
        &format!("{N} (the workers' sum)"),
        |n| n == f64::from(N),
    )?;

    world.lac.signal(libc::SIGTERM);
    let status = world.lac.wait_timeout(Duration::from_secs(20))?;
    ensure!(
        status.is_some_and(|s| s.success()),
        "the LAC should exit 0 on SIGTERM, got {status:?}{}",
        world.diag()
    );
    let records = world.wait_records(
        N as usize + 1,
        "a Stop per subscriber, then Accounting-Off",
        |r| {
            matches!(
                r.attrs.get("Acct-Status-Type"),
                Some("Stop" | "Accounting-Off")
            )
        },
    )?;
    let offs: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.attrs.get("Acct-Status-Type") == Some("Accounting-Off"))
        .map(|(i, _)| i)
        .collect();
    ensure!(
        offs == [N as usize],
        "one Accounting-Off, after all {N} Stops, expected; it is at {offs:?}{}",
        world.diag()
    );
    ensure!(
        records
            .iter()
            .filter(|r| r.attrs.get("Acct-Status-Type") == Some("Stop"))
            .all(|r| r.attrs.get("Acct-Terminate-Cause") == Some("NAS-Reboot")),
        "every Stop should say NAS-Reboot{}",
        world.diag()
    );
    Ok(())
}

/// `[lac] workers = 2` with the preferred LNS silent: the worker of the
/// first subscriber fails over and denylists it, and the other worker
/// adopts that denylisting, so later subscribers on either worker go
/// straight to the second LNS. One failover, one denylisting, and no new
/// SCCRQ towards the dead LNS.
#[test]
fn two_workers_share_a_denylisting() -> Result<()> {
    const N: u32 = 12;
    let mut spec = WorldSpec::new("wdeny")
        .lns(&[LNS_A, LNS_B])
        .user(
            UserEntry::new("wd-user")
                .password(PASSWORD)
                .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1)
                .l2tp_tunnel(2, &LNS_B.to_string(), TUNNEL_SECRET, 2),
        )
        .subscribers(N, "wd-user");
    spec.workers = 2;
    let world = World::start(spec)?;
    world.lns(LNS_A).set_mode(LnsMode::Silent);

    let first = world.bring_up(0)?;
    world.lns_session(LNS_B, &first)?;
    let sccrqs = world.lns(LNS_A).state().sccrqs;
    ensure!(
        sccrqs >= 1,
        "the first subscriber should try LNS A{}",
        world.diag()
    );
    for index in 1..N as usize {
        let up = world.bring_up(index)?;
        world.lns_session(LNS_B, &up)?;
    }
    let workers: BTreeSet<u64> = world
        .api_sessions()?
        .iter()
        .filter_map(|s| s["worker"].as_u64())
        .collect();
    ensure!(
        workers.len() == 2,
        "the {N} subscribers should be on both workers, they are on {workers:?}{}",
        world.diag()
    );
    ensure!(
        world.lns(LNS_A).state().sccrqs == sccrqs,
        "LNS A got more SCCRQs after it was denylisted ({sccrqs} → {}): a worker did not adopt the denylisting{}",
        world.lns(LNS_A).state().sccrqs,
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_selection_total",
        &[("outcome", "failover")],
        "1 (only the first subscriber)",
        |n| n == 1.0,
    )?;
    world.wait_metric(
        "tunnelnas_lac_denylist_total",
        &[("lns", &format!("{LNS_A}:1701"))],
        "1",
        |n| n == 1.0,
    )?;
    world.wait_metric("tunnelnas_lac_denylisted_endpoints", &[], "1", |n| n == 1.0)?;
    Ok(())
}

/// Issue 11: with the configuration a user runs (no timer shortened), a
/// silent preferred LNS costs 50 subscribers a few seconds, not their
/// session: `[lac] tunnel_setup_timeout` (5 s) moves every waiting call to
/// the second LNS long before the control channel's retransmissions
/// (31 s) would give up, and before a subscriber's patience runs out. The
/// subscribers retransmit their PAP request meanwhile (every 3 s, as
/// pppd does); each subscriber goes to RADIUS once.
#[test]
fn silent_preferred_lns_costs_fifty_subscribers_seconds_with_default_timers() -> Result<()> {
    const N: u32 = 50;
    let mut spec = WorldSpec::new("fodflt").lns(&[LNS_A, LNS_B]).user(
        UserEntry::new("fd-user")
            .password(PASSWORD)
            .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1)
            .l2tp_tunnel(2, &LNS_B.to_string(), TUNNEL_SECRET, 2),
    );
    for i in 0..N {
        spec = spec
            .subscriber(SubscriberSpec::new(i, "fd-user", PASSWORD).methods(&[AuthMethod::Pap]));
    }
    spec.default_timers = true;
    let world = World::start(spec)?;
    world.lns(LNS_A).set_mode(LnsMode::Silent);

    let started = Instant::now();
    world.subs.dial_all(Duration::from_millis(10))?;
    world
        .subs
        .wait_all_authenticated(Duration::from_secs(10), &|| world.diag())?;
    let took = started.elapsed();
    eprintln!("{N} subscribers up through the second LNS after {took:?}");
    ensure!(
        took < Duration::from_secs(10),
        "{N} subscribers took {took:?}{}",
        world.diag()
    );
    for index in 0..N as usize {
        let status = world.subs.status(index)?;
        world.lns_session(LNS_B, &status)?;
    }
    ensure!(
        world.lns(LNS_A).state().sccrqs >= 1,
        "the preferred LNS was never tried{}",
        world.diag()
    );
    world.wait_metric(
        "tunnelnas_lac_selection_total",
        &[("outcome", "failover")],
        &format!("{N}"),
        |n| n == f64::from(N),
    )?;
    world.wait_metric(
        "tunnelnas_lac_denylist_total",
        &[("lns", &format!("{LNS_A}:1701"))],
        "1 (one denylisting for the whole burst)",
        |n| n == 1.0,
    )?;
    world.wait_metric(
        "tunnelnas_radius_requests_total",
        &[("service", "auth"), ("kind", "first")],
        &format!("{N}: retransmitted PAP requests are absorbed"),
        |n| n == f64::from(N),
    )?;
    Ok(())
}

/// Issue 11: domain authorization, the wholesale arrangement, beside
/// per-user authorization in one box. FreeRADIUS knows the realm
/// `enterprise.example` (with the LAC's domain password) and the retail
/// user `bob@retail.example`, not alice. Alice's PAP request reaches the
/// LNS in the ICCN's proxy AVPs and in band; the LAC does not answer her,
/// the LNS does, and its Authenticate-Ack reaches her unchanged. Bob, whose
/// realm rule says `authorize = "user"`, is authenticated by RADIUS and
/// answered by the LAC as before.
#[test]
fn domain_authorization_lets_the_lns_authenticate_beside_per_user_authorization() -> Result<()> {
    let mut spec = WorldSpec::new("domain")
        .user(
            UserEntry::new("enterprise.example")
                .password("domain-pw")
                .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1),
        )
        .user(tunnelled_user("bob@retail.example", LNS_A))
        .subscriber(
            SubscriberSpec::new(0, "alice@enterprise.example", "alice-own-pw")
                .methods(&[AuthMethod::Pap]),
        )
        .subscriber(
            SubscriberSpec::new(1, "bob@retail.example", PASSWORD).methods(&[AuthMethod::Pap]),
        );
    spec.lac_extra = "authorize = \"domain\"\nauthorize_password = \"domain-pw\"\n\n\
                      [[lac.realm]]\ndomain = \"retail.example\"\nauthorize = \"user\"\n"
        .to_owned();
    let world = World::start(spec)?;

    // Bob: per-user authorization, answered by the LAC.
    let bob = world.bring_up(1)?;
    world.lns_session(LNS_A, &bob)?;

    // Alice: the LNS gets her credentials and answers her.
    world.subs.dial(0)?;
    let alice_mac = world.subs.status(0)?.mac_string();
    let session =
        world
            .lns(LNS_A)
            .wait_for(Duration::from_secs(15), &|| world.diag(), |state| {
                state
                    .session_by_calling_number(&alice_mac)
                    .filter(|s| s.frames.iter().any(|f| f.protocol == Protocol::Pap))
                    .cloned()
            })?;
    let call = session.call.clone().context("ICCN")?;
    ensure!(
        call.proxy.authen_name.as_deref() == Some(&b"alice@enterprise.example"[..])
            && call.proxy.authen_response.as_deref() == Some(&b"alice-own-pw"[..]),
        "the ICCN's proxy authentication is not alice's: {:?}{}",
        call.proxy,
        world.diag()
    );
    let request = session
        .frames
        .iter()
        .find(|f| f.protocol == Protocol::Pap)
        .map(|f| f.payload.clone())
        .context("PAP request")?;
    ensure!(
        request.first() == Some(&1) && request.windows(12).any(|w| w == b"alice-own-pw"),
        "the LNS did not get alice's PAP Authenticate-Request: {request:?}{}",
        world.diag()
    );
    ensure!(
        !world.subs.status(0)?.authenticated,
        "the LAC answered a domain-authorized subscriber itself{}",
        world.diag()
    );
    let message = b"welcome to enterprise.example";
    let mut ack = vec![2, request[1], 0, 0, message.len() as u8];
    ack.extend_from_slice(message);
    let len = ack.len() as u16;
    ack[2..4].copy_from_slice(&len.to_be_bytes());
    world
        .lns(LNS_A)
        .send_ppp(session.handle, Protocol::Pap, &ack)?;
    world
        .subs
        .wait_authenticated(0, Duration::from_secs(10), &|| world.diag())?;
    // Accounting names alice, not the domain.
    world.wait_records(1, "Start for alice", |r| {
        r.attrs.get("Acct-Status-Type") == Some("Start")
            && r.attrs.get("User-Name") == Some("alice@enterprise.example")
    })?;
    Ok(())
}

/// Dials every subscriber of `world`, waits until all are authenticated,
/// pings the LNS from each and checks every reply, the LAC's counters and
/// one Start per subscriber; returns how long the set-up took.
fn come_up_and_exchange_traffic(world: &World, n: u32) -> Result<Duration> {
    let started = Instant::now();
    world.subs.dial_all(Duration::from_millis(10))?;
    world
        .subs
        .wait_all_authenticated(Duration::from_secs(90), &|| world.diag())?;
    let setup = started.elapsed();
    let mut requests = Vec::new();
    for i in 0..n as usize {
        let request = icmp::echo_request(subscriber_addr(i as u32), LNS_PPP_ADDR, i as u16);
        world.subs.send_ppp(i, Protocol::Ipv4, &request)?;
        requests.push(request);
    }
    let replies: Vec<Vec<u8>> = requests
        .iter()
        .map(|request| {
            let mut reply = request.clone();
            icmp::answer_echo(&mut reply, LNS_PPP_ADDR);
            reply
        })
        .collect();
    let unanswered = || -> Vec<(usize, Vec<Vec<u8>>)> {
        world
            .subs
            .statuses()
            .iter()
            .zip(&replies)
            .enumerate()
            .filter(|(_, (s, reply))| !s.payloads(Protocol::Ipv4).contains(&reply.as_slice()))
            .map(|(i, (s, _))| {
                let got = s
                    .payloads(Protocol::Ipv4)
                    .iter()
                    .map(|p| p.to_vec())
                    .collect();
                (i, got)
            })
            .collect()
    };
    wait_until(
        Duration::from_secs(30),
        || Ok(unanswered().is_empty().then_some(())),
        || {
            let missing = unanswered();
            let first = missing.first().map(|(i, got)| {
                format!(
                    "subscriber {i} expected {}\n got {:?}",
                    hex(&replies[*i]),
                    got.iter().map(|p| hex(p)).collect::<Vec<_>>()
                )
            });
            // Where did each one get lost: upstream (the LNS never saw the
            // request) or downstream?
            let lns = world.lns(LNS_A).state();
            let api = world.api_sessions().unwrap_or_default();
            let mut detail = String::new();
            for (i, _) in missing.iter().take(10) {
                let mac = common::subscribers::subscriber_mac(*i as u32).to_string();
                let at_lns = lns
                    .session_by_calling_number(&mac)
                    .map(|s| (s.frames.len(), s.echo_replies));
                let counters = api
                    .iter()
                    .find(|s| s["mac"] == mac.as_str())
                    .map(|s| (s["packets_up"].clone(), s["packets_down"].clone()));
                let _ = writeln!(
                    detail,
                    "  {i} {mac}: at the LNS (frames, replies) {at_lns:?}; API (packets_up, packets_down) {counters:?}"
                );
            }
            let udp = world
                .lac_ns
                .exec(&["cat", "/proc/net/snmp"])
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let udp: Vec<&str> = udp.lines().filter(|l| l.starts_with("Udp:")).collect();
            let drops = metric_lines(&world.get("/metrics").unwrap_or_default(), "tunnelnas_")
                .lines()
                .filter(|l| l.contains("drop") || l.contains("forwarded"))
                .collect::<Vec<_>>()
                .join("\n");
            format!(
                "{} subscribers got no echo reply back: {:?}\n{first:?}\n{detail}UDP in the lac namespace:\n{}\nLAC drop counters:\n{drops}{}",
                missing.len(),
                missing.iter().map(|(i, _)| i).collect::<Vec<_>>(),
                udp.join("\n"),
                world.diag()
            )
        },
    )?;
    let lns = world.lns(LNS_A).state();
    // Contract: the subscriber hears its authentication succeed only once
    // the L2TP session is up, so no PPP frame may reach the LNS ahead of
    // the ICCN (an LNS is free to drop data for a call still connecting).
    ensure!(
        lns.data_before_iccn == 0,
        "{} data messages reached the LNS before their call's ICCN{}",
        lns.data_before_iccn,
        world.diag()
    );
    ensure!(
        lns.live_sessions().len() == n as usize,
        "{} live sessions at the LNS{}",
        lns.live_sessions().len(),
        world.diag()
    );
    for direction in ["upstream", "downstream"] {
        world.wait_metric(
            "tunnelnas_lac_forwarded_packets_total",
            &[("direction", direction)],
            &format!(">= {n}"),
            |count| count >= f64::from(n),
        )?;
    }
    world.wait_records(n as usize, "a Start per subscriber", |r| {
        r.attrs.get("Acct-Status-Type") == Some("Start")
    })?;
    Ok(setup)
}

// ---------------------------------------------------------------------------
// The harness itself, without the LAC: the subscriber emulator against our
// PPPoE + PPP server cores, the test LNS against our L2TP LAC endpoint core.
// When these pass and a LAC test fails, the LAC is the suspect.
// ---------------------------------------------------------------------------

/// A minimal BRAS in `ns` on `interface`: PPPoE discovery + PPP server
/// links offering `method`, accepting [`PASSWORD`], answering pings to
/// [`LNS_PPP_ADDR`]; terminates session `padt_for` (when some) with a PADT
/// once it has answered a ping on it. Returns (sessions, authenticated,
/// pings answered, PADTs received).
fn mini_bras(
    socket: &tunnelnas::dataplane::packet::PacketSocket,
    method: AuthMethod,
    stop: &std::sync::atomic::AtomicBool,
) -> (u32, u32, u32, u32) {
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;
    use tunnelnas::dataplane::packet::RecvBatch;
    use tunnelnas::ppp::auth::crypto::{verify_chap_md5, verify_mschapv2};
    use tunnelnas::ppp::auth::{AuthDecision, AuthRequest};
    use tunnelnas::ppp::link::{Link, LinkConfig, LinkEvent, Role};
    use tunnelnas::pppoe::{Discovery, DiscoveryConfig, Event as DiscoveryEvent};
    use tunnelnas::wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddress};
    use tunnelnas::wire::ppp::{Frame as PppFrame, FrameHeader};
    use tunnelnas::wire::pppoe::{SessionHeader, SessionPacket};

    const ROOM: usize = 64;
    let send =
        |buf: &mut [u8], dst: MacAddress, session_id: u16, protocol: Protocol, len: usize| {
            let ppp_start = FrameHeader::new(protocol)
                .emit_in_headroom(buf, ROOM)
                .unwrap();
            let ppp_len = ROOM + len - ppp_start;
            let pppoe_start = SessionHeader::new(session_id, ppp_len)
                .unwrap()
                .emit_in_headroom(buf, ppp_start)
                .unwrap();
            let start = EthernetRepr::new(dst, socket.mac(), EtherType::PppoeSession)
                .emit_in_headroom(buf, pppoe_start)
                .unwrap();
            let _ = socket.send(&buf[start..ROOM + len]);
        };
    let decide = |request: &AuthRequest| -> AuthDecision {
        let accept = |authenticator| AuthDecision::Accept {
            message: None,
            mschapv2_authenticator_response: authenticator,
        };
        let reject = AuthDecision::Reject { message: None };
        match request {
            AuthRequest::Pap { password, .. } if password.expose() == PASSWORD.as_bytes() => {
                accept(None)
            }
            AuthRequest::Chap {
                id,
                challenge,
                response,
                ..
            } if verify_chap_md5(*id, PASSWORD.as_bytes(), challenge, response) => accept(None),
            AuthRequest::MsChapV2 {
                user,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                ..
            } => match verify_mschapv2(
                user,
                PASSWORD.as_bytes(),
                authenticator_challenge,
                peer_challenge,
                nt_response,
            ) {
                Some(response) => accept(Some(response)),
                None => reject,
            },
            _ => reject,
        }
    };
    let mut discovery = Discovery::new(
        DiscoveryConfig {
            ac_name: b"mini-bras".to_vec(),
            ..DiscoveryConfig::default()
        },
        socket.mac(),
        [3; 32],
        Instant::now(),
    );
    let mut links: HashMap<u16, (MacAddress, Link)> = HashMap::new();
    let (mut sessions, mut authenticated, mut pings, mut padts) = (0, 0, 0, 0);
    let mut batch = RecvBatch::new(16);
    let mut buf = vec![0u8; 4096];
    let mut frame_buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if socket.recv_batch(&mut batch).is_ok() {
            for received in batch.iter() {
                let Ok(frame) = Frame::new_checked(received.data) else {
                    continue;
                };
                match frame.ethertype() {
                    EtherType::PppoeDiscovery => discovery.handle_frame(now, received.data),
                    EtherType::PppoeSession => {
                        let Ok(session) = SessionPacket::new_checked(frame.payload()) else {
                            continue;
                        };
                        let session_id = session.session_id();
                        let Some((mac, link)) = links.get_mut(&session_id) else {
                            continue;
                        };
                        let Ok(ppp) = PppFrame::new_checked(session.payload()) else {
                            continue;
                        };
                        if ppp.protocol() == Protocol::Ipv4 {
                            let data = ppp.payload();
                            buf[ROOM..ROOM + data.len()].copy_from_slice(data);
                            if icmp::answer_echo(&mut buf[ROOM..ROOM + data.len()], LNS_PPP_ADDR) {
                                pings += 1;
                                let (dst, len) = (*mac, data.len());
                                send(&mut buf, dst, session_id, Protocol::Ipv4, len);
                            }
                        } else {
                            link.handle_frame(now, ppp.protocol(), ppp.payload());
                        }
                    }
                    _ => {}
                }
            }
        }
        if discovery.poll_timeout().is_some_and(|t| t <= now) {
            discovery.handle_timeout(now);
        }
        while let Some(event) = discovery.poll_event() {
            match event {
                DiscoveryEvent::SessionEstablished {
                    session_id, mac, ..
                } => {
                    sessions += 1;
                    let config = LinkConfig {
                        role: Role::Server,
                        auth_methods: vec![method],
                        echo_interval: None,
                        ipv4: false,
                        ipv6: false,
                        ..LinkConfig::default()
                    };
                    let mut link = Link::new(config, [session_id as u8; 32]);
                    link.open(now);
                    links.insert(session_id, (mac, link));
                }
                DiscoveryEvent::SessionTerminated { by_peer: true, .. } => padts += 1,
                _ => {}
            }
        }
        while let Some(tx) = discovery.poll_transmit(&mut frame_buf) {
            let _ = socket.send(&frame_buf[..tx.len]);
        }
        for (&session_id, (mac, link)) in &mut links {
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                match event {
                    LinkEvent::AuthRequested(request) => link.auth_complete(now, decide(&request)),
                    LinkEvent::Authenticated => authenticated += 1,
                    _ => {}
                }
            }
            let dst = *mac;
            while let Some((protocol, len)) = link.poll_transmit(&mut buf[ROOM..]) {
                send(&mut buf, dst, session_id, protocol, len);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (sessions, authenticated, pings, padts)
}

#[test]
fn harness_subscriber_emulator_against_our_pppoe_and_ppp_server_cores() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    common::require_root()?;
    for method in [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let subs_ns = Netns::new("hsubs")?;
        let bras_ns = Netns::new("hbras")?;
        let access = VethPair::builder(&subs_ns, &bras_ns).create()?;
        let name = access.b().to_owned();
        let socket = Arc::new(
            bras_ns.run(move || tunnelnas::dataplane::packet::PacketSocket::open(&name))??,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let bras = {
            let (socket, stop) = (Arc::clone(&socket), Arc::clone(&stop));
            std::thread::spawn(move || mini_bras(&socket, method, &stop))
        };
        let subs = Subscribers::start(
            &subs_ns,
            access.a(),
            vec![
                SubscriberSpec::new(0, "h-user-0", PASSWORD),
                SubscriberSpec::new(1, "h-user-1", PASSWORD),
            ],
        )?;
        subs.dial_all(Duration::from_millis(10))?;
        let outcome = subs.wait_all_authenticated(Duration::from_secs(15), &String::new);
        let mut pinged = Ok(());
        if outcome.is_ok() {
            for index in 0..2 {
                let request = icmp::echo_request(subscriber_addr(index), LNS_PPP_ADDR, 7);
                let mut reply = request.clone();
                icmp::answer_echo(&mut reply, LNS_PPP_ADDR);
                subs.send_ppp(index as usize, Protocol::Ipv4, &request)?;
                pinged = pinged.and(subs.wait_for(
                    index as usize,
                    Duration::from_secs(5),
                    &String::new,
                    |s| {
                        s.payloads(Protocol::Ipv4)
                            .contains(&reply.as_slice())
                            .then_some(())
                    },
                ));
            }
            subs.send_padt(0)?;
            std::thread::sleep(Duration::from_millis(300));
        }
        stop.store(true, Ordering::Relaxed);
        let (sessions, authenticated, pings, padts) = bras.join().expect("mini BRAS");
        outcome?;
        pinged?;
        let statuses = subs.statuses();
        ensure!(
            statuses
                .iter()
                .all(|s| s.auth_method == Some(method) && s.session_id.is_some()),
            "{method:?}: {}",
            subs.summary()
        );
        ensure!(
            (sessions, authenticated, pings, padts) == (2, 2, 2, 1),
            "{method:?}: BRAS saw sessions {sessions}, authenticated {authenticated}, pings {pings}, PADTs {padts}"
        );
    }
    Ok(())
}

#[test]
fn harness_test_lns_against_our_l2tp_lac_endpoint_core() -> Result<()> {
    use std::net::UdpSocket;
    use tunnelnas::l2tp::{CallInfo, Endpoint, EndpointConfig, Event, OpenSession, ProxyInfo};
    use tunnelnas::wire::l2tp::{Bearer, Framing, HeaderRepr, Packet};
    use tunnelnas::wire::ppp::{Frame as PppFrame, FrameHeader};

    common::require_root()?;
    let lac_ns = Netns::new("hlac")?;
    let lns_ns = Netns::new("hlns")?;
    let _core = VethPair::builder(&lac_ns, &lns_ns)
        .addr_a(&format!("{LAC_CORE}/24"))
        .addr_b(&format!("{LNS_A}/24"))
        .addr_b(&format!("{LNS_B}/24"))
        .create()?;
    let config = LnsConfig::new(SocketAddr::from((LNS_A, 1701)), TUNNEL_SECRET.as_bytes())
        .answer_echo(LNS_PPP_ADDR);
    let lns = lns_ns.run(move || LnsPeer::start(config))??;
    let config = LnsConfig::new(SocketAddr::from((LNS_B, 1701)), TUNNEL_SECRET.as_bytes());
    let dead = lns_ns.run(move || LnsPeer::start(config))??;
    dead.set_mode(LnsMode::Silent);
    let socket = lac_ns.run(|| UdpSocket::bind(SocketAddr::from((LAC_CORE, 1701))))??;
    socket.set_read_timeout(Some(Duration::from_millis(2)))?;

    let mut lac = Endpoint::new(
        EndpointConfig {
            accept_calls: false,
            hide_avps: true,
            ..EndpointConfig::default()
        },
        [11; 32],
    );
    let proxy = ProxyInfo {
        initial_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4]),
        last_sent_lcp_confreq: Some(vec![3, 4, 0xc0, 0x23]),
        last_received_lcp_confreq: Some(vec![1, 4, 5, 0xd4]),
        authen_type: Some(ProxyAuthenType::Pap),
        authen_name: Some(b"h-user".to_vec()),
        authen_response: Some(PASSWORD.as_bytes().to_vec()),
        authen_id: Some(1),
        ..ProxyInfo::default()
    };
    let call = CallInfo {
        call_serial_number: 1,
        bearer_type: Some(Bearer::DIGITAL),
        calling_number: Some(b"02:5e:10:00:00:09".to_vec()),
        tx_connect_speed: 1_000_000_000,
        framing_type: Framing::SYNC,
        proxy: proxy.clone(),
        ..CallInfo::default()
    };
    let now = Instant::now();
    for (peer, request_id) in [(LNS_A, 1), (LNS_B, 2)] {
        lac.open_session(
            now,
            OpenSession {
                peer: SocketAddr::from((peer, 1701)),
                secret: TUNNEL_SECRET.as_bytes().to_vec(),
                assignment_id: None,
                client_auth_id: None,
                call: call.clone(),
                request_id,
            },
        )
        .map_err(|e| common::anyhow!("open_session: {e:?}"))?;
    }
    let request = icmp::echo_request(subscriber_addr(9), LNS_PPP_ADDR, 3);
    let mut reply = request.clone();
    icmp::answer_echo(&mut reply, LNS_PPP_ADDR);
    let mut up: Option<(SocketAddr, u16, u16, u16)> = None;
    let (mut got_reply, mut got_down, mut sent, mut closed) = (false, None, false, false);
    let mut recv = vec![0u8; 4096];
    let mut control = vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && got_down.is_none() {
        let now = Instant::now();
        if let Ok((len, from)) = socket.recv_from(&mut recv) {
            let datagram = &recv[..len];
            if tunnelnas::l2tp::is_control(datagram) {
                lac.handle_datagram(now, from, datagram);
            } else if let Ok(packet) = Packet::new_checked(datagram)
                && let Ok(ppp) = PppFrame::new_checked(packet.payload())
            {
                got_reply |= ppp.has_address_control()
                    && ppp.protocol() == Protocol::Ipv4
                    && ppp.payload() == reply.as_slice();
            }
        }
        if lac.poll_timeout().is_some_and(|t| t <= now) {
            lac.handle_timeout(now);
        }
        while let Some(event) = lac.poll_event() {
            match event {
                Event::SessionUp {
                    handle,
                    peer,
                    peer_tunnel_id,
                    peer_session_id,
                    request_id: 1,
                    ..
                } => up = Some((peer, peer_tunnel_id, peer_session_id, handle.session_id)),
                Event::SessionDown {
                    cause,
                    request_id: 1,
                    ..
                } => got_down = Some(cause),
                _ => {}
            }
        }
        while let Some((to, len)) = lac.poll_transmit(now, &mut control) {
            socket.send_to(&control[..len], to)?;
        }
        if let (Some((peer, tunnel, session, _)), false) = (up, sent) {
            let mut buf = vec![0u8; 2048];
            buf[64..64 + request.len()].copy_from_slice(&request);
            let header = FrameHeader {
                address_control: true,
                protocol: Protocol::Ipv4,
            };
            let ppp_start = header.emit_in_headroom(&mut buf, 64)?;
            let end = 64 + request.len();
            let start = HeaderRepr::data(tunnel, session).emit_before(
                &mut buf,
                ppp_start,
                end - ppp_start,
            )?;
            socket.send_to(&buf[start..end], peer)?;
            sent = true;
        }
        if got_reply && !closed {
            // Downstream checked: now let the LNS clear the call.
            if let Some(s) = lns.state().live_sessions().first() {
                lns.close_session(s.handle, ResultCode::cdn(CdnResult::Administrative))?;
                closed = true;
            }
        }
    }
    let state = lns.state();
    let session = state
        .session_by_calling_number("02:5e:10:00:00:09")
        .with_context(|| format!("the test LNS saw no call: {}", state.summary()))?;
    ensure!(
        session.up,
        "call not up at the test LNS: {}",
        state.summary()
    );
    ensure!(
        session.call.as_ref().is_some_and(|c| c.proxy == proxy),
        "proxy AVPs (hidden) arrive intact: {:?}",
        session.call
    );
    ensure!(
        session
            .frames
            .iter()
            .any(|f| f.address_control && f.protocol == Protocol::Ipv4 && f.payload == request),
        "the echo request arrives byte-exact with FF 03: {:?}",
        session.frames
    );
    ensure!(
        session.echo_replies == 1,
        "one echo answered: {}",
        state.summary()
    );
    ensure!(
        got_down == Some(SessionDownCause::PeerCdn),
        "the LAC endpoint saw the LNS's CDN: {got_down:?}"
    );
    let silent = dead.state();
    ensure!(
        silent.sccrqs >= 1 && silent.tunnels.is_empty() && silent.ignored_while_silent >= 1,
        "a silent LNS ignores (and counts) the SCCRQ: {}",
        silent.summary()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// More of the contract: CDN "try another", interim accounting, carrier loss
// ---------------------------------------------------------------------------

#[test]
fn cdn_try_another_moves_the_call_to_the_next_preference() -> Result<()> {
    let spec = WorldSpec::new("tryanother")
        .lns(&[LNS_A, LNS_B])
        .user(
            UserEntry::new("ta-user")
                .password(PASSWORD)
                .l2tp_tunnel(1, &LNS_A.to_string(), TUNNEL_SECRET, 1)
                .l2tp_tunnel(2, &LNS_B.to_string(), TUNNEL_SECRET, 2),
        )
        .subscriber(SubscriberSpec::new(0, "ta-user", PASSWORD));
    let world = World::start(spec)?;
    world.lns(LNS_A).set_mode(LnsMode::RefuseCalls);
    let status = world.bring_up(0)?;
    world.lns_session(LNS_B, &status)?;
    let refused = world.lns(LNS_A).state();
    ensure!(
        refused.refused_calls >= 1,
        "the preferred LNS should have been asked first (and refused with CDN 2/7){}",
        world.diag()
    );
    ping_through(&world, 0, LNS_B, 1)?;
    world.wait_metric(
        "tunnelnas_lac_selection_total",
        &[("outcome", "failover")],
        ">= 1",
        |n| n >= 1.0,
    )?;
    Ok(())
}

/// RFC 2869 §5.16: Acct-Interim-Interval "MUST NOT be smaller than 60"
/// — the LAC raises a smaller RADIUS value to 60 s, so the short interval
/// here comes from the configuration (used when RADIUS sends none).
#[test]
fn interim_updates_follow_the_configured_interval() -> Result<()> {
    let mut spec = WorldSpec::new("interim")
        .user(tunnelled_user("int-user", LNS_A))
        .subscriber(SubscriberSpec::new(0, "int-user", PASSWORD));
    spec.interim_interval = "2s";
    let world = World::start(spec)?;
    let status = world.bring_up(0)?;
    world.lns_session(LNS_A, &status)?;
    ping_through(&world, 0, LNS_A, 1)?;
    let interims = world.wait_records(2, "two Interim-Updates (interim_interval 2s)", |r| {
        r.attrs.get("Acct-Status-Type") == Some("Interim-Update")
            && r.attrs.get("User-Name") == Some("int-user")
    })?;
    // The counters include the ping (one packet each way at least).
    let last = interims.last().context("an interim")?;
    let packets = |name: &str| {
        last.attrs
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    ensure!(
        packets("Acct-Input-Packets") >= 1 && packets("Acct-Output-Packets") >= 1,
        "interim counters: {:?}{}",
        last.attrs,
        world.diag()
    );
    Ok(())
}

#[test]
fn access_interface_down_clears_the_call_with_lost_carrier() -> Result<()> {
    let world = teardown_world("carrier", &["lc-user"], &[])?;
    let status = world.bring_up(0)?;
    world.lns_session(LNS_A, &status)?;
    world
        .lac_ns
        .ip(["link", "set", "dev", world._access.b(), "down"])?;
    let session = world.wait_lns_session_down(LNS_A, &status.mac_string())?;
    ensure!(
        matches!(session.down, Some((SessionDownCause::PeerCdn, _))),
        "the LNS should get a CDN, got {:?}{}",
        session.down,
        world.diag()
    );
    world.expect_stop("lc-user", "Lost-Carrier")?;
    Ok(())
}

/// Contract: the subscriber hears "authenticated" only after the ICCN, so
/// its first frame can never reach the LNS ahead of the ICCN. An LNS that
/// advertises a Receive Window of 1 makes the LAC queue its ICRQs and
/// ICCNs; each subscriber pings the moment it is authenticated.
#[test]
fn no_frame_overtakes_the_iccn_when_the_control_window_is_full() -> Result<()> {
    const N: u32 = 8;
    let mut spec = WorldSpec::new("window").user(tunnelled_user("win-user", LNS_A));
    spec.lns_receive_window = 1;
    spec = spec.subscribers(N, "win-user");
    let world = World::start(spec)?;
    world.subs.dial_all(Duration::from_millis(5))?;
    let mut pinged = vec![false; N as usize];
    wait_until(
        Duration::from_secs(40),
        || {
            for (i, status) in world.subs.statuses().iter().enumerate() {
                if status.authenticated && !pinged[i] {
                    let request = icmp::echo_request(subscriber_addr(i as u32), LNS_PPP_ADDR, 1);
                    world.subs.send_ppp(i, Protocol::Ipv4, &request)?;
                    pinged[i] = true;
                }
            }
            Ok(pinged.iter().all(|p| *p).then_some(()))
        },
        || format!("not every subscriber authenticated{}", world.diag()),
    )?;
    // Every ping answered (a tolerant LNS answers even early data) …
    world
        .lns(LNS_A)
        .wait_for(Duration::from_secs(20), &|| world.diag(), |state| {
            (state.sessions.iter().filter(|s| s.echo_replies > 0).count() == N as usize)
                .then_some(())
        })?;
    // … but none arrived before its call was connected.
    let state = world.lns(LNS_A).state();
    ensure!(
        state.data_before_iccn == 0,
        "{} of {N} first frames reached the LNS before their call's ICCN: the LAC told \
         the subscriber it was authenticated while the ICCN still waited in its control \
         channel's send queue (LNS Receive Window 1){}",
        state.data_before_iccn,
        world.diag()
    );
    Ok(())
}
