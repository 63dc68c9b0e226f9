//! What the host does for each op, one folder per op (the device side of
//! the same op is `axon_core::ops::<op>`): its attributes as the model file
//! writes them, its checks against its tensors (including every derived
//! parameter against what it derives from), its view as the core op,
//! forward beside backward for training (`train.rs`), its quantization rule
//! (`quantize.rs`), and what it writes to a blob and to Rust source
//! (`emit.rs`).
//!
//! [`registry!`] below is the one table that names them all; adding an op
//! is a folder here, one in the core, and one line in each registry.

use std::fmt;

use anyhow::bail;
use axon_core::ops::{Op as CoreOp, Signature};
use serde_json::Value;

use crate::export::{RecordWriter, RustWriter};
use crate::model::{Graph, Node};
use crate::quantize::Builder;
use crate::train::Real;

mod activation;
mod attrs;
pub mod causal_softmax;
mod check;
pub mod embedding;
pub mod layer_norm;
pub mod lut;
pub mod matmul;

pub use attrs::{parse_fused, parse_rounding};
pub use check::Ctx;

/// One training step's view of a node's values (one sample): its inputs
/// and parameters, with their shapes.
#[derive(Debug)]
pub struct Args<'a, T> {
    /// Input values, in the op's order.
    pub inputs: &'a [&'a [T]],
    /// Input shapes.
    pub input_shapes: &'a [&'a [u32]],
    /// Parameter values, in the op's role order.
    pub params: &'a [&'a [T]],
    /// The output's shape.
    pub output_shape: &'a [u32],
}

/// Where a node's backward adds its gradients (`+=`: a tensor read by
/// several nodes, a residual connection's input among them, sums what each
/// sends back).
#[derive(Debug)]
pub struct Grads<'a, T> {
    /// `∂L/∂input`, per input.
    pub inputs: &'a mut [&'a mut [T]],
    /// `∂L/∂param`, per parameter.
    pub params: &'a mut [&'a mut [T]],
}

/// An op in generated Rust source: its parameters as one `static` and
/// the two ways the generated code uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct RustOp {
    /// The static's type.
    pub ty: String,
    /// Its initializer.
    pub value: String,
    /// The graph's `Op` over the static; `{p}` stands for its name.
    pub op: String,
    /// The straight-line call in `forward()`: `{p}` the static, `{x0}`,
    /// `{x1}` the inputs' slices, `{y}` the output's (typed by the
    /// tensors); it evaluates to `Result<(), Error>` when `fallible`, else
    /// to `()`.
    pub call: String,
    /// Whether `call` returns a `Result`.
    pub fallible: bool,
}

/// What [`HostOp::from_core`] builds besides the op: the node's
/// parameters as named tensors.
#[derive(Debug)]
pub struct FromCore<'b> {
    /// The node's name (parameters are named after it).
    pub name: &'b str,
    /// The node's tensors.
    pub sig: Signature<'b>,
    /// Parameters added so far: (role, tensor).
    pub params: Vec<(String, crate::model::Tensor)>,
}

impl FromCore<'_> {
    /// Adds parameter `role` with `data` of `shape`.
    pub fn param(
        &mut self,
        role: &str,
        shape: Vec<u32>,
        data: crate::model::Data,
        quant: crate::model::Quant,
    ) {
        let t = crate::model::Tensor {
            name: format!("{}.{role}", self.name),
            shape,
            dtype: data.dtype(),
            quant,
            data: Some(data),
        };
        self.params.push((role.to_owned(), t));
    }
}

/// How training starts the weights of a fully connected layer that an
/// activation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He (Kaiming) uniform: the ReLU family, GELU, SiLU, ELU.
    He,
    /// Xavier (Glorot) uniform: saturating activations, and no activation.
    Xavier,
}

/// What every host op implements; [`Op`] dispatches to it.
pub trait HostOp: Sized + Clone + PartialEq + fmt::Debug {
    /// The op's name (as the core's).
    const NAME: &'static str;

