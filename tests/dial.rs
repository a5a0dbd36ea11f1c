//! `tunnelnas dial` (the L2TP LAC client, RFC 2661 client-initiated mode)
//! against the real Linux LNS: xl2tpd with kernel L2TP and pppd in the
//! linux-peer guest (`tn.mode=l2tp-lns`, tunnel secret, CHAP required).
//! One guest boot serves several dials in sequence, each the built binary
//! in the test's namespace:
//!
//! 1. the right credentials: the tunnel authenticates both ways, the call
//!    gets an address from the guest's pool, and `ping -I <tun>` reaches
//!    the guest's PPP address through our TUN device; SIGINT hangs up
//!    (LCP Terminate, CDN, StopCCN) and the process exits 0;
//! 2. a wrong password: a non-zero exit saying the authentication failed;
//! 3. `--count 3`: three calls on one tunnel, three addresses;
//! 4. a wrong tunnel secret: a non-zero exit naming the StopCCN;
//!
//! and the capture of all of it dissects cleanly in tshark, with SCCRQ,
//! ICRQ, ICCN and CHAP Success inside the tunnel.

mod common;

use std::net::Ipv4Addr;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::linux_peer::{LinuxPeer, TnLine};
use common::netns::Netns;
use common::process::Process;
use common::tshark::{LiveCapture, Tshark};
use common::{Result, TempDir, bail};

const USER: &str = "carol@client.example";
const PASSWORD: &str = "Dial-Pass-7";
const SECRET: &str = "dial-tunnel-s3cret";
const OUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 1);
const GUEST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);
/// The guest's pppd serves this address (`tn.local` default).
const GUEST_PPP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);

/// One `tunnelnas dial` run in the namespace, its output in a log.
struct Dial {
    process: Process,
    started: Instant,
}

impl Dial {
    fn spawn(ns: &Netns, dir: &TempDir, tag: &str, args: &[&str]) -> Result<Self> {
        let mut command = ns.command(env!("CARGO_BIN_EXE_tunnelnas"));
        command
            .args(["--log-level", "info,tunnelnas::dial=debug", "dial"])
            .args(["--lns", &GUEST_ADDRESS.to_string(), "--user", USER])
            .args(args);
        let log = dir.path().join(format!("dial-{tag}.log"));
        let process = ns.spawn(&format!("tunnelnas dial ({tag})"), command, &log)?;
        Ok(Self {
            process,
            started: Instant::now(),
        })
    }

    /// Waits for `needle` in the output; returns how long it took since
    /// the start.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<Duration> {
        self.process.wait_for_log(needle, timeout)?;
        Ok(self.started.elapsed())
    }

    /// The `dial: up …` lines: (local, peer, tun) of each.
    fn ups(&self) -> Vec<(Ipv4Addr, Ipv4Addr, Option<String>)> {
        self.process
            .log()
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("dial: up ")?;
                let field = |key: &str| {
                    rest.split_whitespace()
                        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                };
                Some((
                    field("local")?.parse().ok()?,
                    field("peer")?.parse().ok()?,
                    field("tun").map(str::to_owned),
                ))
            })
            .collect()
    }

    /// SIGINT, then the exit status.
    fn interrupt(&mut self) -> Result<ExitStatus> {
        self.process.signal(libc::SIGINT);
        self.exit(Duration::from_secs(15))
    }

    fn exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        match self.process.wait_timeout(timeout)? {
            Some(status) => Ok(status),
            None => bail!(
                "{} still runs after {timeout:?}:\n{}",
                self.process.name(),
                self.process.log_tail(40)
            ),
        }
    }

    fn log(&self) -> String {
        self.process.log_tail(60)
    }
}

/// The guests of this file boot one at a time (each costs about a core).
static ONE_GUEST: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A namespace with a tap, a capture on it, and an `l2tp-lns` guest.
struct Lab {
    ns: Netns,
    dir: TempDir,
    capture: Option<LiveCapture>,
    guest: Option<LinuxPeer>,
}

impl Lab {
    /// Boots the guest LNS requiring `auth` (`chap`, `mschapv2`, or `any`
    /// for PAP), with tunnel `secret` when given, and waits for xl2tpd.
    fn boot(tag: &str, auth: &str, secret: Option<&str>, runfor: u32) -> Result<Self> {
        common::require_root()?;
        common::require_tool("ping", "iputils-ping")?;
        LinuxPeer::image()?;
        let ns = Netns::new(tag)?;
        let tap = common::unique_ifname("tnd")?;
        ns.add_tap(&tap)?;
        ns.add_addr(&tap, &format!("{OUR_ADDRESS}/24"))?;
        let dir = common::tempdir(tag)?;
        let capture = LiveCapture::start(&ns, &tap, &dir.path().join("l2tp.pcap"))?;
        let ip = format!("{GUEST_ADDRESS}/24");
        let runfor = runfor.to_string();
        let mut params = vec![
            ("tn.mode", "l2tp-lns"),
            ("tn.ip", ip.as_str()),
            ("tn.user", USER),
            ("tn.pass", PASSWORD),
            ("tn.auth", auth),
            ("tn.runfor", runfor.as_str()),
        ];
        if let Some(secret) = secret {
            params.push(("tn.secret", secret));
        }
        let mut guest = LinuxPeer::boot(&ns, &tap, 240, &params)?;
        // xl2tpd starts right after TN-START; give it a moment to bind.
        guest.wait_for_line(Duration::from_secs(120), |l| matches!(l, TnLine::Start(_)))?;
        std::thread::sleep(Duration::from_secs(2));
        Ok(Self {
            ns,
            dir,
            capture: Some(capture),
            guest: Some(guest),
        })
    }

