//! The handler on in-memory ports: every trusted request is answered exactly once.

use super::*;
use crate::adapters::memory::{MemoryGrants, MemoryIam, MemoryResponder};
use crate::domain::change::IamChange;
use crate::domain::claims::Claim;
use crate::domain::observed::Observed;
use crate::error::Result;
use crate::ports::Depth;

/// An IAM port whose observation panics, as a bug in the provider would.
struct PanickingIam;
impl IamPort for PanickingIam {
    async fn observe(&self, _path: &str, _depth: Depth) -> Result<Observed> {
        panic!("simulated bug")
    }
    async fn apply(&self, _change: &IamChange) -> Result<Option<String>> {
        Ok(None)
    }
    async fn claims(&self, _root: &str) -> Result<Vec<Claim>> {
        Ok(vec![])
    }
    async fn oidc_provider_exists(&self, _arn: &str) -> Result<bool> {
        Ok(true)
    }
}

const URL: &str = "http://127.0.0.1:9/answer?X-Amz-Signature=s";

fn provider<I: IamPort>(iam: I) -> Provider<I, MemoryGrants, MemoryResponder> {
    let mut settings = Settings::from_lookup(|_| None).unwrap();
    settings.allow_loopback_response_url = true;
    Provider {
        settings,
        iam,
        grants: MemoryGrants::default(),
        responder: MemoryResponder::default(),
        region: "us-east-1".into(),
        config_error: None,
        pacer: Default::default(),
    }
}

fn create(url: &str, account: &str) -> Value {
    json!({
        "RequestType": "Create", "ResponseURL": url, "RequestId": "r-1", "LogicalResourceId": "Access",
        "StackId": format!("arn:aws:cloudformation:us-east-1:{account}:stack/s/1"),
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]}
    })
}

async fn handle<I: IamPort>(p: &Provider<I, MemoryGrants, MemoryResponder>, event: Value) -> Value {
    p.handle(
        event,
        "123456789012",
        Instant::now() + Duration::from_secs(60),
    )
    .await
}

fn answers<I: IamPort>(p: &Provider<I, MemoryGrants, MemoryResponder>) -> Vec<Value> {
    p.responder
        .sent()
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_panic_inside_the_work_is_answered_failed_once() {
    let p = provider(PanickingIam);
    let result = handle(&p, create(URL, "123456789012")).await;
    assert_eq!(result["Status"], "FAILED");
    let a = answers(&p);
    assert_eq!(a.len(), 1);
    assert!(a[0]["Reason"]
        .as_str()
        .unwrap()
        .contains("panic: simulated bug"));
    assert!(a[0]["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .starts_with("serverless-access:orders:prod:"));
}

#[tokio::test]
async fn a_create_is_answered_success_with_its_attributes() {
    let p = provider(MemoryIam::default());
    handle(&p, create(URL, "123456789012")).await;
    let a = answers(&p);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["Status"], "SUCCESS", "{}", a[0]);
    assert_eq!(
        a[0]["Data"]["AdminGroupName"],
        "orders-prod-us-east-1-admin"
    );
    assert!(p.iam.names().contains("orders-prod-us-east-1-api"));
}

#[tokio::test]
async fn an_untrusted_response_url_gets_no_answer_and_nothing_is_done() {
    let p = provider(MemoryIam::default());
    let result = handle(&p, create("https://attacker.example/x", "123456789012")).await;
    assert_eq!(result["Status"], "REFUSED");
    assert!(p.responder.sent().is_empty());
    assert!(p.iam.calls.log().is_empty());
}

#[tokio::test]
async fn a_stack_of_another_account_is_answered_failed_and_nothing_is_done() {
    let p = provider(MemoryIam::default());
    handle(&p, create(URL, "210987654321")).await;
    let a = answers(&p);
    assert_eq!(a[0]["Status"], "FAILED");
    assert!(a[0]["Reason"]
        .as_str()
        .unwrap()
        .contains("not this provider's account"));
    assert!(p.iam.calls.log().is_empty());
}

fn create_with_ci_role() -> Value {
    let mut e = create(URL, "123456789012");
    e["ResourceProperties"]["AssumableBy"] = json!({"ci": [
        {"GitHubActions": {"Repository": "acme/orders", "Branch": "main"}},
        {"IdentityCenterPermissionSet": "OrdersCi"}
    ]});
    e
}

const GITHUB_PROVIDER: &str =
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

#[tokio::test]
async fn a_stage_role_trusting_an_issuer_without_its_oidc_provider_is_refused_before_any_write() {
    let p = provider(MemoryIam::default());
    handle(&p, create_with_ci_role()).await;
    let a = answers(&p);
    assert_eq!(a[0]["Status"], "FAILED", "{}", a[0]);
    let reason = a[0]["Reason"].as_str().unwrap();
    assert!(
        reason.contains("https://token.actions.githubusercontent.com")
            && reason.contains(GITHUB_PROVIDER),
        "{reason}"
    );
    assert!(p.iam.names().is_empty(), "nothing written");
    assert!(p.iam.calls.log().iter().all(|c| !c.starts_with("create")));
}

#[tokio::test]
async fn with_the_oidc_provider_present_the_stage_role_is_made_and_its_arn_answered() {
    let p = provider(MemoryIam::default());
    p.iam.add_oidc_provider(GITHUB_PROVIDER);
    handle(&p, create_with_ci_role()).await;
    let a = answers(&p);
    assert_eq!(a[0]["Status"], "SUCCESS", "{}", a[0]);
    let arn = a[0]["Data"]["CiRoleArn"].as_str().unwrap();
    assert!(arn.ends_with("/orders-prod-us-east-1.ci"), "{arn}");
    assert!(a[0]["Data"].get("AdminRoleArn").is_none());
    assert!(p.iam.names().contains("orders-prod-us-east-1.ci"));
    assert!(p
        .iam
        .calls
        .log()
        .iter()
        .any(|c| c.starts_with("attach") && c.ends_with("to role orders-prod-us-east-1.ci")));
}
