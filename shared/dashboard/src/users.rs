//! A merchant's dashboard users: one item each in the merchant's partition (so they go with
//! the account when it is cancelled), found by a hash of the merchant and the lower-cased
//! e-mail, the e-mail itself sealed under the merchant's profile key (staff e-mails are
//! personal data), the password as its Argon2id PHC string, and a `generation` that every
//! session carries: raising it (sign out everywhere, a new password, a new role) ends every
//! session the user has, in one write.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, Email, MerchantId, Pii, RevealPurpose, SealedField};
use rc_orders::{RepoError, keys};
use rc_store::{Item, ItemKey, Store, StoreError, Value};
use rc_vault::{KeySubject, Sealed, Vault};

use crate::password::{self, Password};
use crate::roles::Role;

const USER_PREFIX: &str = "USER#";

/// A user, as sign-in and sessions need them (no e-mail, no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub merchant: MerchantId,
    /// 24 hex digits, stable for the e-mail: `user:<id>` in the audit trail.
    pub id: String,
    pub role: Role,
    pub generation: i64,
    /// Made with a password someone else was shown: to be changed at first sign-in.
    pub must_change_password: bool,
}

/// A user as the users page shows them to an owner or admin.
pub struct UserInfo {
    pub id: String,
    /// Opened for account administration only.
    pub email: String,
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("not an e-mail address")]
    InvalidEmail,
    #[error("a user with this e-mail exists")]
    Exists,
    #[error("no such user")]
    NotFound,
    #[error("the account's last owner cannot be removed or demoted")]
    LastOwner,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        Self::Repo(e.into())
    }
}

impl From<rc_vault::VaultError> for UserError {
    fn from(e: rc_vault::VaultError) -> Self {
        Self::Repo(e.into())
    }
}

