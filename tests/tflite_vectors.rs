//! The int8 fully connected and add ops against TensorFlow Lite and
//! TensorFlow Lite for Microcontrollers themselves (issue 4, DESIGN.md §
//! parity contract 2).
//!
//! `tools/tflite/gen_vectors.py` converted one-layer Keras `Dense` models
//! and two-input Keras `Add` models to int8 TFLite models, ran each through
//! TFLite's reference kernels (`BUILTIN_REF`) and through TFLite Micro on a
//! few hundred int8 inputs, and wrote `tests/data/tflite/fc_*.json` and
//! `tests/data/tflite/add_*.json`. Here the core derives the requantization
//! parameters from the same float scales the way both runtimes' Prepare
//! does (`axon_core::ops::fully_connected::multipliers`,
//! `axon_core::ops::add::AddInt8::derive`, `Fused::clamp` for the fused
//! activation), runs the ops — every form of the fully connected layer
//! (`run_i8` with and without row sums, the VNNI layout, the packed 4×4
//! layout with staged activations, the interpreter over a one-node graph),
//! and `add_i8` — and compares every output code, bit for bit. No
//! TensorFlow is needed at test time.
//!
//! FULLY_CONNECTED: TFLite 2.21 requantizes with a single rounding, TFLite
//! Micro with gemmlowp's double rounding (tools/tflite/README.md); the core
//! does either ([`Rounding`]) and must equal TFLite everywhere in
//! [`Rounding::Single`] and TFLite Micro everywhere in [`Rounding::Double`].
//! ADD: both runtimes round twice, and the core in [`Rounding::Double`]
//! must equal both everywhere.
//!
//! The language model's ops (docs/lm.md): `bmm_*.json` (BATCH_MATMUL of
//! two int8 activations, `ops::batch_matmul::matmul_i8`), `softmax_*.json`
//! (`quant::softmax::softmax_i8` and its table form) and `gather_*.json`
//! (`ops::embedding::gather_i8`), from one-operator flatbuffers the
//! generator writes. For all three both runtimes agree on every code, and
//! BATCH_MATMUL rounds twice in both.
//!
//! Every check counts the codes it compared and asserts the total (24,850
//! FC codes per runtime, 43,040 ADD codes, 4,075 BATCH_MATMUL, 11,811
//! SOFTMAX, 4,271 GATHER), so a file that stops being read fails the test
//! instead of passing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axon::core::graph::{DType, Graph, Node, Quad, Quant, Shape, Storage, Tensor};
use axon::core::kernels::gemv_i8::Scalar;
use axon::core::kernels::{pack_vnni, packed_vnni_len, weight_row_sums, FullyConnectedParams};
use axon::core::ops::add::{add_i8, Add, AddInt8, LEFT_SHIFT};
use axon::core::ops::batch_matmul::{matmul_i8, MatmulQuant};
use axon::core::ops::embedding::gather_i8;
use axon::core::ops::fully_connected::packed4::{
    pack_layer, stream_len, Block, PackedDense, Scale,
};
use axon::core::ops::fully_connected::{
    self as fc, run_i8, run_packed, run_vnni, FullyConnected, Int8, Packed, Vnni,
};
use axon::core::ops::layout::{stage, unstage};
use axon::core::ops::{Fused, Op, Signature, View, ViewMut};
use axon::core::quant::requantize::multiply_by_quantized_multiplier_single_rounding;
use axon::core::quant::{
    multiply_by_quantized_multiplier, quantize_multiplier, softmax::SOFTMAX_OUTPUT,
    softmax_exp_table, softmax_i8, softmax_i8_with_table, QuantParams, Rounding, SoftmaxParams,
};
use axon::core::Error;
use axon::core::Interpreter;
use axon::host::model::HeapArena;
use serde::Deserialize;

/// Output codes in the FC files, per runtime (tools/tflite/README.md).
const FC_CODES: usize = 24_850;
/// Output codes in the ADD files, per runtime (tools/tflite/README.md).
const ADD_CODES: usize = 43_040;
/// FC files and ADD files.
const FC_FILES: usize = 9;
const ADD_FILES: usize = 11;

/// One generated FC file: a FULLY_CONNECTED layer and both runtimes' outputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    name: String,
    description: String,
    generator: String,
    tensorflow_version: String,
    op_resolver: String,
    output_quantization_overridden: bool,
    in_features: usize,
    out_features: usize,
    /// The float32 scales, written as the doubles equal to them.
    input_scale: f64,
    input_zero_point: i32,
    output_scale: f64,
    output_zero_point: i32,
    per_channel: bool,
    /// One per output channel, or one for the whole tensor.
    weight_scales: Vec<f64>,
    bias_scales: Vec<f64>,
    fused_activation: String,
    /// What the generator's Python `QuantizeMultiplier` (doubles) gives.
    expected_multiplier: Vec<i32>,
    expected_shift: Vec<i32>,
    expected_act_min: i32,
    expected_act_max: i32,
    /// The requantization rounding whose re-implementation in the generator
    /// reproduces every TFLite output: "single", "double", or "either" when
    /// no case tells them apart.
    requantization_rounding: String,
    /// Codes where the generator's double-rounding kernel differs from TFLite.
    double_rounding_mismatches: usize,
    /// Codes where the generator's single-rounding kernel differs from TFLite.
    single_rounding_mismatches: usize,
    tflm_version: String,
    /// As `requantization_rounding`, for TFLite Micro.
    tflm_requantization_rounding: String,
    tflm_double_rounding_mismatches: usize,
    tflm_single_rounding_mismatches: usize,
    /// (out_features, in_features), output-major.
    weights: Vec<Vec<i8>>,
    /// (out_features,), scale `input_scale · weight_scales[c]`.
    bias: Vec<i32>,
    cases: Vec<Case>,
}

/// One input vector and what each runtime returned for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    input: Vec<i8>,
    /// TFLite, reference kernels.
    output: Vec<i8>,
    /// TFLite Micro.
    tflm_output: Vec<i8>,
}

/// One generated ADD file: an ADD op and both runtimes' outputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddVectors {
    name: String,
    description: String,
    generator: String,
    tensorflow_version: String,
    op_resolver: String,
    tflm_version: String,
    op: String,
    /// Elements per input.
    len: usize,
    input1_scale: f64,
    input1_zero_point: i32,
    input2_scale: f64,
    input2_zero_point: i32,
    output_scale: f64,
    output_zero_point: i32,
    quantization_overridden: bool,
    fused_activation: String,
    expected_left_shift: u32,
    expected_input1_multiplier: i32,
    expected_input1_shift: i32,
    expected_input2_multiplier: i32,
    expected_input2_shift: i32,
    expected_output_multiplier: i32,
    expected_output_shift: i32,
    expected_act_min: i32,
    expected_act_max: i32,
    requantization_rounding: String,
    double_rounding_mismatches: usize,
    single_rounding_mismatches: usize,
    tflm_requantization_rounding: String,
    tflm_double_rounding_mismatches: usize,
    tflm_single_rounding_mismatches: usize,
    cases: Vec<AddCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddCase {
    input1: Vec<i8>,
    input2: Vec<i8>,
    /// TFLite, reference kernels.
    output: Vec<i8>,
    /// TFLite Micro.
    tflm_output: Vec<i8>,
}

/// The runtime whose outputs a check compares against.
#[derive(Clone, Copy, Debug)]
enum Oracle {
    Tflite,
    TfliteMicro,
}

impl Oracle {
    const BOTH: [Oracle; 2] = [Oracle::Tflite, Oracle::TfliteMicro];

    /// The requantization rounding this runtime's FULLY_CONNECTED uses.
    fn fc_rounding(self) -> Rounding {
        match self {
            Oracle::Tflite => Rounding::Single,
            Oracle::TfliteMicro => Rounding::Double,
        }
    }

