//! The order side of a purge: what PII an order holds, stripping it, and the operation that
//! removes the stripped item. The purger (rc-privacy) sequences these with key destruction,
//! registered copies and receipts.

use rc_domain::{MerchantId, OrderId, PiiRule};
use rc_store::{Item, ItemKey, StoreError, TxOp, Value};

use crate::orders::{SEALED_FIELDS, UPDATE_ATTEMPTS};
use crate::{OrderRepository, RepoError, keys};

/// One order's PII item as the purger sees it: names and clocks, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiRecord {
    pub version: u64,
    pub deadline: Option<i64>,
    pub rule: Option<PiiRule>,
    /// Sealed fields held (or, once stripped, the ones that were).
    pub fields: Vec<String>,
    /// The sealed attributes are already gone; only the purge's receipt is missing.
    pub stripped: bool,
}

fn fields_of(item: &Item) -> Vec<String> {
    if let Some(stripped) = item.string("stripped_fields") {
        return stripped
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
    }
    SEALED_FIELDS
        .iter()
        .filter(|f| item.bytes(f.as_str()).is_some())
        .map(|f| f.as_str().to_owned())
        .collect()
}

/// What stripping found and left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrippedPii {
    /// The sealed fields removed (now or by an earlier attempt).
    pub fields: Vec<String>,
    pub rule: Option<PiiRule>,
    pub deadline: Option<time::OffsetDateTime>,
    /// The stripped item's version, for the removal's condition; `None` when no item was found
    /// (already removed, or past its TTL).
    pub version: Option<u64>,
}

/// Parses a deadline index entry's key back into the order it belongs to.
pub fn order_of_pii_key(key: &ItemKey) -> Option<(MerchantId, OrderId)> {
    let merchant = key.pk.strip_prefix("M#")?;
    let order = key.sk.strip_prefix("PII#")?;
    Some((
        MerchantId::parse(merchant).ok()?,
        OrderId::parse(order).ok()?,
    ))
}

impl OrderRepository {
    /// The order's PII item, if it still exists (and is not past its TTL).
    pub async fn pii_record(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<PiiRecord>, RepoError> {
        let Some(item) = self.data.get(&keys::order_pii(merchant, order)).await? else {
            return Ok(None);
        };
        Ok(Some(PiiRecord {
            version: item.version,
            deadline: item.pii_deadline,
            rule: item.string("pii_rule").and_then(PiiRule::parse),
            fields: fields_of(&item),
            stripped: item.number("stripped_at").is_some(),
        }))
    }

    /// Strips the sealed attributes from the order's PII item and marks the order purged, in one
    /// transaction. The stripped item stays in the deadline index (same deadline) until the purge
    /// is receipted, so a crash after this step is finished by the next run. Idempotent; a
    /// missing order or PII item (half-deleted) is not an error.
    pub async fn strip_pii(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<StrippedPii, RepoError> {
        let now = self.clock.now().unix_timestamp();
        for _ in 0..UPDATE_ATTEMPTS {
            let pii = self.data.get(&keys::order_pii(merchant, order)).await?;
            let public = self.data.get(&keys::order(merchant, order)).await?;
            let mut result = StrippedPii {
                fields: pii.as_ref().map(fields_of).unwrap_or_default(),
                rule: pii
                    .as_ref()
                    .and_then(|p| p.string("pii_rule"))
                    .and_then(PiiRule::parse),
                deadline: pii
                    .as_ref()
                    .and_then(|p| p.pii_deadline)
                    .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d).ok()),
                version: pii.as_ref().map(|p| p.version),
            };
            let mut ops = Vec::with_capacity(2);
            if let Some(pii) = pii.filter(|p| p.number("stripped_at").is_none()) {
                // Every write bumps the version by one.
                result.version = Some(pii.version + 1);
                let mut stripped = Item::new(pii.key.clone())
                    .with("stripped_at", Value::N(now))
                    .with("stripped_fields", Value::S(result.fields.join(",")));
                for kept in ["pii_rule", "sealed_at"] {
                    if let Some(value) = pii.attrs.get(kept) {
                        stripped.set(kept, value.clone());
                    }
                }
                stripped.pii_deadline = pii.pii_deadline;
                stripped.expires_at = pii.expires_at;
                ops.push(TxOp::Replace {
                    item: stripped,
                    expected_version: pii.version,
                });
            }
            if let Some(public) = public.filter(|p| p.string("buyer_pii") != Some("purged")) {
                let version = public.version;
                let mut marked = public;
                marked.set("buyer_pii", Value::S("purged".into()));
                marked.set("pii_purged_at", Value::N(now));
                ops.push(TxOp::Replace {
                    item: marked,
                    expected_version: version,
                });
            }
            if ops.is_empty() {
                return Ok(result);
            }
            match self.data.transact(ops).await {
                Ok(()) => return Ok(result),
                // Changed concurrently (an update, another purger): look again.
                Err(StoreError::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::LostRace(
            "the order kept changing while being purged; the next run retries",
        ))
    }

    /// The PII item's key, for the purge's last step (deleting the stripped item).
    pub fn pii_item_key(merchant: &MerchantId, order: &OrderId) -> ItemKey {
        keys::order_pii(merchant, order)
    }
}
