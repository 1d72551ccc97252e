//! The trust policy and inline policy of one function's execution role.
//!
//! Evaluated request by request (with its boundary) in `tests/e2e/test_attacks.py` and
//! `tests/e2e/test_invoke_and_vpc.py`.

use super::document::{document, Statement};
use super::scope::FunctionScope;
use serde_json::{json, Value};

/// The trust policy: only Lambda may assume the role. Trust policies cannot be constrained by IAM
/// conditions on the provider's side, so the code fixes it here and nowhere takes it from input.
pub fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The inline policy of `f`'s role: its own log group, optional VPC and X-Ray rights, its statements.
pub fn execution_policy(f: &FunctionScope) -> Value {
    let mut statements = vec![Statement::allow(
        "ServerlessAccessOwnLogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
        f.log_group.to_vec(),
    )
    .to_json()];
    if let Some(resources) = &f.network_interfaces {
        statements.push(
            Statement::allow(
                "ServerlessAccessVpcEni",
                &[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources.clone(),
            )
            .to_json(),
        );
        // EC2 Describe calls have no resource types: "*", held to the stack's region.
        statements.push(
            Statement::allow(
                "NoResourceScopingVpcDescribe",
                &["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                vec!["*".into()],
            )
            .when(this_region(f))
            .to_json(),
        );
    }
    if f.tracing {
        // X-Ray's write and sampling APIs have no resource types: "*", held to the stack's region.
        statements.push(
            Statement::allow(
                "NoResourceScopingXRay",
                &[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                vec!["*".into()],
            )
            .when(this_region(f))
            .to_json(),
        );
    }
    statements.extend(f.statements.iter().cloned());
    document(statements)
}

/// `aws:RequestedRegion` equal to the stack's region (a statement on `*` reaches every region).
fn this_region(f: &FunctionScope) -> Value {
    json!({"StringEquals": {"aws:RequestedRegion": f.region}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{full_props, parse_with};
    use crate::domain::policies::StageScope;
    use serde_json::json;

    fn eni_resources(vpc: Value) -> Vec<Value> {
        let mut p = full_props();
        p["Functions"][1]["Vpc"] = vpc;
        let spec = parse_with(p, None).unwrap();
        let doc = execution_policy(&StageScope::new(&spec).function_scopes[1]);
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "ServerlessAccessVpcEni")
            .map(|s| s["Resource"].as_array().unwrap().clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_scoped_vpc_limits_network_interfaces_to_the_declared_subnets_and_security_groups() {
        let r = eni_resources(
            json!({"SubnetIds": ["subnet-1a2b3c4d", "subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-1a2b3c4d"]}),
        );
        let e = "arn:aws:ec2:us-east-1:123456789012";
        assert_eq!(
            r,
            vec![
                json!(format!("{e}:network-interface/*")),
                json!(format!("{e}:subnet/subnet-0123456789abcdef0")),
                json!(format!("{e}:subnet/subnet-1a2b3c4d")),
                json!(format!("{e}:security-group/sg-1a2b3c4d")),
            ]
        );
    }

    #[test]
    fn the_statements_on_star_are_held_to_the_stacks_region() {
        let spec = parse_with(full_props(), None).unwrap();
        for f in &StageScope::new(&spec).function_scopes {
            let doc = execution_policy(f);
            for st in doc["Statement"].as_array().unwrap() {
                if st["Resource"] == json!(["*"]) {
                    assert_eq!(
                        st["Condition"],
                        json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
                        "{st}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_wide_vpc_form_keeps_every_subnet_and_no_vpc_has_no_network_rights() {
        let r = eni_resources(json!("true"));
        assert!(r.contains(&json!("arn:aws:ec2:us-east-1:123456789012:subnet/*")));
        assert!(eni_resources(json!("false")).is_empty());
    }
}
