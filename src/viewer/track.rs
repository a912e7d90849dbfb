//! One media playlist played, as a player's stream controller plays it (RFC 8216 6.3): start at the
//! live edge (6.3.3), download each new segment once and in order, reload the playlist on the RFC's
//! schedule (6.3.4) whatever the downloads do, pace a VOD by the buffer target.
//!
//! A live track runs its downloads and its reloads side by side, as hls.js does: a reload falls due
//! while a slow segment is still arriving, and goes out on a second connection then (a player's
//! playlist loader is not its fragment loader); when nothing overlaps, one keep-alive connection
//! carries both. A segment that left the window before its turn is never requested: the viewer
//! rejoins at the live edge and counts what it passed over as skipped. A download in flight is let
//! finish (hls.js may abandon one whose segment left the window; a load tester keeps its bytes counted).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::time::{Sleep, sleep_until};
use url::Url;

use super::latency::LiveLatency;
use super::playback::PlaybackLane;
use super::request::{Asker, Halt, SessionError, failure_of, media_only, parse, record_with, settle_load};
use crate::engine::{SessionEnd, StopSignal};
use crate::hls::{self, KeyMethod, MediaPlaylist, Planned, RequestPlan, Segment, SequenceTracker, Update, crypto};
use crate::net::{BodyMode, Fetch, Loader, Progress, range};
use crate::stats::{ErrorClass, Hold, Kind, PlaybackEvent};

/// How often an adaptive viewer looks at its download in flight (hls.js looks on each progress event).
const EMERGENCY_EVERY: Duration = Duration::from_millis(100);

/// Consecutive failed segments after which the session gives up (and the supervisor restarts it).
const MAX_SEGMENT_FAILURES: u32 = 3;

/// Requests in flight on a loader they own, handing the loader back with the result.
type InFlight<O = Fetch> = Pin<Box<dyn Future<Output = (Loader, O)> + Send>>;

fn send(mut loader: Loader, url: Url, mode: BodyMode) -> InFlight {
    Box::pin(async move {
        let fetch = loader.get(&url, mode).await;
        (loader, fetch)
    })
}

/// The largest key body read: a key is 16 bytes; anything much larger is not a key.
const KEY_LIMIT: usize = 1024;

/// What a segment's requests hand back: each planned request with its fetch, in order.
type Done = Vec<(Planned, Fetch)>;

/// A segment's requests in order (init section, key, the segment), on one loader. An init section or
/// key that fails ends it there: a player cannot play the segment without them. `check`: the start of
/// a segment that comes with a new key is kept, to decrypt (`--decrypt-check`). `progress`: the
/// segment's, for an adaptive viewer to watch (and abandon).
fn send_plan(mut loader: Loader, plan: Vec<Planned>, check: bool, progress: Option<Arc<Progress>>) -> InFlight<Done> {
    let checked = check && plan.iter().any(|p| matches!(p, Planned::Key { .. }));
    let segment_mode = if checked { BodyMode::Prefix { keep: crypto::CHECK_PREFIX } } else { BodyMode::Discard };
    Box::pin(async move {
        let mut done = Vec::with_capacity(plan.len());
        for planned in plan {
            let (url, mode, range) = match &planned {
                Planned::Init { uri, range } => (uri, BodyMode::Discard, range.clone()),
                Planned::Key { uri, .. } => (uri, BodyMode::Collect { limit: KEY_LIMIT }, None),
                Planned::Segment { uri, range } => (uri, segment_mode, range.clone()),
            };
            if matches!(planned, Planned::Segment { .. }) {
                loader.watched(progress.clone());
            }
            let fetch = loader.get_range(url, mode, range).await;
            let failed = outcome(&planned, &fetch).is_some();
            let last = matches!(planned, Planned::Segment { .. });
            done.push((planned, fetch));
            if failed && !last {
                break;
            }
        }
        (loader, done)
    })
}

/// The kind a planned request is counted under; `media`: the media request's (a segment, a part, a
/// hinted part).
fn kind_of(planned: &Planned, media: Kind) -> Kind {
    match planned {
        Planned::Init { .. } => Kind::Init,
        Planned::Key { .. } => Kind::Key,
        Planned::Segment { .. } => media,
    }
}

