//! Observation: everything under a path (groups, roles, managed policies) read to a [`Depth`],
//! listings followed through every page, details read side by side.

use super::{doc, SdkIam};
use crate::adapters::aws_error::from_sdk;
use crate::domain::claims::{claim_of, merge_claims, Claim};
use crate::domain::observed::{ObservedGroup, ObservedPolicy, ObservedRole};
use crate::error::{Error, Result};
use crate::ports::Depth;
use aws_sdk_iam::types::PolicyScopeType;
use std::collections::{BTreeMap, BTreeSet};

impl SdkIam {
    pub(super) async fn group(&self, name: String, depth: Depth) -> Result<ObservedGroup> {
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
    pub(super) async fn group_inline(
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

    pub(super) async fn group_attached(&self, name: &str) -> Result<BTreeSet<String>> {
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

    pub(super) async fn role(
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
                max_session: 3600,
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
            max_session: role.max_session_duration().unwrap_or(3600),
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
    pub(super) async fn role_inline(
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

    pub(super) async fn role_attached(&self, name: &str) -> Result<BTreeSet<String>> {
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

    pub(super) async fn policy(
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
}

impl SdkIam {
    pub(super) async fn group_names_under(&self, path: &str) -> Result<Vec<String>> {
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

    pub(super) async fn roles_under(&self, path: &str) -> Result<Vec<(String, Option<String>)>> {
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

    pub(super) async fn policies_under(&self, path: &str) -> Result<Vec<(String, String, String)>> {
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
pub(super) async fn inline_documents<F, Fut>(
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

impl SdkIam {
    /// Every claim under the provider's root path, read from the paths and names of the groups,
    /// roles and managed policies there (three listings, every page).
    pub(super) async fn claims_under(&self, root: &str) -> Result<Vec<Claim>> {
        let c = &self.client;
        let mut found = Vec::new();
        let mut pages = c.list_groups().path_prefix(root).into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListGroups", root, e))?;
            found.extend(
                p.groups()
                    .iter()
                    .filter_map(|g| claim_of(root, g.path(), g.group_name())),
            );
        }
        let mut pages = c.list_roles().path_prefix(root).into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListRoles", root, e))?;
            found.extend(
                p.roles()
                    .iter()
                    .filter_map(|r| claim_of(root, r.path(), r.role_name())),
            );
        }
        let mut pages = c
            .list_policies()
            .scope(PolicyScopeType::Local)
            .path_prefix(root)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| from_sdk("iam:ListPolicies", root, e))?;
            found.extend(
                p.policies()
                    .iter()
                    .filter_map(|x| claim_of(root, x.path()?, x.policy_name()?)),
            );
        }
        Ok(merge_claims(found))
    }
}

impl SdkIam {
    /// A managed policy as it is now: its default version's document and its other versions.
    pub(super) async fn policy_now(&self, arn: &str) -> Result<ObservedPolicy> {
        let p = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| from_sdk("iam:GetPolicy", arn, e))?;
        let p = p.policy();
        let name = p.and_then(|p| p.policy_name()).unwrap_or_default();
        let default = p.and_then(|p| p.default_version_id()).unwrap_or("v1");
        self.policy(name.into(), arn.into(), default.into(), Depth::Full)
            .await
    }
}
