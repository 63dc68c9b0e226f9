//! The example in docs/model-format.md is a valid model, and what the doc
//! says about it holds.

use axon::host::model::{Model, Task};

fn doc_example() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/model-format.md"))
        .unwrap();
    let start = doc.find("```json\n").expect("a json block") + 8;
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

#[test]
fn documented_example_parses_and_runs() {
    let m = Model::from_json_str(&doc_example()).unwrap();
    assert_eq!(m.inputs, 4);
    assert_eq!(m.outputs(), 3);
    assert_eq!(m.task, Task::Classification { classes: 3 });
    let p = m.forward(&[5.1, 3.5, 1.4, 0.2]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    // Written back, it reads back identical.
    assert_eq!(Model::from_json_str(&m.to_json_string()).unwrap(), m);
}

#[test]
fn documented_rejections_hold() {
    let ex = doc_example();
    for (from, to, says) in [
        (
            "\"version\": 1",
            "\"version\": 2",
            "version 2 is not supported",
        ),
        (
            "\"type\": \"relu\"",
            "\"type\": \"relu6\"",
            "unknown layer type \"relu6\"",
        ),
        (
            "\"type\": \"relu\"",
            "\"type\": \"relu\", \"slope\": 1",
            "unknown field \"slope\"",
        ),
        (
            "\"in\": 2",
            "\"in\": 3",
            "weight row 0 has 2 numbers, expected \"in\" = 3",
        ),
        (
            "0.4344109",
            "0",
            "preprocess.std[1] = 0 must be finite and > 0",
        ),
    ] {
        let bad = ex.replacen(from, to, 1);
        let err = format!("{:#}", Model::from_json_str(&bad).unwrap_err());
        assert!(err.contains(says), "`{err}` should say `{says}`");
    }
}
