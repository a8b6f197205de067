//! Shopify webhook handler latency (p50/p99), sequential throughput, and its CPU time per order
//! against the floor of the same payload's HMAC check + JSON parse + seal.
//!
//!   cargo bench -p rc-e2e --bench webhook_latency                 # embedded store
//!   AWS_ENDPOINT_URL=http://127.0.0.1:PORT cargo bench -p rc-e2e --bench webhook_latency
//!                                                                 # also on moto (start it first)
//!
//! The handler runs on a single-threaded runtime; the embedded store does its work on blocking
//! threads, so this thread's CPU time (from /proc/thread-self/schedstat) is the handler's own
//! work, excluding storage I/O.

#[path = "support/measure.rs"]
mod measure;

use measure::{percentile, thread_cpu};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rc_channels::shopify::{self, ShopDomain};
use rc_domain::{MerchantId, OrderId, SealedField, Secret, SecretText, SystemClock};
use rc_orders::ShopifyCredentials;
use rc_runtime::{AwsConfig, Services};
use rc_store::dynamo::{TableShape, create_table};
use rc_vault::KeySubject;

const SECRET: &str = "bench-webhook-secret";

fn bodies(count: usize, offset: u64) -> Vec<Vec<u8>> {
    (0..count as u64)
        .map(|i| {
            rc_local_host::DEMO_ORDER
                .replace("820982911946154508", &(offset + i).to_string())
                .into_bytes()
        })
        .collect()
}

async fn run(label: &str, services: Services, count: usize, offset: u64) -> Duration {
    let merchant = MerchantId::parse("bench-merchant").expect("id");
    let shop = ShopDomain::parse("bench-shop.myshopify.com").expect("shop");
    let secret = Secret::new(SecretText::parse(SECRET).expect("secret"));
    services
        .connections
        .put_shopify(&merchant, &shop, &ShopifyCredentials::webhook_only(secret))
        .await
        .expect("connection");
    let webhook = services.shopify_webhook();
    let requests: Vec<_> = bodies(count, offset)
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            rc_local_host::signed_shopify_request(
                "http://bench/webhooks/shopify",
                shop.as_str(),
                SECRET,
                "orders/create",
                &format!(
                    "{}-{i}",
                    label.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                ),
                body,
            )
            .expect("request")
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    let cpu_before = thread_cpu();
    let started = Instant::now();
    for request in requests {
        let t = Instant::now();
        let response = webhook.handle(request).await;
        latencies.push(t.elapsed());
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let elapsed = started.elapsed();
    let cpu = (thread_cpu() - cpu_before) / count as u32;
    latencies.sort();
    println!(
        "{label}: {count} orders, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; {:.0} orders/s sequential; handler CPU {:.1} µs/order",
        percentile(&latencies, 0.5).as_secs_f64() * 1e6,
        percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        latencies.last().expect("runs").as_secs_f64() * 1e6,
        count as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6,
    );
    cpu
}

/// HMAC verification + JSON parse into the domain order + sealing its five PII fields: the work
/// no handler can avoid.
async fn floor(services: &Services, count: usize) -> Duration {
    let merchant = MerchantId::parse("floor-merchant").expect("id");
    let key = services
        .vault
        .key_for_sealing(
            &merchant,
            &KeySubject::order(&OrderId::parse("floor").expect("id")),
        )
        .await
        .expect("key");
    let secrets = [Secret::new(SecretText::parse(SECRET).expect("secret"))];
    let inputs: Vec<_> = bodies(count, 5_000_000)
        .into_iter()
        .map(|body| {
            let signature = shopify::sign(&secrets[0], &body);
            (body, signature)
        })
        .collect();
    let cpu_before = thread_cpu();
    for (body, signature) in &inputs {
        assert!(shopify::verify(&secrets, body, signature));
        let order = shopify::parse_order(&merchant, body).expect("parse").order;
        let buyer = &order.buyer;
        for sealed in [
            buyer
                .name
                .as_ref()
                .map(|v| key.seal(SealedField::BuyerName, v)),
            buyer
                .email
                .as_ref()
                .map(|v| key.seal(SealedField::Email, v)),
            buyer
                .phone
                .as_ref()
                .map(|v| key.seal(SealedField::Phone, v)),
            buyer
                .shipping_address
                .as_ref()
                .map(|v| key.seal(SealedField::ShippingAddress, v)),
            buyer
                .billing_address
                .as_ref()
                .map(|v| key.seal(SealedField::BillingAddress, v)),
        ]
        .into_iter()
        .flatten()
        {
            std::hint::black_box(sealed.expect("seal"));
        }
    }
    let cpu = (thread_cpu() - cpu_before) / count as u32;
    println!(
        "floor (HMAC + parse + seal): {:.1} µs/order",
        cpu.as_secs_f64() * 1e6
    );
    cpu
}

/// The same services over the in-memory store: no storage I/O at all.
fn memory_services(dir: &std::path::Path) -> Services {
    let clock: Arc<dyn rc_domain::Clock> = Arc::new(SystemClock);
    let root =
        Arc::new(rc_vault::FileRoot::open_or_create(&dir.join("memory-root.key")).expect("root"));
    Services::assemble(
        Arc::new(rc_store::memory::MemoryStore::new(clock.clone())),
        Arc::new(rc_store::memory::MemoryStore::new(clock.clone())),
        root,
        clock,
        Arc::new(rc_queue::MemoryPublisher::default()),
    )
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = if benchmarking { 2000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let services = Services::embedded(dir.path(), Arc::new(SystemClock)).expect("services");
        let floor_cpu = floor(&services, count).await;
        let embedded_cpu = run("embedded", services, count, 1_000_000).await;
        let memory_cpu = run("in-memory store (no I/O)", memory_services(dir.path()), count, 3_000_000).await;
        println!(
            "handler CPU / floor: excluding I/O (in-memory store) {:.2}, with the embedded store's hand-offs {:.2} (goal: within 2 excluding I/O)",
            memory_cpu.as_secs_f64() / floor_cpu.as_secs_f64(),
            embedded_cpu.as_secs_f64() / floor_cpu.as_secs_f64()
        );
        if benchmarking && std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
            let kms = aws_sdk_kms::Client::new(&sdk);
            let suffix = std::process::id();
            let config = AwsConfig {
                data_table: format!("bench-data-{suffix}"),
                keys_table: format!("bench-keys-{suffix}"),
                kms_key_id: kms
                    .create_key()
                    .send()
                    .await
                    .expect("key")
                    .key_metadata
                    .expect("meta")
                    .key_id,
                order_events_queue_url: None,
                order_events_dead_letters_url: None,
                label_jobs_queue_url: None,
                labels_bucket: None,
            exports_bucket: None,
            export_jobs_queue_url: None,
                shipment_events_queue_url: None,
            };
            create_table(&dynamodb, &config.data_table, TableShape::Data)
                .await
                .expect("table");
            create_table(&dynamodb, &config.keys_table, TableShape::Keys)
                .await
                .expect("table");
            run("moto", Services::aws(&config).await, count / 4, 2_000_000).await;
        }
    });
}
