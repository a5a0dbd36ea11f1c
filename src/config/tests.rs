use std::io::Write;
use std::net::IpAddr;
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
        write(&format!("{MINIMAL_LNS}\n[lns]\nproxy_lcp = \"maybe\"\n").replacen("[lns]\n", "", 1));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`lns.proxy_lcp`"), "{err}");
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

const MINIMAL_LAC: &str = r#"
[lac]
[pppoe]
[[pppoe.interface]]
name = "eth1"
"#;

/// A LAC config whose first interface has `rules` (TOML text) after it.
fn lac_with_vlans(rules: &str) -> String {
    format!("{MINIMAL_LAC}{rules}\n{}", MINIMAL_LNS.replace("[lns]", ""))
}

fn lac_error(rules: &str) -> (String, PathBuf) {
    let (file, path) = write(&lac_with_vlans(rules));
    let err = Config::load_with_env(&path, env(&[]))
        .unwrap_err()
        .to_string();
    drop(file);
    (err, path)
}

#[test]
fn vlan_rules_parse_in_file_order() {
    let (_f, path) = write(&lac_with_vlans(
        r#"
[[pppoe.interface.vlan]]
svlan = 10
cvlan = "100-199"
service_names = ["business"]
max_sessions = 50
nas_port_id = "{interface}:{svlan}:{cvlan}:{circuit_id}"

[[pppoe.interface.vlan]]
cvlan = "300"
max_sessions = 7

[[pppoe.interface.vlan]]
cvlan = " 400 - 499 "
service_names = []

[[pppoe.interface.vlan]]
refuse = true
"#,
    ));
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    let rules = &config.pppoe.unwrap().interfaces[0].vlans;
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[0].svlan, Some(VlanRange::single(10)));
    assert_eq!(
        rules[0].cvlan,
        Some(VlanRange {
            low: 100,
            high: 199
        })
    );
    assert_eq!(rules[0].service_names, Some(vec!["business".to_owned()]));
    assert_eq!(rules[0].max_sessions, Some(50));
    assert_eq!(
        rules[0].nas_port_id.as_deref(),
        Some("{interface}:{svlan}:{cvlan}:{circuit_id}")
    );
    assert!(!rules[0].refuse);
    assert_eq!(rules[1].svlan, None);
    assert_eq!(rules[1].cvlan, Some(VlanRange::single(300)));
    assert_eq!(
        rules[2].cvlan,
        Some(VlanRange {
            low: 400,
            high: 499
        })
    );
    assert_eq!(rules[2].service_names, Some(Vec::new()));
    assert_eq!(rules[2].max_sessions, None);
    assert_eq!(
        rules[3],
        PppoeVlan {
            refuse: true,
            ..PppoeVlan::default()
        }
    );
}

#[test]
fn vlan_rules_render_for_check_config_and_reload() {
    let (_f, path) = write(&lac_with_vlans(
        r#"
[[pppoe.interface.vlan]]
svlan = 10
cvlan = "100-199"
nas_port_id = "{interface}/{svlan}/{cvlan}"

[[pppoe.interface.vlan]]
refuse = true
"#,
    ));
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    let text = config.to_redacted_toml();
    assert!(text.contains("[[pppoe.interface.vlan]]"), "{text}");
    assert!(text.contains("svlan = 10\n"), "{text}");
    assert!(text.contains("cvlan = \"100-199\""), "{text}");
    assert!(text.contains("refuse = true"), "{text}");
    // `refuse = false` and absent keys are not rendered.
    assert_eq!(text.matches("refuse").count(), 1, "{text}");
    let (_f, path) = write(&text);
    let again = Config::load_with_env(&path, env(&[])).unwrap();
    assert_eq!(
        again.pppoe.as_ref().unwrap().interfaces[0].vlans,
        config.pppoe.as_ref().unwrap().interfaces[0].vlans
    );
    assert_eq!(again.to_redacted_toml(), text);
}

#[test]
fn interface_without_vlan_rules_renders_no_vlan_key() {
    let (_f, path) = write(&lac_with_vlans(""));
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    assert!(
        config.pppoe.as_ref().unwrap().interfaces[0]
            .vlans
            .is_empty()
    );
    let text = config.to_redacted_toml();
    assert!(!text.contains("[[pppoe.interface.vlan]]"), "{text}");
    assert!(!text.contains("vlan ="), "{text}");
}

#[test]
fn vlan_ids_outside_1_to_4094_are_refused_naming_the_key() {
    for (value, found) in [
        ("0", "found 0"),
        ("4095", "found 4095"),
        ("\"4000-4095\"", "found 4095"),
        ("\"0-10\"", "found 0"),
    ] {
        let (err, path) = lac_error(&format!(
            "[[pppoe.interface.vlan]]\ncvlan = 5\n[[pppoe.interface.vlan]]\nsvlan = {value}\n"
        ));
        assert!(
            err.contains(&format!("config file {}", path.display())),
            "{err}"
        );
        assert!(err.contains("`pppoe.interface.0.vlan.1.svlan`"), "{err}");
        assert!(err.contains("a VLAN id from 1 to 4094"), "{err}");
        assert!(err.contains(found), "{value}: {err}");
    }
}

