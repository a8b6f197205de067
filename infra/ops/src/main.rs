//! `rc-ops`: operator commands, against the deployed stack (when `RC_DATA_TABLE` is set, with the
//! same variables as the functions) or the local embedded data (`RC_DATA_DIR`, default
//! `.rc-data`).
//!
//!   rc-ops purge [--dry-run] [--max N]     run the privacy run now; progress on stderr, report
//!                                         (JSON) on stdout; a dry run lists what is due
//!   rc-ops verify-receipts MERCHANT        verify a merchant's receipt chain (exit 1 if broken)
//!   rc-ops cancellation MERCHANT           where a merchant's account cancellation stands
//!   rc-ops inventory-sync                  push every listing that differs from its last push
//!                                         (channel endpoints from RC_SPAPI_ENDPOINT,
//!                                         RC_LWA_ENDPOINT, RC_SHOPIFY_ADMIN_BASE)

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rc_domain::{MerchantId, SystemClock};
use rc_privacy::PurgeLimits;
use rc_runtime::{AwsConfig, Services};

const USAGE: &str = "usage: rc-ops purge [--dry-run] [--max N] | verify-receipts MERCHANT | cancellation MERCHANT | inventory-sync";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    rc_runtime::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(problem) => {
            eprintln!("rc-ops: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn services() -> Result<Services, String> {
    if std::env::var_os("RC_DATA_TABLE").is_some() {
        let config = AwsConfig::from_env().map_err(|e| e.to_string())?;
        eprintln!("rc-ops: deployed stack (table {})", config.data_table);
        return Ok(Services::aws(&config).await);
    }
    let dir = PathBuf::from(
        std::env::var("RC_DATA_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".rc-data".into()),
    );
    eprintln!("rc-ops: embedded data in {}", dir.display());
    Services::embedded(&dir, Arc::new(SystemClock)).map_err(|e| e.to_string())
}

fn merchant(args: &[String]) -> Result<MerchantId, String> {
    let raw = args.get(1).ok_or(USAGE)?;
    MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}"))
}

fn print(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

async fn run(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        Some("purge") => {
            let dry_run = args.iter().any(|a| a == "--dry-run");
            let mut limits = PurgeLimits::default();
            if let Some(at) = args.iter().position(|a| a == "--max") {
                limits.max_orders = args
                    .get(at + 1)
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--max needs a positive number")?;
            }
            let services = services().await?;
            let report = services
                .privacy_run()
                .run(limits, dry_run, &mut |p| {
                    eprintln!(
                        "rc-ops: {} due seen, {} purged, {} failed",
                        p.due, p.purged, p.failed
                    );
                })
                .await
                .map_err(|e| e.to_string())?;
            print(&report)?;
            Ok(if report.purge.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some("verify-receipts") => {
            let merchant = merchant(args)?;
            let report = services()
                .await?
                .receipts
                .verify(&merchant)
                .await
                .map_err(|e| e.to_string())?;
            print(&report)?;
            Ok(if report.problem.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some("cancellation") => {
            let merchant = merchant(args)?;
            let status = services()
                .await?
                .cancellation
                .status(&merchant)
                .await
                .map_err(|e| e.to_string())?;
            print(&status)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("inventory-sync") => {
            let services = services().await?;
            let sync = services.inventory_sync(
                rc_runtime::sp_api_endpoints(),
                rc_runtime::shopify_admin_base(),
            );
            let report = sync.sync_all().await.map_err(|e| e.to_string())?;
            print(&report)?;
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        _ => Err(USAGE.into()),
    }
}
