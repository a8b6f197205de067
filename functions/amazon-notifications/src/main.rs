//! Lambda: Amazon ORDER_CHANGE notifications from SQS. See `rc_jobs::AmazonNotifications`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_sqs};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let consumer = Arc::new(services.amazon_notifications(&ChannelClients::from_env()?));
    run_sqs(move |messages| {
        let consumer = Arc::clone(&consumer);
        async move { consumer.handle_batch(messages).await }
    })
    .await
}