    /// `Some` for an element-wise op that can follow a hidden layer
    /// (`axon train --activation NAME`, an architecture file's
    /// `activation = "NAME"`, its attributes then from `parse(None)` or
    /// `{"alpha": …}`), with the initialisation of the layer before it.
    const ACTIVATION: Option<Init> = None;

    /// The core's view of the op.
    type Core<'a>;

    /// The parameter roles it requires, then those it may have.
    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&[], &[])
    }

    /// From the node's `attrs` in a model file (`None`: absent); unknown
    /// fields are errors that name them.
    fn parse(attrs: Option<&Value>) -> Result<Self, String>;

    /// The attributes a model file records (`None`: none).
    fn attrs(&self) -> Option<Value>;

    /// Checks the node against its tensors: types, shapes, parameters,
    /// and every derived parameter against its source.
    fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()>;

    /// The core's op over the node's parameters (borrowing them).
    fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>>;

    /// The forward pass of one sample (f32 through the core's kernels).
    fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
        let _ = (a, y);
        bail!("{} cannot be trained", Self::NAME)
    }

    /// The backward pass of one sample: given the output `y` and `dy =
    /// ∂L/∂y`, adds the gradients of the inputs and parameters into `g`.
    fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
        let _ = (a, y, dy, g);
    }

    /// Adds the int8 form of this f32 node to the quantized graph.
    fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
        let _ = (b, node);
        bail!("{} has no int8 form", Self::NAME)
    }

    /// The host op (and its parameters, added to `b`) of a core op read
    /// from a blob.
    fn from_core(core: &Self::Core<'_>, b: &mut FromCore<'_>) -> anyhow::Result<Self>;

    /// Writes the core op's blob record.
    fn emit_blob(core: &Self::Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()>;

    /// The core op as Rust source of `axon_core` items.
    fn emit_rust(
        core: &Self::Core<'_>,
        sig: &Signature<'_>,
        w: &mut RustWriter,
    ) -> anyhow::Result<RustOp>;

    /// The parameter roles training updates (default: all it requires).
    fn trainable(&self) -> &'static [&'static str] {
        self.roles().0
    }
}

