//! The RFC 1661 automaton's transition table, rendered with Graphviz, must
//! match the checked-in snapshot so that a change to the machine shows up
//! in review. Regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test --test ppp_fsm_snapshot`.

use std::path::Path;

use tunnelnas::ppp::fsm::{Event, State, TRANSITIONS, render_dot, transition};

const SNAPSHOT: &str = "tests/snapshots/ppp-fsm.dot";

#[test]
fn transition_table_matches_snapshot() {
    let rendered = render_dot();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &rendered).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == rendered,
        "the PPP automaton differs from {SNAPSHOT}; review the change and \
         regenerate with `UPDATE_SNAPSHOTS=1 cargo test --test ppp_fsm_snapshot`\n\
         --- rendered ---\n{rendered}"
    );
}

#[test]
fn table_has_one_row_per_pair_and_matches_rfc_shape() {
    for (i, a) in TRANSITIONS.iter().enumerate() {
        for b in &TRANSITIONS[i + 1..] {
            assert!(
                !(a.from == b.from && a.event == b.event),
                "duplicate row {:?} {:?}",
                a.from,
                a.event
            );
        }
    }
    // RFC 1661 §4.1: Up, Down, Open and Close are defined in Initial and
    // Starting only where the table says; received packets never are.
    for event in [
        Event::RcrGood,
        Event::RcrBad,
        Event::Rca,
        Event::Rcn,
        Event::Rtr,
        Event::Rta,
        Event::Ruc,
        Event::RxjGood,
        Event::RxjBad,
        Event::Rxr,
        Event::TimeoutRetry,
        Event::TimeoutExpired,
    ] {
        assert!(transition(State::Initial, event).is_none());
        assert!(transition(State::Starting, event).is_none());
    }
    // Every state from Closed on handles every received packet.
    for state in &State::ALL[2..] {
        for event in [
            Event::RcrGood,
            Event::Rca,
            Event::Rtr,
            Event::Ruc,
            Event::RxjBad,
        ] {
            assert!(transition(*state, event).is_some(), "{state:?} {event:?}");
        }
    }
    // Timers only where the Restart timer runs.
    for state in State::ALL {
        assert_eq!(
            transition(state, Event::TimeoutRetry).is_some(),
            state.restart_timer_runs(),
            "{state:?}"
        );
    }
    assert_eq!(TRANSITIONS.len(), 2 + 8 + 10 + 10 + 5 + 5 + 8 * 10);
}
