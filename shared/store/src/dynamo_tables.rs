//! Creating RetailCoder's tables in DynamoDB as `template.yaml` declares them: for tests, benches
//! and local stacks only (the `test-util` feature); in AWS the template owns the tables.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::StoreError;
use crate::dynamo::{DEADLINE_INDEX, PARTITION_DEADLINE_INDEX, build_error, sdk_error};

/// Which of RetailCoder's table shapes to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableShape {
    /// Orders and everything else: TTL plus the two sparse deadline indexes.
    Data,
    /// Wrapped keys: TTL only.
    Keys,
}

/// Creates a table as `template.yaml` declares it (for tests and local stacks; in AWS the
/// template owns the tables). Succeeds if the table already exists.
pub async fn create_table(
    client: &Client,
    name: &str,
    shape: TableShape,
) -> Result<(), StoreError> {
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .map_err(build_error)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build_error)
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
        .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?);
    if shape == TableShape::Data {
        let index = GlobalSecondaryIndex::builder()
            .index_name(DEADLINE_INDEX)
            .key_schema(key("due_shard", KeyType::Hash)?)
            .key_schema(key("due_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let by_partition = GlobalSecondaryIndex::builder()
            .index_name(PARTITION_DEADLINE_INDEX)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("due_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        request = request
            .attribute_definitions(attribute("due_shard", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("due_at", ScalarAttributeType::N)?)
            .global_secondary_indexes(index)
            .global_secondary_indexes(by_partition);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(sdk_error(e)),
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("ttl")
        .enabled(true)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
