//! The label port: what the label generator asks of any courier. Typed requests and outcomes;
//! the generator never sees a URL, a body or a status. Couriers have no idempotency keys (but
//! Amazon Shipping v2), so the port is shaped for a caller that persists every courier-side id
//! before its next call and reads back before it ever buys again:
//!
//! 1. [`LabelPurchaser::create`] makes (or finds) the courier's shipment for ours and quotes
//!    rates — free, buys nothing;
//! 2. [`LabelPurchaser::buy`] buys one rate of that shipment — the one call that costs money;
//! 3. [`LabelPurchaser::lookup`] reads the shipment back: bought (with the label) or not;
//! 4. [`LabelPurchaser::document`] fetches the label document once;
//! 5. [`LabelPurchaser::void`] refunds a bought label before pickup.

use std::sync::Arc;

use async_trait::async_trait;
use rc_domain::{
    BuyerName, CountryCode, Email, LwaCredentials, Money, Parcel, Phone, Pii, PostalAddress,
    RegionCode, Secret, SecretText, SellerId, ShipFromAddress, ShipmentId, Sku,
};
use zeroize::Zeroizing;

use crate::TrackingUpdate;

/// A courier account's credentials, opened for one call.
pub enum CourierCredentials {
    /// EasyPost (and the sandbox courier, which speaks EasyPost's API): the API key.
    EasyPost { api_key: Secret<SecretText> },
    /// Shiprocket: the API user's email and password (exchanged for a token), and the pickup
    /// location (its name in the merchant's Shiprocket panel) parcels leave from.
    Shiprocket {
        email: Secret<SecretText>,
        password: Secret<SecretText>,
        pickup_location: String,
    },
    /// Amazon Shipping v2, through the merchant's SP-API connection of this seller.
    AmazonShipping {
        seller: SellerId,
        connection: Arc<dyn AsRef<LwaCredentials> + Send + Sync>,
    },
}

/// Where the parcel goes: buyer PII, opened for `ShippingLabel` only, holding only what a
/// courier prints or needs to deliver.
pub struct Recipient {
    pub name: Option<Pii<BuyerName>>,
    pub address: Pii<PostalAddress>,
    pub phone: Option<Pii<Phone>>,
    pub email: Option<Pii<Email>>,
}

/// Where the parcel leaves from: the merchant's warehouse.
pub struct Sender<'a> {
    pub address: &'a ShipFromAddress,
    pub country: &'a CountryCode,
    pub region: Option<&'a RegionCode>,
}

/// What a parcel holds, as couriers that invoice it ask (Shiprocket): SKU, units and the price
/// of one unit (zero for a kit's components).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelItem {
    pub sku: Sku,
    pub units: u32,
    pub unit_price: Money,
}

/// One shipment's label request.
pub struct LabelRequest<'a> {
    /// Our shipment id: the courier keeps it as its reference (EasyPost `reference`,
    /// Shiprocket `order_id`, which it never creates twice).
    pub reference: &'a ShipmentId,
    /// The Amazon order id, for an Amazon order (Amazon Shipping buys for it, and knows its
    /// address: the buyer's address is not sent).
    pub amazon_order_id: Option<&'a str>,
    /// The order's date, `YYYY-MM-DD`.
    pub order_date: String,
    pub from: Sender<'a>,
    pub to: &'a Recipient,
    pub parcel: Parcel,
    pub items: Vec<LabelItem>,
}

/// A rate as a courier quotes it (the domain's [`rc_domain::Rate`] adds the account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub rate_id: String,
    pub carrier: String,
    pub service: String,
    pub amount: Money,
    pub delivery_days: Option<u32>,
}

/// The courier's shipment for ours, and its rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourierShipment {
    /// The courier's id of it (EasyPost `shp_…`): kept before anything else is asked.
    pub id: String,
    pub quotes: Vec<Quote>,
}

/// Where the label document is. A URL that prints the buyer's address is a PII pointer: it is
/// held as a secret and never stored.
pub enum LabelSource {
    Url(Secret<SecretText>),
    /// The document itself, in the courier's answer (Amazon Shipping).
    Inline(LabelDocument),
}

/// A bought label.
pub struct Purchase {
    pub tracking_code: String,
    /// The carrier that will carry it (USPS, UPS, …) and its service.
    pub carrier: String,
    pub service: String,
    /// What was paid, when the courier says.
    pub amount: Option<Money>,
    pub label: LabelSource,
    /// The courier's id of the bought shipment when it differs from the quote's (Amazon
    /// Shipping's `shipmentId`): kept, to read the label and void it later.
    pub courier_shipment: Option<String>,
}

/// What reading a courier shipment back found.
pub enum Lookup {
    Bought(Purchase),
    NotBought,
}

