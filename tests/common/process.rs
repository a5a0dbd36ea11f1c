//! Child processes that write to a log file and die with their handle.
//!
//! [`Process`] is the building block of every long-running real component in
//! the harness (FreeRADIUS, xl2tpd, tshark, qemu guests): stdout and stderr
//! go to one log file (kept in the test's temp dir for failure messages),
//! the child runs in its own process group, and dropping the handle stops the
//! child and everything it started — also when the test panics.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Context, Result, bail, tail};

/// How long [`Process::stop`] waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running child process with its output in a log file; stopped on drop.
#[derive(Debug)]
pub struct Process {
    name: String,
    command_line: String,
    child: Child,
    log: PathBuf,
    exit: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command` with stdin from /dev/null and stdout + stderr
    /// appended to `log`, in a new process group. `name` appears in errors.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self> {
        let command_line = describe(&command);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log file handle")?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: {command_line}"))?;
        Ok(Self {
            name: name.to_owned(),
            command_line,
            child,
            log: log.to_owned(),
            exit: None,
        })
    }

    /// Process id of the child (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// Path of the log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log so far (lossy UTF-8; empty if unreadable).
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// Exit status if the child has exited (without blocking). Before the
    /// child is reaped, whatever it left behind in its process group is
    /// killed (the unreaped child still holds the group id, so the signal
    /// cannot reach anybody else).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() && exited_unreaped(self.pid()) {
            send_signal(-(self.pid() as i32), libc::SIGKILL);
            let status = self
                .child
                .wait()
                .with_context(|| format!("reaping {}", self.name))?;
            self.exit = Some(status);
        }
        Ok(self.exit)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the child to exit; `None` if it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log contains `needle` at or after byte `from`, or
    /// fails when the child exits first or `timeout` passes; the error shows
    /// the tail of the log. Returns the byte offset just past the match.
    pub fn wait_for_log_from(
        &mut self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if let Some(pos) = log.get(from..).and_then(|rest| rest.find(needle)) {
                return Ok(from + pos + needle.len());
            }
            if let Some(status) = self.try_wait()? {
                bail!(
                    "{} exited ({status}) before printing {needle:?}\ncommand: {}\nlog {}:\n{}",
                    self.name,
                    self.command_line,
                    self.log.display(),
                    self.log_tail(60)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not print {needle:?} within {timeout:?}\ncommand: {}\nlog {}:\n{}",
                    self.name,
                    self.command_line,
                    self.log.display(),
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Self::wait_for_log_from`] from the start of the log.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<usize> {
        self.wait_for_log_from(0, needle, timeout)
    }

    /// Sends `signal` once to every process of the child's group, and to
    /// descendants that moved to a group of their own (like `timeout(1)`).
    pub fn signal(&self, signal: i32) {
        let pid = self.pid();
        let outside_group: Vec<u32> = descendants(pid)
            .into_iter()
            .filter(|&descendant| stat_fields(descendant).is_some_and(|(_, pgid)| pgid != pid))
            .collect();
        send_signal(-(pid as i32), signal);
        for descendant in outside_group {
            send_signal(descendant as i32, signal);
        }
    }

    /// Stops the child: SIGTERM first to its descendants (so a wrapper
    /// script can still clean up after its payload), then to its group and
    /// everything below it; SIGKILL to whatever is left after a grace period.
    /// Returns the exit status; a no-op if it already exited.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        for descendant in descendants(self.pid()) {
            send_signal(descendant as i32, libc::SIGTERM);
        }
        if let Some(status) = self.wait_timeout(Duration::from_millis(1500))? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait_timeout(STOP_GRACE)? {
            return Ok(status);
        }
        self.signal(libc::SIGKILL);
        match self.wait_timeout(STOP_GRACE)? {
            Some(status) => Ok(status),
            None => bail!("{} (pid {}) survived SIGKILL", self.name, self.pid()),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("stopping {}: {error:#}", self.name);
        }
    }
}

/// Runs `command` to completion with stdin from /dev/null and returns its
/// output, failing with stdout and stderr in the message if it exits non-zero.
pub fn run_checked(mut command: Command) -> Result<std::process::Output> {
    let line = describe(&command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {line}"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed ({})\nstdout:\n{}\nstderr:\n{}",
            output.status,
            tail(&String::from_utf8_lossy(&output.stdout), 40),
            tail(&String::from_utf8_lossy(&output.stderr), 40)
        );
    }
    Ok(output)
}

/// Runs `command` to completion (stdin from /dev/null) whatever its exit
/// status; only failing to start it is an error.
pub fn run_unchecked(mut command: Command) -> Result<std::process::Output> {
    let line = describe(&command);
    command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {line}"))
}

/// `program arg1 arg2 …` of a `Command`, for messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a file as lossy UTF-8; empty when it cannot be read.
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// All descendants of `pid` (children, grandchildren, …), deepest first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| Some((child, stat_fields(child)?.0)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, _) in parents.iter().filter(|&&(_, ppid)| ppid == parent) {
            if !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found.reverse();
    found
}

/// Parent pid and process group of `pid`, from `/proc/PID/stat`.
fn stat_fields(pid: u32) -> Option<(u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces;
    // after it come state, ppid, pgrp.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(1);
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((ppid, pgrp))
}

/// `kill(2)`, ignoring errors (the target may be gone already).
pub fn send_signal(pid: i32, signal: i32) {
    if pid == 0 || pid == -1 {
        return; // never the caller's own group, never "everything"
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Whether our child `pid` has exited, without reaping it (`WNOWAIT`).
fn exited_unreaped(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value; waitid only writes it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t for the whole call.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled `info` (si_pid stays 0 when nothing exited).
    rc == 0 && unsafe { info.si_pid() } != 0
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
