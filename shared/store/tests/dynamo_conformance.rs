//! The conformance suite on the DynamoDB adapter, against moto through the real AWS SDK.
//!
//! Needs `AWS_ENDPOINT_URL` pointing at moto: `./infra/test` starts moto and sets it. Without it
//! these tests fail with a message saying so (never a silent skip).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rc_domain::ManualClock;
use rc_store::dynamo::{DynamoStore, TableShape, create_table};

static TABLES: AtomicU32 = AtomicU32::new(0);

async fn fresh_store(clock: Arc<ManualClock>) -> DynamoStore {
    let Some(config) = aws_test_config().await else {
        panic!("AWS_ENDPOINT_URL is not set: run the README's test command");
    };
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = format!(
        "conformance-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::Relaxed)
    );
    create_table(&client, &name, TableShape::Data)
        .await
        .expect("create table");
    DynamoStore::new(client, &name, clock)
}

async fn aws_test_config() -> Option<aws_config::SdkConfig> {
    std::env::var_os("AWS_ENDPOINT_URL")?;
    Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

rc_store::conformance_suite!(fresh_store);
