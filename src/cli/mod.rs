//! `serverless-access plan`: what a Create would make, or what an Update from `--old` would add,
//! change and remove, computed by the same core as the provider and without calling AWS.
//!
//! ```text
//! serverless-access plan [--json] [--old OLD_FILE] [--account ID] [--region REGION]
//!                        [--stack-id ARN] [--logical-id ID] FILE
//! ```
//! FILE holds resource properties (YAML or JSON), or a whole CloudFormation request event (its
//! StackId and LogicalResourceId are then used). The provider's settings are read from the same
//! environment variables as in Lambda. Invalid properties print exactly the Reason the provider
//! would answer, and the exit status is 2.

use crate::adapters::memory::{Journal, MemoryGrants, MemoryIam};
use crate::cfn::response::validation_reason;
use crate::config::Settings;
use crate::domain::arn::{parse_stack_id, StackRef};
use crate::domain::change::Change;
use crate::domain::desired::Desired;
use crate::domain::properties;
use crate::pacing::Pacer;
use crate::reconcile::{Engine, Progress};
use render::{create_json, create_text, document_of, indent, pretty, sign};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::time::Instant;

mod render;

const USAGE: &str = "usage: serverless-access plan [--json] [--old OLD_FILE] [--account ID] [--region REGION] [--stack-id ARN] [--logical-id ID] FILE";

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    json: bool,
    old: Option<String>,
    file: String,
    account: String,
    region: String,
    stack_id: Option<String>,
    logical_id: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("plan") {
        return Err(USAGE.into());
    }
    let mut a = Args {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        ..Args::default()
    };
    let mut file = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => a.json = true,
            "--old" => a.old = Some(value("--old")?),
            "--account" => a.account = value("--account")?,
            "--region" => a.region = value("--region")?,
            "--stack-id" => a.stack_id = Some(value("--stack-id")?),
            "--logical-id" => a.logical_id = Some(value("--logical-id")?),
            "-h" | "--help" => return Err(USAGE.into()),
            f if !f.starts_with('-') && file.is_none() => file = Some(f.to_string()),
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    a.file = file.ok_or_else(|| USAGE.to_string())?;
    Ok(a)
}

/// YAML (CloudFormation's short-form tags become strings such as `!ImportValue name`) → JSON.
fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => Value::String(format!(
            "{} {}",
            t.tag,
            serde_norway::to_string(&t.value).unwrap_or_default().trim()
        )),
    }
}

