//! A merchant's warehouse as routing, tax and labels need it: where it ships from, in which
//! order it is preferred, whether it ships at all, with which courier accounts, and until when
//! in the day. The ship-from address is the merchant's data, not buyer PII; it is still never
//! logged (its `Debug` shows nothing of it) and only the merchant's own API answers carry it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a warehouse description was refused: the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{0}` is invalid")]
pub struct WarehouseError(pub &'static str);

/// ISO 3166-1 alpha-2 (`US`, `IN`, `DE`), upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, WarehouseError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(WarehouseError("country"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A state or region code within a country (ISO 3166-2's part after the dash: `CA`, `MH`,
/// `BY`), 1 to 3 upper-case letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(raw: &str) -> Result<Self, WarehouseError> {
        let code = raw.trim().to_ascii_uppercase();
        let ok = (1..=3).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(code))
        } else {
            Err(WarehouseError("region"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a warehouse ships from, as a courier prints it on a label.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ShipFromAddress {
    /// The sender's name on the label (the merchant or the warehouse).
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// The warehouse desk's phone (couriers ask for one).
    pub phone: Option<String>,
}

impl fmt::Debug for ShipFromAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShipFromAddress(..)")
    }
}

/// A text field of an address: trimmed, 1 to `max` characters, no control characters.
fn text(raw: &str, max: usize, field: &'static str) -> Result<String, WarehouseError> {
    let value = raw.trim();
    let ok =
        !value.is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(WarehouseError(field))
    }
}

fn optional_text(
    raw: Option<&str>,
    max: usize,
    field: &'static str,
) -> Result<Option<String>, WarehouseError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => text(value, max, field).map(Some),
        None => Ok(None),
    }
}

impl ShipFromAddress {
    /// Couriers' limits: 35 to 100 characters per line depending on the courier; we keep to
    /// the tighter common ones so any courier accepts the address as given.
    pub fn parse(
        name: &str,
        line1: &str,
        line2: Option<&str>,
        city: &str,
        postal_code: &str,
        phone: Option<&str>,
    ) -> Result<Self, WarehouseError> {
        let postal_code = text(postal_code, 12, "address.postal_code")?;
        if !postal_code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        {
            return Err(WarehouseError("address.postal_code"));
        }
        let phone = optional_text(phone, 20, "address.phone")?;
        if phone.as_deref().is_some_and(|p| {
            !p.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'))
        }) {
            return Err(WarehouseError("address.phone"));
        }
        Ok(Self {
            name: text(name, 100, "address.name")?,
            line1: text(line1, 100, "address.line1")?,
            line2: optional_text(line2, 100, "address.line2")?,
            city: text(city, 60, "address.city")?,
            postal_code,
            phone,
        })
    }
}

/// A courier a warehouse ships with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CourierKind {
    #[serde(rename = "easypost")]
    EasyPost,
    Shiprocket,
    /// Amazon Shipping v2, through the merchant's SP-API connection.
    AmazonShipping,
    /// The local host's sandbox courier.
    Sandbox,
}

impl CourierKind {
    pub fn parse(raw: &str) -> Result<Self, WarehouseError> {
        match raw {
            "easypost" => Ok(Self::EasyPost),
            "shiprocket" => Ok(Self::Shiprocket),
            "amazon_shipping" => Ok(Self::AmazonShipping),
            "sandbox" => Ok(Self::Sandbox),
            _ => Err(WarehouseError("couriers.kind")),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EasyPost => "easypost",
            Self::Shiprocket => "shiprocket",
            Self::AmazonShipping => "amazon_shipping",
            Self::Sandbox => "sandbox",
        }
    }
}

/// One of the merchant's courier accounts, by kind and the merchant's name for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawCourierAccountRef")]
pub struct CourierAccountRef {
    pub kind: CourierKind,
    /// Letters, digits, `-` and `_`, 1 to 40.
    pub name: String,
}

#[derive(Deserialize)]
struct RawCourierAccountRef {
    kind: String,
    name: String,
}

impl TryFrom<RawCourierAccountRef> for CourierAccountRef {
    type Error = WarehouseError;

    fn try_from(raw: RawCourierAccountRef) -> Result<Self, Self::Error> {
        Self::parse(&raw.kind, &raw.name)
    }
}

