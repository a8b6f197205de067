//! `rc-ops` as an operator runs it: standard output is the JSON report alone (so it can be piped
//! into `jq`), whatever `RUST_LOG` says; progress and logs go to standard error (issue 9, item 24).

use std::process::Command;

fn rc_ops(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rc-ops"))
        .args(args)
        .env_remove("RC_DATA_TABLE")
        .env("RC_DATA_DIR", dir)
        .env("RUST_LOG", "trace")
        .output()
        .expect("run rc-ops");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn standard_output_is_the_report_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for args in [
        &["purge", "--dry-run"][..],
        &["purge"],
        &["redrive-order-events", "--dry-run"],
        &["api-key", "issue", "ops-merchant", "--scope", "pii:read"],
        &["inventory-sync", "--merchant", "ops-merchant"],
    ] {
        let (ok, stdout, stderr) = rc_ops(&data, args);
        assert!(ok, "{args:?}: {stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not one JSON document ({e}): {stdout}")
        });
        assert!(report.is_object(), "{args:?}");
        assert!(
            stderr.contains("rc-ops:"),
            "{args:?}: progress goes to stderr"
        );
    }
    let (_, stdout, _) = rc_ops(&data, &["api-key", "issue", "ops-merchant"]);
    let issued: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(
        issued["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("rck_"))
    );
    // Without --scope: every scope but those that open PII.
    let scopes = issued["scopes"].as_array().expect("scopes");
    assert!(scopes.contains(&serde_json::json!("orders:read")));
    assert!(!scopes.contains(&serde_json::json!("pii:read")));
    let (_, stdout, _) = rc_ops(
        &data,
        &[
            "api-key",
            "issue",
            "ops-merchant",
            "--scope",
            "pii:read,privacy:read",
        ],
    );
    let issued: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        issued["scopes"],
        serde_json::json!(["pii:read", "privacy:read"])
    );
    // A merchant account: its first key printed once; asked again, refused with nothing printed.
    let create = [
        "merchant",
        "create",
        "new-merchant",
        "--company",
        "New Goods Ltd",
        "--contact",
        "Ada Owner",
        "--email",
        "ada@new-goods.example",
        "--currency",
        "GBP",
        "--time-zone",
        "Europe/London",
    ];
    let (ok, stdout, stderr) = rc_ops(&data, &create);
    assert!(ok, "{stderr}");
    let made: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(
        made["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("rck_"))
    );
    assert!(!stderr.contains("ada@new-goods.example") && !stdout.contains("ada@"));
    // The dashboard's owner, made with the account: a first password shown once.
    assert_eq!(made["dashboard"]["account"], "new-merchant");
    assert!(
        made["dashboard"]["owner_first_password"]
            .as_str()
            .is_some_and(|p| p.len() == 24)
    );
    let (ok, stdout, stderr) = rc_ops(&data, &create);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("exists already"), "{stderr}");
    let mut bad = create;
    bad[8] = "not-an-email";
    let (ok, _, stderr) = rc_ops(&data, &bad);
    assert!(!ok && stderr.contains("contact.email") && !stderr.contains("not-an-email"));
    let (ok, stdout, stderr) = rc_ops(&data, &["verify-audit", "ops-merchant"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["problem"], serde_json::Value::Null);
}

#[test]
fn an_unscoped_inventory_sync_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, stdout, stderr) = rc_ops(&dir.path().join("data"), &["inventory-sync"]);
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--merchant"), "{stderr}");
}

/// Opening PII takes a case reference, checked before anything is opened; a free-text reason
/// (which could carry a buyer's name into the audit trail) is refused.
#[test]
fn a_data_report_needs_a_case_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (ok, stdout, stderr) = rc_ops(&data, &["data-report", "ops-merchant", "req-1"]);
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("--reason"), "{stderr}");
    let (ok, stdout, stderr) = rc_ops(
        &data,
        &[
            "data-report",
            "ops-merchant",
            "req-1",
            "--reason",
            "Jane Doe asked",
        ],
    );
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("case or ticket reference"), "{stderr}");
    // A valid case for a request that does not exist: refused, nothing printed.
    let (ok, stdout, stderr) = rc_ops(
        &data,
        &[
            "data-report",
            "ops-merchant",
            "req-1",
            "--reason",
            "ZD-48213",
        ],
    );
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("not_found"), "{stderr}");
}

/// A sole owner locked out: an operator gives a new first password, with a case reference,
/// printed once; an unknown user is refused without echoing the e-mail.
#[test]
fn a_locked_out_owner_gets_a_new_first_password_from_an_operator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (ok, stdout, stderr) = rc_ops(
        &data,
        &[
            "merchant",
            "create",
            "locked-out",
            "--company",
            "Locked Out Ltd",
            "--contact",
            "Lee Owner",
            "--email",
            "lee@locked-out.example",
        ],
    );
    assert!(ok, "{stderr}");
    let made: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let first = made["dashboard"]["owner_first_password"]
        .as_str()
        .expect("first password")
        .to_owned();

    let reset = |email: &'static str, reason: Option<&'static str>| {
        let mut args = vec!["user", "reset-password", "locked-out", "--email", email];
        if let Some(reason) = reason {
            args.extend(["--reason", reason]);
        }
        rc_ops(&data, &args)
    };
    let (ok, stdout, stderr) = reset("lee@locked-out.example", None);
    assert!(
        !ok && stdout.is_empty() && stderr.contains("--reason"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = reset("someone@else.example", Some("ZD-5151"));
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no dashboard user") && !stderr.contains("someone@"));

    let (ok, stdout, stderr) = reset("lee@locked-out.example", Some("ZD-5151"));
    assert!(ok, "{stderr}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let new = answer["first_password"].as_str().expect("password");
    assert_eq!(new.len(), 24);
    assert_ne!(new, first);
    assert!(!stdout.contains("lee@") && !stderr.contains("lee@"));
    assert!(stderr.contains("case:ZD-5151"), "{stderr}");
    let (ok, stdout, stderr) = rc_ops(&data, &["verify-audit", "locked-out"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["problem"], serde_json::Value::Null);
    assert!(
        report["entries"].as_u64().unwrap_or_default() >= 1,
        "{report}"
    );
}
