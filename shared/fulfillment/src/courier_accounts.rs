//! The merchant's courier accounts: their credentials sealed under a data key of their own, like
//! channel connection secrets — opened only to call the courier, never answered, never logged.
//! One item per account in the merchant's partition (`COURIER#<kind>#<name>`); deleting one
//! destroys its key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rc_couriers::CourierCredentials;
use rc_domain::{
    Clock, CourierAccountRef, CourierKind, MerchantId, SealedField, Secret, SecretText,
};
use rc_orders::keys::merchant_partition;
use rc_store::{Item, ItemKey, Store, StoreError, Value};
use rc_vault::{KeySubject, Sealed, Vault};
use serde::Serialize;

use crate::FulfillmentError;

/// What a merchant gives us for a courier account.
pub enum CourierSecrets {
    /// EasyPost, or the sandbox courier (which speaks EasyPost's API).
    ApiKey(Secret<SecretText>),
    /// Shiprocket's API user, and the pickup location parcels leave from (its name in the
    /// merchant's Shiprocket panel; not secret).
    Login {
        email: Secret<SecretText>,
        password: Secret<SecretText>,
        pickup_location: String,
    },
    /// Amazon Shipping: the seller whose SP-API connection buys (no secret of its own).
    AmazonSeller(rc_domain::SellerId),
}

/// What saving a courier account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutCourier {
    pub created: bool,
    /// Where its courier posts tracking (`/tracking/<hook>`), when it has a webhook secret.
    pub tracking_webhook: Option<String>,
}

/// A courier account as listed to its merchant: no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CourierAccountSummary {
    pub kind: CourierKind,
    pub name: String,
    pub updated_at: i64,
    /// Where the courier posts tracking notifications (`/tracking/<hook>`), once a webhook
    /// secret is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_webhook: Option<String>,
}

/// The path couriers post tracking notifications to. Deliberately plain: Shiprocket refuses
/// webhook URLs containing its name (or "sr", "kr").
pub fn tracking_webhook_path(hook: &str) -> String {
    format!("/tracking/{hook}")
}

/// A hook id: 32 lowercase hex characters (random; it names no merchant).
pub fn is_hook(raw: &str) -> bool {
    raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hook_key(hook: &str) -> ItemKey {
    ItemKey::new(format!("HOOK#{hook}"), "HOOK")
}

fn key(merchant: &MerchantId, account: &CourierAccountRef) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("COURIER#{}#{}", account.kind.as_str(), account.name),
    )
}

fn subject(account: &CourierAccountRef) -> Result<KeySubject, FulfillmentError> {
    Ok(KeySubject::connection(
        "courier",
        &format!("{}.{}", account.kind.as_str(), account.name),
    )?)
}

pub struct CourierAccountRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    connections: Arc<rc_orders::ConnectionRepository>,
    clock: Arc<dyn Clock>,
    /// Opened tracking webhook secrets by hook, with the account item version they came from.
    opened_hooks: Mutex<HashMap<String, OpenedHook>>,
}

/// An opened webhook secret and the account item version it was read from.
type OpenedHook = (u64, Arc<Secret<SecretText>>);

/// A tracking hook's owner and its opened secret.
pub struct HookSecret {
    pub merchant: MerchantId,
    pub account: CourierAccountRef,
    pub secret: Arc<Secret<SecretText>>,
}

