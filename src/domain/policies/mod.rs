//! The policy documents of one service and stage, built from one [`StageScope`].
//!
//! | file | what it holds |
//! |---|---|
//! | [`scope`] | every ARN, pattern and decision, made once from the validated properties |
//! | [`document`] | statements, documents, IAM's size limits, comparing with what IAM returns |
//! | [`guards`] | Denies and grants several documents share |
//! | [`groups`] | the deploy, deploy-functions, operate and admin documents of the groups |
//! | [`ownership`] | APIs and event source mappings by ownership tags: the deployment role's, and the deploy-owned document (`caller`) |
//! | [`stage_resources`] | what CloudFormation does for the stage's resources |
//! | [`deployment_role`] | the role CloudFormation deploys with |
//! | [`execution_role`] | each function's role |
//! | [`invoke`] | the invoke policy |
//! | [`stage_role_trust`] | the trust policies of the stage roles (`AssumableBy`) |
//!
//! Which kind holds which document is [`crate::domain::principals`]; which variant of a document
//! the deployment mode selects is decided here, in one `match` each.

pub mod deployment_role;
pub mod document;
pub mod execution_role;
pub mod groups;
pub mod guards;
pub mod invoke;
pub mod ownership;
pub mod scope;
pub mod stage_resources;
pub mod stage_role_trust;

pub use scope::StageScope;

use super::principals::{InlineDocument, ManagedDocument};
use super::properties::DeployWith;
use serde_json::Value;

/// The managed document `doc` of the stage, or `None` when the resource does not have it (no
/// group deploys; nothing is marked for invocation).
pub fn managed(scope: &StageScope, doc: ManagedDocument) -> Option<Value> {
    match (doc, scope.mode) {
        (
            ManagedDocument::Deploy
            | ManagedDocument::DeployFunctions
            | ManagedDocument::DeployOwned,
            _,
        ) if !scope.deploys => None,
        (ManagedDocument::Deploy, DeployWith::Role) => Some(groups::deploy_through_role(scope)),
        (ManagedDocument::Deploy, DeployWith::Caller) => Some(groups::deploy_as_caller(scope)),
        (ManagedDocument::DeployFunctions, DeployWith::Role) => {
            Some(groups::deploy_functions_directly(scope))
        }
        (ManagedDocument::DeployFunctions, DeployWith::Caller) => {
            Some(groups::deploy_functions_as_caller(scope))
        }
        // With `role` the deployment role holds the rights on APIs and mappings.
        (ManagedDocument::DeployOwned, DeployWith::Role) => None,
        (ManagedDocument::DeployOwned, DeployWith::Caller) => {
            Some(groups::deploy_owned_as_caller(scope))
        }
        (ManagedDocument::Invoke, _) => scope.invoke.as_ref().map(invoke::invoke_policy),
    }
}

/// Whether the deployment mode uses managed document `doc` at all: deploy-owned exists with
/// `DeployWith: caller` only. A group attaches each document it holds that the mode uses, and
/// exists while every one of those exists.
pub fn used(scope: &StageScope, doc: ManagedDocument) -> bool {
    match (doc, scope.mode) {
        (ManagedDocument::DeployOwned, DeployWith::Role) => false,
        (
            ManagedDocument::Deploy
            | ManagedDocument::DeployFunctions
            | ManagedDocument::DeployOwned
            | ManagedDocument::Invoke,
            _,
        ) => true,
    }
}

/// The inline document `doc` of a group.
pub fn inline(scope: &StageScope, doc: InlineDocument) -> Value {
    match (doc, scope.mode) {
        (InlineDocument::Operate, _) => groups::operate(scope),
        (InlineDocument::Admin, DeployWith::Role) => groups::admin_through_role(scope),
        (InlineDocument::Admin, DeployWith::Caller) => groups::admin_as_caller(scope),
    }
}

/// The deployment role's policy: only when CloudFormation deploys with it and a group deploys.
pub fn deployment_role(scope: &StageScope) -> Option<Value> {
    match scope.mode {
        DeployWith::Role if scope.deploys => Some(deployment_role::deployment_policy(scope)),
        DeployWith::Role | DeployWith::Caller => None,
    }
}
