//! An in-process stand-in for the Shopify Admin REST API's `orders.json`, checking each request
//! as Shopify documents it: the access token header, the first page's filters, and cursor pages
//! that carry only `limit` and `page_info`.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub const ACCESS_TOKEN: &str = "shpat_test_access_token";

#[derive(Default)]
pub struct State {
    pub orders: Vec<serde_json::Value>,
    pub calls: usize,
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

fn handle(
    state: &Mutex<State>,
    request: &hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let mut state = state.lock().expect("state");
    state.calls += 1;
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or_default().to_owned();
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
    if path != "/admin/api/2026-10/orders.json" || request.method() != hyper::Method::GET {
        state
            .violations
            .push(format!("unexpected {} {path}", request.method()));
    }
    let token = request
        .headers()
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(ACCESS_TOKEN) {
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
                    async move { Ok::<_, Infallible>(handle(&state, &request)) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
