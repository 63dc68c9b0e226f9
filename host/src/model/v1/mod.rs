//! Version-1 model files, converted on read: the chain of layers of the
//! f32 JSON (`"format": "axon-model"`), the int8 JSON
//! (`"format": "axon-model-int8"`) and the version-1 blob. Each becomes
//! the version-2 graph that computes the same bits: `x → [standardize] →
//! fc1 → relu1 → fc2 → softmax → y` (f32), `x → quantize → fc1 → … →
//! dequantize → y` (int8). An identity standardisation (mean 0, std 1:
//! `(x − 0)/1 = x` in f32) and identity layers are dropped.

use anyhow::{anyhow, bail, Context};
use axon_core::graph::DType;
use axon_core::ops::Fused;
use axon_core::quant::{QuantParams, Rounding};
use serde_json::{Map, Value};

use super::{f32_from_json, Data, Graph, Meta, Model, Quant, QuantInfo, Task, Tensor};
use crate::ops::{self, Op};

mod blob;

pub use blob::from_blob;

/// One int8 layer of a version-1 model (JSON or blob).
#[derive(Debug, Clone)]
pub(crate) enum Layer8 {
    FullyConnected {
        inputs: usize,
        outputs: usize,
        weights: Vec<i8>,
        weight_scales: Vec<f32>,
        bias: Vec<i32>,
        multiplier: Vec<i32>,
        shift: Vec<i32>,
        output: QuantParams,
        act_min: i8,
        act_max: i8,
        /// The fused activation's name, where the file gives it.
        activation: Option<String>,
    },
    Lut {
        function: String,
        len: usize,
        output: QuantParams,
        table: Vec<i8>,
    },
    Softmax {
        len: usize,
        beta: f64,
        params: axon_core::quant::SoftmaxParams,
    },
}

/// A version-1 int8 model's parts.
#[derive(Debug, Clone)]
pub(crate) struct Model8 {
    pub inputs: usize,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub input: QuantParams,
    pub layers: Vec<Layer8>,
    pub rounding: Rounding,
}

fn field<'a>(o: &'a Map<String, Value>, k: &str) -> anyhow::Result<&'a Value> {
    o.get(k).ok_or_else(|| anyhow!("missing \"{k}\""))
}

fn usize_of(o: &Map<String, Value>, k: &str) -> anyhow::Result<usize> {
    field(o, k)?
        .as_u64()
        .map(|v| v as usize)
        .ok_or_else(|| anyhow!("\"{k}\" must be a non-negative integer"))
}

fn int_of<T: TryFrom<i64>>(o: &Map<String, Value>, k: &str) -> anyhow::Result<T> {
    let v = field(o, k)?
        .as_i64()
        .ok_or_else(|| anyhow!("\"{k}\" must be an integer"))?;
    T::try_from(v).map_err(|_| anyhow!("\"{k}\" = {v} is out of range"))
}

fn f32s(v: &Value, what: &str) -> anyhow::Result<Vec<f32>> {
    v.as_array()
        .ok_or_else(|| anyhow!("\"{what}\" must be an array of numbers"))?
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .map(f32_from_json)
                .ok_or_else(|| anyhow!("\"{what}\"[{i}] is not a number"))
        })
        .collect()
}

fn ints<T: TryFrom<i64>>(v: &Value, what: &str) -> anyhow::Result<Vec<T>> {
    v.as_array()
        .ok_or_else(|| anyhow!("\"{what}\" must be an array of integers"))?
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_i64()
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| anyhow!("\"{what}\"[{i}] is not an integer in range"))
        })
        .collect()
}

/// Rows of a matrix as one output-major vector (each row `cols` long).
fn rows<T>(
    v: &Value,
    rows: usize,
    cols: usize,
    each: impl Fn(&Value, &str) -> anyhow::Result<Vec<T>>,
) -> anyhow::Result<Vec<T>> {
    let a = v
        .as_array()
        .ok_or_else(|| anyhow!("\"weights\" must be an array of rows"))?;
    if a.len() != rows {
        bail!("{} weight rows, expected {rows}", a.len());
    }
    let mut out = Vec::with_capacity(rows * cols);
    for (r, row) in a.iter().enumerate() {
        let row = each(row, &format!("weights[{r}]"))?;
        if row.len() != cols {
            bail!("weight row {r} has {} values, expected {cols}", row.len());
        }
        out.extend(row);
    }
    Ok(out)
}

