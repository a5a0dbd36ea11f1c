//! `/metrics` of a running `tunnelnas run` passes `promtool check metrics`,
//! and the API answers; JSON logs are JSON.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to management HTTP");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("HTTP response has a header");
    (head.to_owned(), body.to_owned())
}

/// Starts `tunnelnas run` with metrics and API on two ephemeral loopback
/// ports and returns (process, metrics address, API address).
fn start(dir: &std::path::Path) -> (Running, String, String) {
    let path = dir.join("lns.toml");
    std::fs::write(
        &path,
        r#"
[node]
nas_identifier = "metrics-test"
state_dir = "/tmp"
[lns]
[radius.group.default]
[[radius.group.default.server]]
address = "127.0.0.1"
secret = "s"
[metrics]
listen = "127.0.0.1:0"
[api]
listen = "127.0.0.1:0"
"#,
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tunnelnas"));
    // Hermetic: no TUNNELNAS_* override from the caller's environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TUNNELNAS_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["--log-format", "json", "run", "-c", path.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tunnelnas");
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    // Read the log on a thread so a silent child cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Nobody listens any more; keep draining so the child
                // never blocks on a full pipe.
                continue;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut addrs = Vec::new();
    let mut seen = Vec::new();
    while addrs.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!(
                "tunnelnas did not report two listeners; log so far:\n{}",
                seen.join("\n")
            );
        };
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if json["message"] == "management HTTP listening" {
            addrs.push(json["addr"].as_str().unwrap().to_owned());
        }
        seen.push(line);
    }
    let (metrics, api): (Vec<String>, Vec<String>) = addrs
        .into_iter()
        .partition(|a| http_get(a, "/metrics").0.contains(" 200 "));
    assert_eq!((metrics.len(), api.len()), (1, 1), "metrics and API apart");
    (running, metrics[0].clone(), api[0].clone())
}

#[test]
fn metrics_pass_promtool_and_api_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (_running, addr, _api) = start(dir.path());
    let (head, body) = http_get(&addr, "/metrics");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    for family in [
        "tunnelnas_build_info",
        "tunnelnas_uptime_seconds",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{body}"
        );
    }

    // That every metric the dashboard and alert rules query is registered
    // (families with no series yet included) is a unit test of the library.

    let promtool = which("promtool")
        .expect("promtool not found: install the Debian package `prometheus` (bash .ci/run does)");
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn api_reports_status_on_its_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (_running, metrics, api) = start(dir.path());
    let (head, body) = http_get(&api, "/api/v1/status");
    assert!(head.contains(" 200 "), "{head}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["role"], "lns");
    assert_eq!(status["nas_identifier"], "metrics-test");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(http_get(&api, "/healthz").1, "ok\n");
    // Each listener serves only its own routes.
    assert!(http_get(&api, "/metrics").0.contains(" 404 "));
    assert!(http_get(&metrics, "/api/v1/status").0.contains(" 404 "));
}

#[test]
fn alert_rules_pass_promtool() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("grafana/alerts/tunnelnas-rules.yaml");
    let promtool = which("promtool")
        .expect("promtool not found: install the Debian package `prometheus` (bash .ci/run does)");
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rule_unit_tests_pass_promtool() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/alerts/tests");
    let promtool = which("promtool")
        .expect("promtool not found: install the Debian package `prometheus` (bash .ci/run does)");
    let mut files: Vec<_> = std::fs::read_dir(&tests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no alert unit tests in {}",
        tests.display()
    );
    let out = Command::new(promtool)
        .args(["test", "rules"])
        .args(&files)
        .current_dir(&tests)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}
