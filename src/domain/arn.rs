//! ARNs the provider reads: the stack's, KMS keys', policies', and those inside user statements.

/// The parts of an ARN: `arn:{partition}:{service}:{region}:{account}:{resource}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// The service namespace, e.g. `iam`.
    pub service: &'a str,
    /// The region, empty for global services.
    pub region: &'a str,
    /// The account, empty for some services (S3).
    pub account: &'a str,
    /// Everything after the fifth colon.
    pub resource: &'a str,
}

/// The partitions the provider knows.
pub const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];

impl<'a> Arn<'a> {
    /// Splits an ARN; checks the prefix, the partition and that a resource is present.
    pub fn parse(s: &'a str) -> Result<Self, String> {
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(format!(
                "{s:?} is not an ARN (arn:partition:service:region:account:resource)"
            ));
        };
        if !PARTITIONS.contains(&partition) {
            return Err(format!("{s:?} has unknown partition {partition:?}"));
        }
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("{s:?} has an invalid service {service:?}"));
        }
        if resource.is_empty() {
            return Err(format!("{s:?} names no resource"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{s:?} contains whitespace"));
        }
        Ok(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like a region name (`us-east-1`, `cn-north-1`, `us-gov-west-1`).
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// What the provider knows about the stack from its `StackId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    /// Partition of the stack.
    pub partition: String,
    /// Region of the stack.
    pub region: String,
    /// Account of the stack.
    pub account: String,
    /// The stack name.
    pub name: String,
}

/// Parses a CloudFormation stack ARN (`arn:aws:cloudformation:us-east-1:123456789012:stack/name/uuid`).
pub fn parse_stack_id(stack_id: &str) -> Result<StackRef, String> {
    let arn = Arn::parse(stack_id).map_err(|e| format!("StackId: {e}"))?;
    let name = arn
        .resource
        .strip_prefix("stack/")
        .and_then(|r| r.split('/').next())
        .filter(|n| !n.is_empty());
    match (arn.service, name) {
        ("cloudformation", Some(name)) if is_region(arn.region) && is_account_id(arn.account) => {
            Ok(StackRef {
                partition: arn.partition.to_string(),
                region: arn.region.to_string(),
                account: arn.account.to_string(),
                name: name.to_string(),
            })
        }
        _ => Err(format!(
            "StackId {stack_id:?} is not a CloudFormation stack ARN"
        )),
    }
}

/// Checks an IAM managed policy ARN (`arn:aws:iam::123456789012:policy/path/name`).
pub fn check_policy_arn(s: &str) -> Result<(), String> {
    let arn = Arn::parse(s)?;
    if arn.service != "iam"
        || !arn.region.is_empty()
        || !(is_account_id(arn.account) || arn.account == "aws")
    {
        return Err(format!("{s:?} is not an IAM policy ARN"));
    }
    let name = arn
        .resource
        .strip_prefix("policy/")
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("");
    if name.is_empty() || name.len() > 128 || !name.bytes().all(super::charset::is_iam_name_byte) {
        return Err(format!("{s:?} is not an IAM policy ARN"));
    }
    Ok(())
}

/// A KMS key ARN (`arn:aws:kms:{region}:{account}:key/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArn {
    /// The whole ARN.
    pub arn: String,
    /// The key's region.
    pub region: String,
    /// The key's account.
    pub account: String,
}

/// Parses a KMS key ARN; aliases are refused (a grant is on a key, and an alias can move).
pub fn parse_key_arn(s: &str) -> Result<KeyArn, String> {
    let arn = Arn::parse(s)?;
    let id = arn.resource.strip_prefix("key/").unwrap_or("");
    let id_ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if arn.service != "kms" || !is_region(arn.region) || !is_account_id(arn.account) || !id_ok {
        return Err(format!("{s:?} is not a KMS key ARN (arn:aws:kms:region:account:key/id; aliases are not accepted)"));
    }
    Ok(KeyArn {
        arn: s.to_string(),
        region: arn.region.to_string(),
        account: arn.account.to_string(),
    })
}

/// Which KMS keys grants may be made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAllowList {
    /// Any key in the provider's own account and region (local runs, no configuration).
    OwnAccountAndRegion,
    /// Only these entries: exact key ARNs, or `arn:…:key/*` for every key of that account and region.
    Only(Vec<String>),
}

impl KeyAllowList {
    /// Checks the entries: exact key ARNs, or `arn:…:key/*`.
    pub fn parse(entries: Vec<String>) -> Result<Self, String> {
        for e in &entries {
            let exact = e
                .strip_suffix("key/*")
                .map(|p| format!("{p}key/placeholder"))
                .unwrap_or_else(|| e.clone());
            parse_key_arn(&exact)?;
        }
        Ok(KeyAllowList::Only(entries))
    }

    /// Whether grants on `key` are allowed for a provider in `account`/`region`.
    pub fn allows(&self, key: &KeyArn, account: &str, region: &str) -> bool {
        match self {
            KeyAllowList::OwnAccountAndRegion => key.account == account && key.region == region,
            KeyAllowList::Only(entries) => entries.iter().any(|e| match e.strip_suffix('*') {
                Some(prefix) => key.arn.starts_with(prefix),
                None => *e == key.arn,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_id_gives_partition_region_account_and_name() {
        let s = parse_stack_id(
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/orders-access/5b3e0c40-1111",
        )
        .unwrap();
        assert_eq!(
            (
                s.partition.as_str(),
                s.region.as_str(),
                s.account.as_str(),
                s.name.as_str()
            ),
            ("aws", "eu-west-1", "123456789012", "orders-access")
        );
        assert!(parse_stack_id("arn:aws:s3:::bucket").is_err());
        assert!(parse_stack_id("not-an-arn").is_err());
    }

    #[test]
    fn key_allow_list_matches_exact_keys_and_account_wildcards() {
        let key = parse_key_arn("arn:aws:kms:us-east-1:123456789012:key/abc-123").unwrap();
        let own = KeyAllowList::OwnAccountAndRegion;
        assert!(own.allows(&key, "123456789012", "us-east-1"));
        assert!(!own.allows(&key, "210987654321", "us-east-1"));
        assert!(!own.allows(&key, "123456789012", "eu-west-1"));
        let only =
            KeyAllowList::parse(vec!["arn:aws:kms:us-east-1:123456789012:key/*".into()]).unwrap();
        assert!(only.allows(&key, "000000000000", "eu-west-1"));
        let other = KeyAllowList::parse(vec![
            "arn:aws:kms:us-east-1:123456789012:key/abc-1234".into()
        ])
        .unwrap();
        assert!(!other.allows(&key, "123456789012", "us-east-1"));
        assert!(!KeyAllowList::parse(vec![])
            .unwrap()
            .allows(&key, "123456789012", "us-east-1"));
        assert!(
            KeyAllowList::parse(vec!["arn:aws:kms:us-east-1:123456789012:alias/x".into()]).is_err()
        );
    }

    #[test]
    fn aliases_and_malformed_keys_are_not_key_arns() {
        assert!(parse_key_arn("arn:aws:kms:us-east-1:123456789012:alias/orders").is_err());
        assert!(parse_key_arn("arn:aws:kms:us-east-1:1234:key/abc").is_err());
        assert!(parse_key_arn("arn:aws:kms:us-east-1:123456789012:key/").is_err());
    }
}
