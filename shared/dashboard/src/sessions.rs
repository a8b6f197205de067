//! Dashboard sessions, kept server side: the browser holds only a random token (256 bits) in
//! the `__Host-` session cookie; the store holds its SHA-256, the user, the user's generation
//! when it started, and the session's CSRF token. A session ends when it has been idle for
//! 30 minutes, 12 hours after it started whatever its use, when the user signs out (here or
//! everywhere), and when the user's role or password changes.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId};
use rc_orders::RepoError;
use rc_store::{Item, ItemKey, Store, Value};

/// Idle time-out (OWASP: 15–30 minutes for applications handling sensitive data).
pub const IDLE_SECONDS: i64 = 30 * 60;
/// Absolute time-out: a working day.
pub const ABSOLUTE_SECONDS: i64 = 12 * 60 * 60;
/// How stale `seen_at` may get before a request writes it again (one write a minute at most).
const SEEN_RESOLUTION_SECONDS: i64 = 60;

const PREFIX: &str = "rcd_";

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub merchant: MerchantId,
    pub user: String,
    pub generation: i64,
    /// The synchronizer token every form of this session carries.
    pub csrf: String,
    pub started_at: i64,
    seen_at: i64,
    hash: String,
}

impl Session {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        verify_slices_are_equal(self.csrf.as_bytes(), presented.as_bytes()).is_ok()
    }
}

fn hash_of(token: &str) -> String {
    rc_domain::to_hex(digest(&SHA256, token.as_bytes()).as_ref())
}

fn key_of(hash: &str) -> ItemKey {
    ItemKey::new(format!("SESSION#{hash}"), "SESSION")
}

/// Whether `raw` has the form of a token we issue (anything else is not looked up).
fn well_formed(raw: &str) -> bool {
    raw.strip_prefix(PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub struct SessionRepository {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl SessionRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    pub fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Starts a session for the user; its token (for the cookie, never stored) and the session.
    pub async fn start(
        &self,
        merchant: &MerchantId,
        user: &str,
        generation: i64,
    ) -> Result<(String, Session), RepoError> {
        let token = format!("{PREFIX}{}", rc_orders::random_hex::<32>()?);
        let csrf = rc_orders::random_hex::<32>()?;
        let now = self.now();
        let hash = hash_of(&token);
        let mut item = Item::new(key_of(&hash))
            .with("merchant", Value::S(merchant.to_string()))
            .with("user", Value::S(user.to_owned()))
            .with("generation", Value::N(generation))
            .with("csrf", Value::S(csrf.clone()))
            .with("started_at", Value::N(now))
            .with("seen_at", Value::N(now));
        // The store forgets it at the absolute time-out even if nobody signs out.
        item.expires_at = Some(now + ABSOLUTE_SECONDS);
        self.data.create(item).await?;
        Ok((
            token,
            Session {
                merchant: merchant.clone(),
                user: user.to_owned(),
                generation,
                csrf,
                started_at: now,
                seen_at: now,
                hash,
            },
        ))
    }

    /// The live session a cookie names, if any: unknown, malformed, idle or too old tokens
    /// are all `None` (and an idle or old one is deleted).
    pub async fn find(&self, token: &str) -> Result<Option<Session>, RepoError> {
        if !well_formed(token) {
            return Ok(None);
        }
        let hash = hash_of(token);
        let Some(item) = self.data.get(&key_of(&hash)).await? else {
            return Ok(None);
        };
        let now = self.now();
        let started_at = item.number("started_at").unwrap_or(0);
        let seen_at = item.number("seen_at").unwrap_or(0);
        if now - seen_at >= IDLE_SECONDS || now - started_at >= ABSOLUTE_SECONDS {
            self.forget(&hash).await;
            return Ok(None);
        }
        let merchant = item
            .string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .ok_or(RepoError::Corrupt("session merchant"))?;
        Ok(Some(Session {
            merchant,
            user: item.string("user").unwrap_or_default().to_owned(),
            generation: item.number("generation").unwrap_or(-1),
            csrf: item.string("csrf").unwrap_or_default().to_owned(),
            started_at,
            seen_at,
            hash,
        }))
    }

    /// Notes the session's use (at most once a minute), which keeps it from idling out.
    pub async fn touch(&self, session: &Session) {
        let now = self.now();
        if now - session.seen_at < SEEN_RESOLUTION_SECONDS {
            return;
        }
        if let Ok(Some(mut item)) = self.data.get(&key_of(&session.hash)).await {
            let version = item.version;
            item.set("seen_at", Value::N(now));
            if let Err(error) = self.data.replace(item, version).await {
                tracing::debug!(%error, "session use not noted");
            }
        }
    }

    /// Ends the session (sign-out, or a session replaced at sign-in).
    pub async fn end(&self, session: &Session) -> Result<(), RepoError> {
        Ok(self.data.delete(&key_of(&session.hash), None).await?)
    }

    /// Ends whatever session a presented token names, live or not.
    pub async fn end_token(&self, token: &str) {
        if well_formed(token) {
            self.forget(&hash_of(token)).await;
        }
    }

    async fn forget(&self, hash: &str) {
        if let Err(error) = self.data.delete(&key_of(hash), None).await {
            tracing::debug!(%error, "session not deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_domain::ManualClock;
    use rc_store::memory::MemoryStore;

    fn repository() -> (SessionRepository, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at(
            time::macros::datetime!(2026-11-30 09:00 UTC),
        ));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        (SessionRepository::new(store, clock.clone()), clock)
    }

    fn merchant() -> MerchantId {
        MerchantId::parse("m-1").expect("merchant")
    }

    #[tokio::test]
    async fn a_session_lives_while_used_and_ends_idle_or_old() {
        let (sessions, clock) = repository();
        let (token, started) = sessions.start(&merchant(), "u1", 3).await.expect("start");
        assert!(well_formed(&token));
        let found = sessions.find(&token).await.expect("find").expect("live");
        assert_eq!((found.user.as_str(), found.generation), ("u1", 3));
        assert!(found.csrf_matches(&started.csrf));
        assert!(!found.csrf_matches("0"));

        // Used every 25 minutes, it lives on — until 12 hours after it started.
        for _ in 0..28 {
            clock.advance(time::Duration::minutes(25));
            let session = sessions
                .find(&token)
                .await
                .expect("find")
                .expect("still live");
            sessions.touch(&session).await;
        }
        clock.advance(time::Duration::minutes(25));
        assert!(
            sessions.find(&token).await.expect("find").is_none(),
            "absolute time-out"
        );

        // Unused for 30 minutes, it ends.
        let (token, _) = sessions.start(&merchant(), "u1", 3).await.expect("start");
        clock.advance(time::Duration::minutes(29));
        assert!(sessions.find(&token).await.expect("find").is_some());
        clock.advance(time::Duration::minutes(31));
        assert!(
            sessions.find(&token).await.expect("find").is_none(),
            "idle time-out"
        );
    }

    #[tokio::test]
    async fn only_tokens_we_issued_find_a_session() {
        let (sessions, _) = repository();
        let (token, session) = sessions.start(&merchant(), "u1", 0).await.expect("start");
        for forged in [
            "",
            "rcd_",
            "rcd_zz",
            &token[..token.len() - 1],
            &format!("{token}0"),
            &token.replace("rcd_", "rck_"),
        ] {
            assert!(
                sessions.find(forged).await.expect("find").is_none(),
                "{forged}"
            );
        }
        sessions.end(&session).await.expect("end");
        assert!(
            sessions.find(&token).await.expect("find").is_none(),
            "signed out"
        );
    }
}
