//! Lambda: the merchant API through API Gateway (HTTP API). See `rc_api::MerchantApi`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_http};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let api = Arc::new(services.merchant_api(&ChannelClients::from_env()?));
    run_http(move |request| {
        let api = Arc::clone(&api);
        async move { api.handle(request).await }
    })
    .await
}
