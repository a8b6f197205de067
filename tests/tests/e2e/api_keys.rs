//! Scoped API keys, on both store adapters: every route of the merchant API (the router's own
//! scope table) tried with a key lacking its scope, a revoked key, an expired key, another
//! tenant's key and a closed account's key. Keys are made and revoked through the API; a key
//! cannot hand out a scope it lacks; listing never shows a key or its hash.

use crate::support;

use rc_domain::{MerchantId, Secret, SecretText};
use rc_orders::{ApiKey, Scope};
use support::privacy_stack::*;

const OTHER: &str = "api-keys-other-merchant";

/// A valid value for each path parameter (ids that exist for the merchant where it matters).
fn sample(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{order_id}" => "shopify-820982911946154508",
            "{shipment_id}" => "shopify-820982911946154508.1",
            "{sku}" => "IPOD2008PINK",
            "{warehouse_id}" => "main",
            "{class_id}" => "gst-18",
            "{shop}" => "acme.myshopify.com",
            "{seller_id}" => "A1B2C3D4E5F6G7",
            "{kind}" => "easypost",
            "{name}" => "main",
            "{request_id}" => "req-1",
            "{key_id}" => "0123456789abcdef",
            "{export_id}" => "x1795000000000-0123456789abcdef",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(stack: &Stack, key: &str, method: &str, path: &str) -> (u16, serde_json::Value) {
    stack.api_as(key, method, path, "{}", &[]).await
}

async fn issue(stack: &Stack, merchant: &MerchantId, scopes: &[Scope]) -> String {
    let key = stack
        .services
        .api_keys
        .issue_with(merchant, scopes)
        .await
        .expect("issue");
    key.0
        .reveal(rc_domain::RevealPurpose::Authentication)
        .as_str()
        .to_owned()
}

async fn every_route_enforces_its_scope(stack: Stack) {
    let m = merchant();
    stack.ingest(820982911946154508).await;

    // Made through the API: shown once, listed without the key or its hash.
    let (status, made) = stack
        .api(
            "POST",
            "/v1/api-keys",
            r#"{"name": "warehouse tablet", "scopes": ["orders:read", "inventory:read"]}"#,
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let tablet = made["key"].as_str().expect("key").to_owned();
    assert!(
        tablet.starts_with("rck_") && tablet.starts_with(made["prefix"].as_str().expect("prefix"))
    );
    let (status, listed) = stack.api("GET", "/v1/api-keys", "").await;
    assert_eq!(status, 200);
    let text = listed.to_string();
    assert!(!text.contains(&tablet) && !text.contains(&tablet[8..]));
    let entry = listed["api_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == made["id"])
        .expect("listed")
        .clone();
    assert_eq!(entry["name"], "warehouse tablet");
    assert_eq!(
        entry["scopes"],
        serde_json::json!(["orders:read", "inventory:read"])
    );
    // It reads orders, and nothing else.
    assert_eq!(call(&stack, &tablet, "GET", "/v1/orders").await.0, 200);
    let (status, refused) = call(&stack, &tablet, "GET", "/v1/connections").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // A key cannot hand out what it lacks; bad requests say why and make nothing.
    let cases = [
        (
            r#"{"name": "x", "scopes": ["pii:read"]}"#,
            403,
            "insufficient_scope",
        ),
        (
            r#"{"name": "x", "scopes": ["orders:everything"]}"#,
            422,
            "unknown_scope",
        ),
        (r#"{"name": "x", "scopes": []}"#, 422, "invalid_field"),
        (
            r#"{"name": "", "scopes": ["orders:read"]}"#,
            422,
            "invalid_field",
        ),
        (
            r#"{"name": "x", "scopes": ["orders:read"], "expires_at": "2020-01-01T00:00:00Z"}"#,
            422,
            "invalid_field",
        ),
        (
            r#"{"name": "x", "scopes": ["orders:read"], "expires_at": "2031-01-01T00:00:00Z"}"#,
            422,
            "invalid_field",
        ),
        (
            r#"{"name": "x", "scopes": "orders:read"}"#,
            422,
            "invalid_body",
        ),
    ];
    for (body, status, reason) in cases {
        let (got, answer) = stack.api("POST", "/v1/api-keys", body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{body}"
        );
    }
    let long_name = format!(
        r#"{{"name": "{}", "scopes": ["orders:read"]}}"#,
        "n".repeat(10_240)
    );
    let (got, answer) = stack.api("POST", "/v1/api-keys", &long_name).await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (422, Some("invalid_field"))
    );
    assert!(!answer.to_string().contains("nnnn"));
    let ids = |list: &serde_json::Value| -> Vec<String> {
        list["api_keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let (_, again) = stack.api("GET", "/v1/api-keys", "").await;
    assert_eq!(ids(&again), ids(&listed), "nothing was made");

    // Every route with a key holding every scope but the route's: 403, before anything runs.
    for entry in rc_api::ROUTE_SCOPES {
        let others: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| *s != entry.scope)
            .collect();
        let key = issue(&stack, &m, &others).await;
        let path = sample(entry.path);
        let (status, answer) = call(&stack, &key, entry.method, &path).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (403, Some("insufficient_scope")),
            "{} {path}",
            entry.method
        );
    }

    // Revoked: refused at once, on every route.
    let (status, _) = stack
        .api(
            "DELETE",
            &format!("/v1/api-keys/{}", made["id"].as_str().expect("id")),
            "",
        )
        .await;
    assert_eq!(status, 200);
    // Expired: said so, on every route.
    let (expiring, _) = stack
        .services
        .api_keys
        .issue_named(
            &m,
            "short-lived",
            &Scope::ALL,
            Some(start_time() + time::Duration::hours(1)),
        )
        .await
        .expect("issue");
    let expiring = expiring
        .0
        .reveal(rc_domain::RevealPurpose::Authentication)
        .as_str()
        .to_owned();
    assert_eq!(call(&stack, &expiring, "GET", "/v1/orders").await.0, 200);
    stack.clock.advance(time::Duration::hours(2));
    for entry in rc_api::ROUTE_SCOPES {
        let path = sample(entry.path);
        let (status, answer) = call(&stack, &tablet, entry.method, &path).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("unauthorized")),
            "revoked: {} {path}",
            entry.method
        );
        let (status, answer) = call(&stack, &expiring, entry.method, &path).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("key_expired")),
            "expired: {} {path}",
            entry.method
        );
    }

    // Another tenant, with every scope: none of this merchant's data, whatever the route.
    let other = MerchantId::parse(OTHER).expect("merchant");
    let theirs = issue(&stack, &other, &Scope::ALL).await;
    let ours = made["id"].as_str().expect("id").to_owned();
    for entry in rc_api::ROUTE_SCOPES.iter().filter(|r| r.method == "GET") {
        let path = sample(entry.path);
        let (status, answer) = call(&stack, &theirs, "GET", &path).await;
        let text = answer.to_string();
        assert!(
            status == 404 || !text.contains("820982911946154508"),
            "GET {path} answered {status} with this merchant's order: {text}"
        );
    }
    let (status, _) = call(&stack, &theirs, "DELETE", &format!("/v1/api-keys/{ours}")).await;
    assert_eq!(status, 404, "another tenant's key id is not found");
    let (status, _) = call(
        &stack,
        &theirs,
        "POST",
        "/v1/orders/shopify-820982911946154508/shipped",
    )
    .await;
    assert_eq!(status, 404);
    let (_, view) = stack
        .api("GET", "/v1/orders/shopify-820982911946154508", "")
        .await;
    assert_ne!(
        view["status"], "shipped",
        "their write never reached our order"
    );

    // A closed account: 410 everywhere but the cancellation status and the receipts.
    let (status, _) = call(&stack, &theirs, "DELETE", "/v1/account").await;
    assert_eq!(status, 422, "cancelling needs its confirmation");
    let (status, cancelled) = stack
        .api_as(
            &theirs,
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm":"{OTHER}"}}"#),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    for entry in rc_api::ROUTE_SCOPES {
        let path = sample(entry.path);
        let (status, answer) = call(&stack, &theirs, entry.method, &path).await;
        let readable = [
            "/v1/account/cancellation",
            "/v1/privacy/receipts",
            "/v1/privacy/receipts/verify",
        ]
        .contains(&entry.path);
        if readable {
            assert_eq!(status, 200, "{} {path}: {answer}", entry.method);
        } else {
            assert_eq!(
                (status, answer["error"].as_str()),
                (410, Some("account_closed")),
                "{} {path}",
                entry.method
            );
        }
    }
    // The merchant's own default key still works.
    assert_eq!(stack.api("GET", "/v1/orders", "").await.0, 200);
}

