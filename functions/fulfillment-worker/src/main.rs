//! Lambda: shipment events from SQS (ids only) → stock at pickup, returns, the order's shipped
//! status and PII clock, and confirmations to Amazon and Shopify. See
//! `rc_jobs::FulfillmentWorker`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_sqs};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let channels = ChannelClients::from_env()?;
    let sync = Arc::new(services.inventory_sync(&channels));
    let worker = Arc::new(services.fulfillment_worker(&channels, sync));
    run_sqs(move |messages| {
        let worker = Arc::clone(&worker);
        async move { worker.handle_batch(messages).await }
    })
    .await
}
