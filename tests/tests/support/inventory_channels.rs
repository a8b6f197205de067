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
        let input = &body["variables"]["input"];
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
        return respond(
            200,
            json!({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": errors}}}),
        );
    }
    // The read: aliased `lN: inventoryItem(id: "...") { inventoryLevel(locationId: "...") ...`.
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

async fn handle(
    model: Arc<Value>,
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
    if path.starts_with("/listings/2021-08-01/items/") {
        if headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
            != Some("Atza|inventory")
        {
            return respond(
                403,
                json!({"errors": [{"code": "Unauthorized", "message": "denied"}]}),
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
    let model_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs/amazon-sp-api/listingsItems_2021-08-01.json");
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(model_path).expect("listings model"))
            .expect("model");
    let model = Arc::new(model);
    let state = Arc::new(Mutex::new(State::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (model, state) = (Arc::clone(&model), Arc::clone(&shared));
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (model, state) = (Arc::clone(&model), Arc::clone(&state));
                    async move { Ok::<_, Infallible>(handle(model, state, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
