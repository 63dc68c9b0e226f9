//! f32 values through JSON, bit for bit.

/// The f32 a JSON number denotes, from serde_json's correctly rounded f64.
///
/// `p as f32` rounds twice (decimal → f64 → f32). That equals direct
/// decimal → f32 rounding unless `p` lands exactly on the midpoint between
/// two f32s (any other f32 midpoint between the decimal and `p` would be an
/// f64 closer to the decimal than `p`). At a midpoint, the file was written
/// by a shortest-round-trip printer, so the right neighbour is the one whose
/// shortest representation parses back to `p`.
pub fn f32_from_json(p: f64) -> f32 {
    let f = p as f32;
    if !f.is_finite() || f as f64 == p {
        return f;
    }
    let (lo, hi) = if (f as f64) < p {
        (f, next_up(f))
    } else {
        (next_down(f), f)
    };
    let mid = (lo as f64 + hi as f64) / 2.0; // exact: 25 significant bits
    if p != mid {
        return f;
    }
    for cand in [lo, hi] {
        if format!("{cand:?}").parse::<f64>() == Ok(p) {
            return cand;
        }
    }
    f
}

fn next_up(f: f32) -> f32 {
    if f == 0.0 {
        return f32::from_bits(1);
    }
    if f > 0.0 {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f32::from_bits(f.to_bits() - 1)
    }
}

fn next_down(f: f32) -> f32 {
    -next_up(-f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_decimals_read_back_to_the_same_bits() {
        let mut x = 1u32;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let f = f32::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            let p: f64 = format!("{f:?}").parse().unwrap();
            assert_eq!(f32_from_json(p).to_bits(), f.to_bits(), "{f:?}");
        }
    }
}
