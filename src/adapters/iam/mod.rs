//! [`IamPort`] on the AWS SDK for IAM: the writes of [`IamChange`]s in [`writes`], observation in
//! [`observe`], deletions in [`delete`]. Every SDK error goes through one mapping
//! ([`from_sdk`]) that keeps AWS's error class.

mod delete;
mod observe;
mod writes;

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
        self.write(change).await
    }
}
