//! Shipment confirmation, Orders API v0 `confirmShipment` (`POST
//! /orders/v0/orders/{orderId}/shipmentConfirmation`, 2 requests per second, burst 10, per
//! selling partner; success is 204 with no body). The Orders API v2026-01-01 has no
//! confirmation operation. A confirmation is an upsert keyed by the order and the
//! `packageReferenceId` (a positive number, sent as a JSON string): sending the same package
//! again edits it, never adds a second one — so a retry is safe by construction.

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::Request;
use super::{Credentials, FetchError, SellerId, SpApiClient};

const CONFIRM_RATE: f64 = 2.0;
const CONFIRM_BURST: u32 = 10;

/// One package of an order, as Amazon is told it shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageConfirmation {
    /// Amazon's order id (`902-1106328-1059050`).
    pub amazon_order_id: String,
    pub marketplace_id: String,
    /// A positive number, deterministic per package (our shipment's number).
    pub package_reference_id: u32,
    /// From Amazon's carrier list, or `Other` with `carrier_name`.
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: OffsetDateTime,
    /// (`orderItemId`, quantity)
    pub items: Vec<(String, u32)>,
}

impl PackageConfirmation {
    /// The `ConfirmShipmentRequest` body, as the Orders v0 model has it.
    pub fn body(&self) -> serde_json::Value {
        let mut package = json!({
            "packageReferenceId": self.package_reference_id.to_string(),
            "carrierCode": self.carrier_code,
            "trackingNumber": self.tracking_number,
            "shipDate": self.ship_date.format(&Rfc3339).unwrap_or_default(),
            "orderItems": self.items.iter().map(|(id, quantity)| json!({
                "orderItemId": id,
                "quantity": quantity,
            })).collect::<Vec<_>>(),
        });
        if let Some(name) = &self.carrier_name {
            package["carrierName"] = json!(name);
        }
        if let Some(method) = &self.shipping_method {
            package["shippingMethod"] = json!(method);
        }
        json!({
            "marketplaceId": self.marketplace_id,
            "packageDetail": package,
        })
    }
}

impl SpApiClient {
    /// Confirms one package of an order. Refusals come back as [`FetchError::Refused`] with
    /// Amazon's error code; 429 and 5xx are retried with backoff before giving up.
    pub async fn confirm_shipment(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        package: &PackageConfirmation,
    ) -> Result<(), FetchError> {
        let limiter = self
            .limiter(&self.confirm_limiters, seller, CONFIRM_RATE, CONFIRM_BURST)
            .await;
        let path = format!(
            "/orders/v0/orders/{}/shipmentConfirmation",
            package.amazon_order_id
        );
        let body = package.body();
        let request = Request {
            method: reqwest::Method::POST,
            path: &path,
            query: &[],
            body: Some(&body),
            headers: &[],
            error_codes: true,
        };
        self.call(seller, credentials, request, &limiter).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_models_with_the_reference_as_a_string() {
        let package = PackageConfirmation {
            amazon_order_id: "902-1106328-1059050".into(),
            marketplace_id: "ATVPDKIKX0DER".into(),
            package_reference_id: 2,
            carrier_code: "Other".into(),
            carrier_name: Some("Sandbox Post".into()),
            shipping_method: Some("Ground".into()),
            tracking_number: "112345678".into(),
            ship_date: time::macros::datetime!(2022-02-11 01:00 UTC),
            items: vec![("79039765272157".into(), 1)],
        };
        let body = package.body();
        assert_eq!(body["packageDetail"]["packageReferenceId"], "2");
        assert_eq!(body["packageDetail"]["shipDate"], "2022-02-11T01:00:00Z");
        assert_eq!(body["packageDetail"]["carrierName"], "Sandbox Post");
        assert_eq!(body["packageDetail"]["orderItems"][0]["quantity"], 1);
        assert_eq!(body["marketplaceId"], "ATVPDKIKX0DER");
    }
}
