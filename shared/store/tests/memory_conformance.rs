//! The conformance suite on the in-memory adapter.

use std::sync::Arc;

use rc_domain::ManualClock;
use rc_store::memory::MemoryStore;

async fn fresh_store(clock: Arc<ManualClock>) -> MemoryStore {
    MemoryStore::new(clock)
}

rc_store::conformance_suite!(fresh_store);
