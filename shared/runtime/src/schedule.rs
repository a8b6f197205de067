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

/// Like [`run_schedule`], for a job that can fail: a failure fails the invocation, so the
/// scheduler retries it and the function's error metric (and its alarm) sees it.
pub async fn run_fallible_schedule<F, Fut, R, E>(job: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: serde::Serialize,
    E: std::fmt::Display,
{
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        job()
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
}
