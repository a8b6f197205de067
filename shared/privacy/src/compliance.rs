//! Fulfils the privacy requests ingestion recorded (Shopify's mandatory compliance webhooks):
//!
//! - `customers/redact`: each named order's PII is purged now, unless the order is still to be
//!   fulfilled (not shipped, not cancelled): then it stays until its deadline, which shipment
//!   sets (at most 30 days later) and which is never later than placed + 90 days;
//! - `shop/redact`: the shop's merchant account is cancelled (see [`AccountCancellation`]);
//! - `customers/data_request`: records which PII fields are held for each named order (names
//!   only), and only for orders whose sealed Shopify customer id is the one the request names
//!   (`customer_matches`); the merchant reads the values through
//!   `GET /v1/privacy/requests/{id}/report` (a `pii:read` key, audited), opened at that moment
//!   and only for matching orders, so the report is never another copy of the PII and a forged
//!   request naming other buyers' orders opens nothing.

use std::sync::Arc;

use rc_domain::{MerchantId, OrderId, OrderStatus, PiiRule};
use rc_orders::{OrderRepository, PendingPrivacyRequest, PrivacyRequestRepository};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{AccountCancellation, PrivacyError, Purger};

#[derive(Debug, Clone, Default, Serialize)]
pub struct ComplianceReport {
    pub fulfilled: u64,
    /// Requests that failed and stay pending (request key, reason).
    pub failed: Vec<(String, String)>,
}

pub struct ComplianceRequests {
    requests: Arc<PrivacyRequestRepository>,
    orders: Arc<OrderRepository>,
    purger: Arc<Purger>,
    cancellation: Arc<AccountCancellation>,
}

/// Requests name orders by our ids (ingestion mapped the channel's ids when recording them).
fn shopify_order(id: &str) -> Option<OrderId> {
    OrderId::parse(id).ok()
}

impl ComplianceRequests {
    pub fn new(
        requests: Arc<PrivacyRequestRepository>,
        orders: Arc<OrderRepository>,
        purger: Arc<Purger>,
        cancellation: Arc<AccountCancellation>,
    ) -> Self {
        Self {
            requests,
            orders,
            purger,
            cancellation,
        }
    }

    /// Fulfils up to `limit` pending requests, oldest first. `cancellation_budget` bounds the
    /// work a `shop/redact` does now (the rest is resumed by later runs).
    pub async fn fulfil_pending(
        &self,
        limit: usize,
        cancellation_budget: usize,
    ) -> Result<ComplianceReport, PrivacyError> {
        let mut report = ComplianceReport::default();
        let pending = self.requests.pending(limit, None).await?;
        for request in pending.items {
            match self.fulfil(&request, cancellation_budget).await {
                Ok(outcome) => {
                    self.requests.complete(&request, &outcome).await?;
                    report.fulfilled += 1;
                }
                Err(error) => {
                    tracing::warn!(merchant = %request.merchant, kind = %request.kind, %error, "privacy request stays pending");
                    report
                        .failed
                        .push((request.request.sk.clone(), error.to_string()));
                }
            }
        }
        Ok(report)
    }

    async fn fulfil(
        &self,
        request: &PendingPrivacyRequest,
        cancellation_budget: usize,
    ) -> Result<Value, PrivacyError> {
        let merchant = &request.merchant;
        if request.kind == "shop_redact" {
            let status = self
                .cancellation
                .cancel(merchant, PiiRule::ShopRedact, cancellation_budget)
                .await?;
            return Ok(json!({ "account": status }));
        }
        let Some(orders) = self.requests.orders_of(request).await? else {
            return Ok(json!({ "account": "cancelled" }));
        };
        let customer = self.requests.customer_of(request).await?;
        let mut outcome = serde_json::Map::new();
        for id in orders {
            let result = match shopify_order(&id) {
                None => json!("not_an_order_id"),
                Some(order) => match request.kind.as_str() {
                    "customer_redact" => self.redact(merchant, &order).await?,
                    "customer_data_request" => {
                        self.describe(merchant, &order, customer.as_deref()).await?
                    }
                    _ => json!("unsupported_request"),
                },
            };
            outcome.insert(id, result);
        }
        Ok(json!({ "orders": outcome }))
    }

    async fn redact(&self, merchant: &MerchantId, order: &OrderId) -> Result<Value, PrivacyError> {
        let Some(view) = self.orders.view(merchant, order).await? else {
            return Ok(json!("not_held"));
        };
        let still_to_fulfil = !view.status.has_shipped() && view.status != OrderStatus::Cancelled;
        if still_to_fulfil {
            return Ok(json!("kept_until_deadline_needed_to_fulfil"));
        }
        let purged = self
            .purger
            .purge_now(merchant, order, PiiRule::CustomerRedact)
            .await?;
        Ok(json!(if purged { "purged" } else { "already_purged" }))
    }

    async fn describe(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        customer: Option<&str>,
    ) -> Result<Value, PrivacyError> {
        let Some(view) = self.orders.view(merchant, order).await? else {
            return Ok(json!({ "held": false }));
        };
        let matches = match customer {
            Some(customer) => self.orders.buyer_is(merchant, order, customer).await?,
            None => Some(false),
        };
        if matches != Some(true) {
            // Not this customer's order (or nothing sealed left): nothing of it is theirs.
            return Ok(json!({
                "held": false,
                "order_id": view.id,
                "customer_matches": matches.unwrap_or(false),
            }));
        }
        let record = self.orders.pii_record(merchant, order).await?;
        let fields = record
            .filter(|r| !r.stripped)
            .map(|r| r.fields)
            .unwrap_or_default();
        Ok(json!({
            "held": !fields.is_empty(),
            "order_id": view.id,
            "status": view.status,
            "pii_fields": fields,
            "customer_matches": true,
        }))
    }
}
