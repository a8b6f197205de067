//! The one in-process stand-in for EasyPost's API (`/v2`), checking each request as EasyPost
//! documents it: HTTP Basic with the API key and an empty password; `POST /shipments` with
//! `to_address`, `from_address` and a `parcel` in inches and ounces (201, a Shipment with
//! `rates`); `POST /shipments/{id}/buy` with one of its rates (200, `postage_label`,
//! `tracking_code`, `selected_rate`; `SHIPMENT.POSTAGE.EXISTS` when bought before);
//! `GET /shipments/{id}`; `POST /shipments/{id}/refund`; errors as `{"error": {"code",
//! "message", "errors"}}`. Label files are public objects: fetching one with credentials is a
//! violation. Faults are scripted: throttling, outages, answers lost after buying.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const API_KEY: &str = "EZTK_test_key_for_the_stand_in";

pub struct Shipment {
    pub reference: String,
    /// The recipient lines the label prints (a courier keeps what it is sent).
    pub recipient: Vec<String>,
    pub to: Value,
    pub parcel: Value,
    pub rates: Vec<Value>,
    pub bought: Option<(String, String)>,
    pub refunded: bool,
    /// The tracker's details, as (status, RFC 3339 time), oldest first.
    pub tracking: Vec<(String, String)>,
}

