//! The service's KMS key as `kms:DescribeKey` shows it, and whether grants can be made on it.

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
}
