//! SP-API regions. A seller authorizes an application per region (each has its own Seller
//! Central), so a connection's marketplaces belong to one region, and every call for it goes to
//! that region's endpoint. Marketplace ids and endpoints from Amazon's SP-API documentation
//! ("Marketplace IDs", "SP-API endpoints").

/// Where a seller's marketplaces are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    NorthAmerica,
    Europe,
    FarEast,
}

const MARKETPLACES: [(&str, Region); 22] = [
    ("ATVPDKIKX0DER", Region::NorthAmerica),  // United States
    ("A2EUQ1WTGCTBG2", Region::NorthAmerica), // Canada
    ("A1AM78C64UM0Y8", Region::NorthAmerica), // Mexico
    ("A2Q3Y263D00KWC", Region::NorthAmerica), // Brazil
    ("A1RKKUPIHCS9HS", Region::Europe),       // Spain
    ("A1F83G8C2ARO7P", Region::Europe),       // United Kingdom
    ("A13V1IB3VIYZZH", Region::Europe),       // France
    ("AMEN7PMS3EDWL", Region::Europe),        // Belgium
    ("A1805IZSGTT6HS", Region::Europe),       // Netherlands
    ("A1PA6795UKMFR9", Region::Europe),       // Germany
    ("APJ6JRA9NG5V4", Region::Europe),        // Italy
    ("A2NODRKZP88ZB9", Region::Europe),       // Sweden
    ("AE08WJ6YKNBMC", Region::Europe),        // South Africa
    ("A1C3SOZRARQ6R3", Region::Europe),       // Poland
    ("ARBP9OOSHTCHU", Region::Europe),        // Egypt
    ("A33AVAJ2PDY3EV", Region::Europe),       // Turkey
    ("A17E79C6D8DWNP", Region::Europe),       // Saudi Arabia
    ("A2VIGQ35RCS4UG", Region::Europe),       // United Arab Emirates
    ("A21TJRUUN4KGV", Region::Europe),        // India
    ("A19VAU5U5O7RUS", Region::FarEast),      // Singapore
    ("A39IBJ37TRP1C6", Region::FarEast),      // Australia
    ("A1VC38T7YXB528", Region::FarEast),      // Japan
];

impl Region {
    /// The region serving `marketplace_id`, if it is one of Amazon's.
    pub fn of_marketplace(marketplace_id: &str) -> Option<Self> {
        MARKETPLACES
            .iter()
            .find(|(id, _)| *id == marketplace_id)
            .map(|(_, region)| *region)
    }

    /// The one region of a connection's marketplaces; `None` if any is unknown or they span
    /// regions (which takes one authorization per region: one connection each).
    pub fn of_marketplaces(marketplace_ids: &[String]) -> Option<Self> {
        let mut regions = marketplace_ids.iter().map(|m| Self::of_marketplace(m));
        let first = regions.next()??;
        regions.all(|r| r == Some(first)).then_some(first)
    }

    /// Amazon's production SP-API endpoint for the region.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Self::NorthAmerica => "https://sellingpartnerapi-na.amazon.com",
            Self::Europe => "https://sellingpartnerapi-eu.amazon.com",
            Self::FarEast => "https://sellingpartnerapi-fe.amazon.com",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marketplaces_map_to_their_region_and_a_connection_to_one() {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
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
