//! Validated spec → the IAM and KMS state the resource should have.

use super::names::{self, Naming};
use super::policies::document::{self as policy, iam_size};
use super::policies::execution_role::{execution_policy, trust_policy};
use super::policies::stage_role_trust::stage_role_trust;
use super::policies::{self, deployment_role::deployment_trust_policy, StageScope};
use super::principals::{GroupKind, ManagedDocument};
use super::problem::{field, Problem, ProblemKind, Problems};
use super::properties::{Spec, OWNER_TAG_PREFIX};
use serde_json::Value;
use std::collections::BTreeMap;

/// A group and what it should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGroup {
    /// Which group.
    pub kind: GroupKind,
    /// Its name.
    pub name: String,
    /// Inline policies by name.
    pub inline: BTreeMap<String, Value>,
    /// Managed policy ARNs attached.
    pub attached: Vec<String>,
}

/// A managed policy of the resource.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredPolicy {
    /// Its name.
    pub name: String,
    /// Its ARN (deterministic from path and name).
    pub arn: String,
    /// Its document.
    pub document: Value,
}

/// How long a stage role's sessions may last: one hour. Identity Center users reach a stage role by
/// role chaining, which STS caps at one hour whatever the role allows (STS AssumeRole,
/// `DurationSeconds`: "Role chaining limits your … role session to a maximum of one hour"), and
/// aws-actions/configure-aws-credentials asks for 3600 s by default (`role-duration-seconds`). It
/// is sent with every UpdateRole: IAM resets an omitted value to one hour (UpdateRole,
/// `MaxSessionDuration`).
pub const STAGE_ROLE_MAX_SESSION: i32 = 3600;

/// A role of the resource: a function's execution role, the stage's deployment role, or the stage
/// role of a principal kind (`AssumableBy`).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRole {
    /// Function key; `None` for the deployment role and the stage roles.
    pub function: Option<String>,
    /// The kind whose documents a stage role holds; `None` for the other roles.
    pub stage: Option<GroupKind>,
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// Trust policy.
    pub trust: Value,
    /// Inline policies by name: [`names::ROLE_POLICY_NAME`] or [`names::DEPLOYMENT_POLICY_NAME`], or a
    /// stage role's group's inline documents.
    pub inline: BTreeMap<String, Value>,
    /// Managed policy ARNs attached (a stage role's group's; none for the others).
    pub attached: Vec<String>,
    /// `MaxSessionDuration` the provider keeps (stage roles); `None`: left as IAM makes it.
    pub max_session: Option<i32>,
    /// Permissions boundary.
    pub boundary: Option<String>,
    /// All tags: the user's and the provider's ownership tags.
    pub tags: BTreeMap<String, String>,
    /// Role description.
    pub description: String,
}

/// One function's KMS grant.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGrant {
    /// Function key.
    pub function: String,
    /// Role name of the grantee.
    pub role_name: String,
    /// Role ARN of the grantee.
    pub role_arn: String,
    /// The key.
    pub key_arn: String,
    /// Operations, sorted.
    pub operations: Vec<String>,
    /// EncryptionContextSubset constraint.
    pub encryption_context: BTreeMap<String, String>,
}

impl DesiredGrant {
    /// The grant's name for the role with unique id `role_id`: a new role (new id) gets a new grant,
    /// and the same parameters always give the same name, so retries are idempotent.
    pub fn name(&self, naming_grant_prefix: &str, role_id: &str) -> String {
        let ops = self.operations.join(",");
        let ctx: Vec<String> = self
            .encryption_context
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let hash = names::short_hash(
            &[&self.key_arn, &self.role_arn, role_id, &ops, &ctx.join("&")],
            12,
        );
        format!("{naming_grant_prefix}{}/{hash}", self.function)
    }
}

/// Everything one resource should have.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Names and path.
    pub naming: Naming,
    /// Managed policies.
    pub policies: Vec<DesiredPolicy>,
    /// Groups.
    pub groups: Vec<DesiredGroup>,
    /// Roles, in function order, then the deployment role (if any), then the stage roles.
    pub roles: Vec<DesiredRole>,
    /// Grants, in function order.
    pub grants: Vec<DesiredGrant>,
}