fn quant_of(o: &Map<String, Value>, k: &str) -> anyhow::Result<QuantParams> {
    let q = field(o, k)?
        .as_object()
        .ok_or_else(|| anyhow!("\"{k}\" must be an object"))?;
    let scale = field(q, "scale")?
        .as_f64()
        .map(f32_from_json)
        .ok_or_else(|| anyhow!("\"{k}.scale\" must be a number"))?;
    Ok(QuantParams::new(scale, int_of(q, "zero_point")?))
}

fn strings(v: Option<&Value>) -> anyhow::Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("expected strings"))
            })
            .collect(),
        Some(_) => bail!("expected an array of strings"),
    }
}

fn meta_of(o: &Map<String, Value>) -> anyhow::Result<Meta> {
    let task = match o
        .get("task")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
    {
        Some("classification") => Task::Classification {
            classes: usize_of(
                o.get("task")
                    .and_then(Value::as_object)
                    .ok_or_else(|| anyhow!("bad task"))?,
                "classes",
            )?,
        },
        Some("regression") | None => Task::Regression,
        Some(other) => bail!("unknown task type \"{other}\""),
    };
    Ok(Meta {
        task,
        features: strings(o.get("features"))?,
        target: o
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        labels: strings(o.get("labels"))?,
        quantization: None,
    })
}

fn is_identity(mean: &[f32], std: &[f32]) -> bool {
    mean.iter().all(|m| m.to_bits() == 0) && std.iter().all(|&s| s == 1.0)
}

/// A version-1 JSON file (f32 or int8).
pub fn from_json(v: &Value) -> anyhow::Result<Model> {
    let o = v
        .as_object()
        .ok_or_else(|| anyhow!("the top level must be an object"))?;
    let m = match o.get("format").and_then(Value::as_str) {
        Some("axon-model-int8") => int8_from_json(o)?,
        _ => f32_from_json_v1(o)?,
    };
    m.validate()
        .context("the converted version-1 model does not validate")?;
    Ok(m)
}

