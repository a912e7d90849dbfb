//! A track that switches renditions (`--variant abr`): after each media download the estimate takes
//! its bytes and time, and [`crate::viewer::abr::choose`] names the rendition for the next one. The
//! switch itself is the track's: it waits until no request of the old rendition is in flight, then
//! loads the new rendition's playlist and goes on at the media sequence number it was at, keeping its
//! buffer (as hls.js keeps its buffer across a level switch).

use std::time::Duration;

use url::Url;

use crate::hls::MultivariantPlaylist;
use crate::net::Fetch;
use crate::stats::PlaybackEvent;
use crate::viewer::abr::{self, Estimator, Rung, Settings};

/// The ladder a viewer adapts over and where it is on it.
pub(in crate::viewer) struct Adaptive {
    /// The multivariant playlist's variants, in its order: a rung's index is its variant's.
    ladder: Vec<Rung>,
    urls: Vec<Url>,
    current: usize,
    estimator: Estimator,
    settings: Settings,
    /// A switch decided and not yet made.
    pending: Option<usize>,
}

impl Adaptive {
    /// The ladder of `master`'s variants and the rung to start on. A variant without a usable
    /// `BANDWIDTH` (0) ranks by its position: it counts as the highest listed before it.
    pub fn new(master: &MultivariantPlaylist, settings: Settings) -> Self {
        let mut ladder = Vec::with_capacity(master.variants.len());
        let mut floor = 0;
        for v in &master.variants {
            let bandwidth = if v.bandwidth == 0 { floor } else { v.bandwidth };
            floor = floor.max(bandwidth);
            ladder.push(Rung { bandwidth, height: v.resolution.map(|(_, h)| h) });
        }
        let current = abr::start(&ladder, &settings);
        let urls = master.variants.iter().map(|v| v.uri.clone()).collect();
        Self { ladder, urls, current, estimator: Estimator::new(settings.start_bps), settings, pending: None }
    }

    /// The variant playing (an index into the multivariant playlist's variants).
    pub fn current(&self) -> usize {
        self.current
    }

    /// The `BANDWIDTH` of the variant playing (as ranked: a variant without one ranks by position).
    pub fn bandwidth(&self) -> u64 {
        self.ladder[self.current].bandwidth
    }

    pub fn url(&self) -> &Url {
        &self.urls[self.current]
    }

    /// A media download (segment or part) arrived whole: into the estimate, and a switch decided when
    /// the estimate names another rendition. `took`: its time from request to last byte.
    pub fn on_download(&mut self, fetch: &Fetch, took: Duration) {
        if fetch.body_bytes == 0 {
            return;
        }
        self.estimator.sample(fetch.body_bytes, took);
        let next = abr::choose(&self.ladder, self.current, self.estimator.estimate(), self.settings.caps);
        self.pending = (next != self.current).then_some(next);
    }

    /// The emergency rule on the download in flight (`loaded` of `expected` bytes, or of what the
    /// current rendition's `BANDWIDTH` makes of `duration`, after `elapsed`) with `buffer` left: whether
    /// to abandon it, a switch to the lower rendition decided.
    pub fn emergency(
        &mut self,
        loaded: u64,
        expected: Option<u64>,
        elapsed: Duration,
        duration: Duration,
        buffer: Duration,
    ) -> bool {
        let expected_bytes = expected
            .unwrap_or_else(|| (self.ladder[self.current].bandwidth as f64 / 8.0 * duration.as_secs_f64()) as u64);
        let flight = abr::InFlight { expected_bytes, loaded_bytes: loaded, elapsed, duration };
        match abr::emergency(&self.ladder, self.current, flight, buffer) {
            Some(lower) => {
                // The estimate starts over from the lower rendition's bandwidth, as hls.js resets its
                // estimator on an abandoned load: the averages' past would climb straight back.
                self.estimator = Estimator::new(self.ladder[lower].bandwidth as f64);
                self.pending = Some(lower);
                true
            }
            None => false,
        }
    }

    /// The switch to make now, if one is due: the new rendition becomes current, and the event that
    /// counts it.
    pub fn switch(&mut self) -> Option<PlaybackEvent> {
        let next = self.pending.take()?;
        let up = self.ladder[next].bandwidth > self.ladder[self.current].bandwidth;
        self.current = next;
        Some(PlaybackEvent::VariantSwitch { up })
    }
}
