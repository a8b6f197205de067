//! The stock ledger: every change to stock, with its reason and actor, written in the same
//! transaction as the change itself (a change without its entry, or an entry without its change,
//! cannot exist).

use std::sync::atomic::{AtomicU64, Ordering};

use rc_domain::{MerchantId, Sku, WarehouseId};
use rc_store::{Item, ItemKey, Value};
use serde::{Deserialize, Serialize};

use crate::{InventoryError, keys};

/// One stock item's change within an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    pub sku: Sku,
    pub warehouse: WarehouseId,
    pub on_hand: i64,
    pub reserved: i64,
}

/// A ledger entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub at: i64,
    /// `set`, `add`, `receive`, `return`, `reserve`, `release`, `consume`.
    pub kind: String,
    /// Why, in the actor's words (`"cycle count"`) or ours (`"order shopify-1 reserved"`).
    pub reason: String,
    /// Who: `merchant-api` (a merchant's key) or `order-processor`.
    pub actor: String,
    pub changes: Vec<StockChange>,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// The item recording `entry`, keyed by time (and a per-process nonce, so two entries in the same
/// millisecond never collide).
pub(crate) fn entry_item(
    merchant: &MerchantId,
    millis: i128,
    entry: &LedgerEntry,
) -> Result<Item, InventoryError> {
    let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
    let process = std::process::id();
    let key = ItemKey::new(
        keys::ledger(merchant),
        format!("{millis:013}#{process}#{nonce}"),
    );
    let body = serde_json::to_string(entry).map_err(|_| InventoryError::Corrupt("ledger entry"))?;
    Ok(Item::new(key).with("entry", Value::S(body)))
}

pub(crate) fn parse_entry(item: &Item) -> Result<LedgerEntry, InventoryError> {
    item.string("entry")
        .and_then(|body| serde_json::from_str(body).ok())
        .ok_or(InventoryError::Corrupt("ledger entry"))
}
