//! The REST `Order` payload of `orders/*` webhooks, parsed into a domain [`Order`].
//!
//! Structural problems (not JSON, no id, money that is not a decimal, a zero quantity) reject the
//! payload with a machine-readable reason. A malformed optional contact detail (an email without
//! `@`) does not: the order must not be lost for it, so that one detail is left out and reported
//! by name (never by value) in [`ParsedOrder::dropped`].

use rc_domain::{
    BuyerName, BuyerPii, Channel, ChannelCustomerId, Currency, Email, LineItem, MerchantId, Money,
    Order, OrderId, OrderStatus, OrderTotals, Phone, PostalAddress, Quantity, ShipToRegion, Sku,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{join_present, keep_or_drop, non_empty, optional_pii};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a payload is not an order. `reason()` is a stable machine-readable code; the `Display` text
/// names the field, never its value (values may be PII).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{0}` is invalid")]
    Invalid(&'static str),
    #[error("the order has no line items")]
    NoLines,
    #[error("the order has more than {0} line items")]
    TooManyLines(usize),
}

impl PayloadError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_json",
            Self::Missing(_) => "missing_field",
            Self::Invalid(_) => "invalid_field",
            Self::NoLines => "no_line_items",
            Self::TooManyLines(_) => "too_many_line_items",
        }
    }
}

/// An order line count far above real orders and low enough that one order always fits in one
/// store item.
pub const MAX_LINES: usize = 500;

#[derive(Deserialize)]
struct RawOrder {
    id: Option<u64>,
    name: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    currency: Option<String>,
    email: Option<String>,
    contact_email: Option<String>,
    phone: Option<String>,
    cancelled_at: Option<String>,
    // Values whose JSON type is checked after parsing, so a wrong type is a 422 naming the field
    // rather than a 400 for the whole body.
    subtotal_price: Option<Value>,
    total_price: Option<Value>,
    total_tax: Option<Value>,
    total_shipping_price_set: Option<RawPriceSet>,
    taxes_included: Option<bool>,
    #[serde(default)]
    line_items: Vec<RawLine>,
    #[serde(default)]
    shipping_lines: Vec<RawShippingLine>,
    customer: Option<RawCustomer>,
    shipping_address: Option<RawAddress>,
    billing_address: Option<RawAddress>,
}

#[derive(Deserialize)]
struct RawPriceSet {
    shop_money: Option<RawMoney>,
}

#[derive(Deserialize)]
struct RawMoney {
    amount: Option<Value>,
}

#[derive(Deserialize)]
struct RawLine {
    id: Option<u64>,
    variant_id: Option<u64>,
    sku: Option<String>,
    quantity: Option<Value>,
    price: Option<Value>,
    total_discount: Option<Value>,
    #[serde(default)]
    discount_allocations: Vec<RawDiscountAllocation>,
    #[serde(default)]
    tax_lines: Vec<RawTaxLine>,
}

#[derive(Deserialize)]
struct RawDiscountAllocation {
    amount: Option<Value>,
}

/// A `tax_lines` entry: `price` a decimal string, `rate` a JSON number (a fraction: 0.06),
/// `channel_liable` whether the channel that sold it remits it.
#[derive(Deserialize)]
struct RawTaxLine {
    title: Option<String>,
    price: Option<Value>,
    rate: Option<serde_json::Number>,
    channel_liable: Option<bool>,
}

#[derive(Deserialize)]
struct RawShippingLine {
    #[serde(default)]
    tax_lines: Vec<RawTaxLine>,
}

