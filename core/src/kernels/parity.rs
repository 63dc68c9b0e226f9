//! Parity of every SIMD twin this machine runs with the scalar references,
//! in the core itself so that the same sweep runs natively (AVX2, AVX-512)
//! and cross-compiled under qemu-aarch64 (NEON). The cross-crate tests in
//! `tests/simd_*.rs` add the public entry points, the big shapes and the
//! `AXON_REQUIRE_KERNELS` check.

extern crate std;
use super::kernel::{Kernel, KernelId, Scalar};
use super::reference::i8::FullyConnectedParams;
use crate::quant::quantize_multiplier;
use proptest::prelude::*;
use std::boxed::Box;
use std::vec::Vec;

/// A kernel behind a trait object, so one test can loop over all of them.
trait Dyn {
    fn id(&self) -> KernelId;
    fn dot(&self, a: &[f32], b: &[f32]) -> f32;
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]);
    fn fc(
        &self,
        w: &[i8],
        x: &[i8],
        b: &[i32],
        s: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    );
    fn relu(&self, xs: &mut [f32]);
    fn act(&self, which: usize, xs: &mut [f32]);
    fn fc_packed(
        &self,
        w: &[i8],
        x: &[i8],
        b: &[i32],
        s: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    );
}

impl<K: Kernel> Dyn for K {
    fn id(&self) -> KernelId {
        K::ID
    }
    fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        self.dot_f32(a, b)
    }
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        self.gemv_f32(w, x, b, y)
    }
    fn fc(
        &self,
        w: &[i8],
        x: &[i8],
        b: &[i32],
        s: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        self.fully_connected_i8(w, x, b, s, p, y)
    }
    fn relu(&self, xs: &mut [f32]) {
        self.relu_f32(xs)
    }
    fn act(&self, which: usize, xs: &mut [f32]) {
        match which {
            0 => self.sigmoid_f32(xs),
            1 => self.silu_f32(xs),
            2 => self.tanh_f32(xs),
            3 => self.gelu_tanh_f32(xs),
            _ => self.softmax_f32(xs),
        }
    }
    fn fc_packed(
        &self,
        w: &[i8],
        x: &[i8],
        b: &[i32],
        s: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        self.fully_connected_i8_packed(w, x, b, s, p, y)
    }
}

/// Every SIMD kernel this CPU runs, detected here with `std` (the core's
/// own `detect()` only looks at `cfg(target_feature)` without `std`).
fn simd_kernels() -> Vec<Box<dyn Dyn>> {
    #[allow(unused_mut)]
    let mut v: Vec<Box<dyn Dyn>> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            // SAFETY: AVX2 and FMA detected just above.
            v.push(Box::new(unsafe { super::avx2::Avx2::new_unchecked() }));
        }
        if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni") {
            // SAFETY: AVX-512 F/BW/VL/VNNI detected just above (they imply AVX2, FMA).
            v.push(Box::new(unsafe { super::avx512::Avx512::new_unchecked() }));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            // SAFETY: NEON detected just above.
            v.push(Box::new(unsafe { super::neon::Neon::new_unchecked() }));
        }
    }
    // A list that names a kernel this machine lacks fails here, loudly.
    for want in required() {
        assert!(
            want == KernelId::Scalar || v.iter().any(|k| k.id() == want),
            "AXON_REQUIRE_KERNELS lists `{want}`, which cannot run on this machine"
        );
    }
    v
}

