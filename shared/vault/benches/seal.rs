//! Sealing and opening one order's PII (name, email, phone, shipping and billing address).
//!
//!   cargo bench -p rc-vault --bench seal
//!
//! `seal_order_pii` / `open_order_pii` are the AES-256-GCM work alone, with the order's data key
//! in hand; `key_and_seal_new_order` adds creating the order's data key (random key, wrap under
//! the cached merchant key, one conditional write to an in-memory key table).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use rc_domain::{
    BuyerName, Email, MerchantId, OrderId, Phone, Pii, PostalAddress, SealedField, SystemClock,
};
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::{FileRoot, KeySubject, Sealed, SubjectKey, Vault};

struct Buyer {
    name: Pii<BuyerName>,
    email: Pii<Email>,
    phone: Pii<Phone>,
    shipping: Pii<PostalAddress>,
    billing: Pii<PostalAddress>,
}

fn buyer() -> Buyer {
    let address = || {
        PostalAddress::parse(
            Some("Steve Shipper"),
            Some("Shipping Company"),
            "123 Shipping Street",
            Some("Suite 400"),
            "Shippington",
            Some("KY"),
            Some("40003"),
            "US",
        )
        .expect("valid")
    };
    Buyer {
        name: Pii::new(BuyerName::parse("John Smith").expect("valid")),
        email: Pii::new(Email::parse("john@example.com").expect("valid")),
        phone: Pii::new(Phone::parse("+1 555 010 9999").expect("valid")),
        shipping: Pii::new(address()),
        billing: Pii::new(address()),
    }
}

fn seal_all(key: &SubjectKey, b: &Buyer) -> [Sealed; 5] {
    [
        key.seal(SealedField::BuyerName, &b.name).expect("seal"),
        key.seal(SealedField::Email, &b.email).expect("seal"),
        key.seal(SealedField::Phone, &b.phone).expect("seal"),
        key.seal(SealedField::ShippingAddress, &b.shipping)
            .expect("seal"),
        key.seal(SealedField::BillingAddress, &b.billing)
            .expect("seal"),
    ]
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let clock = Arc::new(SystemClock);
    let keys = Arc::new(SqliteStore::new(
        EmbeddedDb::in_memory().expect("db"),
        "keys",
        clock.clone(),
    ));
    let vault = Vault::new(root, keys, clock);
    let merchant = MerchantId::parse("bench-merchant").expect("id");
    let subject = KeySubject::order(&OrderId::parse("bench-order").expect("id"));
    let key = runtime
        .block_on(vault.key_for_sealing(&merchant, &subject))
        .expect("key");
    let b = buyer();

    c.bench_function("seal_order_pii", |bench| bench.iter(|| seal_all(&key, &b)));

    let sealed = seal_all(&key, &b);
    c.bench_function("open_order_pii", |bench| {
        bench.iter(|| {
            let _: Pii<BuyerName> = key.open(SealedField::BuyerName, &sealed[0]).expect("open");
            let _: Pii<Email> = key.open(SealedField::Email, &sealed[1]).expect("open");
            let _: Pii<Phone> = key.open(SealedField::Phone, &sealed[2]).expect("open");
            let _: Pii<PostalAddress> = key
                .open(SealedField::ShippingAddress, &sealed[3])
                .expect("open");
            let _: Pii<PostalAddress> = key
                .open(SealedField::BillingAddress, &sealed[4])
                .expect("open");
        })
    });

    let next = AtomicU64::new(0);
    c.bench_function("key_and_seal_new_order", |bench| {
        bench.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let subject = KeySubject::order(&OrderId::parse(&format!("o{n}")).expect("id"));
            let key = runtime
                .block_on(vault.key_for_sealing(&merchant, &subject))
                .expect("key");
            seal_all(&key, &b)
        })
    });
}

criterion_group!(seal, benches);
criterion_main!(seal);
