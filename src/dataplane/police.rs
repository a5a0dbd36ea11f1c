//! Per-session policing on the forwarding path: a token bucket per
//! direction (single-rate, two-colour, as RFC 2697 §3 describes its
//! Committed bucket), fed by the rate RADIUS returns (tunnelnas VSA,
//! Cisco-AVPair `rate-limit`, Mikrotik-Rate-Limit — see
//! [`crate::aaa::attributes`]) and changeable by CoA.
//!
//! Integer arithmetic only, time passed in, no allocation: it sits on the
//! per-packet path.

use std::time::{Duration, Instant};

/// A token bucket in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policer {
    /// Bytes per second.
    rate: u64,
    /// Bucket depth in bytes.
    burst: u64,
    /// Tokens now, in bytes.
    tokens: u64,
    /// Fractional tokens (nanobyte) carried between refills.
    remainder: u64,
    last: Instant,
}

impl Policer {
    /// A full bucket for `rate_bps` bits per second; the burst is
    /// `burst_bytes`, or 100 ms of traffic but at least one 1500-byte frame
    /// when `None` (a common default for residential policers).
    pub fn new(now: Instant, rate_bps: u64, burst_bytes: Option<u64>) -> Self {
        let rate = rate_bps / 8;
        let burst = burst_bytes.unwrap_or(rate / 10).max(1500);
        Self {
            rate,
            burst,
            tokens: burst,
            remainder: 0,
            last: now,
        }
    }

    /// Changes the rate (a CoA), keeping the tokens the bucket has (capped
    /// to the new depth).
    pub fn set_rate(&mut self, now: Instant, rate_bps: u64, burst_bytes: Option<u64>) {
        self.refill(now);
        let fresh = Self::new(now, rate_bps, burst_bytes);
        self.rate = fresh.rate;
        self.burst = fresh.burst;
        self.tokens = self.tokens.min(self.burst);
    }

    /// Whether a frame of `len` bytes conforms; conforming frames take
    /// their tokens, the others are to be dropped.
    pub fn admit(&mut self, now: Instant, len: usize) -> bool {
        self.refill(now);
        let len = len as u64;
        if self.tokens >= len {
            self.tokens -= len;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now.max(self.last);
        if elapsed.is_zero() {
            return;
        }
        // Cap the interval so the product cannot overflow: after the
        // bucket's fill time more time adds nothing.
        let elapsed = elapsed.min(Duration::from_secs(3600));
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let produced = u128::from(self.rate) * u128::from(nanos) + u128::from(self.remainder);
        let whole = produced / 1_000_000_000;
        self.remainder = (produced % 1_000_000_000) as u64;
        self.tokens = self
            .tokens
            .saturating_add(u64::try_from(whole).unwrap_or(u64::MAX))
            .min(self.burst);
        if self.tokens == self.burst {
            self.remainder = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_run_rate_matches_the_configured_rate() {
        let start = Instant::now();
        // 8 Mbit/s = 1,000,000 bytes/s; offered 2× that in 1000-byte frames.
        let mut p = Policer::new(start, 8_000_000, Some(10_000));
        let mut passed = 0u64;
        for i in 0..20_000u64 {
            let now = start + Duration::from_micros(i * 500);
            if p.admit(now, 1000) {
                passed += 1000;
            }
        }
        // 10 s of traffic: about 10 MB plus the initial burst.
        let expected = 10_000_000 + 10_000;
        assert!(passed.abs_diff(expected) <= 2_000, "{passed}");
    }

    #[test]
    fn burst_then_drop_then_refill() {
        let start = Instant::now();
        let mut p = Policer::new(start, 1_000_000, Some(3000));
        assert!(p.admit(start, 1500));
        assert!(p.admit(start, 1500));
        assert!(!p.admit(start, 1500), "the bucket is empty");
        // 125,000 bytes/s: 1500 bytes take 12 ms.
        assert!(!p.admit(start + Duration::from_millis(11), 1500));
        assert!(p.admit(start + Duration::from_millis(12), 1500));
        // An idle hour refills to the burst, not beyond.
        let later = start + Duration::from_secs(3600 * 5);
        assert!(p.admit(later, 1500) && p.admit(later, 1500) && !p.admit(later, 1500));
    }

    #[test]
    fn coa_changes_the_rate_and_caps_tokens() {
        let start = Instant::now();
        let mut p = Policer::new(start, 100_000_000, Some(1_000_000));
        p.set_rate(start, 1_000_000, Some(2000));
        assert!(p.admit(start, 1500));
        assert!(!p.admit(start, 1500), "tokens capped to the new depth");
        // Time going backwards (a clock quirk) never panics or mints tokens.
        let earlier = start.checked_sub(Duration::from_millis(5)).unwrap_or(start);
        assert!(!p.admit(earlier, 1500));
    }
}
