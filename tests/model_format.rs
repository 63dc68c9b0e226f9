//! The version-2 model file is strict (docs/model-format.md, "Strictness"):
//!
//! * an unknown field anywhere — top level, meta, task, quantization,
//!   graph, tensor, quant, node, node attrs — is an error that names it;
//! * every derived parameter that contradicts its source is rejected,
//!   naming the node and both values: a fully connected layer's
//!   multipliers and shifts against its input, weight and output scales
//!   (and their count against the weight scales), a softmax's against its
//!   beta and input scale, an add's against its three scales, an int8
//!   table against its function, a relu's multiplier against its scales,
//!   fixed output quantizations against TFLite's;
//! * `relu6` is a fused activation by name, and its clamp is the one the
//!   output's quantization gives;
//! * int8 (and int32) values out of range and non-finite f32 values are
//!   rejected naming the tensor and the index;
//! * a file of the wrong kind gets a plain message
//!   (`axon::host::model::file_kind`).

use std::path::Path;

use axon::core::graph::DType;
use axon::core::ops::fully_connected::FullyConnected as CoreFc;
use axon::core::ops::{Fused, Op as CoreOp};
use axon::host::export::write_blob;
use axon::host::model::{file_kind, FileKind, Graph, Meta, Model, Quant, Runner, Task, Tensor};
use axon::host::ops::{self, Ctx, Op};
use axon::host::quantize::{quantize, QuantizeOptions};
use axon::host::train::rng::Rng;
use serde_json::{json, Value};

const DIGITS_INT8: &str = "tests/data/int8/digits.int8.json";
const DIGITS_F32: &str = "tests/data/int8/digits.json";

fn text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// An f32 model with one node of every kind the checks look at:
/// `x → standardize → relu → fc1 → tanh → fc2 → add(tanh, fc2) → relu →
/// fc3 → sigmoid → fc4 → softmax → y`.
fn every_check_f32() -> Model {
    let mut rng = Rng::new(3, 1);
    let mut g = Graph::default();
    let mut uniform = |n: usize, lo: f32, hi: f32| -> Vec<f32> {
        (0..n)
            .map(|_| lo + (hi - lo) * rng.next_f64() as f32)
            .collect()
    };
    let act = |g: &mut Graph, name: &str, n: u32| {
        g.add_tensor(Tensor::activation(name, vec![n], DType::F32, Quant::None))
    };
    let x = act(&mut g, "x", 4);
    g.inputs.push(x);
    let mean = g.add_tensor(Tensor::f32("input.mean", vec![4], uniform(4, -0.5, 0.5)));
    let std = g.add_tensor(Tensor::f32("input.std", vec![4], uniform(4, 0.5, 2.0)));
    let s = act(&mut g, "s", 4);
    g.add_node(
        "input",
        Op::Standardize(ops::standardize::Standardize),
        vec![x],
        s,
        vec![("mean", mean), ("std", std)],
    );
    let r = act(&mut g, "r", 4);
    g.add_node("relu0", Op::Relu(Default::default()), vec![s], r, vec![]);
    let mut fc = |g: &mut Graph, name: &str, x: usize, i: u32, o: u32| {
        let w = g.add_tensor(Tensor::f32(
            format!("{name}.weight"),
            vec![o, i],
            uniform((o * i) as usize, -1.0, 1.0),
        ));
        let b = g.add_tensor(Tensor::f32(
            format!("{name}.bias"),
            vec![o],
            uniform(o as usize, -0.3, 0.3),
        ));
        let y = act(g, &format!("{name}.out"), o);
        g.add_node(
            name,
            Op::FullyConnected(Default::default()),
            vec![x],
            y,
            vec![("weight", w), ("bias", b)],
        );
        y
    };
    let h1 = fc(&mut g, "fc1", r, 4, 6);
    let t = act(&mut g, "t", 6);
    g.add_node("tanh1", Op::Tanh(ops::tanh::Tanh), vec![h1], t, vec![]);
    let h2 = fc(&mut g, "fc2", t, 6, 6);
    let a = act(&mut g, "a", 6);
    g.add_node("add", Op::Add(Default::default()), vec![t, h2], a, vec![]);
    let ar = act(&mut g, "ar", 6);
    g.add_node("relu1", Op::Relu(Default::default()), vec![a], ar, vec![]);
    let h3 = fc(&mut g, "fc3", ar, 6, 5);
    let sg = act(&mut g, "sg", 5);
    g.add_node(
        "sigmoid1",
        Op::Sigmoid(ops::sigmoid::Sigmoid),
        vec![h3],
        sg,
        vec![],
    );
    let h4 = fc(&mut g, "fc4", sg, 5, 3);
    let y = act(&mut g, "y", 3);
    g.add_node(
        "softmax1",
        Op::Softmax(Default::default()),
        vec![h4],
        y,
        vec![],
    );
    g.outputs.push(y);
    let m = Model {
        meta: Meta {
            task: Task::Classification { classes: 3 },
            ..Meta::default()
        },
        graph: g,
    };
    m.validate().unwrap();
    m
}

