//! The PII lifecycle's promises one by one: crash-safety and idempotency of the purge, the
//! registry of copies, bounded runs, clocks of orders that never ship, tamper-evident receipts,
//! compliance requests, and bad input on the privacy routes.

use crate::support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rc_domain::{Clock, MerchantId, PiiRule};
use rc_privacy::{CopyEraser, PiiCopies, PurgeLimits};
use rc_store::{Item, ItemKey, Value};
use support::privacy_stack::*;

/// A kind of copy kept in memory, as a label store would be in S3.
#[derive(Default)]
struct LabelStore(Mutex<BTreeSet<String>>);

#[async_trait::async_trait]
impl CopyEraser for LabelStore {
    fn kind(&self) -> &'static str {
        "label"
    }
    fn store(&self) -> &'static str {
        "test-labels"
    }
    async fn erase(&self, _: &MerchantId, location: &str) -> Result<(), String> {
        self.0.lock().expect("labels").remove(location);
        Ok(())
    }
}

async fn ship(stack: &Stack, id: u64) {
    let (status, _) = stack
        .api("POST", &format!("/v1/orders/shopify-{id}/shipped"), "")
        .await;
    assert_eq!(status, 200);
}

async fn purge(stack: &Stack, limits: PurgeLimits) -> rc_privacy::PrivacyRunReport {
    stack
        .services
        .privacy_run()
        .run(limits, false, &mut |_| {})
        .await
        .expect("run")
}

#[tokio::test]
async fn a_purge_interrupted_at_any_step_is_finished_once_by_the_next_run() {
    let stack = embedded().await;
    for id in [1, 2, 3] {
        stack.ingest(id).await;
        ship(&stack, id).await;
    }
    stack.clock.advance(time::Duration::days(31));
    let (m, s) = (merchant(), &stack.services);
    // Order 1 crashed after destroying its key; order 2 after stripping too.
    s.vault
        .destroy_subject_key(&m, &rc_vault::KeySubject::order(&order_id(1)))
        .await
        .expect("destroy");
    s.vault
        .destroy_subject_key(&m, &rc_vault::KeySubject::order(&order_id(2)))
        .await
        .expect("destroy");
    s.orders.strip_pii(&m, &order_id(2)).await.expect("strip");
    let (_, view) = stack.api("GET", "/v1/orders/shopify-2", "").await;
    assert_eq!(view["buyer_pii"], "purged");

    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.purge.purged, 3, "{report:?}");
    let again = purge(&stack, PurgeLimits::default()).await;
    assert_eq!((again.purge.due, again.purge.purged), (0, 0), "idempotent");
    let chain = s.receipts.verify(&m).await.expect("verify");
    assert_eq!((chain.receipts, chain.problem), (3, None));
    let (receipts, _) = s.receipts.list(&m, 10, None).await.expect("list");
    let second = receipts
        .iter()
        .find(|r| r.subject == "shopify-2")
        .expect("receipt");
    assert!(
        second
            .removed
            .iter()
            .any(|r| r.what.starts_with("sealed fields: buyer_name,email")),
        "the receipt names the fields stripped by the crashed attempt: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purgers_write_exactly_one_receipt_per_order() {
    let stack = embedded().await;
    for id in 10..30 {
        stack.ingest(id).await;
        ship(&stack, id).await;
    }
    stack.clock.advance(time::Duration::days(31));
    let (a, b) = tokio::join!(
        purge(&stack, PurgeLimits::default()),
        purge(&stack, PurgeLimits::default())
    );
    assert_eq!(
        a.purge.purged + b.purge.purged,
        20,
        "each order purged once: {a:?} {b:?}"
    );
    let chain = stack
        .services
        .receipts
        .verify(&merchant())
        .await
        .expect("verify");
    assert_eq!((chain.receipts, chain.problem), (20, None));
}

