use std::fmt;

use serde::{Deserialize, Serialize};

/// Amazon allows seller SKUs of up to 40 characters, Shopify up to 255; we keep the common, safe
/// subset so a SKU means the same thing on every channel.
const MAX_SKU_LEN: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    #[error("SKU is empty")]
    Empty,
    #[error("SKU is longer than {MAX_SKU_LEN} characters")]
    TooLong,
    #[error("SKU has leading or trailing white space")]
    Untrimmed,
    #[error("SKU contains a control character")]
    ControlCharacter,
}

/// A stock keeping unit, as the merchant names it on its channels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, SkuError> {
        Self::try_from(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = SkuError;
    fn try_from(raw: String) -> Result<Self, SkuError> {
        if raw.is_empty() {
            return Err(SkuError::Empty);
        }
        if raw.chars().count() > MAX_SKU_LEN {
            return Err(SkuError::TooLong);
        }
        if raw.trim() != raw {
            return Err(SkuError::Untrimmed);
        }
        if raw.chars().any(char::is_control) {
            return Err(SkuError::ControlCharacter);
        }
        Ok(Self(raw))
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> String {
        sku.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_must_be_trimmed_printable_and_short() {
        assert!(Sku::parse("TSHIRT-RED-M").is_ok());
        assert!(Sku::parse("Mug 350 ml").is_ok());
        assert_eq!(Sku::parse(""), Err(SkuError::Empty));
        assert_eq!(Sku::parse(" A"), Err(SkuError::Untrimmed));
        assert_eq!(Sku::parse("A\nB"), Err(SkuError::ControlCharacter));
        assert_eq!(Sku::parse(&"é".repeat(101)), Err(SkuError::TooLong));
    }
}
