//! The demo: a signed Shopify `orders/create` delivery, as Shopify would send it.

use bytes::Bytes;
use http::Request;
use rc_channels::shopify::{self, headers};
use rc_domain::{Secret, SecretText};

/// Shopify's documented sample order (see `shared/channels/fixtures`).
pub const DEMO_ORDER: &str =
    include_str!("../../../shared/channels/fixtures/shopify-orders-create.json");

/// A webhook request exactly as Shopify sends it: raw JSON body, base64 HMAC-SHA256 header.
pub fn signed_shopify_request(
    url: &str,
    shop: &str,
    secret: &str,
    topic: &str,
    webhook_id: &str,
    body: Vec<u8>,
) -> Result<Request<Bytes>, String> {
    let secret = Secret::new(SecretText::parse(secret).map_err(|e| e.to_string())?);
    let signature = shopify::sign(&secret, &body);
    Request::post(url)
        .header("content-type", "application/json")
        .header(headers::HMAC, signature)
        .header(headers::SHOP_DOMAIN, shop)
        .header(headers::TOPIC, topic)
        .header(headers::WEBHOOK_ID, webhook_id)
        .header(headers::API_VERSION, "2026-10")
        .body(Bytes::from(body))
        .map_err(|e| e.to_string())
}

/// The demo order with a fresh id, so each run creates a new order.
pub fn demo_order_body(order_id: u64) -> Result<Vec<u8>, String> {
    let mut order: serde_json::Value =
        serde_json::from_str(DEMO_ORDER).map_err(|e| e.to_string())?;
    order["id"] = serde_json::json!(order_id);
    order["name"] = serde_json::json!(format!("#{}", order_id % 100_000));
    serde_json::to_vec(&order).map_err(|e| e.to_string())
}

/// Signs `body` as Shopify would and POSTs it to `url`; returns (status, body).
pub async fn send_signed(
    url: &str,
    shop: &str,
    secret: &str,
    topic: &str,
    webhook_id: &str,
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let request = signed_shopify_request(url, shop, secret, topic, webhook_id, body)?;
    let (parts, body) = request.into_parts();
    let mut builder = reqwest::Client::new().post(url).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// Sends one signed demo delivery to a running local host; returns (status, body).
pub async fn send_demo_webhook(
    base_url: &str,
    shop: &str,
    secret: &str,
    order_id: u64,
    webhook_id: &str,
) -> Result<(u16, String), String> {
    let url = format!("{}/webhooks/shopify", base_url.trim_end_matches('/'));
    send_signed(
        &url,
        shop,
        secret,
        "orders/create",
        webhook_id,
        demo_order_body(order_id)?,
    )
    .await
}
