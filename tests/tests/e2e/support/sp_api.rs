//! The one in-process stand-in for Login with Amazon and the Selling Partner API: the Orders API
//! v2026-01-01 (`getOrder`, `searchOrders`), the Listings Items API (`patchListingsItem`) and the
//! Feeds API (documents, presigned uploads and downloads, feeds, processing reports). It checks
//! every request as Amazon documents it — against the facts of Amazon's published models in
//! `tests/fixtures/amazon-models/` (paths, methods, query parameters and their enum values), the
//! access token header, the token request against LWA's refresh-token grant, feed documents
//! against the listings feed schema — and records any violation for the test to assert on. It
//! holds the quantities Amazon shows.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
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

pub const CLIENT_ID: &str = "amzn1.application-oa2-client.test";
pub const CLIENT_SECRET: &str = "lwa-client-secret-test";
pub const REFRESH_TOKEN: &str = "Atzr|refresh-token-test";
/// The seller the stand-in's refresh token belongs to (its consent page's `selling_partner_id`).
pub const SELLER: &str = "A3SELLERCONSENT1";

#[derive(Default)]
pub struct State {
    pub token_calls: usize,
    pub get_order_calls: usize,
    pub search_calls: usize,
    pub valid_tokens: Vec<String>,
    /// Statuses to answer getOrder with before answering normally.
    pub scripted: VecDeque<u16>,
    /// Revoke every token after this many successful getOrder calls (simulates expiry).
    pub revoke_after: Option<usize>,
    pub violations: Vec<String>,
    /// Orders by Amazon order id (raw getOrder JSON); unknown ids answer 404.
    pub orders: HashMap<String, serde_json::Value>,
    /// (seller, sku, marketplace) -> quantity, as Amazon holds it.
    pub listings: BTreeMap<(String, String, String), i64>,
    /// `patchListingsItem` calls.
    pub patches: usize,
    /// Answer this many listings patches with 429 first.
    pub throttle_patches: usize,
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
    /// Shipping API v2: getRates and purchaseShipment calls, purchases made (not replays).
    pub rates_calls: usize,
    pub purchase_calls: usize,
    pub purchases: usize,
    /// Quotes by requestToken: (Amazon order id, package reference, rate ids).
    pub quotes: HashMap<String, (String, String, Vec<String>)>,
    /// purchaseShipment answers by idempotency key (a retry with the key gets the same).
    pub idempotency: HashMap<String, Value>,
    /// Bought shipments by shipmentId: (package reference, tracking id, cancelled).
    pub shipments: HashMap<String, (String, String, bool)>,
    /// Answer this many purchases TOKEN_EXPIRED (a quote over 10 minutes old).
    pub expire_quotes: usize,
    /// Purchase, then answer this many purchases 500 (the answer is lost).
    pub lose_purchase_answer: usize,
    /// confirmShipment: calls, and the packages Amazon holds by (order id, packageReferenceId)
    /// — an upsert, as Amazon documents it.
    pub confirm_calls: usize,
    pub packages: BTreeMap<(String, String), Value>,
    /// Answers to give confirmShipment first: (status, error code).
    pub confirm_script: VecDeque<(u16, &'static str)>,
    /// When each confirmShipment arrived (its pace is checked against the usage plan).
    pub confirm_times: Vec<std::time::Instant>,
    /// Website authorization: `spapi_oauth_code`s the consent page issued (single use), and
    /// the code exchanges asked for.
    pub auth_codes: Vec<String>,
    pub code_exchanges: usize,
    /// Grantless tokens issued (`client_credentials`, notifications scope).
    pub grantless_tokens: Vec<String>,
    /// Notifications API: the application's destinations (id, SQS ARN), the sellers'
    /// subscriptions (subscription id, seller, destination id), and calls by operation.
    pub destinations: Vec<(String, String)>,
    pub subscriptions: Vec<(String, String, String)>,
    pub notification_calls: BTreeMap<&'static str, usize>,
    /// Which seller each access token was issued for (subscriptions are per seller).
    pub token_sellers: HashMap<String, String>,
}

/// The published models whose facts requests are checked against.
struct Models {
    notifications: serde_json::Value,
    orders: serde_json::Value,
    confirm: serde_json::Value,
    listings: serde_json::Value,
    feeds: serde_json::Value,
    shipping: serde_json::Value,
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

/// The facts of Amazon's Orders API model the stand-in checks requests against (paths, methods,
/// query parameters with their allowed values), kept in this repository.
pub fn spec() -> serde_json::Value {
    serde_json::from_str(include_str!(
        "../../../fixtures/amazon-models/orders_2026-01-01.facts.json"
    ))
    .expect("model facts")
}

/// Checks a request against the model: a path template that matches, the method, and each query
/// parameter declared with its enum values. Returns the violations.
pub fn check_against_model(
    model: &serde_json::Value,
    method: &str,
    path: &str,
    query: &str,
) -> Vec<String> {
    let mut violations = Vec::new();
    let paths = model["paths"].as_object().expect("paths");
    let matched = paths.iter().find(|(template, _)| {
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = path.split('/').collect();
        t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
    });
    let Some((template, operations)) = matched else {
        return vec![format!("no path in the model matches {path}")];
    };
    let Some(operation) = operations.get(method) else {
        return vec![format!("{method} is not an operation of {template}")];
    };
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut seen = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        seen.push(name.to_owned());
        let Some(declared) = parameters
            .iter()
            .find(|p| p["name"] == name && p["in"] == "query")
        else {
            violations.push(format!("query parameter {name} is not in the model"));
            continue;
        };
        let allowed = declared["items"]["enum"]
            .as_array()
            .or(declared["enum"].as_array());
        if let Some(allowed) = allowed {
            // Arrays without collectionFormat are comma-separated (Swagger 2 "csv").
            for item in value.split(',') {
                if !allowed.iter().any(|a| a == item) {
                    violations.push(format!("{name}={item} is not an allowed value"));
                }
            }
        }
    }
    for required in parameters
        .iter()
        .filter(|p| p["required"] == true && p["in"] == "query")
    {
        let name = required["name"].as_str().unwrap_or_default();
        if !seen.iter().any(|s| s == name) {
            violations.push(format!("required query parameter {name} is missing"));
        }
    }
    violations
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

pub(super) fn respond(status: u16, body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RateLimit-Limit", "0.5")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

async fn handle(
    models: Arc<Models>,
    state: Arc<Mutex<State>>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = request.method().as_str().to_ascii_lowercase();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut state = state.lock().expect("state");

    if path == "/auth/o2/token" {
        state.token_calls += 1;
        let fields = form(&body);
        if method != "post"
            || headers.get("content-type").and_then(|v| v.to_str().ok())
                != Some("application/x-www-form-urlencoded")
        {
            state
                .violations
                .push("LWA token request is not a form POST".into());
        }
        return super::sp_notifications::token_grant(&mut state, &fields);
    }
    if path.starts_with("/notifications/v1/") {
        let token = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let violations = check_against_model(&models.notifications, &method, &path, &query);
        state.violations.extend(violations);
        return super::sp_notifications::handle(
            &mut state,
            &models.notifications,
            &method,
            &path,
            &token,
            &body,
        );
    }

    // Uploads and downloads go to presigned URLs: no access token.
    let presigned = path.starts_with("/upload/") || path.starts_with("/download/");
    // Orders API v0 confirmShipment: its own model.
    if path.starts_with("/orders/v0/") {
        let violations = check_against_model(&models.confirm, &method, &path, &query);
        state.violations.extend(violations);
        let token = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !state.valid_tokens.contains(&token) {
            return respond(
                403,
                json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}),
            );
        }
        return confirm_shipment(&mut state, &models.confirm, &path, &headers, &body);
    }
    // Orders API calls are counted and checked whether or not their token is good.
    if path.starts_with("/orders/") {
        if path == "/orders/2026-01-01/orders" {
            state.search_calls += 1;
        } else {
            state.get_order_calls += 1;
        }
        let violations = check_against_model(&models.orders, &method, &path, &query);
        state.violations.extend(violations);
    }
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !presigned && !state.valid_tokens.contains(&token) {
        return respond(
            403,
            serde_json::json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}),
        );
    }
    if presigned || path.starts_with("/feeds/") {
        let base = format!(
            "http://{}",
            headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        );
        return feeds(
            &mut state,
            &models.feeds,
            &base,
            &method,
            &path,
            &headers,
            &body,
        );
    }
    if path.starts_with("/shipping/v2/") {
        let violations = check_against_model(&models.shipping, &method, &path, &query);
        state.violations.extend(violations);
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return shipping(
            &mut state,
            &models.shipping,
            &method,
            &path,
            &query,
            &headers,
            &body,
        );
    }
    if path.starts_with("/listings/2021-08-01/items/") {
        if state.throttle_patches > 0 {
            state.throttle_patches -= 1;
            return respond(
                429,
                json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
            );
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        if method != "patch" {
            state.violations.push(format!("{method} on listings items"));
        }
        return patch_listing(&mut state, &models.listings, &path, &query, &body);
    }
    if !path.starts_with("/orders/") {
        state.violations.push(format!("unexpected {method} {path}"));
        return respond(
            404,
            json!({"errors": [{"code": "NotFound", "message": "not found"}]}),
        );
    }
    if let Some(status) = state.scripted.pop_front() {
        return respond(
            status,
            serde_json::json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}),
        );
    }
    if path == "/orders/2026-01-01/orders" {
        return search(&state, &query);
    }
    let order_id = path.rsplit('/').next().unwrap_or_default().to_owned();
    let Some(order) = state.orders.get(&order_id).cloned() else {
        return respond(
            404,
            serde_json::json!({"errors": [{"code": "NotFound", "message": "Order not found"}]}),
        );
    };
    if let Some(limit) = state.revoke_after {
        let served = state.get_order_calls;
        if served >= limit {
            state.valid_tokens.clear();
            state.revoke_after = None;
        }
    }
    respond(200, serde_json::json!({ "order": order }))
}