/// A planned request's failure: the network's and the status's, then what only this kind can get
/// wrong: a byte range answered with other bytes (`range`), a key that is not 16 bytes (`key`).
fn outcome(planned: &Planned, fetch: &Fetch) -> Option<(ErrorClass, String)> {
    if let Some(failure) = failure_of(fetch) {
        return Some(failure);
    }
    if let Some(asked) = fetch.range.as_deref().and_then(range::Requested::parse) {
        let status = fetch.status.unwrap_or_default();
        if let Err(e) = range::check(asked, status, fetch.content_range.as_deref(), fetch.body_bytes) {
            return Some((ErrorClass::Range, e.to_string()));
        }
    }
    if let Planned::Key { len: Some(len), .. } = planned
        && fetch.body_bytes != *len
    {
        return Some((ErrorClass::Key, format!("a key of {} bytes, not {len}", fetch.body_bytes)));
    }
    None
}

/// `--decrypt-check`: the start of the first segment under a new AES-128 key, decrypted with the key
/// that came with it (the IV from the tag, else the media sequence number), must begin as media does
/// (a TS sync byte, an fMP4 box); else an error of class `key` on the segment. `None` when there is
/// nothing to check (no new key, another method, a request that failed already).
fn decrypt_check(segment: &Segment, done: &[(Planned, Fetch)]) -> Option<(ErrorClass, String)> {
    let key = segment.key.as_ref().filter(|k| k.method == KeyMethod::Aes128)?;
    let key_body = done.iter().find(|(p, _)| matches!(p, Planned::Key { .. }))?.1.body.as_deref()?;
    let start = done.iter().find(|(p, _)| matches!(p, Planned::Segment { .. }))?.1.body.as_deref()?;
    let key_bytes: &[u8; crypto::KEY_LEN] = key_body.try_into().ok()?;
    let Some(iv) = crypto::iv_for(key.iv.as_deref(), segment.sequence) else {
        return Some((ErrorClass::Key, format!("IV {:?} is not hexadecimal", key.iv.as_deref().unwrap_or_default())));
    };
    let plain = crypto::decrypt_prefix(key_bytes, &iv, start);
    (!crypto::looks_like_media(&plain)).then(|| {
        let detail = format!("segment {} does not decrypt to media with key {}", segment.sequence, key.uri);
        (ErrorClass::Key, detail)
    })
}

/// Whether a download was abandoned (by the emergency rule).
fn abandoned(done: &Done) -> bool {
    done.iter().any(|(_, f)| matches!(f.error, Some(crate::net::NetError::Abandoned)))
}

/// The result of the requests in `slot`, or never when there are none (a `select!` branch).
async fn landed<T, O>(slot: &mut Option<(T, InFlight<O>)>) -> (Loader, O) {
    match slot {
        Some((_, request)) => request.await,
        None => std::future::pending().await,
    }
}

/// Points `timer` at `deadline` when that changed since `armed` (a timer is re-registered only then).
fn rearm(timer: Pin<&mut Sleep>, armed: &mut Option<Instant>, deadline: Option<Instant>) {
    if deadline != *armed {
        if let Some(at) = deadline {
            timer.reset(at.into());
        }
        *armed = deadline;
    }
}

/// A playlist without its lists: between reloads a viewer keeps only the segments it has yet to fetch.
fn header(playlist: MediaPlaylist) -> MediaPlaylist {
    MediaPlaylist {
        segments: Vec::new(),
        pending_parts: Vec::new(),
        preload_hints: Vec::new(),
        rendition_reports: Vec::new(),
        warnings: Vec::new(),
        ..playlist
    }
}

/// Which loader a reload went out on, so it goes back there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Main,
    Side,
}

/// What a live track knows between steps.
struct Live {
    url: Url,
    tracker: SequenceTracker,
    queue: VecDeque<Segment>,
    /// When the last reload began (6.3.4 times the next one from there), and whether it changed.
    loaded_at: Instant,
    changed: bool,
    /// The last playlist without its lists: its target duration times the reloads.
    header: MediaPlaylist,
    /// The playlist ended (ENDLIST appeared): no more reloads.
    ended: bool,
    /// Reload at once: the viewer switched renditions and has the new one's playlist to load.
    reload_now: bool,
}

mod adaptive;
mod low_latency;

pub(super) use adaptive::Adaptive;

