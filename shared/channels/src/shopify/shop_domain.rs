use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shop domain must look like name.myshopify.com")]
pub struct ShopDomainError;

/// A shop's permanent `*.myshopify.com` domain (what `X-Shopify-Shop-Domain` carries).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopDomain(String);

const SUFFIX: &str = ".myshopify.com";

impl ShopDomain {
    pub fn parse(raw: &str) -> Result<Self, ShopDomainError> {
        let domain = raw.trim().to_ascii_lowercase();
        let name = domain.strip_suffix(SUFFIX).ok_or(ShopDomainError)?;
        let valid = !name.is_empty()
            && name.len() <= 60
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(domain))
        } else {
            Err(ShopDomainError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_myshopify_domains_are_shops() {
        assert_eq!(
            ShopDomain::parse("Demo-Shop.myshopify.com").map(|d| d.to_string()),
            Ok("demo-shop.myshopify.com".into())
        );
        assert!(ShopDomain::parse("evil.com").is_err());
        assert!(ShopDomain::parse(".myshopify.com").is_err());
        assert!(ShopDomain::parse("a_b.myshopify.com").is_err());
        assert!(ShopDomain::parse("a.b.myshopify.com").is_err());
    }
}
