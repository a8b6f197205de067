//! The dashboard's two cookies, and nothing else:
//!
//! - `__Host-rc_session`: the session token. `__Host-` makes the browser refuse it unless it is
//!   `Secure`, has `Path=/` and no `Domain` (so no sibling host can set or read it); `HttpOnly`
//!   (no script reads it), `SameSite=Lax` (not sent with cross-site POSTs). No `Max-Age`: it
//!   ends with the browser, and the server ends it sooner (idle and absolute time-outs).
//! - `__Host-rc_prefs`: table density and how dates are shown. Not a secret and not signed: it
//!   holds only values the user may choose anyway, parsed against a closed list (anything else
//!   reads as the defaults), and never echoed back as given.

/// The session cookie's name.
pub const SESSION: &str = "__Host-rc_session";
/// The preferences cookie's name.
pub const PREFS: &str = "__Host-rc_prefs";

/// The value of cookie `name` in a `Cookie` header, if it is there exactly once (two cookies
/// of one name — one planted by a sibling domain — are treated as none).
pub fn read<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    let mut found = None;
    for pair in header?.split(';') {
        let Some((key, value)) = pair.trim().split_once('=') else {
            continue;
        };
        if key == name {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found
}

/// `Set-Cookie` for a new session.
pub fn session(token: &str) -> String {
    format!("{SESSION}={token}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session() -> String {
    format!("{SESSION}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// How dense tables are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Density {
    #[default]
    Comfortable,
    Compact,
}

/// How dates and times are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dates {
    /// In UTC, to the minute.
    #[default]
    Utc,
    /// Relative to now ("3 h ago", "in 12 d").
    Relative,
}

/// The user's interface preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preferences {
    pub density: Density,
    pub dates: Dates,
}

impl Preferences {
    /// From the cookie's value (`density.dates`, e.g. `compact.relative`); anything else is the
    /// defaults.
    pub fn parse(raw: Option<&str>) -> Self {
        let Some((density, dates)) = raw.and_then(|r| r.split_once('.')) else {
            return Self::default();
        };
        let density = match density {
            "comfortable" => Density::Comfortable,
            "compact" => Density::Compact,
            _ => return Self::default(),
        };
        let dates = match dates {
            "utc" => Dates::Utc,
            "relative" => Dates::Relative,
            _ => return Self::default(),
        };
        Self { density, dates }
    }

    /// From a form's `density` and `dates` fields (unknown values: `None`).
    pub fn from_form(density: &str, dates: &str) -> Option<Self> {
        let chosen = Self::parse(Some(&format!("{density}.{dates}")));
        (chosen.value() == format!("{density}.{dates}")).then_some(chosen)
    }

    pub fn value(&self) -> String {
        format!(
            "{}.{}",
            match self.density {
                Density::Comfortable => "comfortable",
                Density::Compact => "compact",
            },
            match self.dates {
                Dates::Utc => "utc",
                Dates::Relative => "relative",
            }
        )
    }

    /// `Set-Cookie` keeping the preferences for a year.
    pub fn cookie(&self) -> String {
        format!(
            "{PREFS}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000",
            self.value()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_read_only_when_it_is_there_once() {
        let cases = [
            (Some("__Host-rc_session=abc"), Some("abc")),
            (Some("a=1; __Host-rc_session=abc; b=2"), Some("abc")),
            (Some("__Host-rc_session=abc; __Host-rc_session=def"), None),
            (Some("rc_session=abc"), None),
            (Some("__host-rc_session=abc"), None),
            (Some(""), None),
            (None, None),
        ];
        for (header, expected) in cases {
            assert_eq!(read(header, SESSION), expected, "{header:?}");
        }
    }

    #[test]
    fn preferences_parse_from_a_closed_list() {
        let cases = [
            (Some("compact.relative"), Density::Compact, Dates::Relative),
            (Some("comfortable.utc"), Density::Comfortable, Dates::Utc),
            (Some("compact.<script>"), Density::Comfortable, Dates::Utc),
            (Some("huge.utc"), Density::Comfortable, Dates::Utc),
            (Some("compact"), Density::Comfortable, Dates::Utc),
            (None, Density::Comfortable, Dates::Utc),
        ];
        for (raw, density, dates) in cases {
            assert_eq!(
                Preferences::parse(raw),
                Preferences { density, dates },
                "{raw:?}"
            );
        }
        assert!(Preferences::from_form("compact", "relative").is_some());
        assert!(Preferences::from_form("compact", "local").is_none());
        let cookie = Preferences::parse(Some("compact.relative")).cookie();
        assert!(cookie.starts_with("__Host-rc_prefs=compact.relative; Path=/; Secure; HttpOnly"));
    }

    #[test]
    fn the_session_cookie_has_every_attribute() {
        let cookie = session("rcd_x");
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Domain"));
        assert!(clear_session().contains("Max-Age=0"));
    }
}
