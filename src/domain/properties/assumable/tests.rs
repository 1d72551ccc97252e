//! `AssumableBy`: the classic trust mistakes, one test each, and what is accepted.

use super::*;
use crate::domain::fixtures::{full_props, parse_with};
use crate::domain::problem::{Problem, ProblemKind as K};
use serde_json::json;

fn with(assumable: Value) -> Result<crate::domain::properties::Spec, Vec<Problem>> {
    let mut p = full_props();
    p["AssumableBy"] = assumable;
    parse_with(p, None)
}

/// The problems of `ci: [source]`, or a panic when it is accepted.
#[track_caller]
fn refused(source: Value) -> Vec<Problem> {
    match with(json!({"ci": [source]})) {
        Ok(s) => panic!("accepted: {:?}", s.assumable_by),
        Err(e) => e,
    }
}

#[track_caller]
fn refused_as(source: Value, kind: K, needle: &str) {
    let e = refused(source);
    assert!(
        e.iter()
            .any(|p| p.kind == kind && p.message().contains(needle)),
        "no {kind:?} saying {needle:?}: {e:?}"
    );
}

#[test]
fn the_issues_example_is_accepted() {
    let s = with(json!({
        "ci": [
            {"GitHubActions": {"Repository": "acme/orders", "Environment": "prod"}},
            {"GitLab": {"Project": "acme/orders", "Branch": "main"}}
        ],
        "developer": [{"IdentityCenterPermissionSet": "OrdersDevelopers"}],
        "admin": [{"Principal": "arn:aws:iam::123456789012:role/platform-admins"}]
    }))
    .unwrap();
    assert_eq!(s.assumable_by.len(), 3);
    let Trustee::Oidc(t) = &s.assumable_by[&GroupKind::Ci][0] else {
        panic!()
    };
    assert_eq!(t.subjects, ["repo:acme/orders:environment:prod"]);
    assert_eq!(t.audience, "sts.amazonaws.com");
}

#[test]
fn a_github_source_without_environment_or_branch_has_no_subject_and_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders"}}),
        K::Missing,
        "exactly one of Environment or Branch",
    );
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Environment": "prod", "Branch": "main"}}),
        K::Missing,
        "exactly one of Environment or Branch",
    );
}

#[test]
fn a_generic_oidc_source_without_subjects_is_refused() {
    refused_as(
        json!({"Oidc": {"Issuer": "https://ci.example.com", "Audience": "aws"}}),
        K::Missing,
        "without a subject",
    );
}

