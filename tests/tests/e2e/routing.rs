//! Routing through the real order path, on both store adapters: orders arrive as signed Shopify
//! webhooks, the order processor reserves them, and the merchant API shows which rule chose which
//! warehouse. Destination rules, the rule's warehouse order, splits only when allowed, no stock
//! (backordered), no warehouse serving the destination and no address (needs attention, units
//! held), bad settings refused by field with nothing stored, and another merchant's settings
//! never used.

use crate::support;

use rc_domain::{Sku, WarehouseId};
use rc_inventory::Adjustment;
use support::privacy_stack::*;

fn warehouse(name: &str, country: &str, region: &str, priority: u16, active: bool) -> String {
    format!(
        r#"{{"name": "{name}", "address": {{"name": "Acme", "line1": "1 Dock Rd", "city": "Town",
        "postal_code": "10001"}}, "country": "{country}", "region": "{region}",
        "priority": {priority}, "active": {active}}}"#
    )
}

/// Sets the units free to sell at `at` (on hand = reserved + `quantity`).
async fn set_stock(stack: &Stack, sku: &str, at: &str, quantity: i64) {
    let levels = stack
        .services
        .stock
        .levels(&merchant(), &Sku::parse(sku).expect("sku"))
        .await
        .expect("levels");
    let reserved = levels
        .get(&WarehouseId::parse(at).expect("warehouse"))
        .map_or(0, |l| l.reserved);
    let quantity = reserved + quantity;
    stack
        .services
        .stock
        .adjust(
            &merchant(),
            &Sku::parse(sku).expect("sku"),
            &WarehouseId::parse(at).expect("warehouse"),
            Adjustment::Set { on_hand: quantity },
            "routing test",
            "test",
        )
        .await
        .expect("stock");
}

