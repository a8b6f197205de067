//! Regression tests for defects found by testing the landed system from outside (issue 9). Each
//! test failed before its fix; where storage is involved it runs on both store adapters.

use crate::support;

use rc_channels::amazon::Credentials as AmazonCredentials;
use rc_channels::shopify::ShopDomain;
use rc_domain::{MerchantId, Secret, SecretText};
use rc_orders::ShopifyCredentials;
use support::privacy_stack::{self, Stack};

fn secret(text: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(text).expect("secret"))
}

async fn signed_webhook(stack: &Stack, shop: &str, secret: &str, id: u64) -> u16 {
    let (body, _) = privacy_stack::unique_canary_order(id);
    let request = rc_local_host::signed_shopify_request(
        "http://localhost/webhooks/shopify",
        shop,
        secret,
        "orders/create",
        &format!("handover-{id}-{secret}"),
        body,
    )
    .expect("request");
    stack
        .services
        .shopify_webhook()
        .handle(request)
        .await
        .status()
        .as_u16()
}

/// Item 1: a shop (and an Amazon seller) disconnected by merchant A and connected by merchant B
/// belongs to B at once in the same warm process: the cache never outlives the item it was read
/// from, even when the re-created item starts again at version 1.
async fn connection_handover(stack: Stack) {
    const SHOP: &str = "handover.myshopify.com";
    let services = &stack.services;
    let (a, b) = (
        MerchantId::parse("merchant-a").expect("a"),
        MerchantId::parse("merchant-b").expect("b"),
    );
    let shop = ShopDomain::parse(SHOP).expect("shop");
    services
        .connections
        .put_shopify(
            &a,
            &shop,
            &ShopifyCredentials::webhook_only(secret("secret-of-a")),
        )
        .await
        .expect("a connects");
    assert_eq!(signed_webhook(&stack, SHOP, "secret-of-a", 9001).await, 200);
    assert!(
        services
            .connections
            .remove_shopify(&a, &shop)
            .await
            .expect("a disconnects")
    );
    services
        .connections
        .put_shopify(
            &b,
            &shop,
            &ShopifyCredentials::webhook_only(secret("secret-of-b")),
        )
        .await
        .expect("b connects");
    assert_eq!(
        signed_webhook(&stack, SHOP, "secret-of-a", 9002).await,
        401,
        "the old owner's secret is refused"
    );
    assert_eq!(signed_webhook(&stack, SHOP, "secret-of-b", 9003).await, 200);
    let owner = services
        .connections
        .shopify(&shop)
        .await
        .expect("read")
        .expect("connected");
    assert_eq!(owner.merchant, b);
    let order = privacy_stack::order_id(9003);
    assert!(
        services
            .orders
            .view(&b, &order)
            .await
            .expect("view")
            .is_some()
    );
    assert!(
        services
            .orders
            .view(&a, &order)
            .await
            .expect("view")
            .is_none()
    );

    let credentials = |tag: &str| AmazonCredentials {
        client_id: format!("client-{tag}"),
        client_secret: secret(&format!("client-secret-{tag}")),
        refresh_token: secret(&format!("refresh-{tag}")),
        region: rc_channels::amazon::Region::NorthAmerica,
    };
    let marketplaces: [rc_domain::MarketplaceId; 1] = [crate::support::id("ATVPDKIKX0DER")];
    // Connects the seller for `merchant`, then reads it back as a warm process would.
    let connect_and_read = |merchant: MerchantId, tag: &'static str| {
        let marketplaces = marketplaces.clone();
        async move {
            services
                .connections
                .put_amazon(
                    &merchant,
                    &crate::support::id("A1HANDOVER"),
                    &marketplaces,
                    &credentials(tag),
                )
                .await
                .expect("connects");
            services
                .connections
                .amazon(&crate::support::id("A1HANDOVER"))
                .await
                .expect("read")
                .expect("connected")
        }
    };
    let first = connect_and_read(a.clone(), "a").await;
    assert_eq!(first.merchant, a);
    services
        .connections
        .remove_amazon(&a, &crate::support::id("A1HANDOVER"))
        .await
        .expect("a disconnects");
    let second = connect_and_read(b.clone(), "b").await;
    assert_eq!(second.merchant, b);
    assert_eq!(second.credentials.client_id, "client-b");
}

#[tokio::test]
async fn a_shop_handed_to_another_merchant_is_theirs_at_once_embedded() {
    connection_handover(privacy_stack::embedded().await).await;
}

#[tokio::test]
async fn a_shop_handed_to_another_merchant_is_theirs_at_once_dynamodb() {
    connection_handover(privacy_stack::moto().await).await;
}

async fn privacy_run(stack: &Stack) -> rc_privacy::PrivacyRunReport {
    stack
        .services
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("privacy run")
}

