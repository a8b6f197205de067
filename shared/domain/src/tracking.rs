//! Where a parcel is, after its label: a status machine over courier events, pure. Statuses move
//! only forward, by event time — a late or repeated event changes nothing — and each courier's
//! statuses are mapped explicitly: one not in the table is recorded as unknown, never guessed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A parcel's journey, as couriers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    /// Bought, not yet handed over.
    LabelCreated,
    PickedUp,
    InTransit,
    OutForDelivery,
    /// A delivery attempt failed (NDR); another may follow.
    DeliveryAttempted,
    /// The courier gave up delivering; the parcel goes back.
    Undeliverable,
    /// On its way back to the warehouse.
    ReturnToOrigin,
    /// Back at the warehouse.
    Returned,
    Delivered,
    Lost,
    /// The label was cancelled before pickup.
    Cancelled,
}

impl TrackingStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LabelCreated => "label_created",
            Self::PickedUp => "picked_up",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::DeliveryAttempted => "delivery_attempted",
            Self::Undeliverable => "undeliverable",
            Self::ReturnToOrigin => "return_to_origin",
            Self::Returned => "returned",
            Self::Delivered => "delivered",
            Self::Lost => "lost",
            Self::Cancelled => "cancelled",
        }
    }

    /// Nothing follows these.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Returned | Self::Lost | Self::Cancelled
        )
    }

    /// Whether the parcel has left the warehouse (the moment stock is consumed and the PII
    /// clock starts).
    pub fn has_left(&self) -> bool {
        !matches!(self, Self::LabelCreated | Self::Cancelled)
    }

    /// Whether a parcel in `self` may next be reported in `to`.
    fn may_become(self, to: TrackingStatus) -> bool {
        use TrackingStatus::*;
        if self.is_final() {
            return false;
        }
        match self {
            LabelCreated => to != Returned,
            PickedUp => !matches!(to, LabelCreated | Cancelled | Returned),
            // In transit again after going out (a reschedule) is a real move, by time.
            InTransit | OutForDelivery | DeliveryAttempted => {
                !matches!(to, LabelCreated | PickedUp | Cancelled | Returned)
            }
            Undeliverable => matches!(to, ReturnToOrigin | Returned | Lost),
            ReturnToOrigin => matches!(to, Returned | Lost),
            Delivered | Returned | Lost | Cancelled => false,
        }
    }
}

/// What applying one courier event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The status moved.
    Moved {
        from: TrackingStatus,
        to: TrackingStatus,
    },
    /// The same status again (a repeated event).
    Repeated,
    /// Older than the last applied event: history only.
    Stale,
    /// A move the journey does not allow (backwards, out of a final status): history only.
    Refused,
}

/// The journey of one parcel: its status, the time of the event that set it, and when it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    pub status: TrackingStatus,
    #[serde(with = "time::serde::timestamp")]
    pub since: OffsetDateTime,
    /// The first event at which the parcel had left the warehouse.
    #[serde(default, with = "time::serde::timestamp::option")]
    pub left_at: Option<OffsetDateTime>,
}

impl Journey {
    pub fn new(bought_at: OffsetDateTime) -> Self {
        Self {
            status: TrackingStatus::LabelCreated,
            since: bought_at,
            left_at: None,
        }
    }

    /// Applies one event. Pure: the caller stores the new journey and the event in the history.
    pub fn apply(&mut self, to: TrackingStatus, at: OffsetDateTime) -> Applied {
        if at < self.since {
            return Applied::Stale;
        }
        if to == self.status {
            return Applied::Repeated;
        }
        if !self.status.may_become(to) {
            return Applied::Refused;
        }
        let from = self.status;
        self.status = to;
        self.since = at;
        if to.has_left() && self.left_at.is_none() {
            self.left_at = Some(at);
        }
        Applied::Moved { from, to }
    }
}

/// Where a courier event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Webhook,
    Poll,
    /// The merchant said the order left outside RetailCoder.
    Manual,
}

/// What an event did to the journey, as the history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    Moved,
    Repeated,
    Stale,
    Refused,
    /// A courier status the tables do not know: recorded, nothing moved.
    Unknown,
}

impl From<Applied> for EventOutcome {
    fn from(applied: Applied) -> Self {
        match applied {
            Applied::Moved { .. } => Self::Moved,
            Applied::Repeated => Self::Repeated,
            Applied::Stale => Self::Stale,
            Applied::Refused => Self::Refused,
        }
    }
}

