//! The int8 model on the host: an owned twin of [`axon_core::int8::Model`]
//! with its JSON file format (`"format": "axon-model-int8"`,
//! docs/model-format.md), and the views that run it through the core.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use axon_core::int8::{
    FullyConnected, Layer, Layers, LutKind, LutLayer, Model as CoreModel, Standardize,
};
use axon_core::quant::{exp_table_len, softmax_exp_table, QuantParams, Rounding, SoftmaxParams};
use serde_json::{Map, Value};

use crate::model::{f32_from_json, write_atomic, Preprocess, Task};

/// The value of the `"format"` field of an int8 model file.
pub const FORMAT: &str = "axon-model-int8";
/// The int8 model file version this code reads and writes.
pub const VERSION: u64 = 1;

/// The fused activation of a fully connected layer (its clamp range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FusedActivation {
    /// Clamp to the int8 range only.
    None,
    /// Clamp below at the output zero point (real 0).
    Relu,
}

impl FusedActivation {
    /// The name in model files.
    pub fn name(self) -> &'static str {
        match self {
            FusedActivation::None => "none",
            FusedActivation::Relu => "relu",
        }
    }
}

/// One int8 layer, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Int8Layer {
    /// int8 fully connected.
    FullyConnected {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
        /// `(outputs, inputs)` output-major, symmetric codes in −127..=127.
        weights: Vec<i8>,
        /// `(outputs,)` per-channel weight scales (or one, per tensor).
        weight_scales: Vec<f32>,
        /// `(outputs,)` int32, scale `s_in·s_w[c]`.
        bias: Vec<i32>,
        /// `(channels,)` Q31 multipliers.
        multiplier: Vec<i32>,
        /// `(channels,)` shifts.
        shift: Vec<i32>,
        /// The input tensor's parameters (the offset is minus its zero point).
        input: QuantParams,
        /// The output tensor's parameters.
        output: QuantParams,
        /// The fused activation.
        activation: FusedActivation,
        /// Lower clamp.
        act_min: i8,
        /// Upper clamp.
        act_max: i8,
        /// `(outputs,)` `Σ_d w[c, d]`: derived from `weights`, never stored
        /// in the file.
        row_sums: Vec<i32>,
    },
    /// Element-wise activation by 256-entry table.
    Lut {
        /// The function.
        kind: LutKind,
        /// Width.
        len: usize,
        /// Input parameters the table was built for.
        input: QuantParams,
        /// Output parameters.
        output: QuantParams,
        /// 256 entries, entry for code `q` at index `q as u8`.
        table: Box<[i8; 256]>,
    },
    /// int8 softmax.
    Softmax {
        /// Width.
        len: usize,
        /// `beta` (1 for a plain softmax).
        beta: f64,
        /// The input scale the parameters were derived from.
        input_scale: f32,
        /// Integer parameters.
        params: SoftmaxParams,
        /// `softmax_exp_table(params)` without its trailing zeros: derived,
        /// never read from or written to the JSON; built by
        /// [`Int8Layer::softmax`].
        exp_table: Vec<i32>,
    },
}

impl Int8Layer {
    /// A softmax layer with its exponential table built from `params` (the
    /// one way to make one, so the table always matches the parameters).
    pub fn softmax(len: usize, beta: f64, input_scale: f32, params: SoftmaxParams) -> Self {
        Int8Layer::Softmax {
            len,
            beta,
            input_scale,
            params,
            exp_table: {
                let full = softmax_exp_table(&params);
                full[..exp_table_len(&full)].to_vec()
            },
        }
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        match self {
            Int8Layer::FullyConnected { outputs, .. } => *outputs,
            Int8Layer::Lut { len, .. } | Int8Layer::Softmax { len, .. } => *len,
        }
    }

