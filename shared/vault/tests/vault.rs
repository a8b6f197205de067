//! The vault's guarantees, on the embedded key table with a file root, and against KMS in moto.

use std::sync::Arc;

use rc_domain::{
    Email, ManualClock, MerchantId, OrderId, Pii, PostalAddress, RevealPurpose, SealedField,
};
use rc_store::Store;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::{CachePolicy, FileRoot, KeySubject, KmsRoot, RootKey, Sealed, Vault, VaultError};
use time::Duration;

const CANARY_EMAIL: &str = "canary-vault-9x2@example.com";

struct Fixture {
    vault: Vault,
    keys: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(
        time::macros::datetime!(2026-11-01 00:00 UTC),
    ))
}

fn file_fixture(policy: CachePolicy) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root"));
    let clock = clock();
    let keys: Arc<dyn Store> = Arc::new(SqliteStore::new(
        EmbeddedDb::in_memory().expect("db"),
        "keys",
        clock.clone(),
    ));
    Fixture {
        vault: Vault::with_cache_policy(root, keys.clone(), clock.clone(), policy),
        keys,
        clock,
        _dir: dir,
    }
}

fn merchant(id: &str) -> MerchantId {
    MerchantId::parse(id).expect("valid")
}

fn order(id: &str) -> KeySubject {
    KeySubject::order(&OrderId::parse(id).expect("valid"))
}

fn email() -> Pii<Email> {
    Pii::new(Email::parse(CANARY_EMAIL).expect("valid"))
}

#[tokio::test]
async fn sealed_pii_round_trips() {
    let f = file_fixture(CachePolicy::default());
    let (m, o) = (merchant("m1"), order("o1"));
    let key = f.vault.key_for_sealing(&m, &o).await.expect("key");
    let sealed = key.seal(SealedField::Email, &email()).expect("seal");
    assert!(
        !sealed
            .as_bytes()
            .windows(CANARY_EMAIL.len())
            .any(|w| w == CANARY_EMAIL.as_bytes())
    );
    let again = f.vault.key_for_opening(&m, &o).await.expect("key");
    let opened: Pii<Email> = again.open(SealedField::Email, &sealed).expect("open");
    assert_eq!(
        opened.reveal(RevealPurpose::Verification).as_str(),
        CANARY_EMAIL
    );

    let address = PostalAddress::parse(
        Some("Zed"),
        None,
        "1 Main St",
        None,
        "Town",
        Some("CA"),
        None,
        "US",
    )
    .expect("valid");
    let sealed = key
        .seal(SealedField::ShippingAddress, &Pii::new(address))
        .expect("seal");
    let opened: Pii<PostalAddress> = key
        .open(SealedField::ShippingAddress, &sealed)
        .expect("open");
    assert_eq!(opened.reveal(RevealPurpose::Verification).city, "Town");
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_order_merchant_or_field_does_not_open() {
    let f = file_fixture(CachePolicy::default());
    let (m1, m2) = (merchant("m1"), merchant("m2"));
    let sealed = f
        .vault
        .key_for_sealing(&m1, &order("o1"))
        .await
        .expect("key")
        .seal(SealedField::Email, &email())
        .expect("seal");

    let other_order = f
        .vault
        .key_for_sealing(&m1, &order("o2"))
        .await
        .expect("key");
    let other_tenant = f
        .vault
        .key_for_sealing(&m2, &order("o1"))
        .await
        .expect("key");
    let same_key = f
        .vault
        .key_for_opening(&m1, &order("o1"))
        .await
        .expect("key");
    for (what, result) in [
        (
            "other order",
            other_order.open::<Email>(SealedField::Email, &sealed),
        ),
        (
            "other merchant",
            other_tenant.open::<Email>(SealedField::Email, &sealed),
        ),
        (
            "other field",
            same_key.open::<Email>(SealedField::Phone, &sealed),
        ),
    ] {
        assert!(
            matches!(result, Err(VaultError::Tampered)),
            "{what}: {result:?}"
        );
    }
}

#[tokio::test]
async fn any_flipped_byte_fails_to_open() {
    let f = file_fixture(CachePolicy::default());
    let key = f
        .vault
        .key_for_sealing(&merchant("m1"), &order("o1"))
        .await
        .expect("key");
    let sealed = key.seal(SealedField::Email, &email()).expect("seal");
    let bytes = sealed.as_bytes().to_vec();
    for position in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut flipped = bytes.clone();
            flipped[position] ^= bit;
            let outcome =
                Sealed::from_bytes(flipped).and_then(|s| key.open::<Email>(SealedField::Email, &s));
            assert!(outcome.is_err(), "flip at byte {position} opened");
        }
    }
    for cut in 0..bytes.len() {
        let truncated = Sealed::from_bytes(bytes[..cut].to_vec())
            .and_then(|s| key.open::<Email>(SealedField::Email, &s));
        assert!(truncated.is_err(), "truncated to {cut} bytes opened");
    }
}