pub(super) struct Track<'a> {
    asker: Asker<'a>,
    stop: StopSignal,
    /// Segments go out on this loader, and playlists too while no download holds it.
    main: Option<Loader>,
    /// A reload's loader while a download holds `main`; made when first needed.
    side: Option<Loader>,
    /// This track's lane of the buffer model, for the tracks playback follows (the first variant, and
    /// its audio rendition).
    playback: Option<PlaybackLane>,
    /// The init section and key in hand: what each segment asks for first.
    plan: RequestPlan,
    events: Vec<PlaybackEvent>,
    failures: u32,
    /// Live latency, for the track playback follows (the first variant's).
    latency: LiveLatency,
    /// A low-latency track: how many parts behind the live edge it plays, as of its last reload.
    edge_parts: Option<u32>,
    /// An adaptive viewer's variant track: the ladder and where it is on it (`--variant abr`).
    adaptive: Option<Adaptive>,
    /// The `BANDWIDTH` of the variant playing (0: not known), for the time-weighted bitrate.
    bandwidth: u64,
    /// The variant this track counts in the gauge of viewers on each variant, while it does: taken
    /// off when the track ends, however it ends (a viewer aborted at the drain's timeout too).
    on_gauge: Option<u16>,
}

impl Drop for Track<'_> {
    fn drop(&mut self) {
        self.watching(false);
    }
}

impl<'a> Track<'a> {
    pub fn new(asker: Asker<'a>, stop: StopSignal, loader: Option<Loader>, playback: Option<PlaybackLane>) -> Self {
        Self {
            asker,
            stop,
            main: loader,
            side: None,
            playback,
            plan: RequestPlan::new(),
            events: Vec::new(),
            failures: 0,
            latency: LiveLatency::default(),
            edge_parts: None,
            adaptive: None,
            bandwidth: 0,
            on_gauge: None,
        }
    }

    /// The variant's `BANDWIDTH`, for the bitrate of the media it buffers.
    pub fn with_bandwidth(mut self, bandwidth: u64) -> Self {
        self.bandwidth = bandwidth;
        self
    }

    /// The track switches renditions over `adaptive`'s ladder (it plays the one `adaptive` starts on).
    pub fn adapting(mut self, adaptive: Option<Adaptive>) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Plays `url` (a media playlist; `first` if already loaded) until stop, VOD end or error. The
    /// session ends the buffer model when all its tracks are done.
    pub async fn play(mut self, url: Url, first: Option<MediaPlaylist>) -> Result<SessionEnd, Halt> {
        self.watching(true);
        let result = self.play_inner(url, first).await;
        self.flush_events();
        self.watching(false);
        result
    }

    /// The track playback follows began or ended playing its variant: the variant's gauge of viewers,
    /// and the variant the buffer's events are counted under.
    fn watching(&mut self, now: bool) {
        let Some(lane) = self.playback.as_ref().filter(|p| p.is_primary()) else { return };
        let recorder = &self.asker.config.recorder;
        if let Some(v) = self.on_gauge.take() {
            recorder.record_variant_playback(v, PlaybackEvent::Watching { now: false });
        }
        if now && let Some(v) = self.asker.variant {
            recorder.record_variant_playback(v, PlaybackEvent::Watching { now: true });
            self.on_gauge = Some(v);
            lane.set_variant(Some(v));
        }
    }

    async fn play_inner(&mut self, url: Url, first: Option<MediaPlaylist>) -> Result<SessionEnd, Halt> {
        let playlist = match first {
            Some(p) => p,
            None => self.load(&url).await?,
        };
        self.unapplied_delta(&playlist);
        // The first reload is timed from when the first playlist arrived (the session's first request
        // may have been the multivariant playlist's); later ones from when each reload was sent.
        let loaded_at = Instant::now();
        let mut tracker = SequenceTracker::new();
        if playlist.is_live() && playlist.part_target.is_some() && self.asker.config.low_latency {
            return self.play_low_latency(url, playlist, loaded_at).await;
        }
        let queue: VecDeque<Segment> = tracker.start_at_live_edge(&playlist).new.into();
        if !playlist.is_live() {
            return self.play_to_end(queue, playlist.target_duration).await;
        }
        let header = header(playlist);
        let live = Live { url, tracker, queue, loaded_at, changed: true, header, ended: false, reload_now: false };
        self.play_live(live).await
    }

