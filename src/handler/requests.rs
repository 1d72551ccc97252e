//! Create, Update and Delete: the request checks made before any work, then the reconcile.

use super::{Provider, RESOURCE_TYPE};
use crate::cfn::request::{self, Request, RequestType};
use crate::cfn::response::{validation_reason, Answer, Status};
use crate::domain::arn::{self, parse_key_arn, StackRef};
use crate::domain::claims::nesting_claim;
use crate::domain::desired::Desired;
use crate::domain::kms_key::check_key;
use crate::domain::names::{self, Naming, PhysicalId};
use crate::domain::policies::stage_role_trust::oidc_provider_arn;
use crate::domain::problem::{Problem, ProblemKind};
use crate::domain::{attributes, properties};
use crate::error::Error;
use crate::ports::{GrantPort, IamPort, Responder};
use crate::reconcile::{Engine, Progress};
use crate::retry::with_backoff;
use serde_json::Value;
use std::collections::BTreeSet;
use tokio::time::Instant;

impl<I: IamPort, G: GrantPort, R: Responder> Provider<I, G, R> {
    pub(super) async fn process(
        &self,
        event: &Value,
        account: &str,
        fallback: String,
        stop_at: Instant,
        progress: &Progress,
    ) -> Answer {
        if let Some(e) = &self.config_error {
            return Answer::failed(
                fallback,
                format!("the provider is misconfigured, nothing was done: {e}"),
            );
        }
        let req = match request::parse(event) {
            Ok(r) => r,
            Err(e) => return Answer::failed(fallback, e),
        };
        let stack = match self.check_request(&req, account) {
            Ok(s) => s,
            Err(e) => return Answer::failed(fallback, e.to_string()),
        };
        let result = match req.request_type {
            RequestType::Create | RequestType::Update => {
                self.create_or_update(&req, &stack, account, stop_at, progress)
                    .await
            }
            RequestType::Delete => self.delete(&req, &stack, account, stop_at, progress).await,
        };
        match result {
            Ok(a) => a,
            Err(e) => Answer::failed(fallback, reason_for(&e, progress)),
        }
    }

    /// The request checks made before any work.
    fn check_request(&self, req: &Request, account: &str) -> Result<StackRef, Error> {
        if req.resource_type != RESOURCE_TYPE {
            return Err(Error::Refused(format!(
                "ResourceType {:?} is not {RESOURCE_TYPE}",
                req.resource_type
            )));
        }
        let stack = arn::parse_stack_id(&req.stack_id).map_err(Error::Refused)?;
        // Entities are created in the provider's account, and every ARN is built from the stack's:
        // they must be the same account. Many accounts are served by one provider each (StackSets).
        if stack.account != account {
            return Err(Error::Refused(format!(
                "stack account {} is not this provider's account {account} (deploy the provider in every account that uses it, e.g. with a StackSet)",
                stack.account
            )));
        }
        if stack.region != self.region {
            return Err(Error::Refused(format!(
                "stack region {} is not this provider's region {}",
                stack.region, self.region
            )));
        }
        Ok(stack)
    }

