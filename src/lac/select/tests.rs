use std::net::IpAddr;

use super::*;
use crate::aaa::attributes::TunnelMediumKind;

fn candidate(ip: &str, preference: Option<u32>, secret: &str) -> TunnelCandidate {
    TunnelCandidate {
        tag: 1,
        medium: TunnelMediumKind::Ipv4,
        server_endpoint: TunnelEndpoint::Ip(ip.parse::<IpAddr>().unwrap()),
        client_endpoint: None,
        password: Some(secret.as_bytes().to_vec()),
        preference,
        assignment_id: None,
        client_auth_id: None,
        server_auth_id: None,
        private_group_id: None,
    }
}

fn addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 1701)
}

fn selector(balancing: LnsBalancing) -> Selector {
    Selector::new(
        SelectConfig {
            balancing,
            max_attempts: 5,
            ..SelectConfig::default()
        },
        [1; 32],
    )
}

fn endpoints(attempts: &[Attempt]) -> Vec<SocketAddr> {
    attempts.iter().map(|a| a.endpoint).collect()
}

#[test]
fn lowest_preference_first_absent_last() {
    let mut s = selector(LnsBalancing::RoundRobin);
    let now = Instant::now();
    let plan = s
        .plan(
            now,
            &[
                candidate("192.0.2.3", None, "c"),
                candidate("192.0.2.2", Some(20), "b"),
                candidate("192.0.2.1", Some(10), "a"),
            ],
        )
        .unwrap();
    assert_eq!(
        endpoints(&plan),
        vec![addr("192.0.2.1"), addr("192.0.2.2"), addr("192.0.2.3")]
    );
    assert_eq!(plan[0].secret, b"a");
}

#[test]
fn failed_endpoint_is_denylisted_until_dead_time_expires() {
    let mut s = selector(LnsBalancing::RoundRobin);
    let now = Instant::now();
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(2), "b"),
    ];
    s.report_failure(now, addr("192.0.2.1"));
    assert!(matches!(
        s.poll_event(),
        Some(SelectEvent::Denylisted { .. })
    ));
    let plan = s.plan(now + Duration::from_secs(10), &candidates).unwrap();
    assert_eq!(endpoints(&plan), vec![addr("192.0.2.2"), addr("192.0.2.1")]);
    assert!(plan[1].denylisted, "kept as a last resort");
    assert_eq!(s.denylisted(now + Duration::from_secs(10)).len(), 1);
    // After the dead time the preferred one is first again.
    let later = now + Duration::from_secs(61);
    let plan = s.plan(later, &candidates).unwrap();
    assert_eq!(endpoints(&plan), vec![addr("192.0.2.1"), addr("192.0.2.2")]);
    assert!(matches!(s.poll_event(), Some(SelectEvent::Cleared { .. })));
    assert!(s.denylisted(later).is_empty());
}

#[test]
fn a_denylisting_adopted_from_another_worker_orders_the_plan_without_an_event() {
    let mut s = selector(LnsBalancing::RoundRobin);
    let now = Instant::now();
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(2), "b"),
    ];
    let until = now + Duration::from_secs(30);
    s.adopt_denylisting(addr("192.0.2.1"), until);
    // An earlier deadline does not shorten it.
    s.adopt_denylisting(addr("192.0.2.1"), now + Duration::from_secs(5));
    assert!(s.poll_event().is_none(), "counted where it failed");
    let plan = s.plan(now + Duration::from_secs(10), &candidates).unwrap();
    assert_eq!(endpoints(&plan), vec![addr("192.0.2.2"), addr("192.0.2.1")]);
    assert_eq!(s.denylisted(now), vec![(addr("192.0.2.1"), until)]);
    assert_eq!(s.next_expiry(), Some(until));
    s.expire(until);
    assert!(!s.is_denylisted(addr("192.0.2.1"), until));
}

#[test]
fn a_session_coming_up_clears_the_denylist() {
    let mut s = selector(LnsBalancing::RoundRobin);
    let now = Instant::now();
    s.report_failure(now, addr("192.0.2.1"));
    s.session_started(addr("192.0.2.1"));
    assert!(!s.is_denylisted(addr("192.0.2.1"), now));
}

#[test]
fn round_robin_rotates_equal_preferences() {
    let mut s = selector(LnsBalancing::RoundRobin);
    let now = Instant::now();
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(1), "b"),
        candidate("192.0.2.3", Some(1), "c"),
    ];
    let firsts: Vec<SocketAddr> = (0..6)
        .map(|_| s.plan(now, &candidates).unwrap()[0].endpoint)
        .collect();
    assert_eq!(
        firsts,
        vec![
            addr("192.0.2.1"),
            addr("192.0.2.2"),
            addr("192.0.2.3"),
            addr("192.0.2.1"),
            addr("192.0.2.2"),
            addr("192.0.2.3")
        ]
    );
}