    fn outputs(self, case: &Case) -> &[i8] {
        match self {
            Oracle::Tflite => &case.output,
            Oracle::TfliteMicro => &case.tflm_output,
        }
    }

    fn add_outputs(self, case: &AddCase) -> &[i8] {
        match self {
            Oracle::Tflite => &case.output,
            Oracle::TfliteMicro => &case.tflm_output,
        }
    }
}

/// A loaded FC file, its shapes checked, its weights flattened, its scales
/// as the float32 values TFLite stores.
struct Layer {
    file: String,
    v: Vectors,
    /// (out_features, in_features), output-major.
    w: Vec<i8>,
    s_in: f32,
    s_out: f32,
    /// (channels,).
    s_w: Vec<f32>,
    /// (out_features,) wrapping row sums.
    row_sums: Vec<i32>,
}

impl Layer {
    /// Row `c` of the weights: `(in_features,)`.
    fn row(&self, c: usize) -> &[i8] {
        &self.w[c * self.v.in_features..][..self.v.in_features]
    }

    fn input(&self) -> QuantParams {
        QuantParams::new(self.s_in, self.v.input_zero_point)
    }

    fn output(&self) -> QuantParams {
        QuantParams::new(self.s_out, self.v.output_zero_point)
    }

    fn fused(&self) -> Fused {
        fused(&self.file, &self.v.fused_activation)
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tflite")
}

/// A scale from the JSON as the float32 TFLite stores; the file must hold
/// exactly a float32 value.
fn f32_scale(file: &str, what: &str, v: f64) -> f32 {
    let s = v as f32;
    assert!(
        s as f64 == v && s > 0.0 && s.is_finite(),
        "{file}: {what} = {v} is not a positive float32 value"
    );
    s
}

/// The core's fused activation named as TFLite names it.
fn fused(file: &str, tflite: &str) -> Fused {
    Fused::from_name(&tflite.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("{file}: fused activation {tflite:?} has no Fused"))
}

/// Checks that a runtime's recorded rounding mode is consistent with its counts.
fn check_rounding(file: &str, runtime: &str, mode: &str, double: usize, single: usize) {
    let ok = match mode {
        "single" => single == 0 && double > 0,
        "double" => double == 0 && single > 0,
        "either" => single == 0 && double == 0,
        other => panic!("{file}: {runtime}: unknown rounding {other:?}"),
    };
    assert!(
        ok,
        "{file}: {runtime}: rounding {mode:?} with {double} double / {single} single mismatches"
    );
}

/// The `*.json` files in the data directory whose names start with `prefix`, sorted.
fn files(prefix: &str) -> Vec<PathBuf> {
    let dir = data_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().unwrap().to_string_lossy().starts_with(prefix)
        })
        .collect();
    paths.sort();
    paths
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> (String, T) {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    (file, v)
}

fn load(path: &Path) -> Layer {
    let (file, v): (String, Vectors) = read(path);
    let (n_in, n_out) = (v.in_features, v.out_features);
    assert_eq!(format!("{}.json", v.name), file, "{file}: name field");
    assert_eq!(
        v.op_resolver, "BUILTIN_REF",
        "{file}: vectors must come from the reference kernels"
    );
    assert_eq!(
        v.generator, "tools/tflite/gen_vectors.py",
        "{file}: generator"
    );
    assert!(!v.description.is_empty(), "{file}: empty description");
    assert!(
        !v.tensorflow_version.is_empty(),
        "{file}: no TensorFlow version"
    );
    assert!(
        !v.tflm_version.is_empty(),
        "{file}: no TFLite Micro version"
    );
    check_rounding(
        &file,
        "TFLite",
        &v.requantization_rounding,
        v.double_rounding_mismatches,
        v.single_rounding_mismatches,
    );
    check_rounding(
        &file,
        "TFLite Micro",
        &v.tflm_requantization_rounding,
        v.tflm_double_rounding_mismatches,
        v.tflm_single_rounding_mismatches,
    );
    assert!(n_in > 0 && n_out > 0, "{file}: empty shape {n_out}x{n_in}");
    assert_eq!(v.weights.len(), n_out, "{file}: weight rows");
    for (c, row) in v.weights.iter().enumerate() {
        assert_eq!(row.len(), n_in, "{file}: weight row {c} length");
        assert!(
            row.iter().all(|&w| w != i8::MIN),
            "{file}: weight row {c} holds -128"
        );
    }
    assert_eq!(v.bias.len(), n_out, "{file}: bias length");
    let channels = if v.per_channel { n_out } else { 1 };
    assert_eq!(
        v.weight_scales.len(),
        channels,
        "{file}: weight_scales length"
    );
    assert_eq!(v.bias_scales.len(), channels, "{file}: bias_scales length");
    assert_eq!(
        v.expected_multiplier.len(),
        channels,
        "{file}: expected_multiplier length"
    );
    assert_eq!(
        v.expected_shift.len(),
        channels,
        "{file}: expected_shift length"
    );
    assert!(
        (-128..=127).contains(&v.input_zero_point),
        "{file}: input zero point"
    );
    assert!(
        (-128..=127).contains(&v.output_zero_point),
        "{file}: output zero point"
    );
    for (i, case) in v.cases.iter().enumerate() {
        assert_eq!(case.input.len(), n_in, "{file}: case {i} input length");
        assert_eq!(case.output.len(), n_out, "{file}: case {i} output length");
        assert_eq!(
            case.tflm_output.len(),
            n_out,
            "{file}: case {i} tflm_output length"
        );
    }
    let w = v.weights.concat();
    let s_in = f32_scale(&file, "input_scale", v.input_scale);
    let s_out = f32_scale(&file, "output_scale", v.output_scale);
    let s_w = v
        .weight_scales
        .iter()
        .enumerate()
        .map(|(c, &s)| f32_scale(&file, &format!("weight_scales[{c}]"), s))
        .collect();
    let mut row_sums = vec![0i32; n_out];
    weight_row_sums(&w, n_in, &mut row_sums).unwrap();
    Layer {
        file,
        v,
        w,
        s_in,
        s_out,
        s_w,
        row_sums,
    }
}

/// Every FC file, sorted by name.
fn layers() -> Vec<Layer> {
    let ls: Vec<Layer> = files("fc_").iter().map(|p| load(p)).collect();
    assert_eq!(
        ls.len(),
        FC_FILES,
        "FC vector files in {}",
        data_dir().display()
    );
    ls
}

/// Multipliers and shifts as the core's op derives them
/// ([`fc::multipliers`]: TFLite's Prepare, `s_in · s_w / s_out` in double
/// from the float32 scales, then `QuantizeMultiplier`).
fn derive_multipliers(l: &Layer) -> (Vec<i32>, Vec<i32>) {
    fc::multipliers(l.s_in, &l.s_w, l.s_out).unzip()
}

/// The same, written out here as TFLite's code reads (an independent
/// derivation of what [`fc::multipliers`] must give).
fn tflite_multipliers(l: &Layer) -> (Vec<i32>, Vec<i32>) {
    l.s_w
        .iter()
        .map(|&s_w| quantize_multiplier(l.s_in as f64 * s_w as f64 / l.s_out as f64))
        .unzip()
}

/// TFLite's `CalculateActivationRangeQuantized` for int8, written out: the
/// fused activation's real bounds quantized with float32 arithmetic
/// (`zero_point + round(f / scale)`), intersected with [−128, 127].
fn activation_range(file: &str, tflite: &str, out: QuantParams) -> (i8, i8) {
    let q = |f: f32| out.zero_point + (f / out.scale).round() as i32;
    let (lo, hi) = match tflite {
        "NONE" => (-128, 127),
        "RELU" => (q(0.0), 127),
        "RELU6" => (q(0.0), q(6.0)),
        "RELU_N1_TO_1" => (q(-1.0), q(1.0)),
        other => panic!("{file}: unknown fused activation {other:?}"),
    };
    (lo.clamp(-128, 127) as i8, hi.clamp(-128, 127) as i8)
}