#[derive(Deserialize)]
struct RawCustomer {
    id: Option<serde_json::Value>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
struct RawAddress {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province_code: Option<String>,
    zip: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

/// A parsed order and the names of optional details that were malformed and left out.
#[derive(Debug)]
pub struct ParsedOrder {
    pub order: Order,
    pub dropped: Vec<&'static str>,
}

fn timestamp(raw: Option<&str>, field: &'static str) -> Result<OffsetDateTime, PayloadError> {
    let raw = raw.ok_or(PayloadError::Missing(field))?;
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| PayloadError::Invalid(field))
}

/// A decimal amount, which Shopify sends as a JSON string ("199.00"): anything else is invalid
/// (a JSON number could already have lost precision).
fn money(
    raw: &Option<Value>,
    currency: Currency,
    field: &'static str,
) -> Result<Money, PayloadError> {
    let raw = raw.as_ref().ok_or(PayloadError::Missing(field))?;
    let text = raw.as_str().ok_or(PayloadError::Invalid(field))?;
    Money::parse_decimal(text, currency).map_err(|_| PayloadError::Invalid(field))
}

fn address(raw: &RawAddress) -> Result<PostalAddress, rc_domain::PiiError> {
    let joined_name = join_present(non_empty(&raw.first_name), non_empty(&raw.last_name), " ");
    let name = non_empty(&raw.name).map(str::to_owned).or(joined_name);
    PostalAddress::parse(
        name.as_deref(),
        non_empty(&raw.company),
        raw.address1.as_deref().unwrap_or_default(),
        non_empty(&raw.address2),
        raw.city.as_deref().unwrap_or_default(),
        non_empty(&raw.province_code),
        non_empty(&raw.zip),
        raw.country_code.as_deref().unwrap_or_default(),
    )
}

/// Tax lines as charged; whether any says the channel is liable for it.
fn tax_lines(
    raw: &[RawTaxLine],
    currency: Currency,
    field: &'static str,
) -> Result<(Vec<rc_domain::ChargedTax>, bool), PayloadError> {
    let mut liable = false;
    let lines = raw
        .iter()
        .map(|t| {
            liable |= t.channel_liable == Some(true);
            let rate = match &t.rate {
                Some(rate) => Some(
                    rc_domain::fraction_to_bp(&rate.to_string())
                        .ok_or(PayloadError::Invalid(field))?,
                ),
                None => None,
            };
            let amount = money(&t.price, currency, field)?;
            Ok(rc_domain::ChargedTax::new(
                t.title.as_deref().unwrap_or_default(),
                rate,
                amount,
            ))
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    Ok((lines, liable))
}

/// A line's discount: its allocations when given, else `total_discount`.
fn discount(raw: &RawLine, currency: Currency) -> Result<Option<Money>, PayloadError> {
    const FIELD: &str = "line_items.discount_allocations";
    let total = if raw.discount_allocations.is_empty() {
        match &raw.total_discount {
            Some(_) => money(&raw.total_discount, currency, "line_items.total_discount")?,
            None => Money::zero(currency),
        }
    } else {
        raw.discount_allocations
            .iter()
            .try_fold(Money::zero(currency), |sum, a| {
                sum.checked_add(money(&a.amount, currency, FIELD)?)
                    .map_err(|_| PayloadError::Invalid(FIELD))
            })?
    };
    Ok((total.minor_units() > 0).then_some(total))
}

fn line(raw: &RawLine, currency: Currency) -> Result<LineItem, PayloadError> {
    // Shopify allows lines without a SKU (custom items, untracked variants); they still need a
    // stable identity, so the variant (or line) id stands in. Merchants map these in inventory.
    let sku = match (non_empty(&raw.sku), raw.variant_id, raw.id) {
        (Some(sku), _, _) => Sku::parse(sku),
        (None, Some(variant), _) => Sku::parse(&format!("shopify-variant-{variant}")),
        (None, None, Some(line)) => Sku::parse(&format!("shopify-line-{line}")),
        (None, None, None) => return Err(PayloadError::Missing("line_items.sku")),
    }
    .map_err(|_| PayloadError::Invalid("line_items.sku"))?;
    let quantity = raw
        .quantity
        .as_ref()
        .ok_or(PayloadError::Missing("line_items.quantity"))?
        .as_u64()
        .and_then(|q| u32::try_from(q).ok())
        .ok_or(PayloadError::Invalid("line_items.quantity"))
        .and_then(|q| Quantity::new(q).map_err(|_| PayloadError::Invalid("line_items.quantity")))?;
    Ok(LineItem {
        sku,
        quantity,
        unit_price: money(&raw.price, currency, "line_items.price")?,
        line_id: raw.id.map(|id| id.to_string()),
        charges: rc_domain::LineCharges {
            discount: discount(raw, currency)?,
            tax: tax_lines(&raw.tax_lines, currency, "line_items.tax_lines")?.0,
        },
    })
}

/// Parses an `orders/create` (or `orders/updated`) webhook body for `merchant`.
pub fn parse_order(merchant: &MerchantId, body: &[u8]) -> Result<ParsedOrder, PayloadError> {
    let raw: RawOrder =
        serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(describe(&e)))?;
    let shopify_id = raw.id.ok_or(PayloadError::Missing("id"))?;
    let id = OrderId::parse(&format!("shopify-{shopify_id}"))
        .map_err(|_| PayloadError::Invalid("id"))?;
    let currency = raw
        .currency
        .as_deref()
        .ok_or(PayloadError::Missing("currency"))
        .and_then(|c| Currency::parse(c).map_err(|_| PayloadError::Invalid("currency")))?;
    if raw.line_items.is_empty() {
        return Err(PayloadError::NoLines);
    }
    if raw.line_items.len() > MAX_LINES {
        return Err(PayloadError::TooManyLines(MAX_LINES));
    }
    let lines = raw
        .line_items
        .iter()
        .map(|l| line(l, currency))
        .collect::<Result<Vec<_>, _>>()?;
    let placed_at = timestamp(raw.created_at.as_deref(), "created_at")?;
    let channel_updated_at = match raw.updated_at.as_deref() {
        Some(_) => timestamp(raw.updated_at.as_deref(), "updated_at")?,
        None => placed_at,
    };
    let zero = Some(Value::String("0".into()));
    let shipping = raw
        .total_shipping_price_set
        .as_ref()
        .and_then(|set| set.shop_money.as_ref())
        .and_then(|m| m.amount.clone())
        .or(zero.clone());
    let totals = OrderTotals {
        subtotal: money(&raw.subtotal_price, currency, "subtotal_price")?,
        tax: money(&raw.total_tax.clone().or(zero), currency, "total_tax")?,
        shipping: money(&shipping, currency, "total_shipping_price_set")?,
        total: money(&raw.total_price, currency, "total_price")?,
    };

    // Who remits: a tax line the channel is liable for (Shopify's Shop channel collects US
    // sales tax itself since 2025) makes the marketplace the collector.
    let mut collected_by_marketplace = false;
    for line in &raw.line_items {
        collected_by_marketplace |= line
            .tax_lines
            .iter()
            .any(|t| t.channel_liable == Some(true));
    }
    let mut shipping_tax = Vec::new();
    for shipping in &raw.shipping_lines {
        let (lines, liable) = tax_lines(&shipping.tax_lines, currency, "shipping_lines.tax_lines")?;
        collected_by_marketplace |= liable;
        shipping_tax.extend(lines);
    }
    let channel_tax = rc_domain::ChannelTaxFacts {
        prices_include_tax: raw.taxes_included.unwrap_or(false),
        collected_by_marketplace,
        reporting_scheme: None,
        reported: raw.taxes_included.is_some()
            || raw.total_tax.is_some()
            || raw.line_items.iter().any(|l| !l.tax_lines.is_empty()),
        shipping_tax,
    };

    let mut dropped = Vec::new();
    let customer = raw.customer.as_ref();
    let email = non_empty(&raw.email)
        .or(non_empty(&raw.contact_email))
        .or(customer.and_then(|c| non_empty(&c.email)));
    let phone = non_empty(&raw.phone)
        .or(customer.and_then(|c| non_empty(&c.phone)))
        .or(raw
            .shipping_address
            .as_ref()
            .and_then(|a| non_empty(&a.phone)));
    let customer_name =
        customer.and_then(
            |c| match (non_empty(&c.first_name), non_empty(&c.last_name)) {
                (Some(first), Some(last)) => Some(format!("{first} {last}")),
                (one, other) => one.or(other).map(str::to_owned),
            },
        );
    let shipping_address = keep_or_drop(
        raw.shipping_address.as_ref().map(address),
        "shipping_address",
        &mut dropped,
    );
    let billing_address = keep_or_drop(
        raw.billing_address.as_ref().map(address),
        "billing_address",
        &mut dropped,
    );
    let ship_to = shipping_address
        .as_ref()
        .map(|a| ShipToRegion::of(a.reveal(rc_domain::RevealPurpose::Sealing)));
    let buyer = BuyerPii {
        name: optional_pii(
            customer_name.as_deref(),
            "customer.name",
            BuyerName::parse,
            &mut dropped,
        ),
        email: optional_pii(email, "email", Email::parse, &mut dropped),
        phone: optional_pii(phone, "phone", Phone::parse, &mut dropped),
        shipping_address,
        billing_address,
        customer_id: customer
            .and_then(|c| c.id.as_ref())
            .and_then(|id| match id {
                serde_json::Value::Number(n) => n.as_u64().map(|n| n.to_string()),
                serde_json::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .and_then(|id| {
                optional_pii(
                    Some(&id),
                    "customer.id",
                    ChannelCustomerId::parse,
                    &mut dropped,
                )
            }),
    };
    let status = if raw.cancelled_at.is_some() {
        OrderStatus::Cancelled
    } else {
        OrderStatus::Received
    };
    let channel_reference = non_empty(&raw.name)
        .map(str::to_owned)
        .unwrap_or_else(|| shopify_id.to_string());
    if channel_reference.chars().count() > 100 || channel_reference.chars().any(char::is_control) {
        return Err(PayloadError::Invalid("name"));
    }
    Ok(ParsedOrder {
        order: Order {
            channel_tax,
            merchant: merchant.clone(),
            id,
            channel: Channel::Shopify,
            channel_reference,
            marketplace: None,
            status,
            placed_at,
            channel_updated_at,
            currency,
            lines,
            totals,
            ship_to,
            buyer,
        },
        dropped,
    })
}

pub(crate) fn describe(e: &serde_json::Error) -> String {
    crate::describe_json_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::RevealPurpose;

    pub(crate) const SAMPLE: &str = include_str!("../../fixtures/shopify-orders-create.json");

    fn merchant() -> MerchantId {
        MerchantId::parse("m1").expect("valid")
    }

    #[test]
    fn tax_lines_and_discounts_are_kept_as_charged() {
        let body = include_str!("../../fixtures/shopify-orders-create-gst.json");
        let parsed = parse_order(&merchant(), body.as_bytes()).expect("parses");
        let order = parsed.order;
        let line = &order.lines[0];
        assert_eq!(line.charges.discount.map(|d| d.minor_units()), Some(11_800));
        let charged: Vec<(&str, Option<u32>, i64)> = line
            .charges
            .tax
            .iter()
            .map(|t| (t.title.as_str(), t.rate_bp, t.amount.minor_units()))
            .collect();
        assert_eq!(
            charged,
            vec![("CGST", Some(900), 17_100), ("SGST", Some(900), 17_100)]
        );
        let facts = &order.channel_tax;
        assert!(facts.prices_include_tax && facts.reported && !facts.collected_by_marketplace);
        assert_eq!(facts.shipping_tax.len(), 2);
        assert_eq!(facts.shipping_tax[0].amount.minor_units(), 900);

        // The Shop channel remits US sales tax itself: `channel_liable`.
        let liable = body.replace(r#""channel_liable": false"#, r#""channel_liable": true"#);
        let order = parse_order(&merchant(), liable.as_bytes())
            .expect("parses")
            .order;
        assert!(order.channel_tax.collected_by_marketplace);
        // A rate that is not a fraction of at most 1, or a tax that is not a decimal string,
        // is refused by field name.
        for (from, to) in [
            (r#""rate": 0.09"#, r#""rate": 9"#),
            (r#""price": "171.00""#, r#""price": 171"#),
        ] {
            let bad = body.replacen(from, to, 1);
            let error = parse_order(&merchant(), bad.as_bytes()).expect_err("refused");
            assert_eq!(
                (error.reason(), error.to_string().contains("tax_lines")),
                ("invalid_field", true)
            );
        }
    }

    #[test]
    fn the_documented_sample_parses_into_an_order() {
        let parsed = parse_order(&merchant(), SAMPLE.as_bytes()).expect("parses");
        let order = parsed.order;
        assert_eq!(order.id.as_str(), "shopify-820982911946154508");
        assert_eq!(order.channel_reference, "#9999");
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].sku.as_str(), "IPOD2008PINK");
        assert_eq!(order.lines[0].unit_price.minor_units(), 19900);
        assert_eq!(order.lines[1].sku.as_str(), "shopify-variant-808950810");
        assert_eq!(order.totals.total.minor_units(), 40300);
        assert_eq!(order.totals.shipping.minor_units(), 1000);
        let ship_to = order.ship_to.expect("ship to");
        assert_eq!(
            (ship_to.country.as_str(), ship_to.region.as_deref()),
            ("US", Some("KY"))
        );
        let email = order.buyer.email.expect("email");
        assert_eq!(
            email.reveal(RevealPurpose::Verification).as_str(),
            "jon@example.com"
        );
        assert!(order.buyer.shipping_address.is_some());
        assert!(parsed.dropped.is_empty(), "{:?}", parsed.dropped);
    }

    #[test]
    fn structural_problems_are_reasons_not_panics() {
        let cases: [(&str, &str); 7] = [
            ("not json", "malformed_json"),
            (r#"{"id": "x"}"#, "malformed_json"),
            (r#"{"currency": "USD"}"#, "missing_field"),
            (
                r#"{"id": 1, "currency": "usd", "line_items": []}"#,
                "invalid_field",
            ),
            (
                r#"{"id": 1, "currency": "USD", "line_items": []}"#,
                "no_line_items",
            ),
            (
                r#"{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": 0, "price": "1.00"}]}"#,
                "invalid_field",
            ),
            (
                r#"{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": 1, "price": "1.001"}]}"#,
                "invalid_field",
            ),
        ];
        for (body, reason) in cases {
            let err = parse_order(&merchant(), body.as_bytes()).expect_err(body);
            assert_eq!(err.reason(), reason, "{body}: {err}");
        }
    }

    #[test]
    fn error_messages_never_carry_values() {
        let body = SAMPLE.replace("\"199.00\"", "\"SECRET-CANARY-VALUE\"");
        let err = parse_order(&merchant(), body.as_bytes()).expect_err("bad price");
        assert!(!err.to_string().contains("CANARY"), "{err}");
        let body = SAMPLE.replace("\"jon@example.com\"", "12345");
        let err = parse_order(&merchant(), body.as_bytes()).expect_err("bad type");
        assert!(!err.to_string().contains("12345"), "{err}");
    }

    #[test]
    fn a_malformed_contact_detail_is_dropped_by_name_not_the_order() {
        let body = SAMPLE.replace("\"jon@example.com\"", "\"not-an-email\"");
        let parsed = parse_order(&merchant(), body.as_bytes()).expect("parses");
        assert!(parsed.order.buyer.email.is_none());
        assert_eq!(parsed.dropped, vec!["email"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_order(&merchant(), &body);
        }

        #[test]
        fn arbitrary_edits_of_the_sample_never_panic(cut in 0usize..3000, byte in proptest::num::u8::ANY) {
            let mut body = SAMPLE.as_bytes().to_vec();
            if !body.is_empty() {
                let at = cut % body.len();
                body[at] = byte;
                body.truncate(at + (cut % 7) * 100);
            }
            let _ = parse_order(&merchant(), &body);
        }
    }
}
