//! Couriers: the label port ([`LabelPurchaser`]) and the courier APIs behind it. One client per
//! API; the label generator holds `Arc<dyn LabelPurchaser>` per courier kind and never sees a
//! URL, a body or a status.
//!
//! | courier | client | idempotency |
//! | --- | --- | --- |
//! | EasyPost | [`EasyPost`] at `https://api.easypost.com/v2` | none: the `shp_…` id is the dedupe key |
//! | sandbox (local host) | [`EasyPost`] at the local host's `/sandbox/courier/v2` | as EasyPost |

mod easypost;
mod port;

pub use easypost::{EASYPOST_API, EasyPost, MAX_LABEL_BYTES};
pub use port::{
    CourierCredentials, CourierError, CourierShipment, LabelDocument, LabelFormat, LabelPurchaser,
    LabelRequest, LabelSource, Lookup, Purchase, Quote, Recipient, Sender, VoidOutcome,
};