impl CourierAccountRef {
    /// `kind/name`, as stored and logged (no secret in it).
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.name)
    }

    pub fn parse(kind: &str, name: &str) -> Result<Self, WarehouseError> {
        let ok = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(WarehouseError("couriers.name"));
        }
        Ok(Self {
            kind: CourierKind::parse(kind)?,
            name: name.to_owned(),
        })
    }
}

/// The last moment of the day a parcel leaves the warehouse the same day, in the warehouse's
/// own time: minutes after midnight, and the UTC offset it is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutOff {
    pub minutes_after_midnight: u16,
    /// The warehouse's offset from UTC, in minutes (−720 to +840).
    pub utc_offset_minutes: i16,
}

impl CutOff {
    /// `"HH:MM"` and an offset `"+05:30"` / `"-04:00"` / `"Z"`.
    pub fn parse(time: &str, utc_offset: &str) -> Result<Self, WarehouseError> {
        let minutes = |raw: &str| -> Option<i32> {
            let (h, m) = raw.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let at = minutes(time).ok_or(WarehouseError("cutoff.time"))?;
        let offset = match utc_offset {
            "Z" => 0,
            raw => {
                let (sign, rest) = match raw.as_bytes().first() {
                    Some(b'+') => (1, &raw[1..]),
                    Some(b'-') => (-1, &raw[1..]),
                    _ => return Err(WarehouseError("cutoff.utc_offset")),
                };
                let value = sign
                    * minutes(rest)
                        .filter(|m| *m <= 14 * 60)
                        .ok_or(WarehouseError("cutoff.utc_offset"))?;
                if value < -12 * 60 {
                    return Err(WarehouseError("cutoff.utc_offset"));
                }
                value
            }
        };
        Ok(Self {
            minutes_after_midnight: at as u16,
            utc_offset_minutes: offset as i16,
        })
    }

    /// `"HH:MM"`.
    pub fn time(&self) -> String {
        let m = self.minutes_after_midnight;
        format!("{:02}:{:02}", m / 60, m % 60)
    }

    /// `"+HH:MM"` / `"-HH:MM"`.
    pub fn utc_offset(&self) -> String {
        let o = self.utc_offset_minutes;
        let sign = if o < 0 { '-' } else { '+' };
        let a = o.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    }
}

/// The most courier accounts one warehouse names.
pub const MAX_WAREHOUSE_COURIERS: usize = 10;

/// A warehouse as the merchant describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    pub name: String,
    pub address: ShipFromAddress,
    pub country: CountryCode,
    pub region: Option<RegionCode>,
    /// Lower ships first when several can (0 to 1000).
    pub priority: u16,
    /// An inactive warehouse keeps its stock but is never routed to.
    pub active: bool,
    pub couriers: Vec<CourierAccountRef>,
    pub cutoff: Option<CutOff>,
    /// How a label's rate is picked among the couriers' rates.
    pub service: crate::ServiceChoice,
}

impl Warehouse {
    /// A priority as sent: 0 to 1000.
    pub fn priority(raw: i64) -> Result<u16, WarehouseError> {
        u16::try_from(raw)
            .ok()
            .filter(|p| *p <= 1000)
            .ok_or(WarehouseError("priority"))
    }

