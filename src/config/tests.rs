use std::io::Write;
use std::path::PathBuf;

use super::*;

fn write(text: &str) -> (tempfile::NamedTempFile, PathBuf) {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let path = file.path().to_owned();
    (file, path)
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const MINIMAL_LNS: &str = r#"
[lns]
[radius.group.default]
[[radius.group.default.server]]
address = "127.0.0.1"
secret = "s3cret"
"#;

#[test]
fn every_example_config_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = Config::load_with_env(&path, env(&[]))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(config.role().is_some());
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "expected lac, lns and lts examples, found {seen}"
    );
}

#[test]
fn example_roles_follow_sections() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let role = |name: &str| {
        Config::load_with_env(&dir.join(name), env(&[]))
            .unwrap()
            .role()
    };
    assert_eq!(role("lac.toml"), Some(Role::Lac));
    assert_eq!(role("lns.toml"), Some(Role::Lns));
    assert_eq!(role("lts.toml"), Some(Role::Lts));
}

#[test]
fn defaults_are_documented_values() {
    let (_f, path) = write(MINIMAL_LNS);
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    assert_eq!(config.l2tp.listen, "0.0.0.0:1701".parse().unwrap());
    assert_eq!(config.l2tp.retransmit_initial, Duration::from_secs(1));
    assert_eq!(config.l2tp.hello_interval, Duration::from_secs(60));
    assert_eq!(config.ppp.mru, 1492);
    assert_eq!(config.ppp.max_configure, 10);
    let group = &config.radius.groups["default"];
    assert_eq!(group.strategy, ServerStrategy::Failover);
    assert_eq!(group.servers[0].auth_port, 1812);
    assert_eq!(group.servers[0].acct_port, 1813);
    assert_eq!(config.metrics.listen, "127.0.0.1:9180".parse().unwrap());
    assert_eq!(config.l2tp_host_name(), "tunnelnas");
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let err = Config::load_with_env(Path::new("/nonexistent/tunnelnas.toml"), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/tunnelnas.toml"), "{err}");
    assert!(err.contains("No such file"), "{err}");
}

#[test]
fn syntax_error_names_file_and_line() {
    let (_f, path) = write("[lns\nfoo = 1\n");
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn unknown_key_names_file_key_and_allowed_keys() {
    let (_f, path) = write(&format!(
        "{MINIMAL_LNS}\n[l2tp]\nhello_intervall = \"10s\"\n"
    ));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("`l2tp.hello_intervall`"), "{err}");
    assert!(err.contains("`hello_interval`"), "{err}");
}

#[test]
fn wrong_type_names_key_and_expectation() {
    let (_f, path) = write(&format!(
        "{MINIMAL_LNS}\n[l2tp]\nreceive_window = \"lots\"\n"
    ));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`l2tp.receive_window`"), "{err}");
    assert!(err.contains("u16"), "{err}");
    assert!(err.contains("lots"), "{err}");
}

#[test]
fn bad_duration_names_key_and_form() {
    let (_f, path) = write(&format!(
        "{MINIMAL_LNS}\n[l2tp]\nhello_interval = \"soon\"\n"
    ));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`l2tp.hello_interval`"), "{err}");
    assert!(err.contains("duration"), "{err}");
}

#[test]
fn bad_enum_lists_choices() {
    let (_f, path) =
        write(&format!("{MINIMAL_LNS}\n[lns]\nproxy = \"maybe\"\n").replacen("[lns]\n", "", 1));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`lns.proxy`"), "{err}");
    assert!(
        err.contains("`accept`") && err.contains("`renegotiate`"),
        "{err}"
    );
}

#[test]
fn no_role_is_refused() {
    let (_f, path) = write("[node]\nnas_identifier = \"x\"\n");
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[lac] or [lns]"), "{err}");
}

#[test]
fn dangling_group_reference_names_key_and_known_groups() {
    let (_f, path) = write(&MINIMAL_LNS.replace("[lns]", "[lns]\nauth_group = \"enterprise\""));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("config file {}", path.display())),
        "{err}"
    );
    assert!(err.contains("`lns.auth_group`"), "{err}");
    assert!(
        err.contains("`enterprise` is not one; defined: default"),
        "{err}"
    );
}

#[test]
fn lac_needs_pppoe_interfaces() {
    let (_f, path) = write(&MINIMAL_LNS.replace("[lns]", "[lac]"));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("key `pppoe`"), "{err}");
}

