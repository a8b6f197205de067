//! The jobs: what runs on a queue message or a schedule rather than on an HTTP request.
//!
//! - [`OrderProcessor`]: order events → reservations (or backorders), then pushes to the channels;
//! - [`AmazonNotifications`]: ORDER_CHANGE notifications → `getOrder` → the order, sealed;
//! - [`InventorySync`]: available-to-sell quantities → Shopify and Amazon, only what changed;
//! - [`Reconciler`]: orders changed on the channels since the last run, and the outbox relay;
//! - [`Backorders`]: orders waiting for stock, retried when it comes in;
//! - [`FulfillmentWorker`]: shipment events → the order settled from its shipments, confirmations.
//!
//! The channels are reached through the ports in `rc_channels::port` only, so every job runs
//! against in-memory channels in its unit tests and against the real clients in the wiring.
//! (The privacy run is `rc_privacy::PrivacyRun`, beside the data it removes.)

mod amazon_notifications;
mod backorders;
mod fulfillment_worker;
mod inventory_sync;
mod message;
mod order_processor;
mod reconciler;

pub use amazon_notifications::{AmazonNotifications, MessageError};
pub use backorders::Backorders;
pub use fulfillment_worker::FulfillmentWorker;
pub use inventory_sync::{FEED_THRESHOLD, InventorySync, MAX_FEED_MESSAGES, SyncReport};
pub use message::QueueMessage;
pub use order_processor::{OrderProcessor, ProcessError};
pub use reconciler::{ReconcileReport, Reconciler, drain_unsubscribes};
