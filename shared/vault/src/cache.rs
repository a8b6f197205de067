//! The in-memory cache of unwrapped merchant keys. It is what makes KMS cost per order near zero:
//! one root call per merchant per cache lifetime, however many orders. Bounded in time and in
//! uses, so a destroyed or rotated key stops being used soon, and a leaked process image holds
//! few keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rc_domain::MerchantId;
use time::{Duration, OffsetDateTime};

use crate::aead::AeadKey;

#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub max_age: Duration,
    pub max_uses: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::minutes(5),
            max_uses: 100_000,
        }
    }
}

pub(crate) struct CachedKek {
    pub key: Arc<AeadKey>,
    pub version: u32,
    loaded_at: OffsetDateTime,
    uses: u64,
}

impl CachedKek {
    pub fn new(key: AeadKey, version: u32, now: OffsetDateTime) -> Self {
        Self {
            key: Arc::new(key),
            version,
            loaded_at: now,
            uses: 0,
        }
    }

    /// Takes one use if the entry is still within the policy.
    pub fn take(
        &mut self,
        policy: &CachePolicy,
        now: OffsetDateTime,
    ) -> Option<(Arc<AeadKey>, u32)> {
        let fresh = now - self.loaded_at < policy.max_age && self.uses < policy.max_uses;
        if !fresh {
            return None;
        }
        self.uses += 1;
        Some((Arc::clone(&self.key), self.version))
    }
}

/// One slot per merchant; the async mutex inside a slot makes concurrent misses for the same
/// merchant wait for one root call instead of each making their own.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<CachedKek>>>;

#[derive(Default)]
pub(crate) struct KekCache {
    slots: Mutex<HashMap<MerchantId, Slot>>,
}

impl KekCache {
    pub fn slot(&self, merchant: &MerchantId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(merchant.clone()).or_default())
    }

    pub fn evict(&self, merchant: &MerchantId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(merchant);
    }
}
