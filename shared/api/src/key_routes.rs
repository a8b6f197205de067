//! The merchant API's key routes (`account:admin`):
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/api-keys` | `{"name", "scopes": [...], "expires_at"?}` → 201 with the key, shown this once |
//! | `GET /v1/api-keys` | the merchant's keys: id, name, prefix, scopes, created, last used, expiry |
//! | `DELETE /v1/api-keys/{id}` | revoke it at once |
//!
//! A key can only hand out scopes it holds itself, so an administrator's key without
//! `pii:read` cannot mint one with it.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::MerchantId;
use rc_orders::{ApiKeyRepository, MAX_KEY_LIFETIME_DAYS, PresentedKey, Scope, key_name};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{ApiError, json};

/// The most scopes a request may name (each at most once counts; more is a malformed request).
const MAX_REQUESTED_SCOPES: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<String>,
}

fn invalid(reason: &'static str, message: &str) -> ApiError {
    ApiError::InvalidPayload {
        reason,
        message: message.to_owned(),
    }
}

pub(crate) struct KeyRoutes {
    pub repo: Arc<ApiKeyRepository>,
}

impl KeyRoutes {
    pub(crate) async fn create(
        &self,
        merchant: &MerchantId,
        presented: &PresentedKey,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let now = self.repo.now();
        let request: NewKey = serde_json::from_slice(body).map_err(|_| {
            invalid(
                "invalid_body",
                "expected {\"name\": \"...\", \"scopes\": [\"orders:read\", ...], \"expires_at\": \"<RFC 3339>\"?}",
            )
        })?;
        let name = key_name(&request.name).ok_or(invalid(
            "invalid_field",
            "field `name` must be 1 to 100 printable characters",
        ))?;
        if request.scopes.is_empty() || request.scopes.len() > MAX_REQUESTED_SCOPES {
            return Err(invalid(
                "invalid_field",
                "field `scopes` must name 1 to 32 scopes",
            ));
        }
        let mut scopes = Vec::with_capacity(request.scopes.len());
        for raw in &request.scopes {
            let scope = Scope::parse(raw).ok_or(invalid(
                "unknown_scope",
                "field `scopes` names a scope that does not exist (see docs/api-scopes.md)",
            ))?;
            if !presented.has(scope) {
                return Err(ApiError::ScopeRequired(scope.as_str()));
            }
            scopes.push(scope);
        }
        let expires_at = request
            .expires_at
            .as_deref()
            .map(|raw| {
                OffsetDateTime::parse(raw, &Rfc3339)
                    .ok()
                    .filter(|at| {
                        *at > now && *at <= now + time::Duration::days(MAX_KEY_LIFETIME_DAYS)
                    })
                    .ok_or(invalid(
                        "invalid_field",
                        "field `expires_at` must be an RFC 3339 time in the next 730 days",
                    ))
            })
            .transpose()?;
        let (key, info) = self
            .repo
            .issue_named(merchant, &name, &scopes, expires_at)
            .await?;
        tracing::info!(%merchant, key_id = %info.id, "api key issued");
        let mut body = serde_json::to_value(&info).map_err(|_| ApiError::Internal)?;
        body["key"] = serde_json::json!(
            key.0
                .reveal(rc_domain::RevealPurpose::Authentication)
                .as_str()
        );
        Ok(json(StatusCode::CREATED, &body))
    }

    pub(crate) async fn list(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let keys = self.repo.list(merchant).await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "api_keys": keys }),
        ))
    }

    pub(crate) async fn revoke(
        &self,
        merchant: &MerchantId,
        id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        if !self.repo.revoke(merchant, id).await? {
            return Err(ApiError::NotFound);
        }
        tracing::info!(%merchant, key_id = %id, "api key revoked");
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "id": id, "status": "revoked" }),
        ))
    }
}