/// The kernels `AXON_REQUIRE_KERNELS` lists (comma-separated names, as
/// [`KernelId::parse`] reads them); an unknown name fails the test.
fn required() -> Vec<KernelId> {
    std::env::var("AXON_REQUIRE_KERNELS")
        .map(|list| {
            list.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|n| KernelId::parse(n).expect("AXON_REQUIRE_KERNELS: unknown kernel name"))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether kernel `id` runs on this CPU (detected at run time with
/// `std`, as [`simd_kernels`] does): a test of one kernel's fast path runs
/// it only then, and fails when `AXON_REQUIRE_KERNELS` lists `id` but the
/// CPU lacks it.
pub(crate) fn runs(id: KernelId) -> bool {
    let here = id == KernelId::Scalar || simd_kernels().iter().any(|k| k.id() == id);
    assert!(
        here || !required().contains(&id),
        "AXON_REQUIRE_KERNELS lists `{id}`, which cannot run on this machine"
    );
    here
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// xorshift64*: deterministic data for the exhaustive length sweeps.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

const SPECIALS: [f32; 14] = [
    0.0,
    -0.0,
    1.0e-40,  // subnormal
    -1.0e-40, // subnormal
    f32::MIN_POSITIVE,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MAX,
    f32::MIN,
    1.0e30,
    -1.0e30,
    1.0,
    -1.0,
];

fn special_or_unit(rng: &mut Rng, special_per_64: u64) -> f32 {
    if rng.next() % 64 < special_per_64 {
        SPECIALS[(rng.next() % SPECIALS.len() as u64) as usize]
    } else {
        rng.unit()
    }
}

fn f32_strategy() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -2.0f32..2.0,
        1 => proptest::sample::select(&SPECIALS[..]),
        1 => any::<u32>().prop_map(f32::from_bits),
    ]
}

#[test]
fn simd_dot_f32_equals_scalar_for_every_length_0_to_1100() {
    let ks = simd_kernels();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for n in 0..=1100usize {
        for special in [0u64, 2] {
            let a: Vec<f32> = (0..n).map(|_| special_or_unit(&mut rng, special)).collect();
            let b: Vec<f32> = (0..n).map(|_| special_or_unit(&mut rng, special)).collect();
            let want = Scalar.dot_f32(&a, &b);
            for k in &ks {
                let got = k.dot(&a, &b);
                assert!(same(got, want), "{} n={n}: {got:e} vs {want:e}", k.id());
            }
        }
    }
}

#[test]
fn simd_gemv_f32_equals_scalar_on_odd_shapes() {
    let ks = simd_kernels();
    let mut rng = Rng(42);
    let shapes = [
        (1, 1),
        (9, 10),
        (10, 9),
        (42, 1),
        (1, 42),
        (4, 16),
        (8, 16),
        (17, 33),
        (23, 64),
        (64, 64),
        (7, 1100),
        (3, 0),
        (0, 5),
    ];
    for &(rows, cols) in &shapes {
        for special in [0u64, 3] {
            let w: Vec<f32> = (0..rows * cols)
                .map(|_| special_or_unit(&mut rng, special))
                .collect();
            let x: Vec<f32> = (0..cols)
                .map(|_| special_or_unit(&mut rng, special))
                .collect();
            let b: Vec<f32> = (0..rows)
                .map(|_| special_or_unit(&mut rng, special))
                .collect();
            let mut want = std::vec![0.0f32; rows];
            Scalar.gemv_f32(&w, &x, &b, &mut want);
            for k in &ks {
                let mut got = std::vec![7.0f32; rows];
                k.gemv(&w, &x, &b, &mut got);
                for (o, (g, e)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        same(*g, *e),
                        "{} {rows}x{cols} row {o}: {g:e} vs {e:e}",
                        k.id()
                    );
                }
            }
        }
    }
}

#[test]
fn simd_relu_equals_scalar_for_every_length_and_special() {
    let ks = simd_kernels();
    let mut rng = Rng(7);
    for n in 0..=100usize {
        let xs: Vec<f32> = (0..n).map(|_| special_or_unit(&mut rng, 16)).collect();
        let mut want = xs.clone();
        Scalar.relu_f32(&mut want);
        for k in &ks {
            let mut got = xs.clone();
            k.relu(&mut got);
            for (g, e) in got.iter().zip(&want) {
                // ReLU moves bits, so even NaN payloads must agree.
                assert_eq!(g.to_bits(), e.to_bits(), "{} n={n}", k.id());
            }
        }
    }
}

#[test]
fn simd_sigmoid_silu_tanh_gelu_softmax_equal_scalar_for_every_length_and_special() {
    let ks = simd_kernels();
    let mut rng = Rng(11);
    for n in 0..=70usize {
        for spread in [1.0f32, 30.0, 120.0] {
            let xs: Vec<f32> = (0..n)
                .map(|_| special_or_unit(&mut rng, 6) * spread)
                .collect();
            for which in 0..5 {
                let mut want = xs.clone();
                Scalar.act(which, &mut want);
                for k in &ks {
                    let mut got = xs.clone();
                    k.act(which, &mut got);
                    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            same(*g, *e),
                            "{} act {which} n={n} [{i}] x={:e}: {g:e} vs {e:e}",
                            k.id(),
                            xs[i]
                        );
                    }
                }
            }
        }
    }
}

