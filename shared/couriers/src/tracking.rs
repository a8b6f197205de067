//! Courier tracking, as each courier reports it — pushed (webhooks) or read (polling) — parsed
//! into one shape: a tracking number and its events (the courier's status code, the mapped
//! status or `None` when the table does not know it, and the event's time). Free text (courier
//! messages, scan locations) is never read: it can hold the buyer's address.

use rc_domain::{
    TrackingStatus, courier_status_code, from_amazon_shipping, from_easypost, from_shiprocket,
};
use serde_json::Value;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// One courier event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourierEvent {
    /// The courier's own status code (sanitized: see [`courier_status_code`]).
    pub courier_status: String,
    pub status: Option<TrackingStatus>,
    pub at: OffsetDateTime,
}

/// What a courier says about one tracking number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    /// The courier's id of this notification (EasyPost `evt_…`), else one derived from its
    /// content: the dedupe key.
    pub event_id: String,
    pub tracking_code: String,
    /// Oldest first.
    pub events: Vec<CourierEvent>,
}

/// Why a tracking body was refused: a field name, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingParseError {
    #[error("not JSON")]
    Malformed,
    #[error("`{0}` is missing")]
    Missing(&'static str),
    #[error("`{0}` is invalid")]
    Invalid(&'static str),
}

impl TrackingParseError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed_json",
            Self::Missing(_) => "missing_field",
            Self::Invalid(_) => "invalid_field",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Malformed => None,
            Self::Missing(f) | Self::Invalid(f) => Some(f),
        }
    }
}

fn rfc3339(raw: &Value, field: &'static str) -> Result<OffsetDateTime, TrackingParseError> {
    raw.as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .ok_or(TrackingParseError::Invalid(field))
}

fn tracking_code(raw: &Value, field: &'static str) -> Result<String, TrackingParseError> {
    let code = raw.as_str().ok_or(TrackingParseError::Missing(field))?;
    rc_domain::TrackingCode::parse(code)
        .map(|c| c.as_str().to_owned())
        .map_err(|_| TrackingParseError::Invalid(field))
}

/// A content-derived id for notifications that carry none (Shiprocket), so a repeat is known.
fn derived_id(parts: &[&str]) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part.as_bytes());
        context.update(&[0]);
    }
    format!("h_{}", &rc_domain::to_hex(context.finish().as_ref())[..32])
}

/// An EasyPost webhook Event (`{"object": "Event", "description": "tracker.updated", "result":
/// <Tracker>}`). `Ok(None)`: a valid event that is not about tracking (batch, refund, …).
pub fn easypost_event(body: &[u8]) -> Result<Option<TrackingUpdate>, TrackingParseError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| TrackingParseError::Malformed)?;
    if event["object"] != "Event" {
        return Err(TrackingParseError::Invalid("object"));
    }
    let id = event["id"]
        .as_str()
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .ok_or(TrackingParseError::Invalid("id"))?;
    let description = event["description"]
        .as_str()
        .ok_or(TrackingParseError::Missing("description"))?;
    if !description.starts_with("tracker.") {
        return Ok(None);
    }
    let mut update = easypost_tracker(&event["result"])?;
    update.event_id = id.to_owned();
    Ok(Some(update))
}

/// An EasyPost Tracker (a webhook's `result`, or a shipment's `tracker` when polling): every
/// tracking detail in time order, then the tracker's own status at its `updated_at`.
pub fn easypost_tracker(tracker: &Value) -> Result<TrackingUpdate, TrackingParseError> {
    if !tracker.is_object() {
        return Err(TrackingParseError::Missing("result"));
    }
    let code = tracking_code(&tracker["tracking_code"], "result.tracking_code")?;
    let mut events = Vec::new();
    for detail in tracker["tracking_details"].as_array().into_iter().flatten() {
        let status = detail["status"]
            .as_str()
            .ok_or(TrackingParseError::Missing("tracking_details.status"))?;
        events.push(CourierEvent {
            courier_status: courier_status_code(status),
            status: from_easypost(status),
            at: rfc3339(&detail["datetime"], "tracking_details.datetime")?,
        });
    }
    let status = tracker["status"]
        .as_str()
        .ok_or(TrackingParseError::Missing("result.status"))?;
    // The tracker's status stands at its last detail's time (or its update time without any).
    let at = match events.iter().map(|e| e.at).max() {
        Some(at) => at,
        None => rfc3339(&tracker["updated_at"], "result.updated_at")?,
    };
    events.push(CourierEvent {
        courier_status: courier_status_code(status),
        status: from_easypost(status),
        at,
    });
    events.sort_by_key(|e| e.at);
    // EasyPost has no "returned": a parcel on its way back (`return_to_sender`, or a return
    // tracker) that is then `delivered` is delivered to the sender.
    let mut returning = tracker["is_return"] == true;
    for event in &mut events {
        if event.status == Some(TrackingStatus::ReturnToOrigin) {
            returning = true;
        } else if returning && event.status == Some(TrackingStatus::Delivered) {
            event.status = Some(TrackingStatus::Returned);
        }
    }
    let last = events.last().map(|e| e.at.unix_timestamp()).unwrap_or(0);
    Ok(TrackingUpdate {
        event_id: derived_id(&[&code, status, &last.to_string()]),
        tracking_code: code,
        events,
    })
}

