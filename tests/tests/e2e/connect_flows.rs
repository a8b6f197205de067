//! The connect flows, on both store adapters, against the stand-ins of Shopify (OAuth, GraphQL
//! webhook subscriptions) and of Login with Amazon and the Notifications API: a merchant
//! connects without pasting a secret; every bad callback (signature, state replayed or expired,
//! foreign shop, missing or doubled parameters, a code the marketplace refuses) is a clear 4xx
//! that stores nothing; subscriptions are made once however often the flow is repeated; the
//! uninstall and the disconnect undo it; the audit trail records each change.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rc_domain::{AmazonApp, AppCredentials, Secret, SecretText, ShopifyApp};
use serde_json::Value;

use crate::support;
use support::privacy_stack::*;
use support::{shopify_admin, sp_api};

const PUBLIC: &str = "https://api.retailcoder.test";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:rc-amazon-notifications";
const SELLER_CENTRAL: &str = "https://sellercentral.stand-in.test";
const SHOPIFY_SCOPES: &str = "read_orders,write_inventory";

fn secret(s: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(s).expect("secret"))
}

fn apps() -> AppCredentials {
    AppCredentials {
        shopify: Some(Arc::new(ShopifyApp {
            client_id: shopify_admin::APP_CLIENT_ID.into(),
            client_secret: secret(shopify_admin::APP_SECRET),
            previous_client_secret: None,
            scopes: SHOPIFY_SCOPES.into(),
        })),
        amazon: Some(Arc::new(AmazonApp {
            application_id: "amzn1.sp.solution.rc-test".into(),
            client_id: sp_api::CLIENT_ID.into(),
            client_secret: secret(sp_api::CLIENT_SECRET),
            draft: true,
            notifications_queue_arn: Some(QUEUE_ARN.into()),
        })),
        public_base_url: Some(PUBLIC.into()),
    }
}

struct Flow {
    stack: Stack,
    shopify: shopify_admin::StandIn,
    amazon: sp_api::StandIn,
}

async fn flow(stack: Stack) -> Flow {
    let (shopify, amazon) = (shopify_admin::start().await, sp_api::start().await);
    let mut stack = stack;
    stack.services.connections.set_apps(apps());
    stack.channels = rc_runtime::ChannelClients::new(
        rc_channels::amazon::Endpoints::all_at(amazon.base(), amazon.base()),
        Some(shopify.base()),
    )
    .with_amazon_retry(rc_channels::amazon::RetryPolicy {
        attempts: 2,
        first_backoff: Duration::from_millis(10),
    })
    .with_seller_central(Some(SELLER_CENTRAL.into()));
    shopify.state().granted_scope = SHOPIFY_SCOPES.into();
    Flow {
        stack,
        shopify,
        amazon,
    }
}

