//! `rc-ops`: operator commands, against the deployed stack (when `RC_DATA_TABLE` is set, with the
//! same variables as the functions) or the local embedded data (`RC_DATA_DIR`, default
//! `.rc-data`).
//!
//! ```text
//! rc-ops purge [--dry-run] [--max N]     run the privacy run now; progress on stderr, report
//!                                       (JSON) on stdout; a dry run lists what is due
//! rc-ops verify-receipts MERCHANT        verify a merchant's receipt chain (exit 1 if broken)
//! rc-ops verify-audit MERCHANT           verify a merchant's audit chain (exit 1 if broken)
//! rc-ops merchant create MERCHANT --company NAME --contact NAME --email EMAIL [--currency CUR] [--time-zone TZ] [--owner-email EMAIL]
//!                                        create a merchant account; prints its first API key and
//!                                        its dashboard owner's first password once (the owner
//!                                        signs in with --owner-email, default --email, and
//!                                        chooses a new password)
//! rc-ops user reset-password MERCHANT --email EMAIL --reason CASE
//!                                        a new first password for a dashboard user locked out
//!                                        (the sole owner, who has nobody to ask): printed once,
//!                                        every session of the user ends, the user chooses their
//!                                        own at sign-in; recorded in the merchant's audit trail
//!                                        under the operator's identity and the case
//! rc-ops orders reindex MERCHANT         write the by-status entries of orders stored before
//!                                        that index existed (once, after upgrading; idempotent)
//! rc-ops cancellation MERCHANT           where a merchant's account cancellation stands
//! rc-ops inventory-sync --merchant M     push the merchant's listings that differ from their
//!                                       last push (channel endpoints from RC_SPAPI_ENDPOINT,
//!                                       RC_LWA_ENDPOINT, RC_SHOPIFY_ADMIN_BASE)
//! rc-ops inventory-sync --all            the same for every merchant (the scheduled sync)
//! rc-ops redrive-order-events [--dry-run] [--max N]
//!                                       list dead-lettered order events (ids only) and send
//!                                       them back to the order processor's queue (deployed:
//!                                       RC_ORDER_EVENTS_DLQ_URL -> RC_ORDER_EVENTS_QUEUE_URL)
//! rc-ops api-key issue MERCHANT [--name NAME] [--scope SCOPE,...]
//!                                       issue an API key (printed once); `pii:read` lets it
//!                                       open data-request reports
//! rc-ops data-report MERCHANT REQUEST_ID --reason CASE
//!                                       open a fulfilled data request's report (buyer PII) for
//!                                       a merchant who cannot; recorded in the merchant's audit
//!                                       trail under the operator's identity (deployed: the AWS
//!                                       caller's ARN; locally: the OS user) and the case
//! ```
//!
//! Standard output is the command's JSON report alone; progress and logs go to standard error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rc_domain::{MerchantId, SystemClock};
use rc_privacy::PurgeLimits;
use rc_runtime::{AwsConfig, Services};

const USAGE: &str = "usage: rc-ops purge [--dry-run] [--max N] | verify-receipts MERCHANT | verify-audit MERCHANT | merchant create MERCHANT --company NAME --contact NAME --email EMAIL [--currency CUR] [--time-zone TZ] [--owner-email EMAIL] | user reset-password MERCHANT --email EMAIL --reason CASE | orders reindex MERCHANT | cancellation MERCHANT | inventory-sync (--merchant M | --all) | redrive-order-events [--dry-run] [--max N] | api-key issue MERCHANT [--name NAME] [--scope SCOPE,...] | data-report MERCHANT REQUEST_ID --reason CASE";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Standard output carries the report alone.
    rc_runtime::init_tracing_to_stderr();
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
    Ok(services_and_config().await?.0)
}

