//! The one in-process stand-in for Shiprocket's API (`/v1/external`), checking each request as
//! its published collection documents it: `auth/login` with the API user's email and password
//! for a bearer token; `orders/create/adhoc` with its required fields (an `order_id` of at most
//! 50 characters, never created twice: a second create answers the existing order); the
//! serviceability, AWB assignment, label, shipment, order search and cancel calls. A second AWB
//! assignment on a shipment *reassigns* it, as Shiprocket does — a second purchase — and is
//! recorded as a violation: our code must never do it. Faults are scripted.

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

pub const EMAIL: &str = "api-user@merchant.example";
pub const PASSWORD: &str = "Sr-api-password-1";
pub const PICKUP: &str = "Pune-Chakan";

pub struct SrOrder {
    pub id: u64,
    pub shipment_id: u64,
    pub recipient: Vec<String>,
    pub awb: Option<String>,
    pub courier: String,
    pub cancelled: bool,
}

#[derive(Default)]
pub struct State {
    /// By our `order_id` (Shiprocket's `channel_order_id`).
    pub orders: BTreeMap<String, SrOrder>,
    pub tokens: Vec<String>,
    pub logins: usize,
    pub creates: usize,
    pub assign_calls: usize,
    /// AWBs assigned, reassignments included: one per purchase.
    pub assignments: usize,
    pub label_downloads: usize,
    pub cancels: usize,
    /// Create the order, then answer 500 (the answer is lost).
    pub lose_create_answer: usize,
    /// Assign the AWB, then answer 500.
    pub error_after_assign: usize,
    pub violations: Vec<String>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl StandIn {
    pub fn base(&self) -> String {
        format!("http://{}/v1/external", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state")
    }

    /// Every token issued so far stops working (they expire).
    pub fn expire_tokens(&self) {
        self.state().tokens.clear();
    }
}

fn respond(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn positive(value: &Value) -> bool {
    value.as_f64().is_some_and(|n| n > 0.0)
}

fn check_create(body: &Value, violations: &mut Vec<String>) {
    let text = |field: &str| body[field].as_str().is_some_and(|s| !s.trim().is_empty());
    for field in [
        "order_id",
        "order_date",
        "pickup_location",
        "billing_customer_name",
        "billing_address",
        "billing_city",
        "billing_pincode",
        "billing_country",
        "payment_method",
    ] {
        if !text(field) {
            violations.push(format!("create: {field} missing"));
        }
    }
    if body["order_id"].as_str().is_some_and(|id| id.len() > 50) {
        violations.push("create: order_id over 50 characters".into());
    }
    let date = body["order_date"].as_str().unwrap_or_default();
    if date.len() != 10 || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        violations.push("create: order_date is not yyyy-mm-dd".into());
    }
    if body["pickup_location"] != PICKUP {
        violations.push("create: not the account's pickup location".into());
    }
    if body["shipping_is_billing"] != true {
        violations.push("create: shipping_is_billing false without shipping fields".into());
    }
    if !matches!(body["payment_method"].as_str(), Some("Prepaid" | "COD")) {
        violations.push("create: payment_method".into());
    }
    let items = body["order_items"].as_array().cloned().unwrap_or_default();
    if items.is_empty()
        || items.iter().any(|i| {
            i["name"].as_str().is_none()
                || i["sku"].as_str().is_none()
                || !positive(&i["units"])
                || i["selling_price"].as_f64().is_none()
        })
    {
        violations.push("create: order_items".into());
    }
    if body["sub_total"].as_f64().is_none() {
        violations.push("create: sub_total".into());
    }
    for side in ["length", "breadth", "height"] {
        if body[side].as_f64().is_none_or(|v| v < 0.5) {
            violations.push(format!("create: {side} under 0.5 cm"));
        }
    }
    if !positive(&body["weight"]) {
        violations.push("create: weight".into());
    }
}

fn order_view(order: &SrOrder, channel_order_id: &str) -> Value {
    json!({"id": order.id, "channel_order_id": channel_order_id,
        "status": if order.cancelled { "CANCELED" } else { "NEW" },
        "shipments": [{"id": order.shipment_id, "awb": order.awb.clone().unwrap_or_default()}]})
}

async fn handle(
    state: &Mutex<State>,
    addr: SocketAddr,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().clone();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = state.lock().expect("state");
    let path = path.trim_start_matches("/v1/external").to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    if let ["labels", file] = segments.as_slice() {
        if authorization.is_some() {
            state
                .violations
                .push("a label file was fetched with credentials".into());
        }
        state.label_downloads += 1;
        let id: u64 = file.trim_end_matches(".pdf").parse().unwrap_or(0);
        let Some(order) = state
            .orders
            .values()
            .find(|o| o.shipment_id == id && o.awb.is_some())
        else {
            return respond(404, json!({"message": "Not found"}));
        };
        let pdf = rc_local_host::sandbox::label_pdf(&order.recipient);
        return hyper::Response::builder()
            .status(200)
            .header("content-type", "application/pdf")
            .body(Full::new(Bytes::from(pdf)))
            .expect("response");
    }
    if segments.as_slice() == ["auth", "login"] {
        if body["email"] != EMAIL || body["password"] != PASSWORD {
            return respond(
                400,
                json!({"message": "Invalid email and password combination", "status_code": 400}),
            );
        }
        state.logins += 1;
        let token = format!("sr-token-{}", state.logins);
        state.tokens.push(token.clone());
        return respond(200, json!({"id": 1, "email": EMAIL, "token": token}));
    }
    let token = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if !state.tokens.contains(&token) {
        return respond(
            401,
            json!({"message": "Token has expired", "status_code": 401}),
        );
    }
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["orders", "create", "adhoc"]) => {
            check_create(&body, &mut state.violations);
            let ours = body["order_id"].as_str().unwrap_or_default().to_owned();
            if let Some(existing) = state.orders.get(&ours) {
                // The documented rule: an existing order_id does not create or change anything.
                return respond(
                    200,
                    json!({"order_id": existing.id, "shipment_id": existing.shipment_id,
                    "status": "NEW", "status_code": 1, "awb_code": existing.awb.clone().unwrap_or_default()}),
                );
            }
            state.creates += 1;
            let n = state.creates as u64;
            let text = |f: &str| body[f].as_str().unwrap_or_default().to_owned();
            let order = SrOrder {
                id: 500_000 + n,
                shipment_id: 900_000 + n,
                recipient: vec![
                    format!(
                        "{} {}",
                        text("billing_customer_name"),
                        text("billing_last_name")
                    ),
                    text("billing_address"),
                    format!("{} {}", text("billing_city"), text("billing_pincode")),
                ],
                awb: None,
                courier: String::new(),
                cancelled: false,
            };
            let answer = json!({"order_id": order.id, "shipment_id": order.shipment_id,
                "status": "NEW", "status_code": 1, "awb_code": ""});
            state.orders.insert(ours, order);
            if state.lose_create_answer > 0 {
                state.lose_create_answer -= 1;
                return respond(500, json!({"message": "Server Error"}));
            }
            respond(200, answer)
        }
        ("GET", ["orders"]) => {
            let wanted = query
                .split('&')
                .find_map(|p| p.strip_prefix("filter="))
                .unwrap_or_default()
                .to_owned();
            if !query.contains("filter_by=channel_order_id") {
                state
                    .violations
                    .push("orders: not filtered by channel_order_id".into());
            }
            let data: Vec<Value> = state
                .orders
                .iter()
                .filter(|(ours, _)| **ours == wanted)
                .map(|(ours, o)| order_view(o, ours))
                .collect();
            respond(200, json!({"data": data}))
        }
        ("GET", ["courier", "serviceability"]) => {
            let id: u64 = query
                .split('&')
                .find_map(|p| p.strip_prefix("order_id="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if !state.orders.values().any(|o| o.id == id) {
                return respond(
                    422,
                    json!({"message": "Order not found", "status_code": 422}),
                );
            }
            respond(
                200,
                json!({"status": 200, "data": {"available_courier_companies": [
                    {"courier_company_id": 12, "courier_name": "Delhivery Surface", "rate": 72.5, "estimated_delivery_days": "5"},
                    {"courier_company_id": 24, "courier_name": "Xpressbees", "rate": 68.0, "estimated_delivery_days": "4"},
                    {"courier_company_id": 43, "courier_name": "Bluedart Air", "rate": 145.0, "estimated_delivery_days": "2"}
                ]}}),
            )
        }
        ("POST", ["courier", "assign", "awb"]) => {
            state.assign_calls += 1;
            let (Some(shipment), Some(courier)) =
                (body["shipment_id"].as_u64(), body["courier_id"].as_u64())
            else {
                state
                    .violations
                    .push("assign: shipment_id and courier_id must be numbers".into());
                return respond(422, json!({"message": "Invalid data", "status_code": 422}));
            };
            let name = match courier {
                12 => "Delhivery Surface",
                24 => "Xpressbees",
                43 => "Bluedart Air",
                _ => {
                    return respond(
                        200,
                        json!({"awb_assign_status": 0, "response": {"data": {"awb_assign_error": "courier not serviceable"}}}),
                    );
                }
            };
            let assignments = state.assignments;
            let Some(order) = state
                .orders
                .values_mut()
                .find(|o| o.shipment_id == shipment)
            else {
                return respond(
                    422,
                    json!({"message": "Shipment not found", "status_code": 422}),
                );
            };
            let reassigned = order.awb.is_some();
            order.awb = Some(format!("1410{:09}", assignments + 1));
            order.courier = name.into();
            let awb = order.awb.clone();
            state.assignments += 1;
            if reassigned {
                state
                    .violations
                    .push("assign: an AWB was reassigned (a second purchase)".into());
            }
            if state.error_after_assign > 0 {
                state.error_after_assign -= 1;
                return respond(500, json!({"message": "Server Error"}));
            }
            respond(
                200,
                json!({"awb_assign_status": 1, "response": {"data": {"awb_code": awb,
                "courier_company_id": courier, "courier_name": name, "shipment_id": shipment,
                "assigned_date_time": {"date": "2026-11-30 10:00:00.000000", "timezone_type": 3, "timezone": "Asia/Kolkata"}}}}),
            )
        }
        ("POST", ["courier", "generate", "label"]) => {
            let ids: Vec<u64> = body["shipment_id"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let Some(id) = ids.first().copied() else {
                state
                    .violations
                    .push("label: shipment_id must be an array of ids".into());
                return respond(422, json!({"message": "Invalid data"}));
            };
            if !state
                .orders
                .values()
                .any(|o| o.shipment_id == id && o.awb.is_some())
            {
                return respond(200, json!({"label_created": 0, "not_created": [id]}));
            }
            respond(
                200,
                json!({"label_created": 1, "label_url": format!("http://{addr}/v1/external/labels/{id}.pdf"),
                "response": "Label has been created and uploaded successfully!", "not_created": []}),
            )
        }
        ("GET", ["shipments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match state.orders.values().find(|o| o.shipment_id == id) {
                Some(o) => respond(
                    200,
                    json!({"data": {"id": o.shipment_id, "order_id": o.id,
                    "awb": o.awb.clone().unwrap_or_default(), "courier": o.courier}}),
                ),
                None => respond(404, json!({"message": "Not found"})),
            }
        }
        ("POST", ["orders", "cancel"]) => {
            let ids: Vec<u64> = body["ids"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let mut found = false;
            for order in state.orders.values_mut() {
                if ids.contains(&order.id) {
                    order.cancelled = true;
                    found = true;
                }
            }
            if !found {
                return respond(422, json!({"message": "Order not found"}));
            }
            state.cancels += 1;
            respond(
                200,
                json!({"status": 200, "message": "Order cancelled successfully"}),
            )
        }
        _ => {
            state.violations.push(format!("unexpected {method} {path}"));
            respond(404, json!({"message": "Not found"}))
        }
    }
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
                    async move { Ok::<_, Infallible>(handle(&state, addr, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
