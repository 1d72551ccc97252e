//! [`IamPort`] on the AWS SDK for IAM: the writes of [`IamChange`]s here, observation in
//! [`observe`], deletions in [`delete`]. Every SDK error goes through one mapping
//! ([`from_sdk`]) that keeps AWS's error class.

mod delete;
mod observe;

use super::aws_error::from_sdk;
use crate::domain::change::{versions_to_make_room, IamChange};
use crate::domain::claims::Claim;
use crate::domain::observed::{Observed, ObservedGroup, ObservedPolicy, ObservedRole};
use crate::domain::policies::document::from_iam;
use crate::domain::policies::document::same;
use crate::error::{AwsErrorKind, Error, Result};
use crate::ports::{Depth, IamPort};
use aws_sdk_iam::types::{PolicyScopeType, Tag};
use aws_sdk_iam::Client;
use futures_util::{stream, StreamExt, TryStreamExt};

/// IAM through the SDK. `concurrency` bounds the reads of one observation.
#[derive(Clone)]
pub struct SdkIam {
    client: Client,
    concurrency: usize,
}

fn gone_or<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

impl SdkIam {
    /// Wraps a client.
    pub fn new(client: Client, concurrency: usize) -> Self {
        SdkIam {
            client,
            concurrency,
        }
    }
}

fn doc(entity: &str, text: &str) -> Result<serde_json::Value> {
    from_iam(text).map_err(|message| Error::Document {
        entity: entity.to_string(),
        message,
    })
}

fn not_found(e: &Error) -> bool {
    e.aws_kind() == Some(AwsErrorKind::NotFound)
}

/// Treats "not found" as done: deleting what is gone succeeds.
fn gone_ok(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if not_found(&e) => Ok(()),
        other => other,
    }
}

impl SdkIam {
    /// The unique id of role `name`: after a CreateRole that found the role already there (a
    /// duplicate delivery got there first), the id the grant names need.
    async fn role_id(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("iam:GetRole", name, e))?;
        Ok(out
            .role()
            .map(|r| r.role_id().to_string())
            .unwrap_or_default())
    }

    async fn owned_or_conflict(
        &self,
        kind: &'static str,
        name: &str,
        path: &str,
        err: Error,
    ) -> Result<()> {
        if err.aws_kind() != Some(AwsErrorKind::AlreadyExists) {
            return Err(err);
        }
        // Look only under the resource's own path (the provider may read nothing else): a
        // duplicate delivery that got there first is found there; anything else is not its own.
        let ours = match kind {
            "IAM group" => self
                .group_names_under(path)
                .await?
                .iter()
                .any(|n| n == name),
            _ => self.roles_under(path).await?.iter().any(|(n, _)| n == name),
        };
        if ours {
            Ok(())
        } else {
            Err(Error::NotOwned {
                entity_type: kind,
                name: name.to_string(),
                detail: format!("it exists outside this resource's IAM path {path}"),
            })
        }
    }
}

impl IamPort for SdkIam {
    async fn observe(&self, path: &str, depth: Depth) -> Result<Observed> {
        // The three listings side by side, then the details of what they found.
        let (group_names, roles, policies) = futures_util::future::try_join3(
            self.group_names_under(path),
            self.roles_under(path),
            self.policies_under(path),
        )
        .await?;
        // An entity deleted between the listing and its details is absent, not an error.
        let groups = stream::iter(
            group_names
                .into_iter()
                .map(|n| async move { gone_or(self.group(n, depth).await) }),
        )
        .buffer_unordered(self.concurrency)
        .try_collect::<Vec<Option<ObservedGroup>>>();
        let roles = stream::iter(
            roles
                .into_iter()
                .map(|(n, t)| async move { gone_or(self.role(n, t, depth).await) }),
        )
        .buffer_unordered(self.concurrency)
        .try_collect::<Vec<Option<ObservedRole>>>();
        let policies = stream::iter(
            policies
                .into_iter()
                .map(|(n, a, v)| async move { gone_or(self.policy(n, a, v, depth).await) }),
        )
        .buffer_unordered(self.concurrency)
        .try_collect::<Vec<Option<ObservedPolicy>>>();
        let (groups, roles, policies) =
            futures_util::future::try_join3(groups, roles, policies).await?;
        Ok(Observed {
            groups: groups
                .into_iter()
                .flatten()
                .map(|g| (g.name.clone(), g))
                .collect(),
            roles: roles
                .into_iter()
                .flatten()
                .map(|r| (r.name.clone(), r))
                .collect(),
            policies: policies
                .into_iter()
                .flatten()
                .map(|p| (p.name.clone(), p))
                .collect(),
            grants: vec![],
        })
    }

