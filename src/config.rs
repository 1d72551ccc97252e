//! Provider settings, read once from the environment at cold start.
//!
//! These variables are the only configuration the binary reads (template.yaml sets them):
//! - `SERVERLESS_ACCESS_IAM_PATH`: IAM path every group, role and managed policy lives under
//!   (default `/serverless-access/`).
//! - `SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN`: the boundary every role gets; when set, a request
//!   naming another boundary is refused. Unset: the `PermissionsBoundary` property is applied as given.
//! - `SERVERLESS_ACCESS_DEPLOYMENT_BOUNDARY_ARN`: the boundary of every deployment role (the role
//!   CloudFormation deploys a stage with). Unset: deployment roles get none (local runs).
//! - `SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN`: the boundary of every stage role (`AssumableBy`:
//!   the roles CI and people assume to hold a kind's documents). Unset: stage roles get none (local runs).
//! - `SERVERLESS_ACCESS_ASSUMABLE_BY_ACCOUNTS`: comma-separated accounts besides the stack's whose
//!   roles and users `AssumableBy: Principal` may name. Unset or empty: the stack's account only.
//! - `SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS`: comma-separated key ARNs grants may be made on; an
//!   entry ending in `key/*` allows every key of that account and region. Unset: any key of the
//!   function's own account and region. Set but empty: KMS grants are refused.
//! - `SERVERLESS_ACCESS_PROVIDER_STACK_NAME`: the provider's own stack, and `AWS_LAMBDA_FUNCTION_NAME`
//!   (set by Lambda): no claim may cover them, and every group policy denies them.
//! - `SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS`: comma-separated actions execution roles may be
//!   granted by name although they act as another principal, write permissions or switch account
//!   settings (identity administration stays refused), or on `Resource: "*"`.
//! - `SERVERLESS_ACCESS_RESOURCE_ACCOUNT_IDS`: comma-separated accounts besides the stack's whose
//!   resources role statements may name.
//! - `SERVERLESS_ACCESS_ALLOWED_TAG_KEYS`: comma-separated role tag keys stacks may set (for accounts
//!   that decide access by principal tags). Unset or empty: any key not starting with `aws:` or
//!   `serverless-access:`.
//! - `SERVERLESS_ACCESS_PROVIDER_ROLE_ARN`: the provider's own role, named as retiring principal on
//!   grants. Unset: the caller identity from STS.
//! - `SERVERLESS_ACCESS_CONCURRENCY`: how many AWS calls run at once (default 16, 1–64).
//! - `SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL=1`: accept `http://127.0.0.1` ResponseURLs (tests
//!   and `make demo` only).

use crate::domain::arn::{self, KeyAllowList};
use crate::domain::provider_guards::Guardrails;
use crate::error::{Error, Result};

/// The default IAM path.
pub const DEFAULT_IAM_PATH: &str = "/serverless-access/";
/// The default number of AWS calls in flight (chosen by `make bench`, see README).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Settings that hold for every invocation of this provider.
#[derive(Debug, Clone)]
pub struct Settings {
    /// IAM path prefix for everything the provider creates, starts and ends with `/`.
    pub iam_path: String,
    /// The enforced permissions boundary, if any.
    pub permissions_boundary: Option<String>,
    /// The boundary of every deployment role, if any.
    pub deployment_boundary: Option<String>,
    /// The boundary of every stage role, if any.
    pub stage_role_boundary: Option<String>,
    /// Accounts besides the stack's that stage roles may trust principals of.
    pub assumable_by_accounts: Vec<String>,
    /// Which KMS keys grants may be made on.
    pub allowed_keys: KeyAllowList,
    /// What validation enforces beyond the defaults.
    pub guardrails: Guardrails,
    /// The provider's own principal ARN for `RetiringPrincipal`, if configured.
    pub provider_role_arn: Option<String>,
    /// Bound on concurrent AWS calls.
    pub concurrency: usize,
    /// Whether `http://127.0.0.1` ResponseURLs are accepted (local runs only).
    pub allow_loopback_response_url: bool,
}

