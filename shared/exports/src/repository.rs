//! Each export's record: what was asked, by whom, and where it stands. One item per export in
//! the merchant's exports partition (`EXPORTS#<merchant>` / `X#<id>`, ids in creation order), its
//! state moved only from the version read (two workers never both move it); and one item per
//! `Idempotency-Key` (`IDEM#<sha256 of the key>`, 24 hours), written in the same transaction as
//! the export it names, so a retried request gets the same export and a reused key with another
//! request is refused.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId};
use rc_store::{Item, ItemKey, PageToken, Store, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};

use crate::ExportRequest;

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_SECONDS: i64 = 24 * 3600;
/// Export records themselves are kept this long (the file is gone after 24 hours; the record
/// says so, then goes).
const RECORD_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the idempotency key was used for a different export")]
    IdempotencyKeyReused,
    #[error("an export record is malformed: {0}")]
    Corrupt(&'static str),
    #[error("the export moved meanwhile")]
    Moved,
}

/// An export's id: its creation time (milliseconds) and random digits, so ids sort by age.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExportId(String);

impl ExportId {
    /// Parses an id from a path: the form we issue, or nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        let (ms, random) = raw.strip_prefix("x")?.split_once('-')?;
        let ok = ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && random.len() == 16
            && random
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn new(now_ms: i64) -> Result<Self, ExportError> {
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| ExportError::Corrupt("randomness"))?;
        Ok(Self(format!(
            "x{now_ms:013}-{}",
            rc_domain::to_hex(&random)
        )))
    }
}

/// Where an export stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    /// Being written: what is uploaded so far, persisted at each part, so a later run resumes
    /// from the last part (rows read after it are read again).
    Running(Progress),
    Ready {
        rows: u64,
        bytes: u64,
        sha256: String,
        /// Epoch seconds: when it became ready, and when its file is deleted.
        ready_at: i64,
        expires_at: i64,
    },
    Failed {
        reason: String,
    },
    /// Its file was deleted 24 hours after it was ready, at `at` (epoch seconds).
    Expired {
        at: i64,
    },
    /// Its file was deleted on request, with a purged order's data or with the account, at `at`.
    Deleted {
        at: i64,
    },
}

/// A running export's uploaded parts and where its source continues.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    pub rows: u64,
    pub bytes: u64,
    /// The multipart upload, once begun.
    pub upload: Option<String>,
    /// (part number, entity tag), in order.
    pub parts: Vec<(u32, String)>,
    /// Where the source continues after the last uploaded part.
    pub cursor: Option<String>,
    /// Every row is uploaded: only the completion is left.
    pub finished: bool,
}

/// One export, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: ExportId,
    pub request: ExportRequest,
    pub state: ExportState,
    /// Epoch seconds.
    pub created_at: i64,
    /// The API key (its id) that asked for it.
    pub actor: String,
    /// The stored item's version (for moving the state).
    #[serde(skip)]
    pub version: u64,
}

impl ExportRecord {
    /// Where its file is stored.
    pub fn file_key(&self, merchant: &MerchantId) -> String {
        crate::files::file_key(merchant, self.id.as_str(), self.request.format.extension())
    }
}

/// What `create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(ExportRecord),
    /// The same request under the same key: the export made the first time.
    Existing(ExportRecord),
}

/// Exports whose files are to be deleted, by when: `<expires at, 10 digits>#<merchant>#<id>`.
const DUE: &str = "EXPORTS#due";

fn due_key(expires_at: i64, merchant: &MerchantId, id: &ExportId) -> ItemKey {
    ItemKey::new(DUE, format!("{expires_at:010}#{merchant}#{}", id.as_str()))
}

fn partition(merchant: &MerchantId) -> String {
    format!("EXPORTS#{merchant}")
}

fn record_key(merchant: &MerchantId, id: &ExportId) -> ItemKey {
    ItemKey::new(partition(merchant), format!("X#{}", id.as_str()))
}

fn idempotency_key(merchant: &MerchantId, key: &str) -> ItemKey {
    let hash = rc_domain::to_hex(digest(&SHA256, key.as_bytes()).as_ref());
    ItemKey::new(partition(merchant), format!("IDEM#{hash}"))
}

fn decode(item: &Item) -> Result<ExportRecord, ExportError> {
    let mut record: ExportRecord = item
        .string("record")
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or(ExportError::Corrupt("export record"))?;
    record.version = item.version;
    Ok(record)
}

fn encode(key: ItemKey, record: &ExportRecord, expires_at: i64) -> Result<Item, ExportError> {
    let text = serde_json::to_string(record).map_err(|_| ExportError::Corrupt("encode"))?;
    let mut item = Item::new(key).with("record", Value::S(text));
    item.expires_at = Some(expires_at);
    Ok(item)
}

