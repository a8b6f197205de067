//! A local Shopify Admin API: the REST `orders.json`, serving the orders the sandbox placed, for
//! reconciliation to find the ones whose webhooks were "lost"; and fulfillment through
//! fulfillment orders (GraphQL: the order's fulfillment orders and fulfillments,
//! `fulfillmentCreate`, `fulfillmentTrackingInfoUpdate`), shown at
//! `GET /sandbox/shopify/fulfillments` (no buyer data).

use std::collections::BTreeMap;
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
    fulfillment: Mutex<Fulfillment>,
}

/// What was fulfilled: units per (order, line item), and the fulfillments made.
#[derive(Default)]
struct Fulfillment {
    fulfilled: BTreeMap<(u64, u64), i64>,
    /// (order, id, tracking number, company, notify customer)
    made: Vec<(u64, String, String, String, bool)>,
}

/// Shopify's answer to a call without the shop's access token.
fn unauthorized(request: &Request<Bytes>) -> Option<Response<Bytes>> {
    let token = request
        .headers()
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    (token != Some(SANDBOX_ACCESS_TOKEN)).then(|| {
        json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"errors": "[API] Invalid API key or access token"}),
        )
    })
}

fn gid_tail(value: &serde_json::Value) -> Option<u64> {
    value.as_str()?.rsplit('/').next()?.parse().ok()
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

    /// Whether a GraphQL body is a fulfillment operation (served here; inventory is served by
    /// the sandbox inventory).
    pub fn is_fulfillment(body: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|b| {
            b["query"].as_str().is_some_and(|q| {
                q.starts_with("query OrderFulfillment(") || q.starts_with("mutation Fulfillment")
            })
        })
    }

    /// The fulfillment GraphQL operations, as Shopify answers them.
    pub fn graphql(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if let Some(refused) = unauthorized(request) {
            return refused;
        }
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or_default();
        let query = body["query"].as_str().unwrap_or_default();
        let variables = &body["variables"];
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.fulfillment.lock().unwrap_or_else(|p| p.into_inner());
        let user_errors = |field: &str, message: &str| serde_json::json!([{"field": [field], "message": message}]);
        if query.starts_with("query OrderFulfillment(") {
            let id = gid_tail(&variables["id"]).unwrap_or(0);
            let Some(order) = orders.iter().find(|o| o["id"].as_u64() == Some(id)) else {
                return json(StatusCode::OK, serde_json::json!({"data": {"order": null}}));
            };
            let lines: Vec<serde_json::Value> = order["line_items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let line = l["id"].as_u64().unwrap_or(0);
                    let total = l["quantity"].as_i64().unwrap_or(0);
                    let done = state.fulfilled.get(&(id, line)).copied().unwrap_or(0);
                    serde_json::json!({"id": format!("gid://shopify/FulfillmentOrderLineItem/{line}"),
                        "remainingQuantity": total - done, "totalQuantity": total,
                        "lineItem": {"id": format!("gid://shopify/LineItem/{line}"), "sku": l["sku"]}})
                })
                .collect();
            let open = lines
                .iter()
                .any(|l| l["remainingQuantity"].as_i64() > Some(0));
            let fulfillments: Vec<serde_json::Value> = state
                .made
                .iter()
                .filter(|(o, ..)| *o == id)
                .map(|(_, fid, number, company, _)| {
                    serde_json::json!({"id": fid, "trackingInfo": [{"number": number, "company": company}]})
                })
                .collect();
            return json(
                StatusCode::OK,
                serde_json::json!({"data": {"order": {"id": variables["id"], "fulfillments": fulfillments,
                    "fulfillmentOrders": {"nodes": [{"id": format!("gid://shopify/FulfillmentOrder/{id}"),
                        "status": if open { "OPEN" } else { "CLOSED" }, "lineItems": {"nodes": lines}}]}}}}),
            );
        }
        if query.starts_with("mutation FulfillmentCreate(") {
            let input = &variables["fulfillment"];
            let group = &input["lineItemsByFulfillmentOrder"][0];
            let order = gid_tail(&group["fulfillmentOrderId"]).unwrap_or(0);
            let Some(known) = orders.iter().find(|o| o["id"].as_u64() == Some(order)) else {
                return json(
                    StatusCode::OK,
                    serde_json::json!({"data": {"fulfillmentCreate": {"fulfillment": null,
                    "userErrors": user_errors("fulfillmentOrderId", "not found")}}}),
                );
            };
            let mut take = Vec::new();
            for line in group["fulfillmentOrderLineItems"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let id = gid_tail(&line["id"]).unwrap_or(0);
                let quantity = line["quantity"].as_i64().unwrap_or(0);
                let total = known["line_items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|l| l["id"].as_u64() == Some(id))
                    .and_then(|l| l["quantity"].as_i64())
                    .unwrap_or(0);
                let done = state.fulfilled.get(&(order, id)).copied().unwrap_or(0);
                if quantity <= 0 || done + quantity > total {
                    return json(
                        StatusCode::OK,
                        serde_json::json!({"data": {"fulfillmentCreate": {"fulfillment": null,
                        "userErrors": user_errors("lineItemsByFulfillmentOrder", "Invalid fulfillment order line item quantity requested.")}}}),
                    );
                }
                take.push((id, quantity));
            }
            for (id, quantity) in take {
                *state.fulfilled.entry((order, id)).or_default() += quantity;
            }
            let fid = format!("gid://shopify/Fulfillment/{order}{}", state.made.len() + 1);
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            state.made.push((
                order,
                fid.clone(),
                text(&input["trackingInfo"]["number"]),
                text(&input["trackingInfo"]["company"]),
                input["notifyCustomer"] == true,
            ));
            return json(
                StatusCode::OK,
                serde_json::json!({"data": {"fulfillmentCreate": {"fulfillment": {"id": fid, "status": "SUCCESS"}, "userErrors": []}}}),
            );
        }
        if query.starts_with("mutation FulfillmentTrackingInfoUpdate(") {
            let id = variables["fulfillmentId"].as_str().unwrap_or_default();
            let number = variables["trackingInfoInput"]["number"]
                .as_str()
                .unwrap_or_default();
            return match state.made.iter_mut().find(|(_, fid, ..)| fid == id) {
                Some(made) => {
                    made.2 = number.to_owned();
                    json(
                        StatusCode::OK,
                        serde_json::json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": {"id": id}, "userErrors": []}}}),
                    )
                }
                None => json(
                    StatusCode::OK,
                    serde_json::json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": null,
                    "userErrors": user_errors("fulfillmentId", "Fulfillment does not exist.")}}}),
                ),
            };
        }
        json(
            StatusCode::OK,
            serde_json::json!({"errors": [{"message": "unknown operation", "extensions": {"code": "BAD_REQUEST"}}]}),
        )
    }

    /// What was fulfilled (`GET /sandbox/shopify/fulfillments`).
    pub fn fulfillments(&self) -> Response<Bytes> {
        let state = self.fulfillment.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<serde_json::Value> = state
            .made
            .iter()
            .map(|(order, id, number, company, notify)| {
                serde_json::json!({"order_id": order, "fulfillment_id": id, "tracking_number": number,
                    "company": company, "notify_customer": notify})
            })
            .collect();
        json(StatusCode::OK, serde_json::json!({"fulfillments": list}))
    }

    /// `GET /sandbox/shopify/admin/api/2026-10/orders.json?status=any&updated_at_min=...`
    pub fn handle(&self, request: &Request<Bytes>) -> Response<Bytes> {
        if let Some(refused) = unauthorized(request) {
            return refused;
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