    /// The core's view, borrowing this layer's arrays; fully connected
    /// layers requantize with `rounding` (the model's mode).
    pub fn as_core(&self, rounding: Rounding) -> Layer<'_> {
        match self {
            Int8Layer::FullyConnected {
                inputs,
                outputs,
                weights,
                bias,
                multiplier,
                shift,
                input,
                output,
                act_min,
                act_max,
                row_sums,
                ..
            } => Layer::FullyConnected(FullyConnected {
                input_len: *inputs,
                output_len: *outputs,
                weights,
                bias,
                multiplier,
                shift,
                input_offset: -input.zero_point,
                output: *output,
                act_min: *act_min,
                act_max: *act_max,
                row_sums: Some(row_sums),
                rounding,
            }),
            Int8Layer::Lut {
                kind,
                len,
                output,
                table,
                ..
            } => Layer::Lut(LutLayer {
                kind: *kind,
                len: *len,
                table,
                output: *output,
            }),
            Int8Layer::Softmax {
                len,
                params,
                exp_table,
                ..
            } => Layer::Softmax {
                len: *len,
                params: *params,
                exp_table: Some(exp_table),
            },
        }
    }
}

/// `Σ_d w[c, d]` per row (wrapping, as the kernels compute it).
pub fn row_sums(weights: &[i8], inputs: usize) -> Vec<i32> {
    if inputs == 0 {
        return Vec::new();
    }
    weights
        .chunks_exact(inputs)
        .map(|r| r.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32)))
        .collect()
}

/// Where the quantization parameters came from (recorded in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationInfo {
    /// `minmax` or `percentile`.
    pub method: String,
    /// The percentile, for `percentile`.
    pub percentile: Option<f64>,
    /// Number of calibration samples.
    pub samples: usize,
    /// The calibration data's source.
    pub source: String,
}

/// An int8 model: what `axon quantize` writes and `axon export` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Model {
    /// Raw input width.
    pub inputs: usize,
    /// Standardisation of the raw input (from the f32 model).
    pub preprocess: Preprocess,
    /// Quantization of the standardised input.
    pub input: QuantParams,
    /// The layers.
    pub layers: Vec<Int8Layer>,
    /// Classification or regression (from the f32 model).
    pub task: Task,
    /// Input column names (from the f32 model).
    pub feature_names: Vec<String>,
    /// Target column name (from the f32 model).
    pub target_name: String,
    /// Class labels (from the f32 model).
    pub class_labels: Vec<String>,
    /// How the activation ranges were calibrated.
    pub calibration: CalibrationInfo,
    /// How every fully connected layer rounds when it requantizes
    /// (`"rounding"` in the file; `"double"` when absent).
    pub rounding: Rounding,
}

