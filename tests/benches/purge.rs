//! The purger: throughput, requests per purged order, and whether its cost follows the due
//! orders rather than the table size — 1,000 due orders in a store of 1,000 orders vs. 100,000
//! (goal: ratio ≤ 1.3). On the embedded store (its deadline index is a real index, and a scan
//! would be refused); requests are counted at the store ports, one-to-one with DynamoDB requests.
//!
//!   cargo bench -p rc-e2e --bench purge

#[path = "support/counting.rs"]
mod counting;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use counting::Counting;
use rc_domain::{ManualClock, MerchantId, OrderId};
use rc_privacy::PurgeLimits;
use rc_runtime::Services;
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::FileRoot;

/// (orders in the store, of which due) per scenario.
fn scenarios() -> Vec<(u64, u64)> {
    if std::env::args().any(|a| a == "--bench") {
        vec![(1_000, 1_000), (100_000, 1_000)]
    } else {
        // `cargo test --all-targets` runs this as a quick smoke test of the same path.
        vec![(40, 20), (200, 20)]
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut timings = Vec::new();
    for (total, due) in scenarios() {
        timings.push(runtime.block_on(scenario(total, due)));
    }
    if let [small, large] = timings.as_slice() {
        println!(
            "ratio of purge times, {} vs {} orders in store: {:.2}",
            scenarios()[1].0,
            scenarios()[0].0,
            large.as_secs_f64() / small.as_secs_f64()
        );
    }
}

async fn scenario(total: u64, due: u64) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at(
        time::macros::datetime!(2026-11-25 00:00 UTC),
    ));
    let data = Arc::new(Counting {
        inner: SqliteStore::new(
            EmbeddedDb::open(&dir.path().join("retailcoder.db")).expect("db"),
            "data",
            clock.clone(),
        ),
        counts: Mutex::default(),
    });
    let keys = Arc::new(Counting {
        inner: SqliteStore::new(
            EmbeddedDb::open(&dir.path().join("keys.db")).expect("db"),
            "keys",
            clock.clone(),
        ),
        counts: Mutex::default(),
    });
    let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let services = Services::assemble(
        data.clone() as Arc<dyn Store>,
        keys.clone() as Arc<dyn Store>,
        root,
        clock.clone(),
        Arc::new(rc_queue::MemoryPublisher::default()),
    );
    let merchant = MerchantId::parse("bench-merchant").expect("id");
    let loading = Instant::now();
    for i in 0..total {
        let body =
            rc_local_host::DEMO_ORDER.replace("820982911946154508", &(5_000_000 + i).to_string());
        let parsed = rc_channels::shopify::parse_order(&merchant, body.as_bytes()).expect("order");
        services
            .orders
            .upsert(&parsed.order, None)
            .await
            .expect("store");
        if i < due {
            let id = OrderId::parse(&format!("shopify-{}", 5_000_000 + i)).expect("id");
            services
                .orders
                .mark_shipped(&merchant, &id)
                .await
                .expect("ship");
        }
    }
    println!(
        "loaded {total} orders ({due} shipped) in {:.1} s",
        loading.elapsed().as_secs_f64()
    );
    clock.advance(time::Duration::days(31));
    data.counts.lock().expect("lock").clear();
    keys.counts.lock().expect("lock").clear();

    let started = Instant::now();
    let report = services
        .privacy_run()
        .run(PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("purge");
    let elapsed = started.elapsed();
    assert_eq!(
        report.purge.purged, due,
        "every due order purged: {report:?}"
    );
    println!(
        "purged {due} due orders of {total} in {:.3} s: {:.0} orders/s, {:.0} µs per order",
        elapsed.as_secs_f64(),
        due as f64 / elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / due as f64
    );
    for (table, store) in [("data", &data), ("keys", &keys)] {
        for (kind, n) in store.counts.lock().expect("lock").iter() {
            println!(
                "  {table} table {kind}: {n} ({:.3} per purged order)",
                *n as f64 / due as f64
            );
        }
    }
    elapsed
}