#[test]
fn reversed_vlan_range_is_refused() {
    let (err, _) = lac_error("[[pppoe.interface.vlan]]\ncvlan = \"300-200\"\n");
    assert!(err.contains("`pppoe.interface.0.vlan.0.cvlan`"), "{err}");
    assert!(err.contains("low <= high"), "{err}");
    assert!(err.contains("\"300-200\""), "{err}");
}

#[test]
fn vlan_values_that_are_no_id_or_range_name_the_key_and_form() {
    for value in [
        "\"ten\"",
        "\"100-\"",
        "\"-5\"",
        "\"1-2-3\"",
        "70000",
        "-3",
        "true",
    ] {
        let (err, path) = lac_error(&format!("[[pppoe.interface.vlan]]\ncvlan = {value}\n"));
        assert!(
            err.contains(&format!("config file {}", path.display())),
            "{err}"
        );
        // figment names the key without array indices here.
        assert!(
            err.contains("`pppoe.interface.0.vlan.0.cvlan`")
                || err.contains("`pppoe.interface.vlan.cvlan`"),
            "{value}: {err}"
        );
        assert!(
            err.contains("a VLAN id (1 to 4094) or a range such as \"100-199\""),
            "{value}: {err}"
        );
    }
}

#[test]
fn unknown_key_in_a_vlan_rule_lists_the_allowed_keys() {
    let (err, _) = lac_error("[[pppoe.interface.vlan]]\nvlan = 5\n");
    assert!(err.contains("unknown key"), "{err}");
    for key in [
        "svlan",
        "cvlan",
        "service_names",
        "max_sessions",
        "nas_port_id",
        "refuse",
    ] {
        assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
    }
}

#[test]
fn refuse_takes_no_other_setting() {
    for extra in [
        "service_names = [\"x\"]",
        "max_sessions = 3",
        "nas_port_id = \"{interface}\"",
    ] {
        let (err, _) = lac_error(&format!(
            "[[pppoe.interface.vlan]]\ncvlan = 7\nrefuse = true\n{extra}\n"
        ));
        assert!(err.contains("`pppoe.interface.0.vlan.0.refuse`"), "{err}");
        assert!(err.contains("beside `refuse = true`"), "{err}");
    }
}

#[test]
fn vlan_rule_limits_and_templates_must_be_usable() {
    let (err, _) = lac_error("[[pppoe.interface.vlan]]\ncvlan = 7\nmax_sessions = 0\n");
    assert!(
        err.contains("`pppoe.interface.0.vlan.0.max_sessions`"),
        "{err}"
    );
    assert!(err.contains("refuse = true"), "{err}");
    let (err, _) = lac_error("[[pppoe.interface.vlan]]\ncvlan = 7\nnas_port_id = \"\"\n");
    assert!(
        err.contains("`pppoe.interface.0.vlan.0.nas_port_id`"),
        "{err}"
    );
    assert!(err.contains("a template"), "{err}");
}

#[test]
fn a_rule_an_earlier_one_covers_is_refused() {
    for (first, second) in [
        ("cvlan = \"100-199\"", "cvlan = 150"),
        ("cvlan = \"100-199\"", "svlan = 5\ncvlan = \"100-199\""),
        ("svlan = 5", "svlan = 5\ncvlan = 7"),
        ("refuse = true", "cvlan = 7"),
        ("cvlan = 7", "cvlan = 7"),
    ] {
        let (err, _) = lac_error(&format!(
            "[[pppoe.interface.vlan]]\n{first}\n[[pppoe.interface.vlan]]\n{second}\n"
        ));
        assert!(err.contains("`pppoe.interface.0.vlan.1`"), "{err}");
        assert!(err.contains("pppoe.interface.0.vlan.0 before it"), "{err}");
    }
    // Overlapping but not covering: both can apply.
    for (first, second) in [
        ("cvlan = 150", "cvlan = \"100-199\""),
        ("svlan = 5\ncvlan = 7", "cvlan = 7"),
        ("cvlan = 7", "svlan = 5"),
        ("cvlan = \"100-150\"", "cvlan = \"120-199\""),
        ("cvlan = 7", "refuse = true"),
    ] {
        let (_f, path) = write(&lac_with_vlans(&format!(
            "[[pppoe.interface.vlan]]\n{first}\n[[pppoe.interface.vlan]]\n{second}\n"
        )));
        Config::load_with_env(&path, env(&[]))
            .unwrap_or_else(|e| panic!("{first} / {second}: {e}"));
    }
}

