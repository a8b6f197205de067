//! Lambda: label jobs from SQS (ids only) -> each shipment's label bought exactly once, sealed
//! and stored in the labels bucket. See `rc_fulfillment::LabelGenerator`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_sqs};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let generator = Arc::new(
        services
            .label_generator(&ChannelClients::from_env()?)
            .ok_or("RC_LABELS_BUCKET is not set")?,
    );
    run_sqs(move |messages| {
        let generator = Arc::clone(&generator);
        async move {
            let batch = messages.into_iter().map(|m| (m.id, m.body)).collect();
            generator.handle_batch(batch).await
        }
    })
    .await
}
