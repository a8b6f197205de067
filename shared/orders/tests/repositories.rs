//! Repositories over the embedded store: atomic, idempotent writes; damaged records are clear
//! errors, never panics or plaintext fallbacks.

use std::sync::Arc;

use rc_channels::shopify::parse_order;
use rc_domain::{ManualClock, MerchantId, OrderId, RevealPurpose, Secret, SecretText};
use rc_domain::{MarketplaceId, SellerId, ShopDomain};
use rc_orders::{
    ConnectionRepository, DeliveryMark, OrderRepository, Outbox, RepoError, ShopifyCredentials,
    StoreOutcome,
};
use rc_queue::{MemoryPublisher, OrderEvent, PublishError, Publisher};
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_store::{ItemKey, Store, Value};
use rc_vault::{FileRoot, KeySubject, Vault, VaultError};

const SAMPLE: &str = include_str!("../../channels/fixtures/shopify-orders-create.json");

struct Fixture {
    clock: Arc<ManualClock>,
    published: Arc<MemoryPublisher>,
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    orders: OrderRepository,
    connections: ConnectionRepository,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at(
        time::macros::datetime!(2026-11-01 00:00 UTC),
    ));
    let db = EmbeddedDb::in_memory().expect("db");
    let data: Arc<dyn Store> = Arc::new(SqliteStore::new(db.clone(), "data", clock.clone()));
    let keys: Arc<dyn Store> = Arc::new(SqliteStore::new(db, "keys", clock.clone()));
    let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let vault = Arc::new(Vault::new(root, keys, clock.clone()));
    let published = Arc::new(MemoryPublisher::default());
    let outbox = Arc::new(Outbox::new(data.clone(), published.clone(), clock.clone()));
    Fixture {
        clock: clock.clone(),
        published,
        orders: OrderRepository::new(data.clone(), vault.clone(), clock.clone(), outbox),
        connections: ConnectionRepository::new(data.clone(), vault.clone(), clock),
        data,
        vault,
        _dir: dir,
    }
}

/// The fixture's stores and vault, seen by a repository whose clock stands at `at`.
fn orders_at(f: &Fixture, at: time::OffsetDateTime) -> OrderRepository {
    let clock = Arc::new(ManualClock::at(at));
    let outbox = Arc::new(Outbox::new(
        f.data.clone(),
        f.published.clone(),
        clock.clone(),
    ));
    OrderRepository::new(f.data.clone(), f.vault.clone(), clock, outbox)
}

fn merchant() -> MerchantId {
    MerchantId::parse("m1").expect("id")
}

fn order_id() -> OrderId {
    OrderId::parse("shopify-820982911946154508").expect("id")
}

fn mark(id: &str) -> DeliveryMark {
    DeliveryMark {
        channel: "shopify",
        source: "shop.myshopify.com".into(),
        delivery_id: id.into(),
    }
}

#[tokio::test]
async fn an_order_is_stored_once_with_its_pii_sealed_and_readable_for_a_purpose() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    let first = f
        .orders
        .store_new(&parsed.order, Some(&mark("d1")))
        .await
        .expect("store");
    let again = f
        .orders
        .store_new(&parsed.order, Some(&mark("d1")))
        .await
        .expect("store");
    let other = f
        .orders
        .store_new(&parsed.order, Some(&mark("d2")))
        .await
        .expect("store");
    assert_eq!(
        (first, again, other),
        (
            StoreOutcome::Stored,
            StoreOutcome::Duplicate,
            StoreOutcome::Duplicate
        )
    );
    assert!(f.orders.seen(&mark("d1")).await.expect("seen"));
    assert!(
        !f.orders.seen(&mark("d2")).await.expect("seen"),
        "a refused delivery leaves no mark"
    );

    let view = f
        .orders
        .view(&merchant(), &order_id())
        .await
        .expect("view")
        .expect("found");
    assert_eq!(view.version, 1);
    assert_eq!(view.lines.len(), 2);
    let buyer = f
        .orders
        .buyer(&merchant(), &order_id())
        .await
        .expect("open")
        .expect("found");
    let email = buyer.email.expect("email");
    assert_eq!(
        email.reveal(RevealPurpose::Verification).as_str(),
        "jon@example.com"
    );
}

