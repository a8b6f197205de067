//! Merchant exports on both store adapters (files locally; S3 in moto, path-style): requested
//! through the API (idempotent, scoped), written by the export worker in parts, ready with the
//! file's own SHA-256, a download link of at most 15 minutes; PII-free unless asked with
//! `exports:pii`; a PII export's file is deleted when one of its orders is purged; every file 24
//! hours after it is ready; every export when the account is cancelled; another tenant's
//! export is 404; the canary reaches no PII-free file and no log.

use std::sync::Arc;
use std::time::Duration;

use rc_exports::{ExportFiles, ExportId, LocalExportFiles, S3ExportFiles};
use rc_orders::{ApiKey, Scope};
use rc_queue::MemoryExportJobs;

use crate::support;
use support::privacy_stack::*;

const EXPORTER: &str = "rck_exports_pii_key_for_tests";
const OTHER_KEY: &str = "rck_exports_other_tenant_key";

struct ExportStack {
    stack: Stack,
    files: Arc<dyn ExportFiles>,
    jobs: Arc<MemoryExportJobs>,
    /// Locally: where a link is checked (S3 checks its own).
    local: Option<Arc<LocalExportFiles>>,
    /// Parts of 1 KiB locally (many parts from few rows); S3's minimum on moto.
    part_bytes: usize,
}

async fn export_stack(mut stack: Stack) -> ExportStack {
    let (files, local): (Arc<dyn ExportFiles>, Option<Arc<LocalExportFiles>>) = match &stack.backend
    {
        Backend::Embedded { dir } => {
            let local = Arc::new(
                LocalExportFiles::open(
                    &dir.path().join("exports-test"),
                    "http://127.0.0.1:9",
                    stack.clock.clone(),
                )
                .expect("files"),
            );
            (local.clone(), Some(local))
        }
        Backend::Moto { kms_key, .. } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build(),
            );
            let bucket = format!("rc-exports-{}", std::process::id());
            let _ = s3.create_bucket().bucket(&bucket).send().await;
            (
                Arc::new(S3ExportFiles::new(
                    s3,
                    bucket,
                    kms_key.clone(),
                    sdk.credentials_provider(),
                )),
                None,
            )
        }
    };
    let jobs = Arc::new(MemoryExportJobs::default());
    stack.services = stack
        .services
        .clone()
        .with_export_jobs(jobs.clone())
        .with_export_files(files.clone());
    stack
        .services
        .api_keys
        .register_with(
            &merchant(),
            &ApiKey(rc_domain::Secret::new(
                rc_domain::SecretText::parse(EXPORTER).expect("key"),
            )),
            &[Scope::ExportsCreate, Scope::ExportsPii],
        )
        .await
        .expect("key");
    stack
        .services
        .api_keys
        .register(
            &rc_domain::MerchantId::parse("exports-other-merchant").expect("merchant"),
            &ApiKey(rc_domain::Secret::new(
                rc_domain::SecretText::parse(OTHER_KEY).expect("key"),
            )),
        )
        .await
        .expect("key");
    let part_bytes = if local.is_some() {
        1024
    } else {
        rc_exports::PART_BYTES
    };
    ExportStack {
        stack,
        files,
        jobs,
        local,
        part_bytes,
    }
}

impl ExportStack {
    /// Runs the export worker over every job queued so far (and those it queues to continue).
    async fn work(&self, page_limit: usize) {
        let worker = self
            .stack
            .services
            .export_worker()
            .expect("worker")
            .with_part_bytes(self.part_bytes)
            .with_page_limit(page_limit);
        for _ in 0..50 {
            let jobs = self.jobs.take();
            if jobs.is_empty() {
                return;
            }
            let messages = jobs
                .iter()
                .enumerate()
                .map(|(i, j)| (i.to_string(), serde_json::to_string(j).expect("json")))
                .collect();
            let failed = worker
                .handle_batch(messages, self.jobs.as_ref(), Duration::from_secs(60))
                .await;
            assert!(failed.is_empty(), "export jobs failed");
        }
        panic!("exports did not finish");
    }

    async fn request(
        &self,
        key: &str,
        body: &str,
        idempotency: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let headers: Vec<(&str, &str)> = idempotency
            .map(|k| vec![("idempotency-key", k)])
            .unwrap_or_default();
        self.stack
            .api_as(key, "POST", "/v1/exports", body, &headers)
            .await
    }

