//! Lambda: order events from SQS -> stock reservations, then pushes to the channels. See
//! `rc_jobs::OrderProcessor`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_sqs};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let sync = Arc::new(services.inventory_sync(&ChannelClients::from_env()?));
    let processor = Arc::new(services.order_processor(sync));
    run_sqs(move |messages| {
        let processor = Arc::clone(&processor);
        async move { processor.handle_batch(messages).await }
    })
    .await
}
