//! The LAC's management HTTP server seen from a test: a tiny HTTP/1.0
//! client that runs inside a namespace, and a reader of Prometheus
//! exposition text.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::netns::Netns;
use super::{Context, Result};

/// `method path` to the management server at `addr` (`"127.0.0.1:9180"`),
/// from inside `ns`: (status code, body).
pub fn http(ns: &Netns, addr: &str, method: &str, path: &str) -> Result<(u16, String)> {
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let target = addr.to_owned();
    let response = ns.run(move || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(target.as_str())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })??;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("HTTP response without a header: {response:?}"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("HTTP status line: {head:?}"))?;
    Ok((code, body.to_owned()))
}

/// Sum of the Prometheus samples of `name` whose label set contains every
/// pair of `labels`.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            if !all {
                return None;
            }
            value.parse::<f64>().ok()
        })
        .sum()
}

/// Starts `tunnelnas run -c config_path` in `ns`, logging to `log`, and
/// waits until its management server at `addr` answers `/healthz`.
/// Hermetic: no `TUNNELNAS_*` override or `RUST_LOG` from the caller;
/// `TN_TEST_LAC_LOG_LEVEL=debug` raises the log level for a post-mortem.
pub fn start_lac(
    ns: &Netns,
    addr: &str,
    config_path: &std::path::Path,
    log: &std::path::Path,
) -> Result<super::process::Process> {
    start_node(ns, "the LAC", addr, config_path, log)
}

/// [`start_lac`] for any role: `what` names the node in messages.
pub fn start_node(
    ns: &Netns,
    what: &str,
    addr: &str,
    config_path: &std::path::Path,
    log: &std::path::Path,
) -> Result<super::process::Process> {
    let mut command = ns.command(env!("CARGO_BIN_EXE_tunnelnas"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TUNNELNAS_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("RUST_LOG")
        .arg("run")
        .arg("-c")
        .arg(config_path)
        .args(["--log-format", "text", "--log-level"])
        .arg(std::env::var("TN_TEST_LAC_LOG_LEVEL").unwrap_or_else(|_| "info".to_owned()));
    let mut lac = ns.spawn(&format!("tunnelnas ({what})"), command, log)?;
    let healthy = super::wait_until(
        Duration::from_secs(20),
        || {
            if let Some(status) = lac.try_wait()? {
                super::bail!("{what} exited with {status}");
            }
            Ok(http(ns, addr, "GET", "/healthz")
                .ok()
                .filter(|(code, body)| *code == 200 && body.trim() == "ok"))
        },
        || format!("{what} did not answer /healthz"),
    );
    if let Err(error) = healthy {
        super::bail!(
            "{error:#}\nconfig:\n{}\n{what}'s log:\n{}",
            std::fs::read_to_string(config_path).unwrap_or_default(),
            super::tail(&lac.log(), 80)
        );
    }
    Ok(lac)
}