/// The op's int8 form for `l`, with the parameters its Prepare derives and
/// requantization rounded as `rounding`; `row_sums` folds the input offset
/// into precomputed sums (the row-sum kernel) instead of per element.
fn with_op<R>(l: &Layer, rounding: Rounding, row_sums: bool, f: impl FnOnce(&Int8<'_>) -> R) -> R {
    let (multiplier, shift) = derive_multipliers(l);
    let activation = l.fused();
    let (act_min, act_max) = activation.clamp(l.output());
    f(&Int8 {
        weights: &l.w,
        bias: &l.v.bias,
        weight_scales: &l.s_w,
        row_sums: row_sums.then_some(l.row_sums.as_slice()),
        activation,
        params: FullyConnectedParams {
            input_offset: -l.v.input_zero_point,
            output_offset: l.v.output_zero_point,
            multiplier: &multiplier,
            shift: &shift,
            act_min,
            act_max,
            rounding,
        },
    })
}

/// A form of the layer, run on one case's input.
type Form = fn(&Layer, &Int8<'_>, &[i8], &mut [i8]);

/// `fully_connected::run_i8` (the dispatched kernel, SIMD where available).
fn form_run_i8(_: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    run_i8(p, x, y).expect("shapes were checked at load time");
}

/// The scalar reference kernel.
fn form_scalar(_: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    Scalar::fully_connected(p.weights, x, p.bias, &p.params, y);
}

/// The VNNI layout (`fully_connected::Vnni`, `run_vnni`).
fn form_vnni(l: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    let (rows, cols) = (l.v.out_features, l.v.in_features);
    let mut packed = vec![0i8; packed_vnni_len(rows, cols).unwrap()];
    pack_vnni(p.weights, cols, &mut packed).unwrap();
    let v = Vnni {
        packed: &packed,
        row_sums: &l.row_sums,
        bias: p.bias,
        activation: p.activation,
        params: p.params,
    };
    let x_t = int8_tensor(cols, l.input());
    let y_t = int8_tensor(rows, l.output());
    Op::FullyConnected(FullyConnected::Vnni(v))
        .check(&Signature::new(&[x_t], y_t))
        .unwrap_or_else(|e| panic!("{}: the VNNI form is rejected: {e}", l.file));
    run_vnni(&v, cols, x, y).unwrap();
}

/// The packed 4×4 layout with staged activations (`fully_connected::packed4`):
/// the input staged with its zero point, the output unstaged with the
/// output's.
fn form_packed(l: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    let (rows, cols) = (l.v.out_features, l.v.in_features);
    let (stream, scales) = pack(l, p);
    let (lo, hi) = (p.params.act_min, p.params.act_max);
    let layer = PackedDense::try_new(cols, rows, &stream, &scales, p.params.output_offset, lo, hi)
        .unwrap_or_else(|e| panic!("{}: does not pack: {e}", l.file));
    let packed = Packed {
        layer,
        rounding: p.params.rounding,
    };
    let mut xs = vec![Quad([0; 4]); cols.div_ceil(4)];
    stage(x, l.v.input_zero_point, &mut xs);
    let mut ys = vec![Quad([0; 4]); rows.div_ceil(4)];
    run_packed(&packed, &xs, &mut ys);
    unstage(&ys, l.v.output_zero_point, y);
}

/// The layer's weight stream and scales in the packed layout.
fn pack(l: &Layer, p: &Int8<'_>) -> (Vec<Block>, Vec<Scale>) {
    let (rows, cols) = (l.v.out_features, l.v.in_features);
    let mut stream = vec![Block([0; 16]); stream_len(rows, cols)];
    pack_layer(p.weights, p.bias, rows, cols, &mut stream);
    let right = |s: i32| -> u8 {
        assert!(
            (1..=31).contains(&-s),
            "{}: shift {s} is not a right shift of 1..=31, which the packed layer needs",
            l.file
        );
        (-s) as u8
    };
    let (m, s) = (p.params.multiplier, p.params.shift);
    let scales = if m.len() == 1 {
        vec![Scale::tensor(m[0], right(s[0]))]
    } else {
        (0..rows.div_ceil(4))
            .map(|r| {
                let at = |k: usize| (4 * r + k).min(rows - 1);
                Scale::new(
                    std::array::from_fn(|k| m[at(k)]),
                    std::array::from_fn(|k| right(s[at(k)])),
                )
            })
            .collect()
    };
    (stream, scales)
}

/// The op through the core's interpreter: a one-node graph with an int8
/// input and an int8 output.
fn form_interpreter(l: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    let tensors = [
        io_tensor(int8_tensor(l.v.in_features, l.input()), Storage::Input(0)),
        io_tensor(
            int8_tensor(l.v.out_features, l.output()),
            Storage::Output(0),
        ),
    ];
    let nodes = [Node::new(
        Op::FullyConnected(FullyConnected::Int8(*p)),
        &[0],
        1,
    )];
    interpret(&tensors, &nodes, &[View::I8(x)], ViewMut::I8(y), &l.file);
}

/// Single rounding out of the core's pieces: [`Scalar::accumulate`], then
/// [`multiply_by_quantized_multiplier_single_rounding`], offset, clamp.
fn form_single_rounding_pieces(_: &Layer, p: &Int8<'_>, x: &[i8], y: &mut [i8]) {
    for (c, ((row, &b), yc)) in p
        .weights
        .chunks_exact(x.len())
        .zip(p.bias)
        .zip(y.iter_mut())
        .enumerate()
    {
        let acc = Scalar::accumulate(row, x, p.params.input_offset, b);
        let (m, s) = p.params.channel(c);
        let v =
            multiply_by_quantized_multiplier_single_rounding(acc, m, s) + p.params.output_offset;
        *yc = v.clamp(p.params.act_min as i32, p.params.act_max as i32) as i8;
    }
}

fn int8_tensor(n: usize, q: QuantParams) -> Tensor<'static> {
    Tensor::arena(Shape::vector(n as u32), DType::I8, Quant::PerTensor(q), 0)
}

fn io_tensor(t: Tensor<'static>, storage: Storage) -> Tensor<'static> {
    Tensor { storage, ..t }
}

/// Validates and runs a graph of graph-input and graph-output tensors
/// only (no arena).
fn interpret(
    tensors: &[Tensor<'_>],
    nodes: &[Node<'_>],
    x: &[View<'_>],
    y: ViewMut<'_>,
    file: &str,
) {
    let inputs: Vec<u16> = (0..x.len() as u16).collect();
    let outputs = [x.len() as u16];
    let g = Graph::new(tensors, nodes, &inputs, &outputs, 0);
    let it = Interpreter::new(g).unwrap_or_else(|e| panic!("{file}: the graph is rejected: {e}"));
    let mut arena = HeapArena::new(0);
    it.run(x, &mut [y], arena.bytes())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
}

/// Runs `form` on every case of every FC file in the oracle's rounding, and
/// returns how many codes it compared; fails listing the first differing
/// codes (file, case, channel, accumulator, parameters, both values).
#[track_caller]
fn assert_bit_for_bit(form_name: &str, form: Form, oracle: Oracle, row_sums: bool) {
    let mut report = String::new();
    let mut differ = 0usize;
    let mut checked = 0usize;
    for l in layers() {
        with_op(&l, oracle.fc_rounding(), row_sums, |p| {
            let mut y = vec![0i8; l.v.out_features];
            for (i, case) in l.v.cases.iter().enumerate() {
                y.fill(0);
                form(&l, p, &case.input, &mut y);
                checked += y.len();
                for (c, (&got, &want)) in y.iter().zip(oracle.outputs(case)).enumerate() {
                    if got == want {
                        continue;
                    }
                    differ += 1;
                    if differ <= 20 {
                        let acc = Scalar::accumulate(
                            l.row(c),
                            &case.input,
                            p.params.input_offset,
                            l.v.bias[c],
                        );
                        let (m, s) = p.params.channel(c);
                        let _ = writeln!(
                            report,
                            "  {}: case {i}, channel {c}: {oracle:?} {want}, got {got} \
                             (acc {acc}, multiplier {m}, shift {s}, act [{}, {}])",
                            l.file, p.params.act_min, p.params.act_max
                        );
                    }
                }
            }
        })
    }
    assert_eq!(
        checked, FC_CODES,
        "{form_name}: compared {checked} codes, the files hold {FC_CODES}"
    );
    assert!(
        differ == 0,
        "{form_name}: {differ} of {checked} output codes differ from {oracle:?}:\n{report}"
    );
}

#[test]
fn vector_files_cover_per_channel_per_tensor_relu_relu6_and_no_activation() {
    let ls = layers();
    // Each kind must come straight from the converter, not from a file whose
    // output quantization the generator rewrote.
    let has = |f: &dyn Fn(&Vectors) -> bool| {
        ls.iter()
            .any(|l| !l.v.output_quantization_overridden && f(&l.v))
    };
    assert!(
        has(&|v| v.per_channel && v.out_features > 1),
        "no per-channel configuration"
    );
    assert!(has(&|v| !v.per_channel), "no per-tensor configuration");
    assert!(
        has(&|v| v.fused_activation == "NONE"),
        "no configuration without activation"
    );
    assert!(
        has(&|v| v.fused_activation == "RELU"),
        "no fused ReLU configuration"
    );
    assert!(
        has(&|v| v.fused_activation == "RELU6"),
        "no fused ReLU6 configuration"
    );
    // A fused clamp that coincides with int8 saturation proves nothing about it.
    assert!(
        ls.iter().any(|l| l.fused().clamp(l.output()).0 > -128),
        "no configuration whose activation clamp lies inside the int8 range"
    );
    assert!(
        ls.iter()
            .any(|l| l.fused() == Fused::Relu6 && l.fused().clamp(l.output()).1 < 127),
        "no ReLU6 configuration whose upper clamp lies inside the int8 range"
    );
    let mut codes = 0;
    for l in &ls {
        codes += l.v.cases.len() * l.v.out_features;
        assert!(
            l.v.cases.len() >= 50,
            "{}: only {} cases",
            l.file,
            l.v.cases.len()
        );
        assert!(
            l.v.bias.iter().any(|&b| b != 0),
            "{}: all-zero bias",
            l.file
        );
        let inputs = || l.v.cases.iter().flat_map(|c| c.input.iter().copied());
        assert!(
            inputs().any(|x| x == -128),
            "{}: no input code -128",
            l.file
        );
        assert!(inputs().any(|x| x == 127), "{}: no input code 127", l.file);
        let (lo, hi) = l.fused().clamp(l.output());
        let outputs = || l.v.cases.iter().flat_map(|c| c.output.iter().copied());
        assert!(
            outputs().any(|y| y == lo),
            "{}: output never reaches act_min {lo}",
            l.file
        );
        assert!(
            outputs().any(|y| y == hi),
            "{}: output never reaches act_max {hi}",
            l.file
        );
    }
    assert_eq!(codes, FC_CODES);
}

#[test]
fn derived_multipliers_and_shifts_equal_tflite_quantize_multiplier() {
    for l in layers() {
        let (multiplier, shift) = derive_multipliers(&l);
        assert_eq!(
            (&multiplier, &shift),
            (&l.v.expected_multiplier, &l.v.expected_shift),
            "{}: the op's multipliers and shifts",
            l.file
        );
        assert_eq!(
            tflite_multipliers(&l),
            (multiplier.clone(), shift.clone()),
            "{}: TFLite's derivation written out",
            l.file
        );
        for (&m, &s) in multiplier.iter().zip(&shift) {
            assert!(
                (1 << 30..=i32::MAX).contains(&m),
                "{}: multiplier {m} not in Q31 [0.5, 1)",
                l.file
            );
            assert!((-31..=30).contains(&s), "{}: shift {s}", l.file);
        }
        // The op's own load-time check agrees: nothing derived differs.
        with_op(&l, Rounding::Double, true, |p| {
            assert_eq!(
                p.derived_mismatch(l.input(), l.output()),
                None,
                "{}",
                l.file
            );
            let sig = Signature::new(
                &[int8_tensor(l.v.in_features, l.input())],
                int8_tensor(l.v.out_features, l.output()),
            );
            Op::FullyConnected(FullyConnected::Int8(*p))
                .check(&sig)
                .unwrap_or_else(|e| panic!("{}: the op rejects TFLite's parameters: {e}", l.file));
        });
        // And a multiplier off by one is found.
        let mut bad = multiplier.clone();
        bad[0] += 1;
        let p = Int8 {
            weights: &l.w,
            bias: &l.v.bias,
            weight_scales: &l.s_w,
            row_sums: None,
            activation: l.fused(),
            params: FullyConnectedParams {
                input_offset: -l.v.input_zero_point,
                output_offset: l.v.output_zero_point,
                multiplier: &bad,
                shift: &shift,
                act_min: -128,
                act_max: 127,
                rounding: Rounding::Double,
            },
        };
        assert_eq!(
            p.derived_mismatch(l.input(), l.output()),
            Some((0, (bad[0], shift[0]), (multiplier[0], shift[0]))),
            "{}",
            l.file
        );
    }
}

#[test]
fn fused_clamp_equals_tflite_calculate_activation_range_quantized() {
    for l in layers() {
        let out = l.output();
        let want = (l.v.expected_act_min, l.v.expected_act_max);
        let (lo, hi) = l.fused().clamp(out);
        assert_eq!(
            (lo as i32, hi as i32),
            want,
            "{}: Fused::{:?}.clamp on output (scale {}, zero point {})",
            l.file,
            l.fused(),
            l.v.output_scale,
            l.v.output_zero_point
        );
        let (lo, hi) = activation_range(&l.file, &l.v.fused_activation, out);
        assert_eq!((lo as i32, hi as i32), want, "{}: written out", l.file);
        // A clamp that is not the fused activation's range is rejected.
        with_op(&l, Rounding::Double, false, |p| {
            let mut q = *p;
            q.params.act_max = q.params.act_max.wrapping_sub(1);
            let sig = Signature::new(
                &[int8_tensor(l.v.in_features, l.input())],
                int8_tensor(l.v.out_features, out),
            );
            assert_eq!(
                Op::FullyConnected(FullyConnected::Int8(q)).check(&sig),
                Err("its clamp is not its fused activation's range"),
                "{}",
                l.file
            );
        });
    }
}

#[test]
fn bias_scale_is_input_scale_times_weight_scale() {
    for l in layers() {
        for (c, (&s_w, &s_b)) in l.s_w.iter().zip(&l.v.bias_scales).enumerate() {
            let want = l.s_in as f64 * s_w as f64;
            assert!(
                (s_b - want).abs() <= want * 1e-6,
                "{}: bias scale {c} = {s_b}, s_in·s_w = {want}",
                l.file
            );
        }
    }
}

#[test]
fn run_i8_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("run_i8", form_run_i8, Oracle::TfliteMicro, false);
}

#[test]
fn run_i8_with_row_sums_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("run_i8 (row sums)", form_run_i8, Oracle::TfliteMicro, true);
}

#[test]
fn scalar_reference_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit(
        "Scalar::fully_connected",
        form_scalar,
        Oracle::TfliteMicro,
        false,
    );
}

#[test]
fn vnni_layout_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("Vnni", form_vnni, Oracle::TfliteMicro, false);
}

#[test]
fn packed4_layout_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("packed4", form_packed, Oracle::TfliteMicro, false);
}

