//! The jobs against in-memory channels (`rc_channels::fake`) and the in-memory store: what each
//! job sends, records and retries, without HTTP. The end-to-end tests in `tests/` run the same
//! jobs against HTTP stand-ins of the real APIs.

use std::sync::Arc;

use rc_channels::fake::{FakeAmazon, FakeShopify, Fault, OrderMaker};
use rc_channels::shopify::InventoryLevelRef;
use rc_domain::{
    BuyerPii, Channel, Clock, Currency, LineItem, LwaCredentials, MerchantId, Money, Order,
    OrderId, OrderStatus, OrderTotals, Quantity, Region, Secret, SecretText, SellerId, ShopDomain,
    Sku, SystemClock, WarehouseId,
};
use rc_inventory::Reservations;
use rc_inventory::{
    Adjustment, ChannelAllocation, ListingRepository, ListingTarget, StockRepository,
};
use rc_jobs::{
    AmazonNotifications, FEED_THRESHOLD, InventorySync, MessageError, OrderProcessor, QueueMessage,
    Reconciler,
};
use rc_orders::{ConnectionRepository, OrderRepository, Outbox, ShopifyCredentials};
use rc_queue::MemoryPublisher;
use rc_store::Store;
use rc_store::memory::MemoryStore;
use rc_vault::{FileRoot, Vault};

const SHOP: &str = "fake-shop.myshopify.com";
const SELLER: &str = "A1FAKESELLER";
const MARKETPLACE: &str = "ATVPDKIKX0DER";

fn id<T: TryFrom<String>>(raw: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(raw.to_owned()).expect("a valid identifier")
}

fn secret(raw: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(raw).expect("secret"))
}

/// One merchant's world: repositories over the in-memory store, both channels in memory.
struct World {
    _dir: tempfile::TempDir,
    merchant: MerchantId,
    data: Arc<dyn Store>,
    stock: Arc<StockRepository>,
    reservations: Arc<Reservations>,
    listings: Arc<ListingRepository>,
    connections: Arc<ConnectionRepository>,
    orders: Arc<OrderRepository>,
    outbox: Arc<Outbox>,
    published: Arc<MemoryPublisher>,
    clock: Arc<dyn Clock>,
    amazon: Arc<FakeAmazon>,
    shopify: Arc<FakeShopify>,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let data: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
        let keys: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
        let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
        let vault = Arc::new(Vault::new(root, keys, clock.clone()));
        let published = Arc::new(MemoryPublisher::default());
        let outbox = Arc::new(Outbox::new(data.clone(), published.clone(), clock.clone()));
        let stock = Arc::new(StockRepository::new(data.clone(), clock.clone()));
        let reservations = Arc::new(Reservations::new(
            stock.clone(),
            Arc::new(rc_inventory::WarehouseRepository::new(
                data.clone(),
                stock.clone(),
            )),
            Arc::new(rc_inventory::RoutingRepository::new(data.clone())),
        ));
        let world = Self {
            merchant: id("fake-merchant"),
            data: data.clone(),
            stock,
            reservations,
            listings: Arc::new(ListingRepository::new(data.clone())),
            connections: Arc::new(ConnectionRepository::new(
                data.clone(),
                vault.clone(),
                clock.clone(),
            )),
            orders: Arc::new(OrderRepository::new(
                data,
                vault,
                clock.clone(),
                outbox.clone(),
            )),
            outbox,
            published,
            clock,
            amazon: Arc::default(),
            shopify: Arc::default(),
            _dir: dir,
        };
        world.connect(&world.merchant.clone()).await;
        world
    }

    /// Connects the shop and the seller to `merchant`.
    async fn connect(&self, merchant: &MerchantId) {
        self.connections
            .put_shopify(
                merchant,
                &id(SHOP),
                &ShopifyCredentials {
                    webhook_secret: secret("webhook-secret"),
                    previous_webhook_secret: None,
                    access_token: Some(secret("shpat_fake")),
                },
            )
            .await
            .expect("shop");
        self.connections
            .put_amazon(
                merchant,
                &id(SELLER),
                &[id(MARKETPLACE)],
                &LwaCredentials {
                    client_id: "client".into(),
                    client_secret: secret("client-secret"),
                    refresh_token: secret("refresh-token"),
                    region: Region::NorthAmerica,
                },
            )
            .await
            .expect("seller");
    }

    fn sync(&self) -> InventorySync {
        InventorySync::new(
            self.stock.clone(),
            self.listings.clone(),
            self.connections.clone(),
            self.shopify.clone(),
            self.amazon.clone(),
        )
    }

    async fn receive(&self, sku: &Sku, quantity: i64) {
        self.stock
            .adjust(
                &self.merchant,
                sku,
                &id::<WarehouseId>("main"),
                Adjustment::Receive { quantity },
                "test stock",
                "test",
            )
            .await
            .expect("stock");
    }

    async fn list(&self, sku: &Sku, target: ListingTarget) {
        self.listings
            .put(&self.merchant, sku, &target, ChannelAllocation::default())
            .await
            .expect("listing");
    }

    async fn errors(&self, sku: &Sku) -> Vec<Option<String>> {
        self.listings
            .of_sku(&self.merchant, sku)
            .await
            .expect("listings")
            .into_iter()
            .map(|l| l.last_error)
            .collect()
    }
}

