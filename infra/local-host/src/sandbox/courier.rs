//! The sandbox courier: a local courier that speaks EasyPost's API (the label generator's
//! EasyPost client talks to it unchanged). It quotes three services, buys each shipment once
//! (`SHIPMENT.POSTAGE.EXISTS` after), assigns a tracking number (an AWB), serves a real small
//! PDF label, refunds, and shows what it sold at `GET /sandbox/courier/purchases` (no buyer
//! data: ids, services, tracking numbers, tracking status).
//!
//! Then it carries the parcels: every stage (configurable, 20 s by default) each bought label
//! moves on — picked up (in transit), out for delivery, delivered — with one in ten delivery
//! attempts failing first and one in twenty returned to the sender, and each move is posted
//! as EasyPost posts it: a `tracker.updated` Event signed with the account's webhook secret.
//! Its trackers are also readable (`GET /v2/shipments/{id}`), for the polling fallback.
//!
//! Like a real courier it keeps the addresses it was sent, in memory, for as long as the local
//! host runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use rc_api::json as json_response;
use serde_json::{Value, json};

/// The API key of the demo merchant's sandbox courier account.
pub const SANDBOX_COURIER_KEY: &str = "sandbox_courier_demo_key";
/// The secret the sandbox courier signs its tracking webhooks with (EasyPost's scheme).
pub const SANDBOX_COURIER_WEBHOOK_SECRET: &str = "sandbox_courier_webhook_secret";
/// Where the sandbox courier is served; the EasyPost API's `/v2` beneath it.
pub const COURIER_PATH: &str = "/sandbox/courier";

/// (service, price in cents, delivery days)
const SERVICES: [(&str, i64, u32); 3] = [
    ("Ground", 790, 5),
    ("Priority", 1150, 2),
    ("Express", 3100, 1),
];

struct SandboxShipment {
    reference: String,
    /// What the label prints: the recipient's lines (kept as a courier keeps them).
    recipient: Vec<String>,
    rates: Vec<Value>,
    bought: Option<(String, String)>,
    refunded: bool,
    /// When it was bought, and its tracking details so far: (status, RFC 3339 time).
    bought_at: Option<std::time::Instant>,
    tracking: Vec<(String, String)>,
}

/// The statuses a parcel goes through, by its number: one in twenty is returned to the sender,
/// one in ten has a failed delivery attempt first, the rest are delivered.
fn journey(number: u64) -> &'static [&'static str] {
    if number.is_multiple_of(20) {
        &[
            "in_transit",
            "out_for_delivery",
            "return_to_sender",
            "delivered",
        ]
    } else if number.is_multiple_of(10) {
        &[
            "in_transit",
            "out_for_delivery",
            "available_for_pickup",
            "delivered",
        ]
    } else {
        &["in_transit", "out_for_delivery", "delivered"]
    }
}

/// An EasyPost Tracker of these details.
fn tracker(code: &str, details: &[(String, String)]) -> Value {
    let status = details.last().map_or("pre_transit", |(s, _)| s.as_str());
    let updated = details.last().map(|(_, at)| at.clone());
    json!({
        "id": format!("trk_{code}"), "object": "Tracker", "mode": "test",
        "tracking_code": code, "status": status, "carrier": "SandboxPost",
        "updated_at": updated, "public_url": null,
        "tracking_details": details.iter().map(|(status, at)| json!({
            "object": "TrackingDetail", "status": status, "datetime": at,
            "message": format!("Sandbox: {status}"), "source": "SandboxPost",
        })).collect::<Vec<_>>(),
    })
}

#[derive(Default)]
struct Book {
    shipments: BTreeMap<String, SandboxShipment>,
    next: u64,
}

#[derive(Default)]
pub struct SandboxCourier {
    book: Mutex<Book>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Bytes> {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "errors": []}}),
    )
}