/// Keys registered before scopes existed (no scope set stored) keep what they could do: every
/// route but those opening PII, and `pii:read` where it was given.
async fn keys_from_before_scopes_keep_what_they_could_do(stack: Stack) {
    let m = merchant();
    let legacy = ApiKey(Secret::new(
        SecretText::parse("rck_legacy_key_from_before_scopes").expect("key"),
    ));
    stack
        .services
        .api_keys
        .register(&m, &legacy)
        .await
        .expect("register");
    // Made as the old code made it: no `scope_set`, no scopes.
    let hash = rc_domain::to_hex(
        aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            b"rck_legacy_key_from_before_scopes",
        )
        .as_ref(),
    );
    let key = rc_store::ItemKey::new(format!("APIKEY#{hash}"), "APIKEY");
    let item = stack
        .services
        .data
        .get(&key)
        .await
        .expect("get")
        .expect("item");
    let mut old = rc_store::Item::new(key);
    old.set("merchant", item.attrs["merchant"].clone());
    old.set("scopes", rc_store::Value::S(String::new()));
    stack
        .services
        .data
        .replace(old, item.version)
        .await
        .expect("replace");
    let token = "rck_legacy_key_from_before_scopes";
    assert_eq!(call(&stack, token, "GET", "/v1/orders").await.0, 200);
    assert_eq!(call(&stack, token, "GET", "/v1/connections").await.0, 200);
    let (status, answer) = call(&stack, token, "GET", "/v1/shipments/shopify-1.1/label").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

