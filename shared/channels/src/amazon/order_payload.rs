//! The Orders API v2026-01-01 `getOrder` response, parsed into a domain [`Order`].

use rc_domain::{
    BuyerName, BuyerPii, Channel, Currency, Email, LineItem, MerchantId, Money, Order, OrderId,
    OrderStatus, OrderTotals, Phone, PostalAddress, Quantity, RevealPurpose, ShipToRegion, Sku,
};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::shopify::PayloadError;
use crate::{join_present, keep_or_drop, non_empty, optional_pii};

/// The datasets we ask `getOrder` for: who the buyer is, where it ships, its status and money,
/// and how its tax is collected and reported (`TAX`: the items' `taxCollections` and
/// `taxCalculationBreakdowns`). Each is a value of the `includedData` enum in
/// `orders_2026-01-01.json`.
pub const INCLUDED_DATA: [&str; 5] = ["BUYER", "RECIPIENT", "FULFILLMENT", "PROCEEDS", "TAX"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse {
    order: Option<RawOrder>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSearchResponse {
    orders: Option<Vec<RawOrder>>,
    pagination: Option<RawPagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPagination {
    next_token: Option<String>,
}

/// One order of a `searchOrders` page: parsed, or why not (one bad order must not hide the rest).
pub type SearchedOrder = Result<(Order, Vec<&'static str>), PayloadError>;

/// A `searchOrders` response: its orders and the token of the next page.
pub fn parse_search_orders(
    merchant: &MerchantId,
    body: &[u8],
) -> Result<(Vec<SearchedOrder>, Option<String>), PayloadError> {
    let raw: RawSearchResponse = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(crate::describe_json_error(&e)))?;
    let orders = raw
        .orders
        .ok_or(PayloadError::Missing("orders"))?
        .into_iter()
        .map(|order| order_from_raw(merchant, order))
        .collect();
    Ok((orders, raw.pagination.and_then(|p| p.next_token)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrder {
    order_id: Option<String>,
    sales_channel: Option<RawSalesChannel>,
    created_time: Option<String>,
    last_updated_time: Option<String>,
    buyer: Option<RawBuyer>,
    recipient: Option<RawRecipient>,
    proceeds: Option<RawProceeds>,
    fulfillment: Option<RawFulfillment>,
    #[serde(default)]
    order_items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSalesChannel {
    marketplace_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBuyer {
    buyer_name: Option<String>,
    buyer_email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecipient {
    delivery_address: Option<RawAddress>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAddress {
    name: Option<String>,
    company_name: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    address_line3: Option<String>,
    city: Option<String>,
    state_or_region: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMoney {
    amount: Option<String>,
    currency_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProceeds {
    grand_total: Option<RawMoney>,
    #[serde(default)]
    breakdowns: Vec<RawBreakdown>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBreakdown {
    #[serde(rename = "type")]
    kind: Option<String>,
    subtotal: Option<RawMoney>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFulfillment {
    fulfillment_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    order_item_id: Option<String>,
    quantity_ordered: Option<u32>,
    product: Option<RawProduct>,
    proceeds: Option<RawItemProceeds>,
    tax: Option<RawItemTax>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItemProceeds {
    #[serde(default)]
    breakdowns: Vec<RawItemBreakdown>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItemBreakdown {
    #[serde(rename = "type")]
    kind: Option<String>,
    subtotal: Option<RawMoney>,
    #[serde(default)]
    detailed_breakdowns: Vec<RawDetailedBreakdown>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetailedBreakdown {
    subtype: Option<String>,
    value: Option<RawMoney>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItemTax {
    #[serde(default)]
    tax_calculation_breakdowns: Vec<RawTaxCalculation>,
    #[serde(default)]
    tax_collections: Vec<RawTaxCollection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTaxCalculation {
    reporting_scheme: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTaxCollection {
    model: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProduct {
    seller_sku: Option<String>,
    asin: Option<String>,
    price: Option<RawPrice>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPrice {
    unit_price: Option<RawMoney>,
}

fn timestamp(raw: Option<&str>, field: &'static str) -> Result<OffsetDateTime, PayloadError> {
    let raw = raw.ok_or(PayloadError::Missing(field))?;
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| PayloadError::Invalid(field))
}

fn money(raw: &RawMoney, currency: Currency, field: &'static str) -> Result<Money, PayloadError> {
    if raw.currency_code.as_deref() != Some(currency.code()) {
        return Err(PayloadError::Invalid(field));
    }
    let amount = raw.amount.as_deref().ok_or(PayloadError::Missing(field))?;
    Money::parse_decimal(amount, currency).map_err(|_| PayloadError::Invalid(field))
}

/// An amount that may be negative (Amazon gives discounts as negative subtotals): its size.
fn magnitude(
    raw: &RawMoney,
    currency: Currency,
    field: &'static str,
) -> Result<Money, PayloadError> {
    let amount = raw.amount.as_deref().ok_or(PayloadError::Missing(field))?;
    let unsigned = RawMoney {
        amount: Some(amount.strip_prefix('-').unwrap_or(amount).to_owned()),
        currency_code: raw.currency_code.clone(),
    };
    money(&unsigned, currency, field)
}

/// An item's charges from its proceeds breakdowns: the `DISCOUNT` subtotal, and the `TAX`
/// subtotal split by its detailed breakdowns into the item's own tax (`ITEM`, and any subtype
/// other than `SHIPPING`) and its shipping's (`SHIPPING`), which joins the order's.
fn item_charges(
    item: &RawItem,
    currency: Currency,
) -> Result<(rc_domain::LineCharges, Option<Money>), PayloadError> {
    const FIELD: &str = "orderItems.proceeds.breakdowns";
    let breakdowns = item.proceeds.iter().flat_map(|p| &p.breakdowns);
    let add = |sum: Option<Money>, m: Money| match sum {
        Some(s) => s
            .checked_add(m)
            .map(Some)
            .map_err(|_| PayloadError::Invalid(FIELD)),
        None => Ok(Some(m)),
    };
    let (mut discount, mut line_tax, mut shipping_tax) = (None, None, None);
    for breakdown in breakdowns {
        let Some(subtotal) = breakdown.subtotal.as_ref() else {
            continue;
        };
        match breakdown.kind.as_deref() {
            Some("DISCOUNT") => discount = add(discount, magnitude(subtotal, currency, FIELD)?)?,
            Some("TAX") if breakdown.detailed_breakdowns.is_empty() => {
                line_tax = add(line_tax, magnitude(subtotal, currency, FIELD)?)?;
            }
            Some("TAX") => {
                for detail in &breakdown.detailed_breakdowns {
                    let Some(value) = detail.value.as_ref() else {
                        continue;
                    };
                    let value = magnitude(value, currency, FIELD)?;
                    if detail.subtype.as_deref() == Some("SHIPPING") {
                        shipping_tax = add(shipping_tax, value)?;
                    } else {
                        line_tax = add(line_tax, value)?;
                    }
                }
            }
            _ => {}
        }
    }
    let charges = rc_domain::LineCharges {
        discount: discount.filter(|d| d.minor_units() > 0),
        tax: line_tax
            .map(|t| rc_domain::ChargedTax::new("TAX", None, t))
            .into_iter()
            .collect(),
    };
    Ok((charges, shipping_tax))
}

fn address(raw: &RawAddress) -> Result<PostalAddress, rc_domain::PiiError> {
    // Amazon has three address lines; ours has two, so the third joins the second.
    let line2 = join_present(
        non_empty(&raw.address_line2),
        non_empty(&raw.address_line3),
        ", ",
    );
    PostalAddress::parse(
        non_empty(&raw.name),
        non_empty(&raw.company_name),
        raw.address_line1.as_deref().unwrap_or_default(),
        line2.as_deref(),
        raw.city.as_deref().unwrap_or_default(),
        non_empty(&raw.state_or_region),
        non_empty(&raw.postal_code),
        raw.country_code.as_deref().unwrap_or_default(),
    )
}

/// A `getOrder` response, for `merchant`. The names of malformed optional details that were left
/// out are returned alongside (never their values).
pub fn parse_get_order(
    merchant: &MerchantId,
    body: &[u8],
) -> Result<(Order, Vec<&'static str>), PayloadError> {
    let raw: RawResponse = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(crate::describe_json_error(&e)))?;
    order_from_raw(merchant, raw.order.ok_or(PayloadError::Missing("order"))?)
}

fn order_from_raw(
    merchant: &MerchantId,
    raw: RawOrder,
) -> Result<(Order, Vec<&'static str>), PayloadError> {
    let amazon_id = raw
        .order_id
        .as_deref()
        .ok_or(PayloadError::Missing("orderId"))?;
    let id = OrderId::parse(&format!("amazon-{amazon_id}"))
        .map_err(|_| PayloadError::Invalid("orderId"))?;
    if raw.order_items.is_empty() {
        return Err(PayloadError::NoLines);
    }
    if raw.order_items.len() > crate::shopify::MAX_LINES {
        return Err(PayloadError::TooManyLines(crate::shopify::MAX_LINES));
    }
    let grand_total = raw.proceeds.as_ref().and_then(|p| p.grand_total.as_ref());
    let first_price = raw
        .order_items
        .iter()
        .find_map(|i| i.product.as_ref()?.price.as_ref()?.unit_price.as_ref());
    let currency = grand_total
        .or(first_price)
        .and_then(|m| m.currency_code.as_deref())
        .ok_or(PayloadError::Missing("proceeds.grandTotal.currencyCode"))
        .and_then(|c| Currency::parse(c).map_err(|_| PayloadError::Invalid("currencyCode")))?;

    let mut lines = Vec::with_capacity(raw.order_items.len());
    let mut channel_tax = rc_domain::ChannelTaxFacts::default();
    let mut shipping_tax: Option<Money> = None;
    for item in &raw.order_items {
        let (charges, item_shipping_tax) = item_charges(item, currency)?;
        if let Some(tax) = item_shipping_tax {
            shipping_tax = Some(match shipping_tax {
                Some(sum) => sum
                    .checked_add(tax)
                    .map_err(|_| PayloadError::Invalid("orderItems.proceeds.breakdowns"))?,
                None => tax,
            });
        }
        let item_tax = item.tax.as_ref();
        channel_tax.reported |= item_tax.is_some()
            || item
                .proceeds
                .iter()
                .flat_map(|p| &p.breakdowns)
                .any(|b| b.kind.as_deref() == Some("TAX"));
        channel_tax.collected_by_marketplace |= item_tax
            .iter()
            .flat_map(|t| &t.tax_collections)
            .any(|c| c.model.as_deref() == Some("MARKETPLACE_FACILITATOR"));
        let scheme = item_tax
            .iter()
            .flat_map(|t| &t.tax_calculation_breakdowns)
            .find_map(|b| match b.reporting_scheme.as_deref() {
                Some("UOSS") => Some(rc_domain::ReportingScheme::Oss),
                Some("IOSS") => Some(rc_domain::ReportingScheme::Ioss),
                _ => None,
            });
        channel_tax.reporting_scheme = channel_tax.reporting_scheme.or(scheme);
        let product = item
            .product
            .as_ref()
            .ok_or(PayloadError::Missing("orderItems.product"))?;
        let sku = match (non_empty(&product.seller_sku), non_empty(&product.asin)) {
            (Some(sku), _) => Sku::parse(sku),
            (None, Some(asin)) => Sku::parse(&format!("amazon-asin-{asin}")),
            (None, None) => return Err(PayloadError::Missing("orderItems.product.sellerSku")),
        }
        .map_err(|_| PayloadError::Invalid("orderItems.product.sellerSku"))?;
        let quantity = item
            .quantity_ordered
            .ok_or(PayloadError::Missing("orderItems.quantityOrdered"))
            .and_then(|q| {
                Quantity::new(q).map_err(|_| PayloadError::Invalid("orderItems.quantityOrdered"))
            })?;
        let unit_price = match product.price.as_ref().and_then(|p| p.unit_price.as_ref()) {
            Some(price) => money(price, currency, "orderItems.product.price.unitPrice")?,
            None => Money::zero(currency),
        };
        lines.push(LineItem {
            charges,
            sku,
            quantity,
            unit_price,
            // Digits only (Amazon's order item ids are numeric strings); kept for confirmations.
            line_id: item
                .order_item_id
                .as_deref()
                .filter(|id| (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned),
        });
    }

    let breakdown = |kind: &str| -> Result<Money, PayloadError> {
        raw.proceeds
            .iter()
            .flat_map(|p| &p.breakdowns)
            .filter(|b| b.kind.as_deref() == Some(kind))
            .filter_map(|b| b.subtotal.as_ref())
            .try_fold(Money::zero(currency), |sum, m| {
                sum.checked_add(money(m, currency, "proceeds.breakdowns")?)
                    .map_err(|_| PayloadError::Invalid("proceeds.breakdowns"))
            })
    };
    let subtotal = lines.iter().try_fold(Money::zero(currency), |sum, line| {
        line.unit_price
            .checked_mul(line.quantity.get())
            .and_then(|l| sum.checked_add(l))
            .map_err(|_| PayloadError::Invalid("orderItems"))
    })?;
    let totals = OrderTotals {
        subtotal,
        tax: breakdown("TAX")?,
        shipping: breakdown("SHIPPING")?,
        total: match grand_total {
            Some(total) => money(total, currency, "proceeds.grandTotal")?,
            None => subtotal,
        },
    };

    channel_tax.shipping_tax = shipping_tax
        .map(|t| rc_domain::ChargedTax::new("TAX", None, t))
        .into_iter()
        .collect();

    let mut dropped = Vec::new();
    let delivery = raw
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref());
    let shipping_address = keep_or_drop(
        delivery.map(address),
        "recipient.deliveryAddress",
        &mut dropped,
    );
    let ship_to = shipping_address
        .as_ref()
        .map(|a| ShipToRegion::of(a.reveal(RevealPurpose::Sealing)));
    let buyer = raw.buyer.as_ref();
    let name = buyer.and_then(|b| non_empty(&b.buyer_name));
    let email = buyer.and_then(|b| non_empty(&b.buyer_email));
    let phone = delivery.and_then(|a| non_empty(&a.phone));
    let buyer = BuyerPii {
        name: optional_pii(name, "buyer.buyerName", BuyerName::parse, &mut dropped),
        email: optional_pii(email, "buyer.buyerEmail", Email::parse, &mut dropped),
        phone: optional_pii(
            phone,
            "recipient.deliveryAddress.phone",
            Phone::parse,
            &mut dropped,
        ),
        shipping_address,
        billing_address: None,
        // Amazon does not expose a stable buyer id to sellers.
        customer_id: None,
    };

    let status = match raw
        .fulfillment
        .as_ref()
        .and_then(|f| f.fulfillment_status.as_deref())
    {
        Some("CANCELLED") => OrderStatus::Cancelled,
        Some("SHIPPED") => OrderStatus::Shipped,
        _ => OrderStatus::Received,
    };
    let placed_at = timestamp(raw.created_time.as_deref(), "createdTime")?;
    Ok((
        Order {
            channel_tax,
            merchant: merchant.clone(),
            id,
            channel: Channel::Amazon,
            channel_reference: amazon_id.to_owned(),
            marketplace: raw
                .sales_channel
                .as_ref()
                .and_then(|c| c.marketplace_id.as_deref())
                .and_then(|m| rc_domain::MarketplaceId::parse(m).ok())
                .map(|m| m.as_str().to_owned()),
            status,
            placed_at,
            channel_updated_at: timestamp(raw.last_updated_time.as_deref(), "lastUpdatedTime")?,
            currency,
            lines,
            totals,
            ship_to,
            buyer,
        },
        dropped,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../fixtures/amazon-get-order.json");

    fn merchant() -> MerchantId {
        MerchantId::parse("m1").expect("id")
    }

    #[test]
    fn the_documented_example_parses_into_an_order() {
        let (order, dropped) = parse_get_order(&merchant(), EXAMPLE.as_bytes()).expect("parses");
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(order.id.as_str(), "amazon-202-1234567-8901234");
        assert_eq!(order.currency.code(), "GBP");
        assert_eq!(order.lines[0].sku.as_str(), "ECHO-DOT-4-UK-CHARCOAL-3PACK");
        assert_eq!(order.lines[0].quantity.get(), 3);
        assert_eq!(order.lines[0].unit_price.minor_units(), 2999);
        assert_eq!(order.totals.total.minor_units(), 10397);
        assert_eq!(order.totals.tax.minor_units(), 400);
        assert_eq!(order.totals.shipping.minor_units(), 1000);
        assert_eq!(order.status, OrderStatus::Shipped);
        let ship_to = order.ship_to.expect("ship to");
        assert_eq!(ship_to.country, "GB");
        let address = order.buyer.shipping_address.expect("address");
        let address = address.reveal(RevealPurpose::Verification);
        assert_eq!(address.line2.as_deref(), Some("Unit 4B"));
        assert!(
            order.buyer.email.is_some()
                && order.buyer.name.is_some()
                && order.buyer.phone.is_some()
        );
    }

    #[test]
    fn tax_is_kept_as_charged() {
        // The model's example: an item TAX breakdown of 3.00 on the item and 1.00 on shipping.
        let (order, _) = parse_get_order(&merchant(), EXAMPLE.as_bytes()).expect("parses");
        let tax = &order.lines[0].charges.tax;
        assert_eq!(
            (tax.len(), tax[0].amount.minor_units(), tax[0].rate_bp),
            (1, 300, None)
        );
        assert_eq!(order.channel_tax.shipping_tax[0].amount.minor_units(), 100);
        assert!(order.channel_tax.reported && !order.channel_tax.prices_include_tax);
        assert!(!order.channel_tax.collected_by_marketplace);

        // The sandbox's Turkish order: Amazon collects, through the IOSS.
        let ioss = include_str!("../../fixtures/amazon-get-order-ioss.json");
        let (order, _) = parse_get_order(&merchant(), ioss.as_bytes()).expect("parses");
        assert!(order.channel_tax.collected_by_marketplace);
        assert_eq!(
            order.channel_tax.reporting_scheme,
            Some(rc_domain::ReportingScheme::Ioss)
        );
        assert!(order.lines[0].charges.is_empty());

        // A US order whose item TAX has no detail: all of it is the item's.
        let us = include_str!("../../fixtures/amazon-get-order-us.json");
        let (order, _) = parse_get_order(&merchant(), us.as_bytes()).expect("parses");
        assert_eq!(order.lines[0].charges.tax[0].amount.minor_units(), 1_000);
        assert!(order.channel_tax.shipping_tax.is_empty());
    }

    #[test]
    fn a_discount_is_kept_as_its_size() {
        let body = br#"{"order": {"orderId": "1", "createdTime": "2026-01-02T00:00:00Z",
            "lastUpdatedTime": "2026-01-02T00:00:00Z",
            "orderItems": [{"orderItemId": "11", "quantityOrdered": 2,
              "product": {"sellerSku": "A", "price": {"unitPrice": {"amount": "10.00", "currencyCode": "EUR"}}},
              "proceeds": {"breakdowns": [
                {"type": "ITEM", "subtotal": {"amount": "20.00", "currencyCode": "EUR"}},
                {"type": "DISCOUNT", "subtotal": {"amount": "-2.50", "currencyCode": "EUR"}},
                {"type": "TAX", "subtotal": {"amount": "3.33", "currencyCode": "EUR"}}]},
              "tax": {"taxCalculationBreakdowns": [{"reportingScheme": "UOSS"}]}}]}}"#;
        let (order, _) = parse_get_order(&merchant(), body).expect("parses");
        let charges = &order.lines[0].charges;
        assert_eq!(charges.discount.map(|d| d.minor_units()), Some(250));
        assert_eq!(charges.tax[0].amount.minor_units(), 333);
        assert_eq!(
            order.channel_tax.reporting_scheme,
            Some(rc_domain::ReportingScheme::Oss)
        );
        // A tax in another currency than the order's is refused, by field name.
        let other = String::from_utf8_lossy(body).replace(
            r#""amount": "3.33", "currencyCode": "EUR""#,
            r#""amount": "3.33", "currencyCode": "USD""#,
        );
        let error = parse_get_order(&merchant(), other.as_bytes()).expect_err("refused");
        assert_eq!(error.reason(), "invalid_field");
    }

    #[test]
    fn structural_problems_are_reasons() {
        let cases = [
            ("{}", "missing_field"),
            (
                r#"{"order": {"orderId": "1", "orderItems": []}}"#,
                "no_line_items",
            ),
            ("nope", "malformed_json"),
        ];
        for (body, reason) in cases {
            let err = parse_get_order(&merchant(), body.as_bytes()).expect_err(body);
            assert_eq!(err.reason(), reason);
        }
        let mixed = EXAMPLE.replacen("\"currencyCode\": \"GBP\"", "\"currencyCode\": \"EUR\"", 1);
        assert!(parse_get_order(&merchant(), mixed.as_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_edits_never_panic(cut in 0usize..6000, byte in proptest::num::u8::ANY) {
            let mut body = EXAMPLE.as_bytes().to_vec();
            let at = cut % body.len();
            body[at] = byte;
            let _ = parse_get_order(&merchant(), &body);
        }
    }
}