#[tokio::test]
async fn registered_copies_are_erased_and_an_unknown_kind_keeps_the_order_due() {
    let mut stack = embedded().await;
    let labels = Arc::new(LabelStore::default());
    let copies = PiiCopies::new(stack.services.data.clone(), stack.clock.clone())
        .with_eraser(labels.clone());
    stack.services = stack.services.clone().with_copies(copies);
    let (m, s) = (merchant(), stack.services.clone());
    for id in [41, 42] {
        stack.ingest(id).await;
        ship(&stack, id).await;
    }
    let location = "labels/shopify-41.pdf";
    s.copies
        .record(&m, &order_id(41), "label", location)
        .await
        .expect("record");
    labels.0.lock().expect("labels").insert(location.into());
    assert!(matches!(
        s.copies.record(&m, &order_id(41), "ghost", "x").await,
        Err(rc_privacy::PrivacyError::UnknownCopyKind(_))
    ));
    // A pointer of a kind nobody erases (written around the registry): never skipped.
    s.data
        .create(
            Item::new(ItemKey::new(
                "M#privacy-merchant",
                "PIICOPY#shopify-42#ghost#00",
            ))
            .with("kind", Value::S("ghost".into()))
            .with("location", Value::S("somewhere".into())),
        )
        .await
        .expect("pointer");

    stack.clock.advance(time::Duration::days(31));
    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.purge.purged, 1);
    assert_eq!(report.purge.failed.len(), 1);
    assert_eq!(report.purge.failed[0].0, "shopify-42");
    assert!(
        labels.0.lock().expect("labels").is_empty(),
        "the label was erased"
    );
    let (receipts, _) = s.receipts.list(&m, 10, None).await.expect("list");
    assert!(
        receipts[0]
            .removed
            .iter()
            .any(|r| r.store == "test-labels" && r.count == 1)
    );
    let due = s
        .data
        .due(stack.clock.now().unix_timestamp(), 10, None)
        .await
        .expect("due");
    assert_eq!(
        due.items.len(),
        1,
        "the failed order stays due for the next run"
    );

    s.data
        .delete(
            &ItemKey::new("M#privacy-merchant", "PIICOPY#shopify-42#ghost#00"),
            None,
        )
        .await
        .expect("operator removes the stray pointer");
    assert_eq!(purge(&stack, PurgeLimits::default()).await.purge.purged, 1);
}

#[tokio::test]
async fn runs_are_bounded_and_continue_where_they_stopped() {
    let stack = embedded().await;
    for id in 50..55 {
        stack.ingest(id).await;
        ship(&stack, id).await;
    }
    stack.clock.advance(time::Duration::days(31));
    let limits = PurgeLimits {
        max_orders: 2,
        page: 2,
    };
    let first = purge(&stack, limits).await;
    assert_eq!((first.purge.purged, first.purge.more_due), (2, true));
    let second = purge(&stack, limits).await;
    assert_eq!((second.purge.purged, second.purge.more_due), (2, true));
    let third = purge(&stack, limits).await;
    assert_eq!((third.purge.purged, third.purge.more_due), (1, false));
}

#[tokio::test]
async fn orders_that_never_ship_lose_their_pii_on_their_own_clocks() {
    let stack = embedded().await;
    stack.ingest(61).await; // stays open
    stack.ingest(62).await;
    let (mut cancelled, _) = unique_canary_order(62);
    let mut json: serde_json::Value = serde_json::from_slice(&cancelled).expect("json");
    json["cancelled_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    json["updated_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    cancelled = serde_json::to_vec(&json).expect("encode");
    assert_eq!(
        stack
            .webhook("orders/cancelled", "cancel-62", cancelled)
            .await,
        200
    );

    stack.clock.advance(time::Duration::days(31));
    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.purge.purged, 1, "cancelled + 30 days: {report:?}");
    stack.clock.advance(time::Duration::days(60));
    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.purge.purged, 1, "placed + 90 days");
    let (receipts, _) = stack
        .services
        .receipts
        .list(&merchant(), 10, None)
        .await
        .expect("list");
    let rules: Vec<PiiRule> = receipts.iter().map(|r| r.rule).collect();
    assert_eq!(rules, vec![PiiRule::Cancelled, PiiRule::UnshippedLimit]);
}

