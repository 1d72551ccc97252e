//! Requests, read from raw JSON so that a malformed event can still be answered.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as Typed;
use serde_json::Value;

/// Create, Update or Delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// A new resource.
    Create,
    /// Changed properties.
    Update,
    /// Removal.
    Delete,
}

impl RequestType {
    /// As CloudFormation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// A request that parsed into the protocol's shape.
#[derive(Debug, Clone)]
pub struct Request {
    /// Kind.
    pub request_type: RequestType,
    /// Where the answer goes. Secret: never logged.
    pub response_url: String,
    /// Stack ARN.
    pub stack_id: String,
    /// Request id.
    pub request_id: String,
    /// Resource type, e.g. `Custom::ServerlessAccess`.
    pub resource_type: String,
    /// Logical id in the template.
    pub logical_resource_id: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    /// Properties.
    pub properties: Value,
    /// Old properties (Update).
    pub old_properties: Option<Value>,
}

/// The fields an answer needs, salvaged from any JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Where the answer goes, if the event carried one.
    pub response_url: Option<String>,
    /// Echoed.
    pub stack_id: String,
    /// Echoed.
    pub request_id: String,
    /// Echoed.
    pub logical_resource_id: String,
    /// The id to answer with when nothing better is known.
    pub physical_resource_id: Option<String>,
    /// RequestType as sent, for logs.
    pub request_type: String,
}

impl Envelope {
    /// Salvages what it can from `event`, whatever its shape.
    pub fn salvage(event: &Value) -> Self {
        let s = |k: &str| event.get(k).and_then(Value::as_str).map(String::from);
        Envelope {
            response_url: s("ResponseURL"),
            stack_id: s("StackId").unwrap_or_default(),
            request_id: s("RequestId").unwrap_or_default(),
            logical_resource_id: s("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: s("PhysicalResourceId").filter(|p| !p.is_empty()),
            request_type: s("RequestType").unwrap_or_default(),
        }
    }
}

/// Parses `event` with the protocol's types; the error says what is wrong.
pub fn parse(event: &Value) -> Result<Request, String> {
    let typed: Typed = serde_json::from_value(event.clone())
        .map_err(|e| format!("the event is not a CloudFormation custom resource request: {e}"))?;
    let r = match typed {
        Typed::Create(c) => Request {
            request_type: RequestType::Create,
            response_url: c.response_url,
            stack_id: c.stack_id,
            request_id: c.request_id,
            resource_type: c.resource_type,
            logical_resource_id: c.logical_resource_id,
            physical_resource_id: None,
            properties: c.resource_properties,
            old_properties: None,
        },
        Typed::Update(u) => Request {
            request_type: RequestType::Update,
            response_url: u.response_url,
            stack_id: u.stack_id,
            request_id: u.request_id,
            resource_type: u.resource_type,
            logical_resource_id: u.logical_resource_id,
            physical_resource_id: Some(u.physical_resource_id),
            properties: u.resource_properties,
            old_properties: Some(u.old_resource_properties),
        },
        Typed::Delete(d) => Request {
            request_type: RequestType::Delete,
            response_url: d.response_url,
            stack_id: d.stack_id,
            request_id: d.request_id,
            resource_type: d.resource_type,
            logical_resource_id: d.logical_resource_id,
            physical_resource_id: Some(d.physical_resource_id),
            properties: d.resource_properties,
            old_properties: None,
        },
        _ => return Err("unknown RequestType".into()),
    };
    Ok(r)
}

/// The event with the ResponseURL's query (its signature) removed, safe to log.
pub fn redacted(event: &Value) -> Value {
    let mut v = event.clone();
    if let Some(url) = v.get_mut("ResponseURL") {
        let shown = url
            .as_str()
            .map(|u| format!("{}?<redacted>", u.split('?').next().unwrap_or("")))
            .unwrap_or_else(|| "<redacted>".into());
        *url = Value::String(shown);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn salvage_reads_ids_from_an_event_of_the_wrong_shape() {
        let e = json!({"ResponseURL": "https://x/y?sig=1", "StackId": "s", "RequestId": "r", "LogicalResourceId": "L", "RequestType": 7});
        let env = Envelope::salvage(&e);
        assert_eq!(env.response_url.as_deref(), Some("https://x/y?sig=1"));
        assert_eq!(
            (
                env.stack_id.as_str(),
                env.request_id.as_str(),
                env.logical_resource_id.as_str()
            ),
            ("s", "r", "L")
        );
        assert!(parse(&e).is_err());
    }

    #[test]
    fn redaction_removes_the_signature() {
        let e = json!({"ResponseURL": "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc"});
        let r = redacted(&e).to_string();
        assert!(!r.contains("abc") && r.contains("<redacted>"));
    }
}
