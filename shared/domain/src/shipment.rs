//! Shipments: the parcels an order leaves in, one per warehouse routing chose. Each is labelled
//! once by a courier; these are the pure parts — identifiers, parcels, the life cycle and the
//! choice of a rate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CourierAccountRef, Money, OrderId, TrackingStatus};

/// Why a shipment description was refused: the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{0}` is invalid")]
pub struct ShipmentError(pub &'static str);

/// The most shipments one order splits into (routing's candidates bound it far lower).
pub const MAX_SHIPMENTS_PER_ORDER: u8 = 99;

/// `<order id>.<n>`: the order's n-th shipment, n from 1. Deterministic, so planning an order's
/// shipments twice names them the same and creates nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShipmentId {
    raw: String,
    order: OrderId,
    n: u8,
}

impl ShipmentId {
    pub fn new(order: &OrderId, n: u8) -> Result<Self, ShipmentError> {
        if n == 0 || n > MAX_SHIPMENTS_PER_ORDER {
            return Err(ShipmentError("shipment"));
        }
        Ok(Self {
            raw: format!("{order}.{n}"),
            order: order.clone(),
            n,
        })
    }

    pub fn parse(raw: &str) -> Result<Self, ShipmentError> {
        let (order, n) = raw.rsplit_once('.').ok_or(ShipmentError("shipment"))?;
        let order = OrderId::parse(order).map_err(|_| ShipmentError("shipment"))?;
        let n: u8 = n
            .parse()
            .ok()
            .filter(|_| !n.starts_with('0'))
            .ok_or(ShipmentError("shipment"))?;
        Self::new(&order, n)
    }

    pub fn order(&self) -> &OrderId {
        &self.order
    }

