//! Telling a marketplace that a package left: the pure parts — the state each package's
//! confirmation is in, how long to wait before trying again, the tracking number's shape, and
//! the carrier as Amazon names it.

use serde::{Deserialize, Serialize};

/// The most attempts at one confirmation before it is dead-lettered (failed with
/// `retries_exhausted`, an alarm raised); about a day with [`retry_after`].
pub const MAX_CONFIRMATION_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationState {
    /// To be sent (or sent, answer not yet recorded): tried again until confirmed or failed.
    Pending,
    /// The marketplace accepted it.
    Confirmed,
    /// The marketplace refused it for good, or the tries ran out; `reason` says which.
    Failed,
    /// Nothing to confirm: the label was bought through the marketplace (Amazon Shipping).
    NotNeeded,
}

impl ConfirmationState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::NotNeeded => "not_needed",
        }
    }
}

/// One package's confirmation to its marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub state: ConfirmationState,
    /// Why it failed (or why the last try did), machine-readable.
    pub reason: Option<String>,
    /// The marketplace's own error code behind `reason` (never a value we sent).
    pub code: Option<String>,
    pub attempts: u32,
    /// Not before (unix seconds): the backoff after a failed try.
    pub next_attempt_at: Option<i64>,
    pub carrier: String,
    pub tracking_code: String,
    /// The tracking number the marketplace holds, once confirmed: a different one later is
    /// sent as an update, never as a second package.
    pub confirmed_tracking: Option<String>,
    pub confirmed_at: Option<i64>,
    /// Shopify's fulfillments made for the package (`gid://shopify/Fulfillment/…`; one per
    /// fulfillment order it drew from).
    #[serde(default)]
    pub fulfillment_ids: Vec<String>,
}

impl Confirmation {
    pub fn pending(carrier: &str, tracking_code: &TrackingCode) -> Self {
        Self {
            state: ConfirmationState::Pending,
            reason: None,
            code: None,
            attempts: 0,
            next_attempt_at: None,
            carrier: carrier.to_owned(),
            tracking_code: tracking_code.as_str().to_owned(),
            confirmed_tracking: None,
            confirmed_at: None,
            fulfillment_ids: Vec::new(),
        }
    }

    /// Whether a try is due at `now`.
    pub fn is_due(&self, now: i64) -> bool {
        self.state == ConfirmationState::Pending && self.next_attempt_at.is_none_or(|t| t <= now)
    }

    /// Records a try that may succeed later: the next one is due after the backoff, or the
    /// confirmation fails once the tries ran out. Returns whether it gave up.
    pub fn retry_later(&mut self, reason: &str, now: i64) -> bool {
        self.reason = Some(reason.to_owned());
        if self.attempts >= MAX_CONFIRMATION_ATTEMPTS {
            self.state = ConfirmationState::Failed;
            self.reason = Some("retries_exhausted".to_owned());
            self.next_attempt_at = None;
            return true;
        }
        self.next_attempt_at = Some(now + retry_after(self.attempts));
        false
    }
}

/// Seconds to wait after the `attempts`-th failed try: 1 min, doubling, at most 4 h.
pub fn retry_after(attempts: u32) -> i64 {
    let doubled = 60_i64.saturating_mul(1_i64 << attempts.saturating_sub(1).min(20));
    doubled.min(4 * 3600)
}

/// A tracking number as carriers issue them: 1 to 40 letters, digits and dashes. Refused
/// otherwise (a marketplace would refuse it too, and free text could hold anything).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tracking number")]
pub struct TrackingCodeError;

impl TrackingCode {
    pub fn parse(raw: &str) -> Result<Self, TrackingCodeError> {
        let ok = (1..=40).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TrackingCodeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TrackingCode {
    type Error = TrackingCodeError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TrackingCode> for String {
    fn from(code: TrackingCode) -> Self {
        code.0
    }
}

/// A carrier's name as a merchant or courier gives it: 1 to 64 printable characters, no
/// control characters.
pub fn carrier_name(raw: &str) -> Option<&str> {
    let trimmed = raw.trim();
    ((1..=64).contains(&trimmed.chars().count()) && !trimmed.chars().any(char::is_control))
        .then_some(trimmed)
}

/// Amazon's `carrierCode` for a carrier as couriers name it (EasyPost `USPS`, `FedEx`,
/// `DHLExpress`; Shiprocket `Blue Dart`, `Delhivery`; ...), from Amazon's carrier-code list;
/// `None`: send `Other` with the carrier's name (`carrierName`).
pub fn amazon_carrier_code(carrier: &str) -> Option<&'static str> {
    let key: String = carrier
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match key.as_str() {
        "usps" => "USPS",
        "ups" | "upsdap" => "UPS",
        "fedex" | "fedexdefault" | "fedexsmartpost" => "FedEx",
        "dhl" | "dhlexpress" => "DHL",
        "dhlecommerce" | "dhlecs" => "DHL eCommerce",
        "ontrac" => "OnTrac",
        "lasership" => "Lasership",
        "royalmail" => "Royal Mail",
        "dpd" | "dpduk" => "DPD",
        "canadapost" => "Canada Post",
        "australiapost" => "Australia Post",
        "bluedart" => "Blue Dart",
        "delhivery" => "Delhivery",
        "indiapost" => "India Post",
        "xpressbees" => "Xpressbees",
        "ecomexpress" => "Ecom Express",
        "amazonshipping" => "Amazon Shipping",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_then_give_up() {
        assert_eq!(retry_after(1), 60);
        assert_eq!(retry_after(2), 120);
        assert_eq!(retry_after(5), 960);
        assert_eq!(retry_after(30), 4 * 3600, "capped");
        let code = TrackingCode::parse("9400111").expect("code");
        let mut c = Confirmation::pending("USPS", &code);
        assert!(c.is_due(0));
        c.attempts = 1;
        assert!(!c.retry_later("throttled", 1_000));
        assert!(!c.is_due(1_059) && c.is_due(1_060));
        c.attempts = MAX_CONFIRMATION_ATTEMPTS;
        assert!(c.retry_later("unavailable", 2_000));
        assert_eq!(c.state, ConfirmationState::Failed);
        assert_eq!(c.reason.as_deref(), Some("retries_exhausted"));
        assert!(!c.is_due(i64::MAX));
    }

    #[test]
    fn tracking_numbers_have_a_shape() {
        for good in ["9400111899223197428490", "1Z999AA10123456784", "AWB-1234"] {
            assert!(TrackingCode::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "12 34 56", "1234<script>", &"9".repeat(41), "Jane Doe"] {
            assert!(TrackingCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn carriers_map_to_amazon_codes_or_other() {
        let cases = [
            ("USPS", Some("USPS")),
            ("FedEx", Some("FedEx")),
            ("DHLExpress", Some("DHL")),
            ("Blue Dart", Some("Blue Dart")),
            ("UPSDAP", Some("UPS")),
            ("Sandbox Post", None),
            ("", None),
        ];
        for (carrier, code) in cases {
            assert_eq!(amazon_carrier_code(carrier), code, "{carrier}");
        }
        assert_eq!(carrier_name("  Local Van  "), Some("Local Van"));
        assert_eq!(carrier_name(""), None);
        assert_eq!(carrier_name("a\nb"), None);
    }
}