/// A canary order whose buyer has Shopify customer id `customer`; returns its unique email.
async fn ingest_for_customer(stack: &Stack, id: u64, customer: u64) -> String {
    let (body, email) = privacy_stack::unique_canary_order(id);
    let mut order: serde_json::Value = serde_json::from_slice(&body).expect("order");
    order["customer"]["id"] = serde_json::json!(customer);
    let body = serde_json::to_vec(&order).expect("encode");
    assert_eq!(
        stack
            .webhook("orders/create", &format!("create-{id}"), body)
            .await,
        200
    );
    email
}

/// Item 2: with only a merchant's ordinary API key, an attacker sets a webhook secret of their
/// own on the merchant's shop, forges a `customers/data_request` naming other buyers' orders and
/// lets the privacy run fulfil it. The report needs a `pii:read` key, and even with one it opens
/// only the orders whose sealed customer id is the one the request names; every opening is in
/// the audit trail.
async fn forged_data_request(stack: Stack) {
    let victim_email = ingest_for_customer(&stack, 9101, 4242).await;
    let own_email = ingest_for_customer(&stack, 9102, 777).await;
    let (status, _) = stack
        .api(
            "PUT",
            &format!("/v1/connections/shopify/{}", privacy_stack::SHOP),
            r#"{"webhook_secret": "attacker-chosen-secret"}"#,
        )
        .await;
    assert_eq!(status, 200, "a key may rotate its own shop's secret");
    let forged = serde_json::json!({
        "shop_id": 1, "shop_domain": privacy_stack::SHOP,
        "customer": {"id": 777, "email": "attacker@example.com"},
        "orders_requested": [9101, 9102], "data_request": {"id": 31337}
    });
    let request = rc_local_host::signed_shopify_request(
        "http://localhost/webhooks/shopify",
        privacy_stack::SHOP,
        "attacker-chosen-secret",
        "customers/data_request",
        "forged-1",
        serde_json::to_vec(&forged).expect("json"),
    )
    .expect("request");
    let response = stack.services.shopify_webhook().handle(request).await;
    assert_eq!(response.status(), 200);
    let report = privacy_run(&stack).await;
    assert_eq!(report.requests.fulfilled, 1, "{report:?}");

    let path = "/v1/privacy/requests/forged-1/report";
    let (status, body) = stack.api("GET", path, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(!body.to_string().contains(&victim_email));

    let (status, body) = stack
        .api_as(privacy_stack::PII_KEY, "GET", path, "", &[])
        .await;
    assert_eq!(status, 200);
    let text = body.to_string();
    assert!(
        !text.contains(&victim_email),
        "another customer's order is never opened"
    );
    assert_eq!(body["orders"][0]["buyer"], "not_this_customer", "{body}");
    assert_eq!(
        body["orders"][1]["buyer"]["email"],
        own_email.as_str(),
        "the named customer's own order is reported"
    );

    let (status, audit) = stack.api("GET", "/v1/privacy/audit", "").await;
    assert_eq!(status, 200);
    // The forger's own connection change is in the trail too (an administrative action), then
    // the one reveal.
    let all = audit["entries"].as_array().expect("entries");
    assert_eq!(all[0]["action"], "connection_changed", "{audit}");
    let entries: Vec<&serde_json::Value> =
        all.iter().filter(|e| e["action"] == "pii_reveal").collect();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "pii_reveal");
    assert_eq!(entries[0]["purpose"], "data_subject_report");
    assert_eq!(entries[0]["subject"], "forged-1");
    assert_eq!(entries[0]["orders"], serde_json::json!(["shopify-9102"]));
    assert_eq!(entries[0]["actor"].as_str().map(str::len), Some(16));
}

#[tokio::test]
async fn a_forged_data_request_opens_no_other_buyer_embedded() {
    forged_data_request(privacy_stack::embedded().await).await;
}

#[tokio::test]
async fn a_forged_data_request_opens_no_other_buyer_dynamodb() {
    forged_data_request(privacy_stack::moto().await).await;
}

async fn api_on(services: &rc_runtime::Services, path: &str) -> u16 {
    let request = http::Request::get(format!("http://localhost{path}"))
        .header(
            "authorization",
            format!("Bearer {}", privacy_stack::API_KEY),
        )
        .body(bytes::Bytes::new())
        .expect("request");
    services
        .merchant_api(&rc_runtime::ChannelClients::from_env().expect("channels"))
        .handle(request)
        .await
        .status()
        .as_u16()
}

