//! From label to delivered, on both store adapters: courier notifications (signed as EasyPost
//! signs them) move shipments forward only, and the fulfillment worker settles the order from
//! its shipments — stock at pickup, the shipped status and PII clock at the last pickup,
//! returns restocked once — and tells the marketplace once per package, through stand-ins that
//! check every request as Amazon (`confirmShipment`, Orders v0 model facts) and Shopify
//! (fulfillment orders, `fulfillmentCreate`, `fulfillmentTrackingInfoUpdate`) document them.
//!
//! - forged, unsigned or unknown-hook notifications are refused (401); repeats change nothing;
//!   a late or backwards event is history only; an unknown tracking number is acknowledged;
//! - the canary buyer appears in no shipment record, history, queue message or log line, though
//!   the courier's own tracking details carry an address;
//! - two shipments picked up a day apart: the order ships (and its PII clock starts) with the
//!   second; Amazon is told each package under its own `packageReferenceId`, a 503 is retried and
//!   a refusal of a package Amazon already holds is read back, not failed;
//! - a lost webhook is caught by polling; a returned parcel restocks once;
//! - shipped outside RetailCoder with a tracking number: confirmed the same way, a changed
//!   number updated, never a second fulfillment.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rc_domain::{Sku, WarehouseId};
use rc_fulfillment::{FileLabelStore, LabelStore};
use rc_inventory::Adjustment;
use rc_orders::ShopifyCredentials;
use rc_queue::{MemoryLabelJobs, MemoryShipmentEvents};
use support::privacy_stack::*;
use support::{easypost, shopify_admin, sp_api};

const WEBHOOK_SECRET: &str = "easypost-webhook-s\u{e9}cret";

struct Fulfil {
    stack: Stack,
    courier: easypost::StandIn,
    shopify: shopify_admin::StandIn,
    amazon: sp_api::StandIn,
    jobs: Arc<MemoryLabelJobs>,
    events: Arc<MemoryShipmentEvents>,
    /// `/tracking/<hook>` of the EasyPost account.
    hook: String,
    labels_dir: tempfile::TempDir,
}

fn warehouse(name: &str, region: &str, priority: u16) -> String {
    format!(
        r#"{{"name": "{name}", "address": {{"name": "Acme Goods", "line1": "1 Dock Rd", "city": "Louisville",
        "postal_code": "40202", "phone": "+1 502 555 0100"}}, "country": "US", "region": "{region}",
        "priority": {priority}, "couriers": [{{"kind": "easypost", "name": "main"}}],
        "service": {{"choose": "cheapest"}}}}"#
    )
}

