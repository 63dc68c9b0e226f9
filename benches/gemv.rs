//! GEMV, f32 and int8, at 64×64, 256×256 and 1024×1024: the scalar reference
//! and each SIMD kernel this machine runs, and — in the same run — the crates
//! a user would pick for the same f32 work (faer, gemm, nalgebra, ndarray).
//!
//! Throughput is in multiply-accumulates (rows·cols per call), so criterion
//! prints Melem/s = MMAC/s. `clock/add_chain_4096` times 4096 dependent adds
//! (4096 core cycles) to measure the core clock for MACs per cycle;
//! `benches/report.py` turns a run into BENCHMARKS.md's table.
//!
//! Run: `cargo bench --bench gemv` (AXON_BENCH_QUICK=1 for a short run).
//!
//! The peers compute `y = W·x` (no bias: one add per row, < 2% of the work
//! at 64×64) on the same row-major (output-major) `W`, single-threaded;
//! nalgebra's `DMatrix` is column-major only, so it gets a column-major copy
//! made before timing.

use std::hint::black_box;
use std::time::Duration;

use axon::core::kernels::kernel::{Kernel, KernelId, Scalar};
use axon::core::kernels::{self, FullyConnectedParams};
use axon::core::quant::quantize_multiplier;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 3] = [64, 256, 1024];

/// Deterministic values in [-1, 1) (SplitMix64).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Every kernel this machine runs, as a name and a call through the trait.
fn each_kernel(mut f: impl FnMut(KernelId, &dyn Fn(&mut dyn FnMut(&dyn KernelCall)))) {
    f(KernelId::Scalar, &|g| g(&Scalar));
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = kernels::avx2::Avx2::detect() {
            f(KernelId::Avx2, &|g| g(&k));
        }
        if let Some(k) = kernels::avx512::Avx512::detect() {
            f(KernelId::Avx512, &|g| g(&k));
        }
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(k) = kernels::neon::Neon::detect() {
        f(KernelId::Neon, &|g| g(&k));
    }
}

/// The kernel calls the benches make, object-safe.
trait KernelCall {
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
    /// The same layer on VNNI-packed weights.
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

impl<K: Kernel> KernelCall for K {
    #[inline]
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        self.gemv_f32(w, x, b, y)
    }
    #[inline]
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
    #[inline]
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

fn config() -> Criterion {
    let quick = std::env::var_os("AXON_BENCH_QUICK").is_some();
    Criterion::default()
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 2000 }))
        .sample_size(if quick { 20 } else { 60 })
}

fn clock(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    c.bench_function("clock/add_chain_4096", |b| {
        b.iter(|| {
            let mut x: u64 = black_box(1);
            // 1024 iterations of 4 dependent 1-cycle adds: 4096 cycles of
            // latency; the loop counter runs in parallel.
            // SAFETY: register-only arithmetic, no memory access.
            unsafe {
                core::arch::asm!(
                    "2:",
                    "add {x}, 1",
                    "add {x}, 1",
                    "add {x}, 1",
                    "add {x}, 1",
                    "dec {n}",
                    "jnz 2b",
                    x = inout(reg) x,
                    n = inout(reg) 1024u64 => _,
                    options(nomem, nostack),
                );
            }
            black_box(x)
        })
    });
}

