//! The `Fn::GetAtt` attributes of a resource, in the order they are offered.
//!
//! Always present (for the groups that exist): `{Admin,Developer,Ci,Invoker}Group{Name,Arn}`;
//! `InvokePolicyArn` while something is marked for invocation; `DeploymentRoleArn` while the
//! deployment role exists (`DeployWith: role` and a group that deploys); `{Admin,Developer,Ci,Invoker}RoleArn`
//! while that kind's stage role exists (`AssumableBy` names it and its group exists); `RoleArnPrefix` (append a role name
//! from the naming scheme to get any role's ARN) and `RolePath`.
//! Then `Roles.<Name>.Arn` per function, in the order of `Functions`, as far as the 4096-byte answer
//! allows; which ones fit depends only on the properties and the stack, never on the request.

use super::desired::Desired;

/// Attributes that are always answered.
pub fn fixed(d: &Desired) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in &d.groups {
        out.push((format!("{}GroupName", g.kind.attribute()), g.name.clone()));
        out.push((
            format!("{}GroupArn", g.kind.attribute()),
            d.naming.group_arn(&g.name),
        ));
    }
    let invoke = d.naming.invoke_policy_name();
    if let Some(p) = d.policies.iter().find(|p| p.name == invoke) {
        out.push(("InvokePolicyArn".into(), p.arn.clone()));
    }
    if let Some(r) = d
        .roles
        .iter()
        .find(|r| r.function.is_none() && r.stage.is_none())
    {
        out.push(("DeploymentRoleArn".into(), r.arn.clone()));
    }
    for r in &d.roles {
        if let Some(kind) = r.stage {
            out.push((format!("{}RoleArn", kind.attribute()), r.arn.clone()));
        }
    }
    out.push(("RoleArnPrefix".into(), d.naming.role_arn_prefix()));
    out.push(("RolePath".into(), d.naming.path.clone()));
    out
}

/// Per-function attributes, answered as far as they fit.
pub fn per_function(d: &Desired) -> Vec<(String, String)> {
    d.roles
        .iter()
        .filter_map(|r| Some((format!("Roles.{}.Arn", r.function.as_ref()?), r.arn.clone())))
        .collect()
}
