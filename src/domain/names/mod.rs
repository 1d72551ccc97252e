//! Naming rules: every name and path the provider creates, derived deterministically.
//!
//! | entity | name |
//! |---|---|
//! | group | `{service}-{stage}-{region}-{admin,developer,ci}` |
//! | deploy managed policy | `{service}-{stage}-{region}-deploy` |
//! | execution role | `{service}-{stage}-{region}-{function}`; over 64 characters: the first 53, `-`, 10 hex of its SHA-256 |
//! | deployment role | `{service}-{stage}-{region}.deploy` (cut and hashed as above when long) |
//! | stage role (`AssumableBy`) | `{service}-{stage}-{region}.{admin,developer,ci,invoker}` (cut and hashed as above when long) |
//! | IAM path of all of them | `{IamPath}{service}/{stage}/{owner}/` |
//! | KMS grant | `serverless-access/{owner}/{function}/{12 hex of the grant's parameters}` |
//! | PhysicalResourceId | `serverless-access:{service}:{stage}:{owner}` |
//!
//! `owner` is 16 hex digits of SHA-256 over the stack id, logical id, service and stage: it ties
//! every entity to one resource of one stack, so the provider recognises what it owns (IAM groups
//! cannot be tagged; the path can be listed) and a replacement (new service or stage) lives apart
//! from the set it replaces.

mod checks;
mod physical_id;
#[cfg(test)]
mod tests;

pub use super::charset::is_iam_name_byte;
pub use checks::{check_function_key, check_iam_path, check_service, check_stage};
pub use physical_id::{invalid_physical_id, PhysicalId};

use super::principals::{GroupKind, ManagedDocument};
use sha2::{Digest, Sha256};

/// Role names: IAM's limit.
pub const ROLE_NAME_MAX: usize = 64;
/// Group and policy names: IAM's limit.
pub const GROUP_NAME_MAX: usize = 128;
/// IAM paths: IAM's limit.
pub const PATH_MAX: usize = 512;
/// Prefix of every PhysicalResourceId this provider issues.
pub const PHYSICAL_ID_PREFIX: &str = "serverless-access:";
/// Name suffix of deployment roles (see [`Naming::deployment_role_name`]).
pub const DEPLOYMENT_ROLE_SUFFIX: &str = ".deploy";
/// Name of the deployment role's inline policy.
pub const DEPLOYMENT_POLICY_NAME: &str = "deployment";
/// Name of the inline policy on each execution role.
pub const ROLE_POLICY_NAME: &str = "execution";
/// Prefix of grant names.
pub const GRANT_NAME_PREFIX: &str = "serverless-access/";

/// `{service}-{stage}`: the Serverless stack name, and the prefix of every name the stage's
/// resources get. The one place it is formed, also for validation before a [`Naming`] exists.
pub fn stage_prefix(service: &str, stage: &str) -> String {
    format!("{service}-{stage}")
}

/// The PhysicalResourceId of the resource that owns `service` and `stage` under `owner`.
pub fn physical_id_of(service: &str, stage: &str, owner: &str) -> String {
    format!("{PHYSICAL_ID_PREFIX}{service}:{stage}:{owner}")
}

/// `{service}-{stage}-{function}`: the name Serverless deploys function key `function` under.
pub fn function_name(stage_prefix: &str, function: &str) -> String {
    format!("{stage_prefix}-{function}")
}

/// Hex of SHA-256 over `parts` joined by newlines, cut to `len` digits.
pub fn short_hash(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.truncate(len);
    hex
}

/// The names and path of one resource's entities; everything derives from these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Serverless service name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// The stack's region.
    pub region: String,
    /// The stack's account.
    pub account: String,
    /// The stack's partition.
    pub partition: String,
    /// 16 hex digits that identify the owning resource.
    pub owner: String,
    /// The path every entity lives under.
    pub path: String,
}

impl Naming {
    /// Derives the naming for a resource.
    pub fn new(
        iam_path: &str,
        stack_id: &str,
        logical_id: &str,
        stack: &super::arn::StackRef,
        service: &str,
        stage: &str,
    ) -> Self {
        let owner = short_hash(&[stack_id, logical_id, service, stage], 16);
        Naming {
            service: service.to_string(),
            stage: stage.to_string(),
            region: stack.region.clone(),
            account: stack.account.clone(),
            partition: stack.partition.clone(),
            path: format!("{iam_path}{service}/{stage}/{owner}/"),
            owner,
        }
    }

    /// `{service}-{stage}`: the Serverless stack name and the prefix of its resources.
    pub fn stack_name(&self) -> String {
        stage_prefix(&self.service, &self.stage)
    }

    /// `{service}-{stage}-serverlessdeploymentbucket-`: Serverless's generated deployment bucket
    /// is the stack's `ServerlessDeploymentBucket` resource, named by CloudFormation from this prefix.
    pub fn generated_bucket_prefix(&self) -> String {
        format!(
            "{}-serverlessdeploymentbucket-",
            self.stack_name().to_ascii_lowercase()
        )
    }

    /// `{service}-{stage}-{region}`: prefix of the provider's own entity names.
    fn prefix(&self) -> String {
        format!("{}-{}", self.stack_name(), self.region)
    }

