//! Identifiers. They end up in DynamoDB keys, S3 paths and log lines, so they are restricted to a
//! small, unambiguous alphabet: that makes key injection (`#`, `/`) and log forging impossible.

use serde::{Deserialize, Serialize};

const MAX_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is longer than {MAX_ID_LEN} characters")]
    TooLong,
    #[error("identifier may contain only letters, digits, '-', '_' and '.'")]
    BadCharacter,
}

fn parse_id(raw: &str) -> Result<&str, IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(IdError::BadCharacter);
    }
    Ok(raw)
}

/// A string identifier that exists only parsed: `$parse` decides what is one (returning the
/// accepted text or `$error`); serde goes through it too.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!($(#[$doc])* $name, parse_id, IdError);
    };
    ($(#[$doc:meta])* $name:ident, $parse:path, $error:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, $error> {
                $parse(raw).map(|s| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(raw: String) -> Result<Self, $error> {
                $parse(&raw)?;
                Ok(Self(raw))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use id_type;

id_type!(
    /// A merchant (tenant) of RetailCoder.
    MerchantId
);
id_type!(
    /// A warehouse (or store location) holding stock, unique within its merchant.
    WarehouseId
);
id_type!(
    /// An order, unique within its merchant. Channel orders are prefixed with the channel
    /// (`shopify-820982911946154508`, `amazon-902-3159896-1390916`) so ids never collide.
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_safe_alphabet_only() {
        assert!(MerchantId::parse("demo-merchant_1.a").is_ok());
        assert_eq!(MerchantId::parse(""), Err(IdError::Empty));
        assert_eq!(OrderId::parse("a#b"), Err(IdError::BadCharacter));
        assert_eq!(OrderId::parse("a/b"), Err(IdError::BadCharacter));
        assert_eq!(OrderId::parse(&"x".repeat(65)), Err(IdError::TooLong));
    }

    #[test]
    fn ids_refuse_bad_values_when_deserialized() {
        assert!(serde_json::from_str::<OrderId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<OrderId>("\"no spaces\"").is_err());
    }
}