fn at(hours: i64) -> String {
    (start_time() + time::Duration::hours(hours))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

async fn fulfil(mut stack: Stack) -> Fulfil {
    let courier = easypost::start().await;
    let shopify = shopify_admin::start().await;
    let amazon = sp_api::start().await;
    let jobs = Arc::new(MemoryLabelJobs::default());
    let events = Arc::new(MemoryShipmentEvents::default());
    let labels = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn LabelStore> = Arc::new(FileLabelStore::new(labels.path().to_path_buf()));
    stack.services = stack
        .services
        .clone()
        .with_label_jobs(jobs.clone())
        .with_label_store(store)
        .with_shipment_events(events.clone());
    stack.channels = rc_runtime::ChannelClients::new(
        rc_channels::amazon::Endpoints::all_at(amazon.base(), amazon.base()),
        Some(shopify.base()),
    )
    .with_couriers(courier.base(), None)
    .with_amazon_retry(rc_channels::amazon::RetryPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(10),
    });
    // The shop, now with an Admin API token (fulfillment needs one).
    stack
        .services
        .connections
        .put_shopify(
            &merchant(),
            &support::id(SHOP),
            &ShopifyCredentials {
                webhook_secret: secret(SECRET),
                previous_webhook_secret: None,
                access_token: Some(secret(shopify_admin::ACCESS_TOKEN)),
            },
        )
        .await
        .expect("shop");
    for (name, region, priority) in [("main", "KY", 1), ("east", "NY", 2)] {
        let (status, body) = stack
            .api(
                "PUT",
                &format!("/v1/warehouses/{name}"),
                &warehouse(name, region, priority),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let account = format!(
        r#"{{"api_key": "{}", "webhook_secret": "{WEBHOOK_SECRET}"}}"#,
        easypost::API_KEY
    );
    let (status, body) = stack
        .api("PUT", "/v1/couriers/easypost/main", &account)
        .await;
    assert_eq!(status, 201, "{body}");
    let hook = body["tracking_webhook"]
        .as_str()
        .expect("a tracking webhook")
        .to_owned();
    assert!(
        !hook.contains("sr") && !hook.contains("kr"),
        "Shiprocket's URL rule"
    );
    Fulfil {
        stack,
        courier,
        shopify,
        amazon,
        jobs,
        events,
        hook,
        labels_dir: labels,
    }
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn secret(raw: &str) -> rc_domain::Secret<rc_domain::SecretText> {
    rc_domain::Secret::new(rc_domain::SecretText::parse(raw).expect("secret"))
}

impl Fulfil {
    async fn stock(&self, sku: &str, warehouse: &str, units: i64) {
        self.stack
            .services
            .stock
            .adjust(
                &merchant(),
                &Sku::parse(sku).expect("sku"),
                &WarehouseId::parse(warehouse).expect("warehouse"),
                Adjustment::Receive { quantity: units },
                "tracking test",
                "test",
            )
            .await
            .expect("stock");
        let parcel = r#"{"weight_g": 400, "length_mm": 200, "width_mm": 150, "height_mm": 100}"#;
        let (status, body) = self
            .stack
            .api("PUT", &format!("/v1/inventory/{sku}/parcel"), parcel)
            .await;
        assert_eq!(status, 200, "{body}");
    }

    fn level(&self, sku: &str, warehouse: &str) -> impl std::future::Future<Output = (i64, i64)> {
        let stock = self.stack.services.stock.clone();
        let (sku, warehouse) = (sku.to_owned(), warehouse.to_owned());
        async move {
            let levels = stock
                .levels(&merchant(), &Sku::parse(&sku).expect("sku"))
                .await
                .expect("levels");
            levels
                .iter()
                .find(|(w, _)| w.as_str() == warehouse)
                .map_or((0, 0), |(_, l)| (l.on_hand, l.reserved))
        }
    }

    /// Processes order events, then buys every queued label.
    async fn label(&self) {
        self.stack.process_order_events().await;
        let generator = self
            .stack
            .services
            .label_generator(&self.stack.channels)
            .expect("label store");
        let jobs: Vec<(String, String)> = self
            .jobs
            .sent()
            .iter()
            .enumerate()
            .map(|(i, job)| (format!("j{i}"), serde_json::to_string(job).expect("job")))
            .collect();
        assert!(generator.handle_batch(jobs).await.is_empty());
    }

    async fn shipment(&self, id: &str) -> serde_json::Value {
        let (status, shipment) = self
            .stack
            .api("GET", &format!("/v1/shipments/{id}"), "")
            .await;
        assert_eq!(status, 200, "{shipment}");
        shipment
    }

    /// Shopify order `id` ingested, stocked in `main`, labelled and open on Shopify: its
    /// order id, lines, first shipment and tracking code.
    async fn labelled(&self, id: u64) -> (String, Vec<(u64, String, i64)>, String, String) {
        self.stack.ingest(id).await;
        let order = format!("shopify-{id}");
        let lines = shopify_lines(&self.order(&order).await);
        for (_, sku, _) in &lines {
            self.stock(sku, "main", 5).await;
        }
        self.label().await;
        let shipment = format!("{order}.1");
        let code = self.tracking_code(&shipment).await;
        self.open_shopify(id, &lines);
        (order, lines, shipment, code)
    }

    /// What the courier answers when asked about the parcel with tracking `code`.
    fn courier_reports(&self, code: &str, events: Vec<(String, String)>) {
        let mut state = self.courier.state();
        let shipment = state
            .shipments
            .values_mut()
            .find(|s| s.bought.as_ref().is_some_and(|(_, t)| t == code))
            .expect("courier shipment");
        shipment.tracking = events;
    }

    async fn tracking_code(&self, shipment: &str) -> String {
        let shipment = self.shipment(shipment).await;
        assert_eq!(shipment["status"], "label_created", "{shipment}");
        shipment["purchase"]["tracking_code"]
            .as_str()
            .expect("tracking")
            .to_owned()
    }

    async fn order(&self, order: &str) -> serde_json::Value {
        let (status, view) = self
            .stack
            .api("GET", &format!("/v1/orders/{order}"), "")
            .await;
        assert_eq!(status, 200, "{view}");
        view
    }

    /// Posts a courier notification signed as EasyPost signs: (status, answer).
    async fn notify(
        &self,
        path: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let headers: Vec<(&str, &str)> = signature
            .map(|s| ("x-hmac-signature", s))
            .into_iter()
            .collect();
        self.notify_with(path, body, &headers).await
    }

    /// Posts a courier notification with these headers: (status, answer).
    async fn notify_with(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("http://localhost{path}"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Bytes::from(body.to_vec())).expect("request");
        let response = self.stack.services.courier_webhook().handle(request).await;
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body()).unwrap_or_default(),
        )
    }

    /// A signed EasyPost tracker event about `code`.
    async fn track(
        &self,
        event: &str,
        code: &str,
        details: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let body = easypost::tracker_event(event, code, details);
        let signature = rc_couriers::sign_easypost(WEBHOOK_SECRET, &body);
        self.notify(&self.hook, &body, Some(&signature)).await
    }

    /// Runs the fulfillment worker over every shipment event sent so far; the failed ids.
    async fn work(&self) -> Vec<String> {
        let messages = self
            .events
            .take()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let body = serde_json::to_string(e).expect("event");
                for canary in support::canaries() {
                    assert!(!body.contains(canary), "shipment events carry ids only");
                }
                rc_jobs::QueueMessage {
                    id: format!("s{i}"),
                    body,
                }
            })
            .collect();
        let sync = Arc::new(self.stack.services.inventory_sync(&self.stack.channels));
        self.stack
            .services
            .fulfillment_worker(&self.stack.channels, sync)
            .handle_batch(messages)
            .await
    }

    /// Sends the shipment's event again (a redelivery, or a retry come due).
    async fn resend(&self, shipment: &str) {
        self.stack
            .services
            .shipment_events
            .send(&[rc_queue::ShipmentEvent {
                merchant: merchant().to_string(),
                shipment: shipment.to_owned(),
            }])
            .await
            .expect("send");
    }

    /// Gives the Shopify order one open fulfillment order holding its lines.
    fn open_shopify(&self, order: u64, lines: &[(u64, String, i64)]) {
        let lines: Vec<(u64, &str, i64)> =
            lines.iter().map(|(i, s, q)| (*i, s.as_str(), *q)).collect();
        self.shopify.state().open_order(order, &lines);
    }

    fn violations(&self) -> Vec<String> {
        let mut all = self.shopify.state().violations.clone();
        all.extend(self.amazon.state().violations.iter().cloned());
        all.extend(self.courier.state().violations.iter().cloned());
        all
    }
}

/// The Shopify order's lines as (line item id, sku, quantity), for its fulfillment order.
fn shopify_lines(view: &serde_json::Value) -> Vec<(u64, String, i64)> {
    view["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["line_id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .expect("the Shopify line id is kept"),
                l["sku"].as_str().expect("sku").to_owned(),
                l["quantity"].as_i64().expect("quantity"),
            )
        })
        .collect()
}