#[tokio::test]
async fn a_destroyed_order_key_makes_its_pii_unreadable_but_keeps_the_order() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    f.orders
        .store_new(&parsed.order, None)
        .await
        .expect("store");
    f.vault
        .destroy_subject_key(&merchant(), &KeySubject::order(&order_id()))
        .await
        .expect("destroy");
    let result = f.orders.buyer(&merchant(), &order_id()).await;
    assert!(
        matches!(result, Err(RepoError::Vault(VaultError::KeyDestroyed))),
        "{:?}",
        result.err()
    );
    assert!(
        f.orders
            .view(&merchant(), &order_id())
            .await
            .expect("view")
            .is_some()
    );
}

#[tokio::test]
async fn damaged_records_are_clear_errors_not_panics_or_plaintext() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    f.orders
        .store_new(&parsed.order, None)
        .await
        .expect("store");

    // A truncated sealed value.
    let pii_key = ItemKey::new("M#m1", format!("PII#{}", order_id()));
    let mut pii = f.data.get(&pii_key).await.expect("get").expect("present");
    let email = pii.bytes("email").expect("sealed email").to_vec();
    pii.set("email", Value::B(email[..email.len() / 2].to_vec()));
    f.data
        .replace(pii.clone(), pii.version)
        .await
        .expect("damage");
    let result = f.orders.buyer(&merchant(), &order_id()).await;
    assert!(
        matches!(
            result,
            Err(RepoError::Vault(
                VaultError::Tampered | VaultError::Malformed(_)
            ))
        ),
        "{:?}",
        result.err()
    );

    // A sealed value from another order pasted in.
    let other = parsed.order;
    let mut moved = parse_order(
        &merchant(),
        SAMPLE.replace("820982911946154508", "1").as_bytes(),
    )
    .expect("parse")
    .order;
    moved.buyer = other.buyer;
    f.orders.store_new(&moved, None).await.expect("store");
    let foreign = f
        .data
        .get(&ItemKey::new("M#m1", "PII#shopify-1"))
        .await
        .expect("get")
        .expect("present");
    let mut pii = f.data.get(&pii_key).await.expect("get").expect("present");
    pii.set(
        "email",
        Value::B(foreign.bytes("email").expect("email").to_vec()),
    );
    f.data
        .replace(pii.clone(), pii.version)
        .await
        .expect("paste");
    let result = f.orders.buyer(&merchant(), &order_id()).await;
    assert!(
        matches!(result, Err(RepoError::Vault(VaultError::Tampered))),
        "{:?}",
        result.err()
    );

    // A truncated order item.
    let order_key = ItemKey::new("M#m1", format!("ORDER#{}", order_id()));
    let mut order = f.data.get(&order_key).await.expect("get").expect("present");
    order.attrs.remove("lines");
    f.data
        .replace(order.clone(), order.version)
        .await
        .expect("damage");
    let result = f.orders.view(&merchant(), &order_id()).await;
    assert!(
        matches!(result, Err(RepoError::Corrupt("lines"))),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn a_shop_belongs_to_one_merchant_and_its_secret_rotates() {
    let f = fixture();
    let shop = ShopDomain::parse("shop.myshopify.com").expect("shop");
    let secret = |s: &str| Secret::new(SecretText::parse(s).expect("secret"));
    f.connections
        .put_shopify(
            &merchant(),
            &shop,
            &ShopifyCredentials::webhook_only(secret("old")),
        )
        .await
        .expect("put");
    let rotated = ShopifyCredentials {
        webhook_secret: secret("new"),
        previous_webhook_secret: Some(secret("old")),
        access_token: Some(secret("shpat_token")),
    };
    f.connections
        .put_shopify(&merchant(), &shop, &rotated)
        .await
        .expect("rotate");
    let connection = f
        .connections
        .shopify(&shop)
        .await
        .expect("get")
        .expect("present");
    let secrets: Vec<&str> = connection
        .webhook_secrets
        .iter()
        .map(|s| s.reveal(RevealPurpose::Verification).as_str())
        .collect();
    assert_eq!(secrets, vec!["new", "old"]);
    let token = connection.access_token.as_ref().expect("token");
    assert_eq!(
        token.reveal(RevealPurpose::Verification).as_str(),
        "shpat_token"
    );

    let m2 = MerchantId::parse("m2").expect("id");
    let stolen = f
        .connections
        .put_shopify(&m2, &shop, &ShopifyCredentials::webhook_only(secret("x")))
        .await;
    assert!(
        matches!(stolen, Err(RepoError::Refused(_))),
        "{:?}",
        stolen.err()
    );
    let raw = f
        .data
        .get(&ItemKey::new(
            "CONN#shopify#shop.myshopify.com",
            "CONNECTION",
        ))
        .await
        .expect("get")
        .expect("present");
    assert!(
        !raw.bytes("webhook_secret")
            .expect("sealed")
            .windows(3)
            .any(|w| w == b"new")
    );

    let listed = f.connections.list(&merchant()).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reference, "shop.myshopify.com");
    assert!(
        !f.connections
            .remove_shopify(&m2, &shop)
            .await
            .expect("not theirs")
    );
    assert!(
        f.connections
            .remove_shopify(&merchant(), &shop)
            .await
            .expect("remove")
    );
    assert!(f.connections.shopify(&shop).await.expect("get").is_none());
    assert!(
        f.connections
            .list(&merchant())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        !f.connections
            .remove_shopify(&merchant(), &shop)
            .await
            .expect("again")
    );
}

