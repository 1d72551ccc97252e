//! Naming rules: every name and path the provider creates, derived deterministically.
//!
//! | entity | name |
//! |---|---|
//! | group | `{service}-{stage}-{region}-{admin,developer,ci}` |
//! | deploy managed policy | `{service}-{stage}-{region}-deploy` |
//! | execution role | `{service}-{stage}-{region}-{function}`; over 64 characters: the first 53, `-`, 10 hex of its SHA-256 |
//! | IAM path of all of them | `{IamPath}{service}/{stage}/{owner}/` |
//! | KMS grant | `serverless-access/{owner}/{function}/{12 hex of the grant's parameters}` |
//! | PhysicalResourceId | `serverless-access:{service}:{stage}:{owner}` |
//!
//! `owner` is 16 hex digits of SHA-256 over the stack id, logical id, service and stage: it ties
//! every entity to one resource of one stack, so the provider recognises what it owns (IAM groups
//! cannot be tagged; the path can be listed) and a replacement (new service or stage) lives apart
//! from the set it replaces.

use sha2::{Digest, Sha256};

/// Role names: IAM's limit.
pub const ROLE_NAME_MAX: usize = 64;
/// Group and policy names: IAM's limit.
pub const GROUP_NAME_MAX: usize = 128;
/// IAM paths: IAM's limit.
pub const PATH_MAX: usize = 512;
/// Prefix of every PhysicalResourceId this provider issues.
pub const PHYSICAL_ID_PREFIX: &str = "serverless-access:";
/// Name suffix of deployment roles (see [`Naming::deployment_role_name`]).
pub const DEPLOYMENT_ROLE_SUFFIX: &str = ".deploy";
/// Name of the deployment role's inline policy.
pub const DEPLOYMENT_POLICY_NAME: &str = "deployment";
/// Name of the inline policy on each execution role.
pub const ROLE_POLICY_NAME: &str = "execution";
/// Prefix of grant names.
pub const GRANT_NAME_PREFIX: &str = "serverless-access/";

/// Hex of SHA-256 over `parts` joined by newlines, cut to `len` digits.
pub fn short_hash(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.truncate(len);
    hex
}

pub use super::charset::is_iam_name_byte;