/// A one-page 4×6 inch PDF printing `lines` in Helvetica: the smallest real label.
pub fn label_pdf(lines: &[String]) -> Vec<u8> {
    let escape = |line: &str| -> String {
        line.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
                _ => "?".into(),
            })
            .collect()
    };
    let mut content = String::from("BT /F1 14 Tf 24 396 Td 18 TL\n");
    for line in lines {
        content.push_str(&format!("({}) Tj T*\n", escape(line)));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

impl SandboxCourier {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `path` (below [`COURIER_PATH`]).
    pub fn handle(
        &self,
        method: &Method,
        path: &str,
        authorization: Option<&str>,
        body: &[u8],
        base: &str,
    ) -> Response<Bytes> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (&Method::GET, ["purchases"]) => return self.purchases(),
            (&Method::GET, ["labels", file]) => return self.label(file),
            _ => {}
        }
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{SANDBOX_COURIER_KEY}:"))
        );
        if authorization != Some(expected.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "APIKEY.INVALID",
                "The API key provided is not valid.",
            );
        }
        match (method, segments.as_slice()) {
            (&Method::POST, ["v2", "shipments"]) => self.create(body),
            (&Method::GET, ["v2", "shipments", id]) => self.show(id, base),
            (&Method::POST, ["v2", "shipments", id, "buy"]) => self.buy(id, body, base),
            (&Method::POST, ["v2", "shipments", id, "refund"]) => self.refund(id, base),
            _ => error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource could not be found.",
            ),
        }
    }

    fn create(&self, body: &[u8]) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let shipment = &body["shipment"];
        let to = &shipment["to_address"];
        let required = [
            ("shipment.to_address.street1", &to["street1"]),
            ("shipment.to_address.city", &to["city"]),
            ("shipment.to_address.country", &to["country"]),
            (
                "shipment.from_address.street1",
                &shipment["from_address"]["street1"],
            ),
            (
                "shipment.from_address.country",
                &shipment["from_address"]["country"],
            ),
        ];
        if let Some((field, _)) = required
            .iter()
            .find(|(_, v)| v.as_str().is_none_or(str::is_empty))
        {
            return json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"error": {"code": "PARAMETER.REQUIRED", "message": "Missing required parameter.",
                    "errors": [{"field": field, "message": "cannot be blank"}]}}),
            );
        }
        let weight = shipment["parcel"]["weight"].as_f64().unwrap_or(0.0);
        if weight <= 0.0 {
            return json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"error": {"code": "PARCEL.WEIGHT.INVALID", "message": "Parcel weight must be positive.",
                    "errors": [{"field": "shipment.parcel.weight", "message": "must be greater than 0"}]}}),
            );
        }
        let mut book = self.book();
        book.next += 1;
        let id = format!("shp_sbx{:012x}", book.next);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let recipient = vec![
            text(&to["name"]),
            text(&to["street1"]),
            format!(
                "{} {} {}",
                text(&to["city"]),
                text(&to["state"]),
                text(&to["zip"])
            ),
            text(&to["country"]),
        ];
        let rates = SERVICES
            .iter()
            .map(|(service, cents, days)| {
                json!({"id": format!("rate_{}_{}", &id[4..], service.to_lowercase()),
                    "object": "Rate", "carrier": "SandboxPost", "service": service,
                    "rate": format!("{}.{:02}", cents / 100, cents % 100), "currency": "USD",
                    "delivery_days": days, "shipment_id": id})
            })
            .collect();
        book.shipments.insert(
            id.clone(),
            SandboxShipment {
                reference: text(&shipment["reference"]),
                recipient,
                rates,
                bought: None,
                refunded: false,
                bought_at: None,
                tracking: Vec::new(),
            },
        );
        let answer = Self::view(&id, &book.shipments[&id], "");
        json_response(StatusCode::CREATED, &answer)
    }

    fn view(id: &str, shipment: &SandboxShipment, base: &str) -> Value {
        let bought = shipment.bought.as_ref();
        let selected =
            bought.and_then(|(rate, _)| shipment.rates.iter().find(|r| r["id"] == *rate));
        let label_url = format!("{base}{COURIER_PATH}/labels/{id}.pdf");
        json!({
            "id": id, "object": "Shipment", "mode": "test", "reference": shipment.reference,
            "rates": shipment.rates,
            "selected_rate": selected,
            "tracking_code": bought.map(|(_, tracking)| tracking),
            "postage_label": bought.map(|_| json!({"object": "PostageLabel", "label_url": label_url,
                "label_pdf_url": label_url, "label_file_type": "application/pdf", "label_size": "4x6"})),
            "refund_status": shipment.refunded.then_some("submitted"),
            "status": if bought.is_some() { "pre_transit" } else { "unknown" },
            "tracker": bought.map(|(_, code)| tracker(code, &shipment.tracking)),
        })
    }

    /// Moves every bought, unrefunded parcel on by the stages elapsed since its purchase;
    /// returns the signed Events to post (body, `X-Hmac-Signature`), one per parcel that moved.
    pub fn advance(&self, stage: std::time::Duration) -> Vec<(Vec<u8>, String)> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut book = self.book();
        let mut events = Vec::new();
        for (id, shipment) in book.shipments.iter_mut() {
            let (Some((_, code)), Some(bought_at), false) =
                (&shipment.bought, shipment.bought_at, shipment.refunded)
            else {
                continue;
            };
            let number: u64 = code.trim_start_matches("SBX").parse().unwrap_or(1);
            let steps = journey(number);
            let due = (bought_at.elapsed().as_secs_f64() / stage.as_secs_f64().max(0.001)) as usize;
            let due = due.min(steps.len());
            if shipment.tracking.len() >= due {
                continue;
            }
            while shipment.tracking.len() < due {
                let next = steps[shipment.tracking.len()];
                shipment.tracking.push((next.to_owned(), now.clone()));
            }
            let body = json!({
                "id": format!("evt_{}_{}", &id[4..], shipment.tracking.len()),
                "object": "Event", "description": "tracker.updated", "mode": "test",
                "status": "pending", "created_at": now, "updated_at": now,
                "result": tracker(code, &shipment.tracking),
            })
            .to_string()
            .into_bytes();
            let signature = rc_couriers::sign_easypost(SANDBOX_COURIER_WEBHOOK_SECRET, &body);
            events.push((body, signature));
        }
        events
    }

    fn show(&self, id: &str, base: &str) -> Response<Bytes> {
        let book = self.book();
        match book.shipments.get(id) {
            Some(shipment) => json_response(StatusCode::OK, &Self::view(id, shipment, base)),
            None => error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource could not be found.",
            ),
        }
    }

    fn buy(&self, id: &str, body: &[u8], base: &str) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let rate = body["rate"]["id"].as_str().unwrap_or_default().to_owned();
        let mut book = self.book();
        let next = book.next + 1;
        let Some(shipment) = book.shipments.get_mut(id) else {
            return error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource could not be found.",
            );
        };
        if shipment.bought.is_some() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.POSTAGE.EXISTS",
                "Postage already exists for this shipment.",
            );
        }
        if !shipment.rates.iter().any(|r| r["id"] == rate.as_str()) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.RATE.INVALID",
                "The rate is not one of this shipment's.",
            );
        }
        shipment.bought = Some((rate, format!("SBX{next:010}")));
        shipment.bought_at = Some(std::time::Instant::now());
        let answer = Self::view(id, shipment, base);
        book.next = next;
        json_response(StatusCode::OK, &answer)
    }

    fn refund(&self, id: &str, base: &str) -> Response<Bytes> {
        let mut book = self.book();
        let Some(shipment) = book.shipments.get_mut(id) else {
            return error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource could not be found.",
            );
        };
        if shipment.bought.is_none() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.REFUND.UNAVAILABLE",
                "The shipment has no postage to refund.",
            );
        }
        shipment.refunded = true;
        json_response(StatusCode::OK, &Self::view(id, shipment, base))
    }

    fn label(&self, file: &str) -> Response<Bytes> {
        let id = file.trim_end_matches(".pdf");
        let book = self.book();
        let Some((shipment, (_, tracking))) = book
            .shipments
            .get(id)
            .and_then(|s| s.bought.as_ref().map(|b| (s, b)))
        else {
            return error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such label.");
        };
        let mut lines = vec!["SANDBOXPOST - NOT FOR MAILING".to_owned(), String::new()];
        lines.extend(shipment.recipient.iter().cloned());
        lines.extend([
            String::new(),
            format!("TRACKING {tracking}"),
            format!("REF {}", shipment.reference),
        ]);
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/pdf")
            .body(Bytes::from(label_pdf(&lines)))
            .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "label"))
    }

    /// What was sold: no buyer data.
    fn purchases(&self) -> Response<Bytes> {
        let book = self.book();
        let purchases: Vec<Value> = book
            .shipments
            .iter()
            .filter_map(|(id, s)| {
                let (rate, tracking) = s.bought.as_ref()?;
                let service = s.rates.iter().find(|r| r["id"] == rate.as_str())?["service"].clone();
                Some(
                    json!({"shipment": id, "reference": s.reference, "service": service,
                    "tracking_code": tracking, "refunded": s.refunded,
                    "tracking_status": s.tracking.last().map_or("pre_transit", |(st, _)| st.as_str())}),
                )
            })
            .collect();
        json_response(
            StatusCode::OK,
            &json!({"purchases": purchases, "shipments_created": book.shipments.len()}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_well_formed_pdfs() {
        let pdf = label_pdf(&["Ada (Lovelace)".into(), "Zürich".into()]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Ada \\(Lovelace\\)) Tj"));
        assert!(
            text.contains("(Z?rich) Tj"),
            "non-ASCII is replaced, never raw"
        );
        // The cross-reference table points at each object.
        let xref = text.find("xref").expect("xref");
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        assert_eq!(startxref, xref);
        for n in 1..=5 {
            let offset = text
                .lines()
                .skip_while(|l| !l.starts_with("0000000000"))
                .nth(n)
                .and_then(|l| l[..10].parse::<usize>().ok())
                .expect("offset");
            assert!(
                text[offset..].starts_with(&format!("{n} 0 obj")),
                "object {n}"
            );
        }
    }
}