async fn tracking_drives_the_order_and_confirms_it_once(stack: Stack) {
    let logs = support::capture_all_logs();
    let f = fulfil(stack).await;
    let id = 8201;
    f.stack.ingest(id).await;
    let order = format!("shopify-{id}");
    let view = f.order(&order).await;
    let lines = shopify_lines(&view);
    for (_, sku, _) in &lines {
        f.stock(sku, "main", 5).await;
    }
    f.label().await;
    let shipment = format!("{order}.1");
    let code = f.tracking_code(&shipment).await;
    f.open_shopify(id, &lines);
    let (sku, _, _) = (&lines[0].1, 0, 0);
    assert_eq!(f.level(sku, "main").await.1, lines[0].2, "reserved");
    f.stack.clock.advance(time::Duration::hours(6));

    // Forged, unsigned, to an unknown hook, the wrong method: refused, nothing recorded.
    let body = easypost::tracker_event("evt_1", &code, &[("in_transit", &at(3))]);
    let forged = rc_couriers::sign_easypost("not-the-secret", &body);
    for (path, signature, status) in [
        (f.hook.as_str(), Some(forged.as_str()), 401),
        (f.hook.as_str(), None, 401),
        ("/tracking/00000000000000000000000000000000", None, 401),
        ("/tracking/not-a-hook", None, 401),
        ("/tracking", None, 404),
    ] {
        let (got, answer) = f.notify(path, &body, signature).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let signed_garbage = b"{not json";
    let signature = rc_couriers::sign_easypost(WEBHOOK_SECRET, signed_garbage);
    let (status, answer) = f.notify(&f.hook, signed_garbage, Some(&signature)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("malformed_json"))
    );
    assert_eq!(f.shipment(&shipment).await["status"], "label_created");

    // Picked up at 03:00 (its detail says so), reported with its history.
    let (status, answer) = f
        .track(
            "evt_1",
            &code,
            &[("pre_transit", &at(1)), ("in_transit", &at(3))],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["moved"], true, "{answer}");
    // The same notification again, and one from before: nothing moves.
    let (status, answer) = f
        .track(
            "evt_1",
            &code,
            &[("pre_transit", &at(1)), ("in_transit", &at(3))],
        )
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    let (status, answer) = f.track("evt_0", &code, &[("pre_transit", &at(2))]).await;
    assert_eq!(
        (status, answer["moved"].as_bool()),
        (200, Some(false)),
        "{answer}"
    );
    let (status, answer) = f
        .track("evt_x", "9400999999999999999999", &[("in_transit", &at(3))])
        .await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (200, Some("unknown_shipment"))
    );
    let record = f.shipment(&shipment).await;
    assert_eq!(record["status"], "in_transit", "{record}");
    let text = record.to_string();
    for canary in support::canaries() {
        assert!(
            !text.contains(canary),
            "no courier free text is kept: {text}"
        );
    }
    let history = record["history"].as_array().expect("history");
    assert!(history.iter().all(|h| h.get("message").is_none()));
    assert_eq!(
        history.iter().filter(|h| h["outcome"] == "moved").count(),
        1,
        "{history:?}"
    );

    // The worker: stock leaves, the order ships at the pickup, Shopify is told once.
    assert!(f.work().await.is_empty());
    let (on_hand, reserved) = f.level(sku, "main").await;
    assert_eq!(
        (on_hand, reserved),
        (5 - lines[0].2, 0),
        "consumed at pickup"
    );
    let view = f.order(&order).await;
    assert_eq!(view["status"], "shipped", "{view}");
    let pickup = start_time() + time::Duration::hours(3);
    let deadline = (pickup + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    assert_eq!(view["pii_deadline"]["at"], deadline.as_str(), "{view}");
    assert_eq!(view["pii_deadline"]["rule"], "shipped");
    {
        let shop = f.shopify.state();
        assert_eq!(shop.fulfillment_creates, 1);
        assert_eq!(shop.tracking_numbers(id), vec![code.clone()]);
        assert_eq!(
            shop.notified,
            vec![true],
            "notifyCustomer as the merchant set it"
        );
        let remaining: i64 = shop.fulfillment_orders[&id][0]["lineItems"]["nodes"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["remainingQuantity"].as_i64().expect("n"))
            .sum();
        assert_eq!(remaining, 0, "every line fulfilled");
    }
    let record = f.shipment(&shipment).await;
    assert_eq!(record["confirmation"]["state"], "confirmed", "{record}");

    // Redelivered events and a later run: nothing twice.
    f.resend(&shipment).await;
    assert!(f.work().await.is_empty());
    assert_eq!(f.shopify.state().fulfillment_creates, 1);
    assert_eq!(f.level(sku, "main").await, (on_hand, reserved));

    // Out for delivery, delivered: the order is delivered; its deadline did not move.
    let (status, _) = f
        .track(
            "evt_2",
            &code,
            &[
                ("in_transit", &at(3)),
                ("out_for_delivery", &at(4)),
                ("delivered", &at(5)),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(f.work().await.is_empty());
    let view = f.order(&order).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["pii_deadline"]["at"], deadline.as_str());
    // Nothing moves after delivery.
    let (_, answer) = f.track("evt_3", &code, &[("in_transit", &at(6))]).await;
    assert_eq!(answer["moved"], false);

    // Nothing of the buyer in plaintext anywhere in the store (tracking records included), then
    // the purge at the deadline takes the PII and the label; no courier record brings it back.
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    let raw = f.stack.raw_bytes().await;
    for canary in support::canaries() {
        assert!(
            !contains(&raw, canary),
            "{canary} in plaintext in the store"
        );
    }
    assert!(!walk(f.labels_dir.path()).is_empty(), "the label is stored");
    f.stack.clock.advance(time::Duration::days(31));
    let report = f
        .stack
        .services
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("privacy run");
    assert_eq!(report.purge.purged, 1, "purged at its deadline");
    let view = f.order(&order).await;
    assert_eq!(view["buyer_pii"], "purged");
    assert!(view["pii_deadline"].is_null());
    let labels: Vec<_> = walk(f.labels_dir.path());
    assert!(labels.is_empty(), "the label copy is erased: {labels:?}");
    let (status, _) = f
        .stack
        .api_as(
            PII_KEY,
            "GET",
            &format!("/v1/shipments/{shipment}/label"),
            "",
            &[],
        )
        .await;
    assert_eq!(status, 404, "no label after the purge");
    let record = f.shipment(&shipment).await;
    assert_eq!(
        record["status"], "delivered",
        "the shipment's facts stay: {record}"
    );
    let raw = f.stack.raw_bytes().await;
    for canary in support::canaries() {
        assert!(
            !contains(&raw, canary),
            "{canary} in plaintext after the purge"
        );
    }

    assert!(f.violations().is_empty(), "{:?}", f.violations());
    let text = logs.text();
    for canary in support::canaries() {
        assert!(!text.contains(canary), "a canary reached the logs");
    }
    assert!(
        !text.contains(WEBHOOK_SECRET) && !text.contains("webhook-s"),
        "the secret is never logged"
    );
}

#[tokio::test]
async fn tracking_drives_the_order_and_confirms_it_once_embedded() {
    tracking_drives_the_order_and_confirms_it_once(embedded().await).await;
}

#[tokio::test]
async fn tracking_drives_the_order_and_confirms_it_once_dynamodb() {
    tracking_drives_the_order_and_confirms_it_once(moto().await).await;
}

const SELLER: &str = "A2SELLERTRACK01";
const AMAZON_ORDER: &str = "113-0000042-0000001";

/// An Amazon order of two lines (one SKU stocked only in each warehouse), as the notification
/// path stores it, and Amazon's own copy for the stand-in.
async fn amazon_order(f: &Fulfil) -> String {
    use rc_domain::{
        BuyerPii, Channel, Currency, LineItem, Money, Order, OrderStatus, OrderTotals, Pii,
        Quantity, ShipToRegion,
    };
    let id = format!("amazon-{AMAZON_ORDER}");
    let usd = Currency::parse("USD").expect("usd");
    let money = |m| Money::from_minor(m, usd).expect("money");
    let address = support::canary_address();
    let placed = start_time() - time::Duration::hours(2);
    let line = |sku: &str, item: &str| LineItem {
        charges: Default::default(),
        sku: Sku::parse(sku).expect("sku"),
        quantity: Quantity::new(1).expect("quantity"),
        unit_price: money(1000),
        line_id: Some(item.to_owned()),
    };
    let order = Order {
        channel_tax: Default::default(),
        merchant: merchant(),
        id: rc_domain::OrderId::parse(&id).expect("id"),
        channel: Channel::Amazon,
        channel_reference: AMAZON_ORDER.into(),
        marketplace: Some("ATVPDKIKX0DER".into()),
        status: OrderStatus::Received,
        placed_at: placed,
        channel_updated_at: placed,
        currency: usd,
        lines: vec![
            line("AMZ-MUG", "11111111111111"),
            line("AMZ-CAP", "22222222222222"),
        ],
        totals: OrderTotals {
            subtotal: money(2000),
            tax: money(0),
            shipping: money(0),
            total: money(2000),
        },
        ship_to: Some(ShipToRegion::of(&address)),
        buyer: BuyerPii {
            shipping_address: Some(Pii::new(address)),
            ..BuyerPii::default()
        },
    };
    f.stack
        .services
        .orders
        .upsert(&order, None)
        .await
        .expect("stored");
    // Amazon's copy: the published model's example order, made this one.
    let mut amazon: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/channels/fixtures/amazon-get-order.json"
    ))
    .expect("fixture");
    let mut copy = amazon["order"].take();
    copy["orderId"] = serde_json::json!(AMAZON_ORDER);
    copy["salesChannel"]["marketplaceId"] = serde_json::json!("ATVPDKIKX0DER");
    copy["fulfillment"]["fulfillmentStatus"] = serde_json::json!("UNSHIPPED");
    let template = copy["orderItems"][0].clone();
    copy["orderItems"] = serde_json::json!(
        [
            [("11111111111111", "AMZ-MUG")],
            [("22222222222222", "AMZ-CAP")]
        ]
        .iter()
        .flatten()
        .map(|(item, sku)| {
            let mut line = template.clone();
            line["orderItemId"] = serde_json::json!(item);
            line["quantityOrdered"] = serde_json::json!(1);
            line["product"]["sellerSku"] = serde_json::json!(sku);
            line
        })
        .collect::<Vec<_>>()
    );
    f.amazon.state().orders.insert(AMAZON_ORDER.into(), copy);
    id
}

