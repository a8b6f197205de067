//! The `state` of a connect flow: issued when an authenticated merchant starts connecting a shop
//! or a seller account, carried through the marketplace's consent page, and taken back exactly
//! once by the callback — which is how the callback (a browser redirect, with no API key) knows
//! which merchant it connects, and why it cannot be forged, replayed or used late.
//!
//! Only the state's SHA-256 is stored: someone reading the table cannot complete a flow.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId};
use rc_store::{Item, ItemKey, Store, StoreError, Value};

use crate::RepoError;

/// How long a started connect flow may take (the consent pages take seconds; Amazon's code
/// itself expires after five minutes).
pub const CONNECT_STATE_TTL_SECONDS: i64 = 10 * 60;

const PREFIX: &str = "rcs_";

/// Which marketplace a flow connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectChannel {
    Shopify,
    Amazon,
}

impl ConnectChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::Amazon => "amazon",
        }
    }
}

/// A started flow, as the callback finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectIntent {
    pub merchant: MerchantId,
    pub channel: ConnectChannel,
    /// The shop domain (Shopify) or the marketplace ids, comma separated (Amazon).
    pub reference: String,
    /// The API key that started it (the audit trail's actor).
    pub actor: String,
}

pub struct ConnectStates {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

fn key_of(state: &str) -> ItemKey {
    let hash = rc_domain::to_hex(digest(&SHA256, state.as_bytes()).as_ref());
    ItemKey::new(format!("CONNECTSTATE#{hash}"), "STATE")
}

/// Whether `raw` has the form of a state we issue (anything else is not looked up).
fn well_formed(raw: &str) -> bool {
    raw.strip_prefix(PREFIX)
        .is_some_and(|hex| hex.len() == 48 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl ConnectStates {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Starts a flow: a fresh random state bound to the merchant, the channel and what is
    /// being connected.
    pub async fn issue(&self, intent: &ConnectIntent) -> Result<String, RepoError> {
        let state = format!("{PREFIX}{}", crate::random_hex::<24>()?);
        let mut item = Item::new(key_of(&state))
            .with("merchant", Value::S(intent.merchant.to_string()))
            .with("channel", Value::S(intent.channel.as_str().into()))
            .with("reference", Value::S(intent.reference.clone()))
            .with("actor", Value::S(intent.actor.clone()));
        item.expires_at = Some(self.clock.now().unix_timestamp() + CONNECT_STATE_TTL_SECONDS);
        self.data.create(item).await?;
        Ok(state)
    }

    /// Takes a flow back, once: `None` if the state was never issued, was already taken (a
    /// replayed or concurrent callback), has expired, or was issued for the other channel.
    pub async fn take(
        &self,
        state: &str,
        channel: ConnectChannel,
    ) -> Result<Option<ConnectIntent>, RepoError> {
        if !well_formed(state) {
            return Ok(None);
        }
        let key = key_of(state);
        // The store hides expired items on read.
        let Some(item) = self.data.get(&key).await? else {
            return Ok(None);
        };
        // Deleted at the version read: of two concurrent callbacks, one wins.
        match self.data.delete(&key, Some(item.version)).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => return Ok(None),
            Err(other) => return Err(other.into()),
        }
        if item.string("channel") != Some(channel.as_str()) {
            return Ok(None);
        }
        let merchant = item
            .string("merchant")
            .and_then(|m| MerchantId::parse(m).ok())
            .ok_or(RepoError::Corrupt("connect state merchant"))?;
        Ok(Some(ConnectIntent {
            merchant,
            channel,
            reference: item.string("reference").unwrap_or_default().to_owned(),
            actor: item.string("actor").unwrap_or_default().to_owned(),
        }))
    }
}
