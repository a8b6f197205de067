//! Verifying courier webhooks before anything in them is believed.
//!
//! EasyPost signs each event with `X-Hmac-Signature: hmac-sha256-hex=<lower-case hex>`, the
//! HMAC-SHA256 of the raw body under the webhook secret — the secret NFKD-normalized and UTF-8
//! encoded first (so `é` typed as one code point or as `e` + accent gives the same key). The
//! comparison is constant-time; a missing or malformed header is a refusal.

use aws_lc_rs::hmac;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

const PREFIX: &str = "hmac-sha256-hex=";

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn key(secret: &str) -> hmac::Key {
    let key = Zeroizing::new(secret.nfkd().collect::<String>());
    hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes())
}

/// The `X-Hmac-Signature` value EasyPost sends with `body` under `secret` (what the local
/// sandbox courier signs its notifications with, as EasyPost does).
pub fn sign_easypost(secret: &str, body: &[u8]) -> String {
    let tag = hmac::sign(&key(secret), body);
    format!("{PREFIX}{}", rc_domain::to_hex(tag.as_ref()))
}

/// Whether `header` (the `X-Hmac-Signature` value) signs `body` under `secret`.
pub fn verify_easypost(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(signature) = header
        .and_then(|h| h.trim().strip_prefix(PREFIX))
        .and_then(unhex)
    else {
        return false;
    };
    // `verify` compares in constant time.
    hmac::verify(&key(secret), body, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = include_bytes!("../fixtures/easypost-event-body.json");
    const SIGNATURE: &str =
        "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db";

    #[test]
    fn easypost_known_answer_vector() {
        assert_eq!(
            BODY.len(),
            3550,
            "the vector's body, without a trailing newline"
        );
        // "sécret" with é as one code point: NFKD makes it e + U+0301, as EasyPost signs.
        assert!(verify_easypost("s\u{e9}cret", BODY, Some(SIGNATURE)));
        assert!(verify_easypost("se\u{301}cret", BODY, Some(SIGNATURE)));
        assert_eq!(sign_easypost("s\u{e9}cret", BODY), SIGNATURE);
    }

    #[test]
    fn anything_else_is_refused() {
        let mut tampered = BODY.to_vec();
        tampered[100] ^= 1;
        let upper = SIGNATURE.to_uppercase().replace("HMAC-SHA256-HEX=", PREFIX);
        let cases: [(&str, &[u8], Option<&str>); 6] = [
            ("s\u{e9}cret", &tampered, Some(SIGNATURE)),
            ("secret", BODY, Some(SIGNATURE)),
            ("s\u{e9}cret", BODY, None),
            (
                "s\u{e9}cret",
                BODY,
                Some("38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"),
            ),
            ("s\u{e9}cret", BODY, Some("hmac-sha256-hex=38f3")),
            ("s\u{e9}cret", BODY, Some("hmac-sha256-hex=zz")),
        ];
        for (secret, body, header) in cases {
            assert!(!verify_easypost(secret, body, header), "{header:?}");
        }
        // Hex digits in upper case are the same bytes.
        assert!(verify_easypost("s\u{e9}cret", BODY, Some(&upper)));
    }
}
