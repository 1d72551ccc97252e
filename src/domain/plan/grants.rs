//! Planning grants: one per function that asks for KMS operations, named after the role's unique
//! id and the grant's parameters, so a recreated role or changed parameters get a new grant.

use crate::domain::change::{Change, GrantChange, Phase};
use crate::domain::desired::{Desired, DesiredGrant};
use crate::domain::observed::ObservedGrant;
use std::collections::{BTreeMap, BTreeSet};

/// The grant part: create the desired grants that do not exist (by name) and retire the resource's
/// grants that are not desired. `role_ids` maps role names to their current unique ids.
pub fn plan_grants(
    desired: &Desired,
    role_ids: &BTreeMap<String, String>,
    observed: &[ObservedGrant],
) -> (Phase, Phase) {
    let prefix = desired.naming.grant_prefix();
    let wanted: Vec<(&DesiredGrant, String)> = desired
        .grants
        .iter()
        .filter_map(|g| {
            role_ids
                .get(&g.role_name)
                .map(|id| (g, g.name(&prefix, id)))
        })
        .collect();
    let wanted_names: BTreeSet<(&str, &str)> = wanted
        .iter()
        .map(|(g, n)| (g.key_arn.as_str(), n.as_str()))
        .collect();
    let have: BTreeSet<(&str, &str)> = observed
        .iter()
        .map(|o| (o.key_arn.as_str(), o.name.as_str()))
        .collect();
    let create = wanted
        .iter()
        .filter(|(g, n)| !have.contains(&(g.key_arn.as_str(), n.as_str())))
        .map(|(g, n)| {
            vec![Change::Grant(GrantChange::Create {
                key_arn: g.key_arn.clone(),
                grantee: g.role_arn.clone(),
                name: n.clone(),
                operations: g.operations.clone(),
                encryption_context: g.encryption_context.clone(),
            })]
        })
        .collect();
    let mut seen = BTreeSet::new();
    let retire = observed
        .iter()
        .filter(|o| o.name.starts_with(&prefix))
        // Keep one grant per wanted name; retire duplicates (moto, or a race) and everything unwanted.
        .filter(|o| {
            !(wanted_names.contains(&(o.key_arn.as_str(), o.name.as_str()))
                && seen.insert((o.key_arn.as_str(), o.name.as_str())))
        })
        .map(|o| {
            vec![Change::Grant(GrantChange::Retire {
                key_arn: o.key_arn.clone(),
                grant_id: o.grant_id.clone(),
            })]
        })
        .collect();
    (create, retire)
}
