//! `fully_connected` on the host: `y = W·x + b` (PyTorch's `nn.Linear`),
//! parameters `weight` `[out, in]` and `bias` `[out]`.
//!
//! f32: no attributes. int8 (TFLite's fully connected): `weight` int8 with
//! per-tensor or per-channel (axis 0) scales, `bias` int32 (scale
//! `s_in·s_w[c]`), and the attributes `activation` (`none`, `relu`,
//! `relu6`, fused as the clamp), `rounding` (`double`, `single`) and the
//! derived `multiplier`/`shift` (one per weight scale), which the checks
//! recompute from the input, weight and output scales.

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::kernels::gemv_i8::FullyConnectedParams;
use axon_core::ops::fully_connected::packed4::{Block, PackedDense, Scale};
use axon_core::ops::fully_connected::{self as core_fc, FullyConnected as Core};
use axon_core::ops::{Fused, Op as CoreOp, Signature};
use axon_core::quant::Rounding;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::quantize::Builder;
use crate::train::Real;

mod emit;
mod quantize;
mod train;

pub use quantize::quantize_weights;

/// The int8 attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Attrs {
    /// The fused activation.
    pub activation: Fused,
    /// How requantization rounds.
    pub rounding: Rounding,
    /// `(channels,)` Q31 multipliers (derived).
    pub multiplier: Vec<i32>,
    /// `(channels,)` shifts (derived).
    pub shift: Vec<i32>,
}

/// A form prepared for a target (never in a model file; made by the
/// exporter or the desktop runner from the int8 form).
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// 4×4 weight blocks, staged activations (microcontrollers).
    Packed4 {
        /// The block stream.
        stream: Vec<Block>,
        /// One `Scale` per tensor or per row group.
        scales: Vec<Scale>,
    },
}

/// Fully connected, f32 or int8.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FullyConnected {
    /// The int8 attributes; `None` for f32.
    pub int8: Option<Int8Attrs>,
    /// The weight-row sums of an int8 layer, for kernels that fold the
    /// input offset (derived when a model is loaded; never written).
    pub row_sums: Option<Vec<i32>>,
    /// A prepared form.
    pub prepared: Option<Prepared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rounding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multiplier: Option<Vec<i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shift: Option<Vec<i32>>,
}

impl FullyConnected {
    /// The kernel parameters of the int8 form, for `c`'s tensors.
    fn params<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<Option<core_fc::Int8<'a>>> {
        let Some(q) = &self.int8 else {
            return Ok(None);
        };
        let (x, y) = (c.input(0)?, c.output());
        let (px, py) = (c.params_of(x)?, c.params_of(y)?);
        let w = c.param("weight")?;
        let b = c.param("bias")?;
        let (act_min, act_max) = q.activation.clamp(py);
        let weight_scales = match &w.quant {
            crate::model::Quant::PerTensor(p) => std::slice::from_ref(&p.scale),
            crate::model::Quant::PerChannel { scales, .. } => scales.as_slice(),
            crate::model::Quant::None => bail!(c.err("the int8 weight has no scales")),
        };
        Ok(Some(core_fc::Int8 {
            weights: w.i8_data().ok_or_else(|| c.err("the weight must be int8"))?,
            bias: b.i32_data().ok_or_else(|| c.err("the bias must be int32"))?,
            weight_scales,
            row_sums: self.row_sums.as_deref(),
            activation: q.activation,
            params: FullyConnectedParams {
                input_offset: -px.zero_point,
                output_offset: py.zero_point,
                multiplier: &q.multiplier,
                shift: &q.shift,
                act_min,
                act_max,
                rounding: q.rounding,
            },
        }))
    }
}

