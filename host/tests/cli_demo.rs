//! `axon demo` runs the pipeline on the bundled digits — train, evaluate,
//! quantize, export — and reports.

use std::process::Command;

#[test]
fn demo_trains_evaluates_and_reports() {
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_axon"))
        .args(["demo", "--quiet", "--out-dir", d.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("axon demo: handwritten digits"),
        "{stdout}"
    );
    let acc_line = stdout
        .lines()
        .find(|l| l.contains("f32 validation accuracy"))
        .expect("an accuracy line");
    let pct: f64 = acc_line
        .split("accuracy ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(pct >= 96.0, "{acc_line}");
    let model = axon_host::model::Model::load(&d.path().join("model.json")).unwrap();
    assert_eq!((model.inputs(), model.outputs()), (64, 10));
    // The quantize and export steps report and write their files.
    assert!(stdout.contains("quantize  int8"), "{stdout}");
    assert!(
        stdout.contains("accuracy  f32") && stdout.contains("agreement"),
        "{stdout}"
    );
    assert!(stdout.contains("blob = int8 JSON bit for bit"), "{stdout}");
    let q = axon_host::model::Model::load(&d.path().join("model.int8.json")).unwrap();
    assert!(q.is_int8());
    let blob = std::fs::read(d.path().join("model.axon")).unwrap();
    assert_eq!(&blob[..4], b"AXON");
    let rs = std::fs::read_to_string(d.path().join("model.rs")).unwrap();
    assert!(rs.contains("pub static GRAPH") && rs.contains("pub fn forward("));
}