/// [`every_check_f32`] quantized, as JSON text.
fn every_check_int8() -> String {
    let m = every_check_f32();
    let mut rng = Rng::new(4, 1);
    let calib: Vec<f32> = (0..4 * 300)
        .map(|_| (rng.next_f64() * 6.0 - 3.0) as f32)
        .collect();
    let q = quantize(&m, &calib, "uniform", &QuantizeOptions::default()).unwrap();
    let names: Vec<(&str, &str)> = q
        .graph
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.op.name()))
        .collect();
    assert_eq!(
        names,
        [
            ("input", "quantize"),
            ("relu0", "relu"),
            ("fc1", "fully_connected"),
            ("tanh1", "tanh"),
            ("fc2", "fully_connected"),
            ("add", "add"),
            ("fc3", "fully_connected"),
            ("sigmoid1", "sigmoid"),
            ("fc4", "fully_connected"),
            ("softmax1", "softmax"),
            ("y.dequantize", "dequantize"),
        ],
        "the int8 graph (relu1 fused into the add)"
    );
    q.to_json_string().unwrap()
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The named entry of `graph.nodes` or `graph.tensors`.
fn entry<'a>(v: &'a mut Value, list: &str, name: &str) -> &'a mut Value {
    v["graph"][list]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {list} entry {name}"))
}

fn node<'a>(v: &'a mut Value, name: &str) -> &'a mut Value {
    entry(v, "nodes", name)
}

fn tensor<'a>(v: &'a mut Value, name: &str) -> &'a mut Value {
    entry(v, "tensors", name)
}

/// A copy of the named entry's field `field` (`attrs` of a node, `data` of a tensor).
fn get(v: &Value, list: &str, name: &str, field: &str) -> Value {
    v["graph"][list]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {list} entry {name}"))[field]
        .clone()
}

/// The error of reading `v`, with its causes.
fn error(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap();
    match Model::from_json_str(&text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => format!("{e:#}"),
    }
}

/// Edits a copy of `base` with `f`; the error must mention every one of `says`.
#[track_caller]
fn rejects(base: &str, f: impl FnOnce(&mut Value), says: &[&str]) {
    let mut v = parse(base);
    f(&mut v);
    let err = error(&v);
    for s in says {
        assert!(err.contains(s), "`{err}` should mention `{s}`");
    }
}

#[test]
fn the_test_models_load_unedited_through_a_json_value() {
    for base in [text(DIGITS_INT8), text(DIGITS_F32), every_check_int8()] {
        let v = parse(&base);
        let m = Model::from_json_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(m, Model::from_json_str(&base).unwrap());
        Runner::new(&m).unwrap();
    }
}

