//! Sandbox orders: made-up buyers (still handled as PII), a small catalog.

const NAMES: [(&str, &str); 5] = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
];
/// The sandbox catalog: (SKU, price). The local host stocks and lists each one.
pub const CATALOG: [(&str, &str); 4] = [
    ("MUG-350-WHITE", "12.50"),
    ("TSHIRT-RED-M", "19.99"),
    ("POSTER-A2", "8.00"),
    ("NOTEBOOK-A5", "4.75"),
];

fn pick<T: Copy>(list: &[T], n: u64) -> T {
    list[(n as usize) % list.len()]
}

/// A Shopify `orders/create` body.
pub fn shopify_order(id: u64, n: u64) -> Vec<u8> {
    let (first, last) = pick(&NAMES, n);
    let (sku, price) = pick(&CATALOG, n);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2026-11-27T00:00:00Z".into());
    serde_json::json!({
        "id": id,
        "name": format!("#S{n}"),
        "email": format!("{}.{}@sandbox.example", first.to_lowercase(), last.to_lowercase()),
        "created_at": now, "updated_at": now, "currency": "USD",
        "subtotal_price": price, "total_price": price, "total_tax": "0.00",
        "customer": {"first_name": first, "last_name": last},
        "shipping_address": {
            "first_name": first, "last_name": last, "address1": format!("{n} Sandbox Street"),
            "city": "Springfield", "province_code": "IL", "zip": "62701", "country_code": "US"
        },
        "line_items": [{"id": n, "variant_id": n, "sku": sku, "quantity": 1, "price": price}]
    })
    .to_string()
    .into_bytes()
}

/// Seattle's combined sales tax (Washington 6.5 % + local), in basis points: what Amazon
/// collects there as marketplace facilitator.
const SEATTLE_SALES_TAX_BP: i64 = 1_035;

/// `"12.50"` plus `bp` basis points of it, half up: (the tax, the total), as decimal strings.
fn with_tax(price: &str, bp: i64) -> (String, String) {
    let cents: i64 = price.replace('.', "").parse().unwrap_or(0);
    let tax = (cents * bp + 5_000) / 10_000;
    let decimal = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    (decimal(tax), decimal(cents + tax))
}

/// An Amazon `getOrder` order object (Orders API v2026-01-01 shape), with the `PROCEEDS` and
/// `TAX` datasets as Amazon gives them for a US order: the sales tax it collects as marketplace
/// facilitator in the item's `TAX` breakdown and `taxCollections`.
pub fn amazon_order(order_id: &str, n: u64) -> serde_json::Value {
    let (first, last) = pick(&NAMES, n + 2);
    let (sku, price) = pick(&CATALOG, n + 1);
    let (tax, total) = with_tax(price, SEATTLE_SALES_TAX_BP);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2026-11-27T00:00:00Z".into());
    serde_json::json!({
        "orderId": order_id,
        "createdTime": now, "lastUpdatedTime": now,
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
        "buyer": {"buyerName": format!("{first} {last}"), "buyerEmail": format!("{n}@marketplace.sandbox.example")},
        "recipient": {"deliveryAddress": {
            "name": format!("{first} {last}"), "addressLine1": format!("{n} Prime Avenue"),
            "city": "Seattle", "stateOrRegion": "WA", "postalCode": "98109", "countryCode": "US",
            "phone": "+1 206 555 0100"
        }},
        "proceeds": {"grandTotal": {"amount": total, "currencyCode": "USD"}, "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": price, "currencyCode": "USD"}},
            {"type": "TAX", "subtotal": {"amount": tax, "currencyCode": "USD"}}
        ]},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [{
            "orderItemId": format!("{n}"), "quantityOrdered": 1,
            "product": {"sellerSku": sku, "price": {"unitPrice": {"amount": price, "currencyCode": "USD"}}},
            "proceeds": {"proceedsTotal": {"amount": total, "currencyCode": "USD"}, "breakdowns": [
                {"type": "ITEM", "subtotal": {"amount": price, "currencyCode": "USD"}},
                {"type": "TAX", "subtotal": {"amount": tax, "currencyCode": "USD"},
                 "detailedBreakdowns": [{"subtype": "ITEM", "value": {"amount": tax, "currencyCode": "USD"}}]}
            ]},
            "tax": {"taxCollections": [{"model": "MARKETPLACE_FACILITATOR", "responsibleParty": "Amazon.com Services LLC"}]}
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_tax_is_added_half_up() {
        assert_eq!(with_tax("12.00", 1_035), ("1.24".into(), "13.24".into()));
        assert_eq!(with_tax("0.50", 1_035), ("0.05".into(), "0.55".into()));
    }
}
