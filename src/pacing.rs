//! Adaptive pacing of IAM writes. IAM throttles writes account-wide and publishes no rate, so a
//! fixed concurrency either wastes time or hammers the limit every other deployer shares. Like the
//! AWS SDKs' adaptive retry mode, writes go unpaced until IAM first throttles (four in flight at
//! first, one more every second success, as TCP's slow start opens its window); from then on a
//! token bucket paces them.
//!
//! A throttle marks a ceiling and drops the pace to three quarters of it, once per burst of
//! throttles (only a write let go after a decrease can say the new pace is still too fast). The
//! ceiling is the pace the throttle interrupted; for the first throttle, of unpaced writes, what
//! IAM admitted in the last second (not the rate sent: unpaced writes go out hundreds a second, and
//! a limit with a one-second burst lets that second's worth through at once), or, when IAM
//! admitted next to nothing (a strict limit throttles the second of two writes let go together),
//! the rate those writes went out at. Each success closes part of the gap to just under the
//! ceiling, then probes above it: slowly, or, while the ceiling is the unpaced one (which
//! undercounts writes admitted but not yet answered), by 1% of the pace per success.

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
/// Shortest time an unpaced burst's rate is measured over.
const MIN_WINDOW: Duration = Duration::from_millis(100);
/// Slowest climb per success, in writes per second (the probe above the ceiling).
const STEP: f64 = 0.01;
/// Climb per success above a ceiling measured on unpaced writes, as a share of the pace: what IAM
/// had admitted when the first throttle came back undercounts (writes admitted but not yet
/// answered), so until a paced write is throttled the probe is quicker.
const PROVISIONAL_STEP: f64 = 0.01;
/// The window IAM's admissions are counted over.
const WINDOW: Duration = Duration::from_secs(1);
/// Writes in flight at first, before any throttle; every second success adds one (the window grows
/// by half each round trip, a gentler TCP slow start), so a small resource is hardly slowed and a
/// large one does not hit IAM with its whole concurrency before answers say whether it may.
const INITIAL_IN_FLIGHT: usize = 4;
/// The window stops growing here (the provider's concurrency is at most 64).
const MAX_IN_FLIGHT: usize = 64;

