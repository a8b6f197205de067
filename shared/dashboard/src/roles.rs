//! A dashboard user's role, and the API scopes it maps onto: the dashboard acts through the
//! merchant API with exactly these scopes, so a role can do in the dashboard what a key with
//! the same scopes can do, and nothing else.

use rc_orders::Scope;

/// What a user of a merchant's dashboard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Created with the account: everything, including users and the account's cancellation.
    Owner,
    /// Runs the account (settings, keys, connections, couriers) and its orders; opens buyer
    /// details for support, never exports them.
    Admin,
    /// Ships orders: orders, labels, stock, exports without PII; opens buyer details for
    /// support (a label or a delivery problem needs the address).
    Operator,
    /// Reads orders, stock and the privacy trail; never opens buyer details.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The API scopes the role acts with.
    pub fn scopes(self) -> Vec<Scope> {
        use Scope::*;
        match self {
            Self::Owner => Scope::ALL.to_vec(),
            Self::Admin => Scope::ALL
                .into_iter()
                .filter(|s| *s != ExportsPii)
                .collect(),
            Self::Operator => vec![
                OrdersRead,
                OrdersWrite,
                InventoryRead,
                InventoryWrite,
                PiiRead,
                ExportsCreate,
            ],
            Self::Viewer => vec![OrdersRead, InventoryRead, PrivacyRead],
        }
    }

    /// Whether the role manages the account's users (invite, change roles, remove).
    pub fn manages_users(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether a user of this role may give `other` to someone: never a role above one's own,
    /// and only the owner makes owners.
    pub fn may_grant(self, other: Role) -> bool {
        self.manages_users() && self <= other && (other != Role::Owner || self == Role::Owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_onto_scopes() {
        // (role, opens PII, exports PII, admin of the account, writes orders)
        let table = [
            (Role::Owner, true, true, true, true),
            (Role::Admin, true, false, true, true),
            (Role::Operator, true, false, false, true),
            (Role::Viewer, false, false, false, false),
        ];
        for (role, pii, export_pii, admin, write) in table {
            let scopes = role.scopes();
            assert_eq!(scopes.contains(&Scope::PiiRead), pii, "{role:?}");
            assert_eq!(scopes.contains(&Scope::ExportsPii), export_pii, "{role:?}");
            assert_eq!(scopes.contains(&Scope::AccountAdmin), admin, "{role:?}");
            assert_eq!(scopes.contains(&Scope::OrdersWrite), write, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Owner"), None);
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(Role::Owner.may_grant(Role::Viewer));
        assert!(Role::Admin.may_grant(Role::Admin));
        assert!(Role::Admin.may_grant(Role::Operator));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(!Role::Operator.may_grant(Role::Viewer));
        assert!(!Role::Viewer.may_grant(Role::Viewer));
    }
}
