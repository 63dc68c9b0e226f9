//! `sigmoid` on the host: f32, or int8 by table with TFLite's fixed output
//! parameters (1/256, −128).

super::lut::table_op! {
    /// The logistic sigmoid.
    Sigmoid, sigmoid, "sigmoid", axon_core::activations::sigmoid, act = axon_core::Activation::Sigmoid, init = Xavier,
    Some(axon_core::quant::lut::SIGMOID_OUTPUT)
}
