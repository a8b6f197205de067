//! Pushing stock to the channels: only changed values, the fewest calls each API allows, every
//! request checked against the API's documented shape, recovery when Shopify's compare fails,
//! and one channel's outage never blocking another. Then the whole path: an order arriving
//! reserves stock and its new quantity is pushed.

use crate::support;

use std::sync::Arc;

use rc_channels::amazon::{Endpoints, RetryPolicy, SpApiClient};
use rc_channels::shopify::{ShopDomain, ShopifyAdmin};
use rc_domain::{Secret, SecretText, Sku, WarehouseId};
use rc_inventory::{Adjustment, ChannelAllocation, ListingTarget};
use rc_orders::ShopifyCredentials;
use support::Channels;
use support::privacy_stack::*;
use support::shopify_admin::ACCESS_TOKEN as SHOPIFY_TOKEN;

const SELLER: &str = "A2SELLERTEST";
const MARKETPLACE: &str = "ATVPDKIKX0DER";

fn secret(s: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(s).expect("secret"))
}

async fn connect(stack: &Stack) {
    stack
        .services
        .connections
        .put_shopify(
            &merchant(),
            &ShopDomain::parse(SHOP).expect("shop"),
            &ShopifyCredentials {
                webhook_secret: secret(SECRET),
                previous_webhook_secret: None,
                access_token: Some(secret(SHOPIFY_TOKEN)),
            },
        )
        .await
        .expect("shop");
    stack
        .services
        .connections
        .put_amazon(
            &merchant(),
            &crate::support::id(SELLER),
            &[crate::support::id(MARKETPLACE)],
            &rc_channels::amazon::Credentials {
                client_id: support::sp_api::CLIENT_ID.into(),
                client_secret: secret(support::sp_api::CLIENT_SECRET),
                refresh_token: secret(support::sp_api::REFRESH_TOKEN),
                region: rc_channels::amazon::Region::NorthAmerica,
            },
        )
        .await
        .expect("seller");
}

fn sync_for(stack: &Stack, channels: &Channels) -> rc_jobs::InventorySync {
    rc_jobs::InventorySync::new(
        stack.services.stock.clone(),
        stack.services.listings.clone(),
        stack.services.connections.clone(),
        Arc::new(ShopifyAdmin::new(Some(channels.shopify.base()))),
        Arc::new(SpApiClient::with_retry(
            Endpoints::all_at(channels.amazon.base(), channels.amazon.base()),
            RetryPolicy {
                attempts: 2,
                first_backoff: std::time::Duration::from_millis(10),
            },
        )),
    )
}

fn sku(n: u32) -> Sku {
    Sku::parse(&format!("SYNC-{n:04}")).expect("sku")
}

async fn stock(stack: &Stack, sku: &Sku, quantity: i64) {
    stack
        .services
        .stock
        .adjust(
            &merchant(),
            sku,
            &WarehouseId::parse("main").expect("warehouse"),
            Adjustment::Receive { quantity },
            "initial",
            "test",
        )
        .await
        .expect("stock");
}

