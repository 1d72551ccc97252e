//! The entrypoint. Without arguments: wires settings, AWS clients and the responder once, then
//! serves CloudFormation requests through the Lambda Runtime API. With arguments: `plan` (see [`serverless_access::cli`]).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use serverless_access::adapters::{http, iam::SdkIam, kms::SdkKms, responder::HttpResponder};
use serverless_access::config::Settings;
use serverless_access::handler::Provider;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,aws_smithy_http_client=warn,hyper=warn,rustls=warn"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// The invocation's deadline as a monotonic instant. Lambda gives epoch milliseconds;
/// `cargo lambda watch` gives `600000`, meant as 600 s from now (no real deadline is that small).
fn deadline_of(ctx: &lambda_runtime::Context) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left_ms = if ctx.deadline < 1_000_000_000_000 {
        ctx.deadline
    } else {
        ctx.deadline.saturating_sub(now_ms)
    };
    Instant::now() + Duration::from_millis(left_ms)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // With arguments the binary is the `plan` command line; without, the Lambda runtime.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        std::process::exit(serverless_access::cli::main(&args).await);
    }
    http::install_crypto_provider();
    init_tracing();

    let (settings, config_error) = match Settings::from_env() {
        Ok(s) => (s, None),
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration: every request will be answered FAILED");
            let fallback = Settings::from_lookup(|k| {
                if k == "SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL" {
                    std::env::var(k).ok()
                } else {
                    None
                }
            })?;
            (fallback, Some(e.to_string()))
        }
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http::sdk_http_client())
        // Retries are ours (retry.rs): bounded by the invocation deadline, classified by error kind.
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    // The provider's own role: the retiring principal of its grants, and its account (under
    // `cargo lambda watch` the invoked function ARN carries another one). Unset: STS says.
    let own_arn = match &settings.provider_role_arn {
        Some(arn) => arn.clone(),
        None => match aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
        {
            Ok(id) => id.arn().unwrap_or_default().to_string(),
            Err(e) => {
                tracing::warn!(error = %e, "no SERVERLESS_ACCESS_PROVIDER_ROLE_ARN and STS failed: grants will have no retiring principal");
                String::new()
            }
        },
    };
    let own_account = own_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(String::from);
    let retiring_principal = own_arn;
    let provider = Provider {
        iam: SdkIam::new(aws_sdk_iam::Client::new(&sdk), settings.concurrency),
        grants: SdkKms::new(aws_sdk_kms::Client::new(&sdk), retiring_principal),
        responder: HttpResponder::new()?,
        settings,
        region,
        config_error,
        pacer: Default::default(),
    };
    let provider = &provider;
    let own_account = &own_account;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let account = own_account.clone().unwrap_or_else(|| {
            event
                .context
                .invoked_function_arn
                .split(':')
                .nth(4)
                .unwrap_or_default()
                .to_string()
        });
        let deadline = deadline_of(&event.context);
        Ok::<Value, lambda_runtime::Error>(provider.handle(event.payload, &account, deadline).await)
    }))
    .await
}
