//! Merchant accounts: the profile a merchant keeps (company name, default currency, time zone)
//! and its billing contact — a person's name and e-mail, the merchant's personal data, so
//! sealed under the merchant's profile data key like buyer PII, never logged, and erased when
//! the account is cancelled (the item goes with the merchant's partition, the key with its
//! data keys, and the merchant key is destroyed first). Created by an operator (`rc-ops
//! merchant create`) or the local host's demo seeding, through [`MerchantRepository::create`].

use std::sync::Arc;

use rc_domain::{BuyerName, Clock, Currency, Email, MerchantId, Pii, RevealPurpose, SealedField};
use rc_store::{Item, ItemKey, Store, StoreError, Value};
use rc_vault::{KeySubject, Sealed, Vault};
use serde::{Deserialize, Serialize};

use crate::{RepoError, keys};

/// The longest company name (characters).
pub const MAX_COMPANY_NAME: usize = 200;

fn profile_key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(keys::merchant_partition(merchant), "PROFILE")
}

/// A profile as the API takes and shows it (the contact only ever in this shape, never logged:
/// the type has no `Debug`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub company_name: String,
    pub default_currency: String,
    pub time_zone: String,
    pub contact: RawContact,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    pub name: String,
    pub email: String,
}

/// A parsed profile.
pub struct Profile {
    pub company_name: String,
    pub default_currency: Currency,
    /// An IANA time zone name (`Europe/Berlin`, `Asia/Kolkata`, `UTC`).
    pub time_zone: String,
    pub contact_name: Pii<BuyerName>,
    pub contact_email: Pii<Email>,
}

/// An IANA time zone name's shape: `UTC`, or `Area/Location[/Sub]` of letters, digits, `_`, `-`,
/// `+` (the tz database's alphabet), at most 64 characters.
fn time_zone(raw: &str) -> Option<String> {
    let ok = raw == "UTC"
        || (raw.len() <= 64
            && raw.contains('/')
            && raw.split('/').all(|part| {
                !part.is_empty()
                    && part.starts_with(|c: char| c.is_ascii_uppercase())
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
            }));
    ok.then(|| raw.to_owned())
}

impl RawProfile {
    /// The profile, or the field at fault (never its value).
    pub fn parse(&self) -> Result<Profile, &'static str> {
        Ok(Profile {
            company_name: crate::api_keys::printable(&self.company_name, MAX_COMPANY_NAME)
                .ok_or("company_name")?,
            default_currency: Currency::parse(&self.default_currency)
                .map_err(|_| "default_currency")?,
            time_zone: time_zone(&self.time_zone).ok_or("time_zone")?,
            contact_name: Pii::new(
                BuyerName::parse(&self.contact.name).map_err(|_| "contact.name")?,
            ),
            contact_email: Pii::new(
                Email::parse(&self.contact.email).map_err(|_| "contact.email")?,
            ),
        })
    }
}

pub struct MerchantRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

