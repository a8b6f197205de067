//! Marketplace channels: what comes in from them and goes out to them, in their documented shapes.

pub mod amazon;
#[cfg(feature = "test-util")]
pub mod fake;
pub mod http;
pub mod port;
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
    /// A named operation got an answer it cannot use (e.g. `createFeedDocument` answered 404).
    #[error("{0} answered {1}")]
    Operation(&'static str, u16),
    /// Refused with the API's own error code (`TOKEN_EXPIRED`, `InvalidInput`).
    #[error("the marketplace refused the request: {code} ({status})")]
    Refused { status: u16, code: String },
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

/// The most bytes read from any marketplace answer (an order page, a feed report, decompressed
/// included): far above real answers, and a bound on what a misbehaving server can make us hold.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Reads an answer's body, refusing more than `max` bytes (announced or sent).
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<bytes::Bytes, FetchError> {
    let too_large = || FetchError::Unavailable(format!("answer larger than {max} bytes"));
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| FetchError::Unavailable("the answer was cut off".into()))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub use http::HttpClient;

/// Whether `url` points at this machine (a sandbox or a test stand-in): the only place plain
/// `http://` is accepted.
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://").or(url.strip_prefix("https://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether an endpoint may be configured: `https://`, or `http://` on this machine only.
pub fn endpoint_allowed(url: &str) -> bool {
    url.starts_with("https://") || (url.starts_with("http://") && is_loopback(url))
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn plain_http_is_only_for_this_machine() {
        let cases = [
            ("https://sellingpartnerapi-eu.amazon.com", true),
            ("http://127.0.0.1:8080/sandbox/amazon", true),
            ("http://localhost:9000", true),
            ("http://[::1]:9000/x", true),
            ("http://sellingpartnerapi-na.amazon.com", false),
            ("http://127.0.0.1.evil.example", false),
            ("http://user@10.0.0.1/", false),
            ("ftp://127.0.0.1", false),
        ];
        for (url, allowed) in cases {
            assert_eq!(endpoint_allowed(url), allowed, "{url}");
        }
    }
}
