//! Amazon ORDER_CHANGE notifications through the consumer, against the in-process SP-API and LWA
//! stand-in, on the embedded store: exactly once, throttling, token expiry, poison messages.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use rc_channels::amazon::{Credentials, Endpoints, RetryPolicy, SpApiClient};
use rc_domain::{MerchantId, OrderId, RevealPurpose, Secret, SecretText, SystemClock};
use rc_jobs::{AmazonNotifications, QueueMessage};
use rc_runtime::Services;
use support::sp_api::{self, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, StandIn};
use support::*;

const SELLER: &str = "A3TH9S8BH6GOGM";

struct Fixture {
    consumer: AmazonNotifications,
    services: Services,
    amazon: StandIn,
    _dir: tempfile::TempDir,
}

fn secret(s: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(s).expect("secret"))
}

/// The published getOrder example, with the canary buyer and the given order id.
fn canary_amazon_order(order_id: &str) -> serde_json::Value {
    let example: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/channels/fixtures/amazon-get-order.json"
    ))
    .expect("fixture");
    let mut order = example["order"].clone();
    order["orderId"] = serde_json::json!(order_id);
    // A new order, not yet shipped (the published example was placed and shipped in 2024: its
    // PII would be past every deadline and never stored).
    order["fulfillment"]["fulfillmentStatus"] = serde_json::json!("UNSHIPPED");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    order["lastUpdatedTime"] = serde_json::json!(now);
    order["createdTime"] = serde_json::json!(now);
    order["buyer"]["buyerName"] =
        serde_json::json!(format!("{CANARY_NAME_FIRST} {CANARY_NAME_LAST}"));
    order["buyer"]["buyerEmail"] = serde_json::json!(CANARY_EMAIL);
    let address = &mut order["recipient"]["deliveryAddress"];
    address["name"] = serde_json::json!(format!("{CANARY_NAME_FIRST} {CANARY_NAME_LAST}"));
    address["addressLine1"] = serde_json::json!(CANARY_STREET);
    address["city"] = serde_json::json!(CANARY_CITY);
    address["postalCode"] = serde_json::json!(CANARY_ZIP);
    address["phone"] = serde_json::json!(CANARY_PHONE);
    order
}

fn notification(notification_id: &str, order_id: &str) -> String {
    let mut n: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/channels/fixtures/amazon-order-change.json"
    ))
    .expect("fixture");
    n["NotificationMetadata"]["NotificationId"] = serde_json::json!(notification_id);
    n["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = serde_json::json!(order_id);
    n.to_string()
}