fn f32_from_json_v1(o: &Map<String, Value>) -> anyhow::Result<Model> {
    let inputs = usize_of(o, "inputs")?;
    let pre = field(o, "preprocess")?
        .as_object()
        .ok_or_else(|| anyhow!("\"preprocess\" must be an object"))?;
    let mean = f32s(field(pre, "mean")?, "preprocess.mean")?;
    let std = f32s(field(pre, "std")?, "preprocess.std")?;
    let mut g = Graph::default();
    let x = g.add_tensor(Tensor::activation(
        "x",
        vec![inputs as u32],
        DType::F32,
        Quant::None,
    ));
    g.inputs.push(x);
    let mut cur = x;
    let mut width = inputs;
    if !is_identity(&mean, &std) {
        let m = g.add_tensor(Tensor::f32("input.mean", vec![inputs as u32], mean));
        let s = g.add_tensor(Tensor::f32("input.std", vec![inputs as u32], std));
        let y = g.add_tensor(Tensor::activation(
            "input.standardized",
            vec![inputs as u32],
            DType::F32,
            Quant::None,
        ));
        g.add_node(
            "input",
            Op::Standardize(ops::standardize::Standardize),
            vec![cur],
            y,
            vec![("mean", m), ("std", s)],
        );
        cur = y;
    }
    let layers = field(o, "layers")?
        .as_array()
        .ok_or_else(|| anyhow!("\"layers\" must be an array"))?;
    let (mut dense, mut acts) = (0, std::collections::HashMap::<String, usize>::new());
    let last = layers.len();
    for (i, l) in layers.iter().enumerate() {
        let l = l
            .as_object()
            .ok_or_else(|| anyhow!("layer {i} must be an object"))?;
        let ty = field(l, "type")?
            .as_str()
            .ok_or_else(|| anyhow!("layer {i}: \"type\""))?;
        let (name, op, params) = if ty == "dense" {
            dense += 1;
            let (i_n, o_n) = (usize_of(l, "in")?, usize_of(l, "out")?);
            if i_n != width {
                bail!("layer {i} (dense) takes {i_n} inputs, the previous layer gives {width}");
            }
            let w =
                rows(field(l, "weights")?, o_n, i_n, f32s).with_context(|| format!("layer {i}"))?;
            let b = f32s(field(l, "bias")?, "bias")?;
            let name = format!("fc{dense}");
            let wt = g.add_tensor(Tensor::f32(
                format!("{name}.weight"),
                vec![o_n as u32, i_n as u32],
                w,
            ));
            let bt = g.add_tensor(Tensor::f32(format!("{name}.bias"), vec![o_n as u32], b));
            width = o_n;
            (
                name,
                Op::FullyConnected(Default::default()),
                vec![("weight", wt), ("bias", bt)],
            )
        } else {
            let alpha = l.get("alpha").and_then(Value::as_f64).map(f32_from_json);
            let op = match ty {
                "identity" => continue,
                "relu" => Op::Relu(Default::default()),
                "leaky_relu" => {
                    Op::LeakyRelu(ops::leaky_relu::LeakyRelu::f32(alpha.unwrap_or(0.01)))
                }
                "sigmoid" => Op::Sigmoid(Default::default()),
                "tanh" => Op::Tanh(Default::default()),
                "gelu" => Op::Gelu(ops::gelu::Gelu::f32(true)),
                "gelu_erf" => Op::Gelu(ops::gelu::Gelu::f32(false)),
                "silu" => Op::Silu(Default::default()),
                "softmax" => Op::Softmax(Default::default()),
                other => bail!("layer {i}: unknown layer type \"{other}\""),
            };
            let k = acts.entry(ty.to_owned()).or_insert(0);
            *k += 1;
            (format!("{ty}{k}"), op, vec![])
        };
        let out_name = if i + 1 == last {
            "y".to_owned()
        } else {
            format!("{name}.out")
        };
        let y = g.add_tensor(Tensor::activation(
            out_name,
            vec![width as u32],
            DType::F32,
            Quant::None,
        ));
        g.add_node(name, op, vec![cur], y, params);
        cur = y;
    }
    if cur == x {
        bail!("the model has no layers");
    }
    // The last tensor is the output even if the last layer was an identity.
    g.tensors[cur].name = "y".into();
    g.outputs.push(cur);
    Ok(Model {
        meta: meta_of(o)?,
        graph: g,
    })
}

fn int8_from_json(o: &Map<String, Value>) -> anyhow::Result<Model> {
    let pre = field(o, "preprocess")?
        .as_object()
        .ok_or_else(|| anyhow!("\"preprocess\" must be an object"))?;
    let rounding = match o.get("rounding").and_then(Value::as_str) {
        None => Rounding::Double,
        Some(r) => ops::parse_rounding(r).map_err(anyhow::Error::msg)?,
    };
    let mut layers = Vec::new();
    for (i, l) in field(o, "layers")?
        .as_array()
        .ok_or_else(|| anyhow!("\"layers\" must be an array"))?
        .iter()
        .enumerate()
    {
        let l = l
            .as_object()
            .ok_or_else(|| anyhow!("layer {i} must be an object"))?;
        layers.push(layer8(l).with_context(|| format!("layer {i}"))?);
    }
    let m8 = Model8 {
        inputs: usize_of(o, "inputs")?,
        mean: f32s(field(pre, "mean")?, "preprocess.mean")?,
        std: f32s(field(pre, "std")?, "preprocess.std")?,
        input: quant_of(o, "input")?,
        layers,
        rounding,
    };
    let mut meta = meta_of(o)?;
    if let Some(c) = o.get("calibration").and_then(Value::as_object) {
        meta.quantization = Some(QuantInfo {
            calibration: c
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("minmax")
                .to_owned(),
            percentile: c.get("percentile").and_then(Value::as_f64),
            samples: c.get("samples").and_then(Value::as_u64).unwrap_or(0) as usize,
            source: c
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            per_channel: true,
            rounding,
        });
    }
    let mut m = convert8(&m8, meta)?;
    if let Some(q) = &mut m.meta.quantization {
        q.per_channel = m8.layers.iter().any(|l| matches!(l, Layer8::FullyConnected { weight_scales, .. } if weight_scales.len() > 1));
    }
    Ok(m)
}

