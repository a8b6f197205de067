//! Who we deal with on each channel: a Shopify shop, an Amazon selling partner and its
//! marketplaces, and the region that serves them. Parsed once at the edge (a webhook header, a
//! notification, the connect request) and carried typed everywhere after: listings, connections
//! and order events never hold these as bare strings.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Secret, SecretText};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shop domain must look like name.myshopify.com")]
pub struct ShopDomainError;

/// A shop's permanent `*.myshopify.com` domain (what `X-Shopify-Shop-Domain` carries).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShopDomain(String);

const SHOP_SUFFIX: &str = ".myshopify.com";

impl ShopDomain {
    /// Case-insensitive, as Shopify treats domains; kept lower case.
    pub fn parse(raw: &str) -> Result<Self, ShopDomainError> {
        let domain = raw.trim().to_ascii_lowercase();
        let name = domain.strip_suffix(SHOP_SUFFIX).ok_or(ShopDomainError)?;
        let valid = !name.is_empty()
            && name.len() <= 60
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(domain))
        } else {
            Err(ShopDomainError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShopDomain {
    type Error = ShopDomainError;
    fn try_from(raw: String) -> Result<Self, ShopDomainError> {
        Self::parse(&raw)
    }
}

impl From<ShopDomain> for String {
    fn from(domain: ShopDomain) -> String {
        domain.0
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Amazon identifiers are 1 to 32 upper-case letters and digits")]
pub struct AmazonIdError;

/// Amazon's identifiers (merchant tokens, marketplace ids) are upper-case letters and digits,
/// e.g. `A3TH9S8BH6GOGM`, `ATVPDKIKX0DER`: anything else never came from Amazon.
fn parse_amazon_id(raw: &str) -> Result<&str, AmazonIdError> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok { Ok(raw) } else { Err(AmazonIdError) }
}

crate::ids::id_type!(
    /// A selling partner: the merchant token ORDER_CHANGE notifications carry as `SellerId`.
    SellerId,
    parse_amazon_id,
    AmazonIdError
);
crate::ids::id_type!(
    /// An Amazon marketplace (`ATVPDKIKX0DER` is amazon.com).
    MarketplaceId,
    parse_amazon_id,
    AmazonIdError
);

/// Where a seller's marketplaces are served. A seller authorizes an application per region
/// (each has its own Seller Central), so a connection's marketplaces belong to one region, and
/// every call for it goes to that region's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    NorthAmerica,
    Europe,
    FarEast,
}

/// Marketplace ids, their regions and the Seller Central each is sold from (where a seller
/// authorizes an application), from Amazon's SP-API documentation ("Marketplace IDs", "Seller
/// Central URLs").
const MARKETPLACES: [(&str, Region, &str); 22] = [
    (
        "ATVPDKIKX0DER",
        Region::NorthAmerica,
        "https://sellercentral.amazon.com",
    ), // United States
    (
        "A2EUQ1WTGCTBG2",
        Region::NorthAmerica,
        "https://sellercentral.amazon.ca",
    ), // Canada
    (
        "A1AM78C64UM0Y8",
        Region::NorthAmerica,
        "https://sellercentral.amazon.com.mx",
    ), // Mexico
    (
        "A2Q3Y263D00KWC",
        Region::NorthAmerica,
        "https://sellercentral.amazon.com.br",
    ), // Brazil
    (
        "A1RKKUPIHCS9HS",
        Region::Europe,
        "https://sellercentral-europe.amazon.com",
    ), // Spain
    (
        "A1F83G8C2ARO7P",
        Region::Europe,
        "https://sellercentral-europe.amazon.com",
    ), // United Kingdom
    (
        "A13V1IB3VIYZZH",
        Region::Europe,
        "https://sellercentral-europe.amazon.com",
    ), // France
    (
        "AMEN7PMS3EDWL",
        Region::Europe,
        "https://sellercentral.amazon.com.be",
    ), // Belgium
    (
        "A1805IZSGTT6HS",
        Region::Europe,
        "https://sellercentral.amazon.nl",
    ), // Netherlands
    (
        "A1PA6795UKMFR9",
        Region::Europe,
        "https://sellercentral-europe.amazon.com",
    ), // Germany
    (
        "APJ6JRA9NG5V4",
        Region::Europe,
        "https://sellercentral-europe.amazon.com",
    ), // Italy
    (
        "A2NODRKZP88ZB9",
        Region::Europe,
        "https://sellercentral.amazon.se",
    ), // Sweden
    (
        "AE08WJ6YKNBMC",
        Region::Europe,
        "https://sellercentral.amazon.co.za",
    ), // South Africa
    (
        "A1C3SOZRARQ6R3",
        Region::Europe,
        "https://sellercentral.amazon.pl",
    ), // Poland
    (
        "ARBP9OOSHTCHU",
        Region::Europe,
        "https://sellercentral.amazon.eg",
    ), // Egypt
    (
        "A33AVAJ2PDY3EV",
        Region::Europe,
        "https://sellercentral.amazon.com.tr",
    ), // Turkey
    (
        "A17E79C6D8DWNP",
        Region::Europe,
        "https://sellercentral.amazon.sa",
    ), // Saudi Arabia
    (
        "A2VIGQ35RCS4UG",
        Region::Europe,
        "https://sellercentral.amazon.ae",
    ), // United Arab Emirates
    (
        "A21TJRUUN4KGV",
        Region::Europe,
        "https://sellercentral.amazon.in",
    ), // India
    (
        "A19VAU5U5O7RUS",
        Region::FarEast,
        "https://sellercentral.amazon.sg",
    ), // Singapore
    (
        "A39IBJ37TRP1C6",
        Region::FarEast,
        "https://sellercentral.amazon.com.au",
    ), // Australia
    (
        "A1VC38T7YXB528",
        Region::FarEast,
        "https://sellercentral.amazon.co.jp",
    ), // Japan
];

impl Region {
    /// The region's name as stored and shown (`north_america`, `europe`, `far_east`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NorthAmerica => "north_america",
            Self::Europe => "europe",
            Self::FarEast => "far_east",
        }
    }

    /// The region [`Self::as_str`] names.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::NorthAmerica, Self::Europe, Self::FarEast]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }

    /// The region serving `marketplace`, if it is one of Amazon's.
    pub fn of_marketplace(marketplace: &MarketplaceId) -> Option<Self> {
        MARKETPLACES
            .iter()
            .find(|(id, _, _)| *id == marketplace.as_str())
            .map(|(_, region, _)| *region)
    }

    /// The one region of a connection's marketplaces; `None` if any is unknown or they span
    /// regions (which takes one authorization per region: one connection each).
    pub fn of_marketplaces(marketplaces: &[MarketplaceId]) -> Option<Self> {
        let mut regions = marketplaces.iter().map(Self::of_marketplace);
        let first = regions.next()??;
        regions.all(|r| r == Some(first)).then_some(first)
    }

    /// Amazon's production SP-API endpoint for the region ("SP-API endpoints").
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Self::NorthAmerica => "https://sellingpartnerapi-na.amazon.com",
            Self::Europe => "https://sellingpartnerapi-eu.amazon.com",
            Self::FarEast => "https://sellingpartnerapi-fe.amazon.com",
        }
    }
}

