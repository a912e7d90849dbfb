//! Adaptive bitrate, pure: a throughput estimate from each finished download in, a rendition out, the
//! way hls.js decides (its `abr-controller` and `ewma-bandwidth-estimator`, default settings), so a
//! swarm steps down the ladder when an origin slows down as a browser's viewers do.
//!
//! - **Estimate**: two exponentially weighted moving averages of each download's bits per second,
//!   weighted by the download's duration, with half-lives of 3 s and 9 s; the estimate is the lower of
//!   the two (fast down, slow up). Before any sample: a default (hls.js: 500 kbit/s).
//! - **Choice**: the highest rendition whose `BANDWIDTH` fits the estimate times 0.7 when it is above
//!   the current one (hls.js's `abrBandWidthUpFactor`), times 0.95 when it is the current one or below
//!   (`abrBandWidthFactor`); the lowest when none fits; never above the caps.
//! - **Emergency**: a download that would end after the buffer runs dry is abandoned for a lower
//!   rendition that can still arrive in time, or the lowest when none can and it would still come
//!   sooner (hls.js's emergency abort), at the speed of its body since the response head (hls.js's
//!   time streaming).

use std::time::Duration;

/// Half-lives of the two averages, in seconds of download time (hls.js `abrEwmaFastVoD`/`SlowVoD`).
const FAST_HALF_LIFE_S: f64 = 3.0;
const SLOW_HALF_LIFE_S: f64 = 9.0;
/// Downloads shorter than this count as this long (hls.js `minDelayMs`): a cache hit on loopback
/// must not claim terabits.
const MIN_SAMPLE: Duration = Duration::from_millis(50);
/// hls.js `abrBandWidthUpFactor` and `abrBandWidthFactor`.
pub const UP_FACTOR: f64 = 0.7;
pub const STAY_FACTOR: f64 = 0.95;
/// hls.js `abrEwmaDefaultEstimate`.
pub const DEFAULT_ESTIMATE_BPS: f64 = 500_000.0;

/// One exponentially weighted moving average whose weights are durations (Shaka's and hls.js's EWMA):
/// an old sample's weight halves every `half_life` seconds of later samples.
#[derive(Clone, Debug)]
struct Ewma {
    alpha: f64,
    estimate: f64,
    total_weight: f64,
}

impl Ewma {
    fn new(half_life_s: f64) -> Self {
        Self { alpha: (0.5f64.ln() / half_life_s).exp(), estimate: 0.0, total_weight: 0.0 }
    }

    fn sample(&mut self, weight: f64, value: f64) {
        let adjusted = self.alpha.powf(weight);
        self.estimate = value * (1.0 - adjusted) + adjusted * self.estimate;
        self.total_weight += weight;
    }

    /// The estimate corrected for starting at zero.
    fn value(&self) -> f64 {
        let zero_factor = 1.0 - self.alpha.powf(self.total_weight);
        if zero_factor > 0.0 { self.estimate / zero_factor } else { 0.0 }
    }
}

/// The throughput estimate of one viewer.
#[derive(Clone, Debug)]
pub struct Estimator {
    fast: Ewma,
    slow: Ewma,
    default_bps: f64,
}

impl Estimator {
    pub fn new(default_bps: f64) -> Self {
        Self { fast: Ewma::new(FAST_HALF_LIFE_S), slow: Ewma::new(SLOW_HALF_LIFE_S), default_bps }
    }

    /// A finished download (segment or part): its body bytes and how long the body took.
    pub fn sample(&mut self, bytes: u64, took: Duration) {
        let seconds = took.max(MIN_SAMPLE).as_secs_f64();
        let bps = bytes as f64 * 8.0 / seconds;
        self.fast.sample(seconds, bps);
        self.slow.sample(seconds, bps);
    }

    /// Bits per second: the lower average, or the default before any sample.
    pub fn estimate(&self) -> f64 {
        if self.fast.total_weight < 0.001 { self.default_bps } else { self.fast.value().min(self.slow.value()) }
    }
}

/// Where an adaptive viewer starts (`--abr-start`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// Where hls.js starts: the highest variant within the default estimate (`--abr-start-bandwidth`),
    /// else the first listed.
    #[default]
    Estimate,
    Lowest,
    Highest,
    First,
    /// The variant at this index of the multivariant playlist.
    Index(usize),
}

