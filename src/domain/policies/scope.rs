//! The stage scope: every ARN, name pattern and condition the documents are built from, and every
//! decision about them (the deployment mode, which principals deploy, which buckets exist), made
//! once from the validated properties. The documents read these fields and decide nothing.
//!
//! Patterns always put a separator after the stage (`{service}-{stage}-*`, `stack/{service}-{stage}/*`),
//! so stage `dev` never matches `dev2` or `development`.

use crate::domain::arn::KeyArn;
use crate::domain::names::Naming;
use crate::domain::principals::GroupKind;
use crate::domain::properties::{DeployWith, FunctionSpec, Spec, Vpc, OWNER_TAG_PREFIX};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// SSM parameter where Serverless v4 keeps the shared bucket's name.
pub const SHARED_BUCKET_PARAMETER: &str = "serverless-framework/deployment/s3-bucket";

/// Everything the documents of one service and stage are built from.
#[derive(Debug, Clone)]
pub struct StageScope {
    /// Whose rights CloudFormation deploys the stage with.
    pub mode: DeployWith,
    /// Whether any of the resource's groups deploys (holds the deploy documents).
    pub deploys: bool,
    /// The stack: `…:stack/{service}-{stage}/*`.
    pub stack: String,
    /// The stage's functions: `…:function:{service}-{stage}-*`.
    pub functions: String,
    /// Their versions and aliases: `…:function:{service}-{stage}-*:*`.
    pub function_qualifiers: String,
    /// The stage's queues (rule targets): `…:sqs:…:{service}-{stage}-*`.
    pub queues: String,
    /// Every event source mapping of the region (ids are random; the function and the mapping's
    /// ownership tags are the conditions).
    pub event_source_mappings: String,
    /// The stage's layers: `…:layer:{service}-{stage}-*`.
    pub layers: String,
    /// The layer versions the stage's functions may use: its own layers' and the exact versions
    /// the stack names (`Layers`).
    pub usable_layers: Vec<String>,
    /// The stage's event rules: `…:rule/{service}-{stage}-*`.
    pub rules: String,
    /// Every API Gateway resource of the region (`…::/*`): API ids are random, so the ownership
    /// tags on the resource are the condition.
    pub apis: String,
    /// The region's API collections (`/restapis`, `/apis`): creating an API, which must carry
    /// the stage's ownership tags.
    pub api_collections: Vec<String>,
    /// The region's tags resources of API Gateway (`/tags/*`).
    pub api_tags: String,
    /// What the Serverless CLI itself calls on a REST API: its stages, deployments and tags.
    pub api_stage_calls: Vec<String>,
    /// The log groups a stage of this stage's APIs may send access logs to: Serverless's
    /// (`/aws/api-gateway/{service}-{stage}`, `/aws/http-api/…`, `/aws/websocket/…`; `/aws/*/`
    /// and the exact name: no other stage's name ends so).
    pub access_log_groups: String,
    /// The ownership tags every API and event source mapping of the stage carries.
    pub ownership: Ownership,
    /// The stage's log groups: `…:log-group:/aws/lambda/{service}-{stage}-*`.
    pub log_groups: String,
    /// Every role of this resource: `…:role{path}*`.
    pub roles: String,
    /// The roles passed to Lambda: the execution roles by their names,
    /// `…:role{path}{service}-{stage}-{region}-*`, which the deployment role's
    /// (`…{region}.deploy`) never matches; every role of the resource where names too long to keep
    /// that prefix are cut (`passes_execution_roles_only` is then false).
    pub passed_roles: String,
    /// Whether `passed_roles` names the execution roles only.
    pub passes_execution_roles_only: bool,
    /// The deployment role (exists with `DeployWith: role`).
    pub deployment_role: String,
    /// The deployment bucket: the named one, or the generated one's pattern.
    pub bucket: String,
    /// Whether that bucket is Serverless's generated one (this stage's alone) or a named one
    /// (which stages may share).
    pub bucket_is_generated: bool,
    /// This stage's artifacts in it: `{bucket}/serverless/{service}/{stage}/*`.
    pub artifacts: String,
    /// Every object of it.
    pub all_objects: String,
    /// Serverless v4's shared bucket, used when no bucket is named.
    pub shared: Option<SharedBucket>,
    /// For S3: this region and this account (S3 ARNs carry neither, so a bucket name pattern could
    /// match another account's bucket, or, for a claim of another region, this region's).
    pub s3_only: Value,
    /// The same, plus listing only this stage's prefix.
    pub s3_stage_prefix_only: Value,
    /// This region only (for actions AWS authorises on `*` only).
    pub region_only: Value,
    /// Every CloudWatch dataset, of any account and region: the catalog's optional resource type
    /// of metric reads, which no stage owns.
    pub metric_datasets: String,
    /// The provider's own function (any qualifier), its log group and its stack: denied everywhere.
    pub provider: Vec<String>,
    /// Per distinct scoped VPC configuration, the functions it holds.
    pub vpc_denies: Vec<VpcDeny>,
    /// The service key and the Lambda endpoint through which it may be used.
    pub service_key: Option<ServiceKey>,
    /// The AWS service principals Serverless's events give permissions to.
    pub service_principals: Vec<String>,
    /// Function URL auth types deployers may configure (`AWS_IAM`, and `NONE` when public).
    pub function_url_auth_types: Vec<&'static str>,
    /// Whether public function URLs (and the permission for everyone they need) are allowed.
    pub public_function_urls: bool,
    /// What the invoke policy covers, when anything is marked.
    pub invoke: Option<InvokeScope>,
    /// One entry per function, in the order of `Functions`.
    pub function_scopes: Vec<FunctionScope>,
}

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

