//! Cold start of the real function binaries, measured from outside against a reference binary
//! (`reference-lambda`: a bare Lambda runtime with `aws-config` and the same AWS SDK clients).
//!
//!   cargo build --release --bins && cargo bench -p rc-e2e --bench cold_start
//!
//! An in-process server speaks the Lambda Runtime API. For each binary, 20 times: spawn it with a
//! Lambda environment, and time **exec → ready** (spawn to its first `GET .../invocation/next`:
//! configuration, client construction, runtime start — what a cold start costs before the first
//! event). HTTP and SQS functions then get one event that needs no AWS call (an unsigned webhook,
//! a request without an API key, a malformed message) and the time to their answer is the **first
//! invocation**; scheduled ones would call AWS, so they are measured to ready only. Peak RSS is
//! read from `/proc` once the process is idle again. Every AWS endpoint points at a closed local
//! port: nothing leaves the machine.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

const RUNS: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Http,
    Sqs,
    Schedule,
}

/// (binary, what triggers it). The reference answers any event.
const BINARIES: [(&str, Kind); 12] = [
    ("reference-lambda", Kind::Http),
    ("shopify-webhook", Kind::Http),
    ("merchant-api", Kind::Http),
    ("amazon-notifications", Kind::Sqs),
    ("order-processor", Kind::Sqs),
    ("reconciler", Kind::Schedule),
    ("purger", Kind::Schedule),
    ("inventory-sync", Kind::Schedule),
    ("label-generator", Kind::Sqs),
    ("courier-webhook", Kind::Http),
    ("fulfillment-worker", Kind::Sqs),
    ("tracking-poller", Kind::Schedule),
];

fn event(kind: Kind) -> String {
    match kind {
        Kind::Http => {
            let mut event: serde_json::Value =
                serde_json::from_str(include_str!("../fixtures/apigw-v2-request.json"))
                    .expect("fixture");
            event["body"] = serde_json::json!("{}");
            event.to_string()
        }
        Kind::Sqs => serde_json::json!({"Records": [{
            "messageId": "m-1", "receiptHandle": "r-1", "body": "not an event",
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1780000000000",
                "SenderId": "A", "ApproximateFirstReceiveTimestamp": "1780000000000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench", "awsRegion": "us-east-1"
        }]})
        .to_string(),
        Kind::Schedule => "{}".into(),
    }
}

/// What the Runtime API saw: `Ready` at each `next` (the first is exec → ready), `Answered` at
/// each response or error.
enum Seen {
    Ready(Instant),
    Answered(Instant),
}

struct RuntimeApi {
    kind: Kind,
    nexts: Mutex<u32>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn serve(listener: TcpListener, api: Arc<RuntimeApi>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let api = Arc::clone(&api);
                async move {
                    let path = request.uri().path().to_owned();
                    let _ = request.into_body().collect().await;
                    if path.ends_with("/invocation/next") {
                        let _ = api.seen.send(Seen::Ready(Instant::now()));
                        let mut n = api.nexts.lock().await;
                        *n += 1;
                        if *n > 1 || api.kind == Kind::Schedule {
                            drop(n);
                            // Idle until killed, as a Lambda sandbox between events.
                            std::future::pending::<()>().await;
                        }
                        let response = hyper::Response::builder()
                            .header("lambda-runtime-aws-request-id", "req-1")
                            .header("lambda-runtime-deadline-ms", "9999999999999")
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            )
                            .header(
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            )
                            .body(Full::new(Bytes::from(event(api.kind))))
                            .expect("response");
                        return Ok::<_, Infallible>(response);
                    }
                    let _ = api.seen.send(Seen::Answered(Instant::now()));
                    Ok(hyper::Response::builder()
                        .status(202)
                        .body(Full::new(Bytes::new()))
                        .expect("response"))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

struct Figures {
    size: u64,
    ready: Duration,
    first: Option<Duration>,
    rss_kib: u64,
}

async fn measure(binary: &Path, kind: Kind) -> Figures {
    let (mut ready, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            kind,
            nexts: Mutex::new(0),
            seen: tx,
        });
        let server = tokio::spawn(serve(listener, api));
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("RC_DATA_TABLE", "data")
            .env("RC_KEYS_TABLE", "keys")
            .env("RC_KMS_KEY_ID", "alias/bench")
            .env("RC_LABELS_BUCKET", "bench-labels")
            .env(
                "RC_ORDER_EVENTS_QUEUE_URL",
                "http://127.0.0.1:9/123456789012/bench",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let Some(Seen::Ready(at)) = rx.recv().await else {
            panic!("{} never asked for an event", binary.display());
        };
        ready.push(at - started);
        if kind != Kind::Schedule {
            match rx.recv().await {
                Some(Seen::Answered(answered)) => first.push(answered - at),
                _ => panic!("{} did not answer", binary.display()),
            }
            // Idle again: asking for the next event.
            let _ = rx.recv().await;
        }
        rss.push(peak_rss_kib(child.id()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
        server.abort();
    }
    rss.sort();
    Figures {
        size: std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0),
        ready: median(ready),
        first: (!first.is_empty()).then(|| median(first)),
        rss_kib: rss[rss.len() / 2],
    }
}

#[tokio::main]
async fn main() {
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let missing: Vec<PathBuf> = BINARIES
        .iter()
        .map(|(name, _)| release.join(name))
        .filter(|path| !path.exists())
        .collect();
    if !missing.is_empty() {
        if !benchmarking {
            // `cargo test --all-targets` runs benches as smoke tests; this one needs release
            // builds, which the test command does not make.
            println!("cold_start: no release binaries; run it with `cargo bench` (BENCHMARKS.md)");
            return;
        }
        eprintln!("build them first: cargo build --release --bins (missing {missing:?})");
        std::process::exit(1);
    }
    println!(
        "| binary | size (MiB) | exec → ready, p50 of {RUNS} (ms) | × reference | first invocation (ms) | peak RSS (MiB) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut reference = None;
    for (name, kind) in BINARIES {
        let figures = measure(&release.join(name), kind).await;
        let floor = *reference.get_or_insert(figures.ready);
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {} | {:.1} |",
            figures.size as f64 / 1_048_576.0,
            figures.ready.as_secs_f64() * 1e3,
            figures.ready.as_secs_f64() / floor.as_secs_f64(),
            figures
                .first
                .map_or("—".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3)),
            figures.rss_kib as f64 / 1024.0,
        );
    }
}
