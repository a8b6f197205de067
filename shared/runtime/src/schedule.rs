//! EventBridge scheduled events -> a job run whose report is the function's result.

use std::future::Future;

use lambda_runtime::{LambdaEvent, service_fn};

/// Runs a scheduled job as a Lambda function. The event's content is not used: a schedule only
/// says "now" (and a re-delivered or concurrent run must be safe, which the jobs guarantee).
pub async fn run_schedule<F, Fut, R>(job: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
    R: serde::Serialize,
{
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(job().await)
    }))
    .await
}
