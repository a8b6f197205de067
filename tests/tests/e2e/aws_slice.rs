//! The vertical slice as it runs in AWS: API Gateway v2 events through the Lambda glue into the
//! same handlers, over DynamoDB and KMS (moto, through the real AWS SDK clients).

use crate::support;

use std::sync::atomic::{AtomicU32, Ordering};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use rc_channels::shopify::ShopDomain;
use rc_domain::{MerchantId, Secret, SecretText};
use rc_orders::ApiKey;
use rc_runtime::{AwsConfig, Services, from_apigw, to_apigw};
use rc_store::dynamo::{TableShape, create_table};
use support::*;

static STACKS: AtomicU32 = AtomicU32::new(0);

async fn aws_stack() -> (Services, aws_sdk_dynamodb::Client, AwsConfig) {
    let (services, dynamodb, config, _) = aws_stack_with_queue().await;
    (services, dynamodb, config)
}

/// Tables, a KMS key and an SQS queue for order events, as the template creates them.
async fn aws_stack_with_queue() -> (
    Services,
    aws_sdk_dynamodb::Client,
    AwsConfig,
    aws_sdk_sqs::Client,
) {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the README's test command"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let n = format!(
        "{}-{}",
        std::process::id(),
        STACKS.fetch_add(1, Ordering::Relaxed)
    );
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("rc-order-events-{n}"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let config = AwsConfig {
        data_table: format!("rc-data-{n}"),
        keys_table: format!("rc-keys-{n}"),
        kms_key_id: kms
            .create_key()
            .send()
            .await
            .expect("kms key")
            .key_metadata
            .expect("metadata")
            .key_id,
        order_events_queue_url: Some(queue_url),
        order_events_dead_letters_url: None,
        label_jobs_queue_url: None,
        labels_bucket: None,
        exports_bucket: None,
        export_jobs_queue_url: None,
        shipment_events_queue_url: None,
    };
    create_table(&dynamodb, &config.data_table, TableShape::Data)
        .await
        .expect("data table");
    create_table(&dynamodb, &config.keys_table, TableShape::Keys)
        .await
        .expect("keys table");
    (Services::aws(&config).await, dynamodb, config, sqs)
}

/// Every message on the queue (until it stays empty).
async fn drain_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            bodies.push(message.body.unwrap_or_default());
            if let Some(handle) = message.receipt_handle {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
    bodies
}

