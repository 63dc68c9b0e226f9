//! `axon quantize`, `axon export`, `axon eval` and `axon predict` on an
//! int8 model, end to end through the binary; the rounding option; every
//! command on a blob as on its JSON model; clear errors.

use std::path::Path;
use std::process::Command;

use axon_host::model::{Model, Runner};

const F32_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/int8/digits.json"
);

fn axon(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_axon"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn quantize_export_predict_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("m.int8.json");
    let (ok, out, err) = axon(&[
        "quantize",
        "--model",
        F32_MODEL,
        "--calib",
        "bundled:digits",
        "--samples",
        "300",
        "--out",
        s(&q),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("300 calibration samples"), "{out}");
    assert!(
        out.contains("accuracy  f32") && out.contains("agreement"),
        "{out}"
    );
    let m = Model::load(&q).unwrap();
    assert!(m.is_int8());
    assert_eq!(m.meta.quantization.as_ref().unwrap().samples, 300);

    let blob = dir.path().join("m.axon");
    let rs = dir.path().join("m.rs");
    let (ok, out, err) = axon(&[
        "export",
        "--model",
        s(&q),
        "--out",
        s(&blob),
        "--rust",
        s(&rs),
    ]);
    assert!(ok, "{err}");
    // The arena the report gives is the plan's peak.
    let arena = Runner::new(&m).unwrap().arena_len;
    assert!(
        out.contains("CRC-32")
            && out.contains(&format!("arena     {arena} bytes of RAM per inference")),
        "{out}"
    );
    let bytes = std::fs::read(&blob).unwrap();
    assert_eq!(&bytes[..4], b"AXON");
    assert!(
        out.contains(&format!("blob      {} bytes", bytes.len())),
        "{out}"
    );
    let source = std::fs::read_to_string(&rs).unwrap();
    assert!(
        source.contains("pub static GRAPH")
            && source.contains("pub fn forward(")
            && source.contains("pub fn classify("),
        "{source}"
    );
    assert!(source.contains(&format!("pub const GRAPH_ARENA_LEN: usize = {arena};")));

    let (ok, out, err) = axon(&["eval", "--model", s(&q), "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("samples: 1797") && out.contains("(int8)") && out.contains("accuracy: 9"),
        "{out}"
    );
    assert!(out.contains("confusion matrix"), "{out}");

    let (ok, out, err) = axon(&["predict", "--model", s(&q), "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1798);
    assert!(
        lines[0].starts_with("q_p_0,") && lines[0].ends_with(",p_9"),
        "{}",
        lines[0]
    );
    // Each row: 10 codes then 10 values, value = (code + 128)/256.
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 20);
        for i in 0..10 {
            let code: i32 = cells[i].parse().unwrap();
            let value: f32 = cells[10 + i].parse().unwrap();
            assert_eq!(value, (code + 128) as f32 / 256.0);
        }
    }
    // The blob is a model file like the JSON: the same codes and values on
    // every row. (A blob stores no labels, docs/blob-format.md, so its
    // columns are named `y0`, `y1`, ….)
    let (ok, from_blob, err) = axon(&["predict", "--model", s(&blob), "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    assert!(from_blob.starts_with("q_y0,"), "{from_blob}");
    assert_eq!(rows(&from_blob), rows(&out));
}

/// The data rows of a predict output, without its header.
fn rows(csv: &str) -> Vec<&str> {
    csv.lines().skip(1).collect()
}

#[test]
fn percentile_per_tensor_and_rounding_options_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("p.int8.json");
    let (ok, out, err) = axon(&[
        "quantize",
        "--model",
        F32_MODEL,
        "--calib",
        "bundled:digits",
        "--percentile",
        "99.9",
        "--per-tensor",
        "--rounding",
        "single",
        "--out",
        s(&q),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("percentile 99.9") && out.contains("per-tensor"),
        "{out}"
    );
    let text = std::fs::read_to_string(&q).unwrap();
    assert!(
        text.contains("\"calibration\": \"percentile\", \"percentile\": 99.9")
            && text.contains("\"per_channel\": false, \"rounding\": \"single\""),
        "{text}"
    );
    // One weight scale per layer, and one multiplier.
    let m = Model::from_json_str(&text).unwrap();
    for name in ["fc1.weight", "fc2.weight"] {
        let t = &m.graph.tensors[m.graph.find(name).unwrap()];
        assert!(t.quant.params().is_some(), "{name}: {:?}", t.quant);
    }
    assert_eq!(
        text.matches("\"rounding\":\"single\",\"shift\":[").count(),
        2
    );
    assert!(!text.contains("\"rounding\":\"double\""));
    // The Rust export's packed layers round once too.
    let rs = dir.path().join("p.rs");
    let (ok, _, err) = axon(&["export", "--model", s(&q), "--rust", s(&rs)]);
    assert!(ok, "{err}");
    let source = std::fs::read_to_string(&rs).unwrap();
    assert_eq!(source.matches(".run_single(x0, y);").count(), 2);
    assert!(!source.contains("run_double"));
    // A mode that is not one.
    let (ok, _, err) = axon(&[
        "quantize",
        "--model",
        F32_MODEL,
        "--calib",
        "bundled:digits",
        "--rounding",
        "half",
        "--out",
        s(&q),
    ]);
    assert!(!ok);
    assert!(
        err.contains("unknown rounding \"half\" (expected double or single)"),
        "{err}"
    );
}

#[test]
fn an_f32_model_exports_too_and_its_blob_predicts_the_same_bits() {
    // Version 1 refused this ("quantize it first"); the graph's blob and Rust
    // export take f32 models.
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("f.axon");
    let rs = dir.path().join("f.rs");
    let (ok, out, err) = axon(&[
        "export",
        "--model",
        F32_MODEL,
        "--out",
        s(&blob),
        "--rust",
        s(&rs),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("(f32,"), "{out}");
    let (ok, a, err) = axon(&["predict", "--model", F32_MODEL, "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    let (ok, b, err) = axon(&["predict", "--model", s(&blob), "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    assert_eq!(rows(&a), rows(&b));
    assert_eq!(rows(&a).len(), 1797);
    assert!(a.starts_with("p_0,") && !a.contains("q_"));
    assert!(std::fs::read_to_string(&rs)
        .unwrap()
        .contains("pub fn forward("));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    let mut text = String::from("p0");
    for i in 1..64 {
        text.push_str(&format!(",p{i}"));
    }
    text.push_str(",digit\n");
    text.push_str(&"1,".repeat(63));
    text.push_str("x,3\n");
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("o.json");
    let (ok, _, err) = axon(&[
        "quantize",
        "--model",
        F32_MODEL,
        "--calib",
        s(&csv),
        "--out",
        s(&out),
    ]);
    assert!(!ok);
    assert!(err.contains("bad.csv: row 2, column 64 (\"p63\")"), "{err}");
    assert!(!out.exists());

    let (ok, _, err) = axon(&["export", "--model", F32_MODEL]);
    assert!(!ok);
    assert!(err.contains("nothing to do"), "{err}");

    let (ok, _, err) = axon(&[
        "quantize",
        "--model",
        F32_MODEL,
        "--calib",
        "bundled:digits",
        "--samples",
        "0",
        "--out",
        s(&out),
    ]);
    assert!(!ok);
    assert!(err.contains("--samples must be at least 1"), "{err}");

    // An int8 model is not quantized again.
    let q = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/int8/digits.int8.json"
    );
    let (ok, _, err) = axon(&[
        "quantize",
        "--model",
        q,
        "--calib",
        "bundled:digits",
        "--out",
        s(&out),
    ]);
    assert!(!ok);
    assert!(err.contains("the model is already int8"), "{err}");

    // A data file where a model belongs.
    let (ok, _, err) = axon(&[
        "export",
        "--model",
        s(&csv),
        "--out",
        s(&dir.path().join("x.axon")),
    ]);
    assert!(!ok);
    assert!(
        err.contains("is a text file that is not a JSON model (a CSV data file?)"),
        "{err}"
    );
}
