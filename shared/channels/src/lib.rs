//! Marketplace channels: what comes in from them and goes out to them, in their documented shapes.

pub mod amazon;
pub mod shopify;

/// Why a call to a marketplace API failed. No variant carries a response body or a URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the order does not exist")]
    NotFound,
    #[error("the marketplace refused our credentials ({0})")]
    Unauthorized(u16),
    #[error("the marketplace kept throttling us; retry later")]
    Throttled,
    #[error("the marketplace is unavailable: {0}")]
    Unavailable(String),
    #[error("the marketplace rejected the request with status {0}")]
    Rejected(u16),
}

impl FetchError {
    /// Whether a later attempt may succeed (so the message should go back to the queue).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::Unavailable(_) | Self::Unauthorized(_)
        )
    }
}

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
    keep_or_drop(raw.map(parse), field, dropped)
}

/// An optional detail already parsed: kept if valid, otherwise left out with its field name
/// recorded.
pub(crate) fn keep_or_drop<T: zeroize::Zeroize, E>(
    parsed: Option<Result<T, E>>,
    field: &'static str,
    dropped: &mut Vec<&'static str>,
) -> Option<rc_domain::Pii<T>> {
    match parsed? {
        Ok(value) => Some(rc_domain::Pii::new(value)),
        Err(_) => {
            dropped.push(field);
            None
        }
    }
}

/// An optional text field, trimmed; empty counts as absent (channels send both `null` and `""`).
pub(crate) fn non_empty(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Two optional parts joined by `separator`, or whichever one is present.
pub(crate) fn join_present(
    first: Option<&str>,
    second: Option<&str>,
    separator: &str,
) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}{separator}{b}")),
        (a, b) => a.or(b).map(str::to_owned),
    }
}
