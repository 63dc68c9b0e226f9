//! The f32 model: a chain of dense and activation layers plus the input
//! standardisation, and its JSON file format (`docs/model-format.md`).
//!
//! [`Model::forward`] runs through `axon_core`'s kernels
//! ([`axon_core::kernels::gemv`] and [`Activation::apply`]), so its bits are
//! the bits the microcontroller computes for the same f32 model.
//!
//! f32 values are written in their shortest round-trip decimal form and read
//! back bit-identical (see [`f32_from_json`]).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use axon_core::Activation;
use serde_json::{Map, Value};

mod io;

pub use io::write_atomic;

/// The value of the `"format"` field.
pub const FORMAT: &str = "axon-model";
/// The model file version this code reads and writes.
pub const VERSION: u64 = 1;

/// Per-input standardisation: `x' = (x − mean) / std`, in f32, one
/// subtraction and one division (two roundings), input by input.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Per-input mean, length `inputs`.
    pub mean: Vec<f32>,
    /// Per-input standard deviation, length `inputs`, every entry finite and > 0.
    pub std: Vec<f32>,
}

impl Preprocess {
    /// The identity preprocessing (`mean = 0`, `std = 1`: bit-exact identity).
    pub fn identity(inputs: usize) -> Preprocess {
        Preprocess {
            mean: vec![0.0; inputs],
            std: vec![1.0; inputs],
        }
    }
}

/// One layer of the chain.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    /// `y = W·x + b`.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
        /// `(outputs, inputs)`, output-major, flat: row `o` is `weights[o*inputs..(o+1)*inputs]`.
        weights: Vec<f32>,
        /// `(outputs,)`.
        bias: Vec<f32>,
    },
    /// An activation as its own layer (width-preserving).
    Activation(Activation),
}

/// What the model's outputs mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Class scores; the predicted class is the arg-max (one output: `p ≥ 0.5`).
    Classification {
        /// Number of classes.
        classes: usize,
    },
    /// Real-valued outputs.
    Regression,
}

/// An f32 model: preprocessing, layers and the metadata to use it on data.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Number of raw inputs.
    pub inputs: usize,
    /// Standardisation computed on the training split.
    pub preprocess: Preprocess,
    /// The layers, input to output.
    pub layers: Vec<LayerSpec>,
    /// Classification or regression.
    pub task: Task,
    /// Names of the input columns, in input order (empty if unknown).
    pub feature_names: Vec<String>,
    /// Name of the target column (empty if unknown).
    pub target_name: String,
    /// Class labels as they appeared in the data, index = class (empty for
    /// regression or when unknown).
    pub class_labels: Vec<String>,
}

/// Name of an activation in model files and on the command line.
pub fn activation_name(a: &Activation) -> &'static str {
    a.name()
}

/// Parses an activation name (`relu`, `leaky_relu`, `sigmoid`, `tanh`,
/// `gelu`, `gelu_erf`, `silu`, `softmax`, `identity`); `leaky_relu` gets
/// `alpha`.
pub fn parse_activation(name: &str, alpha: f32) -> anyhow::Result<Activation> {
    Ok(match name {
        "identity" => Activation::Identity,
        "relu" => Activation::Relu,
        "leaky_relu" => Activation::LeakyRelu { alpha },
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "gelu" => Activation::GeluTanh,
        "gelu_erf" => Activation::GeluErf,
        "silu" => Activation::Silu,
        "softmax" => Activation::Softmax,
        other => bail!(
            "unknown activation '{other}' (expected one of: identity, relu, leaky_relu, \
             sigmoid, tanh, gelu, gelu_erf, silu, softmax)"
        ),
    })
}

/// Default `alpha` of `leaky_relu` when a file or command line gives none
/// (PyTorch's `negative_slope` default).
pub const LEAKY_RELU_ALPHA: f32 = 0.01;