impl Int8Model {
    /// Output width.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(self.inputs, Int8Layer::outputs)
    }

    /// The output tensor's parameters (the last layer's).
    pub fn output(&self) -> QuantParams {
        self.layers
            .last()
            .map_or(self.input, |l| l.as_core(self.rounding).output_params())
    }

    /// The core's views of the layers (borrowing this model).
    pub fn core_layers(&self) -> Vec<Layer<'_>> {
        self.layers
            .iter()
            .map(|l| l.as_core(self.rounding))
            .collect()
    }

    /// The core model over `layers` (from [`core_layers`](Self::core_layers)).
    pub fn core_model<'a>(&'a self, layers: &'a [Layer<'a>]) -> CoreModel<'a> {
        CoreModel {
            input_len: self.inputs,
            output_len: self.outputs(),
            preprocess: Some(Standardize {
                mean: &self.preprocess.mean,
                std: &self.preprocess.std,
            }),
            input: self.input,
            output: self.output(),
            layers: Layers::Slice(layers),
        }
    }

    /// Checks the model as the core will run it, plus the TFLite ranges the
    /// core does not need (weights in −127..=127).
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.preprocess.mean.len() != self.inputs || self.preprocess.std.len() != self.inputs {
            bail!(
                "preprocess has {} means and {} stds, expected {} (one per input)",
                self.preprocess.mean.len(),
                self.preprocess.std.len(),
                self.inputs
            );
        }
        for (i, l) in self.layers.iter().enumerate() {
            if let Int8Layer::FullyConnected {
                weights,
                weight_scales,
                outputs,
                ..
            } = l
            {
                if let Some(k) = weights.iter().position(|&w| w == -128) {
                    bail!(
                        "layer {i}: weight {k} is −128; symmetric int8 weights lie in −127..=127"
                    );
                }
                if weight_scales.len() != *outputs && weight_scales.len() != 1 {
                    bail!(
                        "layer {i}: {} weight scales for {outputs} outputs",
                        weight_scales.len()
                    );
                }
            }
        }
        let layers = self.core_layers();
        let m = self.core_model(&layers);
        m.validate().map_err(|e| match e {
            axon_core::Error::InvalidLayer { index } => anyhow!(
                "layer {index} is inconsistent: its widths, array lengths or quantization \
                 parameters do not fit it or its neighbours"
            ),
            other => anyhow!("{other}"),
        })
    }

    /// Reads and validates an int8 model file.
    pub fn load(path: &Path) -> anyhow::Result<Int8Model> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model file {}", path.display()))?;
        Int8Model::from_json_str(&text)
            .with_context(|| format!("invalid int8 model file {}", path.display()))
    }

    /// Writes the model atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.validate()?;
        write_atomic(path, self.to_json_string().as_bytes())
    }

    /// Parses and validates an int8 model from JSON text.
    pub fn from_json_str(s: &str) -> anyhow::Result<Int8Model> {
        let v: Value = serde_json::from_str(s).context("not valid JSON")?;
        let o = v
            .as_object()
            .ok_or_else(|| anyhow!("the top level must be a JSON object"))?;
        match o.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some("axon-model") => bail!(
                "this is an f32 model (\"format\": \"axon-model\"); quantize it first with `axon quantize`"
            ),
            Some(f) => bail!("\"format\" is \"{f}\", expected \"{FORMAT}\""),
            None => bail!("missing \"format\": this is not an axon model file"),
        }
        let version = o
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("missing or non-integer \"version\""))?;
        if version != VERSION {
            bail!(
                "int8 model version {version} is not supported (this axon reads version {VERSION})"
            );
        }
        let inputs = usize_field(o, "inputs", "model")?;
        let pre = obj_field(o, "preprocess", "model")?;
        let preprocess = Preprocess {
            mean: f32_array(pre.get("mean"), "preprocess.mean")?,
            std: f32_array(pre.get("std"), "preprocess.std")?,
        };
        let input = quant_params(obj_field(o, "input", "model")?, "input")?;
        let task = match o
            .get("task")
            .and_then(|t| t.get("type"))
            .and_then(Value::as_str)
        {
            Some("classification") => Task::Classification {
                classes: usize_field(obj_field(o, "task", "model")?, "classes", "task")?,
            },
            Some("regression") | None => Task::Regression,
            Some(other) => bail!("unknown task type \"{other}\""),
        };
        let cal = obj_field(o, "calibration", "model")?;
        let calibration = CalibrationInfo {
            method: str_field(cal, "method", "calibration")?.to_owned(),
            percentile: cal.get("percentile").and_then(Value::as_f64),
            samples: usize_field(cal, "samples", "calibration")?,
            source: cal
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        };
        let rounding = match o.get("rounding") {
            None => Rounding::Double,
            Some(Value::String(name)) => Rounding::from_name(name).ok_or_else(|| {
                anyhow!("\"rounding\" is \"{name}\", expected \"double\" or \"single\"")
            })?,
            Some(other) => bail!("\"rounding\" is {other}, expected \"double\" or \"single\""),
        };
        let layers_v = o
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("missing \"layers\" array"))?;
        let mut layers = Vec::with_capacity(layers_v.len());
        for (i, l) in layers_v.iter().enumerate() {
            layers.push(parse_layer(l).with_context(|| format!("layer {i}"))?);
        }
        let m = Int8Model {
            inputs,
            preprocess,
            input,
            layers,
            task,
            feature_names: string_array(o.get("features"))?,
            target_name: o
                .get("target")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            class_labels: string_array(o.get("labels"))?,
            calibration,
            rounding,
        };
        if let Some(out) = o.get("output").and_then(Value::as_object) {
            let stated = quant_params(out, "output")?;
            if stated != m.output() {
                bail!("\"output\" parameters differ from the last layer's output parameters");
            }
        }
        m.validate()?;
        Ok(m)
    }

    /// The model as JSON text, one weight row per line.
    pub fn to_json_string(&self) -> String {
        let mut s = String::new();
        s.push_str("{\n");
        let _ = writeln!(s, "  \"format\": \"{FORMAT}\",");
        let _ = writeln!(s, "  \"version\": {VERSION},");
        let _ = writeln!(s, "  \"inputs\": {},", self.inputs);
        let _ = writeln!(s, "  \"outputs\": {},", self.outputs());
        match self.task {
            Task::Classification { classes } => {
                let _ = writeln!(
                    s,
                    "  \"task\": {{\"type\": \"classification\", \"classes\": {classes}}},"
                );
            }
            Task::Regression => s.push_str("  \"task\": {\"type\": \"regression\"},\n"),
        }
        let _ = writeln!(s, "  \"features\": {},", json(&self.feature_names));
        let _ = writeln!(s, "  \"target\": {},", json(&self.target_name));
        let _ = writeln!(s, "  \"labels\": {},", json(&self.class_labels));
        let c = &self.calibration;
        let _ = write!(
            s,
            "  \"calibration\": {{\"method\": {}, \"samples\": {}, \"source\": {}",
            json(&c.method),
            c.samples,
            json(&c.source)
        );
        if let Some(p) = c.percentile {
            let _ = write!(s, ", \"percentile\": {p:?}");
        }
        s.push_str("},\n");
        let _ = writeln!(s, "  \"rounding\": \"{}\",", self.rounding.name());
        let _ = writeln!(
            s,
            "  \"preprocess\": {{\n    \"mean\": {},\n    \"std\": {}\n  }},",
            f32_list(&self.preprocess.mean),
            f32_list(&self.preprocess.std)
        );
        let _ = writeln!(s, "  \"input\": {},", qp_json(self.input));
        let _ = writeln!(s, "  \"output\": {},", qp_json(self.output()));
        s.push_str("  \"layers\": [");
        for (i, l) in self.layers.iter().enumerate() {
            s.push_str(if i == 0 { "\n" } else { ",\n" });
            write_layer(&mut s, l);
        }
        s.push_str("\n  ]\n}\n");
        s
    }
}