#[test]
fn interpreter_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("Interpreter", form_interpreter, Oracle::TfliteMicro, true);
}

#[test]
fn core_accumulation_with_single_rounding_matches_tflite_bit_for_bit() {
    assert_bit_for_bit(
        "accumulate + single rounding",
        form_single_rounding_pieces,
        Oracle::Tflite,
        false,
    );
}

#[test]
fn run_i8_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("run_i8", form_run_i8, Oracle::Tflite, false);
}

#[test]
fn run_i8_with_row_sums_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("run_i8 (row sums)", form_run_i8, Oracle::Tflite, true);
}

#[test]
fn scalar_reference_matches_tflite_bit_for_bit() {
    assert_bit_for_bit(
        "Scalar::fully_connected",
        form_scalar,
        Oracle::Tflite,
        false,
    );
}

#[test]
fn vnni_layout_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("Vnni", form_vnni, Oracle::Tflite, false);
}

#[test]
fn packed4_layout_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("packed4", form_packed, Oracle::Tflite, false);
}

#[test]
fn interpreter_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("Interpreter", form_interpreter, Oracle::Tflite, true);
}

/// The two oracles disagree exactly where single and double rounding of the
/// same accumulator disagree, by one code; and the vectors hold such codes,
/// so the tests above really tell the two roundings apart.
#[test]
fn tflite_and_tflite_micro_differ_only_by_requantization_rounding() {
    let mut differ = 0usize;
    for l in layers() {
        with_op(&l, Rounding::Double, false, |p| {
            let p = &p.params;
            for (i, case) in l.v.cases.iter().enumerate() {
                for (c, (&t, &m)) in case.output.iter().zip(&case.tflm_output).enumerate() {
                    if t == m {
                        continue;
                    }
                    differ += 1;
                    let acc =
                        Scalar::accumulate(l.row(c), &case.input, p.input_offset, l.v.bias[c]);
                    let (mult, s) = p.channel(c);
                    let single = multiply_by_quantized_multiplier_single_rounding(acc, mult, s);
                    let double = multiply_by_quantized_multiplier(acc, mult, s);
                    assert!(
                        single + p.output_offset == t as i32
                            && double + p.output_offset == m as i32
                            && (single - double).abs() == 1,
                        "{}: case {i}, channel {c}: TFLite {t}, TFLite Micro {m}, but acc {acc} \
                         rounds to {single} once and {double} twice (+ offset {})",
                        l.file,
                        p.output_offset
                    );
                }
            }
        })
    }
    assert_eq!(
        differ, 51,
        "codes where TFLite and TFLite Micro differ (tools/tflite/README.md)"
    );
}