/// Shiprocket's times: `DD MM YYYY HH:mm:ss` (also `YYYY-MM-DD HH:mm:ss`), India time.
fn shiprocket_time(raw: &Value, field: &'static str) -> Result<OffsetDateTime, TrackingParseError> {
    let raw = raw.as_str().ok_or(TrackingParseError::Missing(field))?;
    let formats = [
        time::macros::format_description!("[day] [month] [year] [hour]:[minute]:[second]"),
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ];
    let ist = UtcOffset::from_hms(5, 30, 0).map_err(|_| TrackingParseError::Invalid(field))?;
    formats
        .iter()
        .find_map(|format| PrimitiveDateTime::parse(raw, format).ok())
        .map(|t| t.assume_offset(ist))
        .ok_or(TrackingParseError::Invalid(field))
}

fn shiprocket_code(raw: &Value, field: &'static str) -> Result<u32, TrackingParseError> {
    match raw {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or(TrackingParseError::Invalid(field))
}

/// A Shiprocket tracking webhook: `awb`, `shipment_status_id`, `current_timestamp`.
pub fn shiprocket_event(body: &[u8]) -> Result<TrackingUpdate, TrackingParseError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| TrackingParseError::Malformed)?;
    let awb = match &event["awb"] {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    };
    let code = tracking_code(&awb, "awb")?;
    let status = shiprocket_code(&event["shipment_status_id"], "shipment_status_id")?;
    let at = shiprocket_time(&event["current_timestamp"], "current_timestamp")?;
    let raw_time = event["current_timestamp"].as_str().unwrap_or_default();
    Ok(TrackingUpdate {
        event_id: derived_id(&[&code, &status.to_string(), raw_time]),
        tracking_code: code,
        events: vec![CourierEvent {
            courier_status: status.to_string(),
            status: from_shiprocket(status),
            at,
        }],
    })
}

/// Shiprocket's track-by-AWB answer (`{"tracking_data": {"shipment_status", "shipment_track":
/// [{"awb_code", "current_status", "updated_time"?}], ...}}`): the current status.
pub fn shiprocket_track(body: &Value, awb: &str) -> Result<TrackingUpdate, TrackingParseError> {
    let data = &body["tracking_data"];
    if !data.is_object() {
        return Err(TrackingParseError::Missing("tracking_data"));
    }
    let status = shiprocket_code(&data["shipment_status"], "tracking_data.shipment_status")?;
    let track = &data["shipment_track"][0];
    let at = shiprocket_time(&track["updated_time"], "shipment_track.updated_time")
        .or_else(|_| shiprocket_time(&track["delivered_date"], "shipment_track.delivered_date"))?;
    Ok(TrackingUpdate {
        event_id: derived_id(&[awb, &status.to_string(), &at.unix_timestamp().to_string()]),
        tracking_code: awb.to_owned(),
        events: vec![CourierEvent {
            courier_status: status.to_string(),
            status: from_shiprocket(status),
            at,
        }],
    })
}

/// Amazon Shipping v2 `eventCode`s, mapped (the summary status maps with
/// [`from_amazon_shipping`]).
pub fn from_amazon_event_code(code: &str) -> Option<TrackingStatus> {
    use TrackingStatus::*;
    Some(match code {
        "ReadyForReceive" | "PickupCancelled" => LabelCreated,
        "PickupDone" => PickedUp,
        "Departed" | "ArrivedAtCarrierFacility" => InTransit,
        "OutForDelivery" => OutForDelivery,
        "Delivered" => Delivered,
        "DeliveryAttempted" | "AvailableForPickup" => DeliveryAttempted,
        "Rejected" | "Undeliverable" => Undeliverable,
        "ReturnInitiated" => ReturnToOrigin,
        "Lost" => Lost,
        _ => return None,
    })
}

