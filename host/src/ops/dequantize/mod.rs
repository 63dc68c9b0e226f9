//! `dequantize` on the host: int8 codes to f32 with the input tensor's
//! parameters. The quantizer puts one at each f32 output of an int8 graph.

use axon_core::graph::DType;
use axon_core::ops::dequantize::{record, Dequantize as Core};
use axon_core::ops::{Op as CoreOp, Signature};
use serde_json::Value;

use super::{Ctx, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};

/// Dequantize (no attributes).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dequantize;

impl HostOp for Dequantize {
    const NAME: &'static str = "dequantize";
    type Core<'a> = Core;

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        super::attrs::from_attrs::<super::attrs::None>(attrs).map(|_| Dequantize)
    }

    fn attrs(&self) -> Option<Value> {
        None
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        c.arity(1)?;
        let (x, y) = (c.input(0)?, c.output());
        let staged_vector = x.dtype == DType::Staged && x.shape.len() == 1;
        if !(x.dtype == DType::I8 || staged_vector) || y.dtype != DType::F32 || x.shape != y.shape {
            anyhow::bail!(c.err(format!(
                "turns int8 (or a staged vector) into f32 of the same shape; it reads {} and writes {}",
                x.describe(),
                y.describe()
            )));
        }
        c.params_of(x).map(|_| ())
    }

    fn core<'a>(&'a self, _c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::Dequantize(Core))
    }

    fn from_core(_core: &Core, _b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        Ok(Dequantize)
    }

    fn emit_blob(_core: &Core, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        Ok(())
    }

    fn emit_rust(_core: &Core, sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let x = sig.input(0).map_err(anyhow::Error::msg)?;
        let q = w.quant(x.params().unwrap_or(axon_core::quant::QuantParams::new(1.0, 0)));
        let f = if x.dtype == DType::Staged { "dequantize_staged" } else { "dequantize" };
        Ok(RustOp {
            ty: format!("{c}::ops::dequantize::Dequantize"),
            value: format!("{c}::ops::dequantize::Dequantize"),
            op: format!("{c}::ops::Op::Dequantize({{p}})"),
            call: format!("{c}::ops::dequantize::{f}({{x0}}, {q}, {{y}})"),
            fallible: false,
        })
    }
}