/// A label document, as fetched: PDF (or ZPL, PNG), zeroed when dropped.
pub struct LabelDocument {
    pub format: LabelFormat,
    pub bytes: Zeroizing<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelFormat {
    Pdf,
    Png,
    Zpl,
}

impl LabelFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Png => "png",
            Self::Zpl => "zpl",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pdf" => Some(Self::Pdf),
            "png" => Some(Self::Png),
            "zpl" => Some(Self::Zpl),
            _ => None,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Zpl => "application/zpl",
        }
    }
}

/// A bought label to track.
pub struct Tracked<'a> {
    /// The courier's id of the bought shipment (as [`Purchase::courier_shipment`] or the quote).
    pub courier_shipment: &'a str,
    pub tracking_code: &'a str,
    /// The carrier as the quote named it (Amazon Shipping: its `carrierId`).
    pub carrier: &'a str,
}

/// What voiding found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidOutcome {
    /// Refund requested or done: the label must not be used.
    Voided,
    /// The courier refuses (already used, too late): the label stands.
    Refused { code: String },
}

/// Why a courier call failed. Only [`CourierError::Unknown`] leaves the outcome open: the
/// caller must read back before acting again.
#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    /// The courier refused our credentials (401/403): nothing happened.
    #[error("the courier refused the account's credentials")]
    Unauthorized,
    /// The courier refused the request as it stands (its error code, never its values).
    #[error("the courier refused the request: {code}")]
    Refused { code: String },
    /// Not processed (throttled, unavailable before acting, connection refused): retry later.
    #[error("the courier is unavailable: {0}")]
    Unavailable(String),
    /// Sent, and the outcome is unknown (timeout after sending, a 5xx, EasyPost's
    /// `SHIPMENT.POSTAGE.NO_RESPONSE`): read back before anything is bought again.
    #[error("the courier's answer is unknown: {0}")]
    Unknown(String),
    /// The courier says it is already bought (EasyPost `SHIPMENT.POSTAGE.EXISTS`).
    #[error("the label was already bought")]
    AlreadyBought,
    /// The courier is still buying it (EasyPost `SHIPMENT.PURCHASE.IN_PROGRESS`).
    #[error("the purchase is still in progress at the courier")]
    InProgress,
    /// The quote is too old to buy (Amazon Shipping's `TOKEN_EXPIRED`, 10 minutes): quote again.
    #[error("the quote expired")]
    QuoteExpired,
    /// An answer that is not what the courier documents (named, never echoed).
    #[error("the courier's answer is not as documented: {0}")]
    Answer(&'static str),
    /// This kind of courier is not available in this deployment (the sandbox in AWS).
    #[error("courier not configured: {0}")]
    NotConfigured(&'static str),
}

impl CourierError {
    /// What a refusal means to a void: the label stands (used, too late). Other errors stay.
    pub fn into_void(self) -> Result<VoidOutcome, CourierError> {
        match self {
            Self::Refused { code } => Ok(VoidOutcome::Refused { code }),
            other => Err(other),
        }
    }

    /// The machine-readable reason a shipment shows when this error ends its label attempt.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unauthorized => "courier_credentials_rejected",
            Self::Refused { .. } => "courier_refused",
            Self::Unavailable(_) => "courier_unavailable",
            Self::Unknown(_) => "courier_outcome_unknown",
            Self::AlreadyBought => "already_bought",
            Self::InProgress => "purchase_in_progress",
            Self::QuoteExpired => "quote_expired",
            Self::Answer(_) => "courier_answer_invalid",
            Self::NotConfigured(_) => "courier_not_configured",
        }
    }
}

/// One courier API.
#[async_trait]
pub trait LabelPurchaser: Send + Sync {
    /// Creates the courier's shipment for ours and quotes its rates. Buys nothing.
    async fn create(
        &self,
        account: &CourierCredentials,
        request: &LabelRequest<'_>,
    ) -> Result<CourierShipment, CourierError>;

    /// Buys `rate_id` for the courier's shipment `shipment`. `idempotency_key` is the same for
    /// every attempt of one label (couriers without idempotency keys ignore it).
    async fn buy(
        &self,
        account: &CourierCredentials,
        shipment: &str,
        rate_id: &str,
        idempotency_key: &str,
    ) -> Result<Purchase, CourierError>;

    /// Whether `buy` is idempotent by its key: a purchase whose answer was lost is settled by
    /// buying again with the same key, not by reading back.
    fn idempotent(&self) -> bool {
        false
    }

    /// Reads the courier's shipment back.
    async fn lookup(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<Lookup, CourierError>;

    /// Fetches a bought label's document.
    async fn document(
        &self,
        account: &CourierCredentials,
        purchase: &Purchase,
    ) -> Result<LabelDocument, CourierError>;

    /// Where a bought label's parcel is, read from the courier (the polling fallback for lost
    /// webhooks). Reads only.
    async fn track(
        &self,
        account: &CourierCredentials,
        tracked: &Tracked<'_>,
    ) -> Result<TrackingUpdate, CourierError>;

    /// Voids (refunds) a bought label before pickup.
    async fn void(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<VoidOutcome, CourierError>;
}
