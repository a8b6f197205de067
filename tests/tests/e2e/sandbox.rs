//! The local host's sandbox marketplace: orders from both channels arrive exactly once through
//! the real handlers, duplicates included, and the ones whose notification or webhook was lost
//! arrive through scheduled reconciliation.

use crate::support;

use support::*;

async fn listed(base: &str, api_key: &str) -> Vec<serde_json::Value> {
    let request = http::Request::get(format!("{base}/v1/orders"))
        .header("authorization", format!("Bearer {api_key}"))
        .body(bytes::Bytes::new())
        .expect("request");
    let (status, listed) = send(request).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        !listed.to_string().contains("Lovelace"),
        "no PII in the listing"
    );
    listed["orders"].as_array().expect("orders").clone()
}

fn count(orders: &[serde_json::Value], channel: &str) -> usize {
    orders.iter().filter(|o| o["channel"] == channel).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_orders_from_both_marketplaces_arrive_exactly_once() {
    let (host, config, _dir) = start_local_host_with(|config| {
        config.order_processing_interval = Some(std::time::Duration::from_millis(50));
    })
    .await;
    let base = format!("http://{}", host.addr);
    // Five rounds: among any five, one round's deliveries are lost and one or two are doubled.
    for _ in 0..5 {
        host.sandbox.tick().await.expect("tick");
    }
    host.sandbox.drain().await;
    let before = listed(&base, &config.demo_api_key).await;
    assert_eq!(
        (count(&before, "amazon"), count(&before, "shopify")),
        (4, 4)
    );

    let report = host.reconciler.run().await;
    assert_eq!(
        (report.failed_connections, report.stored),
        (0, 2),
        "{report:?}"
    );
    let after = listed(&base, &config.demo_api_key).await;
    assert_eq!((count(&after, "amazon"), count(&after, "shopify")), (5, 5));
    // Stored once (version 1), then moved by the order processor (reserved) and the label
    // generator (label_created), once each at most.
    assert!(
        after.iter().all(|o| o["version"].as_u64() <= Some(3)),
        "each stored once: {after:?}"
    );
    assert!(after.iter().all(|o| o["buyer_pii"] == "sealed"));

    // The orders reserved stock, and the sandbox channels show the new quantities: 10 orders of
    // one unit each over the 4-SKU catalog, from 100 each.
    let mut shown = serde_json::Value::Null;
    for _ in 0..100 {
        shown = reqwest::get(format!("{base}/sandbox/inventory"))
            .await
            .expect("inventory")
            .json()
            .await
            .expect("json");
        let total: i64 = shown["amazon"]
            .as_object()
            .map(|m| m.values().filter_map(|v| v.as_i64()).sum())
            .unwrap_or(0);
        if total == 390 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let amazon_total: i64 = shown["amazon"]
        .as_object()
        .expect("amazon")
        .values()
        .filter_map(|v| v.as_i64())
        .sum();
    let shopify_total: i64 = shown["shopify"]
        .as_array()
        .expect("shopify")
        .iter()
        .filter_map(|l| l["available"].as_i64())
        .sum();
    assert_eq!((amazon_total, shopify_total), (390, 390), "{shown}");
    let reserved = listed(&base, &config.demo_api_key).await;
    assert!(
        reserved
            .iter()
            .all(|o| o["status"] == "reserved" || o["status"] == "label_created"),
        "{reserved:?}"
    );

    // The demo merchant's warehouses: `main` (the stock, first) and `east`.
    let warehouses: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/v1/warehouses"))
        .bearer_auth(&config.demo_api_key)
        .send()
        .await
        .expect("warehouses")
        .json()
        .await
        .expect("json");
    let ids: Vec<(&str, u64)> = warehouses["warehouses"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|w| Some((w["id"].as_str()?, w["priority"].as_u64()?)))
        .collect();
    assert_eq!(ids, [("east", 20), ("main", 10)], "{warehouses}");

    // And routing rules: every order was routed, from `main` (the only one with stock).
    let get = |path: String| {
        let key = config.demo_api_key.clone();
        async move {
            reqwest::Client::new()
                .get(path)
                .bearer_auth(key)
                .send()
                .await
                .expect("get")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    // Every order carries its tax record: Amazon's sandbox orders the Seattle sales tax Amazon
    // collects as marketplace facilitator, recorded as charged; Shopify's none charged.
    for order in &reserved {
        let id = order["id"].as_str().expect("id");
        let record = get(format!("{base}/v1/orders/{id}/tax")).await;
        let expected = if id.starts_with("amazon-") {
            ("marketplace_facilitator", "marketplace", true)
        } else {
            ("none", "merchant", false)
        };
        assert_eq!(
            (
                record["owed"]["scheme"].as_str().unwrap_or_default(),
                record["owed"]["liable"].as_str().unwrap_or_default(),
                record["owed"]["lines"][0]["amounts"][0]["tax"]
                    .as_i64()
                    .unwrap_or(0)
                    > 0
            ),
            expected,
            "{record}"
        );
    }
    // Every order gets its label from the sandbox courier, exactly once.
    let mut labelled = Vec::new();
    for _ in 0..200 {
        labelled = listed(&base, &config.demo_api_key).await;
        if labelled.iter().all(|o| o["status"] == "label_created") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        labelled.iter().all(|o| o["status"] == "label_created"),
        "{labelled:?}"
    );
    let purchases: serde_json::Value = reqwest::get(format!("{base}/sandbox/courier/purchases"))
        .await
        .expect("purchases")
        .json()
        .await
        .expect("json");
    let bought = purchases["purchases"].as_array().expect("purchases");
    assert_eq!(
        bought.len(),
        labelled.len(),
        "one label per order: {purchases}"
    );
    let mut references: Vec<&str> = bought
        .iter()
        .filter_map(|p| p["reference"].as_str())
        .collect();
    references.sort_unstable();
    references.dedup();
    assert_eq!(references.len(), bought.len(), "no shipment bought twice");
    assert_eq!(
        bought.iter().filter(|p| p["service"] == "Ground").count(),
        bought.len(),
        "the cheapest service"
    );
    let routing = get(format!("{base}/v1/routing")).await;
    assert_eq!(routing["rules"][0]["name"], "east-coast", "{routing}");
    for order in &reserved {
        let id = order["id"].as_str().expect("id");
        let shown = get(format!("{base}/v1/orders/{id}")).await;
        assert_eq!(
            shown["reservation"]["routing"]["shipments"][0]["warehouse"], "main",
            "{shown}"
        );
    }
}

async fn get(base: &str, path: &str, api_key: &str) -> serde_json::Value {
    let request = http::Request::get(format!("{base}{path}"))
        .header("authorization", format!("Bearer {api_key}"))
        .body(bytes::Bytes::new())
        .expect("request");
    let (status, body) = send(request).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// What a newcomer watches: an order from a webhook to its label, the sandbox courier carrying
/// it (its signed notifications through the real tracking webhook), the order shipped at the
/// pickup with its PII deadline set then, and each marketplace told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_orders_go_from_webhook_to_delivered_and_are_confirmed() {
    let (host, config, _dir) = start_local_host_with(|config| {
        config.order_processing_interval = Some(std::time::Duration::from_millis(50));
        config.courier_stage = Some(std::time::Duration::from_millis(400));
    })
    .await;
    let base = format!("http://{}", host.addr);
    let key = config.demo_api_key.clone();
    // Two rounds: one of any two consecutive rounds delivers (every fifth is "lost").
    for _ in 0..2 {
        host.sandbox.tick().await.expect("tick");
    }
    host.sandbox.drain().await;
    let mut orders = Vec::new();
    for _ in 0..150 {
        orders = get(&base, "/v1/orders", &key).await["orders"]
            .as_array()
            .expect("orders")
            .clone();
        let done = !orders.is_empty()
            && orders
                .iter()
                .all(|o| matches!(o["status"].as_str(), Some("delivered" | "shipped")));
        let amazon: usize =
            get(&base, "/sandbox/amazon/confirmations", &key).await["confirmations"]
                .as_array()
                .map_or(0, Vec::len);
        let shopify: usize =
            get(&base, "/sandbox/shopify/fulfillments", &key).await["fulfillments"]
                .as_array()
                .map_or(0, Vec::len);
        if done && amazon == count(&orders, "amazon") && shopify == count(&orders, "shopify") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        count(&orders, "amazon") >= 1 && count(&orders, "shopify") >= 1,
        "{orders:?}"
    );
    for order in &orders {
        let id = order["id"].as_str().expect("id");
        let view = get(&base, &format!("/v1/orders/{id}"), &key).await;
        assert!(
            matches!(view["status"].as_str(), Some("delivered" | "shipped")),
            "{view}"
        );
        assert_eq!(view["pii_deadline"]["rule"], "shipped", "{view}");
        let shipments = get(&base, &format!("/v1/orders/{id}/shipments"), &key).await;
        let shipment = &shipments["shipments"][0];
        assert_eq!(shipment["confirmation"]["state"], "confirmed", "{shipment}");
        assert!(
            shipment["history"]
                .as_array()
                .is_some_and(|h| !h.is_empty())
        );
    }
    let confirmations = get(&base, "/sandbox/amazon/confirmations", &key).await;
    assert_eq!(
        confirmations["confirmations"].as_array().map(Vec::len),
        Some(count(&orders, "amazon")),
        "one package per Amazon order: {confirmations}"
    );
    assert_eq!(confirmations["confirmations"][0]["carrier_code"], "Other");
    assert_eq!(
        confirmations["confirmations"][0]["carrier_name"],
        "SandboxPost"
    );
    let fulfillments = get(&base, "/sandbox/shopify/fulfillments", &key).await;
    assert_eq!(
        fulfillments["fulfillments"].as_array().map(Vec::len),
        Some(count(&orders, "shopify")),
        "{fulfillments}"
    );
}
