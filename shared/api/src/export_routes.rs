//! The merchant API's export routes.
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/exports` | `{"kind", "format"?, "from"?, "to"?, "filters"?, "include_pii"?}` → 202 with the export (queued); `Idempotency-Key` → the same export |
//! | `GET /v1/exports?after=` | the merchant's exports, oldest first |
//! | `GET /v1/exports/{id}` | one export: its state, rows, size, SHA-256, and when ready a download link minted now (15 minutes) |
//! | `DELETE /v1/exports/{id}` | deletes its file now |

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{Clock, MerchantId};
use rc_exports::{
    Created, ExportDeletion, ExportError, ExportFiles, ExportId, ExportRecord, ExportRepository,
    ExportRequest, ExportState, MAX_LINK_SECONDS, Sources,
};
use rc_orders::{AuditEvent, AuditLog, PresentedKey, Scope};
use rc_queue::{ExportJob, ExportJobs};
use serde_json::{Value, json};

use crate::{ApiError, json};

/// What the export routes need (absent where the deployment has no export storage).
pub struct ExportApi {
    pub exports: Arc<ExportRepository>,
    pub files: Arc<dyn ExportFiles>,
    pub deletion: Arc<ExportDeletion>,
    pub jobs: Arc<dyn ExportJobs>,
    pub sources: Sources,
    pub cancellation: Arc<rc_privacy::AccountCancellation>,
    pub audit: Arc<AuditLog>,
    pub clock: Arc<dyn Clock>,
}

/// An export as answered: no file location, a download link only when ready (minted now).
fn view(record: &ExportRecord, link: Option<(String, i64)>) -> Value {
    let request = &record.request;
    let mut out = json!({
        "id": record.id.as_str(),
        "kind": request.kind.as_str(),
        "format": request.format.extension(),
        "include_pii": request.include_pii,
        "from": request.from.map(|d| d.to_string()),
        "to": request.to.map(|d| d.to_string()),
        "filters": request.filters,
        "created_at": record.created_at,
    });
    match &record.state {
        ExportState::Queued => out["state"] = json!("queued"),
        ExportState::Running(progress) => {
            out["state"] = json!("running");
            out["rows"] = json!(progress.rows);
        }
        ExportState::Ready {
            rows,
            bytes,
            sha256,
            ready_at,
            expires_at,
        } => {
            out["state"] = json!("ready");
            out["rows"] = json!(rows);
            out["bytes"] = json!(bytes);
            out["sha256"] = json!(sha256);
            out["ready_at"] = json!(ready_at);
            out["expires_at"] = json!(expires_at);
            if let Some((url, until)) = link {
                out["download"] = json!({"url": url, "expires_at": until});
            }
        }
        ExportState::Failed { reason } => {
            out["state"] = json!("failed");
            out["reason"] = json!(reason);
        }
        ExportState::Expired { at } => {
            out["state"] = json!("expired");
            out["deleted_at"] = json!(at);
        }
        ExportState::Deleted { at } => {
            out["state"] = json!("deleted");
            out["deleted_at"] = json!(at);
        }
    }
    out
}

fn unavailable(e: ExportError) -> ApiError {
    match e {
        ExportError::IdempotencyKeyReused => ApiError::InvalidPayload {
            reason: "idempotency_key_reused",
            message: "this Idempotency-Key was used for a different export".into(),
        },
        ExportError::Moved => ApiError::Conflict,
        ExportError::Store(e) if e.is_retryable() => ApiError::Unavailable,
        other => {
            tracing::error!(error = %other, "export request failed");
            ApiError::Internal
        }
    }
}

pub(crate) fn export_from_path(raw: &str) -> Result<ExportId, ApiError> {
    ExportId::parse(raw).ok_or(ApiError::NotFound)
}

impl ExportApi {
    pub(crate) async fn create(
        &self,
        merchant: &MerchantId,
        key: &PresentedKey,
        body: &[u8],
        idempotency: Option<&str>,
        request_id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let today = self.clock.now().date();
        let request = ExportRequest::parse(body, today).map_err(|e| ApiError::InvalidPayload {
            reason: e.reason,
            message: format!("field `{}` is invalid ({})", e.field, e.reason),
        })?;
        if request.include_pii && !key.has(Scope::ExportsPii) {
            return Err(ApiError::ScopeRequired(Scope::ExportsPii.as_str()));
        }
        if self.sources.of(request.kind).is_none() {
            return Err(ApiError::InvalidPayload {
                reason: "kind_not_available",
                message: "this export kind is not available yet".into(),
            });
        }
        // An account being cancelled exports nothing more (its data is going).
        if self
            .cancellation
            .status(merchant)
            .await
            .map_err(|_| ApiError::Unavailable)?
            .is_some()
        {
            return Err(ApiError::InUse {
                reason: "account_cancelling",
                message: "the account is being cancelled",
            });
        }
        let created = self
            .exports
            .create(merchant, &request, idempotency, &key.key_id)
            .await
            .map_err(unavailable)?;
        let (record, new) = match created {
            Created::New(record) => (record, true),
            Created::Existing(record) => (record, false),
        };
        if new {
            self.audit
                .append(
                    merchant,
                    AuditEvent {
                        action: "export_requested",
                        purpose: if request.include_pii {
                            "with_pii"
                        } else {
                            "without_pii"
                        },
                        actor: &key.key_id,
                        subject: record.id.as_str(),
                        orders: &[],
                        request_id,
                    },
                )
                .await?;
        }
        // Sent again for a repeated request too: a job lost on the way is sent again, and the
        // worker skips an export already done.
        self.jobs
            .send(&[ExportJob {
                merchant: merchant.to_string(),
                export: record.id.as_str().to_owned(),
            }])
            .await
            .map_err(|_| ApiError::Unavailable)?;
        Ok(json(StatusCode::ACCEPTED, &view(&record, None)))
    }

    pub(crate) async fn list(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let (records, next) = self
            .exports
            .list(merchant, 100, after.map(str::to_owned))
            .await
            .map_err(unavailable)?;
        let exports: Vec<Value> = records.iter().map(|r| view(r, None)).collect();
        Ok(json(
            StatusCode::OK,
            &json!({"exports": exports, "next": next}),
        ))
    }

    async fn record(&self, merchant: &MerchantId, id: &ExportId) -> Result<ExportRecord, ApiError> {
        self.exports
            .get(merchant, id)
            .await
            .map_err(unavailable)?
            .ok_or(ApiError::NotFound)
    }

    pub(crate) async fn show(
        &self,
        merchant: &MerchantId,
        id: &ExportId,
    ) -> Result<Response<Bytes>, ApiError> {
        let record = self.record(merchant, id).await?;
        let link = if matches!(record.state, ExportState::Ready { .. }) {
            let key = record.file_key(merchant);
            let name = format!(
                "{}-{}.{}",
                record.request.kind.as_str(),
                id.as_str(),
                record.request.format.extension()
            );
            let url = self
                .files
                .link(&key, MAX_LINK_SECONDS, &name)
                .await
                .map_err(|_| ApiError::Unavailable)?;
            Some((url, self.clock.now().unix_timestamp() + MAX_LINK_SECONDS))
        } else {
            None
        };
        Ok(json(StatusCode::OK, &view(&record, link)))
    }

    pub(crate) async fn delete(
        &self,
        merchant: &MerchantId,
        id: &ExportId,
    ) -> Result<Response<Bytes>, ApiError> {
        let record = self.record(merchant, id).await?;
        if matches!(
            record.state,
            ExportState::Deleted { .. } | ExportState::Expired { .. }
        ) {
            return Ok(json(StatusCode::OK, &view(&record, None)));
        }
        let deleted = self
            .deletion
            .delete(merchant, &record, false)
            .await
            .map_err(|e| match e {
                rc_exports::WorkerError::Export(e) => unavailable(e),
                rc_exports::WorkerError::Source(_) => ApiError::Unavailable,
            })?;
        Ok(json(StatusCode::OK, &view(&deleted, None)))
    }
}