    fn main_loader(&mut self) -> Loader {
        self.main.take().unwrap_or_else(|| self.asker.loader())
    }

    /// Loads the media playlist on the main loader (the first load of a variant).
    async fn load(&mut self, url: &Url) -> Result<MediaPlaylist, Halt> {
        self.stop.check()?;
        let mut loader = self.main_loader();
        let fetch = loader.get(url, BodyMode::Collect { limit: super::PLAYLIST_LIMIT }).await;
        let parsed = parse(self.asker, &fetch, media_only);
        let playlist = settle_load(self.asker, &mut loader, Kind::MediaPlaylist, &fetch, parsed);
        self.main = Some(loader);
        Ok(playlist?)
    }

    /// A playlist that will not change: every segment in order, paced by the buffer target, then the
    /// buffer plays out and the session is finished (the viewer starts over).
    async fn play_to_end(&mut self, mut queue: VecDeque<Segment>, target: Duration) -> Result<SessionEnd, Halt> {
        while let Some(segment) = queue.pop_front() {
            self.pace().await?;
            self.stop.check()?;
            let Some(plan) = self.plan_for(&segment) else { continue };
            let (loader, done) = self.download_watched(plan, segment.duration).await;
            self.main = Some(loader);
            let abandoned = abandoned(&done);
            self.segment_done(&segment, &done, Kind::Segment)?;
            if let Some(url) = self.switch_rendition() {
                // The new rendition's playlist, and its segments from the next one on (from this one,
                // when it was abandoned for the switch).
                let next = if abandoned { segment.sequence } else { segment.sequence + 1 };
                queue = self.load(&url).await?.segments.into_iter().filter(|s| s.sequence >= next).collect();
            } else if abandoned {
                queue.push_front(segment);
            }
        }
        self.wait_until_played().await?;
        Ok(SessionEnd::Finished { pace: target })
    }

    /// The live loop: downloads, reloads and the buffer's clock, side by side. Its timers and its stop
    /// watch live as long as the loop and are re-armed only when a deadline changes: a wake of the
    /// loop registers nothing anew.
    async fn play_live(&mut self, mut live: Live) -> Result<SessionEnd, Halt> {
        let mut download: Option<(Segment, InFlight<Done>)> = None;
        let mut reload: Option<(Lane, InFlight)> = None;
        let mut stop = self.stop.clone();
        let stopped = stop.stopped();
        let (reload_timer, empty_timer) = (sleep_until(Instant::now().into()), sleep_until(Instant::now().into()));
        let check_timer = sleep_until(Instant::now().into());
        tokio::pin!(stopped, reload_timer, empty_timer, check_timer);
        let (mut reload_at, mut empty_at, mut check_armed) = (None, None, None);
        // An adaptive track's download in flight, watched for the emergency rule: its progress, its media
        // duration, and the next look at it.
        let mut watched: Option<(Arc<Progress>, Duration, Instant)> = None;
        loop {
            let stopping = self.stop.is_set();
            if !stopping
                && download.is_none()
                && reload.is_none()
                && let Some(url) = self.switch_rendition()
            {
                // Nothing of the old rendition in flight: the new one's playlist next, from the segment
                // the viewer was to fetch next.
                let next = live.queue.front().map(|s| s.sequence).or(live.tracker.next_sequence());
                live.queue.clear();
                live.tracker.switch_rendition(next);
                live.url = url;
                live.reload_now = true;
            }
            let main_free = download.is_none() && reload.as_ref().is_none_or(|(lane, _)| *lane == Lane::Side);
            // A switch waits for the reload in flight; meanwhile no segment of the old rendition starts
            // (it would be fetched again from the new one, or the abandoned one never).
            let switching = self.adaptive.as_ref().is_some_and(Adaptive::switch_due);
            if !stopping
                && main_free
                && !switching
                && let Some(segment) = live.queue.pop_front()
            {
                let Some(plan) = self.plan_for(&segment) else { continue };
                let progress =
                    self.adaptive.as_ref().and(self.playback.as_ref()).map(|_| Arc::new(Progress::default()));
                let now = Instant::now();
                watched = progress.clone().map(|p| (p, segment.duration, now + EMERGENCY_EVERY));
                let check = self.asker.config.decrypt_check;
                download = Some((segment, send_plan(self.main_loader(), plan, check, progress)));
                if live.queue.is_empty() {
                    // An idle viewer keeps no room for segments: thousands of them would hold it all.
                    live.queue.shrink_to_fit();
                }
            }
            if download.is_none() && reload.is_none() {
                if stopping {
                    return Ok(SessionEnd::Stopped);
                }
                if live.ended && live.queue.is_empty() {
                    self.wait_until_played().await?;
                    return Ok(SessionEnd::Finished { pace: live.header.target_duration });
                }
            }
            let due = (!stopping && !live.ended && reload.is_none()).then(|| match live.reload_now {
                true => Instant::now(),
                false => live.loaded_at + hls::reload_delay(live.changed, &live.header),
            });
            rearm(reload_timer.as_mut(), &mut reload_at, due);
            rearm(empty_timer.as_mut(), &mut empty_at, self.playback.as_ref().and_then(PlaybackLane::empty_at));
            rearm(check_timer.as_mut(), &mut check_armed, watched.as_ref().map(|w| w.2));
            self.sample_latency();
            tokio::select! {
                (loader, done) = landed(&mut download) => {
                    self.main = Some(loader);
                    watched = None;
                    let (segment, _) = download.take().expect("a download landed");
                    let abandoned = abandoned(&done);
                    self.segment_done(&segment, &done, Kind::Segment)?;
                    if abandoned {
                        // The new rendition's segment of the same sequence number is fetched instead.
                        live.queue.push_front(segment);
                    }
                }
                _ = &mut check_timer, if check_armed.is_some() => {
                    check_armed = None;
                    self.check_watched(&mut watched);
                }
                (mut loader, fetch) = landed(&mut reload) => {
                    let (lane, _) = reload.take().expect("a reload landed");
                    let reloaded = self.reloaded(&mut live, &mut loader, &fetch);
                    match lane {
                        Lane::Main => self.main = Some(loader),
                        Lane::Side => self.side = Some(loader),
                    }
                    reloaded?;
                }
                _ = &mut reload_timer, if reload_at.is_some() => {
                    reload_at = None;
                    live.loaded_at = Instant::now();
                    live.reload_now = false;
                    reload = Some(self.send_reload(&live.url, download.is_some()));
                }
                _ = &mut empty_timer, if empty_at.is_some() => {
                    empty_at = None;
                    self.buffer_ran_out();
                }
                _ = &mut stopped, if !stopping => {}
            }
        }
    }