/// An edit of a model file's JSON.
type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn unknown_fields_anywhere_are_errors_that_name_them() {
    let digits = text(DIGITS_INT8);
    let f32m = text(DIGITS_F32);
    let every = every_check_int8();
    let cases: Vec<(&str, Edit, Vec<&str>)> = vec![
        (
            "top level",
            Box::new(|v| v["colour"] = json!(1)),
            vec!["colour"],
        ),
        (
            "meta",
            Box::new(|v| v["meta"]["colour"] = json!(1)),
            vec!["colour"],
        ),
        (
            "meta.task",
            Box::new(|v| v["meta"]["task"]["kind"] = json!(1)),
            vec!["kind"],
        ),
        (
            "meta.quantization",
            Box::new(|v| {
                let q = v["meta"]["quantization"].as_object_mut().unwrap();
                let r = q.remove("rounding").unwrap();
                q.insert("roundng".into(), r);
            }),
            vec!["roundng"],
        ),
        (
            "graph",
            Box::new(|v| v["graph"]["edges"] = json!([])),
            vec!["edges"],
        ),
        (
            "tensor",
            Box::new(|v| tensor(v, "fc1.weight")["dtype"] = json!("i8")),
            vec!["dtype"],
        ),
        (
            "tensor quant",
            Box::new(|v| tensor(v, "relu1.out")["quant"]["zero"] = json!(0)),
            vec!["zero"],
        ),
        (
            "node",
            Box::new(|v| node(v, "fc2")["param"] = json!({})),
            vec!["param"],
        ),
        (
            "an int8 fully_connected's attrs: a misspelt \"rounding\"",
            Box::new(|v| {
                let a = node(v, "fc1")["attrs"].as_object_mut().unwrap();
                let r = a.remove("rounding").unwrap();
                a.insert("roundng".into(), r);
            }),
            vec!["node fc1", "roundng"],
        ),
        (
            "a softmax's attrs",
            Box::new(|v| node(v, "softmax1")["attrs"]["betta"] = json!(1.0)),
            vec!["node softmax1", "betta"],
        ),
        (
            "a derived field that is never written",
            Box::new(|v| node(v, "fc1")["attrs"]["row_sums"] = json!([0])),
            vec!["node fc1", "row_sums"],
        ),
        (
            "an op without attrs",
            Box::new(|v| node(v, "y.dequantize")["attrs"] = json!({"scale": 1.0})),
            vec!["node y.dequantize", "scale"],
        ),
        (
            "a parameter role",
            Box::new(|v| {
                let p = node(v, "fc2")["params"].as_object_mut().unwrap();
                let w = p.remove("weight").unwrap();
                p.insert("weights".into(), w);
            }),
            vec!["node fc2", "unknown parameter \"weights\"", "weight, bias"],
        ),
    ];
    for (what, edit, says) in cases {
        let mut v = parse(&digits);
        edit(&mut v);
        let err = error(&v);
        for s in says {
            assert!(err.contains(s), "{what}: `{err}` should mention `{s}`");
        }
    }
    // In the f32 file and the other ops' attrs too.
    rejects(
        &f32m,
        |v| node(v, "fc1")["attrs"] = json!({"rounding": "double"}),
        &["node fc1", "an int8 fully_connected needs \"activation\""],
    );
    rejects(
        &f32m,
        |v| node(v, "relu1")["attrs"] = json!({"slope": 1}),
        &["node relu1", "slope"],
    );
    rejects(
        &f32m,
        |v| tensor(v, "input.mean")["shape "] = json!([64]),
        &["shape "],
    );
    rejects(
        &every,
        |v| node(v, "add")["attrs"]["left_shfit"] = json!(20),
        &["node add", "left_shfit"],
    );
    rejects(
        &every,
        |v| node(v, "relu0")["attrs"]["shfit"] = json!(1),
        &["node relu0", "shfit"],
    );
    rejects(
        &every,
        |v| node(v, "tanh1")["attrs"] = json!({"table": []}),
        &["node tanh1", "table"],
    );
    rejects(
        &every,
        |v| node(v, "input")["attrs"] = json!({"mean": []}),
        &["node input", "mean"],
    );
}

