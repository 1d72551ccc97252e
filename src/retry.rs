//! Retries with jittered exponential backoff, bounded by the invocation's deadline.

use crate::error::{AwsErrorKind, Error, Result};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// First backoff.
const BASE: Duration = Duration::from_millis(100);
/// Longest single backoff.
const CAP: Duration = Duration::from_secs(5);

/// The longest backoff before attempt `attempt` (1-based): `min(CAP, BASE * 2^attempt)`.
pub fn ceiling(attempt: u32) -> Duration {
    BASE.saturating_mul(1u32 << attempt.min(10)).min(CAP)
}

/// Backoff before attempt `attempt` (1-based): jittered between half the ceiling and the ceiling.
pub fn backoff(attempt: u32) -> Duration {
    let ms = ceiling(attempt).as_millis() as u64;
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

/// How long a principal IAM has not propagated yet is waited for: KMS's `InvalidArnException`
/// from CreateGrant also means a principal that will never exist (Terraform waits 2 minutes too).
pub const PROPAGATION_WAIT: Duration = Duration::from_secs(120);

/// Runs `op` until it succeeds, fails with an error that is not retryable, or the next wait would
/// pass `stop_at`; then the last error is returned.
pub async fn with_backoff<T, F, Fut>(stop_at: Instant, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    with_backoff_when(stop_at, Error::is_retryable, op).await
}

/// [`with_backoff`] that also retries what `retry` accepts (e.g. `DeleteConflict` right after the
/// dependencies were removed, which IAM reports until it is consistent).
pub async fn with_backoff_when<T, F, Fut>(
    stop_at: Instant,
    retry: impl Fn(&Error) -> bool,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 0;
    let mut unpropagated_since: Option<Instant> = None;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e)
                if e.aws_kind() == Some(AwsErrorKind::PrincipalNotPropagated)
                    && unpropagated_since
                        .get_or_insert_with(Instant::now)
                        .elapsed()
                        >= PROPAGATION_WAIT =>
            {
                return Err(e)
            }
            Err(e) if retry(&e) => {
                let wait = backoff(attempt);
                if Instant::now() + wait >= stop_at {
                    return Err(e);
                }
                tracing::warn!(attempt, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A deadline-passed error for `what`.
pub fn deadline(what: impl Into<String>) -> Error {
    Error::Deadline(what.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AwsErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(kind: AwsErrorKind) -> Error {
        Error::Aws {
            operation: "iam:Test",
            entity: "e".into(),
            kind,
            code: "C".into(),
            message: "m".into(),
        }
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let r = with_backoff(Instant::now() + Duration::from_secs(30), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(err(AwsErrorKind::Throttled))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn invalid_input_is_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = with_backoff(Instant::now() + Duration::from_secs(30), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(AwsErrorKind::Invalid))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_stop_before_the_deadline() {
        let r: Result<()> = with_backoff(Instant::now() + Duration::from_millis(50), || async {
            Err(err(AwsErrorKind::Throttled))
        })
        .await;
        assert_eq!(r.unwrap_err().aws_kind(), Some(AwsErrorKind::Throttled));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpropagated_principal_is_waited_for_two_minutes_not_until_the_deadline() {
        let start = Instant::now();
        let r: Result<()> = with_backoff(start + Duration::from_secs(900), || async {
            Err(err(AwsErrorKind::PrincipalNotPropagated))
        })
        .await;
        assert!(r.is_err());
        let waited = start.elapsed();
        assert!(
            waited >= PROPAGATION_WAIT && waited < PROPAGATION_WAIT + CAP,
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_conflict_is_retried_only_where_the_caller_says_so() {
        let calls = AtomicU32::new(0);
        let r = with_backoff_when(
            Instant::now() + Duration::from_secs(30),
            |e| e.is_retryable() || e.aws_kind() == Some(AwsErrorKind::Conflict),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(err(AwsErrorKind::Conflict))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert!(r.is_ok());
        let once: Result<()> = with_backoff(Instant::now() + Duration::from_secs(30), || async {
            Err(err(AwsErrorKind::Conflict))
        })
        .await;
        assert_eq!(once.unwrap_err().aws_kind(), Some(AwsErrorKind::Conflict));
    }

    #[test]
    fn backoff_doubles_per_attempt_until_the_cap_and_stays_within_its_jitter() {
        for attempt in 1..5 {
            assert_eq!(
                ceiling(attempt + 1),
                ceiling(attempt) * 2,
                "attempt {attempt}"
            );
        }
        assert_eq!(ceiling(6), CAP);
        assert_eq!(ceiling(30), CAP);
        for attempt in 1..12 {
            for _ in 0..50 {
                let b = backoff(attempt);
                assert!(
                    b >= ceiling(attempt) / 2 && b <= ceiling(attempt),
                    "{attempt}: {b:?}"
                );
            }
        }
    }
}