fn write_layer(s: &mut String, l: &Int8Layer) {
    match l {
        Int8Layer::FullyConnected {
            inputs,
            outputs,
            weights,
            weight_scales,
            bias,
            multiplier,
            shift,
            input,
            output,
            activation,
            act_min,
            act_max,
            ..
        } => {
            let _ = writeln!(
                s,
                "    {{\"type\": \"fully_connected\", \"in\": {inputs}, \"out\": {outputs}, \
                 \"activation\": \"{}\", \"act_min\": {act_min}, \"act_max\": {act_max},",
                activation.name()
            );
            let _ = writeln!(
                s,
                "     \"input\": {}, \"output\": {},",
                qp_json(*input),
                qp_json(*output)
            );
            let _ = writeln!(s, "     \"weight_scales\": {},", f32_list(weight_scales));
            let _ = writeln!(s, "     \"bias\": {},", int_list(bias));
            let _ = writeln!(s, "     \"multiplier\": {},", int_list(multiplier));
            let _ = writeln!(s, "     \"shift\": {},", int_list(shift));
            s.push_str("     \"weights\": [");
            for (o, row) in weights.chunks(*inputs.max(&1)).enumerate() {
                s.push_str(if o == 0 { "\n" } else { ",\n" });
                s.push_str("       ");
                s.push_str(&int_list(row));
            }
            s.push_str("\n     ]}");
        }
        Int8Layer::Lut {
            kind,
            len,
            input,
            output,
            table,
        } => {
            let _ = write!(
                s,
                "    {{\"type\": \"lut\", \"function\": \"{}\", \"len\": {len}, \"input\": {}, \"output\": {},\n     \"table\": {}}}",
                kind.name(),
                qp_json(*input),
                qp_json(*output),
                int_list(&table[..])
            );
        }
        Int8Layer::Softmax {
            len,
            beta,
            input_scale,
            params,
            ..
        } => {
            let _ = write!(
                s,
                "    {{\"type\": \"softmax\", \"len\": {len}, \"beta\": {beta:?}, \"input_scale\": {input_scale:?}, \
                 \"input_multiplier\": {}, \"input_left_shift\": {}, \"diff_min\": {}}}",
                params.input_multiplier, params.input_left_shift, params.diff_min
            );
        }
    }
}

