//! Merchant API keys. Only a SHA-256 of each key is stored: keys are 256-bit random tokens, so a
//! fast hash is enough (nothing to brute-force), and a leaked table grants no access.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rc_domain::{Clock, MerchantId, RevealPurpose, Secret, SecretText};
use rc_store::{Item, Store, StoreError, Value};

use crate::{RepoError, keys};

/// A presented or issued API key.
pub struct ApiKey(pub Secret<SecretText>);

const PREFIX: &str = "rck_";

fn hash_hex(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct ApiKeyRepository {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl ApiKeyRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Issues a new random key for `merchant`; the only time the key is ever visible.
    pub async fn issue(&self, merchant: &MerchantId) -> Result<ApiKey, RepoError> {
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| RepoError::Vault(rc_vault::VaultError::Randomness))?;
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let key = ApiKey(Secret::new(
            SecretText::parse(&token).map_err(|_| RepoError::Corrupt("api key"))?,
        ));
        self.register(merchant, &key).await?;
        Ok(key)
    }

    /// Registers a key chosen elsewhere (the local host's configured demo key). Idempotent for the
    /// same merchant; refused if the key belongs to another.
    pub async fn register(&self, merchant: &MerchantId, key: &ApiKey) -> Result<(), RepoError> {
        let token = key.0.reveal(RevealPurpose::Authentication).as_str();
        let item = Item::new(keys::api_key(&hash_hex(token)))
            .with("merchant", Value::S(merchant.to_string()))
            .with("created_at", Value::N(self.clock.now().unix_timestamp()));
        match self.data.create(item).await {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists) => match self.merchant_for(token).await? {
                Some(owner) if &owner == merchant => Ok(()),
                _ => Err(RepoError::Conflict("api key belongs to another merchant")),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The merchant a presented key belongs to, if any.
    pub async fn merchant_for(&self, token: &str) -> Result<Option<MerchantId>, RepoError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let Some(item) = self.data.get(&keys::api_key(&hash_hex(token))).await? else {
            return Ok(None);
        };
        item.string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .map(Some)
            .ok_or(RepoError::Corrupt("api key merchant"))
    }
}