fn shopify_level(n: u64) -> (ListingTarget, InventoryLevelRef) {
    let level = InventoryLevelRef {
        inventory_item_id: 100 + n,
        location_id: 7,
    };
    (
        ListingTarget::Shopify {
            shop: id(SHOP),
            location_id: level.location_id,
            inventory_item_id: level.inventory_item_id,
        },
        level,
    )
}

fn amazon_listing(sku: &str) -> ListingTarget {
    ListingTarget::Amazon {
        seller_id: id(SELLER),
        marketplace_id: id(MARKETPLACE),
        seller_sku: sku.into(),
        product_type: "PRODUCT".into(),
    }
}

#[tokio::test]
async fn shopify_gets_only_what_changed_and_recovers_once_from_a_sale_there() {
    let world = World::new().await;
    let sync = world.sync();
    let sku: Sku = id("MUG");
    let (target, level) = shopify_level(1);
    world.receive(&sku, 10).await;
    world.list(&sku, target).await;
    let shop: ShopDomain = id(SHOP);

    let first = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    assert_eq!((first.pushed, first.shopify_calls), (1, 1));
    assert_eq!(world.shopify.held(&shop, level), Some(10));

    let again = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    assert_eq!(
        (again.unchanged, again.shopify_calls),
        (1, 0),
        "nothing to send"
    );

    // A sale on Shopify: it holds 9, we still believe 10. Our new quantity (12) is set from
    // what Shopify holds after one read, not blindly over it.
    world.shopify.hold(&shop, level, 9);
    world.receive(&sku, 2).await;
    let recovered = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    assert_eq!((recovered.pushed, recovered.shopify_calls), (1, 3));
    assert_eq!(world.shopify.held(&shop, level), Some(12));
    assert_eq!(
        world.shopify.calls(),
        [
            "inventorySetQuantities:1",
            "inventorySetQuantities:1",
            "inventoryLevels",
            "inventorySetQuantities:1",
        ]
    );
}