#[tokio::test]
async fn a_destroyed_order_key_leaves_its_values_unreadable_and_others_intact() {
    let f = file_fixture(CachePolicy::default());
    let m = merchant("m1");
    let sealed = f
        .vault
        .key_for_sealing(&m, &order("gone"))
        .await
        .expect("key")
        .seal(SealedField::Email, &email())
        .expect("seal");
    let kept = f
        .vault
        .key_for_sealing(&m, &order("kept"))
        .await
        .expect("key")
        .seal(SealedField::Email, &email())
        .expect("seal");
    f.vault
        .destroy_subject_key(&m, &order("gone"))
        .await
        .expect("destroy");
    f.vault
        .destroy_subject_key(&m, &order("gone"))
        .await
        .expect("destroying twice is fine");

    let result = f.vault.key_for_opening(&m, &order("gone")).await;
    assert!(
        matches!(result, Err(VaultError::KeyDestroyed)),
        "{:?}",
        result.err()
    );
    let kept_key = f
        .vault
        .key_for_opening(&m, &order("kept"))
        .await
        .expect("key");
    assert!(kept_key.open::<Email>(SealedField::Email, &kept).is_ok());
    drop(sealed);
}

#[tokio::test]
async fn destroying_a_merchant_makes_all_its_values_unreadable_even_to_a_fresh_process() {
    let f = file_fixture(CachePolicy::default());
    let (m, other) = (merchant("leaving"), merchant("staying"));
    for i in 0..620 {
        f.vault
            .key_for_sealing(&m, &order(&format!("o{i}")))
            .await
            .expect("key");
    }
    let kept = f
        .vault
        .key_for_sealing(&other, &order("o1"))
        .await
        .expect("key");
    let kept_value = kept.seal(SealedField::Email, &email()).expect("seal");

    assert_eq!(
        f.vault.destroy_merchant_keys(&m).await.expect("destroy"),
        620
    );
    assert_eq!(f.vault.destroy_merchant_keys(&m).await.expect("again"), 0);

    let result = f.vault.key_for_opening(&m, &order("o7")).await;
    assert!(
        matches!(result, Err(VaultError::KeyDestroyed)),
        "{:?}",
        result.err()
    );
    let left = f
        .keys
        .query_partition("MERCHANT#leaving", "", 10, None)
        .await
        .expect("query");
    assert_eq!(left.items.len(), 1, "only the tombstone remains");
    assert!(left.items[0].bytes("wrapped").is_none(), "no key material");
    let sealing = f.vault.key_for_sealing(&m, &order("new")).await;
    assert!(
        matches!(sealing, Err(VaultError::MerchantClosed)),
        "a closed merchant never gets a new key: {:?}",
        sealing.err()
    );
    let reopened = f
        .vault
        .key_for_opening(&other, &order("o1"))
        .await
        .expect("key");
    assert!(
        reopened
            .open::<Email>(SealedField::Email, &kept_value)
            .is_ok()
    );
}

