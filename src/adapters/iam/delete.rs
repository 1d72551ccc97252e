//! Deletions: a role, a group or a managed policy with everything that blocks its deletion, from
//! what was observed, re-reading once only when IAM reports a conflict.

use super::{gone_ok, gone_or, not_found, SdkIam};
use crate::adapters::aws_error::from_sdk;
use crate::error::{AwsErrorKind, Error, Result};
use crate::ports::Depth;

impl SdkIam {
    /// Deletes a role: inline policies, attachments, instance profiles, then the role. `known`
    /// carries the inline policy names and attachments observed moments ago; when something changed
    /// since (`DeleteConflict`), everything is read again once.
    pub(super) async fn delete_role(
        &self,
        name: &str,
        known: Option<(&[String], &[String])>,
    ) -> Result<()> {
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

    pub(super) async fn delete_role_with(
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
            let names: Vec<String> = gone_or(profiles)?
                .map(|p| p.instance_profiles().to_vec())
                .unwrap_or_default()
                .iter()
                .map(|p| p.instance_profile_name().to_string())
                .collect();
            // Instance profiles are not the provider's (it never creates one, and its role has no
            // rights on them): whoever added the role removes it.
            if !names.is_empty() {
                return Err(Error::AttachedElsewhere {
                    policy: format!("role {name}"),
                    entities: format!("instance profile {}", names.join(", instance profile ")),
                });
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
    pub(super) async fn delete_group(
        &self,
        name: &str,
        known: Option<(&[String], &[String])>,
    ) -> Result<()> {
        match self.delete_group_with(name, known).await {
            Err(e) if known.is_some() && e.aws_kind() == Some(AwsErrorKind::Conflict) => {
                Box::pin(self.delete_group_with(name, None)).await
            }
            other => other,
        }
    }

    pub(super) async fn delete_group_with(
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
    pub(super) async fn delete_policy(
        &self,
        arn: &str,
        versions: &[String],
        own_groups: &[String],
    ) -> Result<()> {
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
        // The resource's own groups were deleted (and detached) before its policies, though IAM may
        // still list them for a moment; anything else attached belongs to someone else, and the
        // provider does not change it. A DeleteConflict that follows is retried (reconcile).
        let elsewhere: Vec<String> = entities
            .policy_groups()
            .iter()
            .filter_map(|g| g.group_name())
            .filter(|n| !own_groups.iter().any(|own| own == n))
            .map(|n| format!("group {n}"))
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
