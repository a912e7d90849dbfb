//! The stream clock: which segments exist at a given instant.
//!
//! Segment `i` (0-based; its media sequence number is `start_sequence + i`) covers media time
//! `[i*d, (i+1)*d)`. A live stream behaves as if it had started `window` segments before the origin did,
//! so the first playlist is already full; segment `i` is complete once the wall clock passes
//! `epoch + (i+1)*d`. Segments stay servable for [`LATE_GRACE_SEGMENTS`] after they leave the window,
//! like nginx origins that delete segment files late, so a slightly late player still gets them.

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
        Self { started, started_wall, segment, window: u64::from(window.max(1)), vod_segments, stale }
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

    /// What a playlist fetched at `now` lists. Under the stale-playlist fault the view is frozen for
    /// `stale` out of every `3 * stale`, starting `2 * stale` after the origin started.
    pub fn playlist_view(&self, now: Instant) -> PlaylistView {
        if let Some(n) = self.vod_segments {
            return PlaylistView { first: 0, count: n, ended: true, stale: false };
        }
        let elapsed = now.saturating_duration_since(self.started);
        let (elapsed, stale) = match self.stale {
            Some(s) => freeze(elapsed, s),
            None => (elapsed, false),
        };
        let produced = self.window + self.elapsed_segments(elapsed);
        PlaylistView { first: produced - self.window, count: self.window, ended: false, stale }
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
        assert_eq!(c.playlist_view(t0), PlaylistView { first: 0, count: 5, ended: false, stale: false });
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
        assert_eq!(v, PlaylistView { first: 0, count: 5, ended: true, stale: false });
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
    fn program_date_time_is_contiguous() {
        let (c, _) = clock(4, None, None);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(c.program_date_time(4), wall);
        assert_eq!(c.program_date_time(0), wall - Duration::from_secs(2));
        assert_eq!(c.program_date_time(5), wall + Duration::from_millis(500));
        assert_eq!(c.completed_at(3), wall);
    }
}
