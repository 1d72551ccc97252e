//! Claims: which service and stage each live resource holds, read from the IAM paths of its
//! entities, and the rule that no two claims may nest (one's `{service}-{stage}-` prefix a prefix of
//! the other's), so no resource's patterns reach another's names.

use super::names::stage_prefix;
use std::collections::BTreeSet;

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
    let mine = format!("{}-", stage_prefix(service, stage)).to_ascii_lowercase();
    claims.iter().find(|c| {
        if c.owner == owner {
            return false;
        }
        let theirs = format!("{}-", stage_prefix(&c.service, &c.stage)).to_ascii_lowercase();
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
        .strip_prefix(&format!("{}-", stage_prefix(service, stage)))
        .and_then(|r| {
            let p: Vec<&str> = r.split('-').take(3).collect();
            (p.len() == 3).then(|| p.join("-"))
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

#[cfg(test)]
mod tests {
    use super::*;

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
