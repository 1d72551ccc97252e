//! The pure core: properties → validated spec → desired IAM/KMS state → plan of changes.
//! Nothing in here calls AWS, reads the environment or imports anything outside `domain`:
//! the provider's settings come in as values (see [`properties::Context`]).

pub mod action_rules;
pub mod arn;
#[cfg(test)]
mod attacks;
pub mod attributes;
pub mod change;
pub mod charset;
pub mod claims;
pub mod desired;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod kms_key;
pub mod names;
pub mod observed;
pub mod plan;
pub mod policies;
pub mod principals;
pub mod problem;
pub mod properties;
pub mod provider_guards;
pub mod statements;
