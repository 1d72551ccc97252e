//! What exists now: the groups, roles and managed policies found under a resource's IAM path and
//! the grants whose name carries its owner prefix, as the ports read them.

use super::desired::Desired;
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
    /// `MaxSessionDuration` in seconds (IAM's default 3600 where not read).
    pub max_session: i32,
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
                    inline: r.inline.clone(),
                    attached: r.attached.iter().cloned().collect(),
                    max_session: r.max_session.unwrap_or(3600),
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
