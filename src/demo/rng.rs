//! A tiny deterministic PRNG (splitmix64): the same seed gives the same
//! backlog.

use super::*;

pub(super) struct Rng(pub(super) u64);

impl Rng {
    /// The generator for one finding: independent of every other index.
    pub(super) fn at(seed: u64, index: u64) -> Rng {
        Rng(mix(seed ^ mix(index.wrapping_add(0x632B_E59B_D9B4_E019))))
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub(super) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index into the cumulative weights.
    pub(super) fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0) as u64;
        let x = self.below(total) as u32;
        cumulative.partition_point(|&c| c <= x)
    }

    /// `words` random 64-bit words in hex, then `suffix`.
    pub(super) fn hex(&mut self, words: usize, suffix: &str) -> String {
        let mut s = String::with_capacity(words * 16 + suffix.len());
        for _ in 0..words {
            let _ = write!(s, "{:016x}", self.next_u64());
        }
        s.push_str(suffix);
        s
    }
}

pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
