//! The trust policy and inline policy of one function's execution role.

use super::names::Naming;
use super::policy::{document, Statement};
use super::spec::FunctionSpec;
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
pub fn execution_policy(n: &Naming, f: &FunctionSpec) -> Value {
    let (p, r, a) = (&n.partition, &n.region, &n.account);
    let log_group = format!(
        "arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{}",
        n.function_name(&f.name)
    );
    let mut statements = vec![Statement::allow(
        "ServerlessAccessOwnLogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
        vec![log_group.clone(), format!("{log_group}:*")],
    )
    .to_json()];
    if f.vpc {
        statements.push(
            Statement::allow(
                "ServerlessAccessVpcEni",
                &[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                vec![
                    format!("arn:{p}:ec2:{r}:{a}:network-interface/*"),
                    format!("arn:{p}:ec2:{r}:{a}:subnet/*"),
                    format!("arn:{p}:ec2:{r}:{a}:security-group/*"),
                ],
            )
            .to_json(),
        );
        // EC2 Describe calls have no resource types.
        statements.push(
            Statement::allow(
                "NoResourceScopingVpcDescribe",
                &["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                vec!["*".into()],
            )
            .to_json(),
        );
    }
    if f.tracing {
        // X-Ray's write and sampling APIs have no resource types.
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
            .to_json(),
        );
    }
    statements.extend(f.statements.iter().cloned());
    document(statements)
}
