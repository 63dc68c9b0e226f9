//! `elu` on the host. Attribute `alpha` (PyTorch's, default 1.0; absent
//! means the default). f32, or int8 by table; training forward and
//! backward in [`train`].

use axon_core::ops::elu::{elu, Elu as Core, DEFAULT_ALPHA};
use axon_core::ops::{Op as CoreOp, Signature};
use serde_json::Value;

use super::{lut, Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

mod train;

/// ELU with its `alpha`.
#[derive(Debug, Clone, PartialEq)]
pub struct Elu {
    /// The scale of the negative side.
    pub alpha: f32,
}

impl Default for Elu {
    fn default() -> Self {
        Elu {
            alpha: DEFAULT_ALPHA,
        }
    }
}

impl HostOp for Elu {
    const NAME: &'static str = "elu";
    const ACTIVATION: Option<super::Init> = Some(super::Init::He);
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        lut::ROLES
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let alpha = lut::parse_alpha(attrs, DEFAULT_ALPHA)?;
        Ok(Elu { alpha })
    }

    fn attrs(&self) -> Option<Value> {
        lut::alpha_attrs(self.alpha)
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        let a = self.alpha;
        lut::check_alpha(c, a, &move |v| elu(v, a))
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::Elu(Core {
            alpha: self.alpha,
            table: lut::table_of(c)?,
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        train::forward(T::from_f64(self.alpha as f64), a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        train::backward(T::from_f64(self.alpha as f64), a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let a = self.alpha;
        lut::quantize(b, node, &move |v| elu(v, a), None)
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        lut::table_from_core(core.table, b);
        Ok(Elu { alpha: core.alpha })
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        lut::emit_blob(core.table, 0, core.alpha, w);
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let alpha = w.f32_lit(core.alpha);
        Ok(lut::emit_rust(
            "elu",
            "Elu",
            format!("{c}::ops::elu::Elu {{ alpha: {alpha}, table: None }}"),
            |t| format!("{c}::ops::elu::Elu {{ alpha: {alpha}, table: Some(&{t}) }}"),
            "{p}.run_f32({x0}, {y})".into(),
            core.table,
            w,
        ))
    }
}
