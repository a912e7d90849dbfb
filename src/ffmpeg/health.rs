//! Playback health of one FFmpeg viewer, from the media time of its `-progress` blocks. Pure: every
//! method takes `now`, so it is tested without clocks or processes.
//!
//! FFmpeg with `-f null` has no playback clock: its media time (`out_time`) is what it has demuxed so
//! far. It reads live HLS in bursts, one segment per reload, and starts a few segments behind the live
//! edge, so its media time runs ahead of the wall clock by what a player would hold in its buffer.
//! The model plays that buffer out in real time from startup, as the native engine's buffer model
//! does (`viewer::Playback`):
//!
//! - *startup*: the first block with a media time above zero, measured from the process start;
//! - *stall*: the media time has not advanced for more than [`stall_threshold`] (about a segment
//!   duration: the target duration the proxy saw, or 2 s) **and** the played-out position has caught
//!   up with it (the buffer is empty). Both, because a live reader's media time stands still for a
//!   whole segment between bursts in a healthy stream; a freeze shorter than the threshold is not
//!   counted (the position waits);
//! - *drift*: wall time since startup minus media time; negative while FFmpeg is ahead of real time
//!   (it holds media), growing when it falls behind.
//!
//! FFmpeg's output timestamps start at zero (no `-copyts`), so the position starts at zero too.

use std::time::{Duration, Instant};

use crate::stats::PlaybackEvent;

/// Target duration assumed before the proxy has relayed a media playlist.
pub const DEFAULT_TARGET: Duration = Duration::from_secs(2);
/// FFmpeg's default `-stats_period`: it writes a progress block at most this often, and only while
/// packets flow.
const STATS_PERIOD: Duration = Duration::from_millis(500);

/// How long the media time may stand still before a stall can begin, for a stream with this target
/// duration: a segment's worth, plus the slack a healthy live stream shows. FFmpeg (5.1, `hls.c`)
/// reloads a changed playlist one target duration after the previous load and an unchanged one half a
/// target duration later, and its progress block comes at the first packet after a stats period; so
/// media time pauses of up to 1.5 x target + 0.5 s happen without anything going wrong (measured with
/// 1 s segments: pauses of 1.00 to 1.02 s, and 2.1 s at startup with 2 s segments).
pub fn stall_threshold(target: Option<Duration>) -> Duration {
    let target = target.unwrap_or(DEFAULT_TARGET);
    target + target / 2 + STATS_PERIOD
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Starting,
    Playing,
    Stalled { since: Instant },
}

#[derive(Clone, Debug)]
pub struct Health {
    started: Instant,
    state: State,
    /// The newest media time seen and when it last grew.
    media: Duration,
    advanced_at: Instant,
    /// The played-out position: `anchor_media + (now - anchor_wall)` while playing.
    anchor_wall: Instant,
    anchor_media: Duration,
    /// When startup completed (drift is measured from there).
    startup_at: Option<Instant>,
}

