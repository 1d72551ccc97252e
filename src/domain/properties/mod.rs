//! Resource properties → a validated [`Spec`].
//!
//! CloudFormation sends every scalar as a string (`"true"`, `"30"`); booleans are parsed from
//! `"true"`/`"false"` (and JSON booleans), anything else is an error naming the field.
//! `ServiceToken` and `ServiceTimeout` are CloudFormation's and ignored. Every problem is
//! collected so that one answer lists all of them; nothing is written before validation passes.

mod assumable;
mod functions;
mod invoke;
mod layers;
mod tags;
mod values;

pub use assumable::{OidcTrust, TrustScope, Trustee};
pub use functions::{FunctionSpec, Vpc};
pub use invoke::InvokeApi;
pub use values::{boolean, check_bucket_name};

use super::arn::{self, KeyArn, StackRef};
use super::names::{self, Naming};
use super::principals::GroupKind;
use super::problem::{field, Problem, ProblemKind, Problems};
use super::provider_guards::{self, Guardrails};
use super::statements::StatementRules;
use functions::parse_functions;
use invoke::parse_invoke_apis;
use layers::{parse_layers, LayerScope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tags::check_tags;
use values::{optional_string, required_string, string_map};

/// The KMS grant operations a function may ask for.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "DescribeKey",
];

/// Tag keys the provider sets itself on every role.
pub const OWNER_TAG_PREFIX: &str = "serverless-access:";
/// Roles carry at most 50 tags; the provider uses this many.
pub const OWN_TAG_COUNT: usize = 5;

/// A validated resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Names and path of everything this resource owns.
    pub naming: Naming,
    /// Groups to maintain.
    pub groups: BTreeSet<GroupKind>,
    /// The exact deployment bucket, or `None` for Serverless's generated one.
    pub deployment_bucket: Option<String>,
    /// Boundary on every role.
    pub permissions_boundary: Option<String>,
    /// Key the grants are on.
    pub kms_key: Option<KeyArn>,
    /// User tags on every role.
    pub tags: BTreeMap<String, String>,
    /// Functions, in the order given.
    pub functions: Vec<FunctionSpec>,
    /// API stages the invoke policy covers.
    pub invoke_apis: Vec<InvokeApi>,
    /// Layer versions, besides the stage's own, its functions may use (exact ARNs).
    pub layers: Vec<String>,
    /// Deployers may make function URLs without IAM authorization (public).
    pub public_function_urls: bool,
    /// The provider's own function, which every group policy denies.
    pub provider_function: Option<String>,
    /// The provider's own stack, which every group policy denies.
    pub provider_stack: Option<String>,
    /// Whose rights CloudFormation deploys the stack with.
    pub deploy_with: DeployWith,
    /// Boundary of the deployment role.
    pub deployment_boundary: Option<String>,
    /// Who may assume each kind's stage role (`AssumableBy`); kinds without sources are absent.
    pub assumable_by: BTreeMap<GroupKind, Vec<Trustee>>,
    /// Boundary of the stage roles.
    pub stage_role_boundary: Option<String>,
}

/// Whose rights CloudFormation creates, updates and deletes the stage's resources with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployWith {
    /// The resource's deployment role, which only CloudFormation can assume and only the groups
    /// may pass (the default): the groups hold the CLI's own calls, not the resources' rights.
    Role,
    /// The caller's own rights: the groups hold everything CloudFormation does for the stage.
    Caller,
}

/// What validation needs to know besides the properties.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The request's StackId.
    pub stack_id: &'a str,
    /// The request's LogicalResourceId.
    pub logical_id: &'a str,
    /// The stack, parsed from StackId.
    pub stack: &'a StackRef,
    /// The provider's IAM path.
    pub iam_path: &'a str,
    /// The boundary the provider enforces, if any.
    pub enforced_boundary: Option<&'a str>,
    /// The boundary of deployment roles, if the provider has one.
    pub deployment_boundary: Option<&'a str>,
    /// The boundary of stage roles (`AssumableBy`), if the provider has one.
    pub stage_role_boundary: Option<&'a str>,
    /// Accounts besides the stack's whose roles and users stage roles may trust.
    pub assumable_by_accounts: &'a [String],
    /// Which keys grants may use.
    pub allowed_keys: &'a arn::KeyAllowList,
    /// The provider's own account and region (for the default key allowance).
    pub provider_account: &'a str,
    /// The provider's region.
    pub provider_region: &'a str,
    /// The provider's own protections and allowances.
    pub guardrails: &'a Guardrails,
}

const TOP_KEYS: &[&str] = &[
    "ServiceToken",
    "ServiceTimeout",
    "ServiceName",
    "Stage",
    "Groups",
    "DeploymentBucket",
    "PermissionsBoundary",
    "KmsKeyArn",
    "Tags",
    "Functions",
    "InvokeApis",
    "Layers",
    "PublicFunctionUrls",
    "DeployWith",
    "AssumableBy",
];
impl Spec {
    /// Whether anything may be invoked through the invoke policy: a function marked `Invoke`, or
    /// an API stage. Without, there is no invoke policy, no invoker group and no attribute.
    pub fn invokable(&self) -> bool {
        self.functions.iter().any(|f| f.invoke) || !self.invoke_apis.is_empty()
    }
}

