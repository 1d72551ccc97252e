//! `Functions`: one execution role (and optionally a KMS grant) per function.

use super::values::{boolean, required_string, string_map};
use super::GRANT_OPERATIONS;
use crate::domain::names;
use crate::domain::problem::{field, ProblemKind, Problems};
use crate::domain::statements::{self, StatementRules};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a function reaches a VPC: what its role may create network interfaces in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Vpc {
    /// Not in a VPC: no network-interface rights.
    #[default]
    None,
    /// `Vpc: true`, the wide form: any subnet and security group of the region.
    Any,
    /// `Vpc: {SubnetIds, SecurityGroupIds}`: only these (sorted, unique).
    Scoped {
        /// `subnet-…` ids, 1 to 16.
        subnets: BTreeSet<String>,
        /// `sg-…` ids, 1 to 5.
        security_groups: BTreeSet<String>,
    },
}

impl Vpc {
    /// Whether the function runs in a VPC at all.
    pub fn is_some(&self) -> bool {
        *self != Vpc::None
    }
}

/// Lambda's limits on a function's VPC configuration (API reference, VpcConfig).
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;

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
    /// Network-interface permissions for VPC functions.
    pub vpc: Vpc,
    /// X-Ray permissions.
    pub tracing: bool,
    /// Others may invoke it: it is in the invoke policy.
    pub invoke: bool,
    /// It has an IAM-authorized function URL, which the invoke policy also covers.
    pub invoke_url: bool,
}

const FUNCTION_KEYS: &[&str] = &[
    "Name",
    "Statements",
    "Kms",
    "EncryptionContext",
    "Vpc",
    "Tracing",
    "Invoke",
    "InvokeUrl",
];

/// Parses and validates `Functions`.
pub fn parse_functions(
    v: Option<&Value>,
    stage_prefix: Option<&str>,
    has_key: bool,
    rules: &StatementRules<'_>,
    errors: &mut Problems,
) -> Vec<FunctionSpec> {
    let Some(v) = v else { return vec![] };
    let Some(items) = v.as_array() else {
        errors.push(
            ProblemKind::WrongType,
            "Functions",
            "Functions must be a list",
        );
        return vec![];
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("Functions[{i}]");
        let Some(f) = item.as_object() else {
            errors.push(
                ProblemKind::WrongType,
                &path,
                format!("{path} must be an object"),
            );
            continue;
        };
        for k in f.keys() {
            if !FUNCTION_KEYS.contains(&k.as_str()) {
                errors.push(
                    ProblemKind::UnknownKey,
                    field(&path, k),
                    format!(
                        "{path}: unknown key {k:?} (known: {})",
                        FUNCTION_KEYS.join(", ")
                    ),
                );
            }
        }
        let Some(name) = required_string(f, &path, "Name", errors) else {
            continue;
        };
        let at = format!("function {name}");
        if let Err(e) = names::check_function_key(&name) {
            errors.push(ProblemKind::Malformed, field(&path, "Name"), e);
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), i) {
            errors.push(ProblemKind::Duplicate, field(&path, "Name"), format!("{at}: Functions[{first}] and Functions[{i}] have the same Name (IAM names ignore case)"));
        }
        if let Some(prefix) = stage_prefix {
            let deployed = names::function_name(prefix, &name);
            if deployed.len() > 64 {
                errors.push(
                    ProblemKind::OverLimit,
                    field(&path, "Name"),
                    format!(
                        "{at}: deployed function name {deployed} is {} characters; Lambda allows 64",
                        deployed.len()
                    ),
                );
            }
        }
        let statements = match f.get("Statements") {
            None => vec![],
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(j, s)| {
                    let place = statements::Place {
                        path: format!("{path}.Statements[{j}]"),
                        label: format!("{at} statement {}", j + 1),
                    };
                    statements::validate(&place, s, rules, errors)
                })
                .collect(),
            Some(_) => {
                errors.push(
                    ProblemKind::WrongType,
                    field(&path, "Statements"),
                    format!("{at}: Statements must be a list"),
                );
                vec![]
            }
        };
        let mut sids = BTreeSet::new();
        for sid in statements
            .iter()
            .filter_map(|st| st.get("Sid").and_then(Value::as_str))
        {
            if !sids.insert(sid) {
                errors.push(
                    ProblemKind::Duplicate,
                    field(&path, "Statements"),
                    format!("{at}: Sid {sid:?} is used twice (IAM needs unique Sids)"),
                );
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
                        None => errors.push(
                            ProblemKind::Malformed,
                            field(&path, "Kms"),
                            format!(
                                "{at}: Kms entry {op} is not one of {}",
                                GRANT_OPERATIONS.join(", ")
                            ),
                        ),
                    }
                }
            }
            Some(_) => errors.push(
                ProblemKind::WrongType,
                field(&path, "Kms"),
                format!("{at}: Kms must be a list of operations"),
            ),
        }
        if !kms.is_empty() && !has_key {
            errors.push(
                ProblemKind::Inconsistent,
                field(&path, "Kms"),
                format!("{at}: Kms needs KmsKeyArn"),
            );
        }
        let context_path = field(&path, "EncryptionContext");
        let encryption_context = string_map(
            f.get("EncryptionContext"),
            &context_path,
            &format!("{at}: EncryptionContext"),
            errors,
        );
        // KMS grant constraints (API reference, GrantConstraints): at most 8 pairs, keys and
        // values of at most 384 characters.
        if encryption_context.len() > 8 {
            errors.push(
                ProblemKind::OverLimit,
                &context_path,
                format!(
                    "{at}: EncryptionContext has {} pairs; a KMS grant constraint allows 8",
                    encryption_context.len()
                ),
            );
        }
        for (k, v) in &encryption_context {
            if k.is_empty() || k.chars().count() > 384 || v.chars().count() > 384 {
                errors.push(ProblemKind::OverLimit, field(&context_path, k), format!("{at}: EncryptionContext {k:?}: keys and values must be 1-384 characters (KMS grant constraints)"));
            }
        }
        if !encryption_context.is_empty() && kms.is_empty() {
            errors.push(
                ProblemKind::Inconsistent,
                &context_path,
                format!("{at}: EncryptionContext needs Kms operations"),
            );
        }
        let flag = |key: &str, errors: &mut Problems| {
            boolean(
                f.get(key),
                &field(&path, key),
                &format!("{at}: {key}"),
                errors,
            )
        };
        let vpc = parse_vpc(
            f.get("Vpc"),
            &field(&path, "Vpc"),
            &format!("{at}: Vpc"),
            errors,
        );
        let tracing = flag("Tracing", errors);
        let invoke = flag("Invoke", errors);
        let invoke_url = flag("InvokeUrl", errors);
        if invoke_url && !invoke {
            errors.push(
                ProblemKind::Inconsistent,
                field(&path, "InvokeUrl"),
                format!(
                    "{at}: InvokeUrl needs Invoke: true (the URL is invoked through the invoke policy)"
                ),
            );
        }
        out.push(FunctionSpec {
            name,
            statements,
            kms,
            encryption_context,
            vpc,
            tracing,
            invoke,
            invoke_url,
        });
    }
    out
}

