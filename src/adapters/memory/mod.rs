//! In-memory IAM and KMS: the ports kept in maps (the pattern of serverless-rust-demo's memory
//! store). Unit tests drive the engine and the handler with them, with scripted failures, latency
//! and a log of every call; `plan --old` runs the real engine against an IAM seeded with the old
//! properties, so a preview runs exactly the sequence the provider would.

mod kms;

pub use kms::MemoryGrants;

use crate::domain::change::{versions_to_make_room, Change, IamChange};
use crate::domain::claims::{claim_of, merge_claims, Claim};
use crate::domain::observed::{Observed, ObservedGroup, ObservedPolicy, ObservedRole};
use crate::domain::policies::document::{from_iam, same};
use crate::error::{AwsErrorKind, Error, Result};
use crate::ports::{Depth, IamPort};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The changes memory ports applied, in the order they were applied (shared by IAM and KMS).
pub type Journal = Arc<Mutex<Vec<Change>>>;

/// A scripted failure: calls whose description contains `matching` fail with `kind`, `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Substring of the call's description (`create role orders-…`, `observe`, `create grant …`).
    pub matching: String,
    /// How it fails.
    pub kind: AwsErrorKind,
    /// How many times.
    pub times: usize,
}

/// What every memory port shares: the call log, faults, latency and the concurrency it saw.
#[derive(Debug, Default)]
pub struct Calls {
    log: Mutex<Vec<String>>,
    faults: Mutex<Vec<Fault>>,
    latency: Mutex<Duration>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Calls {
    /// Every call so far, in the order they started (failed attempts included).
    pub fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// The most calls that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Adds a scripted failure.
    pub fn fail(&self, matching: &str, kind: AwsErrorKind, times: usize) {
        lock(&self.faults).push(Fault {
            matching: matching.into(),
            kind,
            times,
        });
    }

    /// Makes every call take `d`.
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.latency) = d;
    }

    async fn enter(&self, what: String) -> Result<Guard<'_>> {
        lock(&self.log).push(what.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = Guard(self);
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fault = {
            let mut faults = lock(&self.faults);
            faults
                .iter_mut()
                .find(|f| f.times > 0 && what.contains(&f.matching))
                .map(|f| {
                    f.times -= 1;
                    f.kind
                })
        };
        match fault {
            Some(kind) => Err(Error::Aws {
                operation: "memory",
                entity: what,
                kind,
                code: format!("{kind:?}"),
                message: "scripted failure".into(),
            }),
            None => Ok(guard),
        }
    }
}

struct Guard<'a>(&'a Calls);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(what: &str) -> Error {
    Error::Aws {
        operation: "memory",
        entity: what.into(),
        kind: AwsErrorKind::NotFound,
        code: "NoSuchEntity".into(),
        message: format!("{what} does not exist"),
    }
}

fn doc(text: &str) -> Result<serde_json::Value> {
    from_iam(text).map_err(|message| Error::Document {
        entity: "memory".into(),
        message,
    })
}

fn role<'a>(s: &'a mut IamState, name: &str) -> Result<&'a mut ObservedRole> {
    s.roles
        .get_mut(name)
        .map(|(_, r)| r)
        .ok_or_else(|| not_found(name))
}

fn group<'a>(s: &'a mut IamState, name: &str) -> Result<&'a mut ObservedGroup> {
    s.groups
        .get_mut(name)
        .map(|(_, g)| g)
        .ok_or_else(|| not_found(name))
}

#[derive(Debug, Default)]
struct IamState {
    /// ARNs of the account's OIDC providers.
    oidc_providers: BTreeSet<String>,
    groups: BTreeMap<String, (String, ObservedGroup)>,
    roles: BTreeMap<String, (String, ObservedRole)>,
    policies: BTreeMap<String, (String, ObservedPolicy)>,
    next_id: usize,
}

/// IAM in memory.
#[derive(Debug, Default)]
pub struct MemoryIam {
    state: Mutex<IamState>,
    journal: Journal,
    /// The call log, faults and latency.
    pub calls: Calls,
}

