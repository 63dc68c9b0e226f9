//! Calibration: the real range of every activation tensor over a data set,
//! and TFLite's choice of (scale, zero point) for a range.

/// How a tensor's range is taken from the calibration data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// The smallest and largest value seen.
    MinMax,
    /// The `p`-th percentile of the values and the `(100 − p)`-th (e.g.
    /// 99.99), which ignores rare outliers at the cost of clipping them.
    Percentile(f64),
}

impl Calibration {
    /// The name recorded in the model file.
    pub fn name(&self) -> &'static str {
        match self {
            Calibration::MinMax => "minmax",
            Calibration::Percentile(_) => "percentile",
        }
    }
}

/// Values seen on one tensor.
#[derive(Debug, Clone)]
pub struct TensorStats {
    min: f32,
    max: f32,
    values: Option<Vec<f32>>,
}

impl TensorStats {
    /// Empty statistics; `keep_values` for percentile calibration.
    pub fn new(keep_values: bool) -> TensorStats {
        TensorStats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            values: keep_values.then(Vec::new),
        }
    }

    /// Records a tensor's values.
    pub fn observe(&mut self, xs: &[f32]) {
        for &x in xs {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        if let Some(v) = &mut self.values {
            v.extend_from_slice(xs);
        }
    }

    /// The calibrated range `(lo, hi)`, not yet widened to include 0.
    pub fn range(&self, how: Calibration) -> (f32, f32) {
        match (how, &self.values) {
            (Calibration::Percentile(p), Some(v)) if !v.is_empty() => {
                let mut v = v.clone();
                v.sort_by(f32::total_cmp);
                let at = |q: f64| {
                    let i = (q.clamp(0.0, 1.0) * (v.len() - 1) as f64).round() as usize;
                    v[i.min(v.len() - 1)]
                };
                (at(1.0 - p / 100.0), at(p / 100.0))
            }
            _ => (self.min, self.max),
        }
    }
}

/// TFLite's `ChooseQuantizationParams` for int8: the range is widened to
/// include 0 (so that 0 is exact, as zero padding and ReLU need), the scale
/// is `(max − min)/255` in f64, and the zero point is taken from whichever
/// end gives the smaller rounding error, then rounded and clamped
/// ("nudged"). An empty or degenerate range gets scale 1/255 over [0, 1].
pub fn choose_params(lo: f32, hi: f32) -> axon_core::quant::QuantParams {
    let (qmin, qmax) = (-128.0f64, 127.0f64);
    let mut rmin = (lo as f64).min(0.0);
    let mut rmax = (hi as f64).max(0.0);
    if !rmin.is_finite() || !rmax.is_finite() || rmax - rmin < 1e-30 {
        rmin = 0.0;
        rmax = 1.0;
    }
    let scale = (rmax - rmin) / (qmax - qmin);
    let zp_from_min = qmin - rmin / scale;
    let zp_from_max = qmax - rmax / scale;
    let err_min = qmin.abs() + (rmin / scale).abs();
    let err_max = qmax.abs() + (rmax / scale).abs();
    let zp = if err_min < err_max {
        zp_from_min
    } else {
        zp_from_max
    };
    let nudged = if zp < qmin {
        qmin
    } else if zp > qmax {
        qmax
    } else {
        zp.round()
    };
    axon_core::quant::QuantParams::new(scale as f32, nudged as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_includes_zero_and_zero_is_exact() {
        let p = choose_params(0.5, 2.0);
        assert_eq!(p.zero_point, -128);
        assert_eq!(p.dequantize(-128), 0.0);
        let p = choose_params(-1.0, 1.0);
        assert_eq!(p.quantize(0.0) as i32, p.zero_point);
        assert!((p.scale - 2.0 / 255.0).abs() < 1e-9);
        let p = choose_params(-3.0, -1.0);
        assert_eq!(p.zero_point, 127);
    }

    #[test]
    fn degenerate_ranges_get_a_usable_scale() {
        for (lo, hi) in [(0.0, 0.0), (f32::INFINITY, f32::NEG_INFINITY)] {
            let p = choose_params(lo, hi);
            assert!(p.is_valid(), "{lo} {hi}: {p:?}");
        }
    }

    #[test]
    fn percentile_clips_outliers() {
        let mut s = TensorStats::new(true);
        let mut xs: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
        xs.push(1000.0);
        s.observe(&xs);
        let (lo, hi) = s.range(Calibration::Percentile(99.9));
        assert!(hi < 1.0 && lo < 0.01, "{lo} {hi}");
        assert_eq!(s.range(Calibration::MinMax), (0.0, 1000.0));
    }
}
