//! The RFC 1661 §4.1 state transition table as data: the ten states
//! (§4.2), sixteen events (§4.3) and thirteen actions (§4.4), one
//! [`Transition`] per (state, event) pair the RFC defines, and
//! [`render_dot`], which draws the table with Graphviz for the snapshot
//! under test (`tests/snapshots/ppp-fsm.dot`). The automaton that runs it
//! is [`super::Automaton`].

use core::fmt::{self, Write as _};

/// The ten states of RFC 1661 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Lower layer down, no Open.
    Initial,
    /// Open, lower layer down (tls done).
    Starting,
    /// Lower layer up, no Open.
    Closed,
    /// Waiting for a Configure-Request after termination or failure.
    Stopped,
    /// Terminate-Request sent, link closing.
    Closing,
    /// Terminate-Request sent, link stopping.
    Stopping,
    /// Configure-Request sent.
    ReqSent,
    /// Configure-Request sent and acknowledged.
    AckRcvd,
    /// Configure-Request sent, the peer's acknowledged.
    AckSent,
    /// Both acknowledged: the layer is up.
    Opened,
}

impl State {
    /// Every state, in RFC order.
    pub const ALL: [Self; 10] = [
        Self::Initial,
        Self::Starting,
        Self::Closed,
        Self::Stopped,
        Self::Closing,
        Self::Stopping,
        Self::ReqSent,
        Self::AckRcvd,
        Self::AckSent,
        Self::Opened,
    ];

    /// The RFC's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::Starting => "Starting",
            Self::Closed => "Closed",
            Self::Stopped => "Stopped",
            Self::Closing => "Closing",
            Self::Stopping => "Stopping",
            Self::ReqSent => "Req-Sent",
            Self::AckRcvd => "Ack-Rcvd",
            Self::AckSent => "Ack-Sent",
            Self::Opened => "Opened",
        }
    }

    /// RFC 1661 §4.6: the Restart timer runs in these states only ("The
    /// Restart timer is stopped when transitioning from any state where the
    /// timer is running to a state where the timer is not running").
    pub const fn restart_timer_runs(self) -> bool {
        matches!(
            self,
            Self::Closing | Self::Stopping | Self::ReqSent | Self::AckRcvd | Self::AckSent
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The events of RFC 1661 §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Lower layer is Up.
    Up,
    /// Lower layer is Down.
    Down,
    /// Administrative Open.
    Open,
    /// Administrative Close.
    Close,
    /// Timeout with counter > 0.
    TimeoutRetry,
    /// Timeout with counter expired.
    TimeoutExpired,
    /// Receive-Configure-Request (Good).
    RcrGood,
    /// Receive-Configure-Request (Bad).
    RcrBad,
    /// Receive-Configure-Ack.
    Rca,
    /// Receive-Configure-Nak/Rej.
    Rcn,
    /// Receive-Terminate-Request.
    Rtr,
    /// Receive-Terminate-Ack.
    Rta,
    /// Receive-Unknown-Code.
    Ruc,
    /// Receive-Code-Reject (permitted) or Receive-Protocol-Reject.
    RxjGood,
    /// Receive-Code-Reject (catastrophic) or Receive-Protocol-Reject.
    RxjBad,
    /// Receive-Echo-Request, Receive-Echo-Reply, Receive-Discard-Request.
    Rxr,
}

impl Event {
    /// Every event, in RFC order.
    pub const ALL: [Self; 16] = [
        Self::Up,
        Self::Down,
        Self::Open,
        Self::Close,
        Self::TimeoutRetry,
        Self::TimeoutExpired,
        Self::RcrGood,
        Self::RcrBad,
        Self::Rca,
        Self::Rcn,
        Self::Rtr,
        Self::Rta,
        Self::Ruc,
        Self::RxjGood,
        Self::RxjBad,
        Self::Rxr,
    ];

    /// The RFC's abbreviation.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Up => "Up",
            Self::Down => "Down",
            Self::Open => "Open",
            Self::Close => "Close",
            Self::TimeoutRetry => "TO+",
            Self::TimeoutExpired => "TO-",
            Self::RcrGood => "RCR+",
            Self::RcrBad => "RCR-",
            Self::Rca => "RCA",
            Self::Rcn => "RCN",
            Self::Rtr => "RTR",
            Self::Rta => "RTA",
            Self::Ruc => "RUC",
            Self::RxjGood => "RXJ+",
            Self::RxjBad => "RXJ-",
            Self::Rxr => "RXR",
        }
    }
}