#[test]
fn least_sessions_prefers_the_emptier_endpoint() {
    let mut s = selector(LnsBalancing::LeastSessions);
    let now = Instant::now();
    for _ in 0..3 {
        s.session_started(addr("192.0.2.1"));
    }
    s.session_started(addr("192.0.2.2"));
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(1), "b"),
    ];
    assert_eq!(
        s.plan(now, &candidates).unwrap()[0].endpoint,
        addr("192.0.2.2")
    );
    s.session_ended(addr("192.0.2.1"));
    s.session_ended(addr("192.0.2.1"));
    s.session_ended(addr("192.0.2.1"));
    assert_eq!(
        s.plan(now, &candidates).unwrap()[0].endpoint,
        addr("192.0.2.1")
    );
}

#[test]
fn weighted_balancing_splits_by_free_capacity() {
    let mut s = Selector::new(
        SelectConfig {
            balancing: LnsBalancing::Weighted,
            capacity: 100,
            ..SelectConfig::default()
        },
        [7; 32],
    );
    let now = Instant::now();
    // .1 is 75 % full: free capacity 25 against 100.
    for _ in 0..75 {
        s.session_started(addr("192.0.2.1"));
    }
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(1), "b"),
    ];
    let mut first_one = 0;
    for _ in 0..2000 {
        let plan = s.plan(now, &candidates).unwrap();
        assert_eq!(plan.len(), 2, "the other stays as failover");
        if plan[0].endpoint == addr("192.0.2.1") {
            first_one += 1;
        }
    }
    // Expected 2000 * 25 / 125 = 400.
    assert!((300..=500).contains(&first_one), "{first_one}");
}

#[test]
fn attempts_are_capped_and_duplicates_merged() {
    let mut s = Selector::new(
        SelectConfig {
            max_attempts: 2,
            ..SelectConfig::default()
        },
        [2; 32],
    );
    let now = Instant::now();
    let plan = s
        .plan(
            now,
            &[
                candidate("192.0.2.1", Some(1), "a"),
                candidate("192.0.2.1", Some(2), "a"),
                candidate("192.0.2.2", Some(3), "b"),
                candidate("192.0.2.3", Some(4), "c"),
            ],
        )
        .unwrap();
    assert_eq!(endpoints(&plan), vec![addr("192.0.2.1"), addr("192.0.2.2")]);
}

#[test]
fn no_candidates_and_unresolved_names_are_errors() {
    let mut s = selector(LnsBalancing::Weighted);
    let now = Instant::now();
    assert_eq!(s.plan(now, &[]), Err(SelectError::NoCandidate));
    let mut named = candidate("192.0.2.1", None, "");
    named.server_endpoint = TunnelEndpoint::Name("lns.example".into());
    assert_eq!(s.plan(now, &[named]), Err(SelectError::NoAddress));
}

#[test]
fn realm_rules_match_domain_or_prefix_and_keep_ports() {
    // As `node::convert` reads `[[lac.realm]]`: no port means 1701.
    let lns = |address: &str, preference| RealmEndpoint {
        address: address
            .parse::<SocketAddr>()
            .unwrap_or_else(|_| SocketAddr::new(address.parse().unwrap(), L2TP_PORT)),
        secret: b"s".to_vec(),
        preference,
        assignment_id: None,
    };
    let realms = vec![
        RealmRule {
            domain: Some("Enterprise.Example".into()),
            prefix: None,
            authorize: None,
            endpoints: vec![lns("192.0.2.10:1702", 2), lns("192.0.2.11", 1)],
        },
        RealmRule {
            domain: None,
            prefix: Some("corp/".into()),
            authorize: None,
            endpoints: vec![lns("192.0.2.20", 0)],
        },
    ];
    assert!(match_realm(&realms, "alice@enterprise.example").is_some());
    assert!(match_realm(&realms, "alice@other.example").is_none());
    let corp = match_realm(&realms, "corp/bob").unwrap();
    assert_eq!(corp.endpoints[0].address, addr("192.0.2.20"));
    let mut s = selector(LnsBalancing::RoundRobin);
    let candidates = realm_candidates(&realms[0]);
    let plan = s.plan_endpoints(Instant::now(), &candidates).unwrap();
    assert_eq!(
        endpoints(&plan),
        vec![addr("192.0.2.11"), "192.0.2.10:1702".parse().unwrap()],
        "preference order, and the realm's port is kept"
    );
    assert_eq!(plan[0].secret, b"s");
}