#[test]
fn unknown_ops_tensors_and_missing_attrs_are_named() {
    let digits = text(DIGITS_INT8);
    rejects(
        &digits,
        |v| node(v, "fc2")["op"] = json!("conv2d"),
        &["node fc2", "unknown op \"conv2d\"", "fully_connected"],
    );
    rejects(
        &digits,
        |v| node(v, "fc2")["inputs"] = json!(["nope"]),
        &["node fc2", "tensor \"nope\", which the graph does not have"],
    );
    rejects(
        &digits,
        |v| {
            node(v, "fc2")["attrs"]
                .as_object_mut()
                .unwrap()
                .remove("shift");
        },
        &["node fc2", "an int8 fully_connected needs \"shift\""],
    );
    rejects(
        &digits,
        |v| {
            node(v, "fc2")["params"]
                .as_object_mut()
                .unwrap()
                .remove("bias");
        },
        &["node fc2", "needs a \"bias\" parameter"],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["type"] = json!("u8"),
        &["tensor fc1.weight", "unknown type \"u8\""],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["type"] = json!("staged"),
        &["tensor fc1.weight", "unknown type \"staged\""],
    );
}

/// Channel `k`'s stored `(multiplier, shift)` of node `name`.
fn channel(v: &Value, name: &str, k: usize) -> (i64, i64) {
    let a = get(v, "nodes", name, "attrs");
    (
        a["multiplier"][k].as_i64().unwrap(),
        a["shift"][k].as_i64().unwrap(),
    )
}

#[test]
fn a_fully_connected_multiplier_contradicting_its_scales_is_rejected_with_both_values() {
    let digits = text(DIGITS_INT8);
    let v = parse(&digits);
    let (m, s) = channel(&v, "fc1", 3);
    rejects(
        &digits,
        |v| node(v, "fc1")["attrs"]["multiplier"][3] = json!(m + 1),
        &[
            "node fc1 (fully_connected)",
            "channel 3's (multiplier, shift)",
            &format!("is ({}, {s})", m + 1),
            &format!("give ({m}, {s})"),
            "input, weight and output scales",
        ],
    );
    rejects(
        &digits,
        |v| node(v, "fc1")["attrs"]["shift"][3] = json!(s - 1),
        &[
            "node fc1",
            &format!("is ({m}, {})", s - 1),
            &format!("give ({m}, {s})"),
        ],
    );
    // The source changed and the derived value did not: a weight scale.
    let (m0, s0) = channel(&v, "fc2", 0);
    rejects(
        &digits,
        |v| {
            let sc = &mut tensor(v, "fc2.weight")["quant"]["scales"][0];
            *sc = json!(sc.as_f64().unwrap() * 1.5);
        },
        &["node fc2", "channel 0's", &format!("is ({m0}, {s0})")],
    );
    // The output scale.
    rejects(
        &digits,
        |v| {
            let sc = &mut tensor(v, "relu1.out")["quant"]["scale"];
            *sc = json!(sc.as_f64().unwrap() * 1.01);
        },
        &["node fc1", "channel 0's", "input, weight and output scales"],
    );
}

#[test]
fn one_multiplier_beside_32_weight_scales_is_rejected() {
    let digits = text(DIGITS_INT8);
    let v = parse(&digits);
    let (m, s) = channel(&v, "fc1", 0);
    rejects(
        &digits,
        |v| {
            let a = &mut node(v, "fc1")["attrs"];
            a["multiplier"] = json!([m]);
            a["shift"] = json!([s]);
        },
        &[
            "node fc1",
            "1 multipliers and 1 shifts for 32 weight scales",
        ],
    );
    // 32 multipliers beside one (per-tensor) weight scale.
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["quant"] = json!({"scale": 0.01, "zero_point": 0}),
        &[
            "node fc1",
            "32 multipliers and 32 shifts for 1 weight scales",
        ],
    );
    // A weight scale per channel, but not one per output.
    rejects(
        &digits,
        |v| {
            let q = &mut tensor(v, "fc1.weight")["quant"]["scales"];
            q.as_array_mut().unwrap().pop();
        },
        &[
            "tensor fc1.weight",
            "31 scales for 32 channels along axis 0",
        ],
    );
}

