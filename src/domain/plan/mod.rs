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
    // Groups depend on the managed policies they attach, roles on nothing: the policies go first,
    // then roles and groups side by side, so that under IAM's rate limit no group waits behind
    // every role.
    let mut second = iam_phase(roles::plan(desired, observed));
    second.extend(iam_phase(groups::plan(desired, observed)));
    let apply = [iam_phase(policies::plan(desired, observed)), second]
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
    use crate::domain::fixtures::{full_props, parse_with, STACK};
    use crate::domain::observed::ObservedGrant;
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
    fn create_from_nothing_makes_the_policies_before_the_roles_and_the_groups_that_attach_them() {
        let d = desired();
        let (apply, delete) = plan_iam(&d, &Observed::default());
        assert!(delete.is_empty());
        assert_eq!(apply.len(), 2);
        assert_eq!(apply[0].len(), 2, "the two deploy policies");
        for policy in &apply[0] {
            assert!(matches!(
                policy[0],
                Change::Iam(IamChange::CreatePolicy { .. })
            ));
        }
        assert!(matches!(
            apply[1][0][0],
            Change::Iam(IamChange::CreateRole { .. })
        ));
        assert!(matches!(
            apply[1][0][1],
            Change::Iam(IamChange::PutRolePolicy { .. })
        ));
        let groups: Vec<_> = apply[1]
            .iter()
            .filter(|t| matches!(t[0], Change::Iam(IamChange::CreateGroup { .. })))
            .collect();
        assert_eq!(groups.len(), 3, "three groups, beside the roles");
        assert!(groups[0]
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

    fn changes(apply: &[Phase]) -> Vec<&IamChange> {
        apply
            .iter()
            .flatten()
            .flatten()
            .filter_map(|c| match c {
                Change::Iam(c) => Some(c),
                Change::Grant(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_changed_policy_gets_a_new_version_after_pruning_the_oldest_to_stay_within_five() {
        let d = desired();
        let mut o = converged(&d);
        let p = o.policies.values_mut().next().unwrap();
        p.document = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        p.other_versions = vec!["v1".into(), "v2".into(), "v3".into(), "v4".into()];
        let (apply, _) = plan_iam(&d, &o);
        assert!(
            matches!(
                changes(&apply).as_slice(),
                [IamChange::CreatePolicyVersion { .. }]
            ),
            "{apply:?}"
        );
        let others = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("v{i}")).collect() };
        assert_eq!(
            crate::domain::change::versions_to_make_room(&others(4)),
            ["v1"]
        );
        assert_eq!(
            crate::domain::change::versions_to_make_room(&others(3)),
            [] as [String; 0]
        );
        assert_eq!(
            crate::domain::change::versions_to_make_room(&others(1)),
            [] as [String; 0]
        );
    }

    #[test]
    fn trust_boundary_and_tag_drift_on_a_role_is_put_back() {
        let d = desired();
        let mut o = converged(&d);
        let name = d.roles[0].name.clone();
        let r = o.roles.get_mut(&name).unwrap();
        r.trust = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]});
        r.boundary = None;
        r.tags.insert("stray".into(), "x".into());
        let mut with_boundary = d.clone();
        for role in &mut with_boundary.roles {
            role.boundary = Some("arn:aws:iam::123456789012:policy/b".into());
        }
        let (apply, _) = plan_iam(&with_boundary, &o);
        let c = changes(&apply);
        assert!(c
            .iter()
            .any(|c| matches!(c, IamChange::UpdateTrust { role, .. } if *role == name)));
        assert!(c
            .iter()
            .any(|c| matches!(c, IamChange::PutBoundary { role, .. } if *role == name)));
        assert!(c.iter().any(|c| matches!(c, IamChange::UntagRole { role, keys } if *role == name && keys == &vec!["stray".to_string()])));
        // A boundary nobody asks for any more (none enforced, property removed) is taken off.
        let mut o2 = converged(&d);
        o2.roles.get_mut(&name).unwrap().boundary =
            Some("arn:aws:iam::123456789012:policy/old".into());
        let (apply, _) = plan_iam(&d, &o2);
        assert!(changes(&apply)
            .iter()
            .any(|c| matches!(c, IamChange::DeleteBoundary { role } if *role == name)));
    }

    #[test]
    fn group_attachment_drift_is_repaired_and_extraneous_inline_policies_go_before_new_ones() {
        let d = desired();
        let mut o = converged(&d);
        let g = o
            .groups
            .values_mut()
            .find(|g| g.inline.contains_key("operate"))
            .unwrap();
        let group = g.name.clone();
        g.attached.clear();
        g.attached
            .insert("arn:aws:iam::aws:policy/ReadOnlyAccess".into());
        g.inline.insert("extra".into(), serde_json::json!({}));
        g.inline
            .insert("operate".into(), serde_json::json!({"Statement": []}));
        let (apply, _) = plan_iam(&d, &o);
        let c = changes(&apply);
        let at = |f: &dyn Fn(&IamChange) -> bool| c.iter().position(|x| f(x)).unwrap();
        let delete = at(
            &|x| matches!(x, IamChange::DeleteGroupPolicy { group: g, name } if *g == group && name == "extra"),
        );
        let put = at(
            &|x| matches!(x, IamChange::PutGroupPolicy { group: g, name, .. } if *g == group && name == "operate"),
        );
        assert!(delete < put, "{c:?}");
        at(&|x| matches!(x, IamChange::AttachGroupPolicy { group: g, .. } if *g == group));
        at(
            &|x| matches!(x, IamChange::DetachGroupPolicy { group: g, arn } if *g == group && arn.ends_with("ReadOnlyAccess")),
        );
    }

    #[test]
    fn an_extraneous_role_policy_is_deleted_before_the_execution_policy_is_rewritten() {
        let d = desired();
        let mut o = converged(&d);
        let r = o.roles.values_mut().next().unwrap();
        r.inline.insert("big".into(), serde_json::json!({}));
        r.inline.insert(
            crate::domain::names::ROLE_POLICY_NAME.into(),
            serde_json::json!({}),
        );
        let (apply, _) = plan_iam(&d, &o);
        let c = changes(&apply);
        let delete = c
            .iter()
            .position(|x| matches!(x, IamChange::DeleteRolePolicy { .. }))
            .unwrap();
        let put = c
            .iter()
            .position(|x| matches!(x, IamChange::PutRolePolicy { .. }))
            .unwrap();
        assert!(delete < put, "{c:?}");
    }

    #[test]
    fn duplicate_grants_of_one_name_keep_one_and_retire_the_rest() {
        let d = desired();
        let g = &d.grants[0];
        let ids: BTreeMap<String, String> = [(g.role_name.clone(), "AROA1".to_string())].into();
        let name = g.name(&d.naming.grant_prefix(), "AROA1");
        let dup = |id: &str| ObservedGrant {
            key_arn: g.key_arn.clone(),
            grant_id: id.into(),
            name: name.clone(),
        };
        let (create, retire) = plan_grants(&d, &ids, &[dup("a"), dup("b"), dup("c")]);
        assert!(create.is_empty());
        assert_eq!(retire.len(), 2);
    }

    fn with_ci_role(p: serde_json::Value) -> Desired {
        let mut p = p;
        p["AssumableBy"] = serde_json::json!({"ci": [{"IdentityCenterPermissionSet": "OrdersCi"}]});
        Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap()
    }

    #[test]
    fn a_stage_role_is_created_with_its_groups_policies_attached_after_they_exist() {
        let d = with_ci_role(full_props());
        let name = d
            .naming
            .stage_role_name(crate::domain::principals::GroupKind::Ci);
        let (apply, _) = plan_iam(&d, &Observed::default());
        let role_task = apply[1]
            .iter()
            .find(|t| matches!(&t[0], Change::Iam(IamChange::CreateRole { name: n, .. }) if *n == name))
            .unwrap();
        let attached: Vec<&String> = role_task
            .iter()
            .filter_map(|c| match c {
                Change::Iam(IamChange::AttachRolePolicy { arn, .. }) => Some(arn),
                _ => None,
            })
            .collect();
        let group = d
            .groups
            .iter()
            .find(|g| g.kind == crate::domain::principals::GroupKind::Ci)
            .unwrap();
        assert_eq!(attached, group.attached.iter().collect::<Vec<_>>());
        assert_eq!(plan_iam(&d, &converged(&d)).0.len(), 0, "converged");
    }

    #[test]
    fn stage_role_drift_is_repaired_session_duration_always_sent_whole() {
        let d = with_ci_role(full_props());
        let name = d
            .naming
            .stage_role_name(crate::domain::principals::GroupKind::Ci);
        let mut o = converged(&d);
        let r = o.roles.get_mut(&name).unwrap();
        r.max_session = 43200;
        let kept = r.attached.iter().next().unwrap().clone();
        r.attached.remove(&kept);
        r.attached
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        let (apply, _) = plan_iam(&d, &o);
        let c = changes(&apply);
        assert!(c.iter().any(|c| matches!(c, IamChange::UpdateRole { role, max_session: 3600, description } if *role == name && !description.is_empty())), "{c:?}");
        assert!(c.iter().any(|c| matches!(c, IamChange::AttachRolePolicy { role, arn } if *role == name && *arn == kept)));
        assert!(c.iter().any(|c| matches!(c, IamChange::DetachRolePolicy { role, arn } if *role == name && arn.ends_with("AdministratorAccess"))));
    }

    #[test]
    fn removing_a_kind_deletes_its_role_detaching_first_and_a_trust_change_is_made_in_place() {
        let d = with_ci_role(full_props());
        let name = d
            .naming
            .stage_role_name(crate::domain::principals::GroupKind::Ci);
        let o = converged(&d);
        let mut p = full_props();
        p["AssumableBy"] = serde_json::json!({"ci": [{"IdentityCenterPermissionSet": "OtherSet"}]});
        let d2 = Desired::from_spec(&parse_with(p, None).unwrap(), STACK, "Access").unwrap();
        let (apply, delete) = plan_iam(&d2, &o);
        assert!(delete.is_empty());
        assert!(
            matches!(changes(&apply).as_slice(), [IamChange::UpdateTrust { role, .. }] if *role == name),
            "{apply:?}"
        );
        let d3 =
            Desired::from_spec(&parse_with(full_props(), None).unwrap(), STACK, "Access").unwrap();
        let (_, delete) = plan_iam(&d3, &o);
        let del = changes(&delete);
        assert!(
            matches!(del.as_slice(), [IamChange::DeleteRole { name: n, attached, .. }] if *n == name && attached.len() == 2),
            "{del:?}"
        );
    }
}
