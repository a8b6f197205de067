//! Lambda: scheduled reconciliation of every connection. See `rc_api::Reconciler`.

use std::sync::Arc;

use rc_runtime::{
    AwsConfig, Services, init_tracing, run_schedule, shopify_admin_base, sp_api_endpoints,
};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let reconciler = Arc::new(services.reconciler(sp_api_endpoints()?, shopify_admin_base()?));
    run_schedule(move || {
        let reconciler = Arc::clone(&reconciler);
        async move { reconciler.run().await }
    })
    .await
}