/// One courier event in a shipment's history. Never free text: couriers' messages and
/// locations can hold an address, so only the status code, its time and what it did are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEntry {
    /// The event's time (unix seconds), as the courier reports it.
    pub at: i64,
    pub status: Option<TrackingStatus>,
    /// The courier's own status code, as sent (see [`courier_status_code`]).
    pub courier_status: String,
    pub source: EventSource,
    pub outcome: EventOutcome,
}

/// The most history entries one shipment keeps (the oldest go first; a journey has about ten).
pub const MAX_HISTORY: usize = 60;

/// A courier status code fit to keep: up to 40 letters, digits, `_` or `-`; anything else is
/// kept as `invalid` (never the raw text).
pub fn courier_status_code(raw: &str) -> String {
    let ok = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        raw.to_owned()
    } else {
        "invalid".to_owned()
    }
}

/// A courier's own status, mapped: `None` when the table does not know it (record it as
/// unknown; never guess).
pub fn from_easypost(status: &str) -> Option<TrackingStatus> {
    use TrackingStatus::*;
    Some(match status {
        "pre_transit" => LabelCreated,
        "in_transit" => InTransit,
        "out_for_delivery" => OutForDelivery,
        "delivered" => Delivered,
        // Waiting at a pickup point for the buyer: not delivered, not failed.
        "available_for_pickup" => DeliveryAttempted,
        "return_to_sender" => ReturnToOrigin,
        "failure" => Undeliverable,
        "cancelled" => Cancelled,
        // "unknown", "error" and anything new.
        _ => return None,
    })
}

/// Shiprocket's shipment status codes (`shipment_status_id`), those two published tables agree
/// on; codes above 38 differ between sources, so only 42 (picked up) is taken.
pub fn from_shiprocket(code: u32) -> Option<TrackingStatus> {
    use TrackingStatus::*;
    Some(match code {
        // AWB assigned, label generated, pickup scheduled / queued, manifest generated, pickup
        // error, rescheduled, out for pickup, pickup exception: not yet picked up.
        1..=5 | 13 | 15 | 19 | 20 => LabelCreated,
        6 | 42 => PickedUp,
        18 | 22 | 38 => InTransit,
        17 => OutForDelivery,
        7 => Delivered,
        21 => DeliveryAttempted,
        9 | 14 => ReturnToOrigin,
        10 => Returned,
        12 | 24 | 25 => Lost,
        8 => Cancelled,
        // 16 cancellation requested, 23 partially delivered, 26 fulfilled, and the rest.
        _ => return None,
    })
}

