//! The one conformance suite every adapter must pass, so that code built on the ports behaves the
//! same on DynamoDB and on the embedded store.
//!
//! Each check takes a fresh, empty store and the manual clock that store reads. Adapters run the
//! whole suite with [`conformance_suite!`](crate::conformance_suite).

use std::sync::Arc;

use rc_domain::{Clock, ManualClock};
use time::Duration;

use crate::limits::MAX_ITEM_BYTES;
use crate::{Item, ItemKey, Store, StoreError, TxOp, Value};

/// Generates one `#[tokio::test]` per check, each on a fresh store from `$make(clock).await`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@tests $make;
            create_is_conditional,
            replace_refuses_stale_versions,
            concurrent_creates_have_exactly_one_winner,
            transactions_are_all_or_nothing,
            concurrent_guarded_adjustments_never_go_below_the_guard,
            transactions_respect_dynamodb_rules_before_sending,
            due_items_are_found_through_the_deadline_index,
            partition_deadlines_list_one_partition_earliest_first,
            items_past_their_ttl_are_gone_on_read,
            delete_many_removes_more_than_one_batch,
            oversized_items_and_reserved_names_are_refused,
            partition_queries_page_by_prefix,
            many_items_are_read_at_once_in_the_order_asked,
            deletes_can_be_conditional_and_are_idempotent,
        );
    };
    (@tests $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let clock = ::std::sync::Arc::new($crate::conformance::start_clock());
                let store = $make(::std::sync::Arc::clone(&clock)).await;
                $crate::conformance::$check(&store, &clock).await;
            }
        )*
    };
}

/// The clock every check starts from.
pub fn start_clock() -> ManualClock {
    ManualClock::at(time::macros::datetime!(2026-11-01 00:00 UTC))
}

fn key(pk: &str, sk: &str) -> ItemKey {
    ItemKey::new(pk, sk)
}

fn sample(pk: &str, sk: &str) -> Item {
    Item::new(key(pk, sk))
        .with("name", Value::S("widget".into()))
        .with("count", Value::N(-42))
        .with("blob", Value::B(vec![0, 1, 2, 255]))
        .with("flag", Value::Bool(true))
}

fn now(clock: &ManualClock) -> i64 {
    clock.now().unix_timestamp()
}

pub async fn create_is_conditional<S: Store>(store: &S, _clock: &Arc<ManualClock>) {
    store
        .create(sample("P#1", "A"))
        .await
        .expect("first create");
    let again = store.create(sample("P#1", "A")).await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)), "{again:?}");
    let read = store
        .get(&key("P#1", "A"))
        .await
        .expect("get")
        .expect("present");
    assert_eq!(read.version, 1);
    assert_eq!(read.attrs, sample("P#1", "A").attrs);
    assert!(store.get(&key("P#1", "B")).await.expect("get").is_none());
}

pub async fn replace_refuses_stale_versions<S: Store>(store: &S, _clock: &Arc<ManualClock>) {
    store.create(sample("P#1", "A")).await.expect("create");
    let mut item = store
        .get(&key("P#1", "A"))
        .await
        .expect("get")
        .expect("present");
    item.set("name", Value::S("gadget".into()));
    store.replace(item.clone(), 1).await.expect("fresh write");
    let stale = store.replace(item, 1).await;
    assert!(
        matches!(stale, Err(StoreError::StaleVersion { expected: 1 })),
        "{stale:?}"
    );
    let read = store
        .get(&key("P#1", "A"))
        .await
        .expect("get")
        .expect("present");
    assert_eq!((read.version, read.string("name")), (2, Some("gadget")));
    let missing = store.replace(sample("P#1", "nope"), 1).await;
    assert!(
        matches!(missing, Err(StoreError::StaleVersion { .. })),
        "{missing:?}"
    );
}

pub async fn concurrent_creates_have_exactly_one_winner<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    let attempts = (0..20).map(|i| {
        let item = sample("DEDUPE#webhook-1", "MARK").with("attempt", Value::N(i));
        store.create(item)
    });
    let results = futures_join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::AlreadyExists)))
    );
}

