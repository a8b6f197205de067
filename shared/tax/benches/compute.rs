//! Tax computation per order, on one core: India GST (five lines at three slabs, intra- and
//! inter-state, shipping) and EU VAT (five lines, OSS), beside the floor — one pass over the
//! lines adding their values, the least any computation must do.
//!
//!   cargo bench -p rc-tax --bench compute

use std::hint::black_box;
use std::time::{Duration, Instant};

use rc_domain::Currency;
use rc_tax::{LineInput, Place, TaxInput, provider_for};

fn order(
    currency: &str,
    from: (&str, Option<&str>),
    to: (&str, Option<&str>),
    gst: bool,
) -> TaxInput {
    let classes = rc_tax::india::seed_classes();
    let names = ["gst-5", "gst-18", "gst-40", "apparel", "apparel"];
    let lines = (0..5)
        .map(|i| LineInput {
            quantity: 1 + i as u32,
            unit_price: 49_900 + 100_000 * i as i64,
            discount: if i == 2 { 5_000 } else { 0 },
            gst: gst.then(|| classes[names[i]].clone()),
            vat: None,
            from: None,
        })
        .collect();
    let place = |(country, region): (&str, Option<&str>)| Place {
        country: country.into(),
        region: region.map(str::to_owned),
    };
    TaxInput {
        currency: Currency::parse(currency).expect("currency"),
        date: time::macros::date!(2026 - 02 - 01),
        prices_include_tax: true,
        lines,
        shipping: 9_900,
        from: place(from),
        to: place(to),
        below_eu_threshold: false,
        reported_scheme: None,
        channel: None,
    }
}

fn per_order(n: u32, mut work: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        work();
    }
    started.elapsed() / n
}

fn main() {
    let n = if std::env::args().any(|a| a == "--bench") {
        200_000
    } else {
        100
    };
    let cases = [
        (
            "India GST, intra-state (MH → MH)",
            order("INR", ("IN", Some("MH")), ("IN", Some("MH")), true),
        ),
        (
            "India GST, inter-state (MH → KA)",
            order("INR", ("IN", Some("MH")), ("IN", Some("KA")), true),
        ),
        (
            "EU VAT, OSS (DE → FR)",
            order("EUR", ("DE", None), ("FR", None), false),
        ),
    ];
    for (name, input) in &cases {
        let floor = per_order(n, || {
            let total: i64 = input
                .lines
                .iter()
                .map(|l| l.unit_price * i64::from(l.quantity) - l.discount)
                .sum();
            black_box(total);
        });
        let provider = provider_for(input);
        let cost = per_order(n, || {
            black_box(provider.compute(black_box(input)).expect("tax"));
        });
        println!(
            "{name}: {:.2} µs per order of 5 lines + shipping ({}; floor, adding the lines: {:.3} µs)",
            cost.as_secs_f64() * 1e6,
            provider.name(),
            floor.as_secs_f64() * 1e6
        );
    }
}
