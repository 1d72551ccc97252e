//! The CloudFormation custom resource protocol: reading requests, checking where answers may go,
//! and building answers that CloudFormation accepts.

pub mod request;
pub mod response;
pub mod response_url;
