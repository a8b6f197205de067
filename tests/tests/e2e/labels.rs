//! Labels bought exactly once, on both store adapters (files locally; S3 in moto), through the
//! real order path: a signed Shopify order is reserved and routed, its shipment planned, and
//! the label generator buys its label from the EasyPost stand-in, which checks every request.
//!
//! - the same job delivered 20 times at once buys one label;
//! - an answer lost after the purchase (500, or the worker dying mid-call) is read back, never
//!   bought again;
//! - a throttled or unavailable courier is retried, then dead-lettered, nothing bought;
//! - refused credentials end in `label_failed` with a reason, nothing bought, until fixed;
//! - the label is sealed: no canary in the stored object, the job, a log line or an answer but
//!   the label download itself (a `pii:read` key, audited);
//! - voiding refunds it and erases its copy; a purged order's label is gone, its old sealed
//!   bytes no longer open.

use crate::support;

use std::sync::Arc;

use rc_domain::{Sku, WarehouseId};
use rc_fulfillment::{FileLabelStore, LabelStore, S3LabelStore};
use rc_inventory::Adjustment;
use rc_queue::MemoryLabelJobs;
use support::privacy_stack::*;
use support::{easypost, shiprocket};

const ORDER: u64 = 8101;

struct LabelStack {
    stack: Stack,
    courier: easypost::StandIn,
    jobs: Arc<MemoryLabelJobs>,
    store: Arc<dyn LabelStore>,
}

fn warehouse_body() -> &'static str {
    r#"{"name": "Main", "address": {"name": "Acme Goods", "line1": "1 Dock Rd", "city": "Louisville",
        "postal_code": "40202", "phone": "+1 502 555 0100"}, "country": "US", "region": "KY",
        "couriers": [{"kind": "easypost", "name": "main"}], "service": {"choose": "cheapest"}}"#
}

async fn label_stack(mut stack: Stack) -> LabelStack {
    let courier = easypost::start().await;
    let jobs = Arc::new(MemoryLabelJobs::default());
    let store: Arc<dyn LabelStore> = match &stack.backend {
        Backend::Embedded { dir } => Arc::new(FileLabelStore::new(dir.path().join("labels-test"))),
        Backend::Moto { .. } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build(),
            );
            let bucket = format!("rc-labels-{}-{ORDER}", std::process::id());
            s3.create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .expect("bucket");
            Arc::new(S3LabelStore::new(s3, bucket))
        }
    };
    stack.services = stack
        .services
        .clone()
        .with_label_jobs(jobs.clone())
        .with_label_store(store.clone());
    stack.channels = rc_runtime::ChannelClients::from_env()
        .expect("channels")
        .with_couriers(courier.base(), None);
    let (status, body) = stack
        .api("PUT", "/v1/warehouses/main", warehouse_body())
        .await;
    assert_eq!(status, 201, "{body}");
    let key = format!(r#"{{"api_key": "{}"}}"#, easypost::API_KEY);
    let (status, body) = stack.api("PUT", "/v1/couriers/easypost/main", &key).await;
    assert_eq!(status, 201, "{body}");
    LabelStack {
        stack,
        courier,
        jobs,
        store,
    }
}

impl LabelStack {
    /// Ingests the canary order, gives its SKUs stock and parcels, and processes it: one
    /// shipment from `main`, its label job queued. Returns the shipment id.
    async fn order(&self, id: u64) -> String {
        let stack = &self.stack;
        stack.ingest(id).await;
        let (_, view) = stack
            .api("GET", &format!("/v1/orders/shopify-{id}"), "")
            .await;
        for line in view["lines"].as_array().expect("lines") {
            let sku = line["sku"].as_str().expect("sku");
            stack
                .services
                .stock
                .adjust(
                    &merchant(),
                    &Sku::parse(sku).expect("sku"),
                    &WarehouseId::parse("main").expect("warehouse"),
                    Adjustment::Receive { quantity: 5 },
                    "labels test",
                    "test",
                )
                .await
                .expect("stock");
            let parcel =
                r#"{"weight_g": 400, "length_mm": 200, "width_mm": 150, "height_mm": 100}"#;
            let (status, body) = stack
                .api("PUT", &format!("/v1/inventory/{sku}/parcel"), parcel)
                .await;
            assert_eq!(status, 200, "{body}");
        }
        self.process().await;
        let (status, shipments) = stack
            .api("GET", &format!("/v1/orders/shopify-{id}/shipments"), "")
            .await;
        assert_eq!(status, 200);
        let shipment = &shipments["shipments"][0];
        assert_eq!(shipment["status"], "awaiting_label", "{shipments}");
        assert_eq!(shipment["warehouse"], "main");
        assert!(shipment["parcel"]["weight_g"].as_u64() >= Some(400));
        shipment["id"].as_str().expect("id").to_owned()
    }