impl MemoryIam {
    /// An IAM that records the changes it applies in `journal`.
    pub fn sharing(journal: Journal) -> Self {
        MemoryIam {
            journal,
            ..MemoryIam::default()
        }
    }

    /// Adds an OIDC provider to the account (as an administrator would; the provider never does).
    pub fn add_oidc_provider(&self, arn: &str) {
        lock(&self.state).oidc_providers.insert(arn.to_string());
    }

    /// Names of the roles, groups and policies that exist, for assertions.
    pub fn names(&self) -> BTreeSet<String> {
        let s = lock(&self.state);
        s.groups
            .keys()
            .chain(s.roles.keys())
            .chain(s.policies.keys())
            .cloned()
            .collect()
    }

    fn write(&self, change: &IamChange) -> Result<Option<String>> {
        let mut s = lock(&self.state);
        match change {
            IamChange::CreatePolicy {
                name,
                path,
                document,
            } => {
                let arn = format!("arn:aws:iam::123456789012:policy{path}{name}");
                s.policies.entry(name.clone()).or_insert((
                    path.clone(),
                    ObservedPolicy {
                        name: name.clone(),
                        arn,
                        default_version: "v1".into(),
                        document: doc(document)?,
                        other_versions: vec![],
                    },
                ));
            }
            IamChange::CreatePolicyVersion { arn, document } => {
                let (_, p) = s
                    .policies
                    .values_mut()
                    .find(|(_, p)| p.arn == *arn)
                    .ok_or_else(|| not_found(arn))?;
                // As the SDK adapter: look before writing (an attempt whose answer was lost may
                // have landed), then make room from the versions there are now.
                let wanted = doc(document)?;
                if same(&p.document, &wanted) {
                    return Ok(None);
                }
                let gone = versions_to_make_room(&p.other_versions).to_vec();
                p.other_versions.retain(|v| !gone.contains(v));
                if p.other_versions.len() + 1 >= 5 {
                    return Err(Error::Aws {
                        operation: "memory",
                        entity: arn.clone(),
                        kind: AwsErrorKind::LimitExceeded,
                        code: "LimitExceeded".into(),
                        message: "a policy has at most 5 versions".into(),
                    });
                }
                let old = std::mem::take(&mut p.default_version);
                p.other_versions.push(old);
                p.default_version = format!("v{}", p.other_versions.len() + 1);
                p.document = wanted;
            }
            IamChange::CreateGroup { name, path } => {
                s.groups.entry(name.clone()).or_insert((
                    path.clone(),
                    ObservedGroup {
                        name: name.clone(),
                        inline: BTreeMap::new(),
                        attached: BTreeSet::new(),
                    },
                ));
            }
            IamChange::PutGroupPolicy {
                group: g,
                name,
                document,
            } => {
                let d = doc(document)?;
                group(&mut s, g)?.inline.insert(name.clone(), d);
            }
            IamChange::DeleteGroupPolicy { group: g, name } => {
                group(&mut s, g)?.inline.remove(name);
            }
            IamChange::AttachGroupPolicy { group: g, arn } => {
                group(&mut s, g)?.attached.insert(arn.clone());
            }
            IamChange::DetachGroupPolicy { group: g, arn } => {
                group(&mut s, g)?.attached.remove(arn);
            }
            IamChange::CreateRole {
                name,
                path,
                trust,
                boundary,
                tags,
                ..
            } => {
                if let Some((_, r)) = s.roles.get(name) {
                    return Ok(Some(r.role_id.clone()));
                }
                s.next_id += 1;
                let id = format!("AROAMEMORY{:06}", s.next_id);
                let trust = doc(trust)?;
                s.roles.insert(
                    name.clone(),
                    (
                        path.clone(),
                        ObservedRole {
                            name: name.clone(),
                            role_id: id.clone(),
                            trust,
                            boundary: boundary.clone(),
                            tags: tags.clone(),
                            inline: BTreeMap::new(),
                            attached: BTreeSet::new(),
                            max_session: 3600,
                        },
                    ),
                );
                return Ok(Some(id));
            }
            IamChange::UpdateTrust { role: r, document } => {
                let d = doc(document)?;
                role(&mut s, r)?.trust = d;
            }
            IamChange::PutBoundary { role: r, arn } => {
                role(&mut s, r)?.boundary = Some(arn.clone())
            }
            IamChange::DeleteBoundary { role: r } => role(&mut s, r)?.boundary = None,
            IamChange::TagRole { role: r, tags } => role(&mut s, r)?.tags.extend(tags.clone()),
            IamChange::UntagRole { role: r, keys } => {
                let role = role(&mut s, r)?;
                for k in keys {
                    role.tags.remove(k);
                }
            }
            IamChange::PutRolePolicy {
                role: r,
                name,
                document,
            } => {
                let d = doc(document)?;
                role(&mut s, r)?.inline.insert(name.clone(), d);
            }
            IamChange::DeleteRolePolicy { role: r, name } => {
                role(&mut s, r)?.inline.remove(name);
            }
            IamChange::DetachRolePolicy { role: r, arn } => {
                role(&mut s, r)?.attached.remove(arn);
            }
            IamChange::AttachRolePolicy { role: r, arn } => {
                if !s.policies.values().any(|(_, p)| p.arn == *arn) {
                    return Err(not_found(arn));
                }
                role(&mut s, r)?.attached.insert(arn.clone());
            }
            IamChange::UpdateRole {
                role: r,
                max_session,
                ..
            } => role(&mut s, r)?.max_session = *max_session,
            IamChange::DeleteRole { name, .. } => {
                s.roles.remove(name);
            }
            IamChange::DeleteGroup { name, .. } => {
                s.groups.remove(name);
            }
            IamChange::DeletePolicy { arn, .. } => s.policies.retain(|_, (_, p)| p.arn != *arn),
        }
        Ok(None)
    }
}

