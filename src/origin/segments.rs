//! Per-track segment cache: each segment is built once, on first request, and shared as `Bytes`.
//! The map lock is held only to find or insert an entry; building happens outside it in a `OnceLock`,
//! so concurrent first requests of one segment build it once and other segments are never blocked.
//!
//! Byte-range playlists also need the length of segments that are not requested (those before the
//! window in the same resource, every segment of a VOD); those are kept apart, 8 bytes a segment, so a
//! playlist never evicts the segments themselves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

/// Builds segment `index` (pure: the same index gives the same bytes).
pub type Builder = Box<dyn Fn(u64) -> Bytes + Send + Sync>;

pub struct SegmentCache {
    build: Builder,
    /// At most this many segments are kept (a long VOD is not held whole in memory; rebuilding an evicted
    /// segment gives the same bytes).
    capacity: usize,
    entries: Mutex<BTreeMap<u64, Arc<OnceLock<Bytes>>>>,
    lengths: Mutex<BTreeMap<u64, u64>>,
}

impl SegmentCache {
    pub fn new(build: Builder, capacity: usize) -> Self {
        Self {
            build,
            capacity: capacity.max(1),
            entries: Mutex::new(BTreeMap::new()),
            lengths: Mutex::new(BTreeMap::new()),
        }
    }

    /// Segment `index`; entries below `keep_from` are evicted on the way.
    pub fn get(&self, index: u64, keep_from: u64) -> Bytes {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            while let Some((&first, _)) = entries.first_key_value() {
                if first >= keep_from {
                    break;
                }
                entries.pop_first();
            }
            let cell = entries.entry(index).or_default().clone();
            while entries.len() > self.capacity {
                let evict = match entries.first_key_value() {
                    Some((&first, _)) if first != index => first,
                    _ => *entries.keys().next_back().unwrap_or(&index),
                };
                entries.remove(&evict);
            }
            cell
        };
        cell.get_or_init(|| (self.build)(index)).clone()
    }

    /// The length of segment `index`, building it (through the cache) the first time; lengths below
    /// `keep_from` are forgotten on the way.
    pub fn len(&self, index: u64, keep_from: u64) -> u64 {
        {
            let mut lengths = self.lengths.lock().unwrap_or_else(|e| e.into_inner());
            while lengths.first_key_value().is_some_and(|(&first, _)| first < keep_from) {
                lengths.pop_first();
            }
            if let Some(&len) = lengths.get(&index) {
                return len;
            }
        }
        let len = self.get(index, keep_from.min(index)).len() as u64;
        self.lengths.lock().unwrap_or_else(|e| e.into_inner()).insert(index, len);
        len
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::media::{MediaFormat, build_segment};

    fn cache(cap: usize) -> SegmentCache {
        let format = MediaFormat { width: 256, height: 144, bitrate: 100_000, frames_per_segment: 3, audio: false };
        SegmentCache::new(Box::new(move |i| build_segment(&format, i)), cap)
    }

    #[test]
    fn builds_once_and_evicts_behind_the_window() {
        let c = cache(100);
        let a = c.get(5, 0);
        let b = c.get(5, 0);
        assert_eq!(a.as_ptr(), b.as_ptr(), "second get is the cached bytes");
        c.get(6, 0);
        c.get(7, 6);
        assert_eq!(c.cached(), 2);
    }

    #[test]
    fn capacity_bounds_memory_and_rebuilds_are_identical() {
        let c = cache(3);
        let first = c.get(0, 0);
        for i in 1..10 {
            c.get(i, 0);
        }
        assert_eq!(c.cached(), 3);
        assert_eq!(c.get(0, 0), first);
        assert_eq!(c.cached(), 3);
    }

    #[test]
    fn lengths_outlive_the_segments_they_measured() {
        let c = cache(2);
        let lens: Vec<u64> = (0..10).map(|i| c.len(i, 0)).collect();
        assert_eq!(lens, (0..10).map(|i| c.get(i, 0).len() as u64).collect::<Vec<_>>());
        assert_eq!(c.cached(), 2);
        assert_eq!(c.lengths.lock().unwrap().len(), 10);
        c.len(9, 8);
        assert_eq!(c.lengths.lock().unwrap().len(), 2, "forgotten below keep_from");
    }
}
