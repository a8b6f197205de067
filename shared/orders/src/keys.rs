//! Where things live in the data table. One partition per merchant holds its orders, their PII
//! items and pointers to everything else it owns, so cancelling an account is one partition walk.

use rc_domain::{MerchantId, OrderId, OrderStatus};
use rc_store::ItemKey;

pub fn merchant_partition(merchant: &MerchantId) -> String {
    format!("M#{merchant}")
}

pub fn order(merchant: &MerchantId, order: &OrderId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("ORDER#{order}"))
}

/// The order's sealed PII lives in its own item: it alone carries the TTL and the deadline, so
/// deleting it never touches the anonymized order.
pub fn order_pii(merchant: &MerchantId, order: &OrderId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("PII#{order}"))
}

/// The order's entry in the merchant's "needs action" index while it is backordered or needs
/// attention: written and removed in the same transaction as the status.
pub fn order_attention(merchant: &MerchantId, order: &OrderId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("ATTN#{order}"))
}

/// The order's entry in the merchant's by-status index, `ST#<status>#<order id>`: moved in the
/// same transaction as the status. Order ids start with their channel (`shopify-…`,
/// `amazon-…`), so one status of one channel is a prefix of it too.
pub fn order_by_status(merchant: &MerchantId, status: OrderStatus, order: &OrderId) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("{}{order}", status_prefix(status)),
    )
}

pub fn status_prefix(status: OrderStatus) -> String {
    format!("ST#{}#", status.as_str())
}

pub fn merchant_connection_pointer(
    merchant: &MerchantId,
    channel: &str,
    reference: &str,
) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("CONN#{channel}#{reference}"),
    )
}

pub fn api_key(hash_hex: &str) -> ItemKey {
    ItemKey::new(format!("APIKEY#{hash_hex}"), "APIKEY")
}

/// The list of a merchant's API keys (outside the merchant's partition: keys are closed last,
/// after the partition is emptied).
pub fn api_key_list(merchant: &MerchantId) -> String {
    format!("APIKEYS#{merchant}")
}

pub fn api_key_pointer(merchant: &MerchantId, hash_hex: &str) -> ItemKey {
    ItemKey::new(api_key_list(merchant), format!("KEY#{hash_hex}"))
}

pub fn delivery(channel: &str, source: &str, delivery_id: &str) -> ItemKey {
    ItemKey::new(
        format!("DELIVERY#{channel}#{source}"),
        format!("ID#{delivery_id}"),
    )
}
