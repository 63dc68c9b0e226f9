//! `layout` on the host: the exporter's conversion between plain int8
//! codes and the packed layer's staged form, inserted where a packed fully
//! connected layer meets an op that reads or writes plain codes. Attribute
//! `direction`: `"stage"` or `"unstage"`.

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::layout::{record, Layout as Core};
use axon_core::ops::{Op as CoreOp, Signature};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Ctx, HostOp, RustOp};
use crate::export::{RecordWriter, RustWriter};

/// Which way the codes move.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Plain → staged (else staged → plain).
    pub stage: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Attrs {
    direction: String,
}

impl HostOp for Layout {
    const NAME: &'static str = "layout";
    type Core<'a> = Core;

    fn parse(attrs: Option<&Value>) -> Result<Self, String> {
        let a: Attrs = super::attrs::from_attrs(attrs)?;
        match a.direction.as_str() {
            "stage" => Ok(Layout { stage: true }),
            "unstage" => Ok(Layout { stage: false }),
            d => Err(format!("\"direction\" is \"{d}\", expected \"stage\" or \"unstage\"")),
        }
    }

    fn attrs(&self) -> Option<Value> {
        super::attrs::to_attrs(&Attrs {
            direction: if self.stage { "stage" } else { "unstage" }.into(),
        })
    }

    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
        c.arity(1)?;
        let (x, y) = (c.input(0)?, c.output());
        let (a, b) = if self.stage {
            (DType::I8, DType::Staged)
        } else {
            (DType::Staged, DType::I8)
        };
        if x.dtype != a || y.dtype != b || x.shape != y.shape || x.quant != y.quant {
            bail!(c.err(format!("moves {} codes to {} of the same shape and quantization", a.name(), b.name())));
        }
        Ok(())
    }

    fn core<'a>(&'a self, _c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
        Ok(CoreOp::Layout(if self.stage { Core::Stage } else { Core::Unstage }))
    }

    fn from_core(core: &Core, _b: &mut super::FromCore<'_>) -> anyhow::Result<Self> {
        Ok(Layout { stage: *core == Core::Stage })
    }

    fn emit_blob(core: &Core, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
        w.start(&record::LAYOUT);
        w.u8(record::DIRECTION, u8::from(*core == Core::Unstage));
        Ok(())
    }

    fn emit_rust(core: &Core, sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
        let c = w.core();
        let zp = sig.output.params().map_or(0, |p| p.zero_point);
        let (v, f) = match core {
            Core::Stage => ("Stage", "stage"),
            Core::Unstage => ("Unstage", "unstage"),
        };
        Ok(RustOp {
            ty: format!("{c}::ops::layout::Layout"),
            value: format!("{c}::ops::layout::Layout::{v}"),
            op: format!("{c}::ops::Op::Layout({{p}})"),
            call: format!("{c}::ops::layout::{f}({{x0}}, {zp}, {{y}})"),
            fallible: false,
        })
    }
}
