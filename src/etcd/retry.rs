//! Retry policy for loops that talk to etcd: jittered, bounded exponential
//! backoff, reset after a success.

use std::time::Duration;

/// Bounded exponential backoff with ±25 % jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            current: min,
        }
    }

    /// The policy the coordinators' watch loops use: 100 ms doubling to 5 s.
    pub fn for_watch() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The next delay to wait; each call doubles the base up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        jitter(base)
    }

    /// Back to the shortest delay, after a step succeeded.
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

/// Spreads retries of several loops apart: ±25 % of `base`, derived from the
/// clock's sub-second noise (good enough to de-synchronise; not a RNG).
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let spread = (nanos % 501) as f64 / 1000.0; // 0.0 ..= 0.5
    base.mul_f64(0.75 + spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_bound_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        let bases = [100u64, 200, 400, 400, 400];
        for (d, base) in delays.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *d >= base.mul_f64(0.75) && *d <= base.mul_f64(1.25),
                "{d:?} vs {base:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
    }
}