    async fn process(&self) {
        self.stack.process_order_events().await;
    }

    fn generator(&self) -> rc_fulfillment::LabelGenerator {
        self.stack
            .services
            .label_generator(&self.stack.channels)
            .expect("label store")
    }

    /// The queued label jobs, as (message id, body).
    fn job_messages(&self) -> Vec<(String, String)> {
        self.jobs
            .sent()
            .iter()
            .enumerate()
            .map(|(i, job)| (format!("j{i}"), serde_json::to_string(job).expect("job")))
            .collect()
    }

    /// The queued label job of one shipment.
    fn job_for(&self, shipment: &str) -> Vec<(String, String)> {
        self.job_messages()
            .into_iter()
            .filter(|(_, body)| body.contains(shipment))
            .collect()
    }

    async fn shipment(&self, id: &str) -> serde_json::Value {
        let (status, shipment) = self
            .stack
            .api("GET", &format!("/v1/shipments/{id}"), "")
            .await;
        assert_eq!(status, 200, "{shipment}");
        shipment
    }
}

async fn a_label_is_bought_once_sealed_and_erased_with_the_order(stack: Stack) {
    let logs = support::capture_all_logs();
    let labels = label_stack(stack).await;
    let shipment_id = labels.order(ORDER).await;
    let jobs = labels.job_messages();
    assert_eq!(jobs.len(), 1, "one job per shipment");
    for (_, body) in &jobs {
        for canary in support::canaries() {
            assert!(!body.contains(canary), "a label job carries ids only");
        }
    }

    // The same job, 20 times at once (SQS may deliver it that often): one purchase.
    let generator = Arc::new(labels.generator());
    let deliveries: Vec<_> = (0..20)
        .map(|_| {
            let generator = Arc::clone(&generator);
            let batch = jobs.clone();
            tokio::spawn(async move { generator.handle_batch(batch).await })
        })
        .collect();
    let mut failed = 0;
    for delivery in deliveries {
        failed += delivery.await.expect("task").len();
    }
    // Deliveries that found it held come back later (and then find it labelled).
    for _ in 0..failed {
        assert!(generator.handle_batch(jobs.clone()).await.is_empty());
    }
    {
        let state = labels.courier.state();
        assert_eq!(state.purchases, 1, "one label bought");
        assert_eq!(state.creates, 1, "one courier shipment");
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }
    let shipment = labels.shipment(&shipment_id).await;
    assert_eq!(shipment["status"], "label_created", "{shipment}");
    assert_eq!(shipment["chosen"]["service"], "First", "the cheapest rate");
    assert_eq!(shipment["purchase"]["cost"]["minor"], 460, "{shipment}");
    assert!(shipment["purchase"]["tracking_code"].as_str().is_some());
    let (_, order) = labels
        .stack
        .api("GET", &format!("/v1/orders/shopify-{ORDER}"), "")
        .await;
    assert_eq!(order["status"], "label_created");

    // The label: only with a `pii:read` key, audited, never cached.
    let path = format!("/v1/shipments/{shipment_id}/label");
    let (status, refused) = labels.stack.api("GET", &path, "").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let request = http::Request::builder()
        .uri(format!("http://localhost{path}"))
        .header("authorization", format!("Bearer {PII_KEY}"))
        .body(bytes::Bytes::new())
        .expect("request");
    let response = labels
        .stack
        .services
        .merchant_api(&labels.stack.channels)
        .handle(request)
        .await;
    support::privacy_stack::check_answer("GET", &path, &response);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.body().starts_with(b"%PDF-"));
    assert!(
        support::contains(response.body(), support::CANARY_STREET),
        "the label prints the address"
    );
    let (_, audit) = labels.stack.api("GET", "/v1/privacy/audit", "").await;
    assert!(
        audit.to_string().contains("shipping_label"),
        "every label opening is in the audit trail: {audit}"
    );

    // Sealed where it is kept; never in a log line.
    let location = shipment["label"]["location"].as_str().expect("location");
    let stored = labels
        .store
        .get(location)
        .await
        .expect("get")
        .expect("stored");
    for canary in support::canaries() {
        assert!(
            !support::contains(&stored, canary),
            "{canary} in the stored label"
        );
        assert!(!logs.text().contains(canary), "{canary} in the logs");
        assert!(
            !shipment.to_string().contains(canary),
            "{canary} in the shipment"
        );
    }

    // Shipped, then 31 days: the purge erases the label; the old bytes no longer open.
    let (status, _) = labels
        .stack
        .api("POST", &format!("/v1/orders/shopify-{ORDER}/shipped"), "")
        .await;
    assert_eq!(status, 200);
    labels.stack.clock.advance(time::Duration::days(31));
    let report = labels
        .stack
        .services
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("privacy run");
    assert!(report.purge.purged >= 1, "{report:?}");
    assert_eq!(
        labels.store.get(location).await.expect("get"),
        None,
        "label erased"
    );
    let key = labels
        .stack
        .services
        .vault
        .key_for_opening(&merchant(), &rc_vault::KeySubject::order(&order_id(ORDER)))
        .await;
    assert!(
        matches!(key, Err(rc_vault::VaultError::KeyDestroyed)),
        "the key that sealed the old bytes is gone"
    );
    let response = labels
        .stack
        .services
        .merchant_api(&labels.stack.channels)
        .handle(
            http::Request::builder()
                .uri(format!("http://localhost{path}"))
                .header("authorization", format!("Bearer {PII_KEY}"))
                .body(bytes::Bytes::new())
                .expect("request"),
        )
        .await;
    support::privacy_stack::check_answer("GET", &path, &response);
    assert_eq!(response.status(), 404, "no label after the purge");
}

