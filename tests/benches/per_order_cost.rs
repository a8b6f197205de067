//! Per-order cost of Shopify ingestion: root key (KMS) calls and storage requests per order, and
//! the handler's throughput on the embedded store, for 1,000 orders of one merchant.
//!
//!   cargo bench -p rc-e2e --bench per_order_cost
//!
//! Storage requests are counted at the store ports, which map one-to-one to DynamoDB requests
//! (GetItem, PutItem, TransactWriteItems, ...), so the counts hold for the DynamoDB adapter too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rc_channels::shopify::ShopDomain;
use rc_domain::{MerchantId, Secret, SecretText, SystemClock};
use rc_runtime::Services;
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::FileRoot;

#[path = "support/counting.rs"]
mod counting;
use counting::Counting;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this file without it, as a
/// quick smoke test of the same code path.
fn orders_to_run() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1000
    } else {
        20
    }
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
    let orders = orders_to_run();
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let db = EmbeddedDb::open(&dir.path().join("bench.db")).expect("db");
    let data = Arc::new(Counting {
        inner: SqliteStore::new(db.clone(), "data", clock.clone()),
        counts: Mutex::default(),
    });
    let keys = Arc::new(Counting {
        inner: SqliteStore::new(db, "keys", clock.clone()),
        counts: Mutex::default(),
    });
    let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let services = Services::assemble(
        data.clone() as Arc<dyn Store>,
        keys.clone() as Arc<dyn Store>,
        root,
        clock,
        Arc::new(rc_queue::MemoryPublisher::default()),
    );
    let merchant = MerchantId::parse("bench-merchant").expect("id");
    let shop = ShopDomain::parse("bench-shop.myshopify.com").expect("shop");
    let secret = "bench-secret";
    services
        .connections
        .put_shopify(
            &merchant,
            &shop,
            &rc_orders::ShopifyCredentials::webhook_only(Secret::new(
                SecretText::parse(secret).expect("s"),
            )),
        )
        .await
        .expect("connection");
    let webhook = services.shopify_webhook();
    let requests: Vec<_> = (0..orders)
        .map(|i| {
            let body = rc_local_host::DEMO_ORDER
                .replace("820982911946154508", &(1_000_000 + i).to_string());
            rc_local_host::signed_shopify_request(
                "http://bench/webhooks/shopify",
                shop.as_str(),
                secret,
                "orders/create",
                &format!("bench-{i}"),
                body.into_bytes(),
            )
            .expect("request")
        })
        .collect();
    data.counts.lock().expect("lock").clear();
    keys.counts.lock().expect("lock").clear();
    let root_calls_before = services.vault.root_calls();

    let stored = AtomicU64::new(0);
    let started = Instant::now();
    for request in requests {
        let response = webhook.handle(request).await;
        if response.status() == 200 {
            stored.fetch_add(1, Ordering::Relaxed);
        }
    }
    let elapsed = started.elapsed();

    let stored = stored.load(Ordering::Relaxed);
    println!("orders stored: {stored} of {orders}");
    assert_eq!(stored, orders, "every order must be stored");
    println!(
        "root key (KMS) calls for {orders} orders of one merchant: {} (plus {} at set-up, creating the merchant key)",
        services.vault.root_calls() - root_calls_before,
        root_calls_before
    );
    for (table, store) in [("data", &data), ("keys", &keys)] {
        for (kind, n) in store.counts.lock().expect("lock").iter() {
            println!(
                "{table} table {kind}: {n} ({:.3} per order)",
                *n as f64 / orders as f64
            );
        }
    }
    println!(
        "sequential handler throughput (embedded store, one connection): {:.0} orders/s, {:.0} µs per order",
        orders as f64 / elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / orders as f64
    );
}
