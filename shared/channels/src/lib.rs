//! Marketplace channels: what comes in from them and goes out to them, in their documented shapes.

pub mod amazon;
pub mod shopify;

/// A JSON error described by its kind and position only: serde_json's own messages can quote the
/// offending value, which may be PII or a secret.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong type, missing or unknown field",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// Parses an optional PII detail of a channel payload. A malformed one is left out and its field
/// name recorded (never its value): an order must not be lost for a badly typed phone number.
pub(crate) fn optional_pii<T: zeroize::Zeroize, E>(
    raw: Option<&str>,
    field: &'static str,
    parse: impl Fn(&str) -> Result<T, E>,
    dropped: &mut Vec<&'static str>,
) -> Option<rc_domain::Pii<T>> {
    let raw = raw?;
    match parse(raw) {
        Ok(value) => Some(rc_domain::Pii::new(value)),
        Err(_) => {
            dropped.push(field);
            None
        }
    }
}