#[tokio::test]
async fn a_label_is_bought_once_sealed_and_erased_with_the_order_embedded() {
    a_label_is_bought_once_sealed_and_erased_with_the_order(embedded().await).await;
}

#[tokio::test]
async fn a_label_is_bought_once_sealed_and_erased_with_the_order_dynamodb() {
    a_label_is_bought_once_sealed_and_erased_with_the_order(moto().await).await;
}

async fn lost_answers_are_read_back_never_bought_twice(stack: Stack) {
    let labels = label_stack(stack).await;
    // 1. The courier buys, then answers 500: read back at once, recorded, one purchase.
    let first = labels.order(ORDER + 1).await;
    labels.courier.state().error_after_buy = 1;
    let generator = Arc::new(labels.generator());
    assert!(
        generator
            .handle_batch(labels.job_messages())
            .await
            .is_empty()
    );
    assert_eq!(labels.shipment(&first).await["status"], "label_created");
    assert_eq!(labels.courier.state().purchases, 1);

    // 2. The worker dies while the courier is answering (after it bought): the shipment stays
    //    held and marked `buying`; once the lease runs out, the next delivery reads back.
    let second = labels.order(ORDER + 2).await;
    labels.courier.state().buy_delay = Some(std::time::Duration::from_secs(5));
    let job = labels.job_for(&second);
    assert_eq!(job.len(), 1);
    let dying = {
        let generator = Arc::clone(&generator);
        let job = job.clone();
        tokio::spawn(async move { generator.handle_batch(job).await })
    };
    for _ in 0..100 {
        if labels.courier.state().purchases == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    dying.abort();
    let _ = dying.await;
    labels.courier.state().buy_delay = None;
    let held = labels.shipment(&second).await;
    assert_eq!(
        (held["status"].as_str(), held["buying"].as_bool()),
        (Some("purchasing"), Some(true))
    );
    // Within the lease: another delivery waits.
    assert_eq!(generator.handle_batch(job.clone()).await.len(), 1);
    labels
        .stack
        .clock
        .advance(time::Duration::seconds(rc_fulfillment::LEASE_SECONDS + 1));
    assert!(generator.handle_batch(job.clone()).await.is_empty());
    assert_eq!(labels.shipment(&second).await["status"], "label_created");

    // 3. `NO_RESPONSE`: not bought; read back, then bought on the retry.
    let third = labels.order(ORDER + 3).await;
    labels.courier.state().no_response = 1;
    let job = labels.job_for(&third);
    assert_eq!(
        generator.handle_batch(job.clone()).await.len(),
        1,
        "retried"
    );
    assert!(generator.handle_batch(job).await.is_empty());
    let state = labels.courier.state();
    assert_eq!(
        state.purchases, 3,
        "three shipments, three labels, none twice"
    );
    assert!(state.violations.is_empty(), "{:?}", state.violations);
}

#[tokio::test]
async fn lost_answers_are_read_back_never_bought_twice_embedded() {
    lost_answers_are_read_back_never_bought_twice(embedded().await).await;
}

#[tokio::test]
async fn lost_answers_are_read_back_never_bought_twice_dynamodb() {
    lost_answers_are_read_back_never_bought_twice(moto().await).await;
}

#[tokio::test]
async fn unavailable_couriers_are_retried_then_dead_lettered_and_refusals_are_reasons() {
    let labels = label_stack(embedded().await).await;
    let shipment = labels.order(ORDER).await;
    let generator = labels.generator();

    // Throttled twice, then fine: retried, one purchase.
    labels.courier.state().throttle = 2;
    let job = labels.job_messages();
    assert_eq!(generator.handle_batch(job.clone()).await.len(), 1);
    assert_eq!(generator.handle_batch(job.clone()).await.len(), 1);
    assert!(generator.handle_batch(job.clone()).await.is_empty());
    assert_eq!(labels.courier.state().purchases, 1);

    // Down for good: the local queue's redrive policy dead-letters the job after its receives.
    let second = labels.order(ORDER + 1).await;
    labels.courier.state().down = true;
    let queue = rc_runtime::LocalQueue::new(
        rc_runtime::LABEL_JOBS,
        labels.stack.services.data.clone(),
        labels.stack.clock.clone(),
        Arc::new(rc_queue::MemoryPublisher::default()),
    );
    use rc_queue::LabelJobs;
    queue
        .send(&[rc_queue::LabelJob {
            merchant: merchant().to_string(),
            shipment: second.clone(),
        }])
        .await
        .expect("queued");
    for _ in 0..rc_runtime::MAX_RECEIVES {
        let received = queue.receive(10).await.expect("receive");
        assert_eq!(received.len(), 1);
        let batch = received
            .iter()
            .map(|m| (m.id.clone(), m.body.clone()))
            .collect();
        let failed = generator.handle_batch(batch).await;
        queue.settle(&received, &failed).await.expect("settle");
    }
    assert!(queue.receive(10).await.expect("receive").is_empty());
    assert_eq!(queue.dead_letters(10).await.expect("dlq").len(), 1);
    let waiting = labels.shipment(&second).await;
    assert_eq!(waiting["status"], "purchasing", "{waiting}");
    assert_eq!(waiting["reason"], "courier_unavailable");
    labels.courier.state().down = false;
    assert_eq!(
        labels.courier.state().purchases,
        1,
        "nothing bought while down"
    );

    // Credentials the courier refuses: label_failed with the reason, nothing bought.
    let third = labels.order(ORDER + 2).await;
    let (status, _) = labels
        .stack
        .api(
            "PUT",
            "/v1/couriers/easypost/main",
            r#"{"api_key": "EZTK_revoked"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let job: Vec<_> = labels.job_for(&third);
    assert!(
        generator.handle_batch(job.clone()).await.is_empty(),
        "not retried: it cannot succeed"
    );
    let failed = labels.shipment(&third).await;
    assert_eq!(failed["status"], "label_failed");
    assert_eq!(failed["reason"], "courier_credentials_rejected");
    assert_eq!(labels.courier.state().purchases, 1);
    // Fixed, and asked again: labelled.
    let key = format!(r#"{{"api_key": "{}"}}"#, easypost::API_KEY);
    labels
        .stack
        .api("PUT", "/v1/couriers/easypost/main", &key)
        .await;
    let (status, body) = labels
        .stack
        .api("POST", &format!("/v1/shipments/{third}/label"), "")
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        generator
            .handle_batch(labels.job_messages())
            .await
            .is_empty()
    );
    assert_eq!(labels.shipment(&third).await["status"], "label_created");

    // Voided: refunded, its copy erased, ready for a new label.
    let before = labels.shipment(&shipment).await;
    let location = before["label"]["location"]
        .as_str()
        .expect("location")
        .to_owned();
    let (status, voided) = labels
        .stack
        .api("POST", &format!("/v1/shipments/{shipment}/void"), "")
        .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided");
    assert_eq!(labels.courier.state().refunds, 1);
    assert_eq!(labels.store.get(&location).await.expect("get"), None);
    let (status, again) = labels
        .stack
        .api("POST", &format!("/v1/shipments/{shipment}/void"), "")
        .await;
    assert_eq!((status, again["error"].as_str()), (409, Some("no_label")));
    labels
        .stack
        .api("POST", &format!("/v1/shipments/{shipment}/label"), "")
        .await;
    assert!(
        generator
            .handle_batch(labels.job_messages())
            .await
            .is_empty()
    );
    let relabelled = labels.shipment(&shipment).await;
    assert_eq!(relabelled["status"], "label_created");
    assert_eq!(
        relabelled["voided_labels"].as_array().map(Vec::len),
        Some(1)
    );
    {
        let state = labels.courier.state();
        assert_eq!(
            state.purchases, 4,
            "a new label after the void, never a double"
        );
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }

    // The merchant cancels the account: every label is erased with the rest (finished by the
    // privacy run if the request's budget did not reach it).
    let mut locations = Vec::new();
    for id in [&shipment, &third] {
        let shown = labels.shipment(id).await;
        let location = shown["label"]["location"].as_str().expect("location");
        assert!(labels.store.get(location).await.expect("get").is_some());
        locations.push(location.to_owned());
    }
    let (status, cancelled) = labels
        .stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm": "{MERCHANT}"}}"#),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    labels
        .stack
        .services
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("privacy run");
    for location in &locations {
        assert_eq!(
            labels.store.get(location).await.expect("get"),
            None,
            "a cancelled merchant's label is erased"
        );
    }
}

#[tokio::test]
async fn bad_fulfillment_input_is_a_clear_error_and_changes_nothing() {
    let labels = label_stack(embedded().await).await;
    let stack = &labels.stack;
    let cases = [
        (
            "PUT",
            "/v1/couriers/pigeon/main",
            r#"{"api_key": "k"}"#,
            404,
            "not_found",
        ),
        (
            "PUT",
            "/v1/couriers/easypost/a%20b",
            r#"{"api_key": "k"}"#,
            404,
            "not_found",
        ),
        (
            "PUT",
            "/v1/couriers/easypost/main",
            r#"{}"#,
            400,
            "malformed_json",
        ),
        (
            "PUT",
            "/v1/couriers/easypost/main",
            r#"{"api_key": ""}"#,
            422,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/couriers/shiprocket/main",
            r#"{"api_key": "k"}"#,
            400,
            "malformed_json",
        ),
        (
            "PUT",
            "/v1/couriers/shiprocket/main",
            r#"{"email": "nobody", "password": "p", "pickup_location": "X"}"#,
            422,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/couriers/shiprocket/main",
            r#"{"email": "a@b.in", "password": "p", "pickup_location": " "}"#,
            422,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/couriers/amazon_shipping/main",
            r#"{"api_key": "k"}"#,
            400,
            "malformed_json",
        ),
        (
            "PUT",
            "/v1/couriers/amazon_shipping/main",
            r#"{"seller_id": "not a seller"}"#,
            422,
            "invalid_field",
        ),
        (
            "GET",
            "/v1/shipments?status=teleported",
            "",
            422,
            "invalid_field",
        ),
        ("GET", "/v1/shipments/not-a-shipment", "", 404, "not_found"),
        ("GET", "/v1/shipments/shopify-1.1", "", 404, "not_found"),
        (
            "PUT",
            "/v1/inventory/MUG/parcel",
            r#"{"weight_g": 0, "length_mm": 1, "width_mm": 1, "height_mm": 1}"#,
            422,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/inventory/MUG/parcel",
            r#"{"weight_g": 100}"#,
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/shipments/shopify-1.1/void",
            "",
            404,
            "not_found",
        ),
        (
            "DELETE",
            "/v1/couriers/easypost/nobody",
            "",
            404,
            "not_found",
        ),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, answer) = stack.api(method, path, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{method} {path}"
        );
        assert!(!answer.to_string().contains("EZTK"), "no secret echoed");
    }
    // The account's key is never answered.
    let (_, couriers) = stack.api("GET", "/v1/couriers", "").await;
    assert_eq!(couriers["couriers"][0]["name"], "main");
    assert!(!couriers.to_string().contains(easypost::API_KEY));

    // A shipment whose SKUs have no parcel defaults waits for one, without a job.
    stack.ingest(ORDER).await;
    let (_, view) = stack
        .api("GET", &format!("/v1/orders/shopify-{ORDER}"), "")
        .await;
    for line in view["lines"].as_array().expect("lines") {
        stack
            .services
            .stock
            .adjust(
                &merchant(),
                &Sku::parse(line["sku"].as_str().expect("sku")).expect("sku"),
                &WarehouseId::parse("main").expect("warehouse"),
                Adjustment::Receive { quantity: 5 },
                "test",
                "test",
            )
            .await
            .expect("stock");
    }
    labels.process().await;
    let (_, listed) = stack
        .api("GET", "/v1/shipments?status=awaiting_label", "")
        .await;
    let waiting = &listed["shipments"][0];
    assert_eq!(waiting["reason"], "parcel_missing", "{listed}");
    assert!(
        labels.jobs.sent().is_empty(),
        "no label job without a parcel"
    );
    let id = waiting["id"].as_str().expect("id");
    let parcel = r#"{"weight_g": 900, "length_mm": 300, "width_mm": 200, "height_mm": 100}"#;
    let (status, set) = stack
        .api("PUT", &format!("/v1/shipments/{id}/parcel"), parcel)
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(labels.jobs.sent().len(), 1, "queued once it has a parcel");
    let shipment_id = rc_domain::ShipmentId::parse(id).expect("id");
    let outcome = labels.generator().generate(&merchant(), &shipment_id).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    let (_, done) = stack
        .api("GET", "/v1/shipments?status=label_created", "")
        .await;
    assert_eq!(done["shipments"][0]["id"], id);
    let (status, refused) = stack
        .api("PUT", &format!("/v1/shipments/{id}/parcel"), parcel)
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("label_exists"))
    );
}