/// Each mode is needed: the op in the other runtime's mode misses some of
/// its codes — exactly the files' recorded counts — so neither oracle test
/// passes by accident.
#[test]
fn each_runtime_needs_its_own_rounding_mode() {
    for (oracle, wrong) in [
        (Oracle::Tflite, Rounding::Double),
        (Oracle::TfliteMicro, Rounding::Single),
    ] {
        let mut differ = 0usize;
        for l in layers() {
            let want = match oracle {
                Oracle::Tflite => l.v.double_rounding_mismatches,
                Oracle::TfliteMicro => l.v.tflm_single_rounding_mismatches,
            };
            let mut here = 0;
            with_op(&l, wrong, false, |p| {
                let mut y = vec![0i8; l.v.out_features];
                for case in &l.v.cases {
                    run_i8(p, &case.input, &mut y).unwrap();
                    here += y
                        .iter()
                        .zip(oracle.outputs(case))
                        .filter(|(a, b)| a != b)
                        .count();
                }
            });
            assert_eq!(here, want, "{}: {oracle:?} vs {wrong:?} rounding", l.file);
            differ += here;
        }
        assert!(
            differ > 0,
            "{oracle:?} also agrees with {wrong:?} rounding everywhere"
        );
    }
}

// ---- ADD ----

/// A loaded ADD file, checked, its scales as float32.
struct AddFile {
    file: String,
    v: AddVectors,
    x1: QuantParams,
    x2: QuantParams,
    y: QuantParams,
}

impl AddFile {
    fn fused(&self) -> Fused {
        fused(&self.file, &self.v.fused_activation)
    }

    fn derive(&self, rounding: Rounding) -> AddInt8 {
        AddInt8::derive(self.x1, self.x2, self.y, self.fused(), rounding)
    }
}

fn add_files() -> Vec<AddFile> {
    let fs: Vec<AddFile> = files("add_")
        .iter()
        .map(|path| {
            let (file, v): (String, AddVectors) = read(path);
            assert_eq!(format!("{}.json", v.name), file, "{file}: name field");
            assert_eq!(v.op, "ADD", "{file}: op");
            assert_eq!(v.op_resolver, "BUILTIN_REF", "{file}: op resolver");
            assert_eq!(
                v.generator, "tools/tflite/gen_vectors.py",
                "{file}: generator"
            );
            assert!(!v.description.is_empty(), "{file}: empty description");
            assert!(!v.tensorflow_version.is_empty() && !v.tflm_version.is_empty());
            check_rounding(
                &file,
                "TFLite",
                &v.requantization_rounding,
                v.double_rounding_mismatches,
                v.single_rounding_mismatches,
            );
            check_rounding(
                &file,
                "TFLite Micro",
                &v.tflm_requantization_rounding,
                v.tflm_double_rounding_mismatches,
                v.tflm_single_rounding_mismatches,
            );
            // Both runtimes round twice: no file may say "single".
            assert_ne!(v.requantization_rounding, "single", "{file}");
            assert_ne!(v.tflm_requantization_rounding, "single", "{file}");
            assert!(v.len > 0, "{file}: empty inputs");
            for (i, c) in v.cases.iter().enumerate() {
                for (what, xs) in [
                    ("input1", &c.input1),
                    ("input2", &c.input2),
                    ("output", &c.output),
                    ("tflm_output", &c.tflm_output),
                ] {
                    assert_eq!(xs.len(), v.len, "{file}: case {i} {what} length");
                }
            }
            let q = |what: &str, s: f64, zp: i32| {
                assert!((-128..=127).contains(&zp), "{file}: {what} zero point");
                QuantParams::new(f32_scale(&file, what, s), zp)
            };
            let x1 = q("input1_scale", v.input1_scale, v.input1_zero_point);
            let x2 = q("input2_scale", v.input2_scale, v.input2_zero_point);
            let y = q("output_scale", v.output_scale, v.output_zero_point);
            AddFile { file, v, x1, x2, y }
        })
        .collect();
    assert_eq!(
        fs.len(),
        ADD_FILES,
        "ADD vector files in {}",
        data_dir().display()
    );
    fs
}

#[test]
fn add_files_cover_activations_scales_and_rounding_ties() {
    let fs = add_files();
    let codes: usize = fs.iter().map(|f| f.v.cases.len() * f.v.len).sum();
    assert_eq!(codes, ADD_CODES);
    for want in [Fused::None, Fused::Relu, Fused::Relu6] {
        assert!(fs.iter().any(|f| f.fused() == want), "no fused {want:?}");
    }
    assert!(
        fs.iter().any(|f| !f.v.quantization_overridden),
        "no file straight from the converter"
    );
    assert!(
        fs.iter().any(|f| f.v.requantization_rounding == "double"),
        "no file where single and double rounding tell apart"
    );
    assert!(
        fs.iter()
            .any(|f| f.fused() != Fused::None && f.fused().clamp(f.y).0 > -128),
        "no fused clamp inside the int8 range"
    );
    for f in &fs {
        let (lo, hi) = f.fused().clamp(f.y);
        let outs = || f.v.cases.iter().flat_map(|c| c.output.iter().copied());
        assert!(
            outs().any(|y| y == lo),
            "{}: never reaches act_min {lo}",
            f.file
        );
        assert!(
            outs().any(|y| y == hi),
            "{}: never reaches act_max {hi}",
            f.file
        );
        for k in [-128i8, 127] {
            assert!(
                f.v.cases
                    .iter()
                    .any(|c| c.input1.contains(&k) && c.input2.contains(&k)),
                "{}: no input code {k}",
                f.file
            );
        }
    }
}

