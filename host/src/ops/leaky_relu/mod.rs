//! `leaky_relu` on the host. Attribute `alpha`, the slope for negative
//! inputs (PyTorch's `negative_slope`). f32, or int8 by table.

use axon_core::ops::leaky_relu::LeakyRelu as Core;
use axon_core::ops::{Op as CoreOp, Signature};
use axon_core::Activation;
use serde_json::Value;

use super::{lut, Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

/// PyTorch's default slope.
pub const DEFAULT_ALPHA: f32 = 0.01;

/// Leaky ReLU with its slope.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub alpha: f32,
}

impl LeakyRelu {
    /// With slope `alpha`.
    pub fn f32(alpha: f32) -> Self {
        LeakyRelu { alpha }
    }
}

impl HostOp for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    const ACTIVATION: Option<super::Init> = Some(super::Init::He);
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        lut::ROLES
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let alpha = lut::parse_alpha(attrs, DEFAULT_ALPHA)?;
        Ok(LeakyRelu { alpha })
    }

    fn attrs(&self) -> Option<Value> {
        lut::alpha_attrs(self.alpha)
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        let a = self.alpha;
        lut::check_alpha(c, a, &move |v| axon_core::activations::leaky_relu(v, a))
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::LeakyRelu(Core {
            alpha: self.alpha,
            table: lut::table_of(c)?,
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        super::activation::forward(&Activation::LeakyRelu { alpha: self.alpha }, a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        super::activation::backward(&Activation::LeakyRelu { alpha: self.alpha }, a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let a = self.alpha;
        lut::quantize(b, node, &move |v| axon_core::activations::leaky_relu(v, a), None)
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        lut::table_from_core(core.table, b);
        Ok(LeakyRelu { alpha: core.alpha })
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        lut::emit_blob(core.table, 0, core.alpha, w);
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let alpha = w.f32_lit(core.alpha);
        Ok(lut::emit_rust(
            "leaky_relu",
            "LeakyRelu",
            format!("{c}::ops::leaky_relu::LeakyRelu {{ alpha: {alpha}, table: None }}"),
            |t| format!("{c}::ops::leaky_relu::LeakyRelu {{ alpha: {alpha}, table: Some(&{t}) }}"),
            "{p}.run_f32({x0}, {y})".into(),
            core.table,
            w,
        ))
    }
}
