//! Deletion receipts: what was removed, from which stores, when and under which rule — never
//! PII. One chain per merchant: each receipt carries the hash of the one before it and its own
//! hash over its content, so a changed, removed or inserted receipt breaks the chain where it
//! happened. The chain lives outside the merchant's partition, so it outlives an account
//! cancellation (whose own receipt closes it).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId, PiiRule};
use rc_store::{Item, ItemKey, PageToken, Store, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::PrivacyError;

/// The `prev_hash` of a chain's first receipt.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Receipts appended per transaction, each with its guard: 1 head + 2 × 49 ≤ 100 operations.
pub const RECEIPTS_PER_TRANSACTION: usize = 49;
const APPEND_ATTEMPTS: usize = 10;

/// One thing removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// Where: `keys` (the key table), `data` (the data table), or a copy's store.
    pub store: String,
    /// What, in words (`"order data key"`, `"sealed fields: name,email"`).
    pub what: String,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptScope {
    Order,
    Account,
}

/// A receipt before it joins the chain.
#[derive(Debug, Clone)]
pub struct ReceiptDraft {
    pub scope: ReceiptScope,
    /// The order id, or the merchant id for an account.
    pub subject: String,
    pub rule: PiiRule,
    pub deadline: Option<OffsetDateTime>,
    pub removed: Vec<Removal>,
}

/// A receipt in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub merchant: String,
    pub seq: u64,
    pub scope: ReceiptScope,
    pub subject: String,
    pub rule: PiiRule,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub performed_at: OffsetDateTime,
    pub removed: Vec<Removal>,
    pub prev_hash: String,
    pub hash: String,
}

impl Receipt {
    /// SHA-256 over the receipt's canonical JSON with an empty `hash`.
    pub fn compute_hash(&self) -> Result<String, PrivacyError> {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let body = serde_json::to_vec(&unhashed).map_err(|_| PrivacyError::Receipt)?;
        Ok(rc_domain::to_hex(digest(&SHA256, &body).as_ref()))
    }
}

/// The outcome of verifying a merchant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub merchant: String,
    pub receipts: u64,
    /// The last receipt's hash (what a merchant keeps to detect a rewrite of the whole chain).
    pub head_hash: String,
    /// The first problem found, if any.
    pub problem: Option<ChainProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    pub seq: u64,
    pub problem: String,
}

pub struct ReceiptLedger {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn chain(merchant: &MerchantId) -> String {
    format!("RECEIPTS#{merchant}")
}

fn head_key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(chain(merchant), "HEAD")
}

/// The guard that lets a subject (an order) be receipted once, ever: a marker created in the
/// receipt's transaction. A concurrent or repeated purge of the same order finds it and skips.
pub fn once_per_subject(merchant: &MerchantId, subject: &str) -> TxOp {
    TxOp::Create(Item::new(ItemKey::new(
        chain(merchant),
        format!("S#{subject}"),
    )))
}

fn receipt_key(merchant: &MerchantId, seq: u64) -> ItemKey {
    ItemKey::new(chain(merchant), format!("R#{seq:012}"))
}

/// What became of an append.
#[derive(Debug, Default)]
pub struct Appended {
    pub receipts: Vec<Receipt>,
    /// Drafts (by index) whose guard failed: someone else finished that work first.
    pub skipped: Vec<usize>,
}

