//! Fulfillment: an order's shipments, planned from its routing decision; the merchant's courier
//! accounts, sealed; each shipment's label, bought exactly once by the label generator and
//! kept sealed under the order's data key, registered as a PII copy so deletion reaches it;
//! then its journey as couriers report it (webhooks, polling), which drives the order — stock
//! at pickup, returns, the shipped status and PII clock — and its confirmation to the
//! marketplace.

mod confirmer;
mod courier_accounts;
mod error;
mod label_generator;
mod label_store;
mod lines;
mod outside;
mod planner;
mod poller;
#[cfg(feature = "s3")]
mod s3_label_store;
mod settings;
mod settle;
mod shipments;
mod tracking;

pub use confirmer::{Confirmer, Marketplaces, fulfillment_lines};
pub use courier_accounts::{
    CourierAccountRepository, CourierAccountSummary, CourierSecrets, HookSecret, PutCourier,
    is_hook, tracking_webhook_path,
};
pub use error::FulfillmentError;
pub use label_generator::{Couriers, LEASE_SECONDS, LabelGenerator, LabelOutcome};
pub use label_store::{FileLabelStore, LabelEraser, LabelStore, LabelStoreError};
pub use lines::{LineProgress, line_progress, lines_by_package};
pub use outside::{OutsideShipments, OutsideTracking};
pub use planner::ShipmentPlanner;
pub use poller::{PollReport, TrackingPoller};
#[cfg(feature = "s3")]
pub use s3_label_store::S3LabelStore;
pub use settings::{FulfillmentSettings, FulfillmentSettingsRepository};
pub use settle::{Settled, ShipmentSettler};
pub use shipments::{
    CourierQuote, ExternalPackage, LabelRecord, NewShipment, PAGE, PurchaseRecord, SEEN_EVENTS,
    STALLED_AFTER_SECONDS, Shipment, ShipmentRepository,
};
pub use tracking::{Recorded, TrackingRecorder, apply_update};

/// The PII copy kind of a stored label document.
pub const LABEL_COPY: &str = "label";

/// Why a shipment is `cancelled` when the merchant says the order left outside RetailCoder
/// before its label was bought.
pub const SHIPPED_OUTSIDE: &str = "shipped_outside";
