use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rc_channels::shopify::ShopDomain;
use rc_domain::{Clock, MerchantId, SealedField, Secret, SecretText};
use rc_store::{Item, Store, TxOp, Value};
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

/// A connection as listed to its merchant: no secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionSummary {
    pub channel: String,
    pub reference: String,
}

/// Channel connections. Secrets are sealed under the connection's own data key.
///
/// Opened connections are cached by item version: every lookup reads the (small) connection item,
/// so a rotated secret or a disconnected shop takes effect at once, everywhere, while the costly
/// part (reading and unwrapping the data key, opening the secrets) happens once per version.
pub struct ConnectionRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    opened: Mutex<HashMap<ShopDomain, (u64, Arc<ShopifyConnection>)>>,
}

const CURRENT: &str = "webhook_secret";
const PREVIOUS: &str = "webhook_secret_previous";
const ACCESS_TOKEN: &str = "access_token";

fn subject(shop: &ShopDomain) -> Result<KeySubject, RepoError> {
    Ok(KeySubject::connection("shopify", shop.as_str())?)
}

impl ConnectionRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data,
            vault,
            clock,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// Creates or updates a shop's connection. A shop belongs to one merchant: connecting it to
    /// another is refused.
    pub async fn put_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        credentials: &ShopifyCredentials,
    ) -> Result<(), RepoError> {
        let key = self
            .vault
            .key_for_sealing(merchant, &subject(shop)?)
            .await?;
        let mut item = Item::new(keys::shopify_connection(shop.as_str()))
            .with("merchant", Value::S(merchant.to_string()))
            .with("updated_at", Value::N(self.clock.now().unix_timestamp()));
        let sealed = [
            (
                CURRENT,
                SealedField::WebhookSecret,
                Some(&credentials.webhook_secret),
            ),
            (
                PREVIOUS,
                SealedField::WebhookSecret,
                credentials.previous_webhook_secret.as_ref(),
            ),
            (
                ACCESS_TOKEN,
                SealedField::AccessToken,
                credentials.access_token.as_ref(),
            ),
        ];
        for (name, field, value) in sealed {
            if let Some(value) = value {
                item.set(name, Value::B(key.seal(field, value)?.into_bytes()));
            }
        }
        match self.data.get(&item.key).await? {
            None => {
                let pointer = Item::new(keys::merchant_connection_pointer(
                    merchant,
                    "shopify",
                    shop.as_str(),
                ));
                self.data
                    .transact(vec![TxOp::Create(item), TxOp::Create(pointer)])
                    .await?;
            }
            Some(existing) if existing.string("merchant") == Some(merchant.as_str()) => {
                self.data.replace(item, existing.version).await?;
            }
            Some(_) => return Err(RepoError::Conflict("shop is connected to another merchant")),
        }
        Ok(())
    }

    /// Disconnects a shop: its connection and secrets are deleted, and their key destroyed.
    /// Returns whether the merchant had such a connection.
    pub async fn remove_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
    ) -> Result<bool, RepoError> {
        let key = keys::shopify_connection(shop.as_str());
        let Some(existing) = self.data.get(&key).await? else {
            return Ok(false);
        };
        if existing.string("merchant") != Some(merchant.as_str()) {
            return Ok(false);
        }
        self.data
            .transact(vec![
                TxOp::Delete {
                    key,
                    expected_version: Some(existing.version),
                },
                TxOp::Delete {
                    key: keys::merchant_connection_pointer(merchant, "shopify", shop.as_str()),
                    expected_version: None,
                },
            ])
            .await?;
        self.vault
            .destroy_subject_key(merchant, &subject(shop)?)
            .await?;
        Ok(true)
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

    pub async fn shopify(
        &self,
        shop: &ShopDomain,
    ) -> Result<Option<Arc<ShopifyConnection>>, RepoError> {
        let key = keys::shopify_connection(shop.as_str());
        let Some(item) = self.data.get(&key).await? else {
            self.opened
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(shop);
            return Ok(None);
        };
        if let Some((version, connection)) = self
            .opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(shop)
            && *version == item.version
        {
            return Ok(Some(Arc::clone(connection)));
        }
        let merchant = item
            .string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .ok_or(RepoError::Corrupt("connection merchant"))?;
        let key = self
            .vault
            .key_for_opening(&merchant, &subject(shop)?)
            .await?;
        let mut webhook_secrets = Vec::with_capacity(2);
        for name in [CURRENT, PREVIOUS] {
            if let Some(bytes) = item.bytes(name) {
                let sealed = Sealed::from_bytes(bytes.to_vec())?;
                webhook_secrets.push(key.open(SealedField::WebhookSecret, &sealed)?);
            }
        }
        let access_token = item
            .bytes(ACCESS_TOKEN)
            .map(|bytes| -> Result<_, RepoError> {
                let sealed = Sealed::from_bytes(bytes.to_vec())?;
                Ok(key.open(SealedField::AccessToken, &sealed)?)
            })
            .transpose()?;
        if webhook_secrets.is_empty() {
            return Err(RepoError::Corrupt("connection without a secret"));
        }
        let connection = Arc::new(ShopifyConnection {
            merchant,
            shop: shop.clone(),
            webhook_secrets,
            access_token,
        });
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shop.clone(), (item.version, Arc::clone(&connection)));
        Ok(Some(connection))
    }
}
