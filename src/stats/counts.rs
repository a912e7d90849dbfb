//! Counters: the plain, mergeable [`Counts`] that snapshots and reports carry, and the atomic twin
//! that the recorder increments.
//!
//! Counts are raw (no derived rates), so reports from several machines merge by adding them, and a
//! window's counts are the difference of two readings of the monotonic counters.

use super::record::{ErrorClass, Hold, Kind, PlaybackEvent, RequestRecord, StatusClass, micros};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::ops::{Index, IndexMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Requests by status class (`1xx` .. `5xx`, `none`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts(pub [u64; StatusClass::COUNT]);

/// Failures by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts(pub [u64; ErrorClass::COUNT]);

/// One value per request kind; serialized as a map keyed by [`Kind::as_str`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerKind<T>(pub [T; Kind::COUNT]);

impl StatusCounts {
    pub fn get(&self, class: StatusClass) -> u64 {
        self.0[class.index()]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl ErrorCounts {
    pub fn get(&self, class: ErrorClass) -> u64 {
        self.0[class.index()]
    }
    /// Failed requests: every class but `abandoned` (a download the viewer gave up for a lower
    /// rendition is its own choice, not the origin's failure; counted under its class all the same).
    pub fn total(&self) -> u64 {
        self.0.iter().sum::<u64>() - self.get(ErrorClass::Abandoned)
    }
    /// Sums per-kind error counts into one.
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a ErrorCounts>) -> ErrorCounts {
        let mut out = ErrorCounts::default();
        for item in items {
            combine(&mut out.0, &item.0, u64::saturating_add);
        }
        out
    }
}

impl<T> PerKind<T> {
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &T)> {
        Kind::ALL.into_iter().zip(self.0.iter())
    }
    pub fn from_fn(mut f: impl FnMut(Kind) -> T) -> Self {
        PerKind(std::array::from_fn(|i| f(Kind::ALL[i])))
    }
}

impl<T> Index<Kind> for PerKind<T> {
    type Output = T;
    fn index(&self, kind: Kind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<Kind> for PerKind<T> {
    fn index_mut(&mut self, kind: Kind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

/// Raw counters of one request kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub by_status: StatusCounts,
    /// 2xx with the body in full.
    pub ok: u64,
    /// All body bytes received, whatever the status.
    pub bytes: u64,
    pub errors_by_class: ErrorCounts,
    /// Held requests (blocking reloads, preload hints), whatever the answer.
    #[serde(default)]
    pub held: u64,
    /// Held requests answered without what they asked for ([`Hold::Unblocked`]); also in `held`.
    #[serde(default)]
    pub unblocked: u64,
}

impl KindCounts {
    pub fn requests(&self) -> u64 {
        self.by_status.total()
    }
    pub fn errors(&self) -> u64 {
        self.errors_by_class.total()
    }
    fn combine(&mut self, other: &Self, f: fn(u64, u64) -> u64) {
        combine(&mut self.by_status.0, &other.by_status.0, f);
        self.ok = f(self.ok, other.ok);
        self.bytes = f(self.bytes, other.bytes);
        combine(&mut self.errors_by_class.0, &other.errors_by_class.0, f);
        self.held = f(self.held, other.held);
        self.unblocked = f(self.unblocked, other.unblocked);
    }
}

/// Raw playback counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybackCounts {
    pub starts: u64,
    pub restarts: u64,
    pub stops: u64,
    /// `StartupComplete` events.
    pub startups: u64,
    /// `StallBegan` events.
    pub stalls: u64,
    /// Sum of ended stalls, in microseconds (stalls still running are not in it).
    pub stalled_us: u64,
    pub segments_skipped: u64,
    /// Leniencies in the playlists loaded (each load counts its own).
    #[serde(default)]
    pub playlist_warnings: u64,
    /// Keys not fetched (DRM key formats, `data:` URIs), once per viewer and key.
    #[serde(default)]
    pub keys_skipped: u64,
    /// Adaptive viewers' switches to a higher and to a lower rendition (`--variant abr`).
    #[serde(default)]
    pub switches_up: u64,
    #[serde(default)]
    pub switches_down: u64,
    /// Media the viewers buffered to play (the tracks playback follows), in microseconds.
    #[serde(default)]
    pub media_us: u64,
    /// That media's seconds times its variant's `BANDWIDTH`: over `media_us`, the time-weighted bitrate.
    #[serde(default)]
    pub media_bits: u64,
}

impl PlaybackCounts {
    fn fields_mut(&mut self) -> [&mut u64; PLAYBACK_FIELDS] {
        [
            &mut self.starts,
            &mut self.restarts,
            &mut self.stops,
            &mut self.startups,
            &mut self.stalls,
            &mut self.stalled_us,
            &mut self.segments_skipped,
            &mut self.playlist_warnings,
            &mut self.keys_skipped,
            &mut self.switches_up,
            &mut self.switches_down,
            &mut self.media_us,
            &mut self.media_bits,
        ]
    }
    fn fields(&self) -> [u64; PLAYBACK_FIELDS] {
        [
            self.starts,
            self.restarts,
            self.stops,
            self.startups,
            self.stalls,
            self.stalled_us,
            self.segments_skipped,
            self.playlist_warnings,
            self.keys_skipped,
            self.switches_up,
            self.switches_down,
            self.media_us,
            self.media_bits,
        ]
    }
}

const PLAYBACK_FIELDS: usize = 13;

/// All counters of a run (monotonic totals) or of a window (their difference over the window).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub kinds: PerKind<KindCounts>,
    pub playback: PlaybackCounts,
}

impl Counts {
    /// Adds `other` (merging reports, summing intervals into a window).
    pub fn add(&mut self, other: &Counts) {
        self.combine(other, u64::saturating_add);
    }

    /// Removes `other` (an interval leaving a window); saturates at zero.
    pub fn subtract(&mut self, other: &Counts) {
        self.combine(other, u64::saturating_sub);
    }

    /// `self - earlier`, for two readings of monotonic counters.
    pub fn since(&self, earlier: &Counts) -> Counts {
        let mut out = self.clone();
        out.subtract(earlier);
        out
    }

    fn combine(&mut self, other: &Counts, f: fn(u64, u64) -> u64) {
        for (mine, theirs) in self.kinds.0.iter_mut().zip(&other.kinds.0) {
            mine.combine(theirs, f);
        }
        for (mine, theirs) in self.playback.fields_mut().into_iter().zip(other.playback.fields()) {
            *mine = f(*mine, theirs);
        }
    }

    pub fn requests(&self) -> u64 {
        self.kinds.0.iter().map(KindCounts::requests).sum()
    }
    pub fn ok(&self) -> u64 {
        self.kinds.0.iter().map(|k| k.ok).sum()
    }
    pub fn errors(&self) -> u64 {
        self.kinds.0.iter().map(KindCounts::errors).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.kinds.0.iter().map(|k| k.bytes).sum()
    }
    /// Ok segment requests.
    pub fn segments_downloaded(&self) -> u64 {
        self.kinds[Kind::Segment].ok
    }
    pub fn errors_by_class(&self) -> ErrorCounts {
        ErrorCounts::sum(self.kinds.0.iter().map(|k| &k.errors_by_class))
    }
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

fn combine<const N: usize>(a: &mut [u64; N], b: &[u64; N], f: fn(u64, u64) -> u64) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = f(*x, *y);
    }
}

/// The recorder's counters. Relaxed atomics: each counter is an independent statistic read once a
/// tick, so no ordering between them is needed; a record that straddles a tick lands in the next
/// interval for some counters, and whole-run totals are exact once recording stops.
#[derive(Debug, Default)]
pub(crate) struct AtomicCounts {
    by_status: [[AtomicU64; StatusClass::COUNT]; Kind::COUNT],
    ok: [AtomicU64; Kind::COUNT],
    bytes: [AtomicU64; Kind::COUNT],
    errors: [[AtomicU64; ErrorClass::COUNT]; Kind::COUNT],
    held: [AtomicU64; Kind::COUNT],
    unblocked: [AtomicU64; Kind::COUNT],
    playback: [AtomicU64; PLAYBACK_FIELDS],
}

/// Positions in `AtomicCounts::playback`, in the order of [`PlaybackCounts::fields`].
#[derive(Clone, Copy)]
enum PlaybackField {
    Starts,
    Restarts,
    Stops,
    Startups,
    Stalls,
    StalledUs,
    Skipped,
    PlaylistWarnings,
    KeysSkipped,
    SwitchesUp,
    SwitchesDown,
    MediaUs,
    MediaBits,
}

impl AtomicCounts {
    pub(crate) fn record_request(&self, r: &RequestRecord) {
        let k = r.kind.index();
        self.by_status[k][StatusClass::of(r.status).index()].fetch_add(1, Relaxed);
        match r.error_class() {
            Some(class) => {
                self.errors[k][class.index()].fetch_add(1, Relaxed);
            }
            None if r.is_ok() => {
                self.ok[k].fetch_add(1, Relaxed);
            }
            None => {}
        }
        if r.body_bytes > 0 {
            self.bytes[k].fetch_add(r.body_bytes, Relaxed);
        }
        if let Some(hold) = r.hold {
            self.held[k].fetch_add(1, Relaxed);
            if hold == Hold::Unblocked {
                self.unblocked[k].fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn record_playback(&self, event: PlaybackEvent) {
        /// bits/s; at this rate, u64 holds 5,000 viewers playing for ten hours.
        const MAX_PLAUSIBLE_BANDWIDTH: u64 = 100_000_000_000;
        let (field, n) = match event {
            // Samples, not events: their histograms count them.
            PlaybackEvent::LiveLatency { .. } | PlaybackEvent::EdgeDistance { .. } => return,
            // A gauge of the variant table's.
            PlaybackEvent::Watching { .. } => return,
            PlaybackEvent::Started => (PlaybackField::Starts, 1),
            PlaybackEvent::Restarted => (PlaybackField::Restarts, 1),
            PlaybackEvent::Stopped => (PlaybackField::Stops, 1),
            PlaybackEvent::StartupComplete { .. } => (PlaybackField::Startups, 1),
            PlaybackEvent::StallBegan => (PlaybackField::Stalls, 1),
            PlaybackEvent::StallEnded { stalled_for } => (PlaybackField::StalledUs, micros(stalled_for)),
            PlaybackEvent::SegmentSkipped { count } => (PlaybackField::Skipped, count),
            PlaybackEvent::PlaylistWarnings { count } => (PlaybackField::PlaylistWarnings, count),
            PlaybackEvent::KeySkipped => (PlaybackField::KeysSkipped, 1),
            PlaybackEvent::VariantSwitch { up: true } => (PlaybackField::SwitchesUp, 1),
            PlaybackEvent::VariantSwitch { up: false } => (PlaybackField::SwitchesDown, 1),
            PlaybackEvent::MediaBuffered { duration, bandwidth } => {
                // A BANDWIDTH over 100 Gbit/s is no variant's: clamped, so a run's sum cannot wrap.
                let bits = (duration.as_secs_f64() * bandwidth.min(MAX_PLAUSIBLE_BANDWIDTH) as f64).round() as u64;
                self.playback[PlaybackField::MediaBits as usize].fetch_add(bits, Relaxed);
                (PlaybackField::MediaUs, micros(duration))
            }
        };
        self.playback[field as usize].fetch_add(n, Relaxed);
    }

    pub(crate) fn load(&self) -> Counts {
        let load = |a: &AtomicU64| a.load(Relaxed);
        let kinds = PerKind(std::array::from_fn(|k| KindCounts {
            by_status: StatusCounts(self.by_status[k].each_ref().map(load)),
            ok: load(&self.ok[k]),
            bytes: load(&self.bytes[k]),
            errors_by_class: ErrorCounts(self.errors[k].each_ref().map(load)),
            held: load(&self.held[k]),
            unblocked: load(&self.unblocked[k]),
        }));
        let mut playback = PlaybackCounts::default();
        for (field, atomic) in playback.fields_mut().into_iter().zip(&self.playback) {
            *field = load(atomic);
        }
        Counts { kinds, playback }
    }
}

fn serialize_named<S: Serializer, T: Serialize>(
    s: S,
    names: impl IntoIterator<Item = &'static str>,
    values: &[T],
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(values.len()))?;
    for (name, value) in names.into_iter().zip(values) {
        map.serialize_entry(name, value)?;
    }
    map.end()
}

/// Reads a map keyed by `names`; missing keys stay at their default (zero), unknown keys fail.
fn deserialize_named<'de, D, T, const N: usize>(d: D, names: [&'static str; N]) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    let map = BTreeMap::<String, T>::deserialize(d)?;
    let mut out: [T; N] = std::array::from_fn(|_| T::default());
    for (key, value) in map {
        let i = names
            .iter()
            .position(|n| *n == key)
            .ok_or_else(|| D::Error::custom(format!("unknown key `{key}`, expected one of {names:?}")))?;
        out[i] = value;
    }
    Ok(out)
}

impl Serialize for StatusCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, StatusClass::ALL.map(StatusClass::as_str), &self.0)
    }
}

