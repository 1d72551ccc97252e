//! Planning the resource's managed policies: create, or add a version when the document changed.

use crate::domain::change::IamChange;
use crate::domain::desired::Desired;
use crate::domain::observed::Observed;
use crate::domain::policies::document::{same, to_text};

/// One task per managed policy that must be created or updated.
pub fn plan(desired: &Desired, observed: &Observed) -> Vec<Vec<IamChange>> {
    let path = &desired.naming.path;
    let mut tasks = Vec::new();
    for p in &desired.policies {
        let text = to_text(&p.document);
        match observed.policies.get(&p.name) {
            None => tasks.push(vec![IamChange::CreatePolicy {
                name: p.name.clone(),
                path: path.clone(),
                document: text,
            }]),
            Some(o) if !same(&o.document, &p.document) => {
                tasks.push(vec![IamChange::CreatePolicyVersion {
                    arn: o.arn.clone(),
                    document: text,
                }]);
            }
            Some(_) => {}
        }
    }
    tasks
}
