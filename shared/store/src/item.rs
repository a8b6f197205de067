use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Attribute names the adapters use for their own bookkeeping.
pub(crate) const RESERVED: [&str; 6] = ["pk", "sk", "v", "ttl", "due_shard", "due_at"];

/// DynamoDB limits a partition key to 2048 bytes and a sort key to 1024.
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let ok = !self.pk.is_empty()
            && self.pk.len() <= MAX_PK_BYTES
            && !self.sk.is_empty()
            && self.sk.len() <= MAX_SK_BYTES;
        if ok { Ok(()) } else { Err(StoreError::BadKey) }
    }
}

/// An attribute value. Deliberately few kinds: strings, integers, bytes, booleans.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    S(String),
    N(i64),
    B(#[serde(with = "base64_bytes")] Vec<u8>),
    Bool(bool),
}

// Attribute values may be sealed PII or secrets: their Debug shows only kind and size.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::S(s) => write!(f, "S(<{} bytes>)", s.len()),
            Value::N(_) => f.write_str("N(<number>)"),
            Value::B(b) => write!(f, "B(<{} bytes>)", b.len()),
            Value::Bool(_) => f.write_str("Bool(<bool>)"),
        }
    }
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: ItemKey,
    pub attrs: BTreeMap<String, Value>,
    /// Set by the store: 1 after create, +1 on every write. Ignored on input.
    pub version: u64,
    /// TTL, seconds since the epoch: past it the item reads as gone.
    pub expires_at: Option<i64>,
    /// PII deadline, seconds since the epoch: the item is listed by [`crate::DeadlineIndex`]
    /// from then on, until the deadline is cleared.
    pub pii_deadline: Option<i64>,
}

impl Item {
    pub fn new(key: ItemKey) -> Self {
        Self {
            key,
            attrs: BTreeMap::new(),
            version: 0,
            expires_at: None,
            pii_deadline: None,
        }
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.attrs.insert(name.to_owned(), value);
        self
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.attrs.insert(name.to_owned(), value);
    }

    /// Removes an attribute (an optional field cleared by an update).
    pub fn remove(&mut self, name: &str) {
        self.attrs.remove(name);
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Value::S(s)) => Some(s),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Value::N(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        match self.attrs.get(name) {
            Some(Value::B(b)) => Some(b),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.attrs.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn is_expired(&self, now_epoch: i64) -> bool {
        self.expires_at.is_some_and(|ttl| ttl <= now_epoch)
    }

    /// Everything a write must satisfy, checked identically by every adapter.
    pub(crate) fn check_writable(&self) -> Result<(), StoreError> {
        self.key.check()?;
        if let Some(name) = self.attrs.keys().find(|n| RESERVED.contains(&n.as_str())) {
            return Err(StoreError::ReservedAttribute(name.clone()));
        }
        crate::limits::check_item_size(self)
    }
}