/// Amazon Shipping v2 `getTracking` (`{"payload": {"trackingId", "eventHistory": [{"eventCode",
/// "eventTime"}], "summary": {"status"}}}`).
pub fn amazon_tracking(body: &Value) -> Result<TrackingUpdate, TrackingParseError> {
    let payload = &body["payload"];
    let code = tracking_code(&payload["trackingId"], "payload.trackingId")?;
    let mut events = Vec::new();
    for event in payload["eventHistory"].as_array().into_iter().flatten() {
        let raw = event["eventCode"]
            .as_str()
            .ok_or(TrackingParseError::Missing("eventHistory.eventCode"))?;
        events.push(CourierEvent {
            courier_status: courier_status_code(raw),
            status: from_amazon_event_code(raw),
            at: rfc3339(&event["eventTime"], "eventHistory.eventTime")?,
        });
    }
    events.sort_by_key(|e| e.at);
    if let (Some(summary), Some(last)) = (payload["summary"]["status"].as_str(), events.last()) {
        let at = last.at;
        events.push(CourierEvent {
            courier_status: courier_status_code(summary),
            status: from_amazon_shipping(summary),
            at,
        });
    }
    let last = events.last().map(|e| e.at.unix_timestamp()).unwrap_or(0);
    Ok(TrackingUpdate {
        event_id: derived_id(&[&code, &events.len().to_string(), &last.to_string()]),
        tracking_code: code,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EASYPOST_EVENT: &[u8] = include_bytes!("../fixtures/easypost-event-body.json");

    #[test]
    fn an_easypost_event_gives_every_detail_in_time_order() {
        let update = easypost_event(EASYPOST_EVENT.trim_ascii_end())
            .expect("parses")
            .expect("a tracker event");
        assert_eq!(update.event_id, "evt_1");
        assert_eq!(update.tracking_code, "1");
        assert!(update.events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(update.events[0].status, Some(TrackingStatus::LabelCreated));
        assert!(
            update
                .events
                .iter()
                .any(|e| e.status == Some(TrackingStatus::InTransit))
        );
    }

    #[test]
    fn a_parcel_delivered_on_its_way_back_is_returned() {
        let tracker = serde_json::json!({
            "tracking_code": "EZ1000000001", "status": "delivered",
            "updated_at": "2026-05-05T10:00:00Z",
            "tracking_details": [
                {"status": "in_transit", "datetime": "2026-05-01T10:00:00Z", "message": "x"},
                {"status": "return_to_sender", "datetime": "2026-05-03T10:00:00Z"},
                {"status": "delivered", "datetime": "2026-05-05T10:00:00Z"}
            ]
        });
        let update = easypost_tracker(&tracker).expect("parses");
        let statuses: Vec<_> = update.events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            vec![
                Some(TrackingStatus::InTransit),
                Some(TrackingStatus::ReturnToOrigin),
                Some(TrackingStatus::Returned),
                Some(TrackingStatus::Returned),
            ]
        );
    }

    #[test]
    fn bad_bodies_are_refused_by_field() {
        let cases: [(&str, &str); 5] = [
            ("not json", "malformed_json"),
            (r#"{"object":"Tracker"}"#, "invalid_field"),
            (
                r#"{"object":"Event","id":"evt 1","description":"tracker.updated"}"#,
                "invalid_field",
            ),
            (
                r#"{"object":"Event","id":"evt_1","description":"tracker.updated","result":{"tracking_code":"<b>","status":"in_transit"}}"#,
                "invalid_field",
            ),
            (
                r#"{"object":"Event","id":"evt_1","description":"tracker.updated"}"#,
                "missing_field",
            ),
        ];
        for (body, reason) in cases {
            let got = easypost_event(body.as_bytes()).expect_err(body);
            assert_eq!(got.reason(), reason, "{body}");
        }
        let batch = br#"{"object":"Event","id":"evt_2","description":"batch.updated","result":{}}"#;
        assert_eq!(easypost_event(batch), Ok(None));
    }

    #[test]
    fn a_shiprocket_webhook_maps_its_status_code_in_india_time() {
        let body = br#"{"awb": 59630182604, "current_status": "IN TRANSIT", "shipment_status_id": 18, "current_timestamp": "23 05 2026 11:43:52", "order_id": "1373900_150876814", "scans": [{"location": "Somewhere", "activity": "anything"}]}"#;
        let update = shiprocket_event(body).expect("parses");
        assert_eq!(update.tracking_code, "59630182604");
        assert_eq!(update.events[0].status, Some(TrackingStatus::InTransit));
        assert_eq!(update.events[0].courier_status, "18");
        assert_eq!(
            update.events[0].at,
            time::macros::datetime!(2026-05-23 11:43:52 +5:30)
        );
        assert_eq!(
            shiprocket_event(body).expect("again").event_id,
            update.event_id
        );
        let unknown = br#"{"awb": "1234567", "shipment_status_id": 99, "current_timestamp": "2026-05-23 11:43:52"}"#;
        assert_eq!(
            shiprocket_event(unknown).expect("parses").events[0].status,
            None
        );
        let bad =
            br#"{"awb": "1234567", "shipment_status_id": 18, "current_timestamp": "yesterday"}"#;
        assert_eq!(
            shiprocket_event(bad),
            Err(TrackingParseError::Invalid("current_timestamp"))
        );
    }

    #[test]
    fn amazon_tracking_reads_the_event_history() {
        let body = serde_json::json!({"payload": {
            "trackingId": "TBA123456789",
            "eventHistory": [
                {"eventCode": "Departed", "eventTime": "2026-05-02T10:00:00Z", "location": {"city": "X"}},
                {"eventCode": "PickupDone", "eventTime": "2026-05-01T10:00:00Z"}
            ],
            "summary": {"status": "InTransit"}
        }});
        let update = amazon_tracking(&body).expect("parses");
        assert_eq!(update.events[0].status, Some(TrackingStatus::PickedUp));
        assert_eq!(update.events[1].status, Some(TrackingStatus::InTransit));
        assert_eq!(update.events.len(), 3);
    }
}
