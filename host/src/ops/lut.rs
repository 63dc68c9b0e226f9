//! What the host's element-wise activations share: f32 nodes with no
//! parameters; int8 nodes with one parameter `table` (256 int8 codes,
//! TFLite's `PopulateLookupTable` of the function for the input's and
//! output's parameters), which the checks rebuild and compare.

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::lut::record;
use axon_core::quant::lut::build_table;
use axon_core::quant::QuantParams;

use super::{Ctx, Op, RustOp};
use crate::export::{RecordWriter, RustWriter};
use crate::model::{Data, Node, Tensor};
use crate::quantize::Builder;

/// An element-wise op's parameter roles: none required, `table` optional
/// (int8).
pub const ROLES: (&[&str], &[&str]) = (&[], &["table"]);

/// The attributes of an element-wise op with one real parameter `alpha`.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct AlphaAttrs {
    alpha: Option<f32>,
}

/// Parses `{"alpha": a}` (absent: `default`); any other field is an error
/// naming it.
pub fn parse_alpha(attrs: Option<&serde_json::Value>, default: f32) -> Result<f32, String> {
    let a: AlphaAttrs = super::attrs::from_attrs(attrs)?;
    Ok(a.alpha.unwrap_or(default))
}

/// `{"alpha": a}`, as the JSON writes it.
pub fn alpha_attrs(alpha: f32) -> Option<serde_json::Value> {
    super::attrs::to_attrs(&AlphaAttrs { alpha: Some(alpha) })
}

/// [`check`] for an op with a finite `alpha`.
pub fn check_alpha(c: &Ctx<'_>, alpha: f32, f: &dyn Fn(f32) -> f32) -> anyhow::Result<()> {
    if !alpha.is_finite() {
        bail!(c.err("alpha is not finite"));
    }
    check(c, f, None)
}

/// The check of an element-wise node: f32 without a table, or int8 with
/// the table `f` gives for its tensors (and, when the op has fixed output
/// parameters, those).
pub fn check(
    c: &Ctx<'_>,
    f: &dyn Fn(f32) -> f32,
    fixed: Option<QuantParams>,
) -> anyhow::Result<()> {
    if !c.is_int8() {
        c.unary(DType::F32)?;
        if c.optional("table").is_some() {
            bail!(c.err("an f32 node has no table"));
        }
        return Ok(());
    }
    let (x, y) = c.unary(DType::I8)?;
    let (px, py) = (c.params_of(x)?, c.params_of(y)?);
    if let Some(want) = fixed {
        c.derived(
            "the output's quantization",
            py,
            want,
            "TFLite's fixed parameters for this op",
        )?;
    }
    let t = table(c)?;
    let want = build_table(px, py, f);
    if let Some(k) = (0..256).find(|&k| t[k] != want[k]) {
        bail!(c.err(format!(
            "table entry {k} (code {}) is {}, but the input and output parameters give {} (a hand-edited or corrupt file?)",
            k as u8 as i8, t[k], want[k]
        )));
    }
    Ok(())
}

/// The node's table, checked to be 256 int8 codes.
pub fn table<'a>(c: &Ctx<'a>) -> anyhow::Result<&'a [i8; 256]> {
    let t = c.param("table")?;
    t.i8_data().and_then(|d| d.try_into().ok()).ok_or_else(|| {
        c.err(format!(
            "\"table\" must be 256 int8 codes, is {}",
            t.describe()
        ))
    })
}

/// The node's table if it has one (int8).
pub fn table_of<'a>(c: &Ctx<'a>) -> anyhow::Result<Option<&'a [i8; 256]>> {
    if c.is_int8() {
        table(c).map(Some)
    } else {
        Ok(None)
    }
}