impl Flow {
    /// A callback as the marketplace redirects the browser: no API key.
    async fn callback(&self, path_and_query: &str) -> (u16, Value) {
        let request = http::Request::get(format!("http://localhost{path_and_query}"))
            .body(Bytes::new())
            .expect("request");
        let response = self
            .stack
            .services
            .merchant_api(&self.stack.channels)
            .handle(request)
            .await;
        check_answer("GET", path_and_query, &response);
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body()).unwrap_or(Value::Null),
        )
    }

    /// Starts a flow with the merchant's key: the authorize URL's query parameters.
    async fn start(&self, path: &str) -> Vec<(String, String)> {
        let (status, body) = self.stack.api("GET", path, "").await;
        assert_eq!(status, 302, "{body}");
        let url = body["authorize_url"].as_str().expect("url");
        let query = url.split_once('?').expect("query").1;
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn connections(&self) -> Vec<String> {
        let (_, listed) = self.stack.api("GET", "/v1/connections", "").await;
        listed["connections"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["reference"].as_str().expect("reference").to_owned())
            .collect()
    }

    async fn audit(&self) -> Vec<(String, String, String)> {
        let (_, trail) = self.stack.api("GET", "/v1/audit", "").await;
        trail["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_owned(),
                    e["purpose"].as_str().unwrap_or_default().to_owned(),
                    e["subject"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .expect("parameter")
}

/// Shopify's redirect after approval: the query signed with `secret`.
fn shopify_callback(pairs: &[(&str, &str)], secret_text: &str) -> String {
    format!(
        "{}?{}",
        rc_api::SHOPIFY_CALLBACK,
        rc_channels::shopify::sign_callback(pairs, &secret(secret_text))
    )
}

async fn a_shop_connects_through_the_app(stack: Stack) {
    let logs = support::capture_all_logs();
    let flow = flow(stack).await;
    let shop = "new-shop.myshopify.com";
    let before = flow.connections().await;

    // Starting: a redirect to the shop's authorize page for our app.
    let start = flow
        .start(&format!("/v1/connect/shopify?shop={shop}"))
        .await;
    assert_eq!(param(&start, "client_id"), shopify_admin::APP_CLIENT_ID);
    assert_eq!(param(&start, "scope"), SHOPIFY_SCOPES);
    assert_eq!(
        param(&start, "redirect_uri"),
        format!("{PUBLIC}/v1/connect/shopify/callback")
    );
    let state = param(&start, "state").to_owned();
    assert!(state.starts_with("rcs_"));
    // Bad starts: a foreign domain, a key without connections:manage, no key.
    let (status, body) = flow
        .stack
        .api("GET", "/v1/connect/shopify?shop=evil.example.com", "")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_field"))
    );
    let (status, _) = flow
        .stack
        .api_as(
            PII_KEY,
            "GET",
            "/v1/connect/shopify?shop=a.myshopify.com",
            "",
            &[],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = flow
        .callback(&format!("/v1/connect/shopify?shop={shop}"))
        .await;
    assert_eq!(status, 401);

    flow.shopify.state().oauth_codes = vec!["code-1".into(), "code-2".into()];
    let good = [
        ("code", "code-1"),
        ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvbmV3LXNob3A"),
        ("shop", shop),
        ("state", state.as_str()),
        ("timestamp", "1795000000"),
    ];
    // Bad callbacks: each refused with its reason, nothing exchanged, nothing stored.
    let unknown_state = "rcs_000000000000000000000000000000000000000000000000";
    let mut doubled = shopify_callback(&good, shopify_admin::APP_SECRET);
    doubled.push_str("&code=code-2");
    let cases: Vec<(String, u16, &str)> = vec![
        (
            shopify_callback(&good, "shpss_someone_else"),
            401,
            "invalid_hmac",
        ),
        (
            shopify_callback(
                &[
                    ("code", "code-1"),
                    ("shop", shop),
                    ("timestamp", "1795000000"),
                ],
                shopify_admin::APP_SECRET,
            ),
            400,
            "invalid_callback",
        ),
        (doubled, 400, "duplicated_parameter"),
        (
            shopify_callback(
                &[
                    ("code", "code-1"),
                    ("shop", "new-shop.evil.com"),
                    ("state", state.as_str()),
                    ("timestamp", "1795000000"),
                ],
                shopify_admin::APP_SECRET,
            ),
            400,
            "invalid_shop",
        ),
        (
            shopify_callback(
                &[
                    ("code", "code-1"),
                    ("shop", shop),
                    ("state", unknown_state),
                    ("timestamp", "1795000000"),
                ],
                shopify_admin::APP_SECRET,
            ),
            400,
            "invalid_state",
        ),
        (
            rc_api::SHOPIFY_CALLBACK.to_string(),
            400,
            "invalid_callback",
        ),
    ];
    for (query, status, reason) in &cases {
        let (got, body) = flow.callback(query).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (*status, Some(*reason)),
            "{query}"
        );
        let text = body.to_string();
        assert!(!text.contains("code-1") && !text.contains(shopify_admin::APP_SECRET));
    }
    assert_eq!(flow.shopify.state().code_exchanges, 0);
    assert_eq!(flow.connections().await, before, "nothing stored");

    // The real callback: code exchanged, webhooks subscribed, the shop connected.
    let callback = shopify_callback(&good, shopify_admin::APP_SECRET);
    let (status, body) = flow.callback(&callback).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["webhooks_created"].as_u64()),
        (Some("connected"), Some(5))
    );
    assert!(!body.to_string().contains(shopify_admin::ACCESS_TOKEN));
    let webhooks: Vec<(String, String)> = flow
        .shopify
        .state()
        .webhooks
        .iter()
        .map(|(_, topic, uri)| (topic.clone(), uri.clone()))
        .collect();
    let address = format!("{PUBLIC}/webhooks/shopify");
    assert_eq!(
        webhooks,
        rc_channels::shopify::WEBHOOK_TOPICS
            .iter()
            .map(|t| ((*t).to_owned(), address.clone()))
            .collect::<Vec<_>>()
    );
    assert!(flow.connections().await.contains(&shop.to_owned()));

    // Replayed: the state was used; nothing is exchanged or subscribed again.
    let (status, body) = flow.callback(&callback).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state"))
    );
    assert_eq!(flow.shopify.state().code_exchanges, 1);

    // Connecting again (a new flow): the same subscriptions, none made twice.
    let again = flow
        .start(&format!("/v1/connect/shopify?shop={shop}"))
        .await;
    let again_state = param(&again, "state").to_owned();
    let (status, body) = flow
        .callback(&shopify_callback(
            &[
                ("code", "code-2"),
                ("shop", shop),
                ("state", again_state.as_str()),
                ("timestamp", "1795000100"),
            ],
            shopify_admin::APP_SECRET,
        ))
        .await;
    assert_eq!((status, body["webhooks_created"].as_u64()), (200, Some(0)));
    assert_eq!(flow.shopify.state().webhooks.len(), 5);
    assert_eq!(flow.shopify.state().webhook_creates, 5);

    // A state for one shop cannot connect another; a code Shopify refuses stores nothing; a
    // state older than ten minutes is gone.
    let other = flow
        .start("/v1/connect/shopify?shop=other-shop.myshopify.com")
        .await;
    let (status, body) = flow
        .callback(&shopify_callback(
            &[
                ("code", "code-x"),
                ("shop", "third-shop.myshopify.com"),
                ("state", param(&other, "state")),
                ("timestamp", "1795000200"),
            ],
            shopify_admin::APP_SECRET,
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("shop_mismatch"))
    );
    let refused = flow
        .start("/v1/connect/shopify?shop=other-shop.myshopify.com")
        .await;
    let (status, body) = flow
        .callback(&shopify_callback(
            &[
                ("code", "never-issued"),
                ("shop", "other-shop.myshopify.com"),
                ("state", param(&refused, "state")),
                ("timestamp", "1795000300"),
            ],
            shopify_admin::APP_SECRET,
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("code_exchange_failed"))
    );
    let late = flow
        .start("/v1/connect/shopify?shop=other-shop.myshopify.com")
        .await;
    flow.stack.clock.advance(time::Duration::minutes(11));
    flow.shopify.state().oauth_codes.push("code-3".into());
    let (status, body) = flow
        .callback(&shopify_callback(
            &[
                ("code", "code-3"),
                ("shop", "other-shop.myshopify.com"),
                ("state", param(&late, "state")),
                ("timestamp", "1795000900"),
            ],
            shopify_admin::APP_SECRET,
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state"))
    );
    assert!(
        !flow
            .connections()
            .await
            .contains(&"other-shop.myshopify.com".to_owned())
    );

    // The shop's webhooks are signed with the app's secret, and verified with it.
    let signed = |secret_text: &str, topic: &str, id: &str, body: Vec<u8>| {
        rc_local_host::signed_shopify_request(
            "http://localhost/webhooks/shopify",
            shop,
            secret_text,
            topic,
            id,
            body,
        )
        .expect("request")
    };
    let webhook = flow.stack.services.shopify_webhook();
    let delivered = webhook
        .handle(signed(
            shopify_admin::APP_SECRET,
            "orders/create",
            "app-1",
            support::canary_order(7001),
        ))
        .await;
    assert_eq!(delivered.status(), 200);
    let forged = webhook
        .handle(signed(
            "shpss_someone_else",
            "orders/create",
            "app-2",
            support::canary_order(7002),
        ))
        .await;
    assert_eq!(forged.status(), 401);

    // Uninstalling the app disconnects the shop; its webhooks are refused after.
    let uninstalled = webhook
        .handle(signed(
            shopify_admin::APP_SECRET,
            "app/uninstalled",
            "app-3",
            br#"{"id": 1, "name": "New Shop", "myshopify_domain": "new-shop.myshopify.com"}"#
                .to_vec(),
        ))
        .await;
    assert_eq!(uninstalled.status(), 200);
    assert!(!flow.connections().await.contains(&shop.to_owned()));
    let after = webhook
        .handle(signed(
            shopify_admin::APP_SECRET,
            "orders/create",
            "app-4",
            support::canary_order(7003),
        ))
        .await;
    assert_eq!(after.status(), 401);

    let changes: Vec<(String, String, String)> = flow
        .audit()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "connection_changed")
        .collect();
    let entry = |purpose: &str| {
        (
            "connection_changed".to_owned(),
            purpose.to_owned(),
            shop.to_owned(),
        )
    };
    assert_eq!(
        changes,
        vec![
            entry("shopify_connected"),
            entry("shopify_connected"),
            entry("shopify_uninstalled"),
        ]
    );
    assert!(
        flow.shopify.state().violations.is_empty(),
        "{:?}",
        flow.shopify.state().violations
    );
    // Nothing secret reached the logs: the app's secret, the shop's token, a code or a state.
    let text = logs.text();
    assert!(
        text.contains("shopify connected through the app"),
        "logs are captured"
    );
    for secret_value in [
        shopify_admin::APP_SECRET,
        shopify_admin::ACCESS_TOKEN,
        "code-1",
        state.as_str(),
    ] {
        assert!(!text.contains(secret_value), "a secret in the logs");
    }
}

