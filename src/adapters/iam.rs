//! [`IamPort`] on the AWS SDK for IAM.

use super::aws_error::from_sdk;
use crate::domain::plan::{Change, Observed, ObservedGroup, ObservedPolicy, ObservedRole};
use crate::domain::policy::from_iam;
use crate::error::{AwsErrorKind, Error, Result};
use crate::ports::{Depth, IamPort};
use aws_sdk_iam::types::{PolicyScopeType, Tag};
use aws_sdk_iam::Client;
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};

/// IAM through the SDK. `concurrency` bounds the reads of one observation.
#[derive(Clone)]
pub struct SdkIam {
    client: Client,
    concurrency: usize,
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
    async fn group(&self, name: String, depth: Depth) -> Result<ObservedGroup> {
        let (inline, attached) = futures_util::future::try_join(
            self.group_inline(&name, depth),
            self.group_attached(&name),
        )
        .await?;
        Ok(ObservedGroup {
            name,
            inline,
            attached,
        })
    }

    /// Inline policies by name; their documents only at [`Depth::Full`] (`null` otherwise).
    async fn group_inline(
        &self,
        name: &str,
        depth: Depth,
    ) -> Result<BTreeMap<String, serde_json::Value>> {
        let c = &self.client;
        let mut names = Vec::new();
        let mut pages = c
            .list_group_policies()
            .group_name(name)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            names.extend(
                p.map_err(|e| from_sdk("iam:ListGroupPolicies", name, e))?
                    .policy_names()
                    .iter()
                    .cloned(),
            );
        }
        inline_documents(name, depth, names, |pn| async move {
            c.get_group_policy()
                .group_name(name)
                .policy_name(pn)
                .send()
                .await
                .map(|out| out.policy_document().to_string())
                .map_err(|e| from_sdk("iam:GetGroupPolicy", name, e))
        })
        .await
    }

    async fn group_attached(&self, name: &str) -> Result<BTreeSet<String>> {
        let mut attached = BTreeSet::new();
        let mut pages = self
            .client
            .list_attached_group_policies()
            .group_name(name)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListAttachedGroupPolicies", name, e))?;
            attached.extend(
                p.attached_policies()
                    .iter()
                    .filter_map(|a| a.policy_arn().map(String::from)),
            );
        }
        Ok(attached)
    }

    async fn role(
        &self,
        name: String,
        trust_text: Option<String>,
        depth: Depth,
    ) -> Result<ObservedRole> {
        if depth == Depth::ForDeletion {
            let (inline, attached) = futures_util::future::try_join(
                self.role_inline(&name, depth),
                self.role_attached(&name),
            )
            .await?;
            return Ok(ObservedRole {
                name,
                role_id: String::new(),
                trust: serde_json::Value::Null,
                boundary: None,
                tags: BTreeMap::new(),
                inline,
                attached,
            });
        }
        // GetRole (boundary, tags, id), the inline policies and the attachments side by side.
        let get = async {
            self.client
                .get_role()
                .role_name(&name)
                .send()
                .await
                .map_err(|e| from_sdk("iam:GetRole", &name, e))
        };
        let (got, inline, attached) = futures_util::future::try_join3(
            get,
            self.role_inline(&name, depth),
            self.role_attached(&name),
        )
        .await?;
        let role = got.role().ok_or_else(|| Error::Document {
            entity: name.clone(),
            message: "GetRole returned no role".into(),
        })?;
        let trust_text = trust_text
            .or_else(|| role.assume_role_policy_document().map(String::from))
            .unwrap_or_default();
        Ok(ObservedRole {
            trust: doc(&name, &trust_text)?,
            role_id: role.role_id().to_string(),
            boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(String::from),
            tags: role
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            name,
            inline,
            attached,
        })
    }

    /// Inline policies by name; their documents only at [`Depth::Full`] (`null` otherwise).
    async fn role_inline(
        &self,
        name: &str,
        depth: Depth,
    ) -> Result<BTreeMap<String, serde_json::Value>> {
        let c = &self.client;
        let mut names = Vec::new();
        let mut pages = c
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            names.extend(
                p.map_err(|e| from_sdk("iam:ListRolePolicies", name, e))?
                    .policy_names()
                    .iter()
                    .cloned(),
            );
        }
        inline_documents(name, depth, names, |pn| async move {
            c.get_role_policy()
                .role_name(name)
                .policy_name(pn)
                .send()
                .await
                .map(|out| out.policy_document().to_string())
                .map_err(|e| from_sdk("iam:GetRolePolicy", name, e))
        })
        .await
    }

    async fn role_attached(&self, name: &str) -> Result<BTreeSet<String>> {
        let mut attached = BTreeSet::new();
        let mut pages = self
            .client
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListAttachedRolePolicies", name, e))?;
            attached.extend(
                p.attached_policies()
                    .iter()
                    .filter_map(|a| a.policy_arn().map(String::from)),
            );
        }
        Ok(attached)
    }

    async fn policy(
        &self,
        name: String,
        arn: String,
        default_version: String,
        depth: Depth,
    ) -> Result<ObservedPolicy> {
        let c = &self.client;
        let document = if depth == Depth::Full {
            let v = c
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(&default_version)
                .send()
                .await
                .map_err(|e| from_sdk("iam:GetPolicyVersion", &arn, e))?;
            doc(
                &arn,
                v.policy_version()
                    .and_then(|p| p.document())
                    .unwrap_or_default(),
            )?
        } else {
            serde_json::Value::Null
        };
        let versions = c
            .list_policy_versions()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| from_sdk("iam:ListPolicyVersions", &arn, e))?;
        let mut others: Vec<_> = versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .collect();
        others.sort_by_key(|v| v.create_date().map(|d| d.secs()).unwrap_or(0));
        Ok(ObservedPolicy {
            document,
            other_versions: others
                .iter()
                .filter_map(|v| v.version_id().map(String::from))
                .collect(),
            name,
            arn,
            default_version,
        })
    }

    /// Where an existing entity lives, for ownership checks after `EntityAlreadyExists`.
    async fn existing_path(&self, kind: &'static str, name: &str) -> Result<String> {
        let c = &self.client;
        Ok(match kind {
            "IAM group" => c
                .get_group()
                .group_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("iam:GetGroup", name, e))?
                .group()
                .map(|g| g.path().to_string()),
            "IAM role" => c
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("iam:GetRole", name, e))?
                .role()
                .map(|r| r.path().to_string()),
            _ => None,
        }
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
        let existing = match self.existing_path(kind, name).await {
            Ok(p) => p,
            // The provider may only read under its own path: anything it cannot read is not its own.
            Err(e) if e.aws_kind() == Some(AwsErrorKind::AccessDenied) => {
                "outside this provider's IAM path".into()
            }
            Err(e) => return Err(e),
        };
        if existing == path {
            Ok(())
        } else {
            Err(Error::NotOwned {
                entity_type: kind,
                name: name.to_string(),
                detail: format!("it lives under path {existing}"),
            })
        }
    }

    /// Deletes a role: inline policies, attachments, instance profiles, then the role. `known`
    /// carries the inline policy names and attachments observed moments ago; when something changed
    /// since (`DeleteConflict`), everything is read again once.
    async fn delete_role(&self, name: &str, known: Option<(&[String], &[String])>) -> Result<()> {
        let (inline, attached): (Vec<String>, Vec<String>) = match known {
            Some((i, a)) => (i.to_vec(), a.to_vec()),
            None => match self.role(name.to_string(), None, Depth::ForDeletion).await {
                Err(e) if not_found(&e) => return Ok(()),
                Err(e) => return Err(e),
                Ok(o) => (
                    o.inline.into_keys().collect(),
                    o.attached.into_iter().collect(),
                ),
            },
        };
        // A role this provider made has no instance profile; one added since makes DeleteRole fail
        // with DeleteConflict, and the re-read below looks for them.
        match self
            .delete_role_with(name, &inline, &attached, known.is_none())
            .await
        {
            Err(e) if known.is_some() && e.aws_kind() == Some(AwsErrorKind::Conflict) => {
                Box::pin(self.delete_role(name, None)).await
            }
            other => other,
        }
    }

    async fn delete_role_with(
        &self,
        name: &str,
        inline: &[String],
        attached: &[String],
        instance_profiles: bool,
    ) -> Result<()> {
        let c = &self.client;
        for pn in inline {
            gone_ok(
                c.delete_role_policy()
                    .role_name(name)
                    .policy_name(pn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteRolePolicy", name, e)),
            )?;
        }
        for arn in attached {
            gone_ok(
                c.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachRolePolicy", name, e)),
            )?;
        }
        if instance_profiles {
            let profiles = c
                .list_instance_profiles_for_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("iam:ListInstanceProfilesForRole", name, e));
            for p in gone_or(profiles)?
                .map(|p| p.instance_profiles().to_vec())
                .unwrap_or_default()
            {
                gone_ok(
                    c.remove_role_from_instance_profile()
                        .role_name(name)
                        .instance_profile_name(p.instance_profile_name())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| from_sdk("iam:RemoveRoleFromInstanceProfile", name, e)),
                )?;
            }
        }
        gone_ok(
            c.delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| from_sdk("iam:DeleteRole", name, e)),
        )
    }

    /// Deletes a group: members (the users stay), inline policies, attachments, then the group;
    /// re-reads everything once if something changed since it was observed.
    async fn delete_group(&self, name: &str, known: Option<(&[String], &[String])>) -> Result<()> {
        match self.delete_group_with(name, known).await {
            Err(e) if known.is_some() && e.aws_kind() == Some(AwsErrorKind::Conflict) => {
                Box::pin(self.delete_group_with(name, None)).await
            }
            other => other,
        }
    }

    async fn delete_group_with(
        &self,
        name: &str,
        known: Option<(&[String], &[String])>,
    ) -> Result<()> {
        let c = &self.client;
        let mut users = Vec::new();
        let mut pages = c.get_group().group_name(name).into_paginator().send();
        while let Some(p) = pages.next().await {
            match p.map_err(|e| from_sdk("iam:GetGroup", name, e)) {
                Err(e) if not_found(&e) => return Ok(()),
                Err(e) => return Err(e),
                Ok(p) => users.extend(p.users().iter().map(|u| u.user_name().to_string())),
            }
        }
        for u in users {
            // The users stay; only their membership of this resource's group ends.
            gone_ok(
                c.remove_user_from_group()
                    .group_name(name)
                    .user_name(&u)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:RemoveUserFromGroup", name, e)),
            )?;
        }
        let (inline, attached): (Vec<String>, Vec<String>) = match known {
            Some((i, a)) => (i.to_vec(), a.to_vec()),
            None => match self.group(name.to_string(), Depth::ForDeletion).await {
                Err(e) if not_found(&e) => return Ok(()),
                Err(e) => return Err(e),
                Ok(o) => (
                    o.inline.into_keys().collect(),
                    o.attached.into_iter().collect(),
                ),
            },
        };
        for pn in &inline {
            gone_ok(
                c.delete_group_policy()
                    .group_name(name)
                    .policy_name(pn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteGroupPolicy", name, e)),
            )?;
        }
        for arn in &attached {
            gone_ok(
                c.detach_group_policy()
                    .group_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachGroupPolicy", name, e)),
            )?;
        }
        gone_ok(
            c.delete_group()
                .group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| from_sdk("iam:DeleteGroup", name, e)),
        )
    }

    /// Deletes a managed policy: its other versions, then the policy. Refuses while it is attached to
    /// an entity the resource does not own.
    async fn delete_policy(&self, arn: &str, versions: &[String]) -> Result<()> {
        let c = &self.client;
        let entities = match c
            .list_entities_for_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| from_sdk("iam:ListEntitiesForPolicy", arn, e))
        {
            Err(e) if not_found(&e) => return Ok(()),
            other => other?,
        };
        // The resource's own groups were deleted (and detached) before its policies; anything
        // still attached belongs to someone else, and the provider does not change it.
        let elsewhere: Vec<String> = entities
            .policy_groups()
            .iter()
            .filter_map(|g| g.group_name().map(|n| format!("group {n}")))
            .chain(
                entities
                    .policy_roles()
                    .iter()
                    .filter_map(|r| r.role_name().map(|n| format!("role {n}"))),
            )
            .chain(
                entities
                    .policy_users()
                    .iter()
                    .filter_map(|u| u.user_name().map(|n| format!("user {n}"))),
            )
            .collect();
        if !elsewhere.is_empty() {
            return Err(Error::AttachedElsewhere {
                policy: arn.to_string(),
                entities: elsewhere.join(", "),
            });
        }
        for id in versions {
            gone_ok(
                c.delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeletePolicyVersion", arn, e)),
            )?;
        }
        gone_ok(
            c.delete_policy()
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| from_sdk("iam:DeletePolicy", arn, e)),
        )
    }
}

