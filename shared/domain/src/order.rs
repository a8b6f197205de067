//! An order as RetailCoder holds it: public facts (lines, totals, status, ship-to region) plus the
//! buyer's PII, which stays wrapped in [`Pii`] until the vault seals it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    BuyerName, ChannelCustomerId, Currency, Email, MerchantId, Money, OrderId, OrderStatus, Phone,
    Pii, PostalAddress, Quantity, Sku,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Shopify,
    Amazon,
}

impl Channel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::Amazon => "amazon",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Shopify, Self::Amazon]
            .into_iter()
            .find(|c| c.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: Sku,
    pub quantity: Quantity,
    /// Price of one unit, before tax and discounts.
    pub unit_price: Money,
    /// The channel's id of the line (Amazon `orderItemId`, Shopify line item id): what a
    /// shipment confirmation names. Absent on orders stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_id: Option<String>,
    /// The line's discount and tax as the channel charged them.
    #[serde(default, skip_serializing_if = "crate::LineCharges::is_empty")]
    pub charges: crate::LineCharges,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub subtotal: Money,
    pub tax: Money,
    pub shipping: Money,
    pub total: Money,
}

/// Where an order goes, coarsely enough to be anonymous: it survives PII deletion as part of the
/// aggregates merchants keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipToRegion {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// State or province code, when the channel gives one.
    pub region: Option<String>,
}

impl ShipToRegion {
    pub fn of(address: &PostalAddress) -> Self {
        Self {
            country: address.country_code.clone(),
            region: address.region.clone(),
        }
    }
}

/// Everything we hold about the buyer. Each part is optional because channels omit them freely
/// (Amazon hides most buyer details; Shopify guest checkouts may lack a name).
#[derive(Debug, Default)]
pub struct BuyerPii {
    pub name: Option<Pii<BuyerName>>,
    pub email: Option<Pii<Email>>,
    pub phone: Option<Pii<Phone>>,
    pub shipping_address: Option<Pii<PostalAddress>>,
    pub billing_address: Option<Pii<PostalAddress>>,
    /// The channel's id of the buyer's account, where it has one (Shopify's `customer.id`).
    pub customer_id: Option<Pii<ChannelCustomerId>>,
}

/// An order, with its PII. Deliberately not `Serialize`: only its public view is.
#[derive(Debug)]
pub struct Order {
    pub merchant: MerchantId,
    pub id: OrderId,
    pub channel: Channel,
    /// The identifier the channel shows the merchant ("#1001", "902-3159896-1390916").
    pub channel_reference: String,
    /// The marketplace it was placed in (Amazon `salesChannel.marketplaceId`).
    pub marketplace: Option<String>,
    pub status: OrderStatus,
    pub placed_at: OffsetDateTime,
    /// The channel's last-modified time of this order: later updates win, older ones are ignored.
    pub channel_updated_at: OffsetDateTime,
    pub currency: Currency,
    pub lines: Vec<LineItem>,
    pub totals: OrderTotals,
    pub ship_to: Option<ShipToRegion>,
    /// The channel's order-wide tax facts (tax-included prices, who collects, shipping tax).
    pub channel_tax: crate::ChannelTaxFacts,
    pub buyer: BuyerPii,
}
