//! Live latency of one viewer: how far behind real time it plays, the wall clock minus the program
//! date-time (`EXT-X-PROGRAM-DATE-TIME`) of the media at its playhead. The playhead is the end of the
//! media buffered (whose date-time the last segment or part gives) less what is still buffered (from the
//! buffer model). Sampled once per second of the viewer's playback, without a timer of its own: a
//! viewer's loop wakes at least once per reload, and while it plays the latency stays what it was (both
//! clocks run at the same rate); each wake records the seconds that passed since the last sample.
//! Pure: every method takes the clocks, so it is tested without them.

use std::time::{Duration, Instant, SystemTime};

/// At most this many samples at one wake: a viewer that did not wake for longer holds no playing media.
const MAX_BATCH: u32 = 30;
const EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct LiveLatency {
    /// The date-time of the end of the media buffered.
    end: Option<SystemTime>,
    /// When the next sample is due.
    next: Option<Instant>,
}

impl LiveLatency {
    /// Media of `duration` dated `start` (a segment's or part's program date-time) was buffered.
    pub fn on_media(&mut self, start: Option<SystemTime>, duration: Duration) {
        if let Some(start) = start {
            self.end = Some(start + duration);
        }
    }

    /// Whether a sample may be due at `now` (dated media and the second passed): checked before the
    /// buffer model is asked for its level, so a wake between samples costs nothing more.
    pub fn may_be_due(&self, now: Instant) -> bool {
        self.end.is_some() && self.next.is_none_or(|next| now >= next)
    }

    /// The samples due at `now`: how many, and the latency each has. `level`: the media buffered ahead
    /// of the playhead, `None` before playback started.
    pub fn due(&mut self, now: Instant, wall: SystemTime, level: Option<Duration>) -> Option<(u32, Duration)> {
        let (end, level) = (self.end?, level?);
        let next = *self.next.get_or_insert(now);
        if now < next {
            return None;
        }
        let count = ((now - next).as_secs() + 1).min(u64::from(MAX_BATCH)) as u32;
        self.next = Some(next + EVERY * count);
        if now >= next + EVERY * MAX_BATCH {
            self.next = Some(now + EVERY);
        }
        let playhead = end.checked_sub(level).unwrap_or(end);
        Some((count, wall.duration_since(playhead).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn wall_clock_minus_the_playheads_date_time_once_per_second() {
        let (t0, wall0) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let mut l = LiveLatency::default();
        assert_eq!(l.due(t0, wall0, Some(ms(0))), None, "no media dated yet");
        // A 2 s segment dated 7 s ago arrived; 2 s of it are buffered: the playhead is at its start.
        l.on_media(Some(wall0 - Duration::from_secs(7)), Duration::from_secs(2));
        assert_eq!(l.due(t0, wall0, None), None, "not playing yet");
        assert_eq!(l.due(t0, wall0, Some(ms(2000))), Some((1, ms(7000))));
        assert_eq!(l.due(t0 + ms(900), wall0 + ms(900), Some(ms(1100))), None, "within the second");
        // 2.5 s later (one wake): two samples due, the latency unchanged while playing.
        assert_eq!(
            l.due(t0 + ms(2500), wall0 + ms(2500), Some(ms(0))),
            Some((2, ms(7500))),
            "stalled for 0.5 s: 0.5 s more"
        );
    }

    #[test]
    fn a_long_silence_is_not_made_up_for() {
        let (t0, wall0) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let mut l = LiveLatency::default();
        l.on_media(Some(wall0), Duration::from_secs(1));
        assert!(l.due(t0, wall0, Some(ms(1000))).is_some());
        let (count, _) = l.due(t0 + Duration::from_secs(100), wall0, Some(ms(0))).unwrap();
        assert_eq!(count, MAX_BATCH);
        assert_eq!(l.due(t0 + Duration::from_secs(100), wall0, Some(ms(0))), None, "the next one a second on");
    }
}
