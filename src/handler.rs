//! One invocation: raw event → checks → reconcile → exactly one answer to CloudFormation.
//!
//! Every path that has a trusted ResponseURL answers: success, validation failure, AWS failure,
//! a panic inside the work, an event of the wrong shape, and the approach of the deadline.

use crate::cfn::request::{self, Envelope, Request, RequestType};
use crate::cfn::response::{self, Answer, Echo, Status};
use crate::cfn::response_url;
use crate::config::Settings;
use crate::domain::arn::{self, parse_key_arn, StackRef};
use crate::domain::desired::Desired;
use crate::domain::guardrails::{check_key, nesting_claim};
use crate::domain::names::{invalid_physical_id, Naming, PhysicalId};
use crate::domain::{attributes, spec};
use crate::error::Error;
use crate::ports::{GrantPort, IamPort, Responder};
use crate::reconcile::{Engine, Progress};
use crate::retry::with_backoff;
use futures_util::FutureExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// The resource type this provider serves.
pub const RESOURCE_TYPE: &str = "Custom::ServerlessAccess";
/// Time kept back from the Lambda deadline for the answer PUT and its retries.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(10);
/// Before that, no new AWS call starts for this long, so calls in flight finish (the SDK's attempt
/// timeout is 10 s) and nothing lands after the answer, where it could race the rollback Delete.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(10);

/// The provider, wired once per process.
pub struct Provider<I, G, R> {
    /// Settings from the environment.
    pub settings: Settings,
    /// IAM.
    pub iam: I,
    /// KMS grants.
    pub grants: G,
    /// The answer channel.
    pub responder: R,
    /// The provider's own region.
    pub region: String,
    /// Set when the environment's configuration is invalid: every request is answered FAILED with it.
    pub config_error: Option<String>,
}

impl<I: IamPort, G: GrantPort, R: Responder> Provider<I, G, R> {
    /// Handles one event. `account` is the provider's own account (from the invoked function ARN);
    /// `deadline` is the Lambda deadline. The returned value is the Lambda result.
    pub async fn handle(&self, event: Value, account: &str, deadline: Instant) -> Value {
        let envelope = Envelope::salvage(&event);
        let span = tracing::info_span!(
            "request",
            RequestId = %envelope.request_id,
            LogicalResourceId = %envelope.logical_resource_id,
            RequestType = %envelope.request_type
        );
        self.handle_in_span(event, envelope, account, deadline)
            .instrument(span)
            .await
    }

    async fn handle_in_span(
        &self,
        event: Value,
        envelope: Envelope,
        account: &str,
        deadline: Instant,
    ) -> Value {
        tracing::info!(event = %request::redacted(&event), "received");

        let Some(url) = envelope.response_url.clone() else {
            tracing::error!("the event has no ResponseURL: nothing can be answered");
            return json!({"Status": "IGNORED", "Reason": "no ResponseURL"});
        };
        if let Err(why) = response_url::check(&url, self.settings.allow_loopback_response_url) {
            tracing::error!(reason = %why, "refused: untrusted ResponseURL");
            return json!({"Status": "REFUSED", "Reason": why});
        }

        let fallback_id = fallback_physical_id(&event, &envelope, &self.settings.iam_path);
        let progress = Progress::default();
        let hard_stop = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline);
        let soft_stop = hard_stop.checked_sub(IN_FLIGHT_GRACE).unwrap_or(hard_stop);
        let work = AssertUnwindSafe(self.process(
            &event,
            account,
            fallback_id.clone(),
            soft_stop,
            &progress,
        ))
        .catch_unwind();
        let answer = match tokio::time::timeout_at(hard_stop, work).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".into());
                tracing::error!(panic = %what, "the handler panicked");
                Answer::failed(fallback_id, format!("internal error in serverless-access (panic: {what}); {}; retrying the stack operation is safe", progress.summary()))
            }
            Err(_) => {
                tracing::error!(progress = %progress.summary(), "deadline reached");
                Answer::failed(
                    fallback_id,
                    format!("time ran out before the work finished: {}. The rollback Delete removes what was made, and a retry converges; if this repeats, raise the provider's Lambda timeout (and the resource's ServiceTimeout)", progress.summary()),
                )
            }
        };

        let echo = Echo {
            stack_id: &envelope.stack_id,
            request_id: &envelope.request_id,
            logical_resource_id: &envelope.logical_resource_id,
        };
        let body = response::body(echo, &answer);
        let status = if answer.status == Status::Success {
            "SUCCESS"
        } else {
            "FAILED"
        };
        tracing::info!(status, physical_resource_id = %answer.physical_resource_id, reason = answer.reason.as_deref().unwrap_or(""), bytes = body.len(), "answering");
        match self.responder.send(&url, body).await {
            Ok(()) => json!({"Status": status, "PhysicalResourceId": answer.physical_resource_id}),
            Err(e) => {
                tracing::error!(error = %e, "the answer could not be delivered");
                json!({"Status": "UNDELIVERED", "Reason": e.to_string()})
            }
        }
    }

    async fn process(
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
    ) -> spec::Context<'a> {
        spec::Context {
            stack_id: &req.stack_id,
            logical_id: &req.logical_resource_id,
            stack,
            iam_path: &self.settings.iam_path,
            enforced_boundary: self.settings.permissions_boundary.as_deref(),
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
        let spec = spec::parse(&req.properties, &self.spec_context(req, stack, account))
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
                return Err(Error::Validation(vec![format!(
                    "ServiceName {:?} and Stage {:?} nest with the live claim of ServiceName {:?} and Stage {:?} (resource {}): the names {}-{}-* and {}-{}-* overlap, so each would reach the other's functions, logs and buckets. Choose a service or stage name that is not a prefix of the other",
                    n.service, n.stage, c.service, c.stage,
                    format_args!("{}{}:{}:{}", crate::domain::names::PHYSICAL_ID_PREFIX, c.service, c.stage, c.owner),
                    n.service, n.stage, c.service, c.stage
                )]));
            }
        }
        if let (Some(key), true) = (&spec.kms_key, !desired.grants.is_empty()) {
            let state = with_backoff(stop_at, || self.grants.describe(&key.arn)).await?;
            check_key(&key.arn, &state).map_err(|e| Error::Validation(vec![e]))?;
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

    /// The KmsKeyArn of `props` if it is a key grants may have been made on; otherwise none.
    fn lenient_key(&self, props: &Value, account: &str) -> Option<String> {
        let key = parse_key_arn(props.get("KmsKeyArn")?.as_str()?).ok()?;
        self.settings
            .allowed_keys
            .allows(&key, account, &self.region)
            .then_some(key.arn)
    }
}

