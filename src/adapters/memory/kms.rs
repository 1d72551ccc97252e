//! KMS grants in memory.

use super::{lock, Calls, Journal};
use crate::domain::change::{Change, GrantChange};
use crate::domain::kms_key::KeyState;
use crate::domain::observed::ObservedGrant;
use crate::error::Result;
use crate::ports::GrantPort;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// KMS grants in memory. Keys are symmetric encryption keys unless set otherwise.
#[derive(Debug, Default)]
pub struct MemoryGrants {
    grants: Mutex<Vec<(ObservedGrant, String, Vec<String>)>>,
    journal: Journal,
    keys: Mutex<BTreeMap<String, KeyState>>,
    next_id: AtomicUsize,
    /// The call log, faults and latency.
    pub calls: Calls,
}

impl MemoryGrants {
    /// Grants that record the changes they apply in `journal`.
    pub fn sharing(journal: Journal) -> Self {
        MemoryGrants {
            journal,
            ..MemoryGrants::default()
        }
    }

    /// Sets what DescribeKey says of `key_arn`.
    pub fn set_key(&self, key_arn: &str, state: KeyState) {
        lock(&self.keys).insert(key_arn.into(), state);
    }

    /// The grants that exist: (name, grantee, operations).
    pub fn grants(&self) -> Vec<(String, String, Vec<String>)> {
        lock(&self.grants)
            .iter()
            .map(|(g, grantee, ops)| (g.name.clone(), grantee.clone(), ops.clone()))
            .collect()
    }
}

impl GrantPort for MemoryGrants {
    async fn describe(&self, key_arn: &str) -> Result<KeyState> {
        let _g = self.calls.enter(format!("describe key {key_arn}")).await?;
        Ok(lock(&self.keys).get(key_arn).cloned().unwrap_or(KeyState {
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
            state: "Enabled".into(),
        }))
    }

    async fn list(&self, key_arn: &str, prefix: &str) -> Result<Vec<ObservedGrant>> {
        let _g = self.calls.enter(format!("list grants {key_arn}")).await?;
        Ok(lock(&self.grants)
            .iter()
            .map(|(g, _, _)| g)
            .filter(|g| g.key_arn == key_arn && g.name.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn apply(&self, change: &GrantChange) -> Result<()> {
        let _g = self.calls.enter(change.describe()).await?;
        lock(&self.journal).push(Change::Grant(change.clone()));
        let mut grants = lock(&self.grants);
        match change {
            GrantChange::Create {
                key_arn,
                grantee,
                name,
                operations,
                ..
            } => {
                // KMS returns the existing grant for the same name and parameters.
                if !grants
                    .iter()
                    .any(|(g, _, _)| g.name == *name && g.key_arn == *key_arn)
                {
                    let id = self.next_id.fetch_add(1, Ordering::SeqCst);
                    grants.push((
                        ObservedGrant {
                            key_arn: key_arn.clone(),
                            grant_id: format!("grant-{id}"),
                            name: name.clone(),
                        },
                        grantee.clone(),
                        operations.clone(),
                    ));
                }
            }
            GrantChange::Retire { key_arn, grant_id } => {
                grants.retain(|(g, _, _)| !(g.key_arn == *key_arn && g.grant_id == *grant_id))
            }
        }
        Ok(())
    }
}
