//! The one in-process stand-in for Shopify's Admin API, checking each request as Shopify
//! documents it: the REST `orders.json` (the access token header, the first page's filters,
//! cursor pages that carry only `limit` and `page_info`) and the GraphQL inventory calls
//! (`inventorySetQuantities` with `@idempotent` and `changeFromQuantity`, and the
//! `inventoryLevel` read used to recover from a stale compare), and fulfillment through
//! fulfillment orders (the order's fulfillment orders and fulfillments, `fulfillmentCreate`
//! with `lineItemsByFulfillmentOrder` and `trackingInfo`, `fulfillmentTrackingInfoUpdate`;
//! `userErrors` in a 200 for business refusals, `THROTTLED` when asked to). It holds what the
//! shop holds.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const ACCESS_TOKEN: &str = "shpat_test_access_token";
/// Our Shopify app as the stand-in knows it (its client id and secret).
pub const APP_CLIENT_ID: &str = "rc-test-app-client-id";
pub const APP_SECRET: &str = "shpss_rc_test_app_secret";

#[derive(Default)]
pub struct State {
    /// Orders `orders.json` lists, two per page.
    pub orders: Vec<serde_json::Value>,
    /// `orders.json` calls.
    pub calls: usize,
    /// (inventory item id, location id) -> available, as Shopify holds it.
    pub levels: BTreeMap<(u64, u64), i64>,
    /// Levels Shopify knows (others answer ITEM_NOT_STOCKED_AT_LOCATION).
    pub stocked: Vec<(u64, u64)>,
    pub mutations: usize,
    pub reads: usize,
    /// Answer every GraphQL call with 503 (a channel outage).
    pub down: bool,
    /// Answer this many GraphQL calls with 429 first.
    pub throttle: usize,
    /// `@idempotent` keys seen: key -> the input it came with, and the answer given. A repeated
    /// key with the same input gets the same answer without a second change (Shopify's rule).
    pub idempotency: BTreeMap<String, (Value, Value)>,
    pub violations: Vec<String>,
    /// Fulfillment orders by order id (GraphQL nodes), and the fulfillments made.
    pub fulfillment_orders: BTreeMap<u64, Vec<Value>>,
    pub fulfillments: BTreeMap<u64, Vec<Value>>,
    pub fulfillment_reads: usize,
    pub fulfillment_creates: usize,
    pub tracking_updates: usize,
    /// `notifyCustomer` of each fulfillmentCreate.
    pub notified: Vec<bool>,
    /// Answer this many GraphQL calls 200 with a THROTTLED error first.
    pub graphql_throttled: usize,
    /// Shopify's calculated-cost leaky bucket, when set: (capacity, points restored per
    /// second); a query costs 12 points, a mutation 10, and a call finding the bucket short is
    /// answered THROTTLED (benches: throughput at the rate limit).
    pub cost_bucket: Option<(f64, f64)>,
    /// The bucket's level and when it was last filled.
    pub bucket_level: Option<(f64, std::time::Instant)>,
    /// OAuth: authorization codes Shopify issued and not yet exchanged (single use), code
    /// exchanges asked for, and the scopes a grant carries.
    pub oauth_codes: Vec<String>,
    pub code_exchanges: usize,
    pub granted_scope: String,
    /// Webhook subscriptions: (id, topic, uri); `webhookSubscriptionCreate` calls.
    pub webhooks: Vec<(String, String, String)>,
    pub webhook_creates: usize,
}

impl State {
    /// Gives `order` one open fulfillment order holding these lines: (line item id, sku,
    /// quantity).
    pub fn open_order(&mut self, order: u64, lines: &[(u64, &str, i64)]) {
        let fo = self.fulfillment_orders.entry(order).or_default();
        let n = fo.len() + 1;
        fo.push(json!({
            "id": format!("gid://shopify/FulfillmentOrder/{order}{n}"),
            "status": "OPEN",
            "lineItems": {"nodes": lines.iter().map(|(id, sku, quantity)| json!({
                "id": format!("gid://shopify/FulfillmentOrderLineItem/{id}{n}"),
                "remainingQuantity": quantity,
                "totalQuantity": quantity,
                "lineItem": {"id": format!("gid://shopify/LineItem/{id}"), "sku": sku},
            })).collect::<Vec<_>>()},
        }));
    }

