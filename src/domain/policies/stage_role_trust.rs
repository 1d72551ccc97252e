//! The trust policy of a stage role (`AssumableBy`), built from validated sources only.
//!
//! - OIDC (GitHub Actions, GitLab, generic): `sts:AssumeRoleWithWebIdentity` from the account's OIDC
//!   provider for the issuer (`arn:…:oidc-provider/{host[/path]}`, Service Authorization Reference,
//!   IAM resource type `oidc-provider`), `StringEquals` on `{host[/path]}:aud` and `:sub` (and further
//!   exact claims). Only `StringEquals`: every value is exact, so `StringLike` would only add the
//!   chance of a wildcard.
//! - IAM Identity Center: `sts:AssumeRole` from the account (`…:root`) when `aws:PrincipalArn` is a
//!   role Identity Center provisioned for the permission set: `AWSReservedSSO_{set}_` and exactly 16
//!   characters (its unique suffix, AWS IAM Identity Center User Guide, referencingpermissionsets:
//!   e.g. `1234567890abcdef`), under `aws-reserved/sso.amazonaws.com/` with or without a region
//!   segment (none when the identity source is in us-east-1, same page). `*` in place of the 16 `?`
//!   would let set `Dev` match set `Dev_Ops`'s roles (`_` is legal in set names); the suffix changes
//!   when the set's assignments are removed and re-added, so an exact ARN would break.
//! - Named principals: `sts:AssumeRole` from exactly those ARNs.
//!
//! No `sts:TagSession` or `sts:SetSourceIdentity`: none of the sources needs them.
//! aws-actions/configure-aws-credentials does not tag OIDC sessions ("The action will use session
//! tagging by default unless you are using OIDC", its README; src/assumeRole.ts deletes `Tags` for
//! web identity) and sets no SourceIdentity; GitLab's documented flow is a plain
//! `assume-role-with-web-identity`; GitHub and GitLab tokens carry no AWS session-tag claims. A
//! caller that passes tags or a source identity is refused by STS, which fails closed.

use crate::domain::properties::{OidcTrust, Trustee};
use serde_json::{json, Map, Value};

/// `[x]` → `"x"`, more → a list: the form IAM keeps as written.
fn one_or_many(v: Vec<String>) -> Value {
    match v.as_slice() {
        [one] => json!(one),
        _ => json!(v),
    }
}

fn oidc_statement(partition: &str, account: &str, t: &OidcTrust) -> Value {
    let p = t.provider_name();
    let mut equals = Map::new();
    equals.insert(format!("{p}:aud"), json!(t.audience));
    equals.insert(format!("{p}:sub"), one_or_many(t.subjects.clone()));
    for (claim, v) in &t.claims {
        equals.insert(format!("{p}:{claim}"), json!(v));
    }
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn(partition, account, t)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": equals}
    })
}

/// The ARN of the account's OIDC provider for `t`'s issuer.
pub fn oidc_provider_arn(partition: &str, account: &str, t: &OidcTrust) -> String {
    format!(
        "arn:{partition}:iam::{account}:oidc-provider/{}",
        t.provider_name()
    )
}

/// The `aws:PrincipalArn` patterns of permission set `set`'s roles in `account`.
pub fn identity_center_patterns(partition: &str, account: &str, set: &str) -> [String; 2] {
    let base = format!("arn:{partition}:iam::{account}:role/aws-reserved/sso.amazonaws.com/");
    let name = format!("AWSReservedSSO_{set}_{}", "?".repeat(16));
    [format!("{base}{name}"), format!("{base}*/{name}")]
}