impl Model {
    /// Reads and validates a model file.
    pub fn load(path: &Path) -> anyhow::Result<Model> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model file {}", path.display()))?;
        Model::from_json_str(&text)
            .with_context(|| format!("invalid model file {}", path.display()))
    }

    /// Writes the model atomically (temporary file in the same directory,
    /// then rename): a reader never sees a half-written file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.validate()?;
        write_atomic(path, self.to_json_string().as_bytes())
    }

    /// Parses and validates a model from JSON text.
    pub fn from_json_str(s: &str) -> anyhow::Result<Model> {
        let v: Value = serde_json::from_str(s).context("not valid JSON")?;
        let obj = v
            .as_object()
            .ok_or_else(|| anyhow!("the top level must be a JSON object"))?;
        let format = obj
            .get("format")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("missing \"format\": this is not an axon model file"))?;
        if format != FORMAT {
            bail!("\"format\" is \"{format}\", expected \"{FORMAT}\"");
        }
        let version = obj
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("missing or non-integer \"version\""))?;
        if version != VERSION {
            bail!("model version {version} is not supported (this axon reads version {VERSION})");
        }
        let inputs = get_usize(obj, "inputs", "model")?;
        let pre = obj
            .get("preprocess")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("missing \"preprocess\" object"))?;
        let preprocess = Preprocess {
            mean: f32_array(pre.get("mean"), "preprocess.mean")?,
            std: f32_array(pre.get("std"), "preprocess.std")?,
        };
        let task = match obj.get("task") {
            None => Task::Regression,
            Some(t) => {
                let t = t
                    .as_object()
                    .ok_or_else(|| anyhow!("\"task\" must be an object"))?;
                match t.get("type").and_then(Value::as_str) {
                    Some("classification") => Task::Classification {
                        classes: get_usize(t, "classes", "task")?,
                    },
                    Some("regression") => Task::Regression,
                    Some(other) => bail!(
                        "unknown task type \"{other}\" (expected \"classification\" or \"regression\")"
                    ),
                    None => bail!("\"task\" needs a \"type\""),
                }
            }
        };
        let feature_names = string_array(obj.get("features"), "features")?;
        let target_name = match obj.get("target") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => bail!("\"target\" must be a string"),
        };
        let class_labels = string_array(obj.get("labels"), "labels")?;
        let layers_v = obj
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("missing \"layers\" array"))?;
        let mut layers = Vec::with_capacity(layers_v.len());
        for (i, l) in layers_v.iter().enumerate() {
            layers.push(parse_layer(l).with_context(|| format!("layer {i}"))?);
        }
        let m = Model {
            inputs,
            preprocess,
            layers,
            task,
            feature_names,
            target_name,
            class_labels,
        };
        m.validate()?;
        Ok(m)
    }

    /// The model as JSON text (one weight row per line), ending in a newline.
    pub fn to_json_string(&self) -> String {
        let mut s = String::new();
        s.push_str("{\n");
        let _ = writeln!(s, "  \"format\": \"{FORMAT}\",");
        let _ = writeln!(s, "  \"version\": {VERSION},");
        let _ = writeln!(s, "  \"inputs\": {},", self.inputs);
        match self.task {
            Task::Classification { classes } => {
                let _ = writeln!(
                    s,
                    "  \"task\": {{\"type\": \"classification\", \"classes\": {classes}}},"
                );
            }
            Task::Regression => s.push_str("  \"task\": {\"type\": \"regression\"},\n"),
        }
        let _ = writeln!(s, "  \"features\": {},", json_strings(&self.feature_names));
        let _ = writeln!(s, "  \"target\": {},", json_string(&self.target_name));
        let _ = writeln!(s, "  \"labels\": {},", json_strings(&self.class_labels));
        let _ = writeln!(
            s,
            "  \"preprocess\": {{\n    \"mean\": {},\n    \"std\": {}\n  }},",
            f32_list(&self.preprocess.mean),
            f32_list(&self.preprocess.std)
        );
        s.push_str("  \"layers\": [");
        for (i, l) in self.layers.iter().enumerate() {
            s.push_str(if i == 0 { "\n" } else { ",\n" });
            match l {
                LayerSpec::Dense {
                    inputs,
                    outputs,
                    weights,
                    bias,
                } => {
                    let _ = write!(
                        s,
                        "    {{\"type\": \"dense\", \"in\": {inputs}, \"out\": {outputs}, \"weights\": ["
                    );
                    if *inputs > 0 {
                        for (o, row) in weights.chunks(*inputs).enumerate() {
                            s.push_str(if o == 0 { "\n" } else { ",\n" });
                            s.push_str("      ");
                            s.push_str(&f32_list(row));
                        }
                    } else {
                        for o in 0..*outputs {
                            s.push_str(if o == 0 { "\n      []" } else { ",\n      []" });
                        }
                    }
                    let _ = write!(s, "\n    ], \"bias\": {}}}", f32_list(bias));
                }
                LayerSpec::Activation(Activation::LeakyRelu { alpha }) => {
                    let _ = write!(
                        s,
                        "    {{\"type\": \"leaky_relu\", \"alpha\": {}}}",
                        f32_json(*alpha)
                    );
                }
                LayerSpec::Activation(a) => {
                    let _ = write!(s, "    {{\"type\": \"{}\"}}", a.name());
                }
            }
        }
        s.push_str("\n  ]\n}\n");
        s
    }

    /// Checks every shape and value: widths chain from `inputs` through the
    /// layers, weight and bias lengths match, every number is finite, every
    /// `std` is positive, and the task fits the output width.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.inputs == 0 {
            bail!("\"inputs\" must be at least 1");
        }
        let p = &self.preprocess;
        if p.mean.len() != self.inputs || p.std.len() != self.inputs {
            bail!(
                "preprocess has {} means and {} stds, expected {} each (one per input)",
                p.mean.len(),
                p.std.len(),
                self.inputs
            );
        }
        if let Some(i) = p.mean.iter().position(|m| !m.is_finite()) {
            bail!("preprocess.mean[{i}] is not finite");
        }
        if let Some(i) = p.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            bail!("preprocess.std[{i}] = {} must be finite and > 0", p.std[i]);
        }
        if !self.feature_names.is_empty() && self.feature_names.len() != self.inputs {
            bail!(
                "\"features\" names {} columns, expected {} (one per input)",
                self.feature_names.len(),
                self.inputs
            );
        }
        let mut width = self.inputs;
        let mut dense = 0;
        for (i, l) in self.layers.iter().enumerate() {
            match l {
                LayerSpec::Dense {
                    inputs,
                    outputs,
                    weights,
                    bias,
                } => {
                    dense += 1;
                    if *inputs != width {
                        bail!("layer {i} (dense) has \"in\": {inputs}, but the previous layer gives {width} values");
                    }
                    if *outputs == 0 {
                        bail!("layer {i} (dense) has \"out\": 0");
                    }
                    if weights.len() != inputs * outputs {
                        bail!(
                            "layer {i} (dense) has {} weights, expected out×in = {}×{} = {}",
                            weights.len(),
                            outputs,
                            inputs,
                            inputs * outputs
                        );
                    }
                    if bias.len() != *outputs {
                        bail!(
                            "layer {i} (dense) has {} biases, expected {outputs}",
                            bias.len()
                        );
                    }
                    if let Some(k) = weights.iter().position(|w| !w.is_finite()) {
                        bail!(
                            "layer {i} (dense) weight [{}][{}] is not finite",
                            k / inputs,
                            k % inputs
                        );
                    }
                    if let Some(k) = bias.iter().position(|b| !b.is_finite()) {
                        bail!("layer {i} (dense) bias [{k}] is not finite");
                    }
                    width = *outputs;
                }
                LayerSpec::Activation(Activation::LeakyRelu { alpha }) if !alpha.is_finite() => {
                    bail!("layer {i} (leaky_relu) alpha is not finite")
                }
                LayerSpec::Activation(_) => {}
            }
        }
        if dense == 0 {
            bail!("the model has no dense layer");
        }
        if let Task::Classification { classes } = self.task {
            let ok = if width == 1 {
                classes == 2
            } else {
                classes == width
            };
            if !ok {
                bail!(
                    "the task has {classes} classes but the model has {width} outputs \
                     (expected one output per class, or one output for two classes)"
                );
            }
            if !self.class_labels.is_empty() && self.class_labels.len() != classes {
                bail!(
                    "\"labels\" has {} entries, expected {classes} (one per class)",
                    self.class_labels.len()
                );
            }
        }
        Ok(())
    }

    /// Number of outputs (width of the last dense layer).
    pub fn outputs(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| match l {
                LayerSpec::Dense { outputs, .. } => Some(*outputs),
                LayerSpec::Activation(_) => None,
            })
            .unwrap_or(self.inputs)
    }

    /// The widest vector any layer produces (including the input).
    pub fn max_width(&self) -> usize {
        self.layers.iter().fold(self.inputs, |w, l| match l {
            LayerSpec::Dense { outputs, .. } => w.max(*outputs),
            LayerSpec::Activation(_) => w,
        })
    }

    /// `out[i] = (raw[i] − mean[i]) / std[i]` in f32. Both slices have
    /// length `inputs` (extra elements are left alone).
    pub fn preprocess(&self, raw: &[f32], out: &mut [f32]) {
        let p = &self.preprocess;
        for (((o, &x), &m), &s) in out.iter_mut().zip(raw).zip(&p.mean).zip(&p.std) {
            *o = (x - m) / s;
        }
    }

    /// Preprocessing and every layer, through `axon_core`'s kernels: the
    /// bits the microcontroller computes.
    ///
    /// # Panics
    /// If `raw.len() != self.inputs` or the model fails [`validate`](Self::validate)
    /// (models from [`load`](Self::load) / [`from_json_str`](Self::from_json_str)
    /// are valid).
    pub fn forward(&self, raw: &[f32]) -> Vec<f32> {
        assert_eq!(
            raw.len(),
            self.inputs,
            "model takes {} inputs, got {}",
            self.inputs,
            raw.len()
        );
        let mut x = vec![0.0; self.inputs];
        self.preprocess(raw, &mut x);
        self.forward_preprocessed(x)
    }

    /// The layers only, on an already preprocessed input.
    pub fn forward_preprocessed(&self, mut x: Vec<f32>) -> Vec<f32> {
        for l in &self.layers {
            match l {
                LayerSpec::Dense {
                    outputs,
                    weights,
                    bias,
                    ..
                } => {
                    let mut y = vec![0.0; *outputs];
                    axon_core::kernels::gemv(weights, &x, bias, &mut y)
                        .expect("model shapes were validated");
                    x = y;
                }
                LayerSpec::Activation(a) => a.apply(&mut x),
            }
        }
        x
    }

    /// Predicted class of one output vector (arg-max; first maximum wins; a
    /// single output means class 1 when `≥ 0.5`).
    pub fn predicted_class(outputs: &[f32]) -> usize {
        if outputs.len() == 1 {
            return usize::from(outputs[0] >= 0.5);
        }
        let mut best = 0;
        for (i, &v) in outputs.iter().enumerate() {
            if v > outputs[best] {
                best = i;
            }
        }
        best
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| match l {
                LayerSpec::Dense { weights, bias, .. } => weights.len() + bias.len(),
                LayerSpec::Activation(_) => 0,
            })
            .sum()
    }

    /// A one-line shape summary, e.g. `64 → dense 32 → relu → dense 10 → softmax`.
    pub fn summary(&self) -> String {
        let mut s = self.inputs.to_string();
        for l in &self.layers {
            match l {
                LayerSpec::Dense { outputs, .. } => {
                    let _ = write!(s, " → dense {outputs}");
                }
                LayerSpec::Activation(a) => {
                    let _ = write!(s, " → {}", a.name());
                }
            }
        }
        s
    }
}

