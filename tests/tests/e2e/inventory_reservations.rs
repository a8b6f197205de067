//! Reservations never oversell: on the embedded store and on DynamoDB (moto), 200 orders race
//! for 50 units — exactly 50 reserve, the other 150 are backordered, stock never goes negative;
//! a kit and its components ordered concurrently stay consistent; re-delivery changes nothing.

use crate::support;

use std::sync::Arc;

use rc_domain::{Currency, LineItem, Money, OrderId, Quantity, Sku, WarehouseId};
use rc_inventory::{Adjustment, InventoryError, KitComponent, ReservationState};
use support::privacy_stack::*;

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("sku")
}

fn warehouse(raw: &str) -> WarehouseId {
    WarehouseId::parse(raw).expect("warehouse")
}

fn line(raw: &str, units: u32) -> LineItem {
    LineItem {
        charges: Default::default(),
        sku: sku(raw),
        quantity: Quantity::new(units).expect("quantity"),
        unit_price: Money::from_minor(1000, Currency::parse("USD").expect("currency"))
            .expect("money"),
        line_id: None,
    }
}

/// An order to the US, shipped from wherever the stock is (the merchant has no rules).
fn to_us() -> rc_inventory::RouteRequest {
    rc_inventory::RouteRequest {
        destination: rc_domain::Destination {
            country: Some(rc_domain::CountryCode::parse("US").expect("country")),
            region: None,
            postal_prefix: None,
        },
        channel: rc_domain::Channel::Shopify,
    }
}

fn order(n: u32) -> OrderId {
    OrderId::parse(&format!("race-{n}")).expect("order")
}

async fn receive(stack: &Stack, raw: &str, wh: &str, quantity: i64) {
    stack
        .services
        .stock
        .adjust(
            &merchant(),
            &sku(raw),
            &warehouse(wh),
            Adjustment::Receive { quantity },
            "initial stock",
            "test",
        )
        .await
        .expect("receive");
}

