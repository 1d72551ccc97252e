//! The writes a plan is made of: IAM changes for the IAM port, grant changes for the KMS port,
//! grouped into tasks (run in order) and phases (tasks run side by side).

use std::collections::BTreeMap;

/// One IAM write.
#[derive(Debug, Clone, PartialEq)]
pub enum IamChange {
    /// `iam:CreatePolicy`.
    CreatePolicy {
        name: String,
        path: String,
        document: String,
    },
    /// `iam:CreatePolicyVersion` (set as default). Every adapter first looks at the versions the
    /// policy has at that moment (an earlier attempt whose answer was lost may have landed) and
    /// deletes [`versions_to_make_room`] of them, so the same change means the same everywhere.
    CreatePolicyVersion { arn: String, document: String },
    /// `iam:CreateGroup`.
    CreateGroup { name: String, path: String },
    /// `iam:PutGroupPolicy`.
    PutGroupPolicy {
        group: String,
        name: String,
        document: String,
    },
    /// `iam:DeleteGroupPolicy`.
    DeleteGroupPolicy { group: String, name: String },
    /// `iam:AttachGroupPolicy`.
    AttachGroupPolicy { group: String, arn: String },
    /// `iam:DetachGroupPolicy`.
    DetachGroupPolicy { group: String, arn: String },
    /// `iam:CreateRole` with boundary and tags.
    CreateRole {
        name: String,
        path: String,
        trust: String,
        boundary: Option<String>,
        tags: BTreeMap<String, String>,
        description: String,
    },
    /// `iam:UpdateAssumeRolePolicy`.
    UpdateTrust { role: String, document: String },
    /// `iam:PutRolePermissionsBoundary`.
    PutBoundary { role: String, arn: String },
    /// `iam:DeleteRolePermissionsBoundary` (only when the property was removed and none is enforced).
    DeleteBoundary { role: String },
    /// `iam:TagRole`.
    TagRole {
        role: String,
        tags: BTreeMap<String, String>,
    },
    /// `iam:UntagRole`.
    UntagRole { role: String, keys: Vec<String> },
    /// `iam:PutRolePolicy`.
    PutRolePolicy {
        role: String,
        name: String,
        document: String,
    },
    /// `iam:DeleteRolePolicy`.
    DeleteRolePolicy { role: String, name: String },
    /// `iam:DetachRolePolicy`.
    DetachRolePolicy { role: String, arn: String },
    /// `iam:AttachRolePolicy` (a stage role's group's managed policies).
    AttachRolePolicy { role: String, arn: String },
    /// `iam:UpdateRole`: `MaxSessionDuration` and the description, always both (IAM resets an
    /// omitted `MaxSessionDuration` to one hour).
    UpdateRole {
        role: String,
        max_session: i32,
        description: String,
    },
    /// Delete a role of the resource: its inline policies, attachments, then the role.
    DeleteRole {
        name: String,
        /// Its inline policies and attached policy ARNs as observed (so no re-read is needed).
        inline: Vec<String>,
        attached: Vec<String>,
    },
    /// Delete a group of the resource: its members (users stay), policies, then the group.
    DeleteGroup {
        name: String,
        /// Its inline policies and attached policy ARNs as observed.
        inline: Vec<String>,
        attached: Vec<String>,
    },
    /// Delete a managed policy of the resource: detach everywhere, old versions, then the policy.
    DeletePolicy {
        arn: String,
        /// Its non-default versions as observed.
        versions: Vec<String>,
        /// The resource's own groups: IAM may list them as attached moments after they were
        /// deleted (eventual consistency); they are not "attached elsewhere".
        own_groups: Vec<String>,
    },
}

impl IamChange {
    /// A short description for logs and Reasons.
    pub fn describe(&self) -> String {
        match self {
            IamChange::CreatePolicy { name, .. } => format!("create policy {name}"),
            IamChange::CreatePolicyVersion { arn, .. } => format!("update policy {arn}"),
            IamChange::CreateGroup { name, .. } => format!("create group {name}"),
            IamChange::PutGroupPolicy { group, name, .. } => {
                format!("put policy {name} on group {group}")
            }
            IamChange::DeleteGroupPolicy { group, name } => {
                format!("delete policy {name} of group {group}")
            }
            IamChange::AttachGroupPolicy { group, arn } => format!("attach {arn} to group {group}"),
            IamChange::DetachGroupPolicy { group, arn } => {
                format!("detach {arn} from group {group}")
            }
            IamChange::CreateRole { name, .. } => format!("create role {name}"),
            IamChange::UpdateTrust { role, .. } => format!("update trust policy of role {role}"),
            IamChange::PutBoundary { role, .. } => format!("set boundary of role {role}"),
            IamChange::DeleteBoundary { role } => format!("remove boundary of role {role}"),
            IamChange::TagRole { role, .. } => format!("tag role {role}"),
            IamChange::UntagRole { role, .. } => format!("untag role {role}"),
            IamChange::PutRolePolicy { role, name, .. } => {
                format!("put policy {name} on role {role}")
            }
            IamChange::DeleteRolePolicy { role, name } => {
                format!("delete policy {name} of role {role}")
            }
            IamChange::DetachRolePolicy { role, arn } => format!("detach {arn} from role {role}"),
            IamChange::AttachRolePolicy { role, arn } => format!("attach {arn} to role {role}"),
            IamChange::UpdateRole {
                role, max_session, ..
            } => format!("set maximum session of role {role} to {max_session} s"),
            IamChange::DeleteRole { name, .. } => format!("delete role {name}"),
            IamChange::DeleteGroup { name, .. } => format!("delete group {name}"),
            IamChange::DeletePolicy { arn, .. } => format!("delete policy {arn}"),
        }
    }
}

/// One KMS write.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantChange {
    /// `kms:CreateGrant`.
    Create {
        key_arn: String,
        grantee: String,
        name: String,
        operations: Vec<String>,
        encryption_context: BTreeMap<String, String>,
    },
    /// `kms:RetireGrant`.
    Retire { key_arn: String, grant_id: String },
}

impl GrantChange {
    /// A short description for logs and Reasons.
    pub fn describe(&self) -> String {
        match self {
            GrantChange::Create { name, .. } => format!("create grant {name}"),
            GrantChange::Retire { grant_id, .. } => format!("retire grant {grant_id}"),
        }
    }
}

/// One write, for whichever port applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Applied by the IAM port.
    Iam(IamChange),
    /// Applied by the grant port.
    Grant(GrantChange),
}

impl Change {
    /// A short description for logs and Reasons.
    pub fn describe(&self) -> String {
        match self {
            Change::Iam(c) => c.describe(),
            Change::Grant(c) => c.describe(),
        }
    }
}

/// Changes run in order.
pub type Task = Vec<Change>;
/// Independent tasks.
pub type Phase = Vec<Task>;

/// Wraps IAM tasks into a phase.
pub fn iam_phase(tasks: Vec<Vec<IamChange>>) -> Phase {
    tasks
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|t| t.into_iter().map(Change::Iam).collect())
        .collect()
}

/// Counts the changes in phases.
pub fn count(phases: &[Phase]) -> usize {
    phases.iter().flatten().map(Vec::len).sum()
}
/// IAM keeps at most five versions of a managed policy: of the non-default versions `others`
/// (oldest first), the ones to delete before one more version is created.
pub fn versions_to_make_room(others: &[String]) -> &[String] {
    let excess = (others.len() + 2).saturating_sub(5);
    others.get(..excess).unwrap_or(others)
}