pub async fn transactions_are_all_or_nothing<S: Store>(store: &S, _clock: &Arc<ManualClock>) {
    let stock = Item::new(key("STOCK#sku-1", "WH#1")).with("available", Value::N(5));
    store.create(stock).await.expect("create stock");
    let reserve = |qty: i64, order: &str| {
        vec![
            TxOp::Adjust {
                key: key("STOCK#sku-1", "WH#1"),
                deltas: vec![("available".into(), -qty), ("reserved".into(), qty)],
                at_least: vec![("available".into(), qty)],
            },
            TxOp::Create(Item::new(key("ORDER#1", order))),
        ]
    };
    store
        .transact(reserve(3, "r1"))
        .await
        .expect("enough stock");
    let refused = store.transact(reserve(3, "r2")).await;
    match refused {
        Err(StoreError::TransactionCancelled { failed }) => assert_eq!(failed, vec![0]),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    let stock = store
        .get(&key("STOCK#sku-1", "WH#1"))
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stock.number("available"), Some(2));
    assert_eq!(stock.number("reserved"), Some(3));
    assert_eq!(stock.version, 2, "an adjustment bumps the version");
    assert!(
        store
            .get(&key("ORDER#1", "r1"))
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        store
            .get(&key("ORDER#1", "r2"))
            .await
            .expect("get")
            .is_none(),
        "the second operation must not apply when the first fails"
    );
    let mixed = store
        .transact(vec![
            TxOp::CheckVersion {
                key: key("STOCK#sku-1", "WH#1"),
                version: 1,
            },
            TxOp::Delete {
                key: key("ORDER#1", "r1"),
                expected_version: None,
            },
        ])
        .await;
    assert!(
        matches!(mixed, Err(StoreError::TransactionCancelled { .. })),
        "{mixed:?}"
    );
    assert!(
        store
            .get(&key("ORDER#1", "r1"))
            .await
            .expect("get")
            .is_some()
    );
}

pub async fn concurrent_guarded_adjustments_never_go_below_the_guard<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    store
        .create(Item::new(key("STOCK#hot", "WH#1")).with("available", Value::N(10)))
        .await
        .expect("create");
    let attempts = (0..30).map(|_| {
        store.transact(vec![TxOp::Adjust {
            key: key("STOCK#hot", "WH#1"),
            deltas: vec![("available".into(), -1)],
            at_least: vec![("available".into(), 1)],
        }])
    });
    let mut results = futures_join_all(attempts).await;
    // A conflict is the backend asking for a retry; retry those until each attempt has an answer.
    for _ in 0..20 {
        let mut retried = Vec::new();
        for result in results {
            if matches!(result, Err(StoreError::TransactionConflict)) {
                retried.push(
                    store
                        .transact(vec![TxOp::Adjust {
                            key: key("STOCK#hot", "WH#1"),
                            deltas: vec![("available".into(), -1)],
                            at_least: vec![("available".into(), 1)],
                        }])
                        .await,
                );
            } else {
                retried.push(result);
            }
        }
        results = retried;
    }
    let granted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(granted, 10, "{results:?}");
    let stock = store
        .get(&key("STOCK#hot", "WH#1"))
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stock.number("available"), Some(0));
}

pub async fn transactions_respect_dynamodb_rules_before_sending<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    let too_many: Vec<TxOp> = (0..101)
        .map(|i| TxOp::Create(Item::new(key("BULK", &format!("{i:03}")))))
        .collect();
    let result = store.transact(too_many).await;
    assert!(
        matches!(
            result,
            Err(StoreError::TooManyTransactionItems { max: 100, got: 101 })
        ),
        "{result:?}"
    );
    let exactly_100: Vec<TxOp> = (0..100)
        .map(|i| TxOp::Create(Item::new(key("BULK", &format!("{i:03}")))))
        .collect();
    store
        .transact(exactly_100)
        .await
        .expect("100 operations are allowed");
    let twice = store
        .transact(vec![
            TxOp::Create(Item::new(key("DUP", "1"))),
            TxOp::Delete {
                key: key("DUP", "1"),
                expected_version: None,
            },
        ])
        .await;
    assert!(
        matches!(twice, Err(StoreError::DuplicateItemInTransaction)),
        "{twice:?}"
    );
}