impl ReceiptLedger {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Appends receipts, each atomically with its guard (the operation that makes the work it
    /// records final, e.g. deleting the stripped PII item): a receipt exists exactly when its
    /// work is done, so a crash or a concurrent purger never doubles or loses one. `guards` is
    /// empty or one per draft. At most `RECEIPTS_PER_TRANSACTION` drafts.
    pub async fn append(
        &self,
        merchant: &MerchantId,
        drafts: Vec<ReceiptDraft>,
        guards: Vec<TxOp>,
    ) -> Result<Appended, PrivacyError> {
        assert!(guards.is_empty() || guards.len() == drafts.len());
        assert!(drafts.len() <= RECEIPTS_PER_TRANSACTION);
        let mut live: Vec<usize> = (0..drafts.len()).collect();
        let mut skipped = Vec::new();
        for _ in 0..APPEND_ATTEMPTS {
            if live.is_empty() {
                return Ok(Appended {
                    receipts: Vec::new(),
                    skipped,
                });
            }
            let head = self.data.get(&head_key(merchant)).await?;
            let (mut seq, mut prev) = match &head {
                Some(item) => (
                    item.number("seq")
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or(PrivacyError::Corrupt("receipt head"))?,
                    item.string("hash")
                        .ok_or(PrivacyError::Corrupt("receipt head"))?
                        .to_owned(),
                ),
                None => (0, GENESIS.to_owned()),
            };
            let now = self.clock.now();
            let mut receipts = Vec::with_capacity(live.len());
            let mut ops = Vec::with_capacity(1 + 2 * live.len());
            ops.push(TxOp::Create(Item::new(head_key(merchant)))); // replaced below
            for &index in &live {
                let draft = &drafts[index];
                seq += 1;
                let mut receipt = Receipt {
                    merchant: merchant.to_string(),
                    seq,
                    scope: draft.scope,
                    subject: draft.subject.clone(),
                    rule: draft.rule,
                    deadline: draft.deadline,
                    performed_at: now,
                    removed: draft.removed.clone(),
                    prev_hash: prev,
                    hash: String::new(),
                };
                receipt.hash = receipt.compute_hash()?;
                prev = receipt.hash.clone();
                let body = serde_json::to_string(&receipt).map_err(|_| PrivacyError::Receipt)?;
                ops.push(TxOp::Create(
                    Item::new(receipt_key(merchant, seq)).with("receipt", Value::S(body)),
                ));
                if let Some(guard) = guards.get(index) {
                    ops.push(guard.clone());
                }
                receipts.push(receipt);
            }
            let new_head = Item::new(head_key(merchant))
                .with("seq", Value::N(seq as i64))
                .with("hash", Value::S(prev));
            ops[0] = match &head {
                Some(item) => TxOp::Replace {
                    item: new_head,
                    expected_version: item.version,
                },
                None => TxOp::Create(new_head),
            };
            match self.data.transact(ops).await {
                Ok(()) => return Ok(Appended { receipts, skipped }),
                Err(StoreError::TransactionCancelled { failed }) => {
                    // Guards sit at odd positions after the head: 2, 4, ... (receipt, guard).
                    let stride = if guards.is_empty() { 1 } else { 2 };
                    let failed_guards: Vec<usize> = failed
                        .iter()
                        .filter(|&&i| stride == 2 && i >= 2 && i % 2 == 0)
                        .map(|&i| live[i / 2 - 1])
                        .collect();
                    if !failed_guards.is_empty() {
                        live.retain(|i| !failed_guards.contains(i));
                        skipped.extend(failed_guards);
                    }
                    // Otherwise the head moved (another appender): read it again.
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(PrivacyError::Repo(rc_orders::RepoError::LostRace(
            "the receipt chain kept moving; the next run retries",
        )))
    }

    /// The merchant's latest receipt.
    pub async fn last(&self, merchant: &MerchantId) -> Result<Option<Receipt>, PrivacyError> {
        let Some(seq) = self
            .data
            .get(&head_key(merchant))
            .await?
            .and_then(|head| head.number("seq"))
        else {
            return Ok(None);
        };
        let item = self
            .data
            .get(&receipt_key(merchant, seq as u64))
            .await?
            .ok_or(PrivacyError::Corrupt("receipt head points nowhere"))?;
        item.string("receipt")
            .and_then(|body| serde_json::from_str(body).ok())
            .map(Some)
            .ok_or(PrivacyError::Corrupt("receipt"))
    }

    /// The merchant's receipts in chain order, a page at a time.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after_seq: Option<u64>,
    ) -> Result<(Vec<Receipt>, Option<u64>), PrivacyError> {
        self.list_in_order(merchant, limit, after_seq, false).await
    }

    /// [`Self::list`], newest first: the cursor continues towards older receipts.
    pub async fn list_newest_first(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after_seq: Option<u64>,
    ) -> Result<(Vec<Receipt>, Option<u64>), PrivacyError> {
        self.list_in_order(merchant, limit, after_seq, true).await
    }

    async fn list_in_order(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after_seq: Option<u64>,
        newest_first: bool,
    ) -> Result<(Vec<Receipt>, Option<u64>), PrivacyError> {
        let after = after_seq.map(|seq| PageToken(receipt_key(merchant, seq).sk));
        let chain = chain(merchant);
        let page = if newest_first {
            self.data
                .query_partition_newest_first(&chain, "R#", limit, after)
                .await?
        } else {
            self.data
                .query_partition(&chain, "R#", limit, after)
                .await?
        };
        let receipts = page
            .items
            .iter()
            .map(|item| {
                item.string("receipt")
                    .and_then(|body| serde_json::from_str::<Receipt>(body).ok())
                    .ok_or(PrivacyError::Corrupt("receipt"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = page.next.and(receipts.last().map(|r| r.seq));
        Ok((receipts, next))
    }

    /// Walks the whole chain and checks every link: sequence without gaps, each hash over its
    /// content, each `prev_hash` equal to the previous hash, and the head matching the last.
    pub async fn verify(&self, merchant: &MerchantId) -> Result<ChainReport, PrivacyError> {
        let mut report = ChainReport {
            merchant: merchant.to_string(),
            receipts: 0,
            head_hash: GENESIS.to_owned(),
            problem: None,
        };
        let mut after = None;
        let mut expected_prev = GENESIS.to_owned();
        let problem = |seq: u64, what: &str| {
            Some(ChainProblem {
                seq,
                problem: what.to_owned(),
            })
        };
        loop {
            let page = self
                .data
                .query_partition(&chain(merchant), "R#", 500, after)
                .await?;
            for item in &page.items {
                let expected_seq = report.receipts + 1;
                let Some(receipt) = item
                    .string("receipt")
                    .and_then(|body| serde_json::from_str::<Receipt>(body).ok())
                else {
                    report.problem = problem(expected_seq, "receipt does not decode");
                    return Ok(report);
                };
                if receipt.seq != expected_seq || item.key != receipt_key(merchant, receipt.seq) {
                    report.problem = problem(expected_seq, "gap or reordering in the sequence");
                    return Ok(report);
                }
                if receipt.merchant != merchant.as_str() {
                    report.problem = problem(receipt.seq, "receipt of another merchant");
                    return Ok(report);
                }
                if receipt.prev_hash != expected_prev {
                    report.problem = problem(receipt.seq, "prev_hash does not match");
                    return Ok(report);
                }
                if receipt.compute_hash()? != receipt.hash {
                    report.problem = problem(receipt.seq, "content does not match its hash");
                    return Ok(report);
                }
                expected_prev = receipt.hash.clone();
                report.receipts = receipt.seq;
                report.head_hash = receipt.hash;
            }
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        let head = self.data.get(&head_key(merchant)).await?;
        let head_seq = head.as_ref().and_then(|h| h.number("seq")).unwrap_or(0) as u64;
        let head_hash = head
            .as_ref()
            .and_then(|h| h.string("hash"))
            .unwrap_or(GENESIS);
        if head_seq != report.receipts || head_hash != report.head_hash {
            report.problem = problem(
                head_seq.max(report.receipts),
                "the chain's head does not match its last receipt (receipts removed at the end?)",
            );
        }
        Ok(report)
    }
}
