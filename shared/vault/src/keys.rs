use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::VaultError;

pub const KEY_LEN: usize = 32;

/// 256 bits of key material, zeroed when dropped. No `Debug`, `Clone` or `Serialize`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KeyBytes(pub(crate) [u8; KEY_LEN]);

impl KeyBytes {
    pub fn random() -> Result<Self, VaultError> {
        let mut bytes = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| VaultError::Randomness)?;
        Ok(Self(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(array))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn key_bytes_are_zeroed_when_dropped() {
        let mut slot = std::mem::ManuallyDrop::new(KeyBytes([0xAB; KEY_LEN]));
        let location: *const [u8; KEY_LEN] = &slot.0;
        // SAFETY: runs KeyBytes' destructor in place; the storage stays owned by `slot` (this
        // stack frame), so reading the bytes afterwards reads valid, initialised memory.
        unsafe { std::mem::ManuallyDrop::drop(&mut slot) };
        let after = unsafe { std::ptr::read_volatile(location) };
        assert_eq!(after, [0u8; KEY_LEN]);
    }
}