    /// Its number within the order, from 1.
    pub fn number(&self) -> u8 {
        self.n
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl<'de> Deserialize<'de> for ShipmentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ShipmentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl fmt::Display for ShipmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Where a shipment stands: its label's life, then (once bought) its parcel's journey as the
/// courier reports it ([`TrackingStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Planned; its label is being bought (or waits for a parcel or a courier account).
    AwaitingLabel,
    /// A purchase is in progress: the courier may have been asked to buy. Never bought again
    /// before the courier says whether it was.
    Purchasing,
    /// The label is bought and stored, sealed.
    LabelCreated,
    /// No label could be bought; `reason` says why. Nothing was bought.
    LabelFailed,
    /// The label was voided (refunded) before pickup; its copy is erased.
    Voided,
    PickedUp,
    InTransit,
    OutForDelivery,
    /// A delivery attempt failed (NDR); another may follow.
    DeliveryAttempted,
    Undeliverable,
    ReturnToOrigin,
    /// Back at its warehouse: its units are restocked.
    Returned,
    Delivered,
    Lost,
    /// The courier reports the shipment cancelled (before pickup), or the order left outside
    /// RetailCoder before its label was bought.
    Cancelled,
}

impl ShipmentStatus {
    pub const ALL: [Self; 15] = [
        Self::AwaitingLabel,
        Self::Purchasing,
        Self::LabelCreated,
        Self::LabelFailed,
        Self::Voided,
        Self::PickedUp,
        Self::InTransit,
        Self::OutForDelivery,
        Self::DeliveryAttempted,
        Self::Undeliverable,
        Self::ReturnToOrigin,
        Self::Returned,
        Self::Delivered,
        Self::Lost,
        Self::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AwaitingLabel => "awaiting_label",
            Self::Purchasing => "purchasing",
            Self::LabelFailed => "label_failed",
            Self::Voided => "voided",
            other => other.tracking().map_or("label_created", |t| t.as_str()),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether a label purchase may still start (or resume) for it.
    pub fn wants_label(&self) -> bool {
        matches!(self, Self::AwaitingLabel | Self::Purchasing)
    }

    /// The journey status it stands for, once a label exists.
    pub fn tracking(&self) -> Option<TrackingStatus> {
        Some(match self {
            Self::LabelCreated => TrackingStatus::LabelCreated,
            Self::PickedUp => TrackingStatus::PickedUp,
            Self::InTransit => TrackingStatus::InTransit,
            Self::OutForDelivery => TrackingStatus::OutForDelivery,
            Self::DeliveryAttempted => TrackingStatus::DeliveryAttempted,
            Self::Undeliverable => TrackingStatus::Undeliverable,
            Self::ReturnToOrigin => TrackingStatus::ReturnToOrigin,
            Self::Returned => TrackingStatus::Returned,
            Self::Delivered => TrackingStatus::Delivered,
            Self::Lost => TrackingStatus::Lost,
            Self::Cancelled => TrackingStatus::Cancelled,
            Self::AwaitingLabel | Self::Purchasing | Self::LabelFailed | Self::Voided => {
                return None;
            }
        })
    }

    /// Whether a courier still reports on it (labelled, not at the end of its journey): what
    /// the polling fallback looks at.
    pub fn is_tracked(&self) -> bool {
        self.tracking().is_some_and(|t| !t.is_final())
    }
}

impl From<TrackingStatus> for ShipmentStatus {
    fn from(status: TrackingStatus) -> Self {
        match status {
            TrackingStatus::LabelCreated => Self::LabelCreated,
            TrackingStatus::PickedUp => Self::PickedUp,
            TrackingStatus::InTransit => Self::InTransit,
            TrackingStatus::OutForDelivery => Self::OutForDelivery,
            TrackingStatus::DeliveryAttempted => Self::DeliveryAttempted,
            TrackingStatus::Undeliverable => Self::Undeliverable,
            TrackingStatus::ReturnToOrigin => Self::ReturnToOrigin,
            TrackingStatus::Returned => Self::Returned,
            TrackingStatus::Delivered => Self::Delivered,
            TrackingStatus::Lost => Self::Lost,
            TrackingStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// Heaviest parcel, in grams (couriers' parcel limits are about 70 kg).
pub const MAX_PARCEL_GRAMS: u32 = 70_000;
/// Longest side, in millimetres.
pub const MAX_PARCEL_MM: u32 = 3_000;

/// A parcel's weight and dimensions, integers in grams and millimetres (never floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawParcel")]
pub struct Parcel {
    pub weight_g: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

#[derive(Deserialize)]
struct RawParcel {
    weight_g: i64,
    length_mm: i64,
    width_mm: i64,
    height_mm: i64,
}

impl TryFrom<RawParcel> for Parcel {
    type Error = ShipmentError;

    fn try_from(raw: RawParcel) -> Result<Self, Self::Error> {
        Self::parse(raw.weight_g, raw.length_mm, raw.width_mm, raw.height_mm)
    }
}

impl Parcel {
    pub fn parse(
        weight_g: i64,
        length_mm: i64,
        width_mm: i64,
        height_mm: i64,
    ) -> Result<Self, ShipmentError> {
        let within = |v: i64, max: u32, field| {
            u32::try_from(v)
                .ok()
                .filter(|v| (1..=max).contains(v))
                .ok_or(ShipmentError(field))
        };
        Ok(Self {
            weight_g: within(weight_g, MAX_PARCEL_GRAMS, "weight_g")?,
            length_mm: within(length_mm, MAX_PARCEL_MM, "length_mm")?,
            width_mm: within(width_mm, MAX_PARCEL_MM, "width_mm")?,
            height_mm: within(height_mm, MAX_PARCEL_MM, "height_mm")?,
        })
    }

    /// The parcel for `units` of items with these parcels (one per unit): the weights add up,
    /// the items stack — the longest length and width, the heights added. `None` without items,
    /// or when the result is over the limits (the merchant gives the parcel then).
    pub fn packed<'a>(items: impl IntoIterator<Item = (&'a Parcel, u32)>) -> Option<Self> {
        let mut total = Self {
            weight_g: 0,
            length_mm: 0,
            width_mm: 0,
            height_mm: 0,
        };
        let mut any = false;
        for (item, units) in items {
            any |= units > 0;
            total.weight_g = total
                .weight_g
                .checked_add(item.weight_g.checked_mul(units)?)?;
            total.height_mm = total
                .height_mm
                .checked_add(item.height_mm.checked_mul(units)?)?;
            total.length_mm = total.length_mm.max(item.length_mm);
            total.width_mm = total.width_mm.max(item.width_mm);
        }
        let fits = total.weight_g <= MAX_PARCEL_GRAMS && total.height_mm <= MAX_PARCEL_MM;
        (any && fits).then_some(total)
    }
}

/// How a warehouse picks among its couriers' rates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServiceChoice {
    /// The lowest price (then the fewest days, then the courier and service names).
    #[default]
    Cheapest,
    /// The fewest delivery days (unknown counts last), then the lowest price.
    Fastest,
    /// This courier account's service of this name.
    Fixed {
        courier: CourierAccountRef,
        service: String,
    },
}

impl ServiceChoice {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cheapest => "cheapest",
            Self::Fastest => "fastest",
            Self::Fixed { .. } => "fixed",
        }
    }
}

/// One price a courier quoted for a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub courier: CourierAccountRef,
    /// The courier's id of the rate (EasyPost `rate_…`), needed to buy it.
    pub rate_id: String,
    /// The carrier behind the courier (EasyPost aggregates USPS, UPS, …).
    pub carrier: String,
    pub service: String,
    pub amount: Money,
    pub delivery_days: Option<u32>,
}

