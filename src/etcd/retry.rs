//! The one retry policy of the crate and of the worker: bounded exponential
//! backoff (the delays of `backon`), reset after a success. Loops that talk
//! to etcd jitter their delays so that several of them do not retry in step;
//! loops that retry one resource of their own (a downstream connection, a
//! child process) use the plain doubling. Read-compare-write steps whose
//! guarded txn lost to a concurrent writer go again through
//! [`retry_contended`].

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use crate::error::{Error, Result};

/// Bounded exponential backoff: the base delay doubles from `min` up to
/// `max`.
///
/// Jittered ([`Backoff::new`]), a delay lies in `[0.75, 1.5)` times its
/// base: `backon` adds a random part of up to one base to three quarters of
/// it, so a loop never retries sooner than three quarters of the base.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
}

impl Backoff {
    /// Jittered backoff from `min` doubling to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff::from_builder(
            ExponentialBuilder::new()
                .with_min_delay(min.mul_f64(0.75))
                .with_max_delay(max.mul_f64(0.75))
                .with_jitter(),
        )
    }

    /// Backoff without jitter: exactly `min`, `2 min`, ... up to `max`.
    pub fn steady(min: Duration, max: Duration) -> Backoff {
        Backoff::from_builder(
            ExponentialBuilder::new()
                .with_min_delay(min)
                .with_max_delay(max),
        )
    }

    /// The policy the coordinators' watch loops use: 100 ms doubling to 5 s.
    pub fn for_watch() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    fn from_builder(builder: ExponentialBuilder) -> Backoff {
        let builder = builder.with_factor(2.0).without_max_times();
        Backoff {
            builder,
            delays: builder.build(),
        }
    }

    /// The next delay to wait; each call doubles the base up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        // Built without a limit on the number of delays: never exhausted.
        self.delays.next().unwrap_or_default()
    }

    /// Back to the shortest delay, after a step succeeded.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

/// How many attempts a read-compare-write step makes before it reports
/// [`Error::TxnContended`].
pub const CONTENDED_ATTEMPTS: usize = 5;

/// Runs a read-compare-write step until its guarded txn commits.
///
/// `step(attempt)` (attempt 0 first) returns `Some(value)` when it is done
/// and `None` when a key changed between its read and its txn, so the
/// compare failed and the step must read again. The second attempt runs at
/// once: a first attempt is often guarded by what the watch last showed,
/// and its failure only says that view was behind (a delay there would add
/// to a lock's latency under load). From the third attempt on it waits a
/// short jittered delay (1 ms doubling to 50 ms): two writers racing on the
/// same keys fall out of step instead of colliding again. After
/// [`CONTENDED_ATTEMPTS`] lost attempts it fails with
/// `Error::TxnContended { op }`; an error of the step ends it at once.
pub async fn retry_contended<T, F, Fut>(op: &'static str, mut step: F) -> Result<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(50));
    for attempt in 0..CONTENDED_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(backoff.next_delay()).await;
        }
        if let Some(done) = step(attempt).await? {
            return Ok(done);
        }
    }
    Err(Error::TxnContended {
        op,
        attempts: CONTENDED_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittered_delays_grow_to_the_bound_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        let bases = [100u64, 200, 400, 400, 400];
        for (d, base) in delays.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *d >= base.mul_f64(0.75) && *d < base.mul_f64(1.5),
                "{d:?} vs {base:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(150));
    }

    #[test]
    fn steady_delays_double_to_the_bound_and_reset() {
        // `backon` doubles in `f32` seconds: equal to within a microsecond.
        let near = |d: Duration, millis: u64| {
            d.abs_diff(Duration::from_millis(millis)) < Duration::from_micros(1)
        };
        let mut b = Backoff::steady(Duration::from_millis(200), Duration::from_secs(1));
        for millis in [200, 400, 800, 1000, 1000] {
            let d = b.next_delay();
            assert!(near(d, millis), "{d:?} vs {millis} ms");
        }
        b.reset();
        assert!(near(b.next_delay(), 200));
    }

    #[tokio::test]
    async fn contended_steps_run_again_until_they_commit() {
        let mut attempts = Vec::new();
        let done = retry_contended("test step", |attempt| {
            attempts.push(attempt);
            async move { Ok((attempt == 2).then_some("committed")) }
        })
        .await;
        assert_eq!(done.unwrap(), "committed");
        assert_eq!(attempts, [0, 1, 2]);
    }

    #[tokio::test]
    async fn contended_steps_give_up_after_the_last_attempt() {
        let mut calls = 0;
        let err = retry_contended::<(), _, _>("test step", |_| {
            calls += 1;
            async { Ok(None) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, CONTENDED_ATTEMPTS);
        assert_eq!(
            err.to_string(),
            "etcd test step: the keys kept changing during 5 attempts"
        );
    }

    #[tokio::test]
    async fn a_failing_step_ends_the_retries() {
        let mut calls = 0;
        let err = retry_contended::<(), _, _>("test step", |_| {
            calls += 1;
            async {
                Err(Error::LeadershipLost {
                    key: "leader".into(),
                    term: 7,
                })
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(matches!(err, Error::LeadershipLost { term: 7, .. }));
    }
}
