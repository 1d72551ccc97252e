//! serverless-access: the CloudFormation custom resource provider for `Custom::ServerlessAccess`.
//!
//! The crate is laid out as a pure core and its edges:
//! - [`domain`]: properties → validated spec → desired IAM/KMS state → plan of changes. No AWS calls.
//! - [`ports`]: the narrow traits the core needs from the outside world (groups, roles, managed
//!   policies, grants, the CloudFormation responder).
//! - [`adapters`]: AWS SDK and HTTPS implementations of those ports.
//! - [`cfn`]: the custom resource protocol (request salvage, response body, ResponseURL checks).
//! - [`reconcile`]: applies a plan through the ports with bounded concurrency, retries and a deadline.
//! - [`pacing`]: adaptive pacing of IAM writes under IAM's account-wide throttling.
//! - [`handler`]: one invocation from raw event to exactly one CloudFormation answer.
//! - [`cli`]: `serverless-access plan`, the same core without AWS.

pub mod adapters;
pub mod cfn;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod handler;
pub mod pacing;
pub mod ports;
pub mod reconcile;
pub mod retry;

pub use error::{AwsErrorKind, Error};
