//! What makes an API Gateway resource or an event source mapping the stage's: their ids are random,
//! so the stage's ownership tags (`serverless-access:service`, `:stage`) are the condition of every
//! call on them, set at creation from the stack's tags and never changed or removed afterwards.
//! The deployment role holds these (`DeployWith: role`); with `DeployWith: caller` the deploy-owned
//! policy does; the groups hold the Serverless CLI's own REST API calls in either mode.
//!
//! Evaluated in `tests/e2e/test_attacks_ownership.py`, `test_deployment_boundary.py` and
//! `test_cloudformation_handlers.py`.

use super::document::Statement;
use super::scope::StageScope;
use serde_json::{json, Value};

/// Event source mappings have random ids: a mapping is this stage's when it carries the stage's
/// ownership tags (the catalog's `eventSourceMapping` resource type takes `aws:ResourceTag`), and
/// its function must be one of this stage's (`lambda:FunctionArn`, which on Update is the function
/// the request names: without the tags, another stage's mapping could be moved to this stage's
/// function).
fn event_source_mappings(scope: &StageScope) -> Value {
    Statement::allow(
        "EventSourceMappings",
        &[
            "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
        ],
        vec![scope.event_source_mappings.clone()],
    )
    .when(json!({
        "ArnLike": {"lambda:FunctionArn": scope.functions},
        "StringEquals": scope.ownership.resource_is_own(),
    }))
    .to_json()
}

/// Tagging a mapping: CloudFormation tags what it creates with the stack's tags, in the create
/// request, which Lambda authorises as `lambda:TagResource` too ("tag on create", AWS Lambda
/// Developer Guide, tags-esm) on a mapping that has no tags yet; later stack-tag changes tag the
/// stage's own mappings. So: the ownership tags, when the request sets them, are the stage's,
/// and a mapping that has them is the stage's (`…IfExists`: a new mapping has none; README: a
/// mapping created untagged, before the stack had its tags, can be claimed). Untagging mappings
/// is not granted: no ownership tag can be removed (a stack tag removed from a stage with mappings
/// fails their update).
fn event_source_mapping_tagging(scope: &StageScope) -> Value {
    let condition = json!({"StringEqualsIfExists": merged(
        scope.ownership.request_tags_own(),
        scope.ownership.resource_is_own(),
    )});
    Statement::allow(
        "MappingTagging",
        &["lambda:TagResource"],
        vec![scope.event_source_mappings.clone()],
    )
    .when(condition)
    .to_json()
}

/// CreateEventSourceMapping has no resource type (AWS authorises it on `"*"` only): the function it
/// targets and the ownership tags it sets (`aws:RequestTag`, from the stack's tags) are the
/// conditions.
fn event_source_mapping_create(scope: &StageScope) -> Value {
    Statement::allow(
        "EventSourceMappingCreate",
        &["lambda:CreateEventSourceMapping"],
        vec!["*".into()],
    )
    .when(json!({
        "ArnLike": {"lambda:FunctionArn": scope.functions},
        "StringEquals": scope.ownership.request_tags_own(),
    }))
    .to_json()
}