/// Reads just the service and stage, for naming a resource whose other properties are invalid.
pub fn service_and_stage(props: &Value) -> Option<(String, String)> {
    let service = props.get("ServiceName")?.as_str()?;
    let stage = props.get("Stage")?.as_str()?;
    (names::check_service(service).is_ok() && names::check_stage(stage).is_ok())
        .then(|| (service.to_string(), stage.to_string()))
}

/// Parses and validates the properties. On failure, every problem found.
pub fn parse(props: &Value, ctx: &Context<'_>) -> Result<Spec, Vec<Problem>> {
    let mut errors = Problems::default();
    let Some(obj) = props.as_object() else {
        return Err(vec![Problem::new(
            ProblemKind::WrongType,
            "",
            "ResourceProperties must be an object",
        )]);
    };
    for k in obj.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            errors.push(
                ProblemKind::UnknownKey,
                k.as_str(),
                format!(
                    "unknown property {k:?} (known: {})",
                    TOP_KEYS.get(2..).unwrap_or_default().join(", ")
                ),
            );
        }
    }
    let service = required_string(obj, "", "ServiceName", &mut errors);
    let stage = required_string(obj, "", "Stage", &mut errors);
    if let Some(s) = &service {
        if let Err(e) = names::check_service(s) {
            errors.push(ProblemKind::Malformed, "ServiceName", e);
        }
    }
    if let Some(s) = &stage {
        if let Err(e) = names::check_stage(s) {
            errors.push(ProblemKind::Malformed, "Stage", e);
        }
    }
    if let (Some(svc), Some(stg)) = (&service, &stage) {
        errors.extend(provider_guards::check_claim(svc, stg, ctx.guardrails));
    }

    let groups = match obj.get("Groups") {
        None => GroupKind::DEFAULT.into_iter().collect(),
        Some(v) => {
            let mut set = BTreeSet::new();
            match v.as_array() {
                None => errors.push(
                    ProblemKind::WrongType,
                    "Groups",
                    "Groups must be a list of admin, developer, ci, invoker",
                ),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let at = format!("Groups[{i}]");
                        match item.as_str().and_then(GroupKind::parse) {
                            Some(k) if !set.insert(k) => errors.push(
                                ProblemKind::Duplicate,
                                at,
                                format!("Groups lists {:?} twice", k.as_str()),
                            ),
                            Some(_) => {}
                            None => errors.push(
                                ProblemKind::Malformed,
                                at,
                                format!(
                                    "Groups: {item} is not one of admin, developer, ci, invoker"
                                ),
                            ),
                        }
                    }
                }
            }
            set
        }
    };

    let deployment_bucket = optional_string(obj, "DeploymentBucket", &mut errors);
    if let Some(b) = &deployment_bucket {
        if let Err(e) = check_bucket_name(b) {
            errors.push(ProblemKind::Malformed, "DeploymentBucket", e);
        }
    }

    let permissions_boundary = optional_string(obj, "PermissionsBoundary", &mut errors);
    if let Some(b) = &permissions_boundary {
        if let Err(e) = arn::check_policy_arn(b) {
            errors.push(
                ProblemKind::Malformed,
                "PermissionsBoundary",
                format!("PermissionsBoundary: {e}"),
            );
        }
    }
    let permissions_boundary = match (ctx.enforced_boundary, permissions_boundary) {
        (Some(enforced), Some(asked)) if asked != enforced => {
            errors.push(ProblemKind::NotAllowedHere, "PermissionsBoundary", format!("PermissionsBoundary {asked:?} is not allowed: this provider sets {enforced:?} on every role (omit the property or give exactly that ARN)"));
            None
        }
        (Some(enforced), _) => Some(enforced.to_string()),
        (None, asked) => asked,
    };

    let kms_key = optional_string(obj, "KmsKeyArn", &mut errors).and_then(|k| match arn::parse_key_arn(&k) {
        Err(e) => {
            errors.push(ProblemKind::Malformed, "KmsKeyArn", format!("KmsKeyArn: {e}"));
            None
        }
        Ok(key) if !ctx.allowed_keys.allows(&key, ctx.provider_account, ctx.provider_region) => {
            errors.push(ProblemKind::NotAllowedHere, "KmsKeyArn", format!("KmsKeyArn {:?} is not allowed by this provider (its AllowedKmsKeyArns)", key.arn));
            None
        }
        Ok(key) if key.region != ctx.stack.region => {
            errors.push(ProblemKind::Inconsistent, "KmsKeyArn", format!("KmsKeyArn {:?} is in {}, the stack is in {}: grants must be on a key of the functions' region", key.arn, key.region, ctx.stack.region));
            None
        }
        Ok(key) => Some(key),
    });

    let tags = string_map(obj.get("Tags"), "Tags", "Tags", &mut errors);
    check_tags(&tags, ctx.guardrails, &mut errors);

    let stage_prefix = names::stage_prefix(
        service.as_deref().unwrap_or_default(),
        stage.as_deref().unwrap_or_default(),
    );
    let rules = StatementRules {
        partition: &ctx.stack.partition,
        region: &ctx.stack.region,
        account: &ctx.stack.account,
        service: service.as_deref().unwrap_or_default(),
        stage_prefix: &stage_prefix,
        provider_function: ctx.guardrails.provider_function.as_deref(),
        provider_stack: ctx.guardrails.provider_stack.as_deref(),
        allowed_actions: &ctx.guardrails.allowed_actions,
        resource_accounts: &ctx.guardrails.resource_accounts,
        default_boundary: !ctx.guardrails.platform_boundary,
    };
    let functions = parse_functions(
        obj.get("Functions"),
        (service.is_some() && stage.is_some()).then_some(stage_prefix.as_str()),
        kms_key.is_some(),
        &rules,
        &mut errors,
    );
    let invoke_apis = parse_invoke_apis(obj.get("InvokeApis"), &mut errors);
    let layers = parse_layers(
        obj.get("Layers"),
        &LayerScope {
            partition: &ctx.stack.partition,
            region: &ctx.stack.region,
            service: service.as_deref().unwrap_or_default(),
            stage_prefix: &stage_prefix,
        },
        &mut errors,
    );
    let public_function_urls = boolean(
        obj.get("PublicFunctionUrls"),
        "PublicFunctionUrls",
        "PublicFunctionUrls",
        &mut errors,
    );
    let deploy_with = match optional_string(obj, "DeployWith", &mut errors).as_deref() {
        None | Some("role") => DeployWith::Role,
        Some("caller") => DeployWith::Caller,
        Some(other) => {
            errors.push(ProblemKind::Malformed, "DeployWith", format!(
                "DeployWith {other:?} must be role (CloudFormation deploys with the resource's deployment role) or caller (with the deployer's own rights)"
            ));
            DeployWith::Role
        }
    };

    let assumable_by = assumable::parse_assumable_by(
        obj.get("AssumableBy"),
        &TrustScope {
            partition: &ctx.stack.partition,
            account: &ctx.stack.account,
            other_accounts: ctx.assumable_by_accounts,
        },
        &mut errors,
    );
    for kind in assumable_by.keys() {
        if !groups.contains(kind) {
            errors.push(ProblemKind::Inconsistent, field("AssumableBy", kind.as_str()), format!(
                "AssumableBy names {:?}, which Groups does not list: a stage role holds exactly its group's documents",
                kind.as_str()
            ));
        }
    }

    if !errors.is_empty() {
        return Err(errors.into_vec());
    }
    let (Some(service), Some(stage)) = (service, stage) else {
        return Err(vec![Problem::new(
            ProblemKind::Missing,
            "",
            "ServiceName and Stage are required",
        )]);
    };
    let naming = Naming::new(
        ctx.iam_path,
        ctx.stack_id,
        ctx.logical_id,
        ctx.stack,
        &service,
        &stage,
    );
    if deployment_bucket.is_none() && groups.iter().any(|g| g.holds().deploys()) {
        let pattern = naming.generated_bucket_prefix();
        // CloudFormation truncates generated names to 63 characters; the random suffix takes 13.
        if pattern.len() + 13 > 63 {
            errors.push(ProblemKind::Missing, "DeploymentBucket", format!("DeploymentBucket is required: the generated bucket name {pattern}… would be truncated by CloudFormation (ServiceName and Stage are too long for it)"));
        }
    }
    let group_name_len = naming.group_name(GroupKind::Developer).len();
    if group_name_len > names::GROUP_NAME_MAX {
        errors.push(
            ProblemKind::OverLimit,
            "ServiceName",
            format!(
                "ServiceName and Stage make group names of {group_name_len} characters; IAM allows {}",
                names::GROUP_NAME_MAX
            ),
        );
    }
    if naming.path.len() > names::PATH_MAX {
        errors.push(
            ProblemKind::OverLimit,
            "ServiceName",
            format!(
                "IAM path {} is longer than {}",
                naming.path,
                names::PATH_MAX
            ),
        );
    }
    errors.or(Spec {
        naming,
        groups,
        deployment_bucket,
        permissions_boundary,
        kms_key,
        tags,
        functions,
        invoke_apis,
        layers,
        public_function_urls,
        provider_function: ctx.guardrails.provider_function.clone(),
        provider_stack: ctx.guardrails.provider_stack.clone(),
        deploy_with,
        deployment_boundary: ctx.deployment_boundary.map(str::to_string),
        assumable_by,
        stage_role_boundary: ctx.stage_role_boundary.map(str::to_string),
    })
}

#[cfg(test)]
pub(crate) mod tests;
