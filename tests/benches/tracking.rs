//! Tracking and confirmations:
//! 1. the courier tracking webhook: latency p50 / p99 and the handler thread's CPU per
//!    notification (signed EasyPost events through `rc_api::CourierWebhook`), on the embedded
//!    store and on the in-memory store (no I/O), beside the floor — verifying the signature and
//!    parsing the event, the work no receiver can avoid — and the store requests per event;
//! 2. confirmations per second at the marketplaces' limits: Amazon `confirmShipment` (2 per
//!    second, burst 10, enforced by the client) and Shopify (a calculated-cost bucket of 1,000
//!    points restoring 100 per second, enforced by the stand-in, which answers THROTTLED as
//!    Shopify does);
//! 3. the local host end to end: a sandbox order's webhook → its label → the courier's pickup
//!    → the marketplace told.
//!
//!   cargo bench -p rc-e2e --bench tracking

#[path = "support/counting.rs"]
mod counting;
#[path = "../tests/e2e/support/shopify_admin.rs"]
mod shopify_admin;
#[path = "../tests/e2e/support/sp_api.rs"]
mod sp_api;
#[path = "../tests/e2e/support/sp_notifications.rs"]
mod sp_notifications;

#[path = "support/measure.rs"]
mod measure;

use measure::{percentile, thread_cpu};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use counting::Counting;
use rc_domain::{
    Channel, CourierAccountRef, Currency, LineItem, MerchantId, Money, Order, OrderStatus,
    OrderTotals, Quantity, Secret, SecretText, ShipmentId, ShipmentStatus, Sku, SystemClock,
    WarehouseId,
};
use rc_fulfillment::{NewShipment, OutsideTracking, PurchaseRecord};
use rc_runtime::Services;
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};

const WEBHOOK_SECRET: &str = "bench-webhook-secret";

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn secret(raw: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(raw).expect("secret"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        webhook(dir.path()).await;
        confirmations(dir.path()).await;
    });
    // The local host runs its loops on a multi-threaded runtime, as `rc-local` does.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(local_end_to_end());
}

/// Labelled shipments `<prefix>-<i>.1` with tracking numbers, as the label generator leaves
/// them.
async fn labelled(
    services: &Services,
    merchant: &MerchantId,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let courier = CourierAccountRef::parse("easypost", "main").expect("courier");
    let mut codes = Vec::with_capacity(n);
    for i in 0..n {
        let order = rc_domain::OrderId::parse(&format!("{prefix}-{i}")).expect("order");
        let id = ShipmentId::new(&order, 1).expect("id");
        let planned = services
            .shipments
            .plan(
                merchant,
                &order,
                vec![NewShipment {
                    id: id.clone(),
                    warehouse: WarehouseId::parse("main").expect("warehouse"),
                    units: [(Sku::parse("BENCH").expect("sku"), 1)]
                        .into_iter()
                        .collect(),
                    parcel: None,
                    external: None,
                }],
            )
            .await
            .expect("planned");
        let mut shipment = planned.into_iter().next().expect("shipment");
        let code = format!("9400{prefix}{i:010}").replace('-', "");
        let now = services.shipments.now();
        shipment.purchase = Some(PurchaseRecord {
            courier: courier.clone(),
            courier_shipment: format!("shp_{i}"),
            tracking_code: code.clone(),
            carrier: "USPS".into(),
            service: "First".into(),
            cost: None,
            bought_at: now,
        });
        shipment.journey = Some(rc_domain::Journey::new(
            time::OffsetDateTime::from_unix_timestamp(now).expect("time"),
        ));
        let was = shipment.status;
        shipment.status = ShipmentStatus::LabelCreated;
        services
            .shipments
            .save(merchant, &mut shipment, was)
            .await
            .expect("saved");
        services
            .shipments
            .index_tracking(merchant, &code, &id)
            .await
            .expect("indexed");
        codes.push(code);
    }
    codes
}