fn apigw_event(
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> ApiGatewayV2httpRequest {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-v2-request.json"))
            .expect("fixture");
    event["rawPath"] = serde_json::json!(path);
    event["requestContext"]["http"]["path"] = serde_json::json!(path);
    event["requestContext"]["http"]["method"] = serde_json::json!(method);
    // API Gateway base64-encodes bodies it does not know to be text; exercise that path.
    event["body"] = serde_json::json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = serde_json::json!(true);
    for (name, value) in headers {
        event["headers"][*name] = serde_json::json!(value);
    }
    serde_json::from_value(event).expect("event")
}

fn body_text(body: &Option<Body>) -> String {
    match body {
        Some(Body::Text(text)) => text.clone(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn a_shopify_order_flows_through_lambda_events_into_dynamodb_sealed() {
    let _turn = moto_turn().await;
    let logs = capture_all_logs();
    let (services, dynamodb, config) = aws_stack().await;
    let merchant = MerchantId::parse("aws-merchant").expect("id");
    let shop = ShopDomain::parse("aws-shop.myshopify.com").expect("shop");
    let secret = "aws-webhook-secret";
    services
        .connections
        .put_shopify(
            &merchant,
            &shop,
            &rc_orders::ShopifyCredentials::webhook_only(Secret::new(
                SecretText::parse(secret).expect("s"),
            )),
        )
        .await
        .expect("connection");
    let api_key = "rck_aws_test_key";
    services
        .api_keys
        .register(
            &merchant,
            &ApiKey(Secret::new(SecretText::parse(api_key).expect("k"))),
        )
        .await
        .expect("api key");

    let webhook = services.shopify_webhook();
    let body = canary_order(9009);
    let signed = rc_local_host::signed_shopify_request(
        "https://example.invalid/webhooks/shopify",
        shop.as_str(),
        secret,
        "orders/create",
        "aws-delivery-1",
        body.clone(),
    )
    .expect("signed");
    let headers: Vec<(&str, String)> = signed
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().expect("ascii").to_owned()))
        .collect();
    let event = apigw_event("POST", "/webhooks/shopify", &headers, &body);
    let response = to_apigw(webhook.handle(from_apigw(event).expect("request")).await);
    assert_eq!(response.status_code, 200, "{}", body_text(&response.body));
    assert!(body_text(&response.body).contains("stored"));

    let api = services.merchant_api(&rc_runtime::ChannelClients::from_env().expect("channels"));
    let event = apigw_event(
        "GET",
        "/v1/orders/shopify-9009",
        &[("authorization", format!("Bearer {api_key}"))],
        b"",
    );
    let response = to_apigw(api.handle(from_apigw(event).expect("request")).await);
    assert_eq!(response.status_code, 200);
    let text = body_text(&response.body);
    assert!(text.contains("\"buyer_pii\":\"sealed\""), "{text}");

    // Nothing in either table holds a canary in plaintext; nor did any log line.
    let mut scanned = 0;
    for table in [&config.data_table, &config.keys_table] {
        let items = dynamodb
            .scan()
            .table_name(table)
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default();
        scanned += items.len();
        let dump = format!("{items:?}");
        for canary in canaries() {
            assert!(!dump.contains(canary), "canary {canary:?} in table {table}");
            assert!(!text.contains(canary));
        }
    }
    assert!(
        scanned >= 5,
        "order, PII, delivery mark, keys: {scanned} items"
    );
    let captured = logs.text();
    if let Ok(path) = std::env::var("RC_DUMP_LOGS") {
        std::fs::write(path, &captured).expect("dump");
    }
    for canary in canaries() {
        assert!(!captured.contains(canary), "canary {canary:?} in logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_storm_and_bad_input_hold_on_dynamodb_too() {
    let _turn = moto_turn().await;
    let (services, _dynamodb, config, sqs) = aws_stack_with_queue().await;
    let merchant = MerchantId::parse("storm-merchant").expect("id");
    let shop = ShopDomain::parse("storm-shop.myshopify.com").expect("shop");
    let secret = "storm-secret";
    services
        .connections
        .put_shopify(
            &merchant,
            &shop,
            &rc_orders::ShopifyCredentials::webhook_only(Secret::new(
                SecretText::parse(secret).expect("s"),
            )),
        )
        .await
        .expect("connection");
    let webhook = std::sync::Arc::new(services.shopify_webhook());
    let request = |id: &str, body: Vec<u8>| {
        rc_local_host::signed_shopify_request(
            "https://example.invalid/webhooks/shopify",
            shop.as_str(),
            secret,
            "orders/create",
            id,
            body,
        )
        .expect("request")
    };

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (webhook, request) = (webhook.clone(), request("storm", canary_order(777)));
            tokio::spawn(async move { webhook.handle(request).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        let response = task.await.expect("join");
        assert_eq!(response.status(), 200, "{:?}", response.body());
        if response.body().as_ref() == br#"{"status":"stored"}"# {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "50 concurrent deliveries, one order");
    let url = config.order_events_queue_url.as_deref().expect("queue");
    let events = drain_queue(&sqs, url).await;
    assert_eq!(events.len(), 1, "and one downstream message: {events:?}");
    let event: serde_json::Value = serde_json::from_str(&events[0]).expect("json");
    assert_eq!(
        event,
        serde_json::json!({"kind": "order.stored", "merchant": "storm-merchant", "order": "shopify-777", "version": 1})
    );
    for canary in canaries() {
        assert!(!events[0].contains(canary), "queue messages carry ids only");
    }
    let order = rc_domain::OrderId::parse("shopify-777").expect("id");
    let view = services
        .orders
        .view(&merchant, &order)
        .await
        .expect("view")
        .expect("stored");
    assert_eq!(view.version, 1);

    let mut forged = request("bad-1", canary_order(778));
    forged.headers_mut().insert(
        "x-shopify-hmac-sha256",
        http::HeaderValue::from_static("AAAA"),
    );
    assert_eq!(webhook.handle(forged).await.status(), 401);
    assert_eq!(
        webhook
            .handle(request("bad-2", b"{oops".to_vec()))
            .await
            .status(),
        400
    );
    let huge = vec![b' '; rc_api::MAX_WEBHOOK_BODY + 1];
    assert_eq!(webhook.handle(request("bad-3", huge)).await.status(), 413);
    let mut topic = request("bad-4", canary_order(779));
    topic.headers_mut().insert(
        "x-shopify-topic",
        http::HeaderValue::from_static("carts/create"),
    );
    assert_eq!(webhook.handle(topic).await.status(), 422);
    for id in ["shopify-778", "shopify-779"] {
        let order = rc_domain::OrderId::parse(id).expect("id");
        assert!(
            services
                .orders
                .view(&merchant, &order)
                .await
                .expect("view")
                .is_none()
        );
    }
}