impl Health {
    /// A process started at `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            state: State::Starting,
            media: Duration::ZERO,
            advanced_at: started,
            anchor_wall: started,
            anchor_media: Duration::ZERO,
            startup_at: None,
        }
    }

    /// A progress block with media time `out_time` (`None`: FFmpeg has none yet) arrived at `now`.
    pub fn on_progress(&mut self, now: Instant, out_time: Option<Duration>, events: &mut Vec<PlaybackEvent>) {
        let Some(m) = out_time else { return };
        match self.state {
            State::Starting if m > Duration::ZERO => {
                events.push(PlaybackEvent::StartupComplete { startup: now.saturating_duration_since(self.started) });
                self.state = State::Playing;
                self.startup_at = Some(now);
                self.anchor_wall = now;
                self.anchor_media = Duration::ZERO;
            }
            State::Starting => return,
            _ if m <= self.media => return,
            State::Stalled { since } => {
                events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
                self.state = State::Playing;
                self.resume_at(now);
            }
            State::Playing => {
                // A freeze shorter than the threshold: the position waited at the old media time.
                if self.empty_at() < now {
                    self.resume_at(now);
                }
            }
        }
        self.media = m;
        self.advanced_at = now;
    }

    /// Checks for a stall at `now` (called when [`Health::next_check`] is due).
    pub fn check(&mut self, now: Instant, threshold: Duration, events: &mut Vec<PlaybackEvent>) {
        if self.state == State::Playing {
            let at = self.stall_at(threshold);
            if now >= at {
                self.state = State::Stalled { since: at };
                events.push(PlaybackEvent::StallBegan);
            }
        }
    }

    /// When a stall would begin if no media arrives (`None` unless playing).
    pub fn next_check(&self, threshold: Duration) -> Option<Instant> {
        (self.state == State::Playing).then(|| self.stall_at(threshold))
    }

    /// Ends the model (the process exited): an open stall is closed so its time counts.
    pub fn finish(&mut self, now: Instant, events: &mut Vec<PlaybackEvent>) {
        if let State::Stalled { since } = self.state {
            events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
        }
        self.state = State::Starting;
    }

    /// Wall time since startup minus media time, in seconds; `None` before startup.
    pub fn drift(&self, now: Instant) -> Option<f64> {
        let wall = now.saturating_duration_since(self.startup_at?).as_secs_f64();
        Some(wall - self.media.as_secs_f64())
    }

    pub fn is_stalled(&self) -> bool {
        matches!(self.state, State::Stalled { .. })
    }

    /// When the played-out position reaches the newest media time.
    fn empty_at(&self) -> Instant {
        self.anchor_wall + self.media.saturating_sub(self.anchor_media)
    }

    fn stall_at(&self, threshold: Duration) -> Instant {
        (self.advanced_at + threshold).max(self.empty_at())
    }

    /// Playback resumes at `now` from the media time it had reached.
    fn resume_at(&mut self, now: Instant) {
        self.anchor_wall = now;
        self.anchor_media = self.media;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const T: Duration = Duration::from_secs(1);

    /// What Debian's FFmpeg 5.1 does on a live stream with 1 s segments: a first block right after the
    /// first packet, then three segments at once, then one more second of media every second.
    #[test]
    fn steady_live_reading_has_no_stall() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        let mut ev = Vec::new();
        h.on_progress(t0 + ms(100), Some(ms(21)), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StartupComplete { startup: ms(100) }]);
        ev.clear();
        h.check(t0 + ms(900), T, &mut ev);
        h.on_progress(t0 + ms(993), Some(ms(3032)), &mut ev);
        for i in 1..30u64 {
            let now = t0 + ms(993 + 1010 * i);
            h.check(now - ms(1), T, &mut ev);
            h.on_progress(now, Some(ms(3032 + 1000 * i)), &mut ev);
        }
        assert!(ev.is_empty(), "{ev:?}");
        let drift = h.drift(t0 + ms(993 + 1010 * 29)).unwrap();
        assert!((-3.0..0.0).contains(&drift), "FFmpeg holds about 3 s: {drift}");
    }

    #[test]
    fn frozen_media_is_a_stall_once_the_buffer_is_played_out() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        let mut ev = Vec::new();
        h.on_progress(t0, Some(ms(3000)), &mut ev);
        ev.clear();
        // 3 s buffered: the threshold alone (1 s) is not a stall.
        assert_eq!(h.next_check(T), Some(t0 + ms(3000)));
        h.check(t0 + ms(2000), T, &mut ev);
        assert!(ev.is_empty());
        h.check(t0 + ms(3100), T, &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallBegan]);
        assert!(h.is_stalled());
        h.check(t0 + ms(3500), T, &mut ev);
        assert_eq!(ev.len(), 1, "one StallBegan per stall");
        h.on_progress(t0 + ms(4500), Some(ms(4000)), &mut ev);
        assert_eq!(ev[1], PlaybackEvent::StallEnded { stalled_for: ms(1500) });
        // Playback resumed at 3 s of media with 1 s buffered.
        assert_eq!(h.next_check(T), Some(t0 + ms(5500)));
    }

    #[test]
    fn a_freeze_shorter_than_the_threshold_is_forgiven() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        let mut ev = Vec::new();
        h.on_progress(t0, Some(ms(100)), &mut ev);
        h.check(t0 + ms(900), T, &mut ev);
        h.on_progress(t0 + ms(950), Some(ms(1100)), &mut ev);
        assert_eq!(ev.len(), 1, "only the startup: {ev:?}");
        assert_eq!(h.next_check(T), Some(t0 + ms(1950)), "resumed at 100 ms of media, 1 s buffered");
    }

    #[test]
    fn no_media_time_is_no_startup_and_finish_closes_a_stall() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        let mut ev = Vec::new();
        h.on_progress(t0, None, &mut ev);
        h.on_progress(t0, Some(Duration::ZERO), &mut ev);
        assert!(ev.is_empty() && h.next_check(T).is_none() && h.drift(t0).is_none());
        h.on_progress(t0 + ms(500), Some(ms(500)), &mut ev);
        h.check(t0 + ms(2000), T, &mut ev);
        h.finish(t0 + ms(2500), &mut ev);
        assert_eq!(&ev[1..], &[PlaybackEvent::StallBegan, PlaybackEvent::StallEnded { stalled_for: ms(1000) }]);
    }

    #[test]
    fn threshold_allows_a_missed_reload() {
        assert_eq!(stall_threshold(None), ms(3500));
        assert_eq!(stall_threshold(Some(ms(1000))), ms(2000));
    }
}