#[tokio::test]
async fn order_keys_carry_a_ttl_backstop_past_every_deadline() {
    let f = file_fixture(CachePolicy::default());
    let m = merchant("ttl");
    f.vault
        .key_for_sealing(&m, &order("o1"))
        .await
        .expect("key");
    let item = f
        .keys
        .query_partition("MERCHANT#ttl", "DEK#", 10, None)
        .await
        .expect("query")
        .items
        .remove(0);
    let made = item.number("created_at").expect("created");
    assert_eq!(
        item.expires_at,
        Some(made + 97 * 86_400),
        "placed + 90 days + a week"
    );
}

#[tokio::test]
async fn one_root_call_serves_a_thousand_orders_within_the_cache_lifetime() {
    let f = file_fixture(CachePolicy::default());
    let m = merchant("busy");
    for i in 0..1000 {
        f.vault
            .key_for_sealing(&m, &order(&format!("o{i}")))
            .await
            .expect("key");
    }
    assert_eq!(
        f.vault.root_calls(),
        1,
        "the merchant key is created once and cached"
    );
}

#[tokio::test]
async fn concurrent_first_orders_of_a_merchant_make_one_root_call() {
    let f = Arc::new(file_fixture(CachePolicy::default()));
    let m = merchant("new");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (f, m) = (f.clone(), m.clone());
            tokio::spawn(async move {
                f.vault
                    .key_for_sealing(&m, &order(&format!("o{i}")))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join").expect("key");
    }
    assert_eq!(f.vault.root_calls(), 1);
}

#[tokio::test]
async fn the_key_cache_is_bounded_in_time_and_uses() {
    let f = file_fixture(CachePolicy {
        max_age: Duration::minutes(5),
        max_uses: 10,
    });
    let m = merchant("m1");
    for i in 0..25 {
        f.vault
            .key_for_sealing(&m, &order(&format!("o{i}")))
            .await
            .expect("key");
    }
    assert_eq!(f.vault.root_calls(), 3, "10 uses per unwrap");

    let g = file_fixture(CachePolicy::default());
    g.vault.key_for_sealing(&m, &order("a")).await.expect("key");
    g.clock.advance(Duration::minutes(4));
    g.vault.key_for_sealing(&m, &order("b")).await.expect("key");
    assert_eq!(g.vault.root_calls(), 1);
    g.clock.advance(Duration::minutes(2));
    g.vault.key_for_sealing(&m, &order("c")).await.expect("key");
    assert_eq!(g.vault.root_calls(), 2, "expired after 5 minutes");
}

#[tokio::test]
async fn the_root_key_file_is_created_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/root.key");
    let m = merchant("m1");
    let first = FileRoot::open_or_create(&path).expect("create");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (_, wrapped) = first.new_merchant_key(&m).await.expect("wrap");
    let second = FileRoot::open_or_create(&path).expect("reopen");
    assert!(second.unwrap_merchant_key(&m, &wrapped).await.is_ok());
    let wrong_merchant = second.unwrap_merchant_key(&merchant("m2"), &wrapped).await;
    assert!(matches!(wrong_merchant, Err(VaultError::RootKeyRefused)));
}

#[test]
fn a_corrupt_or_exposed_root_key_file_is_refused_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("root.key");
    FileRoot::open_or_create(&path).expect("create");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let exposed = FileRoot::open_or_create(&path).err().expect("refused");
    assert!(
        exposed.to_string().contains("readable by other users"),
        "{exposed}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(20);
    std::fs::write(&path, &bytes).expect("write");
    let truncated = FileRoot::open_or_create(&path).err().expect("refused");
    assert!(
        truncated.to_string().contains("wrong length"),
        "{truncated}"
    );

    std::fs::write(&path, b"not a key at all, just text....................").expect("write");
    let garbage = FileRoot::open_or_create(&path).err().expect("refused");
    assert!(garbage.to_string().contains("bad header"), "{garbage}");
}

#[tokio::test]
async fn keys_wrapped_by_another_root_are_refused_not_misused() {
    let f = file_fixture(CachePolicy::default());
    let m = merchant("m1");
    f.vault
        .key_for_sealing(&m, &order("o1"))
        .await
        .expect("key");
    let dir = tempfile::tempdir().expect("tempdir");
    let other_root = Arc::new(FileRoot::open_or_create(&dir.path().join("k")).expect("root"));
    let stranger = Vault::new(other_root, f.keys.clone(), f.clock.clone());
    let result = stranger.key_for_opening(&m, &order("o1")).await;
    assert!(
        matches!(result, Err(VaultError::RootKeyRefused)),
        "{:?}",
        result.err()
    );
}

