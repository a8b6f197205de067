//! The sandbox channels' inventory: what the local Shopify and Amazon show for each listing,
//! as pushed by the real sync (`inventorySetQuantities` over GraphQL, `patchListingsItem`).
//! `GET /sandbox/inventory` shows it, with the time of the last push.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

#[derive(Default)]
struct Shown {
    /// (inventory item, location) -> available, on the sandbox Shopify.
    shopify: BTreeMap<(u64, u64), i64>,
    /// seller SKU -> quantity, on the sandbox Amazon.
    amazon: BTreeMap<String, i64>,
    pushes: u64,
    last_push: Option<String>,
}

#[derive(Default)]
pub struct SandboxInventory {
    shown: Mutex<Shown>,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn gid(value: &Value) -> Option<u64> {
    value.as_str()?.rsplit('/').next()?.parse().ok()
}

impl SandboxInventory {
    fn shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `POST .../graphql.json`: `inventorySetQuantities` (all or nothing, `changeFromQuantity`
    /// checked), or the aliased `inventoryLevel` read.
    pub fn shopify_graphql(&self, body: &[u8]) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let query = body["query"].as_str().unwrap_or_default();
        let mut shown = self.shown();
        if query.starts_with("mutation") {
            let quantities = body["variables"]["input"]["quantities"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut errors = Vec::new();
            let mut set = Vec::new();
            for q in &quantities {
                let level = (
                    gid(&q["inventoryItemId"]).unwrap_or(0),
                    gid(&q["locationId"]).unwrap_or(0),
                );
                let held = shown.shopify.get(&level).copied().unwrap_or(0);
                match q["changeFromQuantity"].as_i64() {
                    Some(from) if from != held => errors.push(json!({"field": ["input", "quantities"], "message": "stale", "code": "CHANGE_FROM_QUANTITY_STALE"})),
                    _ => set.push((level, q["quantity"].as_i64().unwrap_or(0))),
                }
            }
            if errors.is_empty() {
                shown.shopify.extend(set);
                shown.pushes += 1;
                shown.last_push = Some(now());
            }
            return rc_api::json(
                StatusCode::OK,
                &json!({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": null, "userErrors": errors}}}),
            );
        }
        let mut data = serde_json::Map::new();
        for (i, part) in query.split("inventoryItem(id: \"").skip(1).enumerate() {
            let item = part
                .split('/')
                .nth(4)
                .and_then(|p| p.split('"').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let location = part
                .split("Location/")
                .nth(1)
                .and_then(|p| p.split('"').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let quantity = shown.shopify.get(&(item, location)).copied().unwrap_or(0);
            data.insert(
                format!("l{i}"),
                json!({"inventoryLevel": {"quantities": [{"name": "available", "quantity": quantity}]}}),
            );
        }
        rc_api::json(StatusCode::OK, &json!({"data": data}))
    }

    /// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`: the quantity from
    /// `fulfillment_availability`.
    pub fn amazon_patch(&self, path: &str, body: &[u8]) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let sku = path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .replace("%20", " ");
        let quantity = body["patches"]
            .as_array()
            .and_then(|p| {
                p.iter()
                    .find(|p| p["path"] == "/attributes/fulfillment_availability")
            })
            .and_then(|p| p["value"][0]["quantity"].as_i64());
        let Some(quantity) = quantity else {
            return rc_api::json(
                StatusCode::OK,
                &json!({"sku": sku, "status": "INVALID", "submissionId": "sandbox", "issues": [{"code": "90220", "message": "quantity is required", "severity": "ERROR"}]}),
            );
        };
        let mut shown = self.shown();
        shown.amazon.insert(sku.clone(), quantity);
        shown.pushes += 1;
        shown.last_push = Some(now());
        rc_api::json(
            StatusCode::OK,
            &json!({"sku": sku, "status": "ACCEPTED", "submissionId": "sandbox", "issues": []}),
        )
    }

    /// `GET /sandbox/inventory`
    pub fn show(&self) -> Response<Bytes> {
        let shown = self.shown();
        let shopify: Vec<Value> = shown
            .shopify
            .iter()
            .map(|((item, location), q)| json!({"inventory_item_id": item, "location_id": location, "available": q}))
            .collect();
        rc_api::json(
            StatusCode::OK,
            &json!({
                "shopify": shopify,
                "amazon": shown.amazon,
                "pushes": shown.pushes,
                "last_push": shown.last_push,
            }),
        )
    }

    /// What the sandbox Shopify shows for a level (tests, the demo).
    pub fn shopify_available(&self, item: u64, location: u64) -> Option<i64> {
        self.shown().shopify.get(&(item, location)).copied()
    }
}
