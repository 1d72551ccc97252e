//! Test fixtures of the core: the stack, the provider's settings and the properties every unit test
//! starts from, in one place (tests import them from here, never from another module's tests).

use super::arn::{parse_stack_id, KeyAllowList};
use super::properties::{parse, Context, Spec};
use super::provider_guards::Guardrails;
use crate::domain::problem::Problem;
use serde_json::{json, Value};

/// The provider's own function and stack, as the template names them.
pub fn guard() -> Guardrails {
    Guardrails {
        provider_function: Some("serverless-access-ProviderFunction-AbC123".into()),
        provider_stack: Some("serverless-access".into()),
        ..Guardrails::default()
    }
}

static GUARD: std::sync::LazyLock<Guardrails> = std::sync::LazyLock::new(guard);

/// The provider's deployment boundary in unit tests.
pub const DEPLOYMENT_BOUNDARY: &str =
    "arn:aws:iam::123456789012:policy/serverless-access-system/serverless-access-DeploymentBoundary-X";

/// The provider's stage-role boundary in unit tests.
pub const STAGE_ROLE_BOUNDARY: &str =
    "arn:aws:iam::123456789012:policy/serverless-access-system/serverless-access-StageRoleBoundary-X";

pub const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-access/5b3e0c40";

pub fn parse_with(props: Value, boundary: Option<&str>) -> Result<Spec, Vec<Problem>> {
    parse_full(props, boundary, &GUARD)
}

pub fn parse_with_guardrails(props: Value, g: &Guardrails) -> Result<Spec, Vec<Problem>> {
    parse_full(props, None, g)
}

fn parse_full(props: Value, boundary: Option<&str>, g: &Guardrails) -> Result<Spec, Vec<Problem>> {
    let stack = parse_stack_id(STACK).unwrap();
    let ctx = Context {
        stack_id: STACK,
        logical_id: "Access",
        stack: &stack,
        iam_path: "/serverless-access/",
        enforced_boundary: boundary,
        deployment_boundary: Some(DEPLOYMENT_BOUNDARY),
        stage_role_boundary: Some(STAGE_ROLE_BOUNDARY),
        assumable_by_accounts: &[],
        allowed_keys: &KeyAllowList::OwnAccountAndRegion,
        provider_account: "123456789012",
        provider_region: "us-east-1",
        guardrails: g,
    };
    parse(&props, &ctx)
}

pub fn full_props() -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:serverless-access",
        "ServiceTimeout": "300",
        "ServiceName": "orders", "Stage": "prod",
        "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "Tags": {"team": "payments"},
        "Functions": [
            {"Name": "api", "Vpc": "true", "Tracing": "false", "Kms": ["Decrypt", "GenerateDataKey"],
             "EncryptionContext": {"LambdaFunctionName": "orders-prod-api"},
             "Statements": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                             "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]},
            {"Name": "worker", "Tracing": "true"}
        ]
    })
}