pub async fn due_items_are_found_through_the_deadline_index<S: Store>(
    store: &S,
    clock: &Arc<ManualClock>,
) {
    let t = now(clock);
    let mut expected = Vec::new();
    for (i, offset) in [-300_i64, -10, 0, 100, 5000].iter().enumerate() {
        let mut item = sample(&format!("ORDER#{i}"), "PII");
        item.pii_deadline = Some(t + offset);
        store.create(item).await.expect("create");
        if *offset <= 0 {
            expected.push(format!("ORDER#{i}"));
        }
    }
    store
        .create(sample("ORDER#nodeadline", "PII"))
        .await
        .expect("create");

    let mut found = Vec::new();
    let mut token = None;
    for _ in 0..20 {
        let page = store.due(t, 1, token).await.expect("due");
        assert!(page.items.len() <= 1);
        found.extend(page.items.into_iter().map(|d| {
            assert!(d.pii_deadline <= t);
            d.key.pk
        }));
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    found.sort();
    assert_eq!(found, expected, "each due item exactly once, across pages");

    // Clearing the deadline (what the purger does) takes an item out of the index.
    let mut purged = store
        .get(&key("ORDER#0", "PII"))
        .await
        .expect("get")
        .expect("present");
    purged.pii_deadline = None;
    store.replace(purged, 1).await.expect("clear deadline");
    let page = store.due(t, 100, None).await.expect("due");
    assert_eq!(page.items.len(), expected.len() - 1);
    assert!(page.next.is_none());

    let bad = store
        .due(t, 10, Some(crate::PageToken("forged".into())))
        .await;
    assert!(matches!(bad, Err(StoreError::BadPageToken)), "{bad:?}");
}

pub async fn partition_deadlines_list_one_partition_earliest_first<S: Store>(
    store: &S,
    clock: &Arc<ManualClock>,
) {
    let t = now(clock);
    // Deadlines out of sort-key order, one tie, an item without a deadline, another prefix and
    // another partition: none of the last three may be listed.
    for (sk, offset) in [
        ("PII#c", 300_i64),
        ("PII#a", 900),
        ("PII#b", -50),
        ("PII#d", 300),
    ] {
        let mut item = sample("M#one", sk);
        item.pii_deadline = Some(t + offset);
        store.create(item).await.expect("create");
    }
    store
        .create(sample("M#one", "PII#e"))
        .await
        .expect("create");
    let mut other_prefix = sample("M#one", "LABEL#x");
    other_prefix.pii_deadline = Some(t);
    store.create(other_prefix).await.expect("create");
    let mut other_partition = sample("M#two", "PII#z");
    other_partition.pii_deadline = Some(t);
    store.create(other_partition).await.expect("create");

    let mut found = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let page = store
            .partition_deadlines("M#one", "PII#", None, 2, after.as_ref())
            .await
            .expect("deadlines");
        assert!(page.len() <= 2);
        let Some(last) = page.last().cloned() else {
            break;
        };
        found.extend(page.into_iter().map(|d| {
            assert_eq!(d.key.pk, "M#one");
            (d.pii_deadline - t, d.key.sk)
        }));
        after = Some(last);
    }
    let mut deadlines: Vec<i64> = found.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        deadlines,
        [-50, 300, 300, 900],
        "earliest first, across pages"
    );
    let mut keys: Vec<&str> = found.iter().map(|(_, sk)| sk.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["PII#a", "PII#b", "PII#c", "PII#d"],
        "each exactly once"
    );

    // Bounded by a deadline: only those due by then.
    let soon = store
        .partition_deadlines("M#one", "PII#", Some(t + 300), 10, None)
        .await
        .expect("deadlines");
    deadlines = soon.iter().map(|d| d.pii_deadline - t).collect();
    assert_eq!(deadlines, [-50, 300, 300]);

    // Clearing a deadline takes the item out.
    let mut cleared = store
        .get(&key("M#one", "PII#b"))
        .await
        .expect("get")
        .expect("present");
    cleared.pii_deadline = None;
    store.replace(cleared, 1).await.expect("clear deadline");
    let rest = store
        .partition_deadlines("M#one", "PII#", None, 10, None)
        .await
        .expect("deadlines");
    assert_eq!(rest.len(), 3);
    assert!(rest.iter().all(|d| d.key.sk != "PII#b"));
}

