//! The audit trail of PII access: every time buyer data is opened for a person (a data-request
//! report), who opened it, for which purpose and which orders. Ids only, never the data itself.

use std::sync::Arc;

use rc_domain::{Clock, MerchantId};
use rc_store::{Item, ItemKey, Page, PageToken, Store, Value};
use serde::Serialize;

use crate::RepoError;

fn partition(merchant: &MerchantId) -> String {
    format!("AUDIT#{merchant}")
}

/// One access, as recorded and as listed to the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// What was done (`pii_reveal`).
    pub action: String,
    /// Why (`data_subject_report`).
    pub purpose: String,
    /// Who: the API key's id (a prefix of its hash, never the key).
    pub actor: String,
    /// What it was about (the privacy request id).
    pub subject: String,
    /// The orders whose data was opened.
    pub orders: Vec<String>,
    /// When, in epoch milliseconds (filled in when recorded).
    pub at_ms: i64,
}

pub struct AuditLog {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl AuditLog {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Records an access. Written before the data is returned: no record, no reveal.
    pub async fn record(&self, merchant: &MerchantId, entry: AuditEntry) -> Result<(), RepoError> {
        let at_ms = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let mut random = [0u8; 6];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| RepoError::Corrupt("random source"))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let orders =
            serde_json::to_string(&entry.orders).map_err(|_| RepoError::Corrupt("orders"))?;
        let item = Item::new(ItemKey::new(
            partition(merchant),
            format!("{at_ms:013}#{suffix}"),
        ))
        .with("action", Value::S(entry.action))
        .with("purpose", Value::S(entry.purpose))
        .with("actor", Value::S(entry.actor))
        .with("subject", Value::S(entry.subject))
        .with("orders", Value::S(orders));
        self.data.create(item).await?;
        Ok(())
    }

    /// The merchant's audit trail, oldest first, a page at a time.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<AuditEntry>, RepoError> {
        let page = self
            .data
            .query_partition(&partition(merchant), "", limit, after)
            .await?;
        let items = page
            .items
            .iter()
            .map(|item| {
                let text = |name| item.string(name).unwrap_or_default().to_owned();
                Ok(AuditEntry {
                    action: text("action"),
                    purpose: text("purpose"),
                    actor: text("actor"),
                    subject: text("subject"),
                    orders: item
                        .string("orders")
                        .and_then(|o| serde_json::from_str(o).ok())
                        .ok_or(RepoError::Corrupt("audit orders"))?,
                    at_ms: item
                        .key
                        .sk
                        .split('#')
                        .next()
                        .and_then(|ms| ms.parse().ok())
                        .ok_or(RepoError::Corrupt("audit time"))?,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(Page {
            items,
            next: page.next,
        })
    }
}