#[test]
fn a_softmax_contradicting_its_beta_and_input_scale_is_rejected_with_both_values() {
    let digits = text(DIGITS_INT8);
    let v = parse(&digits);
    let a = get(&v, "nodes", "softmax1", "attrs");
    let (m, ls, dm) = (
        a["input_multiplier"].as_i64().unwrap(),
        a["input_left_shift"].as_i64().unwrap(),
        a["diff_min"].as_i64().unwrap(),
    );
    let stored = |m: i64, ls: i64, dm: i64| {
        format!("SoftmaxParams {{ input_multiplier: {m}, input_left_shift: {ls}, diff_min: {dm} }}")
    };
    rejects(
        &digits,
        |v| node(v, "softmax1")["attrs"]["input_multiplier"] = json!(m + 1),
        &[
            "node softmax1 (softmax)",
            "(input_multiplier, input_left_shift, diff_min)",
            &format!("is {}", stored(m + 1, ls, dm)),
            &format!("give {}", stored(m, ls, dm)),
            "its beta and input scale",
        ],
    );
    rejects(
        &digits,
        |v| node(v, "softmax1")["attrs"]["diff_min"] = json!(dm + 1),
        &[
            "node softmax1",
            &format!("is {}", stored(m, ls, dm + 1)),
            &format!("give {}", stored(m, ls, dm)),
        ],
    );
    // The source: beta.
    rejects(
        &digits,
        |v| node(v, "softmax1")["attrs"]["beta"] = json!(2.0),
        &[
            "node softmax1",
            &format!("is {}", stored(m, ls, dm)),
            "its beta and input scale",
        ],
    );
    // And its fixed output quantization.
    rejects(
        &digits,
        |v| tensor(v, "y.q")["quant"] = json!({"scale": 0.00390625, "zero_point": -127}),
        &[
            "node softmax1",
            "the output's quantization",
            "zero_point: -127",
            "zero_point: -128",
        ],
    );
    // An f32 softmax has beta 1.
    rejects(
        &text(DIGITS_F32),
        |v| node(v, "softmax1")["attrs"] = json!({"beta": 2.0}),
        &["node softmax1", "an f32 softmax has beta 1"],
    );
}

#[test]
fn an_add_contradicting_its_scales_is_rejected_with_both_values() {
    let every = every_check_int8();
    let v = parse(&every);
    let a = get(&v, "nodes", "add", "attrs");
    assert_eq!(a["rounding"], "double");
    assert_eq!(a["activation"], "relu", "the relu after the add is fused");
    for k in ["input1", "input2", "output"] {
        let (m, s) = (
            a[format!("{k}_multiplier")].as_i64().unwrap(),
            a[format!("{k}_shift")].as_i64().unwrap(),
        );
        let what = if k == "output" {
            "the output's (multiplier, shift)".to_owned()
        } else {
            format!("{k}'s (multiplier, shift)")
        };
        rejects(
            &every,
            |v| node(v, "add")["attrs"][format!("{k}_multiplier")] = json!(m - 1),
            &[
                "node add (add)",
                &what,
                &format!("is ({}, {s})", m - 1),
                &format!("give ({m}, {s})"),
            ],
        );
        rejects(
            &every,
            |v| node(v, "add")["attrs"][format!("{k}_shift")] = json!(s - 1),
            &[
                "node add",
                &format!("is ({m}, {})", s - 1),
                &format!("give ({m}, {s})"),
            ],
        );
    }
    rejects(
        &every,
        |v| node(v, "add")["attrs"]["left_shift"] = json!(19),
        &["node add", "left_shift is 19", "give 20"],
    );
    // The source: the output's scale.
    rejects(
        &every,
        |v| {
            let sc = &mut tensor(v, "ar")["quant"]["scale"];
            *sc = json!(sc.as_f64().unwrap() * 1.25);
        },
        &[
            "node add",
            "the output's (multiplier, shift)",
            "the input and output scales",
        ],
    );
}