/// Two workers' selectors on one [`LoadTable`].
fn two_workers(balancing: LnsBalancing, capacity: u32) -> (Selector, Selector) {
    let table = LoadTable::new(2, 16);
    let worker = |index: usize, seed: u8| {
        Selector::new(
            SelectConfig {
                balancing,
                max_attempts: 5,
                capacity,
                shared_load: table.handle(index),
                ..SelectConfig::default()
            },
            [seed; 32],
        )
    };
    (worker(0, 3), worker(1, 4))
}

#[test]
fn least_sessions_counts_every_workers_sessions() {
    let (mut w0, mut w1) = two_workers(LnsBalancing::LeastSessions, 10_000);
    let now = Instant::now();
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(1), "b"),
    ];
    // Worker 0 alone carries .1 twice, worker 1 alone .2 three times: each
    // worker on its own counts would pick the LNS the *other* one loads.
    w0.session_started(addr("192.0.2.1"));
    w0.session_started(addr("192.0.2.1"));
    for _ in 0..3 {
        w1.session_started(addr("192.0.2.2"));
    }
    assert_eq!(
        w0.box_sessions(&[addr("192.0.2.1"), addr("192.0.2.2")]),
        [2, 3]
    );
    assert_eq!(
        w0.sessions(addr("192.0.2.2")),
        0,
        "its own count stays its own"
    );
    for worker in [&mut w0, &mut w1] {
        assert_eq!(
            worker.plan(now, &candidates).unwrap()[0].endpoint,
            addr("192.0.2.1"),
            "2 < 3 box-wide"
        );
    }
    // Worker 1 drops two of its sessions: .2 is now the emptier one, for
    // both workers.
    w1.session_ended(addr("192.0.2.2"));
    w1.session_ended(addr("192.0.2.2"));
    for worker in [&mut w0, &mut w1] {
        assert_eq!(
            worker.plan(now, &candidates).unwrap()[0].endpoint,
            addr("192.0.2.2"),
            "1 < 2 box-wide"
        );
    }
    // A worker that stops takes its sessions out of the others' view.
    drop(w1);
    assert_eq!(
        w0.box_sessions(&[addr("192.0.2.1"), addr("192.0.2.2")]),
        [2, 0]
    );
}

#[test]
fn weighted_balancing_uses_box_wide_free_capacity() {
    let (mut w0, mut w1) = two_workers(LnsBalancing::Weighted, 100);
    let now = Instant::now();
    // .1 is 75 % full box-wide, but worker 0 carries none of it: on its own
    // counts it would split 50/50.
    for _ in 0..75 {
        w1.session_started(addr("192.0.2.1"));
    }
    let candidates = [
        candidate("192.0.2.1", Some(1), "a"),
        candidate("192.0.2.2", Some(1), "b"),
    ];
    let mut first_one = 0;
    for _ in 0..2000 {
        let plan = w0.plan(now, &candidates).unwrap();
        assert_eq!(plan.len(), 2, "the other stays as failover");
        if plan[0].endpoint == addr("192.0.2.1") {
            first_one += 1;
        }
    }
    // Free capacity 25 against 100: expected 2000 * 25 / 125 = 400.
    assert!((300..=500).contains(&first_one), "{first_one}");
    // 25 of .1's sessions move to worker 0 and worker 1 puts 50 on .2:
    // box-wide 75 and 50 whichever worker asks.
    for _ in 0..25 {
        w0.session_started(addr("192.0.2.1"));
    }
    for _ in 0..25 {
        w1.session_ended(addr("192.0.2.1"));
    }
    for _ in 0..50 {
        w1.session_started(addr("192.0.2.2"));
    }
    assert_eq!(
        w0.box_sessions(&[addr("192.0.2.1"), addr("192.0.2.2")]),
        [75, 50]
    );
    let mut first_one = 0;
    for _ in 0..2000 {
        if w1.plan(now, &candidates).unwrap()[0].endpoint == addr("192.0.2.1") {
            first_one += 1;
        }
    }
    // Free capacity 25 against 50: expected 2000 * 25 / 75 ≈ 667.
    assert!((560..=770).contains(&first_one), "{first_one}");
}

#[test]
fn a_second_selector_on_one_workers_row_publishes_nothing() {
    let table = LoadTable::new(2, 4);
    let config = SelectConfig {
        shared_load: table.handle(0),
        ..SelectConfig::default()
    };
    let mut first = Selector::new(config.clone(), [1; 32]);
    let mut second = Selector::new(config, [2; 32]);
    first.session_started(addr("192.0.2.1"));
    second.session_started(addr("192.0.2.1"));
    assert_eq!(table.total(addr("192.0.2.1")), 1);
    // A selector without a shared view counts only its own.
    let mut alone = selector(LnsBalancing::LeastSessions);
    alone.session_started(addr("192.0.2.2"));
    assert_eq!(
        alone.box_sessions(&[addr("192.0.2.1"), addr("192.0.2.2")]),
        [0, 1]
    );
}
