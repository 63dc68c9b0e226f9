//! The character-level transformer language model (issue 12): its
//! configuration and named parameters ([`config`], [`params`]), the
//! vocabulary and the corpus ([`vocab`], [`corpus`]), the f32 reference
//! inference with a KV cache ([`infer`]), the batched multi-core trainer
//! ([`train`]), quantization to integer-only int8 ([`quantize`]) and
//! generation ([`generate`]).
//!
//! Design and arithmetic: `docs/lm.md`.

pub mod config;
pub mod corpus;
pub mod file;
pub mod infer;
pub mod int8;
pub mod params;
pub mod quantize;
pub mod train;
pub mod vocab;

pub use config::LmConfig;
pub use params::{LayerParam, LmParams};
pub use vocab::Vocab;
