//! Lambda: export jobs from SQS (ids only) -> each export streamed to the exports bucket in
//! parts, resumed from its last part when a run ends first; and, every 5 minutes, the files
//! ready for 24 hours deleted. See `rc_exports::ExportWorker`.

use std::sync::Arc;
use std::time::Duration;

use rc_runtime::{AwsConfig, Services, init_tracing, run_sqs_or_schedule};

/// A run's budget: the function's 15-minute timeout less room to persist and answer. A longer
/// export continues in the next run (the job is sent back).
const BUDGET: Duration = Duration::from_secs(12 * 60);

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let worker = Arc::new(
        services
            .export_worker()
            .ok_or("RC_EXPORTS_BUCKET is not set")?,
    );
    let deletion = services
        .export_deletion()
        .ok_or("RC_EXPORTS_BUCKET is not set")?;
    let jobs = services.export_jobs.clone();
    run_sqs_or_schedule(
        move |messages| {
            let (worker, jobs) = (Arc::clone(&worker), Arc::clone(&jobs));
            async move {
                let batch = messages.into_iter().map(|m| (m.id, m.body)).collect();
                worker.handle_batch(batch, jobs.as_ref(), BUDGET).await
            }
        },
        move || {
            let deletion = Arc::clone(&deletion);
            async move { deletion.expire_due().await }
        },
    )
    .await
}
