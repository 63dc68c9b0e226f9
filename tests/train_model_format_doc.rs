//! docs/model-format.md cannot rot: every `json` block in it is a complete
//! model file that loads, runs and reads back as written (the f32 example
//! exactly as the writer writes it; the int8 example exactly as the
//! quantizer makes it from the f32 one today), the rejections it describes
//! happen with the messages it implies, and every op has its section.

use axon::host::data::{Header, Table};
use axon::host::model::{Model, Runner, Task};
use axon::host::ops::Op;
use axon::host::quantize::{quantize, QuantizeOptions};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/model-format.md")).unwrap()
}

/// The `json` blocks (not `jsonc` excerpts), in order.
fn json_blocks() -> Vec<String> {
    let doc = doc();
    let mut out = Vec::new();
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("```json\n") {
        let body = &rest[at + 8..];
        let end = body.find("```").expect("an unclosed block");
        out.push(body[..end].to_owned());
        rest = &body[end + 3..];
    }
    out
}

fn examples() -> (String, String) {
    let b = json_blocks();
    assert_eq!(b.len(), 2, "the f32 example and the int8 example");
    (b[0].clone(), b[1].clone())
}

fn err(text: &str) -> String {
    format!("{:#}", Model::from_json_str(text).unwrap_err())
}

#[test]
fn every_json_block_is_a_model_that_loads_and_reads_back_as_written() {
    for (i, text) in json_blocks().iter().enumerate() {
        let m = Model::from_json_str(text).unwrap_or_else(|e| panic!("block {i}: {e:#}"));
        assert_eq!(
            &m.to_json_string().unwrap(),
            text,
            "block {i} is not what the writer writes"
        );
        Runner::new(&m).unwrap();
    }
}

#[test]
fn documented_f32_example_parses_and_runs() {
    let (f32_text, _) = examples();
    let m = Model::from_json_str(&f32_text).unwrap();
    assert!(!m.is_int8());
    assert_eq!(m.inputs(), 4);
    assert_eq!(m.outputs(), 3);
    assert_eq!(m.meta.task, Task::Classification { classes: 3 });
    assert_eq!(
        m.summary(),
        "4 → standardize → fully_connected 2 → relu → fully_connected 3 → softmax"
    );
    let p = Runner::new(&m).unwrap().run(&[5.1, 3.5, 1.4, 0.2]).unwrap();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{p:?}");
    assert_eq!(
        Model::from_json_str(&m.to_json_string().unwrap()).unwrap(),
        m
    );
}

#[test]
fn documented_int8_example_is_the_f32_example_quantized() {
    let (f32_text, int8_text) = examples();
    let q = Model::from_json_str(&int8_text).unwrap();
    assert!(q.is_int8());
    let f = Model::from_json_str(&f32_text).unwrap();
    // `axon quantize --calib bundled:iris`: every row.
    let table = Table::read("bundled:iris", Header::Auto).unwrap();
    let x = table.numbers(&[0, 1, 2, 3]).unwrap();
    let made = quantize(&f, &x, "bundled:iris", &QuantizeOptions::default()).unwrap();
    assert!(
        made.to_json_string().unwrap() == int8_text,
        "docs/model-format.md's int8 example is stale: it is no longer what the quantizer makes of the f32 example"
    );
    assert_eq!(made, q);
    // It classifies as the f32 model does on the iris rows.
    let (rf, rq) = (Runner::new(&f).unwrap(), Runner::new(&q).unwrap());
    let (cf, cq) = (rf.classify_rows(&x).unwrap(), rq.classify_rows(&x).unwrap());
    let agree = cf.iter().zip(&cq).filter(|(a, b)| a == b).count();
    assert!(agree * 100 >= 95 * cf.len(), "{agree} of {}", cf.len());
}

#[test]
fn documented_rejections_hold() {
    let (ex, int8) = examples();
    for (from, to, says) in [
        (
            "\"version\": 2",
            "\"version\": 3",
            "model file version 3 is not supported",
        ),
        // relu6 is a fused activation of int8 nodes, not an op.
        (
            "\"op\": \"relu\"",
            "\"op\": \"relu6\"",
            "node relu1 (relu6): unknown op \"relu6\"",
        ),
        (
            "\"output\": \"relu1.out\"}",
            "\"output\": \"relu1.out\", \"attrs\": {\"slope\": 1}}",
            "unknown field `slope`",
        ),
        (
            "\"output\": \"relu1.out\"}",
            "\"output\": \"relu1.out\", \"slope\": 1}",
            "unknown field `slope`",
        ),
        (
            "\"shape\": [2, 4]",
            "\"shape\": [2, 3]",
            "tensor fc1.weight has shape [2, 3] (6 values) but 8 values of data",
        ),
        (
            "0.4344109",
            "0",
            "node input (standardize): std[1] = 0 must be positive",
        ),
        (
            "0.4344109",
            "1e39",
            "tensor input.std value 1 is not finite",
        ),
        (
            "\"type\": \"f32\"}",
            "\"type\": \"f16\"}",
            "tensor x: unknown type \"f16\"",
        ),
        (
            "\"format\": \"axon-model\"",
            "\"format\": \"axon-model-int8\"",
            "a version-1 name",
        ),
    ] {
        assert!(ex.contains(from), "the example has no `{from}`");
        let bad = ex.replacen(from, to, 1);
        let e = err(&bad);
        assert!(e.contains(says), "`{e}` should say `{says}`");
    }
    for (from, to, says) in [
        (
            "\"multiplier\":[2112731965,",
            "\"multiplier\":[2112731966,",
            "node fc1 (fully_connected): channel 0's (multiplier, shift) is (2112731966, -6), but its input, weight and output scales give (2112731965, -6)",
        ),
        (
            "\"rounding\":\"double\",\"shift\":[-6,-6]",
            "\"roundng\":\"double\",\"shift\":[-6,-6]",
            "unknown field `roundng`",
        ),
        (
            "\"data\": [13, -32,",
            "\"data\": [130, -32,",
            "tensor fc1.weight: value 0 is 130, not an integer in -128..=127",
        ),
        (
            "\"input_left_shift\":21",
            "\"input_left_shift\":22",
            "node softmax1 (softmax): (input_multiplier, input_left_shift, diff_min) is",
        ),
    ] {
        assert!(int8.contains(from), "the int8 example has no `{from}`");
        let e = err(&int8.replacen(from, to, 1));
        assert!(e.contains(says), "`{e}` should say `{says}`");
    }
}

#[test]
fn every_op_has_its_section() {
    let doc = doc();
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
    for name in Op::NAMES {
        assert!(
            headings.iter().any(|h| h.contains(&format!("`{name}`"))),
            "docs/model-format.md has no section for `{name}`"
        );
    }
}