fn parse_layer(v: &Value) -> anyhow::Result<LayerSpec> {
    let o = v
        .as_object()
        .ok_or_else(|| anyhow!("a layer must be a JSON object"))?;
    let ty = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("missing \"type\""))?;
    let allowed: &[&str] = match ty {
        "dense" => &["type", "in", "out", "weights", "bias"],
        "leaky_relu" => &["type", "alpha"],
        _ => &["type"],
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        bail!("unknown field \"{k}\" in a \"{ty}\" layer");
    }
    if ty == "dense" {
        let inputs = get_usize(o, "in", "dense layer")?;
        let outputs = get_usize(o, "out", "dense layer")?;
        let rows = o
            .get("weights")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("dense layer needs \"weights\": an array of {outputs} rows"))?;
        if rows.len() != outputs {
            bail!(
                "dense layer has {} weight rows, expected \"out\" = {outputs}",
                rows.len()
            );
        }
        let mut weights = Vec::with_capacity(inputs * outputs);
        for (r, row) in rows.iter().enumerate() {
            let row = f32_array(Some(row), &format!("weights[{r}]"))?;
            if row.len() != inputs {
                bail!(
                    "dense weight row {r} has {} numbers, expected \"in\" = {inputs}",
                    row.len()
                );
            }
            weights.extend_from_slice(&row);
        }
        let bias = f32_array(o.get("bias"), "bias")?;
        return Ok(LayerSpec::Dense {
            inputs,
            outputs,
            weights,
            bias,
        });
    }
    let alpha = match o.get("alpha") {
        None => LEAKY_RELU_ALPHA,
        Some(a) => a
            .as_f64()
            .map(f32_from_json)
            .ok_or_else(|| anyhow!("\"alpha\" must be a number"))?,
    };
    parse_activation(ty, alpha)
        .map(LayerSpec::Activation)
        .map_err(|_| {
            anyhow!(
            "unknown layer type \"{ty}\" (expected dense, identity, relu, leaky_relu, sigmoid, \
             tanh, gelu, gelu_erf, silu or softmax)"
        )
        })
}