/// Administrative actions leave one entry each in the merchant's hash-chained audit trail,
/// under the acting key and the request's id; changing, removing or forging an entry is found
/// at its sequence number.
async fn admin_actions_are_in_a_verifiable_chain(stack: Stack) {
    let m = merchant();
    let request = |method: &str, path: &str, body: &str| {
        http::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .body(bytes::Bytes::from(body.to_owned()))
            .expect("request")
    };
    let api = stack.services.merchant_api(&stack.channels);
    let issued = api
        .handle(request(
            "POST",
            "/v1/api-keys",
            r#"{"name": "auditor", "scopes": ["privacy:read"]}"#,
        ))
        .await;
    check_answer("POST", "/v1/api-keys", &issued);
    assert_eq!(issued.status(), 201);
    let request_id = issued.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let made: serde_json::Value = serde_json::from_slice(issued.body()).expect("json");
    let new_id = made["id"].as_str().expect("id").to_owned();
    let steps = [
        ("PUT", "/v1/settings/tax", r#"{"eu_below_threshold": true}"#),
        ("PUT", "/v1/settings/tax", r#"{"eu_below_threshold": "no"}"#), // refused: no entry
        ("DELETE", &format!("/v1/api-keys/{new_id}"), ""),
        ("GET", "/v1/orders", ""), // not administrative: no entry
    ];
    for (method, path, body) in steps {
        let response = api.handle(request(method, path, body)).await;
        check_answer(method, path, &response);
    }
    let (status, trail) = stack.api("GET", "/v1/audit", "").await;
    assert_eq!(status, 200);
    let entries = trail["entries"].as_array().expect("entries");
    let summary: Vec<(u64, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().expect("seq"),
                e["action"].as_str().expect("action"),
                e["purpose"].as_str().expect("purpose"),
                e["subject"].as_str().expect("subject"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "api_key_issued", "privacy:read", new_id.as_str()),
            (2, "settings_changed", "tax", ""),
            (3, "api_key_revoked", "", new_id.as_str()),
        ]
    );
    assert_eq!(entries[0]["request_id"], request_id.as_str());
    let admin_key_id = entries[0]["actor"].as_str().expect("actor");
    assert_eq!(admin_key_id.len(), 16);
    assert!(entries.iter().all(|e| e["actor"] == admin_key_id));
    let (_, verified) = stack.api("GET", "/v1/audit/verify", "").await;
    assert_eq!(
        (verified["entries"].as_u64(), &verified["problem"]),
        (Some(3), &serde_json::Value::Null)
    );
    // Another merchant's trail holds none of it.
    let other = MerchantId::parse(OTHER).expect("merchant");
    let (theirs, _) = stack
        .services
        .audit
        .list(&other, 10, None)
        .await
        .expect("list")
        .expect("page");
    assert!(theirs.is_empty());

    // Tampering, found where it happened.
    let data = &stack.services.data;
    let key =
        |seq: u64| rc_store::ItemKey::new(format!("AUDIT#{MERCHANT}"), format!("E#{seq:012}"));
    let original = data.get(&key(2)).await.expect("get").expect("entry");
    let mut changed = original.clone();
    let text = original
        .string("entry")
        .expect("entry")
        .replace("\"tax\"", "\"routing\"");
    changed.set("entry", rc_store::Value::S(text));
    data.replace(changed, original.version)
        .await
        .expect("tamper");
    let report = stack.services.audit.verify(&m).await.expect("verify");
    assert_eq!(
        report.problem.map(|p| (p.seq, p.reason)),
        Some((2, "hash_mismatch"))
    );
    // A forger who recomputes the entry's hash breaks the next link instead.
    let mut forged: rc_orders::AuditEntry =
        serde_json::from_str(original.string("entry").expect("entry")).expect("entry");
    forged.purpose = "routing".into();
    forged.hash = String::new();
    let canonical = serde_json::to_vec(&forged).expect("json");
    forged.hash = rc_domain::to_hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical).as_ref(),
    );
    let current = data.get(&key(2)).await.expect("get").expect("entry");
    let mut item = current.clone();
    item.set(
        "entry",
        rc_store::Value::S(serde_json::to_string(&forged).expect("json")),
    );
    data.replace(item, current.version).await.expect("forge");
    let report = stack.services.audit.verify(&m).await.expect("verify");
    assert_eq!(
        report.problem.map(|p| (p.seq, p.reason)),
        Some((3, "broken_link"))
    );
    // Removed: the gap is named.
    let current = data.get(&key(2)).await.expect("get").expect("entry");
    data.replace(original.clone(), current.version)
        .await
        .expect("restore");
    assert!(
        stack
            .services
            .audit
            .verify(&m)
            .await
            .expect("verify")
            .problem
            .is_none()
    );
    data.delete(&key(2), None).await.expect("delete");
    let report = stack.services.audit.verify(&m).await.expect("verify");
    assert_eq!(
        report.problem.map(|p| (p.seq, p.reason)),
        Some((3, "missing_entry"))
    );
}

