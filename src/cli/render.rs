//! How `plan` prints: the documents a Create would make, and an Update's changes.

use crate::domain::attributes;
use crate::domain::change::{Change, GrantChange, IamChange};
use crate::domain::desired::Desired;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// Indented JSON.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `s` with every line indented by `by`.
pub fn indent(s: &str, by: &str) -> String {
    s.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// Everything a Create would make, as JSON.
/// A Create as JSON.
pub fn create_json(d: &Desired) -> Value {
    let prefix = d.naming.grant_prefix();
    json!({
        "physicalResourceId": d.naming.physical_id(),
        "path": d.naming.path,
        "managedPolicies": d.policies.iter().map(|p| json!({"name": p.name, "arn": p.arn, "document": p.document})).collect::<Vec<_>>(),
        "groups": d.groups.iter().map(|g| json!({
            "name": g.name, "arn": d.naming.group_arn(&g.name), "attached": g.attached, "inline": g.inline
        })).collect::<Vec<_>>(),
        "roles": d.roles.iter().map(|r| {
            let mut role = json!({
                "kind": match (&r.function, r.stage) { (Some(_), _) => "execution", (None, None) => "deployment", (None, Some(_)) => "stage" },
                "function": r.function, "functionName": r.function.as_ref().map(|f| d.naming.function_name(f)), "name": r.name, "arn": r.arn,
                "permissionsBoundary": r.boundary, "tags": r.tags, "trustPolicy": r.trust,
                "inline": r.inline
            });
            if let (Some(kind), Some(m)) = (r.stage, role.as_object_mut()) {
                m.insert("holdsDocumentsOf".into(), json!(kind.as_str()));
                m.insert("attached".into(), json!(r.attached));
                m.insert("maxSessionDuration".into(), json!(r.max_session));
            }
            role
        }).collect::<Vec<_>>(),
        "grants": d.grants.iter().map(|g| json!({
            "function": g.function, "keyArn": g.key_arn, "grantee": g.role_arn, "operations": g.operations,
            "encryptionContextSubset": g.encryption_context,
            "name": format!("{prefix}{}/<12 hex of key, grantee, the role's unique id, operations, context>", g.function)
        })).collect::<Vec<_>>(),
        "attributes": attributes::fixed(d).into_iter().chain(attributes::per_function(d)).map(|(k, v)| (k, Value::String(v))).collect::<Map<String, Value>>(),
    })
}

/// A Create as text.
pub fn create_text(d: &Desired) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "PhysicalResourceId {}\nIAM path {}\n",
        d.naming.physical_id(),
        d.naming.path
    );
    for p in &d.policies {
        let _ = writeln!(
            out,
            "managed policy {} ({})\n{}",
            p.name,
            p.arn,
            indent(&pretty(&p.document), "    ")
        );
    }
    for g in &d.groups {
        let _ = writeln!(
            out,
            "group {} ({})\n  attached: {}",
            g.name,
            d.naming.group_arn(&g.name),
            g.attached.join(", ")
        );
        for (name, doc) in &g.inline {
            let _ = writeln!(
                out,
                "  inline policy {name}:\n{}",
                indent(&pretty(doc), "    ")
            );
        }
        out.push('\n');
    }
    for r in &d.roles {
        let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let what = match (&r.function, r.stage) {
            (Some(f), _) => format!("execution role of function {}", d.naming.function_name(f)),
            (None, None) => "deployment role (CloudFormation deploys the stack with it)".to_string(),
            (None, Some(kind)) => format!(
                "stage role holding exactly the {} group's documents (maximum session {} s)\n  attached: {}",
                kind.as_str(),
                r.max_session.unwrap_or(3600),
                r.attached.join(", ")
            ),
        };
        let _ = write!(
            out,
            "role {} ({})\n  {}\n  permissions boundary: {}\n  tags: {}\n  trust policy:\n{}",
            r.name,
            r.arn,
            what,
            r.boundary.as_deref().unwrap_or("none"),
            tags.join(", "),
            indent(&pretty(&r.trust), "    "),
        );
        for (name, doc) in &r.inline {
            let _ = write!(
                out,
                "  inline policy {name}:\n{}",
                indent(&pretty(doc), "    ")
            );
        }
        out.push('\n');
    }
    for g in &d.grants {
        let ctx: Vec<String> = g
            .encryption_context
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "KMS grant for function {} on {}\n  grantee: {}\n  operations: {}\n  encryption context subset: {}\n  retiring principal: the provider's role\n",
            g.function,
            g.key_arn,
            g.role_arn,
            g.operations.join(", "),
            if ctx.is_empty() { "none".into() } else { ctx.join(", ") }
        );
    }
    let _ = writeln!(out, "attributes (Fn::GetAtt):");
    for (k, v) in attributes::fixed(d)
        .into_iter()
        .chain(attributes::per_function(d))
    {
        let _ = writeln!(out, "  {k} = {v}");
    }
    out
}

/// `+` adds, `~` changes, `-` removes.
pub fn sign(c: &Change) -> &'static str {
    match c {
        Change::Iam(IamChange::CreatePolicy { .. })
        | Change::Iam(IamChange::CreateGroup { .. })
        | Change::Iam(IamChange::AttachGroupPolicy { .. })
        | Change::Iam(IamChange::AttachRolePolicy { .. })
        | Change::Iam(IamChange::CreateRole { .. })
        | Change::Iam(IamChange::TagRole { .. })
        | Change::Grant(GrantChange::Create { .. }) => "+",
        Change::Iam(IamChange::CreatePolicyVersion { .. })
        | Change::Iam(IamChange::PutGroupPolicy { .. })
        | Change::Iam(IamChange::UpdateTrust { .. })
        | Change::Iam(IamChange::PutBoundary { .. })
        | Change::Iam(IamChange::UpdateRole { .. })
        | Change::Iam(IamChange::PutRolePolicy { .. }) => "~",
        _ => "-",
    }
}

/// The document a change writes, if any.
pub fn document_of(c: &Change) -> Option<Value> {
    match c {
        Change::Iam(IamChange::CreatePolicy { document, .. })
        | Change::Iam(IamChange::CreatePolicyVersion { document, .. })
        | Change::Iam(IamChange::PutGroupPolicy { document, .. })
        | Change::Iam(IamChange::UpdateTrust { document, .. })
        | Change::Iam(IamChange::PutRolePolicy { document, .. }) => {
            serde_json::from_str(document).ok()
        }
        _ => None,
    }
}
