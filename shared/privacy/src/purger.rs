//! The purger: finds orders whose PII deadline has passed through the deadline index (never a
//! scan) and purges each one, in an order that is safe to interrupt anywhere:
//!
//! 1. destroy the order's data key — from here on every copy of its sealed values, backups
//!    included, is unreadable;
//! 2. strip the sealed attributes from the PII item and mark the order purged (one
//!    transaction; the item stays in the deadline index);
//! 3. erase every registered copy ([`crate::PiiCopies`]);
//! 4. append the order's receipt, with a once-per-order marker in the same transaction (so a
//!    repeated or concurrent purge never doubles it);
//! 5. delete the stripped PII item, which takes the order out of the deadline index.
//!
//! A crash before step 5 leaves the order due, and the next run repeats the (idempotent) steps.
//! Work per run is bounded; what is left is reported and taken by the next run.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{Clock, MerchantId, OrderId, PiiRule};
use rc_orders::{OrderRepository, order_of_pii_key};
use rc_store::{DeadlineIndex, ItemWriter, PageToken, Store};
use rc_vault::{KeySubject, Vault};
use serde::Serialize;
use time::OffsetDateTime;

use crate::receipts::{
    RECEIPTS_PER_TRANSACTION, ReceiptDraft, ReceiptScope, Removal, once_per_subject,
};
use crate::{PiiCopies, PrivacyError, ReceiptLedger};

/// How much one run may do.
#[derive(Debug, Clone, Copy)]
pub struct PurgeLimits {
    /// Orders purged (or, in a dry run, listed) at most.
    pub max_orders: usize,
    /// Orders read from the deadline index per round trip.
    pub page: usize,
}

impl Default for PurgeLimits {
    fn default() -> Self {
        // 240,000 purges a day; on DynamoDB (~4 sequential round trips per order) a run of this
        // size takes ~8 minutes, within the function's 15-minute limit (see BENCHMARKS.md).
        Self {
            max_orders: 10_000,
            page: 200,
        }
    }
}

/// An order found due (what a dry run lists).
#[derive(Debug, Clone, Serialize)]
pub struct DueOrder {
    pub merchant: String,
    pub order: String,
    #[serde(with = "time::serde::rfc3339")]
    pub deadline: OffsetDateTime,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    /// Due orders looked at.
    pub due: u64,
    /// Orders purged by this run (receipt written).
    pub purged: u64,
    /// Orders another run finished first.
    pub already_done: u64,
    /// Orders that failed and stay due (ids only), with the reason.
    pub failed: Vec<(String, String)>,
    /// The run stopped at its limit with more due: the next run continues.
    pub more_due: bool,
    /// In a dry run: what would be purged.
    pub would_purge: Vec<DueOrder>,
}

/// Progress, after each page.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PurgeProgress {
    pub due: u64,
    pub purged: u64,
    pub failed: u64,
}

/// An order whose PII is gone but whose receipt is not yet written.
struct Stripped {
    order: OrderId,
    draft: ReceiptDraft,
}

pub struct Purger {
    data: Arc<dyn DeadlineIndex>,
    data_writer: Arc<dyn ItemWriter>,
    orders: Arc<OrderRepository>,
    vault: Arc<Vault>,
    copies: Arc<PiiCopies>,
    ledger: Arc<ReceiptLedger>,
    clock: Arc<dyn Clock>,
}