/// The trust policy of a stage role trusted by `sources`.
pub fn stage_role_trust(partition: &str, account: &str, sources: &[Trustee]) -> Value {
    let mut statements: Vec<Value> = Vec::new();
    let mut sets = Vec::new();
    let mut principals = Vec::new();
    for s in sources {
        match s {
            Trustee::Oidc(t) => statements.push(oidc_statement(partition, account, t)),
            Trustee::IdentityCenter(set) => {
                sets.extend(identity_center_patterns(partition, account, set))
            }
            Trustee::Principal(arn) => principals.push(arn.clone()),
        }
    }
    if !sets.is_empty() {
        statements.push(json!({
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": one_or_many(sets)}}
        }));
    }
    if !principals.is_empty() {
        statements.push(json!({
            "Effect": "Allow",
            "Principal": {"AWS": one_or_many(principals)},
            "Action": "sts:AssumeRole"
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{full_props, parse_with};
    use crate::domain::principals::GroupKind;
    use serde_json::json;

    fn trust_of(sources: Value) -> Value {
        let mut p = full_props();
        p["AssumableBy"] = json!({"ci": sources});
        let spec = parse_with(p, None).unwrap();
        stage_role_trust("aws", "123456789012", &spec.assumable_by[&GroupKind::Ci])
    }

    #[test]
    fn github_trust_is_exact_subject_and_audience_with_string_equals_only() {
        let t = trust_of(json!([
            {"GitHubActions": {"Repository": "acme/orders", "Environment": "prod:v1"}},
            {"GitHubActions": {"Repository": "acme/orders", "Branch": "main", "OwnerId": "123", "RepositoryId": "456"}}
        ]));
        assert_eq!(
            t["Statement"][0],
            json!({
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": "repo:acme/orders:environment:prod%3Av1"
                }}
            })
        );
        assert_eq!(
            t["Statement"][1]["Condition"]["StringEquals"],
            json!({
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": [
                    "repo:acme/orders:ref:refs/heads/main",
                    "repo:acme@123/orders@456:ref:refs/heads/main"
                ],
                "token.actions.githubusercontent.com:repository_id": "456"
            })
        );
        let text = t.to_string();
        assert!(!text.contains("StringLike") && !text.contains("ForAllValues"));
        assert!(!text.contains("TagSession") && !text.contains("SetSourceIdentity"));
    }

    #[test]
    fn gitlab_and_generic_oidc_name_their_issuer_and_audience() {
        let t = trust_of(json!([
            {"GitLab": {"Project": "acme/backend/orders", "Branch": "main"}},
            {"GitLab": {"Project": "acme/orders", "Branch": "main", "Host": "gitlab.example.com"}},
            {"Oidc": {"Issuer": "https://ci.example.com/oidc", "Audience": "aws", "Subjects": ["pipeline:orders:main"]}}
        ]));
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"],
            json!({"gitlab.com:aud": "https://gitlab.com", "gitlab.com:sub": "project_path:acme/backend/orders:ref_type:branch:ref:main"})
        );
        assert_eq!(
            t["Statement"][1]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"
        );
        assert_eq!(
            t["Statement"][2]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/ci.example.com/oidc"
        );
        assert_eq!(
            t["Statement"][2]["Condition"]["StringEquals"]["ci.example.com/oidc:sub"],
            "pipeline:orders:main"
        );
    }

    #[test]
    fn identity_center_matches_the_sets_roles_by_exact_suffix_length_from_this_account() {
        let t = trust_of(json!([{"IdentityCenterPermissionSet": "Dev"}]));
        assert_eq!(
            t["Statement"][0],
            json!({
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnLike": {"aws:PrincipalArn": [
                    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_????????????????",
                    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Dev_????????????????"
                ]}}
            })
        );
    }

    #[test]
    fn named_principals_are_listed_exactly() {
        let t = trust_of(json!([
            {"Principal": "arn:aws:iam::123456789012:role/platform-admins"},
            {"Principal": "arn:aws:iam::123456789012:user/ops/alice"}
        ]));
        assert_eq!(
            t["Statement"][0]["Principal"]["AWS"],
            json!([
                "arn:aws:iam::123456789012:role/platform-admins",
                "arn:aws:iam::123456789012:user/ops/alice"
            ])
        );
        assert!(t["Statement"][0].get("Condition").is_none());
    }
}