/// The int8 form of an f32 element-wise node: its table for the input's
/// parameters and the output's (`fixed`, or calibrated).
pub fn quantize(
    b: &mut Builder<'_>,
    node: &Node,
    f: &dyn Fn(f32) -> f32,
    fixed: Option<QuantParams>,
) -> anyhow::Result<()> {
    let x = b.twin(node.inputs[0])?;
    let px = b.params(x);
    let py = fixed.unwrap_or(b.calibrated(node.output));
    let t = build_table(px, py, f);
    let tt = b.param(Tensor {
        name: format!("{}.table", node.name),
        shape: vec![256],
        dtype: DType::I8,
        quant: crate::model::Quant::None,
        data: Some(Data::I8(t.to_vec())),
    });
    let y = b.activation(node.output, py);
    b.node(&node.name, node.op.clone(), vec![x], y, vec![("table", tt)]);
    Ok(())
}

/// The element-wise record.
pub fn emit_blob(table: Option<&[i8; 256]>, flag: u8, param: f32, w: &mut RecordWriter<'_>) {
    w.start(&record::LAYOUT);
    w.u8(record::VARIANT, u8::from(table.is_some()));
    w.u8(record::FLAG, flag);
    w.f32(record::PARAM, param);
    if let Some(t) = table {
        w.i8s(record::TABLE, t);
    }
}

/// The element-wise op in Rust: `module::Type` and its f32 run, or its
/// table (a static) and `lut::apply`.
pub fn emit_rust(
    module: &str,
    ty: &str,
    value_f32: String,
    value_int8: impl FnOnce(&str) -> String,
    run_f32: String,
    table: Option<&[i8; 256]>,
    w: &mut RustWriter,
) -> RustOp {
    let c = w.core();
    let (value, call) = match table {
        Some(t) => {
            let name = w.i8s(
                "TABLE",
                t,
                "The int8 table, entry for code `q` at `q as u8`.",
            );
            (
                value_int8(&name),
                format!("{c}::ops::lut::apply(&{name}, {{x0}}, {{y}})"),
            )
        }
        None => (value_f32, run_f32),
    };
    RustOp {
        ty: format!("{c}::ops::{module}::{ty}<'static>"),
        value,
        op: format!("{c}::ops::Op::{ty}({{p}})"),
        call,
        fallible: false,
    }
}

/// Adds an int8 table as the node's `table` parameter.
pub fn table_from_core(table: Option<&[i8; 256]>, b: &mut super::FromCore<'_>) {
    if let Some(t) = table {
        b.param(
            "table",
            vec![256],
            Data::I8(t.to_vec()),
            crate::model::Quant::None,
        );
    }
}

/// The op of a version-1 `lut` layer's function.
pub fn op_of_v1(function: &str) -> Option<Op> {
    use super::*;
    Some(match function {
        "sigmoid" => Op::Sigmoid(sigmoid::Sigmoid),
        "tanh" => Op::Tanh(tanh::Tanh),
        "silu" => Op::Silu(silu::Silu),
        "gelu" => Op::Gelu(gelu::Gelu::f32(true)),
        "gelu_erf" => Op::Gelu(gelu::Gelu::f32(false)),
        "leaky_relu" => Op::LeakyRelu(leaky_relu::LeakyRelu::f32(super::leaky_relu::DEFAULT_ALPHA)),
        _ => return None,
    })
}

