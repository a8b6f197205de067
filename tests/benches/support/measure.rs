//! What the benches measure with: percentiles of sorted latencies, and the calling thread's own
//! CPU time.

#![allow(dead_code)]

use std::time::Duration;

/// The `p` percentile (0 to 1) of `sorted`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// This thread's CPU time so far (`/proc/thread-self/schedstat`: updated at scheduler events,
/// so read it over many iterations).
pub fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}
