//! `InvokeApis`: API Gateway stages whose IAM-authorized routes the invoke policy may call.

use super::values::bounded_list;
use crate::domain::problem::{field, ProblemKind, Problems};
use serde_json::Value;
use std::collections::BTreeSet;

/// One API stage the invoke policy covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InvokeApi {
    /// The REST or HTTP API's id (10 lowercase letters and digits, as API Gateway makes them).
    pub api_id: String,
    /// The stage: letters, digits, `-` and `_` (up to 128), or HTTP APIs' `$default`.
    pub stage: String,
}

/// At most this many API stages (the invoke policy must fit IAM's 6,144 characters).
const MAX_APIS: usize = 20;

/// Parses and validates `InvokeApis`.
pub fn parse_invoke_apis(v: Option<&Value>, errors: &mut Problems) -> Vec<InvokeApi> {
    let Some(v) = v else { return vec![] };
    let items = bounded_list(
        v,
        "InvokeApis",
        "a list of {ApiId, Stage}",
        "API stages",
        MAX_APIS,
        errors,
    );
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("InvokeApis[{i}]");
        let Some(o) = item.as_object() else {
            errors.push(
                ProblemKind::WrongType,
                &at,
                format!("{at} must be an object {{ApiId, Stage}}"),
            );
            continue;
        };
        for k in o.keys() {
            if k != "ApiId" && k != "Stage" {
                errors.push(
                    ProblemKind::UnknownKey,
                    field(&at, k),
                    format!("{at}: unknown key {k:?} (known: ApiId, Stage)"),
                );
            }
        }
        let api_id = o.get("ApiId").and_then(Value::as_str).unwrap_or_default();
        let stage = o.get("Stage").and_then(Value::as_str).unwrap_or_default();
        let mut ok = true;
        if !is_api_id(api_id) {
            errors.push(
                ProblemKind::Malformed,
                field(&at, "ApiId"),
                format!(
                    "{at}: ApiId {api_id:?} is not an API Gateway id (10 lowercase letters and digits)"
                ),
            );
            ok = false;
        }
        if !is_stage(stage) {
            errors.push(
                ProblemKind::Malformed,
                field(&at, "Stage"),
                format!(
                    "{at}: Stage {stage:?} must be 1-128 letters, digits, - and _, or $default"
                ),
            );
            ok = false;
        }
        if ok && !seen.insert((api_id, stage)) {
            errors.push(
                ProblemKind::Duplicate,
                &at,
                format!("{at}: {api_id}/{stage} is listed twice"),
            );
        }
        if ok {
            out.push(InvokeApi {
                api_id: api_id.to_string(),
                stage: stage.to_string(),
            });
        }
    }
    out
}

fn is_api_id(s: &str) -> bool {
    s.len() == 10
        && s.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// A stage name that can stand in an `execute-api` ARN: no `*`, `?`, `/` or `${`, so it can
/// never widen the resource or read as a policy variable.
fn is_stage(s: &str) -> bool {
    s == "$default"
        || (!s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}
