//! Cold start of a real function binary: the time from process spawn to the first response
//! delivered to the Lambda Runtime API, the second (warm) invocation, and peak memory.
//!
//!   cargo build --release -p shopify-webhook && cargo bench -p rc-e2e --bench cold_start
//!
//! An in-process server speaks the Lambda Runtime API (`/2018-06-01/runtime/invocation/next`,
//! `.../{id}/response`) and hands the function an API Gateway event. The event is a webhook
//! without a signature, so the function answers 401 without any AWS call: what is measured is
//! process start, configuration, client construction, runtime start and one event round trip.

use std::convert::Infallible;
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

struct RuntimeApi {
    events: Mutex<u32>,
    responses: mpsc::UnboundedSender<(Instant, String)>,
}

fn event() -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/apigw-v2-request.json")).expect("fixture");
    event["body"] = serde_json::json!("{}");
    event.to_string()
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
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let response = if path.ends_with("/invocation/next") {
                        let mut n = api.events.lock().await;
                        *n += 1;
                        hyper::Response::builder()
                            .header("lambda-runtime-aws-request-id", format!("req-{n}"))
                            .header("lambda-runtime-deadline-ms", "9999999999999")
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            )
                            .header(
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            )
                            .body(Full::new(Bytes::from(event())))
                    } else {
                        let _ = api
                            .responses
                            .send((Instant::now(), String::from_utf8_lossy(&body).into_owned()));
                        hyper::Response::builder()
                            .status(202)
                            .body(Full::new(Bytes::new()))
                    };
                    Ok::<_, Infallible>(response.expect("response"))
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let binary =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/shopify-webhook");
    let benchmarking = std::env::args().any(|a| a == "--bench");
    if !binary.exists() {
        if !benchmarking {
            // `cargo test --all-targets` runs benches as smoke tests; this one needs a release
            // build, which the test command does not make.
            println!(
                "cold_start: no release binary; run it with `cargo bench` (see BENCHMARKS.md)"
            );
            return;
        }
        eprintln!("build it first: cargo build --release -p shopify-webhook");
        std::process::exit(1);
    }
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    let (mut first, mut warm, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            events: Mutex::new(0),
            responses: tx,
        });
        let server = tokio::spawn(serve(listener, api));
        let started = Instant::now();
        let mut child = Command::new(&binary)
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
            .env("RC_DATA_TABLE", "data")
            .env("RC_KEYS_TABLE", "keys")
            .env("RC_KMS_KEY_ID", "alias/bench")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (at, body) = rx.recv().await.expect("first response");
        assert!(body.contains("401"), "unexpected response: {body}");
        first.push(at - started);
        let (at2, _) = rx.recv().await.expect("second response");
        warm.push(at2 - at);
        rss.push(peak_rss_kib(child.id()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
        server.abort();
    }
    first.sort();
    warm.sort();
    rss.sort();
    println!(
        "binary: {} ({:.1} MiB, host architecture)",
        binary.display(),
        size as f64 / 1_048_576.0
    );
    println!(
        "spawn to first response (cold start, {RUNS} runs): p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        percentile(&first, 0.5).as_secs_f64() * 1e3,
        percentile(&first, 0.9).as_secs_f64() * 1e3,
        first.last().expect("runs").as_secs_f64() * 1e3
    );
    println!(
        "next invocation (warm, includes runtime API round trip): p50 {:.2} ms",
        percentile(&warm, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "peak RSS: p50 {} KiB, max {} KiB",
        rss[rss.len() / 2],
        rss.last().expect("runs")
    );
}
