//! Where export files live: one port ([`ExportFiles`]) for a multipart upload (parts written as
//! they fill, completed at the end, aborted on a restart), reading a file back for its digest,
//! deleting it, and minting a download link valid at most [`MAX_LINK_SECONDS`]. S3 in AWS
//! (`s3.rs`), files in the data directory locally ([`LocalExportFiles`], whose links are signed
//! by this host and checked when served).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_lc_rs::digest::{Context, SHA256, digest};
use aws_lc_rs::hmac;
use bytes::Bytes;
use rc_domain::MerchantId;

/// The longest a download link is valid: 15 minutes.
pub const MAX_LINK_SECONDS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
#[error("export storage: {0}")]
pub struct FilesError(pub String);

/// The storage key of an export's file: under its merchant's prefix.
pub fn file_key(merchant: &MerchantId, export: &str, extension: &str) -> String {
    format!("exports/{merchant}/{export}.{extension}")
}

/// Keys are ours; anything else (a `..`, a character outside the alphabet) is refused.
pub(crate) fn checked(key: &str) -> Result<&str, FilesError> {
    let ok = key.starts_with("exports/")
        && !key.contains("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if ok {
        Ok(key)
    } else {
        Err(FilesError("not an export key".into()))
    }
}

#[async_trait]
pub trait ExportFiles: Send + Sync {
    /// Starts a multipart upload of `key`; its upload id.
    async fn begin(
        &self,
        merchant: &MerchantId,
        key: &str,
        content_type: &str,
    ) -> Result<String, FilesError>;
    /// Uploads part `number` (from 1); its entity tag. The bytes are shared, not copied: an
    /// implementation drops its handles when it returns, so the caller can reuse the memory.
    async fn put_part(
        &self,
        key: &str,
        upload: &str,
        number: u32,
        bytes: Bytes,
    ) -> Result<String, FilesError>;
    /// Makes the file from its parts, in order. Before this, nothing is readable at `key`.
    async fn complete(
        &self,
        key: &str,
        upload: &str,
        parts: &[(u32, String)],
    ) -> Result<(), FilesError>;
    /// Drops an unfinished upload and its parts (a restart, a failure).
    async fn abort(&self, key: &str, upload: &str) -> Result<(), FilesError>;
    /// The file's SHA-256 (hex) and size, read back in constant memory; `None` if absent.
    async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, FilesError>;
    /// Deletes the file (absent is no error).
    async fn delete(&self, key: &str) -> Result<(), FilesError>;
    /// A link to download the file as `filename`, valid `seconds` (at most
    /// [`MAX_LINK_SECONDS`]), minted now and never stored.
    async fn link(&self, key: &str, seconds: i64, filename: &str) -> Result<String, FilesError>;
}

/// Export files on this machine, under `dir`; links served by the local host at
/// `{base}/exports/download/{key}?expires=&signature=`.
pub struct LocalExportFiles {
    dir: PathBuf,
    base: String,
    /// Signs links (random per data directory, kept in `link.key`, 0600).
    link_key: hmac::Key,
    clock: std::sync::Arc<dyn rc_domain::Clock>,
}

fn io(e: std::io::Error) -> FilesError {
    FilesError(format!("local files: {}", e.kind()))
}