/// The rate a warehouse's choice picks, if any. Pure: ties break on names, so the same rates
/// always give the same choice.
pub fn choose_rate<'a>(rates: &'a [Rate], choice: &ServiceChoice) -> Option<&'a Rate> {
    let names = |r: &'a Rate| (r.courier.clone(), r.carrier.as_str(), r.service.as_str());
    match choice {
        ServiceChoice::Cheapest => rates.iter().min_by_key(|r| {
            (
                r.amount.minor_units(),
                r.delivery_days.unwrap_or(u32::MAX),
                names(r),
            )
        }),
        ServiceChoice::Fastest => rates.iter().min_by_key(|r| {
            (
                r.delivery_days.unwrap_or(u32::MAX),
                r.amount.minor_units(),
                names(r),
            )
        }),
        ServiceChoice::Fixed { courier, service } => rates
            .iter()
            .filter(|r| r.courier == *courier && r.service.eq_ignore_ascii_case(service))
            .min_by_key(|r| (r.amount.minor_units(), names(r))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn rate(courier: &str, service: &str, cents: i64, days: Option<u32>) -> Rate {
        Rate {
            courier: CourierAccountRef::parse("easypost", courier).expect("courier"),
            rate_id: format!("rate_{courier}_{service}"),
            carrier: "USPS".into(),
            service: service.into(),
            amount: Money::from_minor(cents, Currency::parse("USD").expect("usd")).expect("money"),
            delivery_days: days,
        }
    }

    #[test]
    fn every_status_reads_back_from_its_name_and_journey_statuses_map_both_ways() {
        for status in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::parse(status.as_str()), Some(status));
            if let Some(tracking) = status.tracking() {
                assert_eq!(ShipmentStatus::from(tracking), status);
                assert_eq!(tracking.as_str(), status.as_str());
            }
        }
        assert!(ShipmentStatus::InTransit.is_tracked());
        assert!(ShipmentStatus::LabelCreated.is_tracked());
        assert!(!ShipmentStatus::Delivered.is_tracked());
        assert!(!ShipmentStatus::AwaitingLabel.is_tracked());
    }

    #[test]
    fn shipment_ids_name_their_order_and_number() {
        let order = OrderId::parse("amazon-111-222").expect("order");
        let id = ShipmentId::new(&order, 2).expect("id");
        assert_eq!(id.as_str(), "amazon-111-222.2");
        assert_eq!(ShipmentId::parse("amazon-111-222.2"), Ok(id.clone()));
        assert_eq!(id.order(), &order);
        assert_eq!(id.number(), 2);
        assert_eq!(
            ShipmentId::parse("a.b.1").map(|s| s.order().to_string()),
            Ok("a.b".to_owned())
        );
        for bad in [
            "",
            "order",
            "order.0",
            "order.01",
            "order.100",
            "order.x",
            ".1",
            "a b.1",
        ] {
            assert!(ShipmentId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_are_chosen_by_the_warehouses_rule() {
        let rates = vec![
            rate("main", "Ground", 790, Some(5)),
            rate("main", "Priority", 1150, Some(2)),
            rate("backup", "Ground", 790, Some(4)),
            rate("backup", "Express", 3100, Some(1)),
            rate("backup", "Freight", 500, None),
        ];
        let fixed = |courier: &str, service: &str| ServiceChoice::Fixed {
            courier: CourierAccountRef::parse("easypost", courier).expect("courier"),
            service: service.into(),
        };
        let cases = [
            (ServiceChoice::Cheapest, Some("rate_backup_Freight")),
            (ServiceChoice::Fastest, Some("rate_backup_Express")),
            (fixed("main", "priority"), Some("rate_main_Priority")),
            (fixed("main", "Express"), None),
        ];
        for (choice, expected) in cases {
            assert_eq!(
                choose_rate(&rates, &choice).map(|r| r.rate_id.as_str()),
                expected,
                "{choice:?}"
            );
        }
        // Equal prices: the fewer days wins.
        let tie = vec![
            rate("main", "Ground", 790, Some(5)),
            rate("backup", "Ground", 790, Some(4)),
        ];
        assert_eq!(
            choose_rate(&tie, &ServiceChoice::Cheapest).map(|r| r.rate_id.as_str()),
            Some("rate_backup_Ground")
        );
        assert_eq!(choose_rate(&[], &ServiceChoice::Cheapest), None);
    }

    #[test]
    fn parcels_parse_and_pack() {
        assert_eq!(Parcel::parse(0, 10, 10, 10), Err(ShipmentError("weight_g")));
        assert_eq!(
            Parcel::parse(100, 10, 10, 3_001),
            Err(ShipmentError("height_mm"))
        );
        let mug = Parcel::parse(350, 120, 90, 100).expect("mug");
        let cap = Parcel::parse(80, 250, 200, 60).expect("cap");
        let packed = Parcel::packed([(&mug, 2), (&cap, 1)]).expect("packed");
        assert_eq!(
            (
                packed.weight_g,
                packed.length_mm,
                packed.width_mm,
                packed.height_mm
            ),
            (780, 250, 200, 260)
        );
        assert_eq!(Parcel::packed([]), None);
        let brick = Parcel::parse(40_000, 10, 10, 10).expect("brick");
        assert_eq!(Parcel::packed([(&brick, 2)]), None, "over the weight limit");
    }
}
