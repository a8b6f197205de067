//! The rows of each export kind: their columns, and a record turned into cells. PII-free by
//! default — our ids, channel ids, SKUs, quantities, money, statuses, dates, ship-to country and
//! region; the buyer's columns exist only in a PII export, and are filled from data opened for
//! the export's named purpose by the caller (this module never opens anything).

use rc_domain::{BuyerPii, LineItem, Money, OrderTotals, RevealPurpose, ShipToRegion};

use crate::Cell;

/// The orders export: one row per order line.
pub const ORDER_COLUMNS: [&str; 19] = [
    "order_id",
    "channel",
    "channel_reference",
    "marketplace",
    "status",
    "placed_at",
    "currency",
    "line",
    "sku",
    "quantity",
    "unit_price",
    "channel_line_id",
    "ship_to_country",
    "ship_to_region",
    "order_subtotal",
    "order_tax",
    "order_shipping",
    "order_total",
    "buyer_data",
];

/// The buyer's columns, appended in a PII export.
pub const ORDER_PII_COLUMNS: [&str; 10] = [
    "buyer_name",
    "buyer_email",
    "buyer_phone",
    "ship_to_name",
    "ship_to_company",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_postal_code",
    "ship_to_region_full",
];

/// An amount as exact decimal digits in its currency's minor units (`12.50`, `1200` for JPY).
pub fn decimal(money: &Money) -> String {
    let exponent = money.currency().exponent();
    let minor = money.minor_units();
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(exponent);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = exponent as usize
    )
}

/// The fields of an order's public view an orders export needs (the caller reads the view;
/// this module depends on no repository).
pub struct OrderRow<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub channel_reference: &'a str,
    pub marketplace: Option<&'a str>,
    pub status: &'a str,
    /// RFC 3339.
    pub placed_at: &'a str,
    pub currency: &'a str,
    pub lines: &'a [LineItem],
    pub totals: &'a OrderTotals,
    pub ship_to: Option<&'a ShipToRegion>,
    /// `sealed` or `purged`.
    pub buyer_data: &'a str,
}

/// One order's rows as cells, ready for a [`crate::RowWriter`].
pub fn order_cells(order: &OrderRow<'_>, buyer: Option<&BuyerPii>) -> Vec<Vec<Cell>> {
    let text = |value: &str| Cell::Text(value.to_owned());
    let optional = |value: Option<&str>| value.map_or(Cell::Empty, |v| Cell::Text(v.to_owned()));
    order
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut cells = vec![
                text(order.id),
                text(order.channel),
                text(order.channel_reference),
                optional(order.marketplace),
                text(order.status),
                text(order.placed_at),
                text(order.currency),
                Cell::Number((i + 1).to_string()),
                text(line.sku.as_str()),
                Cell::Number(line.quantity.get().to_string()),
                Cell::Number(decimal(&line.unit_price)),
                optional(line.line_id.as_deref()),
                optional(order.ship_to.map(|s| s.country.as_str())),
                optional(order.ship_to.and_then(|s| s.region.as_deref())),
                Cell::Number(decimal(&order.totals.subtotal)),
                Cell::Number(decimal(&order.totals.tax)),
                Cell::Number(decimal(&order.totals.shipping)),
                Cell::Number(decimal(&order.totals.total)),
                text(order.buyer_data),
            ];
            if let Some(buyer) = buyer {
                cells.extend(buyer_cells(buyer));
            }
            cells
        })
        .collect()
}

/// The buyer's cells, opened for the export (`RevealPurpose::DataExport`).
fn buyer_cells(buyer: &BuyerPii) -> Vec<Cell> {
    fn optional(value: Option<&str>) -> Cell {
        value.map_or(Cell::Empty, |v| Cell::Text(v.to_owned()))
    }
    let purpose = RevealPurpose::DataExport;
    let address = buyer.shipping_address.as_ref().map(|a| a.reveal(purpose));
    vec![
        optional(buyer.name.as_ref().map(|n| n.reveal(purpose).as_str())),
        optional(buyer.email.as_ref().map(|e| e.reveal(purpose).as_str())),
        optional(buyer.phone.as_ref().map(|p| p.reveal(purpose).as_str())),
        optional(address.and_then(|a| a.name.as_deref())),
        optional(address.and_then(|a| a.company.as_deref())),
        optional(address.map(|a| a.line1.as_str())),
        optional(address.and_then(|a| a.line2.as_deref())),
        optional(address.map(|a| a.city.as_str())),
        optional(address.and_then(|a| a.postal_code.as_deref())),
        optional(address.and_then(|a| a.region.as_deref())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::{Currency, Pii, Quantity, Sku};

    fn money(minor: i64, code: &str) -> Money {
        Money::from_minor(minor, Currency::parse(code).expect("currency")).expect("money")
    }

    #[test]
    fn amounts_are_exact_decimals_in_the_currencys_units() {
        let cases = [
            (1250, "EUR", "12.50"),
            (5, "USD", "0.05"),
            (0, "INR", "0.00"),
            (1200, "JPY", "1200"),
            (123_456, "BHD", "123.456"),
        ];
        for (minor, code, expected) in cases {
            assert_eq!(decimal(&money(minor, code)), expected, "{minor} {code}");
        }
    }

    fn line(sku: &str, quantity: u32, minor: i64) -> LineItem {
        LineItem {
            sku: Sku::parse(sku).expect("sku"),
            quantity: Quantity::new(quantity).expect("quantity"),
            unit_price: money(minor, "EUR"),
            line_id: None,
            charges: Default::default(),
        }
    }

    #[test]
    fn an_order_is_one_row_per_line_and_pii_only_when_given() {
        let lines = [line("CUP-1", 2, 1250), line("=SUM(A1)", 1, 99)];
        let totals = OrderTotals {
            subtotal: money(2599, "EUR"),
            tax: money(0, "EUR"),
            shipping: money(490, "EUR"),
            total: money(3089, "EUR"),
        };
        let ship_to = ShipToRegion {
            country: "DE".into(),
            region: None,
        };
        let order = OrderRow {
            id: "shopify-1",
            channel: "shopify",
            channel_reference: "1",
            marketplace: None,
            status: "shipped",
            placed_at: "2026-11-21T00:00:00Z",
            currency: "EUR",
            lines: &lines,
            totals: &totals,
            ship_to: Some(&ship_to),
            buyer_data: "sealed",
        };
        let rows = order_cells(&order, None);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == ORDER_COLUMNS.len()));
        assert_eq!(rows[0][7], Cell::Number("1".into()));
        assert_eq!(rows[0][9], Cell::Number("2".into()));
        assert_eq!(rows[0][10], Cell::Number("12.50".into()));
        assert_eq!(
            rows[1][8],
            Cell::Text("=SUM(A1)".into()),
            "neutralized when written"
        );
        assert_eq!(rows[0][12], Cell::Text("DE".into()));
        assert_eq!(rows[0][13], Cell::Empty);

        let buyer = BuyerPii {
            name: None,
            email: Some(Pii::new(
                rc_domain::Email::parse("a@b.example").expect("email"),
            )),
            phone: None,
            shipping_address: None,
            billing_address: None,
            customer_id: None,
        };
        let rows = order_cells(&order, Some(&buyer));
        assert!(
            rows.iter()
                .all(|r| r.len() == ORDER_COLUMNS.len() + ORDER_PII_COLUMNS.len())
        );
        assert_eq!(
            rows[0][ORDER_COLUMNS.len() + 1],
            Cell::Text("a@b.example".into())
        );
    }
}
