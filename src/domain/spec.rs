//! Resource properties → a validated [`Spec`].
//!
//! CloudFormation sends every scalar as a string (`"true"`, `"30"`); booleans are parsed from
//! `"true"`/`"false"` (and JSON booleans), anything else is an error naming the field.
//! `ServiceToken` and `ServiceTimeout` are CloudFormation's and ignored. Every problem is
//! collected so that one answer lists all of them; nothing is written before validation passes.

use super::arn::{self, KeyArn, StackRef};
use super::names::{self, GroupKind, Naming};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

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
pub const OWN_TAG_COUNT: usize = 4;

/// One function's execution role and grant.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Function key in serverless.yml.
    pub name: String,
    /// Validated extra statements.
    pub statements: Vec<Value>,
    /// KMS grant operations, sorted.
    pub kms: BTreeSet<String>,
    /// Grant encryption context constraint (EncryptionContextSubset).
    pub encryption_context: BTreeMap<String, String>,
    /// ENI permissions for VPC functions.
    pub vpc: bool,
    /// X-Ray permissions.
    pub tracing: bool,
}

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
    /// Which keys grants may use.
    pub allowed_keys: &'a arn::KeyAllowList,
    /// The provider's own account and region (for the default key allowance).
    pub provider_account: &'a str,
    /// The provider's region.
    pub provider_region: &'a str,
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
];
const FUNCTION_KEYS: &[&str] = &[
    "Name",
    "Statements",
    "Kms",
    "EncryptionContext",
    "Vpc",
    "Tracing",
];

/// Reads just the service and stage, for naming a resource whose other properties are invalid.
pub fn service_and_stage(props: &Value) -> Option<(String, String)> {
    let service = props.get("ServiceName")?.as_str()?;
    let stage = props.get("Stage")?.as_str()?;
    (names::check_service(service).is_ok() && names::check_stage(stage).is_ok())
        .then(|| (service.to_string(), stage.to_string()))
}

