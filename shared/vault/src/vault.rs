use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rc_domain::{Clock, MerchantId, OrderId, Pii, RevealPurpose, Sealable, SealedField};
use rc_store::{Item, ItemKey, Store, StoreError, Value};
use zeroize::Zeroizing;

use crate::aead::AeadKey;
use crate::cache::{CachePolicy, CachedKek, KekCache};
use crate::keys::KeyBytes;
use crate::root::RootKey;
use crate::{Sealed, VaultError, aead};

/// Merchant keys are version 1 until rotation exists; the version is bound into every wrapped
/// data key and sealed value so rotation can be added without ambiguity.
const MERCHANT_KEY_VERSION: u32 = 1;
/// Data keys are never rotated (a subject gets one key for life), so their version is fixed.
const DATA_KEY_VERSION: u32 = 1;
/// Data keys deleted per round trip when a merchant is destroyed.
const DESTROY_PAGE: usize = 500;
/// An order's data key expires (DynamoDB TTL on the key table) this long after it was made, even
/// if the purger never runs: past every deadline an order can have (placed + 90 days), plus a
/// week for the purger to do it first and leave a receipt.
const ORDER_KEY_BACKSTOP: time::Duration =
    time::Duration::days(rc_domain::UNSHIPPED_LIMIT_DAYS as i64 + 7);

/// What a data key protects: one order, or one channel connection's secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeySubject {
    name: String,
    /// How long the key may live at most (its TTL), if bounded.
    lifetime: Option<time::Duration>,
}

impl KeySubject {
    pub fn order(order: &OrderId) -> Self {
        Self {
            name: format!("order.{order}"),
            lifetime: Some(ORDER_KEY_BACKSTOP),
        }
    }

    /// A channel connection, e.g. (`"shopify"`, `"demo-shop.myshopify.com"`). The reference must
    /// use the identifier alphabet (letters, digits, `-`, `_`, `.`).
    pub fn connection(channel: &str, reference: &str) -> Result<Self, VaultError> {
        let safe = |s: &str| {
            !s.is_empty()
                && s.len() <= 255
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !safe(channel) || !safe(reference) {
            return Err(VaultError::Malformed("connection reference"));
        }
        Ok(Self {
            name: format!("conn.{channel}.{reference}"),
            lifetime: None,
        })
    }

    /// The merchant's own profile (its billing contact): erased with the account.
    pub fn merchant_profile() -> Self {
        Self {
            name: "profile".into(),
            lifetime: None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

fn merchant_partition(merchant: &MerchantId) -> String {
    format!("MERCHANT#{merchant}")
}

fn merchant_key_item(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), "KEK")
}

/// The key table's list of closed (cancelled) merchants: the key table is never backed up, so
/// this list survives a restore of the data table and tells the privacy run whom to remove again.
const CLOSED_MERCHANTS: &str = "CLOSED#merchants";

fn closed_entry(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(CLOSED_MERCHANTS, merchant.as_str())
}

fn data_key_item(merchant: &MerchantId, subject: &KeySubject) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("DEK#{}", subject.as_str()),
    )
}