    /// Checks what no single field can: a name, couriers named once and at most
    /// [`MAX_WAREHOUSE_COURIERS`], a fixed service on one of its own couriers.
    pub fn check(mut self) -> Result<Self, WarehouseError> {
        self.name = text(&self.name, 100, "name")?;
        let mut unique = self.couriers.clone();
        unique.sort();
        unique.dedup();
        if self.couriers.len() > MAX_WAREHOUSE_COURIERS || unique.len() != self.couriers.len() {
            return Err(WarehouseError("couriers"));
        }
        if let crate::ServiceChoice::Fixed { courier, service } = &self.service {
            if !self.couriers.contains(courier) {
                return Err(WarehouseError("service.courier"));
            }
            let ok = (1..=60).contains(&service.trim().len())
                && service.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
            if !ok {
                return Err(WarehouseError("service.service"));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_or_name_their_field() {
        let cases: [(&str, Result<&str, &str>); 5] = [
            ("us", Ok("US")),
            (" IN ", Ok("IN")),
            ("USA", Err("country")),
            ("1A", Err("country")),
            ("", Err("country")),
        ];
        for (raw, expected) in cases {
            let got = CountryCode::parse(raw);
            assert_eq!(
                got.as_ref().map(CountryCode::as_str).map_err(|e| e.0),
                expected,
                "{raw}"
            );
        }
        assert_eq!(RegionCode::parse("mh").map(|r| r.0), Ok("MH".to_owned()));
        assert_eq!(RegionCode::parse("ABCD"), Err(WarehouseError("region")));
    }

    #[test]
    fn cut_offs_read_a_time_and_an_offset() {
        let cases = [
            ("17:00", "+05:30", Some((1020, 330))),
            ("00:00", "Z", Some((0, 0))),
            ("23:59", "-12:00", Some((1439, -720))),
            ("24:00", "Z", None),
            ("7:00", "Z", None),
            ("17:00", "+15:00", None),
            ("17:00", "05:30", None),
        ];
        for (time, offset, expected) in cases {
            let got = CutOff::parse(time, offset)
                .ok()
                .map(|c| (c.minutes_after_midnight, c.utc_offset_minutes));
            assert_eq!(got, expected, "{time} {offset}");
        }
        let cutoff = CutOff::parse("09:05", "-04:00").expect("cutoff");
        assert_eq!(
            (cutoff.time(), cutoff.utc_offset()),
            ("09:05".into(), "-04:00".into())
        );
    }

    #[test]
    fn an_address_is_never_printed() {
        let address = ShipFromAddress::parse(
            "Acme",
            "1 Dock Road",
            None,
            "Pune",
            "411001",
            Some("+91 20 1234"),
        )
        .expect("address");
        assert_eq!(format!("{address:?}"), "ShipFromAddress(..)");
        assert_eq!(
            ShipFromAddress::parse("Acme", "", None, "Pune", "411001", None),
            Err(WarehouseError("address.line1"))
        );
        assert_eq!(
            ShipFromAddress::parse("Acme", "1 Dock Road", None, "Pune", "41#001", None),
            Err(WarehouseError("address.postal_code"))
        );
    }

    #[test]
    fn couriers_are_named_once_and_priority_is_bounded() {
        let address = ShipFromAddress::parse("Acme", "1 Dock Road", None, "Pune", "411001", None)
            .expect("address");
        let courier = CourierAccountRef::parse("easypost", "main").expect("courier");
        let with_service = |couriers, service| {
            Warehouse {
                name: "Pune".into(),
                address: address.clone(),
                country: CountryCode::parse("IN").expect("country"),
                region: None,
                priority: 0,
                active: true,
                couriers,
                cutoff: None,
                service,
            }
            .check()
            .map(|_| ())
        };
        let warehouse = |couriers| with_service(couriers, crate::ServiceChoice::Cheapest);
        assert_eq!(warehouse(vec![courier.clone()]), Ok(()));
        let fixed = |name: &str, service: &str| crate::ServiceChoice::Fixed {
            courier: CourierAccountRef::parse("easypost", name).expect("courier"),
            service: service.into(),
        };
        assert_eq!(
            with_service(vec![courier.clone()], fixed("main", "Priority")),
            Ok(())
        );
        assert_eq!(
            with_service(vec![courier.clone()], fixed("other", "Priority")),
            Err(WarehouseError("service.courier")),
            "a fixed service on a courier the warehouse does not ship with"
        );
        assert_eq!(
            with_service(vec![courier.clone()], fixed("main", " ")),
            Err(WarehouseError("service.service"))
        );
        assert_eq!(Warehouse::priority(1001), Err(WarehouseError("priority")));
        assert_eq!(Warehouse::priority(-1), Err(WarehouseError("priority")));
        assert_eq!(Warehouse::priority(1000), Ok(1000));
        assert_eq!(
            warehouse(vec![courier.clone(), courier]),
            Err(WarehouseError("couriers"))
        );
        assert_eq!(
            CourierAccountRef::parse("dhl", "main"),
            Err(WarehouseError("couriers.kind"))
        );
    }
}
