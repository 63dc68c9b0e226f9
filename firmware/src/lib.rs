//! Axon's firmware support: the embedded-hal application loop (host-tested
//! with embedded-hal-mock) and, on the microcontroller, instruction/cycle
//! counting, stack painting and the exit/panic plumbing shared by the
//! binaries in `src/bin/`.
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod app;
pub mod models;

#[cfg(target_os = "none")]
pub mod mcu;
