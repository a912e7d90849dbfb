//! The stream clock: which segments exist at a given instant.
//!
//! Segment `i` (0-based; its media sequence number is `start_sequence + i`) covers media time
//! `[i*d, (i+1)*d)`. A live stream behaves as if it had started `window` segments before the origin did,
//! so the first playlist is already full; segment `i` is complete once the wall clock passes
//! `epoch + (i+1)*d`. Segments stay servable for [`LATE_GRACE_SEGMENTS`] after they leave the window,
//! like nginx origins that delete segment files late, so a slightly late player still gets them.
//!
//! Low-latency: a segment is made of `parts_per_segment` parts of equal length; part `j` of segment
//! `i` is complete once the wall clock passes `epoch + i*d + (j+1)*d/parts` (on the nanosecond, as
//! whole segments are), and the segment with its last part.

use std::time::{Duration, Instant, SystemTime};

/// Segments that stay servable after leaving the live window.
pub const LATE_GRACE_SEGMENTS: u64 = 3;

#[derive(Clone, Debug)]
pub struct StreamClock {
    started: Instant,
    started_wall: SystemTime,
    segment: Duration,
    window: u64,
    vod_segments: Option<u64>,
    stale: Option<Duration>,
    /// Parts per segment (1 without low-latency).
    parts: u64,
}

/// The segments one playlist response lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaylistView {
    /// Index of the first listed segment.
    pub first: u64,
    /// Number of listed segments.
    pub count: u64,
    /// VOD: the playlist is complete (EXT-X-ENDLIST).
    pub ended: bool,
    /// The stale-playlist fault froze this view.
    pub stale: bool,
    /// Low-latency: parts complete of the segment after the listed ones (`first + count`), the one
    /// being produced; always 0 without parts.
    pub parts: u64,
}

impl StreamClock {
    pub fn new(
        started: Instant,
        started_wall: SystemTime,
        segment: Duration,
        window: u32,
        vod: Option<Duration>,
        stale: Option<Duration>,
    ) -> Self {
        let vod_segments = vod.map(|v| (v.as_secs_f64() / segment.as_secs_f64()).ceil().max(1.0) as u64);
        Self { started, started_wall, segment, window: u64::from(window.max(1)), vod_segments, stale, parts: 1 }
    }

    /// The same clock with `parts` parts per segment (LL-HLS).
    pub fn with_parts(self, parts: u32) -> Self {
        Self { parts: u64::from(parts.max(1)), ..self }
    }

    pub fn parts_per_segment(&self) -> u64 {
        self.parts
    }

    pub fn segment_duration(&self) -> Duration {
        self.segment
    }

    /// Segments complete at `now` (all of them for VOD).
    pub fn produced(&self, now: Instant) -> u64 {
        match self.vod_segments {
            Some(n) => n,
            None => self.window + self.elapsed_segments(now.saturating_duration_since(self.started)),
        }
    }

    fn elapsed_segments(&self, elapsed: Duration) -> u64 {
        (elapsed.as_nanos() / self.segment.as_nanos()) as u64
    }

    /// Parts complete of the segment being produced after `elapsed`.
    fn elapsed_parts(&self, elapsed: Duration) -> u64 {
        let segment = self.segment.as_nanos();
        (elapsed.as_nanos() % segment * u128::from(self.parts) / segment) as u64
    }

    /// Parts complete at `now` of segment [`Self::produced`] (the one being produced; live only).
    pub fn parts_done(&self, now: Instant) -> u64 {
        match self.vod_segments {
            Some(_) => 0,
            None => self.elapsed_parts(now.saturating_duration_since(self.started)),
        }
    }

    /// Whether part `part` of segment `index` may be served at `now`: complete, and its segment not
    /// gone past the late grace.
    pub fn part_servable(&self, index: u64, part: u64, now: Instant) -> bool {
        let produced = self.produced(now);
        part < self.parts
            && match index.cmp(&produced) {
                std::cmp::Ordering::Less => self.servable(index, now),
                std::cmp::Ordering::Equal => part < self.parts_done(now),
                std::cmp::Ordering::Greater => false,
            }
    }

