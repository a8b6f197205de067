//! The audit trail: every reveal of buyer data outside sealing (a label opened, a data-request
//! report) and every administrative action (a key issued or revoked, a connection or courier
//! account changed, settings changed, a cancellation requested) — who, what, why, about what,
//! when, in which request. Ids and codes only, never the data itself.
//!
//! Per merchant, a hash chain: entry `n` holds the hash of entry `n - 1`, and its own hash is
//! SHA-256 over both, so an entry changed, removed or inserted afterwards breaks the chain at its
//! sequence number (`verify`). Entries are kept 13 months (store TTL); the chain is then verified
//! from the oldest entry kept, whose `prev` the head's history vouches for.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId};
use rc_store::{Item, ItemKey, PageToken, Store, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};

use crate::RepoError;

/// How long an entry is kept: 13 months (and a little).
pub const AUDIT_RETENTION_DAYS: i64 = 400;
/// The `prev` of the first entry.
const GENESIS: &str = "genesis";
/// Attempts at appending while other appends move the head.
const APPEND_ATTEMPTS: usize = 8;

fn partition(merchant: &MerchantId) -> String {
    format!("AUDIT#{merchant}")
}

fn head_key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(partition(merchant), "HEAD")
}

fn entry_key(merchant: &MerchantId, seq: u64) -> ItemKey {
    ItemKey::new(partition(merchant), format!("E#{seq:012}"))
}

/// One entry, as kept and as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// When, in epoch milliseconds.
    pub at_ms: i64,
    /// What was done: `pii_reveal`, `api_key_issued`, `api_key_revoked`, `connection_changed`,
    /// `courier_account_changed`, `settings_changed`, `account_cancellation_requested`, ...
    pub action: String,
    /// Why: a reveal's named purpose (`data_subject_report`, `label_download`); for an
    /// administrative action, what changed (`shopify_connected`, `key_scopes:orders:read`).
    pub purpose: String,
    /// Who: an API key's id (a prefix of its hash, never the key) or `operator:<name>`.
    pub actor: String,
    /// What it was about (a privacy request id, a shipment id, a key id, a shop domain).
    pub subject: String,
    /// The orders whose data was opened (reveals only).
    pub orders: Vec<String>,
    /// The request it happened in (answered to the caller as `x-request-id`).
    pub request_id: String,
    pub prev: String,
    pub hash: String,
}

impl AuditEntry {
    fn compute_hash(&self) -> Result<String, RepoError> {
        let unsigned = AuditEntry {
            hash: String::new(),
            ..self.clone()
        };
        let canonical =
            serde_json::to_vec(&unsigned).map_err(|_| RepoError::Corrupt("audit entry"))?;
        Ok(rc_domain::to_hex(digest(&SHA256, &canonical).as_ref()))
    }
}

/// An event about to be recorded (the time, sequence and hashes are the log's own).
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    pub action: &'static str,
    pub purpose: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    pub orders: &'a [String],
    pub request_id: &'a str,
}

/// Who acts, and in which request: an API key's id (or `operator:<name>`) and the request's id.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: &'a str,
    pub request_id: &'a str,
}

/// Why an operator opens buyer data: a case or ticket reference (`ZD-48213`), recorded as the
/// audit entry's request (`case:ZD-48213`). A reference, never a description: the audit trail
/// holds no free text, so it cannot hold a buyer's name typed into a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReference(String);

impl CaseReference {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let ok = (3..=64).contains(&raw.len())
            && raw.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'#' | b'/')
            })
            && raw.bytes().any(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(
                "--reason must be a case or ticket reference (3 to 64 letters, digits and -_.:#/, with a number, e.g. ZD-48213), not a description",
            )
        }
    }

    /// The audit entry's request id for an operator acting on this case.
    pub fn request_id(&self) -> String {
        format!("case:{}", self.0)
    }
}

