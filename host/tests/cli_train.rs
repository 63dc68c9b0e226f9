//! The `axon` binary end to end: train (a chain from `--layers`, a
//! residual graph from `--arch`), eval, predict, plot, convert, errors.

use std::path::Path;
use std::process::{Command, Output};

use axon_host::model::{Model, Runner};
use axon_host::ops::Op;

fn axon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_axon"))
        .args(args)
        .output()
        .expect("run axon")
}

fn ok(args: &[&str]) -> String {
    let out = axon(args);
    assert!(
        out.status.success(),
        "axon {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn train_eval_predict_on_iris() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("iris.json");
    let plot = d.path().join("curve.png");
    let report = ok(&[
        "train",
        "--data",
        "bundled:iris",
        "--layers",
        "4,16,3",
        "--lr",
        "1e-2",
        "--epochs",
        "30",
        "--batch",
        "16",
        "--out",
        p(&model),
        "--plot",
        p(&plot),
    ]);
    assert!(report.contains("val accuracy"), "{report}");
    assert!(report.contains("blue = training loss"), "{report}");
    let png = std::fs::read(&plot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let eval = ok(&["eval", "--model", p(&model), "--data", "bundled:iris"]);
    assert!(
        eval.contains("accuracy: ") && eval.contains("confusion matrix"),
        "{eval}"
    );
    // The confusion matrix counts every sample once.
    let counts: usize = eval
        .lines()
        .skip_while(|l| !l.starts_with("confusion"))
        .skip(2)
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|c| c.parse::<usize>().unwrap())
        })
        .sum();
    assert_eq!(counts, 150);

    // predict: every output, printed so it reads back bit-identical, equal
    // to the model run through the core's interpreter.
    let preds = d.path().join("preds.csv");
    ok(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        "bundled:iris",
        "--out",
        p(&preds),
    ]);
    let m = Model::load(&model).unwrap();
    let run = Runner::new(&m).unwrap();
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "p_0,p_1,p_2");
    let iris = axon_host::data::Table::read("bundled:iris", axon_host::data::Header::Auto).unwrap();
    let x = iris.numbers(&[0, 1, 2, 3]).unwrap();
    let mut n = 0;
    for (line, raw) in lines.zip(x.chunks_exact(4)) {
        let got: Vec<u32> = line
            .split(',')
            .map(|v| v.parse::<f32>().unwrap().to_bits())
            .collect();
        let want: Vec<u32> = run.run(raw).unwrap().iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
        n += 1;
    }
    assert_eq!(n, 150);

    // Features only (no target column) give the same predictions.
    let feats = d.path().join("features.csv");
    let mut f = String::from("sepal_length,sepal_width,petal_length,petal_width\n");
    for row in &iris.rows {
        f.push_str(&row[..4].join(","));
        f.push('\n');
    }
    std::fs::write(&feats, f).unwrap();
    let stdout = ok(&["predict", "--model", p(&model), "--data", p(&feats)]);
    assert_eq!(stdout, text);
}

