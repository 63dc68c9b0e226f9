//! `add` on the host: the element-wise sum of two tensors of one shape (a
//! residual connection). f32: no attributes. int8 (TFLite's ADD):
//! attributes `activation` (fused: none, relu, relu6), `rounding`, and the
//! derived `left_shift` (20), input and output multipliers and shifts,
//! recomputed from the three tensors' scales by the checks.
//!
//! Both TensorFlow Lite 2.21's reference ADD and TensorFlow Lite Micro
//! round twice (gemmlowp) — even where the interpreter's fully connected
//! layer rounds once — so the quantizer gives every add double rounding
//! (`tools/tflite/README.md`, the ADD vectors).

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::add::{record, Add as Core, AddInt8};
use axon_core::ops::{Fused, Op as CoreOp, Signature};
use axon_core::quant::Rounding;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

mod train;

/// Add, f32 or int8.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Add {
    /// The int8 parameters; `None` for f32.
    pub int8: Option<AddInt8>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rounding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    left_shift: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input1_multiplier: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input1_shift: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input2_multiplier: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input2_shift: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_multiplier: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_shift: Option<i32>,
}

impl HostOp for Add {
    const NAME: &'static str = "add";
    type Core<'a> = Core;

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        let Some(act) = a.activation else {
            if a.rounding.is_some() || a.input1_multiplier.is_some() {
                return Err("an int8 add needs \"activation\"".into());
            }
            return Ok(Add { int8: None });
        };
        let need = |v: Option<i32>, k: &str| v.ok_or_else(|| format!("an int8 add needs \"{k}\""));
        Ok(Add {
            int8: Some(AddInt8 {
                // Offsets and the clamp come from the tensors (filled by the checks' view).
                input1_offset: 0,
                input2_offset: 0,
                output_offset: 0,
                left_shift: a.left_shift.ok_or("an int8 add needs \"left_shift\"")?,
                input1: (need(a.input1_multiplier, "input1_multiplier")?, need(a.input1_shift, "input1_shift")?),
                input2: (need(a.input2_multiplier, "input2_multiplier")?, need(a.input2_shift, "input2_shift")?),
                output: (need(a.output_multiplier, "output_multiplier")?, need(a.output_shift, "output_shift")?),
                activation: super::parse_fused(&act)?,
                act_min: -128,
                act_max: 127,
                rounding: super::parse_rounding(a.rounding.as_deref().ok_or("an int8 add needs \"rounding\"")?)?,
            }),
        })
    }

    fn attrs(&self) -> Option<Value> {
        let p = self.int8.as_ref()?;
        super::attrs::to_attrs(&Attrs {
            activation: Some(p.activation.name().into()),
            rounding: Some(p.rounding.name().into()),
            left_shift: Some(p.left_shift),
            input1_multiplier: Some(p.input1.0),
            input1_shift: Some(p.input1.1),
            input2_multiplier: Some(p.input2.0),
            input2_shift: Some(p.input2.1),
            output_multiplier: Some(p.output.0),
            output_shift: Some(p.output.1),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        c.arity(2)?;
        let (a, b, y) = (c.input(0)?, c.input(1)?, c.output());
        if a.shape != y.shape || b.shape != y.shape {
            bail!(c.err(format!(
                "adds {} and {} into {}: the three shapes must be equal",
                a.describe(),
                b.describe(),
                y.describe()
            )));
        }
        let Some(p) = &self.int8 else {
            if [a, b, y].iter().any(|t| t.dtype != DType::F32) {
                bail!(c.err("an f32 add has f32 tensors (an int8 one needs its int8 attributes)"));
            }
            return Ok(());
        };
        let want = AddInt8::derive(
            c.params_of(a)?,
            c.params_of(b)?,
            c.params_of(y)?,
            p.activation,
            p.rounding,
        );
        c.derived("left_shift", p.left_shift, want.left_shift, "TFLite's int8 add")?;
        c.derived("input1's (multiplier, shift)", p.input1, want.input1, "the input and output scales")?;
        c.derived("input2's (multiplier, shift)", p.input2, want.input2, "the input and output scales")?;
        c.derived("the output's (multiplier, shift)", p.output, want.output, "the input and output scales")?;
        let core = self.core(c)?;
        core.check(&Signature::new(
            &[super::fully_connected::core_tensor(a), super::fully_connected::core_tensor(b)],
            super::fully_connected::core_tensor(y),
        ))
        .map_err(|why| c.err(why))
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        let Some(p) = &self.int8 else {
            return Ok(CoreOp::Add(Core::F32));
        };
        let (pa, pb, py) = (
            c.params_of(c.input(0)?)?,
            c.params_of(c.input(1)?)?,
            c.params_of(c.output())?,
        );
        let (act_min, act_max) = p.activation.clamp(py);
        Ok(CoreOp::Add(Core::Int8(AddInt8 {
            input1_offset: -pa.zero_point,
            input2_offset: -pb.zero_point,
            output_offset: py.zero_point,
            act_min,
            act_max,
            ..*p
        })))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        train::forward(a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        train::backward(a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let (x1, x2) = (b.twin(node.inputs[0])?, b.twin(node.inputs[1])?);
        // A ReLU right after the add is fused into its clamp.
        let (activation, out) = match b.fold_relu(node) {
            Some(relu_out) => (Fused::Relu, relu_out),
            None => (Fused::None, node.output),
        };
        let py = b.calibrated(out);
        let p = AddInt8::derive(b.params(x1), b.params(x2), py, activation, Rounding::Double);
        // As parsed from a file: the offsets and clamp come from the tensors (`core`).
        let p = AddInt8 {
            input1_offset: 0,
            input2_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            ..p
        };
        let y = b.activation(out, py);
        b.node(&node.name, super::Op::Add(Add { int8: Some(p) }), vec![x1, x2], y, vec![]);
        Ok(())
    }

    fn from_core(core: &Core, _b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        Ok(Add {
            int8: match core {
                Core::F32 => None,
                Core::Int8(p) => Some(AddInt8 {
                    input1_offset: 0,
                    input2_offset: 0,
                    output_offset: 0,
                    act_min: -128,
                    act_max: 127,
                    ..*p
                }),
            },
        })
    }

    fn emit_blob(core: &Core, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        if let Core::Int8(p) = core {
            w.u8(record::VARIANT, 1);
            w.u8(record::ACTIVATION, p.activation as u8);
            w.u8(record::ROUNDING, p.rounding as u8);
            w.u8(record::ACT_MIN, p.act_min as u8);
            w.u8(record::ACT_MAX, p.act_max as u8);
            w.u16(record::HEADROOM, p.left_shift as u16);
            w.i32(record::INPUT1_OFFSET, p.input1_offset);
            w.i32(record::INPUT2_OFFSET, p.input2_offset);
            w.i32(record::OUTPUT_OFFSET, p.output_offset);
            w.i32(record::INPUT1_MULTIPLIER, p.input1.0);
            w.i32(record::INPUT1_SHIFT, p.input1.1);
            w.i32(record::INPUT2_MULTIPLIER, p.input2.0);
            w.i32(record::INPUT2_SHIFT, p.input2.1);
            w.i32(record::OUTPUT_MULTIPLIER, p.output.0);
            w.i32(record::OUTPUT_SHIFT, p.output.1);
        }
        Ok(())
    }

    fn emit_rust(core: &Core, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        Ok(match core {
            Core::F32 => RustOp {
                ty: format!("{c}::ops::add::Add"),
                value: format!("{c}::ops::add::Add::F32"),
                op: format!("{c}::ops::Op::Add({{p}})"),
                call: format!("{c}::ops::add::add_f32({{x0}}, {{x1}}, {{y}})"),
                fallible: false,
            },
            Core::Int8(p) => RustOp {
                ty: format!("{c}::ops::add::AddInt8"),
                value: format!(
                    "{c}::ops::add::AddInt8 {{ input1_offset: {}, input2_offset: {}, output_offset: {}, left_shift: {}, input1: ({}, {}), input2: ({}, {}), output: ({}, {}), activation: {}, act_min: {}, act_max: {}, rounding: {} }}",
                    p.input1_offset, p.input2_offset, p.output_offset, p.left_shift,
                    p.input1.0, p.input1.1, p.input2.0, p.input2.1, p.output.0, p.output.1,
                    w.fused(p.activation), p.act_min, p.act_max, w.rounding(p.rounding)
                ),
                op: format!("{c}::ops::Op::Add({c}::ops::add::Add::Int8({{p}}))"),
                call: format!("{c}::ops::add::add_i8(&{{p}}, {{x0}}, {{x1}}, {{y}})"),
                fallible: false,
            },
        })
    }
}
