//! The crate's top-level modules and the imports between them: no module may
//! join an import cycle. The stages (`rules`, `grade`, `rank`, `report`) own
//! their settings, declared with the types of `settings`; `pipeline` composes
//! them from a pipeline file and no stage reads it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its files name as `crate::…`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    common::rust_sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        let edges = graph.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module && name.chars().all(|c| !c.is_uppercase()) {
                edges.insert(name);
            }
        }
    }
    // Only edges to modules of the crate.
    let names: BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|m| names.contains(m));
    }
    graph
}

/// The modules reachable from `from`.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        for next in graph.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn no_module_is_in_an_import_cycle() {
    let graph = imports();
    assert!(
        graph.contains_key("pipeline") && graph.contains_key("error"),
        "the module graph was not read: {graph:?}"
    );
    let mut in_cycles = BTreeSet::new();
    for m in graph.keys() {
        if reachable(&graph, m).contains(m) {
            in_cycles.insert(m.clone());
        }
    }
    assert!(
        in_cycles.is_empty(),
        "modules in an import cycle: {in_cycles:?}\n{graph:#?}"
    );
    // No stage reads the pipeline file's composition: each is given its own
    // settings.
    for stage in ["rules", "grade", "rank", "report"] {
        assert!(
            !reachable(&graph, stage).contains("pipeline"),
            "{stage} reaches the pipeline module: {:?}",
            graph[stage]
        );
    }
    // The error type, the data model and the settings' types stay leaves.
    for leaf in ["error", "model", "settings"] {
        assert!(
            graph[leaf].is_empty(),
            "{leaf} imports {:?}; it must import no other module of the crate",
            graph[leaf]
        );
    }
}
