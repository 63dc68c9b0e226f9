//! Axon: train a small neural network on a desktop, quantize it to int8, and
//! run it on a microcontroller with the same bits coming out on both.
//!
//! This root crate re-exports the no_std core ([`core`]) and the host side
//! ([`host`]); the workspace's cross-crate tests and benches live beside it.

pub use axon_core as core;
pub use axon_host as host;
