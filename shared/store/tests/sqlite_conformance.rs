//! The conformance suite on the embedded adapter.

use std::sync::Arc;

use rc_domain::ManualClock;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};

async fn fresh_store(clock: Arc<ManualClock>) -> SqliteStore {
    let db = EmbeddedDb::in_memory().expect("in-memory database");
    SqliteStore::new(db, "data", clock)
}

rc_store::conformance_suite!(fresh_store);

#[tokio::test]
async fn logical_tables_in_one_file_do_not_see_each_other() {
    use rc_store::{Item, ItemKey, ItemReader, ItemWriter};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = EmbeddedDb::open(&dir.path().join("rc.db")).expect("open");
    let clock = Arc::new(rc_store::conformance::start_clock());
    let data = SqliteStore::new(db.clone(), "data", clock.clone());
    let keys = SqliteStore::new(db, "keys", clock);
    data.create(Item::new(ItemKey::new("A", "1")))
        .await
        .expect("create");
    assert!(
        keys.get(&ItemKey::new("A", "1"))
            .await
            .expect("get")
            .is_none()
    );
}
