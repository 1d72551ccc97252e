//! Planning the resource's groups: create, converge inline policies and attachments (drift repair).

use crate::domain::change::IamChange;
use crate::domain::desired::Desired;
use crate::domain::observed::{Observed, ObservedGroup};
use crate::domain::policies::document::{same, to_text};
use std::collections::{BTreeMap, BTreeSet};

/// One task per group that needs a change.
pub fn plan(desired: &Desired, observed: &Observed) -> Vec<Vec<IamChange>> {
    let path = &desired.naming.path;
    let mut tasks = Vec::new();
    for g in &desired.groups {
        let empty = ObservedGroup {
            name: g.name.clone(),
            inline: BTreeMap::new(),
            attached: BTreeSet::new(),
        };
        let (mut task, o) = match observed.groups.get(&g.name) {
            Some(o) => (Vec::new(), o),
            None => (
                vec![IamChange::CreateGroup {
                    name: g.name.clone(),
                    path: path.clone(),
                }],
                &empty,
            ),
        };
        // Inline policies count against one limit per group (5,120 characters summed): remove
        // what is extraneous before writing, so a repair never exceeds it on the way.
        for name in o.inline.keys().filter(|n| !g.inline.contains_key(*n)) {
            task.push(IamChange::DeleteGroupPolicy {
                group: g.name.clone(),
                name: name.clone(),
            });
        }
        for (name, doc) in &g.inline {
            if !o.inline.get(name).is_some_and(|have| same(have, doc)) {
                task.push(IamChange::PutGroupPolicy {
                    group: g.name.clone(),
                    name: name.clone(),
                    document: to_text(doc),
                });
            }
        }
        for arn in g.attached.iter().filter(|a| !o.attached.contains(*a)) {
            task.push(IamChange::AttachGroupPolicy {
                group: g.name.clone(),
                arn: arn.clone(),
            });
        }
        for arn in o.attached.iter().filter(|a| !g.attached.contains(*a)) {
            task.push(IamChange::DetachGroupPolicy {
                group: g.name.clone(),
                arn: arn.clone(),
            });
        }
        if !task.is_empty() {
            tasks.push(task);
        }
    }
    tasks
}