fn get_usize(o: &Map<String, Value>, key: &str, what: &str) -> anyhow::Result<usize> {
    o.get(key)
        .and_then(Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| anyhow!("{what} needs \"{key}\": a non-negative integer"))
}

fn f32_array(v: Option<&Value>, what: &str) -> anyhow::Result<Vec<f32>> {
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("\"{what}\" must be an array of numbers"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .map(f32_from_json)
                .ok_or_else(|| anyhow!("\"{what}\"[{i}] is {x}, expected a number"))
        })
        .collect()
}

fn string_array(v: Option<&Value>, what: &str) -> anyhow::Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("\"{what}\" must hold strings only"))
            })
            .collect(),
        Some(_) => bail!("\"{what}\" must be an array of strings"),
    }
}

/// The f32 a JSON number denotes, from serde_json's correctly rounded f64.
///
/// `p as f32` rounds twice (decimal → f64 → f32). That equals direct
/// decimal → f32 rounding unless `p` lands exactly on the midpoint between
/// two f32s (any other f32 midpoint between the decimal and `p` would be an
/// f64 closer to the decimal than `p`). At a midpoint, the file was written
/// by a shortest-round-trip printer, so the right neighbour is the one whose
/// shortest representation parses back to `p`.
pub fn f32_from_json(p: f64) -> f32 {
    let f = p as f32;
    if !f.is_finite() || f as f64 == p {
        return f;
    }
    let (lo, hi) = if (f as f64) < p {
        (f, next_up(f))
    } else {
        (next_down(f), f)
    };
    let mid = (lo as f64 + hi as f64) / 2.0; // exact: 25 significant bits
    if p != mid {
        return f;
    }
    for cand in [lo, hi] {
        if format!("{cand:?}").parse::<f64>() == Ok(p) {
            return cand;
        }
    }
    f
}