/// Parses and validates the properties. On failure, every problem found.
pub fn parse(props: &Value, ctx: &Context<'_>) -> Result<Spec, Vec<String>> {
    let mut errors = Vec::new();
    let Some(obj) = props.as_object() else {
        return Err(vec!["ResourceProperties must be an object".into()]);
    };
    for k in obj.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            errors.push(format!(
                "unknown property {k:?} (known: {})",
                TOP_KEYS[2..].join(", ")
            ));
        }
    }
    let service = required_string(obj, "ServiceName", &mut errors);
    let stage = required_string(obj, "Stage", &mut errors);
    if let Some(s) = &service {
        if let Err(e) = names::check_service(s) {
            errors.push(e);
        }
    }
    if let Some(s) = &stage {
        if let Err(e) = names::check_stage(s) {
            errors.push(e);
        }
    }

    let groups = match obj.get("Groups") {
        None => GroupKind::ALL.into_iter().collect(),
        Some(v) => {
            let mut set = BTreeSet::new();
            match v.as_array() {
                None => errors.push("Groups must be a list of admin, developer, ci".into()),
                Some(items) => {
                    for item in items {
                        match item.as_str().and_then(GroupKind::parse) {
                            Some(k) if !set.insert(k) => {
                                errors.push(format!("Groups lists {:?} twice", k.as_str()))
                            }
                            Some(_) => {}
                            None => errors
                                .push(format!("Groups: {item} is not one of admin, developer, ci")),
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
            errors.push(e);
        }
    }

    let permissions_boundary = optional_string(obj, "PermissionsBoundary", &mut errors);
    if let Some(b) = &permissions_boundary {
        if let Err(e) = arn::check_policy_arn(b) {
            errors.push(format!("PermissionsBoundary: {e}"));
        }
    }
    let permissions_boundary = match (ctx.enforced_boundary, permissions_boundary) {
        (Some(enforced), Some(asked)) if asked != enforced => {
            errors.push(format!("PermissionsBoundary {asked:?} is not allowed: this provider sets {enforced:?} on every role (omit the property or give exactly that ARN)"));
            None
        }
        (Some(enforced), _) => Some(enforced.to_string()),
        (None, asked) => asked,
    };

    let kms_key = optional_string(obj, "KmsKeyArn", &mut errors).and_then(|k| match arn::parse_key_arn(&k) {
        Err(e) => {
            errors.push(format!("KmsKeyArn: {e}"));
            None
        }
        Ok(key) if !ctx.allowed_keys.allows(&key, ctx.provider_account, ctx.provider_region) => {
            errors.push(format!("KmsKeyArn {:?} is not allowed by this provider (its AllowedKmsKeyArns)", key.arn));
            None
        }
        Ok(key) if key.region != ctx.stack.region => {
            errors.push(format!("KmsKeyArn {:?} is in {}, the stack is in {}: grants must be on a key of the functions' region", key.arn, key.region, ctx.stack.region));
            None
        }
        Ok(key) => Some(key),
    });

    let tags = string_map(obj.get("Tags"), "Tags", &mut errors);
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            errors.push(format!(
                "Tags: {k:?} must be 1-128 characters with a value of at most 256"
            ));
        }
        if !k.chars().chain(v.chars()).all(super::charset::is_tag_char) {
            errors.push(format!(
                "Tags: {k:?} may hold only letters, digits, spaces and _ . : / = + - @ (IAM's tag characters)"
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") || k.starts_with(OWNER_TAG_PREFIX) {
            errors.push(format!("Tags: key {k:?} is reserved"));
        }
    }
    if tags.len() + OWN_TAG_COUNT > 50 {
        errors.push(format!(
            "Tags: at most {} tags (IAM allows 50 per role; the provider adds {OWN_TAG_COUNT})",
            50 - OWN_TAG_COUNT
        ));
    }

    let functions = parse_functions(
        obj.get("Functions"),
        service.as_deref(),
        stage.as_deref(),
        kms_key.is_some(),
        &mut errors,
    );

    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(service), Some(stage)) = (service, stage) else {
        return Err(vec!["ServiceName and Stage are required".into()]);
    };
    let naming = Naming::new(
        ctx.iam_path,
        ctx.stack_id,
        ctx.logical_id,
        ctx.stack,
        &service,
        &stage,
    );
    if deployment_bucket.is_none() && !groups.is_empty() {
        let pattern = generated_bucket_prefix(&naming);
        // CloudFormation truncates generated names to 63 characters; the random suffix takes 13.
        if pattern.len() + 13 > 63 {
            errors.push(format!("DeploymentBucket is required: the generated bucket name {pattern}… would be truncated by CloudFormation (ServiceName and Stage are too long for it)"));
        }
    }
    let group_name_len = naming.group_name(GroupKind::Developer).len();
    if group_name_len > names::GROUP_NAME_MAX {
        errors.push(format!(
            "ServiceName and Stage make group names of {group_name_len} characters; IAM allows {}",
            names::GROUP_NAME_MAX
        ));
    }
    if naming.path.len() > names::PATH_MAX {
        errors.push(format!(
            "IAM path {} is longer than {}",
            naming.path,
            names::PATH_MAX
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Spec {
        naming,
        groups,
        deployment_bucket,
        permissions_boundary,
        kms_key,
        tags,
        functions,
    })
}

/// `{service}-{stage}-serverlessdeploymentbucket-`: Serverless's generated deployment bucket is
/// the stack's `ServerlessDeploymentBucket` resource, named by CloudFormation from this prefix.
pub fn generated_bucket_prefix(n: &Naming) -> String {
    format!(
        "{}-serverlessdeploymentbucket-",
        n.stack_name().to_ascii_lowercase()
    )
}

fn parse_functions(
    v: Option<&Value>,
    service: Option<&str>,
    stage: Option<&str>,
    has_key: bool,
    errors: &mut Vec<String>,
) -> Vec<FunctionSpec> {
    let Some(v) = v else { return vec![] };
    let Some(items) = v.as_array() else {
        errors.push("Functions must be a list".into());
        return vec![];
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("Functions[{i}]");
        let Some(f) = item.as_object() else {
            errors.push(format!("{at} must be an object"));
            continue;
        };
        for k in f.keys() {
            if !FUNCTION_KEYS.contains(&k.as_str()) {
                errors.push(format!(
                    "{at}: unknown key {k:?} (known: {})",
                    FUNCTION_KEYS.join(", ")
                ));
            }
        }
        let Some(name) = required_string(f, "Name", errors).map(|n| n.to_string()) else {
            continue;
        };
        let at = format!("function {name}");
        if let Err(e) = names::check_function_key(&name) {
            errors.push(e);
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), i) {
            errors.push(format!("{at}: Functions[{first}] and Functions[{i}] have the same Name (IAM names ignore case)"));
        }
        if let (Some(svc), Some(stg)) = (service, stage) {
            let deployed = format!("{svc}-{stg}-{name}");
            if deployed.len() > 64 {
                errors.push(format!(
                    "{at}: deployed function name {deployed} is {} characters; Lambda allows 64",
                    deployed.len()
                ));
            }
        }
        let statements = match f.get("Statements") {
            None => vec![],
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(j, s)| {
                    super::statements::validate(&format!("{at} statement {}", j + 1), s, errors)
                })
                .collect(),
            Some(_) => {
                errors.push(format!("{at}: Statements must be a list"));
                vec![]
            }
        };
        let mut sids = BTreeSet::new();
        for sid in statements
            .iter()
            .filter_map(|st| st.get("Sid").and_then(Value::as_str))
        {
            if !sids.insert(sid) {
                errors.push(format!(
                    "{at}: Sid {sid:?} is used twice (IAM needs unique Sids)"
                ));
            }
        }
        let mut kms = BTreeSet::new();
        match f.get("Kms") {
            None => {}
            Some(Value::Array(ops)) => {
                for op in ops {
                    match op.as_str().filter(|o| GRANT_OPERATIONS.contains(o)) {
                        Some(o) => {
                            kms.insert(o.to_string());
                        }
                        None => errors.push(format!(
                            "{at}: Kms entry {op} is not one of {}",
                            GRANT_OPERATIONS.join(", ")
                        )),
                    }
                }
            }
            Some(_) => errors.push(format!("{at}: Kms must be a list of operations")),
        }
        if !kms.is_empty() && !has_key {
            errors.push(format!("{at}: Kms needs KmsKeyArn"));
        }
        let encryption_context = string_map(
            f.get("EncryptionContext"),
            &format!("{at}: EncryptionContext"),
            errors,
        );
        if !encryption_context.is_empty() && kms.is_empty() {
            errors.push(format!("{at}: EncryptionContext needs Kms operations"));
        }
        let vpc = boolean(f.get("Vpc"), &format!("{at}: Vpc"), errors);
        let tracing = boolean(f.get("Tracing"), &format!("{at}: Tracing"), errors);
        out.push(FunctionSpec {
            name,
            statements,
            kms,
            encryption_context,
            vpc,
            tracing,
        });
    }
    out
}

fn required_string(
    obj: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(format!("{key} must be a non-empty string"));
            None
        }
        None => {
            errors.push(format!("{key} is required"));
            None
        }
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    match obj.get(key) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(format!("{key} must be a string"));
            None
        }
    }
}