/// A queue that is down.
struct DownQueue;

#[async_trait::async_trait]
impl Publisher for DownQueue {
    async fn publish(&self, _: &[OrderEvent]) -> Result<(), PublishError> {
        Err(PublishError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn each_change_publishes_one_event_and_duplicates_publish_none() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    f.orders
        .upsert(&parsed.order, Some(&mark("d1")))
        .await
        .expect("store");
    f.orders
        .upsert(&parsed.order, Some(&mark("d1")))
        .await
        .expect("again");
    f.orders
        .upsert(&parsed.order, Some(&mark("d2")))
        .await
        .expect("stale");
    let mut cancelled = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    cancelled.status = rc_domain::OrderStatus::Cancelled;
    f.orders
        .upsert(&cancelled, Some(&mark("d3")))
        .await
        .expect("cancel");
    let events: Vec<(String, u64)> = f
        .published
        .published()
        .into_iter()
        .map(|e| (e.kind, e.version))
        .collect();
    assert_eq!(
        events,
        vec![
            ("order.stored".to_owned(), 1),
            ("order.updated".to_owned(), 2)
        ]
    );
    let left = f
        .data
        .query_partition("OUTBOX#0", "", 10, None)
        .await
        .expect("query");
    assert!(left.items.is_empty(), "delivered entries leave the outbox");
}

#[tokio::test]
async fn events_the_queue_refused_wait_in_the_outbox_for_the_relay() {
    let f = fixture();
    let clock = Arc::new(ManualClock::at(
        time::macros::datetime!(2026-11-01 00:00 UTC),
    ));
    let down = Arc::new(Outbox::new(
        f.data.clone(),
        Arc::new(DownQueue),
        clock.clone(),
    ));
    let orders = OrderRepository::new(f.data.clone(), f.vault.clone(), clock.clone(), down);
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    assert_eq!(
        orders.upsert(&parsed.order, None).await.expect("store"),
        StoreOutcome::Stored
    );
    assert!(f.published.published().is_empty());

    let relay = Outbox::new(f.data.clone(), f.published.clone(), clock.clone());
    assert_eq!(
        relay
            .relay(time::Duration::minutes(1))
            .await
            .expect("relay"),
        0,
        "too young"
    );
    clock.advance(time::Duration::minutes(2));
    assert_eq!(
        relay
            .relay(time::Duration::minutes(1))
            .await
            .expect("relay"),
        1
    );
    assert_eq!(
        relay
            .relay(time::Duration::minutes(1))
            .await
            .expect("relay"),
        0,
        "relayed once"
    );
    assert_eq!(f.published.published().len(), 1);
}

fn pii_key() -> ItemKey {
    ItemKey::new("M#m1", format!("PII#{}", order_id()))
}

#[tokio::test]
async fn shipping_starts_the_thirty_day_pii_clock_and_later_updates_keep_it() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    f.orders.upsert(&parsed.order, None).await.expect("store");
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    let unshipped_limit = parsed.order.placed_at + time::Duration::days(90);
    assert_eq!(
        pii.pii_deadline,
        Some(unshipped_limit.unix_timestamp()),
        "before shipment: the unshipped limit, placed + 90 days"
    );
    assert_eq!(pii.string("pii_rule"), Some("unshipped_limit"));

    let mut shipped = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    shipped.status = rc_domain::OrderStatus::Shipped;
    assert_eq!(
        f.orders.upsert(&shipped, None).await.expect("ship"),
        StoreOutcome::Updated
    );
    let deadline = time::macros::datetime!(2026-12-01 00:00 UTC).unix_timestamp();
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    assert_eq!(
        pii.pii_deadline,
        Some(deadline),
        "shipped (reported after now: now) + 30 days"
    );
    assert_eq!(pii.string("pii_rule"), Some("shipped"));
    assert_eq!(
        pii.expires_at,
        Some(deadline + 3 * 86_400),
        "TTL backstop three days later, after the purger's hourly runs"
    );

    // Newer content later: re-sealed, same deadline.
    let mut newer = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    newer.channel_updated_at += time::Duration::hours(1);
    newer.status = rc_domain::OrderStatus::Shipped;
    assert_eq!(
        f.orders.upsert(&newer, None).await.expect("update"),
        StoreOutcome::Updated
    );
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    assert_eq!(pii.pii_deadline, Some(deadline));
    assert_eq!(pii.version, 3);

    // Due exactly at the deadline, not before.
    let before = f.data.due(deadline - 1, 10, None).await.expect("due");
    assert!(before.items.is_empty());
    let due = f.data.due(deadline, 10, None).await.expect("due");
    assert_eq!(due.items.len(), 1);
    assert_eq!(due.items[0].key, pii_key());
    f.clock.advance(time::Duration::days(34));
    assert!(
        f.data.get(&pii_key()).await.expect("get").is_none(),
        "past its TTL it reads as gone"
    );
}

#[tokio::test]
async fn an_order_first_seen_already_shipped_gets_its_clock_and_retention_can_be_shorter() {
    let f = fixture();
    let week = rc_domain::RetentionPolicy::days_after_shipment(7).expect("policy");
    let orders = orders_at(&f, time::macros::datetime!(2026-11-25 00:00 UTC));
    let orders = orders.with_retention(week);
    let mut shipped = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    shipped.status = rc_domain::OrderStatus::Shipped;
    assert_eq!(
        orders.upsert(&shipped, None).await.expect("store"),
        StoreOutcome::Stored
    );
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    // Reported as updated 2026-11-21T00:00Z, before now: that is when it shipped.
    let deadline = time::macros::datetime!(2026-11-28 00:00 UTC).unix_timestamp();
    assert_eq!(pii.pii_deadline, Some(deadline));
    let view = orders
        .view(&merchant(), &order_id())
        .await
        .expect("view")
        .expect("order");
    assert_eq!(view.status, rc_domain::OrderStatus::Shipped);
}

#[tokio::test]
async fn an_order_first_seen_after_its_deadline_never_has_its_pii_stored() {
    let f = fixture();
    let orders = orders_at(&f, time::macros::datetime!(2027-03-01 00:00 UTC));
    let mut shipped = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    shipped.status = rc_domain::OrderStatus::Shipped;
    assert_eq!(
        orders.upsert(&shipped, None).await.expect("store"),
        StoreOutcome::Stored
    );
    assert!(
        f.data.get(&pii_key()).await.expect("get").is_none(),
        "no PII item"
    );
    let view = orders
        .view(&merchant(), &order_id())
        .await
        .expect("view")
        .expect("order");
    assert_eq!(view.buyer_pii, rc_orders::BuyerPiiState::Purged);
    assert_eq!(
        view.totals.total.minor_units(),
        40300,
        "the anonymized order is kept"
    );
    let key = f
        .vault
        .key_for_opening(&merchant(), &KeySubject::order(&order_id()))
        .await;
    assert!(key.is_err(), "no data key was ever created");
}

#[tokio::test]
async fn a_cancellation_starts_the_same_clock_and_a_later_shipment_never_extends_it() {
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parse");
    f.orders.upsert(&parsed.order, None).await.expect("store");
    let mut cancelled = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    cancelled.status = rc_domain::OrderStatus::Cancelled;
    cancelled.channel_updated_at += time::Duration::hours(1);
    f.orders.upsert(&cancelled, None).await.expect("cancel");
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    let deadline = time::macros::datetime!(2026-12-01 00:00 UTC).unix_timestamp();
    assert_eq!(
        pii.pii_deadline,
        Some(deadline),
        "cancelled (now) + 30 days"
    );
    assert_eq!(pii.string("pii_rule"), Some("cancelled"));
    let view = f
        .orders
        .view(&merchant(), &order_id())
        .await
        .expect("view")
        .expect("order");
    assert_eq!(view.status, rc_domain::OrderStatus::Cancelled);

    // A shorter policy at a later shipment report cannot extend; an earlier one would shorten.
    f.clock.advance(time::Duration::days(10));
    let mut newer = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("parse")
        .order;
    newer.status = rc_domain::OrderStatus::Cancelled;
    newer.channel_updated_at += time::Duration::days(10);
    f.orders.upsert(&newer, None).await.expect("update");
    let pii = f.data.get(&pii_key()).await.expect("get").expect("pii");
    assert_eq!(
        pii.pii_deadline,
        Some(deadline),
        "the deadline never moves later"
    );
}

/// Issue 9, item 16: each secret of a connection is sealed under its own label, so swapping two
/// ciphertexts inside the item (the LWA client secret and refresh token, the current and previous
/// webhook secrets) is detected instead of silently exchanging the values.
#[tokio::test]
async fn swapped_secret_ciphertexts_within_a_connection_are_refused() {
    let f = fixture();
    let secret = |s: &str| Secret::new(SecretText::parse(s).expect("secret"));
    let credentials = rc_domain::LwaCredentials {
        client_id: "client".into(),
        client_secret: secret("client-secret"),
        refresh_token: secret("refresh-token"),
        region: rc_domain::Region::NorthAmerica,
    };
    f.connections
        .put_amazon(
            &merchant(),
            &SellerId::parse("A1SWAP").expect("seller"),
            &[MarketplaceId::parse("ATVPDKIKX0DER").expect("marketplace")],
            &credentials,
        )
        .await
        .expect("put");
    let shop = ShopDomain::parse("swap.myshopify.com").expect("shop");
    f.connections
        .put_shopify(
            &merchant(),
            &shop,
            &ShopifyCredentials {
                webhook_secret: secret("new"),
                previous_webhook_secret: Some(secret("old")),
                access_token: None,
            },
        )
        .await
        .expect("put");
    for (key, a, b) in [
        (
            ItemKey::new("CONN#amazon#A1SWAP", "CONNECTION"),
            "lwa_client_secret",
            "lwa_refresh_token",
        ),
        (
            ItemKey::new("CONN#shopify#swap.myshopify.com", "CONNECTION"),
            "webhook_secret",
            "webhook_secret_previous",
        ),
    ] {
        let mut item = f.data.get(&key).await.expect("get").expect("item");
        let (first, second) = (
            item.attrs.get(a).cloned().expect("a"),
            item.attrs.get(b).cloned().expect("b"),
        );
        item.set(a, second);
        item.set(b, first);
        let version = item.version;
        f.data.replace(item, version).await.expect("swap");
    }
    assert!(
        f.connections
            .amazon(&SellerId::parse("A1SWAP").expect("seller"))
            .await
            .is_err()
    );
    assert!(f.connections.shopify(&shop).await.is_err());
}

#[tokio::test]
async fn orders_that_need_action_are_indexed_with_their_status_and_leave_with_it() {
    use rc_domain::OrderStatus;
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("order");
    f.orders.upsert(&parsed.order, None).await.expect("stored");
    let id = parsed.order.id.clone();
    let listed = |orders: Vec<rc_orders::OrderView>| -> Vec<String> {
        orders.into_iter().map(|o| o.id).collect()
    };
    assert!(
        f.orders
            .needing_action(&merchant(), None, 100, None)
            .await
            .expect("list")
            .0
            .is_empty()
    );

    // Backordered, then needs attention: listed once, with its current status.
    f.orders
        .advance_status(&merchant(), &id, OrderStatus::Backordered)
        .await
        .expect("moved");
    let (page, next) = f
        .orders
        .needing_action(&merchant(), None, 100, None)
        .await
        .expect("list");
    assert_eq!((listed(page), next), (vec![id.to_string()], None));
    f.orders
        .advance_status(&merchant(), &id, OrderStatus::NeedsAttention)
        .await
        .expect("moved");
    let (page, _) = f
        .orders
        .needing_action(&merchant(), None, 100, None)
        .await
        .expect("list");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].status, OrderStatus::NeedsAttention);

    // Reserved after a fix: the entry goes in the same transaction.
    f.orders
        .advance_status(&merchant(), &id, OrderStatus::Reserved)
        .await
        .expect("moved");
    assert!(
        f.orders
            .needing_action(&merchant(), None, 100, None)
            .await
            .expect("list")
            .0
            .is_empty()
    );
    assert!(
        f.data
            .get(&ItemKey::new("M#m1", format!("ATTN#{id}")))
            .await
            .expect("read")
            .is_none()
    );

    // Another order, backordered, then cancelled on the channel: it leaves the list too.
    let mut other = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("order")
        .order;
    other.id = OrderId::parse("shopify-4242").expect("id");
    f.orders.upsert(&other, None).await.expect("stored");
    f.orders
        .advance_status(&merchant(), &other.id, OrderStatus::Backordered)
        .await
        .expect("moved");
    assert_eq!(
        f.orders
            .needing_action(&merchant(), None, 100, None)
            .await
            .expect("list")
            .0
            .len(),
        1
    );
    other.status = OrderStatus::Cancelled;
    other.channel_updated_at += time::Duration::minutes(5);
    f.orders.upsert(&other, None).await.expect("cancelled");
    assert!(
        f.orders
            .needing_action(&merchant(), None, 100, None)
            .await
            .expect("list")
            .0
            .is_empty()
    );
}

