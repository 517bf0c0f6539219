//! Per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).
//!
//! Log-linear buckets over nanoseconds: values below 16 ns have a bucket each; above, every
//! power of two is split into 16 buckets, so a bucket is at most 1/16 (6.25%) wide
//! relative to its values (Redis's HdrHistogram keeps 2 significant digits, ~1%). Up to
//! 2^40 ns (~18 minutes); longer runs count in the last bucket. Recording is a leading-
//! zero count, two shifts and an increment.

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Highest power of two with buckets of its own.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = SUB + (MAX_EXP as usize - SUB_BITS as usize + 1) * SUB;

#[derive(Clone)]
pub struct LatencyHistogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("total", &self.total)
            .finish()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
        }
    }
}

fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let e = (63 - ns.leading_zeros()).min(MAX_EXP);
    let mantissa = if e == MAX_EXP && ns >> MAX_EXP > 1 {
        SUB as u64 - 1
    } else {
        (ns >> (e - SUB_BITS)) & (SUB as u64 - 1)
    };
    SUB + (e - SUB_BITS) as usize * SUB + mantissa as usize
}

/// The highest value (ns) bucket `i` holds.
fn bucket_top(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let e = (i - SUB) / SUB + SUB_BITS as usize;
    let m = ((i - SUB) % SUB) as u64;
    ((SUB as u64 + m + 1) << (e - SUB_BITS as usize)) - 1
}

impl LatencyHistogram {
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value (ns) at or under which `p` percent of the samples lie (0 when empty): the
    /// top of the bucket holding that sample.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return bucket_top(i);
            }
        }
        bucket_top(BUCKETS - 1)
    }

    /// LATENCY HISTOGRAM's view: (bound in µs, samples under it), cumulative, for the
    /// powers of two from 1 µs up to the first bound that holds every sample, listing
    /// only the bounds where the count grew.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut bound_us = 1u64;
        let mut last = 0;
        while last < self.total {
            // Buckets whose top is below the bound's nanoseconds.
            let limit = bound_us * 1000;
            let n: u64 = self
                .counts
                .iter()
                .enumerate()
                .take_while(|(i, _)| bucket_top(*i) < limit)
                .map(|(_, c)| c)
                .sum();
            let n = if bound_us >= 1 << 40 { self.total } else { n };
            if n > last {
                out.push((bound_us, n));
                last = n;
            }
            bound_us *= 2;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_contiguous_and_tight() {
        // Every value falls in a bucket whose top is at or above it, and within 1/16.
        for ns in (0..100_000u64).chain([1 << 20, (1 << 30) + 12345, 1 << 39, u64::MAX / 2]) {
            let i = bucket(ns);
            assert!(bucket_top(i) >= ns.min(bucket_top(BUCKETS - 1)), "{ns}");
            if i > 0 && ns < 1 << MAX_EXP {
                assert!(bucket_top(i - 1) < ns, "{ns}");
                assert!(bucket_top(i) - ns <= ns / 16 + 1, "{ns}: {}", bucket_top(i));
            }
        }
        for i in 1..BUCKETS {
            assert!(bucket_top(i) > bucket_top(i - 1));
        }
    }

    #[test]
    fn percentiles_and_the_cumulative_view() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.percentile(50.0), 0);
        for _ in 0..98 {
            h.record(500); // 0.5 µs
        }
        h.record(3_000); // 3 µs
        h.record(40_000); // 40 µs
        assert_eq!(h.total(), 100);
        let p50 = h.percentile(50.0);
        assert!((500..=531).contains(&p50), "{p50}");
        let p99 = h.percentile(99.0);
        assert!((3_000..=3_200).contains(&p99), "{p99}");
        let p100 = h.percentile(100.0);
        assert!((40_000..=42_500).contains(&p100), "{p100}");
        assert_eq!(h.cumulative_usec(), vec![(1, 98), (4, 99), (64, 100)]);
    }
}
