//! Connecting, rotating and disconnecting Shopify shops through the merchant API.

use crate::support;

use support::*;

async fn call(
    base: &str,
    key: &str,
    method: http::Method,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.to_owned()))
        .expect("request");
    send(request).await
}

async fn webhook_to(base: &str, shop: &str, secret: &str, id: &str, order: u64) -> u16 {
    let request = rc_local_host::signed_shopify_request(
        &format!("{base}/webhooks/shopify"),
        shop,
        secret,
        "orders/create",
        id,
        canary_order(order),
    )
    .expect("request");
    send(request).await.0
}

#[tokio::test]
async fn a_merchant_connects_rotates_and_disconnects_a_shop() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let key = config.demo_api_key.clone();
    let shop = "second-shop.myshopify.com";
    let path = format!("/v1/connections/shopify/{shop}");

    let (status, body) = call(
        &base,
        &key,
        http::Method::PUT,
        &path,
        r#"{"webhook_secret": "s3cret-one"}"#,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("connected")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("s3cret"),
        "secrets are never echoed"
    );
    assert_eq!(webhook_to(&base, shop, "s3cret-one", "k1", 41).await, 200);

    let (_, listed) = call(&base, &key, http::Method::GET, "/v1/connections", "").await;
    let shops: Vec<&str> = listed["connections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["reference"].as_str().expect("reference"))
        .collect();
    // The local host also connects the demo merchant to its sandbox Amazon seller.
    assert_eq!(
        shops,
        vec!["ASANDBOXSELLER1", "demo-shop.myshopify.com", shop]
    );
    assert!(!listed.to_string().contains("secret"));

    // Rotation: the new secret works at once (the connection item is read on every delivery),
    // and the previous one still works during the window.
    let rotate = r#"{"webhook_secret": "s3cret-two", "previous_webhook_secret": "s3cret-one"}"#;
    assert_eq!(
        call(&base, &key, http::Method::PUT, &path, rotate).await.0,
        200
    );
    assert_eq!(webhook_to(&base, shop, "s3cret-two", "k2", 42).await, 200);
    assert_eq!(webhook_to(&base, shop, "s3cret-one", "k3", 43).await, 200);
    let close_window = r#"{"webhook_secret": "s3cret-two"}"#;
    assert_eq!(
        call(&base, &key, http::Method::PUT, &path, close_window)
            .await
            .0,
        200
    );
    assert_eq!(webhook_to(&base, shop, "s3cret-one", "k4", 44).await, 401);

    let (status, body) = call(&base, &key, http::Method::DELETE, &path, "").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("disconnected"))
    );
    let gone = rc_channels::shopify::ShopDomain::parse(shop).expect("shop");
    assert!(
        host.services
            .connections
            .shopify(&gone)
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(
        call(&base, &key, http::Method::DELETE, &path, "").await.0,
        404
    );
}

