//! `Layers`: the layer versions, besides the stage's own, that the stage's functions may use.
//!
//! Lambda checks `lambda:GetLayerVersion` of every layer a function names with the rights of whoever
//! creates or updates the function, so the deployers read exactly these (and the stage's own
//! `{service}-{stage}-*` layers) and a function may name no other (`lambda:Layer`). A layer of
//! another account is readable only where its owner granted it (`AddLayerVersionPermission`), as
//! AWS's own (Lambda Insights) and vendors' extensions are; naming one is the stack author's word.

use super::values::bounded_list;
use crate::domain::arn::{is_account_id, Arn};
use crate::domain::problem::{ProblemKind, Problems};
use serde_json::Value;
use std::collections::BTreeSet;

/// At most this many layer versions: as many as one function may use (Lambda's quota). Each
/// stands twice (its read and the `lambda:Layer` fence) in policies that must fit IAM's limits.
pub const MAX_LAYERS: usize = 5;

/// Where the stack is, and whose names are the stage's.
pub struct LayerScope<'a> {
    /// The stack's partition.
    pub partition: &'a str,
    /// The stack's region: Lambda takes layers of the function's region only.
    pub region: &'a str,
    /// The service: its other stages' layers are never the stack's to name.
    pub service: &'a str,
    /// `{service}-{stage}`, whose layers are the stage's own.
    pub stage_prefix: &'a str,
}

/// Parses and validates `Layers`: exact layer version ARNs of the stack's region.
pub fn parse_layers(
    v: Option<&Value>,
    scope: &LayerScope<'_>,
    errors: &mut Problems,
) -> Vec<String> {
    let Some(v) = v else { return vec![] };
    let items = bounded_list(
        v,
        "Layers",
        "a list of layer version ARNs",
        "layer versions",
        MAX_LAYERS,
        errors,
    );
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("Layers[{i}]");
        let Some(s) = item.as_str() else {
            errors.push(
                ProblemKind::WrongType,
                &at,
                format!("{at} must be a layer version ARN string"),
            );
            continue;
        };
        match check_layer(s, scope) {
            Err((kind, why)) => errors.push(kind, &at, format!("{at}: {why}")),
            Ok(()) if !seen.insert(s.to_string()) => errors.push(
                ProblemKind::Duplicate,
                &at,
                format!("{at}: {s} is listed twice"),
            ),
            Ok(()) => out.push(s.to_string()),
        }
    }
    out
}

/// One layer version ARN: `arn:{partition}:lambda:{region}:{account}:layer:{name}:{version}`.
fn check_layer(s: &str, scope: &LayerScope<'_>) -> Result<(), (ProblemKind, String)> {
    let malformed = |why: String| (ProblemKind::Malformed, why);
    let arn = Arn::parse(s).map_err(malformed)?;
    let Some((name, version)) = arn
        .resource
        .strip_prefix("layer:")
        .and_then(|r| r.split_once(':'))
    else {
        return Err(malformed(format!(
            "{s:?} is not a layer version ARN (arn:partition:lambda:region:account:layer:name:version)"
        )));
    };
    if arn.service != "lambda" {
        return Err(malformed(format!("{s:?} is not a Lambda layer")));
    }
    if !is_layer_name(name) {
        return Err(malformed(format!(
            "{s:?}: the layer name must be 1-140 letters, digits, - and _"
        )));
    }
    // An exact version: a wildcard or an unversioned layer would let in every version to come.
    if version.is_empty()
        || version.len() > 10
        || !version.bytes().all(|b| b.is_ascii_digit())
        || version.starts_with('0')
    {
        return Err(malformed(format!(
            "{s:?}: the version must be a number (an exact layer version, no wildcard)"
        )));
    }
    if !is_account_id(arn.account) {
        return Err(malformed(format!("{s:?}: the account must be 12 digits")));
    }
    if arn.partition != scope.partition || arn.region != scope.region {
        return Err((
            ProblemKind::Inconsistent,
            format!(
                "{s:?} is in {}:{}, the stack in {}:{}: Lambda takes layers of the function's region only",
                arn.partition, arn.region, scope.partition, scope.region
            ),
        ));
    }
    // Named like the service but not the stage's: another stage's or a nesting service's layer
    // (in another account too: names are the stage's namespace, and the deployment boundary reads
    // no layer named like the service but the stage's own).
    let own = name
        .strip_prefix(scope.stage_prefix)
        .is_some_and(|rest| rest.starts_with('-'));
    let this_service = name
        .strip_prefix(scope.service)
        .is_some_and(|rest| rest.starts_with('-'));
    if this_service && !own {
        return Err((
            ProblemKind::OutsideStage,
            format!(
                "{s:?} is another stage's layer: the stage may use its own {}-* layers and layers outside the service",
                scope.stage_prefix
            ),
        ));
    }
    Ok(())
}

fn is_layer_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 140
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
