//! Token buckets in virtual time, for the PADI rate limits.
//!
//! A bucket holds at most `burst` tokens and gains `rate` tokens per second;
//! each accepted PADI takes one. Time is an argument: the bucket never reads
//! the clock, so tests drive it with a base `Instant` plus offsets.

use std::time::{Duration, Instant};

/// Tokens are counted in millionths so that slow rates refill smoothly.
const SCALE: u64 = 1_000_000;

/// A token bucket: `rate` tokens per second, at most `burst` stored.
///
/// A rate of zero disables the limit: [`TokenBucket::try_take`] always
/// succeeds.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens × [`SCALE`].
    level: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `burst` below 1 is raised to 1 so a non-zero rate
    /// always lets something through.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = burst.max(1);
        Self {
            rate,
            burst,
            level: u64::from(burst) * SCALE,
            last: now,
        }
    }

    /// Whether the limit is disabled (rate 0).
    pub const fn is_unlimited(&self) -> bool {
        self.rate == 0
    }

    fn capacity(&self) -> u64 {
        u64::from(self.burst) * SCALE
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        // elapsed (ns) × rate / 1e9 tokens, in SCALE units: ns × rate / 1000.
        let gained = elapsed.as_nanos().saturating_mul(u128::from(self.rate)) / 1_000;
        let gained = u64::try_from(gained).unwrap_or(u64::MAX);
        self.level = self.level.saturating_add(gained).min(self.capacity());
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.is_unlimited() {
            return true;
        }
        self.refill(now);
        if self.level >= SCALE {
            self.level -= SCALE;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now`: an idle bucket like that
    /// carries no information and may be forgotten.
    pub fn is_full_at(&self, now: Instant) -> bool {
        let mut copy = self.clone();
        copy.refill(now);
        copy.level >= copy.capacity()
    }

    /// How long until a token is available (zero if one is).
    pub fn wait_time(&self, now: Instant) -> Duration {
        if self.is_unlimited() {
            return Duration::ZERO;
        }
        let mut copy = self.clone();
        copy.refill(now);
        if copy.level >= SCALE {
            return Duration::ZERO;
        }
        let missing = SCALE - copy.level;
        // missing / SCALE tokens at rate tokens/s = missing × 1000 / rate ns.
        Duration::from_nanos(missing.saturating_mul(1_000) / u64::from(self.rate).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2, 2, t0);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert_eq!(b.wait_time(t0), Duration::from_millis(500));
        assert!(!b.try_take(t0 + Duration::from_millis(499)));
        assert!(b.try_take(t0 + Duration::from_millis(500)));
        assert!(!b.is_full_at(t0 + Duration::from_millis(500)));
        assert!(b.is_full_at(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, 0, t0);
        for _ in 0..1000 {
            assert!(b.try_take(t0));
        }
    }

    #[test]
    fn time_going_backwards_does_not_panic_or_refill() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = TokenBucket::new(1, 1, t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 - Duration::from_secs(5)));
        assert!(!b.try_take(t0 + Duration::from_millis(999)));
        assert!(b.try_take(t0 + Duration::from_secs(1)));
    }
}
