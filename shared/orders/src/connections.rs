//! Channel connections: which merchant owns a Shopify shop or an Amazon selling partner, and the
//! credentials to talk to it. Secrets are sealed under the connection's own data key, so
//! disconnecting destroys them everywhere.
//!
//! Opened connections are cached by item incarnation and version: every lookup reads the (small)
//! connection item, so a rotated secret or a disconnect takes effect at once in every process,
//! while the costly part (reading and unwrapping the data key, opening the secrets) happens once
//! per version. A version alone is not enough: a deleted and re-created item (a shop handed from
//! one merchant to another) starts again at version 1, so every created item carries a random
//! incarnation id, kept across updates, and a cached entry matches only its own incarnation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rc_domain::{
    AppCredentials, Clock, LwaCredentials, MarketplaceId, MerchantId, Region, RevealPurpose,
    SealedField, Secret, SecretText, SellerId, ShopDomain,
};
use rc_store::{Item, ItemKey, Store, TxOp, Value};
use rc_vault::{KeySubject, Sealed, Vault};

use crate::{RepoError, keys};

/// A merchant's Shopify shop, with the webhook secrets that authenticate its deliveries.
pub struct ShopifyConnection {
    pub merchant: MerchantId,
    pub shop: ShopDomain,
    /// The current secret first; during a rotation window also the previous one.
    pub webhook_secrets: Vec<Secret<SecretText>>,
    /// The Admin API access token, when the merchant gave one (needed to call Shopify).
    pub access_token: Option<Secret<SecretText>>,
}

/// What a merchant gives us to connect a shop.
pub struct ShopifyCredentials {
    /// The app's client secret, which signs webhooks.
    pub webhook_secret: Secret<SecretText>,
    /// The secret being rotated out, accepted until the next update.
    pub previous_webhook_secret: Option<Secret<SecretText>>,
    pub access_token: Option<Secret<SecretText>>,
}

impl ShopifyCredentials {
    /// Only the webhook secret: enough to receive webhooks.
    pub fn webhook_only(webhook_secret: Secret<SecretText>) -> Self {
        Self {
            webhook_secret,
            previous_webhook_secret: None,
            access_token: None,
        }
    }
}

/// A merchant's Amazon selling partner account and its authorization of our application.
pub struct AmazonConnection {
    pub merchant: MerchantId,
    pub seller_id: SellerId,
    pub marketplace_ids: Vec<MarketplaceId>,
    pub credentials: LwaCredentials,
}

/// The connection's authorization of our application: what an SP-API call (Amazon Shipping's
/// too) is made with.
impl AsRef<LwaCredentials> for AmazonConnection {
    fn as_ref(&self) -> &LwaCredentials {
        &self.credentials
    }
}

/// A connection as listed to its merchant: no secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionSummary {
    pub channel: String,
    pub reference: String,
}

/// Which connection: a channel and its own identifier (shop domain, seller id).
#[derive(Clone, Copy)]
struct Conn<'a> {
    channel: &'static str,
    reference: &'a str,
}

impl Conn<'_> {
    fn key(&self) -> ItemKey {
        ItemKey::new(
            format!("CONN#{}#{}", self.channel, self.reference),
            "CONNECTION",
        )
    }

    fn subject(&self) -> Result<KeySubject, RepoError> {
        Ok(KeySubject::connection(self.channel, self.reference)?)
    }

    fn cache_key(&self) -> String {
        format!("{}#{}", self.channel, self.reference)
    }

    /// The entry listing this connection among all connections (for scheduled jobs).
    fn index_key(&self) -> ItemKey {
        ItemKey::new(
            ALL_CONNECTIONS,
            format!("{}#{}", self.channel, self.reference),
        )
    }

    fn watermark_key(&self) -> ItemKey {
        ItemKey::new(self.key().pk, "WATERMARK")
    }
}

/// Partition listing every connection, so scheduled jobs find them without a scan.
const ALL_CONNECTIONS: &str = "CONNECTIONS";

/// A connection found by [`ConnectionRepository::all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRef {
    pub merchant: MerchantId,
    pub channel: String,
    pub reference: String,
}