impl HostOp for FullyConnected {
    const NAME: &'static str = "fully_connected";
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&["weight", "bias"], &[])
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        let any = a.activation.is_some() || a.rounding.is_some() || a.multiplier.is_some() || a.shift.is_some();
        if !any {
            return Ok(FullyConnected::default());
        }
        let need = |what: &str| format!("an int8 fully_connected needs \"{what}\" in its attrs");
        Ok(FullyConnected {
            int8: Some(Int8Attrs {
                activation: super::parse_fused(a.activation.as_deref().ok_or_else(|| need("activation"))?)?,
                rounding: super::parse_rounding(a.rounding.as_deref().ok_or_else(|| need("rounding"))?)?,
                multiplier: a.multiplier.ok_or_else(|| need("multiplier"))?,
                shift: a.shift.ok_or_else(|| need("shift"))?,
            }),
            row_sums: None,
            prepared: None,
        })
    }

    fn attrs(&self) -> Option<Value> {
        let q = self.int8.as_ref()?;
        super::attrs::to_attrs(&Attrs {
            activation: Some(q.activation.name().to_owned()),
            rounding: Some(q.rounding.name().to_owned()),
            multiplier: Some(q.multiplier.clone()),
            shift: Some(q.shift.clone()),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        c.arity(1)?;
        let (x, y) = (c.input(0)?, c.output());
        let (w, b) = (c.param("weight")?, c.param("bias")?);
        let (i, o) = (x.last(), y.last());
        if x.shape[..x.shape.len() - 1] != y.shape[..y.shape.len() - 1] {
            bail!(c.err(format!("{} and {} differ in their outer dimensions", x.describe(), y.describe())));
        }
        if w.shape != [o as u32, i as u32] || b.shape != [o as u32] {
            bail!(c.err(format!(
                "maps {i} to {o} features, so the weight must be [{o}, {i}] and the bias [{o}]; they are {} and {}",
                w.describe(),
                b.describe()
            )));
        }
        let Some(q) = &self.int8 else {
            if x.dtype != DType::F32 || y.dtype != DType::F32 || w.dtype != DType::F32 || b.dtype != DType::F32 {
                bail!(c.err("an f32 layer has f32 tensors only (int8 ones need the int8 attributes)"));
            }
            return Ok(());
        };
        let staged = self.prepared.is_some();
        let t = if staged { DType::Staged } else { DType::I8 };
        if x.dtype != t || y.dtype != t || w.dtype != DType::I8 || b.dtype != DType::I32 {
            bail!(c.err("an int8 layer has int8 input, output and weight and an int32 bias"));
        }
        let wq = w.i8_data().unwrap_or(&[]);
        if let Some(k) = wq.iter().position(|&v| v == -128) {
            bail!(c.err(format!("weight value {k} is −128; symmetric int8 weights lie in −127..=127")));
        }
        let (px, py) = (c.params_of(x)?, c.params_of(y)?);
        if let Some(p) = w.quant.params().filter(|p| p.zero_point != 0) {
            bail!(c.err(format!(
                "{}'s zero point is {}; int8 weights are symmetric (zero point 0)",
                w.name, p.zero_point
            )));
        }
        let scales = w.quant.scales();
        if !(scales.len() == 1 || scales.len() == o) {
            bail!(c.err(format!("{} weight scales for {o} outputs (expected 1 or {o})", scales.len())));
        }
        if q.multiplier.len() != scales.len() || q.shift.len() != scales.len() {
            bail!(c.err(format!(
                "{} multipliers and {} shifts for {} weight scales",
                q.multiplier.len(),
                q.shift.len(),
                scales.len()
            )));
        }
        for (ch, (want, (&m, &s))) in core_fc::multipliers(px.scale, &scales, py.scale)
            .zip(q.multiplier.iter().zip(&q.shift))
            .enumerate()
        {
            c.derived(
                &format!("channel {ch}'s (multiplier, shift)"),
                (m, s),
                want,
                "its input, weight and output scales",
            )?;
        }
        // The core's own checks of the form the node runs in.
        self.core(c)?
            .check(&Signature::new(&[core_tensor(x)], core_tensor(y)))
            .map_err(|why| c.err(why))
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        if let (Some(Prepared::Packed4 { stream, scales }), Some(q)) = (&self.prepared, &self.int8) {
            let y = c.params_of(c.output())?;
            let (act_min, act_max) = q.activation.clamp(y);
            let layer = PackedDense::try_new(
                c.input(0)?.last(),
                c.output().last(),
                stream,
                scales,
                y.zero_point,
                act_min,
                act_max,
            )
            .map_err(|why| c.err(why))?;
            return Ok(CoreOp::FullyConnected(Core::Packed4(core_fc::Packed {
                layer,
                rounding: q.rounding,
            })));
        }
        if let Some(p) = self.params(c)? {
            return Ok(CoreOp::FullyConnected(Core::Int8(p)));
        }
        let (o, i) = (c.output().last(), c.input(0)?.last());
        Ok(CoreOp::FullyConnected(Core::F32(core_fc::F32 {
            weights: c.f32_param("weight", o * i)?,
            bias: c.f32_param("bias", o)?,
        })))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        train::forward(a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        train::backward(a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &crate::model::Node) -> anyhow::Result<()> {
        quantize::quantize(b, node)
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        emit::from_core(core, b)
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        emit::blob(core, w)
    }

    fn emit_rust(core: &Core<'_>, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        emit::rust(core, w)
    }
}

/// The core's view of a host activation tensor (for checks; the arena
/// offset is irrelevant there).
pub(crate) fn core_tensor(t: &crate::model::Tensor) -> axon_core::graph::Tensor<'static> {
    crate::model::run::core_tensor(t, axon_core::graph::Storage::Arena(0))
}

/// Fills in the weight-row sums of every int8 fully connected layer
/// (derived from the weights, never stored in a model file).
pub fn derive_row_sums(g: &mut crate::model::Graph) {
    for i in 0..g.nodes.len() {
        let sums = {
            let n = &g.nodes[i];
            let crate::ops::Op::FullyConnected(f) = &n.op else { continue };
            if f.int8.is_none() {
                continue;
            }
            let Some(w) = n.param("weight").map(|t| &g.tensors[t]) else { continue };
            let (Some(d), Some(&cols)) = (w.i8_data(), w.shape.get(1)) else { continue };
            d.chunks_exact(cols.max(1) as usize)
                .map(|r| r.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32)))
                .collect::<Vec<i32>>()
        };
        if let crate::ops::Op::FullyConnected(f) = &mut g.nodes[i].op {
            f.row_sums = Some(sums);
        }
    }
}
