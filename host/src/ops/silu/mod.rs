//! `silu` on the host: f32, or int8 by table with calibrated output
//! parameters.

super::lut::table_op! {
    /// SiLU (swish), `x·σ(x)`.
    Silu, silu, "silu", axon_core::activations::silu, act = axon_core::Activation::Silu, init = He, None
}