/// A signed EasyPost `tracker.updated` event.
fn event(id: &str, code: &str, details: &[(&str, &str)]) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&serde_json::json!({
        "id": id, "object": "Event", "description": "tracker.updated", "mode": "production",
        "status": "pending", "created_at": "2026-11-30T00:00:00Z", "updated_at": "2026-11-30T00:00:00Z",
        "result": {
            "id": format!("trk_{code}"), "object": "Tracker", "tracking_code": code,
            "status": details.last().map_or("pre_transit", |d| d.0), "carrier": "USPS",
            "updated_at": details.last().map_or("2026-11-30T00:00:00Z", |d| d.1),
            "tracking_details": details.iter().map(|(status, at)| serde_json::json!({
                "object": "TrackingDetail", "status": status, "datetime": at,
                "message": "Departed the facility", "source": "USPS",
                "tracking_location": {"city": "LOUISVILLE", "state": "KY", "country": "US", "zip": "40202"}
            })).collect::<Vec<_>>()
        }
    }))
    .expect("body");
    let signature = rc_couriers::sign_easypost(WEBHOOK_SECRET, &body);
    (body, signature)
}

async fn webhook_run(
    label: &str,
    services: Services,
    n: usize,
    counts: Option<[&Counting; 2]>,
) -> Duration {
    let merchant = MerchantId::parse("bench-merchant").expect("merchant");
    services
        .courier_accounts
        .put(
            &merchant,
            &CourierAccountRef::parse("easypost", "main").expect("courier"),
            &rc_fulfillment::CourierSecrets::ApiKey(secret("bench-api-key")),
            Some(&secret(WEBHOOK_SECRET)),
        )
        .await
        .expect("account");
    let hook = services
        .courier_accounts
        .list(&merchant)
        .await
        .expect("list")[0]
        .tracking_webhook
        .clone()
        .expect("hook");
    let codes = labelled(&services, &merchant, "bench", n / 2).await;
    let mut events = Vec::with_capacity(n);
    for (i, code) in codes.iter().enumerate() {
        events.push(event(
            &format!("evt_a{i}"),
            code,
            &[
                ("pre_transit", "2026-11-30T01:00:00Z"),
                ("in_transit", "2026-11-30T03:00:00Z"),
            ],
        ));
        events.push(event(
            &format!("evt_b{i}"),
            code,
            &[
                ("pre_transit", "2026-11-30T01:00:00Z"),
                ("in_transit", "2026-11-30T03:00:00Z"),
                ("out_for_delivery", "2026-11-30T09:00:00Z"),
                ("delivered", "2026-11-30T12:00:00Z"),
            ],
        ));
    }
    let handler = services.courier_webhook();
    if let Some(counts) = counts {
        for store in counts {
            store.counts.lock().expect("lock").clear();
        }
    }
    let mut latencies = Vec::with_capacity(events.len());
    let cpu_before = thread_cpu();
    for (body, signature) in &events {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://localhost{hook}"))
            .header("content-type", "application/json")
            .header("x-hmac-signature", signature)
            .body(Bytes::from(body.clone()))
            .expect("request");
        let started = Instant::now();
        let response = handler.handle(request).await;
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let cpu = (thread_cpu() - cpu_before) / events.len() as u32;
    latencies.sort();
    println!(
        "tracking webhook, {label}: {} events, p50 {:.3} ms, p99 {:.3} ms, handler CPU {:.1} µs/event",
        events.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        cpu.as_secs_f64() * 1e6
    );
    if let Some([data, keys]) = counts {
        for (table, store) in [("data", data), ("keys", keys)] {
            for (kind, count) in store.counts.lock().expect("lock").iter() {
                println!(
                    "  {table} table {kind} per event: {:.2}",
                    *count as f64 / events.len() as f64
                );
            }
        }
    }
    cpu
}

async fn webhook(dir: &std::path::Path) {
    let n = if benchmarking() { 2000 } else { 10 };
    // The floor: the signature and the event's parse, nothing stored.
    let floor_events: Vec<(Vec<u8>, String)> = (0..n)
        .map(|i| {
            event(
                &format!("evt_f{i}"),
                &format!("9400FLOOR{i:010}"),
                &[
                    ("pre_transit", "2026-11-30T01:00:00Z"),
                    ("in_transit", "2026-11-30T03:00:00Z"),
                ],
            )
        })
        .collect();
    let before = thread_cpu();
    for (body, signature) in &floor_events {
        assert!(rc_couriers::verify_easypost(
            WEBHOOK_SECRET,
            body,
            Some(signature)
        ));
        let update = rc_couriers::easypost_event(body).expect("parses");
        std::hint::black_box(update);
    }
    let floor = (thread_cpu() - before) / n as u32;
    println!(
        "tracking webhook floor (verify the signature, parse the event): {:.1} µs/event",
        floor.as_secs_f64() * 1e6
    );

    let clock = Arc::new(SystemClock);
    let db = EmbeddedDb::open(&dir.join("webhook.db")).expect("db");
    let data = Arc::new(Counting {
        inner: SqliteStore::new(db.clone(), "data", clock.clone()),
        counts: Mutex::default(),
    });
    let keys = Arc::new(Counting {
        inner: SqliteStore::new(db, "keys", clock.clone()),
        counts: Mutex::default(),
    });
    let root = Arc::new(rc_vault::FileRoot::open_or_create(&dir.join("root.key")).expect("root"));
    let services = Services::assemble(
        data.clone() as Arc<dyn Store>,
        keys.clone() as Arc<dyn Store>,
        root.clone(),
        clock.clone(),
        Arc::new(rc_queue::MemoryPublisher::default()),
    );
    let embedded = webhook_run("embedded store", services, n, Some([&data, &keys])).await;
    let memory = Services::assemble(
        Arc::new(rc_store::memory::MemoryStore::new(clock.clone())),
        Arc::new(rc_store::memory::MemoryStore::new(clock.clone())),
        root,
        clock,
        Arc::new(rc_queue::MemoryPublisher::default()),
    );
    let in_memory = webhook_run("in-memory store (no I/O)", memory, n, None).await;
    println!(
        "handler CPU / floor: excluding I/O {:.2}, with the embedded store {:.2}",
        in_memory.as_secs_f64() / floor.as_secs_f64(),
        embedded.as_secs_f64() / floor.as_secs_f64()
    );
}

fn order(merchant: &MerchantId, channel: Channel, id: &str, reference: &str, line: &str) -> Order {
    let usd = Currency::parse("USD").expect("usd");
    let money = |m| Money::from_minor(m, usd).expect("money");
    let placed = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    Order {
        channel_tax: Default::default(),
        merchant: merchant.clone(),
        id: rc_domain::OrderId::parse(id).expect("id"),
        channel,
        channel_reference: reference.into(),
        marketplace: (channel == Channel::Amazon).then(|| "ATVPDKIKX0DER".to_owned()),
        status: OrderStatus::Received,
        placed_at: placed,
        channel_updated_at: placed,
        currency: usd,
        lines: vec![LineItem {
            charges: Default::default(),
            sku: Sku::parse("BENCH").expect("sku"),
            quantity: Quantity::new(1).expect("quantity"),
            unit_price: money(1000),
            line_id: Some(line.into()),
        }],
        totals: OrderTotals {
            subtotal: money(1000),
            tax: money(0),
            shipping: money(0),
            total: money(1000),
        },
        ship_to: None,
        buyer: rc_domain::BuyerPii::default(),
    }
}

/// Settles `orders` one after another (each already shipped outside with a tracking number):
/// (elapsed, confirmed, still pending).
async fn settle_all(
    services: &Services,
    channels: &rc_runtime::ChannelClients,
    merchant: &MerchantId,
    orders: &[String],
) -> (Duration, usize, usize) {
    let settler = services.shipment_settler(channels);
    let started = Instant::now();
    let mut pending = 0;
    for order in orders {
        let settled = settler
            .settle(merchant, &rc_domain::OrderId::parse(order).expect("order"))
            .await
            .expect("settled");
        pending += settled.pending;
    }
    (started.elapsed(), orders.len() - pending, pending)
}

async fn confirmations(dir: &std::path::Path) {
    let n = if benchmarking() { 100 } else { 4 };
    let services =
        Services::embedded(&dir.join("confirm"), Arc::new(SystemClock)).expect("services");
    let merchant = MerchantId::parse("bench-merchant").expect("merchant");
    let amazon = sp_api::start().await;
    let shopify = shopify_admin::start().await;
    let channels = rc_runtime::ChannelClients::new(
        rc_channels::amazon::Endpoints::all_at(amazon.base(), amazon.base()),
        Some(shopify.base()),
    );
    services
        .connections
        .put_amazon(
            &merchant,
            &"A2SELLERBENCH01".to_owned().try_into().expect("seller"),
            &["ATVPDKIKX0DER".to_owned().try_into().expect("marketplace")],
            &rc_domain::LwaCredentials {
                client_id: sp_api::CLIENT_ID.into(),
                client_secret: secret(sp_api::CLIENT_SECRET),
                refresh_token: secret(sp_api::REFRESH_TOKEN),
                region: rc_domain::Region::NorthAmerica,
            },
        )
        .await
        .expect("amazon");
    services
        .connections
        .put_shopify(
            &merchant,
            &rc_domain::ShopDomain::parse("bench.myshopify.com").expect("shop"),
            &rc_orders::ShopifyCredentials {
                webhook_secret: secret("bench-shop-secret"),
                previous_webhook_secret: None,
                access_token: Some(secret(shopify_admin::ACCESS_TOKEN)),
            },
        )
        .await
        .expect("shopify");
    let outside = services.outside_shipments();
    let tracking = |i: usize| OutsideTracking {
        carrier: "UPS".into(),
        tracking_code: rc_domain::TrackingCode::parse(&format!("1Z{i:016}")).expect("code"),
    };
    let mut amazon_orders = Vec::with_capacity(n);
    let mut shopify_orders = Vec::with_capacity(n);
    let example: serde_json::Value = serde_json::from_str(include_str!(
        "../../shared/channels/fixtures/amazon-get-order.json"
    ))
    .expect("fixture");
    for i in 0..n {
        let reference = format!("114-{:07}-{:07}", i, i);
        let id = format!("amazon-{reference}");
        services
            .orders
            .upsert(
                &order(
                    &merchant,
                    Channel::Amazon,
                    &id,
                    &reference,
                    &format!("{}", 50_000 + i),
                ),
                None,
            )
            .await
            .expect("order");
        let mut copy = example["order"].clone();
        copy["orderId"] = serde_json::json!(reference);
        copy["orderItems"][0]["orderItemId"] = serde_json::json!(format!("{}", 50_000 + i));
        amazon.state().orders.insert(reference, copy);
        outside
            .ship(
                &merchant,
                &rc_domain::OrderId::parse(&id).expect("id"),
                Some(&tracking(i)),
            )
            .await
            .expect("shipped");
        amazon_orders.push(id);
        let shop_id = 7_000_000 + i as u64;
        let id = format!("shopify-{shop_id}");
        services
            .orders
            .upsert(
                &order(
                    &merchant,
                    Channel::Shopify,
                    &id,
                    &format!("#{shop_id}"),
                    &format!("{}", 90_000 + i),
                ),
                None,
            )
            .await
            .expect("order");
        shopify
            .state()
            .open_order(shop_id, &[(90_000 + i as u64, "BENCH", 1)]);
        outside
            .ship(
                &merchant,
                &rc_domain::OrderId::parse(&id).expect("id"),
                Some(&tracking(n + i)),
            )
            .await
            .expect("shipped");
        shopify_orders.push(id);
    }

    let (elapsed, confirmed, pending) =
        settle_all(&services, &channels, &merchant, &amazon_orders).await;
    let times = amazon.state().confirm_times.clone();
    let steady = if times.len() > 11 {
        (times.len() - 11) as f64
            / times[times.len() - 1]
                .duration_since(times[10])
                .as_secs_f64()
    } else {
        f64::NAN
    };
    println!(
        "Amazon confirmShipment: {confirmed} packages confirmed ({pending} pending) in {:.2} s — {:.2}/s overall, {:.2}/s after the burst of 10 (usage plan: 2/s, burst 10)",
        elapsed.as_secs_f64(),
        confirmed as f64 / elapsed.as_secs_f64(),
        steady
    );
    assert_eq!(amazon.state().packages.len(), confirmed, "one package each");

    shopify.state().cost_bucket = Some((1000.0, 100.0));
    let (elapsed, confirmed, pending) =
        settle_all(&services, &channels, &merchant, &shopify_orders).await;
    let state = shopify.state();
    let fulfilled: BTreeMap<u64, usize> = state
        .fulfillments
        .iter()
        .map(|(o, f)| (*o, f.len()))
        .collect();
    assert!(fulfilled.values().all(|n| *n == 1), "one fulfillment each");
    println!(
        "Shopify fulfillmentCreate: {confirmed} packages confirmed ({pending} pending) in {:.2} s — {:.2}/s (bucket 1,000 points, 100/s restored; 22 points per package: the read, 12, and the mutation, 10: at most 4.5/s once the bucket is spent)",
        elapsed.as_secs_f64(),
        confirmed as f64 / elapsed.as_secs_f64()
    );
}

/// The local host: sandbox orders from their webhook to their confirmation.
async fn local_end_to_end() {
    let rounds = if benchmarking() { 10 } else { 1 };
    let stage = Duration::from_millis(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = rc_local_host::LocalConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("address"),
        demo_merchant: "demo-merchant".into(),
        demo_shop: "demo-shop.myshopify.com".into(),
        demo_webhook_secret: "bench-webhook-secret".into(),
        demo_api_key: "rck_bench_api_key".into(),
        demo_password: "bench-demo-password".into(),
        sandbox_interval: None,
        reconcile_interval: None,
        privacy_interval: None,
        inventory_interval: None,
        order_processing_interval: Some(Duration::from_millis(20)),
        body_timeout: Duration::from_secs(30),
        courier_stage: Some(stage),
        tracking_poll_interval: None,
    };
    let host = rc_local_host::LocalHost::start(&config)
        .await
        .expect("local host");
    let base = format!("http://{}", host.addr);
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}{path}"))
                .header("authorization", "Bearer rck_bench_api_key")
                .send()
                .await
                .expect("get")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let (mut to_label, mut to_pickup, mut to_confirmed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let known: Vec<String> = get("/v1/orders".into()).await["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .filter_map(|o| o["id"].as_str().map(str::to_owned))
            .collect();
        let placed = Instant::now();
        host.sandbox.tick().await.expect("tick");
        // The new orders of this round (none when it was a "lost" round).
        let mut fresh = Vec::new();
        for _ in 0..100 {
            fresh = get("/v1/orders".into()).await["orders"]
                .as_array()
                .expect("orders")
                .iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .filter(|id| !known.contains(id))
                .collect();
            if fresh.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Every order of the round watched together: first sight of its label, its pickup,
        // its confirmation.
        /// An order, and when its label, its pickup and its confirmation were first seen.
        type Watched = (String, Option<Duration>, Option<Duration>, Option<Duration>);
        let mut seen: Vec<Watched> = fresh.into_iter().map(|id| (id, None, None, None)).collect();
        for _ in 0..2000 {
            for (id, label, pickup, confirmed) in seen.iter_mut() {
                if confirmed.is_some() {
                    continue;
                }
                let shipments = get(format!("/v1/orders/{id}/shipments")).await;
                let shipment = &shipments["shipments"][0];
                let now = placed.elapsed();
                if label.is_none() && shipment["purchase"].is_object() {
                    *label = Some(now);
                }
                if pickup.is_none() && shipment["journey"]["left_at"].is_number() {
                    *pickup = Some(now);
                }
                if shipment["confirmation"]["state"] == "confirmed" {
                    *confirmed = Some(now);
                }
            }
            if seen.iter().all(|(.., c)| c.is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for (_, label, pickup, confirmed) in seen {
            if let (Some(label), Some(pickup), Some(confirmed)) = (label, pickup, confirmed) {
                to_label.push(label);
                to_pickup.push(pickup);
                to_confirmed.push(confirmed.saturating_sub(pickup));
            }
        }
    }
    for list in [&mut to_label, &mut to_pickup, &mut to_confirmed] {
        list.sort();
    }
    if to_confirmed.is_empty() {
        println!("local end to end: no order completed");
        return;
    }
    println!(
        "local end to end over {} orders (courier stage {} ms): webhook → label p50 {:.0} ms, p99 {:.0} ms; → picked up p50 {:.0} ms (one stage after the label, by design); picked up → marketplace told p50 {:.0} ms, p99 {:.0} ms",
        to_confirmed.len(),
        stage.as_millis(),
        ms(percentile(&to_label, 0.5)),
        ms(percentile(&to_label, 0.99)),
        ms(percentile(&to_pickup, 0.5)),
        ms(percentile(&to_confirmed, 0.5)),
        ms(percentile(&to_confirmed, 0.99)),
    );
}
