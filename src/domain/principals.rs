//! The principal kinds a resource makes for its stage, and what each one holds.
//!
//! Which documents a kind holds is decided in one exhaustive `match` ([`GroupKind::holds`]): a new
//! kind does not compile until someone decides its documents.

/// A managed policy of the resource: attached to the groups (and roles) of the kinds that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ManagedDocument {
    /// What the Serverless CLI calls to deploy (and, with `DeployWith: caller`, the stack's rights).
    Deploy,
    /// What `deploy function` does directly (with `caller`: the functions' and triggers' rights).
    DeployFunctions,
    /// With `DeployWith: caller`, what CloudFormation does for the stage's APIs and event source
    /// mappings, by their ownership tags (a third policy: two would pass IAM's 6,144 characters
    /// each). Not made with `role`, where the deployment role holds it.
    DeployOwned,
    /// Invoking the functions and API stages marked for it; exists only while something is marked.
    Invoke,
}

impl ManagedDocument {
    /// Every managed document, in the order the resource creates them.
    pub const ALL: [ManagedDocument; 4] = [
        ManagedDocument::Deploy,
        ManagedDocument::DeployFunctions,
        ManagedDocument::DeployOwned,
        ManagedDocument::Invoke,
    ];
}

/// An inline policy of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InlineDocument {
    /// Interactive rights: invoke, read logs, metrics (developer, admin).
    Operate,
    /// Creating and removing the stack and its deployment bucket (admin).
    Admin,
}

impl InlineDocument {
    /// The inline policy's name on the group.
    pub fn name(self) -> &'static str {
        match self {
            InlineDocument::Operate => "operate",
            InlineDocument::Admin => "admin",
        }
    }
}

/// What one principal kind holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holdings {
    /// Managed policies attached, in attachment order.
    pub managed: &'static [ManagedDocument],
    /// Inline policies.
    pub inline: &'static [InlineDocument],
}

impl Holdings {
    /// Whether a principal with these documents deploys the stage.
    pub fn deploys(&self) -> bool {
        self.managed.contains(&ManagedDocument::Deploy)
    }
}

/// Which group a name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKind {
    /// Creates, updates and removes the service's stack for the stage.
    Admin,
    /// Deploys and operates an existing stack.
    Developer,
    /// Deploys from a pipeline.
    Ci,
    /// Only invokes the functions (and APIs) marked for it; never deploys.
    Invoker,
}

impl GroupKind {
    /// All kinds, in attribute order.
    pub const ALL: [GroupKind; 4] = [
        GroupKind::Admin,
        GroupKind::Developer,
        GroupKind::Ci,
        GroupKind::Invoker,
    ];
    /// The groups made when `Groups` is not given: the three that deploy.
    pub const DEFAULT: [GroupKind; 3] = [GroupKind::Admin, GroupKind::Developer, GroupKind::Ci];

    /// The documents this kind holds. One exhaustive `match`: a new kind does not compile until
    /// its documents are chosen here, so no kind gets deploy rights by default.
    pub fn holds(self) -> Holdings {
        use InlineDocument::{Admin, Operate};
        use ManagedDocument::{Deploy, DeployFunctions, DeployOwned, Invoke};
        match self {
            GroupKind::Admin => Holdings {
                managed: &[Deploy, DeployFunctions, DeployOwned],
                inline: &[Operate, Admin],
            },
            GroupKind::Developer => Holdings {
                managed: &[Deploy, DeployFunctions, DeployOwned],
                inline: &[Operate],
            },
            GroupKind::Ci => Holdings {
                managed: &[Deploy, DeployFunctions, DeployOwned],
                inline: &[],
            },
            GroupKind::Invoker => Holdings {
                managed: &[Invoke],
                inline: &[],
            },
        }
    }

    /// The property value and name suffix (`admin`, `developer`, `ci`, `invoker`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Admin => "admin",
            GroupKind::Developer => "developer",
            GroupKind::Ci => "ci",
            GroupKind::Invoker => "invoker",
        }
    }

    /// The attribute prefix (`Admin`, `Developer`, `Ci`, `Invoker`).
    pub fn attribute(self) -> &'static str {
        match self {
            GroupKind::Admin => "Admin",
            GroupKind::Developer => "Developer",
            GroupKind::Ci => "Ci",
            GroupKind::Invoker => "Invoker",
        }
    }

    /// Parses a `Groups` entry.
    pub fn parse(s: &str) -> Option<Self> {
        GroupKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_deploying_kinds_hold_the_deploy_documents_and_the_invoker_only_invokes() {
        for kind in GroupKind::ALL {
            let h = kind.holds();
            assert_eq!(h.deploys(), GroupKind::DEFAULT.contains(&kind), "{kind:?}");
            assert_eq!(
                h.managed.contains(&ManagedDocument::Invoke),
                kind == GroupKind::Invoker,
                "{kind:?}: invoking is held apart from deploying"
            );
        }
        assert_eq!(GroupKind::Invoker.holds().inline, &[] as &[InlineDocument]);
        assert!(GroupKind::Admin
            .holds()
            .inline
            .contains(&InlineDocument::Admin));
        assert!(!GroupKind::Developer
            .holds()
            .inline
            .contains(&InlineDocument::Admin));
        assert!(GroupKind::Ci.holds().inline.is_empty());
    }
}
