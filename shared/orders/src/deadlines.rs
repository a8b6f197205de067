//! A merchant's orders by the time left before their buyer data is deleted: the privacy center's
//! list, read from the store's (partition, deadline) index without opening anything.

use rc_domain::{MerchantId, OrderId};
use rc_store::{DueItem, ItemKey};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::{OrderRepository, RepoError, keys};

/// One order still holding buyer data, and when it must be gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadlineEntry {
    pub order: OrderId,
    #[serde(with = "time::serde::rfc3339")]
    pub pii_deadline: OffsetDateTime,
    /// Whole days from now, rounded down; negative once overdue (being deleted).
    pub days_left: i64,
}

/// Where the next page starts: the last entry's deadline and order, as `<epoch>.<order id>` (an
/// epoch has no dot, so the first dot splits them; order ids may contain dots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineCursor {
    deadline: i64,
    order: OrderId,
}

impl DeadlineCursor {
    pub fn parse(raw: &str) -> Option<Self> {
        let (deadline, order) = raw.split_once('.')?;
        if deadline.is_empty() || !deadline.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            deadline: deadline.parse().ok()?,
            order: OrderId::parse(order).ok()?,
        })
    }
}

impl std::fmt::Display for DeadlineCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.deadline, self.order)
    }
}

impl OrderRepository {
    /// The merchant's orders holding buyer data, earliest deadline first (only those due
    /// `within` that long from now, when given). An order whose data is being deleted right now stays listed, overdue,
    /// until its deletion is receipted.
    pub async fn by_deadline(
        &self,
        merchant: &MerchantId,
        within: Option<Duration>,
        limit: usize,
        after: Option<&DeadlineCursor>,
    ) -> Result<(Vec<DeadlineEntry>, Option<DeadlineCursor>), RepoError> {
        let now = self.clock.now();
        let after = after.map(|cursor| DueItem {
            key: keys::order_pii(merchant, &cursor.order),
            pii_deadline: cursor.deadline,
        });
        let found = self
            .data
            .partition_deadlines(
                &keys::merchant_partition(merchant),
                "PII#",
                within.map(|within| (now + within).unix_timestamp()),
                limit,
                after.as_ref(),
            )
            .await?;
        let full = found.len() >= limit.max(1);
        let entries = found
            .iter()
            .map(|due| {
                let pii_deadline = OffsetDateTime::from_unix_timestamp(due.pii_deadline)
                    .map_err(|_| RepoError::Corrupt("deadline out of range"))?;
                Ok(DeadlineEntry {
                    order: order_of(&due.key)?,
                    pii_deadline,
                    days_left: days_between(now, pii_deadline),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        let next = entries.last().filter(|_| full).map(|last| DeadlineCursor {
            deadline: last.pii_deadline.unix_timestamp(),
            order: last.order.clone(),
        });
        Ok((entries, next))
    }
}

/// Whole days from `now` to `deadline`, rounded down (towards the past): 0 on the last day, -1
/// within a day after it.
fn days_between(now: OffsetDateTime, deadline: OffsetDateTime) -> i64 {
    (deadline - now).whole_seconds().div_euclid(86_400)
}

fn order_of(key: &ItemKey) -> Result<OrderId, RepoError> {
    key.sk
        .strip_prefix("PII#")
        .and_then(|id| OrderId::parse(id).ok())
        .ok_or(RepoError::Corrupt("PII key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_round_down_towards_the_past() {
        use time::macros::datetime;
        let now = datetime!(2026-11-30 12:00 UTC);
        for (deadline, days) in [
            (datetime!(2026-12-30 12:00 UTC), 30),
            (datetime!(2026-12-30 11:59 UTC), 29),
            (datetime!(2026-11-30 12:00 UTC), 0),
            (datetime!(2026-11-30 23:00 UTC), 0),
            (datetime!(2026-11-30 11:59 UTC), -1),
            (datetime!(2026-11-28 12:00 UTC), -2),
        ] {
            assert_eq!(days_between(now, deadline), days, "{deadline}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for good in ["1796083200.ord-1", "0.a.b.c", "12.x_y"] {
            let cursor = DeadlineCursor::parse(good).expect(good);
            assert_eq!(cursor.to_string(), good);
        }
        for bad in [
            "",
            ".",
            "12.",
            ".ord",
            "-5.ord",
            "1e3.ord",
            "12.a b",
            "x.ord",
            "99999999999999999999.o",
        ] {
            assert_eq!(DeadlineCursor::parse(bad), None, "{bad:?}");
        }
    }
}
