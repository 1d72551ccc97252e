//! The stage scope: every ARN, name pattern and condition the documents are built from, and every
//! decision about them (the deployment mode, which principals deploy, which buckets exist), made
//! once from the validated properties. The documents read these fields and decide nothing.
//!
//! Patterns always put a separator after the stage (`{service}-{stage}-*`, `stack/{service}-{stage}/*`),
//! so stage `dev` never matches `dev2` or `development`.

use crate::domain::arn::KeyArn;
use crate::domain::names::Naming;
use crate::domain::principals::GroupKind;
use crate::domain::properties::{DeployWith, Spec, OWNER_TAG_PREFIX};
mod parts;

use parts::{function_scope, invoke_scope, provider_resources, service_principals, vpc_denies};
pub use parts::{FunctionScope, InvokeScope, Ownership, ServiceKey, SharedBucket, VpcDeny};
use serde_json::{json, Value};

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

/// ARN builders for one partition, region and account.
pub(super) struct Arns<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Arns<'_> {
    /// `arn:{partition}:{service}:{region}:{account}:{resource}`.
    pub(super) fn regional(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }

    /// `arn:{partition}:s3:::{resource}` (S3 ARNs carry no region or account).
    pub(super) fn s3(&self, resource: &str) -> String {
        format!("arn:{}:s3:::{resource}", self.partition)
    }

    /// A function's ARNs, qualified (versions, aliases: `…:*`) and not. Function names cannot
    /// hold `:`, so the qualified pattern never reaches another function.
    pub(super) fn function(&self, name: &str) -> [String; 2] {
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