    /// The tracking numbers of the order's fulfillments.
    pub fn tracking_numbers(&self, order: u64) -> Vec<String> {
        self.fulfillments
            .get(&order)
            .into_iter()
            .flatten()
            .flat_map(|f| f["trackingInfo"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t["number"].as_str().map(str::to_owned))
            .collect()
    }
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

async fn handle(
    state: &Mutex<State>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut state = state.lock().expect("state");
    let authorized = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        == Some(ACCESS_TOKEN);
    if path == "/admin/oauth/access_token" {
        return access_token(&mut state, &method, &headers, &body);
    }
    if path == "/admin/api/2026-10/graphql.json" {
        if state.down {
            return respond(503, json!({"errors": "unavailable"}));
        }
        if state.throttle > 0 {
            state.throttle -= 1;
            return hyper::Response::builder()
                .status(429)
                .header("retry-after", "0.05")
                .body(Full::new(Bytes::from_static(
                    br#"{"errors":"Exceeded 2 calls per second for api client."}"#,
                )))
                .expect("response");
        }
        if !authorized {
            return respond(
                401,
                json!({"errors": "[API] Invalid API key or access token"}),
            );
        }
        if method != hyper::Method::POST {
            state.violations.push("GraphQL must be POST".into());
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        return graphql(&mut state, &body);
    }
    state.calls += 1;
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if path != "/admin/api/2026-10/orders.json" || method != hyper::Method::GET {
        state.violations.push(format!("unexpected {method} {path}"));
    }
    if !authorized {
        return hyper::Response::builder()
            .status(401)
            .body(Full::new(Bytes::from(r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#)))
            .expect("response");
    }
    let offset = match get("page_info") {
        Some(cursor) => {
            if params.iter().any(|(k, _)| k != "limit" && k != "page_info") {
                state
                    .violations
                    .push("a page_info request may carry only limit and page_info".into());
            }
            cursor
                .strip_prefix("c")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        }
        None => {
            if get("status").as_deref() != Some("any") || get("updated_at_min").is_none() {
                state
                    .violations
                    .push("the first page needs status=any and updated_at_min".into());
            }
            0
        }
    };
    let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    if limit > 250 {
        state.violations.push("limit over 250".into());
    }
    let page: Vec<_> = state.orders.iter().skip(offset).take(2).cloned().collect();
    let mut response = hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json");
    if offset + 2 < state.orders.len() {
        response = response.header(
            "link",
            format!("<https://shop.myshopify.com/admin/api/2026-10/orders.json?limit=250&page_info=c{}>; rel=\"next\"", offset + 2),
        );
    }
    response
        .body(Full::new(Bytes::from(
            serde_json::json!({ "orders": page }).to_string(),
        )))
        .expect("response")
}

fn gid_number(value: &Value, kind: &str) -> Option<u64> {
    value
        .as_str()?
        .strip_prefix(&format!("gid://shopify/{kind}/"))?
        .parse()
        .ok()
}

/// Shopify's throttled answer: 200, a THROTTLED error, and the bucket's state.
fn throttled(
    requested: f64,
    available: f64,
    maximum: f64,
    restore: f64,
) -> hyper::Response<Full<Bytes>> {
    respond(
        200,
        json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
               "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": null,
               "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available.floor(), "restoreRate": restore}}}}),
    )
}

fn graphql(state: &mut State, body: &Value) -> hyper::Response<Full<Bytes>> {
    let query = body["query"].as_str().unwrap_or_default();
    let cost = if query.starts_with("mutation") {
        10.0
    } else {
        12.0
    };
    if state.graphql_throttled > 0 {
        state.graphql_throttled -= 1;
        return throttled(cost, 0.0, 1000.0, 100.0);
    }
    if let Some((capacity, restore)) = state.cost_bucket {
        let now = std::time::Instant::now();
        let (level, at) = state.bucket_level.unwrap_or((capacity, now));
        let level = (level + restore * now.duration_since(at).as_secs_f64()).min(capacity);
        if level < cost {
            state.bucket_level = Some((level, now));
            return throttled(cost, level, capacity, restore);
        }
        state.bucket_level = Some((level - cost, now));
    }
    if query.starts_with("query RetailCoderWebhooks(") {
        return webhook_subscriptions(state, query, &body["variables"]);
    }
    if query.starts_with("mutation RetailCoderWebhookCreate(") {
        return webhook_create(state, query, &body["variables"]);
    }
    if query.starts_with("query OrderFulfillment(") {
        return order_fulfillment(state, query, &body["variables"]);
    }
    if query.starts_with("mutation FulfillmentCreate(") {
        return fulfillment_create(state, query, &body["variables"]);
    }
    if query.starts_with("mutation FulfillmentTrackingInfoUpdate(") {
        return tracking_update(state, query, &body["variables"]);
    }
    if query.starts_with("mutation") {
        state.mutations += 1;
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
            let held = state.levels.get(&(item, location)).copied().unwrap_or(0);
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
            state.levels.extend(updates);
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
fn user_error(field: &[&str], message: &str) -> Value {
    json!({"field": field, "message": message})
}

/// `order(id:) { fulfillments { id trackingInfo } fulfillmentOrders { nodes { ... } } }`.
fn order_fulfillment(
    state: &mut State,
    query: &str,
    variables: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.fulfillment_reads += 1;
    for needed in [
        "order(id: $id)",
        "fulfillmentOrders(first:",
        "remainingQuantity",
        "lineItem { id sku }",
        "trackingInfo",
    ] {
        if !query.contains(needed) {
            state
                .violations
                .push(format!("order fulfillment query lacks `{needed}`"));
        }
    }
    let Some(order) = gid_number(&variables["id"], "Order") else {
        state.violations.push("order id is not an Order gid".into());
        return respond(
            200,
            json!({"errors": [{"message": "invalid id", "extensions": {"code": "BAD_REQUEST"}}]}),
        );
    };
    let Some(fos) = state.fulfillment_orders.get(&order).cloned() else {
        return respond(200, json!({"data": {"order": null}}));
    };
    let fulfillments = state.fulfillments.get(&order).cloned().unwrap_or_default();
    respond(
        200,
        json!({"data": {"order": {"id": variables["id"], "fulfillments": fulfillments,
               "fulfillmentOrders": {"nodes": fos}}}}),
    )
}

/// `fulfillmentCreate(fulfillment: FulfillmentInput!)`, checked as Shopify documents the input.
fn fulfillment_create(
    state: &mut State,
    query: &str,
    variables: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.fulfillment_creates += 1;
    if !query.contains("fulfillmentCreate(fulfillment: $fulfillment)")
        || !query.contains("userErrors")
    {
        state
            .violations
            .push("fulfillmentCreate document is not the documented one".into());
    }
    let input = &variables["fulfillment"];
    let answer = |errors: Vec<Value>, fulfillment: Value| {
        respond(
            200,
            json!({"data": {"fulfillmentCreate": {"fulfillment": fulfillment, "userErrors": errors}}}),
        )
    };
    let tracking = &input["trackingInfo"];
    if !tracking["company"].is_string() || !tracking["number"].is_string() {
        state
            .violations
            .push("trackingInfo needs company and number strings".into());
    }
    if !input["notifyCustomer"].is_boolean() {
        state
            .violations
            .push("notifyCustomer is not a boolean".into());
    }
    let groups = input["lineItemsByFulfillmentOrder"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if groups.is_empty() {
        state
            .violations
            .push("lineItemsByFulfillmentOrder is empty".into());
        return answer(
            vec![user_error(
                &["fulfillment", "lineItemsByFulfillmentOrder"],
                "required",
            )],
            Value::Null,
        );
    }
    let mut order = None;
    for group in &groups {
        let Some(fo_id) = group["fulfillmentOrderId"].as_str() else {
            state.violations.push("fulfillmentOrderId missing".into());
            continue;
        };
        let found = state
            .fulfillment_orders
            .iter()
            .find(|(_, fos)| fos.iter().any(|fo| fo["id"] == fo_id))
            .map(|(o, _)| *o);
        if order.is_some() && order != found {
            state
                .violations
                .push("fulfillment orders of two orders in one call".into());
        }
        order = found;
    }
    let Some(order) = order else {
        return answer(
            vec![user_error(
                &[
                    "fulfillment",
                    "lineItemsByFulfillmentOrder",
                    "0",
                    "fulfillmentOrderId",
                ],
                "not found",
            )],
            Value::Null,
        );
    };
    // Validate everything before changing anything.
    let fos = state
        .fulfillment_orders
        .get(&order)
        .cloned()
        .unwrap_or_default();
    for group in &groups {
        let fo = fos
            .iter()
            .find(|fo| fo["id"] == group["fulfillmentOrderId"])
            .cloned()
            .unwrap_or_default();
        if !matches!(fo["status"].as_str(), Some("OPEN" | "IN_PROGRESS")) {
            return answer(
                vec![user_error(
                    &["fulfillment"],
                    "Fulfillment order is not open",
                )],
                Value::Null,
            );
        }
        for line in group["fulfillmentOrderLineItems"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let quantity = line["quantity"].as_i64().unwrap_or(0);
            if !line["quantity"].is_i64() || quantity <= 0 {
                state
                    .violations
                    .push("fulfillmentOrderLineItems quantity is not a positive Int".into());
            }
            let remaining = fo["lineItems"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["id"] == line["id"])
                .and_then(|l| l["remainingQuantity"].as_i64());
            match remaining {
                None => {
                    return answer(
                        vec![user_error(
                            &["fulfillment", "lineItemsByFulfillmentOrder"],
                            "line item not found",
                        )],
                        Value::Null,
                    );
                }
                Some(left) if left < quantity => {
                    return answer(
                        vec![user_error(
                            &["fulfillment", "lineItemsByFulfillmentOrder"],
                            "Invalid fulfillment order line item quantity requested.",
                        )],
                        Value::Null,
                    );
                }
                Some(_) => {}
            }
        }
    }
    let fos = state.fulfillment_orders.get_mut(&order).expect("order");
    for group in &groups {
        let Some(fo) = fos
            .iter_mut()
            .find(|fo| fo["id"] == group["fulfillmentOrderId"])
        else {
            continue;
        };
        for line in group["fulfillmentOrderLineItems"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(node) = fo["lineItems"]["nodes"]
                .as_array_mut()
                .and_then(|n| n.iter_mut().find(|l| l["id"] == line["id"]))
            {
                let left = node["remainingQuantity"].as_i64().unwrap_or(0)
                    - line["quantity"].as_i64().unwrap_or(0);
                node["remainingQuantity"] = json!(left);
            }
        }
        let open = fo["lineItems"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["remainingQuantity"].as_i64() > Some(0));
        fo["status"] = json!(if open { "IN_PROGRESS" } else { "CLOSED" });
    }
    state.notified.push(input["notifyCustomer"] == true);
    let made = state.fulfillments.entry(order).or_default();
    let fulfillment = json!({
        "id": format!("gid://shopify/Fulfillment/{order}{}", made.len() + 1),
        "status": "SUCCESS",
        "trackingInfo": [{"number": tracking["number"], "company": tracking["company"]}],
    });
    made.push(fulfillment.clone());
    answer(
        Vec::new(),
        json!({"id": fulfillment["id"], "status": "SUCCESS"}),
    )
}

/// `fulfillmentTrackingInfoUpdate(fulfillmentId:, trackingInfoInput:, notifyCustomer:)`.
fn tracking_update(
    state: &mut State,
    query: &str,
    variables: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.tracking_updates += 1;
    if !query.contains("fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput") {
        state.violations.push("fulfillmentTrackingInfoUpdate document is not the documented one".into());
    }
    let id = variables["fulfillmentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let info = variables["trackingInfoInput"].clone();
    if !info["number"].is_string() {
        state
            .violations
            .push("trackingInfoInput.number is not a string".into());
    }
    let found = state
        .fulfillments
        .values_mut()
        .flatten()
        .find(|f| f["id"] == id.as_str());
    let Some(fulfillment) = found else {
        return respond(
            200,
            json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": null,
            "userErrors": [user_error(&["fulfillmentId"], "Fulfillment does not exist.")]}}}),
        );
    };
    fulfillment["trackingInfo"] = json!([{"number": info["number"], "company": info["company"]}]);
    respond(
        200,
        json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": {"id": id}, "userErrors": []}}}),
    )
}

fn read(state: &mut State, query: &str) -> hyper::Response<Full<Bytes>> {
    state.reads += 1;
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
            json!({"quantities": [{"name": "available", "quantity": state.levels.get(&key).copied().unwrap_or(0)}]})
        } else {
            Value::Null
        };
        data.insert(alias, json!({"inventoryLevel": level}));
    }
    respond(200, json!({"data": data}))
}

/// `POST /admin/oauth/access_token`: the authorization code grant's exchange, as Shopify
/// documents it — a JSON body with the app's `client_id`, `client_secret` and the `code` (valid
/// once); the offline token and its scopes in the answer.
fn access_token(
    state: &mut State,
    method: &hyper::Method,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> hyper::Response<Full<Bytes>> {
    state.code_exchanges += 1;
    if method != hyper::Method::POST
        || !headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    {
        state
            .violations
            .push("the code exchange is not a JSON POST".into());
    }
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let refused = || {
        respond(
            400,
            json!({"error": "invalid_request", "error_description": "The authorization code was not found or was already used"}),
        )
    };
    if body["client_id"] != APP_CLIENT_ID || body["client_secret"] != APP_SECRET {
        state
            .violations
            .push("the code exchange names another app".into());
        return refused();
    }
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let Some(at) = state.oauth_codes.iter().position(|c| *c == code) else {
        return refused();
    };
    state.oauth_codes.remove(at);
    respond(
        200,
        json!({"access_token": ACCESS_TOKEN, "scope": state.granted_scope}),
    )
}

/// `webhookSubscriptions(first:, uri:)`: the shop's subscriptions to one address.
fn webhook_subscriptions(
    state: &mut State,
    query: &str,
    variables: &Value,
) -> hyper::Response<Full<Bytes>> {
    if !query.contains("webhookSubscriptions(first: 50, uri: $uri)") {
        state
            .violations
            .push("webhookSubscriptions read without first/uri".into());
    }
    let uri = variables["uri"].as_str().unwrap_or_default();
    let nodes: Vec<Value> = state
        .webhooks
        .iter()
        .filter(|(_, _, u)| u == uri)
        .map(|(id, topic, uri)| json!({"id": id, "topic": topic, "uri": uri}))
        .collect();
    respond(
        200,
        json!({"data": {"webhookSubscriptions": {"nodes": nodes}}}),
    )
}

/// `webhookSubscriptionCreate(topic:, webhookSubscription: {uri})`: one subscription per topic
/// and address; a second is refused in `userErrors`, as Shopify does.
fn webhook_create(
    state: &mut State,
    query: &str,
    variables: &Value,
) -> hyper::Response<Full<Bytes>> {
    state.webhook_creates += 1;
    if !query.contains("userErrors { field message }") {
        state
            .violations
            .push("webhookSubscriptionCreate without userErrors".into());
    }
    const TOPICS: [&str; 5] = [
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
        "ORDERS_CANCELLED",
        "ORDERS_FULFILLED",
        "APP_UNINSTALLED",
    ];
    let topic = variables["topic"].as_str().unwrap_or_default();
    let uri = variables["webhookSubscription"]["uri"]
        .as_str()
        .unwrap_or_default();
    if !TOPICS.contains(&topic) {
        state
            .violations
            .push(format!("unexpected webhook topic {topic}"));
    }
    if variables["webhookSubscription"]
        .get("callbackUrl")
        .is_some()
    {
        state
            .violations
            .push("callbackUrl is deprecated: the address goes in uri".into());
    }
    if !uri.starts_with("https://") && !uri.starts_with("http://127.0.0.1") {
        state
            .violations
            .push("a webhook address must be https".into());
    }
    if state
        .webhooks
        .iter()
        .any(|(_, t, u)| t == topic && u == uri)
    {
        return respond(
            200,
            json!({"data": {"webhookSubscriptionCreate": {"webhookSubscription": null,
                "userErrors": [{"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already been taken"}]}}}),
        );
    }
    let id = format!(
        "gid://shopify/WebhookSubscription/{}",
        state.webhooks.len() + 1
    );
    state
        .webhooks
        .push((id.clone(), topic.to_owned(), uri.to_owned()));
    respond(
        200,
        json!({"data": {"webhookSubscriptionCreate": {"webhookSubscription": {"id": id, "topic": topic, "uri": uri}, "userErrors": []}}}),
    )
}

pub async fn start() -> StandIn {
    let state = Arc::new(Mutex::new(State::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
