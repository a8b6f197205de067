//! The vault: RetailCoder's key hierarchy and the sealing of PII.
//!
//! ```text
//! root key (KMS, or a local key file)            never leaves KMS / the file
//!   └─ merchant key-encryption key (KEK)         wrapped by the root, context {merchant}
//!        └─ subject data key (one per order,      wrapped by the KEK, bound to merchant+subject
//!           per channel connection)
//!             └─ sealed values (AES-256-GCM)      bound to merchant+subject+field+key version
//! ```
//!
//! Destroying a data key makes every copy of that subject's sealed values unreadable (table
//! backups, exports, object versions); destroying a KEK does the same for a whole merchant.
//! Wrapped keys live in their own table, which has no backups, so destruction is final.

mod aead;
mod cache;
mod error;
mod keys;
mod root;
mod sealed;
mod vault;

pub use cache::CachePolicy;
pub use error::VaultError;
pub use keys::KeyBytes;
pub use root::{FileRoot, KmsRoot, RootKey};
pub use sealed::Sealed;
pub use vault::{KeySubject, SubjectKey, Vault};
