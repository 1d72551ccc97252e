//! The OIDC sources of `AssumableBy` (CI systems): GitHub Actions, GitLab and a generic issuer,
//! each turned into an exact [`OidcTrust`] (issuer, audience, whole subjects).

use super::{
    branch, digits, exact, is_segment, object, optional, required, OidcTrust, GITHUB_AUDIENCE,
    GITHUB_ISSUER, GITLAB_HOST, MAX_SOURCES,
};
use crate::domain::problem::{field, ProblemKind, Problems};
use crate::domain::properties::values::bounded_list;
use serde_json::Value;
use std::collections::BTreeMap;

/// `GitHubActions: {Repository, Environment | Branch, OwnerId?, RepositoryId?}`.
///
/// Subjects are GitHub's default `sub` (docs.github.com "OpenID Connect reference", example subject
/// claims): `repo:O/R:environment:E` or `repo:O/R:ref:refs/heads/B`, a `:` inside a value encoded
/// `%3A`. Repositories created from 2026-07-15 (or renamed since) carry the immutable form
/// `repo:O@OWNER_ID/R@REPO_ID:…` (github.blog changelog 2026-04-23, "Immutable subject claims"): with
/// both ids given, that form is accepted too, and `repository_id` must match.
pub(super) fn github(body: &Value, at: &str, errors: &mut Problems) -> Option<OidcTrust> {
    let o = object(
        body,
        at,
        &[
            "Repository",
            "Environment",
            "Branch",
            "OwnerId",
            "RepositoryId",
        ],
        errors,
    )?;
    let repo = required(o, "Repository", at, "Repository", errors);
    let owner_id = optional(o, "OwnerId", at, "OwnerId", errors)?;
    let repo_id = optional(o, "RepositoryId", at, "RepositoryId", errors)?;
    if !digits(&owner_id) || !digits(&repo_id) {
        errors.push(
            ProblemKind::Malformed,
            at,
            format!("{at}: OwnerId and RepositoryId are GitHub's numeric ids"),
        );
        return None;
    }
    if owner_id.is_some() && repo_id.is_none() {
        errors.push(ProblemKind::Missing, field(at, "RepositoryId"), format!(
            "{at}: OwnerId needs RepositoryId (the immutable subject repo:OWNER@OWNER_ID/NAME@REPOSITORY_ID names both)"
        ));
        return None;
    }
    let repo = repo?;
    let (owner, name) = match repo.split_once('/') {
        Some((o, n)) if is_segment(o) && is_segment(n) && o.len() <= 39 => (o, n),
        _ => {
            errors.push(
                ProblemKind::Malformed,
                field(at, "Repository"),
                format!("{at}: Repository {repo:?} must be OWNER/NAME"),
            );
            return None;
        }
    };
    let context = match (o.contains_key("Environment"), o.contains_key("Branch")) {
        (true, false) => {
            let env = required(o, "Environment", at, "Environment", errors)?;
            if env.len() > 255 {
                errors.push(
                    ProblemKind::OverLimit,
                    field(at, "Environment"),
                    format!("{at}: Environment is at most 255 characters"),
                );
                return None;
            }
            format!("environment:{}", env.replace(':', "%3A"))
        }
        (false, true) => format!("ref:refs/heads/{}", branch(o, at, errors)?),
        _ => {
            errors.push(ProblemKind::Missing, at, format!(
                "{at}: exactly one of Environment or Branch is required (a subject without either would match every workflow of the repository, pull requests included)"
            ));
            return None;
        }
    };
    let mut subjects = vec![format!("repo:{owner}/{name}:{context}")];
    if let (Some(oid), Some(rid)) = (&owner_id, &repo_id) {
        subjects.push(format!("repo:{owner}@{oid}/{name}@{rid}:{context}"));
    }
    let claims = repo_id
        .map(|rid| [("repository_id".to_string(), rid)].into())
        .unwrap_or_default();
    Some(OidcTrust {
        issuer: GITHUB_ISSUER.into(),
        audience: GITHUB_AUDIENCE.into(),
        subjects,
        claims,
    })
}