/// A sealed attribute of a connection item: its name, and the field (the AEAD label) it is
/// bound to. Each secret has a label of its own, so ciphertexts cannot be swapped between
/// attributes of one connection.
type SecretSlot = (&'static str, SealedField);

const WEBHOOK_SECRET: SecretSlot = ("webhook_secret", SealedField::WebhookSecret);
const PREVIOUS_WEBHOOK_SECRET: SecretSlot = (
    "webhook_secret_previous",
    SealedField::PreviousWebhookSecret,
);
const ACCESS_TOKEN: SecretSlot = ("access_token", SealedField::AccessToken);
const LWA_CLIENT_SECRET: SecretSlot = ("lwa_client_secret", SealedField::LwaClientSecret);
const LWA_REFRESH_TOKEN: SecretSlot = ("lwa_refresh_token", SealedField::LwaRefreshToken);
/// The seller's ORDER_CHANGE subscription id, on an Amazon connection made by our app.
const SUBSCRIPTION_ID: &str = "subscription_id";

/// Items written since each secret has its own label carry `labels = 2`. Older items sealed the
/// previous webhook secret under the current one's label and both LWA secrets under the access
/// token's; they are opened with those labels until their next update rewrites them.
const LABELS: &str = "labels";
const LABELS_VERSION: i64 = 2;

fn legacy_field(slot: SecretSlot) -> SealedField {
    match slot.1 {
        SealedField::PreviousWebhookSecret => SealedField::WebhookSecret,
        SealedField::LwaClientSecret | SealedField::LwaRefreshToken => SealedField::AccessToken,
        other => other,
    }
}

/// Which stored item a cached value was opened from: its incarnation and version.
#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    incarnation: String,
    version: u64,
}

impl Stamp {
    fn of(item: &Item) -> Self {
        Self {
            incarnation: item.string(INCARNATION).unwrap_or_default().to_owned(),
            version: item.version,
        }
    }
}

/// The attribute holding a connection item's incarnation id (random, set at creation).
const INCARNATION: &str = "incarnation";

fn new_incarnation() -> Result<String, RepoError> {
    crate::random::random_hex::<16>()
}

/// Opened connections by incarnation and version (see the module documentation).
struct VersionCache<V> {
    entries: Mutex<HashMap<String, (Stamp, Arc<V>)>>,
}

impl<V> VersionCache<V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Stamp, Arc<V>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str, stamp: &Stamp) -> Option<Arc<V>> {
        self.lock()
            .get(key)
            .filter(|(cached, _)| cached == stamp)
            .map(|(_, value)| Arc::clone(value))
    }

    fn put(&self, key: String, stamp: Stamp, value: Arc<V>) {
        self.lock().insert(key, (stamp, value));
    }

    fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

pub struct ConnectionRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    shopify: VersionCache<ShopifyConnection>,
    amazon: VersionCache<AmazonConnection>,
    /// Our own apps' credentials: connections made through a connect flow authenticate with
    /// them (Shopify signs their webhooks with the app's secret; a seller's refresh token is
    /// bound to the app's LWA client).
    apps: std::sync::RwLock<AppCredentials>,
}

/// How a connection was made: secrets the merchant pasted, or our app's authorization flow.
const AUTH: &str = "auth";
const AUTH_APP: &str = "app";

/// Partition of subscriptions still to delete at the marketplace (persisted when a connection
/// is removed, in the same transaction, so a failed call is retried rather than forgotten).
const UNSUBSCRIBE: &str = "UNSUBSCRIBE#amazon";

/// An Amazon notification subscription left behind by a removed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUnsubscribe {
    pub region: Region,
    pub subscription_id: String,
}

fn copy_secret(secret: &Secret<SecretText>) -> Secret<SecretText> {
    Secret::new(secret.reveal(RevealPurpose::Authentication).clone())
}

fn channel_name(channel: &str) -> Result<&'static str, RepoError> {
    match channel {
        "shopify" => Ok("shopify"),
        "amazon" => Ok("amazon"),
        _ => Err(RepoError::Corrupt("unknown channel")),
    }
}