#[tokio::test]
async fn a_tampered_or_gapped_receipt_chain_is_reported_where_it_breaks() {
    let stack = embedded().await;
    for id in 70..74 {
        stack.ingest(id).await;
        ship(&stack, id).await;
    }
    stack.clock.advance(time::Duration::days(31));
    purge(&stack, PurgeLimits::default()).await;
    let (m, data) = (merchant(), stack.services.data.clone());
    let key = |seq: u64| ItemKey::new("RECEIPTS#privacy-merchant", format!("R#{seq:012}"));

    let second = data.get(&key(2)).await.expect("get").expect("receipt");
    let original = second.clone();
    let forged = second
        .string("receipt")
        .expect("body")
        .replace("\"rule\":\"shipped\"", "\"rule\":\"customer_redact\"");
    let mut tampered = second.clone();
    tampered.set("receipt", Value::S(forged));
    data.replace(tampered, second.version)
        .await
        .expect("tamper");
    let report = stack.services.receipts.verify(&m).await.expect("verify");
    assert_eq!(
        report.problem.as_ref().map(|p| p.seq),
        Some(2),
        "{report:?}"
    );
    assert!(report.problem.expect("problem").problem.contains("hash"));

    let current = data.get(&key(2)).await.expect("get").expect("receipt");
    data.replace(original, current.version)
        .await
        .expect("restore");
    assert_eq!(
        stack
            .services
            .receipts
            .verify(&m)
            .await
            .expect("verify")
            .problem,
        None
    );
    data.delete(&key(3), None).await.expect("remove");
    let report = stack.services.receipts.verify(&m).await.expect("verify");
    assert_eq!(
        report.problem.as_ref().map(|p| p.seq),
        Some(3),
        "{report:?}"
    );
    let (status, body) = stack.api("GET", "/v1/privacy/receipts/verify", "").await;
    assert_eq!((status, body["problem"]["seq"].as_u64()), (200, Some(3)));
}

