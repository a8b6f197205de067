//! Root keys: the top of the hierarchy. In AWS it is a KMS key that never leaves KMS; locally, a
//! key file. Everything below the root is the same code in both.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use rc_domain::MerchantId;

use crate::VaultError;
use crate::aead;
use crate::keys::{KEY_LEN, KeyBytes};

/// Wraps and unwraps merchant key-encryption keys, bound to the merchant.
#[async_trait]
pub trait RootKey: Send + Sync {
    /// A fresh merchant key: its plaintext and its wrapped form.
    async fn new_merchant_key(
        &self,
        merchant: &MerchantId,
    ) -> Result<(KeyBytes, Vec<u8>), VaultError>;

    async fn unwrap_merchant_key(
        &self,
        merchant: &MerchantId,
        wrapped: &[u8],
    ) -> Result<KeyBytes, VaultError>;

    /// Stored next to wrapped keys, so a key wrapped by one kind of root is never handed to another.
    fn kind(&self) -> &'static str;
}

/// The KMS encryption context: KMS refuses to decrypt under any other, and CloudTrail records it,
/// so every use of a merchant's key is attributable to that merchant.
fn encryption_context(merchant: &MerchantId) -> HashMap<String, String> {
    HashMap::from([
        ("rc:merchant".to_owned(), merchant.as_str().to_owned()),
        ("rc:purpose".to_owned(), "merchant-kek".to_owned()),
    ])
}

/// A root key held in AWS KMS.
pub struct KmsRoot {
    client: Client,
    key_id: String,
}

impl KmsRoot {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

fn kms_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> VaultError {
    match &e {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("InvalidCiphertextException" | "IncorrectKeyException") => {
                VaultError::RootKeyRefused
            }
            code => VaultError::RootKeyUnavailable(format!("kms: {}", code.unwrap_or("unknown"))),
        },
        _ => VaultError::RootKeyUnavailable(format!("kms: {}", DisplayErrorContext(&e))),
    }
}

#[async_trait]
impl RootKey for KmsRoot {
    async fn new_merchant_key(
        &self,
        merchant: &MerchantId,
    ) -> Result<(KeyBytes, Vec<u8>), VaultError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(encryption_context(merchant)))
            .send()
            .await
            .map_err(kms_error)?;
        let plaintext = out
            .plaintext
            // The SDK hands the plaintext key over in a buffer of its own: zeroed once copied.
            .map(|blob| zeroize::Zeroizing::new(blob.into_inner()))
            .and_then(|plaintext| KeyBytes::from_slice(&plaintext))
            .ok_or(VaultError::RootKeyUnavailable(
                "kms: no 256-bit plaintext key".into(),
            ))?;
        let wrapped = out
            .ciphertext_blob
            .ok_or(VaultError::RootKeyUnavailable("kms: no ciphertext".into()))?
            .into_inner();
        Ok((plaintext, wrapped))
    }

    async fn unwrap_merchant_key(
        &self,
        merchant: &MerchantId,
        wrapped: &[u8],
    ) -> Result<KeyBytes, VaultError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(encryption_context(merchant)))
            .send()
            .await
            .map_err(kms_error)?;
        out.plaintext
            // The SDK hands the plaintext key over in a buffer of its own: zeroed once copied.
            .map(|blob| zeroize::Zeroizing::new(blob.into_inner()))
            .and_then(|plaintext| KeyBytes::from_slice(&plaintext))
            .ok_or(VaultError::RootKeyUnavailable(
                "kms: no 256-bit plaintext key".into(),
            ))
    }

    fn kind(&self) -> &'static str {
        "kms"
    }
}

const FILE_MAGIC: &[u8; 8] = b"RCROOT01";

/// A root key in a local file (the embedded default): `RCROOT01` followed by 32 random bytes,
/// created with mode 0600 on first use.
pub struct FileRoot {
    key: aead::AeadKey,
}

impl FileRoot {
    /// Opens the key file, creating it if it does not exist. Refuses a file that is corrupt or
    /// readable by other users: the root key protects every merchant's PII.
    pub fn open_or_create(path: &Path) -> Result<Self, VaultError> {
        let problem = |what: String| VaultError::RootKeyFile {
            path: path.display().to_string(),
            problem: what,
        };
        // The file's bytes are the root key: zeroed when dropped.
        match std::fs::read(path).map(zeroize::Zeroizing::new) {
            Ok(bytes) => {
                check_private(path).map_err(problem)?;
                Self::parse(&bytes).map_err(|p| problem(p.into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::create(path).map_err(|e| problem(e.to_string()))
            }
            Err(e) => Err(problem(e.to_string())),
        }
    }

    fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let key = bytes
            .strip_prefix(FILE_MAGIC)
            .ok_or("not a RetailCoder root key file (bad header)")?;
        let key = KeyBytes::from_slice(key).ok_or("corrupt: wrong length")?;
        let key = aead::AeadKey::new(&key).map_err(|_| "corrupt: unusable key")?;
        Ok(Self { key })
    }

    fn create(path: &Path) -> std::io::Result<Self> {
        let key = KeyBytes::random().map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut contents = zeroize::Zeroizing::new(Vec::with_capacity(FILE_MAGIC.len() + KEY_LEN));
        contents.extend_from_slice(FILE_MAGIC);
        contents.extend_from_slice(key.as_bytes());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Written to a temporary name and renamed, so a crash never leaves a half-written key.
        let temporary = PathBuf::from(format!("{}.partial", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(&contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        let key = aead::AeadKey::new(&key).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self { key })
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "readable by other users (mode {:o}); run chmod 600 on it",
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

fn file_aad(merchant: &MerchantId) -> Vec<u8> {
    [
        b"rc/merchant-kek/v1\0".as_slice(),
        merchant.as_str().as_bytes(),
    ]
    .concat()
}

#[async_trait]
impl RootKey for FileRoot {
    async fn new_merchant_key(
        &self,
        merchant: &MerchantId,
    ) -> Result<(KeyBytes, Vec<u8>), VaultError> {
        let kek = KeyBytes::random()?;
        let wrapped = aead::seal(&self.key, &file_aad(merchant), kek.as_bytes())?;
        Ok((kek, wrapped))
    }

    async fn unwrap_merchant_key(
        &self,
        merchant: &MerchantId,
        wrapped: &[u8],
    ) -> Result<KeyBytes, VaultError> {
        let plaintext =
            aead::open(&self.key, &file_aad(merchant), wrapped).map_err(|e| match e {
                VaultError::Tampered => VaultError::RootKeyRefused,
                other => other,
            })?;
        KeyBytes::from_slice(&plaintext).ok_or(VaultError::Malformed("merchant key length"))
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}