impl Desired {
    /// Nothing: what a Delete converges to.
    pub fn nothing(naming: Naming) -> Self {
        Desired {
            naming,
            policies: vec![],
            groups: vec![],
            roles: vec![],
            grants: vec![],
        }
    }

    /// Builds the desired state and checks IAM's size limits on it.
    pub fn from_spec(spec: &Spec, stack_id: &str, logical_id: &str) -> Result<Self, Vec<Problem>> {
        let n = &spec.naming;
        let scope = StageScope::new(spec);
        let mut errors = Problems::default();
        let mut policies = Vec::new();
        let mut arns: BTreeMap<ManagedDocument, String> = BTreeMap::new();
        for doc in ManagedDocument::ALL {
            let Some(document) = policies::managed(&scope, doc) else {
                continue;
            };
            let name = n.managed_policy_name(doc);
            let arn = n.policy_arn(&name);
            let size = iam_size(&document);
            if size > policy::MANAGED_POLICY_MAX {
                errors.push(
                    ProblemKind::OverLimit,
                    "",
                    format!(
                        "policy {name} is {size} characters; IAM allows {}",
                        policy::MANAGED_POLICY_MAX
                    ),
                );
            }
            arns.insert(doc, arn.clone());
            policies.push(DesiredPolicy {
                name,
                arn,
                document,
            });
        }
        let mut groups = Vec::new();
        for kind in &spec.groups {
            let holds = kind.holds();
            // A group exists while every document it holds (of those the mode uses) does: the invoker group while
            // something is marked for invocation (removing the last mark removes the policy and
            // the group with it).
            let Some(attached) = holds
                .managed
                .iter()
                .filter(|doc| policies::used(&scope, **doc))
                .map(|doc| arns.get(doc).cloned())
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let inline: BTreeMap<String, Value> = holds
                .inline
                .iter()
                .map(|doc| (doc.name().to_string(), policies::inline(&scope, *doc)))
                .collect();
            let name = n.group_name(*kind);
            let size: usize = inline.values().map(iam_size).sum();
            if size > policy::GROUP_INLINE_MAX {
                errors.push(
                    ProblemKind::OverLimit,
                    "",
                    format!(
                        "inline policies of group {name} are {size} characters; IAM allows {}",
                        policy::GROUP_INLINE_MAX
                    ),
                );
            }
            groups.push(DesiredGroup {
                kind: *kind,
                name,
                inline,
                attached,
            });
        }

        let mut roles = Vec::new();
        let mut grants = Vec::new();
        let mut tags = spec.tags.clone();
        tags.insert(format!("{OWNER_TAG_PREFIX}stack-id"), stack_id.to_string());
        tags.insert(
            format!("{OWNER_TAG_PREFIX}logical-id"),
            logical_id.to_string(),
        );
        tags.insert(format!("{OWNER_TAG_PREFIX}service"), n.service.clone());
        tags.insert(format!("{OWNER_TAG_PREFIX}stage"), n.stage.clone());
        // `{service}-{stage}`: the default boundary names the stage's own resources by it (one
        // principal-tag variable where two would pass IAM's 6,144 characters).
        tags.insert(
            format!("{OWNER_TAG_PREFIX}prefix"),
            format!("{}-{}", n.service, n.stage),
        );
        for (i, (f, fs)) in spec
            .functions
            .iter()
            .zip(&scope.function_scopes)
            .enumerate()
        {
            let at = format!("Functions[{i}]");
            let name = n.role_name(&f.name);
            let policy = execution_policy(fs);
            let size = iam_size(&policy);
            if size > policy::ROLE_INLINE_MAX {
                errors.push(
                    ProblemKind::OverLimit,
                    field(&at, "Statements"),
                    format!(
                        "function {}: role policy is {size} characters; IAM allows {}",
                        f.name,
                        policy::ROLE_INLINE_MAX
                    ),
                );
            }
            if let Some(c) = super::charset::first_non_policy_char(&policy::to_text(&policy)) {
                errors.push(ProblemKind::Malformed, field(&at, "Statements"), format!(
                    "function {}: the role policy contains {c:?} (U+{:04X}); IAM accepts only TAB, LF, CR and U+0020-U+00FF in policy documents",
                    f.name, c as u32
                ));
            }
            let arn = n.role_arn(&name);
            if !f.kms.is_empty() && arn.len() > 256 {
                errors.push(ProblemKind::OverLimit, field(&at, "Kms"), format!(
                    "function {}: the role ARN {arn} is {} characters; a KMS grantee may have 256 (shorten IamPath)",
                    f.name,
                    arn.len()
                ));
            }
            if let (Some(key), false) = (&spec.kms_key, f.kms.is_empty()) {
                grants.push(DesiredGrant {
                    function: f.name.clone(),
                    role_name: name.clone(),
                    role_arn: arn.clone(),
                    key_arn: key.arn.clone(),
                    operations: f.kms.iter().cloned().collect(),
                    encryption_context: f.encryption_context.clone(),
                });
            }
            roles.push(DesiredRole {
                function: Some(f.name.clone()),
                stage: None,
                description: format!(
                    "Execution role of Lambda function {}, managed by serverless-access",
                    n.function_name(&f.name)
                ),
                name,
                arn,
                trust: trust_policy(),
                inline: [(names::ROLE_POLICY_NAME.to_string(), policy)].into(),
                attached: vec![],
                max_session: None,
                boundary: spec.permissions_boundary.clone(),
                tags: tags.clone(),
            });
        }
        if let Some(policy) = policies::deployment_role(&scope) {
            let name = n.deployment_role_name();
            let size = iam_size(&policy);
            if size > policy::ROLE_INLINE_MAX {
                errors.push(
                    ProblemKind::OverLimit,
                    "DeployWith",
                    format!(
                        "the deployment role's policy is {size} characters; IAM allows {} (use DeployWith: caller)",
                        policy::ROLE_INLINE_MAX
                    ),
                );
            }
            roles.push(DesiredRole {
                function: None,
                stage: None,
                description: format!(
                    "Role CloudFormation deploys stack {} with, managed by serverless-access",
                    n.stack_name()
                ),
                arn: n.role_arn(&name),
                name,
                trust: deployment_trust_policy(),
                inline: [(names::DEPLOYMENT_POLICY_NAME.to_string(), policy)].into(),
                attached: vec![],
                max_session: None,
                boundary: spec.deployment_boundary.clone(),
                tags: tags.clone(),
            });
        }
        // A stage role per kind with sources whose group exists: exactly the group's documents (the
        // same managed policy ARNs, the same inline documents), so the two never drift apart.
        for g in &groups {
            let Some(sources) = spec.assumable_by.get(&g.kind) else {
                continue;
            };
            let name = n.stage_role_name(g.kind);
            let trust = stage_role_trust(&n.partition, &n.account, sources);
            let size = iam_size(&trust);
            if size > policy::TRUST_POLICY_MAX {
                errors.push(
                    ProblemKind::OverLimit,
                    field("AssumableBy", g.kind.as_str()),
                    format!(
                        "the trust policy of stage role {name} is {size} characters; IAM allows {} by default (name fewer sources)",
                        policy::TRUST_POLICY_MAX
                    ),
                );
            }
            roles.push(DesiredRole {
                function: None,
                stage: Some(g.kind),
                description: format!(
                    "Role holding the {} documents of stage {} of service {}, managed by serverless-access",
                    g.kind.as_str(),
                    n.stage,
                    n.service
                ),
                arn: n.role_arn(&name),
                name,
                trust,
                inline: g.inline.clone(),
                attached: g.attached.clone(),
                max_session: Some(STAGE_ROLE_MAX_SESSION),
                boundary: spec.stage_role_boundary.clone(),
                tags: tags.clone(),
            });
        }
        errors.or(Desired {
            naming: n.clone(),
            policies,
            groups,
            roles,
            grants,
        })
    }
}

#[cfg(test)]
mod tests;
