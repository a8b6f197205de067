//! Inventory: stock per SKU × warehouse with a ledger of every change, kits, atomic order
//! reservations (never oversold, never negative) and available-to-sell per channel.

mod availability;
mod error;
pub(crate) mod keys;
mod ledger;
mod listings;
mod model;
mod parcels;
mod removal;
mod reservations;
mod routing_settings;
mod stock;
mod warehouses;

pub use availability::ChannelAllocation;
pub use error::InventoryError;
pub use ledger::{LedgerEntry, StockChange};
pub use listings::{Listing, ListingRepository, ListingTarget, PendingFeed};
pub use model::{Adjustment, KitComponent, MAX_KIT_COMPONENTS, MAX_UNITS, StockLevel};
pub use reservations::{
    Allocation, MAX_STOCK_ITEMS_PER_ORDER, Reservation, ReservationState, Reservations,
    RouteRequest, RoutedShipment, RoutingDecision, Shortfall,
};
pub use routing_settings::RoutingRepository;
pub use stock::StockRepository;
pub use warehouses::{InUse, WarehouseRepository};
