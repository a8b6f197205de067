//! Merchant API keys. Only a SHA-256 of each key is stored: keys are 256-bit random tokens, so a
//! fast hash is enough (nothing to brute-force), and a leaked table grants no access.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rc_domain::{Clock, MerchantId, RevealPurpose, Secret, SecretText};
use rc_store::{Item, Store, StoreError, TxOp, Value};
use rc_vault::Vault;

use crate::{RepoError, keys};

/// Whom a presented key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    Active(MerchantId),
    /// The merchant cancelled their account.
    Closed(MerchantId),
}

/// What a key may do. Every merchant API route needs exactly one (the route table in `rc-api`
/// says which); a key holds a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Orders, shipments, their tax: read.
    OrdersRead,
    /// Act on orders and shipments: route, mark shipped, label, void, confirm, recompute tax.
    OrdersWrite,
    /// Stock, warehouses, routing, parcels, tax classes: read.
    InventoryRead,
    /// Change them.
    InventoryWrite,
    /// Channel connections and courier accounts (secrets in, never out).
    ConnectionsManage,
    /// Open buyer PII: label documents, data-request reports — anything that reveals it.
    PiiRead,
    /// Request exports.
    ExportsCreate,
    /// Exports that include buyer PII.
    ExportsPii,
    /// Deletion receipts, privacy requests, the PII access audit.
    PrivacyRead,
    /// The account: settings, API keys, cancellation.
    AccountAdmin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 10] = [
        Scope::OrdersRead,
        Scope::OrdersWrite,
        Scope::InventoryRead,
        Scope::InventoryWrite,
        Scope::ConnectionsManage,
        Scope::PiiRead,
        Scope::ExportsCreate,
        Scope::ExportsPii,
        Scope::PrivacyRead,
        Scope::AccountAdmin,
    ];

    /// What a key gets when nobody names its scopes (the first key of a merchant, keys made
    /// before scopes): everything except what opens buyer PII, which is always asked for.
    pub fn default_set() -> Vec<Scope> {
        Self::ALL.into_iter().filter(|s| !s.opens_pii()).collect()
    }

    /// Whether the scope reveals buyer PII.
    pub fn opens_pii(&self) -> bool {
        matches!(self, Self::PiiRead | Self::ExportsPii)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OrdersRead => "orders:read",
            Self::OrdersWrite => "orders:write",
            Self::InventoryRead => "inventory:read",
            Self::InventoryWrite => "inventory:write",
            Self::ConnectionsManage => "connections:manage",
            Self::PiiRead => "pii:read",
            Self::ExportsCreate => "exports:create",
            Self::ExportsPii => "exports:pii",
            Self::PrivacyRead => "privacy:read",
            Self::AccountAdmin => "account:admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A presented key: whose it is, what it may do, and its id for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub owner: KeyOwner,
    pub scopes: Vec<Scope>,
    /// The first 16 hex digits of the key's SHA-256: names the key in audit records without
    /// revealing it.
    pub key_id: String,
    /// Past its expiry: refused like an unknown key, but said so.
    pub expired: bool,
    /// When it was last seen, to the hour (epoch seconds).
    pub last_used_at: Option<i64>,
    /// Its whole SHA-256 (where it is stored), to note its use without looking it up again.
    hash: String,
}

/// A key as `GET /v1/api-keys` shows it: never the key, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// The first 16 hex digits of its SHA-256 (what `DELETE /v1/api-keys/{id}` takes).
    pub id: String,
    pub name: String,
    /// Its first 8 characters (`rck_` and 4 of 43 random ones), to recognise it by.
    pub prefix: String,
    pub scopes: Vec<&'static str>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<time::OffsetDateTime>,
}

/// The longest key name (characters).
pub const MAX_KEY_NAME: usize = 100;
/// The furthest a key may expire: two years.
pub const MAX_KEY_LIFETIME_DAYS: i64 = 730;
/// How stale `last_used_at` may get before a use writes it again (one write per key per hour at
/// most, not one per request).
const LAST_USED_RESOLUTION_SECS: i64 = 3_600;

/// A key's name: 1 to 100 printable characters.
pub fn key_name(raw: &str) -> Option<String> {
    printable(raw, MAX_KEY_NAME)
}

/// A name a merchant gives (a key's, its company's): trimmed, 1 to `max` characters, none a
/// control character.
pub(crate) fn printable(raw: &str, max: usize) -> Option<String> {
    let text = raw.trim();
    let ok = !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control);
    ok.then(|| text.to_owned())
}

fn scope_text(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names.join(" ")
}

/// The scopes a stored key item grants. Keys stored before scopes existed (no `scope_set`)
/// keep what they could do then: every route but those opening PII, plus `pii:read` where an
/// operator gave it.
fn scopes_of(item: &Item) -> Vec<Scope> {
    let stored = item
        .string("scopes")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(Scope::parse);
    let mut scopes: Vec<Scope> = if item.string("scope_set").is_some() {
        stored.collect()
    } else {
        Scope::default_set().into_iter().chain(stored).collect()
    };
    scopes.sort();
    scopes.dedup();
    scopes
}

