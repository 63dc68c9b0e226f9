//! The int8 fully connected kernel against TensorFlow Lite and TensorFlow
//! Lite for Microcontrollers themselves (issue 4, DESIGN.md § parity
//! contract 2).
//!
//! `tools/tflite/gen_vectors.py` converted Keras `Dense` layers to int8
//! TFLite models, ran each through TFLite's reference kernels (`BUILTIN_REF`)
//! and through TFLite Micro on a few hundred int8 inputs, and wrote
//! `tests/data/tflite/*.json`. Here the core derives its requantization
//! parameters from the same float scales the way both runtimes' Prepare does
//! (`(double)s_in * (double)s_w / (double)s_out`, then `QuantizeMultiplier`;
//! `CalculateActivationRangeQuantized` for the fused activation), runs the
//! kernels, and compares every output code, bit for bit. No TensorFlow is
//! needed at test time.
//!
//! The two runtimes disagree on a few codes: TFLite 2.21 requantizes with a
//! single rounding (`TFLITE_SINGLE_ROUNDING`), TFLite Micro with gemmlowp's
//! double rounding (tools/tflite/README.md). The core does either
//! ([`Rounding`]): its kernels, dispatched and scalar, must equal TFLite
//! everywhere in [`Rounding::Single`] and TFLite Micro everywhere in
//! [`Rounding::Double`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axon::core::kernels::gemv_i8::Scalar;
use axon::core::kernels::{fully_connected_i8, FullyConnectedParams};
use axon::core::quant::requantize::multiply_by_quantized_multiplier_single_rounding;
use axon::core::quant::{multiply_by_quantized_multiplier, quantize_multiplier, Rounding};
use serde::Deserialize;

/// One generated file: a FULLY_CONNECTED layer and both runtimes' outputs.
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

/// The runtime whose outputs a check compares against.
#[derive(Clone, Copy, Debug)]
enum Oracle {
    Tflite,
    TfliteMicro,
}

