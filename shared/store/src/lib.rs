//! Storage for RetailCoder: one item model, ports split by capability, two adapters.
//!
//! The model is DynamoDB's (partition key, sort key, typed attributes) because that is what runs
//! in AWS; the embedded SQLite adapter implements exactly the same semantics so the local host and
//! tests of higher layers behave as production does. `conformance` is the one test suite both
//! adapters must pass.
//!
//! Semantics every adapter guarantees:
//! - every item carries a version, set to 1 on create and bumped by every write;
//! - items whose TTL (`expires_at`) has passed are gone on read, even if not yet deleted (DynamoDB
//!   deletes expired items only "typically within 48 hours"; moto and SQLite never do);
//! - items with a PII deadline are found through an index on it, never by scanning;
//! - DynamoDB's limits are enforced before any request is sent, by both adapters alike.

/// The conformance suite every adapter passes (tests only: the `test-util` feature).
#[cfg(feature = "test-util")]
pub mod conformance;
pub mod dynamo;
#[cfg(feature = "test-util")]
mod dynamo_tables;
mod error;
mod item;
pub mod limits;
/// The in-memory adapter (tests and benchmarks only: the `test-util` feature).
#[cfg(feature = "test-util")]
pub mod memory;
mod ports;
pub mod sqlite;

pub use error::StoreError;
pub use item::{Item, ItemKey, Value};
pub use ports::{
    DeadlineIndex, DueItem, ItemReader, ItemTransactor, ItemWriter, Page, PageToken, Store, TxOp,
    put_latest, query_all,
};
