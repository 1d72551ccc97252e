//! Planning the resource's roles (execution roles, the deployment role, the stage roles): create with
//! boundary and tags, or converge trust, session duration, boundary, tags, inline and attached policies,
//! removing whatever else was attached (drift repair).

use crate::domain::change::IamChange;
use crate::domain::desired::Desired;
use crate::domain::observed::Observed;
use crate::domain::policies::document::{same, to_text};
use std::collections::BTreeMap;

/// The `MaxSessionDuration` IAM gives a role created without one (CreateRole).
const DEFAULT_MAX_SESSION: i32 = 3600;

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
                if let Some(max) = r.max_session {
                    if max != DEFAULT_MAX_SESSION {
                        task.push(IamChange::UpdateRole {
                            role: r.name.clone(),
                            max_session: max,
                            description: r.description.clone(),
                        });
                    }
                }
                for (name, doc) in &r.inline {
                    task.push(IamChange::PutRolePolicy {
                        role: r.name.clone(),
                        name: name.clone(),
                        document: to_text(doc),
                    });
                }
                for arn in &r.attached {
                    task.push(IamChange::AttachRolePolicy {
                        role: r.name.clone(),
                        arn: arn.clone(),
                    });
                }
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
                if let Some(max) = r.max_session {
                    if o.max_session != max {
                        task.push(IamChange::UpdateRole {
                            role: r.name.clone(),
                            max_session: max,
                            description: r.description.clone(),
                        });
                    }
                }
                // Role inline policies share one 10,240-character limit: extraneous ones go first.
                for name in o.inline.keys().filter(|n| !r.inline.contains_key(*n)) {
                    task.push(IamChange::DeleteRolePolicy {
                        role: r.name.clone(),
                        name: name.clone(),
                    });
                }
                for (name, doc) in &r.inline {
                    if !o.inline.get(name).is_some_and(|have| same(have, doc)) {
                        task.push(IamChange::PutRolePolicy {
                            role: r.name.clone(),
                            name: name.clone(),
                            document: to_text(doc),
                        });
                    }
                }
                // Detach first: IAM counts attachments per role against a quota.
                for arn in o.attached.iter().filter(|a| !r.attached.contains(a)) {
                    task.push(IamChange::DetachRolePolicy {
                        role: r.name.clone(),
                        arn: arn.clone(),
                    });
                }
                for arn in r.attached.iter().filter(|a| !o.attached.contains(*a)) {
                    task.push(IamChange::AttachRolePolicy {
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