/// Requantization parameters: realistic (from `quantize_multiplier`) or
/// raw extremes, per tensor or per channel.
fn requant(rows: usize) -> impl Strategy<Value = (Vec<i32>, Vec<i32>)> {
    let one = prop_oneof![
        3 => (1.0e-6f64..4.0).prop_map(quantize_multiplier),
        1 => (any::<i32>(), -40i32..40),
        1 => (proptest::sample::select(&[i32::MIN, i32::MAX, 0, 1, -1, 1 << 30][..]),
              proptest::sample::select(&[-31, -32, 0, 30, 31, 1, -1][..])),
    ];
    prop_oneof![
        one.clone().prop_map(|(m, s)| (std::vec![m], std::vec![s])),
        proptest::collection::vec(one, rows..=rows).prop_map(|v| v.into_iter().unzip()),
    ]
}

fn i8_strategy() -> impl Strategy<Value = i8> {
    prop_oneof![6 => any::<i8>(), 1 => Just(-128i8), 1 => Just(127i8)]
}

fn i32_strategy() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -100_000i32..100_000, 1 => any::<i32>(), 1 => Just(i32::MIN), 1 => Just(i32::MAX)]
}

fn fc_case() -> impl Strategy<Value = FcCase> {
    (0usize..40, 0usize..300).prop_flat_map(|(rows, cols)| {
        (
            proptest::collection::vec(i8_strategy(), rows * cols),
            proptest::collection::vec(i8_strategy(), cols),
            proptest::collection::vec(i32_strategy(), rows),
            requant(rows.max(1)),
            prop_oneof![4 => -128i32..=128, 1 => any::<i32>(), 1 => Just(40_000i32)],
            -128i32..=127,
            (any::<i8>(), any::<i8>()),
        )
            .prop_map(
                move |(w, x, bias, (m, s), input_offset, output_offset, (lo, hi))| FcCase {
                    rows,
                    w,
                    x,
                    bias,
                    multiplier: if m.len() == 1 { m } else { m[..rows].to_vec() },
                    shift: if s.len() == 1 { s } else { s[..rows].to_vec() },
                    input_offset,
                    output_offset,
                    act: (lo.min(hi), lo.max(hi)),
                },
            )
    })
}

#[derive(Debug, Clone)]
struct FcCase {
    rows: usize,
    w: Vec<i8>,
    x: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
    input_offset: i32,
    output_offset: i32,
    act: (i8, i8),
}

/// Both requantization modes: double rounding (vectorized on AVX-512)
/// and single rounding (the scalar `requantize` in every kernel).
fn check_fc(c: &FcCase, ks: &[Box<dyn Dyn>]) -> Result<(), TestCaseError> {
    for rounding in [
        crate::quant::Rounding::Double,
        crate::quant::Rounding::Single,
    ] {
        check_fc_mode(c, ks, rounding)?;
    }
    Ok(())
}

