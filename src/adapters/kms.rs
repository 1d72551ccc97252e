//! [`GrantPort`] on the AWS SDK for KMS.

use super::aws_error::from_sdk;
use crate::domain::change::GrantChange;
use crate::domain::kms_key::KeyState;
use crate::domain::observed::ObservedGrant;
use crate::error::{AwsErrorKind, Error, Result};
use crate::ports::GrantPort;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
use aws_sdk_kms::Client;
use std::collections::HashMap;

/// KMS through the SDK. Grants name `retiring_principal` (the provider) so it can retire them
/// without `kms:RevokeGrant`.
#[derive(Clone)]
pub struct SdkKms {
    client: Client,
    retiring_principal: String,
}

impl SdkKms {
    /// Wraps a client.
    pub fn new(client: Client, retiring_principal: String) -> Self {
        SdkKms {
            client,
            retiring_principal,
        }
    }
}

impl GrantPort for SdkKms {
    async fn describe(&self, key_arn: &str) -> Result<KeyState> {
        let out = self
            .client
            .describe_key()
            .key_id(key_arn)
            .send()
            .await
            .map_err(|e| from_sdk("kms:DescribeKey", key_arn, e))?;
        let m = out.key_metadata();
        Ok(KeyState {
            spec: m
                .and_then(|m| m.key_spec())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            usage: m
                .and_then(|m| m.key_usage())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            state: m
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        })
    }

    async fn list(&self, key_arn: &str, prefix: &str) -> Result<Vec<ObservedGrant>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_grants()
            .key_id(key_arn)
            // KMS's largest page; without a limit it answers 50 at a time.
            .limit(100)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = match p.map_err(|e| from_sdk("kms:ListGrants", key_arn, e)) {
                // A key that is gone has no grants left to retire.
                Err(e) if e.aws_kind() == Some(AwsErrorKind::NotFound) => return Ok(vec![]),
                other => other?,
            };
            for g in p.grants() {
                if let (Some(id), Some(name)) = (g.grant_id(), g.name()) {
                    if name.starts_with(prefix) {
                        out.push(ObservedGrant {
                            key_arn: key_arn.to_string(),
                            grant_id: id.to_string(),
                            name: name.to_string(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    async fn apply(&self, change: &GrantChange) -> Result<()> {
        match change {
            GrantChange::Create {
                key_arn,
                grantee,
                name,
                operations,
                encryption_context,
            } => {
                let constraints = (!encryption_context.is_empty()).then(|| {
                    GrantConstraints::builder()
                        .set_encryption_context_subset(Some(
                            encryption_context
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect::<HashMap<_, _>>(),
                        ))
                        .build()
                });
                self.client
                    .create_grant()
                    .key_id(key_arn)
                    .grantee_principal(grantee)
                    .name(name)
                    .retiring_principal(&self.retiring_principal)
                    .set_operations(Some(
                        operations
                            .iter()
                            .map(|o| GrantOperation::from(o.as_str()))
                            .collect(),
                    ))
                    .set_constraints(constraints)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| match from_sdk("kms:CreateGrant", grantee, e) {
                        // From CreateGrant, an invalid ARN is the grantee IAM has not propagated yet
                        // (the role was created moments ago): retried within the deadline.
                        Error::Aws {
                            operation,
                            entity,
                            code,
                            message,
                            ..
                        } if code == "InvalidArnException" => Error::Aws {
                            operation,
                            entity,
                            kind: AwsErrorKind::PrincipalNotPropagated,
                            code,
                            message,
                        },
                        other => other,
                    })
            }
            GrantChange::Retire { key_arn, grant_id } => {
                match self
                    .client
                    .retire_grant()
                    .key_id(key_arn)
                    .grant_id(grant_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk("kms:RetireGrant", key_arn, e))
                {
                    Err(e) if e.aws_kind() == Some(AwsErrorKind::NotFound) => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        }
    }
}