#[test]
fn environment_overrides_file() {
    let (_f, path) = write(MINIMAL_LNS);
    let config = Config::load_with_env(
        &path,
        env(&[
            ("TUNNELNAS_L2TP__HELLO_INTERVAL", "15s"),
            ("TUNNELNAS_L2TP__RECEIVE_WINDOW", "32"),
            ("TUNNELNAS_L2TP__HIDE_AVPS", "true"),
            ("UNRELATED", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(config.l2tp.hello_interval, Duration::from_secs(15));
    assert_eq!(config.l2tp.receive_window, 32);
    assert!(config.l2tp.hide_avps);
}

#[test]
fn numeric_looking_environment_values_work_for_strings() {
    let (_f, path) = write(MINIMAL_LNS);
    let config = Config::load_with_env(
        &path,
        env(&[
            ("TUNNELNAS_NODE__NAS_IDENTIFIER", "4711"),
            (
                "TUNNELNAS_RADIUS__GROUP__DEFAULT__SERVER__0__SECRET",
                "0123",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(config.node.nas_identifier, "4711");
    // The leading zero survives: the secret is the text, not a number.
    assert_eq!(
        config.radius.groups["default"].servers[0]
            .secret
            .expose_str(),
        "0123"
    );
    // The rest of the array element still comes from the file.
    assert_eq!(
        config.radius.groups["default"].servers[0].address,
        "127.0.0.1".parse::<IpAddr>().unwrap()
    );

    let config = Config::load_with_env(
        &path,
        env(&[(
            "TUNNELNAS_RADIUS__GROUP__DEFAULT__SERVER__0__SECRET",
            "12345",
        )]),
    )
    .unwrap();
    assert_eq!(
        config.radius.groups["default"].servers[0]
            .secret
            .expose_str(),
        "12345"
    );
}

#[test]
fn environment_error_names_the_variable() {
    let (_f, path) = write(MINIMAL_LNS);
    let err = Config::load_with_env(&path, env(&[("TUNNELNAS_L2TP__RECEIVE_WINDOW", "many")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("environment variable TUNNELNAS_L2TP__RECEIVE_WINDOW"),
        "{err}"
    );
    assert!(err.contains("`l2tp.receive_window`"), "{err}");

    let err = Config::load_with_env(&path, env(&[("TUNNELNAS_L2TP__RECEIVE_WINDOW", "0")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("environment variable TUNNELNAS_L2TP__RECEIVE_WINDOW"),
        "{err}"
    );
    assert!(err.contains("at least 1"), "{err}");
}

#[test]
fn redacted_output_hides_secrets_and_reloads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let config = Config::load_with_env(&dir.join("lac.toml"), env(&[])).unwrap();
    let text = config.to_redacted_toml();
    assert!(!text.contains("change-me"), "{text}");
    assert!(text.contains(types::REDACTED));
    // The rendering is itself a valid configuration.
    let (_f, path) = write(&text);
    let again = Config::load_with_env(&path, env(&[])).unwrap();
    assert_eq!(again.to_redacted_toml(), text);
}

#[test]
fn missing_required_key_is_named() {
    let (_f, path) = write(
        "[lns]\n[radius.group.default]\n[[radius.group.default.server]]\naddress = \"127.0.0.1\"\n",
    );
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`radius.group.default.server.0.secret`")
            || err.contains("`radius.group.default.server.secret`"),
        "{err}"
    );
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn local_users_group_and_fallback_rules() {
    let (_f, path) = write(&MINIMAL_LNS.replace("[lns]", "[lns]\nauth_group = \"local\""));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`lns.auth_group`"), "{err}");
    let config = Config::load_with_env(
        &path,
        env(&[("TUNNELNAS_RADIUS__LOCAL_USERS", "/etc/tunnelnas/users.toml")]),
    )
    .unwrap();
    assert_eq!(config.lns.unwrap().auth_group, "local");
    assert_eq!(config.radius.nas_port_id, "{interface}:{vlans}");
    assert_eq!(config.radius.calling_station_id, MacFormat::Ietf);

    let (_f, path) = write(&MINIMAL_LNS.replace(
        "[radius.group.default]",
        "[radius]\nlocal_fallback = true\n[radius.group.default]",
    ));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`radius.local_fallback`"), "{err}");
}
