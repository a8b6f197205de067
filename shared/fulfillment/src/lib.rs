//! Fulfillment: an order's shipments, planned from its routing decision; the merchant's courier
//! accounts, sealed; and each shipment's label, bought exactly once by the label generator and
//! kept sealed under the order's data key, registered as a PII copy so deletion reaches it.

mod courier_accounts;
mod error;
mod label_generator;
mod label_store;
mod planner;
#[cfg(feature = "s3")]
mod s3_label_store;
mod shipments;

pub use courier_accounts::{CourierAccountRepository, CourierAccountSummary, CourierSecrets};
pub use error::FulfillmentError;
pub use label_generator::{Couriers, LEASE_SECONDS, LabelGenerator, LabelOutcome};
pub use label_store::{FileLabelStore, LabelEraser, LabelStore, LabelStoreError};
pub use planner::ShipmentPlanner;
#[cfg(feature = "s3")]
pub use s3_label_store::S3LabelStore;
pub use shipments::{
    CourierQuote, LabelRecord, NewShipment, PAGE, PurchaseRecord, Shipment, ShipmentRepository,
};

/// The PII copy kind of a stored label document.
pub const LABEL_COPY: &str = "label";
