//! Post-training quantization to the TFLite int8 spec, over the graph.
//!
//! Calibration runs the f32 graph over sample inputs and records the range
//! of every activation tensor (min/max, or percentiles). From those ranges
//! activations get an asymmetric (scale, zero point) per tensor, and each
//! node becomes its int8 form by its op's own rule (`ops/<op>/quantize.rs`:
//! weights symmetric per channel, int32 bias, TFLite's multipliers; ReLU
//! fused into the fully connected layer or add before it; sigmoid, tanh,
//! GELU, SiLU and leaky ReLU as tables; TFLite's int8 softmax and add). A
//! `quantize` node is put at each f32 input (with the model's input
//! standardisation fused into it) and a `dequantize` at each output, so the
//! int8 model takes and gives the same f32 values as the f32 one.

mod calibrate;
mod compare;
mod data;

pub use calibrate::{choose_params, Calibration, TensorStats};
pub use compare::{compare, Comparison};
pub use data::{load_rows, rows_from_table, spaced_rows, Rows};

use anyhow::{anyhow, bail, Context};
use axon_core::graph::DType;
use axon_core::quant::{QuantParams, Rounding};

use crate::model::{activations, Graph, Model, Node, Quant, QuantInfo, Tensor, TensorId};
use crate::ops::{self, Op};

/// Options of [`quantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantizeOptions {
    /// How activation ranges are calibrated.
    pub calibration: Calibration,
    /// One weight scale per output channel (TFLite's default) rather than
    /// one per tensor.
    pub per_channel: bool,
    /// How fully connected layers requantize: TFLite Micro's double
    /// rounding (the default) or the TFLite interpreter's single rounding.
    /// (Adds round twice in both runtimes and so always here.)
    pub rounding: Rounding,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            calibration: Calibration::MinMax,
            per_channel: true,
            rounding: Rounding::Double,
        }
    }
}

/// The int8 graph under construction, as the ops' rules see it.
#[derive(Debug)]
pub struct Builder<'a> {
    src: &'a Graph,
    opts: &'a QuantizeOptions,
    ranges: Vec<Option<(f32, f32)>>,
    out: Graph,
    twin: Vec<Option<TensorId>>,
    folded: Vec<bool>,
}

impl<'a> Builder<'a> {
    /// The f32 graph being quantized.
    pub fn src(&self) -> &'a Graph {
        self.src
    }

    /// Whether weights get one scale per output channel.
    pub fn per_channel(&self) -> bool {
        self.opts.per_channel
    }

    /// The rounding of fully connected layers (and standalone ReLUs).
    pub fn rounding(&self) -> Rounding {
        self.opts.rounding
    }

    /// The int8 tensor standing for f32 activation `t`.
    pub fn twin(&self, t: TensorId) -> anyhow::Result<TensorId> {
        self.twin[t].ok_or_else(|| {
            anyhow!(
                "tensor {} has no int8 form yet (the node that writes it has none)",
                self.src.tensors[t].name
            )
        })
    }

    /// The quantization of an int8 tensor of the new graph.
    pub fn params(&self, t: TensorId) -> QuantParams {
        self.out.tensors[t]
            .quant
            .params()
            .unwrap_or(QuantParams::new(1.0, 0))
    }

    /// TFLite's (scale, zero point) for f32 activation `t`'s calibrated
    /// range.
    pub fn calibrated(&self, t: TensorId) -> QuantParams {
        let (lo, hi) = self.ranges[t].unwrap_or((0.0, 1.0));
        choose_params(lo, hi)
    }

    /// Adds the int8 twin of f32 activation `t` with `params` (named as
    /// `t`, or `t.q` when `t` is a graph input or output, which keeps its
    /// f32 form).
    pub fn activation(&mut self, t: TensorId, params: QuantParams) -> TensorId {
        let s = &self.src.tensors[t];
        let io = self.src.inputs.contains(&t) || self.src.outputs.contains(&t);
        let name = if io {
            format!("{}.q", s.name)
        } else {
            s.name.clone()
        };
        let id = self.out.add_tensor(Tensor::activation(
            name,
            s.shape.clone(),
            DType::I8,
            Quant::PerTensor(params),
        ));
        self.twin[t] = Some(id);
        id
    }

    /// Adds a parameter tensor.
    pub fn param(&mut self, t: Tensor) -> TensorId {
        self.out.add_tensor(t)
    }

    /// Adds a node.
    pub fn node(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<TensorId>,
        output: TensorId,
        params: Vec<(&str, TensorId)>,
    ) {
        self.out.add_node(name, op, inputs, output, params);
    }

    /// If `node`'s output is read only by one ReLU (and is not a graph
    /// output), marks that ReLU folded into `node` and returns the ReLU's
    /// output tensor.
    pub fn fold_relu(&mut self, node: &Node) -> Option<TensorId> {
        let t = node.output;
        if self.src.outputs.contains(&t) {
            return None;
        }
        let readers = self.src.consumers(t);
        let &[r] = readers.as_slice() else {
            return None;
        };
        if !matches!(self.src.nodes[r].op, Op::Relu(_)) {
            return None;
        }
        self.folded[r] = true;
        Some(self.src.nodes[r].output)
    }
}