    async fn claims(&self, root: &str) -> Result<Vec<Claim>> {
        self.claims_under(root).await
    }

    async fn oidc_provider_exists(&self, arn: &str) -> Result<bool> {
        let r = self
            .client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk("iam:GetOpenIDConnectProvider", arn, e));
        gone_or(r).map(|found| found.is_some())
    }

    async fn apply(&self, change: &IamChange) -> Result<Option<String>> {
        let c = &self.client;
        match change {
            IamChange::CreatePolicy {
                name,
                path,
                document,
            } => {
                let r = c
                    .create_policy()
                    .policy_name(name)
                    .path(path)
                    .policy_document(document)
                    .description(
                        "Deploy rights of a serverless service stage, managed by serverless-access",
                    )
                    .send()
                    .await;
                match r.map_err(|e| from_sdk("iam:CreatePolicy", name, e)) {
                    Err(e) if e.aws_kind() == Some(AwsErrorKind::AlreadyExists) => {
                        // Managed policy names are unique per account: one under the resource's own
                        // path is the resource's (a duplicate delivery made it), any other is not.
                        let listed = c
                            .list_policies()
                            .scope(PolicyScopeType::Local)
                            .path_prefix(path)
                            .send()
                            .await
                            .map_err(|e| from_sdk("iam:ListPolicies", path, e))?;
                        if listed.policies().iter().any(|p| {
                            p.policy_name() == Some(name.as_str())
                                && p.path() == Some(path.as_str())
                        }) {
                            Ok(None)
                        } else {
                            Err(Error::NotOwned {
                                entity_type: "IAM policy",
                                name: name.clone(),
                                detail: "it lives under another path".into(),
                            })
                        }
                    }
                    other => other.map(|_| None),
                }
            }
            IamChange::CreatePolicyVersion { arn, document, .. } => {
                // CreatePolicyVersion is not idempotent: an attempt that timed out may have landed.
                // Look before writing, and make room from what exists now (IAM keeps 5 versions).
                let now = self.policy_now(arn).await?;
                let wanted: serde_json::Value =
                    serde_json::from_str(document).map_err(|e| Error::Document {
                        entity: arn.clone(),
                        message: e.to_string(),
                    })?;
                if same(&now.document, &wanted) {
                    return Ok(None);
                }
                for v in versions_to_make_room(&now.other_versions) {
                    gone_ok(
                        c.delete_policy_version()
                            .policy_arn(arn)
                            .version_id(v)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| from_sdk("iam:DeletePolicyVersion", arn, e)),
                    )?;
                }
                c.create_policy_version()
                    .policy_arn(arn)
                    .policy_document(document)
                    .set_as_default(true)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:CreatePolicyVersion", arn, e))?;
                Ok(None)
            }
            IamChange::CreateGroup { name, path } => {
                match c
                    .create_group()
                    .group_name(name)
                    .path(path)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:CreateGroup", name, e))
                {
                    Ok(_) => Ok(None),
                    Err(e) => self
                        .owned_or_conflict("IAM group", name, path, e)
                        .await
                        .map(|_| None),
                }
            }
            IamChange::PutGroupPolicy {
                group,
                name,
                document,
            } => {
                c.put_group_policy()
                    .group_name(group)
                    .policy_name(name)
                    .policy_document(document)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:PutGroupPolicy", group, e))?;
                Ok(None)
            }
            IamChange::DeleteGroupPolicy { group, name } => gone_ok(
                c.delete_group_policy()
                    .group_name(group)
                    .policy_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteGroupPolicy", group, e)),
            )
            .map(|_| None),
            IamChange::AttachGroupPolicy { group, arn } => {
                c.attach_group_policy()
                    .group_name(group)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:AttachGroupPolicy", group, e))?;
                Ok(None)
            }
            IamChange::DetachGroupPolicy { group, arn } => gone_ok(
                c.detach_group_policy()
                    .group_name(group)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachGroupPolicy", group, e)),
            )
            .map(|_| None),
            IamChange::CreateRole {
                name,
                path,
                trust,
                boundary,
                tags,
                description,
            } => {
                let tags: Vec<Tag> = tags
                    .iter()
                    .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                    .collect();
                let r = c
                    .create_role()
                    .role_name(name)
                    .path(path)
                    .assume_role_policy_document(trust)
                    .set_permissions_boundary(boundary.clone())
                    .set_tags(Some(tags))
                    .description(description)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:CreateRole", name, e));
                match r {
                    Ok(out) => Ok(out.role().map(|r| r.role_id().to_string())),
                    Err(e) => {
                        self.owned_or_conflict("IAM role", name, path, e).await?;
                        Ok(Some(self.role_id(name).await?))
                    }
                }
            }
            IamChange::UpdateTrust { role, document } => {
                c.update_assume_role_policy()
                    .role_name(role)
                    .policy_document(document)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:UpdateAssumeRolePolicy", role, e))?;
                Ok(None)
            }
            IamChange::PutBoundary { role, arn } => {
                c.put_role_permissions_boundary()
                    .role_name(role)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:PutRolePermissionsBoundary", role, e))?;
                Ok(None)
            }
            IamChange::DeleteBoundary { role } => gone_ok(
                c.delete_role_permissions_boundary()
                    .role_name(role)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteRolePermissionsBoundary", role, e)),
            )
            .map(|_| None),
            IamChange::TagRole { role, tags } => {
                let tags: Vec<Tag> = tags
                    .iter()
                    .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                    .collect();
                c.tag_role()
                    .role_name(role)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:TagRole", role, e))?;
                Ok(None)
            }
            IamChange::UntagRole { role, keys } => {
                c.untag_role()
                    .role_name(role)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:UntagRole", role, e))?;
                Ok(None)
            }
            IamChange::PutRolePolicy {
                role,
                name,
                document,
            } => {
                c.put_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .policy_document(document)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:PutRolePolicy", role, e))?;
                Ok(None)
            }
            IamChange::DeleteRolePolicy { role, name } => gone_ok(
                c.delete_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteRolePolicy", role, e)),
            )
            .map(|_| None),
            IamChange::AttachRolePolicy { role, arn } => {
                c.attach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:AttachRolePolicy", role, e))?;
                Ok(None)
            }
            IamChange::UpdateRole {
                role,
                max_session,
                description,
            } => {
                c.update_role()
                    .role_name(role)
                    .max_session_duration(*max_session)
                    .description(description)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:UpdateRole", role, e))?;
                Ok(None)
            }
            IamChange::DetachRolePolicy { role, arn } => gone_ok(
                c.detach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachRolePolicy", role, e)),
            )
            .map(|_| None),
            IamChange::DeleteRole {
                name,
                inline,
                attached,
            } => self
                .delete_role(name, Some((inline, attached)))
                .await
                .map(|_| None),
            IamChange::DeleteGroup {
                name,
                inline,
                attached,
            } => self
                .delete_group(name, Some((inline, attached)))
                .await
                .map(|_| None),
            IamChange::DeletePolicy {
                arn,
                versions,
                own_groups,
            } => self
                .delete_policy(arn, versions, own_groups)
                .await
                .map(|_| None),
        }
    }
}
