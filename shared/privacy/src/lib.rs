//! The PII lifecycle: everything that makes buyer PII go away on time and proves it.
//!
//! - [`Purger`]: orders past their PII deadline, found through the deadline index;
//! - [`PiiCopies`]: the registry every copy of PII (labels, exports, caches) must be recorded in;
//! - [`AccountCancellation`]: a merchant leaving (keys destroyed first);
//! - [`ComplianceRequests`]: Shopify's redaction and data requests;
//! - [`ReceiptLedger`]: hash-chained deletion receipts, and their verification;
//! - [`PrivacyRun`]: the hourly job that runs them all.

mod cancellation;
mod compliance;
mod error;
mod job;
mod purger;
mod receipts;
mod registry;

pub use cancellation::{
    AccountCancellation, AccountRecords, CancellationProgress, CancellationStatus, OWNS_PK,
    OWNS_SK, anonymized_partition,
};
pub use compliance::{ComplianceReport, ComplianceRequests};
pub use error::PrivacyError;
pub use job::{PrivacyRun, PrivacyRunReport};
pub use purger::{DueOrder, PurgeLimits, PurgeProgress, PurgeReport, Purger};
pub use receipts::{
    Appended, ChainProblem, ChainReport, GENESIS, Receipt, ReceiptDraft, ReceiptLedger,
    ReceiptScope, Removal,
};
pub use registry::{CopyEraser, PiiCopies};