#[tokio::test]
async fn a_failed_push_is_recorded_and_retried_by_the_next_run() {
    let world = World::new().await;
    let sync = world.sync();
    let sku: Sku = id("LAMP");
    let (target, level) = shopify_level(2);
    world.receive(&sku, 4).await;
    world.list(&sku, target).await;
    world.list(&sku, amazon_listing("LAMP-AMZ")).await;
    world
        .shopify
        .fail("inventorySetQuantities", Fault::Throttled, 1);
    world
        .amazon
        .fail("patchListingsItem", Fault::Unavailable, 1);

    let failed = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    assert_eq!((failed.pushed, failed.failed.len()), (0, 2));
    assert!(world.errors(&sku).await.iter().all(Option::is_some));

    let retried = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    assert_eq!((retried.pushed, retried.failed.len()), (2, 0));
    assert!(world.errors(&sku).await.iter().all(Option::is_none));
    assert_eq!(world.shopify.held(&id(SHOP), level), Some(4));
    assert_eq!(
        world
            .amazon
            .quantity(&id(SELLER), &id(MARKETPLACE), "LAMP-AMZ"),
        Some(4)
    );
}

#[tokio::test]
async fn refusals_are_recorded_with_the_channels_codes() {
    let world = World::new().await;
    let sync = world.sync();
    let sku: Sku = id("VASE");
    let (target, _) = shopify_level(3);
    world.receive(&sku, 1).await;
    world.list(&sku, target).await;
    world.list(&sku, amazon_listing("VASE-AMZ")).await;
    world.shopify.refuse(103, "ITEM_NOT_STOCKED_AT_LOCATION");
    world.amazon.refuse("VASE-AMZ", "90220");

    let report = sync
        .sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("sync");
    let mut problems: Vec<String> = report.failed.iter().map(|f| f.2.clone()).collect();
    problems.sort();
    assert_eq!(
        problems,
        ["refused: 90220", "refused: ITEM_NOT_STOCKED_AT_LOCATION"]
    );
}

#[tokio::test]
async fn many_amazon_changes_go_in_one_feed_settled_from_its_report() {
    let world = World::new().await;
    let sync = world.sync();
    let mut skus = Vec::new();
    for n in 0..FEED_THRESHOLD {
        let sku: Sku = id(&format!("BULK-{n:03}"));
        world.receive(&sku, 3).await;
        world
            .list(&sku, amazon_listing(&format!("BULK-{n:03}")))
            .await;
        skus.push(sku);
    }
    world.amazon.refuse("BULK-007", "8541");

    let submitted = sync.sync(&world.merchant, &skus).await.expect("sync");
    assert_eq!(submitted.in_feeds, FEED_THRESHOLD as u64);
    assert_eq!(
        world.amazon.calls(),
        [format!("createFeed:{FEED_THRESHOLD}")],
        "one feed, no patches"
    );

    // Not processed yet: nothing is re-sent, nothing marked pushed.
    let waiting = sync.sync(&world.merchant, &skus).await.expect("sync");
    assert_eq!(
        (waiting.pushed, waiting.in_feeds),
        (0, FEED_THRESHOLD as u64)
    );

    world.amazon.process_feeds();
    let settled = sync.sync(&world.merchant, &skus).await.expect("sync");
    assert_eq!(settled.pushed, FEED_THRESHOLD as u64 - 1);
    // The refused one is recorded, then sent again alone for a verdict of its own.
    let problems: Vec<&str> = settled.failed.iter().map(|f| f.2.as_str()).collect();
    assert_eq!(problems, ["refused in feed: 8541", "refused: 8541"]);
    assert!(
        world
            .amazon
            .calls()
            .contains(&"patchListingsItem:BULK-007".to_owned())
    );
    let get_feeds = world
        .amazon
        .calls()
        .iter()
        .filter(|c| c.starts_with("getFeed"))
        .count();
    assert_eq!(
        get_feeds, 2,
        "one getFeed per feed and run, not per listing"
    );
    assert_eq!(
        world
            .amazon
            .quantity(&id(SELLER), &id(MARKETPLACE), "BULK-000"),
        Some(3)
    );
}