/// `Vpc`: a boolean (the wide form) or `{SubnetIds: [...], SecurityGroupIds: [...]}`.
fn parse_vpc(v: Option<&Value>, path: &str, at: &str, errors: &mut Problems) -> Vpc {
    let Some(Value::Object(o)) = v else {
        return if boolean(v, path, at, errors) {
            Vpc::Any
        } else {
            Vpc::None
        };
    };
    for k in o.keys() {
        if k != "SubnetIds" && k != "SecurityGroupIds" {
            errors.push(
                ProblemKind::UnknownKey,
                field(path, k),
                format!("{at}: unknown key {k:?} (known: SubnetIds, SecurityGroupIds)"),
            );
        }
    }
    let subnets = id_list(
        o.get("SubnetIds"),
        &field(path, "SubnetIds"),
        &format!("{at}: SubnetIds"),
        "subnet-",
        MAX_SUBNETS,
        errors,
    );
    let security_groups = id_list(
        o.get("SecurityGroupIds"),
        &field(path, "SecurityGroupIds"),
        &format!("{at}: SecurityGroupIds"),
        "sg-",
        MAX_SECURITY_GROUPS,
        errors,
    );
    Vpc::Scoped {
        subnets,
        security_groups,
    }
}

/// A list of 1 to `max` EC2 ids `{prefix}` + 8 or 17 lowercase hex digits, each once.
fn id_list(
    v: Option<&Value>,
    path: &str,
    at: &str,
    prefix: &str,
    max: usize,
    errors: &mut Problems,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(items) = v.and_then(Value::as_array) else {
        errors.push(
            ProblemKind::WrongType,
            path,
            format!("{at} must be a list of 1 to {max} ids"),
        );
        return out;
    };
    for item in items {
        let Some(id) = item.as_str().filter(|s| is_ec2_id(s, prefix)) else {
            errors.push(
                ProblemKind::Malformed,
                path,
                format!("{at}: {item} is not an id {prefix} followed by 8 or 17 hex digits"),
            );
            continue;
        };
        if !out.insert(id.to_string()) {
            errors.push(
                ProblemKind::Duplicate,
                path,
                format!("{at}: {id} is listed twice"),
            );
        }
    }
    if items.is_empty() || items.len() > max {
        errors.push(
            ProblemKind::OverLimit,
            path,
            format!("{at}: {} ids; Lambda takes 1 to {max}", items.len()),
        );
    }
    out
}

/// `{prefix}` + 8 or 17 lowercase hex digits, as EC2 forms resource ids.
fn is_ec2_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}
