//! The application loop, generic over embedded-hal 1.0 traits: an 8×8 pixel
//! sensor on I2C (Panasonic Grid-EYE AMG8833 register layout), a `DelayNs`,
//! and an `OutputPin` (an LED) that blinks the predicted digit.
//!
//! Each step reads one frame, scales it to the digits model's 0..16 pixel
//! levels, classifies it, and votes over the last [`VOTES`] predictions
//! (a heapless sliding window) so that one noisy frame does not change what
//! the LED shows. The host tests drive it with embedded-hal-mock; the QEMU
//! demo (`src/bin/demo.rs`) replays recorded frames through the same I2C
//! trait.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::i2c::I2c;
use heapless::HistoryBuffer;

/// The sensor's 7-bit I2C address (AD_SELECT high).
pub const ADDRESS: u8 = 0x69;
/// First pixel register: 64 pixels × 2 bytes, little-endian, 12 bits.
pub const PIXEL_REGISTER: u8 = 0x80;
/// Pixels per frame (8 × 8), the digits model's inputs.
pub const PIXELS: usize = 64;
/// The highest pixel level the digits model was trained on.
pub const MAX_LEVEL: u16 = 16;
/// Predictions the LED's vote is taken over.
pub const VOTES: usize = 5;

/// An 8×8 I2C pixel sensor with the AMG8833 register layout.
pub struct PixelSensor<I2C> {
    i2c: I2C,
}

impl<I2C: I2c> PixelSensor<I2C> {
    /// A sensor at [`ADDRESS`] on `i2c`.
    pub fn new(i2c: I2C) -> Self {
        PixelSensor { i2c }
    }

    /// Reads one frame of 12-bit pixel counts (row-major, pixel 0 first).
    pub fn read_frame(&mut self, frame: &mut [u16; PIXELS]) -> Result<(), I2C::Error> {
        let mut raw = [0u8; 2 * PIXELS];
        self.i2c.write_read(ADDRESS, &[PIXEL_REGISTER], &mut raw)?;
        for (px, b) in frame.iter_mut().zip(raw.chunks_exact(2)) {
            *px = u16::from_le_bytes([b[0], b[1]]) & 0x0fff;
        }
        Ok(())
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }
}

/// Something that names the digit in a frame of 0..16 pixel levels.
pub trait Classifier {
    /// Why a classification failed.
    type Error;
    /// The predicted class (0..=9).
    fn classify(&mut self, pixels: &[f32; PIXELS]) -> Result<u8, Self::Error>;
}

/// Why a step failed, by the part that failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AppError<S, P, M> {
    /// The sensor's I2C transfer.
    Sensor(S),
    /// The LED pin.
    Pin(P),
    /// The model.
    Model(M),
}

/// The error of [`App::step`] for these peripherals and model.
pub type StepError<I2C, P, C> = AppError<
    <I2C as embedded_hal::i2c::ErrorType>::Error,
    <P as embedded_hal::digital::ErrorType>::Error,
    <C as Classifier>::Error,
>;

/// What one step saw and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// This frame's prediction.
    pub class: u8,
    /// The class the LED blinked (the vote over the window), once the window
    /// is full.
    pub shown: Option<u8>,
}

/// Timing of the LED and the frame loop, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// LED on (and off) time of one blink.
    pub blink_ms: u32,
    /// Pause after each frame.
    pub frame_ms: u32,
}

/// The application: sensor → model → vote → LED.
pub struct App<I2C, D, P, C> {
    sensor: PixelSensor<I2C>,
    delay: D,
    led: P,
    model: C,
    counts_per_level: u16,
    timing: Timing,
    votes: HistoryBuffer<u8, VOTES>,
}

impl<I2C, D, P, C> App<I2C, D, P, C>
where
    I2C: I2c,
    D: DelayNs,
    P: OutputPin,
    C: Classifier,
{
    /// `counts_per_level` sensor counts make one model pixel level (a
    /// frame is divided by it and clamped to 0..=16); must be non-zero (zero
    /// is taken as one).
    pub fn new(
        i2c: I2C,
        delay: D,
        led: P,
        model: C,
        counts_per_level: u16,
        timing: Timing,
    ) -> Self {
        App {
            sensor: PixelSensor::new(i2c),
            delay,
            led,
            model,
            counts_per_level: counts_per_level.max(1),
            timing,
            votes: HistoryBuffer::new(),
        }
    }

    /// One frame: read, classify, vote, show.
    pub fn step(&mut self) -> Result<Step, StepError<I2C, P, C>> {
        let mut frame = [0u16; PIXELS];
        self.sensor
            .read_frame(&mut frame)
            .map_err(AppError::Sensor)?;
        let pixels = levels(&frame, self.counts_per_level);
        let class = self.model.classify(&pixels).map_err(AppError::Model)?;
        self.votes.write(class);
        let shown = if self.votes.len() == VOTES {
            let winner = vote(&self.votes);
            self.blink(winner as u32 + 1).map_err(AppError::Pin)?;
            Some(winner)
        } else {
            None
        };
        self.delay.delay_ms(self.timing.frame_ms);
        Ok(Step { class, shown })
    }

    /// Blinks the LED `n` times.
    fn blink(&mut self, n: u32) -> Result<(), P::Error> {
        for _ in 0..n {
            self.led.set_high()?;
            self.delay.delay_ms(self.timing.blink_ms);
            self.led.set_low()?;
            self.delay.delay_ms(self.timing.blink_ms);
        }
        Ok(())
    }

    /// Gives the peripherals back.
    pub fn release(self) -> (I2C, D, P, C) {
        (self.sensor.release(), self.delay, self.led, self.model)
    }
}

