//! Lambda: the scheduled full inventory reconciliation — every listing of every merchant, only
//! what differs from the last push is sent. See `rc_jobs::InventorySync::sync_all`.

use std::sync::Arc;

use rc_runtime::{AwsConfig, ChannelClients, Services, init_tracing, run_fallible_schedule};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let sync = Arc::new(services.inventory_sync(&ChannelClients::from_env()?));
    run_fallible_schedule(move || {
        let sync = Arc::clone(&sync);
        async move { sync.sync_all().await }
    })
    .await
}
