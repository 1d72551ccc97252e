//! IAM policy documents: building statements, measuring them as IAM does, comparing them with
//! what IAM returns.

use serde_json::{json, Map, Value};

/// IAM's limit on a group's inline policies, summed (whitespace not counted).
pub const GROUP_INLINE_MAX: usize = 5_120;
/// IAM's limit on a role's inline policies, summed.
pub const ROLE_INLINE_MAX: usize = 10_240;
/// IAM's limit on one managed policy version.
pub const MANAGED_POLICY_MAX: usize = 6_144;
/// IAM's default limit on a trust policy.
pub const TRUST_POLICY_MAX: usize = 2_048;

/// One statement, built by the provider.
#[derive(Debug, Clone)]
pub struct Statement {
    sid: String,
    effect: &'static str,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<Value>,
}

impl Statement {
    /// An Allow statement. `sid` says what it is for.
    pub fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Self {
        Statement {
            sid: sid.to_string(),
            effect: "Allow",
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources,
            condition: None,
        }
    }

    /// Adds a condition block (`{"StringEquals": {...}}`).
    pub fn when(mut self, condition: Value) -> Self {
        self.condition = Some(condition);
        self
    }

    /// The statement as JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Sid".into(), json!(self.sid));
        m.insert("Effect".into(), json!(self.effect));
        m.insert("Action".into(), json!(self.actions));
        m.insert("Resource".into(), json!(self.resources));
        if let Some(c) = &self.condition {
            m.insert("Condition".into(), c.clone());
        }
        Value::Object(m)
    }
}

/// A document from statements.
pub fn document(statements: impl IntoIterator<Item = Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements.into_iter().collect::<Vec<_>>()})
}

/// The size IAM counts: characters of the compact JSON, whitespace excluded.
pub fn iam_size(doc: &Value) -> usize {
    doc.to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

/// Compact JSON, as sent to IAM.
pub fn to_text(doc: &Value) -> String {
    doc.to_string()
}

/// Reads a policy document as IAM returns it: URL-encoded JSON (the SDK does not decode it).
pub fn from_iam(text: &str) -> Result<Value, String> {
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_err(|e| format!("policy document is not UTF-8 after URL-decoding: {e}"))?;
    serde_json::from_str(&decoded).map_err(|e| format!("policy document is not JSON: {e}"))
}

/// Whether two documents mean the same to the provider: equal after normalising single strings to
/// one-element lists (IAM may store either form) and ignoring key order.
pub fn same(a: &Value, b: &Value) -> bool {
    normalise(a) == normalise(b)
}

fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("Action" | "NotAction" | "Resource" | "NotResource", Value::String(s)) => {
                            json!([s])
                        }
                        _ => normalise(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_ignores_whitespace_like_iam() {
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        assert_eq!(
            iam_size(&doc),
            r#"{"Version":"2012-10-17","Statement":[]}"#.len()
        );
    }

    #[test]
    fn url_encoded_documents_from_iam_compare_equal_to_what_was_written() {
        let doc = document([Statement::allow(
            "Logs",
            &["logs:PutLogEvents"],
            vec!["arn:aws:logs:r:1:log-group:/a:*".into()],
        )
        .to_json()]);
        let encoded: String = percent_encoding::utf8_percent_encode(
            &to_text(&doc),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert!(same(&from_iam(&encoded).unwrap(), &doc));
        let single = json!({"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:r:1:log-group:/a:*"}]});
        assert!(same(&single, &doc));
        let other = json!({"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Action":"logs:*","Resource":"*"}]});
        assert!(!same(&other, &doc));
    }
}