// ---- KMS (moto) ----

async fn kms() -> aws_sdk_kms::Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the README's test command"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_kms::Client::new(&config)
}

async fn kms_root() -> (KmsRoot, aws_sdk_kms::Client, String) {
    let client = kms().await;
    let key_id = client
        .create_key()
        .description("rc-vault-test")
        .send()
        .await
        .expect("create key")
        .key_metadata
        .expect("metadata")
        .key_id;
    (KmsRoot::new(client.clone(), key_id.clone()), client, key_id)
}

#[tokio::test]
async fn kms_wraps_merchant_keys_bound_to_the_merchant() {
    let (root, _, _) = kms_root().await;
    let m = merchant("m1");
    let (_, wrapped) = root.new_merchant_key(&m).await.expect("generate");
    root.unwrap_merchant_key(&m, &wrapped)
        .await
        .expect("unwrap under the right context");
    let clock = clock();
    let keys: Arc<dyn Store> = Arc::new(SqliteStore::new(
        EmbeddedDb::in_memory().expect("db"),
        "keys",
        clock.clone(),
    ));

    let wrong_context = root.unwrap_merchant_key(&merchant("m2"), &wrapped).await;
    assert!(
        matches!(wrong_context, Err(VaultError::RootKeyRefused)),
        "{:?}",
        wrong_context.err()
    );

    let vault = Vault::new(Arc::new(root), keys.clone(), clock.clone());
    let sealed = vault
        .key_for_sealing(&m, &order("o1"))
        .await
        .expect("key")
        .seal(SealedField::Email, &email())
        .expect("seal");
    let (second_root, _, _) = kms_root().await;
    let other_kms_key = Vault::new(Arc::new(second_root), keys, clock);
    let result = other_kms_key.key_for_opening(&m, &order("o1")).await;
    assert!(result.is_err(), "another KMS key must not unwrap it");
    drop(sealed);
}

#[tokio::test]
async fn kms_calls_for_a_thousand_orders_of_one_merchant() {
    let (root, client, key_id) = kms_root().await;
    let clock = clock();
    let keys: Arc<dyn Store> = Arc::new(SqliteStore::new(
        EmbeddedDb::in_memory().expect("db"),
        "keys",
        clock.clone(),
    ));
    let vault = Vault::new(Arc::new(root), keys.clone(), clock.clone());
    let m = merchant("busy");
    for i in 0..1000 {
        vault
            .key_for_sealing(&m, &order(&format!("o{i}")))
            .await
            .expect("key");
    }
    assert_eq!(
        vault.root_calls(),
        1,
        "one GenerateDataKey for 1,000 orders"
    );

    // A new process (cold cache) opening all 1,000 makes one Decrypt.
    let cold = Vault::new(Arc::new(KmsRoot::new(client, key_id)), keys, clock);
    for i in 0..1000 {
        cold.key_for_opening(&m, &order(&format!("o{i}")))
            .await
            .expect("key");
    }
    assert_eq!(cold.root_calls(), 1);
}

#[tokio::test]
async fn an_unknown_kms_key_is_a_clear_error() {
    let root = KmsRoot::new(kms().await, "alias/does-not-exist");
    let result = root.new_merchant_key(&merchant("m1")).await;
    match result {
        Err(VaultError::RootKeyUnavailable(reason)) => {
            assert!(reason.contains("NotFound"), "{reason}")
        }
        other => panic!("expected RootKeyUnavailable, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn an_unreachable_kms_is_a_clear_retryable_error() {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "a", "b", None, None, "test",
        ))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    let root = KmsRoot::new(aws_sdk_kms::Client::from_conf(config), "alias/anything");
    let result = root.new_merchant_key(&merchant("m1")).await;
    assert!(
        matches!(result, Err(VaultError::RootKeyUnavailable(_))),
        "{:?}",
        result.err()
    );
}
