//! The application loop of `axon_firmware::app` on QEMU: an 8×8 pixel
//! sensor on I2C whose frames are replayed from the bundled digits data
//! (through the same `embedded_hal::i2c::I2c` trait a real AMG8833 driver
//! would use), the int8 digits model, a `DelayNs` and the MPS2 board's LED0
//! as the `OutputPin` that blinks the voted digit.
//!
//! `cargo run --release --bin demo` (from `firmware/`).
#![no_std]
#![no_main]

use axon_firmware::app::{App, Classifier, Timing, ADDRESS, PIXELS, PIXEL_REGISTER};
use axon_firmware::mcu;
use axon_firmware::models::{digits_int8, input_row, DIGITS_INPUTS};
use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorType as PinErrorType, OutputPin};
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

/// Frames to read.
const FRAMES: usize = 30;
/// Frames each recorded image is held for (a digit stays in view a while).
const HOLD: usize = 3;
/// Sensor counts per model pixel level (the AMG8833 reads 0.25 °C per count).
const COUNTS_PER_LEVEL: u16 = 8;

/// A recorded sensor: answers the AMG8833 pixel-register read with the next
/// recorded frame.
struct ReplaySensor {
    frame: usize,
    register: u8,
}

impl ErrorType for ReplaySensor {
    type Error = ErrorKind;
}

impl I2c for ReplaySensor {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        if address != ADDRESS {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    self.register = *bytes.first().ok_or(ErrorKind::Other)?;
                }
                Operation::Read(buf) => {
                    if self.register != PIXEL_REGISTER || buf.len() > 2 * PIXELS {
                        return Err(ErrorKind::Other);
                    }
                    let mut levels = [0f32; PIXELS];
                    if !input_row(DIGITS_INPUTS, PIXELS, self.frame / HOLD, &mut levels) {
                        return Err(ErrorKind::Other);
                    }
                    for (b, px) in buf.chunks_mut(2).zip(levels) {
                        let counts = (px as u16) * COUNTS_PER_LEVEL + 3; // + noise below one level
                        b.copy_from_slice(&counts.to_le_bytes()[..b.len()]);
                    }
                    self.frame += 1;
                }
            }
        }
        Ok(())
    }
}

/// A busy-wait delay: 25 MHz core clock on MPS2.
struct BusyDelay;

impl DelayNs for BusyDelay {
    fn delay_ns(&mut self, ns: u32) {
        cortex_m::asm::delay(((ns as u64 * 25) / 1000) as u32);
    }
}

/// LED0 of the MPS2 FPGA I/O block (register at 0x4002_8000, bit 0).
struct Led0 {
    blinks: u32,
}

impl PinErrorType for Led0 {
    type Error = core::convert::Infallible;
}

impl OutputPin for Led0 {
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.blinks += 1;
        // SAFETY: FPGAIO LED register of the MPS2 boards; writing it only
        // switches LEDs.
        unsafe { core::ptr::write_volatile(0x4002_8000 as *mut u32, 1) };
        Ok(())
    }
    fn set_low(&mut self) -> Result<(), Self::Error> {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(0x4002_8000 as *mut u32, 0) };
        Ok(())
    }
}

/// The int8 digits model as the app's classifier: its generated
/// `classify()` (the straight-line `forward()` up to the last layer; the
/// final softmax is not computed, the class is the largest logit's, as
/// `axon_core::Interpreter::classify` picks it).
struct Digits {
    arena: digits_int8::Arena,
}

impl Classifier for Digits {
    type Error = axon_core::Error;
    fn classify(&mut self, pixels: &[f32; PIXELS]) -> Result<u8, Self::Error> {
        digits_int8::classify(pixels, &mut self.arena).map(|c| c as u8)
    }
}

#[entry]
fn main() -> ! {
    let sensor = ReplaySensor {
        frame: 0,
        register: 0,
    };
    let model = Digits {
        arena: digits_int8::Arena::new(),
    };
    let timing = Timing {
        blink_ms: 2,
        frame_ms: 5,
    };
    let mut app = App::new(
        sensor,
        BusyDelay,
        Led0 { blinks: 0 },
        model,
        COUNTS_PER_LEVEL,
        timing,
    );
    for frame in 0..FRAMES {
        match app.step() {
            Ok(s) => match s.shown {
                Some(v) => defmt::println!(
                    "frame {=usize}: predicted {=u8}, LED blinks the vote {=u8}",
                    frame,
                    s.class,
                    v
                ),
                None => defmt::println!("frame {=usize}: predicted {=u8}", frame, s.class),
            },
            Err(e) => {
                defmt::error!("frame {}: {}", frame, defmt::Debug2Format(&e));
                mcu::exit(false);
            }
        }
    }
    let (_, _, led, _) = app.release();
    defmt::println!("demo: {=usize} frames, {=u32} blinks", FRAMES, led.blinks);
    mcu::exit(true)
}
