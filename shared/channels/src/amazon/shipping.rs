//! The Shipping API v2 (Amazon Shipping, "Buy Shipping"), as `shippingV2.json` models it: the
//! calls only — bodies are built and read by the courier client (`rc_couriers::AmazonShipping`).
//! Every operation is 80 requests per second (burst 100) per selling partner; errors are
//! `{"errors": [{"code", "message"}]}` and come back as [`FetchError::Refused`] with their code.

use serde_json::Value;

use super::client::Request;
use super::{Credentials, FetchError, SellerId, SpApiClient};

const SHIPPING_RATE: f64 = 80.0;
const SHIPPING_BURST: u32 = 100;

/// One Shipping API call.
pub struct ShippingCall<'a> {
    pub method: reqwest::Method,
    /// Below `/shipping/v2`, e.g. `/shipments/rates`.
    pub path: &'a str,
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a Value>,
    /// `x-amzn-IdempotencyKey` (purchaseShipment): a retry with the same key is recognized.
    pub idempotency_key: Option<&'a str>,
    /// `x-amzn-shipping-business-id` (`AmazonShipping_US`, ...); Amazon assumes UK without it.
    pub business: Option<&'static str>,
}

/// The shipping business of a ship-from country, where Amazon Shipping has one.
pub fn shipping_business(country: &str) -> Option<&'static str> {
    Some(match country {
        "US" => "AmazonShipping_US",
        "IN" => "AmazonShipping_IN",
        "GB" => "AmazonShipping_UK",
        "AE" => "AmazonShipping_UAE",
        "SA" => "AmazonShipping_SA",
        "EG" => "AmazonShipping_EG",
        "IT" => "AmazonShipping_IT",
        "ES" => "AmazonShipping_ES",
        "FR" => "AmazonShipping_FR",
        "JP" => "AmazonShipping_JP",
        _ => return None,
    })
}

impl SpApiClient {
    /// One Shipping API v2 call for the seller; the answer's JSON.
    pub async fn shipping(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        call: ShippingCall<'_>,
    ) -> Result<Value, FetchError> {
        let limiter = self
            .limiter(
                &self.shipping_limiters,
                seller,
                SHIPPING_RATE,
                SHIPPING_BURST,
            )
            .await;
        let path = format!("/shipping/v2{}", call.path);
        let mut headers = Vec::with_capacity(2);
        if let Some(key) = call.idempotency_key {
            headers.push(("x-amzn-IdempotencyKey", key.to_owned()));
        }
        if let Some(business) = call.business {
            headers.push(("x-amzn-shipping-business-id", business.to_owned()));
        }
        let request = Request {
            method: call.method,
            path: &path,
            query: call.query,
            body: call.body,
            headers: &headers,
            error_codes: true,
        };
        let bytes = self.call(seller, credentials, request, &limiter).await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| FetchError::Unavailable("Shipping API answer is not JSON".into()))
    }
}