#[derive(Debug)]
struct State {
    /// `None`: unpaced (no throttle seen yet, or the rate climbed past the maximum).
    rate: Option<f64>,
    tokens: f64,
    refilled: Instant,
    /// When the writes IAM admitted in the last second succeeded.
    admitted: VecDeque<Instant>,
    /// The limit as the last throttle marked it.
    ceiling: f64,
    /// When the writes of the last second were let go.
    sent: VecDeque<Instant>,
    /// Whether the ceiling was measured on unpaced writes (see [`PROVISIONAL_STEP`]).
    provisional: bool,
    /// When the rate was last decreased.
    reduced: Option<Instant>,
    /// Writes let go and not yet answered.
    in_flight: usize,
    /// How many may be in flight while unpaced.
    window: usize,
    /// Successes while unpaced.
    unpaced_successes: usize,
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
                admitted: VecDeque::new(),
                ceiling: 0.0,
                sent: VecDeque::new(),
                provisional: false,
                reduced: None,
                in_flight: 0,
                window: INITIAL_IN_FLIGHT,
                unpaced_successes: 0,
            }),
        }
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a write may be sent, but not past `stop_at` (`None` then: no write may start
    /// after the invocation's soft stop, however long the queue). See [`Pacer::acquire`].
    pub async fn acquire_before(&self, stop_at: Instant) -> Option<Permit<'_>> {
        tokio::time::timeout_at(stop_at, self.acquire()).await.ok()
    }

    /// Waits until a write may be sent. The permit says when it was let go; hand it back with
    /// [`Pacer::succeeded`] or [`Pacer::throttled`]. Dropped (another answer, or the invocation's
    /// work cancelled at its deadline), it is simply no longer in flight.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.rate {
                    None if s.in_flight < s.window => {
                        s.in_flight += 1;
                        forget_older_than(&mut s.sent, now, WINDOW);
                        s.sent.push_back(now);
                        return Permit {
                            pacer: self,
                            sent: now,
                        };
                    }
                    // Unpaced, with the window full: wait for an answer.
                    None => Duration::from_millis(2),
                    Some(rate) => {
                        let elapsed = (now - s.refilled).as_secs_f64();
                        // No burst: a limit like IAM's refills continuously, and a burst after a
                        // pause would be throttled as a whole.
                        s.tokens = (s.tokens + elapsed * rate).min(1.0);
                        s.refilled = now;
                        if s.tokens >= 1.0 {
                            s.tokens -= 1.0;
                            s.in_flight += 1;
                            return Permit {
                                pacer: self,
                                sent: now,
                            };
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

    /// A write let go at `sent` was throttled: the pace it interrupted becomes the ceiling, or,
    /// when writes were unpaced, what IAM admitted in the last second; the pace drops below it. A
    /// write let go before the last decrease says nothing about the pace set since: the throttles
    /// of one burst lower the pace once.
    pub fn throttled(&self, permit: Permit<'_>) {
        let sent = permit.sent;
        drop(permit);
        let mut s = self.lock();
        let now = Instant::now();
        if s.reduced.is_some_and(|t| sent <= t) {
            return;
        }
        s.reduced = Some(now);
        forget_older_than(&mut s.admitted, now, WINDOW);
        forget_older_than(&mut s.sent, now, WINDOW);
        let admitted = s.admitted.len() as f64 / WINDOW.as_secs_f64();
        let ceiling = match s.rate {
            Some(rate) => rate,
            // Unpaced: what IAM admitted in the last second, unless that is next to nothing (a
            // strict limit throttles the second of two writes let go at once): then the rate the
            // writes went out at, over at least a tenth of a second — two writes let go at once
            // are not a rate of two a second.
            None if admitted > MIN_RATE => admitted,
            None => {
                let took = s
                    .sent
                    .front()
                    .map_or(WINDOW, |t| now - *t)
                    .clamp(MIN_WINDOW, WINDOW);
                s.sent.len() as f64 / took.as_secs_f64()
            }
        }
        .max(MIN_RATE);
        s.provisional = s.rate.is_none();
        s.ceiling = ceiling;
        s.rate = Some((ceiling * BACKOFF).max(MIN_RATE));
        s.tokens = 0.0;
        s.refilled = now;
    }

    /// A write succeeded: close part of the gap to just under the ceiling, or probe above it.
    pub fn succeeded(&self, permit: Permit<'_>) {
        drop(permit);
        let mut s = self.lock();
        let now = Instant::now();
        s.admitted.push_back(now);
        forget_older_than(&mut s.admitted, now, WINDOW);
        let Some(r) = s.rate else {
            // One more in flight every second success: the window grows by half each round trip.
            s.unpaced_successes += 1;
            if s.unpaced_successes % 2 == 0 {
                s.window = (s.window + 1).min(MAX_IN_FLIGHT);
            }
            return;
        };
        let step = if s.provisional {
            (PROVISIONAL_STEP * r).max(STEP)
        } else {
            STEP
        };
        let next = r + (APPROACH * (TARGET * s.ceiling - r)).max(step);
        s.rate = (next < MAX_RATE).then_some(next);
        if s.rate.is_none() {
            // Unpaced again: a later limit is met as the first one was.
            s.window = INITIAL_IN_FLIGHT;
            s.unpaced_successes = 0;
        }
    }

    /// The current pace, if any.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }
}

/// One write let go by the pacer, in flight until dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    pacer: &'a Pacer,
    /// When the write was let go.
    pub sent: Instant,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.pacer.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

/// Drops the instants of a window that are older than `age`.
fn forget_older_than(window: &mut VecDeque<Instant>, now: Instant, age: Duration) {
    while window.front().is_some_and(|t| now - *t > age) {
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
            let w = p.acquire().await;
            p.succeeded(w);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(p.rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn before_any_throttle_four_writes_go_out_at_once_and_every_second_success_lets_one_more()
    {
        let p = Pacer::default();
        let start = Instant::now();
        let mut flying = Vec::new();
        for _ in 0..INITIAL_IN_FLIGHT {
            flying.push(p.acquire().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        let fifth = tokio::time::timeout(Duration::from_secs(5), p.acquire()).await;
        assert!(fifth.is_err(), "a fifth write waits for an answer");
        p.succeeded(flying.remove(0));
        flying.push(p.acquire().await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(5),
            "an answer frees its place"
        );
        p.succeeded(flying.remove(0));
        flying.push(p.acquire().await);
        flying.push(p.acquire().await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(5),
            "the second success adds one"
        );
        let other = tokio::time::timeout(Duration::from_secs(1), p.acquire()).await;
        assert!(other.is_err(), "five in flight after two successes");
        drop(flying.remove(0));
        flying.push(p.acquire().await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(6),
            "a write answered otherwise, or cancelled at the deadline, is no longer in flight"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_paces_writes_below_what_iam_admitted_in_the_last_second() {
        let p = Pacer::default();
        // IAM admits 12 writes over a second (a one-second burst of a 10/s limit and more).
        for _ in 0..12 {
            let w = p.acquire().await;
            p.succeeded(w);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let w = p.acquire().await;
        p.throttled(w);
        let rate = p.rate().unwrap();
        assert!(
            (rate - 12.0 * BACKOFF).abs() < 0.01,
            "three quarters of the 12 admitted, not of the hundreds an unpaced client sends: {rate}"
        );
        let start = Instant::now();
        for _ in 0..18 {
            p.acquire().await;
        }
        let secs = start.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&secs), "18 writes at 9/s: {secs}");
        for _ in 0..10 {
            let w = p.acquire().await;
            p.succeeded(w);
        }
        let climbed = p.rate().unwrap();
        assert!(climbed > rate && climbed < TARGET * 12.0, "{climbed}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_let_go_after_a_decrease_lowers_the_pace_again_down_to_the_floor() {
        let p = Pacer::default();
        let mut burst = Vec::new();
        for _ in 0..INITIAL_IN_FLIGHT {
            burst.push(p.acquire().await);
        }
        let last = burst.pop().unwrap();
        p.throttled(burst.remove(0));
        let mut rate = p.rate().unwrap();
        assert!(
            (rate - 40.0 * BACKOFF).abs() < 0.01,
            "four let go at once and nothing admitted: four over a tenth of a second: {rate}"
        );
        // The rest of the burst was let go before the decrease: it says nothing new.
        p.throttled(last);
        assert_eq!(p.rate(), Some(rate));
        let mut decreases = 0;
        while rate > MIN_RATE {
            let w = p.acquire().await;
            p.throttled(w);
            let now = p.rate().unwrap();
            assert!(
                now < rate,
                "a write let go after the decrease lowers it: {rate} -> {now}"
            );
            rate = now;
            decreases += 1;
        }
        assert!(decreases >= 5, "30/s down to 2/s by 75% steps: {decreases}");
        assert_eq!(p.rate(), Some(MIN_RATE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_of_a_tiny_burst_does_not_pace_writes_at_a_crawl() {
        // Two writes let go at once (a phase of two policies) and one throttled: that says the
        // burst was too sudden, not that IAM allows two writes a second.
        let p = Pacer::default();
        let first = p.acquire().await;
        let second = p.acquire().await;
        p.succeeded(second);
        p.throttled(first);
        assert!(p.rate().unwrap() >= 15.0, "{:?}", p.rate());
    }

    /// Each way between the provider and IAM, as `make bench`'s proxy adds to every call.
    const LATENCY: Duration = Duration::from_millis(50);

    /// IAM imitated as a token bucket of `limit` writes/s holding at most `burst`; `writers`
    /// concurrent writers, each write taking `latency`. Returns the share of the bound reached and
    /// the throttled attempts per write.
    async fn against_a_limit(limit: f64, burst: f64, writers: usize, writes: u32) -> (f64, f64) {
        use std::sync::Arc;
        let p = Arc::new(Pacer::default());
        let iam = Arc::new(Mutex::new((burst, Instant::now(), 0u32, 0u32)));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..writers {
            let (p, iam) = (p.clone(), iam.clone());
            tasks.push(tokio::spawn(async move {
                // As the engine: the two managed policies first, then roles and groups at once.
                while i >= 2 && iam.lock().unwrap().2 < 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                loop {
                    let permit = p.acquire().await;
                    tokio::time::sleep(LATENCY).await;
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
                    tokio::time::sleep(LATENCY).await;
                    if admitted {
                        p.succeeded(permit);
                    } else {
                        p.throttled(permit);
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

    // The goal of `make bench` (a 60-function Create: 136 IAM writes), in virtual time: at least
    // 80% of the bound the limit sets, at most 10% of the writes throttled.
    #[tokio::test(start_paused = true)]
    async fn against_a_strict_limit_the_pace_settles_close_to_it_with_few_throttles() {
        let (share, throttled) = against_a_limit(10.0, 1.0, 16, 136).await;
        assert!(share >= 0.8, "{:.0}% of the bound", 100.0 * share);
        assert!(throttled <= 0.10, "{:.0}% throttled", 100.0 * throttled);
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_limit_with_a_one_second_burst_the_pace_settles_close_to_it_with_few_throttles(
    ) {
        let (share, throttled) = against_a_limit(10.0, 10.0, 16, 136).await;
        assert!(share >= 0.8, "{:.0}% of the bound", 100.0 * share);
        assert!(throttled <= 0.10, "{:.0}% throttled", 100.0 * throttled);
    }
}
