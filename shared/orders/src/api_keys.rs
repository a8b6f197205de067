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

/// What a key may do beyond the merchant API's ordinary routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Open buyer PII (the data-request report). Never given by default: an operator issues a
    /// separate key with it (`rc-ops api-key issue --scope pii:read`).
    PiiRead,
}

impl Scope {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PiiRead => "pii:read",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pii:read" => Some(Self::PiiRead),
            _ => None,
        }
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
}

impl PresentedKey {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
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

    /// Issues a new random key for `merchant`; the only time the key is ever visible.
    pub async fn issue(&self, merchant: &MerchantId) -> Result<ApiKey, RepoError> {
        self.issue_with(merchant, &[]).await
    }

    /// Issues a new random key with extra `scopes`.
    pub async fn issue_with(
        &self,
        merchant: &MerchantId,
        scopes: &[Scope],
    ) -> Result<ApiKey, RepoError> {
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| RepoError::Vault(rc_vault::VaultError::Randomness))?;
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let key = ApiKey(Secret::new(
            SecretText::parse(&token).map_err(|_| RepoError::Corrupt("api key"))?,
        ));
        self.register_with(merchant, &key, scopes).await?;
        Ok(key)
    }

    /// Registers a key chosen elsewhere (the local host's configured demo key). Idempotent for the
    /// same merchant; refused if the key belongs to another. The key and a pointer in the
    /// merchant's key list are written together, so cancellation finds every key.
    pub async fn register(&self, merchant: &MerchantId, key: &ApiKey) -> Result<(), RepoError> {
        self.register_with(merchant, key, &[]).await
    }

    /// [`Self::register`] with extra `scopes`.
    pub async fn register_with(
        &self,
        merchant: &MerchantId,
        key: &ApiKey,
        scopes: &[Scope],
    ) -> Result<(), RepoError> {
        let token = key.0.reveal(RevealPurpose::Authentication).as_str();
        let hash = hash_hex(token);
        let now = Value::N(self.clock.now().unix_timestamp());
        let scopes: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
        let item = Item::new(keys::api_key(&hash))
            .with("merchant", Value::S(merchant.to_string()))
            .with("scopes", Value::S(scopes.join(" ")))
            .with("created_at", now.clone());
        let pointer = Item::new(keys::api_key_pointer(merchant, &hash)).with("created_at", now);
        match self
            .data
            .transact(vec![TxOp::Create(item), TxOp::Create(pointer)])
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCancelled { .. }) => match self.owner(token).await? {
                Some(PresentedKey {
                    owner: KeyOwner::Active(owner),
                    ..
                }) if &owner == merchant => Ok(()),
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
        Ok(Some(PresentedKey {
            owner,
            scopes: item
                .string("scopes")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(Scope::parse)
                .collect(),
            key_id: hash[..16].to_owned(),
        }))
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