    /// A watched download's check, when its timer fires: no longer watched once abandoned, else
    /// checked again [`EMERGENCY_EVERY`] from now.
    fn check_watched(&mut self, watched: &mut Option<(Arc<Progress>, Duration, Instant)>) {
        if let Some((progress, duration, next)) = watched.as_mut() {
            if self.emergency(progress, *duration) {
                *watched = None;
            } else {
                *next = Instant::now() + EMERGENCY_EVERY;
            }
        }
    }

    /// The emergency rule on a download in flight (of `duration` of media), once playback
    /// has started: when at its body's speed since the response head it would end after the buffer runs
    /// out and a lower rendition's would not (or, with no such rendition, the lowest's would still come
    /// sooner), it is abandoned (true) and the switch decided.
    fn emergency(&mut self, progress: &Progress, duration: Duration) -> bool {
        let now = Instant::now();
        // Judged while playing (or stalled), not before the first frame, as hls.js does.
        let Some(buffer) = self.playback.as_ref().and_then(|p| p.playhead_level(now)) else { return false };
        let Some(adaptive) = self.adaptive.as_mut() else { return false };
        let streaming = progress.head_at().map(|head| now.saturating_duration_since(head));
        let bytes = (progress.loaded(), progress.expected());
        let due = adaptive.emergency(bytes, streaming, duration, buffer);
        if due {
            progress.abandon();
        }
        due
    }

    /// `plan` on the main loader, to its end; an adaptive viewer that is playing watches it by the
    /// emergency rule meanwhile, as the live loop does.
    async fn download_watched(&mut self, plan: Vec<Planned>, duration: Duration) -> (Loader, Done) {
        let progress = self.adaptive.as_ref().and(self.playback.as_ref()).map(|_| Arc::new(Progress::default()));
        let check = self.asker.config.decrypt_check;
        let mut download = send_plan(self.main_loader(), plan, check, progress.clone());
        let Some(progress) = progress else { return download.await };
        let mut watching = true;
        loop {
            tokio::select! {
                landed = &mut download => return landed,
                () = tokio::time::sleep(EMERGENCY_EVERY), if watching => {
                    watching = !self.emergency(&progress, duration);
                }
            }
        }
    }

