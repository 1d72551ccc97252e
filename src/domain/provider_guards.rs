//! The provider's own protections that validation enforces, given as values (the configuration
//! layer reads them from the environment): its own function and stack, which no claim may cover;
//! the actions and accounts it allows beyond the defaults; the tag keys stack authors may set.
//! The rule that no two claims may nest is in [`super::claims`].

use super::names::stage_prefix;
use super::problem::{Problem, ProblemKind};
use std::collections::BTreeSet;

/// Settings validation enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// The provider's Lambda function name (`AWS_LAMBDA_FUNCTION_NAME` in Lambda).
    pub provider_function: Option<String>,
    /// The provider's CloudFormation stack name.
    pub provider_stack: Option<String>,
    /// Actions allowed to execution roles by name despite their family or on `*`, lower case.
    pub allowed_actions: BTreeSet<String>,
    /// Accounts besides the stack's whose resources role statements may name.
    pub resource_accounts: Vec<String>,
    /// Tag keys stack authors may set on roles; `None`: any key not reserved.
    pub allowed_tag_keys: Option<BTreeSet<String>>,
    /// The platform gives execution roles its own permissions boundary (the template's
    /// `PermissionsBoundaryArn`): the default boundary's allow-list does not apply, and actions
    /// outside it are not refused for that alone. `false` (the default): they are.
    pub platform_boundary: bool,
}

/// Problems with claiming `{service}-{stage}` given the provider's own names: every group pattern
/// (`function:{prefix}-*`, `stack/{prefix}/*`, `log-group:/aws/lambda/{prefix}-*`) must miss the
/// provider's function, its log group and its stack. Compared ignoring case (a generous reading:
/// some of these names are case-sensitive, none of them may come close).
pub fn check_claim(service: &str, stage: &str, g: &Guardrails) -> Vec<Problem> {
    let claimed = stage_prefix(service, stage);
    let prefix = claimed.to_ascii_lowercase();
    let covers = |name: &str| {
        let name = name.to_ascii_lowercase();
        name == prefix || name.starts_with(&format!("{prefix}-"))
    };
    let mut errors = Vec::new();
    if let Some(f) = g.provider_function.as_deref().filter(|f| covers(f)) {
        errors.push(Problem::new(ProblemKind::ReachesProvider, "ServiceName", format!("ServiceName and Stage make the prefix {claimed}, which covers this provider's own function {f}: choose another service or stage name")));
    }
    if let Some(s) = g.provider_stack.as_deref().filter(|s| covers(s)) {
        errors.push(Problem::new(ProblemKind::ReachesProvider, "ServiceName", format!("ServiceName and Stage make the prefix {claimed}, which covers this provider's own stack {s}: choose another service or stage name")));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::guard;

    #[test]
    fn attack_claiming_the_providers_own_function_and_stack_by_name_is_refused() {
        let e = check_claim("serverless", "access", &guard());
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().all(|p| p.kind == ProblemKind::ReachesProvider));
        assert!(e[0].message().contains("own function") && e[1].message().contains("own stack"));
        assert_eq!(check_claim("Serverless", "ACCESS", &guard()).len(), 2);
        assert!(check_claim("serverless", "accessx", &guard()).is_empty());
        assert!(check_claim("orders", "prod", &guard()).is_empty());
    }
}
