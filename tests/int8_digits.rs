//! The int8 acceptance tests on digits: post-training quantization keeps
//! the validation accuracy within 1.0 point of f32 and the decisions agree
//! on at least 98% of samples — for the committed chain model and for a
//! residual model trained here (its adds become TFLite's int8 ADD with
//! double rounding), run through the core's interpreter. Plus: the
//! committed int8 model is what the quantizer makes today, every int8 op
//! round-trips through the JSON file, and bad int8 files get clear
//! messages.

use std::path::Path;

use axon::core::graph::DType;
use axon::core::quant::Rounding;
use axon::core::Activation;
use axon::host::data::{Header, Table};
use axon::host::export::{write_blob, AlignedBytes};
use axon::host::model::{Graph, Meta, Model, Quant, Runner, Task, Tensor, TensorId};
use axon::host::ops::{self, Op};
use axon::host::quantize::{compare, quantize, Calibration, QuantizeOptions};
use axon::host::train::{
    prepare, train, Arch, Length, Loss, OptimizerKind, Prepared, ScheduleKind, TrainConfig,
};
use serde_json::Value;

const SEED: u64 = 7; // the split tests/data/int8/digits.json was trained on (its README)
const VAL_SPLIT: f64 = 0.2;

fn digits_model() -> Model {
    Model::load(Path::new("tests/data/int8/digits.json")).unwrap()
}

fn digits_data(seed: u64) -> Prepared {
    let table = Table::read("bundled:digits", Header::Auto).unwrap();
    prepare(&table, None, Loss::Ce, VAL_SPLIT, seed).unwrap()
}

/// Quantizes `model` on the training rows with each option set and checks
/// the int8 model on the held-out rows: accuracy within one point of f32,
/// decisions agreeing on 98%.
fn assert_int8_tracks_f32(what: &str, model: &Model, data: &Prepared) {
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
        (
            "per-channel min/max, single rounding",
            QuantizeOptions {
                rounding: Rounding::Single,
                ..QuantizeOptions::default()
            },
        ),
    ] {
        // Calibrate on the training rows only; judge on the held-out rows.
        let q = quantize(model, &train_x, "digits train split", &opts).unwrap();
        let c = compare(model, &q, &val_x, Some(&val_classes)).unwrap();
        let (f, i, a) = (
            c.f32_accuracy.unwrap(),
            c.int8_accuracy.unwrap(),
            c.agreement.unwrap(),
        );
        eprintln!(
            "{what}, {name}: f32 {:.2}%  int8 {:.2}%  agreement {:.2}%",
            f * 100.0,
            i * 100.0,
            a * 100.0
        );
        assert_eq!(c.samples, 359);
        assert!(
            f > 0.9,
            "{what}, {name}: the f32 model itself should be good: {f}"
        );
        assert!(
            (f - i).abs() * 100.0 <= 1.0,
            "{what}, {name}: f32 {f} vs int8 {i}"
        );
        assert!(a >= 0.98, "{what}, {name}: agreement {a}");
    }
}

#[test]
fn int8_validation_accuracy_is_within_one_point_of_f32_and_agrees_on_98_percent() {
    assert_int8_tracks_f32("chain", &digits_model(), &digits_data(SEED));
}

