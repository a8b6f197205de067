//! Marketplace channels: what comes in from them and goes out to them, in their documented shapes.

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