impl<'de> Deserialize<'de> for StatusCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_named(d, StatusClass::ALL.map(StatusClass::as_str)).map(StatusCounts)
    }
}

impl Serialize for ErrorCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, ErrorClass::ALL.map(ErrorClass::as_str), &self.0)
    }
}

impl<'de> Deserialize<'de> for ErrorCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_named(d, ErrorClass::ALL.map(ErrorClass::as_str)).map(ErrorCounts)
    }
}

impl<T: Serialize> Serialize for PerKind<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, Kind::ALL.map(Kind::as_str), &self.0)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for PerKind<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_named(d, Kind::ALL.map(Kind::as_str)).map(PerKind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn records_land_in_the_right_counters() {
        let counts = AtomicCounts::default();
        let mut r = RequestRecord::ok(Kind::Segment, Duration::from_millis(10), 100);
        counts.record_request(&r);
        r.status = Some(503);
        r.body_bytes = 7;
        counts.record_request(&r);
        r.status = None;
        r.error = Some(ErrorClass::Timeout);
        r.body_bytes = 0;
        counts.record_request(&r);
        counts.record_playback(PlaybackEvent::StallEnded { stalled_for: Duration::from_millis(3) });
        counts.record_playback(PlaybackEvent::SegmentSkipped { count: 4 });
        let c = counts.load();
        let seg = &c.kinds[Kind::Segment];
        assert_eq!((seg.requests(), seg.ok, seg.errors(), seg.bytes), (3, 1, 2, 107));
        assert_eq!(seg.by_status.get(StatusClass::S5xx), 1);
        assert_eq!(seg.by_status.get(StatusClass::None), 1);
        assert_eq!(seg.errors_by_class.get(ErrorClass::Http5xx), 1);
        assert_eq!(seg.errors_by_class.get(ErrorClass::Timeout), 1);
        assert_eq!(c.playback.stalled_us, 3000);
        assert_eq!(c.playback.segments_skipped, 4);
        assert_eq!(c.segments_downloaded(), 1);
    }

    #[test]
    fn an_abandoned_download_is_counted_but_is_no_failure() {
        let counts = AtomicCounts::default();
        let mut r = RequestRecord::ok(Kind::Segment, Duration::from_millis(10), 100);
        r.error = Some(ErrorClass::Abandoned);
        counts.record_request(&r);
        let c = counts.load();
        let seg = &c.kinds[Kind::Segment];
        assert_eq!((seg.requests(), seg.ok, seg.errors(), seg.bytes), (1, 0, 0, 100));
        assert_eq!(seg.errors_by_class.get(ErrorClass::Abandoned), 1);
        assert_eq!(c.errors(), 0);
    }

    #[test]
    fn an_absurd_bandwidth_cannot_wrap_the_media_bits() {
        let counts = AtomicCounts::default();
        for _ in 0..3 {
            let event = PlaybackEvent::MediaBuffered { duration: Duration::from_secs(10), bandwidth: u64::MAX };
            counts.record_playback(event);
        }
        assert_eq!(counts.load().playback.media_bits, 3_000_000_000_000, "clamped at 100 Gbit/s");
    }

    #[test]
    fn held_and_unblocked_count_per_kind_whatever_the_answer() {
        let counts = AtomicCounts::default();
        let mut r = RequestRecord::ok(Kind::BlockingPlaylist, Duration::from_millis(900), 2000);
        counts.record_request(&r);
        r.hold = Some(Hold::Held);
        counts.record_request(&r);
        r.status = Some(503);
        counts.record_request(&r);
        r.hold = Some(Hold::Unblocked);
        r.status = Some(200);
        counts.record_request(&r);
        r.kind = Kind::PreloadHint;
        r.hold = Some(Hold::Held);
        counts.record_request(&r);
        let c = counts.load();
        let blocking = &c.kinds[Kind::BlockingPlaylist];
        assert_eq!((blocking.requests(), blocking.held, blocking.unblocked), (4, 3, 1));
        assert_eq!((c.kinds[Kind::PreloadHint].held, c.kinds[Kind::PreloadHint].unblocked), (1, 0));
        let mut twice = c.clone();
        twice.add(&c);
        assert_eq!(twice.since(&c), c);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kinds"]["blocking_playlist"]["unblocked"], 1);
    }

    #[test]
    fn add_and_since_are_inverse() {
        let counts = AtomicCounts::default();
        counts.record_request(&RequestRecord::ok(Kind::Init, Duration::ZERO, 5));
        let a = counts.load();
        counts.record_playback(PlaybackEvent::Started);
        let b = counts.load();
        let delta = b.since(&a);
        assert_eq!(delta.playback.starts, 1);
        assert_eq!(delta.requests(), 0);
        let mut sum = a.clone();
        sum.add(&delta);
        assert_eq!(sum, b);
    }

    #[test]
    fn serde_round_trip_uses_names() {
        let counts = AtomicCounts::default();
        counts.record_request(&RequestRecord::ok(Kind::MediaPlaylist, Duration::ZERO, 9));
        let c = counts.load();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kinds"]["media_playlist"]["by_status"]["2xx"], 1);
        assert_eq!(json["kinds"]["media_playlist"]["errors_by_class"]["http_5xx"], 0);
        let back: Counts = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        let bad = serde_json::json!({"bogus": 1});
        assert!(serde_json::from_value::<StatusCounts>(bad).is_err());
    }
}
