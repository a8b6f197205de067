//! The export worker: streams an export's rows into a multipart upload, a part at a time, so
//! memory holds one part whatever the export's size. Progress (upload, parts, the source's
//! cursor after the last part) is persisted at each part, so a run cut short — a crash, a
//! timeout, its time budget spent — is resumed by the next from its last part; rows read after
//! it are read again. The file exists only once completed, and the export is `ready` only after
//! that, with the SHA-256 and size read back from the file itself: never a half file marked
//! ready. A PII export registers its file as a copy of every order it holds before those rows
//! are written, so the purger and the account cancellation delete it.

use std::sync::Arc;

use rc_domain::{Clock, MerchantId};
use rc_orders::{Actor, AuditLog, PiiAccess};
use rc_privacy::PiiCopies;

use crate::files::ExportFiles;
use crate::repository::{ExportError, ExportId, ExportRecord, ExportRepository, ExportState};
use crate::sources::Sources;
use crate::{CsvWriter, ExportFormat, JsonlWriter, PART_BYTES, PartBuffer, Progress, RowWriter};

/// The kind of PII copy an export file is, in the copies registry.
pub const EXPORT_COPY: &str = "export";
/// How long a ready file is kept: its deletion is due 5 minutes before 24 hours are up, so the
/// expiry running every 5 minutes deletes it within 24 hours.
pub const FILE_SECONDS: i64 = 24 * 3600 - 5 * 60;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Ready (or failed with its reason): nothing left to do.
    Done(ExportState),
    /// Its time budget ran out: run again (the queue message is sent back).
    Continue,
    /// Nothing to do (already ended, unknown, moved by another run).
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A store or source failure worth retrying from the persisted progress.
    #[error("export source: {0}")]
    Source(String),
}

pub struct ExportWorker {
    exports: Arc<ExportRepository>,
    files: Arc<dyn ExportFiles>,
    sources: Sources,
    copies: Arc<PiiCopies>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    part_bytes: usize,
    /// Pages read per run at most (besides the time budget): bounds one run's work.
    page_limit: usize,
}