impl MerchantRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self { data, vault, clock }
    }

    async fn item(&self, merchant: &MerchantId, profile: &Profile) -> Result<Item, RepoError> {
        let key = self
            .vault
            .key_for_sealing(merchant, &KeySubject::merchant_profile())
            .await?;
        let name = key.seal(SealedField::ContactName, &profile.contact_name)?;
        let email = key.seal(SealedField::ContactEmail, &profile.contact_email)?;
        Ok(Item::new(profile_key(merchant))
            .with("company_name", Value::S(profile.company_name.clone()))
            .with(
                "default_currency",
                Value::S(profile.default_currency.code().into()),
            )
            .with("time_zone", Value::S(profile.time_zone.clone()))
            .with(
                SealedField::ContactName.as_str(),
                Value::B(name.into_bytes()),
            )
            .with(
                SealedField::ContactEmail.as_str(),
                Value::B(email.into_bytes()),
            )
            .with("updated_at", Value::N(self.clock.now().unix_timestamp())))
    }

    /// Creates the merchant's account: `Ok(false)` when it exists already (nothing changes).
    pub async fn create(
        &self,
        merchant: &MerchantId,
        profile: &Profile,
    ) -> Result<bool, RepoError> {
        if self.vault.is_closed(merchant).await? {
            return Err(RepoError::Refused("this merchant's account was cancelled"));
        }
        let item = self.item(merchant, profile).await?;
        match self.data.create(item).await {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the profile (last writer wins: the merchant's own settings).
    pub async fn put(&self, merchant: &MerchantId, profile: &Profile) -> Result<(), RepoError> {
        let item = self.item(merchant, profile).await?;
        Ok(rc_store::put_latest(self.data.as_ref(), item).await?)
    }

    /// The profile, its contact opened for the merchant itself.
    pub async fn get(&self, merchant: &MerchantId) -> Result<Option<RawProfile>, RepoError> {
        let Some(item) = self.data.get(&profile_key(merchant)).await? else {
            return Ok(None);
        };
        let key = self
            .vault
            .key_for_opening(merchant, &KeySubject::merchant_profile())
            .await?;
        let open = |field: SealedField| -> Result<Vec<u8>, RepoError> {
            let bytes = item
                .bytes(field.as_str())
                .ok_or(RepoError::Corrupt("profile contact"))?;
            Ok(bytes.to_vec())
        };
        let name: Pii<BuyerName> = key.open(
            SealedField::ContactName,
            &Sealed::from_bytes(open(SealedField::ContactName)?)?,
        )?;
        let email: Pii<Email> = key.open(
            SealedField::ContactEmail,
            &Sealed::from_bytes(open(SealedField::ContactEmail)?)?,
        )?;
        let text = |name: &str| item.string(name).unwrap_or_default().to_owned();
        Ok(Some(RawProfile {
            company_name: text("company_name"),
            default_currency: text("default_currency"),
            time_zone: text("time_zone"),
            contact: RawContact {
                name: name
                    .reveal(RevealPurpose::AccountAdministration)
                    .as_str()
                    .to_owned(),
                email: email
                    .reveal(RevealPurpose::AccountAdministration)
                    .as_str()
                    .to_owned(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(company: &str, currency: &str, zone: &str, name: &str, email: &str) -> RawProfile {
        RawProfile {
            company_name: company.into(),
            default_currency: currency.into(),
            time_zone: zone.into(),
            contact: RawContact {
                name: name.into(),
                email: email.into(),
            },
        }
    }

    #[test]
    fn profiles_parse_or_name_the_field() {
        assert!(
            raw("Acme", "EUR", "Europe/Berlin", "Jo Doe", "jo@acme.example")
                .parse()
                .is_ok()
        );
        assert!(
            raw("Acme", "INR", "UTC", "Jo", "jo@acme.example")
                .parse()
                .is_ok()
        );
        assert!(
            raw(
                "Acme",
                "USD",
                "America/Argentina/Buenos_Aires",
                "Jo",
                "j@a.b"
            )
            .parse()
            .is_ok()
        );
        let long = "x".repeat(201);
        let cases = [
            (raw("", "EUR", "UTC", "Jo", "j@a.b"), "company_name"),
            (raw(&long, "EUR", "UTC", "Jo", "j@a.b"), "company_name"),
            (
                raw("Acme", "euro", "UTC", "Jo", "j@a.b"),
                "default_currency",
            ),
            (raw("Acme", "EUR", "Berlin", "Jo", "j@a.b"), "time_zone"),
            (
                raw("Acme", "EUR", "Europe/../etc", "Jo", "j@a.b"),
                "time_zone",
            ),
            (raw("Acme", "EUR", "UTC", "", "j@a.b"), "contact.name"),
            (
                raw("Acme", "EUR", "UTC", "Jo", "not-an-email"),
                "contact.email",
            ),
        ];
        for (profile, field) in cases {
            assert_eq!(profile.parse().err(), Some(field));
        }
    }
}
