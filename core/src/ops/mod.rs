//! The ops: one folder each, holding everything the device runs for that
//! op — its check against its tensors (once, at load), its f32 and int8
//! runs, its prepared variants, its blob record — and [`Op`], the one
//! registry that names them all.
//!
//! An op's life follows TFLite Micro's registrations: *init* (its record
//! decoded from a blob, or its `static` built by the Rust export), *prepare*
//! (everything computable once — multipliers, packed weights, tables — is
//! computed on the host and stored, and checked here by [`OpDef::check`]),
//! *eval* ([`OpDef::run`], nothing recomputed). Each op also exposes its
//! typed functions (`fully_connected::run_i8`, …), which the interpreter
//! calls through [`OpDef::run`] and a generated `forward()` calls directly.
//!
//! Adding an op: a folder here and one line in [`registry!`] below; the
//! interpreter, the validator and the blob parser reach it through [`Op`].

use crate::blob::{BlobError, Record};
use crate::graph::{DType, Quad, Tensor};
use crate::quant::QuantParams;
use crate::Error;

pub mod batch_matmul;
pub mod embedding;
pub mod layer_norm;
pub mod lut;

/// A fused activation: the clamp an int8 op applies to its output codes,
/// named (TFLite's `FusedActivationFunctionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Fused {
    /// The int8 range only.
    #[default]
    None = 0,
    /// Below at real 0.
    Relu = 1,
    /// Between real 0 and 6.
    Relu6 = 2,
}

impl Fused {
    /// Every activation, in blob code order.
    pub const ALL: [Fused; 3] = [Fused::None, Fused::Relu, Fused::Relu6];

    /// The name in model files.
    pub const fn name(self) -> &'static str {
        match self {
            Fused::None => "none",
            Fused::Relu => "relu",
            Fused::Relu6 => "relu6",
        }
    }

    /// The activation named `name`.
    pub fn from_name(name: &str) -> Option<Fused> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The activation with blob code `code`.
    pub fn from_code(code: u8) -> Option<Fused> {
        Self::ALL.get(code as usize).copied()
    }

    /// Its clamp for an output with parameters `out`, as TFLite's
    /// `CalculateActivationRangeQuantized`: real 0 and 6 quantized
    /// (`zero_point + round(x / scale)`, in f32), within −128..=127.
    pub fn clamp(self, out: QuantParams) -> (i8, i8) {
        let q = |x: f32| {
            let v = libm::roundf(x / out.scale);
            (out.zero_point as f32 + v).clamp(-128.0, 127.0) as i8
        };
        match self {
            Fused::None => (-128, 127),
            Fused::Relu => (q(0.0), 127),
            Fused::Relu6 => (q(0.0), q(6.0)),
        }
    }
}

/// Most inputs a node has.
pub const MAX_INPUTS: usize = 4;

/// A node's tensors, as its op's check sees them.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    inputs: [Option<Tensor<'a>>; MAX_INPUTS],
    /// The output tensor.
    pub output: Tensor<'a>,
}

impl<'a> Signature<'a> {
    /// From the input tensors (at most [`MAX_INPUTS`]; more are an error
    /// the validator reports before) and the output.
    pub fn new(inputs: &[Tensor<'a>], output: Tensor<'a>) -> Self {
        let mut ins = [None; MAX_INPUTS];
        for (slot, t) in ins.iter_mut().zip(inputs) {
            *slot = Some(*t);
        }
        Signature {
            inputs: ins,
            output,
        }
    }

    /// Number of inputs.
    pub fn arity(&self) -> usize {
        self.inputs.iter().filter(|t| t.is_some()).count()
    }

    /// Input `k`.
    pub fn input(&self, k: usize) -> Result<Tensor<'a>, &'static str> {
        self.inputs
            .get(k)
            .copied()
            .flatten()
            .ok_or("missing an input")
    }

    /// Checks the count of inputs.
    pub fn expect_arity(&self, n: usize) -> Result<(), &'static str> {
        if self.arity() == n {
            Ok(())
        } else if n == 1 {
            Err("takes exactly one input")
        } else if n == 2 {
            Err("takes exactly two inputs")
        } else {
            Err("has the wrong number of inputs")
        }
    }

    /// The only input of a unary op, checked to be of type `a`, and the
    /// output checked to be of type `b` with the same shape.
    pub fn unary(&self, a: DType, b: DType) -> Result<(Tensor<'a>, Tensor<'a>), &'static str> {
        self.expect_arity(1)?;
        let x = self.input(0)?;
        if x.dtype != a {
            return Err("input has the wrong element type");
        }
        if self.output.dtype != b {
            return Err("output has the wrong element type");
        }
        if x.shape != self.output.shape {
            return Err("input and output shapes differ");
        }
        Ok((x, self.output))
    }
}

