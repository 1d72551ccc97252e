//! The adversarial suite of the validator: one test per attack of the threat model
//! (`../shared/reference/threat-model.md`), each named for the attack and asserting that the
//! properties are refused before anything is written; and positive controls, the statements real
//! functions need, which must stay accepted (an over-tight validator is a defect too).
//! The generated documents are evaluated request by request in `tests/e2e/test_attacks.py`.

use super::fixtures::{full_props, guard, parse_with_guardrails};
use super::problem::{Problem, ProblemKind};
use super::provider_guards::Guardrails;
use serde_json::{json, Value};

mod reach;

/// Where the statement under attack sits.
const AT: &str = "Functions[1].Statements[0]";

/// The problems found when function `worker` (service orders, stage prod) asks for `statement`.
fn refusal(statement: Value, g: &Guardrails) -> Vec<Problem> {
    let mut p = full_props();
    p["Functions"][1]["Statements"] = json!([statement]);
    match parse_with_guardrails(p, g) {
        Ok(_) => vec![],
        Err(e) => e,
    }
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

#[track_caller]
fn assert_refused(statement: Value, kind: ProblemKind) {
    let e = refusal(statement.clone(), &guard());
    assert!(
        e.iter().any(|p| p.kind == kind && p.at.starts_with(AT)),
        "{statement} was not refused as {kind:?} at {AT}: {e:?}"
    );
}

#[track_caller]
fn assert_accepted(statement: Value) {
    let e = refusal(statement.clone(), &guard());
    assert!(e.is_empty(), "{statement} was refused: {e:?}");
}

#[test]
fn attack_1_claiming_the_providers_own_names_is_refused() {
    let mut p = full_props();
    p["ServiceName"] = json!("serverless");
    p["Stage"] = json!("access");
    let e = parse_with_guardrails(p, &guard()).unwrap_err();
    let at_provider: Vec<_> = e
        .iter()
        .filter(|p| p.kind == ProblemKind::ReachesProvider && p.at == "ServiceName")
        .collect();
    assert_eq!(at_provider.len(), 2, "its function and its stack: {e:?}");
}

#[test]
fn attack_3_assuming_other_roles_is_refused() {
    assert_refused(
        allow("sts:AssumeRole", "arn:aws:iam::123456789012:role/admin"),
        ProblemKind::SensitiveAction,
    );
    assert_refused(
        allow("sts:AssumeRole", "arn:aws:iam::210987654321:role/x"),
        ProblemKind::SensitiveAction,
    );
}

#[test]
fn attack_3_changing_code_of_functions_outside_the_stage_is_refused() {
    for action in [
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
    ] {
        assert_refused(
            allow(
                action,
                "arn:aws:lambda:us-east-1:123456789012:function:billing-prod-api",
            ),
            ProblemKind::OutsideStage,
        );
        // A stage that starts like this one's is another stage.
        assert_refused(
            allow(
                action,
                "arn:aws:lambda:us-east-1:123456789012:function:orders-prod2-api",
            ),
            ProblemKind::OutsideStage,
        );
    }
    assert_refused(
        allow(
            "lambda:PublishLayerVersion",
            "arn:aws:lambda:us-east-1:123456789012:layer:shared-deps",
        ),
        ProblemKind::OutsideStage,
    );
    assert_accepted(allow(
        "lambda:UpdateFunctionConfiguration",
        "arn:aws:lambda:us-east-1:123456789012:function:orders-prod-worker",
    ));
}

#[test]
fn attack_3_running_commands_builds_tasks_and_stacks_elsewhere_is_refused() {
    for (a, r) in [
        (
            "ssm:SendCommand",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
        ),
        (
            "ssm:StartSession",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
        ),
        (
            "codebuild:StartBuild",
            "arn:aws:codebuild:us-east-1:123456789012:project/deploy",
        ),
        (
            "ecs:ExecuteCommand",
            "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        ),
        (
            "ec2-instance-connect:SendSSHPublicKey",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
        ),
        (
            "cloudformation:UpdateStack",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-prod/*",
        ),
        (
            "cloudformation:CreateStack",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/x/*",
        ),
    ] {
        assert_refused(allow(a, r), ProblemKind::SensitiveAction);
    }
}

#[test]
fn attack_5_resource_policy_and_grant_writers_are_refused() {
    for (a, r) in [
        ("s3:PutBucketPolicy", "arn:aws:s3:::orders-data"),
        (
            "kms:PutKeyPolicy",
            "arn:aws:kms:us-east-1:123456789012:key/abc",
        ),
        (
            "kms:CreateGrant",
            "arn:aws:kms:us-east-1:123456789012:key/abc",
        ),
        (
            "secretsmanager:PutResourcePolicy",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/db",
        ),
        (
            "lambda:AddPermission",
            "arn:aws:lambda:us-east-1:123456789012:function:orders-prod-api",
        ),
        (
            "sqs:AddPermission",
            "arn:aws:sqs:us-east-1:123456789012:orders",
        ),
    ] {
        assert_refused(allow(a, r), ProblemKind::SensitiveAction);
    }
    for a in ["events:PutPermission", "logs:PutResourcePolicy"] {
        assert_refused(allow(a, "*"), ProblemKind::SensitiveAction);
    }
}

#[test]
fn attack_5_billing_identity_and_support_services_are_refused_even_when_named_by_the_provider() {
    let g = Guardrails {
        allowed_actions: ["sso-directory:createuser".to_string()].into(),
        ..guard()
    };
    for a in [
        "sso-directory:CreateUser",
        "identitystore-auth:BatchGetSession",
        "payments:UpdatePaymentPreferences",
        "savingsplans:CreateSavingsPlan",
        "route53domains:TransferDomain",
        "ce:UpdateCostAllocationTagsStatus",
        "budgets:ModifyBudget",
        "support:CreateCase",
        "rolesanywhere:CreateProfile",
        "iam:PassRole",
    ] {
        let e = refusal(allow(a, "*"), &g);
        assert!(
            e.iter().any(|p| p.kind == ProblemKind::SensitiveAction),
            "{a}: {e:?}"
        );
    }
}

#[test]
fn attack_5_account_wide_switches_are_refused() {
    for a in [
        "s3:PutAccountPublicAccessBlock",
        "ec2:DisableEbsEncryptionByDefault",
        "ec2:ModifyEbsDefaultKmsKeyId",
        "guardduty:DisassociateFromAdministratorAccount",
    ] {
        assert_refused(allow(a, "*"), ProblemKind::SensitiveAction);
    }
    assert_refused(
        allow(
            "cloudtrail:StopLogging",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/org",
        ),
        ProblemKind::SensitiveAction,
    );
}

#[test]
fn attack_5_an_action_on_star_needs_to_be_on_the_list_not_merely_unscoped() {
    // Unscoped in the catalog, but not on the provider's list: refused.
    assert_refused(allow("ec2:DescribeInstances", "*"), ProblemKind::TooWide);
    assert_accepted(allow("xray:PutTraceSegments", "*"));
    let g = Guardrails {
        allowed_actions: ["ec2:describeinstances".to_string()].into(),
        ..guard()
    };
    assert!(refusal(allow("ec2:DescribeInstances", "*"), &g).is_empty());
}

#[test]
fn a_provider_may_allow_a_named_sensitive_action() {
    let st = allow(
        "ssm:SendCommand",
        "arn:aws:ssm:us-east-1:123456789012:document/orders-run",
    );
    let g = Guardrails {
        allowed_actions: ["ssm:sendcommand".to_string()].into(),
        ..guard()
    };
    assert!(refusal(st.clone(), &guard())
        .iter()
        .any(|p| p.kind == ProblemKind::SensitiveAction));
    assert!(refusal(st, &g).is_empty());
}

#[test]
fn attack_8_self_chosen_tags_outside_the_providers_allowlist_are_refused() {
    let g = Guardrails {
        allowed_tag_keys: Some(["team".to_string(), "cost-center".to_string()].into()),
        ..guard()
    };
    let mut p = full_props();
    p["Tags"] = json!({"access-level": "admin"});
    let e = parse_with_guardrails(p, &g).unwrap_err();
    assert_eq!(
        (e[0].kind, e[0].at.as_str()),
        (ProblemKind::NotAllowedHere, "Tags.access-level"),
        "{e:?}"
    );
    let mut p = full_props();
    p["Tags"] = json!({"Serverless-Access:stage": "prod"});
    assert_eq!(
        parse_with_guardrails(p, &guard()).unwrap_err()[0].kind,
        ProblemKind::Reserved
    );
    let mut p = full_props();
    p["Tags"] = json!({"Team": "a", "team": "b"});
    assert_eq!(
        parse_with_guardrails(p, &guard()).unwrap_err()[0].kind,
        ProblemKind::Duplicate
    );
}

#[test]
fn positive_controls_what_real_functions_need_is_accepted() {
    let (r, a) = ("us-east-1", "123456789012");
    for st in [
        json!({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
               "Resource": [format!("arn:aws:dynamodb:{r}:{a}:table/orders"), format!("arn:aws:dynamodb:{r}:{a}:table/orders/index/*")]}),
        json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::orders-prod-data/incoming/*"}),
        json!({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": format!("arn:aws:secretsmanager:{r}:{a}:secret:orders/db-*")}),
        json!({"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"], "Resource": format!("arn:aws:ssm:{r}:{a}:parameter/orders/prod/*")}),
        json!({"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": format!("arn:aws:sqs:{r}:{a}:orders-prod-jobs")}),
        json!({"Effect": "Allow", "Action": "sns:Publish", "Resource": format!("arn:aws:sns:{r}:{a}:orders-prod-events")}),
        json!({"Effect": "Allow", "Action": "events:PutEvents", "Resource": format!("arn:aws:events:{r}:{a}:event-bus/default")}),
        json!({"Effect": "Allow", "Action": "states:StartExecution", "Resource": format!("arn:aws:states:{r}:{a}:stateMachine:orders-prod-fulfil")}),
        json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": format!("arn:aws:lambda:{r}:{a}:function:orders-prod-api")}),
        json!({"Effect": "Allow", "Action": ["xray:PutTraceSegments", "cloudwatch:PutMetricData"], "Resource": "*"}),
        json!({"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"}),
    ] {
        assert_accepted(st);
    }
}

#[test]
fn attack_replacing_a_state_machine_definition_or_deploying_code_elsewhere_is_refused() {
    assert_refused(
        allow(
            "states:UpdateStateMachine",
            "arn:aws:states:us-east-1:123456789012:stateMachine:billing-prod-x",
        ),
        ProblemKind::SensitiveAction,
    );
    assert_refused(
        allow(
            "codedeploy:CreateDeployment",
            "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/group",
        ),
        ProblemKind::SensitiveAction,
    );
}

#[test]
fn positive_control_a_whole_api_of_the_service_may_be_invoked() {
    assert_accepted(allow(
        "execute-api:Invoke",
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*",
    ));
}

#[test]
fn attack_mixed_case_actions_are_refused_like_their_canonical_spelling() {
    // IAM matches action names ignoring case: `STS:AssumeRole` and `sts:assumerole` are
    // sts:AssumeRole, and must be refused as it is.
    // An upper-case service prefix is refused outright (the validator takes prefixes as AWS
    // documents them); a lower-case prefix with any case of the name reaches the family check.
    for (a, kind) in [
        ("STS:AssumeRole", ProblemKind::Malformed),
        ("Sts:ASSUMEROLE", ProblemKind::Malformed),
        ("IAM:PassRole", ProblemKind::Malformed),
        ("sts:assumerole", ProblemKind::SensitiveAction),
        ("sts:ASSUMEROLE", ProblemKind::SensitiveAction),
        ("iam:passrole", ProblemKind::SensitiveAction),
    ] {
        let e = refusal(allow(a, "arn:aws:iam::123456789012:role/admin"), &guard());
        assert!(
            e.iter()
                .any(|p| p.kind == kind && p.at == format!("{AT}.Action")),
            "{a}: {e:?}"
        );
    }
    for a in ["LAMBDA:UpdateFunctionCode", "lambda:updatefunctioncode"] {
        let e = refusal(
            allow(
                a,
                "arn:aws:lambda:us-east-1:123456789012:function:billing-prod-api",
            ),
            &guard(),
        );
        assert!(!e.is_empty(), "{a} on another stage's function: {e:?}");
    }
}
