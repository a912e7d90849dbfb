//! The playback buffer model of one viewer: segments fill the buffer with their media duration, and
//! once playing it drains in real time. Startup is from the session's start to its first segment
//! buffered; a stall is the buffer running empty while playing, and lasts until the next segment arrives.
//! Pure: every method takes `now`, so it is tested without clocks.

use std::time::{Duration, Instant};

use crate::stats::PlaybackEvent;

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
    /// Buffer level as of `at`.
    level: Duration,
    at: Instant,
}

impl Playback {
    pub fn new(started: Instant) -> Self {
        Self { started, state: State::Starting, level: Duration::ZERO, at: started }
    }

    /// Drains the buffer up to `now`; returns `StallBegan` when it ran empty on the way.
    pub fn advance(&mut self, now: Instant) -> Option<PlaybackEvent> {
        if now <= self.at {
            return None;
        }
        let elapsed = now - self.at;
        self.at = now;
        if self.state != State::Playing {
            return None;
        }
        if elapsed > self.level {
            let since = now - (elapsed - self.level);
            self.level = Duration::ZERO;
            self.state = State::Stalled { since };
            return Some(PlaybackEvent::StallBegan);
        }
        self.level -= elapsed;
        None
    }

    /// A segment of `duration` finished downloading at `now`.
    pub fn on_segment(&mut self, now: Instant, duration: Duration, events: &mut Vec<PlaybackEvent>) {
        events.extend(self.advance(now));
        match self.state {
            State::Starting => {
                events.push(PlaybackEvent::StartupComplete { startup: now.saturating_duration_since(self.started) });
            }
            State::Stalled { since } => {
                events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
            }
            State::Playing => {}
        }
        self.state = State::Playing;
        self.level += duration;
    }

    /// Ends the model (session over): an open stall is closed so its time counts.
    pub fn finish(&mut self, now: Instant, events: &mut Vec<PlaybackEvent>) {
        events.extend(self.advance(now));
        if let State::Stalled { since } = self.state {
            events.push(PlaybackEvent::StallEnded { stalled_for: now.saturating_duration_since(since) });
        }
        self.state = State::Starting;
    }

    /// Buffered media at `now`.
    pub fn level(&self, now: Instant) -> Duration {
        match self.state {
            State::Playing => self.level.saturating_sub(now.saturating_duration_since(self.at)),
            _ => self.level,
        }
    }

    /// When the buffer will run empty if nothing arrives (None unless playing).
    pub fn empty_at(&self) -> Option<Instant> {
        (self.state == State::Playing).then(|| self.at + self.level)
    }

    pub fn is_stalled(&self) -> bool {
        matches!(self.state, State::Stalled { .. })
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
        p.on_segment(t0 + ms(300), ms(1000), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StartupComplete { startup: ms(300) }]);
        ev.clear();
        for i in 1..10 {
            p.on_segment(t0 + ms(300 + 1000 * i), ms(1000), &mut ev);
        }
        assert!(ev.is_empty(), "{ev:?}");
        assert_eq!(p.level(t0 + ms(9_300)), ms(1000));
        assert_eq!(p.empty_at(), Some(t0 + ms(10_300)));
    }

    #[test]
    fn a_late_segment_is_a_measured_stall() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0);
        let mut ev = Vec::new();
        p.on_segment(t0, ms(500), &mut ev);
        ev.clear();
        assert_eq!(p.advance(t0 + ms(400)), None);
        assert_eq!(p.advance(t0 + ms(700)), Some(PlaybackEvent::StallBegan));
        assert!(p.is_stalled());
        assert_eq!(p.advance(t0 + ms(800)), None, "one StallBegan per stall");
        p.on_segment(t0 + ms(900), ms(500), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallEnded { stalled_for: ms(400) }]);
        assert!(!p.is_stalled());
    }

    #[test]
    fn finish_closes_an_open_stall() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0);
        let mut ev = Vec::new();
        p.on_segment(t0, ms(100), &mut ev);
        ev.clear();
        p.finish(t0 + ms(350), &mut ev);
        assert_eq!(ev, vec![PlaybackEvent::StallBegan, PlaybackEvent::StallEnded { stalled_for: ms(250) }]);
    }
}
