//! The JSON model file, version 2 (`docs/model-format.md`): serde-derived
//! and strict on read (an unknown field anywhere is an error that names it),
//! written by hand so that f32 values take their shortest round-trip form
//! and a weight matrix one row per line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, bail, Context};
use axon_core::graph::DType;
use axon_core::quant::QuantParams;
use serde::Deserialize;
use serde_json::Value;

use super::number::f32_from_json;
use super::{Data, Graph, Meta, Model, Node, Quant, QuantInfo, Task, Tensor};
use crate::ops::Op;

/// The value of the `"format"` field.
pub const FORMAT: &str = "axon-model";
/// The model file version this code writes (it also reads version 1).
pub const VERSION: u64 = 2;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: String,
    version: u64,
    meta: RawMeta,
    graph: RawGraph,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    task: RawTask,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    target: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    quantization: Option<RawQuantInfo>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawTask {
    Classification { classes: usize },
    Regression,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuantInfo {
    calibration: String,
    #[serde(default)]
    percentile: Option<f64>,
    samples: usize,
    source: String,
    per_channel: bool,
    rounding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    inputs: Vec<String>,
    outputs: Vec<String>,
    tensors: Vec<RawTensor>,
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    name: String,
    shape: Vec<u32>,
    #[serde(rename = "type")]
    dtype: String,
    #[serde(default)]
    quant: Option<RawQuant>,
    #[serde(default)]
    data: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuant {
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    zero_point: Option<i32>,
    #[serde(default)]
    scales: Option<Vec<f64>>,
    #[serde(default)]
    axis: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: String,
    op: String,
    inputs: Vec<String>,
    output: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    attrs: Option<Value>,
}

/// Parses a model file of any version; `what` names it in messages.
pub(super) fn from_str(text: &str, what: &str) -> anyhow::Result<Model> {
    let v: Value = serde_json::from_str(text).context("not valid JSON")?;
    let obj = v
        .as_object()
        .ok_or_else(|| anyhow!("the top level must be a JSON object"))?;
    let format = obj
        .get("format")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("missing \"format\": this is not an axon model file"))?;
    let version = obj
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("missing or non-integer \"version\""))?;
    match (format, version) {
        (FORMAT, 2) => {}
        ("axon-model" | "axon-model-int8", 1) => {
            let m = super::v1::from_json(&v)?;
            eprintln!(
                "note: {what} is a version-1 model file ({format}); converted to version 2 \
                 on read (`axon convert` or any command that writes a model saves it as version 2)"
            );
            return Ok(m);
        }
        ("axon-model-int8", VERSION) => bail!(
            "\"format\" is \"axon-model-int8\", a version-1 name: version {VERSION} has one \
             format, \"{FORMAT}\", for f32 and int8 models"
        ),
        (FORMAT | "axon-model-int8", v) => bail!(
            "model file version {v} is not supported (this axon reads versions 1 and {VERSION})"
        ),
        (f, _) => bail!("\"format\" is \"{f}\", expected \"{FORMAT}\""),
    }
    let raw: RawFile = serde_json::from_str(text)?;
    let _ = (raw.format, raw.version);
    let m = Model {
        meta: meta(raw.meta)?,
        graph: graph(raw.graph)?,
    };
    m.validate()?;
    Ok(m)
}

fn meta(r: RawMeta) -> anyhow::Result<Meta> {
    Ok(Meta {
        task: match r.task {
            RawTask::Classification { classes } => Task::Classification { classes },
            RawTask::Regression => Task::Regression,
        },
        features: r.features,
        target: r.target,
        labels: r.labels,
        quantization: match r.quantization {
            None => None,
            Some(q) => Some(QuantInfo {
                rounding: crate::ops::parse_rounding(&q.rounding)
                    .map_err(|e| anyhow!("meta.quantization: {e}"))?,
                calibration: q.calibration,
                percentile: q.percentile,
                samples: q.samples,
                source: q.source,
                per_channel: q.per_channel,
            }),
        },
    })
}

fn data(t: &RawTensor, dtype: DType, values: &[f64]) -> anyhow::Result<Data> {
    let int = |i: usize, v: f64, lo: f64, hi: f64| -> anyhow::Result<i64> {
        if v.fract() != 0.0 || v < lo || v > hi {
            bail!(
                "tensor {}: value {i} is {v}, not an integer in {lo}..={hi}",
                t.name
            );
        }
        Ok(v as i64)
    };
    Ok(match dtype {
        DType::F32 => Data::F32(values.iter().map(|&v| f32_from_json(v)).collect()),
        DType::I8 => Data::I8(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| int(i, v, -128.0, 127.0).map(|v| v as i8))
                .collect::<anyhow::Result<_>>()?,
        ),
        DType::I32 => Data::I32(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| int(i, v, i32::MIN as f64, i32::MAX as f64).map(|v| v as i32))
                .collect::<anyhow::Result<_>>()?,
        ),
        DType::Staged => bail!("tensor {}: staged tensors hold no data", t.name),
    })
}

