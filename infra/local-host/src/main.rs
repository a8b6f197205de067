//! `rc-local`: the local host of every RetailCoder function.
//!
//! ```text
//! rc-local [serve]                    start on embedded defaults (see README)
//! rc-local send-demo-webhook [ID]     sign and send a Shopify orders/create delivery
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use rc_local_host::{LocalConfig, LocalHost, send_demo_webhook};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rc_runtime::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match LocalConfig::from_env() {
        Ok(config) => config,
        Err(problem) => return fail(&problem),
    };
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve(&config).await,
        Some("send-demo-webhook") => send(&config, args.get(1)).await,
        Some(other) => Err(format!(
            "unknown command `{other}`; use `serve` or `send-demo-webhook [ORDER_ID]`"
        )),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(problem) => fail(&problem),
    }
}

fn fail(problem: &str) -> std::process::ExitCode {
    eprintln!("rc-local: {problem}");
    std::process::ExitCode::FAILURE
}

async fn serve(config: &LocalConfig) -> Result<(), String> {
    let host = LocalHost::start(config).await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", host.addr);
    println!("RetailCoder local host listening on {base}");
    println!("  data directory     {}", config.data_dir.display());
    println!("  health             GET  {base}/health");
    println!(
        "  Shopify webhooks   POST {base}/webhooks/shopify   (shop {})",
        config.demo_shop
    );
    println!(
        "  merchant API       GET  {base}/v1/orders/{{order_id}}   (Authorization: Bearer {}, the key in RC_DEMO_API_KEY; see README)",
        rc_local_host::mask(&config.demo_api_key)
    );
    println!("  orders             GET  {base}/v1/orders");
    println!(
        "  dashboard          {base}/app   (account {}, e-mail {}, password in RC_DEMO_PASSWORD, default local-demo-password)",
        config.demo_merchant,
        rc_local_host::DEMO_USERS[0].0
    );
    match config.sandbox_interval {
        Some(interval) => println!(
            "Sandbox marketplace: a Shopify and an Amazon order every {}s (some delivered twice)",
            interval.as_secs()
        ),
        None => println!("Sandbox marketplace: off (RC_SANDBOX_INTERVAL_SECS=0)"),
    }
    if let Some(interval) = config.reconcile_interval {
        println!(
            "Reconciliation against the sandbox every {}s",
            interval.as_secs()
        );
    }
    if let Some(interval) = config.privacy_interval {
        println!(
            "Privacy run (purge past-deadline PII, privacy requests, cancellations) at start and every {}s",
            interval.as_secs()
        );
    }
    println!("Send a signed demo order:  cargo run -p rc-local-host -- send-demo-webhook");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("stopping"),
        _ = host.task => return Err("server stopped unexpectedly".into()),
    }
    Ok(())
}

async fn send(config: &LocalConfig, order_id: Option<&String>) -> Result<(), String> {
    let order_id = match order_id {
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| format!("`{raw}` is not a numeric Shopify order id"))?,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as u64,
    };
    let base = std::env::var("RC_URL").unwrap_or_else(|_| format!("http://{}", config.listen));
    let webhook_id = format!("demo-{order_id}");
    let (status, body) = send_demo_webhook(
        &base,
        &config.demo_shop,
        &config.demo_webhook_secret,
        order_id,
        &webhook_id,
    )
    .await?;
    println!("POST {base}/webhooks/shopify -> {status} {body}");
    println!(
        "Read it back:  curl -s -H \"Authorization: Bearer $RC_DEMO_API_KEY\" {base}/v1/orders/shopify-{order_id}   (the key: {}, see README)",
        rc_local_host::mask(&config.demo_api_key)
    );
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("webhook refused with {status}"))
    }
}
