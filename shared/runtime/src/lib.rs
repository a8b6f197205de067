//! Lambda glue: typed configuration from the environment, service wiring (AWS or embedded),
//! tracing set-up, and the API Gateway adapter. Every function's `main` is a few calls into here.

mod apigw;
mod apps;
mod channels;
mod config;
mod local_queue;
mod schedule;
mod services;
mod sqs;
mod telemetry;

pub use apigw::{from_apigw, run_http, to_apigw};
pub use apps::{
    AppSecrets, AppsError, DEFAULT_SHOPIFY_SCOPES, apps_from, load_apps, load_apps_with,
};
pub use channels::ChannelClients;
pub use config::{
    AwsConfig, ConfigError, shopify_admin_base, sp_api_endpoints, sp_api_endpoints_from,
};
pub use local_queue::{
    EXPORT_JOBS, LABEL_JOBS, LocalMessage, LocalQueue, MAX_RECEIVES, ORDER_EVENTS, SHIPMENT_EVENTS,
};
pub use rc_orders::{RawContact, RawProfile, Scope};
pub use schedule::{run_fallible_schedule, run_schedule, run_sqs_or_schedule};
pub use services::{Services, ServicesError};
pub use sqs::{from_sqs, run_sqs, to_batch_response};
pub use telemetry::{init_tracing, init_tracing_to_stderr, log_filter, log_layer, passes_caps};