    /// When the next part after `now` completes (the next segment, without parts).
    pub fn next_part_at(&self, now: Instant) -> Instant {
        let (segment, parts) = (self.segment.as_nanos(), u128::from(self.parts));
        // Parts complete since the start: floor(elapsed * parts / segment), the sum of whole segments'
        // parts and the current segment's.
        let next = now.saturating_duration_since(self.started).as_nanos() * parts / segment + 1;
        let at = next / parts * segment + (next % parts * segment).div_ceil(parts);
        self.started + Duration::from_nanos(u64::try_from(at).unwrap_or(u64::MAX))
    }

    /// What a playlist fetched at `now` lists. Under the stale-playlist fault the view is frozen for
    /// `stale` out of every `3 * stale`, starting `2 * stale` after the origin started.
    pub fn playlist_view(&self, now: Instant) -> PlaylistView {
        if let Some(n) = self.vod_segments {
            return PlaylistView { first: 0, count: n, ended: true, stale: false, parts: 0 };
        }
        let elapsed = now.saturating_duration_since(self.started);
        let (elapsed, stale) = match self.stale {
            Some(s) => freeze(elapsed, s),
            None => (elapsed, false),
        };
        let produced = self.window + self.elapsed_segments(elapsed);
        let parts = if self.parts > 1 { self.elapsed_parts(elapsed) } else { 0 };
        PlaylistView { first: produced - self.window, count: self.window, ended: false, stale, parts }
    }

    /// Whether segment `index` may be served at `now`: produced, and not gone past the late grace.
    pub fn servable(&self, index: u64, now: Instant) -> bool {
        let produced = self.produced(now);
        if self.vod_segments.is_some() {
            return index < produced;
        }
        index < produced && index + self.window + LATE_GRACE_SEGMENTS >= produced
    }

    /// Oldest index still worth keeping in a cache at `now`.
    pub fn oldest_servable(&self, now: Instant) -> u64 {
        match self.vod_segments {
            Some(_) => 0,
            None => self.produced(now).saturating_sub(self.window + LATE_GRACE_SEGMENTS),
        }
    }

    /// Wall-clock time of the first sample of segment `index` (EXT-X-PROGRAM-DATE-TIME).
    pub fn program_date_time(&self, index: u64) -> SystemTime {
        let epoch_offset = match self.vod_segments {
            Some(_) => 0,
            None => self.window,
        };
        let at = |n: u64| self.segment.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        if index >= epoch_offset {
            self.started_wall + at(index - epoch_offset)
        } else {
            self.started_wall - at(epoch_offset - index)
        }
    }

    /// When segment `index` became complete (its file's mtime on a real origin).
    pub fn completed_at(&self, index: u64) -> SystemTime {
        self.program_date_time(index) + self.segment
    }
}