#[test]
fn a_residual_model_trains_quantizes_and_runs_int8_within_one_point_of_f32() {
    // axon train --data bundled:digits --arch examples/digits_residual.toml
    //     --optimizer adamw --lr 3e-3 --schedule cosine --warmup 100 --epochs 30
    let arch = Arch::load(Path::new("examples/digits_residual.toml")).unwrap();
    let cfg = TrainConfig {
        arch: Some(arch),
        optimizer: OptimizerKind::Adamw,
        lr: 3e-3,
        weight_decay: Some(1e-4),
        schedule: ScheduleKind::Cosine,
        warmup: 100,
        length: Length::Epochs(30),
        seed: SEED,
        ..TrainConfig::default()
    };
    let data = digits_data(SEED);
    let model = train(&data, &cfg, None, &mut |_| {}).unwrap().model;
    let adds: Vec<&str> = model
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Add(_)))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(
        adds,
        ["blocks.0.add", "blocks.1.add"],
        "{}",
        model.summary()
    );

    // Every add becomes TFLite's int8 ADD with double rounding — also when
    // the fully connected layers round once.
    let (train_x, _) = data.rows(&data.train);
    for rounding in [Rounding::Double, Rounding::Single] {
        let opts = QuantizeOptions {
            rounding,
            ..QuantizeOptions::default()
        };
        let q = quantize(&model, &train_x, "digits train split", &opts).unwrap();
        let mut n_add = 0;
        for n in &q.graph.nodes {
            match &n.op {
                Op::Add(a) => {
                    let p = a.int8.as_ref().expect("an int8 add");
                    assert_eq!(p.rounding, Rounding::Double, "{}", n.name);
                    assert_eq!(p.left_shift, 20);
                    let ins: Vec<DType> =
                        n.inputs.iter().map(|&t| q.graph.tensors[t].dtype).collect();
                    assert_eq!(ins, [DType::I8, DType::I8]);
                    n_add += 1;
                }
                Op::FullyConnected(f) => {
                    assert_eq!(f.int8.as_ref().unwrap().rounding, rounding, "{}", n.name)
                }
                _ => {}
            }
        }
        assert_eq!(n_add, 2);
        // It reads back as written, and its blob computes what it computes.
        let back = Model::from_json_str(&q.to_json_string().unwrap()).unwrap();
        assert_eq!(back, q);
        let blob = AlignedBytes::new(&write_blob(&q, "residual").unwrap());
        let from_blob = axon::core::blob::parse(blob.as_bytes()).unwrap();
        let run = Runner::new(&q).unwrap();
        let it = run.interpreter().unwrap();
        let mut arena = run.arena();
        let (val_x, _) = data.rows(&data.val);
        for row in val_x.chunks_exact(64) {
            let (mut a, mut b) = ([0f32; 10], [0f32; 10]);
            it.run_f32(row, &mut a, arena.bytes()).unwrap();
            from_blob.run_f32(row, &mut b, arena.bytes()).unwrap();
            assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        }
    }
    assert_int8_tracks_f32("residual", &model, &data);
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
        q.to_json_string().unwrap() == committed,
        "tests/data/int8/digits.int8.json is stale: regenerate it (tests/data/int8/README.md)"
    );
    let back = Model::from_json_str(&committed).unwrap();
    assert_eq!(back, q, "the int8 JSON does not round-trip");
}

/// An f32 graph under construction.
struct Builder {
    g: Graph,
    n: usize,
}

impl Builder {
    fn new(inputs: u32) -> Builder {
        let mut g = Graph::default();
        let x = g.add_tensor(Tensor::activation(
            "x",
            vec![inputs],
            DType::F32,
            Quant::None,
        ));
        g.inputs.push(x);
        Builder { g, n: 0 }
    }

    fn tensor(&mut self, width: u32) -> TensorId {
        self.n += 1;
        let name = format!("t{}", self.n);
        self.g.add_tensor(Tensor::activation(
            name,
            vec![width],
            DType::F32,
            Quant::None,
        ))
    }

    fn standardize(&mut self, x: TensorId, mean: Vec<f32>, std: Vec<f32>) -> TensorId {
        let d = mean.len() as u32;
        let m = self.g.add_tensor(Tensor::f32("input.mean", vec![d], mean));
        let s = self.g.add_tensor(Tensor::f32("input.std", vec![d], std));
        let y = self.tensor(d);
        self.g.add_node(
            "input",
            Op::Standardize(ops::standardize::Standardize),
            vec![x],
            y,
            vec![("mean", m), ("std", s)],
        );
        y
    }

