//! The merchant API's privacy routes: account cancellation, deletion receipts, and the privacy
//! requests recorded from channels (with the data-request report, opened on demand).

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{BuyerPii, MerchantId, OrderId, PiiRule, PostalAddress, RevealPurpose};
use rc_orders::{
    AuditLog, DeadlineCursor, OrderRepository, PiiAccess, PrivacyRequestRepository, RepoError,
};
use rc_privacy::{AccountCancellation, CancellationStatus, PrivacyError, ReceiptLedger};
use rc_vault::VaultError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiError, json};

/// Partition items and keys a cancellation removes within the request; the rest is finished by
/// the hourly privacy run (the merchant's PII is unreadable from the first step either way).
const CANCELLATION_BUDGET_IN_REQUEST: usize = 2_000;
/// Receipts per page.
const RECEIPT_PAGE: usize = 100;
/// Orders per page of the deadline list.
const DEADLINE_PAGE: usize = 100;

/// What the privacy routes need.
pub struct PrivacyApi {
    pub requests: Arc<PrivacyRequestRepository>,
    pub receipts: Arc<ReceiptLedger>,
    pub cancellation: Arc<AccountCancellation>,
    pub audit: Arc<AuditLog>,
}

/// `DELETE /v1/account`: the merchant confirms by naming its own merchant id.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelAccount {
    #[serde(default)]
    confirm: Option<String>,
}

