//! Short property-based fuzzing inside the normal test run: arbitrary bytes and
//! text into the loaders and the pipeline parser never panic. The long runs use
//! `cargo fuzz` (see docs/fuzzing.md).

use proptest::prelude::*;
use zhibao::load::source::Format;
use zhibao::model::{uscc, Month, Table};

/// Text that looks like a contract CSV file of table `t`: its required columns
/// (under the English or the Chinese heading, in any order), maybe some optional
/// and unknown ones, and rows of plausible and odd values, so that most inputs
/// get past the headings into the typed conversion.
fn csvish() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0usize..Table::ALL.len())
        .prop_flat_map(|t| {
            let spec = Table::ALL[t].spec();
            let columns: Vec<(&'static str, &'static str, bool)> = spec
                .columns
                .iter()
                .map(|c| (c.name, c.zh.first().copied().unwrap_or(c.name), c.required))
                .collect();
            let n = columns.len();
            let cell = prop::sample::select(vec![
                "91110000600037341L",
                "91340100MA2N0X1234",
                "2026-09",
                "2026年9月",
                "202609",
                "2026/13",
                "2026-09-15 10:00:00",
                "1,234",
                "1234.5",
                "0",
                "NaN",
                "１２３",
                "\"a,b\"",
                "\"",
                "",
                " ",
                "-0",
                "1e400",
                "大型",
                "是",
                "\u{FEFF}",
                "341002",
                "3670",
                "C",
            ]);
            (
                Just(t),
                Just(columns),
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(any::<bool>(), n),
                Just(()).prop_perturb(move |_, mut rng| {
                    let mut order: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        order.swap(i, (rng.next_u32() as usize) % (i + 1));
                    }
                    order
                }),
                any::<bool>(),
                prop::collection::vec(prop::collection::vec(cell, 0..n + 2), 0..12),
                prop::sample::select(vec![",", ";", "\t"]),
                any::<bool>(),
            )
        })
        .prop_map(
            |(t, columns, keep, chinese, order, unknown, rows, sep, crlf)| {
                let mut heads: Vec<&str> = order
                    .iter()
                    .filter(|&&i| columns[i].2 || keep[i])
                    .map(|&i| {
                        if chinese[i] {
                            columns[i].1
                        } else {
                            columns[i].0
                        }
                    })
                    .collect();
                if unknown {
                    heads.push("备注");
                }
                let nl = if crlf { "\r\n" } else { "\n" };
                let mut s = heads.join(sep);
                for r in rows {
                    s.push_str(nl);
                    s.push_str(&r.join(sep));
                }
                (t, s.into_bytes())
            },
        )
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
    fn the_csv_loader_never_panics_on_csv_like_text((t, bytes) in csvish()) {
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

/// The CSV-like inputs must mostly get past the headings, or the fuzzing above
/// would only ever exercise the heading check.
#[test]
fn csv_like_inputs_reach_the_typed_conversion() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = csvish();
    let (mut typed, mut rows) = (0, 0);
    let n = 300;
    for _ in 0..n {
        let (t, bytes) = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok((read, _)) = zhibao::load::read_and_type(Table::ALL[t], Format::Csv, bytes) {
            typed += 1;
            rows += read;
        }
    }
    assert!(typed * 2 > n, "only {typed} of {n} inputs were typed");
    assert!(rows > n, "only {rows} rows were typed");
}