#[tokio::test]
async fn bad_connection_requests_are_refused_with_reasons() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let key = config.demo_api_key.clone();
    let path = "/v1/connections/shopify/third-shop.myshopify.com";
    let cases: [(http::Method, &str, &str, u16, &str); 7] = [
        (http::Method::PUT, path, "{not json", 400, "malformed_json"),
        (
            http::Method::PUT,
            path,
            r#"{"access_token": "x"}"#,
            400,
            "malformed_json",
        ),
        (
            http::Method::PUT,
            path,
            r#"{"webhook_secret": "x", "extra": 1}"#,
            400,
            "malformed_json",
        ),
        (
            http::Method::PUT,
            path,
            r#"{"webhook_secret": ""}"#,
            422,
            "invalid_field",
        ),
        (
            http::Method::PUT,
            "/v1/connections/shopify/evil.com",
            r#"{"webhook_secret": "x"}"#,
            422,
            "invalid_field",
        ),
        (http::Method::GET, path, "", 405, "method_not_allowed"),
        (
            http::Method::POST,
            "/v1/connections",
            "",
            405,
            "method_not_allowed",
        ),
    ];
    for (method, route, body, status, reason) in cases {
        let (got, answer) = call(&base, &key, method.clone(), route, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{method} {route} {body}: {answer}"
        );
    }
    let huge = format!(
        r#"{{"webhook_secret": "{}"}}"#,
        "x".repeat(rc_api::MAX_API_BODY)
    );
    assert_eq!(
        call(&base, &key, http::Method::PUT, path, &huge).await.0,
        413
    );

    // The demo shop belongs to the demo merchant; another merchant cannot take it.
    let other = rc_domain::MerchantId::parse("other-merchant").expect("id");
    let issued = host.services.api_keys.issue(&other).await.expect("key");
    let other_key = issued
        .0
        .reveal(rc_domain::RevealPurpose::Verification)
        .as_str()
        .to_owned();
    let (status, answer) = call(
        &base,
        &other_key,
        http::Method::PUT,
        "/v1/connections/shopify/demo-shop.myshopify.com",
        r#"{"webhook_secret": "hijack"}"#,
    )
    .await;
    assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")));
    let (status, _) = call(
        &base,
        &other_key,
        http::Method::DELETE,
        "/v1/connections/shopify/demo-shop.myshopify.com",
        "",
    )
    .await;
    assert_eq!(
        status, 404,
        "another merchant's shop is not found, not deleted"
    );
    let (_, listed) = call(&base, &other_key, http::Method::GET, "/v1/connections", "").await;
    assert_eq!(listed["connections"], serde_json::json!([]));
    assert_eq!(
        call(&base, "rck_nope", http::Method::GET, "/v1/connections", "")
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_merchant_connects_and_disconnects_an_amazon_seller() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let key = config.demo_api_key.clone();
    let path = "/v1/connections/amazon/A3TH9S8BH6GOGM";
    let body = r#"{"marketplace_ids": ["ATVPDKIKX0DER"], "lwa_client_id": "amzn1.application-oa2-client.x",
        "lwa_client_secret": "lwa-s3cret", "refresh_token": "Atzr|r3fresh"}"#;
    let (status, answer) = call(&base, &key, http::Method::PUT, path, body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("connected")),
        "{answer}"
    );
    assert!(!answer.to_string().contains("s3cret") && !answer.to_string().contains("r3fresh"));
    let connection = host
        .services
        .connections
        .amazon(&crate::support::id("A3TH9S8BH6GOGM"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        connection.marketplace_ids,
        vec![crate::support::id::<rc_domain::MarketplaceId>(
            "ATVPDKIKX0DER"
        )]
    );
    let refresh = connection
        .credentials
        .refresh_token
        .reveal(rc_domain::RevealPurpose::Verification);
    assert_eq!(refresh.as_str(), "Atzr|r3fresh");

    let bad = [
        ("/v1/connections/amazon/not-a-seller", body, 422),
        (
            path,
            r#"{"marketplace_ids": [], "lwa_client_id": "x", "lwa_client_secret": "y", "refresh_token": "z"}"#,
            422,
        ),
        (path, r#"{"marketplace_ids": ["ATVPDKIKX0DER"]}"#, 400),
    ];
    for (route, body, status) in bad {
        assert_eq!(
            call(&base, &key, http::Method::PUT, route, body).await.0,
            status,
            "{route} {body}"
        );
    }
    assert_eq!(
        call(&base, &key, http::Method::DELETE, path, "").await.0,
        200
    );
    assert!(
        host.services
            .connections
            .amazon(&crate::support::id("A3TH9S8BH6GOGM"))
            .await
            .expect("get")
            .is_none()
    );
}

/// Offline onboarding: on the local host, a merchant connects a new shop and its Amazon seller
/// account through the sandbox apps' consent pages, as a browser would (following redirects),
/// without pasting a secret; the subscriptions are made and the audit trail records both.
#[tokio::test]
async fn the_local_host_connects_through_the_sandbox_apps() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let key = config.demo_api_key.clone();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .expect("client");
    let follow = |start: &str| {
        let (browser, base, key) = (browser.clone(), base.clone(), key.clone());
        let start = start.to_owned();
        async move {
            let response = browser
                .get(format!("{base}{start}"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("flow");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("json");
            (status, body)
        }
    };
    let (status, body) = follow("/v1/connect/shopify?shop=offline-shop.myshopify.com").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["webhooks_created"].as_u64()),
        (Some("connected"), Some(5))
    );
    let (status, body) = follow("/v1/connect/amazon?marketplace_id=ATVPDKIKX0DER").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notifications"], "subscribed");

    let (_, listed) = call(&base, &key, http::Method::GET, "/v1/connections", "").await;
    assert!(listed.to_string().contains("offline-shop.myshopify.com"));
    let (_, subscriptions) = send(
        http::Request::get(format!("{base}/sandbox/subscriptions"))
            .body(bytes::Bytes::new())
            .expect("request"),
    )
    .await;
    assert_eq!(
        subscriptions["shopify_webhooks"].as_array().map(Vec::len),
        Some(5)
    );
    assert!(subscriptions["amazon_subscription"]["id"].is_string());
    let (_, trail) = call(&base, &key, http::Method::GET, "/v1/audit", "").await;
    let purposes: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "connection_changed")
        .filter_map(|e| e["purpose"].as_str())
        .collect();
    assert_eq!(purposes, vec!["shopify_connected", "amazon_connected"]);

    // The reconnected sandbox seller (now authorized through the app) still delivers orders.
    host.sandbox.tick().await.expect("tick");
    let report = host.reconciler.run().await;
    assert_eq!(report.failed_connections, 0, "{report:?}");
}