#[derive(Default)]
pub struct State {
    pub shipments: BTreeMap<String, Shipment>,
    pub creates: usize,
    /// Buy calls received, and purchases made (a shipment bought once per purchase).
    pub buy_calls: usize,
    pub purchases: usize,
    pub lookups: usize,
    pub label_downloads: usize,
    pub refunds: usize,
    /// Answer this many calls (any) with 429 first.
    pub throttle: usize,
    /// Answer every call with 503.
    pub down: bool,
    /// Buy, then answer this many buys with 500 (the answer is lost; the purchase stands).
    pub error_after_buy: usize,
    /// Buy, then wait this long before answering (a slow courier; a worker may die meanwhile).
    pub buy_delay: Option<Duration>,
    /// Answer this many buys with `SHIPMENT.POSTAGE.NO_RESPONSE` without buying.
    pub no_response: usize,
    /// Pad each label document to at least this many bytes (a PDF comment; benchmarks).
    pub label_size: usize,
    pub violations: Vec<String>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl StandIn {
    /// The API base the client is given (`…/v2`).
    pub fn base(&self) -> String {
        format!("http://{}/v2", self.addr)
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

fn error(status: u16, code: &str) -> hyper::Response<Full<Bytes>> {
    respond(
        status,
        json!({"error": {"code": code, "message": "stand-in", "errors": []}}),
    )
}

fn view(id: &str, shipment: &Shipment, base: &str) -> Value {
    let bought = shipment.bought.as_ref();
    let selected = bought.and_then(|(rate, _)| shipment.rates.iter().find(|r| r["id"] == *rate));
    let label = format!("{base}/files/{id}.pdf");
    json!({
        "id": id, "object": "Shipment", "mode": "test", "reference": shipment.reference,
        "to_address": shipment.to, "parcel": shipment.parcel, "rates": shipment.rates,
        "selected_rate": selected,
        "tracking_code": bought.map(|(_, t)| t),
        "postage_label": bought.map(|_| json!({"object": "PostageLabel", "label_url": label,
            "label_pdf_url": label, "label_file_type": "application/pdf"})),
        "refund_status": shipment.refunded.then_some("submitted"),
        "status": "unknown",
        "tracker": bought.map(|(_, code)| tracker(code, &shipment.tracking)),
    })
}

/// An EasyPost Tracker for `code` with these details (status, time), as EasyPost shapes it —
/// with the free-text fields (messages, locations) a courier fills in, which must never be kept.
pub fn tracker(code: &str, details: &[(String, String)]) -> Value {
    let status = details.last().map_or("pre_transit", |(s, _)| s.as_str());
    let updated = details
        .last()
        .map_or("2026-11-25T00:00:00Z", |(_, at)| at.as_str());
    json!({
        "id": format!("trk_{code}"), "object": "Tracker", "mode": "test",
        "tracking_code": code, "status": status, "status_detail": "unknown",
        "carrier": "USPS", "updated_at": updated, "created_at": "2026-11-25T00:00:00Z",
        "public_url": format!("https://track.easypost.com/{code}"),
        "tracking_details": details.iter().map(|(status, at)| json!({
            "object": "TrackingDetail", "status": status, "datetime": at,
            "message": "Left the facility at 7781 Kanarienweg", "source": "USPS",
            "tracking_location": {"object": "TrackingLocation", "city": "Zyxwvutville",
                                  "state": "KY", "country": "US", "zip": "ZQ7781X"},
        })).collect::<Vec<_>>(),
    })
}

/// An EasyPost webhook Event (`tracker.updated`) about `code`.
pub fn tracker_event(event_id: &str, code: &str, details: &[(&str, &str)]) -> Vec<u8> {
    let details: Vec<(String, String)> = details
        .iter()
        .map(|(s, t)| ((*s).to_owned(), (*t).to_owned()))
        .collect();
    serde_json::to_vec(&json!({
        "id": event_id, "object": "Event", "description": "tracker.updated", "mode": "test",
        "status": "pending", "user_id": "user_1", "pending_urls": [], "completed_urls": [],
        "created_at": "2026-11-25T00:00:00Z", "updated_at": "2026-11-25T00:00:00Z",
        "previous_attributes": {"status": "pre_transit"},
        "result": tracker(code, &details),
    }))
    .expect("event")
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| *n > 0.0)
}

/// The checks `POST /shipments` makes of its body.
fn check_create(body: &Value, violations: &mut Vec<String>) {
    let shipment = &body["shipment"];
    for side in ["to_address", "from_address"] {
        for field in ["street1", "city", "zip", "country"] {
            if shipment[side][field].as_str().is_none_or(str::is_empty) {
                violations.push(format!("create: {side}.{field} missing"));
            }
        }
    }
    for field in ["length", "width", "height", "weight"] {
        if number(&shipment["parcel"][field]).is_none() {
            violations.push(format!("create: parcel.{field} not a positive number"));
        }
    }
    if shipment["reference"].as_str().is_none_or(str::is_empty) {
        violations.push("create: no reference".into());
    }
    if shipment["options"]["label_format"] != "PDF" {
        violations.push("create: label_format is not PDF".into());
    }
}

async fn handle(
    state: &Mutex<State>,
    addr: SocketAddr,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let base = format!("http://{addr}");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    // Label files: public, no credentials.
    if let ["files", file] = segments.as_slice() {
        let mut state = state.lock().expect("state");
        if authorization.is_some() {
            state
                .violations
                .push("a label file was fetched with credentials".into());
        }
        state.label_downloads += 1;
        let id = file.trim_end_matches(".pdf");
        let Some(shipment) = state.shipments.get(id).filter(|s| s.bought.is_some()) else {
            return Ok(error(404, "NOT_FOUND"));
        };
        let mut pdf = rc_local_host::sandbox::label_pdf(&shipment.recipient);
        if pdf.len() < state.label_size {
            // A comment line after the header (the xref offsets shift: benchmarks only).
            let pad = state.label_size - pdf.len();
            let mut padded = b"%PDF-1.4\n%".to_vec();
            padded.extend(std::iter::repeat_n(b'x', pad.saturating_sub(2)));
            padded.push(b'\n');
            padded.extend_from_slice(&pdf[b"%PDF-1.4\n".len()..]);
            pdf = padded;
        }
        return Ok(hyper::Response::builder()
            .status(200)
            .header("content-type", "application/pdf")
            .body(Full::new(Bytes::from(pdf)))
            .expect("response"));
    }

    let delay = {
        let mut state = state.lock().expect("state");
        if state.down {
            return Ok(error(503, "SERVICE.UNAVAILABLE"));
        }
        if state.throttle > 0 {
            state.throttle -= 1;
            return Ok(error(429, "RATE_LIMITED"));
        }
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"))
        );
        if authorization.as_deref() != Some(expected.as_str()) {
            return Ok(error(401, "APIKEY.INACTIVE"));
        }
        if method == hyper::Method::POST
            && !body.is_empty()
            && content_type.as_deref() != Some("application/json")
        {
            state
                .violations
                .push(format!("{path}: body without a JSON content type"));
        }
        state.buy_delay
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v2", "shipments"]) => {
            let mut state = state.lock().expect("state");
            check_create(&parsed, &mut state.violations);
            state.creates += 1;
            let id = format!("shp_{:032x}", state.creates);
            let to = parsed["shipment"]["to_address"].clone();
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let recipient = vec![
                text(&to["name"]),
                text(&to["street1"]),
                format!("{} {}", text(&to["city"]), text(&to["zip"])),
                text(&to["country"]),
            ];
            let rates = [
                ("First", "4.60", 3),
                ("Priority", "7.90", 2),
                ("Express", "29.50", 1),
            ]
            .iter()
            .map(|(service, rate, days)| {
                json!({"id": format!("rate_{}_{service}", &id[4..12]), "object": "Rate",
                        "carrier": "USPS", "service": service, "rate": rate, "currency": "USD",
                        "delivery_days": days, "shipment_id": id})
            })
            .collect();
            let shipment = Shipment {
                reference: text(&parsed["shipment"]["reference"]),
                recipient,
                to,
                parcel: parsed["shipment"]["parcel"].clone(),
                rates,
                bought: None,
                refunded: false,
                tracking: Vec::new(),
            };
            let answer = view(&id, &shipment, &base);
            state.shipments.insert(id, shipment);
            Ok(respond(201, answer))
        }
        ("GET", ["v2", "shipments", id]) => {
            let mut state = state.lock().expect("state");
            state.lookups += 1;
            Ok(match state.shipments.get(*id) {
                Some(shipment) => respond(200, view(id, shipment, &base)),
                None => error(404, "NOT_FOUND"),
            })
        }
        ("POST", ["v2", "shipments", id, "buy"]) => {
            let rate = parsed["rate"]["id"].as_str().unwrap_or_default().to_owned();
            let answer = {
                let mut state = state.lock().expect("state");
                state.buy_calls += 1;
                if state.no_response > 0 {
                    state.no_response -= 1;
                    return Ok(error(422, "SHIPMENT.POSTAGE.NO_RESPONSE"));
                }
                let purchases = state.purchases;
                let Some(shipment) = state.shipments.get_mut(*id) else {
                    return Ok(error(404, "NOT_FOUND"));
                };
                if shipment.bought.is_some() {
                    return Ok(error(422, "SHIPMENT.POSTAGE.EXISTS"));
                }
                if !shipment.rates.iter().any(|r| r["id"] == rate.as_str()) {
                    state
                        .violations
                        .push("buy: a rate not of this shipment".into());
                    return Ok(error(422, "SHIPMENT.RATE.INVALID"));
                }
                shipment.bought = Some((rate, format!("9400111{:015}", purchases + 1)));
                let answer = view(id, shipment, &base);
                state.purchases += 1;
                if state.error_after_buy > 0 {
                    state.error_after_buy -= 1;
                    return Ok(error(500, "INTERNAL_SERVER_ERROR"));
                }
                answer
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            Ok(respond(200, answer))
        }
        ("POST", ["v2", "shipments", id, "refund"]) => {
            let mut state = state.lock().expect("state");
            let Some(shipment) = state.shipments.get_mut(*id) else {
                return Ok(error(404, "NOT_FOUND"));
            };
            if shipment.bought.is_none() {
                return Ok(error(422, "SHIPMENT.REFUND.UNAVAILABLE"));
            }
            shipment.refunded = true;
            let answer = view(id, shipment, &base);
            state.refunds += 1;
            Ok(respond(200, answer))
        }
        _ => {
            state
                .lock()
                .expect("state")
                .violations
                .push(format!("unexpected {method} {path}"));
            Ok(error(404, "NOT_FOUND"))
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
                    async move {
                        Ok::<_, Infallible>(
                            handle(&state, addr, request)
                                .await
                                .unwrap_or_else(|_| error(500, "INTERNAL")),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    StandIn { addr, state }
}
