//! Passwords: taken only in a type that cannot be printed or serialized, hashed with Argon2id
//! at OWASP's parameters (19 MiB, 2 passes, 1 lane) with a random 16-byte salt, stored as the
//! PHC string, and compared by the maintained `argon2` crate.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

/// The shortest password accepted (NIST SP 800-63B asks for at least 8; a merchant's account
/// opens buyer data, so more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (Argon2 takes any length; this bounds the work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A password as typed: no `Debug`, no `Serialize`, zeroed on drop.
pub struct Password(Zeroizing<String>);

/// Why a new password is refused (says nothing of the password itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
}

impl PasswordProblem {
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
        }
    }
}

impl Password {
    /// A password presented at sign-in: anything up to the longest (checked against the hash).
    pub fn presented(raw: String) -> Option<Self> {
        (raw.chars().count() <= MAX_PASSWORD_CHARS).then(|| Self(Zeroizing::new(raw)))
    }

    /// A new password: 12 to 128 characters.
    pub fn new_password(raw: String) -> Result<Self, PasswordProblem> {
        let chars = raw.chars().count();
        let raw = Zeroizing::new(raw);
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordProblem::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordProblem::TooLong);
        }
        Ok(Self(raw))
    }

    /// A random password (24 characters of a 57-letter alphabet with no look-alikes: 140 bits),
    /// shown once to whoever creates a user, who changes it at first sign-in.
    pub fn random() -> Result<(Self, Zeroizing<String>), rc_orders::RepoError> {
        const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut bytes = Zeroizing::new([0u8; 24]);
        aws_lc_rs::rand::fill(bytes.as_mut())
            .map_err(|_| rc_orders::RepoError::Corrupt("randomness"))?;
        // 256 is not a multiple of 57: the bias (under 0.4 %) costs a fraction of a bit.
        let text: String = bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        Ok((Self(Zeroizing::new(text.clone())), Zeroizing::new(text)))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn hasher() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash(password: &Password) -> Result<String, rc_orders::RepoError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| rc_orders::RepoError::Corrupt("randomness"))?;
    hasher()
        .hash_password_with_salt(password.bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| rc_orders::RepoError::Corrupt("password hash"))
}

/// Whether `password` is the one `phc` was made from (a malformed hash is no match).
pub fn verify(password: &Password, phc: &str) -> bool {
    hasher().verify_password(password.bytes(), phc).is_ok()
}

/// Spends the time a verification takes, for a user who does not exist: an unknown e-mail
/// answers as slowly as a wrong password, so timing does not tell which.
pub fn verify_nobody(password: &Password) {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        hash(&Password(Zeroizing::new(
            "decoy password for timing".into(),
        )))
        .unwrap_or_default()
    });
    let _ = verify(password, decoy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let password = Password::new_password("correct horse battery".into()).expect("long enough");
        let phc = hash(&password).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(&password, &phc));
        let other = Password::presented("correct horse battery!".into()).expect("presented");
        assert!(!verify(&other, &phc));
        assert!(!verify(&password, "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(phc, hash(&password).expect("hash"));
    }

    #[test]
    fn new_passwords_have_a_length_rule() {
        let cases = [
            ("short", Err(PasswordProblem::TooShort)),
            ("eleven char", Err(PasswordProblem::TooShort)),
            ("twelve chars", Ok(())),
            ("ünïcödé pässwörd", Ok(())),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Password::new_password(raw.into()).map(|_| ()),
                expected,
                "{raw}"
            );
        }
        assert_eq!(
            Password::new_password("x".repeat(129)).map(|_| ()),
            Err(PasswordProblem::TooLong)
        );
        assert!(Password::presented("x".repeat(129)).is_none());
        let (random, shown) = Password::random().expect("random");
        assert_eq!(shown.len(), 24);
        assert!(verify(&random, &hash(&random).expect("hash")));
    }
}
