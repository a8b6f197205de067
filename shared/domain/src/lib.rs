//! RetailCoder's domain: pure types and rules, no I/O.
//!
//! Types here parse rather than validate: once you hold a [`Sku`], a [`Money`] or an [`Email`],
//! it is well formed, so code further in never re-checks. Buyer PII lives only inside [`Pii`],
//! which cannot be printed, logged or serialized by accident.

mod apps;
mod channel_accounts;
mod charged;
mod clock;
mod compliance;
mod confirmation;
mod hex;
mod ids;
mod money;
mod order;
mod order_update;
mod pii;
mod progress;
mod quantity;
mod retention;
mod routing;
mod routing_settings;
mod shipment;
mod sku;
mod status;
mod tracking;
mod warehouse;

pub use apps::{AmazonApp, AppCredentials, ShopifyApp};
pub use channel_accounts::{
    AmazonIdError, LwaCredentials, MarketplaceId, Region, SellerId, ShopDomain, ShopDomainError,
};
pub use charged::{
    ChannelTaxFacts, ChargedTax, LineCharges, MAX_TAX_TITLE, ReportingScheme, fraction_to_bp,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compliance::{ComplianceKind, ComplianceRequest};
pub use confirmation::{
    Confirmation, ConfirmationState, MAX_CONFIRMATION_ATTEMPTS, TrackingCode, TrackingCodeError,
    amazon_carrier_code, carrier_name, retry_after,
};
pub use hex::to_hex;
pub use ids::{IdError, MerchantId, OrderId, WarehouseId};
pub use money::{Currency, Money, MoneyError};
pub use order::{BuyerPii, Channel, LineItem, Order, OrderTotals, ShipToRegion};
pub use order_update::{OrderState, UpdatePlan, plan_update};
pub use pii::{
    BuyerName, ChannelCustomerId, Email, Phone, Pii, PiiError, PostalAddress, RevealPurpose,
    Sealable, SealedField, Secret, SecretText,
};
pub use progress::{LineDemand, OrderProgress, ShipmentProgress, order_progress, package_lines};
pub use quantity::{Quantity, QuantityError};
pub use retention::{
    MAX_DAYS_AFTER_SHIPMENT, PiiDeadline, PiiRule, RetentionError, RetentionPolicy,
    UNSHIPPED_LIMIT_DAYS,
};
pub use routing::{
    Candidate, Demand, Destination, FreeStock, MAX_SPLIT_CANDIDATES, PlannedShipment, Routed,
    RoutingRule, RuleConditions, Unroutable, hold, route,
};
pub use routing_settings::{
    MAX_POSTAL_PREFIX, MAX_ROUTING_RULES, RawRoutingRule, RawRoutingSettings, RoutingSettings,
    RoutingSettingsError, postal_prefix,
};
pub use shipment::{
    MAX_PARCEL_GRAMS, MAX_PARCEL_MM, MAX_SHIPMENTS_PER_ORDER, Parcel, Rate, ServiceChoice,
    ShipmentError, ShipmentId, ShipmentStatus, choose_rate,
};
pub use sku::{Sku, SkuError};
pub use status::{OrderStatus, TransitionError};
pub use tracking::{
    Applied, EventOutcome, EventSource, Journey, MAX_HISTORY, TrackingEntry, TrackingStatus,
    courier_status_code, from_amazon_shipping, from_easypost, from_shiprocket,
};
pub use warehouse::{
    CountryCode, CourierAccountRef, CourierKind, CutOff, MAX_WAREHOUSE_COURIERS, RegionCode,
    ShipFromAddress, Warehouse, WarehouseError,
};
