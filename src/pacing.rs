//! Adaptive pacing of IAM writes. IAM throttles writes account-wide and publishes no rate, so a
//! fixed concurrency either wastes time or hammers the limit every other deployer shares. Like the
//! AWS SDKs' adaptive retry mode, writes go unpaced until IAM first throttles; from then on a token
//! bucket paces them. A throttle marks a ceiling (the rate at which writes were getting through) and
//! drops the pace below it (once per burst: only a write let go after a decrease can say the new
//! pace is still too fast); each
//! success then closes part of the gap to just under that ceiling, so the pace spends its time near
//! the limit rather than climbing back linearly from far below it, and probes above it slowly.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Slowest pace (writes per second) the bucket falls to.
const MIN_RATE: f64 = 2.0;
/// Fastest pace it climbs to; above this it is switched off again.
const MAX_RATE: f64 = 200.0;
/// Multiplicative decrease on a throttle.
const BACKOFF: f64 = 0.75;
/// Where the pace aims after a throttle, as a share of the ceiling the throttle marked.
const TARGET: f64 = 0.95;
/// Share of the gap to the target a success closes.
const APPROACH: f64 = 0.15;
/// Slowest climb per success, in writes per second (the probe above the target).
const STEP: f64 = 0.03;
/// Shortest time a burst's rate is measured over.
const MIN_WINDOW: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct State {
    /// `None`: unpaced (no throttle seen yet, or the rate climbed past the maximum).
    rate: Option<f64>,
    tokens: f64,
    refilled: Instant,
    /// When the writes of the last second were sent, to measure the rate actually sent.
    sent: VecDeque<Instant>,
    /// The pace a throttle last interrupted.
    ceiling: f64,
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
                ceiling: 0.0,
                reduced: None,
            }),
        }
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a write may be sent; returns when it was let go, for [`Pacer::throttled`].
    pub async fn acquire(&self) -> Instant {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                forget_older_than_a_second(&mut s.sent, now);
                match s.rate {
                    None => {
                        s.sent.push_back(now);
                        return now;
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
                            return now;
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

    /// A write was throttled: the rate writes were getting through at becomes the ceiling, and
    /// the pace drops below it.
    /// A write let go before the last decrease says nothing about the pace set since: the
    /// throttles of one burst lower the pace once.
    pub fn throttled(&self, sent: Instant) {
        let mut s = self.lock();
        let now = Instant::now();
        if s.reduced.is_some_and(|t| sent <= t) {
            return;
        }
        s.reduced = Some(now);
        forget_older_than_a_second(&mut s.sent, now);
        // The pace a throttle interrupts is the ceiling; before the first throttle, the rate
        // actually sent (an unpaced burst): the writes of the last second over the time they took,
        // at least a tenth of a second — two writes let go at once are not a rate of two a second.
        let window = s
            .sent
            .front()
            .map_or(Duration::from_secs(1), |t| now - *t)
            .clamp(MIN_WINDOW, Duration::from_secs(1));
        let sent = s.sent.len() as f64 / window.as_secs_f64();
        let ceiling = s
            .rate
            .map_or(sent, |r| r.min(sent.max(MIN_RATE)))
            .max(MIN_RATE);
        s.ceiling = ceiling;
        s.rate = Some((ceiling * BACKOFF).max(MIN_RATE));
        s.tokens = 0.0;
        s.refilled = now;
    }

    /// A write succeeded: close part of the gap to just under the ceiling, or probe above it.
    pub fn succeeded(&self) {
        let mut s = self.lock();
        if let Some(r) = s.rate {
            let next = r + (APPROACH * (TARGET * s.ceiling - r)).max(STEP);
            s.rate = (next < MAX_RATE).then_some(next);
        }
    }

    /// The current pace, if any.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }
}

/// Drops the instants of a window that are more than a second old.
fn forget_older_than_a_second(window: &mut VecDeque<Instant>, now: Instant) {
    while window
        .front()
        .is_some_and(|t| now - *t > Duration::from_secs(1))
    {
        window.pop_front();
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
        let mut burst = Vec::new();
        for _ in 0..20 {
            burst.push(p.acquire().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for sent in burst {
            p.throttled(sent);
        }
        let rate = p.rate().unwrap();
        // 20 writes over the last second: 20/s sent; 75% of it.
        assert!(
            (rate - 15.0).abs() < 0.01,
            "75% of what was sent, once per burst: {rate}"
        );
        let start = Instant::now();
        for _ in 0..30 {
            p.acquire().await;
        }
        let secs = start.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&secs), "30 writes at 15/s: {secs}");
        for _ in 0..10 {
            p.succeeded();
        }
        assert!(p.rate().unwrap() > rate);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_let_go_after_a_decrease_lowers_the_pace_again_down_to_the_floor() {
        let p = Pacer::default();
        let mut burst = Vec::new();
        for _ in 0..100 {
            burst.push(p.acquire().await);
        }
        p.throttled(burst[0]);
        let mut rate = p.rate().unwrap();
        assert!(
            (rate - 750.0).abs() < 0.01,
            "75% of 100 let go at once, over a tenth of a second: {rate}"
        );
        // The rest of the burst was let go before the decrease: it says nothing new.
        p.throttled(burst[99]);
        assert_eq!(p.rate(), Some(rate));
        let mut decreases = 0;
        while rate > MIN_RATE {
            let sent = p.acquire().await;
            p.throttled(sent);
            let now = p.rate().unwrap();
            assert!(
                now < rate,
                "a write let go after the decrease lowers it: {rate} -> {now}"
            );
            rate = now;
            decreases += 1;
        }
        assert!(decreases >= 5, "75/s down to 2/s by 75% steps: {decreases}");
        assert_eq!(p.rate(), Some(MIN_RATE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_of_a_tiny_burst_does_not_pace_writes_at_a_crawl() {
        // Two writes let go at once (a phase of two policies) and one throttled: that says the
        // burst was too sudden, not that IAM allows two writes a second.
        let p = Pacer::default();
        let first = p.acquire().await;
        p.acquire().await;
        p.throttled(first);
        assert!(p.rate().unwrap() >= 15.0, "{:?}", p.rate());
    }

    /// IAM imitated as a token bucket of `limit` writes/s holding at most `burst`; `writers`
    /// concurrent writers, each write taking `latency`. Returns the share of the bound reached and
    /// the throttled attempts per write.
    async fn against_a_limit(limit: f64, burst: f64, writers: usize, writes: u32) -> (f64, f64) {
        use std::sync::Arc;
        let p = Arc::new(Pacer::default());
        let iam = Arc::new(Mutex::new((burst, Instant::now(), 0u32, 0u32)));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (p, iam) = (p.clone(), iam.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let sent = p.acquire().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let admitted = {
                        let mut b = iam.lock().unwrap();
                        if b.2 >= writes {
                            return;
                        }
                        let now = Instant::now();
                        b.0 = (b.0 + (now - b.1).as_secs_f64() * limit).min(burst);
                        b.1 = now;
                        if b.0 >= 1.0 {
                            b.0 -= 1.0;
                            b.2 += 1;
                            true
                        } else {
                            b.3 += 1;
                            false
                        }
                    };
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if admitted {
                        p.succeeded();
                    } else {
                        p.throttled(sent);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (_, _, done, throttled) = *iam.lock().unwrap();
        let bound = done as f64 / limit;
        (
            bound / start.elapsed().as_secs_f64(),
            throttled as f64 / done as f64,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_strict_limit_the_pace_settles_close_to_it_with_few_throttles() {
        let (share, throttled) = against_a_limit(10.0, 1.0, 16, 300).await;
        assert!(share >= 0.8, "{:.0}% of the bound", 100.0 * share);
        assert!(throttled <= 0.25, "{:.0}% throttled", 100.0 * throttled);
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_limit_with_a_burst_the_pace_settles_close_to_it_with_few_throttles() {
        let (share, throttled) = against_a_limit(10.0, 10.0, 16, 300).await;
        assert!(share >= 0.8, "{:.0}% of the bound", 100.0 * share);
        assert!(throttled <= 0.25, "{:.0}% throttled", 100.0 * throttled);
    }
}