#[tokio::test]
async fn every_status_move_moves_the_orders_by_status_entry_in_the_same_transaction() {
    use rc_domain::{Channel, OrderStatus};
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("order");
    let mut other = parse_order(&merchant(), SAMPLE.as_bytes())
        .expect("order")
        .order;
    other.id = OrderId::parse("shopify-4343").expect("id");
    f.orders.upsert(&parsed.order, None).await.expect("stored");
    f.orders.upsert(&other, None).await.expect("stored");
    let id = parsed.order.id.clone();
    let in_status = |status| {
        let orders = &f.orders;
        async move {
            let (page, next) = orders
                .in_status(&merchant(), status, None, 100, None)
                .await
                .expect("list");
            assert_eq!(next, None);
            page.into_iter().map(|o| o.id).collect::<Vec<_>>()
        }
    };
    let mut both = vec![id.to_string(), other.id.to_string()];
    both.sort();
    assert_eq!(in_status(OrderStatus::Received).await, both);

    for to in [
        OrderStatus::Backordered,
        OrderStatus::Reserved,
        OrderStatus::LabelCreated,
        OrderStatus::Shipped,
    ] {
        f.orders
            .advance_status(&merchant(), &id, to)
            .await
            .expect("moved");
        assert_eq!(in_status(to).await, vec![id.to_string()], "{to:?}");
        assert_eq!(
            in_status(OrderStatus::Received).await,
            vec![other.id.to_string()]
        );
    }
    // Exactly one entry per order: the old ones are gone, not just hidden.
    let entries = rc_store::query_all(&*f.data, "M#m1", "ST#", 100)
        .await
        .expect("entries");
    assert_eq!(entries.len(), 2, "{entries:?}");

    // A channel's cancellation moves it too; a repeated report changes nothing.
    other.status = OrderStatus::Cancelled;
    other.channel_updated_at += time::Duration::minutes(5);
    f.orders.upsert(&other, None).await.expect("cancelled");
    f.orders.upsert(&other, None).await.expect("again");
    assert_eq!(
        in_status(OrderStatus::Cancelled).await,
        vec![other.id.to_string()]
    );
    assert!(in_status(OrderStatus::Received).await.is_empty());

    // One channel: a prefix of the same index (and of the orders by id).
    for (channel, expected) in [(Channel::Shopify, 1), (Channel::Amazon, 0)] {
        let (page, _) = f
            .orders
            .in_status(&merchant(), OrderStatus::Shipped, Some(channel), 100, None)
            .await
            .expect("list");
        assert_eq!(page.len(), expected, "{channel:?}");
        let (all, _) = f
            .orders
            .list(&merchant(), Some(channel), 100, None)
            .await
            .expect("list");
        assert_eq!(all.len(), expected * 2, "{channel:?}");
    }

    // Paging: one at a time, each once.
    let (first, next) = f
        .orders
        .list(&merchant(), None, 1, None)
        .await
        .expect("page");
    let next = next.expect("more");
    let (second, _) = f
        .orders
        .list(&merchant(), None, 1, Some(&next))
        .await
        .expect("page");
    assert_ne!(first[0].id, second[0].id);
}

