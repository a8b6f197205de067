//! An in-process stand-in for Login with Amazon and the SP-API Orders API v2026-01-01. It checks
//! every request as Amazon documents it — getOrder against the published model in
//! `tests/fixtures/amazon-models/orders_2026-01-01.facts.json` (path, method, query parameters and
//! their enum values, the access token header), the token request against LWA's refresh-token
//! grant — and records any violation for the test to assert on.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "amzn1.application-oa2-client.test";
pub const CLIENT_SECRET: &str = "lwa-client-secret-test";
pub const REFRESH_TOKEN: &str = "Atzr|refresh-token-test";

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

fn form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn respond(status: u16, body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RateLimit-Limit", "0.5")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

async fn handle(
    model: Arc<serde_json::Value>,
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
        let expect = [
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ];
        if method != "post"
            || headers.get("content-type").and_then(|v| v.to_str().ok())
                != Some("application/x-www-form-urlencoded")
        {
            state
                .violations
                .push("LWA token request is not a form POST".into());
        }
        for (name, value) in expect {
            if fields.get(name).map(String::as_str) != Some(value) {
                state
                    .violations
                    .push(format!("LWA token request field {name} is wrong"));
                return respond(400, serde_json::json!({"error": "invalid_grant"}));
            }
        }
        let token = format!("Atza|access-{}", state.token_calls);
        state.valid_tokens.push(token.clone());
        return respond(
            200,
            serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": 3600}),
        );
    }

    if path == "/orders/2026-01-01/orders" {
        state.search_calls += 1;
    } else {
        state.get_order_calls += 1;
    }
    let violations = check_against_model(&model, &method, &path, &query);
    state.violations.extend(violations);
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !state.valid_tokens.contains(&token) {
        return respond(
            403,
            serde_json::json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}),
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

pub async fn start() -> StandIn {
    let model = Arc::new(spec());
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
