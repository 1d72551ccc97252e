//! PhysicalResourceIds: issued for a resource's service and stage, read back to find what a
//! request names.

use super::checks::{check_service, check_stage};
use super::{short_hash, PHYSICAL_ID_PREFIX};

/// The id answered for a Create whose service or stage is unusable: nothing is created under it,
/// and the Delete that follows recognises it and touches nothing.
pub fn invalid_physical_id(stack_id: &str, logical_id: &str) -> String {
    format!(
        "{PHYSICAL_ID_PREFIX}invalid:{}",
        short_hash(&[stack_id, logical_id], 16)
    )
}

/// What a PhysicalResourceId says about the resource it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhysicalId {
    /// Issued for a valid service and stage.
    Resource {
        /// The service.
        service: String,
        /// The stage.
        stage: String,
        /// The owner hash.
        owner: String,
    },
    /// Issued for a Create that failed validation; nothing exists under it.
    Invalid,
    /// Not issued by this provider (CloudFormation's own, or another's).
    Foreign,
}

impl PhysicalId {
    /// Reads an id. An id is this provider's only when its owner hash matches the stack and logical
    /// id of the request that carries it, so an id from elsewhere can never name this resource's set.
    pub fn parse(id: &str, stack_id: &str, logical_id: &str) -> Self {
        let Some(rest) = id.strip_prefix(PHYSICAL_ID_PREFIX) else {
            return PhysicalId::Foreign;
        };
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.as_slice() {
            ["invalid", h] if *h == short_hash(&[stack_id, logical_id], 16) => PhysicalId::Invalid,
            [service, stage, owner]
                if check_service(service).is_ok()
                    && check_stage(stage).is_ok()
                    && *owner == short_hash(&[stack_id, logical_id, service, stage], 16) =>
            {
                PhysicalId::Resource {
                    service: service.to_string(),
                    stage: stage.to_string(),
                    owner: owner.to_string(),
                }
            }
            _ => PhysicalId::Foreign,
        }
    }
}