/// Item 6: a data backup taken before an account cancellation, restored, does not bring the
/// merchant back: its key answers 410, its shop's webhooks are refused like an unknown shop's,
/// and the next privacy run removes the restored items.
async fn restored_cancelled_merchant(stack: Stack) {
    stack.ingest(9201).await;
    let backup = stack.backup().await;
    let (status, _) = stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm": "{}"}}"#, privacy_stack::MERCHANT),
        )
        .await;
    assert_eq!(status, 200);

    let restored = stack.restore(&backup);
    let order = privacy_stack::order_id(9201);
    assert!(
        restored
            .orders
            .view(&privacy_stack::merchant(), &order)
            .await
            .expect("view")
            .is_some(),
        "the backup holds the order"
    );
    assert_eq!(api_on(&restored, "/v1/orders").await, 410);
    let (body, _) = privacy_stack::unique_canary_order(9202);
    let request = rc_local_host::signed_shopify_request(
        "http://localhost/webhooks/shopify",
        privacy_stack::SHOP,
        privacy_stack::SECRET,
        "orders/create",
        "after-restore",
        body,
    )
    .expect("request");
    let response = restored.shopify_webhook().handle(request).await;
    assert_eq!(response.status(), 401, "answered like an unknown shop");

    let report = restored
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("run");
    assert!(
        report
            .cancellations
            .iter()
            .any(|(m, s)| m == privacy_stack::MERCHANT && s == "restored_data_removed"),
        "{report:?}"
    );
    assert!(
        restored
            .orders
            .view(&privacy_stack::merchant(), &order)
            .await
            .expect("view")
            .is_none(),
        "the restored order is removed again"
    );
    assert!(
        restored
            .connections
            .list(&privacy_stack::merchant())
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(api_on(&restored, "/v1/orders").await, 410);
    // A second run finds nothing more to do.
    let again = restored
        .privacy_run()
        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("run");
    assert!(again.cancellations.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_restored_backup_does_not_reopen_a_cancelled_account_embedded() {
    restored_cancelled_merchant(privacy_stack::embedded().await).await;
}

#[tokio::test]
async fn a_restored_backup_does_not_reopen_a_cancelled_account_dynamodb() {
    restored_cancelled_merchant(privacy_stack::moto().await).await;
}

/// Item 22: lists that can grow are read past their first page: a SKU's listings (the 101st
/// Shopify location would keep an old quantity: an oversell), its warehouses and the kits a
/// component belongs to.
async fn lists_past_one_page(stack: Stack) {
    use rc_domain::{Sku, WarehouseId};
    use rc_inventory::{Adjustment, ChannelAllocation, KitComponent, ListingTarget};
    let services = &stack.services;
    let merchant = privacy_stack::merchant();
    let sku = Sku::parse("PAGED-1").expect("sku");
    for location in 1..=101u64 {
        let target = ListingTarget::Shopify {
            shop: crate::support::id(privacy_stack::SHOP),
            location_id: location,
            inventory_item_id: 7,
        };
        services
            .listings
            .put(&merchant, &sku, &target, ChannelAllocation::default())
            .await
            .expect("listing");
    }
    let listings = services
        .listings
        .of_sku(&merchant, &sku)
        .await
        .expect("read");
    assert_eq!(listings.len(), 101);

    for n in 0..101 {
        let warehouse = WarehouseId::parse(&format!("wh-{n:03}")).expect("warehouse");
        services
            .stock
            .adjust(
                &merchant,
                &sku,
                &warehouse,
                Adjustment::Receive { quantity: 1 },
                "paging",
                "test",
            )
            .await
            .expect("stock");
    }
    let levels = services
        .stock
        .levels(&merchant, &sku)
        .await
        .expect("levels");
    assert_eq!(levels.len(), 101);
    assert_eq!(
        services
            .stock
            .available(&merchant, &sku)
            .await
            .expect("free"),
        101
    );

    for n in 0..101 {
        let kit = Sku::parse(&format!("KIT-{n:03}")).expect("kit");
        services
            .stock
            .define_kit(
                &merchant,
                &kit,
                &[KitComponent {
                    sku: sku.clone(),
                    quantity: 1,
                }],
            )
            .await
            .expect("kit");
    }
    let kits = services
        .stock
        .kits_containing(&merchant, &sku)
        .await
        .expect("kits");
    assert_eq!(kits.len(), 101);
}

#[tokio::test]
async fn lists_are_read_past_one_page_embedded() {
    lists_past_one_page(privacy_stack::embedded().await).await;
}

#[tokio::test]
async fn lists_are_read_past_one_page_dynamodb() {
    lists_past_one_page(privacy_stack::moto().await).await;
}

/// Items 7, 8, 15, 17 and 24: bad input to the merchant API is a 4xx naming the field, nothing
/// panics or overflows, and nothing is stored.
#[tokio::test]
async fn bad_input_is_a_clear_error_naming_the_field() {
    let stack = privacy_stack::embedded().await;
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        // 7: a padded shop is stored as the parsed domain (was a 500).
        (
            "PUT",
            "/v1/inventory/PAD-1/listings",
            format!(
                r#"{{"channel": "shopify", "shop": "{}{}", "location_id": 1, "inventory_item_id": 2}}"#,
                " ".repeat(1500),
                privacy_stack::SHOP
            ),
            200,
            "",
        ),
        // 8: the most negative delta (panicked in debug, wrapped in release).
        (
            "POST",
            "/v1/inventory/PAD-1/adjustments",
            r#"{"warehouse": "main", "kind": "add", "delta": -9223372036854775808, "reason": "x"}"#
                .into(),
            422,
            "invalid_field",
        ),
        // 24: a percent out of range is invalid like other values (was 400 malformed_json).
        (
            "PUT",
            "/v1/inventory/PAD-1/listings",
            format!(
                r#"{{"channel": "shopify", "shop": "{}", "location_id": 1, "inventory_item_id": 2, "percent": -5}}"#,
                privacy_stack::SHOP
            ),
            422,
            "invalid_field",
        ),
        // 17: cancelling without the confirmation.
        (
            "DELETE",
            "/v1/account",
            String::new(),
            422,
            "confirmation_required",
        ),
        (
            "DELETE",
            "/v1/account",
            "{}".into(),
            422,
            "confirmation_required",
        ),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, json) = stack.api(method, path, &body).await;
        assert_eq!(got, status, "{method} {path}: {json}");
        if !reason.is_empty() {
            assert_eq!(json["error"], reason, "{method} {path}");
        }
    }

    // 15: an Idempotency-Key reused for another change is refused, not taken for a retry.
    let first = r#"{"warehouse": "main", "kind": "receive", "quantity": 5, "reason": "po-1"}"#;
    let other = r#"{"warehouse": "main", "kind": "receive", "quantity": 7, "reason": "po-2"}"#;
    let key = [("idempotency-key", "po-batch-1")];
    let path = "/v1/inventory/PAD-1/adjustments";
    assert_eq!(stack.api_with("POST", path, first, &key).await.0, 200);
    let (status, retry) = stack.api_with("POST", path, first, &key).await;
    assert_eq!((status, retry["status"].as_str()), (200, Some("duplicate")));
    let (status, reused) = stack.api_with("POST", path, other, &key).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let (_, stock) = stack.api("GET", "/v1/inventory/PAD-1", "").await;
    assert_eq!(stock["available"], 5, "only the first change applied");
    assert_eq!(
        stock["listings"][0]["listing"]["target"]["shop"],
        privacy_stack::SHOP,
        "the parsed shop is stored: {stock}"
    );
}