impl LocalExportFiles {
    /// Opens (creating) the export directory and its link key.
    pub fn open(
        dir: &Path,
        base: impl Into<String>,
        clock: std::sync::Arc<dyn rc_domain::Clock>,
    ) -> Result<Self, FilesError> {
        std::fs::create_dir_all(dir.join("uploads")).map_err(io)?;
        let key_path = dir.join("link.key");
        let key = match std::fs::read(&key_path) {
            Ok(key) if key.len() == 32 => key,
            _ => {
                let mut key = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut key).map_err(|_| FilesError("randomness".into()))?;
                write_private(&key_path, &key)?;
                key
            }
        };
        Ok(Self {
            dir: dir.to_owned(),
            base: base.into(),
            link_key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            clock,
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, FilesError> {
        Ok(self.dir.join(checked(key)?))
    }

    fn upload_dir(&self, upload: &str) -> Result<PathBuf, FilesError> {
        if upload.len() == 32 && upload.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(self.dir.join("uploads").join(upload))
        } else {
            Err(FilesError("not an upload id".into()))
        }
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        let message = format!("{key}\n{expires}");
        rc_domain::to_hex(hmac::sign(&self.link_key, message.as_bytes()).as_ref())
    }

    /// The file a served link names, if the link is this host's, unexpired, and was minted for
    /// at most 15 minutes (a link cannot be made to last longer by editing it: the signature
    /// covers the expiry).
    pub fn open_link(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> Result<PathBuf, LinkRefused> {
        let now = self.clock.now().unix_timestamp();
        let Ok(tag) = hex_bytes(signature) else {
            return Err(LinkRefused::BadSignature);
        };
        let message = format!("{key}\n{expires}");
        hmac::verify(&self.link_key, message.as_bytes(), &tag)
            .map_err(|_| LinkRefused::BadSignature)?;
        if expires < now {
            return Err(LinkRefused::Expired);
        }
        if expires - now > MAX_LINK_SECONDS {
            return Err(LinkRefused::TooLong);
        }
        let path = self.path(key).map_err(|_| LinkRefused::BadSignature)?;
        if path.is_file() {
            Ok(path)
        } else {
            Err(LinkRefused::Gone)
        }
    }
}

/// Why a served link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    BadSignature,
    Expired,
    TooLong,
    /// The file was deleted (expired, deleted on request, or with the account).
    Gone,
}

fn hex_bytes(hex: &str) -> Result<Vec<u8>, ()> {
    // Checked as ASCII hex first: slicing below must never split a multi-byte character (a
    // link's signature is whatever the caller sent).
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| ()))
        .collect()
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FilesError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[async_trait]
impl ExportFiles for LocalExportFiles {
    async fn begin(&self, _: &MerchantId, key: &str, _: &str) -> Result<String, FilesError> {
        checked(key)?;
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| FilesError("randomness".into()))?;
        let upload = rc_domain::to_hex(&random);
        std::fs::create_dir_all(self.upload_dir(&upload)?).map_err(io)?;
        Ok(upload)
    }

    async fn put_part(
        &self,
        key: &str,
        upload: &str,
        number: u32,
        bytes: Bytes,
    ) -> Result<String, FilesError> {
        checked(key)?;
        let tag = rc_domain::to_hex(digest(&SHA256, &bytes).as_ref());
        write_private(
            &self.upload_dir(upload)?.join(format!("{number:05}")),
            &bytes,
        )?;
        Ok(tag)
    }

    async fn complete(
        &self,
        key: &str,
        upload: &str,
        parts: &[(u32, String)],
    ) -> Result<(), FilesError> {
        use std::io::Write;
        let target = self.path(key)?;
        let dir = self.upload_dir(upload)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // Written beside the target and renamed: the file appears whole or not at all.
        let temporary = dir.join("complete");
        let mut out = std::fs::File::create(&temporary).map_err(io)?;
        // Copied through one small chunk (a part is never held whole) and checked as it goes.
        let mut chunk = vec![0u8; 64 * 1024];
        for (number, tag) in parts {
            use std::io::Read;
            let mut part = std::fs::File::open(dir.join(format!("{number:05}"))).map_err(io)?;
            let mut context = Context::new(&SHA256);
            loop {
                let n = part.read(&mut chunk).map_err(io)?;
                if n == 0 {
                    break;
                }
                context.update(&chunk[..n]);
                out.write_all(&chunk[..n]).map_err(io)?;
            }
            if rc_domain::to_hex(context.finish().as_ref()) != *tag {
                return Err(FilesError("a part changed after it was uploaded".into()));
            }
        }
        out.sync_all().map_err(io)?;
        std::fs::rename(&temporary, &target).map_err(io)?;
        std::fs::remove_dir_all(&dir).map_err(io)
    }

    async fn abort(&self, _: &str, upload: &str) -> Result<(), FilesError> {
        match std::fs::remove_dir_all(self.upload_dir(upload)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, FilesError> {
        use std::io::Read;
        let mut file = match std::fs::File::open(self.path(key)?) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut context = Context::new(&SHA256);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            context.update(&chunk[..n]);
        }
        Ok(Some((rc_domain::to_hex(context.finish().as_ref()), size)))
    }

    async fn delete(&self, key: &str) -> Result<(), FilesError> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    async fn link(&self, key: &str, seconds: i64, _: &str) -> Result<String, FilesError> {
        checked(key)?;
        let seconds = seconds.clamp(1, MAX_LINK_SECONDS);
        let expires = self.clock.now().unix_timestamp() + seconds;
        Ok(format!(
            "{}/exports/download/{key}?expires={expires}&signature={}",
            self.base.trim_end_matches('/'),
            self.signature(key, expires)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::{Clock, ManualClock};
    use std::sync::Arc;

    fn files() -> (LocalExportFiles, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let clock = Arc::new(ManualClock::at(
            time::macros::datetime!(2026-11-30 10:00 UTC),
        ));
        let files = LocalExportFiles::open(dir.path(), "http://127.0.0.1:8080", clock.clone())
            .expect("open");
        (files, clock, dir)
    }

    fn query(link: &str) -> (String, i64, String) {
        let (path, query) = link.split_once('?').expect("query");
        let key = path
            .split("/exports/download/")
            .nth(1)
            .expect("key")
            .to_owned();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().expect("number"),
                Some(("signature", v)) => signature = v.to_owned(),
                _ => {}
            }
        }
        (key, expires, signature)
    }

    #[tokio::test]
    async fn a_file_appears_whole_at_completion_and_links_expire() {
        let (files, clock, _dir) = files();
        let merchant = MerchantId::parse("m1").expect("merchant");
        let key = file_key(&merchant, "x1", "csv");
        let upload = files
            .begin(&merchant, &key, "text/csv")
            .await
            .expect("begin");
        let one = files
            .put_part(&key, &upload, 1, Bytes::from_static(b"a,b\r\n"))
            .await
            .expect("part");
        let two = files
            .put_part(&key, &upload, 2, Bytes::from_static(b"1,2\r\n"))
            .await
            .expect("part");
        assert_eq!(
            files.digest(&key).await.expect("digest"),
            None,
            "not before"
        );
        files
            .complete(&key, &upload, &[(1, one), (2, two)])
            .await
            .expect("complete");
        let (sha, size) = files.digest(&key).await.expect("digest").expect("there");
        assert_eq!(size, 10);
        assert_eq!(
            sha,
            rc_domain::to_hex(digest(&SHA256, b"a,b\r\n1,2\r\n").as_ref())
        );

        let link = files.link(&key, 3600, "orders.csv").await.expect("link");
        let (linked, expires, signature) = query(&link);
        assert_eq!(linked, key);
        assert_eq!(
            expires,
            clock.now().unix_timestamp() + MAX_LINK_SECONDS,
            "never minted longer than 15 minutes"
        );
        assert!(files.open_link(&key, expires, &signature).is_ok());
        assert_eq!(
            files.open_link(&key, expires + 60, &signature).err(),
            Some(LinkRefused::BadSignature),
            "the expiry is signed"
        );
        clock.advance(time::Duration::minutes(16));
        assert_eq!(
            files.open_link(&key, expires, &signature).err(),
            Some(LinkRefused::Expired)
        );
        files.delete(&key).await.expect("delete");
        let fresh = files.link(&key, 60, "orders.csv").await.expect("link");
        let (_, expires, signature) = query(&fresh);
        assert_eq!(
            files.open_link(&key, expires, &signature).err(),
            Some(LinkRefused::Gone)
        );
        assert_eq!(
            files.open_link(&key, expires, &"é".repeat(32)).err(),
            Some(LinkRefused::BadSignature),
            "a non-hex signature is refused, never sliced"
        );
        assert!(checked("exports/../root.key").is_err());
        assert!(checked("labels/x").is_err());
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_nothing() {
        let (files, _clock, dir) = files();
        let merchant = MerchantId::parse("m1").expect("merchant");
        let key = file_key(&merchant, "x2", "csv");
        let upload = files
            .begin(&merchant, &key, "text/csv")
            .await
            .expect("begin");
        files
            .put_part(&key, &upload, 1, Bytes::from(vec![b'x'; 10]))
            .await
            .expect("part");
        files.abort(&key, &upload).await.expect("abort");
        assert_eq!(files.digest(&key).await.expect("digest"), None);
        assert_eq!(
            std::fs::read_dir(dir.path().join("uploads"))
                .expect("dir")
                .count(),
            0
        );
    }
}