#[test]
fn a_wildcard_owner_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "*/orders", "Branch": "main"}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_wildcard_repository_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders-?", "Branch": "main"}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_wildcard_branch_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Branch": "release/*"}}),
        K::TooWide,
        "wildcard",
    );
    refused_as(
        json!({"GitLab": {"Project": "acme/orders", "Branch": "*"}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_wildcard_environment_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Environment": "prod*"}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_wildcard_project_is_refused() {
    refused_as(
        json!({"GitLab": {"Project": "acme/*", "Branch": "main"}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_wildcard_subject_is_refused() {
    refused_as(
        json!({"Oidc": {"Issuer": "https://ci.example.com", "Audience": "aws", "Subjects": ["repo:acme/orders:*"]}}),
        K::TooWide,
        "wildcard",
    );
}

#[test]
fn a_subject_matching_pull_requests_is_refused() {
    refused_as(
        json!({"Oidc": {"Issuer": "https://token.actions.githubusercontent.com", "Audience": "sts.amazonaws.com", "Subjects": ["repo:acme/orders:pull_request"]}}),
        K::TooWide,
        "pull-request",
    );
}

#[test]
fn string_like_cannot_be_asked_for_and_is_never_emitted() {
    // There is no operator to choose: an attempt is an unknown key.
    refused_as(
        json!({"Oidc": {"Issuer": "https://ci.example.com", "Audience": "aws", "Subjects": ["a"], "Operator": "StringLike"}}),
        K::UnknownKey,
        "Operator",
    );
    let s = with(json!({"ci": [
        {"GitHubActions": {"Repository": "acme/orders", "Branch": "main"}},
        {"GitLab": {"Project": "acme/orders", "Branch": "main"}},
        {"Oidc": {"Issuer": "https://ci.example.com", "Audience": "aws", "Subjects": ["a"]}}
    ]}))
    .unwrap();
    let trust = crate::domain::policies::stage_role_trust::stage_role_trust(
        "aws",
        "123456789012",
        &s.assumable_by[&GroupKind::Ci],
    );
    for st in trust["Statement"].as_array().unwrap() {
        let ops: Vec<&String> = st["Condition"].as_object().unwrap().keys().collect();
        assert_eq!(ops, ["StringEquals"], "{st}");
    }
}

#[test]
fn a_missing_audience_is_refused() {
    refused_as(
        json!({"Oidc": {"Issuer": "https://ci.example.com", "Subjects": ["a"]}}),
        K::Missing,
        "Audience is required",
    );
}

#[test]
fn an_issuer_that_is_not_https_is_refused() {
    for issuer in [
        "http://ci.example.com",
        "ci.example.com",
        "https://ci.example.com/",
        "https://ci.example.com/a%20b",
        "https://user@ci.example.com",
    ] {
        refused_as(
            json!({"Oidc": {"Issuer": issuer, "Audience": "aws", "Subjects": ["a"]}}),
            K::Malformed,
            "https://HOST",
        );
    }
}

#[test]
fn empty_lists_are_refused() {
    let e = with(json!({"ci": []})).unwrap_err();
    assert!(e.iter().any(|p| p.kind == K::Missing), "{e:?}");
    refused_as(
        json!({"Oidc": {"Issuer": "https://ci.example.com", "Audience": "aws", "Subjects": []}}),
        K::Missing,
        "is empty",
    );
}

#[test]
fn permission_set_names_are_validated() {
    refused_as(
        json!({"IdentityCenterPermissionSet": "Dev*"}),
        K::TooWide,
        "wildcard",
    );
    refused_as(
        json!({"IdentityCenterPermissionSet": "x".repeat(33)}),
        K::Malformed,
        "permission-set name",
    );
    refused_as(
        json!({"IdentityCenterPermissionSet": "a/b"}),
        K::Malformed,
        "permission-set name",
    );
    assert!(with(json!({"ci": [{"IdentityCenterPermissionSet": "Dev_Ops+1=,.@-"}]})).is_ok());
}

#[test]
fn principals_are_roles_or_users_of_this_account_never_a_wildcard_or_a_root() {
    refused_as(json!({"Principal": "*"}), K::TooWide, "wildcard");
    refused_as(
        json!({"Principal": "arn:aws:iam::123456789012:role/*"}),
        K::TooWide,
        "wildcard",
    );
    refused_as(
        json!({"Principal": "arn:aws:iam::123456789012:root"}),
        K::Malformed,
        "names no role or user",
    );
    refused_as(
        json!({"Principal": "123456789012"}),
        K::Malformed,
        "not an IAM role or user ARN",
    );
    refused_as(
        json!({"Principal": "arn:aws:sts::123456789012:assumed-role/x/y"}),
        K::Malformed,
        "not an IAM role or user ARN",
    );
    refused_as(
        json!({"Principal": "arn:aws:iam::210987654321:role/x"}),
        K::NotAllowedHere,
        "AssumableByAccounts",
    );
}

#[test]
fn another_account_is_trusted_only_when_the_provider_lists_it() {
    let scope = TrustScope {
        partition: "aws",
        account: "123456789012",
        other_accounts: &["210987654321".to_string()],
    };
    let mut errors = Problems::default();
    let out = parse_assumable_by(
        Some(&json!({"admin": [{"Principal": "arn:aws:iam::210987654321:role/x"}]})),
        &scope,
        &mut errors,
    );
    assert!(errors.is_empty());
    assert_eq!(out[&GroupKind::Admin].len(), 1);
}

#[test]
fn a_kind_without_its_group_or_an_unknown_kind_is_refused() {
    let e = with(json!({"invoker": [{"IdentityCenterPermissionSet": "X"}]})).unwrap_err();
    assert!(e.iter().any(|p| p.kind == K::Inconsistent), "{e:?}");
    let e = with(json!({"root": [{"IdentityCenterPermissionSet": "X"}]})).unwrap_err();
    assert!(e.iter().any(|p| p.kind == K::UnknownKey), "{e:?}");
}

#[test]
fn github_ids_add_the_immutable_subject_and_need_each_other() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Branch": "main", "OwnerId": "1"}}),
        K::Missing,
        "OwnerId needs RepositoryId",
    );
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Branch": "main", "RepositoryId": "x1"}}),
        K::Malformed,
        "numeric ids",
    );
    let s = with(json!({"ci": [{"GitHubActions": {"Repository": "acme/orders", "Branch": "main", "OwnerId": 1, "RepositoryId": "2"}}]})).unwrap();
    let Trustee::Oidc(t) = &s.assumable_by[&GroupKind::Ci][0] else {
        panic!()
    };
    assert_eq!(
        t.subjects,
        [
            "repo:acme/orders:ref:refs/heads/main",
            "repo:acme@1/orders@2:ref:refs/heads/main"
        ]
    );
}

#[test]
fn branches_are_given_by_name_and_follow_gits_rules() {
    for b in ["refs/heads/main", "a b", "a..b", "x:y", "a@{1}"] {
        refused_as(
            json!({"GitHubActions": {"Repository": "acme/orders", "Branch": b}}),
            K::Malformed,
            "not a branch name",
        );
    }
}

#[test]
fn a_policy_variable_in_a_value_is_refused() {
    refused_as(
        json!({"GitHubActions": {"Repository": "acme/orders", "Environment": "${aws:username}"}}),
        K::Malformed,
        "${",
    );
}
