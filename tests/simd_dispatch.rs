//! The kernel force API: `dispatch::force`, `AXON_KERNEL` and the loud
//! failure for a kernel that cannot run. One test function, because it
//! changes process-wide state (the chosen kernel and the environment).

use axon::core::kernels::dispatch::{self, KernelError};
use axon::core::kernels::KernelId;
use axon::core::{Activation, Dense, Layer};

#[test]
fn forcing_kernels_works_and_fails_loudly() {
    // A layer whose outputs we compare across forced kernels.
    let mut w = [[0.0f32; 37]; 11];
    for (o, row) in w.iter_mut().enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            *v = ((o * 37 + i) as f32 * 0.618).sin();
        }
    }
    let layer = Dense::<37, 11>::new(w, [0.25; 11], Activation::Relu);
    let x: [f32; 37] = core::array::from_fn(|i| (i as f32 * 0.3).cos());

    dispatch::force(KernelId::Scalar).unwrap();
    assert_eq!(dispatch::selected(), KernelId::Scalar);
    let reference = layer.infer(&x);

    for k in KernelId::ALL {
        if k.is_available() {
            dispatch::force(k).unwrap();
            assert_eq!(dispatch::selected(), k);
            let y = layer.infer(&x);
            let same = y
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{k}: {y:?} vs {reference:?}");
        } else {
            // Refused with an error naming the kernel; the choice stays.
            let before = dispatch::selected();
            let err = dispatch::force(k).unwrap_err();
            assert_eq!(err, KernelError::Unavailable(k));
            assert!(err.to_string().contains(k.name()));
            assert_eq!(dispatch::selected(), before);
            let panicked = std::panic::catch_unwind(|| dispatch::require(k)).is_err();
            assert!(panicked, "require({k}) must panic when {k} cannot run");
        }
    }

    // AXON_KERNEL: an unknown or unavailable name is an error from
    // force_from_env; a valid one is applied.
    let unavailable = KernelId::ALL.into_iter().find(|k| !k.is_available());
    // SAFETY (of the env calls): this is the only test in this binary, so no
    // other thread reads the environment meanwhile.
    std::env::set_var(dispatch::ENV_KERNEL, "sse9");
    assert_eq!(dispatch::force_from_env(), Err(KernelError::UnknownName));
    if let Some(k) = unavailable {
        std::env::set_var(dispatch::ENV_KERNEL, k.name());
        assert_eq!(dispatch::force_from_env(), Err(KernelError::Unavailable(k)));
        assert_eq!(
            dispatch::kernel_from_env(),
            Err(KernelError::Unavailable(k))
        );
    }
    std::env::set_var(dispatch::ENV_KERNEL, "scalar");
    assert_eq!(dispatch::force_from_env(), Ok(KernelId::Scalar));
    // After a reset, the automatic choice honours a valid AXON_KERNEL ...
    dispatch::reset();
    assert_eq!(dispatch::selected(), KernelId::Scalar);
    // ... and without it picks the fastest kernel.
    std::env::remove_var(dispatch::ENV_KERNEL);
    dispatch::reset();
    assert_eq!(dispatch::selected(), dispatch::best());
}