impl ExportWorker {
    pub fn new(
        exports: Arc<ExportRepository>,
        files: Arc<dyn ExportFiles>,
        sources: Sources,
        copies: Arc<PiiCopies>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            exports,
            files,
            sources,
            copies,
            audit,
            clock,
            part_bytes: PART_BYTES,
            page_limit: usize::MAX,
        }
    }

    /// The same, reading at most `pages` pages per run (then it is to continue).
    pub fn with_page_limit(mut self, pages: usize) -> Self {
        self.page_limit = pages.max(1);
        self
    }

    /// The same with parts of `bytes` (tests and benches: many parts from few rows).
    pub fn with_part_bytes(mut self, bytes: usize) -> Self {
        self.part_bytes = bytes;
        self
    }

    async fn fail(
        &self,
        merchant: &MerchantId,
        record: &ExportRecord,
        reason: &str,
    ) -> Result<RunOutcome, WorkerError> {
        if let ExportState::Running(Progress {
            upload: Some(upload),
            ..
        }) = &record.state
        {
            let key = self.key(merchant, record);
            let _ = self.files.abort(&key, upload).await;
        }
        let state = ExportState::Failed {
            reason: reason.to_owned(),
        };
        self.exports
            .advance(merchant, record, state.clone())
            .await?;
        tracing::warn!(%merchant, export = record.id.as_str(), reason, "export failed");
        Ok(RunOutcome::Done(state))
    }

    fn key(&self, merchant: &MerchantId, record: &ExportRecord) -> String {
        record.file_key(merchant)
    }

    /// Runs (or resumes) one export until it is ready, fails, or `budget` has passed.
    pub async fn run(
        &self,
        merchant: &MerchantId,
        id: &ExportId,
        budget: std::time::Duration,
    ) -> Result<RunOutcome, WorkerError> {
        let started = std::time::Instant::now();
        let Some(mut record) = self.exports.get(merchant, id).await? else {
            return Ok(RunOutcome::Skipped);
        };
        let mut progress = match &record.state {
            ExportState::Queued => Progress::default(),
            ExportState::Running(progress) => progress.clone(),
            _ => return Ok(RunOutcome::Skipped),
        };
        let Some(source) = self.sources.of(record.request.kind) else {
            return self.fail(merchant, &record, "kind_not_available").await;
        };
        let key = self.key(merchant, &record);
        let request = record.request.clone();
        // The upload is begun and recorded before any byte is written (so an abandoned one is
        // found and aborted).
        if progress.upload.is_none() {
            let upload = match self
                .files
                .begin(merchant, &key, request.format.content_type())
                .await
            {
                Ok(upload) => upload,
                Err(_) => return self.fail(merchant, &record, "storage_refused").await,
            };
            progress.upload = Some(upload);
            record = match self
                .exports
                .advance(merchant, &record, ExportState::Running(progress.clone()))
                .await
            {
                Ok(record) => record,
                Err(ExportError::Moved) => return Ok(RunOutcome::Skipped),
                Err(other) => return Err(other.into()),
            };
            if request.include_pii {
                // The reveal is recorded before any buyer data is opened.
                let actor = Actor {
                    id: &record.actor,
                    request_id: record.id.as_str(),
                };
                self.audit
                    .record(
                        merchant,
                        PiiAccess {
                            action: "pii_reveal",
                            purpose: "data_export",
                            actor: &actor,
                            subject: record.id.as_str(),
                            orders: &[],
                        },
                    )
                    .await
                    .map_err(|e| WorkerError::Source(e.to_string()))?;
            }
        }
        let upload = progress.upload.clone().unwrap_or_default();
        let columns = source.columns(&request);
        let writer: Box<dyn RowWriter + Send + Sync> = match request.format {
            ExportFormat::Csv => Box::new(CsvWriter::new(&columns)),
            ExportFormat::Jsonl => Box::new(JsonlWriter::new(&columns)),
        };
        let mut buffer = PartBuffer::new(self.part_bytes);
        if progress.parts.is_empty() && progress.cursor.is_none() {
            writer.header(buffer.bytes());
        }
        let (mut cursor, mut rows) = (progress.cursor.clone(), progress.rows);
        let mut finished = progress.finished;
        let mut pages = 0;
        while !finished {
            // A run stops only where its progress is persisted (nothing buffered), so every
            // run moves the export on by at least one part.
            if (started.elapsed() > budget || pages >= self.page_limit) && buffer.is_empty() {
                return Ok(RunOutcome::Continue);
            }
            pages += 1;
            let page = source
                .page(merchant, &request, cursor.as_deref())
                .await
                .map_err(WorkerError::Source)?;
            // Registered before the rows holding the buyer's data are written anywhere.
            for order in &page.pii_orders {
                self.copies
                    .record(merchant, order, EXPORT_COPY, &key)
                    .await
                    .map_err(|e| WorkerError::Source(e.to_string()))?;
            }
            for row in &page.rows {
                writer.row(buffer.bytes(), row);
            }
            rows += page.rows.len() as u64;
            cursor = page.next;
            finished = cursor.is_none();
            let part = if finished {
                Some(buffer.take())
            } else {
                buffer.full_part()
            };
            let Some(part) = part else { continue };
            if part.is_empty() && !progress.parts.is_empty() {
                // Nothing after the last part: complete with the parts there are.
            } else {
                let number = progress.parts.len() as u32 + 1;
                let size = part.len() as u64;
                let tag = match self
                    .files
                    .put_part(&key, &upload, number, part.clone())
                    .await
                {
                    Ok(tag) => tag,
                    Err(_) => return self.fail(merchant, &record, "storage_refused").await,
                };
                buffer.give_back(part);
                progress.parts.push((number, tag));
                progress.bytes += size;
            }
            progress.rows = rows;
            progress.cursor = cursor.clone();
            progress.finished = finished;
            record = match self
                .exports
                .advance(merchant, &record, ExportState::Running(progress.clone()))
                .await
            {
                Ok(record) => record,
                Err(ExportError::Moved) => return Ok(RunOutcome::Skipped),
                Err(other) => return Err(other.into()),
            };
        }
        // Completed, then read back: the digest is of the file as stored.
        if let Err(error) = self.files.complete(&key, &upload, &progress.parts).await {
            // A completion that happened before a crash leaves the file there.
            if self.files.digest(&key).await.ok().flatten().is_none() {
                tracing::warn!(%error, "export completion failed");
                return self.fail(merchant, &record, "storage_refused").await;
            }
        }
        let Some((sha256, bytes)) = self
            .files
            .digest(&key)
            .await
            .map_err(|e| WorkerError::Source(e.to_string()))?
        else {
            return self.fail(merchant, &record, "storage_refused").await;
        };
        let ready_at = self.clock.now().unix_timestamp();
        let ready = ExportState::Ready {
            rows: progress.rows,
            bytes,
            sha256,
            ready_at,
            expires_at: ready_at + FILE_SECONDS,
        };
        match self
            .exports
            .mark_ready(merchant, &record, ready.clone())
            .await
        {
            Ok(_) => {}
            Err(ExportError::Moved) => return Ok(RunOutcome::Skipped),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(%merchant, export = record.id.as_str(), rows = progress.rows, bytes, "export ready");
        Ok(RunOutcome::Done(ready))
    }
}

/// Deletes export files and ends their exports: on request, 24 hours after ready (the
/// scheduled expiry), when a contained order's PII is due, and with the account.
pub struct ExportDeletion {
    pub exports: Arc<ExportRepository>,
    pub files: Arc<dyn ExportFiles>,
    pub clock: Arc<dyn Clock>,
}