/// The same path through Shiprocket: a lost create answer, an expired token, an assignment whose
/// answer is lost — one order at Shiprocket, one AWB, never a reassignment; then a void cancels
/// the Shiprocket order and erases the label.
async fn a_shiprocket_label_survives_lost_answers_and_expired_tokens(stack: Stack) {
    let mut labels = label_stack(stack).await;
    let courier = shiprocket::start().await;
    labels.stack.channels = labels
        .stack
        .channels
        .clone()
        .with_shiprocket(courier.base());
    let warehouse = warehouse_body().replace(r#""kind": "easypost""#, r#""kind": "shiprocket""#);
    let (status, body) = labels
        .stack
        .api("PUT", "/v1/warehouses/main", &warehouse)
        .await;
    assert_eq!(status, 200, "{body}");
    let login = format!(
        r#"{{"email": "{}", "password": "{}", "pickup_location": "{}"}}"#,
        shiprocket::EMAIL,
        shiprocket::PASSWORD,
        shiprocket::PICKUP
    );
    let (status, body) = labels
        .stack
        .api("PUT", "/v1/couriers/shiprocket/main", &login)
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains(shiprocket::PASSWORD));

    let shipment = labels.order(ORDER + 20).await;
    let generator = labels.generator();
    let job = labels.job_messages();
    // The order is created, its answer lost: retried; the second create finds it.
    courier.state().lose_create_answer = 1;
    assert_eq!(generator.handle_batch(job.clone()).await.len(), 1);
    let waiting = labels.shipment(&shipment).await;
    assert_eq!(waiting["reason"], "courier_unavailable", "{waiting}");
    // Tokens expire meanwhile: one new login, no failure. The AWB is assigned, its answer
    // lost: read back from the shipment, never assigned again.
    courier.expire_tokens();
    courier.state().error_after_assign = 1;
    assert!(generator.handle_batch(job.clone()).await.is_empty());
    let done = labels.shipment(&shipment).await;
    assert_eq!(done["status"], "label_created", "{done}");
    assert_eq!(
        done["chosen"]["service"], "Xpressbees",
        "the cheapest: {done}"
    );
    assert_eq!(done["purchase"]["cost"]["minor"], 6800);
    assert_eq!(done["purchase"]["cost"]["currency"], "INR");
    {
        let state = courier.state();
        assert_eq!(state.creates, 1, "one Shiprocket order");
        assert_eq!(state.assign_calls, 1, "one assignment asked");
        assert_eq!(state.assignments, 1, "one AWB");
        assert_eq!(
            state.logins, 2,
            "logged in again once after the tokens expired"
        );
        assert_eq!(
            done["purchase"]["tracking_code"],
            state
                .orders
                .values()
                .next()
                .and_then(|o| o.awb.clone())
                .unwrap_or_default()
        );
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }
    // Redelivered: nothing more.
    assert!(generator.handle_batch(job).await.is_empty());
    assert_eq!(courier.state().assign_calls, 1);

    // Voided: the Shiprocket order is cancelled, the label erased.
    let location = done["label"]["location"]
        .as_str()
        .expect("location")
        .to_owned();
    let (status, voided) = labels
        .stack
        .api("POST", &format!("/v1/shipments/{shipment}/void"), "")
        .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(courier.state().cancels, 1);
    assert_eq!(labels.store.get(&location).await.expect("get"), None);

    // A wrong password: label_failed with the reason, nothing created.
    let wrong = login.replace(shiprocket::PASSWORD, "not-the-password");
    labels
        .stack
        .api("PUT", "/v1/couriers/shiprocket/main", &wrong)
        .await;
    let second = labels.order(ORDER + 21).await;
    let job: Vec<_> = labels.job_for(&second);
    courier.expire_tokens();
    assert!(labels.generator().handle_batch(job).await.is_empty());
    let failed = labels.shipment(&second).await;
    assert_eq!(
        (failed["status"].as_str(), failed["reason"].as_str()),
        (Some("label_failed"), Some("courier_credentials_rejected"))
    );
    assert_eq!(courier.state().creates, 1);
}