#[tokio::test]
async fn shopify_compliance_requests_are_fulfilled() {
    let stack = embedded().await;
    let shipped_email = stack.ingest(81).await;
    ship(&stack, 81).await;
    let open_email_address = stack.ingest(82).await;
    let redact = serde_json::json!({
        "shop_id": 1, "shop_domain": SHOP,
        "customer": {"id": 7, "email": shipped_email},
        "orders_to_redact": [81, 82, 83]
    });
    assert_eq!(
        stack
            .webhook(
                "customers/redact",
                "redact-1",
                serde_json::to_vec(&redact).expect("json")
            )
            .await,
        200
    );
    let data_request = serde_json::json!({
        "shop_id": 1, "shop_domain": SHOP,
        "customer": {"id": CUSTOMER_ID, "email": open_email_address},
        "orders_requested": [82], "data_request": {"id": 9999}
    });
    assert_eq!(
        stack
            .webhook(
                "customers/data_request",
                "access-1",
                serde_json::to_vec(&data_request).expect("json")
            )
            .await,
        200
    );
    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.requests.fulfilled, 2, "{report:?}");

    let (status, request) = stack.api("GET", "/v1/privacy/requests/redact-1", "").await;
    assert_eq!(status, 200);
    assert_eq!(request["status"], "fulfilled", "{request}");
    assert_eq!(
        request["outcome"]["orders"]["shopify-81"], "purged",
        "{request}"
    );
    assert_eq!(
        request["outcome"]["orders"]["shopify-82"],
        "kept_until_deadline_needed_to_fulfil"
    );
    assert_eq!(request["outcome"]["orders"]["shopify-83"], "not_held");
    assert!(
        !request.to_string().contains(&shipped_email),
        "no contact details kept"
    );
    let live = &stack.services.orders;
    assert_eq!(open_email(live, 81).await.expect("open"), None);
    assert_eq!(
        open_email(live, 82).await.expect("open"),
        Some(open_email_address.clone())
    );
    let (receipts, _) = stack
        .services
        .receipts
        .list(&merchant(), 10, None)
        .await
        .expect("list");
    assert_eq!(receipts[0].rule, PiiRule::CustomerRedact);

    let (status, access) = stack.api("GET", "/v1/privacy/requests/access-1", "").await;
    assert_eq!(
        (status, &access["outcome"]["orders"]["shopify-82"]["held"]),
        (200, &serde_json::json!(true))
    );
    let (status, refused) = stack
        .api("GET", "/v1/privacy/requests/access-1/report", "")
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("insufficient_scope")),
        "an ordinary key cannot open PII"
    );
    let (status, report) = stack
        .api_as(
            PII_KEY,
            "GET",
            "/v1/privacy/requests/access-1/report",
            "",
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        report["orders"][0]["buyer"]["email"],
        open_email_address.as_str()
    );
    // An operator opening it for the merchant (`rc-ops data-report … --reason ZD-48213`): the
    // same report, one more audit entry, under the operator and the case.
    let (_, before) = stack.api("GET", "/v1/audit", "").await;
    let before = before["entries"].as_array().expect("entries").len();
    let privacy = rc_api::PrivacyApi {
        requests: stack.services.privacy_requests.clone(),
        receipts: stack.services.receipts.clone(),
        cancellation: stack.services.cancellation.clone(),
        audit: stack.services.audit.clone(),
    };
    let case = rc_orders::CaseReference::parse("ZD-48213").expect("case");
    assert!(rc_orders::CaseReference::parse("the customer asked").is_err());
    let request_id = case.request_id();
    let opened = privacy
        .data_subject_report(
            &stack.services.orders,
            &merchant(),
            "access-1",
            &rc_orders::Actor {
                id: "operator:local:alice",
                request_id: &request_id,
            },
        )
        .await
        .expect("report");
    assert_eq!(
        opened["orders"][0]["buyer"]["email"],
        report["orders"][0]["buyer"]["email"]
    );
    let (_, trail) = stack.api("GET", "/v1/audit", "").await;
    let entries = trail["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), before + 1, "exactly one entry per reveal");
    let last = entries.last().expect("entry");
    assert_eq!(
        (
            last["action"].as_str(),
            last["purpose"].as_str(),
            last["actor"].as_str(),
            last["request_id"].as_str()
        ),
        (
            Some("pii_reveal"),
            Some("data_subject_report"),
            Some("operator:local:alice"),
            Some("case:ZD-48213")
        )
    );
    let (status, _) = stack
        .api_as(
            PII_KEY,
            "GET",
            "/v1/privacy/requests/redact-1/report",
            "",
            &[],
        )
        .await;
    assert_eq!(status, 409, "only a fulfilled data request has a report");

    let shop = serde_json::json!({"shop_id": 1, "shop_domain": SHOP});
    assert_eq!(
        stack
            .webhook(
                "shop/redact",
                "shop-1",
                serde_json::to_vec(&shop).expect("json")
            )
            .await,
        200
    );
    let report = purge(&stack, PurgeLimits::default()).await;
    assert_eq!(report.requests.fulfilled, 1);
    let (status, state) = stack.api("GET", "/v1/account/cancellation", "").await;
    assert_eq!((status, state["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(state["receipt"]["rule"], "shop_redact");
    assert!(open_email(live, 82).await.expect("open").is_none());
}

#[tokio::test]
async fn bad_input_on_the_privacy_routes_is_a_clear_error() {
    let stack = embedded().await;
    stack.ingest(91).await;
    let cases = [
        // No body lacks the confirmation like a wrong one (issue 9, item 17).
        ("DELETE", "/v1/account", "", 422, "confirmation_required"),
        (
            "DELETE",
            "/v1/account",
            r#"{"confirm":"someone-else"}"#,
            422,
            "confirmation_required",
        ),
        (
            "DELETE",
            "/v1/account",
            r#"{"confirm":"privacy-merchant","x":1}"#,
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/orders/shopify-404/shipped",
            "",
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/orders/shopify-91/shipped",
            "",
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/v1/privacy/requests/no%20such",
            "",
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/privacy/receipts?after=abc",
            "",
            404,
            "not_found",
        ),
        ("GET", "/v1/account/cancellation", "", 404, "not_found"),
        ("POST", "/v1/account", "", 405, "method_not_allowed"),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, answer) = stack.api(method, path, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{method} {path} {body}"
        );
    }
    // Cancelled orders cannot ship; shipping twice is the same as once.
    let (mut cancelled, _) = unique_canary_order(92);
    let mut json: serde_json::Value = serde_json::from_slice(&cancelled).expect("json");
    json["cancelled_at"] = serde_json::json!("2026-11-24T10:00:00Z");
    cancelled = serde_json::to_vec(&json).expect("encode");
    assert_eq!(
        stack.webhook("orders/cancelled", "c-92", cancelled).await,
        200
    );
    let (status, answer) = stack.api("POST", "/v1/orders/shopify-92/shipped", "").await;
    assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")));
    ship(&stack, 91).await;
    ship(&stack, 91).await;
    let (_, view) = stack.api("GET", "/v1/orders/shopify-91", "").await;
    assert_eq!(view["version"], 2, "the second mark changed nothing");
}
