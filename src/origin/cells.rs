//! The memory the origin's counters live in: this process's heap, or a shared anonymous mapping that
//! worker processes forked after it was made all read and write (`hls-swarm origin --workers N`), so
//! one count is still one `fetch_add` and any worker's `/metrics` has every worker's requests.
//!
//! Written here with two libc calls: the crates for shared memory map files or name segments in
//! `/dev/shm`, and what is needed is one `MAP_SHARED | MAP_ANONYMOUS` region inherited across `fork`.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// A fixed number of `AtomicU64` cells, all zero at first.
pub struct Cells {
    memory: Memory,
}

enum Memory {
    Heap(Box<[AtomicU64]>),
    /// `len` cells at `ptr`, mapped by [`Cells::shared`] and unmapped on drop.
    Shared {
        ptr: NonNull<AtomicU64>,
        len: usize,
    },
}

// SAFETY: the shared mapping holds only atomics, which any thread may read and write at once, and it is
// owned by this value (unmapped only in its drop), as a `Box<[AtomicU64]>` owns its cells.
unsafe impl Send for Memory {}
// SAFETY: as above: `&Memory` only hands out `&[AtomicU64]`.
unsafe impl Sync for Memory {}

impl Cells {
    pub fn heap(len: usize) -> Self {
        Self { memory: Memory::Heap((0..len).map(|_| AtomicU64::new(0)).collect()) }
    }

    /// Cells in a shared anonymous mapping: a process forked after this keeps the same cells.
    pub fn shared(len: usize) -> std::io::Result<Self> {
        let bytes = len.max(1) * std::mem::size_of::<AtomicU64>();
        // SAFETY: a new anonymous mapping, no address asked for; its result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // An anonymous mapping is page-aligned (more than an AtomicU64 needs) and zero-filled, and all
        // zero bits are an `AtomicU64` of 0.
        let ptr = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| std::io::Error::other("mmap gave null"))?;
        Ok(Self { memory: Memory::Shared { ptr, len } })
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.memory, Memory::Shared { .. })
    }
}

impl Deref for Cells {
    type Target = [AtomicU64];

    fn deref(&self) -> &[AtomicU64] {
        match &self.memory {
            Memory::Heap(cells) => cells,
            // SAFETY: `len` initialised (zeroed) cells at `ptr`, mapped until `self` drops.
            Memory::Shared { ptr, len } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), *len) },
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        if let Memory::Shared { ptr, len } = self {
            let bytes = (*len).max(1) * std::mem::size_of::<AtomicU64>();
            // SAFETY: the mapping made in `Cells::shared`, unmapped once; no reference to it outlives
            // `self` (they borrow it).
            unsafe { libc::munmap(ptr.as_ptr().cast(), bytes) };
        }
    }
}

impl std::fmt::Debug for Cells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cells").field("len", &self.len()).field("shared", &self.is_shared()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn shared_cells_start_at_zero_and_count_like_heap_ones() {
        for cells in [Cells::heap(5), Cells::shared(5).expect("mmap")] {
            assert_eq!(cells.len(), 5);
            assert!(cells.iter().all(|c| c.load(Relaxed) == 0));
            cells[4].fetch_add(7, Relaxed);
            cells[0].fetch_sub(1, Relaxed);
            assert_eq!((cells[4].load(Relaxed), cells[0].load(Relaxed) as i64), (7, -1));
        }
    }

    #[test]
    fn a_forked_process_counts_in_the_same_shared_cells() {
        let cells = Cells::shared(2).expect("mmap");
        // SAFETY: the child only does atomic adds and `_exit`s (no allocation, no lock): safe after fork
        // even though the test harness has other threads.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            cells[1].fetch_add(41, Relaxed);
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        cells[1].fetch_add(1, Relaxed);
        assert_eq!(cells[1].load(Relaxed), 42, "the child's adds are seen by the parent");
        assert!(!Cells::heap(1).is_shared() && cells.is_shared());
    }
}