/// `GitLab: {Project, Branch, Host?}`: subject `project_path:G/P:ref_type:branch:ref:B`, audience
/// the instance URL (GitLab docs, ci/cloud_services/aws: "Add the identity provider").
pub(super) fn gitlab(body: &Value, at: &str, errors: &mut Problems) -> Option<OidcTrust> {
    let o = object(body, at, &["Project", "Branch", "Host"], errors)?;
    let project = required(o, "Project", at, "Project", errors);
    let host = optional(o, "Host", at, "Host", errors)?.unwrap_or_else(|| GITLAB_HOST.into());
    let branch = branch(o, at, errors);
    let project = project?;
    let segments: Vec<&str> = project.split('/').collect();
    if segments.len() < 2 || !segments.iter().all(|s| is_segment(s)) {
        errors.push(
            ProblemKind::Malformed,
            field(at, "Project"),
            format!("{at}: Project {project:?} must be GROUP[/SUBGROUP…]/PROJECT"),
        );
        return None;
    }
    if !is_host(&host) {
        errors.push(
            ProblemKind::Malformed,
            field(at, "Host"),
            format!("{at}: Host {host:?} must be a host name such as gitlab.com (no scheme)"),
        );
        return None;
    }
    let branch = branch?;
    Some(OidcTrust {
        issuer: format!("https://{host}"),
        audience: format!("https://{host}"),
        subjects: vec![format!(
            "project_path:{project}:ref_type:branch:ref:{branch}"
        )],
        claims: BTreeMap::new(),
    })
}

fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `Oidc: {Issuer, Audience, Subjects}` for other CI systems.
pub(super) fn generic(body: &Value, at: &str, errors: &mut Problems) -> Option<OidcTrust> {
    let o = object(body, at, &["Issuer", "Audience", "Subjects"], errors)?;
    let issuer = required(o, "Issuer", at, "Issuer", errors);
    let audience = required(o, "Audience", at, "Audience", errors);
    let sat = field(at, "Subjects");
    let subjects: Vec<String> = match o.get("Subjects") {
        None => {
            errors.push(ProblemKind::Missing, &sat, format!(
                "{sat} is required: without a subject any token of the issuer for the audience would be trusted"
            ));
            return None;
        }
        Some(v) => bounded_list(
            v,
            &sat,
            "a list of exact subjects",
            "subjects",
            MAX_SOURCES,
            errors,
        )
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let at = format!("{sat}[{i}]");
            match s.as_str().filter(|s| !s.is_empty()) {
                Some(s) if exact(s, &at, "subject", errors) => Some(s.to_string()),
                Some(_) => None,
                None => {
                    errors.push(
                        ProblemKind::WrongType,
                        &at,
                        format!("{at} must be a non-empty string"),
                    );
                    None
                }
            }
        })
        .collect(),
    };
    if subjects.is_empty() {
        errors.push(ProblemKind::Missing, &sat, format!(
            "{sat} is empty: without a subject any token of the issuer for the audience would be trusted"
        ));
        return None;
    }
    for (i, s) in subjects.iter().enumerate() {
        if s.split(':').any(|part| part == "pull_request") {
            errors.push(ProblemKind::TooWide, format!("{sat}[{i}]"), format!(
                "{sat}[{i}]: subject {s:?} matches pull-request runs, which a fork's author can start; name an environment or a branch"
            ));
            return None;
        }
    }
    let (issuer, audience) = (issuer?, audience?);
    let hostpath = issuer.strip_prefix("https://").unwrap_or_default();
    let (host, path) = hostpath.split_once('/').unwrap_or((hostpath, ""));
    let path_ok = !hostpath.ends_with('/')
        && (path.is_empty()
            || path.split('/').all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            }));
    if !issuer.starts_with("https://") || !is_host(host) || !path_ok {
        errors.push(ProblemKind::Malformed, field(at, "Issuer"), format!(
            "{at}: Issuer {issuer:?} must be https://HOST[/PATH] (IAM OIDC providers take https only; no query, no trailing /)"
        ));
        return None;
    }
    Some(OidcTrust {
        issuer,
        audience,
        subjects,
        claims: BTreeMap::new(),
    })
}