/// The two objects' keys together.
fn merged(a: Value, b: Value) -> Value {
    let mut out = a;
    if let (Some(o), Some(extra)) = (out.as_object_mut(), b.as_object()) {
        o.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// What CloudFormation does for the stage's resources whose ids are random, by their ownership tags
/// (`serverless-access:service`, `serverless-access:stage`, from the stack's tags:
/// `provider.stackTags`): its REST and HTTP APIs (Serverless's `http`, `httpApi` and `websocket`
/// events) and its event source mappings. Names cannot scope them (API Gateway ARNs carry no
/// account either); the tags can. With `DeployWith: caller` these are the groups' deploy-owned
/// policy (deploy and deploy-functions are near IAM's 6,144 characters); otherwise the deployment
/// role's.
///
/// APIs: the Service Authorization Reference lists `aws:ResourceTag/${TagKey}` on every REST and
/// HTTP API resource type, and a REST API's children inherit its tags for access control (API
/// Gateway Developer Guide, apigateway-tagging-supported-resources).
/// - creating an API (`POST /restapis`, `POST /apis`) must tag it as this stage's (`aws:RequestTag`);
/// - every other call needs the stage's tags on the resource it names (`/*`: an API, anything under
///   it, its tags; account-level resources such as `/account` carry no tags, and the stage can
///   create no tagged one but APIs), and may set the ownership tags only to the stage's values;
/// - removing an ownership tag is denied;
/// - a stage's access logs go only to Serverless's log groups of the stage (`/aws/*/{service}-{stage}`).
///
/// Not granted: account-level settings (`PATCH /account`, the CloudWatch role; `/apikeys`,
/// `/usageplans`, `/domainnames`, `/vpclinks`: README, "API Gateway"), and
/// `apigateway:UpdateRestApiPolicy` (an API's resource policy, a permission writer:
/// `provider.apiGateway.resourcePolicy` is outside what the groups support).
pub fn owned_statements(scope: &StageScope) -> Vec<Value> {
    let mut out = vec![Statement::allow(
        "ApiCreate",
        &["apigateway:POST"],
        scope.api_collections.clone(),
    )
    .when(json!({"StringEquals": scope.ownership.request_tags_own()}))
    .to_json()];
    out.extend(own_api_statements(scope));
    out.extend([
        event_source_mappings(scope),
        event_source_mapping_tagging(scope),
        event_source_mapping_create(scope),
    ]);
    out
}

/// Every call on an API Gateway resource that carries the stage's ownership tags, and the Deny of
/// removing them: CloudFormation's (in [`owned_statements`]) and, for REST APIs, the Serverless
/// CLI's own: with stack tags (or `provider.tags`, `logs.restApi`, `tracing.apiGateway`) and `http`
/// events, v3 and v4 update the REST API's stage with the deployer's credentials after the deploy
/// (`getStage`, `getDeployments`, `createStage`, `updateStage`, `tagResource`, `untagResource`:
/// lib/plugins/aws/package/compile/events/api-gateway/lib/hack/update-stage.js).
pub fn own_api_statements(scope: &StageScope) -> Vec<Value> {
    vec![own_api_statement(
        scope,
        "ApiGateway",
        vec![scope.apis.clone()],
    )]
}

/// The Serverless CLI's own calls on the stage's REST API, which the groups hold (CloudFormation's
/// are the deployment role's): the stage, its deployments and its tags only (update-stage.js).
pub fn cli_api_statement(scope: &StageScope) -> Value {
    own_api_statement(scope, "ApiStageUpdate", scope.api_stage_calls.clone())
}

fn own_api_statement(scope: &StageScope, sid: &str, resources: Vec<String>) -> Value {
    let own = json!({
        "StringEquals": scope.ownership.resource_is_own(),
        "StringEqualsIfExists": scope.ownership.request_tags_own(),
        "ArnLikeIfExists": {"apigateway:Request/AccessLoggingDestination": scope.access_log_groups},
    });
    Statement::allow(
        sid,
        &[
            "apigateway:GET",
            "apigateway:POST",
            "apigateway:PUT",
            "apigateway:PATCH",
            "apigateway:DELETE",
        ],
        resources,
    )
    .when(own)
    .to_json()
}

/// Untagging (`DELETE /tags/{arn}?tagKeys=…`) carries the keys only, no values: removing an
/// ownership tag is denied. The groups hold it; the deployment role's boundary has the same Deny
/// (`DenyUntag`), which the role's policy, near IAM's 10,240 characters, relies on.
pub fn deny_api_ownership_untag(scope: &StageScope) -> Value {
    json!({
        "Sid": "DenyApiOwnershipUntag",
        "Effect": "Deny",
        "Action": ["apigateway:DELETE"],
        "Resource": [scope.api_tags],
        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": scope.ownership.keys}},
    })
}

/// The Serverless CLI finds its REST API by name among the region's (`getRestApis`, update-stage.js
/// `resolveRestApiId`): listing the region's REST APIs, names and ids only (the collection carries
/// no tags; README, "Ownership tags").
pub fn rest_api_lookup(scope: &StageScope) -> Value {
    Statement::allow(
        "RestApiLookup",
        &["apigateway:GET"],
        scope.api_collections.iter().take(1).cloned().collect(),
    )
    .to_json()
}

#[cfg(test)]
mod tests {
    use crate::domain::desired::Desired;
    use crate::domain::fixtures::{full_props, parse_with, STACK};
    use serde_json::{json, Value};

    fn desired(mode: &str) -> Desired {
        let mut p = full_props();
        p["DeployWith"] = json!(mode);
        Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap()
    }

    /// Every statement of `doc` naming an action of `service`.
    fn of_service<'a>(doc: &'a Value, service: &str) -> Vec<&'a Value> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|st| st["Action"].to_string().contains(&format!("\"{service}:")))
            .collect()
    }

    /// Where CloudFormation's rights on APIs and mappings are: the deployment role's policy, or
    /// the groups' deploy-owned policy.
    fn owned_documents() -> Vec<(String, Value)> {
        let role = desired("role");
        let caller = desired("caller");
        let deployment = role.roles.iter().find(|r| r.function.is_none()).unwrap();
        let owned = caller
            .policies
            .iter()
            .find(|p| p.name.ends_with("-deploy-owned"))
            .unwrap();
        vec![
            (
                "role".into(),
                deployment.inline[crate::domain::names::DEPLOYMENT_POLICY_NAME].clone(),
            ),
            ("caller".into(), owned.document.clone()),
        ]
    }

    #[test]
    fn every_api_gateway_allow_needs_the_stages_ownership_tags_on_the_resource_or_in_the_create() {
        for (mode, doc) in owned_documents() {
            let (lookups, allows): (Vec<_>, Vec<_>) = of_service(&doc, "apigateway")
                .into_iter()
                .filter(|st| st["Effect"] == "Allow")
                .partition(|st| st["Sid"] == "RestApiLookup");
            assert_eq!(allows.len(), 2, "{mode}: create and the rest");
            // The CLI's lookup by name (caller: the groups hold it here): listing, nothing else.
            for st in lookups {
                assert_eq!(st["Action"], json!(["apigateway:GET"]));
                assert_eq!(
                    st["Resource"],
                    json!(["arn:aws:apigateway:us-east-1::/restapis"])
                );
            }
            for st in allows {
                let tags = if st["Sid"] == "ApiCreate" {
                    assert_eq!(
                        st["Resource"],
                        json!([
                            "arn:aws:apigateway:us-east-1::/restapis",
                            "arn:aws:apigateway:us-east-1::/apis"
                        ])
                    );
                    &st["Condition"]["StringEquals"]
                } else {
                    // Any tag the call sets on an ownership key is the stage's own value.
                    assert_eq!(
                        st["Condition"]["StringEqualsIfExists"]
                            ["aws:RequestTag/serverless-access:stage"],
                        "prod"
                    );
                    &st["Condition"]["StringEquals"]
                };
                let prefix = if st["Sid"] == "ApiCreate" {
                    "aws:RequestTag/"
                } else {
                    "aws:ResourceTag/"
                };
                assert_eq!(tags[format!("{prefix}serverless-access:service")], "orders");
                assert_eq!(tags[format!("{prefix}serverless-access:stage")], "prod");
                assert!(!st["Action"]
                    .to_string()
                    .contains("apigateway:UpdateRestApiPolicy"));
            }
            let deny = of_service(&doc, "apigateway")
                .into_iter()
                .find(|st| st["Effect"] == "Deny");
            if mode == "role" {
                // The deployment boundary's DenyUntag holds it for the role (its policy has no
                // room): tests/e2e/test_deployment_boundary.py.
                assert!(deny.is_none(), "{mode}: {deny:?}");
                continue;
            }
            let deny = deny.expect("untagging the ownership tags is denied");
            assert_eq!(
                deny["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"],
                json!(["serverless-access:service", "serverless-access:stage"])
            );
        }
    }

    #[test]
    fn every_event_source_mapping_allow_needs_the_stages_ownership_tags() {
        for (mode, doc) in owned_documents() {
            let mappings: Vec<_> = of_service(&doc, "lambda")
                .into_iter()
                .filter(|st| {
                    st["Resource"].to_string().contains("event-source-mapping")
                        || st["Action"]
                            .to_string()
                            .contains("CreateEventSourceMapping")
                })
                .collect();
            assert_eq!(mappings.len(), 3, "{mode}: {mappings:?}");
            for st in mappings {
                let c = &st["Condition"];
                let tags = [&c["StringEquals"], &c["StringEqualsIfExists"]];
                let owned = |prefix: &str| {
                    tags.iter().any(|t| {
                        t[format!("{prefix}serverless-access:service")] == "orders"
                            && t[format!("{prefix}serverless-access:stage")] == "prod"
                    })
                };
                assert!(
                    owned("aws:ResourceTag/") || owned("aws:RequestTag/"),
                    "{mode}: {st}"
                );
                if st["Action"].to_string().contains("EventSourceMapping") {
                    assert!(
                        c["ArnLike"]["lambda:FunctionArn"]
                            .as_str()
                            .unwrap()
                            .ends_with(":function:orders-prod-*"),
                        "{st}"
                    );
                }
                assert!(!st["Action"].to_string().contains("UntagResource"), "{st}");
            }
        }
    }

    #[test]
    fn the_deploy_owned_policy_exists_with_caller_only_and_every_deploying_group_attaches_it() {
        let caller = desired("caller");
        let owned = caller
            .policies
            .iter()
            .find(|p| p.name.ends_with("-deploy-owned"))
            .unwrap();
        for g in &caller.groups {
            assert_eq!(
                g.attached.contains(&owned.arn),
                g.kind.holds().deploys(),
                "{}",
                g.name
            );
        }
        let role = desired("role");
        assert!(role
            .policies
            .iter()
            .all(|p| !p.name.ends_with("-deploy-owned")));
        for g in &role.groups {
            assert!(!g.attached.iter().any(|a| a.ends_with("-deploy-owned")));
        }
        // The groups' other policies hold no API Gateway or mapping right with caller either.
        for p in caller.policies.iter().filter(|p| p.arn != owned.arn) {
            assert!(
                of_service(&p.document, "apigateway").is_empty(),
                "{}",
                p.name
            );
            assert!(
                !p.document.to_string().contains("EventSourceMapping\""),
                "{}",
                p.name
            );
        }
    }
}