impl PresentedKey {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// A signed-in dashboard user acting through the API: the scopes of their role, and
    /// `actor` (`user:<id>`) naming them in the audit trail. Not a stored key, so never
    /// touched, never expired by key rules (the session has its own time-outs).
    pub fn for_user(owner: KeyOwner, scopes: Vec<Scope>, actor: String) -> Self {
        Self {
            owner,
            scopes,
            key_id: actor,
            expired: false,
            last_used_at: None,
            hash: String::new(),
        }
    }
}

/// A presented or issued API key.
pub struct ApiKey(pub Secret<SecretText>);

const PREFIX: &str = "rck_";

fn hash_hex(token: &str) -> String {
    rc_domain::to_hex(digest(&SHA256, token.as_bytes()).as_ref())
}

pub struct ApiKeyRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

impl ApiKeyRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self { data, vault, clock }
    }

    /// The time by this repository's clock (expiry checks of requests).
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Issues a new random key for `merchant` with the default scopes (everything but PII);
    /// the only time the key is ever visible.
    pub async fn issue(&self, merchant: &MerchantId) -> Result<ApiKey, RepoError> {
        self.issue_with(merchant, &Scope::default_set()).await
    }

    /// Issues a new random key with exactly `scopes`.
    pub async fn issue_with(
        &self,
        merchant: &MerchantId,
        scopes: &[Scope],
    ) -> Result<ApiKey, RepoError> {
        Ok(self.issue_named(merchant, "key", scopes, None).await?.0)
    }

    /// Issues a named key with exactly `scopes`, expiring at `expires_at` if given.
    pub async fn issue_named(
        &self,
        merchant: &MerchantId,
        name: &str,
        scopes: &[Scope],
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<(ApiKey, KeyInfo), RepoError> {
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| RepoError::Vault(rc_vault::VaultError::Randomness))?;
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let key = ApiKey(Secret::new(
            SecretText::parse(&token).map_err(|_| RepoError::Corrupt("api key"))?,
        ));
        let info = self
            .store_key(merchant, &key, name, scopes, expires_at)
            .await?;
        Ok((key, info))
    }

    /// Registers a key chosen elsewhere (the local host's configured demo key) with the default
    /// scopes. Idempotent for the same merchant; refused if the key belongs to another. The key
    /// and a pointer in the merchant's key list are written together, so cancellation finds
    /// every key.
    pub async fn register(&self, merchant: &MerchantId, key: &ApiKey) -> Result<(), RepoError> {
        self.register_with(merchant, key, &Scope::default_set())
            .await
    }

    /// [`Self::register`] with exactly `scopes`.
    pub async fn register_with(
        &self,
        merchant: &MerchantId,
        key: &ApiKey,
        scopes: &[Scope],
    ) -> Result<(), RepoError> {
        self.store_key(merchant, key, "key", scopes, None)
            .await
            .map(|_| ())
    }

    async fn store_key(
        &self,
        merchant: &MerchantId,
        key: &ApiKey,
        name: &str,
        scopes: &[Scope],
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<KeyInfo, RepoError> {
        let token = key.0.reveal(RevealPurpose::Authentication).as_str();
        let hash = hash_hex(token);
        let created = self.clock.now();
        let now = Value::N(created.unix_timestamp());
        let name = key_name(name).ok_or(RepoError::Refused("invalid key name"))?;
        let prefix: String = token.chars().take(8).collect();
        let mut item = Item::new(keys::api_key(&hash))
            .with("merchant", Value::S(merchant.to_string()))
            .with("scopes", Value::S(scope_text(scopes)))
            .with("scope_set", Value::S("v2".into()))
            .with("name", Value::S(name.clone()))
            .with("prefix", Value::S(prefix.clone()))
            .with("created_at", now.clone());
        if let Some(at) = expires_at {
            item.set("expires_at", Value::N(at.unix_timestamp()));
        }
        let info = KeyInfo {
            id: hash[..16].to_owned(),
            name,
            prefix,
            scopes: scopes_of(&item).iter().map(Scope::as_str).collect(),
            created_at: Some(created),
            last_used_at: None,
            expires_at,
        };
        let pointer = Item::new(keys::api_key_pointer(merchant, &hash)).with("created_at", now);
        match self
            .data
            .transact(vec![TxOp::Create(item), TxOp::Create(pointer)])
            .await
        {
            Ok(()) => Ok(info),
            Err(StoreError::TransactionCancelled { .. }) => match self.owner(token).await? {
                Some(PresentedKey {
                    owner: KeyOwner::Active(owner),
                    ..
                }) if &owner == merchant => Ok(info),
                _ => Err(RepoError::Refused("api key belongs to another merchant")),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The merchant a presented key belongs to, if any, and whether its account is still open.
    pub async fn owner(&self, token: &str) -> Result<Option<PresentedKey>, RepoError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let hash = hash_hex(token);
        let Some(item) = self.data.get(&keys::api_key(&hash)).await? else {
            return Ok(None);
        };
        let merchant = item
            .string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .ok_or(RepoError::Corrupt("api key merchant"))?;
        // Closed by the key table too: a key restored from a data backup taken before the
        // cancellation stays closed.
        let closed = item.number("closed_at").is_some() || self.vault.is_closed(&merchant).await?;
        let owner = if closed {
            KeyOwner::Closed(merchant)
        } else {
            KeyOwner::Active(merchant)
        };
        let now = self.clock.now().unix_timestamp();
        Ok(Some(PresentedKey {
            owner,
            scopes: scopes_of(&item),
            key_id: hash[..16].to_owned(),
            expired: item.number("expires_at").is_some_and(|at| at <= now),
            last_used_at: item.number("last_used_at"),
            hash,
        }))
    }

    /// Notes that a key was used now, at most once an hour per key (a use does not cost a write).
    /// Best effort: a lost race or a failure leaves the older time.
    pub async fn touch(&self, presented: &PresentedKey) {
        let now = self.clock.now().unix_timestamp();
        if presented.hash.is_empty()
            || presented
                .last_used_at
                .is_some_and(|at| now - at < LAST_USED_RESOLUTION_SECS)
        {
            return;
        }
        if let Ok(Some(mut item)) = self.data.get(&keys::api_key(&presented.hash)).await {
            let version = item.version;
            item.set("last_used_at", Value::N(now));
            if let Err(error) = self.data.replace(item, version).await {
                tracing::debug!(%error, "last use of a key not noted");
            }
        }
    }

    /// The full hash of one of the merchant's keys, from its id (`None`: not one of its keys).
    async fn hash_of(&self, merchant: &MerchantId, id: &str) -> Result<Option<String>, RepoError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        Ok(self
            .data
            .query_partition(&keys::api_key_list(merchant), &format!("KEY#{id}"), 2, None)
            .await?
            .items
            .into_iter()
            .next()
            .and_then(|p| p.key.sk.strip_prefix("KEY#").map(str::to_owned)))
    }

    /// The merchant's keys (never a key or its hash).
    pub async fn list(&self, merchant: &MerchantId) -> Result<Vec<KeyInfo>, RepoError> {
        let pointers = rc_store::query_all(
            self.data.as_ref(),
            &keys::api_key_list(merchant),
            "KEY#",
            100,
        )
        .await?;
        let at = |n: Option<i64>| n.and_then(|n| time::OffsetDateTime::from_unix_timestamp(n).ok());
        let mut out = Vec::with_capacity(pointers.len());
        for pointer in pointers {
            let Some(hash) = pointer.key.sk.strip_prefix("KEY#") else {
                continue;
            };
            let Some(item) = self.data.get(&keys::api_key(hash)).await? else {
                continue;
            };
            out.push(KeyInfo {
                id: hash[..16.min(hash.len())].to_owned(),
                name: item.string("name").unwrap_or("key").to_owned(),
                prefix: item.string("prefix").unwrap_or(PREFIX).to_owned(),
                scopes: scopes_of(&item).iter().map(Scope::as_str).collect(),
                created_at: at(item.number("created_at")),
                last_used_at: at(item.number("last_used_at")),
                expires_at: at(item.number("expires_at")),
            });
        }
        Ok(out)
    }

    /// Revokes one of the merchant's keys at once (it and its pointer deleted together): true
    /// when it was there. Another merchant's key id is simply not found.
    pub async fn revoke(&self, merchant: &MerchantId, id: &str) -> Result<bool, RepoError> {
        let Some(hash) = self.hash_of(merchant, id).await? else {
            return Ok(false);
        };
        self.data
            .transact(vec![
                TxOp::Delete {
                    key: keys::api_key(&hash),
                    expected_version: None,
                },
                TxOp::Delete {
                    key: keys::api_key_pointer(merchant, &hash),
                    expected_version: None,
                },
            ])
            .await?;
        Ok(true)
    }

    /// Closes every key of a cancelled merchant: each keeps only its hash and owner, so a later
    /// request is answered "account closed" instead of "unknown key". Returns how many.
    pub async fn close_all(&self, merchant: &MerchantId) -> Result<u64, RepoError> {
        let now = self.clock.now().unix_timestamp();
        let mut closed = 0;
        loop {
            let page = self
                .data
                .query_partition(&keys::api_key_list(merchant), "KEY#", 100, None)
                .await?;
            if page.items.is_empty() {
                return Ok(closed);
            }
            for pointer in page.items {
                let Some(hash) = pointer.key.sk.strip_prefix("KEY#") else {
                    continue;
                };
                let mut ops = vec![TxOp::Delete {
                    key: pointer.key.clone(),
                    expected_version: None,
                }];
                if let Some(key) = self.data.get(&keys::api_key(hash)).await? {
                    let version = key.version;
                    let closed_key = Item::new(key.key)
                        .with("merchant", Value::S(merchant.to_string()))
                        .with("closed_at", Value::N(now));
                    ops.push(TxOp::Replace {
                        item: closed_key,
                        expected_version: version,
                    });
                }
                self.data.transact(ops).await?;
                closed += 1;
            }
        }
    }
}