fn shopify_listing(n: u32) -> ListingTarget {
    ListingTarget::Shopify {
        shop: crate::support::id(SHOP),
        location_id: 7,
        inventory_item_id: 1000 + u64::from(n),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_changed_skus_take_four_shopify_calls_and_nothing_unchanged_is_sent() {
    let stack = embedded().await;
    connect(&stack).await;
    let channels = Channels::start().await;
    let mut skus = Vec::new();
    for n in 0..1000 {
        let sku = sku(n);
        stock(&stack, &sku, 10).await;
        stack
            .services
            .listings
            .put(
                &merchant(),
                &sku,
                &shopify_listing(n),
                ChannelAllocation {
                    safety_buffer: 2,
                    percent: 50,
                    max: None,
                },
            )
            .await
            .expect("listing");
        channels
            .shopify
            .state()
            .stocked
            .push((1000 + u64::from(n), 7));
        skus.push(sku);
    }
    let sync = sync_for(&stack, &channels);
    let report = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (report.pushed, report.shopify_calls),
        (1000, 4),
        "{report:?}"
    );
    assert!(
        channels.violations().is_empty(),
        "{:?}",
        channels.violations()
    );
    assert_eq!(
        channels.shopify.state().levels[&(1000, 7)],
        4,
        "(10 - 2) * 50% = 4"
    );
    let again = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (again.pushed, again.shopify_calls, again.unchanged),
        (0, 0, 1000)
    );

    // Someone sold one on Shopify: our compare fails, we read and set from there, once.
    channels.shopify.state().levels.insert((1000, 7), 3);
    stock(&stack, &skus[0], 4).await; // 14 free -> (14 - 2) * 50% = 6
    let report = sync.sync(&merchant(), &skus[..1]).await.expect("sync");
    assert_eq!((report.pushed, report.shopify_calls), (1, 3), "{report:?}");
    assert_eq!(channels.shopify.state().levels[&(1000, 7)], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_channel_down_never_blocks_the_other_and_failures_are_retried() {
    let stack = embedded().await;
    connect(&stack).await;
    let channels = Channels::start().await;
    let skus: Vec<Sku> = (0..6).map(sku).collect();
    for (n, sku) in skus.iter().enumerate() {
        stock(&stack, sku, 5).await;
        let listings = &stack.services.listings;
        listings
            .put(
                &merchant(),
                sku,
                &shopify_listing(n as u32),
                ChannelAllocation::default(),
            )
            .await
            .expect("shopify listing");
        listings
            .put(
                &merchant(),
                sku,
                &ListingTarget::Amazon {
                    seller_id: crate::support::id(SELLER),
                    marketplace_id: crate::support::id(MARKETPLACE),
                    seller_sku: format!("AMZ {}/{n}", sku.as_str()),
                    product_type: "PRODUCT".into(),
                },
                ChannelAllocation {
                    max: Some(3),
                    ..ChannelAllocation::default()
                },
            )
            .await
            .expect("amazon listing");
        channels.shopify.state().stocked.push((1000 + n as u64, 7));
    }
    channels.shopify.state().down = true;
    let sync = sync_for(&stack, &channels);
    let report = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        report.pushed, 6,
        "Amazon pushed while Shopify is down: {report:?}"
    );
    assert_eq!(report.failed.len(), 6);
    assert_eq!(
        report.amazon_calls, 6,
        "one patchListingsItem per changed SKU"
    );
    assert!(
        channels.violations().is_empty(),
        "{:?}",
        channels.violations()
    );
    {
        let state = channels.amazon.state();
        let key = (
            SELLER.to_owned(),
            "AMZ%20SYNC-0000%2F0".to_owned(),
            MARKETPLACE.to_owned(),
        );
        assert_eq!(
            state.listings.get(&key),
            Some(&3),
            "capped at 3: {:?}",
            state.listings
        );
    }
    let listing = stack
        .services
        .listings
        .of_sku(&merchant(), &skus[0])
        .await
        .expect("listings");
    assert!(
        listing.iter().any(|l| l.last_error.is_some()),
        "the failure is recorded"
    );

    channels.shopify.state().down = false;
    let retry = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (retry.pushed, retry.shopify_calls, retry.amazon_calls),
        (6, 1, 0),
        "{retry:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_reserves_stock_and_its_new_quantity_is_pushed() {
    let stack = embedded().await;
    connect(&stack).await;
    let channels = Channels::start().await;
    // The fixture order's line: one unit of its SKU.
    let parsed = rc_channels::shopify::parse_order(&merchant(), &unique_canary_order(5001).0)
        .expect("order");
    let line_sku = parsed.order.lines[0].sku.clone();
    let units: i64 = parsed
        .order
        .lines
        .iter()
        .filter(|l| l.sku == line_sku)
        .map(|l| i64::from(l.quantity.get()))
        .sum();
    for line in &parsed.order.lines {
        if line.sku != line_sku {
            stock(&stack, &line.sku, 10).await;
        }
    }
    stock(&stack, &line_sku, 10).await;
    stack
        .services
        .listings
        .put(
            &merchant(),
            &line_sku,
            &shopify_listing(1),
            ChannelAllocation::default(),
        )
        .await
        .expect("listing");
    channels.shopify.state().stocked.push((1001, 7));
    let sync = Arc::new(sync_for(&stack, &channels));
    sync.sync(&merchant(), std::slice::from_ref(&line_sku))
        .await
        .expect("initial push");
    assert_eq!(channels.shopify.state().levels[&(1001, 7)], 10);

    stack.ingest(5001).await;
    let processor = stack.services.order_processor(sync);
    let events: Vec<rc_jobs::QueueMessage> = stack
        .published
        .published()
        .iter()
        .enumerate()
        .map(|(i, e)| rc_jobs::QueueMessage {
            id: format!("m{i}"),
            body: serde_json::to_string(e).expect("event"),
        })
        .collect();
    // Delivered twice, as SQS may: the second changes nothing.
    let mut twice = events.clone();
    twice.extend(events);
    assert!(processor.handle_batch(twice).await.is_empty());
    assert_eq!(channels.shopify.state().levels[&(1001, 7)], 10 - units);
    let (_, view) = stack.api("GET", "/v1/orders/shopify-5001", "").await;
    assert_eq!(view["status"], "reserved");
    let (status, stock_view) = stack
        .api("GET", &format!("/v1/inventory/{}", line_sku.as_str()), "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(stock_view["warehouses"]["main"]["reserved"], units);

    // Cancelled: released and pushed back.
    let mut json: serde_json::Value =
        serde_json::from_slice(&unique_canary_order(5001).0).expect("json");
    json["cancelled_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    json["updated_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    assert_eq!(
        stack
            .webhook(
                "orders/cancelled",
                "c-5001",
                serde_json::to_vec(&json).expect("json")
            )
            .await,
        200
    );
    let latest = stack.published.published();
    let last = latest.last().expect("event");
    let message = rc_jobs::QueueMessage {
        id: "cancel".into(),
        body: serde_json::to_string(last).expect("event"),
    };
    assert!(processor.handle_batch(vec![message]).await.is_empty());
    assert_eq!(channels.shopify.state().levels[&(1001, 7)], 10);
    assert!(channels.violations().is_empty());
}

#[tokio::test]
async fn bad_inventory_input_is_a_clear_error_and_changes_nothing() {
    let stack = embedded().await;
    let cases = [
        (
            "POST",
            "/v1/inventory/CUP/adjustments",
            r#"{"warehouse":"main","kind":"receive","quantity":-5,"reason":"x"}"#,
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/inventory/CUP/adjustments",
            r#"{"warehouse":"main","kind":"add","delta":-5,"reason":"x"}"#,
            422,
            "insufficient_stock",
        ),
        (
            "POST",
            "/v1/inventory/CUP/adjustments",
            r#"{"warehouse":"no such","kind":"receive","quantity":5,"reason":"x"}"#,
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/inventory/CUP/adjustments",
            r#"{"warehouse":"main","kind":"teleport","quantity":5,"reason":"x"}"#,
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/inventory/CUP/adjustments",
            r#"{"warehouse":"main","kind":"receive","quantity":5,"reason":""}"#,
            422,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/inventory/CUP/listings",
            r#"{"channel":"shopify","shop":"nobody.myshopify.com","location_id":1,"inventory_item_id":2}"#,
            422,
            "unknown_connection",
        ),
        (
            "PUT",
            "/v1/inventory/CUP/listings",
            &format!(
                r#"{{"channel":"shopify","shop":"{SHOP}","location_id":1,"inventory_item_id":2,"percent":150}}"#
            ),
            422,
            "invalid_field",
        ),
        ("GET", "/v1/inventory/NOTHING", "", 404, "not_found"),
        (
            "PUT",
            "/v1/inventory/CUP/kit",
            r#"{"components":[]}"#,
            422,
            "invalid_field",
        ),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, answer) = stack.api(method, path, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{method} {path} {body}"
        );
    }
    let (status, _) = stack.api("GET", "/v1/inventory/CUP", "").await;
    assert_eq!(status, 404, "nothing was stored");
    let (status, answer) = stack
        .api(
            "POST",
            "/v1/inventory/CUP%2FBLUE/adjustments",
            r#"{"warehouse":"main","kind":"receive","quantity":5,"reason":"PO-7"}"#,
        )
        .await;
    assert_eq!(
        (status, answer["level"]["available"].as_i64()),
        (200, Some(5)),
        "{answer}"
    );
    let (status, listed) = stack.api("GET", "/v1/inventory", "").await;
    assert_eq!(status, 200);
    assert_eq!(listed["skus"][0]["sku"], "CUP/BLUE");
    assert_eq!(listed["skus"][0]["available"], 5);
    assert_eq!(listed["next"], serde_json::Value::Null);

    // A retried request with the same Idempotency-Key changes nothing the second time.
    let receive = r#"{"warehouse":"main","kind":"receive","quantity":2,"reason":"PO-8"}"#;
    let key = [("idempotency-key", "po-8-line-1")];
    let path = "/v1/inventory/CUP%2FBLUE/adjustments";
    let (status, first) = stack.api_with("POST", path, receive, &key).await;
    assert_eq!((status, first["level"]["on_hand"].as_i64()), (200, Some(7)));
    let (status, again) = stack.api_with("POST", path, receive, &key).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(again["level"]["on_hand"], 7, "applied once");
    let (status, answer) = stack
        .api_with("POST", path, receive, &[("idempotency-key", "")])
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_header"))
    );
    let (_, ledger) = stack.api("GET", "/v1/inventory-ledger", "").await;
    assert_eq!(ledger["entries"][0]["reason"], "PO-7");
    assert_eq!(ledger["entries"][0]["actor"], "merchant-api");
    assert_eq!(ledger["entries"][0]["changes"][0]["sku"], "CUP/BLUE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_amazon_changes_go_in_one_feed_whose_report_settles_each_listing() {
    let stack = embedded().await;
    connect(&stack).await;
    let channels = Channels::start().await;
    let mut skus = Vec::new();
    for n in 0..1000 {
        let sku = sku(n);
        stock(&stack, &sku, 9).await;
        stack
            .services
            .listings
            .put(
                &merchant(),
                &sku,
                &ListingTarget::Amazon {
                    seller_id: crate::support::id(SELLER),
                    marketplace_id: crate::support::id(MARKETPLACE),
                    seller_sku: sku.as_str().to_owned(),
                    product_type: "PRODUCT".into(),
                },
                ChannelAllocation::default(),
            )
            .await
            .expect("listing");
        skus.push(sku);
    }
    {
        let mut state = channels.amazon.state();
        state.refuse_in_feed.push("SYNC-0007".into());
        state.feed_delay = 1;
        state.gzip_reports = true;
    }
    let sync = sync_for(&stack, &channels);
    let report = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (report.in_feeds, report.amazon_calls, report.pushed),
        (1000, 3, 0),
        "{report:?}"
    );
    assert!(
        channels.violations().is_empty(),
        "{:?}",
        channels.violations()
    );
    {
        let state = channels.amazon.state();
        assert_eq!(state.patches, 0, "no patch per SKU");
        assert_eq!(
            (
                state.feed_calls["createFeedDocument"],
                state.feed_calls["upload"],
                state.feed_calls["createFeed"]
            ),
            (1, 1, 1)
        );
    }
    // Still processing: nothing is re-sent, nothing settled.
    let waiting = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (waiting.in_feeds, waiting.pushed, waiting.amazon_calls),
        (1000, 0, 1),
        "{waiting:?}"
    );
    // Done: the report settles every listing; the refused one is recorded, and re-sent alone.
    let settled = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        settled.pushed,
        999 + 1,
        "999 from the report, then the refused one patched: {settled:?}"
    );
    assert_eq!(
        channels.amazon.state().feed_calls["getFeed"],
        2,
        "one read per feed, not per listing"
    );
    assert_eq!(channels.amazon.state().patches, 1);
    let again = sync.sync(&merchant(), &skus).await.expect("sync");
    assert_eq!(
        (again.pushed, again.amazon_calls, again.unchanged),
        (0, 0, 1000)
    );
    assert!(channels.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_channels_are_retried_and_a_kit_follows_its_components() {
    let stack = embedded().await;
    connect(&stack).await;
    let channels = Channels::start().await;
    let (cup, saucer, set) = (sku(1), sku(2), Sku::parse("SYNC-SET").expect("sku"));
    stock(&stack, &cup, 10).await;
    stock(&stack, &saucer, 4).await;
    stack
        .services
        .stock
        .define_kit(
            &merchant(),
            &set,
            &[
                rc_inventory::KitComponent {
                    sku: cup.clone(),
                    quantity: 2,
                },
                rc_inventory::KitComponent {
                    sku: saucer.clone(),
                    quantity: 1,
                },
            ],
        )
        .await
        .expect("kit");
    let listings = &stack.services.listings;
    listings
        .put(
            &merchant(),
            &set,
            &shopify_listing(9),
            ChannelAllocation::default(),
        )
        .await
        .expect("shopify");
    listings
        .put(
            &merchant(),
            &set,
            &ListingTarget::Amazon {
                seller_id: crate::support::id(SELLER),
                marketplace_id: crate::support::id(MARKETPLACE),
                seller_sku: "SET-1".into(),
                product_type: "PRODUCT".into(),
            },
            ChannelAllocation::default(),
        )
        .await
        .expect("amazon");
    channels.shopify.state().stocked.push((1009, 7));
    channels.shopify.state().throttle = 2;
    channels.amazon.state().throttle_patches = 1;
    let sync = sync_for(&stack, &channels);
    // A component changed: the kit made of it is pushed (min(10 / 2, 4 / 1) = 4 sets).
    let report = sync
        .sync(&merchant(), std::slice::from_ref(&saucer))
        .await
        .expect("sync");
    assert_eq!(report.pushed, 2, "{report:?}");
    assert_eq!(channels.shopify.state().levels[&(1009, 7)], 4);
    assert_eq!(
        channels.amazon.state().listings[&(
            SELLER.to_owned(),
            "SET-1".to_owned(),
            MARKETPLACE.to_owned()
        )],
        4
    );
    assert_eq!(
        (
            channels.shopify.state().throttle,
            channels.amazon.state().throttle_patches
        ),
        (0, 0),
        "the 429s were met and retried"
    );
    assert!(
        channels.violations().is_empty(),
        "{:?}",
        channels.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backordered_orders_are_reserved_when_stock_comes_back_or_comes_in() {
    let stack = embedded().await;
    let channels = Channels::start().await;
    let sync = Arc::new(sync_for(&stack, &channels));
    let processor = stack.services.order_processor(sync);
    let lines = rc_channels::shopify::parse_order(&merchant(), &unique_canary_order(1).0)
        .expect("order")
        .order
        .lines;
    let mut needs: std::collections::BTreeMap<Sku, i64> = Default::default();
    for line in &lines {
        *needs.entry(line.sku.clone()).or_default() += i64::from(line.quantity.get());
    }
    for (sku, units) in &needs {
        stock(&stack, sku, *units).await; // enough for one order
    }
    let mut seen = 0;
    let mut process = async |stack: &Stack| {
        let events = stack.published.published();
        let batch = events[seen..]
            .iter()
            .enumerate()
            .map(|(i, e)| rc_jobs::QueueMessage {
                id: format!("e{}", seen + i),
                body: serde_json::to_string(e).expect("event"),
            })
            .collect();
        seen = events.len();
        assert!(processor.handle_batch(batch).await.is_empty());
    };
    let status = async |stack: &Stack, id: u64| {
        let (_, view) = stack
            .api("GET", &format!("/v1/orders/shopify-{id}"), "")
            .await;
        view["status"].as_str().unwrap_or_default().to_owned()
    };
    stack.ingest(7001).await;
    stack.ingest(7002).await;
    process(&stack).await;
    assert_eq!(status(&stack, 7001).await, "reserved");
    assert_eq!(status(&stack, 7002).await, "backordered");

    // 7001 is cancelled: its units go back, and 7002 takes them.
    let mut json: serde_json::Value =
        serde_json::from_slice(&unique_canary_order(7001).0).expect("json");
    json["cancelled_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    json["updated_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    let body = serde_json::to_vec(&json).expect("json");
    assert_eq!(stack.webhook("orders/cancelled", "c-7001", body).await, 200);
    process(&stack).await;
    assert_eq!(status(&stack, 7001).await, "cancelled");
    assert_eq!(status(&stack, 7002).await, "reserved");

    // 7003 finds nothing left; receiving stock through the API reserves it.
    stack.ingest(7003).await;
    process(&stack).await;
    assert_eq!(status(&stack, 7003).await, "backordered");
    for (sku, units) in &needs {
        let path = format!(
            "/v1/inventory/{}/adjustments",
            sku.as_str().replace('/', "%2F")
        );
        let body = format!(
            r#"{{"warehouse":"main","kind":"receive","quantity":{units},"reason":"PO-9"}}"#
        );
        let (code, answer) = stack.api("POST", &path, &body).await;
        assert_eq!(code, 200, "{answer}");
    }
    assert_eq!(status(&stack, 7003).await, "reserved");
    for sku in needs.keys() {
        let free = stack
            .services
            .stock
            .available(&merchant(), sku)
            .await
            .expect("available");
        assert_eq!(free, 0, "everything received went to the backorder");
    }
}
