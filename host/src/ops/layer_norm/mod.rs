//! `layer_norm` on the host: PyTorch's `nn.LayerNorm` over the last axis
//! (biased variance, ε inside the square root), forward beside backward for
//! the training batch ([`train`]). The device's integer algorithm is
//! `axon_core::ops::layer_norm`.

pub mod train;
