//! The provider's own protections that validation enforces, given as values (the configuration
//! layer reads them from the environment): its own function and stack, which no claim may cover;
//! the actions and accounts it allows beyond the defaults; the tag keys stack authors may set; and
//! the rule that no two claims may nest.

use std::collections::BTreeSet;

/// Settings validation enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// The provider's Lambda function name (`AWS_LAMBDA_FUNCTION_NAME` in Lambda).
    pub provider_function: Option<String>,
    /// The provider's CloudFormation stack name.
    pub provider_stack: Option<String>,
    /// Actions allowed to execution roles by name despite their family or on `*`, lower case.
    pub allowed_actions: BTreeSet<String>,
    /// Accounts besides the stack's whose resources role statements may name.
    pub resource_accounts: Vec<String>,
    /// Tag keys stack authors may set on roles; `None`: any key not reserved.
    pub allowed_tag_keys: Option<BTreeSet<String>>,
}

/// Problems with claiming `{service}-{stage}` given the provider's own names: every group pattern
/// (`function:{prefix}-*`, `stack/{prefix}/*`, `log-group:/aws/lambda/{prefix}-*`) must miss the
/// provider's function, its log group and its stack. Compared ignoring case (a generous reading:
/// some of these names are case-sensitive, none of them may come close).
pub fn check_claim(service: &str, stage: &str, g: &Guardrails) -> Vec<String> {
    let prefix = format!("{service}-{stage}").to_ascii_lowercase();
    let covers = |name: &str| {
        let name = name.to_ascii_lowercase();
        name == prefix || name.starts_with(&format!("{prefix}-"))
    };
    let mut errors = Vec::new();
    if let Some(f) = g.provider_function.as_deref().filter(|f| covers(f)) {
        errors.push(format!("ServiceName and Stage make the prefix {service}-{stage}, which covers this provider's own function {f}: choose another service or stage name"));
    }
    if let Some(s) = g.provider_stack.as_deref().filter(|s| covers(s)) {
        errors.push(format!("ServiceName and Stage make the prefix {service}-{stage}, which covers this provider's own stack {s}: choose another service or stage name"));
    }
    errors
}

/// A claim another resource holds, read from the IAM paths under the provider's path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    /// Its service.
    pub service: String,
    /// Its stage.
    pub stage: String,
    /// Its owner hash.
    pub owner: String,
    /// Regions its entity names carry (`{service}-{stage}-{region}-…`).
    pub regions: BTreeSet<String>,
}

/// The first live claim that nests with `{service}-{stage}` (one's `{service}-{stage}-` prefix is
/// a prefix of the other's, compared ignoring case as S3 bucket and IAM names are), other than
/// this resource's own (`owner`). The same service and stage held in another region only is the
/// same service deployed there, and does not nest.
pub fn nesting_claim<'a>(
    service: &str,
    stage: &str,
    owner: &str,
    region: &str,
    claims: &'a [Claim],
) -> Option<&'a Claim> {
    let mine = format!("{service}-{stage}-").to_ascii_lowercase();
    claims.iter().find(|c| {
        if c.owner == owner {
            return false;
        }
        let theirs = format!("{}-{}-", c.service, c.stage).to_ascii_lowercase();
        if theirs == mine {
            return c.regions.is_empty() || c.regions.contains(region);
        }
        theirs.starts_with(&mine) || mine.starts_with(&theirs)
    })
}

/// Reads a claim from an entity path `{root}{service}/{stage}/{owner}/` and the entity's name.
pub fn claim_of(root: &str, path: &str, name: &str) -> Option<Claim> {
    let rest = path.strip_prefix(root)?.strip_suffix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [service, stage, owner] = parts.as_slice() else {
        return None;
    };
    let region = name
        .strip_prefix(&format!("{service}-{stage}-"))
        .and_then(|r| {
            let p: Vec<&str> = r.split('-').collect();
            (p.len() >= 3).then(|| p[..3].join("-"))
        })
        .filter(|r| super::arn::is_region(r));
    Some(Claim {
        service: service.to_string(),
        stage: stage.to_string(),
        owner: owner.to_string(),
        regions: region.into_iter().collect(),
    })
}

