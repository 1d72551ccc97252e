//! The deployment role of one service and stage (`DeployWith: role`, the default): the role
//! CloudFormation creates, updates and deletes the stage's resources with, so that the groups hold
//! only the deployer's own calls.
//!
//! Only `cloudformation.amazonaws.com` may assume it, only the stage's deploying groups may pass it
//! (and only to CloudFormation), and its policy is generated here from the validated names, never
//! from a stack author's statements. Its boundary (the provider stack's `DeploymentBoundary`) caps
//! it to the stage by its ownership tags.
//!
//! Evaluated against CloudFormation's handler permissions under its boundary in
//! `tests/e2e/test_cloudformation_handlers.py`, and against attacks in `tests/e2e/test_attacks.py`.

use super::document::{document, Statement};
use super::groups::GENERATED_BUCKET_LIFECYCLE;
use super::guards::{
    deny_other_layers, deny_other_vpc_config, deny_passing_the_deployment_role_elsewhere,
    deny_provider, deny_reading_the_accounts_api_calls, execution_roles, service_key_for_lambda,
    vpc_checks,
};
use super::ownership::owned_statements;
use super::scope::StageScope;
use super::stage_resources::{layer_version_reads, no_resource_scoping_reads, resource_statements};
use serde_json::{json, Value};

/// The trust policy: CloudFormation only. Fixed here, never taken from input.
pub fn deployment_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "cloudformation.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The deployment role's inline policy: what CloudFormation's handlers call for the stage's
/// functions, their triggers and logs, the generated deployment bucket, reading the artifacts
/// Lambda fetches with the caller's rights, passing the execution roles to Lambda, and the VPC and
/// KMS checks Lambda makes with the caller's rights.
pub fn deployment_policy(scope: &StageScope) -> Value {
    let mut statements: Vec<Value> = deny_provider(scope).into_iter().collect();
    statements.extend(deny_other_vpc_config(scope));
    statements.push(deny_other_layers(scope));
    statements.extend(deny_reading_the_accounts_api_calls());
    // Its own pass statement names the execution roles only, whose names never end like its own;
    // where names are cut and it cannot, the Deny keeps the role from being passed.
    if !scope.passes_execution_roles_only {
        statements.push(deny_passing_the_deployment_role_elsewhere(scope));
    }
    statements.extend(resource_statements(scope));
    statements.push(layer_version_reads(scope));
    statements.extend(owned_statements(scope));
    statements.extend(service_key_for_lambda(scope));
    statements.push(no_resource_scoping_reads(scope));
    // Lambda reads the code object with the caller's rights: the artifacts of this stage only.
    let mut artifacts = vec![scope.artifacts.clone()];
    artifacts.extend(scope.shared.iter().map(|shared| shared.artifacts.clone()));
    statements.push(
        Statement::allow(
            "ReadArtifacts",
            &["s3:GetObject", "s3:GetObjectVersion"],
            artifacts,
        )
        .when(scope.s3_only.clone())
        .to_json(),
    );
    if scope.bucket_is_generated {
        // Serverless v3's per-service bucket is the stack's own resource.
        statements.push(
            Statement::allow(
                "GeneratedDeploymentBucket",
                GENERATED_BUCKET_LIFECYCLE,
                vec![scope.bucket.clone()],
            )
            .when(scope.s3_only.clone())
            .to_json(),
        );
    }
    statements.extend(execution_roles(scope));
    statements.push(vpc_checks(scope));
    document(statements)
}

#[cfg(test)]
mod tests {
    use crate::domain::attributes;
    use crate::domain::desired::Desired;
    use crate::domain::fixtures::{full_props, parse_with, DEPLOYMENT_BOUNDARY, STACK};
    use crate::domain::names::DEPLOYMENT_POLICY_NAME;
    use crate::domain::problem::ProblemKind;
    use serde_json::{json, Value};

    fn desired(over: Value) -> Desired {
        let mut p = full_props();
        for (k, v) in over.as_object().unwrap() {
            p[k] = v.clone();
        }
        Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap()
    }

