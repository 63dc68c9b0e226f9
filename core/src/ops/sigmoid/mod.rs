//! `sigmoid`: the logistic function `1 / (1 + e^−x)`, element-wise. f32
//! through the vectorized kernels (the bits of
//! [`crate::activations::sigmoid`]); int8 by a 256-entry table, its output
//! with TFLite's fixed parameters [`crate::quant::lut::SIGMOID_OUTPUT`].

super::lut::table_op! {
    /// Sigmoid, in f32 or by table.
    Sigmoid, "sigmoid", crate::kernels::dispatch::sigmoid_f32
}