fn gemv_f32(c: &mut Criterion) {
    for n in SIZES {
        let (rows, cols) = (n, n);
        let w = values(rows * cols, 1);
        let x = values(cols, 2);
        let bias = values(rows, 3);
        let mut y = vec![0.0f32; rows];
        let mut g = c.benchmark_group(format!("gemv_f32/{n}x{n}"));
        g.throughput(Throughput::Elements((rows * cols) as u64));

        each_kernel(|id, with| {
            with(&mut |k| {
                g.bench_function(BenchmarkId::new("axon", id.name()), |b| {
                    b.iter(|| k.gemv(black_box(&w), black_box(&x), black_box(&bias), &mut y))
                });
            });
        });

        // faer: row-major W through a MatRef view, Par::Seq.
        {
            let wm = faer::MatRef::from_row_major_slice(&w, rows, cols);
            let xm = faer::MatRef::from_column_major_slice(&x, cols, 1);
            g.bench_function(BenchmarkId::new("peer", "faer"), |b| {
                b.iter(|| {
                    let ym = faer::MatMut::from_column_major_slice_mut(&mut y, rows, 1);
                    faer::linalg::matmul::matmul(
                        ym,
                        faer::Accum::Replace,
                        black_box(wm),
                        black_box(xm),
                        1.0f32,
                        faer::Par::Seq,
                    );
                })
            });
        }

        // gemm: the same row-major W (column stride 1, row stride cols).
        g.bench_function(BenchmarkId::new("peer", "gemm"), |b| {
            b.iter(|| {
                // SAFETY: every pointer/stride pair describes a live buffer of
                // the stated shape (W rows×cols row-major, x cols×1, y rows×1).
                unsafe {
                    gemm::gemm(
                        rows,
                        1,
                        cols,
                        y.as_mut_ptr(),
                        rows as isize,
                        1,
                        false,
                        black_box(w.as_ptr()),
                        1,
                        cols as isize,
                        black_box(x.as_ptr()),
                        1,
                        1,
                        0.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            })
        });

        // nalgebra: column-major DMatrix (its only layout), gemv into y.
        {
            let wm = nalgebra::DMatrix::from_row_slice(rows, cols, &w);
            let xv = nalgebra::DVector::from_column_slice(&x);
            let mut yv = nalgebra::DVector::<f32>::zeros(rows);
            g.bench_function(BenchmarkId::new("peer", "nalgebra"), |b| {
                b.iter(|| yv.gemv(1.0, black_box(&wm), black_box(&xv), 0.0))
            });
        }

        // ndarray: row-major Array2, general_mat_vec_mul into y.
        {
            let wm = ndarray::Array2::from_shape_vec((rows, cols), w.clone()).unwrap();
            let xv = ndarray::Array1::from(x.clone());
            let mut yv = ndarray::Array1::<f32>::zeros(rows);
            g.bench_function(BenchmarkId::new("peer", "ndarray"), |b| {
                b.iter(|| {
                    ndarray::linalg::general_mat_vec_mul(
                        1.0,
                        black_box(&wm),
                        black_box(&xv),
                        0.0,
                        &mut yv,
                    )
                })
            });
        }
        g.finish();
    }
}

fn gemv_i8(c: &mut Criterion) {
    for n in SIZES {
        let (rows, cols) = (n, n);
        let w: Vec<i8> = values(rows * cols, 4)
            .iter()
            .map(|v| (v * 127.0) as i8)
            .collect();
        let x: Vec<i8> = values(cols, 5).iter().map(|v| (v * 127.0) as i8).collect();
        let bias: Vec<i32> = values(rows, 6)
            .iter()
            .map(|v| (v * 5000.0) as i32)
            .collect();
        let (m, s): (Vec<i32>, Vec<i32>) = values(rows, 7)
            .iter()
            .map(|v| quantize_multiplier(0.0005 + 0.0002 * *v as f64))
            .unzip();
        let p = FullyConnectedParams {
            input_offset: 3,
            output_offset: -7,
            multiplier: &m,
            shift: &s,
            act_min: -128,
            act_max: 127,
            rounding: axon::core::quant::Rounding::Double,
        };
        let mut sums = vec![0i32; rows];
        kernels::weight_row_sums(&w, cols, &mut sums).unwrap();
        let mut packed = vec![0i8; kernels::packed_vnni_len(rows, cols).unwrap()];
        kernels::pack_vnni(&w, cols, &mut packed).unwrap();
        let mut y = vec![0i8; rows];
        let mut g = c.benchmark_group(format!("gemv_i8/{n}x{n}"));
        g.throughput(Throughput::Elements((rows * cols) as u64));
        each_kernel(|id, with| {
            with(&mut |k| {
                g.bench_function(BenchmarkId::new("axon", id.name()), |b| {
                    b.iter(|| k.fc(black_box(&w), black_box(&x), &bias, &[], &p, &mut y))
                });
                if id == KernelId::Avx512 {
                    // The load-time row sums spare VNNI its second pass.
                    g.bench_function(BenchmarkId::new("axon", "avx512+row_sums"), |b| {
                        b.iter(|| k.fc(black_box(&w), black_box(&x), &bias, &sums, &p, &mut y))
                    });
                    // The load-time VNNI layout: no horizontal sums at all.
                    g.bench_function(BenchmarkId::new("axon", "avx512+packed"), |b| {
                        b.iter(|| {
                            k.fc_packed(black_box(&packed), black_box(&x), &bias, &sums, &p, &mut y)
                        })
                    });
                }
            });
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = clock, gemv_f32, gemv_i8
}
criterion_main!(benches);
