//! Random ids for store keys (a connection's incarnation, an audit record's suffix).

use crate::RepoError;

/// `N` random bytes from the system's generator, as hex.
pub fn random_hex<const N: usize>() -> Result<String, RepoError> {
    let mut random = [0u8; N];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| RepoError::Vault(rc_vault::VaultError::Randomness))?;
    Ok(rc_domain::to_hex(&random))
}