impl Oracle {
    /// The requantization rounding this runtime uses.
    fn rounding(self) -> Rounding {
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
}

/// A loaded file, its shapes checked, its weights flattened.
struct Layer {
    file: String,
    v: Vectors,
    /// (out_features, in_features), output-major.
    w: Vec<i8>,
}

impl Layer {
    /// Row `c` of the weights: `(in_features,)`.
    fn row(&self, c: usize) -> &[i8] {
        &self.w[c * self.v.in_features..][..self.v.in_features]
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

fn load(path: &Path) -> Layer {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let v: Vectors = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
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
    Layer { file, v, w }
}

/// Every generated file, sorted by name.
fn layers() -> Vec<Layer> {
    let dir = data_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// Multipliers and shifts as TFLite's FULLY_CONNECTED Prepare derives them:
/// each float32 scale cast to double, `s_in · s_w / s_out` in double, then
/// `QuantizeMultiplier`.
fn derive_multipliers(l: &Layer) -> (Vec<i32>, Vec<i32>) {
    let s_in = f32_scale(&l.file, "input_scale", l.v.input_scale) as f64;
    let s_out = f32_scale(&l.file, "output_scale", l.v.output_scale) as f64;
    l.v.weight_scales
        .iter()
        .enumerate()
        .map(|(c, &s)| {
            let s_w = f32_scale(&l.file, &format!("weight_scales[{c}]"), s) as f64;
            quantize_multiplier(s_in * s_w / s_out)
        })
        .unzip()
}

/// TFLite's `CalculateActivationRangeQuantized` for int8: the fused
/// activation's real bounds quantized with float32 arithmetic
/// (`zero_point + round(f / scale)`), intersected with [−128, 127].
fn activation_range(l: &Layer) -> (i8, i8) {
    let scale = f32_scale(&l.file, "output_scale", l.v.output_scale);
    let zp = l.v.output_zero_point;
    let q = |f: f32| zp + (f / scale).round() as i32;
    let (lo, hi) = match l.v.fused_activation.as_str() {
        "NONE" => (-128, 127),
        "RELU" => (q(0.0), 127),
        "RELU6" => (q(0.0), q(6.0)),
        "RELU_N1_TO_1" => (q(-1.0), q(1.0)),
        other => panic!("{}: unknown fused activation {other:?}", l.file),
    };
    (lo.clamp(-128, 127) as i8, hi.clamp(-128, 127) as i8)
}

/// The kernel parameters TFLite's Prepare would derive for `l`, with
/// requantization rounded as `rounding`.
fn with_params<R>(
    l: &Layer,
    rounding: Rounding,
    f: impl FnOnce(&FullyConnectedParams<'_>) -> R,
) -> R {
    let (multiplier, shift) = derive_multipliers(l);
    let (act_min, act_max) = activation_range(l);
    f(&FullyConnectedParams {
        input_offset: -l.v.input_zero_point,
        output_offset: l.v.output_zero_point,
        multiplier: &multiplier,
        shift: &shift,
        act_min,
        act_max,
        rounding,
    })
}

type Kernel = fn(&[i8], &[i8], &[i32], &FullyConnectedParams<'_>, &mut [i8]);

/// The checked entry point, through the dispatcher (SIMD where available).
fn dispatched_kernel(w: &[i8], x: &[i8], b: &[i32], p: &FullyConnectedParams<'_>, y: &mut [i8]) {
    fully_connected_i8(w, x, b, p, y).expect("shapes were checked at load time");
}

/// The core's pieces with single-rounding requantization:
/// [`Scalar::accumulate`], then
/// [`multiply_by_quantized_multiplier_single_rounding`], offset, clamp.
fn single_rounding_kernel(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    for (c, ((row, &b), yc)) in w
        .chunks_exact(x.len())
        .zip(bias)
        .zip(y.iter_mut())
        .enumerate()
    {
        let acc = Scalar::accumulate(row, x, p.input_offset, b);
        let (m, s) = p.channel(c);
        let v = multiply_by_quantized_multiplier_single_rounding(acc, m, s) + p.output_offset;
        *yc = v.clamp(p.act_min as i32, p.act_max as i32) as i8;
    }
}

/// Runs `kernel` on every case of every file, with the parameters in the
/// oracle's rounding mode; fails listing the first
/// differing codes (file, case, channel, accumulator, parameters, both values).
#[track_caller]
fn assert_bit_for_bit(kernel_name: &str, kernel: Kernel, oracle: Oracle) {
    let mut report = String::new();
    let mut differ = 0usize;
    let mut checked = 0usize;
    for l in layers() {
        with_params(&l, oracle.rounding(), |p| {
            let mut y = vec![0i8; l.v.out_features];
            for (i, case) in l.v.cases.iter().enumerate() {
                y.fill(0);
                kernel(&l.w, &case.input, &l.v.bias, p, &mut y);
                checked += y.len();
                for (c, (&got, &want)) in y.iter().zip(oracle.outputs(case)).enumerate() {
                    if got == want {
                        continue;
                    }
                    differ += 1;
                    if differ <= 20 {
                        let acc =
                            Scalar::accumulate(l.row(c), &case.input, p.input_offset, l.v.bias[c]);
                        let (m, s) = p.channel(c);
                        let _ = writeln!(
                            report,
                            "  {}: case {i}, channel {c}: {oracle:?} {want}, got {got} \
                             (acc {acc}, multiplier {m}, shift {s}, act [{}, {}])",
                            l.file, p.act_min, p.act_max
                        );
                    }
                }
            }
        })
    }
    assert!(checked > 0, "no output codes were checked");
    assert!(
        differ == 0,
        "{kernel_name}: {differ} of {checked} output codes differ from {oracle:?}:\n{report}"
    );
}

#[test]
fn vector_files_cover_per_channel_per_tensor_relu_and_no_activation() {
    let ls = layers();
    assert!(
        ls.len() >= 3,
        "expected at least 3 vector files in {}",
        data_dir().display()
    );
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
    // A fused clamp that coincides with int8 saturation proves nothing about it.
    assert!(
        ls.iter().any(|l| activation_range(l).0 > -128),
        "no configuration whose activation clamp lies inside the int8 range"
    );
    for l in &ls {
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
        let (lo, hi) = activation_range(l);
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
}

#[test]
fn derived_multipliers_and_shifts_equal_tflite_quantize_multiplier() {
    for l in layers() {
        let (multiplier, shift) = derive_multipliers(&l);
        assert_eq!(
            multiplier, l.v.expected_multiplier,
            "{}: multipliers",
            l.file
        );
        assert_eq!(shift, l.v.expected_shift, "{}: shifts", l.file);
        for (&m, &s) in multiplier.iter().zip(&shift) {
            assert!(
                (1 << 30..=i32::MAX).contains(&m),
                "{}: multiplier {m} not in Q31 [0.5, 1)",
                l.file
            );
            assert!((-31..=30).contains(&s), "{}: shift {s}", l.file);
        }
    }
}

#[test]
fn activation_range_equals_tflite_calculate_activation_range_quantized() {
    for l in layers() {
        let (lo, hi) = activation_range(&l);
        assert_eq!(
            (lo as i32, hi as i32),
            (l.v.expected_act_min, l.v.expected_act_max),
            "{}: fused {} on output (scale {}, zero point {})",
            l.file,
            l.v.fused_activation,
            l.v.output_scale,
            l.v.output_zero_point
        );
    }
}

#[test]
fn bias_scale_is_input_scale_times_weight_scale() {
    for l in layers() {
        let s_in = f32_scale(&l.file, "input_scale", l.v.input_scale) as f64;
        for (c, (&s_w, &s_b)) in l.v.weight_scales.iter().zip(&l.v.bias_scales).enumerate() {
            let want = s_in * s_w;
            assert!(
                (s_b - want).abs() <= want * 1e-6,
                "{}: bias scale {c} = {s_b}, s_in·s_w = {want}",
                l.file
            );
        }
    }
}

#[test]
fn fully_connected_i8_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit("fully_connected_i8", dispatched_kernel, Oracle::TfliteMicro);
}

#[test]
fn scalar_reference_matches_tflite_micro_bit_for_bit() {
    assert_bit_for_bit(
        "Scalar::fully_connected",
        Scalar::fully_connected,
        Oracle::TfliteMicro,
    );
}

#[test]
fn core_accumulation_with_single_rounding_matches_tflite_bit_for_bit() {
    assert_bit_for_bit(
        "accumulate + single rounding",
        single_rounding_kernel,
        Oracle::Tflite,
    );
}

#[test]
fn fully_connected_i8_matches_tflite_bit_for_bit() {
    assert_bit_for_bit("fully_connected_i8", dispatched_kernel, Oracle::Tflite);
}

#[test]
fn scalar_reference_matches_tflite_bit_for_bit() {
    assert_bit_for_bit(
        "Scalar::fully_connected",
        Scalar::fully_connected,
        Oracle::Tflite,
    );
}

/// The two oracles disagree exactly where single and double rounding of the
/// same accumulator disagree, by one code; and the vectors hold such codes,
/// so the tests above really tell the two roundings apart.
#[test]
fn tflite_and_tflite_micro_differ_only_by_requantization_rounding() {
    let mut differ = 0usize;
    for l in layers() {
        with_params(&l, Rounding::Double, |p| {
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
    assert!(differ > 0, "no case tells single from double rounding");
}

/// Each mode is needed: the scalar reference in the other runtime's mode
/// misses some of its codes, so neither oracle test passes by accident.
#[test]
fn each_runtime_needs_its_own_rounding_mode() {
    for (oracle, wrong) in [
        (Oracle::Tflite, Rounding::Double),
        (Oracle::TfliteMicro, Rounding::Single),
    ] {
        let mut differ = 0usize;
        for l in layers() {
            with_params(&l, wrong, |p| {
                let mut y = vec![0i8; l.v.out_features];
                for case in &l.v.cases {
                    Scalar::fully_connected(&l.w, &case.input, &l.v.bias, p, &mut y);
                    differ += y
                        .iter()
                        .zip(oracle.outputs(case))
                        .filter(|(a, b)| a != b)
                        .count();
                }
            })
        }
        assert!(
            differ > 0,
            "{oracle:?} also agrees with {wrong:?} rounding everywhere"
        );
    }
}