/// Item 17: bad line-item quantities and prices of the wrong JSON type name their field (422),
/// and nothing is stored.
#[tokio::test]
async fn bad_line_items_name_their_field() {
    let stack = privacy_stack::embedded().await;
    let cases = [
        ("quantity", serde_json::json!(-3), "line_items.quantity"),
        ("quantity", serde_json::json!(1e30), "line_items.quantity"),
        ("quantity", serde_json::json!("abc"), "line_items.quantity"),
        ("price", serde_json::json!(199.0), "line_items.price"),
    ];
    for (n, (field, value, named)) in cases.into_iter().enumerate() {
        let id = 9400 + n as u64;
        let (body, _) = privacy_stack::unique_canary_order(id);
        let mut order: serde_json::Value = serde_json::from_slice(&body).expect("order");
        order["line_items"][0][field] = value;
        let request = rc_local_host::signed_shopify_request(
            "http://localhost/webhooks/shopify",
            privacy_stack::SHOP,
            privacy_stack::SECRET,
            "orders/create",
            &format!("bad-line-{id}"),
            serde_json::to_vec(&order).expect("encode"),
        )
        .expect("request");
        let response = stack.services.shopify_webhook().handle(request).await;
        assert_eq!(response.status(), 422, "{field}");
        let json: serde_json::Value = serde_json::from_slice(response.body()).expect("json");
        assert_eq!(json["error"], "invalid_field");
        assert!(
            json["message"].as_str().is_some_and(|m| m.contains(named)),
            "{json}"
        );
        assert!(
            stack
                .services
                .orders
                .view(&privacy_stack::merchant(), &privacy_stack::order_id(id))
                .await
                .expect("view")
                .is_none()
        );
    }
}

/// Item 14: a request announcing a huge body is refused at once, and one whose body never comes
/// is answered 408 and its connection closed: no connection is held forever.
#[tokio::test]
async fn slow_and_huge_bodies_do_not_hold_a_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, _config, _dir) = support::start_local_host_with(|c| {
        c.body_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    for (announced, expected) in [("1000000000000", "413"), ("100", "408")] {
        let mut stream = tokio::net::TcpStream::connect(host.addr)
            .await
            .expect("connect");
        let head = format!(
            "POST /v1/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: {announced}\r\n\r\n{{\"a\":"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "the server closed the connection in time");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {expected}")),
            "{announced}: {text}"
        );
    }
}

