//! Reading resource patterns and condition operators as IAM does.

use crate::domain::arn::Arn;

/// Whether a resource ARN is as wide as `*`: a wildcard in its account or region, or no literal
/// text before its first wildcard once the resource type (`table/`, `secret:`) is set aside.
pub fn is_wildcard_equivalent(arn: &Arn<'_>) -> bool {
    let wild = |s: &str| s.contains(['*', '?']);
    if wild(arn.account) || wild(arn.region) {
        return true;
    }
    let Some(first) = arn.resource.find(['*', '?']) else {
        return false;
    };
    let literal = &arn.resource[..first];
    // S3, SQS, SNS and execute-api resources carry no type: the bucket, queue, topic or API id
    // comes first. Typed resources (`table/`, `secret:`) need literal text after their type.
    if matches!(arn.service, "s3" | "sqs" | "sns" | "execute-api") {
        return literal.is_empty();
    }
    match literal.find(['/', ':']) {
        Some(i) => literal[i + 1..].is_empty(),
        None => true,
    }
}

/// IAM's condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators"),
/// with the `IfExists` suffix and the `ForAllValues:`/`ForAnyValue:` set qualifiers.
pub fn is_condition_operator(op: &str) -> bool {
    const BASE: &[&str] = &[
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ];
    if op == "Null" {
        return true;
    }
    let op = op
        .strip_prefix("ForAllValues:")
        .or_else(|| op.strip_prefix("ForAnyValue:"))
        .unwrap_or(op);
    let op = op.strip_suffix("IfExists").unwrap_or(op);
    BASE.contains(&op)
}

/// Matches an IAM resource pattern (`*` and `?`) against a concrete ARN.
pub fn pattern_matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while let Some(vc) = v.get(vi) {
        let pc = p.get(pi);
        if pc.is_some_and(|c| *c == '?' || c == vc) {
            pi += 1;
            vi += 1;
        } else if pc == Some(&'*') {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}