impl IamPort for MemoryIam {
    async fn observe(&self, path: &str, _depth: Depth) -> Result<Observed> {
        let _g = self.calls.enter(format!("observe {path}")).await?;
        let s = lock(&self.state);
        let under = |p: &String| p == path;
        Ok(Observed {
            groups: s
                .groups
                .iter()
                .filter(|(_, (p, _))| under(p))
                .map(|(n, (_, g))| (n.clone(), g.clone()))
                .collect(),
            roles: s
                .roles
                .iter()
                .filter(|(_, (p, _))| under(p))
                .map(|(n, (_, r))| (n.clone(), r.clone()))
                .collect(),
            policies: s
                .policies
                .iter()
                .filter(|(_, (p, _))| under(p))
                .map(|(n, (_, x))| (n.clone(), x.clone()))
                .collect(),
            grants: vec![],
        })
    }

    async fn apply(&self, change: &IamChange) -> Result<Option<String>> {
        let _g = self.calls.enter(change.describe()).await?;
        let out = self.write(change)?;
        lock(&self.journal).push(Change::Iam(change.clone()));
        Ok(out)
    }

    async fn oidc_provider_exists(&self, arn: &str) -> Result<bool> {
        let _g = self.calls.enter(format!("get OIDC provider {arn}")).await?;
        Ok(lock(&self.state).oidc_providers.contains(arn))
    }

    async fn claims(&self, root: &str) -> Result<Vec<Claim>> {
        let _g = self.calls.enter(format!("claims {root}")).await?;
        let s = lock(&self.state);
        let found = s
            .groups
            .iter()
            .map(|(n, (p, _))| (n, p))
            .chain(s.roles.iter().map(|(n, (p, _))| (n, p)))
            .chain(s.policies.iter().map(|(n, (p, _))| (n, p)))
            .filter_map(|(n, p)| claim_of(root, p, n));
        Ok(merge_claims(found))
    }
}

/// A responder that keeps the answers instead of sending them.
#[derive(Debug, Default)]
pub struct MemoryResponder {
    sent: Mutex<Vec<(String, String)>>,
}

impl MemoryResponder {
    /// Every (url, body) sent, in order.
    pub fn sent(&self) -> Vec<(String, String)> {
        lock(&self.sent).clone()
    }
}

impl crate::ports::Responder for MemoryResponder {
    async fn send(&self, url: &str, body: String) -> Result<()> {
        lock(&self.sent).push((url.to_string(), body));
        Ok(())
    }
}
