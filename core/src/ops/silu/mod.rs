//! `silu`: SiLU (swish), `x·σ(x)`, element-wise. f32 through the
//! vectorized kernels (the bits of [`crate::activations::silu`]); int8 by a
//! 256-entry table.

super::lut::table_op! {
    /// SiLU, in f32 or by table.
    Silu, "silu", crate::kernels::dispatch::silu_f32
}