/// A reveal of buyer data about to happen.
pub struct PiiAccess<'a> {
    pub action: &'static str,
    pub purpose: &'static str,
    pub actor: &'a Actor<'a>,
    pub subject: &'a str,
    pub orders: &'a [String],
}

/// The outcome of verifying a merchant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditChainReport {
    /// Entries checked.
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The first problem, if any: where, and what.
    pub problem: Option<AuditProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    pub seq: u64,
    /// `hash_mismatch` (the entry was changed), `broken_link` (an entry before it was changed,
    /// removed or inserted), `missing_entry` (a gap), `head_mismatch` (the head is not the last
    /// entry's hash).
    pub reason: &'static str,
}

/// A cursor is an entry's sequence number.
fn is_cursor(token: &str) -> bool {
    (1..=12).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit())
}

/// A reveal is "late" when its order shipped more than this long before: the buyer's data is
/// rarely needed a week after the parcel left, so such reads are worth a look.
pub const LATE_REVEAL_AFTER_SHIPMENT_DAYS: i64 = 7;

/// Where reveal counts go: CloudWatch metrics in AWS (embedded metric format lines on standard
/// output), memory in tests.
pub trait RevealMetrics: Send + Sync {
    /// `actor` revealed the data of `orders` orders of `merchant`, `late` of them shipped more
    /// than [`LATE_REVEAL_AFTER_SHIPMENT_DAYS`] before.
    fn revealed(&self, merchant: &MerchantId, actor: &str, orders: u64, late: u64, at_ms: i64);
}

/// CloudWatch's embedded metric format: one JSON line per reveal on standard output, which the
/// Lambda log agent turns into the `RetailCoder` metrics `PiiReveals` (by `Actor`: a key's id,
/// never the key) and `LatePiiReveals` (by `Merchant`), which the template's alarms watch.
pub struct EmfRevealMetrics;

/// The EMF line of a reveal.
pub fn emf_line(merchant: &MerchantId, actor: &str, orders: u64, late: u64, at_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": "RetailCoder",
                "Dimensions": [["Actor"], ["Merchant"]],
                "Metrics": [
                    {"Name": "PiiReveals", "Unit": "Count"},
                    {"Name": "LatePiiReveals", "Unit": "Count"}
                ]
            }]
        },
        "Actor": actor,
        "Merchant": merchant.as_str(),
        "PiiReveals": orders,
        "LatePiiReveals": late,
    })
    .to_string()
}

