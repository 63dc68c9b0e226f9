//! `axon quantize`, `axon export` and `axon predict` on an int8 model, end
//! to end through the binary.

use std::path::Path;
use std::process::Command;

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
    assert!(
        out.contains("CRC-32") && out.contains("scratch   128 bytes"),
        "{out}"
    );
    let bytes = std::fs::read(&blob).unwrap();
    assert_eq!(&bytes[..4], b"AXON");
    assert!(std::fs::read_to_string(&rs)
        .unwrap()
        .contains("pub static MODEL"));

    let (ok, out, err) = axon(&["eval", "--model", s(&q), "--data", "bundled:digits"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("samples: 1797") && out.contains("accuracy (int8): 9"),
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
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), 20);
    for i in 0..10 {
        let code: i32 = cells[i].parse().unwrap();
        let value: f32 = cells[10 + i].parse().unwrap();
        assert_eq!(value, (code + 128) as f32 / 256.0);
    }
}

#[test]
fn percentile_and_per_tensor_options_are_recorded() {
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
        "--out",
        s(&q),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("percentile 99.9") && out.contains("per-tensor"),
        "{out}"
    );
    let text = std::fs::read_to_string(&q).unwrap();
    assert!(text.contains("\"method\": \"percentile\"") && text.contains("\"percentile\": 99.9"));
    assert!(text.contains("\"weight_scales\": [") && text.contains("\"multiplier\": ["));
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

    let (ok, _, err) = axon(&[
        "export",
        "--model",
        F32_MODEL,
        "--out",
        s(&dir.path().join("x.axon")),
    ]);
    assert!(!ok);
    assert!(err.contains("quantize it first"), "{err}");

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
}