async fn a_seller_authorizes_the_app(stack: Stack) {
    let logs = support::capture_all_logs();
    let flow = flow(stack).await;
    let seller = sp_api::SELLER;
    let before = flow.connections().await;

    let start = flow
        .start("/v1/connect/amazon?marketplace_id=ATVPDKIKX0DER&marketplace_id=A2EUQ1WTGCTBG2")
        .await;
    assert_eq!(param(&start, "application_id"), "amzn1.sp.solution.rc-test");
    assert_eq!(param(&start, "version"), "beta", "a draft app");
    assert_eq!(
        param(&start, "redirect_uri"),
        format!("{PUBLIC}/v1/connect/amazon/callback")
    );
    let (status, body) = flow.stack.api("GET", "/v1/connect/amazon", "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_field"))
    );
    let (status, _) = flow
        .stack
        .api(
            "GET",
            "/v1/connect/amazon?marketplace_id=ATVPDKIKX0DER&marketplace_id=A1PA6795UKMFR9",
            "",
        )
        .await;
    assert_eq!(status, 422, "one region per authorization");

    let state = param(&start, "state").to_owned();
    flow.amazon.state().auth_codes = vec!["ANcode1".into(), "ANcode2".into()];
    let callback = |state: &str, code: &str| {
        format!(
            "{}?state={state}&selling_partner_id={seller}&spapi_oauth_code={code}",
            rc_api::AMAZON_CALLBACK
        )
    };
    // Bad callbacks store nothing.
    let cases = [
        (
            format!(
                "{}?state={state}&selling_partner_id={seller}",
                rc_api::AMAZON_CALLBACK
            ),
            "invalid_callback",
        ),
        (
            format!("{}&state={state}", callback(&state, "ANcode1")),
            "duplicated_parameter",
        ),
        (
            callback(
                "rcs_111111111111111111111111111111111111111111111111",
                "ANcode1",
            ),
            "invalid_state",
        ),
    ];
    for (query, reason) in &cases {
        let (status, body) = flow.callback(query).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(*reason)),
            "{query}"
        );
    }
    assert_eq!(flow.amazon.state().code_exchanges, 0);
    assert_eq!(flow.connections().await, before);

    let (status, body) = flow.callback(&callback(&state, "ANcode1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notifications"], "subscribed");
    assert!(!body.to_string().contains(sp_api::REFRESH_TOKEN));
    {
        let amazon = flow.amazon.state();
        assert_eq!(amazon.destinations.len(), 1);
        assert_eq!(amazon.destinations[0].1, QUEUE_ARN);
        assert_eq!(amazon.subscriptions.len(), 1);
        assert_eq!(amazon.subscriptions[0].1, seller);
    }
    // The connection works with the app's client: a seller-token call succeeds.
    let connection = flow
        .stack
        .services
        .connections
        .amazon(&support::id(seller))
        .await
        .expect("read")
        .expect("connected");
    assert_eq!(connection.credentials.client_id, sp_api::CLIENT_ID);
    assert_eq!(connection.marketplace_ids.len(), 2);

    // A retried callback is refused; connecting again reuses the destination and the
    // subscription: each was created once.
    let (status, _) = flow.callback(&callback(&state, "ANcode1")).await;
    assert_eq!(status, 400);
    let again = flow
        .start("/v1/connect/amazon?marketplace_id=ATVPDKIKX0DER")
        .await;
    let (status, body) = flow
        .callback(&callback(param(&again, "state"), "ANcode2"))
        .await;
    assert_eq!(status, 200, "{body}");
    {
        let amazon = flow.amazon.state();
        assert_eq!(amazon.destinations.len(), 1);
        assert_eq!(amazon.subscriptions.len(), 1);
        assert_eq!(amazon.notification_calls.get("createDestination"), Some(&1));
        assert_eq!(
            amazon.notification_calls.get("createSubscription"),
            Some(&1)
        );
    }
    // A code LWA refuses: 400, nothing stored for that flow.
    let refused = flow
        .start("/v1/connect/amazon?marketplace_id=ATVPDKIKX0DER")
        .await;
    let (status, body) = flow
        .callback(&callback(param(&refused, "state"), "ANnever"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("code_exchange_failed"))
    );

    // Credentials pasted over the app's authorization keep the subscription known, so the
    // disconnect still deletes it.
    let pasted = serde_json::json!({
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "lwa_client_id": sp_api::CLIENT_ID,
        "lwa_client_secret": sp_api::CLIENT_SECRET,
        "refresh_token": sp_api::REFRESH_TOKEN,
    });
    let (status, _) = flow
        .stack
        .api(
            "PUT",
            &format!("/v1/connections/amazon/{seller}"),
            &pasted.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    // Disconnecting deletes the subscription at Amazon at once.
    let (status, _) = flow
        .stack
        .api("DELETE", &format!("/v1/connections/amazon/{seller}"), "")
        .await;
    assert_eq!(status, 200);
    assert!(flow.amazon.state().subscriptions.is_empty());
    assert!(
        flow.stack
            .services
            .connections
            .pending_unsubscribes(10)
            .await
            .expect("pending")
            .is_empty()
    );
    let purposes: Vec<String> = flow
        .audit()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "connection_changed")
        .map(|(_, purpose, _)| purpose)
        .collect();
    assert_eq!(
        purposes,
        vec![
            "amazon_connected",
            "amazon_connected",
            "amazon_connected",
            "amazon_disconnected"
        ]
    );
    assert!(
        flow.amazon.state().violations.is_empty(),
        "{:?}",
        flow.amazon.state().violations
    );
    let text = logs.text();
    assert!(
        text.contains("amazon connected through the app"),
        "logs are captured"
    );
    for secret_value in [
        sp_api::CLIENT_SECRET,
        sp_api::REFRESH_TOKEN,
        "ANcode1",
        state.as_str(),
    ] {
        assert!(!text.contains(secret_value), "a secret in the logs");
    }
}