    /// One dial with the right password and `args`: up with a pool address
    /// on a point-to-point TUN device, 5 of 5 pings to the guest's PPP
    /// address through it, SIGINT exits 0 and the device goes away.
    /// Returns the time to up and the address.
    fn dial_and_ping(&mut self, tag: &str, args: &[&str]) -> Result<(Duration, Ipv4Addr)> {
        let tun = common::unique_ifname("tndial")?;
        let mut all = vec!["--password", PASSWORD, "--tun", tun.as_str()];
        all.extend_from_slice(args);
        let mut dial = Dial::spawn(&self.ns, &self.dir, tag, &all)?;
        let took = dial.wait_for("dial: up ", Duration::from_secs(60))?;
        let ups = dial.ups();
        let [(local, peer, Some(up_tun))] = ups.as_slice() else {
            bail!("one up line naming the TUN device:\n{}", dial.log());
        };
        let local = *local;
        eprintln!(
            "dial ({tag}): up in {took:?} (process start to IPCP Opened): local={local} peer={peer}"
        );
        assert_eq!(*peer, GUEST_PPP, "{}", dial.log());
        assert_eq!(up_tun, &tun);
        let pool =
            u32::from(Ipv4Addr::new(10, 200, 0, 2))..=u32::from(Ipv4Addr::new(10, 200, 0, 200));
        assert!(
            pool.contains(&u32::from(local)),
            "{local} from the guest's pool"
        );
        let addresses = self
            .ns
            .exec(&["ip", "-4", "addr", "show", "dev", tun.as_str()])?;
        let addresses = String::from_utf8_lossy(&addresses.stdout);
        assert!(
            addresses.contains(&format!("inet {local} peer {GUEST_PPP}/32")),
            "the TUN device is point-to-point:\n{addresses}"
        );
        // The guest's pppd configures its ppp interface a moment after
        // IPCP is Opened (under software emulation, slowly): wait until it
        // reports our address, so the first ping does not race it.
        if let Some(guest) = self.guest.as_mut() {
            guest.wait_for_line(
                Duration::from_secs(20),
                |l| matches!(l, TnLine::Up { peer, .. } if *peer == local),
            )?;
        }
        // Even then the guest has dropped the very first packet now and
        // again (our core counted it sent, nothing came back, no drop on
        // our side): one answered warm-up ping first, then five that must
        // all be answered.
        let target = GUEST_PPP.to_string();
        let warm = (0..5).any(|_| {
            self.ns
                .exec_unchecked(&["ping", "-c", "1", "-W", "2", "-I", tun.as_str(), &target])
                .is_ok_and(|out| out.status.success())
        });
        if !warm {
            let _ = dial.interrupt();
            bail!("no ping through {tun} answered in 5 tries:\n{}", dial.log());
        }
        let ping = self.ns.exec_unchecked(&[
            "ping",
            "-c",
            "5",
            "-i",
            "0.2",
            "-W",
            "2",
            "-I",
            tun.as_str(),
            &GUEST_PPP.to_string(),
        ])?;
        let ping_out = String::from_utf8_lossy(&ping.stdout).into_owned();
        eprintln!("{}", ping_out.trim_end());
        if !(ping.status.success() && ping_out.contains(" 0% packet loss")) {
            // Hang up first: the log then ends with the core's counters.
            let _ = dial.interrupt();
            bail!(
                "pings through {tun} to the guest's PPP address:\n{ping_out}{}\n{}",
                String::from_utf8_lossy(&ping.stderr),
                dial.log()
            );
        }
        let status = dial.interrupt()?;
        assert!(
            status.success(),
            "SIGINT: a clean exit 0 ({status}):\n{}",
            dial.log()
        );
        assert!(
            dial.process.log().contains("call hung up"),
            "{}",
            dial.log()
        );
        let link_gone = !self
            .ns
            .exec_unchecked(&["ip", "link", "show", tun.as_str()])?
            .status
            .success();
        assert!(link_gone, "the TUN device goes with the process");
        Ok((took, local))
    }