fn tensor(t: RawTensor) -> anyhow::Result<Tensor> {
    let dtype = DType::from_name(&t.dtype)
        .filter(|d| *d != DType::Staged)
        .ok_or_else(|| {
            anyhow!(
                "tensor {}: unknown type \"{}\" (expected f32, i8 or i32)",
                t.name,
                t.dtype
            )
        })?;
    let quant = match &t.quant {
        None => Quant::None,
        Some(RawQuant {
            scale: Some(s),
            zero_point: Some(z),
            scales: None,
            axis: None,
        }) => Quant::PerTensor(QuantParams::new(f32_from_json(*s), *z)),
        Some(RawQuant {
            scale: None,
            zero_point: None,
            scales: Some(s),
            axis: Some(a),
        }) => Quant::PerChannel {
            scales: s.iter().map(|&v| f32_from_json(v)).collect(),
            axis: *a,
        },
        Some(_) => bail!(
            "tensor {}: \"quant\" is either {{\"scale\", \"zero_point\"}} (per tensor) or \
             {{\"scales\", \"axis\"}} (per channel)",
            t.name
        ),
    };
    let data = match &t.data {
        Some(v) => Some(data(&t, dtype, v)?),
        None => None,
    };
    Ok(Tensor {
        name: t.name,
        shape: t.shape,
        dtype,
        quant,
        data,
    })
}