    fn actions(doc: &Value, effect: &str) -> Vec<String> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == effect)
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                v => v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn by_default_cloudformation_deploys_with_a_bounded_deployment_role_only_it_can_assume() {
        let d = desired(json!({}));
        let roles: Vec<_> = d.roles.iter().filter(|r| r.function.is_none()).collect();
        let [role] = roles.as_slice() else {
            panic!("one deployment role: {roles:?}")
        };
        assert_eq!(role.name, "orders-prod-us-east-1.deploy");
        assert_eq!(
            role.trust["Statement"][0]["Principal"],
            json!({"Service": "cloudformation.amazonaws.com"})
        );
        assert_eq!(role.boundary.as_deref(), Some(DEPLOYMENT_BOUNDARY));
        assert!(role.inline.keys().eq([DEPLOYMENT_POLICY_NAME]));
        // The ownership tags the deployment boundary scopes the role by.
        assert_eq!(role.tags["serverless-access:service"], "orders");
        assert_eq!(role.tags["serverless-access:stage"], "prod");
        let attrs = attributes::fixed(&d);
        assert!(attrs.contains(&("DeploymentRoleArn".into(), role.arn.clone())));
        assert!(attributes::per_function(&d)
            .iter()
            .all(|(k, _)| !k.contains("deploy")));
        // The groups' managed policies hold no resource-creation right: those are the role's.
        for a in [
            "lambda:CreateFunction",
            "lambda:AddPermission",
            "logs:CreateLogGroup",
            "events:PutRule",
        ] {
            for p in &d.policies {
                assert!(
                    !actions(&p.document, "Allow").contains(&a.to_string()),
                    "{a} in {}",
                    p.name
                );
            }
            assert!(
                actions(
                    &role.inline[crate::domain::names::DEPLOYMENT_POLICY_NAME],
                    "Allow"
                )
                .contains(&a.to_string()),
                "{a}"
            );
        }
    }

    #[test]
    fn only_the_deployment_role_creates_apis_the_groups_hold_the_clis_calls_on_the_stages_own() {
        let d = desired(json!({}));
        let role = d.roles.iter().find(|r| r.function.is_none()).unwrap();
        let sids = |doc: &Value| -> Vec<String> {
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            sids(&role.inline[crate::domain::names::DEPLOYMENT_POLICY_NAME])
                .contains(&"ApiCreate".to_string())
        );
        let deploy = &d.policies[0];
        assert!(deploy.name.ends_with("-deploy"));
        for p in &d.policies {
            assert!(
                !sids(&p.document).contains(&"ApiCreate".to_string()),
                "{}",
                p.name
            );
        }
        // The update-stage calls of the CLI: only on what carries the stage's tags.
        let own = deploy.document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "ApiStageUpdate")
            .unwrap();
        assert_eq!(
            own["Condition"]["StringEquals"]["aws:ResourceTag/serverless-access:stage"],
            "prod"
        );
        // Its stages, deployments and tags: no method, integration or authorizer of its own.
        assert!(own["Resource"].as_array().unwrap().iter().all(|r| r
            .as_str()
            .unwrap()
            .contains("/stages")
            || r.as_str().unwrap().ends_with("/deployments")
            || r.as_str().unwrap().contains("/tags/")));
    }

    #[test]
    fn every_stack_write_of_the_groups_names_the_deployment_role() {
        let d = desired(json!({}));
        let role = d.roles.iter().find(|r| r.function.is_none()).unwrap();
        let mut docs: Vec<&Value> = d.policies.iter().map(|p| &p.document).collect();
        docs.extend(d.groups.iter().flat_map(|g| g.inline.values()));
        let mut bound = 0;
        for doc in docs {
            for st in doc["Statement"].as_array().unwrap() {
                let writes: Vec<_> = actions(&json!({"Statement": [st]}), "Allow")
                    .into_iter()
                    .filter(|a| {
                        [
                            "cloudformation:CreateStack",
                            "cloudformation:UpdateStack",
                            "cloudformation:CreateChangeSet",
                            "cloudformation:DeleteStack",
                        ]
                        .contains(&a.as_str())
                    })
                    .collect();
                if !writes.is_empty() {
                    assert_eq!(
                        st["Condition"]["StringEquals"]["cloudformation:RoleArn"],
                        json!(role.arn),
                        "{st}"
                    );
                    bound += writes.len();
                }
            }
        }
        assert_eq!(
            bound, 4,
            "UpdateStack, CreateChangeSet, CreateStack, DeleteStack"
        );
    }

    #[test]
    fn deploy_with_caller_makes_no_deployment_role_and_gives_the_groups_cloudformations_rights() {
        let d = desired(json!({"DeployWith": "caller"}));
        assert!(d.roles.iter().all(|r| r.function.is_some()));
        assert!(attributes::fixed(&d)
            .iter()
            .all(|(k, _)| k != "DeploymentRoleArn"));
        let functions = &d.policies[1].document;
        assert!(actions(functions, "Allow").contains(&"lambda:CreateFunction".to_string()));
        assert!(!d
            .policies
            .iter()
            .any(|p| p.document.to_string().contains("RoleArn")));
    }

    #[test]
    fn no_deploying_group_no_deployment_role() {
        let d = desired(json!({"Groups": ["invoker"]}));
        assert!(d.roles.iter().all(|r| r.function.is_some()));
    }

    #[test]
    fn an_unknown_deploy_with_is_refused_naming_both_choices() {
        let mut p = full_props();
        p["DeployWith"] = json!("cdk");
        let e = parse_with(p, None).unwrap_err();
        assert!(
            crate::domain::problem::has(&e, ProblemKind::Malformed, "DeployWith"),
            "{e:?}"
        );
        assert!(
            e[0].message().contains("role") && e[0].message().contains("caller"),
            "names both choices: {e:?}"
        );
    }
}