async fn connect_amazon(f: &Fulfil) {
    f.stack
        .services
        .connections
        .put_amazon(
            &merchant(),
            &support::id(SELLER),
            &[support::id("ATVPDKIKX0DER")],
            &rc_domain::LwaCredentials {
                client_id: sp_api::CLIENT_ID.into(),
                client_secret: secret(sp_api::CLIENT_SECRET),
                refresh_token: secret(sp_api::REFRESH_TOKEN),
                region: rc_domain::Region::NorthAmerica,
            },
        )
        .await
        .expect("connected");
}

async fn two_packages_a_day_apart_ship_with_the_second(stack: Stack) {
    let f = fulfil(stack).await;
    connect_amazon(&f).await;
    f.stock("AMZ-MUG", "main", 3).await;
    f.stock("AMZ-CAP", "east", 3).await;
    let order = amazon_order(&f).await;
    f.label().await;
    let (first, second) = (format!("{order}.1"), format!("{order}.2"));
    let first_code = f.tracking_code(&first).await;
    let second_code = f.tracking_code(&second).await;

    // The first leaves at +3 h: stock from its warehouse only; the order has not shipped.
    f.stack.clock.advance(time::Duration::hours(4));
    f.track("evt_a1", &first_code, &[("in_transit", &at(3))])
        .await;
    // Amazon is unavailable for a while: retried inside the call, then by the queue.
    // Amazon throttles, then is unavailable for a while: retried inside the call (three tries),
    // then by the queue.
    f.amazon.state().confirm_script.extend([
        (429, "QuotaExceeded"),
        (503, "ServiceUnavailable"),
        (503, "ServiceUnavailable"),
    ]);
    let failed = f.work().await;
    assert_eq!(failed.len(), 1, "the confirmation comes back later");
    let record = f.shipment(&first).await;
    assert_eq!(record["confirmation"]["state"], "pending", "{record}");
    assert_eq!(record["confirmation"]["reason"], "unavailable");
    assert_eq!(f.order(&order).await["status"], "label_created");
    assert_eq!(f.level("AMZ-MUG", "main").await, (2, 0));
    assert_eq!(f.level("AMZ-CAP", "east").await, (3, 1), "not yet");
    assert!(f.amazon.state().packages.is_empty());

    // A day later the second leaves; the retry of the first is due by then.
    f.stack.clock.advance(time::Duration::hours(24));
    f.track("evt_b1", &second_code, &[("in_transit", &at(27))])
        .await;
    f.resend(&first).await;
    assert!(f.work().await.is_empty());
    let view = f.order(&order).await;
    assert_eq!(view["status"], "shipped");
    let deadline = (start_time() + time::Duration::hours(27) + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    assert_eq!(
        view["pii_deadline"]["at"],
        deadline.as_str(),
        "from the second pickup"
    );
    assert_eq!(f.level("AMZ-CAP", "east").await, (2, 0));
    {
        let amazon = f.amazon.state();
        let refs: Vec<&String> = amazon.packages.keys().map(|(_, r)| r).collect();
        assert_eq!(
            refs,
            vec!["1", "2"],
            "one package each, by its own reference"
        );
        let one = &amazon.packages[&(AMAZON_ORDER.to_owned(), "1".to_owned())];
        assert_eq!(one["trackingNumber"], first_code.as_str());
        assert_eq!(one["carrierCode"], "USPS");
        assert_eq!(
            one["orderItems"],
            serde_json::json!([{"orderItemId": "11111111111111", "quantity": 1}])
        );
        assert_eq!(one["shipDate"], at(3).as_str(), "the pickup time, ISO 8601");
    }

    // Told again (a redelivery), Amazon answers with a refusal of a package it holds, and its
    // order already shows shipped: read back, confirmed, nothing added.
    for shipment in [&first, &second] {
        let mut record = f
            .stack
            .services
            .shipments
            .get(
                &merchant(),
                &rc_domain::ShipmentId::parse(shipment).expect("id"),
            )
            .await
            .expect("get")
            .expect("shipment");
        let was = record.status;
        if let Some(c) = record.confirmation.as_mut() {
            c.state = rc_domain::ConfirmationState::Pending;
        }
        f.stack
            .services
            .shipments
            .save(&merchant(), &mut record, was)
            .await
            .expect("save");
    }
    f.amazon
        .state()
        .confirm_script
        .push_back((400, "InvalidInput"));
    f.amazon
        .state()
        .orders
        .get_mut(AMAZON_ORDER)
        .expect("order")["fulfillment"]["fulfillmentStatus"] = serde_json::json!("SHIPPED");
    f.resend(&first).await;
    assert!(f.work().await.is_empty());
    let record = f.shipment(&first).await;
    assert_eq!(record["confirmation"]["state"], "confirmed", "{record}");
    assert_eq!(record["confirmation"]["reason"], "already_confirmed");
    assert_eq!(f.amazon.state().packages.len(), 2, "never a third package");
    assert!(f.violations().is_empty(), "{:?}", f.violations());
}

#[tokio::test]
async fn two_packages_a_day_apart_ship_with_the_second_embedded() {
    two_packages_a_day_apart_ship_with_the_second(embedded().await).await;
}

#[tokio::test]
async fn two_packages_a_day_apart_ship_with_the_second_dynamodb() {
    two_packages_a_day_apart_ship_with_the_second(moto().await).await;
}

/// A lost webhook is caught by polling; the parcel then comes back and is restocked once.
async fn polling_catches_a_lost_webhook_and_a_return_restocks_once(stack: Stack) {
    let f = fulfil(stack).await;
    let (order, lines, shipment, code) = f.labelled(8203).await;
    // The courier has it in transit, but its webhook never came.
    f.courier_reports(&code, vec![("in_transit".into(), at(2))]);
    let poller = f.stack.services.tracking_poller(&f.stack.channels);
    let mut report = rc_fulfillment::PollReport::default();
    f.stack.clock.advance(time::Duration::hours(3));
    poller
        .run_merchant(&merchant(), &mut report)
        .await
        .expect("poll");
    assert_eq!(report.polled, 0, "not silent long enough (12 h by default)");
    f.stack.clock.advance(time::Duration::hours(10));
    poller
        .run_merchant(&merchant(), &mut report)
        .await
        .expect("poll");
    assert_eq!((report.polled, report.moved), (1, 1), "{report:?}");
    assert!(f.work().await.is_empty());
    assert_eq!(f.order(&order).await["status"], "shipped");
    let sku = lines[0].1.clone();
    let after_pickup = f.level(&sku, "main").await;
    assert_eq!(after_pickup, (5 - lines[0].2, 0));

    // It comes back: on its way, then delivered to the sender — returned, restocked once.
    let details = [
        ("in_transit", at(2)),
        ("return_to_sender", at(20)),
        ("delivered", at(40)),
    ];
    let details: Vec<(&str, &str)> = details.iter().map(|(s, t)| (*s, t.as_str())).collect();
    f.stack.clock.advance(time::Duration::hours(30));
    let (status, answer) = f.track("evt_r", &code, &details).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(f.shipment(&shipment).await["status"], "returned");
    assert!(f.work().await.is_empty());
    f.resend(&shipment).await;
    assert!(f.work().await.is_empty());
    assert_eq!(f.level(&sku, "main").await, (5, 0), "back once");
    let (_, ledger) = f.stack.api("GET", "/v1/inventory-ledger", "").await;
    let returns = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "return")
        .count();
    assert_eq!(returns, 1, "{ledger}");
    assert_eq!(
        f.order(&order).await["status"],
        "shipped",
        "not delivered to the buyer"
    );
    assert!(f.violations().is_empty(), "{:?}", f.violations());
}