impl SdkIam {
    async fn group_names_under(&self, path: &str) -> Result<Vec<String>> {
        let c = &self.client;
        let mut group_names = Vec::new();
        let mut pages = c.list_groups().path_prefix(path).into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListGroups", path, e))?;
            // PathPrefix matches longer paths too: only the exact path is this resource's.
            group_names.extend(
                p.groups()
                    .iter()
                    .filter(|g| g.path() == path)
                    .map(|g| g.group_name().to_string()),
            );
        }
        Ok(group_names)
    }

    async fn roles_under(&self, path: &str) -> Result<Vec<(String, Option<String>)>> {
        let c = &self.client;
        let mut roles = Vec::new();
        let mut pages = c.list_roles().path_prefix(path).into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListRoles", path, e))?;
            roles.extend(p.roles().iter().filter(|r| r.path() == path).map(|r| {
                (
                    r.role_name().to_string(),
                    r.assume_role_policy_document().map(String::from),
                )
            }));
        }
        Ok(roles)
    }

    async fn policies_under(&self, path: &str) -> Result<Vec<(String, String, String)>> {
        let c = &self.client;
        let mut policies = Vec::new();
        let mut pages = c
            .list_policies()
            .scope(PolicyScopeType::Local)
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListPolicies", path, e))?;
            policies.extend(
                p.policies()
                    .iter()
                    .filter(|x| x.path() == Some(path))
                    .filter_map(|x| {
                        Some((
                            x.policy_name()?.to_string(),
                            x.arn()?.to_string(),
                            x.default_version_id()?.to_string(),
                        ))
                    }),
            );
        }
        Ok(policies)
    }
}