/// Items 10 and 11: the embedded data is owner-only (a loose directory is tightened, every
/// database file is 0600, WAL and shared-memory files included); a lost `root.key` beside an
/// existing key database is refused instead of silently replaced; the configuration's `Debug`
/// masks its secrets.
#[cfg(unix)]
#[tokio::test]
async fn embedded_data_is_private_and_a_lost_root_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let clock = std::sync::Arc::new(rc_domain::SystemClock);
    {
        let services = rc_runtime::Services::embedded(&data, clock.clone()).expect("services");
        services
            .api_keys
            .register(
                &privacy_stack::merchant(),
                &rc_orders::ApiKey(secret("rck_mode_check")),
            )
            .await
            .expect("write");
        let mode = |name: &str| {
            std::fs::metadata(data.join(name))
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(
            std::fs::metadata(&data).expect("dir").permissions().mode() & 0o777,
            0o700
        );
        for name in [
            "retailcoder.db",
            "retailcoder.db-wal",
            "retailcoder.db-shm",
            "keys.db",
            "root.key",
        ] {
            assert_eq!(mode(name), 0o600, "{name}");
        }
    }
    std::fs::remove_file(data.join("root.key")).expect("lose the root key");
    let refused = rc_runtime::Services::embedded(&data, clock).err();
    assert!(
        refused
            .as_ref()
            .is_some_and(|e| e.to_string().contains("root.key")),
        "{:?}",
        refused.map(|e| e.to_string())
    );
    assert!(!data.join("root.key").exists(), "no new root was made");

    let config = rc_local_host::LocalConfig::from_env().expect("config");
    let shown = format!("{config:?}");
    assert!(!shown.contains(&config.demo_api_key), "{shown}");
    assert!(!shown.contains(&config.demo_webhook_secret), "{shown}");
}

/// A Lambda Runtime API on loopback that hands out one event and collects the response.
mod runtime_api {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// Serves `event` once; later `next` calls wait forever (the function idles, as in Lambda).
    pub async fn serve_one(
        event: String,
    ) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::unbounded_channel();
        let event = Arc::new(Mutex::new(Some(event)));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (event, tx) = (Arc::clone(&event), tx.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (event, tx) = (Arc::clone(&event), tx.clone());
                            async move {
                                let path = request.uri().path().to_owned();
                                let body = request
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                if path.ends_with("/invocation/next") {
                                    let next = event.lock().expect("event").take();
                                    let Some(next) = next else {
                                        // Later polls wait forever: the function idles.
                                        return std::future::pending().await;
                                    };
                                    return Ok::<_, Infallible>(
                                    hyper::Response::builder()
                                        .header("lambda-runtime-aws-request-id", "req-1")
                                        .header("lambda-runtime-deadline-ms", "9999999999999")
                                        .header(
                                            "lambda-runtime-invoked-function-arn",
                                            "arn:aws:lambda:us-east-1:123456789012:function:canary",
                                        )
                                        .header(
                                            "lambda-runtime-trace-id",
                                            "Root=1-00000000-000000000000000000000000",
                                        )
                                        .body(Full::new(Bytes::from(next)))
                                        .expect("response"),
                                );
                                }
                                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
                                Ok(hyper::Response::builder()
                                    .status(202)
                                    .body(Full::new(Bytes::new()))
                                    .expect("response"))
                            }
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, rx)
    }
}

/// Whether a JSON text has an object with the same key twice, anywhere.
fn has_duplicate_keys(text: &str) -> Result<bool, serde_json::Error> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct Check(std::cell::Cell<bool>);
    impl<'de> Visitor<'de> for &Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key) {
                    self.0.set(true);
                }
                map.next_value_seed(self)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(self)?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    impl<'de> serde::de::DeserializeSeed<'de> for &Check {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    let check = Check(std::cell::Cell::new(false));
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(&check, &mut deserializer)?;
    Ok(check.0.get())
}