/// Scalars as CloudFormation sends them: strings.
fn stringify_scalars(v: Value) -> Value {
    match v {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(stringify_scalars).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, stringify_scalars(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Reads FILE: properties, or a request event. Returns (properties, StackId, LogicalResourceId).
fn load(path: &str) -> Result<(Value, Option<String>, Option<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let value = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v,
        Err(_) => yaml_to_json(
            serde_norway::from_str(&text)
                .map_err(|e| format!("{path}: neither JSON nor YAML: {e}"))?,
        ),
    };
    if let (Some(props), true) = (
        value.get("ResourceProperties"),
        value.get("RequestType").is_some(),
    ) {
        let s = |k: &str| value.get(k).and_then(Value::as_str).map(String::from);
        return Ok((
            stringify_scalars(props.clone()),
            s("StackId"),
            s("LogicalResourceId"),
        ));
    }
    // An access stack's resource (`Type: Custom::ServerlessAccess`, `Properties: …`) is accepted too.
    let props = value
        .get("Properties")
        .filter(|_| value.get("Type").is_some())
        .cloned()
        .unwrap_or(value);
    Ok((stringify_scalars(props), None, None))
}

struct Ctx {
    settings: Settings,
    stack_id: String,
    logical_id: String,
    stack: StackRef,
    account: String,
    region: String,
}

fn desired(ctx: &Ctx, props: &Value) -> Result<Desired, String> {
    let sctx = properties::Context {
        stack_id: &ctx.stack_id,
        logical_id: &ctx.logical_id,
        stack: &ctx.stack,
        iam_path: &ctx.settings.iam_path,
        enforced_boundary: ctx.settings.permissions_boundary.as_deref(),
        deployment_boundary: ctx.settings.deployment_boundary.as_deref(),
        stage_role_boundary: ctx.settings.stage_role_boundary.as_deref(),
        assumable_by_accounts: &ctx.settings.assumable_by_accounts,
        allowed_keys: &ctx.settings.allowed_keys,
        provider_account: &ctx.account,
        provider_region: &ctx.region,
        guardrails: &ctx.settings.guardrails,
    };
    let spec = properties::parse(props, &sctx).map_err(|p| validation_reason(&p))?;
    Desired::from_spec(&spec, &ctx.stack_id, &ctx.logical_id).map_err(|p| validation_reason(&p))
}

/// The changes an in-place Update from `old` to `new` makes, in the order the provider makes
/// them: the real engine runs against an in-memory IAM and KMS seeded by converging `old` first.
async fn update_changes(old: &Desired, new: &Desired) -> Result<Vec<Change>, String> {
    let journal = Journal::default();
    let iam = MemoryIam::sharing(journal.clone());
    let grants = MemoryGrants::sharing(journal.clone());
    let keys: BTreeSet<String> = old
        .grants
        .iter()
        .chain(&new.grants)
        .map(|g| g.key_arn.clone())
        .collect();
    converge(&iam, &grants, old, &keys).await?;
    journal
        .lock()
        .map(|mut j| j.clear())
        .map_err(|e| e.to_string())?;
    converge(&iam, &grants, new, &keys).await?;
    let changes = journal.lock().map_err(|e| e.to_string())?.clone();
    Ok(changes)
}

async fn converge(
    iam: &MemoryIam,
    grants: &MemoryGrants,
    d: &Desired,
    keys: &BTreeSet<String>,
) -> Result<(), String> {
    let progress = Progress::default();
    Engine {
        iam,
        grants,
        // One at a time: the printed order is the order of the plan.
        concurrency: 1,
        stop_at: Instant::now() + Duration::from_secs(3600),
        progress: &progress,
        pacer: &Pacer::default(),
    }
    .converge(d, keys)
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Runs the CLI with `args` (without the program name); returns the exit status.
pub async fn main(args: &[String]) -> i32 {
    match run(args).await {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err((code, message)) => {
            eprintln!("{message}");
            code
        }
    }
}

async fn run(args: &[String]) -> Result<String, (i32, String)> {
    let a = parse_args(args).map_err(|e| (64, e))?;
    let settings = Settings::from_env().map_err(|e| (78, e.to_string()))?;
    let (props, event_stack, event_logical) = load(&a.file).map_err(|e| (66, e))?;
    let service = props
        .get("ServiceName")
        .and_then(Value::as_str)
        .unwrap_or("service");
    let stack_id = a
        .stack_id
        .or(event_stack)
        .unwrap_or_else(|| format!("arn:aws:cloudformation:{}:{}:stack/{service}-access/00000000-0000-0000-0000-000000000000", a.region, a.account));
    let stack = parse_stack_id(&stack_id).map_err(|e| (64, e))?;
    let ctx = Ctx {
        settings,
        logical_id: a
            .logical_id
            .or(event_logical)
            .unwrap_or_else(|| "Access".into()),
        stack_id,
        account: stack.account.clone(),
        region: stack.region.clone(),
        stack,
    };
    let new = desired(&ctx, &props).map_err(|e| (2, e))?;
    let Some(old_file) = a.old else {
        return Ok(if a.json {
            format!("{}\n", pretty(&create_json(&new)))
        } else {
            create_text(&new)
        });
    };
    let (old_props, _, _) = load(&old_file).map_err(|e| (66, e))?;
    let old = desired(&ctx, &old_props).map_err(|e| (2, format!("--old: {e}")))?;
    if old.naming.physical_id() != new.naming.physical_id() {
        let note = format!(
            "ServiceName or Stage changed: this Update is a replacement. A new set is created under {} and CloudFormation then deletes the old set ({}).",
            new.naming.physical_id(),
            old.naming.physical_id()
        );
        return Ok(if a.json {
            format!(
                "{}\n",
                pretty(&json!({"replacement": true, "note": note, "create": create_json(&new)}))
            )
        } else {
            format!("{note}\n\n{}", create_text(&new))
        });
    }
    let changes = update_changes(&old, &new).await.map_err(|e| (70, e))?;
    if a.json {
        let list: Vec<Value> = changes
            .iter()
            .map(|c| json!({"change": sign(c), "what": c.describe(), "document": document_of(c)}))
            .collect();
        return Ok(format!(
            "{}\n",
            pretty(
                &json!({"replacement": false, "physicalResourceId": new.naming.physical_id(), "changes": list})
            )
        ));
    }
    if changes.is_empty() {
        return Ok("No changes: an Update with these properties makes no write.\n".into());
    }
    let mut out = format!(
        "Update in place of {} ({} changes):\n",
        new.naming.physical_id(),
        changes.len()
    );
    for c in &changes {
        let _ = writeln!(out, "{} {}", sign(c), c.describe());
        if let Some(doc) = document_of(c) {
            out.push_str(&indent(&pretty(&doc), "    "));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sa-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const PROPS: &str = "ServiceToken: !ImportValue serverless-access-ServiceToken\nServiceName: orders\nStage: prod\nFunctions:\n  - Name: api\n    Vpc: true\n";

    #[tokio::test]
    async fn plan_prints_every_entity_a_create_would_make() {
        let f = write("props.yaml", PROPS);
        let out = run(&args(&["plan", &f])).await.unwrap();
        for needle in [
            "group orders-prod-us-east-1-admin",
            "managed policy orders-prod-us-east-1-deploy",
            "role orders-prod-us-east-1-api",
            "ec2:CreateNetworkInterface",
            "Roles.api.Arn",
        ] {
            assert!(out.contains(needle), "{needle} missing");
        }
        let json: Value =
            serde_json::from_str(&run(&args(&["plan", "--json", &f])).await.unwrap()).unwrap();
        assert_eq!(json["roles"][0]["name"], "orders-prod-us-east-1-api");
    }

    #[tokio::test]
    async fn plan_shows_the_stage_roles_their_trust_and_what_they_attach() {
        let f = write(
            "stage.yaml",
            &format!("{PROPS}AssumableBy:\n  ci:\n    - GitHubActions: {{Repository: acme/orders, Branch: main}}\n"),
        );
        let out = run(&args(&["plan", &f])).await.unwrap();
        for needle in [
            "role orders-prod-us-east-1.ci",
            "stage role holding exactly the ci group's documents (maximum session 3600 s)",
            "oidc-provider/token.actions.githubusercontent.com",
            "repo:acme/orders:ref:refs/heads/main",
            "CiRoleArn = arn:aws:iam::",
        ] {
            assert!(out.contains(needle), "{needle} missing");
        }
        let json: Value =
            serde_json::from_str(&run(&args(&["plan", "--json", &f])).await.unwrap()).unwrap();
        let role = json["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "stage")
            .unwrap();
        let group = json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "orders-prod-us-east-1-ci")
            .unwrap();
        assert_eq!(role["attached"], group["attached"]);
        assert_eq!(role["inline"], group["inline"]);
        assert_eq!(role["holdsDocumentsOf"], "ci");
    }

    #[tokio::test]
    async fn plan_with_old_lists_additions_changes_and_removals() {
        let old = write("old.yaml", PROPS);
        let new = write("new.yaml", "ServiceName: orders\nStage: prod\nGroups: [admin]\nFunctions:\n  - Name: api\n  - Name: worker\n");
        let out = run(&args(&["plan", "--old", &old, &new])).await.unwrap();
        assert!(
            out.contains("+ create role orders-prod-us-east-1-worker"),
            "{out}"
        );
        assert!(
            out.contains("~ put policy execution on role orders-prod-us-east-1-api"),
            "{out}"
        );
        assert!(
            out.contains("- delete group orders-prod-us-east-1-developer"),
            "{out}"
        );
        let same = run(&args(&["plan", "--old", &old, &old])).await.unwrap();
        assert!(same.starts_with("No changes"));
    }

    #[tokio::test]
    async fn invalid_properties_print_the_providers_reason_and_exit_2() {
        let f = write(
            "bad.yaml",
            "ServiceName: orders\nStage: dev-x\nFunctions:\n  - Name: api\n    Vpc: maybe\n",
        );
        let (code, message) = run(&args(&["plan", &f])).await.unwrap_err();
        assert_eq!(code, 2);
        assert!(
            message.starts_with("invalid properties (2 problems)"),
            "{message}"
        );
    }
}
