//! The end-to-end tests, in one test binary: each module was its own binary, and every one
//! linked the AWS SDKs again (one link instead of thirteen; see BENCHMARKS.md, Build).

mod support;

mod accounts;
mod amazon_notifications;
mod api_keys;
mod aws_slice;
mod browser;
mod connect_flows;
mod dashboard;
mod exports;
mod inventory_reservations;
mod inventory_sync;
mod labels;
mod merchant_connections;
mod pii_canary;
mod privacy_canary_audit;
mod privacy_lifecycle;
mod reconciliation;
mod regressions;
mod routing;
mod sandbox;
mod shopify_topics;
mod shopify_webhook_http;
mod tax;
mod tracking;
mod warehouses;