#[test]
fn add_int8_derive_equals_tflite_prepare() {
    for f in add_files() {
        let p = f.derive(Rounding::Double);
        let v = &f.v;
        assert_eq!(
            (p.left_shift, p.input1, p.input2, p.output),
            (
                v.expected_left_shift,
                (v.expected_input1_multiplier, v.expected_input1_shift),
                (v.expected_input2_multiplier, v.expected_input2_shift),
                (v.expected_output_multiplier, v.expected_output_shift),
            ),
            "{}: AddInt8::derive",
            f.file
        );
        assert_eq!(p.left_shift, LEFT_SHIFT);
        assert_eq!(
            (p.act_min as i32, p.act_max as i32),
            (v.expected_act_min, v.expected_act_max),
            "{}: Fused::{:?}.clamp",
            f.file,
            f.fused()
        );
        assert_eq!(
            (p.act_min, p.act_max),
            activation_range(&f.file, &v.fused_activation, f.y),
            "{}: written out",
            f.file
        );
        assert_eq!(
            (p.input1_offset, p.input2_offset, p.output_offset),
            (
                -v.input1_zero_point,
                -v.input2_zero_point,
                v.output_zero_point
            ),
            "{}: offsets",
            f.file
        );
        assert_eq!(p.activation, f.fused());
        assert_eq!(p.rounding, Rounding::Double);
        // The op accepts what it derived and rejects a contradicting clamp.
        let t = |q: QuantParams| int8_tensor(v.len, q);
        let sig = Signature::new(&[t(f.x1), t(f.x2)], t(f.y));
        Op::Add(Add::Int8(p))
            .check(&sig)
            .unwrap_or_else(|e| panic!("{}: {e}", f.file));
        let bad = AddInt8 {
            act_min: p.act_min.wrapping_add(1),
            ..p
        };
        assert!(Op::Add(Add::Int8(bad)).check(&sig).is_err(), "{}", f.file);
    }
}

/// A form of the int8 add, run on one case into `y`.
type AddForm<'f> = &'f dyn Fn(&AddFile, &AddInt8, &AddCase, &mut [i8]);

/// Runs `f` on every case of every ADD file and compares with `oracle`,
/// asserting the number of codes compared.
fn assert_add_bit_for_bit(name: &str, oracle: Oracle, f: AddForm<'_>) {
    let mut report = String::new();
    let (mut checked, mut differ) = (0usize, 0usize);
    for file in add_files() {
        let p = file.derive(Rounding::Double);
        let mut y = vec![0i8; file.v.len];
        for (i, c) in file.v.cases.iter().enumerate() {
            y.fill(0);
            f(&file, &p, c, &mut y);
            checked += y.len();
            for (k, (&got, &want)) in y.iter().zip(oracle.add_outputs(c)).enumerate() {
                if got != want {
                    differ += 1;
                    if differ <= 20 {
                        let _ = writeln!(
                            report,
                            "  {}: case {i}, element {k}: x1 {}, x2 {}: {oracle:?} {want}, got {got}",
                            file.file, c.input1[k], c.input2[k]
                        );
                    }
                }
            }
        }
    }
    assert_eq!(checked, ADD_CODES, "{name}: compared {checked} codes");
    assert!(
        differ == 0,
        "{name}: {differ} of {checked} codes differ from {oracle:?}:\n{report}"
    );
}

#[test]
fn add_i8_matches_tflite_and_tflite_micro_bit_for_bit() {
    for oracle in Oracle::BOTH {
        assert_add_bit_for_bit("add_i8", oracle, &|_, p, c, y| {
            add_i8(p, &c.input1, &c.input2, y)
        });
    }
}

#[test]
fn add_through_the_interpreter_matches_tflite_and_tflite_micro_bit_for_bit() {
    for oracle in Oracle::BOTH {
        assert_add_bit_for_bit("Interpreter (add)", oracle, &|f, p, c, y| {
            let n = f.v.len;
            let tensors = [
                io_tensor(int8_tensor(n, f.x1), Storage::Input(0)),
                io_tensor(int8_tensor(n, f.x2), Storage::Input(1)),
                io_tensor(int8_tensor(n, f.y), Storage::Output(0)),
            ];
            let nodes = [Node::new(Op::Add(Add::Int8(*p)), &[0, 1], 2)];
            interpret(
                &tensors,
                &nodes,
                &[View::I8(&c.input1), View::I8(&c.input2)],
                ViewMut::I8(y),
                &f.file,
            );
        });
    }
}

/// Single rounding misses exactly the codes the files say it misses, and
/// some: the ADD tests above really pin double rounding down.
#[test]
fn add_in_single_rounding_misses_exactly_the_recorded_codes() {
    let mut total = 0;
    for f in add_files() {
        let p = f.derive(Rounding::Single);
        let mut y = vec![0i8; f.v.len];
        for oracle in Oracle::BOTH {
            let mut differ = 0;
            for c in &f.v.cases {
                add_i8(&p, &c.input1, &c.input2, &mut y);
                differ += y
                    .iter()
                    .zip(oracle.add_outputs(c))
                    .filter(|(a, b)| a != b)
                    .count();
            }
            let want = match oracle {
                Oracle::Tflite => f.v.single_rounding_mismatches,
                Oracle::TfliteMicro => f.v.tflm_single_rounding_mismatches,
            };
            assert_eq!(differ, want, "{}: {oracle:?}, single rounding", f.file);
            total += differ;
        }
    }
    assert!(
        total > 0,
        "single rounding agrees with both runtimes everywhere"
    );
}

// ---- The language model's ops: BATCH_MATMUL, SOFTMAX, GATHER ----

/// Output codes per runtime in the `bmm_*`, `softmax_*` and `gather_*`
/// files (tools/tflite/README.md).
const MATMUL_CODES: usize = 4_075;
const SOFTMAX_CODES: usize = 11_811;
const GATHER_CODES: usize = 4_271;
const MATMUL_FILES: usize = 11;
const SOFTMAX_FILES: usize = 5;
const GATHER_FILES: usize = 4;
/// Codes where single rounding misses TFLite (and TFLite Micro) in the
/// `bmm_*` files: BATCH_MATMUL rounds twice in both runtimes.
const MATMUL_SINGLE_ROUNDING_MISSES: usize = 73;

/// What every file of the LM ops records about where it came from
/// (flattened into each file's struct, whose `deny_unknown_fields` covers it).
#[derive(Debug, Deserialize)]
struct Provenance {
    name: String,
    description: String,
    generator: String,
    model: String,
    tensorflow_version: String,
    op_resolver: String,
    tflm_version: String,
    op: String,
    /// Codes where the two runtimes' outputs differ.
    runtimes_differ: usize,
}

impl Provenance {
    fn check(&self, file: &str, op: &str) {
        assert_eq!(format!("{}.json", self.name), file, "{file}: name field");
        assert_eq!(self.op, op, "{file}: op");
        assert_eq!(self.op_resolver, "BUILTIN_REF", "{file}: op resolver");
        assert_eq!(self.generator, "tools/tflite/gen_vectors.py", "{file}");
        assert!(
            !self.description.is_empty() && !self.model.is_empty(),
            "{file}"
        );
        assert!(!self.tensorflow_version.is_empty() && !self.tflm_version.is_empty());
    }
}