#[tokio::test]
async fn orders_stored_before_the_status_index_are_reindexed_once() {
    use rc_domain::OrderStatus;
    let f = fixture();
    let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("order");
    f.orders.upsert(&parsed.order, None).await.expect("stored");
    f.orders
        .advance_status(&merchant(), &parsed.order.id, OrderStatus::Reserved)
        .await
        .expect("moved");
    // As an order stored by an older version: no by-status entry.
    for entry in rc_store::query_all(&*f.data, "M#m1", "ST#", 100)
        .await
        .expect("entries")
    {
        f.data.delete(&entry.key, None).await.expect("delete");
    }
    let listed = || async {
        f.orders
            .in_status(&merchant(), OrderStatus::Reserved, None, 100, None)
            .await
            .expect("list")
            .0
            .len()
    };
    assert_eq!(listed().await, 0);
    assert_eq!(
        f.orders
            .reindex_statuses(&merchant())
            .await
            .expect("reindex"),
        1
    );
    assert_eq!(listed().await, 1);
    assert_eq!(
        f.orders.reindex_statuses(&merchant()).await.expect("again"),
        0
    );
    // The next move moves the reindexed entry like any other.
    f.orders
        .advance_status(&merchant(), &parsed.order.id, OrderStatus::LabelCreated)
        .await
        .expect("moved");
    assert_eq!(listed().await, 0);
    let entries = rc_store::query_all(&*f.data, "M#m1", "ST#", 100)
        .await
        .expect("entries");
    assert_eq!(entries.len(), 1);
}
