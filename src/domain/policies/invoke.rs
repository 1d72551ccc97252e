//! The invoke managed policy: who may call the service, kept apart from who may deploy it.
//!
//! It grants `lambda:InvokeFunction` on the functions marked `Invoke` (their versions and aliases
//! too), `lambda:InvokeFunctionUrl` on those marked `InvokeUrl` only through IAM-authorized URLs,
//! and `execute-api:Invoke` on the API stages of `InvokeApis`: nothing else. The invoker group holds
//! it; consumers attach it to their own roles in their own stacks (the provider never touches a
//! principal it does not own).
//!
//! Evaluated request by request in `tests/e2e/test_invoke_and_vpc.py`.

use super::document::{document, Statement};
use super::scope::InvokeScope;
use serde_json::{json, Value};

/// The invoke policy of what `scope` marks.
pub fn invoke_policy(scope: &InvokeScope) -> Value {
    let mut statements = Vec::new();
    if !scope.functions.is_empty() {
        statements.push(
            Statement::allow(
                "InvokeFunctions",
                &["lambda:InvokeFunction"],
                scope.functions.clone(),
            )
            .to_json(),
        );
    }
    if !scope.urls.is_empty() {
        statements.push(
            Statement::allow(
                "InvokeFunctionUrls",
                &["lambda:InvokeFunctionUrl"],
                scope.urls.clone(),
            )
            .when(json!({"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}))
            .to_json(),
        );
    }
    if !scope.apis.is_empty() {
        statements.push(
            Statement::allow("InvokeApis", &["execute-api:Invoke"], scope.apis.clone()).to_json(),
        );
    }
    document(statements)
}

#[cfg(test)]
mod tests {
    use crate::domain::desired::Desired;
    use crate::domain::fixtures::{full_props, parse_with, STACK};
    use crate::domain::principals::GroupKind;
    use serde_json::{json, Value};

    fn desired(p: Value) -> Desired {
        Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap()
    }

    fn marked() -> Value {
        let mut p = full_props();
        p["Groups"] = json!(["admin", "developer", "ci", "invoker"]);
        p["Functions"][0]["Invoke"] = json!("true");
        p["Functions"][0]["InvokeUrl"] = json!("true");
        p["InvokeApis"] = json!([{"ApiId": "a1b2c3d4e5", "Stage": "prod"}]);
        p
    }

    #[test]
    fn the_invoke_policy_grants_exactly_the_marked_functions_urls_and_api_stages() {
        let d = desired(marked());
        let p = d
            .policies
            .iter()
            .find(|p| p.name == "orders-prod-us-east-1-invoke")
            .unwrap();
        let fn_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-prod-api";
        assert_eq!(
            p.document["Statement"],
            json!([
                {"Sid": "InvokeFunctions", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                 "Resource": [format!("{fn_arn}:*"), fn_arn]},
                {"Sid": "InvokeFunctionUrls", "Effect": "Allow", "Action": ["lambda:InvokeFunctionUrl"],
                 "Resource": [format!("{fn_arn}:*"), fn_arn],
                 "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
                {"Sid": "InvokeApis", "Effect": "Allow", "Action": ["execute-api:Invoke"],
                 "Resource": ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"]},
            ])
        );
        let invoker = d
            .groups
            .iter()
            .find(|g| g.kind == GroupKind::Invoker)
            .unwrap();
        assert_eq!(invoker.attached, vec![p.arn.clone()]);
        assert!(invoker.inline.is_empty(), "the invoker holds nothing else");
        let attrs = crate::domain::attributes::fixed(&d);
        assert!(attrs.contains(&("InvokePolicyArn".into(), p.arn.clone())));
        assert!(attrs.iter().any(|(k, _)| k == "InvokerGroupArn"));
        for g in d.groups.iter().filter(|g| g.kind != GroupKind::Invoker) {
            assert!(
                !g.attached.contains(&p.arn),
                "{} deploys, it is not an invoker",
                g.name
            );
        }
    }

    #[test]
    fn nothing_marked_means_no_invoke_policy_no_invoker_group_and_no_attribute() {
        let mut p = marked();
        p["Functions"][0]["Invoke"] = json!("false");
        p["Functions"][0]["InvokeUrl"] = json!("false");
        p.as_object_mut().unwrap().remove("InvokeApis");
        let d = desired(p);
        assert!(d.policies.iter().all(|p| !p.name.ends_with("-invoke")));
        assert!(d.groups.iter().all(|g| g.kind != GroupKind::Invoker));
        assert!(crate::domain::attributes::fixed(&d)
            .iter()
            .all(|(k, _)| k != "InvokePolicyArn" && !k.starts_with("Invoker")));
    }

    #[test]
    fn an_invoker_only_resource_has_no_deploy_policy() {
        let mut p = marked();
        p["Groups"] = json!(["invoker"]);
        let d = desired(p);
        assert_eq!(d.policies.len(), 1);
        assert!(d.policies[0].name.ends_with("-invoke"));
        assert_eq!(d.groups.len(), 1);
    }
}
