//! The canary audit: orders carrying unique canary PII are ingested, a "backup" of the data
//! store is taken, the clock passes the deadline of some of them, and the purger runs. Then no
//! canary is readable anywhere — not in the live store, not in the backup opened with the live
//! keys — while orders not yet due keep their PII. The same for an account cancellation: one
//! step, and every PII of the merchant is unreadable, backups included. On the embedded store and
//! on DynamoDB + KMS (moto).

use crate::support;

use rc_privacy::PurgeLimits;
use support::privacy_stack::*;
use support::*;

const SHIPPED: [u64; 3] = [9101, 9102, 9103];
const OPEN: [u64; 3] = [9201, 9202, 9203];

async fn canary_audit(stack: Stack) {
    let logs = capture_all_logs();
    let mut emails = std::collections::HashMap::new();
    for id in SHIPPED.iter().chain(&OPEN) {
        emails.insert(*id, stack.ingest(*id).await);
    }
    for id in SHIPPED {
        let (status, order) = stack
            .api("POST", &format!("/v1/orders/shopify-{id}/shipped"), "")
            .await;
        assert_eq!((status, order["status"].as_str()), (200, Some("shipped")));
    }
    let backup = stack.backup().await;

    // Not yet due: a dry run lists nothing, a run purges nothing.
    let run = stack.services.privacy_run();
    let early = run
        .run(PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("run");
    assert_eq!(early.purge.due, 0);

    stack.clock.advance(time::Duration::days(31));
    let dry = run
        .run(PurgeLimits::default(), true, &mut |_| {})
        .await
        .expect("dry run");
    assert_eq!(dry.purge.would_purge.len(), 3, "{dry:?}");
    assert_eq!(dry.purge.purged, 0);
    let mut pages = 0;
    let report = run
        .run(PurgeLimits::default(), false, &mut |_| pages += 1)
        .await
        .expect("purge");
    assert_eq!(report.purge.purged, 3, "{report:?}");
    assert!(report.purge.failed.is_empty());
    assert!(pages >= 1, "progress was reported");

    let live = &stack.services.orders;
    let restored = stack.restored_orders(&backup);
    for id in SHIPPED {
        assert_eq!(
            open_email(live, id).await.expect("live"),
            None,
            "no PII item"
        );
        let from_backup = open_email(&restored, id).await;
        assert!(
            is_destroyed(&from_backup),
            "order {id}: the backup's sealed values no longer open: {from_backup:?}"
        );
        let (_, view) = stack
            .api("GET", &format!("/v1/orders/shopify-{id}"), "")
            .await;
        assert_eq!(view["buyer_pii"], "purged");
        assert_eq!(
            view["totals"]["total"]["minor"], 40300,
            "anonymized aggregates stay"
        );
        assert_eq!(
            (
                view["ship_to"]["country"].as_str(),
                view["ship_to"]["region"].as_str()
            ),
            (Some("US"), Some("KY"))
        );
    }
    for id in OPEN {
        // Not due: intact, live and in the backup (so the checks above can fail).
        assert_eq!(
            open_email(live, id).await.expect("live"),
            Some(emails[&id].clone())
        );
        assert_eq!(
            open_email(&restored, id).await.expect("backup"),
            Some(emails[&id].clone())
        );
    }
    let bytes = stack.raw_bytes().await;
    for canary in canaries()
        .into_iter()
        .chain(emails.values().map(String::as_str))
    {
        assert!(
            !contains(&bytes, canary),
            "no plaintext canary in the store"
        );
    }
    let events = format!("{:?}", stack.published.published());
    for email in emails.values() {
        assert!(
            !events.contains(email.as_str()),
            "queue messages carry ids only"
        );
    }

    let (status, chain) = stack.api("GET", "/v1/privacy/receipts/verify", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        (chain["receipts"].as_u64(), &chain["problem"]),
        (Some(3), &serde_json::Value::Null)
    );
    let (_, receipts) = stack.api("GET", "/v1/privacy/receipts", "").await;
    assert_eq!(receipts["receipts"][0]["rule"], "shipped");
    assert_eq!(receipts["receipts"][0]["scope"], "order");

    // Some inventory, to see it go with the account.
    let (status, _) = stack
        .api(
            "POST",
            "/v1/inventory/AUDIT-1/adjustments",
            r#"{"warehouse":"main","kind":"receive","quantity":3,"reason":"audit"}"#,
        )
        .await;
    assert_eq!(status, 200);

    // Cancellation: one request, and the open orders' PII is unreadable, backups included.
    let (status, cancelled) = stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm":"{MERCHANT}"}}"#),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let receipt = &cancelled["receipt"];
    assert_eq!(
        (receipt["scope"].as_str(), receipt["seq"].as_u64()),
        (Some("account"), Some(4))
    );
    for id in OPEN {
        let from_backup = open_email(&restored, id).await;
        assert!(is_destroyed(&from_backup), "order {id}: {from_backup:?}");
        assert!(open_email(live, id).await.expect("live").is_none());
    }
    let bytes = stack.raw_bytes().await;
    for email in emails.values() {
        assert!(!contains(&bytes, email));
    }
    let skus = stack.services.stock.skus(&merchant()).await.expect("skus");
    assert!(skus.is_empty(), "the merchant's inventory is gone too");
    let ledger = stack
        .services
        .stock
        .ledger(&merchant(), 10, None)
        .await
        .expect("ledger");
    assert!(ledger.items.is_empty());
    // Requested twice: a clear answer, and the same receipt on the status route.
    let (status, again) = stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm":"{MERCHANT}"}}"#),
        )
        .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (410, Some("account_closed"))
    );
    let (status, state) = stack.api("GET", "/v1/account/cancellation", "").await;
    assert_eq!(status, 200);
    assert_eq!(state["receipt"]["hash"], receipt["hash"]);
    let (_, chain) = stack.api("GET", "/v1/privacy/receipts/verify", "").await;
    assert_eq!(
        (chain["receipts"].as_u64(), &chain["problem"]),
        (Some(4), &serde_json::Value::Null)
    );
    // The shop is gone: its webhooks are refused, nothing is stored.
    let (body, _) = unique_canary_order(9301);
    assert_eq!(stack.webhook("orders/create", "late-1", body).await, 401);

    let logs = logs.text();
    for canary in canaries()
        .into_iter()
        .chain(emails.values().map(String::as_str))
    {
        assert!(!logs.contains(canary), "no canary in any log line");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_audit_on_the_embedded_store() {
    canary_audit(embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_audit_on_dynamodb_and_kms() {
    canary_audit(moto().await).await;
}
