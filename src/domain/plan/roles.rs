//! Planning the resource's roles (execution roles and the deployment role): create with boundary and tags, or converge trust,
//! boundary, tags and policies, removing whatever else was attached (drift repair).

use crate::domain::change::IamChange;
use crate::domain::desired::Desired;
use crate::domain::observed::Observed;
use crate::domain::policies::document::{same, to_text};
use std::collections::BTreeMap;

/// One task per role that needs a change.
pub fn plan(desired: &Desired, observed: &Observed) -> Vec<Vec<IamChange>> {
    let path = &desired.naming.path;
    let mut tasks = Vec::new();
    for r in &desired.roles {
        let mut task = Vec::new();
        match observed.roles.get(&r.name) {
            None => {
                task.push(IamChange::CreateRole {
                    name: r.name.clone(),
                    path: path.clone(),
                    trust: to_text(&r.trust),
                    boundary: r.boundary.clone(),
                    tags: r.tags.clone(),
                    description: r.description.clone(),
                });
                task.push(IamChange::PutRolePolicy {
                    role: r.name.clone(),
                    name: r.policy_name.into(),
                    document: to_text(&r.policy),
                });
            }
            Some(o) => {
                if !same(&o.trust, &r.trust) {
                    task.push(IamChange::UpdateTrust {
                        role: r.name.clone(),
                        document: to_text(&r.trust),
                    });
                }
                match (&r.boundary, &o.boundary) {
                    (Some(want), have) if have.as_ref() != Some(want) => {
                        task.push(IamChange::PutBoundary {
                            role: r.name.clone(),
                            arn: want.clone(),
                        })
                    }
                    (None, Some(_)) => task.push(IamChange::DeleteBoundary {
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
                    task.push(IamChange::UntagRole {
                        role: r.name.clone(),
                        keys: remove,
                    });
                }
                if !add.is_empty() {
                    task.push(IamChange::TagRole {
                        role: r.name.clone(),
                        tags: add,
                    });
                }
                // Role inline policies share one 10,240-character limit: extraneous ones go first.
                for name in o.inline.keys().filter(|n| *n != r.policy_name) {
                    task.push(IamChange::DeleteRolePolicy {
                        role: r.name.clone(),
                        name: name.clone(),
                    });
                }
                if !o
                    .inline
                    .get(r.policy_name)
                    .is_some_and(|have| same(have, &r.policy))
                {
                    task.push(IamChange::PutRolePolicy {
                        role: r.name.clone(),
                        name: r.policy_name.into(),
                        document: to_text(&r.policy),
                    });
                }
                for arn in &o.attached {
                    task.push(IamChange::DetachRolePolicy {
                        role: r.name.clone(),
                        arn: arn.clone(),
                    });
                }
            }
        }
        if !task.is_empty() {
            tasks.push(task);
        }
    }
    tasks
}