#[tokio::test]
async fn polling_catches_a_lost_webhook_and_a_return_restocks_once_embedded() {
    polling_catches_a_lost_webhook_and_a_return_restocks_once(embedded().await).await;
}

#[tokio::test]
async fn polling_catches_a_lost_webhook_and_a_return_restocks_once_dynamodb() {
    polling_catches_a_lost_webhook_and_a_return_restocks_once(moto().await).await;
}

/// A parcel the courier stops reporting on: after five quiet days (and a poll that heard
/// nothing new) it is listed for the merchant; the next courier event takes it off the list.
async fn a_parcel_the_courier_goes_quiet_about_is_listed_until_it_moves(stack: Stack) {
    let f = fulfil(stack).await;
    let (_, _, shipment, code) = f.labelled(8207).await;
    let (status, answer) = f.track("evt_q1", &code, &[("in_transit", &at(2))]).await;
    assert_eq!(status, 200, "{answer}");
    let stalled = || async {
        let (status, body) = f.stack.api("GET", "/v1/tracking?state=stalled", "").await;
        assert_eq!(status, 200, "{body}");
        body["shipments"]
            .as_array()
            .expect("shipments")
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let poller = f.stack.services.tracking_poller(&f.stack.channels);
    let mut report = rc_fulfillment::PollReport::default();
    // The courier knows nothing newer; a day later the poll asks and hears the same.
    f.courier_reports(&code, vec![("in_transit".into(), at(2))]);
    f.stack.clock.advance(time::Duration::days(1));
    poller
        .run_merchant(&merchant(), &mut report)
        .await
        .expect("poll");
    assert_eq!(report.polled, 1, "{report:?}");
    assert!(stalled().await.is_empty(), "one quiet day is normal");
    // Five more quiet days: listed.
    f.stack.clock.advance(time::Duration::days(5));
    poller
        .run_merchant(&merchant(), &mut report)
        .await
        .expect("poll");
    assert_eq!(stalled().await, [shipment.as_str()]);
    assert_eq!(f.shipment(&shipment).await["stalled"], true);
    // Asked again an hour later (a repeated run): still listed once.
    f.stack.clock.advance(time::Duration::hours(13));
    poller
        .run_merchant(&merchant(), &mut report)
        .await
        .expect("poll");
    assert_eq!(stalled().await, [shipment.as_str()]);

    // The courier speaks again: off the list.
    let (status, answer) = f
        .track(
            "evt_q2",
            &code,
            &[("in_transit", &at(2)), ("out_for_delivery", &at(150))],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(stalled().await.is_empty());
    assert_eq!(f.shipment(&shipment).await["stalled"], false);
    let (status, refused) = f.stack.api("GET", "/v1/tracking?state=quiet", "").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("unknown_filter"))
    );
    assert!(f.violations().is_empty(), "{:?}", f.violations());
}

