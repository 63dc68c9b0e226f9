//! Argmax over int8 codes: the class decision of a quantized classifier.

/// Index of the largest code; the first one on ties (TFLite `ARG_MAX`,
/// NumPy `argmax`). `None` for an empty slice.
pub fn argmax_i8(x: &[i8]) -> Option<usize> {
    let mut best: Option<(usize, i8)> = None;
    for (i, &v) in x.iter().enumerate() {
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_maximum_wins() {
        assert_eq!(argmax_i8(&[]), None);
        assert_eq!(argmax_i8(&[-128]), Some(0));
        assert_eq!(argmax_i8(&[1, 5, 5, -2]), Some(1));
        assert_eq!(argmax_i8(&[-128, -128, 127]), Some(2));
    }
}