/// The id to answer with when the work fails: the id CloudFormation sent (Update, Delete), else
/// the id the properties would get, else the id of an invalid resource (nothing is created under it).
fn fallback_physical_id(event: &Value, envelope: &Envelope, iam_path: &str) -> String {
    if let Some(id) = &envelope.physical_resource_id {
        return id.clone();
    }
    let naming = event
        .get("ResourceProperties")
        .and_then(spec::service_and_stage)
        .zip(arn::parse_stack_id(&envelope.stack_id).ok())
        .map(|((service, stage), stack)| {
            Naming::new(
                iam_path,
                &envelope.stack_id,
                &envelope.logical_resource_id,
                &stack,
                &service,
                &stage,
            )
        });
    match naming {
        Some(n) => n.physical_id(),
        None => invalid_physical_id(&envelope.stack_id, &envelope.logical_resource_id),
    }
}

/// The Reason for invalid properties: every problem, counted.
pub fn validation_reason(problems: &[String]) -> String {
    format!(
        "invalid properties ({} problem{}): {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.join("; ")
    )
}

/// An actionable Reason for `e`.
fn reason_for(e: &Error, progress: &Progress) -> String {
    match e {
        Error::Validation(problems) => validation_reason(problems),
        Error::Deadline(_) | Error::Aws { .. } => format!("{e} ({})", progress.summary()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::{GrantChange, IamChange};
    use crate::domain::observed::{Observed, ObservedGrant};
    use crate::error::Result;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// An IAM port whose observation panics, as a bug in the provider would.
    struct PanickingIam;
    impl IamPort for PanickingIam {
        async fn observe(&self, _path: &str, _depth: crate::ports::Depth) -> Result<Observed> {
            panic!("simulated bug")
        }
        async fn apply(&self, _change: &IamChange) -> Result<Option<String>> {
            Ok(None)
        }
        async fn claims(&self, _root: &str) -> Result<Vec<crate::domain::guardrails::Claim>> {
            Ok(vec![])
        }
        async fn role_id(&self, _name: &str) -> Result<String> {
            Ok(String::new())
        }
    }

    struct NoGrants;
    impl GrantPort for NoGrants {
        async fn describe(&self, _key_arn: &str) -> Result<crate::domain::guardrails::KeyState> {
            unreachable!("no key in this test")
        }
        async fn list(&self, _key_arn: &str, _prefix: &str) -> Result<Vec<ObservedGrant>> {
            Ok(vec![])
        }
        async fn apply(&self, _change: &GrantChange) -> Result<()> {
            Ok(())
        }
    }

    /// Accepts one PUT on loopback and hands back its body.
    fn capture_one() -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/answer?X-Amz-Signature=s",
            listener.local_addr().unwrap().port()
        );
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            tx.send(String::from_utf8(body).unwrap()).unwrap();
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_panic_inside_the_work_is_answered_failed() {
        crate::adapters::http::install_crypto_provider();
        let mut settings = Settings::from_lookup(|_| None).unwrap();
        settings.allow_loopback_response_url = true;
        let provider = Provider {
            settings,
            iam: PanickingIam,
            grants: NoGrants,
            responder: crate::adapters::responder::HttpResponder::new().unwrap(),
            region: "us-east-1".into(),
            config_error: None,
        };
        let (url, rx) = capture_one();
        let event = json!({
            "RequestType": "Create", "ResponseURL": url, "RequestId": "r-1", "LogicalResourceId": "Access",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "ResourceType": RESOURCE_TYPE, "ResourceProperties": {"ServiceName": "orders", "Stage": "prod"}
        });
        let result = provider
            .handle(
                event,
                "123456789012",
                Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert_eq!(result["Status"], "FAILED");
        let answer: Value = serde_json::from_str(&rx.recv().unwrap()).unwrap();
        assert_eq!(answer["Status"], "FAILED");
        assert!(answer["Reason"]
            .as_str()
            .unwrap()
            .contains("panic: simulated bug"));
        assert!(answer["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .starts_with("serverless-access:orders:prod:"));
    }
}