#[test]
fn an_int8_table_contradicting_its_function_is_rejected_with_both_values() {
    let every = every_check_int8();
    let v = parse(&every);
    let t = get(&v, "tensors", "tanh1.table", "data");
    let e = t[200].as_i64().unwrap();
    let new = if e == 0 { 1 } else { 0 };
    rejects(
        &every,
        |v| tensor(v, "tanh1.table")["data"][200] = json!(new),
        &[
            "node tanh1 (tanh)",
            &format!(
                "table entry 200 (code -56) is {new}, but the input and output parameters give {e}"
            ),
        ],
    );
    // Another function's table in its place.
    let sig = get(&v, "tensors", "sigmoid1.table", "data");
    rejects(
        &every,
        |v| tensor(v, "tanh1.table")["data"] = sig,
        &["node tanh1", "table entry"],
    );
    // A sigmoid's output quantization is TFLite's fixed one.
    rejects(
        &every,
        |v| tensor(v, "sg")["quant"] = json!({"scale": 0.00390625, "zero_point": -127}),
        &["node sigmoid1", "the output's quantization"],
    );
    rejects(
        &every,
        |v| tensor(v, "tanh1.table")["shape"] = json!([255]),
        &["tensor tanh1.table"],
    );
}

#[test]
fn a_relu_multiplier_contradicting_its_scales_is_rejected_with_both_values() {
    let every = every_check_int8();
    let v = parse(&every);
    let a = get(&v, "nodes", "relu0", "attrs");
    let (m, s) = (
        a["multiplier"].as_i64().unwrap(),
        a["shift"].as_i64().unwrap(),
    );
    rejects(
        &every,
        |v| node(v, "relu0")["attrs"]["multiplier"] = json!(m - 7),
        &[
            "node relu0 (relu)",
            &format!("(multiplier, shift) is ({}, {s})", m - 7),
            &format!("give ({m}, {s})"),
            "its input and output scales",
        ],
    );
    rejects(
        &every,
        |v| node(v, "relu0")["attrs"]["rounding"] = json!("half"),
        &["node relu0", "unknown rounding \"half\""],
    );
}

#[test]
fn relu6_is_a_fused_activation_by_name_and_its_clamp_is_the_outputs() {
    let digits = text(DIGITS_INT8);
    let mut v = parse(&digits);
    node(&mut v, "fc2")["attrs"]["activation"] = json!("relu6");
    let m = Model::from_json_str(&serde_json::to_string(&v).unwrap()).unwrap();
    let g = &m.graph;
    let n = g.nodes.iter().find(|n| n.name == "fc2").unwrap();
    let Op::FullyConnected(f) = &n.op else {
        panic!()
    };
    assert_eq!(f.int8.as_ref().unwrap().activation, Fused::Relu6);
    let out = g.tensors[n.output].quant.params().unwrap();
    let (lo, hi) = Fused::Relu6.clamp(out);
    assert!(
        lo > -128 && hi < 127,
        "the clamp lies inside the int8 range: {lo}..={hi}"
    );
    let CoreOp::FullyConnected(CoreFc::Int8(p)) = n.op.core(&Ctx::new(g, n)).unwrap() else {
        panic!()
    };
    assert_eq!((p.params.act_min, p.params.act_max), (lo, hi));
    assert_eq!(p.activation, Fused::Relu6);
    // It runs, and writes the name back.
    Runner::new(&m).unwrap().run(&[3.0; 64]).unwrap();
    assert!(m
        .to_json_string()
        .unwrap()
        .contains("\"activation\":\"relu6\""));
    // Names outside the three are not activations.
    rejects(
        &digits,
        |v| node(v, "fc2")["attrs"]["activation"] = json!("relu7"),
        &[
            "node fc2",
            "unknown fused activation \"relu7\" (expected none, relu or relu6)",
        ],
    );
    rejects(
        &digits,
        |v| node(v, "fc2")["attrs"]["activation"] = json!("RELU6"),
        &["unknown fused activation \"RELU6\""],
    );
}