/// Checks the provider's IAM path: 1–512 characters, `/` then one or more segments of
/// `[A-Za-z0-9.,+@=_-]` each followed by `/`. The root path `/`, or one with `*` or `?`, would
/// give the provider's role rights over all of IAM (its policy scopes every write to
/// `…{path}*`), so they are refused.
pub fn check_iam_path(p: &str) -> Result<(), String> {
    let segments: Vec<&str> = p
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix('/'))
        .map(|r| r.split('/').collect())
        .unwrap_or_default();
    let ok = p.len() <= PATH_MAX
        && !segments.is_empty()
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(super::charset::is_path_segment_byte));
    if ok {
        Ok(())
    } else {
        Err(format!("IAM path {p:?} must be at most {PATH_MAX} characters: '/' then one or more segments of letters, digits and . , + @ = _ - each ending in '/' (not '/' alone, no '*' or '?')"))
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

    /// Whether the group deploys (holds the deploy policy).
    pub fn deploys(self) -> bool {
        self != GroupKind::Invoker
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

/// The names and path of one resource's entities; everything derives from these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Serverless service name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// The stack's region.
    pub region: String,
    /// The stack's account.
    pub account: String,
    /// The stack's partition.
    pub partition: String,
    /// 16 hex digits that identify the owning resource.
    pub owner: String,
    /// The path every entity lives under.
    pub path: String,
}

impl Naming {
    /// Derives the naming for a resource.
    pub fn new(
        iam_path: &str,
        stack_id: &str,
        logical_id: &str,
        stack: &super::arn::StackRef,
        service: &str,
        stage: &str,
    ) -> Self {
        let owner = short_hash(&[stack_id, logical_id, service, stage], 16);
        Naming {
            service: service.to_string(),
            stage: stage.to_string(),
            region: stack.region.clone(),
            account: stack.account.clone(),
            partition: stack.partition.clone(),
            path: format!("{iam_path}{service}/{stage}/{owner}/"),
            owner,
        }
    }

    /// `{service}-{stage}`: the Serverless stack name and the prefix of its resources.
    pub fn stack_name(&self) -> String {
        format!("{}-{}", self.service, self.stage)
    }

    /// `{service}-{stage}-{region}`: prefix of the provider's own entity names.
    fn prefix(&self) -> String {
        format!("{}-{}-{}", self.service, self.stage, self.region)
    }

    /// The group for `kind`.
    pub fn group_name(&self, kind: GroupKind) -> String {
        format!("{}-{}", self.prefix(), kind.as_str())
    }

    /// The managed policy holding deploy rights, attached to every group that deploys.
    pub fn deploy_policy_name(&self) -> String {
        format!("{}-deploy", self.prefix())
    }

    /// The second managed policy of the groups that deploy: functions and their triggers.
    pub fn deploy_functions_policy_name(&self) -> String {
        format!("{}-deploy-functions", self.prefix())
    }

    /// The managed policy holding invoke rights on the functions (and APIs) marked for it.
    pub fn invoke_policy_name(&self) -> String {
        format!("{}-invoke", self.prefix())
    }

    /// The ARNs of function `function`, qualified (versions, aliases: `…:*`) and not. Function
    /// names cannot hold `:`, so the qualified pattern never reaches another function.
    pub fn function_arns(&self, function: &str) -> [String; 2] {
        let arn = format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition,
            self.region,
            self.account,
            self.function_name(function)
        );
        [format!("{arn}:*"), arn]
    }

    /// The execution role of function `function`.
    pub fn role_name(&self, function: &str) -> String {
        let full = format!("{}-{}", self.prefix(), function);
        if full.len() <= ROLE_NAME_MAX {
            return full;
        }
        let hash = short_hash(&[&full], 10);
        let keep = ROLE_NAME_MAX - 1 - hash.len();
        let mut cut = full[..keep].to_string();
        while cut.ends_with(['-', '_', '.']) {
            cut.pop();
        }
        format!("{cut}-{hash}")
    }

    /// The deployment role: the role CloudFormation deploys the stage with (`DeployWith: role`).
    /// Its name ends in [`DEPLOYMENT_ROLE_SUFFIX`], which no execution role's name can (they hold
    /// no `.`): the provider role may give the deployment boundary only to such names.
    pub fn deployment_role_name(&self) -> String {
        let full = format!("{}{DEPLOYMENT_ROLE_SUFFIX}", self.prefix());
        if full.len() <= ROLE_NAME_MAX {
            return full;
        }
        let hash = short_hash(&[&full], 10);
        let keep = ROLE_NAME_MAX - DEPLOYMENT_ROLE_SUFFIX.len() - 1 - hash.len();
        let mut cut = self.prefix()[..keep].to_string();
        while cut.ends_with(['-', '_', '.']) {
            cut.pop();
        }
        format!("{cut}-{hash}{DEPLOYMENT_ROLE_SUFFIX}")
    }

    /// `arn:{partition}:iam::{account}:role{path}`: append a role name for its ARN.
    pub fn role_arn_prefix(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}",
            self.partition, self.account, self.path
        )
    }

    /// The ARN of a role of this resource.
    pub fn role_arn(&self, role_name: &str) -> String {
        format!("{}{role_name}", self.role_arn_prefix())
    }

    /// The ARN of a group of this resource.
    pub fn group_arn(&self, group_name: &str) -> String {
        format!(
            "arn:{}:iam::{}:group{}{group_name}",
            self.partition, self.account, self.path
        )
    }

    /// The ARN of a managed policy of this resource.
    pub fn policy_arn(&self, policy_name: &str) -> String {
        format!(
            "arn:{}:iam::{}:policy{}{policy_name}",
            self.partition, self.account, self.path
        )
    }

    /// The deployed Lambda function name of function key `function`.
    pub fn function_name(&self, function: &str) -> String {
        format!("{}-{function}", self.stack_name())
    }

    /// The PhysicalResourceId of this resource.
    pub fn physical_id(&self) -> String {
        format!(
            "{PHYSICAL_ID_PREFIX}{}:{}:{}",
            self.service, self.stage, self.owner
        )
    }

    /// Prefix of every grant name this resource owns.
    pub fn grant_prefix(&self) -> String {
        format!("{GRANT_NAME_PREFIX}{}/", self.owner)
    }
}

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

/// Checks a Serverless service name: a letter, then letters, digits and hyphens; at most 50.
pub fn check_service(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 50
        && s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!("ServiceName {s:?} must be 1-50 letters, digits and single hyphens, starting with a letter"))
    }
}

/// Checks a stage: letters and digits only, at most 16. A hyphen would let the patterns of stage
/// `dev` (`{service}-dev-*`) reach stage `dev-x`, so it is refused.
pub fn check_stage(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "Stage {s:?} must be 1-16 letters and digits (no hyphen: it would make this stage's patterns match other stages)"
        ))
    }
}

