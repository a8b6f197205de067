//! Where tax data lives. Classes, SKU assignments and settings are the merchant's configuration,
//! in its partition (account cancellation removes them). Tax records are in a partition of their
//! own, sorted by the order's date, so a report reads one date range of records and nothing
//! else (never an order, never a PII item), and so they outlive the merchant's partition. Beside
//! the records, each day's totals (`T#<day>#<shard>`): what the report reads.

use rc_domain::{MerchantId, OrderId, Sku};
use rc_orders::keys::merchant_partition;
use rc_store::ItemKey;
use time::Date;

pub fn class(merchant: &MerchantId, id: &str) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("TAXCLASS#{id}"))
}

pub const CLASS_PREFIX: &str = "TAXCLASS#";

pub fn sku_class(merchant: &MerchantId, sku: &Sku) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("TAXSKU#{sku}"))
}

pub fn settings(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), "TAX#SETTINGS")
}

pub fn records_partition(merchant: &MerchantId) -> String {
    format!("TAXREC#{merchant}")
}

/// `D#2026-11-30#<order>`: sorted by day, so a month is one key prefix.
pub fn record(merchant: &MerchantId, day: Date, order: &OrderId) -> ItemKey {
    ItemKey::new(
        records_partition(merchant),
        format!("D#{}#{order}", iso(day)),
    )
}

/// `T#2026-11-30#3`: one of a day's totals items (see [`crate::TOTAL_SHARDS`]).
pub fn day_totals(merchant: &MerchantId, day: Date, shard: u64) -> ItemKey {
    ItemKey::new(
        records_partition(merchant),
        format!("T#{}#{shard}", iso(day)),
    )
}

pub fn iso(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}
