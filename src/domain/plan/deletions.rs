//! Planning deletions: every role, group and policy observed under the resource's path that is
//! no longer desired. Each deletion carries what was observed, so it needs no re-read.

use crate::domain::change::IamChange;
use crate::domain::desired::Desired;
use crate::domain::observed::Observed;
use std::collections::BTreeSet;

/// The roles, groups and policies to delete, in that order (roles and groups before the policy
/// they may have attached).
pub fn plan(desired: &Desired, observed: &Observed) -> [Vec<Vec<IamChange>>; 3] {
    let wanted_roles: BTreeSet<&str> = desired.roles.iter().map(|r| r.name.as_str()).collect();
    let wanted_groups: BTreeSet<&str> = desired.groups.iter().map(|g| g.name.as_str()).collect();
    let wanted_policies: BTreeSet<&str> =
        desired.policies.iter().map(|p| p.name.as_str()).collect();
    let roles: Vec<Vec<IamChange>> = observed
        .roles
        .iter()
        .filter(|(n, _)| !wanted_roles.contains(n.as_str()))
        .map(|(n, r)| {
            vec![IamChange::DeleteRole {
                name: n.clone(),
                inline: r.inline.keys().cloned().collect(),
                attached: r.attached.iter().cloned().collect(),
            }]
        })
        .collect();
    let groups: Vec<Vec<IamChange>> = observed
        .groups
        .iter()
        .filter(|(n, _)| !wanted_groups.contains(n.as_str()))
        .map(|(n, g)| {
            vec![IamChange::DeleteGroup {
                name: n.clone(),
                inline: g.inline.keys().cloned().collect(),
                attached: g.attached.iter().cloned().collect(),
            }]
        })
        .collect();
    let policies: Vec<Vec<IamChange>> = observed
        .policies
        .values()
        .filter(|p| !wanted_policies.contains(p.name.as_str()))
        .map(|p| {
            vec![IamChange::DeletePolicy {
                arn: p.arn.clone(),
                versions: p.other_versions.clone(),
                own_groups: observed.groups.keys().cloned().collect(),
            }]
        })
        .collect();

    [roles, groups, policies]
}