impl RevealMetrics for EmfRevealMetrics {
    fn revealed(&self, merchant: &MerchantId, actor: &str, orders: u64, late: u64, at_ms: i64) {
        use std::io::Write;
        // Only a Lambda's log agent reads EMF; elsewhere (the local host, tests) a log line.
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
            tracing::info!(%merchant, actor, orders, late, "pii reveal counted");
            return;
        }
        let line = emf_line(merchant, actor, orders, late, at_ms);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

pub struct AuditLog {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn RevealMetrics>,
}

fn parse_entry(item: &Item) -> Result<AuditEntry, RepoError> {
    item.string("entry")
        .and_then(|e| serde_json::from_str(e).ok())
        .ok_or(RepoError::Corrupt("audit entry"))
}

impl AuditLog {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data,
            clock,
            metrics: Arc::new(EmfRevealMetrics),
        }
    }

    /// Counts reveals in `metrics` instead of CloudWatch.
    pub fn with_metrics(mut self, metrics: Arc<dyn RevealMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// How many of `orders` shipped more than [`LATE_REVEAL_AFTER_SHIPMENT_DAYS`] ago (read from
    /// their public items: nothing is opened). It only feeds a metric: an order that cannot be
    /// read counts as not late rather than holding up the reveal's audit entry.
    async fn late(&self, merchant: &MerchantId, orders: &[String]) -> u64 {
        let cutoff = (self.clock.now() - time::Duration::days(LATE_REVEAL_AFTER_SHIPMENT_DAYS))
            .unix_timestamp();
        let mut late = 0;
        for order in orders {
            let Ok(id) = rc_domain::OrderId::parse(order) else {
                continue;
            };
            if let Ok(Some(item)) = self.data.get(&crate::keys::order(merchant, &id)).await
                && item.number("shipped_at").is_some_and(|at| at < cutoff)
            {
                late += 1;
            }
        }
        late
    }

    /// Records a reveal, and counts it in the reveal metrics. Written before the data is
    /// returned: no record, no reveal.
    pub async fn record(
        &self,
        merchant: &MerchantId,
        access: PiiAccess<'_>,
    ) -> Result<(), RepoError> {
        let late = self.late(merchant, access.orders).await;
        let entry = self
            .append(
                merchant,
                AuditEvent {
                    action: access.action,
                    purpose: access.purpose,
                    actor: access.actor.id,
                    subject: access.subject,
                    orders: access.orders,
                    request_id: access.actor.request_id,
                },
            )
            .await?;
        self.metrics.revealed(
            merchant,
            access.actor.id,
            access.orders.len() as u64,
            late,
            entry.at_ms,
        );
        Ok(())
    }

    /// Appends an event at the end of the merchant's chain (the head and the entry in one
    /// transaction, retried while concurrent appends move the head).
    pub async fn append(
        &self,
        merchant: &MerchantId,
        event: AuditEvent<'_>,
    ) -> Result<AuditEntry, RepoError> {
        for _ in 0..APPEND_ATTEMPTS {
            let head = self.data.get(&head_key(merchant)).await?;
            let (seq, prev) = match &head {
                Some(item) => (
                    item.number("seq")
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or(RepoError::Corrupt("audit head"))?,
                    item.string("hash")
                        .ok_or(RepoError::Corrupt("audit head"))?
                        .to_owned(),
                ),
                None => (0, GENESIS.to_owned()),
            };
            let now = self.clock.now();
            let mut entry = AuditEntry {
                seq: seq + 1,
                at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                action: event.action.to_owned(),
                purpose: event.purpose.to_owned(),
                actor: event.actor.to_owned(),
                subject: event.subject.to_owned(),
                orders: event.orders.to_vec(),
                request_id: event.request_id.to_owned(),
                prev,
                hash: String::new(),
            };
            entry.hash = entry.compute_hash()?;
            let body = serde_json::to_string(&entry).map_err(|_| RepoError::Corrupt("audit"))?;
            let mut item = Item::new(entry_key(merchant, entry.seq)).with("entry", Value::S(body));
            item.expires_at =
                Some((now + time::Duration::days(AUDIT_RETENTION_DAYS)).unix_timestamp());
            let new_head = Item::new(head_key(merchant))
                .with("seq", Value::N(entry.seq as i64))
                .with("hash", Value::S(entry.hash.clone()));
            let head_op = match &head {
                Some(old) => TxOp::Replace {
                    item: new_head,
                    expected_version: old.version,
                },
                None => TxOp::Create(new_head),
            };
            match self.data.transact(vec![head_op, TxOp::Create(item)]).await {
                Ok(()) => return Ok(entry),
                // Another append moved the head: read it again.
                Err(StoreError::TransactionCancelled { .. } | StoreError::TransactionConflict) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::LostRace("the audit chain kept moving; retry"))
    }

    /// The merchant's trail, oldest first, `limit` at a time after the entry `after` (a
    /// sequence number from a previous page); with the cursor to continue from when more
    /// remain. `None` for a cursor this log never gave out.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Option<(Vec<AuditEntry>, Option<String>)>, RepoError> {
        self.list_in_order(merchant, limit, after, false).await
    }

    /// [`Self::list`], newest first: the cursor continues towards older entries.
    pub async fn list_newest_first(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Option<(Vec<AuditEntry>, Option<String>)>, RepoError> {
        self.list_in_order(merchant, limit, after, true).await
    }

    async fn list_in_order(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&str>,
        newest_first: bool,
    ) -> Result<Option<(Vec<AuditEntry>, Option<String>)>, RepoError> {
        if after.is_some_and(|token| !is_cursor(token)) {
            return Ok(None);
        }
        let after = after
            .and_then(|token| token.parse::<u64>().ok())
            .map(|seq| PageToken(format!("E#{seq:012}")));
        let partition = partition(merchant);
        let page = if newest_first {
            self.data
                .query_partition_newest_first(&partition, "E#", limit, after)
                .await?
        } else {
            self.data
                .query_partition(&partition, "E#", limit, after)
                .await?
        };
        let entries = page
            .items
            .iter()
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let next = page.next.and(entries.last().map(|e| e.seq.to_string()));
        Ok(Some((entries, next)))
    }

    /// Walks the merchant's chain from its oldest kept entry: each hash recomputed, each link
    /// checked, no gap, and the head at the last entry. Reports the first problem's sequence
    /// number.
    pub async fn verify(&self, merchant: &MerchantId) -> Result<AuditChainReport, RepoError> {
        let mut report = AuditChainReport {
            entries: 0,
            first_seq: None,
            last_seq: None,
            problem: None,
        };
        let mut previous: Option<AuditEntry> = None;
        let mut after = None;
        'pages: loop {
            let page = self
                .data
                .query_partition(&partition(merchant), "E#", 500, after)
                .await?;
            for item in &page.items {
                let entry = parse_entry(item)?;
                report.entries += 1;
                report.first_seq.get_or_insert(entry.seq);
                report.last_seq = Some(entry.seq);
                let key_seq = item.key.sk.trim_start_matches("E#").parse::<u64>().ok();
                let problem = if key_seq != Some(entry.seq) || entry.compute_hash()? != entry.hash {
                    Some("hash_mismatch")
                } else {
                    match &previous {
                        Some(before) if entry.seq != before.seq + 1 => Some("missing_entry"),
                        Some(before) if entry.prev != before.hash => Some("broken_link"),
                        None if entry.seq == 1 && entry.prev != GENESIS => Some("broken_link"),
                        _ => None,
                    }
                };
                if let Some(reason) = problem {
                    report.problem = Some(AuditProblem {
                        seq: entry.seq,
                        reason,
                    });
                    break 'pages;
                }
                previous = Some(entry);
            }
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        if report.problem.is_none() {
            let head = self.data.get(&head_key(merchant)).await?;
            let head_hash = head
                .as_ref()
                .and_then(|h| h.string("hash").map(str::to_owned));
            let head_seq = head
                .as_ref()
                .and_then(|h| h.number("seq"))
                .and_then(|n| u64::try_from(n).ok());
            let last = previous.as_ref();
            let agrees = match (last, head_hash) {
                (Some(last), Some(hash)) => last.hash == hash && Some(last.seq) == head_seq,
                (None, None) => true,
                _ => false,
            };
            if !agrees {
                report.problem = Some(AuditProblem {
                    seq: head_seq.unwrap_or(0),
                    reason: "head_mismatch",
                });
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reveals_are_embedded_metric_lines() {
        let merchant = rc_domain::MerchantId::parse("m1").expect("merchant");
        let line: serde_json::Value =
            serde_json::from_str(&super::emf_line(&merchant, "0123456789abcdef", 2, 1, 1_000))
                .expect("json");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "RetailCoder"
        );
        assert_eq!(
            (&line["Actor"], &line["PiiReveals"], &line["LatePiiReveals"]),
            (
                &serde_json::json!("0123456789abcdef"),
                &serde_json::json!(2),
                &serde_json::json!(1)
            )
        );
    }

    #[test]
    fn only_cursors_the_log_gives_out_are_accepted() {
        let cases = [
            ("1", true),
            ("000000000042", true),
            ("1795791600000", false),
            ("ORDER#x", false),
            ("-1", false),
            ("", false),
        ];
        for (token, ok) in cases {
            assert_eq!(super::is_cursor(token), ok, "{token}");
        }
    }
}