/// The user id an e-mail has in a merchant's account.
pub fn user_id(merchant: &MerchantId, email: &str) -> String {
    let mut input = b"rc-dashboard-user\0".to_vec();
    input.extend_from_slice(merchant.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(email.trim().to_lowercase().as_bytes());
    let hex = rc_domain::to_hex(digest(&SHA256, &input).as_ref());
    hex[..24].to_owned()
}

fn well_formed_id(id: &str) -> bool {
    id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn user_key(merchant: &MerchantId, id: &str) -> ItemKey {
    ItemKey::new(
        keys::merchant_partition(merchant),
        format!("{USER_PREFIX}{id}"),
    )
}

pub struct UserRepository {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
}

fn user_of(merchant: &MerchantId, item: &Item) -> Result<(User, String), RepoError> {
    let id = item
        .key
        .sk
        .strip_prefix(USER_PREFIX)
        .ok_or(RepoError::Corrupt("user key"))?
        .to_owned();
    let role = item
        .string("role")
        .and_then(Role::parse)
        .ok_or(RepoError::Corrupt("user role"))?;
    let phc = item.string("password").unwrap_or_default().to_owned();
    Ok((
        User {
            merchant: merchant.clone(),
            id,
            role,
            generation: item.number("generation").unwrap_or(0),
            must_change_password: item.number("must_change_password") == Some(1),
        },
        phc,
    ))
}

impl UserRepository {
    pub fn new(data: Arc<dyn Store>, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self { data, vault, clock }
    }

    /// Adds a user. `must_change` when someone else chose (and saw) the password.
    pub async fn create(
        &self,
        merchant: &MerchantId,
        email: &str,
        role: Role,
        password: &Password,
        must_change: bool,
    ) -> Result<User, UserError> {
        let email = Pii::new(Email::parse(email.trim()).map_err(|_| UserError::InvalidEmail)?);
        if self.vault.is_closed(merchant).await? {
            return Err(RepoError::Refused("this merchant's account was cancelled").into());
        }
        let id = user_id(
            merchant,
            email.reveal(RevealPurpose::Authentication).as_str(),
        );
        let key = self
            .vault
            .key_for_sealing(merchant, &KeySubject::merchant_profile())
            .await?;
        let sealed = key.seal(SealedField::UserEmail, &email)?;
        let item = Item::new(user_key(merchant, &id))
            .with("role", Value::S(role.as_str().into()))
            .with("password", Value::S(password::hash(password)?))
            .with(
                SealedField::UserEmail.as_str(),
                Value::B(sealed.into_bytes()),
            )
            .with("generation", Value::N(0))
            .with("must_change_password", Value::N(i64::from(must_change)))
            .with("created_at", Value::N(self.clock.now().unix_timestamp()));
        match self.data.create(item).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => return Err(UserError::Exists),
            Err(e) => return Err(e.into()),
        }
        Ok(User {
            merchant: merchant.clone(),
            id,
            role,
            generation: 0,
            must_change_password: must_change,
        })
    }

    /// The user with this id, if the merchant has one.
    pub async fn get(&self, merchant: &MerchantId, id: &str) -> Result<Option<User>, UserError> {
        if !well_formed_id(id) {
            return Ok(None);
        }
        match self.data.get(&user_key(merchant, id)).await? {
            Some(item) => Ok(Some(user_of(merchant, &item)?.0)),
            None => Ok(None),
        }
    }

    /// The user whose e-mail and password these are; `None` for an unknown e-mail or a wrong
    /// password alike (an unknown e-mail spends the same time on a decoy hash).
    pub async fn authenticate(
        &self,
        merchant: &MerchantId,
        email: &str,
        password: &Password,
    ) -> Result<Option<User>, UserError> {
        let item = self
            .data
            .get(&user_key(merchant, &user_id(merchant, email)))
            .await?;
        let Some(item) = item else {
            password::verify_nobody(password);
            return Ok(None);
        };
        let (user, phc) = user_of(merchant, &item)?;
        Ok(password::verify(password, &phc).then_some(user))
    }

    /// Whether `password` is the user's (a new password needs the current one).
    pub async fn verify(
        &self,
        merchant: &MerchantId,
        id: &str,
        password: &Password,
    ) -> Result<bool, UserError> {
        if !well_formed_id(id) {
            return Ok(false);
        }
        let Some(item) = self.data.get(&user_key(merchant, id)).await? else {
            return Ok(false);
        };
        let (_, phc) = user_of(merchant, &item)?;
        Ok(password::verify(password, &phc))
    }

    /// Every user of the merchant, e-mails opened for the owner or admin managing them.
    pub async fn list(&self, merchant: &MerchantId) -> Result<Vec<UserInfo>, UserError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &keys::merchant_partition(merchant),
            USER_PREFIX,
            100,
        )
        .await?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let key = self
            .vault
            .key_for_opening(merchant, &KeySubject::merchant_profile())
            .await?;
        let mut users = Vec::with_capacity(items.len());
        for item in &items {
            let (user, _) = user_of(merchant, item)?;
            let sealed = item
                .bytes(SealedField::UserEmail.as_str())
                .ok_or(RepoError::Corrupt("user email"))?;
            let email: Pii<Email> = key.open(
                SealedField::UserEmail,
                &Sealed::from_bytes(sealed.to_vec())?,
            )?;
            users.push(UserInfo {
                id: user.id,
                email: email
                    .reveal(RevealPurpose::AccountAdministration)
                    .as_str()
                    .to_owned(),
                role: user.role,
                created_at: item.number("created_at").unwrap_or(0),
            });
        }
        Ok(users)
    }

    /// Changes the user's item with `change`, at the version read, raising its generation (so
    /// every session it has ends).
    async fn change(
        &self,
        merchant: &MerchantId,
        id: &str,
        change: impl Fn(&mut Item),
    ) -> Result<(), UserError> {
        if !well_formed_id(id) {
            return Err(UserError::NotFound);
        }
        for _ in 0..5 {
            let Some(mut item) = self.data.get(&user_key(merchant, id)).await? else {
                return Err(UserError::NotFound);
            };
            let version = item.version;
            let generation = item.number("generation").unwrap_or(0);
            item.set("generation", Value::N(generation + 1));
            change(&mut item);
            match self.data.replace(item, version).await {
                Ok(()) => return Ok(()),
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::Store(StoreError::TransactionConflict).into())
    }

    /// Ends every session of the user.
    pub async fn sign_out_everywhere(
        &self,
        merchant: &MerchantId,
        id: &str,
    ) -> Result<(), UserError> {
        self.change(merchant, id, |_| {}).await
    }

    /// A new password, chosen by the user: every session ends (the caller starts a new one).
    pub async fn set_password(
        &self,
        merchant: &MerchantId,
        id: &str,
        password: &Password,
    ) -> Result<(), UserError> {
        self.store_password(merchant, id, password, false).await
    }

    /// A first password again, set by someone else (an owner or admin, or an operator for an
    /// owner locked out): every session of the user ends, and they must choose their own
    /// password before anything else.
    pub async fn reset_password(
        &self,
        merchant: &MerchantId,
        id: &str,
        password: &Password,
    ) -> Result<(), UserError> {
        self.store_password(merchant, id, password, true).await
    }

    /// Stores a password's hash (and whether it must be changed at sign-in) and ends every
    /// session of the user.
    async fn store_password(
        &self,
        merchant: &MerchantId,
        id: &str,
        password: &Password,
        must_change: bool,
    ) -> Result<(), UserError> {
        let phc = password::hash(password)?;
        self.change(merchant, id, |item| {
            item.set("password", Value::S(phc.clone()));
            item.set("must_change_password", Value::N(i64::from(must_change)));
        })
        .await
    }

    async fn owners(&self, merchant: &MerchantId) -> Result<usize, UserError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &keys::merchant_partition(merchant),
            USER_PREFIX,
            100,
        )
        .await?;
        Ok(items
            .iter()
            .filter(|i| i.string("role") == Some(Role::Owner.as_str()))
            .count())
    }

    /// A new role (a privilege change: every session of the user ends). The last owner stays.
    pub async fn set_role(
        &self,
        merchant: &MerchantId,
        id: &str,
        role: Role,
    ) -> Result<(), UserError> {
        let current = self.get(merchant, id).await?.ok_or(UserError::NotFound)?;
        if current.role == Role::Owner && role != Role::Owner && self.owners(merchant).await? < 2 {
            return Err(UserError::LastOwner);
        }
        self.change(merchant, id, |item| {
            item.set("role", Value::S(role.as_str().into()))
        })
        .await
    }

    /// Removes a user (their sessions end with them). The last owner stays.
    pub async fn remove(&self, merchant: &MerchantId, id: &str) -> Result<(), UserError> {
        let current = self.get(merchant, id).await?.ok_or(UserError::NotFound)?;
        if current.role == Role::Owner && self.owners(merchant).await? < 2 {
            return Err(UserError::LastOwner);
        }
        self.data.delete(&user_key(merchant, id), None).await?;
        Ok(())
    }
}
