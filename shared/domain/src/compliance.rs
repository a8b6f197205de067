//! Shopify's mandatory compliance requests (`customers/data_request`, `customers/redact`,
//! `shop/redact`) as the privacy lifecycle records and fulfils them: without the contact details
//! the payloads carry (the order ids identify the data).

use crate::{OrderId, ShopDomain};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceKind {
    /// `customers/data_request`: report what we hold about a customer.
    CustomerDataRequest,
    /// `customers/redact`: delete a customer's data.
    CustomerRedact,
    /// `shop/redact`: delete everything of a shop (48 hours after uninstall).
    ShopRedact,
}

impl ComplianceKind {
    /// The kind a webhook topic names, if it is a compliance topic.
    pub fn from_topic(topic: &str) -> Option<Self> {
        match topic {
            "customers/data_request" => Some(Self::CustomerDataRequest),
            "customers/redact" => Some(Self::CustomerRedact),
            "shop/redact" => Some(Self::ShopRedact),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CustomerDataRequest => "customer_data_request",
            Self::CustomerRedact => "customer_redact",
            Self::ShopRedact => "shop_redact",
        }
    }
}

/// A compliance request, without PII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRequest {
    pub kind: ComplianceKind,
    pub shop_domain: ShopDomain,
    /// Shopify's customer id (absent for `shop/redact`).
    pub customer_id: Option<u64>,
    /// Orders named by the request (`orders_to_redact` / `orders_requested`), as our order ids.
    pub orders: Vec<OrderId>,
    /// Shopify's id of a data request, to quote back to the merchant.
    pub data_request_id: Option<u64>,
}
