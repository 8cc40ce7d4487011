//! The published JSON Schema matches the code, and bundled scenarios are
//! valid.

use crate::harness::{root, run_in};

#[test]
fn docs_schema_is_current() {
    let run = run_in(&root(), &["schema"]);
    run.expect_code(0);
    let committed = std::fs::read_to_string(root().join("docs/scenario.schema.json")).unwrap();
    assert_eq!(
        run.stdout().trim(),
        committed.trim(),
        "docs/scenario.schema.json is stale: run `outage-drill schema > docs/scenario.schema.json`"
    );
}

#[test]
fn bundled_and_contract_examples_validate() {
    let mut args = vec!["validate".to_string()];
    for dir in ["scenarios", "../shared/spec/examples"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                args.push(path.display().to_string());
            }
        }
    }
    assert!(args.len() >= 6, "{args:?}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(&root(), &args).expect_code(0);
}
