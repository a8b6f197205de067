//! The Shopify webhook and merchant API over HTTP on the local host: good deliveries are stored
//! once; bad ones get the right status and reason, and store nothing.

use crate::support;

use support::*;

struct Host {
    base: String,
    config: rc_local_host::LocalConfig,
    host: rc_local_host::LocalHost,
    _dir: tempfile::TempDir,
}

async fn host() -> Host {
    let (host, config, dir) = start_local_host().await;
    Host {
        base: format!("http://{}", host.addr),
        config,
        host,
        _dir: dir,
    }
}

impl Host {
    async fn order_status(&self, id: &str) -> u16 {
        get_order(&self.base, &self.config.demo_api_key, id).await.0
    }

    fn request(&self, topic: &str, id: &str, body: Vec<u8>) -> http::Request<bytes::Bytes> {
        rc_local_host::signed_shopify_request(
            &format!("{}/webhooks/shopify", self.base),
            &self.config.demo_shop,
            &self.config.demo_webhook_secret,
            topic,
            id,
            body,
        )
        .expect("request")
    }
}

fn assert_refused(result: (u16, serde_json::Value), status: u16, reason: &str) {
    assert_eq!(result.0, status, "{}", result.1);
    assert_eq!(result.1["error"], reason, "{}", result.1);
    let text = result.1.to_string();
    assert!(
        !text.contains("panicked") && !text.contains("src/"),
        "{text}"
    );
}

