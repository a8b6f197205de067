//! Sign-in attempts, limited: at most 5 failures per e-mail and account in 15 minutes (then
//! that sign-in is refused until the window ends, whatever the password), and at most 50 per
//! client address. Counted whether or not the user exists, so the answers do not tell.
//! Counters are items with a time to live; the keys are hashes, never the e-mail or address.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::Clock;
use rc_orders::RepoError;
use rc_store::{Item, ItemKey, Store, StoreError, Value};

/// The window failures are counted in.
pub const WINDOW_SECONDS: i64 = 15 * 60;
/// Failures allowed per e-mail and account in a window.
pub const PER_ACCOUNT: i64 = 5;
/// Failures allowed per client address in a window.
pub const PER_ADDRESS: i64 = 50;

pub struct SignInThrottle {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn key(kind: &str, parts: &[&str]) -> ItemKey {
    let mut input = Vec::new();
    for part in parts {
        input.extend_from_slice(part.as_bytes());
        input.push(0);
    }
    let hash = rc_domain::to_hex(digest(&SHA256, &input).as_ref());
    ItemKey::new(format!("SIGNIN#{kind}#{}", &hash[..32]), "COUNT")
}

impl SignInThrottle {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    fn keys(merchant: &str, email: &str, address: &str) -> [(ItemKey, i64); 2] {
        let email = email.trim().to_lowercase();
        [
            (key("account", &[merchant, &email]), PER_ACCOUNT),
            (key("address", &[address]), PER_ADDRESS),
        ]
    }

    /// Whether a sign-in may be tried now.
    pub async fn allowed(
        &self,
        merchant: &str,
        email: &str,
        address: &str,
    ) -> Result<bool, RepoError> {
        for (key, limit) in Self::keys(merchant, email, address) {
            if let Some(item) = self.data.get(&key).await?
                && item.number("failures").unwrap_or(0) >= limit
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Counts a failed sign-in against the e-mail and the address.
    pub async fn failed(
        &self,
        merchant: &str,
        email: &str,
        address: &str,
    ) -> Result<(), RepoError> {
        let now = self.clock.now().unix_timestamp();
        for (key, _) in Self::keys(merchant, email, address) {
            for _ in 0..5 {
                let outcome = match self.data.get(&key).await? {
                    Some(mut item) => {
                        let version = item.version;
                        let failures = item.number("failures").unwrap_or(0);
                        item.set("failures", Value::N(failures + 1));
                        self.data.replace(item, version).await
                    }
                    None => {
                        let mut item = Item::new(key.clone()).with("failures", Value::N(1));
                        // The window starts at the first failure and the count goes with it.
                        item.expires_at = Some(now + WINDOW_SECONDS);
                        self.data.create(item).await
                    }
                };
                match outcome {
                    Ok(()) => break,
                    Err(StoreError::StaleVersion { .. } | StoreError::AlreadyExists) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// A successful sign-in clears the e-mail's count (not the address's).
    pub async fn succeeded(&self, merchant: &str, email: &str) -> Result<(), RepoError> {
        let email = email.trim().to_lowercase();
        self.data
            .delete(&key("account", &[merchant, &email]), None)
            .await?;
        Ok(())
    }
}
