//! Tax per order line, end to end on both store adapters: orders arrive as Shopify sends them
//! (an Indian store's order with CGST + SGST `tax_lines`, tax-included prices and a discount;
//! an EU distance sale) and as Amazon's Orders API returns them (the model's IOSS / marketplace-
//! facilitator example); the order processor keeps each order's tax record.
//!
//! - India: IGST from the default warehouse (Maharashtra) while the order waits for stock;
//!   CGST and SGST once Karnataka's warehouse takes it; the channel's 18 % flagged as differing
//!   from the 5 % owed on apparel under ₹2,500 a piece; a redelivered event changes nothing;
//! - a SKU without a tax class: flagged `no_tax_class`, never zero; fixed and recomputed;
//! - EU: French VAT through the OSS; under the threshold setting, German VAT;
//! - Amazon: marketplace facilitator, the marketplace liable, recorded as charged;
//! - the report (GSTR-1, OSS, per jurisdiction; JSON and CSV) is the same before and after the
//!   purge, and after the account is cancelled; tax records hold no PII;
//! - bad input: 422 with a reason, nothing stored.

use crate::support;

use rc_domain::MerchantId;
use rc_privacy::PurgeLimits;
use rc_tax_records::{ReportGroup, ReportPeriod};
use support::privacy_stack::*;

const GST_ORDER: &str =
    include_str!("../../../shared/channels/fixtures/shopify-orders-create-gst.json");
const AMAZON_IOSS: &str =
    include_str!("../../../shared/channels/fixtures/amazon-get-order-ioss.json");
const NOVEMBER: &str = "from=2026-11-01&to=2026-11-30";

fn warehouse(name: &str, country: &str, region: &str, priority: u16) -> String {
    format!(
        r#"{{"name": "{name}", "address": {{"name": "Acme", "line1": "1 Dock Rd", "city": "Town",
        "postal_code": "400001"}}, "country": "{country}", "region": "{region}",
        "priority": {priority}}}"#
    )
}

/// The Indian store's order as Shopify sends it, as order `id` of `sku`.
fn gst_order(id: u64, sku: &str) -> Vec<u8> {
    let mut order: serde_json::Value = serde_json::from_str(GST_ORDER).expect("fixture");
    order["id"] = serde_json::json!(id);
    order["line_items"][0]["sku"] = serde_json::json!(sku);
    serde_json::to_vec(&order).expect("encode")
}

/// An EU distance sale: 2 × EUR 50.00 to Paris, prices without VAT, no tax lines.
fn eu_order(id: u64) -> Vec<u8> {
    let mut order: serde_json::Value = serde_json::from_str(GST_ORDER).expect("fixture");
    order["id"] = serde_json::json!(id);
    order["currency"] = serde_json::json!("EUR");
    order["taxes_included"] = serde_json::json!(false);
    order["subtotal_price"] = serde_json::json!("100.00");
    order["total_tax"] = serde_json::json!("0.00");
    order["total_price"] = serde_json::json!("100.00");
    order["total_shipping_price_set"]["shop_money"]["amount"] = serde_json::json!("0.00");
    order["shipping_lines"] = serde_json::json!([]);
    let line = &mut order["line_items"][0];
    line["sku"] = serde_json::json!("BOOK-EU");
    line["price"] = serde_json::json!("50.00");
    line["tax_lines"] = serde_json::json!([]);
    line["discount_allocations"] = serde_json::json!([]);
    for address in ["shipping_address", "billing_address"] {
        let a = &mut order[address];
        a["city"] = serde_json::json!("Paris");
        a["zip"] = serde_json::json!("75001");
        a["province"] = serde_json::Value::Null;
        a["province_code"] = serde_json::Value::Null;
        a["country"] = serde_json::json!("France");
        a["country_code"] = serde_json::json!("FR");
    }
    serde_json::to_vec(&order).expect("encode")
}

async fn put(stack: &Stack, path: &str, body: &str, expected: u16) -> serde_json::Value {
    let (status, json) = stack.api("PUT", path, body).await;
    assert_eq!(status, expected, "{path}: {json}");
    json
}

async fn tax_of(stack: &Stack, order: &str) -> serde_json::Value {
    let (status, record) = stack
        .api("GET", &format!("/v1/orders/{order}/tax"), "")
        .await;
    assert_eq!(status, 200, "{record}");
    record
}

