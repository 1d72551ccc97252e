//! Answers to CloudFormation: at most 4096 bytes whatever the input, `Reason` whenever FAILED,
//! a non-empty PhysicalResourceId of at most 1 KB, ids echoed verbatim, `Data` a flat string map.

use crate::domain::problem::Problem;
use serde_json::{Map, Value};

/// CloudFormation's limit on the whole answer.
pub const MAX_BODY: usize = 4096;
/// CloudFormation's limit on PhysicalResourceId.
pub const MAX_PHYSICAL_ID: usize = 1024;
/// Room kept for RequestId when deciding which optional attributes fit, so that the same
/// properties give the same keys whatever the request id's length (CloudFormation's are 36).
const REQUEST_ID_ALLOWANCE: usize = 128;

/// SUCCESS or FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Success,
    /// Not done; `Reason` says why.
    Failed,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Outcome.
    pub status: Status,
    /// Why it failed (required when FAILED).
    pub reason: Option<String>,
    /// The resource's id.
    pub physical_resource_id: String,
    /// Attributes that are always answered.
    pub data: Vec<(String, String)>,
    /// Attributes answered in order as far as they fit.
    pub optional_data: Vec<(String, String)>,
}

impl Answer {
    /// A FAILED answer.
    pub fn failed(physical_resource_id: String, reason: impl Into<String>) -> Self {
        Answer {
            status: Status::Failed,
            reason: Some(reason.into()),
            physical_resource_id,
            data: vec![],
            optional_data: vec![],
        }
    }
}

/// The ids every answer echoes.
#[derive(Debug, Clone, Copy)]
pub struct Echo<'a> {
    /// StackId.
    pub stack_id: &'a str,
    /// RequestId.
    pub request_id: &'a str,
    /// LogicalResourceId.
    pub logical_resource_id: &'a str,
}

fn render(
    echo: Echo<'_>,
    status: Status,
    reason: Option<&str>,
    physical: &str,
    data: &[(String, String)],
) -> String {
    let mut m = Map::new();
    m.insert(
        "Status".into(),
        Value::from(if status == Status::Success {
            "SUCCESS"
        } else {
            "FAILED"
        }),
    );
    if let Some(r) = reason {
        m.insert("Reason".into(), Value::from(r));
    }
    m.insert("PhysicalResourceId".into(), Value::from(physical));
    m.insert("StackId".into(), Value::from(echo.stack_id));
    m.insert("RequestId".into(), Value::from(echo.request_id));
    m.insert(
        "LogicalResourceId".into(),
        Value::from(echo.logical_resource_id),
    );
    m.insert("NoEcho".into(), Value::Bool(false));
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    m.insert("Data".into(), Value::Object(data));
    Value::Object(m).to_string()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The JSON body for `answer`, within [`MAX_BODY`] bytes.
pub fn body(echo: Echo<'_>, answer: &Answer) -> String {
    let physical = if answer.physical_resource_id.is_empty() {
        "serverless-access:unknown"
    } else {
        truncate(&answer.physical_resource_id, MAX_PHYSICAL_ID)
    };
    let status = answer.status;
    let reason = match (status, answer.reason.as_deref()) {
        (Status::Failed, None | Some("")) => {
            Some("failed without a reason (provider bug: please report)")
        }
        (_, r) => r,
    };

    let mut data = answer.data.clone();
    if !answer.optional_data.is_empty() {
        // Decide what fits with a fixed allowance for RequestId, so the keys depend on the
        // resource only.
        let padded = "x".repeat(REQUEST_ID_ALLOWANCE.max(echo.request_id.len()));
        let probe = Echo {
            request_id: &padded,
            ..echo
        };
        for (k, v) in &answer.optional_data {
            data.push((k.clone(), v.clone()));
            if render(probe, status, reason, physical, &data).len() > MAX_BODY {
                data.pop();
                break;
            }
        }
    }

    let full = render(echo, status, reason, physical, &data);
    if full.len() <= MAX_BODY {
        return full;
    }
    // Too long: shorten the Reason first, then drop attributes (a FAILED answer needs none).
    let without_reason = render(echo, status, Some(""), physical, &data);
    if let Some(r) = reason {
        let marker = " …(truncated)";
        // JSON escaping can grow the reason: shrink until it fits.
        let mut room = MAX_BODY.saturating_sub(without_reason.len() + marker.len());
        while room > 0 {
            let cut = format!("{}{marker}", truncate(r, room));
            let b = render(echo, status, Some(&cut), physical, &data);
            if b.len() <= MAX_BODY {
                return b;
            }
            room = room.saturating_sub((b.len() - MAX_BODY).max(1));
        }
    }
    let bare = render(
        echo,
        status,
        reason.map(|r| truncate(r, 512)),
        physical,
        &[],
    );
    if bare.len() <= MAX_BODY {
        return bare;
    }
    render(
        echo,
        status,
        reason.map(|_| "answer too long"),
        physical,
        &[],
    )
}

/// The Reason for invalid properties: every problem, counted.
pub fn validation_reason(problems: &[Problem]) -> String {
    let told: Vec<&str> = problems.iter().map(Problem::message).collect();
    format!(
        "invalid properties ({} problem{}): {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        told.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: Echo<'static> = Echo {
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        request_id: "11111111-2222-3333-4444-555555555555",
        logical_resource_id: "Access",
    };

    #[test]
    fn a_huge_reason_is_truncated_to_fit_4096_bytes() {
        let a = Answer::failed("id".into(), "é\"\n".repeat(5000));
        let b = body(ECHO, &a);
        assert!(b.len() <= MAX_BODY, "{}", b.len());
        let v: Value = serde_json::from_str(&b).unwrap();
        assert!(v["Reason"].as_str().unwrap().ends_with("(truncated)"));
        assert_eq!(v["Status"], "FAILED");
    }

    #[test]
    fn optional_attributes_are_included_in_order_as_far_as_they_fit() {
        let optional: Vec<(String, String)> = (0..500)
            .map(|i| {
                (
                    format!("Roles.f{i}.Arn"),
                    format!("arn:aws:iam::123456789012:role/p/f{i}"),
                )
            })
            .collect();
        let a = Answer {
            status: Status::Success,
            reason: None,
            physical_resource_id: "id".into(),
            data: vec![("K".into(), "V".into())],
            optional_data: optional,
        };
        let b = body(ECHO, &a);
        assert!(b.len() <= MAX_BODY);
        let v: Value = serde_json::from_str(&b).unwrap();
        let data = v["Data"].as_object().unwrap();
        assert!(data.contains_key("K") && data.contains_key("Roles.f0.Arn"));
        let n = data.len() - 1;
        assert!(
            (0..n).all(|i| data.contains_key(&format!("Roles.f{i}.Arn"))),
            "a prefix of the list"
        );
        let other = body(
            Echo {
                request_id: "x",
                ..ECHO
            },
            &a,
        );
        let w: Value = serde_json::from_str(&other).unwrap();
        assert_eq!(
            w["Data"].as_object().unwrap().len(),
            data.len(),
            "keys do not depend on the request id"
        );
    }

    #[test]
    fn failed_without_reason_and_empty_id_are_never_sent() {
        let a = Answer {
            status: Status::Failed,
            reason: None,
            physical_resource_id: String::new(),
            data: vec![],
            optional_data: vec![],
        };
        let v: Value = serde_json::from_str(&body(ECHO, &a)).unwrap();
        assert!(!v["Reason"].as_str().unwrap().is_empty());
        assert!(!v["PhysicalResourceId"].as_str().unwrap().is_empty());
    }
}
