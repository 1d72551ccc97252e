use super::*;
use crate::domain::arn::parse_stack_id;

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-access/5b3e0c40";

fn naming(service: &str, stage: &str) -> Naming {
    Naming::new(
        "/serverless-access/",
        STACK,
        "Access",
        &parse_stack_id(STACK).unwrap(),
        service,
        stage,
    )
}

#[test]
fn names_follow_the_documented_scheme() {
    let n = naming("orders", "prod");
    assert_eq!(
        n.group_name(GroupKind::Admin),
        "orders-prod-us-east-1-admin"
    );
    assert_eq!(n.deploy_policy_name(), "orders-prod-us-east-1-deploy");
    assert_eq!(n.role_name("api"), "orders-prod-us-east-1-api");
    assert_eq!(
        n.path,
        format!("/serverless-access/orders/prod/{}/", n.owner)
    );
    assert_eq!(
        n.role_arn("x"),
        format!(
            "arn:aws:iam::123456789012:role/serverless-access/orders/prod/{}/x",
            n.owner
        )
    );
    assert_eq!(n.owner.len(), 16);
}

#[test]
fn the_deployment_role_name_ends_in_dot_deploy_which_no_execution_role_name_can() {
    let n = naming("orders", "prod");
    assert_eq!(n.deployment_role_name(), "orders-prod-us-east-1.deploy");
    // The longest service and stage: shortened with a hash, the suffix kept.
    let long = naming(&format!("s{}", "x".repeat(49)), "p".repeat(16).as_str());
    let name = long.deployment_role_name();
    assert!(
        name.len() <= ROLE_NAME_MAX && name.ends_with(DEPLOYMENT_ROLE_SUFFIX),
        "{name}"
    );
    assert_ne!(
        name,
        naming(&format!("s{}", "x".repeat(48)), "p".repeat(16).as_str()).deployment_role_name()
    );
    // Execution role names never hold a `.` (service, stage, region and function keys cannot),
    // so the provider role's `*.deploy` statement can never give an execution role the
    // deployment boundary. Function keys that try:
    for f in ["deploy", "x.deploy", "-deploy", "a".repeat(64).as_str()] {
        let role = long.role_name(f);
        assert!(!role.ends_with(DEPLOYMENT_ROLE_SUFFIX), "{role}");
        assert!(
            !n.role_name(f).contains('.') || check_function_key(f).is_err(),
            "{f}"
        );
    }
    assert!(check_function_key("x.deploy").is_err());
}

#[test]
fn long_role_names_are_shortened_to_64_with_a_hash_and_stay_distinct() {
    let n = naming("a-very-long-service-name-for-orders", "production1");
    let a = n.role_name("process-incoming-payment-notifications");
    let b = n.role_name("process-incoming-payment-notifications2");
    assert!(
        a.len() <= ROLE_NAME_MAX && b.len() <= ROLE_NAME_MAX,
        "{a} {b}"
    );
    assert_ne!(a.to_lowercase(), b.to_lowercase());
    assert_eq!(
        a,
        n.role_name("process-incoming-payment-notifications"),
        "deterministic"
    );
    assert!(a.bytes().all(is_iam_name_byte));
}

#[test]
fn physical_id_round_trips_and_rejects_ids_of_other_resources() {
    let n = naming("orders", "prod");
    let id = n.physical_id();
    assert_eq!(
        PhysicalId::parse(&id, STACK, "Access"),
        PhysicalId::Resource {
            service: "orders".into(),
            stage: "prod".into(),
            owner: n.owner.clone()
        }
    );
    assert_eq!(
        PhysicalId::parse(&id, STACK, "OtherAccess"),
        PhysicalId::Foreign
    );
    assert_eq!(
        PhysicalId::parse("orders-access-Access-1ABC", STACK, "Access"),
        PhysicalId::Foreign
    );
    assert_eq!(
        PhysicalId::parse(&invalid_physical_id(STACK, "Access"), STACK, "Access"),
        PhysicalId::Invalid
    );
}

#[test]
fn replacement_gets_a_separate_path_and_id() {
    let a = naming("orders", "prod");
    let b = naming("orders", "prod2");
    assert_ne!(a.physical_id(), b.physical_id());
    assert!(!b.path.starts_with(&a.path) && !a.path.starts_with(&b.path));
}

#[test]
fn attack_7_an_iam_path_covering_all_of_iam_is_refused() {
    for bad in [
        "/", "/*/", "/a*/", "/a?/", "//", "/a//b/", "a/", "/a", "/a b/",
    ] {
        assert!(check_iam_path(bad).is_err(), "{bad:?}");
    }
    for ok in ["/serverless-access/", "/team.a/svc_1/", "/a/"] {
        assert!(check_iam_path(ok).is_ok(), "{ok:?}");
    }
}

#[test]
fn stage_with_hyphen_and_bad_service_names_are_refused() {
    assert!(check_stage("dev").is_ok());
    assert!(check_stage("dev-x").is_err());
    assert!(check_stage("").is_err());
    assert!(check_service("orders-api").is_ok());
    assert!(check_service("1orders").is_err());
    assert!(check_service("orders_api").is_err());
    assert!(check_function_key("api_v2-x").is_ok());
    assert!(check_function_key("api.v2").is_err());
}

#[test]
fn stage_role_names_end_in_dot_kind_which_no_execution_or_deployment_role_name_can() {
    let n = naming("orders", "prod");
    assert_eq!(n.stage_role_name(GroupKind::Ci), "orders-prod-us-east-1.ci");
    let long = naming(&format!("s{}", "x".repeat(49)), "p".repeat(16).as_str());
    for kind in GroupKind::ALL {
        let suffix = format!(".{}", kind.as_str());
        let name = long.stage_role_name(kind);
        assert!(
            name.len() <= ROLE_NAME_MAX && name.ends_with(&suffix),
            "{name}"
        );
        assert!(!long.deployment_role_name().ends_with(&suffix));
        // Function keys that try to end like a stage role (a key holds no `.`).
        for f in [kind.as_str(), &format!("x{suffix}"), &"a".repeat(64)] {
            assert!(!long.role_name(f).ends_with(&suffix), "{f}");
        }
    }
}
