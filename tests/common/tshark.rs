//! tshark 4.0 (Debian `tshark`): dissect pcaps and capture live traffic.
//!
//! ```ignore
//! let tshark = Tshark::new().decode_as_udp(1702, "l2tp");
//! assert_eq!(tshark.malformed(&pcap)?, 0);
//! assert!(tshark.expert_errors(&pcap)?.is_empty());
//! let types = tshark.fields(&pcap, Some("l2tp"), &["l2tp.avp.message_type"])?;
//! ```
//!
//! What tshark does and does not flag (INTEROP-NOTES): `_ws.malformed` and
//! expert errors catch bad PPPoE tags, zero-length LCP options, L2TP AVPs
//! shorter than 6 bytes, RADIUS attribute and header overruns — but not a
//! PPPoE session header whose length exceeds the payload: check that in the
//! test itself. Non-standard ports need [`Tshark::decode_as_udp`]; bad RADIUS
//! response authenticators show up with [`Tshark::radius_secret`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::netns::Netns;
use super::process::{Process, run_checked};
use super::{Context, Result, bail, check_ifname, ensure, require_tool, tail};

/// How long a live capture may take to start.
const CAPTURE_START_TIMEOUT: Duration = Duration::from_secs(15);

/// What tshark 4.0 logs once dumpcap really captures.
const CAPTURE_STARTED: &str = "Capture started.";

/// How long frames may sit in the kernel's capture ring before dumpcap
/// sees them: dumpcap opens the device with a 250 ms read timeout, the
/// TPACKET_V3 block is handed over when it expires, and frames still in an
/// open block when dumpcap stops are lost (measured: frames younger than
/// 200–250 ms at SIGINT went missing). Three times that, to be sure.
pub const CAPTURE_DRAIN: Duration = Duration::from_millis(750);

/// Options for reading pcaps with tshark (decode-as rules, preferences).
#[derive(Debug, Clone, Default)]
pub struct Tshark {
    options: Vec<String>,
}

impl Tshark {
    /// tshark with default dissection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dissect UDP port `port` as `protocol` (`-d udp.port==N,l2tp`,
    /// `radius`, …).
    pub fn decode_as_udp(mut self, port: u16, protocol: &str) -> Self {
        self.options.push("-d".to_owned());
        self.options.push(format!("udp.port=={port},{protocol}"));
        self
    }

    /// Sets a preference (`-o key:value`).
    pub fn pref(mut self, key: &str, value: &str) -> Self {
        self.options.push("-o".to_owned());
        self.options.push(format!("{key}:{value}"));
        self
    }

    /// RADIUS shared secret, with response-authenticator validation on
    /// (bad ones become expert errors).
    pub fn radius_secret(self, secret: &str) -> Self {
        self.pref("radius.shared_secret", secret)
            .pref("radius.validate_authenticator", "TRUE")
    }

    /// Runs tshark on `pcap` with these options and `args`; returns stdout.
    pub fn run(&self, pcap: &Path, args: &[&str]) -> Result<String> {
        require_tool("tshark", "tshark")?;
        ensure!(pcap.is_file(), "no capture file {}", pcap.display());
        let mut command = Command::new("tshark");
        command
            .arg("-n")
            .arg("-r")
            .arg(pcap)
            .args(&self.options)
            .args(args);
        let output = run_checked(command)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Number of frames matching display filter `filter` (all frames when
    /// `None`).
    pub fn count(&self, pcap: &Path, filter: Option<&str>) -> Result<usize> {
        let mut args = vec!["-T", "fields", "-e", "frame.number"];
        if let Some(filter) = filter {
            args.extend(["-Y", filter]);
        }
        Ok(self
            .run(pcap, &args)?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .count())
    }

    /// Number of frames tshark marks malformed (`-Y _ws.malformed`).
    pub fn malformed(&self, pcap: &Path) -> Result<usize> {
        self.count(pcap, Some("_ws.malformed"))
    }

    /// Expert-info entries of severity error (`-q -z expert,error`), one
    /// per line as tshark prints them: `count  group  protocol  summary`.
    pub fn expert_errors(&self, pcap: &Path) -> Result<Vec<String>> {
        let out = self.run(pcap, &["-q", "-z", "expert,error"])?;
        Ok(parse_expert(&out))
    }

    /// Values of `fields` (`-T fields -e F…`) for each frame matching
    /// `filter`: one `Vec` per frame, one `String` per field (several
    /// occurrences in one frame are joined with `,`).
    pub fn fields(
        &self,
        pcap: &Path,
        filter: Option<&str>,
        fields: &[&str],
    ) -> Result<Vec<Vec<String>>> {
        ensure!(!fields.is_empty(), "no fields to extract");
        let mut args = vec![
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ];
        for field in fields {
            args.extend(["-e", field]);
        }
        if let Some(filter) = filter {
            args.extend(["-Y", filter]);
        }
        let out = self.run(pcap, &args)?;
        Ok(out
            .lines()
            .map(|line| line.split('\t').map(str::to_owned).collect())
            .collect())
    }

    /// One summary line per frame (for failure messages).
    pub fn summary(&self, pcap: &Path) -> Result<String> {
        self.run(pcap, &[])
    }

    /// Full dissection (`-V`) of the frames matching `filter`.
    pub fn verbose(&self, pcap: &Path, filter: Option<&str>) -> Result<String> {
        let mut args = vec!["-V"];
        if let Some(filter) = filter {
            args.extend(["-Y", filter]);
        }
        self.run(pcap, &args)
    }

    /// Fails unless `pcap` has no malformed frame and no expert error; the
    /// message lists them and the frame summary.
    pub fn assert_clean(&self, pcap: &Path) -> Result<()> {
        let malformed = self.malformed(pcap)?;
        let errors = self.expert_errors(pcap)?;
        if malformed > 0 || !errors.is_empty() {
            bail!(
                "{}: {malformed} malformed frames, expert errors:\n{}\nframes:\n{}",
                pcap.display(),
                errors.join("\n"),
                tail(&self.summary(pcap).unwrap_or_default(), 60)
            );
        }
        Ok(())
    }
}

/// The entry lines of a `-z expert,…` report.
fn parse_expert(report: &str) -> Vec<String> {
    report
        .lines()
        .map(str::trim)
        .filter(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|first| first.parse::<u64>().is_ok())
        })
        .map(str::to_owned)
        .collect()
}