    /// A dense layer with the weights `sin(j·k)·0.7` and biases `0.05j − 0.1`.
    fn dense(&mut self, x: TensorId, o: usize, k: f32) -> TensorId {
        let i = self.g.tensors[x].len();
        let name = format!("fc{}", self.n + 1);
        let w = (0..i * o).map(|j| ((j as f32 * k).sin()) * 0.7).collect();
        let b = (0..o).map(|j| j as f32 * 0.05 - 0.1).collect();
        let wt = self.g.add_tensor(Tensor::f32(
            format!("{name}.weight"),
            vec![o as u32, i as u32],
            w,
        ));
        let bt = self
            .g
            .add_tensor(Tensor::f32(format!("{name}.bias"), vec![o as u32], b));
        let y = self.tensor(o as u32);
        self.g.add_node(
            name,
            Op::FullyConnected(Default::default()),
            vec![x],
            y,
            vec![("weight", wt), ("bias", bt)],
        );
        y
    }

    fn op(&mut self, op: Op, x: TensorId) -> TensorId {
        let y = self.tensor(self.g.tensors[x].len() as u32);
        self.g
            .add_node(format!("{}{}", op.name(), self.n), op, vec![x], y, vec![]);
        y
    }

    fn act(&mut self, a: Activation, x: TensorId) -> TensorId {
        match axon::host::train::arch::op_of(a) {
            Some(op) => self.op(op, x),
            None => x,
        }
    }

    fn add(&mut self, a: TensorId, b: TensorId) -> TensorId {
        self.op_with(Op::Add(Default::default()), vec![a, b])
    }

    fn op_with(&mut self, op: Op, inputs: Vec<TensorId>) -> TensorId {
        let y = self.tensor(self.g.tensors[inputs[0]].len() as u32);
        self.g
            .add_node(format!("{}{}", op.name(), self.n), op, inputs, y, vec![]);
        y
    }

    fn model(mut self, y: TensorId, classes: usize) -> Model {
        self.g.outputs.push(y);
        let m = Model {
            meta: Meta {
                task: Task::Classification { classes },
                ..Meta::default()
            },
            graph: self.g,
        };
        m.validate().unwrap();
        m
    }
}

fn op_names(m: &Model) -> Vec<&'static str> {
    m.graph.nodes.iter().map(|n| n.op.name()).collect()
}

/// Quantizes `model` on `calib`, checks the JSON round trip (equal model,
/// same text again), and returns the int8 model.
fn quantized_round_trip(model: &Model, calib: &[f32]) -> Model {
    let q = quantize(model, calib, "synthetic", &QuantizeOptions::default()).unwrap();
    let text = q.to_json_string().unwrap();
    let back = Model::from_json_str(&text).unwrap();
    assert_eq!(back, q);
    assert_eq!(back.to_json_string().unwrap(), text);
    q
}

