use tracing::{Level, Metadata};
use tracing_subscriber::filter::{FilterFn, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Libraries that log payloads or credentials below INFO: the Lambda runtime prints every raw
/// event at TRACE (webhook bodies with buyer addresses, `Authorization` headers), the AWS SDKs
/// print request and response bodies (a KMS `Decrypt` response carries key material), `aws_sigv4`
/// prints the access key id and session token it signs with, and the HTTP stacks print what they
/// send. Every target starting with one of these is capped at INFO whatever `RUST_LOG` says,
/// however specific its directive: the cap is a separate filter, not a `RUST_LOG` directive a
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

/// The log filter: `RUST_LOG` (default `info`) as comma-separated `level` and `target=level`
/// directives. (`Targets`, not `EnvFilter`: span and field directives are not supported, and the
/// binaries do not link a regex engine for them.) An unreadable value means the default.
pub fn log_filter() -> Targets {
    log_filter_from(std::env::var("RUST_LOG").ok().as_deref())
}

fn log_filter_from(raw: Option<&str>) -> Targets {
    raw.map(str::trim)
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| raw.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
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
    fn rust_log_reads_levels_and_targets_and_falls_back_to_info() {
        let cases = [
            (None, "rc_orders", Level::INFO, true),
            (None, "rc_orders", Level::DEBUG, false),
            (Some(""), "rc_api", Level::DEBUG, false),
            (Some("trace"), "rc_api", Level::TRACE, true),
            (
                Some("rc_orders=debug,warn"),
                "rc_orders",
                Level::DEBUG,
                true,
            ),
            (Some("rc_orders=debug,warn"), "rc_api", Level::INFO, false),
            (Some("not a directive=="), "rc_api", Level::INFO, true),
        ];
        for (raw, target, level, enabled) in cases {
            assert_eq!(
                log_filter_from(raw).would_enable(target, &level),
                enabled,
                "{raw:?} {target} {level}"
            );
        }
    }

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