/// The order's SKUs, as the channel adapter parsed them from the fixture.
async fn skus_of(stack: &Stack, id: u64) -> Vec<String> {
    let (status, view) = stack
        .api("GET", &format!("/v1/orders/shopify-{id}"), "")
        .await;
    assert_eq!(status, 200);
    let mut skus: Vec<String> = view["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["sku"].as_str().expect("sku").to_owned())
        .collect();
    skus.dedup();
    skus
}

/// An order (the canary, shipping to Kentucky, US, postal code ZQ7781X) ingested and processed.
async fn order(stack: &Stack, id: u64, shipping: bool) -> serde_json::Value {
    let (body, _) = unique_canary_order(id);
    let mut json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    if !shipping {
        json["shipping_address"] = serde_json::Value::Null;
    }
    let body = serde_json::to_vec(&json).expect("encode");
    assert_eq!(
        stack
            .webhook("orders/create", &format!("create-{id}"), body)
            .await,
        200
    );
    stack.process_order_events().await;
    let (status, view) = stack
        .api("GET", &format!("/v1/orders/shopify-{id}"), "")
        .await;
    assert_eq!(status, 200);
    view
}

fn shipped_from(view: &serde_json::Value) -> Vec<String> {
    view["reservation"]["routing"]["shipments"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| s["warehouse"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn orders_route_by_the_merchants_rules(stack: Stack) {
    for (id, body) in [
        ("west", warehouse("West", "US", "CA", 10, true)),
        ("east", warehouse("East", "US", "KY", 20, true)),
        ("berlin", warehouse("Berlin", "DE", "BE", 5, false)),
    ] {
        let (status, body) = stack
            .api("PUT", &format!("/v1/warehouses/{id}"), &body)
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, defaults) = stack.api("GET", "/v1/routing", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        defaults,
        serde_json::json!({"allow_split": true, "rules": []})
    );

    let settings = r#"{"allow_split": false, "rules": [
        {"name": "amazon-zq", "postal_prefixes": ["zq7"], "channels": ["amazon"], "warehouses": ["berlin"]},
        {"name": "us-east", "countries": ["US"], "regions": ["KY", "OH"], "warehouses": ["east", "west"]}]}"#;
    let (status, saved) = stack.api("PUT", "/v1/routing", settings).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["rules"][0]["postal_prefixes"][0], "ZQ7");

    // Bad settings: 4xx naming the field, nothing stored.
    for (body, status, message) in [
        (
            settings.replace(r#""OH""#, r#""OHIO""#),
            422,
            "field `rules[1].regions` is invalid",
        ),
        (
            settings.replace(r#""zq7""#, r#""ZQ77""#),
            422,
            "field `rules[0].postal_prefixes` is invalid",
        ),
        (
            settings.replace(r#""berlin""#, r#""berlin", "berlin""#),
            422,
            "field `rules[0].warehouses` is invalid",
        ),
        (settings.replace("allow_split", "split"), 400, ""),
        ("[]".to_owned(), 400, ""),
    ] {
        let (got, error) = stack.api("PUT", "/v1/routing", &body).await;
        assert_eq!(got, status, "{body}: {error}");
        if !message.is_empty() {
            assert_eq!(error["message"], message);
            assert_eq!(error["error"], "invalid_field");
        }
    }
    let (_, kept) = stack.api("GET", "/v1/routing", "").await;
    assert_eq!(kept, saved, "a refused update changes nothing");

    // The first order tells us its SKUs; stock them in both US warehouses.
    let first = order(&stack, 7001, true).await;
    let skus = skus_of(&stack, 7001).await;
    assert_eq!(first["status"], "backordered", "no stock yet: {first}");
    for sku in &skus {
        set_stock(&stack, sku, "west", 10).await;
        set_stock(&stack, sku, "east", 10).await;
    }

    // Kentucky matches `us-east` (the Amazon-only rule does not match a Shopify order): east
    // first, although west has the higher priority.
    let view = order(&stack, 7002, true).await;
    assert_eq!(view["status"], "reserved", "{view}");
    assert_eq!(view["reservation"]["routing"]["rule"], "us-east");
    assert_eq!(shipped_from(&view), ["east"]);
    let (_, stock) = stack
        .api("GET", &format!("/v1/inventory/{}", skus[0]), "")
        .await;
    assert!(stock["warehouses"]["east"]["reserved"].as_i64() > Some(0));
    assert_eq!(stock["warehouses"]["west"]["reserved"], 0);

    // East cannot fill it: the rule's next warehouse.
    set_stock(&stack, &skus[0], "east", 0).await;
    let view = order(&stack, 7003, true).await;
    assert_eq!(shipped_from(&view), ["west"], "{view}");

    if skus.len() > 1 {
        // The first SKU only at east, the second only at west: no single warehouse can ship it.
        set_stock(&stack, &skus[0], "east", 10).await;
        set_stock(&stack, &skus[0], "west", 0).await;
        set_stock(&stack, &skus[1], "east", 0).await;
        let view = order(&stack, 7004, true).await;
        assert_eq!(view["status"], "backordered", "no splits: {view}");
        let mut split = saved.clone();
        split["allow_split"] = serde_json::json!(true);
        let (status, _) = stack.api("PUT", "/v1/routing", &split.to_string()).await;
        assert_eq!(status, 200);
        let view = order(&stack, 7005, true).await;
        assert_eq!(view["status"], "reserved", "{view}");
        let mut from = shipped_from(&view);
        from.sort();
        assert_eq!(from, ["east", "west"], "two shipments");
        // The backordered order was not retried by a settings change; it waits for stock.
    }

    // Only an inactive warehouse serves the US: needs attention, units held meanwhile.
    let only_berlin = r#"{"allow_split": true, "rules": [
        {"name": "all-from-berlin", "countries": ["US"], "warehouses": ["berlin"]}]}"#;
    let (status, _) = stack.api("PUT", "/v1/routing", only_berlin).await;
    assert_eq!(status, 200);
    for sku in &skus {
        set_stock(&stack, sku, "west", 10).await;
    }
    let view = order(&stack, 7006, true).await;
    assert_eq!(view["status"], "needs_attention", "{view}");
    assert_eq!(
        view["reservation"]["routing"]["attention"],
        "no_warehouse_serves"
    );
    assert_eq!(view["reservation"]["state"], "reserved", "units are held");

    // No shipping address at all: needs attention, whatever the rules.
    let view = order(&stack, 7007, false).await;
    assert_eq!(view["status"], "needs_attention", "{view}");
    assert_eq!(
        view["reservation"]["routing"]["attention"],
        "address_not_shippable"
    );

    // A postal-prefix rule: the canary's ZQ7781X starts with ZQ7.
    let by_prefix = r#"{"allow_split": true, "rules": [
        {"name": "zq-area", "postal_prefixes": ["ZQ7"], "warehouses": ["west"]},
        {"name": "all-from-berlin", "countries": ["US"], "warehouses": ["berlin"]}]}"#;
    let (status, _) = stack.api("PUT", "/v1/routing", by_prefix).await;
    assert_eq!(status, 200);
    let view = order(&stack, 7008, true).await;
    assert_eq!(view["reservation"]["routing"]["rule"], "zq-area", "{view}");
    assert_eq!(shipped_from(&view), ["west"]);
    assert!(
        !view.to_string().contains("ZQ7"),
        "the prefix is never shown: {view}"
    );

    // The merchant fixed the rules: the held order is routed again (its own held units count as
    // free to it), moved in one transaction, and its shipment planned. Units are conserved.
    let reserved_total = |stock: &serde_json::Value| -> i64 {
        stock["warehouses"]
            .as_object()
            .map(|w| w.values().filter_map(|l| l["reserved"].as_i64()).sum())
            .unwrap_or(0)
    };
    let held_at = |view: &serde_json::Value| -> Vec<String> {
        view["reservation"]["allocations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["warehouse"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, held) = stack.api("GET", "/v1/orders/shopify-7006", "").await;
    assert!(
        held_at(&held).iter().all(|w| w == "west"),
        "held by priority: {held}"
    );
    let to_east = r#"{"allow_split": true, "rules": [
        {"name": "zq-east", "postal_prefixes": ["ZQ7"], "warehouses": ["east"]}]}"#;
    let (status, _) = stack.api("PUT", "/v1/routing", to_east).await;
    assert_eq!(status, 200);
    for sku in &skus {
        set_stock(&stack, sku, "east", 10).await;
    }
    let (_, before_stock) = stack
        .api("GET", &format!("/v1/inventory/{}", skus[0]), "")
        .await;
    let (status, rerouted) = stack.api("POST", "/v1/orders/shopify-7006/route", "").await;
    assert_eq!(status, 200, "{rerouted}");
    assert_eq!(rerouted["status"], "reserved");
    assert_eq!(rerouted["reservation"]["routing"]["rule"], "zq-east");
    assert!(rerouted["reservation"]["routing"]["attention"].is_null());
    assert!(held_at(&rerouted).iter().all(|w| w == "east"), "{rerouted}");
    let (_, after_stock) = stack
        .api("GET", &format!("/v1/inventory/{}", skus[0]), "")
        .await;
    assert_eq!(reserved_total(&before_stock), reserved_total(&after_stock));
    let at = |stock: &serde_json::Value, w: &str| {
        stock["warehouses"][w]["reserved"].as_i64().unwrap_or(0)
    };
    assert!(
        at(&after_stock, "west") < at(&before_stock, "west"),
        "{after_stock}"
    );
    assert!(
        at(&after_stock, "east") > at(&before_stock, "east"),
        "{after_stock}"
    );
    let (_, planned) = stack
        .api("GET", "/v1/orders/shopify-7006/shipments", "")
        .await;
    assert_eq!(planned["shipments"][0]["warehouse"], "east", "{planned}");
    let (status, again) = stack.api("POST", "/v1/orders/shopify-7006/route", "").await;
    assert_eq!(
        (status, again["error"].as_str()),
        (409, Some("not_needing_attention"))
    );
    // Still no address: nothing changes, the reason says why.
    let (status, still) = stack.api("POST", "/v1/orders/shopify-7007/route", "").await;
    assert_eq!(
        (status, still["error"].as_str()),
        (409, Some("address_not_shippable"))
    );
    let (_, unchanged) = stack.api("GET", "/v1/orders/shopify-7007", "").await;
    assert_eq!(unchanged["status"], "needs_attention");

    // Redelivering every event changes none of it.
    let before = stack.api("GET", "/v1/orders/shopify-7006", "").await;
    stack.process_order_events().await;
    assert_eq!(
        stack.api("GET", "/v1/orders/shopify-7006", "").await,
        before
    );

    // Another merchant's key sees neither the settings nor the orders.
    let other = rc_domain::MerchantId::parse("someone-else").expect("id");
    let issued = stack.services.api_keys.issue(&other).await.expect("key");
    let other_key = issued
        .0
        .reveal(rc_domain::RevealPurpose::Verification)
        .as_str()
        .to_owned();
    let (status, other) = stack
        .api_as(&other_key, "GET", "/v1/routing", "", &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(other["rules"], serde_json::json!([]));
}

#[tokio::test]
async fn orders_route_by_the_merchants_rules_embedded() {
    orders_route_by_the_merchants_rules(embedded().await).await;
}

#[tokio::test]
async fn orders_route_by_the_merchants_rules_dynamodb() {
    orders_route_by_the_merchants_rules(moto().await).await;
}
