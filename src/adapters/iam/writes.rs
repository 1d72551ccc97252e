//! The writes of [`IamChange`]s, one SDK call (or a short sequence) per change; creations check
//! ownership of a name that exists already ([`SdkIam::owned_or_conflict`]).

use super::*;

impl SdkIam {
    /// Applies one change; for `CreateRole`, returns the role's unique id.
    pub(super) async fn write(&self, change: &IamChange) -> Result<Option<String>> {
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
