//! `relu` on the host: f32, or int8 as TFLite's `ReluQuantized` with the
//! attributes `rounding` and the derived `multiplier`/`shift` of
//! `input_scale / output_scale`. (The quantizer fuses a ReLU into the
//! fully connected layer or add before it where it can.)

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::relu::{record, Relu as Core, ReluInt8};
use axon_core::ops::{Op as CoreOp, Signature};
use axon_core::quant::{quantize_multiplier, Rounding};
use axon_core::Activation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

/// The int8 attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Attrs {
    /// How the rescaling rounds.
    pub rounding: Rounding,
    /// Q31 multiplier of `input_scale / output_scale` (derived).
    pub multiplier: i32,
    /// Its shift (derived).
    pub shift: i32,
}

/// ReLU, f32 or int8.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Relu {
    /// The int8 attributes; `None` for f32.
    pub int8: Option<Int8Attrs>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rounding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multiplier: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shift: Option<i32>,
}

impl Relu {
    fn int8<'a>(&self, c: &Ctx<'a>) -> anyhow::Result<Option<ReluInt8>> {
        let Some(q) = &self.int8 else { return Ok(None) };
        let (px, py) = (c.params_of(c.input(0)?)?, c.params_of(c.output())?);
        Ok(Some(ReluInt8 {
            multiplier: q.multiplier,
            shift: q.shift,
            input_zero_point: px.zero_point,
            output_zero_point: py.zero_point,
            act_min: py.zero_point.clamp(-128, 127) as i8,
            act_max: 127,
            rounding: q.rounding,
        }))
    }
}

impl HostOp for Relu {
    const NAME: &'static str = "relu";
    const ACTIVATION: Option<super::Init> = Some(super::Init::He);
    type Core<'a> = Core;

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        match (a.rounding, a.multiplier, a.shift) {
            (None, None, None) => Ok(Relu { int8: None }),
            (Some(r), Some(m), Some(s)) => Ok(Relu {
                int8: Some(Int8Attrs {
                    rounding: super::parse_rounding(&r)?,
                    multiplier: m,
                    shift: s,
                }),
            }),
            _ => Err("an int8 relu needs \"rounding\", \"multiplier\" and \"shift\"".into()),
        }
    }

    fn attrs(&self) -> Option<Value> {
        let q = self.int8.as_ref()?;
        super::attrs::to_attrs(&Attrs {
            rounding: Some(q.rounding.name().into()),
            multiplier: Some(q.multiplier),
            shift: Some(q.shift),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        let Some(q) = &self.int8 else {
            return c.unary(DType::F32).map(|_| ());
        };
        let (x, y) = c.unary(DType::I8)?;
        let (px, py) = (c.params_of(x)?, c.params_of(y)?);
        c.derived(
            "(multiplier, shift)",
            (q.multiplier, q.shift),
            quantize_multiplier(px.scale as f64 / py.scale as f64),
            "its input and output scales",
        )?;
        if let Some(p) = self.int8(c)? {
            CoreOp::Relu(Core::Int8(p))
                .check(&Signature::new(
                    &[super::fully_connected::core_tensor(x)],
                    super::fully_connected::core_tensor(y),
                ))
                .map_err(|why| c.err(why))?;
        } else {
            bail!(c.err("int8 attributes without int8 tensors"));
        }
        Ok(())
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::Relu(match self.int8(c)? {
            Some(p) => Core::Int8(p),
            None => Core::F32,
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        super::activation::forward(&Activation::Relu, a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        super::activation::backward(&Activation::Relu, a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let x = b.twin(node.inputs[0])?;
        let (px, py) = (b.params(x), b.calibrated(node.output));
        let (multiplier, shift) = quantize_multiplier(px.scale as f64 / py.scale as f64);
        let y = b.activation(node.output, py);
        let op = Relu {
            int8: Some(Int8Attrs {
                rounding: b.rounding(),
                multiplier,
                shift,
            }),
        };
        b.node(&node.name, super::Op::Relu(op), vec![x], y, vec![]);
        Ok(())
    }

    fn from_core(core: &Core, _b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        Ok(Relu {
            int8: match core {
                Core::F32 => None,
                Core::Int8(p) => Some(Int8Attrs {
                    rounding: p.rounding,
                    multiplier: p.multiplier,
                    shift: p.shift,
                }),
            },
        })
    }

    fn emit_blob(core: &Core, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        if let Core::Int8(p) = core {
            w.u8(record::VARIANT, 1);
            w.u8(record::ROUNDING, p.rounding as u8);
            w.i32(record::MULTIPLIER, p.multiplier);
            w.i32(record::SHIFT, p.shift);
            w.i32(record::INPUT_ZERO_POINT, p.input_zero_point);
            w.i32(record::OUTPUT_ZERO_POINT, p.output_zero_point);
            w.u8(record::ACT_MIN, p.act_min as u8);
            w.u8(record::ACT_MAX, p.act_max as u8);
        }
        Ok(())
    }

    fn emit_rust(core: &Core, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        Ok(match core {
            Core::F32 => RustOp {
                ty: format!("{c}::ops::relu::Relu"),
                value: format!("{c}::ops::relu::Relu::F32"),
                op: format!("{c}::ops::Op::Relu({{p}})"),
                call: format!("{c}::ops::relu::relu_f32({{x0}}, {{y}})"),
                fallible: false,
            },
            Core::Int8(p) => RustOp {
                ty: format!("{c}::ops::relu::ReluInt8"),
                value: format!(
                    "{c}::ops::relu::ReluInt8 {{ multiplier: {}, shift: {}, input_zero_point: {}, output_zero_point: {}, act_min: {}, act_max: {}, rounding: {} }}",
                    p.multiplier, p.shift, p.input_zero_point, p.output_zero_point, p.act_min, p.act_max, w.rounding(p.rounding)
                ),
                op: format!("{c}::ops::Op::Relu({c}::ops::relu::Relu::Int8({{p}}))"),
                call: format!("{c}::ops::relu::relu_i8(&{{p}}, {{x0}}, {{y}})"),
                fallible: false,
            },
        })
    }
}
