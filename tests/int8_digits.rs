//! The int8 acceptance test on digits: post-training quantization keeps the
//! validation accuracy within 1.0 point of f32 and the decisions agree on
//! at least 98% of samples.

use std::path::Path;

use axon::host::data::{Header, Table};
use axon::host::model::Model;
use axon::host::quantize::{compare, quantize, Calibration, Int8Model, QuantizeOptions};
use axon::host::train::{prepare, Loss};

const SEED: u64 = 7; // the split tests/data/int8/digits.json was trained on (its README)
const VAL_SPLIT: f64 = 0.2;

fn digits_model() -> Model {
    Model::load(Path::new("tests/data/int8/digits.json")).unwrap()
}

#[test]
fn int8_validation_accuracy_is_within_one_point_of_f32_and_agrees_on_98_percent() {
    let model = digits_model();
    let table = Table::read("bundled:digits", Header::Auto).unwrap();
    let data = prepare(&table, None, Loss::Ce, VAL_SPLIT, SEED).unwrap();
    let (train_x, _) = data.rows(&data.train);
    let (val_x, val_y) = data.rows(&data.val);
    let val_classes: Vec<usize> = val_y.iter().map(|&c| c as usize).collect();
    for (name, opts) in [
        ("per-channel min/max", QuantizeOptions::default()),
        (
            "per-channel 99.99th percentile",
            QuantizeOptions {
                calibration: Calibration::Percentile(99.99),
                per_channel: true,
                ..QuantizeOptions::default()
            },
        ),
        (
            "per-tensor min/max",
            QuantizeOptions {
                calibration: Calibration::MinMax,
                per_channel: false,
                ..QuantizeOptions::default()
            },
        ),
    ] {
        // Calibrate on the training rows only; judge on the held-out rows.
        let q = quantize(&model, &train_x, "digits train split", &opts).unwrap();
        let c = compare(&model, &q, &val_x, Some(&val_classes)).unwrap();
        let (f, i, a) = (
            c.f32_accuracy.unwrap(),
            c.int8_accuracy.unwrap(),
            c.agreement.unwrap(),
        );
        eprintln!(
            "{name}: f32 {:.2}%  int8 {:.2}%  agreement {:.2}%",
            f * 100.0,
            i * 100.0,
            a * 100.0
        );
        assert_eq!(c.samples, 359);
        assert!(f > 0.9, "{name}: the f32 model itself should be good: {f}");
        assert!((f - i).abs() * 100.0 <= 1.0, "{name}: f32 {f} vs int8 {i}");
        assert!(a >= 0.98, "{name}: agreement {a}");
    }
}

#[test]
fn committed_int8_model_is_what_the_quantizer_makes_today() {
    // tests/data/int8/README.md: `axon quantize --calib bundled:digits`.
    let model = digits_model();
    let table = Table::read("bundled:digits", Header::Auto).unwrap();
    let cols: Vec<usize> = (0..64).collect();
    let x = table.numbers(&cols).unwrap();
    let q = quantize(&model, &x, "bundled:digits", &QuantizeOptions::default()).unwrap();
    let committed = std::fs::read_to_string("tests/data/int8/digits.int8.json").unwrap();
    assert!(
        q.to_json_string() == committed,
        "tests/data/int8/digits.int8.json is stale: regenerate it (tests/data/int8/README.md)"
    );
    let back = Int8Model::from_json_str(&committed).unwrap();
    assert_eq!(back, q, "the int8 JSON does not round-trip");
}

#[test]
fn int8_json_round_trips_every_layer_kind() {
    // A model with every int8 layer kind: fused ReLU, tables, softmax.
    use axon::core::Activation;
    use axon::host::model::{LayerSpec, Preprocess, Task};
    let dense = |i: usize, o: usize, k: f32| LayerSpec::Dense {
        inputs: i,
        outputs: o,
        weights: (0..i * o).map(|j| ((j as f32 * k).sin()) * 0.7).collect(),
        bias: (0..o).map(|j| j as f32 * 0.05 - 0.1).collect(),
    };
    let model = Model {
        inputs: 3,
        preprocess: Preprocess {
            mean: vec![0.1, -0.2, 0.3],
            std: vec![1.5, 0.5, 2.0],
        },
        layers: vec![
            dense(3, 5, 1.3),
            LayerSpec::Activation(Activation::Relu),
            dense(5, 4, 0.7),
            LayerSpec::Activation(Activation::Tanh),
            dense(4, 4, 2.1),
            LayerSpec::Activation(Activation::Sigmoid),
            dense(4, 4, 0.3),
            LayerSpec::Activation(Activation::GeluTanh),
            dense(4, 3, 1.1),
            LayerSpec::Activation(Activation::Softmax),
        ],
        task: Task::Classification { classes: 3 },
        feature_names: vec![],
        target_name: String::new(),
        class_labels: vec![],
    };
    let calib: Vec<f32> = (0..300).map(|j| ((j as f32) * 0.37).cos() * 3.0).collect();
    let q = quantize(&model, &calib, "synthetic", &QuantizeOptions::default()).unwrap();
    assert_eq!(
        q.layers.len(),
        9,
        "5 dense (relu fused); tanh, sigmoid, gelu as tables; softmax"
    );
    let text = q.to_json_string();
    let back = Int8Model::from_json_str(&text).unwrap();
    assert_eq!(back, q);
    assert_eq!(back.to_json_string(), text);
    // And the int8 model tracks the f32 one on its own calibration data.
    let c = compare(&model, &q, &calib, None).unwrap();
    assert!(c.max_abs_error < 0.08, "{c:?}");
}

fn with_input_zero_point(text: &str, zp: i64) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["input"]["zero_point"] = zp.into();
    v.to_string()
}

#[test]
fn bad_int8_files_are_rejected_with_clear_messages() {
    let good = std::fs::read_to_string("tests/data/int8/digits.int8.json").unwrap();
    let cases = [
        (
            good.replace("axon-model-int8", "axon-model"),
            "quantize it first",
        ),
        (
            good.replacen("\"version\": 1", "\"version\": 9", 1),
            "version 9",
        ),
        (
            good.replacen("\"in\": 64", "\"in\": 63", 1),
            "expected \"in\" = 63",
        ),
        (
            good.replacen("\"type\": \"softmax\"", "\"type\": \"mystery\"", 1),
            "unknown int8 layer type",
        ),
        (with_input_zero_point(&good, 300), "zero_point 300"),
    ];
    for (text, want) in cases {
        let err = format!("{:#}", Int8Model::from_json_str(&text).unwrap_err());
        assert!(err.contains(want), "error `{err}` should mention `{want}`");
    }
}
