//! Desired state + observed state → the changes that converge them. Pure: no AWS calls.
//!
//! The plan is a list of phases run in order; a phase's tasks are independent and may run
//! concurrently; a task's changes run in order (a role before its policy). Deletions only ever
//! name entities that were observed under the resource's own IAM path, or grants whose name carries
//! the resource's owner prefix: the provider cannot touch what it does not own.

use super::desired::{Desired, DesiredGrant};
use super::names::ROLE_POLICY_NAME;
use super::policy::{same, to_text};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A group found under the resource's path.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedGroup {
    /// Name.
    pub name: String,
    /// Inline policies by name.
    pub inline: BTreeMap<String, Value>,
    /// Attached managed policy ARNs.
    pub attached: BTreeSet<String>,
}

/// A role found under the resource's path.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRole {
    /// Name.
    pub name: String,
    /// Unique id (changes when a role is recreated).
    pub role_id: String,
    /// Trust policy.
    pub trust: Value,
    /// Permissions boundary ARN.
    pub boundary: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Inline policies by name.
    pub inline: BTreeMap<String, Value>,
    /// Attached managed policy ARNs.
    pub attached: BTreeSet<String>,
}

/// A managed policy found under the resource's path.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPolicy {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The default version's id.
    pub default_version: String,
    /// The default version's document.
    pub document: Value,
    /// Ids of the other (non-default) versions, oldest first.
    pub other_versions: Vec<String>,
}

/// A grant on a key whose name carries the resource's owner prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedGrant {
    /// The key.
    pub key_arn: String,
    /// Grant id.
    pub grant_id: String,
    /// Grant name.
    pub name: String,
}

/// What exists now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Groups under the path, by name.
    pub groups: BTreeMap<String, ObservedGroup>,
    /// Roles under the path, by name.
    pub roles: BTreeMap<String, ObservedRole>,
    /// Managed policies under the path, by name.
    pub policies: BTreeMap<String, ObservedPolicy>,
    /// The resource's grants.
    pub grants: Vec<ObservedGrant>,
}

