//! Inventory figures:
//! 1. reservations per second on the embedded store (sequential and 16 concurrent) and on
//!    DynamoDB in moto (when `AWS_ENDPOINT_URL` is set, as under `./infra/test`);
//! 2. channel API calls per 10,000 changed SKUs (Shopify `inventorySetQuantities`, Amazon
//!    listings feed), counted against the stand-ins the tests use;
//! 3. the local run's time from an order's arrival (a signed webhook) to its new quantity shown
//!    by the sandbox channels.
//!
//!   cargo bench -p rc-e2e --bench inventory

#[path = "../tests/e2e/support/shopify_admin.rs"]
mod shopify_admin;
#[path = "../tests/e2e/support/sp_api.rs"]
mod sp_api;
#[path = "../tests/e2e/support/sp_notifications.rs"]
mod sp_notifications;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rc_channels::amazon::{Endpoints, SpApiClient};
use rc_channels::shopify::{ShopDomain, ShopifyAdmin};
use rc_domain::{
    Currency, LineItem, MerchantId, Money, OrderId, Quantity, Secret, SecretText, Sku, SystemClock,
    WarehouseId,
};
use rc_inventory::{Adjustment, ChannelAllocation, ListingTarget};
use rc_runtime::Services;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn merchant() -> MerchantId {
    MerchantId::parse("bench-merchant").expect("merchant")
}

fn secret(s: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(s).expect("secret"))
}

fn line(sku: &Sku) -> LineItem {
    LineItem {
        charges: Default::default(),
        sku: sku.clone(),
        quantity: Quantity::new(1).expect("quantity"),
        unit_price: Money::from_minor(100, Currency::parse("USD").expect("usd")).expect("money"),
        line_id: None,
    }
}

async fn receive(services: &Services, sku: &Sku, quantity: i64) {
    services
        .stock
        .adjust(
            &merchant(),
            sku,
            &WarehouseId::parse("main").expect("warehouse"),
            Adjustment::Receive { quantity },
            "bench",
            "bench",
        )
        .await
        .expect("stock");
}

/// An order to Kentucky (the bench merchant has no routing rules: by priority).
fn to_us() -> rc_inventory::RouteRequest {
    rc_inventory::RouteRequest {
        destination: rc_domain::Destination {
            country: Some(rc_domain::CountryCode::parse("US").expect("country")),
            region: Some(rc_domain::RegionCode::parse("KY").expect("region")),
            postal_prefix: None,
        },
        channel: rc_domain::Channel::Shopify,
    }
}