    /// The group for `kind`.
    pub fn group_name(&self, kind: GroupKind) -> String {
        format!("{}-{}", self.prefix(), kind.as_str())
    }

    /// The name of managed document `doc`.
    pub fn managed_policy_name(&self, doc: ManagedDocument) -> String {
        match doc {
            ManagedDocument::Deploy => self.deploy_policy_name(),
            ManagedDocument::DeployFunctions => self.deploy_functions_policy_name(),
            ManagedDocument::DeployOwned => format!("{}-deploy-owned", self.prefix()),
            ManagedDocument::Invoke => self.invoke_policy_name(),
        }
    }

    /// The managed policy holding deploy rights, attached to every group that deploys.
    pub fn deploy_policy_name(&self) -> String {
        format!("{}-deploy", self.prefix())
    }

    /// The second managed policy of the groups that deploy: functions and their triggers.
    pub fn deploy_functions_policy_name(&self) -> String {
        format!("{}-deploy-functions", self.prefix())
    }

    /// The managed policy holding invoke rights on the functions (and APIs) marked for it.
    pub fn invoke_policy_name(&self) -> String {
        format!("{}-invoke", self.prefix())
    }

    /// The execution role of function `function`.
    pub fn role_name(&self, function: &str) -> String {
        let full = format!("{}-{}", self.prefix(), function);
        if full.len() <= ROLE_NAME_MAX {
            return full;
        }
        let hash = short_hash(&[&full], 10);
        let keep = ROLE_NAME_MAX - 1 - hash.len();
        let mut cut = full.get(..keep).unwrap_or_default().to_string();
        while cut.ends_with(['-', '_', '.']) {
            cut.pop();
        }
        format!("{cut}-{hash}")
    }

    /// The deployment role: the role CloudFormation deploys the stage with (`DeployWith: role`).
    /// Its name ends in [`DEPLOYMENT_ROLE_SUFFIX`], which no execution role's name can (they hold
    /// no `.`): the provider role may give the deployment boundary only to such names.
    pub fn deployment_role_name(&self) -> String {
        let full = format!("{}{DEPLOYMENT_ROLE_SUFFIX}", self.prefix());
        if full.len() <= ROLE_NAME_MAX {
            return full;
        }
        let hash = short_hash(&[&full], 10);
        let keep = ROLE_NAME_MAX - DEPLOYMENT_ROLE_SUFFIX.len() - 1 - hash.len();
        let mut cut = self.prefix().get(..keep).unwrap_or_default().to_string();
        while cut.ends_with(['-', '_', '.']) {
            cut.pop();
        }
        format!("{cut}-{hash}{DEPLOYMENT_ROLE_SUFFIX}")
    }

    /// The stage role of `kind` (`AssumableBy`): `{service}-{stage}-{region}.{kind}`. The `.` keeps it
    /// apart from every execution role (function keys hold no `.`) and the suffix from the deployment
    /// role's: the provider role may give the stage-role boundary only to names ending so.
    /// Over 64 characters: the prefix is cut and 10 hex of the full name's SHA-256 appended, as for the
    /// deployment role.
    pub fn stage_role_name(&self, kind: GroupKind) -> String {
        let suffix = format!(".{}", kind.as_str());
        let full = format!("{}{suffix}", self.prefix());
        if full.len() <= ROLE_NAME_MAX {
            return full;
        }
        let hash = short_hash(&[&full], 10);
        let keep = ROLE_NAME_MAX - suffix.len() - 1 - hash.len();
        let mut cut = self.prefix().get(..keep).unwrap_or_default().to_string();
        while cut.ends_with(['-', '_', '.']) {
            cut.pop();
        }
        format!("{cut}-{hash}{suffix}")
    }

    /// `arn:{partition}:iam::{account}:role{path}`: append a role name for its ARN.
    pub fn role_arn_prefix(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}",
            self.partition, self.account, self.path
        )
    }

    /// The ARN of a role of this resource.
    pub fn role_arn(&self, role_name: &str) -> String {
        format!("{}{role_name}", self.role_arn_prefix())
    }

    /// The ARN of a group of this resource.
    pub fn group_arn(&self, group_name: &str) -> String {
        format!(
            "arn:{}:iam::{}:group{}{group_name}",
            self.partition, self.account, self.path
        )
    }

    /// The ARN of a managed policy of this resource.
    pub fn policy_arn(&self, policy_name: &str) -> String {
        format!(
            "arn:{}:iam::{}:policy{}{policy_name}",
            self.partition, self.account, self.path
        )
    }

    /// The deployed Lambda function name of function key `function`.
    pub fn function_name(&self, function: &str) -> String {
        function_name(&self.stack_name(), function)
    }

    /// The PhysicalResourceId of this resource.
    pub fn physical_id(&self) -> String {
        physical_id_of(&self.service, &self.stage, &self.owner)
    }

    /// Prefix of every grant name this resource owns.
    pub fn grant_prefix(&self) -> String {
        format!("{GRANT_NAME_PREFIX}{}/", self.owner)
    }
}