/// One `bmm_*.json`: `out [m, n] = lhs [m, k] · rhs [k, n]` (rhs stored
/// `[n, k]` when `adj_y`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatmulVectors {
    #[serde(flatten)]
    p: Provenance,
    m: usize,
    k: usize,
    n: usize,
    adj_x: bool,
    adj_y: bool,
    lhs_scale: f64,
    lhs_zero_point: i32,
    rhs_scale: f64,
    rhs_zero_point: i32,
    output_scale: f64,
    output_zero_point: i32,
    /// TFLite's `QuantizeMultiplier(s_lhs · s_rhs / s_out)` in doubles.
    expected_multiplier: i32,
    expected_shift: i32,
    requantization_rounding: String,
    double_rounding_mismatches: usize,
    single_rounding_mismatches: usize,
    tflm_requantization_rounding: String,
    tflm_double_rounding_mismatches: usize,
    tflm_single_rounding_mismatches: usize,
    cases: Vec<MatmulCase>,
}

/// Row-major operands and both runtimes' outputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatmulCase {
    lhs: Vec<i8>,
    rhs: Vec<i8>,
    /// TFLite, reference kernels.
    output: Vec<i8>,
    /// TFLite Micro.
    tflm_output: Vec<i8>,
}

impl MatmulCase {
    fn outputs(&self, oracle: Oracle) -> &[i8] {
        match oracle {
            Oracle::Tflite => &self.output,
            Oracle::TfliteMicro => &self.tflm_output,
        }
    }
}

/// Every `bmm_*` file, checked, with the quantization the core derives
/// from its float32 scales as TFLite's Prepare does.
fn matmul_files() -> Vec<(String, MatmulVectors, MatmulQuant)> {
    let fs: Vec<_> = files("bmm_")
        .iter()
        .map(|path| {
            let (file, v): (String, MatmulVectors) = read(path);
            v.p.check(&file, "BATCH_MATMUL");
            assert!(!v.adj_x, "{file}: adj_x");
            for (runtime, mode, d, s) in [
                (
                    "TFLite",
                    &v.requantization_rounding,
                    v.double_rounding_mismatches,
                    v.single_rounding_mismatches,
                ),
                (
                    "TFLite Micro",
                    &v.tflm_requantization_rounding,
                    v.tflm_double_rounding_mismatches,
                    v.tflm_single_rounding_mismatches,
                ),
            ] {
                check_rounding(&file, runtime, mode, d, s);
                assert_ne!(
                    mode, "single",
                    "{file}: {runtime} rounds BATCH_MATMUL twice"
                );
            }
            for (i, c) in v.cases.iter().enumerate() {
                for (what, len, want) in [
                    ("lhs", c.lhs.len(), v.m * v.k),
                    ("rhs", c.rhs.len(), v.k * v.n),
                    ("output", c.output.len(), v.m * v.n),
                    ("tflm_output", c.tflm_output.len(), v.m * v.n),
                ] {
                    assert_eq!(len, want, "{file}: case {i}: {what} length");
                }
            }
            let s = |what: &str, x: f64| f32_scale(&file, what, x) as f64;
            let real = s("lhs_scale", v.lhs_scale) * s("rhs_scale", v.rhs_scale)
                / s("output_scale", v.output_scale);
            let (multiplier, shift) = quantize_multiplier(real);
            assert_eq!(
                (multiplier, shift),
                (v.expected_multiplier, v.expected_shift),
                "{file}: quantize_multiplier(s_lhs·s_rhs/s_out = {real})"
            );
            let q = MatmulQuant {
                lhs_zero_point: v.lhs_zero_point,
                rhs_zero_point: v.rhs_zero_point,
                output_zero_point: v.output_zero_point,
                multiplier,
                shift,
                rounding: Rounding::Double,
            };
            (file, v, q)
        })
        .collect();
    assert_eq!(fs.len(), MATMUL_FILES, "BATCH_MATMUL vector files");
    fs
}

/// Runs `matmul_i8` in `rounding` on every case, compares with `oracle`;
/// returns (codes compared, codes that differ, a report of the first).
fn matmul_differences(rounding: Rounding, oracle: Oracle) -> (usize, usize, String) {
    let (mut checked, mut differ, mut report) = (0, 0, String::new());
    for (file, v, q) in matmul_files() {
        let q = MatmulQuant { rounding, ..q };
        let mut y = vec![0i8; v.m * v.n];
        let mut here = 0;
        for (i, c) in v.cases.iter().enumerate() {
            y.fill(0);
            matmul_i8(&q, &c.lhs, &c.rhs, v.adj_y, v.m, v.k, v.n, &mut y)
                .unwrap_or_else(|e| panic!("{file}: case {i}: {e}"));
            checked += y.len();
            for (j, (&got, &want)) in y.iter().zip(c.outputs(oracle)).enumerate() {
                if got != want {
                    here += 1;
                    if here <= 5 {
                        let _ = writeln!(
                            report,
                            "  {file}: case {i}, out[{}, {}]: {oracle:?} {want}, got {got}",
                            j / v.n,
                            j % v.n
                        );
                    }
                }
            }
        }
        let recorded = match (oracle, rounding) {
            (Oracle::Tflite, Rounding::Double) => v.double_rounding_mismatches,
            (Oracle::Tflite, Rounding::Single) => v.single_rounding_mismatches,
            (Oracle::TfliteMicro, Rounding::Double) => v.tflm_double_rounding_mismatches,
            (Oracle::TfliteMicro, Rounding::Single) => v.tflm_single_rounding_mismatches,
        };
        assert_eq!(
            here, recorded,
            "{file}: {oracle:?}, {rounding:?} rounding: the generator's count\n{report}"
        );
        differ += here;
    }
    (checked, differ, report)
}

#[test]
fn matmul_i8_matches_tflite_micro_and_tflite_bit_for_bit() {
    for oracle in Oracle::BOTH {
        let (checked, differ, report) = matmul_differences(Rounding::Double, oracle);
        assert_eq!(checked, MATMUL_CODES, "BATCH_MATMUL codes compared");
        assert_eq!(differ, 0, "matmul_i8 vs {oracle:?}:\n{report}");
    }
}

/// Single rounding misses exactly the recorded codes, and some: the test
/// above really pins BATCH_MATMUL's double rounding down, in both runtimes.
#[test]
fn matmul_i8_in_single_rounding_misses_exactly_the_recorded_codes() {
    for oracle in Oracle::BOTH {
        let (checked, differ, _) = matmul_differences(Rounding::Single, oracle);
        assert_eq!(checked, MATMUL_CODES);
        assert_eq!(differ, MATMUL_SINGLE_ROUNDING_MISSES, "{oracle:?}");
    }
}

#[test]
fn matmul_files_cover_the_attention_shapes_and_zero_points() {
    let fs = matmul_files();
    let any = |f: &dyn Fn(&MatmulVectors) -> bool| fs.iter().any(|(_, v, _)| f(v));
    assert!(any(&|v| v.adj_y) && any(&|v| !v.adj_y), "both rhs layouts");
    assert!(any(&|v| v.k == 1) && any(&|v| v.n >= 129) && any(&|v| v.k >= 127));
    assert!(any(&|v| v.k % 4 != 0 && v.n % 4 != 0), "no odd shapes");
    assert!(any(&|v| v.lhs_zero_point == -128 && v.rhs_zero_point == 127));
    assert!(any(&|v| v.lhs_zero_point == 127 && v.rhs_zero_point == -128));
    assert!(any(&|v| v.expected_shift > 0), "no real multiplier above 1");
    for (file, v, _) in &fs {
        assert!(v.lhs_zero_point != 0 || v.rhs_zero_point != 0 || file.contains("pow2"));
        let outs = || v.cases.iter().flat_map(|c| c.output.iter().copied());
        assert!(
            outs().any(|y| y == -128) || outs().any(|y| y == 127),
            "{file}: never saturates"
        );
        assert_eq!(
            v.p.runtimes_differ, 0,
            "{file}: TFLite and TFLite Micro differ"
        );
    }
}

