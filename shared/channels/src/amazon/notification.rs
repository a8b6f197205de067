//! `ORDER_CHANGE` notifications as delivered to our SQS queue (see
//! `OrderChangeNotification.json`). They carry no PII: ids, statuses and a postal code only.

use rc_domain::SellerId;
use serde::Deserialize;

use crate::shopify::PayloadError;

/// What an ORDER_CHANGE notification tells us: which order of which seller to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChange {
    /// `NotificationMetadata.NotificationId`: the delivery's identity, for deduplication.
    pub notification_id: String,
    pub seller_id: SellerId,
    pub amazon_order_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawNotification {
    notification_type: Option<String>,
    payload: Option<RawPayload>,
    notification_metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPayload {
    order_change_notification: Option<RawOrderChange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawOrderChange {
    seller_id: Option<String>,
    amazon_order_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMetadata {
    notification_id: Option<String>,
}

/// Ids end up in store keys and URLs: a conservative alphabet only.
fn safe_id(raw: Option<String>, field: &'static str) -> Result<String, PayloadError> {
    let id = raw.ok_or(PayloadError::Missing(field))?;
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(id)
    } else {
        Err(PayloadError::Invalid(field))
    }
}

pub fn parse_notification(body: &[u8]) -> Result<OrderChange, PayloadError> {
    let raw: RawNotification = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(crate::describe_json_error(&e)))?;
    match raw.notification_type.as_deref() {
        Some("ORDER_CHANGE") => {}
        Some(_) => return Err(PayloadError::Invalid("NotificationType")),
        None => return Err(PayloadError::Missing("NotificationType")),
    }
    let change = raw
        .payload
        .and_then(|p| p.order_change_notification)
        .ok_or(PayloadError::Missing("Payload.OrderChangeNotification"))?;
    Ok(OrderChange {
        notification_id: safe_id(
            raw.notification_metadata.and_then(|m| m.notification_id),
            "NotificationMetadata.NotificationId",
        )?,
        seller_id: change
            .seller_id
            .ok_or(PayloadError::Missing("SellerId"))
            .and_then(|raw| SellerId::parse(&raw).map_err(|_| PayloadError::Invalid("SellerId")))?,
        amazon_order_id: safe_id(change.amazon_order_id, "AmazonOrderId")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const EXAMPLE: &str = include_str!("../../fixtures/amazon-order-change.json");

    #[test]
    fn the_documented_example_parses() {
        let change = parse_notification(EXAMPLE.as_bytes()).expect("parses");
        assert_eq!(change.seller_id.as_str(), "A3TH9S8BH6GOGM");
        assert_eq!(change.amazon_order_id, "903-8868176-2219830");
        assert_eq!(
            change.notification_id,
            "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
        );
    }

    #[test]
    fn other_or_broken_notifications_are_refused() {
        let other = EXAMPLE.replace("\"ORDER_CHANGE\"", "\"ANY_OFFER_CHANGED\"");
        assert!(parse_notification(other.as_bytes()).is_err());
        let injected = EXAMPLE.replace("903-8868176-2219830", "903/../x");
        assert!(parse_notification(injected.as_bytes()).is_err());
        assert!(parse_notification(b"{}").is_err());
        assert!(parse_notification(b"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_notification(&body);
        }
    }
}