    /// A dial with `args` that must fail: its exit status and the error it
    /// printed (the last line).
    fn dial_fails(&self, tag: &str, args: &[&str]) -> Result<String> {
        let mut dial = Dial::spawn(&self.ns, &self.dir, tag, args)?;
        let status = dial.exit(Duration::from_secs(60))?;
        assert!(!status.success(), "{tag}: a non-zero exit\n{}", dial.log());
        assert!(dial.ups().is_empty(), "{}", dial.log());
        let log = dial.process.log();
        let error = log
            .lines()
            .rev()
            .find(|l| l.starts_with("tunnelnas: "))
            .unwrap_or_default()
            .to_owned();
        eprintln!("dial ({tag}): {status}: {error}");
        Ok(error)
    }

    /// Powers the guest off, stops the capture and checks it: clean in
    /// tshark, and each `(what, filter)` present.
    fn check_capture(&mut self, expected: &[(&str, &str)]) -> Result<()> {
        drop(self.guest.take());
        let Some(capture) = self.capture.take() else {
            bail!("the capture was checked already");
        };
        let pcap = capture.stop()?;
        let tshark = Tshark::new();
        tshark.assert_clean(&pcap)?;
        for (what, filter) in expected {
            let count = tshark.count(&pcap, Some(filter))?;
            eprintln!("capture: {count} × {what}");
            assert!(count > 0, "the capture holds {what} ({filter})");
        }
        Ok(())
    }
}

#[test]
fn dial_against_linux_xl2tpd_lns() -> Result<()> {
    let _one = ONE_GUEST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut lab = Lab::boot("dial", "chap", Some(SECRET), 120)?;

    // 1. The right credentials: up, pings through the TUN device, SIGINT.
    lab.dial_and_ping("chap", &["--secret", SECRET, "--auth", "chap"])?;

    // 2. A wrong password: a clear authentication failure, non-zero.
    let error = lab.dial_fails(
        "wrong-password",
        &["--password", "not-the-password", "--secret", SECRET],
    )?;
    assert!(error.contains("authentication failed"), "{error}");

    // 3. Three calls on one tunnel (the load-generator path, no TUN).
    let mut three = Dial::spawn(
        &lab.ns,
        &lab.dir,
        "count",
        &["--password", PASSWORD, "--secret", SECRET, "--count", "3"],
    )?;
    let took = three.wait_for("dial: 3 of 3 sessions up", Duration::from_secs(60))?;
    let ups = three.ups();
    eprintln!("dial --count 3: all up in {took:?}: {ups:?}");
    let mut locals: Vec<Ipv4Addr> = ups.iter().map(|u| u.0).collect();
    locals.sort_unstable();
    locals.dedup();
    assert_eq!(locals.len(), 3, "three addresses: {}", three.log());
    assert!(ups.iter().all(|u| u.1 == GUEST_PPP && u.2.is_none()));
    let status = three.interrupt()?;
    assert!(status.success(), "{status}:\n{}", three.log());

    // 4. A wrong tunnel secret: the tunnel is refused, non-zero.
    let error = lab.dial_fails(
        "wrong-secret",
        &["--password", PASSWORD, "--secret", "not-the-secret"],
    )?;
    assert!(error.contains("StopCCN result"), "{error}");

    lab.check_capture(&[
        ("SCCRQ", "l2tp.avp.message_type == 1"),
        ("ICRQ", "l2tp.avp.message_type == 10"),
        ("ICCN", "l2tp.avp.message_type == 12"),
        ("CDN", "l2tp.avp.message_type == 14"),
        ("StopCCN", "l2tp.avp.message_type == 4"),
        ("CHAP Success", "l2tp && chap.code == 3"),
        ("CHAP Failure", "l2tp && chap.code == 4"),
        ("LCP Terminate-Request", "l2tp && lcp && ppp.code == 5"),
        ("ICMP echo reply", "l2tp && icmp.type == 0"),
    ])
}

/// MS-CHAPv2, then PAP, each on its own guest boot (pppd requires one
/// method per boot), without a tunnel secret (no Challenge AVP either way).
#[test]
fn dial_mschapv2_and_pap_without_tunnel_secret() -> Result<()> {
    let _one = ONE_GUEST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (guest_auth, our_auth, success) in [
        ("mschapv2", "mschapv2", "l2tp && chap.code == 3"),
        ("any", "pap", "l2tp && pap.code == 2"),
    ] {
        let mut lab = Lab::boot(&format!("dial-{our_auth}"), guest_auth, None, 60)?;
        lab.dial_and_ping(our_auth, &["--auth", our_auth])?;
        lab.check_capture(&[
            ("SCCRQ", "l2tp.avp.message_type == 1"),
            ("ICCN", "l2tp.avp.message_type == 12"),
            (
                "no Challenge AVP",
                "l2tp.avp.message_type == 1 && !(l2tp.avp.type == 11)",
            ),
            ("authentication success", success),
            ("ICMP echo reply", "l2tp && icmp.type == 0"),
        ])?;
    }
    Ok(())
}