pub async fn items_past_their_ttl_are_gone_on_read<S: Store>(store: &S, clock: &Arc<ManualClock>) {
    let mut item = sample("SESSION#1", "A");
    item.expires_at = Some(now(clock) + 60);
    item.pii_deadline = Some(now(clock) + 30);
    store.create(item).await.expect("create");
    assert!(
        store
            .get(&key("SESSION#1", "A"))
            .await
            .expect("get")
            .is_some()
    );

    clock.advance(Duration::seconds(61));
    assert!(
        store
            .get(&key("SESSION#1", "A"))
            .await
            .expect("get")
            .is_none()
    );
    let listed = store
        .query_partition("SESSION#1", "", 10, None)
        .await
        .expect("query");
    assert!(listed.items.is_empty());
    // Still listed as due: an expired item that was not yet deleted still holds data to destroy.
    let due = store.due(now(clock), 10, None).await.expect("due");
    assert_eq!(due.items.len(), 1);
    // And its key is free again, as if the backend had already deleted it.
    store
        .create(sample("SESSION#1", "A"))
        .await
        .expect("create over an expired item");
    assert_eq!(
        store
            .get(&key("SESSION#1", "A"))
            .await
            .expect("get")
            .map(|i| i.version),
        Some(1)
    );
}

pub async fn delete_many_removes_more_than_one_batch<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    let keys: Vec<ItemKey> = (0..60).map(|i| key("MANY", &format!("{i:03}"))).collect();
    for k in &keys {
        store.create(Item::new(k.clone())).await.expect("create");
    }
    store
        .create(Item::new(key("OTHER", "keep")))
        .await
        .expect("create");
    store.delete_many(keys).await.expect("delete many");
    let left = store
        .query_partition("MANY", "", 100, None)
        .await
        .expect("query");
    assert!(left.items.is_empty());
    assert!(
        store
            .get(&key("OTHER", "keep"))
            .await
            .expect("get")
            .is_some()
    );
}

pub async fn oversized_items_and_reserved_names_are_refused<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    let big = Item::new(key("BIG", "1")).with("blob", Value::B(vec![7; MAX_ITEM_BYTES]));
    let result = store.create(big).await;
    assert!(
        matches!(result, Err(StoreError::ItemTooLarge { .. })),
        "{result:?}"
    );
    assert!(store.get(&key("BIG", "1")).await.expect("get").is_none());
    let near_limit = Item::new(key("BIG", "2")).with("blob", Value::B(vec![7; 390 * 1024]));
    store
        .create(near_limit)
        .await
        .expect("just under the limit");

    let reserved = Item::new(key("R", "1")).with("ttl", Value::N(1));
    let result = store.create(reserved).await;
    assert!(
        matches!(result, Err(StoreError::ReservedAttribute(_))),
        "{result:?}"
    );
    let result = store.get(&key("", "x")).await;
    assert!(matches!(result, Err(StoreError::BadKey)), "{result:?}");
}

