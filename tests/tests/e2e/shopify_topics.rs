//! Shopify order topics arriving out of order, duplicated and concurrently, and the compliance
//! topics, through the local host.

use crate::support;

use support::*;

fn order_at(id: u64, updated_at: &str, quantity: u32) -> Vec<u8> {
    let mut order: serde_json::Value = serde_json::from_slice(&canary_order(id)).expect("json");
    order["updated_at"] = serde_json::json!(updated_at);
    order["line_items"][0]["quantity"] = serde_json::json!(quantity);
    serde_json::to_vec(&order).expect("encode")
}

async fn deliver(
    base: &str,
    config: &rc_local_host::LocalConfig,
    topic: &str,
    id: &str,
    body: Vec<u8>,
) -> String {
    let (status, answer) = post_webhook(base, config, topic, id, body).await;
    assert_eq!(status, 200, "{answer}");
    answer["status"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn an_older_update_never_overwrites_a_newer_one() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let t0 = "2026-11-20T10:00:00Z";
    let t1 = "2026-11-20T10:05:00Z";
    let t2 = "2026-11-20T10:09:00Z";
    assert_eq!(
        deliver(&base, &config, "orders/create", "c", order_at(11, t0, 1)).await,
        "stored"
    );
    assert_eq!(
        deliver(&base, &config, "orders/updated", "u2", order_at(11, t2, 3)).await,
        "updated"
    );
    // The update of 10:05 arrives late (a Shopify retry): it must not win.
    assert_eq!(
        deliver(&base, &config, "orders/updated", "u1", order_at(11, t1, 2)).await,
        "stale"
    );
    assert_eq!(
        deliver(&base, &config, "orders/updated", "u1", order_at(11, t1, 2)).await,
        "duplicate"
    );

    let (_, order) = get_order(&base, &config.demo_api_key, "shopify-11").await;
    assert_eq!(order["lines"][0]["quantity"], 3);
    assert_eq!(order["channel_updated_at"], t2);
    assert_eq!(order["version"], 2, "one create and one real update");
    assert_eq!(order["buyer_pii"], "sealed");
}

#[tokio::test]
async fn statuses_only_move_forward_whatever_the_arrival_order() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let status = |order: serde_json::Value| order["status"].as_str().expect("status").to_owned();

    // Cancelled, with a timestamp older than the stored state: content stays, the status moves.
    deliver(
        &base,
        &config,
        "orders/create",
        "a1",
        order_at(21, "2026-11-20T10:00:00Z", 1),
    )
    .await;
    deliver(
        &base,
        &config,
        "orders/updated",
        "a2",
        order_at(21, "2026-11-20T11:00:00Z", 2),
    )
    .await;
    let mut cancelled: serde_json::Value =
        serde_json::from_slice(&order_at(21, "2026-11-20T10:30:00Z", 9)).expect("json");
    cancelled["cancelled_at"] = serde_json::json!("2026-11-20T10:30:00Z");
    let body = serde_json::to_vec(&cancelled).expect("encode");
    assert_eq!(
        deliver(&base, &config, "orders/cancelled", "a3", body).await,
        "updated"
    );
    let (_, order) = get_order(&base, &config.demo_api_key, "shopify-21").await;
    assert_eq!(status(order.clone()), "cancelled");
    assert_eq!(
        order["lines"][0]["quantity"], 2,
        "older content did not win"
    );

    // Fulfilled, then a later "cancelled": too late, the order stays shipped.
    deliver(
        &base,
        &config,
        "orders/create",
        "b1",
        order_at(22, "2026-11-20T10:00:00Z", 1),
    )
    .await;
    deliver(
        &base,
        &config,
        "orders/fulfilled",
        "b2",
        order_at(22, "2026-11-20T10:10:00Z", 1),
    )
    .await;
    let outcome = deliver(
        &base,
        &config,
        "orders/cancelled",
        "b3",
        order_at(22, "2026-11-20T10:20:00Z", 1),
    )
    .await;
    assert_eq!(outcome, "updated", "newer content still applies");
    let (_, order) = get_order(&base, &config.demo_api_key, "shopify-22").await;
    assert_eq!(status(order), "shipped");

    // An update for an order never seen creates it.
    assert_eq!(
        deliver(
            &base,
            &config,
            "orders/updated",
            "c1",
            order_at(23, "2026-11-20T10:00:00Z", 1)
        )
        .await,
        "stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_deliveries_of_one_webhook_store_one_order() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (base, config) = (base.clone(), config.clone());
            tokio::spawn(async move {
                post_webhook(&base, &config, "orders/create", "storm", canary_order(31)).await
            })
        })
        .collect();
    let mut outcomes = std::collections::BTreeMap::new();
    for task in tasks {
        let (status, body) = task.await.expect("join");
        assert_eq!(status, 200, "{body}");
        *outcomes
            .entry(body["status"].as_str().expect("status").to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(outcomes.get("stored"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("duplicate"), Some(&49), "{outcomes:?}");
    let (_, order) = get_order(&base, &config.demo_api_key, "shopify-31").await;
    assert_eq!(order["version"], 1);
    let published = host
        .services
        .published
        .as_ref()
        .expect("embedded queue")
        .published();
    let events: Vec<_> = published
        .iter()
        .filter(|e| e.order == "shopify-31")
        .collect();
    assert_eq!(events.len(), 1, "one downstream message: {events:?}");
}

#[tokio::test]
async fn compliance_requests_are_recorded_once_without_contact_details() {
    let (host, config, dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let redact = serde_json::to_vec(&serde_json::json!({
        "shop_id": 954889, "shop_domain": config.demo_shop,
        "customer": {"id": 191167, "email": CANARY_EMAIL, "phone": CANARY_PHONE},
        "orders_to_redact": [299938, 280263]
    }))
    .expect("encode");
    assert_eq!(
        deliver(&base, &config, "customers/redact", "r1", redact.clone()).await,
        "stored"
    );
    assert_eq!(
        deliver(&base, &config, "customers/redact", "r1", redact).await,
        "duplicate"
    );
    let shop = serde_json::to_vec(
        &serde_json::json!({"shop_id": 954889, "shop_domain": config.demo_shop}),
    )
    .expect("encode");
    assert_eq!(
        deliver(&base, &config, "shop/redact", "r2", shop).await,
        "stored"
    );

    let pending = host
        .services
        .privacy_requests
        .pending(10, None)
        .await
        .expect("pending");
    let kinds: Vec<&str> = pending.items.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, vec!["customer_redact", "shop_redact"]);

    let other_shop = serde_json::to_vec(&serde_json::json!({
        "shop_id": 1, "shop_domain": "someone-else.myshopify.com"
    }))
    .expect("encode");
    let (status, answer) = post_webhook(&base, &config, "shop/redact", "r3", other_shop).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_field"))
    );

    for (_, bytes) in files_under(&dir.path().join("data")) {
        assert!(!contains(&bytes, CANARY_EMAIL) && !contains(&bytes, CANARY_PHONE));
    }
}
