//! Applies plans through the ports: phases in order, a phase's tasks concurrently (bounded),
//! every call retried with backoff inside the deadline, no new work started once it is near.

use crate::domain::change::{Change, IamChange};
use crate::domain::desired::Desired;
use crate::domain::plan::{self, ObservedGrant, Phase};
use crate::error::{Error, Result};
use crate::pacing::Pacer;
use crate::ports::{Depth, GrantPort, IamPort};
use crate::retry::{with_backoff, with_backoff_when};
use futures_util::{stream, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::time::Instant;

/// Progress of one reconcile, readable while it runs (for a Reason when time runs out).
#[derive(Debug, Default)]
pub struct Progress {
    /// Changes planned so far.
    pub planned: AtomicUsize,
    /// Changes applied.
    pub applied: AtomicUsize,
}

impl Progress {
    /// "N of M changes applied".
    pub fn summary(&self) -> String {
        format!(
            "{} of {} planned changes were applied",
            self.applied.load(Ordering::Relaxed),
            self.planned.load(Ordering::Relaxed)
        )
    }
}

/// The reconcile engine for one invocation.
pub struct Engine<'a, I, G> {
    /// IAM.
    pub iam: &'a I,
    /// KMS grants.
    pub grants: &'a G,
    /// Bound on concurrent calls.
    pub concurrency: usize,
    /// No new work starts after this instant.
    pub stop_at: Instant,
    /// Counters.
    pub progress: &'a Progress,
    /// Paces IAM writes (shared across invocations).
    pub pacer: &'a Pacer,
}

impl<I: IamPort, G: GrantPort> Engine<'_, I, G> {
    /// Converges the resource to `desired`. `grant_keys` are the keys to look for the resource's
    /// grants on (the current and, on Update, the previous key). Returns the number of writes.
    pub async fn converge(
        &self,
        desired: &Desired,
        grant_keys: &BTreeSet<String>,
    ) -> Result<usize> {
        let path = desired.naming.path.as_str();
        let prefix = desired.naming.grant_prefix();
        // When nothing is desired everything found is deleted: documents need not be read.
        let nothing =
            desired.policies.is_empty() && desired.groups.is_empty() && desired.roles.is_empty();
        let depth = if nothing {
            Depth::ForDeletion
        } else {
            Depth::Full
        };
        // One listing per key, side by side with the IAM observation.
        let grants = futures_util::future::try_join_all(
            grant_keys
                .iter()
                .map(|key| with_backoff(self.stop_at, || self.grants.list(key, &prefix))),
        );
        let (observed, grants) = futures_util::future::try_join(
            with_backoff(self.stop_at, || self.iam.observe(path, depth)),
            grants,
        )
        .await?;
        let observed_grants: Vec<ObservedGrant> = grants.into_iter().flatten().collect();

        let (apply, delete) = plan::plan_iam(desired, &observed);
        self.progress.planned.fetch_add(
            plan::count(&apply) + plan::count(&delete),
            Ordering::Relaxed,
        );
        let role_ids: Mutex<BTreeMap<String, String>> = Mutex::new(
            observed
                .roles
                .values()
                .map(|r| (r.name.clone(), r.role_id.clone()))
                .collect(),
        );
        for phase in apply {
            self.run_phase(phase, &role_ids).await?;
        }

        let role_ids = role_ids.into_inner().unwrap_or_else(|p| p.into_inner());
        let (create, retire) = plan::plan_grants(desired, &role_ids, &observed_grants);
        let grant_changes: usize = create.iter().chain(&retire).map(Vec::len).sum();
        self.progress
            .planned
            .fetch_add(grant_changes, Ordering::Relaxed);
        let no_ids = Mutex::new(BTreeMap::new());
        self.run_phase(create, &no_ids).await?;
        self.run_phase(retire, &no_ids).await?;
        for phase in delete {
            self.run_phase(phase, &no_ids).await?;
        }
        tracing::info!(
            applied = self.progress.applied.load(Ordering::Relaxed),
            "reconciled"
        );
        Ok(self.progress.applied.load(Ordering::Relaxed))
    }

    async fn run_phase(
        &self,
        phase: Phase,
        role_ids: &Mutex<BTreeMap<String, String>>,
    ) -> Result<()> {
        // On the first failure no task starts another change, but calls already in flight finish:
        // nothing lands after the answer, where it could race CloudFormation's rollback Delete.
        let halt = AtomicBool::new(false);
        let results: Vec<Result<()>> = stream::iter(
            phase
                .into_iter()
                .map(|task| self.run_task(task, role_ids, &halt)),
        )
        .buffer_unordered(self.concurrency)
        .collect()
        .await;
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    async fn run_task(
        &self,
        task: Vec<Change>,
        role_ids: &Mutex<BTreeMap<String, String>>,
        halt: &AtomicBool,
    ) -> Result<()> {
        for change in task {
            if halt.load(Ordering::Relaxed) {
                return Ok(());
            }
            if Instant::now() >= self.stop_at {
                halt.store(true, Ordering::Relaxed);
                return Err(Error::Deadline(format!(
                    "stopped before '{}'",
                    change.describe()
                )));
            }
            let result = self.apply_one(&change, role_ids).await;
            if result.is_err() {
                halt.store(true, Ordering::Relaxed);
                return result;
            }
            self.progress.applied.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn apply_one(
        &self,
        change: &Change,
        role_ids: &Mutex<BTreeMap<String, String>>,
    ) -> Result<()> {
        tracing::info!(change = %change.describe(), "applying");
        match change {
            Change::Grant(c) => {
                with_backoff(self.stop_at, || self.grants.apply(c)).await?;
            }
            Change::Iam(c @ IamChange::CreateRole { name, .. }) => {
                let id = with_backoff(self.stop_at, || self.paced(c)).await?;
                if let Some(id) = id {
                    role_ids
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.clone(), id);
                }
            }
            // IAM reports DeleteConflict for a while after the dependencies are gone.
            Change::Iam(
                c @ (IamChange::DeleteRole { .. }
                | IamChange::DeleteGroup { .. }
                | IamChange::DeletePolicy { .. }),
            ) => {
                let conflict = |e: &Error| {
                    e.is_retryable() || e.aws_kind() == Some(crate::error::AwsErrorKind::Conflict)
                };
                with_backoff_when(self.stop_at, conflict, || self.paced(c)).await?;
            }
            Change::Iam(c) => {
                with_backoff(self.stop_at, || self.paced(c)).await?;
            }
        }
        Ok(())
    }

    /// One IAM write, paced: a throttled attempt lowers the pace and is tried again as soon as the
    /// pace allows (the pacer, not exponential backoff, spaces throttled writes), a few times at most
    /// and never past the deadline; successes raise the pace.
    async fn paced(&self, c: &IamChange) -> Result<Option<String>> {
        let mut throttles = 0;
        loop {
            let Some(permit) = self.pacer.acquire_before(self.stop_at).await else {
                return Err(Error::Deadline(format!(
                    "stopped before '{}', waiting for IAM's pace",
                    c.describe()
                )));
            };
            let r = self.iam.apply(c).await;
            match &r {
                Ok(_) => self.pacer.succeeded(permit),
                Err(e) if e.aws_kind() == Some(crate::error::AwsErrorKind::Throttled) => {
                    self.pacer.throttled(permit);
                    throttles += 1;
                    if throttles < 8 && Instant::now() < self.stop_at {
                        continue;
                    }
                }
                // Any other answer: the permit drops, the write is no longer in flight.
                Err(_) => drop(permit),
            }
            return r;
        }
    }
}

#[cfg(test)]
mod tests;