    /// A reload goes out on the main loader, or on the side one while a download holds the main.
    fn send_reload(&mut self, url: &Url, downloading: bool) -> (Lane, InFlight) {
        let mode = BodyMode::Collect { limit: super::PLAYLIST_LIMIT };
        let (lane, loader) = if downloading {
            (Lane::Side, self.side.take().unwrap_or_else(|| self.asker.loader()))
        } else {
            (Lane::Main, self.main_loader())
        };
        (lane, send(loader, url.clone(), mode))
    }

    /// A reload landed: record it, follow the sequence, and queue what is new. A viewer whose next
    /// segment left the window rejoins at the live edge, as hls.js does, and counts what it passed over.
    fn reloaded(&mut self, live: &mut Live, loader: &mut Loader, fetch: &Fetch) -> Result<(), Halt> {
        let expected = live.queue.front().map(|s| s.sequence).or(live.tracker.next_sequence());
        let tracker = &mut live.tracker;
        let parsed = parse(self.asker, fetch, |p| {
            let media = media_only(p)?;
            let update = tracker.update(&media).map_err(|e| e.to_string())?;
            Ok((media, update))
        });
        let (media, update) = settle_load(self.asker, loader, Kind::MediaPlaylist, fetch, parsed)?;
        self.unapplied_delta(&media);
        live.changed = update.changed;
        live.ended = !media.is_live();
        let window_first = media.segments.first().map_or(media.end_sequence(), |s| s.sequence);
        if update.skipped > 0 || expected.is_some_and(|next| next < window_first) {
            let rejoin: Update = live.tracker.start_at_live_edge(&media);
            let start = rejoin.new.first().map_or(media.end_sequence(), |s| s.sequence);
            let passed_over = expected.map_or(0, |next| start.saturating_sub(next));
            if passed_over > 0 {
                self.events.push(PlaybackEvent::SegmentSkipped { count: passed_over });
            }
            live.queue = rejoin.new.into();
        } else {
            live.queue.extend(update.new);
        }
        live.header = header(media);
        self.flush_events();
        Ok(())
    }

    /// What `segment` asks for, in order; `None` for an `EXT-X-GAP` segment, which is counted in the
    /// buffer as present (players play over it) and never requested.
    fn plan_for(&mut self, segment: &Segment) -> Option<Vec<Planned>> {
        let plan = self.plan.for_segment(segment);
        if let Some(uri) = &plan.skipped_key {
            tracing::debug!(viewer = self.asker.viewer, "key {uri} not fetched: a DRM key format or a data: URI");
            self.events.push(PlaybackEvent::KeySkipped);
        }
        if plan.gap {
            if let Some(p) = &self.playback {
                p.on_segment(Instant::now(), segment.duration, &mut self.events);
            }
            self.flush_events();
            return None;
        }
        Some(plan.requests)
    }