/// Merges claims read from several entities into one per owner.
pub fn merge_claims(claims: impl IntoIterator<Item = Claim>) -> Vec<Claim> {
    let mut out: Vec<Claim> = Vec::new();
    for c in claims {
        match out.iter_mut().find(|o| o.owner == c.owner) {
            Some(o) => o.regions.extend(c.regions),
            None => out.push(c),
        }
    }
    out
}

/// What `kms:DescribeKey` says of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, `HMAC_256`, ...
    pub spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC`, ...
    pub usage: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
}

/// Grants for the operations the provider offers need a symmetric encryption key that is enabled:
/// KMS refuses grants with those operations (and any constraint) on asymmetric and HMAC keys.
pub fn check_key(key_arn: &str, k: &KeyState) -> Result<(), String> {
    if k.spec == "SYMMETRIC_DEFAULT" && k.usage == "ENCRYPT_DECRYPT" && k.state == "Enabled" {
        Ok(())
    } else {
        Err(format!("KmsKeyArn {key_arn:?} is {} {} and {}: grants need an enabled SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT", k.spec, k.usage, k.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guardrails {
        Guardrails {
            provider_function: Some("serverless-access-ProviderFunction-AbC123".into()),
            provider_stack: Some("serverless-access".into()),
            ..Guardrails::default()
        }
    }

    #[test]
    fn attack_claiming_the_providers_own_function_and_stack_by_name_is_refused() {
        let e = check_claim("serverless", "access", &guard());
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("own function") && e[1].contains("own stack"));
        assert_eq!(check_claim("Serverless", "ACCESS", &guard()).len(), 2);
        assert!(check_claim("serverless", "accessx", &guard()).is_empty());
        assert!(check_claim("orders", "prod", &guard()).is_empty());
    }

    fn claim(service: &str, stage: &str, owner: &str) -> Claim {
        Claim {
            service: service.into(),
            stage: stage.into(),
            owner: owner.into(),
            regions: ["us-east-1".to_string()].into(),
        }
    }

    #[test]
    fn attack_claiming_a_prefix_of_another_services_names_is_refused_in_either_order() {
        let victim = [claim("orders-api", "prod", "v")];
        assert!(nesting_claim("orders", "api", "a", "us-east-1", &victim).is_some());
        let attacker = [claim("orders", "api", "a")];
        assert!(nesting_claim("orders-api", "prod", "v", "us-east-1", &attacker).is_some());
        let upper = [claim("Orders-Api", "prod", "v")];
        assert!(nesting_claim("orders", "api", "a", "us-east-1", &upper).is_some());
    }

    #[test]
    fn separate_services_own_claim_and_other_regions_do_not_nest() {
        let live = [
            claim("orders", "prod", "mine"),
            claim("orders", "prod2", "x"),
            claim("billing", "prod", "y"),
        ];
        assert!(nesting_claim("orders", "prod", "mine", "us-east-1", &live).is_none());
        let elsewhere = [claim("orders", "prod", "other")];
        assert!(nesting_claim("orders", "prod", "mine", "eu-west-1", &elsewhere).is_none());
        assert!(nesting_claim("orders", "prod", "mine", "us-east-1", &elsewhere).is_some());
    }

    #[test]
    fn only_enabled_symmetric_encryption_keys_take_grants() {
        let k = |spec: &str, usage: &str, state: &str| KeyState {
            spec: spec.into(),
            usage: usage.into(),
            state: state.into(),
        };
        assert!(check_key("k", &k("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Enabled")).is_ok());
        assert!(check_key("k", &k("RSA_2048", "SIGN_VERIFY", "Enabled")).is_err());
        assert!(check_key("k", &k("HMAC_256", "GENERATE_VERIFY_MAC", "Enabled")).is_err());
        assert!(check_key("k", &k("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Disabled")).is_err());
    }

    #[test]
    fn claims_are_read_from_paths_and_entity_names() {
        let c = claim_of(
            "/serverless-access/",
            "/serverless-access/orders/prod/0123456789abcdef/",
            "orders-prod-eu-west-1-admin",
        )
        .unwrap();
        assert_eq!((c.service.as_str(), c.stage.as_str()), ("orders", "prod"));
        assert!(c.regions.contains("eu-west-1"));
        assert!(claim_of("/serverless-access/", "/serverless-access/x/", "x").is_none());
        assert!(claim_of("/other/", "/serverless-access/a/b/c/", "a-b-us-east-1-x").is_none());
    }
}
