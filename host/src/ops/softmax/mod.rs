//! `softmax` on the host, along the innermost dimension. f32 (no
//! attributes, or `beta` 1); int8 as TFLite's reference kernel, attributes
//! `beta` and the derived `input_multiplier`, `input_left_shift`,
//! `diff_min` (recomputed from `beta` and the input scale by the checks),
//! output parameters fixed at (1/256, −128).

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::softmax::{record, Softmax as Core, SoftmaxTable};
use axon_core::ops::{Op as CoreOp, Signature};
use axon_core::quant::softmax::{exp_table_len, softmax_exp_table, SOFTMAX_OUTPUT};
use axon_core::quant::SoftmaxParams;
use axon_core::Activation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

/// Softmax.
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    /// `beta` (1 for a plain softmax).
    pub beta: f32,
    /// The int8 parameters; `None` for f32.
    pub int8: Option<SoftmaxParams>,
    /// The exponential table of `int8` without its trailing zeros
    /// (derived; never in a model file).
    pub exp_table: Vec<i32>,
    /// The trimmed form (prepared for a microcontroller: the table's head
    /// and the sum terms of its tail).
    pub trimmed: Option<(Vec<i32>, Vec<u16>)>,
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax {
            beta: 1.0,
            int8: None,
            exp_table: Vec::new(),
            trimmed: None,
        }
    }
}

impl Softmax {
    /// The int8 softmax with `params` (its table derived).
    pub fn int8(beta: f32, params: SoftmaxParams) -> Self {
        let full = softmax_exp_table(&params);
        Softmax {
            beta,
            int8: Some(params),
            exp_table: full[..exp_table_len(&full)].to_vec(),
            trimmed: None,
        }
    }

    /// Prepares the trimmed form.
    pub fn trim(&mut self) {
        let t = &self.exp_table;
        let h = SoftmaxTable::head_len(t);
        self.trimmed = Some((t[..h].to_vec(), SoftmaxTable::tail_terms(t).collect()));
    }
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beta: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_multiplier: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_left_shift: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    diff_min: Option<i32>,
}

