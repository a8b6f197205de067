//! The merchant dashboard: server-rendered pages over the merchant API, for a merchant's staff
//! signed in with a password, with exactly two cookies (the session and the display
//! preferences) and no third-party origin anywhere.
//!
//! - [`roles`]: owner, admin, operator, viewer, and the API scopes each acts with.
//! - [`password`]: Argon2id hashes and the password rules.
//! - [`users`]: the merchant's users (in the merchant's partition; e-mails sealed).
//! - [`sessions`]: server-side sessions with idle and absolute time-outs.
//! - [`throttle`]: sign-in attempts per e-mail and per client address.
//! - [`cookies`]: the two cookies.
//! - [`pages`]: the templates and formatting.
//! - [`app`]: the HTTP handler (`/app/...`), the same in the Lambda function and the local host.

pub mod app;
pub mod cookies;
pub mod pages;
pub mod password;
pub mod roles;
pub mod sessions;
pub mod throttle;
pub mod users;

pub use app::{ClientAddress, Dashboard};
pub use password::Password;
pub use roles::Role;
pub use sessions::SessionRepository;
pub use throttle::SignInThrottle;
pub use users::{User, UserError, UserRepository, user_id};
