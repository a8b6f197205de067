//! AES-256-GCM through aws-lc-rs, with a fresh random 96-bit nonce per message. At our volumes
//! (far below 2^32 messages per key: one key per order) random nonces are safe.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::VaultError;
use crate::keys::KeyBytes;

pub const TAG_LEN: usize = 16;
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A key ready for AES-256-GCM: the key schedule is computed once, not per message (that alone
/// was most of the cost of sealing). aws-lc keeps the schedule in memory it cleanses when freed
/// (`OPENSSL_free` zeroizes), and the raw [`KeyBytes`] it was made from are zeroized on drop.
pub struct AeadKey(LessSafeKey);

impl AeadKey {
    pub fn new(bytes: &KeyBytes) -> Result<Self, VaultError> {
        UnboundKey::new(&AES_256_GCM, bytes.as_bytes())
            .map(|k| Self(LessSafeKey::new(k)))
            .map_err(|_| VaultError::Malformed("key length"))
    }
}

/// Returns `nonce || ciphertext || tag`.
pub fn seal(key: &AeadKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    seal_after(key, aad, plaintext, &[])
}

/// Returns `prefix || nonce || ciphertext || tag`, in one allocation (a 2 MB label is sealed
/// without a second 2 MB copy).
pub fn seal_after(
    key: &AeadKey,
    aad: &[u8],
    plaintext: &[u8],
    prefix: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let key = &key.0;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| VaultError::Randomness)?;
    let start = prefix.len() + NONCE_LEN;
    let mut out = Vec::with_capacity(start + plaintext.len() + TAG_LEN);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[start..],
        )
        .map_err(|_| VaultError::Randomness)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens `nonce || ciphertext || tag`; any change to it or to `aad` fails.
pub fn open(
    key: &AeadKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
    if sealed.len() < OVERHEAD {
        return Err(VaultError::Malformed("too short"));
    }
    let key = &key.0;
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Malformed("nonce"))?;
    let mut buffer = zeroize::Zeroizing::new(body.to_vec());
    let plaintext_len = key
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| VaultError::Tampered)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}
