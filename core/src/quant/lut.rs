//! int8 element-wise activations as 256-entry lookup tables.
//!
//! The table is built once on the host from the input and output
//! quantization parameters, exactly as TFLite's `PopulateLookupTable`:
//! for every code `q`, dequantize, apply the f32 function, multiply by
//! `1/output_scale`, round half away from zero, add the output zero point,
//! clamp. On the device an activation is then one load per element.
//! The entry for code `q` sits at index `q as u8` (TFLite's layout).

use super::QuantParams;

/// TFLite's fixed output parameters for int8 sigmoid: range [0, 1).
pub const SIGMOID_OUTPUT: QuantParams = QuantParams::new(1.0 / 256.0, -128);
/// TFLite's fixed output parameters for int8 tanh: range [−1, 1).
pub const TANH_OUTPUT: QuantParams = QuantParams::new(1.0 / 128.0, 0);

/// A 256-entry int8 → int8 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lut<'a> {
    /// Entry for input code `q` at index `q as u8`.
    pub table: &'a [i8; 256],
}

impl<'a> Lut<'a> {
    /// Wraps a table.
    pub const fn new(table: &'a [i8; 256]) -> Self {
        Lut { table }
    }

    /// Maps one code.
    #[inline(always)]
    pub fn apply(&self, q: i8) -> i8 {
        self.table[q as u8 as usize]
    }

    /// Maps `x` into `y` element by element (zipped; the shorter bounds it).
    pub fn apply_slice(&self, x: &[i8], y: &mut [i8]) {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = self.apply(xi);
        }
    }
}

/// Builds the table of `f` for the given input and output parameters
/// (TFLite `PopulateLookupTable`, f32 arithmetic throughout).
pub fn build_table(input: QuantParams, output: QuantParams, f: impl Fn(f32) -> f32) -> [i8; 256] {
    let inverse_scale = 1.0 / output.scale;
    let mut table = [0i8; 256];
    for val in -128i32..=127 {
        let dequantized = input.scale * (val - input.zero_point) as f32;
        let transformed = f(dequantized);
        let rescaled = libm::roundf(transformed * inverse_scale);
        // `as i32` saturates (NaN → 0), so the clamp below sees a finite value.
        let quantized = (rescaled + output.zero_point as f32) as i32;
        table[val as i8 as u8 as usize] = quantized.clamp(-128, 127) as i8;
    }
    table
}

/// The int8 sigmoid table for an input with parameters `input`; the output
/// has [`SIGMOID_OUTPUT`] parameters.
pub fn sigmoid_table(input: QuantParams) -> [i8; 256] {
    build_table(input, SIGMOID_OUTPUT, crate::activations::sigmoid)
}

/// The int8 tanh table for an input with parameters `input`; the output has
/// [`TANH_OUTPUT`] parameters.
pub fn tanh_table(input: QuantParams) -> [i8; 256] {
    build_table(input, TANH_OUTPUT, crate::activations::tanh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_table_tracks_the_f32_function() {
        let input = QuantParams::new(0.05, 3);
        let t = sigmoid_table(input);
        let lut = Lut::new(&t);
        for q in -128i32..=127 {
            let x = input.dequantize(q as i8);
            let want = crate::activations::sigmoid(x);
            let got = SIGMOID_OUTPUT.dequantize(lut.apply(q as i8));
            // One output step of rounding, plus the clamp of 1.0 to 255/256.
            assert!(
                (got - want).abs() <= SIGMOID_OUTPUT.scale,
                "q {q}: {got} vs {want}"
            );
        }
        // Monotone, and saturates at both ends.
        for q in -128i32..127 {
            assert!(lut.apply(q as i8) <= lut.apply((q + 1) as i8));
        }
    }

    #[test]
    fn tanh_table_is_odd_around_the_zero_point() {
        let input = QuantParams::new(0.03, 0);
        let t = tanh_table(input);
        let lut = Lut::new(&t);
        assert_eq!(lut.apply(0), 0);
        // Below saturation (tanh(3.0)·128 = 127.4), tanh(−x) = −tanh(x) and
        // rounding half away from zero keep the table odd.
        for q in 1..=100i32 {
            assert_eq!(lut.apply(-q as i8), -lut.apply(q as i8), "q {q}");
        }
        // tanh(3.81)·128 = 127.9 rounds to 128 and clamps; −127.9 → −128.
        assert_eq!(lut.apply(127), 127);
        assert_eq!(lut.apply(-128), -128);
    }

    #[test]
    fn table_layout_is_indexed_by_the_code_as_u8() {
        let t = build_table(QuantParams::new(1.0, 0), QuantParams::new(1.0, 0), |x| x);
        // Identity: entry at index (q as u8) is q.
        for q in -128i32..=127 {
            assert_eq!(t[q as i8 as u8 as usize], q as i8);
        }
    }
}
