//! The label path's cost and speed, on the embedded store against a local courier (the EasyPost
//! stand-in the tests use, on this machine):
//! 1. courier requests, store requests (per kind; each is one DynamoDB request) and root key
//!    (KMS) calls per label;
//! 2. label generation latency, p50 and p99, beside the floor: the same three courier round
//!    trips (create, buy, download) made bare, without any of our work;
//! 3. the peak rise of resident memory while buying, sealing and storing a 2 MB label, beside the
//!    floor: the label itself.
//!
//!   cargo bench -p rc-e2e --bench labels

#[path = "support/counting.rs"]
mod counting;
#[path = "../tests/e2e/support/easypost.rs"]
mod easypost;

#[path = "support/measure.rs"]
mod measure;

use measure::percentile;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use counting::Counting;
use rc_domain::{
    CourierAccountRef, MerchantId, Secret, SecretText, ShipmentId, Sku, SystemClock, WarehouseId,
};
use rc_runtime::Services;
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How far the resident set rose above its level at the start, at the highest point of `work`
/// (Linux: the peak is reset through `/proc/self/clear_refs`, then read as `VmHWM`).
async fn peak_during<F: std::future::Future<Output = T>, T>(work: F) -> (T, usize) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = status_kib("VmRSS:");
    let out = work.await;
    (out, status_kib("VmHWM:").saturating_sub(base) * 1024)
}