/// Defines [`Op`] from one line per op: its folder, its variant (the
/// core's variant of the same name) and its type. The folders' modules and
/// everything that dispatches on the op kind are generated here.
macro_rules! registry {
    ($( $module:ident :: $Variant:ident($ty:ty) ),* $(,)?) => {
        $( pub mod $module; )*

        /// A node's op with its attributes: the host's registry of ops.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Op {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $Variant($ty),
            )*
        }

        impl Op {
            /// Every op name.
            pub const NAMES: &'static [&'static str] = &[$( <$ty as HostOp>::NAME ),*];

            /// The op's name.
            pub fn name(&self) -> &'static str {
                match self { $( Op::$Variant(_) => <$ty as HostOp>::NAME ),* }
            }

            /// The op named `name` with attributes `attrs`.
            pub fn parse(name: &str, attrs: Option<&Value>) -> Result<Op, String> {
                match name {
                    $( n if n == <$ty as HostOp>::NAME => <$ty as HostOp>::parse(attrs).map(Op::$Variant), )*
                    other => Err(format!(
                        "unknown op \"{other}\" (this axon knows: {})",
                        Op::NAMES.join(", ")
                    )),
                }
            }

            /// The names of the ops that can be hidden activations
            /// ([`HostOp::ACTIVATION`]).
            pub fn activation_names() -> Vec<&'static str> {
                [$( (<$ty as HostOp>::NAME, <$ty as HostOp>::ACTIVATION.is_some()) ),*]
                    .into_iter()
                    .filter_map(|(n, a)| a.then_some(n))
                    .collect()
            }

            /// The activation op named `name` with attributes `attrs`.
            pub fn activation(name: &str, attrs: Option<&Value>) -> Result<Op, String> {
                match name {
                    $( n if n == <$ty as HostOp>::NAME && <$ty as HostOp>::ACTIVATION.is_some() =>
                        <$ty as HostOp>::parse(attrs).map(Op::$Variant), )*
                    other => Err(format!(
                        "unknown activation '{other}' (expected one of: none, {})",
                        Op::activation_names().join(", ")
                    )),
                }
            }

            /// [`HostOp::ACTIVATION`].
            pub fn activation_init(&self) -> Option<Init> {
                match self { $( Op::$Variant(_) => <$ty as HostOp>::ACTIVATION ),* }
            }

            /// [`HostOp::attrs`].
            pub fn attrs(&self) -> Option<Value> {
                match self { $( Op::$Variant(o) => o.attrs() ),* }
            }

            /// [`HostOp::roles`].
            pub fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
                match self { $( Op::$Variant(o) => o.roles() ),* }
            }

            /// [`HostOp::check`].
            pub fn check(&self, c: &Ctx<'_>) -> anyhow::Result<()> {
                match self { $( Op::$Variant(o) => o.check(c) ),* }
            }

            /// [`HostOp::core`].
            pub fn core<'a>(&'a self, c: &Ctx<'a>) -> anyhow::Result<CoreOp<'a>> {
                match self { $( Op::$Variant(o) => o.core(c) ),* }
            }

            /// [`HostOp::forward`].
            pub fn forward<T: Real>(&self, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
                match self { $( Op::$Variant(o) => o.forward(a, y) ),* }
            }

            /// [`HostOp::backward`].
            pub fn backward<T: Real>(&self, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
                match self { $( Op::$Variant(o) => o.backward(a, y, dy, g) ),* }
            }

            /// [`HostOp::trainable`].
            pub fn trainable(&self) -> &'static [&'static str] {
                match self { $( Op::$Variant(o) => o.trainable() ),* }
            }

            /// [`HostOp::quantize`].
            pub fn quantize(&self, b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
                match self { $( Op::$Variant(o) => o.quantize(b, node) ),* }
            }
        }

        /// [`HostOp::from_core`] of the core op's host twin.
        pub fn from_core(core: &CoreOp<'_>, b: &mut FromCore<'_>) -> anyhow::Result<Op> {
            match core { $( CoreOp::$Variant(c) => <$ty as HostOp>::from_core(c, b).map(Op::$Variant) ),* }
        }

        /// [`HostOp::emit_blob`] of the core op's host twin.
        pub fn emit_blob(core: &CoreOp<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
            match core { $( CoreOp::$Variant(c) => <$ty as HostOp>::emit_blob(c, w) ),* }
        }

        /// [`HostOp::emit_rust`] of the core op's host twin.
        pub fn emit_rust(core: &CoreOp<'_>, sig: &Signature<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
            match core { $( CoreOp::$Variant(c) => <$ty as HostOp>::emit_rust(c, sig, w) ),* }
        }
    };
}

registry! {
    quantize::Quantize(quantize::Quantize),
    dequantize::Dequantize(dequantize::Dequantize),
    standardize::Standardize(standardize::Standardize),
    fully_connected::FullyConnected(fully_connected::FullyConnected),
    add::Add(add::Add),
    relu::Relu(relu::Relu),
    leaky_relu::LeakyRelu(leaky_relu::LeakyRelu),
    sigmoid::Sigmoid(sigmoid::Sigmoid),
    tanh::Tanh(tanh::Tanh),
    gelu::Gelu(gelu::Gelu),
    silu::Silu(silu::Silu),
    softmax::Softmax(softmax::Softmax),
    layout::Layout(layout::Layout),
    elu::Elu(elu::Elu),
}

/// Checks one node of `g`: its parameter roles, then its op's own checks.
pub fn check_node(g: &Graph, n: &Node) -> anyhow::Result<()> {
    let (required, optional) = n.op.roles();
    for r in required {
        if n.param(r).is_none() {
            bail!(
                "node {} ({}) needs a \"{r}\" parameter",
                n.name,
                n.op.name()
            );
        }
    }
    for (r, _) in &n.params {
        if !required.contains(&r.as_str()) && !optional.contains(&r.as_str()) {
            let all: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
            bail!(
                "node {} ({}) has an unknown parameter \"{r}\" (it takes: {})",
                n.name,
                n.op.name(),
                if all.is_empty() {
                    "none".to_owned()
                } else {
                    all.join(", ")
                }
            );
        }
    }
    n.op.check(&Ctx::new(g, n))
}