#[tokio::test]
async fn a_parcel_the_courier_goes_quiet_about_is_listed_until_it_moves_embedded() {
    a_parcel_the_courier_goes_quiet_about_is_listed_until_it_moves(embedded().await).await;
}

#[tokio::test]
async fn a_parcel_the_courier_goes_quiet_about_is_listed_until_it_moves_dynamodb() {
    a_parcel_the_courier_goes_quiet_about_is_listed_until_it_moves(moto().await).await;
}

/// Shipped outside RetailCoder with a tracking number: confirmed like any package; a changed
/// number is an update of the same fulfillment; bad input refused with its reason.
async fn shipped_outside_is_confirmed_the_same_way(stack: Stack) {
    let f = fulfil(stack).await;
    let id = 8204;
    f.stack.ingest(id).await;
    let order = format!("shopify-{id}");
    let lines = shopify_lines(&f.order(&order).await);
    f.open_shopify(id, &lines);
    let path = format!("/v1/orders/{order}/shipped");
    for (body, reason) in [
        (r#"{"carrier": "UPS"}"#, "missing_field"),
        (r#"{"tracking_number": "1Z999"}"#, "missing_field"),
        (
            r#"{"carrier": "UPS", "tracking_number": "1Z 999 <b>"}"#,
            "invalid_field",
        ),
        (
            r#"{"carrier": "", "tracking_number": "1Z999"}"#,
            "invalid_field",
        ),
        (
            r#"{"carrier": "UPS", "tracking_number": "1Z999", "buyer": "x"}"#,
            "malformed_json",
        ),
    ] {
        let (status, answer) = f.stack.api("POST", &path, body).await;
        assert!(matches!(status, 400 | 422), "{body}: {status} {answer}");
        assert_eq!(answer["error"], reason, "{body}: {answer}");
    }
    assert_eq!(
        f.order(&order).await["status"],
        "received",
        "nothing changed"
    );
    // Shopify is throttling at first: retried.
    f.shopify.state().graphql_throttled = 1;
    let (status, answer) = f
        .stack
        .api(
            "POST",
            &path,
            r#"{"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}"#,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "shipped");
    assert!(f.work().await.is_empty());
    assert_eq!(f.shopify.state().fulfillment_creates, 1);
    assert_eq!(
        f.shopify.state().tracking_numbers(id),
        vec!["1Z999AA10123456784".to_owned()]
    );
    // The same again: nothing new. A corrected number: an update, never a second fulfillment.
    f.stack
        .api(
            "POST",
            &path,
            r#"{"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}"#,
        )
        .await;
    assert!(f.work().await.is_empty());
    let (status, _) = f
        .stack
        .api(
            "POST",
            &path,
            r#"{"carrier": "UPS", "tracking_number": "1Z999AA10123456799"}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert!(f.work().await.is_empty());
    {
        let shop = f.shopify.state();
        assert_eq!(shop.fulfillment_creates, 1);
        assert_eq!(shop.tracking_updates, 1);
        assert_eq!(
            shop.tracking_numbers(id),
            vec!["1Z999AA10123456799".to_owned()]
        );
    }
    let (_, shipments) = f
        .stack
        .api("GET", &format!("/v1/orders/{order}/shipments"), "")
        .await;
    let external: Vec<_> = shipments["shipments"]
        .as_array()
        .expect("shipments")
        .iter()
        .filter(|s| !s["external"].is_null())
        .collect();
    assert_eq!(external.len(), 1, "{shipments}");
    assert_eq!(external[0]["confirmation"]["state"], "confirmed");
    let view = f.order(&order).await;
    assert_eq!(view["pii_deadline"]["rule"], "shipped", "{view}");
    assert!(f.violations().is_empty(), "{:?}", f.violations());
}

#[tokio::test]
async fn shipped_outside_is_confirmed_the_same_way_embedded() {
    shipped_outside_is_confirmed_the_same_way(embedded().await).await;
}

#[tokio::test]
async fn shipped_outside_is_confirmed_the_same_way_dynamodb() {
    shipped_outside_is_confirmed_the_same_way(moto().await).await;
}

/// Shiprocket's tracking webhook: the panel token in `x-api-key`, its shipment status codes in
/// India time; anything else refused, an unknown code recorded but never guessed.
#[tokio::test]
async fn shiprocket_tracking_is_authenticated_by_its_token_and_mapped_explicitly() {
    let mut f = fulfil(embedded().await).await;
    let courier = support::shiprocket::start().await;
    f.stack.channels = f.stack.channels.clone().with_shiprocket(courier.base());
    let (status, body) = f
        .stack
        .api(
            "PUT",
            "/v1/warehouses/main",
            &warehouse("main", "KY", 1).replace(r#""kind": "easypost""#, r#""kind": "shiprocket""#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = "sr-panel-token-7781";
    let login = format!(
        r#"{{"email": "{}", "password": "{}", "pickup_location": "{}", "webhook_secret": "{token}"}}"#,
        support::shiprocket::EMAIL,
        support::shiprocket::PASSWORD,
        support::shiprocket::PICKUP
    );
    let (status, body) = f
        .stack
        .api("PUT", "/v1/couriers/shiprocket/main", &login)
        .await;
    assert_eq!(status, 201, "{body}");
    let hook = body["tracking_webhook"].as_str().expect("hook").to_owned();
    assert!(!body.to_string().contains(token), "never echoed");
    let id = 8205;
    f.stack.ingest(id).await;
    let order = format!("shopify-{id}");
    for (_, sku, _) in shopify_lines(&f.order(&order).await) {
        f.stock(&sku, "main", 5).await;
    }
    f.label().await;
    let shipment = format!("{order}.1");
    let awb = f.tracking_code(&shipment).await;
    let event = |code: u32, at: &str| {
        serde_json::to_vec(&serde_json::json!({
            "awb": awb, "courier_name": "Xpressbees", "current_status": "IN TRANSIT",
            "current_status_id": 20, "shipment_status": "IN TRANSIT", "shipment_status_id": code,
            "current_timestamp": at, "order_id": shipment, "sr_order_id": 1, "etd": "",
            "scans": [{"date": at, "activity": "7781 Kanarienweg", "location": "Zyxwvutville"}],
            "is_return": 0, "channel_id": 1
        }))
        .expect("body")
    };
    let picked = event(42, "25 11 2026 07:30:00");
    let easypost_signed = rc_couriers::sign_easypost(token, &picked);
    for headers in [
        vec![("x-api-key", "wrong-token")],
        vec![],
        vec![("x-hmac-signature", easypost_signed.as_str())],
    ] {
        let (status, answer) = f.notify_with(&hook, &picked, &headers).await;
        assert_eq!(status, 401, "{headers:?}: {answer}");
    }
    // The EasyPost hook does not take Shiprocket's token either.
    let (status, _) = f
        .notify_with(&f.hook, &picked, &[("x-api-key", token)])
        .await;
    assert_eq!(status, 401);
    f.stack.clock.advance(time::Duration::hours(8));
    let (status, answer) = f.notify_with(&hook, &picked, &[("x-api-key", token)]).await;
    assert_eq!(
        (status, answer["moved"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let (status, answer) = f.notify_with(&hook, &picked, &[("x-api-key", token)]).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    let unknown = event(99, "25 11 2026 07:45:00");
    let (status, answer) = f
        .notify_with(&hook, &unknown, &[("x-api-key", token)])
        .await;
    assert_eq!(
        (status, answer["moved"].as_bool()),
        (200, Some(false)),
        "{answer}"
    );
    let bad = event(18, "yesterday");
    let (status, answer) = f.notify_with(&hook, &bad, &[("x-api-key", token)]).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_field")),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains("yesterday"),
        "no request values in errors"
    );
    let record = f.shipment(&shipment).await;
    assert_eq!(record["status"], "picked_up", "{record}");
    // 07:30 India time is 02:00 UTC.
    let left = (start_time() + time::Duration::hours(2)).unix_timestamp();
    assert_eq!(record["journey"]["left_at"], left, "{record}");
    let history = record["history"].as_array().expect("history");
    assert!(
        history
            .iter()
            .any(|h| h["courier_status"] == "99" && h["outcome"] == "unknown")
    );
    assert!(
        !record.to_string().contains("Kanarienweg"),
        "scan text is never kept"
    );

    // The EasyPost account replaced without a webhook secret: its webhook is off, its hook gone.
    let (status, body) = f
        .stack
        .api(
            "PUT",
            "/v1/couriers/easypost/main",
            &format!(r#"{{"api_key": "{}"}}"#, easypost::API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["tracking_webhook"].is_null(), "{body}");
    let registry = rc_store::ItemKey::new(
        format!("HOOK#{}", f.hook.trim_start_matches("/tracking/")),
        "HOOK",
    );
    assert!(
        f.stack
            .services
            .data
            .get(&registry)
            .await
            .expect("read")
            .is_none()
    );

    // The account is cancelled: its hooks go with it, and answer as unknown.
    let (status, answer) = f
        .stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm": "{MERCHANT}"}}"#),
        )
        .await;
    assert!(matches!(status, 200 | 202), "{answer}");
    f.stack
        .services
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("privacy run");
    for path in [&hook, &f.hook] {
        let registry = rc_store::ItemKey::new(
            format!("HOOK#{}", path.trim_start_matches("/tracking/")),
            "HOOK",
        );
        assert!(
            f.stack
                .services
                .data
                .get(&registry)
                .await
                .expect("read")
                .is_none(),
            "{path} is gone"
        );
        let (status, _) = f.notify_with(path, &picked, &[("x-api-key", token)]).await;
        assert_eq!(status, 401);
    }
}

/// A marketplace that refuses a package (its carrier, say): failed with Amazon's code, never
/// retried blindly, and told again when the merchant asks; a package sent outside RetailCoder
/// with a carrier not on Amazon's list goes as `Other` with its name. Per line, the order shows
/// what left.
#[tokio::test]
async fn a_refused_confirmation_fails_with_its_code_until_asked_again() {
    let f = fulfil(embedded().await).await;
    connect_amazon(&f).await;
    let order = amazon_order(&f).await;
    f.amazon
        .state()
        .confirm_script
        .push_back((400, "InvalidInput"));
    let (status, answer) = f
        .stack
        .api(
            "POST",
            &format!("/v1/orders/{order}/shipped"),
            r#"{"carrier": "Teleport Express", "tracking_number": "TX-000123"}"#,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let package = answer["package"]["id"]
        .as_str()
        .expect("package")
        .to_owned();
    assert!(f.work().await.is_empty(), "a refusal is not retried");
    let record = f.shipment(&package).await;
    assert_eq!(record["confirmation"]["state"], "failed", "{record}");
    assert_eq!(record["confirmation"]["reason"], "refused");
    assert_eq!(record["confirmation"]["code"], "InvalidInput");
    assert!(f.amazon.state().packages.is_empty());
    // Nothing to confirm for a shipment that has not left; a failed one is tried again on demand.
    let (status, answer) = f
        .stack
        .api("POST", &format!("/v1/shipments/{order}.9/confirm"), "")
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = f
        .stack
        .api("POST", &format!("/v1/shipments/{package}/confirm"), "")
        .await;
    assert_eq!(status, 202, "{answer}");
    assert!(f.work().await.is_empty());
    let record = f.shipment(&package).await;
    assert_eq!(record["confirmation"]["state"], "confirmed", "{record}");
    let (status, answer) = f
        .stack
        .api("POST", &format!("/v1/shipments/{package}/confirm"), "")
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("already_confirmed"))
    );
    {
        let amazon = f.amazon.state();
        let sent = amazon.packages.values().next().expect("a package");
        assert_eq!(sent["carrierCode"], "Other");
        assert_eq!(sent["carrierName"], "Teleport Express");
        assert_eq!(sent["trackingNumber"], "TX-000123");
        assert_eq!(
            sent["orderItems"].as_array().map(Vec::len),
            Some(2),
            "every line of the order"
        );
    }
    let (status, shipments) = f
        .stack
        .api("GET", &format!("/v1/orders/{order}/shipments"), "")
        .await;
    assert_eq!(status, 200);
    let lines = shipments["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["shipped"] == 1 && l["delivered"] == 0),
        "{lines:?}"
    );
    // Settings: bad input refused by field; notify_customer kept.
    for (body, reason) in [
        (
            r#"{"notify_customer": true, "poll_after_hours": 0}"#,
            "invalid_field",
        ),
        (
            r#"{"notify_customer": "yes", "poll_after_hours": 12}"#,
            "invalid_body",
        ),
    ] {
        let (status, answer) = f.stack.api("PUT", "/v1/settings/fulfillment", body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (422, Some(reason)),
            "{body}"
        );
    }
    let (status, _) = f
        .stack
        .api(
            "PUT",
            "/v1/settings/fulfillment",
            r#"{"notify_customer": false, "poll_after_hours": 6}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (_, settings) = f.stack.api("GET", "/v1/settings/fulfillment", "").await;
    assert_eq!(settings["poll_after_hours"], 6);
    assert!(f.violations().is_empty(), "{:?}", f.violations());
}