/// Checks a function key: letters, digits, hyphens and underscores, at most 64.
pub fn check_function_key(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(format!(
            "function Name {s:?} must be 1-64 letters, digits, hyphens and underscores"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::arn::parse_stack_id;

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-access/5b3e0c40";

    fn naming(service: &str, stage: &str) -> Naming {
        Naming::new(
            "/serverless-access/",
            STACK,
            "Access",
            &parse_stack_id(STACK).unwrap(),
            service,
            stage,
        )
    }

    #[test]
    fn names_follow_the_documented_scheme() {
        let n = naming("orders", "prod");
        assert_eq!(
            n.group_name(GroupKind::Admin),
            "orders-prod-us-east-1-admin"
        );
        assert_eq!(n.deploy_policy_name(), "orders-prod-us-east-1-deploy");
        assert_eq!(n.role_name("api"), "orders-prod-us-east-1-api");
        assert_eq!(
            n.path,
            format!("/serverless-access/orders/prod/{}/", n.owner)
        );
        assert_eq!(
            n.role_arn("x"),
            format!(
                "arn:aws:iam::123456789012:role/serverless-access/orders/prod/{}/x",
                n.owner
            )
        );
        assert_eq!(n.owner.len(), 16);
    }

    #[test]
    fn the_deployment_role_name_ends_in_dot_deploy_which_no_execution_role_name_can() {
        let n = naming("orders", "prod");
        assert_eq!(n.deployment_role_name(), "orders-prod-us-east-1.deploy");
        // The longest service and stage: shortened with a hash, the suffix kept.
        let long = naming(&format!("s{}", "x".repeat(49)), "p".repeat(16).as_str());
        let name = long.deployment_role_name();
        assert!(
            name.len() <= ROLE_NAME_MAX && name.ends_with(DEPLOYMENT_ROLE_SUFFIX),
            "{name}"
        );
        assert_ne!(
            name,
            naming(&format!("s{}", "x".repeat(48)), "p".repeat(16).as_str()).deployment_role_name()
        );
        // Execution role names never hold a `.` (service, stage, region and function keys cannot),
        // so the provider role's `*.deploy` statement can never give an execution role the
        // deployment boundary. Function keys that try:
        for f in ["deploy", "x.deploy", "-deploy", "a".repeat(64).as_str()] {
            let role = long.role_name(f);
            assert!(!role.ends_with(DEPLOYMENT_ROLE_SUFFIX), "{role}");
            assert!(
                !n.role_name(f).contains('.') || check_function_key(f).is_err(),
                "{f}"
            );
        }
        assert!(check_function_key("x.deploy").is_err());
    }

    #[test]
    fn long_role_names_are_shortened_to_64_with_a_hash_and_stay_distinct() {
        let n = naming("a-very-long-service-name-for-orders", "production1");
        let a = n.role_name("process-incoming-payment-notifications");
        let b = n.role_name("process-incoming-payment-notifications2");
        assert!(
            a.len() <= ROLE_NAME_MAX && b.len() <= ROLE_NAME_MAX,
            "{a} {b}"
        );
        assert_ne!(a.to_lowercase(), b.to_lowercase());
        assert_eq!(
            a,
            n.role_name("process-incoming-payment-notifications"),
            "deterministic"
        );
        assert!(a.bytes().all(is_iam_name_byte));
    }

    #[test]
    fn physical_id_round_trips_and_rejects_ids_of_other_resources() {
        let n = naming("orders", "prod");
        let id = n.physical_id();
        assert_eq!(
            PhysicalId::parse(&id, STACK, "Access"),
            PhysicalId::Resource {
                service: "orders".into(),
                stage: "prod".into(),
                owner: n.owner.clone()
            }
        );
        assert_eq!(
            PhysicalId::parse(&id, STACK, "OtherAccess"),
            PhysicalId::Foreign
        );
        assert_eq!(
            PhysicalId::parse("orders-access-Access-1ABC", STACK, "Access"),
            PhysicalId::Foreign
        );
        assert_eq!(
            PhysicalId::parse(&invalid_physical_id(STACK, "Access"), STACK, "Access"),
            PhysicalId::Invalid
        );
    }

    #[test]
    fn replacement_gets_a_separate_path_and_id() {
        let a = naming("orders", "prod");
        let b = naming("orders", "prod2");
        assert_ne!(a.physical_id(), b.physical_id());
        assert!(!b.path.starts_with(&a.path) && !a.path.starts_with(&b.path));
    }

    #[test]
    fn attack_7_an_iam_path_covering_all_of_iam_is_refused() {
        for bad in [
            "/", "/*/", "/a*/", "/a?/", "//", "/a//b/", "a/", "/a", "/a b/",
        ] {
            assert!(check_iam_path(bad).is_err(), "{bad:?}");
        }
        for ok in ["/serverless-access/", "/team.a/svc_1/", "/a/"] {
            assert!(check_iam_path(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn stage_with_hyphen_and_bad_service_names_are_refused() {
        assert!(check_stage("dev").is_ok());
        assert!(check_stage("dev-x").is_err());
        assert!(check_stage("").is_err());
        assert!(check_service("orders-api").is_ok());
        assert!(check_service("1orders").is_err());
        assert!(check_service("orders_api").is_err());
        assert!(check_function_key("api_v2-x").is_ok());
        assert!(check_function_key("api.v2").is_err());
    }
}