/// Amazon Shipping v2 tracking `summary.status`.
pub fn from_amazon_shipping(status: &str) -> Option<TrackingStatus> {
    use TrackingStatus::*;
    Some(match status {
        "PreTransit" | "PickupCancelled" => LabelCreated,
        "InTransit" => InTransit,
        "OutForDelivery" => OutForDelivery,
        "Delivered" => Delivered,
        "DeliveryAttempted" | "AwaitingCustomerPickup" => DeliveryAttempted,
        "Undeliverable" | "Rejected" => Undeliverable,
        "Lost" => Lost,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::TrackingStatus::*;
    use super::*;

    /// (name, events in arrival order as (status, minute), the outcomes, the final status)
    type Case = (
        &'static str,
        Vec<(TrackingStatus, i64)>,
        Vec<Applied>,
        TrackingStatus,
    );

    fn at(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000 + minutes * 60).expect("time")
    }

    #[test]
    fn journeys_move_forward_by_event_time_only() {
        let cases: Vec<Case> = vec![
            (
                "the happy path",
                vec![
                    (PickedUp, 10),
                    (InTransit, 20),
                    (OutForDelivery, 30),
                    (Delivered, 40),
                ],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: PickedUp,
                    },
                    Applied::Moved {
                        from: PickedUp,
                        to: InTransit,
                    },
                    Applied::Moved {
                        from: InTransit,
                        to: OutForDelivery,
                    },
                    Applied::Moved {
                        from: OutForDelivery,
                        to: Delivered,
                    },
                ],
                Delivered,
            ),
            (
                "a late event changes nothing",
                vec![(InTransit, 20), (PickedUp, 10)],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: InTransit,
                    },
                    Applied::Stale,
                ],
                InTransit,
            ),
            (
                "a repeated event changes nothing",
                vec![(InTransit, 20), (InTransit, 25)],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: InTransit,
                    },
                    Applied::Repeated,
                ],
                InTransit,
            ),
            (
                "nothing moves after delivery",
                vec![(Delivered, 40), (InTransit, 50)],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: Delivered,
                    },
                    Applied::Refused,
                ],
                Delivered,
            ),
            (
                "an attempt, then out again, then delivered",
                vec![
                    (OutForDelivery, 30),
                    (DeliveryAttempted, 35),
                    (OutForDelivery, 60),
                    (Delivered, 70),
                ],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: OutForDelivery,
                    },
                    Applied::Moved {
                        from: OutForDelivery,
                        to: DeliveryAttempted,
                    },
                    Applied::Moved {
                        from: DeliveryAttempted,
                        to: OutForDelivery,
                    },
                    Applied::Moved {
                        from: OutForDelivery,
                        to: Delivered,
                    },
                ],
                Delivered,
            ),
            (
                "undeliverable goes back, and only back",
                vec![
                    (Undeliverable, 30),
                    (OutForDelivery, 40),
                    (ReturnToOrigin, 50),
                    (Returned, 90),
                ],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: Undeliverable,
                    },
                    Applied::Refused,
                    Applied::Moved {
                        from: Undeliverable,
                        to: ReturnToOrigin,
                    },
                    Applied::Moved {
                        from: ReturnToOrigin,
                        to: Returned,
                    },
                ],
                Returned,
            ),
            (
                "never back to label_created, never returned without the way back",
                vec![(PickedUp, 10), (LabelCreated, 20), (Returned, 30)],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: PickedUp,
                    },
                    Applied::Refused,
                    Applied::Refused,
                ],
                PickedUp,
            ),
            (
                "cancelled before pickup is final",
                vec![(Cancelled, 5), (PickedUp, 10)],
                vec![
                    Applied::Moved {
                        from: LabelCreated,
                        to: Cancelled,
                    },
                    Applied::Refused,
                ],
                Cancelled,
            ),
        ];
        for (name, events, outcomes, last) in cases {
            let mut journey = Journey::new(at(0));
            let got: Vec<Applied> = events
                .iter()
                .map(|(s, m)| journey.apply(*s, at(*m)))
                .collect();
            assert_eq!(got, outcomes, "{name}");
            assert_eq!(journey.status, last, "{name}");
        }
    }

    #[test]
    fn the_parcel_left_at_its_first_event_away_from_the_warehouse() {
        let mut journey = Journey::new(at(0));
        journey.apply(LabelCreated, at(1));
        assert_eq!(journey.left_at, None);
        journey.apply(InTransit, at(20));
        journey.apply(Delivered, at(90));
        assert_eq!(
            journey.left_at,
            Some(at(20)),
            "in transit implies picked up"
        );
        let mut cancelled = Journey::new(at(0));
        cancelled.apply(Cancelled, at(5));
        assert_eq!(cancelled.left_at, None);
    }

    #[test]
    fn courier_statuses_map_explicitly_and_unknown_ones_are_not_guessed() {
        let easypost = [
            ("pre_transit", Some(LabelCreated)),
            ("in_transit", Some(InTransit)),
            ("out_for_delivery", Some(OutForDelivery)),
            ("delivered", Some(Delivered)),
            ("return_to_sender", Some(ReturnToOrigin)),
            ("failure", Some(Undeliverable)),
            ("cancelled", Some(Cancelled)),
            ("unknown", None),
            ("error", None),
            ("teleported", None),
        ];
        for (raw, expected) in easypost {
            assert_eq!(from_easypost(raw), expected, "easypost {raw}");
        }
        let shiprocket = [
            (1, Some(LabelCreated)),
            (6, Some(PickedUp)),
            (42, Some(PickedUp)),
            (18, Some(InTransit)),
            (17, Some(OutForDelivery)),
            (7, Some(Delivered)),
            (21, Some(DeliveryAttempted)),
            (9, Some(ReturnToOrigin)),
            (10, Some(Returned)),
            (12, Some(Lost)),
            (8, Some(Cancelled)),
            (16, None),
            (23, None),
            (39, None),
        ];
        for (code, expected) in shiprocket {
            assert_eq!(from_shiprocket(code), expected, "shiprocket {code}");
        }
        assert_eq!(from_amazon_shipping("Delivered"), Some(Delivered));
        assert_eq!(
            from_amazon_shipping("AwaitingCustomerPickup"),
            Some(DeliveryAttempted)
        );
        assert_eq!(from_amazon_shipping("Teleported"), None);
    }
}
