//! The playback buffer model of one viewer: segments fill the buffer with their media duration, and
//! once playing it drains in real time. Startup is from the session's start to its first segment
//! buffered; a stall is the buffer running empty while playing, and lasts until the next segment arrives.
//!
//! A viewer that plays audio from a rendition of its own has two buffers (lanes), as a player's
//! source buffers: playback starts when every lane holds media, drains them together, and stalls when
//! either runs empty. The model is pure (every method takes `now`, so it is tested without clocks);
//! [`PlaybackLane`] shares it between a viewer's tracks.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::stats::PlaybackEvent;

/// Buffers a model holds at most: the video's and the audio's.
pub const MAX_LANES: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Starting,
    Playing,
    Stalled { since: Instant },
}

#[derive(Clone, Debug)]
pub struct Playback {
    started: Instant,
    state: State,
    /// Each lane's buffer level as of `at`; lanes beyond `lanes` are unused.
    levels: [Duration; MAX_LANES],
    /// Which lanes have had media since the session started (startup waits for all).
    filled: [bool; MAX_LANES],
    lanes: usize,
    at: Instant,
    /// The variant playing (the video lane's), under which the buffer's startup and stalls are
    /// counted whichever lane brings them.
    variant: Option<u16>,
}

impl Playback {
    /// One buffer (video with its audio muxed in).
    pub fn new(started: Instant) -> Self {
        Self::with_lanes(started, 1)
    }

    /// `lanes` buffers (1 or 2) that play together.
    pub fn with_lanes(started: Instant, lanes: usize) -> Self {
        let lanes = lanes.clamp(1, MAX_LANES);
        let (levels, filled) = ([Duration::ZERO; MAX_LANES], [false; MAX_LANES]);
        Self { started, state: State::Starting, levels, filled, lanes, at: started, variant: None }
    }

    /// The level playback is bounded by: the emptiest lane's.
    fn low(&self) -> Duration {
        self.levels[..self.lanes].iter().copied().min().unwrap_or_default()
    }

    /// Drains the buffers up to `now`; returns `StallBegan` when one ran empty on the way.
    pub fn advance(&mut self, now: Instant) -> Option<PlaybackEvent> {
        if now <= self.at {
            return None;
        }
        let elapsed = now - self.at;
        self.at = now;
        if self.state != State::Playing {
            return None;
        }
        let low = self.low();
        let played = elapsed.min(low);
        for level in &mut self.levels[..self.lanes] {
            *level -= played;
        }
        if elapsed > low {
            self.state = State::Stalled { since: now - (elapsed - low) };
            return Some(PlaybackEvent::StallBegan);
        }
        None
    }

    /// A segment of `duration` for `lane` finished downloading at `now`.
    pub fn on_segment(&mut self, lane: usize, now: Instant, duration: Duration, events: &mut Vec<PlaybackEvent>) {
        events.extend(self.advance(now));
        let lane = lane.min(self.lanes - 1);
        self.levels[lane] += duration;
        self.filled[lane] = true;
        // Playback goes on when every lane has had media and the others are not the empty one.
        let others_hold_media = (0..self.lanes).filter(|&l| l != lane).all(|l| self.levels[l] > Duration::ZERO);
        let ready = self.filled[..self.lanes].iter().all(|&f| f) && others_hold_media;
        match self.state {
            State::Starting if ready => {
                events.push(PlaybackEvent::StartupComplete { startup: now.saturating_duration_since(self.started) });
                self.state = State::Playing;
            }
            State::Stalled { since } if ready => {
                events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
                self.state = State::Playing;
            }
            _ => {}
        }
    }

    /// Ends the model (session over): an open stall is closed so its time counts.
    pub fn finish(&mut self, now: Instant, events: &mut Vec<PlaybackEvent>) {
        events.extend(self.advance(now));
        if let State::Stalled { since } = self.state {
            events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
        }
        self.state = State::Starting;
    }

    /// `lane`'s buffered media at `now`.
    pub fn level(&self, lane: usize, now: Instant) -> Duration {
        let level = self.levels[lane.min(self.lanes - 1)];
        match self.state {
            State::Playing => level.saturating_sub(now.saturating_duration_since(self.at)),
            _ => level,
        }
    }

    /// `lane`'s buffered media at `now` once playback has started (0 while stalled); `None` before: there
    /// is no playhead yet.
    pub fn playhead_level(&self, lane: usize, now: Instant) -> Option<Duration> {
        (self.state != State::Starting).then(|| self.level(lane, now))
    }

    /// When a buffer will run empty if nothing arrives (None unless playing).
    pub fn empty_at(&self) -> Option<Instant> {
        (self.state == State::Playing).then(|| self.at + self.low())
    }

    pub fn is_stalled(&self) -> bool {
        matches!(self.state, State::Stalled { .. })
    }
}

/// One track's share of its viewer's model: the video track and its audio rendition's track each hold
/// one, on their own lane. The lock is held for one call, never across an await.
#[derive(Clone, Debug)]
pub struct PlaybackLane {
    model: Arc<Mutex<Playback>>,
    lane: usize,
}