pub async fn partition_queries_page_by_prefix<S: Store>(store: &S, _clock: &Arc<ManualClock>) {
    for sk in ["KEK", "DK#a", "DK#b", "DK#c", "DK%_odd"] {
        store
            .create(Item::new(key("MERCHANT#m1", sk)))
            .await
            .expect("create");
    }
    store
        .create(Item::new(key("MERCHANT#m2", "DK#z")))
        .await
        .expect("create");
    assert_eq!(
        every_page(store, false, "MERCHANT#m1", "DK#").await,
        vec!["DK#a", "DK#b", "DK#c"]
    );
    // Newest first: the same items in reverse, paged the same way; the neighbours ("DK%_odd"
    // sorts right after the prefix's range, "KEK" further) and the other partition stay out.
    store
        .create(Item::new(key("MERCHANT#m1", "DK$")))
        .await
        .expect("create");
    assert_eq!(
        every_page(store, true, "MERCHANT#m1", "DK#").await,
        vec!["DK#c", "DK#b", "DK#a"]
    );
    let wrong = store
        .query_partition_newest_first(
            "MERCHANT#m1",
            "DK#",
            2,
            Some(crate::PageToken("KEK".into())),
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::BadPageToken)), "{wrong:?}");
    let wrong = store
        .query_partition(
            "MERCHANT#m1",
            "DK#",
            2,
            Some(crate::PageToken("KEK".into())),
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::BadPageToken)), "{wrong:?}");
}

pub async fn many_items_are_read_at_once_in_the_order_asked<S: Store>(
    store: &S,
    clock: &Arc<ManualClock>,
) {
    // More than one DynamoDB batch, a key asked twice, an absent one, one past its TTL.
    let mut keys = Vec::new();
    for n in 0..130 {
        let item = sample("MANY#1", &format!("K#{n:03}"));
        keys.push(item.key.clone());
        store.create(item).await.expect("create");
    }
    let mut expiring = sample("MANY#1", "K#expired");
    expiring.expires_at = Some(now(clock) + 10);
    store.create(expiring).await.expect("create");
    clock.advance(time::Duration::seconds(11));
    keys.reverse();
    keys.insert(5, key("MANY#1", "K#absent"));
    keys.insert(7, key("MANY#1", "K#expired"));
    keys.push(key("MANY#1", "K#042"));
    let items = store.get_many(&keys).await.expect("read");
    assert_eq!(items.len(), keys.len());
    for (key, item) in keys.iter().zip(&items) {
        match key.sk.as_str() {
            "K#absent" | "K#expired" => assert!(item.is_none(), "{key:?}"),
            _ => {
                let item = item.as_ref().expect("present");
                assert_eq!(&item.key, key);
                assert_eq!(item.string("name"), Some("widget"));
                assert_eq!(item.version, 1);
            }
        }
    }
    assert!(store.get_many(&[]).await.expect("none").is_empty());
}

/// Every sort key under `prefix`, read two at a time in either direction.
async fn every_page<S: Store>(
    store: &S,
    newest_first: bool,
    pk: &str,
    prefix: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = if newest_first {
            store
                .query_partition_newest_first(pk, prefix, 2, token)
                .await
        } else {
            store.query_partition(pk, prefix, 2, token).await
        }
        .expect("query");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|i| i.key.sk));
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    seen
}

pub async fn deletes_can_be_conditional_and_are_idempotent<S: Store>(
    store: &S,
    _clock: &Arc<ManualClock>,
) {
    store.create(sample("DEL", "1")).await.expect("create");
    let stale = store.delete(&key("DEL", "1"), Some(7)).await;
    assert!(
        matches!(stale, Err(StoreError::ConditionFailed)),
        "{stale:?}"
    );
    store
        .delete(&key("DEL", "1"), Some(1))
        .await
        .expect("delete at version");
    assert!(store.get(&key("DEL", "1")).await.expect("get").is_none());
    store
        .delete(&key("DEL", "1"), None)
        .await
        .expect("deleting again is fine");
}

/// Runs futures concurrently on the current task (keeps the suite free of extra dependencies).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, fut) in outputs.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => *slot = Some(out),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