#[test]
fn same_seed_same_file_from_the_command_line() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.json");
    let b = d.path().join("b.json");
    let args = |out: &Path| {
        vec![
            "train".to_owned(),
            "--data".into(),
            "bundled:sine".into(),
            "--loss".into(),
            "mse".into(),
            "--layers".into(),
            "1,8,1".into(),
            "--activation".into(),
            "tanh".into(),
            "--steps".into(),
            "300".into(),
            "--optimizer".into(),
            "sgd".into(),
            "--momentum".into(),
            "0.9".into(),
            "--nesterov".into(),
            "--lr".into(),
            "0.05".into(),
            "--schedule".into(),
            "step".into(),
            "--warmup".into(),
            "20".into(),
            "--clip".into(),
            "1.0".into(),
            "--seed".into(),
            "11".into(),
            "--quiet".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let out = axon(&args(&a).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "--quiet prints nothing"
    );
    ok(&args(&b).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn malformed_csv_fails_cleanly_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("bad.csv");
    std::fs::write(&csv, "a,b,y\n1,2,0\n1,2,1\n4,x,1\n").unwrap();
    let model = d.path().join("m.json");
    let out = axon(&["train", "--data", p(&csv), "--out", p(&model), "--quiet"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: row 4, column 2 (\"b\"): expected a number, found \"x\"",
            p(&csv)
        )),
        "{err}"
    );
    assert!(!model.exists());
}

#[test]
fn divergence_exits_non_zero_names_the_step_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("m.json");
    let out = axon(&[
        "train",
        "--data",
        "bundled:sine",
        "--loss",
        "mse",
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--quiet",
        "--out",
        p(&model),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("training diverged at step "), "{err}");
    assert!(
        err.contains("last finite loss") && err.contains("lower --lr"),
        "{err}"
    );
    assert!(!model.exists());
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "no temporary files left"
    );
}

#[test]
fn shape_errors_are_explained() {
    let out = axon(&[
        "train",
        "--data",
        "bundled:iris",
        "--layers",
        "5,8,3",
        "--quiet",
        "--out",
        "/dev/null",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--layers starts with 5, but the data has 4 input columns"),
        "{err}"
    );
    let out = axon(&[
        "train",
        "--data",
        "bundled:iris",
        "--layers",
        "4,8,2",
        "--quiet",
        "--out",
        "/dev/null",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--layers ends with 2, but --loss ce on this data needs 3 outputs"),
        "{err}"
    );
}

#[test]
fn init_continues_from_the_given_model() {
    let d = tempfile::tempdir().unwrap();
    let first = d.path().join("first.json");
    let second = d.path().join("second.json");
    ok(&[
        "train",
        "--data",
        "bundled:iris",
        "--epochs",
        "2",
        "--quiet",
        "--out",
        p(&first),
    ]);
    ok(&[
        "train",
        "--data",
        "bundled:iris",
        "--init",
        p(&first),
        "--optimizer",
        "sgd",
        "--lr",
        "1e-30",
        "--steps",
        "2",
        "--quiet",
        "--out",
        p(&second),
    ]);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
}

#[test]
fn headerless_csv_with_target_first() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("h.csv");
    let feats = d.path().join("f.csv");
    let mut all = String::new();
    let mut only = String::new();
    for i in 0..40 {
        let (a, b) = (i as f32 * 0.1, (i % 7) as f32);
        all.push_str(&format!("{},{a},{b}\n", a * 2.0 - b));
        only.push_str(&format!("{a},{b}\n"));
    }
    std::fs::write(&csv, all).unwrap();
    std::fs::write(&feats, only).unwrap();
    let model = d.path().join("m.json");
    ok(&[
        "train",
        "--data",
        p(&csv),
        "--target",
        "1",
        "--loss",
        "mse",
        "--epochs",
        "3",
        "--quiet",
        "--out",
        p(&model),
    ]);
    let m = Model::load(&model).unwrap();
    assert_eq!(m.meta.features, ["c2", "c3"]);
    assert_eq!(m.meta.target, "c1");
    let with_target = ok(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        p(&csv),
        "--target",
        "1",
    ]);
    let features_only = ok(&["predict", "--model", p(&model), "--data", p(&feats)]);
    assert_eq!(with_target, features_only);
    assert_eq!(with_target.lines().count(), 41);
}

#[test]
fn train_with_an_architecture_file_builds_a_residual_graph() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("res.json");
    let arch = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/digits_residual.toml"
    );
    let report = ok(&[
        "train",
        "--data",
        "bundled:digits",
        "--arch",
        arch,
        "--epochs",
        "2",
        "--out",
        p(&model),
    ]);
    assert!(
        report.contains(
            "model: 64 → standardize → fully_connected 64 → relu → fully_connected 64 → relu → \
             fully_connected 64 → add (+) → fully_connected 64 → relu → fully_connected 64 → add (+) → \
             fully_connected 10 → softmax"
        ),
        "{report}"
    );
    let m = Model::load(&model).unwrap();
    let adds: Vec<&str> = m
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Add(_)))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(adds, ["blocks.0.add", "blocks.1.add"]);
    assert!(m.graph.find("blocks.1.fc2.weight").is_some());
    assert_eq!(
        m.parameter_count(),
        64 * 64 + 64 + 4 * (64 * 64 + 64) + 64 * 10 + 10 + 2 * 64
    );
    // It evaluates and predicts like any model.
    let eval = ok(&["eval", "--model", p(&model), "--data", "bundled:digits"]);
    assert!(
        eval.contains("samples: 1797") && eval.contains("accuracy: "),
        "{eval}"
    );
    // The same seed, the same file.
    let again = d.path().join("again.json");
    ok(&[
        "train",
        "--data",
        "bundled:digits",
        "--arch",
        arch,
        "--epochs",
        "2",
        "--quiet",
        "--out",
        p(&again),
    ]);
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn architecture_file_errors_are_explained() {
    let d = tempfile::tempdir().unwrap();
    let arch = d.path().join("a.toml");
    let model = d.path().join("m.json");
    let cases = [
        ("[[layer]]\ndens = 8\n", "dens"),
        (
            "[[layer]]\nresidual = [{ dense = 3 }]\n",
            "a residual block takes 4 values and its body gives 3",
        ),
        (
            "[[layer]]\ndense = 8\nactivation = \"softmax\"\n",
            "softmax is the loss's head",
        ),
        (
            "[[layer]]\ndense = 8\nactivation = \"swish\"\n",
            "unknown activation 'swish'",
        ),
    ];
    for (text, says) in cases {
        std::fs::write(&arch, text).unwrap();
        let out = axon(&[
            "train",
            "--data",
            "bundled:iris",
            "--arch",
            p(&arch),
            "--quiet",
            "--out",
            p(&model),
        ]);
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{text}: `{err}` should say `{says}`");
        assert!(!model.exists());
    }
    // --layers and --arch both give the shape.
    std::fs::write(&arch, "[[layer]]\ndense = 8\n").unwrap();
    let out = axon(&[
        "train",
        "--data",
        "bundled:iris",
        "--arch",
        p(&arch),
        "--layers",
        "4,8,3",
        "--quiet",
        "--out",
        p(&model),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn convert_writes_version_1_files_as_version_2_with_the_same_outputs() {
    let d = tempfile::tempdir().unwrap();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/v1");
    for old in ["digits.json", "digits.int8.json", "digits.axon"] {
        let src = format!("{data}/{old}");
        let new = d.path().join(format!("{old}.v2.json"));
        let out = axon(&["convert", "--model", &src, "--out", p(&new)]);
        assert!(
            out.status.success(),
            "{old}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!("converted {src} → {}", p(&new))),
            "{stdout}"
        );
        let text = std::fs::read_to_string(&new).unwrap();
        assert!(text.contains("\"format\": \"axon-model\"") && text.contains("\"version\": 2"));
        let m = Model::from_json_str(&text).unwrap();
        assert_eq!(
            m.is_int8(),
            old.contains("int8") || old.ends_with(".axon"),
            "{old}"
        );
        // Every command reads the old file too, and computes the same bits.
        let before = ok(&["predict", "--model", &src, "--data", "bundled:digits"]);
        let after = ok(&["predict", "--model", p(&new), "--data", "bundled:digits"]);
        assert_eq!(before, after, "{old}");
        assert_eq!(after.lines().count(), 1798);
        // Reading a version-1 JSON file says it converted it.
        if old.ends_with(".json") {
            let out = axon(&["eval", "--model", &src, "--data", "bundled:digits"]);
            assert!(String::from_utf8_lossy(&out.stderr).contains("is a version-1 model file"));
        }
        // A version-2 file converts to itself.
        let again = d.path().join("again.json");
        ok(&["convert", "--model", p(&new), "--out", p(&again)]);
        assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
    }
    // Not a model: a plain message, no file.
    let csv = d.path().join("data.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let out = axon(&[
        "convert",
        "--model",
        p(&csv),
        "--out",
        p(&d.path().join("x.json")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a text file that is not a JSON model (a CSV data file?)"),
        "{err}"
    );
    assert!(!d.path().join("x.json").exists());
}
