//! The orders export on the embedded store: rows per second, store requests per 1,000 rows, and
//! the worker's peak memory for a small and a large export — each export run in a process of
//! its own (this binary, `export` mode), so its peak resident set (`VmHWM`) is the export's
//! alone. The floor beside it: paging through the same orders without writing a row.
//!
//!   cargo bench -p rc-e2e --bench exports
//!
//! Orders are stored through the real ingestion (the documented Shopify order, parsed, sealed,
//! upserted), two lines each, so a row count is twice the orders'.

#[path = "support/counting.rs"]
mod counting;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use counting::Counting;
use rc_domain::{ManualClock, MerchantId};
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};

const MERCHANT: &str = "bench-merchant";

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(
        time::macros::datetime!(2026-11-30 12:00 UTC),
    ))
}

fn merchant() -> MerchantId {
    MerchantId::parse(MERCHANT).expect("merchant")
}

/// Stores `orders` orders for the merchant in `dir` (the embedded defaults' files).
async fn seed(dir: &Path, orders: u64) {
    let services = rc_runtime::Services::embedded(dir, clock()).expect("services");
    let template: serde_json::Value =
        serde_json::from_str(rc_local_host::DEMO_ORDER).expect("fixture");
    for n in 0..orders {
        let mut order = template.clone();
        order["id"] = serde_json::json!(10_000_000 + n);
        let body = serde_json::to_vec(&order).expect("json");
        let parsed = rc_channels::shopify::parse_order(&merchant(), &body).expect("order");
        services
            .orders
            .upsert(&parsed.order, None)
            .await
            .expect("store");
    }
}

/// The process's peak resident set so far, in KiB (Linux `VmHWM`).
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// In a process of its own: opens the data in `dir` behind a counting store, exports every
/// order (or, for the floor, only pages through them), and prints one JSON line.
async fn export(dir: &Path, floor: bool) {
    let clock = clock();
    let db = EmbeddedDb::open(&dir.join("retailcoder.db")).expect("db");
    let counting = Arc::new(Counting {
        inner: SqliteStore::new(db, "data", clock.clone()),
        counts: Default::default(),
    });
    let data: Arc<dyn Store> = counting.clone();
    let keys: Arc<dyn Store> = Arc::new(SqliteStore::new(
        EmbeddedDb::open(&dir.join("keys.db")).expect("keys"),
        "keys",
        clock.clone(),
    ));
    let root = Arc::new(rc_vault::FileRoot::open_or_create(&dir.join("root.key")).expect("root"));
    let files = Arc::new(
        rc_exports::LocalExportFiles::open(
            &dir.join("exports"),
            "http://127.0.0.1:9",
            clock.clone(),
        )
        .expect("files"),
    );
    let services = rc_runtime::Services::assemble(
        data,
        keys,
        root,
        clock.clone(),
        Arc::new(rc_queue::MemoryPublisher::default()),
    )
    .with_export_files(files);
    let before = peak_kib();
    counting.counts.lock().expect("lock").clear();
    let started = Instant::now();
    let rows = if floor {
        let mut after = None;
        let mut orders = 0u64;
        loop {
            let (page, next) = services
                .orders
                .list(&merchant(), None, rc_exports::PAGE, after.as_ref())
                .await
                .expect("list");
            orders += page.len() as u64;
            match next {
                Some(next) => after = Some(next),
                None => break orders * 2,
            }
        }
    } else {
        let request = rc_exports::ExportRequest::parse(
            br#"{"kind": "orders"}"#,
            time::macros::date!(2026 - 11 - 30),
        )
        .expect("request");
        let rc_exports::Created::New(record) = services
            .exports
            .create(&merchant(), &request, None, "bench")
            .await
            .expect("create")
        else {
            panic!("new export");
        };
        let outcome = services
            .export_worker()
            .expect("worker")
            .run(&merchant(), &record.id, Duration::from_secs(3600))
            .await
            .expect("run");
        match outcome {
            rc_exports::RunOutcome::Done(rc_exports::ExportState::Ready { rows, .. }) => rows,
            other => panic!("not ready: {other:?}"),
        }
    };
    let elapsed = started.elapsed();
    let counts = counting.counts.lock().expect("lock").clone();
    let requests: u64 = counts.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "rows": rows,
            "seconds": elapsed.as_secs_f64(),
            "requests": requests,
            "counts": counts,
            "peak_before_kib": before,
            "peak_kib": peak_kib(),
        })
    );
}

fn child(dir: &Path, floor: bool) -> serde_json::Value {
    let exe = std::env::current_exe().expect("exe");
    let mut command = std::process::Command::new(exe);
    command.arg("export").arg(dir);
    if floor {
        command.arg("floor");
    }
    let output = command.output().expect("child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("report")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("export") {
        let dir = Path::new(&args[2]).to_owned();
        let floor = args.get(3).map(String::as_str) == Some("floor");
        runtime.block_on(export(&dir, floor));
        return;
    }
    // `RC_BENCH_ORDERS=50000` runs one size only.
    let sizes: Vec<u64> = match std::env::var("RC_BENCH_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => vec![n],
        None if benchmarking() => vec![5_000, 50_000, 500_000],
        None => vec![50],
    };
    println!(
        "| orders | rows | mode | seconds | rows/s | requests / 1,000 rows | peak RSS (MiB) | over the baseline (MiB) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for &orders in &sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let seeded = Instant::now();
        runtime.block_on(seed(dir.path(), orders));
        eprintln!(
            "seeded {orders} orders in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );
        for floor in [true, false] {
            let report = child(dir.path(), floor);
            let rows = report["rows"].as_u64().unwrap_or(0);
            let seconds = report["seconds"].as_f64().unwrap_or(0.0);
            let requests = report["requests"].as_u64().unwrap_or(0);
            let peak = report["peak_kib"].as_u64().unwrap_or(0) as f64 / 1024.0;
            let before = report["peak_before_kib"].as_u64().unwrap_or(0) as f64 / 1024.0;
            println!(
                "| {orders} | {rows} | {} | {seconds:.2} | {:.0} | {:.1} | {peak:.1} | {:.1} |",
                if floor {
                    "floor: paging only"
                } else {
                    "export (CSV)"
                },
                rows as f64 / seconds.max(1e-9),
                requests as f64 * 1000.0 / rows.max(1) as f64,
                peak - before,
            );
            if !floor {
                eprintln!("requests by kind: {}", report["counts"]);
            }
        }
    }
}