#[test]
fn the_duplicate_key_check_finds_duplicates() {
    assert!(!has_duplicate_keys(r#"{"a":1,"b":{"a":2},"c":[{"a":1}]}"#).expect("json"));
    assert!(has_duplicate_keys(r#"{"message":"x","message":"y"}"#).expect("json"));
    assert!(has_duplicate_keys(r#"{"a":[{"k":1,"k":2}]}"#).expect("json"));
}

/// Items 5, 9 and 18: the release function binary, run under a Lambda Runtime API at
/// `RUST_LOG=trace`, logs no buyer PII, no API key or webhook secret, no AWS credentials, and
/// every log line is JSON with one key per field. Before the fix the Lambda runtime printed the
/// raw event (order body, headers) at TRACE and `aws_sigv4` the access key and session token.
#[tokio::test]
async fn a_function_binary_at_trace_logs_no_pii_secrets_or_credentials() {
    let binary =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/shopify-webhook");
    assert!(
        binary.exists(),
        "{} is missing: ./infra/test builds it (cargo build -p shopify-webhook)",
        binary.display()
    );
    // Tables, a root key and a connected shop in moto, as the deployed function would see them.
    let stack = privacy_stack::moto().await;
    let privacy_stack::Backend::Moto {
        data_table,
        keys_table,
        kms_key,
        ..
    } = &stack.backend
    else {
        panic!("a moto stack");
    };
    let (body, email) = privacy_stack::unique_canary_order(9601);
    let signed = rc_local_host::signed_shopify_request(
        "http://localhost/webhooks/shopify",
        privacy_stack::SHOP,
        privacy_stack::SECRET,
        "orders/create",
        "trace-canary-1",
        body.clone(),
    )
    .expect("request");
    let mut headers = serde_json::Map::new();
    for (name, value) in signed.headers() {
        headers.insert(
            name.as_str().to_owned(),
            serde_json::json!(value.to_str().expect("header")),
        );
    }
    const BEARER: &str = "rck_trace_canary_key_7781";
    headers.insert(
        "authorization".into(),
        serde_json::json!(format!("Bearer {BEARER}")),
    );
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-v2-request.json"))
            .expect("fixture");
    event["headers"] = serde_json::Value::Object(headers);
    event["body"] = serde_json::json!(String::from_utf8(body).expect("utf-8"));
    let (addr, mut responses) = runtime_api::serve_one(event.to_string()).await;

    const ACCESS_KEY: &str = "AKIATRACECANARY7781";
    const SESSION_TOKEN: &str = "TRACECANARYSESSIONTOKEN7781";
    let (stdout, stderr) = (
        tempfile::tempfile().expect("stdout"),
        tempfile::tempfile().expect("stderr"),
    );
    let mut child = std::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "canary")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "canary")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "canary")
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_ENDPOINT_URL",
            std::env::var("AWS_ENDPOINT_URL").expect("moto"),
        )
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "trace-canary-secret-access-key")
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "trace")
        .env("RC_DATA_TABLE", data_table)
        .env("RC_KEYS_TABLE", keys_table)
        .env("RC_KMS_KEY_ID", kms_key)
        .stdout(stdout.try_clone().expect("stdout"))
        .stderr(stderr.try_clone().expect("stderr"))
        .spawn()
        .expect("spawn the function");
    let response = tokio::time::timeout(std::time::Duration::from_secs(60), responses.recv()).await;
    let _ = child.kill();
    let _ = child.wait();
    let response = response
        .expect("the function answered in time")
        .expect("a response");
    assert!(response.contains("200"), "{response}");
    let read = |mut file: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.seek(std::io::SeekFrom::Start(0)).expect("seek");
        file.read_to_string(&mut text).expect("read");
        text
    };
    let logs = format!("{}{}", read(stdout), read(stderr));
    assert!(logs.contains("shopify order received"), "{logs}");
    let mut secrets = support::canaries().map(str::to_owned).to_vec();
    secrets.extend([
        email,
        BEARER.into(),
        privacy_stack::SECRET.into(),
        ACCESS_KEY.into(),
        SESSION_TOKEN.into(),
    ]);
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "`{secret}` reached the logs"
        );
    }
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let duplicated = has_duplicate_keys(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(!duplicated, "a key twice in one log line: {line}");
    }
}

/// Item 3: order events are as durable locally as on SQS. Orders acknowledged while the order
/// processor is not running (a host stopped before it caught up) are reserved after the next
/// start; none stays `received`.
#[tokio::test]
async fn order_events_survive_a_local_host_stop() {
    let (host, mut config, dir) = support::start_local_host().await;
    let base = format!("http://{}", host.addr);
    const ORDERS: u64 = 30;
    for n in 0..ORDERS {
        let (status, _) = support::post_webhook(
            &base,
            &config,
            "orders/create",
            &format!("durable-{n}"),
            support::canary_order(9700 + n),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Stopped before any event was processed (the processor was off: the worst case of a stop).
    host.task.abort();
    drop(host);
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.order_processing_interval = Some(std::time::Duration::from_millis(50));
    let restarted = rc_local_host::LocalHost::start(&config)
        .await
        .expect("restart");
    let merchant = rc_domain::MerchantId::parse(&config.demo_merchant).expect("merchant");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut received = 0;
        for n in 0..ORDERS {
            let order = rc_domain::OrderId::parse(&format!("shopify-{}", 9700 + n)).expect("id");
            let view = restarted
                .services
                .orders
                .view(&merchant, &order)
                .await
                .expect("view")
                .expect("stored");
            if view.status == rc_domain::OrderStatus::Received {
                received += 1;
            }
        }
        if received == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{received} orders still received after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(dir);
}

/// Item 3 (deployed path) and item 21: an order event the processor cannot parse is reported as
/// failed (so SQS dead-letters it instead of it vanishing), and dead-lettered events are listed
/// and re-driven from the SQS dead-letter queue.
#[tokio::test]
async fn malformed_events_fail_and_dead_letters_are_redriven() {
    let stack = privacy_stack::embedded().await;
    let sync = std::sync::Arc::new(stack.services.inventory_sync(
        &rc_runtime::ChannelClients::new(rc_channels::amazon::Endpoints::default(), None),
    ));
    let processor = stack.services.order_processor(sync);
    let failed = processor
        .handle_batch(vec![
            rc_jobs::QueueMessage {
                id: "m-garbage".into(),
                body: "not an event".into(),
            },
            rc_jobs::QueueMessage {
                id: "m-bad-id".into(),
                body: r#"{"kind":"order.stored","merchant":"m","order":"no such/id","version":1}"#
                    .into(),
            },
        ])
        .await;
    assert_eq!(failed, vec!["m-garbage".to_owned(), "m-bad-id".to_owned()]);

    let _turn = support::moto_turn().await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("rc-redrive-{}", std::process::id());
    let url =
        |out: aws_sdk_sqs::operation::create_queue::CreateQueueOutput| out.queue_url.expect("url");
    let queue = url(sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue"));
    let dead = url(sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("dlq"));
    for n in 1..=3 {
        let event = rc_queue::OrderEvent {
            kind: "order.stored".into(),
            merchant: "m-redrive".into(),
            order: format!("shopify-{n}"),
            version: 1,
        };
        sqs.send_message()
            .queue_url(&dead)
            .message_body(serde_json::to_string(&event).expect("json"))
            .send()
            .await
            .expect("send");
    }
    let listed = rc_queue::redrive_dead_letters(&sqs, &dead, &queue, 100, true)
        .await
        .expect("dry run");
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|d| !d.redriven && d.event.is_some()));
    let moved = rc_queue::redrive_dead_letters(&sqs, &dead, &queue, 100, false)
        .await
        .expect("redrive");
    assert_eq!(moved.len(), 3, "the dry run left them in place");
    let mut orders = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for message in out.messages.unwrap_or_default() {
            let event: rc_queue::OrderEvent =
                serde_json::from_str(message.body.as_deref().unwrap_or_default()).expect("event");
            orders.push(event.order);
        }
        if orders.len() == 3 {
            break;
        }
    }
    orders.sort();
    assert_eq!(orders, ["shopify-1", "shopify-2", "shopify-3"]);
    let left = rc_queue::redrive_dead_letters(&sqs, &dead, &queue, 100, true)
        .await
        .expect("dry run");
    assert!(left.is_empty());
}

