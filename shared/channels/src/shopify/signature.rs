//! `X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw request body, keyed with the app's
//! client secret. Verified in constant time over the raw bytes, before any parsing.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rc_domain::{RevealPurpose, Secret, SecretText};

/// An HMAC-SHA256 key from a Shopify secret (webhooks and OAuth callbacks use the same).
pub(crate) fn key(secret: &Secret<SecretText>) -> hmac::Key {
    hmac::Key::new(
        hmac::HMAC_SHA256,
        secret
            .reveal(RevealPurpose::Authentication)
            .as_str()
            .as_bytes(),
    )
}

/// The header value Shopify would send for `body` signed with `secret`.
pub fn sign(secret: &Secret<SecretText>, body: &[u8]) -> String {
    STANDARD.encode(hmac::sign(&key(secret), body).as_ref())
}

/// Whether `header` is a valid signature of `body` under any of `secrets` (the current one and,
/// during a rotation, the previous one).
pub fn verify(secrets: &[Secret<SecretText>], body: &[u8], header: &str) -> bool {
    let Ok(tag) = STANDARD.decode(header.trim()) else {
        return false;
    };
    // Every secret is tried, so timing does not reveal which one matched.
    secrets.iter().fold(false, |matched, secret| {
        hmac::verify(&key(secret), body, &tag).is_ok() | matched
    })
}

/// Checks `header` against a throwaway key and discards the answer: the same work as
/// [`verify`] with one secret, so a request for a shop we do not know takes as long as one with
/// a bad signature.
pub fn verify_for_nobody(body: &[u8], header: &str) {
    let Ok(tag) = STANDARD.decode(header.trim()) else {
        return;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"no shop is connected under this name");
    let _ = hmac::verify(&key, body, &tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<SecretText> {
        Secret::new(SecretText::parse(s).expect("valid"))
    }

    #[test]
    fn a_signature_verifies_only_for_its_body_and_secret() {
        let body = br#"{"id":1}"#;
        let header = sign(&secret("hush"), body);
        assert!(verify(&[secret("hush")], body, &header));
        assert!(
            verify(&[secret("new"), secret("hush")], body, &header),
            "rotation window"
        );
        assert!(!verify(&[secret("other")], body, &header));
        assert!(!verify(&[secret("hush")], br#"{"id":2}"#, &header));
        assert!(!verify(&[secret("hush")], body, "not base64!"));
        assert!(!verify(&[secret("hush")], body, ""));
        assert!(!verify(&[], body, &header));
    }

    #[test]
    fn signatures_match_the_documented_algorithm() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231 style
        // known answer, base64 encoded.
        let header = sign(
            &secret("key"),
            b"The quick brown fox jumps over the lazy dog",
        );
        assert_eq!(header, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    }
}
