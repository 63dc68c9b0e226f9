//! A whole int8 model: input preprocessing and quantization, a chain of
//! int8 layers, dequantization. Runs with a caller-provided scratch buffer
//! and never allocates.

use super::layer::Layer;
use crate::blob::LayerTable;
use crate::quant::QuantParams;
use crate::Error;

/// Per-feature standardisation applied to the float input before it is
/// quantized: `x' = (x − mean) / std`, in f32, one feature at a time.
#[derive(Debug, Clone, Copy)]
pub struct Standardize<'a> {
    /// `(input_len,)`.
    pub mean: &'a [f32],
    /// `(input_len,)`, every entry finite and non-zero.
    pub std: &'a [f32],
}

impl Standardize<'_> {
    /// Standardises feature `i`; a feature without a mean/std passes through.
    #[inline]
    pub fn apply(&self, i: usize, x: f32) -> f32 {
        match (self.mean.get(i), self.std.get(i)) {
            (Some(&m), Some(&s)) => (x - m) / s,
            _ => x,
        }
    }
}

/// Where a model's layers live: a slice (a `static` from the Rust-source
/// export, or host memory), or a validated blob's layer table in flash.
#[derive(Debug, Clone, Copy)]
pub enum Layers<'a> {
    /// Layers as values.
    Slice(&'a [Layer<'a>]),
    /// Layers decoded on demand from a blob's layer table.
    Blob(LayerTable<'a>),
}