    async fn show(&self, id: &str) -> serde_json::Value {
        let (status, body) = self
            .stack
            .api_as(EXPORTER, "GET", &format!("/v1/exports/{id}"), "", &[])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The file's bytes, downloaded through its link as a merchant would.
    async fn download(&self, export: &serde_json::Value) -> Vec<u8> {
        let url = export["download"]["url"].as_str().expect("link");
        match &self.local {
            Some(local) => {
                let (path, query) = url.split_once('?').expect("query");
                let key = path.split("/exports/download/").nth(1).expect("key");
                let mut expires = 0;
                let mut signature = "";
                for pair in query.split('&') {
                    match pair.split_once('=') {
                        Some(("expires", v)) => expires = v.parse().expect("expires"),
                        Some(("signature", v)) => signature = v,
                        _ => {}
                    }
                }
                let file = local
                    .open_link(key, expires, signature)
                    .expect("link valid");
                std::fs::read(file).expect("read")
            }
            None => reqwest::get(url)
                .await
                .expect("download")
                .bytes()
                .await
                .expect("bytes")
                .to_vec(),
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    rc_domain::to_hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

async fn exports_are_written_scoped_and_deleted(stack: Stack) {
    let logs = support::capture_all_logs();
    let x = export_stack(stack).await;
    let emails = [
        x.stack.ingest(8101).await,
        x.stack.ingest(8102).await,
        x.stack.ingest(8103).await,
    ];

    // Requested: 202 queued; the same key and request → the same export; another request
    // under that key → 422.
    let (status, first) = x
        .request(EXPORTER, r#"{"kind": "orders"}"#, Some("exp-1"))
        .await;
    assert_eq!(
        (status, first["state"].as_str()),
        (202, Some("queued")),
        "{first}"
    );
    let id = first["id"].as_str().expect("id").to_owned();
    let (_, again) = x
        .request(
            EXPORTER,
            r#"{"format": "csv", "kind": "orders"}"#,
            Some("exp-1"),
        )
        .await;
    assert_eq!(again["id"], first["id"]);
    let (status, reused) = x
        .request(EXPORTER, r#"{"kind": "receipts"}"#, Some("exp-1"))
        .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    // Bad requests say why and make nothing.
    for (body, reason) in [
        (r#"{"kind": "everything"}"#, "unknown_kind"),
        (r#"{"kind": "orders", "format": "xlsx"}"#, "unknown_format"),
        (
            r#"{"kind": "orders", "from": "2026-11-20", "to": "2026-11-01"}"#,
            "from_after_to",
        ),
        (
            r#"{"kind": "orders", "from": "2016-01-01", "to": "2026-01-01"}"#,
            "range_too_long",
        ),
    ] {
        let (status, body) = x.request(EXPORTER, body, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some(reason)),
            "{body}"
        );
    }
    // PII takes `exports:pii`; the ordinary key has no exports scope at all.
    let (status, _) = x
        .request(API_KEY, r#"{"kind": "orders", "include_pii": true}"#, None)
        .await;
    assert_eq!(status, 403);

    x.work(usize::MAX).await;
    let ready = x.show(&id).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    let (_, order) = x.stack.api("GET", "/v1/orders/shopify-8101", "").await;
    let lines = order["lines"].as_array().expect("lines").len() as u64;
    assert_eq!(ready["rows"].as_u64(), Some(3 * lines), "one row per line");
    let file = x.download(&ready).await;
    assert_eq!(ready["sha256"].as_str(), Some(sha256(&file).as_str()));
    assert_eq!(ready["bytes"].as_u64(), Some(file.len() as u64));
    let text = String::from_utf8(file.clone()).expect("utf-8");
    assert!(text.starts_with("order_id,channel,channel_reference,"));
    assert_eq!(
        text.matches("\r\n").count() as u64,
        1 + 3 * lines,
        "a header and a row per line"
    );
    for canary in support::canaries()
        .iter()
        .copied()
        .chain(emails.iter().map(String::as_str))
    {
        assert!(
            !text.contains(canary),
            "a PII-free export holds no buyer data"
        );
    }
    let until = ready["download"]["expires_at"].as_i64().expect("until");
    assert!(
        until - rc_domain::Clock::now(x.stack.clock.as_ref()).unix_timestamp() <= 900,
        "a link lives 15 minutes at most"
    );

    // Another tenant's key cannot see it.
    let (status, _) = x
        .stack
        .api_as(OTHER_KEY, "GET", &format!("/v1/exports/{id}"), "", &[])
        .await;
    assert_eq!(status, 404);

    // A PII export: the buyer's columns, its file a registered copy of each order it holds.
    let (status, pii) = x
        .request(EXPORTER, r#"{"kind": "orders", "include_pii": true}"#, None)
        .await;
    assert_eq!(status, 202, "{pii}");
    let pii_id = pii["id"].as_str().expect("id").to_owned();
    x.work(usize::MAX).await;
    let pii_ready = x.show(&pii_id).await;
    let pii_file = String::from_utf8(x.download(&pii_ready).await).expect("utf-8");
    assert!(pii_file.contains(&emails[0]) && pii_file.contains("buyer_email"));
    let (_, trail) = x.stack.api("GET", "/v1/audit", "").await;
    let actions: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["purpose"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(actions.contains(&("export_requested", "with_pii")));
    assert!(actions.contains(&("pii_reveal", "data_export")));

    // One of its orders is purged: the file goes with it.
    let order = order_id(8101);
    x.stack
        .services
        .copies
        .erase_order(&merchant(), &order)
        .await
        .expect("erase");
    assert_eq!(x.show(&pii_id).await["state"], "deleted");
    let key = rc_exports::file_key(&merchant(), &pii_id, "csv");
    assert_eq!(x.files.digest(&key).await.expect("digest"), None);

    // 24 hours after it was ready, the PII-free one is deleted by the scheduled expiry.
    x.stack
        .clock
        .advance(time::Duration::hours(24) + time::Duration::seconds(1));
    let expired = x
        .stack
        .services
        .export_deletion()
        .expect("deletion")
        .expire_due()
        .await
        .expect("expiry");
    assert_eq!(expired, 1);
    assert_eq!(x.show(&id).await["state"], "expired");
    let key = rc_exports::file_key(&merchant(), &id, "csv");
    assert_eq!(x.files.digest(&key).await.expect("digest"), None);

    // The account cancelled: every export is deleted.
    let (status, fresh) = x.request(EXPORTER, r#"{"kind": "inventory"}"#, None).await;
    assert_eq!(status, 202, "{fresh}");
    x.work(usize::MAX).await;
    let fresh_id = fresh["id"].as_str().expect("id").to_owned();
    assert_eq!(x.show(&fresh_id).await["state"], "ready");
    let (status, _) = x
        .stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm": "{}"}}"#, merchant()),
        )
        .await;
    assert!(status == 200 || status == 202);
    let key = rc_exports::file_key(&merchant(), &fresh_id, "csv");
    assert_eq!(x.files.digest(&key).await.expect("digest"), None);
    let record = x
        .stack
        .services
        .exports
        .get(&merchant(), &ExportId::parse(&fresh_id).expect("id"))
        .await
        .expect("get")
        .expect("there");
    assert!(matches!(
        record.state,
        rc_exports::ExportState::Deleted { .. }
    ));

    let text = logs.text();
    for email in &emails {
        assert!(!text.contains(email.as_str()), "no buyer data in the logs");
    }
}

#[tokio::test]
async fn exports_are_written_scoped_and_deleted_embedded() {
    exports_are_written_scoped_and_deleted(embedded().await).await;
}

#[tokio::test]
async fn exports_are_written_scoped_and_deleted_on_moto() {
    exports_are_written_scoped_and_deleted(moto().await).await;
}

/// An export cut short after every page resumes to the very file an uninterrupted run writes.
#[tokio::test]
async fn an_interrupted_export_resumes_to_an_identical_file() {
    let x = export_stack(embedded().await).await;
    for id in 0..230 {
        x.stack.ingest(9000 + id).await;
    }
    let (_, whole) = x.request(EXPORTER, r#"{"kind": "orders"}"#, None).await;
    x.work(usize::MAX).await;
    let (_, pieces) = x
        .request(
            EXPORTER,
            r#"{"kind": "orders", "format": "csv"}"#,
            Some("pieces"),
        )
        .await;
    // One page per run: three runs, each resumed from the last part.
    x.work(1).await;
    let whole = x.show(whole["id"].as_str().expect("id")).await;
    let pieces = x.show(pieces["id"].as_str().expect("id")).await;
    assert_eq!(pieces["state"], "ready");
    assert_eq!(pieces["rows"], whole["rows"]);
    assert_eq!(pieces["sha256"], whole["sha256"]);
    let (_, order) = x.stack.api("GET", "/v1/orders/shopify-9000", "").await;
    let lines = order["lines"].as_array().expect("lines").len() as u64;
    assert_eq!(whole["rows"].as_u64(), Some(230 * lines));
}

/// Every kind, in both formats: ready, with the rows its records make; the account export holds
/// the orders and receipts as records, buyer data only when asked with `exports:pii`.
#[tokio::test]
async fn every_kind_exports_in_both_formats() {
    let x = export_stack(embedded().await).await;
    let emails = [x.stack.ingest(8201).await, x.stack.ingest(8202).await];
    let mut ids = Vec::new();
    for kind in [
        "orders",
        "shipments",
        "inventory",
        "stock_ledger",
        "receipts",
        "tax_report",
        "account",
    ] {
        for format in ["csv", "jsonl"] {
            let body = format!(r#"{{"kind": "{kind}", "format": "{format}"}}"#);
            let (status, made) = x.request(EXPORTER, &body, None).await;
            assert_eq!(status, 202, "{kind} {format}: {made}");
            ids.push((kind, format, made["id"].as_str().expect("id").to_owned()));
        }
    }
    let (status, pii_account) = x
        .request(
            EXPORTER,
            r#"{"kind": "account", "format": "jsonl", "include_pii": true}"#,
            None,
        )
        .await;
    assert_eq!(status, 202);
    x.work(usize::MAX).await;
    for (kind, format, id) in &ids {
        let export = x.show(id).await;
        assert_eq!(export["state"], "ready", "{kind} {format}: {export}");
        let file = String::from_utf8(x.download(&export).await).expect("utf-8");
        for email in &emails {
            assert!(
                !file.contains(email.as_str()),
                "{kind} {format} holds buyer data"
            );
        }
        if *format == "jsonl" {
            for line in file.lines() {
                serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
            }
        }
        if *kind == "account" && *format == "jsonl" {
            let orders = file
                .lines()
                .filter(|l| l.contains(r#""record_type":"order""#))
                .count();
            assert_eq!(orders, 2, "{file}");
        }
    }
    let pii = x.show(pii_account["id"].as_str().expect("id")).await;
    let file = String::from_utf8(x.download(&pii).await).expect("utf-8");
    assert!(file.contains(emails[0].as_str()) && file.contains(emails[1].as_str()));
}

/// Storage refusing a part ends the export `failed` with its reason, never a file marked ready.
#[tokio::test]
async fn a_refused_part_fails_the_export() {
    struct RefusingParts(Arc<dyn ExportFiles>);

    #[async_trait::async_trait]
    impl ExportFiles for RefusingParts {
        async fn begin(
            &self,
            merchant: &rc_domain::MerchantId,
            key: &str,
            content_type: &str,
        ) -> Result<String, rc_exports::FilesError> {
            self.0.begin(merchant, key, content_type).await
        }
        async fn put_part(
            &self,
            _: &str,
            _: &str,
            _: u32,
            _: rc_exports::Bytes,
        ) -> Result<String, rc_exports::FilesError> {
            Err(rc_exports::FilesError("s3: EntityTooLarge".into()))
        }
        async fn complete(
            &self,
            key: &str,
            upload: &str,
            parts: &[(u32, String)],
        ) -> Result<(), rc_exports::FilesError> {
            self.0.complete(key, upload, parts).await
        }
        async fn abort(&self, key: &str, upload: &str) -> Result<(), rc_exports::FilesError> {
            self.0.abort(key, upload).await
        }
        async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, rc_exports::FilesError> {
            self.0.digest(key).await
        }
        async fn delete(&self, key: &str) -> Result<(), rc_exports::FilesError> {
            self.0.delete(key).await
        }
        async fn link(
            &self,
            key: &str,
            seconds: i64,
            name: &str,
        ) -> Result<String, rc_exports::FilesError> {
            self.0.link(key, seconds, name).await
        }
    }

    let mut x = export_stack(embedded().await).await;
    x.stack.ingest(8301).await;
    x.stack.services = x
        .stack
        .services
        .clone()
        .with_export_files(Arc::new(RefusingParts(x.files.clone())));
    let (_, made) = x.request(EXPORTER, r#"{"kind": "orders"}"#, None).await;
    x.work(usize::MAX).await;
    let export = x.show(made["id"].as_str().expect("id")).await;
    assert_eq!(
        (export["state"].as_str(), export["reason"].as_str()),
        (Some("failed"), Some("storage_refused")),
        "{export}"
    );
    assert!(export.get("download").is_none());
}
