//! The labels bucket as a [`LabelStore`] (feature `s3`: only the functions that use the bucket —
//! the label generator, the merchant API, the purger, `rc-ops` — link the S3 client).

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;

use crate::label_store::checked;
use crate::{LabelStore, LabelStoreError};

/// The labels bucket.
pub struct S3LabelStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3LabelStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn s3_error<E: ProvideErrorMetadata>(e: &E) -> LabelStoreError {
    LabelStoreError(format!("s3: {}", e.code().unwrap_or("unavailable")))
}

#[async_trait]
impl LabelStore for S3LabelStore {
    async fn put(&self, location: &str, sealed: Vec<u8>) -> Result<(), LabelStoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(checked(location)?)
            .content_type("application/octet-stream")
            .body(sealed.into())
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    async fn get(&self, location: &str) -> Result<Option<Vec<u8>>, LabelStoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(checked(location)?)
            .send()
            .await;
        match out {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|_| LabelStoreError("s3: body cut off".into()))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_error(&e)),
        }
    }

    async fn delete(&self, location: &str) -> Result<(), LabelStoreError> {
        // S3 answers 204 whether or not the object was there.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(checked(location)?)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}
