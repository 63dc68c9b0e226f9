//! `tanh`: the hyperbolic tangent, element-wise. f32 through the
//! vectorized kernels (the bits of [`crate::activations::tanh`]); int8 by a
//! 256-entry table, its output with TFLite's fixed parameters
//! [`crate::quant::lut::TANH_OUTPUT`].

super::lut::table_op! {
    /// tanh, in f32 or by table.
    Tanh, "tanh", crate::kernels::dispatch::tanh_f32
}