async fn two_hundred_orders_race_for_fifty_units(stack: Stack) {
    // 30 in one warehouse, 20 in another: a reservation may take from either.
    receive(&stack, "RACE-1", "east", 30).await;
    receive(&stack, "RACE-1", "west", 20).await;
    let stack = Arc::new(stack);
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let stack = Arc::clone(&stack);
            tokio::spawn(async move {
                stack
                    .services
                    .reservations
                    .reserve(&merchant(), &order(n), &[line("RACE-1", 1)], &to_us())
                    .await
                    .expect("reserve")
                    .state
            })
        })
        .collect();
    let mut reserved = 0;
    let mut backordered = 0;
    for task in tasks {
        match task.await.expect("task") {
            ReservationState::Reserved => reserved += 1,
            ReservationState::Backordered => backordered += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((reserved, backordered), (50, 150));
    let levels = stack
        .services
        .stock
        .levels(&merchant(), &sku("RACE-1"))
        .await
        .expect("levels");
    for level in levels.values() {
        assert!(level.available >= 0 && level.on_hand >= level.reserved);
        assert_eq!(level.available, 0);
    }
    let total: i64 = levels.values().map(|l| l.reserved).sum();
    assert_eq!(total, 50, "exactly the stock, none oversold");

    // Re-delivery changes nothing, a backordered order records its shortfall.
    let again = stack
        .services
        .reservations
        .reserve(&merchant(), &order(0), &[line("RACE-1", 1)], &to_us())
        .await
        .expect("again");
    let records = records(&stack).await;
    let short = records
        .iter()
        .find(|(_, r)| r.state == ReservationState::Backordered)
        .map(|(_, r)| r.clone())
        .expect("a backordered order");
    assert_eq!(short.shortfall[0].needed, 1);
    assert_eq!(short.shortfall[0].available, 0);
    let total_after: i64 = stack
        .services
        .stock
        .levels(&merchant(), &sku("RACE-1"))
        .await
        .expect("levels")
        .values()
        .map(|l| l.reserved)
        .sum();
    assert_eq!(
        total_after, 50,
        "re-delivery reserved nothing more ({again:?})"
    );

    // Cancel one reserved order: its unit comes back; a retried backorder then gets it.
    let winner = records
        .iter()
        .find(|(_, r)| r.state == ReservationState::Reserved)
        .map(|(n, _)| *n)
        .expect("a reserved order");
    let released = stack
        .services
        .reservations
        .release(&merchant(), &order(winner))
        .await
        .expect("release")
        .expect("record");
    assert_eq!(released.state, ReservationState::Released);
    stack
        .services
        .reservations
        .release(&merchant(), &order(winner))
        .await
        .expect("release twice");
    assert_eq!(
        stack
            .services
            .stock
            .available(&merchant(), &sku("RACE-1"))
            .await
            .expect("available"),
        1
    );
    let loser = records
        .iter()
        .find(|(_, r)| r.state == ReservationState::Backordered)
        .map(|(n, _)| *n)
        .expect("a backordered order");
    let retried = stack
        .services
        .reservations
        .reserve(&merchant(), &order(loser), &[line("RACE-1", 1)], &to_us())
        .await
        .expect("retry");
    assert_eq!(retried.state, ReservationState::Reserved);
    // Shipping consumes: on hand and reserved both drop.
    stack
        .services
        .reservations
        .consume(&merchant(), &order(loser))
        .await
        .expect("consume");
    let levels = stack
        .services
        .stock
        .levels(&merchant(), &sku("RACE-1"))
        .await
        .expect("levels");
    let on_hand: i64 = levels.values().map(|l| l.on_hand).sum();
    let reserved: i64 = levels.values().map(|l| l.reserved).sum();
    assert_eq!((on_hand, reserved), (49, 49));
}

/// Every race order's reservation record.
async fn records(stack: &Stack) -> Vec<(u32, rc_inventory::Reservation)> {
    let mut all = Vec::new();
    for n in 0..200 {
        if let Some(record) = stack
            .services
            .reservations
            .get(&merchant(), &order(n))
            .await
            .expect("record")
        {
            all.push((n, record));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_for_fifty_units_on_the_embedded_store() {
    two_hundred_orders_race_for_fifty_units(embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_for_fifty_units_on_dynamodb() {
    two_hundred_orders_race_for_fifty_units(moto().await).await;
}

async fn kits_and_components_race(stack: Stack) {
    receive(&stack, "CUP", "main", 10).await;
    receive(&stack, "SAUCER", "main", 10).await;
    stack
        .services
        .stock
        .define_kit(
            &merchant(),
            &sku("CUP-SET"),
            &[
                KitComponent {
                    sku: sku("CUP"),
                    quantity: 2,
                },
                KitComponent {
                    sku: sku("SAUCER"),
                    quantity: 2,
                },
            ],
        )
        .await
        .expect("kit");
    assert_eq!(
        stack
            .services
            .stock
            .available(&merchant(), &sku("CUP-SET"))
            .await
            .expect("available"),
        5
    );
    let stack = Arc::new(stack);
    // 8 kit orders (2 cups + 2 saucers each) and 8 single-cup orders race for 10 cups.
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let stack = Arc::clone(&stack);
            let lines = if n % 2 == 0 {
                vec![line("CUP-SET", 1)]
            } else {
                vec![line("CUP", 1)]
            };
            tokio::spawn(async move {
                let r = stack
                    .services
                    .reservations
                    .reserve(&merchant(), &order(1000 + n), &lines, &to_us())
                    .await
                    .expect("reserve");
                (n % 2 == 0, r.state == ReservationState::Reserved)
            })
        })
        .collect();
    let (mut kits, mut cups) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            (true, true) => kits += 1,
            (false, true) => cups += 1,
            _ => {}
        }
    }
    let cup = stack
        .services
        .stock
        .levels(&merchant(), &sku("CUP"))
        .await
        .expect("levels");
    let saucer = stack
        .services
        .stock
        .levels(&merchant(), &sku("SAUCER"))
        .await
        .expect("levels");
    let cup = cup.values().next().expect("cup");
    let saucer = saucer.values().next().expect("saucer");
    assert_eq!(
        cup.reserved,
        2 * kits + cups,
        "every reserved cup accounted for"
    );
    assert_eq!(
        saucer.reserved,
        2 * kits,
        "a kit reserves its saucers in the same step"
    );
    assert!(cup.available >= 0 && saucer.available >= 0 && cup.reserved <= 10);
    assert!(
        cup.available < 2 || saucer.available < 2 || kits == 8,
        "no kit left unserved wrongly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kits_and_components_ordered_concurrently_stay_consistent_embedded() {
    kits_and_components_race(embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kits_and_components_ordered_concurrently_stay_consistent_dynamodb() {
    kits_and_components_race(moto().await).await;
}

#[tokio::test]
async fn bad_adjustments_are_refused_and_stock_never_goes_negative() {
    let stack = embedded().await;
    receive(&stack, "BAD-1", "main", 5).await;
    stack
        .services
        .reservations
        .reserve(&merchant(), &order(1), &[line("BAD-1", 3)], &to_us())
        .await
        .expect("reserve");
    let stock = &stack.services.stock;
    let (m, s, w) = (merchant(), sku("BAD-1"), warehouse("main"));
    let refused = [
        Adjustment::Set { on_hand: 2 },
        Adjustment::Add { delta: -3 },
        Adjustment::Set { on_hand: -1 },
        Adjustment::Add { delta: 0 },
        Adjustment::Receive { quantity: 0 },
        Adjustment::Receive {
            quantity: 2_000_000_000,
        },
    ];
    for adjustment in refused {
        let result = stock.adjust(&m, &s, &w, adjustment, "test", "test").await;
        assert!(
            matches!(
                result,
                Err(InventoryError::Insufficient(_) | InventoryError::Invalid(_))
            ),
            "{adjustment:?}: {result:?}"
        );
    }
    let level = stock.levels(&m, &s).await.expect("levels")[&w];
    assert_eq!((level.on_hand, level.reserved, level.available), (5, 3, 2));
    let level = stock
        .adjust(
            &m,
            &s,
            &w,
            Adjustment::Set { on_hand: 3 },
            "cycle count",
            "merchant-api",
        )
        .await
        .expect("set to exactly what is reserved");
    assert_eq!(level.available, 0);
    let unknown = stack
        .services
        .reservations
        .reserve(&m, &order(2), &[line("NO-SUCH-SKU", 1)], &to_us())
        .await
        .expect("reserve");
    assert_eq!(unknown.state, ReservationState::Backordered);
    assert_eq!(unknown.shortfall[0].available, 0);
    let history = stock.ledger(&m, 100, None).await.expect("ledger");
    let kinds: Vec<&str> = history.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["receive", "reserve", "set"]);
    assert_eq!(history.items[2].reason, "cycle count");
    assert_eq!(history.items[2].changes[0].on_hand, -2);
    // Kits: no kit of kits, no self-reference, no stock of its own.
    let bad_kit = stock
        .define_kit(
            &m,
            &s,
            &[KitComponent {
                sku: sku("OTHER"),
                quantity: 1,
            }],
        )
        .await;
    assert!(matches!(bad_kit, Err(InventoryError::Invalid(_))));
}