/// Reveals counted for the anomaly alarms.
#[derive(Default)]
struct Counted(std::sync::Mutex<Vec<(String, u64, u64)>>);

impl rc_orders::RevealMetrics for Counted {
    fn revealed(&self, _: &MerchantId, actor: &str, orders: u64, late: u64, _: i64) {
        self.0
            .lock()
            .expect("lock")
            .push((actor.to_owned(), orders, late));
    }
}

/// Every reveal is counted per key for the alarms, and a reveal of an order shipped more than
/// a week before is counted as late.
async fn reveals_are_counted_for_the_anomaly_alarms(stack: Stack) {
    let m = merchant();
    stack.ingest(4242).await;
    let counted = std::sync::Arc::new(Counted::default());
    let audit = rc_orders::AuditLog::new(stack.services.data.clone(), stack.clock.clone())
        .with_metrics(counted.clone());
    let orders = vec!["shopify-4242".to_owned()];
    let actor = rc_orders::Actor {
        id: "0123456789abcdef",
        request_id: "r1",
    };
    let reveal = || rc_orders::PiiAccess {
        action: "pii_reveal",
        purpose: "shipping_label",
        actor: &actor,
        subject: "shopify-4242.1",
        orders: &orders,
    };
    audit.record(&m, reveal()).await.expect("record");
    let (status, _) = stack
        .api("POST", "/v1/orders/shopify-4242/shipped", "")
        .await;
    assert_eq!(status, 200);
    stack.clock.advance(time::Duration::days(6));
    audit.record(&m, reveal()).await.expect("record");
    stack.clock.advance(time::Duration::days(2));
    audit.record(&m, reveal()).await.expect("record");
    assert_eq!(
        *counted.0.lock().expect("lock"),
        vec![
            ("0123456789abcdef".to_owned(), 1, 0),
            ("0123456789abcdef".to_owned(), 1, 0),
            ("0123456789abcdef".to_owned(), 1, 1),
        ]
    );
    // The line CloudWatch reads: the key's id and the merchant, never a buyer's data.
    let line = rc_orders::emf_line(&m, "0123456789abcdef", 1, 1, 0);
    assert!(line.contains("\"PiiReveals\":1") && !line.contains("4242"));
}

#[tokio::test]
async fn reveals_are_counted_for_the_anomaly_alarms_embedded() {
    reveals_are_counted_for_the_anomaly_alarms(embedded().await).await;
}

#[tokio::test]
async fn reveals_are_counted_for_the_anomaly_alarms_moto() {
    reveals_are_counted_for_the_anomaly_alarms(moto().await).await;
}

#[tokio::test]
async fn admin_actions_are_in_a_verifiable_chain_embedded() {
    admin_actions_are_in_a_verifiable_chain(embedded().await).await;
}

#[tokio::test]
async fn admin_actions_are_in_a_verifiable_chain_moto() {
    admin_actions_are_in_a_verifiable_chain(moto().await).await;
}

#[tokio::test]
async fn every_route_enforces_its_scope_embedded() {
    every_route_enforces_its_scope(embedded().await).await;
}

#[tokio::test]
async fn every_route_enforces_its_scope_moto() {
    every_route_enforces_its_scope(moto().await).await;
}

#[tokio::test]
async fn keys_from_before_scopes_keep_what_they_could_do_embedded() {
    keys_from_before_scopes_keep_what_they_could_do(embedded().await).await;
}