#[test]
fn values_out_of_range_are_rejected_naming_tensor_and_index() {
    let digits = text(DIGITS_INT8);
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["data"][7] = json!(200),
        &["tensor fc1.weight: value 7 is 200, not an integer in -128..=127"],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["data"][9] = json!(1.5),
        &["tensor fc1.weight: value 9 is 1.5, not an integer"],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc2.bias")["data"][4] = json!(3_000_000_000u64),
        &["tensor fc2.bias: value 4 is 3000000000, not an integer in -2147483648..=2147483647"],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc1.weight")["data"][11] = json!(-128),
        &["node fc1", "weight value 11 is −128"],
    );
    rejects(
        &digits,
        |v| tensor(v, "relu1.out")["quant"]["zero_point"] = json!(300),
        &["tensor relu1.out", "zero point 300 in −128..=127"],
    );
    rejects(
        &digits,
        |v| {
            tensor(v, "fc1.weight")["data"]
                .as_array_mut()
                .unwrap()
                .pop()
                .map(|_| ())
                .unwrap()
        },
        &["tensor fc1.weight", "2048 values", "2047 values of data"],
    );
    // f32: a number beyond f32's range is not finite.
    let f32m = text(DIGITS_F32);
    rejects(
        &f32m,
        |v| tensor(v, "fc1.weight")["data"][3] = json!(1e39),
        &["tensor fc1.weight value 3 is not finite"],
    );
    rejects(
        &f32m,
        |v| tensor(v, "input.mean")["data"][63] = json!(-1e300),
        &["tensor input.mean value 63 is not finite"],
    );
    rejects(
        &digits,
        |v| tensor(v, "fc2.weight")["quant"]["scales"][2] = json!(1e39),
        &[
            "tensor fc2.weight",
            "channel scale 2 is not finite and positive",
        ],
    );
    rejects(
        &digits,
        |v| tensor(v, "relu1.out")["quant"]["scale"] = json!(-0.5),
        &["tensor relu1.out", "scale -0.5 must be finite and positive"],
    );
    rejects(
        &f32m,
        |v| tensor(v, "input.std")["data"][1] = json!(0.0),
        &["node input", "std[1] = 0 must be positive"],
    );
    // JSON has no spelling for NaN.
    let nan = f32m.replacen("\"data\": [", "\"data\": [NaN, ", 1);
    let err = format!("{:#}", Model::from_json_str(&nan).unwrap_err());
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn files_of_the_wrong_kind_get_a_plain_message() {
    let m = Model::load(Path::new(DIGITS_INT8)).unwrap();
    let blob = write_blob(&m, "digits").unwrap();
    assert_eq!(file_kind(&blob), Ok(FileKind::Blob));
    assert_eq!(file_kind(text(DIGITS_INT8).as_bytes()), Ok(FileKind::Json));
    assert_eq!(file_kind(b"  \n {\"format\": 1}"), Ok(FileKind::Json));
    let kinds: [(&[u8], &str); 6] = [
        (b"", "the file is empty"),
        (b" \n\t\n", "the file is empty"),
        (
            b"p0,p1,digit\n0,1,3\n",
            "a text file that is not a JSON model (a CSV data file?)",
        ),
        (
            b"\x7fELF\x02\x01\x01\0\0\0",
            "an ELF executable, not a model",
        ),
        (
            b"\x1c\0\0\0TFL3\0\0\0\0",
            "a TensorFlow Lite flatbuffer, not an Axon model (Axon cannot import it yet)",
        ),
        (
            b"\x00\xff\xfe\x01binary",
            "a binary file that is neither an Axon blob nor a JSON model",
        ),
    ];
    for (bytes, says) in kinds {
        assert_eq!(file_kind(bytes), Err(says.to_owned()), "{bytes:?}");
        let err = format!("{:#}", Model::from_bytes(bytes, "m.json").unwrap_err());
        assert_eq!(err, format!("m.json is {says}"));
    }
    // The kind comes from the bytes, not the name: a blob named .json loads
    // as the blob, and computes what the model computes.
    let dir = std::env::temp_dir().join(format!("axon-model-format-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("model.json");
    std::fs::write(&p, &blob).unwrap();
    let from_blob = Model::load(&p).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let x: Vec<f32> = (0..64).map(|i| (i % 17) as f32).collect();
    let bits = |m: &Model| -> Vec<u32> {
        Runner::new(m)
            .unwrap()
            .run(&x)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&from_blob), bits(&m));
    // A blob handed to the JSON reader is not JSON.
    let err = format!(
        "{:#}",
        Model::from_json_str(&String::from_utf8_lossy(&blob)).unwrap_err()
    );
    assert!(err.contains("not valid JSON"), "{err}");
    // JSON that is not a model.
    for (doc, says) in [
        ("[1, 2]", "the top level must be a JSON object"),
        (
            "{\"version\": 2}",
            "missing \"format\": this is not an axon model file",
        ),
        (
            "{\"format\": \"axon-blob\", \"version\": 2}",
            "\"format\" is \"axon-blob\", expected \"axon-model\"",
        ),
        (
            "{\"format\": \"axon-model\"}",
            "missing or non-integer \"version\"",
        ),
        (
            "{\"format\": \"axon-model\", \"version\": 3}",
            "model file version 3 is not supported (this axon reads versions 1 and 2)",
        ),
    ] {
        let err = format!("{:#}", Model::from_json_str(doc).unwrap_err());
        assert!(err.contains(says), "`{err}` should say `{says}`");
    }
}

#[test]
fn metadata_is_checked_against_the_graph() {
    let f32m = text(DIGITS_F32);
    rejects(
        &f32m,
        |v| {
            v["meta"]["features"]
                .as_array_mut()
                .unwrap()
                .pop()
                .map(|_| ())
                .unwrap()
        },
        &["\"features\" names 63 columns, but the model takes 64 inputs"],
    );
    rejects(
        &f32m,
        |v| v["meta"]["task"]["classes"] = json!(9),
        &["the task has 9 classes but the model has 10 outputs"],
    );
    rejects(
        &f32m,
        |v| {
            v["meta"]["labels"]
                .as_array_mut()
                .unwrap()
                .pop()
                .map(|_| ())
                .unwrap()
        },
        &["\"labels\" has 9 entries, expected 10"],
    );
    rejects(
        &f32m,
        |v| v["meta"]["task"] = json!({"type": "ranking"}),
        &["ranking"],
    );
    rejects(
        &text(DIGITS_INT8),
        |v| v["meta"]["quantization"]["rounding"] = json!("half"),
        &["meta.quantization", "unknown rounding \"half\""],
    );
}

/// TFLite's int8 weights are symmetric: a weight's zero point is 0, and
/// the kernels never read it. A file that says otherwise contradicts the
/// arithmetic it will get, so it is rejected like any other inconsistent
/// parameter.
#[test]
fn an_int8_weight_with_a_nonzero_zero_point_is_rejected() {
    let f = Model::load(Path::new(DIGITS_F32)).unwrap();
    let x: Vec<f32> = (0..64 * 50).map(|i| (i % 17) as f32).collect();
    let opts = QuantizeOptions {
        per_channel: false,
        ..QuantizeOptions::default()
    };
    let q = quantize(&f, &x, "synthetic", &opts)
        .unwrap()
        .to_json_string()
        .unwrap();
    let v = parse(&q);
    assert_eq!(get(&v, "tensors", "fc1.weight", "quant")["zero_point"], 0);
    rejects(
        &q,
        |v| tensor(v, "fc1.weight")["quant"]["zero_point"] = json!(5),
        &["fc1.weight", "zero point"],
    );
}