#[test]
fn int8_json_round_trips_every_op_kind() {
    // The chain of the version-1 test: fused ReLU, tables, softmax.
    let mut b = Builder::new(3);
    let x = b.g.inputs[0];
    let s = b.standardize(x, vec![0.1, -0.2, 0.3], vec![1.5, 0.5, 2.0]);
    let h = b.dense(s, 5, 1.3);
    let h = b.act(Activation::Relu, h);
    let h = b.dense(h, 4, 0.7);
    let h = b.act(Activation::Tanh, h);
    let h = b.dense(h, 4, 2.1);
    let h = b.act(Activation::Sigmoid, h);
    let h = b.dense(h, 4, 0.3);
    let h = b.act(Activation::GeluTanh, h);
    let h = b.dense(h, 3, 1.1);
    let y = b.act(Activation::Softmax, h);
    let model = b.model(y, 3);
    let calib: Vec<f32> = (0..300).map(|j| ((j as f32) * 0.37).cos() * 3.0).collect();
    let q = quantized_round_trip(&model, &calib);
    assert_eq!(
        op_names(&q),
        [
            "quantize",
            "fully_connected",
            "fully_connected",
            "tanh",
            "fully_connected",
            "sigmoid",
            "fully_connected",
            "gelu",
            "fully_connected",
            "softmax",
            "dequantize"
        ],
        "5 dense (relu fused); tanh, sigmoid, gelu as tables; softmax"
    );
    // And the int8 model tracks the f32 one on its own calibration data.
    let c = compare(&model, &q, &calib, None).unwrap();
    assert!(c.max_abs_error < 0.08, "{c:?}");

    // The other ops: a standalone ReLU, leaky ReLU, SiLU, GELU's erf form,
    // a residual add with a fused ReLU and one without.
    let mut b = Builder::new(3);
    let x = b.g.inputs[0];
    let r = b.act(Activation::Relu, x);
    let h = b.dense(r, 5, 0.9);
    let l = b.act(Activation::LeakyRelu { alpha: 0.1 }, h);
    let h = b.dense(l, 5, 1.7);
    let a = b.add(l, h);
    let a = b.act(Activation::Relu, a);
    let h = b.dense(a, 5, 0.4);
    let h = b.act(Activation::Silu, h);
    let g = b.dense(h, 5, 2.3);
    let g = b.act(Activation::GeluErf, g);
    let a = b.add(h, g);
    let h = b.dense(a, 3, 0.6);
    let y = b.act(Activation::Softmax, h);
    let model = b.model(y, 3);
    let q = quantized_round_trip(&model, &calib);
    assert_eq!(
        op_names(&q),
        [
            "quantize",
            "relu",
            "fully_connected",
            "leaky_relu",
            "fully_connected",
            "add",
            "fully_connected",
            "silu",
            "fully_connected",
            "gelu",
            "add",
            "fully_connected",
            "softmax",
            "dequantize"
        ],
        "the relu after the first add fused into it"
    );
    let fused: Vec<&str> = q
        .graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Add(a) => Some(a.int8.as_ref().unwrap().activation.name()),
            _ => None,
        })
        .collect();
    assert_eq!(fused, ["relu", "none"]);
    let c = compare(&model, &q, &calib, None).unwrap();
    assert!(c.max_abs_error < 0.08, "{c:?}");
}

fn edit(text: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    f(&mut v);
    v.to_string()
}

fn entry<'a>(v: &'a mut Value, list: &str, name: &str) -> &'a mut Value {
    v["graph"][list]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == name)
        .unwrap()
}

#[test]
fn bad_int8_files_are_rejected_with_clear_messages() {
    let good = std::fs::read_to_string("tests/data/int8/digits.int8.json").unwrap();
    let cases = [
        // The version-1 int8 format name in a version-2 file.
        (
            good.replacen("\"axon-model\"", "\"axon-model-int8\"", 1),
            "\"format\" is \"axon-model-int8\", a version-1 name",
        ),
        (
            good.replacen("\"version\": 2", "\"version\": 9", 1),
            "version 9 is not supported",
        ),
        // A layer whose weight does not fit its input.
        (
            edit(&good, |v| {
                let w = entry(v, "tensors", "fc1.weight");
                w["shape"] = serde_json::json!([32, 63]);
                let d: Vec<Value> = w["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| k % 64 != 63)
                    .map(|(_, x)| x.clone())
                    .collect();
                w["data"] = Value::Array(d);
            }),
            "maps 64 to 32 features, so the weight must be [32, 64] and the bias [32]",
        ),
        (
            good.replacen("\"op\": \"softmax\"", "\"op\": \"mystery\"", 1),
            "unknown op \"mystery\"",
        ),
        (
            edit(&good, |v| {
                entry(v, "tensors", "input.standardized")["quant"]["zero_point"] = 300.into()
            }),
            "zero point 300",
        ),
    ];
    for (text, want) in cases {
        let err = format!("{:#}", Model::from_json_str(&text).unwrap_err());
        assert!(err.contains(want), "error `{err}` should mention `{want}`");
    }
}
