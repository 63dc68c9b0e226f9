//! `standardize` on the host: per-feature `(x − mean) / std`, the input
//! preprocessing computed on the training split. Parameters `mean` and
//! `std`, one per feature (the innermost dimension).

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::standardize::{record, Standardize as Core};
use axon_core::ops::{Op as CoreOp, Signature};
use serde_json::Value;

use super::{Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::train::Real;

mod train;

/// Standardize (no attributes).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Standardize;

impl HostOp for Standardize {
    const NAME: &'static str = "standardize";
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&["mean", "std"], &[])
    }

    fn trainable(&self) -> &'static [&'static str] {
        &[]
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        super::attrs::from_attrs::<super::attrs::None>(attrs).map(|_| Standardize)
    }

    fn attrs(&self) -> Option<Value> {
        None
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        let (x, _) = c.unary(DType::F32)?;
        let d = x.last();
        c.f32_param("mean", d)?;
        let std = c.f32_param("std", d)?;
        if let Some(i) = std.iter().position(|s| s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)) {
            bail!(c.err(format!("std[{i}] = {} must be positive", std[i])));
        }
        Ok(())
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        let d = c.input(0)?.last();
        Ok(CoreOp::Standardize(Core {
            mean: c.f32_param("mean", d)?,
            std: c.f32_param("std", d)?,
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        train::forward(a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        train::backward(a, y, dy, g)
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        let n = vec![core.mean.len() as u32];
        b.param("mean", n.clone(), crate::model::Data::F32(core.mean.to_vec()), crate::model::Quant::None);
        b.param("std", n, crate::model::Data::F32(core.std.to_vec()), crate::model::Quant::None);
        Ok(Standardize)
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        w.u32(record::FEATURES, core.mean.len() as u32);
        w.f32s(record::MEAN, core.mean);
        w.f32s(record::STD, core.std);
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        Ok(RustOp {
            ty: format!("{c}::ops::standardize::Standardize<'static>"),
            value: emit_standardize(core, w),
            op: format!("{c}::ops::Op::Standardize({{p}})"),
            call: format!("{c}::ops::standardize::standardize(&{{p}}, {{x0}}, {{y}})"),
            fallible: false,
        })
    }
}

/// The core standardisation as a Rust expression (shared with `quantize`).
pub fn emit_standardize(s: &Core<'_>, w: &mut RustWriter) -> String {
    let n = s.mean.len();
    let mean = w.f32s("MEAN", s.mean, &format!("Standardisation means, `({n},)`."));
    let std = w.f32s("STD", s.std, &format!("Standardisation deviations, `({n},)`."));
    format!(
        "{}::ops::standardize::Standardize {{ mean: &{mean}, std: &{std} }}",
        w.core()
    )
}
