//! Where sealed label documents are kept: S3 in AWS (the labels bucket: SSE-KMS, no public
//! access, no versioning, so a delete is real), files in the data directory locally. What is
//! stored is already sealed under the order's data key: the bucket's own encryption is a second
//! layer, and destroying the order's key makes every copy — a backup, a lingering replica —
//! unreadable.

use std::path::PathBuf;

use async_trait::async_trait;

/// A label store's failure (the location is ours and holds no PII, so it may be named).
#[derive(Debug, thiserror::Error)]
#[error("label store: {0}")]
pub struct LabelStoreError(pub String);

#[async_trait]
pub trait LabelStore: Send + Sync {
    /// Writes the sealed document at `location` (replacing any).
    async fn put(&self, location: &str, sealed: Vec<u8>) -> Result<(), LabelStoreError>;
    /// The sealed document at `location`, if there is one.
    async fn get(&self, location: &str) -> Result<Option<Vec<u8>>, LabelStoreError>;
    /// Deletes it. Deleting what is not there succeeds.
    async fn delete(&self, location: &str) -> Result<(), LabelStoreError>;
    /// `s3` or `file`, for deletion receipts.
    fn kind(&self) -> &'static str;
}

/// Locations are made by us from ids (`labels/<merchant>/<shipment>/<n>`): letters, digits,
/// `-`, `_`, `.` and `/`, no `..`. Anything else is refused before it touches a path or a key.
pub(crate) fn checked(location: &str) -> Result<&str, LabelStoreError> {
    let ok = location.starts_with("labels/")
        && !location.contains("..")
        && location
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    ok.then_some(location)
        .ok_or_else(|| LabelStoreError("not a label location".into()))
}

/// Files under the data directory (the local host).
pub struct FileLabelStore {
    root: PathBuf,
}

impl FileLabelStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, location: &str) -> Result<PathBuf, LabelStoreError> {
        Ok(self.root.join(checked(location)?))
    }
}

fn io(e: std::io::Error) -> LabelStoreError {
    LabelStoreError(e.kind().to_string())
}

#[async_trait]
impl LabelStore for FileLabelStore {
    async fn put(&self, location: &str, sealed: Vec<u8>) -> Result<(), LabelStoreError> {
        let path = self.path(location)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        // Written beside, then renamed: a crash never leaves half a document under the name.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, sealed).await.map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)
    }

    async fn get(&self, location: &str) -> Result<Option<Vec<u8>>, LabelStoreError> {
        match tokio::fs::read(self.path(location)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn delete(&self, location: &str) -> Result<(), LabelStoreError> {
        match tokio::fs::remove_file(self.path(location)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

/// Erases label copies for the purger and the account cancellation: kind `label`.
pub struct LabelEraser {
    pub store: std::sync::Arc<dyn LabelStore>,
}

#[async_trait]
impl rc_privacy::CopyEraser for LabelEraser {
    fn kind(&self) -> &'static str {
        crate::LABEL_COPY
    }

    fn store(&self) -> &'static str {
        self.store.kind()
    }

    async fn erase(&self, _merchant: &rc_domain::MerchantId, location: &str) -> Result<(), String> {
        self.store.delete(location).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_locations_are_used() {
        assert!(checked("labels/m-1/order-1.1/1").is_ok());
        for bad in [
            "labels/../etc/passwd",
            "/etc/passwd",
            "labels/a b",
            "other/x",
            "labels/%2e",
        ] {
            assert!(checked(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn files_are_written_whole_read_back_and_deleted_once_or_twice() {
        let dir = std::env::temp_dir().join(format!("rc-labels-{}", std::process::id()));
        let store = FileLabelStore::new(&dir);
        store
            .put("labels/m/o.1/1", b"sealed".to_vec())
            .await
            .expect("put");
        assert_eq!(
            store.get("labels/m/o.1/1").await.expect("get"),
            Some(b"sealed".to_vec())
        );
        store.delete("labels/m/o.1/1").await.expect("delete");
        store
            .delete("labels/m/o.1/1")
            .await
            .expect("deleting again is fine");
        assert_eq!(store.get("labels/m/o.1/1").await.expect("get"), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