fn next_up(f: f32) -> f32 {
    if f == 0.0 {
        return f32::from_bits(1);
    }
    if f > 0.0 {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f32::from_bits(f.to_bits() - 1)
    }
}

fn next_down(f: f32) -> f32 {
    -next_up(-f)
}

/// Shortest round-trip decimal for a finite f32 (Rust's `{:?}`, valid JSON).
pub fn f32_json(x: f32) -> String {
    format!("{x:?}")
}

fn f32_list(xs: &[f32]) -> String {
    let mut s = String::with_capacity(xs.len() * 12 + 2);
    s.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{x:?}");
    }
    s.push(']');
    s
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn json_strings(v: &[String]) -> String {
    let parts: Vec<String> = v.iter().map(|s| json_string(s)).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Model {
        Model {
            inputs: 2,
            preprocess: Preprocess {
                mean: vec![0.5, -1.25],
                std: vec![2.0, 0.1],
            },
            layers: vec![
                LayerSpec::Dense {
                    inputs: 2,
                    outputs: 3,
                    weights: vec![0.1, -0.2, 0.3, 1e-7, -0.0, 3.4028235e38],
                    bias: vec![0.0, 1.0 / 3.0, -2.5],
                },
                LayerSpec::Activation(Activation::LeakyRelu { alpha: 0.02 }),
                LayerSpec::Dense {
                    inputs: 3,
                    outputs: 2,
                    weights: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                    bias: vec![0.25, f32::MIN_POSITIVE],
                },
                LayerSpec::Activation(Activation::Softmax),
            ],
            task: Task::Classification { classes: 2 },
            feature_names: vec!["a".into(), "b \"quoted\"".into()],
            target_name: "y".into(),
            class_labels: vec!["no".into(), "yes".into()],
        }
    }

    #[test]
    fn json_round_trip_is_identical() {
        let m = tiny();
        let s = m.to_json_string();
        let back = Model::from_json_str(&s).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_json_string(), s);
        // -0.0 keeps its sign.
        if let LayerSpec::Dense { weights, .. } = &back.layers[0] {
            assert_eq!(weights[4].to_bits(), (-0.0f32).to_bits());
        }
    }

    #[test]
    fn f32_values_read_back_bit_identical() {
        // A SplitMix64 sweep over random bit patterns, plus the edges.
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut vals = vec![
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            1.0e-45,
            -1.0e-45,
            0.1,
        ];
        for _ in 0..200_000 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let f = f32::from_bits((z ^ (z >> 31)) as u32);
            if f.is_finite() {
                vals.push(f);
            }
        }
        let text = format!("{{\"v\":{}}}", f32_list(&vals));
        let v: Value = serde_json::from_str(&text).unwrap();
        let back = f32_array(v.get("v"), "v").unwrap();
        for (a, b) in vals.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a:?} read back as {b:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_valid_model_round_trips_through_json(
            widths in proptest::collection::vec(1usize..6, 2..5),
            bits in proptest::collection::vec(proptest::num::u32::ANY, 200),
            act in 0usize..9,
        ) {
            let finite = |k: usize| {
                let f = f32::from_bits(bits[k % bits.len()]);
                if f.is_finite() { f } else { 1.5 }
            };
            let acts = [
                Activation::Identity, Activation::Relu, Activation::LeakyRelu { alpha: finite(7) },
                Activation::Sigmoid, Activation::Tanh, Activation::GeluTanh, Activation::GeluErf,
                Activation::Silu, Activation::Softmax,
            ];
            let mut k = 0;
            let mut next = || { k += 1; finite(k) };
            let mut layers = Vec::new();
            for w in widths.windows(2) {
                layers.push(LayerSpec::Dense {
                    inputs: w[0],
                    outputs: w[1],
                    weights: (0..w[0] * w[1]).map(|_| next()).collect(),
                    bias: (0..w[1]).map(|_| next()).collect(),
                });
                layers.push(LayerSpec::Activation(acts[act]));
            }
            let n = widths[0];
            let m = Model {
                inputs: n,
                preprocess: Preprocess {
                    mean: (0..n).map(|_| next()).collect(),
                    std: (0..n).map(|_| next().abs().max(f32::MIN_POSITIVE)).collect(),
                },
                layers,
                task: Task::Regression,
                feature_names: (0..n).map(|i| format!("f{i},\"\u{e9}")).collect(),
                target_name: "t".into(),
                class_labels: Vec::new(),
            };
            let back = Model::from_json_str(&m.to_json_string()).unwrap();
            proptest::prop_assert_eq!(back.to_json_string(), m.to_json_string());
            proptest::prop_assert_eq!(back, m);
        }
    }

    #[test]
    fn midpoint_is_resolved_by_the_shortest_repr() {
        // p exactly between 1.0 and the next f32 up: plain `as` rounds to even (1.0).
        let lo = 1.0f32;
        let hi = next_up(lo);
        let mid = (lo as f64 + hi as f64) / 2.0;
        assert_eq!(f32_from_json(mid), lo);
        assert_eq!(f32_from_json(hi as f64), hi);
    }

    #[test]
    fn rejects_bad_files_with_clear_messages() {
        let good = tiny().to_json_string();
        let cases = [
            (good.replace("axon-model", "other"), "\"format\""),
            (
                good.replace("\"version\": 1", "\"version\": 2"),
                "version 2",
            ),
            (
                good.replace("\"softmax\"", "\"swish\""),
                "unknown layer type \"swish\"",
            ),
            (
                good.replace("\"in\": 3", "\"in\": 4"),
                "weight row 0 has 3 numbers",
            ),
            (
                good.replace("\"inputs\": 2", "\"inputs\": 3"),
                "preprocess has 2 means",
            ),
            ("[1,2]".to_owned(), "top level"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Model::from_json_str(&text).unwrap_err());
            assert!(err.contains(want), "error `{err}` should mention `{want}`");
        }
    }

    #[test]
    fn forward_uses_the_core_kernels() {
        let m = tiny();
        let raw = [1.5f32, -1.0];
        let mut x = [0.0f32; 2];
        m.preprocess(&raw, &mut x);
        assert_eq!(x, [(1.5 - 0.5) / 2.0, (-1.0 + 1.25) / 0.1]);
        let LayerSpec::Dense { weights, bias, .. } = &m.layers[0] else {
            unreachable!()
        };
        let mut h = [0.0f32; 3];
        axon_core::kernels::gemv(weights, &x, bias, &mut h).unwrap();
        Activation::LeakyRelu { alpha: 0.02 }.apply(&mut h);
        let LayerSpec::Dense { weights, bias, .. } = &m.layers[2] else {
            unreachable!()
        };
        let mut y = [0.0f32; 2];
        axon_core::kernels::gemv(weights, &h, bias, &mut y).unwrap();
        Activation::Softmax.apply(&mut y);
        let out = m.forward(&raw);
        assert_eq!(out.len(), m.outputs());
        for (a, b) in out.iter().zip(&y) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}