fn check_fc_mode(
    c: &FcCase,
    ks: &[Box<dyn Dyn>],
    rounding: crate::quant::Rounding,
) -> Result<(), TestCaseError> {
    let p = FullyConnectedParams {
        input_offset: c.input_offset,
        output_offset: c.output_offset,
        multiplier: &c.multiplier,
        shift: &c.shift,
        act_min: c.act.0,
        act_max: c.act.1,
        rounding,
    };
    let mut want = std::vec![0i8; c.rows];
    Scalar.fully_connected_i8(&c.w, &c.x, &c.bias, &[], &p, &mut want);
    let mut sums = std::vec![0i32; c.rows];
    if !c.x.is_empty() {
        crate::kernels::gemv_i8::weight_row_sums(&c.w, c.x.len(), &mut sums).unwrap();
    }
    // The packed layout: the scalar reference on it first, then each kernel.
    let mut packed = std::vec![0i8; crate::kernels::packed_vnni_len(c.rows, c.x.len()).unwrap()];
    if !c.x.is_empty() {
        crate::kernels::pack_vnni(&c.w, c.x.len(), &mut packed).unwrap();
        let mut got = std::vec![0x55i8; c.rows];
        Scalar.fully_connected_i8_packed(&packed, &c.x, &c.bias, &sums, &p, &mut got);
        prop_assert_eq!(
            &got,
            &want,
            "scalar packed rows={} cols={}",
            c.rows,
            c.x.len()
        );
        for k in ks {
            let mut got = std::vec![0x55i8; c.rows];
            k.fc_packed(&packed, &c.x, &c.bias, &sums, &p, &mut got);
            prop_assert_eq!(
                &got,
                &want,
                "{} packed rows={} cols={}",
                k.id(),
                c.rows,
                c.x.len()
            );
        }
    }
    for k in ks {
        for s in [&[][..], &sums[..]] {
            let mut got = std::vec![0x55i8; c.rows];
            k.fc(&c.w, &c.x, &c.bias, s, &p, &mut got);
            prop_assert_eq!(
                &got,
                &want,
                "{} rows={} cols={} sums={}",
                k.id(),
                c.rows,
                c.x.len(),
                !s.is_empty()
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn simd_gemv_f32_equals_scalar_on_random_shapes(
        (rows, cols, w, x, b) in (0usize..24, 0usize..200).prop_flat_map(|(r, c)| (
            Just(r), Just(c),
            proptest::collection::vec(f32_strategy(), r * c),
            proptest::collection::vec(f32_strategy(), c),
            proptest::collection::vec(f32_strategy(), r),
        ))
    ) {
        let mut want = std::vec![0.0f32; rows];
        Scalar.gemv_f32(&w, &x, &b, &mut want);
        for k in &simd_kernels() {
            let mut got = std::vec![0.0f32; rows];
            k.gemv(&w, &x, &b, &mut got);
            for (g, e) in got.iter().zip(&want) {
                prop_assert!(same(*g, *e), "{} {}x{}: {:e} vs {:e}", k.id(), rows, cols, g, e);
            }
        }
    }

    #[test]
    fn simd_fully_connected_i8_equals_scalar_on_random_layers(c in fc_case()) {
        check_fc(&c, &simd_kernels())?;
    }
}

#[test]
fn simd_fully_connected_i8_equals_scalar_at_the_extremes() {
    let ks = simd_kernels();
    // All −128 or all 127 inputs and weights, every row count around the
    // 8/16-row blocks and column counts around the 16/64-byte steps, with
    // the bias at the wrapping edges.
    for rows in [1usize, 7, 8, 9, 15, 16, 17, 33] {
        for cols in [1usize, 15, 16, 17, 63, 64, 65, 127, 129, 300] {
            for (wv, xv) in [(-128i8, -128i8), (127, 127), (-128, 127), (127, -128)] {
                let (m, s) = quantize_multiplier(0.000_37);
                let mult: Vec<i32> = (0..rows).map(|r| m.wrapping_add(r as i32)).collect();
                let shift: Vec<i32> = (0..rows).map(|r| s + (r % 5) as i32 - 2).collect();
                let bias: Vec<i32> = (0..rows)
                    .map(|r| [i32::MIN, i32::MAX, 0, -12345][r % 4])
                    .collect();
                let c = FcCase {
                    rows,
                    w: std::vec![wv; rows * cols],
                    x: std::vec![xv; cols],
                    bias,
                    multiplier: mult,
                    shift,
                    input_offset: 128,
                    output_offset: -3,
                    act: (-128, 127),
                };
                check_fc(&c, &ks).unwrap();
            }
        }
    }
}

#[test]
fn kernel_names_round_trip() {
    for k in KernelId::ALL {
        assert_eq!(KernelId::parse(k.name()), Some(k));
    }
    assert_eq!(KernelId::parse(" AVX512 "), Some(KernelId::Avx512));
    assert_eq!(KernelId::parse("sse"), None);
    assert!(KernelId::Scalar.is_available());
}
