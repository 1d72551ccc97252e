//! The crate-wide error type.
//!
//! AWS failures keep their class ([`AwsErrorKind`]) so callers can tell throttling from a missing
//! entity from invalid input without looking at strings; validation problems are collected so that
//! one answer to CloudFormation lists all of them.

use crate::domain::problem::Problem;
use std::fmt;

/// The problems' sentences, as one.
fn told(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::message)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How an AWS call failed, as far as the provider's decisions are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The entity does not exist (`NoSuchEntity`, `NotFoundException`).
    NotFound,
    /// The entity exists already (`EntityAlreadyExists`).
    AlreadyExists,
    /// The request was throttled (`Throttling`, `ThrottlingException`).
    Throttled,
    /// AWS failed on its side or another writer got there first; worth retrying
    /// (`ServiceFailure`, `ConcurrentModification`, `KMSInternalException`, `DependencyTimeoutException`, HTTP 5xx).
    Transient,
    /// A principal named in a grant is not (yet) known to KMS (`InvalidArnException`): IAM has not
    /// propagated a role created moments ago.
    PrincipalNotPropagated,
    /// The request is invalid and retrying cannot help (`MalformedPolicyDocument`, `InvalidInput`, ...).
    Invalid,
    /// A quota would be exceeded (`LimitExceeded`).
    LimitExceeded,
    /// The entity cannot be deleted yet (`DeleteConflict`).
    Conflict,
    /// Access was denied to the provider itself.
    AccessDenied,
    /// The call did not reach AWS or its answer was unreadable (connection, timeout, dispatch).
    Network,
    /// Anything else.
    Other,
}

impl AwsErrorKind {
    /// Whether a retry with backoff may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            AwsErrorKind::Throttled
                | AwsErrorKind::Transient
                | AwsErrorKind::PrincipalNotPropagated
                | AwsErrorKind::Network
        )
    }
}

impl fmt::Display for AwsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            AwsErrorKind::NotFound => "not found",
            AwsErrorKind::AlreadyExists => "already exists",
            AwsErrorKind::Throttled => "throttled",
            AwsErrorKind::Transient => "transient AWS failure",
            AwsErrorKind::PrincipalNotPropagated => "principal not yet propagated",
            AwsErrorKind::Invalid => "invalid request",
            AwsErrorKind::LimitExceeded => "limit exceeded",
            AwsErrorKind::Conflict => "conflict",
            AwsErrorKind::AccessDenied => "access denied",
            AwsErrorKind::Network => "network error",
            AwsErrorKind::Other => "error",
        };
        f.write_str(s)
    }
}

/// Every failure the provider can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource properties are invalid; every problem found, in order.
    #[error("invalid properties: {}", told(.0))]
    Validation(Vec<Problem>),

    /// The request itself may not be acted on (foreign account, wrong type, untrusted ResponseURL, ...).
    #[error("request refused: {0}")]
    Refused(String),

    /// An AWS call failed.
    #[error("{operation} {entity}: {kind}: {code}: {message}")]
    Aws {
        /// The API operation, e.g. `iam:CreateRole`.
        operation: &'static str,
        /// The entity the call was about (role name, group name, key ARN, ...).
        entity: String,
        /// The failure class.
        kind: AwsErrorKind,
        /// AWS's error code, or a short description when there is none.
        code: String,
        /// AWS's message.
        message: String,
    },

    /// A name the resource needs belongs to something it did not create.
    #[error("{entity_type} {name} already exists and is not owned by this resource ({detail}); rename the service/stage or remove that {entity_type}")]
    NotOwned {
        /// `IAM group`, `IAM role`, `IAM policy`.
        entity_type: &'static str,
        /// The name that is taken.
        name: String,
        /// Where the existing entity lives, for the operator.
        detail: String,
    },

    /// A managed policy of the resource is attached to entities it does not own.
    #[error("{policy} is attached to {entities}, which this resource does not own; detach it there, then retry")]
    AttachedElsewhere {
        /// The policy ARN.
        policy: String,
        /// The entities it is attached to.
        entities: String,
    },

    /// The invocation ran out of time before the work was done.
    #[error("time ran out before the work finished: {0}")]
    Deadline(String),

    /// The configuration in the environment is invalid.
    #[error("invalid provider configuration: {0}")]
    Config(String),

    /// The answer could not be delivered to CloudFormation.
    #[error("response to CloudFormation failed: {0}")]
    Response(String),

    /// A document AWS returned could not be read.
    #[error("unreadable document from AWS for {entity}: {message}")]
    Document {
        /// What the document belongs to.
        entity: String,
        /// The parse problem.
        message: String,
    },
}

impl Error {
    /// The AWS error class, if this is an AWS failure.
    pub fn aws_kind(&self) -> Option<AwsErrorKind> {
        match self {
            Error::Aws { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        self.aws_kind().is_some_and(AwsErrorKind::is_retryable)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
