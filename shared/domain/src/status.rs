//! The order life cycle. Statuses only move forward: a late or repeated event never drags an order
//! back (a "label created" arriving after "shipped" changes nothing).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Stored, not yet processed.
    Received,
    /// Stock could not be reserved for every line; waiting for stock.
    Backordered,
    /// Every line has stock reserved.
    Reserved,
    /// Units are held, but no warehouse may ship it as it stands (no destination country, or no
    /// warehouse serves the destination): the merchant decides.
    NeedsAttention,
    /// A courier label (and tracking number) exists.
    LabelCreated,
    /// Handed to the courier; the PII clock starts here.
    Shipped,
    Delivered,
    /// Cancelled before shipment.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot move from {from:?} to {to:?}")]
pub struct TransitionError {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

impl OrderStatus {
    /// Whether the merchant must act before the order can go on: stock is short, or routing
    /// could not place it.
    pub fn needs_action(&self) -> bool {
        matches!(self, Self::Backordered | Self::NeedsAttention)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Backordered => "backordered",
            Self::Reserved => "reserved",
            Self::NeedsAttention => "needs_attention",
            Self::LabelCreated => "label_created",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Backordered,
            Self::Reserved,
            Self::NeedsAttention,
            Self::LabelCreated,
            Self::Shipped,
            Self::Delivered,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Whether the goods have left the warehouse (the point of no cancellation).
    pub fn has_shipped(&self) -> bool {
        matches!(self, Self::Shipped | Self::Delivered)
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }

    /// The status after a channel reports `reported`: forward moves apply, anything else (a stale
    /// or impossible report, such as "cancelled" after shipment) leaves the status as it is.
    /// `Received` reports nothing new.
    pub fn merged_with(self, reported: OrderStatus) -> OrderStatus {
        if reported == Self::Received {
            return self;
        }
        self.advance(reported).unwrap_or(self)
    }

    /// The next status, if the move is allowed. Moving to the current status is allowed and is a
    /// no-op, so re-delivered events are harmless.
    pub fn advance(self, to: OrderStatus) -> Result<OrderStatus, TransitionError> {
        use OrderStatus::*;
        let allowed = self == to
            || matches!(
                (self, to),
                // Shipped straight from Received/Backordered: the merchant fulfilled the order
                // outside RetailCoder (marked fulfilled in the channel).
                (
                    Received,
                    Backordered | Reserved | NeedsAttention | Shipped | Cancelled
                ) | (Backordered, Reserved | NeedsAttention | Shipped | Cancelled)
                    | (NeedsAttention, Reserved | Shipped | Cancelled)
                    | (Reserved, LabelCreated | Shipped | Cancelled)
                    | (LabelCreated, Shipped | Cancelled)
                    | (Shipped, Delivered)
            );
        if allowed {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn orders_move_forward_only() {
        assert_eq!(Received.advance(Reserved), Ok(Reserved));
        assert_eq!(Reserved.advance(Shipped), Ok(Shipped));
        assert_eq!(Shipped.advance(Shipped), Ok(Shipped));
        assert_eq!(
            Received.advance(Shipped),
            Ok(Shipped),
            "fulfilled outside RetailCoder"
        );
        assert!(Shipped.advance(LabelCreated).is_err());
        assert!(Shipped.advance(Cancelled).is_err());
        assert!(Cancelled.advance(Reserved).is_err());
        assert!(Delivered.advance(Shipped).is_err());
    }

    #[test]
    fn channel_reports_merge_forward_only() {
        assert_eq!(Received.merged_with(Cancelled), Cancelled);
        assert_eq!(Cancelled.merged_with(Received), Cancelled);
        assert_eq!(
            Shipped.merged_with(Cancelled),
            Shipped,
            "too late to cancel"
        );
        assert_eq!(Reserved.merged_with(Shipped), Shipped);
        assert_eq!(Reserved.merged_with(Received), Reserved);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            Received,
            Backordered,
            Reserved,
            LabelCreated,
            Shipped,
            Delivered,
            Cancelled,
        ] {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("lost"), None);
    }
}
