//! Validated spec → the IAM and KMS state the resource should have.

use super::deployment_role::{deployment_policy, deployment_trust_policy};
use super::group_policies::{
    admin_policy, deploy_functions_policy, deploy_policy, operate_policy, ADMIN_POLICY_NAME,
    OPERATE_POLICY_NAME,
};
use super::invoke_policy::invoke_policy;
use super::names::{self, GroupKind, Naming};
use super::policy::{self, iam_size};
use super::role_policies::{execution_policy, trust_policy};
use super::spec::{DeployWith, Spec, OWNER_TAG_PREFIX};
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

/// A role of the resource: a function's execution role, or the stage's deployment role.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRole {
    /// Function key; `None` for the deployment role.
    pub function: Option<String>,
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// Trust policy.
    pub trust: Value,
    /// The inline policy's name ([`names::ROLE_POLICY_NAME`] or [`names::DEPLOYMENT_POLICY_NAME`]).
    pub policy_name: &'static str,
    /// The inline policy.
    pub policy: Value,
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
    /// Roles, in function order, then the deployment role (if any).
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
    pub fn from_spec(spec: &Spec, stack_id: &str, logical_id: &str) -> Result<Self, Vec<String>> {
        let n = &spec.naming;
        let mut errors = Vec::new();
        let mut policies = Vec::new();
        let mut groups = Vec::new();
        let mut deploy_arns = Vec::new();
        if spec.groups.iter().any(|g| g.deploys()) {
            for (name, document) in [
                (n.deploy_policy_name(), deploy_policy(spec)),
                (
                    n.deploy_functions_policy_name(),
                    deploy_functions_policy(spec),
                ),
            ] {
                let arn = n.policy_arn(&name);
                deploy_arns.push(arn.clone());
                policies.push(DesiredPolicy {
                    name,
                    arn,
                    document,
                });
            }
        }
        let invoke_arn = invoke_policy(spec).map(|document| {
            let name = n.invoke_policy_name();
            let arn = n.policy_arn(&name);
            policies.push(DesiredPolicy {
                name,
                arn: arn.clone(),
                document,
            });
            arn
        });
        for p in &policies {
            let size = iam_size(&p.document);
            if size > policy::MANAGED_POLICY_MAX {
                errors.push(format!(
                    "policy {} is {size} characters; IAM allows {}",
                    p.name,
                    policy::MANAGED_POLICY_MAX
                ));
            }
        }
        for kind in &spec.groups {
            // The invoker group exists while something is marked for invocation: removing the
            // last mark removes the policy and the group with it.
            let attached = match (kind.deploys(), &invoke_arn) {
                (true, _) => deploy_arns.clone(),
                (false, Some(arn)) => vec![arn.clone()],
                (false, None) => continue,
            };
            let mut inline = BTreeMap::new();
            if matches!(kind, GroupKind::Admin | GroupKind::Developer) {
                inline.insert(OPERATE_POLICY_NAME.to_string(), operate_policy(spec));
            }
            if *kind == GroupKind::Admin {
                inline.insert(ADMIN_POLICY_NAME.to_string(), admin_policy(spec));
            }
            let name = n.group_name(*kind);
            let size: usize = inline.values().map(iam_size).sum();
            if size > policy::GROUP_INLINE_MAX {
                errors.push(format!(
                    "inline policies of group {name} are {size} characters; IAM allows {}",
                    policy::GROUP_INLINE_MAX
                ));
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
        for f in &spec.functions {
            let name = n.role_name(&f.name);
            let policy = execution_policy(n, f);
            let size = iam_size(&policy);
            if size > policy::ROLE_INLINE_MAX {
                errors.push(format!(
                    "function {}: role policy is {size} characters; IAM allows {}",
                    f.name,
                    policy::ROLE_INLINE_MAX
                ));
            }
            if let Some(c) = super::charset::first_non_policy_char(&policy::to_text(&policy)) {
                errors.push(format!(
                    "function {}: the role policy contains {c:?} (U+{:04X}); IAM accepts only TAB, LF, CR and U+0020-U+00FF in policy documents",
                    f.name, c as u32
                ));
            }
            let arn = n.role_arn(&name);
            if !f.kms.is_empty() && arn.len() > 256 {
                errors.push(format!(
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
                description: format!(
                    "Execution role of Lambda function {}, managed by serverless-access",
                    n.function_name(&f.name)
                ),
                name,
                arn,
                trust: trust_policy(),
                policy_name: names::ROLE_POLICY_NAME,
                policy,
                boundary: spec.permissions_boundary.clone(),
                tags: tags.clone(),
            });
        }
        if spec.deploy_with == DeployWith::Role && spec.groups.iter().any(|g| g.deploys()) {
            let name = n.deployment_role_name();
            let policy = deployment_policy(spec);
            let size = iam_size(&policy);
            if size > policy::ROLE_INLINE_MAX {
                errors.push(format!(
                    "the deployment role's policy is {size} characters; IAM allows {} (use DeployWith: caller)",
                    policy::ROLE_INLINE_MAX
                ));
            }
            roles.push(DesiredRole {
                function: None,
                description: format!(
                    "Role CloudFormation deploys stack {} with, managed by serverless-access",
                    n.stack_name()
                ),
                arn: n.role_arn(&name),
                name,
                trust: deployment_trust_policy(),
                policy_name: names::DEPLOYMENT_POLICY_NAME,
                policy,
                boundary: spec.deployment_boundary.clone(),
                tags,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Desired {
            naming: n.clone(),
            policies,
            groups,
            roles,
            grants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::tests::{full_props, parse_with, STACK};
    use serde_json::json;

    #[test]
    fn a_role_policy_over_iams_10240_characters_is_refused_before_any_write() {
        let mut p = full_props();
        let statements: Vec<_> = (0..120)
            .map(|i| json!({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": format!("arn:aws:dynamodb:us-east-1:123456789012:table/orders-{i:04}-with-a-long-table-name")}))
            .collect();
        p["Functions"][1]["Statements"] = json!(statements);
        let spec = parse_with(p, None).unwrap();
        let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
        assert!(
            e[0].contains("function worker: role policy is") && e[0].contains("10240"),
            "{e:?}"
        );
    }

    #[test]
    fn characters_iam_refuses_in_a_policy_document_are_refused_before_any_write() {
        let mut p = full_props();
        p["Functions"][1]["Statements"] = json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/日本/*"}]);
        let spec = parse_with(p, None).unwrap();
        let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
        assert!(e[0].contains("U+65E5"), "{e:?}");
        let mut p = full_props();
        p["Functions"][1]["Statements"] = json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/café/*"}]);
        assert!(Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").is_ok());
    }

    #[test]
    fn a_grantee_arn_over_kms_256_characters_is_refused_before_any_write() {
        let stack = crate::domain::arn::parse_stack_id(STACK).unwrap();
        let mut spec = parse_with(full_props(), None).unwrap();
        let deep = format!("/{}/", "p".repeat(200));
        spec.naming =
            crate::domain::names::Naming::new(&deep, STACK, "Access", &stack, "orders", "prod");
        let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("KMS grantee may have 256")),
            "{e:?}"
        );
    }

    #[test]
    fn generated_group_policies_fit_iams_limits() {
        let d =
            Desired::from_spec(&parse_with(full_props(), None).unwrap(), STACK, "Access").unwrap();
        assert!(iam_size(&d.policies[0].document) <= policy::MANAGED_POLICY_MAX);
        for g in &d.groups {
            assert!(
                g.inline.values().map(iam_size).sum::<usize>() <= policy::GROUP_INLINE_MAX,
                "{}",
                g.name
            );
        }
    }
}
