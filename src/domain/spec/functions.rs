//! `Functions`: one execution role (and optionally a KMS grant) per function.

use super::values::{boolean, required_string, string_map};
use super::GRANT_OPERATIONS;
use crate::domain::names;
use crate::domain::statements::{self, StatementRules};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

const FUNCTION_KEYS: &[&str] = &[
    "Name",
    "Statements",
    "Kms",
    "EncryptionContext",
    "Vpc",
    "Tracing",
];

/// Parses and validates `Functions`.
pub fn parse_functions(
    v: Option<&Value>,
    service: Option<&str>,
    stage: Option<&str>,
    has_key: bool,
    rules: &StatementRules<'_>,
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
                    statements::validate(&format!("{at} statement {}", j + 1), s, rules, errors)
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
        // KMS grant constraints (API reference, GrantConstraints): at most 8 pairs, keys and
        // values of at most 384 characters.
        if encryption_context.len() > 8 {
            errors.push(format!(
                "{at}: EncryptionContext has {} pairs; a KMS grant constraint allows 8",
                encryption_context.len()
            ));
        }
        for (k, v) in &encryption_context {
            if k.is_empty() || k.chars().count() > 384 || v.chars().count() > 384 {
                errors.push(format!("{at}: EncryptionContext {k:?}: keys and values must be 1-384 characters (KMS grant constraints)"));
            }
        }
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
