//! Buyer PII and the one wrapper it lives in.
//!
//! [`Pii`] has no `Display`, no `Serialize`, and a `Debug` that prints `Pii(<redacted>)`; the
//! value types inside it have no `Debug`, `Display` or `Serialize` at all. So `{:?}` on an order,
//! a `tracing` field, an error message or a `serde_json::to_string` cannot leak a buyer's details:
//! the code does not compile, or prints the redaction. The only way in is [`Pii::reveal`], a call
//! that names its purpose and is easy to audit with `grep reveal(`.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} is too long")]
    TooLong(&'static str),
    #[error("{0} contains a control character")]
    ControlCharacter(&'static str),
    #[error("email address is not of the form local@domain")]
    BadEmail,
    #[error("phone number has characters other than letters, digits, spaces and + - ( ) .")]
    BadPhone,
    #[error("country must be an ISO 3166-1 alpha-2 code")]
    BadCountry,
    #[error("{0} has characters outside letters, digits, - and _")]
    BadIdentifier(&'static str),
    #[error("sealed PII does not decode as {0}")]
    Undecodable(&'static str),
}

/// Why PII is being revealed. Every caller names one, so a reviewer can list each place and
/// reason PII leaves its wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealPurpose {
    /// Encrypting it for storage.
    Sealing,
    /// Printing it on a shipping label.
    ShippingLabel,
    /// Deriving the coarse destination routing needs (a postal code's first characters).
    Routing,
    /// Answering a data subject's access request.
    DataSubjectReport,
    /// Asserting a round trip in tests.
    Verification,
    /// Checking a request signature with a credential.
    Authentication,
    /// Matching a privacy request to the orders of the customer it names.
    ComplianceMatching,
    /// Showing a merchant its own account's contact.
    AccountAdministration,
    /// Writing a merchant's PII export (an `exports:pii` request, audited; the file is a
    /// registered copy deleted with the orders it holds).
    DataExport,
    /// Showing an order's buyer to the merchant's staff on request, for a reason they name
    /// (answering the buyer, a delivery problem, a return) — `pii:read`, audited.
    OrderSupport,
}

/// A value that must never be printed, logged or serialized. Its memory is zeroed on drop.
pub struct Pii<T: Zeroize>(T);

impl<T: Zeroize> Pii<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The one way to read the value; `purpose` documents why at the call site.
    pub fn reveal(&self, purpose: RevealPurpose) -> &T {
        let _ = purpose;
        &self.0
    }
}

impl<T: Zeroize> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pii(<redacted>)")
    }
}

impl<T: Zeroize> Drop for Pii<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Which sealed value a ciphertext is: part of the vault's associated data, so a ciphertext moved
/// to another field fails to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedField {
    BuyerName,
    Email,
    Phone,
    ShippingAddress,
    BillingAddress,
    /// The channel's own id of the buyer (Shopify's customer id): pseudonymous, but it links
    /// an order to a person, so it is sealed with the rest.
    CustomerId,
    /// A channel connection's webhook signing secret (not buyer PII, but sealed the same way).
    WebhookSecret,
    /// The webhook secret being rotated out: its own label, so the two cannot be swapped.
    PreviousWebhookSecret,
    /// A channel connection's API access token.
    AccessToken,
    /// Login with Amazon client secret.
    LwaClientSecret,
    /// Login with Amazon refresh token.
    LwaRefreshToken,
    /// A courier account's API key (EasyPost, the sandbox courier).
    CourierApiKey,
    /// A courier account's password (Shiprocket's API user).
    CourierPassword,
    /// A courier account's user name (Shiprocket's API user email).
    CourierUser,
    /// A shipping label document: prints the buyer's address.
    ShippingLabel,
    /// A courier account's tracking webhook secret (EasyPost's HMAC key, Shiprocket's token).
    CourierWebhookSecret,
    /// The merchant's billing contact: a person's name and e-mail (the merchant's personal data).
    ContactName,
    ContactEmail,
    /// A dashboard user's sign-in e-mail (the merchant's staff: personal data).
    UserEmail,
}

impl SealedField {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::BuyerName => "buyer_name",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::ShippingAddress => "shipping_address",
            Self::BillingAddress => "billing_address",
            Self::CustomerId => "customer_id",
            Self::WebhookSecret => "webhook_secret",
            Self::PreviousWebhookSecret => "webhook_secret_previous",
            Self::AccessToken => "access_token",
            Self::LwaClientSecret => "lwa_client_secret",
            Self::LwaRefreshToken => "lwa_refresh_token",
            Self::CourierApiKey => "courier_api_key",
            Self::CourierPassword => "courier_password",
            Self::CourierUser => "courier_user",
            Self::ShippingLabel => "shipping_label",
            Self::CourierWebhookSecret => "courier_webhook_secret",
            Self::ContactName => "contact_name",
            Self::ContactEmail => "contact_email",
            Self::UserEmail => "user_email",
        }
    }
}

