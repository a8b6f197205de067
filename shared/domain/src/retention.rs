//! How long buyer PII may be kept. The promise is "no later than 30 days after shipment"; a
//! merchant may choose shorter, never longer, so the limit is enforced by the type.

use time::{Duration, OffsetDateTime};

/// The longest PII may live after an order ships.
pub const MAX_DAYS_AFTER_SHIPMENT: u32 = 30;

/// The longest PII of an order that never ships (still open, backordered, abandoned) may live,
/// counted from when it was placed. An order not shipped in 90 days is stale: fulfilling it needs
/// the buyer to be contacted through the marketplace anyway.
pub const UNSHIPPED_LIMIT_DAYS: u32 = 90;

/// Why an order's PII is (or was) removed: recorded on the PII item and in deletion receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiRule {
    /// Shipped + retention (at most 30 days).
    Shipped,
    /// Cancelled before shipment + retention (at most 30 days): the same clock as a shipment.
    Cancelled,
    /// Never shipped: placed + 90 days.
    UnshippedLimit,
    /// The buyer asked the merchant to erase their data (Shopify `customers/redact`).
    CustomerRedact,
    /// The shop uninstalled the app (Shopify `shop/redact`): as an account cancellation.
    ShopRedact,
    /// The merchant cancelled their account.
    AccountCancellation,
}

impl PiiRule {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
            Self::UnshippedLimit => "unshipped_limit",
            Self::CustomerRedact => "customer_redact",
            Self::ShopRedact => "shop_redact",
            Self::AccountCancellation => "account_cancellation",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Shipped,
            Self::Cancelled,
            Self::UnshippedLimit,
            Self::CustomerRedact,
            Self::ShopRedact,
            Self::AccountCancellation,
        ]
        .into_iter()
        .find(|rule| rule.as_str() == raw)
    }
}

/// When an order's PII must be gone, and by which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiDeadline {
    pub at: OffsetDateTime,
    pub rule: PiiRule,
}

impl PiiDeadline {
    /// The earlier of two deadlines: a deadline only ever moves earlier.
    pub fn earliest(self, other: PiiDeadline) -> PiiDeadline {
        if other.at < self.at { other } else { self }
    }
}

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

    /// The deadline of an order from its facts: placed + 90 days, pulled earlier by a shipment
    /// or a cancellation (+ retention). Never later than any rule allows.
    pub fn deadline_for(
        &self,
        placed_at: OffsetDateTime,
        shipped_at: Option<OffsetDateTime>,
        cancelled_at: Option<OffsetDateTime>,
    ) -> PiiDeadline {
        let mut deadline = PiiDeadline {
            at: placed_at + Duration::days(i64::from(UNSHIPPED_LIMIT_DAYS)),
            rule: PiiRule::UnshippedLimit,
        };
        if let Some(at) = shipped_at {
            deadline = deadline.earliest(PiiDeadline {
                at: self.pii_deadline(at),
                rule: PiiRule::Shipped,
            });
        }
        if let Some(at) = cancelled_at {
            deadline = deadline.earliest(PiiDeadline {
                at: self.pii_deadline(at),
                rule: PiiRule::Cancelled,
            });
        }
        deadline
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

    #[test]
    fn every_order_has_a_deadline_and_events_only_pull_it_earlier() {
        let policy = RetentionPolicy::default();
        let placed = datetime!(2026-11-01 00:00 UTC);
        let open = policy.deadline_for(placed, None, None);
        assert_eq!(open.at, datetime!(2027-01-30 00:00 UTC));
        assert_eq!(open.rule, PiiRule::UnshippedLimit);
        let shipped = policy.deadline_for(placed, Some(datetime!(2026-11-03 00:00 UTC)), None);
        assert_eq!(shipped.at, datetime!(2026-12-03 00:00 UTC));
        assert_eq!(shipped.rule, PiiRule::Shipped);
        let cancelled = policy.deadline_for(placed, None, Some(datetime!(2026-11-02 00:00 UTC)));
        assert_eq!(cancelled.rule, PiiRule::Cancelled);
        // Shipped after the unshipped limit: the earlier limit stands.
        let late = policy.deadline_for(placed, Some(datetime!(2027-03-01 00:00 UTC)), None);
        assert_eq!(late.rule, PiiRule::UnshippedLimit);
        for rule in [
            PiiRule::Shipped,
            PiiRule::ShopRedact,
            PiiRule::AccountCancellation,
        ] {
            assert_eq!(PiiRule::parse(rule.as_str()), Some(rule));
        }
    }
}