fn owner(item: &Item) -> Result<MerchantId, RepoError> {
    item.string("merchant")
        .and_then(|m| MerchantId::parse(m).ok())
        .ok_or(RepoError::Corrupt("connection merchant"))
}

impl ConnectionRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data,
            vault,
            clock,
            shopify: VersionCache::new(),
            amazon: VersionCache::new(),
            apps: std::sync::RwLock::new(AppCredentials::default()),
        }
    }

    /// Sets our apps' credentials (at start, from configuration). Opened connections are
    /// forgotten, so none keeps a secret of the apps before.
    pub fn set_apps(&self, apps: AppCredentials) {
        *self.apps.write().unwrap_or_else(|p| p.into_inner()) = apps;
        self.shopify.lock().clear();
        self.amazon.lock().clear();
    }

    /// Our apps' credentials as configured.
    pub fn apps(&self) -> AppCredentials {
        self.apps.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Creates or updates a connection. A connection belongs to one merchant: connecting it to
    /// another is refused.
    async fn put(
        &self,
        merchant: &MerchantId,
        conn: Conn<'_>,
        plain: Vec<(&'static str, Value)>,
        secrets: &[(SecretSlot, Option<&Secret<SecretText>>)],
    ) -> Result<(), RepoError> {
        let key = self
            .vault
            .key_for_sealing(merchant, &conn.subject()?)
            .await?;
        let mut item = Item::new(conn.key())
            .with("merchant", Value::S(merchant.to_string()))
            .with(LABELS, Value::N(LABELS_VERSION))
            .with("updated_at", Value::N(self.clock.now().unix_timestamp()));
        for (name, value) in plain {
            item.set(name, value);
        }
        for ((name, field), value) in secrets {
            if let Some(value) = value {
                item.set(name, Value::B(key.seal(*field, value)?.into_bytes()));
            }
        }
        match self.data.get(&item.key).await? {
            None => {
                item.set(INCARNATION, Value::S(new_incarnation()?));
                let pointer = Item::new(keys::merchant_connection_pointer(
                    merchant,
                    conn.channel,
                    conn.reference,
                ));
                let index =
                    Item::new(conn.index_key()).with("merchant", Value::S(merchant.to_string()));
                self.data
                    .transact(vec![
                        TxOp::Create(item),
                        TxOp::Create(pointer),
                        TxOp::Create(index),
                    ])
                    .await?;
            }
            Some(existing) if existing.string("merchant") == Some(merchant.as_str()) => {
                let incarnation = match existing.string(INCARNATION) {
                    Some(id) => id.to_owned(),
                    None => new_incarnation()?,
                };
                item.set(INCARNATION, Value::S(incarnation));
                // A notification subscription outlives credential updates: it is deleted with
                // the connection, so the connection must keep knowing it.
                if let Some(subscription) = existing.string(SUBSCRIPTION_ID) {
                    item.set(SUBSCRIPTION_ID, Value::S(subscription.to_owned()));
                }
                self.data.replace(item, existing.version).await?;
            }
            Some(_) => {
                return Err(RepoError::Refused(
                    "the connection belongs to another merchant",
                ));
            }
        }
        Ok(())
    }

    /// Opens the named secrets of a connection item.
    async fn open(
        &self,
        merchant: &MerchantId,
        conn: Conn<'_>,
        item: &Item,
        slots: &[SecretSlot],
    ) -> Result<HashMap<&'static str, Secret<SecretText>>, RepoError> {
        let key = self
            .vault
            .key_for_opening(merchant, &conn.subject()?)
            .await?;
        let current = item.number(LABELS) == Some(LABELS_VERSION);
        let mut opened = HashMap::with_capacity(slots.len());
        for slot in slots {
            if let Some(bytes) = item.bytes(slot.0) {
                let sealed = Sealed::from_bytes(bytes.to_vec())?;
                let field = if current { slot.1 } else { legacy_field(*slot) };
                opened.insert(slot.0, key.open(field, &sealed)?);
            }
        }
        Ok(opened)
    }

    /// Deletes a connection, its pointer, and the key of its secrets. Returns whether the
    /// merchant had such a connection.
    async fn remove(&self, merchant: &MerchantId, conn: Conn<'_>) -> Result<bool, RepoError> {
        let Some(existing) = self.data.get(&conn.key()).await? else {
            return Ok(false);
        };
        if existing.string("merchant") != Some(merchant.as_str()) {
            return Ok(false);
        }
        let mut ops = Vec::with_capacity(5);
        if let Some(subscription) = existing.string(SUBSCRIPTION_ID) {
            let region = Self::amazon_region(&existing);
            ops.push(TxOp::Create(Item::new(Self::unsubscribe_key(
                region,
                subscription,
            ))));
        }
        ops.extend([
            TxOp::Delete {
                key: conn.key(),
                expected_version: Some(existing.version),
            },
            TxOp::Delete {
                key: keys::merchant_connection_pointer(merchant, conn.channel, conn.reference),
                expected_version: None,
            },
            TxOp::Delete {
                key: conn.index_key(),
                expected_version: None,
            },
            TxOp::Delete {
                key: conn.watermark_key(),
                expected_version: None,
            },
        ]);
        self.data.transact(ops).await?;
        // Cache keys name their channel: forgetting in both caches is exact.
        self.shopify.forget(&conn.cache_key());
        self.amazon.forget(&conn.cache_key());
        self.vault
            .destroy_subject_key(merchant, &conn.subject()?)
            .await?;
        Ok(true)
    }

    /// Disconnects a listed connection of any channel (account cancellation). Idempotent.
    pub async fn disconnect(
        &self,
        merchant: &MerchantId,
        connection: &ConnectionSummary,
    ) -> Result<bool, RepoError> {
        let conn = Conn {
            channel: channel_name(&connection.channel)?,
            reference: &connection.reference,
        };
        self.remove(merchant, conn).await
    }

    fn shopify_conn(shop: &ShopDomain) -> Conn<'_> {
        Conn {
            channel: "shopify",
            reference: shop.as_str(),
        }
    }

    fn amazon_conn(seller_id: &SellerId) -> Conn<'_> {
        Conn {
            channel: "amazon",
            reference: seller_id.as_str(),
        }
    }

    pub async fn put_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        credentials: &ShopifyCredentials,
    ) -> Result<(), RepoError> {
        let secrets = [
            (WEBHOOK_SECRET, Some(&credentials.webhook_secret)),
            (
                PREVIOUS_WEBHOOK_SECRET,
                credentials.previous_webhook_secret.as_ref(),
            ),
            (ACCESS_TOKEN, credentials.access_token.as_ref()),
        ];
        self.put(merchant, Self::shopify_conn(shop), Vec::new(), &secrets)
            .await
    }

    /// Connects (or reconnects) a shop that installed our app: only its access token is kept;
    /// its webhooks are signed with the app's secret. The merchant's own secrets of an earlier
    /// connection of the shop are dropped.
    pub async fn put_shopify_app(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
    ) -> Result<(), RepoError> {
        let plain = vec![(AUTH, Value::S(AUTH_APP.into()))];
        self.put(
            merchant,
            Self::shopify_conn(shop),
            plain,
            &[(ACCESS_TOKEN, Some(access_token))],
        )
        .await
    }

    /// Whether the shop is connected through our app (so our app's uninstall disconnects it).
    pub async fn shopify_owner(
        &self,
        shop: &ShopDomain,
    ) -> Result<Option<(MerchantId, bool)>, RepoError> {
        let Some(item) = self.data.get(&Self::shopify_conn(shop).key()).await? else {
            return Ok(None);
        };
        Ok(Some((owner(&item)?, item.string(AUTH) == Some(AUTH_APP))))
    }

    /// Reads a connection item and, unless the cache holds this very version, opens its secrets
    /// and builds the typed connection with `build`.
    async fn load<V>(
        &self,
        conn: Conn<'_>,
        cache: &VersionCache<V>,
        slots: &[SecretSlot],
        build: impl FnOnce(
            MerchantId,
            HashMap<&'static str, Secret<SecretText>>,
            &Item,
        ) -> Result<V, RepoError>,
    ) -> Result<Option<Arc<V>>, RepoError> {
        let Some(item) = self.data.get(&conn.key()).await? else {
            cache.forget(&conn.cache_key());
            return Ok(None);
        };
        let merchant = owner(&item)?;
        // A connection restored from a backup taken before its merchant cancelled: the key table
        // (never backed up) says the account is closed, so it is not a connection any more.
        if self.vault.is_closed(&merchant).await? {
            cache.forget(&conn.cache_key());
            return Ok(None);
        }
        let stamp = Stamp::of(&item);
        if let Some(cached) = cache.get(&conn.cache_key(), &stamp) {
            return Ok(Some(cached));
        }
        let secrets = self.open(&merchant, conn, &item, slots).await?;
        let value = Arc::new(build(merchant, secrets, &item)?);
        cache.put(conn.cache_key(), stamp, Arc::clone(&value));
        Ok(Some(value))
    }

    pub async fn shopify(
        &self,
        shop: &ShopDomain,
    ) -> Result<Option<Arc<ShopifyConnection>>, RepoError> {
        let slots = [WEBHOOK_SECRET, PREVIOUS_WEBHOOK_SECRET, ACCESS_TOKEN];
        self.load(
            Self::shopify_conn(shop),
            &self.shopify,
            &slots,
            |merchant, mut secrets, item| {
                let webhook_secrets: Vec<_> = if item.string(AUTH) == Some(AUTH_APP) {
                    // Installed through our app: Shopify signs with the app's secret (none
                    // while the app is not configured, so nothing verifies).
                    self.apps()
                        .shopify
                        .iter()
                        .flat_map(|app| {
                            std::iter::once(&app.client_secret)
                                .chain(app.previous_client_secret.as_ref())
                        })
                        .map(copy_secret)
                        .collect()
                } else {
                    [WEBHOOK_SECRET.0, PREVIOUS_WEBHOOK_SECRET.0]
                        .iter()
                        .filter_map(|name| secrets.remove(name))
                        .collect()
                };
                if webhook_secrets.is_empty() && item.string(AUTH) != Some(AUTH_APP) {
                    return Err(RepoError::Corrupt("connection without a secret"));
                }
                Ok(ShopifyConnection {
                    merchant,
                    shop: shop.clone(),
                    webhook_secrets,
                    access_token: secrets.remove(ACCESS_TOKEN.0),
                })
            },
        )
        .await
    }

    pub async fn remove_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
    ) -> Result<bool, RepoError> {
        self.remove(merchant, Self::shopify_conn(shop)).await
    }

    /// Connects (or updates) an Amazon selling partner.
    pub async fn put_amazon(
        &self,
        merchant: &MerchantId,
        seller_id: &SellerId,
        marketplace_ids: &[MarketplaceId],
        credentials: &LwaCredentials,
    ) -> Result<(), RepoError> {
        let plain = vec![
            (
                "marketplace_ids",
                Value::S(
                    serde_json::to_string(marketplace_ids)
                        .map_err(|_| RepoError::Corrupt("marketplace ids"))?,
                ),
            ),
            ("lwa_client_id", Value::S(credentials.client_id.clone())),
        ];
        let secrets = [
            (LWA_CLIENT_SECRET, Some(&credentials.client_secret)),
            (LWA_REFRESH_TOKEN, Some(&credentials.refresh_token)),
        ];
        self.put(merchant, Self::amazon_conn(seller_id), plain, &secrets)
            .await
    }

    /// Connects (or reconnects) a seller that authorized our app: only its refresh token is
    /// kept; the LWA client is the app's.
    pub async fn put_amazon_app(
        &self,
        merchant: &MerchantId,
        seller_id: &SellerId,
        marketplace_ids: &[MarketplaceId],
        refresh_token: &Secret<SecretText>,
    ) -> Result<(), RepoError> {
        let client_id = self
            .apps()
            .amazon
            .map(|app| app.client_id.clone())
            .ok_or(RepoError::Refused("the Amazon app is not configured"))?;
        let plain = vec![
            (
                "marketplace_ids",
                Value::S(
                    serde_json::to_string(marketplace_ids)
                        .map_err(|_| RepoError::Corrupt("marketplace ids"))?,
                ),
            ),
            ("lwa_client_id", Value::S(client_id)),
            (AUTH, Value::S(AUTH_APP.into())),
        ];
        self.put(
            merchant,
            Self::amazon_conn(seller_id),
            plain,
            &[(LWA_REFRESH_TOKEN, Some(refresh_token))],
        )
        .await
    }

    /// Records the seller's ORDER_CHANGE subscription on its connection (deleted with it).
    pub async fn set_amazon_subscription(
        &self,
        merchant: &MerchantId,
        seller_id: &SellerId,
        subscription_id: &str,
    ) -> Result<(), RepoError> {
        let key = Self::amazon_conn(seller_id).key();
        let Some(mut item) = self.data.get(&key).await? else {
            return Err(RepoError::Refused("the connection is gone"));
        };
        if item.string("merchant") != Some(merchant.as_str()) {
            return Err(RepoError::Refused(
                "the connection belongs to another merchant",
            ));
        }
        if item.string(SUBSCRIPTION_ID) == Some(subscription_id) {
            return Ok(());
        }
        let version = item.version;
        let region = Self::amazon_region(&item);
        item.set(SUBSCRIPTION_ID, Value::S(subscription_id.to_owned()));
        // A subscription reused by a reconnect is no longer one to delete.
        self.data
            .transact(vec![
                TxOp::Replace {
                    item,
                    expected_version: version,
                },
                TxOp::Delete {
                    key: Self::unsubscribe_key(region, subscription_id),
                    expected_version: None,
                },
            ])
            .await?;
        Ok(())
    }

    fn unsubscribe_key(region: Region, subscription_id: &str) -> ItemKey {
        ItemKey::new(
            UNSUBSCRIBE,
            format!("{}#{subscription_id}", region.as_str()),
        )
    }

    /// The region of an Amazon connection item's marketplaces.
    fn amazon_region(item: &Item) -> Region {
        item.string("marketplace_ids")
            .and_then(|text| serde_json::from_str::<Vec<MarketplaceId>>(text).ok())
            .and_then(|ids| Region::of_marketplaces(&ids))
            .unwrap_or(Region::NorthAmerica)
    }

    /// Subscriptions of removed connections still to delete at Amazon, oldest first.
    pub async fn pending_unsubscribes(
        &self,
        limit: usize,
    ) -> Result<Vec<PendingUnsubscribe>, RepoError> {
        let page = self
            .data
            .query_partition(UNSUBSCRIBE, "", limit, None)
            .await?;
        Ok(page
            .items
            .iter()
            .filter_map(|item| {
                let (region, id) = item.key.sk.split_once('#')?;
                Some(PendingUnsubscribe {
                    region: Region::parse(region)?,
                    subscription_id: id.to_owned(),
                })
            })
            .collect())
    }

    /// A pending subscription is gone at Amazon: forget it.
    pub async fn unsubscribed(&self, pending: &PendingUnsubscribe) -> Result<(), RepoError> {
        self.data
            .delete(
                &Self::unsubscribe_key(pending.region, &pending.subscription_id),
                None,
            )
            .await?;
        Ok(())
    }

    pub async fn amazon(
        &self,
        seller_id: &SellerId,
    ) -> Result<Option<Arc<AmazonConnection>>, RepoError> {
        let slots = [LWA_CLIENT_SECRET, LWA_REFRESH_TOKEN];
        self.load(
            Self::amazon_conn(seller_id),
            &self.amazon,
            &slots,
            |merchant, mut secrets, item| {
                let mut secret = |slot: SecretSlot| {
                    secrets
                        .remove(slot.0)
                        .ok_or(RepoError::Corrupt("amazon connection secret"))
                };
                let marketplace_ids: Vec<MarketplaceId> = item
                    .string("marketplace_ids")
                    .and_then(|text| serde_json::from_str(text).ok())
                    .ok_or(RepoError::Corrupt("marketplace ids"))?;
                let client_secret = if item.string(AUTH) == Some(AUTH_APP) {
                    // Authorized through our app: its LWA client secret (an app not configured
                    // any more leaves an empty one, which LWA refuses).
                    match self.apps().amazon {
                        Some(app) => copy_secret(&app.client_secret),
                        None => return Err(RepoError::Refused("the Amazon app is not configured")),
                    }
                } else {
                    secret(LWA_CLIENT_SECRET)?
                };
                let credentials = LwaCredentials {
                    client_id: item
                        .string("lwa_client_id")
                        .ok_or(RepoError::Corrupt("amazon client id"))?
                        .to_owned(),
                    client_secret,
                    refresh_token: secret(LWA_REFRESH_TOKEN)?,
                    // The region of its marketplaces (checked when connected); North America
                    // for ids we do not know (connections made before regions were kept).
                    region: Region::of_marketplaces(&marketplace_ids)
                        .unwrap_or(Region::NorthAmerica),
                };
                Ok(AmazonConnection {
                    merchant,
                    seller_id: seller_id.clone(),
                    marketplace_ids,
                    credentials,
                })
            },
        )
        .await
    }

    pub async fn remove_amazon(
        &self,
        merchant: &MerchantId,
        seller_id: &SellerId,
    ) -> Result<bool, RepoError> {
        self.remove(merchant, Self::amazon_conn(seller_id)).await
    }

    /// Every connection of every merchant, a page at a time.
    pub async fn all(
        &self,
        limit: usize,
        after: Option<rc_store::PageToken>,
    ) -> Result<rc_store::Page<ConnectionRef>, RepoError> {
        let page = self
            .data
            .query_partition(ALL_CONNECTIONS, "", limit, after)
            .await?;
        let items = page
            .items
            .iter()
            .map(|item| {
                let (channel, reference) = item
                    .key
                    .sk
                    .split_once('#')
                    .ok_or(RepoError::Corrupt("connection index entry"))?;
                Ok(ConnectionRef {
                    merchant: owner(item)?,
                    channel: channel.to_owned(),
                    reference: reference.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(rc_store::Page {
            items,
            next: page.next,
        })
    }

    /// How far a connection has been reconciled: (epoch seconds, item version).
    pub async fn watermark(
        &self,
        connection: &ConnectionRef,
    ) -> Result<Option<(i64, u64)>, RepoError> {
        let conn = Conn {
            channel: channel_name(&connection.channel)?,
            reference: &connection.reference,
        };
        let Some(item) = self.data.get(&conn.watermark_key()).await? else {
            return Ok(None);
        };
        let at = item
            .number("reconciled_to")
            .ok_or(RepoError::Corrupt("watermark"))?;
        Ok(Some((at, item.version)))
    }

    /// Moves a connection's watermark, only from the version read (a concurrent run that moved
    /// it first wins; this one's work was idempotent anyway).
    pub async fn set_watermark(
        &self,
        connection: &ConnectionRef,
        reconciled_to: i64,
        expected_version: Option<u64>,
    ) -> Result<(), RepoError> {
        let conn = Conn {
            channel: channel_name(&connection.channel)?,
            reference: &connection.reference,
        };
        let item = Item::new(conn.watermark_key()).with("reconciled_to", Value::N(reconciled_to));
        match expected_version {
            None => self.data.create(item).await?,
            Some(version) => self.data.replace(item, version).await?,
        }
        Ok(())
    }

    /// The merchant's connections, without secrets.
    pub async fn list(&self, merchant: &MerchantId) -> Result<Vec<ConnectionSummary>, RepoError> {
        let mut summaries = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .data
                .query_partition(&keys::merchant_partition(merchant), "CONN#", 100, after)
                .await?;
            for item in &page.items {
                let mut parts = item.key.sk.splitn(3, '#').skip(1);
                if let (Some(channel), Some(reference)) = (parts.next(), parts.next()) {
                    summaries.push(ConnectionSummary {
                        channel: channel.to_owned(),
                        reference: reference.to_owned(),
                    });
                }
            }
            match page.next {
                Some(token) => after = Some(token),
                None => return Ok(summaries),
            }
        }
    }
}
