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
    /// The variants it may play, in the multivariant playlist's order (audio-only ones left out when
    /// others have video, as hls.js leaves them out).
    ladder: Vec<Rung>,
    /// Each rung's index in the multivariant playlist, and its media playlist.
    variants: Vec<usize>,
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
        let with_video = master.variants.iter().any(|v| !audio_only(v));
        let (mut ladder, mut variants, mut urls) = (Vec::new(), Vec::new(), Vec::new());
        let mut floor = 0;
        for (index, v) in master.variants.iter().enumerate() {
            if with_video && audio_only(v) {
                continue;
            }
            let bandwidth = if v.bandwidth == 0 { floor } else { v.bandwidth };
            floor = floor.max(bandwidth);
            ladder.push(Rung { bandwidth, height: v.resolution.map(|(_, h)| h) });
            variants.push(index);
            urls.push(v.uri.clone());
        }
        let current = match settings.start {
            abr::Start::Index(i) => variants.iter().position(|v| *v >= i).unwrap_or(variants.len() - 1),
            _ => abr::start(&ladder, &settings),
        };
        let estimator = Estimator::new(settings.start_bps);
        Self { ladder, variants, urls, current, estimator, settings, pending: None }
    }

    /// The variant playing (an index into the multivariant playlist's variants).
    pub fn current(&self) -> usize {
        self.variants[self.current]
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
    /// current rendition's `BANDWIDTH` makes of `duration`, `streaming` since its response head) with `buffer` left: whether to abandon it, a switch to the lower rendition decided.
    pub fn emergency(
        &mut self,
        (loaded, expected): (u64, Option<u64>),
        streaming: Option<Duration>,
        duration: Duration,
        buffer: Duration,
    ) -> bool {
        let expected_bytes = expected
            .unwrap_or_else(|| (self.ladder[self.current].bandwidth as f64 / 8.0 * duration.as_secs_f64()) as u64);
        let flight = abr::InFlight { expected_bytes, loaded_bytes: loaded, streaming, duration };
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

    /// A switch is decided and not yet made.
    pub fn switch_due(&self) -> bool {
        self.pending.is_some()
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

/// A variant whose codecs are all audio (and no resolution): hls.js plays it only when no variant has
/// video.
fn audio_only(v: &crate::hls::Variant) -> bool {
    const AUDIO: [&str; 9] = ["mp4a", "ac-3", "ec-3", "ac-4", "opus", "flac", "mp3", "dts", "alac"];
    v.resolution.is_none()
        && v.codecs.as_deref().is_some_and(|c| c.split(',').all(|c| AUDIO.iter().any(|a| c.trim().starts_with(a))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{Playlist, parse_playlist};

    fn master(text: &str) -> MultivariantPlaylist {
        let base = Url::parse("http://o/master.m3u8").unwrap();
        match parse_playlist(text.as_bytes(), &base).unwrap() {
            Playlist::Multivariant(m) => m,
            Playlist::Media(_) => panic!("a multivariant playlist"),
        }
    }

    #[test]
    fn a_variant_without_bandwidth_ranks_by_its_position() {
        let m = master(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:RESOLUTION=1280x720\n\
             mid.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh.m3u8\n",
        );
        let mut a = Adaptive::new(&m, Settings::default());
        assert_eq!(a.current(), 0, "the default estimate starts on the lowest");
        assert_eq!(a.ladder[1].bandwidth, 800_000, "counted as the highest listed before it");
        assert_eq!(a.ladder[1].height, Some(720));
        // A fast download: the top; then an emergency drops to a rung that arrives in time.
        let fetch = |bytes| Fetch {
            url: Url::parse("http://o/s.ts").unwrap(),
            status: Some(200),
            timings: Default::default(),
            body_bytes: bytes,
            body: None,
            error: None,
            started: std::time::Instant::now(),
            version: None,
            reconnected: false,
            range: None,
            content_range: None,
        };
        a.on_download(&fetch(200_000), Duration::from_millis(20));
        assert_eq!(a.switch(), Some(PlaybackEvent::VariantSwitch { up: true }));
        assert_eq!((a.current(), a.url().path()), (2, "/high.m3u8"));
        let sec = Duration::from_secs(1);
        assert!(a.emergency((250_000, Some(1_250_000)), Some(sec), 2 * sec, sec), "5 s to go with 1 s of buffer");
        assert_eq!(a.switch(), Some(PlaybackEvent::VariantSwitch { up: false }));
        assert_eq!(a.bandwidth(), 800_000);
        assert_eq!(a.switch(), None, "one switch per decision");
    }

    #[test]
    fn audio_only_variants_are_left_out_when_others_have_video() {
        let m = master(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\naudio.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=464000,RESOLUTION=640x360,CODECS=\"avc1.77.30, mp4a.40.2\"\nv0.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1563000,RESOLUTION=960x540\nv1.m3u8\n",
        );
        let a = Adaptive::new(&m, Settings::default());
        assert_eq!(a.ladder.len(), 2);
        assert_eq!((a.current(), a.url().path()), (1, "/v0.m3u8"), "464k is within the default 500k");
        let only_audio = master("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\na.m3u8\n");
        assert_eq!(Adaptive::new(&only_audio, Settings::default()).current(), 0, "played when it is all there is");
        let pick = Settings { start: abr::Start::Index(2), ..Settings::default() };
        assert_eq!(Adaptive::new(&m, pick).current(), 2);
    }
}
