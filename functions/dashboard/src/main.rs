//! Lambda: the merchant dashboard (`/app/...`) through API Gateway (HTTP API). See
//! `rc_dashboard::Dashboard`: it acts through the merchant API in process, as the signed-in
//! user, so it needs what the merchant API needs.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_http};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let api = Arc::new(services.merchant_api(&ChannelClients::from_env()?));
    let dashboard = Arc::new(services.dashboard(api));
    run_http(move |request| {
        let dashboard = Arc::clone(&dashboard);
        async move { dashboard.handle(request).await }
    })
    .await
}
