//! [`Responder`] over HTTPS: PUT with an empty Content-Type and exact Content-Length, 2xx checked,
//! network errors and 5xx retried with jittered backoff.

use crate::error::{Error, Result};
use crate::ports::Responder;
use crate::retry::backoff;
use std::time::Duration;

/// Attempts before giving up. With a 2 s timeout each and the backoffs between them, all of them
/// fit in the 10 s the handler keeps back before the Lambda deadline.
pub const ATTEMPTS: u32 = 4;

/// The response PUT client.
#[derive(Clone)]
pub struct HttpResponder {
    client: reqwest::Client,
}

impl HttpResponder {
    /// Builds the client on the process's rustls provider.
    pub fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Response(format!("cannot build the HTTPS client: {e}")))?;
        Ok(HttpResponder { client })
    }
}

impl Responder for HttpResponder {
    async fn send(&self, url: &str, body: String) -> Result<()> {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let r = self
                .client
                .put(url)
                // The pre-signed URL was signed without a Content-Type: sending one breaks the signature.
                .header(reqwest::header::CONTENT_TYPE, "")
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body.clone())
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("HTTP {}", resp.status().as_u16())
                }
                Ok(resp) => {
                    return Err(Error::Response(format!(
                        "HTTP {} from the response URL",
                        resp.status().as_u16()
                    )))
                }
                // reqwest errors can quote the URL with its signature: keep only the kind.
                Err(e) => {
                    last = format!(
                        "network error (timeout: {}, connect: {})",
                        e.is_timeout(),
                        e.is_connect()
                    )
                }
            }
            if attempt < ATTEMPTS {
                tracing::warn!(attempt, error = %last, "response PUT failed, retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Err(Error::Response(format!(
            "{ATTEMPTS} attempts failed, last: {last}"
        )))
    }
}