/// Defines a host element-wise op without attributes: its f32 function
/// (scalar), how training runs it — a core `Activation` (`act = …`), or a
/// module of the op's own with `forward` and `backward` (`train = …`) —
/// the initialisation of the layer before it ([`super::Init`]), and fixed
/// int8 output parameters if TFLite has them.
macro_rules! table_op {
    ($(#[$m:meta])* $Ty:ident, $module:ident, $name:literal, $f:path, act = $act:expr, init = $init:ident, $fixed:expr) => {
        $crate::ops::lut::table_op!(@op $(#[$m])* $Ty, $module, $name, $f, $init, $fixed,
            forward(a, y) { $crate::ops::activation::forward(&$act, a, y) }
            backward(a, y, dy, g) { $crate::ops::activation::backward(&$act, a, y, dy, g) });
    };
    ($(#[$m:meta])* $Ty:ident, $module:ident, $name:literal, $f:path, train = $train:path, init = $init:ident, $fixed:expr) => {
        $crate::ops::lut::table_op!(@op $(#[$m])* $Ty, $module, $name, $f, $init, $fixed,
            forward(a, y) { { use $train as t; t::forward(a, y) } }
            backward(a, y, dy, g) { { use $train as t; t::backward(a, y, dy, g) } });
    };
    (@op $(#[$m:meta])* $Ty:ident, $module:ident, $name:literal, $f:path, $init:ident, $fixed:expr,
        forward($fa:ident, $fy:ident) $fwd:block backward($ba:ident, $by:ident, $bdy:ident, $bg:ident) $bwd:block) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $Ty;

        impl $crate::ops::HostOp for $Ty {
            const NAME: &'static str = $name;
            const ACTIVATION: Option<$crate::ops::Init> = Some($crate::ops::Init::$init);
            type Core<'a> = axon_core::ops::$module::$Ty<'a>;

            fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
                $crate::ops::lut::ROLES
            }

            fn trainable(&self) -> &'static [&'static str] {
                &[]
            }

            fn parse(attrs: Option<&serde_json::Value>) -> Result<Self, String> {
                $crate::ops::attrs::from_attrs::<$crate::ops::attrs::None>(attrs).map(|_| $Ty)
            }

            fn attrs(&self) -> Option<serde_json::Value> {
                None
            }

            fn check(&self, c: &$crate::ops::Ctx<'_>) -> anyhow::Result<()> {
                $crate::ops::lut::check(c, &$f, $fixed)
            }

            fn core<'a>(&'a self, c: &$crate::ops::Ctx<'a>) -> anyhow::Result<axon_core::ops::Op<'a>> {
                use axon_core::ops::$module::$Ty as Core;
                Ok(axon_core::ops::Op::$Ty(match $crate::ops::lut::table_of(c)? {
                    Some(t) => Core::Int8(t),
                    None => Core::F32,
                }))
            }

            fn forward<T: $crate::train::Real>(&self, $fa: &$crate::ops::Args<'_, T>, $fy: &mut [T]) -> anyhow::Result<()> {
                $fwd
            }

            fn backward<T: $crate::train::Real>(&self, $ba: &$crate::ops::Args<'_, T>, $by: &[T], $bdy: &[T], $bg: &mut $crate::ops::Grads<'_, T>) {
                $bwd
            }

            fn quantize(&self, b: &mut $crate::quantize::Builder<'_>, node: &$crate::model::Node) -> anyhow::Result<()> {
                $crate::ops::lut::quantize(b, node, &$f, $fixed)
            }

            fn from_core(core: &Self::Core<'_>, b: &mut $crate::ops::FromCore<'_>) -> anyhow::Result<Self> {
                $crate::ops::lut::table_from_core(core.table(), b);
                Ok($Ty)
            }

            fn emit_blob(core: &Self::Core<'_>, w: &mut $crate::export::RecordWriter<'_>) -> anyhow::Result<()> {
                $crate::ops::lut::emit_blob(core.table(), 0, 0.0, w);
                Ok(())
            }

            fn emit_rust(
                core: &Self::Core<'_>,
                _sig: &axon_core::ops::Signature<'_>,
                w: &mut $crate::export::RustWriter,
            ) -> anyhow::Result<$crate::ops::RustOp> {
                let c = w.core();
                let path = format!("{c}::ops::{}::{}", stringify!($module), stringify!($Ty));
                Ok($crate::ops::lut::emit_rust(
                    stringify!($module),
                    stringify!($Ty),
                    format!("{path}::F32"),
                    |t| format!("{path}::Int8(&{t})"),
                    format!("{path}::run_f32({{x0}}, {{y}})"),
                    core.table(),
                    w,
                ))
            }
        }
    };
}
pub(crate) use table_op;
