//! The merchant's tax data and each order's tax record.
//!
//! - [`TaxClasses`]: the merchant's tax classes (GST rules, VAT reduced rates) and which class
//!   each SKU is in; the seeded GST slabs stand in until the merchant defines its own.
//! - [`TaxSettingsRepository`]: the EU distance-sales threshold position.
//! - [`TaxRecords`] and [`TaxRecorder`]: the record per order, computed once per order version
//!   and again when the shipping warehouse changes, kept outside the merchant's partition under
//!   the tax partition so it survives the PII purge and account cancellation (it holds no PII:
//!   codes and amounts).
//! - [`report`]: the tax report's aggregates (per jurisdiction, GSTR-1 B2C, OSS), JSON and CSV.

mod classes;
mod error;
mod keys;
mod recorder;
mod records;
pub mod report;
mod settings;

pub use classes::{SkuClass, TaxClasses};
pub use error::TaxRecordError;
pub use recorder::{RecordOutcome, TaxRecorder};
pub use records::{
    Charged, RETENTION_YEARS, StoredTaxRecord, TOTAL_SHARDS, TaxRecordState, TaxRecords,
};
pub use report::{ReportGroup, ReportPeriod, TaxReport, TaxReporter, Totals, contributions};
pub use settings::{TaxSettings, TaxSettingsRepository};
