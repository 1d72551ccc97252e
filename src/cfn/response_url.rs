//! Where answers may be sent. Production: https to CloudFormation's S3 response hosts
//! (`cloudformation-custom-resource-response-*.amazonaws.com`, `.amazonaws.com.cn`). Local runs:
//! `http://127.0.0.1` or `localhost` as well, only with `SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL=1`.

/// Why a ResponseURL is refused (never contains the URL's query).
pub fn check(url: &str, allow_loopback: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "ResponseURL is not a URL".to_string())?;
    let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
    let trusted_host = host.starts_with("cloudformation-custom-resource-response-")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if parsed.scheme() == "https"
        && trusted_host
        && parsed.port().is_none()
        && parsed.username().is_empty()
    {
        return Ok(());
    }
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    if allow_loopback && loopback && parsed.scheme() == "http" {
        return Ok(());
    }
    Err(format!(
        "ResponseURL host {host:?} ({}) is not a CloudFormation response host; nothing was done and no answer was sent",
        parsed.scheme()
    ))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn only_cloudformation_response_hosts_are_trusted() {
        assert!(check("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=1", false).is_ok());
        assert!(check("https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/a", false).is_ok());
        assert!(check(
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a",
            false
        )
        .is_err());
        assert!(check(
            "https://evil.example.com/cloudformation-custom-resource-response-x.amazonaws.com",
            false
        )
        .is_err());
        assert!(check(
            "https://cloudformation-custom-resource-response-x.amazonaws.com.evil.com/a",
            false
        )
        .is_err());
    }

    #[test]
    fn loopback_is_trusted_only_when_enabled() {
        assert!(check("http://127.0.0.1:5000/b/k?sig", false).is_err());
        assert!(check("http://127.0.0.1:5000/b/k?sig", true).is_ok());
        assert!(check("http://10.0.0.1:5000/b/k", true).is_err());
    }
}
