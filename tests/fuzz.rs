//! Short property-based fuzzing inside the normal test run: arbitrary bytes and
//! text into the loaders and the pipeline parser never panic. The long runs use
//! `cargo fuzz` (see docs/fuzzing.md).

use proptest::prelude::*;
use zhibao::load::source::Format;
use zhibao::model::{uscc, Month, Table};

/// Text that looks like a CSV file: headings of the contract and odd values.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let heads = prop::sample::select(vec![
        "uscc",
        "统一社会信用代码",
        "period",
        "所属期",
        "taxable_sales",
        "gross_output",
        "sales_output",
        "export_delivery",
        "name",
        "county_code",
        "industry_code",
        "entry_period",
        "x",
        "",
    ]);
    let cell = prop::sample::select(vec![
        "91110000600037341L",
        "2026-09",
        "2026/13",
        "1,234",
        "NaN",
        "１２３",
        "\"a,b\"",
        "\"",
        "",
        " ",
        "-0",
        "1e400",
        "大型",
        "\u{FEFF}",
        "341002",
        "3670",
    ]);
    (
        prop::collection::vec(heads, 1..8),
        prop::collection::vec(prop::collection::vec(cell, 0..9), 0..12),
        prop::sample::select(vec![",", ";", "\t"]),
        any::<bool>(),
    )
        .prop_map(|(h, rows, sep, crlf)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut s = h.join(sep);
            for r in rows {
                s.push_str(nl);
                s.push_str(&r.join(sep));
            }
            s.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn the_csv_loader_never_panics_on_bytes(t in 0usize..9, bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok((read, rejected)) = zhibao::load::read_and_type(Table::ALL[t], Format::Csv, bytes) {
            prop_assert!(rejected <= read);
        }
    }

    #[test]
    fn the_csv_loader_never_panics_on_csv_like_text(t in 0usize..9, bytes in csvish()) {
        if let Ok((read, rejected)) = zhibao::load::read_and_type(Table::ALL[t], Format::Csv, bytes) {
            prop_assert!(rejected <= read);
        }
    }

    #[test]
    fn the_excel_loader_never_panics(t in 0usize..9, bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut b = b"PK\x03\x04".to_vec();
        b.extend(bytes);
        let _ = zhibao::load::read_and_type(Table::ALL[t], Format::Excel, b);
    }

    #[test]
    fn the_pipeline_parser_never_panics(text in "(\\[\\[rule\\]\\]\ncode = \"(IN00[1-9]|TX00[1-3]|ZZ9)\"\n|params = \\{ [a-z_]{1,12} = [0-9a-z\"\\.\\[\\]]{0,6} \\}\n|\\[(grading|query_list|pipeline|x)\\]\n|[a-z_]{1,10} = [0-9\"a-z]{0,5}\n|fails_when = \"[a-z_ ><=0-9()]{0,30}\"\n|[\\[\\]=\"\n#]){0,30}") {
        if let Err(e) = zhibao::pipeline::Pipeline::from_text("p.toml", &text) {
            prop_assert!(!e.problems.is_empty());
        }
    }

    #[test]
    fn month_and_uscc_parsers_never_panic(s in "\\PC{0,24}") {
        let _ = Month::parse_lenient(&s);
        let _ = uscc::validate(&s);
    }
}