/// The actions of RFC 1661 §4.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// This-Layer-Up.
    Tlu,
    /// This-Layer-Down.
    Tld,
    /// This-Layer-Started.
    Tls,
    /// This-Layer-Finished.
    Tlf,
    /// Initialize-Restart-Count (Max-Configure, or Max-Terminate when the
    /// next state is Closing or Stopping).
    Irc,
    /// Zero-Restart-Count (and start the Restart timer).
    Zrc,
    /// Send-Configure-Request.
    Scr,
    /// Send-Configure-Ack.
    Sca,
    /// Send-Configure-Nak/Rej.
    Scn,
    /// Send-Terminate-Request.
    Str,
    /// Send-Terminate-Ack.
    Sta,
    /// Send-Code-Reject.
    Scj,
    /// Send-Echo-Reply.
    Ser,
}

impl Action {
    /// The RFC's abbreviation.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tlu => "tlu",
            Self::Tld => "tld",
            Self::Tls => "tls",
            Self::Tlf => "tlf",
            Self::Irc => "irc",
            Self::Zrc => "zrc",
            Self::Scr => "scr",
            Self::Sca => "sca",
            Self::Scn => "scn",
            Self::Str => "str",
            Self::Sta => "sta",
            Self::Scj => "scj",
            Self::Ser => "ser",
        }
    }
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state the event arrives in.
    pub from: State,
    /// The event.
    pub event: Event,
    /// The actions, in order.
    pub actions: &'static [Action],
    /// The next state.
    pub to: State,
}

const fn t(from: State, event: Event, actions: &'static [Action], to: State) -> Transition {
    Transition {
        from,
        event,
        actions,
        to,
    }
}

use Action::{Irc, Sca, Scj, Scn, Scr, Ser, Sta, Str, Tld, Tlf, Tls, Tlu, Zrc};
use State::{
    AckRcvd, AckSent, Closed, Closing, Initial, Opened, ReqSent, Starting, Stopped, Stopping,
};

