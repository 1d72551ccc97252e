//! Adaptive pacing of IAM writes. IAM throttles writes account-wide and publishes no rate, so a
//! fixed concurrency either wastes time or hammers the limit every other deployer shares. Like the
//! AWS SDKs' adaptive retry mode, writes go unpaced until IAM first throttles; from then on a token
//! bucket paces them: its rate drops to 70% of the rate actually sent when a write is throttled (at
//! most once a second: the throttles of one burst reflect one rate), and grows back by a step with
//! every success, so it settles just under the limit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Slowest pace (writes per second) the bucket falls to.
const MIN_RATE: f64 = 2.0;
/// Fastest pace it climbs to; above this it is switched off again.
const MAX_RATE: f64 = 200.0;
/// Multiplicative decrease on a throttle.
const BACKOFF: f64 = 0.7;
/// Additive increase per success, in writes per second.
const STEP: f64 = 0.1;
/// At most one decrease per this window.
const REDUCTION_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    /// `None`: unpaced (no throttle seen yet, or the rate climbed past the maximum).
    rate: Option<f64>,
    tokens: f64,
    refilled: Instant,
    /// When the writes of the last second were sent, to measure the rate actually sent.
    sent: VecDeque<Instant>,
    /// When the rate was last decreased.
    reduced: Option<Instant>,
}

/// Paces IAM writes; shared by every invocation of the process.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::new(State {
                rate: None,
                tokens: 1.0,
                refilled: Instant::now(),
                sent: VecDeque::new(),
                reduced: None,
            }),
        }
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a write may be sent.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                while s
                    .sent
                    .front()
                    .is_some_and(|t| now - *t > Duration::from_secs(1))
                {
                    s.sent.pop_front();
                }
                match s.rate {
                    None => {
                        s.sent.push_back(now);
                        return;
                    }
                    Some(rate) => {
                        let elapsed = (now - s.refilled).as_secs_f64();
                        // No burst: a limit like IAM's refills continuously, and a burst after a
                        // pause would be throttled as a whole.
                        s.tokens = (s.tokens + elapsed * rate).min(1.0);
                        s.refilled = now;
                        if s.tokens >= 1.0 {
                            s.tokens -= 1.0;
                            s.sent.push_back(now);
                            return;
                        }
                        // At least a millisecond: a wait that rounds to zero would spin.
                        Duration::from_secs_f64((1.0 - s.tokens) / rate)
                            .max(Duration::from_millis(1))
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// A write was throttled: pace at 70% of what was actually sent in the last second.
    pub fn throttled(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        if s.reduced.is_some_and(|t| now - t < REDUCTION_WINDOW) {
            return;
        }
        s.reduced = Some(now);
        let sent = s.sent.len() as f64;
        let base = match s.rate {
            Some(r) => r.min(sent.max(MIN_RATE)),
            None => sent.max(MIN_RATE),
        };
        s.rate = Some((base * BACKOFF).max(MIN_RATE));
        s.tokens = 0.0;
        s.refilled = Instant::now();
    }

    /// A write succeeded: climb back a little.
    pub fn succeeded(&self) {
        let mut s = self.lock();
        if let Some(r) = s.rate {
            let next = r + STEP;
            s.rate = (next < MAX_RATE).then_some(next);
        }
    }

    /// The current pace, if any.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_are_unpaced_until_the_first_throttle() {
        let p = Pacer::default();
        let start = Instant::now();
        for _ in 0..100 {
            p.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(p.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_paces_writes_below_what_was_sent_and_successes_climb_back() {
        let p = Pacer::default();
        for _ in 0..20 {
            p.acquire().await;
        }
        p.throttled();
        p.throttled();
        let rate = p.rate().unwrap();
        assert!(
            (rate - 14.0).abs() < 0.01,
            "70% of 20 sent, once per burst: {rate}"
        );
        let start = Instant::now();
        for _ in 0..28 {
            p.acquire().await;
        }
        let secs = start.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&secs), "28 writes at 14/s: {secs}");
        for _ in 0..10 {
            p.succeeded();
        }
        assert!(p.rate().unwrap() > rate);
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_throttles_lower_the_pace_once_a_second_down_to_the_floor() {
        let p = Pacer::default();
        for _ in 0..50 {
            p.throttled();
            tokio::time::sleep(REDUCTION_WINDOW).await;
        }
        assert_eq!(p.rate(), Some(MIN_RATE));
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_fixed_limit_the_pace_settles_close_to_it_with_few_throttles() {
        // IAM as a token bucket of 10 writes/s: a write beyond it is throttled.
        let p = Pacer::default();
        let limit = 10.0;
        let (mut bucket, mut last) = (limit, Instant::now());
        let (mut writes, mut throttles) = (0u32, 0u32);
        let start = Instant::now();
        while writes < 300 {
            p.acquire().await;
            let now = Instant::now();
            bucket = (bucket + (now - last).as_secs_f64() * limit).min(limit);
            last = now;
            if bucket >= 1.0 {
                bucket -= 1.0;
                writes += 1;
                p.succeeded();
            } else {
                throttles += 1;
                p.throttled();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let bound = 300.0 / limit;
        let took = start.elapsed().as_secs_f64();
        assert!(
            bound / took >= 0.8,
            "{:.0}% of the bound",
            100.0 * bound / took
        );
        assert!(
            throttles * 4 <= writes,
            "{throttles} throttled attempts for {writes} writes"
        );
    }
}