impl Observed {
    /// What IAM and KMS would hold once `d` is applied to nothing, with role ids standing in for
    /// the ones IAM would assign (`role_id(name)`). Used to preview an Update without calling AWS.
    pub fn as_if_applied(d: &Desired, role_id: impl Fn(&str) -> String) -> Self {
        let mut o = Observed::default();
        for p in &d.policies {
            o.policies.insert(
                p.name.clone(),
                ObservedPolicy {
                    name: p.name.clone(),
                    arn: p.arn.clone(),
                    default_version: "v1".into(),
                    document: p.document.clone(),
                    other_versions: vec![],
                },
            );
        }
        for g in &d.groups {
            o.groups.insert(
                g.name.clone(),
                ObservedGroup {
                    name: g.name.clone(),
                    inline: g.inline.clone(),
                    attached: g.attached.iter().cloned().collect(),
                },
            );
        }
        for r in &d.roles {
            o.roles.insert(
                r.name.clone(),
                ObservedRole {
                    name: r.name.clone(),
                    role_id: role_id(&r.name),
                    trust: r.trust.clone(),
                    boundary: r.boundary.clone(),
                    tags: r.tags.clone(),
                    inline: [(ROLE_POLICY_NAME.to_string(), r.policy.clone())].into(),
                    attached: BTreeSet::new(),
                },
            );
        }
        let prefix = d.naming.grant_prefix();
        for g in &d.grants {
            let name = g.name(&prefix, &role_id(&g.role_name));
            // No grant id exists before KMS assigns one: the name stands in for it.
            o.grants.push(ObservedGrant {
                key_arn: g.key_arn.clone(),
                grant_id: name.clone(),
                name,
            });
        }
        o
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `iam:CreatePolicy`.
    CreatePolicy {
        name: String,
        path: String,
        document: String,
    },
    /// `iam:CreatePolicyVersion` (set as default), after deleting `delete_first` to stay within 5 versions.
    CreatePolicyVersion {
        arn: String,
        document: String,
        delete_first: Vec<String>,
    },
    /// `iam:CreateGroup`.
    CreateGroup { name: String, path: String },
    /// `iam:PutGroupPolicy`.
    PutGroupPolicy {
        group: String,
        name: String,
        document: String,
    },
    /// `iam:DeleteGroupPolicy`.
    DeleteGroupPolicy { group: String, name: String },
    /// `iam:AttachGroupPolicy`.
    AttachGroupPolicy { group: String, arn: String },
    /// `iam:DetachGroupPolicy`.
    DetachGroupPolicy { group: String, arn: String },
    /// `iam:CreateRole` with boundary and tags.
    CreateRole {
        name: String,
        path: String,
        trust: String,
        boundary: Option<String>,
        tags: BTreeMap<String, String>,
        description: String,
    },
    /// `iam:UpdateAssumeRolePolicy`.
    UpdateTrust { role: String, document: String },
    /// `iam:PutRolePermissionsBoundary`.
    PutBoundary { role: String, arn: String },
    /// `iam:DeleteRolePermissionsBoundary` (only when the property was removed and none is enforced).
    DeleteBoundary { role: String },
    /// `iam:TagRole`.
    TagRole {
        role: String,
        tags: BTreeMap<String, String>,
    },
    /// `iam:UntagRole`.
    UntagRole { role: String, keys: Vec<String> },
    /// `iam:PutRolePolicy`.
    PutRolePolicy {
        role: String,
        name: String,
        document: String,
    },
    /// `iam:DeleteRolePolicy`.
    DeleteRolePolicy { role: String, name: String },
    /// `iam:DetachRolePolicy`.
    DetachRolePolicy { role: String, arn: String },
    /// Delete a role of the resource: its inline policies, attachments, then the role.
    DeleteRole {
        name: String,
        /// Its inline policies and attached policy ARNs as observed (so no re-read is needed).
        inline: Vec<String>,
        attached: Vec<String>,
    },
    /// Delete a group of the resource: its members (users stay), policies, then the group.
    DeleteGroup {
        name: String,
        /// Its inline policies and attached policy ARNs as observed.
        inline: Vec<String>,
        attached: Vec<String>,
    },
    /// Delete a managed policy of the resource: detach everywhere, old versions, then the policy.
    DeletePolicy {
        arn: String,
        /// Its non-default versions as observed.
        versions: Vec<String>,
    },
    /// `kms:CreateGrant`.
    CreateGrant {
        key_arn: String,
        grantee: String,
        name: String,
        operations: Vec<String>,
        encryption_context: BTreeMap<String, String>,
    },
    /// `kms:RetireGrant`.
    RetireGrant { key_arn: String, grant_id: String },
}

impl Change {
    /// A short description for logs and Reasons.
    pub fn describe(&self) -> String {
        match self {
            Change::CreatePolicy { name, .. } => format!("create policy {name}"),
            Change::CreatePolicyVersion { arn, .. } => format!("update policy {arn}"),
            Change::CreateGroup { name, .. } => format!("create group {name}"),
            Change::PutGroupPolicy { group, name, .. } => {
                format!("put policy {name} on group {group}")
            }
            Change::DeleteGroupPolicy { group, name } => {
                format!("delete policy {name} of group {group}")
            }
            Change::AttachGroupPolicy { group, arn } => format!("attach {arn} to group {group}"),
            Change::DetachGroupPolicy { group, arn } => format!("detach {arn} from group {group}"),
            Change::CreateRole { name, .. } => format!("create role {name}"),
            Change::UpdateTrust { role, .. } => format!("update trust policy of role {role}"),
            Change::PutBoundary { role, .. } => format!("set boundary of role {role}"),
            Change::DeleteBoundary { role } => format!("remove boundary of role {role}"),
            Change::TagRole { role, .. } => format!("tag role {role}"),
            Change::UntagRole { role, .. } => format!("untag role {role}"),
            Change::PutRolePolicy { role, name, .. } => format!("put policy {name} on role {role}"),
            Change::DeleteRolePolicy { role, name } => {
                format!("delete policy {name} of role {role}")
            }
            Change::DetachRolePolicy { role, arn } => format!("detach {arn} from role {role}"),
            Change::DeleteRole { name, .. } => format!("delete role {name}"),
            Change::DeleteGroup { name, .. } => format!("delete group {name}"),
            Change::DeletePolicy { arn, .. } => format!("delete policy {arn}"),
            Change::CreateGrant { name, .. } => format!("create grant {name}"),
            Change::RetireGrant { grant_id, .. } => format!("retire grant {grant_id}"),
        }
    }
}

/// Changes run in order.
pub type Task = Vec<Change>;
/// Independent tasks.
pub type Phase = Vec<Task>;

/// The IAM part of a reconcile: everything but grant creation (which needs the ids of roles this
/// plan may create) and everything but deletions of roles, groups and policies (which wait until
/// the grants on them are retired). Returns the create/update phases and the delete phases.
pub fn plan_iam(desired: &Desired, observed: &Observed) -> (Vec<Phase>, Vec<Phase>) {
    let path = &desired.naming.path;
    let mut policy_phase = Phase::new();
    for p in &desired.policies {
        let text = to_text(&p.document);
        match observed.policies.get(&p.name) {
            None => policy_phase.push(vec![Change::CreatePolicy {
                name: p.name.clone(),
                path: path.clone(),
                document: text,
            }]),
            Some(o) if !same(&o.document, &p.document) => {
                // IAM keeps at most 5 versions: make room for the new one.
                let excess = (o.other_versions.len() + 2).saturating_sub(5);
                let delete_first = o.other_versions.iter().take(excess).cloned().collect();
                policy_phase.push(vec![Change::CreatePolicyVersion {
                    arn: o.arn.clone(),
                    document: text,
                    delete_first,
                }]);
            }
            Some(_) => {}
        }
    }

    let mut group_phase = Phase::new();
    for g in &desired.groups {
        let empty = ObservedGroup {
            name: g.name.clone(),
            inline: BTreeMap::new(),
            attached: BTreeSet::new(),
        };
        let (mut task, o) = match observed.groups.get(&g.name) {
            Some(o) => (Task::new(), o),
            None => (
                vec![Change::CreateGroup {
                    name: g.name.clone(),
                    path: path.clone(),
                }],
                &empty,
            ),
        };
        for (name, doc) in &g.inline {
            if !o.inline.get(name).is_some_and(|have| same(have, doc)) {
                task.push(Change::PutGroupPolicy {
                    group: g.name.clone(),
                    name: name.clone(),
                    document: to_text(doc),
                });
            }
        }
        for name in o.inline.keys().filter(|n| !g.inline.contains_key(*n)) {
            task.push(Change::DeleteGroupPolicy {
                group: g.name.clone(),
                name: name.clone(),
            });
        }
        for arn in g.attached.iter().filter(|a| !o.attached.contains(*a)) {
            task.push(Change::AttachGroupPolicy {
                group: g.name.clone(),
                arn: arn.clone(),
            });
        }
        for arn in o.attached.iter().filter(|a| !g.attached.contains(*a)) {
            task.push(Change::DetachGroupPolicy {
                group: g.name.clone(),
                arn: arn.clone(),
            });
        }
        if !task.is_empty() {
            group_phase.push(task);
        }
    }

    let mut role_phase = Phase::new();
    for r in &desired.roles {
        let mut task = Task::new();
        match observed.roles.get(&r.name) {
            None => {
                task.push(Change::CreateRole {
                    name: r.name.clone(),
                    path: path.clone(),
                    trust: to_text(&r.trust),
                    boundary: r.boundary.clone(),
                    tags: r.tags.clone(),
                    description: r.description.clone(),
                });
                task.push(Change::PutRolePolicy {
                    role: r.name.clone(),
                    name: ROLE_POLICY_NAME.into(),
                    document: to_text(&r.policy),
                });
            }
            Some(o) => {
                if !same(&o.trust, &r.trust) {
                    task.push(Change::UpdateTrust {
                        role: r.name.clone(),
                        document: to_text(&r.trust),
                    });
                }
                match (&r.boundary, &o.boundary) {
                    (Some(want), have) if have.as_ref() != Some(want) => {
                        task.push(Change::PutBoundary {
                            role: r.name.clone(),
                            arn: want.clone(),
                        })
                    }
                    (None, Some(_)) => task.push(Change::DeleteBoundary {
                        role: r.name.clone(),
                    }),
                    _ => {}
                }
                let add: BTreeMap<String, String> = r
                    .tags
                    .iter()
                    .filter(|(k, v)| o.tags.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let remove: Vec<String> = o
                    .tags
                    .keys()
                    .filter(|k| !r.tags.contains_key(*k))
                    .cloned()
                    .collect();
                if !remove.is_empty() {
                    task.push(Change::UntagRole {
                        role: r.name.clone(),
                        keys: remove,
                    });
                }
                if !add.is_empty() {
                    task.push(Change::TagRole {
                        role: r.name.clone(),
                        tags: add,
                    });
                }
                if !o
                    .inline
                    .get(ROLE_POLICY_NAME)
                    .is_some_and(|have| same(have, &r.policy))
                {
                    task.push(Change::PutRolePolicy {
                        role: r.name.clone(),
                        name: ROLE_POLICY_NAME.into(),
                        document: to_text(&r.policy),
                    });
                }
                for name in o.inline.keys().filter(|n| *n != ROLE_POLICY_NAME) {
                    task.push(Change::DeleteRolePolicy {
                        role: r.name.clone(),
                        name: name.clone(),
                    });
                }
                for arn in &o.attached {
                    task.push(Change::DetachRolePolicy {
                        role: r.name.clone(),
                        arn: arn.clone(),
                    });
                }
            }
        }
        if !task.is_empty() {
            role_phase.push(task);
        }
    }

    let wanted_roles: BTreeSet<&str> = desired.roles.iter().map(|r| r.name.as_str()).collect();
    let wanted_groups: BTreeSet<&str> = desired.groups.iter().map(|g| g.name.as_str()).collect();
    let wanted_policies: BTreeSet<&str> =
        desired.policies.iter().map(|p| p.name.as_str()).collect();
    let delete_roles: Phase = observed
        .roles
        .iter()
        .filter(|(n, _)| !wanted_roles.contains(n.as_str()))
        .map(|(n, r)| {
            vec![Change::DeleteRole {
                name: n.clone(),
                inline: r.inline.keys().cloned().collect(),
                attached: r.attached.iter().cloned().collect(),
            }]
        })
        .collect();
    let delete_groups: Phase = observed
        .groups
        .iter()
        .filter(|(n, _)| !wanted_groups.contains(n.as_str()))
        .map(|(n, g)| {
            vec![Change::DeleteGroup {
                name: n.clone(),
                inline: g.inline.keys().cloned().collect(),
                attached: g.attached.iter().cloned().collect(),
            }]
        })
        .collect();
    let delete_policies: Phase = observed
        .policies
        .values()
        .filter(|p| !wanted_policies.contains(p.name.as_str()))
        .map(|p| {
            vec![Change::DeletePolicy {
                arn: p.arn.clone(),
                versions: p.other_versions.clone(),
            }]
        })
        .collect();

    // Roles depend on nothing else, groups on the managed policy they attach: the policy and the
    // roles go first, side by side, then the groups.
    let mut first = policy_phase;
    first.extend(role_phase);
    let apply = [first, group_phase]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    let delete = [delete_roles, delete_groups, delete_policies]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    (apply, delete)
}

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
            vec![Change::CreateGrant {
                key_arn: g.key_arn.clone(),
                grantee: g.role_arn.clone(),
                name: n.clone(),
                operations: g.operations.clone(),
                encryption_context: g.encryption_context.clone(),
            }]
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
            vec![Change::RetireGrant {
                key_arn: o.key_arn.clone(),
                grant_id: o.grant_id.clone(),
            }]
        })
        .collect();
    (create, retire)
}

/// Counts the changes in phases.
pub fn count(phases: &[Phase]) -> usize {
    phases.iter().flatten().map(Vec::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::desired::Desired;
    use crate::domain::spec::tests::{full_props, parse_with, STACK};

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
        assert!(matches!(apply[0][0][0], Change::CreatePolicy { .. }));
        assert!(matches!(apply[0][1][0], Change::CreateRole { .. }));
        assert!(matches!(apply[0][1][1], Change::PutRolePolicy { .. }));
        assert_eq!(apply[1].len(), 3, "three groups");
        assert!(matches!(apply[1][0][0], Change::CreateGroup { .. }));
        assert!(apply[1][0]
            .iter()
            .any(|c| matches!(c, Change::AttachGroupPolicy { .. })));
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
                Change::CreateGrant { key_arn, name, .. } => ObservedGrant {
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
            .any(|c| matches!(c, Change::DetachRolePolicy { .. })));
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::DeleteRolePolicy { name, .. } if name == "backdoor")));
        assert!(changes.iter().any(|c| matches!(c, Change::TagRole { .. })));
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
            vec![vec![Change::RetireGrant {
                key_arn: g.key_arn.clone(),
                grant_id: "old".into()
            }]]
        );
    }
}
