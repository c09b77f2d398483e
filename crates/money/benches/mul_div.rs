//! `mul_div` against `mul_div_reference` (the general 256-bit `ethnum` division it replaced), on
//! the operand shapes the engine produces. Figures: docs/PERFORMANCE.md, "mul_div paths".
//!
//! Run with `cargo bench -p backstop-money --bench mul_div`; `cargo test -p backstop-money
//! --benches` runs each benchmark once as a smoke test.
#![allow(missing_docs, clippy::unwrap_used)]

use backstop_money::{Rounding, SCALE, mul_div, mul_div_reference};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Operations per iteration.
const BATCH: usize = 1024;

/// A deterministic stream of 64-bit values (SplitMix64), so no RNG dependency is needed.
fn stream(seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// One benchmark's inputs: `(a, b, d)` triples.
type Triples = Vec<(i128, i128, i128)>;

/// Inputs of each shape: (name, triples).
fn shapes() -> Vec<(&'static str, Triples)> {
    let mut values = stream(7);
    let mut next = move |modulus: u64| i128::from(values.next().unwrap() % modulus + 1);
    let make = |f: &mut dyn FnMut() -> (i128, i128, i128)| (0..BATCH).map(|_| f()).collect();
    vec![
        // Product and divisor in 64 bits: 10^6-scale quantities.
        ("small_64", make(&mut || (next(1 << 31), next(1 << 31), next(1 << 20)))),
        // Amount (≈ 2·10^22 raw) × price (≈ 2·10^21 raw) / SCALE: product > 2^128, divisor < 2^64.
        (
            "amount_x_price_div_scale",
            make(&mut || (next(1 << 62) * 10_000, next(1 << 62) * 500, SCALE)),
        ),
        // Value × SCALE / price: a 128-bit divisor (≈ 2^71).
        (
            "value_x_scale_div_price",
            make(&mut || (next(1 << 62) * 10_000, SCALE, next(1 << 62) * 500)),
        ),
        // Product fits in i128, divisor < 2^64: share of a pool.
        ("fits_i128_div_scale", make(&mut || (next(1 << 50), next(1 << 50), SCALE))),
    ]
}

fn bench(c: &mut Criterion) {
    for (name, inputs) in shapes() {
        let mut group = c.benchmark_group(format!("mul_div/{name}"));
        group.throughput(Throughput::Elements(BATCH as u64));
        for (label, function) in [
            ("fast", mul_div as fn(i128, i128, i128, Rounding) -> _),
            ("reference_256", mul_div_reference),
        ] {
            group.bench_function(label, |bencher| {
                bencher.iter(|| {
                    let mut sum = 0_i128;
                    for &(a, b, d) in &inputs {
                        let rounding = if a & 1 == 0 { Rounding::Floor } else { Rounding::Ceil };
                        let value = function(black_box(a), black_box(b), black_box(d), rounding);
                        sum = sum.wrapping_add(value.unwrap_or(0));
                    }
                    sum
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