/// Inline policies by name: at [`Depth::Full`] each document fetched by `get` (side by side), at
/// [`Depth::ForDeletion`] only the names (`null` documents).
async fn inline_documents<F, Fut>(
    entity: &str,
    depth: Depth,
    names: Vec<String>,
    get: F,
) -> Result<BTreeMap<String, serde_json::Value>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    if depth == Depth::ForDeletion {
        return Ok(names
            .into_iter()
            .map(|pn| (pn, serde_json::Value::Null))
            .collect());
    }
    let docs = names.into_iter().map(|pn| {
        let text = get(pn.clone());
        async move { Ok::<_, Error>((pn, doc(entity, &text.await?)?)) }
    });
    Ok(futures_util::future::try_join_all(docs)
        .await?
        .into_iter()
        .collect())
}

fn gone_or<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
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
        let groups = stream::iter(group_names.into_iter().map(|n| self.group(n, depth)))
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<ObservedGroup>>();
        let roles = stream::iter(roles.into_iter().map(|(n, t)| self.role(n, t, depth)))
            .buffer_unordered(self.concurrency)
            .try_collect::<Vec<ObservedRole>>();
        let policies = stream::iter(
            policies
                .into_iter()
                .map(|(n, a, v)| self.policy(n, a, v, depth)),
        )
        .buffer_unordered(self.concurrency)
        .try_collect::<Vec<ObservedPolicy>>();
        let (groups, roles, policies) =
            futures_util::future::try_join3(groups, roles, policies).await?;
        Ok(Observed {
            groups: groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
            roles: roles.into_iter().map(|r| (r.name.clone(), r)).collect(),
            policies: policies.into_iter().map(|p| (p.name.clone(), p)).collect(),
            grants: vec![],
        })
    }

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

    async fn apply(&self, change: &Change) -> Result<Option<String>> {
        let c = &self.client;
        match change {
            Change::CreatePolicy {
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
            Change::CreatePolicyVersion {
                arn,
                document,
                delete_first,
            } => {
                for v in delete_first {
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
            Change::CreateGroup { name, path } => {
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
            Change::PutGroupPolicy {
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
            Change::DeleteGroupPolicy { group, name } => gone_ok(
                c.delete_group_policy()
                    .group_name(group)
                    .policy_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteGroupPolicy", group, e)),
            )
            .map(|_| None),
            Change::AttachGroupPolicy { group, arn } => {
                c.attach_group_policy()
                    .group_name(group)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:AttachGroupPolicy", group, e))?;
                Ok(None)
            }
            Change::DetachGroupPolicy { group, arn } => gone_ok(
                c.detach_group_policy()
                    .group_name(group)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachGroupPolicy", group, e)),
            )
            .map(|_| None),
            Change::CreateRole {
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
            Change::UpdateTrust { role, document } => {
                c.update_assume_role_policy()
                    .role_name(role)
                    .policy_document(document)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:UpdateAssumeRolePolicy", role, e))?;
                Ok(None)
            }
            Change::PutBoundary { role, arn } => {
                c.put_role_permissions_boundary()
                    .role_name(role)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:PutRolePermissionsBoundary", role, e))?;
                Ok(None)
            }
            Change::DeleteBoundary { role } => gone_ok(
                c.delete_role_permissions_boundary()
                    .role_name(role)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteRolePermissionsBoundary", role, e)),
            )
            .map(|_| None),
            Change::TagRole { role, tags } => {
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
            Change::UntagRole { role, keys } => {
                c.untag_role()
                    .role_name(role)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await
                    .map_err(|e| from_sdk("iam:UntagRole", role, e))?;
                Ok(None)
            }
            Change::PutRolePolicy {
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
            Change::DeleteRolePolicy { role, name } => gone_ok(
                c.delete_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DeleteRolePolicy", role, e)),
            )
            .map(|_| None),
            Change::DetachRolePolicy { role, arn } => gone_ok(
                c.detach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| from_sdk("iam:DetachRolePolicy", role, e)),
            )
            .map(|_| None),
            Change::DeleteRole {
                name,
                inline,
                attached,
            } => self
                .delete_role(name, Some((inline, attached)))
                .await
                .map(|_| None),
            Change::DeleteGroup {
                name,
                inline,
                attached,
            } => self
                .delete_group(name, Some((inline, attached)))
                .await
                .map(|_| None),
            Change::DeletePolicy { arn, versions } => {
                self.delete_policy(arn, versions).await.map(|_| None)
            }
            Change::CreateGrant { .. } | Change::RetireGrant { .. } => Err(Error::Internal(
                format!("{} is not an IAM change", change.describe()),
            )),
        }
    }
}