/// Quantizes `model` with the raw calibration inputs `calib` (row-major,
/// `model.inputs()` per row); `source` names the data in the model file.
pub fn quantize(
    model: &Model,
    calib: &[f32],
    source: &str,
    opts: &QuantizeOptions,
) -> anyhow::Result<Model> {
    model.validate().context("the f32 model is invalid")?;
    if model.is_int8() {
        bail!("the model is already int8");
    }
    let g = &model.graph;
    if g.inputs.len() != 1 {
        bail!("the quantizer takes a model with one input");
    }
    let d = model.inputs();
    if d == 0 || calib.is_empty() || !calib.len().is_multiple_of(d) {
        bail!(
            "calibration needs at least one row of {d} inputs (got {} numbers)",
            calib.len()
        );
    }
    if let Calibration::Percentile(p) = opts.calibration {
        if !(50.0..=100.0).contains(&p) {
            bail!("the calibration percentile must lie in 50..=100, got {p}");
        }
    }
    if !g
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::FullyConnected(_)))
    {
        bail!("the model has no fully connected layer to quantize");
    }
    // Calibration: every activation's range over the data.
    let keep = matches!(opts.calibration, Calibration::Percentile(_));
    let mut stats: Vec<TensorStats> = (0..g.tensors.len())
        .map(|_| TensorStats::new(keep))
        .collect();
    for row in calib.chunks_exact(d) {
        let vals = activations(g, &[row])?;
        for (s, v) in stats.iter_mut().zip(&vals) {
            if let Some(v) = v {
                s.observe(v);
            }
        }
    }
    let ranges = stats
        .iter()
        .zip(&g.tensors)
        .map(|(s, t)| (!t.is_param()).then(|| s.range(opts.calibration)))
        .collect();
    let mut b = Builder {
        src: g,
        opts,
        ranges,
        out: Graph::default(),
        twin: vec![None; g.tensors.len()],
        folded: vec![false; g.nodes.len()],
    };
    // The input stays f32; a quantize node (with the standardisation, when
    // the graph starts with one, fused) gives its int8 form.
    let x = g.inputs[0];
    let xin = b.out.add_tensor(g.tensors[x].clone());
    b.out.inputs.push(xin);
    let readers = g.consumers(x);
    let fuse = match readers.as_slice() {
        &[r] if matches!(g.nodes[r].op, Op::Standardize(_)) => Some(r),
        _ => None,
    };
    match fuse {
        Some(r) => {
            let sn = &g.nodes[r];
            let (mean, std) = (g.param(sn, "mean")?.clone(), g.param(sn, "std")?.clone());
            let (m, s) = (b.param(mean), b.param(std));
            let q = b.calibrated(sn.output);
            let y = b.activation(sn.output, q);
            b.node(
                &sn.name,
                Op::Quantize(ops::quantize::Quantize),
                vec![xin],
                y,
                vec![("mean", m), ("std", s)],
            );
            b.folded[r] = true;
        }
        None => {
            let q = b.calibrated(x);
            let y = b.activation(x, q);
            b.node(
                "input",
                Op::Quantize(ops::quantize::Quantize),
                vec![xin],
                y,
                vec![],
            );
        }
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if b.folded[i] {
            continue;
        }
        n.op.quantize(&mut b, n)
            .with_context(|| format!("node {} ({})", n.name, n.op.name()))?;
    }
    // Each output back to f32.
    for &o in &g.outputs {
        let q = b.twin(o)?;
        let y = b.out.add_tensor(g.tensors[o].clone());
        b.out.add_node(
            format!("{}.dequantize", g.tensors[o].name),
            Op::Dequantize(ops::dequantize::Dequantize),
            vec![q],
            y,
            vec![],
        );
        b.out.outputs.push(y);
    }
    let mut out = b.out;
    ops::fully_connected::derive_row_sums(&mut out);
    let n = calib.len() / d;
    let mut meta = model.meta.clone();
    meta.quantization = Some(QuantInfo {
        calibration: opts.calibration.name().to_owned(),
        percentile: match opts.calibration {
            Calibration::Percentile(p) => Some(p),
            Calibration::MinMax => None,
        },
        samples: n,
        source: source.to_owned(),
        per_channel: opts.per_channel,
        rounding: opts.rounding,
    });
    let m = Model { meta, graph: out };
    m.validate()
        .context("internal error: the quantized model does not validate")?;
    Ok(m)
}
