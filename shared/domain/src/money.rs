//! Money in minor units (cents, pence, yen) with its currency. Never floats: marketplaces send
//! decimal strings ("19.99"), which are parsed digit by digit into an exact integer.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be a three-letter ISO 4217 code")]
    BadCurrency,
    #[error("amount is not a plain decimal number")]
    NotADecimal,
    #[error("amount has more decimal places than its currency allows")]
    TooPrecise,
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is too large")]
    Overflow,
    #[error("amounts in different currencies cannot be combined")]
    CurrencyMismatch,
}

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| MoneyError::BadCurrency)?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::BadCurrency);
        }
        Ok(Self(bytes))
    }

    pub fn code(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217 "minor unit"). Two for almost every currency;
    /// the exceptions below are the ones marketplaces actually sell in.
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, MoneyError> {
        Self::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount of one currency, in its minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Parses a marketplace decimal string such as `"19.99"`, `"5"` or `"0.50"`.
    pub fn parse_decimal(raw: &str, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent();
        let (whole, fraction) = match raw.split_once('.') {
            Some((w, f)) => (w, f),
            None => (raw, ""),
        };
        if raw.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(MoneyError::NotADecimal);
        }
        if raw.contains('.') && fraction.is_empty() {
            return Err(MoneyError::NotADecimal);
        }
        // "19.990" is fine for a two-digit currency; "19.995" is not.
        let significant = fraction.trim_end_matches('0');
        if significant.len() > exponent as usize {
            return Err(MoneyError::TooPrecise);
        }
        let mut minor: i64 = 0;
        let padded = significant
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(exponent as usize);
        for digit in whole.bytes().chain(padded) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        Ok(Self { minor, currency })
    }

    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_mul(self, factor: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(factor))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        if exponent == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10_i64.pow(exponent);
        write!(
            f,
            "{}.{:0width$} {}",
            self.minor / scale,
            self.minor % scale,
            self.currency,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("valid")
    }

    #[test]
    fn decimal_strings_become_exact_minor_units() {
        let m = |s: &str| Money::parse_decimal(s, usd()).map(|m| m.minor_units());
        assert_eq!(m("19.99"), Ok(1999));
        assert_eq!(m("5"), Ok(500));
        assert_eq!(m("0.5"), Ok(50));
        assert_eq!(m("19.990"), Ok(1999));
        assert_eq!(m("19.995"), Err(MoneyError::TooPrecise));
        assert_eq!(m("-1.00"), Err(MoneyError::Negative));
        assert_eq!(m("1e3"), Err(MoneyError::NotADecimal));
        assert_eq!(m("1."), Err(MoneyError::NotADecimal));
        assert_eq!(m(".5"), Err(MoneyError::NotADecimal));
        assert_eq!(m(""), Err(MoneyError::NotADecimal));
        assert_eq!(m("99999999999999999999"), Err(MoneyError::Overflow));
    }

    #[test]
    fn currencies_know_their_minor_unit() {
        let jpy = Currency::parse("JPY").expect("valid");
        assert_eq!(
            Money::parse_decimal("1500", jpy).map(|m| m.minor_units()),
            Ok(1500)
        );
        assert_eq!(
            Money::parse_decimal("1500.5", jpy),
            Err(MoneyError::TooPrecise)
        );
        let kwd = Currency::parse("KWD").expect("valid");
        assert_eq!(
            Money::parse_decimal("1.234", kwd).map(|m| m.minor_units()),
            Ok(1234)
        );
        assert_eq!(Currency::parse("usd"), Err(MoneyError::BadCurrency));
        assert_eq!(Currency::parse("EURO"), Err(MoneyError::BadCurrency));
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let eur = Currency::parse("EUR").expect("valid");
        let a = Money::from_minor(100, usd()).expect("valid");
        let b = Money::from_minor(100, eur).expect("valid");
        assert_eq!(a.checked_add(b), Err(MoneyError::CurrencyMismatch));
        let big = Money::from_minor(i64::MAX, usd()).expect("valid");
        assert_eq!(big.checked_add(a), Err(MoneyError::Overflow));
        assert_eq!(a.checked_mul(3).map(|m| m.minor_units()), Ok(300));
        assert_eq!(a.to_string(), "1.00 USD");
    }
}
