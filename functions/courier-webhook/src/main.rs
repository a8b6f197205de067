//! Lambda: courier tracking webhooks through API Gateway (HTTP API, `POST /tracking/{hook}`) →
//! authenticated, deduplicated, recorded on the shipment; ids only onward to the fulfillment
//! worker. See `rc_api::CourierWebhook`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, Services, init_tracing, run_http};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let webhook = Arc::new(services.courier_webhook());
    run_http(move |request| {
        let webhook = Arc::clone(&webhook);
        async move { webhook.handle(request).await }
    })
    .await
}
