//! In-process stand-ins for the channel inventory APIs, checking every request as documented:
//! Shopify's GraphQL Admin API (`inventorySetQuantities` with `changeFromQuantity`, and the
//! `inventoryLevel` read used to recover from a stale compare) and Amazon's Listings Items API
//! (`patchListingsItem`, checked against `listingsItems_2021-08-01.json`), with Login with
//! Amazon. They hold the quantities each channel shows.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::sp_api::{CLIENT_ID, check_against_model};

pub const SHOPIFY_TOKEN: &str = "shpat_inventory_test_token";

#[derive(Default)]
pub struct State {
    /// (inventory item id, location id) -> available, as Shopify holds it.
    pub shopify: BTreeMap<(u64, u64), i64>,
    /// Levels Shopify knows (others answer ITEM_NOT_STOCKED_AT_LOCATION).
    pub stocked: Vec<(u64, u64)>,
    pub shopify_mutations: usize,
    pub shopify_reads: usize,
    /// Answer every Shopify call with this status (a channel outage).
    pub shopify_down: bool,
    /// (seller, sku, marketplace) -> quantity, as Amazon holds it.
    pub amazon: BTreeMap<(String, String, String), i64>,
    pub amazon_patches: usize,
    /// Feeds API calls by operation, and the feeds' states.
    pub feed_calls: BTreeMap<&'static str, usize>,
    pub uploads: BTreeMap<String, Value>,
    pub feeds: BTreeMap<String, (String, Value)>,
    /// Seller SKUs the next feed's processing report refuses.
    pub refuse_in_feed: Vec<String>,
    /// Feeds answer IN_PROGRESS this many times before DONE.
    pub feed_delay: usize,
    /// Serve processing reports GZIP-compressed, as Amazon may.
    pub gzip_reports: bool,
    /// Answer this many Shopify calls, then this many Amazon patches, with 429 first.
    pub shopify_429: usize,
    pub amazon_429: usize,
    /// `@idempotent` keys seen: key -> the input it came with, and the answer given. A repeated
    /// key with the same input gets the same answer without a second change (Shopify's rule).
    pub idempotency: BTreeMap<String, (Value, Value)>,
    pub violations: Vec<String>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl StandIn {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state")
    }
}