/// Conversion of a PII value to and from the bytes the vault seals.
pub trait Sealable: Sized + Zeroize {
    fn to_plaintext(&self) -> Zeroizing<Vec<u8>>;
    fn from_plaintext(bytes: &[u8]) -> Result<Self, PiiError>;
}

fn checked_text(raw: &str, what: &'static str, max_chars: usize) -> Result<String, PiiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PiiError::Empty(what));
    }
    if trimmed.chars().count() > max_chars {
        return Err(PiiError::TooLong(what));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(PiiError::ControlCharacter(what));
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_pii {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, PiiError> {
                let text = checked_text(raw, $what, $max)?;
                let check: fn(&str) -> Result<(), PiiError> = $check;
                check(&text)?;
                Ok(Self(text))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Sealable for $name {
            fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
                Zeroizing::new(self.0.as_bytes().to_vec())
            }

            fn from_plaintext(bytes: &[u8]) -> Result<Self, PiiError> {
                let text = std::str::from_utf8(bytes).map_err(|_| PiiError::Undecodable($what))?;
                Self::parse(text)
            }
        }
    };
}

text_pii!(
    /// A buyer's full name as the channel gave it.
    BuyerName, "buyer name", 200, |_| Ok(())
);
text_pii!(
    /// A buyer's email address (RFC 5321 limits its length to 254).
    Email, "email", 254, |text| {
        let (local, domain) = text.split_once('@').ok_or(PiiError::BadEmail)?;
        let valid = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !text.chars().any(char::is_whitespace);
        if valid { Ok(()) } else { Err(PiiError::BadEmail) }
    }
);
text_pii!(
    /// A phone number as the buyer typed it, loosely checked: channels pass through what buyers
    /// enter, vanity numbers ("555-555-SHIP") included.
    Phone, "phone", 40, |text| {
        let allowed = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '(' | ')' | '.' | ' '));
        if allowed && text.chars().any(|c| c.is_ascii_digit()) { Ok(()) } else { Err(PiiError::BadPhone) }
    }
);

text_pii!(
    /// The channel's id of the buyer's customer account (Shopify's numeric customer id): what a
    /// compliance request names, compared before any of the buyer's data is opened for it.
    ChannelCustomerId, "customer id", 64, |text| {
        if text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) {
            Ok(())
        } else {
            Err(PiiError::BadIdentifier("customer id"))
        }
    }
);

/// A postal address. `country_code` and `region` are also kept, unsealed, on the order as an
/// anonymized aggregate ([`crate::ShipToRegion`]); everything here is sealed.
#[derive(Clone, PartialEq, Eq, Zeroize)]
pub struct PostalAddress {
    pub name: Option<String>,
    pub company: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: String,
}

impl PostalAddress {
    /// Parses the parts of an address; empty optional parts become `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        name: Option<&str>,
        company: Option<&str>,
        line1: &str,
        line2: Option<&str>,
        city: &str,
        region: Option<&str>,
        postal_code: Option<&str>,
        country_code: &str,
    ) -> Result<Self, PiiError> {
        let optional = |raw: Option<&str>, what| -> Result<Option<String>, PiiError> {
            match raw.map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => checked_text(text, what, 200).map(Some),
            }
        };
        let country = country_code.trim();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PiiError::BadCountry);
        }
        Ok(Self {
            name: optional(name, "address name")?,
            company: optional(company, "company")?,
            line1: checked_text(line1, "address line", 200)?,
            line2: optional(line2, "address line")?,
            city: checked_text(city, "city", 100)?,
            region: optional(region, "region")?,
            postal_code: optional(postal_code, "postal code")?,
            country_code: country.to_owned(),
        })
    }

    fn parts(&self) -> [Option<&str>; 8] {
        [
            self.name.as_deref(),
            self.company.as_deref(),
            Some(&self.line1),
            self.line2.as_deref(),
            Some(&self.city),
            self.region.as_deref(),
            self.postal_code.as_deref(),
            Some(&self.country_code),
        ]
    }
}

/// Absent parts are encoded with this length; present ones with their byte length.
const ABSENT: u32 = u32::MAX;