#[tokio::test]
async fn a_shiprocket_label_survives_lost_answers_and_expired_tokens_embedded() {
    a_shiprocket_label_survives_lost_answers_and_expired_tokens(embedded().await).await;
}

#[tokio::test]
async fn a_shiprocket_label_survives_lost_answers_and_expired_tokens_dynamodb() {
    a_shiprocket_label_survives_lost_answers_and_expired_tokens(moto().await).await;
}

const SELLER: &str = "A2SELLERLABELS1";

/// An Amazon order of the canary buyer, stored as the notification path would store it.
async fn amazon_order(stack: &Stack, n: u64) -> rc_domain::OrderId {
    use rc_domain::{
        BuyerPii, Channel, Currency, LineItem, Money, Order, OrderStatus, OrderTotals, Pii,
        Quantity, ShipToRegion,
    };
    let id = rc_domain::OrderId::parse(&format!("amazon-113-000000{n}-1")).expect("id");
    let usd = Currency::parse("USD").expect("usd");
    let money = |m| Money::from_minor(m, usd).expect("money");
    let address = support::canary_address();
    let placed = start_time() - time::Duration::hours(2);
    let order = Order {
        channel_tax: Default::default(),
        merchant: merchant(),
        id: id.clone(),
        channel: Channel::Amazon,
        channel_reference: format!("113-000000{n}-1"),
        marketplace: None,
        status: OrderStatus::Received,
        placed_at: placed,
        channel_updated_at: placed,
        currency: usd,
        lines: vec![LineItem {
            charges: Default::default(),
            sku: Sku::parse("AMZ-MUG").expect("sku"),
            quantity: Quantity::new(1).expect("quantity"),
            unit_price: money(1999),
            line_id: None,
        }],
        totals: OrderTotals {
            subtotal: money(1999),
            tax: money(0),
            shipping: money(0),
            total: money(1999),
        },
        ship_to: Some(ShipToRegion::of(&address)),
        buyer: BuyerPii {
            shipping_address: Some(Pii::new(address)),
            ..BuyerPii::default()
        },
    };
    stack
        .services
        .orders
        .upsert(&order, None)
        .await
        .expect("stored");
    id
}