fn message(id: &str, body: String) -> QueueMessage {
    QueueMessage {
        id: id.into(),
        body,
    }
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let services = Services::embedded(dir.path(), Arc::new(SystemClock)).expect("services");
    let merchant = MerchantId::parse("amazon-merchant").expect("id");
    services
        .connections
        .put_amazon(
            &merchant,
            &crate::support::id(SELLER),
            &[crate::support::id("ATVPDKIKX0DER")],
            &Credentials {
                client_id: CLIENT_ID.into(),
                client_secret: secret(CLIENT_SECRET),
                refresh_token: secret(REFRESH_TOKEN),
                region: rc_channels::amazon::Region::NorthAmerica,
            },
        )
        .await
        .expect("connection");
    let amazon = sp_api::start().await;
    for id in [
        "903-0000001-0000001",
        "903-0000002-0000002",
        "903-0000003-0000003",
    ] {
        amazon
            .state()
            .orders
            .insert(id.into(), canary_amazon_order(id));
    }
    let endpoints = Endpoints::all_at(amazon.base(), amazon.base());
    let client = SpApiClient::with_retry(
        endpoints,
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(20),
        },
    );
    let consumer = AmazonNotifications::new(
        services.orders.clone(),
        services.connections.clone(),
        Arc::new(client),
    );
    Fixture {
        consumer,
        services,
        amazon,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_notification_fetches_the_order_once_and_stores_it_sealed() {
    let logs = capture_all_logs();
    let f = fixture().await;
    let failed = f
        .consumer
        .handle_batch(vec![
            message("m1", notification("n-1", "903-0000001-0000001")),
            // Amazon redelivers; SQS redelivers: the same notification again in the same batch.
            message("m2", notification("n-1", "903-0000001-0000001")),
        ])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    let again = f
        .consumer
        .handle(&notification("n-1", "903-0000001-0000001"))
        .await
        .expect("handled");
    assert_eq!(again, rc_orders::StoreOutcome::Duplicate);
    {
        let state = f.amazon.state();
        assert_eq!(
            state.get_order_calls, 1,
            "one getOrder for three deliveries"
        );
        assert_eq!(state.token_calls, 1);
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }
    let merchant = MerchantId::parse("amazon-merchant").expect("id");
    let order = OrderId::parse("amazon-903-0000001-0000001").expect("id");
    let view = f
        .services
        .orders
        .view(&merchant, &order)
        .await
        .expect("view")
        .expect("stored");
    assert_eq!(view.lines[0].sku.as_str(), "ECHO-DOT-4-UK-CHARCOAL-3PACK");
    let buyer = f
        .services
        .orders
        .buyer(&merchant, &order)
        .await
        .expect("open")
        .expect("pii");
    let email = buyer.email.expect("email");
    assert_eq!(
        email.reveal(RevealPurpose::Verification).as_str(),
        CANARY_EMAIL
    );
    let captured = logs.text();
    assert!(captured.contains("amazon order received"));
    for canary in canaries() {
        assert!(!captured.contains(canary), "canary {canary:?} in logs");
    }
}

#[tokio::test]
async fn throttling_is_waited_out_with_backoff() {
    let f = fixture().await;
    f.amazon.state().scripted.extend([429, 429]);
    let failed = f
        .consumer
        .handle_batch(vec![message(
            "m1",
            notification("n-2", "903-0000002-0000002"),
        )])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        f.amazon.state().get_order_calls,
        3,
        "two 429s, then success"
    );

    // Throttled beyond the retry budget: the message goes back to the queue, nothing stored.
    f.amazon.state().scripted.extend([429, 429, 429, 429]);
    let failed = f
        .consumer
        .handle_batch(vec![message(
            "m2",
            notification("n-3", "903-0000003-0000003"),
        )])
        .await;
    assert_eq!(failed, vec!["m2"]);
    let merchant = MerchantId::parse("amazon-merchant").expect("id");
    let order = OrderId::parse("amazon-903-0000003-0000003").expect("id");
    assert!(
        f.services
            .orders
            .view(&merchant, &order)
            .await
            .expect("view")
            .is_none()
    );
    // Redelivered later, it succeeds.
    assert!(
        f.consumer
            .handle_batch(vec![message(
                "m2",
                notification("n-3", "903-0000003-0000003")
            )])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_access_token_that_expires_mid_batch_is_refreshed_once() {
    let f = fixture().await;
    f.amazon.state().revoke_after = Some(1);
    let failed = f
        .consumer
        .handle_batch(vec![
            message("m1", notification("n-4", "903-0000001-0000001")),
            message("m2", notification("n-5", "903-0000002-0000002")),
        ])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    let state = f.amazon.state();
    assert_eq!(
        state.token_calls, 2,
        "the first token, then one refresh after the 403"
    );
    assert_eq!(state.get_order_calls, 3);
    assert!(state.violations.is_empty(), "{:?}", state.violations);
}

#[tokio::test]
async fn poison_messages_fail_alone_and_are_reported_for_the_dead_letter_queue() {
    let f = fixture().await;
    let unknown_seller =
        notification("n-7", "903-0000002-0000002").replace(SELLER, "AUNKNOWNSELLER");
    let failed = f
        .consumer
        .handle_batch(vec![
            message("bad-json", "{not json".into()),
            message(
                "wrong-type",
                notification("n-6", "903-0000001-0000001")
                    .replace("ORDER_CHANGE", "FEED_PROCESSING_FINISHED"),
            ),
            message("good", notification("n-8", "903-0000001-0000001")),
            message("unknown-seller", unknown_seller),
            message("missing-order", notification("n-9", "903-9999999-9999999")),
        ])
        .await;
    assert_eq!(
        failed,
        vec!["bad-json", "wrong-type", "unknown-seller", "missing-order"]
    );
    let merchant = MerchantId::parse("amazon-merchant").expect("id");
    let good = OrderId::parse("amazon-903-0000001-0000001").expect("id");
    assert!(
        f.services
            .orders
            .view(&merchant, &good)
            .await
            .expect("view")
            .is_some()
    );
    assert!(f.amazon.state().violations.is_empty());
}

#[test]
fn the_stand_in_refuses_requests_outside_the_published_model() {
    let model = sp_api::spec();
    let path = "/orders/2026-01-01/orders/903-1";
    assert!(
        sp_api::check_against_model(&model, "get", path, "includedData=BUYER%2CRECIPIENT")
            .is_empty()
    );
    let cases = [
        ("get", path, "includedData=BUYER,SECRETS"),
        ("get", path, "includedData=BUYER&debug=1"),
        ("post", path, ""),
        ("get", "/orders/v0/orders/903-1", ""),
    ];
    for (method, path, query) in cases {
        assert!(
            !sp_api::check_against_model(&model, method, path, query).is_empty(),
            "{method} {path}?{query} should violate the model"
        );
    }
}
