//! The proof test: the Shopify vertical slice with canary PII at TRACE log level. The canary must
//! appear in no log line, no API response and nowhere in the embedded database or key file as
//! plaintext, while the sealed PII still opens for a legitimate purpose.

use crate::support;

use rc_domain::{MerchantId, OrderId, RevealPurpose};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_pii_reaches_no_log_response_or_file_in_plaintext() {
    let logs = capture_all_logs();
    let (host, config, dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);

    let (status, body) = post_webhook(
        &base,
        &config,
        "orders/create",
        "canary-delivery-1",
        canary_order(7781),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "stored");
    // A retried delivery and a bad signature take the other paths, which log too.
    let (status, _) = post_webhook(
        &base,
        &config,
        "orders/create",
        "canary-delivery-1",
        canary_order(7781),
    )
    .await;
    assert_eq!(status, 200);
    let mut forged = rc_local_host::signed_shopify_request(
        &format!("{base}/webhooks/shopify"),
        &config.demo_shop,
        "not-the-secret",
        "orders/create",
        "canary-delivery-2",
        canary_order(7782),
    )
    .expect("request");
    forged.headers_mut().insert(
        "x-shopify-topic",
        http::HeaderValue::from_static("orders/create"),
    );
    assert_eq!(send(forged).await.0, 401);

    let (status, order) = get_order(&base, &config.demo_api_key, "shopify-7781").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["buyer_pii"], "sealed");
    assert_eq!(order["ship_to"]["country"], "US");
    let response_text = order.to_string();

    // The PII really is stored (sealed), and opens for a named purpose.
    let merchant = MerchantId::parse("demo-merchant").expect("id");
    let order_id = OrderId::parse("shopify-7781").expect("id");
    let buyer = host
        .services
        .orders
        .buyer(&merchant, &order_id)
        .await
        .expect("open")
        .expect("stored");
    let email = buyer.email.expect("email");
    assert_eq!(
        email.reveal(RevealPurpose::Verification).as_str(),
        CANARY_EMAIL
    );
    let shipping = buyer.shipping_address.expect("address");
    assert_eq!(
        shipping.reveal(RevealPurpose::Verification).line1,
        CANARY_STREET
    );

    let captured = logs.text();
    assert!(
        captured.contains("shopify order received"),
        "the capture must see our own log lines"
    );
    assert!(captured.contains("TRACE"), "TRACE lines were captured");
    for canary in canaries() {
        assert!(
            !captured.contains(canary),
            "canary {canary:?} found in logs"
        );
        assert!(
            !response_text.contains(canary),
            "canary {canary:?} found in the API response"
        );
    }

    let mut files = 0;
    for (path, bytes) in files_under(&dir.path().join("data")) {
        files += 1;
        for canary in canaries() {
            assert!(
                !contains(&bytes, canary),
                "canary {canary:?} found in plaintext in {}",
                path.display()
            );
        }
    }
    assert!(files >= 2, "the database and the key file were inspected");
    host.task.abort();
}
