//! Histograms as their occupied buckets only, for the ring of per-second intervals and the rolling
//! windows, so that their memory and the work of a tick follow the data, not the histogram size.
//!
//! A bucket is named by its highest equivalent value: recording that value into a histogram of the
//! same configuration lands in the same bucket, so nothing is lost on the way back to a dense set.

use super::histograms::{HistSet, Metric, Percentiles};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// An interval's histograms: per metric, `(bucket value, count)` pairs in ascending order, stored
/// as varint deltas (typically 2-4 bytes per occupied bucket).
#[derive(Clone, Debug, Default)]
pub(crate) struct PackedSet {
    entries: Vec<(Metric, Box<[u8]>)>,
}

impl PackedSet {
    pub(crate) fn pack(set: &HistSet) -> PackedSet {
        let buckets = |h: &Histogram<u64>| {
            let recorded = h.iter_recorded();
            pack(recorded.map(|b| (b.value_iterated_to(), b.count_at_value())))
        };
        let entries = set.iter().map(|(metric, h)| (metric, buckets(h))).collect();
        PackedSet { entries }
    }

    /// Packs a window's histograms, one per metric in [`Metric`] index order.
    pub(crate) fn from_sparse(hists: &[SparseHist; Metric::COUNT]) -> PackedSet {
        let entries = Metric::all()
            .zip(hists.iter())
            .filter(|(_, h)| h.total > 0)
            .map(|(metric, h)| (metric, pack(h.buckets.iter().map(|(v, c)| (*v, *c)))))
            .collect();
        PackedSet { entries }
    }

    /// Dense histograms with the same buckets.
    pub(crate) fn unpack(&self) -> HistSet {
        let mut set = HistSet::default();
        for (metric, buckets) in self.iter() {
            let h = set.get_or_insert(metric);
            buckets.for_each(|(value, count)| h.saturating_record_n(value, count));
        }
        set
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Each metric with its buckets.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Metric, Buckets<'_>)> {
        self.entries.iter().map(|(m, b)| (*m, Buckets { bytes: b, value: 0 }))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.iter().map(|(_, b)| b.len()).sum::<usize>()
            + self.entries.capacity() * std::mem::size_of::<(Metric, Box<[u8]>)>()
    }
}

/// Encodes ascending `(value, count)` pairs.
fn pack(buckets: impl Iterator<Item = (u64, u64)>) -> Box<[u8]> {
    let mut out = Vec::new();
    let mut previous = 0;
    for (value, count) in buckets {
        write_varint(&mut out, value - previous);
        write_varint(&mut out, count);
        previous = value;
    }
    out.into_boxed_slice()
}

/// The `(bucket value, count)` pairs of one packed histogram.
pub(crate) struct Buckets<'a> {
    bytes: &'a [u8],
    value: u64,
}

impl Iterator for Buckets<'_> {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        if self.bytes.is_empty() {
            return None;
        }
        self.value += read_varint(&mut self.bytes);
        Some((self.value, read_varint(&mut self.bytes)))
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some((&b, rest)) = bytes.split_first() {
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

/// A rolling window's histogram of one metric: occupied buckets and their counts. Adding and
/// removing an interval is exact integer arithmetic on the buckets it touches.
#[derive(Clone, Debug, Default)]
pub(crate) struct SparseHist {
    buckets: BTreeMap<u64, u64>,
    total: u64,
}

impl SparseHist {
    pub(crate) fn add(&mut self, buckets: Buckets<'_>) {
        for (value, count) in buckets {
            *self.buckets.entry(value).or_default() += count;
            self.total += count;
        }
    }

    pub(crate) fn remove(&mut self, buckets: Buckets<'_>) {
        for (value, count) in buckets {
            let Some(have) = self.buckets.get_mut(&value) else {
                // Only a bug can get here: the interval leaving was never added.
                tracing::error!(value, "window lost track of a bucket");
                continue;
            };
            let removed = count.min(*have);
            *have -= removed;
            self.total -= removed;
            if *have == 0 {
                self.buckets.remove(&value);
            }
        }
    }

    pub(crate) fn percentiles(&self, metric: Metric) -> Option<Percentiles> {
        let buckets = self.buckets.iter().map(|(v, c)| (*v, *c));
        Percentiles::from_buckets(metric, self.total, buckets)
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histograms::DURATION_MAX_US;

    #[test]
    fn varint_round_trips() {
        let mut buf = Vec::new();
        let values = [0, 1, 127, 128, 300, u64::MAX];
        for v in values {
            write_varint(&mut buf, v);
        }
        let mut bytes = &buf[..];
        for v in values {
            assert_eq!(read_varint(&mut bytes), v);
        }
    }

    #[test]
    fn packed_buckets_rebuild_the_same_histogram() {
        let mut set = HistSet::default();
        for v in [0, 1, 2, 999, 1_000_001, 77_777, 77_777, DURATION_MAX_US] {
            set.record(Metric::Startup, v);
        }
        let packed = PackedSet::pack(&set);
        let original = set.get(Metric::Startup).unwrap();
        let rebuilt = packed.unpack();
        assert_eq!(rebuilt.get(Metric::Startup).unwrap(), original);
        assert_eq!(rebuilt.iter().count(), 1);
        let mut sparse: [SparseHist; Metric::COUNT] = std::array::from_fn(|_| SparseHist::default());
        sparse[Metric::Startup.index()].add(packed.iter().next().unwrap().1);
        let repacked = PackedSet::from_sparse(&sparse).unpack();
        assert_eq!(repacked.get(Metric::Startup).unwrap(), original);
    }

    #[test]
    fn sparse_add_remove_is_exact() {
        let mut set = HistSet::default();
        for v in [5, 5, 6, 1_000, 50_000] {
            set.record(Metric::Startup, v);
        }
        let packed = PackedSet::pack(&set);
        let buckets = || packed.iter().next().unwrap().1;
        let mut window = SparseHist::default();
        window.add(buckets());
        window.add(buckets());
        let expected = Percentiles::of(set.get(Metric::Startup).unwrap(), Metric::Startup);
        window.remove(buckets());
        assert_eq!(window.percentiles(Metric::Startup), expected);
        window.remove(buckets());
        assert_eq!((window.len(), window.percentiles(Metric::Startup)), (0, None));
    }
}