/// Item 23: the local host's sandbox Amazon serves the Feeds API the real client calls, so a
/// change to 50 or more listings of one seller is pushed by feed and settled by its report.
#[tokio::test]
async fn the_sandbox_amazon_takes_bulk_pushes_by_feed() {
    use rc_inventory::{Adjustment, ChannelAllocation, ListingTarget};
    use rc_local_host::sandbox::{SANDBOX_MARKETPLACE, SANDBOX_SELLER};
    let (host, config, _dir) = support::start_local_host().await;
    let base = format!("http://{}", host.addr);
    let merchant = rc_domain::MerchantId::parse(&config.demo_merchant).expect("merchant");
    let warehouse = rc_domain::WarehouseId::parse("main").expect("warehouse");
    let mut skus = Vec::new();
    for n in 0..55 {
        let sku = rc_domain::Sku::parse(&format!("BULK-{n:02}")).expect("sku");
        host.services
            .stock
            .adjust(
                &merchant,
                &sku,
                &warehouse,
                Adjustment::Receive { quantity: 10 + n },
                "bulk",
                "test",
            )
            .await
            .expect("stock");
        let target = ListingTarget::Amazon {
            seller_id: crate::support::id(SANDBOX_SELLER),
            marketplace_id: crate::support::id(SANDBOX_MARKETPLACE),
            seller_sku: sku.as_str().into(),
            product_type: "PRODUCT".into(),
        };
        host.services
            .listings
            .put(&merchant, &sku, &target, ChannelAllocation::default())
            .await
            .expect("listing");
        skus.push(sku);
    }
    let sandbox = format!("{base}/sandbox/amazon");
    let sync = host
        .services
        .inventory_sync(&rc_runtime::ChannelClients::new(
            rc_channels::amazon::Endpoints::all_at(sandbox.clone(), sandbox),
            Some(format!("{base}/sandbox/shopify")),
        ));
    let submitted = sync.sync(&merchant, &skus).await.expect("submit");
    assert!(submitted.failed.is_empty(), "{submitted:?}");
    assert_eq!(
        submitted.in_feeds, 55,
        "one feed carries all 55: {submitted:?}"
    );
    let settled = sync.sync(&merchant, &skus).await.expect("settle");
    assert!(settled.failed.is_empty(), "{settled:?}");
    for (n, sku) in skus.iter().enumerate() {
        let listing = host
            .services
            .listings
            .of_sku(&merchant, sku)
            .await
            .expect("listing")
            .pop()
            .expect("one listing");
        assert_eq!(listing.last_error, None, "{}", sku.as_str());
        assert_eq!(listing.pending, None, "{}", sku.as_str());
        assert_eq!(listing.last_pushed, Some(10 + n as i64), "{}", sku.as_str());
    }
    let shown: serde_json::Value = reqwest::get(format!("{base}/sandbox/inventory"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(shown.to_string().contains("BULK-54"), "{shown}");
}

/// Item 13: marketplace clients never follow a redirect (it would carry the access token
/// elsewhere), and a feed report that is, or decompresses to, more than they read is refused.
#[tokio::test]
async fn marketplace_clients_follow_no_redirect_and_read_bounded_answers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stolen = Arc::new(AtomicUsize::new(0));
    let thief = {
        let stolen = Arc::clone(&stolen);
        serve(move |_, _| {
            stolen.fetch_add(1, Ordering::Relaxed);
            (200, Vec::new(), Vec::new())
        })
        .await
    };
    // A gzip "bomb": 40 MiB of zeros, a few kilobytes compressed.
    let bomb = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..40 {
            encoder.write_all(&zeros).expect("compress");
        }
        encoder.finish().expect("finish")
    };
    let server = serve(move |path, base| match path.as_str() {
        "/auth/o2/token" => (
            200,
            Vec::new(),
            br#"{"access_token":"Atza|canary","token_type":"bearer","expires_in":3600}"#.to_vec(),
        ),
        p if p.starts_with("/orders/") => (
            302,
            vec![("location".into(), format!("http://{thief}/steal"))],
            Vec::new(),
        ),
        "/feeds/2021-06-30/documents/bomb" => (
            200,
            Vec::new(),
            format!(
                r#"{{"feedDocumentId":"bomb","url":"{base}/bomb","compressionAlgorithm":"GZIP"}}"#
            )
            .into_bytes(),
        ),
        "/bomb" => (200, Vec::new(), bomb.clone()),
        _ => (404, Vec::new(), Vec::new()),
    })
    .await;
    let base = format!("http://{server}");
    let client = rc_channels::amazon::SpApiClient::new(rc_channels::amazon::Endpoints::all_at(
        base.clone(),
        base,
    ));
    let credentials = rc_channels::amazon::Credentials {
        client_id: "client".into(),
        client_secret: secret("client-secret"),
        refresh_token: secret("refresh-token"),
        region: rc_channels::amazon::Region::NorthAmerica,
    };
    let redirected = client
        .get_order(&crate::support::id("A1SELLER"), &credentials, "111-1")
        .await;
    assert!(redirected.is_err(), "a redirect is an error, not followed");
    assert_eq!(
        stolen.load(Ordering::Relaxed),
        0,
        "nothing reached the redirect target"
    );
    let report = client
        .feed_document(&crate::support::id("A1SELLER"), &credentials, "bomb")
        .await;
    assert!(
        report
            .as_ref()
            .is_err_and(|e| e.to_string().contains("larger than")),
        "{:?}",
        report.map(|b| b.len())
    );
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// A loopback HTTP server answering every request with `answer(path, base)`.
async fn serve(
    answer: impl Fn(String, String) -> Answer + Send + Sync + 'static,
) -> std::net::SocketAddr {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answer = std::sync::Arc::clone(&answer);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let (status, headers, body) =
                            answer(request.uri().path().to_owned(), format!("http://{addr}"));
                        let mut response = hyper::Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        let response = response
                            .body(Full::new(bytes::Bytes::from(body)))
                            .expect("response");
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Item 25: every call of an Amazon connection goes to its region's endpoint: a European
/// seller's order is fetched from the European endpoint, never North America's.
#[tokio::test]
async fn an_amazon_connection_is_served_by_its_region() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let counter = |hits: Arc<AtomicUsize>| {
        move |path: String, _: String| -> Answer {
            if path == "/auth/o2/token" {
                return (
                    200,
                    Vec::new(),
                    br#"{"access_token":"Atza|x","token_type":"bearer","expires_in":3600}"#
                        .to_vec(),
                );
            }
            hits.fetch_add(1, Ordering::Relaxed);
            (404, Vec::new(), br#"{"errors":[]}"#.to_vec())
        }
    };
    let (na_hits, eu_hits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let na = serve(counter(Arc::clone(&na_hits))).await;
    let eu = serve(counter(Arc::clone(&eu_hits))).await;
    let endpoints = rc_channels::amazon::Endpoints {
        north_america: format!("http://{na}"),
        europe: format!("http://{eu}"),
        far_east: format!("http://{na}"),
        lwa: format!("http://{na}"),
    };
    let client = rc_channels::amazon::SpApiClient::new(endpoints);
    let region =
        rc_channels::amazon::Region::of_marketplaces(&[crate::support::id("A1PA6795UKMFR9")])
            .expect("Germany is in Europe");
    let credentials = rc_channels::amazon::Credentials {
        client_id: "client".into(),
        client_secret: secret("client-secret"),
        refresh_token: secret("refresh-token"),
        region,
    };
    let _ = client
        .get_order(&crate::support::id("A1EUSELLER"), &credentials, "302-1")
        .await;
    assert_eq!(eu_hits.load(Ordering::Relaxed), 1);
    assert_eq!(na_hits.load(Ordering::Relaxed), 0);

    // And the merchant API refuses a connection whose marketplaces span regions.
    let stack = privacy_stack::embedded().await;
    let (status, body) = stack
        .api(
            "PUT",
            "/v1/connections/amazon/A1MIXED",
            r#"{"marketplace_ids": ["ATVPDKIKX0DER", "A1PA6795UKMFR9"], "lwa_client_id": "c", "lwa_client_secret": "s", "refresh_token": "r"}"#,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_field"))
    );
}
