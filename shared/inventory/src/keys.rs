//! Where inventory lives in the data table. One partition per SKU holds its warehouses, its kit
//! definition and the kits it is part of, so everything about a SKU is one query.

use rc_domain::{MerchantId, OrderId, Sku, WarehouseId};
use rc_store::ItemKey;

pub fn sku_partition(merchant: &MerchantId, sku: &Sku) -> String {
    // Merchant ids have no '#': everything after the second '#' is the SKU, whatever it holds.
    format!("STOCK#{merchant}#{sku}", sku = sku.as_str())
}

pub fn stock(merchant: &MerchantId, sku: &Sku, warehouse: &WarehouseId) -> ItemKey {
    ItemKey::new(sku_partition(merchant, sku), format!("WH#{warehouse}"))
}

pub fn kit(merchant: &MerchantId, sku: &Sku) -> ItemKey {
    ItemKey::new(sku_partition(merchant, sku), "KIT")
}

/// In a component's partition: a kit it is part of (whose availability follows it).
pub fn part_of(merchant: &MerchantId, component: &Sku, kit: &Sku) -> ItemKey {
    ItemKey::new(
        sku_partition(merchant, component),
        format!("PARTOF#{}", kit.as_str()),
    )
}

/// Every SKU of a merchant, for the scheduled full reconciliation (no scan).
pub fn sku_list(merchant: &MerchantId) -> String {
    format!("SKUS#{merchant}")
}

pub fn sku_entry(merchant: &MerchantId, sku: &Sku) -> ItemKey {
    ItemKey::new(sku_list(merchant), sku.as_str())
}

pub fn reservation(merchant: &MerchantId, order: &OrderId) -> ItemKey {
    ItemKey::new(format!("M#{merchant}"), format!("RESV#{order}"))
}

pub fn ledger(merchant: &MerchantId) -> String {
    format!("LEDGER#{merchant}")
}

/// Orders backordered for want of this SKU, so new stock can retry them without a scan.
pub fn backorders(merchant: &MerchantId, sku: &Sku) -> String {
    format!("BACKORDER#{merchant}#{sku}", sku = sku.as_str())
}

pub fn backorder(merchant: &MerchantId, sku: &Sku, order: &OrderId) -> ItemKey {
    ItemKey::new(backorders(merchant, sku), order.as_str())
}

/// A merchant request's idempotency key (hashed: the client chooses it, we never store it).
pub fn idempotency(merchant: &MerchantId, key: &str) -> ItemKey {
    // FNV-1a 64 twice (different seeds): a stable, dependency-free 128-bit digest is plenty to
    // tell one client's keys apart within a day.
    let digest = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    ItemKey::new(
        format!("IDEMP#{merchant}"),
        format!(
            "{:016x}{:016x}",
            digest(0xcbf2_9ce4_8422_2325),
            digest(0x8422_2325_cbf2_9ce4)
        ),
    )
}