/// A read-only view of a tensor's values during a run.
#[derive(Debug, Clone, Copy)]
pub enum View<'r> {
    /// f32 values.
    F32(&'r [f32]),
    /// int8 codes.
    I8(&'r [i8]),
    /// int32 values.
    I32(&'r [i32]),
    /// Staged codes.
    Staged(&'r [Quad]),
}

/// A writable view of a tensor's values during a run.
#[derive(Debug)]
pub enum ViewMut<'r> {
    /// f32 values.
    F32(&'r mut [f32]),
    /// int8 codes.
    I8(&'r mut [i8]),
    /// int32 values.
    I32(&'r mut [i32]),
    /// Staged codes.
    Staged(&'r mut [Quad]),
}

impl<'r> View<'r> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            View::F32(_) => DType::F32,
            View::I8(_) => DType::I8,
            View::I32(_) => DType::I32,
            View::Staged(_) => DType::Staged,
        }
    }

    /// Elements (staged: four per quad).
    pub fn len(&self) -> usize {
        match self {
            View::F32(s) => s.len(),
            View::I8(s) => s.len(),
            View::I32(s) => s.len(),
            View::Staged(s) => 4 * s.len(),
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 values, or a type error.
    pub fn f32(self) -> Result<&'r [f32], Error> {
        match self {
            View::F32(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The int8 codes, or a type error.
    pub fn i8(self) -> Result<&'r [i8], Error> {
        match self {
            View::I8(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The int32 values, or a type error.
    pub fn i32(self) -> Result<&'r [i32], Error> {
        match self {
            View::I32(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The staged quads, or a type error.
    pub fn staged(self) -> Result<&'r [Quad], Error> {
        match self {
            View::Staged(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }
}

impl<'r> ViewMut<'r> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            ViewMut::F32(_) => DType::F32,
            ViewMut::I8(_) => DType::I8,
            ViewMut::I32(_) => DType::I32,
            ViewMut::Staged(_) => DType::Staged,
        }
    }

    /// Elements (a staged view: four per quad, padding included), as
    /// [`View::len`] counts them.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        match self {
            ViewMut::F32(s) => s.len(),
            ViewMut::I8(s) => s.len(),
            ViewMut::I32(s) => s.len(),
            ViewMut::Staged(s) => 4 * s.len(),
        }
    }

    /// The f32 values, or a type error.
    pub fn f32(self) -> Result<&'r mut [f32], Error> {
        match self {
            ViewMut::F32(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The int8 codes, or a type error.
    pub fn i8(self) -> Result<&'r mut [i8], Error> {
        match self {
            ViewMut::I8(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The int32 values, or a type error.
    pub fn i32(self) -> Result<&'r mut [i32], Error> {
        match self {
            ViewMut::I32(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }

    /// The staged quads, or a type error.
    pub fn staged(self) -> Result<&'r mut [Quad], Error> {
        match self {
            ViewMut::Staged(s) => Ok(s),
            v => Err(Error::TypeMismatch { found: v.dtype() }),
        }
    }
}

/// What one node's run gets: views of its tensors' values, and what an op
/// reads of the tensors themselves (their parameters and innermost widths;
/// everything else was checked at load).
#[derive(Debug)]
pub struct Io<'r> {
    /// The inputs' values (empty int8 views past the node's inputs).
    pub ins: [View<'r>; MAX_INPUTS],
    /// The output's values.
    pub out: ViewMut<'r>,
    /// The first input's quantization.
    pub in_params: Option<QuantParams>,
    /// The output's quantization.
    pub out_params: Option<QuantParams>,
    /// The first input's innermost dimension.
    pub in_last: usize,
    /// The output's innermost dimension.
    pub out_last: usize,
}

impl<'r> Io<'r> {
    /// Input `k`'s values (an empty int8 view past the inputs, which the
    /// checked op never asks for).
    #[inline]
    pub fn input(&self, k: usize) -> View<'r> {
        self.ins.get(k).copied().unwrap_or(View::I8(&[]))
    }
}

/// What every op implements; [`Op`] dispatches to it.
pub trait OpDef<'a>: Sized + Copy + core::fmt::Debug {
    /// The op's name in model files, blobs and reports.
    const NAME: &'static str;

    /// Checks the op's parameters against its tensors: types, shapes,
    /// lengths, ranges, and that derived parameters (input offsets, zero
    /// points) agree with the tensors they come from. Runs once, at load;
    /// a node that passes runs without panicking.
    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str>;

    /// Runs the op on checked tensors.
    fn run(&self, io: Io<'_>) -> Result<(), Error>;

    /// Decodes the op's blob record (its layout is the op's own,
    /// `blob.rs` in its folder).
    fn decode(r: &Record<'a>) -> Result<Self, BlobError>;

    /// Multiply-accumulates one run costs (0 for element-wise ops).
    fn macs(&self, sig: &Signature<'a>) -> u64 {
        let _ = sig;
        0
    }
}

/// Defines [`Op`] from one line per op: its blob code, its folder, its
/// variant and its type. The folders' modules and everything that
/// dispatches on the op kind are generated here.
macro_rules! registry {
    ($( $code:literal => $module:ident :: $Variant:ident($ty:ty) ),* $(,)?) => {
        $( pub mod $module; )*

        /// One node's op and its parameters: the one registry of ops.
        #[derive(Debug, Clone, Copy)]
        pub enum Op<'a> {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $Variant($ty),
            )*
        }

        impl<'a> Op<'a> {
            /// Every op's blob code and name.
            pub const ALL: &'static [(u8, &'static str)] = &[
                $( ($code, <$ty as OpDef<'a>>::NAME) ),*
            ];

            /// The op's name.
            pub const fn name(&self) -> &'static str {
                match self { $( Op::$Variant(_) => <$ty as OpDef<'a>>::NAME ),* }
            }

            /// The op's code in a blob's node table.
            pub const fn code(&self) -> u8 {
                match self { $( Op::$Variant(_) => $code ),* }
            }

            /// [`OpDef::check`] of the op.
            pub fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
                match self { $( Op::$Variant(o) => o.check(sig) ),* }
            }

            /// [`OpDef::run`] of the op.
            #[inline]
            pub fn run(&self, io: Io<'_>) -> Result<(), Error> {
                match self { $( Op::$Variant(o) => o.run(io) ),* }
            }

            /// [`OpDef::macs`] of the op.
            pub fn macs(&self, sig: &Signature<'a>) -> u64 {
                match self { $( Op::$Variant(o) => o.macs(sig) ),* }
            }

            /// Decodes a blob record of the op with code `code`.
            pub fn decode(code: u8, r: &Record<'a>) -> Result<Op<'a>, BlobError> {
                match code {
                    $( $code => <$ty as OpDef<'a>>::decode(r).map(Op::$Variant), )*
                    _ => Err(BlobError::UnknownOp { node: r.node, code }),
                }
            }
        }
    };
}

registry! {
    1 => quantize::Quantize(quantize::Quantize<'a>),
    2 => dequantize::Dequantize(dequantize::Dequantize),
    3 => standardize::Standardize(standardize::Standardize<'a>),
    4 => fully_connected::FullyConnected(fully_connected::FullyConnected<'a>),
    5 => add::Add(add::Add),
    6 => relu::Relu(relu::Relu),
    7 => leaky_relu::LeakyRelu(leaky_relu::LeakyRelu<'a>),
    8 => sigmoid::Sigmoid(sigmoid::Sigmoid<'a>),
    9 => tanh::Tanh(tanh::Tanh<'a>),
    10 => gelu::Gelu(gelu::Gelu<'a>),
    11 => silu::Silu(silu::Silu<'a>),
    12 => softmax::Softmax(softmax::Softmax<'a>),
    13 => layout::Layout(layout::Layout),
    14 => elu::Elu(elu::Elu<'a>),
}

/// Every fixed-size structure of a blob, as `docs/blob-format.md` lists
/// them: the header and the table entries ([`crate::blob::format`]), then
/// each op's record layout (its folder's). A new record layout goes here
/// too; `tests/blob_format_doc.rs` checks the doc against this list.
pub const LAYOUTS: &[crate::blob::format::Layout] = &[
    crate::blob::format::header::LAYOUT,
    crate::blob::format::tensor::LAYOUT,
    crate::blob::format::node::LAYOUT,
    quantize::record::LAYOUT,
    dequantize::record::LAYOUT,
    standardize::record::LAYOUT,
    fully_connected::record_f32::LAYOUT,
    fully_connected::record_i8::LAYOUT,
    fully_connected::record_packed4::LAYOUT,
    add::record::LAYOUT,
    relu::record::LAYOUT,
    lut::record::LAYOUT,
    softmax::record::LAYOUT,
    layout::record::LAYOUT,
];