fn parse_layer(v: &Value) -> anyhow::Result<Int8Layer> {
    let o = v
        .as_object()
        .ok_or_else(|| anyhow!("a layer must be a JSON object"))?;
    let ty = str_field(o, "type", "layer")?;
    match ty {
        "fully_connected" => {
            let inputs = usize_field(o, "in", "fully_connected")?;
            let outputs = usize_field(o, "out", "fully_connected")?;
            let rows = o
                .get("weights")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("\"weights\" must be an array of {outputs} rows"))?;
            if rows.len() != outputs {
                bail!("{} weight rows, expected \"out\" = {outputs}", rows.len());
            }
            let mut weights = Vec::with_capacity(inputs * outputs);
            for (r, row) in rows.iter().enumerate() {
                let row: Vec<i8> = int_array(Some(row), &format!("weights[{r}]"))?;
                if row.len() != inputs {
                    bail!(
                        "weight row {r} has {} codes, expected \"in\" = {inputs}",
                        row.len()
                    );
                }
                weights.extend_from_slice(&row);
            }
            let activation = match str_field(o, "activation", "fully_connected")? {
                "none" => FusedActivation::None,
                "relu" => FusedActivation::Relu,
                other => bail!("unknown fused activation \"{other}\" (expected none or relu)"),
            };
            let row_sums = row_sums(&weights, inputs);
            Ok(Int8Layer::FullyConnected {
                inputs,
                outputs,
                weights,
                weight_scales: f32_array(o.get("weight_scales"), "weight_scales")?,
                bias: int_array(o.get("bias"), "bias")?,
                multiplier: int_array(o.get("multiplier"), "multiplier")?,
                shift: int_array(o.get("shift"), "shift")?,
                input: quant_params(obj_field(o, "input", "fully_connected")?, "input")?,
                output: quant_params(obj_field(o, "output", "fully_connected")?, "output")?,
                activation,
                act_min: int_field(o, "act_min")?,
                act_max: int_field(o, "act_max")?,
                row_sums,
            })
        }
        "lut" => {
            let name = str_field(o, "function", "lut")?;
            let kind = LutKind::from_name(name)
                .ok_or_else(|| anyhow!("unknown lut function \"{name}\""))?;
            let table: Vec<i8> = int_array(o.get("table"), "table")?;
            let table: Box<[i8; 256]> =
                table
                    .into_boxed_slice()
                    .try_into()
                    .map_err(|t: Box<[i8]>| {
                        anyhow!("\"table\" has {} entries, expected 256", t.len())
                    })?;
            Ok(Int8Layer::Lut {
                kind,
                len: usize_field(o, "len", "lut")?,
                input: quant_params(obj_field(o, "input", "lut")?, "input")?,
                output: quant_params(obj_field(o, "output", "lut")?, "output")?,
                table,
            })
        }
        "softmax" => Ok(Int8Layer::softmax(
            usize_field(o, "len", "softmax")?,
            o.get("beta")
                .and_then(Value::as_f64)
                .ok_or_else(|| anyhow!("softmax needs \"beta\""))?,
            f32_from_json(
                o.get("input_scale")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| anyhow!("softmax needs \"input_scale\""))?,
            ),
            SoftmaxParams {
                input_multiplier: int_field(o, "input_multiplier")?,
                input_left_shift: int_field(o, "input_left_shift")?,
                diff_min: int_field(o, "diff_min")?,
            },
        )),
        other => {
            bail!("unknown int8 layer type \"{other}\" (expected fully_connected, lut or softmax)")
        }
    }
}

