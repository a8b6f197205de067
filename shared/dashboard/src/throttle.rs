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

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::ManualClock;
    use rc_store::memory::MemoryStore;

    #[tokio::test]
    async fn five_failures_lock_an_account_email_for_the_window_and_fifty_an_address() {
        let clock = Arc::new(ManualClock::at(
            time::macros::datetime!(2026-11-30 09:00 UTC),
        ));
        let throttle =
            SignInThrottle::new(Arc::new(MemoryStore::new(clock.clone())), clock.clone());
        for _ in 0..PER_ACCOUNT {
            assert!(
                throttle
                    .allowed("m", "Jo@Example.com", "10.0.0.1")
                    .await
                    .expect("read")
            );
            throttle
                .failed("m", "Jo@Example.com", "10.0.0.1")
                .await
                .expect("count");
        }
        // The same e-mail however it is written; another e-mail or account is not locked.
        assert!(
            !throttle
                .allowed("m", " jo@example.com", "10.0.0.2")
                .await
                .expect("read")
        );
        assert!(
            throttle
                .allowed("m", "al@example.com", "10.0.0.1")
                .await
                .expect("read")
        );
        assert!(
            throttle
                .allowed("n", "jo@example.com", "10.0.0.1")
                .await
                .expect("read")
        );
        // The window ends with the first failure's 15 minutes.
        clock.advance(time::Duration::minutes(15));
        assert!(
            throttle
                .allowed("m", "jo@example.com", "10.0.0.1")
                .await
                .expect("read")
        );

        // An address trying many e-mails is stopped at fifty.
        for n in 0..PER_ADDRESS {
            throttle
                .failed("m", &format!("u{n}@example.com"), "10.0.0.9")
                .await
                .expect("count");
        }
        assert!(
            !throttle
                .allowed("m", "fresh@example.com", "10.0.0.9")
                .await
                .expect("read")
        );
        assert!(
            throttle
                .allowed("m", "fresh@example.com", "10.0.0.8")
                .await
                .expect("read")
        );
    }

    #[tokio::test]
    async fn success_clears_the_email_s_count() {
        let clock = Arc::new(ManualClock::at(
            time::macros::datetime!(2026-11-30 09:00 UTC),
        ));
        let throttle = SignInThrottle::new(Arc::new(MemoryStore::new(clock.clone())), clock);
        for _ in 0..PER_ACCOUNT - 1 {
            throttle
                .failed("m", "jo@example.com", "10.0.0.1")
                .await
                .expect("count");
        }
        throttle
            .succeeded("m", "jo@example.com")
            .await
            .expect("clear");
        throttle
            .failed("m", "jo@example.com", "10.0.0.1")
            .await
            .expect("count");
        assert!(
            throttle
                .allowed("m", "jo@example.com", "10.0.0.1")
                .await
                .expect("read")
        );
    }
}