impl From<PrivacyError> for ApiError {
    fn from(e: PrivacyError) -> Self {
        match e {
            PrivacyError::Repo(repo) => repo.into(),
            other if other.is_retryable() => {
                tracing::warn!(error = %other, "dependency unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

fn status_response(status: CancellationStatus) -> Response<Bytes> {
    let code = match status {
        CancellationStatus::Cancelled { .. } => StatusCode::OK,
        CancellationStatus::InProgress { .. } => StatusCode::ACCEPTED,
    };
    json(code, &status)
}

impl PrivacyApi {
    pub(crate) async fn cancel_account(
        &self,
        merchant: &MerchantId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        // No body, `{}` and a wrong id all lack the confirmation: one answer for all three.
        let body: CancelAccount = if body.iter().all(u8::is_ascii_whitespace) {
            CancelAccount { confirm: None }
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?
        };
        if body.confirm.as_deref() != Some(merchant.as_str()) {
            return Err(ApiError::InvalidPayload {
                reason: "confirmation_required",
                message: "field `confirm` must be your merchant id".into(),
            });
        }
        let status = self
            .cancellation
            .cancel(
                merchant,
                PiiRule::AccountCancellation,
                CANCELLATION_BUDGET_IN_REQUEST,
            )
            .await?;
        tracing::info!(%merchant, "account cancellation requested");
        Ok(status_response(status))
    }

    pub(crate) async fn cancellation_status(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        let status = self
            .cancellation
            .status(merchant)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(status_response(status))
    }

    pub(crate) async fn receipts(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
        newest_first: bool,
    ) -> Result<Response<Bytes>, ApiError> {
        let after = after
            .map(|a| a.parse::<u64>().map_err(|_| ApiError::NotFound))
            .transpose()?;
        let (receipts, next) = if newest_first {
            self.receipts
                .list_newest_first(merchant, RECEIPT_PAGE, after)
                .await?
        } else {
            self.receipts.list(merchant, RECEIPT_PAGE, after).await?
        };
        Ok(json(
            StatusCode::OK,
            &json!({ "receipts": receipts, "next": next.map(|n| n.to_string()) }),
        ))
    }

    /// `GET /v1/privacy/deadlines`: the orders still holding buyer data, earliest deletion first,
    /// from the (partition, deadline) index; nothing is opened.
    pub(crate) async fn deadlines(
        &self,
        orders: &OrderRepository,
        merchant: &MerchantId,
        within_days: Option<u16>,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let after = after
            .map(|a| DeadlineCursor::parse(a).ok_or(ApiError::NotFound))
            .transpose()?;
        let within = within_days.map(|days| time::Duration::days(i64::from(days)));
        let (entries, next) = orders
            .by_deadline(merchant, within, DEADLINE_PAGE, after.as_ref())
            .await?;
        Ok(json(
            StatusCode::OK,
            &json!({ "orders": entries, "next": next.map(|n| n.to_string()) }),
        ))
    }

    pub(crate) async fn verify_receipts(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        let report = self.receipts.verify(merchant).await?;
        Ok(json(StatusCode::OK, &report))
    }

    pub(crate) async fn requests(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let (requests, next) = self.requests.list(merchant, 100, after).await?;
        Ok(json(
            StatusCode::OK,
            &json!({ "requests": requests, "next": next }),
        ))
    }

    pub(crate) async fn request(
        &self,
        merchant: &MerchantId,
        id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let view = self
            .requests
            .get(merchant, "shopify", id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &view))
    }

    /// The data a buyer asked for, opened now from the sealed store (never kept as a copy). Only
    /// for a fulfilled `customers/data_request`, and only for the orders whose sealed customer id
    /// matched the one the request named (a request naming someone else's orders opens nothing).
    /// The access is recorded in the audit trail before anything is opened. Orders purged since
    /// show as purged.
    pub(crate) async fn report(
        &self,
        orders: &OrderRepository,
        merchant: &MerchantId,
        id: &str,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<Response<Bytes>, ApiError> {
        let report = self
            .data_subject_report(orders, merchant, id, actor)
            .await?;
        Ok(json(StatusCode::OK, &report))
    }

    /// A fulfilled data request's report, opened now: the buyer's data of each order that
    /// matched the customer, recorded in the audit trail under `actor` before anything is
    /// opened. (The merchant API's route, and `rc-ops data-report` for an operator.)
    pub async fn data_subject_report(
        &self,
        orders: &OrderRepository,
        merchant: &MerchantId,
        id: &str,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<Value, ApiError> {
        let view = self
            .requests
            .get(merchant, "shopify", id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if view.kind != "customer_data_request" || view.status != "fulfilled" {
            return Err(ApiError::Conflict);
        }
        let matched = |order: &str| {
            view.outcome
                .as_ref()
                .and_then(|o| o.get("orders"))
                .and_then(|o| o.get(order))
                .and_then(|o| o.get("customer_matches"))
                .and_then(Value::as_bool)
                == Some(true)
        };
        let opened: Vec<String> = view
            .orders
            .iter()
            .filter(|order| matched(order))
            .cloned()
            .collect();
        self.audit
            .record(
                merchant,
                PiiAccess {
                    action: "pii_reveal",
                    purpose: "data_subject_report",
                    actor,
                    subject: &view.id,
                    orders: &opened,
                },
            )
            .await?;
        let mut entries = Vec::with_capacity(view.orders.len());
        for id in &view.orders {
            let Ok(order) = OrderId::parse(id) else {
                continue;
            };
            let public = orders.view(merchant, &order).await?;
            if !opened.contains(id) {
                entries.push(json!({ "order": public, "buyer": "not_this_customer" }));
                continue;
            }
            let data = match orders.buyer(merchant, &order).await {
                Ok(Some(buyer)) => buyer_json(&buyer, RevealPurpose::DataSubjectReport),
                Ok(None) | Err(RepoError::Vault(VaultError::KeyDestroyed)) => json!("purged"),
                Err(e) => return Err(e.into()),
            };
            entries.push(json!({
                "order": public,
                "buyer": data,
            }));
        }
        tracing::info!(%merchant, request = %id, actor = actor.id, "data request report opened");
        Ok(json!({ "request": view.id, "orders": entries }))
    }

    /// The merchant's PII access trail, oldest first.
    pub(crate) async fn audit(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
        newest_first: bool,
    ) -> Result<Response<Bytes>, ApiError> {
        let page = if newest_first {
            self.audit.list_newest_first(merchant, 100, after).await?
        } else {
            self.audit.list(merchant, 100, after).await?
        };
        let (entries, next) = page.ok_or(ApiError::NotFound)?;
        Ok(json(
            StatusCode::OK,
            &json!({ "entries": entries, "next": next }),
        ))
    }
}

fn address_json(address: &PostalAddress) -> Value {
    json!({
        "name": address.name,
        "company": address.company,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
    })
}

/// The buyer's data in a response, for `purpose` only: the buyer's own access request, or the
/// merchant's staff opening one order for a reason they name.
pub(crate) fn buyer_json(buyer: &BuyerPii, purpose: RevealPurpose) -> Value {
    json!({
        "name": buyer.name.as_ref().map(|v| v.reveal(purpose).as_str()),
        "email": buyer.email.as_ref().map(|v| v.reveal(purpose).as_str()),
        "phone": buyer.phone.as_ref().map(|v| v.reveal(purpose).as_str()),
        "shipping_address": buyer.shipping_address.as_ref().map(|v| address_json(v.reveal(purpose))),
        "billing_address": buyer.billing_address.as_ref().map(|v| address_json(v.reveal(purpose))),
    })
}
