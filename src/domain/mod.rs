//! The pure core: properties → validated spec → desired IAM/KMS state → plan of changes.
//! Nothing in here calls AWS, reads the environment or imports anything outside `domain`:
//! the provider's settings come in as values (see [`spec::Context`]).

pub mod action_rules;
pub mod arn;
#[cfg(test)]
mod attacks;
pub mod attributes;
pub mod change;
pub mod charset;
pub mod deployment_role;
pub mod desired;
pub mod group_policies;
pub mod guardrails;
pub mod invoke_policy;
pub mod names;
pub mod observed;
pub mod plan;
pub mod policy;
pub mod role_policies;
pub mod spec;
pub mod stack_rights;
pub mod statements;