impl Sealable for PostalAddress {
    fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(256));
        for part in self.parts() {
            match part {
                None => out.extend_from_slice(&ABSENT.to_be_bytes()),
                Some(text) => {
                    let len = u32::try_from(text.len()).unwrap_or(ABSENT - 1);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    fn from_plaintext(bytes: &[u8]) -> Result<Self, PiiError> {
        const WHAT: &str = "postal address";
        let mut rest = bytes;
        let mut parts: Vec<Option<&str>> = Vec::with_capacity(8);
        for _ in 0..8 {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or(PiiError::Undecodable(WHAT))?;
            let len = u32::from_be_bytes(*len);
            if len == ABSENT {
                parts.push(None);
                rest = tail;
                continue;
            }
            let len = len as usize;
            if tail.len() < len {
                return Err(PiiError::Undecodable(WHAT));
            }
            let text =
                std::str::from_utf8(&tail[..len]).map_err(|_| PiiError::Undecodable(WHAT))?;
            parts.push(Some(text));
            rest = &tail[len..];
        }
        if !rest.is_empty() {
            return Err(PiiError::Undecodable(WHAT));
        }
        fn required(part: Option<&str>) -> Result<&str, PiiError> {
            part.ok_or(PiiError::Undecodable(WHAT))
        }
        Self::parse(
            parts[0],
            parts[1],
            required(parts[2])?,
            parts[3],
            required(parts[4])?,
            parts[5],
            parts[6],
            required(parts[7])?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "Zelda Canary-7Q";

    #[test]
    fn debug_output_never_shows_the_value() {
        let name = Pii::new(BuyerName::parse(CANARY).expect("valid"));
        let printed = format!("{name:?} {:#?}", name);
        assert!(!printed.contains("Zelda"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn revealing_is_explicit() {
        let email = Pii::new(Email::parse(" zelda@example.com ").expect("valid"));
        assert_eq!(
            email.reveal(RevealPurpose::Verification).as_str(),
            "zelda@example.com"
        );
    }

    #[test]
    fn emails_and_phones_are_parsed() {
        assert!(Email::parse("a@b").is_ok());
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b@c").is_err());
        assert!(Email::parse("a b@c").is_err());
        assert!(Phone::parse("+1 (555) 010-9999 x12").is_ok());
        assert!(Phone::parse("555-555-SHIP").is_ok());
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("+1 <script>").is_err());
        assert!(BuyerName::parse("  ").is_err());
    }

    #[test]
    fn addresses_round_trip_through_their_sealed_encoding() {
        let address = PostalAddress::parse(
            Some(CANARY),
            None,
            "1 Infinite Loop",
            Some(""),
            "Cupertino",
            Some("CA"),
            Some("95014"),
            "US",
        )
        .expect("valid");
        let bytes = address.to_plaintext();
        let back = PostalAddress::from_plaintext(&bytes).expect("decodes");
        assert!(back == address);
        assert_eq!(back.line2, None);
    }

    #[test]
    fn truncated_or_padded_address_bytes_are_refused() {
        let address = PostalAddress::parse(
            None,
            None,
            "1 Main St",
            None,
            "Springfield",
            None,
            None,
            "US",
        )
        .expect("valid");
        let bytes = address.to_plaintext();
        for cut in 0..bytes.len() {
            assert!(PostalAddress::from_plaintext(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(PostalAddress::from_plaintext(&longer).is_err());
        assert!(PostalAddress::parse(None, None, "x", None, "y", None, None, "usa").is_err());
    }
}

/// A credential (webhook signing secret, API token). Not buyer PII, but handled the same way: it
/// lives in [`Pii`] (alias [`Secret`]) and is sealed at rest.
#[derive(Clone, PartialEq, Eq, Zeroize)]
pub struct SecretText(String);

/// Credentials share PII's wrapper: no Debug, Display or Serialize that reveals them.
pub type Secret<T> = Pii<T>;

impl SecretText {
    pub fn parse(raw: &str) -> Result<Self, PiiError> {
        if raw.is_empty() {
            return Err(PiiError::Empty("secret"));
        }
        if raw.len() > 4096 {
            return Err(PiiError::TooLong("secret"));
        }
        if raw.chars().any(char::is_control) {
            return Err(PiiError::ControlCharacter("secret"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Sealable for SecretText {
    fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.as_bytes().to_vec())
    }

    fn from_plaintext(bytes: &[u8]) -> Result<Self, PiiError> {
        let text = std::str::from_utf8(bytes).map_err(|_| PiiError::Undecodable("secret"))?;
        Self::parse(text)
    }
}
