//! Deterministic pseudo-random numbers from `--seed`, without shared state: the `n`th number of a named
//! stream is a pure function of (seed, stream, n), so concurrent tasks need no lock and a run repeats.

/// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform number in [0, 1): the `n`th of stream `stream` under `seed`.
pub fn unit(seed: u64, stream: u64, n: u64) -> f64 {
    let x = splitmix64(seed ^ splitmix64(stream.wrapping_add(1).wrapping_mul(0xA24B_AED4_963E_E407)) ^ splitmix64(n));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_and_repeatable() {
        let xs: Vec<f64> = (0..10_000).map(|n| unit(7, 3, n)).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_eq!(unit(7, 3, 42), xs[42]);
        assert_ne!(unit(8, 3, 42), xs[42]);
        assert_ne!(unit(7, 4, 42), xs[42]);
    }
}