    /// A segment's requests ended: each recorded under its kind; what arrived is in hand (init, key) or
    /// in the buffer (the segment, when it arrived whole). Too many failed segments in a row end the
    /// session.
    fn segment_done(&mut self, segment: &Segment, done: &[(Planned, Fetch)], media: Kind) -> Result<(), Halt> {
        let mut failure = None;
        let undecryptable = if self.asker.config.decrypt_check { decrypt_check(segment, done) } else { None };
        for (planned, fetch) in done {
            let mut failed = outcome(planned, fetch);
            if matches!(planned, Planned::Segment { .. }) && failed.is_none() {
                failed.clone_from(&undecryptable);
            }
            let kind = kind_of(planned, media);
            let hold = (kind == Kind::PreloadHint).then_some(Hold::Held);
            record_with(self.asker, kind, fetch, failed.as_ref().map(|f| f.0), hold);
            match (planned, &failed) {
                // A key its segment does not decrypt with is asked for again with the next segment.
                (Planned::Key { .. }, None) if undecryptable.is_some() => {}
                (Planned::Init { .. }, None) => self.plan.loaded_init(segment),
                (Planned::Key { uri, .. }, None) => self.plan.loaded_key(uri),
                _ => {}
            }
            failure = failure.or(failed);
        }
        let media_fetch = done.iter().find(|(p, _)| matches!(p, Planned::Segment { .. })).map(|(_, f)| f);
        let arrived = failure.is_none() && media_fetch.is_some();
        if let (true, Some(fetch), Some(adaptive)) = (arrived, media_fetch, &mut self.adaptive) {
            // A hinted part is held by the server until it exists: its time is its body's, not the hold.
            let took = match media {
                Kind::PreloadHint => fetch.timings.total.saturating_sub(fetch.timings.ttfb.unwrap_or_default()),
                _ => fetch.timings.total,
            };
            adaptive.on_download(fetch, took);
        }
        match failure {
            None if arrived => {
                self.failures = 0;
                if let Some(p) = &self.playback {
                    p.on_segment(Instant::now(), segment.duration, &mut self.events);
                    self.latency.on_media(segment.program_date_time, segment.duration);
                    if p.is_primary() {
                        let event =
                            PlaybackEvent::MediaBuffered { duration: segment.duration, bandwidth: self.bandwidth };
                        self.events.push(event);
                    }
                }
            }
            None => {}
            // Given up by the viewer itself: not the origin's failure.
            Some((ErrorClass::Abandoned, _)) => {}
            Some((class, detail)) => {
                tracing::debug!(viewer = self.asker.viewer, "segment {}: {class:?}: {detail}", segment.uri);
                self.failures += 1;
                if self.failures >= MAX_SEGMENT_FAILURES {
                    let detail = format!("{} segments in a row failed, the last: {detail}", self.failures);
                    return Err(SessionError { url: segment.uri.to_string(), class, detail }.into());
                }
            }
        }
        self.flush_events();
        Ok(())
    }

    /// An adaptive track's switch, when one is due: counted, the variant its requests are recorded under
    /// changed, and the new rendition's playlist URL to load.
    fn switch_rendition(&mut self) -> Option<Url> {
        let event = self.adaptive.as_mut()?.switch()?;
        self.watching(false);
        let adaptive = self.adaptive.as_ref()?;
        self.asker.variant = Some(u16::try_from(adaptive.current()).unwrap_or(u16::MAX));
        self.bandwidth = adaptive.bandwidth();
        let url = adaptive.url().clone();
        self.watching(true);
        self.events.push(event);
        self.flush_events();
        Some(url)
    }

    /// VOD pacing: waits while the buffer holds more than the target.
    async fn pace(&mut self) -> Result<(), Halt> {
        let Some(p) = self.playback.as_ref() else { return Ok(self.stop.check()?) };
        let now = Instant::now();
        let level = p.level(now);
        let target = self.asker.config.buffer_target;
        if level <= target {
            return Ok(self.stop.check()?);
        }
        Ok(self.stop.sleep_until(now + (level - target)).await?)
    }

    /// The end of the stream: lets the buffer play out before the viewer starts over.
    async fn wait_until_played(&mut self) -> Result<(), Halt> {
        let until = self.playback.as_ref().and_then(PlaybackLane::empty_at).unwrap_or_else(Instant::now);
        Ok(self.stop.sleep_until(until).await?)
    }

    /// A delta update (`EXT-X-SKIP`) where no playlist is held to complete it (a first load, or a regular
    /// live reload, which asked for none): its listed segments are played, as hls.js plays them, and it
    /// is counted among the playlist warnings.
    fn unapplied_delta(&mut self, playlist: &MediaPlaylist) {
        if playlist.skipped_segments > 0 {
            tracing::debug!(viewer = self.asker.viewer, "a delta update with nothing held: its listed segments played");
            self.events.push(PlaybackEvent::PlaylistWarnings { count: 1 });
            self.flush_events();
        }
    }

    /// The buffer model's clock reached the moment the buffer runs empty: a stall begins if nothing came.
    fn buffer_ran_out(&mut self) {
        if let Some(p) = &self.playback {
            self.events.extend(p.advance(Instant::now()));
        }
        self.flush_events();
    }

