//! Tests of the desired state: names, documents, limits, stage roles.
use super::*;
use crate::domain::fixtures::{full_props, parse_with, STACK};
use serde_json::json;

#[test]
fn a_role_policy_over_iams_10240_characters_is_refused_before_any_write() {
    let mut p = full_props();
    let statements: Vec<_> = (0..120)
        .map(|i| json!({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": format!("arn:aws:dynamodb:us-east-1:123456789012:table/orders-prod-{i:04}-with-a-long-table")}))
        .collect();
    p["Functions"][1]["Statements"] = json!(statements);
    let spec = parse_with(p, None).unwrap();
    let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (ProblemKind::OverLimit, "Functions[1].Statements"),
        "{e:?}"
    );
    assert!(
        e[0].message()
            .starts_with("function worker: role policy is")
            && e[0].message().contains("10240"),
        "{e:?}"
    );
}

#[test]
fn characters_iam_refuses_in_a_policy_document_are_refused_before_any_write() {
    let mut p = full_props();
    p["Functions"][1]["Statements"] =
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/日本/*"}]);
    let spec = parse_with(p, None).unwrap();
    let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
    assert_eq!(e[0].kind, ProblemKind::Malformed, "{e:?}");
    assert!(e[0].message().contains("U+65E5"), "{e:?}");
    let mut p = full_props();
    p["Functions"][1]["Statements"] =
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/café/*"}]);
    assert!(Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").is_ok());
}

#[test]
fn a_grantee_arn_over_kms_256_characters_is_refused_before_any_write() {
    let stack = crate::domain::arn::parse_stack_id(STACK).unwrap();
    let mut spec = parse_with(full_props(), None).unwrap();
    let deep = format!("/{}/", "p".repeat(200));
    spec.naming =
        crate::domain::names::Naming::new(&deep, STACK, "Access", &stack, "orders", "prod");
    let e = Desired::from_spec(&spec, STACK, "Access").unwrap_err();
    assert!(
        crate::domain::problem::has(&e, ProblemKind::OverLimit, "Functions[0].Kms"),
        "{e:?}"
    );
}

#[test]
fn five_layers_fit_every_document_in_both_deployment_modes() {
    for mode in ["role", "caller"] {
        let mut p = full_props();
        p["DeployWith"] = json!(mode);
        p["Layers"] = json!((1..=5)
            .map(|v| format!(
                "arn:aws:lambda:us-east-1:580247275435:layer:{}-{v}:{v}",
                "x".repeat(32)
            ))
            .collect::<Vec<_>>());
        let spec = parse_with(p, None).unwrap();
        let d = Desired::from_spec(&spec, STACK, "Access");
        assert!(d.is_ok(), "{mode}: {:?}", d.err());
    }
}

#[test]
fn generated_group_policies_fit_iams_limits() {
    let d = Desired::from_spec(&parse_with(full_props(), None).unwrap(), STACK, "Access").unwrap();
    assert!(iam_size(&d.policies[0].document) <= policy::MANAGED_POLICY_MAX);
    for g in &d.groups {
        assert!(
            g.inline.values().map(iam_size).sum::<usize>() <= policy::GROUP_INLINE_MAX,
            "{}",
            g.name
        );
    }
}

fn with_stage_roles(mode: &str) -> Desired {
    let mut p = full_props();
    p["DeployWith"] = json!(mode);
    p["Groups"] = json!(["admin", "developer", "ci", "invoker"]);
    p["Functions"][1]["Invoke"] = json!("true");
    p["AssumableBy"] = json!({
        "admin": [{"Principal": "arn:aws:iam::123456789012:role/platform-admins"}],
        "developer": [{"IdentityCenterPermissionSet": "OrdersDevelopers"}],
        "ci": [{"GitHubActions": {"Repository": "acme/orders", "Environment": "prod"}}],
        "invoker": [{"IdentityCenterPermissionSet": "OrdersCallers"}]
    });
    Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap()
}

#[test]
fn each_stage_role_holds_exactly_its_groups_documents_in_both_modes() {
    for mode in ["role", "caller"] {
        let d = with_stage_roles(mode);
        assert_eq!(d.groups.len(), 4, "{mode}");
        for g in &d.groups {
            let roles: Vec<&DesiredRole> =
                d.roles.iter().filter(|r| r.stage == Some(g.kind)).collect();
            let [r] = roles.as_slice() else {
                panic!("{mode}: one role for {:?}: {roles:?}", g.kind)
            };
            assert_eq!(
                (&r.attached, &r.inline),
                (&g.attached, &g.inline),
                "{mode} {:?}",
                g.kind
            );
            assert!(!r.attached.is_empty(), "{mode} {:?}", g.kind);
            assert_eq!(r.name, d.naming.stage_role_name(g.kind));
            assert_eq!(
                r.boundary.as_deref(),
                Some(crate::domain::fixtures::STAGE_ROLE_BOUNDARY)
            );
            assert_eq!(r.max_session, Some(STAGE_ROLE_MAX_SESSION));
            assert_eq!(r.tags["serverless-access:service"], "orders");
            assert_eq!(r.tags["serverless-access:stage"], "prod");
        }
        let attrs = crate::domain::attributes::fixed(&d);
        for k in [
            "AdminRoleArn",
            "DeveloperRoleArn",
            "CiRoleArn",
            "InvokerRoleArn",
        ] {
            assert!(attrs.iter().any(|(n, _)| n == k), "{mode}: {k}");
        }
        assert_eq!(
            attrs
                .iter()
                .filter(|(n, _)| n == "DeploymentRoleArn")
                .count(),
            usize::from(mode == "role")
        );
    }
}

#[test]
fn no_stage_role_without_sources_and_no_role_attribute_then() {
    let d = Desired::from_spec(&parse_with(full_props(), None).unwrap(), STACK, "Access").unwrap();
    assert!(d.roles.iter().all(|r| r.stage.is_none()));
    assert!(!crate::domain::attributes::fixed(&d)
        .iter()
        .any(|(n, _)| n.ends_with("RoleArn") && n != "DeploymentRoleArn"));
}

#[test]
fn a_trust_policy_over_iams_2048_characters_is_refused_naming_the_role() {
    let mut p = full_props();
    p["AssumableBy"] = json!({"ci": (0..10).map(|i| json!({"GitHubActions": {
        "Repository": format!("acme/orders-with-a-rather-long-repository-name-{i}"),
        "Branch": "main", "OwnerId": "12345678", "RepositoryId": "987654321"}})).collect::<Vec<_>>()});
    let e = Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap_err();
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (ProblemKind::OverLimit, "AssumableBy.ci"),
        "{e:?}"
    );
    assert!(
        e[0].message().contains("orders-prod-us-east-1.ci") && e[0].message().contains("2048"),
        "{e:?}"
    );
}