#[tokio::test]
async fn a_signed_order_is_stored_once_and_readable_without_pii() {
    let h = host().await;
    let first = post_webhook(
        &h.base,
        &h.config,
        "orders/create",
        "w-1",
        canary_order(1001),
    )
    .await;
    assert_eq!((first.0, first.1["status"].as_str()), (200, Some("stored")));
    let again = post_webhook(
        &h.base,
        &h.config,
        "orders/create",
        "w-1",
        canary_order(1001),
    )
    .await;
    assert_eq!(
        (again.0, again.1["status"].as_str()),
        (200, Some("duplicate"))
    );
    let other_delivery = post_webhook(
        &h.base,
        &h.config,
        "orders/create",
        "w-2",
        canary_order(1001),
    )
    .await;
    assert_eq!(
        other_delivery.1["status"], "stale",
        "same order, new delivery: nothing newer to apply"
    );

    let (status, order) = get_order(&h.base, &h.config.demo_api_key, "shopify-1001").await;
    assert_eq!(status, 200);
    assert_eq!(order["version"], 1, "stored exactly once");
    assert_eq!(order["totals"]["total"]["minor"], 40300);
    assert_eq!(order["lines"][0]["sku"], "IPOD2008PINK");
    for canary in canaries() {
        assert!(!order.to_string().contains(canary));
    }
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_store_one_order() {
    let h = host().await;
    let deliveries =
        (0..20).map(|_| send(h.request("orders/create", "storm-1", canary_order(2002))));
    let mut stored = 0;
    for handle in deliveries.map(tokio::spawn) {
        let (status, body) = handle.await.expect("join");
        assert_eq!(status, 200, "{body}");
        if body["status"] == "stored" {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    let (_, order) = get_order(&h.base, &h.config.demo_api_key, "shopify-2002").await;
    assert_eq!(order["version"], 1);
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401_and_stores_nothing() {
    let h = host().await;
    let mut request = h.request("orders/create", "w-bad", canary_order(3003));
    request.headers_mut().insert(
        "x-shopify-hmac-sha256",
        http::HeaderValue::from_static("bm9wZQ=="),
    );
    assert_refused(send(request).await, 401, "invalid_hmac");

    let mut request = h.request("orders/create", "w-bad", canary_order(3003));
    request.headers_mut().remove("x-shopify-hmac-sha256");
    assert_refused(send(request).await, 401, "invalid_hmac");

    // A body changed after signing.
    let request = h.request("orders/create", "w-bad", canary_order(3003));
    let (parts, _) = request.into_parts();
    let tampered = http::Request::from_parts(parts, bytes::Bytes::from(canary_order(3004)));
    assert_refused(send(tampered).await, 401, "invalid_hmac");

    assert_eq!(h.order_status("shopify-3003").await, 404);
    assert_eq!(h.order_status("shopify-3004").await, 404);
}

#[tokio::test]
async fn malformed_and_invalid_payloads_are_refused_with_reasons() {
    let h = host().await;
    assert_refused(
        send(h.request("orders/create", "w-m1", b"{not json".to_vec())).await,
        400,
        "malformed_json",
    );
    let no_lines = br#"{"id": 4004, "currency": "USD", "line_items": []}"#.to_vec();
    assert_refused(
        send(h.request("orders/create", "w-m2", no_lines)).await,
        422,
        "no_line_items",
    );
    let bad_price = String::from_utf8(canary_order(4005))
        .expect("utf8")
        .replace("\"199.00\"", "\"1.999\"");
    assert_refused(
        send(h.request("orders/create", "w-m3", bad_price.into_bytes())).await,
        422,
        "invalid_field",
    );
    assert_eq!(h.order_status("shopify-4004").await, 404);
    assert_eq!(h.order_status("shopify-4005").await, 404);
}

#[tokio::test]
async fn oversized_unknown_shop_unknown_topic_and_wrong_method_are_refused() {
    let h = host().await;
    let huge = vec![b' '; rc_api::MAX_WEBHOOK_BODY + 1];
    assert_refused(
        send(h.request("orders/create", "w-big", huge)).await,
        413,
        "payload_too_large",
    );

    let mut request = h.request("orders/create", "w-shop", canary_order(5005));
    request.headers_mut().insert(
        "x-shopify-shop-domain",
        http::HeaderValue::from_static("someone-else.myshopify.com"),
    );
    // Answered like a bad signature: nobody learns which shops are customers (issue 9, item 12).
    assert_refused(send(request).await, 401, "invalid_hmac");

    assert_refused(
        send(h.request("products/create", "w-topic", canary_order(5006))).await,
        422,
        "unsupported_topic",
    );

    let mut request = h.request("orders/create", "w-id", canary_order(5007));
    request.headers_mut().insert(
        "x-shopify-webhook-id",
        http::HeaderValue::from_static("a#b"),
    );
    assert_refused(send(request).await, 400, "missing_header");

    let get = http::Request::get(format!("{}/webhooks/shopify", h.base))
        .body(bytes::Bytes::new())
        .expect("request");
    assert_refused(send(get).await, 405, "method_not_allowed");
    for id in ["shopify-5005", "shopify-5006", "shopify-5007"] {
        assert_eq!(h.order_status(id).await, 404);
    }
}

#[tokio::test]
async fn the_merchant_api_requires_a_key_and_scopes_orders_to_its_merchant() {
    let h = host().await;
    post_webhook(
        &h.base,
        &h.config,
        "orders/create",
        "w-a",
        canary_order(6006),
    )
    .await;
    assert_refused(
        get_order(&h.base, "rck_wrong", "shopify-6006").await,
        401,
        "unauthorized",
    );
    let no_auth = http::Request::get(format!("{}/v1/orders/shopify-6006", h.base))
        .body(bytes::Bytes::new())
        .expect("request");
    assert_refused(send(no_auth).await, 401, "unauthorized");

    // Another merchant's key sees nothing of the demo merchant's orders.
    let other = rc_domain::MerchantId::parse("other-merchant").expect("id");
    let key = h.host.services.api_keys.issue(&other).await.expect("issue");
    let token = key
        .0
        .reveal(rc_domain::RevealPurpose::Verification)
        .as_str()
        .to_owned();
    assert_refused(
        get_order(&h.base, &token, "shopify-6006").await,
        404,
        "not_found",
    );
    assert_refused(
        get_order(&h.base, &h.config.demo_api_key, "no%20such").await,
        404,
        "not_found",
    );
    let health = send(
        http::Request::get(format!("{}/health", h.base))
            .body(bytes::Bytes::new())
            .expect("request"),
    )
    .await;
    assert_eq!((health.0, health.1["status"].as_str()), (200, Some("ok")));
}