/// ARN builders for one partition, region and account.
struct Arns<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Arns<'_> {
    /// `arn:{partition}:{service}:{region}:{account}:{resource}`.
    fn regional(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }

    /// `arn:{partition}:s3:::{resource}` (S3 ARNs carry no region or account).
    fn s3(&self, resource: &str) -> String {
        format!("arn:{}:s3:::{resource}", self.partition)
    }

    /// A function's ARNs, qualified (versions, aliases: `…:*`) and not. Function names cannot
    /// hold `:`, so the qualified pattern never reaches another function.
    fn function(&self, name: &str) -> [String; 2] {
        let arn = self.regional("lambda", &format!("function:{name}"));
        [format!("{arn}:*"), arn]
    }
}

impl StageScope {
    /// Decides everything once from the validated properties.
    pub fn new(spec: &Spec) -> Self {
        let n: &Naming = &spec.naming;
        let arns = Arns {
            partition: &n.partition,
            region: &n.region,
            account: &n.account,
        };
        let region = n.region.as_str();
        let prefix = n.stack_name();
        // An execution role's name starts with this unless it is cut to IAM's 64 characters
        // (names::role_name keeps the first 53): the longest function name shows whether it is.
        let execution_role_prefix = format!("{prefix}-{region}-");
        let execution_role_names_kept = n
            .role_name(&"f".repeat(64))
            .starts_with(&execution_role_prefix);
        let stage_path = format!("serverless/{}/{}", n.service, n.stage);
        let (bucket, bucket_is_generated) = match &spec.deployment_bucket {
            Some(b) => (arns.s3(b), false),
            None => (arns.s3(&format!("{}*", n.generated_bucket_prefix())), true),
        };
        let functions = arns.regional("lambda", &format!("function:{prefix}-*"));
        let shared = bucket_is_generated.then(|| {
            // Serverless v4's shared bucket of the region: `serverless-framework-deployments-{region}-`
            // and the first 13 characters of a UUID (packages/util/src/globalBucket/deployment.js).
            // Thirteen `?`, not `*`: a `*` would run on into object keys
            // (`…-x/serverless/billing/prod/serverless/orders/…`).
            let bucket = arns.s3(&format!(
                "serverless-framework-deployments-{region}-?????????????"
            ));
            SharedBucket {
                artifacts: format!("{bucket}/{stage_path}/*"),
                bucket,
                parameter: arns.regional("ssm", &format!("parameter/{SHARED_BUCKET_PARAMETER}")),
            }
        });
        let s3_only = json!({"StringEquals": {"aws:RequestedRegion": region, "s3:ResourceAccount": n.account}});
        // Serverless lists with both forms (with and without the trailing slash).
        let s3_stage_prefix_only = json!({
            "StringLike": {"s3:prefix": [stage_path.clone(), format!("{stage_path}/*")]},
            "StringEquals": {"aws:RequestedRegion": region, "s3:ResourceAccount": n.account}
        });
        let mut url_auth = vec!["AWS_IAM"];
        if spec.public_function_urls {
            url_auth.push("NONE");
        }
        StageScope {
            mode: spec.deploy_with,
            deploys: spec.groups.iter().any(|g| GroupKind::holds(*g).deploys()),
            stack: arns.regional("cloudformation", &format!("stack/{prefix}/*")),
            function_qualifiers: format!("{functions}:*"),
            functions,
            queues: arns.regional("sqs", &format!("{prefix}-*")),
            event_source_mappings: arns.regional("lambda", "event-source-mapping:*"),
            usable_layers: std::iter::once(arns.regional("lambda", &format!("layer:{prefix}-*:*")))
                .chain(spec.layers.iter().cloned())
                .collect(),
            layers: arns.regional("lambda", &format!("layer:{prefix}-*")),
            rules: arns.regional("events", &format!("rule/{prefix}-*")),
            apis: format!("arn:{}:apigateway:{region}::/*", n.partition),
            api_collections: ["/restapis", "/apis"]
                .iter()
                .map(|p| format!("arn:{}:apigateway:{region}::{p}", n.partition))
                .collect(),
            api_tags: format!("arn:{}:apigateway:{region}::/tags/*", n.partition),
            api_stage_calls: [
                "/restapis/*/stages",
                "/restapis/*/stages/*",
                "/restapis/*/deployments",
                "/tags/*",
            ]
            .iter()
            .map(|p| format!("arn:{}:apigateway:{region}::{p}", n.partition))
            .collect(),
            access_log_groups: arns.regional("logs", &format!("log-group:/aws/*/{prefix}")),
            ownership: Ownership {
                keys: [
                    format!("{OWNER_TAG_PREFIX}service"),
                    format!("{OWNER_TAG_PREFIX}stage"),
                ],
                values: [n.service.clone(), n.stage.clone()],
            },
            log_groups: arns.regional("logs", &format!("log-group:/aws/lambda/{prefix}-*")),
            roles: n.role_arn("*"),
            passed_roles: if execution_role_names_kept {
                n.role_arn(&format!("{execution_role_prefix}*"))
            } else {
                n.role_arn("*")
            },
            passes_execution_roles_only: execution_role_names_kept,
            deployment_role: n.role_arn(&n.deployment_role_name()),
            artifacts: format!("{bucket}/{stage_path}/*"),
            all_objects: format!("{bucket}/*"),
            bucket,
            bucket_is_generated,
            shared,
            s3_only,
            s3_stage_prefix_only,
            region_only: json!({"StringEquals": {"aws:RequestedRegion": region}}),
            metric_datasets: format!("arn:{}:cloudwatch:*:*:dataset/*", n.partition),
            provider: provider_resources(spec, &arns),
            vpc_denies: vpc_denies(spec, &arns),
            service_key: spec.kms_key.as_ref().map(|k: &KeyArn| ServiceKey {
                arn: k.arn.clone(),
                via_lambda: format!("lambda.{region}.amazonaws.com"),
            }),
            service_principals: service_principals(region),
            function_url_auth_types: url_auth,
            public_function_urls: spec.public_function_urls,
            invoke: invoke_scope(spec, &arns),
            function_scopes: spec
                .functions
                .iter()
                .map(|f| function_scope(n, f, &arns))
                .collect(),
        }
    }
}

/// The provider's own function (any qualifier), its log group and its stack, when known (`plan`
/// may run without them).
fn provider_resources(spec: &Spec, arns: &Arns<'_>) -> Vec<String> {
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
fn vpc_denies(spec: &Spec, arns: &Arns<'_>) -> Vec<VpcDeny> {
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
fn service_principals(region: &str) -> Vec<String> {
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
fn invoke_scope(spec: &Spec, arns: &Arns<'_>) -> Option<InvokeScope> {
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
fn function_scope(n: &Naming, f: &FunctionSpec, arns: &Arns<'_>) -> FunctionScope {
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