pub struct ExportRepository {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl ExportRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Records a new export, queued — or, for a key seen with the same request, the export made
    /// then.
    pub async fn create(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        idempotency: Option<&str>,
        actor: &str,
    ) -> Result<Created, ExportError> {
        let now = self.clock.now();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        if let Some(key) = idempotency
            && let Some(existing) = self.by_idempotency_key(merchant, key, request).await?
        {
            return Ok(Created::Existing(existing));
        }
        let record = ExportRecord {
            id: ExportId::new(now_ms)?,
            request: request.clone(),
            state: ExportState::Queued,
            created_at: now.unix_timestamp(),
            actor: actor.to_owned(),
            version: 1,
        };
        let mut ops = vec![TxOp::Create(encode(
            record_key(merchant, &record.id),
            &record,
            now.unix_timestamp() + RECORD_SECONDS,
        )?)];
        if let Some(key) = idempotency {
            let mut remembered = Item::new(idempotency_key(merchant, key))
                .with("export", Value::S(record.id.as_str().to_owned()))
                .with("request", Value::S(request.canonical()));
            remembered.expires_at = Some(now.unix_timestamp() + IDEMPOTENCY_SECONDS);
            ops.push(TxOp::Create(remembered));
        }
        match self.data.transact(ops).await {
            Ok(()) => Ok(Created::New(record)),
            // A concurrent request with the same key won: answer with its export.
            Err(StoreError::TransactionCancelled { .. }) if idempotency.is_some() => {
                let key = idempotency.unwrap_or_default();
                self.by_idempotency_key(merchant, key, request)
                    .await?
                    .map(Created::Existing)
                    .ok_or(ExportError::Moved)
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn by_idempotency_key(
        &self,
        merchant: &MerchantId,
        key: &str,
        request: &ExportRequest,
    ) -> Result<Option<ExportRecord>, ExportError> {
        let Some(item) = self.data.get(&idempotency_key(merchant, key)).await? else {
            return Ok(None);
        };
        if item.string("request") != Some(request.canonical().as_str()) {
            return Err(ExportError::IdempotencyKeyReused);
        }
        let id = item
            .string("export")
            .and_then(ExportId::parse)
            .ok_or(ExportError::Corrupt("idempotency entry"))?;
        self.get(merchant, &id).await
    }

    /// The merchant's export (another merchant's id is simply not found).
    pub async fn get(
        &self,
        merchant: &MerchantId,
        id: &ExportId,
    ) -> Result<Option<ExportRecord>, ExportError> {
        match self.data.get(&record_key(merchant, id)).await? {
            Some(item) => Ok(Some(decode(&item)?)),
            None => Ok(None),
        }
    }

    /// The merchant's exports, oldest first, `limit` a page.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<String>,
    ) -> Result<(Vec<ExportRecord>, Option<String>), ExportError> {
        let page = self
            .data
            .query_partition(&partition(merchant), "X#", limit, after.map(PageToken))
            .await?;
        let records = page.items.iter().map(decode).collect::<Result<_, _>>()?;
        Ok((records, page.next.map(|t| t.0)))
    }

    /// Marks an export ready and schedules its file's deletion (`EXPORTS#due`, in the same
    /// transaction).
    pub async fn mark_ready(
        &self,
        merchant: &MerchantId,
        record: &ExportRecord,
        ready: ExportState,
    ) -> Result<ExportRecord, ExportError> {
        let ExportState::Ready { expires_at, .. } = &ready else {
            return Err(ExportError::Corrupt("not a ready state"));
        };
        let due = Item::new(due_key(*expires_at, merchant, &record.id));
        let mut next = record.clone();
        next.state = ready.clone();
        let item = encode(
            record_key(merchant, &record.id),
            &next,
            record.created_at + RECORD_SECONDS,
        )?;
        let ops = vec![
            TxOp::Replace {
                item,
                expected_version: record.version,
            },
            TxOp::Create(due),
        ];
        match self.data.transact(ops).await {
            Ok(()) => {
                next.version = record.version + 1;
                Ok(next)
            }
            Err(StoreError::TransactionCancelled { .. }) => Err(ExportError::Moved),
            Err(other) => Err(other.into()),
        }
    }

    /// Ends an export whose file is gone (`Expired` or `Deleted`), and forgets its scheduled
    /// deletion.
    pub async fn mark_gone(
        &self,
        merchant: &MerchantId,
        record: &ExportRecord,
        gone: ExportState,
    ) -> Result<ExportRecord, ExportError> {
        let next = self.advance(merchant, record, gone).await?;
        if let ExportState::Ready { expires_at, .. } = &record.state {
            self.data
                .delete(&due_key(*expires_at, merchant, &record.id), None)
                .await?;
        }
        Ok(next)
    }

    /// Exports whose file is due for deletion at `now` or before, oldest first.
    pub async fn due(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(MerchantId, ExportId)>, ExportError> {
        let page = self.data.query_partition(DUE, "", limit, None).await?;
        Ok(page
            .items
            .iter()
            .filter_map(|item| {
                let mut parts = item.key.sk.splitn(3, '#');
                let at: i64 = parts.next()?.parse().ok()?;
                let merchant = MerchantId::parse(parts.next()?).ok()?;
                let id = ExportId::parse(parts.next()?)?;
                (at <= now).then_some((merchant, id))
            })
            .collect())
    }

    /// Every export of the merchant, a page at a time (account cancellation).
    pub async fn all(&self, merchant: &MerchantId) -> Result<Vec<ExportRecord>, ExportError> {
        let items =
            rc_store::query_all(self.data.as_ref(), &partition(merchant), "X#", 100).await?;
        items.iter().map(decode).collect()
    }

    /// Moves an export to `state` from the version `record` was read at: `Moved` if it changed
    /// meanwhile (another worker, a deletion).
    pub async fn advance(
        &self,
        merchant: &MerchantId,
        record: &ExportRecord,
        state: ExportState,
    ) -> Result<ExportRecord, ExportError> {
        let mut next = record.clone();
        next.state = state;
        let item = encode(
            record_key(merchant, &record.id),
            &next,
            record.created_at + RECORD_SECONDS,
        )?;
        match self.data.replace(item, record.version).await {
            Ok(()) => {
                next.version = record.version + 1;
                Ok(next)
            }
            Err(StoreError::StaleVersion { .. } | StoreError::ConditionFailed) => {
                Err(ExportError::Moved)
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::ManualClock;
    use rc_store::sqlite::SqliteStore;
    use time::macros::{date, datetime};

    fn repo() -> (ExportRepository, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let clock = Arc::new(ManualClock::at(datetime!(2026-11-30 10:00 UTC)));
        let db = rc_store::sqlite::EmbeddedDb::open(&dir.path().join("db")).expect("db");
        let data: Arc<dyn Store> = Arc::new(SqliteStore::new(db, "data", clock.clone()));
        (ExportRepository::new(data, clock.clone()), clock, dir)
    }

    fn request(body: &str) -> ExportRequest {
        ExportRequest::parse(body.as_bytes(), date!(2026 - 11 - 30)).expect("request")
    }

    #[tokio::test]
    async fn a_retried_request_gets_the_same_export_and_a_reused_key_is_refused() {
        let (repo, clock, _dir) = repo();
        let merchant = MerchantId::parse("m1").expect("merchant");
        let orders = request(r#"{"kind": "orders"}"#);
        let Created::New(first) = repo
            .create(&merchant, &orders, Some("key-1"), "k")
            .await
            .expect("create")
        else {
            panic!("new");
        };
        let again = repo
            .create(&merchant, &orders, Some("key-1"), "k")
            .await
            .expect("again");
        assert_eq!(again, Created::Existing(first.clone()));
        let other = request(r#"{"kind": "shipments"}"#);
        assert!(matches!(
            repo.create(&merchant, &other, Some("key-1"), "k").await,
            Err(ExportError::IdempotencyKeyReused)
        ));
        // Without a key, every request is a new export; another merchant sees none of them.
        clock.advance(time::Duration::milliseconds(5));
        assert!(matches!(
            repo.create(&merchant, &orders, None, "k").await,
            Ok(Created::New(_))
        ));
        let stranger = MerchantId::parse("m2").expect("merchant");
        assert_eq!(repo.get(&stranger, &first.id).await.expect("get"), None);
        let (listed, _) = repo.list(&merchant, 10, None).await.expect("list");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, first.id, "oldest first");
    }

    #[tokio::test]
    async fn states_move_only_from_the_version_read() {
        let (repo, _clock, _dir) = repo();
        let merchant = MerchantId::parse("m1").expect("merchant");
        let Created::New(queued) = repo
            .create(&merchant, &request(r#"{"kind": "orders"}"#), None, "k")
            .await
            .expect("create")
        else {
            panic!("new");
        };
        let progress = Progress {
            rows: 10,
            ..Progress::default()
        };
        let running = repo
            .advance(&merchant, &queued, ExportState::Running(progress.clone()))
            .await
            .expect("running");
        assert!(matches!(
            repo.advance(&merchant, &queued, ExportState::Deleted { at: 0 })
                .await,
            Err(ExportError::Moved)
        ));
        let stored = repo
            .get(&merchant, &queued.id)
            .await
            .expect("get")
            .expect("there");
        assert_eq!(stored.state, ExportState::Running(progress));
        assert_eq!(stored.version, running.version);
    }

    #[test]
    fn only_issued_ids_parse() {
        assert!(ExportId::parse("x1795000000000-0123456789abcdef").is_some());
        for bad in [
            "",
            "x1795000000000-0123456789ABCDEF",
            "x17950-0123456789abcdef",
            "y1795000000000-0123456789abcdef",
            "x1795000000000-0123456789abcde/",
        ] {
            assert!(ExportId::parse(bad).is_none(), "{bad}");
        }
    }
}