/// Associated data binding a wrapped data key to its merchant, subject and merchant key version.
fn data_key_aad(merchant: &MerchantId, subject: &KeySubject, kek_version: u32) -> Vec<u8> {
    let mut aad = b"rc/dek/v1\0".to_vec();
    aad.extend_from_slice(merchant.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(subject.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(&kek_version.to_be_bytes());
    aad
}

/// The vault: creates, caches, uses and destroys keys. Cheap to share (`Arc<Vault>`).
pub struct Vault {
    root: Arc<dyn RootKey>,
    keys: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache: KekCache,
    /// Merchants seen closed (see [`Vault::is_closed`]).
    closed: std::sync::Mutex<std::collections::HashSet<MerchantId>>,
    policy: CachePolicy,
    root_calls: AtomicU64,
}

impl Vault {
    /// `keys` is the key table: its own table, with no backups.
    pub fn new(root: Arc<dyn RootKey>, keys: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_cache_policy(root, keys, clock, CachePolicy::default())
    }

    pub fn with_cache_policy(
        root: Arc<dyn RootKey>,
        keys: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: CachePolicy,
    ) -> Self {
        Self {
            root,
            keys,
            clock,
            cache: KekCache::default(),
            closed: std::sync::Mutex::new(std::collections::HashSet::new()),
            policy,
            root_calls: AtomicU64::new(0),
        }
    }

    /// Calls made to the root key (KMS) by this vault since it was created.
    pub fn root_calls(&self) -> u64 {
        self.root_calls.load(Ordering::Relaxed)
    }

    /// The merchant's key, from the cache or the key table; created only if `create`.
    async fn merchant_key(
        &self,
        merchant: &MerchantId,
        create: bool,
    ) -> Result<(Arc<AeadKey>, u32), VaultError> {
        let slot = self.cache.slot(merchant);
        let mut cached = slot.lock().await;
        let now = self.clock.now();
        if let Some(hit) = cached.as_mut().and_then(|c| c.take(&self.policy, now)) {
            return Ok(hit);
        }
        let key = match self.unwrap_stored_merchant_key(merchant).await? {
            Some(key) => key,
            None if create => self.create_merchant_key(merchant).await?,
            None => return Err(VaultError::MerchantKeyMissing),
        };
        let mut entry = CachedKek::new(AeadKey::new(&key)?, MERCHANT_KEY_VERSION, now);
        let taken = entry
            .take(&self.policy, now)
            .ok_or(VaultError::Malformed("cache policy allows no use"))?;
        *cached = Some(entry);
        Ok(taken)
    }

    async fn unwrap_stored_merchant_key(
        &self,
        merchant: &MerchantId,
    ) -> Result<Option<KeyBytes>, VaultError> {
        let Some(item) = self.keys.get(&merchant_key_item(merchant)).await? else {
            return Ok(None);
        };
        if item.number("destroyed_at").is_some() {
            return Err(VaultError::MerchantClosed);
        }
        if item.string("root") != Some(self.root.kind()) {
            // Wrapped by another kind of root (a local key file vs KMS): never try to use it.
            return Err(VaultError::RootKeyRefused);
        }
        let wrapped = item
            .bytes("wrapped")
            .ok_or(VaultError::Malformed("merchant key item"))?;
        self.root_calls.fetch_add(1, Ordering::Relaxed);
        self.root
            .unwrap_merchant_key(merchant, wrapped)
            .await
            .map(Some)
    }

    async fn create_merchant_key(&self, merchant: &MerchantId) -> Result<KeyBytes, VaultError> {
        self.root_calls.fetch_add(1, Ordering::Relaxed);
        let (key, wrapped) = self.root.new_merchant_key(merchant).await?;
        let item = Item::new(merchant_key_item(merchant))
            .with("wrapped", Value::B(wrapped))
            .with("root", Value::S(self.root.kind().into()))
            .with("key_version", Value::N(i64::from(MERCHANT_KEY_VERSION)))
            .with("created_at", Value::N(self.clock.now().unix_timestamp()));
        match self.keys.create(item).await {
            Ok(()) => Ok(key),
            // Another process created it first: use theirs, so there is only ever one.
            Err(StoreError::AlreadyExists) => self
                .unwrap_stored_merchant_key(merchant)
                .await?
                .ok_or(VaultError::MerchantKeyMissing),
            Err(e) => Err(e.into()),
        }
    }

    /// The subject's data key for sealing: created (with the merchant key, if needed) on first use.
    pub async fn key_for_sealing(
        &self,
        merchant: &MerchantId,
        subject: &KeySubject,
    ) -> Result<SubjectKey, VaultError> {
        let (kek, kek_version) = self.merchant_key(merchant, true).await?;
        // Create first, read only on conflict: almost every subject sealed is new (a new order),
        // so this is one write per order instead of a read and a write.
        let data_key = KeyBytes::random()?;
        let aad = data_key_aad(merchant, subject, kek_version);
        let wrapped = aead::seal(&kek, &aad, data_key.as_bytes())?;
        let now = self.clock.now();
        let mut item = Item::new(data_key_item(merchant, subject))
            .with("wrapped", Value::B(wrapped))
            .with("kek_version", Value::N(i64::from(kek_version)))
            .with("created_at", Value::N(now.unix_timestamp()));
        item.expires_at = subject.lifetime.map(|l| (now + l).unix_timestamp());
        match self.keys.create(item).await {
            Ok(()) => Ok(SubjectKey {
                merchant: merchant.clone(),
                subject: subject.clone(),
                key: AeadKey::new(&data_key)?,
            }),
            Err(StoreError::AlreadyExists) => self
                .load_data_key(merchant, subject, &kek, kek_version)
                .await?
                .ok_or(VaultError::KeyDestroyed),
            Err(e) => Err(e.into()),
        }
    }

    /// The subject's existing data key, for opening. Fails with [`VaultError::KeyDestroyed`]
    /// once it has been destroyed.
    pub async fn key_for_opening(
        &self,
        merchant: &MerchantId,
        subject: &KeySubject,
    ) -> Result<SubjectKey, VaultError> {
        let (kek, kek_version) = match self.merchant_key(merchant, false).await {
            Err(VaultError::MerchantKeyMissing | VaultError::MerchantClosed) => {
                return Err(VaultError::KeyDestroyed);
            }
            other => other?,
        };
        self.load_data_key(merchant, subject, &kek, kek_version)
            .await?
            .ok_or(VaultError::KeyDestroyed)
    }

    async fn load_data_key(
        &self,
        merchant: &MerchantId,
        subject: &KeySubject,
        kek: &AeadKey,
        kek_version: u32,
    ) -> Result<Option<SubjectKey>, VaultError> {
        let Some(item) = self.keys.get(&data_key_item(merchant, subject)).await? else {
            return Ok(None);
        };
        let wrapped = item
            .bytes("wrapped")
            .ok_or(VaultError::Malformed("data key item"))?;
        let stored_version = item
            .number("kek_version")
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(VaultError::Malformed("data key item"))?;
        if stored_version != kek_version {
            return Err(VaultError::Malformed(
                "data key wrapped by an unknown merchant key version",
            ));
        }
        let plaintext = aead::open(kek, &data_key_aad(merchant, subject, kek_version), wrapped)?;
        let key =
            KeyBytes::from_slice(&plaintext).ok_or(VaultError::Malformed("data key length"))?;
        Ok(Some(SubjectKey {
            merchant: merchant.clone(),
            subject: subject.clone(),
            key: AeadKey::new(&key)?,
        }))
    }

    /// Destroys one subject's data key: every sealed copy of its values becomes unreadable.
    /// Idempotent.
    pub async fn destroy_subject_key(
        &self,
        merchant: &MerchantId,
        subject: &KeySubject,
    ) -> Result<(), VaultError> {
        self.keys
            .delete(&data_key_item(merchant, subject), None)
            .await?;
        Ok(())
    }

    /// Destroys the merchant's key: from this moment no data key of the merchant can be unwrapped
    /// anywhere (table backups included, as the key table has none), so every sealed value of the
    /// merchant is unreadable at once. The key item becomes a tombstone, so no process can create
    /// a new merchant key afterwards ([`VaultError::MerchantClosed`]). Idempotent.
    pub async fn destroy_merchant_key(&self, merchant: &MerchantId) -> Result<(), VaultError> {
        let key = merchant_key_item(merchant);
        let tombstone = Item::new(key.clone())
            .with("destroyed_at", Value::N(self.clock.now().unix_timestamp()));
        loop {
            let result = match self.keys.get(&key).await? {
                Some(item) if item.number("destroyed_at").is_some() => Ok(()),
                Some(item) => self.keys.replace(tombstone.clone(), item.version).await,
                None => self.keys.create(tombstone.clone()).await,
            };
            match result {
                Ok(()) => break,
                // Created or replaced concurrently: look again.
                Err(StoreError::AlreadyExists | StoreError::StaleVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let entry = Item::new(closed_entry(merchant))
            .with("closed_at", Value::N(self.clock.now().unix_timestamp()));
        match self.keys.create(entry).await {
            Ok(()) | Err(StoreError::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
        self.cache.evict(merchant);
        self.closed().insert(merchant.clone());
        Ok(())
    }

    /// Whether the merchant's account is closed: decided by the key table alone (a tombstone in
    /// place of its key), never by the data table, so a restored data backup cannot reopen it.
    /// A closed answer is remembered (a tombstone is forever); an open one is read every time.
    pub async fn is_closed(&self, merchant: &MerchantId) -> Result<bool, VaultError> {
        if self.closed().contains(merchant) {
            return Ok(true);
        }
        let closed = self
            .keys
            .get(&merchant_key_item(merchant))
            .await?
            .is_some_and(|item| item.number("destroyed_at").is_some());
        if closed {
            self.closed().insert(merchant.clone());
        }
        Ok(closed)
    }

    fn closed(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<MerchantId>> {
        self.closed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closed merchants, a page at a time (from the key table's list).
    pub async fn closed_merchants(
        &self,
        limit: usize,
        after: Option<rc_store::PageToken>,
    ) -> Result<rc_store::Page<MerchantId>, VaultError> {
        let page = self
            .keys
            .query_partition(CLOSED_MERCHANTS, "", limit, after)
            .await?;
        Ok(rc_store::Page {
            items: page
                .items
                .iter()
                .filter_map(|item| MerchantId::parse(&item.key.sk).ok())
                .collect(),
            next: page.next,
        })
    }

    /// Deletes up to `max` of the merchant's (already unusable) data keys. Returns how many were
    /// deleted and whether any remain.
    pub async fn delete_data_keys(
        &self,
        merchant: &MerchantId,
        max: usize,
    ) -> Result<(u64, bool), VaultError> {
        let partition = merchant_partition(merchant);
        let mut deleted = 0;
        while (deleted as usize) < max {
            // Always the first page: the previous page's items are gone.
            let limit = DESTROY_PAGE.min(max - deleted as usize);
            let page = self
                .keys
                .query_partition(&partition, "DEK#", limit, None)
                .await?;
            if page.items.is_empty() {
                return Ok((deleted, false));
            }
            deleted += page.items.len() as u64;
            let keys = page.items.into_iter().map(|item| item.key).collect();
            self.keys.delete_many(keys).await?;
        }
        let rest = self
            .keys
            .query_partition(&partition, "DEK#", 1, None)
            .await?;
        Ok((deleted, !rest.items.is_empty()))
    }

    /// The merchant's key, then every data key. Returns how many data keys were deleted.
    /// Idempotent: a second call finds nothing and returns 0.
    pub async fn destroy_merchant_keys(&self, merchant: &MerchantId) -> Result<u64, VaultError> {
        self.destroy_merchant_key(merchant).await?;
        let mut total = 0;
        loop {
            let (deleted, more) = self.delete_data_keys(merchant, DESTROY_PAGE).await?;
            total += deleted;
            if !more {
                return Ok(total);
            }
        }
    }
}

/// One subject's unwrapped data key: seals and opens that subject's fields.
pub struct SubjectKey {
    merchant: MerchantId,
    subject: KeySubject,
    key: AeadKey,
}

impl SubjectKey {
    fn aad(&self, field: SealedField, version: u32) -> Vec<u8> {
        let mut aad = b"rc/sealed/v1\0".to_vec();
        aad.extend_from_slice(self.merchant.as_str().as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.subject.as_str().as_bytes());
        aad.push(0);
        aad.extend_from_slice(field.as_str().as_bytes());
        aad.push(0);
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }

    pub fn seal_bytes(&self, field: SealedField, plaintext: &[u8]) -> Result<Sealed, VaultError> {
        let header = Sealed::header(DATA_KEY_VERSION);
        let bytes = aead::seal_after(
            &self.key,
            &self.aad(field, DATA_KEY_VERSION),
            plaintext,
            &header,
        )?;
        Ok(Sealed::from_sealed(bytes))
    }

    pub fn open_bytes(
        &self,
        field: SealedField,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        aead::open(
            &self.key,
            &self.aad(field, sealed.key_version()),
            sealed.body(),
        )
    }

    pub fn seal<T: Sealable>(
        &self,
        field: SealedField,
        value: &Pii<T>,
    ) -> Result<Sealed, VaultError> {
        let plaintext = value.reveal(RevealPurpose::Sealing).to_plaintext();
        self.seal_bytes(field, &plaintext)
    }

    pub fn open<T: Sealable>(
        &self,
        field: SealedField,
        sealed: &Sealed,
    ) -> Result<Pii<T>, VaultError> {
        let plaintext = self.open_bytes(field, sealed)?;
        T::from_plaintext(&plaintext)
            .map(Pii::new)
            .map_err(|_| VaultError::Malformed("opened value does not decode"))
    }
}