/// searchOrders: orders updated at or after `lastUpdatedAfter`, two per page.
fn search(state: &State, query: &str) -> hyper::Response<Full<Bytes>> {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(percent_decode)
    };
    let Some(after) = param("lastUpdatedAfter") else {
        return respond(
            400,
            serde_json::json!({"errors": [{"code": "InvalidInput", "message": "lastUpdatedAfter or createdAfter is required"}]}),
        );
    };
    let mut matching: Vec<&serde_json::Value> = state
        .orders
        .values()
        .filter(|o| o["lastUpdatedTime"].as_str().unwrap_or_default() >= after.as_str())
        .collect();
    matching.sort_by_key(|o| o["orderId"].as_str().unwrap_or_default().to_owned());
    let offset: usize = param("paginationToken")
        .and_then(|t| t.strip_prefix("page-").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let page: Vec<_> = matching.iter().skip(offset).take(2).collect();
    let mut body = serde_json::json!({ "orders": page });
    if offset + 2 < matching.len() {
        body["pagination"] = serde_json::json!({"nextToken": format!("page-{}", offset + 2)});
    }
    respond(200, body)
}

fn patch_listing(
    state: &mut State,
    model: &Value,
    path: &str,
    query: &str,
    body: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.patches += 1;
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
            state.listings.insert((seller, sku.clone(), marketplace), q);
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
                    .listings
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

/// Checks a body against a definition of the model facts: required fields present, enums
/// respected, nested definitions and arrays of them checked in turn.
fn check_body(
    definitions: &Value,
    name: &str,
    value: &Value,
    at: &str,
    violations: &mut Vec<String>,
) {
    let Some(definition) = definitions.get(name) else {
        return;
    };
    if let Some(allowed) = definition["enum"].as_array() {
        if !allowed.contains(value) {
            violations.push(format!("{at}: {value} is not an allowed value"));
        }
        return;
    }
    for required in definition["required"].as_array().into_iter().flatten() {
        let field = required.as_str().unwrap_or_default();
        if value.get(field).is_none_or(Value::is_null) {
            violations.push(format!("{at}.{field} is required"));
        }
    }
    let Some(properties) = definition["properties"].as_object() else {
        return;
    };
    for (field, fact) in properties {
        let Some(present) = value.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let here = format!("{at}.{field}");
        if let Some(allowed) = fact["enum"].as_array() {
            let values: Vec<&Value> = match present.as_array() {
                Some(items) => items.iter().collect(),
                None => vec![present],
            };
            for v in values {
                if !allowed.contains(v) {
                    violations.push(format!("{here}: {v} is not an allowed value"));
                }
            }
        }
        if let Some(reference) = fact["ref"].as_str() {
            check_body(definitions, reference, present, &here, violations);
        }
        if let Some(item) = fact["items"].as_str() {
            for (i, element) in present.as_array().into_iter().flatten().enumerate() {
                check_body(
                    definitions,
                    item,
                    element,
                    &format!("{here}[{i}]"),
                    violations,
                );
            }
        }
    }
}

/// `confirmShipment` (Orders v0): the body checked field by field against the model's facts
/// (required fields, types: `packageReferenceId` a string of a positive number, `quantity` an
/// integer, `shipDate` ISO 8601, `carrierName` with `Other`), order items of the order; then an
/// upsert of the package by (order, packageReferenceId). 204 with no body.
fn confirm_shipment(
    state: &mut State,
    model: &Value,
    path: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> hyper::Response<Full<Bytes>> {
    state.confirm_calls += 1;
    state.confirm_times.push(std::time::Instant::now());
    let invalid = |message: &str| {
        respond(
            400,
            json!({"errors": [{"code": "InvalidInput", "message": message}]}),
        )
    };
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        state
            .violations
            .push("confirmShipment: body without a JSON content type".into());
    }
    let Some(order_id) = path
        .strip_prefix("/orders/v0/orders/")
        .and_then(|rest| rest.strip_suffix("/shipmentConfirmation"))
        .map(str::to_owned)
    else {
        return respond(
            404,
            json!({"errors": [{"code": "NotFound", "message": "not found"}]}),
        );
    };
    let shape = order_id.split('-').map(str::len).collect::<Vec<_>>();
    if shape != [3, 7, 7] {
        state
            .violations
            .push(format!("confirmShipment: order id {order_id} is not 3-7-7"));
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        state
            .violations
            .push("confirmShipment: body is not JSON".into());
        return invalid("Invalid Input");
    };
    let mut violations = Vec::new();
    check_body(
        &model["definitions"],
        "ConfirmShipmentRequest",
        &body,
        "body",
        &mut violations,
    );
    let package = &body["packageDetail"];
    let reference = &package["packageReferenceId"];
    match reference.as_str() {
        Some(r) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) && r != "0" => {}
        Some(_) => violations.push("packageReferenceId is not a positive number".into()),
        None => violations.push(format!(
            "invalid type [packageDetail.packageReferenceId]: {reference}"
        )),
    }
    for field in ["carrierCode", "trackingNumber", "shipDate"] {
        if !package[field].is_string() {
            violations.push(format!("packageDetail.{field} is not a string"));
        }
    }
    if package["carrierCode"] == "Other"
        && package["carrierName"].as_str().is_none_or(str::is_empty)
    {
        violations.push("carrierName is required with carrierCode Other".into());
    }
    let known_items: Vec<String> = state
        .orders
        .get(&order_id)
        .and_then(|o| o["orderItems"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|i| i["orderItemId"].as_str().map(str::to_owned))
        .collect();
    let items = package["orderItems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        violations.push("packageDetail.orderItems is empty".into());
    }
    for item in &items {
        if !item["orderItemId"].is_string() {
            violations.push("orderItemId is not a string".into());
        }
        if !item["quantity"].is_u64() || item["quantity"] == 0 {
            violations.push("quantity is not a positive integer".into());
        }
        if !known_items.is_empty()
            && !known_items
                .iter()
                .any(|k| Some(k.as_str()) == item["orderItemId"].as_str())
        {
            violations.push("an orderItemId not of this order".into());
        }
    }
    let ship_date_ok = package["shipDate"].as_str().is_some_and(|d| {
        time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).is_ok()
    });
    if !violations.is_empty() {
        state.violations.extend(
            violations
                .into_iter()
                .map(|v| format!("confirmShipment: {v}")),
        );
        return invalid("Invalid Input");
    }
    if !ship_date_ok {
        // The model's own sandbox vector: a shipDate not in ISO 8601 is refused.
        state
            .violations
            .push("confirmShipment: shipDate is not ISO 8601".into());
        return respond(
            400,
            json!({"errors": [{"code": "Invalid Input", "message": "Invalid Input"}]}),
        );
    }
    if let Some((status, code)) = state.confirm_script.pop_front() {
        return respond(
            status,
            json!({"errors": [{"code": code, "message": "stand-in"}]}),
        );
    }
    if !state.orders.contains_key(&order_id) {
        return respond(
            404,
            json!({"errors": [{"code": "NotFound", "message": "Order not found"}]}),
        );
    }
    let reference = reference.as_str().unwrap_or_default().to_owned();
    state
        .packages
        .insert((order_id, reference), package.clone());
    hyper::Response::builder()
        .status(204)
        .body(Full::new(Bytes::new()))
        .expect("response")
}

