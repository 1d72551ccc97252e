//! The engine on in-memory ports: ordering, bounded concurrency, halt on first failure, deadline,
//! retries and idempotence.

use super::*;
use crate::adapters::memory::{MemoryGrants, MemoryIam};
use crate::domain::desired::Desired;
use crate::domain::fixtures::{full_props, parse_with, STACK};
use crate::error::AwsErrorKind;
use crate::pacing::Pacer;
use serde_json::json;
use std::time::Duration;

fn desired(props: serde_json::Value) -> Desired {
    Desired::from_spec(&parse_with(props, None).unwrap(), STACK, "Access").unwrap()
}

fn keys(d: &Desired) -> BTreeSet<String> {
    d.grants.iter().map(|g| g.key_arn.clone()).collect()
}

async fn converge(
    iam: &MemoryIam,
    grants: &MemoryGrants,
    d: &Desired,
    concurrency: usize,
    stop_in: Duration,
) -> Result<usize> {
    converge_keys(iam, grants, d, &keys(d), concurrency, stop_in).await
}

async fn converge_keys(
    iam: &MemoryIam,
    grants: &MemoryGrants,
    d: &Desired,
    keys: &BTreeSet<String>,
    concurrency: usize,
    stop_in: Duration,
) -> Result<usize> {
    let progress = Progress::default();
    Engine {
        iam,
        grants,
        concurrency,
        stop_at: Instant::now() + stop_in,
        progress: &progress,
        pacer: &Pacer::default(),
    }
    .converge(d, keys)
    .await
}

fn position(log: &[String], needle: &str) -> usize {
    log.iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {log:?}"))
}

#[tokio::test]
async fn the_policy_and_roles_come_before_groups_and_grants_after_their_roles() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    let d = desired(full_props());
    converge(&iam, &grants, &d, 4, Duration::from_secs(30))
        .await
        .unwrap();
    let mut log = iam.calls.log();
    log.extend(grants.calls.log());
    let attach = position(&log, "attach ");
    assert!(position(&log, "create policy") < attach);
    assert!(
        position(&log, "create role orders-prod-us-east-1-api")
            < position(
                &log,
                "put policy execution on role orders-prod-us-east-1-api"
            )
    );
    let g = grants.grants();
    assert_eq!(g.len(), 1, "one function asks for KMS operations");
    assert!(iam.names().contains("orders-prod-us-east-1-api"));
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    iam.calls.set_latency(Duration::from_millis(20));
    let mut p = full_props();
    p["Functions"] = json!((0..12)
        .map(|i| json!({"Name": format!("f{i}")}))
        .collect::<Vec<_>>());
    let d = desired(p);
    converge(&iam, &grants, &d, 3, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        iam.calls.max_in_flight(),
        3,
        "12 roles side by side, 3 at a time"
    );
}

#[tokio::test]
async fn after_the_first_failure_no_new_change_starts() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    let mut p = full_props();
    p["Functions"] = json!((0..6)
        .map(|i| json!({"Name": format!("f{i}")}))
        .collect::<Vec<_>>());
    let d = desired(p);
    iam.calls.fail(
        "create role orders-prod-us-east-1-f1",
        AwsErrorKind::Invalid,
        1,
    );
    let e = converge(&iam, &grants, &d, 1, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(e.aws_kind(), Some(AwsErrorKind::Invalid));
    let log = iam.calls.log();
    let failed = position(&log, "create role orders-prod-us-east-1-f1");
    assert_eq!(
        failed,
        log.len() - 1,
        "nothing started after the failure: {log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("create group")), "{log:?}");
}

#[tokio::test]
async fn no_change_starts_once_the_deadline_is_near() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    iam.calls.set_latency(Duration::from_millis(30));
    let d = desired(full_props());
    let e = converge(&iam, &grants, &d, 1, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Deadline(_)), "{e}");
    // 100 ms allow the observation and at most three 30 ms writes to start; the plan has 14.
    let writes = iam
        .calls
        .log()
        .iter()
        .filter(|l| !l.starts_with("observe"))
        .count();
    assert!(writes <= 3, "stopped early: {:?}", iam.calls.log());
}

#[tokio::test]
async fn transient_failures_are_retried_and_the_work_completes() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    iam.calls.fail("create policy", AwsErrorKind::Throttled, 2);
    grants
        .calls
        .fail("create grant", AwsErrorKind::PrincipalNotPropagated, 1);
    let d = desired(full_props());
    converge(&iam, &grants, &d, 4, Duration::from_secs(30))
        .await
        .unwrap();
    let log = iam.calls.log();
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("create policy"))
            .count(),
        4,
        "two throttled attempts, then each of the two deploy policies once"
    );
    assert_eq!(grants.grants().len(), 1);
}

#[tokio::test]
async fn converging_twice_writes_nothing_the_second_time() {
    let (iam, grants) = (MemoryIam::default(), MemoryGrants::default());
    let d = desired(full_props());
    let first = converge(&iam, &grants, &d, 4, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(first > 0);
    let second = converge(&iam, &grants, &d, 4, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(second, 0);
    let nothing = Desired::nothing(d.naming.clone());
    converge_keys(
        &iam,
        &grants,
        &nothing,
        &keys(&d),
        4,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(iam.names().is_empty(), "{:?}", iam.names());
    assert!(grants.grants().is_empty());
}

#[tokio::test]
async fn the_engine_tells_the_pacer_of_every_throttle_and_success() {
    // Without these reports the pacer never learns IAM's limit: writes stay unpaced and hammer it,
    // or stay at the pace of the first throttle forever.
    let d = &desired(full_props());
    let run = |iam: MemoryIam, pacer: Pacer| async move {
        let grants = MemoryGrants::default();
        let progress = Progress::default();
        Engine {
            iam: &iam,
            grants: &grants,
            concurrency: 4,
            stop_at: Instant::now() + Duration::from_secs(30),
            progress: &progress,
            pacer: &pacer,
        }
        .converge(d, &keys(d))
        .await
        .unwrap();
        pacer.rate()
    };
    let throttling = MemoryIam::default();
    throttling
        .calls
        .fail("create policy", AwsErrorKind::Throttled, 1);
    assert!(
        run(throttling, Pacer::default()).await.is_some(),
        "a throttle reported to the pacer paces the writes after it"
    );
    // A pacer already pacing (four writes let go at once, the first throttled: 30 writes/s).
    let pacing = Pacer::default();
    let mut burst = Vec::new();
    for _ in 0..4 {
        burst.push(pacing.acquire().await);
    }
    pacing.throttled(burst.remove(0));
    drop(burst);
    let before = pacing.rate().unwrap();
    let after = run(MemoryIam::default(), pacing).await.unwrap();
    assert!(
        after > before,
        "the successes were reported and raised the pace: {before} -> {after}"
    );
}