impl ExportDeletion {
    fn key(&self, merchant: &MerchantId, record: &ExportRecord) -> String {
        record.file_key(merchant)
    }

    /// Deletes an export's file now and ends it (`Deleted`, or `Expired` when `expired`).
    pub async fn delete(
        &self,
        merchant: &MerchantId,
        record: &ExportRecord,
        expired: bool,
    ) -> Result<ExportRecord, WorkerError> {
        let key = self.key(merchant, record);
        if let ExportState::Running(Progress {
            upload: Some(upload),
            ..
        }) = &record.state
        {
            let _ = self.files.abort(&key, upload).await;
        }
        self.files
            .delete(&key)
            .await
            .map_err(|e| WorkerError::Source(e.to_string()))?;
        let at = self.clock.now().unix_timestamp();
        let gone = if expired {
            ExportState::Expired { at }
        } else {
            ExportState::Deleted { at }
        };
        Ok(self.exports.mark_gone(merchant, record, gone).await?)
    }

    /// Deletes every file due (ready for 24 hours): the scheduled expiry. Returns how many.
    pub async fn expire_due(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now().unix_timestamp();
        let mut expired = 0;
        for (merchant, id) in self.exports.due(now, 100).await? {
            let Some(record) = self.exports.get(&merchant, &id).await? else {
                continue;
            };
            if matches!(record.state, ExportState::Ready { .. }) {
                self.delete(&merchant, &record, true).await?;
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Deletes every export of the merchant (account cancellation). Returns how many files.
    pub async fn delete_all(&self, merchant: &MerchantId) -> Result<u64, WorkerError> {
        let mut deleted = 0;
        for record in self.exports.all(merchant).await? {
            if matches!(
                record.state,
                ExportState::Expired { .. }
                    | ExportState::Deleted { .. }
                    | ExportState::Failed { .. }
            ) {
                continue;
            }
            self.delete(merchant, &record, false).await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Erases export files for the privacy lifecycle: a PII export's file when one order it holds
/// reaches its deadline (the purger, through the copies registry), and every export of a
/// cancelled account, PII or not.
pub struct ExportEraser {
    pub deletion: Arc<ExportDeletion>,
}

#[async_trait::async_trait]
impl rc_privacy::CopyEraser for ExportEraser {
    fn kind(&self) -> &'static str {
        EXPORT_COPY
    }

    fn store(&self) -> &'static str {
        "exports"
    }

    async fn erase(&self, merchant: &MerchantId, location: &str) -> Result<(), String> {
        // `exports/<merchant>/<id>.<extension>`
        let id = location
            .rsplit('/')
            .next()
            .and_then(|name| name.split('.').next())
            .and_then(ExportId::parse)
            .ok_or("not an export location")?;
        match self.deletion.exports.get(merchant, &id).await {
            Ok(Some(record)) if !matches!(record.state, ExportState::Deleted { .. }) => self
                .deletion
                .delete(merchant, &record, false)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Ok(_) => self
                .deletion
                .files
                .delete(location)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn erase_account(&self, merchant: &MerchantId) -> Result<u64, String> {
        self.deletion
            .delete_all(merchant)
            .await
            .map_err(|e| e.to_string())
    }
}

impl ExportWorker {
    /// Handles a batch of export job messages (`{"merchant", "export"}`): runs each within
    /// `budget`, sends a job back through `jobs` for one that is to continue, and returns the ids
    /// of messages to retry (a failure worth retrying; a malformed message goes to the
    /// dead-letter queue after its receives).
    pub async fn handle_batch(
        &self,
        messages: Vec<(String, String)>,
        jobs: &dyn rc_queue::ExportJobs,
        budget: std::time::Duration,
    ) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, body) in messages {
            let Some((merchant, export)) = serde_json::from_str::<rc_queue::ExportJob>(&body)
                .ok()
                .and_then(|job| Some((MerchantId::parse(&job.merchant).ok()?, job.export)))
                .and_then(|(m, e)| Some((m, ExportId::parse(&e)?)))
            else {
                tracing::error!(message_id = %id, "export job is malformed");
                failed.push(id);
                continue;
            };
            match self.run(&merchant, &export, budget).await {
                Ok(RunOutcome::Continue) => {
                    let again = rc_queue::ExportJob {
                        merchant: merchant.to_string(),
                        export: export.as_str().to_owned(),
                    };
                    if jobs.send(&[again]).await.is_err() {
                        failed.push(id);
                    }
                }
                Ok(outcome) => {
                    tracing::info!(message_id = %id, ?outcome, "export job done");
                }
                Err(error) => {
                    tracing::warn!(message_id = %id, %error, "export job will be retried");
                    failed.push(id);
                }
            }
        }
        failed
    }
}
