//! The local host's sandbox marketplace: orders from both channels arrive exactly once through
//! the real handlers, duplicates included.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_orders_from_both_marketplaces_arrive_exactly_once() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    // Three ticks: one of any three consecutive ticks delivers everything twice.
    for _ in 0..3 {
        host.sandbox.tick().await.expect("tick");
    }
    host.sandbox.drain().await;

    let request = http::Request::get(format!("{base}/v1/orders"))
        .header("authorization", format!("Bearer {}", config.demo_api_key))
        .body(bytes::Bytes::new())
        .expect("request");
    let (status, listed) = send(request).await;
    assert_eq!(status, 200, "{listed}");
    let orders = listed["orders"].as_array().expect("orders");
    let count = |channel: &str| orders.iter().filter(|o| o["channel"] == channel).count();
    assert_eq!((count("amazon"), count("shopify")), (3, 3), "{listed}");
    assert!(
        orders.iter().all(|o| o["version"] == 1),
        "each stored once: {listed}"
    );
    assert!(orders.iter().all(|o| o["buyer_pii"] == "sealed"));
    assert!(
        !listed.to_string().contains("Lovelace"),
        "no PII in the listing"
    );
}