#[test]
fn vlan_rule_keys_can_be_overridden_from_the_environment() {
    let (_f, path) = write(&lac_with_vlans(
        "[[pppoe.interface.vlan]]\ncvlan = 7\nmax_sessions = 3\n",
    ));
    let config = Config::load_with_env(
        &path,
        env(&[
            ("TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN", "200-209"),
            (
                "TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__NAS_PORT_ID",
                "4711",
            ),
        ]),
    )
    .unwrap();
    let rule = &config.pppoe.unwrap().interfaces[0].vlans[0];
    assert_eq!(
        rule.cvlan,
        Some(VlanRange {
            low: 200,
            high: 209
        })
    );
    assert_eq!(rule.max_sessions, Some(3));
    assert_eq!(rule.nas_port_id.as_deref(), Some("4711"));

    let err = Config::load_with_env(
        &path,
        env(&[("TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN", "5000")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("environment variable TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN"),
        "{err}"
    );
    assert!(err.contains("`pppoe.interface.0.vlan.0.cvlan`"), "{err}");
}

#[test]
fn vlan_range_parse_and_display() {
    assert_eq!(VlanRange::parse("7"), Ok(VlanRange::single(7)));
    assert_eq!(
        VlanRange::parse("1-4094"),
        Ok(VlanRange { low: 1, high: 4094 })
    );
    assert!(VlanRange::parse("").is_err());
    assert!(VlanRange::parse("a-b").is_err());
    assert!(VlanRange::parse("99999").is_err());
    assert_eq!(VlanRange::single(7).to_string(), "7");
    assert_eq!(VlanRange { low: 5, high: 9 }.to_string(), "5-9");
    assert!(VlanRange { low: 5, high: 9 }.contains(5));
    assert!(VlanRange { low: 5, high: 9 }.contains(9));
    assert!(!VlanRange { low: 5, high: 9 }.contains(10));
    assert!(VlanRange::single(0).check().is_err());
    assert!(VlanRange::single(4094).check().is_ok());
}

#[test]
fn errors_in_file_elements_of_an_env_patched_array_blame_the_file() {
    let (_f, path) = write(&lac_with_vlans(
        "[[pppoe.interface.vlan]]\ncvlan = 7\n[[pppoe.interface.vlan]]\nsvlan = 0\n",
    ));
    let err = Config::load_with_env(
        &path,
        env(&[("TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN", "8")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&format!("config file {}", path.display())),
        "{err}"
    );
    assert!(err.contains("`pppoe.interface.0.vlan.1.svlan`"), "{err}");

    // A form error in an overridden element names the variable.
    let err = Config::load_with_env(
        &path,
        env(&[("TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN", "seven")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("environment variable TUNNELNAS_PPPOE__INTERFACE__0__VLAN__0__CVLAN"),
        "{err}"
    );
}

/// Issue 11's `[lac]` keys are validated, each error naming its key.
#[test]
fn lac_load_and_authorization_keys_are_validated() {
    const LAC: &str = r#"
[pppoe]
[[pppoe.interface]]
name = "access0"
[radius.group.default]
[[radius.group.default.server]]
address = "127.0.0.1"
secret = "s3cret"
[lac]
"#;
    let cases = [
        ("max_tunnels_per_lns = 0", "`lac.max_tunnels_per_lns`"),
        ("max_tunnels_per_lns = 65", "`lac.max_tunnels_per_lns`"),
        ("max_queued_calls = 0", "`lac.max_queued_calls`"),
        (
            "tunnel_setup_timeout = \"0s\"",
            "`lac.tunnel_setup_timeout`",
        ),
        ("authorize = \"domain\"", "`lac.authorize_password`"),
        (
            "[[lac.realm]]\ndomain = \"corp.example\"\nauthorize = \"domain\"",
            "`lac.authorize_password`",
        ),
        ("authorize = \"realm\"", "`lac.authorize`"),
    ];
    for (keys, named) in cases {
        let (_f, path) = write(&format!("{LAC}{keys}\n"));
        let err = Config::load_with_env(&path, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{keys}: {err}");
    }
    let (_f, path) = write(&format!(
        "{LAC}authorize = \"domain\"\nauthorize_password = \"pw\"\n\
         [[lac.realm]]\ndomain = \"retail.example\"\nauthorize = \"user\"\n"
    ));
    let config = Config::load_with_env(&path, env(&[])).expect("valid");
    let lac = config.lac.expect("[lac]");
    assert_eq!(lac.authorize, Authorize::Domain);
    assert_eq!(lac.realms[0].authorize, Some(Authorize::User));
    assert_eq!(lac.max_tunnels_per_lns, 4);
    assert_eq!(
        lac.tunnel_setup_timeout.get(),
        std::time::Duration::from_secs(5)
    );
}

#[test]
fn lns_pools_are_named_once_known_where_named_and_do_not_overlap() {
    let pools = "[[lns.pool]]\nname = \"a\"\nnetworks = [\"10.64.0.0/16\"]\n\
                 [[lns.pool]]\nname = \"b\"\nnetworks = [\"10.65.0.0/24\", \"10.65.1.0/24\"]\n";
    let good = MINIMAL_LNS.replace("[lns]", &format!("[lns]\ndefault_pool = \"a\"\n{pools}"));
    let (_f, path) = write(&good);
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    let lns = config.lns.unwrap();
    assert_eq!(lns.pools.len(), 2);
    assert_eq!(lns.pools[1].networks.len(), 2);
    let cases = [
        (
            "[lns]\ndefault_pool = \"c\"\n".to_owned() + pools,
            "`lns.default_pool`",
            "\"c\" is none",
        ),
        (
            "[lns]\n".to_owned()
                + pools
                + "[[lns.pool]]\nname = \"a\"\nnetworks = [\"10.66.0.0/24\"]\n",
            "`lns.pool[2].name`",
            "\"a\" is taken",
        ),
        (
            "[lns]\n".to_owned()
                + pools
                + "[[lns.pool]]\nname = \"c\"\nnetworks = [\"10.64.128.0/17\"]\n",
            "`lns.pool[2].networks`",
            "overlaps pool \"a\"",
        ),
        (
            "[lns]\n".to_owned() + pools + "[[lns.pool]]\nname = \"c\"\nnetworks = []\n",
            "`lns.pool[2].networks`",
            "at least one IPv4 prefix",
        ),
        (
            "[lns]\n".to_owned()
                + pools
                + "[[lns.peer]]\nnetwork = \"192.0.2.0/24\"\npool = \"z\"\n",
            "`lns.peer[0].pool`",
            "\"z\" is none",
        ),
    ];
    for (section, key, expected) in cases {
        let (_f, path) = write(&MINIMAL_LNS.replace("[lns]\n", &section));
        let err = Config::load_with_env(&path, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("config file {}", path.display())),
            "{err}"
        );
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn lns_ipv6_pools_are_validated_naming_the_key() {
    let pools = "[[lns.ipv6_pool]]\nname = \"pd\"\nprefix = \"2001:db8:100::/40\"\nlength = 56\n\
                 [[lns.ipv6_pool]]\nname = \"slaac\"\nprefix = \"2001:db8:200::/40\"\nlength = 64\n";
    let (_f, path) = write(&MINIMAL_LNS.replace("[lns]\n", &format!("[lns]\n{pools}")));
    let config = Config::load_with_env(&path, env(&[])).unwrap();
    let lns = config.lns.unwrap();
    assert_eq!(lns.ipv6_pools.len(), 2);
    assert_eq!(
        lns.ipv6_pools[0].prefix,
        "2001:db8:100::/40".parse().unwrap()
    );
    assert_eq!(
        (lns.ipv6_pools[0].length, lns.ipv6_pools[1].length),
        (56, 64)
    );
    let extra = |name: &str, prefix: &str, length: u8| {
        format!(
            "[lns]\n{pools}[[lns.ipv6_pool]]\nname = \"{name}\"\nprefix = \"{prefix}\"\nlength = {length}\n"
        )
    };
    let cases = [
        (
            extra("pd", "2001:db8:300::/40", 56),
            "`lns.ipv6_pool[2].name`",
            "\"pd\" is taken",
        ),
        (
            extra("", "2001:db8:300::/40", 56),
            "`lns.ipv6_pool[2].name`",
            "a non-empty name",
        ),
        (
            extra("c", "2001:db8:180::/48", 56),
            "`lns.ipv6_pool[2].prefix`",
            "overlaps pool \"pd\"",
        ),
        (
            extra("c", "2001:db8::/32", 56),
            "`lns.ipv6_pool[2].prefix`",
            "overlaps pool \"pd\"",
        ),
        (
            extra("c", "2001:db8:300::1/40", 56),
            "`lns.ipv6_pool[2].prefix`",
            "without host bits",
        ),
        (
            extra("c", "2001:db8:300::/40", 32),
            "`lns.ipv6_pool[2].length`",
            "at least the prefix's (40)",
        ),
        (
            extra("c", "2001:db8:300::/40", 80),
            "`lns.ipv6_pool[2].length`",
            "at most 64",
        ),
        (
            extra("c", "3000::/24", 64),
            "`lns.ipv6_pool[2].length`",
            "at most 32 more",
        ),
    ];
    for (section, key, expected) in cases {
        let (_f, path) = write(&MINIMAL_LNS.replace("[lns]\n", &section));
        let err = Config::load_with_env(&path, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(expected), "{expected}: {err}");
    }
}