fn obj_field<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> anyhow::Result<&'a Map<String, Value>> {
    o.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("{what} needs \"{key}\": an object"))
}

fn str_field<'a>(o: &'a Map<String, Value>, key: &str, what: &str) -> anyhow::Result<&'a str> {
    o.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{what} needs \"{key}\": a string"))
}

fn usize_field(o: &Map<String, Value>, key: &str, what: &str) -> anyhow::Result<usize> {
    o.get(key)
        .and_then(Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| anyhow!("{what} needs \"{key}\": a non-negative integer"))
}

fn int_field<T: TryFrom<i64>>(o: &Map<String, Value>, key: &str) -> anyhow::Result<T> {
    let v = o
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("missing integer \"{key}\""))?;
    T::try_from(v).map_err(|_| anyhow!("\"{key}\" = {v} is out of range"))
}

fn quant_params(o: &Map<String, Value>, what: &str) -> anyhow::Result<QuantParams> {
    let scale = o
        .get("scale")
        .and_then(Value::as_f64)
        .map(f32_from_json)
        .ok_or_else(|| anyhow!("\"{what}\" needs \"scale\": a number"))?;
    let zero_point: i32 = int_field(o, "zero_point").with_context(|| format!("\"{what}\""))?;
    let p = QuantParams::new(scale, zero_point);
    if !p.is_valid() {
        bail!("\"{what}\": scale {scale} must be finite and positive, zero_point {zero_point} in −128..=127");
    }
    Ok(p)
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

fn int_array<T: TryFrom<i64>>(v: Option<&Value>, what: &str) -> anyhow::Result<Vec<T>> {
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("\"{what}\" must be an array of integers"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_i64()
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| anyhow!("\"{what}\"[{i}] is {x}, expected an integer in range"))
        })
        .collect()
}

fn string_array(v: Option<&Value>) -> anyhow::Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("expected strings only"))
            })
            .collect(),
        Some(_) => bail!("expected an array of strings"),
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn qp_json(p: QuantParams) -> String {
    format!(
        "{{\"scale\": {:?}, \"zero_point\": {}}}",
        p.scale, p.zero_point
    )
}

fn f32_list(xs: &[f32]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", parts.join(", "))
}

fn int_list<T: std::fmt::Display>(xs: &[T]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Runs an int8 model through the core, reusing one scratch buffer.
pub struct Int8Runner<'a> {
    model: CoreModel<'a>,
    scratch: Vec<i8>,
}

impl<'a> Int8Runner<'a> {
    /// A runner over a core model (validated here).
    pub fn new(model: CoreModel<'a>) -> anyhow::Result<Int8Runner<'a>> {
        model.validate().map_err(|e| anyhow!("{e}"))?;
        let scratch = vec![0; model.scratch_len()];
        Ok(Int8Runner { model, scratch })
    }

    /// The core model.
    pub fn model(&self) -> &CoreModel<'a> {
        &self.model
    }

    /// Output codes and their dequantized values for one raw input.
    pub fn run(&mut self, raw: &[f32]) -> anyhow::Result<(Vec<i8>, Vec<f32>)> {
        let mut codes = vec![0; self.model.output_len];
        let mut values = vec![0.0; self.model.output_len];
        self.model
            .run(raw, &mut self.scratch, &mut codes, &mut values)
            .map_err(|e| anyhow!("{e}"))?;
        Ok((codes, values))
    }

    /// The predicted class of one raw input ([`CoreModel::classify`]).
    pub fn classify(&mut self, raw: &[f32]) -> anyhow::Result<usize> {
        self.model
            .classify(raw, &mut self.scratch)
            .map_err(|e| anyhow!("{e}"))
    }
}

/// Whether the JSON file at `path` is an int8 model (by its `"format"`).
pub fn is_int8_model_file(path: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    Ok(v.get("format").and_then(Value::as_str) == Some(FORMAT))
}