impl Settings {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let iam_path =
            non_empty("SERVERLESS_ACCESS_IAM_PATH").unwrap_or_else(|| DEFAULT_IAM_PATH.into());
        crate::domain::names::check_iam_path(&iam_path).map_err(Error::Config)?;
        let permissions_boundary = non_empty("SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN");
        if let Some(b) = &permissions_boundary {
            crate::domain::arn::check_policy_arn(b).map_err(|e| {
                Error::Config(format!("SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN: {e}"))
            })?;
        }
        let deployment_boundary = non_empty("SERVERLESS_ACCESS_DEPLOYMENT_BOUNDARY_ARN");
        if let Some(b) = &deployment_boundary {
            crate::domain::arn::check_policy_arn(b).map_err(|e| {
                Error::Config(format!("SERVERLESS_ACCESS_DEPLOYMENT_BOUNDARY_ARN: {e}"))
            })?;
        }
        let stage_role_boundary = non_empty("SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN");
        if let Some(b) = &stage_role_boundary {
            crate::domain::arn::check_policy_arn(b).map_err(|e| {
                Error::Config(format!("SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN: {e}"))
            })?;
        }
        let allowed_keys = match get("SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS") {
            None => KeyAllowList::OwnAccountAndRegion,
            Some(v) => KeyAllowList::parse(split_list(&v)).map_err(|e| {
                Error::Config(format!("SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS: {e}"))
            })?,
        };
        let accounts = |key: &str| -> Result<Vec<String>> {
            let list = non_empty(key).map(|v| split_list(&v)).unwrap_or_default();
            match list.iter().find(|a| !arn::is_account_id(a)) {
                Some(a) => Err(Error::Config(format!(
                    "{key}: {a:?} is not a 12-digit account id"
                ))),
                None => Ok(list),
            }
        };
        let mut allowed_actions = std::collections::BTreeSet::new();
        for a in non_empty("SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS")
            .map(|v| split_list(&v))
            .unwrap_or_default()
        {
            let ok = a.split_once(':').is_some_and(|(s, n)| {
                !s.is_empty()
                    && !n.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
            });
            if !ok {
                return Err(Error::Config(format!(
                    "SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS: {a:?} is not service:Action (no wildcards)"
                )));
            }
            allowed_actions.insert(a.to_ascii_lowercase());
        }
        let guardrails = Guardrails {
            provider_function: non_empty("AWS_LAMBDA_FUNCTION_NAME"),
            provider_stack: non_empty("SERVERLESS_ACCESS_PROVIDER_STACK_NAME"),
            allowed_actions,
            resource_accounts: accounts("SERVERLESS_ACCESS_RESOURCE_ACCOUNT_IDS")?,
            allowed_tag_keys: non_empty("SERVERLESS_ACCESS_ALLOWED_TAG_KEYS")
                .map(|v| split_list(&v).into_iter().collect()),
        };
        let concurrency = match non_empty("SERVERLESS_ACCESS_CONCURRENCY") {
            None => DEFAULT_CONCURRENCY,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "SERVERLESS_ACCESS_CONCURRENCY: {v:?} is not 1..=64"
                    ))
                })?,
        };
        let provider_role_arn = non_empty("SERVERLESS_ACCESS_PROVIDER_ROLE_ARN");
        for (what, arn) in [
            (
                "SERVERLESS_ACCESS_PROVIDER_ROLE_ARN",
                provider_role_arn.as_deref(),
            ),
            (
                "SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN",
                permissions_boundary.as_deref(),
            ),
            (
                "SERVERLESS_ACCESS_DEPLOYMENT_BOUNDARY_ARN",
                deployment_boundary.as_deref(),
            ),
            (
                "SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN",
                stage_role_boundary.as_deref(),
            ),
        ] {
            if let Some(path) = arn.and_then(iam_path_of) {
                if path.starts_with(&iam_path) {
                    return Err(Error::Config(format!("{what} lives under {path}, inside the provider's own IAM path {iam_path}: the provider could then rewrite it (deploy it under a separate SystemIamPath)")));
                }
            }
        }
        let assumable_by_accounts = accounts("SERVERLESS_ACCESS_ASSUMABLE_BY_ACCOUNTS")?;
        Ok(Settings {
            iam_path,
            permissions_boundary,
            deployment_boundary,
            stage_role_boundary,
            assumable_by_accounts,
            allowed_keys,
            guardrails,
            provider_role_arn,
            concurrency,
            allow_loopback_response_url: get("SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL")
                .as_deref()
                == Some("1"),
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The path of an IAM role or policy ARN (`arn:aws:iam::1:role/a/b/name` → `/a/b/`).
fn iam_path_of(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource
        .strip_prefix("role")
        .or_else(|| resource.strip_prefix("policy"))?;
    let end = rest.rfind('/')?;
    Some(rest[..=end].to_string())
}

/// Splits a comma-separated list, dropping blanks.
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn unset_environment_gives_local_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.iam_path, "/serverless-access/");
        assert!(s.permissions_boundary.is_none());
        assert!(matches!(s.allowed_keys, KeyAllowList::OwnAccountAndRegion));
        assert_eq!(s.concurrency, DEFAULT_CONCURRENCY);
        assert!(!s.allow_loopback_response_url);
    }

    #[test]
    fn empty_key_list_refuses_every_key() {
        let s = settings(&[("SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS", "")]).unwrap();
        assert!(matches!(s.allowed_keys, KeyAllowList::Only(ref v) if v.is_empty()));
    }

    #[test]
    fn attack_6_a_provider_role_or_boundary_inside_the_writable_path_is_refused() {
        let e = settings(&[(
            "SERVERLESS_ACCESS_PROVIDER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/serverless-access/provider",
        )])
        .unwrap_err();
        assert!(e.to_string().contains("SystemIamPath"), "{e}");
        let e = settings(&[(
            "SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN",
            "arn:aws:iam::123456789012:policy/serverless-access/boundary",
        )])
        .unwrap_err();
        assert!(e.to_string().contains("SystemIamPath"), "{e}");
        assert!(settings(&[
            (
                "SERVERLESS_ACCESS_PROVIDER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/serverless-access-system/provider",
            ),
            (
                "SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN",
                "arn:aws:iam::123456789012:policy/serverless-access-system/boundary",
            ),
        ])
        .is_ok());
    }

    #[test]
    fn each_malformed_setting_is_rejected_naming_itself() {
        for (key, value, needle) in [
            ("SERVERLESS_ACCESS_IAM_PATH", "no-slashes", "IAM path"),
            (
                "SERVERLESS_ACCESS_CONCURRENCY",
                "0",
                "SERVERLESS_ACCESS_CONCURRENCY",
            ),
            (
                "SERVERLESS_ACCESS_RESOURCE_ACCOUNT_IDS",
                "12345",
                "SERVERLESS_ACCESS_RESOURCE_ACCOUNT_IDS",
            ),
            (
                "SERVERLESS_ACCESS_ASSUMABLE_BY_ACCOUNTS",
                "12345",
                "SERVERLESS_ACCESS_ASSUMABLE_BY_ACCOUNTS",
            ),
            (
                "SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN",
                "boundary",
                "SERVERLESS_ACCESS_STAGE_ROLE_BOUNDARY_ARN",
            ),
            (
                "SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN",
                "boundary",
                "SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN",
            ),
            (
                "SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS",
                "arn:aws:kms:us-east-1:1:alias/x",
                "SERVERLESS_ACCESS_ALLOWED_KMS_KEY_ARNS",
            ),
            (
                "SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS",
                "ssm:*",
                "SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS",
            ),
        ] {
            let e = settings(&[(key, value)]).unwrap_err().to_string();
            assert!(e.contains(needle), "{key}={value}: {e}");
        }
    }

    #[test]
    fn guardrails_come_from_the_environment() {
        let s = settings(&[
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                "serverless-access-ProviderFunction-1",
            ),
            ("SERVERLESS_ACCESS_PROVIDER_STACK_NAME", "serverless-access"),
            (
                "SERVERLESS_ACCESS_ALLOWED_SENSITIVE_ACTIONS",
                "ssm:SendCommand, ec2:DescribeInstances",
            ),
            ("SERVERLESS_ACCESS_ALLOWED_TAG_KEYS", "team,cost-center"),
        ])
        .unwrap();
        let g = &s.guardrails;
        assert_eq!(
            g.provider_function.as_deref(),
            Some("serverless-access-ProviderFunction-1")
        );
        assert_eq!(g.provider_stack.as_deref(), Some("serverless-access"));
        assert!(g.allowed_actions.contains("ssm:sendcommand"));
        assert_eq!(g.allowed_tag_keys.as_ref().map(|k| k.len()), Some(2));
    }
}
