//! The one TLS stack (rustls with ring) for the SDK and the response PUT.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Installs ring as rustls's process-wide crypto provider; call first thing in `main`.
pub fn install_crypto_provider() {
    // Err means another caller installed one already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The SDK's HTTP client on rustls + ring.
pub fn sdk_http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