impl PlaybackLane {
    /// A model of `lanes` buffers, and a handle on each.
    pub fn model(started: Instant, lanes: usize) -> Vec<PlaybackLane> {
        let model = Arc::new(Mutex::new(Playback::with_lanes(started, lanes)));
        (0..lanes.clamp(1, MAX_LANES)).map(|lane| PlaybackLane { model: Arc::clone(&model), lane }).collect()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Playback) -> T) -> T {
        f(&mut self.model.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn advance(&self, now: Instant) -> Option<PlaybackEvent> {
        self.with(|p| p.advance(now))
    }

    pub fn on_segment(&self, now: Instant, duration: Duration, events: &mut Vec<PlaybackEvent>) {
        self.with(|p| p.on_segment(self.lane, now, duration, events));
    }

    pub fn finish(&self, now: Instant, events: &mut Vec<PlaybackEvent>) {
        self.with(|p| p.finish(now, events));
    }

    /// This lane's buffered media (what a VOD track paces its downloads by).
    pub fn level(&self, now: Instant) -> Duration {
        self.with(|p| p.level(self.lane, now))
    }

    pub fn empty_at(&self) -> Option<Instant> {
        self.with(|p| p.empty_at())
    }

    pub fn playhead_level(&self, now: Instant) -> Option<Duration> {
        self.with(|p| p.playhead_level(self.lane, now))
    }

    /// The video lane's track plays `variant` now.
    pub fn set_variant(&self, variant: Option<u16>) {
        self.with(|p| p.variant = variant);
    }

    /// The variant the video lane plays: the buffer's startup and stalls are counted under it.
    pub fn variant(&self) -> Option<u16> {
        self.with(|p| p.variant)
    }

    /// The video's lane (or the only one): the one live latency is measured on.
    pub fn is_primary(&self) -> bool {
        self.lane == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn startup_then_steady_playback_without_stalls() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0);
        let mut ev = Vec::new();
        p.on_segment(0, t0 + ms(300), ms(1000), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StartupComplete { startup: ms(300) }]);
        ev.clear();
        for i in 1..10 {
            p.on_segment(0, t0 + ms(300 + 1000 * i), ms(1000), &mut ev);
        }
        assert!(ev.is_empty(), "{ev:?}");
        assert_eq!(p.level(0, t0 + ms(9_300)), ms(1000));
        assert_eq!(p.empty_at(), Some(t0 + ms(10_300)));
    }

    #[test]
    fn a_late_segment_is_a_measured_stall() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0);
        let mut ev = Vec::new();
        p.on_segment(0, t0, ms(500), &mut ev);
        ev.clear();
        assert_eq!(p.advance(t0 + ms(400)), None);
        assert_eq!(p.advance(t0 + ms(700)), Some(PlaybackEvent::StallBegan));
        assert!(p.is_stalled());
        assert_eq!(p.advance(t0 + ms(800)), None, "one StallBegan per stall");
        p.on_segment(0, t0 + ms(900), ms(500), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallEnded { stalled_for: ms(400) }]);
        assert!(!p.is_stalled());
    }

    #[test]
    fn finish_closes_an_open_stall() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0);
        let mut ev = Vec::new();
        p.on_segment(0, t0, ms(100), &mut ev);
        ev.clear();
        p.finish(t0 + ms(350), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallBegan, PlaybackEvent::StallEnded { stalled_for: ms(250) }]);
    }

    #[test]
    fn two_lanes_start_together_and_stall_when_either_runs_empty() {
        let t0 = Instant::now();
        let mut p = Playback::with_lanes(t0, 2);
        let mut ev = Vec::new();
        p.on_segment(0, t0 + ms(100), ms(1000), &mut ev);
        assert!(ev.is_empty(), "video alone does not start playback: {ev:?}");
        p.on_segment(1, t0 + ms(300), ms(400), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StartupComplete { startup: ms(300) }]);
        ev.clear();
        assert_eq!(p.empty_at(), Some(t0 + ms(700)), "the audio's 400 ms bound it");
        assert_eq!(p.level(0, t0 + ms(500)), ms(800));
        assert_eq!(p.advance(t0 + ms(900)), Some(PlaybackEvent::StallBegan), "audio ran empty");
        assert_eq!(p.level(0, t0 + ms(900)), ms(600), "video drained only while playing");
        p.on_segment(0, t0 + ms(1000), ms(1000), &mut ev);
        assert!(ev.is_empty(), "more video does not end an audio stall: {ev:?}");
        p.on_segment(1, t0 + ms(1100), ms(1000), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallEnded { stalled_for: ms(400) }]);
    }

    #[test]
    fn lanes_share_one_model() {
        let t0 = Instant::now();
        let lanes = PlaybackLane::model(t0, 2);
        let mut ev = Vec::new();
        lanes[0].on_segment(t0, ms(500), &mut ev);
        lanes[1].on_segment(t0 + ms(100), ms(500), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StartupComplete { startup: ms(100) }]);
        assert_eq!(lanes[0].empty_at(), lanes[1].empty_at());
        assert_eq!(lanes[1].advance(t0 + ms(700)), Some(PlaybackEvent::StallBegan));
        assert_eq!(lanes[0].advance(t0 + ms(800)), None, "one StallBegan per stall, whichever track sees it");
    }
}
