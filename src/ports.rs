//! The narrow interfaces the core needs from the outside world. AWS SDK and HTTPS implementations
//! live in [`crate::adapters`]; tests drive the real ones against a local AWS.

use crate::domain::change::{GrantChange, IamChange};
use crate::domain::claims::Claim;
use crate::domain::kms_key::KeyState;
use crate::domain::observed::{Observed, ObservedGrant};
use crate::error::Result;
use std::future::Future;

/// How much of each entity an observation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything the plan compares: documents, boundary, tags, role ids.
    Full,
    /// What deleting needs: names of inline policies, attachments, policy versions.
    ForDeletion,
}

/// IAM groups, roles and managed policies under one path.
pub trait IamPort: Send + Sync {
    /// Everything under `path` (groups, roles, managed policies), read to `depth`.
    fn observe(&self, path: &str, depth: Depth) -> impl Future<Output = Result<Observed>> + Send;

    /// Applies one IAM change. Creations under a name that already exists succeed only when the
    /// existing entity lives under the change's own path (a duplicate delivery got there first);
    /// otherwise they fail with [`crate::Error::NotOwned`]. For `CreateRole`, returns the role's
    /// unique id.
    fn apply(&self, change: &IamChange) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Whether the account's OIDC provider `arn` exists (`iam:GetOpenIDConnectProvider`; read only:
    /// the provider never creates one, it is account-wide).
    fn oidc_provider_exists(&self, arn: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Every resource's claim under the provider's root path `root` (for refusing nesting claims).
    fn claims(&self, root: &str) -> impl Future<Output = Result<Vec<Claim>>> + Send;
}

/// KMS grants.
pub trait GrantPort: Send + Sync {
    /// The key's spec, usage and state (`kms:DescribeKey`).
    fn describe(&self, key_arn: &str) -> impl Future<Output = Result<KeyState>> + Send;

    /// The grants on `key_arn` whose name starts with `prefix` (one listing per key).
    fn list(
        &self,
        key_arn: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObservedGrant>>> + Send;

    /// Applies `CreateGrant` or `RetireGrant`; retiring a grant that is gone succeeds.
    fn apply(&self, change: &GrantChange) -> impl Future<Output = Result<()>> + Send;
}

/// Delivers an answer to CloudFormation.
pub trait Responder: Send + Sync {
    /// PUTs `body` to `url` (already checked), retrying as the protocol requires.
    fn send(&self, url: &str, body: String) -> impl Future<Output = Result<()>> + Send;
}