#[tokio::test]
async fn a_shop_connects_through_the_app_embedded() {
    a_shop_connects_through_the_app(embedded().await).await;
}

#[tokio::test]
async fn a_shop_connects_through_the_app_on_moto() {
    a_shop_connects_through_the_app(moto().await).await;
}

#[tokio::test]
async fn a_seller_authorizes_the_app_embedded() {
    a_seller_authorizes_the_app(embedded().await).await;
}

#[tokio::test]
async fn a_seller_authorizes_the_app_on_moto() {
    a_seller_authorizes_the_app(moto().await).await;
}

/// Without apps configured, the flows say so (and nothing else changes).
#[tokio::test]
async fn unconfigured_apps_answer_503() {
    let stack = embedded().await;
    let (status, body) = stack
        .api("GET", "/v1/connect/shopify?shop=a.myshopify.com", "")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("app_not_configured"))
    );
    let request = http::Request::get(format!(
        "http://localhost{}?state=x&selling_partner_id=A1&spapi_oauth_code=c",
        rc_api::AMAZON_CALLBACK
    ))
    .body(Bytes::new())
    .expect("request");
    let response = stack
        .services
        .merchant_api(&stack.channels)
        .handle(request)
        .await;
    check_answer("GET", rc_api::AMAZON_CALLBACK, &response);
    assert_eq!(response.status().as_u16(), 503);
}

