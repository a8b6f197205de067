//! Lambda glue: typed configuration from the environment, service wiring (AWS or embedded),
//! tracing set-up, and the API Gateway adapter. Every function's `main` is a few calls into here.

mod apigw;
mod config;
mod services;
mod telemetry;

pub use apigw::{from_apigw, run_http, to_apigw};
pub use config::{AwsConfig, ConfigError};
pub use services::{Services, ServicesError};
pub use telemetry::{init_tracing, log_filter};