#[tokio::test]
async fn a_listing_on_another_merchants_connection_is_never_pushed() {
    let world = World::new().await;
    // The shop and seller are handed to another merchant.
    let merchant = world.merchant.clone();
    let shop: ShopDomain = id(SHOP);
    let seller: SellerId = id(SELLER);
    assert!(
        world
            .connections
            .remove_shopify(&merchant, &shop)
            .await
            .expect("remove")
    );
    assert!(
        world
            .connections
            .remove_amazon(&merchant, &seller)
            .await
            .expect("remove")
    );
    world.connect(&id("someone-else")).await;
    let sync = world.sync();
    let sku: Sku = id("PEN");
    let (target, _) = shopify_level(4);
    world.receive(&sku, 5).await;
    world.list(&sku, target).await;
    world.list(&sku, amazon_listing("PEN-AMZ")).await;

    let report = sync.sync(&world.merchant, &[sku]).await.expect("sync");
    let mut problems: Vec<String> = report.failed.iter().map(|f| f.2.clone()).collect();
    problems.sort();
    assert_eq!(problems, ["seller_not_connected", "shop_not_connected"]);
    assert!(world.shopify.calls().is_empty() && world.amazon.calls().is_empty());
}

fn order_maker(number: u64) -> OrderMaker {
    Box::new(move |merchant: &MerchantId| {
        let usd = Currency::parse("USD").expect("currency");
        let money = |minor| Money::from_minor(minor, usd).expect("money");
        let placed = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time");
        Order {
            channel_tax: Default::default(),
            merchant: merchant.clone(),
            id: id::<OrderId>(&format!("amazon-111-{number}")),
            channel: Channel::Amazon,
            channel_reference: format!("111-{number}"),
            marketplace: None,
            status: OrderStatus::Received,
            placed_at: placed,
            channel_updated_at: placed,
            currency: usd,
            lines: vec![LineItem {
                charges: Default::default(),
                sku: id("MUG"),
                quantity: Quantity::new(1).expect("quantity"),
                unit_price: money(1000),
                line_id: None,
            }],
            totals: OrderTotals {
                subtotal: money(1000),
                tax: money(0),
                shipping: money(0),
                total: money(1000),
            },
            ship_to: Some(rc_domain::ShipToRegion {
                country: "US".into(),
                region: Some("WA".into()),
            }),
            buyer: BuyerPii::default(),
        }
    })
}

#[tokio::test]
async fn reconciliation_reads_every_page_and_keeps_its_watermark_on_failure() {
    let world = World::new().await;
    let seller: SellerId = id(SELLER);
    for n in 1..=3 {
        world
            .amazon
            .add_order(&seller, &format!("111-{n}"), order_maker(n));
    }
    let reconciler = Reconciler::new(
        world.orders.clone(),
        world.outbox.clone(),
        world.connections.clone(),
        world.amazon.clone(),
        world.shopify.clone(),
        world.clock.clone(),
    );

    world.amazon.fail("searchOrders", Fault::Throttled, 1);
    let failed = reconciler.run().await;
    assert_eq!((failed.failed_connections, failed.stored), (1, 0));

    let report = reconciler.run().await;
    assert_eq!(report.failed_connections, 0);
    assert_eq!(report.stored, 3, "every page read: {report:?}");
    let again = reconciler.run().await;
    assert_eq!((again.stored, again.unchanged), (0, 3), "stored once");
    let view = world
        .orders
        .view(&world.merchant, &id("amazon-111-2"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(view.status, OrderStatus::Received);
}

fn notification(id: &str, seller: &str, order: &str) -> String {
    serde_json::json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-29T12:00:00Z",
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller,
            "AmazonOrderId": order,
        }},
        "NotificationMetadata": {
            "ApplicationId": "app", "SubscriptionId": "sub",
            "PublishTime": "2026-11-29T12:00:00Z", "NotificationId": id,
        },
    })
    .to_string()
}

