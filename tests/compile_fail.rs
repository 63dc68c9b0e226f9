//! Shapes that do not chain must not compile (trybuild).

#[test]
#[cfg_attr(miri, ignore)]
fn mismatched_layer_sizes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
