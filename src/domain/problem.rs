//! What is wrong with a resource's properties: each problem has a kind (what a program branches
//! on), a field path (where, e.g. `Functions[1].Statements[0]`) and the sentence CloudFormation
//! shows as the Reason. Validation collects every problem so that one answer lists all of them.

use std::fmt;

/// The kinds of problem validation finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// A required property is absent or empty.
    Missing,
    /// A value of the wrong type or shape (not a string, list, object or boolean; both a key and
    /// its `Not` form).
    WrongType,
    /// A key the provider does not know.
    UnknownKey,
    /// The same entry twice, or two names IAM treats as one (case).
    Duplicate,
    /// A value outside its format: a name, id, ARN, operator or character IAM, Lambda, S3 or KMS
    /// refuses.
    Malformed,
    /// Over a limit of IAM, Lambda, KMS, S3 or CloudFormation (a length, a size, a count).
    OverLimit,
    /// Refused by this provider's settings (its allowed keys, boundary, accounts, tag keys).
    NotAllowedHere,
    /// A tag key or Sid prefix that IAM or the provider reserves.
    Reserved,
    /// Would reach the provider's own function, log group, queue or stack.
    ReachesProvider,
    /// Would reach names outside the stage: another stage's functions and layers, the deployment
    /// artifacts, another live claim.
    OutsideStage,
    /// An action of a family no function role may hold (identity administration, acting as
    /// another principal, permissions management, account switches).
    SensitiveAction,
    /// Wider than the provider accepts: a wildcard action, `*` or a resource as wide, `NotAction`
    /// or `NotResource` with Allow, a policy variable the caller could choose.
    TooWide,
    /// Values that do not fit together (a key of another region, grants without a key, a key
    /// that takes no grants).
    Inconsistent,
}

/// One problem with the properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// Where: the property path (`ServiceName`, `Functions[1].Statements[0]`, `Tags.team`), or
    /// empty for the properties as a whole.
    pub at: String,
    /// The sentence CloudFormation shows (kept word for word across releases: operators match it).
    message: String,
}

impl Problem {
    /// A problem of `kind` at field path `at`, told by `message`.
    pub fn new(kind: ProblemKind, at: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            at: at.into(),
            message: message.into(),
        }
    }

    /// The sentence CloudFormation shows.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Problems collected during one validation.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, kind: ProblemKind, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(kind, at, message));
    }

    /// Records problems found elsewhere.
    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.0.extend(problems);
    }

    /// How many so far (to tell whether a step added any).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem, in the order found.
    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }

    /// `Ok(value)` when nothing was found, else every problem.
    pub fn or<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// A field path: `parent.key`, or `key` at the top.
pub fn field(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Whether `problems` holds one of `kind` at `at`. For tests and callers that branch on kinds.
pub fn has(problems: &[Problem], kind: ProblemKind, at: &str) -> bool {
    problems.iter().any(|p| p.kind == kind && p.at == at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_displays_exactly_its_reason_sentence() {
        let p = Problem::new(
            ProblemKind::Missing,
            "ServiceName",
            "ServiceName is required",
        );
        assert_eq!(p.to_string(), "ServiceName is required");
        assert_eq!(p.kind, ProblemKind::Missing);
        assert_eq!(p.at, "ServiceName");
    }

    #[test]
    fn problems_are_kept_in_the_order_found_and_ok_only_when_none() {
        let mut ps = Problems::default();
        assert_eq!(Problems::default().or(1), Ok(1));
        ps.push(ProblemKind::UnknownKey, "Foo", "a");
        ps.push(ProblemKind::Duplicate, "Groups", "b");
        let all = ps.or(()).unwrap_err();
        assert_eq!(
            all.iter().map(|p| p.message()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(has(&all, ProblemKind::Duplicate, "Groups"));
        assert!(!has(&all, ProblemKind::Duplicate, "Foo"));
        assert_eq!(field("", "Tags"), "Tags");
        assert_eq!(field("Functions[0]", "Vpc"), "Functions[0].Vpc");
    }
}
