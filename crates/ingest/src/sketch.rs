//! Fixed-size summaries of a column that never grow with the file: a HyperLogLog for the
//! distinct count and a Space-Saving counter set for the most frequent values.

use std::hash::{BuildHasher, Hasher};

/// The 64-bit hash used for distinct counts, top values and duplicate keys.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = HASHER.build_hasher();
    h.write(s.as_bytes());
    h.finish()
}

pub(crate) const HASHER: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x0070_7562_6461_7461);

/// A hasher for keys that already are well-mixed 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type HashIdentity = std::hash::BuildHasherDefault<IdentityHasher>;

const HLL_BITS: u32 = 12;
const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// HyperLogLog with 4096 registers (4 KiB): about 1.6 % standard error.
#[derive(Clone)]
pub(crate) struct Hll {
    registers: Box<[u8; HLL_REGISTERS]>,
}

impl Default for Hll {
    fn default() -> Self {
        Hll {
            registers: Box::new([0; HLL_REGISTERS]),
        }
    }
}

impl Hll {
    pub fn add(&mut self, hash: u64) {
        let index = (hash >> (64 - HLL_BITS)) as usize;
        let rest = (hash << HLL_BITS) | (1 << (HLL_BITS - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        let r = &mut self.registers[index];
        if rank > *r {
            *r = rank;
        }
    }

    pub fn estimate(&self) -> u64 {
        let m = HLL_REGISTERS as f64;
        let mut sum = 0.0;
        let mut zeros = 0;
        for &r in self.registers.iter() {
            sum += 1.0 / f64::from(1u32 << r);
            if r == 0 {
                zeros += 1;
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        e.round() as u64
    }
}

/// Space-Saving (Metwally et al.): `capacity` counters; a value seen more than n/capacity times
/// is guaranteed to be among them, and each count overestimates by at most its `error`.
pub(crate) struct SpaceSaving {
    capacity: usize,
    items: Vec<Counter>,
    index: std::collections::HashMap<u64, usize, HashIdentity>,
    /// Where to look next for a counter holding the minimum count.
    cursor: usize,
    min: u64,
    /// Whether any value was ever evicted (counts are then estimates).
    pub evicted: bool,
}

pub(crate) struct Counter {
    pub value: String,
    pub hash: u64,
    pub count: u64,
    pub error: u64,
}

/// Values longer than this are not tracked as top values (they are rarely repeated and would
/// make the summary's memory depend on the data).
const MAX_TRACKED_BYTES: usize = 256;

impl SpaceSaving {
    pub fn new(capacity: usize) -> Self {
        SpaceSaving {
            capacity,
            items: Vec::with_capacity(capacity),
            index: Default::default(),
            cursor: 0,
            min: 0,
            evicted: false,
        }
    }

    pub fn add(&mut self, value: &str, hash: u64) {
        if value.len() > MAX_TRACKED_BYTES {
            return;
        }
        if let Some(&i) = self.index.get(&hash) {
            self.items[i].count += 1;
            return;
        }
        if self.items.len() < self.capacity {
            self.index.insert(hash, self.items.len());
            self.items.push(Counter {
                value: value.to_string(),
                hash,
                count: 1,
                error: 0,
            });
            return;
        }
        let i = self.find_min();
        self.evicted = true;
        let c = &mut self.items[i];
        self.index.remove(&c.hash);
        c.value.clear();
        c.value.push_str(value);
        c.hash = hash;
        c.error = c.count;
        c.count += 1;
        self.index.insert(hash, i);
    }

    /// A counter with the smallest count. Counts only grow, so scanning on from the last hit
    /// for the known minimum finds one in a few steps; a full fruitless pass raises the minimum.
    fn find_min(&mut self) -> usize {
        let n = self.items.len();
        for _ in 0..2 {
            for step in 0..n {
                let i = (self.cursor + step) % n;
                if self.items[i].count <= self.min {
                    self.cursor = (i + 1) % n;
                    return i;
                }
            }
            self.min = self.items.iter().map(|c| c.count).min().unwrap_or(0);
        }
        0
    }

    /// The counters by descending guaranteed count (`count - error`).
    pub fn top(&self, n: usize) -> Vec<&Counter> {
        let mut v: Vec<&Counter> = self.items.iter().collect();
        let sure = |c: &Counter| c.count - c.error;
        v.sort_by(|a, b| sure(b).cmp(&sure(a)).then_with(|| a.value.cmp(&b.value)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_is_within_a_few_percent() {
        for n in [10u64, 1000, 100_000] {
            let mut h = Hll::default();
            for i in 0..n {
                h.add(hash_str(&format!("value-{i}")));
                h.add(hash_str(&format!("value-{i}")));
            }
            let e = h.estimate() as f64;
            assert!((e - n as f64).abs() / (n as f64) < 0.05, "n={n} estimate={e}");
        }
    }

    #[test]
    fn space_saving_keeps_heavy_hitters() {
        let mut s = SpaceSaving::new(8);
        for i in 0..10_000 {
            let v = if i % 3 == 0 {
                "frequent".to_string()
            } else {
                format!("rare-{i}")
            };
            s.add(&v, hash_str(&v));
        }
        let top = s.top(1);
        assert_eq!(top[0].value, "frequent");
        assert!(top[0].count >= 3334 && top[0].count - top[0].error <= 3334);
        assert!(s.evicted);
    }
}
