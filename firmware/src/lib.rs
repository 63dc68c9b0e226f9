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

/// The panic handler of the `panic_never_*` binaries, expanded in the
/// binary (so that its `--cfg panic_probe` decides): it calls an
/// `extern "C"` function that exists nowhere (the `panic-never` crate's
/// technique), so the release build links only if no panic path survived
/// optimisation. Built with `--cfg panic_probe` (`cargo rustc … -- --cfg
/// panic_probe`) the handler links instead, so that a surviving panic path
/// can be found in the disassembly (`cargo xtask panic-never` does it when
/// the link fails).
#[macro_export]
macro_rules! panic_never_handler {
    () => {
        #[cfg(panic_probe)]
        #[panic_handler]
        #[inline(never)]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            $crate::mcu::exit(false)
        }

        #[cfg(not(panic_probe))]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            extern "C" {
                /// Defined nowhere: any call left in the program fails the link.
                fn axon_panic_handler_is_linked() -> !;
            }
            // SAFETY: never runs; the program links only if nothing calls this.
            unsafe { axon_panic_handler_is_linked() }
        }
    };
}
