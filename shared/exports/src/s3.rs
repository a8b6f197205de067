//! Export files in S3: multipart uploads encrypted with the stack's KMS key under an encryption
//! context naming the merchant (so a file decrypts only as that merchant's), the digest read
//! back as a stream, and presigned downloads of at most 15 minutes — never longer than the
//! signing credentials live (a link signed with temporary credentials dies with them).

use async_trait::async_trait;
use aws_lc_rs::digest::{Context, SHA256};
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use rc_domain::MerchantId;

use crate::files::{ExportFiles, FilesError, MAX_LINK_SECONDS, checked};

pub struct S3ExportFiles {
    client: aws_sdk_s3::Client,
    bucket: String,
    kms_key: String,
    /// What presigned links are signed with (the SDK configuration's provider).
    credentials: Option<SharedCredentialsProvider>,
}

impl S3ExportFiles {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        kms_key: impl Into<String>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            kms_key: kms_key.into(),
            credentials,
        }
    }

    /// How long the signing credentials still live, if they expire.
    async fn credentials_left(&self) -> Result<Option<i64>, FilesError> {
        let Some(provider) = &self.credentials else {
            return Err(FilesError("no credentials to sign with".into()));
        };
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|_| FilesError("credentials unavailable".into()))?;
        Ok(credentials.expiry().map(|expiry| {
            expiry
                .duration_since(std::time::SystemTime::now())
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        }))
    }
}

fn s3_error<E: ProvideErrorMetadata>(e: &E) -> FilesError {
    FilesError(format!("s3: {}", e.code().unwrap_or("unavailable")))
}

#[async_trait]
impl ExportFiles for S3ExportFiles {
    async fn begin(
        &self,
        merchant: &MerchantId,
        key: &str,
        content_type: &str,
    ) -> Result<String, FilesError> {
        let context = serde_json::json!({"merchant": merchant.as_str()}).to_string();
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key)
            .ssekms_encryption_context(base64::engine::general_purpose::STANDARD.encode(context))
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        out.upload_id
            .ok_or_else(|| FilesError("s3: no upload id".into()))
    }

    async fn put_part(
        &self,
        key: &str,
        upload: &str,
        number: u32,
        bytes: bytes::Bytes,
    ) -> Result<String, FilesError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .upload_id(upload)
            .part_number(number as i32)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        out.e_tag
            .ok_or_else(|| FilesError("s3: no entity tag".into()))
    }

    async fn complete(
        &self,
        key: &str,
        upload: &str,
        parts: &[(u32, String)],
    ) -> Result<(), FilesError> {
        let parts = parts
            .iter()
            .map(|(number, tag)| {
                CompletedPart::builder()
                    .part_number(*number as i32)
                    .e_tag(tag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .upload_id(upload)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    async fn abort(&self, key: &str, upload: &str) -> Result<(), FilesError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .upload_id(upload)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            Err(e) => Err(s3_error(&e)),
        }
    }

    async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, FilesError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(s3_error(&e)),
        };
        let mut body = out.body;
        let mut context = Context::new(&SHA256);
        let mut size = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|_| FilesError("s3: the file could not be read".into()))?
        {
            size += chunk.len() as u64;
            context.update(&chunk);
        }
        Ok(Some((rc_domain::to_hex(context.finish().as_ref()), size)))
    }

    async fn delete(&self, key: &str) -> Result<(), FilesError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    async fn link(&self, key: &str, seconds: i64, filename: &str) -> Result<String, FilesError> {
        let mut seconds = seconds.clamp(1, MAX_LINK_SECONDS);
        // A link lives no longer than the credentials that sign it: keep a minute's margin, and
        // refuse when less than a minute would be left.
        if let Some(left) = self.credentials_left().await? {
            seconds = seconds.min(left - 60);
            if seconds < 60 {
                return Err(FilesError(
                    "signing credentials expire too soon; retry".into(),
                ));
            }
        }
        let config = PresigningConfig::expires_in(std::time::Duration::from_secs(seconds as u64))
            .map_err(|_| FilesError("presigning".into()))?;
        let safe_name: String = filename
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(checked(key)?)
            .response_content_disposition(format!("attachment; filename=\"{safe_name}\""))
            .presigned(config)
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(request.uri().to_owned())
    }
}