    fn spec_context<'a>(
        &'a self,
        req: &'a Request,
        stack: &'a StackRef,
        account: &'a str,
    ) -> properties::Context<'a> {
        properties::Context {
            stack_id: &req.stack_id,
            logical_id: &req.logical_resource_id,
            stack,
            iam_path: &self.settings.iam_path,
            enforced_boundary: self.settings.permissions_boundary.as_deref(),
            deployment_boundary: self.settings.deployment_boundary.as_deref(),
            stage_role_boundary: self.settings.stage_role_boundary.as_deref(),
            assumable_by_accounts: &self.settings.assumable_by_accounts,
            allowed_keys: &self.settings.allowed_keys,
            provider_account: account,
            provider_region: &self.region,
            guardrails: &self.settings.guardrails,
        }
    }

    fn engine<'a>(&'a self, stop_at: Instant, progress: &'a Progress) -> Engine<'a, I, G> {
        Engine {
            iam: &self.iam,
            grants: &self.grants,
            concurrency: self.settings.concurrency,
            stop_at,
            progress,
            pacer: &self.pacer,
        }
    }

    async fn create_or_update(
        &self,
        req: &Request,
        stack: &StackRef,
        account: &str,
        stop_at: Instant,
        progress: &Progress,
    ) -> Result<Answer, Error> {
        let spec = properties::parse(&req.properties, &self.spec_context(req, stack, account))
            .map_err(Error::Validation)?;
        let desired = Desired::from_spec(&spec, &req.stack_id, &req.logical_resource_id)
            .map_err(Error::Validation)?;
        let id = spec.naming.physical_id();
        let in_place = req.request_type == RequestType::Update
            && req.physical_resource_id.as_deref() == Some(id.as_str());
        if !in_place {
            // A new claim (Create, or an Update that replaces): it may not nest with a live one.
            let n = &spec.naming;
            let claims = with_backoff(stop_at, || self.iam.claims(&self.settings.iam_path)).await?;
            if let Some(c) = nesting_claim(&n.service, &n.stage, &n.owner, &stack.region, &claims) {
                return Err(Error::Validation(vec![Problem::new(ProblemKind::OutsideStage, "ServiceName", format!(
                    "ServiceName {:?} and Stage {:?} nest with the live claim of ServiceName {:?} and Stage {:?} (resource {}): the names {}-* and {}-* overlap, so each would reach the other's functions, logs and buckets. Choose a service or stage name that is not a prefix of the other",
                    n.service, n.stage, c.service, c.stage,
                    names::physical_id_of(&c.service, &c.stage, &c.owner),
                    names::stage_prefix(&n.service, &n.stage),
                    names::stage_prefix(&c.service, &c.stage),
                ))]));
            }
        }
        self.check_oidc_providers(&spec, &desired, stop_at).await?;
        if let (Some(key), true) = (&spec.kms_key, !desired.grants.is_empty()) {
            let state = with_backoff(stop_at, || self.grants.describe(&key.arn)).await?;
            check_key(&key.arn, &state).map_err(|e| {
                Error::Validation(vec![Problem::new(
                    ProblemKind::Inconsistent,
                    "KmsKeyArn",
                    e,
                )])
            })?;
        }
        let mut keys: BTreeSet<String> = spec.kms_key.iter().map(|k| k.arn.clone()).collect();
        if in_place {
            // In place: grants on the previous key are the resource's too, and must be retired.
            keys.extend(
                req.old_properties
                    .as_ref()
                    .and_then(|o| self.lenient_key(o, account)),
            );
        } else if req.request_type == RequestType::Update {
            tracing::info!(new_physical_resource_id = %id, "ServiceName or Stage changed: replacement; the old set stays until CloudFormation deletes it");
        }
        self.engine(stop_at, progress)
            .converge(&desired, &keys)
            .await?;
        Ok(Answer {
            status: Status::Success,
            reason: None,
            physical_resource_id: id,
            data: attributes::fixed(&desired),
            optional_data: attributes::per_function(&desired),
        })
    }

    async fn delete(
        &self,
        req: &Request,
        stack: &StackRef,
        account: &str,
        stop_at: Instant,
        progress: &Progress,
    ) -> Result<Answer, Error> {
        let id = req.physical_resource_id.clone().unwrap_or_default();
        let done = Answer {
            status: Status::Success,
            reason: None,
            physical_resource_id: id.clone(),
            data: vec![],
            optional_data: vec![],
        };
        let (service, stage) = match PhysicalId::parse(&id, &req.stack_id, &req.logical_resource_id)
        {
            PhysicalId::Resource { service, stage, .. } => (service, stage),
            PhysicalId::Invalid | PhysicalId::Foreign => {
                tracing::info!("the PhysicalResourceId names nothing this provider created for this resource: nothing to delete");
                return Ok(done);
            }
        };
        let naming = Naming::new(
            &self.settings.iam_path,
            &req.stack_id,
            &req.logical_resource_id,
            stack,
            &service,
            &stage,
        );
        let keys: BTreeSet<String> = self
            .lenient_key(&req.properties, account)
            .into_iter()
            .collect();
        self.engine(stop_at, progress)
            .converge(&Desired::nothing(naming), &keys)
            .await?;
        Ok(done)
    }

    /// Every OIDC issuer a stage role of `desired` trusts must have its provider in the account
    /// already: the provider reads it (never creates one: it is account-wide) and refuses the
    /// request naming the issuer and the ARN otherwise, before any write.
    async fn check_oidc_providers(
        &self,
        spec: &properties::Spec,
        desired: &Desired,
        stop_at: Instant,
    ) -> Result<(), Error> {
        let mut arns = BTreeSet::new();
        for r in &desired.roles {
            let Some(kind) = r.stage else { continue };
            for source in spec.assumable_by.get(&kind).into_iter().flatten() {
                if let properties::Trustee::Oidc(t) = source {
                    let arn = oidc_provider_arn(&spec.naming.partition, &spec.naming.account, t);
                    arns.insert((kind, t.issuer.clone(), arn));
                }
            }
        }
        let mut problems = Vec::new();
        for (kind, issuer, arn) in arns {
            if !with_backoff(stop_at, || self.iam.oidc_provider_exists(&arn)).await? {
                problems.push(Problem::new(ProblemKind::Inconsistent, format!("AssumableBy.{}", kind.as_str()), format!(
                    "AssumableBy.{}: this account has no IAM OIDC provider for issuer {issuer} ({arn}); an administrator must create it (the provider never does: it is account-wide)",
                    kind.as_str()
                )));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(problems))
        }
    }

    /// The KmsKeyArn of `props` if it is a key grants may have been made on; otherwise none.
    fn lenient_key(&self, props: &Value, account: &str) -> Option<String> {
        let key = parse_key_arn(props.get("KmsKeyArn")?.as_str()?).ok()?;
        self.settings
            .allowed_keys
            .allows(&key, account, &self.region)
            .then_some(key.arn)
    }
}

/// An actionable Reason for `e`.
fn reason_for(e: &Error, progress: &Progress) -> String {
    match e {
        Error::Validation(problems) => validation_reason(problems),
        Error::Deadline(_) | Error::Aws { .. } => format!("{e} ({})", progress.summary()),
        other => other.to_string(),
    }
}
