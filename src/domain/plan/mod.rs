//! Desired state + observed state → the changes that converge them. Pure: no AWS calls.
//!
//! The plan is a list of phases run in order; a phase's tasks are independent and may run
//! concurrently; a task's changes run in order (a role before its policy). Each entity kind has its
//! own planner ([`policies`], [`roles`], [`groups`], [`grants`], [`deletions`]). Deletions only ever
//! name entities that were observed under the resource's own IAM path, or grants whose name carries
//! the resource's owner prefix: the provider cannot touch what it does not own.

pub mod deletions;
pub mod grants;
pub mod groups;
pub mod policies;
pub mod roles;

pub use super::change::{count, Change, GrantChange, IamChange, Phase, Task};
pub use super::observed::{Observed, ObservedGrant, ObservedGroup, ObservedPolicy, ObservedRole};
pub use grants::plan_grants;

use super::change::iam_phase;
use super::desired::Desired;

/// The IAM part of a reconcile: everything but grant creation (which needs the ids of roles this
/// plan may create) and everything but deletions of roles, groups and policies (which wait until
/// the grants on them are retired). Returns the create/update phases and the delete phases.
pub fn plan_iam(desired: &Desired, observed: &Observed) -> (Vec<Phase>, Vec<Phase>) {
    // Roles depend on nothing else, groups on the managed policy they attach: the policy and the
    // roles go first, side by side, then the groups.
    let mut first = iam_phase(policies::plan(desired, observed));
    first.extend(iam_phase(roles::plan(desired, observed)));
    let apply = [first, iam_phase(groups::plan(desired, observed))]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    let delete = deletions::plan(desired, observed)
        .into_iter()
        .map(iam_phase)
        .filter(|p| !p.is_empty())
        .collect();
    (apply, delete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::{GrantChange, IamChange};
    use crate::domain::desired::Desired;
    use crate::domain::observed::ObservedGrant;
    use crate::domain::spec::tests::{full_props, parse_with, STACK};
    use std::collections::BTreeMap;

    fn desired() -> Desired {
        Desired::from_spec(&parse_with(full_props(), None).unwrap(), STACK, "Access").unwrap()
    }

    fn converged(d: &Desired) -> Observed {
        let mut o = Observed::as_if_applied(d, |name| format!("AROA{name}"));
        o.grants.clear();
        o
    }

    #[test]
    fn create_from_nothing_makes_the_policy_and_roles_before_the_groups_that_attach_it() {
        let d = desired();
        let (apply, delete) = plan_iam(&d, &Observed::default());
        assert!(delete.is_empty());
        assert_eq!(apply.len(), 2);
        assert!(matches!(
            apply[0][0][0],
            Change::Iam(IamChange::CreatePolicy { .. })
        ));
        assert!(matches!(
            apply[0][1][0],
            Change::Iam(IamChange::CreateRole { .. })
        ));
        assert!(matches!(
            apply[0][1][1],
            Change::Iam(IamChange::PutRolePolicy { .. })
        ));
        assert_eq!(apply[1].len(), 3, "three groups");
        assert!(matches!(
            apply[1][0][0],
            Change::Iam(IamChange::CreateGroup { .. })
        ));
        assert!(apply[1][0]
            .iter()
            .any(|c| matches!(c, Change::Iam(IamChange::AttachGroupPolicy { .. }))));
    }

    #[test]
    fn converged_state_plans_no_change_at_all() {
        let d = desired();
        let o = converged(&d);
        let (apply, delete) = plan_iam(&d, &o);
        assert_eq!(count(&apply) + count(&delete), 0, "{apply:?} {delete:?}");
        let ids: BTreeMap<String, String> = o
            .roles
            .values()
            .map(|r| (r.name.clone(), r.role_id.clone()))
            .collect();
        let (create, _) = plan_grants(&d, &ids, &[]);
        let names: Vec<ObservedGrant> = create
            .iter()
            .flatten()
            .map(|c| match c {
                Change::Grant(GrantChange::Create { key_arn, name, .. }) => ObservedGrant {
                    key_arn: key_arn.clone(),
                    grant_id: "g".into(),
                    name: name.clone(),
                },
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(plan_grants(&d, &ids, &names), (vec![], vec![]));
    }

    #[test]
    fn drift_on_an_owned_role_is_repaired() {
        let d = desired();
        let mut o = converged(&d);
        let role = o.roles.values_mut().next().unwrap();
        role.attached
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        role.inline.insert("backdoor".into(), serde_json::json!({}));
        role.tags.remove("team");
        let (apply, _) = plan_iam(&d, &o);
        let changes: Vec<&Change> = apply.iter().flatten().flatten().collect();
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::Iam(IamChange::DetachRolePolicy { .. }))));
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::Iam(IamChange::DeleteRolePolicy { name, .. }) if name == "backdoor")));
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::Iam(IamChange::TagRole { .. }))));
    }

    #[test]
    fn nothing_desired_deletes_only_what_was_observed() {
        let d = desired();
        let o = converged(&d);
        let (apply, delete) = plan_iam(&Desired::nothing(d.naming.clone()), &o);
        assert!(apply.is_empty());
        assert_eq!(
            count(&delete),
            o.roles.len() + o.groups.len() + o.policies.len()
        );
    }

    #[test]
    fn a_recreated_role_gets_a_new_grant_and_the_old_one_is_retired() {
        let d = desired();
        let g = &d.grants[0];
        let prefix = d.naming.grant_prefix();
        let old = ObservedGrant {
            key_arn: g.key_arn.clone(),
            grant_id: "old".into(),
            name: g.name(&prefix, "AROAOLD"),
        };
        let ids = [(g.role_name.clone(), "AROANEW".to_string())].into();
        let (create, retire) = plan_grants(&d, &ids, &[old]);
        assert_eq!(create.len(), 1);
        assert_eq!(
            retire,
            vec![vec![Change::Grant(GrantChange::Retire {
                key_arn: g.key_arn.clone(),
                grant_id: "old".into()
            })]]
        );
    }
}