/// (component, rate bp, taxable, tax) of each amount of the owed record, lines in order.
fn owed(record: &serde_json::Value) -> Vec<(String, u64, i64, i64)> {
    record["owed"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .flat_map(|l| l["amounts"].as_array().expect("amounts").clone())
        .map(|a| {
            (
                a["component"].as_str().expect("component").to_owned(),
                a["rate"].as_u64().unwrap_or(0),
                a["taxable"].as_i64().expect("taxable"),
                a["tax"].as_i64().expect("tax"),
            )
        })
        .collect()
}

async fn report(stack: &Stack, group: &str) -> serde_json::Value {
    let (status, report) = stack
        .api(
            "GET",
            &format!("/v1/reports/tax?{NOVEMBER}&group={group}"),
            "",
        )
        .await;
    assert_eq!(status, 200, "{report}");
    report
}

async fn tax_records_survive_and_say_who_owes_what(stack: Stack) {
    let m = merchant();
    for (id, body) in [
        ("mumbai", warehouse("Mumbai", "IN", "MH", 0)),
        ("bengaluru", warehouse("Bengaluru", "IN", "KA", 10)),
        ("berlin", warehouse("Berlin", "DE", "BE", 20)),
    ] {
        put(&stack, &format!("/v1/warehouses/{id}"), &body, 201).await;
    }
    put(
        &stack,
        "/v1/tax/skus/TSHIRT-COTTON-M",
        r#"{"class": "apparel"}"#,
        200,
    )
    .await;

    // 1. No stock yet: backordered; taxed from the default warehouse (Mumbai → Bengaluru: IGST).
    assert_eq!(
        stack
            .webhook("orders/create", "tax-1", gst_order(7001, "TSHIRT-COTTON-M"))
            .await,
        200
    );
    stack.process_order_events().await;
    let record = tax_of(&stack, "shopify-7001").await;
    assert_eq!(
        (
            record["state"].as_str(),
            record["provider"].as_str(),
            record["ship_from"][0].as_str(),
            record["ship_to"].as_str()
        ),
        (
            Some("computed"),
            Some("india_gst"),
            Some("IN-MH"),
            Some("IN-KA")
        ),
        "{record}"
    );
    // ₹1,180 a piece less ₹118, tax included: ₹1,121 a piece is under ₹2,500, so 5 %; the
    // tax inside ₹2,242 is ₹106.76; the shipping (₹118 inclusive) at the line's rate.
    assert_eq!(
        owed(&record),
        vec![
            ("igst".into(), 500, 213_524, 10_676),
            ("igst".into(), 500, 11_238, 562),
        ]
    );
    assert_eq!(
        (
            record["owed"]["liable"].as_str(),
            record["owed"]["scheme"].as_str()
        ),
        (Some("merchant"), Some("domestic"))
    );
    // Shopify charged CGST + SGST at 18 % (keyed to the store's state): kept as charged, and
    // the difference flagged, not overwritten.
    assert_eq!(record["charged"]["total"], 36_000);
    assert_eq!(
        record["charged"]["lines"][0]["amounts"][0]["component"],
        "cgst"
    );
    assert_eq!(record["owed"]["flags"][0], "tax_differs_from_channel");

    // 2. Redelivered events change nothing.
    stack.process_order_events().await;
    assert_eq!(tax_of(&stack, "shopify-7001").await, record);

    // 3. Stock arrives in Bengaluru: the order is reserved there, and the record recomputed
    // as an intra-state supply.
    let (status, body) = stack
        .api(
            "POST",
            "/v1/inventory/TSHIRT-COTTON-M/adjustments",
            r#"{"warehouse": "bengaluru", "kind": "receive", "quantity": 5, "reason": "inbound"}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    stack.process_order_events().await;
    let record = tax_of(&stack, "shopify-7001").await;
    assert_eq!(record["ship_from"][0], "IN-KA", "{record}");
    assert_eq!(
        owed(&record),
        vec![
            ("cgst".into(), 250, 213_524, 5_338),
            ("sgst".into(), 250, 213_524, 5_338),
            ("cgst".into(), 250, 11_238, 281),
            ("sgst".into(), 250, 11_238, 281),
        ]
    );

    // The record holds codes and amounts: nothing of the buyer's (name, street, city, postal
    // code, phone, e-mail from the fixture) is in it.
    let text = record.to_string();
    for pii in [
        "Steve",
        "Shipper",
        "Shipping Street",
        "Bengaluru",
        "560001",
        "5555",
        "@",
    ] {
        assert!(!text.contains(pii), "{pii} in {text}");
    }

    // 4. A SKU without a class: flagged with the reason, never a silent zero.
    assert_eq!(
        stack
            .webhook("orders/create", "tax-2", gst_order(7002, "MUG-STEEL"))
            .await,
        200
    );
    stack.process_order_events().await;
    let flagged = tax_of(&stack, "shopify-7002").await;
    assert_eq!(
        (flagged["state"].as_str(), flagged["reason"].as_str()),
        (Some("flagged"), Some("no_tax_class"))
    );
    assert!(flagged.get("owed").is_none());
    // An unknown state code, a currency that is not India's: flagged, with their reasons.
    let mut unknown_state: serde_json::Value = serde_json::from_str(GST_ORDER).expect("fixture");
    unknown_state["id"] = serde_json::json!(7003);
    unknown_state["shipping_address"]["province_code"] = serde_json::json!("XX");
    let mut dollars: serde_json::Value = serde_json::from_str(GST_ORDER).expect("fixture");
    dollars["id"] = serde_json::json!(7004);
    dollars["currency"] = serde_json::json!("USD");
    for (n, body, reason) in [
        (7003, unknown_state, "unknown_state"),
        (7004, dollars, "currency_mismatch"),
    ] {
        let body = serde_json::to_vec(&body).expect("encode");
        assert_eq!(
            stack
                .webhook("orders/create", &format!("tax-{n}"), body)
                .await,
            200
        );
        stack.process_order_events().await;
        let flagged = tax_of(&stack, &format!("shopify-{n}")).await;
        assert_eq!(
            (flagged["state"].as_str(), flagged["reason"].as_str()),
            (Some("flagged"), Some(reason))
        );
    }
    assert_eq!(report(&stack, "gstr1").await["orders"]["flagged"], 3);
    put(
        &stack,
        "/v1/tax/skus/MUG-STEEL",
        r#"{"class": "gst-18"}"#,
        200,
    )
    .await;
    let (status, fixed) = stack.api("POST", "/v1/orders/shopify-7002/tax", "").await;
    assert_eq!((status, fixed["state"].as_str()), (200, Some("computed")));

    // 5. An EU distance sale from Berlin to Paris: French VAT through the OSS (a SKU without
    // a class takes the standard rate: reduced rates are what classes add).
    assert_eq!(
        stack
            .webhook("orders/create", "tax-3", eu_order(7101))
            .await,
        200
    );
    // Stock at Berlin only, so it ships from there.
    let (status, _) = stack
        .api(
            "POST",
            "/v1/inventory/BOOK-EU/adjustments",
            r#"{"warehouse": "berlin", "kind": "receive", "quantity": 5, "reason": "inbound"}"#,
        )
        .await;
    assert_eq!(status, 200);
    stack.process_order_events().await;
    let record = tax_of(&stack, "shopify-7101").await;
    assert_eq!(owed(&record), vec![("vat".into(), 2_000, 10_000, 2_000)]);
    assert_eq!(record["owed"]["scheme"], "oss");
    assert_eq!(
        record["owed"]["lines"][0]["amounts"][0]["jurisdiction"],
        "FR"
    );

    // 6. Amazon's IOSS example: Amazon collects and remits; recorded as charged.
    let (order, _) =
        rc_channels::amazon::parse_get_order(&m, AMAZON_IOSS.as_bytes()).expect("order");
    stack
        .services
        .orders
        .upsert(&order, None)
        .await
        .expect("store");
    stack.process_order_events().await;
    let record = tax_of(&stack, order.id.as_str()).await;
    assert_eq!(
        (
            record["provider"].as_str(),
            record["owed"]["scheme"].as_str(),
            record["owed"]["liable"].as_str(),
            record["charged"]["collected_by_marketplace"].as_bool()
        ),
        (
            Some("channel"),
            Some("marketplace_facilitator"),
            Some("marketplace"),
            Some(true)
        ),
        "{record}"
    );

    // 7. The reports.
    let gstr1 = report(&stack, "gstr1").await;
    let rows = gstr1["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{gstr1}");
    assert_eq!(
        rows[1],
        serde_json::json!({"currency": "INR", "place_of_supply": "IN-KA", "rate_percent": "5",
            "taxable_value": "2247.62", "igst": "0.00", "cgst": "56.19", "sgst_utgst": "56.19",
            "cess": "0.00", "orders": 1})
    );
    let oss = report(&stack, "oss").await;
    assert_eq!(
        oss["rows"],
        serde_json::json!([{"currency": "EUR", "scheme": "oss", "member_state": "FR",
            "rate_percent": "20", "taxable_value": "100.00", "vat": "20.00", "orders": 1}])
    );
    let by_jurisdiction = report(&stack, "jurisdiction").await;
    // The Amazon order was placed in March 2025: outside the period.
    assert_eq!(by_jurisdiction["orders"]["counted"], 3);
    let (status, kind, csv) = stack
        .api_text(
            "GET",
            &format!("/v1/reports/tax?{NOVEMBER}&group=gstr1&format=csv"),
        )
        .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(
        csv.starts_with("currency,place_of_supply,rate_percent,taxable_value,igst,cgst,sgst_utgst,cess,orders\r\nINR,IN-KA,18,"),
        "{csv}"
    );

    // 8. Under the EUR 10,000 threshold: German VAT, declared at home; the OSS report empties.
    put(
        &stack,
        "/v1/settings/tax",
        r#"{"eu_below_threshold": true}"#,
        200,
    )
    .await;
    let (_, record) = stack.api("POST", "/v1/orders/shopify-7101/tax", "").await;
    assert_eq!(owed(&record), vec![("vat".into(), 1_900, 10_000, 1_900)]);
    assert_eq!(record["owed"]["scheme"], "domestic");
    assert_eq!(report(&stack, "oss").await["rows"], serde_json::json!([]));

    // 9. The purge: the buyers' data goes, the tax stays exactly as it was.
    for id in [7001, 7002, 7101] {
        let (status, _) = stack
            .api("POST", &format!("/v1/orders/shopify-{id}/shipped"), "")
            .await;
        assert_eq!(status, 200);
    }
    stack.process_order_events().await;
    let before: Vec<serde_json::Value> = vec![
        report(&stack, "gstr1").await,
        report(&stack, "oss").await,
        report(&stack, "jurisdiction").await,
    ];
    let record_before = tax_of(&stack, "shopify-7001").await;
    stack.clock.advance(time::Duration::days(31));
    let run = stack
        .services
        .privacy_run()
        .run(PurgeLimits::default(), false, &mut |_| {})
        .await
        .expect("purge");
    assert!(run.purge.purged >= 3, "{run:?}");
    let (_, view) = stack.api("GET", "/v1/orders/shopify-7001", "").await;
    assert_eq!(view["buyer_pii"], "purged");
    let after = vec![
        report(&stack, "gstr1").await,
        report(&stack, "oss").await,
        report(&stack, "jurisdiction").await,
    ];
    assert_eq!(before, after, "the report is the same after the purge");
    assert_eq!(tax_of(&stack, "shopify-7001").await, record_before);

    // The daily totals the report reads equal the records, summed one by one.
    for group in [
        ReportGroup::Jurisdiction,
        ReportGroup::Gstr1,
        ReportGroup::Oss,
    ] {
        let period = ReportPeriod::parse(Some("2026-11-01"), Some("2026-11-30")).expect("period");
        let reporter = &stack.services.tax_reporter;
        let totals = reporter.report(&m, period, group).await.expect("totals");
        let records = reporter
            .report_from_records(&m, period, group)
            .await
            .expect("records");
        assert_eq!(
            (totals.rows(), totals.computed, totals.flagged, totals.void),
            (
                records.rows(),
                records.computed,
                records.flagged,
                records.void
            ),
            "{group:?}"
        );
    }

    // 10. Account cancellation: the anonymized orders and their tax records remain.
    let period = ReportPeriod::parse(Some("2026-11-01"), Some("2026-11-30")).expect("period");
    let rows_before = stack
        .services
        .tax_reporter
        .report(&m, period, ReportGroup::Gstr1)
        .await
        .expect("report")
        .rows();
    let (status, cancelled) = stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm":"{MERCHANT}"}}"#),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let kept = stack
        .services
        .tax_reporter
        .report(&m, period, ReportGroup::Gstr1)
        .await
        .expect("report");
    assert_eq!(kept.rows(), rows_before);
    assert_eq!(kept.computed, 3);
}

async fn bad_tax_input_is_a_reason_and_stores_nothing(stack: Stack) {
    let cases = [
        (
            "PUT",
            "/v1/tax/classes/apparel-2",
            r#"{"gst": {"hsn": "6109", "rules": [{"effective_from": "2025-09-22", "rate_bp": 500}, {"effective_from": "2025-09-22", "rate_bp": 1800}]}}"#,
            422,
            "overlapping_rules",
        ),
        (
            "PUT",
            "/v1/tax/classes/books",
            r#"{"vat": {"reduced": {"XX": [{"from": "2020-01-01", "rate_bp": 700}]}}}"#,
            422,
            "unknown_country",
        ),
        (
            "PUT",
            "/v1/tax/classes/books",
            r#"{"gst": {"hsn": "4901", "rules": [{"effective_from": "2025-09-22", "rate_bp": -5}]}}"#,
            422,
            "invalid_body",
        ),
        ("PUT", "/v1/tax/classes/Bad!", "{}", 404, "not_found"),
        (
            "PUT",
            "/v1/tax/skus/MUG",
            r#"{"class": "no-such-class"}"#,
            422,
            "unknown_tax_class",
        ),
        (
            "PUT",
            "/v1/tax/skus/MUG",
            r#"{"klass": "gst-5"}"#,
            422,
            "invalid_body",
        ),
        (
            "PUT",
            "/v1/settings/tax",
            r#"{"eu_below_threshold": "yes"}"#,
            422,
            "invalid_body",
        ),
        (
            "GET",
            "/v1/reports/tax?from=2026-12-01&to=2026-11-01",
            "",
            422,
            "invalid_field",
        ),
        (
            "GET",
            "/v1/reports/tax?from=2025-01-01&to=2026-11-01",
            "",
            422,
            "invalid_field",
        ),
        (
            "GET",
            "/v1/reports/tax?to=2026-11-01",
            "",
            422,
            "invalid_field",
        ),
        (
            "GET",
            "/v1/reports/tax?from=2026-11-01&to=2026-11-30&group=vat",
            "",
            422,
            "invalid_field",
        ),
        (
            "GET",
            "/v1/reports/tax?from=2026-11-01&to=2026-11-30&format=xlsx",
            "",
            422,
            "invalid_field",
        ),
        ("GET", "/v1/orders/shopify-404/tax", "", 404, "not_found"),
        (
            "DELETE",
            "/v1/tax/classes/gst-5",
            "",
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, answer) = stack.api(method, path, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(reason)),
            "{method} {path}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(!message.contains("no-such-class") && !message.contains("XX"));
    }
    // Nothing was stored: the classes are the seeds, the SKU has none, the settings default.
    let (_, classes) = stack.api("GET", "/v1/tax/classes", "").await;
    let ids: Vec<&String> = classes["classes"]
        .as_object()
        .expect("classes")
        .keys()
        .collect();
    assert_eq!(ids, ["apparel", "gst-18", "gst-40", "gst-5"]);
    assert_eq!(stack.api("GET", "/v1/tax/skus/MUG", "").await.0, 404);
    assert_eq!(
        stack.api("GET", "/v1/settings/tax", "").await.1,
        serde_json::json!({"eu_below_threshold": false})
    );
    // A valid class round-trips; a second merchant never sees it.
    let class =
        r#"{"gst": {"hsn": "4901", "rules": [{"effective_from": "2017-07-01", "rate_bp": 0}]}}"#;
    put(&stack, "/v1/tax/classes/books", class, 201).await;
    put(&stack, "/v1/tax/classes/books", class, 200).await;
    let other = MerchantId::parse("another-merchant").expect("merchant");
    let theirs = stack
        .services
        .tax_classes
        .list(&other)
        .await
        .expect("classes");
    assert!(!theirs.contains_key("books"));
}

#[tokio::test]
async fn tax_records_survive_and_say_who_owes_what_embedded() {
    tax_records_survive_and_say_who_owes_what(embedded().await).await;
}

#[tokio::test]
async fn tax_records_survive_and_say_who_owes_what_moto() {
    tax_records_survive_and_say_who_owes_what(moto().await).await;
}

#[tokio::test]
async fn bad_tax_input_is_a_reason_and_stores_nothing_embedded() {
    bad_tax_input_is_a_reason_and_stores_nothing(embedded().await).await;
}