fn layer8(l: &Map<String, Value>) -> anyhow::Result<Layer8> {
    let ty = field(l, "type")?.as_str().unwrap_or("");
    Ok(match ty {
        "fully_connected" => {
            let (inputs, outputs) = (usize_of(l, "in")?, usize_of(l, "out")?);
            Layer8::FullyConnected {
                inputs,
                outputs,
                weights: rows(field(l, "weights")?, outputs, inputs, ints)?,
                weight_scales: f32s(field(l, "weight_scales")?, "weight_scales")?,
                bias: ints(field(l, "bias")?, "bias")?,
                multiplier: ints(field(l, "multiplier")?, "multiplier")?,
                shift: ints(field(l, "shift")?, "shift")?,
                output: quant_of(l, "output")?,
                act_min: int_of(l, "act_min")?,
                act_max: int_of(l, "act_max")?,
                activation: l
                    .get("activation")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }
        }
        "lut" => Layer8::Lut {
            function: field(l, "function")?.as_str().unwrap_or("").to_owned(),
            len: usize_of(l, "len")?,
            output: quant_of(l, "output")?,
            table: ints(field(l, "table")?, "table")?,
        },
        "softmax" => Layer8::Softmax {
            len: usize_of(l, "len")?,
            beta: field(l, "beta")?
                .as_f64()
                .ok_or_else(|| anyhow!("\"beta\""))?,
            params: axon_core::quant::SoftmaxParams {
                input_multiplier: int_of(l, "input_multiplier")?,
                input_left_shift: int_of(l, "input_left_shift")?,
                diff_min: int_of(l, "diff_min")?,
            },
        },
        other => bail!("unknown int8 layer type \"{other}\""),
    })
}

/// The fused activation of a version-1 layer: the one it names (whose
/// clamp must be the stored one), or, unnamed (a blob), the first whose
/// clamp is.
fn fused_of(
    name: Option<&str>,
    out: QuantParams,
    act_min: i8,
    act_max: i8,
) -> anyhow::Result<Fused> {
    let fits = |f: &Fused| f.clamp(out) == (act_min, act_max);
    let named = match name {
        Some(n) => Some(ops::parse_fused(n).map_err(anyhow::Error::msg)?),
        None => None,
    };
    // Version 1 knew only none and relu by name; a ReLU6 was a relu with a
    // clamp below 127.
    let candidates: Vec<Fused> = match named {
        Some(Fused::Relu) => vec![Fused::Relu, Fused::Relu6],
        Some(f) => vec![f],
        None => Fused::ALL.to_vec(),
    };
    candidates.into_iter().find(fits).ok_or_else(|| {
        anyhow!("the clamp [{act_min}, {act_max}] is not the range of its fused activation")
    })
}

