//! The dashboard's pages on the local host with 10,000 orders: latency per view (p50, p95,
//! max over sequential requests on one keep-alive connection, as one merchant clicking), the
//! store requests behind each page, beside two floors measured in the same run: `GET /health`
//! (the HTTP round trip alone) and `GET /v1/orders` with an API key (the API call the orders
//! page makes, without rendering or the session).
//!
//!   cargo bench -p rc-e2e --bench dashboard
//!   RC_BENCH_ORDERS=1000 RC_BENCH_REQUESTS=50 cargo bench -p rc-e2e --bench dashboard
//!
//! Orders are stored through the real ingestion path (the documented Shopify order, parsed,
//! sealed, upserted); a few hundred more go through the sandbox marketplace with order
//! processing and the sandbox courier on, so shipments, labels and audit entries exist.

use std::time::{Duration, Instant};

use rc_domain::MerchantId;

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn timed(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    key: Option<&str>,
    n: u64,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut request = client.get(url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let started = Instant::now();
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        let _ = response.bytes().await.expect("body");
        times.push(started.elapsed());
        assert_eq!(status, 200, "{url}");
    }
    times.sort();
    times
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let orders = number("RC_BENCH_ORDERS", if benchmarking { 10_000 } else { 50 });
    let requests = number("RC_BENCH_REQUESTS", if benchmarking { 200 } else { 3 });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = rc_local_host::LocalConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("address"),
        demo_merchant: "demo-merchant".into(),
        demo_shop: "demo-shop.myshopify.com".into(),
        demo_webhook_secret: "bench-secret".into(),
        demo_api_key: "rck_bench_key".into(),
        demo_password: "bench-demo-password".into(),
        sandbox_interval: None,
        reconcile_interval: None,
        privacy_interval: None,
        inventory_interval: None,
        order_processing_interval: Some(Duration::from_millis(50)),
        body_timeout: Duration::from_secs(30),
        courier_stage: Some(Duration::from_millis(100)),
        tracking_poll_interval: None,
    };
    let host = rc_local_host::LocalHost::start(&config)
        .await
        .expect("host");
    let base = format!("http://{}", host.addr);
    let merchant = MerchantId::parse(&config.demo_merchant).expect("merchant");

    // Orders with shipments, labels and tracking, through the sandbox marketplace.
    for _ in 0..(orders / 100).clamp(2, 100) {
        host.sandbox.tick().await.expect("tick");
    }
    host.sandbox.drain().await;
    // The rest of the orders, straight through ingestion.
    let seeded = Instant::now();
    let template: serde_json::Value =
        serde_json::from_str(rc_local_host::DEMO_ORDER).expect("fixture");
    for n in 0..orders {
        let mut order = template.clone();
        order["id"] = serde_json::json!(20_000_000 + n);
        let body = serde_json::to_vec(&order).expect("json");
        let parsed = rc_channels::shopify::parse_order(&merchant, &body).expect("order");
        host.services
            .orders
            .upsert(&parsed.order, None)
            .await
            .expect("stored");
    }
    eprintln!(
        "seeded {orders} orders in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = client
        .post(format!("{base}/app/sign-in"))
        .header("origin", &base)
        .form(&[
            ("account", config.demo_merchant.as_str()),
            ("email", "owner@demo.retailcoder.example"),
            ("password", config.demo_password.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status().as_u16(), 303);
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_owned();
    let order = format!("/app/orders/shopify-{}", 20_000_000 + orders / 2);

    println!("| page | requests | p50 (ms) | p95 (ms) | max (ms) |");
    println!("| --- | --- | --- | --- | --- |");
    let report = |name: &str, times: &[Duration]| {
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} |",
            times.len(),
            percentile(times, 0.5),
            percentile(times, 0.95),
            percentile(times, 1.0)
        );
    };
    report(
        "floor: `GET /health`",
        &timed(&client, &format!("{base}/health"), None, None, requests).await,
    );
    report(
        "floor: `GET /v1/orders` (API key)",
        &timed(
            &client,
            &format!("{base}/v1/orders"),
            None,
            Some(&config.demo_api_key),
            requests,
        )
        .await,
    );
    for (name, path) in [
        (
            "floor: `GET /v1/orders?status=needs_action` (API key)",
            "/v1/orders?status=needs_action",
        ),
        (
            "floor: `GET /v1/tracking?state=stalled` (API key)",
            "/v1/tracking?state=stalled",
        ),
    ] {
        let times = timed(
            &client,
            &format!("{base}{path}"),
            None,
            Some(&config.demo_api_key),
            requests,
        )
        .await;
        report(name, &times);
    }
    let waiting: serde_json::Value = client
        .get(format!("{base}/v1/orders?status=needs_action"))
        .bearer_auth(&config.demo_api_key)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    eprintln!(
        "orders needing action on the first page: {}",
        waiting["orders"].as_array().map_or(0, Vec::len)
    );
    for (name, path) in [
        ("Needs action", "/app/needs-action"),
        ("Orders (first page)", "/app/orders"),
        (
            "Orders: shipped, from Shopify",
            "/app/orders?status=shipped&channel=shopify",
        ),
        ("Order page", order.as_str()),
        (
            "Shipments (labels created)",
            "/app/shipments?status=label_created",
        ),
        ("Inventory", "/app/inventory"),
        ("SKU page", "/app/inventory/TSHIRT-RED-M"),
        ("Exports", "/app/exports"),
        ("Privacy center", "/app/privacy"),
        (
            "Privacy center: deleted within 7 days",
            "/app/privacy?within=7",
        ),
        ("Settings", "/app/settings"),
        ("Warehouses, routing and couriers", "/app/settings/shipping"),
    ] {
        report(
            name,
            &timed(
                &client,
                &format!("{base}{path}"),
                Some(&cookie),
                None,
                requests,
            )
            .await,
        );
    }
}
