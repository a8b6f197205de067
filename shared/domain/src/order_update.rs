//! The rule for applying a channel's later report of an order to what is stored, as a pure
//! function: the repository only reads, applies the plan and writes.
//!
//! - content (lines, totals, PII) is replaced only by a strictly newer channel timestamp, so a
//!   retry carrying an older state never overwrites a newer one;
//! - the status only moves forward ([`OrderStatus::merged_with`]), whatever the order of arrival:
//!   a late "cancelled" still cancels, nothing un-ships an order;
//! - a shipment or a cancellation seen for the first time starts the PII clock, which only ever
//!   moves earlier ([`crate::PiiDeadline::earliest`]).

use crate::{OrderStatus, PiiRule};

/// What is stored, and what the channel now reports, of one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderState {
    pub status: OrderStatus,
    /// The channel's last-modified time, epoch seconds.
    pub channel_updated_at: i64,
}

/// What applying a report does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatePlan {
    /// Nothing newer: only the delivery is recorded.
    Stale,
    Apply {
        /// The status after the report.
        status: OrderStatus,
        /// Whether the report's content (lines, totals, PII) replaces the stored one.
        replace_content: bool,
        /// The PII clock event this report starts, if it is the first shipment or cancellation.
        clock: Option<PiiRule>,
    },
}

/// The plan for applying `reported` to `stored`.
pub fn plan_update(stored: OrderState, reported: OrderState) -> UpdatePlan {
    let status = stored.status.merged_with(reported.status);
    let newer = reported.channel_updated_at > stored.channel_updated_at;
    if !newer && status == stored.status {
        return UpdatePlan::Stale;
    }
    let clock = if status.has_shipped() && !stored.status.has_shipped() {
        Some(PiiRule::Shipped)
    } else if status == OrderStatus::Cancelled && stored.status != OrderStatus::Cancelled {
        Some(PiiRule::Cancelled)
    } else {
        None
    };
    UpdatePlan::Apply {
        status,
        replace_content: newer,
        clock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    fn state(status: OrderStatus, at: i64) -> OrderState {
        OrderState {
            status,
            channel_updated_at: at,
        }
    }

    fn apply(status: OrderStatus, replace_content: bool, clock: Option<PiiRule>) -> UpdatePlan {
        UpdatePlan::Apply {
            status,
            replace_content,
            clock,
        }
    }

    #[test]
    fn newer_content_wins_status_moves_forward_only_and_the_clock_starts_once() {
        let cases = [
            // A retry of the same report, or an older one: nothing changes.
            (state(Received, 10), state(Received, 10), UpdatePlan::Stale),
            (state(Received, 10), state(Received, 9), UpdatePlan::Stale),
            // Newer content replaces the stored content.
            (
                state(Received, 10),
                state(Received, 11),
                apply(Received, true, None),
            ),
            // An older report that still moves the status forward: status only.
            (
                state(Reserved, 10),
                state(Cancelled, 9),
                apply(Cancelled, false, Some(PiiRule::Cancelled)),
            ),
            (
                state(Reserved, 10),
                state(Shipped, 9),
                apply(Shipped, false, Some(PiiRule::Shipped)),
            ),
            // Nothing un-ships or un-cancels an order, however new the report.
            (
                state(Shipped, 10),
                state(Received, 11),
                apply(Shipped, true, None),
            ),
            (
                state(Shipped, 10),
                state(Cancelled, 11),
                apply(Shipped, true, None),
            ),
            (
                state(Cancelled, 10),
                state(Shipped, 11),
                apply(Cancelled, true, None),
            ),
            (state(Shipped, 10), state(Cancelled, 9), UpdatePlan::Stale),
            // Our own processing states are not undone by a channel's "received".
            (
                state(Reserved, 10),
                state(Received, 12),
                apply(Reserved, true, None),
            ),
            // Shipped straight from received (fulfilled outside RetailCoder) starts the clock.
            (
                state(Received, 10),
                state(Shipped, 12),
                apply(Shipped, true, Some(PiiRule::Shipped)),
            ),
            // Delivered after shipped: the clock already runs.
            (
                state(Shipped, 10),
                state(Delivered, 12),
                apply(Delivered, true, None),
            ),
            // A report that ships without newer content: status (and clock) only.
            (
                state(LabelCreated, 10),
                state(Shipped, 10),
                apply(Shipped, false, Some(PiiRule::Shipped)),
            ),
        ];
        for (stored, reported, expected) in cases {
            assert_eq!(
                plan_update(stored, reported),
                expected,
                "{stored:?} <- {reported:?}"
            );
        }
    }
}
