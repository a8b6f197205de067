//! SQS events -> transport-neutral message batches, with partial batch failures.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use rc_jobs::QueueMessage;

/// The messages of an SQS event. A record without an id or body cannot be reported back or
/// processed; it is skipped with a warning (SQS always sets both).
pub fn from_sqs(event: SqsEvent) -> Vec<QueueMessage> {
    event
        .records
        .into_iter()
        .filter_map(|record| match (record.message_id, record.body) {
            (Some(id), Some(body)) => Some(QueueMessage { id, body }),
            _ => {
                tracing::warn!("SQS record without id or body skipped");
                None
            }
        })
        .collect()
}

/// The partial batch response naming the failed messages (the function's event source mapping
/// must enable `ReportBatchItemFailures`).
pub fn to_batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Runs a batch handler as a Lambda function on an SQS event source.
pub async fn run_sqs<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Vec<QueueMessage>) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let messages = from_sqs(event.payload);
        async {
            let failed = handler(messages).await;
            Ok::<_, lambda_runtime::Error>(to_batch_response(failed))
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_messages_are_reported_by_id() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [
                {"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"},
                {"messageId": "m2", "body": "x", "eventSource": "aws:sqs"}
            ]
        }))
        .expect("event");
        let messages = from_sqs(event);
        assert_eq!(messages.len(), 2);
        let response = to_batch_response(vec!["m2".into()]);
        let json = serde_json::to_value(&response).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m2"}]})
        );
    }
}
