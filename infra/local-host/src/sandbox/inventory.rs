//! The sandbox channels' inventory: what the local Shopify and Amazon show for each listing,
//! as pushed by the real sync (`inventorySetQuantities` over GraphQL, `patchListingsItem`, and
//! for 50 or more listings of a seller the Feeds API: `createFeedDocument`, the upload,
//! `createFeed`, `getFeed`, `getFeedDocument` and the processing report).
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
    /// `@idempotent` keys already applied, with their answers (replayed, never applied twice).
    applied: BTreeMap<String, Value>,
    /// Feed documents by id: uploaded feeds and processing reports.
    documents: BTreeMap<String, Value>,
    feeds: u64,
}

#[derive(Default)]
pub struct SandboxInventory {
    shown: Mutex<Shown>,
}

/// Where the sandbox serves feed documents (the presigned URLs of the real Feeds API).
pub const FEED_DOCUMENTS: &str = "/sandbox/amazon-feed-documents/";

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
            // As Shopify from API 2026-04: no `@idempotent(key:)`, no change.
            let key = body["variables"]["idempotencyKey"]
                .as_str()
                .filter(|k| !k.is_empty() && k.len() <= 255);
            let Some(key) = key.filter(|_| query.contains("@idempotent(key:")) else {
                return rc_api::json(
                    StatusCode::OK,
                    &json!({"errors": [{"message": "The @idempotent directive is required for this mutation.", "extensions": {"code": "BAD_REQUEST"}}]}),
                );
            };
            if let Some(answer) = shown.applied.get(key) {
                return rc_api::json(StatusCode::OK, answer);
            }
            let key = key.to_owned();
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
            let answer = json!({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": null, "userErrors": errors}}});
            shown.applied.insert(key, answer.clone());
            return rc_api::json(StatusCode::OK, &answer);
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

    /// The sandbox's Feeds API (`/feeds/2021-06-30/...` under the sandbox SP-API base). Feeds
    /// are processed at once: `getFeed` answers DONE with a processing report listing no issues.
    pub fn amazon_feeds(
        &self,
        method: &http::Method,
        path: &str,
        body: &[u8],
        base: &str,
    ) -> Response<Bytes> {
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        let mut shown = self.shown();
        let not_found = || {
            rc_api::json(
                StatusCode::NOT_FOUND,
                &json!({"errors": [{"code": "NotFound", "message": "no such resource"}]}),
            )
        };
        match (method.as_str(), path) {
            ("POST", "/feeds/2021-06-30/documents") => {
                shown.feeds += 1;
                let id = format!("sbx-doc-{}", shown.feeds);
                rc_api::json(
                    StatusCode::CREATED,
                    &json!({"feedDocumentId": id, "url": format!("{base}{FEED_DOCUMENTS}{id}")}),
                )
            }
            ("POST", "/feeds/2021-06-30/feeds") => {
                let document = request["inputFeedDocumentId"].as_str().unwrap_or_default();
                let Some(content) = shown.documents.get(document).cloned() else {
                    return rc_api::json(
                        StatusCode::BAD_REQUEST,
                        &json!({"errors": [{"code": "InvalidInput", "message": "the feed document was not uploaded"}]}),
                    );
                };
                for message in content["messages"].as_array().into_iter().flatten() {
                    let sku = message["sku"].as_str().unwrap_or_default().to_owned();
                    if let Some(quantity) = message["patches"][0]["value"][0]["quantity"].as_i64() {
                        shown.amazon.insert(sku, quantity);
                    }
                }
                shown.pushes += 1;
                shown.last_push = Some(now());
                shown.feeds += 1;
                let id = format!("sbx-feed-{}", shown.feeds);
                let report = json!({
                    "header": {"sellerId": content["header"]["sellerId"], "version": "2.0", "feedId": id},
                    "issues": [],
                    "summary": {"errors": 0, "warnings": 0, "messagesProcessed": content["messages"].as_array().map_or(0, Vec::len)},
                });
                shown.documents.insert(format!("sbx-report-{id}"), report);
                rc_api::json(StatusCode::ACCEPTED, &json!({"feedId": id}))
            }
            ("GET", p) if p.starts_with("/feeds/2021-06-30/feeds/") => {
                let id = p.rsplit('/').next().unwrap_or_default();
                let report = format!("sbx-report-{id}");
                if !shown.documents.contains_key(&report) {
                    return not_found();
                }
                rc_api::json(
                    StatusCode::OK,
                    &json!({"feedId": id, "feedType": "JSON_LISTINGS_FEED", "createdTime": now(), "processingStatus": "DONE", "resultFeedDocumentId": report}),
                )
            }
            ("GET", p) if p.starts_with("/feeds/2021-06-30/documents/") => {
                let id = p.rsplit('/').next().unwrap_or_default();
                if !shown.documents.contains_key(id) {
                    return not_found();
                }
                rc_api::json(
                    StatusCode::OK,
                    &json!({"feedDocumentId": id, "url": format!("{base}{FEED_DOCUMENTS}{id}")}),
                )
            }
            _ => not_found(),
        }
    }

    /// A feed document's presigned URL: `PUT` uploads a feed, `GET` downloads a report.
    pub fn feed_document(&self, method: &http::Method, id: &str, body: &[u8]) -> Response<Bytes> {
        let mut shown = self.shown();
        match method.as_str() {
            "PUT" => match serde_json::from_slice::<Value>(body) {
                Ok(content) => {
                    shown.documents.insert(id.to_owned(), content);
                    rc_api::json(StatusCode::OK, &json!({}))
                }
                Err(_) => rc_api::json(StatusCode::BAD_REQUEST, &json!({"error": "not JSON"})),
            },
            _ => match shown.documents.get(id) {
                Some(document) => rc_api::json(StatusCode::OK, document),
                None => rc_api::json(StatusCode::NOT_FOUND, &json!({"error": "no such document"})),
            },
        }
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
