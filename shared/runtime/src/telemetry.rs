use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Libraries that log payloads or credentials below INFO: the Lambda runtime prints every raw
/// event at TRACE (webhook bodies with buyer addresses, `Authorization` headers), the AWS SDKs
/// print request and response bodies (a KMS `Decrypt` response carries key material), `aws_sigv4`
/// prints the access key id and session token it signs with, and the HTTP stacks print what they
/// send. Every target starting with one of these is capped at INFO whatever `RUST_LOG` says,
/// however specific its directive: the cap is a separate filter, not an `EnvFilter` directive a
/// more specific one could outrank.
const CAPPED_TARGETS: [&str; 10] = [
    "lambda_runtime",
    "aws_",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "http_body",
    "tokio_util",
    "want",
];

/// Whether a log event may pass the payload caps.
pub fn passes_caps(metadata: &Metadata<'_>) -> bool {
    passes(metadata.target(), *metadata.level())
}

/// The cap as a rule on a target and a level.
fn passes(target: &str, level: Level) -> bool {
    level <= Level::INFO
        || !CAPPED_TARGETS
            .iter()
            .any(|prefix| target.starts_with(prefix))
}

/// The log filter: `RUST_LOG` (default `info`).
pub fn log_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON logs, filtered by `RUST_LOG` and the payload caps, written by `writer`.
pub fn log_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .with_ansi(false)
        .with_current_span(false)
        .without_time()
        .with_writer(writer)
        .with_filter(log_filter())
        .with_filter(FilterFn::new(passes_caps))
}

/// JSON logs on stdout (CloudWatch parses them). Log lines carry ids and reasons only: PII cannot
/// reach them through our types, and libraries that print payloads are capped.
pub fn init_tracing() {
    let _ = tracing_subscriber::registry()
        .with(log_layer(std::io::stdout))
        .try_init();
}

/// As [`init_tracing`], on standard error: for commands whose standard output is their report.
pub fn init_tracing_to_stderr() {
    let _ = tracing_subscriber::registry()
        .with(log_layer(std::io::stderr))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_logging_libraries_are_capped_at_info_and_ours_are_not() {
        let cases = [
            ("lambda_runtime::layers::api_response", Level::TRACE, false),
            ("lambda_runtime_api_client", Level::DEBUG, false),
            ("aws_sigv4::http_request::sign", Level::TRACE, false),
            ("aws_config::profile", Level::DEBUG, false),
            ("aws_smithy_runtime::client", Level::TRACE, false),
            ("hyper_util::client", Level::TRACE, false),
            ("reqwest::connect", Level::DEBUG, false),
            ("aws_sdk_kms::operation", Level::INFO, true),
            ("lambda_runtime", Level::WARN, true),
            ("rc_api::merchant_api", Level::TRACE, true),
            ("rc_orders", Level::DEBUG, true),
        ];
        for (target, level, expected) in cases {
            assert_eq!(passes(target, level), expected, "{target} {level}");
        }
    }
}
