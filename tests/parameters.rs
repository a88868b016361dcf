//! Parameters and settings are declared once (their name, type, default and range)
//! and read without a chance of a typo going unnoticed.
//!
//! A built-in rule reads its parameters into its own typed struct
//! (`cfg.params::<Tx001>()`), and the pipeline each settings section into its
//! stage's struct (`Grading`, …); such a struct has no defaults and rejects unknown
//! fields, so it must name exactly the parameters or settings declared, with
//! their types. The tests check that for every rule and every settings section
//! (the pipeline reads each section into its struct, a problem if it does not
//! fit), and
//! that a struct which does not fit is an error naming what does not.

use std::collections::BTreeSet;

use zhibao::rules::registry::{self, Kind};
use zhibao::settings::{codes, int, num, ParamSpec, Section, Values};

#[test]
fn every_built_in_rule_reads_its_parameters_into_a_struct_that_fits_them() {
    let mut typed = BTreeSet::new();
    for family in zhibao::rules::TYPED {
        for t in family.iter() {
            assert!(typed.insert(t.code), "{} has two structs", t.code);
            assert!(registry::get(t.code).is_some(), "{} is not a rule", t.code);
        }
    }
    for r in registry::all() {
        let entry = registry::typed_params(r.code);
        match r.kind {
            // A formula rule's parameters are the placeholders of its condition.
            Kind::Formula { .. } => assert!(entry.is_none(), "{}: formula with a struct", r.code),
            _ if r.params.is_empty() => {}
            _ => {
                let entry = entry.unwrap_or_else(|| panic!("{} has no typed parameters", r.code));
                // The defaults fill the struct: every field is declared, every
                // declared parameter is a field, each of its type.
                (entry.check)(&Values::defaults(r.params))
                    .unwrap_or_else(|e| panic!("{}: {e}", r.code));
            }
        }
    }
    assert!(
        typed.len() > 30,
        "only {} rules with typed parameters",
        typed.len()
    );
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Example {
    min_ratio: f64,
    min_peers: i64,
    divisions: Vec<String>,
}

static DECLARED: [ParamSpec; 3] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
];
static ONE_MORE: [ParamSpec; 4] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
    num("max_ratio", 1.1, None, None, "a ratio"),
];
static ONE_LESS: [ParamSpec; 2] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
];
static OTHER_TYPE: [ParamSpec; 3] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    num("min_peers", 10.5, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
];

#[test]
fn a_struct_that_does_not_fit_the_declared_parameters_is_an_error_naming_the_field() {
    let ok: Example = Values::defaults(&DECLARED).typed().unwrap();
    assert_eq!((ok.min_ratio, ok.min_peers), (0.9, 10));
    assert_eq!(ok.divisions, vec!["13".to_string()]);
    let err = |specs: &'static [ParamSpec]| Values::defaults(specs).typed::<Example>().unwrap_err();
    assert!(err(&ONE_MORE).contains("max_ratio"), "{}", err(&ONE_MORE));
    assert!(err(&ONE_LESS).contains("divisions"), "{}", err(&ONE_LESS));
    assert!(err(&OTHER_TYPE).contains("10.5"), "{}", err(&OTHER_TYPE));
}

/// Every settings section's defaults fill its stage's struct, and no other
/// section's do (each section checks against a struct of its own).
#[test]
fn every_settings_section_fills_its_stage_struct() {
    let sections = zhibao::pipeline::sections();
    for section in sections {
        (section.check)(&Values::defaults(section.settings))
            .unwrap_or_else(|e| panic!("[{}]: {e}", section.name));
        for other in sections.iter().filter(|o| o.name != section.name) {
            assert!(
                (section.check)(&Values::defaults(other.settings)).is_err(),
                "[{}] accepts the values of [{}]",
                section.name,
                other.name
            );
        }
    }
}

/// A section whose values have a key more than its struct has does not fit,
/// and the error names the key.
#[test]
fn a_section_with_a_key_its_struct_lacks_does_not_fit() {
    let section = Section {
        name: "example",
        doc: "a section read into `Example`",
        settings: &ONE_MORE,
        check: zhibao::settings::check::<Example>,
    };
    (section.check)(&Values::defaults(&DECLARED)).unwrap();
    let e = (section.check)(&Values::defaults(section.settings)).unwrap_err();
    assert!(e.contains("max_ratio"), "{e}");
}
