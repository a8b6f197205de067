use serde::{Deserialize, Serialize};

/// The most units one order line may ask for. Far above any real order, far below overflow of
/// any sum we compute, so arithmetic on quantities never wraps.
const MAX_LINE_QUANTITY: u32 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantity must be at least 1")]
    Zero,
    #[error("quantity must be at most {MAX_LINE_QUANTITY}")]
    TooLarge,
}

/// A positive number of units on an order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub fn new(units: u32) -> Result<Self, QuantityError> {
        match units {
            0 => Err(QuantityError::Zero),
            n if n > MAX_LINE_QUANTITY => Err(QuantityError::TooLarge),
            n => Ok(Self(n)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(units: u32) -> Result<Self, QuantityError> {
        Self::new(units)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert_eq!(Quantity::new(3).map(Quantity::get), Ok(3));
        assert_eq!(Quantity::new(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::new(1_000_001), Err(QuantityError::TooLarge));
    }
}