impl CourierAccountRepository {
    pub fn new(
        data: Arc<dyn Store>,
        vault: Arc<Vault>,
        connections: Arc<rc_orders::ConnectionRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            data,
            vault,
            connections,
            clock,
            opened_hooks: Mutex::default(),
        }
    }

    /// Creates or replaces the account's credentials; true if it was created.
    pub async fn put(
        &self,
        merchant: &MerchantId,
        account: &CourierAccountRef,
        secrets: &CourierSecrets,
        webhook_secret: Option<&Secret<SecretText>>,
    ) -> Result<PutCourier, FulfillmentError> {
        let sealing = self
            .vault
            .key_for_sealing(merchant, &subject(account)?)
            .await?;
        let mut item = Item::new(key(merchant, account))
            .with("kind", Value::S(account.kind.as_str().into()))
            .with("name", Value::S(account.name.clone()))
            .with("updated_at", Value::N(self.clock.now().unix_timestamp()));
        let mut seal = |name: &str, field: SealedField, value: &Secret<SecretText>| {
            sealing
                .seal(field, value)
                .map(|sealed| item.set(name, Value::B(sealed.into_bytes())))
        };
        match secrets {
            CourierSecrets::ApiKey(api_key) => {
                seal("api_key", SealedField::CourierApiKey, api_key)?;
            }
            CourierSecrets::Login {
                email,
                password,
                pickup_location,
            } => {
                seal("user", SealedField::CourierUser, email)?;
                seal("password", SealedField::CourierPassword, password)?;
                item.set("pickup_location", Value::S(pickup_location.clone()));
            }
            CourierSecrets::AmazonSeller(seller) => {
                item.set("seller_id", Value::S(seller.as_str().to_owned()));
            }
        }
        if let Some(webhook_secret) = webhook_secret {
            let sealed = sealing.seal(SealedField::CourierWebhookSecret, webhook_secret)?;
            item.set("webhook_secret", Value::B(sealed.into_bytes()));
        }
        for _ in 0..3 {
            let existing = self.data.get(&item.key).await?;
            // The hook stays the same across replacements: the courier's webhook keeps working.
            if webhook_secret.is_some() {
                let hook = match existing.as_ref().and_then(|old| old.string("hook")) {
                    Some(hook) => hook.to_owned(),
                    None => rc_orders::random_hex::<16>()?,
                };
                let entry = Item::new(hook_key(&hook))
                    .with("merchant", Value::S(merchant.to_string()))
                    .with("kind", Value::S(account.kind.as_str().into()))
                    .with("name", Value::S(account.name.clone()));
                match self.data.create(entry).await {
                    Ok(()) | Err(StoreError::AlreadyExists) => {}
                    Err(e) => return Err(e.into()),
                }
                // The account owns its hook: an account cancellation removes both.
                let owned = hook_key(&hook);
                item.set(rc_privacy::OWNS_PK, Value::S(owned.pk));
                item.set(rc_privacy::OWNS_SK, Value::S(owned.sk));
                item.set("hook", Value::S(hook));
            }
            let outcome = match &existing {
                Some(old) => self.data.replace(item.clone(), old.version).await,
                None => self.data.create(item.clone()).await,
            };
            match outcome {
                Ok(()) => {
                    // Replaced without a secret: its webhook is off, and its hook entry goes.
                    if webhook_secret.is_none()
                        && let Some(old) = existing.as_ref().and_then(|old| old.string("hook"))
                    {
                        self.data.delete(&hook_key(old), None).await?;
                    }
                    return Ok(PutCourier {
                        created: existing.is_none(),
                        tracking_webhook: item.string("hook").map(tracking_webhook_path),
                    });
                }
                Err(StoreError::AlreadyExists | StoreError::StaleVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(FulfillmentError::Conflict)
    }

    /// The account's credentials, opened for one courier call; `None` if there is no such
    /// account.
    pub async fn credentials(
        &self,
        merchant: &MerchantId,
        account: &CourierAccountRef,
    ) -> Result<Option<CourierCredentials>, FulfillmentError> {
        let Some(item) = self.data.get(&key(merchant, account)).await? else {
            return Ok(None);
        };
        let opening = self
            .vault
            .key_for_opening(merchant, &subject(account)?)
            .await?;
        let open =
            |name: &str, field: SealedField| -> Result<Secret<SecretText>, FulfillmentError> {
                let sealed = item
                    .bytes(name)
                    .ok_or(FulfillmentError::Corrupt("courier account"))?;
                Ok(opening.open(field, &Sealed::from_bytes(sealed.to_vec())?)?)
            };
        Ok(Some(match account.kind {
            CourierKind::EasyPost | CourierKind::Sandbox => CourierCredentials::EasyPost {
                api_key: open("api_key", SealedField::CourierApiKey)?,
            },
            CourierKind::Shiprocket => CourierCredentials::Shiprocket {
                email: open("user", SealedField::CourierUser)?,
                password: open("password", SealedField::CourierPassword)?,
                pickup_location: item
                    .string("pickup_location")
                    .ok_or(FulfillmentError::Corrupt("courier account"))?
                    .to_owned(),
            },
            CourierKind::AmazonShipping => {
                let seller = item
                    .string("seller_id")
                    .and_then(|s| rc_domain::SellerId::parse(s).ok())
                    .ok_or(FulfillmentError::Corrupt("courier account"))?;
                // The merchant's own connection, or none (disconnected since).
                let Some(connection) = self
                    .connections
                    .amazon(&seller)
                    .await?
                    .filter(|c| c.merchant == *merchant)
                else {
                    return Ok(None);
                };
                CourierCredentials::AmazonShipping { seller, connection }
            }
        }))
    }

    /// The merchant, courier account and opened webhook secret a tracking hook belongs to (the
    /// hook is the credential's address; the caller checks the signature or token with the
    /// secret). `None` for an unknown hook, a hook the account no longer has, or an account
    /// without a secret. An opened secret is kept for the account's item version it was read
    /// from, and that version is read on every call: a replaced or deleted account is never
    /// answered from memory.
    pub async fn hook_secret(&self, hook: &str) -> Result<Option<HookSecret>, FulfillmentError> {
        if !is_hook(hook) {
            return Ok(None);
        }
        let Some(entry) = self.data.get(&hook_key(hook)).await? else {
            return Ok(None);
        };
        let merchant = entry
            .string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .ok_or(FulfillmentError::Corrupt("hook"))?;
        let account = CourierAccountRef::parse(
            entry.string("kind").unwrap_or_default(),
            entry.string("name").unwrap_or_default(),
        )
        .map_err(|_| FulfillmentError::Corrupt("hook"))?;
        // The account may have been deleted, or its hook replaced: only its current hook counts.
        let Some(current) = self.data.get(&key(&merchant, &account)).await? else {
            self.forget(hook);
            return Ok(None);
        };
        if current.string("hook") != Some(hook) {
            self.forget(hook);
            return Ok(None);
        }
        let cached = self
            .opened_hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hook)
            .filter(|(version, _)| *version == current.version)
            .map(|(_, secret)| Arc::clone(secret));
        let secret = match cached {
            Some(secret) => secret,
            None => {
                let Some(sealed) = current.bytes("webhook_secret") else {
                    return Ok(None);
                };
                let opening = self
                    .vault
                    .key_for_opening(&merchant, &subject(&account)?)
                    .await?;
                let secret = Arc::new(opening.open(
                    SealedField::CourierWebhookSecret,
                    &Sealed::from_bytes(sealed.to_vec())?,
                )?);
                self.opened_hooks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(hook.to_owned(), (current.version, Arc::clone(&secret)));
                secret
            }
        };
        Ok(Some(HookSecret {
            merchant,
            account,
            secret,
        }))
    }

    fn forget(&self, hook: &str) {
        self.opened_hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hook);
    }

    /// Whether the merchant has an Amazon connection of this seller (Amazon Shipping buys
    /// through it).
    pub async fn seller_connected(
        &self,
        merchant: &MerchantId,
        seller: &rc_domain::SellerId,
    ) -> Result<bool, FulfillmentError> {
        Ok(self
            .connections
            .amazon(seller)
            .await?
            .is_some_and(|c| c.merchant == *merchant))
    }

    /// The merchant's courier accounts, without secrets.
    pub async fn list(
        &self,
        merchant: &MerchantId,
    ) -> Result<Vec<CourierAccountSummary>, FulfillmentError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &merchant_partition(merchant),
            "COURIER#",
            100,
        )
        .await?;
        items
            .iter()
            .map(|item| {
                let kind = item
                    .string("kind")
                    .and_then(|k| CourierKind::parse(k).ok())
                    .ok_or(FulfillmentError::Corrupt("courier account"))?;
                Ok(CourierAccountSummary {
                    kind,
                    name: item
                        .string("name")
                        .ok_or(FulfillmentError::Corrupt("courier account"))?
                        .to_owned(),
                    updated_at: item.number("updated_at").unwrap_or(0),
                    tracking_webhook: item.string("hook").map(tracking_webhook_path),
                })
            })
            .collect()
    }

    /// Deletes the account and destroys the key of its credentials. Whether it existed.
    pub async fn remove(
        &self,
        merchant: &MerchantId,
        account: &CourierAccountRef,
    ) -> Result<bool, FulfillmentError> {
        let key = key(merchant, account);
        let Some(existing) = self.data.get(&key).await? else {
            return Ok(false);
        };
        self.data.delete(&key, Some(existing.version)).await?;
        if let Some(hook) = existing.string("hook") {
            self.data.delete(&hook_key(hook), None).await?;
        }
        self.vault
            .destroy_subject_key(merchant, &subject(account)?)
            .await?;
        Ok(true)
    }
}
