//! DynamoDB's hard limits, enforced before a request is sent so both adapters fail the same way
//! (and so the embedded store never accepts what production would refuse).

use crate::{Item, StoreError, Value};

/// Items per `BatchWriteItem` request.
pub const MAX_BATCH_WRITE: usize = 25;
/// Operations per `TransactWriteItems` request.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Bytes per item, attribute names included.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Bytes of all items in one `TransactWriteItems` request together.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// The size DynamoDB bills and limits: attribute name lengths plus value sizes, numbers taking
/// about one byte per two significant digits plus one.
pub fn item_size(item: &Item) -> usize {
    let number = |n: i64| n.unsigned_abs().to_string().len().div_ceil(2) + 1;
    let mut size = "pk".len() + item.key.pk.len() + "sk".len() + item.key.sk.len();
    size += "v".len() + number(i64::try_from(item.version).unwrap_or(i64::MAX));
    if let Some(ttl) = item.expires_at {
        size += "ttl".len() + number(ttl);
    }
    if let Some(due) = item.pii_deadline {
        size += "due_shard".len() + 2 + "due_at".len() + number(due);
    }
    for (name, value) in &item.attrs {
        size += name.len()
            + match value {
                Value::S(s) => s.len(),
                Value::N(n) => number(*n),
                Value::B(b) => b.len(),
                Value::Bool(_) => 1,
            };
    }
    size
}

pub fn check_item_size(item: &Item) -> Result<(), StoreError> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            size,
            max: MAX_ITEM_BYTES,
        });
    }
    Ok(())
}