fn labels_to_buy() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        300
    } else {
        5
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
    let n = labels_to_buy();
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
    let root =
        Arc::new(rc_vault::FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let jobs = Arc::new(rc_queue::MemoryLabelJobs::default());
    let services = Services::assemble(
        data.clone() as Arc<dyn Store>,
        keys.clone() as Arc<dyn Store>,
        root,
        clock,
        Arc::new(rc_queue::MemoryPublisher::default()),
    )
    .with_label_jobs(jobs.clone())
    .with_label_store(Arc::new(rc_fulfillment::FileLabelStore::new(
        dir.path().join("labels"),
    )));
    let courier = easypost::start().await;
    let channels = rc_runtime::ChannelClients::from_env()
        .expect("channels")
        .with_couriers(courier.base(), None);
    let merchant = MerchantId::parse("bench-merchant").expect("merchant");
    let shipments = prepare(&services, &merchant, n).await;
    let generator = services.label_generator(&channels).expect("label store");

    // 1 and 2: n labels, one at a time.
    data.counts.lock().expect("lock").clear();
    keys.counts.lock().expect("lock").clear();
    let root_before = services.vault.root_calls();
    let calls_before = courier_calls(&courier);
    let mut latencies = Vec::with_capacity(n);
    for shipment in &shipments {
        let started = Instant::now();
        let outcome = generator
            .generate(&merchant, shipment)
            .await
            .expect("label");
        latencies.push(started.elapsed());
        assert_eq!(outcome, rc_fulfillment::LabelOutcome::Created);
    }
    latencies.sort();
    let per = |x: u64| x as f64 / n as f64;
    println!(
        "labels bought: {n} (one purchase each: {})",
        courier.state().purchases
    );
    println!(
        "courier requests per label: {:.2} (create, buy, download)",
        per(courier_calls(&courier) - calls_before)
    );
    for (table, store) in [("data", &data), ("keys", &keys)] {
        for (kind, count) in store.counts.lock().expect("lock").iter() {
            println!("{table} table {kind} per label: {:.2}", per(*count));
        }
    }
    println!(
        "root key (KMS) calls per label: {:.2}",
        per(services.vault.root_calls() - root_before)
    );
    println!(
        "label latency: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    let floor = bare_round_trips(&courier, n).await;
    println!(
        "floor (three bare courier round trips, no work of ours): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&floor, 0.5).as_secs_f64() * 1e3,
        percentile(&floor, 0.99).as_secs_f64() * 1e3
    );

    // Our part alone: seal a 2 MB document under the order's key and store it.
    let document = vec![b'x'; 2 * 1024 * 1024];
    let key = services
        .vault
        .key_for_opening(
            &merchant,
            &rc_vault::KeySubject::order(shipments[0].order()),
        )
        .await
        .expect("order key");
    let store = rc_fulfillment::FileLabelStore::new(dir.path().join("labels"));
    let (stored, peak) = peak_during(async {
        let sealed = key
            .seal_bytes(rc_domain::SealedField::ShippingLabel, &document)
            .expect("sealed");
        rc_fulfillment::LabelStore::put(&store, "labels/bench/seal/1.pdf", sealed.into_bytes())
            .await
    })
    .await;
    stored.expect("stored");
    println!(
        "peak resident memory rise sealing and storing a 2 MB label (our part alone): {:.2} MiB (the label itself: 2.00 MiB)",
        peak as f64 / (1024.0 * 1024.0)
    );

    // 3: a 2 MB label.
    let big = prepare(&services, &merchant, 1).await;
    courier.state().label_size = 2 * 1024 * 1024;
    let (outcome, peak) = peak_during(generator.generate(&merchant, &big[0])).await;
    assert_eq!(
        outcome.expect("label"),
        rc_fulfillment::LabelOutcome::Created
    );
    println!(
        "peak resident memory rise while buying, sealing and storing a 2 MB label (with the in-process courier's own copies): {:.2} MiB (the label itself: 2.00 MiB)",
        peak as f64 / (1024.0 * 1024.0)
    );
}

fn courier_calls(courier: &easypost::StandIn) -> u64 {
    let state = courier.state();
    (state.creates + state.buy_calls + state.lookups + state.label_downloads) as u64
}

/// The reference: the courier's three round trips of a label, bare (reqwest, no store, no vault).
async fn bare_round_trips(courier: &easypost::StandIn, n: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let key = format!("{}:", easypost::API_KEY);
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key)
    );
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let created: serde_json::Value = client
            .post(format!("{}/shipments", courier.base()))
            .header("authorization", &auth)
            .json(&serde_json::json!({"shipment": {
                "reference": format!("floor-{i}"),
                "to_address": {"street1": "1 A St", "city": "Town", "zip": "40202", "country": "US"},
                "from_address": {"street1": "2 B St", "city": "Town", "zip": "40202", "country": "US"},
                "parcel": {"length": 7.9, "width": 5.9, "height": 3.9, "weight": 14.2},
                "options": {"label_format": "PDF"}}}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id");
        let rate = created["rates"][0]["id"].as_str().expect("rate");
        let bought: serde_json::Value = client
            .post(format!("{}/shipments/{id}/buy", courier.base()))
            .header("authorization", &auth)
            .json(&serde_json::json!({"rate": {"id": rate}}))
            .send()
            .await
            .expect("buy")
            .json()
            .await
            .expect("json");
        let url = bought["postage_label"]["label_url"].as_str().expect("url");
        client
            .get(url)
            .send()
            .await
            .expect("label")
            .bytes()
            .await
            .expect("bytes");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// `n` routed orders with one shipment each, planned and waiting for their labels.
async fn prepare(services: &Services, merchant: &MerchantId, n: usize) -> Vec<ShipmentId> {
    use rc_domain::{
        Channel, Currency, LineItem, Money, Order, OrderStatus, OrderTotals, Quantity, ShipToRegion,
    };
    static ROUND: AtomicUsize = AtomicUsize::new(0);
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    let courier = CourierAccountRef::parse("easypost", "main").expect("courier");
    let warehouse = WarehouseId::parse("main").expect("warehouse");
    let sku = Sku::parse("BENCH-MUG").expect("sku");
    if round == 0 {
        services
            .warehouses
            .put(
                merchant,
                &warehouse,
                &rc_domain::Warehouse {
                    name: "Main".into(),
                    address: rc_domain::ShipFromAddress::parse(
                        "Bench Goods",
                        "1 Dock Rd",
                        None,
                        "Louisville",
                        "40202",
                        None,
                    )
                    .expect("address"),
                    country: rc_domain::CountryCode::parse("US").expect("country"),
                    region: Some(rc_domain::RegionCode::parse("KY").expect("region")),
                    priority: 10,
                    active: true,
                    couriers: vec![courier.clone()],
                    cutoff: None,
                    service: rc_domain::ServiceChoice::Cheapest,
                },
            )
            .await
            .expect("warehouse");
        services
            .courier_accounts
            .put(
                merchant,
                &courier,
                &rc_fulfillment::CourierSecrets::ApiKey(Secret::new(
                    SecretText::parse(easypost::API_KEY).expect("key"),
                )),
                None,
            )
            .await
            .expect("account");
        services
            .stock
            .set_parcel(
                merchant,
                &sku,
                &rc_domain::Parcel::parse(350, 120, 90, 100).expect("parcel"),
            )
            .await
            .expect("parcel");
    }
    services
        .stock
        .adjust(
            merchant,
            &sku,
            &warehouse,
            rc_inventory::Adjustment::Receive { quantity: n as i64 },
            "bench",
            "bench",
        )
        .await
        .expect("stock");
    let usd = Currency::parse("USD").expect("usd");
    let money = |m| Money::from_minor(m, usd).expect("money");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = rc_domain::OrderId::parse(&format!("bench-{round}-{i}")).expect("order");
        let placed = time::OffsetDateTime::now_utc();
        let address = rc_domain::PostalAddress::parse(
            Some("Ada Bench"),
            None,
            "12 Long Street",
            None,
            "Louisville",
            Some("KY"),
            Some("40202"),
            "US",
        )
        .expect("address");
        let order = Order {
            channel_tax: Default::default(),
            merchant: merchant.clone(),
            id: id.clone(),
            channel: Channel::Shopify,
            channel_reference: format!("#{i}"),
            marketplace: None,
            status: OrderStatus::Received,
            placed_at: placed,
            channel_updated_at: placed,
            currency: usd,
            lines: vec![LineItem {
                charges: Default::default(),
                sku: sku.clone(),
                quantity: Quantity::new(1).expect("quantity"),
                unit_price: money(1250),
                line_id: None,
            }],
            totals: OrderTotals {
                subtotal: money(1250),
                tax: money(0),
                shipping: money(0),
                total: money(1250),
            },
            ship_to: Some(ShipToRegion::of(&address)),
            buyer: rc_domain::BuyerPii {
                shipping_address: Some(rc_domain::Pii::new(address)),
                ..rc_domain::BuyerPii::default()
            },
        };
        services.orders.upsert(&order, None).await.expect("order");
        let view = services
            .orders
            .view(merchant, &id)
            .await
            .expect("view")
            .expect("stored");
        let to = rc_inventory::RouteRequest {
            destination: services
                .orders
                .destination(merchant, &id, &view)
                .await
                .expect("destination"),
            channel: Channel::Shopify,
        };
        let reservation = services
            .reservations
            .reserve(merchant, &id, &view.lines, &to)
            .await
            .expect("reserved");
        let decision = reservation.routing.expect("routed");
        let planned = services
            .planner
            .plan(merchant, &id, &decision)
            .await
            .expect("planned");
        ids.push(planned[0].id.clone());
    }
    ids
}