impl MarketplaceId {
    /// The Seller Central site sellers of this marketplace sign in to (and authorize
    /// applications at), if it is one of Amazon's marketplaces.
    pub fn seller_central(&self) -> Option<&'static str> {
        MARKETPLACES
            .iter()
            .find(|(id, _, _)| *id == self.as_str())
            .map(|(_, _, url)| *url)
    }
}

/// A selling partner's authorization of our application (Login with Amazon).
pub struct LwaCredentials {
    pub client_id: String,
    pub client_secret: Secret<SecretText>,
    pub refresh_token: Secret<SecretText>,
    /// The region the seller authorized us in: every call goes to its endpoint.
    pub region: Region,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_myshopify_domains_are_shops() {
        assert_eq!(
            ShopDomain::parse("Demo-Shop.myshopify.com").map(|d| d.to_string()),
            Ok("demo-shop.myshopify.com".into())
        );
        for bad in [
            "evil.com",
            ".myshopify.com",
            "a_b.myshopify.com",
            "a.b.myshopify.com",
        ] {
            assert!(ShopDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amazon_ids_are_upper_case_letters_and_digits() {
        let cases = [
            ("A3TH9S8BH6GOGM", true),
            ("ATVPDKIKX0DER", true),
            ("", false),
            ("a3th9s8bh6gogm", false),
            ("A3TH#SELLER", false),
            (&"A".repeat(33), false),
        ];
        for (raw, ok) in cases {
            assert_eq!(SellerId::parse(raw).is_ok(), ok, "{raw}");
            assert_eq!(MarketplaceId::parse(raw).is_ok(), ok, "{raw}");
        }
        assert!(serde_json::from_str::<SellerId>("\"A1\"").is_ok());
        assert!(serde_json::from_str::<SellerId>("\"a1\"").is_err());
    }

    #[test]
    fn marketplaces_map_to_their_region_and_a_connection_to_one() {
        let ids = |list: &[&str]| -> Vec<MarketplaceId> {
            list.iter()
                .map(|s| MarketplaceId::parse(s).expect("id"))
                .collect()
        };
        let cases = [
            (ids(&["ATVPDKIKX0DER"]), Some(Region::NorthAmerica)),
            (
                ids(&["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]),
                Some(Region::NorthAmerica),
            ),
            (
                ids(&["A1PA6795UKMFR9", "A1F83G8C2ARO7P"]),
                Some(Region::Europe),
            ),
            (ids(&["A1VC38T7YXB528"]), Some(Region::FarEast)),
            (ids(&["ATVPDKIKX0DER", "A1PA6795UKMFR9"]), None),
            (ids(&["AUNKNOWN"]), None),
            (ids(&[]), None),
        ];
        for (marketplaces, region) in cases {
            assert_eq!(
                Region::of_marketplaces(&marketplaces),
                region,
                "{marketplaces:?}"
            );
        }
    }
}