    /// Live latency samples due (and the distance from the live edge, for a low-latency track), for the
    /// track playback follows.
    fn sample_latency(&mut self) {
        let Some(p) = self.playback.as_ref().filter(|p| p.is_primary()) else { return };
        let now = Instant::now();
        if !self.latency.may_be_due(now) {
            return;
        }
        let Some((count, latency)) = self.latency.due(now, SystemTime::now(), p.playhead_level(now)) else { return };
        for _ in 0..count {
            self.events.push(PlaybackEvent::LiveLatency { latency });
            if let Some(parts) = self.edge_parts {
                self.events.push(PlaybackEvent::EdgeDistance { parts });
            }
        }
        self.flush_events();
    }

    /// Records the events; those of the track playback follows also under the variant it plays, and
    /// the buffer's (startup, stalls) under the variant playing whichever lane brought them (an audio
    /// rendition's late segment stalls the video's variant).
    fn flush_events(&mut self) {
        let recorder = &self.asker.config.recorder;
        let (primary, buffer_variant) = match &self.playback {
            Some(p) if p.is_primary() => (self.asker.variant, self.asker.variant),
            Some(p) => (None, p.variant()),
            None => (None, None),
        };
        for event in self.events.drain(..) {
            recorder.record_playback(event);
            let variant = if event.is_buffer_event() { buffer_variant } else { primary };
            if let Some(v) = variant {
                recorder.record_variant_playback(v, event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{RenditionPolicy, VariantPolicy};
    use crate::net::{NetConfig, NetworkPlan};
    use crate::stats::Recorder;
    use crate::viewer::ViewerConfig;

    fn config() -> ViewerConfig {
        ViewerConfig {
            url: Url::parse("http://127.0.0.1:1/master.m3u8").unwrap(),
            entry_kind: Kind::Multivariant,
            policy: VariantPolicy::Abr,
            renditions: RenditionPolicy::default(),
            decrypt_check: false,
            low_latency: false,
            abr: Default::default(),
            network: NetworkPlan::default(),
            buffer_target: Duration::from_secs(30),
            net: Arc::new(NetConfig::with_defaults().unwrap()),
            recorder: Recorder::new(),
            tap: None,
        }
    }

    /// Startup and stalls are the viewer's buffer's: counted under the variant playing whichever track
    /// brings them (an audio rendition's late segment stalls the video's variant), and a track that is
    /// dropped (a viewer aborted at the drain's timeout) leaves the gauge of viewers on its variant.
    #[test]
    fn buffer_events_go_to_the_variant_playing_and_the_gauge_is_left_on_drop() {
        let config = config();
        let asker = |variant| Asker {
            viewer: 0,
            variant: Some(variant),
            config: &config,
            imports: None,
            pool: None,
            link: None,
        };
        let t0 = Instant::now();
        let mut lanes = PlaybackLane::model(t0, 2).into_iter();
        let (video_lane, audio_lane) = (lanes.next(), lanes.next());
        let (_run, stop) = tokio::sync::watch::channel(false);
        let stop = StopSignal::new(stop);
        let mut video = Track::new(asker(1), stop.clone(), None, video_lane.clone());
        let mut audio = Track::new(asker(3), stop, None, audio_lane.clone());
        for variant in [1, 3] {
            let mut r = crate::stats::RequestRecord::ok(Kind::MediaPlaylist, Duration::from_millis(1), 100);
            r.variant = Some(variant);
            config.recorder.record_request(&r);
        }
        video.watching(true);
        let second = Duration::from_secs(1);
        video.playback.as_ref().unwrap().on_segment(t0, 2 * second, &mut video.events);
        // The audio's segment starts playback; its lane runs out first, and the audio's track sees it.
        audio.playback.as_ref().unwrap().on_segment(t0, second, &mut audio.events);
        audio.flush_events();
        audio.events.extend(audio_lane.as_ref().unwrap().advance(t0 + 2 * second));
        audio.flush_events();
        let stats = config.recorder.variant_stats(false);
        let on = |index: u16| {
            stats.iter().find(|v| v.index == index).map(|v| (v.playback.startups, v.playback.stalls, v.watching))
        };
        assert_eq!(on(1), Some((1, 1, 1)), "the video's variant has the startup, the stall, and the viewer");
        assert_eq!(on(3).map_or(0, |p| p.0 + p.1), 0, "none under the audio rendition");
        drop(video);
        drop(audio);
        assert_eq!(config.recorder.variant_stats(false).iter().map(|v| v.watching).sum::<u64>(), 0);
    }
}
