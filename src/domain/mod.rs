//! The pure core: properties → validated spec → desired IAM/KMS state → plan of changes.
//! Nothing in here calls AWS.

pub mod arn;
pub mod attributes;
pub mod change;
pub mod desired;
pub mod group_policies;
pub mod names;
pub mod observed;
pub mod plan;
pub mod policy;
pub mod role_policies;
pub mod spec;
pub mod statements;
