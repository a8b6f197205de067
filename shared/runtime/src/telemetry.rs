use tracing_subscriber::EnvFilter;

/// JSON logs on stdout (CloudWatch parses them), level from `RUST_LOG` (default `info`).
/// Log lines carry ids and reasons only: PII cannot reach them through our types.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_current_span(false)
        .without_time()
        .try_init();
}
