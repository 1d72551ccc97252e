//! AWS SDK and HTTPS implementations of the [`crate::ports`], and in-memory ones ([`memory`]).

pub mod aws_error;
pub mod http;
pub mod iam;
pub mod kms;
pub mod memory;
pub mod responder;
