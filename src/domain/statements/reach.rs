//! What a role statement may never reach: deployment artifacts (they run as another stage's roles)
//! and the provider's own resources in any region.

use super::StatementRules;
use crate::domain::arn::Arn;

/// S3 actions that could reach a deployment bucket: Serverless deploys and rolls back from the
/// artifacts there, so writing another stage's artifacts runs code as that stage's roles. Refused:
/// every S3 action on buckets named like deployment buckets (v3's per-stack, v4's shared) and on
/// keys under `serverless/` (where Serverless puts artifacts in a named DeploymentBucket) — the
/// default boundary denies them all; S3 writes on any bucket pattern with a wildcard (it could
/// match one).
pub(super) fn deployment_artifacts(actions: &[String], arn: &Arn<'_>) -> Option<&'static str> {
    if arn.service != "s3" {
        return None;
    }
    let key = arn
        .resource
        .split_once('/')
        .map(|(_, k)| k)
        .unwrap_or_default();
    if key.starts_with("serverless/") {
        return Some("is under serverless/, where Serverless keeps deployment artifacts: roles may not reach them");
    }

    let writes = actions.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a.starts_with("s3:put") || a.starts_with("s3:delete") || a.starts_with("s3:restore")
    });
    let bucket = arn.resource.split('/').next().unwrap_or_default();
    let deployment = bucket.contains("serverlessdeploymentbucket")
        || bucket.starts_with("serverless-framework-deployments");
    match (writes, deployment, bucket.contains(['*', '?'])) {
        (_, true, _) => Some("is a Serverless deployment bucket: roles may not reach deployment artifacts"),
        (true, false, true) => Some("names buckets by a wildcard for S3 writes: it could match another stage's deployment bucket; name the bucket"),
        _ => None,
    }
}

/// Whether `arn` could name one of the provider's own resources (its function with any qualifier,
/// its log group, its failure queue, its stack), in any region: by its function name, or by the
/// provider stack's name prefix that all of them carry.
pub(super) fn reaches_provider(arn: &Arn<'_>, rules: &StatementRules<'_>) -> Option<String> {
    if !(arn.account.is_empty() || arn.account == rules.account || arn.account.contains(['*', '?']))
    {
        return None;
    }
    let rest = match arn.service {
        "lambda" => arn.resource.strip_prefix("function:")?.to_string(),
        "logs" => arn
            .resource
            .strip_prefix("log-group:/aws/lambda/")?
            .to_string(),
        "sqs" => arn.resource.to_string(),
        // `stack/{name}/{id}`: the stack's name, then a separator the name-prefix check expects.
        "cloudformation" => {
            let name = arn.resource.strip_prefix("stack/")?.split('/').next()?;
            if name.contains(['*', '?']) {
                name.to_string()
            } else {
                format!("{name}-")
            }
        }
        _ => return None,
    }
    .to_ascii_lowercase();
    let targets = rules
        .provider_function
        .map(|f| {
            (
                f.to_ascii_lowercase(),
                format!("the provider's function {f}"),
            )
        })
        .into_iter()
        .chain(rules.provider_stack.map(|s| {
            (
                format!("{}-", s.to_ascii_lowercase()),
                format!("the provider's resources ({s}-*)"),
            )
        }));
    for (target, what) in targets {
        let hit = match rest.find(['*', '?']) {
            Some(i) => target.starts_with(&rest[..i]) || rest[..i].starts_with(&target),
            None => rest.starts_with(&target) || target.trim_end_matches('-') == rest,
        };
        if hit {
            return Some(what);
        }
    }
    None
}