impl<'a> Layers<'a> {
    /// Number of layers.
    pub fn len(&self) -> usize {
        match self {
            Layers::Slice(s) => s.len(),
            Layers::Blob(t) => t.len(),
        }
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Layer `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Layer<'a>> {
        match self {
            Layers::Slice(s) => s.get(i).copied(),
            Layers::Blob(t) => t.get(i),
        }
    }
}

/// An int8 model: float in → standardise → quantize → int8 layers →
/// int8 codes and dequantized floats out.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    /// Number of input features.
    pub input_len: usize,
    /// Number of outputs.
    pub output_len: usize,
    /// Standardisation of the float input, if the model was trained with it.
    pub preprocess: Option<Standardize<'a>>,
    /// Quantization of the (standardised) input.
    pub input: QuantParams,
    /// Quantization of the output (the last layer's output parameters).
    pub output: QuantParams,
    /// The layers, first to last.
    pub layers: Layers<'a>,
}

impl<'a> Model<'a> {
    /// The widest tensor in the chain (input included).
    pub fn max_width(&self) -> usize {
        let widest = match self.layers {
            // By reference: copying each layer out costs more than the max.
            Layers::Slice(s) => s.iter().map(Layer::output_len).max(),
            Layers::Blob(t) => (0..t.len()).filter_map(|i| t.output_len(i)).max(),
        };
        self.input_len.max(widest.unwrap_or(0))
    }

    /// The scratch buffer [`run`](Self::run) and [`run_i8`](Self::run_i8)
    /// need, in bytes (= `i8` elements): two activation buffers of the
    /// widest tensor, used in turn.
    pub fn scratch_len(&self) -> usize {
        self.max_width().saturating_mul(2)
    }

    /// Checks that the model is well formed: at least one layer, every
    /// layer consistent, widths chaining from the input to the output, each
    /// fully connected layer's input offset equal to minus the zero point
    /// of the tensor before it, a softmax's exponential table (if any) the
    /// one its parameters define, and the output parameters those of the
    /// last layer. A blob is checked by its parser; call this on models built
    /// any other way.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.input.is_valid() || self.input_len == 0 {
            return Err(Error::InvalidLayer { index: 0 });
        }
        if let Some(p) = &self.preprocess {
            if p.mean.len() != self.input_len || p.std.len() != self.input_len {
                return Err(Error::ShapeMismatch {
                    expected: self.input_len,
                    found: p.mean.len(),
                });
            }
        }
        let n = self.layers.len();
        if n == 0 {
            return Err(Error::InvalidLayer { index: 0 });
        }
        let mut width = self.input_len;
        let mut params = self.input;
        for index in 0..n {
            let l = self
                .layers
                .get(index)
                .ok_or(Error::InvalidLayer { index })?;
            if !l.is_consistent() || l.input_len() != width || !l.exp_table_matches() {
                return Err(Error::InvalidLayer { index });
            }
            if let Layer::FullyConnected(fc) = &l {
                if fc.input_offset != -params.zero_point {
                    return Err(Error::InvalidLayer { index });
                }
            }
            width = l.output_len();
            params = l.output_params();
        }
        if width != self.output_len || params != self.output {
            return Err(Error::InvalidLayer { index: n - 1 });
        }
        Ok(())
    }

    /// Runs the int8 layers on input codes `x` (`input_len`), writing the
    /// output codes to `y` (`output_len`). `scratch` needs at least
    /// [`scratch_len`](Self::scratch_len) bytes.
    pub fn run_i8(&self, x: &[i8], scratch: &mut [i8], y: &mut [i8]) -> Result<(), Error> {
        if x.len() != self.input_len {
            return Err(Error::ShapeMismatch {
                expected: self.input_len,
                found: x.len(),
            });
        }
        let w = self.max_width();
        let (a, _) = Self::split(scratch, w)?;
        a[..x.len()].copy_from_slice(x);
        self.run_from_scratch(scratch, y, w)
    }

    /// The whole pipeline on a float input `x` (`input_len`): standardise,
    /// quantize, run, then write the output codes to `y_codes` and their
    /// dequantized values to `y` (both `output_len`).
    pub fn run(
        &self,
        x: &[f32],
        scratch: &mut [i8],
        y_codes: &mut [i8],
        y: &mut [f32],
    ) -> Result<(), Error> {
        if x.len() != self.input_len {
            return Err(Error::ShapeMismatch {
                expected: self.input_len,
                found: x.len(),
            });
        }
        if y.len() != self.output_len {
            return Err(Error::ShapeMismatch {
                expected: self.output_len,
                found: y.len(),
            });
        }
        // The widest tensor once per inference, not once per stage.
        let w = self.max_width();
        self.quantize_into(x, scratch, w)?;
        self.run_from_scratch(scratch, y_codes, w)?;
        self.output.dequantize_slice(y_codes, y);
        Ok(())
    }

    /// Splits `scratch` into the two activation buffers of `w` bytes (`w`
    /// is [`max_width`](Self::max_width)).
    fn split(scratch: &mut [i8], w: usize) -> Result<(&mut [i8], &mut [i8]), Error> {
        let needed = w.saturating_mul(2);
        if scratch.len() < needed {
            return Err(Error::ScratchTooSmall {
                needed,
                found: scratch.len(),
            });
        }
        let (a, rest) = scratch.split_at_mut(w);
        Ok((a, &mut rest[..w]))
    }

    /// Runs the layers on the input codes already in the first scratch
    /// buffer, ping-ponging between the two, and copies the result to `y`.
    fn run_from_scratch(&self, scratch: &mut [i8], y: &mut [i8], w: usize) -> Result<(), Error> {
        if y.len() != self.output_len {
            return Err(Error::ShapeMismatch {
                expected: self.output_len,
                found: y.len(),
            });
        }
        let (out, _) = self.forward_in_scratch(scratch, w)?;
        match out.get(..y.len()) {
            Some(out) => {
                y.copy_from_slice(out);
                Ok(())
            }
            None => Err(Error::ShapeMismatch {
                expected: y.len(),
                found: out.len(),
            }),
        }
    }

    /// Runs every layer in `scratch`; returns the final output and the last
    /// layer's input, both still in the scratch buffers.
    fn forward_in_scratch<'s>(
        &self,
        scratch: &'s mut [i8],
        w: usize,
    ) -> Result<(&'s [i8], &'s [i8]), Error> {
        let (mut src, mut dst) = Self::split(scratch, w)?;
        let mut width = self.input_len;
        let mut prev_width = width;
        let mut step = |index: usize, l: &Layer<'_>| -> Result<(), Error> {
            if l.input_len() != width {
                return Err(Error::InvalidLayer { index });
            }
            let out = l.output_len();
            match (src.get(..width), dst.get_mut(..out)) {
                (Some(x), Some(o)) => l.run(x, o)?,
                _ => return Err(Error::InvalidLayer { index }),
            }
            core::mem::swap(&mut src, &mut dst);
            prev_width = width;
            width = out;
            Ok(())
        };
        match self.layers {
            // Slice layers by reference (no copy per layer per inference).
            Layers::Slice(s) => {
                for (index, l) in s.iter().enumerate() {
                    step(index, l)?;
                }
            }
            Layers::Blob(t) => {
                for index in 0..t.len() {
                    let l = t.get(index).ok_or(Error::InvalidLayer { index })?;
                    step(index, &l)?;
                }
            }
        }
        if width != self.output_len {
            return Err(Error::ShapeMismatch {
                expected: self.output_len,
                found: width,
            });
        }
        let src: &'s [i8] = src;
        let dst: &'s [i8] = dst;
        match (src.get(..width), dst.get(..prev_width)) {
            (Some(o), Some(i)) => Ok((o, i)),
            _ => Err(Error::ShapeMismatch {
                expected: width,
                found: src.len(),
            }),
        }
    }

    /// The predicted class of a float input: the arg-max (first maximum
    /// wins) of the codes entering a final softmax, which is monotone and
    /// whose 1/256 output steps can tie two close classes; otherwise of the
    /// output codes. A single output is a binary classifier: class 1 when
    /// its dequantized value is ≥ 0.5.
    pub fn classify(&self, x: &[f32], scratch: &mut [i8]) -> Result<usize, Error> {
        let w = self.max_width();
        self.quantize_into(x, scratch, w)?;
        let last_is_softmax = matches!(
            self.layers.get(self.layers.len().wrapping_sub(1)),
            Some(Layer::Softmax { .. })
        );
        let (out, last_in) = self.forward_in_scratch(scratch, w)?;
        if let [single] = out {
            return Ok(usize::from(self.output.dequantize(*single) >= 0.5));
        }
        let codes = if last_is_softmax { last_in } else { out };
        crate::quant::argmax_i8(codes).ok_or(Error::ShapeMismatch {
            expected: 1,
            found: 0,
        })
    }

    /// Standardises and quantizes `x` (`input_len`) into the first
    /// `input_len` bytes of `scratch` (at least
    /// [`scratch_len`](Self::scratch_len) long): the first stage of
    /// [`run`](Self::run), public so that it can be timed on its own.
    pub fn quantize_input(&self, x: &[f32], scratch: &mut [i8]) -> Result<(), Error> {
        self.quantize_into(x, scratch, self.max_width())
    }

    /// [`quantize_input`](Self::quantize_input) with the widest tensor `w`
    /// already known.
    fn quantize_into(&self, x: &[f32], scratch: &mut [i8], w: usize) -> Result<(), Error> {
        if x.len() != self.input_len {
            return Err(Error::ShapeMismatch {
                expected: self.input_len,
                found: x.len(),
            });
        }
        let (a, _) = Self::split(scratch, w)?;
        let input = self.input;
        match &self.preprocess {
            // The common case, as one pass over four slices.
            Some(p) if p.mean.len() >= x.len() && p.std.len() >= x.len() => {
                for (((q, &v), &m), &s) in a.iter_mut().zip(x).zip(p.mean).zip(p.std) {
                    *q = input.quantize((v - m) / s);
                }
            }
            Some(p) => {
                for (i, (q, &v)) in a.iter_mut().zip(x).enumerate() {
                    *q = input.quantize(p.apply(i, v));
                }
            }
            None => input.quantize_slice(x, a),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int8::{FullyConnected, LutKind, LutLayer};
    use crate::quant::lut::{sigmoid_table, SIGMOID_OUTPUT};
    use crate::quant::QuantParams;

    // 3 → 2 (fused ReLU) → sigmoid table.
    static W: [i8; 6] = [127, -64, 0, -127, 32, 5];
    static B: [i32; 2] = [100, -3000];
    static M: [i32; 1] = [1 << 30];
    static S: [i32; 1] = [-6];
    static MEAN: [f32; 3] = [0.5, 0.0, -1.0];
    static STD: [f32; 3] = [2.0, 1.0, 0.5];
    const INPUT: QuantParams = QuantParams::new(0.02, -10);
    const HIDDEN: QuantParams = QuantParams::new(0.05, -128);

    fn layers(table: &[i8; 256]) -> [Layer<'_>; 2] {
        [
            Layer::FullyConnected(FullyConnected {
                input_len: 3,
                output_len: 2,
                weights: &W,
                bias: &B,
                multiplier: &M,
                shift: &S,
                input_offset: 10,
                output: HIDDEN,
                act_min: -128,
                act_max: 127,
                row_sums: None,
                rounding: crate::quant::Rounding::Double,
            }),
            Layer::Lut(LutLayer {
                kind: LutKind::Sigmoid,
                len: 2,
                table,
                output: SIGMOID_OUTPUT,
            }),
        ]
    }

    fn model<'a>(layers: &'a [Layer<'a>]) -> Model<'a> {
        Model {
            input_len: 3,
            output_len: 2,
            preprocess: Some(Standardize {
                mean: &MEAN,
                std: &STD,
            }),
            input: INPUT,
            output: SIGMOID_OUTPUT,
            layers: Layers::Slice(layers),
        }
    }

    #[test]
    fn runs_the_chain_step_by_step() {
        let table = sigmoid_table(HIDDEN);
        let ls = layers(&table);
        let m = model(&ls);
        m.validate().unwrap();
        assert_eq!(m.scratch_len(), 6);
        let x = [1.3f32, -0.4, -0.9];
        // By hand: standardise, quantize, FC, table.
        let xq: [i8; 3] = core::array::from_fn(|i| INPUT.quantize((x[i] - MEAN[i]) / STD[i]));
        let mut h = [0i8; 2];
        ls[0].run(&xq, &mut h).unwrap();
        let want = [table[h[0] as u8 as usize], table[h[1] as u8 as usize]];
        let mut scratch = [0i8; 6];
        let (mut codes, mut y) = ([0i8; 2], [0f32; 2]);
        m.run(&x, &mut scratch, &mut codes, &mut y).unwrap();
        assert_eq!(codes, want);
        assert_eq!(
            y,
            [
                SIGMOID_OUTPUT.dequantize(want[0]),
                SIGMOID_OUTPUT.dequantize(want[1])
            ]
        );
        let mut codes2 = [0i8; 2];
        m.run_i8(&xq, &mut scratch, &mut codes2).unwrap();
        assert_eq!(codes2, want);
        let class = m.classify(&x, &mut scratch).unwrap();
        assert_eq!(class, if want[1] > want[0] { 1 } else { 0 });
    }

    #[test]
    fn wrong_sizes_are_errors_not_panics() {
        let table = sigmoid_table(HIDDEN);
        let ls = layers(&table);
        let m = model(&ls);
        let (mut codes, mut y) = ([0i8; 2], [0f32; 2]);
        let mut small = [0i8; 5];
        assert_eq!(
            m.run(&[0.0; 3], &mut small, &mut codes, &mut y),
            Err(Error::ScratchTooSmall {
                needed: 6,
                found: 5
            })
        );
        let mut scratch = [0i8; 8];
        assert!(m.run(&[0.0; 2], &mut scratch, &mut codes, &mut y).is_err());
        assert!(m
            .run(&[0.0; 3], &mut scratch, &mut codes[..1], &mut y)
            .is_err());
        assert!(m.run_i8(&[0; 4], &mut scratch, &mut codes).is_err());
    }

    #[test]
    fn validate_catches_broken_chains() {
        let table = sigmoid_table(HIDDEN);
        let mut ls = layers(&table);
        if let Layer::FullyConnected(fc) = &mut ls[0] {
            fc.input_offset = 11; // not −(input zero point)
        }
        assert_eq!(model(&ls).validate(), Err(Error::InvalidLayer { index: 0 }));
        let ls = layers(&table);
        let mut m = model(&ls);
        m.output = HIDDEN;
        assert_eq!(m.validate(), Err(Error::InvalidLayer { index: 1 }));
        let mut m = model(&ls);
        m.layers = Layers::Slice(&[]);
        assert_eq!(m.validate(), Err(Error::InvalidLayer { index: 0 }));
    }

    #[test]
    fn softmax_exp_tables_are_checked_and_give_the_same_bits() {
        use crate::quant::softmax::{softmax_exp_table, SoftmaxParams, SOFTMAX_OUTPUT};
        let params = SoftmaxParams::from_input_scale(HIDDEN.scale, 1.0).unwrap();
        let table = softmax_exp_table(&params);
        let mut wrong = table;
        wrong[200] ^= 1;
        fn with(params: SoftmaxParams, t: Option<&[i32]>) -> Layer<'_> {
            Layer::Softmax {
                len: 2,
                params,
                exp_table: t,
            }
        }
        let lut = sigmoid_table(HIDDEN);
        let fc = layers(&lut)[0];
        let mut outs = [[0i8; 2]; 2];
        let n = crate::quant::exp_table_len(&table);
        for (out, t) in outs.iter_mut().zip([None, Some(&table[..n])]) {
            let ls = [fc, with(params, t)];
            let mut m = model(&ls);
            m.output = SOFTMAX_OUTPUT;
            m.validate().unwrap();
            let mut scratch = [0i8; 6];
            m.run(&[1.3, -0.4, -0.9], &mut scratch, out, &mut [0.0; 2])
                .unwrap();
        }
        assert_eq!(outs[0], outs[1]);
        let ls = [fc, with(params, Some(&wrong[..]))];
        let mut m = model(&ls);
        m.output = SOFTMAX_OUTPUT;
        assert_eq!(m.validate(), Err(Error::InvalidLayer { index: 1 }));
    }
}