#[tokio::test]
async fn a_notification_delivered_twice_costs_one_get_order() {
    let world = World::new().await;
    world.amazon.add_order(&id(SELLER), "111-9", order_maker(9));
    let consumer = AmazonNotifications::new(
        world.orders.clone(),
        world.connections.clone(),
        world.amazon.clone(),
    );
    let body = notification("n-1", SELLER, "111-9");

    world.amazon.fail("getOrder", Fault::Throttled, 1);
    let throttled = consumer.handle(&body).await.expect_err("throttled");
    assert!(throttled.is_retryable(), "back to the queue: {throttled}");

    consumer.handle(&body).await.expect("stored");
    consumer.handle(&body).await.expect("duplicate");
    assert_eq!(world.amazon.calls(), ["getOrder:111-9", "getOrder:111-9"]);

    let unknown = consumer
        .handle(&notification("n-2", "A1NOBODY", "111-9"))
        .await
        .expect_err("unknown seller");
    assert!(matches!(unknown, MessageError::UnknownSeller) && unknown.is_retryable());
    let forged = consumer
        .handle(&notification("n-3", "a1 lower case", "111-9"))
        .await
        .expect_err("not an Amazon seller id");
    assert!(!forged.is_retryable());
}

#[tokio::test]
async fn an_order_event_reserves_stock_and_pushes_the_new_quantity_once() {
    let world = World::new().await;
    let sku: Sku = id("MUG");
    let (target, level) = shopify_level(9);
    world.receive(&sku, 5).await;
    world.list(&sku, target).await;
    let sync = Arc::new(world.sync());
    sync.sync(&world.merchant, std::slice::from_ref(&sku))
        .await
        .expect("first push");
    assert_eq!(world.shopify.held(&id(SHOP), level), Some(5));

    // An order for one MUG arrives; its event (ids only) is what the processor gets.
    world
        .orders
        .upsert(&order_maker(1)(&world.merchant), None)
        .await
        .expect("stored");
    let events = world.published.published();
    assert_eq!(events.len(), 1);
    let message = QueueMessage {
        id: "m-1".into(),
        body: serde_json::to_string(&events[0]).expect("event"),
    };
    let label_jobs = Arc::new(rc_queue::MemoryLabelJobs::default());
    let planner = Arc::new(rc_fulfillment::ShipmentPlanner::new(
        Arc::new(rc_fulfillment::ShipmentRepository::new(
            world.data.clone(),
            world.clock.clone(),
        )),
        world.stock.clone(),
        label_jobs.clone(),
    ));
    let processor = OrderProcessor::new(
        world.orders.clone(),
        world.reservations.clone(),
        sync,
        planner,
        Arc::new(rc_tax_records::TaxRecorder::new(
            world.orders.clone(),
            world.reservations.clone(),
            Arc::new(rc_inventory::WarehouseRepository::new(
                world.data.clone(),
                world.stock.clone(),
            )),
            Arc::new(rc_tax_records::TaxClasses::new(world.data.clone())),
            Arc::new(rc_tax_records::TaxSettingsRepository::new(
                world.data.clone(),
            )),
            Arc::new(rc_tax_records::TaxRecords::new(world.data.clone())),
            world.clock.clone(),
        )),
    );
    assert!(
        processor
            .handle_batch(vec![message.clone()])
            .await
            .is_empty()
    );
    let view = world
        .orders
        .view(&world.merchant, &id("amazon-111-1"))
        .await
        .expect("read")
        .expect("order");
    assert_eq!(view.status, OrderStatus::Reserved);
    assert_eq!(world.shopify.held(&id(SHOP), level), Some(4));

    // Delivered again (SQS is at-least-once): nothing reserved twice, nothing pushed again.
    let calls = world.shopify.calls().len();
    assert!(processor.handle_batch(vec![message]).await.is_empty());
    assert_eq!(world.shopify.held(&id(SHOP), level), Some(4));
    assert_eq!(world.shopify.calls().len(), calls);

    // A message that is not an event fails (to be dead-lettered), never silently dropped.
    let garbage = QueueMessage {
        id: "m-2".into(),
        body: "not an event".into(),
    };
    assert_eq!(processor.handle_batch(vec![garbage]).await, ["m-2"]);
}
