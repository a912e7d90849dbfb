//! Per-variant segment cache: each segment is built once, on first request, and shared as `Bytes`.
//! The map lock is held only to find or insert an entry; building happens outside it in a `OnceLock`,
//! so concurrent first requests of one segment build it once and other segments are never blocked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::media::{MediaFormat, build_segment};

pub struct SegmentCache {
    format: MediaFormat,
    /// At most this many segments are kept (a long VOD is not held whole in memory; rebuilding an evicted
    /// segment gives the same bytes).
    capacity: usize,
    entries: Mutex<BTreeMap<u64, Arc<OnceLock<Bytes>>>>,
}

impl SegmentCache {
    pub fn new(format: MediaFormat, capacity: usize) -> Self {
        Self { format, capacity: capacity.max(1), entries: Mutex::new(BTreeMap::new()) }
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
        cell.get_or_init(|| build_segment(&self.format, index)).clone()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(cap: usize) -> SegmentCache {
        let format = MediaFormat { width: 256, height: 144, bitrate: 100_000, frames_per_segment: 3, audio: false };
        SegmentCache::new(format, cap)
    }

    #[test]
    fn builds_once_and_evicts_behind_the_window() {
        let c = cache(100);
        let a = c.get(5, 0);
        let b = c.get(5, 0);
        assert_eq!(a.as_ptr(), b.as_ptr(), "second get is the cached bytes");
        c.get(6, 0);
        c.get(7, 6);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn capacity_bounds_memory_and_rebuilds_are_identical() {
        let c = cache(3);
        let first = c.get(0, 0);
        for i in 1..10 {
            c.get(i, 0);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(0, 0), first);
        assert_eq!(c.len(), 3);
    }
}
