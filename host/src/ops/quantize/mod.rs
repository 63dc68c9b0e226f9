//! `quantize` on the host: f32 to int8 codes with the output tensor's
//! parameters, optionally after the model's input standardisation (fused:
//! parameters `mean` and `std`). The quantizer puts one at each f32 input
//! of an int8 graph.

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::quantize::{record, Quantize as Core};
use axon_core::ops::standardize::Standardize;
use axon_core::ops::{Op as CoreOp, Signature};
use serde_json::Value;

use super::{Ctx, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};

/// Quantize (no attributes; the fused standardisation is its parameters).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quantize;

impl HostOp for Quantize {
    const NAME: &'static str = "quantize";
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&[], &["mean", "std"])
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        super::attrs::from_attrs::<super::attrs::None>(attrs).map(|_| Quantize)
    }

    fn attrs(&self) -> Option<Value> {
        None
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        c.arity(1)?;
        let (x, y) = (c.input(0)?, c.output());
        if x.dtype != DType::F32 || !matches!(y.dtype, DType::I8 | DType::Staged) {
            bail!(c.err(format!("turns f32 into int8; it reads {} and writes {}", x.describe(), y.describe())));
        }
        if x.shape != y.shape {
            bail!(c.err("input and output differ in shape"));
        }
        c.params_of(y)?;
        if c.optional("mean").is_some() != c.optional("std").is_some() {
            bail!(c.err("a fused standardisation needs both \"mean\" and \"std\""));
        }
        if c.optional("mean").is_some() {
            c.f32_param("mean", x.last())?;
            let std = c.f32_param("std", x.last())?;
            if let Some(i) = std.iter().position(|s| s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)) {
                bail!(c.err(format!("std[{i}] = {} must be positive", std[i])));
            }
        }
        Ok(())
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        let d = c.input(0)?.last();
        let standardize = match c.optional("mean") {
            Some(_) => Some(Standardize {
                mean: c.f32_param("mean", d)?,
                std: c.f32_param("std", d)?,
            }),
            None => None,
        };
        Ok(CoreOp::Quantize(Core { standardize }))
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        if let Some(s) = &core.standardize {
            let n = vec![s.mean.len() as u32];
            b.param("mean", n.clone(), crate::model::Data::F32(s.mean.to_vec()), crate::model::Quant::None);
            b.param("std", n, crate::model::Data::F32(s.std.to_vec()), crate::model::Quant::None);
        }
        Ok(Quantize)
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        if let Some(s) = &core.standardize {
            w.u32(record::FEATURES, s.mean.len() as u32);
            w.f32s(record::MEAN, s.mean);
            w.f32s(record::STD, s.std);
        }
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let s = match &core.standardize {
            Some(s) => format!("Some({})", super::standardize::emit_standardize(s, w)),
            None => "None".to_owned(),
        };
        let y = sig.output;
        let f = if y.dtype == DType::Staged { "quantize_staged" } else { "quantize_i8" };
        let q = w.quant(y.params().unwrap_or(axon_core::quant::QuantParams::new(1.0, 0)));
        Ok(RustOp {
            ty: format!("{c}::ops::quantize::Quantize<'static>"),
            value: format!("{c}::ops::quantize::Quantize {{ standardize: {s} }}"),
            op: format!("{c}::ops::Op::Quantize({{p}})"),
            call: format!("{c}::ops::quantize::{f}({{x0}}, {{p}}.standardize.as_ref(), {q}, {{y}})"),
            fallible: false,
        })
    }
}