/// Scales a frame of sensor counts to the model's pixel levels: divided by
/// `counts_per_level` (zero taken as one), clamped to 0..=16.
pub fn levels(frame: &[u16; PIXELS], counts_per_level: u16) -> [f32; PIXELS] {
    let per = counts_per_level.max(1);
    frame.map(|c| ((c / per).min(MAX_LEVEL)) as f32)
}

/// The most frequent class in the window; a tie goes to the class seen most
/// recently.
pub fn vote<const N: usize>(window: &HistoryBuffer<u8, N>) -> u8 {
    let mut counts = [0u8; 256];
    for &c in window.oldest_ordered() {
        counts[c as usize] += 1;
    }
    let mut best = window.recent().copied().unwrap_or(0);
    for &c in window.oldest_ordered() {
        let better = counts[c as usize] > counts[best as usize];
        if better {
            best = c;
        }
    }
    // Among equal counts, prefer the most recent occurrence.
    for &c in window.oldest_ordered() {
        if counts[c as usize] == counts[best as usize] {
            best = c;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTx};
    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinTx};
    use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2cTx};
    use std::vec;
    use std::vec::Vec;

    /// A frame whose pixel `i` has `levels[i] · 12` counts (plus noise below
    /// one level), as the sensor sends it.
    fn frame_bytes(levels: &[u16; PIXELS]) -> Vec<u8> {
        levels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| (l * 12 + (i as u16 % 12)).to_le_bytes())
            .collect()
    }

    /// Classifies by the brightest pixel's index modulo 10.
    struct Brightest;
    impl Classifier for Brightest {
        type Error = ();
        fn classify(&mut self, px: &[f32; PIXELS]) -> Result<u8, ()> {
            let (i, _) = px
                .iter()
                .enumerate()
                .fold((0, -1.0), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            Ok((i % 10) as u8)
        }
    }

    fn bright_at(i: usize) -> [u16; PIXELS] {
        let mut l = [1u16; PIXELS];
        l[i] = 16;
        l
    }

    #[test]
    fn reads_frames_over_i2c_and_scales_to_levels() {
        // Levels 0..19: those past 16 must clamp.
        let mut want = [0u16; PIXELS];
        want.iter_mut()
            .enumerate()
            .for_each(|(i, l)| *l = (i as u16 * 7) % 20);
        let i2c = I2cMock::new(&[I2cTx::write_read(
            ADDRESS,
            vec![PIXEL_REGISTER],
            frame_bytes(&want),
        )]);
        let mut sensor = PixelSensor::new(i2c);
        let mut frame = [0u16; PIXELS];
        sensor.read_frame(&mut frame).unwrap();
        let px = levels(&frame, 12);
        for i in 0..PIXELS {
            assert_eq!(px[i], want[i].min(16) as f32, "pixel {i}");
        }
        sensor.release().done();
    }

    fn timing() -> Timing {
        Timing {
            blink_ms: 100,
            frame_ms: 250,
        }
    }

    #[test]
    fn blinks_the_voted_class_once_the_window_is_full() {
        // Frames predict 3, 3, 7, 3, 7: the window fills on the fifth and
        // votes 3 (three of five), shown as four blinks.
        let classes = [3usize, 3, 7, 3, 7];
        let i2c_tx: Vec<_> = classes
            .iter()
            .map(|&c| I2cTx::write_read(ADDRESS, vec![PIXEL_REGISTER], frame_bytes(&bright_at(c))))
            .collect();
        let mut pin_tx = Vec::new();
        let mut delay_tx = Vec::new();
        for _ in 0..4 {
            delay_tx.push(DelayTx::delay_ms(250));
        }
        for _ in 0..4 {
            pin_tx.push(PinTx::set(State::High));
            pin_tx.push(PinTx::set(State::Low));
            delay_tx.push(DelayTx::delay_ms(100));
            delay_tx.push(DelayTx::delay_ms(100));
        }
        delay_tx.push(DelayTx::delay_ms(250));
        let i2c = I2cMock::new(&i2c_tx);
        let pin = PinMock::new(&pin_tx);
        let delay = CheckedDelay::new(&delay_tx);
        let mut app = App::new(i2c, delay, pin, Brightest, 12, timing());
        for (k, &c) in classes.iter().enumerate() {
            let step = app.step().unwrap();
            assert_eq!(step.class, c as u8);
            assert_eq!(step.shown, if k == 4 { Some(3) } else { None });
        }
        let (mut i2c, mut delay, mut pin, _) = app.release();
        i2c.done();
        delay.done();
        pin.done();
    }

    #[test]
    fn sensor_errors_are_reported_as_sensor_errors() {
        use embedded_hal::i2c::ErrorKind;
        let i2c =
            I2cMock::new(&[
                I2cTx::write_read(ADDRESS, vec![PIXEL_REGISTER], vec![0; 2 * PIXELS])
                    .with_error(ErrorKind::Bus),
            ]);
        let mut app = App::new(i2c, NoopDelay, PinMock::new(&[]), Brightest, 12, timing());
        assert_eq!(app.step(), Err(AppError::Sensor(ErrorKind::Bus)));
        let (mut i2c, _, mut pin, _) = app.release();
        i2c.done();
        pin.done();
    }

    #[test]
    fn vote_prefers_the_majority_then_the_most_recent() {
        let mut w: HistoryBuffer<u8, 5> = HistoryBuffer::new();
        for c in [1, 2, 2, 1, 5] {
            w.write(c);
        }
        // 1 and 2 tie at two each; 1 was seen last.
        assert_eq!(vote(&w), 1);
        w.write(2);
        assert_eq!(vote(&w), 2);
    }
}
