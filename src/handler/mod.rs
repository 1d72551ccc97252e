//! One invocation: raw event → checks → reconcile → exactly one answer to CloudFormation.
//! This module is the answer-exactly-once protocol (ResponseURL check, panic catch, deadline, PUT);
//! [`requests`] turns a checked request into Create, Update or Delete work.
//!
//! Every path that has a trusted ResponseURL answers: success, validation failure, AWS failure,
//! a panic inside the work, an event of the wrong shape, and the approach of the deadline.

mod requests;

use crate::cfn::request::{self, Envelope};
use crate::cfn::response::{self, Answer, Echo, Status};
use crate::cfn::response_url;
use crate::config::Settings;
use crate::domain::arn;
use crate::domain::names::{invalid_physical_id, Naming};
use crate::domain::properties;
use crate::pacing::Pacer;
use crate::ports::{GrantPort, IamPort, Responder};
use crate::reconcile::Progress;
use futures_util::FutureExt;
use serde_json::{json, Value};
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
    /// Paces IAM writes across invocations (adaptive to IAM's throttling).
    pub pacer: Pacer,
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
}

/// The id to answer with when the work fails: the id CloudFormation sent (Update, Delete), else
/// the id the properties would get, else the id of an invalid resource (nothing is created under it).
fn fallback_physical_id(event: &Value, envelope: &Envelope, iam_path: &str) -> String {
    if let Some(id) = &envelope.physical_resource_id {
        return id.clone();
    }
    let naming = event
        .get("ResourceProperties")
        .and_then(properties::service_and_stage)
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

#[cfg(test)]
mod tests;
