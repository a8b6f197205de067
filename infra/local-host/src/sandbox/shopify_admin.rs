//! A local Shopify Admin REST API (`orders.json`), serving the orders the sandbox placed, for
//! reconciliation to find the ones whose webhooks were "lost".

use std::sync::Mutex;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The Admin API token the demo shop is connected with.
pub const SANDBOX_ACCESS_TOKEN: &str = "shpat_local_sandbox";

#[derive(Default)]
pub struct ShopifySandboxAdmin {
    orders: Mutex<Vec<serde_json::Value>>,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Bytes> {
    rc_api::json(status, &body)
}

impl ShopifySandboxAdmin {
    pub fn record(&self, order: &[u8]) {
        if let Ok(order) = serde_json::from_slice(order) {
            self.orders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(order);
        }
    }

    /// `GET /sandbox/shopify/admin/api/2026-10/orders.json?status=any&updated_at_min=...`
    pub fn handle(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let token = request
            .headers()
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok());
        if token != Some(SANDBOX_ACCESS_TOKEN) {
            return json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({"errors": "[API] Invalid API key or access token"}),
            );
        }
        let since = request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|p| p.strip_prefix("updated_at_min="))
            .map(|v| v.replace("%3A", ":").replace("%2B", "+"))
            .and_then(|v| OffsetDateTime::parse(&v, &Rfc3339).ok());
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let matching: Vec<&serde_json::Value> = orders
            .iter()
            .filter(|o| {
                let updated = o["updated_at"]
                    .as_str()
                    .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
                match (since, updated) {
                    (Some(since), Some(updated)) => updated >= since,
                    _ => true,
                }
            })
            .collect();
        json(StatusCode::OK, serde_json::json!({ "orders": matching }))
    }
}
