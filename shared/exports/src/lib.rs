//! Merchant exports (issue 15): the pure parts first — what a merchant may ask for
//! ([`ExportRequest`]), how rows are written ([`CsvWriter`], [`JsonlWriter`]: RFC 4180 and
//! spreadsheet-safe text cells), and each export's record and state ([`ExportRepository`]).
//! The worker that streams an export to storage and the API routes build on these.

mod account;
mod encode;
mod files;
mod parts;
mod repository;
mod request;
mod rows;
#[cfg(feature = "s3")]
mod s3;
mod sources;
mod worker;

pub use account::{AccountRecords, AccountSource};
/// The bytes a part travels in (shared, so an uploaded part's memory is reused).
pub use bytes::Bytes;
pub use encode::{Cell, CsvWriter, JsonlWriter, RowWriter};
pub use files::{
    ExportFiles, FilesError, LinkRefused, LocalExportFiles, MAX_LINK_SECONDS, file_key,
};
pub use parts::{MIN_PART_BYTES, PART_BYTES, PartBuffer};
pub use repository::{
    Created, ExportError, ExportId, ExportRecord, ExportRepository, ExportState, Progress,
};
pub use request::{ExportFormat, ExportKind, ExportRequest, MAX_RANGE_DAYS, RequestError};
pub use rows::{ORDER_COLUMNS, ORDER_PII_COLUMNS, OrderRow, decimal, order_cells};
#[cfg(feature = "s3")]
pub use s3::S3ExportFiles;
pub use sources::{PAGE, RowSource, SourcePage, Sources};
pub use worker::{
    EXPORT_COPY, ExportDeletion, ExportEraser, ExportWorker, FILE_SECONDS, RunOutcome, WorkerError,
};