/// What every adaptive viewer of a run shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// The estimate before the first download, bits per second (`--abr-start-bandwidth`).
    pub start_bps: f64,
    pub start: Start,
    pub caps: Caps,
}

impl Default for Settings {
    fn default() -> Self {
        Self { start_bps: DEFAULT_ESTIMATE_BPS, start: Start::Estimate, caps: Caps::default() }
    }
}

/// The rung a viewer starts on.
pub fn start(ladder: &[Rung], settings: &Settings) -> usize {
    let allowed = |i: &usize| settings.caps.allows(&ladder[*i]);
    let by = |key: fn(&Rung) -> u64, highest: bool| {
        let rungs = (0..ladder.len()).filter(allowed);
        let pick = if highest {
            rungs.max_by_key(|i| (key(&ladder[*i]), std::cmp::Reverse(*i)))
        } else {
            rungs.min_by_key(|i| (key(&ladder[*i]), *i))
        };
        pick.unwrap_or(0)
    };
    match settings.start {
        // hls.js's first level: the highest whose BANDWIDTH is within the default estimate, else the
        // first listed (on the built-in ladder, 800k is over 500k: the first, 360p).
        Start::Estimate => (0..ladder.len())
            .filter(|i| allowed(i) && (ladder[*i].bandwidth as f64) <= settings.start_bps)
            .max_by_key(|i| (ladder[*i].bandwidth, std::cmp::Reverse(*i)))
            .or_else(|| (0..ladder.len()).find(allowed))
            .unwrap_or(0),
        Start::Lowest => by(|r| r.bandwidth, false),
        Start::Highest => by(|r| r.bandwidth, true),
        Start::First => 0,
        Start::Index(i) => i.min(ladder.len().saturating_sub(1)),
    }
}

/// One rung of the ladder as ABR sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rung {
    /// `BANDWIDTH` in bits per second.
    pub bandwidth: u64,
    /// The picture height, when the playlist gives a resolution.
    pub height: Option<u32>,
}

/// Renditions a viewer may pick: a phone does not play 4K (`--abr-max-height`, `--abr-max-bandwidth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub max_height: Option<u32>,
    pub max_bandwidth: Option<u64>,
}

impl Caps {
    fn allows(&self, rung: &Rung) -> bool {
        self.max_bandwidth.is_none_or(|m| rung.bandwidth <= m)
            && self.max_height.is_none_or(|m| rung.height.is_none_or(|h| h <= m))
    }
}

/// The rendition to play next: an index into `ladder` (in the playlist's order). `current`: the one
/// playing now. When the caps exclude every rung, the lowest is played all the same.
pub fn choose(ladder: &[Rung], current: usize, estimate_bps: f64, caps: Caps) -> usize {
    let current_bw = ladder.get(current).map_or(0, |r| r.bandwidth);
    let fits = |r: &Rung| {
        let factor = if r.bandwidth > current_bw { UP_FACTOR } else { STAY_FACTOR };
        (r.bandwidth as f64) <= estimate_bps * factor
    };
    let allowed = || ladder.iter().enumerate().filter(|(_, r)| caps.allows(r));
    let best = allowed().filter(|(_, r)| fits(r)).max_by_key(|(i, r)| (r.bandwidth, std::cmp::Reverse(*i)));
    let lowest = || allowed().min_by_key(|(i, r)| (r.bandwidth, *i));
    let any_lowest = || ladder.iter().enumerate().min_by_key(|(i, r)| (r.bandwidth, *i));
    best.or_else(lowest).or_else(any_lowest).map_or(0, |(i, _)| i)
}

/// A download in flight, for the emergency rule.
#[derive(Clone, Copy, Debug)]
pub struct InFlight {
    /// Bytes the whole download will have (the segment's duration times its rendition's bandwidth
    /// when the size is not known yet).
    pub expected_bytes: u64,
    pub loaded_bytes: u64,
    /// Since the response head, whose speed the body's is (hls.js's time streaming); `None` before it.
    pub streaming: Option<Duration>,
    /// Media duration of what is being downloaded.
    pub duration: Duration,
}

