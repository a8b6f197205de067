//! The audit trail of PII access: every time buyer data is opened for a person (a data-request
//! report), who opened it, for which purpose and which orders. Ids only, never the data itself.

use std::sync::Arc;

use rc_domain::{Clock, MerchantId};
use rc_store::{Item, ItemKey, PageToken, Store, Value};
use serde::Serialize;

use crate::RepoError;

fn partition(merchant: &MerchantId) -> String {
    format!("AUDIT#{merchant}")
}

/// One access, as listed to the merchant.
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
    /// When, in epoch milliseconds.
    pub at_ms: i64,
}

/// An access about to happen, as recorded (the time is the log's own).
pub struct PiiAccess<'a> {
    pub action: &'static str,
    pub purpose: &'static str,
    pub actor: &'a str,
    pub subject: &'a str,
    pub orders: &'a [String],
}

/// A cursor is a record's sort key: `<13-digit ms>#<12 hex digits>`.
fn is_cursor(token: &str) -> bool {
    token.split_once('#').is_some_and(|(ms, suffix)| {
        ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && suffix.len() == 12
            && suffix.bytes().all(|b| b.is_ascii_hexdigit())
    })
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
    pub async fn record(
        &self,
        merchant: &MerchantId,
        access: PiiAccess<'_>,
    ) -> Result<(), RepoError> {
        let at_ms = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let suffix = crate::random::random_hex::<6>()?;
        let orders =
            serde_json::to_string(access.orders).map_err(|_| RepoError::Corrupt("orders"))?;
        let item = Item::new(ItemKey::new(
            partition(merchant),
            format!("{at_ms:013}#{suffix}"),
        ))
        .with("action", Value::S(access.action.into()))
        .with("purpose", Value::S(access.purpose.into()))
        .with("actor", Value::S(access.actor.into()))
        .with("subject", Value::S(access.subject.into()))
        .with("orders", Value::S(orders));
        self.data.create(item).await?;
        Ok(())
    }

    /// The merchant's audit trail, oldest first, `limit` at a time after the cursor `after`
    /// (from a previous page); with the cursor to continue from when more remain. `None` for a
    /// cursor this log never gave out.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Option<(Vec<AuditEntry>, Option<String>)>, RepoError> {
        if after.is_some_and(|token| !is_cursor(token)) {
            return Ok(None);
        }
        let after = after.map(|token| PageToken(token.to_owned()));
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
        Ok(Some((items, page.next.map(|token| token.0))))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_cursors_the_log_gives_out_are_accepted() {
        let cases = [
            ("1795791600000#0a1b2c3d4e5f", true),
            ("1795791600000#0A1B2C3D4E5F", true),
            ("ORDER#x", false),
            ("1795791600000", false),
            ("1795791600000#0a1b", false),
            ("17957916000000#0a1b2c3d4e5f", false),
            ("", false),
        ];
        for (token, ok) in cases {
            assert_eq!(super::is_cursor(token), ok, "{token}");
        }
    }
}
