//! Scheduled reconciliation against the SP-API and Shopify Admin stand-ins: orders that
//! notifications and webhooks missed are stored exactly once; runs are repeatable; one broken
//! connection does not stop the others.

use crate::support;

use std::sync::Arc;

use rc_channels::amazon::{Credentials, Endpoints, SpApiClient};
use rc_channels::shopify::{ShopDomain, ShopifyAdmin};
use rc_domain::{MerchantId, OrderId, Secret, SecretText, SystemClock};
use rc_jobs::{ReconcileReport, Reconciler};
use rc_orders::ShopifyCredentials;
use rc_runtime::Services;
use support::*;

fn secret(s: &str) -> Secret<SecretText> {
    Secret::new(SecretText::parse(s).expect("secret"))
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

fn amazon_order(id: &str) -> serde_json::Value {
    let example: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/channels/fixtures/amazon-get-order.json"
    ))
    .expect("fixture");
    let mut order = example["order"].clone();
    order["orderId"] = serde_json::json!(id);
    order["lastUpdatedTime"] = serde_json::json!(now());
    order
}

fn shopify_order(id: u64) -> serde_json::Value {
    let mut order: serde_json::Value = serde_json::from_slice(&canary_order(id)).expect("order");
    order["updated_at"] = serde_json::json!(now());
    order
}

struct Fixture {
    services: Services,
    reconciler: Reconciler,
    amazon: sp_api::StandIn,
    shopify: shopify_admin::StandIn,
    merchant: MerchantId,
    _dir: tempfile::TempDir,
}

async fn fixture(shopify_token: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let services = Services::embedded(dir.path(), Arc::new(SystemClock)).expect("services");
    let merchant = MerchantId::parse("reconciled-merchant").expect("id");
    services
        .connections
        .put_amazon(
            &merchant,
            &crate::support::id("A3TH9S8BH6GOGM"),
            &[crate::support::id("ATVPDKIKX0DER")],
            &Credentials {
                client_id: sp_api::CLIENT_ID.into(),
                client_secret: secret(sp_api::CLIENT_SECRET),
                refresh_token: secret(sp_api::REFRESH_TOKEN),
                region: rc_channels::amazon::Region::NorthAmerica,
            },
        )
        .await
        .expect("amazon connection");
    services
        .connections
        .put_shopify(
            &merchant,
            &ShopDomain::parse("reconciled.myshopify.com").expect("shop"),
            &ShopifyCredentials {
                webhook_secret: secret("whsec"),
                previous_webhook_secret: None,
                access_token: Some(secret(shopify_token)),
            },
        )
        .await
        .expect("shopify connection");
    let amazon = sp_api::start().await;
    let shopify = shopify_admin::start().await;
    let reconciler = Reconciler::new(
        services.orders.clone(),
        services.outbox.clone(),
        services.connections.clone(),
        Arc::new(SpApiClient::new(Endpoints::all_at(
            amazon.base(),
            amazon.base(),
        ))),
        Arc::new(ShopifyAdmin::new(Some(shopify.base()))),
        Arc::new(SystemClock),
    );
    Fixture {
        services,
        reconciler,
        amazon,
        shopify,
        merchant,
        _dir: dir,
    }
}

#[tokio::test]
async fn missed_orders_are_stored_once_and_a_second_run_changes_nothing() {
    let f = fixture(shopify_admin::ACCESS_TOKEN).await;
    for id in [
        "903-1000001-0000001",
        "903-1000002-0000002",
        "903-1000003-0000003",
    ] {
        f.amazon.state().orders.insert(id.into(), amazon_order(id));
    }
    f.shopify.state().orders = (1..=3).map(|n| shopify_order(5_000 + n)).collect();
    // One Amazon order already arrived through its notification.
    let (known, _) = rc_channels::amazon::parse_get_order(
        &f.merchant,
        serde_json::json!({"order": amazon_order("903-1000001-0000001")})
            .to_string()
            .as_bytes(),
    )
    .expect("parse");
    f.services.orders.upsert(&known, None).await.expect("store");

    let first = f.reconciler.run().await;
    assert_eq!(
        first,
        ReconcileReport {
            connections: 2,
            failed_connections: 0,
            orders_seen: 6,
            stored: 5,
            updated: 0,
            unchanged: 1,
            failed_orders: 0,
            relayed_events: 0,
            unsubscribed: 0,
        }
    );
    assert_eq!(
        f.amazon.state().search_calls,
        2,
        "three orders, two per page"
    );
    assert_eq!(f.shopify.state().calls, 2);
    let events = f.services.published.as_ref().expect("queue").published();
    assert_eq!(
        events.len(),
        6,
        "five stores and the earlier notification's store: {events:?}"
    );
    assert!(
        f.amazon.state().violations.is_empty(),
        "{:?}",
        f.amazon.state().violations
    );
    assert!(
        f.shopify.state().violations.is_empty(),
        "{:?}",
        f.shopify.state().violations
    );
    for id in ["amazon-903-1000002-0000002", "shopify-5003"] {
        let order = OrderId::parse(id).expect("id");
        let view = f
            .services
            .orders
            .view(&f.merchant, &order)
            .await
            .expect("view")
            .expect(id);
        assert_eq!(view.version, 1);
    }

    // The next run re-reads the overlap window and changes nothing.
    let second = f.reconciler.run().await;
    assert_eq!((second.stored, second.updated, second.unchanged), (0, 0, 6));
}

#[tokio::test]
async fn a_broken_connection_is_reported_and_does_not_stop_the_others() {
    let f = fixture("shpat_revoked").await;
    f.amazon.state().orders.insert(
        "903-2000001-0000001".into(),
        amazon_order("903-2000001-0000001"),
    );
    f.shopify.state().orders = vec![shopify_order(6_001)];
    let report = f.reconciler.run().await;
    assert_eq!((report.connections, report.failed_connections), (2, 1));
    assert_eq!(report.stored, 1, "the Amazon order still arrived");
    let shopify = rc_orders::ConnectionRef {
        merchant: f.merchant.clone(),
        channel: "shopify".into(),
        reference: "reconciled.myshopify.com".into(),
    };
    assert!(
        f.services
            .connections
            .watermark(&shopify)
            .await
            .expect("read")
            .is_none(),
        "a failed connection keeps its watermark, so the next run retries the same window"
    );
}