/// The Shipping API v2: getRates, purchaseShipment (idempotent by its key), getShipmentDocuments,
/// cancelShipment.
fn shipping(
    state: &mut State,
    model: &Value,
    method: &str,
    path: &str,
    query: &str,
    headers: &hyper::HeaderMap,
    body: &Value,
) -> hyper::Response<Full<Bytes>> {
    let definitions = &model["definitions"];
    let error = |status: u16, code: &str| {
        respond(
            status,
            json!({"errors": [{"code": code, "message": "stand-in"}]}),
        )
    };
    let segments: Vec<&str> = path
        .trim_start_matches("/shipping/v2/")
        .split('/')
        .collect();
    match (method, segments.as_slice()) {
        ("post", ["shipments", "rates"]) => {
            state.rates_calls += 1;
            check_body(
                definitions,
                "GetRatesRequest",
                body,
                "getRates",
                &mut state.violations,
            );
            if body.get("shipTo").is_some() {
                state
                    .violations
                    .push("getRates: the buyer's address was sent for an Amazon order".into());
            }
            let order = body["channelDetails"]["amazonOrderDetails"]["orderId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if body["channelDetails"]["channelType"] != "AMAZON" || order.is_empty() {
                state
                    .violations
                    .push("getRates: not an AMAZON channel order".into());
            }
            let reference = body["packages"][0]["packageClientReferenceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let token = format!("rt-{}", state.rates_calls);
            let rates = [
                ("std", "Amazon Shipping", "Standard", 5.40),
                ("one", "Amazon Shipping", "One-Day", 11.20),
            ];
            let ids = rates
                .iter()
                .map(|(id, ..)| format!("{token}-{id}"))
                .collect();
            state.quotes.insert(token.clone(), (order, reference, ids));
            let rates: Vec<Value> = rates
                .iter()
                .map(|(id, carrier, service, price)| json!({
                    "rateId": format!("{token}-{id}"), "carrierId": "AMZN_US", "carrierName": carrier,
                    "serviceId": format!("SVC-{id}"), "serviceName": service,
                    "totalCharge": {"value": price, "unit": "USD"},
                    "promise": {"deliveryWindow": {"start": "2026-12-02T00:00:00Z", "end": "2026-12-04T00:00:00Z"}},
                    "supportedDocumentSpecifications": [{"format": "PDF", "size": {"width": 4, "length": 6, "unit": "INCH"}, "printOptions": []}],
                    "requiresAdditionalInputs": false
                }))
                .collect();
            respond(
                200,
                json!({"payload": {"requestToken": token, "rates": rates, "ineligibleRates": []}}),
            )
        }
        ("post", ["shipments"]) => {
            state.purchase_calls += 1;
            check_body(
                definitions,
                "PurchaseShipmentRequest",
                body,
                "purchaseShipment",
                &mut state.violations,
            );
            let Some(key) = headers
                .get("x-amzn-IdempotencyKey")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
            else {
                state
                    .violations
                    .push("purchaseShipment without an idempotency key".into());
                return error(400, "InvalidInput");
            };
            if let Some(answer) = state.idempotency.get(&key) {
                return respond(200, answer.clone());
            }
            if state.expire_quotes > 0 {
                state.expire_quotes -= 1;
                return error(400, "TOKEN_EXPIRED");
            }
            let token = body["requestToken"].as_str().unwrap_or_default();
            let Some((order, reference, ids)) = state.quotes.get(token).cloned() else {
                return error(400, "InvalidInput");
            };
            if !ids.iter().any(|id| body["rateId"] == id.as_str()) {
                state
                    .violations
                    .push("purchaseShipment: a rate not of this quote".into());
                return error(400, "InvalidInput");
            }
            state.purchases += 1;
            let shipment = format!("amzn-shp-{}", state.purchases);
            let tracking = format!("TBA{:012}", state.purchases);
            let pdf = rc_local_host::sandbox::label_pdf(&[
                "AMAZON SHIPPING".into(),
                order,
                tracking.clone(),
            ]);
            let contents = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf);
            let answer = json!({"payload": {"shipmentId": shipment, "packageDocumentDetails": [{
                "packageClientReferenceId": reference, "trackingId": tracking,
                "packageDocuments": [{"type": "LABEL", "format": "PDF", "contents": contents}]}],
                "promise": {}}});
            state
                .shipments
                .insert(shipment, (reference, tracking, false));
            state.idempotency.insert(key, answer.clone());
            if state.lose_purchase_answer > 0 {
                state.lose_purchase_answer -= 1;
                return error(500, "InternalFailure");
            }
            respond(200, answer)
        }
        ("get", ["shipments", id, "documents"]) => {
            let Some((reference, tracking, _)) = state.shipments.get(*id).cloned() else {
                return error(404, "NotFound");
            };
            if !query.contains(&format!("packageClientReferenceId={}", reference)) {
                state
                    .violations
                    .push("documents: not this shipment's package reference".into());
            }
            let pdf =
                rc_local_host::sandbox::label_pdf(&["AMAZON SHIPPING".into(), tracking.clone()]);
            let contents = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf);
            respond(
                200,
                json!({"payload": {"shipmentId": id, "packageDocumentDetail": {
                "packageClientReferenceId": reference, "trackingId": tracking,
                "packageDocuments": [{"type": "LABEL", "format": "PDF", "contents": contents}]}}}),
            )
        }
        ("put", ["shipments", id, "cancel"]) => match state.shipments.get_mut(*id) {
            Some(shipment) => {
                shipment.2 = true;
                respond(200, json!({"payload": {}}))
            }
            None => error(404, "NotFound"),
        },
        _ => {
            state.violations.push(format!("unexpected {method} {path}"));
            error(404, "NotFound")
        }
    }
}

pub async fn start() -> StandIn {
    // Facts from Amazon's published Orders, Listings Items and Feeds models, kept here.
    let fact = |text: &str| -> Value { serde_json::from_str(text).expect("model facts") };
    let models = Arc::new(Models {
        notifications: fact(include_str!(
            "../../../fixtures/amazon-models/notifications_v1.facts.json"
        )),
        orders: spec(),
        confirm: fact(include_str!(
            "../../../fixtures/amazon-models/ordersV0.confirmShipment.facts.json"
        )),
        listings: fact(include_str!(
            "../../../fixtures/amazon-models/listingsItems_2021-08-01.facts.json"
        )),
        feeds: fact(include_str!(
            "../../../fixtures/amazon-models/feeds_2021-06-30.facts.json"
        )),
        shipping: fact(include_str!(
            "../../../fixtures/amazon-models/shippingV2.facts.json"
        )),
    });
    let state = Arc::new(Mutex::new(State::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (models, state) = (Arc::clone(&models), Arc::clone(&shared));
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (models, state) = (Arc::clone(&models), Arc::clone(&state));
                    async move { Ok::<_, Infallible>(handle(models, state, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
