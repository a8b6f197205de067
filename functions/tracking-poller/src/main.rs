//! Lambda: the scheduled polling fallback — shipments no courier webhook has spoken of for the
//! merchant's `poll_after_hours` are read from their courier; due confirmation retries are
//! handed to the fulfillment worker. See `rc_fulfillment::TrackingPoller`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_fallible_schedule};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let poller = Arc::new(services.tracking_poller(&ChannelClients::from_env()?));
    run_fallible_schedule(move || {
        let poller = Arc::clone(&poller);
        async move { poller.run().await }
    })
    .await
}