/// The apps' client secrets come from Secrets Manager (moto), through the real SDK client; a
/// secret that cannot be read or is not the documented object is an error, never a guess.
#[tokio::test]
async fn app_secrets_are_read_from_secrets_manager() {
    let _turn = support::moto_turn().await;
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the README's test command"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("rc-app-secrets-{}", std::process::id());
    let arn = client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"shopify_client_secret": "shpss_from_secrets_manager", "lwa_client_secret": "lwa-from-secrets-manager"}"#)
        .send()
        .await
        .expect("secret")
        .arn
        .expect("arn");
    let env = |arn: String| {
        move |name: &str| match name {
            "RC_APP_SECRETS_ARN" => Some(arn.clone()),
            "RC_SHOPIFY_CLIENT_ID" => Some("client-id".into()),
            "RC_AMAZON_APPLICATION_ID" => Some("amzn1.sp.solution.x".into()),
            "RC_AMAZON_LWA_CLIENT_ID" => Some("amzn1.application-oa2-client.x".into()),
            "RC_AMAZON_NOTIFICATIONS_QUEUE_ARN" => Some(QUEUE_ARN.into()),
            "RC_PUBLIC_BASE_URL" => Some(PUBLIC.into()),
            _ => None,
        }
    };
    let apps = rc_runtime::load_apps_with(&sdk, env(arn.clone()))
        .await
        .expect("apps");
    let shopify = apps.shopify.expect("shopify app");
    assert_eq!(
        shopify
            .client_secret
            .reveal(rc_domain::RevealPurpose::Verification)
            .as_str(),
        "shpss_from_secrets_manager"
    );
    let amazon = apps.amazon.expect("amazon app");
    assert_eq!(amazon.notifications_queue_arn.as_deref(), Some(QUEUE_ARN));
    assert!(!amazon.draft);

    let missing = rc_runtime::load_apps_with(&sdk, env(format!("{arn}-gone"))).await;
    assert!(matches!(missing, Err(rc_runtime::AppsError::Unreadable(_))));
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"shopify_secret": "typo"}"#)
        .send()
        .await
        .expect("update");
    let malformed = rc_runtime::load_apps_with(&sdk, env(arn)).await;
    assert!(matches!(malformed, Err(rc_runtime::AppsError::Malformed)));
}