/// Parses a CloudFormation boolean: `"true"`/`"false"` (any case) or a JSON boolean; absent is false.
pub fn boolean(v: Option<&Value>, at: &str, errors: &mut Vec<String>) -> bool {
    match v {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            errors.push(format!("{at} must be \"true\" or \"false\", got {other}"));
            false
        }
    }
}

fn string_map(v: Option<&Value>, at: &str, errors: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => errors.push(format!(
                        "{at}: value of {k:?} must be a string, got {other}"
                    )),
                }
            }
        }
        Some(_) => errors.push(format!("{at} must be a map of strings")),
    }
    out
}


/// S3 bucket naming rules: 3–63 lowercase letters, digits, dots and hyphens, starting and ending
/// with a letter or digit.
pub fn check_bucket_name(b: &str) -> Result<(), String> {
    let bytes = b.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[b.len() - 1].is_ascii_alphanumeric()
        && !b.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "DeploymentBucket {b:?} is not a valid S3 bucket name"
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::arn::{parse_stack_id, KeyAllowList};
    use serde_json::json;

    pub const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-access/5b3e0c40";

    pub fn parse_with(props: Value, boundary: Option<&str>) -> Result<Spec, Vec<String>> {
        let stack = parse_stack_id(STACK).unwrap();
        let ctx = Context {
            stack_id: STACK,
            logical_id: "Access",
            stack: &stack,
            iam_path: "/serverless-access/",
            enforced_boundary: boundary,
            allowed_keys: &KeyAllowList::OwnAccountAndRegion,
            provider_account: "123456789012",
            provider_region: "us-east-1",
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

    #[test]
    fn string_booleans_are_parsed_and_false_is_false() {
        let spec = parse_with(full_props(), None).unwrap();
        assert!(spec.functions[0].vpc);
        assert!(!spec.functions[0].tracing);
        assert!(spec.functions[1].tracing);
        assert_eq!(spec.groups.len(), 3);
        assert_eq!(spec.kms_key.as_ref().unwrap().region, "us-east-1");
    }

    #[test]
    fn a_non_boolean_names_the_field() {
        let mut p = full_props();
        p["Functions"][1]["Vpc"] = json!("yes");
        let e = parse_with(p, None).unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("function worker: Vpc")),
            "{e:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let p = json!({"ServiceName": "1bad", "Stage": "dev-x", "Groups": ["root"], "Bogus": "1",
                       "Functions": [{"Name": "a", "Kms": ["Decrypt"]}, {"Name": "A"}]});
        let e = parse_with(p, None).unwrap_err();
        for needle in [
            "ServiceName",
            "Stage",
            "Groups",
            "Bogus",
            "Kms needs KmsKeyArn",
            "same Name",
        ] {
            assert!(
                e.iter().any(|m| m.contains(needle)),
                "missing {needle}: {e:?}"
            );
        }
    }

    #[test]
    fn an_enforced_boundary_is_applied_and_another_is_refused() {
        let b = "arn:aws:iam::123456789012:policy/serverless-access/boundary";
        assert_eq!(
            parse_with(full_props(), Some(b))
                .unwrap()
                .permissions_boundary
                .as_deref(),
            Some(b)
        );
        let mut p = full_props();
        p["PermissionsBoundary"] = json!("arn:aws:iam::123456789012:policy/other");
        assert!(parse_with(p, Some(b)).unwrap_err()[0].contains("not allowed"));
    }

    #[test]
    fn keys_outside_the_allowance_or_region_are_refused() {
        let mut p = full_props();
        p["KmsKeyArn"] = json!("arn:aws:kms:us-east-1:210987654321:key/abc");
        assert!(parse_with(p, None).unwrap_err()[0].contains("not allowed"));
    }

    #[test]
    fn duplicate_statement_ids_are_refused() {
        let mut p = full_props();
        let st = json!({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        p["Functions"][1]["Statements"] = json!([st.clone(), st]);
        assert!(parse_with(p, None).unwrap_err()[0].contains("used twice"));
    }

    #[test]
    fn deployed_function_names_over_64_are_refused() {
        let mut p = full_props();
        p["Functions"] = json!([{"Name": "x".repeat(60)}]);
        assert!(parse_with(p, None)
            .unwrap_err()
            .iter()
            .any(|m| m.contains("Lambda allows 64")));
    }

    #[test]
    fn reserved_and_excess_tags_are_refused() {
        let mut p = full_props();
        p["Tags"] = json!({"aws:x": "1", "serverless-access:owner": "me"});
        assert_eq!(parse_with(p, None).unwrap_err().len(), 2);
        let mut p = full_props();
        p["Tags"] = json!({"team": "pay<ments>"});
        assert!(parse_with(p, None).unwrap_err()[0].contains("IAM's tag characters"));
        let mut p = full_props();
        p["Tags"] = Value::Object((0..47).map(|i| (format!("k{i}"), json!("v"))).collect());
        assert!(parse_with(p, None).unwrap_err()[0].contains("at most 46"));
    }
}
