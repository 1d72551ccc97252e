//! SDK errors → [`crate::Error::Aws`], keeping the failure class.

use crate::error::{AwsErrorKind, Error};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Classifies an AWS error code (and HTTP status when there is no code).
pub fn classify(code: Option<&str>, status: Option<u16>) -> AwsErrorKind {
    match code {
        Some("NoSuchEntity" | "NotFoundException" | "NoSuchEntityException") => {
            AwsErrorKind::NotFound
        }
        Some("EntityAlreadyExists") => AwsErrorKind::AlreadyExists,
        Some(
            "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) => AwsErrorKind::Throttled,
        Some(
            "ServiceFailure"
            | "ServiceFailureException"
            | "ConcurrentModification"
            | "ConcurrentModificationException"
            | "KMSInternalException"
            | "DependencyTimeoutException"
            | "InternalFailure"
            | "ServiceUnavailable",
        ) => AwsErrorKind::Transient,
        Some(
            "MalformedPolicyDocument"
            | "InvalidArnException"
            | "InvalidInput"
            | "ValidationError"
            | "ValidationException"
            | "InvalidGrantTokenException"
            | "UnmodifiableEntity"
            | "PolicyNotAttachable",
        ) => AwsErrorKind::Invalid,
        Some("LimitExceeded" | "LimitExceededException") => AwsErrorKind::LimitExceeded,
        Some("DeleteConflict") => AwsErrorKind::Conflict,
        Some("AccessDenied" | "AccessDeniedException" | "NotAuthorized") => {
            AwsErrorKind::AccessDenied
        }
        _ if status.is_some_and(|s| s >= 500) => AwsErrorKind::Transient,
        _ if status == Some(429) => AwsErrorKind::Throttled,
        _ => AwsErrorKind::Other,
    }
}

/// Converts an SDK error of `operation` on `entity`.
pub fn from_sdk<E>(operation: &'static str, entity: &str, err: SdkError<E, Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (kind, code, message) = match &err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let kind = classify(e.code(), status);
            (
                kind,
                e.code().unwrap_or("").to_string(),
                e.message().unwrap_or("").to_string(),
            )
        }
        SdkError::TimeoutError(_) => (
            AwsErrorKind::Network,
            "Timeout".into(),
            "the call timed out".into(),
        ),
        SdkError::DispatchFailure(d) => (
            AwsErrorKind::Network,
            "DispatchFailure".into(),
            format!("{d:?}").chars().take(300).collect(),
        ),
        SdkError::ResponseError(_) => {
            let kind = if status.is_some_and(|s| s >= 500) {
                AwsErrorKind::Transient
            } else {
                AwsErrorKind::Network
            };
            (
                kind,
                format!("HTTP {}", status.unwrap_or(0)),
                "unreadable response".into(),
            )
        }
        _ => (AwsErrorKind::Other, "Error".into(), err.to_string()),
    };
    let code = if code.is_empty() {
        format!("HTTP {}", status.unwrap_or(0))
    } else {
        code
    };
    Error::Aws {
        operation,
        entity: entity.to_string(),
        kind,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_distinguishable_kinds() {
        assert_eq!(
            classify(Some("Throttling"), Some(400)),
            AwsErrorKind::Throttled
        );
        assert_eq!(
            classify(Some("NoSuchEntity"), Some(404)),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            classify(Some("MalformedPolicyDocument"), Some(400)),
            AwsErrorKind::Invalid
        );
        assert_eq!(
            classify(Some("LimitExceeded"), Some(409)),
            AwsErrorKind::LimitExceeded
        );
        assert_eq!(classify(None, Some(500)), AwsErrorKind::Transient);
        assert_eq!(
            classify(Some("InvalidArnException"), Some(400)),
            AwsErrorKind::Invalid
        );
        assert!(!AwsErrorKind::Invalid.is_retryable() && AwsErrorKind::Throttled.is_retryable());
    }
}
