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

/// Runs a function with two triggers: SQS messages (an event with `Records`: the batch
/// handler, with partial batch failures) and a schedule (any other event: the job). The export
/// worker writes exports from its queue and deletes expired files on its schedule.
pub async fn run_sqs_or_schedule<F, Fut, J, JFut, R, E>(
    handler: F,
    job: J,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Vec<rc_jobs::QueueMessage>) -> Fut,
    Fut: Future<Output = Vec<String>>,
    J: Fn() -> JFut,
    JFut: Future<Output = Result<R, E>>,
    R: serde::Serialize,
    E: std::fmt::Display,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let payload = event.payload;
        let handler = &handler;
        let job = &job;
        async move {
            if payload
                .get("Records")
                .is_some_and(serde_json::Value::is_array)
            {
                let sqs: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(payload)
                    .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
                let failed = handler(crate::from_sqs(sqs)).await;
                return serde_json::to_value(crate::to_batch_response(failed))
                    .map_err(|e| lambda_runtime::Error::from(e.to_string()));
            }
            let report = job()
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            serde_json::to_value(report).map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
