//! The pacer against scripted answers and simulated limits, in virtual time.

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
async fn before_any_throttle_four_writes_go_out_at_once_and_every_second_success_lets_one_more() {
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
async fn against_a_limit_with_a_one_second_burst_the_pace_settles_close_to_it_with_few_throttles() {
    let (share, throttled) = against_a_limit(10.0, 10.0, 16, 136).await;
    assert!(share >= 0.8, "{:.0}% of the bound", 100.0 * share);
    assert!(throttled <= 0.10, "{:.0}% throttled", 100.0 * throttled);
}
