//! The tax report over 100,000 orders (one merchant, one month) on the embedded store: time
//! per group, store requests and items read, from the daily totals (what the API serves) and
//! from the records one by one (the audit path) — beside the floor, paging through the records
//! without reading them. The store also holds each order's public item and a PII item, as a
//! real merchant's would: the report reads the tax partition only (its items are totals or
//! records, its GetItem count is zero). Also: keeping a record (its write with the day's
//! totals), in store requests.
//!
//!   cargo bench -p rc-e2e --bench tax_report

#[path = "support/counting.rs"]
mod counting;

use std::sync::Arc;
use std::time::{Duration, Instant};

use counting::Counting;
use rc_domain::{Currency, MerchantId, OrderId, SystemClock};
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_store::{Item, ItemKey, PageToken, Store, TxOp, Value};
use rc_tax::{ChannelTax, Component, LineInput, LineTax, Place, TaxAmount, TaxInput, provider_for};
use rc_tax_records::report::PAGE;
use rc_tax_records::{
    ReportGroup, ReportPeriod, StoredTaxRecord, TaxRecordState, TaxRecords, TaxReporter,
};

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn place(country: &str, region: Option<&str>) -> Place {
    Place {
        country: country.into(),
        region: region.map(str::to_owned),
    }
}

/// Order `n`'s record: India (intra and inter-state, every slab), EU OSS, or US marketplace
/// facilitator, computed by the real providers.
fn record(n: u64) -> StoredTaxRecord {
    let classes = rc_tax::india::seed_classes();
    let slab = ["gst-5", "gst-18", "gst-40", "apparel"][(n % 4) as usize];
    let states = ["MH", "KA", "DL", "TN", "CH", "WB"];
    let eu = ["FR", "IT", "ES", "NL", "FI", "PL"];
    let kind = n % 10;
    let line = |gst: bool| LineInput {
        quantity: 1 + (n % 3) as u32,
        unit_price: 49_900 + (n % 7) as i64 * 25_000,
        discount: 0,
        gst: gst.then(|| classes[slab].clone()),
        vat: None,
        from: None,
    };
    let (currency, from, to, lines, channel) = match kind {
        0..=5 => (
            "INR",
            place("IN", Some("MH")),
            place("IN", Some(states[(n % 6) as usize])),
            vec![line(true), line(true)],
            None,
        ),
        6..=8 => (
            "EUR",
            place("DE", None),
            place(eu[(n % 6) as usize], None),
            vec![line(false)],
            None,
        ),
        _ => (
            "USD",
            place("US", Some("KY")),
            place("US", Some("CA")),
            vec![line(false)],
            Some(ChannelTax {
                marketplace_facilitator: true,
                lines: vec![LineTax {
                    line: Some(0),
                    amounts: vec![TaxAmount {
                        component: Component::SalesTax,
                        jurisdiction: "US-CA".into(),
                        rate: None,
                        taxable: 49_900,
                        tax: 3_617,
                    }],
                }],
            }),
        ),
    };
    let day = time::macros::date!(2026 - 11 - 01) + time::Duration::days((n % 30) as i64);
    let input = TaxInput {
        currency: Currency::parse(currency).expect("currency"),
        date: day,
        prices_include_tax: kind < 6,
        lines,
        shipping: 4_900,
        from,
        to: to.clone(),
        below_eu_threshold: false,
        reported_scheme: None,
        channel,
    };
    let provider = provider_for(&input);
    let owed = provider.compute(&input).expect("tax");
    StoredTaxRecord {
        order: format!("shopify-{n}"),
        day: rc_tax_records::report::iso(day),
        state: TaxRecordState::Computed,
        reason: None,
        provider: Some(provider.name().into()),
        currency: currency.into(),
        ship_from: vec!["IN-MH".into()],
        ship_to: match &to.region {
            Some(r) => format!("{}-{r}", to.country),
            None => to.country.clone(),
        },
        owed: Some(owed),
        charged: None,
        order_version: 3,
        computed_at: time::OffsetDateTime::now_utc(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let orders: u64 = if benchmarking() { 100_000 } else { 500 };
    let rounds = if benchmarking() { 5 } else { 1 };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = EmbeddedDb::open(&dir.path().join("tax.db")).expect("db");
    let clock = Arc::new(SystemClock);
    let counting = Arc::new(Counting {
        inner: SqliteStore::new(db, "data", clock),
        counts: Default::default(),
    });
    let store: Arc<dyn Store> = counting.clone();
    let merchant = MerchantId::parse("bench-merchant").expect("merchant");
    let reset = || counting.counts.lock().expect("lock").clear();
    let counts = || counting.counts.lock().expect("lock").clone();

    // The merchant's data: per order its public item and a PII item...
    let started = Instant::now();
    let mut ops = Vec::with_capacity(100);
    for n in 0..orders {
        let partition = format!("M#{merchant}");
        ops.push(TxOp::Create(
            Item::new(ItemKey::new(
                partition.clone(),
                format!("ORDER#shopify-{n}"),
            ))
            .with("status", Value::S("shipped".into())),
        ));
        ops.push(TxOp::Create(
            Item::new(ItemKey::new(partition, format!("PII#shopify-{n}")))
                .with("buyer_name", Value::B(vec![7; 96])),
        ));
        if ops.len() >= 100 {
            store
                .transact(std::mem::take(&mut ops))
                .await
                .expect("load");
        }
    }
    if !ops.is_empty() {
        store.transact(ops).await.expect("load");
    }
    // ...and its tax record, written as the recorder writes it: with its day's totals.
    let records = TaxRecords::new(store.clone());
    let built: Vec<(OrderId, StoredTaxRecord)> = (0..orders)
        .map(|n| {
            (
                OrderId::parse(&format!("shopify-{n}")).expect("order"),
                record(n),
            )
        })
        .collect();
    reset();
    let writing = Instant::now();
    for (order, record) in &built {
        assert!(
            records
                .write(&merchant, order, record, None)
                .await
                .expect("write")
        );
    }
    let per_record = writing.elapsed().as_secs_f64() * 1e6 / orders as f64;
    let writes = counts();
    println!(
        "loaded {orders} orders in {:.1} s; a record with its day's totals: {per_record:.0} µs, store requests per record: {}",
        started.elapsed().as_secs_f64(),
        writes
            .iter()
            .map(|(kind, n)| format!("{kind} {:.2}", *n as f64 / orders as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let period = ReportPeriod::parse(Some("2026-11-01"), Some("2026-11-30")).expect("period");

    // The floor: every record's page read, nothing parsed or summed.
    let mut floor = Vec::new();
    let mut floor_items = 0;
    for _ in 0..rounds {
        reset();
        let start = Instant::now();
        let mut after: Option<PageToken> = None;
        floor_items = 0;
        loop {
            let page = store
                .query_partition(&format!("TAXREC#{merchant}"), "D#2026-11", PAGE, after)
                .await
                .expect("page");
            floor_items += page.items.len();
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        floor.push(start.elapsed());
    }
    floor.sort();
    let floor_queries = counts().get("Query").copied().unwrap_or(0);
    println!(
        "floor (page through {floor_items} records): median {:.0} ms, {floor_queries} queries",
        ms(floor[floor.len() / 2])
    );

    let reporter = TaxReporter::new(store.clone());
    println!("| group | from | median | min | queries | items read | GetItem | rows | counted |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (group, from_records) in [
        (ReportGroup::Jurisdiction, false),
        (ReportGroup::Gstr1, false),
        (ReportGroup::Oss, false),
        (ReportGroup::Jurisdiction, true),
        (ReportGroup::Gstr1, true),
        (ReportGroup::Oss, true),
    ] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..rounds {
            reset();
            let start = Instant::now();
            let report = if from_records {
                reporter.report_from_records(&merchant, period, group).await
            } else {
                reporter.report(&merchant, period, group).await
            }
            .expect("report");
            times.push(start.elapsed());
            last = Some(report);
        }
        times.sort();
        let report = last.expect("report");
        let c = counts();
        assert_eq!(c.get("GetItem").copied().unwrap_or(0), 0);
        assert_eq!(report.computed, orders);
        if from_records {
            assert_eq!(report.stats.items, orders, "the records, and nothing else");
            let totals = reporter
                .report(&merchant, period, group)
                .await
                .expect("report");
            assert_eq!(totals.rows(), report.rows(), "the totals equal the records");
        }
        println!(
            "| {group:?} | {} | {:.1} ms | {:.1} ms | {} | {} | {} | {} | {} |",
            if from_records {
                "records"
            } else {
                "daily totals"
            },
            ms(times[times.len() / 2]),
            ms(times[0]),
            c.get("Query").copied().unwrap_or(0),
            report.stats.items,
            c.get("GetItem").copied().unwrap_or(0),
            report.rows().len(),
            report.computed,
        );
        if group == ReportGroup::Gstr1 && !from_records {
            let start = Instant::now();
            let csv = report.to_csv();
            println!(
                "gstr1 CSV: {} bytes rendered in {:.3} ms",
                csv.len(),
                ms(start.elapsed())
            );
        }
    }
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
    {
        println!("peak resident memory of the whole bench (load included): {peak}");
    }
}
