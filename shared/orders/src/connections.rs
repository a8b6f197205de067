use std::sync::Arc;

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
}

/// Channel connections. Secrets are sealed under the connection's own data key.
pub struct ConnectionRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

const CURRENT: &str = "webhook_secret";
const PREVIOUS: &str = "webhook_secret_previous";

fn subject(shop: &ShopDomain) -> Result<KeySubject, RepoError> {
    Ok(KeySubject::connection("shopify", shop.as_str())?)
}

impl ConnectionRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self { data, vault, clock }
    }

    /// Creates or updates a shop's connection. A shop belongs to one merchant: connecting it to
    /// another is refused.
    pub async fn put_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        current: &Secret<SecretText>,
        previous: Option<&Secret<SecretText>>,
    ) -> Result<(), RepoError> {
        let key = self
            .vault
            .key_for_sealing(merchant, &subject(shop)?)
            .await?;
        let mut item = Item::new(keys::shopify_connection(shop.as_str()))
            .with("merchant", Value::S(merchant.to_string()))
            .with("updated_at", Value::N(self.clock.now().unix_timestamp()))
            .with(
                CURRENT,
                Value::B(key.seal(SealedField::WebhookSecret, current)?.into_bytes()),
            );
        if let Some(previous) = previous {
            let sealed = key.seal(SealedField::WebhookSecret, previous)?;
            item.set(PREVIOUS, Value::B(sealed.into_bytes()));
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

    pub async fn shopify(&self, shop: &ShopDomain) -> Result<Option<ShopifyConnection>, RepoError> {
        let Some(item) = self
            .data
            .get(&keys::shopify_connection(shop.as_str()))
            .await?
        else {
            return Ok(None);
        };
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
        if webhook_secrets.is_empty() {
            return Err(RepoError::Corrupt("connection without a secret"));
        }
        Ok(Some(ShopifyConnection {
            merchant,
            shop: shop.clone(),
            webhook_secrets,
        }))
    }
}
