//! A subscriber's pinger: ICMP Echo Requests (RFC 792) to the far end's
//! IPCP address while the session is up, in bursts every `ping_interval`,
//! and the bookkeeping of their Echo Replies — each of the last 64
//! requests is answered at most once, and round-trip times are measured
//! for the current burst. The ICMP Identifier names the subscriber.

use std::time::{Duration, Instant};

/// The pinger of a subscriber.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pinger {
    /// When the next burst falls due.
    pub(super) next: Instant,
    /// The next Sequence Number to send.
    pub(super) seq: u16,
    /// Requests of the current burst still to send.
    pub(super) due: u16,
    /// The current burst: its first Sequence Number and when it fell due
    /// (round-trip times are measured for its replies).
    pub(super) burst: Option<(u16, Instant)>,
    /// Bit `i` set: the request `i + 1` before `seq` is unanswered (the
    /// last 64 requests are tracked; older replies count as unmatched).
    pub(super) outstanding: u64,
}

impl Pinger {
    /// A reply with Sequence Number `seq` arrived: whether it answers an
    /// outstanding request (each is answered once), and the round-trip
    /// time when it belongs to the current burst.
    pub(super) fn answer(&mut self, seq: u16, now: Instant) -> Option<Option<Duration>> {
        let age = self.seq.wrapping_sub(1).wrapping_sub(seq);
        let bit = 1u64.checked_shl(u32::from(age))?;
        if self.outstanding & bit == 0 {
            return None;
        }
        self.outstanding &= !bit;
        let rtt = self.burst.and_then(|(first, at)| {
            let sent_in_burst = self.seq.wrapping_sub(first);
            (seq.wrapping_sub(first) < sent_in_burst).then(|| now.saturating_duration_since(at))
        });
        Some(rtt)
    }

    /// Request `self.seq` was sent.
    pub(super) const fn sent(&mut self) {
        self.outstanding = (self.outstanding << 1) | 1;
        self.seq = self.seq.wrapping_add(1);
        self.due = self.due.saturating_sub(1);
    }
}

/// The ICMP Identifier of subscriber `index`'s pings.
pub(super) const fn ping_ident(index: u32) -> u16 {
    index as u16
}
