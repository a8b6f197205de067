//! The reference for cold-start and size figures (BENCHMARKS.md): what every RetailCoder
//! function must start — the Lambda runtime, `aws-config`'s default chain and the DynamoDB, KMS
//! and SQS clients — and nothing else. It answers every event with a fixed 401, so no AWS call is
//! made. A function's exec → ready time over this one's is what its own code costs.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = (
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
    );
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        // Held by the handler, as a function holds its clients.
        let _held = &clients;
        async move { Ok::<_, lambda_runtime::Error>(json!({ "statusCode": 401 })) }
    }))
    .await
}
