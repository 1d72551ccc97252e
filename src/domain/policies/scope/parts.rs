//! The parts of a stage scope: the ownership tags, the shared bucket, the VPC fences, the service
//! key, the invoke scope and each function's scope, with how they are derived from the validated
//! properties.

use super::Arns;
use crate::domain::names::Naming;
use crate::domain::properties::{FunctionSpec, Spec, Vpc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The ownership tags (`serverless-access:service`, `serverless-access:stage`) of the stage's
/// APIs and event source mappings: set at creation from the stack's tags (Serverless
/// `provider.stackTags`, which CloudFormation propagates to the resources it creates), required
/// on every later write, and unchangeable. The deployment role carries the same as its tags.
#[derive(Debug, Clone)]
pub struct Ownership {
    /// `serverless-access:service`, `serverless-access:stage`.
    pub keys: [String; 2],
    /// The service and the stage.
    pub values: [String; 2],
}

impl Ownership {
    /// `{"{prefix}serverless-access:service": service, "{prefix}serverless-access:stage": stage}`
    /// for a tag condition key prefix (`aws:ResourceTag/`, `aws:RequestTag/`).
    pub fn tags(&self, prefix: &str) -> Value {
        Value::Object(
            self.keys
                .iter()
                .zip(&self.values)
                .map(|(k, v)| (format!("{prefix}{k}"), json!(v)))
                .collect(),
        )
    }

    /// The resource is this stage's: `aws:ResourceTag/…` equal to the stage's (an untagged
    /// resource has no key and is refused).
    pub fn resource_is_own(&self) -> Value {
        self.tags("aws:ResourceTag/")
    }

    /// The request tags the new resource as this stage's (both keys, the stage's values).
    pub fn request_tags_own(&self) -> Value {
        self.tags("aws:RequestTag/")
    }
}

/// Serverless v4's shared deployment bucket of the region.
#[derive(Debug, Clone)]
pub struct SharedBucket {
    /// `serverless-framework-deployments-{region}-` and 13 characters.
    pub bucket: String,
    /// This stage's artifacts in it.
    pub artifacts: String,
    /// The SSM parameter holding its name.
    pub parameter: String,
}

/// One scoped VPC configuration and the functions that have it.
#[derive(Debug, Clone)]
pub struct VpcDeny {
    /// Subnet ids.
    pub subnets: BTreeSet<String>,
    /// Security group ids.
    pub security_groups: BTreeSet<String>,
    /// The functions' ARNs, qualified and not.
    pub functions: Vec<String>,
}

/// The service's key as the documents use it.
#[derive(Debug, Clone)]
pub struct ServiceKey {
    /// The key ARN.
    pub arn: String,
    /// `lambda.{region}.amazonaws.com`: the only service the key may be used through.
    pub via_lambda: String,
}

/// What the invoke policy grants.
#[derive(Debug, Clone)]
pub struct InvokeScope {
    /// Functions marked `Invoke` (qualified and not).
    pub functions: Vec<String>,
    /// Functions marked `InvokeUrl` (qualified and not).
    pub urls: Vec<String>,
    /// API stages of `InvokeApis`: `…:execute-api:…:{api}/{stage}/*`.
    pub apis: Vec<String>,
}

/// One function's execution role, as its documents need it.
#[derive(Debug, Clone)]
pub struct FunctionScope {
    /// The function key.
    pub key: String,
    /// Its own log group and its streams.
    pub log_group: [String; 2],
    /// Network interface rights, when the function runs in a VPC: the interfaces, then the
    /// subnets, then the security groups.
    pub network_interfaces: Option<Vec<String>>,
    /// X-Ray rights.
    pub tracing: bool,
    /// The stack's region: the statements on `*` are held to it (`aws:RequestedRegion`).
    pub region: String,
    /// The stack's validated extra statements.
    pub statements: Vec<Value>,
}

/// The provider's own function (any qualifier), its log group and its stack, when known (`plan`
/// may run without them).
pub(super) fn provider_resources(spec: &Spec, arns: &Arns<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(f) = &spec.provider_function {
        let [qualified, plain] = arns.function(f);
        let log_group = arns.regional("logs", &format!("log-group:/aws/lambda/{f}"));
        let log_streams = format!("{log_group}:*");
        out.extend([plain, qualified, log_group, log_streams]);
    }
    if let Some(stack) = &spec.provider_stack {
        out.push(arns.regional("cloudformation", &format!("stack/{stack}/*")));
    }
    out
}

/// Functions with a scoped `Vpc`, grouped by configuration.
pub(super) fn vpc_denies(spec: &Spec, arns: &Arns<'_>) -> Vec<VpcDeny> {
    let mut by_config: BTreeMap<(&BTreeSet<String>, &BTreeSet<String>), Vec<String>> =
        BTreeMap::new();
    for f in &spec.functions {
        if let Vpc::Scoped {
            subnets,
            security_groups,
        } = &f.vpc
        {
            by_config
                .entry((subnets, security_groups))
                .or_default()
                .extend(arns.function(&spec.naming.function_name(&f.name)));
        }
    }
    by_config
        .into_iter()
        .map(|((subnets, security_groups), functions)| VpcDeny {
            subnets: subnets.clone(),
            security_groups: security_groups.clone(),
            functions,
        })
        .collect()
}

/// The service principals Serverless's events give permissions to (API Gateway for `http`,
/// `httpApi` and `websocket`; EventBridge for `schedule`, `eventBridge`, `cloudwatchEvent`; S3; SNS;
/// CloudWatch Logs of the region for `cloudwatchLog`; IoT; Cognito user pools; ALB; Alexa).
pub(super) fn service_principals(region: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        "apigateway.amazonaws.com",
        "events.amazonaws.com",
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "iot.amazonaws.com",
        "cognito-idp.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "alexa-appkit.amazon.com",
        "alexa-connectedhome.amazon.com",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    out.push(format!("logs.{region}.amazonaws.com"));
    out
}

/// What the invoke policy covers, or `None` when nothing is marked for invocation.
pub(super) fn invoke_scope(spec: &Spec, arns: &Arns<'_>) -> Option<InvokeScope> {
    if !spec.invokable() {
        return None;
    }
    let marked = |pick: fn(&FunctionSpec) -> bool| -> Vec<String> {
        spec.functions
            .iter()
            .filter(|f| pick(f))
            .flat_map(|f| arns.function(&spec.naming.function_name(&f.name)))
            .collect()
    };
    Some(InvokeScope {
        functions: marked(|f| f.invoke),
        urls: marked(|f| f.invoke_url),
        apis: spec
            .invoke_apis
            .iter()
            .map(|api| arns.regional("execute-api", &format!("{}/{}/*", api.api_id, api.stage)))
            .collect(),
    })
}

/// One function's log group and network-interface resources.
pub(super) fn function_scope(n: &Naming, f: &FunctionSpec, arns: &Arns<'_>) -> FunctionScope {
    let log_group = arns.regional(
        "logs",
        &format!("log-group:/aws/lambda/{}", n.function_name(&f.name)),
    );
    // CreateNetworkInterface is authorised on the interface, the subnet and the security groups;
    // the other three on the interface only. The scoped form names the subnets and security
    // groups; the wide form (`Vpc: true`) allows any of the region's.
    let network_interfaces = match &f.vpc {
        Vpc::None => None,
        Vpc::Any => Some(vec![
            arns.regional("ec2", "network-interface/*"),
            arns.regional("ec2", "subnet/*"),
            arns.regional("ec2", "security-group/*"),
        ]),
        Vpc::Scoped {
            subnets,
            security_groups,
        } => Some(
            std::iter::once(arns.regional("ec2", "network-interface/*"))
                .chain(
                    subnets
                        .iter()
                        .map(|id| arns.regional("ec2", &format!("subnet/{id}"))),
                )
                .chain(
                    security_groups
                        .iter()
                        .map(|id| arns.regional("ec2", &format!("security-group/{id}"))),
                )
                .collect(),
        ),
    };
    FunctionScope {
        key: f.name.clone(),
        log_group: [log_group.clone(), format!("{log_group}:*")],
        network_interfaces,
        tracing: f.tracing,
        region: arns.region.to_string(),
        statements: f.statements.clone(),
    }
}