/// The version-2 graph of a version-1 int8 model.
pub(crate) fn convert8(m: &Model8, meta: Meta) -> anyhow::Result<Model> {
    let mut g = Graph::default();
    let n = m.inputs as u32;
    let x = g.add_tensor(Tensor::activation("x", vec![n], DType::F32, Quant::None));
    g.inputs.push(x);
    let xq = g.add_tensor(Tensor::activation(
        "x.q",
        vec![n],
        DType::I8,
        Quant::PerTensor(m.input),
    ));
    let mut params = vec![];
    if !is_identity(&m.mean, &m.std) {
        let mt = g.add_tensor(Tensor::f32("input.mean", vec![n], m.mean.clone()));
        let st = g.add_tensor(Tensor::f32("input.std", vec![n], m.std.clone()));
        params = vec![("mean", mt), ("std", st)];
    }
    g.add_node(
        "input",
        Op::Quantize(ops::quantize::Quantize),
        vec![x],
        xq,
        params,
    );
    let mut cur = xq;
    let mut width = m.inputs;
    let (mut fc, mut counts) = (0, std::collections::HashMap::<String, usize>::new());
    for (i, l) in m.layers.iter().enumerate() {
        let (name, op, params, out_q, w) = match l {
            Layer8::FullyConnected {
                inputs,
                outputs,
                weights,
                weight_scales,
                bias,
                multiplier,
                shift,
                output,
                act_min,
                act_max,
                activation,
            } => {
                if *inputs != width {
                    bail!("layer {i} takes {inputs} inputs, the previous layer gives {width}");
                }
                fc += 1;
                let name = format!("fc{fc}");
                let quant = if weight_scales.len() == 1 {
                    Quant::PerTensor(QuantParams::new(weight_scales[0], 0))
                } else {
                    Quant::PerChannel {
                        scales: weight_scales.clone(),
                        axis: 0,
                    }
                };
                let wt = g.add_tensor(Tensor {
                    name: format!("{name}.weight"),
                    shape: vec![*outputs as u32, *inputs as u32],
                    dtype: DType::I8,
                    quant,
                    data: Some(Data::I8(weights.clone())),
                });
                let bt = g.add_tensor(Tensor {
                    name: format!("{name}.bias"),
                    shape: vec![*outputs as u32],
                    dtype: DType::I32,
                    quant: Quant::None,
                    data: Some(Data::I32(bias.clone())),
                });
                let activation = fused_of(activation.as_deref(), *output, *act_min, *act_max)
                    .with_context(|| format!("layer {i}"))?;
                let op = Op::FullyConnected(ops::fully_connected::FullyConnected {
                    int8: Some(ops::fully_connected::Int8Attrs {
                        activation,
                        rounding: m.rounding,
                        multiplier: multiplier.clone(),
                        shift: shift.clone(),
                    }),
                    row_sums: None,
                    prepared: None,
                });
                (
                    name,
                    op,
                    vec![("weight", wt), ("bias", bt)],
                    *output,
                    *outputs,
                )
            }
            Layer8::Lut {
                function,
                len,
                output,
                table,
            } => {
                let k = counts.entry(function.clone()).or_insert(0);
                *k += 1;
                let name = format!("{function}{k}");
                let tt = g.add_tensor(Tensor {
                    name: format!("{name}.table"),
                    shape: vec![256],
                    dtype: DType::I8,
                    quant: Quant::None,
                    data: Some(Data::I8(table.clone())),
                });
                let op = ops::lut::op_of_v1(function)
                    .ok_or_else(|| anyhow!("layer {i}: unknown lut function \"{function}\""))?;
                (name, op, vec![("table", tt)], *output, *len)
            }
            Layer8::Softmax { len, beta, params } => {
                let op = Op::Softmax(ops::softmax::Softmax::int8(*beta as f32, *params));
                (
                    "softmax".to_owned(),
                    op,
                    vec![],
                    axon_core::quant::softmax::SOFTMAX_OUTPUT,
                    *len,
                )
            }
        };
        width = w;
        let y = g.add_tensor(Tensor::activation(
            format!("{name}.out"),
            vec![w as u32],
            DType::I8,
            Quant::PerTensor(out_q),
        ));
        g.add_node(name, op, vec![cur], y, params);
        cur = y;
    }
    let y = g.add_tensor(Tensor::activation(
        "y",
        vec![width as u32],
        DType::F32,
        Quant::None,
    ));
    g.add_node(
        "output",
        Op::Dequantize(ops::dequantize::Dequantize),
        vec![cur],
        y,
        vec![],
    );
    g.outputs.push(y);
    crate::ops::fully_connected::derive_row_sums(&mut g);
    Ok(Model { meta, graph: g })
}