impl HostOp for Softmax {
    const NAME: &'static str = "softmax";
    type Core<'a> = Core<'a>;

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        let beta = a.beta.unwrap_or(1.0);
        match (a.input_multiplier, a.input_left_shift, a.diff_min) {
            (None, None, None) => Ok(Softmax { beta, ..Default::default() }),
            (Some(m), Some(s), Some(d)) => {
                let p = SoftmaxParams {
                    input_multiplier: m,
                    input_left_shift: s,
                    diff_min: d,
                };
                if !p.is_valid() {
                    return Err(format!("int8 softmax parameters out of range: {p:?}"));
                }
                Ok(Softmax::int8(beta, p))
            }
            _ => Err("an int8 softmax needs \"input_multiplier\", \"input_left_shift\" and \"diff_min\"".into()),
        }
    }

    fn attrs(&self) -> Option<Value> {
        let p = self.int8;
        super::attrs::to_attrs(&Attrs {
            beta: (p.is_some() || self.beta != 1.0).then_some(self.beta),
            input_multiplier: p.map(|p| p.input_multiplier),
            input_left_shift: p.map(|p| p.input_left_shift),
            diff_min: p.map(|p| p.diff_min),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        let Some(p) = self.int8 else {
            c.unary(DType::F32)?;
            if self.beta != 1.0 {
                bail!(c.err("an f32 softmax has beta 1"));
            }
            return Ok(());
        };
        let (x, y) = c.unary(DType::I8)?;
        let px = c.params_of(x)?;
        c.derived("the output's quantization", c.params_of(y)?, SOFTMAX_OUTPUT, "TFLite's int8 softmax")?;
        let want = SoftmaxParams::from_input_scale(px.scale, self.beta as f64)
            .ok_or_else(|| c.err(format!("beta · input scale {} is out of TFLite's range", px.scale)))?;
        c.derived("(input_multiplier, input_left_shift, diff_min)", p, want, "its beta and input scale")?;
        Ok(())
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        if let Some((head, tail)) = &self.trimmed {
            if head.first() != Some(&i32::MAX) || head.len() + tail.len() > 256 {
                bail!(c.err("a malformed trimmed table"));
            }
            return Ok(CoreOp::Softmax(Core::Trimmed(SoftmaxTable::new(head, tail))));
        }
        Ok(CoreOp::Softmax(match self.int8 {
            None => Core::F32,
            Some(params) => Core::Int8 {
                beta: self.beta,
                params,
                exp_table: (!self.exp_table.is_empty()).then_some(self.exp_table.as_slice()),
            },
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        super::activation::forward(&Activation::Softmax, a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        super::activation::backward(&Activation::Softmax, a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let x = b.twin(node.inputs[0])?;
        let px = b.params(x);
        let p = SoftmaxParams::from_input_scale(px.scale, self.beta as f64).ok_or_else(|| {
            anyhow::anyhow!(
                "node {}: the input scale {} is too small for TFLite's int8 softmax",
                node.name,
                px.scale
            )
        })?;
        let y = b.activation(node.output, SOFTMAX_OUTPUT);
        b.node(&node.name, super::Op::Softmax(Softmax::int8(self.beta, p)), vec![x], y, vec![]);
        Ok(())
    }

    fn from_core(core: &Core<'_>, _b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        match core {
            Core::F32 => Ok(Softmax::default()),
            Core::Int8 { beta, params, .. } => Ok(Softmax::int8(*beta, *params)),
            Core::Trimmed(_) => bail!("a trimmed softmax is a prepared form; it has no model-file form"),
        }
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        match core {
            Core::F32 => {}
            Core::Int8 {
                beta,
                params,
                exp_table,
            } => {
                w.u8(record::VARIANT, 1);
                w.f32(record::BETA, *beta);
                w.i32(record::INPUT_MULTIPLIER, params.input_multiplier);
                w.i32(record::INPUT_LEFT_SHIFT, params.input_left_shift);
                w.i32(record::DIFF_MIN, params.diff_min);
                if let Some(t) = exp_table {
                    w.u32(record::TABLE_LEN, t.len() as u32);
                    w.i32s(record::TABLE, t);
                }
            }
            Core::Trimmed(_) => bail!("the trimmed softmax has no blob record (export the int8 form)"),
        }
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let d = sig.output.shape.last();
        let ty = format!("{c}::ops::softmax::Softmax<'static>");
        let op = format!("{c}::ops::Op::Softmax({{p}})");
        Ok(match core {
            Core::F32 => RustOp {
                ty,
                value: format!("{c}::ops::softmax::Softmax::F32"),
                op,
                call: format!("{c}::ops::softmax::softmax_rows_f32({d}, {{x0}}, {{y}})"),
                fallible: false,
            },
            Core::Int8 {
                beta,
                params,
                exp_table,
            } => {
                let table = match exp_table {
                    Some(t) => format!("Some(&{})", w.i32s("EXP", t, "Exponentials of the differences from the row maximum, Q0.31.")),
                    None => "None".into(),
                };
                RustOp {
                    ty,
                    value: format!(
                        "{c}::ops::softmax::Softmax::Int8 {{ beta: {}, params: {c}::quant::SoftmaxParams {{ input_multiplier: {}, input_left_shift: {}, diff_min: {} }}, exp_table: {table} }}",
                        w.f32_lit(*beta), params.input_multiplier, params.input_left_shift, params.diff_min
                    ),
                    op,
                    call: format!("{{p}}.run_i8({d}, {{x0}}, {{y}})"),
                    fallible: false,
                }
            }
            Core::Trimmed(t) => {
                let head = w.i32s("HEAD", t.head(), "The softmax table's head: exponentials that can move an output, Q0.31.");
                let tail = w.u16s("TAIL", t.tail(), "The rest of the table: their terms in the sum only.");
                RustOp {
                    ty: format!("{c}::ops::softmax::SoftmaxTable<'static>"),
                    value: format!("{c}::ops::softmax::SoftmaxTable::new(&{head}, &{tail})"),
                    op: format!("{c}::ops::Op::Softmax({c}::ops::softmax::Softmax::Trimmed({{p}}))"),
                    call: format!("{c}::ops::softmax::softmax_trimmed(&{{p}}, {{x0}}, {{y}})"),
                    fallible: false,
                }
            }
        })
    }
}
