//! The checks of one statement's actions and resources: action shape and family, `*` (or as
//! wide) only for actions on the provider's list, Lambda writes only inside the stage.

use super::stage::{
    default_boundary_allows, is_lambda_write, own_function_or_layer, OWN_STAGE_SERVICES,
};
use super::{is_unscoped_action, StatementRules};
use crate::domain::action_rules::{self, LAMBDA_CODE_WRITES, STAR_ALLOWED};
use crate::domain::arn::Arn;
use crate::domain::problem::{ProblemKind, Problems};

/// `own_only`: the statement names only the stage's own resources, where the default boundary
/// gives its services whole.
pub(super) fn check_action(
    at: &str,
    path: &str,
    a: &str,
    allow: bool,
    own_only: bool,
    rules: &StatementRules<'_>,
    errors: &mut Problems,
) {
    if a == "*" {
        errors.push(
            ProblemKind::TooWide,
            path,
            format!("{at}: Action \"*\" grants every action"),
        );
        return;
    }
    let Some((service, name)) = a.split_once(':') else {
        errors.push(
            ProblemKind::Malformed,
            path,
            format!("{at}: Action {a:?} must be service:Action"),
        );
        return;
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !service_ok
        || name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
    {
        errors.push(
            ProblemKind::Malformed,
            path,
            format!("{at}: Action {a:?} must be service:Action"),
        );
        return;
    }
    if name.contains('*') || name.contains('?') {
        errors.push(
            ProblemKind::TooWide,
            path,
            format!("{at}: Action {a:?} has a wildcard; list the actions"),
        );
        return;
    }
    if !allow {
        return;
    }
    if let Some(family) = action_rules::family(a) {
        let allowed =
            family.may_be_allowed() && rules.allowed_actions.contains(&a.to_ascii_lowercase());
        if !allowed {
            let hint = if family.may_be_allowed() {
                " unless the provider allows it by name (its AllowedSensitiveActions)"
            } else {
                ""
            };
            errors.push(
                ProblemKind::SensitiveAction,
                path,
                format!(
                    "{at}: Action {a:?} may not be granted to a function role: it {}{hint}",
                    family.describe()
                ),
            );
            return;
        }
    }
    let own_service = own_only && OWN_STAGE_SERVICES.contains(&service);
    // API ids are random, so no name tells another stage's API: execution roles manage none, under
    // any boundary (the groups and the deployment role manage them by their ownership tags).
    if service == "apigateway" && !rules.allowed_actions.contains(&a.to_ascii_lowercase()) {
        errors.push(
            ProblemKind::NotAllowedHere,
            path,
            format!(
                "{at}: Action {a:?} manages API Gateway: API ids are random, so no name keeps it on the stage; execution roles manage no API (a provider may allow it by name in AllowedSensitiveActions)"
            ),
        );
        return;
    }
    if rules.default_boundary
        && !default_boundary_allows(a)
        && !own_service
        && !rules.allowed_actions.contains(&a.to_ascii_lowercase())
    {
        errors.push(
            ProblemKind::NotAllowedHere,
            path,
            format!(
                "{at}: Action {a:?} is not allowed under the default boundary (it allows the data planes Lambda functions use, and every action of its services on the stage's own resources; README: execution roles); a platform that needs it sets PermissionsBoundaryArn and names it in AllowedSensitiveActions"
            ),
        );
    }
}

/// `*`, or a resource as wide, is accepted only for actions AWS cannot scope that are on the
/// provider's short list (or that the provider allows by name).
pub(super) fn check_star(
    at: &str,
    actions: &[String],
    what: &str,
    rules: &StatementRules<'_>,
    refuse: &mut impl FnMut(ProblemKind, String),
) {
    let refused: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| {
            let lower = a.to_ascii_lowercase();
            let listed = STAR_ALLOWED.contains(&lower.as_str()) && is_unscoped_action(a);
            !(listed || rules.allowed_actions.contains(&lower))
        })
        .collect();
    if !refused.is_empty() {
        refuse(ProblemKind::TooWide, format!(
            "{at}: {what} is not allowed for {}: name the resources (only actions AWS cannot scope that are on the provider's list may use \"*\")",
            refused.join(", ")
        ));
    }
}

/// Lambda: every write the catalog lists (code, configuration, concurrency, aliases, URLs,
/// mappings, layers, permissions, code signing, tags, capacity providers…) only on the stage's own
/// functions and layers: never on a mapping, which execution roles never manage.
/// Returns whether it refused.
pub(super) fn check_lambda(
    at: &str,
    actions: &[String],
    r: &str,
    arn: &Arn<'_>,
    rules: &StatementRules<'_>,
    refuse: &mut impl FnMut(ProblemKind, String),
) -> bool {
    let lambda: Vec<String> = actions
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .filter(|a| a.starts_with("lambda:"))
        .collect();
    if lambda.is_empty() {
        return false;
    }
    let writes: Vec<&str> = lambda
        .iter()
        .map(String::as_str)
        .filter(|a| LAMBDA_CODE_WRITES.contains(a) || is_lambda_write(a))
        .collect();
    if writes.is_empty() {
        return false;
    }
    let outside = !own_function_or_layer(arn, rules);
    if outside {
        refuse(ProblemKind::OutsideStage, format!(
            "{at}: {} on {r:?}: a function role may change only its own stage's functions and layers ({}-*)",
            writes.join(", "),
            rules.stage_prefix
        ));
    }
    outside
}