/// hls.js's emergency switch: when the download at its current speed would end after the buffer runs
/// out, abandon it for the highest lower rendition whose whole segment would arrive before that; when none
/// would (the buffer is about empty), for the lowest, if its segment would still come sooner than the rest
/// of this one. `None`: go on.
pub fn emergency(ladder: &[Rung], current: usize, flight: InFlight, buffer: Duration) -> Option<usize> {
    // The speed is the body's since the response head: the round trip before it (a viewer's added RTT, a
    // server's hold) says nothing of how fast the rest comes.
    let streaming = flight.streaming.filter(|s| *s >= MIN_SAMPLE)?;
    if flight.loaded_bytes >= flight.expected_bytes {
        return None;
    }
    let speed = flight.loaded_bytes.max(1) as f64 / streaming.as_secs_f64();
    let remaining = (flight.expected_bytes - flight.loaded_bytes) as f64 / speed;
    if remaining <= buffer.as_secs_f64() {
        return None;
    }
    let current_bw = ladder.get(current)?.bandwidth;
    let takes = |r: &Rung| r.bandwidth as f64 / 8.0 * flight.duration.as_secs_f64() / speed;
    let lower = || ladder.iter().enumerate().filter(|(_, r)| r.bandwidth < current_bw);
    let in_time = lower().filter(|(_, r)| takes(r) < buffer.as_secs_f64()).max_by_key(|(_, r)| r.bandwidth);
    let (i, rung) = in_time.or_else(|| lower().min_by_key(|(_, r)| r.bandwidth))?;
    (takes(rung) < remaining).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in origin's default ladder: 360p 800k, 720p 2.5M, 1080p 5M.
    const LADDER: [Rung; 3] = [
        Rung { bandwidth: 800_000, height: Some(360) },
        Rung { bandwidth: 2_500_000, height: Some(720) },
        Rung { bandwidth: 5_000_000, height: Some(1080) },
    ];

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn before_any_download_the_default_estimate_picks_the_lowest() {
        let e = Estimator::new(DEFAULT_ESTIMATE_BPS);
        assert_eq!(e.estimate(), 500_000.0);
        assert_eq!(choose(&LADDER, 0, e.estimate(), Caps::default()), 0);
    }

    #[test]
    fn a_viewer_starts_as_hls_js_does() {
        let s = Settings::default();
        assert_eq!(start(&LADDER, &s), 0, "nothing within 500k: the first listed");
        let rung = |bandwidth| Rung { bandwidth, height: None };
        let high_first = [rung(6_000_000), rung(3_000_000), rung(1_000_000)];
        assert_eq!(start(&high_first, &s), 0, "the first listed, however high");
        assert_eq!(start(&[rung(200_000), rung(400_000), rung(1_000_000)], &s), 1, "the highest within 500k");
        assert_eq!(start(&LADDER, &Settings { start: Start::Highest, ..s }), 2);
        assert_eq!(start(&high_first, &Settings { start: Start::Lowest, ..s }), 2);
        let capped = Settings { caps: Caps { max_height: None, max_bandwidth: Some(2_000_000) }, ..s };
        assert_eq!(start(&high_first, &capped), 2, "the first the caps allow");
    }

    #[test]
    fn a_fast_link_climbs_to_the_top_after_one_segment() {
        // hls.js on loopback: one 360p segment, then 1080p. 2 s of 800 kbit/s in 20 ms.
        let mut e = Estimator::new(DEFAULT_ESTIMATE_BPS);
        e.sample(200_000, secs(0.02));
        assert!(e.estimate() > 5_000_000.0 / UP_FACTOR, "{}", e.estimate());
        assert_eq!(choose(&LADDER, 0, e.estimate(), Caps::default()), 2);
    }

    #[test]
    fn a_300_kb_per_s_origin_keeps_a_viewer_on_360p() {
        // 300 kB/s = 2.4 Mbit/s: 720p's 2.5M never fits, as hls.js stayed on 360p at 2.57 Mbit/s.
        let mut e = Estimator::new(DEFAULT_ESTIMATE_BPS);
        for _ in 0..10 {
            e.sample(200_000, secs(200_000.0 / 300_000.0));
        }
        assert!((e.estimate() - 2_400_000.0).abs() < 10_000.0, "{}", e.estimate());
        assert_eq!(choose(&LADDER, 0, e.estimate(), Caps::default()), 0);
    }

    #[test]
    fn the_estimate_falls_fast_and_rises_slowly() {
        let mut e = Estimator::new(DEFAULT_ESTIMATE_BPS);
        for _ in 0..20 {
            e.sample(1_250_000, secs(1.0)); // 10 Mbit/s
        }
        let high = e.estimate();
        e.sample(125_000, secs(1.0)); // one slow second: 1 Mbit/s
        let after_drop = e.estimate();
        assert!(after_drop < high * 0.85, "down quickly: {high} -> {after_drop}");
        let mut up = Estimator::new(DEFAULT_ESTIMATE_BPS);
        for _ in 0..20 {
            up.sample(125_000, secs(1.0));
        }
        up.sample(1_250_000, secs(1.0));
        assert!(up.estimate() < 2_000_000.0, "up slowly: {}", up.estimate());
    }

    #[test]
    fn staying_needs_less_headroom_than_climbing() {
        // 2.8 Mbit/s: 720p is kept (2.5M <= 2.66M) but not climbed to (2.5M > 1.96M).
        assert_eq!(choose(&LADDER, 1, 2_800_000.0, Caps::default()), 1);
        assert_eq!(choose(&LADDER, 0, 2_800_000.0, Caps::default()), 0);
    }

    #[test]
    fn caps_bound_the_choice() {
        let caps = Caps { max_height: Some(720), max_bandwidth: None };
        assert_eq!(choose(&LADDER, 0, 100e6, caps), 1);
        let caps = Caps { max_height: None, max_bandwidth: Some(1_000_000) };
        assert_eq!(choose(&LADDER, 2, 100e6, caps), 0);
        let none = Caps { max_height: Some(144), max_bandwidth: None };
        assert_eq!(choose(&LADDER, 2, 100e6, none), 0, "nothing allowed: the lowest");
        assert_eq!(choose(&[], 0, 1e6, Caps::default()), 0);
    }

    #[test]
    fn an_emergency_drops_to_a_rung_that_arrives_before_the_buffer_runs_dry() {
        // A 2 s 1080p segment (1.25 MB) at 250 kB/s: 5 s to go with 1 s of buffer. 360p's 200 kB
        // arrives in 0.8 s.
        let flight = InFlight {
            expected_bytes: 1_250_000,
            loaded_bytes: 250_000,
            streaming: Some(secs(1.0)),
            duration: secs(2.0),
        };
        assert_eq!(emergency(&LADDER, 2, flight, secs(1.0)), Some(0));
        assert_eq!(emergency(&LADDER, 2, flight, secs(10.0)), None, "enough buffer: go on");
        assert_eq!(emergency(&LADDER, 0, flight, secs(1.0)), None, "nothing lower");
        let early = InFlight { streaming: Some(secs(0.01)), ..flight };
        assert_eq!(emergency(&LADDER, 2, early, secs(1.0)), None, "too early to judge");
        // 250 kB in 1 s since the head (whatever the round trip before it): 4 s to go.
        assert_eq!(emergency(&LADDER, 2, flight, secs(3.5)), Some(1), "720p in 2.5 s (not 10 s at 62.5 kB/s)");
        let headless = InFlight { streaming: None, ..flight };
        assert_eq!(emergency(&LADDER, 2, headless, secs(1.0)), None, "no speed before the first byte");
        // 720p's 625 kB would take 2.5 s: with 3 s of buffer it is the highest that arrives in time.
        assert_eq!(emergency(&LADDER, 2, flight, secs(3.0)), Some(1));
        // The buffer is empty: none arrives before it runs out, but 360p's segment (0.8 s) comes sooner
        // than the 4 s left of this one, as hls.js falls back to its lowest level.
        assert_eq!(emergency(&LADDER, 2, flight, Duration::ZERO), Some(0));
        let nearly_done = InFlight { loaded_bytes: 1_200_000, streaming: Some(secs(4.8)), ..flight };
        assert_eq!(emergency(&LADDER, 2, nearly_done, Duration::ZERO), None, "its end comes sooner than 360p's");
    }
}
