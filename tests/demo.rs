//! The README's first command: `tunnelnas demo` brings emulated
//! subscribers through the real LAC to the emulated LNS, pings cross, and
//! everything it created is gone afterwards.

mod common;

use std::process::Command;

#[test]
fn demo_brings_subscribers_through_the_lac_and_cleans_up() -> common::Result<()> {
    common::require_root()?;
    let out = Command::new(env!("CARGO_BIN_EXE_tunnelnas"))
        .args(["demo", "--subscribers", "4", "--seconds", "12"])
        .env("RUST_LOG", "warn")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("tunnelnas demo:") && l.contains("came up"))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    assert!(summary.contains("4 of 4 subscribers came up"), "{summary}");
    // "N of M pings answered" with N > 0 and N close to M.
    let pings: Vec<u64> = summary
        .split(", ")
        .find(|part| part.contains("pings answered"))
        .map(|part| {
            part.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        matches!(pings.as_slice(), [answered, sent] if *answered > 10 && answered + 4 >= *sent),
        "{summary}"
    );
    assert!(summary.contains("the LNS saw 4 sessions"), "{summary}");
    // Accounting went to the local file: On, 4 Starts, 4 Stops, Off.
    let accounting = std::fs::read_to_string("/tmp/tunnelnas-demo/local-accounting.jsonl")?;
    let last_run: Vec<serde_json::Value> = accounting
        .lines()
        .rev()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .take_while(|r: &serde_json::Value| r["status"] != 7)
        .collect();
    let count = |status: u64| last_run.iter().filter(|r| r["status"] == status).count();
    assert_eq!((count(1), count(2), count(8)), (4, 4, 1), "{accounting}");
    assert!(
        last_run
            .iter()
            .filter(|r| r["status"] == 2)
            .all(|r| r["terminate_cause"] == 11),
        "Stops with NAS-Reboot: {accounting}"
    );
    // The namespace and the veth pair are gone.
    let netns = Command::new("ip").args(["netns", "list"]).output()?;
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains("tn-demo-"),
        "namespace left behind"
    );
    Ok(())
}
