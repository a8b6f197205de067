//! Couriers: the label port ([`LabelPurchaser`]) and the courier APIs behind it. One client per
//! API; the label generator holds `Arc<dyn LabelPurchaser>` per courier kind and never sees a
//! URL, a body or a status.
//!
//! | courier | client | idempotency |
//! | --- | --- | --- |
//! | EasyPost | [`EasyPost`] at `https://api.easypost.com/v2` | none: the `shp_…` id is the dedupe key |
//! | sandbox (local host) | [`EasyPost`] at the local host's `/sandbox/courier/v2` | as EasyPost |
//! | Amazon Shipping v2 | [`AmazonShipping`] through the seller's SP-API connection | `x-amzn-IdempotencyKey` on `purchaseShipment`: a lost answer is settled by buying again with the same key |
//! | Shiprocket | [`Shiprocket`] at `https://apiv2.shiprocket.in/v1/external` | none: our shipment id is its `order_id`, never created twice; an assigned AWB is read back before any assign |

mod amazon_shipping;
mod decimal;
mod download;
mod easypost;
mod port;
mod shiprocket;
mod tracking;
mod webhook;

pub use amazon_shipping::AmazonShipping;
pub use download::MAX_LABEL_BYTES;
pub use easypost::{EASYPOST_API, EasyPost};
pub use port::{
    CourierCredentials, CourierError, CourierShipment, LabelDocument, LabelFormat, LabelItem,
    LabelPurchaser, LabelRequest, LabelSource, Lookup, Purchase, Quote, Recipient, Sender, Tracked,
    VoidOutcome,
};
pub use shiprocket::{SHIPROCKET_API, Shiprocket};
pub use tracking::{
    CourierEvent, TrackingParseError, TrackingUpdate, amazon_tracking, easypost_event,
    easypost_tracker, from_amazon_event_code, shiprocket_event, shiprocket_track,
};
pub use webhook::{sign_easypost, verify_easypost};