/// Amazon Shipping v2 for an Amazon order: no buyer address sent (Amazon knows it), a purchase
/// whose answer is lost settled by the same idempotency key, an expired quote quoted again —
/// one purchase; a Shopify order cannot use it; void cancels at Amazon.
async fn amazon_shipping_buys_once_by_its_idempotency_key(stack: Stack) {
    let mut labels = label_stack(stack).await;
    let amazon = support::sp_api::start().await;
    labels.stack.channels = rc_runtime::ChannelClients::new(
        rc_channels::amazon::Endpoints::all_at(amazon.base(), amazon.base()),
        None,
    )
    .with_couriers(labels.courier.base(), None);
    let account = r#"{"seller_id": "A2SELLERLABELS1"}"#;
    let (status, refused) = labels
        .stack
        .api("PUT", "/v1/couriers/amazon_shipping/amzn", account)
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("unknown_connection")),
        "not connected yet"
    );
    labels
        .stack
        .services
        .connections
        .put_amazon(
            &merchant(),
            &support::id(SELLER),
            &[support::id("ATVPDKIKX0DER")],
            &rc_domain::LwaCredentials {
                client_id: support::sp_api::CLIENT_ID.into(),
                client_secret: rc_domain::Secret::new(
                    rc_domain::SecretText::parse(support::sp_api::CLIENT_SECRET).expect("s"),
                ),
                refresh_token: rc_domain::Secret::new(
                    rc_domain::SecretText::parse(support::sp_api::REFRESH_TOKEN).expect("s"),
                ),
                region: rc_domain::Region::NorthAmerica,
            },
        )
        .await
        .expect("connected");
    let (status, body) = labels
        .stack
        .api("PUT", "/v1/couriers/amazon_shipping/amzn", account)
        .await;
    assert_eq!(status, 201, "{body}");
    let warehouse = warehouse_body().replace(
        r#"{"kind": "easypost", "name": "main"}"#,
        r#"{"kind": "amazon_shipping", "name": "amzn"}"#,
    );
    let (status, body) = labels
        .stack
        .api("PUT", "/v1/warehouses/main", &warehouse)
        .await;
    assert_eq!(status, 200, "{body}");
    let sku = Sku::parse("AMZ-MUG").expect("sku");
    let parcel = rc_domain::Parcel::parse(400, 200, 150, 100).expect("parcel");
    labels
        .stack
        .services
        .stock
        .set_parcel(&merchant(), &sku, &parcel)
        .await
        .expect("parcel");
    labels
        .stack
        .services
        .stock
        .adjust(
            &merchant(),
            &sku,
            &WarehouseId::parse("main").expect("w"),
            Adjustment::Receive { quantity: 5 },
            "t",
            "t",
        )
        .await
        .expect("stock");

    let order = amazon_order(&labels.stack, 1).await;
    labels.process().await;
    let shipment = format!("{order}.1");
    let job: Vec<_> = labels.job_for(&shipment);
    assert_eq!(job.len(), 1, "{:?}", labels.job_messages());
    // The quote has expired by the time it is bought: quoted again. Then the purchase's answer
    // is lost: the client's retry carries the same key and gets the same purchase back.
    amazon.state().expire_quotes = 1;
    amazon.state().lose_purchase_answer = 1;
    let generator = labels.generator();
    assert_eq!(
        generator.handle_batch(job.clone()).await.len(),
        1,
        "retried with a new quote"
    );
    assert!(generator.handle_batch(job.clone()).await.is_empty());
    let done = labels.shipment(&shipment).await;
    assert_eq!(done["status"], "label_created", "{done}");
    assert_eq!(done["purchase"]["courier"]["kind"], "amazon_shipping");
    assert_eq!(done["purchase"]["cost"]["minor"], 540);
    assert!(
        done["purchase"]["tracking_code"]
            .as_str()
            .is_some_and(|t| t.starts_with("TBA"))
    );
    {
        let state = amazon.state();
        assert_eq!(state.purchases, 1, "one purchase");
        assert_eq!(state.rates_calls, 2, "quoted again after the expiry");
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }
    // Redelivered: nothing more.
    assert!(generator.handle_batch(job).await.is_empty());
    assert_eq!(
        amazon.state().purchase_calls,
        3,
        "expired, lost, replayed by key"
    );

    // A Shopify order cannot ship with Amazon Shipping.
    let shopify = labels.order(ORDER + 30).await;
    let job: Vec<_> = labels.job_for(&shopify);
    assert!(generator.handle_batch(job).await.is_empty());
    let failed = labels.shipment(&shopify).await;
    assert_eq!(
        (failed["status"].as_str(), failed["reason"].as_str()),
        (Some("label_failed"), Some("not_an_amazon_order"))
    );

    // Voided: cancelled at Amazon, the label erased.
    let location = done["label"]["location"]
        .as_str()
        .expect("location")
        .to_owned();
    let (status, voided) = labels
        .stack
        .api("POST", &format!("/v1/shipments/{shipment}/void"), "")
        .await;
    assert_eq!(status, 200, "{voided}");
    assert!(
        amazon
            .state()
            .shipments
            .values()
            .all(|(_, _, cancelled)| *cancelled)
    );
    assert_eq!(labels.store.get(&location).await.expect("get"), None);
    assert!(
        amazon.state().violations.is_empty(),
        "{:?}",
        amazon.state().violations
    );
}

#[tokio::test]
async fn amazon_shipping_buys_once_by_its_idempotency_key_embedded() {
    amazon_shipping_buys_once_by_its_idempotency_key(embedded().await).await;
}

#[tokio::test]
async fn amazon_shipping_buys_once_by_its_idempotency_key_dynamodb() {
    amazon_shipping_buys_once_by_its_idempotency_key(moto().await).await;
}