/// One `softmax_*.json`: rows of any length, one input scale, beta 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SoftmaxVectors {
    #[serde(flatten)]
    p: Provenance,
    beta: f64,
    input_scale: f64,
    input_zero_point: i32,
    output_scale: f64,
    output_zero_point: i32,
    cases: Vec<Case>,
}

fn softmax_files() -> Vec<(String, SoftmaxVectors, SoftmaxParams)> {
    let fs: Vec<_> = files("softmax_")
        .iter()
        .map(|path| {
            let (file, v): (String, SoftmaxVectors) = read(path);
            v.p.check(&file, "SOFTMAX");
            assert_eq!(
                QuantParams::new(v.output_scale as f32, v.output_zero_point),
                SOFTMAX_OUTPUT,
                "{file}: output quantization"
            );
            assert!((-128..=127).contains(&v.input_zero_point), "{file}");
            for (i, c) in v.cases.iter().enumerate() {
                assert!(!c.input.is_empty(), "{file}: case {i}: empty row");
                assert_eq!(c.output.len(), c.input.len(), "{file}: case {i}");
                assert_eq!(c.tflm_output.len(), c.input.len(), "{file}: case {i}");
            }
            let s = f32_scale(&file, "input_scale", v.input_scale);
            let p = SoftmaxParams::from_input_scale(s, v.beta)
                .unwrap_or_else(|| panic!("{file}: no softmax parameters for scale {s}"));
            (file, v, p)
        })
        .collect();
    assert_eq!(fs.len(), SOFTMAX_FILES, "SOFTMAX vector files");
    fs
}

/// Runs `f` (one form of the softmax) on every row and compares with both
/// runtimes, asserting the number of codes.
/// A form of the int8 softmax, run on one row into `y`.
type SoftmaxForm<'f> = &'f dyn Fn(&SoftmaxParams, &[i8], &mut [i8]);

fn assert_softmax_bit_for_bit(name: &str, f: SoftmaxForm<'_>) {
    for oracle in Oracle::BOTH {
        let (mut checked, mut differ, mut report) = (0, 0, String::new());
        for (file, v, p) in softmax_files() {
            for (i, c) in v.cases.iter().enumerate() {
                let mut y = vec![0i8; c.input.len()];
                f(&p, &c.input, &mut y);
                checked += y.len();
                for (j, (&got, &want)) in y.iter().zip(oracle.outputs(c)).enumerate() {
                    if got != want {
                        differ += 1;
                        if differ <= 10 {
                            let _ = writeln!(
                                report,
                                "  {file}: case {i} (length {}), element {j}: {oracle:?} {want}, got {got}",
                                c.input.len()
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(checked, SOFTMAX_CODES, "{name}: SOFTMAX codes compared");
        assert_eq!(differ, 0, "{name} vs {oracle:?}:\n{report}");
    }
}

#[test]
fn softmax_i8_matches_tflite_and_tflite_micro_bit_for_bit() {
    assert_softmax_bit_for_bit("softmax_i8", &|p, x, y| softmax_i8(p, x, y));
}

#[test]
fn softmax_i8_with_table_matches_tflite_and_tflite_micro_bit_for_bit() {
    assert_softmax_bit_for_bit("softmax_i8_with_table", &|p, x, y| {
        softmax_i8_with_table(&softmax_exp_table(p), x, y)
    });
}

#[test]
fn softmax_files_cover_every_row_length_to_130_and_the_cutoff() {
    let fs = softmax_files();
    for n in 1..=130 {
        assert!(
            fs.iter()
                .any(|(_, v, _)| v.cases.iter().any(|c| c.input.len() == n)),
            "no row of length {n}"
        );
    }
    // Some file cuts elements off at diff_min (they get exactly −128 though
    // not alone), and some has every difference inside it.
    assert!(fs.iter().any(|(_, _, p)| p.diff_min > -255));
    assert!(fs.iter().any(|(_, _, p)| p.diff_min <= -255));
    for (file, v, _) in &fs {
        assert_eq!(
            v.p.runtimes_differ, 0,
            "{file}: TFLite and TFLite Micro differ"
        );
        assert!(
            v.cases.iter().any(|c| c.output.contains(&127)),
            "{file}: no certain element"
        );
    }
}

/// One `gather_*.json`: a constant `[rows, width]` table and index lists,
/// `null` outputs where a runtime refused the indices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatherVectors {
    #[serde(flatten)]
    p: Provenance,
    rows: usize,
    width: usize,
    axis: usize,
    scale: f64,
    zero_point: i32,
    /// Index lists each runtime refused.
    refused: Refused,
    table: Vec<Vec<i8>>,
    cases: Vec<GatherCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refused {
    tflite: usize,
    tflm: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatherCase {
    indices: Vec<i64>,
    output: Option<Vec<i8>>,
    tflm_output: Option<Vec<i8>>,
}

#[test]
fn gather_i8_matches_tflite_and_tflite_micro_and_refuses_what_they_refuse() {
    let (mut checked, mut refused, mut n_files) = (0usize, 0usize, 0usize);
    for path in files("gather_") {
        let (file, v): (String, GatherVectors) = read(&path);
        v.p.check(&file, "GATHER");
        n_files += 1;
        assert_eq!(v.axis, 0, "{file}: axis");
        f32_scale(&file, "scale", v.scale);
        assert!((-128..=127).contains(&v.zero_point), "{file}");
        assert_eq!(v.table.len(), v.rows, "{file}: table rows");
        assert!(
            v.table.iter().all(|r| r.len() == v.width),
            "{file}: row width"
        );
        let table = v.table.concat();
        let mut row = vec![0i8; v.width];
        let mut here = 0;
        for (i, c) in v.cases.iter().enumerate() {
            // Axon takes usize indices: a negative one never reaches it.
            let axon: Vec<Result<Vec<i8>, Error>> = c
                .indices
                .iter()
                .map(|&ix| {
                    let ix = usize::try_from(ix).expect("negative index in the file");
                    gather_i8(&table, v.width, ix, &mut row).map(|()| row.clone())
                })
                .collect();
            match (&c.output, &c.tflm_output) {
                (Some(y), Some(y_micro)) => {
                    assert_eq!(y, y_micro, "{file}: case {i}: the runtimes differ");
                    let got: Vec<i8> = axon
                        .into_iter()
                        .enumerate()
                        .flat_map(|(k, r)| {
                            r.unwrap_or_else(|e| panic!("{file}: case {i}, index {k}: {e}"))
                        })
                        .collect();
                    assert_eq!(&got, y, "{file}: case {i}: indices {:?}", c.indices);
                    checked += got.len();
                }
                (None, None) => {
                    here += 1;
                    let bad = c.indices.iter().zip(&axon).find(|(_, r)| r.is_err());
                    let Some((&ix, Err(e))) = bad else {
                        panic!(
                            "{file}: case {i}: both runtimes refused {:?}, Axon did not",
                            c.indices
                        );
                    };
                    assert_eq!(
                        *e,
                        Error::IndexOutOfRange {
                            index: ix as usize,
                            len: v.rows
                        },
                        "{file}: case {i}"
                    );
                }
                _ => panic!("{file}: case {i}: one runtime refused, the other did not"),
            }
        }
        assert_eq!(
            (here, here),
            (v.refused.tflite, v.refused.tflm),
            "{file}: refusals"
        );
        assert!(here > 0, "{file}: no out-of-range case");
        refused += here;
        assert!(
            v.cases
                .iter()
                .any(|c| c.indices.contains(&0) && c.output.is_some())
                && v.cases
                    .iter()
                    .any(|c| c.indices.contains(&(v.rows as i64 - 1)) && c.output.is_some()),
            "{file}: first and last rows"
        );
    }
    assert_eq!(n_files, GATHER_FILES, "GATHER vector files");
    assert_eq!(checked, GATHER_CODES, "GATHER codes compared");
    assert!(refused >= GATHER_FILES);
}
