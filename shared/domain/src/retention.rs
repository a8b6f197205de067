//! How long buyer PII may be kept. The promise is "no later than 30 days after shipment"; a
//! merchant may choose shorter, never longer, so the limit is enforced by the type.

use time::{Duration, OffsetDateTime};

/// The longest PII may live after an order ships.
pub const MAX_DAYS_AFTER_SHIPMENT: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("PII retention must be between 1 and {MAX_DAYS_AFTER_SHIPMENT} days after shipment")]
    OutOfRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    days_after_shipment: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            days_after_shipment: MAX_DAYS_AFTER_SHIPMENT,
        }
    }
}

impl RetentionPolicy {
    pub fn days_after_shipment(days: u32) -> Result<Self, RetentionError> {
        if (1..=MAX_DAYS_AFTER_SHIPMENT).contains(&days) {
            Ok(Self {
                days_after_shipment: days,
            })
        } else {
            Err(RetentionError::OutOfRange)
        }
    }

    /// The moment by which an order's PII must be gone.
    pub fn pii_deadline(&self, shipped_at: OffsetDateTime) -> OffsetDateTime {
        shipped_at + Duration::days(i64::from(self.days_after_shipment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_deadline_is_never_later_than_thirty_days_after_shipment() {
        let shipped = datetime!(2026-11-01 12:00 UTC);
        assert_eq!(
            RetentionPolicy::default().pii_deadline(shipped),
            datetime!(2026-12-01 12:00 UTC)
        );
        let week = RetentionPolicy::days_after_shipment(7).expect("valid");
        assert_eq!(week.pii_deadline(shipped), datetime!(2026-11-08 12:00 UTC));
        assert_eq!(
            RetentionPolicy::days_after_shipment(31),
            Err(RetentionError::OutOfRange)
        );
        assert_eq!(
            RetentionPolicy::days_after_shipment(0),
            Err(RetentionError::OutOfRange)
        );
    }
}