/// Reserves `orders` one-line orders over 20 SKUs: sequentially, then `tasks` at a time.
async fn reservations(services: Arc<Services>, label: &str, orders: u32, tasks: u32) {
    let skus: Vec<Sku> = (0..20)
        .map(|n| Sku::parse(&format!("RES-{label}-{n}")).expect("sku"))
        .collect();
    for sku in &skus {
        receive(&services, sku, 1_000_000).await;
    }
    let started = Instant::now();
    for n in 0..orders {
        let order = OrderId::parse(&format!("seq-{label}-{n}")).expect("order");
        services
            .reservations
            .reserve(
                &merchant(),
                &order,
                &[line(&skus[n as usize % 20])],
                &to_us(),
            )
            .await
            .expect("reserve");
    }
    let sequential = orders as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (services, skus) = (Arc::clone(&services), skus.clone());
            let label = label.to_owned();
            tokio::spawn(async move {
                for n in (t..orders).step_by(tasks as usize) {
                    let order = OrderId::parse(&format!("par-{label}-{n}")).expect("order");
                    services
                        .reservations
                        .reserve(
                            &merchant(),
                            &order,
                            &[line(&skus[n as usize % 20])],
                            &to_us(),
                        )
                        .await
                        .expect("reserve");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    let concurrent = orders as f64 / started.elapsed().as_secs_f64();
    println!(
        "reservations, {label}: {orders} one-line orders: sequential {sequential:.0}/s, {tasks} concurrent {concurrent:.0}/s"
    );
}

async fn moto_services() -> Option<Arc<Services>> {
    std::env::var_os("AWS_ENDPOINT_URL")?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let n = std::process::id();
    let (data_table, keys_table) = (format!("bench-inv-data-{n}"), format!("bench-inv-keys-{n}"));
    use rc_store::dynamo::{DynamoStore, TableShape, create_table};
    create_table(&dynamodb, &data_table, TableShape::Data)
        .await
        .expect("table");
    create_table(&dynamodb, &keys_table, TableShape::Keys)
        .await
        .expect("table");
    let key = kms
        .create_key()
        .send()
        .await
        .expect("key")
        .key_metadata
        .expect("meta")
        .key_id;
    let clock = Arc::new(SystemClock);
    Some(Arc::new(Services::assemble(
        Arc::new(DynamoStore::new(
            dynamodb.clone(),
            &data_table,
            clock.clone(),
        )),
        Arc::new(DynamoStore::new(dynamodb, &keys_table, clock.clone())),
        Arc::new(rc_vault::KmsRoot::new(kms, key)),
        clock,
        Arc::new(rc_queue::MemoryPublisher::default()),
    )))
}

/// API calls for `count` changed SKUs, each listed on Shopify and on Amazon.
async fn calls_per_changes(count: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let services = Services::embedded(dir.path(), Arc::new(SystemClock)).expect("services");
    let shop = ShopDomain::parse("bench-shop.myshopify.com").expect("shop");
    services
        .connections
        .put_shopify(
            &merchant(),
            &shop,
            &rc_orders::ShopifyCredentials {
                webhook_secret: secret("bench-secret"),
                previous_webhook_secret: None,
                access_token: Some(secret(shopify_admin::ACCESS_TOKEN)),
            },
        )
        .await
        .expect("shop");
    services
        .connections
        .put_amazon(
            &merchant(),
            &id("A2BENCHSELLER"),
            &[id("ATVPDKIKX0DER")],
            &rc_channels::amazon::Credentials {
                client_id: sp_api::CLIENT_ID.into(),
                client_secret: secret(sp_api::CLIENT_SECRET),
                refresh_token: secret(sp_api::REFRESH_TOKEN),
                region: rc_channels::amazon::Region::NorthAmerica,
            },
        )
        .await
        .expect("seller");
    let (shopify, amazon) = (shopify_admin::start().await, sp_api::start().await);
    let mut skus = Vec::new();
    for n in 0..count {
        let sku = Sku::parse(&format!("CHG-{n:05}")).expect("sku");
        receive(&services, &sku, 7).await;
        for target in [
            ListingTarget::Shopify {
                shop: shop.clone(),
                location_id: 1,
                inventory_item_id: u64::from(n) + 1,
            },
            ListingTarget::Amazon {
                seller_id: id("A2BENCHSELLER"),
                marketplace_id: id("ATVPDKIKX0DER"),
                seller_sku: sku.as_str().into(),
                product_type: "PRODUCT".into(),
            },
        ] {
            services
                .listings
                .put(&merchant(), &sku, &target, ChannelAllocation::default())
                .await
                .expect("listing");
        }
        shopify.state().stocked.push((u64::from(n) + 1, 1));
        skus.push(sku);
    }
    let sync = rc_jobs::InventorySync::new(
        services.stock.clone(),
        services.listings.clone(),
        services.connections.clone(),
        Arc::new(ShopifyAdmin::new(Some(shopify.base()))),
        Arc::new(SpApiClient::new(Endpoints::all_at(
            amazon.base(),
            amazon.base(),
        ))),
    );
    let started = Instant::now();
    let report = sync.sync(&merchant(), &skus).await.expect("sync");
    let elapsed = started.elapsed();
    let settle = sync.sync(&merchant(), &skus).await.expect("settle");
    println!(
        "{count} changed SKUs: Shopify {} calls (inventorySetQuantities, 250 per call); Amazon {} calls to submit (createFeedDocument, upload, createFeed) + {} to read the report; {:.2} s",
        report.shopify_calls,
        report.amazon_calls,
        settle.amazon_calls,
        elapsed.as_secs_f64()
    );
    assert!(shopify.state().violations.is_empty() && amazon.state().violations.is_empty());
}

/// Order arrival (signed webhook) to the sandbox channels showing the new quantity.
async fn order_to_push(orders: u64) {
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
        order_processing_interval: Some(Duration::from_millis(200)),
        body_timeout: Duration::from_secs(30),
        courier_stage: None,
        tracking_poll_interval: None,
    };
    let host = rc_local_host::LocalHost::start(&config)
        .await
        .expect("host");
    let base = format!("http://{}", host.addr);
    // The sandbox catalog's first SKU is listed on Shopify as inventory item 1 at location 1.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut timings = Vec::new();
    for n in 0..orders {
        let before = host.inventory_sandbox.shopify_available(1, 1);
        let body = rc_local_host::sandbox::shopify_order(9_000_000 + n, 0);
        let started = Instant::now();
        let (status, _) = rc_local_host::send_signed(
            &format!("{base}/webhooks/shopify"),
            &config.demo_shop,
            &config.demo_webhook_secret,
            "orders/create",
            &format!("bench-{n}"),
            body,
        )
        .await
        .expect("sent");
        assert_eq!(status, 200);
        loop {
            let now = host.inventory_sandbox.shopify_available(1, 1);
            if now.is_some() && now != before {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no push");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        timings.push(started.elapsed());
    }
    timings.sort();
    println!(
        "local run, order arrival to new quantity on the sandbox Shopify: p50 {:.0} ms, max {:.0} ms over {orders} orders (the local order processor polls every 200 ms)",
        timings[timings.len() / 2].as_secs_f64() * 1000.0,
        timings[timings.len() - 1].as_secs_f64() * 1000.0
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let embedded =
            Arc::new(Services::embedded(dir.path(), Arc::new(SystemClock)).expect("services"));
        reservations(embedded, "embedded", if full() { 2000 } else { 40 }, 16).await;
        match moto_services().await {
            Some(moto) => reservations(moto, "moto", if full() { 200 } else { 10 }, 16).await,
            None => println!("reservations, moto: not measured (AWS_ENDPOINT_URL is not set)"),
        }
        calls_per_changes(if full() { 10_000 } else { 300 }).await;
        order_to_push(if full() { 20 } else { 2 }).await;
    });
}

/// A typed identifier from a constant of the benchmark.
fn id<T: TryFrom<String>>(raw: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(raw.to_owned()).expect("a valid identifier")
}
