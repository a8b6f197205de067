//! Shopify's mandatory compliance webhooks: `customers/data_request`, `customers/redact` and
//! `shop/redact`. Only what the privacy lifecycle needs is kept: the Shopify customer id (a
//! pseudonymous number) and the order ids. The customer's email and phone in these payloads are
//! not kept at all: the order ids identify the data.

use rc_domain::{ComplianceKind, ComplianceRequest, OrderId, ShopDomain};
use serde::Deserialize;

use super::PayloadError;

/// Requests above this many orders are refused rather than truncated: a partial redaction
/// would silently keep data.
pub const MAX_ORDERS_PER_REQUEST: usize = 10_000;

#[derive(Deserialize)]
struct RawRequest {
    shop_domain: Option<String>,
    customer: Option<RawCustomer>,
    #[serde(default)]
    orders_to_redact: Vec<u64>,
    #[serde(default)]
    orders_requested: Vec<u64>,
    data_request: Option<RawDataRequest>,
}

#[derive(Deserialize)]
struct RawCustomer {
    id: Option<u64>,
}

#[derive(Deserialize)]
struct RawDataRequest {
    id: Option<u64>,
}

pub fn parse_compliance(
    kind: ComplianceKind,
    body: &[u8],
) -> Result<ComplianceRequest, PayloadError> {
    let raw: RawRequest = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(super::order_payload::describe(&e)))?;
    let shop_domain = raw
        .shop_domain
        .ok_or(PayloadError::Missing("shop_domain"))
        .and_then(|raw| {
            ShopDomain::parse(&raw).map_err(|_| PayloadError::Invalid("shop_domain"))
        })?;
    let customer_id = raw.customer.and_then(|c| c.id);
    if kind != ComplianceKind::ShopRedact && customer_id.is_none() {
        return Err(PayloadError::Missing("customer.id"));
    }
    let named = match kind {
        ComplianceKind::CustomerRedact => raw.orders_to_redact,
        ComplianceKind::CustomerDataRequest => raw.orders_requested,
        ComplianceKind::ShopRedact => Vec::new(),
    };
    if named.len() > MAX_ORDERS_PER_REQUEST {
        return Err(PayloadError::Invalid("orders"));
    }
    let orders = named
        .into_iter()
        .map(|id| {
            OrderId::parse(&format!("shopify-{id}")).map_err(|_| PayloadError::Invalid("orders"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ComplianceRequest {
        kind,
        shop_domain,
        customer_id,
        orders,
        data_request_id: raw.data_request.and_then(|d| d.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_payloads_parse_without_keeping_contact_details() {
        let redact = br#"{"shop_id": 954889, "shop_domain": "shop.myshopify.com",
            "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
            "orders_to_redact": [299938, 280263, 220458]}"#;
        let request = parse_compliance(ComplianceKind::CustomerRedact, redact).expect("parses");
        assert_eq!(request.customer_id, Some(191167));
        assert_eq!(request.orders.len(), 3);
        assert_eq!(request.orders[0].as_str(), "shopify-299938");
        assert!(!format!("{request:?}").contains("john"));

        let data = br#"{"shop_id": 954889, "shop_domain": "shop.myshopify.com",
            "orders_requested": [299938], "customer": {"id": 191167, "email": "john@example.com"},
            "data_request": {"id": 9999}}"#;
        let request = parse_compliance(ComplianceKind::CustomerDataRequest, data).expect("parses");
        assert_eq!(
            (request.data_request_id, request.orders.len()),
            (Some(9999), 1)
        );

        let shop = br#"{"shop_id": 954889, "shop_domain": "shop.myshopify.com"}"#;
        let request = parse_compliance(ComplianceKind::ShopRedact, shop).expect("parses");
        assert!(request.orders.is_empty() && request.customer_id.is_none());
    }

    #[test]
    fn incomplete_requests_are_refused() {
        let no_customer = br#"{"shop_domain": "shop.myshopify.com", "orders_to_redact": [1]}"#;
        assert!(parse_compliance(ComplianceKind::CustomerRedact, no_customer).is_err());
        assert!(parse_compliance(ComplianceKind::ShopRedact, b"[]").is_err());
        assert!(parse_compliance(ComplianceKind::ShopRedact, b"{}").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            for kind in [ComplianceKind::CustomerDataRequest, ComplianceKind::CustomerRedact, ComplianceKind::ShopRedact] {
                let _ = parse_compliance(kind, &body);
            }
        }
    }
}
