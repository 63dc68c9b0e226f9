//! Axon's host side: the trainer, data loading, the quantizer, the exporter
//! and the `axon` command line. Everything here runs on a desktop; the
//! inference it does goes through `axon-core`, the same code the MCU runs.

pub mod cli;
pub mod data;
pub mod export;
pub mod lm;
pub mod model;
pub mod ops;
pub mod quantize;
pub mod train;
