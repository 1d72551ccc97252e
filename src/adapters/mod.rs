//! AWS SDK and HTTPS implementations of the [`crate::ports`].

pub mod aws_error;
pub mod http;
pub mod iam;
pub mod kms;
pub mod responder;
