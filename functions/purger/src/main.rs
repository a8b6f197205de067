//! Lambda: the hourly privacy run — purge orders past their PII deadline, fulfil privacy
//! requests, resume account cancellations. See `rc_privacy::PrivacyRun`.

use std::sync::Arc;

use rc_privacy::PurgeLimits;
use rc_runtime::{AwsConfig, Services, init_tracing, run_fallible_schedule};

// One thread: a Lambda sandbox handles one event at a time, and a single-threaded runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = AwsConfig::from_env()?;
    let services = Services::aws(&config).await;
    let run = Arc::new(services.privacy_run());
    run_fallible_schedule(move || {
        let run = Arc::clone(&run);
        async move {
            let report = run
                .run(PurgeLimits::default(), false, &mut |progress| {
                    tracing::info!(?progress, "purge progress");
                })
                .await;
            match report {
                Ok(report) => {
                    tracing::info!(
                        purged = report.purge.purged,
                        failed = report.purge.failed.len(),
                        more_due = report.purge.more_due,
                        "privacy run finished"
                    );
                    Ok(report)
                }
                // Failing the invocation makes the scheduler retry it and the error alarm
                // fire; ids and codes only in the message.
                Err(error) => Err(error),
            }
        }
    })
    .await
}
