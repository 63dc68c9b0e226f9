//! `tanh` on the host: f32, or int8 by table with TFLite's fixed output
//! parameters (1/128, 0).

super::lut::table_op! {
    /// The hyperbolic tangent.
    Tanh, tanh, "tanh", axon_core::activations::tanh, act = axon_core::Activation::Tanh, init = Xavier,
    Some(axon_core::quant::lut::TANH_OUTPUT)
}