fn respond(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn gid_number(value: &Value, kind: &str) -> Option<u64> {
    value
        .as_str()?
        .strip_prefix(&format!("gid://shopify/{kind}/"))?
        .parse()
        .ok()
}

fn shopify(state: &mut State, body: &Value) -> hyper::Response<Full<Bytes>> {
    let query = body["query"].as_str().unwrap_or_default();
    if query.starts_with("mutation") {
        state.shopify_mutations += 1;
        if !query.contains("inventorySetQuantities(input: $input)") || !query.contains("userErrors")
        {
            state
                .violations
                .push("mutation is not inventorySetQuantities".into());
        }
        // From 2026-04 the mutation is refused without `@idempotent(key:)`.
        if !query.contains("@idempotent(key: $idempotencyKey)") {
            state
                .violations
                .push("inventorySetQuantities without @idempotent(key:)".into());
            return respond(
                200,
                json!({"errors": [{"message": "The @idempotent directive is required for this mutation.", "extensions": {"code": "BAD_REQUEST"}}]}),
            );
        }
        let Some(key) = body["variables"]["idempotencyKey"]
            .as_str()
            .filter(|k| !k.is_empty() && k.len() <= 255)
        else {
            state
                .violations
                .push("idempotencyKey is not a string of 1 to 255 characters".into());
            return respond(
                200,
                json!({"errors": [{"message": "invalid idempotency key", "extensions": {"code": "BAD_REQUEST"}}]}),
            );
        };
        let input = &body["variables"]["input"];
        if let Some((first_input, answer)) = state.idempotency.get(key).cloned() {
            if &first_input != input {
                state
                    .violations
                    .push("one idempotency key for two different inputs".into());
            }
            return respond(200, answer);
        }
        let answer = set_quantities(state, input);
        state
            .idempotency
            .insert(key.to_owned(), (input.clone(), answer.clone()));
        return respond(200, answer);
    }
    read(state, query)
}

/// The mutation itself, on an input whose key was not seen before.
fn set_quantities(state: &mut State, input: &Value) -> Value {
    {
        if input["name"] != "available" {
            state.violations.push("name must be available".into());
        }
        let reasons = [
            "correction",
            "cycle_count_available",
            "received",
            "restock",
            "other",
        ];
        if !reasons.iter().any(|r| input["reason"] == *r) {
            state
                .violations
                .push("reason is not one of Shopify's".into());
        }
        if !input["referenceDocumentUri"]
            .as_str()
            .is_some_and(|u| u.starts_with("gid://") && u.split('/').count() >= 5)
        {
            state
                .violations
                .push("referenceDocumentUri is not a gid".into());
        }
        let quantities = input["quantities"].as_array().cloned().unwrap_or_default();
        if quantities.is_empty() || quantities.len() > 250 {
            state
                .violations
                .push(format!("{} quantities in one call", quantities.len()));
        }
        let mut errors = Vec::new();
        let mut updates = Vec::new();
        for (i, q) in quantities.iter().enumerate() {
            let (Some(item), Some(location)) = (
                gid_number(&q["inventoryItemId"], "InventoryItem"),
                gid_number(&q["locationId"], "Location"),
            ) else {
                state.violations.push("ids are not gids".into());
                continue;
            };
            let Some(quantity) = q["quantity"].as_i64().filter(|n| *n >= 0) else {
                state
                    .violations
                    .push("quantity is not a whole number >= 0".into());
                continue;
            };
            if q.get("changeFromQuantity").is_none() {
                state
                    .violations
                    .push("changeFromQuantity must be passed, even as null".into());
            }
            if !state.stocked.contains(&(item, location)) {
                errors.push(json!({"field": ["input", "quantities", i.to_string()], "message": "not stocked", "code": "ITEM_NOT_STOCKED_AT_LOCATION"}));
                continue;
            }
            let held = state.shopify.get(&(item, location)).copied().unwrap_or(0);
            if let Some(from) = q["changeFromQuantity"].as_i64()
                && from != held
            {
                errors.push(json!({"field": ["input", "quantities", i.to_string(), "changeFromQuantity"], "message": "stale", "code": "CHANGE_FROM_QUANTITY_STALE"}));
                continue;
            }
            updates.push(((item, location), quantity));
        }
        // All or nothing.
        if errors.is_empty() {
            state.shopify.extend(updates);
        }
        let group = if errors.is_empty() {
            json!({"reason": "correction"})
        } else {
            Value::Null
        };
        json!({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": errors}}})
    }
}

/// The read: aliased `lN: inventoryItem(id: "...") { inventoryLevel(locationId: "...") ...`.
fn read(state: &mut State, query: &str) -> hyper::Response<Full<Bytes>> {
    state.shopify_reads += 1;
    let mut data = serde_json::Map::new();
    for part in query.split("inventoryItem(id: \"").skip(1) {
        let alias = query[..query.find(part).unwrap_or(0)]
            .rsplit(' ')
            .nth(2)
            .unwrap_or_default()
            .trim_end_matches(':')
            .to_owned();
        let item = part.split('"').next().unwrap_or_default();
        let location = part
            .split("inventoryLevel(locationId: \"")
            .nth(1)
            .and_then(|p| p.split('"').next())
            .unwrap_or_default();
        let key = (
            gid_number(&json!(item), "InventoryItem").unwrap_or(0),
            gid_number(&json!(location), "Location").unwrap_or(0),
        );
        let level = if state.stocked.contains(&key) {
            json!({"quantities": [{"name": "available", "quantity": state.shopify.get(&key).copied().unwrap_or(0)}]})
        } else {
            Value::Null
        };
        data.insert(alias, json!({"inventoryLevel": level}));
    }
    respond(200, json!({"data": data}))
}

fn amazon(
    state: &mut State,
    model: &Value,
    path: &str,
    query: &str,
    body: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.amazon_patches += 1;
    let violations = check_against_model(model, "patch", path, query);
    state.violations.extend(violations);
    if body["productType"].as_str().is_none_or(str::is_empty) {
        state.violations.push("productType is required".into());
    }
    let patches = body["patches"].as_array().cloned().unwrap_or_default();
    if patches.is_empty() {
        state
            .violations
            .push("patches needs at least one operation".into());
    }
    let mut quantity = None;
    for patch in &patches {
        if !["add", "replace", "merge", "delete"]
            .iter()
            .any(|op| patch["op"] == *op)
        {
            state.violations.push("patch op is not allowed".into());
        }
        if patch["path"] == "/attributes/fulfillment_availability" {
            let value = &patch["value"][0];
            if value["fulfillment_channel_code"] != "DEFAULT" {
                state
                    .violations
                    .push("fulfillment_channel_code must be DEFAULT".into());
            }
            quantity = value["quantity"].as_i64();
        }
    }
    let mut segments = path.rsplit('/');
    let sku = segments.next().unwrap_or_default().to_owned();
    let seller = segments.next().unwrap_or_default().to_owned();
    let marketplace = query
        .split('&')
        .find_map(|p| p.strip_prefix("marketplaceIds="))
        .unwrap_or_default()
        .to_owned();
    match quantity {
        Some(q) if q >= 0 => {
            state.amazon.insert((seller, sku.clone(), marketplace), q);
            respond(
                200,
                json!({"sku": sku, "status": "ACCEPTED", "submissionId": "s-1", "issues": []}),
            )
        }
        _ => respond(
            200,
            json!({"sku": sku, "status": "INVALID", "submissionId": "s-2", "issues": [{"code": "90220", "message": "quantity is required", "severity": "ERROR"}]}),
        ),
    }
}

/// The Feeds API: documents, uploads to their (presigned) URL, feeds, reports.
fn feeds(
    state: &mut State,
    model: &Value,
    base: &str,
    method: &str,
    path: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> hyper::Response<Full<Bytes>> {
    if let Some(document) = path.strip_prefix("/upload/") {
        *state.feed_calls.entry("upload").or_default() += 1;
        if headers.get("content-type").and_then(|v| v.to_str().ok())
            != Some("application/json; charset=UTF-8")
        {
            state
                .violations
                .push("the upload's content type differs from the document's".into());
        }
        let content: Value = serde_json::from_slice(body).unwrap_or_default();
        check_listings_feed(state, &content);
        state.uploads.insert(document.to_owned(), content);
        return respond(200, json!({}));
    }
    if let Some(feed) = path.strip_prefix("/download/") {
        let (_, report) = state.feeds.get(feed).cloned().unwrap_or_default();
        if state.gzip_reports {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut encoder, report.to_string().as_bytes()).expect("gzip");
            let body = encoder.finish().expect("gzip");
            return hyper::Response::builder()
                .status(200)
                .body(Full::new(Bytes::from(body)))
                .expect("response");
        }
        return respond(200, report);
    }
    let violations = check_against_model(model, method, path, "");
    state.violations.extend(violations);
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    match (method, path) {
        ("post", "/feeds/2021-06-30/documents") => {
            *state.feed_calls.entry("createFeedDocument").or_default() += 1;
            if request["contentType"].as_str().is_none() {
                state.violations.push("contentType is required".into());
            }
            let id = format!("doc-{}", state.feed_calls["createFeedDocument"]);
            respond(
                201,
                json!({"feedDocumentId": id, "url": format!("{base}/upload/{id}")}),
            )
        }
        ("post", "/feeds/2021-06-30/feeds") => {
            *state.feed_calls.entry("createFeed").or_default() += 1;
            if request["feedType"] != "JSON_LISTINGS_FEED" {
                state
                    .violations
                    .push("feedType must be JSON_LISTINGS_FEED".into());
            }
            let marketplaces = request["marketplaceIds"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if marketplaces.len() != 1 {
                state
                    .violations
                    .push("a listings feed names one marketplace".into());
            }
            let document = request["inputFeedDocumentId"].as_str().unwrap_or_default();
            let Some(content) = state.uploads.get(document).cloned() else {
                state
                    .violations
                    .push("createFeed before the document was uploaded".into());
                return respond(
                    400,
                    json!({"errors": [{"code": "InvalidInput", "message": "no document"}]}),
                );
            };
            let seller = content["header"]["sellerId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let marketplace = marketplaces
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut issues = Vec::new();
            for message in content["messages"].as_array().into_iter().flatten() {
                let sku = message["sku"].as_str().unwrap_or_default().to_owned();
                if state.refuse_in_feed.contains(&sku) {
                    issues.push(json!({"messageId": message["messageId"], "code": "90220", "severity": "ERROR", "message": "refused"}));
                    continue;
                }
                let quantity = message["patches"][0]["value"][0]["quantity"]
                    .as_i64()
                    .unwrap_or(-1);
                state
                    .amazon
                    .insert((seller.clone(), sku, marketplace.clone()), quantity);
            }
            let id = format!("feed-{}", state.feed_calls["createFeed"]);
            let report = json!({"header": {"sellerId": seller, "version": "2.0", "feedId": id}, "issues": issues, "summary": {"errors": issues.len()}});
            state
                .feeds
                .insert(id.clone(), ("IN_PROGRESS".into(), report));
            respond(202, json!({"feedId": id}))
        }
        ("get", p) if p.starts_with("/feeds/2021-06-30/feeds/") => {
            *state.feed_calls.entry("getFeed").or_default() += 1;
            let id = p.rsplit('/').next().unwrap_or_default().to_owned();
            let status = if state.feed_delay > 0 {
                state.feed_delay -= 1;
                "IN_PROGRESS"
            } else {
                "DONE"
            };
            if let Some(feed) = state.feeds.get_mut(&id) {
                feed.0 = status.into();
            }
            let result = (status == "DONE").then(|| format!("result-{id}"));
            respond(
                200,
                json!({"feedId": id, "feedType": "JSON_LISTINGS_FEED", "createdTime": "2026-11-27T00:00:00Z", "processingStatus": status, "resultFeedDocumentId": result}),
            )
        }
        ("get", p) if p.starts_with("/feeds/2021-06-30/documents/") => {
            *state.feed_calls.entry("getFeedDocument").or_default() += 1;
            let id = p.rsplit('/').next().unwrap_or_default();
            let feed = id.strip_prefix("result-").unwrap_or_default();
            {
                let mut document =
                    json!({"feedDocumentId": id, "url": format!("{base}/download/{feed}")});
                if state.gzip_reports {
                    document["compressionAlgorithm"] = json!("GZIP");
                }
                respond(200, document)
            }
        }
        _ => {
            state
                .violations
                .push(format!("unexpected feeds call {method} {path}"));
            respond(404, json!({"errors": []}))
        }
    }
}

/// listings-feed-schema-v2.json: header.sellerId and version 2.0; 1 to 25,000 messages with
/// unique ids, a SKU, an operation type, and for PATCH a product type and patches.
fn check_listings_feed(state: &mut State, content: &Value) {
    if content["header"]["sellerId"].as_str().is_none() || content["header"]["version"] != "2.0" {
        state
            .violations
            .push("feed header needs sellerId and version 2.0".into());
    }
    let messages = content["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() || messages.len() > 25_000 {
        state
            .violations
            .push(format!("{} messages in one feed", messages.len()));
    }
    let mut ids = std::collections::BTreeSet::new();
    for message in &messages {
        let id = message["messageId"].as_u64().filter(|n| *n >= 1);
        if id.is_none_or(|id| !ids.insert(id)) {
            state
                .violations
                .push("messageId missing, below 1 or repeated".into());
        }
        if message["sku"].as_str().is_none_or(str::is_empty) {
            state.violations.push("message without a sku".into());
        }
        if !["UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"]
            .iter()
            .any(|t| message["operationType"] == *t)
        {
            state.violations.push("operationType is not allowed".into());
        }
        if message["operationType"] == "PATCH"
            && (message["productType"].as_str().is_none()
                || message["patches"].as_array().is_none_or(Vec::is_empty))
        {
            state
                .violations
                .push("a PATCH message needs productType and patches".into());
        }
    }
}

async fn handle(
    model: Arc<Value>,
    feeds_model: Arc<Value>,
    state: Arc<Mutex<State>>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().as_str().to_ascii_lowercase();
    let headers = request.headers().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut state = state.lock().expect("state");
    if path == "/auth/o2/token" {
        let text = String::from_utf8_lossy(&body);
        if !text.contains("grant_type=refresh_token") || !text.contains("client_id=") {
            state.violations.push("LWA token request is wrong".into());
        }
        let _ = CLIENT_ID;
        return respond(
            200,
            json!({"access_token": "Atza|inventory", "token_type": "bearer", "expires_in": 3600}),
        );
    }
    let base = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    );
    let sp_api = path.starts_with("/feeds/") || path.starts_with("/listings/");
    let authorized = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        == Some("Atza|inventory");
    if sp_api && !authorized {
        return respond(
            403,
            json!({"errors": [{"code": "Unauthorized", "message": "denied"}]}),
        );
    }
    // Uploads and downloads go to presigned URLs: no access token.
    let presigned = path.starts_with("/upload/") || path.starts_with("/download/");
    if presigned || path.starts_with("/feeds/") {
        return feeds(
            &mut state,
            &feeds_model,
            &base,
            &method,
            &path,
            &headers,
            &body,
        );
    }
    if path.starts_with("/listings/2021-08-01/items/") {
        if state.amazon_429 > 0 {
            state.amazon_429 -= 1;
            return respond(
                429,
                json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
            );
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        if method != "patch" {
            state.violations.push(format!("{method} on listings items"));
        }
        return amazon(&mut state, &model, &path, &query, &body);
    }
    if path == "/admin/api/2026-10/graphql.json" {
        if state.shopify_down {
            return respond(503, json!({"errors": "unavailable"}));
        }
        if state.shopify_429 > 0 {
            state.shopify_429 -= 1;
            return hyper::Response::builder()
                .status(429)
                .header("retry-after", "0.05")
                .body(Full::new(Bytes::from_static(
                    br#"{"errors":"Exceeded 2 calls per second for api client."}"#,
                )))
                .expect("response");
        }
        if headers
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok())
            != Some(SHOPIFY_TOKEN)
        {
            return respond(
                401,
                json!({"errors": "[API] Invalid API key or access token"}),
            );
        }
        if method != "post" {
            state.violations.push("GraphQL must be POST".into());
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        return shopify(&mut state, &body);
    }
    state.violations.push(format!("unexpected {method} {path}"));
    respond(404, json!({"errors": "not found"}))
}

pub async fn start() -> StandIn {
    // Facts from Amazon's published Listings Items and Feeds models, kept in this repository.
    let model: Value = serde_json::from_str(include_str!(
        "../../../fixtures/amazon-models/listingsItems_2021-08-01.facts.json"
    ))
    .expect("listings model facts");
    let model = Arc::new(model);
    let feeds_model: Value = serde_json::from_str(include_str!(
        "../../../fixtures/amazon-models/feeds_2021-06-30.facts.json"
    ))
    .expect("feeds model facts");
    let feeds_model = Arc::new(feeds_model);
    let state = Arc::new(Mutex::new(State::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (model, feeds_model, state) = (
                Arc::clone(&model),
                Arc::clone(&feeds_model),
                Arc::clone(&shared),
            );
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (model, feeds_model, state) = (
                        Arc::clone(&model),
                        Arc::clone(&feeds_model),
                        Arc::clone(&state),
                    );
                    async move { Ok::<_, Infallible>(handle(model, feeds_model, state, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
