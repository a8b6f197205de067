use rc_domain::{Channel, LineItem, OrderStatus, OrderTotals, ShipToRegion};
use serde::Serialize;

/// Whether an order's buyer PII is still held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuyerPiiState {
    /// Held, sealed; readable only by the vault for a named purpose.
    Sealed,
    /// Destroyed; only anonymized aggregates remain.
    Purged,
}

/// An order as merchants see it through the API: every public fact, no PII.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub id: String,
    pub channel: Channel,
    pub channel_reference: String,
    /// The marketplace it was placed in (Amazon), when the channel said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketplace: Option<String>,
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub channel_updated_at: time::OffsetDateTime,
    pub currency: String,
    pub lines: Vec<LineItem>,
    pub totals: OrderTotals,
    pub ship_to: Option<ShipToRegion>,
    /// The channel's order-wide tax facts (tax-included prices, who collects, shipping tax).
    #[serde(skip_serializing_if = "rc_domain::ChannelTaxFacts::is_default")]
    pub channel_tax: rc_domain::ChannelTaxFacts,
    pub buyer_pii: BuyerPiiState,
    pub version: u64,
}
