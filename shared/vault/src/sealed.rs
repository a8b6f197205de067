//! The stored form of a sealed value: `format (1) || data key version (4, big endian) || nonce ||
//! ciphertext || tag`.

use crate::VaultError;
use crate::aead::OVERHEAD;

const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 5;

/// A sealed value as stored. Its bytes are ciphertext: safe to store, log sizes of, or copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed(<{} bytes>)", self.0.len())
    }
}

impl Sealed {
    /// The header a value sealed under data key `key_version` starts with.
    pub(crate) fn header(key_version: u32) -> [u8; HEADER_LEN] {
        let v = key_version.to_be_bytes();
        [FORMAT_V1, v[0], v[1], v[2], v[3]]
    }

    /// Bytes that begin with [`Sealed::header`] followed by `nonce || ciphertext || tag`.
    pub(crate) fn from_sealed(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Parses stored bytes; refuses anything that cannot be a sealed value.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VaultError> {
        match bytes.first() {
            None => Err(VaultError::Malformed("empty")),
            Some(&FORMAT_V1) if bytes.len() >= HEADER_LEN + OVERHEAD => Ok(Self(bytes)),
            Some(&FORMAT_V1) => Err(VaultError::Malformed("truncated")),
            Some(_) => Err(VaultError::Malformed("unknown format")),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    pub(crate) fn key_version(&self) -> u32 {
        u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]])
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.0[HEADER_LEN..]
    }
}