impl Purger {
    pub fn new(
        data: Arc<dyn Store>,
        orders: Arc<OrderRepository>,
        vault: Arc<Vault>,
        copies: Arc<PiiCopies>,
        ledger: Arc<ReceiptLedger>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            data: data.clone(),
            data_writer: data,
            orders,
            vault,
            copies,
            ledger,
            clock,
        }
    }

    /// Purges every order due now, within `limits`. `progress` is called after each page.
    pub async fn run(
        &self,
        limits: PurgeLimits,
        dry_run: bool,
        progress: &mut (dyn FnMut(PurgeProgress) + Send),
    ) -> Result<PurgeReport, PrivacyError> {
        let now = self.clock.now().unix_timestamp();
        let mut report = PurgeReport {
            dry_run,
            ..PurgeReport::default()
        };
        let mut after: Option<PageToken> = None;
        loop {
            let room = limits.max_orders - report.due as usize;
            if room == 0 {
                report.more_due = self.data.due(now, 1, after).await?.items.len() == 1;
                break;
            }
            let page = self
                .data
                .due(now, limits.page.min(room).max(1), after)
                .await?;
            let mut by_merchant: BTreeMap<MerchantId, Vec<Stripped>> = BTreeMap::new();
            for due in &page.items {
                report.due += 1;
                let Some((merchant, order)) = order_of_pii_key(&due.key) else {
                    report
                        .failed
                        .push((due.key.sk.clone(), "not an order's PII item".into()));
                    continue;
                };
                let deadline = OffsetDateTime::from_unix_timestamp(due.pii_deadline)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                if dry_run {
                    report.would_purge.push(DueOrder {
                        merchant: merchant.to_string(),
                        order: order.to_string(),
                        deadline,
                    });
                    continue;
                }
                match self
                    .strip_order(&merchant, &order, None, Some(deadline))
                    .await
                {
                    Ok(stripped) => by_merchant.entry(merchant).or_default().push(stripped),
                    Err(error) => {
                        tracing::warn!(%merchant, %order, %error, "purge failed; the order stays due");
                        report.failed.push((order.to_string(), error.to_string()));
                    }
                }
            }
            for (merchant, stripped) in by_merchant {
                let (purged, done) = self.receipt(&merchant, stripped).await?;
                report.purged += purged;
                report.already_done += done;
            }
            progress(PurgeProgress {
                due: report.due,
                purged: report.purged,
                failed: report.failed.len() as u64,
            });
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        Ok(report)
    }

    /// Purges one order now (a customer's redaction request), whatever its deadline. Returns
    /// whether this call wrote the receipt.
    pub async fn purge_now(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        rule: PiiRule,
    ) -> Result<bool, PrivacyError> {
        if self.orders.pii_record(merchant, order).await?.is_none() {
            // Nothing held (never stored, or already purged and receipted).
            return Ok(false);
        }
        let stripped = self.strip_order(merchant, order, Some(rule), None).await?;
        let (purged, _) = self.receipt(merchant, vec![stripped]).await?;
        Ok(purged == 1)
    }

    /// Steps 1–3 for one order.
    async fn strip_order(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        rule: Option<PiiRule>,
        deadline: Option<OffsetDateTime>,
    ) -> Result<Stripped, PrivacyError> {
        self.vault
            .destroy_subject_key(merchant, &KeySubject::order(order))
            .await?;
        let stripped = self.orders.strip_pii(merchant, order).await?;
        let copies = self.copies.erase_order(merchant, order).await?;
        let mut removed = vec![Removal {
            store: "keys".into(),
            what: "order data key".into(),
            count: 1,
        }];
        if !stripped.fields.is_empty() {
            removed.push(Removal {
                store: "data".into(),
                what: format!("sealed fields: {}", stripped.fields.join(",")),
                count: stripped.fields.len() as u64,
            });
        }
        removed.extend(copies);
        Ok(Stripped {
            order: order.clone(),
            draft: ReceiptDraft {
                scope: ReceiptScope::Order,
                subject: order.to_string(),
                rule: rule.or(stripped.rule).unwrap_or(PiiRule::UnshippedLimit),
                deadline: deadline.or(stripped.deadline),
                removed,
            },
        })
    }

    /// Steps 4 and 5 for a merchant's stripped orders, in chunks: (written, already done).
    async fn receipt(
        &self,
        merchant: &MerchantId,
        stripped: Vec<Stripped>,
    ) -> Result<(u64, u64), PrivacyError> {
        let (mut written, mut skipped) = (0, 0);
        let mut rest = stripped;
        while !rest.is_empty() {
            let chunk: Vec<Stripped> = rest
                .drain(..rest.len().min(RECEIPTS_PER_TRANSACTION))
                .collect();
            let guards = chunk
                .iter()
                .map(|s| once_per_subject(merchant, s.order.as_str()))
                .collect();
            let removals = chunk
                .iter()
                .map(|s| OrderRepository::pii_item_key(merchant, &s.order))
                .collect();
            let drafts = chunk.into_iter().map(|s| s.draft).collect();
            let appended = self.ledger.append(merchant, drafts, guards).await?;
            written += appended.receipts.len() as u64;
            skipped += appended.skipped.len() as u64;
            // Receipted (now or before): the stripped items can go.
            self.data_writer.delete_many(removals).await?;
        }
        Ok((written, skipped))
    }
}
