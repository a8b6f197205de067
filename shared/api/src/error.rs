use bytes::Bytes;
use http::{Response, StatusCode};
use rc_orders::RepoError;
use serde::Serialize;

use crate::json;

/// Every way a request can fail, with its status and a stable, machine-readable reason. Messages
/// are short and never carry request values (which may be PII) or internal details.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `missing_header`
    #[error("required header `{0}` is missing or invalid")]
    MissingHeader(&'static str),
    /// 400 `malformed_json`
    #[error("{0}")]
    MalformedJson(String),
    /// 401 `invalid_hmac`
    #[error("the webhook signature is missing or does not match")]
    InvalidSignature,
    /// 401 `unauthorized`
    #[error("a valid API key is required (Authorization: Bearer <key>)")]
    Unauthorized,
    /// 401 `key_expired`: the key was valid until its expiry.
    #[error("this API key has expired; issue a new one")]
    KeyExpired,
    /// 403 `insufficient_scope`: the key is valid but lacks the named scope.
    #[error("this API key lacks the `{0}` scope")]
    ScopeRequired(&'static str),
    /// 404 `not_found`
    #[error("not found")]
    NotFound,
    /// 409 `conflict`
    #[error("the resource belongs to someone else or changed concurrently")]
    Conflict,
    /// 409 with its own reason (`warehouse_in_use`): the resource is still needed.
    #[error("{message}")]
    InUse {
        reason: &'static str,
        message: &'static str,
    },
    /// 410 `account_closed`
    #[error("this account was cancelled")]
    AccountClosed,
    /// 405 `method_not_allowed`
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408 `request_timeout`: the request did not arrive whole in time.
    #[error("the request took too long to arrive")]
    RequestTimeout,
    /// 413 `payload_too_large`
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 422 with the payload's own reason (`missing_field`, `invalid_field`, ...)
    #[error("{message}")]
    InvalidPayload {
        reason: &'static str,
        message: String,
    },
    /// 400 with its own reason (`invalid_state`, `invalid_callback`, ...): a connect flow's
    /// callback that cannot be completed; nothing was stored.
    #[error("{message}")]
    BadRequest {
        reason: &'static str,
        message: &'static str,
    },
    /// 503 `app_not_configured`: this deployment has no credentials for the marketplace's app.
    #[error("the {0} app is not configured on this deployment")]
    AppNotConfigured(&'static str),
    /// 422 `unsupported_topic`
    #[error("this webhook topic is not handled")]
    UnsupportedTopic,
    /// 502 with the courier's failure as a reason (`courier_unavailable`, ...): a courier
    /// call the request needed failed; nothing changed here.
    #[error("the courier or marketplace could not be reached or refused the call")]
    Upstream(&'static str),
    /// 503 `temporarily_unavailable`: the client should retry (storage throttled, KMS down).
    #[error("temporarily unavailable, retry later")]
    Unavailable,
    /// 500 `internal_error`
    #[error("internal error")]
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingHeader(_) | Self::MalformedJson(_) | Self::BadRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::InvalidSignature | Self::Unauthorized | Self::KeyExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::ScopeRequired(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::InUse { .. } => StatusCode::CONFLICT,
            Self::AccountClosed => StatusCode::GONE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidPayload { .. } | Self::UnsupportedTopic => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable | Self::AppNotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidSignature => "invalid_hmac",
            Self::Unauthorized => "unauthorized",
            Self::KeyExpired => "key_expired",
            Self::ScopeRequired(_) => "insufficient_scope",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::InUse { reason, .. } => reason,
            Self::AccountClosed => "account_closed",
            Self::RequestTimeout => "request_timeout",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::InvalidPayload { reason, .. } | Self::BadRequest { reason, .. } => reason,
            Self::AppNotConfigured(_) => "app_not_configured",
            Self::UnsupportedTopic => "unsupported_topic",
            Self::Upstream(reason) => reason,
            Self::Unavailable => "temporarily_unavailable",
            Self::Internal => "internal_error",
        }
    }

    pub fn into_response(self) -> Response<Bytes> {
        json(
            self.status(),
            &ErrorBody {
                error: self.reason(),
                message: self.to_string(),
            },
        )
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        // Repository errors carry codes and field names, never values: safe to log.
        if e.is_retryable() {
            tracing::warn!(error = %e, "dependency unavailable");
            ApiError::Unavailable
        } else {
            tracing::error!(error = %e, "request failed");
            ApiError::Internal
        }
    }
}
