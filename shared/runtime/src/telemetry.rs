use tracing_subscriber::EnvFilter;

/// Wire-level logs of the AWS SDK and HTTP stacks print request and response bodies at TRACE
/// (a KMS `Decrypt` response body carries key material). They are capped whatever `RUST_LOG`
/// says; these more specific directives win over a global `trace`.
const WIRE_LOG_CAPS: [&str; 5] = [
    "aws_smithy_runtime=info",
    "aws_smithy_http_client=info",
    "aws_smithy_runtime_api=info",
    "hyper=info",
    "h2=info",
];

/// The log filter: `RUST_LOG` (default `info`) plus the wire-level caps.
pub fn log_filter() -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in WIRE_LOG_CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// JSON logs on stdout (CloudWatch parses them). Log lines carry ids and reasons only: PII cannot
/// reach them through our types.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter())
        .with_ansi(false)
        .with_current_span(false)
        .without_time()
        .try_init();
}