/// Maps real elapsed time to the time a frozen playlist shows.
fn freeze(elapsed: Duration, stale: Duration) -> (Duration, bool) {
    let cycle = stale * 3;
    let phase = Duration::from_nanos((elapsed.as_nanos() % cycle.as_nanos()) as u64);
    if phase >= stale * 2 { (elapsed - (phase - stale * 2), true) } else { (elapsed, false) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(window: u32, vod: Option<Duration>, stale: Option<Duration>) -> (StreamClock, Instant) {
        let t0 = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        (StreamClock::new(t0, wall, Duration::from_millis(500), window, vod, stale), t0)
    }

    #[test]
    fn live_window_is_full_at_start_and_slides() {
        let (c, t0) = clock(5, None, None);
        assert_eq!(c.playlist_view(t0), PlaylistView { first: 0, count: 5, ended: false, stale: false, parts: 0 });
        assert_eq!(c.produced(t0), 5);
        let v = c.playlist_view(t0 + Duration::from_millis(499));
        assert_eq!(v.first, 0);
        let v = c.playlist_view(t0 + Duration::from_millis(500));
        assert_eq!((v.first, v.count), (1, 5));
        let v = c.playlist_view(t0 + Duration::from_millis(10_250));
        assert_eq!((v.first, v.count), (20, 5));
    }

    #[test]
    fn servable_covers_window_plus_late_grace() {
        let (c, t0) = clock(5, None, None);
        let now = t0 + Duration::from_secs(10); // produced = 25, window 20..25
        assert!(c.servable(24, now));
        assert!(!c.servable(25, now), "not produced yet");
        assert!(c.servable(20, now));
        assert!(c.servable(17, now), "late grace keeps 3 more");
        assert!(!c.servable(16, now));
        assert_eq!(c.oldest_servable(now), 17);
    }

    #[test]
    fn vod_lists_everything_and_ends() {
        let (c, t0) = clock(5, Some(Duration::from_millis(2_100)), None);
        let v = c.playlist_view(t0 + Duration::from_secs(100));
        assert_eq!(v, PlaylistView { first: 0, count: 5, ended: true, stale: false, parts: 0 });
        assert!(c.servable(0, t0 + Duration::from_secs(100)));
        assert!(!c.servable(5, t0));
    }

    #[test]
    fn stale_fault_freezes_the_view_for_its_duration() {
        let (c, t0) = clock(3, None, Some(Duration::from_secs(2)));
        let at = |ms| c.playlist_view(t0 + Duration::from_millis(ms));
        assert!(!at(3_900).stale);
        assert_eq!(at(4_000).first, 8);
        assert!(at(4_100).stale);
        assert_eq!(at(5_900).first, 8, "frozen during 4..6 s");
        assert!(!at(6_000).stale);
        assert_eq!(at(6_000).first, 12, "jumps ahead when the fault ends");
        // Segments themselves keep being produced while the playlist is stale.
        assert_eq!(c.produced(t0 + Duration::from_millis(5_900)), 3 + 11);
    }

    #[test]
    fn parts_complete_in_turn_and_the_segment_with_its_last() {
        // 500 ms segments of 5 parts of 100 ms.
        let (c, t0) = clock(5, None, None);
        let c = c.with_parts(5);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!((c.produced(at(0)), c.parts_done(at(0))), (5, 0));
        assert_eq!(c.parts_done(at(99)), 0);
        assert_eq!(c.parts_done(at(100)), 1);
        assert_eq!((c.produced(at(499)), c.parts_done(at(499))), (5, 4));
        assert_eq!((c.produced(at(500)), c.parts_done(at(500))), (6, 0));
        assert_eq!(c.playlist_view(at(730)).parts, 2);
        assert!(c.part_servable(6, 1, at(730)));
        assert!(!c.part_servable(6, 2, at(730)), "being produced");
        assert!(c.part_servable(5, 4, at(730)), "a complete segment's parts");
        assert!(!c.part_servable(5, 5, at(730)), "no sixth part");
        assert!(!c.part_servable(7, 0, at(730)));
        assert!(!c.part_servable(7, 0, at(5_730)), "past the late grace");
        assert_eq!(c.next_part_at(at(730)), at(800));
        assert_eq!(c.next_part_at(at(800)), at(900));
        assert_eq!(c.next_part_at(at(950)), at(1000));
        let plain = StreamClock::new(t0, SystemTime::UNIX_EPOCH, Duration::from_millis(500), 5, None, None);
        assert_eq!(plain.next_part_at(at(730)), at(1000), "without parts: the next segment");
        assert_eq!(plain.playlist_view(at(730)).parts, 0);
    }

    #[test]
    fn parts_of_uneven_length_add_up_to_the_segment() {
        // 3 parts of a 1 s segment: 333,333,334 ns boundaries rounded up, never past the segment.
        let t0 = Instant::now();
        let c = StreamClock::new(t0, SystemTime::UNIX_EPOCH, Duration::from_secs(1), 3, None, None).with_parts(3);
        let mut now = t0;
        let mut boundaries = Vec::new();
        for _ in 0..6 {
            now = c.next_part_at(now);
            boundaries.push(now - t0);
            let before = now - Duration::from_nanos(1);
            assert_ne!((c.produced(now), c.parts_done(now)), (c.produced(before), c.parts_done(before)));
        }
        let ns = |n| Duration::from_nanos(n);
        assert_eq!(
            boundaries,
            [
                ns(333_333_334),
                ns(666_666_667),
                ns(1_000_000_000),
                ns(1_333_333_334),
                ns(1_666_666_667),
                ns(2_000_000_000)
            ]
        );
    }

    #[test]
    fn program_date_time_is_contiguous() {
        let (c, _) = clock(4, None, None);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(c.program_date_time(4), wall);
        assert_eq!(c.program_date_time(0), wall - Duration::from_secs(2));
        assert_eq!(c.program_date_time(5), wall + Duration::from_millis(500));
        assert_eq!(c.completed_at(3), wall);
    }
}
