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
mod tests;