/// Options of a [`LiveCapture`].
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Stop by itself after this long (`-a duration:N`, whole seconds).
    pub duration: Option<Duration>,
    /// Capture filter (BPF syntax, `-f`), e.g. `"udp port 1701"`.
    pub filter: Option<String>,
}

/// A live capture (`ip netns exec NS tshark -i IF -w FILE -F pcap`) that
/// records until stopped; stopped on drop.
#[derive(Debug)]
pub struct LiveCapture {
    process: Process,
    path: PathBuf,
}

impl LiveCapture {
    /// Starts capturing on `iface` in `netns` into `path` (libpcap format)
    /// and returns once dumpcap really captures: every frame sent after
    /// this returns is in the file.
    pub fn start(netns: &Netns, iface: &str, path: &Path) -> Result<Self> {
        Self::start_with(netns, iface, path, &CaptureOptions::default())
    }

    /// [`Self::start`] with a duration limit and/or a capture filter.
    pub fn start_with(
        netns: &Netns,
        iface: &str,
        path: &Path,
        options: &CaptureOptions,
    ) -> Result<Self> {
        require_tool("tshark", "tshark")?;
        require_tool("dumpcap", "wireshark-common")?;
        check_ifname(iface)?;
        let mut command = netns.command("tshark");
        command
            .args(["-n", "-q", "-i", iface, "-F", "pcap", "-w"])
            .arg(path);
        if let Some(duration) = options.duration {
            command.args(["-a", &format!("duration:{}", duration.as_secs().max(1))]);
        }
        if let Some(filter) = &options.filter {
            command.args(["-f", filter]);
        }
        let log = log_path_for(path);
        let mut process = netns.spawn(&format!("tshark on {iface}"), command, &log)?;
        // tshark prints "Capturing on 'IF'" before it even starts dumpcap;
        // "Capture started." comes once dumpcap has bound its packet socket,
        // attached the filter and opened the file (seen with strace).
        process
            .wait_for_log(CAPTURE_STARTED, CAPTURE_START_TIMEOUT)
            .context("tshark did not start capturing")?;
        Ok(Self {
            process,
            path: path.to_owned(),
        })
    }

    /// The capture file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the capture and returns the file's path. Every frame sent
    /// before the call is in the file: it first waits [`CAPTURE_DRAIN`] for
    /// the kernel to hand dumpcap its last packets, then sends SIGINT so
    /// the file is completed.
    pub fn stop(mut self) -> Result<PathBuf> {
        if self.process.is_running() {
            std::thread::sleep(CAPTURE_DRAIN);
            self.process.signal(libc::SIGINT);
        }
        self.finish(Duration::from_secs(10))
    }

    /// Waits for a capture started with a duration to end by itself (at
    /// most `timeout`), then returns the file's path. Frames of its last
    /// [`CAPTURE_DRAIN`] may be missing; prefer [`Self::stop`].
    pub fn wait(mut self, timeout: Duration) -> Result<PathBuf> {
        self.finish(timeout)
    }

    fn finish(&mut self, timeout: Duration) -> Result<PathBuf> {
        let status = match self.process.wait_timeout(timeout)? {
            Some(status) => status,
            None => bail!(
                "tshark did not finish within {timeout:?}; log:\n{}",
                self.process.log_tail(20)
            ),
        };
        ensure!(
            status.success(),
            "tshark failed ({status}); log:\n{}",
            self.process.log_tail(20)
        );
        ensure!(
            self.path.is_file(),
            "tshark wrote no file {}; log:\n{}",
            self.path.display(),
            self.process.log_tail(20)
        );
        Ok(self.path.clone())
    }
}

fn log_path_for(pcap: &Path) -> PathBuf {
    let mut name = pcap.file_name().unwrap_or_default().to_os_string();
    name.push(".tshark.log");
    pcap.with_file_name(name)
}
