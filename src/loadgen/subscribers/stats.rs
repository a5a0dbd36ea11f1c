//! What the subscriber farm reports: where each subscriber stands
//! ([`Stage`]: PPPoE discovery, RFC 2516 §5, then the PPP phases of
//! RFC 1661 §3.2 — LCP, authentication, the Network phase with IPCP of
//! RFC 1332), the farm's counters and per-phase set-up latencies
//! ([`FarmStats`]), one subscriber's view ([`SubscriberView`]) and the
//! sessions that are up, for a traffic generator ([`UpSession`]).

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::loadgen::LatencyHistogram;
use crate::wire::ethernet::MacAddress;

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Not started yet, or waiting to redial.
    Idle,
    /// PPPoE discovery (PADI … PADS).
    Discovering,
    /// LCP negotiating.
    Lcp,
    /// Authenticating.
    Authenticating,
    /// Network phase, IPCP not Opened.
    Network,
    /// IPCP Opened: pinging.
    Up,
    /// Down for good (no redial, or the farm shut down).
    Ended,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Self; 7] = [
        Self::Idle,
        Self::Discovering,
        Self::Lcp,
        Self::Authenticating,
        Self::Network,
        Self::Up,
        Self::Ended,
    ];

    /// Label for reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Discovering => "discovering",
            Self::Lcp => "lcp",
            Self::Authenticating => "authenticating",
            Self::Network => "network",
            Self::Up => "up",
            Self::Ended => "ended",
        }
    }
}

/// Set-ups that failed, by the stage they failed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetupFailures {
    /// No PADO or PADS, or the PADS refused.
    pub discovery: u64,
    /// LCP did not converge, or the session ended during LCP.
    pub lcp: u64,
    /// Authentication failed or the session ended during it.
    pub auth: u64,
    /// IPCP did not open.
    pub ipcp: u64,
}

/// Sessions that were up and ended, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionEnds {
    /// The access concentrator sent a PADT.
    pub padt: u64,
    /// The peer sent an LCP Terminate-Request.
    pub lcp_terminate: u64,
    /// LCP Echo-Requests went unanswered.
    pub echo_timeout: u64,
    /// Anything else (renegotiation failed, …).
    pub other: u64,
}

/// Set-up latency per phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseLatencies {
    /// PADI sent → PADS received.
    pub discovery: LatencyHistogram,
    /// PADS → LCP Opened.
    pub lcp: LatencyHistogram,
    /// LCP Opened → authentication succeeded (at a LAC this includes
    /// RADIUS and the L2TP tunnel and call).
    pub auth: LatencyHistogram,
    /// Authenticated → IPCP Opened (at a LAC this includes the LNS's LCP
    /// and authentication renegotiation).
    pub ipcp: LatencyHistogram,
    /// First PADI → IPCP Opened.
    pub total: LatencyHistogram,
}

/// A snapshot of the farm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FarmStats {
    /// Subscribers in the farm.
    pub subscribers: u32,
    /// Not started yet, or waiting to redial.
    pub idle: u32,
    /// In PPPoE discovery.
    pub discovering: u32,
    /// Negotiating LCP.
    pub lcp: u32,
    /// Authenticating.
    pub authenticating: u32,
    /// In the Network phase, IPCP not yet Opened.
    pub network: u32,
    /// Up (IPCP Opened).
    pub up: u32,
    /// Down for good.
    pub ended: u32,
    /// Dial attempts started (first dials and redials).
    pub dials: u64,
    /// Set-ups that reached IPCP Opened.
    pub sessions_up: u64,
    /// Set-ups that failed, by stage.
    pub setup_failures: SetupFailures,
    /// Sessions that ended after coming up, by cause.
    pub session_ends: SessionEnds,
    /// ICMP Echo Requests sent.
    pub pings_sent: u64,
    /// Echo Replies matching the last request of their subscriber.
    pub pings_answered: u64,
    /// Echo Replies matching nothing outstanding (late, duplicated,
    /// misaddressed).
    pub pings_unmatched: u64,
    /// Frames received (for one of our subscribers).
    pub frames_received: u64,
    /// Frames received and ignored (not ours, malformed, stale session).
    pub frames_ignored: u64,
    /// Frames handed to the driver.
    pub frames_sent: u64,
    /// Frames the driver reported it could not send.
    pub frames_send_failed: u64,
    /// Set-up latency per phase (first completion of each phase per dial).
    pub setup: PhaseLatencies,
    /// Echo round-trip times.
    pub ping_rtt: LatencyHistogram,
    /// When the first dial started, from the farm's creation.
    pub first_dial_at: Option<Duration>,
    /// When the latest set-up reached IPCP Opened, from the farm's
    /// creation: `sessions_up / (last_up_at - first_dial_at)` is the
    /// set-up rate.
    pub last_up_at: Option<Duration>,
}

impl FarmStats {
    /// Subscribers in `stage`.
    pub const fn in_stage(&self, stage: Stage) -> u32 {
        match stage {
            Stage::Idle => self.idle,
            Stage::Discovering => self.discovering,
            Stage::Lcp => self.lcp,
            Stage::Authenticating => self.authenticating,
            Stage::Network => self.network,
            Stage::Up => self.up,
            Stage::Ended => self.ended,
        }
    }

    /// The counter of subscribers in `stage`.
    pub(super) const fn stage_mut(&mut self, stage: Stage) -> &mut u32 {
        match stage {
            Stage::Idle => &mut self.idle,
            Stage::Discovering => &mut self.discovering,
            Stage::Lcp => &mut self.lcp,
            Stage::Authenticating => &mut self.authenticating,
            Stage::Network => &mut self.network,
            Stage::Up => &mut self.up,
            Stage::Ended => &mut self.ended,
        }
    }
}

/// One subscriber as the farm reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberView {
    /// Its MAC.
    pub mac: MacAddress,
    /// Its stage.
    pub stage: Stage,
    /// PPPoE SESSION_ID, while a session exists.
    pub session_id: Option<u16>,
    /// Its IPCP address, while up.
    pub address: Option<Ipv4Addr>,
    /// The far end's IPCP address (the ping target), while up.
    pub peer_address: Option<Ipv4Addr>,
    /// Dial attempts so far.
    pub dials: u32,
}

/// A subscriber session that is up (IPCP Opened), with everything a
/// traffic generator needs to write frames on it without the farm: see
/// [`crate::loadgen::flood::session_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpSession {
    /// The subscriber's index in the farm.
    pub index: u32,
    /// The subscriber's MAC (the frames' source).
    pub mac: MacAddress,
    /// The access concentrator's MAC (the frames' destination).
    pub ac_mac: MacAddress,
    /// PPPoE SESSION_ID.
    pub session_id: u16,
    /// The subscriber's IPCP address.
    pub address: Ipv4Addr,
    /// The far end's IPCP address.
    pub peer_address: Ipv4Addr,
    /// The largest PPP information field the far end accepts (its MRU).
    pub peer_mru: u16,
}
