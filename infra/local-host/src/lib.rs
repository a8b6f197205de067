//! The local host: every function's handler served on localhost over the embedded defaults
//! (SQLite file and root key file in a data directory). It hosts handlers only; all behaviour is
//! the functions' own code from `rc-api`.

mod config;
mod demo;
pub mod sandbox;
mod server;

pub use config::{LocalConfig, mask};
pub use demo::{DEMO_ORDER, send_demo_webhook, send_signed, signed_shopify_request};
pub use server::{DEMO_USERS, LocalHost, StartError};
