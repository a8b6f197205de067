//! Marketplace channels: what comes in from them and goes out to them, in their documented shapes.

pub mod shopify;