fn graph(r: RawGraph) -> anyhow::Result<Graph> {
    let mut g = Graph::default();
    for t in r.tensors {
        g.tensors.push(tensor(t)?);
    }
    let id = |name: &str, who: &str| {
        g.find(name)
            .ok_or_else(|| anyhow!("{who} names tensor \"{name}\", which the graph does not have"))
    };
    let inputs = r
        .inputs
        .iter()
        .map(|n| id(n, "the graph's inputs"))
        .collect::<anyhow::Result<_>>()?;
    let outputs = r
        .outputs
        .iter()
        .map(|n| id(n, "the graph's outputs"))
        .collect::<anyhow::Result<_>>()?;
    let mut nodes = Vec::with_capacity(r.nodes.len());
    for n in r.nodes {
        let who = format!("node {}", n.name);
        let op =
            Op::parse(&n.op, n.attrs.as_ref()).map_err(|e| anyhow!("{who} ({}): {e}", n.op))?;
        let inputs = n
            .inputs
            .iter()
            .map(|t| id(t, &who))
            .collect::<anyhow::Result<_>>()?;
        let output = id(&n.output, &who)?;
        // Parameters in the op's order of roles.
        let (req, opt) = op.roles();
        let mut params = Vec::new();
        for role in req.iter().chain(opt.iter()) {
            if let Some(t) = n.params.get(*role) {
                params.push(((*role).to_owned(), id(t, &who)?));
            }
        }
        if let Some(extra) = n
            .params
            .keys()
            .find(|k| !req.contains(&k.as_str()) && !opt.contains(&k.as_str()))
        {
            bail!(
                "{who} ({}): unknown parameter \"{extra}\" (it takes: {})",
                n.op,
                req.iter()
                    .chain(opt.iter())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        nodes.push(Node {
            name: n.name,
            op,
            inputs,
            output,
            params,
        });
    }
    g.nodes = nodes;
    g.inputs = inputs;
    g.outputs = outputs;
    crate::ops::fully_connected::derive_row_sums(&mut g);
    Ok(g)
}

fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn strings<S: AsRef<str>>(v: &[S]) -> String {
    let parts: Vec<String> = v.iter().map(|s| string(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

/// Shortest round-trip decimal of a finite f32 (valid JSON).
pub fn f32_text(x: f32) -> String {
    format!("{x:?}")
}

fn list<T>(xs: &[T], f: impl Fn(&T) -> String) -> String {
    let parts: Vec<String> = xs.iter().map(f).collect();
    format!("[{}]", parts.join(", "))
}

/// A data array, one innermost row per line when it has several.
fn data_text(d: &Data, row: usize) -> String {
    let items: Vec<String> = match d {
        Data::F32(v) => v.iter().map(|x| f32_text(*x)).collect(),
        Data::I8(v) => v.iter().map(i8::to_string).collect(),
        Data::I32(v) => v.iter().map(i32::to_string).collect(),
    };
    if items.len() <= row.max(16) {
        return format!("[{}]", items.join(", "));
    }
    let lines: Vec<String> = items
        .chunks(row.clamp(1, 64))
        .map(|c| format!("        {}", c.join(", ")))
        .collect();
    format!("[\n{}\n      ]", lines.join(",\n"))
}

/// The model as version-2 JSON text.
pub(super) fn to_string(m: &Model) -> anyhow::Result<String> {
    let g = &m.graph;
    let mut s = String::from("{\n");
    let _ = writeln!(s, "  \"format\": \"{FORMAT}\",");
    let _ = writeln!(s, "  \"version\": {VERSION},");
    s.push_str("  \"meta\": {\n");
    match m.meta.task {
        Task::Classification { classes } => {
            let _ = writeln!(
                s,
                "    \"task\": {{\"type\": \"classification\", \"classes\": {classes}}},"
            );
        }
        Task::Regression => s.push_str("    \"task\": {\"type\": \"regression\"},\n"),
    }
    let _ = writeln!(s, "    \"features\": {},", strings(&m.meta.features));
    let _ = writeln!(s, "    \"target\": {},", string(&m.meta.target));
    let _ = write!(s, "    \"labels\": {}", strings(&m.meta.labels));
    if let Some(q) = &m.meta.quantization {
        let _ = write!(
            s,
            ",\n    \"quantization\": {{\"calibration\": {}, ",
            string(&q.calibration)
        );
        if let Some(p) = q.percentile {
            let _ = write!(s, "\"percentile\": {p:?}, ");
        }
        let _ = write!(
            s,
            "\"samples\": {}, \"source\": {}, \"per_channel\": {}, \"rounding\": \"{}\"}}",
            q.samples,
            string(&q.source),
            q.per_channel,
            q.rounding.name()
        );
    }
    s.push_str("\n  },\n  \"graph\": {\n");
    let names = |ids: &[usize]| {
        strings(
            &ids.iter()
                .map(|&t| g.tensors[t].name.as_str())
                .collect::<Vec<_>>(),
        )
    };
    let _ = writeln!(s, "    \"inputs\": {},", names(&g.inputs));
    let _ = writeln!(s, "    \"outputs\": {},", names(&g.outputs));
    s.push_str("    \"tensors\": [");
    for (i, t) in g.tensors.iter().enumerate() {
        if t.dtype == DType::Staged {
            bail!(
                "tensor {} is staged: a prepared graph is not a model file",
                t.name
            );
        }
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            s,
            "      {{\"name\": {}, \"shape\": {}, \"type\": \"{}\"",
            string(&t.name),
            list(&t.shape, u32::to_string),
            t.dtype.name()
        );
        match &t.quant {
            Quant::None => {}
            Quant::PerTensor(p) => {
                let _ = write!(
                    s,
                    ", \"quant\": {{\"scale\": {}, \"zero_point\": {}}}",
                    f32_text(p.scale),
                    p.zero_point
                );
            }
            Quant::PerChannel { scales, axis } => {
                let _ = write!(
                    s,
                    ", \"quant\": {{\"scales\": {}, \"axis\": {axis}}}",
                    list(scales, |x| f32_text(*x))
                );
            }
        }
        if let Some(d) = &t.data {
            let _ = write!(s, ", \"data\": {}", data_text(d, t.last()));
        }
        s.push('}');
    }
    s.push_str("\n    ],\n    \"nodes\": [");
    for (i, n) in g.nodes.iter().enumerate() {
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            s,
            "      {{\"name\": {}, \"op\": \"{}\", \"inputs\": {}, \"output\": {}",
            string(&n.name),
            n.op.name(),
            names(&n.inputs),
            string(&g.tensors[n.output].name)
        );
        if !n.params.is_empty() {
            let ps: Vec<String> = n
                .params
                .iter()
                .map(|(r, t)| format!("{}: {}", string(r), string(&g.tensors[*t].name)))
                .collect();
            let _ = write!(s, ", \"params\": {{{}}}", ps.join(", "));
        }
        if let Some(a) = n.op.attrs() {
            let _ = write!(s, ", \"attrs\": {}", serde_json::to_string(&a)?);
        }
        s.push('}');
    }
    s.push_str("\n    ]\n  }\n}\n");
    Ok(s)
}
