//! The local host's sandbox marketplace: orders from both channels arrive exactly once through
//! the real handlers, duplicates included, and the ones whose notification or webhook was lost
//! arrive through scheduled reconciliation.

mod support;

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
    let (host, config, _dir) = start_local_host().await;
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
    assert!(after.iter().all(|o| o["version"] == 1), "each stored once");
    assert!(after.iter().all(|o| o["buyer_pii"] == "sealed"));
}
