//! `gelu` on the host. Attribute `approximate`: `"none"` (the exact erf
//! form, PyTorch's default) or `"tanh"`. f32, or int8 by table.

use axon_core::ops::gelu::Gelu as Core;
use axon_core::ops::{Op as CoreOp, Signature};
use axon_core::Activation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod train;

use super::{lut, Args, Ctx, Grads, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::Node;
use crate::quantize::Builder;
use crate::train::Real;

/// GELU, in one of its two forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Gelu {
    /// The tanh approximation (else the erf form).
    pub tanh: bool,
}

impl Gelu {
    /// The f32 op in the tanh form (`true`) or the erf form.
    pub fn f32(tanh: bool) -> Self {
        Gelu { tanh }
    }

    fn act(&self) -> Activation {
        if self.tanh {
            Activation::GeluTanh
        } else {
            Activation::GeluErf
        }
    }

    fn f(&self) -> fn(f32) -> f32 {
        if self.tanh {
            axon_core::activations::gelu_tanh
        } else {
            axon_core::activations::gelu_erf
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Attrs {
    approximate: String,
}

impl HostOp for Gelu {
    const NAME: &'static str = "gelu";
    const ACTIVATION: Option<super::Init> = Some(super::Init::He);
    type Core<'a> = Core<'a>;

    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        lut::ROLES
    }

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        match a.approximate.as_str() {
            "tanh" => Ok(Gelu { tanh: true }),
            "none" => Ok(Gelu { tanh: false }),
            other => Err(format!("\"approximate\" is \"{other}\", expected \"none\" or \"tanh\"")),
        }
    }

    fn attrs(&self) -> Option<Value> {
        super::attrs::to_attrs(&Attrs {
            approximate: if self.tanh { "tanh" } else { "none" }.into(),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        lut::check(c, &self.f(), None)
    }

    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::Gelu(Core {
            tanh: self.tanh,
            table: lut::table_of(c)?,
        }))
    }

    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        super::activation::forward(&self.act(), a, y)
    }

    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        super::activation::backward(&self.act(), a, y, dy, g)
    }

    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        lut::quantize(b, node, &self.f(), None)
    }

    fn from_core(core: &Core<'_>, b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        lut::table_from_core(core.table, b);
        Ok(Gelu { tanh: core.tanh })
    }

    fn emit_blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        lut::emit_blob(core.table, u8::from(core.tanh), 0.0, w);
        Ok(())
    }

    fn emit_rust(core: &Core<'_>, _sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let tanh = core.tanh;
        Ok(lut::emit_rust(
            "gelu",
            "Gelu",
            format!("{c}::ops::gelu::Gelu {{ tanh: {tanh}, table: None }}"),
            |t| format!("{c}::ops::gelu::Gelu {{ tanh: {tanh}, table: Some(&{t}) }}"),
            "{p}.run_f32({x0}, {y})".into(),
            core.table,
            w,
        ))
    }
}