async fn services_and_config() -> Result<(Services, Option<AwsConfig>), String> {
    if std::env::var_os("RC_DATA_TABLE").is_some() {
        let config = AwsConfig::from_env().map_err(|e| e.to_string())?;
        eprintln!("rc-ops: deployed stack (table {})", config.data_table);
        return Ok((Services::aws(&config).await, Some(config)));
    }
    let dir = PathBuf::from(
        std::env::var("RC_DATA_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".rc-data".into()),
    );
    eprintln!("rc-ops: embedded data in {}", dir.display());
    let services = Services::embedded(&dir, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    Ok((services, None))
}

/// Who runs this: on the deployed stack the AWS principal (STS `GetCallerIdentity`, which
/// cannot be claimed by a flag), locally the OS user.
async fn operator_identity(deployed: bool) -> Result<String, String> {
    if deployed {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let identity = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| format!("cannot establish who you are (sts:GetCallerIdentity): {e}"))?;
        return identity
            .arn()
            .map(str::to_owned)
            .ok_or_else(|| "sts:GetCallerIdentity named no principal".into());
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Ok(format!("local:{user}"))
}

/// The value after `flag`, if the flag is given.
/// Exit 0 when a check passed, 1 when it found a problem.
fn verdict(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn option<'a>(args: &'a [String], flag: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(at) => args
            .get(at + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{flag} needs a value")),
    }
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
            Ok(verdict(report.purge.failed.is_empty()))
        }
        Some("data-report") => {
            // Checked before anything is opened or even connected to.
            let case = rc_orders::CaseReference::parse(
                option(args, "--reason")?
                    .ok_or("data-report needs --reason CASE (a case or ticket reference)")?,
            )?;
            let merchant = merchant(args)?;
            let request = args.get(2).filter(|r| !r.starts_with("--")).ok_or(USAGE)?;
            let (services, config) = services_and_config().await?;
            let operator = format!("operator:{}", operator_identity(config.is_some()).await?);
            let request_id = case.request_id();
            let privacy = rc_api::PrivacyApi {
                requests: services.privacy_requests.clone(),
                receipts: services.receipts.clone(),
                cancellation: services.cancellation.clone(),
                audit: services.audit.clone(),
            };
            let actor = rc_orders::Actor {
                id: &operator,
                request_id: &request_id,
            };
            let report = privacy
                .data_subject_report(&services.orders, &merchant, request, &actor)
                .await
                .map_err(|e| format!("{} ({})", e.reason(), e))?;
            eprintln!("rc-ops: opened as {operator} for {request_id}; recorded in the audit trail");
            print(&report)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("verify-audit") => {
            let merchant = merchant(args)?;
            let report = services()
                .await?
                .audit
                .verify(&merchant)
                .await
                .map_err(|e| e.to_string())?;
            print(&report)?;
            Ok(verdict(report.problem.is_none()))
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
            Ok(verdict(report.problem.is_none()))
        }
        Some("orders") if args.get(1).map(String::as_str) == Some("reindex") => {
            let raw = args.get(2).ok_or(USAGE)?;
            let merchant = MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}"))?;
            let written = services()
                .await?
                .orders
                .reindex_statuses(&merchant)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("rc-ops: {written} by-status entries written for {merchant}");
            print(&serde_json::json!({ "merchant": merchant, "entries_written": written }))?;
            Ok(ExitCode::SUCCESS)
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
            let merchant = option(args, "--merchant")?
                .map(|raw| MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}")))
                .transpose()?;
            let all = args.iter().any(|a| a == "--all");
            if merchant.is_none() && !all {
                return Err("inventory-sync needs --merchant M or --all".into());
            }
            let services = services().await?;
            let channels = rc_runtime::ChannelClients::from_env().map_err(|e| e.to_string())?;
            let sync = services.inventory_sync(&channels);
            let report = match merchant {
                Some(merchant) => {
                    let skus = services
                        .stock
                        .skus(&merchant)
                        .await
                        .map_err(|e| e.to_string())?;
                    sync.sync(&merchant, &skus).await
                }
                None => sync.sync_all().await,
            }
            .map_err(|e| e.to_string())?;
            print(&report)?;
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some("redrive-order-events") => {
            let dry_run = args.iter().any(|a| a == "--dry-run");
            let max = option(args, "--max")?
                .map(|n| n.parse::<usize>().ok().filter(|&n| n > 0))
                .map(|n| n.ok_or("--max needs a positive number"))
                .transpose()?
                .unwrap_or(1_000);
            let (services, config) = services_and_config().await?;
            let found = services
                .redrive_order_events(config.as_ref(), max, dry_run)
                .await?;
            eprintln!(
                "rc-ops: {} dead-lettered order events {}",
                found.len(),
                if dry_run { "listed" } else { "sent back" }
            );
            print(&serde_json::json!({ "dry_run": dry_run, "events": found }))?;
            Ok(ExitCode::SUCCESS)
        }
        Some("merchant") if args.get(1).map(String::as_str) == Some("create") => {
            let raw = args.get(2).ok_or(USAGE)?;
            let merchant = MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}"))?;
            let required = |flag: &str| option(args, flag)?.ok_or(format!("{flag} is required"));
            let profile = rc_runtime::RawProfile {
                company_name: required("--company")?.to_owned(),
                default_currency: option(args, "--currency")?.unwrap_or("USD").to_owned(),
                time_zone: option(args, "--time-zone")?.unwrap_or("UTC").to_owned(),
                contact: rc_runtime::RawContact {
                    name: required("--contact")?.to_owned(),
                    email: required("--email")?.to_owned(),
                },
            }
            .parse()
            .map_err(|field| format!("field `{field}` is invalid"))?;
            let services = services().await?;
            if !services
                .merchants
                .create(&merchant, &profile)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "merchant `{merchant}` exists already; nothing changed"
                ));
            }
            let scopes = rc_runtime::Scope::default_set();
            let (key, info) = services
                .api_keys
                .issue_named(&merchant, "first key", &scopes, None)
                .await
                .map_err(|e| e.to_string())?;
            // The dashboard's owner, created with the account: a random first password, shown
            // once, changed at first sign-in.
            let owner_email = option(args, "--owner-email")?.unwrap_or(required("--email")?);
            let (password, shown) = rc_dashboard::Password::random().map_err(|e| e.to_string())?;
            services
                .dashboard_users()
                .create(
                    &merchant,
                    owner_email,
                    rc_dashboard::Role::Owner,
                    &password,
                    true,
                )
                .await
                .map_err(|e| format!("the dashboard owner: {e}"))?;
            eprintln!(
                "rc-ops: merchant {merchant} created; its first API key and the dashboard owner's first password are shown once"
            );
            print(&serde_json::json!({
                "merchant": merchant,
                "api_key": key.0.reveal(rc_domain::RevealPurpose::Authentication).as_str(),
                "key_id": info.id,
                "scopes": info.scopes,
                // The owner signs in with the e-mail given (not echoed: personal data).
                "dashboard": {
                    "account": merchant,
                    "owner_first_password": shown.as_str(),
                },
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Some("user") if args.get(1).map(String::as_str) == Some("reset-password") => {
            // Checked before anything is connected to.
            let case =
                rc_orders::CaseReference::parse(option(args, "--reason")?.ok_or(
                    "user reset-password needs --reason CASE (a case or ticket reference)",
                )?)?;
            let raw = args.get(2).filter(|r| !r.starts_with("--")).ok_or(USAGE)?;
            let merchant = MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}"))?;
            let email = option(args, "--email")?.ok_or(USAGE)?;
            let (services, config) = services_and_config().await?;
            let operator = format!("operator:{}", operator_identity(config.is_some()).await?);
            let users = services.dashboard_users();
            let id = rc_dashboard::user_id(&merchant, email);
            // The same answer for an unknown merchant and an unknown user (the e-mail is not
            // echoed: personal data).
            if users
                .get(&merchant, &id)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err("no dashboard user with that e-mail in that account".into());
            }
            let (password, shown) = rc_dashboard::Password::random().map_err(|e| e.to_string())?;
            users
                .reset_password(&merchant, &id, &password)
                .await
                .map_err(|e| e.to_string())?;
            let request_id = case.request_id();
            services
                .audit
                .append(
                    &merchant,
                    rc_orders::AuditEvent {
                        action: "password_reset",
                        purpose: "account_recovery",
                        actor: &operator,
                        subject: &format!("user:{id}"),
                        orders: &[],
                        request_id: &request_id,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "rc-ops: password reset as {operator} for {request_id}; recorded in the audit trail; every session of the user ended"
            );
            print(&serde_json::json!({
                "merchant": merchant,
                "user": id,
                "first_password": shown.as_str(),
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Some("api-key") if args.get(1).map(String::as_str) == Some("issue") => {
            let raw = args.get(2).ok_or(USAGE)?;
            let merchant = MerchantId::parse(raw).map_err(|e| format!("merchant `{raw}`: {e}"))?;
            // Comma-separated; without it, every scope but those that open PII.
            let scopes = match option(args, "--scope")? {
                None => rc_runtime::Scope::default_set(),
                Some(raw) => raw
                    .split(',')
                    .map(|s| {
                        rc_runtime::Scope::parse(s.trim()).ok_or(format!("unknown scope `{s}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let name = option(args, "--name")?.unwrap_or("operator-issued");
            let (key, _) = services()
                .await?
                .api_keys
                .issue_named(&merchant, name, &scopes, None)
                .await
                .map_err(|e| e.to_string())?;
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            // The only time the key is shown: it is stored as a hash.
            print(&serde_json::json!({
                "merchant": merchant,
                "api_key": key.0.reveal(rc_domain::RevealPurpose::Authentication).as_str(),
                "scopes": scopes,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.into()),
    }
}
