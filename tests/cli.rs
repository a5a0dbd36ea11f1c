//! The `tunnelnas` binary as an operator uses it: `check-config` on every
//! shipped example, and the error an operator sees for a broken file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tunnelnas(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tunnelnas"));
    cmd.args(args).env_remove("RUST_LOG");
    // Hermetic: only the overrides a test sets reach the configuration.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TUNNELNAS_") {
            cmd.env_remove(name);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tunnelnas")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("config/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn check_config_accepts_every_example_and_redacts_secrets() {
    let files = examples();
    assert!(files.len() >= 3);
    for file in files {
        let out = tunnelnas(&["check-config", "-c", file.to_str().unwrap()], &[]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}{}",
            file.display(),
            stdout,
            text(&out.stderr)
        );
        assert!(stdout.contains("valid configuration for role"), "{stdout}");
        assert!(!stdout.contains("change-me"), "secret leaked: {stdout}");
    }
}

#[test]
fn check_config_names_file_key_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[lns]\n[radius.group.default]\n[[radius.group.default.server]]\naddress = \"127.0.0.1\"\nsecret = \"x\"\n[l2tp]\nreceive_window = \"big\"\n",
    )
    .unwrap();
    let out = tunnelnas(&["check-config", "-c", path.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("`l2tp.receive_window`"), "{stderr}");
    assert!(stderr.contains("expected u16"), "{stderr}");
    assert!(stderr.contains("\"big\""), "{stderr}");
}

#[test]
fn check_config_reports_a_missing_file() {
    let out = tunnelnas(&["check-config", "-c", "/nonexistent/tn.toml"], &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/tn.toml"), "{stderr}");
}

#[test]
fn environment_override_is_applied_and_blamed() {
    let lns = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lns.toml");
    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_L2TP__HELLO_INTERVAL", "17s")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hello_interval = \"17s\""));

    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_L2TP__HELLO_INTERVAL", "later")],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("environment variable TUNNELNAS_L2TP__HELLO_INTERVAL"),
        "{stderr}"
    );
    assert!(stderr.contains("`l2tp.hello_interval`"), "{stderr}");
}

#[test]
fn bad_log_level_is_refused() {
    let lns = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lns.toml");
    let out = tunnelnas(
        &[
            "--log-level",
            "no=such=filter",
            "check-config",
            "-c",
            lns.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--log-level"));
}

#[test]
fn check_config_loads_the_named_dictionary_and_reports_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dict = dir.path().join("dictionary.local");
    std::fs::write(
        &dict,
        "ATTRIBUTE\tLocal-Thing\t1\tinteger\nATTRIBUTE\tBroken\n",
    )
    .unwrap();
    let lns = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lns.toml");
    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_RADIUS__DICTIONARY", dict.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("radius.dictionary"), "{stderr}");
    assert!(stderr.contains("dictionary.local"), "{stderr}");
    assert!(
        stderr.contains(":2") || stderr.contains("line 2"),
        "{stderr}"
    );

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries/dictionary");
    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_RADIUS__DICTIONARY", shipped.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn check_config_reads_the_local_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        "[[user]]\nname = \"alice\"\npassword = \"pw\"\nbogus = 1\n",
    )
    .unwrap();
    let lns = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lns.toml");
    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_RADIUS__LOCAL_USERS", users.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("radius.local_users"), "{stderr}");
    assert!(stderr.contains("users.toml"), "{stderr}");
    assert!(stderr.contains("bogus"), "{stderr}");

    std::fs::write(&users, "[[user]]\nname = \"alice\"\npassword = \"pw\"\n").unwrap();
    let out = tunnelnas(
        &["check-config", "-c", lns.to_str().unwrap()],
        &[("TUNNELNAS_RADIUS__LOCAL_USERS", users.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}