/// RFC 1661 §4.1, the state transition table, row by row. The "restart
/// option" (`r` in the RFC's Open column) is not implemented: an Open in
/// Stopped, Closing, Stopping or Opened leaves the state as it is, which
/// the RFC allows ("the implementation MAY ... choose").
pub const TRANSITIONS: &[Transition] = &[
    // Up
    t(Initial, Event::Up, &[], Closed),
    t(Starting, Event::Up, &[Irc, Scr], ReqSent),
    // Down
    t(Closed, Event::Down, &[], Initial),
    t(Stopped, Event::Down, &[Tls], Starting),
    t(Closing, Event::Down, &[], Initial),
    t(Stopping, Event::Down, &[], Starting),
    t(ReqSent, Event::Down, &[], Starting),
    t(AckRcvd, Event::Down, &[], Starting),
    t(AckSent, Event::Down, &[], Starting),
    t(Opened, Event::Down, &[Tld], Starting),
    // Open
    t(Initial, Event::Open, &[Tls], Starting),
    t(Starting, Event::Open, &[], Starting),
    t(Closed, Event::Open, &[Irc, Scr], ReqSent),
    t(Stopped, Event::Open, &[], Stopped),
    t(Closing, Event::Open, &[], Stopping),
    t(Stopping, Event::Open, &[], Stopping),
    t(ReqSent, Event::Open, &[], ReqSent),
    t(AckRcvd, Event::Open, &[], AckRcvd),
    t(AckSent, Event::Open, &[], AckSent),
    t(Opened, Event::Open, &[], Opened),
    // Close
    t(Initial, Event::Close, &[], Initial),
    t(Starting, Event::Close, &[Tlf], Initial),
    t(Closed, Event::Close, &[], Closed),
    t(Stopped, Event::Close, &[], Closed),
    t(Closing, Event::Close, &[], Closing),
    t(Stopping, Event::Close, &[], Closing),
    t(ReqSent, Event::Close, &[Irc, Str], Closing),
    t(AckRcvd, Event::Close, &[Irc, Str], Closing),
    t(AckSent, Event::Close, &[Irc, Str], Closing),
    t(Opened, Event::Close, &[Tld, Irc, Str], Closing),
    // TO+
    t(Closing, Event::TimeoutRetry, &[Str], Closing),
    t(Stopping, Event::TimeoutRetry, &[Str], Stopping),
    t(ReqSent, Event::TimeoutRetry, &[Scr], ReqSent),
    t(AckRcvd, Event::TimeoutRetry, &[Scr], ReqSent),
    t(AckSent, Event::TimeoutRetry, &[Scr], AckSent),
    // TO-
    t(Closing, Event::TimeoutExpired, &[Tlf], Closed),
    t(Stopping, Event::TimeoutExpired, &[Tlf], Stopped),
    t(ReqSent, Event::TimeoutExpired, &[Tlf], Stopped),
    t(AckRcvd, Event::TimeoutExpired, &[Tlf], Stopped),
    t(AckSent, Event::TimeoutExpired, &[Tlf], Stopped),
    // RCR+
    t(Closed, Event::RcrGood, &[Sta], Closed),
    t(Stopped, Event::RcrGood, &[Irc, Scr, Sca], AckSent),
    t(Closing, Event::RcrGood, &[], Closing),
    t(Stopping, Event::RcrGood, &[], Stopping),
    t(ReqSent, Event::RcrGood, &[Sca], AckSent),
    t(AckRcvd, Event::RcrGood, &[Sca, Tlu], Opened),
    t(AckSent, Event::RcrGood, &[Sca], AckSent),
    t(Opened, Event::RcrGood, &[Tld, Scr, Sca], AckSent),
    // RCR-
    t(Closed, Event::RcrBad, &[Sta], Closed),
    t(Stopped, Event::RcrBad, &[Irc, Scr, Scn], ReqSent),
    t(Closing, Event::RcrBad, &[], Closing),
    t(Stopping, Event::RcrBad, &[], Stopping),
    t(ReqSent, Event::RcrBad, &[Scn], ReqSent),
    t(AckRcvd, Event::RcrBad, &[Scn], AckRcvd),
    t(AckSent, Event::RcrBad, &[Scn], ReqSent),
    t(Opened, Event::RcrBad, &[Tld, Scr, Scn], ReqSent),
    // RCA
    t(Closed, Event::Rca, &[Sta], Closed),
    t(Stopped, Event::Rca, &[Sta], Stopped),
    t(Closing, Event::Rca, &[], Closing),
    t(Stopping, Event::Rca, &[], Stopping),
    t(ReqSent, Event::Rca, &[Irc], AckRcvd),
    t(AckRcvd, Event::Rca, &[Scr], ReqSent),
    t(AckSent, Event::Rca, &[Irc, Tlu], Opened),
    t(Opened, Event::Rca, &[Tld, Scr], ReqSent),
    // RCN
    t(Closed, Event::Rcn, &[Sta], Closed),
    t(Stopped, Event::Rcn, &[Sta], Stopped),
    t(Closing, Event::Rcn, &[], Closing),
    t(Stopping, Event::Rcn, &[], Stopping),
    t(ReqSent, Event::Rcn, &[Irc, Scr], ReqSent),
    t(AckRcvd, Event::Rcn, &[Scr], ReqSent),
    t(AckSent, Event::Rcn, &[Irc, Scr], AckSent),
    t(Opened, Event::Rcn, &[Tld, Scr], ReqSent),
    // RTR
    t(Closed, Event::Rtr, &[Sta], Closed),
    t(Stopped, Event::Rtr, &[Sta], Stopped),
    t(Closing, Event::Rtr, &[Sta], Closing),
    t(Stopping, Event::Rtr, &[Sta], Stopping),
    t(ReqSent, Event::Rtr, &[Sta], ReqSent),
    t(AckRcvd, Event::Rtr, &[Sta], ReqSent),
    t(AckSent, Event::Rtr, &[Sta], ReqSent),
    t(Opened, Event::Rtr, &[Tld, Zrc, Sta], Stopping),
    // RTA
    t(Closed, Event::Rta, &[], Closed),
    t(Stopped, Event::Rta, &[], Stopped),
    t(Closing, Event::Rta, &[Tlf], Closed),
    t(Stopping, Event::Rta, &[Tlf], Stopped),
    t(ReqSent, Event::Rta, &[], ReqSent),
    t(AckRcvd, Event::Rta, &[], ReqSent),
    t(AckSent, Event::Rta, &[], AckSent),
    t(Opened, Event::Rta, &[Tld, Scr], ReqSent),
    // RUC
    t(Closed, Event::Ruc, &[Scj], Closed),
    t(Stopped, Event::Ruc, &[Scj], Stopped),
    t(Closing, Event::Ruc, &[Scj], Closing),
    t(Stopping, Event::Ruc, &[Scj], Stopping),
    t(ReqSent, Event::Ruc, &[Scj], ReqSent),
    t(AckRcvd, Event::Ruc, &[Scj], AckRcvd),
    t(AckSent, Event::Ruc, &[Scj], AckSent),
    t(Opened, Event::Ruc, &[Scj], Opened),
    // RXJ+
    t(Closed, Event::RxjGood, &[], Closed),
    t(Stopped, Event::RxjGood, &[], Stopped),
    t(Closing, Event::RxjGood, &[], Closing),
    t(Stopping, Event::RxjGood, &[], Stopping),
    t(ReqSent, Event::RxjGood, &[], ReqSent),
    t(AckRcvd, Event::RxjGood, &[], ReqSent),
    t(AckSent, Event::RxjGood, &[], AckSent),
    t(Opened, Event::RxjGood, &[], Opened),
    // RXJ-
    t(Closed, Event::RxjBad, &[Tlf], Closed),
    t(Stopped, Event::RxjBad, &[Tlf], Stopped),
    t(Closing, Event::RxjBad, &[Tlf], Closed),
    t(Stopping, Event::RxjBad, &[Tlf], Stopped),
    t(ReqSent, Event::RxjBad, &[Tlf], Stopped),
    t(AckRcvd, Event::RxjBad, &[Tlf], Stopped),
    t(AckSent, Event::RxjBad, &[Tlf], Stopped),
    t(Opened, Event::RxjBad, &[Tld, Irc, Str], Stopping),
    // RXR
    t(Closed, Event::Rxr, &[], Closed),
    t(Stopped, Event::Rxr, &[], Stopped),
    t(Closing, Event::Rxr, &[], Closing),
    t(Stopping, Event::Rxr, &[], Stopping),
    t(ReqSent, Event::Rxr, &[], ReqSent),
    t(AckRcvd, Event::Rxr, &[], AckRcvd),
    t(AckSent, Event::Rxr, &[], AckSent),
    t(Opened, Event::Rxr, &[Ser], Opened),
];

/// The transition for `(state, event)`, or `None` for the RFC's "-".
pub fn transition(state: State, event: Event) -> Option<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|row| row.from == state && row.event == event)
}

/// The transition table as a Graphviz digraph, one edge per row, in table
/// order (deterministic, for the snapshot test).
pub fn render_dot() -> String {
    let mut out = String::new();
    out.push_str("// RFC 1661 §4.1 option-negotiation automaton (generated by\n");
    out.push_str("// tunnelnas::ppp::fsm::render_dot; regenerate with\n");
    out.push_str("// UPDATE_SNAPSHOTS=1 cargo test --test ppp_fsm_snapshot).\n");
    out.push_str("digraph ppp_fsm {\n    rankdir=LR;\n    node [shape=box];\n");
    for state in State::ALL {
        let _ = writeln!(out, "    \"{state}\";");
    }
    for row in TRANSITIONS {
        let actions: Vec<&str> = row.actions.iter().map(|a| a.name()).collect();
        let label = if actions.is_empty() {
            row.event.name().to_owned()
        } else {
            format!("{} / {}", row.event.name(), actions.join(","))
        };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\" [label=\"{}\"];",
            row.from, row.to, label
        );
    }
    out.push_str("}\n");
    out
}
